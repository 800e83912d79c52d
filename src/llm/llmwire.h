/* llmwire.h — the OpenAI Chat Completions wire format, without a socket: the endpoint URL and
 * auth header (OpenAI, or Azure OpenAI when an api-version is set), the request JSON, the
 * answer JSON (text, finish reason, token usage), and what an HTTP status with its body means
 * (done, retry, or a final error, with the provider's own message from llmerr). Pure functions
 * on borrowed buffers (jansson). It must not do I/O, sleep, log or know libcurl, attempts or
 * their timing: llm.h is the transport. Error messages never hold the key. */
#ifndef LLMWIRE_H
#define LLMWIRE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/pb.h"
#include "llm/llm.h"

/* The chat-completions URL of base_url (trailing slashes dropped; "?api-version=V" for Azure)
 * into *url, and the auth header line into *auth: "Authorization: Bearer KEY", or "api-key: KEY"
 * for Azure; *auth is NULL when key is NULL or empty. Both allocated; caller frees (and wipes
 * *auth). PB_ERR_INVALID for a base URL that is not http:// or https://, an api_version with
 * characters other than letters, digits, '-', '.', '_', or a key with control characters. */
pb_status llmwire_endpoint(const char *base_url, const char *api_version, const char *key,
                           char **url, char **auth, char *err);

/* What a request leaves unset: model NULL or "" sends none, temperature < 0 and
 * max_tokens <= 0 send none. */
struct llmwire_defaults {
    const char *model;
    double temperature;
    int max_tokens;
};

/* The request body for req as compact JSON into *out (caller frees): messages in order, then
 * model, temperature and max_tokens from req or, where req leaves them unset (NULL or "",
 * < 0, <= 0), from d; stream != 0 adds "stream": true and "stream_options": {"include_usage":
 * true} (the answer is then llmsse's to read). PB_ERR_INVALID when req has no messages or a role
 * or content that is NULL or not UTF-8. */
pb_status llmwire_request_body(const struct llm_request *req, const struct llmwire_defaults *d,
                               int stream, char **out, char *err);

/* Reads a 2xx answer body of len bytes (need not be NUL-terminated): choices[0].message.content
 * into r->text, finish_reason into r->finish_reason (NULL when absent), usage.prompt_tokens and
 * usage.completion_tokens (0 when absent). r->text and r->finish_reason must be NULL on entry
 * and stay NULL on failure. PB_ERR_PROVIDER for a body that is not JSON, lacks the choice or its
 * message, or has empty content. */
pb_status llmwire_parse_answer(const char *body, size_t len, struct llm_response *r, char *err);

/* What to do after an attempt. */
enum llmwire_verdict {
    LLMWIRE_DONE,  /* the answer is parsed */
    LLMWIRE_RETRY, /* a failure another attempt may cure */
    LLMWIRE_FINAL, /* a failure no retry cures */
};

/* True for the HTTP statuses worth another attempt: 408, 409, 429 and 5xx. */
bool llmwire_status_retryable(long http);

/* What an HTTP answer with status http and its body means. 2xx: parsed into r (DONE), or FINAL
 * when malformed. Otherwise *code and msg (PB_ERR_LEN bytes) say why, naming the status and the
 * provider's message with key redacted: 429 with an exhausted quota is FINAL PB_ERR_LIMIT, 401
 * and 403 are PB_ERR_FORBIDDEN, the rest PB_ERR_PROVIDER; RETRY when llmwire_status_retryable.
 * *code is PB_OK with DONE. */
enum llmwire_verdict llmwire_judge_answer(long http, const char *body, size_t len, const char *key,
                                          struct llm_response *r, pb_status *code, char *msg);

#endif
