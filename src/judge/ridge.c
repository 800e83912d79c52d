/* ridge.c — kernel ridge by eigendecomposition of the centred Gram matrix: one decomposition
 * per gain makes every penalty's leave-one-out error exact and cheap (the hat matrix's
 * diagonal comes from the same eigenvectors). Owns only its scratch memory. */
#include "judge/ridge.h"

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Penalties tried per gain: trace/n * 10^(-3 + 0.25 e) for e = 0..RIDGE_GRID. */
#define RIDGE_GRID 20

/* Kernel for one gain, double-centred (the intercept is not penalised), into kc. */
static void centred_kernel(const struct ridge_problem *p, double gain, gsl_matrix *kc)
{
    size_t n = p->n;
    double *rowmean = calloc(n, sizeof *rowmean), total = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            double v = p->k_main[i * n + j] + gain * p->k_extra[i * n + j];
            gsl_matrix_set(kc, i, j, v);
            if (rowmean)
                rowmean[i] += v / (double)n;
        }
        if (rowmean)
            total += rowmean[i] / (double)n;
    }
    for (size_t i = 0; rowmean && i < n; i++)
        for (size_t j = 0; j < n; j++)
            gsl_matrix_set(kc, i, j, gsl_matrix_get(kc, i, j) - rowmean[i] - rowmean[j] + total);
    free(rowmean);
}

/* u = V' yc: the centred targets in the eigenbasis. */
static void project(const struct ridge_problem *p, const gsl_matrix *v, double *u)
{
    for (size_t k = 0; k < p->n; k++) {
        u[k] = 0;
        for (size_t i = 0; i < p->n; i++)
            u[k] += gsl_matrix_get(v, i, k) * p->yc[i];
    }
}

/* Exact leave-one-out MSE of kernel ridge at penalty lambda, predictions clamped to [lo, hi]
 * as they will be used: residual_i / (1 - H_ii) with H = V diag(s/(s+lambda)) V' + 11'/n. */
static double loo_mse(const struct ridge_problem *p, const gsl_vector *s, const gsl_matrix *v,
                      const double *u, double lambda, double *loo_pred)
{
    size_t n = p->n;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double fit = p->ybar, h = 1.0 / (double)n;
        for (size_t k = 0; k < n; k++) {
            double sk = gsl_vector_get(s, k), vik = gsl_matrix_get(v, i, k);
            double shrink = sk > 0 ? sk / (sk + lambda) : 0.0;
            fit += vik * shrink * u[k];
            h += vik * vik * shrink;
        }
        double y = p->yc[i] + p->ybar;
        double pred = h < 1.0 - 1e-9 ? y - (y - fit) / (1.0 - h) : fit;
        pred = pred > p->hi ? p->hi : pred < p->lo ? p->lo : pred;
        if (loo_pred)
            loo_pred[i] = pred;
        sum += (y - pred) * (y - pred);
    }
    return sum / (double)n;
}

struct selection {
    double gain, lambda, loo;
    gsl_matrix *v; /* eigenvectors at the chosen gain */
    gsl_vector *s;
};

/* Tries every gain and a log grid of penalties scaled to the kernel's mean eigenvalue. The
 * caller frees best->v and best->s, also on failure. */
static pb_status select_model(const struct ridge_problem *p, struct selection *best, char *err)
{
    size_t n = p->n;
    gsl_matrix *kc = gsl_matrix_alloc(n, n), *v = gsl_matrix_alloc(n, n);
    gsl_vector *s = gsl_vector_alloc(n);
    gsl_eigen_symmv_workspace *ws = gsl_eigen_symmv_alloc(n);
    double *u = malloc(n * sizeof *u);
    pb_status rc = PB_OK;
    best->loo = INFINITY;
    best->v = gsl_matrix_alloc(n, n);
    best->s = gsl_vector_alloc(n);
    if (!kc || !v || !s || !ws || !u || !best->v || !best->s) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory training on %zu texts", n);
        goto cleanup;
    }
    for (size_t g = 0; g < p->n_gains; g++) {
        centred_kernel(p, p->gains[g], kc);
        double trace = 0;
        for (size_t i = 0; i < n; i++)
            trace += gsl_matrix_get(kc, i, i);
        if (gsl_eigen_symmv(kc, s, v, ws) != 0) {
            rc = pb_errf(err, PB_ERR_INVALID, "eigendecomposition of the kernel failed");
            goto cleanup;
        }
        project(p, v, u);
        int improved = 0;
        for (int e = 0; e <= RIDGE_GRID; e++) {
            double lambda = trace / (double)n * pow(10.0, -3.0 + 0.25 * e);
            double loo = loo_mse(p, s, v, u, lambda, NULL);
            if (loo < best->loo) {
                best->loo = loo;
                best->lambda = lambda;
                best->gain = p->gains[g];
                improved = 1;
            }
        }
        if (improved) {
            gsl_matrix_memcpy(best->v, v);
            gsl_vector_memcpy(best->s, s);
        }
    }
cleanup:
    gsl_matrix_free(kc);
    gsl_matrix_free(v);
    gsl_vector_free(s);
    if (ws)
        gsl_eigen_symmv_free(ws);
    free(u);
    return rc;
}

/* The dual solution alpha = V diag(1/(s+lambda)) V' yc at the selection. */
static void solve_dual(const struct ridge_problem *p, const struct selection *sel, double *u,
                       double *alpha)
{
    size_t n = p->n;
    project(p, sel->v, u);
    for (size_t k = 0; k < n; k++) {
        double sk = gsl_vector_get(sel->s, k);
        u[k] /= (sk > 0 ? sk : 0) + sel->lambda;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < n; k++)
            alpha[i] += gsl_matrix_get(sel->v, i, k) * u[k];
}

pb_status ridge_fit(const struct ridge_problem *p, struct ridge_fit *out, char *err)
{
    struct selection sel = {0};
    double *u = NULL;
    memset(out, 0, sizeof *out);
    pb_status rc = select_model(p, &sel, err);
    if (rc != PB_OK)
        goto cleanup;
    u = malloc(p->n * sizeof *u);
    out->alpha = calloc(p->n, sizeof *out->alpha);
    out->loo_pred = malloc(p->n * sizeof *out->loo_pred);
    if (!u || !out->alpha || !out->loo_pred) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory fitting the model");
        goto cleanup;
    }
    project(p, sel.v, u);
    loo_mse(p, sel.s, sel.v, u, sel.lambda, out->loo_pred);
    solve_dual(p, &sel, u, out->alpha);
    out->gain = sel.gain;
    out->lambda = sel.lambda;
    out->loo_mse = sel.loo;
cleanup:
    if (rc != PB_OK)
        ridge_fit_free(out);
    gsl_matrix_free(sel.v);
    gsl_vector_free(sel.s);
    free(u);
    return rc;
}

void ridge_fit_free(struct ridge_fit *f)
{
    free(f->alpha);
    free(f->loo_pred);
    memset(f, 0, sizeof *f);
}
