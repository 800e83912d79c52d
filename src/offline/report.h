/* report.h — what a bandit-run run found, computed from its recorded steps: per arm the prompt,
 * pulls, mean reward with an interval that respects the reward range at small n, P(best),
 * failures, calls, tokens and cost, and the best, median and worst answer; the verdict (leader,
 * runner-up, separated or how many more rewards) by bandit/glr's GLR rule with its small-sample
 * guard, the rule the dashboard uses; the mean reward per arm for each emotion (or the task's
 * segment); failures by kind; the series the plots draw; and the steps as JSONL (export). Reads
 * the database only through runs/arms/runrecord; never calls an LLM and never changes a run.
 * Renderings (markdown, JSON, SVG, the report folder) are reportview.h's. */
#ifndef REPORT_H
#define REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/pb.h"
#include "bandit/glr.h"
#include "offline/offline.h"
#include "store/store.h"

/* The verdict's rule is bandit/glr.h's (GLR_DELTA, GLR_MIN_REWARDS, rewards on
 * [GLR_REWARD_LO, GLR_REWARD_HI]: judge levels and the local model's scores), the same as the
 * dashboard's. */

enum report_step_state { REPORT_STEP_OK, REPORT_STEP_FAILED, REPORT_STEP_PENDING };

/* One recorded step as the report needs it; only OK steps carry a reward. Strings are borrowed
 * for report_build and may be NULL. */
struct report_step {
    long iteration;
    long arm; /* index into arm_names */
    enum report_step_state state;
    double score;
    long calls, tokens;
    double cost;
    const char *error;    /* failed steps: the recorded error ("KIND: PHASE: message") */
    const char *scenario; /* what the answer answered (the judge's context) */
    const char *segment;  /* the step's emotion (or the task's segment value) */
    const char *output;   /* the answer */
    const char *reason;   /* ok steps: the judge's reason for score (NULL or "" = none) */
};

struct report_input {
    int64_t run_id;
    const char *name, *policy, *status, *stop_reason; /* stop_reason may be NULL */
    const char *task;                                 /* task name; NULL = "chat" */
    const char *segment_label;                        /* NULL = "emotion" */
    uint64_t seed;
    long iterations; /* planned */
    const char *const *arm_names;
    const char *const *arm_prompts; /* may be NULL */
    size_t n_arms;
    const struct report_step *steps; /* in iteration order */
    size_t n_steps;
};

/* An answer shown as an example of an arm; iteration < 0 when the arm has no reward. Strings
 * belong to the report ("" when not recorded). */
struct report_example {
    long iteration;
    double score;
    const char *scenario, *segment, *output, *reason; /* reason "" when the judge gave none */
};

struct report_arm {
    char name[32];
    const char *prompt;     /* owned by the report; "" when not given */
    uint64_t pulls;         /* rewards */
    double mean;            /* NaN without rewards */
    double ci_low, ci_high; /* 1 - GLR_DELTA KL interval within the reward range */
    double p_best;
    long failed, calls, tokens; /* over all the arm's recorded steps, failed ones included */
    double cost;
    struct report_example best, median, worst; /* by reward */
};

struct report_verdict {
    size_t leader, runner_up;
    double statistic, threshold; /* GLR of leader vs runner-up, and the bar it must pass */
    int enough_data;             /* both have at least GLR_MIN_REWARDS rewards */
    int separated;               /* the leader is the best arm at 1 - GLR_DELTA */
    double more_rewards;         /* for leader and runner-up; 0 separated, INFINITY unknown */
    double more_iterations;      /* more_rewards at the share of iterations the two got so far */
};

struct report; /* opaque: built once, rendered in several forms */

/* Computes the report (copies what it needs from in). Caller frees with report_free.
 * PB_ERR_INVALID for a bad policy or an arm index out of range. */
pb_status report_build(const struct report_input *in, struct report **out, char *err);
void report_free(struct report *r);

/* The run as a whole. */
struct report_summary {
    int64_t run_id;
    const char *name, *policy, *status, *stop_reason, *task, *segment_label;
    uint64_t seed;
    long iterations, ok, failed, pending, calls, tokens;
    double usd;
};
void report_get_summary(const struct report *r, struct report_summary *out);

size_t report_arm_count(const struct report *r);
const struct report_arm *report_arm_at(const struct report *r, size_t i);

/* False when fewer than two arms exist; else *out holds the GLR verdict. */
bool report_get_verdict(const struct report *r, struct report_verdict *out);

/* Failed steps of one kind and the first recorded error of that kind ("" when none). */
long report_failures(const struct report *r, enum offline_failure kind, const char **first_error);

/* The segments (emotions) seen in ok steps, in order of first appearance ("" = steps without
 * one), and per arm the rewards and their mean there (NaN without rewards). */
size_t report_segment_count(const struct report *r);
const char *report_segment_name(const struct report *r, size_t s);
void report_segment_cell(const struct report *r, size_t s, size_t arm, uint64_t *n, double *mean);

/* Plot series of an arm: the running mean at each of its rewards (x = iteration), and the count
 * of rewards at each of the 5 levels -1, -0.5, 0, 0.5, 1 (local scores rounded). */
size_t report_running_mean(const struct report *r, size_t arm, const double **x, const double **y);
const double *report_level_counts(const struct report *r, size_t arm);

/* Builds the report of a stored run (its recorded policy, seed and task, all its arms). */
pb_status report_load(store *db, int64_t run_id, struct report **out, char *err);

/* Writes every step of a run as one JSON object per line: run, iteration, arm, arm_id,
 * status, reward and reason (ok steps only; reason when the judge gave one), propensity (when
 * recorded), context {scenario, emotion}, output, error, calls, tokens, cost, attempts. `bandit-run
 * replay` reads this format. */
pb_status report_export_jsonl(store *db, int64_t run_id, FILE *out, char *err);

#endif
