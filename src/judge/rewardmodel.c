/* rewardmodel.c — the reward model: standardised text statistics, the Gram matrices of a
 * training set (linear on the n-grams, Gaussian on the statistics), primal n-gram weights and
 * the statistics' kernel expansion from ridge's dual solution, level snapping, prediction and
 * the JSON model file. Features are rewardfeat's, model selection is ridge's. Owns its model
 * memory; no I/O but the model file. */
#include "judge/rewardmodel.h"

#include "judge/evalstats.h"
#include "judge/rewardfeat.h"
#include "judge/ridge.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RM_DENSE REWARDFEAT_STATS
#define RM_ZCLIP 5.0
/* The statistics enter through a Gaussian kernel exp(-|z - z'|^2 / (2 RM_DENSE w)) rather than
 * linearly, so that length, sentences and punctuation can act together and non-monotonically
 * (a text can be too short or too long). w = 8 standardised units per statistic: w in 2..8
 * gave the same 10-fold CV error, and the linear kernel 0.005 more MSE (docs/JUDGE.md). */
#define RM_RBF_WIDTH 8.0

/* Weights of the text statistics tried against the n-grams; 0 = n-grams only. */
static const double rm_gains[] = {0.0, 0.3, 1.0, 3.0, 10.0, 30.0};
#define RM_N_GAINS (sizeof rm_gains / sizeof rm_gains[0])

struct rewardmodel {
    double intercept;
    double dense_mean[RM_DENSE], dense_scale[RM_DENSE];
    size_t n_points;     /* training texts in the statistics' kernel expansion */
    double *points;      /* n_points x RM_DENSE standardised statistics */
    double *point_alpha; /* n_points coefficients (dual alpha times the chosen gain) */
    double *weight;      /* REWARDFEAT_HASH_SIZE n-gram weights */
    double *idf; /* REWARDFEAT_HASH_SIZE inverse document frequencies; 0 = unseen in training */
    double idf_unseen;
    struct rewardmodel_info info;
};

static void dense_standardise(const rewardmodel *m, const double raw[RM_DENSE], double z[RM_DENSE])
{
    for (int d = 0; d < RM_DENSE; d++) {
        double v = (raw[d] - m->dense_mean[d]) / m->dense_scale[d];
        z[d] = v > RM_ZCLIP ? RM_ZCLIP : v < -RM_ZCLIP ? -RM_ZCLIP : v;
    }
}

static double dense_kernel(const double *a, const double *b)
{
    double d2 = 0;
    for (int d = 0; d < RM_DENSE; d++)
        d2 += (a[d] - b[d]) * (a[d] - b[d]);
    return exp(-d2 / (2 * RM_DENSE * RM_RBF_WIDTH));
}

/* The statistics' part of a prediction: sum_i point_alpha[i] k(point_i, z). */
static double dense_score(const rewardmodel *m, const double z[RM_DENSE])
{
    double s = 0;
    for (size_t i = 0; i < m->n_points; i++)
        s += m->point_alpha[i] * dense_kernel(m->points + i * RM_DENSE, z);
    return s;
}

/* ---- training ---------------------------------------------------------------------------- */

/* Everything derived from one training set before model selection. */
struct train_data {
    size_t n;
    struct rewardfeat_vec *sv;
    double *z;  /* n x RM_DENSE standardised statistics */
    double *ks; /* n x n Gram matrix of the n-grams */
    double *kd; /* n x n Gaussian Gram matrix of the statistics */
    double ybar;
    double *yc; /* centred ratings */
};

static void train_data_free(struct train_data *t)
{
    if (t->sv)
        for (size_t i = 0; i < t->n; i++)
            rewardfeat_vec_free(&t->sv[i]);
    free(t->sv);
    free(t->z);
    free(t->ks);
    free(t->kd);
    free(t->yc);
}

/* Features of the training texts (idf fitted on them, statistics standardised, both kept in
 * m) and their Gram matrices. PB_ERR_NOMEM is the only failure. */
static pb_status train_data_build(rewardmodel *m, const char *const *texts, const double *y,
                                  size_t n, struct train_data *t)
{
    double *raw = NULL, *scratch = NULL;
    pb_status rc = PB_ERR_NOMEM;
    memset(t, 0, sizeof *t);
    t->n = n;
    t->sv = calloc(n, sizeof *t->sv);
    t->z = malloc(n * RM_DENSE * sizeof *t->z);
    t->ks = malloc(n * n * sizeof *t->ks);
    t->kd = malloc(n * n * sizeof *t->kd);
    t->yc = malloc(n * sizeof *t->yc);
    raw = malloc(n * RM_DENSE * sizeof *raw);
    scratch = calloc(REWARDFEAT_HASH_SIZE, sizeof *scratch);
    if (!t->sv || !t->z || !t->ks || !t->kd || !t->yc || !raw || !scratch)
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        if (rewardfeat_ngrams(texts[i], NULL, 0, &t->sv[i]) != PB_OK)
            goto cleanup;
        rewardfeat_stats(texts[i], raw + i * RM_DENSE);
        t->ybar += y[i] / (double)n;
    }
    for (size_t i = 0; i < n; i++)
        t->yc[i] = y[i] - t->ybar;
    rewardfeat_idf_fit(t->sv, n, m->idf, &m->idf_unseen);
    for (int d = 0; d < RM_DENSE; d++) {
        double mean = 0, var = 0;
        for (size_t i = 0; i < n; i++)
            mean += raw[i * RM_DENSE + d] / (double)n;
        for (size_t i = 0; i < n; i++)
            var += (raw[i * RM_DENSE + d] - mean) * (raw[i * RM_DENSE + d] - mean) / (double)n;
        m->dense_mean[d] = mean;
        m->dense_scale[d] = var > 1e-12 ? sqrt(var) : 1.0;
    }
    for (size_t i = 0; i < n; i++)
        dense_standardise(m, raw + i * RM_DENSE, t->z + i * RM_DENSE);
    for (size_t i = 0; i < n; i++) {
        const struct rewardfeat_vec *a = &t->sv[i];
        for (size_t k = 0; k < a->n; k++)
            scratch[a->idx[k]] = a->val[k];
        for (size_t j = 0; j <= i; j++) {
            t->ks[i * n + j] = t->ks[j * n + i] = rewardfeat_vec_dot(&t->sv[j], scratch);
            t->kd[i * n + j] = t->kd[j * n + i] =
                dense_kernel(t->z + i * RM_DENSE, t->z + j * RM_DENSE);
        }
        for (size_t k = 0; k < a->n; k++)
            scratch[a->idx[k]] = 0;
    }
    rc = PB_OK;
cleanup:
    free(raw);
    free(scratch);
    return rc;
}

/* Moves a prediction in [-1, 1] the fraction snap of the way to its nearest level. */
static double snap_to_level(double p, double snap)
{
    return p + snap * (evalstats_round_level(p) - p);
}

/* Human ratings sit on five levels, so pulling a prediction part of the way to its nearest
 * level trades a little MSE for MAE. MSE stays the primary figure (bandit rewards are means):
 * the fraction minimises leave-one-out MAE among those costing at most 3% of the unsnapped
 * leave-one-out MSE, on the training data only. */
static double choose_snap(const struct train_data *t, const double *loo_pred)
{
    static const double grid[] = {0.0, 0.25, 0.5, 0.75, 1.0};
    size_t n = t->n;
    double mse0 = INFINITY, best = INFINITY, snap = 0;
    for (size_t g = 0; g < sizeof grid / sizeof grid[0]; g++) {
        double mse = 0, mae = 0;
        for (size_t i = 0; i < n; i++) {
            double d = snap_to_level(loo_pred[i], grid[g]) - (t->yc[i] + t->ybar);
            mse += d * d / (double)n;
            mae += fabs(d) / (double)n;
        }
        if (g == 0)
            mse0 = mse;
        if (mse <= 1.03 * mse0 && mae < best) {
            best = mae;
            snap = grid[g];
        }
    }
    return snap;
}

/* Primal n-gram weights from the dual solution (w = sum_i alpha_i x_i), the statistics'
 * kernel expansion (their points and gain * alpha; none when the gain is 0), and the intercept
 * that makes the mean training prediction equal the mean rating. PB_ERR_NOMEM. */
static pb_status fit_weights(rewardmodel *m, const struct train_data *t,
                             const struct ridge_fit *fit)
{
    size_t n = t->n;
    for (size_t i = 0; i < n; i++) {
        const struct rewardfeat_vec *a = &t->sv[i];
        for (size_t k = 0; k < a->n; k++)
            m->weight[a->idx[k]] += fit->alpha[i] * a->val[k];
    }
    if (fit->gain > 0) {
        m->points = malloc(n * RM_DENSE * sizeof *m->points);
        m->point_alpha = malloc(n * sizeof *m->point_alpha);
        if (!m->points || !m->point_alpha)
            return PB_ERR_NOMEM;
        memcpy(m->points, t->z, n * RM_DENSE * sizeof *m->points);
        for (size_t i = 0; i < n; i++)
            m->point_alpha[i] = fit->gain * fit->alpha[i];
        m->n_points = n;
    }
    double mean_raw = 0;
    for (size_t i = 0; i < n; i++)
        mean_raw +=
            (rewardfeat_vec_dot(&t->sv[i], m->weight) + dense_score(m, t->z + i * RM_DENSE)) /
            (double)n;
    m->intercept = t->ybar - mean_raw;
    for (size_t i = 0; i < REWARDFEAT_HASH_SIZE; i++)
        m->info.n_weights += m->weight[i] != 0;
    return PB_OK;
}

static rewardmodel *model_alloc(void)
{
    rewardmodel *m = calloc(1, sizeof *m);
    if (m && (!(m->weight = calloc(REWARDFEAT_HASH_SIZE, sizeof *m->weight)) ||
              !(m->idf = calloc(REWARDFEAT_HASH_SIZE, sizeof *m->idf)))) {
        free(m->weight);
        free(m);
        m = NULL;
    }
    return m;
}

void rewardmodel_free(rewardmodel *m)
{
    if (!m)
        return;
    free(m->weight);
    free(m->idf);
    free(m->points);
    free(m->point_alpha);
    free(m);
}

pb_status rewardmodel_train(const char *const *texts, const double *y, size_t n, rewardmodel **out,
                            char *err)
{
    struct train_data t = {0};
    struct ridge_fit fit = {0};
    rewardmodel *m = NULL;
    pb_status rc = PB_OK;
    *out = NULL;
    if (n < 3)
        return pb_errf(err, PB_ERR_INVALID, "need at least 3 rated texts to train; got %zu", n);
    for (size_t i = 0; i < n; i++)
        if (!texts[i] || !isfinite(y[i]))
            return pb_errf(err, PB_ERR_INVALID, "item %zu: missing text or non-finite rating", i);
    if (!(m = model_alloc()) || (rc = train_data_build(m, texts, y, n, &t)) != PB_OK) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory training on %zu texts", n);
        goto cleanup;
    }
    struct ridge_problem prob = {.n = n,
                                 .k_main = t.ks,
                                 .k_extra = t.kd,
                                 .gains = rm_gains,
                                 .n_gains = RM_N_GAINS,
                                 .yc = t.yc,
                                 .ybar = t.ybar,
                                 .lo = -1,
                                 .hi = 1};
    if ((rc = ridge_fit(&prob, &fit, err)) != PB_OK)
        goto cleanup;
    if (fit_weights(m, &t, &fit) != PB_OK) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory keeping the model");
        goto cleanup;
    }
    m->info.snap = choose_snap(&t, fit.loo_pred);
    m->info.train_n = n;
    m->info.lambda = fit.lambda;
    m->info.dense_gain = fit.gain;
    m->info.loo_mse = fit.loo_mse;
    *out = m;
    m = NULL;
cleanup:
    train_data_free(&t);
    ridge_fit_free(&fit);
    rewardmodel_free(m);
    return rc;
}

double rewardmodel_predict(const rewardmodel *m, const char *text)
{
    struct rewardfeat_vec v;
    double raw[RM_DENSE], z[RM_DENSE], score = m->intercept;
    if (rewardfeat_ngrams(text, m->idf, m->idf_unseen, &v) == PB_OK)
        score += rewardfeat_vec_dot(&v, m->weight);
    rewardfeat_vec_free(&v);
    rewardfeat_stats(text, raw);
    dense_standardise(m, raw, z);
    score += dense_score(m, z);
    if (!isfinite(score))
        return 0.0;
    score = score > 1 ? 1 : score < -1 ? -1 : score;
    return snap_to_level(score, m->info.snap);
}

void rewardmodel_get_info(const rewardmodel *m, struct rewardmodel_info *out)
{
    *out = m->info;
}

/* ---- model file -------------------------------------------------------------------------- */

static json_t *json_doubles(const double *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_real(v[i]));
    return a;
}

pb_status rewardmodel_save(const rewardmodel *m, const char *path, char *err)
{
    json_t *root = NULL, *idx = json_array(), *w = json_array();
    char *text = NULL;
    pb_status rc = PB_OK;
    json_t *idf = json_array();
    for (size_t i = 0; idx && w && idf && i < REWARDFEAT_HASH_SIZE; i++)
        if (m->weight[i] != 0 || m->idf[i] > 0) {
            json_array_append_new(idx, json_integer((json_int_t)i));
            json_array_append_new(w, json_real(m->weight[i]));
            json_array_append_new(idf, json_real(m->idf[i]));
        }
    root = json_pack(
        "{s:s, s:i, s:i, s:i, s:i, s:f, s:f, s:{s:I, s:f, s:f, s:f, s:f},"
        " s:{s:o, s:o, s:o, s:o}, s:{s:o, s:o, s:o}}",
        "format", REWARDMODEL_FORMAT, "version", REWARDMODEL_VERSION, "features",
        REWARDFEAT_VERSION, "hash_bits", REWARDFEAT_HASH_BITS, "ngram_max", REWARDFEAT_NGRAM_MAX,
        "intercept", m->intercept, "idf_unseen", m->idf_unseen, "training", "n",
        (json_int_t)m->info.train_n, "lambda", m->info.lambda, "dense_gain", m->info.dense_gain,
        "loo_mse", m->info.loo_mse, "snap", m->info.snap, "dense", "mean",
        json_doubles(m->dense_mean, RM_DENSE), "scale", json_doubles(m->dense_scale, RM_DENSE),
        "points", json_doubles(m->points, m->n_points * RM_DENSE), "alpha",
        json_doubles(m->point_alpha, m->n_points), "ngrams", "index", idx, "weight", w, "idf", idf);
    idx = w = idf = NULL; /* owned by root now, or freed by json_pack on failure */
    if (!root || !(text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(10)))) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory writing the model");
        goto cleanup;
    }
    rc = pb_write_file_atomic(path, text, strlen(text), err);
cleanup:
    json_decref(idx);
    json_decref(w);
    json_decref(idf);
    json_decref(root);
    free(text);
    return rc;
}

/* n finite numbers from a JSON array of exactly n; PB_ERR_INVALID otherwise. */
static pb_status read_doubles(json_t *a, double *out, size_t n)
{
    if (!json_is_array(a) || json_array_size(a) != n)
        return PB_ERR_INVALID;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_number(v) || !isfinite(json_number_value(v)))
            return PB_ERR_INVALID;
        out[i] = json_number_value(v);
    }
    return PB_OK;
}

/* The statistics' kernel expansion: n x RM_DENSE points and n coefficients (n may be 0);
 * PB_ERR_INVALID when malformed, PB_ERR_NOMEM. */
static pb_status read_points(rewardmodel *m, json_t *points, json_t *alpha)
{
    if (!json_is_array(points) || !json_is_array(alpha) ||
        json_array_size(points) != json_array_size(alpha) * RM_DENSE)
        return PB_ERR_INVALID;
    size_t n = json_array_size(alpha);
    if (n == 0)
        return PB_OK;
    m->points = malloc(n * RM_DENSE * sizeof *m->points);
    m->point_alpha = malloc(n * sizeof *m->point_alpha);
    if (!m->points || !m->point_alpha)
        return PB_ERR_NOMEM;
    m->n_points = n;
    if (read_doubles(points, m->points, n * RM_DENSE) != PB_OK ||
        read_doubles(alpha, m->point_alpha, n) != PB_OK)
        return PB_ERR_INVALID;
    return PB_OK;
}

/* The n-gram weights and idf from three parallel arrays; PB_ERR_INVALID when malformed. */
static pb_status read_ngrams(rewardmodel *m, json_t *idx, json_t *w, json_t *idf)
{
    if (!json_is_array(idx) || !json_is_array(w) || !json_is_array(idf) ||
        json_array_size(idx) != json_array_size(w) || json_array_size(idx) != json_array_size(idf))
        return PB_ERR_INVALID;
    for (size_t i = 0; i < json_array_size(idx); i++) {
        json_t *k = json_array_get(idx, i), *v = json_array_get(w, i), *f = json_array_get(idf, i);
        if (!json_is_integer(k) || json_integer_value(k) < 0 ||
            json_integer_value(k) >= (json_int_t)REWARDFEAT_HASH_SIZE || !json_is_number(v) ||
            !isfinite(json_number_value(v)) || !json_is_number(f) || json_number_value(f) < 0 ||
            !isfinite(json_number_value(f)))
            return PB_ERR_INVALID;
        m->weight[json_integer_value(k)] = json_number_value(v);
        m->idf[json_integer_value(k)] = json_number_value(f);
        m->info.n_weights += json_number_value(v) != 0;
    }
    return PB_OK;
}

pb_status rewardmodel_load(const char *path, rewardmodel **out, char *err)
{
    json_error_t jerr;
    json_t *root = NULL, *dense = NULL, *ngrams = NULL, *training = NULL;
    const char *format = NULL;
    int version = 0, features = 0, bits = 0, nmax = 0;
    rewardmodel *m = NULL;
    pb_status rc = PB_OK;
    *out = NULL;
    root = json_load_file(path, 0, &jerr);
    if (!root)
        return pb_errf(err, jerr.line < 0 ? PB_ERR_IO : PB_ERR_INVALID, "model %s: %s", path,
                       jerr.text);
    if (json_unpack(root, "{s:s, s:i}", "format", &format, "version", &version) != 0 ||
        strcmp(format, REWARDMODEL_FORMAT) != 0) {
        rc = pb_errf(err, PB_ERR_INVALID, "%s is not a promptbandit reward model", path);
        goto cleanup;
    }
    if (version != REWARDMODEL_VERSION) {
        rc = pb_errf(err, PB_ERR_VERSION,
                     "model %s has version %d; this build reads version %d"
                     " (train it again with `promptbandit judge train`)",
                     path, version, REWARDMODEL_VERSION);
        goto cleanup;
    }
    if (!(m = model_alloc())) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    if (json_unpack(root, "{s:i, s:i, s:i, s:F, s:o, s:o, s:o}", "features", &features, "hash_bits",
                    &bits, "ngram_max", &nmax, "intercept", &m->intercept, "dense", &dense,
                    "ngrams", &ngrams, "training", &training) != 0 ||
        features != REWARDFEAT_VERSION || bits != REWARDFEAT_HASH_BITS ||
        nmax != REWARDFEAT_NGRAM_MAX) {
        rc = pb_errf(err, PB_ERR_VERSION, "model %s: feature layout differs from this build", path);
        goto cleanup;
    }
    json_int_t tn = 0;
    if (read_doubles(json_object_get(dense, "mean"), m->dense_mean, RM_DENSE) ||
        read_doubles(json_object_get(dense, "scale"), m->dense_scale, RM_DENSE) ||
        read_points(m, json_object_get(dense, "points"), json_object_get(dense, "alpha")) ||
        read_ngrams(m, json_object_get(ngrams, "index"), json_object_get(ngrams, "weight"),
                    json_object_get(ngrams, "idf")) ||
        json_unpack(training, "{s:I, s:F, s:F, s:F, s:F}", "n", &tn, "lambda", &m->info.lambda,
                    "dense_gain", &m->info.dense_gain, "loo_mse", &m->info.loo_mse, "snap",
                    &m->info.snap) != 0 ||
        json_unpack(root, "{s:F}", "idf_unseen", &m->idf_unseen) != 0 || !isfinite(m->intercept)) {
        rc = pb_errf(err, PB_ERR_INVALID, "model %s: malformed weights", path);
        goto cleanup;
    }
    for (int d = 0; d < RM_DENSE; d++)
        if (m->dense_scale[d] <= 0) {
            rc = pb_errf(err, PB_ERR_INVALID, "model %s: scale %d is not positive", path, d);
            goto cleanup;
        }
    m->info.train_n = (size_t)tn;
    *out = m;
    m = NULL;
cleanup:
    json_decref(root);
    rewardmodel_free(m);
    return rc;
}
