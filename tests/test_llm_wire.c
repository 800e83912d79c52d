/* test_llm_wire.c — the Chat Completions wire format without a socket: the endpoint URL and
 * auth header for OpenAI and Azure, the request JSON with request fields and client defaults,
 * answers read into a response (text, finish reason, usage) or refused as malformed, and what
 * each HTTP status with its body means (done, retry, final; the code; the key never in a
 * message). Answers and statuses are tables. */
#include "check.h"
#include "base/pb.h"
#include "base/text.h"
#include "llm/llm.h"
#include "llm/llmwire.h"

#include <jansson.h>
#include <string.h>

static void test_endpoint_for_openai_and_azure(void)
{
    char err[PB_ERR_LEN], *url = NULL, *auth = NULL;
    CHECK_INT(llmwire_endpoint("https://api.openai.com/v1//", NULL, "sk-1", &url, &auth, err),
              PB_OK);
    CHECK_STR(url, "https://api.openai.com/v1/chat/completions");
    CHECK_STR(auth, "Authorization: Bearer sk-1");
    free(url);
    free(auth);
    CHECK_INT(llmwire_endpoint("http://127.0.0.1:8080/openai", "2024-02-01", "k", &url, &auth, err),
              PB_OK);
    CHECK_STR(url, "http://127.0.0.1:8080/openai/chat/completions?api-version=2024-02-01");
    CHECK_STR(auth, "api-key: k");
    free(url);
    free(auth);
    CHECK_INT(llmwire_endpoint("http://localhost/v1", "", "", &url, &auth, err), PB_OK);
    CHECK_STR(url, "http://localhost/v1/chat/completions");
    CHECK(auth == NULL); /* a local server without a key gets no auth header */
    free(url);
}

static void test_endpoint_refuses_bad_settings(void)
{
    static const struct {
        const char *base_url, *version, *key, *message;
    } cases[] = {
        {"ftp://example.com/v1", "", "", "LLM base URL must start with http:// or https://"},
        {"api.openai.com/v1", "", "", "LLM base URL must start with http:// or https://"},
        {"https://x/v1", "2024 02", "", "llm.api_version '2024 02' has odd characters"},
        {"https://x/v1", "", "sk-\nSECRET", "the LLM API key contains control characters"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[PB_ERR_LEN] = "", *url = (char *)"unset", *auth = (char *)"unset";
        CHECK_INT(
            llmwire_endpoint(cases[i].base_url, cases[i].version, cases[i].key, &url, &auth, err),
            PB_ERR_INVALID);
        CHECK(strstr(err, cases[i].message) != NULL);
        CHECK(strstr(err, "SECRET") == NULL);
        CHECK(url == NULL && auth == NULL);
    }
}

/* Parses a request body the module built; NULL when it is not JSON. */
static json_t *body_json(const char *body)
{
    return body ? json_loads(body, 0, NULL) : NULL;
}

static void test_request_body_keeps_messages_in_order_with_request_fields(void)
{
    char err[PB_ERR_LEN], *body = NULL;
    struct llm_message m[] = {{"system", "Be brief."}, {"user", "Héllo \"you\""}};
    struct llm_request req = {m, 2, "gpt-test", 0.25, 77};
    struct llmwire_defaults d = {"default-model", 0.9, 500};
    CHECK_INT(llmwire_request_body(&req, &d, 0, &body, err), PB_OK);
    json_t *v = body_json(body);
    json_t *msgs = json_object_get(v, "messages");
    CHECK_INT(json_array_size(msgs), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(msgs, 0), "role")), "system");
    CHECK_STR(json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
              "Héllo \"you\"");
    CHECK_STR(json_string_value(json_object_get(v, "model")), "gpt-test");
    CHECK_NEAR(json_real_value(json_object_get(v, "temperature")), 0.25, 1e-12);
    CHECK_INT(json_integer_value(json_object_get(v, "max_tokens")), 77);
    CHECK_INT(json_object_size(v), 4);
    json_decref(v);
    free(body);
}

static void test_request_body_takes_unset_fields_from_defaults_or_leaves_them_out(void)
{
    char err[PB_ERR_LEN], *body = NULL;
    struct llm_message m[] = {{"user", "hi"}};
    struct llm_request req = {m, 1, "", -1, 0};
    struct llmwire_defaults d = {"default-model", 0.5, 300};
    CHECK_INT(llmwire_request_body(&req, &d, 0, &body, err), PB_OK);
    json_t *v = body_json(body);
    CHECK_STR(json_string_value(json_object_get(v, "model")), "default-model");
    CHECK_NEAR(json_real_value(json_object_get(v, "temperature")), 0.5, 1e-12);
    CHECK_INT(json_integer_value(json_object_get(v, "max_tokens")), 300);
    json_decref(v);
    free(body);

    struct llmwire_defaults none = {NULL, -1, 0};
    CHECK_INT(llmwire_request_body(&req, &none, 0, &body, err), PB_OK);
    v = body_json(body);
    CHECK(v != NULL);
    CHECK_INT(json_object_size(v), 1); /* messages only */
    json_decref(v);
    free(body);
}

static void test_streamed_request_body_asks_for_usage(void)
{
    char err[PB_ERR_LEN], *body = NULL;
    struct llm_message m[] = {{"user", "hi"}};
    struct llm_request req = {m, 1, "", -1, 0};
    struct llmwire_defaults none = {NULL, -1, 0};
    CHECK_INT(llmwire_request_body(&req, &none, 1, &body, err), PB_OK);
    json_t *v = body_json(body);
    CHECK(json_is_true(json_object_get(v, "stream")));
    CHECK(json_is_true(json_object_get(json_object_get(v, "stream_options"), "include_usage")));
    CHECK_INT(json_object_size(v), 3); /* messages, stream, stream_options */
    json_decref(v);
    free(body);
    CHECK_INT(llmwire_request_body(&req, &none, 0, &body, err), PB_OK);
    CHECK(strstr(body, "stream") == NULL);
    free(body);
}

static void test_request_body_refuses_bad_messages(void)
{
    static const struct llm_message null_content[] = {{"user", NULL}};
    static const struct llm_message bad_utf8[] = {{"user", "ok"}, {"\xff", "x"}};
    static const struct {
        const struct llm_message *messages;
        size_t n;
        const char *message;
    } cases[] = {
        {NULL, 0, "LLM request has no messages"},
        {null_content, 0, "LLM request has no messages"},
        {null_content, 1, "LLM message 1: role and content must be UTF-8 text"},
        {bad_utf8, 2, "LLM message 2: role and content must be UTF-8 text"},
    };
    struct llmwire_defaults d = {"m", 0, 0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[PB_ERR_LEN] = "", *body = (char *)"unset";
        struct llm_request req = {cases[i].messages, cases[i].n, NULL, -1, 0};
        CHECK_INT(llmwire_request_body(&req, &d, 0, &body, err), PB_ERR_INVALID);
        CHECK_STR(err, cases[i].message);
        CHECK(body == NULL);
    }
}

static const struct {
    const char *body;
    pb_status status;
    const char *text, *finish; /* text NULL: the error message starts with finish */
    long prompt_tokens, completion_tokens;
} answers[] = {
    {"{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"Hi there\"},"
     "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3}}",
     PB_OK, "Hi there", "stop", 12, 3},
    {"{\"choices\":[{\"message\":{\"content\":\"no usage\"}}]}", PB_OK, "no usage", NULL, 0, 0},
    {"{\"choices\":[{\"message\":{\"content\":\"x\"}}],\"usage\":{\"prompt_tokens\":\"7\"}}", PB_OK,
     "x", NULL, 0, 0},
    {"not json", PB_ERR_PROVIDER, NULL, "malformed answer: not valid JSON", 0, 0},
    {"", PB_ERR_PROVIDER, NULL, "malformed answer: not valid JSON", 0, 0},
    {"{\"id\":\"x\"}", PB_ERR_PROVIDER, NULL, "malformed answer: no \"choices\" array", 0, 0},
    {"{\"choices\":[]}", PB_ERR_PROVIDER, NULL, "malformed answer: \"choices\" is empty", 0, 0},
    {"{\"choices\":[{\"text\":\"old API\"}]}", PB_ERR_PROVIDER, NULL,
     "malformed answer: choices[0].message missing", 0, 0},
    {"{\"choices\":[{\"message\":{\"content\":42}}]}", PB_ERR_PROVIDER, NULL,
     "malformed answer: message.content is not a string", 0, 0},
    {"{\"choices\":[{\"message\":{\"content\":null},\"finish_reason\":\"length\"}]}",
     PB_ERR_PROVIDER, NULL, "empty answer (finish_reason length)", 0, 0},
    {"{\"choices\":[{\"message\":{\"content\":\"\"}}]}", PB_ERR_PROVIDER, NULL,
     "empty answer (finish_reason none)", 0, 0},
};

static void test_answers_table(void)
{
    for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++) {
        char err[PB_ERR_LEN] = "";
        struct llm_response r = {0};
        pb_status rc = llmwire_parse_answer(answers[i].body, strlen(answers[i].body), &r, err);
        if (rc != answers[i].status)
            fprintf(stderr, "answer %zu: got %d (%s)\n", i, rc, err);
        CHECK_INT(rc, answers[i].status);
        if (answers[i].text) {
            CHECK_STR(r.text, answers[i].text);
            if (answers[i].finish)
                CHECK_STR(r.finish_reason, answers[i].finish);
            else
                CHECK(r.finish_reason == NULL);
            CHECK_INT(r.prompt_tokens, answers[i].prompt_tokens);
            CHECK_INT(r.completion_tokens, answers[i].completion_tokens);
        } else {
            CHECK(strncmp(err, answers[i].finish, strlen(answers[i].finish)) == 0);
            CHECK(r.text == NULL && r.finish_reason == NULL);
        }
        llm_response_clear(&r);
    }
}

static void test_answer_body_is_read_only_up_to_its_length(void)
{
    /* A transfer buffer need not end in a NUL: what follows the body must not be read. */
    const char buf[] = "{\"choices\":[{\"message\":{\"content\":\"ok\"}}]}GARBAGE";
    char err[PB_ERR_LEN];
    struct llm_response r = {0};
    CHECK_INT(llmwire_parse_answer(buf, strlen(buf) - strlen("GARBAGE"), &r, err), PB_OK);
    CHECK_STR(r.text, "ok");
    llm_response_clear(&r);
}

static const struct {
    long http;
    const char *body;
    enum llmwire_verdict verdict;
    pb_status code;
    const char *message; /* a part of the message; "" with LLMWIRE_DONE */
} statuses[] = {
    {200, "{\"choices\":[{\"message\":{\"content\":\"fine\"}}]}", LLMWIRE_DONE, PB_OK, ""},
    {201, "{\"choices\":[{\"message\":{\"content\":\"fine\"}}]}", LLMWIRE_DONE, PB_OK, ""},
    {200, "{\"choices\":[]}", LLMWIRE_FINAL, PB_ERR_PROVIDER, "\"choices\" is empty"},
    /* jansson quotes the bad token, here the key (found by tests/fuzz/fuzz_provider_reply.c) */
    {200, "{\"choices\":\"sk-SECRET\\q\"}", LLMWIRE_FINAL, PB_ERR_PROVIDER, "not valid JSON"},
    {429, "{\"error\":{\"message\":\"Rate limit reached\"}}", LLMWIRE_RETRY, PB_ERR_PROVIDER,
     "LLM provider answered HTTP 429: Rate limit reached"},
    {429, "{\"error\":{\"message\":\"no money\",\"code\":\"insufficient_quota\"}}", LLMWIRE_FINAL,
     PB_ERR_LIMIT, "LLM provider quota exhausted (HTTP 429): no money"},
    {401, "{\"error\":{\"message\":\"Incorrect API key provided: sk-SECRET\"}}", LLMWIRE_FINAL,
     PB_ERR_FORBIDDEN, "HTTP 401: Incorrect API key provided: ***"},
    {403, "forbidden", LLMWIRE_FINAL, PB_ERR_FORBIDDEN, "HTTP 403: forbidden"},
    {400, "{\"error\":{\"message\":\"bad model\"}}", LLMWIRE_FINAL, PB_ERR_PROVIDER,
     "HTTP 400: bad model"},
    {404, "", LLMWIRE_FINAL, PB_ERR_PROVIDER, "HTTP 404: (no error message)"},
    {408, "", LLMWIRE_RETRY, PB_ERR_PROVIDER, "HTTP 408"},
    {409, "", LLMWIRE_RETRY, PB_ERR_PROVIDER, "HTTP 409"},
    {500, "{\"message\":\"model not loaded\"}", LLMWIRE_RETRY, PB_ERR_PROVIDER,
     "HTTP 500: model not loaded"},
    {503, "<html>busy</html>", LLMWIRE_RETRY, PB_ERR_PROVIDER, "HTTP 503: <html>busy</html>"},
};

static void test_status_meanings_table(void)
{
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        char msg[PB_ERR_LEN] = "";
        pb_status code = PB_ERR_IO; /* must be overwritten */
        struct llm_response r = {0};
        enum llmwire_verdict v =
            llmwire_judge_answer(statuses[i].http, statuses[i].body, strlen(statuses[i].body),
                                 "sk-SECRET", &r, &code, msg);
        if (v != statuses[i].verdict || code != statuses[i].code)
            fprintf(stderr, "status %zu (HTTP %ld): got verdict %d code %d (%s)\n", i,
                    statuses[i].http, (int)v, (int)code, msg);
        CHECK_INT(v, statuses[i].verdict);
        CHECK_INT(code, statuses[i].code);
        CHECK(strstr(msg, statuses[i].message) != NULL);
        CHECK(strstr(msg, "sk-SECRET") == NULL);
        CHECK((v == LLMWIRE_DONE) == (r.text != NULL));
        llm_response_clear(&r);
    }
}

/* Found by tests/fuzz/fuzz_provider_reply.c: jansson's message quotes the bad token cut inside
 * a UTF-8 character, and that message goes into JSON error bodies and logs. */
static void test_a_malformed_answer_message_is_utf8(void)
{
    static const char body[] = "{\"id\": \"x\", \"\\\xeb\x85\x95\xec\x84\xb8!\"}";
    char msg[PB_ERR_LEN] = "";
    pb_status code = PB_OK;
    struct llm_response r = {0};
    CHECK_INT(llmwire_judge_answer(200, body, strlen(body), "sk-SECRET", &r, &code, msg),
              LLMWIRE_FINAL);
    CHECK_INT(code, PB_ERR_PROVIDER);
    CHECK(strstr(msg, "not valid JSON") != NULL);
    CHECK(text_utf8_valid(msg, strlen(msg)));
    CHECK(r.text == NULL);
}

static void test_retryable_statuses(void)
{
    long yes[] = {408, 409, 429, 500, 502, 503, 504, 599};
    long no[] = {200, 204, 400, 401, 403, 404, 413, 422};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        CHECK(llmwire_status_retryable(yes[i]));
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        CHECK(!llmwire_status_retryable(no[i]));
}

int main(void)
{
    RUN(test_endpoint_for_openai_and_azure);
    RUN(test_a_malformed_answer_message_is_utf8);
    RUN(test_endpoint_refuses_bad_settings);
    RUN(test_request_body_keeps_messages_in_order_with_request_fields);
    RUN(test_request_body_takes_unset_fields_from_defaults_or_leaves_them_out);
    RUN(test_streamed_request_body_asks_for_usage);
    RUN(test_request_body_refuses_bad_messages);
    RUN(test_answers_table);
    RUN(test_answer_body_is_read_only_up_to_its_length);
    RUN(test_status_meanings_table);
    RUN(test_retryable_statuses);
    CHECK_DONE();
}
