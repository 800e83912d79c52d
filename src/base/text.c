/* text.c — UTF-8 validation, decoding, prefix cutting and edit similarity. */
#include "base/text.h"

#include <stdlib.h>
#include <string.h>

int32_t text_utf8_next(const char *s, size_t len, size_t *pos)
{
    const unsigned char *p = (const unsigned char *)s + *pos;
    size_t left = len - *pos;
    uint32_t cp, min;
    size_t n;
    if (left == 0)
        return -1;
    if (p[0] < 0x80) {
        *pos += 1;
        return p[0];
    } else if ((p[0] & 0xE0) == 0xC0) {
        cp = p[0] & 0x1F, n = 2, min = 0x80;
    } else if ((p[0] & 0xF0) == 0xE0) {
        cp = p[0] & 0x0F, n = 3, min = 0x800;
    } else if ((p[0] & 0xF8) == 0xF0) {
        cp = p[0] & 0x07, n = 4, min = 0x10000;
    } else {
        *pos += 1;
        return -1;
    }
    if (left < n) {
        *pos += 1;
        return -1;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            *pos += 1;
            return -1;
        }
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        *pos += 1;
        return -1;
    }
    *pos += n;
    return (int32_t)cp;
}

bool text_utf8_valid(const char *s, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        if ((unsigned char)s[pos] < 0x80) {
            pos++;
            continue;
        }
        if (text_utf8_next(s, len, &pos) < 0)
            return false;
    }
    return true;
}

size_t text_utf8_put(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    } else if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    } else if (cp < 0x10000) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            return 0;
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    } else if (cp <= 0x10FFFF) {
        o[0] = (unsigned char)(0xF0 | (cp >> 18));
        o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (unsigned char)(0x80 | (cp & 0x3F));
        return 4;
    }
    return 0;
}

size_t text_utf8_count(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

size_t text_utf8_prefix(const char *s, size_t len, size_t max_chars)
{
    size_t chars = 0, i = 0;
    while (i < len) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (chars == max_chars)
                return i;
            chars++;
        }
        i++;
    }
    return len;
}

/* Decodes a valid string into a freshly allocated code-point array (caller frees). */
static int32_t *decode_all(const char *s, size_t max_chars, size_t *n_out)
{
    size_t len = strlen(s);
    if (!text_utf8_valid(s, len))
        return NULL;
    size_t n = text_utf8_count(s, len);
    if (n > max_chars)
        return NULL;
    int32_t *cps = malloc((n + 1) * sizeof *cps);
    if (!cps)
        return NULL;
    size_t pos = 0;
    for (size_t i = 0; i < n; i++)
        cps[i] = text_utf8_next(s, len, &pos);
    *n_out = n;
    return cps;
}

double text_similarity(const char *a, const char *b, size_t max_chars)
{
    size_t na = 0, nb = 0;
    double result = -1;
    int32_t *ca = decode_all(a, max_chars, &na);
    int32_t *cb = decode_all(b, max_chars, &nb);
    size_t *row = NULL;
    if (!ca || !cb)
        goto cleanup;
    if (na == 0 && nb == 0) {
        result = 1.0;
        goto cleanup;
    }
    row = malloc((nb + 1) * sizeof *row);
    if (!row)
        goto cleanup;
    for (size_t j = 0; j <= nb; j++)
        row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j];
            size_t best = diag + (ca[i - 1] != cb[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    result = 1.0 - (double)row[nb] / (double)(na > nb ? na : nb);
cleanup:
    free(ca);
    free(cb);
    free(row);
    return result;
}
