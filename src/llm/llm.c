/* llm.c — the transport of chat completions over libcurl: attempts with deadlines, the retry
 * policy (backoff with full jitter, Retry-After, final quota errors), one curl multi handle per
 * llm_chat / llm_chat_batch call so calls share nothing but the client's usage counters (under
 * a mutex). The JSON and what an answer means come from llmwire. Owns the client struct and its
 * copy of the API key. It must not log, and no error string it writes may contain the key
 * (provider messages go through llmerr, final messages through llmerr_redact). */
#include "llm/llm.h"

#include "llm/llmerr.h"
#include "llm/llmwire.h"

#include <ctype.h>
#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONNECT_TIMEOUT_MAX_S 10.0

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

enum call_state { CALL_WAITING, CALL_RUNNING, CALL_DONE };

/* One logical request moving through its attempts. */
struct call {
    const struct llm_request *req;
    struct llm_response *resp;
    pb_status *status;
    char *err;
    char *body; /* request JSON, built once */
    struct curl_slist *headers;
    CURL *easy;
    char curl_err[CURL_ERROR_SIZE];
    struct pb_buf answer; /* body of the current attempt, at most limit bytes */
    size_t limit;
    int overflow;
    double retry_after_s; /* from the current attempt's headers; < 0 when absent */
    double not_before;    /* monotonic time before which the next attempt must not start */
    double started;
    enum call_state state;
};

pb_status llm_global_init(char *err)
{
    CURLcode cc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (cc != CURLE_OK)
        return pb_errf(err, PB_ERR_UNAVAILABLE, "libcurl init failed: %s", curl_easy_strerror(cc));
    return PB_OK;
}

void llm_global_cleanup(void)
{
    curl_global_cleanup();
}

/* ---- small helpers ------------------------------------------------------------------------ */

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

double llm_backoff_delay(double initial_s, double max_s, int retry, double u)
{
    double d = initial_s;
    for (int i = 1; i < retry && d < max_s; i++)
        d *= 2;
    return u * fmin(d, max_s);
}

bool llm_parse_retry_after(const char *value, time_t now, double *seconds)
{
    while (*value == ' ' || *value == '\t')
        value++;
    char *end;
    double s = strtod(value, &end);
    if (end != value && isfinite(s)) {
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
            end++;
        if (*end == '\0') {
            *seconds = s > 0 ? s : 0;
            return true;
        }
    }
    time_t t = curl_getdate(value, NULL);
    if (t == (time_t)-1)
        return false;
    *seconds = t > now ? (double)(t - now) : 0;
    return true;
}

/* ---- one attempt --------------------------------------------------------------------------- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *user)
{
    struct call *k = user;
    size_t n = size * nmemb;
    if (k->answer.len + n > k->limit) {
        k->overflow = 1;
        return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
    }
    return pb_buf_append(&k->answer, ptr, n) == PB_OK ? n : 0;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *user)
{
    struct call *k = user;
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

/* Creates the easy handle on the first attempt; later attempts reuse it unchanged. */
static pb_status easy_setup(llm_client *c, struct call *k, char *msg)
{
    k->easy = curl_easy_init();
    if (!k->easy)
        return pb_errf(msg, PB_ERR_NOMEM, "out of memory (curl handle)");
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (h)
        h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
    if (h && c->auth_header)
        h = curl_slist_append(h, c->auth_header);
    if (!h)
        return pb_errf(msg, PB_ERR_NOMEM, "out of memory (headers)");
    k->headers = h;
    CURL *e = k->easy;
    long timeout_ms = (long)ceil(c->timeout_s * 1000);
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
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "promptbandit/" PB_VERSION);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    return PB_OK;
}

static pb_status attempt_start(llm_client *c, struct call *k, CURLM *multi, char *msg)
{
    if (!k->easy) {
        pb_status rc = easy_setup(c, k, msg);
        if (rc != PB_OK)
            return rc;
    }
    k->answer.len = 0;
    k->overflow = 0;
    k->retry_after_s = -1;
    k->curl_err[0] = '\0';
    if (curl_multi_add_handle(multi, k->easy) != CURLM_OK)
        return pb_errf(msg, PB_ERR_NOMEM, "cannot start an LLM request (curl multi)");
    k->state = CALL_RUNNING;
    k->resp->attempts++;
    pthread_mutex_lock(&c->lock);
    c->usage.attempts++;
    pthread_mutex_unlock(&c->lock);
    return PB_OK;
}

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

/* Classifies a finished attempt: done (answer parsed into k->resp), retry, or final error
 * (code in *code, message in msg). Transport failures are judged here, answers by llmwire. */
static enum llmwire_verdict judge_attempt(llm_client *c, struct call *k, CURLcode cc,
                                          pb_status *code, char *msg)
{
    long http = 0;
    curl_easy_getinfo(k->easy, CURLINFO_RESPONSE_CODE, &http);
    k->resp->http_status = (int)http;
    if (k->overflow) {
        *code = pb_errf(msg, PB_ERR_LIMIT, "LLM answer larger than the %zu-byte limit", k->limit);
        return LLMWIRE_FINAL;
    }
    if (cc == CURLE_OPERATION_TIMEDOUT) {
        *code = pb_errf(msg, PB_ERR_TIMEOUT, "LLM provider at %s gave no answer within %.3g s",
                        c->base_url, c->timeout_s);
        return LLMWIRE_RETRY;
    }
    if (cc != CURLE_OK) {
        *code = pb_errf(msg, PB_ERR_UNAVAILABLE, "cannot reach the LLM provider at %s: %s",
                        c->base_url, k->curl_err[0] ? k->curl_err : curl_easy_strerror(cc));
        return retryable_transport(cc) ? LLMWIRE_RETRY : LLMWIRE_FINAL;
    }
    return llmwire_judge_answer(http, k->answer.data, k->answer.len, c->api_key, k->resp, code,
                                msg);
}

static void call_finish(llm_client *c, struct call *k, pb_status code, const char *msg)
{
    struct llm_response *r = k->resp;
    k->state = CALL_DONE;
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
    if (code == PB_OK) {
        if (k->err)
            k->err[0] = '\0';
        return;
    }
    if (k->err) {
        if (r->attempts > 1)
            snprintf(k->err, PB_ERR_LEN, "%s (after %d attempts)", msg, r->attempts);
        else
            snprintf(k->err, PB_ERR_LEN, "%s", msg);
        llmerr_redact(k->err, PB_ERR_LEN, c->api_key);
    }
}

/* Settles a finished attempt: done, or waiting for its backoff before the next attempt. */
static void attempt_end(llm_client *c, struct call *k, CURLcode cc)
{
    char msg[PB_ERR_LEN];
    pb_status code = PB_OK;
    enum llmwire_verdict v = judge_attempt(c, k, cc, &code, msg);
    if (v == LLMWIRE_RETRY && k->resp->attempts <= c->max_retries) {
        double delay = k->retry_after_s >= 0
                           ? fmin(k->retry_after_s, c->retry_after_max_s)
                           : llm_backoff_delay(c->backoff_initial_s, c->backoff_max_s,
                                               k->resp->attempts, rng_uniform(c));
        k->resp->backoff_s += delay;
        k->not_before = pb_now_monotonic() + delay;
        k->state = CALL_WAITING;
        return;
    }
    call_finish(c, k, v == LLMWIRE_DONE ? PB_OK : code, msg);
}

/* ---- the transfer loop --------------------------------------------------------------------- */

/* Milliseconds to sleep in curl_multi_poll: curl's own timeout, or until the next waiting
 * call may start when a slot is free. */
static int poll_ms(CURLM *multi, const struct call *calls, size_t n, size_t running, int limit)
{
    long ms = -1;
    curl_multi_timeout(multi, &ms);
    if (ms < 0 || ms > 1000)
        ms = 1000;
    if ((int)running >= limit)
        return (int)ms;
    double now = pb_now_monotonic();
    for (size_t i = 0; i < n; i++) {
        if (calls[i].state != CALL_WAITING)
            continue;
        double wait = ceil((calls[i].not_before - now) * 1000);
        if (wait < ms)
            ms = wait < 0 ? 0 : (long)wait;
    }
    return (int)ms;
}

typedef void (*llm_done_fn)(size_t index, struct llm_batch_item *item, void *user);

/* Drives all calls to completion with at most `limit` transfers in flight. Returns PB_OK once
 * every call is done, or a negative code when curl itself fails (calls left undone). */
static pb_status run_calls(llm_client *c, struct call *calls, size_t n, int limit,
                           llm_done_fn on_done, struct llm_batch_item *items, void *user, char *err)
{
    pb_status rc = PB_OK;
    size_t done = 0, running = 0;
    CURLM *multi = curl_multi_init();
    if (!multi)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory (curl multi)");
    while (done < n) {
        double now = pb_now_monotonic();
        for (size_t i = 0; i < n && (int)running < limit; i++) {
            struct call *k = &calls[i];
            if (k->state != CALL_WAITING || k->not_before > now)
                continue;
            char msg[PB_ERR_LEN];
            pb_status code = attempt_start(c, k, multi, msg);
            if (code == PB_OK) {
                running++;
                continue;
            }
            call_finish(c, k, code, msg);
            done++;
            if (on_done)
                on_done(i, items ? &items[i] : NULL, user);
        }
        int still;
        CURLMcode mc = curl_multi_perform(multi, &still);
        CURLMsg *m;
        int queued;
        while (mc == CURLM_OK && (m = curl_multi_info_read(multi, &queued)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            struct call *k = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&k);
            CURLcode result = m->data.result;
            curl_multi_remove_handle(multi, m->easy_handle);
            running--;
            attempt_end(c, k, result);
            if (k->state == CALL_DONE) {
                done++;
                if (on_done)
                    on_done((size_t)(k - calls), items ? &items[k - calls] : NULL, user);
            }
        }
        if (mc == CURLM_OK && done < n)
            mc = curl_multi_poll(multi, NULL, 0, poll_ms(multi, calls, n, running, limit), NULL);
        if (mc != CURLM_OK) {
            rc = pb_errf(err, PB_ERR_IO, "curl multi failed: %s", curl_multi_strerror(mc));
            break;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (calls[i].state == CALL_RUNNING)
            curl_multi_remove_handle(multi, calls[i].easy);
        if (calls[i].state != CALL_DONE)
            call_finish(c, &calls[i], rc, err);
    }
    curl_multi_cleanup(multi);
    return rc;
}

static void call_release(struct call *k)
{
    if (k->easy)
        curl_easy_cleanup(k->easy);
    curl_slist_free_all(k->headers);
    free(k->body);
    pb_buf_free(&k->answer);
}

/* Prepares call k for req; on bad input the call is finished at once with the error. */
static void call_init(llm_client *c, struct call *k, const struct llm_request *req,
                      struct llm_response *resp, pb_status *status, char *err)
{
    char msg[PB_ERR_LEN];
    memset(k, 0, sizeof *k);
    memset(resp, 0, sizeof *resp);
    k->req = req;
    k->resp = resp;
    k->status = status;
    k->err = err;
    k->limit = c->max_response_bytes;
    k->started = pb_now_monotonic();
    k->state = CALL_WAITING;
    pthread_mutex_lock(&c->lock);
    c->usage.calls++;
    pthread_mutex_unlock(&c->lock);
    struct llmwire_defaults d = {c->model, c->temperature, c->max_tokens};
    *status = llmwire_request_body(req, &d, &k->body, msg);
    if (*status != PB_OK)
        call_finish(c, k, *status, msg);
}

pb_status llm_chat(llm_client *c, const struct llm_request *req, struct llm_response *out,
                   char *err)
{
    struct call k;
    pb_status status = PB_OK;
    call_init(c, &k, req, out, &status, err);
    if (k.state != CALL_DONE)
        run_calls(c, &k, 1, 1, NULL, NULL, NULL, err); /* sets status through k */
    call_release(&k);
    if (status != PB_OK)
        llm_response_clear(out);
    return status;
}

pb_status llm_chat_batch(llm_client *c, struct llm_batch_item *items, size_t n,
                         void (*on_done)(size_t index, struct llm_batch_item *item, void *user),
                         void *user, char *err)
{
    pb_status rc = PB_OK;
    size_t failed = 0, first = 0;
    struct call *calls = calloc(n ? n : 1, sizeof *calls);
    if (!calls)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory (%zu LLM requests)", n);
    for (size_t i = 0; i < n; i++) {
        call_init(c, &calls[i], &items[i].req, &items[i].resp, &items[i].status, items[i].err);
        if (calls[i].state == CALL_DONE && on_done)
            on_done(i, &items[i], user);
    }
    rc = run_calls(c, calls, n, c->concurrency, on_done, items, user, err);
    for (size_t i = 0; i < n; i++) {
        call_release(&calls[i]);
        if (items[i].status != PB_OK && failed++ == 0)
            first = i;
    }
    free(calls);
    if (rc == PB_OK && failed > 0)
        rc = pb_errf(err, items[first].status, "%zu of %zu LLM requests failed; item %zu: %s",
                     failed, n, first, items[first].err);
    return rc;
}

void llm_response_clear(struct llm_response *r)
{
    if (!r)
        return;
    free(r->text);
    free(r->finish_reason);
    r->text = NULL;
    r->finish_reason = NULL;
}

void llm_usage_get(const llm_client *c, struct llm_usage *out)
{
    llm_client *m = (llm_client *)c; /* the lock is not part of the logical state */
    pthread_mutex_lock(&m->lock);
    *out = c->usage;
    pthread_mutex_unlock(&m->lock);
}

/* ---- client -------------------------------------------------------------------------------- */

static char *dup_trimmed(const char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    return strndup(s, n);
}

pb_status llm_client_new(const struct llm_options *opt, llm_client **out, char *err)
{
    *out = NULL;
    if (!opt->base_url || !*opt->base_url)
        return pb_errf(err, PB_ERR_UNAVAILABLE,
                       "no LLM provider configured: set PB_LLM_BASE_URL (or OPENAI_BASE_URL) "
                       "and OPENAI_API_KEY");
    llm_client *c = calloc(1, sizeof *c);
    if (!c)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&c->lock, NULL);
    c->base_url = strdup(opt->base_url);
    c->api_key = strdup(opt->api_key ? opt->api_key : "");
    c->model = strdup(opt->model ? opt->model : "");
    pb_status rc = PB_OK;
    if (!c->base_url || !c->api_key || !c->model) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    size_t n = strlen(c->base_url); /* without trailing slashes, as messages name it */
    while (n > 0 && c->base_url[n - 1] == '/')
        c->base_url[--n] = '\0';
    rc = llmwire_endpoint(c->base_url, opt->api_version, c->api_key, &c->url, &c->auth_header, err);
    if (rc != PB_OK)
        goto cleanup;
    c->temperature = opt->temperature;
    c->max_tokens = opt->max_tokens;
    c->timeout_s = opt->timeout_s > 0 ? opt->timeout_s : 30;
    c->max_retries = opt->max_retries >= 0 ? opt->max_retries : 2;
    c->concurrency = opt->concurrency > 0 ? opt->concurrency : 4;
    c->backoff_initial_s = opt->backoff_initial_s > 0 ? opt->backoff_initial_s : 0.5;
    c->backoff_max_s = opt->backoff_max_s > 0 ? opt->backoff_max_s : 8;
    c->retry_after_max_s = opt->retry_after_max_s > 0 ? opt->retry_after_max_s : 120;
    c->max_response_bytes =
        opt->max_response_bytes > 0 ? opt->max_response_bytes : LLM_MAX_RESPONSE_BYTES;
    c->rng = (uint64_t)(pb_now_wall() * 1e6) ^ (uint64_t)(uintptr_t)c;
    *out = c;
    c = NULL;
cleanup:
    llm_client_free(c);
    return rc;
}

pb_status llm_client_from_config(const config *cfg, llm_client **out, char *err)
{
    char *key = NULL;
    const char *key_file = config_str(cfg, "llm.api_key_file");
    pb_status rc = PB_OK;
    *out = NULL;
    key = dup_trimmed(config_str(cfg, "llm.api_key"));
    if (key && !*key && *key_file) {
        free(key);
        key = NULL;
        char *text = NULL;
        rc = pb_read_file(key_file, 65536, &text, NULL, err);
        if (rc != PB_OK)
            goto cleanup; /* the message names the file, never its content */
        key = dup_trimmed(text);
        free(text);
        if (key && !*key) {
            rc = pb_errf(err, PB_ERR_INVALID, "API key file %s is empty", key_file);
            goto cleanup;
        }
    }
    if (!key) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    struct llm_options opt = {
        .base_url = config_str(cfg, "llm.base_url"),
        .api_key = key,
        .api_version = config_str(cfg, "llm.api_version"),
        .model = config_str(cfg, "llm.model"),
        .temperature = config_double(cfg, "llm.temperature"),
        .max_tokens = (int)config_int(cfg, "llm.max_tokens"),
        .timeout_s = config_double(cfg, "llm.timeout_s"),
        .max_retries = (int)config_int(cfg, "llm.max_retries"),
        .concurrency = (int)config_int(cfg, "llm.concurrency"),
        .backoff_initial_s = config_double(cfg, "llm.backoff_initial_s"),
        .backoff_max_s = config_double(cfg, "llm.backoff_max_s"),
        .retry_after_max_s = config_double(cfg, "llm.retry_after_max_s"),
    };
    rc = llm_client_new(&opt, out, err);
cleanup:
    if (key) {
        memset(key, 0, strlen(key));
        free(key);
    }
    return rc;
}

void llm_client_free(llm_client *c)
{
    if (!c)
        return;
    if (c->api_key)
        memset(c->api_key, 0, strlen(c->api_key));
    if (c->auth_header)
        memset(c->auth_header, 0, strlen(c->auth_header));
    free(c->base_url);
    free(c->api_key);
    free(c->model);
    free(c->url);
    free(c->auth_header);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
