/* contextual.h — contextual bandits over a feature vector x of fixed dimension: disjoint
 * LinUCB (Li et al. 2010) and linear Thompson sampling (Agrawal & Goyal 2013), one ridge
 * regression per arm, with arms that can be added and retired, burn-in, propensities and
 * forget. Pure maths with GSL linear algebra: no I/O, no globals, randomness from the
 * caller's gsl_rng. Rewards on [-1, 1] are used as they are (no rescaling). */
#ifndef CONTEXTUAL_H
#define CONTEXTUAL_H

#include "base/pb.h"
#include <gsl/gsl_rng.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { CONTEXTUAL_LINUCB, CONTEXTUAL_LINTS } contextual_kind;

typedef struct {
    contextual_kind kind;
    double alpha;  /* linucb: width of the confidence bonus */
    double v;      /* lints: posterior scale */
    double lambda; /* ridge prior: A starts as lambda * I */
    long burnin;   /* pulls each active arm gets before the model decides */
    long draws;    /* lints: Monte Carlo draws for the propensity */
} contextual_policy;

/* Parses "linucb", "linucb:alpha=0.5,lambda=1", "lints:v=0.3,draws=500", burnin=N for both.
 * Unknown names or keys, non-finite or out-of-range values: PB_ERR_INVALID. */
pb_status contextual_policy_parse(const char *spec, contextual_policy *out, char *err);

typedef struct contextual contextual;

/* n_arms active arms over features of dimension dim (1..256). Caller frees. */
pb_status contextual_new(const contextual_policy *policy, size_t n_arms, size_t dim,
                         contextual **out, char *err);
void contextual_free(contextual *c);

pb_status contextual_add_arm(contextual *c, size_t *index, char *err);
pb_status contextual_set_active(contextual *c, size_t arm, int active, char *err);
size_t contextual_arm_count(const contextual *c);

/* Chooses an active arm for context x (dim finite values, |x_i| <= 1e6): arms below burn-in
 * (at least one pull) first, then the policy; ties at random. *propensity (may be NULL):
 * exact for LinUCB (1/ties), Monte Carlo with policy.draws for LinTS. No allocation. */
pb_status contextual_select(contextual *c, const double *x, gsl_rng *rng, size_t *arm,
                            double *propensity, char *err);

/* Probability that contextual_select picks each arm at x in the current state (out has one
 * slot per arm; inactive arms get 0): exact for LinUCB and during burn-in, Monte Carlo with
 * `draws` samples for LinTS. Used for inverse-propensity estimates. No allocation. */
pb_status contextual_choice_probabilities(contextual *c, const double *x, gsl_rng *rng, long draws,
                                          double *out, char *err);

/* Adds (x, reward) to arm's regression; reward in [-1, 1]. Bad input changes nothing. */
pb_status contextual_observe(contextual *c, size_t arm, const double *x, double reward, char *err);

/* Removes an earlier (x, reward) of arm. PB_ERR_CONFLICT when the arm's data cannot have
 * contained x (the downdate would break positive definiteness). */
pb_status contextual_forget(contextual *c, size_t arm, const double *x, double reward, char *err);

/* Ridge estimate theta.x of the arm's expected reward at x, and the width sqrt(x'A^-1 x)
 * of its confidence (before alpha). pulls gets the arm's observation count. */
pb_status contextual_predict(const contextual *c, size_t arm, const double *x, double *mean,
                             double *width, uint64_t *pulls, char *err);

#endif
