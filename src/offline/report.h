/* report.h — reports of a bandit-run run: the arm table (pulls, mean, 95 % CI, P(best)),
 * whether the leader is separated from the runner-up and how many more iterations might
 * separate them, SVG plots (mean reward per arm over iterations, reward distribution per
 * arm), markdown and JSON, and the steps as JSONL (export). Computes from recorded steps
 * through bandit/verdict/plot; reads the database only through runs/arms; never calls an
 * LLM and never changes a run. */
#ifndef REPORT_H
#define REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/pb.h"
#include "store/store.h"

enum report_step_state { REPORT_STEP_OK, REPORT_STEP_FAILED, REPORT_STEP_PENDING };

/* One recorded step as the report needs it; only OK steps carry a reward. */
struct report_step {
    long iteration;
    long arm; /* index into arm_names */
    enum report_step_state state;
    double score;
    long calls, tokens;
    double cost;
    const char *error; /* failed steps: the recorded error ("KIND: PHASE: message"); may be NULL */
};

struct report_input {
    int64_t run_id;
    const char *name, *policy, *status, *stop_reason; /* stop_reason may be NULL */
    uint64_t seed;
    long iterations; /* planned */
    const char *const *arm_names;
    size_t n_arms;
    const struct report_step *steps; /* in iteration order */
    size_t n_steps;
    double confidence; /* of the separation test; 0 = 0.95 */
};

struct report_arm {
    char name[32];
    uint64_t pulls;
    double mean, ci_low, ci_high, p_best;
};

struct report; /* opaque: built once, rendered in several forms */

/* Computes the report (copies what it needs from in). Caller frees with report_free.
 * PB_ERR_INVALID for a bad policy or an arm index out of range. */
pb_status report_build(const struct report_input *in, struct report **out, char *err);
void report_free(struct report *r);

/* Read access for callers and tests. */
size_t report_arm_count(const struct report *r);
const struct report_arm *report_arm_at(const struct report *r, size_t i);
/* True, with *leader / *runner_up (arm indices), when at least two arms have two rewards
 * each; *separated (1 or 0) says whether the leader is ahead at the report's confidence, and
 * *more_iterations estimates the iterations still needed (0 when separated, INFINITY for
 * equal means). False leaves the outputs untouched. */
bool report_separation(const struct report *r, size_t *leader, size_t *runner_up, int *separated,
                       double *more_iterations);

/* Renderings; each *out is a NUL-terminated string the caller frees. */
pb_status report_markdown(const struct report *r, char **out, char *err);
pb_status report_json(const struct report *r, char **out, char *err);
pb_status report_svg_means(const struct report *r, char **out, char *err);
pb_status report_svg_rewards(const struct report *r, char **out, char *err);

/* Writes report.md, report.json, means.svg and rewards.svg into dir (created if absent),
 * each atomically. */
pb_status report_write_dir(const struct report *r, const char *dir, char *err);

/* Builds the report of a stored run (its recorded policy and seed, all its arms). */
pb_status report_load(store *db, int64_t run_id, struct report **out, char *err);

/* Writes every step of a run as one JSON object per line: run, iteration, arm, arm_id,
 * status, reward (ok steps only), propensity (when recorded), context {scenario, emotion},
 * output, error, calls, tokens, cost, attempts. `bandit-run replay` reads this format. */
pb_status report_export_jsonl(store *db, int64_t run_id, FILE *out, char *err);

#endif
