/* contextual.c — disjoint LinUCB and linear Thompson sampling. Owns one ridge regression per
 * arm: A = lambda I + sum x x', its inverse (kept by Sherman–Morrison rank-one updates and
 * recomputed exactly from A every REFRESH updates to stop drift), b = sum r x, theta = A^-1 b,
 * and for LinTS the Cholesky factor of A. Must not do I/O or keep global state. */
#include "bandit/contextual.h"

#include "base/pb.h"

#include <errno.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DIM     256
#define MAX_ARMS    100000
#define REFRESH     1024
#define MAX_FEATURE 1e6

struct ctx_arm {
    gsl_matrix *a, *a_inv, *chol; /* chol: lower Cholesky factor of a, valid if !chol_stale */
    gsl_vector *b, *theta;
    uint64_t n, since_refresh;
    int active, chol_stale;
};

struct contextual {
    contextual_policy policy;
    size_t dim, n_arms, cap, n_active;
    struct ctx_arm *arms;
    gsl_vector *u, *z; /* scratch, dim each */
    double *score;     /* scratch, one per arm */
};

/* ---- policy spec ----------------------------------------------------------------------- */

static const struct {
    const char *name;
    size_t offset;
    int is_long, linucb, lints;
    double min, max; /* min is exclusive for doubles, inclusive for longs */
} params[] = {
    {"alpha", offsetof(contextual_policy, alpha), 0, 1, 0, 0, 100},
    {"v", offsetof(contextual_policy, v), 0, 0, 1, 0, 100},
    {"lambda", offsetof(contextual_policy, lambda), 0, 1, 1, 0, 1e6},
    {"burnin", offsetof(contextual_policy, burnin), 1, 1, 1, 0, 1000000},
    {"draws", offsetof(contextual_policy, draws), 1, 0, 1, 1, 10000000},
};
#define N_PARAMS (sizeof params / sizeof params[0])

static pb_status set_param(contextual_policy *p, const char *item, size_t len, char *err)
{
    const char *eq = memchr(item, '=', len);
    size_t key_len = eq ? (size_t)(eq - item) : len;
    const char *name = p->kind == CONTEXTUAL_LINUCB ? "linucb" : "lints";
    for (size_t i = 0; i < N_PARAMS; i++) {
        if (strlen(params[i].name) != key_len || strncmp(params[i].name, item, key_len) ||
            !(p->kind == CONTEXTUAL_LINUCB ? params[i].linucb : params[i].lints))
            continue;
        char text[64], *end;
        size_t vlen = eq ? len - key_len - 1 : 0;
        if (vlen == 0 || vlen >= sizeof text)
            return pb_errf(err, PB_ERR_INVALID, "policy %s: %s needs a value", name,
                           params[i].name);
        memcpy(text, eq + 1, vlen);
        text[vlen] = '\0';
        errno = 0;
        double v = strtod(text, &end);
        int bad_range = params[i].is_long ? v < params[i].min || v != floor(v) : v <= params[i].min;
        if (end == text || *end || errno || !isfinite(v) || bad_range || v > params[i].max)
            return pb_errf(err, PB_ERR_INVALID, "policy %s: %s=%s is not a %s in %c%g, %g]", name,
                           params[i].name, text, params[i].is_long ? "whole number" : "number",
                           params[i].is_long ? '[' : '(', params[i].min, params[i].max);
        if (params[i].is_long)
            *(long *)((char *)p + params[i].offset) = (long)v;
        else
            *(double *)((char *)p + params[i].offset) = v;
        return PB_OK;
    }
    return pb_errf(err, PB_ERR_INVALID, "policy %s: unknown parameter '%.*s' (accepted: %s)", name,
                   (int)key_len, item,
                   p->kind == CONTEXTUAL_LINUCB ? "alpha, lambda, burnin"
                                                : "v, lambda, burnin, draws");
}

pb_status contextual_policy_parse(const char *spec, contextual_policy *out, char *err)
{
    size_t name_len = strcspn(spec, ":");
    contextual_policy p = {.alpha = 1, .v = 0.5, .lambda = 1, .draws = 1000};
    if (name_len == 6 && !strncmp(spec, "linucb", 6))
        p.kind = CONTEXTUAL_LINUCB;
    else if (name_len == 5 && !strncmp(spec, "lints", 5))
        p.kind = CONTEXTUAL_LINTS;
    else
        return pb_errf(err, PB_ERR_INVALID,
                       "unknown contextual policy '%.*s' (known: linucb, lints)",
                       (int)(name_len > 40 ? 40 : name_len), spec);
    const char *rest = spec + name_len + (spec[name_len] == ':');
    if (spec[name_len] == ':' && !*rest)
        return pb_errf(err, PB_ERR_INVALID, "policy: empty parameter list after ':'");
    while (*rest) {
        size_t n = strcspn(rest, ",");
        pb_status rc = set_param(&p, rest, n, err);
        if (rc != PB_OK)
            return rc;
        rest += n + (rest[n] == ',');
    }
    *out = p;
    return PB_OK;
}

/* ---- life cycle ------------------------------------------------------------------------ */

static void arm_release(struct ctx_arm *a)
{
    gsl_matrix_free(a->a);
    gsl_matrix_free(a->a_inv);
    gsl_matrix_free(a->chol);
    gsl_vector_free(a->b);
    gsl_vector_free(a->theta);
}

void contextual_free(contextual *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_arms; i++)
        arm_release(&c->arms[i]);
    free(c->arms);
    free(c->score);
    gsl_vector_free(c->u);
    gsl_vector_free(c->z);
    free(c);
}

pb_status contextual_add_arm(contextual *c, size_t *index, char *err)
{
    if (c->n_arms >= MAX_ARMS)
        return pb_errf(err, PB_ERR_LIMIT, "a contextual bandit holds at most %d arms", MAX_ARMS);
    if (c->n_arms == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 4;
        struct ctx_arm *arms = realloc(c->arms, cap * sizeof *arms);
        if (!arms)
            return pb_errf(err, PB_ERR_NOMEM, "out of memory");
        c->arms = arms;
        double *score = realloc(c->score, cap * sizeof *score);
        if (!score)
            return pb_errf(err, PB_ERR_NOMEM, "out of memory");
        c->score = score;
        c->cap = cap;
    }
    size_t d = c->dim;
    struct ctx_arm a = {.a = gsl_matrix_alloc(d, d),
                        .a_inv = gsl_matrix_alloc(d, d),
                        .chol = gsl_matrix_alloc(d, d),
                        .b = gsl_vector_calloc(d),
                        .theta = gsl_vector_calloc(d),
                        .active = 1,
                        .chol_stale = 1};
    if (!a.a || !a.a_inv || !a.chol || !a.b || !a.theta) {
        arm_release(&a);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory for an arm of dimension %zu", d);
    }
    gsl_matrix_set_identity(a.a);
    gsl_matrix_scale(a.a, c->policy.lambda);
    gsl_matrix_set_identity(a.a_inv);
    gsl_matrix_scale(a.a_inv, 1 / c->policy.lambda);
    c->arms[c->n_arms] = a;
    if (index)
        *index = c->n_arms;
    c->n_arms++;
    c->n_active++;
    return PB_OK;
}

pb_status contextual_new(const contextual_policy *policy, size_t n_arms, size_t dim,
                         contextual **out, char *err)
{
    *out = NULL;
    if (dim < 1 || dim > MAX_DIM)
        return pb_errf(err, PB_ERR_INVALID, "feature dimension must be in [1, %d], got %zu",
                       MAX_DIM, dim);
    if (!(policy->lambda > 0))
        return pb_errf(err, PB_ERR_INVALID, "lambda must be positive");
    contextual *c = calloc(1, sizeof *c);
    if (!c)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    c->policy = *policy;
    c->dim = dim;
    c->u = gsl_vector_alloc(dim);
    c->z = gsl_vector_alloc(dim);
    pb_status rc = c->u && c->z ? PB_OK : pb_errf(err, PB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n_arms && rc == PB_OK; i++)
        rc = contextual_add_arm(c, NULL, err);
    if (rc != PB_OK) {
        contextual_free(c);
        return rc;
    }
    *out = c;
    return PB_OK;
}

pb_status contextual_set_active(contextual *c, size_t arm, int active, char *err)
{
    if (arm >= c->n_arms)
        return pb_errf(err, PB_ERR_INVALID, "no arm %zu (there are %zu)", arm, c->n_arms);
    active = active != 0;
    if (c->arms[arm].active != active)
        c->n_active += active ? 1 : (size_t)-1;
    c->arms[arm].active = active;
    return PB_OK;
}

size_t contextual_arm_count(const contextual *c)
{
    return c->n_arms;
}

/* ---- maths ----------------------------------------------------------------------------- */

static pb_status check_x(const contextual *c, const double *x, char *err)
{
    for (size_t i = 0; i < c->dim; i++)
        if (!isfinite(x[i]) || fabs(x[i]) > MAX_FEATURE)
            return pb_errf(err, PB_ERR_INVALID, "feature %zu must be finite and within 1e6, got %g",
                           i, x[i]);
    return PB_OK;
}

static pb_status check_observation(const contextual *c, size_t arm, const double *x, double r,
                                   char *err)
{
    if (arm >= c->n_arms)
        return pb_errf(err, PB_ERR_INVALID, "no arm %zu (there are %zu)", arm, c->n_arms);
    if (!isfinite(r) || r < -1 || r > 1)
        return pb_errf(err, PB_ERR_INVALID, "reward must be a number in [-1, 1], got %g", r);
    return check_x(c, x, err);
}

/* x' M x for a symmetric matrix, without scratch. */
static double quad_form(const gsl_matrix *m, const double *x, size_t d)
{
    double q = 0;
    for (size_t i = 0; i < d; i++) {
        const double *row = gsl_matrix_const_ptr(m, i, 0);
        double s = 0;
        for (size_t j = 0; j < d; j++)
            s += row[j] * x[j];
        q += x[i] * s;
    }
    return q;
}

static double dot(const gsl_vector *v, const double *x, size_t d)
{
    double s = 0;
    for (size_t i = 0; i < d; i++)
        s += gsl_vector_get(v, i) * x[i];
    return s;
}

/* A^-1 and the Cholesky factor recomputed from A; A = lambda I + sum x x' stays positive
 * definite (eigenvalues >= lambda) as long as forget only removes what was added. */
static void arm_refresh(struct ctx_arm *a)
{
    gsl_matrix_memcpy(a->chol, a->a);
    gsl_linalg_cholesky_decomp1(a->chol);
    gsl_matrix_memcpy(a->a_inv, a->chol);
    gsl_linalg_cholesky_invert(a->a_inv);
    a->chol_stale = 0;
    a->since_refresh = 0;
}

/* Rank-one change of arm's model by sign * x x' and sign * r x (sign = +1 add, -1 remove). */
static pb_status arm_update(contextual *c, struct ctx_arm *a, const double *x, double r,
                            double sign)
{
    gsl_vector_const_view xv = gsl_vector_const_view_array(x, c->dim);
    gsl_blas_dgemv(CblasNoTrans, 1, a->a_inv, &xv.vector, 0, c->u);
    double den = 1 + sign * dot(c->u, x, c->dim);
    if (den <= 1e-9)
        return PB_ERR_CONFLICT;
    gsl_blas_dger(-sign / den, c->u, c->u, a->a_inv);
    gsl_blas_dger(sign, &xv.vector, &xv.vector, a->a);
    gsl_blas_daxpy(sign * r, &xv.vector, a->b);
    a->chol_stale = 1;
    if (++a->since_refresh >= REFRESH)
        arm_refresh(a);
    gsl_blas_dgemv(CblasNoTrans, 1, a->a_inv, a->b, 0, a->theta);
    return PB_OK;
}

pb_status contextual_observe(contextual *c, size_t arm, const double *x, double reward, char *err)
{
    pb_status rc = check_observation(c, arm, x, reward, err);
    if (rc != PB_OK)
        return rc;
    if (arm_update(c, &c->arms[arm], x, reward, 1) != PB_OK)
        return pb_errf(err, PB_ERR_INVALID, "features too large for a stable update");
    c->arms[arm].n++;
    return PB_OK;
}

pb_status contextual_forget(contextual *c, size_t arm, const double *x, double reward, char *err)
{
    pb_status rc = check_observation(c, arm, x, reward, err);
    if (rc != PB_OK)
        return rc;
    if (c->arms[arm].n == 0 || arm_update(c, &c->arms[arm], x, reward, -1) != PB_OK)
        return pb_errf(err, PB_ERR_CONFLICT, "arm %zu never observed these features", arm);
    c->arms[arm].n--;
    return PB_OK;
}

pb_status contextual_predict(const contextual *c, size_t arm, const double *x, double *mean,
                             double *width, uint64_t *pulls, char *err)
{
    if (arm >= c->n_arms)
        return pb_errf(err, PB_ERR_INVALID, "no arm %zu (there are %zu)", arm, c->n_arms);
    pb_status rc = check_x(c, x, err);
    if (rc != PB_OK)
        return rc;
    const struct ctx_arm *a = &c->arms[arm];
    *mean = dot(a->theta, x, c->dim);
    *width = sqrt(fmax(0, quad_form(a->a_inv, x, c->dim)));
    *pulls = a->n;
    return PB_OK;
}

/* ---- select ---------------------------------------------------------------------------- */

/* LinTS score: theta.x + v * (L^-T z).x with z standard normal, i.e. a draw of the reward at
 * x under theta ~ N(theta_hat, v^2 A^-1). */
static double lints_score(contextual *c, struct ctx_arm *a, const double *x, gsl_rng *rng)
{
    if (a->chol_stale)
        arm_refresh(a);
    for (size_t i = 0; i < c->dim; i++)
        gsl_vector_set(c->z, i, gsl_ran_gaussian_ziggurat(rng, 1));
    gsl_blas_dtrsv(CblasLower, CblasTrans, CblasNonUnit, a->chol, c->z);
    return dot(a->theta, x, c->dim) + c->policy.v * dot(c->z, x, c->dim);
}

static void scores(contextual *c, const double *x, gsl_rng *rng, uint64_t min_pulls)
{
    for (size_t i = 0; i < c->n_arms; i++) {
        struct ctx_arm *a = &c->arms[i];
        if (!a->active)
            continue;
        if (a->n < min_pulls)
            c->score[i] = INFINITY;
        else if (c->policy.kind == CONTEXTUAL_LINUCB)
            c->score[i] = dot(a->theta, x, c->dim) +
                          c->policy.alpha * sqrt(fmax(0, quad_form(a->a_inv, x, c->dim)));
        else
            c->score[i] = lints_score(c, a, x, rng);
    }
}

static size_t argmax(const contextual *c, gsl_rng *rng, size_t *ties)
{
    size_t pick = SIZE_MAX, count = 0;
    for (size_t i = 0; i < c->n_arms; i++) {
        if (!c->arms[i].active)
            continue;
        if (pick == SIZE_MAX || c->score[i] > c->score[pick])
            pick = i, count = 1;
        else if (c->score[i] == c->score[pick])
            count++;
    }
    if (count > 1) {
        double best = c->score[pick];
        size_t k = (size_t)gsl_rng_uniform_int(rng, count);
        for (size_t i = 0; i < c->n_arms; i++)
            if (c->arms[i].active && c->score[i] == best && k-- == 0) {
                pick = i;
                break;
            }
    }
    *ties = count;
    return pick;
}

/* The checks and the first scoring round shared by select and choice_probabilities: an active
 * arm must exist and x must have the right dimension; *pick is the argmax over *ties tied arms
 * and *min_pulls the burn-in the scores used. */
static pb_status first_choice(contextual *c, const double *x, gsl_rng *rng, uint64_t *min_pulls,
                              size_t *pick, size_t *ties, char *err)
{
    if (c->n_active == 0)
        return pb_errf(err, PB_ERR_CONFLICT, "no active arm to choose from");
    pb_status rc = check_x(c, x, err);
    if (rc != PB_OK)
        return rc;
    *min_pulls = c->policy.burnin > 1 ? (uint64_t)c->policy.burnin : 1;
    scores(c, x, rng, *min_pulls);
    *pick = argmax(c, rng, ties);
    return PB_OK;
}

pb_status contextual_select(contextual *c, const double *x, gsl_rng *rng, size_t *arm,
                            double *propensity, char *err)
{
    uint64_t min_pulls;
    size_t pick, ties;
    pb_status rc = first_choice(c, x, rng, &min_pulls, &pick, &ties, err);
    if (rc != PB_OK)
        return rc;
    int random_policy = c->policy.kind == CONTEXTUAL_LINTS && !isinf(c->score[pick]);
    if (propensity && !random_policy) {
        *propensity = 1.0 / (double)ties;
    } else if (propensity) {
        long wins = 1; /* the choosing draw counts, so a chosen arm never gets 0 */
        for (long d = 0; d < c->policy.draws; d++) {
            scores(c, x, rng, min_pulls);
            wins += argmax(c, rng, &ties) == pick;
        }
        *propensity = (double)wins / (double)(c->policy.draws + 1);
    }
    *arm = pick;
    return PB_OK;
}

pb_status contextual_choice_probabilities(contextual *c, const double *x, gsl_rng *rng, long draws,
                                          double *out, char *err)
{
    if (c->n_active == 0)
        return pb_errf(err, PB_ERR_CONFLICT, "no active arm to choose from");
    if (draws < 1)
        return pb_errf(err, PB_ERR_INVALID, "draws must be at least 1, got %ld", draws);
    uint64_t min_pulls;
    size_t pick, ties;
    pb_status rc = first_choice(c, x, rng, &min_pulls, &pick, &ties, err);
    if (rc != PB_OK)
        return rc;
    memset(out, 0, c->n_arms * sizeof *out);
    if (c->policy.kind == CONTEXTUAL_LINUCB || isinf(c->score[pick])) {
        /* deterministic scores (burn-in ones are +inf): uniform over the tied maxima */
        for (size_t i = 0; i < c->n_arms; i++)
            out[i] = c->arms[i].active && c->score[i] == c->score[pick] ? 1.0 / (double)ties : 0;
        return PB_OK;
    }
    for (long d = 0; d < draws; d++) {
        scores(c, x, rng, min_pulls);
        out[argmax(c, rng, &ties)] += 1.0 / (double)draws;
    }
    return PB_OK;
}
