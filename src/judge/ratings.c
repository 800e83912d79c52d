/* ratings.c — JSONL ratings reader: per-line JSON parsing with jansson, UTF-8 and level
 * checks, skip-or-refuse policy. Owns the loaded items; it does not interpret the texts. */
#include "judge/ratings.h"

#include "base/text.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double levels[RATINGS_LEVELS] = {-1.0, -0.5, 0.0, 0.5, 1.0};

int ratings_level_index(double v)
{
    for (int i = 0; i < RATINGS_LEVELS; i++)
        if (v == levels[i])
            return i;
    return -1;
}

double ratings_level_value(int index)
{
    return index >= 0 && index < RATINGS_LEVELS ? levels[index] : NAN;
}

void ratings_free(struct ratings_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->items[i].text);
        free(s->items[i].reason);
    }
    free(s->items);
    for (size_t i = 0; i < s->n_problems; i++)
        free(s->problems[i]);
    memset(s, 0, sizeof *s);
}

/* Checks one line and, when it is good, returns its text (caller frees) and rate. The
 * message in err names the field at fault; the caller adds the line number. */
static pb_status parse_line(const char *line, size_t len, char **text, double *rate, char **reason,
                            char *err)
{
    json_error_t jerr;
    json_t *root = NULL;
    pb_status rc = PB_OK;
    *text = *reason = NULL;
    if (!text_utf8_valid(line, len))
        return pb_errf(err, PB_ERR_INVALID, "not valid UTF-8");
    root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return pb_errf(err, PB_ERR_INVALID, "invalid JSON (%s)", jerr.text);
    if (!json_is_object(root)) {
        rc = pb_errf(err, PB_ERR_INVALID, "expected a JSON object");
        goto cleanup;
    }
    json_t *t = json_object_get(root, "caption");
    if (!t)
        t = json_object_get(root, "text");
    if (!json_is_string(t) || json_string_length(t) == 0) {
        rc = pb_errf(err, PB_ERR_INVALID, "needs a non-empty \"caption\" or \"text\" string");
        goto cleanup;
    }
    if (strlen(json_string_value(t)) != json_string_length(t)) {
        rc = pb_errf(err, PB_ERR_INVALID, "text contains a NUL character");
        goto cleanup;
    }
    json_t *r = json_object_get(root, "rate");
    if (!r) {
        rc = pb_errf(err, PB_ERR_INVALID, "missing \"rate\"");
        goto cleanup;
    }
    if (!json_is_number(r) || ratings_level_index(json_number_value(r)) < 0) {
        char *shown = json_dumps(r, JSON_ENCODE_ANY);
        rc = pb_errf(err, PB_ERR_INVALID, "rate must be one of -1, -0.5, 0, 0.5, 1; got %.40s",
                     shown ? shown : "?");
        free(shown);
        goto cleanup;
    }
    json_t *why = json_object_get(root, "reason");
    if (why && !json_is_string(why) && !json_is_null(why)) {
        rc = pb_errf(err, PB_ERR_INVALID, "\"reason\" must be a string");
        goto cleanup;
    }
    *rate = json_number_value(r);
    *text = strdup(json_string_value(t));
    if (json_is_string(why) && json_string_length(why) > 0 &&
        strlen(json_string_value(why)) == json_string_length(why))
        *reason = strdup(json_string_value(why));
    if (!*text || (json_is_string(why) && json_string_length(why) > 0 && !*reason)) {
        free(*text);
        free(*reason);
        *text = *reason = NULL;
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
cleanup:
    json_decref(root);
    return rc;
}

static pb_status append_item(struct ratings_set *s, size_t *cap, char *text, double rate, long line,
                             char *reason)
{
    if (s->n == *cap) {
        size_t ncap = *cap ? 2 * *cap : 64;
        struct ratings_item *p = realloc(s->items, ncap * sizeof *p);
        if (!p)
            return PB_ERR_NOMEM;
        s->items = p;
        *cap = ncap;
    }
    s->items[s->n++] = (struct ratings_item){text, rate, line, reason};
    return PB_OK;
}

static int is_blank(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return 0;
    return 1;
}

pb_status ratings_parse(const char *data, size_t len, const char *name, int skip_bad,
                        struct ratings_set *out, char *err)
{
    size_t cap = 0, pos = 0;
    long lineno = 0;
    pb_status rc = PB_OK;
    memset(out, 0, sizeof *out);
    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len;
        const char *line = data + pos;
        size_t llen = end - pos;
        pos = end + 1;
        lineno++;
        if (is_blank(line, llen))
            continue;
        char msg[PB_ERR_LEN], *text = NULL, *reason = NULL;
        double rate = 0;
        rc = parse_line(line, llen, &text, &rate, &reason, msg);
        if (rc == PB_ERR_NOMEM)
            goto fail;
        if (rc != PB_OK) {
            if (!skip_bad) {
                pb_errf(err, rc, "%s line %ld: %s", name, lineno, msg);
                goto fail;
            }
            char full[PB_ERR_LEN + 64];
            snprintf(full, sizeof full, "%s line %ld: %s", name, lineno, msg);
            out->skipped++;
            if (out->n_problems < RATINGS_MAX_PROBLEMS &&
                (out->problems[out->n_problems] = strdup(full)) != NULL)
                out->n_problems++;
            rc = PB_OK;
            continue;
        }
        if (append_item(out, &cap, text, rate, lineno, reason) != PB_OK) {
            free(text);
            free(reason);
            rc = PB_ERR_NOMEM;
            goto fail;
        }
    }
    return PB_OK;
fail:
    if (rc == PB_ERR_NOMEM)
        pb_errf(err, rc, "out of memory reading %s", name);
    ratings_free(out);
    return rc;
}

pb_status ratings_load(const char *path, int skip_bad, struct ratings_set *out, char *err)
{
    char *data = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    pb_status rc = pb_read_file(path, (size_t)256 << 20, &data, &len, err);
    if (rc != PB_OK)
        return rc;
    rc = ratings_parse(data, len, path, skip_bad, out, err);
    free(data);
    return rc;
}
