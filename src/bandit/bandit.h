/* bandit.h — multi-armed bandit policies over a growable set of arms: select (with the
 * propensity of the choice), observe/forget, choice probabilities, UCB indices and per-arm
 * statistics. The policy itself (bandit_policy, its text form and ranges) is policyspec.h's;
 * P(best) and the separation check are verdict.h's. Pure maths: no I/O, no globals; every
 * random choice comes from the caller's seeded gsl_rng, so results are reproducible. Rewards
 * are on the project scale [-1, 1]; see docs/BANDITS.md for how each policy rescales them. */
#ifndef BANDIT_H
#define BANDIT_H

#include "bandit/policyspec.h"
#include "base/pb.h"
#include <gsl/gsl_rng.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bandit bandit;

/* Creates a bandit with n_arms active, unplayed arms (0 is allowed). Caller frees with
 * bandit_free. Fails with PB_ERR_NOMEM or PB_ERR_INVALID (bad policy values, checked by
 * policyspec_check, or more than a million arms). */
pb_status bandit_new(const bandit_policy *policy, size_t n_arms, bandit **out, char *err);
void bandit_free(bandit *b);

/* Forgets every observation, keeping the arms and their active flags. */
void bandit_reset(bandit *b);

/* Appends one active, unplayed arm; *index (may be NULL) gets its index. Allocates:
 * PB_ERR_NOMEM, or PB_ERR_LIMIT past a million arms. */
pb_status bandit_add_arm(bandit *b, size_t *index, char *err);

/* Retires (active = 0) or revives an arm. Its statistics are kept. PB_ERR_INVALID for an
 * unknown arm. */
pb_status bandit_set_active(bandit *b, size_t arm, int active, char *err);

size_t bandit_arm_count(const bandit *b);
size_t bandit_active_count(const bandit *b);
const bandit_policy *bandit_get_policy(const bandit *b);
uint64_t bandit_total_pulls(const bandit *b);

/* Chooses an active arm: unplayed (or below burn-in) active arms first, uniformly, then the
 * policy; ties are broken uniformly with rng. *propensity (may be NULL, which is faster) gets the
 * probability of this choice: exact for UCB-type, greedy and softmax policies; for Thompson the
 * probability that the choosing draw comes out on top (bandit/pbest.h: closed form for two
 * Gaussian arms, a one-dimensional integral to about 1e-6 otherwise), computed once per state and
 * kept until the next observe, forget or change of arms; it draws no random numbers.
 * PB_ERR_CONFLICT when no arm is active. No allocation. */
pb_status bandit_select(bandit *b, gsl_rng *rng, size_t *arm, double *propensity, char *err);

/* Records one reward in [-1, 1] for arm. NaN, infinities, out-of-range rewards and unknown
 * arms give PB_ERR_INVALID and leave the state unchanged. O(1) except D-UCB (O(K)). */
pb_status bandit_observe(bandit *b, size_t arm, double reward, char *err);

/* Removes one earlier observation (arm, reward), e.g. after a user's data is erased; undoes
 * bandit_observe up to floating-point rounding. PB_ERR_CONFLICT when the arm has no
 * observations, or for D-UCB, whose discounted sums cannot drop one reward: rebuild it. */
pb_status bandit_forget(bandit *b, size_t arm, double reward, char *err);

/* Probability that the policy picks each arm in the current state (out has one slot per
 * arm; inactive arms get 0). Exact except for Thompson, which uses draws samples (PB_ERR_INVALID
 * below 1). PB_ERR_CONFLICT when no arm is active. */
pb_status bandit_choice_probabilities(const bandit *b, gsl_rng *rng, long draws, double *out,
                                      char *err);

/* The index a UCB-type policy ranks arm by right now (rewards rescaled to [0, 1]; +inf
 * for an unplayed arm). PB_ERR_INVALID for other policies or an unknown arm. */
pb_status bandit_index(const bandit *b, size_t arm, double *out, char *err);

typedef struct {
    uint64_t pulls;         /* observations, all time */
    double mean;            /* on [-1, 1]; 0 when unplayed */
    double variance;        /* sample variance (n - 1); 0 below two pulls */
    double ci_low, ci_high; /* 95 % Student-t interval of the mean, clipped to [-1, 1] */
    int active;
} bandit_arm_stats;

/* Statistics of one arm. PB_ERR_INVALID for an unknown arm. */
pb_status bandit_get_arm_stats(const bandit *b, size_t arm, bandit_arm_stats *out, char *err);

#endif
