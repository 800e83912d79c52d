/* llm.c — the client (its settings, key and usage counters) and the blocking transport:
 * llm_chat and llm_chat_batch drive their calls (llmcall) through one curl multi handle per
 * invocation, so blocking calls share nothing but the client's counters (under a mutex). The
 * event loop for many waiting calls is llmloop. Also the retry-timing helpers. It must not log,
 * and no error string it writes may contain the key. */
#include "llm/llm.h"

#include "llm/llmcall.h"
#include "llm/llmwire.h"

#include <ctype.h>
#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- retry timing -------------------------------------------------------------------------- */

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

/* ---- the blocking runner ------------------------------------------------------------------- */

/* Milliseconds to sleep in curl_multi_poll: curl's own timeout, or until the next waiting
 * call may start when a slot is free. */
static int poll_ms(CURLM *multi, const struct llmcall *calls, size_t n, size_t running, int limit)
{
    long ms = -1;
    curl_multi_timeout(multi, &ms);
    if (ms < 0 || ms > 1000)
        ms = 1000;
    if ((int)running >= limit)
        return (int)ms;
    double now = pb_now_monotonic();
    for (size_t i = 0; i < n; i++) {
        if (calls[i].state != LLMCALL_WAITING)
            continue;
        double wait = ceil((calls[i].not_before - now) * 1000);
        if (wait < ms)
            ms = wait < 0 ? 0 : (long)wait;
    }
    return (int)ms;
}

typedef void (*llm_done_fn)(size_t index, struct llm_batch_item *item, void *user);

/* Drives all calls to completion with at most `limit` transfers in flight. Returns PB_OK once
 * every call is done, or a negative code when curl itself fails (calls left undone are
 * finished with it). */
static pb_status run_calls(struct llmcall *calls, size_t n, int limit, llm_done_fn on_done,
                           struct llm_batch_item *items, void *user, char *err)
{
    pb_status rc = PB_OK;
    size_t done = 0, running = 0;
    for (size_t i = 0; i < n; i++)
        done += calls[i].state == LLMCALL_DONE;
    CURLM *multi = curl_multi_init();
    if (!multi)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory (curl multi)");
    while (done < n) {
        double now = pb_now_monotonic();
        for (size_t i = 0; i < n && (int)running < limit; i++) {
            struct llmcall *k = &calls[i];
            if (k->state != LLMCALL_WAITING || k->not_before > now)
                continue;
            if (llmcall_attempt_start(k, multi) == PB_OK) {
                running++;
                continue;
            }
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
            struct llmcall *k = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&k);
            CURLcode result = m->data.result;
            curl_multi_remove_handle(multi, m->easy_handle);
            running--;
            llmcall_attempt_end(k, result);
            if (k->state == LLMCALL_DONE) {
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
        if (calls[i].state == LLMCALL_RUNNING)
            curl_multi_remove_handle(multi, calls[i].easy);
        if (calls[i].state != LLMCALL_DONE)
            llmcall_finish(&calls[i], rc, err);
    }
    curl_multi_cleanup(multi);
    return rc;
}

pb_status llm_chat(llm_client *c, const struct llm_request *req, struct llm_response *out,
                   char *err)
{
    struct llmcall k;
    pb_status status = PB_OK;
    if (llmcall_init(&k, c, req, 0, 0, NULL, NULL, out, &status, err) == PB_OK)
        run_calls(&k, 1, 1, NULL, NULL, NULL, err); /* sets status through k */
    llmcall_release(&k);
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
    struct llmcall *calls = calloc(n ? n : 1, sizeof *calls);
    if (!calls)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory (%zu LLM requests)", n);
    for (size_t i = 0; i < n; i++) {
        if (llmcall_init(&calls[i], c, &items[i].req, 0, 0, NULL, NULL, &items[i].resp,
                         &items[i].status, items[i].err) != PB_OK &&
            on_done)
            on_done(i, &items[i], user);
    }
    rc = run_calls(calls, n, c->concurrency, on_done, items, user, err);
    for (size_t i = 0; i < n; i++) {
        llmcall_release(&calls[i]);
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
