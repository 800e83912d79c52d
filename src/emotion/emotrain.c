/* emotrain.c — training of the embedded emotion model (see emotrain.h). The per-feature
 * ("row-wise") AdaGrad keeps one accumulator per feature instead of one per weight: one square
 * root per feature and update instead of one per label, with the same sparse-feature benefit. */
#include "emotion/emotrain.h"

#include "emotion/emolabels.h"
#include "emotion/evalclass.h"
#include "base/pb.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TRAIN_BUCKET_BITS 24

/* Features of every sentence, extracted once. */
struct corpus {
    size_t n;
    size_t *start; /* n + 1 */
    uint32_t *id;
    float *norm; /* 1/sqrt(feature count), as emomodel_scores uses */
};

/* A trained float model over rows (features kept by the vocabulary). */
struct fitted {
    size_t rows, L;
    uint32_t *keys;
    float *w, *bias;
};

struct trainer {
    const struct emodata *d;
    const struct emotrain_opts *o;
    const struct corpus *c;
    size_t L;
    uint64_t rng;
};

static void progress(const struct emotrain_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void progress(const struct emotrain_opts *o, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    if (!o->progress)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    o->progress(o->progress_ctx, msg);
}

void emotrain_defaults(struct emotrain_opts *o)
{
    *o = (struct emotrain_opts){.mode = EMOMODEL_MULTI,
                                .feat = {EMOFEAT_DEFAULT, 22},
                                .epochs = 8,
                                .average_from = 3,
                                .lr = 0.1,
                                .l2 = 0.0,
                                .min_count = 3,
                                .seed = 1,
                                .holdout = 0.15,
                                .folds = 5,
                                .pos_weight_power = 0.5,
                                .pos_weight_max = 10.0,
                                .refit = 1};
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void shuffle(size_t *a, size_t n, uint64_t *rng)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(rng_next(rng) % i), t = a[i - 1];
        a[i - 1] = a[j], a[j] = t;
    }
}

static void corpus_free(struct corpus *c)
{
    free(c->start);
    free(c->id);
    free(c->norm);
}

static pb_status corpus_build(const struct emodata *d, const struct emofeat_opts *feat,
                              struct corpus *c, char *err)
{
    uint32_t *buf = malloc(EMOFEAT_MAX_FEATURES * sizeof *buf);
    size_t cap = d->n * 64, used = 0;
    pb_status rc = PB_OK;
    *c = (struct corpus){.n = d->n};
    c->start = malloc((d->n + 1) * sizeof *c->start);
    c->norm = malloc(d->n * sizeof *c->norm);
    c->id = malloc(cap * sizeof *c->id);
    if (!buf || !c->start || !c->norm || !c->id)
        goto nomem;
    for (size_t i = 0; i < d->n; i++) {
        size_t n;
        char why[PB_ERR_LEN];
        if (emofeat_extract(feat, d->text[i], strlen(d->text[i]), buf, EMOFEAT_MAX_FEATURES, &n,
                            why) != PB_OK) {
            rc = pb_errf(err, PB_ERR_INVALID, "example %zu: %s", i + 1, why);
            goto cleanup;
        }
        if (used + n > cap) {
            while (used + n > cap)
                cap *= 2;
            uint32_t *grown = realloc(c->id, cap * sizeof *grown);
            if (!grown)
                goto nomem;
            c->id = grown;
        }
        c->start[i] = used;
        memcpy(c->id + used, buf, n * sizeof *buf);
        used += n;
        c->norm[i] = n ? 1.0f / sqrtf((float)n) : 0.0f;
    }
    c->start[d->n] = used;
    goto cleanup;
nomem:
    rc = pb_errf(err, PB_ERR_NOMEM, "out of memory extracting features");
cleanup:
    free(buf);
    if (rc != PB_OK)
        corpus_free(c);
    return rc;
}

/* Maps bucket ids seen in >= min_count of the examples idx[0..n) to rows 0..rows-1 (ascending
 * by id); row_of has 2^bucket_bits entries, -1 for dropped ids. */
static pb_status vocabulary(const struct trainer *t, const size_t *idx, size_t n, int32_t **row_of,
                            struct fitted *f, char *err)
{
    size_t buckets = (size_t)1 << t->o->feat.bucket_bits;
    int32_t *count = calloc(buckets, sizeof *count);
    if (!count)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory for %zu buckets", buckets);
    for (size_t k = 0; k < n; k++) {
        size_t i = idx[k];
        for (size_t j = t->c->start[i]; j < t->c->start[i + 1]; j++) {
            uint32_t id = t->c->id[j];
            if (count[id] >= 0) /* negative marks "already counted for this example" */
                count[id] = -count[id] - 1;
        }
        for (size_t j = t->c->start[i]; j < t->c->start[i + 1]; j++)
            if (count[t->c->id[j]] < 0)
                count[t->c->id[j]] = -count[t->c->id[j]];
    }
    size_t rows = 0;
    for (size_t b = 0; b < buckets; b++)
        rows += count[b] >= t->o->min_count;
    f->keys = malloc((rows ? rows : 1) * sizeof *f->keys);
    if (!f->keys) {
        free(count);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    f->rows = 0;
    for (size_t b = 0; b < buckets; b++) {
        int keep = count[b] >= t->o->min_count;
        count[b] = keep ? (int32_t)f->rows : -1;
        if (keep)
            f->keys[f->rows++] = (uint32_t)b;
    }
    *row_of = count;
    return PB_OK;
}

/* Per-label gradient of the loss with respect to the scores, in place over s. */
static void gradient(const struct trainer *t, const float *pos_weight, size_t i, float *s)
{
    const struct emodata *d = t->d;
    size_t L = t->L, a = d->label_start[i], b = d->label_start[i + 1];
    if (t->o->mode == EMOMODEL_MULTI) {
        for (size_t l = 0; l < L; l++)
            s[l] = 1.0f / (1.0f + expf(-s[l]));
        for (size_t k = a; k < b; k++)
            s[d->labels[k]] = pos_weight[d->labels[k]] * (s[d->labels[k]] - 1.0f);
        return;
    }
    float max = s[0], sum = 0;
    for (size_t l = 1; l < L; l++)
        max = s[l] > max ? s[l] : max;
    for (size_t l = 0; l < L; l++)
        sum += (s[l] = expf(s[l] - max));
    for (size_t l = 0; l < L; l++)
        s[l] /= sum;
    for (size_t k = a; k < b; k++)
        s[d->labels[k]] -= 1.0f / (float)(b - a);
}

/* Each training example's features as vocabulary rows (dropped ids removed), so that the
 * epochs never touch the 2^bucket_bits map again. */
struct rowlists {
    size_t *start; /* indexed by example, start[i]..end[i] */
    size_t *end;
    uint32_t *row;
};

static void rowlists_free(struct rowlists *r)
{
    free(r->start);
    free(r->end);
    free(r->row);
}

static pb_status rowlists_build(const struct trainer *t, const size_t *idx, size_t n,
                                const int32_t *row_of, struct rowlists *r, char *err)
{
    const struct corpus *c = t->c;
    size_t total = 0, used = 0;
    for (size_t k = 0; k < n; k++)
        total += c->start[idx[k] + 1] - c->start[idx[k]];
    r->start = calloc(c->n, sizeof *r->start);
    r->end = calloc(c->n, sizeof *r->end);
    r->row = malloc((total ? total : 1) * sizeof *r->row);
    if (!r->start || !r->end || !r->row) {
        rowlists_free(r);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    for (size_t k = 0; k < n; k++) {
        size_t i = idx[k];
        r->start[i] = used;
        for (size_t j = c->start[i]; j < c->start[i + 1]; j++)
            if (row_of[c->id[j]] >= 0)
                r->row[used++] = (uint32_t)row_of[c->id[j]];
        r->end[i] = used;
    }
    return PB_OK;
}

static void step(const struct trainer *t, const struct rowlists *rl, const float *pos_weight,
                 size_t i, struct fitted *f, float *G, float *Gb, float *s)
{
    size_t L = t->L;
    float x = t->c->norm[i], lr = (float)t->o->lr, decay = (float)t->o->l2;
    memcpy(s, f->bias, L * sizeof *s);
    for (size_t j = rl->start[i]; j < rl->end[i]; j++) {
        const float *w = f->w + (size_t)rl->row[j] * L;
        for (size_t l = 0; l < L; l++)
            s[l] += x * w[l];
    }
    gradient(t, pos_weight, i, s);
    if (t->d->weight)
        for (size_t l = 0; l < L; l++)
            s[l] *= t->d->weight[i];
    float g2 = 0;
    for (size_t l = 0; l < L; l++) {
        g2 += s[l] * s[l];
        Gb[l] += s[l] * s[l];
        f->bias[l] -= lr * s[l] / sqrtf(Gb[l] + 1e-6f);
    }
    g2 /= (float)L;
    for (size_t j = rl->start[i]; j < rl->end[i]; j++) {
        uint32_t r = rl->row[j];
        G[r] += x * x * g2;
        float eta = lr / sqrtf(G[r] + 1e-6f);
        float *w = f->w + (size_t)r * L;
        for (size_t l = 0; l < L; l++)
            w[l] -= eta * (x * s[l] + decay * w[l]);
    }
}

static void class_weights(const struct trainer *t, const size_t *idx, size_t n, float *pw)
{
    const struct emodata *d = t->d;
    for (size_t l = 0; l < t->L; l++)
        pw[l] = 0;
    for (size_t k = 0; k < n; k++)
        for (size_t j = d->label_start[idx[k]]; j < d->label_start[idx[k] + 1]; j++)
            pw[d->labels[j]] += 1;
    for (size_t l = 0; l < t->L; l++) {
        double w = pw[l] > 0 ? pow((double)(n - pw[l]) / pw[l], t->o->pos_weight_power) : 1.0;
        pw[l] = (float)(w < 1 ? 1 : w > t->o->pos_weight_max ? t->o->pos_weight_max : w);
    }
}

static void fitted_free(struct fitted *f)
{
    free(f->keys);
    free(f->w);
    free(f->bias);
}

/* Trains on examples idx[0..n) into f; the weights are the average of the end-of-epoch weights
 * from epoch average_from on. */
static pb_status fit(struct trainer *t, const size_t *idx, size_t n, struct fitted *f, char *err)
{
    const struct emotrain_opts *o = t->o;
    int32_t *row_of = NULL;
    float *G = NULL, *Gb = NULL, *avg = NULL, *avg_b = NULL, *pw = NULL, *s = NULL;
    size_t *order = NULL;
    pb_status rc;
    *f = (struct fitted){.L = t->L};
    struct rowlists rl = {0};
    if ((rc = vocabulary(t, idx, n, &row_of, f, err)) != PB_OK)
        return rc;
    rc = rowlists_build(t, idx, n, row_of, &rl, err);
    free(row_of);
    row_of = NULL;
    if (rc != PB_OK) {
        fitted_free(f);
        return rc;
    }
    size_t W = f->rows * t->L;
    f->w = calloc(W ? W : 1, sizeof *f->w);
    f->bias = calloc(t->L, sizeof *f->bias);
    avg = calloc(W ? W : 1, sizeof *avg);
    avg_b = calloc(t->L, sizeof *avg_b);
    G = calloc(f->rows ? f->rows : 1, sizeof *G);
    Gb = calloc(t->L, sizeof *Gb);
    pw = calloc(t->L, sizeof *pw);
    s = calloc(t->L, sizeof *s);
    order = malloc((n ? n : 1) * sizeof *order);
    if (!f->w || !f->bias || !avg || !avg_b || !G || !Gb || !pw || !s || !order) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory for %zu x %zu weights", f->rows, t->L);
        goto cleanup;
    }
    progress(o, "vocabulary: %zu features kept (seen in >= %d sentences), %zu sentences", f->rows,
             o->min_count, n);
    class_weights(t, idx, n, pw);
    memcpy(order, idx, n * sizeof *order);
    int averaged = 0, members = o->ensemble > 1 ? o->ensemble : 1;
    /* An ensemble restarts from zero with other shuffles; every member's epochs from
     * average_from on go into the one average (a linear model: averaging the weights averages
     * the members' scores before the squashing). */
    for (int e = 1; e <= o->epochs * members; e++) {
        if (e > 1 && (e - 1) % o->epochs == 0) {
            memset(f->w, 0, W * sizeof *f->w);
            memset(f->bias, 0, t->L * sizeof *f->bias);
            memset(G, 0, (f->rows ? f->rows : 1) * sizeof *G);
            memset(Gb, 0, t->L * sizeof *Gb);
        }
        shuffle(order, n, &t->rng);
        for (size_t k = 0; k < n; k++)
            step(t, &rl, pw, order[k], f, G, Gb, s);
        if ((e - 1) % o->epochs + 1 >= o->average_from) {
            for (size_t i = 0; i < W; i++)
                avg[i] += f->w[i];
            for (size_t l = 0; l < t->L; l++)
                avg_b[l] += f->bias[l];
            averaged++;
        }
        progress(o, "epoch %d/%d done", e, o->epochs * members);
    }
    if (averaged) {
        for (size_t i = 0; i < W; i++)
            f->w[i] = avg[i] / (float)averaged;
        for (size_t l = 0; l < t->L; l++)
            f->bias[l] = avg_b[l] / (float)averaged;
    }
cleanup:
    rowlists_free(&rl);
    free(row_of), free(G), free(Gb), free(avg), free(avg_b), free(pw), free(s), free(order);
    if (rc != PB_OK)
        fitted_free(f);
    return rc;
}

static pb_status build(const struct trainer *t, const struct fitted *f, const float *thresholds,
                       emomodel **out, char *err)
{
    size_t L = t->L;
    const char **names = malloc(3 * L * sizeof *names);
    if (!names)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    for (size_t l = 0; l < L; l++) {
        names[l] = t->d->label[l].name;
        names[L + l] = t->d->label[l].display;
        names[2 * L + l] = t->d->label[l].group;
    }
    struct emomodel_spec spec = {.mode = t->o->mode,
                                 .feat = t->o->feat,
                                 .n_labels = L,
                                 .name = names,
                                 .display = names + L,
                                 .group = names + 2 * L,
                                 .threshold = thresholds,
                                 .bias = f->bias,
                                 .n_rows = f->rows,
                                 .keys = f->keys,
                                 .weights = f->w};
    pb_status rc = emomodel_build(&spec, out, err);
    free(names);
    return rc;
}

/* Scores of the examples idx[0..n) by m into score (n rows of t->L). */
static pb_status score_examples(const struct trainer *t, const emomodel *m, const size_t *idx,
                                size_t n, float *score, char *err)
{
    pb_status rc = PB_OK;
    for (size_t k = 0; k < n && rc == PB_OK; k++)
        rc = emomodel_scores(m, t->d->text[idx[k]], strlen(t->d->text[idx[k]]), score + k * t->L,
                             err);
    return rc;
}

/* Per-label thresholds maximising F1 on the held-out examples idx[0..n) given their scores. */
static pb_status tune_thresholds(const struct trainer *t, const size_t *idx, size_t n,
                                 const float *score, float *thr, char *err)
{
    size_t L = t->L;
    float *col = malloc((n ? n : 1) * 4);
    uint8_t *pos = malloc(n ? n : 1);
    size_t *positives = calloc(L, sizeof *positives);
    pb_status rc = PB_OK;
    if (!col || !pos || !positives) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    enum { NT = 91 }; /* thresholds 0.05, 0.06, ..., 0.95 */
    double grid[NT], mean_f1[NT] = {0}, f1[NT];
    for (int j = 0; j < NT; j++)
        grid[j] = 0.05 + 0.01 * j;
    for (size_t l = 0; l < L; l++) {
        const struct emodata *d = t->d;
        for (size_t k = 0; k < n; k++) {
            col[k] = score[k * L + l];
            pos[k] = 0;
            for (size_t j = d->label_start[idx[k]]; j < d->label_start[idx[k] + 1]; j++)
                pos[k] |= d->labels[j] == l;
            positives[l] += pos[k];
        }
        evalclass_f1_at(col, pos, n, grid, NT, f1);
        int best = 0;
        for (int j = 0; j < NT; j++) {
            mean_f1[j] += f1[j] / (double)L;
            best = f1[j] > f1[best] + 1e-12 ? j : best;
        }
        thr[l] = positives[l] ? (float)grid[best] : 0.5f;
    }
    int shared = 0;
    for (int j = 0; j < NT; j++)
        shared = mean_f1[j] > mean_f1[shared] + 1e-12 ? j : shared;
    for (size_t l = 0; l < L; l++) {
        double p = (double)positives[l], k = t->o->threshold_prior;
        if (p + k > 0)
            thr[l] = (float)((p * thr[l] + k * grid[shared]) / (p + k));
    }
cleanup:
    free(col), free(pos), free(positives);
    return rc;
}

/* Single mode with a "neutral" label: the threshold on its probability above which a sentence
 * is neutral (else the best other label), chosen for the best macro-F1 over the labels seen
 * in the held-out examples idx[0..n) — the calibrated "no clear emotion" decision. */
static pb_status tune_neutral(const struct trainer *t, int neutral, const size_t *idx, size_t n,
                              const float *score, float *thr, char *err)
{
    size_t L = t->L;
    struct evalclass e = {0};
    pb_status rc = PB_OK;
    double best_f1 = -1;
    for (int j = 0; rc == PB_OK && j <= 90; j++) {
        float cut = 0.05f + 0.01f * (float)j;
        if ((rc = evalclass_init(&e, L, err)) != PB_OK)
            break;
        for (size_t k = 0; k < n; k++) {
            const float *sc = score + k * L;
            uint16_t pred = 0;
            if (sc[neutral] >= cut) {
                pred = (uint16_t)neutral;
            } else {
                for (size_t l = 0; l < L; l++)
                    if ((int)l != neutral && ((int)pred == neutral || sc[l] > sc[pred]))
                        pred = (uint16_t)l;
            }
            const struct emodata *d = t->d;
            evalclass_add(&e, d->labels + d->label_start[idx[k]],
                          d->label_start[idx[k] + 1] - d->label_start[idx[k]], &pred, 1);
        }
        struct evalclass_stats st;
        evalclass_macro_seen(&e, &st);
        if (st.f1 > best_f1 + 1e-12)
            best_f1 = st.f1, thr[neutral] = cut;
        evalclass_free(&e);
    }
    if (rc == PB_OK)
        progress(t->o, "neutral threshold %.2f (held-out macro-F1 %.4f)", (double)thr[neutral],
                 best_f1);
    return rc;
}

static pb_status check_opts(const struct emotrain_opts *o, const struct emodata *d, char *err)
{
    if (o->feat.bucket_bits < 12 || o->feat.bucket_bits > MAX_TRAIN_BUCKET_BITS)
        return pb_errf(err, PB_ERR_INVALID, "bucket bits must be in 12..%d", MAX_TRAIN_BUCKET_BITS);
    if (o->epochs < 1 || o->epochs > 1000 || o->average_from < 1 || !(o->lr > 0) ||
        o->min_count < 1 || !(o->holdout >= 0 && o->holdout < 0.9) || !(o->l2 >= 0))
        return pb_errf(err, PB_ERR_INVALID,
                       "training options out of range (epochs 1..1000, lr > 0, min count >= 1, "
                       "holdout in [0, 0.9))");
    if (d->n_labels < 2 && o->mode == EMOMODEL_SINGLE)
        return pb_errf(err, PB_ERR_INVALID, "single-label training needs at least 2 labels");
    return PB_OK;
}

/* Scores every example of idx[0..n) by a model trained without it: folds >= 2 models, each
 * trained on the other folds (cross-validation), or one model trained on idx[n..total) (the
 * plain held-out split). */
static pb_status held_out_scores(struct trainer *t, const size_t *idx, size_t n, size_t total,
                                 const float *thr, float *score, char *err)
{
    int folds = t->o->folds >= 2 ? t->o->folds : 1;
    size_t *train = malloc((total ? total : 1) * sizeof *train);
    pb_status rc = train ? PB_OK : pb_errf(err, PB_ERR_NOMEM, "out of memory");
    for (int k = 0; rc == PB_OK && k < folds; k++) {
        size_t lo = n * (size_t)k / (size_t)folds, hi = n * (size_t)(k + 1) / (size_t)folds, m = 0;
        struct fitted f = {0};
        emomodel *probe = NULL;
        if (folds == 1) {
            memcpy(train, idx + n, (total - n) * sizeof *train);
            m = total - n;
        } else {
            for (size_t i = 0; i < n; i++)
                if (i < lo || i >= hi)
                    train[m++] = idx[i];
        }
        progress(t->o, "held-out scores %d/%d: training on %zu, scoring %zu", k + 1, folds, m,
                 hi - lo);
        if ((rc = fit(t, train, m, &f, err)) == PB_OK &&
            (rc = build(t, &f, thr, &probe, err)) == PB_OK)
            rc = score_examples(t, probe, idx + lo, hi - lo, score + lo * t->L, err);
        emomodel_free(probe);
        fitted_free(&f);
    }
    free(train);
    return rc;
}

pb_status emotrain_fit(const struct emodata *d, const struct emotrain_opts *o, emomodel **out,
                       char *err)
{
    struct corpus c = {0};
    struct fitted f = {0};
    struct trainer t = {.d = d, .o = o, .c = &c, .L = d->n_labels, .rng = o->seed};
    size_t *idx = NULL;
    float *thr = NULL, *score = NULL;
    pb_status rc;
    *out = NULL;
    if ((rc = check_opts(o, d, err)) != PB_OK || (rc = corpus_build(d, &o->feat, &c, err)))
        return rc;
    idx = malloc(d->n * sizeof *idx);
    thr = malloc(d->n_labels * sizeof *thr);
    if (!idx || !thr) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < d->n; i++)
        idx[i] = i;
    int neutral = -1;
    for (size_t l = 0; l < d->n_labels; l++) {
        thr[l] = o->mode == EMOMODEL_MULTI ? 0.5f : 0.0f;
        if (o->mode == EMOMODEL_SINGLE && strcmp(d->label[l].name, "neutral") == 0)
            neutral = (int)l, thr[l] = 1.0f;
    }
    int tune = o->mode == EMOMODEL_MULTI || neutral >= 0;
    /* Cross-validated tuning scores every example; the plain split only the held-out part. */
    size_t held = !tune                       ? 0
                  : o->folds >= 2 && o->refit ? d->n
                                              : (size_t)(o->holdout * (double)d->n);
    if (held) {
        uint64_t split_rng = o->seed ^ 0x5eed;
        shuffle(idx, d->n, &split_rng);
        if (held < d->n) { /* the held-out part first, as held_out_scores expects */
            for (size_t i = 0; i < held; i++) {
                size_t j = d->n - held + i, tmp = idx[i];
                idx[i] = idx[j], idx[j] = tmp;
            }
        }
        if (!(score = malloc(held * t.L * sizeof *score))) {
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
            goto cleanup;
        }
        if ((rc = held_out_scores(&t, idx, held, d->n, thr, score, err)) != PB_OK ||
            (rc = o->mode == EMOMODEL_MULTI
                      ? tune_thresholds(&t, idx, held, score, thr, err)
                      : tune_neutral(&t, neutral, idx, held, score, thr, err)) != PB_OK)
            goto cleanup;
        if (!o->refit) {
            if ((rc = fit(&t, idx + held, d->n - held, &f, err)) == PB_OK)
                rc = build(&t, &f, thr, out, err);
            goto cleanup;
        }
        for (size_t i = 0; i < d->n; i++)
            idx[i] = i;
        progress(o, "refitting on all %zu sentences", d->n);
    }
    if ((rc = fit(&t, idx, d->n, &f, err)) == PB_OK)
        rc = build(&t, &f, thr, out, err);
cleanup:
    fitted_free(&f);
    corpus_free(&c);
    free(idx);
    free(thr);
    free(score);
    return rc;
}

pb_status emotrain_eval(const emomodel *m, const struct emodata *d, double threshold,
                        struct evalclass *e, char *err)
{
    size_t L = emomodel_n_labels(m);
    float *s = malloc(L * sizeof *s);
    uint16_t *pred = malloc(L * sizeof *pred);
    pb_status rc = PB_OK;
    if (!s || !pred) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < d->n; i++) {
        char why[PB_ERR_LEN];
        if (emomodel_scores(m, d->text[i], strlen(d->text[i]), s, why) != PB_OK) {
            rc = pb_errf(err, PB_ERR_INVALID, "example %zu: %s", i + 1, why);
            goto cleanup;
        }
        size_t np = 0;
        if (threshold >= 0 && emomodel_mode(m) == EMOMODEL_MULTI) {
            size_t top = 0;
            for (size_t l = 0; l < L; l++) {
                top = s[l] > s[top] ? l : top;
                if (s[l] >= threshold)
                    pred[np++] = (uint16_t)l;
            }
            if (!np)
                pred[np++] = (uint16_t)top;
        } else {
            np = emomodel_decide(m, s, pred);
        }
        evalclass_add(e, d->labels + d->label_start[i], d->label_start[i + 1] - d->label_start[i],
                      pred, np);
    }
cleanup:
    free(s);
    free(pred);
    return rc;
}

void emotrain_bundle_defaults(struct emotrain_bundle *b)
{
    *b = (struct emotrain_bundle){.second_name = "kote"};
    emotrain_defaults(&b->emotion_opts);
    emotrain_defaults(&b->second_opts);
    emotrain_defaults(&b->segment_opts);
    b->segment_opts.mode = EMOMODEL_SINGLE;
    b->segment_opts.min_count = 5; /* as good as 3 on held-out reviews, a third fewer rows */
}

pb_status emotrain_fit_bundle(const struct emotrain_bundle *b, emomodel **out, char *err)
{
    emomodel *head[3] = {NULL, NULL, NULL};
    const char *names[3] = {EMOMODEL_HEAD_EMOTION, EMOMODEL_HEAD_SEGMENT, b->second_name};
    struct emodata *seg = NULL;
    struct emotrain_opts so = b->segment_opts, ko = b->second_opts;
    size_t n = 1;
    pb_status rc;
    *out = NULL;
    so.feat = ko.feat = b->emotion_opts.feat;
    so.progress = ko.progress = b->emotion_opts.progress;
    so.progress_ctx = ko.progress_ctx = b->emotion_opts.progress_ctx;
    progress(&b->emotion_opts, "head emotion: %zu sentences, %zu labels", b->emotion->n,
             b->emotion->n_labels);
    if ((rc = emotrain_fit(b->emotion, &b->emotion_opts, &head[0], err)) != PB_OK)
        goto cleanup;
    if (b->n_sources) {
        if ((rc = emodata_segments(b->source, b->weight, b->n_sources, &seg, err)) != PB_OK)
            goto cleanup;
        progress(&so, "head segment: %zu sentences from %zu sources", seg->n, b->n_sources);
        if ((rc = emotrain_fit(seg, &so, &head[n++], err)) != PB_OK)
            goto cleanup;
    }
    if (b->second) {
        progress(&ko, "head %s: %zu sentences, %zu labels", b->second_name, b->second->n,
                 b->second->n_labels);
        if ((rc = emotrain_fit(b->second, &ko, &head[n], err)) != PB_OK)
            goto cleanup;
        names[n++] = b->second_name;
    }
    if (n == 1) {
        *out = head[0];
        head[0] = NULL;
    } else {
        rc = emomodel_bundle((const emomodel *const *)head, names, n, out, err);
    }
cleanup:
    for (size_t i = 0; i < 3; i++)
        emomodel_free(head[i]);
    emodata_free(seg);
    return rc;
}

pb_status emotrain_eval_segment(const emomodel *m, const struct emodata *d, int strict,
                                struct evalclass *e, size_t *skipped, char *err)
{
    uint32_t *ids = malloc(EMOFEAT_MAX_FEATURES * sizeof *ids);
    float *s = malloc(emomodel_n_labels(m) * sizeof *s);
    pb_status rc = PB_OK;
    *skipped = 0;
    if (!ids || !s) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < d->n; i++) {
        char why[PB_ERR_LEN];
        size_t n;
        const char *truth = emodata_segment(d, i, strict);
        if (!truth) {
            (*skipped)++;
            continue;
        }
        if (emomodel_features(m, d->text[i], strlen(d->text[i]), ids, &n, why) != PB_OK) {
            rc = pb_errf(err, PB_ERR_INVALID, "example %zu: %s", i + 1, why);
            goto cleanup;
        }
        emomodel_scores_ids(m, ids, n, s);
        const char *pred = emomodel_segment_ids(m, ids, n, s);
        uint16_t t = 0, p = UINT16_MAX;
        for (uint16_t k = 0; k < EMOLABELS_SEGMENTS; k++) {
            if (!strcmp(truth, emolabels_segment_names[k]))
                t = k;
            if (pred && !strcmp(pred, emolabels_segment_names[k]))
                p = k;
        }
        evalclass_add(e, &t, 1, &p, p == UINT16_MAX ? 0 : 1);
    }
cleanup:
    free(ids);
    free(s);
    return rc;
}
