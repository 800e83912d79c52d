/* test_offline_run.c — the bandit-run loop against the fake LLM ($PB_FAKE_LLM): a known best prompt
 * is found and leads the verdict; concurrency never changes decisions; an interrupted run resumed
 * equals an uninterrupted one and repeats no call (counted at the fake); a stored answer is
 * judged on resume, not generated again; provider failures are recorded as failures and never
 * as rewards; budgets stop the run; scenarios and budget specs parse as documented. */
#include "check.h"
#include "testdb.h"
#include "fakellm.h"
#include "judge/judge.h"
#include "llm/llm.h"
#include "offline/offline.h"
#include "judge/ratings.h"
#include "offline/report.h"
#include "offline/runplan.h"
#include "offline/runrecord.h"
#include "store/runs.h"
#include "store/store.h"

#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *tmp;
static char prompts_dir[512], scenarios[512], rubric_path[1024], examples_path[1024];

/* Starts the fake with tmp/rules.json plus extra arguments (NULL-terminated, may be NULL). */
static void fake_start(struct fakellm *f, const char *const *extra)
{
    char rules[600];
    snprintf(rules, sizeof rules, "%s/rules.json", tmp);
    const char *argv[FAKELLM_MAX_ARGS] = {"--rules", rules};
    size_t n = 2;
    for (; extra && *extra && n < FAKELLM_MAX_ARGS - 4; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    fakellm_start(f, argv);
}

/* chat_requests counted by the fake so far. */
static long fake_chat_requests(const struct fakellm *f)
{
    long n = fakellm_stat(f, "chat_requests", NULL);
    CHECK(n >= 0);
    return n;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void setup_files(void)
{
    char p[600];
    tmp = check_tmpdir();
    snprintf(prompts_dir, sizeof prompts_dir, "%s/prompts", tmp);
    mkdir(prompts_dir, 0777);
    const char *arms[][2] = {{"A", "PROMPT-A 친구처럼 답해."},
                             {"B", "PROMPT-B 반말로 답해."},
                             {"C", "PROMPT-C 공감하며 답해."},
                             {"D", "PROMPT-D 짧게 답해."}};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s.txt", prompts_dir, arms[i][0]);
        write_text(p, arms[i][1]);
    }
    snprintf(scenarios, sizeof scenarios, "%s/scenarios.txt", tmp);
    write_text(scenarios, "# test scenarios\n오늘 합격했어!\t기쁨\n강아지가 아파.\t슬픔\n"
                          "내일 면접이야.\t불안\n\n그냥 심심해.\n");
    snprintf(p, sizeof p, "%s/rules.json", tmp);
    /* The judge's system prompt is the rubric ("Rubric"); answers of prompt C say GOOD and
     * get a 1 with a reason quoting them, the others a bare -0.5. */
    write_text(p, "[{\"system_contains\": \"Rubric\", \"user_contains\": \"GOOD\", \"reply\": "
                  "\"{\\\"score\\\": 1, \\\"reason\\\": \\\"warm: {judged}\\\"}\"},\n "
                  "{\"system_contains\": \"Rubric\", \"reply\": \"-0.5\"},\n"
                  " {\"system_contains\": \"PROMPT-C\", \"reply\": \"GOOD {sentence}\"},\n"
                  " {\"any_contains\": \"PROMPT-\", \"reply\": \"meh {sentence} #{n}\"}]\n");
    snprintf(rubric_path, sizeof rubric_path, "%s", check_source_path("prompts/judge_chat.txt"));
    snprintf(examples_path, sizeof examples_path, "%s",
             check_source_path("ratings/examples_chat.jsonl"));
}

/* A client, judge and database for one run against a fake. */
struct harness {
    store *db;
    llm_client *llm;
    judge *judge;
    char *rubric;
    struct ratings_set examples;
    struct offline_env env;
};

static void harness_open(struct harness *h, const struct fakellm *f, int concurrency, int retries)
{
    char err[PB_ERR_LEN], path[600];
    char name[32];
    static int counter;
    memset(h, 0, sizeof *h);
    snprintf(name, sizeof name, "db%d.sqlite", counter++);
    testdb_make(path, sizeof path, tmp, name);
    struct llm_options o = {.base_url = f->v1,
                            .model = "m",
                            .temperature = 0.8,
                            .max_tokens = 100,
                            .timeout_s = 5,
                            .max_retries = retries,
                            .concurrency = concurrency,
                            .backoff_initial_s = 0.001,
                            .backoff_max_s = 0.002,
                            .retry_after_max_s = 1};
    CHECK_INT(store_open(path,
                         &(struct store_options){.busy_timeout_ms = 5000, .synchronous = "NORMAL"},
                         &h->db, err),
              PB_OK);
    CHECK_INT(llm_client_new(&o, &h->llm, err), PB_OK);
    CHECK_INT(pb_read_file(rubric_path, 1 << 20, &h->rubric, NULL, err), PB_OK);
    CHECK_INT(ratings_load(examples_path, 0, &h->examples, err), PB_OK);
    struct judge_options jo = {
        .kind = JUDGE_LLM, .llm = h->llm, .rubric = h->rubric, .examples = &h->examples};
    CHECK_INT(judge_new(&jo, &h->judge, err), PB_OK);
    h->env =
        (struct offline_env){.db = h->db, .llm = h->llm, .judge = h->judge, .judge_llm = h->llm};
}

static void harness_close(struct harness *h)
{
    judge_free(h->judge);
    llm_client_free(h->llm);
    free(h->rubric);
    ratings_free(&h->examples);
    store_close(h->db);
}

static struct offline_options base_options(long iterations, int batch)
{
    return (struct offline_options){.name = "t",
                                    .policy = "ucb1",
                                    .iterations = iterations,
                                    .batch = batch,
                                    .seed = 42,
                                    .scenarios_path = scenarios,
                                    .prompts_dir = prompts_dir,
                                    .judge = "llm",
                                    .judge_rubric = rubric_path,
                                    .judge_examples = examples_path,
                                    .price_prompt_per_1k = 0.001,
                                    .price_completion_per_1k = 0.002};
}

/* Steps of a run as "arm:status:score" entries, for comparing runs. */
struct trace {
    char text[16384];
    long ok, failed, pending, scored_without_ok, failed_with_score, failed_without_error;
    long reasons, reason_without_score;
};

static int trace_step(void *ctx, const struct run_step *s)
{
    struct trace *t = ctx;
    size_t used = strlen(t->text);
    snprintf(t->text + used, sizeof t->text - used, "%lld:%lld:%s:%g:%s ", (long long)s->iteration,
             (long long)s->arm_id, s->status, s->has_score ? s->score : 9.0,
             s->reason ? s->reason : "");
    t->reasons += s->reason && *s->reason;
    t->reason_without_score += s->reason && !s->has_score;
    t->ok += !strcmp(s->status, "ok");
    t->failed += !strcmp(s->status, "failed");
    t->pending += !strcmp(s->status, "pending");
    t->scored_without_ok += s->has_score && strcmp(s->status, "ok") != 0;
    t->failed_with_score += !strcmp(s->status, "failed") && s->has_score;
    t->failed_without_error += !strcmp(s->status, "failed") && (!s->error || !*s->error);
    return 0;
}

static void trace_run(store *db, int64_t run, struct trace *t)
{
    char err[PB_ERR_LEN];
    memset(t, 0, sizeof *t);
    CHECK_INT(runs_step_foreach(db, run, trace_step, t, err), 0);
}

static int64_t start_run(struct harness *h, const struct offline_options *o,
                         struct offline_result *res)
{
    char err[PB_ERR_LEN];
    int64_t run = 0;
    CHECK_INT(runrecord_create(h->db, o, &run, err), PB_OK);
    int rc = offline_continue(&h->env, run, NULL, res, err);
    if (rc != PB_OK)
        fprintf(stderr, "offline_continue: %s\n", err);
    CHECK_INT(rc, PB_OK);
    return run;
}

static struct fakellm fake;

static void test_known_best_prompt_leads_and_is_separated(void)
{
    struct harness h;
    struct offline_result res;
    struct report *r = NULL;
    char err[PB_ERR_LEN], name[ARM_NAME_MAX + 1], *prompt = NULL;
    harness_open(&h, &fake, 4, 0);
    struct offline_options o = base_options(64, 4);
    int64_t run = start_run(&h, &o, &res);
    CHECK_STR(res.stop_reason, "completed");
    CHECK_INT(res.ok, 64);
    CHECK_INT(res.failed, 0);
    CHECK_INT(report_load(h.db, run, &r, err), PB_OK);
    size_t best = 0;
    for (size_t a = 1; r && a < report_arm_count(r); a++)
        if (report_arm_at(r, a)->pulls > report_arm_at(r, best)->pulls)
            best = a;
    CHECK_STR(r ? report_arm_at(r, best)->name : "", "C");
    CHECK_NEAR(r ? report_arm_at(r, best)->mean : 0, 1.0, 1e-12);
    CHECK(r && report_arm_at(r, best)->p_best > 0.99);
    struct report_verdict v = {.leader = 9};
    CHECK(r && report_get_verdict(r, &v));
    CHECK_INT(v.leader, best);
    CHECK(!v.separated || v.enough_data); /* never claimed below GLR_MIN_REWARDS */
    CHECK(v.separated || v.more_rewards > 0);
    /* the judge's reasons reach the steps and the report's examples: C's answers carry one
     * quoting the answer, the bare -0.5 answers of the others none */
    struct trace t;
    trace_run(h.db, run, &t);
    CHECK_INT(t.reasons, r ? (long)report_arm_at(r, best)->pulls : -1);
    CHECK_INT(t.reason_without_score, 0);
    const struct report_arm *c = r ? report_arm_at(r, best) : NULL;
    CHECK(c && !strncmp(c->best.reason, "warm: GOOD ", 11) &&
          !strncmp(c->best.output, c->best.reason + 6, strlen(c->best.reason + 6)));
    for (size_t a = 0; r && a < report_arm_count(r); a++)
        if (a != best && report_arm_at(r, a)->pulls > 0)
            CHECK_STR(report_arm_at(r, a)->worst.reason, "");
    int64_t arm_id = 0;
    CHECK_INT(runs_winner(h.db, run, &arm_id, name, &prompt, err), PB_OK);
    CHECK_STR(name, "C");
    CHECK(prompt && strstr(prompt, "PROMPT-C"));
    free(prompt);
    report_free(r);
    harness_close(&h);
}

static void test_concurrency_does_not_change_decisions(void)
{
    struct harness one, four;
    struct offline_result r1, r4;
    struct trace t1, t4;
    harness_open(&one, &fake, 1, 0);
    harness_open(&four, &fake, 4, 0);
    struct offline_options o = base_options(40, 8);
    o.policy = "thompson";
    int64_t run1 = start_run(&one, &o, &r1), run4 = start_run(&four, &o, &r4);
    trace_run(one.db, run1, &t1);
    trace_run(four.db, run4, &t4);
    CHECK_INT(t1.ok, 40);
    CHECK_STR(t1.text, t4.text); /* same arms (same ids: fresh databases), same rewards */
    CHECK_INT(r1.calls, r4.calls);
    harness_close(&one);
    harness_close(&four);
}

static volatile sig_atomic_t stop_now;

/* Sets the stop flag once two batches are done, as SIGINT would. */
static void stop_after_two_batches(const struct offline_progress *p, void *user)
{
    (void)user;
    if (p->done >= 16)
        stop_now = 1;
}

/* start_run in a fresh harness (concurrency 4); *calls gets the chat requests the run made. */
static int64_t start_run_counted(struct harness *h, const struct offline_options *o,
                                 struct offline_result *res, long *calls)
{
    harness_open(h, &fake, 4, 0);
    long c0 = fake_chat_requests(&fake);
    int64_t run = start_run(h, o, res);
    *calls = fake_chat_requests(&fake) - c0;
    return run;
}

/* start_run stopped after its second batch, as by SIGINT (h keeps the stop hooks). */
static int64_t start_run_stopped_after_two_batches(struct harness *h,
                                                   const struct offline_options *o,
                                                   struct offline_result *res)
{
    stop_now = 0;
    h->env.stop = &stop_now;
    h->env.progress = stop_after_two_batches;
    return start_run(h, o, res);
}

static void test_interrupted_run_resumes_to_the_same_result_without_repeating_calls(void)
{
    struct harness whole, parts;
    struct offline_result res, first, second;
    struct trace tw, tp;
    char err[PB_ERR_LEN];
    struct offline_options o = base_options(48, 8);
    o.policy = "egreedy:epsilon=0.2";
    long calls_whole;
    int64_t run_whole = start_run_counted(&whole, &o, &res, &calls_whole);

    harness_open(&parts, &fake, 2, 0);
    long c0 = fake_chat_requests(&fake);
    int64_t run = start_run_stopped_after_two_batches(&parts, &o, &first);
    CHECK_STR(first.stop_reason, "signal");
    CHECK_INT(first.ok, 16);
    parts.env.progress = NULL;
    stop_now = 0;
    CHECK_INT(offline_continue(&parts.env, run, NULL, &second, err), PB_OK);
    CHECK_STR(second.stop_reason, "completed");
    long calls_parts = fake_chat_requests(&fake) - c0;
    trace_run(whole.db, run_whole, &tw);
    trace_run(parts.db, run, &tp);
    CHECK_STR(tp.text, tw.text);
    CHECK_INT(calls_parts, calls_whole);
    CHECK_INT(second.calls, res.calls); /* totals include the calls made before the stop */
    CHECK_INT(second.tokens, res.tokens);
    harness_close(&whole);
    harness_close(&parts);
}

static int copy_step(void *ctx, const struct run_step *s)
{
    struct run_step *want = ctx;
    if (s->iteration == want->iteration) {
        *want = *s;
        want->output = strdup(s->output);
        want->scenario = strdup(s->scenario);
        want->emotion = s->emotion ? strdup(s->emotion) : NULL;
    }
    return 0;
}

static void test_stored_answer_is_judged_not_generated_again(void)
{
    struct harness whole, crash;
    struct offline_result res;
    struct trace tw, tc;
    char err[PB_ERR_LEN];
    struct offline_options o = base_options(24, 8);
    long calls_whole;
    int64_t run_whole = start_run_counted(&whole, &o, &res, &calls_whole);

    /* A crash after iteration 16's answer was stored: stop after two batches, then plant the
     * pending step exactly as the loop stores it before judging. */
    harness_open(&crash, &fake, 4, 0);
    long c0 = fake_chat_requests(&fake);
    int64_t run = start_run_stopped_after_two_batches(&crash, &o, &res);
    struct run_step planted = {.iteration = 16};
    CHECK_INT(runs_step_foreach(whole.db, run_whole, copy_step, &planted, err), 0);
    planted.run_id = run;
    planted.status = "pending";
    planted.has_score = 0;
    planted.calls = 1;
    CHECK_INT(runs_step_put(crash.db, &planted, err), PB_OK);
    crash.env.progress = NULL;
    stop_now = 0;
    CHECK_INT(offline_continue(&crash.env, run, NULL, &res, err), PB_OK);
    long calls_crash = fake_chat_requests(&fake) - c0;
    CHECK_INT(calls_crash, calls_whole - 1); /* the planted answer was not asked for again */
    trace_run(whole.db, run_whole, &tw);
    trace_run(crash.db, run, &tc);
    CHECK_STR(tc.text, tw.text);
    free((char *)planted.output);
    free((char *)planted.scenario);
    free((char *)planted.emotion);
    harness_close(&whole);
    harness_close(&crash);
}

static void test_provider_failures_are_recorded_and_never_rewards(void)
{
    struct fakellm flaky;
    struct harness h;
    struct offline_result res;
    struct trace t;
    struct report *r = NULL;
    char err[PB_ERR_LEN];
    const char *extra[] = {"--fail-rate", "0.3", "--seed", "5", NULL};
    fake_start(&flaky, extra);
    harness_open(&h, &flaky, 4, 0); /* no client retries: every 500 reaches the loop */
    struct offline_options o = base_options(60, 6);
    o.step_attempts = 2;
    int64_t run = start_run(&h, &o, &res);
    trace_run(h.db, run, &t);
    CHECK_STR(res.stop_reason, "completed");
    CHECK(t.failed > 0);
    CHECK(t.ok > 0);
    CHECK_INT(t.ok + t.failed, 60);
    CHECK_INT(t.pending, 0);
    CHECK_INT(t.failed_with_score, 0);
    CHECK_INT(t.failed_without_error, 0);
    CHECK_INT(res.ok, t.ok);
    CHECK_INT(res.failed, t.failed);
    CHECK_INT(report_load(h.db, run, &r, err), PB_OK);
    uint64_t pulls = 0;
    for (size_t a = 0; r && a < report_arm_count(r); a++)
        pulls += report_arm_at(r, a)->pulls;
    CHECK_INT(pulls, t.ok);                           /* only successes became rewards */
    CHECK_INT(res.calls, fake_chat_requests(&flaky)); /* every request counted, failed or not */
    report_free(r);
    harness_close(&h);
    CHECK(fakellm_stop(&flaky));
}

static void test_budget_in_calls_stops_the_run(void)
{
    struct harness h;
    struct offline_result res;
    struct run *run = NULL;
    char err[PB_ERR_LEN];
    harness_open(&h, &fake, 4, 0);
    struct offline_options o = base_options(100, 8);
    o.budget.calls = 30; /* 2 calls a step: 15 steps */
    long c0 = fake_chat_requests(&fake);
    int64_t id = start_run(&h, &o, &res);
    CHECK_STR(res.stop_reason, "budget");
    CHECK_INT(res.ok, 15);
    CHECK_INT(res.calls, 30);
    CHECK_INT(fake_chat_requests(&fake) - c0, 30);
    CHECK_INT(runs_get(h.db, id, &run, err), PB_OK);
    CHECK_STR(run ? run->stop_reason : NULL, "budget");
    CHECK_INT(run ? run->steps_pending : -1, 0);
    runs_list_free(run, 1);
    /* A larger budget lets the same run go on. */
    struct offline_budget more = {.calls = 50};
    CHECK_INT(offline_continue(&h.env, id, &more, &res, err), PB_OK);
    CHECK_STR(res.stop_reason, "budget");
    CHECK_INT(res.ok, 25);
    harness_close(&h);
}

static void test_budget_in_money_and_tokens_stops_near_the_limit(void)
{
    struct harness h;
    struct offline_result res;
    harness_open(&h, &fake, 4, 0);
    struct offline_options o = base_options(200, 4);
    o.budget.usd = 0.05;
    start_run(&h, &o, &res);
    CHECK_STR(res.stop_reason, "budget");
    CHECK(res.ok > 0 && res.ok < 200);
    double per_step = res.usd / res.ok;
    CHECK(res.usd <= 0.05 + per_step + 1e-12); /* overshoot at most about one step */
    o.budget = (struct offline_budget){.tokens = 5000};
    start_run(&h, &o, &res);
    CHECK_STR(res.stop_reason, "budget");
    CHECK(res.tokens <= 5000 + res.tokens / res.ok + 1);
    harness_close(&h);
}

static void test_scenarios_and_budget_specs_parse(void)
{
    struct scenarios s;
    struct offline_budget b = {0};
    char err[PB_ERR_LEN], bad[600];
    CHECK_INT(scenarios_load(scenarios, &s, err), PB_OK);
    CHECK_INT(s.n, 4);
    CHECK_STR(s.sentence[0], "오늘 합격했어!");
    CHECK_STR(s.emotion[0], "기쁨");
    CHECK(s.emotion[3] == NULL);
    scenarios_free(&s);
    snprintf(bad, sizeof bad, "%s/bad.txt", tmp);
    write_text(bad, "좋아\n\t기쁨\n");
    CHECK_INT(scenarios_load(bad, &s, err), PB_ERR_INVALID);
    CHECK(strstr(err, "line 2") != NULL);
    CHECK_INT(runplan_budget_parse("calls=500,usd=1.5", &b, err), PB_OK);
    CHECK_INT(b.calls, 500);
    CHECK_NEAR(b.usd, 1.5, 1e-12);
    CHECK_INT(runplan_budget_parse("tokens=200000", &b, err), PB_OK);
    CHECK_INT(b.tokens, 200000);
    const char *wrong[] = {"calls", "calls=-1", "calls=1.5", "dollars=3", "usd=abc", "tokens=0"};
    for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++)
        CHECK_INT(runplan_budget_parse(wrong[i], &b, err), PB_ERR_INVALID);
}

static void test_changed_scenarios_file_refuses_resume(void)
{
    struct harness h;
    struct offline_result res;
    char err[PB_ERR_LEN], path[600];
    harness_open(&h, &fake, 4, 0);
    snprintf(path, sizeof path, "%s/scen2.txt", tmp);
    write_text(path, "하나\n둘\n");
    struct offline_options o = base_options(8, 4);
    o.scenarios_path = path;
    o.budget.calls = 8;
    int64_t run = start_run(&h, &o, &res);
    write_text(path, "하나\n셋\n");
    CHECK_INT(offline_continue(&h.env, run, &(struct offline_budget){0}, &res, err),
              PB_ERR_CONFLICT);
    CHECK(strstr(err, "changed") != NULL);
    harness_close(&h);
}

/* Failure kinds: the status and message of a failed attempt, and the recorded prefix read back. */
static void test_failure_kinds_are_told_apart(void)
{
    static const struct {
        pb_status status;
        const char *message, *kind;
    } cases[] = {
        {PB_ERR_PROVIDER, "LLM provider answered HTTP 500: boom", "provider"},
        {PB_ERR_PROVIDER, JUDGE_UNPARSED_PREFIX " after 3 attempt(s): \"좋아\"", "judge_parse"},
        {PB_ERR_UNAVAILABLE, "cannot reach the LLM provider", "unreachable"},
        {PB_ERR_TIMEOUT, "no answer within 30 s", "timeout"},
        {PB_ERR_LIMIT, "quota exhausted", "quota"},
        {PB_ERR_FORBIDDEN, "HTTP 401", "auth"},
        {PB_ERR_NOMEM, "out of memory", "other"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        enum offline_failure k = offline_failure_of(cases[i].status, cases[i].message);
        CHECK_STR(offline_failure_name(k), cases[i].kind);
        char recorded[300];
        snprintf(recorded, sizeof recorded, "%s: judge: %s", offline_failure_name(k),
                 cases[i].message);
        CHECK_INT(offline_failure_parse(recorded), k);
    }
    CHECK_INT(offline_failure_parse("judge: an error recorded before kinds"), OFFLINE_FAIL_OTHER);
    CHECK_INT(offline_failure_parse(NULL), OFFLINE_FAIL_OTHER);
}

struct failure_log {
    long events, final, judge_parse;
    char first[PB_ERR_LEN];
};

static void log_failure(const struct offline_failure_event *f, void *user)
{
    struct failure_log *l = user;
    if (l->events++ == 0)
        snprintf(l->first, sizeof l->first, "%s", f->message);
    l->final += f->final;
    l->judge_parse += f->kind == OFFLINE_FAIL_JUDGE_PARSE;
}

/* A judge that answers words: every attempt is told as it happens, the run stops with the
 * reason "judge_parse" (not "provider"), is recorded failed, and its calls are split by use. */
static void test_judge_answers_that_are_not_levels_stop_the_run_as_judge_parse(void)
{
    struct fakellm words;
    struct harness h;
    struct offline_result res;
    struct failure_log log = {0};
    struct run *run = NULL;
    char err[PB_ERR_LEN], rules[600];
    snprintf(rules, sizeof rules, "%s/words.json", tmp);
    write_text(rules, "[{\"system_contains\": \"Rubric\", \"reply\": \"아주 좋아요\"},\n"
                      " {\"any_contains\": \"PROMPT-\", \"reply\": \"meh {sentence}\"}]\n");
    const char *argv[] = {"--rules", rules, NULL};
    fakellm_start(&words, argv);
    harness_open(&h, &words, 4, 0);
    h.env.failure = log_failure;
    h.env.user = &log;
    struct offline_options o = base_options(40, 4);
    o.step_attempts = 2;
    int64_t id = start_run(&h, &o, &res);
    CHECK_STR(res.stop_reason, "judge_parse");
    CHECK_INT(res.ok, 0);
    CHECK_INT(res.failed, 12); /* three batches of four without a success */
    CHECK_INT(res.failures[OFFLINE_FAIL_JUDGE_PARSE], 12);
    CHECK_INT(log.events, 24); /* two attempts per step, each told */
    CHECK_INT(log.final, 12);
    CHECK_INT(log.judge_parse, 24);
    CHECK(strstr(log.first, "\"아주 좋아요\"") != NULL);
    CHECK(strncmp(res.last_failure, "judge_parse: judge: ", 20) == 0);
    CHECK_INT(res.generation_calls, 12);
    CHECK_INT(res.judge_calls, 12 * 2 * 3); /* two attempts, three asks each */
    CHECK_INT(res.calls, res.generation_calls + res.judge_calls);
    CHECK_INT(runs_get(h.db, id, &run, err), PB_OK);
    CHECK_STR(run ? run->status : NULL, "failed");
    CHECK_STR(run ? run->stop_reason : NULL, "judge_parse");
    runs_list_free(run, 1);
    harness_close(&h);
    CHECK(fakellm_stop(&words));
}

int main(void)
{
    char err[PB_ERR_LEN];
    setup_files();
    if (llm_global_init(err) != PB_OK) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    fake_start(&fake, NULL);
    RUN(test_scenarios_and_budget_specs_parse);
    RUN(test_known_best_prompt_leads_and_is_separated);
    RUN(test_concurrency_does_not_change_decisions);
    RUN(test_interrupted_run_resumes_to_the_same_result_without_repeating_calls);
    RUN(test_stored_answer_is_judged_not_generated_again);
    RUN(test_provider_failures_are_recorded_and_never_rewards);
    RUN(test_budget_in_calls_stops_the_run);
    RUN(test_budget_in_money_and_tokens_stops_near_the_limit);
    RUN(test_changed_scenarios_file_refuses_resume);
    RUN(test_failure_kinds_are_told_apart);
    RUN(test_judge_answers_that_are_not_levels_stop_the_run_as_judge_parse);
    CHECK(fakellm_stop(&fake));
    llm_global_cleanup();
    CHECK_DONE();
}
