/* pgsql.c — SQL text and URLs for PostgreSQL: SQLite's placeholders rewritten to $N (quoted
 * strings, quoted names and comments skipped), postgresql:// URLs recognised and their
 * passwords hidden. */
#include "store/pgsql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- URLs ---- */

bool pgsql_is_url(const char *s)
{
    return s && (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0);
}

void pgsql_url_redact(const char *url, char *out, size_t len)
{
    if (!len)
        return;
    out[0] = '\0';
    const char *scheme_end = strstr(url, "://");
    const char *rest = scheme_end ? scheme_end + 3 : url;
    const char *at = strchr(rest, '@');
    const char *slash = strchr(rest, '/');
    const char *colon = strchr(rest, ':');
    /* user:password@host... — the password lies between the first ':' and the '@'. */
    if (at && colon && colon < at && (!slash || at < slash))
        snprintf(out, len, "%.*s:***%s", (int)(colon - url), url, at);
    else
        snprintf(out, len, "%s", url);
    /* ...?password=secret&... (also when the copy was cut short) */
    char *p = strstr(out, "password=");
    if (p) {
        char *end = strchr(p, '&');
        char tail[256];
        snprintf(tail, sizeof tail, "%s", end ? end : "");
        snprintf(p, len - (size_t)(p - out), "password=***%s", tail);
    }
}

/* ---- placeholders ---- */

/* Copies a quoted span starting at s[0] (the quote q) through its closing quote; a doubled
 * quote inside is part of the span. Returns the length copied. */
static size_t quoted_span(const char *s, char q)
{
    size_t i = 1;
    for (;;) {
        if (!s[i])
            return i;
        if (s[i] == q) {
            if (s[i + 1] == q) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i++;
    }
}

/* Length of the comment at s ("--" to the end of the line, or a C-style comment), or 0. */
static size_t comment_span(const char *s)
{
    if (s[0] == '-' && s[1] == '-')
        return strcspn(s, "\n");
    if (s[0] == '/' && s[1] == '*') {
        const char *end = strstr(s + 2, "*/");
        return end ? (size_t)(end + 2 - s) : strlen(s);
    }
    return 0;
}

pb_status pgsql_translate(const char *sql, char **out, int *nparams, char *err)
{
    struct pb_buf b = {0};
    int max = 0;
    pb_status rc = PB_OK;
    *out = NULL;
    const char *p = sql;
    while (*p && rc == PB_OK) {
        size_t span = 0;
        if (*p == '\'' || *p == '"')
            span = quoted_span(p, *p);
        else
            span = comment_span(p);
        if (span) {
            rc = pb_buf_append(&b, p, span);
            p += span;
            continue;
        }
        if (*p != '?') {
            size_t plain = strcspn(p, "?'\"-/");
            if (plain == 0)
                plain = 1; /* a lone '-' or '/' */
            rc = pb_buf_append(&b, p, plain);
            p += plain;
            continue;
        }
        long n;
        char *end;
        if (p[1] >= '0' && p[1] <= '9') {
            n = strtol(p + 1, &end, 10);
            if (n < 1 || n > PGSQL_MAX_PARAMS) {
                rc = pb_errf(err, PB_ERR_INVALID, "placeholder ?%ld: numbers run from 1 to %d", n,
                             PGSQL_MAX_PARAMS);
                break;
            }
        } else {
            n = max + 1;
            end = (char *)p + 1;
        }
        if (n > max)
            max = (int)n;
        char num[16];
        int len = snprintf(num, sizeof num, "$%ld", n);
        rc = pb_buf_append(&b, num, (size_t)len);
        p = end;
    }
    if (rc == PB_OK && !b.data)
        rc = pb_buf_append(&b, "", 0);
    if (rc != PB_OK) {
        pb_buf_free(&b);
        return rc == PB_ERR_NOMEM ? pb_errf(err, rc, "out of memory") : rc;
    }
    *out = b.data;
    *nparams = max;
    return PB_OK;
}
