/* evalstats.c — agreement figures between predictions and five-level human ratings, and the
 * seeded fold assignment. Pure functions; allocation only for rank scratch space. */
#include "judge/evalstats.h"

#include "judge/ratings.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

double evalstats_round_level(double x)
{
    if (x < -1)
        x = -1;
    if (x > 1)
        x = 1;
    return round(x * 2.0) / 2.0;
}

struct ranked {
    double v;
    size_t i;
};

static int cmp_ranked(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (x->v != y->v)
        return x->v < y->v ? -1 : 1;
    return x->i < y->i ? -1 : (x->i > y->i);
}

/* Average ranks (ties share the mean of their positions), the form Spearman needs. */
static pb_status average_ranks(const double *v, size_t n, double *rank)
{
    struct ranked *r = malloc(n * sizeof *r);
    if (!r)
        return PB_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        r[i] = (struct ranked){v[i], i};
    qsort(r, n, sizeof *r, cmp_ranked);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && r[j + 1].v == r[i].v)
            j++;
        double avg = (double)(i + j) / 2.0 + 1.0;
        for (size_t k = i; k <= j; k++)
            rank[r[k].i] = avg;
        i = j + 1;
    }
    free(r);
    return PB_OK;
}

static double pearson(const double *a, const double *b, size_t n)
{
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < n; i++) {
        ma += a[i];
        mb += b[i];
    }
    ma /= (double)n;
    mb /= (double)n;
    for (size_t i = 0; i < n; i++) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    if (saa <= 0 || sbb <= 0)
        return NAN;
    return sab / sqrt(saa * sbb);
}

pb_status evalstats_spearman(const double *a, const double *b, size_t n, double *rho, char *err)
{
    *rho = NAN;
    if (n < 2)
        return PB_OK;
    double *ra = malloc(n * sizeof *ra), *rb = malloc(n * sizeof *rb);
    pb_status rc = PB_OK;
    if (!ra || !rb || average_ranks(a, n, ra) != PB_OK || average_ranks(b, n, rb) != PB_OK)
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    else
        *rho = pearson(ra, rb, n);
    free(ra);
    free(rb);
    return rc;
}

/* Kendall tau-b: (concordant - discordant) / sqrt((n0 - ties_a) (n0 - ties_b)). */
static double kendall_tau_b(const double *a, const double *b, size_t n)
{
    double conc = 0, disc = 0, ta = 0, tb = 0, n0 = (double)n * (double)(n - 1) / 2.0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            double da = a[i] - a[j], db = b[i] - b[j];
            if (da == 0)
                ta++;
            if (db == 0)
                tb++;
            if (da * db > 0)
                conc++;
            else if (da * db < 0)
                disc++;
        }
    double den = sqrt((n0 - ta) * (n0 - tb));
    return den > 0 ? (conc - disc) / den : NAN;
}

static double weighted_kappa(long conf[EVALSTATS_LEVELS][EVALSTATS_LEVELS], size_t n)
{
    double rows[EVALSTATS_LEVELS] = {0}, cols[EVALSTATS_LEVELS] = {0}, obs = 0, exp_ = 0;
    for (int i = 0; i < EVALSTATS_LEVELS; i++)
        for (int j = 0; j < EVALSTATS_LEVELS; j++) {
            rows[i] += (double)conf[i][j];
            cols[j] += (double)conf[i][j];
        }
    for (int i = 0; i < EVALSTATS_LEVELS; i++)
        for (int j = 0; j < EVALSTATS_LEVELS; j++) {
            double w =
                (double)((i - j) * (i - j)) / ((EVALSTATS_LEVELS - 1) * (EVALSTATS_LEVELS - 1));
            obs += w * (double)conf[i][j];
            exp_ += w * rows[i] * cols[j] / (double)n;
        }
    return exp_ > 0 ? 1.0 - obs / exp_ : NAN;
}

pb_status evalstats_compute(const double *human, const double *pred, size_t n,
                            struct evalstats *out, char *err)
{
    double *rh = NULL, *rp = NULL;
    pb_status rc = PB_OK;
    memset(out, 0, sizeof *out);
    if (n == 0)
        return pb_errf(err, PB_ERR_INVALID, "no items to evaluate");
    for (size_t i = 0; i < n; i++) {
        if (ratings_level_index(human[i]) < 0)
            return pb_errf(err, PB_ERR_INVALID, "item %zu: human rating %g is not a level", i,
                           human[i]);
        if (!isfinite(pred[i]))
            return pb_errf(err, PB_ERR_INVALID, "item %zu: prediction is not a finite number", i);
    }
    rh = malloc(n * sizeof *rh);
    rp = malloc(n * sizeof *rp);
    if (!rh || !rp || average_ranks(human, n, rh) != PB_OK || average_ranks(pred, n, rp) != PB_OK) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    out->n = n;
    size_t hits = 0;
    for (size_t i = 0; i < n; i++) {
        double d = pred[i] - human[i];
        out->mse += d * d;
        out->mae += fabs(d);
        int h = ratings_level_index(human[i]);
        int p = ratings_level_index(evalstats_round_level(pred[i]));
        out->confusion[h][p]++;
        hits += h == p;
    }
    out->mse /= (double)n;
    out->mae /= (double)n;
    out->exact = (double)hits / (double)n;
    out->spearman = pearson(rh, rp, n);
    out->kendall_tau_b = kendall_tau_b(human, pred, n);
    out->qwk = weighted_kappa(out->confusion, n);
cleanup:
    free(rh);
    free(rp);
    return rc;
}

pb_status evalstats_folds(size_t n, int k, uint64_t seed, int *fold, char *err)
{
    if (k < 2 || (size_t)k > n)
        return pb_errf(err, PB_ERR_INVALID,
                       "folds must be between 2 and the item count (%zu); got %d", n, k);
    size_t *perm = malloc(n * sizeof *perm);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    pb_status rc = PB_OK;
    if (!perm || !rng) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    gsl_rng_set(rng, (unsigned long)seed);
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = gsl_rng_uniform_int(rng, i);
        size_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
    for (size_t i = 0; i < n; i++)
        fold[perm[i]] = (int)(i % (size_t)k);
cleanup:
    free(perm);
    gsl_rng_free(rng);
    return rc;
}
