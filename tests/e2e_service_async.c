/* e2e_service_async.c — the service on its event-driven core, in process against fake-llm:
 * a streamed chat turn (start, deltas that add up to the reply, done; stored after done); a
 * client that goes away mid-stream (its turn is not stored, feedback on its announced
 * impression is 404); admission control (a full provider queue answers 503 with Retry-After at
 * once, never a dropped connection); a provider Retry-After longer than the deadline ends the
 * turn at once with the Retry-After passed on; many chats waiting at once on two server threads
 * while /healthz and feedback answer; erasure says whether the disk is already clean. */
#include "sse_harness.h"
#include "svc_harness.h"

#include <pthread.h>

static void test_streamed_turn_adds_up_and_is_stored_after_done(void)
{
    struct svc s;
    svc_start(&s, NULL);
    long long before = svc_counts(&s).impressions;
    char *text = NULL;
    int status =
        sse_post(&s, "/v1/chat", "{\"user_id\":\"u1\",\"message\":\"오늘 힘들었어\"}", 0, &text);
    CHECK_INT(status, 200);
    json_t *start = sse_event_json(text, "start"), *done = sse_event_json(text, "done");
    CHECK(start && done);
    CHECK(svc_int(start, "impression_id") > 0);
    CHECK(svc_str(start, "arm") && svc_str(start, "conversation_id"));
    CHECK_INT((int)svc_int(done, "impression_id"), (int)svc_int(start, "impression_id"));
    char *deltas = sse_deltas(text);
    CHECK(strlen(deltas) > 0);
    CHECK_STR(deltas, svc_str(done, "reply"));
    CHECK_INT((int)(svc_counts(&s).impressions - before), 1);
    /* Feedback on the announced id works: the turn is stored under it. */
    char body[160];
    json_t *fb = NULL;
    snprintf(body, sizeof body, "{\"user_id\":\"u1\",\"impression_id\":%lld,\"kind\":\"like\"}",
             svc_int(start, "impression_id"));
    CHECK_INT(svc_post(&s, "/v1/feedback", NULL, body, &fb), 200);
    CHECK_STR(svc_str(fb, "arm"), svc_str(start, "arm"));
    json_decref(fb);
    free(deltas);
    json_decref(start);
    json_decref(done);
    free(text);
    svc_stop(&s);
}

static void test_client_gone_mid_stream_stores_nothing(void)
{
    struct svc s;
    svc_start(&s, NULL);
    long long before = svc_counts(&s).impressions;
    char *text = NULL;
    /* The fake waits 100 ms per token (about 2.3 s in all): the client leaves after the first
     * event; were the provider call not cancelled, the turn would be stored by 3.5 s. */
    sse_post(&s, "/v1/chat",
             "{\"user_id\":\"u2\",\"message\":\"잠이 안 와 [[fake:stream-delay=100]]\"}", 1, &text);
    json_t *start = sse_event_json(text, "start");
    CHECK(start != NULL);
    usleep(3500 * 1000);
    CHECK_INT((int)(svc_counts(&s).impressions - before), 0);
    char body[160];
    snprintf(body, sizeof body, "{\"user_id\":\"u2\",\"impression_id\":%lld,\"kind\":\"like\"}",
             svc_int(start, "impression_id"));
    CHECK_INT(svc_post(&s, "/v1/feedback", NULL, body, NULL), 404);
    json_decref(start);
    free(text);
    svc_stop(&s);
}

struct slow_chat {
    const struct svc *s;
    int status;
};

static void *slow_chat_main(void *ud)
{
    struct slow_chat *c = ud;
    c->status = svc_post(c->s, "/v1/chat", NULL,
                         "{\"user_id\":\"u3\",\"message\":\"hi [[fake:slow=1500]]\"}", NULL);
    return NULL;
}

static void test_full_provider_queue_answers_503_at_once(void)
{
    static const char *const set[] = {"llm.concurrency", "1", "llm.queue_max", "0", NULL};
    struct svc s;
    svc_start(&s, set);
    struct slow_chat first = {.s = &s};
    pthread_t t;
    pthread_create(&t, NULL, slow_chat_main, &first);
    usleep(300 * 1000); /* the first chat holds the only provider slot */
    double t0 = pb_now_monotonic();
    json_t *j = NULL;
    CHECK_INT(svc_post(&s, "/v1/chat", NULL, "{\"user_id\":\"u4\",\"message\":\"hi\"}", &j), 503);
    CHECK(pb_now_monotonic() - t0 < 1.0);
    CHECK_STR(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
              "overloaded");
    pthread_join(t, NULL);
    CHECK_INT(first.status, 200);
    json_decref(j);
    svc_stop(&s);
}

static void test_long_retry_after_ends_the_turn_at_once(void)
{
    struct svc s;
    svc_start(&s, NULL);
    long long before = svc_counts(&s).impressions;
    double t0 = pb_now_monotonic();
    json_t *j = NULL;
    int status =
        svc_post(&s, "/v1/chat", NULL,
                 "{\"user_id\":\"u5\",\"message\":\"hi [[fake:429:retry-after=100]]\"}", &j);
    CHECK(status == 502 || status == 503);
    CHECK(pb_now_monotonic() - t0 < 5.0);
    CHECK_INT((int)(svc_counts(&s).impressions - before), 0);
    json_decref(j);
    svc_stop(&s);
}

struct many {
    const struct svc *s;
    int ok;
};

static void *many_main(void *ud)
{
    struct many *m = ud;
    m->ok = svc_post(m->s, "/v1/chat", NULL,
                     "{\"user_id\":\"u6\",\"message\":\"hi [[fake:slow=1000]]\"}", NULL) == 200;
    return NULL;
}

static void test_many_waiting_chats_do_not_block_probes(void)
{
    static const char *const set[] = {"server.threads", "2", NULL};
    enum { N = 48 };
    struct svc s;
    svc_start(&s, set);
    struct many m[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        m[i] = (struct many){.s = &s};
        pthread_create(&t[i], NULL, many_main, &m[i]);
    }
    usleep(300 * 1000);
    double worst = 0;
    for (int i = 0; i < 5; i++) {
        double t0 = pb_now_monotonic();
        CHECK_INT(svc_get(&s, "/healthz", NULL, NULL), 200);
        double dt = pb_now_monotonic() - t0;
        worst = dt > worst ? dt : worst;
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        ok += m[i].ok;
    }
    fprintf(stderr, "%d of %d chats answered; slowest /healthz while they waited: %.1f ms\n", ok, N,
            worst * 1e3);
    CHECK_INT(ok, N);
    CHECK(worst < 0.5); /* generous: a worker-per-request core takes the full second here */
    svc_stop(&s);
}

static void test_erasure_says_whether_the_disk_is_clean(void)
{
    static const char *const set[] = {"server.user_tokens", "u7:tok7", NULL};
    struct svc s;
    svc_start(&s, set);
    json_t *j = NULL;
    CHECK_INT(svc_post(&s, "/v1/chat", "tok7",
                       "{\"user_id\":\"u7\",\"message\":\"비밀 이야기\",\"consent\":true}", NULL),
              200);
    char url[256];
    snprintf(url, sizeof url, "%s/v1/users/u7", s.url);
    CHECK_INT(svc_http("DELETE", url, "tok7", NULL, &j), 200);
    const char *on_disk = svc_str(j, "on_disk");
    CHECK(on_disk && (!strcmp(on_disk, "purged") || !strcmp(on_disk, "pending")));
    CHECK_INT((int)svc_int(json_object_get(j, "erased"), "messages"), 2);
    json_decref(j);
    svc_stop(&s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    svc_fake_start();
    RUN(test_streamed_turn_adds_up_and_is_stored_after_done);
    RUN(test_client_gone_mid_stream_stores_nothing);
    RUN(test_full_provider_queue_answers_503_at_once);
    RUN(test_long_retry_after_ends_the_turn_at_once);
    RUN(test_many_waiting_chats_do_not_block_probes);
    RUN(test_erasure_says_whether_the_disk_is_clean);
    svc_fake_stop();
    curl_global_cleanup();
    CHECK_DONE();
}
