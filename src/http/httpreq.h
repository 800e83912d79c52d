/* httpreq.h — the life of one HTTP request on libmicrohttpd, from its headers to the freeing of
 * its struct: routing, the route's auth flags, the body under its hard size limit, the handler
 * call, the reply queued on the connection — now or, for a request the handler defers, later —
 * and on completion the metrics, the access-log line and the free. Split out of server.c; the
 * daemon (start, limits, shutdown), the handler-facing accessors and the reply setters stay in
 * server.c, which registers the three callbacks below with libmicrohttpd and hands them its
 * struct httpreq_site. The deferred request's handle and its timer are httpdefer's.
 *
 * The protocol. libmicrohttpd calls the access callback several times per request:
 *   1. once with the headers only: the request struct is created (the only allocation), the
 *      path checked to be UTF-8, the route found (404, or 405 with Allow), the route's flags
 *      checked (401/403), a Content-Length above the limit refused (413) and a request over
 *      server.max_connections refused (503) — all before a byte of the body is read;
 *   2. once per body chunk: kept while under server.max_body_bytes, counted and dropped past
 *      it (answered 413 in step 3, never buffered);
 *   3. once more with no data: the handler runs on this worker thread and its reply (or the
 *      standard error JSON for its pb_status) is queued — unless it deferred (below).
 * An answer queued in step 1 ends the request: later calls only return. The completion
 * callback then counts the request, writes its access-log line and frees the struct — the only
 * place it is freed, whatever happened before (client gone, deadline cut, shutdown).
 * The request deadline while a request is still being received is the deadline module's
 * watchdog (libmicrohttpd only measures idleness): the connection callback tracks each socket,
 * and the clock stops while the handler runs and the reply is sent.
 *
 * Waiting without a thread: suspend and resume. A handler that must wait (a provider call, a
 * commit) calls server_reply_defer, hands the returned struct server_defer to whoever will
 * finish the work, and returns PB_OK without a reply. The thread goes back to serving other
 * connections; the connection is parked with MHD_suspend_connection (the daemon runs with
 * MHD_ALLOW_SUSPEND_RESUME) and is resumed by whoever answers it. libmicrohttpd sets the rules
 * this design lives by:
 *   (a) suspend only from the access callback or the content reader, on the connection's own
 *       thread;
 *   (b) resume only a connection that is suspended — resuming one that is not is undefined,
 *       and in 0.9.75 it silently cancels the next suspend;
 *   (c) a suspended connection is invisible: it never times out, a client's close is not
 *       noticed, and it is never completed — so MHD_stop_daemon must never find one (it
 *       aborts the process);
 *   (d) after a resume, a request with no response queued yet gets the "final" access call
 *       (step 3) again; a queued stream's content reader is called again.
 * Four parties may want to answer a deferred request: the worker (server_defer_finish, from
 * any thread), the timer (its deadline passed: 504), shutdown (503 shutting_down) and the
 * client (it went away). Each handle carries one lock and one `end` field, and the first
 * party to set `end` under the lock wins; the others find it set, free what they brought (a
 * late finish returns 0) and leave. The winner stores the answer in the handle and reads,
 * under the same lock, whether the connection is suspended; if it is, the winner — and only
 * it — calls MHD_resume_connection after unlocking. The access callback, in step 3 after the
 * handler returned, takes the same lock: if nobody has answered it suspends the connection
 * while still holding the lock (so no party can see it suspended before it is, rule b),
 * otherwise it queues the stored answer at once. After the resume the step-3 call comes again
 * (rule d) and queues the stored answer. A handler whose worker answers at once, even before
 * the handler returns, thus never suspends at all.
 *
 * The timer thread wakes at the earliest deadline and every 0.25 s: it ends what is past its
 * deadline and, because of rule (c), checks the sockets of suspended connections for a close
 * (end of file or an error; pipelined bytes are not a close) and ends those as gone: resumed,
 * the access callback returns MHD_NO and libmicrohttpd closes the connection. A socket is only
 * polled under the handle's lock while it is marked suspended, when nothing can close it.
 * When the core wins (deadline, shutdown, client gone) it calls the handler's on_cancel once
 * so the worker can stop early; the worker still releases its reference exactly once
 * (finish, drop, stream end), and that release waits for an on_cancel running on another
 * thread to return, so the worker's data stays valid for it.
 *
 * A deferred reply may become a stream later (server_defer_stream, from the worker, while
 * nobody has answered it): the handle is marked a stream and the connection resumed; the
 * access callback, called again, finds a stream and queues its response as below.
 * A stream (server_reply_stream) queues its response at once — status and headers go out —
 * with a content reader that copies what the worker wrote, returns the end once the stream
 * is ended, and otherwise suspends the connection under the handle's lock and returns 0 (rule
 * a; returning 0 without suspending would spin). A write that finds the connection suspended
 * resumes it, after unlocking, and only that write does (rule b). At the deadline the timer
 * appends the handler's timeout event and ends the stream, at shutdown an SSE error event;
 * a client gone while suspended is found by the timer, one gone while bytes flow by
 * libmicrohttpd (the completion callback then ends the handle as gone).
 *
 * Lifetimes. The handle is reference-counted: the worker's reference, the request's (dropped
 * in the completion callback), a stream response's (dropped when libmicrohttpd frees the
 * response) and a short one for each timer or shutdown sweep that looks at it. A handle is on
 * its server's list (httpdefer) while nobody has answered it, which implies its request is
 * alive; the server's shared state is touched only then or while a resume is owed.
 * Shutdown (server_stop): stop accepting, let deferred requests finish by themselves for a
 * short drain, then refuse new deferrals and answer everything still waiting (503, streams
 * ended), resuming each; wait for in-flight requests up to the grace; wait until no resume is
 * still owed (rule c; these are calls already decided, microseconds away); stop the daemon.
 *
 * It must not know business logic, start or stop the daemon, or write a reply's wire form
 * (httpresp does). */
#ifndef HTTPREQ_H
#define HTTPREQ_H

#include "base/config.h"
#include "base/metrics.h"
#include "base/pb.h"
#include "http/accesslog.h"
#include "http/deadline.h"
#include "http/httpdefer.h"
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
    atomic_int stopping;  /* 1 once shutdown began: replies say Connection: close */
    httpdefer *defer;     /* the waiting requests and their timer; NULL until the daemon starts */
    long max_connections; /* server.max_connections: past it a request gets 503 */
    atomic_long connections; /* open connections, from the connection callback */
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
    struct server_defer *defer;      /* set by server_reply_defer / server_reply_stream */
    int client_gone;                 /* the client went away before a deferred answer */
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
