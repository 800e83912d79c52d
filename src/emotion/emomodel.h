/* emomodel.h — the embedded emotion model: a linear classifier over hashed emofeat features,
 * its versioned file format (labels with Korean names and groups, thresholds, int8-quantised
 * weights; mmap-ed on load) and thread-safe prediction. A loaded model is immutable, so many
 * threads may score with one handle. It does not train (emotrain) or read datasets (emodata). */
#ifndef EMOMODEL_H
#define EMOMODEL_H

#include "base/pb.h"
#include "emotion/emofeat.h"

#include <stddef.h>
#include <stdint.h>

#define EMOMODEL_MAGIC       "PBEMOTN" /* 8 bytes with the NUL */
#define EMOMODEL_VERSION     1
#define EMOMODEL_HEADER_SIZE 64
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

/* Builds a model from a spec; *out owned by the caller (emomodel_free). */
int emomodel_build(const struct emomodel_spec *spec, emomodel **out, char *err);

/* Opens a model file (mmap). Errors: PB_ERR_NOT_FOUND / PB_ERR_IO, PB_ERR_VERSION for another
 * format version, PB_ERR_INVALID for anything that is not an intact model (err says what). */
int emomodel_load(const char *path, emomodel **out, char *err);

/* Parses a model image held in memory (copied; for tests and fuzzing). Same errors. */
int emomodel_parse(const void *data, size_t len, emomodel **out, char *err);

/* Writes the model's file image atomically to path. */
int emomodel_save(const emomodel *m, const char *path, char *err);

/* The file image (header included) the model was parsed from. */
const void *emomodel_image(const emomodel *m, size_t *len);

void emomodel_free(emomodel *m);

size_t emomodel_n_labels(const emomodel *m);
size_t emomodel_n_rows(const emomodel *m);
enum emomodel_mode emomodel_mode(const emomodel *m);
const struct emofeat_opts *emomodel_feat(const emomodel *m);
const struct emomodel_label *emomodel_label(const emomodel *m, size_t i);
int emomodel_find_label(const emomodel *m, const char *name); /* id or -1 */

/* Scores of every label for text (scores has n_labels entries): probabilities from the sigmoid
 * (multi) or softmax (single). Thread-safe. Errors: PB_ERR_INVALID for invalid UTF-8 or text
 * without any character other than spaces. */
int emomodel_scores(const emomodel *m, const char *text, size_t len, float *scores, char *err);

/* The predicted label set from scores (out holds n_labels ids): multi mode — labels at or
 * above their threshold, the top label if none is; single mode — the top label. */
size_t emomodel_decide(const emomodel *m, const float *scores, uint16_t *out);

#endif
