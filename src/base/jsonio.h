/* jsonio.h — JSON request bodies in, the standard error body out. Parsing checks UTF-8 first,
 * refuses duplicate keys and anything but an object; typed field getters give messages a
 * client can act on ("field 'value' must be a number in [-1, 1]"). Unknown fields are refused
 * by jsonio_check_fields, which every handler calls with its field list (a typo in an optional
 * field such as event_id must not be silently ignored). Pure: no I/O, no HTTP. */
#ifndef JSONIO_H
#define JSONIO_H

#include "base/pb.h"
#include <jansson.h>
#include <stddef.h>

/* Parses body[0..len) as one JSON object into *out (caller decrefs). PB_ERR_INVALID with
 * "body is not valid UTF-8", "body is empty", "invalid JSON at line L, column C: ...", or
 * "body must be a JSON object". */
pb_status jsonio_parse_object(const char *body, size_t len, json_t **out, char *err);

/* PB_ERR_INVALID naming the first field of obj that is not in allowed[0..n). */
pb_status jsonio_check_fields(const json_t *obj, const char *const *allowed, size_t n, char *err);

/* Typed getters. A missing field (or JSON null) leaves *out unchanged and is PB_OK unless
 * required ("missing field 'user_id'"); a present field of the wrong type or out of range is
 * PB_ERR_INVALID. Strings are borrowed from obj and must be non-empty when required. */
pb_status jsonio_string(const json_t *obj, const char *field, int required, const char **out,
                        char *err);
pb_status jsonio_number(const json_t *obj, const char *field, int required, double min, double max,
                        double *out, char *err);
pb_status jsonio_integer(const json_t *obj, const char *field, int required, long long min,
                         long long max, long long *out, char *err);
pb_status jsonio_bool(const json_t *obj, const char *field, int required, int *out, char *err);

/* {"error":{"code":code,"message":message}} as a new reference (NULL when out of memory). */
json_t *jsonio_error_body(const char *code, const char *message);

/* JSON text built by appending, for the few hot replies where building a json_t tree and
 * dumping it costs more than the work the reply reports (POST /v1/choose). Appends never fail
 * visibly: out of memory sets failed, and jsonio_buf_take then gives NULL. Start from
 * (struct jsonio_buf){0}; free data with free() (jsonio_buf_take hands it over). */
struct jsonio_buf {
    struct pb_buf text;
    int failed;
};
void jsonio_buf_raw(struct jsonio_buf *b, const char *text, size_t len); /* copied as it is */
void jsonio_buf_lit(struct jsonio_buf *b, const char *text);             /* NUL-terminated */
/* A JSON string literal of s, which must be valid UTF-8 (checked by the caller: prompts and
 * names are checked when stored); NULL gives null. */
void jsonio_buf_str(struct jsonio_buf *b, const char *s);
void jsonio_buf_int(struct jsonio_buf *b, long long v);
/* A finite number: integral values of magnitude under 2^53 as integers, others with `digits`
 * significant digits (%.*g); NaN and infinities, which JSON cannot carry, as null. */
void jsonio_buf_real(struct jsonio_buf *b, double v, int digits);
/* The NUL-terminated text (length in *len when len is not NULL), or NULL when an append
 * failed; either way b is empty afterwards. */
char *jsonio_buf_take(struct jsonio_buf *b, size_t *len);

#endif
