/* test_judge_ridge.c — kernel ridge with exact leave-one-out selection: each leave-one-out
 * prediction equals refitting without that item (intercept refitted too), the dual solution
 * reproduces the primal ridge fit on all items, predictions are clamped as asked, and the first
 * gain wins when the gains cannot be told apart. */
#include "check.h"
#include "judge/ridge.h"

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_rng.h>

#define N  15
#define DM 3 /* features behind k_main */
#define DX 2 /* features behind k_extra */
#define D  (DM + DX)

static double phi[N][DM], psi[N][DX], y[N], yc[N], ybar, k_main[N * N], k_extra[N * N];
static const double gains[] = {0.0, 0.5, 2.0};

static void make_data(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 7);
    ybar = 0;
    for (int i = 0; i < N; i++) {
        for (int d = 0; d < DM; d++)
            phi[i][d] = gsl_rng_uniform(rng) - 0.5;
        for (int d = 0; d < DX; d++)
            psi[i][d] = gsl_rng_uniform(rng) - 0.5;
        y[i] = 0.8 * phi[i][0] - 0.5 * phi[i][2] + 0.6 * psi[i][1] +
               0.1 * (gsl_rng_uniform(rng) - 0.5);
        ybar += y[i] / N;
    }
    for (int i = 0; i < N; i++) {
        yc[i] = y[i] - ybar;
        for (int j = 0; j < N; j++) {
            k_main[i * N + j] = k_extra[i * N + j] = 0;
            for (int d = 0; d < DM; d++)
                k_main[i * N + j] += phi[i][d] * phi[j][d];
            for (int d = 0; d < DX; d++)
                k_extra[i * N + j] += psi[i][d] * psi[j][d];
        }
    }
    gsl_rng_free(rng);
}

static struct ridge_problem problem(double lo, double hi)
{
    return (struct ridge_problem){.n = N,
                                  .k_main = k_main,
                                  .k_extra = k_extra,
                                  .gains = gains,
                                  .n_gains = 3,
                                  .yc = yc,
                                  .ybar = ybar,
                                  .lo = lo,
                                  .hi = hi};
}

/* The feature row of item i for gain g: k_main + g k_extra is the Gram matrix of these rows. */
static void row(int i, double g, double x[D])
{
    for (int d = 0; d < DM; d++)
        x[d] = phi[i][d];
    for (int d = 0; d < DX; d++)
        x[DM + d] = sqrt(g) * psi[i][d];
}

/* Primal ridge with an unpenalised intercept on the items with use[i], predicting item at. */
static double primal_predict(const int *use, double g, double lambda, int at)
{
    double mean_x[D] = {0}, mean_y = 0, x[D], m = 0;
    for (int i = 0; i < N; i++)
        if (use[i]) {
            row(i, g, x);
            for (int d = 0; d < D; d++)
                mean_x[d] += x[d];
            mean_y += y[i];
            m++;
        }
    for (int d = 0; d < D; d++)
        mean_x[d] /= m;
    mean_y /= m;
    gsl_matrix *a = gsl_matrix_calloc(D, D);
    gsl_vector *b = gsl_vector_calloc(D), *w = gsl_vector_alloc(D);
    for (int i = 0; i < N; i++) {
        if (!use[i])
            continue;
        row(i, g, x);
        for (int p = 0; p < D; p++) {
            *gsl_vector_ptr(b, p) += (x[p] - mean_x[p]) * (y[i] - mean_y);
            for (int q = 0; q < D; q++)
                *gsl_matrix_ptr(a, p, q) += (x[p] - mean_x[p]) * (x[q] - mean_x[q]);
        }
    }
    for (int p = 0; p < D; p++)
        *gsl_matrix_ptr(a, p, p) += lambda;
    gsl_linalg_cholesky_decomp1(a);
    gsl_linalg_cholesky_solve(a, b, w);
    row(at, g, x);
    double pred = mean_y;
    for (int d = 0; d < D; d++)
        pred += (x[d] - mean_x[d]) * gsl_vector_get(w, d);
    gsl_matrix_free(a);
    gsl_vector_free(b);
    gsl_vector_free(w);
    return pred;
}

static void test_leave_one_out_equals_refitting_without_the_item(void)
{
    struct ridge_problem p = problem(-1e9, 1e9);
    struct ridge_fit fit;
    char err[PB_ERR_LEN];
    int use[N];
    double mse = 0;
    CHECK_INT(ridge_fit(&p, &fit, err), PB_OK);
    CHECK(fit.lambda > 0);
    for (int i = 0; fit.loo_pred && i < N; i++) {
        for (int j = 0; j < N; j++)
            use[j] = j != i;
        CHECK_NEAR(fit.loo_pred[i], primal_predict(use, fit.gain, fit.lambda, i), 1e-9);
        mse += (y[i] - fit.loo_pred[i]) * (y[i] - fit.loo_pred[i]) / N;
    }
    CHECK_NEAR(fit.loo_mse, mse, 1e-12);
    ridge_fit_free(&fit);
}

static void test_dual_solution_reproduces_the_primal_fit(void)
{
    struct ridge_problem p = problem(-1e9, 1e9);
    struct ridge_fit fit;
    char err[PB_ERR_LEN];
    int use[N];
    double k[N * N], rowmean[N] = {0}, total = 0;
    CHECK_INT(ridge_fit(&p, &fit, err), PB_OK);
    if (!fit.alpha)
        return;
    for (int i = 0; i < N * N; i++)
        k[i] = k_main[i] + fit.gain * k_extra[i];
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++)
            rowmean[i] += k[i * N + j] / N;
        total += rowmean[i] / N;
    }
    for (int j = 0; j < N; j++)
        use[j] = 1;
    for (int j = 0; j < N; j++) {
        double f = ybar;
        for (int i = 0; i < N; i++)
            f += fit.alpha[i] * (k[i * N + j] - rowmean[i] - rowmean[j] + total);
        CHECK_NEAR(f, primal_predict(use, fit.gain, fit.lambda, j), 1e-9);
    }
    ridge_fit_free(&fit);
}

static void test_leave_one_out_predictions_are_clamped(void)
{
    struct ridge_problem p = problem(-0.05, 0.05);
    struct ridge_fit fit;
    char err[PB_ERR_LEN];
    int clamped = 0;
    CHECK_INT(ridge_fit(&p, &fit, err), PB_OK);
    for (int i = 0; fit.loo_pred && i < N; i++) {
        CHECK(fit.loo_pred[i] >= -0.05 && fit.loo_pred[i] <= 0.05);
        clamped += fabs(fit.loo_pred[i]) == 0.05;
    }
    CHECK(clamped > 0); /* the data reach beyond +-0.05, so the bound was used */
    ridge_fit_free(&fit);
}

static void test_first_gain_wins_when_gains_cannot_be_told_apart(void)
{
    static double zeros[N * N];
    static const double later_first[] = {2.0, 0.0, 0.5};
    struct ridge_problem p = problem(-1e9, 1e9);
    struct ridge_fit fit;
    char err[PB_ERR_LEN];
    p.k_extra = zeros;
    p.gains = later_first;
    CHECK_INT(ridge_fit(&p, &fit, err), PB_OK);
    CHECK_NEAR(fit.gain, 2.0, 0);
    ridge_fit_free(&fit);
}

int main(void)
{
    make_data();
    RUN(test_leave_one_out_equals_refitting_without_the_item);
    RUN(test_dual_solution_reproduces_the_primal_fit);
    RUN(test_leave_one_out_predictions_are_clamped);
    RUN(test_first_gain_wins_when_gains_cannot_be_told_apart);
    CHECK_DONE();
}
