/* app.h — the service context handed to every HTTP handler as `void *app`: settings, a pool
 * of store handles, the group-commit writer, the live bandit state of every experiment, the
 * emotion classifier, the LLM client (absent when no provider is configured), the metrics
 * registry and the background jobs (retention purge, reward wait sweep), the segment map.
 * Owns all of them and their lifetime.
 * It must not parse HTTP or JSON requests (api and adminapi do) nor hold the business rules
 * of a chat turn, a reward or a choice (chatturn, reward, choose do); it only wires the parts
 * together and offers read-only views. */
#ifndef APP_H
#define APP_H

#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "emotion/emotion.h"
#include "base/hash.h"
#include "llm/llm.h"
#include "base/metrics.h"
#include "base/pb.h"
#include "store/store.h"

typedef struct app app;
struct chatmem;
struct dashcache;
struct live;
struct livejudge;
struct replica;
struct segmap;
struct writer;

/* What `serve` may change beside the settings. Fields left NULL/0 take the settings. */
struct app_options {
    const char *db_path;     /* NULL: db.path */
    const char *prompts_dir; /* NULL: prompts.dir */
    int no_background;       /* 1: no background thread (tests call app_run_retention and
                                app_run_reward_sweep) */
};

/* Opens the store (migrations), syncs prompts into the "default" experiment, builds live
 * state from the rewards table, opens the emotion classifier and the LLM client (no provider
 * is not an error: app_llm gives NULL and app_llm_note says why), registers metrics, runs the
 * retention purge once and starts its hourly thread. cfg is borrowed and must outlive the app.
 * Caller frees with app_free. */
pb_status app_new(const config *cfg, const struct app_options *opt, app **out, char *err);

/* Stops the background thread, drains the writer (every queued write is committed or failed
 * and its caller answered), closes everything. NULL is allowed. */
void app_free(app *a);

/* Borrowed parts; valid until app_free. */
const config *app_config(const app *a);
metrics *app_metrics(app *a);                  /* hand it to server_options.metrics */
struct live *app_live(app *a);                 /* thread-safe (live.h) */
const struct segmap *app_segmap(const app *a); /* segment of a turn (segmap.h); immutable */
struct writer *app_writer(app *a);             /* thread-safe group commit (writer.h) */
struct replica *app_replica(app *a);           /* other replicas' writes (replica.h) */
const char *app_db_path(const app *a);         /* the --db override; NULL: db.path */
struct livejudge *app_livejudge(app *a);       /* live answers' judge (livejudge.h) */
struct chatmem *app_chatmem(app *a);           /* in-memory histories and turns (chatmem.h) */
struct dashcache *app_dashcache(app *a);       /* the dashboard's aggregates (dashcache.h) */
const emotion *app_emotion(const app *a);
llm_client *app_llm(app *a);            /* NULL when no provider is configured */
struct llm_loop *app_llm_loop(app *a);  /* the provider event loop; NULL with app_llm */
const char *app_llm_note(const app *a); /* why app_llm is NULL ("" otherwise) */
double app_started_at(const app *a);    /* Unix time */

/* A store handle for the calling thread, from a pool (opened on demand). Give it back with
 * app_store_release on every path; never share it between threads. NULL with err set when
 * the database cannot be opened. Reads and admin writes go through these handles; chat
 * impressions and feedback rewards go through the writer. */
store *app_store_acquire(app *a, char *err);
void app_store_release(app *a, store *s);

/* The id under which a user is stored: HMAC-SHA256(privacy.pseudonym_key, user_id) as hex
 * when the key is set, else user_id itself (copied). out holds APP_USER_KEY_LEN bytes. */
#define APP_USER_KEY_LEN 160
void app_user_key(const app *a, const char *user_id, char out[APP_USER_KEY_LEN]);

/* ---- read-only views (API and dashboard share them, so both show the same numbers) ---- */

struct app_arm_view {
    int64_t arm_id;
    char name[17];
    int version;
    char *prompt; /* owned by the view */
    int active, promoted;
    int64_t impressions; /* activated impressions (store) */
    uint64_t pulls;      /* rewards stored for the arm */
    double mean;         /* mean reward on [-1, 1] */
    /* 95 % interval of the mean, cluster-robust by conversation (docs/SERVICE.md); the
     * whole [-1, 1] below two clusters. pulls and mean come from the store (the truth). */
    double ci_low, ci_high;
    double p_best; /* posterior probability of being the best active arm (live state) */
};

struct app_experiment_view {
    int64_t id;
    char name[65];
    char kind[8];
    char status[9];
    char policy[128]; /* canonical spec, e.g. "ucb1:burnin=0" */
    int64_t promoted_arm_id;
    uint64_t total_pulls;
    size_t n_arms; /* every version, retired ones too, in arms_list order */
    struct app_arm_view *arms;
};

/* The experiment named name (NULL: "default") with per-arm statistics. PB_ERR_NOT_FOUND when
 * no active experiment has that name. Clear with app_experiment_view_clear. */
pb_status app_experiment_view(app *a, const char *name, struct app_experiment_view *out, char *err);
void app_experiment_view_clear(struct app_experiment_view *v);

/* Runs the retention purge now (privacy.retention_days; 0 = keep everything): messages older
 * than the retention are deleted. *deleted may be NULL. */
pb_status app_run_retention(app *a, int64_t *deleted, char *err);

/* Runs the reward wait sweep now: every activated impression older than rewards.wait_s with
 * no reward gets rewards.missing as a reward of source "default" (one per impression), and
 * the live state moves. Nothing happens when rewards.wait_s is 0 or rewards.missing is
 * "exclude". *given (may be NULL) gets how many rewards were given. */
pb_status app_run_reward_sweep(app *a, int64_t *given, char *err);

/* Reads rewards.missing: *exclude = 1 for "exclude", else *value gets the number. A value
 * that is neither is PB_ERR_INVALID with a message naming the setting. */
pb_status app_missing_reward(const config *cfg, int *exclude, double *value, char *err);

#endif
