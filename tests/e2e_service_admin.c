/* e2e_service_admin.c — the admin API over HTTP in this process: add, retire and restore arms
 * (choose follows at once), switch the policy, promote and unpromote, reset (archived, not
 * deleted), import a bandit-run winner, start a live experiment with a finished run's arms,
 * and live statistics rebuilt identically after a restart; plus choose -> feedback for clients
 * with their own LLM. */
#include "store/experiment.h"
#include "store/arms.h"
#include "store/runs.h"
#include "svc_harness.h"

static const char *const ADMIN[] = {"server.admin_token", "admintok", NULL};
#define TOK "admintok"

/* How many of n choose calls returned arm name. */
static int choose_count(const struct svc *s, const char *name, int n)
{
    int hits = 0;
    for (int i = 0; i < n; i++) {
        json_t *c = NULL;
        svc_post(s, "/v1/choose", NULL, "{}", &c);
        hits += svc_str(c, "arm") && strcmp(svc_str(c, "arm"), name) == 0;
        json_decref(c);
    }
    return hits;
}

static void test_arms_added_retired_and_restored_change_choices(void)
{
    struct svc s;
    json_t *a = NULL;
    char path[64];
    svc_start(&s, ADMIN);
    CHECK_INT(svc_post(&s, "/v1/arms", TOK, "{\"name\":\"E\",\"prompt\":\"새 프롬프트 E\"}", &a),
              201);
    long long e = svc_int(a, "arm_id");
    CHECK_STR(svc_str(a, "change"), "created");
    /* Served at once: no reward yet, so it is among the unplayed arms UCB1 draws from. */
    CHECK(choose_count(&s, "E", 30) > 0);
    snprintf(path, sizeof path, "/v1/arms/%lld/retire", e);
    CHECK_INT(svc_post(&s, path, TOK, NULL, NULL), 200);
    CHECK_INT(choose_count(&s, "E", 20), 0);
    CHECK_INT(svc_post(&s, path, TOK, NULL, NULL), 409);
    snprintf(path, sizeof path, "/v1/arms/%lld/restore", e);
    CHECK_INT(svc_post(&s, path, TOK, NULL, NULL), 200);
    json_t *v = NULL;
    svc_get(&s, "/v1/arms", TOK, &v);
    json_t *last = json_array_get(json_object_get(v, "arms"), 4);
    CHECK_STR(svc_str(last, "status"), "active");
    json_decref(v);
    json_decref(a);
    svc_stop(&s);
}

static void test_policy_switch_and_promotion(void)
{
    struct svc s;
    json_t *p = NULL, *v = NULL;
    svc_start(&s, ADMIN);
    CHECK_INT(svc_post(&s, "/v1/experiments/default/policy", TOK,
                       "{\"policy\":\"egreedy\",\"params\":{\"epsilon\":0.2}}", &p),
              200);
    CHECK(svc_str(p, "policy") && strncmp(svc_str(p, "policy"), "egreedy:epsilon=0.2", 19) == 0);
    svc_get(&s, "/v1/arms", TOK, &v);
    CHECK_STR(svc_str(v, "policy"), svc_str(p, "policy"));
    json_decref(v);
    CHECK_INT(svc_post(&s, "/v1/experiments/default/promote", TOK, "{\"arm_id\":2}", NULL), 200);
    CHECK_INT(choose_count(&s, "B", 30), 30);
    CHECK_INT(svc_post(&s, "/v1/experiments/default/unpromote", TOK, NULL, NULL), 200);
    CHECK(choose_count(&s, "B", 30) < 30);
    json_decref(p);
    svc_stop(&s);
}

static void test_reset_archives_and_starts_afresh(void)
{
    struct svc s;
    json_t *c = NULL, *r = NULL, *list = NULL, *v = NULL;
    svc_start(&s, ADMIN);
    svc_post(&s, "/v1/choose", NULL, "{}", &c);
    char body[128];
    snprintf(body, sizeof body, "{\"impression_id\":%lld,\"kind\":\"like\"}",
             svc_int(c, "impression_id"));
    CHECK_INT(svc_post(&s, "/v1/feedback", NULL, body, NULL), 200);
    CHECK_INT(svc_post(&s, "/v1/experiments/default/reset", TOK, NULL, &r), 200);
    CHECK(svc_int(r, "id") != svc_int(r, "archived_id"));
    svc_get(&s, "/v1/arms", TOK, &v);
    CHECK_INT(svc_int(v, "total_pulls"), 0);
    CHECK_INT(json_array_size(json_object_get(v, "arms")), 4);
    svc_get(&s, "/v1/experiments", TOK, &list);
    CHECK_INT(json_array_size(json_object_get(list, "experiments")), 2);
    CHECK_INT(svc_counts(&s).rewards, 1); /* archived, not deleted */
    json_decref(c);
    json_decref(r);
    json_decref(v);
    json_decref(list);
    svc_stop(&s);
}

static void test_import_run_adds_the_winner(void)
{
    struct svc s;
    char err[PB_ERR_LEN], body[128];
    store *st = NULL;
    struct store_experiment off = {0};
    int64_t a1 = 0, a2 = 0, run = 0;
    json_t *r = NULL;
    svc_start(&s, ADMIN);
    svc_flush(&s);
    CHECK_INT(store_open(s.db, NULL, &st, err), PB_OK);
    CHECK_INT(store_experiment_get_or_create(st, "offline-1", "offline", "ucb1", &off, err), PB_OK);
    CHECK_INT(arms_add(st, off.id, "X", "오프라인 프롬프트 X", NULL, &a1, NULL, err), PB_OK);
    CHECK_INT(arms_add(st, off.id, "Y", "오프라인 프롬프트 Y (winner)", NULL, &a2, NULL, err),
              PB_OK);
    CHECK_INT(runs_create(st, "r1", "bandit", NULL, &run, err), PB_OK);
    for (int i = 0; i < 6; i++) {
        struct run_step step = {.run_id = run,
                                .iteration = i,
                                .arm_id = i % 2 ? a2 : a1,
                                .score = i % 2 ? 0.5 : -0.5,
                                .has_score = 1,
                                .status = "ok"};
        CHECK_INT(runs_step_put(st, &step, err), PB_OK);
    }
    /* a failed step of X with no score does not count */
    struct run_step failed = {.run_id = run, .iteration = 6, .arm_id = a1, .status = "failed"};
    CHECK_INT(runs_step_put(st, &failed, err), PB_OK);
    store_close(st);
    snprintf(body, sizeof body, "{\"run_id\":%lld}", (long long)run);
    CHECK_INT(svc_post(&s, "/v1/experiments/default/import-run", TOK, body, &r), 201);
    CHECK_STR(svc_str(r, "name"), "Y");
    CHECK_NEAR(json_number_value(json_object_get(r, "run_mean")), 0.5, 1e-12);
    CHECK(choose_count(&s, "Y", 30) > 0); /* live at once */
    store_experiment_clear(&off);
    json_decref(r);
    svc_stop(&s);
}

/* The names of an experiment's active arms, as "X,Y". */
static void active_arm_names(json_t *exp, char *out, size_t len)
{
    size_t i, used = 0;
    json_t *arm;
    out[0] = '\0';
    json_array_foreach(json_object_get(exp, "arms"), i, arm)
    {
        if (strcmp(svc_str(arm, "status"), "active") == 0)
            used += (size_t)snprintf(out + used, len - used, "%s%s", used ? "," : "",
                                     svc_str(arm, "name"));
    }
}

/* POST /v1/runs/{id}/start-experiment: a new live experiment with the run's active arms (same
 * texts, no rewards), served at once; refused for a running run, a taken name, a bad name or
 * policy, an unknown run, and without the admin token. */
static void test_start_a_live_experiment_with_a_runs_arms(void)
{
    struct svc s;
    char err[PB_ERR_LEN], path[128], names[64];
    store *st = NULL;
    struct store_experiment off = {0};
    int64_t x = 0, y = 0, z = 0, run = 0, running = 0;
    json_t *r = NULL, *exp = NULL;
    svc_start(&s, ADMIN);
    svc_flush(&s);
    CHECK_INT(store_open(s.db, NULL, &st, err), PB_OK);
    CHECK_INT(store_experiment_get_or_create(st, "run-77", "offline", "ucb1", &off, err), PB_OK);
    CHECK_INT(arms_add(st, off.id, "X", "오프라인 X 프롬프트", NULL, &x, NULL, err), PB_OK);
    CHECK_INT(arms_add(st, off.id, "Y", "오프라인 Y 프롬프트", NULL, &y, NULL, err), PB_OK);
    CHECK_INT(arms_add(st, off.id, "Z", "은퇴한 Z 프롬프트", NULL, &z, NULL, err), PB_OK);
    CHECK_INT(arms_retire(st, z, err), PB_OK);
    CHECK_INT(runs_create(st, "night", "bandit", NULL, &run, err), PB_OK);
    CHECK_INT(runs_set_experiment(st, run, off.id, err), PB_OK);
    CHECK_INT(runs_close(st, run, "finished", "completed", y, err), PB_OK);
    CHECK_INT(runs_create(st, "still", "bandit", NULL, &running, err), PB_OK);
    CHECK_INT(runs_set_experiment(st, running, off.id, err), PB_OK);
    store_close(st);

    snprintf(path, sizeof path, "/v1/runs/%lld/start-experiment", (long long)run);
    CHECK_INT(svc_post(&s, path, NULL, "{\"name\":\"from-run\"}", NULL), 401);
    CHECK_INT(svc_post(&s, path, TOK, "{\"name\":\"from-run\",\"policy\":\"thompson\"}", &r), 201);
    CHECK_STR(svc_str(r, "experiment"), "from-run");
    CHECK(svc_str(r, "policy") && !strncmp(svc_str(r, "policy"), "thompson", 8)); /* canonical */
    CHECK_INT(json_array_size(json_object_get(r, "arms")), 2);
    json_decref(r);
    r = NULL;
    /* the new experiment has the run's active arms with their texts, and no rewards */
    CHECK_INT(svc_get(&s, "/v1/arms?experiment=from-run", TOK, &exp), 200);
    CHECK_STR(svc_str(exp, "kind"), "live");
    active_arm_names(exp, names, sizeof names);
    CHECK_STR(names, "X,Y");
    CHECK_STR(svc_str(json_array_get(json_object_get(exp, "arms"), 0), "prompt"),
              "오프라인 X 프롬프트");
    CHECK_INT(svc_int(exp, "total_pulls"), 0);
    json_decref(exp);
    exp = NULL;
    /* served at once */
    int hits = 0;
    for (int i = 0; i < 20; i++) {
        json_t *c = NULL;
        svc_post(&s, "/v1/choose", NULL, "{\"experiment\":\"from-run\"}", &c);
        const char *arm = svc_str(c, "arm");
        hits += arm && (!strcmp(arm, "X") || !strcmp(arm, "Y"));
        json_decref(c);
    }
    CHECK_INT(hits, 20);
    /* the run's own offline experiment is untouched */
    CHECK_INT(svc_get(&s, "/v1/arms?experiment=run-77", TOK, &exp), 200);
    CHECK_STR(svc_str(exp, "kind"), "offline");
    json_decref(exp);
    exp = NULL;
    /* a taken name, a default name, and refusals */
    CHECK_INT(svc_post(&s, path, TOK, "{\"name\":\"from-run\"}", NULL), 409);
    CHECK_INT(svc_post(&s, path, TOK, "{}", &r), 201);
    snprintf(names, sizeof names, "run-%lld-live", (long long)run);
    CHECK_STR(svc_str(r, "experiment"), names);
    CHECK(svc_str(r, "policy") && strlen(svc_str(r, "policy")) > 0); /* the service's default */
    json_decref(r);
    r = NULL;
    CHECK_INT(svc_post(&s, path, TOK, "{\"name\":\"a b\"}", NULL), 400);
    CHECK_INT(svc_post(&s, path, TOK, "{\"name\":\"p2\",\"policy\":\"ucb9\"}", NULL), 400);
    CHECK_INT(svc_post(&s, path, TOK, "{\"name\":\"p3\",\"arms\":[]}", NULL), 400);
    CHECK_INT(svc_post(&s, "/v1/runs/999/start-experiment", TOK, "{}", NULL), 404);
    snprintf(path, sizeof path, "/v1/runs/%lld/start-experiment", (long long)running);
    CHECK_INT(svc_post(&s, path, TOK, "{\"name\":\"too-early\"}", NULL), 409);
    CHECK_INT(svc_get(&s, "/v1/arms?experiment=too-early", TOK, NULL), 404);
    store_experiment_clear(&off);
    svc_stop(&s);
}

/* Feedback on choose impressions; after a restart the live state rebuilt from the rewards
 * table gives the same statistics and P(best) ordering. */
static void test_choose_feedback_and_rebuild_after_restart(void)
{
    struct svc s;
    json_t *v1 = NULL, *v2 = NULL;
    svc_start(&s, ADMIN);
    for (int i = 0; i < 40; i++) {
        json_t *c = NULL;
        char body[160];
        svc_post(&s, "/v1/choose", NULL, "{\"user_id\":\"client\",\"segment\":\"positive\"}", &c);
        const char *arm = svc_str(c, "arm");
        snprintf(body, sizeof body,
                 "{\"user_id\":\"client\",\"impression_id\":%lld,\"kind\":\"score\",\"value\":%s}",
                 svc_int(c, "impression_id"), arm && !strcmp(arm, "D") ? "0.8" : "-0.2");
        CHECK_INT(svc_post(&s, "/v1/feedback", NULL, body, NULL), 200);
        json_decref(c);
    }
    svc_get(&s, "/v1/experiments/default", TOK, &v1);
    CHECK_INT(svc_int(json_object_get(json_object_get(v1, "segments"), "positive"), "pulls"), 40);
    char db[512];
    snprintf(db, sizeof db, "%s", s.db);
    server_free(s.srv);
    app_free(s.app);
    s.srv = NULL;
    s.app = NULL;
    /* reopen the same database */
    char err[PB_ERR_LEN];
    struct app_options ao = {.prompts_dir = check_source_path("prompts"), .no_background = 1};
    size_t nr;
    free(s.routes);
    CHECK_INT(app_new(s.cfg, &ao, &s.app, err), PB_OK);
    CHECK_INT(api_routes_new(&s.routes, &nr, err), PB_OK);
    struct server_options so = {s.routes,           nr,         s.app,
                                app_metrics(s.app), api_health, api_before_metrics};
    CHECK_INT(server_new(s.cfg, &so, &s.srv, err), PB_OK);
    CHECK_INT(server_start(s.srv, err), PB_OK);
    snprintf(s.url, sizeof s.url, "http://127.0.0.1:%d", server_port(s.srv));
    svc_get(&s, "/v1/experiments/default", TOK, &v2);
    json_t *seg1 = json_object_get(json_object_get(v1, "segments"), "positive");
    json_t *seg2 = json_object_get(json_object_get(v2, "segments"), "positive");
    CHECK_INT(svc_int(seg2, "pulls"), svc_int(seg1, "pulls"));
    for (size_t i = 0; i < 4; i++) {
        json_t *a = json_array_get(json_object_get(v1, "arms"), i);
        json_t *b = json_array_get(json_object_get(v2, "arms"), i);
        CHECK_INT(svc_int(b, "pulls"), svc_int(a, "pulls"));
        CHECK_NEAR(json_number_value(json_object_get(b, "mean")),
                   json_number_value(json_object_get(a, "mean")), 1e-12);
        json_t *sa = json_array_get(json_object_get(seg1, "arms"), i);
        json_t *sb = json_array_get(json_object_get(seg2, "arms"), i);
        CHECK_INT(svc_int(sb, "pulls"), svc_int(sa, "pulls"));
    }
    (void)db;
    json_decref(v1);
    json_decref(v2);
    svc_stop(&s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    svc_fake_start();
    RUN(test_arms_added_retired_and_restored_change_choices);
    RUN(test_policy_switch_and_promotion);
    RUN(test_reset_archives_and_starts_afresh);
    RUN(test_import_run_adds_the_winner);
    RUN(test_start_a_live_experiment_with_a_runs_arms);
    RUN(test_choose_feedback_and_rebuild_after_restart);
    svc_fake_stop();
    curl_global_cleanup();
    CHECK_DONE();
}
