/* livejudge.c — a bounded queue of sampled answers and one worker thread that scores them with
 * the local reward model and stores the scores through a pooled store handle; the agreement
 * panel reads the pairs back and hands them to judge/agree. */
#include "service/livejudge.h"

#include "judge/agree.h"
#include "judge/judge.h"
#include "judge/rewardmodel.h"
#include "service/reward.h"
#include "store/feedback.h"
#include "store/impressions.h"
#include "store/judgescore.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct item {
    int64_t impression_id, experiment_id, arm_id;
    char *experiment, *context, *answer;
};

struct livejudge {
    app *a;
    double rate;
    int feeds_bandit;
    rewardmodel *model;
    judge *judge;
    pthread_t worker;
    int running, stopping;
    pthread_mutex_t mu;
    pthread_cond_t wake, idle;
    struct item *queue; /* ring of cap items */
    size_t cap, head, len, busy;
    struct livejudge_stats st;
};

static void item_clear(struct item *it)
{
    free(it->experiment);
    free(it->context);
    free(it->answer);
    memset(it, 0, sizeof *it);
}

/* splitmix64's finaliser: a reproducible uniform draw from an impression id. */
static double sample_draw(int64_t id)
{
    uint64_t z = (uint64_t)id + 0x9e3779b97f4a7c15u;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

/* Stores one score (and the reward when it feeds the bandit); failures are counted and told on
 * stderr: a judge must never fail a chat. */
static void store_score(livejudge *lj, const struct item *it, double score)
{
    char err[PB_ERR_LEN];
    store *s = app_store_acquire(lj->a, err);
    pb_status rc =
        s ? judgescore_put(s, it->impression_id, it->experiment_id, it->arm_id, "local", score, err)
          : PB_ERR_DB;
    if (rc == PB_OK && lj->feeds_bandit) {
        struct feedback_reward r = {
            .impression_id = it->impression_id, .source = "judge", .value = score};
        struct impressions_info info;
        int64_t id = 0;
        int dup = 0;
        rc = impressions_get(s, it->impression_id, &info, err);
        if (rc == PB_OK)
            rc = feedback_insert_reward(s, &r, &id, &dup, err);
        if (rc == PB_OK && !dup)
            reward_committed(lj->a, &info, it->experiment, &r, id);
    }
    if (s)
        app_store_release(lj->a, s);
    pthread_mutex_lock(&lj->mu);
    if (rc == PB_OK)
        lj->st.scored++;
    else
        lj->st.failed++;
    pthread_mutex_unlock(&lj->mu);
    if (rc != PB_OK)
        fprintf(stderr, "livejudge: impression %lld: %s\n", (long long)it->impression_id, err);
}

static void *work(void *arg)
{
    livejudge *lj = arg;
    pthread_mutex_lock(&lj->mu);
    for (;;) {
        while (lj->len == 0 && !lj->stopping)
            pthread_cond_wait(&lj->wake, &lj->mu);
        if (lj->len == 0) /* stopping, and everything queued is done */
            break;
        struct item it = lj->queue[lj->head];
        memset(&lj->queue[lj->head], 0, sizeof it);
        lj->head = (lj->head + 1) % lj->cap;
        lj->len--;
        lj->busy = 1;
        pthread_mutex_unlock(&lj->mu);
        double score = 0;
        char err[PB_ERR_LEN];
        if (judge_score(lj->judge, it.answer, it.context, &score, err) == PB_OK)
            store_score(lj, &it, fmin(1, fmax(-1, score)));
        else {
            pthread_mutex_lock(&lj->mu);
            lj->st.failed++;
            pthread_mutex_unlock(&lj->mu);
        }
        item_clear(&it);
        pthread_mutex_lock(&lj->mu);
        lj->busy = 0;
        if (lj->len == 0)
            pthread_cond_broadcast(&lj->idle);
    }
    pthread_cond_broadcast(&lj->idle);
    pthread_mutex_unlock(&lj->mu);
    return NULL;
}

pb_status livejudge_new(app *a, livejudge **out, char *err)
{
    const config *cfg = app_config(a);
    livejudge *lj = calloc(1, sizeof *lj);
    *out = NULL;
    if (!lj)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    lj->a = a;
    lj->rate = config_double(cfg, "judge.live_sample_rate");
    lj->feeds_bandit = config_bool(cfg, "judge.live_feeds_bandit");
    lj->cap = (size_t)config_int(cfg, "judge.live_queue");
    lj->st.sample_rate = lj->rate;
    lj->st.feeds_bandit = lj->feeds_bandit;
    pthread_mutex_init(&lj->mu, NULL);
    pthread_cond_init(&lj->wake, NULL);
    pthread_cond_init(&lj->idle, NULL);
    pb_status rc = PB_OK;
    if (lj->rate > 0) {
        char why[PB_ERR_LEN];
        struct judge_options jo = {.kind = JUDGE_LOCAL};
        if ((rc = rewardmodel_load(config_str(cfg, "judge.local_model"), &lj->model, why)) != PB_OK)
            pb_errf(err, rc,
                    "judge.live_sample_rate is %g but the reward model judge.local_model "
                    "cannot be read: %s",
                    lj->rate, why);
        jo.local = lj->model;
        if (rc == PB_OK)
            rc = judge_new(&jo, &lj->judge, err);
        if (rc == PB_OK && !(lj->queue = calloc(lj->cap, sizeof *lj->queue)))
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        if (rc == PB_OK && pthread_create(&lj->worker, NULL, work, lj) != 0)
            rc = pb_errf(err, PB_ERR_NOMEM, "cannot start the live judge's thread");
        lj->running = rc == PB_OK;
    }
    if (rc != PB_OK) {
        livejudge_free(lj);
        return rc;
    }
    *out = lj;
    return PB_OK;
}

void livejudge_free(livejudge *lj)
{
    if (!lj)
        return;
    if (lj->running) {
        pthread_mutex_lock(&lj->mu);
        lj->stopping = 1;
        pthread_cond_broadcast(&lj->wake);
        pthread_mutex_unlock(&lj->mu);
        pthread_join(lj->worker, NULL);
    }
    for (size_t i = 0; lj->queue && i < lj->cap; i++)
        item_clear(&lj->queue[i]);
    free(lj->queue);
    judge_free(lj->judge);
    rewardmodel_free(lj->model);
    pthread_cond_destroy(&lj->idle);
    pthread_cond_destroy(&lj->wake);
    pthread_mutex_destroy(&lj->mu);
    free(lj);
}

static char *dup_or_null(const char *s, int *ok)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *ok = 0;
    return d;
}

void livejudge_offer(livejudge *lj, const struct livejudge_offer *o)
{
    if (!lj || !lj->running || !o->answer)
        return;
    int sampled = sample_draw(o->impression_id) < lj->rate;
    pthread_mutex_lock(&lj->mu);
    lj->st.offered++;
    if (!sampled || lj->stopping) {
        pthread_mutex_unlock(&lj->mu);
        return;
    }
    lj->st.sampled++;
    if (lj->len >= lj->cap) {
        lj->st.skipped_full++;
        pthread_mutex_unlock(&lj->mu);
        return;
    }
    int ok = 1;
    struct item it = {.impression_id = o->impression_id,
                      .experiment_id = o->experiment_id,
                      .arm_id = o->arm_id,
                      .experiment = dup_or_null(o->experiment ? o->experiment : "default", &ok),
                      .context = dup_or_null(o->context, &ok),
                      .answer = dup_or_null(o->answer, &ok)};
    if (!ok) {
        lj->st.failed++;
        pthread_mutex_unlock(&lj->mu);
        item_clear(&it);
        return;
    }
    lj->queue[(lj->head + lj->len) % lj->cap] = it;
    lj->len++;
    pthread_cond_signal(&lj->wake);
    pthread_mutex_unlock(&lj->mu);
}

pb_status livejudge_flush(livejudge *lj, double timeout_s, char *err)
{
    if (!lj || !lj->running)
        return PB_OK;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)timeout_s;
    int timed_out = 0;
    pthread_mutex_lock(&lj->mu);
    while ((lj->len > 0 || lj->busy) && !timed_out)
        timed_out = pthread_cond_timedwait(&lj->idle, &lj->mu, &until) != 0;
    pthread_mutex_unlock(&lj->mu);
    return timed_out ? pb_errf(err, PB_ERR_TIMEOUT, "the live judge is still scoring after %g s",
                               timeout_s)
                     : PB_OK;
}

void livejudge_stats_get(livejudge *lj, struct livejudge_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!lj)
        return;
    pthread_mutex_lock(&lj->mu);
    *out = lj->st;
    pthread_mutex_unlock(&lj->mu);
}

/* ---- the agreement panel ---- */

static json_t *number_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* {n, n_signed, spearman, sign_agreement, warn} of the pairs picked by idx (n_idx of them);
 * scratch holds 2 n_idx doubles. */
static json_t *agreement_json(const struct judgescore_pair *p, const size_t *idx, size_t n_idx,
                              double warn_below, double *scratch)
{
    double *j = scratch, *h = scratch + n_idx;
    struct agree_stats st;
    char err[PB_ERR_LEN];
    for (size_t i = 0; i < n_idx; i++) {
        j[i] = p[idx[i]].judge;
        h[i] = p[idx[i]].human;
    }
    if (agree_compute(j, h, n_idx, &st, err) != PB_OK)
        return json_pack("{s:s}", "error", err);
    int warn = st.n >= LIVEJUDGE_MIN_PAIRS && isfinite(st.spearman) && st.spearman < warn_below;
    return json_pack("{s:I, s:I, s:o, s:o, s:b}", "n", (json_int_t)st.n, "n_signed",
                     (json_int_t)st.n_signed, "spearman", number_or_null(st.spearman),
                     "sign_agreement", number_or_null(st.sign_agreement), "warn", warn);
}

static const char *arm_name(const struct app_experiment_view *v, int64_t arm_id)
{
    for (size_t i = 0; i < v->n_arms; i++)
        if (v->arms[i].arm_id == arm_id)
            return v->arms[i].name;
    return "?";
}

static json_t *disagreements_json(const struct app_experiment_view *v,
                                  const struct judgescore_pair *p, size_t n, double *scratch,
                                  size_t *order)
{
    double *j = scratch, *h = scratch + n;
    for (size_t i = 0; i < n; i++) {
        j[i] = p[i].judge;
        h[i] = p[i].human;
    }
    size_t m = agree_largest(j, h, n, LIVEJUDGE_WORST_SHOWN, order);
    json_t *arr = json_array();
    for (size_t k = 0; arr && k < m; k++) {
        const struct judgescore_pair *q = &p[order[k]];
        json_array_append_new(arr,
                              json_pack("{s:I, s:s, s:f, s:f, s:f, s:s?}", "impression_id",
                                        (json_int_t)q->impression_id, "arm", arm_name(v, q->arm_id),
                                        "judge", q->judge, "human", q->human, "gap",
                                        fabs(q->judge - q->human), "answer", q->answer));
    }
    return arr;
}

pb_status livejudge_agreement(app *a, const char *name, json_t **out, char *err)
{
    struct app_experiment_view v = {0};
    struct judgescore_pair *p = NULL;
    size_t n = 0;
    int64_t scored = 0;
    double *scratch = NULL;
    size_t *idx = NULL;
    store *s = NULL;
    json_t *root = NULL;
    *out = NULL;
    pb_status rc = app_experiment_view(a, name, &v, err);
    if (rc == PB_OK && !(s = app_store_acquire(a, err)))
        rc = PB_ERR_DB;
    if (rc == PB_OK)
        rc = judgescore_pairs(s, v.id, &p, &n, err);
    if (rc == PB_OK)
        rc = judgescore_count(s, v.id, &scored, err);
    if (s)
        app_store_release(a, s);
    if (rc == PB_OK &&
        (!(scratch = calloc(2 * n + 1, sizeof *scratch)) || !(idx = calloc(n + 1, sizeof *idx))))
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc != PB_OK)
        goto cleanup;
    struct livejudge_stats st;
    livejudge_stats_get(app_livejudge(a), &st);
    double warn_below = config_double(app_config(a), "judge.agreement_warn");
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    json_t *arms = json_array();
    for (size_t k = 0; arms && k < v.n_arms; k++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (p[i].arm_id == v.arms[k].arm_id)
                idx[m++] = i;
        if (m == 0)
            continue;
        json_t *ag = agreement_json(p, idx, m, warn_below, scratch);
        json_object_set_new(ag, "arm", json_string(v.arms[k].name));
        json_object_set_new(ag, "arm_id", json_integer(v.arms[k].arm_id));
        json_array_append_new(arms, ag);
    }
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    root = json_pack(
        "{s:s, s:f, s:b, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o}", "experiment", v.name,
        "sample_rate", st.sample_rate, "feeds_bandit", st.feeds_bandit, "warn_below", warn_below,
        "min_pairs", (json_int_t)LIVEJUDGE_MIN_PAIRS, "scored_stored", (json_int_t)scored,
        "sampled", (json_int_t)st.sampled, "scored", (json_int_t)st.scored, "skipped_queue_full",
        (json_int_t)st.skipped_full, "failed", (json_int_t)st.failed, "overall",
        agreement_json(p, idx, n, warn_below, scratch), "arms", arms, "disagreements",
        disagreements_json(&v, p, n, scratch, idx));
    if (!root)
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    *out = root;
cleanup:
    free(scratch);
    free(idx);
    judgescore_pairs_free(p, n);
    app_experiment_view_clear(&v);
    return rc;
}
