/* emoloop.c — the remote classifier's event loop (see emoloop.h): submitted calls wait in a
 * FIFO until a slot frees, run as easy handles on one multi handle, and end through their done
 * callback on the loop's thread. The mutex guards the FIFO, the counts and the stop flag only;
 * libcurl's handles are touched by the loop's thread alone. */
#include "emotion/emoloop.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct call {
    char *url, *body;
    long timeout_ms;
    double deadline; /* monotonic */
    emoloop_done_fn *done;
    void *ud;
    CURL *easy;
    struct curl_slist *headers;
    char *answer;
    size_t len;
    int too_big;
    size_t max_body;
    struct call *next;                /* the waiting FIFO */
    struct call *run_prev, *run_next; /* the running list (loop thread only) */
};

struct emoloop {
    CURLM *multi;
    pthread_t thread;
    pthread_mutex_t mu;
    struct call *head, *tail; /* waiting for a slot */
    struct call *run_head;    /* transfers on the multi handle (loop thread, then free) */
    long waiting, running, refused;
    int concurrency, queue_max, stopping;
    size_t max_body;
};

static void call_free(struct call *c)
{
    if (c->easy)
        curl_easy_cleanup(c->easy);
    curl_slist_free_all(c->headers);
    free(c->url);
    free(c->body);
    free(c->answer);
    free(c);
}

static void call_end(struct call *c, pb_status rc, long status, const char *err)
{
    c->done(rc, status, c->answer ? c->answer : "", c->len, err, c->ud);
    call_free(c);
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *user)
{
    struct call *c = user;
    size_t n = size * nmemb;
    if (c->len + n > c->max_body) {
        c->too_big = 1;
        return 0;
    }
    char *grown = realloc(c->answer, c->len + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + c->len, ptr, n);
    c->answer = grown;
    c->len += n;
    c->answer[c->len] = '\0';
    return n;
}

/* Starts c's transfer on the multi handle; 0 when libcurl cannot (c is then ended). */
static int call_start(emoloop *l, struct call *c)
{
    long left = (long)((c->deadline - pb_now_monotonic()) * 1000);
    char err[PB_ERR_LEN];
    if (left <= 0) {
        snprintf(err, sizeof err, "emotion classifier call waited %ld ms for a slot",
                 c->timeout_ms);
        call_end(c, PB_ERR_TIMEOUT, 0, err);
        return 0;
    }
    c->easy = curl_easy_init();
    c->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (!c->easy || !c->headers) {
        call_end(c, PB_ERR_NOMEM, 0, "out of memory");
        return 0;
    }
    curl_easy_setopt(c->easy, CURLOPT_URL, c->url);
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->body);
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, left);
    curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
    if (curl_multi_add_handle(l->multi, c->easy) != CURLM_OK) {
        call_end(c, PB_ERR_UNAVAILABLE, 0, "emotion classifier: libcurl refused the transfer");
        return 0;
    }
    c->run_next = l->run_head;
    if (l->run_head)
        l->run_head->run_prev = c;
    l->run_head = c;
    return 1;
}

/* Moves waiting calls into free slots (loop thread). */
static void fill_slots(emoloop *l)
{
    for (;;) {
        pthread_mutex_lock(&l->mu);
        struct call *c = NULL;
        if (l->head && l->running < l->concurrency) {
            c = l->head;
            l->head = c->next;
            if (!l->head)
                l->tail = NULL;
            l->waiting--;
            l->running++;
        }
        pthread_mutex_unlock(&l->mu);
        if (!c)
            return;
        if (!call_start(l, c)) {
            pthread_mutex_lock(&l->mu);
            l->running--;
            pthread_mutex_unlock(&l->mu);
        }
    }
}

static void run_unlink(emoloop *l, struct call *c)
{
    if (c->run_prev)
        c->run_prev->run_next = c->run_next;
    else
        l->run_head = c->run_next;
    if (c->run_next)
        c->run_next->run_prev = c->run_prev;
    c->run_prev = c->run_next = NULL;
}

/* Ends the transfers libcurl finished (loop thread). */
static void reap(emoloop *l)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(l->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct call *c = NULL;
        CURLcode cc = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
        curl_multi_remove_handle(l->multi, m->easy_handle);
        run_unlink(l, c);
        long status = 0;
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
        char err[PB_ERR_LEN] = "";
        pb_status rc = PB_OK;
        if (c->too_big)
            rc = pb_errf(err, PB_ERR_LIMIT, "emotion classifier answer larger than %zu bytes",
                         c->max_body);
        else if (cc == CURLE_OPERATION_TIMEDOUT)
            rc = pb_errf(err, PB_ERR_TIMEOUT, "emotion classifier did not answer within %ld ms",
                         c->timeout_ms);
        else if (cc != CURLE_OK)
            rc = pb_errf(err, PB_ERR_UNAVAILABLE, "emotion classifier: %s", curl_easy_strerror(cc));
        pthread_mutex_lock(&l->mu);
        l->running--;
        pthread_mutex_unlock(&l->mu);
        call_end(c, rc, status, err);
    }
}

static void *loop_main(void *arg)
{
    emoloop *l = arg;
    for (;;) {
        pthread_mutex_lock(&l->mu);
        int stopping = l->stopping;
        pthread_mutex_unlock(&l->mu);
        if (stopping)
            break;
        fill_slots(l);
        int running = 0;
        curl_multi_perform(l->multi, &running);
        reap(l);
        curl_multi_poll(l->multi, NULL, 0, 1000, NULL);
    }
    return NULL;
}

pb_status emoloop_new(int concurrency, int queue_max, size_t max_body, emoloop **out, char *err)
{
    *out = NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return pb_errf(err, PB_ERR_UNAVAILABLE, "libcurl failed to initialise");
    emoloop *l = calloc(1, sizeof *l);
    if (!l || !(l->multi = curl_multi_init())) {
        free(l);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory (libcurl multi handle)");
    }
    l->concurrency = concurrency > 0 ? concurrency : 16;
    l->queue_max = queue_max >= 0 ? queue_max : 256;
    l->max_body = max_body;
    pthread_mutex_init(&l->mu, NULL);
    if (pthread_create(&l->thread, NULL, loop_main, l) != 0) {
        pthread_mutex_destroy(&l->mu);
        curl_multi_cleanup(l->multi);
        free(l);
        return pb_errf(err, PB_ERR_IO, "cannot start the emotion classifier's thread");
    }
    *out = l;
    return PB_OK;
}

void emoloop_free(emoloop *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->stopping = 1;
    pthread_mutex_unlock(&l->mu);
    curl_multi_wakeup(l->multi);
    pthread_join(l->thread, NULL);
    /* The thread is gone: end what ran and what waited, here. */
    const char *why = "emotion classifier call cancelled: the service is shutting down";
    struct call *c;
    while ((c = l->run_head)) {
        curl_multi_remove_handle(l->multi, c->easy);
        run_unlink(l, c);
        call_end(c, PB_ERR_UNAVAILABLE, 0, why);
    }
    while ((c = l->head)) {
        l->head = c->next;
        call_end(c, PB_ERR_UNAVAILABLE, 0, why);
    }
    curl_multi_cleanup(l->multi);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

pb_status emoloop_submit(emoloop *l, const char *url, const char *body, long timeout_ms,
                         emoloop_done_fn *done, void *ud, char *err)
{
    struct call *c = calloc(1, sizeof *c);
    if (!c || !(c->url = strdup(url)) || !(c->body = strdup(body))) {
        if (c)
            call_free(c);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
    c->deadline = pb_now_monotonic() + (double)c->timeout_ms / 1000.0;
    c->done = done;
    c->ud = ud;
    c->max_body = l->max_body;
    pthread_mutex_lock(&l->mu);
    pb_status rc = PB_OK;
    if (l->stopping)
        rc = pb_errf(err, PB_ERR_UNAVAILABLE, "the emotion classifier is shutting down");
    else if (l->waiting + l->running >= (long)l->concurrency + l->queue_max) {
        l->refused++;
        rc = pb_errf(err, PB_ERR_LIMIT,
                     "%ld emotion classifier calls are already waiting or running",
                     l->waiting + l->running);
    } else {
        if (l->tail)
            l->tail->next = c;
        else
            l->head = c;
        l->tail = c;
        l->waiting++;
    }
    pthread_mutex_unlock(&l->mu);
    if (rc != PB_OK) {
        call_free(c);
        return rc;
    }
    curl_multi_wakeup(l->multi);
    return PB_OK;
}

void emoloop_stats_get(emoloop *l, struct emoloop_stats *out)
{
    pthread_mutex_lock(&l->mu);
    out->in_flight = l->running;
    out->queued = l->waiting;
    out->refused = l->refused;
    pthread_mutex_unlock(&l->mu);
}
