/* lineage.h — the records of `bandit-run evolve`: its generations (the prompt each started
 * from, the offline run that screened its candidates, the calls its proposal cost, how far it
 * got) and each prompt's lineage (generation, parent, verdict and its evidence), so a report
 * or the dashboard can show how a prompt came to be. Part of the store family (SQL through
 * stmt.h, tables of db/008_prompt_lineage.sql). It must not run screens, call the provider or
 * decide verdicts (offline/evolve.c does). */
#ifndef LINEAGE_H
#define LINEAGE_H

#include <stddef.h>
#include <stdint.h>

#include "base/pb.h"
#include "store/store.h"

struct lineage_generation {
    int64_t evolve_run_id;
    long generation;       /* 0 = the screen of the seed prompts */
    char incumbent[128];   /* prompt name the generation started from ("" for 0) */
    int64_t screen_run_id; /* 0 = not made yet */
    long propose_calls;    /* provider calls of its proposal */
    char status[16];       /* proposed, screening, decided */
    char winner[128];      /* the incumbent after the verdict ("" before) */
    int identified;        /* the screen identified its leader */
};

struct lineage_prompt {
    int64_t evolve_run_id;
    long generation;
    char name[128];
    char *prompt;     /* owned by lists (lineage_prompts_free); borrowed by lineage_prompt_put */
    char parent[128]; /* "" for a seed prompt */
    char verdict[16]; /* pending, incumbent, admitted, kept, superseded, retired, undecided */
    long samples;     /* rewards in the generation's screen */
    double mean;      /* their mean */
    double glr;       /* GLR statistic of the generation's leader against this prompt */
    double threshold; /* the threshold the statistic was held to */
};

/* Inserts or replaces a generation (evolve_run_id, generation). */
pb_status lineage_generation_put(store *s, const struct lineage_generation *g, char *err);
/* The generations of an evolve run in order; caller frees *out with free(). */
pb_status lineage_generations(store *s, int64_t evolve_run_id, struct lineage_generation **out,
                              size_t *n, char *err);

/* Inserts or replaces a prompt's record (evolve_run_id, generation, name). */
pb_status lineage_prompt_put(store *s, const struct lineage_prompt *p, char *err);
/* The prompt records of an evolve run, by generation then name; generation < 0 = all.
 * Caller frees with lineage_prompts_free. */
pb_status lineage_prompts(store *s, int64_t evolve_run_id, long generation,
                          struct lineage_prompt **out, size_t *n, char *err);
void lineage_prompts_free(struct lineage_prompt *list, size_t n);

#endif
