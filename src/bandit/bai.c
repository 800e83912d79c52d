/* bai.c — best-arm identification: the four sampling rules (Top-Two Thompson, LUCB1,
 * successive elimination, uniform) over per-arm counts and sums on [0, 1], and the GLR stopping
 * rule read from glr.c. Must not do I/O or keep global state; randomness is the caller's. */
#include "bandit/bai.h"

#include "bandit/glr.h"
#include "base/pb.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Top-Two Thompson: redraws of the posterior looking for a challenger other than the leader
 * (Russo's rule); past them the challenger is the arm the leader is least separated from by the
 * GLR statistic (the T3C rule of Shang et al. 2020), which the redraws approximate: when the
 * leader is nearly certain, the arm most likely to beat it is the one with the smallest GLR. */
#define BAI_TTS_REDRAWS 50

struct bai {
    struct bai_options opt;
    size_t k;
    double *n, *sum01; /* rewards and their sum on the [0, 1] scale, per arm */
    double *theta;     /* TTS scratch: one posterior draw per arm */
    int *alive;        /* SE: not yet eliminated */
    struct glr_arm *view;
    double total;
    size_t pending; /* LUCB: the second arm of the current round */
    int has_pending;
};

static const char *const bai_names[] = {"tts", "lucb", "se", "uniform"};

const char *bai_rule_name(bai_rule rule)
{
    return (size_t)rule < sizeof bai_names / sizeof bai_names[0] ? bai_names[rule] : "?";
}

pb_status bai_rule_parse(const char *name, bai_rule *out, char *err)
{
    for (size_t i = 0; i < sizeof bai_names / sizeof bai_names[0]; i++)
        if (!strcmp(name, bai_names[i])) {
            *out = (bai_rule)i;
            return PB_OK;
        }
    return pb_errf(err, PB_ERR_INVALID,
                   "unknown identification rule '%.40s' (known: tts, lucb, se, uniform)", name);
}

void bai_free(bai *s)
{
    if (!s)
        return;
    free(s->n);
    free(s->sum01);
    free(s->theta);
    free(s->alive);
    free(s->view);
    free(s);
}

void bai_reset(bai *s)
{
    for (size_t a = 0; a < s->k; a++) {
        s->n[a] = s->sum01[a] = 0;
        s->alive[a] = 1;
    }
    s->total = 0;
    s->has_pending = 0;
}

pb_status bai_new(const struct bai_options *opt, size_t k, bai **out, char *err)
{
    *out = NULL;
    if (k < 2 || k > 1000000)
        return pb_errf(err, PB_ERR_INVALID, "identification needs 2 to 1e6 arms, got %zu", k);
    if ((size_t)opt->rule >= sizeof bai_names / sizeof bai_names[0])
        return pb_errf(err, PB_ERR_INVALID, "unknown identification rule %d", (int)opt->rule);
    if (!(opt->delta > 0 && opt->delta < 1))
        return pb_errf(err, PB_ERR_INVALID, "delta must be in (0, 1), got %g", opt->delta);
    if (!(opt->hi > opt->lo) || !isfinite(opt->lo) || !isfinite(opt->hi))
        return pb_errf(err, PB_ERR_INVALID, "reward range [%g, %g] is empty", opt->lo, opt->hi);
    if (!(opt->beta >= 0 && opt->beta < 1))
        return pb_errf(err, PB_ERR_INVALID, "tts beta must be in (0, 1), got %g", opt->beta);
    bai *s = calloc(1, sizeof *s);
    if (!s)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    s->opt = *opt;
    if (s->opt.beta == 0)
        s->opt.beta = 0.5;
    if (!(s->opt.min_n >= 1))
        s->opt.min_n = 1;
    s->k = k;
    s->n = calloc(k, sizeof *s->n);
    s->sum01 = calloc(k, sizeof *s->sum01);
    s->theta = calloc(k, sizeof *s->theta);
    s->alive = calloc(k, sizeof *s->alive);
    s->view = calloc(k, sizeof *s->view);
    if (!s->n || !s->sum01 || !s->theta || !s->alive || !s->view) {
        bai_free(s);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory for %zu arms", k);
    }
    bai_reset(s);
    *out = s;
    return PB_OK;
}

void bai_new_round(bai *s)
{
    s->has_pending = 0;
}

static int round_complete(const bai *s);
static void eliminate(bai *s);

pb_status bai_observe(bai *s, size_t arm, double reward, char *err)
{
    if (arm >= s->k)
        return pb_errf(err, PB_ERR_INVALID, "no arm %zu (there are %zu)", arm, s->k);
    if (!isfinite(reward) || reward < s->opt.lo || reward > s->opt.hi)
        return pb_errf(err, PB_ERR_INVALID, "reward %g is outside [%g, %g]", reward, s->opt.lo,
                       s->opt.hi);
    s->n[arm] += 1;
    s->sum01[arm] += (reward - s->opt.lo) / (s->opt.hi - s->opt.lo);
    s->total += 1;
    if (s->opt.rule == BAI_SE && round_complete(s))
        eliminate(s);
    return PB_OK;
}

static double mean01(const bai *s, size_t a)
{
    return s->n[a] > 0 ? s->sum01[a] / s->n[a] : 0.5;
}

/* The living arm with the fewest rewards (lowest index first): round-robin. */
static size_t least_sampled(const bai *s)
{
    size_t pick = SIZE_MAX;
    for (size_t a = 0; a < s->k; a++)
        if (s->alive[a] && (pick == SIZE_MAX || s->n[a] < s->n[pick]))
            pick = a;
    return pick;
}

/* The living arm with the highest empirical mean; ties go to the one with more rewards. */
static size_t empirical_best(const bai *s)
{
    size_t best = SIZE_MAX;
    for (size_t a = 0; a < s->k; a++) {
        if (!s->alive[a])
            continue;
        if (best == SIZE_MAX || mean01(s, a) > mean01(s, best) ||
            (mean01(s, a) == mean01(s, best) && s->n[a] > s->n[best]))
            best = a;
    }
    return best;
}

/* One draw from every arm's Beta posterior (fractional successes for bounded rewards, Beta(1,1)
 * prior); returns the argmax. */
static size_t posterior_argmax(bai *s, gsl_rng *rng)
{
    size_t best = 0;
    for (size_t a = 0; a < s->k; a++) {
        s->theta[a] = gsl_ran_beta(rng, 1 + s->sum01[a], 1 + s->n[a] - s->sum01[a]);
        if (s->theta[a] > s->theta[best])
            best = a;
    }
    return best;
}

/* Top-Two Thompson sampling (Russo 2016): the posterior's argmax with probability beta, else
 * the argmax of fresh draws that differs from it. */
static size_t next_tts(bai *s, gsl_rng *rng)
{
    size_t leader = posterior_argmax(s, rng);
    if (gsl_rng_uniform(rng) < s->opt.beta)
        return leader;
    for (int i = 0; i < BAI_TTS_REDRAWS; i++) {
        size_t c = posterior_argmax(s, rng);
        if (c != leader)
            return c;
    }
    size_t c = SIZE_MAX;
    double best = INFINITY, ml = mean01(s, leader);
    for (size_t a = 0; a < s->k; a++) {
        if (a == leader)
            continue;
        double z = glr_pair(ml, s->n[leader], mean01(s, a), s->n[a]);
        if (c == SIZE_MAX || z < best) {
            best = z;
            c = a;
        }
    }
    return c;
}

/* LUCB1 (Kalyanakrishnan et al. 2012): each round samples the empirical best h and the other arm
 * with the highest upper bound, with their bonus sqrt(ln(5/4 K r^4 / delta) / (2 n)), r the
 * round. */
static size_t next_lucb(bai *s)
{
    if (s->has_pending) {
        s->has_pending = 0;
        return s->pending;
    }
    double r = floor(s->total / 2) + 1;
    double l = log(1.25 * (double)s->k * r * r * r * r / s->opt.delta);
    size_t h = empirical_best(s), c = SIZE_MAX;
    double best = -INFINITY;
    for (size_t a = 0; a < s->k; a++) {
        if (a == h)
            continue;
        double u = mean01(s, a) + sqrt(l / (2 * s->n[a]));
        if (c == SIZE_MAX || u > best) {
            best = u;
            c = a;
        }
    }
    s->pending = c;
    s->has_pending = 1;
    return h;
}

/* Successive elimination (Even-Dar et al. 2006) with the GLR test: after each full round over
 * the living arms, an arm whose GLR against the empirical best passes the threshold is dropped.
 * Dropping the best arm is the event the stopping rule bounds by delta. */
static void eliminate(bai *s)
{
    size_t h = empirical_best(s);
    double beta = glr_threshold(s->total, s->k, s->opt.delta);
    for (size_t a = 0; a < s->k; a++)
        if (s->alive[a] && a != h && glr_pair(mean01(s, h), s->n[h], mean01(s, a), s->n[a]) > beta)
            s->alive[a] = 0;
}

/* SE: every living arm has the same number of rewards. */
static int round_complete(const bai *s)
{
    double lo = INFINITY, hi = 0;
    for (size_t a = 0; a < s->k; a++)
        if (s->alive[a]) {
            lo = fmin(lo, s->n[a]);
            hi = fmax(hi, s->n[a]);
        }
    return lo == hi && hi > 0;
}

static size_t alive_count(const bai *s)
{
    size_t n = 0;
    for (size_t a = 0; a < s->k; a++)
        n += s->alive[a] != 0;
    return n;
}

pb_status bai_next(bai *s, gsl_rng *rng, size_t *arm, char *err)
{
    size_t first = least_sampled(s);
    if (s->opt.rule != BAI_SE && s->n[first] == 0) { /* one reward from each arm first */
        *arm = first;
        return PB_OK;
    }
    switch (s->opt.rule) {
    case BAI_TTS:
        *arm = next_tts(s, rng);
        break;
    case BAI_LUCB:
        *arm = next_lucb(s);
        break;
    case BAI_SE:
        if (alive_count(s) < 2)
            return pb_errf(err, PB_ERR_CONFLICT, "successive elimination has one arm left");
        *arm = first;
        break;
    default:
        *arm = first;
    }
    return PB_OK;
}

pb_status bai_check(bai *s, struct bai_status *out, char *err)
{
    double scale = s->opt.hi - s->opt.lo;
    for (size_t a = 0; a < s->k; a++)
        s->view[a] = (struct glr_arm){s->opt.lo + scale * mean01(s, a), s->n[a], 1};
    struct glr_verdict v;
    pb_status rc =
        glr_verdict_of(s->view, s->k, s->opt.lo, s->opt.hi, s->opt.delta, s->opt.min_n, &v, err);
    if (rc != PB_OK)
        return rc;
    *out = (struct bai_status){.stop = v.separated,
                               .leader = v.leader,
                               .runner_up = v.runner_up,
                               .statistic = v.statistic,
                               .threshold = v.threshold,
                               .samples = s->total,
                               .alive = alive_count(s)};
    if (s->opt.rule == BAI_SE && out->alive == 1) {
        out->stop = 1;
        out->leader = empirical_best(s);
    }
    return PB_OK;
}
