/* ctxsim.h — the contextual simulator: repeated runs of global, segmented and linear
 * policies in a ctxworld on common random numbers, with regret against the contextual oracle
 * (the best arm of each round's true segment) and the best-fixed-arm oracle for comparison.
 * Prints nothing and reads no files; all randomness is derived from the caller's seed. */
#ifndef CTXSIM_H
#define CTXSIM_H

#include "base/pb.h"
#include "bandit/ctxpolicy.h"
#include "sim/ctxworld.h"
#include "sim/sim.h"

#include <jansson.h>

typedef struct {
    ctxpolicy_spec policy;
    double *regret;       /* reps x n_checkpoints, rep-major: cumulative expected regret */
    double *late_optimal; /* per rep: share of the last tenth of rounds on the round's best arm */
} ctxsim_policy_result;

typedef struct {
    long reps;
    size_t n_checkpoints; /* the requested ones plus the horizon (last) */
    long *checkpoints;
    size_t n_policies;
    ctxsim_policy_result *policies;
} ctxsim_result;

/* Runs every policy opt->reps times for opt->horizon rounds. Run r of every policy sees the
 * same contexts and, for the k-th pull of an arm in a segment, the same reward. *out is
 * allocated (ctxsim_result_free). Bad options or policies: PB_ERR_INVALID. */
pb_status ctxsim_run(const ctxworld *w, const ctxpolicy_spec *policies, size_t n_policies,
                     const sim_options *opt, sim_progress_fn progress, void *user,
                     ctxsim_result **out, char *err);
void ctxsim_result_free(ctxsim_result *r);

/* Regret summary of one policy at one checkpoint; PB_ERR_INVALID for bad indices. */
pb_status ctxsim_summarize(const ctxsim_result *r, size_t policy, size_t checkpoint,
                           sim_summary *out, char *err);

/* Mean over runs of a policy's late optimal-arm share. */
double ctxsim_late_optimal(const ctxsim_result *r, size_t policy);

/* Expected regret of always playing the best single arm, after t rounds. */
double ctxsim_fixed_arm_regret(const ctxworld *w, long t);

/* Index of the global (context-free) policy with the least mean regret at the horizon, or
 * SIZE_MAX when none was run. */
size_t ctxsim_best_global(const ctxsim_result *r);

/* The world description as JSON (segments, arms, means, values); NULL when out of memory. */
json_t *ctxsim_world_json(const ctxworld *w);

/* The whole report as a new JSON object (caller json_decref's); NULL when out of memory. */
json_t *ctxsim_report_json(const ctxworld *w, const sim_options *opt, const ctxsim_result *r,
                           int with_curves);

#endif
