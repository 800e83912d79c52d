/* evalclass.c — classification counts and metrics (see evalclass.h). */
#include "emotion/evalclass.h"

#include "base/pb.h"

#include <stdlib.h>

pb_status evalclass_init(struct evalclass *e, size_t n_labels, char *err)
{
    *e = (struct evalclass){.n_labels = n_labels};
    e->tp = calloc(n_labels ? n_labels : 1, sizeof *e->tp);
    e->fp = calloc(n_labels ? n_labels : 1, sizeof *e->fp);
    e->fn = calloc(n_labels ? n_labels : 1, sizeof *e->fn);
    e->confusion = calloc(n_labels ? n_labels * n_labels : 1, sizeof *e->confusion);
    if (!e->tp || !e->fp || !e->fn || !e->confusion) {
        evalclass_free(e);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    return PB_OK;
}

void evalclass_free(struct evalclass *e)
{
    free(e->tp);
    free(e->fp);
    free(e->fn);
    free(e->confusion);
    e->tp = e->fp = e->fn = e->confusion = NULL;
}

static int contains(const uint16_t *set, size_t n, uint16_t v)
{
    for (size_t i = 0; i < n; i++)
        if (set[i] == v)
            return 1;
    return 0;
}

void evalclass_add(struct evalclass *e, const uint16_t *truth, size_t n_truth, const uint16_t *pred,
                   size_t n_pred)
{
    size_t hits = 0;
    for (size_t i = 0; i < n_pred; i++) {
        if (pred[i] >= e->n_labels)
            continue;
        if (contains(truth, n_truth, pred[i]))
            e->tp[pred[i]]++, hits++;
        else
            e->fp[pred[i]]++;
    }
    for (size_t i = 0; i < n_truth; i++)
        if (truth[i] < e->n_labels && !contains(pred, n_pred, truth[i]))
            e->fn[truth[i]]++;
    e->n_examples++;
    if (n_truth == 1 && n_pred == 1 && truth[0] < e->n_labels && pred[0] < e->n_labels)
        e->confusion[(size_t)truth[0] * e->n_labels + pred[0]]++;
    if (hits == n_truth && n_pred == n_truth)
        e->exact++;
}

static void stats_of(uint64_t tp, uint64_t fp, uint64_t fn, struct evalclass_stats *out)
{
    out->precision = tp + fp ? (double)tp / (double)(tp + fp) : 0.0;
    out->recall = tp + fn ? (double)tp / (double)(tp + fn) : 0.0;
    out->f1 = 2 * tp + fp + fn ? 2.0 * (double)tp / (double)(2 * tp + fp + fn) : 0.0;
    out->support = tp + fn;
}

void evalclass_label(const struct evalclass *e, size_t label, struct evalclass_stats *out)
{
    stats_of(e->tp[label], e->fp[label], e->fn[label], out);
}

void evalclass_macro(const struct evalclass *e, struct evalclass_stats *out)
{
    *out = (struct evalclass_stats){0};
    for (size_t l = 0; l < e->n_labels; l++) {
        struct evalclass_stats s;
        evalclass_label(e, l, &s);
        out->precision += s.precision;
        out->recall += s.recall;
        out->f1 += s.f1;
        out->support += s.support;
    }
    if (e->n_labels) {
        out->precision /= (double)e->n_labels;
        out->recall /= (double)e->n_labels;
        out->f1 /= (double)e->n_labels;
    }
}

void evalclass_macro_seen(const struct evalclass *e, struct evalclass_stats *out)
{
    size_t seen = 0;
    *out = (struct evalclass_stats){0};
    for (size_t l = 0; l < e->n_labels; l++) {
        struct evalclass_stats s;
        if (e->tp[l] + e->fp[l] + e->fn[l] == 0)
            continue;
        evalclass_label(e, l, &s);
        out->precision += s.precision;
        out->recall += s.recall;
        out->f1 += s.f1;
        out->support += s.support;
        seen++;
    }
    if (seen) {
        out->precision /= (double)seen;
        out->recall /= (double)seen;
        out->f1 /= (double)seen;
    }
}

void evalclass_micro(const struct evalclass *e, struct evalclass_stats *out)
{
    uint64_t tp = 0, fp = 0, fn = 0;
    for (size_t l = 0; l < e->n_labels; l++)
        tp += e->tp[l], fp += e->fp[l], fn += e->fn[l];
    stats_of(tp, fp, fn, out);
}

double evalclass_accuracy(const struct evalclass *e)
{
    return e->n_examples ? (double)e->exact / (double)e->n_examples : 0.0;
}

double evalclass_best_threshold(const float *score, const uint8_t *positive, size_t n, double lo,
                                double hi, double step, double *best_f1)
{
    double best_t = lo, best = -1.0;
    uint64_t pos_total = 0;
    for (size_t i = 0; i < n; i++)
        pos_total += positive[i] != 0;
    for (int k = 0;; k++) {
        double t = lo + k * step;
        if (t > hi + 1e-9)
            break;
        uint64_t tp = 0, fp = 0;
        for (size_t i = 0; i < n; i++)
            if (score[i] >= t)
                positive[i] ? tp++ : fp++;
        uint64_t denom = 2 * tp + fp + (pos_total - tp);
        double f1 = denom ? 2.0 * (double)tp / (double)denom : 0.0;
        if (f1 > best + 1e-12)
            best = f1, best_t = t;
    }
    if (best_f1)
        *best_f1 = best < 0 ? 0 : best;
    return best_t;
}

void evalclass_f1_at(const float *score, const uint8_t *positive, size_t n, const double *t,
                     size_t nt, double *f1)
{
    uint64_t pos_total = 0;
    for (size_t i = 0; i < n; i++)
        pos_total += positive[i] != 0;
    for (size_t j = 0; j < nt; j++) {
        uint64_t tp = 0, fp = 0;
        for (size_t i = 0; i < n; i++)
            if (score[i] >= t[j])
                positive[i] ? tp++ : fp++;
        uint64_t denom = 2 * tp + fp + (pos_total - tp);
        f1[j] = denom ? 2.0 * (double)tp / (double)denom : 0.0;
    }
}
