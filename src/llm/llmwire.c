/* llmwire.c — Chat Completions JSON in and out (jansson), the endpoint and auth header, and
 * the meaning of an HTTP status and body. */
#include "llm/llmwire.h"

#include "llm/llmerr.h"
#include "base/text.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool has_control_chars(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

pb_status llmwire_endpoint(const char *base_url, const char *api_version, const char *key,
                           char **url, char **auth, char *err)
{
    const char *version = api_version ? api_version : "";
    key = key ? key : "";
    *url = NULL;
    *auth = NULL;
    size_t n = strlen(base_url);
    while (n > 0 && base_url[n - 1] == '/')
        n--;
    if (strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0)
        return pb_errf(err, PB_ERR_INVALID,
                       "LLM base URL must start with http:// or https://, got '%.80s'", base_url);
    for (const char *p = version; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
            return pb_errf(err, PB_ERR_INVALID, "llm.api_version '%.40s' has odd characters",
                           version);
    if (has_control_chars(key))
        return pb_errf(err, PB_ERR_INVALID, "the LLM API key contains control characters");
    size_t len = n + strlen(version) + 64;
    if (!(*url = malloc(len)))
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    snprintf(*url, len, "%.*s/chat/completions%s%s", (int)n, base_url,
             *version ? "?api-version=" : "", version);
    if (!*key)
        return PB_OK;
    len = strlen(key) + 32;
    if (!(*auth = malloc(len))) {
        free(*url);
        *url = NULL;
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    snprintf(*auth, len, "%s%s", *version ? "api-key: " : "Authorization: Bearer ", key);
    return PB_OK;
}

/* Appends req's messages to the array msgs. */
static pb_status add_messages(json_t *msgs, const struct llm_request *req, char *err)
{
    if (!req->messages || req->n_messages == 0)
        return pb_errf(err, PB_ERR_INVALID, "LLM request has no messages");
    for (size_t i = 0; i < req->n_messages; i++) {
        const struct llm_message *m = &req->messages[i];
        json_t *role = m->role ? json_string(m->role) : NULL;
        json_t *content = m->content ? json_string(m->content) : NULL;
        if (!role || !content) {
            json_decref(role);
            json_decref(content);
            return pb_errf(err, PB_ERR_INVALID,
                           "LLM message %zu: role and content must be UTF-8 text", i + 1);
        }
        json_array_append_new(msgs, json_pack("{s:o,s:o}", "role", role, "content", content));
    }
    return PB_OK;
}

pb_status llmwire_request_body(const struct llm_request *req, const struct llmwire_defaults *d,
                               int stream, char **out, char *err)
{
    json_t *root = json_object(), *msgs = json_array();
    *out = NULL;
    if (!root || !msgs || json_object_set_new(root, "messages", msgs) != 0) {
        json_decref(root);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    pb_status rc = add_messages(msgs, req, err);
    if (rc == PB_OK) {
        const char *model = req->model && *req->model ? req->model : d->model;
        double temperature = req->temperature >= 0 ? req->temperature : d->temperature;
        int max_tokens = req->max_tokens > 0 ? req->max_tokens : d->max_tokens;
        if (model && *model)
            json_object_set_new(root, "model", json_string(model));
        if (temperature >= 0)
            json_object_set_new(root, "temperature", json_real(temperature));
        if (max_tokens > 0)
            json_object_set_new(root, "max_tokens", json_integer(max_tokens));
        if (stream) {
            json_object_set_new(root, "stream", json_true());
            json_object_set_new(root, "stream_options", json_pack("{s:b}", "include_usage", 1));
        }
        if (!(*out = json_dumps(root, JSON_COMPACT)))
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    json_decref(root);
    return rc;
}

static long json_long(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (long)json_integer_value(v) : 0;
}

pb_status llmwire_parse_answer(const char *body, size_t len, struct llm_response *r, char *err)
{
    json_error_t jerr;
    pb_status rc = PB_OK;
    json_t *root = json_loadb(body ? body : "", len, 0, &jerr);
    if (!root) /* jansson quotes the bad token, which may be cut inside a UTF-8 character */
        return pb_errf(err, PB_ERR_PROVIDER, "malformed answer: not valid JSON (%s at byte %d)",
                       text_utf8_valid(jerr.text, strlen(jerr.text)) ? jerr.text : "bad bytes",
                       jerr.position);
    json_t *choices = json_object_get(root, "choices");
    json_t *first = json_array_get(choices, 0);
    json_t *message = json_object_get(first, "message");
    json_t *content = json_object_get(message, "content");
    json_t *finish = json_object_get(first, "finish_reason");
    if (!json_is_array(choices)) {
        rc = pb_errf(err, PB_ERR_PROVIDER, "malformed answer: no \"choices\" array");
    } else if (!first) {
        rc = pb_errf(err, PB_ERR_PROVIDER, "malformed answer: \"choices\" is empty");
    } else if (!json_is_object(message)) {
        rc = pb_errf(err, PB_ERR_PROVIDER, "malformed answer: choices[0].message missing");
    } else if (content && !json_is_null(content) && !json_is_string(content)) {
        rc = pb_errf(err, PB_ERR_PROVIDER, "malformed answer: message.content is not a string");
    } else if (!json_is_string(content) || json_string_length(content) == 0) {
        rc = pb_errf(err, PB_ERR_PROVIDER, "empty answer (finish_reason %s)",
                     json_is_string(finish) ? json_string_value(finish) : "none");
    } else {
        r->text = strdup(json_string_value(content));
        r->finish_reason = json_is_string(finish) ? strdup(json_string_value(finish)) : NULL;
        json_t *usage = json_object_get(root, "usage");
        r->prompt_tokens = json_long(usage, "prompt_tokens");
        r->completion_tokens = json_long(usage, "completion_tokens");
        if (!r->text || (json_is_string(finish) && !r->finish_reason)) {
            llm_response_clear(r);
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        }
    }
    json_decref(root);
    return rc;
}

bool llmwire_status_retryable(long http)
{
    return http == 408 || http == 409 || http == 429 || http >= 500;
}

enum llmwire_verdict llmwire_judge_answer(long http, const char *body, size_t len, const char *key,
                                          struct llm_response *r, pb_status *code, char *msg)
{
    if (http >= 200 && http < 300) {
        *code = llmwire_parse_answer(body, len, r, msg);
        if (*code != PB_OK) /* jansson's message may quote the body, and the body the key */
            llmerr_redact(msg, PB_ERR_LEN, key);
        return *code == PB_OK ? LLMWIRE_DONE : LLMWIRE_FINAL;
    }
    char text[PB_ERR_LEN];
    int quota;
    llmerr_describe(body, len, key, text, sizeof text, &quota);
    if (http == 429 && quota) {
        *code = pb_errf(msg, PB_ERR_LIMIT, "LLM provider quota exhausted (HTTP 429): %s", text);
        return LLMWIRE_FINAL;
    }
    *code = pb_errf(msg, http == 401 || http == 403 ? PB_ERR_FORBIDDEN : PB_ERR_PROVIDER,
                    "LLM provider answered HTTP %ld: %s", http, text);
    return llmwire_status_retryable(http) ? LLMWIRE_RETRY : LLMWIRE_FINAL;
}
