/* scenarios.c — the scenarios file: line splitting, trimming, the optional emotion column. */
#include "offline/scenarios.h"

#include "base/hash.h"
#include "base/text.h"

#include <stdlib.h>
#include <string.h>

#define MAX_SCENARIO_BYTES (16u << 20)

void scenarios_free(struct scenarios *s)
{
    for (size_t i = 0; s && i < s->n; i++) {
        free(s->sentence[i]);
        free(s->emotion[i]);
    }
    if (s) {
        free(s->sentence);
        free(s->emotion);
        memset(s, 0, sizeof *s);
    }
}

static char *trimmed_dup(const char *p, size_t len)
{
    while (len && (*p == ' ' || *p == '\t'))
        p++, len--;
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r'))
        len--;
    char *s = malloc(len + 1);
    if (s) {
        memcpy(s, p, len);
        s[len] = '\0';
    }
    return s;
}

/* Appends one "sentence[TAB emotion]" line to s. */
static pb_status scenario_add(struct scenarios *s, const char *line, size_t len, size_t *cap)
{
    if (s->n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        char **a = realloc(s->sentence, c * sizeof *a);
        if (a)
            s->sentence = a;
        char **b = a ? realloc(s->emotion, c * sizeof *b) : NULL;
        if (!b)
            return PB_ERR_NOMEM;
        s->emotion = b;
        *cap = c;
    }
    const char *tab = memchr(line, '\t', len);
    size_t head = tab ? (size_t)(tab - line) : len;
    char *sentence = trimmed_dup(line, head);
    char *emotion = tab ? trimmed_dup(tab + 1, len - head - 1) : NULL;
    if (!sentence || (tab && !emotion)) {
        free(sentence);
        free(emotion);
        return PB_ERR_NOMEM;
    }
    if (emotion && !*emotion) {
        free(emotion);
        emotion = NULL;
    }
    s->sentence[s->n] = sentence;
    s->emotion[s->n++] = emotion;
    return *sentence ? PB_OK : PB_ERR_INVALID;
}

pb_status scenarios_load(const char *path, struct scenarios *out, char *err)
{
    char *data = NULL;
    size_t len = 0, cap = 0;
    memset(out, 0, sizeof *out);
    pb_status rc = pb_read_file(path, MAX_SCENARIO_BYTES, &data, &len, err);
    if (rc != PB_OK)
        return rc;
    if (!text_utf8_valid(data, len) || strlen(data) != len) {
        rc = pb_errf(err, PB_ERR_INVALID, "%s: not UTF-8 text", path);
        goto cleanup;
    }
    hash_sha256_hex(data, len, out->sha256);
    long lineno = 0;
    for (char *p = data; rc == PB_OK && p < data + len;) {
        char *nl = memchr(p, '\n', (size_t)(data + len - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(data + len - p);
        lineno++;
        size_t k = 0;
        while (k < n && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r'))
            k++;
        if (k < n && p[k] != '#') {
            rc = scenario_add(out, p, n, &cap);
            if (rc == PB_ERR_INVALID)
                pb_errf(err, rc, "%s line %ld: the sentence before the tab is empty", path, lineno);
            else if (rc != PB_OK)
                pb_errf(err, rc, "out of memory");
        }
        p += n + 1;
    }
    if (rc == PB_OK && out->n == 0)
        rc = pb_errf(err, PB_ERR_INVALID, "%s holds no scenarios (one sentence per line)", path);
cleanup:
    free(data);
    if (rc != PB_OK)
        scenarios_free(out);
    return rc;
}
