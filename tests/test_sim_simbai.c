/* test_sim_simbai.c — simulated best-arm identification: over 1,000 runs per rule the returned
 * arm is wrong at most delta of the time (within binomial noise), Top-Two Thompson and LUCB
 * need fewer samples than uniform allocation, the lower bound T* log(1/delta) is below every
 * rule's mean, the same seed gives the same numbers, and the report has its fields. */
#include "check.h"
#include "bandit/bai.h"
#include "base/pb.h"
#include "sim/simbai.h"
#include "sim/simarm.h"

#include <math.h>

static const bai_rule all_rules[] = {BAI_TTS, BAI_LUCB, BAI_SE, BAI_UNIFORM};

static simbai_result *run(const char *spec, const simbai_options *opt)
{
    char err[PB_ERR_LEN];
    sim_arm *arms = NULL;
    size_t n;
    simbai_result *r = NULL;
    if (sim_arms_parse(spec, &arms, &n, err) != PB_OK ||
        simbai_run(arms, n, all_rules, 4, opt, NULL, NULL, &r, err) != PB_OK)
        fprintf(stderr, "simbai_run: %s\n", err);
    free(arms);
    return r;
}

/* A generous delta on a close pair, so that errors are possible at all: each rule stays within
 * delta plus three binomial standard deviations over 1,000 runs. */
static void test_error_rate_stays_within_delta(void)
{
    simbai_options opt = {.delta = 0.2, .reps = 1000, .seed = 5, .budget = 1000000};
    simbai_result *r = run("bernoulli:0.75,0.5", &opt);
    CHECK(r != NULL);
    double slack = 3 * sqrt(opt.delta * (1 - opt.delta) / (double)opt.reps);
    for (size_t p = 0; r && p < r->n_rules; p++) {
        simbai_summary s;
        CHECK_INT(simbai_summarize(r, p, &s, NULL), PB_OK);
        fprintf(stderr, "%s: error %.4f over %ld runs, %.1f samples (bound %.1f)\n",
                bai_rule_name(r->rules[p].rule), s.error_rate, r->reps, s.samples.mean,
                r->lower_bound);
        CHECK(s.error_rate <= opt.delta + slack);
        CHECK_INT(r->rules[p].unstopped, 0);
        CHECK(s.samples.mean > r->lower_bound);
    }
    simbai_result_free(r);
}

static void test_adaptive_rules_beat_uniform_and_runs_repeat(void)
{
    simbai_options opt = {.delta = 0.05, .reps = 30, .seed = 6, .budget = 1000000};
    simbai_result *a = run("bernoulli:0.7,0.55,0.45,0.35,0.25", &opt);
    simbai_result *b = run("bernoulli:0.7,0.55,0.45,0.35,0.25", &opt);
    CHECK(a && b);
    if (!a || !b)
        return;
    simbai_summary s[4];
    for (size_t p = 0; p < 4; p++)
        CHECK_INT(simbai_summarize(a, p, &s[p], NULL), PB_OK);
    fprintf(stderr, "samples: tts %.0f lucb %.0f se %.0f uniform %.0f\n", s[0].samples.mean,
            s[1].samples.mean, s[2].samples.mean, s[3].samples.mean);
    CHECK(s[0].samples.mean < 0.8 * s[3].samples.mean);
    CHECK(s[1].samples.mean < 0.8 * s[3].samples.mean);
    CHECK(isfinite(a->t_star) && a->lower_bound == a->t_star * log(1 / opt.delta));
    for (size_t p = 0; p < 4; p++)
        CHECK(memcmp(a->rules[p].samples, b->rules[p].samples, 30 * sizeof(double)) == 0);
    simbai_result_free(a);
    simbai_result_free(b);
}

static void test_report_and_bad_options(void)
{
    char err[PB_ERR_LEN];
    sim_arm *arms;
    size_t n;
    simbai_result *r = NULL;
    simbai_options opt = {.delta = 0.1, .reps = 5, .seed = 1, .budget = 100000};
    CHECK_INT(sim_arms_parse("bernoulli:0.9,0.2", &arms, &n, err), PB_OK);
    CHECK_INT(simbai_run(arms, n, all_rules, 4, &opt, NULL, NULL, &r, err), PB_OK);
    json_t *doc = simbai_report_json(arms, n, &opt, r);
    CHECK(doc != NULL);
    json_t *p0 = json_array_get(json_object_get(doc, "policies"), 0);
    CHECK_STR(json_string_value(json_object_get(p0, "policy")), "tts");
    CHECK(json_is_number(json_object_get(json_object_get(p0, "samples"), "median")));
    CHECK(json_is_number(json_object_get(p0, "error_rate")));
    CHECK(json_is_number(json_object_get(p0, "ratio_to_bound")));
    CHECK(json_is_number(json_object_get(doc, "lower_bound")));
    json_decref(doc);
    simbai_result_free(r);
    r = NULL;
    opt.delta = 0;
    CHECK_INT(simbai_run(arms, n, all_rules, 4, &opt, NULL, NULL, &r, err), PB_ERR_INVALID);
    opt.delta = 0.1;
    CHECK_INT(simbai_run(arms, 1, all_rules, 4, &opt, NULL, NULL, &r, err), PB_ERR_INVALID);
    opt.budget = 1;
    CHECK_INT(simbai_run(arms, n, all_rules, 4, &opt, NULL, NULL, &r, err), PB_ERR_INVALID);
    CHECK(r == NULL);
    free(arms);
}

int main(void)
{
    RUN(test_error_rate_stays_within_delta);
    RUN(test_adaptive_rules_beat_uniform_and_runs_repeat);
    RUN(test_report_and_bad_options);
    CHECK_DONE();
}
