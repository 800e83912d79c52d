/* ctxsim.c — contextual simulation runs, regret summaries and the JSON report. Owns the
 * per-run RNG streams: contexts (stream 0), the policy (1), and one reward stream per
 * (segment, arm) (2 + s*K + a), all seeded by sim_seed_stream. Must not read files or print. */
#include "sim/ctxsim.h"

#include "base/pb.h"

#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void ctxsim_result_free(ctxsim_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; r->policies && i < r->n_policies; i++) {
        free(r->policies[i].regret);
        free(r->policies[i].late_optimal);
    }
    free(r->policies);
    free(r->checkpoints);
    free(r);
}

static pb_status result_alloc(const sim_options *opt, const ctxpolicy_spec *policies, size_t n,
                              ctxsim_result **out, char *err)
{
    ctxsim_result *r = calloc(1, sizeof *r);
    if (!r)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    r->reps = opt->reps;
    r->checkpoints = sim_checkpoints_new(opt, &r->n_checkpoints);
    r->policies = calloc(n, sizeof *r->policies);
    int ok = r->checkpoints && r->policies;
    if (r->policies)
        r->n_policies = n;
    for (size_t p = 0; ok && p < n; p++) {
        r->policies[p].policy = policies[p];
        r->policies[p].regret = calloc((size_t)opt->reps * r->n_checkpoints, sizeof(double));
        r->policies[p].late_optimal = calloc((size_t)opt->reps, sizeof(double));
        ok = r->policies[p].regret && r->policies[p].late_optimal;
    }
    if (!ok) {
        ctxsim_result_free(r);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory for %ld runs", opt->reps);
    }
    *out = r;
    return PB_OK;
}

struct run_ctx {
    const ctxworld *w;
    size_t dim;
    double gap[CTXWORLD_MAX_SEGMENTS][CTXWORLD_MAX_ARMS]; /* best mean - arm mean */
    gsl_rng *context_rng, *policy_rng;
    gsl_rng **reward_rng; /* n_segments x n_arms */
    const char *names[CTXWORLD_MAX_ARMS];
};

static void seed_run(struct run_ctx *c, uint64_t seed, long rep)
{
    size_t cells = c->w->n_segments * c->w->n_arms;
    gsl_rng_set(c->context_rng, sim_seed_stream(seed, (uint64_t)rep, 0));
    gsl_rng_set(c->policy_rng, sim_seed_stream(seed, (uint64_t)rep, 1));
    for (size_t i = 0; i < cells; i++)
        gsl_rng_set(c->reward_rng[i], sim_seed_stream(seed, (uint64_t)rep, 2 + i));
}

/* One run of one policy: regret at each checkpoint into row, late optimal share into *late. */
static pb_status run_once(struct run_ctx *c, const ctxpolicy_spec *spec, const ctxsim_result *r,
                          long horizon, double *row, double *late, char *err)
{
    const ctxworld *w = c->w;
    ctxpolicy *p = NULL;
    ctxworld_context ctx;
    size_t next = 0, arm;
    long late_from = horizon - horizon / 10, optimal = 0;
    double regret = 0;
    pb_status rc = ctxpolicy_new(spec, w->n_arms, c->dim, w->n_segments, c->names, &p, err);
    for (long t = 1; t <= horizon && rc == PB_OK; t++) {
        ctxworld_draw_context(w, c->context_rng, &ctx);
        rc = ctxpolicy_select(p, ctx.x, ctx.observed, c->policy_rng, &arm, NULL, err);
        if (rc != PB_OK)
            break;
        gsl_rng *rr = c->reward_rng[ctx.segment * w->n_arms + arm];
        rc = ctxpolicy_observe(p, ctx.x, ctx.observed, arm,
                               ctxworld_draw_reward(w, ctx.segment, arm, rr), err);
        double g = c->gap[ctx.segment][arm];
        regret += g;
        optimal += t > late_from && g <= 1e-12;
        if (t == r->checkpoints[next])
            row[next++] = regret;
    }
    *late = (double)optimal / (double)(horizon - late_from > 0 ? horizon - late_from : 1);
    ctxpolicy_free(p);
    return rc;
}

static pb_status ctx_alloc(struct run_ctx *c, const ctxworld *w, char *err)
{
    size_t cells = w->n_segments * w->n_arms;
    c->w = w;
    c->dim = ctxworld_dim(w);
    for (size_t s = 0; s < w->n_segments; s++) {
        double best = ctxworld_expected(w, s, ctxworld_best_arm(w, s));
        for (size_t a = 0; a < w->n_arms; a++)
            c->gap[s][a] = best - ctxworld_expected(w, s, a);
    }
    for (size_t a = 0; a < w->n_arms; a++)
        c->names[a] = w->arm_name[a];
    c->context_rng = gsl_rng_alloc(gsl_rng_mt19937);
    c->policy_rng = gsl_rng_alloc(gsl_rng_mt19937);
    c->reward_rng = calloc(cells, sizeof *c->reward_rng);
    int ok = c->context_rng && c->policy_rng && c->reward_rng;
    for (size_t i = 0; ok && i < cells; i++)
        ok = (c->reward_rng[i] = gsl_rng_alloc(gsl_rng_mt19937)) != NULL;
    return ok ? PB_OK : pb_errf(err, PB_ERR_NOMEM, "out of memory");
}

static void ctx_release(struct run_ctx *c)
{
    size_t cells = c->w->n_segments * c->w->n_arms;
    for (size_t i = 0; c->reward_rng && i < cells; i++)
        if (c->reward_rng[i])
            gsl_rng_free(c->reward_rng[i]);
    free(c->reward_rng);
    if (c->context_rng)
        gsl_rng_free(c->context_rng);
    if (c->policy_rng)
        gsl_rng_free(c->policy_rng);
}

pb_status ctxsim_run(const ctxworld *w, const ctxpolicy_spec *policies, size_t n_policies,
                     const sim_options *opt, sim_progress_fn progress, void *user,
                     ctxsim_result **out, char *err)
{
    struct run_ctx c;
    ctxsim_result *r = NULL;
    ctxpolicy *probe = NULL;
    memset(&c, 0, sizeof c);
    *out = NULL;
    const char *names[CTXWORLD_MAX_ARMS];
    for (size_t a = 0; a < w->n_arms; a++)
        names[a] = w->arm_name[a];
    pb_status rc = sim_options_check(opt, n_policies, err);
    for (size_t p = 0; p < n_policies && rc == PB_OK; p++) { /* fail before any long run */
        rc = ctxpolicy_new(&policies[p], w->n_arms, ctxworld_dim(w), w->n_segments, names, &probe,
                           err);
        ctxpolicy_free(probe);
        probe = NULL;
    }
    if (rc != PB_OK)
        return rc;
    rc = result_alloc(opt, policies, n_policies, &r, err);
    if (rc == PB_OK)
        rc = ctx_alloc(&c, w, err);
    for (size_t p = 0; p < n_policies && rc == PB_OK; p++) {
        ctxsim_policy_result *pr = &r->policies[p];
        for (long rep = 0; rep < opt->reps && rc == PB_OK; rep++) {
            seed_run(&c, opt->seed, rep);
            rc = run_once(&c, &policies[p], r, opt->horizon,
                          pr->regret + (size_t)rep * r->n_checkpoints, &pr->late_optimal[rep], err);
            if (progress)
                progress(user, p, rep + 1, opt->reps);
        }
    }
    if (c.w)
        ctx_release(&c);
    if (rc == PB_OK)
        *out = r;
    else
        ctxsim_result_free(r);
    return rc;
}

pb_status ctxsim_summarize(const ctxsim_result *r, size_t policy, size_t checkpoint,
                           sim_summary *out, char *err)
{
    if (policy >= r->n_policies || checkpoint >= r->n_checkpoints)
        return pb_errf(err, PB_ERR_INVALID, "no such policy or checkpoint");
    return sim_summarize_column(r->policies[policy].regret, r->reps, r->n_checkpoints, checkpoint,
                                out, err);
}

double ctxsim_late_optimal(const ctxsim_result *r, size_t policy)
{
    return gsl_stats_mean(r->policies[policy].late_optimal, 1, (size_t)r->reps);
}

double ctxsim_fixed_arm_regret(const ctxworld *w, long t)
{
    return (double)t *
           (ctxworld_oracle_value(w) - ctxworld_arm_value(w, ctxworld_best_fixed_arm(w)));
}

size_t ctxsim_best_global(const ctxsim_result *r)
{
    size_t best = SIZE_MAX;
    double best_regret = INFINITY;
    for (size_t p = 0; p < r->n_policies; p++) {
        sim_summary s;
        if (r->policies[p].policy.kind != CTXPOLICY_GLOBAL ||
            ctxsim_summarize(r, p, r->n_checkpoints - 1, &s, NULL) != PB_OK)
            continue;
        if (s.mean < best_regret)
            best_regret = s.mean, best = p;
    }
    return best;
}

/* ---- report ---------------------------------------------------------------------------- */

static const char *reward_name(ctxworld_reward r)
{
    return r == CTXWORLD_DISCRETE ? "discrete" : r == CTXWORLD_BERNOULLI ? "bernoulli" : "gaussian";
}

json_t *ctxsim_world_json(const ctxworld *w)
{
    json_t *segs = json_array(), *arms = json_array();
    for (size_t s = 0; segs && s < w->n_segments; s++) {
        json_t *means = json_array();
        for (size_t a = 0; means && a < w->n_arms; a++)
            json_array_append_new(means, json_real(ctxworld_expected(w, s, a)));
        json_array_append_new(segs, json_pack("{s:s, s:f, s:o, s:s}", "name", w->segment_name[s],
                                              "freq", w->freq[s], "means", means, "best_arm",
                                              w->arm_name[ctxworld_best_arm(w, s)]));
    }
    for (size_t a = 0; arms && a < w->n_arms; a++)
        json_array_append_new(arms, json_pack("{s:s, s:f}", "name", w->arm_name[a], "value",
                                              ctxworld_arm_value(w, a)));
    size_t fixed = ctxworld_best_fixed_arm(w);
    return json_pack("{s:o, s:o, s:s, s:f, s:f, s:b, s:I, s:f, s:s, s:f}", "segments", segs, "arms",
                     arms, "reward", reward_name(w->reward), "sd", w->sd, "noise", w->noise,
                     "extra_features", w->extras, "dim", (json_int_t)ctxworld_dim(w),
                     "oracle_value", ctxworld_oracle_value(w), "best_fixed_arm", w->arm_name[fixed],
                     "best_fixed_value", ctxworld_arm_value(w, fixed));
}

static json_t *curve_json(const ctxworld *w, const ctxsim_result *r, size_t p)
{
    json_t *curve = json_array();
    for (size_t k = 0; curve && k < r->n_checkpoints; k++) {
        sim_summary s;
        json_t *o = ctxsim_summarize(r, p, k, &s, NULL) == PB_OK ? sim_summary_json(&s) : NULL;
        if (o) {
            json_object_set_new(o, "t", json_integer(r->checkpoints[k]));
            json_object_set_new(o, "fixed_arm_regret",
                                json_real(ctxsim_fixed_arm_regret(w, r->checkpoints[k])));
        }
        if (!o || json_array_append_new(curve, o) != 0) {
            json_decref(curve);
            return NULL;
        }
    }
    return curve;
}

static json_t *policy_json(const ctxworld *w, const ctxsim_result *r, size_t p, long horizon,
                           int with_curves)
{
    static const char *const kinds[] = {"global", "segmented", "linear", "fixed"};
    sim_summary s;
    if (ctxsim_summarize(r, p, r->n_checkpoints - 1, &s, NULL) != PB_OK)
        return NULL;
    const ctxpolicy_spec *spec = &r->policies[p].policy;
    json_t *o = json_pack("{s:s, s:s, s:o, s:f, s:f}", "policy", spec->spec, "kind",
                          kinds[spec->kind], "regret", sim_summary_json(&s),
                          "regret_minus_fixed_arm", s.mean - ctxsim_fixed_arm_regret(w, horizon),
                          "late_optimal_share", ctxsim_late_optimal(r, p));
    if (o && with_curves && json_object_set_new(o, "checkpoints", curve_json(w, r, p)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *ctxsim_report_json(const ctxworld *w, const sim_options *opt, const ctxsim_result *r,
                           int with_curves)
{
    size_t bg = ctxsim_best_global(r);
    json_t *root = json_pack(
        "{s:o, s:I, s:I, s:I, s:s, s:f, s:o}", "world", ctxsim_world_json(w), "horizon",
        (json_int_t)opt->horizon, "reps", (json_int_t)opt->reps, "seed", (json_int_t)opt->seed,
        "regret_against", "contextual oracle (best arm of each round's true segment)",
        "fixed_arm_regret", ctxsim_fixed_arm_regret(w, opt->horizon), "best_global_policy",
        bg == SIZE_MAX ? json_null() : json_string(r->policies[bg].policy.spec));
    json_t *list = json_array();
    if (!root || !list || json_object_set_new(root, "policies", list) != 0)
        goto fail;
    for (size_t p = 0; p < r->n_policies; p++)
        if (json_array_append_new(list, policy_json(w, r, p, opt->horizon, with_curves)) != 0)
            goto fail;
    return root;
fail:
    json_decref(root);
    return NULL;
}
