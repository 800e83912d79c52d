/* runs.h — records of offline work: bandit-run runs and their steps (generate, judge, score;
 * a failed step is recorded as failed, never as a reward) and judge evaluations. Part of the
 * store family (speaks SQL through stmt.h). It must not call the LLM or
 * compute scores. */
#ifndef RUNS_H
#define RUNS_H

#include <stddef.h>
#include <stdint.h>

#include "store/arms.h"
#include "base/pb.h"
#include "store/store.h"

/* config_json may be NULL. Status starts as "running". */
pb_status runs_create(store *s, const char *name, const char *kind, const char *config_json,
                      int64_t *run_id, char *err);
/* status: finished, failed or interrupted; sets finished_at. */
pb_status runs_finish(store *s, int64_t run_id, const char *status, char *err);
/* runs_finish plus why the run stopped (stop_reason: free text such as "completed", "budget",
 * "signal"; may be NULL) and the arm it found best (winner_arm_id 0 = none). */
pb_status runs_close(store *s, int64_t run_id, const char *status, const char *stop_reason,
                     int64_t winner_arm_id, char *err);
/* Links a run to the (offline) experiment whose arms it plays. */
pb_status runs_set_experiment(store *s, int64_t run_id, int64_t experiment_id, char *err);
/* Marks a stopped run as running again (a resume): clears finished_at and stop_reason. */
pb_status runs_reopen(store *s, int64_t run_id, char *err);

struct run {
    int64_t id;
    char *name, *kind, *config_json, *status;
    double created_at, finished_at; /* finished_at 0 = still running */
    int64_t steps_ok, steps_failed, steps_pending;
    int64_t experiment_id, winner_arm_id; /* 0 = none */
    char *stop_reason;                    /* NULL while running or when not recorded */
};
void runs_list_free(struct run *list, size_t n);
/* All runs, newest first. Caller frees. */
pb_status runs_list(store *s, struct run **out, size_t *n, char *err);
/* One run; PB_ERR_NOT_FOUND if there is none. Caller frees with runs_list_free(out, 1). */
pb_status runs_get(store *s, int64_t run_id, struct run **out, char *err);
/* The winner recorded for a run and its prompt text (caller frees *prompt; arm_name gets
 * ARM_NAME_MAX + 1 bytes, may be NULL). PB_ERR_NOT_FOUND when the run does not exist or has
 * no winner (still running, or stopped before any arm had a reward). */
pb_status runs_winner(store *s, int64_t run_id, int64_t *arm_id, char *arm_name, char **prompt,
                      char *err);

struct run_step {
    int64_t run_id;
    int64_t iteration;
    int64_t arm_id;                        /* 0 = none */
    const char *scenario, *output, *error; /* may be NULL */
    double score;                          /* used only when has_score */
    int has_score;
    const char *status; /* ok, failed or pending */
    int64_t tokens;
    double cost;
    int64_t calls;       /* provider requests the step cost (generation and judge) */
    int64_t attempts;    /* times the step was tried */
    double propensity;   /* probability of the arm choice; 0 = not recorded */
    const char *emotion; /* emotion sent with the scenario; may be NULL */
    const char *reason;  /* why the judge gave the score (has_score only); NULL or "" = none */
};
/* Inserts or replaces the step (run_id, iteration), so a resumed run can finish a pending one. */
pb_status runs_step_put(store *s, const struct run_step *step, char *err);
/* runs_step_put for n steps in one transaction: all stored or none. */
pb_status runs_step_put_many(store *s, const struct run_step *steps, size_t n, char *err);
/* Calls fn for each step of a run in iteration order; strings valid during the call only.
 * Returns PB_OK after the last step, a negative pb_status, or the first non-zero value fn
 * returned (which stops the walk). */
int runs_step_foreach(store *s, int64_t run_id, int (*fn)(void *ctx, const struct run_step *step),
                      void *ctx, char *err);

/* figures_json must be a JSON object. */
pb_status runs_insert_judge_eval(store *s, const char *judge_kind, const char *figures_json,
                                 int64_t *id, char *err);

struct runs_judge_eval {
    int64_t id;
    double created_at;
    const char *judge_kind, *figures_json;
};
/* Calls fn for the newest evaluation of each judge kind, ordered by kind (the dashboard shows
 * them). Returns PB_OK after the last, a negative pb_status, or the first non-zero value fn
 * returned (which stops the walk). Strings are valid during the call only. */
int runs_judge_eval_latest(store *s, int (*fn)(void *ctx, const struct runs_judge_eval *ev),
                           void *ctx, char *err);

#endif
