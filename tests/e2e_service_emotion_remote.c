/* e2e_service_emotion_remote.c — chat turns whose emotions come from a remote classifier
 * (emotion.backend = http; fake-llm's POST /classify stands in for it, slowed by ?delay_ms=):
 * while many turns wait for a slow classifier on two server threads, /healthz and choose still
 * answer at once (the turns hold no thread); the classifier's labels reach the answer and the
 * stream's start event; a full classifier queue answers 503 with Retry-After at once; a
 * classifier that is down leaves the emotions unknown and the chat answered; a client that goes
 * away while its turn is being classified gets nothing stored. */
#include "sse_harness.h"
#include "svc_harness.h"

#include <pthread.h>

/* The fake's classifier URL with a delay. */
static const char *classify_url(long delay_ms)
{
    static char url[256];
    snprintf(url, sizeof url, "%s/classify?delay_ms=%ld", svc_fake.root, delay_ms);
    return url;
}

struct turn {
    const struct svc *s;
    int status;
    char label[64];
    double done_at;
};

static void *turn_main(void *ud)
{
    struct turn *t = ud;
    json_t *j = NULL;
    t->status = svc_post(t->s, "/v1/chat", NULL,
                         "{\"user_id\":\"r1\",\"message\":\"오늘 너무 힘들었어\"}", &j);
    const char *label = json_string_value(
        json_object_get(json_array_get(json_object_get(j, "emotions"), 0), "label"));
    snprintf(t->label, sizeof t->label, "%s", label ? label : "");
    t->done_at = pb_now_monotonic();
    json_decref(j);
    return NULL;
}

/* Starts n chat turns against s, each on its own thread. */
static void start_turns(struct svc *s, struct turn *t, pthread_t *th, int n)
{
    for (int i = 0; i < n; i++) {
        t[i] = (struct turn){.s = s};
        pthread_create(&th[i], NULL, turn_main, &t[i]);
    }
}

static void test_waiting_for_the_classifier_holds_no_thread(void)
{
    const char *set[] = {"emotion.backend", "http", "emotion.url", classify_url(1500),
                         "server.threads",  "2",    NULL};
    enum { N = 24 };
    struct svc s;
    svc_start(&s, set);
    struct turn t[N];
    pthread_t th[N];
    start_turns(&s, t, th, N);
    usleep(300 * 1000); /* every turn is waiting for its emotions now */
    CHECK_INT(svc_get(&s, "/healthz", NULL, NULL), 200);
    json_t *c = NULL;
    CHECK_INT(svc_post(&s, "/v1/choose", NULL, "{\"user_id\":\"probe\"}", &c), 200);
    json_decref(c);
    double probes_done = pb_now_monotonic();
    int ok = 0, sad = 0, later = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ok += t[i].status == 200;
        sad += strcmp(t[i].label, "sadness") == 0;
        later += t[i].done_at > probes_done;
    }
    /* The probes were answered while every turn still waited for the classifier: with a
     * thread held per waiting turn, two threads could not have answered them before the
     * classifier's delay was over. */
    CHECK_INT(ok, N);
    CHECK_INT(sad, N);
    CHECK_INT(later, N);
    svc_stop(&s);
}

static void test_stream_names_the_remote_emotion(void)
{
    const char *set[] = {"emotion.backend", "http", "emotion.url", classify_url(200), NULL};
    struct svc s;
    svc_start(&s, set);
    long long before = svc_counts(&s).impressions;
    char *text = NULL;
    CHECK_INT(sse_post(&s, "/v1/chat", "{\"user_id\":\"r2\",\"message\":\"정말 좋아\"}", 0, &text),
              200);
    json_t *start = sse_event_json(text, "start"), *done = sse_event_json(text, "done");
    CHECK(start && done);
    CHECK_STR(json_string_value(
                  json_object_get(json_array_get(json_object_get(start, "emotions"), 0), "label")),
              "joy");
    char *deltas = sse_deltas(text);
    CHECK(strlen(deltas) > 0);
    CHECK_STR(deltas, svc_str(done, "reply"));
    CHECK_INT((int)(svc_counts(&s).impressions - before), 1);
    free(deltas);
    json_decref(start);
    json_decref(done);
    free(text);
    svc_stop(&s);
}

static size_t text_collect(char *p, size_t size, size_t n, void *ud)
{
    pb_buf_append(ud, p, size * n);
    return size * n;
}

/* GET /metrics as text (caller frees). */
static char *metrics_text(const struct svc *s)
{
    char url[256];
    struct pb_buf b = {0};
    snprintf(url, sizeof url, "%s/metrics", s->url);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, text_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_perform(c);
    curl_easy_cleanup(c);
    pb_buf_append(&b, "", 1);
    return b.data;
}

static void test_full_classifier_queue_answers_503_at_once(void)
{
    const char *set[] = {
        "emotion.backend",   "http", "emotion.url", classify_url(1500), "emotion.concurrency", "1",
        "emotion.queue_max", "0",    NULL};
    struct svc s;
    svc_start(&s, set);
    struct turn first = {.s = &s};
    pthread_t th;
    pthread_create(&th, NULL, turn_main, &first);
    usleep(300 * 1000); /* the first turn holds the classifier's only slot */
    double t0 = pb_now_monotonic();
    json_t *j = NULL;
    CHECK_INT(svc_post(&s, "/v1/chat", NULL, "{\"user_id\":\"r3\",\"message\":\"hi\"}", &j), 503);
    CHECK(pb_now_monotonic() - t0 < 1.0);
    CHECK_STR(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
              "overloaded");
    json_decref(j);
    char *m = metrics_text(&s);
    CHECK(m && strstr(m, "pb_emotion_in_flight 1"));
    CHECK(m && strstr(m, "pb_emotion_refused 1"));
    free(m);
    pthread_join(th, NULL);
    CHECK_INT(first.status, 200);
    svc_stop(&s);
}

static void test_classifier_down_leaves_emotions_unknown(void)
{
    /* Port 1 on loopback: nothing listens, the connection is refused at once. */
    const char *set[] = {"emotion.backend", "http", "emotion.url", "http://127.0.0.1:1/classify",
                         NULL};
    struct svc s;
    svc_start(&s, set);
    json_t *j = NULL;
    CHECK_INT(svc_post(&s, "/v1/chat", NULL, "{\"user_id\":\"r4\",\"message\":\"hi\"}", &j), 200);
    CHECK_STR(json_string_value(
                  json_object_get(json_array_get(json_object_get(j, "emotions"), 0), "label")),
              "unknown");
    CHECK(svc_str(j, "reply") != NULL);
    json_decref(j);
    /* An input error is still found before anything waits. */
    CHECK_INT(svc_post(&s, "/v1/chat", NULL, "{\"user_id\":\"r4\",\"message\":\"\"}", NULL), 400);
    svc_stop(&s);
}

static size_t give_up(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)size;
    (void)n;
    (void)ud;
    return 0;
}

static void test_client_gone_while_classifying_stores_nothing(void)
{
    const char *set[] = {"emotion.backend", "http", "emotion.url", classify_url(1000), NULL};
    struct svc s;
    svc_start(&s, set);
    long long before = svc_counts(&s).impressions;
    char url[256];
    snprintf(url, sizeof url, "%s/v1/chat", s.url);
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{\"user_id\":\"r5\",\"message\":\"hi\"}");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, give_up);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 300L); /* gone long before the classifier answers */
    CHECK(curl_easy_perform(c) != CURLE_OK);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    usleep(2000 * 1000); /* the classifier answers; the turn must not go on */
    svc_flush(&s);
    CHECK_INT((int)(svc_counts(&s).impressions - before), 0);
    /* The service still serves. */
    CHECK_INT(svc_get(&s, "/healthz", NULL, NULL), 200);
    svc_stop(&s);
}

/* A shutdown while turns wait for the classifier: each gets an answer (503 from the core's
 * shutdown), and the classifier's late answers find the service's state still alive (the
 * emotion loop is closed first; under ASan a wrong order is a use after free). */
static void test_shutdown_while_classifying_answers_everyone(void)
{
    const char *set[] = {"emotion.backend",         "http", "emotion.url", classify_url(1000),
                         "server.shutdown_grace_s", "0.2",  NULL};
    enum { N = 4 };
    struct svc s;
    svc_start(&s, set);
    struct turn t[N];
    pthread_t th[N];
    start_turns(&s, t, th, N);
    usleep(300 * 1000);                       /* all four are waiting for their emotions */
    CHECK_INT(server_stop(s.srv, -1), PB_OK); /* as SIGTERM does: the grace, then 503 */
    svc_stop(&s);
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(t[i].status, 503);
    }
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    svc_fake_start();
    RUN(test_waiting_for_the_classifier_holds_no_thread);
    RUN(test_stream_names_the_remote_emotion);
    RUN(test_full_classifier_queue_answers_503_at_once);
    RUN(test_classifier_down_leaves_emotions_unknown);
    RUN(test_client_gone_while_classifying_stores_nothing);
    RUN(test_shutdown_while_classifying_answers_everyone);
    svc_fake_stop();
    curl_global_cleanup();
    CHECK_DONE();
}
