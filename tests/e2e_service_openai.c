/* e2e_service_openai.c — the OpenAI-compatible endpoint in process against fake-llm: GET
 * /v1/models; a completion's wire format (id chatcmpl-pb-N = the impression, the headers, the
 * usage stored per impression) and the id giving working feedback; a stream's chunks (role
 * first, deltas adding up, finish reason, the usage chunk only when asked, data: [DONE]); an
 * unknown model (404 listing the models) and a bare experiment name; upstream 429 passed through
 * with its Retry-After, a quota 429 as insufficient_quota, 500 as 502, a slow provider as 504,
 * nothing stored; the system-message policies (replace, prepend, refuse) and the
 * per-experiment settings (upstream model, emotion step); stickiness by the user field and by
 * the conversation header; the client's history sent as it is; auth
 * (user token, another user's name, admin token) and the tokens per arm the dashboard reads;
 * a client gone mid-stream storing nothing; which error wins when a body has several (field,
 * then auth, then model, then messages); error messages cut between characters, never inside
 * one. */
#include "svc_harness.h"

#include "base/text.h"
#include "service/oaiapi.h"
#include "store/experiment.h"
#include "store/usage.h"

struct resp {
    int status;
    json_t *json; /* NULL when the body is not JSON */
    struct pb_buf body, headers;
    int abort_after_first; /* 1: the client leaves once the first data: line arrived */
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct resp *r = ud;
    pb_buf_append(&r->body, p, size * n);
    pb_buf_append(&r->body, "", 1); /* kept NUL-terminated for strstr */
    r->body.len--;
    if (r->abort_after_first && r->body.data && strstr(r->body.data, "data: "))
        return 0;
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct resp *r = ud;
    pb_buf_append(&r->headers, p, size * n);
    return size * n;
}

static void resp_free(struct resp *r)
{
    json_decref(r->json);
    pb_buf_free(&r->body);
    pb_buf_free(&r->headers);
}

/* A header's value (static buffer), or "" when absent. */
static const char *resp_header(const struct resp *r, const char *name)
{
    static char value[256];
    value[0] = '\0';
    size_t n = strlen(name);
    for (const char *line = r->headers.data; line && *line;) {
        const char *end = strstr(line, "\r\n");
        if (!end)
            break;
        if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            snprintf(value, sizeof value, "%.*s", (int)(end - v), v);
            break;
        }
        line = end + 2;
    }
    return value;
}

/* One request to the service; extra is one more header line (may be NULL). */
static void call(const struct svc *s, const char *method, const char *path, const char *token,
                 const char *extra, const char *body, struct resp *r)
{
    char url[512], auth[256];
    int abort_after_first = r->abort_after_first;
    memset(r, 0, sizeof *r);
    r->abort_after_first = abort_after_first;
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "Connection: close");
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    if (extra)
        h = curl_slist_append(h, extra);
    snprintf(url, sizeof url, "%s%s", s->url, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    long status = 0;
    curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    r->status = (int)status;
    pb_buf_append(&r->body, "", 1);
    pb_buf_append(&r->headers, "", 1);
    r->json = json_loads(r->body.data, 0, NULL);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

static void completion(const struct svc *s, const char *token, const char *extra, const char *body,
                       struct resp *r)
{
    call(s, "POST", "/v1/chat/completions", token, extra, body, r);
}

static const char *error_field(const json_t *j, const char *field)
{
    return json_string_value(json_object_get(json_object_get(j, "error"), field));
}

static const char *reply_text(const json_t *j)
{
    const json_t *choice = json_array_get(json_object_get(j, "choices"), 0);
    return json_string_value(json_object_get(json_object_get(choice, "message"), "content"));
}

static long long pb_field(const json_t *j, const char *field)
{
    return (long long)json_integer_value(
        json_object_get(json_object_get(j, "promptbandit"), field));
}

/* The body the fake received last (a new reference), or NULL. */
static json_t *last_upstream(void)
{
    json_t *all = svc_fake_requests();
    json_t *reqs = json_object_get(all, "requests");
    json_t *last = json_array_get(reqs, json_array_size(reqs) - 1);
    json_t *body = json_incref(json_object_get(last, "body"));
    json_decref(all);
    return body;
}

static size_t upstream_count(void)
{
    json_t *all = svc_fake_requests();
    size_t n = json_array_size(json_object_get(all, "requests"));
    json_decref(all);
    return n;
}

static const char *upstream_content(const json_t *body, size_t i)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(body, "messages"), i), "content"));
}

/* Sums of the stored usage over the default experiment's arms. */
static void stored_usage(const struct svc *s, long long *turns, long long *prompt,
                         long long *completion_tokens)
{
    char err[PB_ERR_LEN];
    store *st = NULL;
    struct store_experiment e = {0};
    struct usage_arm *arms = NULL;
    size_t n = 0;
    *turns = *prompt = *completion_tokens = 0;
    svc_flush(s);
    CHECK(store_open(s->db, NULL, &st, err) == PB_OK);
    CHECK(store_experiment_get(st, "default", &e, err) == PB_OK);
    CHECK(usage_per_arm(st, e.id, &arms, &n, err) == PB_OK);
    for (size_t i = 0; i < n; i++) {
        *turns += arms[i].turns;
        *prompt += arms[i].prompt_tokens;
        *completion_tokens += arms[i].completion_tokens;
    }
    free(arms);
    store_experiment_clear(&e);
    store_close(st);
}

static void test_models_lists_live_experiments(void)
{
    struct svc s;
    struct resp r = {0};
    svc_start(&s, NULL);
    call(&s, "GET", "/v1/models", NULL, NULL, NULL, &r);
    CHECK_INT(r.status, 200);
    CHECK_STR(svc_str(r.json, "object"), "list");
    json_t *first = json_array_get(json_object_get(r.json, "data"), 0);
    CHECK_STR(svc_str(first, "id"), "promptbandit/default");
    CHECK_STR(svc_str(first, "object"), "model");
    resp_free(&r);
    svc_stop(&s);
}

static void test_completion_wire_usage_and_feedback(void)
{
    struct svc s;
    struct resp r = {0}, fb = {0};
    svc_start(&s, NULL);
    svc_fake_reset();
    completion(&s, NULL, NULL,
               "{\"model\":\"promptbandit/default\",\"user\":\"ann\",\"messages\":[{\"role\":"
               "\"user\",\"content\":\"오늘 너무 힘들었어\"}]}",
               &r);
    CHECK_INT(r.status, 200);
    CHECK_STR(svc_str(r.json, "object"), "chat.completion");
    CHECK_STR(svc_str(r.json, "model"), "promptbandit/default");
    long long imp = pb_field(r.json, "impression_id");
    char want[64];
    snprintf(want, sizeof want, "chatcmpl-pb-%lld", imp);
    CHECK(imp > 0);
    CHECK_STR(svc_str(r.json, "id"), want);
    CHECK_INT(atoll(resp_header(&r, "X-Promptbandit-Impression")), (int)imp);
    CHECK_STR(resp_header(&r, "X-Promptbandit-Arm"),
              svc_str(json_object_get(r.json, "promptbandit"), "arm"));
    const json_t *choice = json_array_get(json_object_get(r.json, "choices"), 0);
    CHECK_STR(svc_str(choice, "finish_reason"), "stop");
    CHECK_STR(svc_str(json_object_get(choice, "message"), "role"), "assistant");
    CHECK(reply_text(r.json) && strlen(reply_text(r.json)) > 0);
    const json_t *usage = json_object_get(r.json, "usage");
    long long pt = svc_int(usage, "prompt_tokens"), ct = svc_int(usage, "completion_tokens");
    CHECK(pt > 0 && ct > 0);
    CHECK_INT((int)svc_int(usage, "total_tokens"), (int)(pt + ct));
    /* Upstream: llm.model, the arm's prompt as the one system message, the message as sent
     * (openai.emotion is off by default: no " ;; emotion"). */
    json_t *up = last_upstream();
    CHECK_STR(svc_str(up, "model"), "gpt-4o-mini");
    CHECK_INT((int)json_array_size(json_object_get(up, "messages")), 2);
    CHECK_STR(upstream_content(up, 1), "오늘 너무 힘들었어");
    json_decref(up);
    /* The usage is stored with the impression. */
    long long turns, sp, sc;
    stored_usage(&s, &turns, &sp, &sc);
    CHECK_INT((int)turns, 1);
    CHECK_INT((int)sp, (int)pt);
    CHECK_INT((int)sc, (int)ct);
    /* The id, as it comes, gives feedback on that impression. */
    char body[200];
    snprintf(body, sizeof body, "{\"user_id\":\"ann\",\"impression_id\":\"%s\",\"kind\":\"like\"}",
             want);
    call(&s, "POST", "/v1/feedback", NULL, NULL, body, &fb);
    CHECK_INT(fb.status, 200);
    CHECK_INT((int)svc_int(fb.json, "impression_id"), (int)imp);
    CHECK_STR(svc_str(fb.json, "arm"), resp_header(&r, "X-Promptbandit-Arm"));
    resp_free(&fb);
    call(&s, "POST", "/v1/feedback", NULL, NULL,
         "{\"user_id\":\"ann\",\"impression_id\":\"chatcmpl-x\",\"kind\":\"like\"}", &fb);
    CHECK_INT(fb.status, 400);
    resp_free(&fb);
    resp_free(&r);
    svc_stop(&s);
}

/* Every data: line's JSON of a stream, in order, and whether it ended with [DONE]. */
static json_t *chunks_of(const char *text, int *done)
{
    json_t *all = json_array();
    *done = 0;
    for (const char *at = text; (at = strstr(at, "data: "));) {
        at += 6;
        const char *end = strstr(at, "\n\n");
        if (!end)
            break;
        if (strncmp(at, "[DONE]", 6) == 0)
            *done = 1;
        else
            json_array_append_new(all, json_loadb(at, (size_t)(end - at), 0, NULL));
        at = end;
    }
    return all;
}

static void test_stream_chunks_usage_and_done(void)
{
    struct svc s;
    struct resp r = {0};
    svc_start(&s, NULL);
    completion(&s, NULL, NULL,
               "{\"model\":\"promptbandit/default\",\"stream\":true,\"stream_options\":{"
               "\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"잠이 "
               "안 와\"}]}",
               &r);
    CHECK_INT(r.status, 200);
    CHECK(strstr(resp_header(&r, "Content-Type"), "text/event-stream") != NULL);
    int done = 0;
    json_t *chunks = chunks_of(r.body.data, &done);
    size_t n = json_array_size(chunks);
    CHECK(done);
    CHECK(n >= 4);
    char want[64];
    snprintf(want, sizeof want, "chatcmpl-pb-%s", resp_header(&r, "X-Promptbandit-Impression"));
    struct pb_buf text = {0};
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(chunks, i);
        CHECK_STR(svc_str(c, "object"), "chat.completion.chunk");
        CHECK_STR(svc_str(c, "id"), want);
        CHECK(json_object_get(c, "usage") != NULL); /* null, or the usage in the last */
        json_t *choice = json_array_get(json_object_get(c, "choices"), 0);
        const char *t = svc_str(json_object_get(choice, "delta"), "content");
        if (t)
            pb_buf_append(&text, t, strlen(t));
    }
    pb_buf_append(&text, "", 1);
    json_t *first = json_array_get(chunks, 0);
    CHECK_STR(
        svc_str(json_object_get(json_array_get(json_object_get(first, "choices"), 0), "delta"),
                "role"),
        "assistant");
    json_t *fin = json_array_get(json_object_get(json_array_get(chunks, n - 2), "choices"), 0);
    CHECK_STR(svc_str(fin, "finish_reason"), "stop");
    json_t *last = json_array_get(chunks, n - 1);
    CHECK_INT((int)json_array_size(json_object_get(last, "choices")), 0);
    long long ct = svc_int(json_object_get(last, "usage"), "completion_tokens");
    CHECK(ct > 0);
    CHECK(strlen(text.data) > 0);
    long long turns, sp, sc;
    stored_usage(&s, &turns, &sp, &sc);
    CHECK_INT((int)turns, 1);
    CHECK_INT((int)sc, (int)ct);
    pb_buf_free(&text);
    json_decref(chunks);
    resp_free(&r);
    /* Without include_usage no chunk carries a usage field. */
    completion(&s, NULL, NULL,
               "{\"model\":\"default\",\"stream\":true,\"messages\":[{\"role\":\"user\","
               "\"content\":\"안녕\"}]}",
               &r);
    CHECK_INT(r.status, 200);
    chunks = chunks_of(r.body.data, &done);
    CHECK(done);
    CHECK(strstr(r.body.data, "\"usage\"") == NULL);
    json_decref(chunks);
    resp_free(&r);
    svc_stop(&s);
}

static void test_unknown_model_and_bad_requests(void)
{
    struct svc s;
    struct resp r = {0};
    svc_start(&s, NULL);
    size_t before = upstream_count();
    completion(&s, NULL, NULL,
               "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &r);
    CHECK_INT(r.status, 404);
    CHECK_STR(error_field(r.json, "code"), "model_not_found");
    CHECK_STR(error_field(r.json, "type"), "invalid_request_error");
    CHECK(strstr(error_field(r.json, "message"), "promptbandit/default") != NULL);
    resp_free(&r);
    completion(&s, NULL, NULL,
               "{\"model\":\"promptbandit/nope\",\"messages\":[{\"role\":\"user\",\"content\":"
               "\"hi\"}]}",
               &r);
    CHECK_INT(r.status, 404);
    resp_free(&r);
    /* The last message must be the user's; tools are refused; n must be 1. */
    static const char *const bad[] = {
        "{\"model\":\"default\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":"
        "\"assistant\",\"content\":\"yo\"}]}",
        "{\"model\":\"default\",\"messages\":[]}",
        "{\"model\":\"default\",\"tools\":[{\"type\":\"function\"}],\"messages\":[{\"role\":"
        "\"user\",\"content\":\"hi\"}]}",
        "{\"model\":\"default\",\"n\":2,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        "{\"model\":\"default\",\"messages\":[{\"role\":\"tool\",\"content\":\"x\"},{\"role\":"
        "\"user\",\"content\":\"hi\"}]}",
        "not json"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        completion(&s, NULL, NULL, bad[i], &r);
        CHECK_INT(r.status, 400);
        CHECK_STR(error_field(r.json, "type"), "invalid_request_error");
        resp_free(&r);
    }
    CHECK_INT((int)upstream_count(), (int)before);
    CHECK_INT((int)svc_counts(&s).impressions, 0);
    /* Text parts are joined into the message; temperature and max_tokens reach the provider. */
    completion(&s, NULL, NULL,
               "{\"model\":\"default\",\"temperature\":0.25,\"max_tokens\":50,\"top_p\":1,"
               "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
               "\"안녕 \"},{\"type\":\"text\",\"text\":\"친구\"}]}]}",
               &r);
    CHECK_INT(r.status, 200);
    json_t *up = last_upstream();
    CHECK_STR(upstream_content(up, 1), "안녕 친구");
    CHECK_NEAR(json_number_value(json_object_get(up, "temperature")), 0.25, 1e-9);
    CHECK_INT((int)svc_int(up, "max_tokens"), 50);
    json_decref(up);
    resp_free(&r);
    svc_stop(&s);
}

/* Every error message is cut between characters, never inside one: a role or a model that is
 * long and not ASCII, and a list of models cut short, still give a JSON error body (a message
 * cut inside a character made the body fail to build; fuzz_oai_body found the role). */
static int utf8_message(const json_t *j)
{
    const char *m = error_field(j, "message");
    return m && text_utf8_valid(m, strlen(m));
}

static void test_error_messages_cut_between_characters(void)
{
    struct svc s;
    struct resp r = {0};
    char err[PB_ERR_LEN], body[1024], name[256] = "a";
    store *st = NULL;
    struct store_experiment e = {0};
    svc_start(&s, NULL);
    /* a role of "a" and 40 two-byte characters: byte 32 falls inside one */
    char role[128] = "a";
    for (int i = 0; i < 40; i++)
        strcat(role, "\xc3\xa9");
    snprintf(body, sizeof body,
             "{\"model\":\"default\",\"messages\":[{\"role\":\"%s\",\"content\":\"x\"},{\"role\":"
             "\"user\",\"content\":\"hi\"}]}",
             role);
    completion(&s, NULL, NULL, body, &r);
    CHECK_INT(r.status, 400);
    CHECK_STR(error_field(r.json, "type"), "invalid_request_error");
    CHECK(utf8_message(r.json));
    CHECK(strstr(error_field(r.json, "message"), "aéééé") != NULL);
    resp_free(&r);
    /* two live experiments named "a" / "b" and 21 three-byte characters (64 bytes, the most a
     * name has): the list of models (128 bytes) is cut inside the second name listed; the
     * unknown model asked for is "x" and 100 two-byte characters (cut at 80 bytes) */
    for (int i = 0; i < 21; i++)
        strcat(name, "\xea\xb0\x80");
    CHECK(store_open(s.db, NULL, &st, err) == PB_OK);
    for (int k = 0; k < 2; k++) {
        name[0] = (char)('a' + k);
        CHECK(store_experiment_get_or_create(st, name, "live", "thompson", &e, err) == PB_OK);
        store_experiment_clear(&e);
    }
    store_close(st);
    char model[256] = "";
    for (int i = 0; i < 100; i++)
        strcat(model, "\xc3\xa9");
    snprintf(body, sizeof body,
             "{\"model\":\"x%s\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", model);
    completion(&s, NULL, NULL, body, &r);
    CHECK_INT(r.status, 404);
    CHECK_STR(error_field(r.json, "code"), "model_not_found");
    CHECK(utf8_message(r.json));
    resp_free(&r);
    /* the model is valid, the list alone is cut */
    completion(&s, NULL, NULL,
               "{\"model\":\"nope\",\"messages\":[{\"role\":\"user\","
               "\"content\":\"hi\"}]}",
               &r);
    CHECK_INT(r.status, 404);
    CHECK(utf8_message(r.json));
    CHECK(strstr(error_field(r.json, "message"), "promptbandit/a") != NULL);
    resp_free(&r);
    svc_stop(&s);
}

/* The body's checks come in two halves around the auth and model checks: an unknown model is a
 * 404 and another user's name a 403 whatever the messages hold. */
static void test_error_precedence(void)
{
    static const char *const set[] = {"server.open_chat", "false", "server.user_tokens",
                                      "alice:tok-alice", NULL};
    struct svc s;
    struct resp r = {0};
    svc_start(&s, set);
    completion(&s, "tok-alice", NULL, "{\"model\":\"promptbandit/nope\",\"messages\":[]}", &r);
    CHECK_INT(r.status, 404);
    resp_free(&r);
    completion(&s, "tok-alice", NULL,
               "{\"model\":\"default\",\"user\":\"bob\",\"messages\":[{\"role\":\"tool\"}]}", &r);
    CHECK_INT(r.status, 403);
    resp_free(&r);
    /* a field error comes first of all: before the auth check */
    completion(&s, "tok-alice", NULL,
               "{\"model\":\"nope\",\"user\":\"bob\",\"n\":3,\"messages\":[]}", &r);
    CHECK_INT(r.status, 400);
    resp_free(&r);
    svc_stop(&s);
}

static void test_upstream_errors(void)
{
    struct svc s;
    struct resp r = {0};
    svc_start(&s, NULL);
    completion(&s, NULL, NULL,
               "{\"model\":\"promptbandit/default\",\"messages\":[{\"role\":\"user\",\"content\":"
               "\"hi [[fake:429:retry-after=7]]\"}]}",
               &r);
    CHECK_INT(r.status, 429);
    CHECK_STR(resp_header(&r, "Retry-After"), "7");
    CHECK_STR(error_field(r.json, "type"), "rate_limit_error");
    CHECK_STR(error_field(r.json, "code"), "rate_limit_exceeded");
    resp_free(&r);
    completion(&s, NULL, NULL,
               "{\"model\":\"promptbandit/default\",\"messages\":[{\"role\":\"user\",\"content\":"
               "\"hi [[fake:500]]\"}]}",
               &r);
    CHECK_INT(r.status, 502);
    CHECK_STR(error_field(r.json, "type"), "upstream_error");
    CHECK(error_field(r.json, "message") != NULL);
    resp_free(&r);
    /* A stream's failure comes as an error event (its 200 is already sent). */
    completion(&s, NULL, NULL,
               "{\"model\":\"default\",\"stream\":true,\"messages\":[{\"role\":\"user\","
               "\"content\":\"hi [[fake:503]]\"}]}",
               &r);
    CHECK_INT(r.status, 200);
    CHECK(strstr(r.body.data, "data: {\"error\":") != NULL);
    CHECK(strstr(r.body.data, "[DONE]") == NULL);
    resp_free(&r);
    CHECK_INT((int)svc_counts(&s).impressions, 0);
    svc_stop(&s);
}

static void test_quota_and_timeout(void)
{
    static const char *const set[] = {"server.request_timeout_s", "1", NULL};
    struct svc s;
    struct resp r = {0};
    svc_start(&s, set);
    completion(&s, NULL, NULL,
               "{\"model\":\"default\",\"messages\":[{\"role\":\"user\",\"content\":\"hi "
               "[[fake:quota]]\"}]}",
               &r);
    CHECK_INT(r.status, 429);
    CHECK_STR(error_field(r.json, "code"), "insufficient_quota");
    resp_free(&r);
    /* A provider slower than server.request_timeout_s: 504, nothing stored. */
    double t0 = pb_now_monotonic();
    completion(&s, NULL, NULL,
               "{\"model\":\"default\",\"messages\":[{\"role\":\"user\",\"content\":\"hi "
               "[[fake:slow=3000]]\"}]}",
               &r);
    CHECK_INT(r.status, 504);
    CHECK(error_field(r.json, "message") != NULL);
    CHECK(pb_now_monotonic() - t0 < 2.5);
    resp_free(&r);
    CHECK_INT((int)svc_counts(&s).impressions, 0);
    svc_stop(&s);
}

static const char *const client_system =
    "{\"model\":\"promptbandit/default\",\"messages\":[{\"role\":\"system\",\"content\":\"CLIENT-"
    "SYSTEM\"},{\"role\":\"user\",\"content\":\"hi\"}]}";

static void test_system_policies_and_settings(void)
{
    struct svc s;
    struct resp r = {0};
    /* replace (the default): the arm's prompt is the only system message. */
    svc_start(&s, NULL);
    completion(&s, NULL, NULL, client_system, &r);
    CHECK_INT(r.status, 200);
    json_t *up = last_upstream();
    CHECK_INT((int)json_array_size(json_object_get(up, "messages")), 2);
    CHECK(strstr(upstream_content(up, 0), "CLIENT-SYSTEM") == NULL);
    CHECK(strlen(upstream_content(up, 0)) > 0);
    json_decref(up);
    resp_free(&r);
    svc_stop(&s);
    /* prepend: the arm's prompt, a blank line, the client's. */
    static const char *const prepend[] = {"openai.system", "prepend", NULL};
    svc_start(&s, prepend);
    completion(&s, NULL, NULL, client_system, &r);
    CHECK_INT(r.status, 200);
    up = last_upstream();
    const char *sys = upstream_content(up, 0);
    CHECK(sys && strlen(sys) > strlen("\n\nCLIENT-SYSTEM"));
    CHECK_STR(sys + strlen(sys) - strlen("\n\nCLIENT-SYSTEM"), "\n\nCLIENT-SYSTEM");
    json_decref(up);
    resp_free(&r);
    svc_stop(&s);
    /* Per experiment: refuse, another upstream model, the emotion step. */
    static const char *const per[] = {
        "openai.experiments",
        "other:system=prepend; default : system=refuse,model=up-model,"
        "emotion=true",
        NULL};
    svc_start(&s, per);
    size_t before = upstream_count();
    completion(&s, NULL, NULL, client_system, &r);
    CHECK_INT(r.status, 400);
    CHECK(strstr(error_field(r.json, "message"), "system") != NULL);
    CHECK_INT((int)upstream_count(), (int)before);
    resp_free(&r);
    completion(&s, NULL, NULL,
               "{\"model\":\"promptbandit/default\",\"messages\":[{\"role\":\"user\",\"content\":"
               "\"hi\"}]}",
               &r);
    CHECK_INT(r.status, 200);
    up = last_upstream();
    CHECK_STR(svc_str(up, "model"), "up-model");
    CHECK(strncmp(upstream_content(up, 1), "hi ;; ", 6) == 0);
    json_decref(up);
    resp_free(&r);
    svc_stop(&s);
    /* A malformed setting stops the service from starting. */
    config *cfg = NULL;
    char err[PB_ERR_LEN];
    CHECK(config_defaults(&cfg, err) == PB_OK);
    CHECK(config_set(cfg, "openai.experiments", "default:system=maybe", err) == PB_OK);
    CHECK(oaiapi_check_config(cfg, err) == PB_ERR_INVALID);
    CHECK(strstr(err, "openai.experiments") != NULL);
    config_free(cfg);
}

static void test_history_and_stickiness(void)
{
    static const char *const set[] = {"bandit.policy", "thompson", NULL};
    struct svc s;
    struct resp r = {0};
    svc_start(&s, set);
    /* The client's history goes upstream as it is, between the system prompt and the message. */
    completion(&s, NULL, NULL,
               "{\"model\":\"default\",\"user\":\"kim\",\"messages\":[{\"role\":\"user\","
               "\"content\":\"first\"},{\"role\":\"assistant\",\"content\":\"answer one\"},{"
               "\"role\":\"user\",\"content\":\"second\"}]}",
               &r);
    CHECK_INT(r.status, 200);
    json_t *up = last_upstream();
    CHECK_INT((int)json_array_size(json_object_get(up, "messages")), 4);
    CHECK_STR(upstream_content(up, 1), "first");
    CHECK_STR(upstream_content(up, 2), "answer one");
    CHECK_STR(upstream_content(up, 3), "second");
    json_decref(up);
    char arm[32], conv[160];
    snprintf(arm, sizeof arm, "%s", resp_header(&r, "X-Promptbandit-Arm"));
    snprintf(conv, sizeof conv, "%s", resp_header(&r, "X-Promptbandit-Conversation"));
    resp_free(&r);
    /* The same user keeps the arm and the conversation (thompson without rewards draws at random: 4
     * arms, 8 turns). */
    for (int i = 0; i < 8; i++) {
        completion(&s, NULL, NULL,
                   "{\"model\":\"default\",\"user\":\"kim\",\"messages\":[{\"role\":\"user\","
                   "\"content\":\"again\"}]}",
                   &r);
        CHECK_INT(r.status, 200);
        CHECK_STR(resp_header(&r, "X-Promptbandit-Arm"), arm);
        CHECK_STR(resp_header(&r, "X-Promptbandit-Conversation"), conv);
        resp_free(&r);
    }
    /* Another user gets another conversation. */
    completion(&s, NULL, NULL,
               "{\"model\":\"default\",\"user\":\"lee\",\"messages\":[{\"role\":\"user\","
               "\"content\":\"hi\"}]}",
               &r);
    CHECK(strcmp(resp_header(&r, "X-Promptbandit-Conversation"), conv) != 0);
    resp_free(&r);
    /* The conversation header: kept across turns, the arm with it. */
    char arm2[32] = "";
    for (int i = 0; i < 6; i++) {
        completion(&s, NULL, "X-Promptbandit-Conversation: my-conv-1",
                   "{\"model\":\"default\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                   &r);
        CHECK_INT(r.status, 200);
        CHECK_STR(resp_header(&r, "X-Promptbandit-Conversation"), "my-conv-1");
        if (i == 0)
            snprintf(arm2, sizeof arm2, "%s", resp_header(&r, "X-Promptbandit-Arm"));
        CHECK_STR(resp_header(&r, "X-Promptbandit-Arm"), arm2);
        resp_free(&r);
    }
    /* The conversation is anonymous's: another user may not join it. */
    completion(&s, NULL, "X-Promptbandit-Conversation: my-conv-1",
               "{\"model\":\"default\",\"user\":\"kim\",\"messages\":[{\"role\":\"user\","
               "\"content\":\"hi\"}]}",
               &r);
    CHECK_INT(r.status, 403);
    CHECK_STR(error_field(r.json, "type"), "permission_error");
    resp_free(&r);
    svc_stop(&s);
}

static void test_auth(void)
{
    static const char *const set[] = {
        "server.open_chat", "false", "server.user_tokens", "alice:tok-alice", "server.admin_token",
        "tok-admin",        NULL};
    static const char *const body_bob[] = {
        "{\"model\":\"default\",\"user\":\"bob\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"hi\"}]}"};
    struct svc s;
    struct resp r = {0};
    svc_start(&s, set);
    completion(&s, NULL, NULL, body_bob[0], &r);
    CHECK_INT(r.status, 401);
    resp_free(&r);
    completion(&s, "tok-alice", NULL, body_bob[0], &r);
    CHECK_INT(r.status, 403);
    CHECK_STR(error_field(r.json, "type"), "permission_error");
    resp_free(&r);
    /* A user token without a user field: the token's user. */
    completion(&s, "tok-alice", NULL,
               "{\"model\":\"default\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &r);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    completion(&s, "tok-admin", NULL, body_bob[0], &r);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    call(&s, "GET", "/v1/models", "tok-alice", NULL, NULL, &r);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    /* The dashboard's tokens per arm: the two answered turns, priced at run.price_*. */
    svc_flush(&s);
    call(&s, "GET", "/v1/experiments/default/usage", "tok-alice", NULL, NULL, &r);
    CHECK_INT(r.status, 403);
    resp_free(&r);
    call(&s, "GET", "/v1/experiments/default/usage", "tok-admin", NULL, NULL, &r);
    CHECK_INT(r.status, 200);
    long long turns = 0, tokens = 0;
    double cost = 0, want = 0;
    size_t i;
    json_t *arm;
    json_array_foreach(json_object_get(r.json, "arms"), i, arm)
    {
        turns += svc_int(arm, "turns");
        tokens += svc_int(arm, "prompt_tokens") + svc_int(arm, "completion_tokens");
        cost += json_real_value(json_object_get(arm, "cost_usd"));
        want += ((double)svc_int(arm, "prompt_tokens") * 0.00015 +
                 (double)svc_int(arm, "completion_tokens") * 0.0006) /
                1000;
    }
    CHECK_INT((int)turns, 2);
    CHECK(tokens > 0);
    CHECK_NEAR(cost, want, 1e-12);
    resp_free(&r);
    svc_stop(&s);
}

static void test_client_gone_mid_stream_stores_nothing(void)
{
    struct svc s;
    struct resp r = {.abort_after_first = 1};
    svc_start(&s, NULL);
    /* 100 ms per token (about 2 s): the client leaves after the first chunk. */
    completion(&s, NULL, NULL,
               "{\"model\":\"default\",\"stream\":true,\"messages\":[{\"role\":\"user\","
               "\"content\":\"잠이 안 와 [[fake:stream-delay=100]]\"}]}",
               &r);
    long long imp = atoll(resp_header(&r, "X-Promptbandit-Impression"));
    CHECK(imp > 0);
    resp_free(&r);
    usleep(3500 * 1000);
    CHECK_INT((int)svc_counts(&s).impressions, 0);
    long long turns, sp, sc;
    stored_usage(&s, &turns, &sp, &sc);
    CHECK_INT((int)turns, 0);
    char body[160];
    snprintf(body, sizeof body, "{\"impression_id\":\"chatcmpl-pb-%lld\",\"kind\":\"like\"}", imp);
    r.abort_after_first = 0;
    call(&s, "POST", "/v1/feedback", NULL, NULL, body, &r);
    CHECK_INT(r.status, 404);
    resp_free(&r);
    svc_stop(&s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    svc_fake_start();
    RUN(test_models_lists_live_experiments);
    RUN(test_completion_wire_usage_and_feedback);
    RUN(test_stream_chunks_usage_and_done);
    RUN(test_unknown_model_and_bad_requests);
    RUN(test_error_messages_cut_between_characters);
    RUN(test_error_precedence);
    RUN(test_upstream_errors);
    RUN(test_quota_and_timeout);
    RUN(test_system_policies_and_settings);
    RUN(test_history_and_stickiness);
    RUN(test_auth);
    RUN(test_client_gone_mid_stream_stores_nothing);
    svc_fake_stop();
    curl_global_cleanup();
    CHECK_DONE();
}
