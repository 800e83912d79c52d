/* evalclass.h — classification metrics shared by the emotion classifier and anything else that
 * predicts label sets: per-label precision / recall / F1 / support, micro and macro F1, exact-
 * match accuracy, and the per-label threshold that maximises F1. Pure counting over caller
 * data; owns only its count arrays; no I/O. Definitions follow scikit-learn: a label with no
 * true and no predicted example has precision, recall and F1 of 0. */
#ifndef EVALCLASS_H
#define EVALCLASS_H

#include "base/pb.h"

#include <stddef.h>
#include <stdint.h>

struct evalclass {
    size_t n_labels;
    size_t n_examples;
    size_t exact; /* examples whose predicted set equals the true set */
    uint64_t *tp, *fp, *fn;
    /* n_labels x n_labels, truth-major: examples with one true and one predicted label. */
    uint64_t *confusion;
};

struct evalclass_stats {
    double precision, recall, f1;
    uint64_t support; /* true occurrences of the label */
};

/* Allocates zeroed counts for n_labels labels; evalclass_free releases them. */
pb_status evalclass_init(struct evalclass *e, size_t n_labels, char *err);
void evalclass_free(struct evalclass *e);

/* Counts one example: its true label set and its predicted set (ids < n_labels, no repeats). */
void evalclass_add(struct evalclass *e, const uint16_t *truth, size_t n_truth, const uint16_t *pred,
                   size_t n_pred);

void evalclass_label(const struct evalclass *e, size_t label, struct evalclass_stats *out);
/* Unweighted mean over all labels (macro) of precision, recall and F1. */
void evalclass_macro(const struct evalclass *e, struct evalclass_stats *out);
/* Precision, recall and F1 of the pooled counts (micro). */
/* The same over the labels that occur in the truth or the predictions only (scikit-learn's
 * f1_score(average="macro") without a labels= argument): for single-label reports where a
 * model may predict a label the data never has (neutral on positive/negative reviews). */
void evalclass_macro_seen(const struct evalclass *e, struct evalclass_stats *out);
void evalclass_micro(const struct evalclass *e, struct evalclass_stats *out);
double evalclass_accuracy(const struct evalclass *e);

/* The threshold t in {lo, lo+step, ..., hi} for which "score >= t" has the best F1 against
 * positive[] over n examples (ties: the lowest t); *best_f1 receives that F1 (may be NULL). */
double evalclass_best_threshold(const float *score, const uint8_t *positive, size_t n, double lo,
                                double hi, double step, double *best_f1);

/* F1 of "score >= t[j]" against positive[] for each of the nt thresholds, into f1[nt]. */
void evalclass_f1_at(const float *score, const uint8_t *positive, size_t n, const double *t,
                     size_t nt, double *f1);

#endif
