/* httpreq.h — the life of one HTTP request on libmicrohttpd, from its headers to the freeing of
 * its struct: routing, the route's auth flags, the body under its hard size limit, the handler
 * call, the reply queued on the connection, and on completion the metrics, the access-log line
 * and the free. Split out of server.c; the daemon (start, limits, shutdown), the handler-facing
 * accessors and the reply setters stay in server.c, which registers the three callbacks below
 * with libmicrohttpd and hands them its struct httpreq_site.
 *
 * The protocol. libmicrohttpd calls the access callback several times per request:
 *   1. once with the headers only: the request struct is created (the only allocation), the
 *      path checked to be UTF-8, the route found (404, or 405 with Allow), the route's flags
 *      checked (401/403) and a Content-Length above the limit refused (413) — all before a
 *      byte of the body is read;
 *   2. once per body chunk: kept while under server.max_body_bytes, counted and dropped past
 *      it (answered 413 in step 3, never buffered);
 *   3. once more with no data: the handler runs on this worker thread and its reply (or the
 *      standard error JSON for its pb_status) is queued.
 * An answer queued in step 1 ends the request: later calls only return. The completion
 * callback then counts the request, writes its access-log line and frees the struct — the only
 * place it is freed, whatever happened before (client gone, deadline cut, shutdown).
 * The request deadline while a request is still being received is the deadline module's
 * watchdog (libmicrohttpd only measures idleness): the connection callback tracks each socket,
 * and the clock stops while the handler runs and the reply is sent.
 * It must not know business logic, start or stop the daemon, or write a reply's wire form
 * (httpresp does). */
#ifndef HTTPREQ_H
#define HTTPREQ_H

#include "base/config.h"
#include "base/metrics.h"
#include "base/pb.h"
#include "http/accesslog.h"
#include "http/deadline.h"
#include "http/httpauth.h"
#include "http/route.h"
#include "http/server.h"

#include <microhttpd.h>
#include <stdatomic.h>
#include <stddef.h>

#define HTTPREQ_IP_LEN 46 /* INET6_ADDRSTRLEN */

/* What every request of one server shares. The server owns it and everything it points to,
 * fills it before the daemon starts and keeps it until the daemon has stopped; requests only
 * read it, apart from the two counters. */
struct httpreq_site {
    const config *cfg;                 /* server.open_chat is read per request */
    const struct server_route *routes; /* app routes, then the built-in ones */
    size_t n_routes;
    void *app; /* handed to every handler */
    const httpauth *auth;
    size_t max_body;                         /* server.max_body_bytes */
    deadline *deadline;                      /* the watchdog; NULL until the daemon starts */
    accesslog *access_log;                   /* NULL: off */
    metrics_family *m_requests, *m_duration; /* labels route, method, status */
    atomic_int in_flight;                    /* requests received and not yet completed */
    atomic_int stopping; /* 1 once shutdown began: replies say Connection: close */
};

/* One request, created by the first access call and freed by the completion callback. server.h
 * names it opaquely for handlers; server.c's accessors and this module read the fields. */
struct server_request {
    struct httpreq_site *site;
    struct MHD_Connection *conn;
    deadline_conn *track;
    const struct server_route *route;
    char method[16];
    char *path;
    const char *param_names[ROUTE_MAX_PARAMS]; /* into route->pattern, length in param_lens */
    size_t param_lens[ROUTE_MAX_PARAMS];
    char *params[ROUTE_MAX_PARAMS];
    size_t n_params;
    struct pb_buf body; /* at most site->max_body bytes */
    int too_large;
    double start;
    char ip[HTTPREQ_IP_LEN];
    int status; /* HTTP status queued; 0 until an answer is queued */
    size_t bytes_out;
    char internal_error[PB_ERR_LEN]; /* for the access log only, never sent */
};

/* libmicrohttpd's callbacks; their cls is the server's struct httpreq_site. */
enum MHD_Result httpreq_on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls);
void httpreq_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                          enum MHD_RequestTerminationCode toe);
void httpreq_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                           enum MHD_ConnectionNotificationCode toe);

#endif
