/* evolve.h — `bandit-run evolve`: prompt evolution by generations. Generation 0 screens the
 * seed prompts; each next one asks the LLM (judge/propose.h, the `prompts propose` of the CLI)
 * for N candidates from the incumbent prompt and the best- and worst-rated answers of the
 * previous screen, screens them against the incumbent in an ordinary offline run that stops
 * when the GLR rule identifies its leader (offline.h's stop_confidence, allocation by a
 * best-arm identification rule), admits a candidate identified as best, retires the
 * candidates the leader is separated from, and records every prompt's lineage (store/lineage.h:
 * parent, generation, rewards, mean, GLR statistic). The whole evolve spends at most its
 * budget of provider calls, shared out over the screens left; it resumes where it stopped
 * (each step of each screen is stored, each verdict too) and, with the same seed and provider
 * answers, makes the same decisions. Prints nothing; SQL only through store/. */
#ifndef EVOLVE_H
#define EVOLVE_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "base/pb.h"
#include "offline/offline.h"
#include "store/store.h"

/* Screens of the seed prompts when there is only one (nothing to identify): its answers
 * give the first proposal its rated texts. */
#define EVOLVE_SEED_STEPS 10

struct evolve_options {
    /* every screen's options: task, judge, policy (an identification rule or a bandit policy),
     * stop_confidence (> 0), iterations (the cap of one screen), batch, seed, prices;
     * prompts_dir holds the seed prompts; budget.calls is the whole evolve's (0 = no limit) */
    struct offline_options screen;
    int generations;         /* generations after the seed screen, 1..1000 */
    int propose;             /* candidates asked for per generation, 1..20 */
    const char *work_dir;    /* pool/ (every prompt seen), gen-N/ (a screen's arms), best.txt */
    const char *meta_prompt; /* the proposal's template file (prompts/propose.txt) */
};

struct evolve_result {
    int64_t run_id;
    char stop_reason[16];  /* completed, budget, signal, error, or a failure kind of a screen */
    long generations_done; /* decided generations after the seed screen */
    long calls;            /* provider calls of the whole evolve so far */
    long admitted, retired;
    char incumbent[128]; /* the best prompt so far ("" before the seed screen is decided) */
};

/* Checks o, creates the work folder's pool with the seed prompts, records the evolve (a run of
 * kind "evolve") and its seed screen (an offline run). PB_ERR_INVALID names a bad option. */
pb_status evolve_create(store *db, const struct evolve_options *o, int64_t *evolve_id, char *err);

/* Runs (or resumes) the evolve until its generations are done, its budget is spent, *env->stop
 * is set or a screen fails; writes WORK/best.txt with the incumbent. env->llm makes the
 * proposals. Returns PB_OK whatever the stop reason; an error marks the evolve failed. */
pb_status evolve_continue(const struct offline_env *env, int64_t evolve_id,
                          struct evolve_result *out, char *err);

/* The options of the evolve's seed screen (its judge and task, for a resume to rebuild them);
 * strings point into *owner (runrecord_release). PB_ERR_INVALID when run is not an evolve. */
pb_status evolve_screen_options(store *db, int64_t evolve_id, struct offline_options *opt,
                                void **owner, char *err);

/* The lineage as markdown: each generation (incumbent, screen run, calls, winner) and each
 * prompt (parent, verdict, rewards, mean, GLR against the leader, threshold). */
pb_status evolve_report_markdown(store *db, int64_t evolve_id, FILE *out, char *err);

/* The lineage as JSON (new reference): {evolve_id, generations: [{generation, incumbent,
 * screen_run_id, propose_calls, status, identified, winner}], prompts: [{generation, name,
 * parent, verdict, samples, mean, glr, threshold, prompt}]}. PB_ERR_INVALID when the run is
 * not an evolve, PB_ERR_NOT_FOUND when there is no such run. */
pb_status evolve_lineage_json(store *db, int64_t evolve_id, json_t **out, char *err);

#endif
