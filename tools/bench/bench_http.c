/* bench_http.c — the two servers tools/bench/bench_http.sh loads with wrk: the promptbandit
 * HTTP core with one trivial JSON route (GET /bench), and, as the ceiling measured in the same
 * run, a bare libmicrohttpd daemon with the same threads and polling whose handler answers a
 * fixed body. The core also answers later, from a completer thread: GET /bench/defer?ms=N
 * (a deferred reply N ms later) and GET /bench/stream?ms=N&tokens=K (K SSE events spread over
 * N ms), to load the suspend/resume path and hold many waiting requests at once. Prints
 * "core PORT" and "raw PORT" on stdout, serves until SIGTERM or SIGINT. Also the process the
 * e2e tests start (tests/e2e_server.sh). */
#include "base/config.h"
#include "base/pb.h"
#include "http/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char RAW_BODY[] = "{\"ok\":true}";

static int h_bench(struct server_request *req, struct server_reply *reply, void *app)
{
    json_t *body = json_pack("{s:b}", "ok", 1);
    if (!body)
        return pb_errf(reply->err, PB_ERR_NOMEM, "out of memory");
    server_reply_json(reply, 200, body);
    return PB_OK;
}

/* ---- the completer: answers deferred requests and writes streams when they are due ---- */

struct pending {
    struct server_defer *d;
    double due, interval; /* monotonic; streams: between events */
    int tokens;           /* streams: events still to write; 0 for a deferred reply */
    atomic_int cancelled;
    struct pending *next;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct pending *head;
    long added; /* bumped with each push, so a push while the thread works is not missed */
    int stop;
} completer = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static void pending_cancel(void *ud)
{
    atomic_store(&((struct pending *)ud)->cancelled, 1);
}

/* Writes what is due for p; 1 when p is done (answered, ended or cancelled). */
static int pending_step(struct pending *p, double now)
{
    if (atomic_load(&p->cancelled)) {
        if (p->tokens)
            server_stream_end(p->d, NULL, 0);
        else
            server_defer_drop(p->d);
        return 1;
    }
    if (now < p->due)
        return 0;
    if (!p->tokens) {
        struct server_reply reply = {0};
        server_reply_json(&reply, 200, json_pack("{s:b}", "ok", 1));
        server_defer_finish(p->d, &reply);
        return 1;
    }
    static const char event[] = "data: {\"delta\":\"tok \"}\n\n";
    if (--p->tokens == 0) {
        server_stream_end(p->d, event, sizeof event - 1);
        return 1;
    }
    server_stream_write(p->d, event, sizeof event - 1);
    p->due += p->interval;
    return 0;
}

static void *completer_main(void *arg)
{
    pthread_mutex_lock(&completer.lock);
    while (!completer.stop) {
        struct pending *list = completer.head, *keep = NULL;
        long seen = completer.added;
        completer.head = NULL;
        pthread_mutex_unlock(&completer.lock);
        double now = pb_now_monotonic(), next = now + 0.05;
        while (list) {
            struct pending *p = list;
            list = p->next;
            if (pending_step(p, now)) {
                free(p);
                continue;
            }
            next = p->due < next ? p->due : next;
            p->next = keep;
            keep = p;
        }
        pthread_mutex_lock(&completer.lock);
        while (keep) {
            struct pending *p = keep;
            keep = p->next;
            p->next = completer.head;
            completer.head = p;
        }
        if (completer.added == seen && !completer.stop) {
            /* The default condvar clock is the wall clock: wait for a span, not an instant. */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            double wait = next - pb_now_monotonic();
            long ns = ts.tv_nsec + (wait > 0 ? (long)(wait * 1e9) : 0);
            ts.tv_sec += ns / 1000000000L;
            ts.tv_nsec = ns % 1000000000L;
            pthread_cond_timedwait(&completer.wake, &completer.lock, &ts);
        }
    }
    pthread_mutex_unlock(&completer.lock);
    return NULL;
}

static double query_number(struct server_request *req, const char *key, double fallback)
{
    const char *v = server_req_query(req, key);
    return v ? atof(v) : fallback;
}

static int h_later(struct server_request *req, struct server_reply *reply, void *app)
{
    int stream = strcmp(server_req_path(req), "/bench/stream") == 0;
    struct pending *p = calloc(1, sizeof *p);
    if (!p)
        return pb_errf(reply->err, PB_ERR_NOMEM, "out of memory");
    double ms = query_number(req, "ms", 0);
    p->tokens = stream ? (int)query_number(req, "tokens", 10) : 0;
    if (p->tokens < 0 || (stream && p->tokens == 0))
        p->tokens = 1;
    p->interval = stream ? ms / 1000 / p->tokens : 0;
    p->due = pb_now_monotonic() + (stream ? p->interval : ms / 1000);
    p->d = stream ? server_reply_stream(req, reply, 200, "text/event-stream", 0, NULL,
                                        pending_cancel, p)
                  : server_reply_defer(req, reply, 0, pending_cancel, p);
    if (!p->d) {
        free(p);
        return PB_OK; /* the reply says why */
    }
    pthread_mutex_lock(&completer.lock);
    p->next = completer.head;
    completer.head = p;
    completer.added++;
    pthread_cond_signal(&completer.wake);
    pthread_mutex_unlock(&completer.lock);
    return PB_OK;
}

static enum MHD_Result raw_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls)
{
    static int first_call_seen;
    if (!*con_cls) { /* answering on the first call would make libmicrohttpd close the
                        connection, so answer on the second like any real handler */
        *con_cls = &first_call_seen;
        return MHD_YES;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        sizeof RAW_BODY - 1, (void *)RAW_BODY, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result ok = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ok;
}

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: bench-http [--help]\n\n"
        "Starts the HTTP core (GET /bench answers {\"ok\":true}; GET /bench/defer?ms=N\n"
        "answers it N ms later from another thread; GET /bench/stream?ms=N&tokens=K sends\n"
        "K server-sent events over N ms) and a bare\n"
        "libmicrohttpd daemon on free ports (the bare one on 127.0.0.1), prints \"core PORT\" and\n"
        "\"raw PORT\", and serves until SIGTERM or SIGINT. Settings come from PB_*\n"
        "variables as for `promptbandit serve` (server.port is ignored: both use a\n"
        "free port). Driven by tools/bench/bench_http.sh and tests/e2e_server.sh.\n");
}

int main(int argc, char **argv)
{
    char err[PB_ERR_LEN];
    config *cfg = NULL;
    server *s = NULL;
    struct MHD_Daemon *raw = NULL;
    int status = 1;
    if (argc > 1) {
        usage(strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL); /* before any thread starts */
    static const struct server_route routes[] = {{"GET", "/bench", h_bench, 0},
                                                 {"GET", "/bench/defer", h_later, 0},
                                                 {"GET", "/bench/stream", h_later, 0}};
    struct server_options opt = {routes, 3, NULL, NULL, NULL, NULL};
    pthread_t completer_thread;
    pthread_create(&completer_thread, NULL, completer_main, NULL);
    if (config_load(NULL, &cfg, err) != PB_OK || config_set(cfg, "server.port", "0", err) ||
        server_new(cfg, &opt, &s, err) != PB_OK || server_start(s, err) != PB_OK) {
        fprintf(stderr, "bench-http: %s\n", err);
        goto cleanup;
    }
    long threads = config_int(cfg, "server.threads");
    struct sockaddr_in loopback = {.sin_family = AF_INET,
                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    raw = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL,
                           raw_handler, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&loopback,
                           MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(threads ? threads : 2),
                           MHD_OPTION_CONNECTION_LIMIT,
                           (unsigned)config_int(cfg, "server.max_connections"), MHD_OPTION_END);
    const union MHD_DaemonInfo *info =
        raw ? MHD_get_daemon_info(raw, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (!info) {
        fprintf(stderr, "bench-http: cannot start the bare libmicrohttpd daemon\n");
        goto cleanup;
    }
    printf("core %d\nraw %d\n", server_port(s), info->port);
    fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    status = server_stop(s, -1) == PB_OK ? 0 : 1;
cleanup:
    pthread_mutex_lock(&completer.lock);
    completer.stop = 1;
    pthread_cond_signal(&completer.wake);
    pthread_mutex_unlock(&completer.lock);
    pthread_join(completer_thread, NULL);
    while (completer.head) { /* after the stop the core has answered them all */
        struct pending *p = completer.head;
        completer.head = p->next;
        atomic_store(&p->cancelled, 1);
        pending_step(p, 0);
        free(p);
    }
    if (raw)
        MHD_stop_daemon(raw);
    server_free(s);
    config_free(cfg);
    return status;
}
