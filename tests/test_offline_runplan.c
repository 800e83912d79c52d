/* test_offline_runplan.c — a bandit-run before it exists: the dry-run estimate follows its
 * documented formula (prompt bytes / 3, completions at max_tokens, judge calls only for the LLM
 * judge), names the arms, and costs nothing for a local judge; bad options, an empty prompts folder
 * and a missing scenarios file are refused with nothing left allocated; --stop identified[:C]
 * parses to a confidence in (0, 1), and an identification rule as policy needs it. */
#include "check.h"
#include "offline/runplan.h"

#include <math.h>
#include <sys/stat.h>

static char dir[512], prompts[600], empty[600], scen_path[600];

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void setup_files(void)
{
    char p[700];
    snprintf(dir, sizeof dir, "%s", check_tmpdir());
    snprintf(prompts, sizeof prompts, "%s/prompts", dir);
    snprintf(empty, sizeof empty, "%s/empty", dir);
    snprintf(scen_path, sizeof scen_path, "%s/scenarios.txt", dir);
    mkdir(prompts, 0755);
    mkdir(empty, 0755);
    snprintf(p, sizeof p, "%s/A.txt", prompts);
    write_text(p, "012345678901234567890123456789"); /* 30 bytes */
    snprintf(p, sizeof p, "%s/B.txt", prompts);
    write_text(p, "012345678901234567890123456789012345678901234567890123456789"); /* 60 */
    /* messages of 13 + 4 + 6 ("sentence ;; emotion") and 9 bytes (the sentence alone) */
    write_text(scen_path, "# comment\n오늘 합격\t기쁨\n\n123456789\n");
}

static struct offline_options options(const char *judge_kind)
{
    return (struct offline_options){.policy = "ucb1",
                                    .iterations = 10,
                                    .batch = 2,
                                    .seed = 1,
                                    .scenarios_path = scen_path,
                                    .prompts_dir = prompts,
                                    .judge = judge_kind,
                                    .price_prompt_per_1k = 1.0,
                                    .price_completion_per_1k = 2.0};
}

/* Mean bytes of the user messages of the run's 10 iterations, "sentence ;; emotion" or the
 * sentence alone (the two lines give 13 + 4 + 6 and 9 bytes). */
static double mean_message_bytes(const struct offline_options *o)
{
    struct task t;
    char err[PB_ERR_LEN];
    double total = 0;
    CHECK_INT(task_builtin_chat(o->scenarios_path, &t, err), PB_OK);
    for (long i = 0; i < o->iterations; i++) {
        struct task_message m;
        CHECK_INT(task_message_of(&t, o->seed, i, &m, err), PB_OK);
        CHECK(strlen(m.user) == 23 || strlen(m.user) == 9);
        total += (double)strlen(m.user);
        task_message_clear(&m);
    }
    task_free(&t);
    return total / (double)o->iterations;
}

static void test_estimate_follows_the_documented_formula(void)
{
    struct offline_options o = options("llm");
    struct runplan_cost c;
    char err[PB_ERR_LEN];
    CHECK_INT(runplan_estimate(&o, 1, 300, 100, &c, err), PB_OK);
    double arm_avg = (30 + 60) / 2.0, scen_avg = mean_message_bytes(&o);
    double per_step = (arm_avg + scen_avg) / 3.0 + 300 / 3.0 + scen_avg / 3.0 + 100;
    long prompt = (long)ceil(10 * per_step),
         completion = 10 * (100 + JUDGE_ANSWER_TOKENS_TYPICAL); /* an answer with a reason */
    CHECK_INT(c.n_arms, 2);
    CHECK_STR(c.arm_names, "A, B");
    CHECK(strstr(c.source, "2 scenario lines from ") != NULL);
    CHECK_STR(c.task, "chat");
    CHECK_INT(c.generation_calls, 10);
    CHECK_INT(c.judge_calls, 10);
    CHECK_INT(c.prompt_tokens, prompt);
    CHECK_INT(c.completion_tokens, completion);
    CHECK_NEAR(c.usd, prompt / 1000.0 * 1.0 + completion / 1000.0 * 2.0, 1e-9);
}

static void test_local_judge_adds_no_calls_or_tokens(void)
{
    struct offline_options o = options("local");
    struct runplan_cost c;
    char err[PB_ERR_LEN];
    CHECK_INT(runplan_estimate(&o, 0, 0, 100, &c, err), PB_OK);
    CHECK_INT(c.judge_calls, 0);
    CHECK_INT(c.prompt_tokens, (long)ceil(10 * ((30 + 60) / 2.0 + mean_message_bytes(&o)) / 3.0));
    CHECK_INT(c.completion_tokens, 1000);
}

static void test_prepare_returns_what_the_run_would_use(void)
{
    struct offline_options o = options("constant");
    struct task s;
    struct arm *arms = NULL;
    size_t n = 0;
    char err[PB_ERR_LEN];
    CHECK_INT(runplan_prepare(&o, &s, &arms, &n, err), PB_OK);
    CHECK_INT(s.lines.n, 2);
    CHECK_STR(s.lines.sentence[0], "오늘 합격");
    CHECK_STR(s.lines.emotion[0], "기쁨");
    CHECK_INT(n, 2);
    CHECK_STR(arms[1].name, "B");
    arms_list_free(arms, n);
    task_free(&s);
}

/* Refusals leave nothing to free (the ASan build checks that). */
static void test_bad_plans_are_refused_with_a_reason(void)
{
    static const struct {
        const char *field, *value, *message;
    } bad[] = {
        {"policy", "no-such-policy", ""},
        {"judge", "oracle", "judge must be llm, local or constant"},
        {"prompts", empty, "holds no arm files"},
        {"scenarios", "/nonexistent/scenarios.txt", "/nonexistent/scenarios.txt"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct offline_options o = options("llm");
        struct task s;
        struct arm *arms = (struct arm *)&o; /* must be reset to NULL */
        size_t n = 7;
        char err[PB_ERR_LEN] = "";
        if (!strcmp(bad[i].field, "policy"))
            o.policy = bad[i].value;
        else if (!strcmp(bad[i].field, "judge"))
            o.judge = bad[i].value;
        else if (!strcmp(bad[i].field, "prompts"))
            o.prompts_dir = bad[i].value;
        else
            o.scenarios_path = bad[i].value;
        CHECK(runplan_prepare(&o, &s, &arms, &n, err) != PB_OK);
        CHECK(arms == NULL && n == 0 && s.lines.n == 0 && s.name == NULL);
        CHECK(strstr(err, bad[i].message) != NULL);
        CHECK(err[0] != '\0');
    }
    struct offline_options o = options("llm");
    o.iterations = 0;
    struct runplan_cost c;
    char err[PB_ERR_LEN];
    CHECK_INT(runplan_estimate(&o, 1, 0, 100, &c, err), PB_ERR_INVALID);
    CHECK(strstr(err, "iterations") != NULL);
}

static void test_stop_spec_and_identification_policies(void)
{
    char err[PB_ERR_LEN];
    double c = 0;
    CHECK_INT(runplan_stop_parse("identified", &c, err), PB_OK);
    CHECK_NEAR(c, 0.95, 1e-12);
    CHECK_INT(runplan_stop_parse("identified:0.99", &c, err), PB_OK);
    CHECK_NEAR(c, 0.99, 1e-12);
    static const char *const bad[] = {
        "identified:1", "identified:0", "identified:", "best", "identified:0.9x", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT(runplan_stop_parse(bad[i], &c, err), PB_ERR_INVALID);
        CHECK(strstr(err, "identified:0.95") != NULL);
    }
    int rule = -1;
    CHECK(runplan_policy_is_bai("lucb", &rule) && rule == 1);
    CHECK(!runplan_policy_is_bai("ucb1", NULL) && !runplan_policy_is_bai(NULL, NULL));
    struct offline_options o = options("llm");
    struct task t;
    struct arm *arms = NULL;
    size_t n = 0;
    o.policy = "tts";
    CHECK_INT(runplan_prepare(&o, &t, &arms, &n, err), PB_ERR_INVALID);
    CHECK(strstr(err, "needs --stop identified") != NULL);
    o.stop_confidence = 0.9;
    CHECK_INT(runplan_prepare(&o, &t, &arms, &n, err), PB_OK);
    arms_list_free(arms, n);
    task_free(&t);
    o.stop_confidence = 1.0;
    CHECK_INT(runplan_prepare(&o, &t, &arms, &n, err), PB_ERR_INVALID);
}

int main(void)
{
    setup_files();
    RUN(test_estimate_follows_the_documented_formula);
    RUN(test_local_judge_adds_no_calls_or_tokens);
    RUN(test_prepare_returns_what_the_run_would_use);
    RUN(test_bad_plans_are_refused_with_a_reason);
    RUN(test_stop_spec_and_identification_policies);
    CHECK_DONE();
}
