/* pbest.h — the probability that an arm's posterior draw is the largest, for independent
 * Gaussian or Beta posteriors: exactly the probability that Thompson sampling picks the arm,
 * its propensity. Two Gaussian arms have a closed form, Phi of the standardised difference;
 * otherwise P(i best) = integral of f_i(x) * prod_{j != i} F_j(x) dx, one dimension, computed
 * by adaptive Simpson to about 1e-9. Beta CDFs come from a per-arm table built once per
 * posterior (the caller keeps it: an arm's table changes only when that arm is observed).
 * Pure maths: no allocation, no I/O, no randomness. */
#ifndef PBEST_H
#define PBEST_H

#include <stddef.h>

#define PBEST_TABLE_NODES 128

/* The CDF of Beta(a, b) on nodes lo + k*h over mean +- 14 sd (clipped to [0, 1]), with the
 * density there, normalised so that the CDF reaches 1 at the last node; read between nodes by
 * cubic Hermite interpolation (error about 1e-6 of probability). */
struct pbest_table {
    double a, b; /* the posterior it holds; a = 0: none yet */
    double lo, h;
    double ref, inv_total; /* density(x) = exp(log kernel(x) - ref) * inv_total */
    double F[PBEST_TABLE_NODES + 1], f[PBEST_TABLE_NODES + 1];
};

/* Builds t for Beta(a, b) (a, b >= 1), unless it already holds exactly that posterior. */
void pbest_table_build(struct pbest_table *t, double a, double b);

/* One arm's posterior of its mean. */
struct pbest_arm {
    double mean, sd;                /* Gaussian N(mean, sd^2), sd > 0 */
    const struct pbest_table *beta; /* Beta: its built table (then mean and sd are unused) */
};

/* P(arm i's draw is the largest of arms[0..n)): all Gaussian or all Beta, i < n. In [0, 1];
 * the probabilities of all n arms sum to 1 within about 1e-6. */
double pbest_prob(const struct pbest_arm *arms, size_t n, size_t i);

#endif
