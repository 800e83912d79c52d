/* llmcall.c — one chat-completion request through its attempts (see llmcall.h): the easy
 * handle and its callbacks, judging an attempt (transport failures here, answers in llmwire,
 * streams in llmsse), the retry policy bounded by the call's deadline, and usage accounting. */
#include "llm/llmcall.h"

#include "llm/llmerr.h"
#include "llm/llmwire.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define CONNECT_TIMEOUT_MAX_S 10.0
#define DEADLINE_SLACK_S      0.001 /* less than this left: the deadline has passed */

static double rng_uniform(llm_client *c)
{
    pthread_mutex_lock(&c->lock);
    uint64_t z = (c->rng += 0x9e3779b97f4a7c15ULL); /* splitmix64 */
    pthread_mutex_unlock(&c->lock);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

/* ---- the easy handle's callbacks ----------------------------------------------------------- */

static void on_stream_delta(const char *text, size_t len, void *ud)
{
    struct llmcall *k = ud;
    k->deltas++;
    if (k->on_delta)
        k->on_delta(text, len, k->delta_ud);
}

/* Decides, at an attempt's first body byte, whether it is a JSON body or an SSE stream: SSE
 * when the call streams, the status is 2xx and the provider did not answer JSON anyway. */
static void body_kind_decide(struct llmcall *k)
{
    long http = 0;
    char *type = NULL;
    curl_easy_getinfo(k->easy, CURLINFO_RESPONSE_CODE, &http);
    curl_easy_getinfo(k->easy, CURLINFO_CONTENT_TYPE, &type);
    int json = type && strncasecmp(type, "application/json", 16) == 0;
    k->body_kind =
        k->stream && http >= 200 && http < 300 && !json ? LLMCALL_BODY_SSE : LLMCALL_BODY_JSON;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *user)
{
    struct llmcall *k = user;
    size_t n = size * nmemb;
    if (k->body_kind == LLMCALL_BODY_UNKNOWN)
        body_kind_decide(k);
    if (k->body_kind == LLMCALL_BODY_SSE) {
        k->sse_rc = llmsse_feed(&k->sse, ptr, n, on_stream_delta, k, k->sse_err);
        return k->sse_rc == PB_OK ? n : 0; /* 0 makes curl end the transfer */
    }
    if (k->answer.len + n > k->limit) {
        k->overflow = 1;
        return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
    }
    return pb_buf_append(&k->answer, ptr, n) == PB_OK ? n : 0;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *user)
{
    struct llmcall *k = user;
    size_t n = size * nmemb;
    char value[128];
    if (n > 15 && n < 100 && strncasecmp(line, "retry-after-ms:", 15) == 0) {
        snprintf(value, sizeof value, "%.*s", (int)(n - 15), line + 15);
        double ms = strtod(value, NULL);
        if (isfinite(ms) && ms >= 0)
            k->retry_after_s = ms / 1000.0;
    } else if (n > 12 && n < 100 && strncasecmp(line, "retry-after:", 12) == 0) {
        double s;
        snprintf(value, sizeof value, "%.*s", (int)(n - 12), line + 12);
        if (k->retry_after_s < 0 && llm_parse_retry_after(value, time(NULL), &s))
            k->retry_after_s = s;
    }
    return n;
}

/* Streams: ends the attempt once no byte moved for timeout_s. curl calls this at least once a
 * second while a low-speed limit is set (easy_setup), even when nothing arrives. */
static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct llmcall *k = user;
    double now = pb_now_monotonic();
    if (dlnow + ulnow != k->seen_bytes) {
        k->seen_bytes = dlnow + ulnow;
        k->last_progress = now;
        return 0;
    }
    if (now - k->last_progress < k->client->timeout_s)
        return 0;
    k->silent = 1;
    return 1; /* CURLE_ABORTED_BY_CALLBACK */
}

/* Creates the easy handle on the first attempt; later attempts reuse it (only the time limits
 * change, in llmcall_attempt_start). */
static pb_status easy_setup(struct llmcall *k, char *msg)
{
    llm_client *c = k->client;
    if (!(k->easy = curl_easy_init()))
        return pb_errf(msg, PB_ERR_NOMEM, "out of memory (curl handle)");
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (h)
        h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
    if (h && k->stream)
        h = curl_slist_append(h, "Accept: text/event-stream");
    if (h && c->auth_header)
        h = curl_slist_append(h, c->auth_header);
    if (!h)
        return pb_errf(msg, PB_ERR_NOMEM, "out of memory (headers)");
    k->headers = h;
    CURL *e = k->easy;
    long connect_ms = (long)ceil(fmin(c->timeout_s, CONNECT_TIMEOUT_MAX_S) * 1000);
    curl_easy_setopt(e, CURLOPT_URL, c->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, k->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, k->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(k->body));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, k);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, k);
    curl_easy_setopt(e, CURLOPT_PRIVATE, k);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, k->curl_err);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "promptbandit/" PB_VERSION);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (k->stream) {
        /* A stream may run longer than timeout_s in all; what timeout_s bounds is a silence
         * (on_progress). The low-speed limit makes curl look at the transfer every second. */
        curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(e, CURLOPT_XFERINFODATA, k);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)ceil(c->timeout_s));
    }
    return PB_OK;
}

pb_status llmcall_attempt_start(struct llmcall *k, CURLM *multi)
{
    llm_client *c = k->client;
    char msg[PB_ERR_LEN];
    pb_status rc;
    double left = k->deadline > 0 ? k->deadline - pb_now_monotonic() : 0;
    if (k->deadline > 0 && left < DEADLINE_SLACK_S) {
        rc = pb_errf(msg, PB_ERR_TIMEOUT, "LLM call ran out of time before attempt %d could start",
                     k->resp->attempts + 1);
        goto fail;
    }
    if (!k->easy && (rc = easy_setup(k, msg)) != PB_OK)
        goto fail;
    /* timeout_s bounds one JSON attempt; a stream is bounded by its silences (easy_setup) and,
     * like every attempt, by what is left of the deadline. */
    double limit = k->stream ? 0 : c->timeout_s;
    if (k->deadline > 0 && (limit == 0 || left < limit))
        limit = left;
    k->attempt_time_s = limit;
    curl_easy_setopt(k->easy, CURLOPT_TIMEOUT_MS, (long)ceil(limit * 1000));
    k->answer.len = 0;
    k->overflow = 0;
    k->retry_after_s = -1;
    k->curl_err[0] = '\0';
    k->body_kind = LLMCALL_BODY_UNKNOWN;
    k->sse_rc = PB_OK;
    k->seen_bytes = 0;
    k->last_progress = pb_now_monotonic();
    k->silent = 0;
    llmsse_free(&k->sse);
    llmsse_init(&k->sse, k->limit, c->api_key);
    if (curl_multi_add_handle(multi, k->easy) != CURLM_OK) {
        rc = pb_errf(msg, PB_ERR_NOMEM, "cannot start an LLM request (curl multi)");
        goto fail;
    }
    k->state = LLMCALL_RUNNING;
    k->resp->attempts++;
    pthread_mutex_lock(&c->lock);
    c->usage.attempts++;
    pthread_mutex_unlock(&c->lock);
    return PB_OK;
fail:
    llmcall_finish(k, rc, msg);
    return rc;
}

/* ---- judging an attempt -------------------------------------------------------------------- */

static bool retryable_transport(CURLcode cc)
{
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return true;
    default:
        return false;
    }
}

/* A timed-out attempt: the call's deadline, silence in a stream, or no answer within the
 * attempt's time limit. */
static enum llmwire_verdict judge_timeout(struct llmcall *k, pb_status *code, char *msg)
{
    llm_client *c = k->client;
    double now = pb_now_monotonic();
    if (k->deadline > 0 && now >= k->deadline - DEADLINE_SLACK_S)
        *code = pb_errf(msg, PB_ERR_TIMEOUT,
                        "LLM provider at %s gave no complete answer before the call's deadline "
                        "(%.3g s after it started)",
                        c->base_url, now - k->started);
    else if (k->body_kind == LLMCALL_BODY_SSE)
        *code = pb_errf(msg, PB_ERR_TIMEOUT,
                        "LLM provider at %s went silent for %.3g s in its stream after %ld deltas",
                        c->base_url, ceil(c->timeout_s), k->deltas);
    else if (k->stream)
        *code = pb_errf(msg, PB_ERR_TIMEOUT, "LLM provider at %s gave no answer within %.3g s",
                        c->base_url, ceil(c->timeout_s));
    else
        *code = pb_errf(msg, PB_ERR_TIMEOUT, "LLM provider at %s gave no answer within %.3g s",
                        c->base_url, k->attempt_time_s);
    return LLMWIRE_RETRY;
}

/* The end of a 2xx stream: its parse result, or how the transfer broke. */
static enum llmwire_verdict judge_stream(struct llmcall *k, CURLcode cc, pb_status *code, char *msg)
{
    if (k->sse_rc != PB_OK) {
        *code = pb_errf(msg, k->sse_rc, "%s", k->sse_err);
        return LLMWIRE_FINAL;
    }
    if (cc != CURLE_OK) {
        *code = pb_errf(msg, PB_ERR_PROVIDER, "LLM provider's stream broke after %ld deltas: %s",
                        k->deltas, k->curl_err[0] ? k->curl_err : curl_easy_strerror(cc));
        return retryable_transport(cc) ? LLMWIRE_RETRY : LLMWIRE_FINAL;
    }
    *code = llmsse_finish(&k->sse, on_stream_delta, k, k->resp, msg);
    return *code == PB_OK ? LLMWIRE_DONE : LLMWIRE_FINAL;
}

/* Classifies a finished attempt: done (answer parsed into k->resp), retry, or final error (code
 * in *code, message in msg). Transport failures are judged here, answers by llmwire, streams by
 * llmsse. */
static enum llmwire_verdict judge_attempt(struct llmcall *k, CURLcode cc, pb_status *code,
                                          char *msg)
{
    llm_client *c = k->client;
    long http = 0;
    curl_easy_getinfo(k->easy, CURLINFO_RESPONSE_CODE, &http);
    k->resp->http_status = (int)http;
    k->resp->retry_after_s = k->retry_after_s > 0 ? k->retry_after_s : 0;
    if (k->overflow) {
        *code = pb_errf(msg, PB_ERR_LIMIT, "LLM answer larger than the %zu-byte limit", k->limit);
        return LLMWIRE_FINAL;
    }
    if (cc == CURLE_OPERATION_TIMEDOUT || (cc == CURLE_ABORTED_BY_CALLBACK && k->silent))
        return judge_timeout(k, code, msg);
    if (k->body_kind == LLMCALL_BODY_SSE)
        return judge_stream(k, cc, code, msg);
    if (cc != CURLE_OK) {
        *code = pb_errf(msg, PB_ERR_UNAVAILABLE, "cannot reach the LLM provider at %s: %s",
                        c->base_url, k->curl_err[0] ? k->curl_err : curl_easy_strerror(cc));
        return retryable_transport(cc) ? LLMWIRE_RETRY : LLMWIRE_FINAL;
    }
    enum llmwire_verdict v =
        llmwire_judge_answer(http, k->answer.data, k->answer.len, c->api_key, k->resp, code, msg);
    if (v == LLMWIRE_DONE && k->stream)
        on_stream_delta(k->resp->text, strlen(k->resp->text), k); /* JSON for a stream: one delta */
    return v;
}

void llmcall_finish(struct llmcall *k, pb_status code, const char *msg)
{
    llm_client *c = k->client;
    struct llm_response *r = k->resp;
    k->state = LLMCALL_DONE;
    *k->status = code;
    r->latency_s = pb_now_monotonic() - k->started;
    pthread_mutex_lock(&c->lock);
    if (code == PB_OK) {
        c->usage.prompt_tokens += r->prompt_tokens;
        c->usage.completion_tokens += r->completion_tokens;
    } else {
        c->usage.failures++;
    }
    pthread_mutex_unlock(&c->lock);
    if (!k->err)
        return;
    if (code == PB_OK)
        k->err[0] = '\0';
    else if (r->attempts > 1)
        snprintf(k->err, PB_ERR_LEN, "%s (after %d attempts)", msg, r->attempts);
    else
        snprintf(k->err, PB_ERR_LEN, "%s", msg);
    llmerr_redact(k->err, PB_ERR_LEN, c->api_key);
}

/* The delay before the next attempt: the provider's Retry-After (capped), else backoff. */
static double retry_delay(struct llmcall *k)
{
    llm_client *c = k->client;
    if (k->retry_after_s >= 0)
        return fmin(k->retry_after_s, c->retry_after_max_s);
    return llm_backoff_delay(c->backoff_initial_s, c->backoff_max_s, k->resp->attempts,
                             rng_uniform(c));
}

void llmcall_attempt_end(struct llmcall *k, CURLcode cc)
{
    char msg[PB_ERR_LEN];
    pb_status code = PB_OK;
    enum llmwire_verdict v = judge_attempt(k, cc, &code, msg);
    if (v != LLMWIRE_RETRY || k->resp->attempts > k->client->max_retries || k->deltas > 0) {
        llmcall_finish(k, v == LLMWIRE_DONE ? PB_OK : code, msg);
        return;
    }
    double now = pb_now_monotonic(), delay = retry_delay(k);
    if (k->deadline > 0 && now + delay >= k->deadline - DEADLINE_SLACK_S) {
        size_t n = strlen(msg);
        if (k->retry_after_s >= 0)
            snprintf(msg + n, sizeof msg - n,
                     "; its Retry-After of %.3g s is more than the %.3g s left", k->retry_after_s,
                     fmax(0, k->deadline - now));
        llmcall_finish(k, code, msg);
        return;
    }
    k->resp->backoff_s += delay;
    k->not_before = now + delay;
    k->state = LLMCALL_WAITING;
}

/* ---- life cycle ---------------------------------------------------------------------------- */

void llmcall_release(struct llmcall *k)
{
    if (k->easy)
        curl_easy_cleanup(k->easy);
    k->easy = NULL;
    curl_slist_free_all(k->headers);
    k->headers = NULL;
    free(k->body);
    k->body = NULL;
    pb_buf_free(&k->answer);
    llmsse_free(&k->sse);
}

pb_status llmcall_init(struct llmcall *k, llm_client *c, const struct llm_request *req,
                       double deadline, int stream, llmsse_delta_fn *on_delta, void *delta_ud,
                       struct llm_response *resp, pb_status *status, char *err)
{
    char msg[PB_ERR_LEN];
    memset(k, 0, sizeof *k);
    memset(resp, 0, sizeof *resp);
    k->client = c;
    k->resp = resp;
    k->status = status;
    k->err = err;
    k->limit = c->max_response_bytes;
    k->started = pb_now_monotonic();
    k->deadline = deadline > 0 ? deadline : 0;
    k->stream = stream != 0;
    k->on_delta = on_delta;
    k->delta_ud = delta_ud;
    k->state = LLMCALL_WAITING;
    *status = PB_OK;
    pthread_mutex_lock(&c->lock);
    c->usage.calls++;
    pthread_mutex_unlock(&c->lock);
    struct llmwire_defaults d = {c->model, c->temperature, c->max_tokens};
    pb_status rc = llmwire_request_body(req, &d, k->stream, &k->body, msg);
    if (rc != PB_OK)
        llmcall_finish(k, rc, msg);
    return rc;
}
