/* test_offline_report.c — run reports from recorded steps: the arm table (pulls, mean, interval,
 * P(best), failures, calls, tokens, cost), failed and pending steps never counted as rewards, the
 * GLR verdict (a clear leader separated, close arms not yet with an estimate, nothing claimed
 * against an arm with fewer than GLR_MIN_REWARDS rewards), intervals that respect the reward
 * range at small n, best / median / worst examples, the per-emotion breakdown, and the
 * markdown, JSON and SVG renderings. */
#include "check.h"
#include "offline/report.h"
#include "offline/reportview.h"

#include <jansson.h>

static const char *const names[] = {"A", "B", "C"};
static const char *const prompts[] = {"PROMPT A", "PROMPT B\nline two", "PROMPT C"};
static const char *const emotions[] = {"기쁨", "슬픔"};

/* Steps where arm best gets rewards hi and the others lo, round robin, plus failures. */
static size_t make_steps(struct report_step *s, size_t n, size_t best, double hi, double lo)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        long arm = (long)(i % 3);
        double r = (size_t)arm == best ? hi : lo;
        if (i % 2) /* alternate so every arm has some variance */
            r = (size_t)arm == best ? hi - 0.5 : lo + 0.5;
        s[k++] = (struct report_step){.iteration = (long)i,
                                      .arm = arm,
                                      .state = REPORT_STEP_OK,
                                      .score = r,
                                      .calls = 2,
                                      .tokens = 100,
                                      .cost = 0.001,
                                      .scenario = "안녕",
                                      .segment = emotions[(i / 3) % 2],
                                      .output = i % 2 ? "odd answer" : "even answer"};
    }
    s[k++] = (struct report_step){.iteration = (long)n,
                                  .arm = 0,
                                  .state = REPORT_STEP_FAILED,
                                  .score = 1,
                                  .calls = 1,
                                  .error = "timeout: generation: no answer within 30 s"};
    s[k++] = (struct report_step){
        .iteration = (long)n + 1, .arm = 1, .state = REPORT_STEP_PENDING, .score = 1};
    return k;
}

static struct report_input input(const struct report_step *s, size_t n)
{
    return (struct report_input){.run_id = 7,
                                 .name = "test <run>",
                                 .policy = "ucb1",
                                 .status = "finished",
                                 .stop_reason = "completed",
                                 .seed = 3,
                                 .iterations = 200,
                                 .arm_names = names,
                                 .arm_prompts = prompts,
                                 .n_arms = 3,
                                 .steps = s,
                                 .n_steps = n};
}

static void test_clear_leader_is_separated_and_failures_are_not_rewards(void)
{
    struct report_step s[200];
    size_t n = make_steps(s, 150, 2, 1, -0.5);
    struct report_input in = input(s, n);
    struct report *r = NULL;
    struct report_verdict v;
    char err[PB_ERR_LEN];
    CHECK_INT(report_build(&in, &r, err), PB_OK);
    CHECK_INT(report_arm_count(r), 3);
    CHECK_INT(report_arm_at(r, 0)->pulls, 50); /* the failed step of arm A is not a pull */
    CHECK_INT(report_arm_at(r, 1)->pulls, 50); /* nor the pending one of B */
    CHECK_INT(report_arm_at(r, 0)->failed, 1);
    CHECK_INT(report_arm_at(r, 0)->calls, 101); /* spend counts failed steps too */
    CHECK_INT(report_arm_at(r, 2)->tokens, 5000);
    CHECK_NEAR(report_arm_at(r, 2)->cost, 0.05, 1e-12);
    CHECK_NEAR(report_arm_at(r, 2)->mean, 0.75, 1e-12);
    CHECK_NEAR(report_arm_at(r, 0)->mean, -0.25, 1e-12);
    CHECK(report_arm_at(r, 2)->ci_low > report_arm_at(r, 0)->ci_high);
    CHECK(report_arm_at(r, 2)->p_best > 0.99);
    CHECK_STR(report_arm_at(r, 1)->prompt, "PROMPT B\nline two");
    CHECK(report_get_verdict(r, &v));
    CHECK_INT(v.leader, 2);
    CHECK(v.enough_data && v.separated);
    CHECK(v.statistic > v.threshold);
    CHECK_NEAR(v.more_rewards, 0, 0);
    const char *first;
    CHECK_INT(report_failures(r, OFFLINE_FAIL_TIMEOUT, &first), 1);
    CHECK_STR(first, "timeout: generation: no answer within 30 s");
    char *md = NULL, *js = NULL, *svg = NULL, *svg2 = NULL, *svg3 = NULL;
    CHECK_INT(report_markdown(r, &md, err), PB_OK);
    CHECK(md && strstr(md, "| C (leader) | 50 | 0.750 |"));
    CHECK(md && strstr(md, "**Separated: C is the best arm** at 95 % confidence"));
    CHECK(md && strstr(md, "150 scored, 1 failed"));
    CHECK(md && strstr(md, "| timeout | 1 | timeout: generation: no answer within 30 s |"));
    CHECK(md && strstr(md, "### B\n\n  > PROMPT B\n  > line two\n")); /* prompt texts */
    CHECK(md && strstr(md, "| emotion | A | B | C |"));
    CHECK(md &&
          strstr(md, "- **best**: reward +1.00 (iteration 2, emotion 기쁨), answering: 안녕"));
    CHECK_INT(report_json(r, &js, err), PB_OK);
    json_t *o = json_loads(js ? js : "", 0, NULL);
    CHECK_INT(json_integer_value(json_object_get(o, "ok")), 150);
    CHECK_INT(json_integer_value(json_object_get(o, "failed")), 1);
    json_t *verdict = json_object_get(o, "verdict");
    CHECK(json_is_true(json_object_get(verdict, "separated")));
    CHECK_STR(json_string_value(json_object_get(verdict, "leader")), "C");
    CHECK_INT(json_integer_value(json_object_get(verdict, "min_rewards")), GLR_MIN_REWARDS);
    CHECK_INT(json_integer_value(json_object_get(o, "calls")), 301);
    json_t *c = json_array_get(json_object_get(o, "arms"), 2);
    CHECK_STR(json_string_value(json_object_get(c, "prompt")), "PROMPT C");
    CHECK_NEAR(json_real_value(json_object_get(
                   json_object_get(json_object_get(c, "examples"), "worst"), "reward")),
               0.5, 1e-12);
    CHECK_INT(json_array_size(json_object_get(o, "segments")), 2);
    CHECK_STR(json_string_value(
                  json_object_get(json_array_get(json_object_get(o, "failures"), 0), "kind")),
              "timeout");
    json_decref(o);
    CHECK_INT(report_svg_means(r, &svg, err), PB_OK);
    CHECK(svg && strstr(svg, "<svg") && strstr(svg, ">C<"));
    CHECK_INT(report_svg_rewards(r, &svg2, err), PB_OK);
    CHECK(svg2 && strstr(svg2, "<svg"));
    CHECK_INT(report_svg_verdict(r, &svg3, err), PB_OK);
    CHECK(svg3 && strstr(svg3, "<rect") && strstr(svg3, ">C<"));
    free(md);
    free(js);
    free(svg);
    free(svg2);
    free(svg3);
    report_free(r);
}

static void test_close_arms_are_not_separated_and_get_an_estimate(void)
{
    struct report_step s[100];
    /* C slightly ahead (mean 0.25 against 0.125, each spread by 0.5) after 30 rewards each. */
    size_t n = make_steps(s, 90, 2, 0.5, -0.125);
    struct report_input in = input(s, n);
    struct report *r = NULL;
    struct report_verdict v = {0};
    char err[PB_ERR_LEN], *md = NULL;
    CHECK_INT(report_build(&in, &r, err), PB_OK);
    CHECK(report_get_verdict(r, &v));
    CHECK_INT(v.leader, 2);
    CHECK(v.enough_data && !v.separated);
    CHECK(v.more_rewards > 0 && isfinite(v.more_rewards));
    CHECK(v.more_iterations >= v.more_rewards); /* the two get 2/3 of the iterations */
    CHECK_INT(report_markdown(r, &md, err), PB_OK);
    CHECK(md && strstr(md, "**Not separated yet:** C leads"));
    CHECK(md && strstr(md, "more rewards for the two"));
    free(md);
    report_free(r);
}

/* The case: an arm with 2 rewards of -0.5 had the interval [-0.5, -0.5], and a leader
 * was called separated against an arm with 4 pulls. */
static void test_small_samples_get_wide_intervals_and_no_verdict(void)
{
    struct report_step s[64];
    size_t k = 0;
    for (int i = 0; i < 40; i++)
        s[k++] =
            (struct report_step){.iteration = k, .arm = 2, .state = REPORT_STEP_OK, .score = 1};
    for (int i = 0; i < 4; i++)
        s[k++] =
            (struct report_step){.iteration = k, .arm = 1, .state = REPORT_STEP_OK, .score = -1};
    for (int i = 0; i < 2; i++)
        s[k++] =
            (struct report_step){.iteration = k, .arm = 0, .state = REPORT_STEP_OK, .score = -0.5};
    struct report_input in = input(s, k);
    struct report *r = NULL;
    struct report_verdict v;
    char err[PB_ERR_LEN], *md = NULL;
    CHECK_INT(report_build(&in, &r, err), PB_OK);
    const struct report_arm *a = report_arm_at(r, 0);
    CHECK_NEAR(a->mean, -0.5, 1e-12);
    CHECK(a->ci_low >= -1 && a->ci_low < -0.9); /* wide, within the reward range */
    CHECK(a->ci_high > 0.3 && a->ci_high <= 1);
    CHECK(report_arm_at(r, 2)->ci_high <= 1); /* all rewards 1: the interval stays in range */
    CHECK(report_get_verdict(r, &v));
    CHECK_INT(v.leader, 2);
    CHECK(!v.enough_data && !v.separated); /* A and B have fewer than 10 rewards */
    CHECK(v.more_rewards >= 1);
    CHECK_INT(report_markdown(r, &md, err), PB_OK);
    CHECK(md && strstr(md, "**Not enough rewards yet:**"));
    CHECK(md && !strstr(md, "Separated:"));
    free(md);
    report_free(r);
}

static void test_examples_are_best_median_and_worst_by_reward(void)
{
    static const double scores[] = {0, 1, -1, 0.5, 1, -0.5, -1};
    static const char *const outs[] = {"z",           "first best", "first worst", "half",
                                       "second best", "minus half", "second worst"};
    struct report_step s[7];
    for (int i = 0; i < 7; i++)
        s[i] = (struct report_step){.iteration = i,
                                    .arm = 1,
                                    .state = REPORT_STEP_OK,
                                    .score = scores[i],
                                    .output = outs[i],
                                    .segment = i < 3 ? "기쁨" : NULL};
    struct report_input in = input(s, 7);
    struct report *r = NULL;
    char err[PB_ERR_LEN];
    CHECK_INT(report_build(&in, &r, err), PB_OK);
    const struct report_arm *b = report_arm_at(r, 1);
    CHECK_STR(b->best.output, "first best");
    CHECK_STR(b->worst.output, "first worst");
    CHECK_STR(b->median.output, "z"); /* sorted: -1 -1 -0.5 0 0.5 1 1 */
    CHECK_INT(report_arm_at(r, 0)->best.iteration, -1);
    CHECK_INT(report_segment_count(r), 2);
    CHECK_STR(report_segment_name(r, 0), "기쁨");
    CHECK_STR(report_segment_name(r, 1), "");
    uint64_t n;
    double mean;
    report_segment_cell(r, 0, 1, &n, &mean);
    CHECK_INT(n, 3);
    CHECK_NEAR(mean, 0, 1e-12);
    report_segment_cell(r, 1, 1, &n, &mean);
    CHECK_INT(n, 4);
    CHECK_NEAR(mean, 0, 1e-12);
    report_segment_cell(r, 1, 0, &n, &mean);
    CHECK_INT(n, 0);
    CHECK(isnan(mean));
    report_free(r);
}

static void test_too_little_data_and_bad_input(void)
{
    struct report_step s[1] = {{.iteration = 0, .arm = 0, .state = REPORT_STEP_OK, .score = 1}};
    struct report_input in = input(s, 1);
    struct report *r = NULL;
    struct report_verdict v;
    char err[PB_ERR_LEN], *md = NULL;
    CHECK_INT(report_build(&in, &r, err), PB_OK);
    CHECK(report_get_verdict(r, &v));
    CHECK(!v.separated && !v.enough_data);
    CHECK(isinf(v.more_rewards)); /* the runner-up has no reward: nothing to extrapolate */
    CHECK_INT(report_markdown(r, &md, err), PB_OK);
    CHECK(md && strstr(md, "Not enough rewards yet"));
    free(md);
    report_free(r);
    in.n_arms = 1;
    CHECK_INT(report_build(&in, &r, err), PB_OK);
    CHECK(!report_get_verdict(r, &v));
    report_free(r);
    in.n_arms = 3;
    s[0].arm = 5;
    CHECK_INT(report_build(&in, &r, err), PB_ERR_INVALID);
    s[0].arm = 0;
    in.policy = "nope";
    CHECK_INT(report_build(&in, &r, err), PB_ERR_INVALID);
}

int main(void)
{
    RUN(test_clear_leader_is_separated_and_failures_are_not_rewards);
    RUN(test_close_arms_are_not_separated_and_get_an_estimate);
    RUN(test_small_samples_get_wide_intervals_and_no_verdict);
    RUN(test_examples_are_best_median_and_worst_by_reward);
    RUN(test_too_little_data_and_bad_input);
    CHECK_DONE();
}
