/* verdict.h — can the current leader of a bandit be trusted? Probability that each arm is
 * the best (posterior sampling) and a leader/runner-up separation test with an estimate of
 * the pulls still needed; read by run reports and the dashboard. Reads a bandit through its
 * public statistics only; no I/O, no globals, randomness from the caller's gsl_rng. */
#ifndef VERDICT_H
#define VERDICT_H

#include "base/pb.h"
#include "bandit/bandit.h"

/* Probability that each arm has the highest mean, by sampling draws times from each arm's
 * posterior (Beta for thompson-beta, Gaussian otherwise; docs/BANDITS.md). Inactive arms get
 * 0. out has one slot per arm. PB_ERR_INVALID for draws < 1, PB_ERR_CONFLICT if no arm is
 * active. */
pb_status verdict_prob_best(const bandit *b, gsl_rng *rng, long draws, double *out, char *err);

typedef struct {
    size_t leader, runner_up; /* active arms with the highest and second-highest mean */
    double difference;        /* leader mean - runner-up mean */
    double z;                 /* difference / its standard error (Welch) */
    int separated;            /* z >= the two-sided normal quantile of `confidence` */
    double more_pulls;        /* extra pulls (split evenly) until separated if the observed
                                 means and variances hold; 0 if separated, INFINITY if equal */
} verdict_separation;

/* Is the leader statistically ahead of the runner-up at `confidence` (e.g. 0.95)? Only
 * active arms with two pulls or more take part; fewer than two such arms: PB_ERR_CONFLICT. */
pb_status verdict_check_separation(const bandit *b, double confidence, verdict_separation *out,
                                   char *err);

#endif
