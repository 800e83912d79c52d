/* dash_harness.h — shared by the dashboard's and the chat history's tests
 * (tests/test_service_dashboard.c, test_service_overview.c, test_service_convapi.c,
 * test_service_dashcache.c, test_store_dashq.c): a fresh store (testdb.h: SQLite or PostgreSQL),
 * rows written straight into it (arms, impressions with rewards, consented turns with their
 * messages), and a real app behind a server serving given route tables (admin token "tok", no LLM,
 * no emotion model) with a GET through libcurl. Header-only; everything it opens is closed by its
 * *_stop / caller. */
#ifndef DASH_HARNESS_H
#define DASH_HARNESS_H

#include "check.h"
#include "http/server.h"
#include "service/app.h"
#include "store/arms.h"
#include "store/experiment.h"
#include "store/feedback.h"
#include "store/store.h"
#include "testdb.h"

#include <curl/curl.h>
#include <jansson.h>
#include <strings.h>

static char dash_err[PB_ERR_LEN];

static inline store *dash_open_store(void)
{
    char path[300];
    store *s = NULL;
    testdb_make(path, sizeof path, check_tmpdir(), "dash.db");
    if (store_open(path, NULL, &s, dash_err) != PB_OK) {
        fprintf(stderr, "store_open: %s\n", dash_err);
        exit(2);
    }
    return s;
}

static inline int64_t dash_add_arm(store *s, int64_t exp, const char *name, const char *text)
{
    int64_t id = 0;
    CHECK_INT(arms_add(s, exp, name, text, NULL, &id, NULL, dash_err), PB_OK);
    return id;
}

/* One impression of arm (segment may be NULL) with one reward of source; the reward's id. */
static inline int64_t dash_reward(store *s, int64_t exp, int64_t arm, const char *segment,
                                  const char *source, double value)
{
    struct feedback_impression imp = {
        .experiment_id = exp, .arm_id = arm, .segment = segment, .activated = 1};
    struct feedback_reward r = {.source = source, .value = value};
    int64_t id = 0;
    int dup;
    CHECK_INT(feedback_insert_impression(s, &imp, &r.impression_id, dash_err), PB_OK);
    CHECK_INT(feedback_insert_reward(s, &r, &id, &dup, dash_err), PB_OK);
    return id;
}

/* A consented turn of user in conversation: the impression (context with one emotion), the
 * stored user message ("text ;; 슬픔") and answer, and a reward (source NULL = none). Returns
 * the impression id. */
static inline int64_t dash_turn(store *s, int64_t exp, int64_t arm, const char *user,
                                const char *conversation, const char *text, const char *answer,
                                const char *source, double value)
{
    int64_t imp_id = 0, msg = 0, rid = 0, sticky = 0;
    int dup;
    char stored[512];
    CHECK_INT(feedback_set_consent(s, user, 1, dash_err), PB_OK);
    CHECK_INT(feedback_open_conversation(s, conversation, user, exp, arm, "negative", &sticky, NULL,
                                         dash_err),
              PB_OK);
    struct feedback_impression imp = {
        .experiment_id = exp,
        .arm_id = arm,
        .user_id = user,
        .conversation_id = conversation,
        .segment = "negative",
        .context_json = "{\"emotions\":[{\"label\":\"sadness\",\"name\":\"슬픔\",\"score\":0.8}]}",
        .activated = 1};
    CHECK_INT(feedback_insert_impression(s, &imp, &imp_id, dash_err), PB_OK);
    snprintf(stored, sizeof stored, "%s ;; 슬픔", text);
    CHECK_INT(feedback_insert_message(s, conversation, imp_id, "user", stored, &msg, dash_err),
              PB_OK);
    CHECK_INT(feedback_insert_message(s, conversation, imp_id, "assistant", answer, &msg, dash_err),
              PB_OK);
    if (source) {
        struct feedback_reward r = {.impression_id = imp_id, .source = source, .value = value};
        CHECK_INT(feedback_insert_reward(s, &r, &rid, &dup, dash_err), PB_OK);
    }
    return imp_id;
}

/* ---- HTTP ---- */

struct dash_answer {
    long status;
    char *body;
    size_t len;
    json_t *json;       /* the body parsed, NULL when it is not JSON */
    char *content_type; /* NULL when absent */
    char *csp;          /* the Content-Security-Policy header, NULL when absent */
};

static inline size_t dash_collect(char *data, size_t size, size_t n, void *ctx)
{
    struct dash_answer *a = ctx;
    char *grown = realloc(a->body, a->len + size * n + 1);
    if (!grown)
        return 0;
    memcpy(grown + a->len, data, size * n);
    a->len += size * n;
    grown[a->len] = 0;
    a->body = grown;
    return size * n;
}

static inline size_t dash_header(char *data, size_t size, size_t n, void *ctx)
{
    struct dash_answer *a = ctx;
    size_t len = size * n;
    if (len > 25 && strncasecmp(data, "content-security-policy:", 24) == 0)
        a->csp = strndup(data + 25, len - 25);
    return len;
}

/* GET path on 127.0.0.1:port with token (NULL = none). */
static inline struct dash_answer dash_get(int port, const char *path, const char *token)
{
    struct dash_answer a = {0};
    char url[512], auth[128];
    struct curl_slist *headers = NULL;
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        headers = curl_slist_append(headers, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, dash_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, dash_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &a);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    CHECK_INT(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
    char *type = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
    a.content_type = type ? strdup(type) : NULL;
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    a.json = a.body ? json_loads(a.body, 0, NULL) : NULL;
    return a;
}

static inline void dash_answer_clear(struct dash_answer *a)
{
    free(a->body);
    free(a->content_type);
    free(a->csp);
    json_decref(a->json);
    memset(a, 0, sizeof *a);
}

struct dash_service {
    config *cfg;
    app *app;
    server *srv;
    struct server_route *routes;
    int port;
};

/* The app (prompts A-D synced into "default", no LLM, no emotion model, admin token "tok"
 * unless admin_token says otherwise) behind a server serving the n_sets route tables. */
static inline int dash_service_start(struct dash_service *sv, const char *admin_token,
                                     const struct server_route *const *sets, const size_t *counts,
                                     size_t n_sets)
{
    char db[300];
    size_t n = 0;
    testdb_make(db, sizeof db, check_tmpdir(), "svc.db");
    const char *settings[][2] = {
        {"db.path", db},
        {"prompts.dir", check_source_path("prompts")},
        {"emotion.backend", "none"},
        {"server.port", "0"},
        {"server.threads", "2"},
        {"server.admin_token", admin_token ? admin_token : "tok"},
        {"server.access_log", ""},
        {"bandit.seed", "7"},
    };
    struct app_options opt = {.no_background = 1};
    memset(sv, 0, sizeof *sv);
    if (config_defaults(&sv->cfg, dash_err) != PB_OK)
        return -1;
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
        if (config_set(sv->cfg, settings[i][0], settings[i][1], dash_err) != PB_OK)
            return -1;
    if (app_new(sv->cfg, &opt, &sv->app, dash_err) != PB_OK)
        return -1;
    for (size_t i = 0; i < n_sets; i++)
        n += counts[i];
    if (!(sv->routes = calloc(n ? n : 1, sizeof *sv->routes)))
        return -1;
    for (size_t i = 0, at = 0; i < n_sets; at += counts[i], i++)
        memcpy(sv->routes + at, sets[i], counts[i] * sizeof *sv->routes);
    struct server_options so = {sv->routes, n, sv->app, app_metrics(sv->app), NULL, NULL};
    if (server_new(sv->cfg, &so, &sv->srv, dash_err) != PB_OK ||
        server_start(sv->srv, dash_err) != PB_OK)
        return -1;
    sv->port = server_port(sv->srv);
    return 0;
}

static inline void dash_service_stop(struct dash_service *sv)
{
    if (sv->srv)
        server_stop(sv->srv, 5);
    server_free(sv->srv);
    app_free(sv->app);
    config_free(sv->cfg);
    free(sv->routes);
    memset(sv, 0, sizeof *sv);
}

#endif
