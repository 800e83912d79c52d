/* simbai.c — repeated best-arm identification runs on simulated arms, their summaries and JSON
 * report. Owns the per-run RNG streams (one per arm, one for the rule). Must not read files or
 * print. */
#include "sim/simbai.h"

#include "bandit/bai.h"
#include "bandit/glr.h"
#include "base/pb.h"
#include "sim/sim.h"
#include "sim/simarm.h"

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdlib.h>

void simbai_result_free(simbai_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_rules; i++)
        free(r->rules[i].samples);
    free(r->rules);
    free(r);
}

/* An arm's mean on the [0, 1] scale the rules and the bound read. */
static double mean01(const sim_arm *a)
{
    return a->kind == SIM_BERNOULLI ? a->p : (sim_arm_mean(a) + 1) / 2;
}

static pb_status check(const sim_arm *arms, size_t n_arms, size_t n_rules,
                       const simbai_options *opt, char *err)
{
    pb_status rc = sim_arms_check(arms, n_arms, err);
    if (rc != PB_OK)
        return rc;
    if (n_arms < 2)
        return pb_errf(err, PB_ERR_INVALID, "identification needs at least two arms");
    if (n_rules == 0)
        return pb_errf(err, PB_ERR_INVALID, "no identification rule to simulate");
    if (!(opt->delta > 0 && opt->delta < 1))
        return pb_errf(err, PB_ERR_INVALID, "delta must be in (0, 1), got %g", opt->delta);
    if (opt->reps < 1)
        return pb_errf(err, PB_ERR_INVALID, "reps must be at least 1, got %ld", opt->reps);
    if (opt->budget < (long)n_arms)
        return pb_errf(err, PB_ERR_INVALID, "the budget (%ld samples) must cover one per arm",
                       opt->budget);
    return PB_OK;
}

struct run_ctx {
    const sim_arm *arms;
    size_t n_arms;
    double best; /* best mean on [0, 1] */
    gsl_rng **arm_rng;
    gsl_rng *rng;
};

/* One identification run: sample until the rule stops or the budget is spent. */
static pb_status run_once(struct run_ctx *c, bai *s, long budget, double *samples, int *wrong,
                          int *unstopped, char *err)
{
    struct bai_status st = {0};
    bai_reset(s);
    pb_status rc = PB_OK;
    for (long t = 0; t < budget && rc == PB_OK; t++) {
        size_t arm;
        rc = bai_next(s, c->rng, &arm, err);
        if (rc == PB_OK) {
            double r = sim_arm_draw(&c->arms[arm], c->arm_rng[arm]);
            if (c->arms[arm].kind == SIM_BERNOULLI)
                r = r > 0 ? 1.0 : 0.0; /* Bernoulli arms pay 0/1 */
            rc = bai_observe(s, arm, r, err);
        }
        if (rc == PB_OK)
            rc = bai_check(s, &st, err);
        if (rc == PB_OK && st.stop)
            break;
    }
    if (rc == PB_OK && !st.stop)
        rc = bai_check(s, &st, err);
    *samples = st.samples;
    *unstopped = !st.stop;
    *wrong = mean01(&c->arms[st.leader]) < c->best - 1e-12;
    return rc;
}

static pb_status result_new(const sim_arm *arms, size_t n_arms, const bai_rule *rules,
                            size_t n_rules, const simbai_options *opt, simbai_result **out,
                            char *err)
{
    simbai_result *r = calloc(1, sizeof *r);
    double *mu = calloc(n_arms, sizeof *mu);
    pb_status rc = PB_OK;
    if (!r || !mu || !(r->rules = calloc(n_rules, sizeof *r->rules))) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    r->reps = opt->reps;
    r->n_rules = n_rules;
    for (size_t i = 0; i < n_rules; i++) {
        r->rules[i].rule = rules[i];
        if (!(r->rules[i].samples = calloc((size_t)opt->reps, sizeof(double)))) {
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory for %ld runs", opt->reps);
            goto cleanup;
        }
    }
    for (size_t i = 0; i < n_arms; i++)
        mu[i] = mean01(&arms[i]);
    if ((rc = glr_characteristic_time(mu, n_arms, &r->t_star, NULL, err)) != PB_OK)
        goto cleanup;
    r->lower_bound = r->t_star * log(1 / opt->delta);
    *out = r;
    r = NULL;
cleanup:
    simbai_result_free(r);
    free(mu);
    return rc;
}

pb_status simbai_run(const sim_arm *arms, size_t n_arms, const bai_rule *rules, size_t n_rules,
                     const simbai_options *opt, sim_progress_fn progress, void *user,
                     simbai_result **out, char *err)
{
    struct run_ctx c = {.arms = arms, .n_arms = n_arms, .best = -INFINITY};
    simbai_result *r = NULL;
    bai *s = NULL;
    *out = NULL;
    pb_status rc = check(arms, n_arms, n_rules, opt, err);
    if (rc == PB_OK)
        rc = result_new(arms, n_arms, rules, n_rules, opt, &r, err);
    if (rc != PB_OK)
        return rc;
    for (size_t i = 0; i < n_arms; i++)
        c.best = fmax(c.best, mean01(&arms[i]));
    c.arm_rng = calloc(n_arms, sizeof *c.arm_rng);
    c.rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!c.arm_rng || !c.rng)
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == PB_OK && i < n_arms; i++)
        if (!(c.arm_rng[i] = gsl_rng_alloc(gsl_rng_mt19937)))
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    double lo = arms[0].kind == SIM_BERNOULLI ? 0 : -1;
    for (size_t p = 0; p < n_rules && rc == PB_OK; p++) {
        struct bai_options bo = {rules[p], opt->delta, lo, 1, opt->beta, 1};
        bai_free(s);
        s = NULL;
        rc = bai_new(&bo, n_arms, &s, err);
        for (long rep = 0; rep < opt->reps && rc == PB_OK; rep++) {
            int wrong = 0, unstopped = 0;
            for (size_t i = 0; i < n_arms; i++)
                gsl_rng_set(c.arm_rng[i], sim_seed_stream(opt->seed, (uint64_t)rep, i + 1));
            gsl_rng_set(c.rng, sim_seed_stream(opt->seed, (uint64_t)rep, 0));
            rc = run_once(&c, s, opt->budget, &r->rules[p].samples[rep], &wrong, &unstopped, err);
            r->rules[p].wrong += wrong;
            r->rules[p].unstopped += unstopped;
            if (progress)
                progress(user, p, rep + 1, opt->reps);
        }
    }
    if (rc == PB_OK) {
        *out = r;
        r = NULL;
    }
    bai_free(s);
    simbai_result_free(r);
    for (size_t i = 0; c.arm_rng && i < n_arms; i++)
        if (c.arm_rng[i])
            gsl_rng_free(c.arm_rng[i]);
    free(c.arm_rng);
    if (c.rng)
        gsl_rng_free(c.rng);
    return rc;
}

pb_status simbai_summarize(const simbai_result *r, size_t rule, simbai_summary *out, char *err)
{
    if (rule >= r->n_rules)
        return pb_errf(err, PB_ERR_INVALID, "no rule %zu", rule);
    pb_status rc = sim_summarize_column(r->rules[rule].samples, r->reps, 1, 0, &out->samples, err);
    if (rc != PB_OK)
        return rc;
    size_t n = (size_t)r->reps;
    double *v = malloc(n * sizeof *v);
    if (!v)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        v[i] = r->rules[rule].samples[i];
    gsl_sort(v, 1, n);
    out->median = gsl_stats_median_from_sorted_data(v, 1, n);
    free(v);
    out->error_rate = (double)r->rules[rule].wrong / (double)r->reps;
    out->ratio_to_bound =
        isfinite(r->lower_bound) && r->lower_bound > 0 ? out->samples.mean / r->lower_bound : NAN;
    return PB_OK;
}

static json_t *real_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *rule_json(const simbai_result *r, size_t p)
{
    simbai_summary s;
    if (simbai_summarize(r, p, &s, NULL) != PB_OK)
        return NULL;
    json_t *samples = sim_summary_json(&s.samples);
    if (samples)
        json_object_set_new(samples, "median", json_real(s.median));
    return json_pack("{s:s, s:o, s:f, s:I, s:I, s:o}", "policy", bai_rule_name(r->rules[p].rule),
                     "samples", samples, "error_rate", s.error_rate, "wrong",
                     (json_int_t)r->rules[p].wrong, "unstopped", (json_int_t)r->rules[p].unstopped,
                     "ratio_to_bound", real_or_null(s.ratio_to_bound));
}

json_t *simbai_report_json(const sim_arm *arms, size_t n_arms, const simbai_options *opt,
                           const simbai_result *r)
{
    json_t *means = json_array();
    for (size_t i = 0; means && i < n_arms; i++)
        json_array_append_new(means, json_real(mean01(&arms[i])));
    json_t *root =
        json_pack("{s:s, s:o, s:f, s:I, s:I, s:I, s:o, s:o, s:s}", "goal", "identify", "means01",
                  means, "delta", opt->delta, "reps", (json_int_t)opt->reps, "seed",
                  (json_int_t)opt->seed, "budget", (json_int_t)opt->budget, "t_star",
                  real_or_null(r->t_star), "lower_bound", real_or_null(r->lower_bound), "stopping",
                  "GLR > log(2 t (K - 1) / delta) (Garivier & Kaufmann 2016)");
    json_t *list = json_array();
    if (!root || !list || json_object_set_new(root, "policies", list) != 0)
        goto fail;
    for (size_t p = 0; p < r->n_rules; p++)
        if (json_array_append_new(list, rule_json(r, p)) != 0)
            goto fail;
    return root;
fail:
    json_decref(root);
    return NULL;
}
