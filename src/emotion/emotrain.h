/* emotrain.h — trains the embedded emotion model from an emodata set: feature vocabulary
 * (hashed ids seen at least min_count times), one-vs-rest logistic regression (multi-label,
 * class-weighted BCE) or softmax regression (single-label) by row-wise AdaGrad with averaging
 * over epochs, per-label thresholds tuned on a held-out part of the training data, then a refit
 * on all of it. Deterministic for a seed. CPU and memory only: no files, no printing (progress
 * goes to a callback). */
#ifndef EMOTRAIN_H
#define EMOTRAIN_H

#include "base/pb.h"
#include "emotion/emodata.h"
#include "emotion/emomodel.h"
#include "emotion/evalclass.h"

#include <stdint.h>

struct emotrain_opts {
    enum emomodel_mode mode;
    struct emofeat_opts feat;
    int epochs;              /* passes over the data */
    int average_from;        /* average the weights after epochs average_from..epochs (1-based) */
    double lr;               /* AdaGrad step size */
    double l2;               /* L2 penalty per update, scaled by the step */
    int min_count;           /* keep features seen in at least this many sentences */
    uint64_t seed;           /* shuffling and the held-out split */
    double holdout;          /* fraction held out to tune thresholds (0: all 0.5, no tuning) */
    int folds;               /* >= 2: tune on the out-of-fold scores of this many models
                                (cross-validation) instead of the holdout split; needs refit */
    double pos_weight_power; /* multi mode: positives weigh (negatives/positives)^power */
    double pos_weight_max;
    /* A label's tuned threshold is pulled toward the one threshold best for macro-F1 over all
     * labels, as if threshold_prior extra held-out positives had voted for it: rare labels
     * (few positives, noisy F1) keep mostly the shared value. 0: no pull. */
    double threshold_prior;
    int refit;    /* after tuning, train again on all data (thresholds kept) */
    int ensemble; /* > 1: average this many models trained on other shuffles */
    void (*progress)(void *ctx, const char *message);
    void *progress_ctx;
};

/* Fills the defaults used by `promptbandit emotion train` (measured in docs/EMOTION.md). */
void emotrain_defaults(struct emotrain_opts *o);

/* Trains on d; *out owned by the caller (emomodel_free). Label names, Korean names and groups
 * come from d. Multi mode tunes per-label thresholds on the held-out part; single mode with a
 * label named "neutral" tunes that label's threshold (emomodel_segment) the same way. Errors:
 * PB_ERR_INVALID for bad options or data without usable features, PB_ERR_NOMEM. */
pb_status emotrain_fit(const struct emodata *d, const struct emotrain_opts *o, emomodel **out,
                       char *err);

#define EMOTRAIN_MAX_SOURCES 8

/* A bundle to train: the fine labels (head "emotion"), an optional second label set, and the
 * segment head (negative / neutral / positive) trained on the sentences of the sources that
 * have a segment (emodata_segments), each source weighted. */
struct emotrain_bundle {
    const struct emodata *emotion;
    const struct emodata *second; /* may be NULL */
    const char *second_name;      /* its head's name, e.g. "kote" */
    const struct emodata *source[EMOTRAIN_MAX_SOURCES];
    double weight[EMOTRAIN_MAX_SOURCES];
    size_t n_sources; /* 0: no segment head (a version-1 model) */
    struct emotrain_opts emotion_opts, segment_opts, second_opts;
};

/* Defaults for every head (segment: single mode, measured in docs/EMOTION.md); no data. */
void emotrain_bundle_defaults(struct emotrain_bundle *b);

/* Trains every head of b and bundles them; *out owned by the caller. Errors as emotrain_fit;
 * progress goes to emotion_opts' callback. */
pb_status emotrain_fit_bundle(const struct emotrain_bundle *b, emomodel **out, char *err);

/* Scores every example of d (labels mapped to the model's) with m and counts the decided label
 * sets into e (initialised by the caller for emomodel_n_labels(m) labels). threshold >= 0
 * replaces every per-label threshold (e.g. 0.3 as the KoELECTRA benchmark); < 0 keeps them. */
pb_status emotrain_eval(const emomodel *m, const struct emodata *d, double threshold,
                        struct evalclass *e, char *err);

/* Counts the segment m decides (emomodel_segment_ids) against the segment of every example of d
 * that has one (emodata_segment, strict or loose) into e, initialised by the caller for
 * EMOLABELS_SEGMENTS labels in emolabels_segment_names order. *skipped gets the examples
 * without a segment. */
pb_status emotrain_eval_segment(const emomodel *m, const struct emodata *d, int strict,
                                struct evalclass *e, size_t *skipped, char *err);

#endif
