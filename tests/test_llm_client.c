/* test_llm_client.c — the LLM client against the fake OpenAI-compatible server ($PB_FAKE_LLM,
 * started on a free port and stopped with SIGTERM): success and usage, message layout, retries and
 * Retry-After (asserted through attempt counts and scheduled delays, never wall time), final
 * errors, timeouts, unreachable providers, Azure mode, batches, the key never leaking, and the
 * fake server's own rules and switches. */
#include "check.h"
#include "fakellm.h"
#include "base/config.h"
#include "llm/llm.h"
#include "base/pb.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#define KEY "sk-test-SECRET-0123456789abcdef"

static struct fakellm shared; /* the server most tests use, driven by [[fake:...]] markers */

/* GET or POST an introspection route; returns the parsed JSON (caller decrefs). */
static json_t *fake_call(const struct fakellm *f, const char *method, const char *route)
{
    json_t *root = fakellm_call(f, method, route);
    CHECK(root != NULL);
    return root;
}

static void fake_reset(const struct fakellm *f)
{
    json_decref(fake_call(f, "POST", "/_reset"));
}

/* A number from /_stats, e.g. stat(f, "by_status", "500") or stat(f, "max_in_flight", NULL). */
static long fake_stat(const struct fakellm *f, const char *key, const char *sub)
{
    long n = fakellm_stat(f, key, sub);
    CHECK(n >= 0);
    return n;
}

/* The last request the fake received (caller decrefs). */
static json_t *fake_last_request(const struct fakellm *f)
{
    json_t *all = fake_call(f, "GET", "/_requests");
    json_t *list = json_object_get(all, "requests");
    json_t *last = json_array_get(list, json_array_size(list) - 1);
    json_incref(last);
    json_decref(all);
    return last;
}

static struct llm_options test_options(const char *base_url)
{
    struct llm_options o = {
        .base_url = base_url,
        .api_key = KEY,
        .model = "test-model",
        .temperature = 0.5,
        .max_tokens = 100,
        .timeout_s = 5,
        .max_retries = 2,
        .concurrency = 4,
        .backoff_initial_s = 0.01,
        .backoff_max_s = 0.05,
        .retry_after_max_s = 120,
    };
    return o;
}

static llm_client *test_client(const struct llm_options *o)
{
    char err[PB_ERR_LEN];
    llm_client *c = NULL;
    int rc = llm_client_new(o, &c, err);
    if (rc != PB_OK) {
        fprintf(stderr, "llm_client_new: %s\n", err);
        exit(2);
    }
    return c;
}

/* One chat with a system prompt and a user text; returns the status. */
static int chat(llm_client *c, const char *user, struct llm_response *r, char *err)
{
    struct llm_message m[] = {{"system", "친구, 일상대화, 반말"}, {"user", user}};
    struct llm_request req = {.messages = m, .n_messages = 2, .temperature = -1};
    return llm_chat(c, &req, r, err);
}

/* ---- behaviour ----------------------------------------------------------------------------- */

static void test_success_returns_text_and_counts_usage(void)
{
    struct llm_options o = test_options(shared.v1);
    llm_client *c = test_client(&o);
    struct llm_response r;
    struct llm_usage u;
    char err[PB_ERR_LEN];
    fake_reset(&shared);
    CHECK_INT(chat(c, "오늘 시험 잘 봤어 ;; 기쁨", &r, err), PB_OK);
    CHECK(r.text && strstr(r.text, "기쁨"));
    CHECK_STR(r.finish_reason, "stop");
    CHECK_INT(r.http_status, 200);
    CHECK_INT(r.attempts, 1);
    CHECK(r.prompt_tokens > 0 && r.completion_tokens > 0);
    llm_usage_get(c, &u);
    CHECK_INT(u.calls, 1);
    CHECK_INT(u.attempts, 1);
    CHECK_INT(u.failures, 0);
    CHECK_INT(u.prompt_tokens, r.prompt_tokens);
    CHECK_INT(u.completion_tokens, r.completion_tokens);
    llm_response_clear(&r);
    llm_client_free(c);
}

static void test_request_layout_is_sent_as_given(void)
{
    struct llm_options o = test_options(shared.v1);
    llm_client *c = test_client(&o);
    struct llm_response r;
    char err[PB_ERR_LEN];
    struct llm_message m[] = {{"system", "ARM-PROMPT-C"},
                              {"user", "안녕"},
                              {"assistant", "응 안녕"},
                              {"user", "배고파 ;; 슬픔"}};
    struct llm_request req = {.messages = m,
                              .n_messages = 4,
                              .model = "other-model",
                              .temperature = 0.25,
                              .max_tokens = 2};
    CHECK_INT(llm_chat(c, &req, &r, err), PB_OK);
    CHECK_STR(r.finish_reason, "length"); /* the fake cuts answers at max_tokens * 4 bytes */
    json_t *last = fake_last_request(&shared), *body = json_object_get(last, "body");
    json_t *msgs = json_object_get(body, "messages");
    CHECK_STR(json_string_value(json_object_get(last, "path")), "/v1/chat/completions");
    CHECK_STR(json_string_value(json_object_get(last, "authorization")), "Bearer " KEY);
    CHECK_STR(json_string_value(json_object_get(body, "model")), "other-model");
    CHECK_NEAR(json_number_value(json_object_get(body, "temperature")), 0.25, 1e-9);
    CHECK_INT(json_integer_value(json_object_get(body, "max_tokens")), 2);
    CHECK_INT(json_array_size(msgs), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *mi = json_array_get(msgs, i);
        CHECK_STR(json_string_value(json_object_get(mi, "role")), m[i].role);
        CHECK_STR(json_string_value(json_object_get(mi, "content")), m[i].content);
    }
    json_decref(last);
    llm_response_clear(&r);
    llm_client_free(c);
}

static void test_client_defaults_fill_unset_request_fields(void)
{
    struct llm_options o = test_options(shared.v1);
    llm_client *c = test_client(&o);
    struct llm_response r;
    char err[PB_ERR_LEN];
    CHECK_INT(chat(c, "기본값", &r, err), PB_OK);
    json_t *last = fake_last_request(&shared), *body = json_object_get(last, "body");
    CHECK_STR(json_string_value(json_object_get(body, "model")), "test-model");
    CHECK_NEAR(json_number_value(json_object_get(body, "temperature")), 0.5, 1e-9);
    CHECK_INT(json_integer_value(json_object_get(body, "max_tokens")), 100);
    json_decref(last);
    llm_response_clear(&r);
    llm_client_free(c);
}

static void test_429_retry_after_is_honoured_then_succeeds(void)
{
    struct llm_options o = test_options(shared.v1);
    llm_client *c = test_client(&o);
    struct llm_response r;
    char err[PB_ERR_LEN];
    fake_reset(&shared);
    CHECK_INT(chat(c, "잠깐 [[fake:429:retry-after=1:times=1]]", &r, err), PB_OK);
    CHECK_INT(r.attempts, 2);
    CHECK_NEAR(r.backoff_s, 1.0, 1e-9); /* the header's delay, not the 0.05 s backoff cap */
    CHECK_INT(fake_stat(&shared, "by_status", "429"), 1);
    CHECK_INT(fake_stat(&shared, "by_status", "200"), 1);
    llm_response_clear(&r);
    CHECK_INT(chat(c, "ms [[fake:429:retry-after-ms=300:times=2]]", &r, err), PB_OK);
    CHECK_INT(r.attempts, 3);
    CHECK_NEAR(r.backoff_s, 0.6, 1e-9);
    llm_response_clear(&r);
    CHECK_INT(chat(c, "date [[fake:503:retry-after-date=2:times=1]]", &r, err), PB_OK);
    CHECK_INT(r.attempts, 2);
    CHECK(r.backoff_s >= 1.0 && r.backoff_s <= 2.0); /* HTTP dates have whole seconds */
    llm_response_clear(&r);
    llm_client_free(c);
}

static void test_retry_after_is_capped(void)
{
    struct llm_options o = test_options(shared.v1);
    o.retry_after_max_s = 0.2;
    llm_client *c = test_client(&o);
    struct llm_response r;
    char err[PB_ERR_LEN];
    CHECK_INT(chat(c, "cap [[fake:429:retry-after=30:times=1]]", &r, err), PB_OK);
    CHECK_INT(r.attempts, 2);
    CHECK_NEAR(r.backoff_s, 0.2, 1e-9);
    llm_response_clear(&r);
    llm_client_free(c);
}

static void test_quota_429_is_not_retried(void)
{
    struct llm_options o = test_options(shared.v1);
    llm_client *c = test_client(&o);
    struct llm_response r;
    struct llm_usage u;
    char err[PB_ERR_LEN];
    fake_reset(&shared);
    CHECK_INT(chat(c, "돈 없어 [[fake:quota]]", &r, err), PB_ERR_LIMIT);
    CHECK_INT(r.attempts, 1);
    CHECK_INT(r.http_status, 429);
    CHECK(strstr(err, "quota") != NULL);
    CHECK(strstr(err, "exceeded your current quota") != NULL);
    CHECK_INT(fake_stat(&shared, "chat_requests", NULL), 1);
    llm_usage_get(c, &u);
    CHECK_INT(u.failures, 1);
    CHECK(r.text == NULL);
    llm_client_free(c);
}

static void test_500_twice_then_success_takes_three_attempts(void)
{
    struct llm_options o = test_options(shared.v1);
    llm_client *c = test_client(&o);
    struct llm_response r;
    struct llm_usage u;
    char err[PB_ERR_LEN];
    fake_reset(&shared);
    CHECK_INT(chat(c, "두 번 실패 [[fake:500:times=2]]", &r, err), PB_OK);
    CHECK_INT(r.attempts, 3);
    CHECK(r.backoff_s > 0 && r.backoff_s <= 0.01 + 0.02); /* full jitter under 0.01, 0.02 */
    CHECK_INT(fake_stat(&shared, "by_status", "500"), 2);
    llm_usage_get(c, &u);
    CHECK_INT(u.calls, 1);
    CHECK_INT(u.attempts, 3);
    CHECK_INT(u.failures, 0);
    llm_response_clear(&r);
    llm_client_free(c);
}

static void test_persistent_500_names_status_and_provider_message(void)
{
    struct llm_options o = test_options(shared.v1);
    o.max_retries = 3;
    llm_client *c = test_client(&o);
    struct llm_response r;
    char err[PB_ERR_LEN];
    fake_reset(&shared);
    CHECK_INT(chat(c, "계속 실패 [[fake:500]]", &r, err), PB_ERR_PROVIDER);
    CHECK_INT(r.attempts, 4);
    CHECK_INT(r.http_status, 500);
    CHECK(strstr(err, "HTTP 500") != NULL);
    CHECK(strstr(err, "error while processing your request (fake-llm status 500)") != NULL);
    CHECK(strstr(err, "4 attempts") != NULL);
    CHECK_INT(fake_stat(&shared, "by_status", "500"), 4);
    llm_client_free(c);
}

static void test_client_errors_are_not_retried(void)
{
    struct llm_options o = test_options(shared.v1);
    llm_client *c = test_client(&o);
    struct llm_response r;
    char err[PB_ERR_LEN];
    CHECK_INT(chat(c, "bad [[fake:400]]", &r, err), PB_ERR_PROVIDER);
    CHECK_INT(r.attempts, 1);
    CHECK(strstr(err, "HTTP 400") != NULL);
    CHECK_INT(chat(c, "conflict [[fake:409:times=1]]", &r, err), PB_OK);
    CHECK_INT(r.attempts, 2);
    llm_response_clear(&r);
    llm_client_free(c);
}

/* Bad answers: each marker and a piece of the message it must produce, never retried. */
static const struct {
    const char *marker, *expect;
} bad_answers[] = {
    {"[[fake:truncated]]", "not valid JSON"},
    {"[[fake:malformed]]", "not valid JSON"},
    {"[[fake:empty-choices]]", "\"choices\" is empty"},
    {"[[fake:null-content]]", "empty answer"},
};

static void test_bad_answers_are_clear_provider_errors(void)
{
    struct llm_options o = test_options(shared.v1);
    llm_client *c = test_client(&o);
    for (size_t i = 0; i < sizeof bad_answers / sizeof bad_answers[0]; i++) {
        struct llm_response r;
        char err[PB_ERR_LEN] = "", user[128];
        snprintf(user, sizeof user, "나쁜 답 %s", bad_answers[i].marker);
        CHECK_INT(chat(c, user, &r, err), PB_ERR_PROVIDER);
        CHECK_INT(r.attempts, 1);
        CHECK(r.text == NULL);
        if (!strstr(err, bad_answers[i].expect)) {
            fprintf(stderr, "  %s: got '%s'\n", bad_answers[i].marker, err);
            CHECK(0);
        }
    }
    llm_client_free(c);
}

static void test_oversized_answer_is_a_limit_error(void)
{
    struct llm_options o = test_options(shared.v1);
    o.max_response_bytes = 65536;
    llm_client *c = test_client(&o);
    struct llm_response r;
    char err[PB_ERR_LEN];
    CHECK_INT(chat(c, "big [[fake:big=200000]]", &r, err), PB_ERR_LIMIT);
    CHECK_INT(r.attempts, 1);
    CHECK(strstr(err, "65536") != NULL);
    llm_client_free(c);
}

static void test_slow_answer_times_out_after_bounded_attempts(void)
{
    struct llm_options o = test_options(shared.v1);
    o.timeout_s = 0.3;
    o.max_retries = 1;
    llm_client *c = test_client(&o);
    struct llm_response r;
    char err[PB_ERR_LEN];
    CHECK_INT(chat(c, "느려 [[fake:slow=3000]]", &r, err), PB_ERR_TIMEOUT);
    CHECK_INT(r.attempts, 2);
    CHECK_INT(r.http_status, 0);
    CHECK(strstr(err, "no answer within 0.3 s") != NULL);
    llm_client_free(c);
}

static unsigned closed_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    bind(s, (struct sockaddr *)&a, sizeof a);
    getsockname(s, (struct sockaddr *)&a, &len);
    close(s); /* nothing listens there now */
    return ntohs(a.sin_port);
}

static void test_unreachable_provider_fails_with_one_clear_error(void)
{
    char url[64], err[PB_ERR_LEN];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1", closed_port());
    struct llm_options o = test_options(url);
    llm_client *c = test_client(&o);
    struct llm_response r;
    CHECK_INT(chat(c, "여보세요", &r, err), PB_ERR_UNAVAILABLE);
    CHECK_INT(r.attempts, 3);
    CHECK(strstr(err, "cannot reach the LLM provider at http://127.0.0.1:") != NULL);
    CHECK(strstr(err, "3 attempts") != NULL);
    llm_client_free(c);
}

static void test_no_base_url_is_unavailable(void)
{
    char err[PB_ERR_LEN];
    llm_client *c = (llm_client *)&c;
    struct llm_options o = test_options("");
    CHECK_INT(llm_client_new(&o, &c, err), PB_ERR_UNAVAILABLE);
    CHECK(c == NULL);
    CHECK(strstr(err, "no LLM provider configured") && strstr(err, "PB_LLM_BASE_URL"));
    config *cfg;
    CHECK_INT(config_defaults(&cfg, err), PB_OK);
    CHECK_INT(llm_client_from_config(cfg, &c, err), PB_ERR_UNAVAILABLE);
    CHECK(strstr(err, "OPENAI_API_KEY") != NULL);
    config_free(cfg);
}

static void test_invalid_requests_make_no_attempt(void)
{
    struct llm_options o = test_options(shared.v1);
    llm_client *c = test_client(&o);
    struct llm_response r;
    struct llm_usage u;
    char err[PB_ERR_LEN];
    struct llm_request empty = {.temperature = -1};
    CHECK_INT(llm_chat(c, &empty, &r, err), PB_ERR_INVALID);
    CHECK_INT(chat(c, "bad \xff utf-8", &r, err), PB_ERR_INVALID);
    CHECK(strstr(err, "UTF-8") != NULL);
    llm_usage_get(c, &u);
    CHECK_INT(u.attempts, 0);
    CHECK_INT(u.failures, 2);
    llm_client_free(c);
}

/* Every failure path with a key the provider echoes back: the key never reaches err, not even
 * a long prefix of it when the message is cut. */
static void test_api_key_never_appears_in_errors(void)
{
    char long_key[200] = "sk-";
    memset(long_key + 3, 'Q', 150);
    long_key[153] = '\0';
    const char *args[] = {"--require-key", "the-right-key", NULL};
    struct fakellm strict;
    fakellm_start(&strict, args);
    const char *keys[] = {KEY, long_key};
    for (size_t k = 0; k < 2; k++) {
        struct llm_options o = test_options(strict.v1);
        o.api_key = keys[k];
        o.timeout_s = 0.3;
        o.max_retries = 1;
        llm_client *c = test_client(&o);
        struct llm_response r;
        char err[PB_ERR_LEN], frag[21];
        CHECK_INT(chat(c, "열쇠", &r, err), PB_ERR_FORBIDDEN);
        CHECK(strstr(err, "HTTP 401") && strstr(err, "Incorrect API key provided: ***"));
        snprintf(frag, sizeof frag, "%s", keys[k]);
        CHECK(strstr(err, frag) == NULL);
        llm_client_free(c);
        o.base_url = shared.v1;
        c = test_client(&o);
        const char *markers[] = {"[[fake:500]]", "[[fake:quota]]", "[[fake:slow=2000]]",
                                 "[[fake:malformed]]"};
        for (size_t i = 0; i < 4; i++) {
            CHECK(chat(c, markers[i], &r, err) != PB_OK);
            CHECK(strstr(err, frag) == NULL);
        }
        llm_client_free(c);
    }
    CHECK(fakellm_stop(&strict));
}

static void test_azure_mode_sends_api_key_header_and_version(void)
{
    char url[128], err[PB_ERR_LEN];
    snprintf(url, sizeof url, "%s/openai/deployments/gpt4o/", shared.root);
    struct llm_options o = test_options(url);
    o.api_version = "2024-06-01";
    llm_client *c = test_client(&o);
    struct llm_response r;
    CHECK_INT(chat(c, "애저", &r, err), PB_OK);
    json_t *last = fake_last_request(&shared);
    CHECK_STR(json_string_value(json_object_get(last, "path")),
              "/openai/deployments/gpt4o/chat/completions");
    CHECK_STR(json_string_value(json_object_get(last, "api_version")), "2024-06-01");
    CHECK_STR(json_string_value(json_object_get(last, "api_key")), KEY);
    CHECK(json_is_null(json_object_get(last, "authorization")));
    json_decref(last);
    llm_response_clear(&r);
    llm_client_free(c);
}

static void test_config_reads_key_file_and_settings(void)
{
    char err[PB_ERR_LEN], path[512];
    snprintf(path, sizeof path, "%s/key", check_tmpdir());
    FILE *f = fopen(path, "w");
    fputs("  sk-from-file \n", f);
    fclose(f);
    config *cfg;
    llm_client *c = NULL;
    CHECK_INT(config_defaults(&cfg, err), PB_OK);
    CHECK_INT(config_set(cfg, "llm.base_url", shared.v1, err), PB_OK);
    CHECK_INT(config_set(cfg, "llm.api_key_file", path, err), PB_OK);
    CHECK_INT(config_set(cfg, "llm.model", "cfg-model", err), PB_OK);
    CHECK_INT(config_set(cfg, "llm.backoff_initial_s", "0.01", err), PB_OK);
    CHECK_INT(llm_client_from_config(cfg, &c, err), PB_OK);
    struct llm_response r;
    CHECK_INT(chat(c, "설정 [[fake:500:times=1]]", &r, err), PB_OK);
    CHECK(r.backoff_s < 0.01); /* llm.backoff_initial_s reached the client */
    json_t *last = fake_last_request(&shared);
    CHECK_STR(json_string_value(json_object_get(last, "authorization")), "Bearer sk-from-file");
    CHECK_STR(json_string_value(json_object_get(json_object_get(last, "body"), "model")),
              "cfg-model");
    json_decref(last);
    llm_response_clear(&r);
    llm_client_free(c);
    c = NULL;
    CHECK_INT(config_set(cfg, "llm.api_key_file", "/nonexistent/pb-key", err), PB_OK);
    CHECK_INT(llm_client_from_config(cfg, &c, err), PB_ERR_NOT_FOUND);
    CHECK(strstr(err, "/nonexistent/pb-key") != NULL);
    config_free(cfg);
}

struct done_log {
    size_t order[64];
    size_t n;
};

static void on_done(size_t index, struct llm_batch_item *item, void *user)
{
    struct done_log *log = user;
    if (log->n < 64)
        log->order[log->n++] = index;
}

static void test_batch_keeps_concurrency_bound_and_finishes_all(void)
{
    enum { N = 20 };
    struct fakellm own; /* no slow leftovers from other tests in its in-flight count */
    fakellm_start(&own, NULL);
    struct llm_options o = test_options(own.v1);
    llm_client *c = test_client(&o);
    static struct llm_batch_item items[N];
    static struct llm_message msgs[N][2];
    static char texts[N][64];
    struct done_log log = {0};
    char err[PB_ERR_LEN];
    struct llm_usage u;
    for (size_t i = 0; i < N; i++) {
        snprintf(texts[i], sizeof texts[i], "배치 %zu [[fake:slow=100]] ;; 기쁨", i);
        msgs[i][0] = (struct llm_message){"system", "친구"};
        msgs[i][1] = (struct llm_message){"user", texts[i]};
        memset(&items[i], 0, sizeof items[i]);
        items[i].req =
            (struct llm_request){.messages = msgs[i], .n_messages = 2, .temperature = -1};
    }
    CHECK_INT(llm_chat_batch(c, items, N, on_done, &log, err), PB_OK);
    CHECK_INT(log.n, N);
    int seen[N] = {0};
    for (size_t i = 0; i < log.n; i++)
        seen[log.order[i]]++;
    for (size_t i = 0; i < N; i++) {
        CHECK_INT(items[i].status, PB_OK);
        CHECK_INT(seen[i], 1);
        CHECK(items[i].resp.text && strstr(items[i].resp.text, "기쁨"));
        llm_response_clear(&items[i].resp);
    }
    long max_in_flight = fake_stat(&own, "max_in_flight", NULL);
    CHECK(max_in_flight <= 4);
    CHECK(max_in_flight >= 2); /* the batch did run requests side by side */
    CHECK_INT(fake_stat(&own, "chat_requests", NULL), N);
    llm_usage_get(c, &u);
    CHECK_INT(u.calls, N);
    CHECK_INT(u.attempts, N);
    llm_client_free(c);
    CHECK(fakellm_stop(&own));
}

/* With one slot, a retry waiting out Retry-After must free the slot: the others finish first. */
static void test_batch_retry_wait_does_not_block_others(void)
{
    enum { N = 6 };
    struct llm_options o = test_options(shared.v1);
    o.concurrency = 1;
    llm_client *c = test_client(&o);
    struct llm_batch_item items[N];
    struct llm_message msgs[N][1];
    char texts[N][64], err[PB_ERR_LEN];
    struct done_log log = {0};
    for (size_t i = 0; i < N; i++) {
        snprintf(texts[i], sizeof texts[i], "%zu%s", i,
                 i == 0 ? " [[fake:429:retry-after=1:times=1]]" : "");
        msgs[i][0] = (struct llm_message){"user", texts[i]};
        memset(&items[i], 0, sizeof items[i]);
        items[i].req =
            (struct llm_request){.messages = msgs[i], .n_messages = 1, .temperature = -1};
    }
    CHECK_INT(llm_chat_batch(c, items, N, on_done, &log, err), PB_OK);
    CHECK_INT(log.n, N);
    CHECK_INT(log.order[N - 1], 0);
    CHECK_INT(items[0].resp.attempts, 2);
    for (size_t i = 0; i < N; i++)
        llm_response_clear(&items[i].resp);
    llm_client_free(c);
}

static void test_batch_reports_failed_items(void)
{
    struct llm_options o = test_options(shared.v1);
    o.max_retries = 0;
    llm_client *c = test_client(&o);
    struct llm_batch_item items[3];
    struct llm_message msgs[3][1] = {
        {{"user", "ok 1"}}, {{"user", "[[fake:503]]"}}, {{"user", "ok 2"}}};
    char err[PB_ERR_LEN];
    memset(items, 0, sizeof items);
    for (size_t i = 0; i < 3; i++)
        items[i].req =
            (struct llm_request){.messages = msgs[i], .n_messages = 1, .temperature = -1};
    CHECK_INT(llm_chat_batch(c, items, 3, NULL, NULL, err), PB_ERR_PROVIDER);
    CHECK(strstr(err, "1 of 3") && strstr(err, "HTTP 503"));
    CHECK_INT(items[0].status, PB_OK);
    CHECK_INT(items[1].status, PB_ERR_PROVIDER);
    CHECK(strstr(items[1].err, "HTTP 503") != NULL);
    CHECK_INT(items[2].status, PB_OK);
    for (size_t i = 0; i < 3; i++)
        llm_response_clear(&items[i].resp);
    llm_client_free(c);
}

struct thread_arg {
    llm_client *c;
    int ok;
    long tokens;
};

static void *chat_thread(void *p)
{
    struct thread_arg *a = p;
    for (int i = 0; i < 5; i++) {
        struct llm_response r;
        char err[PB_ERR_LEN], text[64];
        snprintf(text, sizeof text, "스레드 %p %d", p, i);
        if (chat(a->c, text, &r, err) == PB_OK) {
            a->ok++;
            a->tokens += r.prompt_tokens + r.completion_tokens;
        }
        llm_response_clear(&r);
    }
    return NULL;
}

static void test_chat_is_thread_safe_and_usage_adds_up(void)
{
    struct llm_options o = test_options(shared.v1);
    llm_client *c = test_client(&o);
    pthread_t t[4];
    struct thread_arg args[4];
    struct llm_usage u;
    long tokens = 0;
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){.c = c};
        pthread_create(&t[i], NULL, chat_thread, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_INT(args[i].ok, 5);
        tokens += args[i].tokens;
    }
    llm_usage_get(c, &u);
    CHECK_INT(u.calls, 20);
    CHECK_INT(u.attempts, 20);
    CHECK_INT(u.prompt_tokens + u.completion_tokens, tokens);
    llm_client_free(c);
}

/* ---- pure helpers (tables) ----------------------------------------------------------------- */

static void test_retry_after_values_parse(void)
{
    const time_t now = 1445412470; /* 10 s before Wed, 21 Oct 2015 07:28:00 GMT */
    static const struct {
        const char *value;
        int understood;
        double seconds;
    } cases[] = {
        {"7", 1, 7},
        {" 1.5\r\n", 1, 1.5},
        {"0", 1, 0},
        {"-3", 1, 0},
        {"abc", 0, 0},
        {"", 0, 0},
        {"Wed, 21 Oct 2015 07:28:00 GMT", 1, 10},
        {"Wed, 21 Oct 2015 07:27:00 GMT", 1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double s = -1;
        CHECK_INT(llm_parse_retry_after(cases[i].value, now, &s), cases[i].understood);
        if (cases[i].understood)
            CHECK_NEAR(s, cases[i].seconds, 1e-9);
    }
}

static void test_backoff_doubles_with_full_jitter_and_cap(void)
{
    static const struct {
        int retry;
        double u, expect;
    } cases[] = {{1, 1, 0.5}, {2, 1, 1}, {3, 1, 2},   {5, 1, 8},
                 {9, 1, 8},   {1, 0, 0}, {3, 0.5, 1}, {30, 0.25, 2}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_NEAR(llm_backoff_delay(0.5, 8, cases[i].retry, cases[i].u), cases[i].expect, 1e-12);
}

/* ---- the fake server's own switches -------------------------------------------------------- */

static void test_fake_rules_make_answers_depend_on_prompt(void)
{
    char path[512], err[PB_ERR_LEN];
    snprintf(path, sizeof path, "%s/rules.json", check_tmpdir());
    FILE *f = fopen(path, "w");
    fputs("[{\"system_contains\":\"채점\",\"user_contains\":\"GOODTEXT\",\"reply\":\"1\"},"
          "{\"system_contains\":\"채점\",\"reply\":\"-0.5\"},"
          "{\"system_contains\":\"PROMPT-B\",\"reply\":\"#{n} {sentence}/{emotion}\"}]",
          f);
    fclose(f);
    const char *args[] = {"--rules", path, NULL};
    struct fakellm rules;
    fakellm_start(&rules, args);
    struct llm_options o = test_options(rules.v1);
    llm_client *c = test_client(&o);
    struct llm_response r;
    struct llm_message judge[] = {{"system", "다음 답변을 채점해"}, {"user", "답변: GOODTEXT"}};
    struct llm_request req = {.messages = judge, .n_messages = 2, .temperature = -1};
    CHECK_INT(llm_chat(c, &req, &r, err), PB_OK);
    CHECK_STR(r.text, "1");
    llm_response_clear(&r);
    judge[1].content = "답변: 별로";
    CHECK_INT(llm_chat(c, &req, &r, err), PB_OK);
    CHECK_STR(r.text, "-0.5");
    llm_response_clear(&r);
    struct llm_message arm[] = {{"system", "PROMPT-B"}, {"user", "비 와 ;; 우울"}};
    req.messages = arm;
    CHECK_INT(llm_chat(c, &req, &r, err), PB_OK);
    CHECK_STR(r.text, "#3 비 와/우울");
    llm_response_clear(&r);
    llm_client_free(c);
    CHECK(fakellm_stop(&rules));
}

static void test_fake_command_line_faults_apply_to_every_request(void)
{
    const char *args[] = {"--fault", "503:times=1", NULL};
    struct fakellm faulty;
    fakellm_start(&faulty, args);
    struct llm_options o = test_options(faulty.v1);
    o.max_retries = 1;
    llm_client *c = test_client(&o);
    struct llm_response r;
    char err[PB_ERR_LEN];
    for (int i = 0; i < 2; i++) {
        CHECK_INT(chat(c, i ? "second" : "first", &r, err), PB_OK);
        CHECK_INT(r.attempts, 2); /* every distinct body fails once */
        llm_response_clear(&r);
    }
    CHECK_INT(fake_stat(&faulty, "by_status", "503"), 2);
    llm_client_free(c);
    CHECK(fakellm_stop(&faulty));
}

static void test_fake_fail_rate_is_seeded(void)
{
    const char *args[] = {"--fail-rate", "0.5", "--seed", "7", NULL};
    struct fakellm faulty;
    fakellm_start(&faulty, args);
    struct llm_options o = test_options(faulty.v1);
    o.max_retries = 0;
    llm_client *c = test_client(&o);
    struct llm_response r;
    char err[PB_ERR_LEN], text[32];
    int ok = 0;
    for (int i = 0; i < 40; i++) {
        snprintf(text, sizeof text, "rate %d", i);
        if (chat(c, text, &r, err) == PB_OK)
            ok++;
        llm_response_clear(&r);
    }
    CHECK(ok > 5 && ok < 35); /* seeded and sequential, so the same count every run */
    CHECK_INT(fake_stat(&faulty, "by_status", "500"), 40 - ok);
    llm_client_free(c);
    CHECK(fakellm_stop(&faulty));
}

int main(void)
{
    char err[PB_ERR_LEN];
    signal(SIGPIPE, SIG_IGN);
    if (llm_global_init(err) != PB_OK) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    fakellm_start(&shared, NULL);
    RUN(test_retry_after_values_parse);
    RUN(test_backoff_doubles_with_full_jitter_and_cap);
    RUN(test_success_returns_text_and_counts_usage);
    RUN(test_request_layout_is_sent_as_given);
    RUN(test_client_defaults_fill_unset_request_fields);
    RUN(test_429_retry_after_is_honoured_then_succeeds);
    RUN(test_retry_after_is_capped);
    RUN(test_quota_429_is_not_retried);
    RUN(test_500_twice_then_success_takes_three_attempts);
    RUN(test_persistent_500_names_status_and_provider_message);
    RUN(test_client_errors_are_not_retried);
    RUN(test_bad_answers_are_clear_provider_errors);
    RUN(test_oversized_answer_is_a_limit_error);
    RUN(test_slow_answer_times_out_after_bounded_attempts);
    RUN(test_unreachable_provider_fails_with_one_clear_error);
    RUN(test_no_base_url_is_unavailable);
    RUN(test_invalid_requests_make_no_attempt);
    RUN(test_api_key_never_appears_in_errors);
    RUN(test_azure_mode_sends_api_key_header_and_version);
    RUN(test_config_reads_key_file_and_settings);
    RUN(test_batch_keeps_concurrency_bound_and_finishes_all);
    RUN(test_batch_retry_wait_does_not_block_others);
    RUN(test_batch_reports_failed_items);
    RUN(test_chat_is_thread_safe_and_usage_adds_up);
    RUN(test_fake_rules_make_answers_depend_on_prompt);
    RUN(test_fake_command_line_faults_apply_to_every_request);
    RUN(test_fake_fail_rate_is_seeded);
    CHECK(fakellm_stop(&shared));
    llm_global_cleanup();
    CHECK_DONE();
}
