/* e2e_service_bad.c — every bad request in tests/fixtures/api/bad_requests.tsv (method, path,
 * auth, body, expected status, expected error code) is refused with the standard error body
 * and stores nothing: the database's row counts are compared before and after each case.
 * "\xHH" in a body stands for that byte (to send invalid UTF-8). */
#include "svc_harness.h"

static size_t unescape(const char *in, char *out)
{
    size_t n = 0;
    for (const char *p = in; *p; p++) {
        unsigned v;
        if (p[0] == '\\' && p[1] == 'x' && sscanf(p + 2, "%2x", &v) == 1) {
            out[n++] = (char)v;
            p += 3;
        } else {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
    return n;
}

static int same_counts(struct store_counts a, struct store_counts b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static void run_case(const struct svc *s, char **f, int line)
{
    char url[1024], body[4096];
    json_t *out = NULL;
    const char *token = !strcmp(f[2], "-") ? NULL : !strcmp(f[2], "admin") ? "admintok" : f[2];
    unescape(f[3], body);
    snprintf(url, sizeof url, "%s%s", s->url, f[1]);
    struct store_counts before = svc_counts(s);
    int status = svc_http(f[0], url, token, *f[3] ? body : NULL, &out);
    const char *code = svc_str(json_object_get(out, "error"), "code");
    const char *msg = svc_str(json_object_get(out, "error"), "message");
    if (status != atoi(f[4]) || !code || strcmp(code, f[5]) != 0 || !msg || !*msg ||
        !same_counts(before, svc_counts(s))) {
        fprintf(stderr, "bad_requests.tsv line %d (%s): got %d %s (%s), expected %s %s\n", line,
                f[6], status, code ? code : "-", msg ? msg : "-", f[4], f[5]);
        check_failures++;
    }
    json_decref(out);
}

static void test_bad_requests_are_refused_and_store_nothing(void)
{
    struct svc s;
    const char *const settings[] = {"server.admin_token", "admintok", "chat.max_message_chars",
                                    "200", NULL};
    char line[8192];
    int n = 0, cases = 0;
    svc_start(&s, settings);
    json_t *first = NULL; /* impression 1, owned by u1 */
    CHECK_INT(svc_post(&s, "/v1/chat", NULL, "{\"user_id\":\"u1\",\"message\":\"안녕\"}", &first),
              200);
    CHECK_INT(svc_int(first, "impression_id"), 1);
    FILE *f = fopen(check_source_path("tests/fixtures/api/bad_requests.tsv"), "r");
    CHECK(f != NULL);
    while (f && fgets(line, sizeof line, f)) {
        char *fields[7] = {0}, *p = line;
        size_t k = 0;
        n++;
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || !line[0])
            continue;
        for (; k < 7 && p; k++) {
            fields[k] = p;
            if ((p = strchr(p, '\t')))
                *p++ = '\0';
        }
        if (k != 7) {
            fprintf(stderr, "bad_requests.tsv line %d: expected 7 fields\n", n);
            check_failures++;
            continue;
        }
        run_case(&s, fields, n);
        cases++;
    }
    if (f)
        fclose(f);
    CHECK(cases >= 40);
    json_decref(first);
    svc_stop(&s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    svc_fake_start();
    RUN(test_bad_requests_are_refused_and_store_nothing);
    svc_fake_stop();
    curl_global_cleanup();
    CHECK_DONE();
}
