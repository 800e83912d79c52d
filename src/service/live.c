/* live.c — per-experiment bandit state: rebuild from the store, choose, observe, snapshot. */
#include "service/live.h"

#include "store/experiment.h"
#include "store/arms.h"
#include "bandit/contextual.h"
#include "service/livefeat.h"
#include "store/impressions.h"
#include "bandit/segments.h"
#include "bandit/verdict.h"
#include "bandit/policyspec.h"
#include "service/replwm.h"

#include <gsl/gsl_rng.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const live_segment_names[LIVE_N_SEGMENTS] = {"positive", "negative", "ambiguous",
                                                         "neutral", "unknown"};

struct live_exp {
    int64_t id, promoted_arm_id;
    replwm *applied; /* the reward ids counted: a floor and the ids above it (live_set_floor) */
    char name[65];
    char policy[128];
    size_t n_arms;
    int64_t *arm_ids;
    char (*arm_names)[17];
    char **prompts;
    uint64_t *segment_pulls; /* n_seg of the live */
    segments *seg;
    contextual *ctx; /* linucb / lints experiments: it chooses; seg keeps the statistics */
};

struct live {
    pthread_mutex_t mu;
    gsl_rng *rng;
    long min_pulls;
    char **seg_names;
    size_t n_seg;
    struct live_exp **exps;
    size_t n_exps;
    /* < 0: one writer (ids commit in order): a rebuild counts every id up to the highest it
     * read. >= 0 (replicas, live_set_floor): ids at or below it are settled; above it each
     * counted id is remembered. */
    int64_t floor;
};

const char *live_segment_of(const char *group)
{
    for (size_t i = 0; group && i < LIVE_N_SEGMENTS; i++)
        if (strcmp(group, live_segment_names[i]) == 0)
            return live_segment_names[i];
    return live_segment_names[LIVE_N_SEGMENTS - 1];
}

/* Index of a segment name; anything unknown goes to the last segment. */
static size_t segment_index(const live *l, const char *name)
{
    for (size_t i = 0; name && i < l->n_seg; i++)
        if (strcmp(name, l->seg_names[i]) == 0)
            return i;
    return l->n_seg - 1;
}

size_t live_segment_count(const live *l)
{
    return l->n_seg;
}

const char *live_segment_name(const live *l, size_t i)
{
    return i < l->n_seg ? l->seg_names[i] : NULL;
}

pb_status live_new(unsigned long seed, long segment_min_pulls, live **out, char *err)
{
    return live_new_segments(seed, segment_min_pulls, live_segment_names, LIVE_N_SEGMENTS, out,
                             err);
}

pb_status live_new_segments(unsigned long seed, long segment_min_pulls, const char *const *names,
                            size_t n_names, live **out, char *err)
{
    if (n_names < 1 || n_names > 100000)
        return pb_errf(err, PB_ERR_INVALID, "%zu segments: expected 1 to 100000", n_names);
    live *l = calloc(1, sizeof *l);
    if (!l || !(l->seg_names = calloc(n_names, sizeof *l->seg_names)) ||
        !(l->rng = gsl_rng_alloc(gsl_rng_mt19937))) {
        if (l)
            free(l->seg_names);
        free(l);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory creating the live bandit state");
    }
    pthread_mutex_init(&l->mu, NULL);
    for (; l->n_seg < n_names; l->n_seg++)
        if (!(l->seg_names[l->n_seg] = strdup(names[l->n_seg]))) {
            live_free(l);
            return pb_errf(err, PB_ERR_NOMEM, "out of memory creating the live bandit state");
        }
    gsl_rng_set(l->rng, seed ? seed : (unsigned long)time(NULL) ^ (unsigned long)clock());
    l->min_pulls = segment_min_pulls;
    l->floor = -1;
    *out = l;
    return PB_OK;
}

static void exp_free(struct live_exp *e)
{
    if (!e)
        return;
    segments_free(e->seg);
    contextual_free(e->ctx);
    replwm_free(e->applied);
    free(e->segment_pulls);
    for (size_t i = 0; e->prompts && i < e->n_arms; i++)
        free(e->prompts[i]);
    free(e->prompts);
    free(e->arm_names);
    free(e->arm_ids);
    free(e);
}

void live_free(live *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n_exps; i++)
        exp_free(l->exps[i]);
    free(l->exps);
    for (size_t i = 0; i < l->n_seg; i++)
        free(l->seg_names[i]);
    free(l->seg_names);
    gsl_rng_free(l->rng);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* The policy spec of a stored experiment: "name" plus params JSON as key=value pairs. */
static pb_status policy_spec(const struct store_experiment *e, char *buf, size_t len, char *err)
{
    int used = snprintf(buf, len, "%s", e->policy && *e->policy ? e->policy : "ucb1");
    json_t *params = e->policy_params ? json_loads(e->policy_params, 0, NULL) : NULL;
    const char *key;
    json_t *v;
    char sep = strchr(buf, ':') ? ',' : ':';
    json_object_foreach(params, key, v)
    {
        if (json_is_number(v))
            used += snprintf(buf + used, len - (size_t)used, "%c%s=%.17g", sep, key,
                             json_number_value(v));
        else if (json_is_string(v))
            used +=
                snprintf(buf + used, len - (size_t)used, "%c%s=%s", sep, key, json_string_value(v));
        sep = ',';
        if ((size_t)used >= len)
            break;
    }
    json_decref(params);
    if ((size_t)used >= len)
        return pb_errf(err, PB_ERR_INVALID, "experiment %s: policy spec too long", e->name);
    return PB_OK;
}

static int arm_index(const struct live_exp *e, int64_t arm_id, size_t *idx)
{
    for (size_t i = 0; i < e->n_arms; i++)
        if (e->arm_ids[i] == arm_id) {
            *idx = i;
            return 1;
        }
    return 0;
}

struct rebuild_ctx {
    const live *l;
    struct live_exp *e;
};

static int rebuild_reward(void *ctx, const struct impressions_reward_row *row)
{
    const struct rebuild_ctx *rc = ctx;
    struct live_exp *e = rc->e;
    size_t arm, seg = segment_index(rc->l, row->segment);
    char why[PB_ERR_LEN];
    if (!arm_index(e, row->arm_id, &arm))
        return 0;
    if (segments_observe(e->seg, seg, arm, row->value, why) == PB_OK)
        e->segment_pulls[seg]++;
    if (e->ctx && row->features)
        contextual_observe(e->ctx, arm, row->features, row->value, why);
    if (rc->l->floor < 0)
        replwm_raise(e->applied, row->reward_id);
    else if (replwm_see(e->applied, row->reward_id, 0) < 0)
        return PB_ERR_NOMEM;
    return 0;
}

/* Builds a fresh state for the active experiment `name` from the store. */
static pb_status exp_build(live *l, store *s, const char *name, struct live_exp **out, char *err)
{
    struct store_experiment se = {0};
    struct arm *arms = NULL;
    size_t n = 0;
    bandit_policy policy;
    struct live_exp *e = calloc(1, sizeof *e);
    pb_status rc = e ? PB_OK : pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc == PB_OK)
        rc = store_experiment_get(s, name, &se, err);
    if (rc == PB_OK)
        rc = policy_spec(&se, e->policy, sizeof e->policy, err);
    int linear =
        rc == PB_OK && (!strncmp(e->policy, "linucb", 6) || !strncmp(e->policy, "lints", 5));
    contextual_policy cpol;
    if (rc == PB_OK && linear)
        rc = contextual_policy_parse(e->policy, &cpol, err);
    /* A contextual experiment keeps context-free bandits too, for the statistics views. */
    if (rc == PB_OK)
        rc = policyspec_parse(linear ? "ucb1" : e->policy, &policy, err);
    if (rc == PB_OK)
        rc = arms_list(s, se.id, 1, &arms, &n, err);
    if (rc == PB_OK && (!(e->arm_ids = calloc(n ? n : 1, sizeof *e->arm_ids)) ||
                        !(e->arm_names = calloc(n ? n : 1, sizeof *e->arm_names)) ||
                        !(e->prompts = calloc(n ? n : 1, sizeof *e->prompts))))
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    else if (rc == PB_OK)
        e->n_arms = n;
    if (rc == PB_OK && !(e->applied = replwm_new(l->floor < 0 ? 0 : l->floor)))
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc == PB_OK && !(e->segment_pulls = calloc(l->n_seg, sizeof *e->segment_pulls)))
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc == PB_OK)
        rc = segments_new(&policy, n, l->n_seg, l->min_pulls, &e->seg, err);
    if (rc == PB_OK && linear)
        rc = contextual_new(&cpol, n, FEATVEC_DIM, &e->ctx, err);
    for (size_t i = 0; rc == PB_OK && i < n; i++) {
        e->arm_ids[i] = arms[i].id;
        snprintf(e->arm_names[i], sizeof e->arm_names[i], "%s", arms[i].name);
        if (!(e->prompts[i] = strdup(arms[i].prompt)))
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        else if (arms[i].retired_at > 0 && (rc = segments_set_active(e->seg, i, 0, err)) == PB_OK &&
                 e->ctx)
            rc = contextual_set_active(e->ctx, i, 0, err);
    }
    if (rc == PB_OK) {
        e->id = se.id;
        e->promoted_arm_id = se.promoted_arm_id;
        snprintf(e->name, sizeof e->name, "%s", se.name);
        struct rebuild_ctx ctx = {l, e};
        rc = impressions_reward_foreach(s, se.id, rebuild_reward, &ctx, err);
        if (rc == PB_ERR_NOMEM)
            pb_errf(err, rc, "out of memory");
    }
    arms_list_free(arms, n);
    store_experiment_clear(&se);
    if (rc != PB_OK) {
        exp_free(e);
        return rc;
    }
    if (!e->ctx)
        policyspec_format(&policy, e->policy, sizeof e->policy);
    *out = e;
    return PB_OK;
}

static struct live_exp *find_by_name(live *l, const char *name, size_t *pos)
{
    for (size_t i = 0; i < l->n_exps; i++)
        if (strcmp(l->exps[i]->name, name) == 0) {
            if (pos)
                *pos = i;
            return l->exps[i];
        }
    return NULL;
}

/* Replaces (or adds) the state of e->name; call with the mutex held. */
static pb_status install(live *l, struct live_exp *e, char *err)
{
    size_t pos;
    if (find_by_name(l, e->name, &pos)) {
        exp_free(l->exps[pos]);
        l->exps[pos] = e;
        return PB_OK;
    }
    struct live_exp **grown = realloc(l->exps, (l->n_exps + 1) * sizeof *grown);
    if (!grown) {
        exp_free(e);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    l->exps = grown;
    l->exps[l->n_exps++] = e;
    return PB_OK;
}

/* The loaded state of name, building it from s when absent; mutex held. */
static pb_status get_loaded(live *l, store *s, const char *name, struct live_exp **out, char *err)
{
    struct live_exp *e = find_by_name(l, name, NULL);
    pb_status rc = PB_OK;
    if (!e) {
        if (!s)
            return pb_errf(err, PB_ERR_NOT_FOUND, "experiment %s is not loaded", name);
        if ((rc = exp_build(l, s, name, &e, err)) == PB_OK)
            rc = install(l, e, err);
    }
    if (rc == PB_OK)
        *out = e;
    return rc;
}

pb_status live_reload(live *l, store *s, const char *name, char *err)
{
    struct live_exp *e = NULL;
    pthread_mutex_lock(&l->mu);
    pb_status rc = exp_build(l, s, name, &e, err);
    if (rc == PB_OK)
        rc = install(l, e, err);
    pthread_mutex_unlock(&l->mu);
    return rc;
}

void live_choice_clear(struct live_choice *c)
{
    free(c->prompt);
    c->prompt = NULL;
}

/* Fills the choice for arm index i; mutex held. */
static pb_status choice_fill(const struct live_exp *e, size_t i, struct live_choice *out, char *err)
{
    out->arm_id = e->arm_ids[i];
    snprintf(out->arm_name, sizeof out->arm_name, "%s", e->arm_names[i]);
    if (!(out->prompt = strdup(e->prompts[i])))
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    return PB_OK;
}

static pb_status choose_locked(live *l, struct live_exp *e, const char *segment, const double *x,
                               int64_t prefer, struct live_choice *out, char *err)
{
    size_t arm;
    bandit_arm_stats st;
    int64_t fixed = e->promoted_arm_id > 0 ? e->promoted_arm_id : prefer;
    out->experiment_id = e->id;
    if (fixed > 0 && arm_index(e, fixed, &arm) &&
        bandit_get_arm_stats(segments_global(e->seg), arm, &st, err) == PB_OK && st.active) {
        out->propensity = 1;
        out->promoted = e->promoted_arm_id > 0;
        out->kept = !out->promoted;
        return choice_fill(e, arm, out, err);
    }
    double dflt[FEATVEC_DIM];
    if (e->ctx && !x) { /* no turn to describe: the bias and the hour only */
        livefeat_build(NULL, 0, 0, pb_now_wall(), dflt);
        x = dflt;
    }
    out->contextual = e->ctx != NULL;
    pb_status rc = e->ctx ? contextual_select(e->ctx, x, l->rng, &arm, &out->propensity, err)
                          : segments_select(e->seg, segment_index(l, segment), l->rng, &arm,
                                            &out->propensity, &out->from_global, err);
    if (rc == PB_ERR_CONFLICT)
        return pb_errf(err, PB_ERR_CONFLICT, "experiment %s has no active arm", e->name);
    return rc == PB_OK ? choice_fill(e, arm, out, err) : rc;
}

pb_status live_choose(live *l, store *s, const char *name, const char *segment,
                      const double *features, int64_t prefer_arm_id, struct live_choice *out,
                      char *err)
{
    struct live_exp *e;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&l->mu);
    pb_status rc = get_loaded(l, s, name, &e, err);
    if (rc == PB_OK)
        rc = choose_locked(l, e, segment, features, prefer_arm_id, out, err);
    pthread_mutex_unlock(&l->mu);
    if (rc != PB_OK)
        live_choice_clear(out);
    return rc;
}

pb_status live_apply(live *l, int64_t experiment_id, int64_t reward_id, int64_t arm_id,
                     const char *segment, const double *features, double reward, int *applied,
                     char *err)
{
    pb_status rc = PB_OK;
    *applied = 0;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < l->n_exps; i++) {
        struct live_exp *e = l->exps[i];
        size_t arm, seg = segment_index(l, segment);
        if (e->id != experiment_id || replwm_has(e->applied, reward_id))
            continue;
        if (!arm_index(e, arm_id, &arm)) {
            /* An arm added behind our back (CLI, another replica): rebuild on next use. */
            exp_free(e);
            l->exps[i] = l->exps[--l->n_exps];
            break;
        }
        if (l->floor >= 0 && replwm_see(e->applied, reward_id, 0) < 0) {
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
            break;
        }
        if (l->floor < 0)
            replwm_raise(e->applied, reward_id);
        if ((rc = segments_observe(e->seg, seg, arm, reward, err)) == PB_OK) {
            e->segment_pulls[seg]++;
            *applied = 1;
            if (e->ctx && features)
                rc = contextual_observe(e->ctx, arm, features, reward, err);
        }
        break;
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

pb_status live_observe(live *l, int64_t experiment_id, int64_t reward_id, int64_t arm_id,
                       const char *segment, const double *features, double reward, char *err)
{
    int applied;
    return live_apply(l, experiment_id, reward_id, arm_id, segment, features, reward, &applied,
                      err);
}

void live_set_floor(live *l, int64_t floor)
{
    pthread_mutex_lock(&l->mu);
    if (floor > l->floor) {
        l->floor = floor;
        for (size_t i = 0; i < l->n_exps; i++)
            replwm_raise(l->exps[i]->applied, floor);
    }
    pthread_mutex_unlock(&l->mu);
}

void live_forget(live *l, const char *name)
{
    size_t pos;
    pthread_mutex_lock(&l->mu);
    if (find_by_name(l, name, &pos)) {
        exp_free(l->exps[pos]);
        l->exps[pos] = l->exps[--l->n_exps];
    }
    pthread_mutex_unlock(&l->mu);
}

int live_counted(live *l, int64_t experiment_id, int64_t reward_id)
{
    int counted = 1;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < l->n_exps; i++)
        if (l->exps[i]->id == experiment_id) {
            counted = replwm_has(l->exps[i]->applied, reward_id);
            break;
        }
    pthread_mutex_unlock(&l->mu);
    return counted;
}

size_t live_pending_ids(live *l)
{
    size_t n = 0;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < l->n_exps; i++)
        n += replwm_pending(l->exps[i]->applied);
    pthread_mutex_unlock(&l->mu);
    return n;
}

static pb_status fill_snapshot(live *l, const struct live_exp *e, const char *segment, long draws,
                               struct live_snapshot *out, char *err)
{
    const bandit *b =
        segment ? segments_get(e->seg, segment_index(l, segment)) : segments_global(e->seg);
    out->experiment_id = e->id;
    out->promoted_arm_id = e->promoted_arm_id;
    snprintf(out->policy, sizeof out->policy, "%s", e->policy);
    out->n_arms = e->n_arms;
    out->arms = calloc(e->n_arms ? e->n_arms : 1, sizeof *out->arms);
    out->segment_pulls = calloc(l->n_seg, sizeof *out->segment_pulls);
    double *pb = calloc(e->n_arms ? e->n_arms : 1, sizeof *pb);
    if (!out->arms || !pb || !out->segment_pulls) {
        free(pb);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    out->n_segments = l->n_seg;
    memcpy(out->segment_pulls, e->segment_pulls, l->n_seg * sizeof *out->segment_pulls);
    if (b && bandit_active_count(b) > 0 && verdict_prob_best(b, l->rng, draws, pb, err) != PB_OK)
        memset(pb, 0, e->n_arms * sizeof *pb);
    const bandit *g = segments_global(e->seg);
    for (size_t i = 0; i < e->n_arms; i++) {
        bandit_arm_stats st = {0};
        struct live_arm *a = &out->arms[i];
        a->arm_id = e->arm_ids[i];
        if (b)
            bandit_get_arm_stats(b, i, &st, err);
        bandit_arm_stats gs = {0};
        bandit_get_arm_stats(g, i, &gs, err);
        a->active = gs.active;
        a->pulls = st.pulls;
        a->mean = st.mean;
        a->ci_low = st.ci_low;
        a->ci_high = st.ci_high;
        a->p_best = pb[i];
        out->total_pulls += st.pulls;
    }
    free(pb);
    return PB_OK;
}

pb_status live_snapshot_get(live *l, store *s, const char *name, const char *segment, long draws,
                            struct live_snapshot *out, char *err)
{
    struct live_exp *e;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&l->mu);
    pb_status rc = get_loaded(l, s, name, &e, err);
    if (rc == PB_OK)
        rc = fill_snapshot(l, e, segment, draws < 1 ? 1 : draws, out, err);
    pthread_mutex_unlock(&l->mu);
    if (rc != PB_OK)
        live_snapshot_clear(out);
    return rc;
}

void live_snapshot_clear(struct live_snapshot *snap)
{
    free(snap->arms);
    free(snap->segment_pulls);
    snap->arms = NULL;
    snap->segment_pulls = NULL;
    snap->n_arms = snap->n_segments = 0;
}
