/* llm.h — the only way the project talks to an LLM provider: OpenAI-compatible chat
 * completions over libcurl (the transport; the JSON and what an answer means are llmwire.h).
 * Owns the client (settings, key, usage accounting), the blocking calls and their concurrency
 * through curl multi, and the retry policy: timeouts, retries with backoff and jitter
 * (408/409/429/5xx and transport timeouts; Retry-After honoured up to a cap; 429 "insufficient
 * quota" is final). Many waiting calls on one thread, streamed or not, are llmloop.h's. Azure
 * OpenAI is selected by an api-version. The API key is never written to logs, errors or files.
 * It knows nothing about bandits, judges or the database. */
#ifndef LLM_H
#define LLM_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "base/config.h"
#include "base/pb.h"

typedef struct llm_client llm_client;

struct llm_options {
    const char *base_url;    /* e.g. https://api.openai.com/v1 or http://127.0.0.1:PORT/v1 */
    const char *api_key;     /* may be empty for local servers */
    const char *api_version; /* non-empty: Azure OpenAI (api-key header, ?api-version=) */
    const char *model;
    double temperature;
    int max_tokens;
    double timeout_s;          /* per attempt */
    int max_retries;           /* attempts = 1 + max_retries */
    int concurrency;           /* requests in flight in llm_chat_batch */
    double backoff_initial_s;  /* default 0.5 */
    double backoff_max_s;      /* default 8 */
    double retry_after_max_s;  /* default 120 */
    size_t max_response_bytes; /* 0: LLM_MAX_RESPONSE_BYTES; a larger answer is PB_ERR_LIMIT */
};

/* Defaults used for option fields left at zero (or negative where noted in docs/LLM.md). */
#define LLM_MAX_RESPONSE_BYTES (4u << 20)

struct llm_message {
    const char *role; /* "system", "user", "assistant" */
    const char *content;
};

struct llm_request {
    const struct llm_message *messages;
    size_t n_messages;
    const char *model;  /* NULL: the client's model */
    double temperature; /* < 0: the client's temperature */
    int max_tokens;     /* <= 0: the client's max_tokens */
};

struct llm_response {
    char *text; /* the first choice's message content; owned, freed by llm_response_clear */
    char *finish_reason;
    long prompt_tokens;
    long completion_tokens;
    int http_status; /* of the last attempt, 0 when no HTTP answer */
    int attempts;
    double latency_s;
    double backoff_s;     /* total delay scheduled between attempts (backoff or Retry-After) */
    double retry_after_s; /* the provider's Retry-After (or retry-after-ms) of the last attempt,
                           * in seconds, as sent (not capped); 0 when it sent none */
};

struct llm_usage {
    long calls;    /* logical requests */
    long attempts; /* HTTP attempts including retries */
    long failures; /* requests that finally failed */
    long prompt_tokens;
    long completion_tokens;
};

/* curl_global_init; call once from main before threads start. */
pb_status llm_global_init(char *err);
void llm_global_cleanup(void);

/* Creates a client. PB_ERR_UNAVAILABLE with a plain message when base_url is empty. */
pb_status llm_client_new(const struct llm_options *opt, llm_client **out, char *err);
/* Reads llm.* settings (api key from llm.api_key or llm.api_key_file). */
pb_status llm_client_from_config(const config *cfg, llm_client **out, char *err);
void llm_client_free(llm_client *c);

/* One chat completion, blocking; safe to call from several threads at once. On failure the
 * message names the HTTP status and the provider's own error message, never the key. */
pb_status llm_chat(llm_client *c, const struct llm_request *req, struct llm_response *out,
                   char *err);

/* Many requests with at most opt.concurrency in flight. Each item gets its own status and
 * error; on_done (may be NULL) is called from the calling thread as each finishes. */
struct llm_batch_item {
    struct llm_request req;
    struct llm_response resp;
    pb_status status;
    char err[PB_ERR_LEN];
};
pb_status llm_chat_batch(llm_client *c, struct llm_batch_item *items, size_t n,
                         void (*on_done)(size_t index, struct llm_batch_item *item, void *user),
                         void *user, char *err);

/* Frees the strings of r and sets them to NULL (the numbers stay). NULL is allowed. */
void llm_response_clear(struct llm_response *r);
void llm_usage_get(const llm_client *c, struct llm_usage *out);

/* Parses a Retry-After value: delta seconds ("7", "1.5") or an HTTP date, relative to now.
 * Returns true and sets *seconds (>= 0) when understood, false otherwise. Exposed for tests. */
bool llm_parse_retry_after(const char *value, time_t now, double *seconds);

/* Full-jitter backoff before retry number `retry` (1 = first retry): u * min(max, initial *
 * 2^(retry-1)) with u in [0, 1) supplied by the caller. Exposed for tests. */
double llm_backoff_delay(double initial_s, double max_s, int retry, double u);

#endif
