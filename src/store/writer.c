/* writer.c — the group-commit thread: a queue of waiting callers, batched transactions, and a
 * one-by-one fallback so that a bad record fails alone. */
#include "store/writer.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum op_kind { OP_IMPRESSION, OP_REWARD };

/* One caller's record; lives on the caller's stack until done is set. */
struct op {
    enum op_kind kind;
    const struct feedback_impression *imp;
    const struct feedback_reward *reward;
    int64_t id;
    int duplicate, done;
    pb_status rc;
    char err[PB_ERR_LEN];
    struct op *next;
};

struct writer {
    store *s;
    size_t max_batch;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    struct op *head, *tail;
    int stopping;
    struct writer_stats stats;
};

static void *writer_main(void *arg);

pb_status writer_new(store *s, size_t max_batch, writer **out, char *err)
{
    writer *w = calloc(1, sizeof *w);
    if (!w)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory creating the writer");
    w->s = s;
    w->max_batch = max_batch ? max_batch : 512;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->done, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        pthread_cond_destroy(&w->work);
        pthread_cond_destroy(&w->done);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return pb_errf(err, PB_ERR_NOMEM, "cannot start the writer thread");
    }
    *out = w;
    return PB_OK;
}

void writer_free(writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->done);
    pthread_mutex_destroy(&w->mu);
    store_close(w->s);
    free(w);
}

/* Runs ops one transaction each, so every caller gets its own result. */
static void run_singly(writer *w, struct op **ops, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct op *o = ops[i];
        if (o->kind == OP_IMPRESSION)
            o->rc = feedback_insert_impression(w->s, o->imp, &o->id, o->err);
        else
            o->rc = feedback_insert_reward(w->s, o->reward, &o->id, &o->duplicate, o->err);
    }
}

/* Settles ops after their batch: the batch's ids (and duplicate flags, when dups is not NULL)
 * when it committed (rc PB_OK), else one transaction each so that a bad record fails alone. */
static void settle(writer *w, struct op **ops, size_t n, pb_status rc, const int64_t *ids,
                   const int *dups)
{
    if (rc != PB_OK) {
        w->stats.fallbacks += n > 1;
        run_singly(w, ops, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        ops[i]->rc = PB_OK;
        ops[i]->id = ids[i];
        if (dups)
            ops[i]->duplicate = dups[i];
    }
}

/* Writes the impressions of a batch in one transaction. */
static void run_impressions(writer *w, struct op **ops, size_t n)
{
    struct feedback_impression *imps = malloc(n * sizeof *imps);
    int64_t *ids = malloc(n * sizeof *ids);
    char err[PB_ERR_LEN];
    pb_status rc = PB_ERR_NOMEM; /* also for a single op: it is written on its own */
    if (n > 1 && imps && ids) {
        for (size_t i = 0; i < n; i++)
            imps[i] = *ops[i]->imp;
        rc = feedback_insert_impressions(w->s, imps, n, ids, err);
    }
    settle(w, ops, n, rc, ids, NULL);
    free(imps);
    free(ids);
}

/* Writes the rewards of a batch in one transaction. */
static void run_rewards(writer *w, struct op **ops, size_t n)
{
    struct feedback_reward *rs = malloc(n * sizeof *rs);
    int64_t *ids = malloc(n * sizeof *ids);
    int *dups = malloc(n * sizeof *dups);
    char err[PB_ERR_LEN];
    pb_status rc = PB_ERR_NOMEM; /* also for a single op: it is written on its own */
    if (n > 1 && rs && ids && dups) {
        for (size_t i = 0; i < n; i++)
            rs[i] = *ops[i]->reward;
        rc = feedback_insert_rewards(w->s, rs, n, ids, dups, err);
    }
    settle(w, ops, n, rc, ids, dups);
    free(rs);
    free(ids);
    free(dups);
}

/* Splits a batch by kind and writes each part; marks every op done. */
static void run_batch(writer *w, struct op *list, size_t n)
{
    struct op **imps = malloc(n * sizeof *imps), **rews = malloc(n * sizeof *rews);
    size_t ni = 0, nr = 0;
    if (!imps || !rews) {
        for (struct op *o = list; o; o = o->next)
            o->rc = pb_errf(o->err, PB_ERR_NOMEM, "out of memory in the writer");
    } else {
        for (struct op *o = list; o; o = o->next) {
            if (o->kind == OP_IMPRESSION)
                imps[ni++] = o;
            else
                rews[nr++] = o;
        }
        if (ni)
            run_impressions(w, imps, ni);
        if (nr)
            run_rewards(w, rews, nr);
    }
    free(imps);
    free(rews);
}

static void *writer_main(void *arg)
{
    writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->stopping)
            pthread_cond_wait(&w->work, &w->mu);
        if (!w->head)
            break;
        /* Take up to max_batch ops off the queue; callers keep queueing meanwhile. */
        struct op *list = w->head, *last = w->head;
        size_t n = 1;
        while (last->next && n < w->max_batch) {
            last = last->next;
            n++;
        }
        w->head = last->next;
        if (!w->head)
            w->tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&w->mu);
        run_batch(w, list, n);
        pthread_mutex_lock(&w->mu);
        w->stats.records += n;
        w->stats.batches++;
        if (n > w->stats.largest_batch)
            w->stats.largest_batch = n;
        for (struct op *o = list, *next; o; o = next) {
            next = o->next;
            o->done = 1;
        }
        pthread_cond_broadcast(&w->done);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static pb_status submit(writer *w, struct op *o, char *err)
{
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        pthread_mutex_unlock(&w->mu);
        return pb_errf(err, PB_ERR_UNAVAILABLE, "the service is shutting down; retry");
    }
    if (w->tail)
        w->tail->next = o;
    else
        w->head = o;
    w->tail = o;
    pthread_cond_signal(&w->work);
    while (!o->done)
        pthread_cond_wait(&w->done, &w->mu);
    pthread_mutex_unlock(&w->mu);
    if (o->rc != PB_OK && err)
        memcpy(err, o->err, PB_ERR_LEN);
    return o->rc;
}

pb_status writer_impression(writer *w, const struct feedback_impression *imp, int64_t *id,
                            char *err)
{
    struct op o = {.kind = OP_IMPRESSION, .imp = imp};
    pb_status rc = submit(w, &o, err);
    if (rc == PB_OK && id)
        *id = o.id;
    return rc;
}

pb_status writer_reward(writer *w, const struct feedback_reward *r, int64_t *id, int *duplicate,
                        char *err)
{
    struct op o = {.kind = OP_REWARD, .reward = r};
    pb_status rc = submit(w, &o, err);
    if (rc == PB_OK) {
        if (id)
            *id = o.id;
        if (duplicate)
            *duplicate = o.duplicate;
    }
    return rc;
}

void writer_stats_get(writer *w, struct writer_stats *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->stats;
    pthread_mutex_unlock(&w->mu);
}
