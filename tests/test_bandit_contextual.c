/* test_bandit_contextual.c — LinUCB and linear Thompson sampling: the ridge estimate against
 * a hand-solved case, learning a context-dependent best arm that no context-free policy can
 * find, burn-in, forget, propensities, and refusal of bad features and rewards. */
#include "check.h"
#include "bandit/contextual.h"
#include "base/pb.h"

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>

static contextual *make(const char *spec, size_t arms, size_t dim)
{
    char err[PB_ERR_LEN];
    contextual_policy p;
    contextual *c = NULL;
    if (contextual_policy_parse(spec, &p, err) != PB_OK ||
        contextual_new(&p, arms, dim, &c, err) != PB_OK) {
        fprintf(stderr, "%s: %s\n", spec, err);
        exit(1);
    }
    return c;
}

static const struct {
    const char *spec;
    int status;
} spec_cases[] = {
    {"linucb", PB_OK},
    {"linucb:alpha=0.5,lambda=2,burnin=3", PB_OK},
    {"lints:v=0.2,draws=100", PB_OK},
    {"linucb:v=1", PB_ERR_INVALID},
    {"lints:alpha=1", PB_ERR_INVALID},
    {"linucb:alpha=0", PB_ERR_INVALID},
    {"linucb:alpha=nan", PB_ERR_INVALID},
    {"lints:draws=0", PB_ERR_INVALID},
    {"linucb:burnin=1.5", PB_ERR_INVALID},
    {"linucb:", PB_ERR_INVALID},
    {"linear", PB_ERR_INVALID},
};

static void test_policy_specs_table(void)
{
    for (size_t i = 0; i < sizeof spec_cases / sizeof spec_cases[0]; i++) {
        char err[PB_ERR_LEN];
        contextual_policy p;
        int rc = contextual_policy_parse(spec_cases[i].spec, &p, err);
        if (rc != spec_cases[i].status)
            fprintf(stderr, "case %s: %d\n", spec_cases[i].spec, rc);
        CHECK_INT(rc, spec_cases[i].status);
    }
}

/* lambda = 1, observations x=(1,0) r=1, x=(1,1) r=0.5, x=(1,1) r=-0.5:
 * A = [[4,2],[2,3]], b = (1, 0), theta = A^-1 b = (3, -2)/8; at x=(1,1): mean 0.125,
 * x'A^-1 x = (3 - 2 - 2 + 4)/8 = 0.375. */
static void test_ridge_estimate_matches_a_hand_solved_case(void)
{
    char err[PB_ERR_LEN];
    contextual *c = make("linucb:lambda=1", 1, 2);
    const double x1[2] = {1, 0}, x2[2] = {1, 1};
    CHECK_INT(contextual_observe(c, 0, x1, 1, err), PB_OK);
    CHECK_INT(contextual_observe(c, 0, x2, 0.5, err), PB_OK);
    CHECK_INT(contextual_observe(c, 0, x2, -0.5, err), PB_OK);
    double mean, width;
    uint64_t pulls;
    CHECK_INT(contextual_predict(c, 0, x2, &mean, &width, &pulls, err), PB_OK);
    CHECK_NEAR(mean, 0.125, 1e-12);
    CHECK_NEAR(width, sqrt(0.375), 1e-12);
    CHECK_INT(pulls, 3);
    CHECK_INT(contextual_predict(c, 0, x1, &mean, &width, &pulls, err), PB_OK);
    CHECK_NEAR(mean, 0.375, 1e-12);
    contextual_free(c);
}

/* After 2500 updates (two exact refreshes of A^-1 among the rank-one updates) the estimate
 * still equals the ridge solution computed directly. */
static void test_long_run_matches_a_direct_ridge_solve(void)
{
    char err[PB_ERR_LEN];
    enum { D = 3, N = 2500 };
    contextual *c = make("linucb:lambda=0.5", 1, D);
    gsl_rng *env = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_matrix *a = gsl_matrix_alloc(D, D);
    gsl_vector *b = gsl_vector_calloc(D), *theta = gsl_vector_alloc(D);
    gsl_matrix_set_identity(a);
    gsl_matrix_scale(a, 0.5);
    for (int t = 0; t < N; t++) {
        double x[D] = {1, gsl_rng_uniform(env), gsl_rng_uniform(env) - 0.5};
        double r = fmin(1, fmax(-1, 0.3 * x[1] - 0.5 * x[2] + 0.2 * gsl_ran_gaussian(env, 1)));
        contextual_observe(c, 0, x, r, err);
        for (int i = 0; i < D; i++) {
            gsl_vector_set(b, i, gsl_vector_get(b, i) + r * x[i]);
            for (int j = 0; j < D; j++)
                gsl_matrix_set(a, i, j, gsl_matrix_get(a, i, j) + x[i] * x[j]);
        }
    }
    gsl_linalg_cholesky_decomp1(a);
    gsl_linalg_cholesky_solve(a, b, theta);
    const double probe[D] = {1, 0.7, -0.2};
    double mean, width;
    uint64_t n;
    contextual_predict(c, 0, probe, &mean, &width, &n, err);
    double direct = 0;
    for (int i = 0; i < D; i++)
        direct += gsl_vector_get(theta, i) * probe[i];
    CHECK_NEAR(mean, direct, 1e-9);
    CHECK_NEAR(gsl_vector_get(theta, 1), 0.3, 0.05); /* and it recovers the true weights */
    gsl_matrix_free(a);
    gsl_vector_free(b);
    gsl_vector_free(theta);
    gsl_rng_free(env);
    contextual_free(c);
}

/* Arm 0 pays +0.6 when s = 0 and -0.6 when s = 1, arm 1 the reverse (x = (1, s)); each arm
 * is right half of the time, so only a contextual policy can be right almost always. */
static double late_accuracy(const char *spec)
{
    char err[PB_ERR_LEN];
    contextual *c = make(spec, 2, 2);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937), *env = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 1);
    gsl_rng_set(env, 2);
    long right = 0;
    for (int t = 0; t < 3000; t++) {
        double s = gsl_rng_uniform(env) < 0.5 ? 0 : 1, x[2] = {1, s};
        size_t arm;
        contextual_select(c, x, rng, &arm, NULL, err);
        double mean = (arm == 0) == (s == 0) ? 0.6 : -0.6;
        double r = fmin(1, fmax(-1, mean + 0.3 * gsl_ran_gaussian(env, 1)));
        contextual_observe(c, arm, x, r, err);
        right += t >= 2000 && mean > 0;
    }
    gsl_rng_free(rng);
    gsl_rng_free(env);
    contextual_free(c);
    return right / 1000.0;
}

static void test_context_dependent_best_arm_is_learned(void)
{
    double ucb = late_accuracy("linucb:alpha=0.5"), ts = late_accuracy("lints:v=0.2");
    fprintf(stderr, "late accuracy: linucb %.3f lints %.3f\n", ucb, ts);
    CHECK(ucb > 0.95);
    CHECK(ts > 0.95);
}

static void test_burnin_and_forget(void)
{
    char err[PB_ERR_LEN];
    contextual *c = make("linucb:burnin=3", 3, 2), *ref = make("linucb:burnin=3", 3, 2);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    const double x[2] = {1, 0.5}, y[2] = {1, -2};
    for (int t = 0; t < 9; t++) {
        size_t arm;
        double prop;
        CHECK_INT(contextual_select(c, x, rng, &arm, &prop, err), PB_OK);
        contextual_observe(c, arm, x, arm == 0 ? 1 : -1, err);
        contextual_observe(ref, arm, x, arm == 0 ? 1 : -1, err);
    }
    for (size_t a = 0; a < 3; a++) {
        double m, w;
        uint64_t n;
        contextual_predict(c, a, x, &m, &w, &n, err);
        CHECK_INT(n, 3);
    }
    CHECK_INT(contextual_observe(c, 1, y, 0.5, err), PB_OK);
    CHECK_INT(contextual_forget(c, 1, y, 0.5, err), PB_OK);
    for (size_t a = 0; a < 3; a++) {
        double m1, w1, m2, w2;
        uint64_t n1, n2;
        contextual_predict(c, a, y, &m1, &w1, &n1, err);
        contextual_predict(ref, a, y, &m2, &w2, &n2, err);
        CHECK_NEAR(m1, m2, 1e-9);
        CHECK_NEAR(w1, w2, 1e-9);
        CHECK_INT(n1, n2);
    }
    contextual *fresh = make("lints", 1, 2);
    CHECK_INT(contextual_forget(fresh, 0, y, 0.5, err), PB_ERR_CONFLICT);
    contextual_free(fresh);
    gsl_rng_free(rng);
    contextual_free(c);
    contextual_free(ref);
}

static void test_propensity_and_retired_arms(void)
{
    char err[PB_ERR_LEN];
    contextual *c = make("lints:v=0.5,draws=4000", 3, 1);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    const double x[1] = {1};
    for (size_t a = 0; a < 3; a++)
        for (int i = 0; i < 5; i++)
            contextual_observe(c, a, x, 0, err); /* three identical arms */
    contextual_set_active(c, 2, 0, err);
    double sum = 0;
    for (int t = 0; t < 200; t++) {
        size_t arm;
        double prop;
        CHECK_INT(contextual_select(c, x, rng, &arm, &prop, err), PB_OK);
        CHECK(arm < 2);
        sum += prop;
    }
    CHECK_NEAR(sum / 200, 0.5, 0.02);
    gsl_rng_free(rng);
    contextual_free(c);
}

static void test_bad_features_and_rewards_change_nothing(void)
{
    char err[PB_ERR_LEN];
    contextual *c = make("linucb", 2, 2);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    const double ok[2] = {1, 0}, nan_x[2] = {1, NAN}, huge[2] = {1, 1e7};
    size_t arm;
    CHECK_INT(contextual_observe(c, 0, nan_x, 0.5, err), PB_ERR_INVALID);
    CHECK(strstr(err, "feature 1") != NULL);
    CHECK_INT(contextual_observe(c, 0, huge, 0.5, err), PB_ERR_INVALID);
    CHECK_INT(contextual_observe(c, 0, ok, 1.5, err), PB_ERR_INVALID);
    CHECK_INT(contextual_observe(c, 5, ok, 0.5, err), PB_ERR_INVALID);
    CHECK_INT(contextual_select(c, nan_x, rng, &arm, NULL, err), PB_ERR_INVALID);
    double m, w;
    uint64_t n;
    contextual_predict(c, 0, ok, &m, &w, &n, err);
    CHECK_INT(n, 0);
    CHECK_NEAR(m, 0, 0);
    contextual_policy p;
    contextual *bad;
    contextual_policy_parse("linucb", &p, err);
    CHECK_INT(contextual_new(&p, 2, 0, &bad, err), PB_ERR_INVALID);
    gsl_rng_free(rng);
    contextual_free(c);
}

int main(void)
{
    RUN(test_policy_specs_table);
    RUN(test_ridge_estimate_matches_a_hand_solved_case);
    RUN(test_long_run_matches_a_direct_ridge_solve);
    RUN(test_context_dependent_best_arm_is_learned);
    RUN(test_burnin_and_forget);
    RUN(test_propensity_and_retired_arms);
    RUN(test_bad_features_and_rewards_change_nothing);
    CHECK_DONE();
}
