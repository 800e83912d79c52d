/* emomodel.h — the embedded emotion model: linear classifiers ("heads") over hashed emofeat
 * features, their versioned file format (labels with Korean names and groups, thresholds,
 * int8-quantised weights; mmap-ed on load) and thread-safe prediction. A file holds one head
 * (version 1) or a bundle of named heads sharing the features (version 2): "emotion" (the fine
 * labels, always first), "segment" (negative / neutral / positive) and optionally a second
 * label set ("kote"). A loaded model is immutable, so many threads may score with one handle.
 * It does not train (emotrain) or read datasets (emodata). */
#ifndef EMOMODEL_H
#define EMOMODEL_H

#include "base/pb.h"
#include "emotion/emofeat.h"

#include <stddef.h>
#include <stdint.h>

#define EMOMODEL_MAGIC          "PBEMOTN" /* 8 bytes with the NUL */
#define EMOMODEL_VERSION        1         /* one head */
#define EMOMODEL_BUNDLE_VERSION 2         /* a table of named heads, each a version-1 image */
#define EMOMODEL_HEADER_SIZE    64
#define EMOMODEL_MAX_HEADS      8
#define EMOMODEL_HEAD_NAME_LEN  16 /* bytes, NUL included */
#define EMOMODEL_HEAD_EMOTION   "emotion"
#define EMOMODEL_HEAD_SEGMENT   "segment"
/* Byte offset and span of the checksum: FNV-1a 64 over bytes [HEADER_SIZE, file_size). */
#define EMOMODEL_CHECKSUM_OFFSET 48

enum emomodel_mode {
    EMOMODEL_MULTI = 1, /* sigmoid per label, a label is predicted above its threshold */
    EMOMODEL_SINGLE = 2 /* softmax over labels, the top label is the prediction */
};

typedef struct emomodel emomodel;

struct emomodel_label {
    const char *name;    /* English name / id as in the training data */
    const char *display; /* Korean display name */
    const char *group;   /* positive / negative / ambiguous / neutral, or "" */
    float threshold;     /* multi mode: predicted when score >= threshold */
};

/* Everything training produces; emomodel_build turns it into a model (quantising weights). */
struct emomodel_spec {
    enum emomodel_mode mode;
    struct emofeat_opts feat;
    size_t n_labels;
    const char *const *name, *const *display, *const *group;
    const float *threshold; /* n_labels */
    const float *bias;      /* n_labels */
    size_t n_rows;
    const uint32_t *keys; /* n_rows feature ids, strictly ascending */
    const float *weights; /* n_rows * n_labels, row-major */
};

/* Builds a one-head model from a spec; *out owned by the caller (emomodel_free). */
pb_status emomodel_build(const struct emomodel_spec *spec, emomodel **out, char *err);

/* Builds a bundle of n one-head models (copied) under names[i] (1..15 bytes); heads[0] becomes
 * the model's own labels. PB_ERR_INVALID for a bad count, name or a head that is a bundle. */
pb_status emomodel_bundle(const emomodel *const *heads, const char *const *names, size_t n,
                          emomodel **out, char *err);

/* Opens a model file (mmap). Errors: PB_ERR_NOT_FOUND / PB_ERR_IO, PB_ERR_VERSION for another
 * format version, PB_ERR_INVALID for anything that is not an intact model (err says what). */
pb_status emomodel_load(const char *path, emomodel **out, char *err);

/* Parses a model image held in memory (copied; for tests and fuzzing). Same errors. */
pb_status emomodel_parse(const void *data, size_t len, emomodel **out, char *err);

/* Writes the model's file image atomically to path. */
pb_status emomodel_save(const emomodel *m, const char *path, char *err);

/* The file image (header included) the model was parsed from. */
const void *emomodel_image(const emomodel *m, size_t *len);

void emomodel_free(emomodel *m);

/* Heads: how many (1 for a version-1 file, whose head is "emotion"), the name of head i (NULL
 * past the end), and the head called name (NULL when absent; "emotion" is m itself). A head
 * is borrowed from m and is itself a model for every function below. */
size_t emomodel_n_heads(const emomodel *m);
const char *emomodel_head_name(const emomodel *m, size_t i);
const emomodel *emomodel_head(const emomodel *m, const char *name);

size_t emomodel_n_labels(const emomodel *m);
size_t emomodel_n_rows(const emomodel *m);
enum emomodel_mode emomodel_mode(const emomodel *m);
const struct emofeat_opts *emomodel_feat(const emomodel *m);
const struct emomodel_label *emomodel_label(const emomodel *m, size_t i);
int emomodel_find_label(const emomodel *m, const char *name); /* id or -1 */

/* Scores of every label for text (scores has n_labels entries): probabilities from the sigmoid
 * (multi) or softmax (single). Thread-safe. Errors: PB_ERR_INVALID for invalid UTF-8 or text
 * without any character other than spaces. */
pb_status emomodel_scores(const emomodel *m, const char *text, size_t len, float *scores,
                          char *err);

/* The two halves of emomodel_scores, so that the heads of a bundle share one tokenization:
 * the feature ids of text (ids holds EMOFEAT_MAX_FEATURES; same errors), then the scores of
 * one head for those ids. */
pb_status emomodel_features(const emomodel *m, const char *text, size_t len, uint32_t *ids,
                            size_t *n, char *err);
void emomodel_scores_ids(const emomodel *head, const uint32_t *ids, size_t n, float *scores);

/* The predicted label set from scores (out holds n_labels ids): multi mode — labels at or
 * above their threshold, the top label if none is; single mode — the top label. */
size_t emomodel_decide(const emomodel *m, const float *scores, uint16_t *out);

/* The segment a segment head decides from its scores: its "neutral" label when that scores at
 * or above its threshold (the calibrated "no clear emotion" decision), else the best other
 * label. Returns a label id of seg. */
size_t emomodel_segment(const emomodel *seg, const float *scores);

/* The segment of a text from its feature ids and the scores of m's own labels: the segment
 * head's decision when m has one (of at most EMOMODEL_MAX_SEGMENT_LABELS labels), else the
 * group of the top-scoring label (a version-1 model). Borrowed from m. */
#define EMOMODEL_MAX_SEGMENT_LABELS 16
const char *emomodel_segment_ids(const emomodel *m, const uint32_t *ids, size_t n,
                                 const float *scores);

#endif
