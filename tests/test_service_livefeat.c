/* test_service_livefeat.c — the live contextual feature vector: layout, group sums capped at 1,
 * turns, hour of day, and the "features" field of a context (wrong dimension is an error). */
#include "check.h"
#include "service/livefeat.h"

#include <math.h>
#include <string.h>

static struct emotion_result emo(const char *label, const char *group, double score)
{
    struct emotion_result e = {0};
    snprintf(e.label, sizeof e.label, "%s", label);
    snprintf(e.group, sizeof e.group, "%s", group);
    e.score = score;
    return e;
}

static void test_build_sums_groups_turns_and_hour(void)
{
    struct emotion_result in[] = {emo("joy", "positive", 0.7), emo("love", "positive", 0.6),
                                  emo("anger", "negative", 0.2), emo("x", "", 0.9)};
    double x[FEATVEC_DIM];
    /* 1970-01-01 06:00 UTC: a quarter of the day */
    livefeat_build(in, 4, 3, 6 * 3600.0, x);
    CHECK_NEAR(x[0], 1, 0);
    CHECK_NEAR(x[1], 1, 1e-12); /* 0.7 + 0.6 capped */
    CHECK_NEAR(x[2], 0.2, 1e-12);
    CHECK_NEAR(x[3], 0, 0);
    CHECK_NEAR(x[4], 0, 0);
    CHECK_NEAR(x[5], log(4.0), 1e-12);
    CHECK_NEAR(x[6], 1, 1e-12);
    CHECK_NEAR(x[7], 0, 1e-12);
    livefeat_build(NULL, 0, -5, 18 * 3600.0 + 86400.0 * 100, x);
    CHECK_NEAR(x[5], 0, 0); /* negative turns count as none */
    CHECK_NEAR(x[6], -1, 1e-12);
    CHECK_STR(featvec_names[5], "log1p_turns");
}

static void test_context_round_trip_and_bad_dimensions(void)
{
    static const struct {
        const char *context;
        int want;
    } cases[] = {
        {"{\"features\":[1,0.5,0,0,0,0,0,1]}", 1},
        {"{\"emotions\":[]}", 0},
        {"not json", 0},
        {"{\"features\":[1,0.5,0]}", PB_ERR_INVALID},
        {"{\"features\":[1,0,0,0,0,0,0,\"x\"]}", PB_ERR_INVALID},
        {"{\"features\":[1,0,0,0,0,0,0,1e9]}", PB_ERR_INVALID},
    };
    char err[PB_ERR_LEN];
    double x[FEATVEC_DIM];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_INT(featvec_from_context(cases[i].context, x, err), cases[i].want);
    CHECK_INT(featvec_from_context(NULL, x, err), 0);
    double in[FEATVEC_DIM] = {1, 0.25, 0, 0, 0.5, 0.7, -0.5, 0.8};
    json_t *j = json_pack("{s:o}", "features", featvec_json(in));
    char *text = json_dumps(j, JSON_COMPACT);
    CHECK_INT(featvec_from_context(text, x, err), 1);
    CHECK(memcmp(in, x, sizeof x) == 0);
    free(text);
    json_decref(j);
}

int main(void)
{
    RUN(test_build_sums_groups_turns_and_hour);
    RUN(test_context_round_trip_and_bad_dimensions);
    CHECK_DONE();
}
