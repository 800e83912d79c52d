/* dashboard.c — the dashboard's read-only endpoints: plots drawn from an experiment's reward
 * stream (feedback_reward_foreach, in insertion order), the interval bars from app.h's view,
 * the recent-feedback list and the newest judge evaluations. It only reads; every string that
 * reaches an SVG goes through plot.h (which escapes it) and every JSON answer through jansson. */
#include "service/dashboard.h"

#include "store/experiment.h"
#include "store/arms.h"
#include "store/feedback.h"
#include "base/plot.h"
#include "store/runs.h"
#include "service/examples.h"
#include "service/overview.h"
#include "service/runview.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Points per line: enough for a 640-pixel chart, whatever the number of rewards. */
#define DASHBOARD_POINTS 200
#define DASHBOARD_LEVELS 5
#define LABEL_LEN        (ARM_NAME_MAX + 16)

static const char *const level_names[DASHBOARD_LEVELS] = {"-1", "-0.5", "0", "+0.5", "+1"};

static const struct {
    const char *file;
    enum dashboard_plot plot;
} plot_files[] = {
    {"mean.svg", DASHBOARD_PLOT_MEAN},           {"share.svg", DASHBOARD_PLOT_SHARE},
    {"regret.svg", DASHBOARD_PLOT_REGRET},       {"distribution.svg", DASHBOARD_PLOT_DISTRIBUTION},
    {"intervals.svg", DASHBOARD_PLOT_INTERVALS},
};

pb_status dashboard_plot_from_name(const char *file, enum dashboard_plot *out, char *err)
{
    for (size_t i = 0; i < sizeof plot_files / sizeof plot_files[0]; i++)
        if (file && strcmp(file, plot_files[i].file) == 0) {
            *out = plot_files[i].plot;
            return PB_OK;
        }
    return pb_errf(err, PB_ERR_NOT_FOUND,
                   "no such plot; plots are mean.svg, share.svg, regret.svg, distribution.svg "
                   "and intervals.svg");
}

/* ---- the reward stream of one experiment ---- */

struct stream {
    struct arm *arms; /* arms_list(include_retired = 1): the arm index space */
    size_t n_arms;
    char (*labels)[LABEL_LEN]; /* "A", or "A v2" when the name has several versions */
    size_t n, cap;             /* rewards kept */
    uint32_t *arm;
    double *value;
    int nomem;
};

static void stream_free(struct stream *st)
{
    arms_list_free(st->arms, st->n_arms);
    free(st->labels);
    free(st->arm);
    free(st->value);
    memset(st, 0, sizeof *st);
}

static int stream_add(void *ctx, const struct feedback_reward_row *row)
{
    struct stream *st = ctx;
    if (row->arm_index >= st->n_arms)
        return 0; /* an arm added after arms_list: it shows on the next request */
    if (st->n == st->cap) {
        size_t cap = st->cap ? 2 * st->cap : 256;
        uint32_t *arm = realloc(st->arm, cap * sizeof *arm);
        if (arm)
            st->arm = arm;
        double *value = arm ? realloc(st->value, cap * sizeof *value) : NULL;
        if (!value) {
            st->nomem = 1;
            return PB_ERR_NOMEM;
        }
        st->value = value;
        st->cap = cap;
    }
    st->arm[st->n] = (uint32_t)row->arm_index;
    st->value[st->n++] = row->value;
    return 0;
}

static void label_arms(struct stream *st)
{
    for (size_t i = 0; i < st->n_arms; i++) {
        int versions = 0;
        for (size_t j = 0; j < st->n_arms; j++)
            versions += strcmp(st->arms[i].name, st->arms[j].name) == 0;
        if (versions > 1)
            snprintf(st->labels[i], LABEL_LEN, "%s v%d", st->arms[i].name, st->arms[i].version);
        else
            snprintf(st->labels[i], LABEL_LEN, "%s", st->arms[i].name);
    }
}

/* Loads the arms and every reward of experiment e. Caller frees with stream_free. */
static pb_status stream_load(store *s, const struct store_experiment *e, struct stream *st,
                             char *err)
{
    memset(st, 0, sizeof *st);
    pb_status rc = arms_list(s, e->id, 1, &st->arms, &st->n_arms, err);
    if (rc != PB_OK)
        return rc;
    st->labels = calloc(st->n_arms ? st->n_arms : 1, sizeof *st->labels);
    if (!st->labels)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory reading rewards");
    label_arms(st);
    rc = feedback_reward_foreach(s, e->id, stream_add, st, err);
    if (st->nomem)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory reading %zu rewards", st->n);
    return rc;
}

/* Arms worth a legend entry: active ones and any that was ever rewarded. */
static void shown_arms(const struct stream *st, unsigned char *shown)
{
    for (size_t k = 0; k < st->n_arms; k++)
        shown[k] = st->arms[k].retired_at == 0;
    for (size_t i = 0; i < st->n; i++)
        shown[st->arm[i]] = 1;
}

/* ---- line plots over the reward count ---- */

struct lines {
    size_t n_points, n_series;
    double *x;  /* n_points */
    double *y;  /* n_series x n_points */
    size_t *of; /* series -> arm index */
    struct plot_series *series;
};

static void lines_free(struct lines *l)
{
    free(l->x);
    free(l->y);
    free(l->of);
    free(l->series);
}

static pb_status lines_alloc(struct lines *l, size_t n_points, size_t n_series, char *err)
{
    memset(l, 0, sizeof *l);
    l->n_points = n_points;
    l->n_series = n_series;
    l->x = calloc(n_points + 1, sizeof *l->x); /* + 1: never calloc(0) */
    l->y = calloc(n_points * n_series + 1, sizeof *l->y);
    l->of = calloc(n_series + 1, sizeof *l->of);
    l->series = calloc(n_series + 1, sizeof *l->series);
    if (!l->x || !l->y || !l->of || !l->series)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory drawing a plot");
    return PB_OK;
}

/* Running mean or share of each shown arm at DASHBOARD_POINTS evenly spaced reward counts. */
static pb_status lines_running(const struct stream *st, int share, struct lines *l, char *err)
{
    unsigned char *shown = calloc(st->n_arms ? st->n_arms : 1, 1);
    double *sum = calloc(st->n_arms ? st->n_arms : 1, sizeof *sum);
    size_t *count = calloc(st->n_arms ? st->n_arms : 1, sizeof *count);
    size_t n_series = 0, n_points = st->n < DASHBOARD_POINTS ? st->n : DASHBOARD_POINTS, i = 0;
    pb_status rc = PB_OK;
    if (!shown || !sum || !count) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory drawing a plot");
        goto cleanup;
    }
    shown_arms(st, shown);
    for (size_t k = 0; k < st->n_arms; k++)
        n_series += shown[k];
    if ((rc = lines_alloc(l, n_points, n_series, err)) != PB_OK)
        goto cleanup;
    for (size_t k = 0, j = 0; k < st->n_arms; k++)
        if (shown[k])
            l->of[j++] = k;
    for (size_t p = 0; p < n_points; p++) {
        size_t end = (p + 1) * st->n / n_points; /* rewards 0 .. end-1 are in */
        for (; i < end; i++) {
            sum[st->arm[i]] += st->value[i];
            count[st->arm[i]]++;
        }
        l->x[p] = (double)end;
        for (size_t j = 0; j < n_series; j++) {
            size_t k = l->of[j];
            double v = share ? (double)count[k] / (double)end
                             : (count[k] ? sum[k] / (double)count[k] : NAN);
            l->y[j * n_points + p] = v;
        }
    }
    for (size_t j = 0; j < n_series; j++)
        l->series[j] =
            (struct plot_series){st->labels[l->of[j]], l->x, l->y + j * n_points, n_points};
cleanup:
    free(shown);
    free(sum);
    free(count);
    return rc;
}

/* Whether e can know its arms' true means at all: an offline experiment whose policy_params
 * hold a "true_means" object. Checked before walking the rewards, so the live experiments'
 * "unknown" regret costs nothing. */
static int truth_declared(const struct store_experiment *e)
{
    if (strcmp(e->kind, "offline") != 0 || !e->policy_params)
        return 0;
    json_t *params = json_loads(e->policy_params, 0, NULL);
    int declared = json_is_object(json_object_get(params, "true_means"));
    json_decref(params);
    return declared;
}

/* The true mean of every arm from an offline experiment's policy_params
 * {"true_means": {"A": 0.9}}; 0 (unknown) when any rewarded arm lacks one. truth gets n_arms
 * values (NaN where not given). */
static int truth_known(const struct store_experiment *e, const struct stream *st, double *truth)
{
    int known = 0;
    if (strcmp(e->kind, "offline") != 0 || !e->policy_params)
        return 0;
    json_t *params = json_loads(e->policy_params, 0, NULL);
    json_t *means = json_object_get(params, "true_means");
    if (json_is_object(means)) {
        known = 1;
        for (size_t k = 0; k < st->n_arms; k++) {
            json_t *v = json_object_get(means, st->arms[k].name);
            truth[k] = json_is_number(v) ? json_number_value(v) : NAN;
        }
        for (size_t i = 0; i < st->n; i++)
            known = known && isfinite(truth[st->arm[i]]);
    }
    json_decref(params);
    return known;
}

/* st NULL: the truth is not declared; draws the "unknown" chart. */
static pb_status draw_regret(const struct store_experiment *e, const struct stream *st, char **svg,
                             char *err)
{
    char title[160];
    struct plot_frame f = {title, "rewards received", "cumulative expected regret", 0, 0};
    double *truth = calloc(st && st->n_arms ? st->n_arms : 1, sizeof *truth);
    struct lines l = {0};
    double best = -INFINITY, regret = 0;
    size_t n_points = 0, i = 0;
    pb_status rc = PB_OK;
    if (!truth)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory drawing a plot");
    if (!st || !truth_known(e, st, truth)) {
        snprintf(title, sizeof title, "Regret — %s: unknown (true arm means are not known)",
                 e->name);
        rc = plot_lines(&f, NULL, 0, svg, err);
        goto cleanup;
    }
    for (size_t k = 0; k < st->n_arms; k++)
        if (isfinite(truth[k]) && truth[k] > best)
            best = truth[k];
    n_points = st->n < DASHBOARD_POINTS ? st->n : DASHBOARD_POINTS;
    if ((rc = lines_alloc(&l, n_points, 1, err)) != PB_OK)
        goto cleanup;
    for (size_t p = 0; p < n_points; p++) {
        size_t end = (p + 1) * st->n / n_points;
        for (; i < end; i++)
            regret += best - truth[st->arm[i]];
        l.x[p] = (double)end;
        l.y[p] = regret;
    }
    l.series[0] = (struct plot_series){"regret", l.x, l.y, n_points};
    snprintf(title, sizeof title, "Cumulative regret — %s", e->name);
    rc = plot_lines(&f, l.series, 1, svg, err);
cleanup:
    lines_free(&l);
    free(truth);
    return rc;
}

static pb_status draw_distribution(const struct store_experiment *e, const struct stream *st,
                                   char **svg, char *err)
{
    char title[160];
    struct plot_frame f = {title, "reward level", "share of the arm's rewards", 0, 0};
    size_t n = st->n_arms ? st->n_arms : 1;
    double *counts = calloc(n * DASHBOARD_LEVELS, sizeof *counts);
    struct plot_dist *dist = calloc(n, sizeof *dist);
    unsigned char *shown = calloc(n, 1);
    size_t n_dist = 0;
    pb_status rc;
    if (!counts || !dist || !shown) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory drawing a plot");
        goto cleanup;
    }
    for (size_t i = 0; i < st->n; i++) {
        /* Judge and click rewards sit on the levels; edit and score values go to the nearest. */
        long level = lround((st->value[i] + 1.0) * 2.0);
        level = level < 0 ? 0 : level >= DASHBOARD_LEVELS ? DASHBOARD_LEVELS - 1 : level;
        counts[st->arm[i] * DASHBOARD_LEVELS + (size_t)level] += 1;
    }
    shown_arms(st, shown);
    for (size_t k = 0; k < st->n_arms; k++)
        if (shown[k])
            dist[n_dist++] = (struct plot_dist){st->labels[k], counts + k * DASHBOARD_LEVELS};
    snprintf(title, sizeof title, "Reward distribution per arm — %s", e->name);
    rc = plot_distribution(&f, level_names, DASHBOARD_LEVELS, dist, n_dist, svg, err);
cleanup:
    free(counts);
    free(dist);
    free(shown);
    return rc;
}

pb_status dashboard_plot_svg(store *s, const struct store_experiment *e, enum dashboard_plot plot,
                             char **svg, char *err)
{
    struct stream st;
    struct lines l = {0};
    char title[160];
    *svg = NULL;
    if (plot == DASHBOARD_PLOT_INTERVALS)
        return pb_errf(err, PB_ERR_INVALID, "the interval plot is drawn from the live view");
    if (plot == DASHBOARD_PLOT_REGRET && !truth_declared(e))
        return draw_regret(e, NULL, svg, err);
    pb_status rc = stream_load(s, e, &st, err);
    if (rc != PB_OK)
        goto cleanup;
    if (plot == DASHBOARD_PLOT_REGRET) {
        rc = draw_regret(e, &st, svg, err);
    } else if (plot == DASHBOARD_PLOT_DISTRIBUTION) {
        rc = draw_distribution(e, &st, svg, err);
    } else {
        int share = plot == DASHBOARD_PLOT_SHARE;
        struct plot_frame f = {title, "rewards received",
                               share ? "share of rewarded pulls" : "mean reward (-1 … 1)", 0, 0};
        snprintf(title, sizeof title, "%s — %s",
                 share ? "Share of pulls per arm" : "Mean reward per arm", e->name);
        if ((rc = lines_running(&st, share, &l, err)) == PB_OK)
            rc = plot_lines(&f, l.series, l.n_series, svg, err);
    }
cleanup:
    lines_free(&l);
    stream_free(&st);
    return rc;
}

pb_status dashboard_intervals_svg(const struct app_experiment_view *v, char **svg, char *err)
{
    char title[160];
    struct plot_frame f = {title, "arm", "mean reward with 95 % interval", 0, 0};
    struct plot_bar *bars = calloc(v->n_arms ? v->n_arms : 1, sizeof *bars);
    char(*labels)[LABEL_LEN] = calloc(v->n_arms ? v->n_arms : 1, sizeof *labels);
    size_t n = 0;
    pb_status rc;
    *svg = NULL;
    if (!bars || !labels) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory drawing a plot");
        goto cleanup;
    }
    for (size_t k = 0; k < v->n_arms; k++) {
        const struct app_arm_view *a = &v->arms[k];
        if (!a->active && a->pulls == 0)
            continue;
        int versions = 0;
        for (size_t j = 0; j < v->n_arms; j++)
            versions += strcmp(a->name, v->arms[j].name) == 0;
        if (versions > 1)
            snprintf(labels[n], LABEL_LEN, "%s v%d", a->name, a->version);
        else
            snprintf(labels[n], LABEL_LEN, "%s", a->name);
        int has_ci = a->pulls >= 2 && a->ci_high > a->ci_low;
        bars[n] = (struct plot_bar){labels[n], a->pulls ? a->mean : NAN, has_ci ? a->ci_low : NAN,
                                    has_ci ? a->ci_high : NAN};
        n++;
    }
    snprintf(title, sizeof title, "Mean reward per arm — %s", v->name);
    rc = plot_bars(&f, bars, n, svg, err);
cleanup:
    free(bars);
    free(labels);
    return rc;
}

/* ---- recent feedback and judge evaluations ---- */

struct recent_row {
    int64_t reward_id, impression_id, arm_id;
    size_t arm_index;
    char source[33];
    double value, created_at;
};

struct recent {
    struct recent_row *ring; /* the last `limit` rows, oldest overwritten first */
    size_t limit, total;
    json_t *by_source;
    int nomem;
};

static int recent_add(void *ctx, const struct feedback_reward_row *row)
{
    struct recent *r = ctx;
    struct recent_row *slot = &r->ring[r->total++ % r->limit];
    *slot = (struct recent_row){row->reward_id, row->impression_id, row->arm_id, row->arm_index, "",
                                row->value,     row->created_at};
    snprintf(slot->source, sizeof slot->source, "%s", row->source ? row->source : "");
    json_int_t seen = json_integer_value(json_object_get(r->by_source, slot->source));
    if (json_object_set_new(r->by_source, slot->source, json_integer(seen + 1)) != 0) {
        r->nomem = 1;
        return PB_ERR_NOMEM;
    }
    return 0;
}

static json_t *recent_item(const struct recent_row *row, const struct arm *arms, size_t n_arms)
{
    const char *arm = row->arm_index < n_arms ? arms[row->arm_index].name : "";
    return json_pack("{s:I, s:I, s:I, s:s, s:s, s:f, s:f}", "reward_id", (json_int_t)row->reward_id,
                     "impression_id", (json_int_t)row->impression_id, "arm_id",
                     (json_int_t)row->arm_id, "arm", arm, "source", row->source, "value",
                     row->value, "created_at", row->created_at);
}

pb_status dashboard_recent_feedback(store *s, const struct store_experiment *e, size_t limit,
                                    json_t **out, char *err)
{
    struct recent r = {0};
    struct arm *arms = NULL;
    size_t n_arms = 0;
    json_t *list = NULL;
    *out = NULL;
    if (limit < 1 || limit > 1000)
        return pb_errf(err, PB_ERR_INVALID, "limit must be between 1 and 1000; got %zu", limit);
    pb_status rc = arms_list(s, e->id, 1, &arms, &n_arms, err);
    if (rc != PB_OK)
        goto cleanup;
    r.limit = limit;
    r.ring = calloc(limit, sizeof *r.ring);
    r.by_source = json_object();
    list = json_array();
    if (!r.ring || !r.by_source || !list) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory listing feedback");
        goto cleanup;
    }
    rc = feedback_reward_foreach(s, e->id, recent_add, &r, err);
    if (r.nomem)
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory listing feedback");
    if (rc != PB_OK)
        goto cleanup;
    size_t shown = r.total < limit ? r.total : limit;
    for (size_t i = 0; i < shown; i++) { /* newest first */
        const struct recent_row *row = &r.ring[(r.total - 1 - i) % limit];
        if (json_array_append_new(list, recent_item(row, arms, n_arms)) != 0) {
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory listing feedback");
            goto cleanup;
        }
    }
    *out = json_pack("{s:s, s:I, s:O, s:O}", "experiment", e->name, "total", (json_int_t)r.total,
                     "by_source", r.by_source, "recent", list);
    if (!*out)
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory listing feedback");
cleanup:
    json_decref(list);
    json_decref(r.by_source);
    free(r.ring);
    arms_list_free(arms, n_arms);
    return rc;
}

static int judge_eval_add(void *ctx, const struct runs_judge_eval *ev)
{
    json_t *figures = json_loads(ev->figures_json ? ev->figures_json : "", 0, NULL);
    json_t *item = json_pack("{s:I, s:s, s:f, s:o}", "id", (json_int_t)ev->id, "judge_kind",
                             ev->judge_kind ? ev->judge_kind : "", "created_at", ev->created_at,
                             "figures", figures ? figures : json_null());
    return json_array_append_new(ctx, item) == 0 ? 0 : PB_ERR_NOMEM;
}

pb_status dashboard_judge_evals(store *s, json_t **out, char *err)
{
    json_t *list = json_array();
    *out = NULL;
    if (!list)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory listing judge evaluations");
    pb_status rc = runs_judge_eval_latest(s, judge_eval_add, list, err);
    if (rc == PB_ERR_NOMEM)
        pb_errf(err, rc, "out of memory listing judge evaluations");
    if (rc == PB_OK && !(*out = json_pack("{s:O}", "judge_evals", list)))
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory listing judge evaluations");
    json_decref(list);
    return rc;
}

/* ---- HTTP handlers (admin only; the core checks the token before calling them) ---- */

/* Stored SVG is our own drawing, but it is served same-origin: forbid anything active in it
 * should a browser open it as a document. */
static const char SVG_CSP[] = "default-src 'none'; style-src 'unsafe-inline'; "
                              "frame-ancestors 'none'";

static pb_status h_plot(struct server_request *req, struct server_reply *reply, void *ctx)
{
    app *a = ctx;
    const char *name = server_req_param(req, "name");
    struct store_experiment e = {0};
    struct app_experiment_view v = {0};
    enum dashboard_plot plot;
    char *svg = NULL;
    store *s = NULL;
    pb_status rc = dashboard_plot_from_name(server_req_param(req, "plot"), &plot, reply->err);
    if (rc != PB_OK)
        return rc;
    if (plot == DASHBOARD_PLOT_INTERVALS) {
        if ((rc = app_experiment_view(a, name, &v, reply->err)) == PB_OK)
            rc = dashboard_intervals_svg(&v, &svg, reply->err);
        goto cleanup;
    }
    if (!(s = app_store_acquire(a, reply->err))) {
        rc = PB_ERR_DB;
        goto cleanup;
    }
    if ((rc = store_experiment_get(s, name, &e, reply->err)) == PB_OK)
        rc = dashboard_plot_svg(s, &e, plot, &svg, reply->err);
cleanup:
    if (rc == PB_OK && (rc = server_reply_text(reply, 200, "image/svg+xml; charset=utf-8", svg,
                                               strlen(svg))) == PB_OK)
        rc = server_reply_header(reply, "Content-Security-Policy", SVG_CSP);
    if (s)
        app_store_release(a, s);
    store_experiment_clear(&e);
    app_experiment_view_clear(&v);
    free(svg);
    return rc;
}

/* ?limit=N, 20 when absent; PB_ERR_INVALID for anything but a whole number in 1..1000. */
static pb_status parse_limit(const char *text, size_t *limit, char *err)
{
    char *end = NULL;
    if (!text) {
        *limit = 20;
        return PB_OK;
    }
    long v = strtol(text, &end, 10);
    if (end == text || *end || v < 1 || v > 1000)
        return pb_errf(err, PB_ERR_INVALID, "limit must be a whole number from 1 to 1000");
    *limit = (size_t)v;
    return PB_OK;
}

static pb_status h_feedback(struct server_request *req, struct server_reply *reply, void *ctx)
{
    app *a = ctx;
    struct store_experiment e = {0};
    json_t *body = NULL;
    size_t limit = 20;
    pb_status rc = parse_limit(server_req_query(req, "limit"), &limit, reply->err);
    if (rc != PB_OK)
        return rc;
    store *s = app_store_acquire(a, reply->err);
    if (!s)
        return PB_ERR_DB;
    if ((rc = store_experiment_get(s, server_req_param(req, "name"), &e, reply->err)) == PB_OK &&
        (rc = dashboard_recent_feedback(s, &e, limit, &body, reply->err)) == PB_OK)
        server_reply_json(reply, 200, body);
    app_store_release(a, s);
    store_experiment_clear(&e);
    return rc;
}

static pb_status h_judge_evals(struct server_request *req, struct server_reply *reply, void *ctx)
{
    app *a = ctx;
    json_t *body = NULL;
    store *s = app_store_acquire(a, reply->err);
    if (!s)
        return PB_ERR_DB;
    pb_status rc = dashboard_judge_evals(s, &body, reply->err);
    if (rc == PB_OK)
        server_reply_json(reply, 200, body);
    app_store_release(a, s);
    return rc;
}

/* ---- the decision views (overview.h, examples.h, runview.h) ---- */

/* Runs body(a, s, e, ctx, &json) on the active experiment named by the path and answers its
 * JSON; the store handle is released on every path. */
static pb_status with_experiment(struct server_request *req, struct server_reply *reply, app *a,
                                 pb_status (*body)(app *a, store *s,
                                                   const struct store_experiment *e, void *ctx,
                                                   json_t **out, char *err),
                                 void *ctx)
{
    struct store_experiment e = {0};
    json_t *out = NULL;
    store *s = app_store_acquire(a, reply->err);
    if (!s)
        return PB_ERR_DB;
    pb_status rc = store_experiment_get(s, server_req_param(req, "name"), &e, reply->err);
    if (rc == PB_OK && (rc = body(a, s, &e, ctx, &out, reply->err)) == PB_OK)
        server_reply_json(reply, 200, out);
    app_store_release(a, s);
    store_experiment_clear(&e);
    return rc;
}

/* A live experiment's overview, or for an offline one the view of its run. */
static pb_status overview_body(app *a, store *s, const struct store_experiment *e, void *ctx,
                               json_t **out, char *err)
{
    int64_t run_id = 0;
    if (strcmp(e->kind, "offline") == 0 && runview_run_of(s, e->id, &run_id, err) == PB_OK)
        return runview_json(s, run_id, out, err);
    return overview_live_json(a, s, e, *(const enum overview_window *)ctx, pb_now_wall(), out, err);
}

static pb_status h_overview(struct server_request *req, struct server_reply *reply, void *ctx)
{
    enum overview_window w;
    pb_status rc = overview_window_from_name(server_req_query(req, "window"), &w, reply->err);
    return rc == PB_OK ? with_experiment(req, reply, ctx, overview_body, &w) : rc;
}

static pb_status examples_body(app *a, store *s, const struct store_experiment *e, void *ctx,
                               json_t **out, char *err)
{
    (void)ctx;
    return examples_json(a, s, e, out, err);
}

static pb_status h_examples(struct server_request *req, struct server_reply *reply, void *ctx)
{
    return with_experiment(req, reply, ctx, examples_body, NULL);
}

/* GET routes that render one object by the {id} of their path with a store handle. */
static pb_status by_id(struct server_request *req, struct server_reply *reply, void *ctx,
                       pb_status (*render)(store *s, int64_t id, json_t **out, char *err))
{
    int64_t id = 0;
    json_t *out = NULL;
    pb_status rc = server_req_param_id(req, "id", &id, reply->err);
    if (rc != PB_OK)
        return rc;
    store *s = app_store_acquire(ctx, reply->err);
    if (!s)
        return PB_ERR_DB;
    if ((rc = render(s, id, &out, reply->err)) == PB_OK)
        server_reply_json(reply, 200, out);
    app_store_release(ctx, s);
    return rc;
}

static pb_status h_run(struct server_request *req, struct server_reply *reply, void *ctx)
{
    return by_id(req, reply, ctx, runview_json);
}

static pb_status h_turn(struct server_request *req, struct server_reply *reply, void *ctx)
{
    return by_id(req, reply, ctx, examples_turn_json);
}

static pb_status h_runs(struct server_request *req, struct server_reply *reply, void *ctx)
{
    json_t *out = NULL;
    (void)req;
    store *s = app_store_acquire(ctx, reply->err);
    if (!s)
        return PB_ERR_DB;
    pb_status rc = runview_list_json(s, &out, reply->err);
    if (rc == PB_OK)
        server_reply_json(reply, 200, out);
    app_store_release(ctx, s);
    return rc;
}

/* The active experiments without statistics: the selector needs names and kinds only. */
static pb_status h_experiments(struct server_request *req, struct server_reply *reply, void *ctx)
{
    struct store_experiment *list = NULL;
    size_t n = 0;
    json_t *arr = json_array();
    (void)req;
    store *s = app_store_acquire(ctx, reply->err);
    pb_status rc = !s    ? PB_ERR_DB
                   : arr ? store_experiment_list(s, &list, &n, reply->err)
                         : pb_errf(reply->err, PB_ERR_NOMEM, "out of memory");
    app_store_release(ctx, s);
    for (size_t i = 0; rc == PB_OK && i < n; i++)
        if (strcmp(list[i].status, "active") == 0)
            json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:s, s:f}", "id",
                                                 (json_int_t)list[i].id, "name", list[i].name,
                                                 "kind", list[i].kind, "policy",
                                                 list[i].policy ? list[i].policy : "", "created_at",
                                                 list[i].created_at));
    store_experiment_list_free(list, n);
    if (rc == PB_OK)
        server_reply_json(reply, 200, json_pack("{s:O}", "experiments", arr));
    json_decref(arr);
    return rc;
}

/* Public: whether the admin endpoints are on, so the page can say "admin is off" instead of
 * asking for a token that cannot work. Says nothing about the token itself. */
static pb_status h_admin_status(struct server_request *req, struct server_reply *reply, void *ctx)
{
    (void)req;
    const char *token = config_str(app_config(ctx), "server.admin_token");
    server_reply_json(reply, 200, json_pack("{s:b}", "admin", token && *token));
    return PB_OK;
}

static const struct server_route routes[] = {
    {"GET", "/v1/experiments/{name}/plots/{plot}", h_plot, SERVER_ADMIN},
    {"GET", "/v1/experiments/{name}/feedback", h_feedback, SERVER_ADMIN},
    {"GET", "/v1/judge-evals", h_judge_evals, SERVER_ADMIN},
    {"GET", "/v1/experiments/{name}/overview", h_overview, SERVER_ADMIN},
    {"GET", "/v1/experiments/{name}/examples", h_examples, SERVER_ADMIN},
    {"GET", "/v1/runs/{id}", h_run, SERVER_ADMIN},
    {"GET", "/v1/impressions/{id}/turn", h_turn, SERVER_ADMIN},
    {"GET", "/v1/dashboard/runs", h_runs, SERVER_ADMIN},
    {"GET", "/v1/dashboard/experiments", h_experiments, SERVER_ADMIN},
    {"GET", "/v1/admin-status", h_admin_status, 0},
};

const struct server_route *dashboard_routes(size_t *n)
{
    *n = sizeof routes / sizeof routes[0];
    return routes;
}
