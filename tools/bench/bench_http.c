/* bench_http.c — the two servers tools/bench/bench_http.sh loads with wrk: the promptbandit
 * HTTP core with one trivial JSON route (GET /bench), and, as the ceiling measured in the same
 * run, a bare libmicrohttpd daemon with the same threads and polling whose handler answers a
 * fixed body. Prints "core PORT" and "raw PORT" on stdout, serves until SIGTERM or SIGINT.
 * Also the process the e2e tests start (tests/e2e_server.sh). */
#include "base/config.h"
#include "base/pb.h"
#include "http/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static const char RAW_BODY[] = "{\"ok\":true}";

static int h_bench(struct server_request *req, struct server_reply *reply, void *app)
{
    json_t *body = json_pack("{s:b}", "ok", 1);
    if (!body)
        return pb_errf(reply->err, PB_ERR_NOMEM, "out of memory");
    server_reply_json(reply, 200, body);
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
        "Starts the HTTP core (GET /bench answers {\"ok\":true}) and a bare\n"
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
    static const struct server_route routes[] = {{"GET", "/bench", h_bench, 0}};
    struct server_options opt = {routes, 1, NULL, NULL, NULL};
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
    if (raw)
        MHD_stop_daemon(raw);
    server_free(s);
    config_free(cfg);
    return status;
}
