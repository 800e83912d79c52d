/* loadgen.c — a bounded load generator for the service's waiting requests: N concurrent POSTs
 * (chat turns, plain or streaming) through one libcurl multi handle, while a probe thread
 * measures how fast /healthz, POST /v1/choose and POST /v1/feedback answer meanwhile. Reports
 * every request's outcome, counting the ones that got no HTTP answer at all, as JSON on stdout.
 * Talks only to the URL it is given (loopback in the benchmarks); every loop is bounded by
 * count and by --timeout-s. A benchmark tool, not a test: tools/bench/bench_chat_load.sh runs it.
 *   loadgen --url http://127.0.0.1:PORT [--path /v1/chat] [--concurrency 64] [--requests 64]
 *           [--stream] [--openai] [--probe-ms 50] [--timeout-s 60] [--message TEXT]
 * --openai sends the OpenAI Chat Completions body to /v1/chat/completions instead. */
#include "benchstat.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct opts {
    const char *url, *path, *message;
    int concurrency, requests, stream, openai, probe_ms;
    double timeout_s;
};

struct xfer {
    CURL *easy;
    struct curl_slist *headers;
    char body[512];
    double start, first_byte, end;
    size_t bytes;
    int done_event; /* streams: the final event arrived */
    long status;    /* 0: no HTTP answer */
    char tail[64];  /* the last bytes seen, to find the final event across reads */
    char head[160]; /* the first bytes of the answer, shown for the first failed request */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static json_t *summary(double *v, size_t n)
{
    qsort(v, n, sizeof *v, benchstat_cmp_double);
    return json_pack("{s:I, s:f, s:f, s:f, s:f}", "n", (json_int_t)n, "p50_ms",
                     1e3 * benchstat_quantile(v, n, 0.5), "p90_ms",
                     1e3 * benchstat_quantile(v, n, 0.9), "p99_ms",
                     1e3 * benchstat_quantile(v, n, 0.99), "max_ms", n ? 1e3 * v[n - 1] : 0.0);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    if (x->bytes == 0) {
        x->first_byte = now_s();
        snprintf(x->head, sizeof x->head, "%.*s", (int)(len < 159 ? len : 159), p);
    }
    x->bytes += len;
    /* The stream's final event is "event: done"; look across the read boundary. */
    char buf[64 + 512];
    size_t keep = strlen(x->tail), take = len < 512 ? len : 512;
    memcpy(buf, x->tail, keep);
    memcpy(buf + keep, p + len - take, take);
    buf[keep + take] = '\0';
    if (strstr(buf, "event: done") || strstr(buf, "[DONE]"))
        x->done_event = 1;
    size_t t = keep + take < sizeof x->tail - 1 ? keep + take : sizeof x->tail - 1;
    memmove(x->tail, buf + keep + take - t, t);
    x->tail[t] = '\0';
    return len;
}

/* ---- probes: one thread, blocking requests, one round every probe_ms ---- */

struct probes {
    const struct opts *o;
    volatile int stop;
    double *healthz, *choose, *feedback;
    size_t n_healthz, n_choose, n_feedback, cap;
    long failures;
};

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    FILE *f = ud;
    return fwrite(p, size, n, f) * size;
}

/* One request; the elapsed seconds, or -1 when it did not answer 2xx. body_out may be NULL. */
static double probe_one(const struct opts *o, const char *method, const char *path,
                        const char *body, char **body_out)
{
    char url[512], *data = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&data, &len);
    CURL *e = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    snprintf(url, sizeof url, "%s%s", o->url, path);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (body)
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, mem);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(o->timeout_s * 1000));
    double t0 = now_s();
    CURLcode rc = curl_easy_perform(e);
    double dt = now_s() - t0;
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    curl_slist_free_all(h);
    fclose(mem);
    if (body_out)
        *body_out = data;
    else
        free(data);
    return rc == CURLE_OK && status >= 200 && status < 300 ? dt : -1;
}

static void *probe_main(void *ud)
{
    struct probes *p = ud;
    const struct opts *o = p->o;
    for (size_t round = 0; !p->stop && round < p->cap; round++) {
        char *answer = NULL, fb[256];
        double t = probe_one(o, "GET", "/healthz", NULL, NULL);
        if (t >= 0)
            p->healthz[p->n_healthz++] = t;
        else
            p->failures++;
        t = probe_one(o, "POST", "/v1/choose", "{\"user_id\":\"probe\"}", &answer);
        json_t *j = t >= 0 ? json_loads(answer ? answer : "", 0, NULL) : NULL;
        free(answer);
        json_int_t id = json_integer_value(json_object_get(j, "impression_id"));
        json_decref(j);
        if (t >= 0 && id > 0) {
            p->choose[p->n_choose++] = t;
            snprintf(fb, sizeof fb,
                     "{\"impression_id\":%lld,\"user_id\":\"probe\",\"kind\":\"like\"}",
                     (long long)id);
            t = probe_one(o, "POST", "/v1/feedback", fb, NULL);
            if (t >= 0)
                p->feedback[p->n_feedback++] = t;
            else
                p->failures++;
        } else {
            p->failures++;
        }
        usleep((useconds_t)o->probe_ms * 1000);
    }
    return NULL;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.path = "/v1/chat",
                       .message = "오늘 너무 힘들었어",
                       .concurrency = 64,
                       .requests = 64,
                       .probe_ms = 50,
                       .timeout_s = 60};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: loadgen --url URL [--path /v1/chat] [--concurrency N] [--requests N]\n"
                   "               [--stream] [--openai] [--probe-ms MS] [--timeout-s S] "
                   "[--message TEXT]\n"
                   "N concurrent POSTs of {\"user_id\", \"message\"} (stream: true with "
                   "--stream) while\nprobes time /healthz, /v1/choose and /v1/feedback; JSON "
                   "report on stdout.\n--openai: {\"model\", \"messages\", \"user\"} to "
                   "/v1/chat/completions (unless --path).\n");
            return 0;
        } else if (!strcmp(a, "--stream")) {
            o->stream = 1;
            continue;
        } else if (!strcmp(a, "--openai")) {
            o->openai = 1;
            if (!strcmp(o->path, "/v1/chat"))
                o->path = "/v1/chat/completions";
            continue;
        } else if (!v) {
            fprintf(stderr, "loadgen: %s needs a value (see --help)\n", a);
            return 2;
        } else if (!strcmp(a, "--url")) {
            o->url = v;
        } else if (!strcmp(a, "--path")) {
            o->path = v;
        } else if (!strcmp(a, "--message")) {
            o->message = v;
        } else if (!strcmp(a, "--concurrency")) {
            o->concurrency = atoi(v);
        } else if (!strcmp(a, "--requests")) {
            o->requests = atoi(v);
        } else if (!strcmp(a, "--probe-ms")) {
            o->probe_ms = atoi(v);
        } else if (!strcmp(a, "--timeout-s")) {
            o->timeout_s = atof(v);
        } else {
            fprintf(stderr, "loadgen: unknown option %s (see --help)\n", a);
            return 2;
        }
        i++;
    }
    if (!o->url || o->concurrency < 1 || o->requests < 1 || o->concurrency > 20000 ||
        o->requests > 100000 || o->probe_ms < 1 || !(o->timeout_s > 0)) {
        fprintf(stderr, "loadgen: give --url, and concurrency/requests in 1..20000/100000\n");
        return 2;
    }
    return -1;
}

static void start_xfer(CURLM *m, const struct opts *o, struct xfer *x, int index)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", o->url, o->path);
    json_t *b = o->openai
                    ? json_pack("{s:s, s:[{s:s, s:s}], s:s}", "model", "promptbandit/default",
                                "messages", "role", "user", "content", o->message, "user", "load")
                    : json_pack("{s:s, s:s}", "user_id", "load", "message", o->message);
    if (o->stream) /* only then: an unknown field is a 400 for a service without streaming */
        json_object_set_new(b, "stream", json_true());
    char *text = json_dumps(b, JSON_COMPACT);
    snprintf(x->body, sizeof x->body, "%s", text ? text : "{}");
    free(text);
    json_decref(b);
    (void)index;
    x->easy = curl_easy_init();
    x->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (o->stream)
        x->headers = curl_slist_append(x->headers, "Accept: text/event-stream");
    curl_easy_setopt(x->easy, CURLOPT_URL, url);
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body);
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, (long)(o->timeout_s * 1000));
    x->start = now_s();
    curl_multi_add_handle(m, x->easy);
}

int main(int argc, char **argv)
{
    struct opts o;
    int code = parse_args(argc, argv, &o);
    if (code >= 0)
        return code;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct xfer *xs = calloc((size_t)o.requests, sizeof *xs);
    size_t cap = (size_t)(o.timeout_s * 1000 / o.probe_ms) + 2;
    struct probes p = {.o = &o,
                       .cap = cap,
                       .healthz = calloc(cap, sizeof(double)),
                       .choose = calloc(cap, sizeof(double)),
                       .feedback = calloc(cap, sizeof(double))};
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)o.concurrency);
    pthread_t probe_thread;
    if (!xs || !p.healthz || !p.choose || !p.feedback || !m ||
        pthread_create(&probe_thread, NULL, probe_main, &p) != 0) {
        fprintf(stderr, "loadgen: out of memory or threads\n");
        return 1;
    }
    double t0 = now_s();
    int started = 0, running = 0, finished = 0;
    while (finished < o.requests && now_s() - t0 < o.timeout_s + 5) {
        while (started < o.requests && started - finished < o.concurrency)
            start_xfer(m, &o, &xs[started], started), started++;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct xfer *x;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            x->end = now_s();
            if (msg->data.result == CURLE_OK)
                curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
            curl_multi_remove_handle(m, x->easy);
            curl_easy_cleanup(x->easy);
            curl_slist_free_all(x->headers);
            x->easy = NULL;
            finished++;
        }
        curl_multi_poll(m, NULL, 0, 50, NULL);
    }
    double wall = now_s() - t0;
    p.stop = 1;
    pthread_join(probe_thread, NULL);

    json_t *by_status = json_object();
    double *lat = calloc((size_t)o.requests, sizeof *lat),
           *ttfb = calloc((size_t)o.requests, sizeof *ttfb);
    size_t n_lat = 0, n_ttfb = 0;
    long streams_done = 0, unanswered = 0;
    const char *first_error = NULL;
    for (int i = 0; i < o.requests; i++) {
        struct xfer *x = &xs[i];
        if (x->easy) { /* still running at the time limit */
            curl_multi_remove_handle(m, x->easy);
            curl_easy_cleanup(x->easy);
            curl_slist_free_all(x->headers);
        }
        char key[16];
        snprintf(key, sizeof key, "%ld", x->status);
        json_object_set_new(by_status, key,
                            json_integer(json_integer_value(json_object_get(by_status, key)) + 1));
        unanswered += x->status == 0;
        if (!first_error && (x->status < 200 || x->status >= 300))
            first_error = x->head;
        if (x->status >= 200 && x->status < 300 && x->end > 0)
            lat[n_lat++] = x->end - x->start;
        if (x->first_byte > 0)
            ttfb[n_ttfb++] = x->first_byte - x->start;
        streams_done += x->done_event;
    }
    json_t *report = json_pack(
        "{s:s, s:i, s:i, s:b, s:f, s:o, s:I, s:o, s:o, s:I, s:{s:o, s:o, s:o, s:I}}", "path",
        o.path, "concurrency", o.concurrency, "requests", o.requests, "stream", o.stream, "wall_s",
        wall, "by_status", by_status, "unanswered", (json_int_t)unanswered, "latency_2xx",
        summary(lat, n_lat), "first_byte", summary(ttfb, n_ttfb), "streams_completed",
        (json_int_t)streams_done, "probes", "healthz", summary(p.healthz, p.n_healthz), "choose",
        summary(p.choose, p.n_choose), "feedback", summary(p.feedback, p.n_feedback), "failures",
        (json_int_t)p.failures);
    if (first_error)
        json_object_set_new(report, "first_error", json_string(first_error));
    char *text = json_dumps(report, JSON_INDENT(2));
    puts(text ? text : "{}");
    free(text);
    json_decref(report);
    free(lat);
    free(ttfb);
    free(xs);
    free(p.healthz);
    free(p.choose);
    free(p.feedback);
    curl_multi_cleanup(m);
    curl_global_cleanup();
    return 0;
}
