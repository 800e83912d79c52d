/* test_bandit_propensity.c — Thompson sampling's propensity without Monte Carlo: two Gaussian
 * arms get the closed form (a hand-computed case); pbest_prob agrees with a large Monte Carlo
 * estimate for Gaussian and Beta posteriors of 3 to 8 arms, including very narrow beside very
 * wide posteriors and Betas pressed against 0 or 1 with fractional parameters, and the
 * probabilities of all arms sum to 1; the propensity select reports is the frequency with
 * which select actually picks each arm; it follows observe and forget and ignores retired
 * arms; select with a propensity draws no extra random numbers. */
#include "bandit/bandit.h"
#include "bandit/pbest.h"
#include "bandit/policyspec.h"
#include "base/pb.h"
#include "check.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

static gsl_rng *rng_seeded(unsigned long seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    return r;
}

static bandit *make(const char *spec, size_t arms)
{
    char err[PB_ERR_LEN];
    bandit_policy p;
    bandit *b = NULL;
    if (policyspec_parse(spec, &p, err) != PB_OK || bandit_new(&p, arms, &b, err) != PB_OK) {
        fprintf(stderr, "%s: %s\n", spec, err);
        exit(1);
    }
    return b;
}

static void observe_n(bandit *b, size_t arm, int n, double reward)
{
    char err[PB_ERR_LEN];
    for (int i = 0; i < n; i++)
        CHECK_INT(bandit_observe(b, arm, reward, err), PB_OK);
}

/* Selects until every active arm was picked (at most 20000 times); props[a] gets the
 * propensity reported with arm a (-1 when never picked). */
static void propensity_of_each(bandit *b, gsl_rng *rng, double *props, size_t k)
{
    char err[PB_ERR_LEN];
    for (size_t a = 0; a < k; a++)
        props[a] = -1;
    for (int t = 0; t < 20000; t++) {
        size_t arm;
        double p;
        CHECK_INT(bandit_select(b, rng, &arm, &p, err), PB_OK);
        if (props[arm] >= 0)
            CHECK_NEAR(p, props[arm], 0); /* the same state gives the same number */
        props[arm] = p;
    }
}

/* arm 0: three rewards 0.5 (mean 0.5, posterior sd 1/sqrt(4) = 0.5); arm 1: eight rewards
 * -0.1 (mean -0.1, sd 1/3). P(arm 0) = Phi(0.6 / sqrt(0.25 + 1/9)) = Phi(0.998460)
 * = 0.8409719. */
static void test_two_gaussian_arms_get_the_closed_form(void)
{
    bandit *b = make("thompson", 2);
    gsl_rng *rng = rng_seeded(5);
    observe_n(b, 0, 3, 0.5);
    observe_n(b, 1, 8, -0.1);
    double props[2];
    propensity_of_each(b, rng, props, 2);
    CHECK_NEAR(props[0], 0.8409719098, 1e-9);
    CHECK_NEAR(props[1], 1 - 0.8409719098, 1e-9);
    gsl_rng_free(rng);
    bandit_free(b);
}

/* ---- pbest against Monte Carlo ---------------------------------------------------------- */

#define MC_DRAWS 200000

struct case_ {
    int beta;
    size_t k;
    double mean[8], sd[8]; /* Gaussian */
    double a[8], b[8];     /* Beta */
    const char *what;
};

static void check_against_monte_carlo(const struct case_ *c, gsl_rng *rng)
{
    static struct pbest_table tables[8];
    struct pbest_arm arms[8];
    double p[8], wins[8] = {0}, sum = 0;
    for (size_t j = 0; j < c->k; j++) {
        if (c->beta) {
            tables[j].a = 0;
            pbest_table_build(&tables[j], c->a[j], c->b[j]);
            arms[j] = (struct pbest_arm){.beta = &tables[j]};
        } else {
            arms[j] = (struct pbest_arm){.mean = c->mean[j], .sd = c->sd[j]};
        }
    }
    for (size_t j = 0; j < c->k; j++)
        sum += p[j] = pbest_prob(arms, c->k, j);
    for (long d = 0; d < MC_DRAWS; d++) {
        size_t best = 0;
        double top = -INFINITY;
        for (size_t j = 0; j < c->k; j++) {
            double x = c->beta ? gsl_ran_beta(rng, c->a[j], c->b[j])
                               : c->mean[j] + c->sd[j] * gsl_ran_gaussian_ziggurat(rng, 1);
            if (x > top) {
                top = x;
                best = j;
            }
        }
        wins[best]++;
    }
    CHECK_NEAR(sum, 1, 1e-5);
    for (size_t j = 0; j < c->k; j++) {
        double mc = wins[j] / MC_DRAWS;
        double tol = 5 * sqrt(fmax(mc * (1 - mc), 1e-4) / MC_DRAWS);
        if (fabs(p[j] - mc) > tol)
            fprintf(stderr, "%s: arm %zu: pbest %.5f, Monte Carlo %.5f\n", c->what, j, p[j], mc);
        CHECK_NEAR(p[j], mc, tol);
    }
}

static void test_pbest_agrees_with_monte_carlo(void)
{
    gsl_rng *rng = rng_seeded(77);
    const struct case_ cases[] = {
        {.k = 3, .mean = {0.1, 0.15, 0.05}, .sd = {0.1, 0.12, 0.08}, .what = "gauss close"},
        {.k = 3,
         .mean = {0.10, 0.00, 0.05},
         .sd = {0.007, 0.5, 0.14},
         .what = "gauss narrow beside wide"},
        {.k = 5,
         .mean = {0.3, 0.31, 0.29, 0.2, 0.35},
         .sd = {0.02, 0.03, 0.01, 0.2, 0.05},
         .what = "gauss five"},
        {.k = 8,
         .mean = {0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07},
         .sd = {0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05},
         .what = "gauss eight"},
        {.beta = 1, .k = 2, .a = {6.5, 9}, .b = {4.5, 7}, .what = "beta two"},
        {.beta = 1, .k = 3, .a = {30, 33, 2.4}, .b = {20, 19, 1.6}, .what = "beta three"},
        {.beta = 1,
         .k = 4,
         .a = {1.3, 2.7, 1, 1.8},
         .b = {40, 60, 25, 33},
         .what = "beta pressed against 0, fractional"},
        {.beta = 1,
         .k = 4,
         .a = {500.6, 90.5, 14.2, 6.3},
         .b = {1.4, 1.2, 1.1, 1},
         .what = "beta pressed against 1, fractional"},
        {.beta = 1,
         .k = 3,
         .a = {5001, 4.5, 160},
         .b = {4999, 3.5, 150},
         .what = "beta narrow beside wide"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_against_monte_carlo(&cases[i], rng);
    gsl_rng_free(rng);
}

/* ---- the propensity select reports ------------------------------------------------------ */

static void test_select_picks_each_arm_as_often_as_its_propensity_says(void)
{
    char err[PB_ERR_LEN];
    const char *specs[] = {"thompson", "thompson-beta"};
    for (int s = 0; s < 2; s++) {
        bandit *b = make(specs[s], 4);
        gsl_rng *rng = rng_seeded(31);
        const double means[4] = {0.2, 0.3, 0.25, -0.1};
        const int pulls[4] = {12, 30, 20, 6};
        for (size_t a = 0; a < 4; a++)
            observe_n(b, a, pulls[a], means[a]);
        enum { N = 100000 };
        double prop[4] = {0}, count[4] = {0};
        for (int t = 0; t < N; t++) {
            size_t arm;
            double p;
            CHECK_INT(bandit_select(b, rng, &arm, &p, err), PB_OK);
            count[arm]++;
            prop[arm] = p;
        }
        for (size_t a = 0; a < 4; a++) {
            double freq = count[a] / N, tol = 5 * sqrt(freq * (1 - freq) / N) + 1e-6;
            if (fabs(prop[a] - freq) > tol)
                fprintf(stderr, "%s arm %zu: propensity %.5f, picked %.5f\n", specs[s], a, prop[a],
                        freq);
            CHECK_NEAR(prop[a], freq, tol);
        }
        gsl_rng_free(rng);
        bandit_free(b);
    }
}

static void test_the_propensity_follows_observe_and_forget(void)
{
    char err[PB_ERR_LEN];
    const char *specs[] = {"thompson", "thompson-beta"};
    for (int s = 0; s < 2; s++) {
        bandit *b = make(specs[s], 3);
        gsl_rng *rng = rng_seeded(8);
        observe_n(b, 0, 10, 0.4);
        observe_n(b, 1, 10, 0.3);
        observe_n(b, 2, 10, 0.2);
        double before[3], after[3], again[3];
        propensity_of_each(b, rng, before, 3);
        observe_n(b, 2, 5, 1); /* arm 2 catches up */
        propensity_of_each(b, rng, after, 3);
        CHECK(after[2] > before[2] + 0.05);
        CHECK(after[0] < before[0]);
        CHECK_NEAR(after[0] + after[1] + after[2], 1, 1e-5);
        for (int i = 0; i < 5; i++)
            CHECK_INT(bandit_forget(b, 2, 1, err), PB_OK);
        propensity_of_each(b, rng, again, 3);
        for (int a = 0; a < 3; a++)
            CHECK_NEAR(again[a], before[a], 1e-9);
        gsl_rng_free(rng);
        bandit_free(b);
    }
}

static void test_retired_arms_do_not_count(void)
{
    char err[PB_ERR_LEN];
    bandit *b = make("thompson", 3);
    gsl_rng *rng = rng_seeded(12);
    observe_n(b, 0, 3, 0.5);
    observe_n(b, 1, 8, -0.1);
    observe_n(b, 2, 50, 0.9); /* would win nearly always */
    CHECK_INT(bandit_set_active(b, 2, 0, err), PB_OK);
    double props[3];
    propensity_of_each(b, rng, props, 3);
    CHECK_NEAR(props[0], 0.8409719098, 1e-9); /* the two-arm case above */
    CHECK_NEAR(props[2], -1, 0);              /* never picked */
    gsl_rng_free(rng);
    bandit_free(b);
}

/* Asking for the propensity must not change what select picks: it draws nothing. */
static void test_asking_for_the_propensity_draws_no_random_numbers(void)
{
    char err[PB_ERR_LEN];
    bandit *x = make("thompson-beta", 5), *y = make("thompson-beta", 5);
    gsl_rng *rx = rng_seeded(99), *ry = rng_seeded(99), *env = rng_seeded(3);
    int same = 1;
    for (int t = 0; t < 500; t++) {
        size_t ax, ay;
        double p;
        bandit_select(x, rx, &ax, &p, err);
        bandit_select(y, ry, &ay, NULL, err);
        same &= ax == ay;
        double r = gsl_rng_uniform(env) < 0.3 + 0.1 * (double)ax ? 1 : -1;
        bandit_observe(x, ax, r, err);
        bandit_observe(y, ay, r, err);
    }
    CHECK(same);
    gsl_rng_free(rx);
    gsl_rng_free(ry);
    gsl_rng_free(env);
    bandit_free(x);
    bandit_free(y);
}

int main(void)
{
    RUN(test_two_gaussian_arms_get_the_closed_form);
    RUN(test_pbest_agrees_with_monte_carlo);
    RUN(test_select_picks_each_arm_as_often_as_its_propensity_says);
    RUN(test_the_propensity_follows_observe_and_forget);
    RUN(test_retired_arms_do_not_count);
    RUN(test_asking_for_the_propensity_draws_no_random_numbers);
    CHECK_DONE();
}
