/* test_offline_report.c — run reports from recorded steps: the arm table (pulls, mean, CI,
 * P(best)), failed and pending steps never counted as rewards, separation of a clear leader, the
 * "not yet separated" estimate, and the markdown, JSON and SVG renderings. */
#include "check.h"
#include "offline/report.h"

#include <jansson.h>

static const char *const names[] = {"A", "B", "C"};

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
                                      .cost = 0.001};
    }
    s[k++] = (struct report_step){
        .iteration = (long)n, .arm = 0, .state = REPORT_STEP_FAILED, .score = 1, .calls = 1};
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
    char err[PB_ERR_LEN];
    CHECK_INT(report_build(&in, &r, err), PB_OK);
    CHECK_INT(report_arm_count(r), 3);
    CHECK_INT(report_arm_at(r, 0)->pulls, 50); /* the failed step of arm A is not a pull */
    CHECK_INT(report_arm_at(r, 1)->pulls, 50); /* nor the pending one of B */
    CHECK_NEAR(report_arm_at(r, 2)->mean, 0.75, 1e-12);
    CHECK_NEAR(report_arm_at(r, 0)->mean, -0.25, 1e-12);
    CHECK(report_arm_at(r, 2)->ci_low > report_arm_at(r, 0)->ci_high);
    CHECK(report_arm_at(r, 2)->p_best > 0.99);
    size_t lead, runner;
    int sep;
    double more;
    CHECK(report_separation(r, &lead, &runner, &sep, &more));
    CHECK_INT(lead, 2);
    CHECK(sep);
    CHECK_NEAR(more, 0, 0);
    char *md = NULL, *js = NULL, *svg = NULL, *svg2 = NULL;
    CHECK_INT(report_markdown(r, &md, err), PB_OK);
    CHECK(md && strstr(md, "| C | 50 | 0.750 |"));
    CHECK(md && strstr(md, "**Separated:** leader C"));
    CHECK(md && strstr(md, "150 scored, 1 failed"));
    CHECK_INT(report_json(r, &js, err), PB_OK);
    json_t *o = json_loads(js ? js : "", 0, NULL);
    CHECK_INT(json_integer_value(json_object_get(o, "ok")), 150);
    CHECK_INT(json_integer_value(json_object_get(o, "failed")), 1);
    CHECK(json_is_true(json_object_get(json_object_get(o, "separation"), "separated")));
    CHECK_INT(json_integer_value(json_object_get(o, "calls")), 301);
    json_decref(o);
    CHECK_INT(report_svg_means(r, &svg, err), PB_OK);
    CHECK(svg && strstr(svg, "<svg") && strstr(svg, ">C<"));
    CHECK_INT(report_svg_rewards(r, &svg2, err), PB_OK);
    CHECK(svg2 && strstr(svg2, "<svg"));
    free(md);
    free(js);
    free(svg);
    free(svg2);
    report_free(r);
}

static void test_close_arms_are_not_separated_and_get_an_estimate(void)
{
    struct report_step s[40];
    /* C slightly ahead (mean 0.25 against 0.125, each spread by 0.5) after 10 rewards each. */
    size_t n = make_steps(s, 30, 2, 0.5, -0.125);
    struct report_input in = input(s, n);
    struct report *r = NULL;
    char err[PB_ERR_LEN], *md = NULL;
    CHECK_INT(report_build(&in, &r, err), PB_OK);
    size_t lead, runner;
    int sep = 1;
    double more = 0;
    CHECK(report_separation(r, &lead, &runner, &sep, &more));
    CHECK_INT(lead, 2);
    CHECK(!sep);
    CHECK(more > 0 && isfinite(more));
    CHECK_INT(report_markdown(r, &md, err), PB_OK);
    CHECK(md && strstr(md, "Not separated yet"));
    free(md);
    report_free(r);
}

static void test_too_little_data_and_bad_input(void)
{
    struct report_step s[1] = {{.iteration = 0, .arm = 0, .state = REPORT_STEP_OK, .score = 1}};
    struct report_input in = input(s, 1);
    struct report *r = NULL;
    char err[PB_ERR_LEN], *md = NULL;
    size_t lead, runner;
    int sep;
    double more;
    CHECK_INT(report_build(&in, &r, err), PB_OK);
    CHECK(!report_separation(r, &lead, &runner, &sep, &more));
    CHECK_INT(report_markdown(r, &md, err), PB_OK);
    CHECK(md && strstr(md, "not enough data"));
    free(md);
    report_free(r);
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
    RUN(test_too_little_data_and_bad_input);
    CHECK_DONE();
}
