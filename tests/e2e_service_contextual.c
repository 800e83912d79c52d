/* e2e_service_contextual.c — issue 8's contextual policy in the live service, over HTTP in
 * this process: the admin switch accepts linucb, choose takes the livefeat.h features (a wrong
 * dimension is a clear 400), burn-in spreads the first choices, the policy learns which arm
 * suits which context, stores the features with a propensity, and a restart rebuilds it from
 * the stored contexts and rewards. */
#include "service/livefeat.h"
#include "svc_harness.h"

#define TOK "admintok"
/* [bias, positive, negative, ambiguous, neutral, log1p_turns, hour_sin, hour_cos] */
#define X_POS "[1, 0.9, 0, 0, 0, 0, 0, 1]"
#define X_NEG "[1, 0, 0.9, 0, 0, 0, 0, 1]"

static char *choose_with(const struct svc *s, const char *features, long long *id, double *prop)
{
    char body[256];
    json_t *c = NULL;
    static char arm[17];
    snprintf(body, sizeof body, "{\"user_id\":\"cx\",\"features\":%s}", features);
    CHECK_INT(svc_post(s, "/v1/choose", NULL, body, &c), 200);
    snprintf(arm, sizeof arm, "%s", svc_str(c, "arm") ? svc_str(c, "arm") : "");
    *id = svc_int(c, "impression_id");
    *prop = json_number_value(json_object_get(c, "propensity"));
    json_decref(c);
    return arm;
}

static void reward(const struct svc *s, long long id, double value)
{
    char body[160];
    snprintf(body, sizeof body,
             "{\"user_id\":\"cx\",\"impression_id\":%lld,\"kind\":\"score\",\"value\":%g}", id,
             value);
    CHECK_INT(svc_post(s, "/v1/feedback", NULL, body, NULL), 200);
}

/* The stored context of impression id has FEATVEC_DIM features (1) or not (0). */
static int stored_features(const struct svc *s, long long id, double x[FEATVEC_DIM])
{
    char err[PB_ERR_LEN];
    store *st = NULL;
    store_stmt *q;
    int found = 0;
    if (store_open(s->db, NULL, &st, err) == PB_OK &&
        store_prepare(st, "SELECT context FROM impressions WHERE id = ?1", &q, err) == PB_OK) {
        store_bind_int(q, 1, id);
        if (store_step(q) == 1)
            found = featvec_from_context(store_col_text(q, 0), x, err) == 1;
        store_reset(q);
    }
    store_close(st);
    return found;
}

/* Runs a shell command line; its exit status (printed when it is not `expect`). */
static int run(const char *cmd, int expect)
{
    int st = system(cmd);
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (code != expect)
        fprintf(stderr, "  command exited %d: %s\n", code, cmd);
    return code;
}

static long count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    long n = 0;
    int ch;
    while (f && (ch = fgetc(f)) != EOF)
        n += ch == '\n';
    if (f)
        fclose(f);
    return n;
}

/* db export-events from the service's database, then both replay readers on the file. */
static void export_and_replay(const struct svc *s, long want_events)
{
    const char *bin = getenv("PB_BIN");
    char events[512], cmd[2048];
    CHECK(bin != NULL);
    if (!bin)
        return;
    snprintf(events, sizeof events, "%s/events.jsonl", check_tmpdir());
    snprintf(cmd, sizeof cmd, "'%s' db export-events --db '%s' --experiment default --out '%s'",
             bin, s->db, events);
    CHECK_INT(run(cmd, 0), 0);
    CHECK_INT((int)count_lines(events), (int)want_events);
    snprintf(cmd, sizeof cmd,
             "'%s' simulate --replay-contextual '%s' --policy 'linucb:alpha=0.3,ucb1' --json "
             "> /dev/null",
             bin, events);
    CHECK_INT(run(cmd, 0), 0);
    snprintf(cmd, sizeof cmd, "'%s' run replay --events '%s' --policy ucb1 --json > /dev/null", bin,
             events);
    CHECK_INT(run(cmd, 0), 0);
    snprintf(cmd, sizeof cmd, "'%s' db export-events --db '%s' --experiment nope 2>/dev/null", bin,
             s->db);
    CHECK_INT(run(cmd, 1), 1);
}

static void restart(struct svc *s)
{
    char err[PB_ERR_LEN];
    size_t nr;
    server_free(s->srv);
    app_free(s->app);
    free(s->routes);
    struct app_options ao = {.prompts_dir = check_source_path("prompts"), .no_background = 1};
    CHECK_INT(app_new(s->cfg, &ao, &s->app, err), PB_OK);
    CHECK_INT(api_routes_new(&s->routes, &nr, err), PB_OK);
    struct server_options so = {s->routes,           nr,         s->app,
                                app_metrics(s->app), api_health, api_before_metrics};
    CHECK_INT(server_new(s->cfg, &so, &s->srv, err), PB_OK);
    CHECK_INT(server_start(s->srv, err), PB_OK);
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", server_port(s->srv));
}

static void test_policy_switch_accepts_linucb_and_checks_features(void)
{
    static const char *const set[] = {"server.admin_token", TOK, NULL};
    struct svc s;
    json_t *r = NULL;
    svc_start(&s, set);
    CHECK_INT(svc_post(&s, "/v1/experiments/default/policy", TOK,
                       "{\"policy\":\"linucb:alpha=0.5,burnin=2\"}", &r),
              200);
    CHECK_STR(svc_str(r, "policy"), "linucb:alpha=0.5,burnin=2");
    json_decref(r);
    CHECK_INT(
        svc_post(&s, "/v1/experiments/default/policy", TOK, "{\"policy\":\"linucb:beta=1\"}", NULL),
        400);
    CHECK_INT(svc_post(&s, "/v1/choose", NULL, "{\"features\":[1, 0.5, 0]}", &r), 400);
    const char *msg = svc_str(json_object_get(r, "error"), "message");
    CHECK(msg && strstr(msg, "array of 8 numbers") != NULL);
    json_decref(r);
    CHECK_INT(svc_post(&s, "/v1/choose", NULL, "{\"features\":[1,0,0,0,0,0,0,\"x\"]}", NULL), 400);
    svc_stop(&s);
}

static void test_linucb_learns_contexts_and_rebuilds(void)
{
    static const char *const set[] = {"server.admin_token", TOK, "bandit.policy",
                                      "linucb:alpha=0.3,burnin=2", NULL};
    struct svc s;
    int per_arm[4] = {0}, right = 0;
    double prop, x[FEATVEC_DIM];
    long long id;
    svc_start(&s, set);
    for (int i = 0; i < 160; i++) {
        int pos = i % 2 == 0;
        const char *arm = choose_with(&s, pos ? X_POS : X_NEG, &id, &prop);
        CHECK(prop > 0 && prop <= 1);
        if (i < 8 && arm[0] >= 'A' && arm[0] <= 'D')
            per_arm[arm[0] - 'A']++;
        int good = !strcmp(arm, pos ? "A" : "B");
        if (i >= 120)
            right += good;
        reward(&s, id, good ? 1 : -0.5);
    }
    for (int k = 0; k < 4; k++)
        CHECK_INT(per_arm[k], 2); /* burn-in: two each before the model decides */
    CHECK(right >= 36);           /* of the last 40 */
    CHECK(stored_features(&s, id, x));
    CHECK_NEAR(x[2], 0.9, 1e-12); /* the last one was negative */
    export_and_replay(&s, 160);
    restart(&s);
    /* Rebuilt from stored contexts and rewards: the same preferences without new rewards. */
    int pos_a = 0, neg_b = 0;
    for (int i = 0; i < 10; i++) {
        pos_a += !strcmp(choose_with(&s, X_POS, &id, &prop), "A");
        neg_b += !strcmp(choose_with(&s, X_NEG, &id, &prop), "B");
    }
    CHECK_INT(pos_a, 10);
    CHECK_INT(neg_b, 10);
    svc_stop(&s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    svc_fake_start();
    RUN(test_policy_switch_accepts_linucb_and_checks_features);
    RUN(test_linucb_learns_contexts_and_rebuilds);
    svc_fake_stop();
    curl_global_cleanup();
    CHECK_DONE();
}
