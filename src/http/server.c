/* server.c — the daemon (settings, limits, start, graceful shutdown), the handler-facing API
 * (request accessors, auth, replies, deferred replies and streams, the status mapping) and the
 * built-in routes /healthz and /metrics. One request's lifecycle is httpreq's, a deferred
 * request's handle httpdefer's, the reply's wire form httpresp's and the pages webpages'. */
#include "http/server.h"

#include "base/jsonio.h"
#include "http/httpreq.h"
#include "http/httpresp.h"
#include "http/webpages.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* site comes first: a request's site pointer is also its server (the built-in routes use it). */
struct server {
    struct httpreq_site site;
    const config *cfg;
    struct server_options opt;
    struct server_route *routes; /* app routes, then the built-in ones */
    size_t n_routes;
    metrics *metrics;
    int owns_metrics;
    metrics_family *m_in_flight, *m_uptime, *m_connections, *m_suspended, *m_waiting, *m_deferred;
    httpauth *auth;
    double request_timeout;
    double started;
    struct MHD_Daemon *daemon;
    int listen_fd;
    int port;
};

static pb_status route_builtin_health(struct server_request *, struct server_reply *, void *);
static pb_status route_builtin_metrics(struct server_request *, struct server_reply *, void *);

static const struct server_route builtin_routes[] = {
    {"GET", "/healthz", route_builtin_health, 0},
    {"GET", "/metrics", route_builtin_metrics, 0},
    {"GET", "/", webpages_serve, 0},
    {"GET", "/admin", webpages_serve, 0},
    {"GET", "/static/{name}", webpages_serve, 0},
};
#define N_BUILTIN (sizeof builtin_routes / sizeof builtin_routes[0])

/* ---- status mapping ---- */

int server_http_status(pb_status rc, int had_token)
{
    switch (rc) {
    case PB_OK:
        return 200;
    case PB_ERR_INVALID:
        return 400;
    case PB_ERR_FORBIDDEN:
        return had_token ? 403 : 401;
    case PB_ERR_NOT_FOUND:
        return 404;
    case PB_ERR_CONFLICT:
        return 409;
    case PB_ERR_LIMIT:
        return 429;
    case PB_ERR_PROVIDER:
        return 502;
    case PB_ERR_UNAVAILABLE:
        return 503;
    case PB_ERR_TIMEOUT:
        return 504;
    default:
        return 500;
    }
}

/* ---- replies ---- */

void server_reply_json(struct server_reply *reply, int status, json_t *body)
{
    httpresp_clear_body(reply);
    reply->status = status;
    reply->json = body;
    reply->content_type = "application/json";
}

pb_status server_reply_text(struct server_reply *reply, int status, const char *content_type,
                            const char *data, size_t len)
{
    httpresp_clear_body(reply);
    reply->body = malloc(len + 1);
    if (!reply->body)
        return pb_errf(reply->err, PB_ERR_NOMEM, "out of memory");
    memcpy(reply->body, data, len);
    reply->body[len] = '\0';
    reply->body_len = len;
    reply->status = status;
    reply->content_type = content_type;
    return PB_OK;
}

void server_reply_owned(struct server_reply *reply, int status, const char *content_type,
                        char *data, size_t len)
{
    httpresp_clear_body(reply);
    reply->body = data;
    reply->body_len = len;
    reply->status = status;
    reply->content_type = content_type;
}

void server_reply_static(struct server_reply *reply, int status, const char *content_type,
                         const void *data, size_t len)
{
    httpresp_clear_body(reply);
    reply->body = (char *)data;
    reply->body_len = len;
    reply->body_static = 1;
    reply->status = status;
    reply->content_type = content_type;
}

pb_status server_reply_error(struct server_reply *reply, int status, const char *code,
                             const char *message)
{
    json_t *body = jsonio_error_body(code, message);
    if (!body)
        body = jsonio_error_body(code, "(message was not valid UTF-8)");
    server_reply_json(reply, status, body);
    return body ? PB_OK : PB_ERR_NOMEM;
}

pb_status server_reply_header(struct server_reply *reply, const char *name, const char *value)
{
    size_t n = strlen(name) + 1, v = strlen(value) + 1;
    char *grown = realloc(reply->headers, reply->headers_len + n + v);
    if (!grown)
        return pb_errf(reply->err, PB_ERR_NOMEM, "out of memory");
    memcpy(grown + reply->headers_len, name, n);
    memcpy(grown + reply->headers_len + n, value, v);
    reply->headers = grown;
    reply->headers_len += n + v;
    return PB_OK;
}

/* ---- deferred replies and streams (the handle is httpdefer's) ---- */

static struct server_defer *defer_open(struct server_request *req, struct server_reply *reply,
                                       const struct httpdefer_spec *spec)
{
    if (req->defer || !req->site->defer) { /* deferred twice, or not from a handler */
        server_reply_error(reply, 500, "error", "internal error");
        return NULL;
    }
    req->defer = httpdefer_open(req->site->defer, req->conn, spec, reply);
    return req->defer;
}

struct server_defer *server_reply_defer(struct server_request *req, struct server_reply *reply,
                                        double deadline_s, void (*on_cancel)(void *ud), void *ud)
{
    struct httpdefer_spec spec = {.deadline_s = deadline_s, .on_cancel = on_cancel, .ud = ud};
    return defer_open(req, reply, &spec);
}

struct server_defer *server_reply_stream(struct server_request *req, struct server_reply *reply,
                                         int status, const char *content_type, double deadline_s,
                                         const char *timeout_event, void (*on_cancel)(void *ud),
                                         void *ud)
{
    struct httpdefer_spec spec = {.deadline_s = deadline_s,
                                  .on_cancel = on_cancel,
                                  .ud = ud,
                                  .stream = 1,
                                  .status = status,
                                  .content_type = content_type,
                                  .timeout_event = timeout_event};
    return defer_open(req, reply, &spec);
}

int server_defer_finish(struct server_defer *d, struct server_reply *reply)
{
    return httpdefer_finish(d, reply);
}

void server_defer_drop(struct server_defer *d)
{
    httpdefer_drop(d);
}

double server_defer_deadline(const struct server_defer *d)
{
    return httpdefer_deadline(d);
}

int server_defer_stream(struct server_defer *d, int status, const char *content_type,
                        const char *timeout_event, struct server_reply *head)
{
    return httpdefer_to_stream(d, status, content_type, timeout_event, head);
}

int server_stream_write(struct server_defer *d, const char *data, size_t len)
{
    return httpdefer_write(d, data, len);
}

void server_stream_end(struct server_defer *d, const char *data, size_t len)
{
    httpdefer_end(d, data, len);
}

/* ---- request accessors (the fields are httpreq's) ---- */

const char *server_req_method(const struct server_request *req)
{
    return req->method;
}

const char *server_req_path(const struct server_request *req)
{
    return req->path;
}

const char *server_req_route(const struct server_request *req)
{
    return req->route ? req->route->pattern : "unmatched";
}

const char *server_req_param(const struct server_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_params; i++)
        if (strlen(name) == req->param_lens[i] &&
            strncmp(req->param_names[i], name, req->param_lens[i]) == 0)
            return req->params[i];
    return NULL;
}

const char *server_req_query(const struct server_request *req, const char *key)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *server_req_header(const struct server_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *server_req_body(const struct server_request *req, size_t *len)
{
    if (len)
        *len = req->body.len;
    return req->body.data ? req->body.data : "";
}

const char *server_req_client_ip(const struct server_request *req)
{
    return req->ip;
}

pb_status server_req_json(struct server_request *req, struct server_reply *reply, json_t **out)
{
    const char *ct = server_req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
    size_t n = strlen("application/json");
    *out = NULL;
    if (!ct || strncasecmp(ct, "application/json", n) != 0 || (ct[n] && ct[n] != ';')) {
        server_reply_error(reply, 415, "invalid",
                           "Content-Type must be application/json for this endpoint");
        return PB_ERR_INVALID;
    }
    pb_status rc =
        jsonio_parse_object(req->body.data ? req->body.data : "", req->body.len, out, reply->err);
    if (rc != PB_OK)
        server_reply_error(reply, 400, pb_status_name(rc), reply->err);
    return rc;
}

pb_status server_req_json_fields(struct server_request *req, struct server_reply *reply,
                                 const char *const *fields, size_t n, json_t **out)
{
    pb_status rc = server_req_json(req, reply, out);
    if (rc == PB_OK && (rc = jsonio_check_fields(*out, fields, n, reply->err)) != PB_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

pb_status server_req_param_id(const struct server_request *req, const char *name, int64_t *out,
                              char *err)
{
    const char *v = server_req_param(req, name);
    char *end;
    long long n = v ? strtoll(v, &end, 10) : 0;
    if (!v || !*v || *end || n <= 0)
        return pb_errf(err, PB_ERR_INVALID, "'%s' in the path must be a positive integer", name);
    *out = n;
    return PB_OK;
}

/* ---- auth ---- */

static const char *bearer_token(const struct server_request *req)
{
    return httpauth_bearer(server_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION));
}

const char *server_req_user(const struct server_request *req)
{
    return httpauth_user_of(req->site->auth, bearer_token(req));
}

pb_status server_auth_admin(const struct server_request *req, char *err)
{
    return httpauth_check_admin(req->site->auth, bearer_token(req), err);
}

pb_status server_auth_user(const struct server_request *req, const char *user_id, char *err)
{
    return httpauth_check_user(req->site->auth, bearer_token(req), user_id,
                               config_bool(req->site->cfg, "server.open_chat"), err);
}

pb_status server_auth_owner(const struct server_request *req, const char *user_id, char *err)
{
    return httpauth_check_user(req->site->auth, bearer_token(req), user_id, 0, err);
}

/* ---- built-in routes ---- */

static pb_status route_builtin_health(struct server_request *req, struct server_reply *reply,
                                      void *app)
{
    server *s = (server *)req->site; /* site is the first member */
    json_t *body = json_pack("{s:s,s:s,s:I}", "status", "ok", "version", PB_VERSION, "uptime_s",
                             (json_int_t)(pb_now_monotonic() - s->started));
    if (!body)
        return pb_errf(reply->err, PB_ERR_NOMEM, "out of memory");
    int status = 200;
    if (s->opt.health && s->opt.health(body, app, reply->err) != PB_OK) {
        json_object_set_new(body, "status", json_string("degraded"));
        json_object_set_new(body, "error", json_string(reply->err));
        status = 503;
    }
    server_reply_json(reply, status, body);
    return PB_OK;
}

static pb_status route_builtin_metrics(struct server_request *req, struct server_reply *reply,
                                       void *app)
{
    server *s = (server *)req->site; /* site is the first member */
    char *text = NULL;
    size_t len = 0;
    metrics_set(s->m_uptime, NULL, pb_now_monotonic() - s->started);
    metrics_set(s->m_in_flight, NULL, atomic_load(&s->site.in_flight)); /* sampled, not counted */
    metrics_set(s->m_connections, NULL, (double)atomic_load(&s->site.connections));
    metrics_set(s->m_suspended, NULL, (double)httpdefer_suspended(s->site.defer));
    metrics_set(s->m_waiting, NULL, (double)httpdefer_waiting(s->site.defer));
    if (s->opt.before_metrics)
        s->opt.before_metrics(app);
    pb_status rc = metrics_render(s->metrics, &text, &len, reply->err);
    if (rc != PB_OK)
        return rc;
    httpresp_clear_body(reply);
    reply->body = text; /* handed over without a copy */
    reply->body_len = len;
    reply->status = 200;
    reply->content_type = "text/plain; version=0.0.4; charset=utf-8";
    return PB_OK;
}

/* ---- lifecycle ---- */

static pb_status register_metrics(server *s, char *err)
{
    static const char *const labels[] = {"route", "method", "status"};
    pb_status rc = metrics_counter(s->metrics, "pb_http_requests_total",
                                   "HTTP requests answered, by route pattern, method and status",
                                   labels, 3, &s->site.m_requests, err);
    if (rc == PB_OK)
        rc = metrics_histogram(s->metrics, "pb_http_request_duration_seconds",
                               "time from request headers to the end of the reply", labels, 3,
                               metrics_latency_buckets, metrics_latency_buckets_count,
                               &s->site.m_duration, err);
    if (rc == PB_OK)
        rc =
            metrics_gauge(s->metrics, "pb_http_requests_in_flight",
                          "requests received and not yet completed", NULL, 0, &s->m_in_flight, err);
    if (rc == PB_OK)
        rc = metrics_gauge(s->metrics, "pb_uptime_seconds", "seconds since the server started",
                           NULL, 0, &s->m_uptime, err);
    if (rc == PB_OK)
        rc = metrics_gauge(s->metrics, "pb_http_connections_open",
                           "open connections (server.max_connections bounds them)", NULL, 0,
                           &s->m_connections, err);
    if (rc == PB_OK)
        rc = metrics_gauge(s->metrics, "pb_http_suspended_connections",
                           "connections parked while their answer or next stream bytes wait", NULL,
                           0, &s->m_suspended, err);
    if (rc == PB_OK)
        rc = metrics_gauge(s->metrics, "pb_http_deferred_waiting",
                           "deferred requests and streams not answered or ended yet", NULL, 0,
                           &s->m_waiting, err);
    if (rc == PB_OK)
        rc = metrics_counter(s->metrics, "pb_http_deferred_total",
                             "deferred requests and streams by who ended them: worker, timeout, "
                             "shutdown, client_gone, handler_error",
                             (const char *const[]){"outcome"}, 1, &s->m_deferred, err);
    return rc;
}

pb_status server_new(const config *cfg, const struct server_options *opt, server **out, char *err)
{
    pb_status rc = PB_OK;
    server *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    s->cfg = cfg;
    s->opt = *opt;
    s->listen_fd = -1;
    s->site.max_body = (size_t)config_int(cfg, "server.max_body_bytes");
    s->site.max_connections = config_int(cfg, "server.max_connections");
    s->request_timeout = (double)config_int(cfg, "server.request_timeout_s");
    s->n_routes = opt->n_routes + N_BUILTIN;
    s->routes = malloc(s->n_routes * sizeof *s->routes);
    s->metrics = opt->metrics;
    if (!s->metrics) {
        s->metrics = metrics_new();
        s->owns_metrics = 1;
    }
    if (!s->routes || !s->metrics) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    if (opt->n_routes)
        memcpy(s->routes, opt->routes, opt->n_routes * sizeof *s->routes);
    memcpy(s->routes + opt->n_routes, builtin_routes, sizeof builtin_routes);
    if ((rc = httpauth_new(config_str(cfg, "server.admin_token"),
                           config_str(cfg, "server.user_tokens"), &s->auth, err)) != PB_OK ||
        (rc = register_metrics(s, err)) != PB_OK ||
        (rc = accesslog_open(config_str(cfg, "server.access_log"), &s->site.access_log, err)) !=
            PB_OK)
        goto cleanup;
    s->site.cfg = cfg;
    s->site.routes = s->routes;
    s->site.n_routes = s->n_routes;
    s->site.app = opt->app;
    s->site.auth = s->auth;
    *out = s;
    s = NULL;
cleanup:
    server_free(s);
    return rc;
}

/* Resolves server.host (numeric IPv4 or IPv6) with server.port into addr. */
static pb_status bind_address(const server *s, struct sockaddr_storage *addr, int *v6, char *err)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_PASSIVE, .ai_socktype = SOCK_STREAM},
                    *res = NULL;
    const char *host = config_str(s->cfg, "server.host");
    char port[16];
    snprintf(port, sizeof port, "%ld", config_int(s->cfg, "server.port"));
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0)
        return pb_errf(err, PB_ERR_INVALID, "server.host '%s' is not a numeric address: %s", host,
                       gai_strerror(gai));
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return PB_OK;
}

/* Every connection may have a provider socket behind it, plus the database, the logs and the
 * listening socket: the descriptors server.max_connections needs. */
static rlim_t descriptors_needed(long max_connections)
{
    return (rlim_t)max_connections * 2 + 256;
}

/* Raises the open-file soft limit to the hard limit when it is below what the connection
 * limit needs, and says so on stderr (also when even the hard limit is too low). */
static void raise_descriptor_limit(long max_connections)
{
    struct rlimit lim;
    rlim_t need = descriptors_needed(max_connections);
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= need)
        return;
    rlim_t was = lim.rlim_cur;
    lim.rlim_cur = lim.rlim_max == RLIM_INFINITY ? need : lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &lim) == 0)
        fprintf(stderr, "promptbandit: raised the open-file limit from %llu to %llu\n",
                (unsigned long long)was, (unsigned long long)lim.rlim_cur);
    else
        lim.rlim_cur = was;
    if (lim.rlim_cur < need)
        fprintf(stderr,
                "promptbandit: the open-file limit %llu is below the %llu that "
                "server.max_connections=%ld needs; connections past it will fail\n",
                (unsigned long long)lim.rlim_cur, (unsigned long long)need, max_connections);
}

/* Stops what server_start started before the daemon (on its failure, or after the daemon). */
static void stop_helpers(server *s)
{
    httpdefer_stop(s->site.defer);
    s->site.defer = NULL;
    deadline_stop(s->site.deadline); /* every connection is closed and untracked by now */
    s->site.deadline = NULL;
}

pb_status server_start(server *s, char *err)
{
    struct sockaddr_storage addr;
    int v6 = 0;
    pb_status rc = bind_address(s, &addr, &v6, err);
    if (rc != PB_OK)
        return rc;
    long threads = config_int(s->cfg, "server.threads");
    if (threads == 0)
        threads = sysconf(_SC_NPROCESSORS_ONLN) > 0 ? sysconf(_SC_NPROCESSORS_ONLN) : 1;
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
    if (v6)
        flags |= MHD_USE_IPv6;
    /* libmicrohttpd splits its limit evenly across the pool's threads and closes a connection
     * over its thread's share without a word; giving each thread the whole limit leaves the
     * total to the core, which answers 503 past it (httpreq). */
    long max_connections = s->site.max_connections;
    unsigned mhd_limit = (unsigned)(max_connections * threads);
    raise_descriptor_limit(max_connections);
    s->started = pb_now_monotonic();
    atomic_store(&s->site.stopping, 0);
    if ((rc = deadline_start(s->request_timeout, &s->site.deadline, err)) != PB_OK ||
        (rc = httpdefer_start(s->request_timeout, s->m_deferred, &s->site.defer, err)) != PB_OK) {
        stop_helpers(s);
        return rc;
    }
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, httpreq_on_access, &s->site, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)config_int(s->cfg, "server.connection_memory_kb") * 1024,
        MHD_OPTION_CONNECTION_LIMIT, mhd_limit, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)config_int(s->cfg, "server.per_ip_connections"), MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)config_int(s->cfg, "server.idle_timeout_s"), MHD_OPTION_NOTIFY_COMPLETED,
        httpreq_on_completed, &s->site, MHD_OPTION_NOTIFY_CONNECTION, httpreq_on_connection,
        &s->site, MHD_OPTION_END);
    if (!s->daemon) {
        stop_helpers(s);
        return pb_errf(err, PB_ERR_IO, "cannot listen on %s:%ld: %s",
                       config_str(s->cfg, "server.host"), config_int(s->cfg, "server.port"),
                       errno ? strerror(errno) : "libmicrohttpd refused the settings");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    return PB_OK;
}

int server_port(const server *s)
{
    return s->port;
}

metrics *server_metrics(server *s)
{
    return s->metrics;
}

pb_status server_stop(server *s, double grace_s)
{
    pb_status rc = PB_OK;
    if (!s || !s->daemon)
        return PB_OK;
    if (grace_s < 0)
        grace_s = config_double(s->cfg, "server.shutdown_grace_s");
    atomic_store(&s->site.stopping, 1);
    s->listen_fd = MHD_quiesce_daemon(s->daemon);
    double give_up = pb_now_monotonic() + grace_s;
    /* A commit waiting on fsync finishes in the drain; a provider call is cancelled (503). */
    httpdefer_shutdown(s->site.defer, grace_s / 4 < 1 ? grace_s / 4 : 1);
    while (atomic_load(&s->site.in_flight) > 0 && pb_now_monotonic() < give_up) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&s->site.in_flight) > 0)
        rc = PB_ERR_TIMEOUT;
    /* The daemon must never stop with a suspended connection (it aborts): the resumes still
     * owed were all decided by the shutdown sweep and are moments away. */
    while (httpdefer_suspended(s->site.defer) > 0) {
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    s->listen_fd = -1;
    stop_helpers(s);
    return rc;
}

pb_status server_run_until_signal(server *s, char *err)
{
    sigset_t stop_signals, old;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &old);
    pb_status rc = server_start(s, err);
    if (rc == PB_OK) {
        int sig = 0;
        sigwait(&stop_signals, &sig);
        rc = server_stop(s, -1);
        if (rc != PB_OK)
            pb_errf(err, rc, "stopped with requests still running after %g s",
                    config_double(s->cfg, "server.shutdown_grace_s"));
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

void server_free(server *s)
{
    if (!s)
        return;
    server_stop(s, 0);
    httpauth_free(s->auth);
    accesslog_close(s->site.access_log);
    if (s->owns_metrics)
        metrics_free(s->metrics);
    free(s->routes);
    free(s);
}
