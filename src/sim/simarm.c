/* simarm.c — the simulated arms: their checks, the command-line and JSON parsers, exact
 * expected values of the (clipped) distributions, draws, Bernoulli KL and the Lai–Robbins
 * constant. Must not run a policy (sim.c does) or read files. */
#include "sim/simarm.h"

#include "base/pb.h"

#include <errno.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SIM_MAX_ARMS 100000

static const double levels[SIM_LEVELS] = {-1, -0.5, 0, 0.5, 1};

static const char *kind_name(sim_arm_kind k)
{
    return k == SIM_BERNOULLI ? "bernoulli" : k == SIM_GAUSSIAN ? "gaussian" : "discrete";
}

pb_status sim_arms_check(const sim_arm *arms, size_t n, char *err)
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

/* Parses a finite number from s[0..len); false when it is not one. */
static bool parse_number(const char *s, size_t len, double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end == buf || *end || errno || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* Parses one arm's "a/b/..." numbers; false unless there are exactly `want` of them. */
static bool parse_arm_values(const char *s, size_t len, double *vals, int want)
{
    int got = 0;
    size_t pos = 0;
    while (pos <= len) {
        size_t n = 0;
        while (pos + n < len && s[pos + n] != '/')
            n++;
        if (got == want || !parse_number(s + pos, n, &vals[got]))
            return false;
        got++;
        pos += n + 1;
    }
    return got == want;
}

pb_status sim_arms_parse(const char *spec, sim_arm **out, size_t *n, char *err)
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
        if (!parse_arm_values(p, len, v, kinds[k].values)) {
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
    pb_status rc = sim_arms_check(arms, count, err);
    if (rc != PB_OK) {
        free(arms);
        return rc;
    }
    *out = arms;
    *n = count;
    return PB_OK;
}

static pb_status json_number_field(json_t *obj, const char *key, size_t i, double *out, char *err)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v))
        return pb_errf(err, PB_ERR_INVALID, "arm %zu: \"%s\" must be a number", i + 1, key);
    *out = json_number_value(v);
    return PB_OK;
}

static pb_status json_arm(json_t *obj, size_t i, sim_arm *a, char *err)
{
    if (!json_is_object(obj))
        return pb_errf(err, PB_ERR_INVALID, "arm %zu: expected an object", i + 1);
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    size_t want = 0;
    pb_status rc = PB_OK;
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

pb_status sim_arms_from_json(const char *text, sim_arm **out, size_t *n, char *err)
{
    json_error_t jerr;
    sim_arm *arms = NULL;
    pb_status rc = PB_OK;
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

double sim_arm_kl_bernoulli(double p, double q)
{
    double kl = 0;
    if (p > 0)
        kl += q > 0 ? p * log(p / q) : INFINITY;
    if (p < 1)
        kl += q < 1 ? (1 - p) * log((1 - p) / (1 - q)) : INFINITY;
    return kl;
}

pb_status sim_arms_lai_robbins(const sim_arm *arms, size_t n, double *c, char *err)
{
    double best = -INFINITY, sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (arms[i].kind != SIM_BERNOULLI)
            return pb_errf(err, PB_ERR_INVALID, "the Lai-Robbins constant needs Bernoulli arms");
        best = fmax(best, arms[i].p);
    }
    for (size_t i = 0; i < n; i++)
        if (arms[i].p < best) {
            double kl = sim_arm_kl_bernoulli(arms[i].p, best);
            sum += isfinite(kl) ? (best - arms[i].p) / kl : 0;
        }
    *c = sum;
    return PB_OK;
}
