/* rewardfeat.c — text to features for the reward model: code points with whitespace folded,
 * hashed n-grams, words and word pairs (FNV-1a), idf weighting, and the text statistics. Pure
 * functions over caller buffers; allocates only the vectors it returns. */
#include "judge/rewardfeat.h"

#include "base/hash.h"
#include "base/text.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Code points with whitespace runs collapsed to one space, framed by start/end markers so
 * n-grams see how a text begins and ends. Caller frees *cps. */
static pb_status text_codepoints(const char *s, uint32_t **cps, size_t *n)
{
    size_t len = strlen(s), pos = 0, k = 0;
    uint32_t *out = malloc((len + 2) * sizeof *out);
    if (!out)
        return PB_ERR_NOMEM;
    out[k++] = 0x02;
    int space = 1;
    while (pos < len) {
        int32_t c = text_utf8_next(s, len, &pos);
        if (c < 0)
            c = 0xFFFD;
        int ws = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0x3000 || c == 0xA0;
        if (ws) {
            if (!space)
                out[k++] = ' ';
            space = 1;
            continue;
        }
        out[k++] = (uint32_t)c;
        space = 0;
    }
    if (k > 1 && out[k - 1] == ' ')
        k--;
    out[k++] = 0x03;
    *cps = out;
    *n = k;
    return PB_OK;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The hashed feature of n code points; salt keeps n-grams, words and pairs apart. */
static uint32_t feature_of(const uint32_t *cps, size_t n, uint64_t salt)
{
    return (uint32_t)(hash_fnv1a64(cps, n * sizeof *cps, salt) & (REWARDFEAT_HASH_SIZE - 1));
}

pb_status rewardfeat_ngrams(const char *text, const double *idf, double idf_unseen,
                            struct rewardfeat_vec *v)
{
    uint32_t *cps = NULL, *h = NULL;
    size_t n = 0, m = 0;
    pb_status rc = text_codepoints(text, &cps, &n);
    memset(v, 0, sizeof *v);
    if (rc != PB_OK)
        return rc;
    h = malloc(n * (REWARDFEAT_NGRAM_MAX + 2) * sizeof *h);
    if (!h) {
        rc = PB_ERR_NOMEM;
        goto cleanup;
    }
    for (size_t g = 1; g <= REWARDFEAT_NGRAM_MAX; g++)
        for (size_t i = 0; i + g <= n; i++)
            h[m++] = feature_of(cps + i, g, g);
    /* Whole words (space-separated, markers included) and word pairs. */
    size_t prev_start = 0, prev_len = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && cps[j] != ' ')
            j++;
        h[m++] = feature_of(cps + i, j - i, 100);
        if (prev_len)
            h[m++] = feature_of(cps + prev_start, j - prev_start, 101);
        prev_start = i;
        prev_len = j - i;
        i = j + 1;
    }
    qsort(h, m, sizeof *h, cmp_u32);
    v->idx = malloc((m ? m : 1) * sizeof *v->idx);
    v->val = malloc((m ? m : 1) * sizeof *v->val);
    if (!v->idx || !v->val) {
        rc = PB_ERR_NOMEM;
        goto cleanup;
    }
    double norm = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j < m && h[j] == h[i])
            j++;
        double val = 1.0 + log((double)(j - i));
        if (idf)
            val *= idf[h[i]] > 0 ? idf[h[i]] : idf_unseen;
        v->idx[v->n] = h[i];
        v->val[v->n++] = val;
        norm += val * val;
        i = j;
    }
    for (size_t i = 0; i < v->n; i++)
        v->val[i] /= sqrt(norm);
cleanup:
    free(cps);
    free(h);
    if (rc != PB_OK)
        rewardfeat_vec_free(v);
    return rc;
}

void rewardfeat_vec_free(struct rewardfeat_vec *v)
{
    free(v->idx);
    free(v->val);
    memset(v, 0, sizeof *v);
}

static int is_sentence_end(uint32_t c)
{
    return c == '.' || c == '!' || c == '?' || c == '\n' || c == 0x2026 || c == '~';
}

static int is_emoji(uint32_t c)
{
    return (c >= 0x1F000 && c <= 0x1FAFF) || (c >= 0x2600 && c <= 0x27BF) || c == 0xFE0F;
}

void rewardfeat_stats(const char *s, double f[REWARDFEAT_STATS])
{
    size_t len = strlen(s), pos = 0, chars = 0, visible = 0, hangul = 0, latin = 0;
    size_t sentences = 0, sent_chars = 0, da_endings = 0, cur = 0, lines = 1;
    size_t excl = 0, quest = 0, tilde = 0, dots = 0, emoji = 0, digits = 0, colons = 0, quotes = 0;
    uint32_t last_letter = 0;
    memset(f, 0, REWARDFEAT_STATS * sizeof *f);
    while (pos < len) {
        int32_t c = text_utf8_next(s, len, &pos);
        if (c < 0)
            continue;
        chars++;
        uint32_t u = (uint32_t)c;
        lines += u == '\n';
        excl += u == '!';
        quest += u == '?';
        tilde += u == '~';
        dots += u == '.' || u == 0x2026;
        colons += u == ':';
        quotes += u == '"' || u == '\'' || u == 0x201C || u == 0x201D;
        digits += u >= '0' && u <= '9';
        emoji += is_emoji(u);
        if (u != ' ' && u != '\n' && u != '\t' && u != '\r')
            visible++;
        if (u >= 0xAC00 && u <= 0xD7A3) {
            hangul++;
            last_letter = u;
        }
        if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z'))
            latin++;
        if (is_sentence_end(u)) {
            if (cur > 0) {
                sentences++;
                sent_chars += cur;
                da_endings += last_letter == 0xB2E4; /* 다: the plain diary ending */
            }
            cur = 0;
            last_letter = 0;
        } else if (u != ' ') {
            cur++;
        }
    }
    if (cur > 0) {
        sentences++;
        sent_chars += cur;
        da_endings += last_letter == 0xB2E4;
    }
    /* Share of space-separated words already seen in the text. */
    size_t words = 0, repeats = 0;
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
            p++;
        const char *w = p;
        while (*p && *p != ' ' && *p != '\n' && *p != '\t' && *p != '\r')
            p++;
        size_t wl = (size_t)(p - w);
        if (!wl)
            continue;
        words++;
        for (const char *q = s; q < w; q++)
            if (strncmp(q, w, wl) == 0 && (q == s || q[-1] == ' ' || q[-1] == '\n') &&
                (q[wl] == ' ' || q[wl] == '\n' || q[wl] == '\0')) {
                repeats++;
                break;
            }
    }
    double vis = visible ? (double)visible : 1.0, sn = sentences ? (double)sentences : 1.0;
    f[0] = (double)chars;
    f[1] = log1p((double)chars);
    f[2] = (double)lines;
    f[3] = (double)sentences;
    f[4] = (double)sent_chars / sn;
    f[5] = (double)excl;
    f[6] = (double)quest;
    f[7] = (double)tilde;
    f[8] = (double)dots;
    f[9] = (double)emoji;
    f[10] = (double)hangul / vis;
    f[11] = (double)latin / vis;
    f[12] = (double)digits;
    f[13] = words ? (double)repeats / (double)words : 0.0;
    f[14] = (double)(colons + quotes);
    f[15] = (double)da_endings / sn;
}

double rewardfeat_vec_dot(const struct rewardfeat_vec *a, const double *dense)
{
    double s = 0;
    for (size_t i = 0; i < a->n; i++)
        s += a->val[i] * dense[a->idx[i]];
    return s;
}

void rewardfeat_idf_fit(struct rewardfeat_vec *sv, size_t n, double *idf, double *idf_unseen)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < sv[i].n; k++)
            idf[sv[i].idx[k]] += 1.0;
    *idf_unseen = log((double)(n + 1)) + 1.0;
    for (size_t x = 0; x < REWARDFEAT_HASH_SIZE; x++)
        if (idf[x] > 0)
            idf[x] = log((double)(n + 1) / (idf[x] + 1.0)) + 1.0;
    for (size_t i = 0; i < n; i++) {
        double norm = 0;
        for (size_t k = 0; k < sv[i].n; k++) {
            sv[i].val[k] *= idf[sv[i].idx[k]];
            norm += sv[i].val[k] * sv[i].val[k];
        }
        for (size_t k = 0; norm > 0 && k < sv[i].n; k++)
            sv[i].val[k] /= sqrt(norm);
    }
}
