/* httpdefer.h — requests answered later: the handle a handler gets from server_reply_defer or
 * server_reply_stream (struct server_defer), its state machine (who answers first: the worker,
 * the deadline, shutdown or the client going away), the bytes of a stream waiting to be sent,
 * and the set of a server's waiting requests with its timer thread. The protocol — when the
 * connection is suspended, who resumes it, and why that order is safe — is the essay at the top
 * of httpreq.h. It owns the handles and the timer; it must not parse requests, run handlers or
 * queue ordinary replies (httpreq does), nor know what the worker is waiting for. */
#ifndef HTTPDEFER_H
#define HTTPDEFER_H

#include "base/metrics.h"
#include "base/pb.h"
#include "http/server.h"

#include <microhttpd.h>
#include <stddef.h>

typedef struct httpdefer httpdefer; /* one server's waiting requests and their timer */

/* Starts the timer thread. default_deadline_s is used when a handler asks for none;
 * outcomes (a counter family labelled "outcome", may be NULL) counts how each deferred
 * request ended: worker, timeout, shutdown, client_gone, handler_error. The caller stops it
 * with httpdefer_stop once the daemon has stopped (no request left). */
pb_status httpdefer_start(double default_deadline_s, metrics_family *outcomes, httpdefer **out,
                          char *err);
void httpdefer_stop(httpdefer *set);

/* What a handler asks for. stream = 0: a deferred reply; 1: a stream sent as it is written. */
struct httpdefer_spec {
    double deadline_s; /* from now; <= 0: the default */
    void (*on_cancel)(void *ud);
    void *ud;
    int stream;
    int status;                /* streams: the HTTP status sent at once */
    const char *content_type;  /* streams: copied */
    const char *timeout_event; /* streams: written at the deadline (may be NULL); copied */
};

/* A new handle for the request on conn, with two references: the worker's and the request's
 * (released by httpdefer_request_done). Streams take the reply's headers. NULL when the set
 * is shutting down (reply gets 503 shutting_down) or out of memory (reply gets 500). */
struct server_defer *httpdefer_open(httpdefer *set, struct MHD_Connection *conn,
                                    const struct httpdefer_spec *spec, struct server_reply *reply);

/* ---- the core's side, called from the access and completion callbacks ---- */

int httpdefer_is_stream(const struct server_defer *d);

enum httpdefer_next {
    HTTPDEFER_SUSPENDED, /* the connection is suspended now; return MHD_YES */
    HTTPDEFER_ANSWER,    /* *out holds the answer: queue it */
    HTTPDEFER_CLOSE,     /* the client went away: return MHD_NO so the connection closes */
    HTTPDEFER_STREAM,    /* the worker turned it into a stream: queue the stream's response */
};

/* A deferred reply (not a stream), from the access callback once the handler returned PB_OK
 * and again when the connection has been resumed: suspends it while nobody has answered yet,
 * else moves the answer into *out — or says the worker made it a stream (httpdefer_to_stream),
 * whose response the caller then queues (httpdefer_stream_response). */
enum httpdefer_next httpdefer_answer_or_suspend(struct server_defer *d, struct server_reply *out);

/* The handler returned an error after deferring: the core answers that error itself, the
 * worker's later finish gets 0 and on_cancel runs (now, on this thread) if it still works. */
void httpdefer_handler_failed(struct server_defer *d);

/* A stream's response: status, headers and a content reader that sends what the worker
 * writes and suspends the connection while nothing is there. The response holds a reference
 * of its own. NULL when out of memory (the caller answers 500 and calls
 * httpdefer_handler_failed). */
struct MHD_Response *httpdefer_stream_response(struct server_defer *d, int closing, int *status);

/* The request completed (the completion callback): a request nobody answered yet ended
 * because the client went away (counted, on_cancel). Returns 1 in that case; *bytes gets
 * the stream bytes sent. Releases the request's reference; d must not be used after. */
int httpdefer_request_done(struct server_defer *d, size_t *bytes);

/* ---- shutdown and gauges ---- */

/* Waits up to drain_s for the waiting requests to be answered by their workers, then refuses
 * new handles and answers everything still waiting: 503 shutting_down, streams ended with an
 * SSE error event (text/event-stream only), on_cancel, connections resumed. */
void httpdefer_shutdown(httpdefer *set, double drain_s);
/* Connections suspended now (MHD_suspend_connection called, MHD_resume_connection not yet);
 * the daemon may be stopped only when this is 0. */
long httpdefer_suspended(httpdefer *set);
/* Deferred requests and streams nobody has answered or ended yet. */
long httpdefer_waiting(httpdefer *set);

/* ---- the worker's side: the implementations of server.h's server_defer_* and
 * server_stream_* (see their contracts there) ---- */

int httpdefer_finish(struct server_defer *d, struct server_reply *reply);
void httpdefer_drop(struct server_defer *d);
double httpdefer_deadline(const struct server_defer *d);
int httpdefer_to_stream(struct server_defer *d, int status, const char *content_type,
                        const char *timeout_event, struct server_reply *head);
int httpdefer_write(struct server_defer *d, const char *data, size_t len);
void httpdefer_end(struct server_defer *d, const char *data, size_t len);

#endif
