/* emohttp.c — remote emotion classifier over HTTP (see emohttp.h). */
#include "emotion/emohttp.h"

#include "base/pb.h"
#include "emotion/emoloop.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct emohttp {
    char *url;
    long timeout_ms;
    pthread_mutex_t mu; /* guards loop's creation */
    emoloop *loop;      /* started by the first asynchronous call */
    int concurrency, queue_max;
};

pb_status emohttp_new(const char *url, double timeout_s, emohttp **out, char *err)
{
    *out = NULL;
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return pb_errf(err, PB_ERR_INVALID,
                       "emotion.url must be an http:// or https:// URL, got '%s'", url ? url : "");
    if (!(timeout_s > 0))
        return pb_errf(err, PB_ERR_INVALID, "emotion.timeout_s must be positive");
    emohttp *h = calloc(1, sizeof *h);
    if (!h || !(h->url = strdup(url))) {
        free(h);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    h->timeout_ms = (long)(timeout_s * 1000);
    h->concurrency = 16;
    h->queue_max = 256;
    pthread_mutex_init(&h->mu, NULL);
    *out = h;
    return PB_OK;
}

void emohttp_free(emohttp *h)
{
    if (!h)
        return;
    emoloop_free(h->loop); /* ends the calls still running: their done hears "shutting down" */
    pthread_mutex_destroy(&h->mu);
    free(h->url);
    free(h);
}

static int cmp_score(const void *a, const void *b)
{
    double x = ((const struct emohttp_label *)a)->score,
           y = ((const struct emohttp_label *)b)->score;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Reads [{label, score}, ...] into all[]; returns the count or -1 when the shape differs. */
static long read_pairs(json_t *list, struct emohttp_label *all, size_t cap)
{
    size_t i, n = 0;
    json_t *item;
    if (!json_is_array(list) || json_array_size(list) == 0)
        return -1;
    json_array_foreach(list, i, item)
    {
        json_t *label = json_object_get(item, "label"), *score = json_object_get(item, "score");
        if (!json_is_string(label) || !json_is_number(score) || !isfinite(json_number_value(score)))
            return -1;
        if (n < cap) {
            snprintf(all[n].label, sizeof all[n].label, "%s", json_string_value(label));
            all[n++].score = json_number_value(score);
        }
    }
    return (long)n;
}

/* {"labels": [...], "scores": [...]} (zero-shot pipelines). */
static long read_columns(json_t *o, struct emohttp_label *all, size_t cap)
{
    json_t *labels = json_object_get(o, "labels"), *scores = json_object_get(o, "scores");
    if (!json_is_array(labels) || !json_is_array(scores) || json_array_size(labels) == 0 ||
        json_array_size(labels) != json_array_size(scores))
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(labels) && n < cap; i++) {
        json_t *l = json_array_get(labels, i), *s = json_array_get(scores, i);
        if (!json_is_string(l) || !json_is_number(s) || !isfinite(json_number_value(s)))
            return -1;
        snprintf(all[n].label, sizeof all[n].label, "%s", json_string_value(l));
        all[n++].score = json_number_value(s);
    }
    return (long)n;
}

pb_status emohttp_parse(const char *body, size_t len, struct emohttp_label *out, size_t cap,
                        size_t *n, char *err)
{
    enum { MAX_ALL = 4096 };
    json_error_t jerr;
    long got = -1;
    pb_status rc = PB_OK;
    *n = 0;
    struct emohttp_label *all = malloc(MAX_ALL * sizeof *all);
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (!all) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    if (!root) {
        rc = pb_errf(err, PB_ERR_INVALID, "classifier answer is not JSON: %s", jerr.text);
        goto cleanup;
    }
    json_t *v = root;
    if (json_is_array(v) && json_array_size(v) == 1 && json_is_array(json_array_get(v, 0)))
        v = json_array_get(v, 0); /* [[{label, score}...]]: one input, its list */
    if (json_is_object(v) && json_object_get(v, "predictions"))
        v = json_object_get(v, "predictions");
    if (json_is_array(v))
        got = read_pairs(v, all, MAX_ALL);
    else if (json_is_object(v) && json_object_get(v, "labels"))
        got = read_columns(v, all, MAX_ALL);
    else if (json_is_object(v)) {
        json_t *one = json_array();
        json_array_append(one, v);
        got = read_pairs(one, all, MAX_ALL);
        json_decref(one);
    }
    if (got < 0) {
        rc = pb_errf(err, PB_ERR_INVALID,
                     "classifier answer has an unknown shape (expected a list of {label, score})");
        goto cleanup;
    }
    qsort(all, (size_t)got, sizeof *all, cmp_score);
    *n = (size_t)got < cap ? (size_t)got : cap;
    memcpy(out, all, *n * sizeof *out);
cleanup:
    json_decref(root);
    free(all);
    return rc;
}

static char *request_body(const char *text, size_t len)
{
    json_t *o = json_object();
    json_object_set_new(o, "inputs", json_stringn(text, len));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

int emohttp_loop_stats(emohttp *h, long *in_flight, long *queued, long *refused)
{
    pthread_mutex_lock(&h->mu);
    emoloop *loop = h->loop;
    pthread_mutex_unlock(&h->mu);
    if (!loop)
        return 0;
    struct emoloop_stats st;
    emoloop_stats_get(loop, &st);
    *in_flight = st.in_flight;
    *queued = st.queued;
    *refused = st.refused;
    return 1;
}

void emohttp_set_limits(emohttp *h, int concurrency, int queue_max)
{
    pthread_mutex_lock(&h->mu);
    h->concurrency = concurrency;
    h->queue_max = queue_max;
    pthread_mutex_unlock(&h->mu);
}

struct async_call {
    emohttp_done_fn *done;
    void *ud;
    size_t cap;
};

static void async_done(pb_status rc, long status, const char *body, size_t len, const char *err,
                       void *ud)
{
    struct async_call *a = ud;
    char why[PB_ERR_LEN];
    struct emohttp_label *labels = a->cap ? calloc(a->cap, sizeof *labels) : NULL;
    size_t n = 0;
    if (rc == PB_OK && !labels)
        rc = pb_errf(why, PB_ERR_NOMEM, "out of memory");
    else if (rc == PB_OK && (status < 200 || status > 299))
        rc = pb_errf(why, PB_ERR_UNAVAILABLE, "emotion classifier answered HTTP %ld", status);
    else if (rc == PB_OK)
        rc = emohttp_parse(body, len, labels, a->cap, &n, why);
    else
        snprintf(why, sizeof why, "%s", err);
    a->done(rc, labels, rc == PB_OK ? n : 0, rc == PB_OK ? "" : why, a->ud);
    free(labels);
    free(a);
}

pb_status emohttp_classify_async(emohttp *h, const char *text, size_t len, size_t cap,
                                 emohttp_done_fn *done, void *ud, char *err)
{
    pb_status rc = PB_OK;
    pthread_mutex_lock(&h->mu);
    if (!h->loop)
        rc = emoloop_new(h->concurrency, h->queue_max, EMOHTTP_MAX_RESPONSE_BYTES, &h->loop, err);
    emoloop *loop = h->loop;
    pthread_mutex_unlock(&h->mu);
    if (rc != PB_OK)
        return rc;
    char *req = request_body(text, len);
    struct async_call *a = malloc(sizeof *a);
    if (!req || !a) {
        free(req);
        free(a);
        return pb_errf(err, !req ? PB_ERR_INVALID : PB_ERR_NOMEM,
                       !req ? "text is not valid UTF-8" : "out of memory");
    }
    *a = (struct async_call){.done = done, .ud = ud, .cap = cap};
    rc = emoloop_submit(loop, h->url, req, h->timeout_ms, async_done, a, err);
    free(req);
    if (rc != PB_OK)
        free(a);
    return rc;
}

/* The blocking form: the asynchronous call, waited for on a condition variable. */
struct wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    pb_status rc;
    struct emohttp_label *out;
    size_t cap, n;
    char err[PB_ERR_LEN];
};

static void wait_done(pb_status rc, const struct emohttp_label *labels, size_t n, const char *err,
                      void *ud)
{
    struct wait *w = ud;
    pthread_mutex_lock(&w->mu);
    w->rc = rc;
    w->n = n < w->cap ? n : w->cap;
    if (w->n)
        memcpy(w->out, labels, w->n * sizeof *labels);
    snprintf(w->err, sizeof w->err, "%s", err);
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

pb_status emohttp_classify(emohttp *h, const char *text, size_t len, struct emohttp_label *out,
                           size_t cap, size_t *n, char *err)
{
    struct wait w = {.out = out, .cap = cap};
    *n = 0;
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    pb_status rc = emohttp_classify_async(h, text, len, cap, wait_done, &w, err);
    if (rc == PB_OK) { /* bounded: the loop ends every call by its timeout */
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        rc = w.rc;
        *n = w.n;
        if (rc != PB_OK)
            snprintf(err, PB_ERR_LEN, "%s", w.err);
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return rc;
}
