/* pipeline.c — shared validation, impression ownership, counters and erasure of the flows. */
#include "service/pipeline.h"

#include "store/writer.h"

#include "base/text.h"
#include "service/chatmem.h"
#include "service/replica.h"

#include <stdio.h>
#include <string.h>

int pipeline_id_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= PIPELINE_ID_MAX &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:@-") == n;
}

pb_status pipeline_check_id(const char *id, const char *field, int required, char *err)
{
    if (!id && !required)
        return PB_OK;
    if (!pipeline_id_valid(id))
        return pb_errf(err, PB_ERR_INVALID,
                       "field '%s' must be 1 to %d characters of A-Z a-z 0-9 . _ : @ -", field,
                       PIPELINE_ID_MAX);
    return PB_OK;
}

pb_status pipeline_check_experiment(const char *name, char *err)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > 64 || !text_utf8_valid(name, n))
        return pb_errf(err, PB_ERR_INVALID, "field 'experiment' must be 1 to 64 characters");
    return PB_OK;
}

pb_status pipeline_owned_impression(store *s, int64_t id, const char *user_key,
                                    struct impressions_info *info, char *err)
{
    if (id <= 0)
        return pb_errf(err, PB_ERR_INVALID, "field 'impression_id' must be a positive integer");
    pb_status rc = impressions_get(s, id, info, err);
    if (rc == PB_OK && info->user_id[0] && (!user_key || strcmp(info->user_id, user_key) != 0))
        rc = pb_errf(err, PB_ERR_FORBIDDEN, "impression %lld belongs to another user",
                     (long long)id);
    return rc;
}

/* ---- metrics (families are registered on first use) ---- */

void pipeline_count(app *a, const char *name, const char *help, const char *const *labels, size_t n,
                    const char *const *values, double delta)
{
    metrics_family *f;
    char err[PB_ERR_LEN];
    if (metrics_counter(app_metrics(a), name, help, labels, n, &f, err) == PB_OK)
        metrics_add(f, values, delta);
}

void pipeline_count_pull(app *a, const char *experiment, const char *arm)
{
    static const char *const labels[] = {"experiment", "arm"};
    const char *values[] = {experiment, arm};
    pipeline_count(a, "pb_pulls_total", "impressions served per arm (arm chosen and shown)", labels,
                   2, values, 1);
}

/* ---- erasure ---- */

pb_status pipeline_erase_user(app *a, const char *user_id, struct feedback_erase_counts *counts,
                              char *err)
{
    char key[APP_USER_KEY_LEN];
    struct writer_erase_result r = {0};
    pb_status rc = pipeline_check_id(user_id, "user_id", 1, err);
    if (rc != PB_OK)
        return rc;
    app_user_key(a, user_id, key);
    rc = writer_erase_user(app_writer(a), key, &r, err);
    chatmem_forget_user(app_chatmem(a), key);
    char why[PB_ERR_LEN];
    if (rc == PB_OK && replica_note_erase(app_replica(a), app_writer(a), key, why) != PB_OK)
        fprintf(stderr, "promptbandit: the erasure was not logged for the other replicas: %s\n",
                why);
    *counts = r.counts;
    return rc;
}

static void erase_committed(pb_status rc, int64_t id, int duplicate, const char *err, void *ud)
{
    struct pipeline_erase *e = ud;
    (void)id;
    (void)duplicate;
    chatmem_forget_user(app_chatmem(e->a), e->key);
    e->done(rc, err, e->ud);
}

pb_status pipeline_erase_submit(app *a, const char *user_id, struct pipeline_erase *e,
                                void (*done)(pb_status rc, const char *err, void *ud), void *ud,
                                char *err)
{
    pb_status rc = pipeline_check_id(user_id, "user_id", 1, err);
    if (rc != PB_OK)
        return rc;
    memset(e, 0, sizeof *e);
    e->a = a;
    e->done = done;
    e->ud = ud;
    app_user_key(a, user_id, e->key);
    char key[APP_USER_KEY_LEN];
    memcpy(key, e->key, sizeof key); /* e may be done and gone once the erasure is submitted */
    rc = writer_submit_erase(app_writer(a), e->key, &e->result, erase_committed, e, err);
    /* After the erasure in the writer's order: the other replicas forget the user's memory.
     * A failure here only leaves their entries to expire (logged), never fails the erasure
     * already queued (whose done must still come). */
    char why[PB_ERR_LEN];
    if (rc == PB_OK && replica_note_erase(app_replica(a), app_writer(a), key, why) != PB_OK)
        fprintf(stderr, "promptbandit: the erasure was not logged for the other replicas: %s\n",
                why);
    return rc;
}

void pipeline_wait_init(struct pipeline_wait *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
}

void pipeline_wait_end(struct pipeline_wait *w, pb_status rc, const char *err)
{
    pthread_mutex_lock(&w->lock);
    w->rc = rc;
    snprintf(w->err, sizeof w->err, "%s", err ? err : "");
    w->done = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

pb_status pipeline_wait_for(struct pipeline_wait *w, char *err)
{
    pthread_mutex_lock(&w->lock);
    while (!w->done)
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
    if (w->rc != PB_OK)
        snprintf(err, PB_ERR_LEN, "%s", w->err);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    return w->rc;
}
