/* test_bandit_glr.c — the GLR (Chernoff) statistic: KL values, the pair statistic against a
 * hand computation, the threshold formula, intervals that respect the reward range at small n,
 * the verdict's leader / runner-up / minimum data rule and its estimate of rewards still
 * needed, and — by simulation — that stopping at the threshold errs at most delta of the time
 * even when the statistic is checked after every reward. */
#include "check.h"
#include "bandit/glr.h"

#include <gsl/gsl_rng.h>
#include <math.h>

static void test_kl_values(void)
{
    CHECK_NEAR(glr_kl(0.5, 0.5), 0.0, 1e-12);
    CHECK_NEAR(glr_kl(1.0, 0.5), log(2.0), 1e-12);
    CHECK_NEAR(glr_kl(0.2, 0.4), 0.2 * log(0.5) + 0.8 * log(0.8 / 0.6), 1e-12);
    CHECK(isfinite(glr_kl(1.0, 0.0))); /* q clamped: finite, large */
    CHECK(glr_kl(1.0, 0.0) > 20);
}

static void test_pair_matches_hand_computation(void)
{
    /* 30 rewards at 0.8 vs 20 at 0.5: pooled mean 0.68. */
    double want = 30 * glr_kl(0.8, 0.68) + 20 * glr_kl(0.5, 0.68);
    CHECK_NEAR(glr_pair(0.8, 30, 0.5, 20), want, 1e-12);
    CHECK_NEAR(glr_pair(0.5, 20, 0.8, 30), 0.0, 0); /* a below b: no evidence for a */
    CHECK_NEAR(glr_pair(0.8, 0, 0.5, 20), 0.0, 0);
    /* It grows in proportion to the counts when the means hold. */
    CHECK_NEAR(glr_pair(0.8, 60, 0.5, 40), 2 * want, 1e-9);
}

static void test_threshold_formula(void)
{
    CHECK_NEAR(glr_threshold(100, 4, 0.05), log(2.0 * 100 * 3 / 0.05), 1e-12);
    CHECK(glr_threshold(1000, 2, 0.05) > glr_threshold(100, 2, 0.05));
    CHECK(glr_threshold(100, 2, 0.01) > glr_threshold(100, 2, 0.05));
}

static void test_interval_respects_range_at_small_n(void)
{
    double lo, hi;
    glr_interval(-0.5, 2, -1, 1, 0.05, &lo, &hi);
    CHECK(lo < -0.9 && hi > 0.5); /* not [-0.5, -0.5] */
    CHECK(lo >= -1 && hi <= 1);
    glr_interval(0.3, 0, -1, 1, 0.05, &lo, &hi);
    CHECK_NEAR(lo, -1, 0);
    CHECK_NEAR(hi, 1, 0);
    /* Many rewards: a narrow interval around the mean. */
    glr_interval(0.3, 10000, -1, 1, 0.05, &lo, &hi);
    CHECK(lo < 0.3 && hi > 0.3 && hi - lo < 0.1);
    /* A 0/1 arm with every reward 1 still has a lower bound below 1. */
    glr_interval(1, 5, 0, 1, 0.05, &lo, &hi);
    CHECK(lo < 0.6 && hi == 1);
}

static void test_verdict_leader_runner_up_and_min_data(void)
{
    char err[PB_ERR_LEN];
    struct glr_verdict v;
    struct glr_arm arms[] = {{0.2, 50, 1}, {0.9, 50, 1}, {0.7, 50, 1}, {0.95, 50, 0}};
    CHECK_INT(glr_verdict_of(arms, 4, 0, 1, 0.05, 10, &v, err), PB_OK);
    CHECK_INT((int)v.leader, 1); /* arm 3 is retired */
    CHECK_INT((int)v.runner_up, 2);
    CHECK_NEAR(v.statistic, glr_pair(0.9, 50, 0.7, 50), 1e-12);
    CHECK_NEAR(v.threshold, glr_threshold(150, 3, 0.05), 1e-12);
    CHECK(v.enough_data);
    CHECK_INT(v.separated, v.statistic > v.threshold);
    CHECK(v.separated ? v.more_rewards == 0 : v.more_rewards > 0);

    /* A huge gap on 4 rewards each: no claim below the minimum, and the estimate says how far
     * the minimum is. */
    struct glr_arm small[] = {{1.0, 4, 1}, {0.0, 4, 1}};
    CHECK_INT(glr_verdict_of(small, 2, 0, 1, 0.05, 10, &v, err), PB_OK);
    CHECK(!v.enough_data && !v.separated);
    CHECK(v.more_rewards >= 12);
    /* Equal means: no amount of data separates them. */
    struct glr_arm tie[] = {{0.5, 100, 1}, {0.5, 100, 1}};
    CHECK_INT(glr_verdict_of(tie, 2, 0, 1, 0.05, 10, &v, err), PB_OK);
    CHECK(!v.separated && isinf(v.more_rewards));
    /* An arm with no rewards never leads while another has some. */
    struct glr_arm fresh[] = {{0.0, 0, 1}, {-0.3, 12, 1}};
    CHECK_INT(glr_verdict_of(fresh, 2, -1, 1, 0.05, 10, &v, err), PB_OK);
    CHECK_INT((int)v.leader, 1);
    CHECK(!v.separated);

    CHECK_INT(glr_verdict_of(arms, 1, 0, 1, 0.05, 10, &v, err), PB_ERR_CONFLICT);
    CHECK_INT(glr_verdict_of(arms, 4, 1, 1, 0.05, 10, &v, err), PB_ERR_INVALID);
    CHECK_INT(glr_verdict_of(arms, 4, 0, 1, 1.5, 10, &v, err), PB_ERR_INVALID);
}

/* The estimate of rewards still needed is roughly right: adding that many at the same means
 * separates the pair. */
static void test_more_rewards_estimate_is_enough(void)
{
    char err[PB_ERR_LEN];
    struct glr_verdict v, after;
    struct glr_arm arms[] = {{0.6, 30, 1}, {0.4, 20, 1}};
    CHECK_INT(glr_verdict_of(arms, 2, 0, 1, 0.05, 10, &v, err), PB_OK);
    CHECK(!v.separated && isfinite(v.more_rewards) && v.more_rewards > 0);
    double f = 1 + v.more_rewards / 50;
    struct glr_arm grown[] = {{0.6, 30 * f, 1}, {0.4, 20 * f, 1}};
    CHECK_INT(glr_verdict_of(grown, 2, 0, 1, 0.05, 10, &after, err), PB_OK);
    CHECK(after.separated);
    /* ... and not wildly more than needed: 10 % fewer does not separate. */
    double g = 1 + 0.9 * v.more_rewards / 50;
    struct glr_arm less[] = {{0.6, 30 * g, 1}, {0.4, 20 * g, 1}};
    CHECK_INT(glr_verdict_of(less, 2, 0, 1, 0.05, 10, &after, err), PB_OK);
    CHECK(!after.separated);
}

/* Two Bernoulli arms 0.5 and 0.45 sampled alternately; the verdict is read after every reward
 * (the "look every day" case) and the run stops at the first separation. A wrong winner may be
 * returned at most delta of the time (the bound is loose: the rate is far below). */
static void test_repeated_looks_keep_error_within_delta(void)
{
    char err[PB_ERR_LEN];
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 42);
    const double mu[2] = {0.5, 0.45}, delta = 0.1;
    int wrong = 0, runs = 200, stopped = 0;
    for (int r = 0; r < runs; r++) {
        double sum[2] = {0, 0}, n[2] = {0, 0};
        for (int t = 0; t < 20000; t++) {
            int a = t % 2;
            sum[a] += gsl_rng_uniform(rng) < mu[a];
            n[a] += 1;
            if (t < 20)
                continue;
            struct glr_arm arms[2] = {{sum[0] / n[0], n[0], 1}, {sum[1] / n[1], n[1], 1}};
            struct glr_verdict v;
            CHECK_INT(glr_verdict_of(arms, 2, 0, 1, delta, 10, &v, err), PB_OK);
            if (v.separated) {
                stopped++;
                wrong += v.leader != 0;
                break;
            }
        }
    }
    gsl_rng_free(rng);
    fprintf(stderr, "repeated looks: %d of %d runs stopped, %d wrong\n", stopped, runs, wrong);
    CHECK(stopped > runs / 2);
    CHECK(wrong <= delta * runs);
}

int main(void)
{
    RUN(test_kl_values);
    RUN(test_pair_matches_hand_computation);
    RUN(test_threshold_formula);
    RUN(test_interval_respects_range_at_small_n);
    RUN(test_verdict_leader_runner_up_and_min_data);
    RUN(test_more_rewards_estimate_is_enough);
    RUN(test_repeated_looks_keep_error_within_delta);
    CHECK_DONE();
}
