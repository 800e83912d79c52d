/* emodata.c — readers for the emotion datasets (see emodata.h). Whole files are read into
 * memory (a few tens of MB at most); CSV follows RFC 4180 (quoted fields, "" escapes, CRLF,
 * a UTF-8 BOM), which is what Excel and pandas export. */
#include "emotion/emodata.h"

#include "emotion/emolabels.h"
#include "base/pb.h"
#include "base/text.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE_BYTES (1u << 30)
#define MAX_LABELS     65535

struct builder {
    struct emodata *d;
    size_t cap_n, cap_starts, cap_labels, cap_label;
    const struct emodata_opts *opts;
    const char *path;
};

/* One parsed CSV record: fields are NUL-terminated inside buf. */
struct csv_record {
    char *buf;
    size_t buf_len, buf_cap;
    size_t *start;
    size_t n, cap;
};

/* Grows *p to hold need elements; PB_ERR_NOMEM (no message: callers add theirs) leaves it. */
static pb_status grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return PB_OK;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * size);
    if (!q)
        return PB_ERR_NOMEM;
    *p = q;
    *cap = c;
    return PB_OK;
}

static int label_find(const struct emodata *d, const char *name)
{
    for (size_t i = 0; i < d->n_labels; i++)
        if (strcmp(d->label[i].name, name) == 0)
            return (int)i;
    return -1;
}

static pb_status label_add(struct builder *b, const char *name, const char *group, int *id,
                           char *err)
{
    struct emodata *d = b->d;
    if (d->n_labels >= MAX_LABELS)
        return pb_errf(err, PB_ERR_LIMIT, "%s: more than %d labels", b->path, MAX_LABELS);
    if (grow((void **)&d->label, &b->cap_label, d->n_labels + 1, sizeof *d->label))
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    const char *display = emolabels_display(name);
    struct emodata_label *l = &d->label[d->n_labels];
    l->name = strdup(name);
    l->display = strdup(display ? display : name);
    l->group = strdup(group ? group : emolabels_group(name));
    if (!l->name || !l->display || !l->group) {
        free(l->name), free(l->display), free(l->group);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    *id = (int)d->n_labels++;
    return PB_OK;
}

/* Maps a label as written in the data to its id, adding it when the set is open. */
static pb_status label_id(struct builder *b, const char *name, const char *group, int line, int *id,
                          char *err)
{
    if (!*name || !text_utf8_valid(name, strlen(name)) || strlen(name) > 200)
        return pb_errf(err, PB_ERR_INVALID, "%s line %d: empty, too long or non-UTF-8 label",
                       b->path, line);
    *id = label_find(b->d, name);
    if (*id >= 0)
        return PB_OK;
    if (b->opts->known_labels)
        return pb_errf(err, PB_ERR_INVALID, "%s line %d: label '%s' is not one of the model's %zu",
                       b->path, line, name, b->opts->n_known);
    return label_add(b, name, group, id, err);
}

static pb_status example_begin(struct builder *b, const char *text, size_t len, int line, char *err)
{
    struct emodata *d = b->d;
    if (!text_utf8_valid(text, len))
        return pb_errf(err, PB_ERR_INVALID, "%s line %d: text is not valid UTF-8", b->path, line);
    char *copy = NULL;
    if (grow((void **)&d->text, &b->cap_n, d->n + 1, sizeof *d->text) ||
        grow((void **)&d->label_start, &b->cap_starts, d->n + 2, sizeof *d->label_start) ||
        !(copy = strndup(text, len)))
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (d->n == 0)
        d->label_start[0] = 0;
    d->text[d->n] = copy;
    d->label_start[d->n + 1] = d->label_start[d->n];
    d->n++;
    return PB_OK;
}

static pb_status example_label(struct builder *b, int id, char *err)
{
    struct emodata *d = b->d;
    size_t at = d->label_start[d->n];
    for (size_t i = d->label_start[d->n - 1]; i < at; i++)
        if (d->labels[i] == id)
            return PB_OK;
    if (grow((void **)&d->labels, &b->cap_labels, at + 1, sizeof *d->labels))
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    d->labels[at] = (uint16_t)id;
    d->label_start[d->n]++;
    return PB_OK;
}

static int is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return 0;
    return 1;
}

static char *trim(char *s);

/* ---- GoEmotions TSV ---------------------------------------------------------------------- */

static pb_status read_label_file(struct builder *b, char *err)
{
    char *buf = NULL;
    pb_status rc = pb_read_file(b->opts->labels_path, 1u << 20, &buf, NULL, err);
    if (rc != PB_OK)
        return rc;
    int line = 0, id;
    for (char *p = buf, *next; p && *p; p = next) {
        next = strchr(p, '\n');
        if (next)
            *next++ = '\0';
        line++;
        p = trim(p);
        if (!*p && !next)
            break;
        const char *saved = b->path;
        b->path = b->opts->labels_path;
        rc = label_id(b, p, NULL, line, &id, err);
        b->path = saved;
        if (rc == PB_OK && id != line - 1)
            rc = pb_errf(err, PB_ERR_INVALID, "%s line %d: label '%s' appears twice",
                         b->opts->labels_path, line, p);
        if (rc != PB_OK)
            break;
    }
    free(buf);
    return rc;
}

static pb_status parse_goemotions_line(struct builder *b, char *p, int line, char *err)
{
    char *tab = strchr(p, '\t');
    if (!tab)
        return pb_errf(err, PB_ERR_INVALID, "%s line %d: expected text<TAB>label ids", b->path,
                       line);
    *tab = '\0';
    char *ids = tab + 1, *end = strchr(ids, '\t');
    if (end)
        *end = '\0';
    if (is_blank(p, strlen(p)))
        return pb_errf(err, PB_ERR_INVALID, "%s line %d: empty text", b->path, line);
    pb_status rc = example_begin(b, p, strlen(p), line, err);
    if (rc != PB_OK)
        return rc;
    for (char *q = ids;;) {
        char *stop;
        long v = strtol(q, &stop, 10);
        if (stop == q || v < 0 || (size_t)v >= b->d->n_labels)
            return pb_errf(err, PB_ERR_INVALID,
                           "%s line %d: label ids must be numbers in 0..%zu separated by commas, "
                           "got '%s'",
                           b->path, line, b->d->n_labels - 1, ids);
        if ((rc = example_label(b, (int)v, err)) != PB_OK)
            return rc;
        while (*stop == ' ' || *stop == '\r')
            stop++;
        if (*stop == '\0')
            break;
        if (*stop != ',')
            return pb_errf(err, PB_ERR_INVALID, "%s line %d: bad label list '%s'", b->path, line,
                           ids);
        q = stop + 1;
    }
    return PB_OK;
}

/* KOTE: id<TAB>text<TAB>ids — the GoEmotions line after the id. */
static pb_status parse_kote_line(struct builder *b, char *p, int line, char *err)
{
    char *tab = strchr(p, '\t');
    if (!tab)
        return pb_errf(err, PB_ERR_INVALID, "%s line %d: expected id<TAB>text<TAB>label ids",
                       b->path, line);
    return parse_goemotions_line(b, tab + 1, line, err);
}

/* Polarity: text<TAB>positive|negative|neutral. */
static pb_status parse_polarity_line(struct builder *b, char *p, int line, char *err)
{
    char *tab = strrchr(p, '\t');
    int id;
    if (!tab)
        return pb_errf(err, PB_ERR_INVALID, "%s line %d: expected text<TAB>positive|negative",
                       b->path, line);
    *tab = '\0';
    char *label = trim(tab + 1);
    if (is_blank(p, strlen(p)))
        return pb_errf(err, PB_ERR_INVALID, "%s line %d: empty text", b->path, line);
    if ((id = label_find(b->d, label)) < 0)
        return pb_errf(err, PB_ERR_INVALID,
                       "%s line %d: label must be positive, negative or neutral; got '%s'", b->path,
                       line, label);
    pb_status rc = example_begin(b, p, strlen(p), line, err);
    return rc == PB_OK ? example_label(b, id, err) : rc;
}

/* Splits buf into lines (NUL-terminating each) and calls fn on the non-blank ones. */
static pb_status for_each_line(struct builder *b, char *buf,
                               pb_status (*fn)(struct builder *, char *, int, char *), char *err)
{
    int line = 0;
    char *p = buf;
    if (!strncmp(p, "\xEF\xBB\xBF", 3))
        p += 3;
    while (*p) {
        char *nl = strchr(p, '\n');
        char *next = nl ? nl + 1 : p + strlen(p);
        if (nl)
            *nl = '\0';
        line++;
        size_t len = strlen(p);
        if (len && p[len - 1] == '\r')
            p[--len] = '\0';
        if (!is_blank(p, len)) {
            pb_status rc = fn(b, p, line, err);
            if (rc != PB_OK)
                return rc;
        }
        p = next;
    }
    return PB_OK;
}

/* ---- CSV and the AI-Hub export ------------------------------------------------------------ */

static pb_status rec_put(struct csv_record *r, char c)
{
    if (grow((void **)&r->buf, &r->buf_cap, r->buf_len + 1, 1))
        return PB_ERR_NOMEM;
    r->buf[r->buf_len++] = c;
    return PB_OK;
}

static pb_status rec_field(struct csv_record *r)
{
    if (grow((void **)&r->start, &r->cap, r->n + 1, sizeof *r->start))
        return PB_ERR_NOMEM;
    r->start[r->n++] = r->buf_len;
    return PB_OK;
}

/* Parses one record at *pos; *line counts newlines (quoted ones too). Returns 1 for a record,
 * 0 at the end, negative on error (err filled). */
static int csv_next(struct builder *b, const char *s, size_t len, size_t *pos, int *line,
                    struct csv_record *r, char *err)
{
    size_t i = *pos;
    int start_line = *line;
    if (i >= len)
        return 0;
    r->n = 0, r->buf_len = 0;
    if (rec_field(r))
        goto nomem;
    int quoted = 0, was_quoted = 0;
    for (; i < len; i++) {
        char c = s[i];
        if (quoted) {
            if (c == '"' && i + 1 < len && s[i + 1] == '"') {
                if (rec_put(r, '"'))
                    goto nomem;
                i++;
            } else if (c == '"') {
                quoted = 0;
            } else {
                if (c == '\n')
                    (*line)++;
                if (rec_put(r, c))
                    goto nomem;
            }
        } else if (c == '"' && !was_quoted && r->buf_len == r->start[r->n - 1]) {
            quoted = was_quoted = 1;
        } else if (c == ',') {
            if (rec_put(r, '\0') || rec_field(r))
                goto nomem;
            was_quoted = 0;
        } else if (c == '\n') {
            (*line)++;
            i++;
            break;
        } else if (c != '\r' || (i + 1 < len && s[i + 1] != '\n')) {
            if (rec_put(r, c))
                goto nomem;
        }
    }
    if (quoted)
        return pb_errf(err, PB_ERR_INVALID, "%s line %d: quoted field never closed", b->path,
                       start_line + 1);
    if (rec_put(r, '\0'))
        goto nomem;
    *pos = i;
    return 1;
nomem:
    return pb_errf(err, PB_ERR_NOMEM, "out of memory");
}

static int column_index(const struct csv_record *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++) {
        const char *f = r->buf + r->start[i];
        while (*f == ' ')
            f++;
        if (strcmp(f, name) == 0)
            return (int)i;
    }
    return -1;
}

static const char *field(const struct csv_record *r, int i)
{
    return i >= 0 && (size_t)i < r->n ? r->buf + r->start[i] : "";
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

static pb_status csv_row(struct builder *b, struct csv_record *r, const int *col, int line,
                         char *err)
{
    pb_status rc;
    int id;
    if (b->opts->format == EMODATA_CSV) {
        char *text = trim((char *)field(r, col[0])), *label = trim((char *)field(r, col[1]));
        if (!*text)
            return pb_errf(err, PB_ERR_INVALID, "%s line %d: empty text", b->path, line);
        if ((rc = label_id(b, label, NULL, line, &id, err)) != PB_OK ||
            (rc = example_begin(b, text, strlen(text), line, err)) != PB_OK)
            return rc;
        return example_label(b, id, err);
    }
    /* AI-Hub: col = {대분류, 소분류, 사람문장1, 사람문장2, 사람문장3}; empty turns are skipped. */
    char *major = trim((char *)field(r, col[0])), *minor = trim((char *)field(r, col[1]));
    int any = 0;
    if (!*minor)
        return pb_errf(err, PB_ERR_INVALID, "%s line %d: empty 감정_소분류", b->path, line);
    if ((rc = label_id(b, minor, emolabels_aihub_group(major), line, &id, err)) != PB_OK)
        return rc;
    for (int k = 2; k < 5; k++) {
        char *text = trim((char *)field(r, col[k]));
        if (!*text)
            continue;
        any = 1;
        if ((rc = example_begin(b, text, strlen(text), line, err)) != PB_OK ||
            (rc = example_label(b, id, err)) != PB_OK)
            return rc;
    }
    if (!any)
        return pb_errf(err, PB_ERR_INVALID, "%s line %d: no 사람문장 in this row", b->path, line);
    return PB_OK;
}

static pb_status read_csv(struct builder *b, const char *s, size_t len, char *err)
{
    struct csv_record r = {0};
    size_t pos = 0;
    int line = 0, rc;
    if (len >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3))
        pos = 3;
    int col[5];
    static const char *aihub_cols[5] = {"감정_대분류", "감정_소분류", "사람문장1", "사람문장2",
                                        "사람문장3"};
    rc = csv_next(b, s, len, &pos, &line, &r, err);
    if (rc <= 0) {
        if (rc == 0)
            rc = pb_errf(err, PB_ERR_INVALID, "%s: empty file, expected a header row", b->path);
        goto cleanup;
    }
    int ncol = b->opts->format == EMODATA_AIHUB ? 5 : 2;
    for (int k = 0; k < ncol; k++) {
        const char *want = b->opts->format == EMODATA_AIHUB ? aihub_cols[k]
                           : k == 0                         ? b->opts->text_col
                                                            : b->opts->label_col;
        col[k] = column_index(&r, want);
        if (col[k] < 0 && !(b->opts->format == EMODATA_AIHUB && k >= 3)) {
            rc = pb_errf(err, PB_ERR_INVALID, "%s line 1: no column named '%s' in the header",
                         b->path, want);
            goto cleanup;
        }
    }
    for (;;) {
        int at = line + 1;
        rc = csv_next(b, s, len, &pos, &line, &r, err);
        if (rc <= 0)
            break;
        if (r.n == 1 && is_blank(r.buf, strlen(r.buf)))
            continue;
        if ((rc = csv_row(b, &r, col, at, err)) != PB_OK)
            break;
    }
cleanup:
    free(r.buf);
    free(r.start);
    return rc < 0 ? (pb_status)rc : PB_OK;
}

/* ---- JSON lines ---------------------------------------------------------------------------- */

static pb_status jsonl_label(struct builder *b, json_t *v, int line, char *err)
{
    char num[32];
    const char *name;
    int id, rc;
    if (json_is_string(v))
        name = json_string_value(v);
    else if (json_is_integer(v))
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v)), name = num;
    else
        return pb_errf(err, PB_ERR_INVALID, "%s line %d: '%s' must be a string, a number or a list",
                       b->path, line, b->opts->label_col);
    if ((rc = label_id(b, name, NULL, line, &id, err)) != PB_OK)
        return rc;
    return example_label(b, id, err);
}

static pb_status parse_jsonl_line(struct builder *b, char *p, int line, char *err)
{
    json_error_t jerr;
    pb_status rc = PB_OK;
    json_t *o = json_loads(p, 0, &jerr);
    if (!o || !json_is_object(o)) {
        rc = pb_errf(err, PB_ERR_INVALID, "%s line %d: not a JSON object (%s)", b->path, line,
                     o ? "other JSON value" : jerr.text);
        goto cleanup;
    }
    json_t *text = json_object_get(o, b->opts->text_col);
    json_t *label = json_object_get(o, b->opts->label_col);
    if (!json_is_string(text) || is_blank(json_string_value(text), json_string_length(text)) ||
        !label || (json_is_array(label) && json_array_size(label) == 0)) {
        rc = pb_errf(err, PB_ERR_INVALID, "%s line %d: needs a non-empty string '%s' and a '%s'",
                     b->path, line, b->opts->text_col, b->opts->label_col);
        goto cleanup;
    }
    if ((rc = example_begin(b, json_string_value(text), json_string_length(text), line, err)))
        goto cleanup;
    if (json_is_array(label)) {
        size_t i;
        json_t *v;
        json_array_foreach(label, i, v) if ((rc = jsonl_label(b, v, line, err)) != PB_OK) break;
    } else {
        rc = jsonl_label(b, label, line, err);
    }
cleanup:
    json_decref(o);
    return rc;
}

/* ---- label set ----------------------------------------------------------------------------- */

static int cmp_label(const void *a, const void *b)
{
    return strcmp(((const struct emodata_label *)a)->name, ((const struct emodata_label *)b)->name);
}

/* Sorts an open label set by name so ids do not depend on row order. */
static pb_status sort_labels(struct emodata *d, char *err)
{
    struct emodata_label *old = malloc(d->n_labels * sizeof *old);
    uint16_t *map = malloc(d->n_labels * sizeof *map);
    if (!old || !map) {
        free(old), free(map);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    memcpy(old, d->label, d->n_labels * sizeof *old);
    qsort(d->label, d->n_labels, sizeof *d->label, cmp_label);
    for (size_t i = 0; i < d->n_labels; i++)
        map[i] = (uint16_t)label_find(d, old[i].name);
    for (size_t i = 0; d->n && i < d->label_start[d->n]; i++)
        d->labels[i] = map[d->labels[i]];
    free(old);
    free(map);
    return PB_OK;
}

static pb_status seed_known(struct builder *b, const char *const *names, size_t n, char *err)
{
    int id;
    for (size_t i = 0; i < n; i++) {
        pb_status rc = label_add(b, names[i], NULL, &id, err);
        if (rc != PB_OK)
            return rc;
    }
    return PB_OK;
}

pb_status emodata_read(const char *path, const struct emodata_opts *opts, struct emodata **out,
                       char *err)
{
    struct builder b = {.opts = opts, .path = path};
    char *buf = NULL;
    size_t len = 0;
    pb_status rc;
    *out = NULL;
    b.d = calloc(1, sizeof *b.d);
    if (!b.d)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if ((rc = pb_read_file(path, MAX_FILE_BYTES, &buf, &len, err)) != PB_OK)
        goto cleanup;
    int id_file = opts->format == EMODATA_GOEMOTIONS || opts->format == EMODATA_KOTE;
    if (opts->known_labels)
        rc = seed_known(&b, opts->known_labels, opts->n_known, err);
    else if (id_file && !opts->labels_path)
        rc = pb_errf(err, PB_ERR_INVALID, "%s data needs its label file (--labels)",
                     opts->format == EMODATA_KOTE ? "KOTE" : "GoEmotions");
    else if (id_file)
        rc = read_label_file(&b, err);
    else if (opts->format == EMODATA_POLARITY)
        rc = seed_known(&b, emolabels_segment_names, EMOLABELS_SEGMENTS, err);
    if (rc != PB_OK)
        goto cleanup;
    switch (opts->format) {
    case EMODATA_GOEMOTIONS:
        rc = for_each_line(&b, buf, parse_goemotions_line, err);
        break;
    case EMODATA_KOTE:
        rc = for_each_line(&b, buf, parse_kote_line, err);
        break;
    case EMODATA_POLARITY:
        rc = for_each_line(&b, buf, parse_polarity_line, err);
        break;
    case EMODATA_JSONL:
        rc = for_each_line(&b, buf, parse_jsonl_line, err);
        break;
    default:
        rc = read_csv(&b, buf, len, err);
    }
    if (rc == PB_OK && b.d->n == 0)
        rc = pb_errf(err, PB_ERR_INVALID, "%s: no examples", path);
    if (rc == PB_OK && !opts->known_labels && !id_file && opts->format != EMODATA_POLARITY)
        rc = sort_labels(b.d, err);
cleanup:
    free(buf);
    if (rc != PB_OK)
        emodata_free(b.d);
    else
        *out = b.d;
    return rc;
}

pb_status emodata_format_parse(const char *s, enum emodata_format *out, char *err)
{
    static const char *names[] = {"goemotions", "aihub", "csv", "jsonl", "polarity", "kote"};
    for (int i = 0; i < 6; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (enum emodata_format)i;
            return PB_OK;
        }
    return pb_errf(err, PB_ERR_INVALID,
                   "unknown format '%s' (use goemotions, kote, polarity, aihub, csv, jsonl)", s);
}

static pb_status set_str(char **slot, const char *v)
{
    char *c = strdup(v);
    if (!c)
        return PB_ERR_NOMEM;
    free(*slot);
    *slot = c;
    return PB_OK;
}

pb_status emodata_apply_names(struct emodata *d, const char *path, char *err)
{
    char *buf = NULL;
    pb_status rc = pb_read_file(path, 1u << 20, &buf, NULL, err);
    int line = 0;
    if (rc != PB_OK)
        return rc;
    for (char *p = buf, *next; p && *p; p = next) {
        next = strchr(p, '\n');
        if (next)
            *next++ = '\0';
        line++;
        char *f[3] = {trim(p), NULL, NULL};
        if (!*f[0] || *f[0] == '#')
            continue;
        for (int k = 1; k < 3 && f[k - 1]; k++) {
            f[k] = strchr(f[k - 1], '\t');
            if (f[k])
                *f[k]++ = '\0';
        }
        int id = label_find(d, f[0]);
        if (id < 0 || !f[1] || !text_utf8_valid(f[1], strlen(f[1]))) {
            rc = pb_errf(err, PB_ERR_INVALID,
                         "%s line %d: expected a known label<TAB>display name[<TAB>group]", path,
                         line);
            break;
        }
        if (set_str(&d->label[id].display, f[1]) || (f[2] && set_str(&d->label[id].group, f[2]))) {
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
            break;
        }
    }
    free(buf);
    return rc;
}

void emodata_free(struct emodata *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++)
        free(d->text[i]);
    for (size_t i = 0; i < d->n_labels; i++) {
        free(d->label[i].name);
        free(d->label[i].display);
        free(d->label[i].group);
    }
    free(d->text);
    free(d->weight);
    free(d->label_start);
    free(d->labels);
    free(d->label);
    free(d);
}

const char *emodata_segment(const struct emodata *d, size_t i, int strict)
{
    const char *groups[64];
    unsigned n = 0;
    for (size_t k = d->label_start[i]; k < d->label_start[i + 1] && n < 64; k++)
        groups[n++] = d->label[d->labels[k]].group;
    return emolabels_segment_of(groups, n, strict);
}

static int segment_index(const char *seg)
{
    for (int k = 0; k < EMOLABELS_SEGMENTS; k++)
        if (!strcmp(seg, emolabels_segment_names[k]))
            return k;
    return -1;
}

pb_status emodata_segments(const struct emodata *const *src, const double *weight, size_t n,
                           struct emodata **out, char *err)
{
    struct emodata_opts opts = {.format = EMODATA_POLARITY};
    struct builder b = {.opts = &opts, .path = "segment set"};
    size_t cap_w = 0;
    pb_status rc = PB_OK;
    *out = NULL;
    if (!(b.d = calloc(1, sizeof *b.d)))
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    rc = seed_known(&b, emolabels_segment_names, EMOLABELS_SEGMENTS, err);
    for (size_t s = 0; rc == PB_OK && s < n; s++)
        for (size_t i = 0; rc == PB_OK && i < src[s]->n; i++) {
            const char *seg = emodata_segment(src[s], i, 0);
            if (!seg)
                continue;
            const char *text = src[s]->text[i];
            if ((rc = example_begin(&b, text, strlen(text), (int)i + 1, err)) == PB_OK)
                rc = example_label(&b, segment_index(seg), err);
            if (rc == PB_OK && grow((void **)&b.d->weight, &cap_w, b.d->n, sizeof *b.d->weight))
                rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
            if (rc == PB_OK)
                b.d->weight[b.d->n - 1] = (float)(weight ? weight[s] : 1.0);
        }
    if (rc == PB_OK && b.d->n == 0)
        rc = pb_errf(err, PB_ERR_INVALID,
                     "no sentence has a segment (positive, negative or "
                     "neutral labels only)");
    if (rc != PB_OK) {
        emodata_free(b.d);
        return rc;
    }
    *out = b.d;
    return PB_OK;
}
