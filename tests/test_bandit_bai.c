/* test_bandit_bai.c — best-arm identification: each sampling rule's behaviour (uniform is
 * round-robin, LUCB samples the empirical best and a challenger in pairs, successive elimination
 * drops a clearly worse arm and never samples it again, Top-Two Thompson gives the leader about
 * beta of the samples and the others the rest), every rule stopping with the right arm on an
 * easy instance, the stop agreeing with glr_verdict_of, bounded rewards, bad options, and the
 * characteristic time T*(mu) against a brute-force search and a known two-arm case. */
#include "check.h"
#include "bandit/bai.h"
#include "bandit/glr.h"
#include "base/pb.h"

#include <gsl/gsl_rng.h>
#include <math.h>

static gsl_rng *rng_seeded(unsigned long seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    return r;
}

static bai *make(bai_rule rule, size_t k, double delta)
{
    char err[PB_ERR_LEN];
    struct bai_options o = {.rule = rule, .delta = delta, .lo = 0, .hi = 1};
    bai *s = NULL;
    if (bai_new(&o, k, &s, err) != PB_OK) {
        fprintf(stderr, "bai_new: %s\n", err);
        exit(1);
    }
    return s;
}

/* Runs one identification on Bernoulli arms mu; returns the samples used, *leader the arm. */
static long identify(bai *s, const double *mu, gsl_rng *rng, gsl_rng *env, long budget,
                     long *counts, size_t *leader, int *stopped)
{
    char err[PB_ERR_LEN];
    struct bai_status st = {0};
    long t = 0;
    bai_reset(s);
    for (; t < budget; t++) {
        size_t a;
        CHECK_INT(bai_next(s, rng, &a, err), PB_OK);
        if (counts)
            counts[a]++;
        CHECK_INT(bai_observe(s, a, gsl_rng_uniform(env) < mu[a] ? 1 : 0, err), PB_OK);
        CHECK_INT(bai_check(s, &st, err), PB_OK);
        if (st.stop)
            break;
    }
    *leader = st.leader;
    *stopped = st.stop;
    return t + 1;
}

static void test_uniform_is_round_robin(void)
{
    char err[PB_ERR_LEN];
    bai *s = make(BAI_UNIFORM, 4, 0.05);
    gsl_rng *rng = rng_seeded(1);
    for (int t = 0; t < 40; t++) {
        size_t a;
        CHECK_INT(bai_next(s, rng, &a, err), PB_OK);
        CHECK_INT((int)a, t % 4);
        bai_observe(s, a, a == 0 ? 1 : 0, err);
    }
    gsl_rng_free(rng);
    bai_free(s);
}

/* After one reward each, LUCB works in rounds of two: the empirical best, then the other arm
 * with the highest upper bound — never the same arm twice in a round. */
static void test_lucb_samples_the_leader_and_a_challenger(void)
{
    char err[PB_ERR_LEN];
    const double mu[3] = {0.8, 0.5, 0.2};
    bai *s = make(BAI_LUCB, 3, 0.05);
    gsl_rng *rng = rng_seeded(2), *env = rng_seeded(3);
    for (int t = 0; t < 3; t++) {
        size_t a;
        bai_next(s, rng, &a, err);
        bai_observe(s, a, a == 0 ? 1 : 0, err); /* arm 0 leads from the start */
    }
    long leader_first = 0;
    for (int round = 0; round < 200; round++) {
        size_t h, l;
        CHECK_INT(bai_next(s, rng, &h, err), PB_OK);
        CHECK_INT(bai_next(s, rng, &l, err), PB_OK);
        CHECK(h != l);
        leader_first += h == 0;
        bai_observe(s, h, gsl_rng_uniform(env) < mu[h], err);
        bai_observe(s, l, gsl_rng_uniform(env) < mu[l], err);
    }
    CHECK(leader_first >= 190);
    gsl_rng_free(rng);
    gsl_rng_free(env);
    bai_free(s);
}

/* A hopeless arm is eliminated early and never sampled again; the run ends with one arm. */
static void test_successive_elimination_drops_a_bad_arm(void)
{
    char err[PB_ERR_LEN];
    const double mu[3] = {0.9, 0.7, 0.0};
    bai *s = make(BAI_SE, 3, 0.05);
    gsl_rng *rng = rng_seeded(4), *env = rng_seeded(5);
    struct bai_status st;
    long after_drop = 0;
    int dropped = 0;
    for (int t = 0; t < 5000; t++) {
        size_t a;
        if (bai_next(s, rng, &a, err) != PB_OK)
            break;
        after_drop += dropped && a == 2;
        bai_observe(s, a, gsl_rng_uniform(env) < mu[a], err);
        CHECK_INT(bai_check(s, &st, err), PB_OK);
        dropped |= st.alive < 3;
        if (st.stop)
            break;
    }
    CHECK(dropped);
    CHECK_INT(after_drop, 0);
    CHECK(st.stop);
    CHECK_INT((int)st.leader, 0);
    size_t a;
    if (st.alive == 1)
        CHECK_INT(bai_next(s, rng, &a, err), PB_ERR_CONFLICT);
    gsl_rng_free(rng);
    gsl_rng_free(env);
    bai_free(s);
}

/* Top-Two Thompson with beta = 1/2: the best arm gets about half of the samples (Russo's
 * rule), and the challengers the other half, most to the closest. */
static void test_tts_gives_the_leader_about_beta(void)
{
    const double mu[3] = {0.6, 0.5, 0.3};
    bai *s = make(BAI_TTS, 3, 1e-9); /* a tiny delta: a long run, no early stop */
    gsl_rng *rng = rng_seeded(6), *env = rng_seeded(7);
    long counts[3] = {0};
    size_t leader;
    int stopped;
    long n = identify(s, mu, rng, env, 20000, counts, &leader, &stopped);
    double share = (double)counts[0] / (double)n;
    fprintf(stderr, "tts shares: %.3f %.3f %.3f over %ld\n", share, (double)counts[1] / (double)n,
            (double)counts[2] / (double)n, n);
    CHECK(share > 0.42 && share < 0.6);
    CHECK(counts[1] > counts[2]);
    gsl_rng_free(rng);
    gsl_rng_free(env);
    bai_free(s);
}

/* Every rule stops on an easy instance and returns the best arm, in far fewer samples than
 * the budget; the stop is the GLR verdict's. */
static void test_every_rule_stops_with_the_right_arm(void)
{
    const double mu[4] = {0.3, 0.9, 0.5, 0.1};
    for (int r = BAI_TTS; r <= BAI_UNIFORM; r++) {
        bai *s = make((bai_rule)r, 4, 0.05);
        gsl_rng *rng = rng_seeded(10 + (unsigned long)r), *env = rng_seeded(20);
        for (int run = 0; run < 20; run++) {
            size_t leader;
            int stopped;
            long n = identify(s, mu, rng, env, 100000, NULL, &leader, &stopped);
            CHECK(stopped);
            CHECK_INT((int)leader, 1);
            CHECK(n < 2000);
        }
        gsl_rng_free(rng);
        gsl_rng_free(env);
        bai_free(s);
    }
}

/* Rewards on [-1, 1] (judge scores) are rescaled; the statistic equals glr_verdict_of's. */
static void test_bounded_rewards_and_the_verdict_agree(void)
{
    char err[PB_ERR_LEN];
    struct bai_options o = {.rule = BAI_UNIFORM, .delta = 0.1, .lo = -1, .hi = 1};
    bai *s;
    CHECK_INT(bai_new(&o, 2, &s, err), PB_OK);
    for (int i = 0; i < 30; i++) {
        bai_observe(s, 0, 0.5, err);
        bai_observe(s, 1, i % 2 ? -0.5 : 0, err);
    }
    struct bai_status st;
    CHECK_INT(bai_check(s, &st, err), PB_OK);
    struct glr_arm arms[2] = {{0.5, 30, 1}, {-0.25, 30, 1}};
    struct glr_verdict v;
    CHECK_INT(glr_verdict_of(arms, 2, -1, 1, 0.1, 1, &v, err), PB_OK);
    CHECK_NEAR(st.statistic, v.statistic, 1e-12);
    CHECK_NEAR(st.threshold, v.threshold, 1e-12);
    CHECK_INT(st.stop, v.separated);
    CHECK_INT((int)st.leader, 0);
    CHECK_INT(bai_observe(s, 0, 1.5, err), PB_ERR_INVALID);
    CHECK_INT(bai_observe(s, 0, NAN, err), PB_ERR_INVALID);
    CHECK_INT(bai_observe(s, 2, 0, err), PB_ERR_INVALID);
    bai_free(s);
}

static void test_bad_options_and_rule_names(void)
{
    char err[PB_ERR_LEN];
    bai *s = NULL;
    struct bai_options ok = {.rule = BAI_TTS, .delta = 0.05, .lo = 0, .hi = 1};
    struct bai_options bad = ok;
    CHECK_INT(bai_new(&ok, 1, &s, err), PB_ERR_INVALID);
    bad.delta = 1;
    CHECK_INT(bai_new(&bad, 3, &s, err), PB_ERR_INVALID);
    bad = ok;
    bad.hi = 0;
    CHECK_INT(bai_new(&bad, 3, &s, err), PB_ERR_INVALID);
    bad = ok;
    bad.beta = 1;
    CHECK_INT(bai_new(&bad, 3, &s, err), PB_ERR_INVALID);
    CHECK(s == NULL);
    bai_rule r;
    const char *names[] = {"tts", "lucb", "se", "uniform"};
    for (int i = 0; i < 4; i++) {
        CHECK_INT(bai_rule_parse(names[i], &r, err), PB_OK);
        CHECK_STR(bai_rule_name(r), names[i]);
    }
    CHECK_INT(bai_rule_parse("racing", &r, err), PB_ERR_INVALID);
    CHECK(strstr(err, "tts") != NULL);
}

/* T*(mu)^-1 = max over w of min over a != best of [w1 kl(mu1, m) + wa kl(mua, m)]: a grid search
 * over the simplex agrees with the bisection, and the optimal weights sum to 1. */
static double brute_inverse(const double *mu, double w0, double w1, double w2)
{
    double w[3] = {w0, w1, w2}, worst = INFINITY;
    for (int a = 1; a < 3; a++) {
        double m = (w[0] * mu[0] + w[a] * mu[a]) / (w[0] + w[a]);
        worst = fmin(worst, w[0] * glr_kl(mu[0], m) + w[a] * glr_kl(mu[a], m));
    }
    return worst;
}

static void test_characteristic_time(void)
{
    char err[PB_ERR_LEN];
    const double mu[3] = {0.7, 0.5, 0.3};
    double t, w[3];
    CHECK_INT(glr_characteristic_time(mu, 3, &t, w, err), PB_OK);
    double best = 0;
    for (int i = 1; i < 400; i++)
        for (int j = 1; i + j < 400; j++)
            best = fmax(best, brute_inverse(mu, i / 400.0, j / 400.0, 1 - (i + j) / 400.0));
    CHECK_NEAR(1 / t, best, 1e-3 / t);
    CHECK(1 / t >= best - 1e-12); /* the bisection's optimum is at least the grid's */
    CHECK_NEAR(w[0] + w[1] + w[2], 1, 1e-12);
    CHECK(w[1] > w[2]);
    /* Two symmetric arms: w = (1/2, 1/2) and T* = 1 / kl(mu1, 1/2) with m = 1/2. */
    const double two[2] = {0.6, 0.4};
    CHECK_INT(glr_characteristic_time(two, 2, &t, w, err), PB_OK);
    CHECK_NEAR(w[0], 0.5, 1e-6);
    CHECK_NEAR(t, 1 / glr_kl(0.6, 0.5), 1e-6 * t);
    const double tie[2] = {0.5, 0.5};
    CHECK_INT(glr_characteristic_time(tie, 2, &t, w, err), PB_OK);
    CHECK(isinf(t));
    const double bad[2] = {0.5, 1.5};
    CHECK_INT(glr_characteristic_time(bad, 2, &t, NULL, err), PB_ERR_INVALID);
}

int main(void)
{
    RUN(test_uniform_is_round_robin);
    RUN(test_lucb_samples_the_leader_and_a_challenger);
    RUN(test_successive_elimination_drops_a_bad_arm);
    RUN(test_tts_gives_the_leader_about_beta);
    RUN(test_every_rule_stops_with_the_right_arm);
    RUN(test_bounded_rewards_and_the_verdict_agree);
    RUN(test_bad_options_and_rule_names);
    RUN(test_characteristic_time);
    CHECK_DONE();
}
