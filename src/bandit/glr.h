/* glr.h — the one statistic the project uses to say "arm A is better than arm B, and we can
 * trust it": the generalized likelihood ratio (GLR, Chernoff) statistic of Garivier & Kaufmann
 * (2016) with its delta-correct threshold, and the KL confidence intervals that go with it.
 * Rewards are bounded in [lo, hi] and rescaled to [0, 1]; on that scale the Bernoulli KL
 * divergence bounds every reward distribution (Hoeffding's kl inequality), so the same formulas
 * serve likes (0/1) and judge scores (-1..1). The rule stays valid when someone looks at the
 * statistic every day and when the bandit itself chose which arm to sample (the threshold is
 * uniform over time). Read by the dashboard's verdict, bandit-run's report and best-arm
 * identification. Pure: no I/O, no globals, no randomness. */
#ifndef GLR_H
#define GLR_H

#include <stddef.h>

#include "base/pb.h"

/* The project's one verdict rule, shared by the dashboard (bandit/verdict.h), bandit-run's
 * report and best-arm identification: confidence 1 - GLR_DELTA, nothing claimed below
 * GLR_MIN_REWARDS rewards on either compared arm, rewards on [GLR_REWARD_LO, GLR_REWARD_HI]. */
#define GLR_DELTA       0.05
#define GLR_MIN_REWARDS 5
#define GLR_REWARD_LO   (-1.0)
#define GLR_REWARD_HI   1.0

/* Bernoulli KL divergence kl(p, q) for p, q in [0, 1], with q clamped away from 0 and 1 so the
 * result is finite. */
double glr_kl(double p, double q);

/* The GLR statistic that the arm with mean mean_a (over n_a rewards) beats the arm with mean_b
 * (over n_b), both means on [0, 1]: n_a kl(mean_a, m) + n_b kl(mean_b, m) with m the pooled
 * mean. 0 when mean_a <= mean_b or either count is 0. */
double glr_pair(double mean_a, double n_a, double mean_b, double n_b);

/* The stopping threshold beta(t, delta) = log(2 t (K - 1) / delta) of Garivier & Kaufmann
 * (2016, Proposition 12): stopping the first time the leader's GLR against every other arm
 * exceeds it returns a wrong arm with probability at most delta, whatever rule chose the arms.
 * t is the total number of rewards (>= 1), k the number of arms (>= 2). */
double glr_threshold(double t, size_t k, double delta);

/* A (1 - alpha) confidence interval for the mean of n rewards with mean `mean`, all within
 * [lo, hi]: the set of means q with n kl(mean, q) <= log(2 / alpha) on the [0, 1] scale, mapped
 * back. Never narrower than the data allow: two rewards of -0.5 on [-1, 1] get a wide interval,
 * not [-0.5, -0.5]. n = 0 gives [lo, hi]. */
void glr_interval(double mean, double n, double lo, double hi, double alpha, double *lower,
                  double *upper);

/* The characteristic time T*(mu) of best-arm identification for Bernoulli arms with means
 * mu[0..k) in [0, 1] (Garivier & Kaufmann 2016, Theorem 1): every delta-correct strategy needs
 * at least T*(mu) kl(delta, 1 - delta) ~ T*(mu) log(1 / delta) samples in expectation. When w
 * is not NULL it gets the optimal proportions w*(mu) (k entries, summing to 1). Computed by their
 * Theorem 5 (nested bisections). INFINITY (and w uniform) when two arms share the best mean;
 * PB_ERR_INVALID for k < 2 or a mean outside [0, 1]. */
pb_status glr_characteristic_time(const double *mu, size_t k, double *t_star, double *w, char *err);

/* One arm as the verdict sees it: its mean reward (in reward units) and how many rewards. */
struct glr_arm {
    double mean;
    double n;
    int active; /* inactive (retired) arms take no part */
};

struct glr_verdict {
    size_t leader;       /* active arm with the highest mean among those with rewards (ties:
                            the one with more rewards) */
    size_t runner_up;    /* the active arm the leader is least separated from (smallest GLR) */
    double statistic;    /* GLR of leader vs runner_up */
    double threshold;    /* beta(t, delta) at the current total t */
    int enough_data;     /* leader and runner_up both have at least min_n rewards */
    int separated;       /* enough_data and the statistic passes the threshold against every
                            other active arm: the leader is the best arm at 1 - delta */
    double more_rewards; /* rewards still needed (shared by leader and runner_up in their
                            current proportion, at least up to min_n each) until separated if the
                            observed means hold; 0 when separated, INFINITY when the means are
                            equal or an arm has no rewards yet */
};

/* The verdict over k arms whose rewards lie in [lo, hi], at confidence 1 - delta, claiming
 * nothing below min_n rewards per compared arm. PB_ERR_INVALID for a bad range, delta outside
 * (0, 1) or min_n < 1; PB_ERR_CONFLICT when fewer than two arms are active. */
pb_status glr_verdict_of(const struct glr_arm *arms, size_t k, double lo, double hi, double delta,
                         double min_n, struct glr_verdict *out, char *err);

#endif
