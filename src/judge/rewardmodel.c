/* rewardmodel.c — features of a short text, kernel-form ridge regression with exact
 * leave-one-out model selection (GSL eigendecomposition of the centred Gram matrix), the JSON
 * model file, and cross-validated predictions. Owns its model memory; no other I/O. */
#include "judge/rewardmodel.h"

#include "base/hash.h"
#include "base/text.h"

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Feature layout version: bump when extraction changes, so old model files are refused. */
#define RM_FEATURES  2
#define RM_HASH_BITS 18
#define RM_NGRAM_MAX 3
#define RM_DENSE     16
#define RM_ZCLIP     5.0

/* Weights of the text statistics tried against the n-grams; 0 = n-grams only. */
static const double rm_gains[] = {0.0, 0.3, 1.0, 3.0};
#define RM_N_GAINS (sizeof rm_gains / sizeof rm_gains[0])

struct sparse_vec {
    uint32_t *idx;
    double *val;
    size_t n;
};

struct rewardmodel {
    double intercept;
    double dense_mean[RM_DENSE], dense_scale[RM_DENSE], dense_weight[RM_DENSE];
    double *weight; /* 2^RM_HASH_BITS n-gram weights */
    double *idf;    /* 2^RM_HASH_BITS inverse document frequencies; 0 = unseen in training */
    double idf_unseen;
    struct rewardmodel_info info;
};

/* ---- features ---------------------------------------------------------------------------- */

/* Code points with whitespace runs collapsed to one space, framed by start/end markers so
 * n-grams see how a text begins and ends. Caller frees *cps. */
static int text_codepoints(const char *s, uint32_t **cps, size_t *n)
{
    size_t len = strlen(s), pos = 0, k = 0;
    uint32_t *out = malloc((len + 2) * sizeof *out);
    if (!out)
        return PB_ERR_NOMEM;
    out[k++] = 0x02;
    int space = 1;
    while (pos < len) {
        int32_t c = text_utf8_next(s, len, &pos);
        if (c < 0)
            c = 0xFFFD;
        int ws = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0x3000 || c == 0xA0;
        if (ws) {
            if (!space)
                out[k++] = ' ';
            space = 1;
            continue;
        }
        out[k++] = (uint32_t)c;
        space = 0;
    }
    if (k > 1 && out[k - 1] == ' ')
        k--;
    out[k++] = 0x03;
    *cps = out;
    *n = k;
    return PB_OK;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Hashed 1..RM_NGRAM_MAX-grams, words and word pairs with sublinear counts (1 + ln c) times
 * idf (when given; unseen features get idf_unseen), scaled to unit length. */
static int sparse_features(const char *text, const double *idf, double idf_unseen,
                           struct sparse_vec *v)
{
    uint32_t *cps = NULL, *h = NULL;
    size_t n = 0, m = 0;
    int rc = text_codepoints(text, &cps, &n);
    memset(v, 0, sizeof *v);
    if (rc != PB_OK)
        return rc;
    h = malloc(n * (RM_NGRAM_MAX + 2) * sizeof *h);
    if (!h) {
        rc = PB_ERR_NOMEM;
        goto cleanup;
    }
    for (size_t g = 1; g <= RM_NGRAM_MAX; g++)
        for (size_t i = 0; i + g <= n; i++)
            h[m++] =
                (uint32_t)(hash_fnv1a64(cps + i, g * sizeof *cps, g) & ((1u << RM_HASH_BITS) - 1));
    /* Whole words (space-separated, markers included) and word pairs. */
    size_t prev_start = 0, prev_len = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && cps[j] != ' ')
            j++;
        h[m++] = (uint32_t)(hash_fnv1a64(cps + i, (j - i) * sizeof *cps, 100) &
                            ((1u << RM_HASH_BITS) - 1));
        if (prev_len)
            h[m++] =
                (uint32_t)(hash_fnv1a64(cps + prev_start, (j - prev_start) * sizeof *cps, 101) &
                           ((1u << RM_HASH_BITS) - 1));
        prev_start = i;
        prev_len = j - i;
        i = j + 1;
    }
    qsort(h, m, sizeof *h, cmp_u32);
    v->idx = malloc((m ? m : 1) * sizeof *v->idx);
    v->val = malloc((m ? m : 1) * sizeof *v->val);
    if (!v->idx || !v->val) {
        rc = PB_ERR_NOMEM;
        goto cleanup;
    }
    double norm = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j < m && h[j] == h[i])
            j++;
        double val = 1.0 + log((double)(j - i));
        if (idf)
            val *= idf[h[i]] > 0 ? idf[h[i]] : idf_unseen;
        v->idx[v->n] = h[i];
        v->val[v->n++] = val;
        norm += val * val;
        i = j;
    }
    for (size_t i = 0; i < v->n; i++)
        v->val[i] /= sqrt(norm);
cleanup:
    free(cps);
    free(h);
    return rc;
}

static void sparse_free(struct sparse_vec *v)
{
    free(v->idx);
    free(v->val);
}

static int is_sentence_end(uint32_t c)
{
    return c == '.' || c == '!' || c == '?' || c == '\n' || c == 0x2026 || c == '~';
}

static int is_emoji(uint32_t c)
{
    return (c >= 0x1F000 && c <= 0x1FAFF) || (c >= 0x2600 && c <= 0x27BF) || c == 0xFE0F;
}

/* Text statistics: size, sentences, punctuation, emoji, scripts, repetition. */
static void dense_features(const char *s, double f[RM_DENSE])
{
    size_t len = strlen(s), pos = 0, chars = 0, visible = 0, hangul = 0, latin = 0;
    size_t sentences = 0, sent_chars = 0, da_endings = 0, cur = 0, lines = 1;
    size_t excl = 0, quest = 0, tilde = 0, dots = 0, emoji = 0, digits = 0, colons = 0, quotes = 0;
    uint32_t last_letter = 0;
    memset(f, 0, RM_DENSE * sizeof *f);
    while (pos < len) {
        int32_t c = text_utf8_next(s, len, &pos);
        if (c < 0)
            continue;
        chars++;
        uint32_t u = (uint32_t)c;
        lines += u == '\n';
        excl += u == '!';
        quest += u == '?';
        tilde += u == '~';
        dots += u == '.' || u == 0x2026;
        colons += u == ':';
        quotes += u == '"' || u == '\'' || u == 0x201C || u == 0x201D;
        digits += u >= '0' && u <= '9';
        emoji += is_emoji(u);
        if (u != ' ' && u != '\n' && u != '\t' && u != '\r')
            visible++;
        if (u >= 0xAC00 && u <= 0xD7A3) {
            hangul++;
            last_letter = u;
        }
        if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z'))
            latin++;
        if (is_sentence_end(u)) {
            if (cur > 0) {
                sentences++;
                sent_chars += cur;
                da_endings += last_letter == 0xB2E4; /* 다: the plain diary ending */
            }
            cur = 0;
            last_letter = 0;
        } else if (u != ' ') {
            cur++;
        }
    }
    if (cur > 0) {
        sentences++;
        sent_chars += cur;
        da_endings += last_letter == 0xB2E4;
    }
    /* Share of space-separated words already seen in the text. */
    size_t words = 0, repeats = 0;
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
            p++;
        const char *w = p;
        while (*p && *p != ' ' && *p != '\n' && *p != '\t' && *p != '\r')
            p++;
        size_t wl = (size_t)(p - w);
        if (!wl)
            continue;
        words++;
        for (const char *q = s; q < w; q++)
            if (strncmp(q, w, wl) == 0 && (q == s || q[-1] == ' ' || q[-1] == '\n') &&
                (q[wl] == ' ' || q[wl] == '\n' || q[wl] == '\0')) {
                repeats++;
                break;
            }
    }
    double vis = visible ? (double)visible : 1.0, sn = sentences ? (double)sentences : 1.0;
    f[0] = (double)chars;
    f[1] = log1p((double)chars);
    f[2] = (double)lines;
    f[3] = (double)sentences;
    f[4] = (double)sent_chars / sn;
    f[5] = (double)excl;
    f[6] = (double)quest;
    f[7] = (double)tilde;
    f[8] = (double)dots;
    f[9] = (double)emoji;
    f[10] = (double)hangul / vis;
    f[11] = (double)latin / vis;
    f[12] = (double)digits;
    f[13] = words ? (double)repeats / (double)words : 0.0;
    f[14] = (double)(colons + quotes);
    f[15] = (double)da_endings / sn;
}

static void dense_standardise(const rewardmodel *m, const double raw[RM_DENSE], double z[RM_DENSE])
{
    for (int d = 0; d < RM_DENSE; d++) {
        double v = (raw[d] - m->dense_mean[d]) / m->dense_scale[d];
        z[d] = v > RM_ZCLIP ? RM_ZCLIP : v < -RM_ZCLIP ? -RM_ZCLIP : v;
    }
}

static double sparse_dot(const struct sparse_vec *a, const double *dense)
{
    double s = 0;
    for (size_t i = 0; i < a->n; i++)
        s += a->val[i] * dense[a->idx[i]];
    return s;
}

/* ---- training ---------------------------------------------------------------------------- */

/* Everything derived from one training set before model selection. */
struct train_data {
    size_t n;
    struct sparse_vec *sv;
    double *z;  /* n x RM_DENSE standardised statistics */
    double *ks; /* n x n Gram matrix of the n-grams */
    double *kd; /* n x n Gram matrix of the statistics, divided by RM_DENSE */
    double ybar;
    double *yc; /* centred ratings */
};

/* Smoothed idf from the training texts, then each training vector re-weighted by it and
 * scaled back to unit length (the same result as extracting it with the idf). */
static void apply_idf(rewardmodel *m, struct sparse_vec *sv, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < sv[i].n; k++)
            m->idf[sv[i].idx[k]] += 1.0;
    m->idf_unseen = log((double)(n + 1)) + 1.0;
    for (size_t x = 0; x < ((size_t)1 << RM_HASH_BITS); x++)
        if (m->idf[x] > 0)
            m->idf[x] = log((double)(n + 1) / (m->idf[x] + 1.0)) + 1.0;
    for (size_t i = 0; i < n; i++) {
        double norm = 0;
        for (size_t k = 0; k < sv[i].n; k++) {
            sv[i].val[k] *= m->idf[sv[i].idx[k]];
            norm += sv[i].val[k] * sv[i].val[k];
        }
        for (size_t k = 0; norm > 0 && k < sv[i].n; k++)
            sv[i].val[k] /= sqrt(norm);
    }
}

static void train_data_free(struct train_data *t)
{
    if (t->sv)
        for (size_t i = 0; i < t->n; i++)
            sparse_free(&t->sv[i]);
    free(t->sv);
    free(t->z);
    free(t->ks);
    free(t->kd);
    free(t->yc);
}

static int train_data_build(rewardmodel *m, const char *const *texts, const double *y, size_t n,
                            struct train_data *t)
{
    double *raw = NULL, *scratch = NULL;
    int rc = PB_ERR_NOMEM;
    memset(t, 0, sizeof *t);
    t->n = n;
    t->sv = calloc(n, sizeof *t->sv);
    t->z = malloc(n * RM_DENSE * sizeof *t->z);
    t->ks = malloc(n * n * sizeof *t->ks);
    t->kd = malloc(n * n * sizeof *t->kd);
    t->yc = malloc(n * sizeof *t->yc);
    raw = malloc(n * RM_DENSE * sizeof *raw);
    scratch = calloc((size_t)1 << RM_HASH_BITS, sizeof *scratch);
    if (!t->sv || !t->z || !t->ks || !t->kd || !t->yc || !raw || !scratch)
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        if (sparse_features(texts[i], NULL, 0, &t->sv[i]) != PB_OK)
            goto cleanup;
        dense_features(texts[i], raw + i * RM_DENSE);
        t->ybar += y[i] / (double)n;
    }
    for (size_t i = 0; i < n; i++)
        t->yc[i] = y[i] - t->ybar;
    apply_idf(m, t->sv, n);
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
        const struct sparse_vec *a = &t->sv[i];
        for (size_t k = 0; k < a->n; k++)
            scratch[a->idx[k]] = a->val[k];
        for (size_t j = 0; j <= i; j++) {
            double kd = 0;
            for (int d = 0; d < RM_DENSE; d++)
                kd += t->z[i * RM_DENSE + d] * t->z[j * RM_DENSE + d];
            t->ks[i * n + j] = t->ks[j * n + i] = sparse_dot(&t->sv[j], scratch);
            t->kd[i * n + j] = t->kd[j * n + i] = kd / RM_DENSE;
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

/* Kernel for one gain, double-centred (the intercept is not penalised), into kc. */
static void centred_kernel(const struct train_data *t, double gain, gsl_matrix *kc)
{
    size_t n = t->n;
    double *rowmean = calloc(n, sizeof *rowmean), total = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            double v = t->ks[i * n + j] + gain * t->kd[i * n + j];
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

/* Exact leave-one-out MSE of kernel ridge at penalty lambda, predictions clamped to [-1, 1]
 * as they will be used: residual_i / (1 - H_ii) with H = V diag(s/(s+lambda)) V' + 11'/n. */
static double loo_mse(const struct train_data *t, const gsl_vector *s, const gsl_matrix *v,
                      const double *u, double lambda, double *loo_pred)
{
    size_t n = t->n;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double fit = t->ybar, h = 1.0 / (double)n;
        for (size_t k = 0; k < n; k++) {
            double sk = gsl_vector_get(s, k), vik = gsl_matrix_get(v, i, k);
            double shrink = sk > 0 ? sk / (sk + lambda) : 0.0;
            fit += vik * shrink * u[k];
            h += vik * vik * shrink;
        }
        double y = t->yc[i] + t->ybar;
        double pred = h < 1.0 - 1e-9 ? y - (y - fit) / (1.0 - h) : fit;
        pred = pred > 1 ? 1 : pred < -1 ? -1 : pred;
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

/* Tries every gain and a log grid of penalties scaled to the kernel's mean eigenvalue. */
static int select_model(const struct train_data *t, struct selection *best, char *err)
{
    size_t n = t->n;
    gsl_matrix *kc = gsl_matrix_alloc(n, n), *v = gsl_matrix_alloc(n, n);
    gsl_vector *s = gsl_vector_alloc(n);
    gsl_eigen_symmv_workspace *ws = gsl_eigen_symmv_alloc(n);
    double *u = malloc(n * sizeof *u);
    int rc = PB_OK;
    best->loo = INFINITY;
    best->v = gsl_matrix_alloc(n, n);
    best->s = gsl_vector_alloc(n);
    if (!kc || !v || !s || !ws || !u || !best->v || !best->s) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory training on %zu texts", n);
        goto cleanup;
    }
    for (size_t g = 0; g < RM_N_GAINS; g++) {
        centred_kernel(t, rm_gains[g], kc);
        double trace = 0;
        for (size_t i = 0; i < n; i++)
            trace += gsl_matrix_get(kc, i, i);
        if (gsl_eigen_symmv(kc, s, v, ws) != 0) {
            rc = pb_errf(err, PB_ERR_INVALID, "eigendecomposition of the kernel failed");
            goto cleanup;
        }
        for (size_t k = 0; k < n; k++) {
            u[k] = 0;
            for (size_t i = 0; i < n; i++)
                u[k] += gsl_matrix_get(v, i, k) * t->yc[i];
        }
        int improved = 0;
        for (int e = 0; e <= 20; e++) {
            double lambda = trace / (double)n * pow(10.0, -3.0 + 0.25 * e);
            double loo = loo_mse(t, s, v, u, lambda, NULL);
            if (loo < best->loo) {
                best->loo = loo;
                best->lambda = lambda;
                best->gain = rm_gains[g];
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

/* Moves a prediction the fraction snap of the way to its nearest level. */
static double snap_to_level(double p, double snap)
{
    double level = round(p * 2.0) / 2.0;
    return p + snap * (level - p);
}

/* Human ratings sit on five levels, so pulling a prediction part of the way to its nearest
 * level trades a little MSE for MAE. MSE stays the primary figure (bandit rewards are means):
 * the fraction minimises leave-one-out MAE among those costing at most 3% of the unsnapped
 * leave-one-out MSE, on the training data only. */
static int choose_snap(const struct train_data *t, const struct selection *sel, double *snap)
{
    static const double grid[] = {0.0, 0.25, 0.5, 0.75, 1.0};
    size_t n = t->n;
    double *u = malloc(n * sizeof *u), *pred = malloc(n * sizeof *pred), best = INFINITY;
    int rc = PB_ERR_NOMEM;
    if (!u || !pred)
        goto cleanup;
    for (size_t k = 0; k < n; k++) {
        u[k] = 0;
        for (size_t i = 0; i < n; i++)
            u[k] += gsl_matrix_get(sel->v, i, k) * t->yc[i];
    }
    loo_mse(t, sel->s, sel->v, u, sel->lambda, pred);
    double mse0 = INFINITY;
    *snap = 0;
    for (size_t g = 0; g < sizeof grid / sizeof grid[0]; g++) {
        double mse = 0, mae = 0;
        for (size_t i = 0; i < n; i++) {
            double d = snap_to_level(pred[i], grid[g]) - (t->yc[i] + t->ybar);
            mse += d * d / (double)n;
            mae += fabs(d) / (double)n;
        }
        if (g == 0)
            mse0 = mse;
        if (mse <= 1.03 * mse0 && mae < best) {
            best = mae;
            *snap = grid[g];
        }
    }
    rc = PB_OK;
cleanup:
    free(u);
    free(pred);
    return rc;
}

/* Primal weights from the dual solution alpha = V diag(1/(s+lambda)) V' yc. */
static int fit_weights(rewardmodel *m, const struct train_data *t, const struct selection *sel)
{
    size_t n = t->n;
    double *u = malloc(n * sizeof *u), *alpha = calloc(n, sizeof *alpha);
    int rc = PB_ERR_NOMEM;
    if (!u || !alpha)
        goto cleanup;
    for (size_t k = 0; k < n; k++) {
        double sk = gsl_vector_get(sel->s, k);
        u[k] = 0;
        for (size_t i = 0; i < n; i++)
            u[k] += gsl_matrix_get(sel->v, i, k) * t->yc[i];
        u[k] /= (sk > 0 ? sk : 0) + sel->lambda;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < n; k++)
            alpha[i] += gsl_matrix_get(sel->v, i, k) * u[k];
    for (size_t i = 0; i < n; i++) {
        const struct sparse_vec *a = &t->sv[i];
        for (size_t k = 0; k < a->n; k++)
            m->weight[a->idx[k]] += alpha[i] * a->val[k];
        for (int d = 0; d < RM_DENSE; d++)
            m->dense_weight[d] += sel->gain / RM_DENSE * alpha[i] * t->z[i * RM_DENSE + d];
    }
    /* The intercept makes the mean training prediction equal the mean rating. */
    double mean_raw = 0;
    for (size_t i = 0; i < n; i++) {
        double r = sparse_dot(&t->sv[i], m->weight);
        for (int d = 0; d < RM_DENSE; d++)
            r += m->dense_weight[d] * t->z[i * RM_DENSE + d];
        mean_raw += r / (double)n;
    }
    m->intercept = t->ybar - mean_raw;
    for (size_t i = 0; i < ((size_t)1 << RM_HASH_BITS); i++)
        m->info.n_weights += m->weight[i] != 0;
    rc = PB_OK;
cleanup:
    free(u);
    free(alpha);
    return rc;
}

static rewardmodel *model_alloc(void)
{
    rewardmodel *m = calloc(1, sizeof *m);
    if (m && (!(m->weight = calloc((size_t)1 << RM_HASH_BITS, sizeof *m->weight)) ||
              !(m->idf = calloc((size_t)1 << RM_HASH_BITS, sizeof *m->idf)))) {
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
    free(m);
}

int rewardmodel_train(const char *const *texts, const double *y, size_t n, rewardmodel **out,
                      char *err)
{
    struct train_data t = {0};
    struct selection sel = {0};
    rewardmodel *m = NULL;
    int rc = PB_OK;
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
    if ((rc = select_model(&t, &sel, err)) != PB_OK)
        goto cleanup;
    if ((rc = fit_weights(m, &t, &sel)) != PB_OK ||
        (rc = choose_snap(&t, &sel, &m->info.snap)) != PB_OK) {
        pb_errf(err, rc, "out of memory fitting the model");
        goto cleanup;
    }
    m->info.train_n = n;
    m->info.lambda = sel.lambda;
    m->info.dense_gain = sel.gain;
    m->info.loo_mse = sel.loo;
    *out = m;
    m = NULL;
cleanup:
    train_data_free(&t);
    gsl_matrix_free(sel.v);
    gsl_vector_free(sel.s);
    rewardmodel_free(m);
    return rc;
}

double rewardmodel_predict(const rewardmodel *m, const char *text)
{
    struct sparse_vec v;
    double raw[RM_DENSE], z[RM_DENSE], score = m->intercept;
    if (sparse_features(text, m->idf, m->idf_unseen, &v) == PB_OK)
        score += sparse_dot(&v, m->weight);
    sparse_free(&v);
    dense_features(text, raw);
    dense_standardise(m, raw, z);
    for (int d = 0; d < RM_DENSE; d++)
        score += m->dense_weight[d] * z[d];
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

int rewardmodel_save(const rewardmodel *m, const char *path, char *err)
{
    json_t *root = NULL, *idx = json_array(), *w = json_array();
    char *text = NULL;
    int rc = PB_OK;
    json_t *idf = json_array();
    for (size_t i = 0; idx && w && idf && i < ((size_t)1 << RM_HASH_BITS); i++)
        if (m->weight[i] != 0 || m->idf[i] > 0) {
            json_array_append_new(idx, json_integer((json_int_t)i));
            json_array_append_new(w, json_real(m->weight[i]));
            json_array_append_new(idf, json_real(m->idf[i]));
        }
    root = json_pack(
        "{s:s, s:i, s:i, s:i, s:i, s:f, s:f, s:{s:I, s:f, s:f, s:f, s:f},"
        " s:{s:o, s:o, s:o}, s:{s:o, s:o, s:o}}",
        "format", REWARDMODEL_FORMAT, "version", REWARDMODEL_VERSION, "features", RM_FEATURES,
        "hash_bits", RM_HASH_BITS, "ngram_max", RM_NGRAM_MAX, "intercept", m->intercept,
        "idf_unseen", m->idf_unseen, "training", "n", (json_int_t)m->info.train_n, "lambda",
        m->info.lambda, "dense_gain", m->info.dense_gain, "loo_mse", m->info.loo_mse, "snap",
        m->info.snap, "dense", "mean", json_doubles(m->dense_mean, RM_DENSE), "scale",
        json_doubles(m->dense_scale, RM_DENSE), "weight", json_doubles(m->dense_weight, RM_DENSE),
        "ngrams", "index", idx, "weight", w, "idf", idf);
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

static int read_doubles(json_t *a, double *out, size_t n)
{
    if (!json_is_array(a) || json_array_size(a) != n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_number(v) || !isfinite(json_number_value(v)))
            return -1;
        out[i] = json_number_value(v);
    }
    return 0;
}

static int read_ngrams(rewardmodel *m, json_t *idx, json_t *w, json_t *idf)
{
    if (!json_is_array(idx) || !json_is_array(w) || !json_is_array(idf) ||
        json_array_size(idx) != json_array_size(w) || json_array_size(idx) != json_array_size(idf))
        return -1;
    for (size_t i = 0; i < json_array_size(idx); i++) {
        json_t *k = json_array_get(idx, i), *v = json_array_get(w, i), *f = json_array_get(idf, i);
        if (!json_is_integer(k) || json_integer_value(k) < 0 ||
            json_integer_value(k) >= (1 << RM_HASH_BITS) || !json_is_number(v) ||
            !isfinite(json_number_value(v)) || !json_is_number(f) || json_number_value(f) < 0 ||
            !isfinite(json_number_value(f)))
            return -1;
        m->weight[json_integer_value(k)] = json_number_value(v);
        m->idf[json_integer_value(k)] = json_number_value(f);
        m->info.n_weights += json_number_value(v) != 0;
    }
    return 0;
}

int rewardmodel_load(const char *path, rewardmodel **out, char *err)
{
    json_error_t jerr;
    json_t *root = NULL, *dense = NULL, *ngrams = NULL, *training = NULL;
    const char *format = NULL;
    int version = 0, features = 0, bits = 0, nmax = 0;
    rewardmodel *m = NULL;
    int rc = PB_OK;
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
        features != RM_FEATURES || bits != RM_HASH_BITS || nmax != RM_NGRAM_MAX) {
        rc = pb_errf(err, PB_ERR_VERSION, "model %s: feature layout differs from this build", path);
        goto cleanup;
    }
    json_int_t tn = 0;
    if (read_doubles(json_object_get(dense, "mean"), m->dense_mean, RM_DENSE) ||
        read_doubles(json_object_get(dense, "scale"), m->dense_scale, RM_DENSE) ||
        read_doubles(json_object_get(dense, "weight"), m->dense_weight, RM_DENSE) ||
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
