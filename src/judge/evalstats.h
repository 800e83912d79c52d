/* evalstats.h — agreement between a judge and human ratings on the five-level scale
 * (-1, -0.5, 0, 0.5, 1): MSE, MAE, Spearman, Kendall tau-b, exact-level agreement,
 * quadratic-weighted Cohen's kappa and the 5x5 confusion matrix; plus the seeded k-fold
 * assignment every cross-validation in the project shares. Pure maths over caller arrays:
 * no I/O, no globals. */
#ifndef EVALSTATS_H
#define EVALSTATS_H

#include <stddef.h>
#include <stdint.h>

#include "base/pb.h"

#define EVALSTATS_LEVELS 5

struct evalstats {
    size_t n;
    double mse, mae;
    double spearman;      /* NAN when either side is constant */
    double kendall_tau_b; /* NAN when either side is constant */
    double exact;         /* share of items whose rounded prediction equals the human level */
    double qwk;           /* quadratic-weighted kappa of rounded predictions; NAN if undefined */
    long confusion[EVALSTATS_LEVELS][EVALSTATS_LEVELS]; /* [human level][rounded prediction] */
};

/* Computes every figure. human[i] must be levels; pred[i] any finite numbers (MSE, MAE and
 * the rank correlations use them as they are; exact, kappa and the confusion matrix use them
 * rounded to the nearest level). PB_ERR_INVALID for n == 0, a non-level human value or a
 * non-finite prediction. Kendall is O(n^2). */
pb_status evalstats_compute(const double *human, const double *pred, size_t n,
                            struct evalstats *out, char *err);

/* Spearman's rank correlation of a[i] and b[i] (any finite numbers; ties share their average
 * rank): *rho gets Pearson's correlation of the ranks, NAN below two items or when either side
 * is constant. PB_ERR_NOMEM. The live judge's agreement panel (agree.h) shares it. */
pb_status evalstats_spearman(const double *a, const double *b, size_t n, double *rho, char *err);

/* Nearest level after clamping to [-1, 1]; halves round away from zero (0.25 -> 0.5). */
double evalstats_round_level(double x);

/* Assigns items to k folds of equal size (+-1) from a seeded shuffle: fold[i] in [0, k).
 * The same (n, k, seed) always gives the same assignment. k must be in [2, n]. */
pb_status evalstats_folds(size_t n, int k, uint64_t seed, int *fold, char *err);

#endif
