/* replica.c — the poll thread: rewards by id past a watermark, the event log, run-once jobs. */
#include "service/replica.h"

#include "bandit/featvec.h"
#include "base/hash.h"
#include "service/chatmem.h"
#include "service/live.h"
#include "service/replwm.h"
#include "store/replica.h"
#include "store/writer.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REPLICA_BATCH    1000 /* rewards read per query */
#define REPLICA_MAX_GAPS 32   /* missing-id ranges read one by one; more: one scan from the floor */

struct replica_later {
    void (*fn)(void *ud, int stopping);
    void *ud;
    struct replica_later *next;
};

struct replica {
    app *a;
    char id[64];
    int poll_ms;
    double gap_s, event_keep_s;
    pthread_mutex_t mu; /* the watermark, the event cursor, the poll (one at a time) */
    replwm *wm;
    int64_t max_seen; /* highest reward id seen */
    replwm *ewm;      /* the event log's ids: they may commit out of order too */
    double next_purge;
    store *s; /* the poll's own handle; reopened after a failure */
    /* thread */
    pthread_t thread;
    int running, stopping;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    struct replica_later *later; /* replica_after_poll's, newest first; under stop_mu */
    /* metrics */
    metrics_family *m_taken, *m_lag, *m_seconds, *m_rows, *m_floor, *m_pending, *m_gaps, *m_events,
        *m_errors, *m_last_poll, *m_jobs;
};

const char *replica_id(const replica *r)
{
    return r ? r->id : NULL;
}

int replica_polling(const replica *r)
{
    return r && r->poll_ms > 0;
}

static void register_metrics(replica *r)
{
    metrics *m = app_metrics(r->a);
    char err[PB_ERR_LEN];
    static const char *const kind[] = {"kind"};
    static const char *const job[] = {"job", "outcome"};
    metrics_counter(m, "pb_replica_rewards_taken_total",
                    "rewards the poll found in the database that this replica's memory had not "
                    "counted (written by other replicas)",
                    NULL, 0, &r->m_taken, err);
    metrics_counter(m, "pb_replica_poll_seconds_total",
                    "time spent in polls (the poll thread's cost; one core at most)", NULL, 0,
                    &r->m_seconds, err);
    metrics_counter(m, "pb_replica_rows_read_total",
                    "reward rows the poll read (its own and counted ones included)", NULL, 0,
                    &r->m_rows, err);
    metrics_gauge(m, "pb_replica_lag_seconds",
                  "seconds from the write of the last reward taken from another replica to its "
                  "counting here",
                  NULL, 0, &r->m_lag, err);
    metrics_gauge(m, "pb_replica_watermark", "reward id at or below which every id is settled",
                  NULL, 0, &r->m_floor, err);
    metrics_gauge(m, "pb_replica_pending_ids",
                  "reward ids seen above the watermark (waiting for a missing lower id)", NULL, 0,
                  &r->m_pending, err);
    metrics_counter(m, "pb_replica_gaps_given_up_total",
                    "missing reward ids the poll moved past after replica.gap_ms", NULL, 0,
                    &r->m_gaps, err);
    metrics_counter(m, "pb_replica_events_applied_total",
                    "replica events (erase, reload) from other replicas applied here", kind, 1,
                    &r->m_events, err);
    metrics_counter(m, "pb_replica_poll_errors_total", "polls that failed (retried)", NULL, 0,
                    &r->m_errors, err);
    metrics_gauge(m, "pb_replica_last_poll_unixtime", "Unix time of the last successful poll", NULL,
                  0, &r->m_last_poll, err);
    metrics_counter(m, "pb_jobs_total",
                    "background job ticks: ran here, or skipped (another replica holds it or ran "
                    "it within its interval)",
                    job, 2, &r->m_jobs, err);
}

pb_status replica_new(app *a, store *s, replica **out, char *err)
{
    const config *cfg = app_config(a);
    replica *r = calloc(1, sizeof *r);
    if (!r)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    r->a = a;
    r->poll_ms = (int)config_int(cfg, "replica.poll_ms");
    r->gap_s = (double)config_int(cfg, "replica.gap_ms") / 1000.0;
    r->event_keep_s = (double)config_int(cfg, "replica.event_keep_s");
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->stop_mu, NULL);
    pthread_cond_init(&r->stop_cv, NULL);
    char host[32] = "";
    uint8_t rnd[HASH_SHA256_LEN];
    char hex[HASH_HEX_LEN], seed[128];
    gethostname(host, sizeof host - 1);
    snprintf(seed, sizeof seed, "%s %ld %.9f %p", host, (long)getpid(), pb_now_wall(), (void *)r);
    hash_sha256(seed, strlen(seed), rnd);
    hash_hex(rnd, hex);
    host[strcspn(host, ".")] = '\0';
    snprintf(r->id, sizeof r->id, "%s:%ld:%.8s", host[0] ? host : "host", (long)getpid(), hex);
    register_metrics(r);
    pb_status rc = PB_OK;
    int64_t floor = 0, last_event = 0;
    if (r->poll_ms > 0) {
        rc = replica_reward_floor(s, pb_now_wall() - r->gap_s, &floor, err);
        if (rc == PB_OK)
            rc = replica_event_last(s, &last_event, err);
        if (rc == PB_OK && (!(r->wm = replwm_new(floor)) || !(r->ewm = replwm_new(last_event))))
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    if (rc != PB_OK) {
        replica_free(r);
        return rc;
    }
    if (r->wm) {
        r->max_seen = floor;
        live_set_floor(app_live(a), floor);
    }
    *out = r;
    return PB_OK;
}

/* Runs a taken list of replica_after_poll's in the order they came, freeing it. */
static void run_later(struct replica_later *l, int stopping)
{
    struct replica_later *in_order = NULL;
    while (l) { /* newest first: reverse */
        struct replica_later *next = l->next;
        l->next = in_order;
        in_order = l;
        l = next;
    }
    while (in_order) {
        struct replica_later *next = in_order->next;
        in_order->fn(in_order->ud, stopping);
        free(in_order);
        in_order = next;
    }
}

static void *poll_main(void *arg)
{
    replica *r = arg;
    pthread_mutex_lock(&r->stop_mu);
    while (!r->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long long ns = (long long)until.tv_nsec + (long long)r->poll_ms * 1000000LL;
        until.tv_sec += (time_t)(ns / 1000000000LL);
        until.tv_nsec = (long)(ns % 1000000000LL);
        if (pthread_cond_timedwait(&r->stop_cv, &r->stop_mu, &until) != ETIMEDOUT)
            continue;
        pthread_mutex_unlock(&r->stop_mu);
        char err[PB_ERR_LEN];
        if (replica_poll(r, err) != PB_OK)
            fprintf(stderr, "promptbandit: replica poll failed (retried): %s\n", err);
        pthread_mutex_lock(&r->stop_mu);
        struct replica_later *due = r->later;
        r->later = NULL;
        pthread_mutex_unlock(&r->stop_mu);
        run_later(due, 0);
        pthread_mutex_lock(&r->stop_mu);
    }
    struct replica_later *left = r->later;
    r->later = NULL;
    pthread_mutex_unlock(&r->stop_mu);
    run_later(left, 1);
    return NULL;
}

pb_status replica_after_poll(replica *r, void (*fn)(void *ud, int stopping), void *ud, char *err)
{
    if (!r || !r->running)
        return pb_errf(err, PB_ERR_UNAVAILABLE, "replica polling is off");
    struct replica_later *l = malloc(sizeof *l);
    if (!l)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    *l = (struct replica_later){.fn = fn, .ud = ud};
    pthread_mutex_lock(&r->stop_mu);
    int stopping = r->stopping;
    if (!stopping) {
        l->next = r->later;
        r->later = l;
    }
    pthread_mutex_unlock(&r->stop_mu);
    if (stopping) {
        free(l);
        return pb_errf(err, PB_ERR_UNAVAILABLE, "the replica is stopping");
    }
    return PB_OK;
}

pb_status replica_start(replica *r, char *err)
{
    if (r->poll_ms <= 0)
        return PB_OK;
    if (pthread_create(&r->thread, NULL, poll_main, r) != 0)
        return pb_errf(err, PB_ERR_NOMEM, "cannot start the replica poll thread");
    r->running = 1;
    return PB_OK;
}

void replica_free(replica *r)
{
    if (!r)
        return;
    if (r->running) {
        pthread_mutex_lock(&r->stop_mu);
        r->stopping = 1;
        pthread_cond_broadcast(&r->stop_cv);
        pthread_mutex_unlock(&r->stop_mu);
        pthread_join(r->thread, NULL);
    }
    store_close(r->s);
    replwm_free(r->wm);
    replwm_free(r->ewm);
    pthread_cond_destroy(&r->stop_cv);
    pthread_mutex_destroy(&r->stop_mu);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* ---- the poll ---- */

struct poll_ctx {
    replica *r;
    double now;
    int64_t rows, taken;
};

static int take_reward(void *ctx, const struct replica_reward_row *row)
{
    struct poll_ctx *p = ctx;
    replica *r = p->r;
    char why[PB_ERR_LEN];
    int fresh = replwm_see(r->wm, row->reward_id, p->now);
    p->rows++;
    if (fresh < 0)
        return PB_ERR_NOMEM;
    if (row->reward_id > r->max_seen)
        r->max_seen = row->reward_id;
    /* Its own rewards (and any counted by a rebuild) are usually counted already: skip them
     * before parsing the context. */
    if (!fresh || !row->activated ||
        live_counted(app_live(r->a), row->experiment_id, row->reward_id))
        return 0;
    int applied = 0;
    double x[FEATVEC_DIM];
    const double *features = featvec_from_context(row->context, x, why) == 1 ? x : NULL;
    if (live_apply(app_live(r->a), row->experiment_id, row->reward_id, row->arm_id, row->segment,
                   features, row->value, &applied, why) != PB_OK)
        fprintf(stderr, "promptbandit: live state ignored reward %lld: %s\n",
                (long long)row->reward_id, why);
    if (applied) {
        p->taken++;
        metrics_add(r->m_taken, NULL, 1);
        metrics_set(r->m_lag, NULL, fmax(0, pb_now_wall() - row->created_at));
    }
    return 0;
}

/* Reads the rewards in (after, upto] (upto < 0: no upper end), in batches while they come
 * full. */
static pb_status read_range(replica *r, store *s, struct poll_ctx *p, int64_t after, int64_t upto,
                            char *err)
{
    for (;;) {
        int64_t before = p->rows;
        int rc = replica_rewards_after(s, after, upto < 0 ? INT64_MAX : upto, REPLICA_BATCH,
                                       take_reward, p, err);
        if (rc == PB_ERR_NOMEM)
            return pb_errf(err, rc, "out of memory");
        if (rc != PB_OK)
            return rc;
        if (p->rows - before < REPLICA_BATCH || upto >= 0 || r->max_seen <= after)
            return PB_OK; /* done; a gap range longer than a batch goes on at the next poll */
        after = r->max_seen;
    }
}

static int take_event(void *ctx, const struct replica_event *ev)
{
    struct poll_ctx *p = ctx;
    replica *r = p->r;
    int fresh = replwm_see(r->ewm, ev->id, p->now);
    if (fresh < 0)
        return PB_ERR_NOMEM;
    if (!fresh || !strcmp(ev->origin, r->id))
        return 0; /* its own: applied when it was written */
    if (!strcmp(ev->kind, "erase"))
        chatmem_forget_user_digest(app_chatmem(r->a), ev->subject);
    else if (!strcmp(ev->kind, "reload"))
        live_forget(app_live(r->a), ev->subject);
    else
        return 0;
    metrics_add(r->m_events, (const char *const[]){ev->kind}, 1);
    return 0;
}

static pb_status poll_locked(replica *r, store *s, char *err)
{
    struct poll_ctx p = {.r = r, .now = pb_now_wall()};
    int64_t gaps[REPLICA_MAX_GAPS][2];
    size_t n = replwm_gaps(r->wm, gaps, REPLICA_MAX_GAPS);
    pb_status rc = PB_OK;
    if (n == REPLICA_MAX_GAPS) /* many holes: one scan from the floor reads them all */
        rc = read_range(r, s, &p, replwm_floor(r->wm), -1, err);
    else {
        for (size_t i = 0; rc == PB_OK && i < n; i++)
            rc = read_range(r, s, &p, gaps[i][0] - 1, gaps[i][1], err);
        if (rc == PB_OK)
            rc = read_range(r, s, &p, r->max_seen, -1, err);
    }
    metrics_add(r->m_rows, NULL, (double)p.rows);
    if (rc != PB_OK)
        return rc;
    metrics_add(r->m_gaps, NULL, (double)replwm_advance(r->wm, p.now, r->gap_s));
    live_set_floor(app_live(r->a), replwm_floor(r->wm));
    metrics_set(r->m_floor, NULL, (double)replwm_floor(r->wm));
    metrics_set(r->m_pending, NULL, (double)replwm_pending(r->wm));
    /* Events are few: read everything above their floor (the ids seen above it are skipped). */
    int erc = replica_events_after(s, replwm_floor(r->ewm), REPLICA_BATCH, take_event, &p, err);
    if (erc == PB_ERR_NOMEM)
        return pb_errf(err, erc, "out of memory");
    if (erc != PB_OK)
        return erc;
    replwm_advance(r->ewm, p.now, r->gap_s);
    metrics_set(r->m_last_poll, NULL, pb_now_wall());
    return PB_OK;
}

pb_status replica_poll(replica *r, char *err)
{
    if (!r->wm)
        return PB_OK;
    pthread_mutex_lock(&r->mu);
    double t0 = pb_now_monotonic();
    pb_status rc = PB_OK;
    if (!r->s)
        rc = store_open_config(app_config(r->a), app_db_path(r->a), &r->s, err);
    if (rc == PB_OK)
        rc = poll_locked(r, r->s, err);
    if (rc != PB_OK) {
        /* A dropped connection or a broken handle: open a new one next time; the watermark
         * keeps where the poll was, so nothing is lost. */
        metrics_add(r->m_errors, NULL, 1);
        store_close(r->s);
        r->s = NULL;
    }
    metrics_add(r->m_seconds, NULL, pb_now_monotonic() - t0);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* ---- the event log ---- */

pb_status replica_note_reload(replica *r, store *s, const char *name, char *err)
{
    if (!r || r->poll_ms <= 0)
        return PB_OK;
    return replica_event_add(s, "reload", name, r->id, err);
}

struct erase_note {
    replica *r;
    char digest[HASH_HEX_LEN];
};

static pb_status erase_note_call(store *s, void *ud, int64_t *id, char *err)
{
    struct erase_note *e = ud;
    *id = 0;
    return replica_event_add(s, "erase", e->digest, e->r->id, err);
}

static void erase_note_done(pb_status rc, int64_t id, int duplicate, const char *err, void *ud)
{
    (void)id;
    (void)duplicate;
    if (rc != PB_OK)
        fprintf(stderr,
                "promptbandit: the erasure was not logged for the other replicas (their "
                "memory keeps the user's entries until they expire): %s\n",
                err);
    free(ud);
}

pb_status replica_note_erase(replica *r, struct writer *w, const char *user_key, char *err)
{
    if (!r || r->poll_ms <= 0)
        return PB_OK;
    struct erase_note *e = calloc(1, sizeof *e);
    if (!e)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    e->r = r;
    pb_status rc = hash_sha256_hex(user_key, strlen(user_key), e->digest);
    if (rc == PB_OK)
        rc = writer_submit_call(w, erase_note_call, e, erase_note_done, e, err);
    else
        pb_errf(err, rc, "hashing a user key");
    if (rc != PB_OK)
        free(e);
    return rc;
}

/* ---- run-once jobs ---- */

pb_status replica_run_job(replica *r, const char *name, double interval_s, replica_job_fn *job,
                          int64_t *n, int *ran, char *err)
{
    bool got = false;
    int claimed = 0;
    *ran = 0;
    *n = 0;
    store *s = app_store_acquire(r->a, err);
    if (!s)
        return PB_ERR_DB;
    pb_status rc = store_try_job_lock(s, name, &got, err);
    if (rc == PB_OK && got) {
        rc = replica_job_claim(s, name, pb_now_wall(), interval_s, r->id, &claimed, err);
        if (rc == PB_OK && claimed) {
            rc = job(r->a, n, err);
            *ran = 1;
        }
        store_job_unlock(s, name);
    }
    app_store_release(r->a, s);
    metrics_add(r->m_jobs, (const char *const[]){name, *ran ? "ran" : "skipped"}, 1);
    if (rc == PB_OK && *ran && r->poll_ms > 0 && !strcmp(name, "retention")) {
        /* The event log's purge rides on the retention job's interval. */
        int64_t purged = 0;
        if ((s = app_store_acquire(r->a, err))) {
            rc = replica_events_purge(s, pb_now_wall() - r->event_keep_s, &purged, err);
            app_store_release(r->a, s);
        }
    }
    return rc;
}
