/* llmcall.h — internal to llm/ (llm.c and llmloop.c include it; nothing outside llm/ may): the
 * client's fields, and one logical chat-completion request moving through its attempts — its
 * easy handle, body and headers, the answer of the current attempt (a JSON body, or an SSE
 * stream fed to llmsse with its deltas handed on as they arrive), what an attempt means (done,
 * retry after a backoff or Retry-After, final error) under the client's retry policy and the
 * call's deadline, and the client's usage counters. It owns no multi handle and no thread: the
 * blocking runner (llm.c) and the event loop (llmloop.c) add and remove the easy handle. It must
 * not log, and no message it writes holds the key. */
#ifndef LLMCALL_H
#define LLMCALL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdint.h>

#include "base/pb.h"
#include "llm/llm.h"
#include "llm/llmsse.h"

struct llm_client {
    char *base_url;
    char *api_key;
    char *model;
    char *url;         /* full chat-completions URL, api-version included */
    char *auth_header; /* "Authorization: Bearer K" or "api-key: K"; NULL without a key */
    double temperature;
    int max_tokens;
    double timeout_s;
    int max_retries;
    int concurrency;
    double backoff_initial_s, backoff_max_s, retry_after_max_s;
    size_t max_response_bytes;
    pthread_mutex_t lock; /* guards usage and rng */
    struct llm_usage usage;
    uint64_t rng;
};

enum llmcall_state {
    LLMCALL_WAITING, /* before its first attempt, or waiting out a delay (not_before) */
    LLMCALL_RUNNING, /* its easy handle is in a multi handle */
    LLMCALL_DONE,    /* *status, *err and *resp hold the result */
};

enum llmcall_body { LLMCALL_BODY_UNKNOWN, LLMCALL_BODY_JSON, LLMCALL_BODY_SSE };

struct llmcall {
    llm_client *client; /* borrowed */
    struct llm_response *resp;
    pb_status *status;
    char *err;  /* PB_ERR_LEN bytes or NULL */
    char *body; /* request JSON, built once */
    struct curl_slist *headers;
    CURL *easy;
    char curl_err[CURL_ERROR_SIZE];
    struct pb_buf answer; /* JSON body of the current attempt, at most limit bytes */
    size_t limit;
    int overflow;
    double retry_after_s; /* from the current attempt's headers; < 0 when absent */
    double not_before;    /* monotonic time before which the next attempt must not start */
    double started;
    double deadline;       /* absolute monotonic; 0: none (per-attempt timeouts only) */
    double attempt_time_s; /* the current attempt's own time limit (0: none) */
    enum llmcall_state state;
    /* streaming (stream != 0): a 2xx answer that is not JSON is read as SSE */
    int stream;
    enum llmcall_body body_kind;
    struct llmsse sse;
    pb_status sse_rc; /* the parser's error that stopped the transfer */
    char sse_err[PB_ERR_LEN];
    long deltas;           /* handed on over the whole call: after the first, no retry */
    curl_off_t seen_bytes; /* bytes moved in this attempt when last counted */
    double last_progress;  /* monotonic time bytes last moved (streams) */
    int silent;            /* the attempt was ended for a silence of timeout_s */
    llmsse_delta_fn *on_delta;
    void *delta_ud;
};

/* Prepares k for req (serialised now; req may go after the call) with results into resp (zeroed
 * here), *status and err (PB_ERR_LEN bytes, may be NULL). deadline: absolute monotonic time or
 * 0 for none. stream != 0 asks for an SSE answer whose deltas go to on_delta(delta_ud). Counts
 * one logical call in the client's usage. Bad input finishes k at once (state DONE) and returns
 * its status (PB_ERR_INVALID). */
pb_status llmcall_init(struct llmcall *k, llm_client *c, const struct llm_request *req,
                       double deadline, int stream, llmsse_delta_fn *on_delta, void *delta_ud,
                       struct llm_response *resp, pb_status *status, char *err);

/* Starts the next attempt: creates or resets the easy handle (CURLOPT_PRIVATE = k), bounds it
 * by the client's timeout and the deadline, adds it to multi, state RUNNING. On failure (deadline
 * already passed: PB_ERR_TIMEOUT; curl: PB_ERR_NOMEM) k is finished with the error and state
 * DONE. */
pb_status llmcall_attempt_start(struct llmcall *k, CURLM *multi);

/* Settles an attempt whose easy handle the caller has removed from its multi handle, with curl's
 * result cc: DONE (answer parsed or final error), or WAITING until k->not_before. A retry whose
 * delay would pass the deadline ends the call now with the attempt's error (and, after a
 * Retry-After, resp->retry_after_s set). A streamed call that handed on a delta is never
 * retried. */
void llmcall_attempt_end(struct llmcall *k, CURLcode cc);

/* Finishes k now with code and msg (PB_OK: success as parsed): status, err (with the attempt
 * count, key redacted), latency and usage. State DONE. */
void llmcall_finish(struct llmcall *k, pb_status code, const char *msg);

/* Frees the easy handle, headers and buffers (not resp, which the caller owns). The easy handle
 * must no longer be in a multi handle. */
void llmcall_release(struct llmcall *k);

#endif
