/* test_bandit_segments.c — per-segment bandits with fallback to the global one: a young
 * segment is served by the global bandit, a grown one by its own; segments with opposite
 * best arms are each learned; observations reach both levels; bad input changes nothing. */
#include "check.h"
#include "base/pb.h"
#include "bandit/segments.h"
#include "bandit/policyspec.h"

static segments *make(const char *spec, size_t arms, size_t n_segments, long min_pulls)
{
    char err[PB_ERR_LEN];
    bandit_policy p;
    segments *s = NULL;
    if (policyspec_parse(spec, &p, err) != PB_OK ||
        segments_new(&p, arms, n_segments, min_pulls, &s, err) != PB_OK) {
        fprintf(stderr, "%s: %s\n", spec, err);
        exit(1);
    }
    return s;
}

static void test_young_segment_falls_back_to_global(void)
{
    char err[PB_ERR_LEN];
    segments *s = make("ucb1", 2, 3, 10);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    size_t arm;
    int from_global;
    CHECK_INT(segments_select(s, 1, rng, &arm, NULL, &from_global, err), PB_OK);
    CHECK(from_global);
    CHECK(segments_get(s, 1) == NULL);
    for (int i = 0; i < 10; i++)
        CHECK_INT(segments_observe(s, 1, (size_t)i % 2, 0.5, err), PB_OK);
    CHECK_INT(segments_select(s, 1, rng, &arm, NULL, &from_global, err), PB_OK);
    CHECK(!from_global);
    CHECK_INT(segments_select(s, 2, rng, &arm, NULL, &from_global, err), PB_OK);
    CHECK(from_global);
    CHECK_INT(bandit_total_pulls(segments_global(s)), 10);
    CHECK_INT(bandit_total_pulls(segments_get(s, 1)), 10);
    gsl_rng_free(rng);
    segments_free(s);
}

/* Segment 0 prefers arm 0 (0.8 vs 0.3), segment 1 the reverse; pooled, the arms tie. */
static void test_opposite_segments_are_each_learned(void)
{
    char err[PB_ERR_LEN];
    segments *s = make("thompson-beta", 2, 2, 20);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937), *env = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(env, 5);
    long right[2] = {0, 0};
    for (int t = 0; t < 4000; t++) {
        size_t seg = (size_t)t % 2, arm;
        segments_select(s, seg, rng, &arm, NULL, NULL, err);
        double p = arm == seg ? 0.8 : 0.3;
        segments_observe(s, seg, arm, gsl_rng_uniform(env) < p ? 1 : -1, err);
        right[seg] += t >= 3000 && arm == seg;
    }
    CHECK(right[0] > 450); /* of 500 late plays each */
    CHECK(right[1] > 450);
    gsl_rng_free(rng);
    gsl_rng_free(env);
    segments_free(s);
}

static void test_arms_retire_and_grow_everywhere_and_bad_input_changes_nothing(void)
{
    char err[PB_ERR_LEN];
    segments *s = make("ucb1", 2, 2, 0);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    segments_observe(s, 0, 0, 1, err);
    size_t added, arm;
    CHECK_INT(segments_add_arm(s, &added, err), PB_OK);
    CHECK_INT(added, 2);
    CHECK_INT(bandit_arm_count(segments_get(s, 0)), 3);
    CHECK_INT(segments_set_active(s, 0, 0, err), PB_OK);
    segments_observe(s, 1, 1, 1, err); /* segment 1 is created after the retirement */
    for (int t = 0; t < 50; t++) {
        for (size_t seg = 0; seg < 2; seg++) {
            CHECK_INT(segments_select(s, seg, rng, &arm, NULL, NULL, err), PB_OK);
            CHECK(arm != 0);
            segments_observe(s, seg, arm, 0, err);
        }
    }
    uint64_t before = bandit_total_pulls(segments_global(s));
    CHECK_INT(segments_observe(s, 0, 1, NAN, err), PB_ERR_INVALID);
    CHECK_INT(segments_observe(s, 9, 1, 0.5, err), PB_ERR_INVALID);
    CHECK_INT(bandit_total_pulls(segments_global(s)), before);
    CHECK_INT(segments_forget(s, 1, 1, 0, err), PB_OK);
    CHECK_INT(bandit_total_pulls(segments_global(s)), before - 1);
    gsl_rng_free(rng);
    segments_free(s);
}

int main(void)
{
    RUN(test_young_segment_falls_back_to_global);
    RUN(test_opposite_segments_are_each_learned);
    RUN(test_arms_retire_and_grow_everywhere_and_bad_input_changes_nothing);
    CHECK_DONE();
}
