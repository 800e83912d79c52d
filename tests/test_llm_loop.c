/* test_llm_loop.c — the provider event loop (llmloop) against fake-llm: many calls at once in
 * one thread, admission (queue full is refused at once), deadlines that end Retry-After waits
 * and queued calls, retries through 5xx storms, streamed deltas in order, truncated and
 * malformed streams, cancel, shutdown with calls in flight (each on_done exactly once), and a
 * thousand concurrent streams. Time bounds are generous sanity checks next to counts that
 * carry the proof (the fake's max_in_flight, attempts, on_done counts). */
#include "check.h"
#include "fakellm.h"
#include "base/pb.h"
#include "llm/llm.h"
#include "llm/llmloop.h"

#include <pthread.h>
#include <sys/resource.h>
#include <time.h>

#define KEY "sk-loop-SECRET-77"

static struct fakellm shared; /* driven by [[fake:...]] markers */

/* ---- collecting results -------------------------------------------------------------------- */

struct tracker {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
};

struct result {
    struct tracker *t;
    int calls; /* times on_done ran */
    pb_status rc;
    char err[PB_ERR_LEN], finish[32];
    char *text;
    struct pb_buf deltas;
    long n_deltas, prompt_tokens, completion_tokens;
    int http_status, attempts;
    double retry_after_s, done_at;
};

static void tracker_init(struct tracker *t)
{
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    t->done = 0;
}

static void tracker_destroy(struct tracker *t)
{
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->cond);
}

static void on_delta(const char *text, size_t len, void *ud)
{
    struct result *r = ud;
    pb_buf_append(&r->deltas, text, len);
    r->n_deltas++;
}

static void on_done(pb_status rc, const struct llm_response *resp, const char *err, void *ud)
{
    struct result *r = ud;
    r->rc = rc;
    snprintf(r->err, sizeof r->err, "%s", err ? err : "(null)");
    free(r->text);
    r->text = resp->text ? strdup(resp->text) : NULL;
    snprintf(r->finish, sizeof r->finish, "%s", resp->finish_reason ? resp->finish_reason : "");
    r->http_status = resp->http_status;
    r->attempts = resp->attempts;
    r->retry_after_s = resp->retry_after_s;
    r->prompt_tokens = resp->prompt_tokens;
    r->completion_tokens = resp->completion_tokens;
    r->done_at = pb_now_monotonic();
    pthread_mutex_lock(&r->t->lock);
    r->calls++;
    r->t->done++;
    pthread_cond_broadcast(&r->t->cond);
    pthread_mutex_unlock(&r->t->lock);
}

static void result_clear(struct result *r)
{
    free(r->text);
    pb_buf_free(&r->deltas);
    memset(r, 0, sizeof *r);
}

/* Waits until n on_done calls have come (1) or timeout_s passed (0). */
static int tracker_wait(struct tracker *t, int n, double timeout_s)
{
    double until = pb_now_monotonic() + timeout_s;
    pthread_mutex_lock(&t->lock);
    while (t->done < n && pb_now_monotonic() < until) {
        pthread_mutex_unlock(&t->lock);
        struct timespec ts = {0, 2000000L};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&t->lock);
    }
    int ok = t->done >= n;
    pthread_mutex_unlock(&t->lock);
    return ok;
}

/* ---- setup --------------------------------------------------------------------------------- */

static llm_client *test_client(const char *base_url, double timeout_s, int retries)
{
    struct llm_options o = {.base_url = base_url,
                            .api_key = KEY,
                            .model = "loop-model",
                            .temperature = 0.5,
                            .max_tokens = 100,
                            .timeout_s = timeout_s,
                            .max_retries = retries,
                            .concurrency = 4,
                            .backoff_initial_s = 0.01,
                            .backoff_max_s = 0.05,
                            .retry_after_max_s = 120};
    char err[PB_ERR_LEN];
    llm_client *c = NULL;
    if (llm_client_new(&o, &c, err) != PB_OK) {
        fprintf(stderr, "llm_client_new: %s\n", err);
        exit(2);
    }
    return c;
}

static llm_loop *test_loop(llm_client *c, int concurrency, int queue_max)
{
    struct llm_loop_options o = {concurrency, queue_max};
    char err[PB_ERR_LEN];
    llm_loop *l = NULL;
    if (llm_loop_new(c, &o, &l, err) != PB_OK) {
        fprintf(stderr, "llm_loop_new: %s\n", err);
        exit(2);
    }
    return l;
}

/* Submits one call whose user message is text; returns the submit status. */
static pb_status submit(llm_loop *l, const char *text, double deadline, int stream,
                        struct result *r, struct llm_call **call, char *err)
{
    struct llm_message m[] = {{"system", "친구, 반말"}, {"user", text}};
    struct llm_request req = {.messages = m, .n_messages = 2, .temperature = -1};
    struct llm_call_handlers h = {stream ? on_delta : NULL, on_done, r};
    return llm_loop_submit(l, &req, deadline, stream, &h, call, err);
}

/* ---- behaviour ----------------------------------------------------------------------------- */

static void test_a_call_succeeds_with_usage_and_stats(void)
{
    llm_client *c = test_client(shared.v1, 5, 2);
    llm_loop *l = test_loop(c, 4, 4);
    struct tracker t;
    struct result r = {0};
    char err[PB_ERR_LEN];
    tracker_init(&t);
    r.t = &t;
    CHECK_INT(submit(l, "오늘 좋았어 ;; 기쁨", 0, 0, &r, NULL, err), PB_OK);
    CHECK(tracker_wait(&t, 1, 10));
    CHECK_INT(r.rc, PB_OK);
    CHECK_STR(r.err, "");
    CHECK(r.text && strstr(r.text, "기쁨"));
    CHECK_STR(r.finish, "stop");
    CHECK_INT(r.http_status, 200);
    CHECK_INT(r.attempts, 1);
    CHECK(r.prompt_tokens > 0 && r.completion_tokens > 0);
    CHECK_INT(r.n_deltas, 0); /* not streamed */
    struct llm_loop_stats s;
    llm_loop_stats_get(l, &s);
    CHECK_INT(s.completed, 1);
    CHECK_INT(s.failed, 0);
    CHECK_INT(s.in_flight, 0);
    CHECK_INT(s.queued, 0);
    llm_loop_free(l);
    CHECK_INT(r.calls, 1);
    struct llm_usage u;
    llm_usage_get(c, &u);
    CHECK_INT(u.calls, 1);
    CHECK_INT(u.prompt_tokens, r.prompt_tokens);
    result_clear(&r);
    tracker_destroy(&t);
    llm_client_free(c);
}

/* Submits n calls at once ("LABEL i ;; 기쁨", streamed or not), each reporting to t, and waits
 * up to wait_s for all of them; returns the seconds that took. */
static double submit_all(llm_loop *l, struct result *r, int n, struct tracker *t, const char *label,
                         int stream, double wait_s)
{
    char err[PB_ERR_LEN], text[64];
    double start = pb_now_monotonic();
    for (int i = 0; i < n; i++) {
        memset(&r[i], 0, sizeof r[i]);
        r[i].t = t;
        snprintf(text, sizeof text, "%s %d ;; 기쁨", label, i);
        CHECK_INT(submit(l, text, 0, stream, &r[i], NULL, err), PB_OK);
    }
    CHECK(tracker_wait(t, n, wait_s));
    return pb_now_monotonic() - start;
}

/* 200 calls that each take 500 ms, 200 at once: all in flight together, done in about one
 * provider delay (serially it would be 100 s). */
static void test_200_concurrent_calls_finish_in_about_one_delay(void)
{
    enum { N = 200 };
    struct fakellm own;
    const char *args[] = {"--fault", "slow=500", NULL};
    fakellm_start(&own, args);
    llm_client *c = test_client(own.v1, 10, 0);
    llm_loop *l = test_loop(c, N, 0);
    static struct result r[N];
    struct tracker t;
    tracker_init(&t);
    double took = submit_all(l, r, N, &t, "동시", 0, 30);
    int ok = 0;
    for (int i = 0; i < N; i++)
        ok += r[i].rc == PB_OK && r[i].calls == 1;
    CHECK_INT(ok, N);
    CHECK(fakellm_stat(&own, "max_in_flight", NULL) >= N * 9 / 10);
    CHECK(took < 5.0);
    printf("  200 calls of 500 ms at concurrency 200: %.2f s\n", took);
    llm_loop_free(l);
    for (int i = 0; i < N; i++)
        result_clear(&r[i]);
    tracker_destroy(&t);
    llm_client_free(c);
    CHECK(fakellm_stop(&own));
}

/* concurrency 2 + queue_max 3: the sixth submit is refused at once and never reported. */
static void test_full_queue_refuses_at_once(void)
{
    llm_client *c = test_client(shared.v1, 10, 0);
    llm_loop *l = test_loop(c, 2, 3);
    struct result r[6] = {{0}};
    struct tracker t;
    char err[PB_ERR_LEN], text[64];
    tracker_init(&t);
    for (int i = 0; i < 5; i++) {
        r[i].t = &t;
        snprintf(text, sizeof text, "큐 %d [[fake:slow=300]]", i);
        CHECK_INT(submit(l, text, 0, 0, &r[i], NULL, err), PB_OK);
    }
    r[5].t = &t;
    double before = pb_now_monotonic();
    CHECK_INT(submit(l, "큐 5", 0, 0, &r[5], NULL, err), PB_ERR_LIMIT);
    CHECK(pb_now_monotonic() - before < 0.1);
    CHECK(strstr(err, "queue full") != NULL);
    struct llm_loop_stats s;
    llm_loop_stats_get(l, &s);
    CHECK_INT(s.refused, 1);
    CHECK_INT(s.in_flight + s.queued, 5);
    CHECK(s.in_flight <= 2);
    CHECK(tracker_wait(&t, 5, 10));
    for (int i = 0; i < 5; i++)
        CHECK_INT(r[i].rc, PB_OK);
    CHECK_INT(r[5].calls, 0);
    /* the places are free again */
    CHECK_INT(submit(l, "큐 다시", 0, 0, &r[5], NULL, err), PB_OK);
    CHECK(tracker_wait(&t, 6, 10));
    llm_loop_free(l);
    for (int i = 0; i < 6; i++)
        result_clear(&r[i]);
    tracker_destroy(&t);
    llm_client_free(c);
}

/* A 429 or 503 asking for 100 s when 2 s are left ends the call now, passing the provider's
 * Retry-After on. */
static void test_retry_after_past_the_deadline_ends_the_call_now(void)
{
    llm_client *c = test_client(shared.v1, 5, 2);
    llm_loop *l = test_loop(c, 4, 4);
    struct result r[2] = {{0}};
    struct tracker t;
    char err[PB_ERR_LEN];
    tracker_init(&t);
    r[0].t = r[1].t = &t;
    double start = pb_now_monotonic();
    CHECK_INT(submit(l, "지금 [[fake:429:retry-after=100]]", start + 2, 0, &r[0], NULL, err),
              PB_OK);
    CHECK_INT(submit(l, "지금 [[fake:503:retry-after-ms=7500]]", start + 2, 0, &r[1], NULL, err),
              PB_OK);
    CHECK(tracker_wait(&t, 2, 10));
    CHECK_INT(r[0].rc, PB_ERR_PROVIDER);
    CHECK_INT(r[0].http_status, 429);
    CHECK_INT(r[0].attempts, 1);
    CHECK_NEAR(r[0].retry_after_s, 100, 1e-9);
    CHECK(strstr(r[0].err, "HTTP 429") && strstr(r[0].err, "Retry-After of 100 s"));
    CHECK_INT(r[1].rc, PB_ERR_PROVIDER);
    CHECK_INT(r[1].http_status, 503);
    CHECK_NEAR(r[1].retry_after_s, 7.5, 1e-9);
    CHECK(r[0].done_at - start < 1.0 && r[1].done_at - start < 1.0);
    llm_loop_free(l);
    result_clear(&r[0]);
    result_clear(&r[1]);
    tracker_destroy(&t);
    llm_client_free(c);
}

/* The same 429 with a short Retry-After inside the deadline is waited out and retried. */
static void test_retry_after_inside_the_deadline_is_waited_out(void)
{
    llm_client *c = test_client(shared.v1, 5, 2);
    llm_loop *l = test_loop(c, 4, 4);
    struct result r = {0};
    struct tracker t;
    char err[PB_ERR_LEN];
    tracker_init(&t);
    r.t = &t;
    double start = pb_now_monotonic();
    CHECK_INT(
        submit(l, "잠깐 [[fake:429:retry-after-ms=200:times=1]]", start + 5, 0, &r, NULL, err),
        PB_OK);
    CHECK(tracker_wait(&t, 1, 10));
    CHECK_INT(r.rc, PB_OK);
    CHECK_INT(r.attempts, 2);
    CHECK(r.done_at - start >= 0.2);
    llm_loop_free(l);
    result_clear(&r);
    tracker_destroy(&t);
    llm_client_free(c);
}

/* 40 calls through a storm of 500/503 answers: each recovers after its failures; one that
 * never recovers fails after 1 + max_retries attempts naming the status. */
static void test_5xx_storm_is_retried(void)
{
    enum { N = 40 };
    llm_client *c = test_client(shared.v1, 5, 2);
    llm_loop *l = test_loop(c, 8, N);
    static struct result r[N + 1];
    struct tracker t;
    char err[PB_ERR_LEN], text[80];
    tracker_init(&t);
    for (int i = 0; i <= N; i++) {
        memset(&r[i], 0, sizeof r[i]);
        r[i].t = &t;
        if (i < N)
            snprintf(text, sizeof text, "폭풍 %d [[fake:%d:times=2]]", i, i % 2 ? 500 : 503);
        else
            snprintf(text, sizeof text, "폭풍 끝 [[fake:502]]");
        CHECK_INT(submit(l, text, pb_now_monotonic() + 20, 0, &r[i], NULL, err), PB_OK);
    }
    CHECK(tracker_wait(&t, N + 1, 30));
    int ok = 0;
    for (int i = 0; i < N; i++)
        ok += r[i].rc == PB_OK && r[i].attempts == 3 && r[i].calls == 1;
    CHECK_INT(ok, N);
    CHECK_INT(r[N].rc, PB_ERR_PROVIDER);
    CHECK_INT(r[N].attempts, 3);
    CHECK(strstr(r[N].err, "HTTP 502") && strstr(r[N].err, "(after 3 attempts)"));
    CHECK(strstr(r[N].err, KEY) == NULL);
    llm_loop_free(l);
    for (int i = 0; i <= N; i++)
        result_clear(&r[i]);
    tracker_destroy(&t);
    llm_client_free(c);
}

/* A streamed call: deltas in order, joined equal to the whole answer (and to the same request
 * answered without streaming), finish reason and usage from the stream, stream options sent. */
static void test_stream_deltas_arrive_in_order_and_make_the_answer(void)
{
    llm_client *c = test_client(shared.v1, 5, 0);
    llm_loop *l = test_loop(c, 4, 4);
    struct result r[2] = {{0}};
    struct tracker t;
    char err[PB_ERR_LEN];
    tracker_init(&t);
    r[0].t = r[1].t = &t;
    CHECK_INT(submit(l, "스트림 [[fake:stream-delay=20]] ;; 설렘", 0, 1, &r[0], NULL, err), PB_OK);
    CHECK(tracker_wait(&t, 1, 10));
    json_t *log = fakellm_call(&shared, "GET", "/_requests");
    json_t *reqs = json_object_get(log, "requests");
    json_t *body = json_object_get(json_array_get(reqs, json_array_size(reqs) - 1), "body");
    CHECK(json_is_true(json_object_get(body, "stream")));
    CHECK(json_is_true(json_object_get(json_object_get(body, "stream_options"), "include_usage")));
    json_decref(log);
    CHECK_INT(submit(l, "스트림 [[fake:stream-delay=20]] ;; 설렘", 0, 0, &r[1], NULL, err), PB_OK);
    CHECK(tracker_wait(&t, 2, 10));
    CHECK_INT(r[0].rc, PB_OK);
    CHECK(r[0].n_deltas > 3);
    CHECK(r[0].deltas.data && r[0].text && !strcmp(r[0].deltas.data, r[0].text));
    CHECK_STR(r[0].text, r[1].text);
    CHECK(strstr(r[0].text, "설렘") != NULL);
    CHECK_STR(r[0].finish, "stop");
    CHECK_INT(r[0].prompt_tokens, r[1].prompt_tokens);
    CHECK_INT(r[0].completion_tokens, r[1].completion_tokens);
    CHECK_INT(r[0].attempts, 1);
    llm_loop_free(l);
    result_clear(&r[0]);
    result_clear(&r[1]);
    tracker_destroy(&t);
    llm_client_free(c);
}

/* Broken streams are errors: cut after some deltas (not retried: text was handed on), cut
 * before the first delta (retried), a malformed chunk, an end without [DONE], an error status
 * before the stream (retried like any 5xx). */
static void test_broken_streams_are_errors(void)
{
    llm_client *c = test_client(shared.v1, 5, 2);
    llm_loop *l = test_loop(c, 8, 8);
    static const char *texts[] = {
        "자름 [[fake:truncated]]",           /* 0: cut half-way */
        "앞자름 [[fake:truncated:times=1]]", /* 1: one token, cut before it, then fine */
        "깨짐 [[fake:malformed]]",           /* 2 */
        "끝없음 [[fake:no-done]]",           /* 3 */
        "과부하 [[fake:503:times=1]]",       /* 4 */
    };
    enum { N = sizeof texts / sizeof texts[0] };
    struct result r[N];
    struct tracker t;
    char err[PB_ERR_LEN];
    tracker_init(&t);
    for (int i = 0; i < N; i++) {
        memset(&r[i], 0, sizeof r[i]);
        r[i].t = &t;
        struct llm_message m[] = {{"user", texts[i]}};
        struct llm_request req = {
            .messages = m, .n_messages = 1, .temperature = -1, .max_tokens = i == 1 ? 1 : 0};
        struct llm_call_handlers h = {on_delta, on_done, &r[i]};
        CHECK_INT(llm_loop_submit(l, &req, pb_now_monotonic() + 10, 1, &h, NULL, err), PB_OK);
    }
    CHECK(tracker_wait(&t, N, 20));
    CHECK_INT(r[0].rc, PB_ERR_PROVIDER);
    CHECK(r[0].n_deltas > 0);
    CHECK_INT(r[0].attempts, 1);
    CHECK(strstr(r[0].err, "stream broke after") != NULL);
    CHECK_INT(r[1].rc, PB_OK);
    CHECK_INT(r[1].attempts, 2);
    CHECK_INT(r[1].n_deltas, 1);
    CHECK_INT(r[2].rc, PB_ERR_PROVIDER);
    CHECK(strstr(r[2].err, "malformed stream chunk") != NULL);
    CHECK_INT(r[2].attempts, 1);
    CHECK_INT(r[3].rc, PB_ERR_PROVIDER);
    CHECK(strstr(r[3].err, "truncated stream") != NULL);
    CHECK_INT(r[4].rc, PB_OK);
    CHECK_INT(r[4].attempts, 2);
    for (int i = 0; i < N; i++)
        CHECK_INT(r[i].calls, 1);
    llm_loop_free(l);
    for (int i = 0; i < N; i++)
        result_clear(&r[i]);
    tracker_destroy(&t);
    llm_client_free(c);
}

/* A cancelled call ends at once with PB_ERR_TIMEOUT, running or still queued; a cancel after
 * the call finished changes nothing. */
static void test_cancel_ends_running_and_queued_calls(void)
{
    llm_client *c = test_client(shared.v1, 10, 0);
    llm_loop *l = test_loop(c, 1, 4);
    struct result r[2] = {{0}};
    struct llm_call *call[2];
    struct tracker t;
    char err[PB_ERR_LEN];
    tracker_init(&t);
    r[0].t = r[1].t = &t;
    double start = pb_now_monotonic();
    CHECK_INT(submit(l, "취소 [[fake:slow=5000]]", 0, 1, &r[0], &call[0], err), PB_OK);
    CHECK_INT(submit(l, "대기 취소", 0, 0, &r[1], &call[1], err), PB_OK); /* waits: one slot */
    struct timespec ts = {0, 200000000L};
    nanosleep(&ts, NULL);
    llm_loop_cancel(l, call[1]);
    llm_loop_cancel(l, call[0]);
    CHECK(tracker_wait(&t, 2, 10));
    CHECK(pb_now_monotonic() - start < 2.0);
    for (int i = 0; i < 2; i++) {
        CHECK_INT(r[i].rc, PB_ERR_TIMEOUT);
        CHECK(strstr(r[i].err, "cancelled") != NULL);
        CHECK_INT(r[i].calls, 1);
    }
    CHECK_INT(r[1].attempts, 0); /* never started */
    struct llm_loop_stats s;
    llm_loop_stats_get(l, &s);
    CHECK_INT(s.failed, 2);
    CHECK_INT(s.in_flight, 0);
    llm_loop_free(l);
    result_clear(&r[0]);
    result_clear(&r[1]);
    tracker_destroy(&t);
    llm_client_free(c);
}

/* The pattern for a cancel that races on_done (a client leaving while its answer lands): the
 * handle lives under the caller's lock, on_done clears it there before returning, and cancels
 * happen only under that lock while it is set. Each call then ends exactly once, finished or
 * cancelled, and no cancel touches a freed call (ASan would see it). */
struct racer {
    pthread_mutex_t lock;
    struct llm_call *call; /* under lock; NULL once on_done ran */
    struct result r;
};

static void racer_done(pb_status rc, const struct llm_response *resp, const char *err, void *ud)
{
    struct racer *x = ud;
    pthread_mutex_lock(&x->lock);
    x->call = NULL;
    pthread_mutex_unlock(&x->lock);
    on_done(rc, resp, err, &x->r);
}

static void test_cancel_racing_on_done_is_safe_under_the_callers_lock(void)
{
    enum { N = 60 };
    llm_client *c = test_client(shared.v1, 5, 0);
    llm_loop *l = test_loop(c, 8, N);
    static struct racer x[N];
    struct tracker t;
    char err[PB_ERR_LEN], text[64];
    tracker_init(&t);
    for (int i = 0; i < N; i++) {
        memset(&x[i], 0, sizeof x[i]);
        pthread_mutex_init(&x[i].lock, NULL);
        x[i].r.t = &t;
        snprintf(text, sizeof text, "경주 %d", i);
        struct llm_message m[] = {{"user", text}};
        struct llm_request req = {.messages = m, .n_messages = 1, .temperature = -1};
        struct llm_call_handlers h = {NULL, racer_done, &x[i]};
        pthread_mutex_lock(&x[i].lock); /* on_done may come before submit returns */
        CHECK_INT(llm_loop_submit(l, &req, 0, i % 2, &h, &x[i].call, err), PB_OK);
        pthread_mutex_unlock(&x[i].lock);
    }
    int rounds = 0;
    while (!tracker_wait(&t, N, 0.001) && rounds++ < 20000)
        for (int i = (rounds * 7) % N, k = 0; k < 3; k++, i = (i + 1) % N) {
            pthread_mutex_lock(&x[i].lock);
            if (x[i].call)
                llm_loop_cancel(l, x[i].call);
            pthread_mutex_unlock(&x[i].lock);
        }
    CHECK(tracker_wait(&t, N, 10));
    for (int i = 0; i < N; i++) {
        CHECK_INT(x[i].r.calls, 1);
        CHECK(x[i].r.rc == PB_OK || x[i].r.rc == PB_ERR_TIMEOUT);
    }
    llm_loop_free(l);
    for (int i = 0; i < N; i++) {
        result_clear(&x[i].r);
        pthread_mutex_destroy(&x[i].lock);
    }
    tracker_destroy(&t);
    llm_client_free(c);
}

/* A deadline bounds an attempt in flight, and a call that waits for a slot past it. */
static void test_deadlines_bound_running_and_queued_calls(void)
{
    llm_client *c = test_client(shared.v1, 10, 2);
    llm_loop *l = test_loop(c, 1, 4);
    struct result r[2] = {{0}};
    struct tracker t;
    char err[PB_ERR_LEN];
    tracker_init(&t);
    r[0].t = r[1].t = &t;
    double start = pb_now_monotonic();
    CHECK_INT(submit(l, "마감 [[fake:slow=3000]]", start + 0.6, 0, &r[0], NULL, err), PB_OK);
    CHECK_INT(submit(l, "마감 대기", start + 0.3, 0, &r[1], NULL, err), PB_OK);
    CHECK(tracker_wait(&t, 2, 10));
    CHECK_INT(r[0].rc, PB_ERR_TIMEOUT);
    CHECK(strstr(r[0].err, "before the call's deadline") != NULL);
    CHECK_INT(r[0].attempts, 1);
    CHECK(r[0].done_at - start < 1.5);
    CHECK_INT(r[1].rc, PB_ERR_TIMEOUT);
    CHECK(strstr(r[1].err, "provider slots") != NULL);
    CHECK_INT(r[1].attempts, 0);
    CHECK(r[1].done_at - start < 1.0);
    llm_loop_free(l);
    result_clear(&r[0]);
    result_clear(&r[1]);
    tracker_destroy(&t);
    llm_client_free(c);
}

/* A stream that goes silent for llm.timeout_s ends with PB_ERR_TIMEOUT after its deltas. */
static void test_silent_stream_times_out(void)
{
    llm_client *c = test_client(shared.v1, 1, 1);
    llm_loop *l = test_loop(c, 1, 1);
    struct result r = {0};
    struct tracker t;
    char err[PB_ERR_LEN];
    tracker_init(&t);
    r.t = &t;
    CHECK_INT(submit(l, "조용 [[fake:stream-delay=4000]]", 0, 1, &r, NULL, err), PB_OK);
    CHECK(tracker_wait(&t, 1, 15));
    CHECK_INT(r.rc, PB_ERR_TIMEOUT);
    CHECK(strstr(r.err, "went silent") != NULL);
    CHECK_INT(r.attempts, 2); /* no delta came, so the silence was retried once */
    llm_loop_free(l);
    result_clear(&r);
    tracker_destroy(&t);
    llm_client_free(c);
}

/* Freeing the loop with calls running, waiting out a retry and queued: each gets on_done once
 * with PB_ERR_UNAVAILABLE, and free does not wait for the slow provider. */
static void test_free_with_calls_in_flight_reports_each_once(void)
{
    enum { N = 12 };
    llm_client *c = test_client(shared.v1, 10, 2);
    llm_loop *l = test_loop(c, 4, N);
    struct result r[N];
    struct tracker t;
    char err[PB_ERR_LEN], text[80];
    tracker_init(&t);
    for (int i = 0; i < N; i++) {
        memset(&r[i], 0, sizeof r[i]);
        r[i].t = &t;
        snprintf(text, sizeof text, "종료 %d %s", i,
                 i == 0 ? "[[fake:429:retry-after=30]]" : "[[fake:slow=5000]]");
        CHECK_INT(submit(l, text, 0, i % 2, &r[i], NULL, err), PB_OK);
    }
    struct timespec ts = {0, 300000000L};
    nanosleep(&ts, NULL);
    double start = pb_now_monotonic();
    llm_loop_free(l);
    CHECK(pb_now_monotonic() - start < 1.0);
    CHECK_INT(t.done, N);
    for (int i = 0; i < N; i++) {
        CHECK_INT(r[i].calls, 1);
        CHECK_INT(r[i].rc, PB_ERR_UNAVAILABLE);
        CHECK(strstr(r[i].err, "shutting down") != NULL);
        result_clear(&r[i]);
    }
    tracker_destroy(&t);
    llm_client_free(c);
}

static void test_bad_requests_are_refused_without_on_done(void)
{
    llm_client *c = test_client(shared.v1, 5, 0);
    llm_loop *l = test_loop(c, 1, 0);
    struct result r = {0};
    struct tracker t;
    char err[PB_ERR_LEN];
    tracker_init(&t);
    r.t = &t;
    struct llm_request empty = {.messages = NULL, .n_messages = 0, .temperature = -1};
    struct llm_call_handlers h = {NULL, on_done, &r};
    struct llm_call *call = (struct llm_call *)&r;
    CHECK_INT(llm_loop_submit(l, &empty, 0, 0, &h, &call, err), PB_ERR_INVALID);
    CHECK(call == NULL);
    CHECK(strstr(err, "no messages") != NULL);
    /* the refused call took no place: with concurrency 1 and no queue, one call still fits */
    CHECK_INT(submit(l, "자리", 0, 0, &r, NULL, err), PB_OK);
    CHECK(tracker_wait(&t, 1, 10));
    CHECK_INT(r.calls, 1);
    llm_loop_free(l);
    result_clear(&r);
    tracker_destroy(&t);
    llm_client_free(c);
}

/* on_done may submit the next call (the loop holds no lock while calling it). */
struct chain {
    llm_loop *l;
    struct result r[3];
    struct tracker t;
    int next;
};

static void chain_done(pb_status rc, const struct llm_response *resp, const char *err, void *ud)
{
    struct chain *ch = ud;
    char e[PB_ERR_LEN];
    on_done(rc, resp, err, &ch->r[ch->next]);
    if (++ch->next < 3) {
        struct llm_message m[] = {{"user", ch->next == 1 ? "둘째" : "셋째"}};
        struct llm_request req = {.messages = m, .n_messages = 1, .temperature = -1};
        struct llm_call_handlers h = {NULL, chain_done, ch};
        CHECK_INT(llm_loop_submit(ch->l, &req, 0, 0, &h, NULL, e), PB_OK);
    }
}

static void test_on_done_may_submit_again(void)
{
    llm_client *c = test_client(shared.v1, 5, 0);
    static struct chain ch;
    char err[PB_ERR_LEN];
    memset(&ch, 0, sizeof ch);
    tracker_init(&ch.t);
    for (int i = 0; i < 3; i++)
        ch.r[i].t = &ch.t;
    ch.l = test_loop(c, 1, 0);
    struct llm_message m[] = {{"user", "첫째"}};
    struct llm_request req = {.messages = m, .n_messages = 1, .temperature = -1};
    struct llm_call_handlers h = {NULL, chain_done, &ch};
    CHECK_INT(llm_loop_submit(ch.l, &req, 0, 0, &h, NULL, err), PB_OK);
    CHECK(tracker_wait(&ch.t, 3, 10));
    for (int i = 0; i < 3; i++)
        CHECK_INT(ch.r[i].rc, PB_OK);
    llm_loop_free(ch.l);
    for (int i = 0; i < 3; i++)
        result_clear(&ch.r[i]);
    tracker_destroy(&ch.t);
    llm_client_free(c);
}

/* A thousand streams at once (concurrency 1000), each about 3 s of tokens (long enough that
 * opening a thousand connections under a sanitizer on a busy machine ends well before the
 * first stream does): all complete with their whole text, all of them in flight together. */
static void test_a_thousand_concurrent_streams_complete(void)
{
    enum { N = 1000 };
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct fakellm own;
    const char *args[] = {"--stream-delay-ms", "250", NULL};
    fakellm_start(&own, args);
    llm_client *c = test_client(own.v1, 10, 0);
    llm_loop *l = test_loop(c, N, 0);
    static struct result r[N];
    struct tracker t;
    tracker_init(&t);
    double took = submit_all(l, r, N, &t, "천", 1, 120);
    int ok = 0;
    for (int i = 0; i < N; i++)
        ok += r[i].rc == PB_OK && r[i].calls == 1 && r[i].n_deltas > 5 && r[i].text &&
              r[i].deltas.data && !strcmp(r[i].text, r[i].deltas.data);
    CHECK_INT(ok, N);
    if (ok != N)
        for (int i = 0; i < N; i++)
            if (r[i].rc != PB_OK) {
                fprintf(stderr, "  stream %d: %s\n", i, r[i].err);
                break;
            }
    CHECK(fakellm_stat(&own, "max_in_flight", NULL) >= N * 9 / 10);
    printf("  1000 streams of ~3 s at concurrency 1000: %.2f s\n", took);
    llm_loop_free(l);
    for (int i = 0; i < N; i++)
        result_clear(&r[i]);
    tracker_destroy(&t);
    llm_client_free(c);
    CHECK(fakellm_stop(&own));
}

static void test_options_come_from_config(void)
{
    config *cfg = NULL;
    char err[PB_ERR_LEN];
    CHECK_INT(config_defaults(&cfg, err), PB_OK);
    struct llm_loop_options o;
    llm_loop_options_from_config(cfg, &o);
    CHECK_INT(o.concurrency, 64);
    CHECK_INT(o.queue_max, 256);
    CHECK_INT(config_set(cfg, "llm.concurrency", "4096", err), PB_OK);
    CHECK_INT(config_set(cfg, "llm.queue_max", "0", err), PB_OK);
    llm_loop_options_from_config(cfg, &o);
    CHECK_INT(o.concurrency, 4096);
    CHECK_INT(o.queue_max, 0);
    config_free(cfg);
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
    RUN(test_options_come_from_config);
    RUN(test_a_call_succeeds_with_usage_and_stats);
    RUN(test_200_concurrent_calls_finish_in_about_one_delay);
    RUN(test_full_queue_refuses_at_once);
    RUN(test_retry_after_past_the_deadline_ends_the_call_now);
    RUN(test_retry_after_inside_the_deadline_is_waited_out);
    RUN(test_5xx_storm_is_retried);
    RUN(test_stream_deltas_arrive_in_order_and_make_the_answer);
    RUN(test_broken_streams_are_errors);
    RUN(test_cancel_ends_running_and_queued_calls);
    RUN(test_cancel_racing_on_done_is_safe_under_the_callers_lock);
    RUN(test_deadlines_bound_running_and_queued_calls);
    RUN(test_silent_stream_times_out);
    RUN(test_free_with_calls_in_flight_reports_each_once);
    RUN(test_bad_requests_are_refused_without_on_done);
    RUN(test_on_done_may_submit_again);
    RUN(test_a_thousand_concurrent_streams_complete);
    CHECK(fakellm_stop(&shared));
    llm_global_cleanup();
    CHECK_DONE();
}
