/* llmsse.c — Server-Sent Events framing and the chat.completion.chunk events of a streamed
 * answer (jansson). See llmsse.h. */
#include "llm/llmsse.h"

#include "llm/llmerr.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void llmsse_init(struct llmsse *p, size_t limit, const char *key)
{
    memset(p, 0, sizeof *p);
    p->limit = limit > 0 ? limit : LLM_MAX_RESPONSE_BYTES;
    p->key = key;
}

void llmsse_free(struct llmsse *p)
{
    pb_buf_free(&p->line);
    pb_buf_free(&p->data);
    pb_buf_free(&p->text);
    free(p->finish_reason);
    p->finish_reason = NULL;
}

/* Makes code the parser's sticky error, with the message in p->why and err. */
static pb_status fail(struct llmsse *p, pb_status code, char *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static pb_status fail(struct llmsse *p, pb_status code, char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->why, sizeof p->why, fmt, ap);
    va_end(ap);
    llmerr_redact(p->why, sizeof p->why, p->key);
    p->failed = code;
    if (err)
        snprintf(err, PB_ERR_LEN, "%s", p->why);
    return code;
}

static pb_status fail_limit(struct llmsse *p, char *err)
{
    return fail(p, PB_ERR_LIMIT, err, "LLM answer larger than the %zu-byte limit", p->limit);
}

/* An error object sent inside the stream (an "error" event, or a chunk {"error": {...}}). */
static pb_status provider_error(struct llmsse *p, char *err)
{
    char text[PB_ERR_LEN];
    int quota;
    llmerr_describe(p->data.data, p->data.len, p->key, text, sizeof text, &quota);
    return fail(p, quota ? PB_ERR_LIMIT : PB_ERR_PROVIDER, err,
                "LLM provider sent an error in its stream: %s", text);
}

static long json_long(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (long)json_integer_value(v) : 0;
}

/* One chat.completion.chunk: the first choice's delta content and finish reason, the usage. */
static pb_status chunk_apply(struct llmsse *p, json_t *root, llmsse_delta_fn *on_delta, void *ud,
                             char *err)
{
    json_t *choices = json_object_get(root, "choices");
    json_t *first = json_array_get(choices, 0);
    json_t *delta = json_object_get(first, "delta");
    json_t *content = json_object_get(delta, "content");
    json_t *finish = json_object_get(first, "finish_reason");
    json_t *usage = json_object_get(root, "usage");
    if (choices && !json_is_array(choices))
        return fail(p, PB_ERR_PROVIDER, err, "malformed stream chunk: %s",
                    "\"choices\" is not an array");
    if (content && !json_is_null(content) && !json_is_string(content))
        return fail(p, PB_ERR_PROVIDER, err, "malformed stream chunk: %s",
                    "delta.content is not a string");
    if (json_is_string(finish)) {
        free(p->finish_reason);
        if (!(p->finish_reason = strdup(json_string_value(finish))))
            return fail(p, PB_ERR_NOMEM, err, "%s", "out of memory");
    }
    if (json_is_object(usage)) {
        p->prompt_tokens = json_long(usage, "prompt_tokens");
        p->completion_tokens = json_long(usage, "completion_tokens");
    }
    size_t n = json_is_string(content) ? json_string_length(content) : 0;
    if (n == 0)
        return PB_OK;
    if (p->text.len + n > p->limit)
        return fail_limit(p, err);
    if (pb_buf_append(&p->text, json_string_value(content), n) != PB_OK)
        return fail(p, PB_ERR_NOMEM, err, "%s", "out of memory");
    p->deltas++;
    if (on_delta)
        on_delta(json_string_value(content), n, ud);
    return PB_OK;
}

/* Dispatches the event gathered so far (at its blank line) and starts the next one. */
static pb_status event_dispatch(struct llmsse *p, llmsse_delta_fn *on_delta, void *ud, char *err)
{
    pb_status rc = PB_OK;
    if (!p->has_data) {
        p->is_error = 0;
        return PB_OK;
    }
    const char *payload = p->data.data ? p->data.data : "";
    if (p->is_error) {
        rc = provider_error(p, err);
    } else if (!strcmp(payload, "[DONE]")) {
        p->done = 1;
    } else {
        json_error_t jerr;
        json_t *root = json_loadb(payload, p->data.len, 0, &jerr);
        if (!root && p->at_end)
            rc = fail(p, PB_ERR_PROVIDER, err,
                      "truncated stream: it ended inside an event after %ld deltas", p->deltas);
        else if (!json_is_object(root))
            rc = fail(p, PB_ERR_PROVIDER, err, "malformed stream chunk: %s",
                      root ? "not a JSON object" : "not valid JSON");
        else if (json_object_get(root, "error"))
            rc = provider_error(p, err);
        else
            rc = chunk_apply(p, root, on_delta, ud, err);
        json_decref(root);
    }
    p->data.len = 0;
    p->has_data = p->is_error = 0;
    return rc;
}

/* Handles one complete line (in p->line): a field, a comment, or the blank line ending an event. */
static pb_status line_end(struct llmsse *p, llmsse_delta_fn *on_delta, void *ud, char *err)
{
    const char *line = p->line.data ? p->line.data : "";
    size_t n = p->line.len;
    p->line.len = 0;
    if (n == 0)
        return event_dispatch(p, on_delta, ud, err);
    if (line[0] == ':')
        return PB_OK; /* comment: keep-alives such as ": OPENROUTER PROCESSING" */
    const char *colon = memchr(line, ':', n);
    size_t name_len = colon ? (size_t)(colon - line) : n;
    const char *value = colon ? colon + 1 : line + n;
    size_t value_len = (size_t)(line + n - value);
    if (value_len > 0 && value[0] == ' ')
        value++, value_len--;
    if (name_len == 5 && !memcmp(line, "event", 5)) {
        p->is_error = value_len == 5 && !memcmp(value, "error", 5);
        return PB_OK;
    }
    if (name_len != 4 || memcmp(line, "data", 4) != 0)
        return PB_OK; /* id:, retry: and unknown fields mean nothing here */
    if (p->data.len + value_len + 1 > p->limit + LLMSSE_EVENT_SLACK)
        return fail_limit(p, err);
    if ((p->has_data && pb_buf_append(&p->data, "\n", 1) != PB_OK) ||
        pb_buf_append(&p->data, value, value_len) != PB_OK)
        return fail(p, PB_ERR_NOMEM, err, "%s", "out of memory");
    p->has_data = 1;
    return PB_OK;
}

pb_status llmsse_feed(struct llmsse *p, const char *data, size_t len, llmsse_delta_fn *on_delta,
                      void *ud, char *err)
{
    size_t i = 0;
    while (i < len && !p->done && p->failed == PB_OK) {
        if (p->cr) {
            p->cr = 0;
            if (data[i] == '\n') {
                i++;
                continue;
            }
        }
        size_t j = i;
        while (j < len && data[j] != '\n' && data[j] != '\r')
            j++;
        if (p->line.len + (j - i) > p->limit + LLMSSE_EVENT_SLACK)
            return fail_limit(p, err);
        if (j > i && pb_buf_append(&p->line, data + i, j - i) != PB_OK)
            return fail(p, PB_ERR_NOMEM, err, "%s", "out of memory");
        if (j == len)
            break;
        p->cr = data[j] == '\r';
        i = j + 1;
        pb_status rc = line_end(p, on_delta, ud, err);
        if (rc != PB_OK)
            return rc;
    }
    if (p->failed != PB_OK && err)
        snprintf(err, PB_ERR_LEN, "%s", p->why);
    return p->failed;
}

pb_status llmsse_finish(struct llmsse *p, llmsse_delta_fn *on_delta, void *ud,
                        struct llm_response *r, char *err)
{
    if (p->failed == PB_OK && !p->done && (p->line.len > 0 || p->has_data)) {
        p->at_end = 1; /* a chunk that does not parse now was cut off */
        if (p->line.len > 0)
            line_end(p, on_delta, ud, err);
        if (p->failed == PB_OK && p->has_data)
            event_dispatch(p, on_delta, ud, err);
    }
    if (p->failed != PB_OK) {
        if (err)
            snprintf(err, PB_ERR_LEN, "%s", p->why);
        return p->failed;
    }
    if (!p->done)
        return pb_errf(err, PB_ERR_PROVIDER,
                       "truncated stream: it ended without data: [DONE] after %ld deltas (%zu "
                       "bytes of text)",
                       p->deltas, p->text.len);
    if (p->text.len == 0) { /* the finish_reason is the provider's text: it may hold the key */
        pb_errf(err, PB_ERR_PROVIDER, "empty answer (finish_reason %s)",
                p->finish_reason ? p->finish_reason : "none");
        if (err)
            llmerr_redact(err, PB_ERR_LEN, p->key);
        return PB_ERR_PROVIDER;
    }
    r->text = strndup(p->text.data, p->text.len);
    r->finish_reason = p->finish_reason;
    p->finish_reason = NULL;
    r->prompt_tokens = p->prompt_tokens;
    r->completion_tokens = p->completion_tokens;
    if (!r->text) {
        llm_response_clear(r);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    return PB_OK;
}
