/* bench_bandit.c — simulated steps per second of each bandit policy (4 Bernoulli arms,
 * select + reward draw + observe on one core) and the speed of replaying history (observe
 * only). Prints the median of several runs and the ratio to a baseline loop measured in the
 * same run (drawing the same rewards without a bandit). Time is this thread's CPU time, which
 * other processes on the shared machine disturb less than wall time. Figures go to
 * docs/BENCHMARKS.md. */
#include "bandit/bandit.h"
#include "bandit/policyspec.h"
#include "base/pb.h"

#include <gsl/gsl_rng.h>
#include <gsl/gsl_statistics_double.h>
#include <gsl/gsl_sort.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ARMS 4
#define RUNS 7

static const double probs[ARMS] = {0.5, 0.55, 0.6, 0.65};

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double median(double *v, size_t n)
{
    gsl_sort(v, 1, n);
    return gsl_stats_median_from_sorted_data(v, 1, n);
}

/* Steps per second of one policy; spec NULL measures the baseline loop. */
static double steps_per_s(const char *spec, long steps, char *err)
{
    bandit_policy pol;
    bandit *b = NULL;
    if (spec &&
        (policyspec_parse(spec, &pol, err) != PB_OK || bandit_new(&pol, ARMS, &b, err) != PB_OK))
        return -1;
    gsl_rng *env = gsl_rng_alloc(gsl_rng_mt19937), *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(env, 1);
    gsl_rng_set(rng, 2);
    double sink = 0, t0 = cpu_seconds();
    for (long t = 0; t < steps; t++) {
        size_t arm = (size_t)t & (ARMS - 1);
        if (b)
            bandit_select(b, rng, &arm, NULL, err);
        double r = gsl_rng_uniform(env) < probs[arm] ? 1 : -1;
        if (b)
            bandit_observe(b, arm, r, err);
        sink += r;
    }
    double dt = cpu_seconds() - t0;
    if (sink == 0.5) /* never true; keeps the baseline loop from being optimised away */
        printf(" ");
    gsl_rng_free(env);
    gsl_rng_free(rng);
    bandit_free(b);
    return (double)steps / dt;
}

/* Observations per second when rebuilding a bandit from stored history. */
static double replay_per_s(const char *spec, const size_t *arms, const double *rewards, long n,
                           char *err)
{
    bandit_policy pol;
    bandit *b = NULL;
    if (policyspec_parse(spec, &pol, err) != PB_OK || bandit_new(&pol, ARMS, &b, err) != PB_OK)
        return -1;
    double t0 = cpu_seconds();
    for (long i = 0; i < n; i++)
        bandit_observe(b, arms[i], rewards[i], err);
    double dt = cpu_seconds() - t0;
    bandit_free(b);
    return (double)n / dt;
}

int main(int argc, char **argv)
{
    static const char *specs[] = {"ucb1",
                                  "ucb1-tuned",
                                  "egreedy:epsilon=0.1",
                                  "egreedy-decay:c=0.15,d=0.1",
                                  "softmax:tau=0.1",
                                  "thompson",
                                  "thompson-beta",
                                  "ducb:gamma=0.99",
                                  "swucb:window=1000"};
    long steps = argc > 1 ? atol(argv[1]) : 2000000;
    char err[PB_ERR_LEN];
    double v[RUNS];
    if (steps < 1000) {
        fprintf(stderr, "usage: bench-bandit [STEPS >= 1000]  (default 2000000 per run)\n");
        return 2;
    }
    for (int r = 0; r < RUNS; r++)
        v[r] = steps_per_s(NULL, steps, err);
    double base = median(v, RUNS);
    printf("4 Bernoulli arms, %ld steps per run, median of %d runs, per CPU-second\n", steps, RUNS);
    printf("%-28s %14s %12s\n", "policy", "steps/s", "baseline/x");
    printf("%-28s %14.3e %12s\n", "baseline (rewards only)", base, "1.00");
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        for (int r = 0; r < RUNS; r++)
            if ((v[r] = steps_per_s(specs[k], steps, err)) < 0) {
                fprintf(stderr, "bench-bandit: %s\n", err);
                return 1;
            }
        double m = median(v, RUNS);
        printf("%-28s %14.3e %12.2f\n", specs[k], m, base / m);
    }
    long n = 1000000;
    size_t *arms = malloc((size_t)n * sizeof *arms);
    double *rewards = malloc((size_t)n * sizeof *rewards);
    if (!arms || !rewards)
        return 1;
    for (long i = 0; i < n; i++) {
        arms[i] = (size_t)(i * 7 % ARMS);
        rewards[i] = (double)(i % 5) * 0.5 - 1;
    }
    for (int r = 0; r < RUNS; r++)
        v[r] = replay_per_s("ucb1", arms, rewards, n, err);
    printf("\nreplay of %ld observations (ucb1): median %.3e obs/s, %.1f ms\n", n, median(v, RUNS),
           1e3 * (double)n / median(v, RUNS));
    free(arms);
    free(rewards);
    return 0;
}
