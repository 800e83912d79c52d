/* test_bandit_policies.c — the bandit engine: hand-built policies checked by bandit_new,
 * unplayed-first and random ties, each policy converging, UCB1's index by hand, propensities,
 * statistics by hand, P(best), forget, reward validation, retired arms, the leader/runner-up
 * separation check. Spec text is tested in test_bandit_policyspec.c. */
#include "bandit/bandit.h"
#include "bandit/policyspec.h"
#include "check.h"
#include "base/pb.h"
#include "bandit/verdict.h"

#include <gsl/gsl_rng.h>
#include <math.h>

static gsl_rng *rng_seeded(unsigned long seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    return r;
}

static bandit *make(const char *spec, size_t arms)
{
    char err[PB_ERR_LEN];
    bandit_policy p;
    bandit *b = NULL;
    if (policyspec_parse(spec, &p, err) != PB_OK || bandit_new(&p, arms, &b, err) != PB_OK) {
        fprintf(stderr, "%s: %s\n", spec, err);
        exit(1);
    }
    return b;
}

static const char *all_policies[] = {"ucb1",
                                     "ucb1-tuned",
                                     "egreedy:epsilon=0.1",
                                     "egreedy-decay:c=0.15,d=0.1",
                                     "thompson",
                                     "thompson-beta",
                                     "softmax:tau=0.1",
                                     "ducb:gamma=0.999",
                                     "swucb:window=500",
                                     "ucb-chernoff"};
#define N_ALL (sizeof all_policies / sizeof all_policies[0])

static void test_hand_built_policies_are_checked_too(void)
{
    char err[PB_ERR_LEN];
    bandit_policy p;
    bandit *b = NULL;
    policyspec_parse("egreedy", &p, err);
    p.epsilon = NAN;
    CHECK_INT(bandit_new(&p, 2, &b, err), PB_ERR_INVALID);
    CHECK(strstr(err, "epsilon") != NULL);
    policyspec_parse("swucb", &p, err);
    p.window = 0;
    CHECK_INT(bandit_new(&p, 2, &b, err), PB_ERR_INVALID);
    CHECK(b == NULL);
}

static void test_unplayed_arms_come_first_for_every_policy(void)
{
    char err[PB_ERR_LEN];
    for (size_t k = 0; k < N_ALL; k++) {
        bandit *b = make(all_policies[k], 5);
        gsl_rng *rng = rng_seeded(7);
        int seen[5] = {0};
        for (int t = 0; t < 5; t++) {
            size_t arm;
            double prop;
            CHECK_INT(bandit_select(b, rng, &arm, &prop, err), PB_OK);
            CHECK_NEAR(prop, 1.0 / (5 - t), 1e-12);
            CHECK(!seen[arm]);
            seen[arm] = 1;
            bandit_observe(b, arm, 1, err); /* a great reward must not stop exploration */
        }
        size_t added, arm;
        CHECK_INT(bandit_add_arm(b, &added, err), PB_OK);
        CHECK_INT(added, 5);
        CHECK_INT(bandit_select(b, rng, &arm, NULL, err), PB_OK);
        CHECK_INT(arm, 5);
        gsl_rng_free(rng);
        bandit_free(b);
    }
}

static void test_burnin_plays_each_arm_that_often_first(void)
{
    char err[PB_ERR_LEN];
    const char *specs[] = {"ucb1:burnin=5", "thompson-beta:burnin=5", "egreedy:epsilon=0,burnin=5"};
    for (size_t k = 0; k < 3; k++) {
        bandit *b = make(specs[k], 3);
        gsl_rng *rng = rng_seeded(17);
        for (int t = 0; t < 15; t++) {
            size_t arm;
            bandit_select(b, rng, &arm, NULL, err);
            bandit_observe(b, arm, arm == 0 ? 1 : -1, err); /* arm 0 is clearly best */
        }
        for (size_t a = 0; a < 3; a++) {
            bandit_arm_stats s;
            bandit_get_arm_stats(b, a, &s, err);
            CHECK_INT(s.pulls, 5);
        }
        gsl_rng_free(rng);
        bandit_free(b);
    }
}

static void test_ties_are_random_but_reproducible_with_a_seed(void)
{
    char err[PB_ERR_LEN];
    size_t first[40], again[40];
    int counts[4] = {0};
    for (int pass = 0; pass < 2; pass++) {
        gsl_rng *rng = rng_seeded(42);
        for (int i = 0; i < 40; i++) {
            bandit *b = make("ucb1", 4);
            for (size_t a = 0; a < 4; a++)
                bandit_observe(b, a, 0.5, err); /* four equal indices */
            double prop;
            size_t *dst = pass ? &again[i] : &first[i];
            bandit_select(b, rng, dst, &prop, err);
            CHECK_NEAR(prop, 0.25, 1e-12);
            if (!pass)
                counts[*dst]++;
            bandit_free(b);
        }
        gsl_rng_free(rng);
    }
    CHECK(memcmp(first, again, sizeof first) == 0);
    for (int a = 0; a < 4; a++)
        CHECK(counts[a] > 0); /* 40 fair draws miss an arm with probability < 1e-4 */
}

static void test_every_policy_converges_on_an_easy_pair(void)
{
    char err[PB_ERR_LEN];
    for (size_t k = 0; k < N_ALL; k++) {
        bandit *b = make(all_policies[k], 2);
        gsl_rng *rng = rng_seeded(3), *env = rng_seeded(4);
        long late_best = 0;
        for (int t = 0; t < 3000; t++) {
            size_t arm;
            bandit_select(b, rng, &arm, NULL, err);
            double p = arm == 1 ? 0.8 : 0.3;
            bandit_observe(b, arm, gsl_rng_uniform(env) < p ? 1 : -1, err);
            late_best += t >= 2000 && arm == 1;
        }
        if (late_best < 850)
            fprintf(stderr, "%s: best arm %ld/1000 late plays\n", all_policies[k], late_best);
        CHECK(late_best >= 850);
        gsl_rng_free(rng);
        gsl_rng_free(env);
        bandit_free(b);
    }
}

/* arm 0: ten rewards 0.2 (mean 0.6 on [0,1]); arm 1: two rewards -0.8 (0.1 on [0,1]).
 * t = 12: index0 = 0.6 + sqrt(2 ln 12 / 10) = 1.30496, index1 = 0.1 + sqrt(ln 12) = 1.67636,
 * so arm 1 wins; without the [0,1] rescaling arm 0 would (0.905 vs 0.776). */
static void test_ucb1_index_matches_a_hand_computed_case(void)
{
    char err[PB_ERR_LEN];
    bandit *b = make("ucb1", 2);
    gsl_rng *rng = rng_seeded(1);
    for (int i = 0; i < 10; i++)
        bandit_observe(b, 0, 0.2, err);
    bandit_observe(b, 1, -0.8, err);
    bandit_observe(b, 1, -0.8, err);
    double i0, i1, prop;
    size_t arm;
    CHECK_INT(bandit_index(b, 0, &i0, err), PB_OK);
    CHECK_INT(bandit_index(b, 1, &i1, err), PB_OK);
    CHECK_NEAR(i0, 1.304960, 1e-5);
    CHECK_NEAR(i1, 1.676359, 1e-5);
    CHECK_INT(bandit_select(b, rng, &arm, &prop, err), PB_OK);
    CHECK_INT(arm, 1);
    CHECK_NEAR(prop, 1, 0);
    gsl_rng_free(rng);
    bandit_free(b);
}

/* Chapelle & Li's Chernoff index p + sqrt(2 p L / m) + 2 L / m, L = ln(1/delta) = ln(t) / 2:
 * arm 0 has 8 successes in 10 (p = 0.8), arm 1 one in 4 (p = 0.25); t = 14, L = 1.31952.
 * index0 = 0.8 + sqrt(2 * 0.8 * L / 10) + 2 L / 10 = 1.523389, index1 = 0.25 +
 * sqrt(2 * 0.25 * L / 4) + 2 L / 4 = 1.315894: the small-p arm gets a much smaller bonus than
 * UCB1 would give it. */
static void test_ucb_chernoff_index_matches_a_hand_computed_case(void)
{
    char err[PB_ERR_LEN];
    bandit *b = make("ucb-chernoff", 2);
    for (int i = 0; i < 10; i++)
        bandit_observe(b, 0, i < 8 ? 1 : -1, err);
    for (int i = 0; i < 4; i++)
        bandit_observe(b, 1, i < 1 ? 1 : -1, err);
    double i0, i1, l = 0.5 * log(14.0);
    CHECK_INT(bandit_index(b, 0, &i0, err), PB_OK);
    CHECK_INT(bandit_index(b, 1, &i1, err), PB_OK);
    CHECK_NEAR(i0, 0.8 + sqrt(2 * 0.8 * l / 10) + 2 * l / 10, 1e-12);
    CHECK_NEAR(i1, 0.25 + sqrt(2 * 0.25 * l / 4) + 2 * l / 4, 1e-12);
    CHECK_NEAR(i0, 1.523389, 1e-5);
    CHECK_NEAR(i1, 1.315894, 1e-5);
    bandit_free(b);
}

/* thompson-beta:prior=1 draws an unplayed arm from Beta(1, 1) instead of playing it first:
 * beside an arm with 200 successes in 200 a new arm is almost never chosen, while the default
 * plays it at once. */
static void test_thompson_prior_does_not_force_unplayed_arms(void)
{
    char err[PB_ERR_LEN];
    bandit *with_prior = make("thompson-beta:prior=1", 2), *plain = make("thompson-beta", 2);
    gsl_rng *rng = rng_seeded(5);
    for (int i = 0; i < 200; i++) {
        bandit_observe(with_prior, 0, 1, err);
        bandit_observe(plain, 0, 1, err);
    }
    int new_arm = 0;
    for (int t = 0; t < 1000; t++) {
        size_t arm;
        CHECK_INT(bandit_select(with_prior, rng, &arm, NULL, err), PB_OK);
        new_arm += arm == 1;
    }
    CHECK(new_arm < 20); /* P(Beta(1,1) > Beta(201,1)) = 1/202 */
    size_t arm;
    CHECK_INT(bandit_select(plain, rng, &arm, NULL, err), PB_OK);
    CHECK_INT(arm, 1);
    gsl_rng_free(rng);
    bandit_free(with_prior);
    bandit_free(plain);
}

static void test_egreedy_propensities_sum_to_one_and_match_select(void)
{
    char err[PB_ERR_LEN];
    const char *specs[] = {"egreedy:epsilon=0.2", "egreedy-decay:c=0.5,d=0.2", "softmax:tau=0.5",
                           "ucb1", "thompson-beta:draws=20000"};
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        bandit *b = make(specs[k], 4);
        gsl_rng *rng = rng_seeded(11);
        const double rewards[4] = {0.5, 0.5, -0.2, 0.1}; /* arms 0 and 1 tie for greedy */
        for (size_t a = 0; a < 4; a++)
            for (int i = 0; i < 3; i++)
                bandit_observe(b, a, rewards[a], err);
        double probs[4], sum = 0;
        CHECK_INT(bandit_choice_probabilities(b, rng, 20000, probs, err), PB_OK);
        for (int a = 0; a < 4; a++)
            sum += probs[a];
        CHECK_NEAR(sum, 1, 1e-9);
        size_t arm;
        double prop;
        for (int i = 0; i < 20; i++) {
            CHECK_INT(bandit_select(b, rng, &arm, &prop, err), PB_OK);
            CHECK_NEAR(prop, probs[arm], k == 4 ? 0.02 : 1e-12);
        }
        if (k == 0) {
            CHECK_NEAR(probs[0], 0.8 / 2 + 0.2 / 4, 1e-12);
            CHECK_NEAR(probs[2], 0.2 / 4, 1e-12);
        }
        gsl_rng_free(rng);
        bandit_free(b);
    }
}

/* Rewards 1, 0.5, 0, -0.5: mean 0.25, variance 1.25/3, t(0.975, 3) = 3.182446,
 * half-width 3.182446 * sqrt(0.416667/4) = 1.027137; the upper end clips to 1. */
static void test_statistics_match_a_hand_computed_case(void)
{
    char err[PB_ERR_LEN];
    bandit *b = make("ucb1", 1);
    const double r[] = {1, 0.5, 0, -0.5};
    for (int i = 0; i < 4; i++)
        bandit_observe(b, 0, r[i], err);
    bandit_arm_stats s;
    CHECK_INT(bandit_get_arm_stats(b, 0, &s, err), PB_OK);
    CHECK_INT(s.pulls, 4);
    CHECK_NEAR(s.mean, 0.25, 1e-12);
    CHECK_NEAR(s.variance, 1.25 / 3, 1e-12);
    CHECK_NEAR(s.ci_low, 0.25 - 1.027137, 1e-5);
    CHECK_NEAR(s.ci_high, 1, 0);
    CHECK_INT(bandit_get_arm_stats(b, 3, &s, err), PB_ERR_INVALID);
    bandit_free(b);
}

static void test_prob_best_separated_and_identical_arms(void)
{
    char err[PB_ERR_LEN];
    bandit *b = make("ucb1", 3);
    gsl_rng *rng = rng_seeded(5), *env = rng_seeded(6);
    for (int i = 0; i < 400; i++) {
        bandit_observe(b, 0, gsl_rng_uniform(env) < 0.9 ? 1 : -1, err);
        bandit_observe(b, 1, gsl_rng_uniform(env) < 0.3 ? 1 : -1, err);
    }
    bandit_set_active(b, 2, 0, err);
    double pb[3];
    CHECK_INT(verdict_prob_best(b, rng, 20000, pb, err), PB_OK);
    CHECK(pb[0] > 0.999);
    CHECK_NEAR(pb[2], 0, 0);
    bandit_free(b);
    b = make("thompson-beta", 2);
    for (int i = 0; i < 50; i++)
        for (size_t a = 0; a < 2; a++)
            bandit_observe(b, a, i % 2 ? 1 : -1, err);
    CHECK_INT(verdict_prob_best(b, rng, 20000, pb, err), PB_OK);
    CHECK_NEAR(pb[0], 0.5, 0.02);
    CHECK_NEAR(pb[0] + pb[1], 1, 1e-9);
    gsl_rng_free(rng);
    gsl_rng_free(env);
    bandit_free(b);
}

static void same_state(const bandit *x, const bandit *y)
{
    char err[PB_ERR_LEN];
    CHECK_INT(bandit_total_pulls(x), bandit_total_pulls(y));
    for (size_t a = 0; a < bandit_arm_count(x); a++) {
        bandit_arm_stats s, t;
        bandit_get_arm_stats(x, a, &s, err);
        bandit_get_arm_stats(y, a, &t, err);
        CHECK_INT(s.pulls, t.pulls);
        CHECK_NEAR(s.mean, t.mean, 1e-15);
        CHECK_NEAR(s.variance, t.variance, 1e-15);
    }
}

static void test_forget_undoes_observe(void)
{
    char err[PB_ERR_LEN];
    const char *specs[] = {"ucb1", "swucb:window=4", "thompson-beta"};
    for (size_t k = 0; k < 3; k++) {
        bandit *x = make(specs[k], 2), *y = make(specs[k], 2);
        const double r[] = {0.5, -1, 1, 0, 0.5, 1};
        for (int i = 0; i < 6; i++) {
            bandit_observe(x, (size_t)i % 2, r[i], err);
            bandit_observe(y, (size_t)i % 2, r[i], err);
        }
        CHECK_INT(bandit_observe(x, 1, -0.5, err), PB_OK);
        CHECK_INT(bandit_forget(x, 1, -0.5, err), PB_OK);
        same_state(x, y);
        /* the same seed must now give the same choices */
        gsl_rng *rx = rng_seeded(9), *ry = rng_seeded(9);
        for (int i = 0; i < 10; i++) {
            size_t ax, ay;
            bandit_select(x, rx, &ax, NULL, err);
            bandit_select(y, ry, &ay, NULL, err);
            CHECK_INT(ax, ay);
            bandit_observe(x, ax, 0.5, err);
            bandit_observe(y, ay, 0.5, err);
        }
        gsl_rng_free(rx);
        gsl_rng_free(ry);
        bandit_free(x);
        bandit_free(y);
    }
    bandit *b = make("ucb1", 1);
    CHECK_INT(bandit_forget(b, 0, 1, err), PB_ERR_CONFLICT);
    bandit_free(b);
    b = make("ducb", 1);
    bandit_observe(b, 0, 1, err);
    CHECK_INT(bandit_forget(b, 0, 1, err), PB_ERR_CONFLICT);
    CHECK(strstr(err, "rebuild") != NULL);
    bandit_free(b);
}

static void test_bad_rewards_are_refused_without_change(void)
{
    char err[PB_ERR_LEN];
    bandit *b = make("ucb1", 2);
    bandit_observe(b, 0, 0.5, err);
    const double bad[] = {NAN, INFINITY, -INFINITY, 1.0000001, -1.5, 2};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CHECK_INT(bandit_observe(b, 0, bad[i], err), PB_ERR_INVALID);
        CHECK(strstr(err, "[-1, 1]") != NULL);
    }
    CHECK_INT(bandit_observe(b, 7, 0.5, err), PB_ERR_INVALID);
    CHECK(strstr(err, "no arm 7") != NULL);
    bandit_arm_stats s;
    bandit_get_arm_stats(b, 0, &s, err);
    CHECK_INT(s.pulls, 1);
    CHECK_NEAR(s.mean, 0.5, 0);
    CHECK_INT(bandit_total_pulls(b), 1);
    bandit_free(b);
}

static void test_retired_arms_are_never_chosen(void)
{
    char err[PB_ERR_LEN];
    for (size_t k = 0; k < N_ALL; k++) {
        bandit *b = make(all_policies[k], 4);
        gsl_rng *rng = rng_seeded(13);
        for (size_t a = 0; a < 4; a++)
            bandit_observe(b, a, a == 2 ? 1 : -1, err); /* the retired arm looks best */
        bandit_set_active(b, 2, 0, err);
        bandit_set_active(b, 3, 0, err);
        CHECK_INT(bandit_active_count(b), 2);
        for (int t = 0; t < 500; t++) {
            size_t arm;
            bandit_select(b, rng, &arm, NULL, err);
            CHECK(arm < 2);
            bandit_observe(b, arm, 0, err);
        }
        bandit_set_active(b, 0, 0, err);
        bandit_set_active(b, 1, 0, err);
        size_t arm;
        CHECK_INT(bandit_select(b, rng, &arm, NULL, err), PB_ERR_CONFLICT);
        gsl_rng_free(rng);
        bandit_free(b);
    }
}

/* Bernoulli arms 0.8 and 0.5; at t = 20000 arm 0 drops to 0.2. In the 5000 plays after the
 * change SW-UCB and D-UCB must play arm 1 most of the time, while UCB1 keeps trusting arm 0's
 * ~20000 old plays (its mean needs about as many new plays to fall below 0.5). */
static double late_share_after_change(const char *spec)
{
    char err[PB_ERR_LEN];
    bandit *b = make(spec, 2);
    gsl_rng *rng = rng_seeded(21), *env = rng_seeded(22);
    long late = 0;
    for (int t = 0; t < 25000; t++) {
        size_t arm;
        bandit_select(b, rng, &arm, NULL, err);
        double p = arm == 1 ? 0.5 : t < 20000 ? 0.8 : 0.2;
        bandit_observe(b, arm, gsl_rng_uniform(env) < p ? 1 : -1, err);
        late += t >= 20000 && arm == 1;
    }
    gsl_rng_free(rng);
    gsl_rng_free(env);
    bandit_free(b);
    return late / 5000.0;
}

static void test_sliding_window_adapts_after_a_change_point(void)
{
    double sw = late_share_after_change("swucb:window=500");
    double du = late_share_after_change("ducb:gamma=0.99");
    double ucb = late_share_after_change("ucb1");
    fprintf(stderr, "late share of the new best arm: swucb %.3f ducb %.3f ucb1 %.3f\n", sw, du,
            ucb);
    CHECK(sw > 0.85);
    CHECK(du > 0.6);
    CHECK(ucb < 0.3);
}

static void test_separation_of_leader_and_runner_up(void)
{
    char err[PB_ERR_LEN];
    bandit *b = make("ucb1", 2);
    verdict_separation s;
    CHECK_INT(verdict_check_separation(b, 0.95, &s, err), PB_ERR_CONFLICT);
    /* arm 1: mean 0.5, arm 0: mean 0 (the GLR rule of glr.h; docs/BANDITS.md "Verdict") */
    for (int i = 0; i < 4; i++) {
        bandit_observe(b, 0, i % 2 ? 0.5 : -0.5, err);
        bandit_observe(b, 1, i % 2 ? 1 : 0, err);
    }
    CHECK_INT(verdict_check_separation(b, 0.95, &s, err), PB_OK);
    CHECK_INT(s.leader, 1);
    CHECK_INT(s.runner_up, 0);
    CHECK_NEAR(s.difference, 0.5, 1e-12);
    CHECK(!s.enough_data); /* 4 rewards each: below GLR_MIN_REWARDS, no claim */
    CHECK(!s.separated);
    CHECK(s.more_pulls > 0 && isfinite(s.more_pulls));
    for (int i = 0; i < 196; i++) {
        bandit_observe(b, 0, i % 2 ? 0.5 : -0.5, err);
        bandit_observe(b, 1, i % 2 ? 1 : 0, err);
    }
    CHECK_INT(verdict_check_separation(b, 0.95, &s, err), PB_OK);
    CHECK(s.separated);
    CHECK(s.statistic > s.threshold);
    CHECK_NEAR(s.more_pulls, 0, 0);
    bandit_free(b);
}

static void test_replay_of_history_rebuilds_the_same_state(void)
{
    char err[PB_ERR_LEN];
    bandit *live = make("ucb1-tuned", 3), *replayed = make("ucb1-tuned", 3);
    gsl_rng *rng = rng_seeded(31), *env = rng_seeded(32);
    size_t arms[300];
    double rewards[300];
    for (int t = 0; t < 300; t++) {
        bandit_select(live, rng, &arms[t], NULL, err);
        rewards[t] = gsl_rng_uniform(env) < 0.3 + 0.2 * (double)arms[t] ? 1 : -0.5;
        bandit_observe(live, arms[t], rewards[t], err);
    }
    for (int t = 0; t < 300; t++)
        CHECK_INT(bandit_observe(replayed, arms[t], rewards[t], err), PB_OK);
    same_state(live, replayed);
    gsl_rng_free(rng);
    gsl_rng_free(env);
    bandit_free(live);
    bandit_free(replayed);
}

int main(void)
{
    RUN(test_hand_built_policies_are_checked_too);
    RUN(test_unplayed_arms_come_first_for_every_policy);
    RUN(test_burnin_plays_each_arm_that_often_first);
    RUN(test_ties_are_random_but_reproducible_with_a_seed);
    RUN(test_every_policy_converges_on_an_easy_pair);
    RUN(test_ucb1_index_matches_a_hand_computed_case);
    RUN(test_ucb_chernoff_index_matches_a_hand_computed_case);
    RUN(test_thompson_prior_does_not_force_unplayed_arms);
    RUN(test_egreedy_propensities_sum_to_one_and_match_select);
    RUN(test_statistics_match_a_hand_computed_case);
    RUN(test_prob_best_separated_and_identical_arms);
    RUN(test_forget_undoes_observe);
    RUN(test_bad_rewards_are_refused_without_change);
    RUN(test_retired_arms_are_never_chosen);
    RUN(test_sliding_window_adapts_after_a_change_point);
    RUN(test_separation_of_leader_and_runner_up);
    RUN(test_replay_of_history_rebuilds_the_same_state);
    CHECK_DONE();
}
