/* sim.c — repeated bandit runs on simulated arms (simarm.c) with common random numbers, regret
 * summaries and the JSON report. Owns the per-run RNG streams (one per arm plus one for the
 * policy, all derived from the seed). Must not read files or print: the CLI does that. */
#include "sim/sim.h"

#include "bandit/bandit.h"
#include "bandit/policyspec.h"
#include "base/pb.h"
#include "sim/simarm.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdlib.h>

/* ---- runs ------------------------------------------------------------------------------ */

/* splitmix64: decorrelates (seed, run, stream) into one RNG seed. */
unsigned long sim_seed_stream(uint64_t seed, uint64_t run, uint64_t stream)
{
    uint64_t z = seed * 0x9E3779B97F4A7C15ull ^ (run + 1) * 0xBF58476D1CE4E5B9ull ^
                 (stream + 1) * 0x94D049BB133111EBull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (unsigned long)(z ^ (z >> 31));
}

void sim_result_free(sim_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_policies; i++)
        free(r->policies[i].regret);
    free(r->policies);
    free(r->checkpoints);
    free(r);
}

pb_status sim_options_check(const sim_options *opt, size_t n_policies, char *err)
{
    if (opt->horizon < 1)
        return pb_errf(err, PB_ERR_INVALID, "horizon must be at least 1, got %ld", opt->horizon);
    if (opt->reps < 1)
        return pb_errf(err, PB_ERR_INVALID, "reps must be at least 1, got %ld", opt->reps);
    if (n_policies == 0)
        return pb_errf(err, PB_ERR_INVALID, "no policy to simulate");
    for (size_t i = 0; i < opt->n_checkpoints; i++) {
        long t = opt->checkpoints[i];
        if (t < 1 || t > opt->horizon || (i > 0 && t <= opt->checkpoints[i - 1]))
            return pb_errf(err, PB_ERR_INVALID,
                           "checkpoints must increase and lie in [1, horizon=%ld]; got %ld",
                           opt->horizon, t);
    }
    if (opt->delay < 0)
        return pb_errf(err, PB_ERR_INVALID, "delay must be at least 1, got %ld", opt->delay);
    if (!(opt->churn >= 0 && opt->churn <= 1))
        return pb_errf(err, PB_ERR_INVALID, "churn must be a probability in [0, 1], got %g",
                       opt->churn);
    if ((opt->churn > 0 || opt->arms_from_prior) &&
        !(opt->prior_a > 0 && opt->prior_b > 0 && isfinite(opt->prior_a) && isfinite(opt->prior_b)))
        return pb_errf(err, PB_ERR_INVALID,
                       "the new-arm prior beta:%g,%g needs two finite parameters > 0", opt->prior_a,
                       opt->prior_b);
    return PB_OK;
}

long *sim_checkpoints_new(const sim_options *opt, size_t *n)
{
    size_t nc = opt->n_checkpoints;
    if (nc == 0 || opt->checkpoints[nc - 1] != opt->horizon)
        nc++;
    long *t = calloc(nc, sizeof *t);
    if (!t)
        return NULL;
    for (size_t i = 0; i < opt->n_checkpoints; i++)
        t[i] = opt->checkpoints[i];
    t[nc - 1] = opt->horizon;
    *n = nc;
    return t;
}

static pb_status result_alloc(const sim_options *opt, const bandit_policy *policies,
                              size_t n_policies, sim_result **out, char *err)
{
    sim_result *r = calloc(1, sizeof *r);
    if (!r)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    r->reps = opt->reps;
    r->checkpoints = sim_checkpoints_new(opt, &r->n_checkpoints);
    r->policies = calloc(n_policies, sizeof *r->policies);
    if (!r->checkpoints || !r->policies)
        goto fail;
    r->n_policies = n_policies;
    for (size_t p = 0; p < n_policies; p++) {
        r->policies[p].policy = policies[p];
        r->policies[p].regret = calloc((size_t)opt->reps * r->n_checkpoints, sizeof(double));
        if (!r->policies[p].regret)
            goto fail;
    }
    *out = r;
    return PB_OK;
fail:
    sim_result_free(r);
    return pb_errf(err, PB_ERR_NOMEM, "out of memory for %ld runs", opt->reps);
}

/* The stream of churn events and prior draws: far above the arm streams (1..n_arms). */
#define SIM_STREAM_CHURN ((uint64_t)1 << 40)

/* One reward on its way to the policy: it counts only if its arm was not replaced since. */
struct pending {
    size_t arm;
    double reward;
    uint64_t generation;
};

struct run_ctx {
    const sim_options *opt;
    size_t n_arms;
    sim_arm *arms;          /* this run's arms (churn replaces them) */
    double *gap;            /* best mean - arm mean, kept current */
    uint64_t *generation;   /* per arm, how many times it was replaced */
    uint64_t *seen_success; /* per arm, rewards +1 / -1 the policy observed from the current */
    uint64_t *seen_failure; /* arm, so that they can be forgotten when it is replaced */
    int *stale;             /* per arm: replaced since the last delivery, the policy not told */
    struct pending *queue;  /* rewards not yet delivered, at most delay */
    size_t queued;
    gsl_rng **arm_rng; /* one stream per arm, so a policy's k-th pull of an arm is the same */
    gsl_rng *policy_rng;
    gsl_rng *churn_rng; /* churn events and new means, the same for every policy */
};

static void update_gaps(struct run_ctx *c)
{
    double best = -INFINITY;
    for (size_t i = 0; i < c->n_arms; i++)
        best = fmax(best, sim_arm_mean(&c->arms[i]));
    for (size_t i = 0; i < c->n_arms; i++)
        c->gap[i] = best - sim_arm_mean(&c->arms[i]);
}

/* The policy forgets every reward it saw of arm i (the arm was replaced). */
static pb_status forget_arm(struct run_ctx *c, bandit *b, size_t i, char *err)
{
    pb_status rc = PB_OK;
    for (; c->seen_success[i] > 0 && rc == PB_OK; c->seen_success[i]--)
        rc = bandit_forget(b, i, 1.0, err);
    for (; c->seen_failure[i] > 0 && rc == PB_OK; c->seen_failure[i]--)
        rc = bandit_forget(b, i, -1.0, err);
    c->stale[i] = 0;
    return rc;
}

/* Hands the queued rewards to the policy, dropping those of arms replaced since; with
 * churn_seen_at_delivery the policy first learns which arms were replaced. */
static pb_status deliver(struct run_ctx *c, bandit *b, char *err)
{
    for (size_t i = 0; c->opt->churn_seen_at_delivery && i < c->n_arms; i++)
        if (c->stale[i]) {
            pb_status rc = forget_arm(c, b, i, err);
            if (rc != PB_OK)
                return rc;
        }
    for (size_t k = 0; k < c->queued; k++) {
        const struct pending *q = &c->queue[k];
        if (q->generation != c->generation[q->arm])
            continue;
        pb_status rc = bandit_observe(b, q->arm, q->reward, err);
        if (rc != PB_OK)
            return rc;
        if (q->reward > 0)
            c->seen_success[q->arm]++;
        else
            c->seen_failure[q->arm]++;
    }
    c->queued = 0;
    return PB_OK;
}

/* Replaces arm i by a new Bernoulli arm from the prior: the policy forgets what it saw of the
 * old one (it is a new prompt in the same slot), at once or at the next delivery. */
static pb_status replace_arm(struct run_ctx *c, bandit *b, size_t i, char *err)
{
    pb_status rc = PB_OK;
    if (c->opt->churn_seen_at_delivery)
        c->stale[i] = 1;
    else
        rc = forget_arm(c, b, i, err);
    c->arms[i].p = gsl_ran_beta(c->churn_rng, c->opt->prior_a, c->opt->prior_b);
    c->generation[i]++;
    update_gaps(c);
    return rc;
}

/* One play at time t: maybe churn, choose, queue the reward, deliver every delay plays. */
static pb_status play(struct run_ctx *c, bandit *b, long t, long delay, double *regret, char *err)
{
    size_t arm;
    pb_status rc = PB_OK;
    if (c->opt->churn > 0 && gsl_rng_uniform(c->churn_rng) < c->opt->churn)
        rc = replace_arm(c, b, (size_t)gsl_rng_uniform_int(c->churn_rng, c->n_arms), err);
    if (rc == PB_OK)
        rc = bandit_select(b, c->policy_rng, &arm, NULL, err);
    if (rc != PB_OK)
        return rc;
    double reward = sim_arm_draw(&c->arms[arm], c->arm_rng[arm]);
    *regret += c->gap[arm];
    if (delay <= 1 && c->opt->churn <= 0)
        return bandit_observe(b, arm, reward, err);
    c->queue[c->queued++] = (struct pending){arm, reward, c->generation[arm]};
    return t % delay == 0 ? deliver(c, b, err) : PB_OK;
}

/* One run of one policy; writes its regret at each checkpoint into row. */
static pb_status run_once(struct run_ctx *c, bandit *b, const sim_result *r, long horizon,
                          double *row, int *ended_on_best, char *err)
{
    size_t next = 0;
    long delay = c->opt->delay > 1 ? c->opt->delay : 1;
    double regret = 0;
    bandit_reset(b);
    c->queued = 0;
    for (long t = 1; t <= horizon; t++) {
        pb_status rc = play(c, b, t, delay, &regret, err);
        if (rc != PB_OK)
            return rc;
        if (t == r->checkpoints[next])
            row[next++] = regret;
    }
    uint64_t most = 0;
    size_t top = 0;
    for (size_t i = 0; i < c->n_arms; i++) {
        bandit_arm_stats s;
        bandit_get_arm_stats(b, i, &s, NULL);
        if (s.pulls > most)
            most = s.pulls, top = i;
    }
    *ended_on_best = c->gap[top] <= 1e-12;
    return PB_OK;
}

/* Seeds run rep's streams and sets its arms: the given ones, or fresh draws from the prior. */
static void seed_run(struct run_ctx *c, const sim_arm *arms, long rep)
{
    uint64_t seed = c->opt->seed;
    for (size_t i = 0; i < c->n_arms; i++) {
        gsl_rng_set(c->arm_rng[i], sim_seed_stream(seed, (uint64_t)rep, i + 1));
        c->arms[i] = arms[i];
        c->generation[i] = c->seen_success[i] = c->seen_failure[i] = 0;
        c->stale[i] = 0;
    }
    gsl_rng_set(c->policy_rng, sim_seed_stream(seed, (uint64_t)rep, 0));
    gsl_rng_set(c->churn_rng, sim_seed_stream(seed, (uint64_t)rep, SIM_STREAM_CHURN));
    for (size_t i = 0; c->opt->arms_from_prior && i < c->n_arms; i++)
        c->arms[i].p = gsl_ran_beta(c->churn_rng, c->opt->prior_a, c->opt->prior_b);
    update_gaps(c);
}

static void run_ctx_free(struct run_ctx *c)
{
    for (size_t i = 0; c->arm_rng && i < c->n_arms; i++)
        if (c->arm_rng[i])
            gsl_rng_free(c->arm_rng[i]);
    free(c->arm_rng);
    if (c->policy_rng)
        gsl_rng_free(c->policy_rng);
    if (c->churn_rng)
        gsl_rng_free(c->churn_rng);
    free(c->arms);
    free(c->gap);
    free(c->generation);
    free(c->seen_success);
    free(c->seen_failure);
    free(c->stale);
    free(c->queue);
}

static pb_status run_ctx_init(struct run_ctx *c, const sim_options *opt, size_t n_arms, char *err)
{
    long delay = opt->delay > 1 ? opt->delay : 1;
    *c = (struct run_ctx){.opt = opt, .n_arms = n_arms};
    c->arms = calloc(n_arms, sizeof *c->arms);
    c->gap = calloc(n_arms, sizeof *c->gap);
    c->generation = calloc(n_arms, sizeof *c->generation);
    c->seen_success = calloc(n_arms, sizeof *c->seen_success);
    c->seen_failure = calloc(n_arms, sizeof *c->seen_failure);
    c->stale = calloc(n_arms, sizeof *c->stale);
    c->queue = calloc((size_t)(delay < opt->horizon ? delay : opt->horizon), sizeof *c->queue);
    c->arm_rng = calloc(n_arms, sizeof *c->arm_rng);
    c->policy_rng = gsl_rng_alloc(gsl_rng_mt19937);
    c->churn_rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!c->arms || !c->gap || !c->generation || !c->seen_success || !c->seen_failure ||
        !c->stale || !c->queue || !c->arm_rng || !c->policy_rng || !c->churn_rng)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n_arms; i++)
        if (!(c->arm_rng[i] = gsl_rng_alloc(gsl_rng_mt19937)))
            return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    return PB_OK;
}

/* Churn and arms from the prior need Bernoulli arms and a policy that can forget. */
static pb_status check_dynamic(const sim_arm *arms, const bandit_policy *policies,
                               size_t n_policies, const sim_options *opt, char *err)
{
    if (opt->churn <= 0 && !opt->arms_from_prior)
        return PB_OK;
    if (arms[0].kind != SIM_BERNOULLI)
        return pb_errf(err, PB_ERR_INVALID,
                       "arm churn and arms drawn from a prior need bernoulli arms");
    for (size_t p = 0; opt->churn > 0 && p < n_policies; p++)
        if (policies[p].kind == BANDIT_DUCB)
            return pb_errf(err, PB_ERR_INVALID,
                           "ducb cannot forget a replaced arm's rewards; churn needs another "
                           "policy");
    return PB_OK;
}

pb_status sim_run(const sim_arm *arms, size_t n_arms, const bandit_policy *policies,
                  size_t n_policies, const sim_options *opt, sim_progress_fn progress, void *user,
                  sim_result **out, char *err)
{
    struct run_ctx c = {0};
    sim_result *r = NULL;
    bandit *b = NULL;
    *out = NULL;
    pb_status rc = sim_arms_check(arms, n_arms, err);
    if (rc == PB_OK)
        rc = sim_options_check(opt, n_policies, err);
    if (rc == PB_OK)
        rc = check_dynamic(arms, policies, n_policies, opt, err);
    if (rc != PB_OK)
        return rc;
    rc = result_alloc(opt, policies, n_policies, &r, err);
    if (rc == PB_OK)
        rc = run_ctx_init(&c, opt, n_arms, err);
    for (size_t p = 0; p < n_policies && rc == PB_OK; p++) {
        bandit_free(b);
        b = NULL;
        rc = bandit_new(&policies[p], n_arms, &b, err);
        for (long rep = 0; rep < opt->reps && rc == PB_OK; rep++) {
            int on_best = 0;
            seed_run(&c, arms, rep);
            rc = run_once(&c, b, r, opt->horizon,
                          r->policies[p].regret + (size_t)rep * r->n_checkpoints, &on_best, err);
            r->policies[p].best_runs += on_best;
            if (progress)
                progress(user, p, rep + 1, opt->reps);
        }
    }
    if (rc == PB_OK) {
        *out = r;
        r = NULL;
    }
    bandit_free(b);
    sim_result_free(r);
    run_ctx_free(&c);
    return rc;
}

pb_status sim_summarize_column(const double *regret, long reps, size_t n_checkpoints,
                               size_t checkpoint, sim_summary *out, char *err)
{
    size_t n = (size_t)reps;
    double *v = malloc(n * sizeof *v);
    if (!v)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        v[i] = regret[i * n_checkpoints + checkpoint];
    gsl_sort(v, 1, n);
    out->mean = gsl_stats_mean(v, 1, n);
    out->sd = n > 1 ? gsl_stats_sd_m(v, 1, n, out->mean) : 0;
    out->q05 = gsl_stats_quantile_from_sorted_data(v, 1, n, 0.05);
    out->q95 = gsl_stats_quantile_from_sorted_data(v, 1, n, 0.95);
    free(v);
    return PB_OK;
}

pb_status sim_summarize(const sim_result *r, size_t policy, size_t checkpoint, sim_summary *out,
                        char *err)
{
    if (policy >= r->n_policies || checkpoint >= r->n_checkpoints)
        return pb_errf(err, PB_ERR_INVALID, "no such policy or checkpoint");
    return sim_summarize_column(r->policies[policy].regret, r->reps, r->n_checkpoints, checkpoint,
                                out, err);
}

size_t sim_log_checkpoints(long horizon, long *out, size_t cap)
{
    size_t n = 0;
    for (long t = 100; t < horizon && n < cap; t *= 10)
        out[n++] = t;
    return n;
}

/* ---- report ---------------------------------------------------------------------------- */

json_t *sim_summary_json(const sim_summary *s)
{
    return json_pack("{s:f, s:f, s:f, s:f}", "mean", s->mean, "sd", s->sd, "q05", s->q05, "q95",
                     s->q95);
}

static json_t *arms_json(const sim_arm *arms, size_t n_arms)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < n_arms; i++) {
        const sim_arm *a = &arms[i];
        json_t *o = NULL;
        if (a->kind == SIM_BERNOULLI)
            o = json_pack("{s:s, s:f}", "kind", "bernoulli", "p", a->p);
        else if (a->kind == SIM_GAUSSIAN)
            o = json_pack("{s:s, s:f, s:f}", "kind", "gaussian", "mean", a->mean, "sd", a->sd);
        else
            o = json_pack("{s:s, s:[f,f,f,f,f]}", "kind", "discrete", "probs", a->probs[0],
                          a->probs[1], a->probs[2], a->probs[3], a->probs[4]);
        if (o)
            json_object_set_new(o, "expected", json_real(sim_arm_mean(a)));
        if (!o || json_array_append_new(list, o) != 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

/* Regret curve of one policy: one object per checkpoint. */
static json_t *curve_json(const sim_result *r, size_t p, const double *lai_c)
{
    json_t *curve = json_array();
    for (size_t k = 0; curve && k < r->n_checkpoints; k++) {
        sim_summary s;
        double t = (double)r->checkpoints[k];
        json_t *o = sim_summarize(r, p, k, &s, NULL) == PB_OK ? sim_summary_json(&s) : NULL;
        if (o) {
            json_object_set_new(o, "t", json_integer(r->checkpoints[k]));
            json_object_set_new(o, "regret_over_ln_t",
                                t > 1 ? json_real(s.mean / log(t)) : json_null());
            json_object_set_new(o, "lai_robbins_bound",
                                lai_c ? json_real(*lai_c * log(t)) : json_null());
        }
        if (!o || json_array_append_new(curve, o) != 0) {
            json_decref(curve);
            return NULL;
        }
    }
    return curve;
}

static json_t *policy_json(const sim_result *r, size_t p, long horizon, const double *lai_c,
                           int with_curves)
{
    char spec[160];
    sim_summary s;
    policyspec_format(&r->policies[p].policy, spec, sizeof spec);
    if (sim_summarize(r, p, r->n_checkpoints - 1, &s, NULL) != PB_OK)
        return NULL;
    json_t *o = json_pack("{s:s, s:o, s:f, s:o}", "policy", spec, "regret", sim_summary_json(&s),
                          "best_arm_share", (double)r->policies[p].best_runs / (double)r->reps,
                          "lai_robbins_bound",
                          lai_c ? json_real(*lai_c * log((double)horizon)) : json_null());
    if (o && with_curves) {
        json_t *curve = curve_json(r, p, lai_c);
        if (!curve || json_object_set_new(o, "checkpoints", curve) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

json_t *sim_report_json(const sim_arm *arms, size_t n_arms, const sim_options *opt,
                        const sim_result *r, int with_curves)
{
    double c;
    int dynamic = opt->churn > 0 || opt->arms_from_prior;
    const double *lai_c =
        !dynamic && sim_arms_lai_robbins(arms, n_arms, &c, NULL) == PB_OK ? &c : NULL;
    json_t *root = json_pack("{s:o, s:I, s:I, s:I, s:s, s:o}", "arms", arms_json(arms, n_arms),
                             "horizon", (json_int_t)opt->horizon, "reps", (json_int_t)opt->reps,
                             "seed", (json_int_t)opt->seed, "regret_unit",
                             arms[0].kind == SIM_BERNOULLI ? "successes" : "reward",
                             "lai_robbins_c", lai_c ? json_real(c) : json_null());
    if (root && (opt->delay > 1 || dynamic))
        json_object_set_new(root, "dynamics",
                            json_pack("{s:I, s:f, s:[f,f], s:b, s:s}", "delay",
                                      (json_int_t)(opt->delay > 1 ? opt->delay : 1), "churn",
                                      opt->churn, "new_arm_beta", opt->prior_a, opt->prior_b,
                                      "arms_from_prior", opt->arms_from_prior, "churn_seen",
                                      opt->churn_seen_at_delivery ? "delivery" : "now"));
    json_t *list = json_array();
    if (!root || !list || json_object_set_new(root, "policies", list) != 0)
        goto fail;
    for (size_t p = 0; p < r->n_policies; p++)
        if (json_array_append_new(list, policy_json(r, p, opt->horizon, lai_c, with_curves)) != 0)
            goto fail;
    return root;
fail:
    json_decref(root);
    return NULL;
}
