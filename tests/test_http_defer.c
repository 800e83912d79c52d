/* test_http_defer.c — requests answered later, in process (so ASan sees both sides): deferred
 * replies finished from another thread, 200 of them waiting at once on two server threads
 * while /healthz answers, the core's own answers (504 at the deadline, 503 at shutdown, none
 * for a client gone) with on_cancel and the late finish that gets 0, streams read by the client
 * as they are written, and the metrics of it all. Every wait is for an event, with a bound;
 * nothing asserts wall time. */
#include "check.h"
#include "http/server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_HELD      512
#define TIMEOUT_EVENT "event: error\ndata: timeout\n\n"
#define SSE_SHUTDOWN                                                                               \
    "event: error\ndata: {\"error\":{\"code\":\"shutting_down\",\"message\":\"the server is "      \
    "shutting down\"}}\n\n"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- test application: a worker thread finishes timed jobs; held ones wait for the test ---- */

struct job {
    struct server_defer *d;
    int id;
    double due; /* monotonic; 0 = held until the test releases it */
};

struct app {
    pthread_mutex_t lock;
    struct job jobs[MAX_HELD];
    size_t n_jobs;
    int next_id;
    atomic_int cancels;
    struct server_defer *stream; /* the last stream opened, for the test to drive */
    struct server_defer *failed; /* the handle of /defer-then-fail */
    atomic_int stop;
    pthread_t worker;
};

static struct app the_app = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int job_push(struct server_defer *d, double due)
{
    pthread_mutex_lock(&the_app.lock);
    int id = ++the_app.next_id;
    the_app.jobs[the_app.n_jobs++] = (struct job){d, id, due};
    pthread_mutex_unlock(&the_app.lock);
    return id;
}

static size_t held_count(void)
{
    pthread_mutex_lock(&the_app.lock);
    size_t n = 0;
    for (size_t i = 0; i < the_app.n_jobs; i++)
        n += the_app.jobs[i].due == 0;
    pthread_mutex_unlock(&the_app.lock);
    return n;
}

/* Takes the jobs that are due (held ones too when held is 1) out of the list. The lock is
 * never held while finishing: finish waits for a running on_cancel, which takes it. */
static size_t jobs_take(int held, struct job *out)
{
    double now = pb_now_monotonic();
    size_t n = 0, kept = 0;
    pthread_mutex_lock(&the_app.lock);
    for (size_t i = 0; i < the_app.n_jobs; i++) {
        struct job j = the_app.jobs[i];
        if ((j.due == 0 && held) || (j.due > 0 && j.due <= now))
            out[n++] = j;
        else
            the_app.jobs[kept++] = j;
    }
    the_app.n_jobs = kept;
    pthread_mutex_unlock(&the_app.lock);
    return n;
}

static int finish_job(const struct job *j)
{
    struct server_reply reply = {0};
    server_reply_json(&reply, 200, json_pack("{s:i}", "id", j->id));
    return server_defer_finish(j->d, &reply);
}

/* Finishes every held job; returns how many finishes answered their request. */
static int release_held(void)
{
    static struct job taken[MAX_HELD];
    size_t n = jobs_take(1, taken);
    int answered = 0;
    for (size_t i = 0; i < n; i++)
        answered += finish_job(&taken[i]);
    return answered;
}

static void *worker_main(void *arg)
{
    static struct job taken[MAX_HELD];
    while (!atomic_load(&the_app.stop)) {
        size_t n = jobs_take(0, taken);
        for (size_t i = 0; i < n; i++)
            finish_job(&taken[i]);
        sleep_ms(2);
    }
    return NULL;
}

static void on_cancel(void *ud)
{
    struct app *app = ud;
    pthread_mutex_lock(&app->lock); /* as a real worker would, to find its call */
    atomic_fetch_add(&app->cancels, 1);
    pthread_mutex_unlock(&app->lock);
}

static double query_double(struct server_request *req, const char *key)
{
    const char *v = server_req_query(req, key);
    return v ? atof(v) : 0;
}

/* GET /later?ms=N: answered by the worker thread N ms later. */
static int h_later(struct server_request *req, struct server_reply *reply, void *app)
{
    struct server_defer *d = server_reply_defer(req, reply, 0, NULL, NULL);
    if (d)
        job_push(d, pb_now_monotonic() + query_double(req, "ms") / 1000);
    return PB_OK;
}

/* GET /held?deadline=S: waits until the test releases it (or the core answers first). */
static int h_held(struct server_request *req, struct server_reply *reply, void *app)
{
    struct server_defer *d =
        server_reply_defer(req, reply, query_double(req, "deadline"), on_cancel, app);
    if (d)
        job_push(d, 0);
    return PB_OK;
}

/* GET /now: defers and finishes before the handler returns. */
static int h_now(struct server_request *req, struct server_reply *reply, void *app)
{
    struct server_defer *d = server_reply_defer(req, reply, 0, NULL, NULL);
    if (!d)
        return PB_OK;
    struct server_reply answer = {0};
    server_reply_json(&answer, 200, json_pack("{s:b}", "now", 1));
    return server_defer_finish(d, &answer) == 1 ? PB_OK
                                                : pb_errf(reply->err, PB_ERR_INVALID, "lost");
}

static int h_defer_then_fail(struct server_request *req, struct server_reply *reply, void *app_)
{
    struct app *app = app_;
    app->failed = server_reply_defer(req, reply, 0, on_cancel, app);
    return pb_errf(reply->err, PB_ERR_CONFLICT, "changed my mind");
}

/* GET /stream?deadline=S: the test writes its bytes through the_app.stream. */
static int h_stream(struct server_request *req, struct server_reply *reply, void *app_)
{
    struct app *app = app_;
    server_reply_header(reply, "X-Stream", "yes");
    struct server_defer *d =
        server_reply_stream(req, reply, 200, "text/event-stream", query_double(req, "deadline"),
                            TIMEOUT_EVENT, on_cancel, app);
    pthread_mutex_lock(&app->lock);
    app->stream = d;
    pthread_mutex_unlock(&app->lock);
    return PB_OK;
}

/* GET /late-stream?deadline=S: a deferred reply the test makes a stream later
 * (server_defer_stream), as a chat turn does once its emotions are known. */
static int h_late_stream(struct server_request *req, struct server_reply *reply, void *app_)
{
    struct app *app = app_;
    struct server_defer *d =
        server_reply_defer(req, reply, query_double(req, "deadline"), on_cancel, app);
    if (d) {
        pthread_mutex_lock(&app->lock);
        app->stream = d;
        pthread_mutex_unlock(&app->lock);
    }
    return PB_OK;
}

static const struct server_route routes[] = {
    {"GET", "/late-stream", h_late_stream, 0},
    {"GET", "/later", h_later, 0},
    {"GET", "/held", h_held, 0},
    {"GET", "/now", h_now, 0},
    {"GET", "/defer-then-fail", h_defer_then_fail, 0},
    {"GET", "/stream", h_stream, 0},
};

static config *cfg;

static server *start(const char *const (*settings)[2], size_t n)
{
    char err[PB_ERR_LEN];
    server *s = NULL;
    config_free(cfg);
    CHECK_INT(config_defaults(&cfg, err), PB_OK);
    config_set(cfg, "server.port", "0", err);
    config_set(cfg, "server.threads", "2", err);
    config_set(cfg, "server.access_log", "", err);
    config_set(cfg, "server.per_ip_connections", "0", err);
    for (size_t i = 0; i < n; i++)
        if (config_set(cfg, settings[i][0], settings[i][1], err) != PB_OK)
            fprintf(stderr, "setting: %s\n", err);
    struct server_options opt = {routes, sizeof routes / sizeof routes[0], &the_app, NULL, NULL,
                                 NULL};
    if (server_new(cfg, &opt, &s, err) != PB_OK || server_start(s, err) != PB_OK) {
        fprintf(stderr, "cannot start the server: %s\n", err);
        exit(2);
    }
    atomic_store(&the_app.cancels, 0);
    the_app.stream = the_app.failed = NULL;
    return s;
}

/* Waits up to ms for cond (re-evaluated every 5 ms); the value of cond at the end. */
#define WAIT_FOR(cond, ms)                                                                         \
    do {                                                                                           \
        for (int w_ = 0; w_ < (ms) / 5 && !(cond); w_++)                                           \
            sleep_ms(5);                                                                           \
    } while (0)

/* ---- libcurl clients ---- */

struct response {
    long status;
    char body[4096];
    size_t len;
    int writes; /* write callbacks: chunks as they arrived */
    pthread_mutex_t lock;
};

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
    struct response *r = userp;
    size_t k = size * n, room = sizeof r->body - 1 - r->len;
    pthread_mutex_lock(&r->lock);
    memcpy(r->body + r->len, data, k < room ? k : room);
    r->len += k < room ? k : room;
    r->body[r->len] = '\0';
    r->writes++;
    pthread_mutex_unlock(&r->lock);
    return k;
}

static size_t body_len(struct response *r)
{
    pthread_mutex_lock(&r->lock);
    size_t n = r->len;
    pthread_mutex_unlock(&r->lock);
    return n;
}

static CURL *easy_for(server *s, const char *path, struct response *r)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", server_port(s), path);
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    return h;
}

/* One GET on handle h (reused: keep-alive); *reused gets 1 when no new connection was made. */
static long get(CURL *h, server *s, const char *path, struct response *r, int *reused)
{
    char url[256];
    long connects = -1;
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", server_port(s), path);
    memset(r->body, 0, sizeof r->body);
    r->len = 0;
    r->status = 0;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK)
        fprintf(stderr, "curl %s: %s\n", path, curl_easy_strerror(cc));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
    if (reused)
        *reused = connects == 0;
    return r->status;
}

static struct response scratch = {.lock = PTHREAD_MUTEX_INITIALIZER};

static long get_once(server *s, const char *path)
{
    CURL *h = curl_easy_init();
    long status = get(h, s, path, &scratch, NULL);
    curl_easy_cleanup(h);
    return status;
}

/* n concurrent GETs of path from one thread (libcurl multi), each on its own connection. */
struct batch {
    server *s;
    const char *path;
    int n;
    struct response r[MAX_HELD];
    pthread_t thread;
};

static void *batch_main(void *arg)
{
    struct batch *b = arg;
    CURLM *m = curl_multi_init();
    CURL *h[MAX_HELD];
    for (int i = 0; i < b->n; i++) {
        pthread_mutex_init(&b->r[i].lock, NULL);
        h[i] = easy_for(b->s, b->path, &b->r[i]);
        curl_multi_add_handle(m, h[i]);
    }
    int running = 1;
    while (running) {
        curl_multi_perform(m, &running);
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    for (int i = 0; i < b->n; i++) {
        curl_easy_getinfo(h[i], CURLINFO_RESPONSE_CODE, &b->r[i].status);
        curl_multi_remove_handle(m, h[i]);
        curl_easy_cleanup(h[i]);
    }
    curl_multi_cleanup(m);
    return NULL;
}

static struct batch *batch_start(server *s, const char *path, int n)
{
    struct batch *b = calloc(1, sizeof *b);
    b->s = s;
    b->path = path;
    b->n = n;
    pthread_create(&b->thread, NULL, batch_main, b);
    return b;
}

static void batch_join(struct batch *b)
{
    pthread_join(b->thread, NULL);
}

/* A client reading a stream on its own thread. */
struct streamer {
    server *s;
    char path[64];
    struct response r;
    char content_type[64], cache[64], accel[16], custom[16];
    pthread_t thread;
};

static void header_copy(CURL *h, const char *name, char *out, size_t n)
{
    struct curl_header *hdr = NULL;
    out[0] = '\0';
    if (curl_easy_header(h, name, 0, CURLH_HEADER, -1, &hdr) == CURLHE_OK)
        snprintf(out, n, "%s", hdr->value);
}

static void *streamer_main(void *arg)
{
    struct streamer *c = arg;
    CURL *h = easy_for(c->s, c->path, &c->r);
    curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->r.status);
    header_copy(h, "Content-Type", c->content_type, sizeof c->content_type);
    header_copy(h, "Cache-Control", c->cache, sizeof c->cache);
    header_copy(h, "X-Accel-Buffering", c->accel, sizeof c->accel);
    header_copy(h, "X-Stream", c->custom, sizeof c->custom);
    curl_easy_cleanup(h);
    return NULL;
}

static struct streamer *streamer_start(server *s, const char *path)
{
    struct streamer *c = calloc(1, sizeof *c);
    c->s = s;
    snprintf(c->path, sizeof c->path, "%s", path);
    pthread_mutex_init(&c->r.lock, NULL);
    pthread_create(&c->thread, NULL, streamer_main, c);
    return c;
}

static struct server_defer *take_stream(void)
{
    struct server_defer *d = NULL;
    for (int i = 0; i < 1000 && !d; i++) {
        pthread_mutex_lock(&the_app.lock);
        d = the_app.stream;
        the_app.stream = NULL;
        pthread_mutex_unlock(&the_app.lock);
        if (!d)
            sleep_ms(5);
    }
    return d;
}

/* ---- raw sockets ---- */

static int raw_get(server *s, const char *path)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)server_port(s))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    if (path) {
        char req[256];
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
        send(fd, req, strlen(req), MSG_NOSIGNAL);
    }
    return fd;
}

/* Reads until needle is in what the server sent (or 5 s pass, or it closes). */
static int raw_read_until(int fd, const char *needle, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < 100 && !strstr(buf, needle); i++) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t got = recv(fd, buf + len, n - 1 - len, 0);
        if (got <= 0)
            break;
        len += (size_t)got;
        buf[len] = '\0';
    }
    return strstr(buf, needle) != NULL;
}

/* ---- metrics ---- */

static size_t on_metrics(char *data, size_t size, size_t n, void *userp)
{
    return pb_buf_append(userp, data, size * n) == PB_OK ? size * n : 0;
}

/* The value of the series line "name" (with labels) in /metrics, or -1. */
static double metric(server *s, const char *series)
{
    char url[128], needle[256];
    struct pb_buf text = {0};
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", server_port(s));
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_metrics);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &text);
    curl_easy_perform(h);
    curl_easy_cleanup(h);
    snprintf(needle, sizeof needle, "\n%s ", series);
    const char *at = text.data ? strstr(text.data, needle) : NULL;
    double v = at ? atof(at + strlen(needle)) : -1;
    pb_buf_free(&text);
    return v;
}

static const char *error_code(const char *body, char *out, size_t n)
{
    json_t *root = json_loads(body, 0, NULL);
    const char *c = "";
    json_unpack(root, "{s:{s:s}}", "error", "code", &c);
    snprintf(out, n, "%s", c);
    json_decref(root);
    return out;
}

/* ---- tests ---- */

static void test_deferred_reply_is_finished_from_another_thread_on_a_kept_connection(void)
{
    server *s = start(NULL, 0);
    struct response r = {.lock = PTHREAD_MUTEX_INITIALIZER};
    int reused = 0;
    CURL *h = curl_easy_init();
    CHECK_INT(get(h, s, "/later?ms=50", &r, NULL), 200);
    CHECK(strstr(r.body, "\"id\":") != NULL);
    CHECK_INT(get(h, s, "/later?ms=0", &r, &reused), 200);
    CHECK(reused); /* the connection is kept after a deferred answer */
    CHECK_INT(get(h, s, "/now", &r, &reused), 200);
    CHECK_STR(r.body, "{\"now\":true}");
    CHECK(reused);
    curl_easy_cleanup(h);
    CHECK_INT(metric(s, "pb_http_deferred_total{outcome=\"worker\"}"), 3);
    server_free(s);
}

static void test_200_waiting_requests_on_two_threads_while_healthz_answers(void)
{
    server *s = start(NULL, 0);
    struct batch *b = batch_start(s, "/held", 200);
    WAIT_FOR(held_count() == 200, 30000);
    CHECK_INT(held_count(), 200);
    /* Every one of them is parked without a thread: the two workers still answer. */
    double suspended = -1;
    for (int i = 0; i < 200 && suspended != 200; i++) {
        suspended = metric(s, "pb_http_suspended_connections");
        if (suspended != 200)
            sleep_ms(5);
    }
    CHECK_INT(suspended, 200);
    CHECK_INT(metric(s, "pb_http_deferred_waiting"), 200);
    CHECK(metric(s, "pb_http_connections_open") >= 201); /* theirs and the scrape's */
    CHECK_INT(get_once(s, "/healthz"), 200);
    CHECK_INT(get_once(s, "/later?ms=1"), 200);
    CHECK_INT(held_count(), 200); /* still waiting: /healthz did not wait for them */
    CHECK_INT(release_held(), 200);
    batch_join(b);
    int ok = 0, ids = 0;
    for (int i = 0; i < 200; i++) {
        ok += b->r[i].status == 200;
        ids += strstr(b->r[i].body, "{\"id\":") == b->r[i].body;
    }
    CHECK_INT(ok, 200);
    CHECK_INT(ids, 200);
    CHECK_INT(metric(s, "pb_http_suspended_connections"), 0);
    CHECK_INT(metric(s, "pb_http_deferred_total{outcome=\"worker\"}"), 201);
    free(b);
    server_free(s);
}

static void test_deadline_is_answered_504_by_the_core_and_a_late_finish_gets_0(void)
{
    server *s = start(NULL, 0);
    struct response r = {.lock = PTHREAD_MUTEX_INITIALIZER};
    char code[64];
    CURL *h = curl_easy_init();
    CHECK_INT(get(h, s, "/held?deadline=0.3", &r, NULL), 504);
    CHECK_STR(error_code(r.body, code, sizeof code), "timeout");
    WAIT_FOR(atomic_load(&the_app.cancels) == 1, 5000);
    CHECK_INT(atomic_load(&the_app.cancels), 1);
    CHECK_INT(release_held(), 0); /* the worker's late answer is dropped */
    int reused = 0;
    CHECK_INT(get(h, s, "/now", &r, &reused), 200);
    CHECK(reused);
    curl_easy_cleanup(h);
    CHECK_INT(metric(s, "pb_http_deferred_total{outcome=\"timeout\"}"), 1);
    server_free(s);
}

static void test_handler_error_after_deferring_is_answered_and_finish_gets_0(void)
{
    server *s = start(NULL, 0);
    CHECK_INT(get_once(s, "/defer-then-fail"), 409);
    CHECK(the_app.failed != NULL);
    CHECK_INT(atomic_load(&the_app.cancels), 1);
    struct server_reply reply = {0};
    server_reply_json(&reply, 200, json_pack("{}"));
    CHECK_INT(server_defer_finish(the_app.failed, &reply), 0);
    CHECK_INT(metric(s, "pb_http_deferred_total{outcome=\"handler_error\"}"), 1);
    server_free(s);
}

static void test_stream_reaches_the_client_write_by_write(void)
{
    static const char *const parts[] = {"data: one\n\n", "data: two\n\n", "data: three\n\n"};
    server *s = start(NULL, 0);
    struct streamer *c = streamer_start(s, "/stream");
    struct server_defer *d = take_stream();
    CHECK(d != NULL);
    size_t expect = 0;
    for (int i = 0; i < 2; i++) {
        /* Each write waits until the client holds the previous ones: bytes are not held back
         * until the end. */
        CHECK_INT(server_stream_write(d, parts[i], strlen(parts[i])), 1);
        expect += strlen(parts[i]);
        WAIT_FOR(body_len(&c->r) == expect, 5000);
        CHECK_INT(body_len(&c->r), expect);
        sleep_ms(50); /* a gap: the connection is suspended meanwhile */
    }
    server_stream_end(d, parts[2], strlen(parts[2]));
    pthread_join(c->thread, NULL);
    CHECK_INT(c->r.status, 200);
    CHECK_STR(c->r.body, "data: one\n\ndata: two\n\ndata: three\n\n");
    CHECK(c->r.writes >= 3);
    CHECK_STR(c->content_type, "text/event-stream");
    CHECK_STR(c->cache, "no-cache");
    CHECK_STR(c->accel, "no");
    CHECK_STR(c->custom, "yes");
    CHECK_INT(atomic_load(&the_app.cancels), 0);
    CHECK_INT(metric(s, "pb_http_deferred_total{outcome=\"worker\"}"), 1);
    free(c);
    server_free(s);
}

static void test_stream_deadline_ends_it_with_the_timeout_event(void)
{
    server *s = start(NULL, 0);
    struct streamer *c = streamer_start(s, "/stream?deadline=0.3");
    struct server_defer *d = take_stream();
    CHECK_INT(server_stream_write(d, "data: one\n\n", 11), 1);
    pthread_join(c->thread, NULL);
    CHECK_INT(c->r.status, 200);
    CHECK_STR(c->r.body, "data: one\n\n" TIMEOUT_EVENT);
    WAIT_FOR(atomic_load(&the_app.cancels) == 1, 5000); /* called just after the resume */
    CHECK_INT(atomic_load(&the_app.cancels), 1);
    CHECK_INT(server_stream_write(d, "late", 4), 0);
    server_stream_end(d, NULL, 0);
    CHECK_INT(metric(s, "pb_http_deferred_total{outcome=\"timeout\"}"), 1);
    free(c);
    server_free(s);
}

static void test_a_deferred_reply_becomes_a_stream_and_ends_at_its_deadline(void)
{
    server *s = start(NULL, 0);
    struct streamer *c = streamer_start(s, "/late-stream?deadline=1");
    struct server_defer *d = take_stream();
    sleep_ms(100); /* the connection is suspended as a deferred reply now */
    CHECK_INT(server_defer_stream(d, 200, "text/event-stream", TIMEOUT_EVENT, NULL), 1);
    CHECK_INT(server_defer_stream(d, 200, "text/event-stream", NULL, NULL), 0); /* once only */
    CHECK_INT(server_stream_write(d, "data: one\n\n", 11), 1);
    sleep_ms(50);
    CHECK_INT(server_stream_write(d, "data: two\n\n", 11), 1);
    server_stream_end(d, "data: end\n\n", 11);
    pthread_join(c->thread, NULL);
    CHECK_INT(c->r.status, 200);
    CHECK_STR(c->content_type, "text/event-stream");
    CHECK_STR(c->r.body, "data: one\n\ndata: two\n\ndata: end\n\n");
    free(c);
    /* Made a stream and never written: the deadline ends it with the timeout event. */
    c = streamer_start(s, "/late-stream?deadline=0.3");
    d = take_stream();
    CHECK_INT(server_defer_stream(d, 200, "text/event-stream", TIMEOUT_EVENT, NULL), 1);
    pthread_join(c->thread, NULL);
    CHECK_INT(c->r.status, 200);
    CHECK_STR(c->r.body, TIMEOUT_EVENT);
    CHECK_INT(server_stream_write(d, "late", 4), 0);
    server_stream_end(d, NULL, 0);
    free(c);
    server_free(s);
}

static void test_a_deferred_reply_answered_by_the_core_cannot_become_a_stream(void)
{
    server *s = start(NULL, 0);
    struct streamer *c = streamer_start(s, "/late-stream?deadline=0.2");
    struct server_defer *d = take_stream();
    pthread_join(c->thread, NULL);
    CHECK_INT(c->r.status, 504);
    CHECK_INT(server_defer_stream(d, 200, "text/event-stream", NULL, NULL), 0);
    server_defer_drop(d); /* the worker lets go; the core had answered */
    free(c);
    server_free(s);
}

static void test_client_gone_mid_stream_cancels_and_writes_get_0(void)
{
    server *s = start(NULL, 0);
    char buf[2048];
    int fd = raw_get(s, "/stream");
    struct server_defer *d = take_stream();
    CHECK_INT(server_stream_write(d, "data: one\n\n", 11), 1);
    CHECK(raw_read_until(fd, "data: one", buf, sizeof buf));
    CHECK(strncmp(buf, "HTTP/1.1 200", 12) == 0);
    close(fd); /* while the stream waits for its next bytes, suspended */
    WAIT_FOR(atomic_load(&the_app.cancels) == 1, 5000);
    CHECK_INT(atomic_load(&the_app.cancels), 1);
    CHECK_INT(server_stream_write(d, "data: two\n\n", 11), 0);
    server_stream_end(d, NULL, 0);
    double gone = -1;
    for (int i = 0; i < 100 && gone != 1; i++, sleep_ms(10))
        gone = metric(s, "pb_http_deferred_total{outcome=\"client_gone\"}");
    CHECK_INT(gone, 1);
    server_free(s);
}

static void test_client_gone_while_deferred_cancels_and_finish_gets_0(void)
{
    server *s = start(NULL, 0);
    int fd = raw_get(s, "/held");
    WAIT_FOR(held_count() == 1, 5000);
    CHECK_INT(held_count(), 1);
    close(fd);
    WAIT_FOR(atomic_load(&the_app.cancels) == 1, 5000);
    CHECK_INT(atomic_load(&the_app.cancels), 1);
    CHECK_INT(release_held(), 0);
    CHECK_INT(metric(s, "pb_http_deferred_total{outcome=\"client_gone\"}"), 1);
    server_free(s);
}

static void test_shutdown_answers_every_waiting_request_503_within_the_grace(void)
{
    server *s = start(NULL, 0);
    struct batch *b = batch_start(s, "/held", 20);
    struct streamer *c = streamer_start(s, "/stream");
    struct server_defer *d = take_stream();
    CHECK_INT(server_stream_write(d, "data: one\n\n", 11), 1);
    WAIT_FOR(held_count() == 20, 10000);
    CHECK_INT(held_count(), 20);
    CHECK_INT(server_stop(s, 5), PB_OK); /* every request completed before the grace ended */
    batch_join(b);
    pthread_join(c->thread, NULL);
    int unavailable = 0;
    char code[64];
    for (int i = 0; i < 20; i++)
        unavailable += b->r[i].status == 503 &&
                       strcmp(error_code(b->r[i].body, code, sizeof code), "shutting_down") == 0;
    CHECK_INT(unavailable, 20);
    CHECK_INT(c->r.status, 200);
    CHECK_STR(c->r.body, "data: one\n\n" SSE_SHUTDOWN);
    CHECK_INT(atomic_load(&the_app.cancels), 21);
    server_free(s);
    /* The workers let go after the server is gone: their handles outlive it. */
    CHECK_INT(server_stream_write(d, "x", 1), 0);
    server_stream_end(d, NULL, 0);
    CHECK_INT(release_held(), 0);
    free(b);
    free(c);
}

static void test_shutdown_drain_lets_a_nearly_done_request_answer_200(void)
{
    server *s = start(NULL, 0);
    struct batch *b = batch_start(s, "/later?ms=300", 1);
    WAIT_FOR(metric(s, "pb_http_deferred_waiting") == 1, 5000);
    CHECK_INT(server_stop(s, 8), PB_OK); /* drain: 1 s */
    batch_join(b);
    CHECK_INT(b->r[0].status, 200);
    free(b);
    server_free(s);
}

static void *stop_main(void *s)
{
    server_stop(s, -1); /* the grace from the settings */
    return NULL;
}

static void test_deferring_while_stopping_is_refused_503(void)
{
    const char *const settings[][2] = {{"server.shutdown_grace_s", "3"}};
    server *s = start(settings, 1);
    /* Connections opened before the stop may still send requests during it. One holds a
     * request in flight (its body not sent yet) so the stop keeps waiting meanwhile. */
    int fd = raw_get(s, NULL), busy = raw_get(s, NULL);
    send(busy, "GET /now HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n", 49, MSG_NOSIGNAL);
    struct batch *b = batch_start(s, "/held", 1);
    WAIT_FOR(held_count() == 1, 5000);
    pthread_t t;
    pthread_create(&t, NULL, stop_main, s);
    WAIT_FOR(atomic_load(&the_app.cancels) == 1, 5000); /* the sweep is done */
    char buf[2048];
    send(fd, "GET /held HTTP/1.1\r\nHost: t\r\n\r\n", 31, MSG_NOSIGNAL);
    CHECK(raw_read_until(fd, "shutting_down", buf, sizeof buf));
    CHECK(strncmp(buf, "HTTP/1.1 503", 12) == 0);
    CHECK(strstr(buf, "Connection: close") != NULL);
    send(busy, "{}", 2, MSG_NOSIGNAL);
    CHECK(raw_read_until(busy, "shutting_down", buf, sizeof buf));
    close(fd);
    close(busy);
    pthread_join(t, NULL);
    batch_join(b);
    CHECK_INT(b->r[0].status, 503);
    CHECK_INT(release_held(), 0);
    free(b);
    server_free(s);
}

static void test_past_max_connections_a_request_gets_503_not_silence(void)
{
    const char *const settings[][2] = {{"server.max_connections", "3"}};
    server *s = start(settings, 1);
    int idle[3];
    char buf[2048];
    for (int i = 0; i < 3; i++) { /* answered, so surely counted; kept open */
        idle[i] = raw_get(s, "/now");
        CHECK(raw_read_until(idle[i], "{\"now\":true}", buf, sizeof buf));
    }
    int fd = raw_get(s, "/now");
    CHECK(raw_read_until(fd, "\r\n\r\n", buf, sizeof buf));
    CHECK(strncmp(buf, "HTTP/1.1 503", 12) == 0);
    CHECK(strstr(buf, "Retry-After: 1") != NULL);
    close(fd);
    for (int i = 0; i < 3; i++)
        close(idle[i]);
    long status = 0;
    for (int i = 0; i < 100 && status != 200; i++, sleep_ms(10))
        status = get_once(s, "/now"); /* once the server has seen the closes */
    CHECK_INT(status, 200);
    server_free(s);
}

static void test_open_file_limit_is_raised_for_max_connections(void)
{
    const char *const settings[][2] = {{"server.max_connections", "3000"}};
    struct rlimit lim;
    server *s = start(settings, 1);
    getrlimit(RLIMIT_NOFILE, &lim);
    rlim_t need = 3000 * 2 + 256;
    CHECK(lim.rlim_cur >= (lim.rlim_max < need ? lim.rlim_max : need));
    server_free(s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_create(&the_app.worker, NULL, worker_main, NULL);
    RUN(test_deferred_reply_is_finished_from_another_thread_on_a_kept_connection);
    RUN(test_200_waiting_requests_on_two_threads_while_healthz_answers);
    RUN(test_deadline_is_answered_504_by_the_core_and_a_late_finish_gets_0);
    RUN(test_handler_error_after_deferring_is_answered_and_finish_gets_0);
    RUN(test_stream_reaches_the_client_write_by_write);
    RUN(test_stream_deadline_ends_it_with_the_timeout_event);
    RUN(test_a_deferred_reply_becomes_a_stream_and_ends_at_its_deadline);
    RUN(test_a_deferred_reply_answered_by_the_core_cannot_become_a_stream);
    RUN(test_client_gone_mid_stream_cancels_and_writes_get_0);
    RUN(test_client_gone_while_deferred_cancels_and_finish_gets_0);
    RUN(test_shutdown_answers_every_waiting_request_503_within_the_grace);
    RUN(test_shutdown_drain_lets_a_nearly_done_request_answer_200);
    RUN(test_deferring_while_stopping_is_refused_503);
    RUN(test_past_max_connections_a_request_gets_503_not_silence);
    RUN(test_open_file_limit_is_raised_for_max_connections);
    atomic_store(&the_app.stop, 1);
    pthread_join(the_app.worker, NULL);
    curl_global_cleanup();
    config_free(cfg);
    CHECK_DONE();
}
