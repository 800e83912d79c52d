/* llm.c — OpenAI-compatible chat completions over libcurl: request and answer JSON (jansson),
 * the retry policy (backoff with full jitter, Retry-After, final quota errors), one curl multi
 * handle per llm_chat / llm_chat_batch call so calls share nothing but the client's usage
 * counters (under a mutex). Owns the client struct and its copy of the API key. It must not log,
 * and no error string it writes may contain the key (provider messages go through llmerr). */
#include "llm/llm.h"

#include "llm/llmerr.h"

#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
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
enum verdict { VERDICT_OK, VERDICT_RETRY, VERDICT_FINAL };

/* One logical request moving through its attempts. */
struct call {
    const struct llm_request *req;
    struct llm_response *resp;
    int *status;
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

int llm_global_init(char *err)
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

int llm_parse_retry_after(const char *value, time_t now, double *seconds)
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
            return 1;
        }
    }
    time_t t = curl_getdate(value, NULL);
    if (t == (time_t)-1)
        return 0;
    *seconds = t > now ? (double)(t - now) : 0;
    return 1;
}

/* ---- request and answer JSON --------------------------------------------------------------- */

/* Builds the request body into *out (caller frees). PB_ERR_INVALID on bad messages. */
static int build_body(const llm_client *c, const struct llm_request *req, char **out, char *msg)
{
    int rc = PB_OK;
    json_t *root = json_object(), *msgs = json_array();
    *out = NULL;
    if (!root || !msgs || json_object_set_new(root, "messages", msgs) != 0) {
        json_decref(root);
        return pb_errf(msg, PB_ERR_NOMEM, "out of memory");
    }
    if (!req->messages || req->n_messages == 0) {
        rc = pb_errf(msg, PB_ERR_INVALID, "LLM request has no messages");
        goto cleanup;
    }
    for (size_t i = 0; i < req->n_messages; i++) {
        const struct llm_message *m = &req->messages[i];
        json_t *role = m->role ? json_string(m->role) : NULL;
        json_t *content = m->content ? json_string(m->content) : NULL;
        if (!role || !content) {
            json_decref(role);
            json_decref(content);
            rc = pb_errf(msg, PB_ERR_INVALID,
                         "LLM message %zu: role and content must be UTF-8 text", i + 1);
            goto cleanup;
        }
        json_array_append_new(msgs, json_pack("{s:o,s:o}", "role", role, "content", content));
    }
    const char *model = req->model && *req->model ? req->model : c->model;
    double temperature = req->temperature >= 0 ? req->temperature : c->temperature;
    int max_tokens = req->max_tokens > 0 ? req->max_tokens : c->max_tokens;
    if (model && *model)
        json_object_set_new(root, "model", json_string(model));
    if (temperature >= 0)
        json_object_set_new(root, "temperature", json_real(temperature));
    if (max_tokens > 0)
        json_object_set_new(root, "max_tokens", json_integer(max_tokens));
    *out = json_dumps(root, JSON_COMPACT);
    if (!*out)
        rc = pb_errf(msg, PB_ERR_NOMEM, "out of memory");
cleanup:
    json_decref(root);
    return rc;
}

static long json_long(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (long)json_integer_value(v) : 0;
}

/* Reads choices[0].message.content, finish_reason and usage from a 2xx body into r. */
static int parse_answer(const char *data, size_t len, struct llm_response *r, char *msg)
{
    json_error_t jerr;
    int rc = PB_OK;
    json_t *root = json_loadb(data ? data : "", len, 0, &jerr);
    if (!root)
        return pb_errf(msg, PB_ERR_PROVIDER, "malformed answer: not valid JSON (%s at byte %d)",
                       jerr.text, jerr.position);
    json_t *choices = json_object_get(root, "choices");
    json_t *first = json_array_get(choices, 0);
    json_t *message = json_object_get(first, "message");
    json_t *content = json_object_get(message, "content");
    json_t *finish = json_object_get(first, "finish_reason");
    if (!json_is_array(choices)) {
        rc = pb_errf(msg, PB_ERR_PROVIDER, "malformed answer: no \"choices\" array");
    } else if (!first) {
        rc = pb_errf(msg, PB_ERR_PROVIDER, "malformed answer: \"choices\" is empty");
    } else if (!json_is_object(message)) {
        rc = pb_errf(msg, PB_ERR_PROVIDER, "malformed answer: choices[0].message missing");
    } else if (content && !json_is_null(content) && !json_is_string(content)) {
        rc = pb_errf(msg, PB_ERR_PROVIDER, "malformed answer: message.content is not a string");
    } else if (!json_is_string(content) || json_string_length(content) == 0) {
        rc = pb_errf(msg, PB_ERR_PROVIDER, "empty answer (finish_reason %s)",
                     json_is_string(finish) ? json_string_value(finish) : "none");
    } else {
        r->text = strdup(json_string_value(content));
        r->finish_reason = json_is_string(finish) ? strdup(json_string_value(finish)) : NULL;
        json_t *usage = json_object_get(root, "usage");
        r->prompt_tokens = json_long(usage, "prompt_tokens");
        r->completion_tokens = json_long(usage, "completion_tokens");
        if (!r->text || (json_is_string(finish) && !r->finish_reason))
            rc = pb_errf(msg, PB_ERR_NOMEM, "out of memory");
    }
    json_decref(root);
    return rc;
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
static int easy_setup(llm_client *c, struct call *k, char *msg)
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

static int attempt_start(llm_client *c, struct call *k, CURLM *multi, char *msg)
{
    if (!k->easy) {
        int rc = easy_setup(c, k, msg);
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

static int retryable_status(long s)
{
    return s == 408 || s == 409 || s == 429 || s >= 500;
}

static int retryable_transport(CURLcode cc)
{
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return 1;
    default:
        return 0;
    }
}

/* Classifies a finished attempt: success (answer parsed into k->resp), retry, or final error
 * (code in *code, message in msg). */
static enum verdict judge_attempt(llm_client *c, struct call *k, CURLcode cc, int *code, char *msg)
{
    long http = 0;
    curl_easy_getinfo(k->easy, CURLINFO_RESPONSE_CODE, &http);
    k->resp->http_status = (int)http;
    if (k->overflow) {
        *code = pb_errf(msg, PB_ERR_LIMIT, "LLM answer larger than the %zu-byte limit", k->limit);
        return VERDICT_FINAL;
    }
    if (cc == CURLE_OPERATION_TIMEDOUT) {
        *code = pb_errf(msg, PB_ERR_TIMEOUT, "LLM provider at %s gave no answer within %.3g s",
                        c->base_url, c->timeout_s);
        return VERDICT_RETRY;
    }
    if (cc != CURLE_OK) {
        *code = pb_errf(msg, PB_ERR_UNAVAILABLE, "cannot reach the LLM provider at %s: %s",
                        c->base_url, k->curl_err[0] ? k->curl_err : curl_easy_strerror(cc));
        return retryable_transport(cc) ? VERDICT_RETRY : VERDICT_FINAL;
    }
    if (http >= 200 && http < 300) {
        *code = parse_answer(k->answer.data, k->answer.len, k->resp, msg);
        return *code == PB_OK ? VERDICT_OK : VERDICT_FINAL;
    }
    char text[PB_ERR_LEN];
    int quota;
    llmerr_describe(k->answer.data, k->answer.len, c->api_key, text, sizeof text, &quota);
    if (http == 429 && quota) {
        *code = pb_errf(msg, PB_ERR_LIMIT, "LLM provider quota exhausted (HTTP 429): %s", text);
        return VERDICT_FINAL;
    }
    *code = pb_errf(msg, http == 401 || http == 403 ? PB_ERR_FORBIDDEN : PB_ERR_PROVIDER,
                    "LLM provider answered HTTP %ld: %s", http, text);
    return retryable_status(http) ? VERDICT_RETRY : VERDICT_FINAL;
}

static void call_finish(llm_client *c, struct call *k, int code, const char *msg)
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
    int code = PB_OK;
    enum verdict v = judge_attempt(c, k, cc, &code, msg);
    if (v == VERDICT_RETRY && k->resp->attempts <= c->max_retries) {
        double delay = k->retry_after_s >= 0
                           ? fmin(k->retry_after_s, c->retry_after_max_s)
                           : llm_backoff_delay(c->backoff_initial_s, c->backoff_max_s,
                                               k->resp->attempts, rng_uniform(c));
        k->resp->backoff_s += delay;
        k->not_before = pb_now_monotonic() + delay;
        k->state = CALL_WAITING;
        return;
    }
    call_finish(c, k, v == VERDICT_OK ? PB_OK : code, msg);
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
static int run_calls(llm_client *c, struct call *calls, size_t n, int limit, llm_done_fn on_done,
                     struct llm_batch_item *items, void *user, char *err)
{
    int rc = PB_OK;
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
            int code = attempt_start(c, k, multi, msg);
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
                      struct llm_response *resp, int *status, char *err)
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
    *status = build_body(c, req, &k->body, msg);
    if (*status != PB_OK)
        call_finish(c, k, *status, msg);
}

int llm_chat(llm_client *c, const struct llm_request *req, struct llm_response *out, char *err)
{
    struct call k;
    int status = PB_OK;
    call_init(c, &k, req, out, &status, err);
    if (k.state != CALL_DONE)
        run_calls(c, &k, 1, 1, NULL, NULL, NULL, err); /* sets status through k */
    call_release(&k);
    if (status != PB_OK)
        llm_response_clear(out);
    return status;
}

int llm_chat_batch(llm_client *c, struct llm_batch_item *items, size_t n,
                   void (*on_done)(size_t index, struct llm_batch_item *item, void *user),
                   void *user, char *err)
{
    int rc = PB_OK;
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

static int has_control_chars(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* Builds the chat-completions URL and the auth header from the options. */
static int client_endpoint(llm_client *c, const struct llm_options *opt, char *err)
{
    const char *version = opt->api_version ? opt->api_version : "";
    const char *key = opt->api_key ? opt->api_key : "";
    size_t n = strlen(c->base_url);
    while (n > 0 && c->base_url[n - 1] == '/')
        c->base_url[--n] = '\0';
    if (strncmp(c->base_url, "http://", 7) != 0 && strncmp(c->base_url, "https://", 8) != 0)
        return pb_errf(err, PB_ERR_INVALID,
                       "LLM base URL must start with http:// or https://, got '%.80s'",
                       c->base_url);
    for (const char *p = version; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
            return pb_errf(err, PB_ERR_INVALID, "llm.api_version '%.40s' has odd characters",
                           version);
    if (has_control_chars(key))
        return pb_errf(err, PB_ERR_INVALID, "the LLM API key contains control characters");
    size_t len = n + strlen(version) + 64;
    c->url = malloc(len);
    if (!c->url)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    snprintf(c->url, len, "%s/chat/completions%s%s", c->base_url, *version ? "?api-version=" : "",
             version);
    if (*key) {
        len = strlen(key) + 32;
        c->auth_header = malloc(len);
        if (!c->auth_header)
            return pb_errf(err, PB_ERR_NOMEM, "out of memory");
        snprintf(c->auth_header, len, "%s%s", *version ? "api-key: " : "Authorization: Bearer ",
                 key);
    }
    return PB_OK;
}

int llm_client_new(const struct llm_options *opt, llm_client **out, char *err)
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
    int rc = PB_OK;
    if (!c->base_url || !c->api_key || !c->model) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    rc = client_endpoint(c, opt, err);
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

int llm_client_from_config(const config *cfg, llm_client **out, char *err)
{
    char *key = NULL;
    const char *key_file = config_str(cfg, "llm.api_key_file");
    int rc = PB_OK;
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
