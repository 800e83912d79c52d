/* emodata.h — labelled sentence sets for the emotion classifier, read from GoEmotions TSV
 * (+ label file), KOTE TSV (+ label file), polarity TSV (text, positive|negative|neutral), the
 * AI-Hub 감성 대화 말뭉치 CSV export, plain CSV or JSON lines; and the segment set (negative /
 * neutral / positive) derived from several of them. Owns the parsed examples and the label
 * table (name, Korean display name, group). Reports the first bad line by number; it does not
 * tokenize, train or evaluate. */
#ifndef EMODATA_H
#define EMODATA_H

#include "base/pb.h"
#include <stddef.h>
#include <stdint.h>

enum emodata_format {
    EMODATA_GOEMOTIONS,
    EMODATA_AIHUB,
    EMODATA_CSV,
    EMODATA_JSONL,
    EMODATA_POLARITY, /* text<TAB>positive|negative|neutral; labels are the segment names */
    EMODATA_KOTE      /* id<TAB>text<TAB>comma-separated ids into the label file */
};

struct emodata_label {
    char *name;    /* English name or the label as written in the data */
    char *display; /* Korean display name (defaults to name) */
    char *group;   /* positive / negative / ambiguous / neutral, or "" */
};

struct emodata {
    size_t n;            /* examples */
    char **text;         /* n NUL-terminated UTF-8 sentences */
    size_t *label_start; /* n + 1 offsets into labels (several labels per sentence allowed) */
    uint16_t *labels;
    size_t n_labels;
    struct emodata_label *label; /* n_labels entries */
    float *weight;               /* n training weights, or NULL: every example weighs 1 */
};

struct emodata_opts {
    enum emodata_format format;
    const char *labels_path; /* GoEmotions, KOTE: one name per line, 0-based (required unless
                                known_labels is given) */
    const char *text_col;    /* CSV/JSONL: column or key of the text ("text") */
    const char *label_col;   /* CSV/JSONL: column or key of the label(s) ("label") */
    /* When set, labels are mapped to these names (a model's label set) and an unknown label is
     * an error; otherwise the label set is built from the data, sorted by name. */
    const char *const *known_labels;
    size_t n_known;
};

/* Reads path into *out (caller frees with emodata_free). PB_ERR_INVALID names the file and
 * line of the first bad record; PB_ERR_IO / PB_ERR_NOT_FOUND when the file cannot be read. */
pb_status emodata_read(const char *path, const struct emodata_opts *opts, struct emodata **out,
                       char *err);

/* Parses "goemotions", "kote", "polarity", "aihub", "csv" or "jsonl". */
pb_status emodata_format_parse(const char *s, enum emodata_format *out, char *err);

/* Applies a names file (TSV: name, Korean display name, group; '#' comments) to the label table:
 * rows naming an unknown label are an error. */
pb_status emodata_apply_names(struct emodata *d, const char *path, char *err);

/* The segment of example i from its labels' groups (emolabels_segment_of, strict or loose):
 * "negative", "neutral", "positive", or NULL when its groups disagree or are unknown. */
const char *emodata_segment(const struct emodata *d, size_t i, int strict);

/* Builds the segment set: the examples of src[0..n) that have a (loose) segment, in order,
 * labelled with the segment names (emolabels_segment_names order) and weighted weight[k] each.
 * Texts are copied. *out freed by emodata_free. PB_ERR_INVALID when no example has one. */
pb_status emodata_segments(const struct emodata *const *src, const double *weight, size_t n,
                           struct emodata **out, char *err);

void emodata_free(struct emodata *d);

#endif
