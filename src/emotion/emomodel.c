/* emomodel.c — model file format, loading and prediction for the embedded emotion model.
 * A head (version 1 image; little-endian, sections 8-byte aligned): 64-byte header; label
 * strings (name, display, group, each NUL-terminated, per label); float thresholds[L]; float
 * bias[L]; uint32 keys[V]; then V rows of {float scale; int8 q[L]} padded to 4 bytes (weight =
 * scale * q), so that scoring one feature reads one contiguous row. A bundle (version 2): a
 * 64-byte header of the same shape (its mode field holds the head count), a table of
 * {char name[16]; uint64 offset, length} per head, then each head's version-1 image at an
 * 8-byte aligned offset. Heads share the feature options, so a text is tokenized once. */
#include "emotion/emomodel.h"

#include "base/hash.h"
#include "base/pb.h"
#include "base/text.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LABELS      65535u
#define MAX_MODEL_BYTES (1ull << 31)

struct header {
    char magic[8];
    uint32_t version, mode, n_labels, n_rows, feat_flags, bucket_bits, strings_len, reserved;
    uint64_t file_size, checksum;
    uint8_t pad[8];
};
_Static_assert(sizeof(struct header) == EMOMODEL_HEADER_SIZE, "header layout");
_Static_assert(offsetof(struct header, checksum) == EMOMODEL_CHECKSUM_OFFSET, "checksum offset");

/* Key and row side by side: one cache line read per lookup instead of two. */
struct slot {
    uint32_t key, row;
};

enum owner { OWN_MALLOC, OWN_MMAP, OWN_NONE };

struct head_entry {
    char name[EMOMODEL_HEAD_NAME_LEN];
    uint64_t offset, length;
};
_Static_assert(sizeof(struct head_entry) == 32, "head table layout");

struct emomodel {
    const unsigned char *image; /* the whole file (a head of a bundle: its own slice) */
    size_t image_len;
    enum owner owner;
    size_t n_heads;          /* 1 for a version-1 file */
    struct emomodel **heads; /* heads[0] is this model itself */
    char (*head_names)[EMOMODEL_HEAD_NAME_LEN];
    enum emomodel_mode mode;
    struct emofeat_opts feat;
    size_t n_labels, n_rows;
    struct emomodel_label *label;
    const float *bias;
    const uint32_t *keys;
    const unsigned char *rows; /* n_rows rows of row_size bytes */
    size_t row_size;
    struct slot *slot; /* open addressing over feature ids; key 0 = empty */
    uint32_t slot_mask;
};

static size_t align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* Section offsets from the counts; all derived sizes fit in size_t on 64-bit hosts. */
struct layout {
    size_t strings, thresholds, bias, keys, rows, row_size, end;
};

static struct layout layout_of(size_t n_labels, size_t n_rows, size_t strings_len)
{
    struct layout l;
    l.strings = EMOMODEL_HEADER_SIZE;
    l.thresholds = align8(l.strings + strings_len);
    l.bias = l.thresholds + 4 * n_labels;
    l.keys = align8(l.bias + 4 * n_labels);
    l.rows = align8(l.keys + 4 * n_rows);
    l.row_size = (4 + n_labels + 3) & ~(size_t)3;
    l.end = l.rows + n_rows * l.row_size;
    return l;
}

static pb_status parse_file(const unsigned char *image, size_t len, enum owner owner,
                            emomodel **out, char *err);

/* ---- building ----------------------------------------------------------------------------- */

static size_t spec_strings_len(const struct emomodel_spec *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_labels; i++)
        n += strlen(s->name[i]) + strlen(s->display[i]) + strlen(s->group[i]) + 3;
    return n;
}

static void quantise_row(const float *w, size_t n, float *scale, int8_t *q)
{
    float max = 0;
    for (size_t i = 0; i < n; i++)
        max = fabsf(w[i]) > max ? fabsf(w[i]) : max;
    *scale = max > 0 ? max / 127.0f : 0.0f;
    for (size_t i = 0; i < n; i++)
        q[i] = max > 0 ? (int8_t)lrintf(w[i] / *scale) : 0;
}

pb_status emomodel_build(const struct emomodel_spec *s, emomodel **out, char *err)
{
    size_t slen = spec_strings_len(s);
    struct layout l = layout_of(s->n_labels, s->n_rows, slen);
    unsigned char *img = calloc(1, l.end);
    *out = NULL;
    if (!img)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory for a %zu-byte model", l.end);
    struct header h = {.version = EMOMODEL_VERSION,
                       .mode = (uint32_t)s->mode,
                       .n_labels = (uint32_t)s->n_labels,
                       .n_rows = (uint32_t)s->n_rows,
                       .feat_flags = s->feat.flags,
                       .bucket_bits = s->feat.bucket_bits,
                       .strings_len = (uint32_t)slen,
                       .file_size = l.end};
    memcpy(h.magic, EMOMODEL_MAGIC, 8);
    char *p = (char *)img + l.strings;
    for (size_t i = 0; i < s->n_labels; i++) {
        const char *parts[3] = {s->name[i], s->display[i], s->group[i]};
        for (int k = 0; k < 3; k++) {
            size_t n = strlen(parts[k]) + 1;
            memcpy(p, parts[k], n);
            p += n;
        }
    }
    memcpy(img + l.thresholds, s->threshold, 4 * s->n_labels);
    memcpy(img + l.bias, s->bias, 4 * s->n_labels);
    memcpy(img + l.keys, s->keys, 4 * s->n_rows);
    for (size_t r = 0; r < s->n_rows; r++)
        quantise_row(s->weights + r * s->n_labels, s->n_labels,
                     (float *)(img + l.rows + r * l.row_size),
                     (int8_t *)(img + l.rows + r * l.row_size + 4));
    h.checksum = hash_fnv1a64(img + EMOMODEL_HEADER_SIZE, l.end - EMOMODEL_HEADER_SIZE, 0);
    memcpy(img, &h, sizeof h);
    return parse_file(img, l.end, OWN_MALLOC, out, err);
}

pb_status emomodel_bundle(const emomodel *const *heads, const char *const *names, size_t n,
                          emomodel **out, char *err)
{
    *out = NULL;
    if (n == 0 || n > EMOMODEL_MAX_HEADS)
        return pb_errf(err, PB_ERR_INVALID, "a bundle has 1 to %d heads", EMOMODEL_MAX_HEADS);
    size_t at = align8(EMOMODEL_HEADER_SIZE + n * sizeof(struct head_entry));
    struct head_entry table[EMOMODEL_MAX_HEADS];
    memset(table, 0, sizeof table);
    for (size_t i = 0; i < n; i++) {
        if (heads[i]->n_heads != 1 || strlen(names[i]) == 0 ||
            strlen(names[i]) >= EMOMODEL_HEAD_NAME_LEN)
            return pb_errf(err, PB_ERR_INVALID,
                           "head %zu: a single model with a name of 1 to %d "
                           "bytes",
                           i, EMOMODEL_HEAD_NAME_LEN - 1);
        memcpy(table[i].name, names[i], strlen(names[i]));
        table[i].offset = at, table[i].length = heads[i]->image_len;
        at = align8(at + heads[i]->image_len);
    }
    unsigned char *img = calloc(1, at);
    if (!img)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory for a %zu-byte model", at);
    memcpy(img + EMOMODEL_HEADER_SIZE, table, n * sizeof *table);
    for (size_t i = 0; i < n; i++)
        memcpy(img + table[i].offset, heads[i]->image, heads[i]->image_len);
    struct header h = {.version = EMOMODEL_BUNDLE_VERSION, .mode = (uint32_t)n, .file_size = at};
    memcpy(h.magic, EMOMODEL_MAGIC, 8);
    h.checksum = hash_fnv1a64(img + EMOMODEL_HEADER_SIZE, at - EMOMODEL_HEADER_SIZE, 0);
    memcpy(img, &h, sizeof h);
    return parse_file(img, at, OWN_MALLOC, out, err);
}

/* ---- parsing ------------------------------------------------------------------------------ */

static pb_status parse_labels(emomodel *m, const struct header *h, const struct layout *l,
                              const unsigned char *image, char *err)
{
    const char *p = (const char *)image + l->strings, *end = p + h->strings_len;
    const float *thr = (const float *)(image + l->thresholds);
    m->label = calloc(m->n_labels, sizeof *m->label);
    if (!m->label)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < m->n_labels; i++) {
        const char **slot[3] = {&m->label[i].name, &m->label[i].display, &m->label[i].group};
        for (int k = 0; k < 3; k++) {
            const char *nul = memchr(p, '\0', (size_t)(end - p));
            if (!nul || !text_utf8_valid(p, (size_t)(nul - p)) || (k == 0 && nul == p))
                return pb_errf(err, PB_ERR_INVALID, "label %zu: name table is damaged", i);
            *slot[k] = p;
            p = nul + 1;
        }
        m->label[i].threshold = thr[i];
        if (!(thr[i] >= 0.0f && thr[i] <= 1.0f))
            return pb_errf(err, PB_ERR_INVALID, "label %zu: threshold outside [0, 1]", i);
        if (!isfinite(m->bias[i]))
            return pb_errf(err, PB_ERR_INVALID, "label %zu: bias is not finite", i);
    }
    if (p != end)
        return pb_errf(err, PB_ERR_INVALID, "label name table has trailing bytes");
    return PB_OK;
}

static pb_status build_index(emomodel *m, char *err)
{
    size_t cap = 16;
    while (cap < 2 * m->n_rows)
        cap *= 2;
    m->slot = calloc(cap, sizeof *m->slot);
    if (!m->slot)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    m->slot_mask = (uint32_t)(cap - 1);
    uint32_t limit = 1u << m->feat.bucket_bits;
    for (size_t r = 0; r < m->n_rows; r++) {
        uint32_t key = m->keys[r];
        if (key == 0 || key >= limit || (r && key <= m->keys[r - 1]))
            return pb_errf(err, PB_ERR_INVALID, "feature table row %zu: ids not ascending", r);
        float scale;
        memcpy(&scale, m->rows + r * m->row_size, sizeof scale);
        if (!isfinite(scale) || scale < 0)
            return pb_errf(err, PB_ERR_INVALID, "feature table row %zu: bad scale", r);
        uint32_t i = (key * 0x9E3779B1u) & m->slot_mask;
        while (m->slot[i].key)
            i = (i + 1) & m->slot_mask;
        m->slot[i] = (struct slot){key, (uint32_t)r};
    }
    return PB_OK;
}

static pb_status check_header(const struct header *h, const unsigned char *image, size_t len,
                              struct layout *l, char *err)
{
    if (len < 8 || memcmp(h->magic, EMOMODEL_MAGIC, 8) != 0)
        return pb_errf(err, PB_ERR_INVALID, "not a promptbandit emotion model (bad magic)");
    if (len < EMOMODEL_HEADER_SIZE)
        return pb_errf(err, PB_ERR_INVALID, "model is truncated (%zu bytes, header is %d)", len,
                       EMOMODEL_HEADER_SIZE);
    if (h->version != EMOMODEL_VERSION && h->version != EMOMODEL_BUNDLE_VERSION)
        return pb_errf(err, PB_ERR_VERSION,
                       "model format version %u; this build reads versions %d and %d (retrain "
                       "or use a matching promptbandit)",
                       h->version, EMOMODEL_VERSION, EMOMODEL_BUNDLE_VERSION);
    if (h->file_size != len)
        return pb_errf(err, PB_ERR_INVALID,
                       "model is truncated or padded: header says %llu bytes, "
                       "got %zu",
                       (unsigned long long)h->file_size, len);
    if (hash_fnv1a64(image + EMOMODEL_HEADER_SIZE, len - EMOMODEL_HEADER_SIZE, 0) != h->checksum)
        return pb_errf(err, PB_ERR_INVALID, "model is corrupt (checksum mismatch)");
    if (h->version == EMOMODEL_BUNDLE_VERSION)
        return PB_OK;
    if ((h->mode != EMOMODEL_MULTI && h->mode != EMOMODEL_SINGLE) || h->n_labels == 0 ||
        h->n_labels > MAX_LABELS || h->bucket_bits < 12 || h->bucket_bits > 30 || !h->feat_flags ||
        (h->feat_flags & ~EMOFEAT_ALL) || h->n_rows >= (1u << h->bucket_bits) ||
        h->strings_len > len)
        return pb_errf(err, PB_ERR_INVALID, "model header has impossible values");
    *l = layout_of(h->n_labels, h->n_rows, h->strings_len);
    if (l->end != len)
        return pb_errf(err, PB_ERR_INVALID, "model sections (%zu bytes) do not match its size",
                       l->end);
    return PB_OK;
}

/* Reads the version-1 image at image[0..len) into m's linear-model fields (m keeps pointers
 * into the image, which it does not own here). */
static pb_status parse_head(emomodel *m, const unsigned char *image, size_t len, char *err)
{
    struct header h;
    struct layout l = {0};
    pb_status rc;
    memset(&h, 0, sizeof h);
    memcpy(&h, image, len < sizeof h ? len : sizeof h);
    if ((rc = check_header(&h, image, len, &l, err)) != PB_OK)
        return rc;
    if (h.version != EMOMODEL_VERSION)
        return pb_errf(err, PB_ERR_INVALID, "a bundle's head is itself a bundle");
    m->mode = (enum emomodel_mode)h.mode;
    m->feat = (struct emofeat_opts){h.feat_flags, h.bucket_bits};
    m->n_labels = h.n_labels, m->n_rows = h.n_rows;
    m->bias = (const float *)(image + l.bias);
    m->keys = (const uint32_t *)(image + l.keys);
    m->rows = image + l.rows;
    m->row_size = l.row_size;
    if ((rc = parse_labels(m, &h, &l, image, err)) != PB_OK)
        return rc;
    return build_index(m, err);
}

/* The head table of a bundle at image[0..len) (header already checked): heads 1.. as models
 * borrowing the image, head 0 into m itself. */
static pb_status parse_bundle(emomodel *m, const unsigned char *image, size_t len, size_t n,
                              char *err)
{
    char why[PB_ERR_LEN];
    pb_status rc;
    if (n == 0 || n > EMOMODEL_MAX_HEADS ||
        EMOMODEL_HEADER_SIZE + n * sizeof(struct head_entry) > len)
        return pb_errf(err, PB_ERR_INVALID, "model bundle: head count %zu is impossible", n);
    m->n_heads = n;
    for (size_t i = 0; i < n; i++) {
        struct head_entry e;
        memcpy(&e, image + EMOMODEL_HEADER_SIZE + i * sizeof e, sizeof e);
        if (!memchr(e.name, '\0', sizeof e.name) || !e.name[0] || e.offset % 8 ||
            e.offset < EMOMODEL_HEADER_SIZE + n * sizeof e || e.offset > len ||
            e.length > len - e.offset)
            return pb_errf(err, PB_ERR_INVALID, "model bundle: head %zu is out of bounds", i);
        memcpy(m->head_names[i], e.name, sizeof e.name);
        emomodel *h = m;
        if (i > 0) {
            if (!(h = m->heads[i] = calloc(1, sizeof *h)))
                return pb_errf(err, PB_ERR_NOMEM, "out of memory");
            h->owner = OWN_NONE, h->image = image + e.offset, h->image_len = e.length;
            h->n_heads = 1, h->heads = NULL;
        }
        if ((rc = parse_head(h, image + e.offset, e.length, why)) != PB_OK)
            return pb_errf(err, rc, "head '%s': %s", e.name, why);
        if (h->feat.flags != m->feat.flags || h->feat.bucket_bits != m->feat.bucket_bits)
            return pb_errf(err, PB_ERR_INVALID, "head '%s' has other feature options", e.name);
    }
    return PB_OK;
}

/* Takes ownership of image as owner says (OWN_NONE: borrowed). */
static pb_status parse_file(const unsigned char *image, size_t len, enum owner owner,
                            emomodel **out, char *err)
{
    struct header h;
    struct layout l;
    emomodel *m = calloc(1, sizeof *m);
    pb_status rc;
    *out = NULL;
    if (!m) {
        if (owner == OWN_MMAP)
            munmap((void *)image, len);
        else if (owner == OWN_MALLOC)
            free((void *)image);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    m->image = image, m->image_len = len, m->owner = owner;
    m->heads = calloc(EMOMODEL_MAX_HEADS, sizeof *m->heads);
    m->head_names = calloc(EMOMODEL_MAX_HEADS, sizeof *m->head_names);
    if (!m->heads || !m->head_names) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto fail;
    }
    m->heads[0] = m;
    memset(&h, 0, sizeof h);
    memcpy(&h, image, len < sizeof h ? len : sizeof h);
    if ((rc = check_header(&h, image, len, &l, err)) != PB_OK)
        goto fail;
    if (h.version == EMOMODEL_BUNDLE_VERSION) {
        rc = parse_bundle(m, image, len, h.mode, err);
    } else {
        m->n_heads = 1;
        snprintf(m->head_names[0], EMOMODEL_HEAD_NAME_LEN, "%s", EMOMODEL_HEAD_EMOTION);
        rc = parse_head(m, image, len, err);
    }
    if (rc != PB_OK)
        goto fail;
    *out = m;
    return PB_OK;
fail:
    emomodel_free(m);
    return rc;
}

pb_status emomodel_parse(const void *data, size_t len, emomodel **out, char *err)
{
    unsigned char *copy = malloc(len ? len : 1);
    *out = NULL;
    if (!copy)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    memcpy(copy, data, len);
    return parse_file(copy, len, OWN_MALLOC, out, err);
}

pb_status emomodel_load(const char *path, emomodel **out, char *err)
{
    char why[PB_ERR_LEN];
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pb_errf(err, errno == ENOENT ? PB_ERR_NOT_FOUND : PB_ERR_IO,
                       "cannot open emotion model %s: %s", path, strerror(errno));
    struct stat st;
    void *map = NULL;
    pb_status rc = PB_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > MAX_MODEL_BYTES) {
        rc = pb_errf(err, PB_ERR_INVALID, "emotion model %s: not a regular file of at most 2 GiB",
                     path);
        goto cleanup;
    }
    if (st.st_size == 0) {
        rc = pb_errf(err, PB_ERR_INVALID, "emotion model %s: empty file", path);
        goto cleanup;
    }
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        rc = pb_errf(err, PB_ERR_IO, "cannot map emotion model %s: %s", path, strerror(errno));
        goto cleanup;
    }
    rc = parse_file(map, (size_t)st.st_size, OWN_MMAP, out, why);
    if (rc != PB_OK)
        pb_errf(err, rc, "emotion model %s: %s", path, why);
cleanup:
    close(fd);
    return rc;
}

pb_status emomodel_save(const emomodel *m, const char *path, char *err)
{
    return pb_write_file_atomic(path, m->image, m->image_len, err);
}

const void *emomodel_image(const emomodel *m, size_t *len)
{
    *len = m->image_len;
    return m->image;
}

void emomodel_free(emomodel *m)
{
    if (!m)
        return;
    for (size_t i = 1; m->heads && i < EMOMODEL_MAX_HEADS; i++)
        if (m->heads[i] && m->heads[i] != m)
            emomodel_free(m->heads[i]);
    if (m->owner == OWN_MMAP)
        munmap((void *)m->image, m->image_len);
    else if (m->owner == OWN_MALLOC)
        free((void *)m->image);
    free(m->heads);
    free(m->head_names);
    free(m->label);
    free(m->slot);
    free(m);
}

size_t emomodel_n_heads(const emomodel *m)
{
    return m->n_heads;
}

const char *emomodel_head_name(const emomodel *m, size_t i)
{
    return i < m->n_heads && m->head_names ? m->head_names[i] : NULL;
}

const emomodel *emomodel_head(const emomodel *m, const char *name)
{
    for (size_t i = 0; i < m->n_heads && m->head_names; i++)
        if (strcmp(m->head_names[i], name) == 0)
            return m->heads[i];
    return NULL;
}

size_t emomodel_n_labels(const emomodel *m)
{
    return m->n_labels;
}

size_t emomodel_n_rows(const emomodel *m)
{
    return m->n_rows;
}

enum emomodel_mode emomodel_mode(const emomodel *m)
{
    return m->mode;
}

const struct emofeat_opts *emomodel_feat(const emomodel *m)
{
    return &m->feat;
}

const struct emomodel_label *emomodel_label(const emomodel *m, size_t i)
{
    return i < m->n_labels ? &m->label[i] : NULL;
}

int emomodel_find_label(const emomodel *m, const char *name)
{
    for (size_t i = 0; i < m->n_labels; i++)
        if (strcmp(m->label[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* ---- prediction --------------------------------------------------------------------------- */

static uint32_t slot_of(const emomodel *m, uint32_t key)
{
    return (key * 0x9E3779B1u) & m->slot_mask;
}

/* Row of feature key starting the probe at slot i, or UINT32_MAX when the model lacks it. */
static uint32_t find_row(const emomodel *m, uint32_t key, uint32_t i)
{
    for (;;) {
        const struct slot *sl = &m->slot[i];
        if (sl->key == key)
            return sl->row;
        if (!sl->key)
            return UINT32_MAX;
        i = (i + 1) & m->slot_mask;
    }
}

/* Replaces each feature id by its row (UINT32_MAX when unknown). Lookups are nearly all cache
 * misses, so all slots are prefetched first and all rows next: the misses then overlap
 * instead of being paid one after another. */
static void ids_to_rows(const emomodel *m, uint32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        __builtin_prefetch(&m->slot[slot_of(m, ids[i])]);
    for (size_t i = 0; i < n; i++) {
        ids[i] = find_row(m, ids[i], slot_of(m, ids[i]));
        if (ids[i] != UINT32_MAX)
            __builtin_prefetch(m->rows + (size_t)ids[i] * m->row_size);
    }
}

static void squash(const emomodel *m, float *s)
{
    if (m->mode == EMOMODEL_MULTI) {
        for (size_t l = 0; l < m->n_labels; l++)
            s[l] = 1.0f / (1.0f + expf(-s[l]));
        return;
    }
    float max = s[0], sum = 0;
    for (size_t l = 1; l < m->n_labels; l++)
        max = s[l] > max ? s[l] : max;
    for (size_t l = 0; l < m->n_labels; l++)
        sum += (s[l] = expf(s[l] - max));
    for (size_t l = 0; l < m->n_labels; l++)
        s[l] /= sum;
}

pb_status emomodel_features(const emomodel *m, const char *text, size_t len, uint32_t *ids,
                            size_t *n, char *err)
{
    pb_status rc = emofeat_extract(&m->feat, text, len, ids, EMOFEAT_MAX_FEATURES, n, err);
    if (rc == PB_OK && *n == 0)
        rc = pb_errf(err, PB_ERR_INVALID, "text is empty");
    return rc;
}

pb_status emomodel_scores(const emomodel *m, const char *text, size_t len, float *scores, char *err)
{
    uint32_t ids[EMOFEAT_MAX_FEATURES];
    size_t n = 0;
    pb_status rc = emomodel_features(m, text, len, ids, &n, err);
    if (rc == PB_OK)
        emomodel_scores_ids(m, ids, n, scores);
    return rc;
}

void emomodel_scores_ids(const emomodel *m, const uint32_t *features, size_t n, float *scores)
{
    uint32_t ids[EMOFEAT_MAX_FEATURES];
    size_t L = m->n_labels;
    n = n < EMOFEAT_MAX_FEATURES ? n : EMOFEAT_MAX_FEATURES;
    memcpy(ids, features, n * sizeof *ids);
    for (size_t l = 0; l < L; l++)
        scores[l] = 0;
    ids_to_rows(m, ids, n);
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == UINT32_MAX)
            continue;
        const unsigned char *row = m->rows + (size_t)ids[i] * m->row_size;
        const int8_t *q = (const int8_t *)(row + 4);
        float sc;
        memcpy(&sc, row, sizeof sc);
        for (size_t l = 0; l < L; l++)
            scores[l] += sc * (float)q[l];
    }
    float norm = n ? 1.0f / sqrtf((float)n) : 0.0f;
    for (size_t l = 0; l < L; l++)
        scores[l] = m->bias[l] + norm * scores[l];
    squash(m, scores);
}

size_t emomodel_decide(const emomodel *m, const float *scores, uint16_t *out)
{
    size_t n = 0, top = 0;
    for (size_t l = 0; l < m->n_labels; l++) {
        if (scores[l] > scores[top])
            top = l;
        if (m->mode == EMOMODEL_MULTI && scores[l] >= m->label[l].threshold)
            out[n++] = (uint16_t)l;
    }
    if (n == 0)
        out[n++] = (uint16_t)top;
    return n;
}

size_t emomodel_segment(const emomodel *seg, const float *scores)
{
    int neutral = emomodel_find_label(seg, "neutral");
    size_t best = SIZE_MAX;
    if (neutral >= 0 && scores[neutral] >= seg->label[neutral].threshold)
        return (size_t)neutral;
    for (size_t l = 0; l < seg->n_labels; l++)
        if ((int)l != neutral && (best == SIZE_MAX || scores[l] > scores[best]))
            best = l;
    return best == SIZE_MAX ? 0 : best;
}

const char *emomodel_segment_ids(const emomodel *m, const uint32_t *ids, size_t n,
                                 const float *scores)
{
    const emomodel *seg = emomodel_head(m, EMOMODEL_HEAD_SEGMENT);
    float s[EMOMODEL_MAX_SEGMENT_LABELS];
    if (seg && seg->n_labels <= EMOMODEL_MAX_SEGMENT_LABELS) {
        emomodel_scores_ids(seg, ids, n, s);
        return seg->label[emomodel_segment(seg, s)].name;
    }
    size_t top = 0;
    for (size_t l = 1; l < m->n_labels; l++)
        top = scores[l] > scores[top] ? l : top;
    return m->label[top].group;
}
