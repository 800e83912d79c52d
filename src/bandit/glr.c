/* glr.c — the GLR (Chernoff) statistic, its threshold, KL intervals, the leader verdict and the
 * characteristic time of best-arm identification. */
#include "bandit/glr.h"

#include <math.h>
#include <stdlib.h>

#define GLR_EPS 1e-12

double glr_kl(double p, double q)
{
    p = fmin(1.0, fmax(0.0, p));
    q = fmin(1.0 - GLR_EPS, fmax(GLR_EPS, q));
    double a = p > 0 ? p * log(p / q) : 0.0;
    double b = p < 1 ? (1 - p) * log((1 - p) / (1 - q)) : 0.0;
    return fmax(0.0, a + b);
}

double glr_pair(double mean_a, double n_a, double mean_b, double n_b)
{
    if (n_a <= 0 || n_b <= 0 || mean_a <= mean_b)
        return 0.0;
    double m = (n_a * mean_a + n_b * mean_b) / (n_a + n_b);
    return n_a * glr_kl(mean_a, m) + n_b * glr_kl(mean_b, m);
}

double glr_threshold(double t, size_t k, double delta)
{
    double km1 = k > 1 ? (double)(k - 1) : 1.0;
    return log(2.0 * fmax(1.0, t) * km1 / delta);
}

/* The q on the side of `mean` given by dir (+1 up, -1 down) where n kl(mean, q) = c, by
 * bisection (kl is monotone on each side of mean). */
static double glr_kl_bound(double mean, double n, double c, int dir)
{
    double inside = mean, outside = dir > 0 ? 1.0 : 0.0;
    if (n * glr_kl(mean, outside) <= c)
        return outside;
    for (int i = 0; i < 60; i++) {
        double mid = 0.5 * (inside + outside);
        if (n * glr_kl(mean, mid) <= c)
            inside = mid;
        else
            outside = mid;
    }
    return inside;
}

void glr_interval(double mean, double n, double lo, double hi, double alpha, double *lower,
                  double *upper)
{
    if (n <= 0 || !(hi > lo)) {
        *lower = lo;
        *upper = hi;
        return;
    }
    double m = fmin(1.0, fmax(0.0, (mean - lo) / (hi - lo)));
    double c = log(2.0 / alpha);
    *lower = lo + (hi - lo) * glr_kl_bound(m, n, c, -1);
    *upper = lo + (hi - lo) * glr_kl_bound(m, n, c, +1);
}

/* Extra rewards for the pair to pass the threshold if the means hold: the GLR grows in
 * proportion to the counts, so scale them by the smallest factor f with f Z >= beta(f t). */
static double glr_more(double za, double n_a, double n_b, double t, size_t k, double delta,
                       double min_n)
{
    if (za <= 0)
        return INFINITY;
    double f = 1.0;
    for (int i = 0; i < 100; i++) {
        double next = glr_threshold(t + (f - 1) * (n_a + n_b), k, delta) / za;
        if (fabs(next - f) < 1e-9)
            break;
        f = next;
    }
    f = fmax(f, fmax(min_n / n_a, min_n / n_b));
    return f > 1 ? ceil((f - 1) * (n_a + n_b)) : 0.0;
}

pb_status glr_verdict_of(const struct glr_arm *arms, size_t k, double lo, double hi, double delta,
                         double min_n, struct glr_verdict *out, char *err)
{
    if (!(hi > lo) || !isfinite(lo) || !isfinite(hi))
        return pb_errf(err, PB_ERR_INVALID, "reward range [%g, %g] is empty", lo, hi);
    if (!(delta > 0 && delta < 1))
        return pb_errf(err, PB_ERR_INVALID, "delta must be in (0, 1), got %g", delta);
    if (!(min_n >= 1))
        return pb_errf(err, PB_ERR_INVALID, "the minimum rewards per arm must be >= 1");
    size_t active = 0, leader = 0;
    double t = 0;
    for (size_t i = 0; i < k; i++) {
        if (!arms[i].active)
            continue;
        t += arms[i].n;
        /* An arm without rewards has no mean: it leads only when no arm has any. */
        int better = (arms[i].n > 0) != (arms[leader].n > 0)
                         ? arms[i].n > 0
                         : arms[i].mean > arms[leader].mean ||
                               (arms[i].mean == arms[leader].mean && arms[i].n > arms[leader].n);
        if (active++ == 0 || better)
            leader = i;
    }
    if (active < 2)
        return pb_errf(err, PB_ERR_CONFLICT, "a verdict needs two active arms, %zu active", active);
    double scale = hi - lo, ml = (arms[leader].mean - lo) / scale;
    *out = (struct glr_verdict){.leader = leader, .statistic = INFINITY};
    for (size_t i = 0; i < k; i++) {
        if (!arms[i].active || i == leader)
            continue;
        double z = glr_pair(ml, arms[leader].n, (arms[i].mean - lo) / scale, arms[i].n);
        if (z < out->statistic) {
            out->statistic = z;
            out->runner_up = i;
        }
    }
    const struct glr_arm *a = &arms[leader], *b = &arms[out->runner_up];
    out->threshold = glr_threshold(t, active, delta);
    out->enough_data = a->n >= min_n && b->n >= min_n;
    out->separated = out->enough_data && out->statistic > out->threshold;
    if (out->separated)
        out->more_rewards = 0.0;
    else if (a->n <= 0 || b->n <= 0)
        out->more_rewards = INFINITY; /* no gap to extrapolate from */
    else
        out->more_rewards = glr_more(out->statistic, a->n, b->n, t, active, delta, min_n);
    return PB_OK;
}

/* ---- characteristic time (Garivier & Kaufmann 2016, Theorem 5) ------------------------ */

/* g_a(x) = kl(mu1, m) + x kl(mua, m), m = (mu1 + x mua) / (1 + x): increasing from 0 at x = 0
 * to kl(mu1, mua) as x grows. */
static double glr_g(double mu1, double mua, double x)
{
    double m = (mu1 + x * mua) / (1 + x);
    return glr_kl(mu1, m) + x * glr_kl(mua, m);
}

/* x_a(y), the x with g_a(x) = y, for 0 <= y < kl(mu1, mua); by bisection on log x. */
static double glr_x_of(double mu1, double mua, double y)
{
    double lo = 0, hi = 1;
    while (glr_g(mu1, mua, hi) < y && hi < 1e15)
        hi *= 2;
    for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
        double mid = 0.5 * (lo + hi);
        if (glr_g(mu1, mua, mid) < y)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* F(y) = sum over a != best of kl(mu1, m_a) / kl(mua, m_a) at x_a(y); increasing in y, and
 * y* solves F(y*) = 1. x (k entries) gets x_a(y), with x[best] = 1. */
static double glr_f(const double *mu, size_t k, size_t best, double y, double *x)
{
    double f = 0;
    for (size_t a = 0; a < k; a++) {
        if (a == best) {
            x[a] = 1;
            continue;
        }
        x[a] = glr_x_of(mu[best], mu[a], y);
        double m = (mu[best] + x[a] * mu[a]) / (1 + x[a]);
        double den = glr_kl(mu[a], m);
        f += den > 0 ? glr_kl(mu[best], m) / den : INFINITY;
    }
    return f;
}

pb_status glr_characteristic_time(const double *mu, size_t k, double *t_star, double *w, char *err)
{
    if (k < 2)
        return pb_errf(err, PB_ERR_INVALID, "the characteristic time needs two arms, got %zu", k);
    size_t best = 0;
    for (size_t a = 0; a < k; a++) {
        if (!(mu[a] >= 0 && mu[a] <= 1))
            return pb_errf(err, PB_ERR_INVALID, "arm %zu: mean %g is outside [0, 1]", a + 1, mu[a]);
        if (mu[a] > mu[best])
            best = a;
    }
    double second = -INFINITY;
    for (size_t a = 0; a < k; a++)
        if (a != best)
            second = fmax(second, mu[a]);
    if (second >= mu[best]) {
        *t_star = INFINITY;
        for (size_t a = 0; w && a < k; a++)
            w[a] = 1.0 / (double)k;
        return PB_OK;
    }
    double *x = malloc(k * sizeof *x), lo = 0, hi = glr_kl(mu[best], second);
    if (!x)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    for (int i = 0; i < 200 && hi - lo > 1e-14 * hi; i++) {
        double mid = 0.5 * (lo + hi);
        if (glr_f(mu, k, best, mid, x) < 1)
            lo = mid;
        else
            hi = mid;
    }
    double y = 0.5 * (lo + hi), sum = 0;
    glr_f(mu, k, best, y, x);
    for (size_t a = 0; a < k; a++)
        sum += x[a];
    *t_star = sum / y;
    for (size_t a = 0; w && a < k; a++)
        w[a] = x[a] / sum;
    free(x);
    return PB_OK;
}
