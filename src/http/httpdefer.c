/* httpdefer.c — the deferred-request handle and its state machine, the bytes of a stream, the
 * set of waiting requests and its timer thread (deadlines, clients gone while suspended). The
 * protocol is the essay at the top of httpreq.h; the comments here say which rule of it a
 * piece of code keeps. */
#include "http/httpdefer.h"

#include "http/httpresp.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define GONE_CHECK_S 0.25 /* how often suspended sockets are checked for a client gone */

/* How a deferred request ended; END_NONE while nobody has answered it. */
enum end_reason { END_NONE, END_WORKER, END_TIMEOUT, END_SHUTDOWN, END_GONE, END_HANDLER };
static const char *const outcome_names[] = {"",         "worker",      "timeout",
                                            "shutdown", "client_gone", "handler_error"};

static const char SSE_SHUTDOWN[] = "event: error\ndata: {\"error\":{\"code\":\"shutting_down\","
                                   "\"message\":\"the server is shutting down\"}}\n\n";

struct server_defer {
    pthread_mutex_t lock;
    pthread_cond_t cancel_done;
    atomic_int refs;             /* the worker's, the request's, a stream response's, sweeps' */
    httpdefer *set;              /* used only while end is END_NONE or a resume is owed */
    struct MHD_Connection *conn; /* valid while the request lives */
    int fd;
    double deadline; /* monotonic */
    void (*on_cancel)(void *ud);
    void *ud;
    int stream;
    /* The rest is guarded by lock. */
    enum end_reason end;
    int suspended;    /* MHD_suspend_connection called and no resume owed yet */
    int worker_done;  /* the worker released its reference: on_cancel never runs after */
    int cancel_state; /* 0 not called, 1 running, 2 returned */
    pthread_t cancel_thread;
    struct server_reply reply; /* a deferred reply's answer, until the access callback takes it */
    /* Streams: head holds status, content type and headers; out the bytes not read yet. */
    struct server_reply head;
    char *content_type, *timeout_event;
    struct pb_buf out;
    size_t out_off, sent;
    int ended; /* nothing comes after out */
    /* The set's list, changed under both locks (d's first). */
    struct server_defer *prev, *next;
    int listed;
};

struct httpdefer {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct server_defer *head; /* every handle whose end is END_NONE */
    long n_listed;
    double next_wake;
    int stopping; /* refuse new handles */
    int stop;     /* the timer thread exits */
    double default_deadline;
    metrics_family *outcomes;
    atomic_long suspended;
    pthread_t thread;
};

/* ---- references, the list, the end of a request ---- */

static void defer_unref(struct server_defer *d)
{
    if (atomic_fetch_sub(&d->refs, 1) != 1)
        return;
    httpresp_release(&d->reply);
    httpresp_release(&d->head);
    pb_buf_free(&d->out);
    free(d->content_type);
    free(d->timeout_event);
    pthread_cond_destroy(&d->cancel_done);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

/* Caller holds d->lock; d is listed. */
static void list_remove_locked(struct server_defer *d)
{
    httpdefer *set = d->set;
    pthread_mutex_lock(&set->lock);
    if (d->prev)
        d->prev->next = d->next;
    else
        set->head = d->next;
    if (d->next)
        d->next->prev = d->prev;
    d->prev = d->next = NULL;
    d->listed = 0;
    set->n_listed--;
    pthread_mutex_unlock(&set->lock);
}

/* Under d->lock: the first party to end d wins and this records it — the core's answer
 * (504, 503, a stream's last event), d off the list, the outcome counted. Returns 1 when
 * this call ended d, and then *resume says whether the caller owes the connection its
 * MHD_resume_connection (to be called after unlocking, see resume_connection). */
static int end_locked(struct server_defer *d, enum end_reason why, int *resume)
{
    *resume = 0;
    if (d->end != END_NONE)
        return 0;
    d->end = why;
    if (d->stream) {
        const char *event =
            why == END_TIMEOUT ? d->timeout_event
            : why == END_SHUTDOWN
                ? (strcmp(d->content_type, "text/event-stream") ? NULL : SSE_SHUTDOWN)
                : NULL;
        if (event)
            pb_buf_append(&d->out, event, strlen(event)); /* out of memory: ends without it */
        d->ended = 1;
    } else if (why == END_TIMEOUT) {
        server_reply_error(&d->reply, 504, "timeout",
                           "the request was not answered before its deadline");
    } else if (why == END_SHUTDOWN) {
        server_reply_error(&d->reply, 503, "shutting_down", "the server is shutting down");
    }
    list_remove_locked(d);
    metrics_add(d->set->outcomes, (const char *const[]){outcome_names[why]}, 1);
    *resume = d->suspended;
    d->suspended = 0;
    return 1;
}

/* Owed after end_locked or a stream write found d suspended. The daemon cannot stop while
 * set->suspended counts this connection, so set and conn are still alive here. */
static void resume_connection(struct server_defer *d)
{
    httpdefer *set = d->set;
    MHD_resume_connection(d->conn);
    atomic_fetch_sub(&set->suspended, 1);
}

/* Under d->lock, from the access callback or the content reader (the only places
 * libmicrohttpd allows it). */
static void suspend_locked(struct server_defer *d)
{
    d->suspended = 1;
    atomic_fetch_add(&d->set->suspended, 1);
    MHD_suspend_connection(d->conn);
}

/* Calls on_cancel once, unless the worker already let go. The caller holds a reference. */
static void cancel(struct server_defer *d)
{
    pthread_mutex_lock(&d->lock);
    if (!d->on_cancel || d->worker_done || d->cancel_state) {
        pthread_mutex_unlock(&d->lock);
        return;
    }
    d->cancel_state = 1;
    d->cancel_thread = pthread_self();
    pthread_mutex_unlock(&d->lock);
    d->on_cancel(d->ud);
    pthread_mutex_lock(&d->lock);
    d->cancel_state = 2;
    pthread_cond_broadcast(&d->cancel_done);
    pthread_mutex_unlock(&d->lock);
}

/* The worker lets go: first waits for an on_cancel running on another thread (its ud must
 * stay valid until it returns), then drops the worker's reference. */
static void worker_release(struct server_defer *d)
{
    pthread_mutex_lock(&d->lock);
    while (d->cancel_state == 1 && !pthread_equal(d->cancel_thread, pthread_self()))
        pthread_cond_wait(&d->cancel_done, &d->lock);
    d->worker_done = 1;
    pthread_mutex_unlock(&d->lock);
    defer_unref(d);
}

/* Ends d for a core reason (timeout, shutdown, client gone) and does what ending owes. */
static void end_by_core(struct server_defer *d, enum end_reason why)
{
    int resume = 0;
    pthread_mutex_lock(&d->lock);
    int won = end_locked(d, why, &resume);
    pthread_mutex_unlock(&d->lock);
    if (resume)
        resume_connection(d);
    if (won)
        cancel(d);
}

/* ---- opening a handle ---- */

static pb_status take_stream_spec(struct server_defer *d, const struct httpdefer_spec *spec,
                                  struct server_reply *reply)
{
    d->stream = 1;
    d->content_type = strdup(spec->content_type ? spec->content_type : "text/event-stream");
    if (spec->timeout_event)
        d->timeout_event = strdup(spec->timeout_event);
    if (!d->content_type || (spec->timeout_event && !d->timeout_event))
        return PB_ERR_NOMEM;
    d->head.status = spec->status > 0 ? spec->status : 200;
    d->head.content_type = d->content_type;
    d->head.headers = reply->headers; /* the handler's headers go out with the stream */
    d->head.headers_len = reply->headers_len;
    reply->headers = NULL;
    reply->headers_len = 0;
    return PB_OK;
}

struct server_defer *httpdefer_open(httpdefer *set, struct MHD_Connection *conn,
                                    const struct httpdefer_spec *spec, struct server_reply *reply)
{
    struct server_defer *d = calloc(1, sizeof *d);
    if (!d) {
        server_reply_error(reply, 500, "error", "internal error");
        return NULL;
    }
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cancel_done, NULL);
    atomic_init(&d->refs, 2); /* the worker's and the request's */
    d->set = set;
    d->conn = conn;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    d->fd = info ? info->connect_fd : -1;
    d->deadline =
        pb_now_monotonic() + (spec->deadline_s > 0 ? spec->deadline_s : set->default_deadline);
    d->on_cancel = spec->on_cancel;
    d->ud = spec->ud;
    if (spec->stream && take_stream_spec(d, spec, reply) != PB_OK) {
        atomic_store(&d->refs, 1);
        defer_unref(d);
        server_reply_error(reply, 500, "error", "internal error");
        return NULL;
    }
    pthread_mutex_lock(&set->lock);
    if (set->stopping) {
        pthread_mutex_unlock(&set->lock);
        atomic_store(&d->refs, 1);
        defer_unref(d);
        server_reply_error(reply, 503, "shutting_down", "the server is shutting down");
        return NULL;
    }
    d->next = set->head;
    if (set->head)
        set->head->prev = d;
    set->head = d;
    d->listed = 1;
    set->n_listed++;
    if (d->deadline < set->next_wake)
        pthread_cond_signal(&set->wake);
    pthread_mutex_unlock(&set->lock);
    httpresp_clear_body(reply); /* the handler sets no reply of its own */
    return d;
}

/* ---- the core's side ---- */

int httpdefer_is_stream(const struct server_defer *d)
{
    return d->stream;
}

enum httpdefer_next httpdefer_answer_or_suspend(struct server_defer *d, struct server_reply *out)
{
    enum httpdefer_next next = HTTPDEFER_ANSWER;
    pthread_mutex_lock(&d->lock);
    if (d->end == END_GONE) {
        next = HTTPDEFER_CLOSE;
    } else if (d->stream) { /* made a stream by its worker; it may have ended already */
        next = HTTPDEFER_STREAM;
    } else if (d->end == END_NONE) {
        suspend_locked(d); /* under the lock: whoever answers sees suspended and resumes */
        next = HTTPDEFER_SUSPENDED;
    } else if (d->end == END_GONE) {
        next = HTTPDEFER_CLOSE;
    } else {
        *out = d->reply;
        memset(&d->reply, 0, sizeof d->reply);
    }
    pthread_mutex_unlock(&d->lock);
    return next;
}

void httpdefer_handler_failed(struct server_defer *d)
{
    end_by_core(d, END_HANDLER); /* not suspended yet: no resume is owed */
}

/* libmicrohttpd's content reader: what the worker wrote, else the end, else suspend until a
 * write resumes the connection (returning 0 without suspending would spin). */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct server_defer *d = cls;
    ssize_t n = 0;
    pthread_mutex_lock(&d->lock);
    size_t avail = d->out.len - d->out_off;
    if (d->end == END_GONE) {
        n = MHD_CONTENT_READER_END_WITH_ERROR;
    } else if (avail) {
        n = (ssize_t)(avail < max ? avail : max);
        memcpy(buf, d->out.data + d->out_off, (size_t)n);
        d->out_off += (size_t)n;
        d->sent += (size_t)n;
        if (d->out_off == d->out.len)
            d->out.len = d->out_off = 0;
    } else if (d->ended) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        suspend_locked(d);
    }
    pthread_mutex_unlock(&d->lock);
    return n;
}

static void stream_response_free(void *cls)
{
    defer_unref(cls);
}

struct MHD_Response *httpdefer_stream_response(struct server_defer *d, int closing, int *status)
{
    atomic_fetch_add(&d->refs, 1);
    struct MHD_Response *resp = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, 4096, stream_read, d, stream_response_free);
    if (!resp) {
        defer_unref(d);
        return NULL;
    }
    httpresp_stream_headers(&d->head, closing, resp);
    *status = d->head.status;
    return resp;
}

int httpdefer_request_done(struct server_defer *d, size_t *bytes)
{
    int resume = 0;
    pthread_mutex_lock(&d->lock);
    int gone = end_locked(d, END_GONE, &resume); /* never suspended here: resume stays 0 */
    *bytes = d->sent;
    pthread_mutex_unlock(&d->lock);
    if (gone)
        cancel(d);
    defer_unref(d);
    return gone;
}

/* ---- the worker's side ---- */

int httpdefer_finish(struct server_defer *d, struct server_reply *reply)
{
    int won = 0, resume = 0;
    pthread_mutex_lock(&d->lock);
    if (d->end == END_NONE) {
        if (!d->stream) {
            d->reply = *reply; /* moved in; end_locked leaves it as it is */
            memset(reply, 0, sizeof *reply);
        }
        won = end_locked(d, END_WORKER, &resume);
    }
    pthread_mutex_unlock(&d->lock);
    if (resume)
        resume_connection(d);
    httpresp_release(reply);
    worker_release(d);
    return won;
}

void httpdefer_drop(struct server_defer *d)
{
    struct server_reply reply = {0};
    pthread_mutex_lock(&d->lock);
    int answered = d->end != END_NONE;
    pthread_mutex_unlock(&d->lock);
    if (answered) {
        worker_release(d);
        return;
    }
    /* Nobody will answer it otherwise before its deadline. */
    server_reply_error(&reply, 500, "error", "internal error");
    httpdefer_finish(d, &reply);
}

double httpdefer_deadline(const struct server_defer *d)
{
    return d->deadline;
}

int httpdefer_to_stream(struct server_defer *d, int status, const char *content_type,
                        const char *timeout_event, struct server_reply *head)
{
    int made = 0, resume = 0;
    struct httpdefer_spec spec = {.stream = 1,
                                  .status = status,
                                  .content_type = content_type,
                                  .timeout_event = timeout_event};
    struct server_reply none = {0};
    if (!head)
        head = &none;
    pthread_mutex_lock(&d->lock);
    if (d->end == END_NONE && !d->stream) {
        if (take_stream_spec(d, &spec, head) == PB_OK) {
            made = 1;
            /* The access callback queues the stream's response when it runs again. */
            resume = d->suspended;
            d->suspended = 0;
        } else {
            d->stream = 0; /* out of memory: it stays a deferred reply */
        }
    }
    pthread_mutex_unlock(&d->lock);
    httpresp_release(head); /* what was not moved in */
    if (resume)
        resume_connection(d);
    return made;
}

int httpdefer_write(struct server_defer *d, const char *data, size_t len)
{
    int ok = 0, resume = 0;
    pthread_mutex_lock(&d->lock);
    if (d->stream && d->end == END_NONE &&
        (len == 0 || pb_buf_append(&d->out, data, len) == PB_OK)) {
        ok = 1;
        resume = len > 0 && d->suspended;
        if (resume)
            d->suspended = 0;
    }
    pthread_mutex_unlock(&d->lock);
    if (resume)
        resume_connection(d);
    return ok;
}

void httpdefer_end(struct server_defer *d, const char *data, size_t len)
{
    int won = 0, resume = 0;
    pthread_mutex_lock(&d->lock);
    if (d->stream && d->end == END_NONE) {
        if (len)
            pb_buf_append(&d->out, data, len); /* out of memory: the stream ends without it */
        won = end_locked(d, END_WORKER, &resume);
    }
    pthread_mutex_unlock(&d->lock);
    if (resume)
        resume_connection(d);
    if (!won && !d->stream) {
        httpdefer_drop(d); /* a deferred reply ended as a stream: nothing to send */
        return;
    }
    worker_release(d);
}

/* ---- the set and its timer ---- */

/* 1 when the peer of a suspended connection has closed or reset it. Pipelined bytes waiting
 * to be read are not a close; only end-of-file or an error is. */
static int client_gone(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    if (fd < 0 || poll(&p, 1, 0) <= 0)
        return 0;
    if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
        return 1;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* One handle at one tick: past its deadline, or suspended with its client gone. */
static void timer_check(struct server_defer *d, double now, int check_gone)
{
    enum end_reason why = END_NONE;
    pthread_mutex_lock(&d->lock);
    if (d->end == END_NONE && now >= d->deadline)
        why = END_TIMEOUT;
    else if (d->end == END_NONE && check_gone && d->suspended && client_gone(d->fd))
        why = END_GONE; /* the fd is open: the connection cannot close while suspended */
    pthread_mutex_unlock(&d->lock);
    if (why != END_NONE)
        end_by_core(d, why); /* loses harmlessly if the worker answered in between */
}

/* Under set->lock: references to the listed handles (all, or those past their deadline)
 * in *batch, so they can be checked without the set's lock; the earliest deadline in *next. */
static size_t timer_collect(httpdefer *set, int all, double now, struct server_defer ***batch,
                            size_t *cap, double *next)
{
    size_t n = 0;
    for (struct server_defer *d = set->head; d; d = d->next) {
        if (d->deadline < *next)
            *next = d->deadline;
        if (!all && d->deadline > now)
            continue;
        if (n == *cap) {
            size_t grown_cap = *cap ? *cap * 2 : 64;
            struct server_defer **grown = realloc(*batch, grown_cap * sizeof *grown);
            if (!grown)
                break; /* the rest waits for the next tick */
            *batch = grown;
            *cap = grown_cap;
        }
        atomic_fetch_add(&d->refs, 1);
        (*batch)[n++] = d;
    }
    return n;
}

static void *timer_main(void *arg)
{
    httpdefer *set = arg;
    struct server_defer **batch = NULL;
    size_t cap = 0;
    double last_gone_check = 0;
    pthread_mutex_lock(&set->lock);
    while (!set->stop) {
        double now = pb_now_monotonic();
        int check_gone = now - last_gone_check >= GONE_CHECK_S;
        if (check_gone)
            last_gone_check = now;
        double next = last_gone_check + GONE_CHECK_S;
        size_t n = timer_collect(set, check_gone, now, &batch, &cap, &next);
        set->next_wake = next;
        pthread_mutex_unlock(&set->lock);
        for (size_t i = 0; i < n; i++) {
            timer_check(batch[i], now, check_gone);
            defer_unref(batch[i]);
        }
        pthread_mutex_lock(&set->lock);
        if (set->stop || n > 0)
            continue; /* what was ended is off the list: recompute the next wake */
        struct timespec ts;
        double at = set->next_wake;
        ts.tv_sec = (time_t)at;
        ts.tv_nsec = (long)((at - (double)ts.tv_sec) * 1e9);
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_nsec = 999999999L;
        pthread_cond_timedwait(&set->wake, &set->lock, &ts);
    }
    pthread_mutex_unlock(&set->lock);
    free(batch);
    return NULL;
}

pb_status httpdefer_start(double default_deadline_s, metrics_family *outcomes, httpdefer **out,
                          char *err)
{
    httpdefer *set = calloc(1, sizeof *set);
    *out = NULL;
    if (!set)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    set->default_deadline = default_deadline_s;
    set->outcomes = outcomes;
    set->next_wake = 0;
    atomic_init(&set->suspended, 0);
    pthread_mutex_init(&set->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* pb_now_monotonic's clock */
    pthread_cond_init(&set->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&set->thread, NULL, timer_main, set) != 0) {
        pthread_cond_destroy(&set->wake);
        pthread_mutex_destroy(&set->lock);
        free(set);
        return pb_errf(err, PB_ERR_NOMEM, "cannot start the deferred-request timer thread");
    }
    *out = set;
    return PB_OK;
}

void httpdefer_stop(httpdefer *set)
{
    if (!set)
        return;
    pthread_mutex_lock(&set->lock);
    set->stop = 1;
    set->stopping = 1;
    pthread_cond_signal(&set->wake);
    pthread_mutex_unlock(&set->lock);
    pthread_join(set->thread, NULL);
    pthread_cond_destroy(&set->wake);
    pthread_mutex_destroy(&set->lock);
    free(set);
}

void httpdefer_shutdown(httpdefer *set, double drain_s)
{
    double until = pb_now_monotonic() + drain_s;
    while (httpdefer_waiting(set) > 0 && pb_now_monotonic() < until) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    struct server_defer **batch = NULL;
    size_t cap = 0, n;
    double next = 0;
    pthread_mutex_lock(&set->lock);
    set->stopping = 1;
    do { /* ended handles leave the list: repeat until a round finds none */
        n = timer_collect(set, 1, 0, &batch, &cap, &next);
        pthread_mutex_unlock(&set->lock);
        for (size_t i = 0; i < n; i++) {
            end_by_core(batch[i], END_SHUTDOWN);
            defer_unref(batch[i]);
        }
        pthread_mutex_lock(&set->lock);
    } while (n > 0);
    pthread_mutex_unlock(&set->lock);
    free(batch);
}

long httpdefer_suspended(httpdefer *set)
{
    return set ? atomic_load(&set->suspended) : 0;
}

long httpdefer_waiting(httpdefer *set)
{
    if (!set)
        return 0;
    pthread_mutex_lock(&set->lock);
    long n = set->n_listed;
    pthread_mutex_unlock(&set->lock);
    return n;
}
