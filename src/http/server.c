/* server.c — libmicrohttpd daemon, request lifecycle, routing, auth, replies, /healthz and
 * /metrics (the pages are webpages'; the reply's wire form and headers are httpresp's).
 * Lifecycle of one request: the access callback is called once with the headers (request
 * struct created, route and auth decided, oversized Content-Length refused), then once per
 * body chunk (counted against the hard limit, never buffered past it), then once more to run
 * the handler; the completion callback counts metrics, writes the access-log line and frees
 * the struct — the only place it is freed. The request deadline while a request is still
 * being received is the deadline module's watchdog (libmicrohttpd only measures idleness). */
#include "http/server.h"

#include "http/accesslog.h"
#include "http/deadline.h"
#include "http/httpauth.h"
#include "http/httpresp.h"
#include "base/jsonio.h"
#include "http/route.h"
#include "base/text.h"
#include "http/webpages.h"

#include <arpa/inet.h>
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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct server {
    const config *cfg;
    struct server_options opt;
    struct server_route *routes; /* app routes, then the built-in ones */
    size_t n_routes;
    metrics *metrics;
    int owns_metrics;
    metrics_family *m_requests, *m_duration, *m_in_flight, *m_uptime;
    accesslog *access_log;
    httpauth *auth;
    size_t max_body;
    double request_timeout;
    double started;
    struct MHD_Daemon *daemon;
    int listen_fd;
    int port;
    atomic_int in_flight;
    atomic_int stopping;
    deadline *deadline;
};

struct server_request {
    server *srv;
    struct MHD_Connection *conn;
    deadline_conn *track;
    const struct server_route *route;
    char method[16];
    char *path;
    const char *param_names[ROUTE_MAX_PARAMS]; /* into route->pattern, length in param_lens */
    size_t param_lens[ROUTE_MAX_PARAMS];
    char *params[ROUTE_MAX_PARAMS];
    size_t n_params;
    struct pb_buf body; /* at most srv->max_body bytes */
    int too_large;
    double start;
    char ip[INET6_ADDRSTRLEN];
    int status;
    size_t bytes_out;
    char internal_error[PB_ERR_LEN]; /* for the access log only, never sent */
};

static int route_builtin_health(struct server_request *, struct server_reply *, void *);
static int route_builtin_metrics(struct server_request *, struct server_reply *, void *);

static const struct server_route builtin_routes[] = {
    {"GET", "/healthz", route_builtin_health, 0},
    {"GET", "/metrics", route_builtin_metrics, 0},
    {"GET", "/", webpages_serve, 0},
    {"GET", "/admin", webpages_serve, 0},
    {"GET", "/static/{name}", webpages_serve, 0},
};
#define N_BUILTIN (sizeof builtin_routes / sizeof builtin_routes[0])

/* ---- status mapping ---- */

int server_http_status(int rc, int had_token)
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

static void reply_clear_body(struct server_reply *reply)
{
    json_decref(reply->json);
    reply->json = NULL;
    if (!reply->body_static)
        free(reply->body);
    reply->body = NULL;
    reply->body_len = 0;
    reply->body_static = 0;
}

void server_reply_json(struct server_reply *reply, int status, json_t *body)
{
    reply_clear_body(reply);
    reply->status = status;
    reply->json = body;
    reply->content_type = "application/json";
}

int server_reply_text(struct server_reply *reply, int status, const char *content_type,
                      const char *data, size_t len)
{
    reply_clear_body(reply);
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

void server_reply_static(struct server_reply *reply, int status, const char *content_type,
                         const void *data, size_t len)
{
    reply_clear_body(reply);
    reply->body = (char *)data;
    reply->body_len = len;
    reply->body_static = 1;
    reply->status = status;
    reply->content_type = content_type;
}

int server_reply_error(struct server_reply *reply, int status, const char *code,
                       const char *message)
{
    json_t *body = jsonio_error_body(code, message);
    if (!body)
        body = jsonio_error_body(code, "(message was not valid UTF-8)");
    server_reply_json(reply, status, body);
    return body ? PB_OK : PB_ERR_NOMEM;
}

int server_reply_header(struct server_reply *reply, const char *name, const char *value)
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

static void reply_release(struct server_reply *reply)
{
    reply_clear_body(reply);
    free(reply->headers);
}

/* ---- request accessors ---- */

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

int server_req_json(struct server_request *req, struct server_reply *reply, json_t **out)
{
    const char *ct = server_req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
    size_t n = strlen("application/json");
    *out = NULL;
    if (!ct || strncasecmp(ct, "application/json", n) != 0 || (ct[n] && ct[n] != ';')) {
        server_reply_error(reply, 415, "invalid",
                           "Content-Type must be application/json for this endpoint");
        return PB_ERR_INVALID;
    }
    int rc =
        jsonio_parse_object(req->body.data ? req->body.data : "", req->body.len, out, reply->err);
    if (rc != PB_OK)
        server_reply_error(reply, 400, pb_status_name(rc), reply->err);
    return rc;
}

/* ---- auth ---- */

static const char *bearer_token(const struct server_request *req)
{
    return httpauth_bearer(server_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION));
}

const char *server_req_user(const struct server_request *req)
{
    return httpauth_user_of(req->srv->auth, bearer_token(req));
}

int server_auth_admin(const struct server_request *req, char *err)
{
    return httpauth_check_admin(req->srv->auth, bearer_token(req), err);
}

int server_auth_user(const struct server_request *req, const char *user_id, char *err)
{
    return httpauth_check_user(req->srv->auth, bearer_token(req), user_id,
                               config_bool(req->srv->cfg, "server.open_chat"), err);
}

int server_auth_owner(const struct server_request *req, const char *user_id, char *err)
{
    return httpauth_check_user(req->srv->auth, bearer_token(req), user_id, 0, err);
}

/* The core's check of a route's flags before its handler may run. */
static int auth_route(const struct server_request *req, char *err)
{
    unsigned flags = req->route->flags;
    const char *user_id = server_req_param(req, "user_id");
    if (flags & SERVER_ADMIN)
        return server_auth_admin(req, err);
    if (flags & SERVER_OWNER)
        return user_id ? server_auth_owner(req, user_id, err)
                       : pb_errf(err, PB_ERR_FORBIDDEN, "route has no {user_id} to own");
    if (flags & SERVER_USER)
        return server_auth_user(req, user_id, err);
    return PB_OK;
}

/* ---- routing ---- */

/* Finds the route for req->method and req->path and copies its params into req. Returns 0 on
 * success, 404 when no pattern matches, 405 when only other methods do (allow gets them). */
static int route_find(struct server_request *req, char *allow, size_t allow_len)
{
    struct route_params params;
    allow[0] = '\0';
    for (size_t i = 0; i < req->srv->n_routes; i++) {
        const struct server_route *r = &req->srv->routes[i];
        if (!route_match(r->pattern, req->path, &params))
            continue;
        if (!route_method_allows(r->method, req->method)) {
            const char *m = strcmp(r->method, "GET") == 0 ? "GET, HEAD" : r->method;
            if (!strstr(allow, r->method) && strlen(allow) + strlen(m) + 3 < allow_len)
                snprintf(allow + strlen(allow), allow_len - strlen(allow), "%s%s",
                         allow[0] ? ", " : "", m);
            continue;
        }
        req->route = r;
        for (size_t k = 0; k < params.n; k++) {
            req->param_names[k] = params.names[k];
            req->param_lens[k] = params.name_lens[k];
            req->params[k] = strndup(params.values[k], params.value_lens[k]);
            req->n_params = k + 1;
            if (!req->params[k])
                return 500;
        }
        return 0;
    }
    return allow[0] ? 405 : 404;
}

/* ---- responding ---- */

static const char *method_label(const char *method)
{
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(method, known[i]) == 0)
            return known[i];
    return "OTHER"; /* arbitrary methods must not grow the metric's label set */
}

/* Serialises reply, queues it on the connection and releases reply. */
static enum MHD_Result respond(struct server_request *req, struct server_reply *reply)
{
    enum MHD_Result ok = MHD_NO;
    if (!reply->json && !reply->body) {
        snprintf(req->internal_error, sizeof req->internal_error, "handler set no reply");
        server_reply_error(reply, 500, "error", "internal error");
    }
    if (reply->status == 0)
        reply->status = 200;
    deadline_receiving(req->srv->deadline, req->track, 0); /* never cut a reply being sent */
    struct MHD_Response *resp =
        httpresp_build(reply, atomic_load(&req->srv->stopping), &req->bytes_out);
    if (resp) {
        req->status = reply->status;
        ok = MHD_queue_response(req->conn, (unsigned)reply->status, resp);
        MHD_destroy_response(resp);
    }
    reply_release(reply);
    return ok;
}

static enum MHD_Result respond_error(struct server_request *req, int status, const char *code,
                                     const char *message)
{
    struct server_reply reply = {0};
    server_reply_error(&reply, status, code, message);
    return respond(req, &reply);
}

/* Turns a handler's failure into the standard error reply unless it set one itself. */
static void reply_from_status(struct server_request *req, struct server_reply *reply, int rc)
{
    if (reply->json || reply->body) {
        if (reply->status == 0)
            reply->status = server_http_status(rc, bearer_token(req) != NULL);
        return;
    }
    int status = server_http_status(rc, bearer_token(req) != NULL);
    const char *message = reply->err[0] ? reply->err : pb_status_name(rc);
    if (status == 500) { /* database and I/O details stay in the log */
        snprintf(req->internal_error, sizeof req->internal_error, "%s", message);
        message = "internal error";
    }
    server_reply_error(reply, status, pb_status_name(rc), message);
}

/* ---- request lifecycle ---- */

static void client_ip(struct MHD_Connection *conn, char *out, size_t n)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, n, "?");
    if (!info || !info->client_addr)
        return;
    const struct sockaddr *sa = info->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)n);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)n);
}

static struct server_request *request_new(server *s, struct MHD_Connection *conn, const char *url,
                                          const char *method)
{
    struct server_request *req = calloc(1, sizeof *req);
    if (!req)
        return NULL;
    req->path = strdup(url);
    if (!req->path) {
        free(req);
        return NULL;
    }
    req->srv = s;
    req->conn = conn;
    req->start = pb_now_monotonic();
    snprintf(req->method, sizeof req->method, "%s", method);
    client_ip(conn, req->ip, sizeof req->ip);
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    req->track = info ? info->socket_context : NULL;
    atomic_fetch_add(&s->in_flight, 1);
    return req;
}

static void request_free(struct server_request *req)
{
    for (size_t i = 0; i < req->n_params; i++)
        free(req->params[i]);
    pb_buf_free(&req->body);
    free(req->path);
    free(req);
}

/* First call, headers only: refuse early what can be refused without reading the body. */
static enum MHD_Result request_begin(struct server_request *req)
{
    char allow[128], err[PB_ERR_LEN];
    if (!text_utf8_valid(req->path, strlen(req->path))) /* so every {param} is UTF-8 too */
        return respond_error(req, 400, "invalid", "the path is not valid UTF-8");
    int found = route_find(req, allow, sizeof allow);
    if (found == 404)
        return respond_error(req, 404, "not_found", "no such endpoint");
    if (found == 405) {
        struct server_reply reply = {0};
        server_reply_error(&reply, 405, "invalid", "method not allowed for this endpoint");
        server_reply_header(&reply, MHD_HTTP_HEADER_ALLOW, allow);
        return respond(req, &reply);
    }
    if (found != 0)
        return MHD_NO;
    int rc = auth_route(req, err);
    if (rc != PB_OK)
        return respond_error(req, server_http_status(rc, bearer_token(req) != NULL),
                             pb_status_name(rc), err);
    const char *cl = server_req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > req->srv->max_body) {
        req->too_large = 1;
        snprintf(err, sizeof err, "request body is larger than %zu bytes", req->srv->max_body);
        return respond_error(req, 413, "limit", err);
    }
    return MHD_YES;
}

/* A body chunk: kept while under the limit, counted and dropped past it. A client trickling
 * it is the deadline watchdog's job (it answers 408 and closes). */
static enum MHD_Result request_take_body(struct server_request *req, const char *data, size_t size)
{
    if (req->too_large || size > req->srv->max_body - req->body.len) {
        req->too_large = 1;
        return MHD_YES;
    }
    return pb_buf_append(&req->body, data, size) == PB_OK ? MHD_YES : MHD_NO;
}

/* Last call: the whole request is here; run the handler and answer. */
static enum MHD_Result request_finish(struct server_request *req)
{
    char msg[PB_ERR_LEN];
    if (req->too_large) {
        snprintf(msg, sizeof msg, "request body is larger than %zu bytes", req->srv->max_body);
        return respond_error(req, 413, "limit", msg);
    }
    deadline_receiving(req->srv->deadline, req->track, 0);
    struct server_reply reply = {0};
    int rc = req->route->handler(req, &reply, req->srv->opt.app);
    if (rc != PB_OK)
        reply_from_status(req, &reply, rc);
    return respond(req, &reply);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    struct server_request *req = *con_cls;
    if (!req) {
        req = request_new(cls, conn, url, method);
        if (!req)
            return MHD_NO;
        *con_cls = req;
        return request_begin(req);
    }
    if (req->status != 0)
        return MHD_YES; /* already answered */
    if (*upload_data_size) {
        enum MHD_Result r = request_take_body(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return r;
    }
    return request_finish(req);
}

/* ---- completion: metrics, access log, the one place a request is freed ---- */

static const char *outcome_name(enum MHD_RequestTerminationCode toe)
{
    switch (toe) {
    case MHD_REQUEST_TERMINATED_COMPLETED_OK:
        return "ok";
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
        return "idle_timeout";
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
        return "shutdown";
    case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
    case MHD_REQUEST_TERMINATED_READ_ERROR:
        return "client_abort";
    default:
        return "error";
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    server *s = cls;
    struct server_request *req = *con_cls;
    if (!req)
        return;
    *con_cls = NULL;
    double duration = pb_now_monotonic() - req->start;
    if (req->status == 0 && deadline_was_cut(s->deadline, req->track))
        req->status = 408;
    char status[8];
    snprintf(status, sizeof status, "%d", req->status);
    const char *route = server_req_route(req);
    const char *labels[] = {route, method_label(req->method), status};
    metrics_add(s->m_requests, labels, 1);
    metrics_observe(s->m_duration, labels, duration);
    struct accesslog_entry entry = {labels[1],           route,       req->ip,  outcome_name(toe),
                                    req->internal_error, req->status, duration, req->bytes_out};
    accesslog_write(s->access_log, &entry);
    deadline_receiving(s->deadline, req->track,
                       1); /* the next request on this connection starts now */
    request_free(req);
    atomic_fetch_sub(&s->in_flight, 1);
}

/* ---- request deadline: connection tracking and the watchdog ---- */

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = info ? deadline_add(s->deadline, info->connect_fd) : NULL;
    } else {
        /* Called before libmicrohttpd closes the socket. */
        deadline_remove(s->deadline, *socket_context);
        *socket_context = NULL;
    }
}

/* ---- built-in routes ---- */

static int route_builtin_health(struct server_request *req, struct server_reply *reply, void *app)
{
    server *s = req->srv;
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

static int route_builtin_metrics(struct server_request *req, struct server_reply *reply, void *app)
{
    server *s = req->srv;
    char *text = NULL;
    size_t len = 0;
    metrics_set(s->m_uptime, NULL, pb_now_monotonic() - s->started);
    metrics_set(s->m_in_flight, NULL, atomic_load(&s->in_flight)); /* sampled, not counted */
    int rc = metrics_render(s->metrics, &text, &len, reply->err);
    if (rc != PB_OK)
        return rc;
    reply_clear_body(reply);
    reply->body = text; /* handed over without a copy */
    reply->body_len = len;
    reply->status = 200;
    reply->content_type = "text/plain; version=0.0.4; charset=utf-8";
    return PB_OK;
}

/* ---- lifecycle ---- */

static int register_metrics(server *s, char *err)
{
    static const char *const labels[] = {"route", "method", "status"};
    int rc = metrics_counter(s->metrics, "pb_http_requests_total",
                             "HTTP requests answered, by route pattern, method and status", labels,
                             3, &s->m_requests, err);
    if (rc == PB_OK)
        rc = metrics_histogram(s->metrics, "pb_http_request_duration_seconds",
                               "time from request headers to the end of the reply", labels, 3,
                               metrics_latency_buckets, metrics_latency_buckets_count,
                               &s->m_duration, err);
    if (rc == PB_OK)
        rc =
            metrics_gauge(s->metrics, "pb_http_requests_in_flight",
                          "requests received and not yet completed", NULL, 0, &s->m_in_flight, err);
    if (rc == PB_OK)
        rc = metrics_gauge(s->metrics, "pb_uptime_seconds", "seconds since the server started",
                           NULL, 0, &s->m_uptime, err);
    return rc;
}

int server_new(const config *cfg, const struct server_options *opt, server **out, char *err)
{
    int rc = PB_OK;
    server *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    s->cfg = cfg;
    s->opt = *opt;
    s->listen_fd = -1;
    s->max_body = (size_t)config_int(cfg, "server.max_body_bytes");
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
        (rc = accesslog_open(config_str(cfg, "server.access_log"), &s->access_log, err)) != PB_OK)
        goto cleanup;
    *out = s;
    s = NULL;
cleanup:
    server_free(s);
    return rc;
}

/* Resolves server.host (numeric IPv4 or IPv6) with server.port into addr. */
static int bind_address(const server *s, struct sockaddr_storage *addr, int *v6, char *err)
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

int server_start(server *s, char *err)
{
    struct sockaddr_storage addr;
    int v6 = 0, rc = bind_address(s, &addr, &v6, err);
    if (rc != PB_OK)
        return rc;
    long threads = config_int(s->cfg, "server.threads");
    if (threads == 0)
        threads = sysconf(_SC_NPROCESSORS_ONLN) > 0 ? sysconf(_SC_NPROCESSORS_ONLN) : 1;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC;
    if (v6)
        flags |= MHD_USE_IPv6;
    s->started = pb_now_monotonic();
    atomic_store(&s->stopping, 0);
    if ((rc = deadline_start(s->request_timeout, &s->deadline, err)) != PB_OK)
        return rc;
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)config_int(s->cfg, "server.max_connections"), MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)config_int(s->cfg, "server.per_ip_connections"), MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)config_int(s->cfg, "server.idle_timeout_s"), MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_END);
    if (!s->daemon) {
        deadline_stop(s->deadline);
        s->deadline = NULL;
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

int server_stop(server *s, double grace_s)
{
    int rc = PB_OK;
    if (!s || !s->daemon)
        return PB_OK;
    if (grace_s < 0)
        grace_s = config_double(s->cfg, "server.shutdown_grace_s");
    atomic_store(&s->stopping, 1);
    s->listen_fd = MHD_quiesce_daemon(s->daemon);
    double give_up = pb_now_monotonic() + grace_s;
    while (atomic_load(&s->in_flight) > 0 && pb_now_monotonic() < give_up) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&s->in_flight) > 0)
        rc = PB_ERR_TIMEOUT;
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    s->listen_fd = -1;
    deadline_stop(s->deadline); /* every connection is closed and untracked by now */
    s->deadline = NULL;
    return rc;
}

int server_run_until_signal(server *s, char *err)
{
    sigset_t stop_signals, old;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &old);
    int rc = server_start(s, err);
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
    accesslog_close(s->access_log);
    if (s->owns_metrics)
        metrics_free(s->metrics);
    free(s->routes);
    free(s);
}
