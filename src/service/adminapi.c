/* adminapi.c — the admin HTTP handlers: parse JSON -> app views / live / store family -> JSON,
 * each change followed by a live rebuild of its experiment. */
#include "service/adminapi.h"

#include "store/experiment.h"
#include "bandit/bandit.h"
#include "bandit/policyspec.h"
#include "bandit/contextual.h"
#include "base/config.h"
#include "base/jsonio.h"
#include "offline/evolve.h"
#include "service/live.h"
#include "service/replica.h"
#include "service/livejudge.h"
#include "store/arms.h"
#include "store/runs.h"
#include "store/usage.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_FIELDS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- views ---- */

json_t *adminapi_experiment_json(const struct app_experiment_view *v)
{
    json_t *arms = json_array();
    for (size_t i = 0; arms && i < v->n_arms; i++) {
        const struct app_arm_view *a = &v->arms[i];
        json_array_append_new(
            arms, json_pack("{s:I, s:s, s:i, s:s, s:s, s:b, s:I, s:I, s:f, s:[f, f], s:f}", "id",
                            (json_int_t)a->arm_id, "name", a->name, "version", a->version, "prompt",
                            a->prompt, "status", a->active ? "active" : "retired", "promoted",
                            a->promoted, "impressions", (json_int_t)a->impressions, "pulls",
                            (json_int_t)a->pulls, "mean", a->mean, "ci95", a->ci_low, a->ci_high,
                            "p_best", a->p_best));
    }
    json_t *promoted = v->promoted_arm_id ? json_integer(v->promoted_arm_id) : json_null();
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:I, s:o}", "id", (json_int_t)v->id, "name",
                     v->name, "kind", v->kind, "status", v->status, "policy", v->policy,
                     "promoted_arm_id", promoted, "total_pulls", (json_int_t)v->total_pulls, "arms",
                     arms);
}

static pb_status reply_view(app *a, const char *name, struct server_reply *reply)
{
    struct app_experiment_view v;
    pb_status rc = app_experiment_view(a, name, &v, reply->err);
    if (rc == PB_OK)
        server_reply_json(reply, 200, adminapi_experiment_json(&v));
    app_experiment_view_clear(&v);
    return rc;
}

static pb_status h_arms(struct server_request *req, struct server_reply *reply, void *ctx)
{
    return reply_view(ctx, server_req_query(req, "experiment"), reply);
}

/* The global statistics of this replica's live state (in memory: what its bandit decides
 * from), for GET /v1/experiments/{name}: with several replicas on one database they agree once
 * each has polled the others' rewards (replica.h). NULL when they cannot be read. */
static json_t *live_json(app *a, store *s, const char *name)
{
    struct live_snapshot snap;
    char err[PB_ERR_LEN];
    if (live_snapshot_get(app_live(a), s, name, NULL, 1000, &snap, err))
        return NULL;
    json_t *arms = json_array();
    for (size_t i = 0; arms && i < snap.n_arms; i++)
        json_array_append_new(
            arms, json_pack("{s:I, s:I, s:f}", "id", (json_int_t)snap.arms[i].arm_id, "pulls",
                            (json_int_t)snap.arms[i].pulls, "mean", snap.arms[i].mean));
    json_t *out =
        json_pack("{s:I, s:o}", "total_pulls", (json_int_t)snap.total_pulls, "arms", arms);
    live_snapshot_clear(&snap);
    return out;
}

/* Per-segment statistics of the live state, for GET /v1/experiments/{name}. */
static json_t *segments_json(app *a, store *s, const char *name)
{
    json_t *out = json_object();
    char err[PB_ERR_LEN];
    const live *l = app_live(a);
    for (size_t k = 0; out && k < live_segment_count(l); k++) {
        struct live_snapshot snap;
        const char *seg = live_segment_name(l, k);
        if (live_snapshot_get(app_live(a), s, name, seg, 1000, &snap, err))
            continue;
        json_t *arms = json_array();
        for (size_t i = 0; arms && i < snap.n_arms; i++)
            json_array_append_new(
                arms, json_pack("{s:I, s:I, s:f, s:f}", "id", (json_int_t)snap.arms[i].arm_id,
                                "pulls", (json_int_t)snap.arms[i].pulls, "mean", snap.arms[i].mean,
                                "p_best", snap.arms[i].p_best));
        json_object_set_new(
            out, seg,
            json_pack("{s:I, s:o}", "pulls", (json_int_t)snap.segment_pulls[k], "arms", arms));
        live_snapshot_clear(&snap);
    }
    return out;
}

static pb_status h_experiment(struct server_request *req, struct server_reply *reply, void *ctx)
{
    struct app_experiment_view v;
    const char *name = server_req_param(req, "name");
    pb_status rc = app_experiment_view(ctx, name, &v, reply->err);
    if (rc == PB_OK) {
        json_t *j = adminapi_experiment_json(&v);
        store *s = app_store_acquire(ctx, reply->err);
        if (j && s) {
            json_object_set_new(j, "segments", segments_json(ctx, s, name));
            json_t *lj = live_json(ctx, s, name);
            if (lj)
                json_object_set_new(j, "live", lj);
        }
        app_store_release(ctx, s);
        server_reply_json(reply, 200, j);
    }
    app_experiment_view_clear(&v);
    return rc;
}

static pb_status h_experiments(struct server_request *req, struct server_reply *reply, void *ctx)
{
    struct store_experiment *list = NULL;
    size_t n = 0;
    (void)req;
    store *s = app_store_acquire(ctx, reply->err);
    pb_status rc = s ? store_experiment_list(s, &list, &n, reply->err) : PB_ERR_DB;
    app_store_release(ctx, s);
    json_t *arr = json_array();
    for (size_t i = 0; rc == PB_OK && i < n; i++) {
        struct app_experiment_view v;
        json_t *j = NULL;
        if (strcmp(list[i].status, "active") == 0 &&
            (rc = app_experiment_view(ctx, list[i].name, &v, reply->err)) == PB_OK) {
            j = adminapi_experiment_json(&v);
            app_experiment_view_clear(&v);
        } else if (rc == PB_OK) {
            j = json_pack("{s:I, s:s, s:s, s:s, s:s, s:f}", "id", (json_int_t)list[i].id, "name",
                          list[i].name, "kind", list[i].kind, "status", list[i].status, "policy",
                          list[i].policy, "created_at", list[i].created_at);
        }
        json_array_append_new(arr, j);
    }
    store_experiment_list_free(list, n);
    if (rc == PB_OK)
        server_reply_json(reply, 200, json_pack("{s:o}", "experiments", arr));
    else
        json_decref(arr);
    return rc;
}

/* GET /v1/experiments/{name}/usage: the provider tokens of the experiment's answered chat turns
 * per arm, and their cost at run.price_prompt_per_1k / run.price_completion_per_1k. */
static pb_status h_usage(struct server_request *req, struct server_reply *reply, void *ctx)
{
    const config *cfg = app_config(ctx);
    double pp = config_double(cfg, "run.price_prompt_per_1k");
    double pc = config_double(cfg, "run.price_completion_per_1k");
    struct store_experiment e = {0};
    struct usage_arm *arms = NULL;
    size_t n = 0;
    store *s = app_store_acquire(ctx, reply->err);
    pb_status rc =
        s ? store_experiment_get(s, server_req_param(req, "name"), &e, reply->err) : PB_ERR_DB;
    if (rc == PB_OK)
        rc = usage_per_arm(s, e.id, &arms, &n, reply->err);
    app_store_release(ctx, s);
    json_t *list = json_array();
    for (size_t i = 0; rc == PB_OK && i < n; i++) {
        double cost =
            ((double)arms[i].prompt_tokens * pp + (double)arms[i].completion_tokens * pc) / 1000.0;
        json_array_append_new(
            list, json_pack("{s:I, s:I, s:I, s:I, s:f}", "arm_id", (json_int_t)arms[i].arm_id,
                            "turns", (json_int_t)arms[i].turns, "prompt_tokens",
                            (json_int_t)arms[i].prompt_tokens, "completion_tokens",
                            (json_int_t)arms[i].completion_tokens, "cost_usd", cost));
    }
    if (rc == PB_OK)
        server_reply_json(reply, 200,
                          json_pack("{s:s, s:o, s:{s:f, s:f}}", "experiment", e.name, "arms", list,
                                    "price_per_1k", "prompt", pp, "completion", pc));
    else
        json_decref(list);
    free(arms);
    store_experiment_clear(&e);
    return rc;
}

static pb_status h_runs(struct server_request *req, struct server_reply *reply, void *ctx)
{
    struct run *list = NULL;
    size_t n = 0;
    (void)req;
    store *s = app_store_acquire(ctx, reply->err);
    pb_status rc = s ? runs_list(s, &list, &n, reply->err) : PB_ERR_DB;
    app_store_release(ctx, s);
    json_t *arr = json_array();
    for (size_t i = 0; rc == PB_OK && i < n; i++)
        json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:s, s:f, s:I, s:I}", "id",
                                             (json_int_t)list[i].id, "name", list[i].name, "kind",
                                             list[i].kind, "status", list[i].status, "created_at",
                                             list[i].created_at, "steps_ok",
                                             (json_int_t)list[i].steps_ok, "steps_failed",
                                             (json_int_t)list[i].steps_failed));
    runs_list_free(list, n);
    if (rc == PB_OK)
        server_reply_json(reply, 200, json_pack("{s:o}", "runs", arr));
    else
        json_decref(arr);
    return rc;
}

/* ---- changes (each followed by a live rebuild of the experiment) ---- */

/* The active experiment's name for an arm; "" when its experiment is archived. */
static pb_status arm_experiment(store *s, int64_t arm_id, char name[65], char *err)
{
    struct arm arm = {0};
    struct store_experiment e = {0};
    pb_status rc = arms_get(s, arm_id, &arm, err);
    if (rc == PB_OK)
        rc = store_experiment_get_by_id(s, arm.experiment_id, &e, err);
    if (rc == PB_OK)
        snprintf(name, 65, "%s", strcmp(e.status, "active") == 0 ? e.name : "");
    arms_clear(&arm);
    store_experiment_clear(&e);
    return rc;
}

/* Rebuilds the experiment's live state here and logs the change for the other replicas, which
 * drop theirs and rebuild it from the database (replica.h). */
static pb_status reload(app *a, store *s, const char *name, char *err)
{
    if (!name || !*name)
        return PB_OK;
    pb_status rc = live_reload(app_live(a), s, name, err);
    if (rc == PB_OK)
        rc = replica_note_reload(app_replica(a), s, name, err);
    return rc;
}

static pb_status h_arm_add(struct server_request *req, struct server_reply *reply, void *ctx)
{
    static const char *const fields[] = {"experiment", "name", "prompt"};
    static const char *const changes[] = {"unchanged", "created", "versioned", "restored"};
    const char *experiment = "default", *name = NULL, *prompt = NULL;
    struct store_experiment e = {0};
    json_t *body = NULL;
    int64_t arm_id = 0;
    enum arms_change change = ARMS_UNCHANGED;
    store *s = NULL;
    pb_status rc = server_req_json_fields(req, reply, fields, N_FIELDS(fields), &body);
    if (rc != PB_OK)
        return rc;
    if ((rc = jsonio_string(body, "experiment", 0, &experiment, reply->err)) ||
        (rc = jsonio_string(body, "name", 1, &name, reply->err)) ||
        (rc = jsonio_string(body, "prompt", 1, &prompt, reply->err)))
        goto cleanup;
    if (!arms_name_valid(name)) {
        rc = pb_errf(reply->err, PB_ERR_INVALID,
                     "field 'name' must be a letter then letters or digits, at most %d, not "
                     "starting with judge or propose",
                     ARM_NAME_MAX);
        goto cleanup;
    }
    if (!(s = app_store_acquire(ctx, reply->err)))
        rc = PB_ERR_DB;
    if (rc == PB_OK && (rc = store_experiment_get(s, experiment, &e, reply->err)) == PB_OK &&
        (rc = arms_add(s, e.id, name, prompt, NULL, &arm_id, &change, reply->err)) == PB_OK)
        rc = reload(ctx, s, e.name, reply->err);
    if (rc == PB_OK)
        server_reply_json(reply, change == ARMS_UNCHANGED ? 200 : 201,
                          json_pack("{s:I, s:s, s:s, s:s}", "arm_id", (json_int_t)arm_id, "name",
                                    name, "experiment", e.name, "change", changes[change]));
cleanup:
    app_store_release(ctx, s);
    store_experiment_clear(&e);
    json_decref(body);
    return rc;
}

static pb_status arm_state(struct server_request *req, struct server_reply *reply, app *a,
                           int retire)
{
    int64_t arm_id = 0;
    char name[65] = "";
    pb_status rc = server_req_param_id(req, "id", &arm_id, reply->err);
    store *s = rc == PB_OK ? app_store_acquire(a, reply->err) : NULL;
    if (rc == PB_OK && !s)
        rc = PB_ERR_DB;
    if (rc == PB_OK)
        rc = retire ? arms_retire(s, arm_id, reply->err) : arms_restore(s, arm_id, reply->err);
    if (rc == PB_OK && (rc = arm_experiment(s, arm_id, name, reply->err)) == PB_OK)
        rc = reload(a, s, name, reply->err);
    app_store_release(a, s);
    if (rc == PB_OK)
        server_reply_json(reply, 200,
                          json_pack("{s:I, s:s}", "arm_id", (json_int_t)arm_id, "status",
                                    retire ? "retired" : "active"));
    return rc;
}

static pb_status h_arm_retire(struct server_request *req, struct server_reply *reply, void *ctx)
{
    return arm_state(req, reply, ctx, 1);
}

static pb_status h_arm_restore(struct server_request *req, struct server_reply *reply, void *ctx)
{
    return arm_state(req, reply, ctx, 0);
}

/* The spec "name[:k=v,...]" from a policy string and an optional params object. */
static pb_status policy_from_body(const char *policy, const json_t *params, char *spec, size_t len,
                                  char *err)
{
    int used = snprintf(spec, len, "%s", policy);
    if ((size_t)used >= len) /* also keeps the appends below inside spec */
        return pb_errf(err, PB_ERR_INVALID, "policy spec too long (%zu bytes at most)", len - 1);
    char sep = strchr(spec, ':') ? ',' : ':';
    const char *key;
    json_t *v;
    if (params && !json_is_object(params))
        return pb_errf(err, PB_ERR_INVALID, "field 'params' must be an object of numbers");
    json_object_foreach((json_t *)params, key, v)
    {
        if (!json_is_number(v))
            return pb_errf(err, PB_ERR_INVALID, "params.%s must be a number", key);
        used +=
            snprintf(spec + used, len - (size_t)used, "%c%s=%.17g", sep, key, json_number_value(v));
        sep = ',';
        if ((size_t)used >= len)
            return pb_errf(err, PB_ERR_INVALID, "policy spec too long");
    }
    return PB_OK;
}

/* A bandit.h spec in canonical form, or a contextual one (linucb / lints, contextual.h) as
 * given once it parses: the live service feeds those the livefeat.h features. */
static pb_status canonical_policy(const char *spec, char *out, size_t len, char *err)
{
    if (!strncmp(spec, "linucb", 6) || !strncmp(spec, "lints", 5)) {
        contextual_policy cp;
        pb_status rc = contextual_policy_parse(spec, &cp, err);
        if (rc == PB_OK && (size_t)snprintf(out, len, "%s", spec) >= len)
            rc = pb_errf(err, PB_ERR_INVALID, "policy spec too long (%zu bytes at most)", len - 1);
        return rc;
    }
    bandit_policy p;
    pb_status rc = policyspec_parse(spec, &p, err);
    if (rc == PB_OK)
        policyspec_format(&p, out, len);
    return rc;
}

pb_status adminapi_policy_parse(const json_t *body, char *canonical, size_t len, char *err)
{
    const char *policy = NULL;
    char spec[256];
    pb_status rc;
    if ((rc = jsonio_string(body, "policy", 1, &policy, err)) ||
        (rc = policy_from_body(policy, json_object_get(body, "params"), spec, sizeof spec, err)))
        return rc;
    return canonical_policy(spec, canonical, len, err);
}

static pb_status h_policy(struct server_request *req, struct server_reply *reply, void *ctx)
{
    static const char *const fields[] = {"policy", "params"};
    const char *name = server_req_param(req, "name");
    char canonical[128];
    struct store_experiment e = {0};
    json_t *body = NULL;
    store *s = NULL;
    pb_status rc = server_req_json_fields(req, reply, fields, N_FIELDS(fields), &body);
    if (rc != PB_OK)
        return rc;
    if ((rc = adminapi_policy_parse(body, canonical, sizeof canonical, reply->err)))
        goto cleanup;
    if (!(s = app_store_acquire(ctx, reply->err)))
        rc = PB_ERR_DB;
    if (rc == PB_OK && (rc = store_experiment_get(s, name, &e, reply->err)) == PB_OK &&
        (rc = store_experiment_set_policy(s, e.id, canonical, NULL, reply->err)) == PB_OK)
        rc = reload(ctx, s, e.name, reply->err);
    if (rc == PB_OK)
        server_reply_json(reply, 200,
                          json_pack("{s:s, s:s}", "experiment", e.name, "policy", canonical));
cleanup:
    app_store_release(ctx, s);
    store_experiment_clear(&e);
    json_decref(body);
    return rc;
}

static pb_status promote(struct server_request *req, struct server_reply *reply, app *a,
                         int64_t arm)
{
    const char *name = server_req_param(req, "name");
    struct store_experiment e = {0};
    store *s = app_store_acquire(a, reply->err);
    pb_status rc = s ? store_experiment_get(s, name, &e, reply->err) : PB_ERR_DB;
    if (rc == PB_OK && (rc = store_experiment_promote(s, e.id, arm, reply->err)) == PB_OK)
        rc = reload(a, s, e.name, reply->err);
    if (rc == PB_OK)
        server_reply_json(reply, 200,
                          json_pack("{s:s, s:o}", "experiment", e.name, "promoted_arm_id",
                                    arm ? json_integer(arm) : json_null()));
    app_store_release(a, s);
    store_experiment_clear(&e);
    return rc;
}

static pb_status h_promote(struct server_request *req, struct server_reply *reply, void *ctx)
{
    static const char *const fields[] = {"arm_id"};
    long long arm = 0;
    json_t *body = NULL;
    pb_status rc = server_req_json_fields(req, reply, fields, N_FIELDS(fields), &body);
    if (rc == PB_OK &&
        (rc = jsonio_integer(body, "arm_id", 1, 1, INT64_MAX, &arm, reply->err)) == PB_OK)
        rc = promote(req, reply, ctx, arm);
    json_decref(body);
    return rc;
}

static pb_status h_unpromote(struct server_request *req, struct server_reply *reply, void *ctx)
{
    return promote(req, reply, ctx, 0);
}

static pb_status h_reset(struct server_request *req, struct server_reply *reply, void *ctx)
{
    const char *name = server_req_param(req, "name");
    struct store_experiment e = {0};
    int64_t new_id = 0;
    store *s = app_store_acquire(ctx, reply->err);
    pb_status rc = s ? store_experiment_get(s, name, &e, reply->err) : PB_ERR_DB;
    if (rc == PB_OK && (rc = store_experiment_reset(s, e.id, &new_id, reply->err)) == PB_OK)
        rc = reload(ctx, s, e.name, reply->err);
    if (rc == PB_OK)
        server_reply_json(reply, 200,
                          json_pack("{s:s, s:I, s:I}", "experiment", e.name, "archived_id",
                                    (json_int_t)e.id, "id", (json_int_t)new_id));
    app_store_release(ctx, s);
    store_experiment_clear(&e);
    return rc;
}

/* Per-arm sums of a run's ok, scored steps. */
struct run_tally {
    int64_t arm_id[64];
    double sum[64];
    int64_t n[64];
    size_t count;
};

static int tally_step(void *ctx, const struct run_step *st)
{
    struct run_tally *t = ctx;
    size_t i = 0;
    if (strcmp(st->status, "ok") != 0 || !st->has_score || st->arm_id <= 0)
        return 0;
    while (i < t->count && t->arm_id[i] != st->arm_id)
        i++;
    if (i == t->count) {
        if (t->count == 64)
            return 0;
        t->arm_id[t->count++] = st->arm_id;
    }
    t->sum[i] += st->score;
    t->n[i]++;
    return 0;
}

/* The run's winner: the arm with the best mean over its ok steps. */
static pb_status run_winner(store *s, int64_t run_id, struct arm *winner, double *mean,
                            int64_t *steps, char *err)
{
    struct run_tally t = {0};
    pb_status rc = runs_step_foreach(s, run_id, tally_step, &t, err);
    size_t best = 0;
    if (rc != PB_OK)
        return rc;
    if (t.count == 0)
        return pb_errf(err, PB_ERR_NOT_FOUND, "run %lld has no scored ok step with an arm",
                       (long long)run_id);
    for (size_t i = 1; i < t.count; i++)
        if (t.sum[i] / (double)t.n[i] > t.sum[best] / (double)t.n[best])
            best = i;
    *mean = t.sum[best] / (double)t.n[best];
    *steps = t.n[best];
    return arms_get(s, t.arm_id[best], winner, err);
}

static pb_status import_winner(app *a, store *s, const char *experiment, int64_t run_id,
                               const char *name, struct server_reply *reply)
{
    struct arm win = {0}, same = {0};
    struct store_experiment e = {0};
    double mean = 0;
    int64_t steps = 0, arm_id = 0;
    pb_status rc = store_experiment_get(s, experiment, &e, reply->err);
    if (rc == PB_OK)
        rc = run_winner(s, run_id, &win, &mean, &steps, reply->err);
    name = name ? name : win.name;
    if (rc == PB_OK && arms_find(s, e.id, name, &same, reply->err) == PB_OK &&
        strcmp(same.prompt, win.prompt) != 0)
        rc = pb_errf(reply->err, PB_ERR_CONFLICT,
                     "experiment %s already has an active arm %s with another text; pass 'name'",
                     e.name, name);
    if (rc == PB_OK &&
        (rc = arms_add(s, e.id, name, win.prompt, NULL, &arm_id, NULL, reply->err)) == PB_OK)
        rc = reload(a, s, e.name, reply->err);
    if (rc == PB_OK)
        server_reply_json(reply, 201,
                          json_pack("{s:I, s:s, s:s, s:I, s:I, s:f, s:I}", "arm_id",
                                    (json_int_t)arm_id, "name", name, "experiment", e.name,
                                    "run_id", (json_int_t)run_id, "from_arm_id", (json_int_t)win.id,
                                    "run_mean", mean, "run_steps", (json_int_t)steps));
    arms_clear(&win);
    arms_clear(&same);
    store_experiment_clear(&e);
    return rc;
}

static pb_status h_import_run(struct server_request *req, struct server_reply *reply, void *ctx)
{
    static const char *const fields[] = {"run_id", "name"};
    long long run_id = 0;
    const char *name = NULL;
    json_t *body = NULL;
    pb_status rc = server_req_json_fields(req, reply, fields, N_FIELDS(fields), &body);
    if (rc != PB_OK)
        return rc;
    if ((rc = jsonio_integer(body, "run_id", 1, 1, INT64_MAX, &run_id, reply->err)) ||
        (rc = jsonio_string(body, "name", 0, &name, reply->err)))
        goto cleanup;
    if (name && !arms_name_valid(name)) {
        rc = pb_errf(reply->err, PB_ERR_INVALID, "field 'name' is not a valid arm name");
        goto cleanup;
    }
    store *s = app_store_acquire(ctx, reply->err);
    rc = s ? import_winner(ctx, s, server_req_param(req, "name"), run_id, name, reply) : PB_ERR_DB;
    app_store_release(ctx, s);
cleanup:
    json_decref(body);
    return rc;
}

/* ---- the live judge's agreement with people (livejudge.h) ---- */

static pb_status h_judge_agreement(struct server_request *req, struct server_reply *reply,
                                   void *ctx)
{
    json_t *j = NULL;
    pb_status rc = livejudge_agreement(ctx, server_req_param(req, "name"), &j, reply->err);
    if (rc == PB_OK)
        server_reply_json(reply, 200, j);
    return rc;
}

/* ---- an evolve's lineage (offline/evolve.h) ---- */

static pb_status h_run_lineage(struct server_request *req, struct server_reply *reply, void *ctx)
{
    int64_t id = 0;
    json_t *j = NULL;
    pb_status rc = server_req_param_id(req, "id", &id, reply->err);
    store *s = rc == PB_OK ? app_store_acquire(ctx, reply->err) : NULL;
    if (rc == PB_OK && !s)
        rc = PB_ERR_DB;
    if (rc == PB_OK)
        rc = evolve_lineage_json(s, id, &j, reply->err);
    app_store_release(ctx, s);
    if (rc == PB_OK)
        server_reply_json(reply, 200, j);
    return rc;
}

/* ---- a live experiment with a finished run's arms ---- */

/* Experiment names that sit in a URL path unescaped: letters, digits, '.', '_', '-'. */
static bool experiment_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 64)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return false;
    return true;
}

static pb_status start_from_run(app *a, store *s, int64_t run_id, const char *name,
                                const char *policy, struct server_reply *reply)
{
    struct run *run = NULL;
    struct arm *arms = NULL;
    size_t n = 0;
    int64_t id = 0;
    char auto_name[65];
    pb_status rc = runs_get(s, run_id, &run, reply->err);
    if (rc == PB_OK && strcmp(run->status, "running") == 0)
        rc = pb_errf(reply->err, PB_ERR_CONFLICT,
                     "run %lld is still running; start a live experiment from a stopped run",
                     (long long)run_id);
    if (rc == PB_OK && run->experiment_id == 0)
        rc = pb_errf(reply->err, PB_ERR_CONFLICT, "run %lld has no arms (its setup failed)",
                     (long long)run_id);
    if (!name) {
        snprintf(auto_name, sizeof auto_name, "run-%lld-live", (long long)run_id);
        name = auto_name;
    }
    if (rc == PB_OK)
        rc = store_experiment_copy(s, run->experiment_id, name, "live", policy, &id, reply->err);
    if (rc == PB_OK)
        rc = reload(a, s, name, reply->err);
    if (rc == PB_OK)
        rc = arms_list(s, id, 0, &arms, &n, reply->err);
    json_t *list = rc == PB_OK ? json_array() : NULL;
    for (size_t i = 0; list && i < n; i++)
        json_array_append_new(list, json_pack("{s:I, s:s, s:i}", "id", (json_int_t)arms[i].id,
                                              "name", arms[i].name, "version", arms[i].version));
    if (rc == PB_OK)
        server_reply_json(reply, 201,
                          json_pack("{s:s, s:I, s:s, s:I, s:o}", "experiment", name, "id",
                                    (json_int_t)id, "policy", policy, "run_id", (json_int_t)run_id,
                                    "arms", list ? list : json_array()));
    arms_list_free(arms, n);
    runs_list_free(run, 1);
    return rc;
}

static pb_status h_start_experiment(struct server_request *req, struct server_reply *reply,
                                    void *ctx)
{
    static const char *const fields[] = {"name", "policy"};
    const char *name = NULL, *policy = NULL;
    char canonical[128];
    int64_t run_id = 0;
    json_t *body = NULL;
    store *s = NULL;
    pb_status rc = server_req_param_id(req, "id", &run_id, reply->err);
    if (rc == PB_OK)
        rc = server_req_json_fields(req, reply, fields, N_FIELDS(fields), &body);
    if (rc != PB_OK)
        return rc;
    if ((rc = jsonio_string(body, "name", 0, &name, reply->err)) ||
        (rc = jsonio_string(body, "policy", 0, &policy, reply->err)))
        goto cleanup;
    if (name && !experiment_name_ok(name)) {
        rc = pb_errf(reply->err, PB_ERR_INVALID,
                     "field 'name' must be 1 to 64 letters, digits, '.', '_' or '-'");
        goto cleanup;
    }
    if (!policy)
        policy = config_str(app_config(ctx), "bandit.policy");
    if ((rc = canonical_policy(policy, canonical, sizeof canonical, reply->err)))
        goto cleanup;
    if (!(s = app_store_acquire(ctx, reply->err)))
        rc = PB_ERR_DB;
    if (rc == PB_OK)
        rc = start_from_run(ctx, s, run_id, name, canonical, reply);
cleanup:
    app_store_release(ctx, s);
    json_decref(body);
    return rc;
}

/* ---- table ---- */

static const struct server_route adminapi_table[] = {
    {"GET", "/v1/experiments", h_experiments, SERVER_ADMIN},
    {"GET", "/v1/experiments/{name}", h_experiment, SERVER_ADMIN},
    {"GET", "/v1/experiments/{name}/usage", h_usage, SERVER_ADMIN},
    {"GET", "/v1/arms", h_arms, SERVER_ADMIN},
    {"GET", "/v1/runs", h_runs, SERVER_ADMIN},
    {"GET", "/v1/runs/{id}/lineage", h_run_lineage, SERVER_ADMIN},
    {"POST", "/v1/arms", h_arm_add, SERVER_ADMIN},
    {"POST", "/v1/arms/{id}/retire", h_arm_retire, SERVER_ADMIN},
    {"POST", "/v1/arms/{id}/restore", h_arm_restore, SERVER_ADMIN},
    {"POST", "/v1/experiments/{name}/policy", h_policy, SERVER_ADMIN},
    {"POST", "/v1/experiments/{name}/promote", h_promote, SERVER_ADMIN},
    {"POST", "/v1/experiments/{name}/unpromote", h_unpromote, SERVER_ADMIN},
    {"POST", "/v1/experiments/{name}/reset", h_reset, SERVER_ADMIN},
    {"POST", "/v1/experiments/{name}/import-run", h_import_run, SERVER_ADMIN},
    {"GET", "/v1/experiments/{name}/judge-agreement", h_judge_agreement, SERVER_ADMIN},
    {"POST", "/v1/runs/{id}/start-experiment", h_start_experiment, SERVER_ADMIN},
};

const struct server_route *adminapi_routes(size_t *n)
{
    *n = N_FIELDS(adminapi_table);
    return adminapi_table;
}
