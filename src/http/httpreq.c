/* httpreq.c — one request's lifecycle: headers (route, auth, declared size), body chunks under
 * the limit, the handler, the reply queued; completion (metrics, access log, the free). */
#include "http/httpreq.h"

#include "base/text.h"
#include "http/httpresp.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int had_token(const struct server_request *req)
{
    return httpauth_bearer(server_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION)) != NULL;
}

/* ---- routing and the route's auth flags ---- */

/* Finds the route for req->method and req->path and copies its params into req. Returns 0 on
 * success, 404 when no pattern matches, 405 when only other methods do (allow gets them), 500
 * when out of memory. */
static int route_find(struct server_request *req, char *allow, size_t allow_len)
{
    const struct httpreq_site *site = req->site;
    struct route_params params;
    allow[0] = '\0';
    for (size_t i = 0; i < site->n_routes; i++) {
        const struct server_route *r = &site->routes[i];
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

/* The core's check of a route's flags before its handler may run. */
static pb_status auth_route(const struct server_request *req, char *err)
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
    deadline_receiving(req->site->deadline, req->track, 0); /* never cut a reply being sent */
    struct MHD_Response *resp =
        httpresp_build(reply, atomic_load(&req->site->stopping), &req->bytes_out);
    if (resp) {
        req->status = reply->status;
        ok = MHD_queue_response(req->conn, (unsigned)reply->status, resp);
        MHD_destroy_response(resp);
    }
    httpresp_release(reply);
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
static void reply_from_status(struct server_request *req, struct server_reply *reply, pb_status rc)
{
    if (reply->json || reply->body) {
        if (reply->status == 0)
            reply->status = server_http_status(rc, had_token(req));
        return;
    }
    int status = server_http_status(rc, had_token(req));
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

static struct server_request *request_new(struct httpreq_site *site, struct MHD_Connection *conn,
                                          const char *url, const char *method)
{
    struct server_request *req = calloc(1, sizeof *req);
    if (!req)
        return NULL;
    req->path = strdup(url);
    if (!req->path) {
        free(req);
        return NULL;
    }
    req->site = site;
    req->conn = conn;
    req->start = pb_now_monotonic();
    snprintf(req->method, sizeof req->method, "%s", method);
    client_ip(conn, req->ip, sizeof req->ip);
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    req->track = info ? info->socket_context : NULL;
    atomic_fetch_add(&site->in_flight, 1);
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
    if (atomic_load(&req->site->connections) > req->site->max_connections) {
        struct server_reply reply = {0};
        server_reply_error(&reply, 503, "unavailable",
                           "the server has too many open connections; retry shortly");
        server_reply_header(&reply, MHD_HTTP_HEADER_RETRY_AFTER, "1");
        return respond(req, &reply);
    }
    pb_status rc = auth_route(req, err);
    if (rc != PB_OK)
        return respond_error(req, server_http_status(rc, had_token(req)), pb_status_name(rc), err);
    const char *cl = server_req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > req->site->max_body) {
        req->too_large = 1;
        snprintf(err, sizeof err, "request body is larger than %zu bytes", req->site->max_body);
        return respond_error(req, 413, "limit", err);
    }
    return MHD_YES;
}

/* A body chunk: kept while under the limit, counted and dropped past it. A client trickling
 * it is the deadline watchdog's job (it answers 408 and closes). */
static enum MHD_Result request_take_body(struct server_request *req, const char *data, size_t size)
{
    if (req->too_large || size > req->site->max_body - req->body.len) {
        req->too_large = 1;
        return MHD_YES;
    }
    return pb_buf_append(&req->body, data, size) == PB_OK ? MHD_YES : MHD_NO;
}

/* Queues a stream's response: status and headers now, the body as the worker writes it. */
static enum MHD_Result respond_stream(struct server_request *req)
{
    int status = 0;
    struct MHD_Response *resp =
        httpdefer_stream_response(req->defer, atomic_load(&req->site->stopping), &status);
    if (!resp) {
        httpdefer_handler_failed(req->defer);
        return respond_error(req, 500, "error", "internal error");
    }
    req->status = status;
    enum MHD_Result ok = MHD_queue_response(req->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* A deferred reply, in the final call after the handler and again after each resume: suspend
 * while nobody has answered, else queue the answer (or close for a client gone). */
static enum MHD_Result respond_deferred(struct server_request *req)
{
    struct server_reply reply = {0};
    switch (httpdefer_answer_or_suspend(req->defer, &reply)) {
    case HTTPDEFER_SUSPENDED:
        return MHD_YES;
    case HTTPDEFER_CLOSE:
        req->client_gone = 1;
        return MHD_NO;
    case HTTPDEFER_STREAM:
        return respond_stream(req);
    case HTTPDEFER_ANSWER:
        break;
    }
    return respond(req, &reply);
}

/* Last call: the whole request is here; run the handler and answer — or, when it deferred,
 * suspend until it is answered (see the essay in httpreq.h). */
static enum MHD_Result request_finish(struct server_request *req)
{
    char msg[PB_ERR_LEN];
    if (req->defer) /* called again after a resume */
        return respond_deferred(req);
    if (req->too_large) {
        snprintf(msg, sizeof msg, "request body is larger than %zu bytes", req->site->max_body);
        return respond_error(req, 413, "limit", msg);
    }
    deadline_receiving(req->site->deadline, req->track, 0);
    struct server_reply reply = {0};
    pb_status rc = req->route->handler(req, &reply, req->site->app);
    if (rc != PB_OK) {
        if (req->defer) /* the core answers the error; the worker's finish will get 0 */
            httpdefer_handler_failed(req->defer);
        reply_from_status(req, &reply, rc);
        return respond(req, &reply);
    }
    if (!req->defer)
        return respond(req, &reply);
    httpresp_release(&reply); /* a deferring handler sets no reply of its own */
    return httpdefer_is_stream(req->defer) ? respond_stream(req) : respond_deferred(req);
}

enum MHD_Result httpreq_on_access(void *cls, struct MHD_Connection *conn, const char *url,
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

void httpreq_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                          enum MHD_RequestTerminationCode toe)
{
    struct httpreq_site *site = cls;
    struct server_request *req = *con_cls;
    if (!req)
        return;
    *con_cls = NULL;
    double duration = pb_now_monotonic() - req->start;
    if (req->defer) {
        size_t streamed = 0;
        if (httpdefer_request_done(req->defer, &streamed))
            req->client_gone = 1;
        req->defer = NULL;
        req->bytes_out += streamed;
    }
    if (req->status == 0 && deadline_was_cut(site->deadline, req->track))
        req->status = 408;
    char status[8];
    snprintf(status, sizeof status, "%d", req->status);
    const char *route = server_req_route(req);
    const char *labels[] = {route, method_label(req->method), status};
    metrics_add(site->m_requests, labels, 1);
    metrics_observe(site->m_duration, labels, duration);
    const char *outcome = req->client_gone ? "client_abort" : outcome_name(toe);
    struct accesslog_entry entry = {labels[1],           route,       req->ip,  outcome,
                                    req->internal_error, req->status, duration, req->bytes_out};
    accesslog_write(site->access_log, &entry);
    deadline_receiving(site->deadline, req->track,
                       1); /* the next request on this connection starts now */
    request_free(req);
    atomic_fetch_sub(&site->in_flight, 1);
}

/* ---- request deadline: connection tracking for the watchdog ---- */

void httpreq_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                           enum MHD_ConnectionNotificationCode toe)
{
    struct httpreq_site *site = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = info ? deadline_add(site->deadline, info->connect_fd) : NULL;
        atomic_fetch_add(&site->connections, 1);
    } else {
        /* Called before libmicrohttpd closes the socket. */
        deadline_remove(site->deadline, *socket_context);
        *socket_context = NULL;
        atomic_fetch_sub(&site->connections, 1);
    }
}
