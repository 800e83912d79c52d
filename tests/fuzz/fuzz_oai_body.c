/* fuzz_oai_body.c — the body of POST /v1/chat/completions, checked as the server checks it
 * without a socket: jsonio_parse_object (what server_req_json calls), then oaiapi_parse_body
 * (service/oaiapi: the fields, the refused fields, the messages split into history, system
 * text and the last user message; the handler runs the same two halves with its auth and
 * model checks between them). The input is the body. A body that passes must have left: a
 * non-empty model, a valid user id or none, flags 0 or 1, temperature in [0, 2] when set,
 * max_tokens 0 or in [1, OAIAPI_MAX_TOKENS], the last user message, a history of
 * {"role": "user"|"assistant", "content": string} with one entry per user or assistant message
 * before the last, a system text only when there was a system or developer message, and all of
 * its text valid UTF-8. A body that fails must have said why in at most PB_ERR_LEN - 1 bytes of
 * valid UTF-8 (the message goes into a JSON error body). */
#include "base/jsonio.h"
#include "base/text.h"
#include "service/oaiapi.h"
#include "service/pipeline.h"
#include "base/pb.h"
#include "fuzz/fuzz_util.h"

#include <math.h>
#include <stdint.h>

static void check_text(const char *s)
{
    if (!s || !text_utf8_valid(s, strlen(s)))
        abort();
}

static int is_role(const char *role, const char *name)
{
    return role && strcmp(role, name) == 0;
}

static void check_passed(const json_t *body, const struct oaiapi_body *b)
{
    char err[PB_ERR_LEN];
    if (!b->model || !*b->model)
        abort();
    check_text(b->model);
    if (b->user && pipeline_check_id(b->user, "user", 1, err) != PB_OK)
        abort();
    if ((b->stream != 0 && b->stream != 1) || (b->include_usage != 0 && b->include_usage != 1) ||
        (b->has_temperature != 0 && b->has_temperature != 1))
        abort();
    if (b->has_temperature && !(b->temperature >= 0 && b->temperature <= 2))
        abort();
    if (b->max_tokens < 0 || b->max_tokens > OAIAPI_MAX_TOKENS)
        abort();
    check_text(b->message);
    if (b->system)
        check_text(b->system);
    if (!json_is_array(b->history))
        abort();
    /* One history entry per user or assistant message before the last; a system text exactly
     * when a system or developer message came with the body; the last message the user's. */
    const json_t *messages = json_object_get(body, "messages");
    size_t n = json_array_size(messages), turns = 0, systems = 0, i;
    json_t *msg;
    if (n == 0)
        abort();
    json_array_foreach(messages, i, msg)
    {
        const char *role = json_string_value(json_object_get(msg, "role"));
        if (is_role(role, "system") || is_role(role, "developer"))
            systems++;
        else if (is_role(role, "user") || is_role(role, "assistant"))
            turns++;
        else
            abort();
    }
    const char *last = json_string_value(json_object_get(json_array_get(messages, n - 1), "role"));
    if (!is_role(last, "user") || json_array_size(b->history) + 1 != turns)
        abort();
    if (b->system && !systems)
        abort();
    json_array_foreach(b->history, i, msg)
    {
        const char *role = json_string_value(json_object_get(msg, "role"));
        const json_t *content = json_object_get(msg, "content");
        if (!json_is_object(msg) || json_object_size(msg) != 2 ||
            !(is_role(role, "user") || is_role(role, "assistant")) || !json_is_string(content))
            abort();
        check_text(json_string_value(content));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[PB_ERR_LEN];
    json_t *body = NULL;
    if (jsonio_parse_object((const char *)data, size, &body, err) != PB_OK)
        return 0;
    if (!json_is_object(body))
        abort();
    struct oaiapi_body b;
    memset(err, 0, sizeof err);
    pb_status rc = oaiapi_parse_body(body, &b, err);
    if (rc == PB_OK) {
        check_passed(body, &b);
    } else {
        size_t len = strnlen(err, sizeof err);
        if (len == 0 || len >= sizeof err || !text_utf8_valid(err, len))
            abort();
        /* what oai_error does with the message: it must make a JSON string */
        json_t *j = json_string(err);
        if (!j)
            abort();
        json_decref(j);
    }
    oaiapi_body_clear(&b);
    oaiapi_body_clear(&b); /* twice is fine */
    json_decref(body);
    return 0;
}
