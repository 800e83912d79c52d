/* svc_harness.h — shared by the service's in-process tests (tests/test_pipeline*.c,
 * tests/e2e_service*.c): starts the fake LLM ($PB_FAKE_LLM, through fakellm.h) as a child process,
 * trains a tiny emotion model from tests/fixtures/service, runs the real app + server in this
 * process on port 0 (so ASan sees every handler), and speaks HTTP with libcurl. Header-only; it
 * owns the child it starts (stopped by pid) and the temporary folder's files. */
#ifndef SVC_HARNESS_H
#define SVC_HARNESS_H

#include "service/api.h"
#include "service/app.h"
#include "check.h"
#include "fakellm.h"
#include "emotion/emodata.h"
#include "emotion/emotrain.h"
#include "http/server.h"
#include "store/store.h"
#include "store/writer.h"
#include "testdb.h"

#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

struct svc {
    config *cfg;
    app *app;
    server *srv;
    struct server_route *routes;
    char url[96];
    char db[512];
};

static struct fakellm svc_fake;

static inline void svc_fake_stop(void)
{
    fakellm_stop(&svc_fake);
}

/* Starts fake-llm with tests/fixtures/service/fake_rules.json; exits the test when it cannot. */
static inline const char *svc_fake_start(void)
{
    const char *args[] = {"--rules", check_source_path("tests/fixtures/service/fake_rules.json"),
                          NULL};
    fakellm_start(&svc_fake, args);
    atexit(svc_fake_stop); /* an exit(2) on a setup failure must not leave it running */
    return svc_fake.root;
}

/* Trains the tiny emotion model into dir/emotion.pbem; returns its path (static). */
static inline const char *svc_emotion_model(const char *dir)
{
    static char path[512];
    char err[PB_ERR_LEN], labels[1024], train[1024];
    struct emodata *d = NULL;
    emomodel *m = NULL;
    struct emotrain_opts o;
    /* check_source_path returns static storage: copy each path before the next call. */
    snprintf(labels, sizeof labels, "%s",
             check_source_path("tests/fixtures/service/emotion_labels.txt"));
    snprintf(train, sizeof train, "%s",
             check_source_path("tests/fixtures/service/emotion_train.tsv"));
    struct emodata_opts dopt = {.format = EMODATA_GOEMOTIONS, .labels_path = labels};
    snprintf(path, sizeof path, "%s/emotion.pbem", dir);
    emotrain_defaults(&o);
    o.min_count = 1;
    o.holdout = 0;
    if (emodata_read(train, &dopt, &d, err) != PB_OK ||
        emodata_apply_names(d, check_source_path("tests/fixtures/service/emotion_names.tsv"),
                            err) != PB_OK ||
        emotrain_fit(d, &o, &m, err) != PB_OK || emomodel_save(m, path, err) != PB_OK) {
        fprintf(stderr, "cannot train the test emotion model: %s\n", err);
        exit(2);
    }
    emomodel_free(m);
    emodata_free(d);
    return path;
}

/* Starts app + server on a fresh database (testdb.h: a file in a new temporary folder, or a new
 * PostgreSQL database in the PostgreSQL pass), with settings: pairs of
 * key, value, then NULL. db, prompts, emotion model, provider (llm.base_url "" = none), port 0
 * and a fixed seed are set first. */
static inline void svc_start(struct svc *s, const char *const *settings)
{
    char err[PB_ERR_LEN], dir[256];
    size_t n_routes = 0;
    memset(s, 0, sizeof *s);
    snprintf(dir, sizeof dir, "%s", check_tmpdir());
    testdb_make(s->db, sizeof s->db, dir, "svc.db"); /* a file, or a PostgreSQL URL */
    const char *base[] = {"db.path",
                          s->db,
                          "server.port",
                          "0",
                          "server.access_log",
                          "",
                          "server.threads",
                          "4",
                          "emotion.model",
                          svc_emotion_model(dir),
                          "llm.base_url",
                          svc_fake.root,
                          "llm.max_retries",
                          "0",
                          "bandit.seed",
                          "7",
                          "db.synchronous",
                          "NORMAL",
                          NULL};
    int rc = config_defaults(&s->cfg, err);
    for (size_t i = 0; rc == PB_OK && base[i]; i += 2)
        rc = config_set(s->cfg, base[i], base[i + 1], err);
    for (size_t i = 0; rc == PB_OK && settings && settings[i]; i += 2)
        rc = config_set(s->cfg, settings[i], settings[i + 1], err);
    struct app_options ao = {.prompts_dir = check_source_path("prompts"), .no_background = 1};
    if (rc == PB_OK)
        rc = app_new(s->cfg, &ao, &s->app, err);
    if (rc == PB_OK)
        rc = api_routes_new(&s->routes, &n_routes, err);
    struct server_options so = {s->routes,  n_routes,
                                s->app,     s->app ? app_metrics(s->app) : NULL,
                                api_health, api_before_metrics};
    if (rc == PB_OK)
        rc = server_new(s->cfg, &so, &s->srv, err);
    if (rc == PB_OK)
        rc = server_start(s->srv, err);
    if (rc != PB_OK) {
        fprintf(stderr, "cannot start the service: %s\n", err);
        exit(2);
    }
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", server_port(s->srv));
}

static inline void svc_stop(struct svc *s)
{
    server_free(s->srv);
    app_free(s->app);
    free(s->routes);
    config_free(s->cfg);
    memset(s, 0, sizeof *s);
}

static inline size_t svc_collect(char *p, size_t size, size_t n, void *ud)
{
    json_t **buf = ud;
    json_t *old = *buf;
    const char *prev = json_string_value(old);
    size_t plen = prev ? strlen(prev) : 0;
    char *joined = malloc(plen + size * n + 1);
    memcpy(joined, prev ? prev : "", plen);
    memcpy(joined + plen, p, size * n);
    joined[plen + size * n] = '\0';
    *buf = json_string_nocheck(joined);
    free(joined);
    json_decref(old);
    return size * n;
}

/* One HTTP request; returns the status and, when out is not NULL, the parsed JSON answer
 * (NULL when it is not JSON). token may be NULL. */
static inline int svc_http(const char *method, const char *url, const char *token, const char *body,
                           json_t **out)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    /* The server closes first, so TIME_WAIT stays on its port: thousands of client-side
     * TIME_WAIT ports would make other tests' random ports fail to bind. */
    h = curl_slist_append(h, "Connection: close");
    char auth[256];
    json_t *raw = NULL;
    long status = 0;
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, svc_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &raw);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (out)
        *out = raw ? json_loads(json_string_value(raw), 0, NULL) : NULL;
    json_decref(raw);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return (int)status;
}

/* POST to the service at path with a JSON body. */
static inline int svc_post(const struct svc *s, const char *path, const char *token,
                           const char *body, json_t **out)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", s->url, path);
    return svc_http("POST", url, token, body, out);
}

static inline int svc_get(const struct svc *s, const char *path, const char *token, json_t **out)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", s->url, path);
    return svc_http("GET", url, token, NULL, out);
}

/* The fake LLM's request log ({"requests":[...]}); caller decrefs. */
static inline json_t *svc_fake_requests(void)
{
    char url[256];
    json_t *out = NULL;
    snprintf(url, sizeof url, "%s/_requests", svc_fake.root);
    svc_http("GET", url, NULL, NULL, &out);
    return out;
}

static inline void svc_fake_reset(void)
{
    char url[256];
    snprintf(url, sizeof url, "%s/_reset", svc_fake.root);
    svc_http("POST", url, NULL, "{}", NULL);
}

/* Waits until everything the service queued to its writer is on disk: choose writes its
 * impression behind the answer, so a test that reads the database right after must wait. */
static inline void svc_flush(const struct svc *s)
{
    char err[PB_ERR_LEN];
    if (writer_flush(app_writer(s->app), err) != PB_OK)
        fprintf(stderr, "svc_flush: %s\n", err);
}

/* Row counts of the service's database (after svc_flush), read through a fresh handle. */
static inline struct store_counts svc_counts(const struct svc *s)
{
    struct store_counts c = {0};
    char err[PB_ERR_LEN];
    store *st = NULL;
    svc_flush(s);
    if (store_open(s->db, NULL, &st, err) != PB_OK || store_count_rows(st, &c, err) != PB_OK)
        fprintf(stderr, "svc_counts: %s\n", err);
    store_close(st);
    return c;
}

static inline long long svc_int(const json_t *j, const char *key)
{
    return (long long)json_integer_value(json_object_get(j, key));
}

static inline const char *svc_str(const json_t *j, const char *key)
{
    return json_string_value(json_object_get(j, key));
}

#endif
