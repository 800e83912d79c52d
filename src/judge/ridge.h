/* ridge.h — kernel ridge regression in dual form with exact leave-one-out model selection:
 * the kernel is a main Gram matrix plus a gain times a second one, double-centred so the
 * intercept is not penalised; every gain and a log grid of penalties is tried, and the setting
 * with the lowest leave-one-out MSE wins. Split out of rewardmodel.c; pure linear algebra over
 * caller arrays (GSL eigendecomposition). It must not know texts or features, and does no I/O. */
#ifndef RIDGE_H
#define RIDGE_H

#include <stddef.h>

#include "base/pb.h"

struct ridge_problem {
    size_t n;              /* training items, >= 1 */
    const double *k_main;  /* n x n Gram matrix, row-major */
    const double *k_extra; /* n x n Gram matrix added with weight gain */
    const double *gains;   /* the gains tried, in order (the first wins ties) */
    size_t n_gains;        /* >= 1 */
    const double *yc;      /* n targets minus their mean */
    double ybar;           /* the targets' mean */
    double lo, hi; /* leave-one-out predictions are clamped to [lo, hi] as the model's are */
};

/* The chosen setting and the dual solution f(x) = ybar + sum_i alpha[i] kc(x_i, x), where kc
 * is the centred kernel at the chosen gain. */
struct ridge_fit {
    double gain, lambda;
    double loo_mse;   /* leave-one-out MSE at the chosen setting */
    double *alpha;    /* n dual coefficients (owned) */
    double *loo_pred; /* n leave-one-out predictions at the chosen setting, clamped (owned) */
};

/* Selects the setting and solves for it. On success the caller frees *out (ridge_fit_free);
 * PB_ERR_NOMEM, or PB_ERR_INVALID when the eigendecomposition fails, named in err. */
pb_status ridge_fit(const struct ridge_problem *p, struct ridge_fit *out, char *err);
void ridge_fit_free(struct ridge_fit *f);

#endif
