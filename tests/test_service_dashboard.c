/* test_service_dashboard.c — the dashboard's plots and lists from a real store: every shown arm in
 * the legend, user-controlled names escaped, running means and shares on the right axis range,
 * bounded point counts, regret only with known truth, distribution levels, interval bars from
 * the live view, the recent-feedback ring and the newest judge evaluations. */
#include "service/app.h"
#include "store/arms.h"
#include "check.h"
#include "service/dashboard.h"
#include "store/feedback.h"
#include "store/runs.h"
#include "store/experiment.h"
#include "store/store.h"

#include <curl/curl.h>

static char err[PB_ERR_LEN];

static store *open_store(void)
{
    char path[300];
    store *s = NULL;
    snprintf(path, sizeof path, "%s/dash.db", check_tmpdir());
    if (store_open(path, NULL, &s, err) != PB_OK) {
        fprintf(stderr, "store_open: %s\n", err);
        exit(2);
    }
    return s;
}

static int64_t add_arm(store *s, int64_t exp, const char *name, const char *text)
{
    int64_t id = 0;
    CHECK_INT(arms_add(s, exp, name, text, NULL, &id, NULL, err), PB_OK);
    return id;
}

/* One impression of arm with one reward of source (a fresh impression each call). */
static void reward(store *s, int64_t exp, int64_t arm, const char *source, double value)
{
    struct feedback_impression imp = {.experiment_id = exp, .arm_id = arm, .activated = 1};
    struct feedback_reward r = {.source = source, .value = value};
    int64_t id;
    int dup;
    CHECK_INT(feedback_insert_impression(s, &imp, &r.impression_id, err), PB_OK);
    CHECK_INT(feedback_insert_reward(s, &r, &id, &dup, err), PB_OK);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay ? strstr(hay, needle) : NULL; p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* The y-axis tick labels of a chart (plot.c writes them as the one right-aligned group), so
 * checks on value ranges are not fooled by x-axis labels or titles. Caller frees. */
static char *y_ticks(const char *svg)
{
    const char *start = svg ? strstr(svg, "text-anchor=\"end\">") : NULL;
    const char *end = start ? strstr(start, "</g>") : NULL;
    return end ? strndup(start, (size_t)(end - start)) : strdup("");
}

/* Pen moves in the first line of a chart: one per drawn point. */
static size_t path_points(const char *svg)
{
    const char *d = svg ? strstr(svg, "<path ") : NULL;
    size_t n = 0;
    d = d ? strstr(d, " d=\"") : NULL;
    for (d = d ? d + 4 : NULL; d && *d && *d != '"'; d++)
        n += *d == 'M' || *d == 'L';
    return n;
}

static char *plot(store *s, const struct store_experiment *e, enum dashboard_plot kind)
{
    char *svg = NULL;
    int rc = dashboard_plot_svg(s, e, kind, &svg, err);
    if (rc != PB_OK)
        fprintf(stderr, "dashboard_plot_svg: %s\n", err);
    CHECK_INT(rc, PB_OK);
    return svg;
}

static void test_plot_names_map_to_plots_and_others_are_not_found(void)
{
    static const struct {
        const char *file;
        int rc;
        enum dashboard_plot plot;
    } cases[] = {
        {"mean.svg", PB_OK, DASHBOARD_PLOT_MEAN},
        {"share.svg", PB_OK, DASHBOARD_PLOT_SHARE},
        {"regret.svg", PB_OK, DASHBOARD_PLOT_REGRET},
        {"distribution.svg", PB_OK, DASHBOARD_PLOT_DISTRIBUTION},
        {"intervals.svg", PB_OK, DASHBOARD_PLOT_INTERVALS},
        {"mean", PB_ERR_NOT_FOUND, 0},
        {"MEAN.svg", PB_ERR_NOT_FOUND, 0},
        {"../mean.svg", PB_ERR_NOT_FOUND, 0},
        {"", PB_ERR_NOT_FOUND, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enum dashboard_plot p = DASHBOARD_PLOT_MEAN;
        CHECK_INT(dashboard_plot_from_name(cases[i].file, &p, err), cases[i].rc);
        if (cases[i].rc == PB_OK)
            CHECK_INT(p, cases[i].plot);
    }
    enum dashboard_plot p;
    CHECK_INT(dashboard_plot_from_name(NULL, &p, err), PB_ERR_NOT_FOUND);
    CHECK(strstr(err, "mean.svg") != NULL); /* the message lists the plots */
}

static void test_experiment_name_is_escaped_in_every_plot(void)
{
    store *s = open_store();
    struct store_experiment e = {0};
    CHECK_INT(store_experiment_get_or_create(s, "<script>alert(1)</script> & \"x\"", "live", "ucb1",
                                             &e, err),
              PB_OK);
    int64_t a = add_arm(s, e.id, "A", "<script>alert(2)</script>");
    reward(s, e.id, a, "click", 1);
    const enum dashboard_plot kinds[] = {DASHBOARD_PLOT_MEAN, DASHBOARD_PLOT_SHARE,
                                         DASHBOARD_PLOT_REGRET, DASHBOARD_PLOT_DISTRIBUTION};
    for (size_t i = 0; i < 4; i++) {
        char *svg = plot(s, &e, kinds[i]);
        CHECK(svg && strstr(svg, "<script") == NULL);
        CHECK(strstr(svg, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;") != NULL);
        free(svg);
    }
    store_experiment_clear(&e);
    store_close(s);
}

static void test_mean_plot_shows_running_means_of_every_shown_arm(void)
{
    store *s = open_store();
    struct store_experiment e = {0};
    CHECK_INT(store_experiment_get_or_create(s, "default", "live", "ucb1", &e, err), PB_OK);
    int64_t a = add_arm(s, e.id, "A", "prompt a");
    int64_t b = add_arm(s, e.id, "B", "prompt b");
    add_arm(s, e.id, "C", "prompt c"); /* active, never rewarded: in the legend, no line */
    int64_t d = add_arm(s, e.id, "D", "prompt d");
    CHECK_INT(arms_retire(s, d, err), PB_OK); /* retired, never rewarded: not shown */
    /* A: +1 then -1 (running mean 1, 0); B: -0.5. The y axis must span -0.5 .. 1. */
    reward(s, e.id, a, "click", 1);
    reward(s, e.id, b, "click", -0.5);
    reward(s, e.id, a, "judge", -1);
    char *svg = plot(s, &e, DASHBOARD_PLOT_MEAN), *ticks = y_ticks(svg);
    CHECK(strstr(svg, ">A</text>") && strstr(svg, ">B</text>") && strstr(svg, ">C</text>"));
    CHECK(strstr(svg, ">D</text>") == NULL);
    CHECK(strstr(ticks, ">-0.5</text>") != NULL);
    CHECK(strstr(ticks, ">1.0</text>") != NULL);
    CHECK(strstr(ticks, ">-1.0</text>") == NULL); /* no running mean ever reached -1 */
    CHECK_INT(count(svg, "<path "), 3);
    free(ticks);
    free(svg);
    store_experiment_clear(&e);
    store_close(s);
}

static void test_share_plot_stays_within_zero_and_one(void)
{
    store *s = open_store();
    struct store_experiment e = {0};
    CHECK_INT(store_experiment_get_or_create(s, "default", "live", "ucb1", &e, err), PB_OK);
    int64_t a = add_arm(s, e.id, "A", "prompt a");
    int64_t b = add_arm(s, e.id, "B", "prompt b");
    for (int i = 0; i < 3; i++)
        reward(s, e.id, a, "click", -1);
    reward(s, e.id, b, "click", -1);
    char *svg = plot(s, &e, DASHBOARD_PLOT_SHARE), *ticks = y_ticks(svg);
    CHECK(strstr(svg, "Share of pulls") != NULL);
    CHECK(strstr(ticks, ">0.0</text>") != NULL); /* B's share starts at 0, A's stays at 1 */
    CHECK(strstr(ticks, ">1.0</text>") != NULL);
    CHECK(strstr(ticks, ">-") == NULL); /* a share is never negative, whatever the rewards */
    free(ticks);
    free(svg);
    store_experiment_clear(&e);
    store_close(s);
}

static void test_many_rewards_are_drawn_with_a_bounded_number_of_points(void)
{
    store *s = open_store();
    struct store_experiment e = {0};
    CHECK_INT(store_experiment_get_or_create(s, "default", "live", "ucb1", &e, err), PB_OK);
    int64_t a = add_arm(s, e.id, "A", "prompt a");
    for (int i = 0; i < 1000; i++)
        reward(s, e.id, a, "click", i % 2 ? 1 : -1);
    char *svg = plot(s, &e, DASHBOARD_PLOT_MEAN);
    size_t points = path_points(svg);
    CHECK(points >= 150 && points <= 200);
    CHECK(strstr(svg, ">1000</text>") != NULL); /* the x axis ends at the last reward */
    free(svg);
    store_experiment_clear(&e);
    store_close(s);
}

static void test_an_experiment_without_rewards_gives_a_no_data_chart(void)
{
    store *s = open_store();
    struct store_experiment e = {0};
    CHECK_INT(store_experiment_get_or_create(s, "empty", "live", "ucb1", &e, err), PB_OK);
    const enum dashboard_plot kinds[] = {DASHBOARD_PLOT_MEAN, DASHBOARD_PLOT_SHARE,
                                         DASHBOARD_PLOT_REGRET, DASHBOARD_PLOT_DISTRIBUTION};
    for (size_t i = 0; i < 4; i++) {
        char *svg = plot(s, &e, kinds[i]);
        CHECK(svg && strstr(svg, "no data") != NULL);
        free(svg);
    }
    char *svg = NULL;
    CHECK_INT(dashboard_plot_svg(s, &e, DASHBOARD_PLOT_INTERVALS, &svg, err), PB_ERR_INVALID);
    CHECK(svg == NULL);
    store_experiment_clear(&e);
    store_close(s);
}

static void test_regret_is_unknown_for_live_traffic_and_drawn_with_known_truth(void)
{
    store *s = open_store();
    struct store_experiment live = {0}, off = {0};
    CHECK_INT(store_experiment_get_or_create(s, "live", "live", "ucb1", &live, err), PB_OK);
    CHECK_INT(store_experiment_get_or_create(s, "sim", "offline", "ucb1", &off, err), PB_OK);
    int64_t a = add_arm(s, live.id, "A", "prompt a");
    reward(s, live.id, a, "click", 1);
    char *svg = plot(s, &live, DASHBOARD_PLOT_REGRET);
    CHECK(strstr(svg, "unknown") != NULL);
    free(svg);

    int64_t oa = add_arm(s, off.id, "A", "prompt a"), ob = add_arm(s, off.id, "B", "prompt b");
    for (int i = 0; i < 4; i++)
        reward(s, off.id, i % 2 ? oa : ob, "judge", 0.5);
    svg = plot(s, &off, DASHBOARD_PLOT_REGRET); /* offline, but no truth stored */
    CHECK(strstr(svg, "unknown") != NULL);
    free(svg);

    CHECK_INT(store_experiment_set_policy(s, off.id, "ucb1",
                                          "{\"true_means\": {\"A\": 0.9, \"B\": 0.5}}", err),
              PB_OK);
    store_experiment_clear(&off);
    CHECK_INT(store_experiment_get(s, "sim", &off, err), PB_OK);
    svg = plot(s, &off, DASHBOARD_PLOT_REGRET);
    char *ticks = y_ticks(svg);
    CHECK(strstr(svg, "unknown") == NULL);
    CHECK(strstr(svg, "Cumulative regret") != NULL);
    /* B was played twice at a gap of 0.4: the regret climbs from 0.4 to 0.8, never beyond. */
    CHECK(strstr(ticks, ">0.4</text>") != NULL && strstr(ticks, ">0.8</text>") != NULL);
    CHECK(strstr(ticks, ">1.0</text>") == NULL);
    free(ticks);
    free(svg);

    CHECK_INT(store_experiment_set_policy(s, off.id, "ucb1", "{\"true_means\": {\"A\": 0.9}}", err),
              PB_OK);
    store_experiment_clear(&off);
    CHECK_INT(store_experiment_get(s, "sim", &off, err), PB_OK);
    svg = plot(s, &off, DASHBOARD_PLOT_REGRET); /* B was rewarded but has no true mean */
    CHECK(strstr(svg, "unknown") != NULL);
    free(svg);
    store_experiment_clear(&live);
    store_experiment_clear(&off);
    store_close(s);
}

static void test_distribution_has_every_level_and_versioned_arm_labels(void)
{
    store *s = open_store();
    struct store_experiment e = {0};
    CHECK_INT(store_experiment_get_or_create(s, "default", "live", "ucb1", &e, err), PB_OK);
    int64_t a1 = add_arm(s, e.id, "A", "first text");
    reward(s, e.id, a1, "judge", 0.5);
    int64_t a2 = add_arm(s, e.id, "A", "second text"); /* a new version; v1 is retired */
    reward(s, e.id, a2, "edit", 0.8);                  /* nearest level: +1 */
    char *svg = plot(s, &e, DASHBOARD_PLOT_DISTRIBUTION);
    const char *levels[] = {">-1</text>", ">-0.5</text>", ">0</text>", ">+0.5</text>",
                            ">+1</text>"};
    for (size_t i = 0; i < 5; i++)
        CHECK(strstr(svg, levels[i]) != NULL);
    CHECK(strstr(svg, ">A v1</text>") != NULL); /* retired, but it has a reward */
    CHECK(strstr(svg, ">A v2</text>") != NULL);
    free(svg);
    store_experiment_clear(&e);
    store_close(s);
}

static void test_interval_bars_come_from_the_view_and_skip_unplayed_retired_arms(void)
{
    struct app_arm_view arms[] = {
        {.name = "A",
         .version = 1,
         .active = 1,
         .pulls = 10,
         .mean = 0.5,
         .ci_low = 0.2,
         .ci_high = 0.8},
        {.name = "<b>", .version = 1, .active = 1, .pulls = 0},
        {.name = "Z", .version = 1, .active = 0, .pulls = 0},
    };
    struct app_experiment_view v = {.name = "default", .n_arms = 3, .arms = arms};
    char *svg = NULL;
    CHECK_INT(dashboard_intervals_svg(&v, &svg, err), PB_OK);
    CHECK(svg && strstr(svg, ">A</text>") != NULL);
    CHECK(strstr(svg, "&lt;b&gt;") != NULL && strstr(svg, "<b>") == NULL);
    CHECK(strstr(svg, ">Z</text>") == NULL);
    char *ticks = y_ticks(svg);
    CHECK(strstr(ticks, ">0.8</text>") != NULL); /* the axis reaches the interval's top */
    free(ticks);
    free(svg);
}

static void test_recent_feedback_is_newest_first_and_counts_every_source(void)
{
    store *s = open_store();
    struct store_experiment e = {0};
    json_t *out = NULL;
    CHECK_INT(store_experiment_get_or_create(s, "default", "live", "ucb1", &e, err), PB_OK);
    int64_t a = add_arm(s, e.id, "A", "prompt a"), b = add_arm(s, e.id, "B", "prompt b");
    const char *sources[] = {"click", "judge", "click", "edit", "regenerate"};
    for (int i = 0; i < 5; i++)
        reward(s, e.id, i % 2 ? b : a, sources[i], i / 4.0);
    CHECK_INT(dashboard_recent_feedback(s, &e, 3, &out, err), PB_OK);
    CHECK_INT(json_integer_value(json_object_get(out, "total")), 5);
    json_t *by = json_object_get(out, "by_source");
    CHECK_INT(json_integer_value(json_object_get(by, "click")), 2);
    CHECK_INT(json_integer_value(json_object_get(by, "regenerate")), 1);
    json_t *recent = json_object_get(out, "recent");
    CHECK_INT(json_array_size(recent), 3);
    CHECK_STR(json_string_value(json_object_get(json_array_get(recent, 0), "source")),
              "regenerate");
    CHECK_NEAR(json_real_value(json_object_get(json_array_get(recent, 0), "value")), 1.0, 1e-12);
    CHECK_STR(json_string_value(json_object_get(json_array_get(recent, 1), "arm")), "B");
    CHECK_STR(json_string_value(json_object_get(json_array_get(recent, 2), "source")), "click");
    CHECK(json_object_get(json_array_get(recent, 0), "user_id") == NULL);
    json_decref(out);
    CHECK_INT(dashboard_recent_feedback(s, &e, 0, &out, err), PB_ERR_INVALID);
    CHECK_INT(dashboard_recent_feedback(s, &e, 1001, &out, err), PB_ERR_INVALID);
    store_experiment_clear(&e);
    store_close(s);
}

static void test_judge_evals_list_the_newest_of_each_kind(void)
{
    store *s = open_store();
    json_t *out = NULL;
    CHECK_INT(dashboard_judge_evals(s, &out, err), PB_OK);
    CHECK_INT(json_array_size(json_object_get(out, "judge_evals")), 0);
    json_decref(out);
    CHECK_INT(runs_insert_judge_eval(s, "llm", "{\"mse\": 0.3}", NULL, err), PB_OK);
    CHECK_INT(runs_insert_judge_eval(s, "model", "{\"mse\": 0.19}", NULL, err), PB_OK);
    CHECK_INT(runs_insert_judge_eval(s, "llm", "{\"mse\": 0.25}", NULL, err), PB_OK);
    CHECK_INT(dashboard_judge_evals(s, &out, err), PB_OK);
    json_t *list = json_object_get(out, "judge_evals");
    CHECK_INT(json_array_size(list), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(list, 0), "judge_kind")), "llm");
    json_t *figures = json_object_get(json_array_get(list, 0), "figures");
    CHECK_NEAR(json_real_value(json_object_get(figures, "mse")), 0.25, 1e-12);
    CHECK_STR(json_string_value(json_object_get(json_array_get(list, 1), "judge_kind")), "model");
    json_decref(out);
    store_close(s);
}

static void test_routes_are_admin_only_reads(void)
{
    size_t n = 0;
    const struct server_route *r = dashboard_routes(&n);
    CHECK_INT(n, 3);
    for (size_t i = 0; i < n; i++) {
        CHECK_STR(r[i].method, "GET");
        CHECK(r[i].flags & SERVER_ADMIN);
        CHECK(r[i].handler != NULL);
    }
}

/* ---- through HTTP: the routes on a real server with a real app ---- */

struct http_answer {
    long status;
    char *body, *content_type, *csp;
    size_t len;
};

static size_t collect_body(char *data, size_t size, size_t n, void *ctx)
{
    struct http_answer *a = ctx;
    char *grown = realloc(a->body, a->len + size * n + 1);
    if (!grown)
        return 0;
    memcpy(grown + a->len, data, size * n);
    a->len += size * n;
    grown[a->len] = 0;
    a->body = grown;
    return size * n;
}

static size_t collect_header(char *data, size_t size, size_t n, void *ctx)
{
    struct http_answer *a = ctx;
    size_t len = size * n;
    if (len > 25 && strncasecmp(data, "content-security-policy:", 24) == 0)
        a->csp = strndup(data + 25, len - 25);
    return len;
}

static struct http_answer http_get(int port, const char *path, const char *token)
{
    struct http_answer a = {0};
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
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &a);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    CHECK_INT(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
    char *type = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
    a.content_type = type ? strdup(type) : NULL;
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    return a;
}

static void http_answer_clear(struct http_answer *a)
{
    free(a->body);
    free(a->content_type);
    free(a->csp);
}

struct service {
    config *cfg;
    app *app;
    server *srv;
    int port;
};

/* The app (prompts A-D synced into "default", no LLM, no emotion model) behind a server
 * that serves only the dashboard's routes, with admin token "tok". */
static int service_start(struct service *sv)
{
    char db[300];
    size_t n;
    snprintf(db, sizeof db, "%s/svc.db", check_tmpdir());
    const char *settings[][2] = {
        {"db.path", db},
        {"prompts.dir", check_source_path("prompts")},
        {"emotion.backend", "none"},
        {"server.port", "0"},
        {"server.threads", "2"},
        {"server.admin_token", "tok"},
        {"server.access_log", ""},
    };
    struct app_options opt = {.no_background = 1};
    memset(sv, 0, sizeof *sv);
    if (config_defaults(&sv->cfg, err) != PB_OK)
        return -1;
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
        if (config_set(sv->cfg, settings[i][0], settings[i][1], err) != PB_OK)
            return -1;
    if (app_new(sv->cfg, &opt, &sv->app, err) != PB_OK)
        return -1;
    const struct server_route *routes = dashboard_routes(&n);
    struct server_options so = {routes, n, sv->app, app_metrics(sv->app), NULL, NULL};
    if (server_new(sv->cfg, &so, &sv->srv, err) != PB_OK || server_start(sv->srv, err) != PB_OK)
        return -1;
    sv->port = server_port(sv->srv);
    return 0;
}

static void service_stop(struct service *sv)
{
    if (sv->srv)
        server_stop(sv->srv, 5);
    server_free(sv->srv);
    app_free(sv->app);
    config_free(sv->cfg);
}

static void test_plot_endpoints_answer_escaped_svg_to_the_admin_only(void)
{
    struct service sv;
    if (service_start(&sv) != 0) {
        fprintf(stderr, "service: %s\n", err);
        CHECK(0);
        service_stop(&sv);
        return;
    }
    store *s = app_store_acquire(sv.app, err);
    struct store_experiment e = {0};
    CHECK(s != NULL);
    CHECK_INT(store_experiment_get_or_create(s, "<x>&", "live", "ucb1", &e, err), PB_OK);
    reward(s, e.id, add_arm(s, e.id, "A", "prompt a"), "click", 1);
    app_store_release(sv.app, s);
    store_experiment_clear(&e);

    const char *plots[] = {"mean.svg", "share.svg", "regret.svg", "distribution.svg",
                           "intervals.svg"};
    for (size_t i = 0; i < 5; i++) {
        char path[200];
        snprintf(path, sizeof path, "/v1/experiments/default/plots/%s", plots[i]);
        struct http_answer a = http_get(sv.port, path, "tok");
        CHECK_INT(a.status, 200);
        CHECK(a.content_type && strncmp(a.content_type, "image/svg+xml", 13) == 0);
        CHECK(a.body && strncmp(a.body, "<svg ", 5) == 0);
        CHECK(a.csp && strstr(a.csp, "default-src 'none'") != NULL);
        http_answer_clear(&a);
    }
    struct http_answer a = http_get(sv.port, "/v1/experiments/%3Cx%3E%26/plots/mean.svg", "tok");
    CHECK_INT(a.status, 200);
    CHECK(a.body && strstr(a.body, "&lt;x&gt;&amp;") != NULL && strstr(a.body, "<x>") == NULL);
    http_answer_clear(&a);

    const struct {
        const char *path, *token;
        long status;
    } refused[] = {
        {"/v1/experiments/default/plots/mean.svg", NULL, 401},
        {"/v1/experiments/default/plots/mean.svg", "wrong", 403},
        {"/v1/experiments/default/plots/pie.svg", "tok", 404},
        {"/v1/experiments/nosuch/plots/mean.svg", "tok", 404},
        {"/v1/experiments/nosuch/plots/intervals.svg", "tok", 404},
        {"/v1/experiments/default/feedback?limit=0", "tok", 400},
        {"/v1/experiments/default/feedback?limit=abc", "tok", 400},
        {"/v1/experiments/default/feedback", NULL, 401},
        {"/v1/judge-evals", NULL, 401},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        a = http_get(sv.port, refused[i].path, refused[i].token);
        if (a.status != refused[i].status)
            fprintf(stderr, "%s: got %ld\n", refused[i].path, a.status);
        CHECK_INT(a.status, refused[i].status);
        CHECK(a.body && strstr(a.body, "\"error\"") != NULL);
        http_answer_clear(&a);
    }
    a = http_get(sv.port, "/v1/experiments/%3Cx%3E%26/feedback?limit=5", "tok");
    CHECK_INT(a.status, 200);
    CHECK(a.body && strstr(a.body, "\"total\":1") != NULL);
    http_answer_clear(&a);
    a = http_get(sv.port, "/v1/judge-evals", "tok");
    CHECK_INT(a.status, 200);
    CHECK_STR(a.body, "{\"judge_evals\":[]}");
    http_answer_clear(&a);
    service_stop(&sv);
}

int main(void)
{
    RUN(test_plot_names_map_to_plots_and_others_are_not_found);
    RUN(test_experiment_name_is_escaped_in_every_plot);
    RUN(test_mean_plot_shows_running_means_of_every_shown_arm);
    RUN(test_share_plot_stays_within_zero_and_one);
    RUN(test_many_rewards_are_drawn_with_a_bounded_number_of_points);
    RUN(test_an_experiment_without_rewards_gives_a_no_data_chart);
    RUN(test_regret_is_unknown_for_live_traffic_and_drawn_with_known_truth);
    RUN(test_distribution_has_every_level_and_versioned_arm_labels);
    RUN(test_interval_bars_come_from_the_view_and_skip_unplayed_retired_arms);
    RUN(test_recent_feedback_is_newest_first_and_counts_every_source);
    RUN(test_judge_evals_list_the_newest_of_each_kind);
    RUN(test_routes_are_admin_only_reads);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    RUN(test_plot_endpoints_answer_escaped_svg_to_the_admin_only);
    curl_global_cleanup();
    CHECK_DONE();
}
