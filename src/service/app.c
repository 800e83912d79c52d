/* app.c — builds and tears down the service context; store pool, background thread (retention
 * purge, reward wait sweep), views. */
#include "service/app.h"

#include "store/experiment.h"
#include "store/arms.h"
#include "service/chatmem.h"
#include "service/dashcache.h"
#include "service/oaiapi.h"
#include "store/feedback.h"
#include "store/impressions.h"
#include "service/live.h"
#include "service/livejudge.h"
#include "service/replica.h"
#include "service/segmap.h"
#include "store/writer.h"
#include "llm/llmloop.h"

#include <errno.h>
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define POOL_MAX 64

struct app {
    const config *cfg;
    char *db_path;
    metrics *metrics;
    live *live;
    segmap *segmap;
    writer *writer;
    chatmem *chatmem;
    dashcache *dashcache;
    emotion *emotion;
    llm_client *llm;
    llm_loop *loop;       /* the provider event loop over llm; NULL without a provider */
    livejudge *livejudge; /* judge.live_sample_rate's scorer (livejudge.h) */
    replica *replica;     /* the poll of what other replicas wrote; run-once jobs */
    char llm_note[PB_ERR_LEN];
    double started_at;
    pthread_mutex_t pool_mu;
    store *pool[POOL_MAX];
    size_t pool_n;
    /* retention thread */
    pthread_t retention;
    int retention_running, stopping;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
};

const config *app_config(const app *a)
{
    return a->cfg;
}
metrics *app_metrics(app *a)
{
    return a->metrics;
}
struct live *app_live(app *a)
{
    return a->live;
}
const struct segmap *app_segmap(const app *a)
{
    return a->segmap;
}
struct livejudge *app_livejudge(app *a)
{
    return a->livejudge;
}
struct replica *app_replica(app *a)
{
    return a->replica;
}
const char *app_db_path(const app *a)
{
    return a->db_path;
}
struct writer *app_writer(app *a)
{
    return a->writer;
}
struct dashcache *app_dashcache(app *a)
{
    return a->dashcache;
}
struct chatmem *app_chatmem(app *a)
{
    return a->chatmem;
}
const emotion *app_emotion(const app *a)
{
    return a->emotion;
}
llm_client *app_llm(app *a)
{
    return a->llm;
}
llm_loop *app_llm_loop(app *a)
{
    return a->loop;
}

const char *app_llm_note(const app *a)
{
    return a->llm_note;
}
double app_started_at(const app *a)
{
    return a->started_at;
}

static pb_status open_store(const app *a, store **out, char *err)
{
    return store_open_config(a->cfg, a->db_path, out, err);
}

store *app_store_acquire(app *a, char *err)
{
    store *s = NULL;
    pthread_mutex_lock(&a->pool_mu);
    if (a->pool_n > 0)
        s = a->pool[--a->pool_n];
    pthread_mutex_unlock(&a->pool_mu);
    if (!s && open_store(a, &s, err) != PB_OK)
        return NULL;
    return s;
}

void app_store_release(app *a, store *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&a->pool_mu);
    if (a->pool_n < POOL_MAX) {
        a->pool[a->pool_n++] = s;
        s = NULL;
    }
    pthread_mutex_unlock(&a->pool_mu);
    store_close(s);
}

void app_user_key(const app *a, const char *user_id, char out[APP_USER_KEY_LEN])
{
    const char *key = config_str(a->cfg, "privacy.pseudonym_key");
    if (!key || !*key) {
        snprintf(out, APP_USER_KEY_LEN, "%s", user_id);
        return;
    }
    uint8_t mac[HASH_SHA256_LEN];
    hash_hmac_sha256(key, strlen(key), user_id, strlen(user_id), mac);
    hash_hex(mac, out);
}

pb_status app_run_retention(app *a, int64_t *deleted, char *err)
{
    long days = config_int(a->cfg, "privacy.retention_days");
    int64_t n = 0;
    pb_status rc = PB_OK;
    if (days > 0) {
        store *s = app_store_acquire(a, err);
        if (!s)
            return PB_ERR_DB;
        rc = feedback_purge_messages(s, pb_now_wall() - (double)days * 86400.0, &n, err);
        app_store_release(a, s);
    }
    if (rc == PB_OK && deleted)
        *deleted = n;
    return rc;
}

pb_status app_missing_reward(const config *cfg, int *exclude, double *value, char *err)
{
    const char *v = config_str(cfg, "rewards.missing");
    char *end;
    *exclude = !strcmp(v, "exclude");
    *value = 0;
    if (*exclude)
        return PB_OK;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || *end != '\0' || errno != 0 || !isfinite(d) || d < -1 || d > 1)
        return pb_errf(err, PB_ERR_INVALID,
                       "setting rewards.missing: expected exclude or a number in [-1, 1], got "
                       "'%s'",
                       v);
    *value = d;
    return PB_OK;
}

static void sweep_observe(void *ctx, const struct impressions_default_row *row)
{
    app *a = ctx;
    char why[PB_ERR_LEN];
    if (live_observe(a->live, row->experiment_id, row->reward_id, row->arm_id, row->segment,
                     row->features, row->value, why) != PB_OK)
        fprintf(stderr, "promptbandit: live state ignored default reward %lld: %s\n",
                (long long)row->reward_id, why);
}

pb_status app_run_reward_sweep(app *a, int64_t *given, char *err)
{
    long wait = config_int(a->cfg, "rewards.wait_s");
    int exclude;
    double value;
    int64_t n = 0;
    pb_status rc = app_missing_reward(a->cfg, &exclude, &value, err);
    if (rc == PB_OK && wait > 0 && !exclude) {
        store *s = app_store_acquire(a, err);
        if (!s)
            return PB_ERR_DB;
        rc = impressions_default_rewards(s, pb_now_wall() - (double)wait, value, sweep_observe, a,
                                         &n, err);
        app_store_release(a, s);
    }
    if (rc == PB_OK && given)
        *given = n;
    return rc;
}

static pb_status job_retention(app *a, int64_t *n, char *err)
{
    return app_run_retention(a, n, err);
}

static pb_status job_sweep(app *a, int64_t *n, char *err)
{
    return app_run_reward_sweep(a, n, err);
}

/* Runs each job when it is due (now >= *next) and moves *next on by every seconds; a job runs
 * once across replicas (replica_run_job: another replica may have run it). */
static void background_tick(app *a, double now, double *next_retention, double *next_sweep)
{
    char err[PB_ERR_LEN];
    int64_t n = 0;
    int ran = 0;
    if (now >= *next_retention) {
        double every = (double)config_int(a->cfg, "privacy.retention_interval_s");
        *next_retention = now + every;
        if (replica_run_job(a->replica, "retention", every, job_retention, &n, &ran, err) != PB_OK)
            fprintf(stderr, "promptbandit: retention purge failed: %s\n", err);
        else if (n > 0)
            fprintf(stderr, "promptbandit: retention purge deleted %lld messages\n", (long long)n);
    }
    if (now >= *next_sweep) {
        double every = (double)config_int(a->cfg, "rewards.sweep_interval_s");
        *next_sweep = now + every;
        if (replica_run_job(a->replica, "reward_sweep", every, job_sweep, &n, &ran, err) != PB_OK)
            fprintf(stderr, "promptbandit: reward wait sweep failed: %s\n", err);
        else if (n > 0)
            fprintf(stderr, "promptbandit: reward wait sweep gave %lld default rewards\n",
                    (long long)n);
    }
}

/* The background jobs: retention purge and reward wait sweep, each on its own interval. */
static void *retention_main(void *arg)
{
    app *a = arg;
    double now = pb_now_wall();
    double next_retention = now + (double)config_int(a->cfg, "privacy.retention_interval_s");
    double next_sweep = now + (double)config_int(a->cfg, "rewards.sweep_interval_s");
    pthread_mutex_lock(&a->stop_mu);
    while (!a->stopping) {
        struct timespec until;
        double wake = next_retention < next_sweep ? next_retention : next_sweep;
        until.tv_sec = (time_t)ceil(wake);
        until.tv_nsec = 0;
        if (pthread_cond_timedwait(&a->stop_cv, &a->stop_mu, &until) != ETIMEDOUT)
            continue;
        pthread_mutex_unlock(&a->stop_mu);
        background_tick(a, pb_now_wall(), &next_retention, &next_sweep);
        pthread_mutex_lock(&a->stop_mu);
    }
    pthread_mutex_unlock(&a->stop_mu);
    return NULL;
}

/* The default experiment, synced from the prompts folder when that folder exists; *changed = 1
 * when the sync created or versioned an arm (other replicas must reload it). */
static pb_status ensure_default(app *a, store *s, const char *prompts_dir, int *changed, char *err)
{
    struct store_experiment e = {0};
    struct stat st;
    const char *policy = config_str(a->cfg, "bandit.policy");
    pb_status rc;
    if (stat(prompts_dir, &st) == 0 && S_ISDIR(st.st_mode)) {
        struct arms_sync_summary sum = {0};
        rc = arms_ensure_default(s, prompts_dir, policy, &e, &sum, err);
        *changed = sum.created + sum.versioned > 0;
    } else {
        fprintf(stderr,
                "promptbandit: prompts folder %s not found; serving the arms already "
                "in the database\n",
                prompts_dir);
        rc = store_experiment_get_or_create(s, "default", "live", policy, &e, err);
    }
    store_experiment_clear(&e);
    return rc;
}

static pb_status open_llm(app *a, char *err)
{
    char why[PB_ERR_LEN];
    pb_status rc = llm_client_from_config(a->cfg, &a->llm, why);
    if (rc == PB_ERR_UNAVAILABLE) {
        snprintf(a->llm_note, sizeof a->llm_note,
                 "chat generation needs an LLM provider: set PB_LLM_BASE_URL (or "
                 "OPENAI_BASE_URL) and OPENAI_API_KEY");
        a->llm = NULL;
        return PB_OK;
    }
    if (rc != PB_OK)
        return pb_errf(err, rc, "LLM provider settings: %s", why);
    struct llm_loop_options lo;
    llm_loop_options_from_config(a->cfg, &lo);
    return llm_loop_new(a->llm, &lo, &a->loop, err);
}

/* What the writer reports with nobody waiting (commits failing and recovering, a checkpoint
 * left pending and finished) goes to the service's log. */
static void writer_log_line(const char *msg, void *ud)
{
    (void)ud;
    fprintf(stderr, "promptbandit: writer: %s\n", msg);
}

static pb_status app_open_parts(app *a, const struct app_options *opt, char *err)
{
    store *s = NULL, *ws = NULL;
    const char *prompts =
        opt && opt->prompts_dir ? opt->prompts_dir : config_str(a->cfg, "prompts.dir");
    int changed = 0;
    pb_status rc = open_store(a, &s, err);
    if (rc == PB_OK)
        rc = ensure_default(a, s, prompts, &changed, err);
    if (rc == PB_OK)
        rc = emotion_open(a->cfg, &a->emotion, err);
    if (rc == PB_OK)
        rc = segmap_new(a->cfg, emotion_model(a->emotion), &a->segmap, err);
    if (rc == PB_OK)
        rc = live_new_segments((unsigned long)config_int(a->cfg, "bandit.seed"),
                               config_int(a->cfg, "bandit.segment_min_pulls"),
                               segmap_names(a->segmap), segmap_count(a->segmap), &a->live, err);
    /* Before the first rebuild: with replicas, the live state counts ids above the poll's
     * start floor one by one (live_set_floor). */
    if (rc == PB_OK)
        rc = replica_new(a, s, &a->replica, err);
    /* New prompt files reach the replicas already running (a rolling upgrade). */
    if (rc == PB_OK && changed)
        rc = replica_note_reload(a->replica, s, "default", err);
    if (rc == PB_OK)
        rc = live_reload(a->live, s, "default", err);
    if (rc == PB_OK && (rc = open_store(a, &ws, err)) == PB_OK &&
        (rc = writer_new(ws, 0, &a->writer, err)) != PB_OK)
        store_close(ws);
    if (rc == PB_OK)
        writer_set_log(a->writer, writer_log_line, a);
    if (rc == PB_OK)
        rc = open_llm(a, err);
    app_store_release(a, s);
    return rc;
}

pb_status app_new(const config *cfg, const struct app_options *opt, app **out, char *err)
{
    app *a = calloc(1, sizeof *a);
    if (!a)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory creating the service");
    a->cfg = cfg;
    a->started_at = pb_now_wall();
    pthread_mutex_init(&a->pool_mu, NULL);
    pthread_mutex_init(&a->stop_mu, NULL);
    pthread_cond_init(&a->stop_cv, NULL);
    pb_status rc = PB_OK;
    const char *mode = config_str(cfg, "assign.mode");
    if (strcmp(mode, "turn") && strcmp(mode, "conversation") && strcmp(mode, "user"))
        rc = pb_errf(err, PB_ERR_INVALID,
                     "setting assign.mode: expected turn, conversation or user, got '%s'", mode);
    int exclude;
    double missing;
    if (rc == PB_OK)
        rc = app_missing_reward(cfg, &exclude, &missing, err);
    if (rc == PB_OK)
        rc = oaiapi_check_config(cfg, err);
    if (rc == PB_OK && opt && opt->db_path && !(a->db_path = strdup(opt->db_path)))
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc == PB_OK &&
        !(a->chatmem = chatmem_new((size_t)config_int(cfg, "chat.memory_conversations"),
                                   (double)config_int(cfg, "chat.memory_ttl_s"))))
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc == PB_OK && !(a->metrics = metrics_new()))
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc == PB_OK)
        rc = dashcache_new(&a->dashcache, err);
    if (rc == PB_OK)
        rc = app_open_parts(a, opt, err);
    if (rc == PB_OK)
        rc = livejudge_new(a, &a->livejudge, err);
    if (rc == PB_OK)
        rc = app_run_retention(a, NULL, err);
    if (rc == PB_OK)
        rc = app_run_reward_sweep(a, NULL, err);
    if (rc == PB_OK && !(opt && opt->no_background))
        rc = replica_start(a->replica, err);
    if (rc == PB_OK && !(opt && opt->no_background)) {
        if (pthread_create(&a->retention, NULL, retention_main, a) != 0)
            rc = pb_errf(err, PB_ERR_NOMEM, "cannot start the retention thread");
        else
            a->retention_running = 1;
    }
    if (rc != PB_OK) {
        app_free(a);
        return rc;
    }
    *out = a;
    return PB_OK;
}

void app_free(app *a)
{
    if (!a)
        return;
    if (a->retention_running) {
        pthread_mutex_lock(&a->stop_mu);
        a->stopping = 1;
        pthread_cond_broadcast(&a->stop_cv);
        pthread_mutex_unlock(&a->stop_mu);
        pthread_join(a->retention, NULL);
    }
    replica_free(a->replica); /* its thread reads the store and moves live state and chatmem */
    a->replica = NULL;        /* the writer's last done callbacks may ask for it (reward.c): none */
    /* Order: the remote emotion classifier's loop ends its calls first — a turn waiting for its
     * emotions goes on from that callback into stage 2 (live state, store, writer, provider
     * loop), so all of those must still be there; then the provider loop ends its calls (their
     * turns end unstored), then the writer commits what is queued (turns already answered are
     * recorded), then the state they touch. */
    emotion_close(a->emotion);
    llm_loop_free(a->loop);
    writer_free(a->writer);
    livejudge_free(a->livejudge); /* after the writer: its commits offer answers to judge */
    live_free(a->live);
    segmap_free(a->segmap);
    chatmem_free(a->chatmem);
    dashcache_free(a->dashcache);
    llm_client_free(a->llm);
    for (size_t i = 0; i < a->pool_n; i++)
        store_close(a->pool[i]);
    metrics_free(a->metrics);
    pthread_cond_destroy(&a->stop_cv);
    pthread_mutex_destroy(&a->stop_mu);
    pthread_mutex_destroy(&a->pool_mu);
    free(a->db_path);
    free(a);
}

/* 95 % interval of an arm's mean, cluster-robust (CR1) with conversations as clusters. */
static void cluster_ci(const struct feedback_arm_stats *st, double *lo, double *hi)
{
    *lo = -1;
    *hi = 1;
    if (st->n < 1 || st->clusters < 2)
        return;
    double n = (double)st->n, g = (double)st->clusters, m = st->sum / n;
    double ss = st->cluster_sum_sq - 2 * m * st->cluster_n_sum + m * m * st->cluster_n_sq;
    double var = (g / (g - 1)) * (ss > 0 ? ss : 0) / (n * n);
    double half = gsl_cdf_tdist_Pinv(0.975, g - 1) * sqrt(var);
    *lo = fmax(-1, m - half);
    *hi = fmin(1, m + half);
}

static pb_status fill_arms(struct app_experiment_view *v, const struct arm *arms, size_t n,
                           const struct feedback_arm_stats *fs, size_t nfs,
                           const struct live_snapshot *snap, char *err)
{
    if (!(v->arms = calloc(n ? n : 1, sizeof *v->arms)))
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    v->n_arms = n;
    for (size_t i = 0; i < n; i++) {
        struct app_arm_view *av = &v->arms[i];
        av->arm_id = arms[i].id;
        snprintf(av->name, sizeof av->name, "%s", arms[i].name);
        av->version = arms[i].version;
        if (!(av->prompt = strdup(arms[i].prompt)))
            return pb_errf(err, PB_ERR_NOMEM, "out of memory");
        av->active = arms[i].retired_at <= 0;
        av->promoted = v->promoted_arm_id == arms[i].id;
        av->ci_low = -1;
        av->ci_high = 1;
        if (i < nfs && fs[i].arm_id == arms[i].id) {
            av->impressions = fs[i].impressions;
            av->pulls = (uint64_t)fs[i].n;
            av->mean = fs[i].n ? fs[i].sum / (double)fs[i].n : 0;
            cluster_ci(&fs[i], &av->ci_low, &av->ci_high);
            v->total_pulls += av->pulls;
        }
        for (size_t j = 0; snap && j < snap->n_arms; j++)
            if (snap->arms[j].arm_id == arms[i].id)
                av->p_best = snap->arms[j].p_best;
    }
    return PB_OK;
}

pb_status app_experiment_view(app *a, const char *name, struct app_experiment_view *out, char *err)
{
    struct store_experiment e = {0};
    struct arm *arms = NULL;
    struct feedback_arm_stats *fs = NULL;
    struct live_snapshot snap = {0};
    size_t n = 0, nfs = 0;
    memset(out, 0, sizeof *out);
    name = name ? name : "default";
    store *s = app_store_acquire(a, err);
    pb_status rc = s ? store_experiment_get(s, name, &e, err) : PB_ERR_DB;
    if (rc == PB_OK)
        rc = arms_list(s, e.id, 1, &arms, &n, err);
    if (rc == PB_OK)
        rc = feedback_arm_stats(s, e.id, &fs, &nfs, err);
    if (rc == PB_OK)
        rc = live_snapshot_get(a->live, s, name, NULL, 2000, &snap, err);
    if (rc == PB_OK) {
        out->id = e.id;
        snprintf(out->name, sizeof out->name, "%s", e.name);
        snprintf(out->kind, sizeof out->kind, "%s", e.kind);
        snprintf(out->status, sizeof out->status, "%s", e.status);
        snprintf(out->policy, sizeof out->policy, "%s", snap.policy);
        out->promoted_arm_id = e.promoted_arm_id;
        rc = fill_arms(out, arms, n, fs, nfs, &snap, err);
    }
    live_snapshot_clear(&snap);
    free(fs);
    arms_list_free(arms, n);
    store_experiment_clear(&e);
    app_store_release(a, s);
    if (rc != PB_OK)
        app_experiment_view_clear(out);
    return rc;
}

void app_experiment_view_clear(struct app_experiment_view *v)
{
    for (size_t i = 0; v->arms && i < v->n_arms; i++)
        free(v->arms[i].prompt);
    free(v->arms);
    v->arms = NULL;
    v->n_arms = 0;
}
