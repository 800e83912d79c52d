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

#endif
