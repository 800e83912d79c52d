/* server.h — the HTTP core on libmicrohttpd: the routing table, the daemon (settings, limits,
 * graceful shutdown), what handlers see of a request (accessors, auth helpers) and how they
 * answer (JSON/error replies, sent with the security headers of httpresp), metrics and the
 * built-in routes (/healthz, /metrics, and the embedded pages of webpages). Owns the daemon and
 * its threads; one request's lifecycle (body limit, deadline, access log) is httpreq's. It
 * knows no business logic: handlers (chat, feedback, admin) are plugged in through struct
 * server_route and must stay thin. */
#ifndef SERVER_H
#define SERVER_H

#include "base/config.h"
#include "base/metrics.h"
#include "base/pb.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct server server;
struct server_request; /* one HTTP request; valid only during the handler call */

/* What a handler answers. Set it with the server_reply_* functions; write error messages into
 * err (return pb_errf(reply->err, PB_ERR_INVALID, "...")). The rest is private to the core. */
struct server_reply {
    char err[PB_ERR_LEN];
    int status;               /* private: set by server_reply_* */
    json_t *json;             /* private: owned */
    char *body;               /* private: owned unless body_static */
    size_t body_len;          /* private */
    int body_static;          /* private */
    const char *content_type; /* private: static string */
    char *headers;            /* private: "Name\0Value\0..." owned */
    size_t headers_len;       /* private */
};

/* A handler fills reply and returns PB_OK, or returns a pb_status with a message in
 * reply->err: the core then answers the standard error JSON with server_http_status(rc).
 * Handlers run on the server's few worker threads and must not wait: a handler whose answer
 * waits for something (a provider call, a commit) defers it (server_reply_defer or
 * server_reply_stream below) and returns at once. */
typedef pb_status server_handler(struct server_request *req, struct server_reply *reply, void *app);

enum server_route_flag {
    SERVER_ADMIN = 1, /* the core requires the admin token before calling the handler */
    SERVER_USER = 2,  /* {user_id} in the path: server_auth_user on it; without it: any valid
                         token, or none when server.open_chat (handlers check body user ids) */
    SERVER_OWNER = 4, /* strict: admin or the token of the path's {user_id}; open chat never
                         applies (erasure) */
};

struct server_route {
    const char *method;  /* "GET", "POST", "DELETE", ...; GET routes also answer HEAD */
    const char *pattern; /* "/v1/chat/{impression_id}/regenerate": {name} matches a segment */
    server_handler *handler;
    unsigned flags; /* enum server_route_flag */
};

struct server_options {
    const struct server_route *routes; /* borrowed; app routes win over built-in ones */
    size_t n_routes;
    void *app;        /* handed to every handler and hook */
    metrics *metrics; /* borrowed registry; NULL: the server owns one (server_metrics) */
    /* Adds fields to GET /healthz; an error turns the answer into 503 "degraded". */
    pb_status (*health)(json_t *status, void *app, char *err);
    /* Called before GET /metrics renders (may be NULL): the app samples its gauges there. */
    void (*before_metrics)(void *app);
};

/* Creates a server from the server.* settings (cfg is borrowed and must outlive it); opens
 * the access log. Nothing listens until server_start. Caller frees with server_free. */
pb_status server_new(const config *cfg, const struct server_options *opt, server **out, char *err);

/* Binds server.host:server.port (port 0 = any free port, see server_port) and starts the
 * worker threads and the deferred-request timer. Raises the process's open-file soft limit to
 * its hard limit when server.max_connections needs more (logged on stderr). PB_ERR_IO when
 * the address cannot be bound. */
pb_status server_start(server *s, char *err);
/* The port bound by server_start (the free one chosen for port 0); 0 before it. */
int server_port(const server *s);
metrics *server_metrics(server *s);

/* Graceful stop: stops accepting, lets deferred requests finish by themselves for a short
 * drain (a quarter of the grace, at most 1 s), then answers those still waiting 503
 * shutting_down (streams end with an error event) after calling their on_cancel, lets
 * in-flight requests finish for up to grace_s seconds in all (server.shutdown_grace_s when
 * negative), then stops the threads. PB_ERR_TIMEOUT when requests were still running at the
 * deadline (their replies may be lost). Idempotent. */
pb_status server_stop(server *s, double grace_s);

/* Blocks SIGINT and SIGTERM in the calling thread, starts the server (its threads inherit the
 * mask), waits for one of them, stops gracefully and restores the mask. For `serve`. */
pb_status server_run_until_signal(server *s, char *err);

void server_free(server *s);

/* Request accessors. Strings are borrowed and valid during the handler call only. */
const char *server_req_method(const struct server_request *req);
const char *server_req_path(const struct server_request *req);
const char *server_req_route(const struct server_request *req);
const char *server_req_param(const struct server_request *req, const char *name);
const char *server_req_query(const struct server_request *req, const char *key);
const char *server_req_header(const struct server_request *req, const char *name);
const char *server_req_body(const struct server_request *req, size_t *len);
const char *server_req_client_ip(const struct server_request *req);

/* Parses the body as a JSON object (jsonio_parse_object) after checking Content-Type is
 * application/json (415 otherwise: it keeps simple cross-site form posts out). On failure the
 * error reply is already set and PB_ERR_INVALID is returned: `return rc;` is all a handler
 * does. *out is a new reference the caller decrefs. */
pb_status server_req_json(struct server_request *req, struct server_reply *reply, json_t **out);
/* server_req_json, then refuses a field not among the n names of fields (PB_ERR_INVALID with
 * the message in reply->err: the core answers 400); *out is NULL on any failure. */
pb_status server_req_json_fields(struct server_request *req, struct server_reply *reply,
                                 const char *const *fields, size_t n, json_t **out);
/* The path parameter name as a positive integer; PB_ERR_INVALID with a message otherwise. */
pb_status server_req_param_id(const struct server_request *req, const char *name, int64_t *out,
                              char *err);

/* Auth. Tokens come from `Authorization: Bearer T` only and are compared in constant time.
 * server_auth_admin: the admin token (admin is off while server.admin_token is empty).
 * server_auth_user: may act as user_id — admin, that user's token, or no token at all when
 * server.open_chat. server_auth_owner: the same without open chat. PB_ERR_FORBIDDEN with a
 * message in err otherwise (answered 401 when no token was sent, else 403). */
pb_status server_auth_admin(const struct server_request *req, char *err);
pb_status server_auth_user(const struct server_request *req, const char *user_id, char *err);
pb_status server_auth_owner(const struct server_request *req, const char *user_id, char *err);
/* The user whose token the request carries, or NULL (no token, admin token, unknown token). */
const char *server_req_user(const struct server_request *req);

/* Replies. The json and text setters replace any earlier body. */
void server_reply_json(struct server_reply *reply, int status, json_t *body); /* steals body */
pb_status server_reply_text(struct server_reply *reply, int status, const char *content_type,
                            const char *data, size_t len); /* copies data; content_type static */
/* Takes data (from malloc; freed by the server) as the body: no copy. */
void server_reply_owned(struct server_reply *reply, int status, const char *content_type,
                        char *data, size_t len);
void server_reply_static(struct server_reply *reply, int status, const char *content_type,
                         const void *data, size_t len); /* data must outlive the server */
pb_status server_reply_error(struct server_reply *reply, int status, const char *code,
                             const char *message);
pb_status server_reply_header(struct server_reply *reply, const char *name, const char *value);

/* ---- Answering later: deferred replies and streams ----
 * The lifecycle is the essay at the top of http/httpreq.h. In short: the handler gets a
 * handle, hands it to whoever does the work, and returns PB_OK without a reply; the connection
 * is suspended (no thread waits) and answered when the worker finishes — or by the core itself
 * first: 504 at the deadline, 503 at shutdown, nothing when the client went away. */

struct server_defer; /* one request answered later; opaque */

/* Called by a handler that will answer later: the core suspends the connection once the
 * handler returns PB_OK (the handler sets no reply; one it set is dropped). deadline_s > 0:
 * seconds from now after which the core itself answers 504 {"error":{"code":"timeout",...}};
 * <= 0: server.request_timeout_s. on_cancel (may be NULL) is called at most once, from a core
 * thread, when the core gives up first (deadline, shutdown, client gone, or the handler
 * returning an error after deferring) so the worker can stop early; it must not block, and
 * may itself call server_defer_finish or server_defer_drop. The worker side owns one reference
 * to the handle and must release it with exactly one server_defer_finish or
 * server_defer_drop, from any thread, even after on_cancel; that release waits for an
 * on_cancel still running on another thread, so ud stays valid for it. NULL (with reply set
 * to a 500, or 503 shutting_down while the server stops) when the core cannot defer: the
 * handler then returns PB_OK (or any error: the reply set wins). Call it once, from the
 * handler, on the handler's thread. */
struct server_defer *server_reply_defer(struct server_request *req, struct server_reply *reply,
                                        double deadline_s, void (*on_cancel)(void *ud), void *ud);

/* Answers a deferred request with reply (moved in: status, body, headers as set by
 * server_reply_*; the reply is cleared either way) and releases the worker's reference.
 * Returns 1 when this answered the request, 0 when the core had already answered it (timeout,
 * shutdown, client gone, handler error). Safe from any thread. On a stream's handle it ends
 * the stream (reply is dropped) as server_stream_end(d, NULL, 0). */
int server_defer_finish(struct server_defer *d, struct server_reply *reply);
/* Releases the worker's reference without answering — after on_cancel, or when the core has
 * answered. Dropped before anybody answered, the request gets 500 now (a stream just ends). */
void server_defer_drop(struct server_defer *d);

/* The request's deadline as a monotonic time (pb_now_monotonic() scale), for workers that
 * bound their own waits (provider Retry-After) by it. */
double server_defer_deadline(const struct server_defer *d);

/* Streaming: like server_reply_defer, but the core sends `status` and the reply's headers (set
 * with server_reply_header before this call) now, with the given content type (copied;
 * "text/event-stream" also gets Cache-Control: no-cache and X-Accel-Buffering: no), and then
 * the bytes the worker writes, until it ends the stream; the body is chunked (HTTP/1.1) so
 * the connection is kept. The content reader suspends the connection when no bytes are ready
 * and a write resumes it. At the deadline the core writes timeout_event (copied; may be NULL)
 * and ends the stream itself; at shutdown a text/event-stream ends with
 * "event: error
data: {"error":{"code":"shutting_down",...}}

". A client that goes away
 * ends it too (on_cancel). References, on_cancel and NULL as for server_reply_defer. */
struct server_defer *server_reply_stream(struct server_request *req, struct server_reply *reply,
                                         int status, const char *content_type, double deadline_s,
                                         const char *timeout_event, void (*on_cancel)(void *ud),
                                         void *ud);
/* Turns a deferred reply (server_reply_defer) that nobody has answered yet into a stream, for
 * a worker that learns only later whether the answer streams (a chat turn waiting for its
 * emotions before it can name its arm): the core sends `status` with content_type (copied)
 * and the headers of head (may be NULL: a reply whose headers the worker set with
 * server_reply_header; they are moved in, and head is cleared either way) when it resumes the
 * connection, then what the worker writes, as for server_reply_stream; timeout_event (copied;
 * may be NULL) as there. Returns 1 when the handle is a stream now, 0 when the core had
 * already answered (deadline, shutdown, client gone) or it was a stream already: the worker
 * then releases it as before. Any thread; at most once per handle. */
int server_defer_stream(struct server_defer *d, int status, const char *content_type,
                        const char *timeout_event, struct server_reply *head);
/* Appends bytes (copied). 1 while the client is still there, 0 once the stream is over
 * (client gone, deadline, shutdown, out of memory): the worker may stop producing. Any
 * thread; writes from several threads at once are not ordered. */
int server_stream_write(struct server_defer *d, const char *data, size_t len);
/* Appends final bytes (may be NULL/0), ends the stream and releases the worker's reference.
 * On a deferred reply's handle it is server_defer_drop. */
void server_stream_end(struct server_defer *d, const char *data, size_t len);

/* HTTP status for a pb_status: invalid 400, forbidden 403 (401 when had_token is 0),
 * not_found 404, conflict 409, limit 429 (the core answers 413 itself for bodies), provider
 * 502, unavailable 503, timeout 504, anything else 500. */
int server_http_status(pb_status rc, int had_token);

#endif
