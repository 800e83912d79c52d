/* test_bandit_verdict.c — verdict.h: P(best) is a function of the state (the same numbers on
 * every call, exact for two arms, independent of the caller's generator), the GLR verdict per
 * group and per segment (Bonferroni), and the advice: keep exploring, promote, promoted, serve
 * per segment. */
#include "bandit/bandit.h"
#include "bandit/glr.h"
#include "bandit/policyspec.h"
#include "bandit/verdict.h"
#include "check.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_rng.h>
#include <stdint.h>

static char err[PB_ERR_LEN];

static void test_p_best_is_the_same_on_every_call_for_the_same_state(void)
{
    struct verdict_arm arms[] = {{40, 0.2, 0.5, 1}, {38, 0.25, 0.6, 1}, {41, 0.1, 0.4, 1}};
    double a[3], b[3];
    CHECK_INT(verdict_p_best(arms, 3, VERDICT_GAUSSIAN, 2000, a, err), PB_OK);
    for (int i = 0; i < 5; i++) {
        CHECK_INT(verdict_p_best(arms, 3, VERDICT_GAUSSIAN, 2000, b, err), PB_OK);
        for (int k = 0; k < 3; k++)
            CHECK(a[k] == b[k]);
    }
    CHECK_NEAR(a[0] + a[1] + a[2], 1, 1e-9);
    /* A sum taken in another order (last-bit differences) does not move the figures. */
    arms[1].mean += 1e-13;
    CHECK_INT(verdict_p_best(arms, 3, VERDICT_GAUSSIAN, 2000, b, err), PB_OK);
    CHECK(a[1] == b[1]);
    /* New data does. */
    arms[1].pulls += 1;
    CHECK_INT(verdict_p_best(arms, 3, VERDICT_GAUSSIAN, 2000, b, err), PB_OK);
    CHECK(a[1] != b[1]);
}

static void test_two_arms_are_exact(void)
{
    struct verdict_arm arms[] = {{20, 0.5, 0.25, 1}, {10, 0.3, 0.36, 1}, {5, 0.9, 0, 0}};
    double p[3];
    CHECK_INT(verdict_p_best(arms, 3, VERDICT_GAUSSIAN, 1, p, err), PB_OK);
    double s1 = sqrt((0.25 * 19 + 1) / 400), s2 = sqrt((0.36 * 9 + 1) / 100);
    CHECK_NEAR(p[0], gsl_cdf_ugaussian_P(0.2 / sqrt(s1 * s1 + s2 * s2)), 1e-12);
    CHECK_NEAR(p[1], 1 - p[0], 1e-12);
    CHECK_NEAR(p[2], 0, 0); /* retired */
    struct verdict_arm one[] = {{3, -0.5, 0, 1}, {9, 0.5, 0, 0}};
    CHECK_INT(verdict_p_best(one, 2, VERDICT_GAUSSIAN, 1, p, err), PB_OK);
    CHECK_NEAR(p[0], 1, 0);
    CHECK_INT(verdict_p_best(one, 2, VERDICT_GAUSSIAN, 0, p, err), PB_ERR_INVALID);
    one[0].active = 0;
    CHECK_INT(verdict_p_best(one, 2, VERDICT_GAUSSIAN, 1, p, err), PB_ERR_CONFLICT);
}

static void test_a_bandit_gives_the_same_p_best_whatever_generator_is_passed(void)
{
    bandit_policy pol;
    bandit *b = NULL;
    CHECK_INT(policyspec_parse("thompson-beta", &pol, err), PB_OK);
    CHECK_INT(bandit_new(&pol, 3, &b, err), PB_OK);
    for (int i = 0; i < 30; i++)
        for (size_t a = 0; a < 3; a++)
            bandit_observe(b, a, (i + (int)a) % 3 ? 1 : -1, err);
    gsl_rng *r1 = gsl_rng_alloc(gsl_rng_mt19937), *r2 = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r1, 1);
    gsl_rng_set(r2, 99);
    double x[3], y[3], z[3];
    CHECK_INT(verdict_prob_best(b, r1, 4000, x, err), PB_OK);
    CHECK_INT(verdict_prob_best(b, r2, 4000, y, err), PB_OK);
    CHECK_INT(verdict_prob_best(b, NULL, 4000, z, err), PB_OK);
    for (int k = 0; k < 3; k++)
        CHECK(x[k] == y[k] && y[k] == z[k]);
    gsl_rng_free(r1);
    gsl_rng_free(r2);
    bandit_free(b);
}

static void test_judge_needs_two_rewarded_arms_and_the_minimum_to_separate(void)
{
    struct verdict_outcome o;
    struct verdict_arm fresh[] = {{0, 0, 0, 1}, {5, 0.4, 0.1, 1}, {50, 0.9, 0, 0}};
    struct verdict_group g = {fresh, 3};
    CHECK_INT(verdict_judge(&g, 0.05, &o, err), PB_OK);
    CHECK(!o.compared); /* one active arm with rewards: nothing to compare */
    /* Two rewards of 1 against two of -1: the widest gap, still no claim below the minimum. */
    struct verdict_arm small[] = {{2, 1, 0, 1}, {2, -1, 0, 1}};
    g = (struct verdict_group){small, 2};
    CHECK_INT(verdict_judge(&g, 0.05, &o, err), PB_OK);
    CHECK(o.compared && !o.enough_data && !o.separated);
    CHECK_INT(o.leader, 0);
    CHECK(o.more_rewards >= 2 * (GLR_MIN_REWARDS - 2));
    struct verdict_arm big[] = {{60, 0.8, 0, 1}, {60, -0.2, 0, 1}};
    g = (struct verdict_group){big, 2};
    CHECK_INT(verdict_judge(&g, 0.05, &o, err), PB_OK);
    CHECK(o.separated);
    CHECK_NEAR(o.threshold, glr_threshold(120, 2, 0.05), 1e-12);
    CHECK_NEAR(o.more_rewards, 0, 0);
    CHECK_INT(verdict_judge(&g, 1, &o, err), PB_ERR_INVALID);
}

static void test_segments_share_the_error_level(void)
{
    struct verdict_arm neg[] = {{30, -0.2, 0, 1}, {30, 0.8, 0, 1}, {0, 0, 0, 1}};
    struct verdict_arm pos[] = {{30, 0.1, 0, 1}, {30, -0.3, 0, 1}, {30, 0.9, 0, 1}};
    struct verdict_arm none[] = {{0, 0, 0, 1}, {0, 0, 0, 1}, {0, 0, 0, 1}};
    struct verdict_group segs[] = {{neg, 3}, {pos, 3}, {none, 3}};
    struct verdict_outcome o[3];
    CHECK_INT(verdict_judge_segments(segs, 3, 0.05, o, err), PB_OK);
    CHECK_NEAR(o[0].delta, 0.025, 1e-15); /* two segments can be compared */
    CHECK_NEAR(o[1].delta, 0.025, 1e-15);
    CHECK(!o[2].compared);
}

static void test_advice_follows_the_verdicts(void)
{
    struct verdict_outcome overall = {.compared = 1, .leader = 1, .runner_up = 2};
    struct verdict_outcome segs[2] = {{.compared = 1, .leader = 1, .separated = 1},
                                      {.compared = 1, .leader = 2, .separated = 0}};
    struct verdict_advice adv;
    size_t lead[2];
    verdict_advise(&overall, segs, 2, SIZE_MAX, &adv, lead);
    CHECK_INT(adv.action, VERDICT_KEEP_EXPLORING);
    CHECK_INT(lead[0], 1);
    CHECK(lead[1] == SIZE_MAX);
    overall.separated = 1;
    verdict_advise(&overall, segs, 2, SIZE_MAX, &adv, lead);
    CHECK_INT(adv.action, VERDICT_PROMOTE);
    CHECK_INT(adv.arm, 1);
    verdict_advise(&overall, segs, 2, 1, &adv, lead);
    CHECK_INT(adv.action, VERDICT_PROMOTED);
    segs[1].separated = 1; /* B for one segment, C for the other */
    verdict_advise(&overall, segs, 2, SIZE_MAX, &adv, lead);
    CHECK_INT(adv.action, VERDICT_SERVE_PER_SEGMENT);
    CHECK_INT(lead[0], 1);
    CHECK_INT(lead[1], 2);
    struct verdict_outcome nothing = {0};
    verdict_advise(&nothing, NULL, 0, SIZE_MAX, &adv, NULL);
    CHECK_INT(adv.action, VERDICT_NO_DATA);
}

int main(void)
{
    RUN(test_p_best_is_the_same_on_every_call_for_the_same_state);
    RUN(test_two_arms_are_exact);
    RUN(test_a_bandit_gives_the_same_p_best_whatever_generator_is_passed);
    RUN(test_judge_needs_two_rewarded_arms_and_the_minimum_to_separate);
    RUN(test_segments_share_the_error_level);
    RUN(test_advice_follows_the_verdicts);
    CHECK_DONE();
}
