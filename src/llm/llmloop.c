/* llmloop.c — the provider event loop (see llmloop.h).
 *
 * Threads. One loop thread owns the curl multi handle, the epoll set and every call it has
 * taken in; nothing else touches them. Other threads talk to it through the loop's mutex: a
 * submit reserves a place (admitted < concurrency + queue_max), builds the request body outside
 * the lock, then appends the call to the inbox; a cancel sets the call's flag and raises
 * cancel_pending; llm_loop_free raises stopping. Each of them then writes the eventfd, which
 * is in the epoll set, so the loop wakes. User callbacks (on_delta, on_done) run on the loop
 * thread with no lock held, so they may submit again.
 *
 * Why epoll and curl_multi_socket_action rather than curl_multi_poll: with a thousand streams
 * open, curl_multi_perform walks every transfer (and polls each socket) on every wake-up, while
 * socket_action runs only the transfer whose socket is ready. curl tells us which sockets to
 * watch (on_socket) and when to call it back for its own timeouts (on_timer).
 *
 * A call's path, all on the loop thread: inbox -> ready (FIFO, waiting for one of the
 * `concurrency` slots) -> running (its easy handle in the multi handle) -> either finished, or
 * waiting (out a backoff or Retry-After, holding no slot) -> ready again when its delay is over.
 * Deadlines: a running attempt is bounded by curl's own time limit (llmcall sets it to what is
 * left); a ready call past its deadline is finished here with PB_ERR_TIMEOUT; a retry delay that
 * would pass the deadline is refused by llmcall, so a waiting call never outlives it. Finishing
 * a call: counters under the lock (admitted--), then on_done, then the call is freed — which is
 * why a cancel is only valid until on_done returns. A cancel is found by scanning the loop's
 * lists for raised flags, so the loop never keeps a pointer a caller may have lost.
 *
 * Stopping: submits are refused from the moment stopping is raised; the loop then takes the
 * inbox one last time, finishes every call it holds with PB_ERR_UNAVAILABLE and returns, and
 * llm_loop_free joins it. */
#include "llm/llmloop.h"

#include "llm/llmcall.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define LOOP_CONCURRENCY_DEFAULT 64
#define LOOP_QUEUE_DEFAULT       256
#define LOOP_EVENTS              256
#define LOOP_MAX_WAIT_MS         1000

struct llm_call {
    struct llmcall k; /* first: CURLOPT_PRIVATE points at k, and so at the call */
    struct llm_response resp;
    pb_status status;
    char err[PB_ERR_LEN];
    struct llm_call_handlers h;
    struct llm_call *prev, *next; /* in one of the loop's lists */
    int cancel;                   /* under the loop's lock */
};

struct call_list {
    struct llm_call *head, *tail;
    size_t n;
};

struct llm_loop {
    llm_client *client;
    int concurrency, queue_max;
    CURLM *multi;
    int epfd, wakefd;
    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    /* under lock */
    struct call_list inbox;
    int stopping, cancel_pending;
    long admitted; /* accepted, on_done not called yet */
    struct llm_loop_stats stats;
    /* loop thread only */
    struct call_list ready, waiting, running;
    double timer_at; /* when curl wants on_timer's call back (monotonic); < 0: never */
};

/* ---- lists --------------------------------------------------------------------------------- */

static void list_push(struct call_list *q, struct llm_call *c, int front)
{
    c->prev = front ? NULL : q->tail;
    c->next = front ? q->head : NULL;
    if (c->prev)
        c->prev->next = c;
    else
        q->head = c;
    if (c->next)
        c->next->prev = c;
    else
        q->tail = c;
    q->n++;
}

static void list_remove(struct call_list *q, struct llm_call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        q->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        q->tail = c->prev;
    c->prev = c->next = NULL;
    q->n--;
}

/* Moves every call of from to the end of to. */
static void list_splice(struct call_list *to, struct call_list *from)
{
    while (from->head) {
        struct llm_call *c = from->head;
        list_remove(from, c);
        list_push(to, c, 0);
    }
}

/* ---- curl's sockets and timer -------------------------------------------------------------- */

static int on_socket(CURL *easy, curl_socket_t s, int what, void *user, void *socket_user)
{
    llm_loop *l = user;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    struct epoll_event ev = {0};
    ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
    ev.data.fd = s;
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT)
        epoll_ctl(l->epfd, EPOLL_CTL_ADD, s, &ev);
    return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *user)
{
    llm_loop *l = user;
    l->timer_at = timeout_ms < 0 ? -1 : pb_now_monotonic() + (double)timeout_ms / 1000.0;
    return 0;
}

static void loop_wake(llm_loop *l)
{
    uint64_t one = 1;
    ssize_t n = write(l->wakefd, &one, sizeof one); /* EAGAIN: a wake-up is pending anyway */
    (void)n;
}

/* ---- finishing calls ----------------------------------------------------------------------- */

/* Counts, reports and frees a call that is in no list and no multi handle. */
static void call_end(llm_loop *l, struct llm_call *c)
{
    pthread_mutex_lock(&l->lock);
    l->admitted--;
    if (c->status == PB_OK)
        l->stats.completed++;
    else
        l->stats.failed++;
    pthread_mutex_unlock(&l->lock);
    if (c->h.on_done)
        c->h.on_done(c->status, &c->resp, c->status == PB_OK ? "" : c->err, c->h.ud);
    llm_response_clear(&c->resp);
    llmcall_release(&c->k);
    free(c);
}

static void running_set(llm_loop *l)
{
    pthread_mutex_lock(&l->lock);
    l->stats.in_flight = (long)l->running.n;
    pthread_mutex_unlock(&l->lock);
}

/* Finishes c, which is in no list, with code and msg and ends it; in_multi: its transfer is
 * running and is stopped first. */
static void call_abort(llm_loop *l, struct llm_call *c, int in_multi, pb_status code,
                       const char *msg)
{
    if (in_multi) {
        curl_multi_remove_handle(l->multi, c->k.easy);
        running_set(l);
    }
    llmcall_finish(&c->k, code, msg);
    call_end(l, c);
}

/* ---- the loop ------------------------------------------------------------------------------ */

/* Takes the inbox; returns 1 when the loop must stop. *cancels is set when a cancel came. */
static int loop_take(llm_loop *l, int *cancels)
{
    pthread_mutex_lock(&l->lock);
    list_splice(&l->ready, &l->inbox);
    int stop = l->stopping;
    *cancels = l->cancel_pending;
    l->cancel_pending = 0;
    pthread_mutex_unlock(&l->lock);
    return stop;
}

/* Finishes every call whose cancel flag is up. */
static void loop_cancels(llm_loop *l)
{
    struct call_list *lists[] = {&l->ready, &l->waiting, &l->running};
    struct call_list doomed[3] = {{0}};
    pthread_mutex_lock(&l->lock);
    for (int i = 0; i < 3; i++)
        for (struct llm_call *c = lists[i]->head, *next; c; c = next) {
            next = c->next;
            if (c->cancel) {
                list_remove(lists[i], c);
                list_push(&doomed[i], c, 0);
            }
        }
    pthread_mutex_unlock(&l->lock);
    for (int i = 0; i < 3; i++)
        while (doomed[i].head) {
            struct llm_call *c = doomed[i].head;
            list_remove(&doomed[i], c);
            call_abort(l, c, lists[i] == &l->running, PB_ERR_TIMEOUT, "LLM call cancelled");
        }
}

/* Moves waiting calls whose delay is over to the front of ready (they were accepted earlier),
 * finishes ready calls whose deadline passed, and starts ready calls while slots are free. */
static void loop_schedule(llm_loop *l, double now)
{
    for (struct llm_call *c = l->waiting.head, *next; c; c = next) {
        next = c->next;
        if (c->k.not_before <= now) {
            list_remove(&l->waiting, c);
            list_push(&l->ready, c, 1);
        }
    }
    for (struct llm_call *c = l->ready.head, *next; c; c = next) {
        next = c->next;
        if (c->k.deadline > 0 && c->k.deadline <= now) {
            char msg[PB_ERR_LEN];
            snprintf(msg, sizeof msg,
                     "LLM call ran out of time waiting for one of the %d provider slots "
                     "(llm.concurrency)",
                     l->concurrency);
            list_remove(&l->ready, c);
            call_abort(l, c, 0, PB_ERR_TIMEOUT, msg);
        }
    }
    int started = 0;
    while (l->ready.head && (int)l->running.n < l->concurrency) {
        struct llm_call *c = l->ready.head;
        list_remove(&l->ready, c);
        if (llmcall_attempt_start(&c->k, l->multi) == PB_OK) {
            list_push(&l->running, c, 0);
            started = 1;
        } else {
            call_end(l, c); /* finished by llmcall_attempt_start */
        }
    }
    if (started)
        running_set(l);
}

/* Milliseconds epoll may sleep: until curl's timer, the first retry delay that ends, or the
 * first deadline of a call waiting for a slot. */
static int loop_wait_ms(llm_loop *l, double now)
{
    double until = now + LOOP_MAX_WAIT_MS / 1000.0;
    if (l->timer_at >= 0 && l->timer_at < until)
        until = l->timer_at;
    for (struct llm_call *c = l->waiting.head; c; c = c->next)
        if (c->k.not_before < until)
            until = c->k.not_before;
    for (struct llm_call *c = l->ready.head; c; c = c->next)
        if (c->k.deadline > 0 && c->k.deadline < until)
            until = c->k.deadline;
    double ms = ceil((until - now) * 1000);
    return ms > 0 ? (int)ms : 0;
}

/* Settles every transfer curl reports finished. */
static void loop_collect(llm_loop *l)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(l->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct llm_call *c = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
        CURLcode result = m->data.result;
        curl_multi_remove_handle(l->multi, m->easy_handle);
        list_remove(&l->running, c);
        running_set(l); /* before on_done, so that stats read there add up */
        llmcall_attempt_end(&c->k, result);
        if (c->k.state == LLMCALL_DONE)
            call_end(l, c);
        else
            list_push(&l->waiting, c, 0);
    }
}

/* Runs curl on the sockets epoll reported, then on its timer when that is due. */
static void loop_io(llm_loop *l, const struct epoll_event *ev, int n)
{
    int still;
    for (int i = 0; i < n; i++) {
        if (ev[i].data.fd == l->wakefd) {
            uint64_t count;
            while (read(l->wakefd, &count, sizeof count) > 0)
                ;
            continue;
        }
        int flags = ((ev[i].events & EPOLLIN) ? CURL_CSELECT_IN : 0) |
                    ((ev[i].events & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
                    ((ev[i].events & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(l->multi, ev[i].data.fd, flags, &still);
    }
    if (l->timer_at >= 0 && pb_now_monotonic() >= l->timer_at) {
        l->timer_at = -1; /* on_timer may set it again from inside the call */
        curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &still);
    }
}

/* Finishes everything the loop holds: the service is shutting down. */
static void loop_drain(llm_loop *l)
{
    static const char msg[] = "LLM call cancelled: the service is shutting down";
    struct call_list *lists[] = {&l->running, &l->waiting, &l->ready};
    int cancels;
    loop_take(l, &cancels);
    for (int i = 0; i < 3; i++)
        while (lists[i]->head) {
            struct llm_call *c = lists[i]->head;
            list_remove(lists[i], c);
            call_abort(l, c, i == 0, PB_ERR_UNAVAILABLE, msg);
        }
}

static void *loop_main(void *arg)
{
    llm_loop *l = arg;
    struct epoll_event ev[LOOP_EVENTS];
    for (;;) {
        int cancels;
        if (loop_take(l, &cancels))
            break;
        if (cancels)
            loop_cancels(l);
        double now = pb_now_monotonic();
        loop_schedule(l, now);
        int n = epoll_wait(l->epfd, ev, LOOP_EVENTS, loop_wait_ms(l, now));
        loop_io(l, ev, n > 0 ? n : 0);
        loop_collect(l);
    }
    loop_drain(l);
    return NULL;
}

/* ---- the public face ----------------------------------------------------------------------- */

void llm_loop_options_from_config(const config *cfg, struct llm_loop_options *out)
{
    out->concurrency = (int)config_int(cfg, "llm.concurrency");
    out->queue_max = (int)config_int(cfg, "llm.queue_max");
}

pb_status llm_loop_new(llm_client *c, const struct llm_loop_options *o, llm_loop **out, char *err)
{
    pb_status rc = PB_OK;
    *out = NULL;
    llm_loop *l = calloc(1, sizeof *l);
    if (!l)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&l->lock, NULL);
    l->client = c;
    l->concurrency = o && o->concurrency > 0 ? o->concurrency : LOOP_CONCURRENCY_DEFAULT;
    l->queue_max = o && o->queue_max >= 0 ? o->queue_max : LOOP_QUEUE_DEFAULT;
    l->timer_at = -1;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    l->multi = curl_multi_init();
    if (l->epfd < 0 || l->wakefd < 0) {
        rc = pb_errf(err, PB_ERR_IO, "cannot start the LLM loop: %s", strerror(errno));
        goto cleanup;
    }
    if (!l->multi) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory (curl multi)");
        goto cleanup;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = l->wakefd};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) != 0) {
        rc = pb_errf(err, PB_ERR_IO, "cannot start the LLM loop: %s", strerror(errno));
        goto cleanup;
    }
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
    curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread inherits the mask */
    int perr = pthread_create(&l->thread, NULL, loop_main, l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (perr != 0) {
        rc = pb_errf(err, PB_ERR_IO, "cannot start the LLM loop thread: %s", strerror(perr));
        goto cleanup;
    }
    l->started = 1;
    *out = l;
    return PB_OK;
cleanup:
    llm_loop_free(l);
    return rc;
}

void llm_loop_free(llm_loop *l)
{
    if (!l)
        return;
    if (l->started) {
        pthread_mutex_lock(&l->lock);
        l->stopping = 1;
        pthread_mutex_unlock(&l->lock);
        loop_wake(l);
        pthread_join(l->thread, NULL);
    }
    if (l->multi)
        curl_multi_cleanup(l->multi);
    if (l->epfd >= 0)
        close(l->epfd);
    if (l->wakefd >= 0)
        close(l->wakefd);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

/* Reserves a place for one call: PB_OK, or the refusal (stopping, or full). */
static pb_status loop_admit(llm_loop *l, char *err)
{
    pb_status rc = PB_OK;
    pthread_mutex_lock(&l->lock);
    if (l->stopping) {
        rc = pb_errf(err, PB_ERR_UNAVAILABLE, "the LLM loop is shutting down");
    } else if (l->admitted >= (long)l->concurrency + l->queue_max) {
        l->stats.refused++;
        rc = pb_errf(err, PB_ERR_LIMIT,
                     "LLM provider queue full: %d calls in flight and %d waiting "
                     "(llm.concurrency, llm.queue_max)",
                     l->concurrency, l->queue_max);
    } else {
        l->admitted++;
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}

pb_status llm_loop_submit(llm_loop *l, const struct llm_request *req, double deadline, int stream,
                          const struct llm_call_handlers *h, struct llm_call **out, char *err)
{
    if (out)
        *out = NULL;
    pb_status rc = loop_admit(l, err);
    if (rc != PB_OK)
        return rc;
    struct llm_call *c = calloc(1, sizeof *c);
    if (!c) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    } else {
        c->h = *h;
        rc = llmcall_init(&c->k, l->client, req, deadline, stream, h->on_delta, h->ud, &c->resp,
                          &c->status, c->err);
        if (rc != PB_OK)
            pb_errf(err, rc, "%s", c->err);
    }
    pthread_mutex_lock(&l->lock);
    if (rc == PB_OK && l->stopping)
        rc = pb_errf(err, PB_ERR_UNAVAILABLE, "the LLM loop is shutting down");
    if (rc == PB_OK) {
        list_push(&l->inbox, c, 0);
        if (out)
            *out = c; /* before the loop can see it: on_done may come before we return */
    } else {
        l->admitted--;
    }
    pthread_mutex_unlock(&l->lock);
    if (rc != PB_OK) {
        if (c) {
            llmcall_release(&c->k);
            llm_response_clear(&c->resp);
            free(c);
        }
        return rc;
    }
    loop_wake(l);
    return PB_OK;
}

void llm_loop_cancel(llm_loop *l, struct llm_call *call)
{
    if (!call)
        return;
    pthread_mutex_lock(&l->lock);
    call->cancel = 1;
    l->cancel_pending = 1;
    pthread_mutex_unlock(&l->lock);
    loop_wake(l);
}

void llm_loop_stats_get(llm_loop *l, struct llm_loop_stats *out)
{
    pthread_mutex_lock(&l->lock);
    *out = l->stats;
    out->queued = l->admitted - l->stats.in_flight;
    pthread_mutex_unlock(&l->lock);
}
