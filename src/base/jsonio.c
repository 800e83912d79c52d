/* jsonio.c — request-body parsing, typed field getters and the error body (jansson only). */
#include "base/jsonio.h"

#include "base/pb.h"
#include "base/text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

pb_status jsonio_parse_object(const char *body, size_t len, json_t **out, char *err)
{
    *out = NULL;
    if (!text_utf8_valid(body ? body : "", len))
        return pb_errf(err, PB_ERR_INVALID, "body is not valid UTF-8");
    if (!body || len == 0)
        return pb_errf(err, PB_ERR_INVALID, "body is empty; expected a JSON object");
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return pb_errf(err, PB_ERR_INVALID, "invalid JSON at line %d, column %d: %s", jerr.line,
                       jerr.column, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return pb_errf(err, PB_ERR_INVALID, "body must be a JSON object");
    }
    *out = root;
    return PB_OK;
}

pb_status jsonio_check_fields(const json_t *obj, const char *const *allowed, size_t n, char *err)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value)
    {
        size_t i = 0;
        while (i < n && strcmp(key, allowed[i]) != 0)
            i++;
        if (i == n) /* cut long names at a character boundary: the message must stay UTF-8 */
            return pb_errf(err, PB_ERR_INVALID, "unknown field '%.*s'",
                           (int)text_utf8_prefix(key, strlen(key), 64), key);
    }
    return PB_OK;
}

/* The field's value, NULL when absent or null; PB_ERR_INVALID when required and absent. */
static pb_status field(const json_t *obj, const char *name, int required, json_t **out, char *err)
{
    *out = json_object_get(obj, name);
    if (*out && json_is_null(*out))
        *out = NULL;
    if (!*out && required)
        return pb_errf(err, PB_ERR_INVALID, "missing field '%s'", name);
    return PB_OK;
}

pb_status jsonio_string(const json_t *obj, const char *name, int required, const char **out,
                        char *err)
{
    json_t *v;
    pb_status rc = field(obj, name, required, &v, err);
    if (rc != PB_OK || !v)
        return rc;
    if (!json_is_string(v))
        return pb_errf(err, PB_ERR_INVALID, "field '%s' must be a string", name);
    if (required && json_string_length(v) == 0)
        return pb_errf(err, PB_ERR_INVALID, "field '%s' must not be empty", name);
    *out = json_string_value(v);
    return PB_OK;
}

pb_status jsonio_number(const json_t *obj, const char *name, int required, double min, double max,
                        double *out, char *err)
{
    json_t *v;
    pb_status rc = field(obj, name, required, &v, err);
    if (rc != PB_OK || !v)
        return rc;
    double d = json_is_number(v) ? json_number_value(v) : NAN;
    if (!(d >= min && d <= max))
        return pb_errf(err, PB_ERR_INVALID, "field '%s' must be a number in [%g, %g]", name, min,
                       max);
    *out = d;
    return PB_OK;
}

pb_status jsonio_integer(const json_t *obj, const char *name, int required, long long min,
                         long long max, long long *out, char *err)
{
    json_t *v;
    pb_status rc = field(obj, name, required, &v, err);
    if (rc != PB_OK || !v)
        return rc;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return pb_errf(err, PB_ERR_INVALID, "field '%s' must be a whole number in [%lld, %lld]",
                       name, min, max);
    *out = json_integer_value(v);
    return PB_OK;
}

pb_status jsonio_bool(const json_t *obj, const char *name, int required, int *out, char *err)
{
    json_t *v;
    pb_status rc = field(obj, name, required, &v, err);
    if (rc != PB_OK || !v)
        return rc;
    if (!json_is_boolean(v))
        return pb_errf(err, PB_ERR_INVALID, "field '%s' must be true or false", name);
    *out = json_is_true(v);
    return PB_OK;
}

json_t *jsonio_error_body(const char *code, const char *message)
{
    return json_pack("{s:{s:s,s:s}}", "error", "code", code ? code : "error", "message",
                     message ? message : "");
}

/* ---- JSON text by appending ------------------------------------------------------------- */

void jsonio_buf_raw(struct jsonio_buf *b, const char *text, size_t len)
{
    if (!b->failed && pb_buf_append(&b->text, text, len) != PB_OK)
        b->failed = 1;
}

void jsonio_buf_lit(struct jsonio_buf *b, const char *text)
{
    jsonio_buf_raw(b, text, strlen(text));
}

void jsonio_buf_str(struct jsonio_buf *b, const char *s)
{
    if (!s) {
        jsonio_buf_lit(b, "null");
        return;
    }
    jsonio_buf_raw(b, "\"", 1);
    const char *run = s; /* bytes that pass through as they are: ASCII and UTF-8 sequences */
    for (const char *p = s;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        jsonio_buf_raw(b, run, (size_t)(p - run));
        if (!c)
            break;
        char esc[8] = {'\\', (char)c, 0};
        if (c == '\n' || c == '\t' || c == '\r')
            esc[1] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
        else if (c < 0x20)
            snprintf(esc, sizeof esc, "\\u%04x", c);
        jsonio_buf_lit(b, esc);
        run = p + 1;
    }
    jsonio_buf_raw(b, "\"", 1);
}

void jsonio_buf_int(struct jsonio_buf *b, long long v)
{
    char tmp[24], *p = tmp + sizeof tmp;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do
        *--p = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (v < 0)
        *--p = '-';
    jsonio_buf_raw(b, p, (size_t)(tmp + sizeof tmp - p));
}

void jsonio_buf_real(struct jsonio_buf *b, double v, int digits)
{
    if (!isfinite(v)) {
        jsonio_buf_lit(b, "null");
        return;
    }
    if (v == floor(v) && fabs(v) < 9007199254740992.0) { /* 2^53: exact as an integer */
        jsonio_buf_int(b, (long long)v);
        return;
    }
    char tmp[40];
    int n = snprintf(tmp, sizeof tmp, "%.*g", digits, v);
    if (n > 0 && (size_t)n < sizeof tmp)
        jsonio_buf_raw(b, tmp, (size_t)n);
    else
        b->failed = 1;
}

char *jsonio_buf_take(struct jsonio_buf *b, size_t *len)
{
    if (!b->failed && !b->text.data)
        jsonio_buf_raw(b, "", 0); /* nothing appended: "" */
    char *data = b->failed ? NULL : b->text.data;
    if (!data)
        pb_buf_free(&b->text);
    if (len)
        *len = data ? b->text.len : 0;
    *b = (struct jsonio_buf){0};
    return data;
}
