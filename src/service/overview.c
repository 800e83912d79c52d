/* overview.c — a live experiment's dashboard answer from the cache's hourly aggregates and the
 * live state's segments; the series over clock time is remembered in the cache's memo. */
#include "service/overview.h"

#include "bandit/glr.h"
#include "base/hash.h"
#include "service/dashcache.h"
#include "service/decide.h"
#include "service/live.h"
#include "store/arms.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERIES_DRAWS    1000 /* P(best) samples per point when not exact */
#define ALL_HOURLY_SPAN 72   /* "all" stays hourly up to this many hours */
#define ALL_MAX_POINTS  366

pb_status overview_window_from_name(const char *name, enum overview_window *out, char *err)
{
    if (!name || strcmp(name, "7d") == 0)
        *out = OVERVIEW_7D;
    else if (strcmp(name, "24h") == 0)
        *out = OVERVIEW_24H;
    else if (strcmp(name, "all") == 0)
        *out = OVERVIEW_ALL;
    else
        return pb_errf(err, PB_ERR_INVALID, "window must be 24h, 7d or all");
    return PB_OK;
}

struct ov {
    const struct store_experiment *e;
    struct arm *arms;
    size_t n_arms;
    struct decide_arm *darms; /* n_arms, filled from the cache */
    int64_t *ids;             /* n_arms */
    size_t *cache_index;      /* arm -> dashcache index or SIZE_MAX */
    struct live_snapshot global;
    struct live_snapshot *segs;
    size_t n_seg;
    const char **seg_names;
    enum overview_window window;
    double now;
    enum verdict_posterior model;
    json_t *out;
};

/* ---- the time axis ---- */

struct axis {
    int64_t start_hour, bucket_hours;
    size_t n_points;
    const char *name;
};

static struct axis axis_of(const struct dashcache_view *v, enum overview_window w, double now)
{
    int64_t cur = (int64_t)floor(now / DASHCACHE_HOUR);
    struct axis ax = {cur - 23, 1, 24, "24h"};
    if (w == OVERVIEW_7D)
        ax = (struct axis){cur - 167, 1, 168, "7d"};
    if (w != OVERVIEW_ALL)
        return ax;
    int64_t first = v->n_hours && v->hours[0] <= cur ? v->hours[0] : cur;
    int64_t span = cur - first + 1;
    ax.name = "all";
    if (span <= ALL_HOURLY_SPAN) {
        ax.start_hour = first;
        ax.n_points = (size_t)span;
        return ax;
    }
    int64_t day0 = first / 24 * 24, days = (cur - day0) / 24 + 1;
    int64_t per = (days + ALL_MAX_POINTS - 1) / ALL_MAX_POINTS;
    ax.start_hour = day0;
    ax.bucket_hours = 24 * per;
    ax.n_points = (size_t)((days + per - 1) / per);
    return ax;
}

/* The arms a chart shows: active, or rewarded at some time. */
static int shown(const struct ov *o, size_t i)
{
    return o->darms[i].active || o->darms[i].n > 0;
}

/* P(best) of the shown arms from cumulative sums cum (cache index space); NaN without data. */
static void p_best_now(const struct ov *o, const struct dashcache_cell *cum, size_t k,
                       struct decide_arm *scratch, struct verdict_arm *st, double *pb, double *out)
{
    double total = 0;
    for (size_t i = 0; i < o->n_arms; i++) {
        const struct dashcache_cell *c = o->cache_index[i] < k ? &cum[o->cache_index[i]] : NULL;
        scratch[i] = o->darms[i];
        scratch[i].n = c ? c->n : 0;
        scratch[i].sum = c ? c->sum : 0;
        scratch[i].sum_sq = c ? c->sum_sq : 0;
        total += scratch[i].n;
    }
    decide_stats(scratch, o->n_arms, st);
    char why[PB_ERR_LEN];
    int ok = total > 0 && verdict_p_best(st, o->n_arms, o->model, SERIES_DRAWS, pb, why) == PB_OK;
    for (size_t i = 0; i < o->n_arms; i++)
        out[i] = ok && o->darms[i].active ? pb[i] : NAN;
}

struct series_work {
    struct decide_point *pts; /* n_arms x n_points */
    struct dashcache_cell *cum, *bucket;
    struct decide_arm *scratch;
    struct verdict_arm *st;
    double *pb, *now_pb;
    uint64_t arms_hash;   /* the arms' ids and active flags */
    const json_t *old_pb; /* P(best) per point computed before: {key: [per arm]} */
    json_t *new_pb;       /* the same for this series' points */
};

static void series_work_free(struct series_work *w)
{
    free(w->pts);
    free(w->cum);
    free(w->bucket);
    free(w->scratch);
    free(w->st);
    free(w->pb);
    free(w->now_pb);
}

/* P(best) at the point ending at hour `end` into w->now_pb: from the points computed before
 * when one had the same cumulative state (rows are only ever added, so the end hour and the
 * number of rewards up to it name the state), else computed; recorded in w->new_pb. A refresh
 * after new rewards thus recomputes only the points they changed, usually the last. */
static void p_best_point(const struct ov *o, struct series_work *w, int64_t end, size_t k)
{
    double total = 0;
    char key[96];
    for (size_t a = 0; a < k; a++)
        total += w->cum[a].n;
    snprintf(key, sizeof key, "%lld:%.0f:%llx:%d", (long long)end, total,
             (unsigned long long)w->arms_hash, (int)o->model);
    json_t *old = json_object_get(w->old_pb, key), *keep = json_array();
    if (json_array_size(old) == o->n_arms)
        for (size_t i = 0; i < o->n_arms; i++) {
            json_t *x = json_array_get(old, i);
            w->now_pb[i] = json_is_number(x) ? json_number_value(x) : NAN;
        }
    else
        p_best_now(o, w->cum, k, w->scratch, w->st, w->pb, w->now_pb);
    for (size_t i = 0; keep && i < o->n_arms; i++)
        json_array_append_new(keep, decide_number(w->now_pb[i]));
    if (keep)
        json_object_set_new(w->new_pb, key, keep);
}

/* Fills the points: per bucket the traffic share and rewards of each arm, and P(best) over
 * every reward up to the bucket's end (the history before the window included). */
static void fill_points(const struct ov *o, const struct dashcache_view *v, const struct axis *ax,
                        struct series_work *w)
{
    size_t h = 0, k = v->n_arms;
    int changed = 1;
    for (; h < v->n_hours && v->hours[h] < ax->start_hour; h++)
        for (size_t a = 0; a < k; a++) {
            const struct dashcache_cell *c = &v->cells[h * v->stride + a];
            w->cum[a].n += c->n, w->cum[a].sum += c->sum, w->cum[a].sum_sq += c->sum_sq;
        }
    for (size_t p = 0; p < ax->n_points; p++) {
        int64_t end = ax->start_hour + (int64_t)(p + 1) * ax->bucket_hours;
        double imp = 0;
        memset(w->bucket, 0, (k ? k : 1) * sizeof *w->bucket);
        for (; h < v->n_hours && v->hours[h] < end; h++)
            for (size_t a = 0; a < k; a++) {
                const struct dashcache_cell *c = &v->cells[h * v->stride + a];
                w->bucket[a].n += c->n, w->bucket[a].sum += c->sum;
                w->bucket[a].impressions += c->impressions;
                w->cum[a].n += c->n, w->cum[a].sum += c->sum, w->cum[a].sum_sq += c->sum_sq;
                imp += c->impressions;
                changed |= c->n > 0;
            }
        if (changed)
            p_best_point(o, w, end, k);
        changed = 0;
        for (size_t i = 0; i < o->n_arms; i++) {
            size_t ci = o->cache_index[i];
            const struct dashcache_cell *b = ci < k ? &w->bucket[ci] : NULL;
            w->pts[i * ax->n_points + p] =
                (struct decide_point){imp > 0 ? (b ? b->impressions : 0) / imp : NAN, b ? b->n : 0,
                                      b ? b->sum : 0, w->now_pb[i]};
        }
    }
}

/* The series of the axis; *p_best gets the P(best) of its points (a new object) for the next
 * call, which reuses what old_pb (may be NULL) holds. */
static json_t *series_json(const struct ov *o, const struct dashcache_view *v,
                           const struct axis *ax, uint64_t arms_hash, const json_t *old_pb,
                           json_t **p_best, char *err)
{
    size_t n = o->n_arms ? o->n_arms : 1, k = v->n_arms ? v->n_arms : 1;
    struct series_work w = {calloc(n * (ax->n_points ? ax->n_points : 1), sizeof *w.pts),
                            calloc(k, sizeof *w.cum),
                            calloc(k, sizeof *w.bucket),
                            calloc(n, sizeof *w.scratch),
                            calloc(n, sizeof *w.st),
                            calloc(n, sizeof *w.pb),
                            calloc(n, sizeof *w.now_pb),
                            arms_hash,
                            old_pb,
                            json_object()};
    json_t *x = json_array(), *arms = json_array(), *out = NULL;
    *p_best = NULL;
    if (!w.pts || !w.cum || !w.bucket || !w.scratch || !w.st || !w.pb || !w.now_pb || !x || !arms ||
        !w.new_pb)
        goto cleanup;
    fill_points(o, v, ax, &w);
    for (size_t p = 0; p < ax->n_points; p++)
        json_array_append_new(
            x,
            json_real((double)(ax->start_hour + (int64_t)p * ax->bucket_hours) * DASHCACHE_HOUR));
    for (size_t i = 0; i < o->n_arms; i++)
        if (shown(o, i))
            json_array_append_new(
                arms, decide_series_arm_json(o->ids[i], w.pts + i * ax->n_points, ax->n_points));
    out = json_pack("{s:s, s:s, s:f, s:O, s:O}", "x_kind", "time", "window", ax->name, "bucket_s",
                    (double)ax->bucket_hours * DASHCACHE_HOUR, "x", x, "arms", arms);
cleanup:
    if (!out)
        pb_errf(err, PB_ERR_NOMEM, "out of memory drawing the series");
    else
        *p_best = json_incref(w.new_pb);
    json_decref(w.new_pb);
    json_decref(x);
    json_decref(arms);
    series_work_free(&w);
    return out;
}

/* The series, from the memo when nothing it depends on changed, else drawn again reusing the
 * P(best) of unchanged points; a new reference. The memo holds {"series", "p_best"}. */
static json_t *series_cached(const struct ov *o, const struct dashcache_view *v,
                             struct dashcache_memo *memo, char *err)
{
    struct axis ax = axis_of(v, o->window, o->now);
    uint64_t arms = hash_fnv1a64(o->ids, o->n_arms * sizeof *o->ids, 0);
    for (size_t i = 0; i < o->n_arms; i++)
        arms = hash_fnv1a64(&o->darms[i].active, sizeof o->darms[i].active, arms);
    char key[sizeof memo->key];
    snprintf(key, sizeof key, "%s:%lld:%zu:%lld:%lld:%d:%llx", ax.name, (long long)ax.start_hour,
             ax.n_points, (long long)v->last_reward_id, (long long)v->last_impression_id,
             (int)o->model, (unsigned long long)arms);
    json_t *kept = json_object_get(memo->value, "series");
    if (kept && strcmp(memo->key, key) == 0)
        return json_deep_copy(kept);
    json_t *p_best = NULL;
    json_t *series =
        series_json(o, v, &ax, arms, json_object_get(memo->value, "p_best"), &p_best, err);
    if (series) {
        json_decref(memo->value);
        memo->value = json_pack("{s:o, s:o}", "series", json_deep_copy(series), "p_best", p_best);
        snprintf(memo->key, sizeof memo->key, "%s", memo->value ? key : "");
    } else {
        json_decref(p_best);
    }
    return series;
}

/* ---- the rest of the answer ---- */

static json_t *distribution_json(const struct ov *o, const struct dashcache_view *v)
{
    struct axis ax = axis_of(v, o->window, o->now);
    json_t *arms = json_array();
    for (size_t i = 0; arms && i < o->n_arms; i++) {
        size_t ci = o->cache_index[i];
        double counts[DASHCACHE_LEVELS] = {0};
        for (size_t h = 0; ci < v->n_arms && h < v->n_hours; h++)
            if (v->hours[h] >= ax.start_hour)
                for (size_t l = 0; l < DASHCACHE_LEVELS; l++)
                    counts[l] += v->cells[h * v->stride + ci].levels[l];
        if (shown(o, i))
            json_array_append_new(arms, json_pack("{s:I, s:[f, f, f, f, f]}", "id",
                                                  (json_int_t)o->ids[i], "counts", counts[0],
                                                  counts[1], counts[2], counts[3], counts[4]));
    }
    return json_pack("{s:[f, f, f, f, f], s:o}", "levels", -1.0, -0.5, 0.0, 0.5, 1.0, "arms",
                     arms ? arms : json_array());
}

static json_t *recent_json(const struct ov *o, const struct dashcache_view *v)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < v->n_recent && i < OVERVIEW_RECENT; i++) {
        const struct dashcache_recent *r = dashcache_recent_at(v, i);
        char label[32] = "";
        for (size_t a = 0; a < o->n_arms; a++)
            if (o->ids[a] == r->arm_id)
                decide_label(o->darms, o->n_arms, a, label);
        json_array_append_new(
            list, json_pack("{s:I, s:I, s:I, s:s, s:s, s:f, s:f}", "reward_id",
                            (json_int_t)r->reward_id, "impression_id", (json_int_t)r->impression_id,
                            "arm_id", (json_int_t)r->arm_id, "arm", label, "source", r->source,
                            "value", r->value, "created_at", r->created_at));
    }
    return list;
}

static json_t *sources_json(const struct dashcache_view *v)
{
    json_t *by = json_object();
    for (size_t i = 0; by && i < v->n_sources; i++)
        json_object_set_new(by, v->sources[i].name, json_integer(v->sources[i].count));
    return by;
}

/* One segment's arms (id, rewards, mean, interval, p_best) from its live snapshot, and its
 * verdict statistics in arm order. */
static json_t *segment_arms_json(const struct ov *o, const struct live_snapshot *snap,
                                 struct verdict_arm *st)
{
    json_t *arms = json_array();
    for (size_t i = 0; i < o->n_arms; i++) {
        const struct live_arm *la = NULL;
        for (size_t j = 0; j < snap->n_arms; j++)
            if (snap->arms[j].arm_id == o->ids[i])
                la = &snap->arms[j];
        double n = la ? (double)la->pulls : 0, mean = la ? la->mean : 0;
        st[i] = (struct verdict_arm){n, mean, 0, o->darms[i].active};
        if (!arms || !shown(o, i))
            continue;
        double lo, hi;
        glr_interval(mean, n, GLR_REWARD_LO, GLR_REWARD_HI, DECIDE_DELTA, &lo, &hi);
        json_array_append_new(
            arms,
            json_pack("{s:I, s:f, s:o, s:[f, f], s:o}", "id", (json_int_t)o->ids[i], "rewards", n,
                      "mean", n > 0 ? json_real(mean) : json_null(), "interval", lo, hi, "p_best",
                      o->darms[i].active && la ? json_real(la->p_best) : json_null()));
    }
    return arms;
}

/* "segments" and "advice": each segment's arms and verdict (error level shared, verdict.h),
 * then what to do given them and the overall verdict. */
static pb_status decisions_json(struct ov *o, const struct verdict_outcome *overall, char *err)
{
    size_t n = o->n_arms ? o->n_arms : 1, m = o->n_seg ? o->n_seg : 1, promoted = SIZE_MAX;
    struct verdict_arm *st = calloc(n * m, sizeof *st);
    struct verdict_group *groups = calloc(m, sizeof *groups);
    struct verdict_outcome *outs = calloc(m, sizeof *outs);
    size_t *leaders = calloc(m, sizeof *leaders);
    json_t *segs = json_array(), *arms[64] = {0};
    pb_status rc = PB_OK;
    if (!st || !groups || !outs || !leaders || !segs) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory judging segments");
        goto cleanup;
    }
    for (size_t k = 0; k < o->n_seg && k < 64; k++) {
        arms[k] = segment_arms_json(o, &o->segs[k], st + k * n);
        groups[k] = (struct verdict_group){st + k * n, o->n_arms};
    }
    if ((rc = verdict_judge_segments(groups, o->n_seg < 64 ? o->n_seg : 64, DECIDE_DELTA, outs,
                                     err)) != PB_OK)
        goto cleanup;
    for (size_t i = 0; i < o->n_arms; i++)
        if (o->ids[i] == o->e->promoted_arm_id)
            promoted = i;
    struct verdict_advice adv;
    verdict_advise(overall, outs, o->n_seg < 64 ? o->n_seg : 64, promoted, &adv, leaders);
    for (size_t k = 0; k < o->n_seg && k < 64; k++) {
        json_array_append_new(segs, json_pack("{s:s, s:I, s:O, s:o}", "name", o->seg_names[k],
                                              "rewards", (json_int_t)o->global.segment_pulls[k],
                                              "arms", arms[k] ? arms[k] : json_array(), "verdict",
                                              decide_verdict_json(&outs[k], o->ids)));
    }
    json_object_set(o->out, "segments", segs);
    json_object_set_new(
        o->out, "advice",
        decide_advice_json(&adv, o->ids, o->seg_names, leaders, o->n_seg < 64 ? o->n_seg : 64));
cleanup:
    for (size_t k = 0; k < 64; k++)
        json_decref(arms[k]);
    json_decref(segs);
    free(st);
    free(groups);
    free(outs);
    free(leaders);
    return rc;
}

/* Under the cache's lock: the whole answer into o->out. */
static pb_status build(void *ctx, const struct dashcache_view *v, struct dashcache_memo *memo,
                       char *err)
{
    struct ov *o = ctx;
    for (size_t i = 0; i < o->n_arms; i++) {
        size_t ci = dashcache_arm_index(v, o->ids[i]);
        const struct dashcache_cell *t = ci < v->n_arms ? &v->arms[ci].total : NULL;
        o->cache_index[i] = ci;
        o->darms[i].impressions = t ? t->impressions : 0;
        o->darms[i].n = t ? t->n : 0;
        o->darms[i].sum = t ? t->sum : 0;
        o->darms[i].sum_sq = t ? t->sum_sq : 0;
    }
    json_t *arms = NULL;
    pb_status rc = decide_arms_json(o->darms, o->n_arms, o->model, &arms, err);
    if (rc != PB_OK)
        return rc;
    struct verdict_arm *st = calloc(o->n_arms ? o->n_arms : 1, sizeof *st);
    struct verdict_outcome overall = {0};
    if (!st) {
        json_decref(arms);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory judging arms");
    }
    decide_stats(o->darms, o->n_arms, st);
    struct verdict_group g = {st, o->n_arms};
    rc = verdict_judge(&g, DECIDE_DELTA, &overall, err);
    free(st);
    json_t *promoted = o->e->promoted_arm_id ? json_integer(o->e->promoted_arm_id) : json_null();
    json_t *series = rc == PB_OK ? series_cached(o, v, memo, err) : NULL;
    o->out = json_pack(
        "{s:{s:I, s:s, s:s, s:s, s:s, s:o, s:I, s:I, s:o}, s:o, s:o, s:o, s:o, s:o}", "experiment",
        "id", (json_int_t)o->e->id, "name", o->e->name, "kind", o->e->kind, "status", o->e->status,
        "policy", o->global.policy, "promoted_arm_id", promoted, "rewards", (json_int_t)v->rewards,
        "impressions", (json_int_t)v->impressions, "by_source", sources_json(v), "arms", arms,
        "verdict", decide_verdict_json(&overall, o->ids), "series", series, "distribution",
        distribution_json(o, v), "recent", recent_json(o, v));
    if (rc == PB_OK && !o->out)
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory building the overview");
    if (rc == PB_OK)
        rc = decisions_json(o, &overall, err);
    return rc;
}

static void ov_clear(struct ov *o)
{
    arms_list_free(o->arms, o->n_arms);
    free(o->darms);
    free(o->ids);
    free(o->cache_index);
    live_snapshot_clear(&o->global);
    for (size_t k = 0; o->segs && k < o->n_seg; k++)
        live_snapshot_clear(&o->segs[k]);
    free(o->segs);
    free(o->seg_names);
}

/* The arms, the live snapshots (overall and per segment) and the posterior of the policy. */
static pb_status ov_load(app *a, store *s, struct ov *o, char *err)
{
    const live *l = app_live(a);
    pb_status rc = arms_list(s, o->e->id, 1, &o->arms, &o->n_arms, err);
    size_t n = o->n_arms ? o->n_arms : 1;
    o->n_seg = live_segment_count(l);
    if (rc == PB_OK &&
        (!(o->darms = calloc(n, sizeof *o->darms)) || !(o->ids = calloc(n, sizeof *o->ids)) ||
         !(o->cache_index = calloc(n, sizeof *o->cache_index)) ||
         !(o->segs = calloc(o->n_seg ? o->n_seg : 1, sizeof *o->segs)) ||
         !(o->seg_names = calloc(o->n_seg ? o->n_seg : 1, sizeof *o->seg_names))))
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory building the overview");
    for (size_t i = 0; rc == PB_OK && i < o->n_arms; i++) {
        o->ids[i] = o->arms[i].id;
        o->darms[i] = (struct decide_arm){.id = o->arms[i].id,
                                          .name = o->arms[i].name,
                                          .version = o->arms[i].version,
                                          .prompt = o->arms[i].prompt,
                                          .active = o->arms[i].retired_at <= 0,
                                          .promoted = o->arms[i].id == o->e->promoted_arm_id};
    }
    if (rc == PB_OK)
        rc = live_snapshot_get(app_live(a), s, o->e->name, NULL, DECIDE_DRAWS, &o->global, err);
    for (size_t k = 0; rc == PB_OK && k < o->n_seg; k++) {
        o->seg_names[k] = live_segment_name(l, k);
        rc = live_snapshot_get(app_live(a), s, o->e->name, o->seg_names[k], DECIDE_DRAWS,
                               &o->segs[k], err);
    }
    o->model =
        strncmp(o->global.policy, "thompson-beta", 13) == 0 ? VERDICT_BETA : VERDICT_GAUSSIAN;
    return rc;
}

pb_status overview_live_json(app *a, store *s, const struct store_experiment *e,
                             enum overview_window window, double now, json_t **out, char *err)
{
    struct ov o = {.e = e, .window = window, .now = now};
    *out = NULL;
    pb_status rc = ov_load(a, s, &o, err);
    if (rc == PB_OK)
        rc = dashcache_read(app_dashcache(a), s, e->id, build, &o, err);
    if (rc == PB_OK)
        *out = o.out;
    else
        json_decref(o.out);
    ov_clear(&o);
    return rc;
}
