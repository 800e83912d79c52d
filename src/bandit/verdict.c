/* verdict.c — stable P(best), the GLR separation of leader and runner-up (glr.h) and the
 * advice built on it. Works from bandit_get_arm_stats or plain statistics only, so it never
 * depends on a policy's internals; must not change a bandit or do I/O. */
#include "bandit/verdict.h"

#include "bandit/glr.h"
#include "base/hash.h"
#include "base/pb.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Posterior mean and standard deviation of an arm under VERDICT_GAUSSIAN: the sample mean
 * with its variance plus one pseudo-observation of variance 1 (the largest a [-1, 1] reward
 * can have), so that a few equal rewards do not look certain; N(0, 1) before any reward. */
static void gaussian_posterior(const struct verdict_arm *a, double *mu, double *sd)
{
    if (a->pulls <= 0) {
        *mu = 0;
        *sd = 1;
        return;
    }
    double n = a->pulls, ss = a->variance * (n - 1);
    *mu = a->mean;
    *sd = sqrt((fmax(ss, 0) + 1) / n / n);
}

static double posterior_draw(enum verdict_posterior model, const struct verdict_arm *a,
                             gsl_rng *rng)
{
    if (model == VERDICT_BETA) {
        double n = a->pulls, wins = (a->mean * n + n) * 0.5;
        return 2 * gsl_ran_beta(rng, 1 + wins, 1 + (n - wins)) - 1;
    }
    double mu, sd;
    gaussian_posterior(a, &mu, &sd);
    return mu + sd * gsl_ran_gaussian_ziggurat(rng, 1);
}

/* The seed of the sampling generator: a hash of what the answer depends on, each statistic
 * rounded to 1e-9 so that sums taken in another order hash the same. */
static unsigned long state_seed(const struct verdict_arm *arms, size_t k,
                                enum verdict_posterior model, long draws)
{
    int64_t head[3] = {(int64_t)k, (int64_t)model, (int64_t)draws};
    uint64_t h = hash_fnv1a64(head, sizeof head, 0);
    for (size_t i = 0; i < k; i++) {
        int64_t v[4] = {arms[i].active, llround(arms[i].pulls), llround(arms[i].mean * 1e9),
                        llround(arms[i].variance * 1e9)};
        h = hash_fnv1a64(v, sizeof v, h);
    }
    return (unsigned long)(h ^ (h >> 32));
}

/* P(best) by sampling from a generator seeded with the state. */
static pb_status p_best_sampled(const struct verdict_arm *arms, size_t k,
                                enum verdict_posterior model, long draws, double *out, char *err)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!rng)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory for the P(best) generator");
    gsl_rng_set(rng, state_seed(arms, k, model, draws));
    for (long d = 0; d < draws; d++) {
        size_t pick = SIZE_MAX;
        double best = -INFINITY;
        for (size_t i = 0; i < k; i++) {
            if (!arms[i].active)
                continue;
            double theta = posterior_draw(model, &arms[i], rng);
            if (pick == SIZE_MAX || theta > best) {
                best = theta;
                pick = i;
            }
        }
        out[pick] += 1.0 / (double)draws;
    }
    gsl_rng_free(rng);
    return PB_OK;
}

pb_status verdict_p_best(const struct verdict_arm *arms, size_t k, enum verdict_posterior model,
                         long draws, double *out, char *err)
{
    size_t active = 0, first = SIZE_MAX, second = SIZE_MAX;
    if (draws < 1)
        return pb_errf(err, PB_ERR_INVALID, "draws must be at least 1, got %ld", draws);
    for (size_t i = 0; i < k; i++) {
        if (!arms[i].active)
            continue;
        if (active++ == 0)
            first = i;
        else if (active == 2)
            second = i;
    }
    if (active == 0)
        return pb_errf(err, PB_ERR_CONFLICT, "no active arm");
    memset(out, 0, k * sizeof *out);
    if (active == 1) {
        out[first] = 1;
        return PB_OK;
    }
    if (active == 2 && model == VERDICT_GAUSSIAN) {
        double m1, s1, m2, s2;
        gaussian_posterior(&arms[first], &m1, &s1);
        gaussian_posterior(&arms[second], &m2, &s2);
        out[first] = gsl_cdf_ugaussian_P((m1 - m2) / sqrt(s1 * s1 + s2 * s2));
        out[second] = 1 - out[first];
        return PB_OK;
    }
    return p_best_sampled(arms, k, model, draws, out, err);
}

/* The bandit's arms as verdict arms; caller frees. NULL when out of memory. */
static struct verdict_arm *arms_of(const bandit *b)
{
    size_t k = bandit_arm_count(b);
    struct verdict_arm *arms = calloc(k ? k : 1, sizeof *arms);
    for (size_t i = 0; arms && i < k; i++) {
        bandit_arm_stats st;
        bandit_get_arm_stats(b, i, &st, NULL);
        arms[i] = (struct verdict_arm){(double)st.pulls, st.mean, st.variance, st.active};
    }
    return arms;
}

pb_status verdict_prob_best(const bandit *b, gsl_rng *rng, long draws, double *out, char *err)
{
    (void)rng;
    size_t k = bandit_arm_count(b);
    if (bandit_active_count(b) == 0)
        return pb_errf(err, PB_ERR_CONFLICT, "no active arm");
    struct verdict_arm *arms = arms_of(b);
    if (!arms)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory for %zu arms", k);
    enum verdict_posterior model =
        bandit_get_policy(b)->kind == BANDIT_THOMPSON_BETA ? VERDICT_BETA : VERDICT_GAUSSIAN;
    pb_status rc = verdict_p_best(arms, k, model, draws, out, err);
    free(arms);
    return rc;
}

/* ---- separation ---- */

/* Active arms with at least one reward. */
static size_t rewarded_arms(const struct verdict_arm *arms, size_t k)
{
    size_t n = 0;
    for (size_t i = 0; i < k; i++)
        n += arms[i].active && arms[i].pulls > 0;
    return n;
}

pb_status verdict_judge(const struct verdict_group *g, double delta, struct verdict_outcome *out,
                        char *err)
{
    memset(out, 0, sizeof *out);
    if (!(delta > 0 && delta < 1))
        return pb_errf(err, PB_ERR_INVALID, "delta must be in (0, 1), got %g", delta);
    out->delta = delta;
    if (rewarded_arms(g->stats, g->n_arms) < 2)
        return PB_OK;
    struct glr_arm *arms = calloc(g->n_arms, sizeof *arms);
    if (!arms)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory for %zu arms", g->n_arms);
    for (size_t i = 0; i < g->n_arms; i++)
        arms[i] = (struct glr_arm){g->stats[i].mean, g->stats[i].pulls, g->stats[i].active};
    struct glr_verdict v;
    pb_status rc = glr_verdict_of(arms, g->n_arms, GLR_REWARD_LO, GLR_REWARD_HI, delta,
                                  GLR_MIN_REWARDS, &v, err);
    free(arms);
    if (rc != PB_OK)
        return rc;
    *out = (struct verdict_outcome){1,           delta,       v.leader,       v.runner_up,
                                    v.statistic, v.threshold, v.more_rewards, v.enough_data,
                                    v.separated};
    return PB_OK;
}

pb_status verdict_judge_segments(const struct verdict_group *segs, size_t n, double delta,
                                 struct verdict_outcome *out, char *err)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += rewarded_arms(segs[i].stats, segs[i].n_arms) >= 2;
    for (size_t i = 0; i < n; i++) {
        pb_status rc = verdict_judge(&segs[i], m > 1 ? delta / (double)m : delta, &out[i], err);
        if (rc != PB_OK)
            return rc;
    }
    return PB_OK;
}

pb_status verdict_check_separation(const bandit *b, double confidence, verdict_separation *out,
                                   char *err)
{
    if (!(confidence > 0 && confidence < 1))
        return pb_errf(err, PB_ERR_INVALID, "confidence must be in (0, 1), got %g", confidence);
    size_t k = bandit_arm_count(b);
    struct verdict_arm *arms = arms_of(b);
    struct verdict_outcome o;
    if (!arms)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory for %zu arms", k);
    struct verdict_group g = {arms, k};
    pb_status rc = verdict_judge(&g, 1 - confidence, &o, err);
    if (rc == PB_OK && !o.compared)
        rc = pb_errf(err, PB_ERR_CONFLICT,
                     "need two active arms with at least one reward each to compare");
    if (rc == PB_OK)
        *out = (verdict_separation){.leader = o.leader,
                                    .runner_up = o.runner_up,
                                    .difference = arms[o.leader].mean - arms[o.runner_up].mean,
                                    .statistic = o.statistic,
                                    .threshold = o.threshold,
                                    .z = gsl_cdf_ugaussian_Pinv(0.5 + confidence / 2) *
                                         sqrt(o.statistic / o.threshold),
                                    .enough_data = o.enough_data,
                                    .separated = o.separated,
                                    .more_pulls = o.more_rewards};
    free(arms);
    return rc;
}

/* ---- advice ---- */

void verdict_advise(const struct verdict_outcome *overall, const struct verdict_outcome *segs,
                    size_t n_seg, size_t promoted, struct verdict_advice *out, size_t *seg_leader)
{
    size_t first = SIZE_MAX;
    int differ = 0;
    for (size_t i = 0; i < n_seg; i++) {
        seg_leader[i] = segs[i].compared && segs[i].separated ? segs[i].leader : SIZE_MAX;
        if (seg_leader[i] == SIZE_MAX)
            continue;
        if (first == SIZE_MAX)
            first = seg_leader[i];
        else if (seg_leader[i] != first)
            differ = 1;
    }
    *out = (struct verdict_advice){VERDICT_NO_DATA, SIZE_MAX};
    if (differ)
        out->action = VERDICT_SERVE_PER_SEGMENT;
    else if (overall->compared && overall->separated)
        *out = (struct verdict_advice){
            overall->leader == promoted ? VERDICT_PROMOTED : VERDICT_PROMOTE, overall->leader};
    else if (overall->compared)
        out->action = VERDICT_KEEP_EXPLORING;
}
