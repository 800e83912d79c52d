/* simbai.h — simulated best-arm identification: repeated runs of the bai.h rules on simulated
 * arms (simarm.h) with common random numbers, until the GLR rule stops or the budget is spent;
 * per rule the samples to stop, how often the returned arm was wrong, and the lower bound
 * T*(mu) log(1/delta) of Garivier & Kaufmann (2016) with the ratio to it. Pure: no files, no
 * printing (the CLI prints); randomness derived from the caller's seed. */
#ifndef SIMBAI_H
#define SIMBAI_H

#include "bandit/bai.h"
#include "base/pb.h"
#include "sim/sim.h"
#include "sim/simarm.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    double delta;  /* confidence: a run may return a wrong arm with probability <= delta */
    long reps;     /* runs per rule, >= 1 */
    uint64_t seed; /* run r of every rule sees the same reward streams */
    long budget;   /* samples per run at most (a run that reaches it is "unstopped") */
    double beta;   /* tts: probability of the leader (0: 1/2) */
} simbai_options;

typedef struct {
    bai_rule rule;
    double *samples; /* reps entries: samples when the run stopped (or the budget) */
    long wrong;      /* runs whose returned arm is not a best arm */
    long unstopped;  /* runs that reached the budget (they return the empirical leader) */
} simbai_rule_result;

typedef struct {
    long reps;
    size_t n_rules;
    simbai_rule_result *rules;
    double t_star;      /* characteristic time of the arms' means on [0, 1]; inf on a tie */
    double lower_bound; /* t_star * log(1 / delta) */
} simbai_result;

/* Runs each rule opt->reps times. *out is allocated (simbai_result_free). PB_ERR_INVALID for bad
 * options or arms (fewer than two); progress may be NULL. */
pb_status simbai_run(const sim_arm *arms, size_t n_arms, const bai_rule *rules, size_t n_rules,
                     const simbai_options *opt, sim_progress_fn progress, void *user,
                     simbai_result **out, char *err);
void simbai_result_free(simbai_result *r);

typedef struct {
    sim_summary samples; /* mean, sd, q05, q95 over runs */
    double median;
    double error_rate;     /* wrong / reps */
    double ratio_to_bound; /* mean samples / lower bound (NaN when the bound is infinite) */
} simbai_summary;

/* Summary of one rule. Allocates scratch: PB_ERR_NOMEM; PB_ERR_INVALID for a bad index. */
pb_status simbai_summarize(const simbai_result *r, size_t rule, simbai_summary *out, char *err);

/* The report as a new JSON object (caller json_decref's); NULL when out of memory. */
json_t *simbai_report_json(const sim_arm *arms, size_t n_arms, const simbai_options *opt,
                           const simbai_result *r);

#endif
