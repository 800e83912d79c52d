/* sim.c — simulated arms, repeated bandit runs with common random numbers, regret summaries
 * and the JSON report. Owns the per-run RNG streams (one per arm plus one for the policy, all
 * derived from the seed). Must not read files or print: the CLI does that. */
#include "sim/sim.h"

#include "bandit/bandit.h"
#include "bandit/policyspec.h"
#include "base/pb.h"

#include <errno.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SIM_MAX_ARMS 100000

static const double levels[SIM_LEVELS] = {-1, -0.5, 0, 0.5, 1};

static const char *kind_name(sim_arm_kind k)
{
    return k == SIM_BERNOULLI ? "bernoulli" : k == SIM_GAUSSIAN ? "gaussian" : "discrete";
}

int sim_arms_check(const sim_arm *arms, size_t n, char *err)
{
    if (n == 0)
        return pb_errf(err, PB_ERR_INVALID, "the arm list is empty");
    if (n > SIM_MAX_ARMS)
        return pb_errf(err, PB_ERR_INVALID, "%zu arms is more than %d", n, SIM_MAX_ARMS);
    for (size_t i = 0; i < n; i++) {
        const sim_arm *a = &arms[i];
        if ((a->kind == SIM_BERNOULLI) != (arms[0].kind == SIM_BERNOULLI))
            return pb_errf(err, PB_ERR_INVALID,
                           "arm %zu: bernoulli arms (regret in successes) cannot be mixed with "
                           "%s arms (regret in reward units)",
                           i + 1, kind_name(a->kind == SIM_BERNOULLI ? arms[0].kind : a->kind));
        if (a->kind == SIM_BERNOULLI && !(a->p >= 0 && a->p <= 1))
            return pb_errf(err, PB_ERR_INVALID, "arm %zu: bernoulli p must be in [0, 1], got %g",
                           i + 1, a->p);
        if (a->kind == SIM_GAUSSIAN && !(a->mean >= -1 && a->mean <= 1))
            return pb_errf(err, PB_ERR_INVALID, "arm %zu: gaussian mean must be in [-1, 1], got %g",
                           i + 1, a->mean);
        if (a->kind == SIM_GAUSSIAN && !(a->sd >= 0 && a->sd <= 10))
            return pb_errf(err, PB_ERR_INVALID, "arm %zu: gaussian sd must be in [0, 10], got %g",
                           i + 1, a->sd);
        if (a->kind == SIM_DISCRETE) {
            double sum = 0;
            for (int k = 0; k < SIM_LEVELS; k++) {
                if (!(a->probs[k] >= 0 && a->probs[k] <= 1))
                    return pb_errf(err, PB_ERR_INVALID,
                                   "arm %zu: probability of level %g must be in [0, 1], got %g",
                                   i + 1, levels[k], a->probs[k]);
                sum += a->probs[k];
            }
            if (fabs(sum - 1) > 1e-6)
                return pb_errf(err, PB_ERR_INVALID,
                               "arm %zu: the five level probabilities sum to %g, not 1", i + 1,
                               sum);
        }
    }
    return PB_OK;
}

/* Parses a finite number from s[0..len). */
static int parse_number(const char *s, size_t len, double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end == buf || *end || errno || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* Parses one arm's "a/b/..." numbers; expects exactly `want` of them. */
static int parse_arm_values(const char *s, size_t len, double *vals, int want)
{
    int got = 0;
    size_t pos = 0;
    while (pos <= len) {
        size_t n = 0;
        while (pos + n < len && s[pos + n] != '/')
            n++;
        if (got == want || parse_number(s + pos, n, &vals[got]) != 0)
            return -1;
        got++;
        pos += n + 1;
    }
    return got == want ? 0 : -1;
}

int sim_arms_parse(const char *spec, sim_arm **out, size_t *n, char *err)
{
    static const struct {
        const char *name;
        sim_arm_kind kind;
        int values;
        const char *form;
    } kinds[] = {{"bernoulli", SIM_BERNOULLI, 1, "p"},
                 {"gaussian", SIM_GAUSSIAN, 2, "mean/sd"},
                 {"discrete", SIM_DISCRETE, SIM_LEVELS, "p(-1)/p(-0.5)/p(0)/p(0.5)/p(1)"}};
    *out = NULL;
    *n = 0;
    const char *colon = strchr(spec, ':');
    size_t name_len = colon ? (size_t)(colon - spec) : strlen(spec);
    int k = -1;
    for (int i = 0; i < 3; i++)
        if (strlen(kinds[i].name) == name_len && !strncmp(kinds[i].name, spec, name_len))
            k = i;
    if (k < 0 || !colon)
        return pb_errf(err, PB_ERR_INVALID,
                       "arms '%.40s': expected bernoulli:P,P,... or gaussian:MEAN/SD,... or "
                       "discrete:P/P/P/P/P,...",
                       spec);
    const char *list = colon + 1;
    size_t count = *list ? 1 : 0;
    for (const char *p = list; *p; p++)
        count += *p == ',';
    if (count == 0)
        return pb_errf(err, PB_ERR_INVALID, "arms: the %s list is empty", kinds[k].name);
    if (count > SIM_MAX_ARMS)
        return pb_errf(err, PB_ERR_INVALID, "arms: more than %d arms", SIM_MAX_ARMS);
    sim_arm *arms = calloc(count, sizeof *arms);
    if (!arms)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    const char *p = list;
    for (size_t i = 0; i < count; i++) {
        size_t len = strcspn(p, ",");
        double v[SIM_LEVELS];
        if (parse_arm_values(p, len, v, kinds[k].values) != 0) {
            pb_errf(err, PB_ERR_INVALID, "arms: arm %zu '%.*s' is not %s (finite numbers)", i + 1,
                    (int)(len > 40 ? 40 : len), p, kinds[k].form);
            free(arms);
            return PB_ERR_INVALID;
        }
        arms[i].kind = kinds[k].kind;
        if (kinds[k].kind == SIM_BERNOULLI)
            arms[i].p = v[0];
        else if (kinds[k].kind == SIM_GAUSSIAN)
            arms[i].mean = v[0], arms[i].sd = v[1];
        else
            memcpy(arms[i].probs, v, sizeof arms[i].probs);
        p += len + (p[len] == ',');
    }
    int rc = sim_arms_check(arms, count, err);
    if (rc != PB_OK) {
        free(arms);
        return rc;
    }
    *out = arms;
    *n = count;
    return PB_OK;
}

static int json_number_field(json_t *obj, const char *key, size_t i, double *out, char *err)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v))
        return pb_errf(err, PB_ERR_INVALID, "arm %zu: \"%s\" must be a number", i + 1, key);
    *out = json_number_value(v);
    return PB_OK;
}

static int json_arm(json_t *obj, size_t i, sim_arm *a, char *err)
{
    if (!json_is_object(obj))
        return pb_errf(err, PB_ERR_INVALID, "arm %zu: expected an object", i + 1);
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    size_t want = 0;
    int rc = PB_OK;
    if (kind && !strcmp(kind, "bernoulli")) {
        a->kind = SIM_BERNOULLI, want = 2;
        rc = json_number_field(obj, "p", i, &a->p, err);
    } else if (kind && !strcmp(kind, "gaussian")) {
        a->kind = SIM_GAUSSIAN, want = 3;
        rc = json_number_field(obj, "mean", i, &a->mean, err);
        if (rc == PB_OK)
            rc = json_number_field(obj, "sd", i, &a->sd, err);
    } else if (kind && !strcmp(kind, "discrete")) {
        a->kind = SIM_DISCRETE, want = 2;
        json_t *probs = json_object_get(obj, "probs");
        if (!json_is_array(probs) || json_array_size(probs) != SIM_LEVELS)
            return pb_errf(err, PB_ERR_INVALID,
                           "arm %zu: \"probs\" must be 5 numbers (levels -1,-0.5,0,0.5,1)", i + 1);
        for (size_t k = 0; k < SIM_LEVELS; k++) {
            json_t *p = json_array_get(probs, k);
            if (!json_is_number(p))
                return pb_errf(err, PB_ERR_INVALID, "arm %zu: probs[%zu] is not a number", i + 1,
                               k);
            a->probs[k] = json_number_value(p);
        }
    } else {
        return pb_errf(err, PB_ERR_INVALID,
                       "arm %zu: \"kind\" must be \"bernoulli\", \"gaussian\" or \"discrete\"",
                       i + 1);
    }
    if (rc != PB_OK)
        return rc;
    if (json_object_size(obj) != want)
        return pb_errf(err, PB_ERR_INVALID, "arm %zu: unexpected keys for a %s arm", i + 1, kind);
    return PB_OK;
}

int sim_arms_from_json(const char *text, sim_arm **out, size_t *n, char *err)
{
    json_error_t jerr;
    sim_arm *arms = NULL;
    int rc = PB_OK;
    *out = NULL;
    *n = 0;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return pb_errf(err, PB_ERR_INVALID, "arms file line %d: %s", jerr.line, jerr.text);
    json_t *list = json_is_object(root) ? json_object_get(root, "arms") : root;
    if (!json_is_array(list)) {
        rc = pb_errf(err, PB_ERR_INVALID,
                     "arms file: expected {\"arms\": [...]} or an array of arms");
        goto cleanup;
    }
    size_t count = json_array_size(list);
    if (count == 0 || count > SIM_MAX_ARMS) {
        rc = sim_arms_check(NULL, count, err);
        goto cleanup;
    }
    arms = calloc(count, sizeof *arms);
    if (!arms) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < count && rc == PB_OK; i++)
        rc = json_arm(json_array_get(list, i), i, &arms[i], err);
    if (rc == PB_OK)
        rc = sim_arms_check(arms, count, err);
    if (rc == PB_OK) {
        *out = arms;
        *n = count;
        arms = NULL;
    }
cleanup:
    free(arms);
    json_decref(root);
    return rc;
}

double sim_arm_mean(const sim_arm *a)
{
    switch (a->kind) {
    case SIM_BERNOULLI:
        return a->p;
    case SIM_GAUSSIAN: {
        if (a->sd == 0)
            return fmin(1, fmax(-1, a->mean));
        /* E[clip(X)] = -P(X<-1) + P(X>1) + E[X; -1<X<1] for X ~ N(mean, sd^2) */
        double lo = (-1 - a->mean) / a->sd, hi = (1 - a->mean) / a->sd;
        double plo = gsl_cdf_ugaussian_P(lo), phi = gsl_cdf_ugaussian_P(hi);
        double inside =
            a->mean * (phi - plo) + a->sd * (gsl_ran_ugaussian_pdf(lo) - gsl_ran_ugaussian_pdf(hi));
        return -plo + gsl_cdf_ugaussian_Q(hi) + inside;
    }
    case SIM_DISCRETE: {
        double m = 0;
        for (int k = 0; k < SIM_LEVELS; k++)
            m += a->probs[k] * levels[k];
        return m;
    }
    }
    return 0;
}

double sim_arm_draw(const sim_arm *a, gsl_rng *rng)
{
    switch (a->kind) {
    case SIM_BERNOULLI:
        return gsl_rng_uniform(rng) < a->p ? 1.0 : -1.0;
    case SIM_GAUSSIAN: {
        double x = a->mean + a->sd * gsl_ran_gaussian_ziggurat(rng, 1);
        return fmin(1, fmax(-1, x));
    }
    case SIM_DISCRETE: {
        double u = gsl_rng_uniform(rng);
        for (int k = 0; k < SIM_LEVELS - 1; k++) {
            if (u < a->probs[k])
                return levels[k];
            u -= a->probs[k];
        }
        return levels[SIM_LEVELS - 1];
    }
    }
    return 0;
}

double sim_kl_bernoulli(double p, double q)
{
    double kl = 0;
    if (p > 0)
        kl += q > 0 ? p * log(p / q) : INFINITY;
    if (p < 1)
        kl += q < 1 ? (1 - p) * log((1 - p) / (1 - q)) : INFINITY;
    return kl;
}

int sim_lai_robbins(const sim_arm *arms, size_t n, double *c, char *err)
{
    double best = -INFINITY, sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (arms[i].kind != SIM_BERNOULLI)
            return pb_errf(err, PB_ERR_INVALID, "the Lai-Robbins constant needs Bernoulli arms");
        best = fmax(best, arms[i].p);
    }
    for (size_t i = 0; i < n; i++)
        if (arms[i].p < best) {
            double kl = sim_kl_bernoulli(arms[i].p, best);
            sum += isfinite(kl) ? (best - arms[i].p) / kl : 0;
        }
    *c = sum;
    return PB_OK;
}

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

int sim_options_check(const sim_options *opt, size_t n_policies, char *err)
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

static int result_alloc(const sim_options *opt, const bandit_policy *policies, size_t n_policies,
                        sim_result **out, char *err)
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

struct run_ctx {
    const sim_arm *arms;
    size_t n_arms;
    const double *gap; /* best mean - arm mean */
    double best_mean;
    gsl_rng **arm_rng; /* one stream per arm, so a policy's k-th pull of an arm is the same */
    gsl_rng *policy_rng;
};

/* One run of one policy; writes its regret at each checkpoint into row. */
static int run_once(struct run_ctx *c, bandit *b, const sim_result *r, long horizon, double *row,
                    int *ended_on_best, char *err)
{
    size_t next = 0, arm;
    double regret = 0;
    bandit_reset(b);
    for (long t = 1; t <= horizon; t++) {
        int rc = bandit_select(b, c->policy_rng, &arm, NULL, err);
        if (rc == PB_OK)
            rc = bandit_observe(b, arm, sim_arm_draw(&c->arms[arm], c->arm_rng[arm]), err);
        if (rc != PB_OK)
            return rc;
        regret += c->gap[arm];
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

static void seed_run(struct run_ctx *c, uint64_t seed, long rep)
{
    for (size_t i = 0; i < c->n_arms; i++)
        gsl_rng_set(c->arm_rng[i], sim_seed_stream(seed, (uint64_t)rep, i + 1));
    gsl_rng_set(c->policy_rng, sim_seed_stream(seed, (uint64_t)rep, 0));
}

int sim_run(const sim_arm *arms, size_t n_arms, const bandit_policy *policies, size_t n_policies,
            const sim_options *opt, sim_progress_fn progress, void *user, sim_result **out,
            char *err)
{
    struct run_ctx c = {.arms = arms, .n_arms = n_arms, .best_mean = -INFINITY};
    sim_result *r = NULL;
    bandit *b = NULL;
    double *gap = NULL;
    *out = NULL;
    int rc = sim_arms_check(arms, n_arms, err);
    if (rc == PB_OK)
        rc = sim_options_check(opt, n_policies, err);
    if (rc != PB_OK)
        return rc;
    rc = result_alloc(opt, policies, n_policies, &r, err);
    if (rc != PB_OK)
        return rc;
    gap = calloc(n_arms, sizeof *gap);
    c.arm_rng = calloc(n_arms, sizeof *c.arm_rng);
    c.policy_rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!gap || !c.arm_rng || !c.policy_rng) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n_arms; i++) {
        if (!(c.arm_rng[i] = gsl_rng_alloc(gsl_rng_mt19937))) {
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
            goto cleanup;
        }
        c.best_mean = fmax(c.best_mean, sim_arm_mean(&arms[i]));
    }
    for (size_t i = 0; i < n_arms; i++)
        gap[i] = c.best_mean - sim_arm_mean(&arms[i]);
    c.gap = gap;
    for (size_t p = 0; p < n_policies && rc == PB_OK; p++) {
        bandit_free(b);
        b = NULL;
        rc = bandit_new(&policies[p], n_arms, &b, err);
        for (long rep = 0; rep < opt->reps && rc == PB_OK; rep++) {
            int on_best = 0;
            seed_run(&c, opt->seed, rep);
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
cleanup:
    bandit_free(b);
    sim_result_free(r);
    for (size_t i = 0; c.arm_rng && i < n_arms; i++)
        if (c.arm_rng[i])
            gsl_rng_free(c.arm_rng[i]);
    free(c.arm_rng);
    if (c.policy_rng)
        gsl_rng_free(c.policy_rng);
    free(gap);
    return rc;
}

int sim_summarize_column(const double *regret, long reps, size_t n_checkpoints, size_t checkpoint,
                         sim_summary *out, char *err)
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

int sim_summarize(const sim_result *r, size_t policy, size_t checkpoint, sim_summary *out,
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
    const double *lai_c = sim_lai_robbins(arms, n_arms, &c, NULL) == PB_OK ? &c : NULL;
    json_t *root = json_pack("{s:o, s:I, s:I, s:I, s:s, s:o}", "arms", arms_json(arms, n_arms),
                             "horizon", (json_int_t)opt->horizon, "reps", (json_int_t)opt->reps,
                             "seed", (json_int_t)opt->seed, "regret_unit",
                             arms[0].kind == SIM_BERNOULLI ? "successes" : "reward",
                             "lai_robbins_c", lai_c ? json_real(c) : json_null());
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
