/* jsonio.c — request-body parsing, typed field getters and the error body (jansson only). */
#include "base/jsonio.h"

#include "base/pb.h"
#include "base/text.h"

#include <math.h>
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
