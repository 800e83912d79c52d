/* runview.c — the runs list and a run's view: statistics from its ok, scored steps, the
 * verdict and series by iteration (decide.h). */
#include "service/runview.h"

#include "service/decide.h"
#include "store/arms.h"
#include "store/dashq.h"
#include "store/experiment.h"
#include "store/runs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUN_POINTS 200 /* points per series, evenly spaced in iterations */
#define RUN_DRAWS  1000
#define RUN_RECENT 20
#define RUN_LEVELS 5

static json_t *run_json(const struct run *r, const struct dashq_run_cost *c, const char *exp)
{
    return json_pack(
        "{s:I, s:s, s:s, s:s, s:o, s:f, s:o, s:I, s:I, s:I, s:f, s:I, s:I, s:o, s:o}", "id",
        (json_int_t)r->id, "name", r->name ? r->name : "", "kind", r->kind ? r->kind : "", "status",
        r->status ? r->status : "", "stop_reason",
        r->stop_reason ? json_string(r->stop_reason) : json_null(), "created_at", r->created_at,
        "finished_at", r->finished_at > 0 ? json_real(r->finished_at) : json_null(), "steps_ok",
        (json_int_t)r->steps_ok, "steps_failed", (json_int_t)r->steps_failed, "steps_pending",
        (json_int_t)r->steps_pending, "cost_usd", c->usd, "tokens", (json_int_t)c->tokens, "calls",
        (json_int_t)c->calls, "experiment", exp ? json_string(exp) : json_null(), "winner_arm_id",
        r->winner_arm_id ? json_integer(r->winner_arm_id) : json_null());
}

/* The name of experiment id (copied into name, 65 bytes), "" when it has none. */
static void experiment_name(store *s, int64_t id, char name[65])
{
    struct store_experiment e = {0};
    char why[PB_ERR_LEN];
    name[0] = '\0';
    if (id && store_experiment_get_by_id(s, id, &e, why) == PB_OK)
        snprintf(name, 65, "%s", e.name);
    store_experiment_clear(&e);
}

pb_status runview_list_json(store *s, json_t **out, char *err)
{
    struct run *list = NULL;
    size_t n = 0;
    json_t *arr = json_array();
    *out = NULL;
    pb_status rc = arr ? runs_list(s, &list, &n, err) : PB_ERR_NOMEM;
    for (size_t i = 0; rc == PB_OK && i < n; i++) {
        struct dashq_run_cost cost;
        char exp[65];
        if ((rc = dashq_run_cost(s, list[i].id, &cost, err)) != PB_OK)
            break;
        experiment_name(s, list[i].experiment_id, exp);
        if (json_array_append_new(arr, run_json(&list[i], &cost, exp[0] ? exp : NULL)) != 0)
            rc = PB_ERR_NOMEM;
    }
    runs_list_free(list, n);
    if (rc == PB_ERR_NOMEM)
        pb_errf(err, rc, "out of memory listing runs");
    if (rc == PB_OK && !(*out = json_pack("{s:O}", "runs", arr)))
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory listing runs");
    json_decref(arr);
    return rc;
}

pb_status runview_run_of(store *s, int64_t experiment_id, int64_t *run_id, char *err)
{
    struct run *list = NULL;
    size_t n = 0;
    pb_status rc = runs_list(s, &list, &n, err);
    *run_id = 0;
    for (size_t i = 0; rc == PB_OK && i < n && !*run_id; i++)
        if (list[i].experiment_id == experiment_id)
            *run_id = list[i].id;
    runs_list_free(list, n);
    if (rc == PB_OK && !*run_id)
        rc = pb_errf(err, PB_ERR_NOT_FOUND, "no run plays experiment %lld",
                     (long long)experiment_id);
    return rc;
}

/* ---- one run ---- */

struct step {
    int64_t iteration;
    size_t arm; /* index into the arms, SIZE_MAX = none */
    int ok;     /* ok and scored */
    double score, created_at;
    char status[8];
};

struct rv {
    struct run *run;
    struct store_experiment e;
    struct arm *arms;
    size_t n_arms;
    struct decide_arm *darms;
    int64_t *ids;
    struct step *steps;
    size_t n_steps, cap;
    enum verdict_posterior model;
    int nomem;
};

static int add_step(void *ctx, const struct dashq_step *st)
{
    struct rv *v = ctx;
    if (v->n_steps == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 64;
        struct step *grown = realloc(v->steps, cap * sizeof *grown);
        if (!grown) {
            v->nomem = 1;
            return PB_ERR_NOMEM;
        }
        v->steps = grown;
        v->cap = cap;
    }
    struct step *s = &v->steps[v->n_steps++];
    *s = (struct step){st->iteration, SIZE_MAX, 0, st->score, st->created_at, ""};
    snprintf(s->status, sizeof s->status, "%s", st->status ? st->status : "");
    for (size_t i = 0; i < v->n_arms; i++)
        if (v->ids[i] == st->arm_id)
            s->arm = i;
    s->ok = s->arm != SIZE_MAX && st->has_score && strcmp(s->status, "ok") == 0;
    if (s->arm != SIZE_MAX) {
        struct decide_arm *a = &v->darms[s->arm];
        a->impressions += 1;
        if (s->ok)
            a->n += 1, a->sum += st->score, a->sum_sq += st->score * st->score;
    }
    return 0;
}

static void rv_clear(struct rv *v)
{
    runs_list_free(v->run, v->run ? 1 : 0);
    store_experiment_clear(&v->e);
    arms_list_free(v->arms, v->n_arms);
    free(v->darms);
    free(v->ids);
    free(v->steps);
}

/* The policy the run played: its config's "policy", else its experiment's. */
static enum verdict_posterior model_of(const struct rv *v)
{
    json_t *cfg = v->run->config_json ? json_loads(v->run->config_json, 0, NULL) : NULL;
    const char *p = json_string_value(json_object_get(cfg, "policy"));
    if (!p)
        p = v->e.policy ? v->e.policy : "";
    enum verdict_posterior m =
        strncmp(p, "thompson-beta", 13) == 0 ? VERDICT_BETA : VERDICT_GAUSSIAN;
    json_decref(cfg);
    return m;
}

static pb_status rv_load(store *s, int64_t run_id, struct rv *v, char *err)
{
    pb_status rc = runs_get(s, run_id, &v->run, err);
    if (rc == PB_OK && !v->run->experiment_id)
        rc = pb_errf(err, PB_ERR_NOT_FOUND, "run %lld has no experiment (it failed at setup)",
                     (long long)run_id);
    if (rc == PB_OK)
        rc = store_experiment_get_by_id(s, v->run->experiment_id, &v->e, err);
    if (rc == PB_OK)
        rc = arms_list(s, v->e.id, 1, &v->arms, &v->n_arms, err);
    size_t n = v->n_arms ? v->n_arms : 1;
    if (rc == PB_OK &&
        (!(v->darms = calloc(n, sizeof *v->darms)) || !(v->ids = calloc(n, sizeof *v->ids))))
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory reading a run");
    for (size_t i = 0; rc == PB_OK && i < v->n_arms; i++) {
        v->ids[i] = v->arms[i].id;
        v->darms[i] = (struct decide_arm){.id = v->arms[i].id,
                                          .name = v->arms[i].name,
                                          .version = v->arms[i].version,
                                          .prompt = v->arms[i].prompt,
                                          .active = v->arms[i].retired_at <= 0};
    }
    if (rc == PB_OK)
        rc = dashq_run_steps(s, run_id, add_step, v, err);
    if (v->nomem)
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory reading a run's steps");
    if (rc == PB_OK)
        v->model = model_of(v);
    return rc;
}

/* Series by iteration: cumulative share of steps, rewards, running mean and P(best). */
static json_t *series_json(const struct rv *v)
{
    size_t n_points = v->n_steps < RUN_POINTS ? v->n_steps : RUN_POINTS, k = v->n_arms, i = 0;
    size_t n = k ? k : 1;
    struct decide_point *pts = calloc(n * (n_points ? n_points : 1), sizeof *pts);
    struct decide_arm *cum = calloc(n, sizeof *cum);
    struct verdict_arm *st = calloc(n, sizeof *st);
    double *chosen = calloc(n, sizeof *chosen), *pb = calloc(n, sizeof *pb);
    json_t *x = json_array(), *arms = json_array(), *out = NULL;
    if (!pts || !cum || !st || !chosen || !pb || !x || !arms)
        goto cleanup;
    memcpy(cum, v->darms, k * sizeof *cum);
    for (size_t a = 0; a < k; a++)
        cum[a].n = cum[a].sum = cum[a].sum_sq = 0;
    for (size_t p = 0; p < n_points; p++) {
        size_t end = (p + 1) * v->n_steps / n_points;
        for (; i < end; i++) {
            const struct step *s = &v->steps[i];
            if (s->arm == SIZE_MAX)
                continue;
            chosen[s->arm] += 1;
            if (s->ok)
                cum[s->arm].n += 1, cum[s->arm].sum += s->score,
                    cum[s->arm].sum_sq += s->score * s->score;
        }
        decide_stats(cum, k, st);
        char why[PB_ERR_LEN];
        int have = verdict_p_best(st, k, v->model, RUN_DRAWS, pb, why) == PB_OK;
        json_array_append_new(x, json_integer(v->steps[end - 1].iteration + 1));
        for (size_t a = 0; a < k; a++)
            pts[a * n_points + p] = (struct decide_point){
                chosen[a] / (double)end, cum[a].n, cum[a].sum, have && cum[a].active ? pb[a] : NAN};
    }
    for (size_t a = 0; a < k; a++)
        if (v->darms[a].active || v->darms[a].n > 0)
            json_array_append_new(arms,
                                  decide_series_arm_json(v->ids[a], pts + a * n_points, n_points));
    out = json_pack("{s:s, s:s, s:O, s:O}", "x_kind", "iteration", "window", "all", "x", x, "arms",
                    arms);
cleanup:
    json_decref(x);
    json_decref(arms);
    free(pts);
    free(cum);
    free(st);
    free(chosen);
    free(pb);
    return out;
}

static json_t *distribution_json(const struct rv *v)
{
    json_t *arms = json_array();
    for (size_t a = 0; arms && a < v->n_arms; a++) {
        double c[RUN_LEVELS] = {0};
        for (size_t i = 0; i < v->n_steps; i++)
            if (v->steps[i].ok && v->steps[i].arm == a) {
                long l = lround((v->steps[i].score + 1) * 2);
                c[l < 0 ? 0 : l > 4 ? 4 : l] += 1;
            }
        if (v->darms[a].active || v->darms[a].n > 0)
            json_array_append_new(arms,
                                  json_pack("{s:I, s:[f, f, f, f, f]}", "id", (json_int_t)v->ids[a],
                                            "counts", c[0], c[1], c[2], c[3], c[4]));
    }
    return json_pack("{s:[f, f, f, f, f], s:o}", "levels", -1.0, -0.5, 0.0, 0.5, 1.0, "arms",
                     arms ? arms : json_array());
}

static json_t *recent_json(const struct rv *v)
{
    json_t *list = json_array();
    for (size_t j = 0; list && j < v->n_steps && j < RUN_RECENT; j++) {
        const struct step *s = &v->steps[v->n_steps - 1 - j];
        char label[32] = "";
        if (s->arm != SIZE_MAX)
            decide_label(v->darms, v->n_arms, s->arm, label);
        json_array_append_new(list, json_pack("{s:I, s:I, s:s, s:s, s:o, s:f}", "iteration",
                                              (json_int_t)s->iteration, "arm_id",
                                              (json_int_t)(s->arm != SIZE_MAX ? v->ids[s->arm] : 0),
                                              "arm", label, "status", s->status, "score",
                                              s->ok ? json_real(s->score) : json_null(),
                                              "created_at", s->created_at));
    }
    return list;
}

/* import the winner when separated, else how many more steps (at the current split). */
static json_t *advice_json(const struct rv *v, const struct verdict_outcome *o)
{
    if (!o->compared)
        return json_pack("{s:s, s:n, s:[]}", "action", "no_data", "arm", "serve");
    if (o->separated)
        return json_pack("{s:s, s:I, s:[]}", "action", "import_winner", "arm",
                         (json_int_t)v->ids[o->leader], "serve");
    double top = v->darms[o->leader].n + v->darms[o->runner_up].n, all = 0;
    for (size_t a = 0; a < v->n_arms; a++)
        all += v->darms[a].n;
    double more =
        isfinite(o->more_rewards) && top > 0 ? ceil(o->more_rewards * all / top) : INFINITY;
    return json_pack("{s:s, s:n, s:[], s:o}", "action", "run_longer", "arm", "serve", "more_steps",
                     decide_number(more));
}

pb_status runview_json(store *s, int64_t run_id, json_t **out, char *err)
{
    struct rv v = {0};
    struct dashq_run_cost cost;
    json_t *arms = NULL;
    *out = NULL;
    pb_status rc = rv_load(s, run_id, &v, err);
    if (rc == PB_OK)
        rc = dashq_run_cost(s, run_id, &cost, err);
    if (rc == PB_OK)
        rc = decide_arms_json(v.darms, v.n_arms, v.model, &arms, err);
    struct verdict_outcome o = {0};
    struct verdict_arm *st = calloc(v.n_arms ? v.n_arms : 1, sizeof *st);
    if (rc == PB_OK && !st)
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory judging a run");
    if (rc == PB_OK) {
        decide_stats(v.darms, v.n_arms, st);
        struct verdict_group g = {st, v.n_arms};
        rc = verdict_judge(&g, DECIDE_DELTA, &o, err);
    }
    double ok = 0;
    for (size_t a = 0; a < v.n_arms; a++)
        ok += v.darms[a].n;
    if (rc == PB_OK) {
        *out = json_pack(
            "{s:{s:I, s:s, s:s, s:s, s:s, s:n, s:f, s:I, s:{s:f}}, s:o, s:O, s:o, s:o, s:[], "
            "s:o, s:o, s:o}",
            "experiment", "id", (json_int_t)v.e.id, "name", v.e.name, "kind", v.e.kind, "status",
            v.e.status, "policy", v.e.policy ? v.e.policy : "", "promoted_arm_id", "rewards", ok,
            "impressions", (json_int_t)v.n_steps, "by_source", "judge", ok, "run",
            run_json(v.run, &cost, v.e.name), "arms", arms, "verdict",
            decide_verdict_json(&o, v.ids), "advice", advice_json(&v, &o), "segments", "series",
            series_json(&v), "distribution", distribution_json(&v), "recent", recent_json(&v));
        if (!*out)
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory building a run's view");
    }
    json_decref(arms);
    free(st);
    rv_clear(&v);
    return rc;
}
