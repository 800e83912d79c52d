/* test_http_parts.c — the server's pure helpers as tables: path-pattern matching, bearer
 * tokens and who may act as whom, JSON field getters and their messages, content types. */
#include "check.h"
#include "http/httpauth.h"
#include "base/jsonio.h"
#include "base/pb.h"
#include "http/route.h"
#include "http/server.h"
#include "http/webpages.h"

static const struct {
    const char *pattern, *path;
    int match;
    const char *first_param; /* "name=value" of the first {param}, or NULL */
} route_cases[] = {
    {"/", "/", 1, NULL},
    {"/healthz", "/healthz", 1, NULL},
    {"/healthz", "/healthz/", 0, NULL},
    {"/healthz", "/health", 0, NULL},
    {"/v1/chat/{impression_id}/regenerate", "/v1/chat/17/regenerate", 1, "impression_id=17"},
    {"/v1/chat/{impression_id}/regenerate", "/v1/chat//regenerate", 0, NULL},
    {"/v1/chat/{impression_id}/regenerate", "/v1/chat/17", 0, NULL},
    {"/v1/users/{user_id}", "/v1/users/안녕", 1, "user_id=안녕"},
    {"/static/{name}", "/static/a/b.js", 0, NULL},
    {"/a/{x}/{y}", "/a/1/2", 1, "x=1"},
};

static void test_route_patterns_match_segment_by_segment(void)
{
    for (size_t i = 0; i < sizeof route_cases / sizeof route_cases[0]; i++) {
        struct route_params p;
        int got = route_match(route_cases[i].pattern, route_cases[i].path, &p);
        if (got != route_cases[i].match)
            fprintf(stderr, "route case %zu\n", i);
        CHECK_INT(got, route_cases[i].match);
        if (got && route_cases[i].first_param) {
            char kv[128];
            snprintf(kv, sizeof kv, "%.*s=%.*s", (int)p.name_lens[0], p.names[0],
                     (int)p.value_lens[0], p.values[0]);
            CHECK_STR(kv, route_cases[i].first_param);
        }
    }
    CHECK(route_method_allows("GET", "HEAD"));
    CHECK(!route_method_allows("POST", "HEAD"));
}

/* token presented (NULL = none), user to act as (NULL = any), open chat, expected. */
static const struct {
    const char *token, *user;
    int open, rc;
} auth_cases[] = {
    {NULL, "alice", 1, PB_OK},           {NULL, "alice", 0, PB_ERR_FORBIDDEN},
    {"ta", "alice", 0, PB_OK},           {"ta", "bob", 0, PB_ERR_FORBIDDEN},
    {"ta", "bob", 1, PB_ERR_FORBIDDEN}, /* a wrong token is never ignored, even when open */
    {"nope", NULL, 1, PB_ERR_FORBIDDEN}, {"ta", NULL, 0, PB_OK},
    {"zq9secret", "bob", 0, PB_OK},      {"tb:x", "bob", 0, PB_OK}, /* tokens may contain ':' */
};

static void test_user_auth_table(void)
{
    char err[PB_ERR_LEN];
    httpauth *a = NULL;
    CHECK_INT(httpauth_new("zq9secret", " alice:ta , bob:tb:x ", &a, err), PB_OK);
    for (size_t i = 0; i < sizeof auth_cases / sizeof auth_cases[0]; i++) {
        int rc = httpauth_check_user(a, auth_cases[i].token, auth_cases[i].user, auth_cases[i].open,
                                     err);
        if (rc != auth_cases[i].rc)
            fprintf(stderr, "auth case %zu\n", i);
        CHECK_INT(rc, auth_cases[i].rc);
    }
    CHECK_STR(httpauth_user_of(a, "tb:x"), "bob");
    CHECK(httpauth_user_of(a, "zq9secret") == NULL);
    CHECK_INT(httpauth_check_admin(a, "zq9secret", err), PB_OK);
    CHECK_INT(httpauth_check_admin(a, "ta", err), PB_ERR_FORBIDDEN);
    CHECK(strstr(err, "zq9") == NULL &&
          strstr(err, "ta") == NULL); /* messages never contain a token */
    httpauth_free(a);
    CHECK_INT(httpauth_new("", "", &a, err), PB_OK);
    CHECK_INT(httpauth_check_admin(a, "", err), PB_ERR_FORBIDDEN); /* admin off when unset */
    CHECK_INT(httpauth_check_admin(a, "x", err), PB_ERR_FORBIDDEN);
    httpauth_free(a);
    CHECK_INT(httpauth_new("", "alice", &a, err), PB_ERR_INVALID);
    CHECK_INT(httpauth_new("", "alice:ta,:tb", &a, err), PB_ERR_INVALID);
    CHECK_STR(httpauth_bearer("Bearer  abc"), "abc");
    CHECK_STR(httpauth_bearer("bearer abc"), "abc");
    CHECK(httpauth_bearer("Basic abc") == NULL);
    CHECK(httpauth_bearer("Bearer ") == NULL);
}

/* Getter cases over one body: field, kind, required, expected rc, message. */
static const struct {
    const char *field;
    char kind; /* s string, n number in [-1,1], i integer in [1,1e9], b bool */
    int required, rc;
    const char *message;
} field_cases[] = {
    {"message", 's', 1, PB_OK, NULL},
    {"empty", 's', 1, PB_ERR_INVALID, "field 'empty' must not be empty"},
    {"user_id", 's', 1, PB_ERR_INVALID, "missing field 'user_id'"},
    {"user_id", 's', 0, PB_OK, NULL},
    {"nothing", 's', 1, PB_ERR_INVALID, "missing field 'nothing'"}, /* null = absent */
    {"value", 'n', 1, PB_ERR_INVALID, "field 'value' must be a number in [-1, 1]"},
    {"half", 'n', 1, PB_OK, NULL},
    {"message", 'n', 1, PB_ERR_INVALID, "field 'message' must be a number in [-1, 1]"},
    {"id", 'i', 1, PB_OK, NULL},
    {"half", 'i', 1, PB_ERR_INVALID, "field 'half' must be a whole number in [1, 1000000000]"},
    {"consent", 'b', 1, PB_OK, NULL},
    {"id", 'b', 1, PB_ERR_INVALID, "field 'id' must be true or false"},
};

static void test_json_field_getters_table(void)
{
    const char *body = "{\"message\":\"hi\",\"empty\":\"\",\"nothing\":null,\"value\":2,"
                       "\"half\":0.5,\"id\":17,\"consent\":true}";
    char err[PB_ERR_LEN];
    json_t *obj = NULL;
    CHECK_INT(jsonio_parse_object(body, strlen(body), &obj, err), PB_OK);
    for (size_t i = 0; i < sizeof field_cases / sizeof field_cases[0]; i++) {
        const char *s;
        double d;
        long long n;
        int b, rc = PB_OK;
        err[0] = '\0';
        switch (field_cases[i].kind) {
        case 's':
            rc = jsonio_string(obj, field_cases[i].field, field_cases[i].required, &s, err);
            break;
        case 'n':
            rc = jsonio_number(obj, field_cases[i].field, field_cases[i].required, -1, 1, &d, err);
            break;
        case 'i':
            rc = jsonio_integer(obj, field_cases[i].field, field_cases[i].required, 1, 1000000000,
                                &n, err);
            break;
        default:
            rc = jsonio_bool(obj, field_cases[i].field, field_cases[i].required, &b, err);
        }
        if (rc != field_cases[i].rc)
            fprintf(stderr, "field case %zu: %s\n", i, err);
        CHECK_INT(rc, field_cases[i].rc);
        if (field_cases[i].message)
            CHECK_STR(err, field_cases[i].message);
    }
    const char *allowed[] = {"message", "empty", "nothing", "value", "half", "id"};
    CHECK_INT(jsonio_check_fields(obj, allowed, 6, err), PB_ERR_INVALID);
    CHECK_STR(err, "unknown field 'consent'");
    json_decref(obj);
    json_t *e = jsonio_error_body("invalid", "bad");
    char *text = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK_STR(text, "{\"error\":{\"code\":\"invalid\",\"message\":\"bad\"}}");
    free(text);
    json_decref(e);
}

static void test_content_types_by_extension(void)
{
    CHECK_STR(webpages_content_type("web/index.html"), "text/html; charset=utf-8");
    CHECK_STR(webpages_content_type("web/app.JS"), "text/javascript; charset=utf-8");
    CHECK_STR(webpages_content_type("web/chart.svg"), "image/svg+xml");
    CHECK_STR(webpages_content_type("web/README"), "application/octet-stream");
}

int main(void)
{
    RUN(test_route_patterns_match_segment_by_segment);
    RUN(test_user_auth_table);
    RUN(test_json_field_getters_table);
    RUN(test_content_types_by_extension);
    CHECK_DONE();
}
