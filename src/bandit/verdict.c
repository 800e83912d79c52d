/* verdict.c — P(best) by posterior sampling and the leader/runner-up separation test.
 * Works from bandit_get_arm_stats only, so it never depends on a policy's internals; must
 * not change the bandit or do I/O. */
#include "bandit/verdict.h"

#include "base/pb.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Draw from the posterior of an arm's mean: Beta for thompson-beta (a reward r counts as
 * (r+1)/2 of a success), else a normal around the sample mean whose variance includes one
 * pseudo-observation of variance 1 (the largest a [-1, 1] reward can have), so that a few
 * equal rewards do not look certain. */
static double mean_posterior_draw(int beta, const bandit_arm_stats *s, gsl_rng *rng)
{
    double n = (double)s->pulls;
    if (beta) {
        double wins = (s->mean * n + n) * 0.5;
        return 2 * gsl_ran_beta(rng, 1 + wins, 1 + (n - wins)) - 1;
    }
    if (s->pulls == 0)
        return gsl_ran_gaussian_ziggurat(rng, 1);
    double ss = s->variance * (n - 1);
    return s->mean + sqrt((ss + 1) / n / n) * gsl_ran_gaussian_ziggurat(rng, 1);
}

pb_status verdict_prob_best(const bandit *b, gsl_rng *rng, long draws, double *out, char *err)
{
    if (draws < 1)
        return pb_errf(err, PB_ERR_INVALID, "draws must be at least 1, got %ld", draws);
    size_t k = bandit_arm_count(b);
    if (bandit_active_count(b) == 0)
        return pb_errf(err, PB_ERR_CONFLICT, "no active arm");
    bandit_arm_stats *stats = malloc(k * sizeof *stats);
    if (!stats)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory for %zu arms", k);
    for (size_t i = 0; i < k; i++)
        bandit_get_arm_stats(b, i, &stats[i], NULL);
    int beta = bandit_get_policy(b)->kind == BANDIT_THOMPSON_BETA;
    memset(out, 0, k * sizeof *out);
    for (long d = 0; d < draws; d++) {
        size_t pick = SIZE_MAX;
        double best = -INFINITY;
        for (size_t i = 0; i < k; i++) {
            if (!stats[i].active)
                continue;
            double theta = mean_posterior_draw(beta, &stats[i], rng);
            if (pick == SIZE_MAX || theta > best) {
                best = theta;
                pick = i;
            }
        }
        out[pick] += 1.0 / (double)draws;
    }
    free(stats);
    return PB_OK;
}

/* Smallest x >= 0 with v1/(n1+x) + v2/(n2+x) <= target (the function decreases in x). */
static double pulls_until(double v1, double n1, double v2, double n2, double target)
{
    double lo = 0, hi = 1;
    while (v1 / (n1 + hi) + v2 / (n2 + hi) > target && hi < 1e15)
        hi *= 2;
    for (int i = 0; i < 200 && hi - lo > 1e-6; i++) {
        double mid = (lo + hi) / 2;
        if (v1 / (n1 + mid) + v2 / (n2 + mid) > target)
            lo = mid;
        else
            hi = mid;
    }
    return ceil(hi);
}

pb_status verdict_check_separation(const bandit *b, double confidence, verdict_separation *out,
                                   char *err)
{
    if (!(confidence > 0 && confidence < 1))
        return pb_errf(err, PB_ERR_INVALID, "confidence must be in (0, 1), got %g", confidence);
    size_t first = SIZE_MAX, second = SIZE_MAX;
    bandit_arm_stats s1 = {0}, s2 = {0}, s;
    for (size_t i = 0; i < bandit_arm_count(b); i++) {
        bandit_get_arm_stats(b, i, &s, NULL);
        if (!s.active || s.pulls < 2)
            continue;
        if (first == SIZE_MAX || s.mean > s1.mean) {
            second = first, s2 = s1;
            first = i, s1 = s;
        } else if (second == SIZE_MAX || s.mean > s2.mean) {
            second = i, s2 = s;
        }
    }
    if (second == SIZE_MAX)
        return pb_errf(err, PB_ERR_CONFLICT,
                       "need two active arms with at least two pulls each to compare");
    double q = gsl_cdf_ugaussian_Pinv(1 - (1 - confidence) / 2);
    double n1 = (double)s1.pulls, n2 = (double)s2.pulls;
    double se = sqrt(s1.variance / n1 + s2.variance / n2);
    double diff = s1.mean - s2.mean;
    *out = (verdict_separation){.leader = first, .runner_up = second, .difference = diff};
    out->z = se > 0 ? diff / se : (diff > 0 ? INFINITY : 0);
    out->separated = out->z >= q;
    if (out->separated)
        out->more_pulls = 0;
    else if (diff <= 0)
        out->more_pulls = INFINITY;
    else
        out->more_pulls =
            2 * pulls_until(s1.variance, n1, s2.variance, n2, (diff / q) * (diff / q));
    return PB_OK;
}
