/* emofeat.c — hashed n-gram features for the emotion model (see emofeat.h). Works on the code
 * points of the text so that ASCII case folding and boundary markers cost nothing; the hash is
 * FNV-1a-style over code points, seeded by the feature family. */
#include "emotion/emofeat.h"

#include "base/pb.h"
#include "base/text.h"

#include <stdio.h>
#include <string.h>

#define MARK_BEGIN 0x110001u /* outside Unicode: cannot collide with a real character */
#define MARK_END   0x110002u
#define FNV_PRIME  0x100000001b3ULL

enum family { F_CHAR1 = 1, F_CHAR2, F_CHAR3, F_CHAR4, F_WORD1, F_WORD2, F_JAMO_VT, F_JAMO_T };

struct sink {
    uint32_t *out;
    size_t cap, n;
    uint32_t mask;
};

static uint64_t hash_start(enum family f)
{
    return (0xcbf29ce484222325ULL ^ (uint64_t)f) * FNV_PRIME;
}

static uint64_t hash_cp(uint64_t h, uint32_t cp)
{
    return (h ^ cp) * FNV_PRIME;
}

static void emit(struct sink *s, uint64_t h)
{
    uint32_t id = (uint32_t)(h ^ (h >> 29) ^ (h >> 47)) & s->mask;
    if (s->n < s->cap)
        s->out[s->n++] = id ? id : 1;
}

static int is_space(uint32_t cp)
{
    return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0xA0 || cp == 0x3000;
}

static int is_ascii_punct(uint32_t cp)
{
    return (cp >= '!' && cp <= '/') || (cp >= ':' && cp <= '@') || (cp >= '[' && cp <= '`') ||
           (cp >= '{' && cp <= '~');
}

/* Syllable n-grams of one word framed as [^, w..., $]. */
static void emit_char_ngrams(struct sink *s, uint32_t flags, const uint32_t *w, size_t m)
{
    uint32_t seq[EMOFEAT_MAX_CHARS + 2];
    size_t len = m + 2;
    seq[0] = MARK_BEGIN;
    memcpy(seq + 1, w, m * sizeof *w);
    seq[m + 1] = MARK_END;
    static const uint32_t want[5] = {0, EMOFEAT_CHAR1, EMOFEAT_CHAR2, EMOFEAT_CHAR3, EMOFEAT_CHAR4};
    static const enum family fam[5] = {0, F_CHAR1, F_CHAR2, F_CHAR3, F_CHAR4};
    if (flags & EMOFEAT_CHAR1)
        for (size_t i = 0; i < m; i++)
            emit(s, hash_cp(hash_start(F_CHAR1), w[i]));
    for (size_t g = 2; g <= 4; g++) {
        if (!(flags & want[g]) || len < g)
            continue;
        for (size_t i = 0; i + g <= len; i++) {
            uint64_t h = hash_start(fam[g]);
            for (size_t j = 0; j < g; j++)
                h = hash_cp(h, seq[i + j]);
            emit(s, h);
        }
    }
}

/* Jamo of the last Hangul syllable: Korean verb endings (했/해, 요/죠) share medial and final
 * letters across different initial consonants. */
static void emit_jamo(struct sink *s, const uint32_t *w, size_t m)
{
    uint32_t cp = w[m - 1];
    if (cp < 0xAC00 || cp > 0xD7A3)
        return;
    uint32_t idx = cp - 0xAC00, vowel = (idx % 588) / 28, final = idx % 28;
    emit(s, hash_cp(hash_cp(hash_start(F_JAMO_VT), vowel), final));
    if (m >= 2)
        emit(s, hash_cp(hash_cp(hash_start(F_JAMO_T), w[m - 2]), final));
}

/* The grams of want (EMOFEAT_CHAR2, EMOFEAT_CHAR3) that span the space between words a[0..ma)
 * and b[0..mb), hashed as in-word grams (no markers). */
static void emit_cross(struct sink *s, uint32_t flags, const uint32_t *a, size_t ma,
                       const uint32_t *b, size_t mb)
{
    if (flags & EMOFEAT_CHAR2)
        emit(s, hash_cp(hash_cp(hash_start(F_CHAR2), a[ma - 1]), b[0]));
    if (!(flags & EMOFEAT_CHAR3))
        return;
    if (ma >= 2)
        emit(s, hash_cp(hash_cp(hash_cp(hash_start(F_CHAR3), a[ma - 2]), a[ma - 1]), b[0]));
    if (mb >= 2)
        emit(s, hash_cp(hash_cp(hash_cp(hash_start(F_CHAR3), a[ma - 1]), b[0]), b[1]));
}

static uint64_t word_hash(const uint32_t *w, size_t m)
{
    size_t a = 0, b = m;
    while (a < b && is_ascii_punct(w[a]))
        a++;
    while (b > a && is_ascii_punct(w[b - 1]))
        b--;
    if (a == b) /* all punctuation ("?!"): keep it as the word */
        a = 0, b = m;
    uint64_t h = hash_start(F_WORD1);
    for (size_t i = a; i < b; i++)
        h = hash_cp(h, w[i]);
    return h;
}

static pb_status decode_prefix(const char *text, size_t len, uint32_t *cps, size_t *n, char *err)
{
    size_t pos = 0, k = 0;
    while (pos < len && k < EMOFEAT_MAX_CHARS) {
        size_t at = pos;
        int32_t cp = text_utf8_next(text, len, &pos);
        if (cp < 0)
            return pb_errf(err, PB_ERR_INVALID, "text is not valid UTF-8 (byte %zu)", at);
        if (cp == 0)
            return pb_errf(err, PB_ERR_INVALID, "text contains a NUL byte (byte %zu)", at);
        cps[k++] = (cp >= 'A' && cp <= 'Z') ? (uint32_t)cp + 32 : (uint32_t)cp;
    }
    *n = k;
    return PB_OK;
}

pb_status emofeat_extract(const struct emofeat_opts *opts, const char *text, size_t len,
                          uint32_t *out, size_t cap, size_t *n, char *err)
{
    uint32_t cps[EMOFEAT_MAX_CHARS];
    size_t ncp = 0;
    *n = 0;
    if (opts->bucket_bits < 12 || opts->bucket_bits > 30 || (opts->flags & ~EMOFEAT_ALL) ||
        !opts->flags)
        return pb_errf(err, PB_ERR_INVALID, "feature options: bucket_bits %u or flags 0x%x invalid",
                       opts->bucket_bits, opts->flags);
    pb_status rc = decode_prefix(text, len, cps, &ncp, err);
    if (rc != PB_OK)
        return rc;
    struct sink s = {out, cap, 0, (1u << opts->bucket_bits) - 1};
    uint64_t prev_word = 0;
    size_t i = 0, prev_start = 0, prev_len = 0;
    while (i < ncp) {
        while (i < ncp && is_space(cps[i]))
            i++;
        size_t start = i;
        while (i < ncp && !is_space(cps[i]))
            i++;
        if (i == start)
            break;
        const uint32_t *w = cps + start;
        size_t m = i - start;
        emit_char_ngrams(&s, opts->flags, w, m);
        if ((opts->flags & EMOFEAT_CROSS) && prev_len)
            emit_cross(&s, opts->flags, cps + prev_start, prev_len, w, m);
        prev_start = start, prev_len = m;
        uint64_t wh = word_hash(w, m);
        if (opts->flags & EMOFEAT_WORD1)
            emit(&s, wh);
        if ((opts->flags & EMOFEAT_WORD2) && prev_word)
            emit(&s, hash_cp(hash_cp(hash_start(F_WORD2), (uint32_t)prev_word),
                             (uint32_t)(wh ^ (wh >> 32))));
        if (opts->flags & EMOFEAT_JAMO)
            emit_jamo(&s, w, m);
        prev_word = wh ^ (wh >> 32);
        if (!prev_word)
            prev_word = 1;
    }
    *n = s.n;
    return PB_OK;
}

static const struct {
    uint32_t flag;
    const char *name;
} flag_names[] = {{EMOFEAT_CHAR1, "char1"}, {EMOFEAT_CHAR2, "char2"}, {EMOFEAT_CHAR3, "char3"},
                  {EMOFEAT_CHAR4, "char4"}, {EMOFEAT_WORD1, "word1"}, {EMOFEAT_WORD2, "word2"},
                  {EMOFEAT_JAMO, "jamo"},   {EMOFEAT_CROSS, "cross"}};
#define N_FLAG_NAMES (sizeof flag_names / sizeof flag_names[0])

void emofeat_flags_name(uint32_t flags, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_FLAG_NAMES && used < size; i++)
        if (flags & flag_names[i].flag)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? "," : "",
                                     flag_names[i].name);
}

pb_status emofeat_flags_parse(const char *s, uint32_t *flags, char *err)
{
    if (strcmp(s, "default") == 0) {
        *flags = EMOFEAT_DEFAULT;
        return PB_OK;
    }
    if (strcmp(s, "all") == 0) {
        *flags = EMOFEAT_ALL;
        return PB_OK;
    }
    uint32_t f = 0;
    while (*s) {
        size_t len = strcspn(s, ",");
        size_t i = 0;
        while (i < N_FLAG_NAMES &&
               !(strlen(flag_names[i].name) == len && strncmp(flag_names[i].name, s, len) == 0))
            i++;
        if (i == N_FLAG_NAMES)
            return pb_errf(
                err, PB_ERR_INVALID,
                "unknown feature '%.*s' (use char1..char4, word1, word2, jamo, cross, default)",
                (int)len, s);
        f |= flag_names[i].flag;
        s += len + (s[len] == ',');
    }
    if (!f)
        return pb_errf(err, PB_ERR_INVALID, "no features named");
    *flags = f;
    return PB_OK;
}
