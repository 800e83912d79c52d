/* sim.h — the bandit simulator's pure core: repeated runs of several policies on simulated arms
 * (simarm.h) with common random numbers, regret summaries at checkpoints, and the JSON report.
 * Rewards may reach the policy late, in batches (delay), and arms may be replaced by new ones
 * drawn from a Beta prior while a run goes on (churn), as in Chapelle & Li (2011, Table 1).
 * Owns no files and prints nothing (the CLI reads files and reports progress through the
 * callback); all randomness is derived from the caller's seed. */
#ifndef SIM_H
#define SIM_H

#include "base/pb.h"
#include "bandit/policyspec.h"
#include "sim/simarm.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The RNG seed of one stream of one run (splitmix64 of seed, run and stream), so that run r
 * of every policy sees the same random numbers; shared with the contextual simulator. */
unsigned long sim_seed_stream(uint64_t seed, uint64_t run, uint64_t stream);

typedef struct {
    long horizon;            /* plays per run, >= 1 */
    long reps;               /* runs per policy, >= 1 */
    uint64_t seed;           /* run r of every policy sees the same reward streams */
    const long *checkpoints; /* ascending, <= horizon; NULL: only the horizon */
    size_t n_checkpoints;
    long delay;                 /* rewards reach the policy in one batch every delay plays; 0 or 1:
                                   at once */
    double churn;               /* per play, the probability that one arm (chosen uniformly) is
                                   replaced by a new one; Bernoulli arms only */
    double prior_a, prior_b;    /* Beta prior of a new arm's success probability (churn > 0 or
                                   arms_from_prior) */
    int arms_from_prior;        /* each run starts with arms whose means are drawn from the prior
                                   (the arms given only set their number) */
    int churn_seen_at_delivery; /* 1: the policy learns that an arm was replaced only at the
                                   next delivery of rewards (it keeps the old arm's statistics
                                   until then); 0: at once */
} sim_options;

typedef struct {
    bandit_policy policy;
    double *regret; /* reps x n_checkpoints, cumulative expected regret, rep-major */
    long best_runs; /* runs whose most-pulled arm is a best arm */
} sim_policy_result;

typedef struct {
    long reps;
    size_t n_checkpoints; /* the requested ones plus the horizon (last) */
    long *checkpoints;
    size_t n_policies;
    sim_policy_result *policies;
} sim_result;

/* Called after each run; policy is an index into the policies given to sim_run. */
typedef void (*sim_progress_fn)(void *user, size_t policy, long rep, long reps);

/* Runs every policy opt->reps times for opt->horizon plays. *out is allocated (free with
 * sim_result_free). Invalid options give PB_ERR_INVALID (churn or arms drawn from the prior
 * need Bernoulli arms, and a policy that can forget: not ducb); progress may be NULL. Regret
 * is against the best arm present at each play. */
pb_status sim_run(const sim_arm *arms, size_t n_arms, const bandit_policy *policies,
                  size_t n_policies, const sim_options *opt, sim_progress_fn progress, void *user,
                  sim_result **out, char *err);
void sim_result_free(sim_result *r);

typedef struct {
    double mean, sd, q05, q95; /* across runs; sd with n - 1; quantiles interpolated */
} sim_summary;

/* Summary of the regret of one policy at one checkpoint. Allocates scratch. */
pb_status sim_summarize(const sim_result *r, size_t policy, size_t checkpoint, sim_summary *out,
                        char *err);

/* Checks horizon, reps, that there is a policy, that the checkpoints increase within
 * [1, horizon], the delay, the churn probability and the prior; PB_ERR_INVALID naming the first
 * bad value. Shared with ctxsim_run (which has neither delay nor churn). */
pb_status sim_options_check(const sim_options *opt, size_t n_policies, char *err);

/* A new array (caller frees) of the checkpoints a result holds: opt's, plus the horizon when
 * it is not already the last; their number goes to *n. NULL when out of memory. */
long *sim_checkpoints_new(const sim_options *opt, size_t *n);

/* Summary of one checkpoint's column of a reps x n_checkpoints rep-major regret matrix (the
 * layout of sim_result and ctxsim_result). Allocates scratch: PB_ERR_NOMEM. */
pb_status sim_summarize_column(const double *regret, long reps, size_t n_checkpoints,
                               size_t checkpoint, sim_summary *out, char *err);

/* {"mean", "sd", "q05", "q95"} as a new JSON object; NULL when out of memory. */
json_t *sim_summary_json(const sim_summary *s);

/* Powers of ten from 100 below the horizon (the horizon itself is always added by sim_run).
 * Writes at most cap values into out and returns how many. */
size_t sim_log_checkpoints(long horizon, long *out, size_t cap);

/* The whole report as a new JSON object (caller json_decref's); NULL when out of memory.
 * with_curves adds the per-checkpoint regret of each policy. */
json_t *sim_report_json(const sim_arm *arms, size_t n_arms, const sim_options *opt,
                        const sim_result *r, int with_curves);

#endif
