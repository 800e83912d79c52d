/* decide.c — arms, verdicts, advice and chart series as JSON for the dashboard's answers. */
#include "service/decide.h"

#include "bandit/glr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *decide_number(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

void decide_label(const struct decide_arm *arms, size_t k, size_t i, char out[32])
{
    int versions = 0;
    for (size_t j = 0; j < k; j++)
        versions += strcmp(arms[i].name, arms[j].name) == 0;
    if (versions > 1)
        snprintf(out, 32, "%s v%d", arms[i].name, arms[i].version);
    else
        snprintf(out, 32, "%s", arms[i].name);
}

void decide_stats(const struct decide_arm *arms, size_t k, struct verdict_arm *out)
{
    for (size_t i = 0; i < k; i++) {
        double n = arms[i].n, mean = n > 0 ? arms[i].sum / n : 0;
        double var = n > 1 ? (arms[i].sum_sq - n * mean * mean) / (n - 1) : 0;
        out[i] = (struct verdict_arm){n, mean, var > 0 ? var : 0, arms[i].active};
    }
}

static json_t *interval_json(double mean, double n)
{
    double lo, hi;
    glr_interval(mean, n, GLR_REWARD_LO, GLR_REWARD_HI, DECIDE_DELTA, &lo, &hi);
    return json_pack("[f, f]", lo, hi);
}

static json_t *arm_json(const struct decide_arm *arms, size_t k, size_t i,
                        const struct verdict_arm *st, const double *p_best)
{
    const struct decide_arm *a = &arms[i];
    char label[32];
    decide_label(arms, k, i, label);
    json_t *j = json_pack("{s:I, s:s, s:s, s:i, s:s, s:b, s:b, s:o, s:f, s:o, s:o, s:o}", "id",
                          (json_int_t)a->id, "name", a->name, "label", label, "version", a->version,
                          "prompt", a->prompt ? a->prompt : "", "active", a->active, "promoted",
                          a->promoted, "impressions",
                          a->impressions >= 0 ? json_real(a->impressions) : json_null(), "rewards",
                          st->pulls, "mean", st->pulls > 0 ? json_real(st->mean) : json_null(),
                          "interval", interval_json(st->mean, st->pulls), "p_best",
                          a->active && p_best ? decide_number(p_best[i]) : json_null());
    return j;
}

pb_status decide_arms_json(const struct decide_arm *arms, size_t k, enum verdict_posterior model,
                           json_t **out, char *err)
{
    struct verdict_arm *st = calloc(k ? k : 1, sizeof *st);
    double *p_best = calloc(k ? k : 1, sizeof *p_best);
    json_t *list = json_array();
    pb_status rc = PB_OK;
    *out = NULL;
    if (!st || !p_best || !list) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory describing arms");
        goto cleanup;
    }
    decide_stats(arms, k, st);
    char why[PB_ERR_LEN];
    int have_p = verdict_p_best(st, k, model, DECIDE_DRAWS, p_best, why) == PB_OK;
    for (size_t i = 0; i < k; i++) {
        if (!arms[i].active && arms[i].n <= 0)
            continue; /* a retired arm never rewarded says nothing */
        json_t *j = arm_json(arms, k, i, &st[i], have_p ? p_best : NULL);
        if (!j || json_array_append_new(list, j) != 0) {
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory describing arms");
            goto cleanup;
        }
    }
    *out = list;
    list = NULL;
cleanup:
    json_decref(list);
    free(st);
    free(p_best);
    return rc;
}

static json_t *arm_ref(const int64_t *ids, size_t i, int known)
{
    return known && i != SIZE_MAX ? json_integer(ids[i]) : json_null();
}

json_t *decide_verdict_json(const struct verdict_outcome *o, const int64_t *ids)
{
    return json_pack("{s:b, s:b, s:b, s:o, s:o, s:o, s:o, s:o, s:f, s:f, s:i}", "compared",
                     o->compared, "separated", o->separated, "enough_data", o->enough_data,
                     "leader", arm_ref(ids, o->leader, o->compared), "runner_up",
                     arm_ref(ids, o->runner_up, o->compared), "statistic",
                     o->compared ? decide_number(o->statistic) : json_null(), "threshold",
                     o->compared ? decide_number(o->threshold) : json_null(), "more_rewards",
                     o->compared ? decide_number(o->more_rewards) : json_null(), "confidence",
                     1 - o->delta, "delta", o->delta, "min_rewards", GLR_MIN_REWARDS);
}

json_t *decide_advice_json(const struct verdict_advice *adv, const int64_t *ids,
                           const char *const *seg_names, const size_t *seg_leader, size_t n_seg)
{
    static const char *const actions[] = {"no_data", "keep_exploring", "promote", "promoted",
                                          "serve_per_segment"};
    json_t *serve = json_array();
    for (size_t i = 0; serve && adv->action == VERDICT_SERVE_PER_SEGMENT && i < n_seg; i++)
        if (seg_leader[i] != SIZE_MAX)
            json_array_append_new(serve, json_pack("{s:s, s:I}", "segment", seg_names[i], "arm",
                                                   (json_int_t)ids[seg_leader[i]]));
    return json_pack("{s:s, s:o, s:o}", "action", actions[adv->action], "arm",
                     arm_ref(ids, adv->arm, 1), "serve", serve ? serve : json_array());
}

json_t *decide_series_arm_json(int64_t id, const struct decide_point *p, size_t n)
{
    json_t *share = json_array(), *rewards = json_array(), *mean = json_array(), *lo = json_array(),
           *hi = json_array(), *pb = json_array();
    for (size_t i = 0; i < n; i++) {
        double m = p[i].n > 0 ? p[i].sum / p[i].n : NAN, l = NAN, h = NAN;
        if (p[i].n > 0)
            glr_interval(m, p[i].n, GLR_REWARD_LO, GLR_REWARD_HI, DECIDE_DELTA, &l, &h);
        json_array_append_new(share, decide_number(p[i].share));
        json_array_append_new(rewards, json_real(p[i].n));
        json_array_append_new(mean, decide_number(m));
        json_array_append_new(lo, decide_number(l));
        json_array_append_new(hi, decide_number(h));
        json_array_append_new(pb, decide_number(p[i].p_best));
    }
    return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o}", "id", (json_int_t)id, "share", share,
                     "rewards", rewards, "mean", mean, "lo", lo, "hi", hi, "p_best", pb);
}
