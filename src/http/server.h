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
 * Handlers run on the server's worker threads and may block (an LLM call), never forever. */
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
};

/* Creates a server from the server.* settings (cfg is borrowed and must outlive it); opens
 * the access log. Nothing listens until server_start. Caller frees with server_free. */
pb_status server_new(const config *cfg, const struct server_options *opt, server **out, char *err);

/* Binds server.host:server.port (port 0 = any free port, see server_port) and starts the
 * worker threads. PB_ERR_IO when the address cannot be bound. */
pb_status server_start(server *s, char *err);
/* The port bound by server_start (the free one chosen for port 0); 0 before it. */
int server_port(const server *s);
metrics *server_metrics(server *s);

/* Graceful stop: stops accepting, lets in-flight requests finish for up to grace_s seconds
 * (server.shutdown_grace_s when negative), then stops the threads. PB_ERR_TIMEOUT when
 * requests were still running at the deadline (their replies may be lost). Idempotent. */
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
void server_reply_static(struct server_reply *reply, int status, const char *content_type,
                         const void *data, size_t len); /* data must outlive the server */
pb_status server_reply_error(struct server_reply *reply, int status, const char *code,
                             const char *message);
pb_status server_reply_header(struct server_reply *reply, const char *name, const char *value);

/* HTTP status for a pb_status: invalid 400, forbidden 403 (401 when had_token is 0),
 * not_found 404, conflict 409, limit 429 (the core answers 413 itself for bodies), provider
 * 502, unavailable 503, timeout 504, anything else 500. */
int server_http_status(pb_status rc, int had_token);

#endif
