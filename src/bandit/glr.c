/* glr.c — the GLR (Chernoff) statistic, its threshold, KL intervals and the leader verdict. */
#include "bandit/glr.h"

#include <math.h>

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
