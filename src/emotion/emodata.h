/* emodata.h — labelled sentence sets for the emotion classifier, read from GoEmotions TSV
 * (+ label file), the AI-Hub 감성 대화 말뭉치 CSV export, plain CSV or JSON lines. Owns the
 * parsed examples and the label table (name, Korean display name, group). Reports the first
 * bad line by number; it does not tokenize, train or evaluate. */
#ifndef EMODATA_H
#define EMODATA_H

#include "base/pb.h"
#include <stddef.h>
#include <stdint.h>

enum emodata_format { EMODATA_GOEMOTIONS, EMODATA_AIHUB, EMODATA_CSV, EMODATA_JSONL };

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
};

struct emodata_opts {
    enum emodata_format format;
    const char *labels_path; /* GoEmotions: one English name per line, 0-based (required unless
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
int emodata_read(const char *path, const struct emodata_opts *opts, struct emodata **out,
                 char *err);

/* Parses "goemotions", "aihub", "csv" or "jsonl". */
int emodata_format_parse(const char *s, enum emodata_format *out, char *err);

/* Applies a names file (TSV: name, Korean display name, group; '#' comments) to the label table:
 * rows naming an unknown label are an error. */
int emodata_apply_names(struct emodata *d, const char *path, char *err);

void emodata_free(struct emodata *d);

#endif
