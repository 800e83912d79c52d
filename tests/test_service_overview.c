/* test_service_overview.c — the dashboard's decision views over HTTP on a real app:
 * GET /v1/experiments/{name}/overview (arms with KL intervals that stay wide at small n, stable
 * P(best), the GLR verdict and the advice: keep exploring, promote, promoted, serve per
 * segment; series over clock time for each window), GET .../examples (best / median / worst of
 * consented answers only), the offline run views (a run's real pull counts and its winner),
 * the light experiment list and the public admin status. */
#include "bandit/glr.h"
#include "dash_harness.h"
#include "service/dashboard.h"
#include "service/decide.h"
#include "service/live.h"
#include "store/runs.h"

#include <math.h>

static char err[PB_ERR_LEN];

static int start(struct dash_service *sv, const char *token)
{
    size_t n = 0;
    const struct server_route *routes = dashboard_routes(&n);
    const struct server_route *sets[] = {routes};
    if (dash_service_start(sv, token, sets, &n, 1) != 0) {
        fprintf(stderr, "service: %s\n", dash_err);
        CHECK(0);
        return -1;
    }
    return 0;
}

/* The arm called name in a list of arms (by "name", or "label" in the examples). */
static json_t *arm_named(json_t *list, const char *name)
{
    size_t i;
    json_t *a;
    json_array_foreach(list, i, a)
    {
        const char *n = json_string_value(json_object_get(a, "name"));
        if (!n)
            n = json_string_value(json_object_get(a, "label"));
        if (n && !strcmp(n, name))
            return a;
    }
    return NULL;
}

/* The ids of the default experiment's arms A..D, in order. */
static void default_arms(store *s, int64_t *exp, int64_t ids[4])
{
    struct store_experiment e = {0};
    struct arm *arms = NULL;
    size_t n = 0;
    CHECK_INT(store_experiment_get(s, "default", &e, err), PB_OK);
    CHECK_INT(arms_list(s, e.id, 0, &arms, &n, err), PB_OK);
    CHECK_INT(n, 4);
    for (size_t i = 0; i < 4 && i < n; i++)
        ids[i] = arms[i].id;
    *exp = e.id;
    arms_list_free(arms, n);
    store_experiment_clear(&e);
}

/* n rewards of arm in segment: `likes` of them +1, the rest -1. */
static void plant(store *s, int64_t exp, int64_t arm, const char *segment, int n, int likes)
{
    for (int i = 0; i < n; i++)
        dash_reward(s, exp, arm, segment, "click", i < likes ? 1 : -1);
}

static struct dash_answer overview(int port, const char *window)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/experiments/default/overview%s%s", window ? "?window=" : "",
             window ? window : "");
    return dash_get(port, path, "tok");
}

static const char *action_of(json_t *ov)
{
    return json_string_value(json_object_get(json_object_get(ov, "advice"), "action"));
}

static void test_the_verdict_follows_the_data_and_p_best_is_stable(void)
{
    struct dash_service sv;
    int64_t exp, ids[4];
    if (start(&sv, NULL) != 0)
        return dash_service_stop(&sv);
    store *s = app_store_acquire(sv.app, err);
    default_arms(s, &exp, ids);
    for (int k = 0; k < 4; k++)
        plant(s, exp, ids[k], NULL, 2, k == 1 ? 2 : 0);
    CHECK_INT(live_reload(app_live(sv.app), s, "default", err), PB_OK);
    struct dash_answer a = overview(sv.port, NULL);
    CHECK_INT(a.status, 200);
    CHECK_STR(action_of(a.json), "keep_exploring");
    json_t *v = json_object_get(a.json, "verdict");
    CHECK(json_is_true(json_object_get(v, "compared")) &&
          json_is_false(json_object_get(v, "enough_data")));
    CHECK_INT(json_integer_value(json_object_get(v, "leader")), ids[1]);
    json_t *arm_a = arm_named(json_object_get(a.json, "arms"), "A");
    double lo = json_real_value(json_array_get(json_object_get(arm_a, "interval"), 0));
    double hi = json_real_value(json_array_get(json_object_get(arm_a, "interval"), 1));
    CHECK(lo == -1 && hi > 0); /* two rewards of -1: never the interval [-1, -1] */
    CHECK_INT(json_array_size(json_object_get(json_object_get(a.json, "series"), "x")), 168);
    /* The same state gives the same P(best), to the last digit. */
    struct dash_answer b = overview(sv.port, NULL);
    json_t *pa = json_object_get(arm_named(json_object_get(a.json, "arms"), "C"), "p_best");
    json_t *pb = json_object_get(arm_named(json_object_get(b.json, "arms"), "C"), "p_best");
    CHECK(json_real_value(pa) == json_real_value(pb));
    dash_answer_clear(&b);
    /* Much more data: B separates and the advice is to promote it. */
    for (int k = 0; k < 4; k++)
        plant(s, exp, ids[k], NULL, 60, k == 1 ? 55 : 20);
    CHECK_INT(live_reload(app_live(sv.app), s, "default", err), PB_OK);
    b = overview(sv.port, "24h");
    CHECK_STR(action_of(b.json), "promote");
    CHECK_INT(json_integer_value(json_object_get(json_object_get(b.json, "advice"), "arm")),
              ids[1]);
    CHECK(json_is_true(json_object_get(json_object_get(b.json, "verdict"), "separated")));
    CHECK(json_real_value(json_object_get(arm_named(json_object_get(b.json, "arms"), "C"),
                                          "p_best")) != json_real_value(pa));
    json_t *series = json_object_get(b.json, "series");
    CHECK_INT(json_array_size(json_object_get(series, "x")), 24);
    double last_x = json_real_value(json_array_get(json_object_get(series, "x"), 23));
    CHECK_NEAR(last_x, floor(pb_now_wall() / 3600) * 3600, 3600);
    json_t *sb = json_array_get(json_object_get(series, "arms"), 1);
    json_t *pbest = json_object_get(sb, "p_best");
    CHECK(json_real_value(json_array_get(pbest, 23)) > 0.9); /* B's P(best) now */
    /* The curve's last point (recomputed after the new rewards, earlier points reused) is the
     * table's P(best), up to the curve's fewer draws. */
    for (size_t k = 0; k < 4; k++) {
        json_t *curve =
            json_object_get(json_array_get(json_object_get(series, "arms"), k), "p_best");
        json_t *arm = json_array_get(json_object_get(b.json, "arms"), k);
        CHECK_NEAR(json_real_value(json_array_get(curve, 23)),
                   json_real_value(json_object_get(arm, "p_best")), 0.03);
    }
    CHECK_INT(json_array_size(json_object_get(b.json, "recent")), 20);
    CHECK_INT(json_integer_value(json_object_get(json_object_get(b.json, "experiment"), "rewards")),
              248);
    dash_answer_clear(&b);
    /* Promoted: nothing left to do. */
    CHECK_INT(store_experiment_promote(s, exp, ids[1], err), PB_OK);
    CHECK_INT(live_reload(app_live(sv.app), s, "default", err), PB_OK);
    b = overview(sv.port, "all");
    CHECK_STR(action_of(b.json), "promoted");
    dash_answer_clear(&b);
    dash_answer_clear(&a);
    app_store_release(sv.app, s);
    dash_service_stop(&sv);
}

static void test_segments_with_different_winners_are_served_per_segment(void)
{
    struct dash_service sv;
    int64_t exp, ids[4];
    if (start(&sv, NULL) != 0)
        return dash_service_stop(&sv);
    store *s = app_store_acquire(sv.app, err);
    default_arms(s, &exp, ids);
    for (int k = 0; k < 4; k++) {
        plant(s, exp, ids[k], "negative", 40, k == 1 ? 38 : 8);
        plant(s, exp, ids[k], "positive", 40, k == 2 ? 38 : 8);
    }
    CHECK_INT(live_reload(app_live(sv.app), s, "default", err), PB_OK);
    struct dash_answer a = overview(sv.port, NULL);
    json_t *adv = json_object_get(a.json, "advice");
    CHECK_STR(action_of(a.json), "serve_per_segment");
    json_t *serve = json_object_get(adv, "serve");
    CHECK_INT(json_array_size(serve), 2);
    size_t i;
    json_t *item;
    int neg_b = 0, pos_c = 0;
    json_array_foreach(serve, i, item)
    {
        const char *seg = json_string_value(json_object_get(item, "segment"));
        int64_t arm = json_integer_value(json_object_get(item, "arm"));
        neg_b |= !strcmp(seg, "negative") && arm == ids[1];
        pos_c |= !strcmp(seg, "positive") && arm == ids[2];
    }
    CHECK(neg_b && pos_c);
    json_t *segs = json_object_get(a.json, "segments");
    json_array_foreach(
        segs, i, item) if (!strcmp(json_string_value(json_object_get(item, "name")), "negative"))
    {
        json_t *v = json_object_get(item, "verdict");
        CHECK(json_is_true(json_object_get(v, "separated")));
        CHECK_NEAR(json_real_value(json_object_get(v, "delta")), 0.025, 1e-12); /* 2 compared */
        CHECK_INT(json_integer_value(json_object_get(item, "rewards")), 160);
    }
    dash_answer_clear(&a);
    app_store_release(sv.app, s);
    dash_service_stop(&sv);
}

static void test_examples_are_consented_answers_ranked_per_arm(void)
{
    struct dash_service sv;
    int64_t exp, ids[4];
    if (start(&sv, NULL) != 0)
        return dash_service_stop(&sv);
    store *s = app_store_acquire(sv.app, err);
    default_arms(s, &exp, ids);
    int64_t turn =
        dash_turn(s, exp, ids[1], "u1", "c1", "시험 망쳤어", "BEST 많이 속상했겠다", "click", 1);
    dash_turn(s, exp, ids[1], "u1", "c1", "그냥 그래", "음 그렇구나", "edit", 0);
    dash_turn(s, exp, ids[1], "u1", "c1", "몰라", "별로인 답", "click", -1);
    dash_turn(s, exp, ids[0], "u2", "c2", "안녕", "A의 답", "click", -1);
    plant(s, exp, ids[1], NULL, 5, 5); /* rewards without a stored answer: never examples */
    struct dash_answer a = dash_get(sv.port, "/v1/experiments/default/examples", "tok");
    CHECK_INT(a.status, 200);
    json_t *b = arm_named(json_object_get(a.json, "arms"), "B");
    json_t *list = json_object_get(b, "examples");
    CHECK_INT(json_integer_value(json_object_get(b, "rated")), 3);
    CHECK_INT(json_array_size(list), 3);
    json_t *best = json_array_get(list, 0), *worst = json_array_get(list, 2);
    CHECK_STR(json_string_value(json_object_get(best, "rank")), "best");
    CHECK_STR(json_string_value(json_object_get(best, "answer")), "BEST 많이 속상했겠다");
    CHECK_STR(json_string_value(json_object_get(best, "user_text")), "시험 망쳤어");
    CHECK_STR(json_string_value(json_object_get(best, "emotion")), "슬픔");
    CHECK_STR(json_string_value(json_object_get(json_array_get(list, 1), "answer")), "음 그렇구나");
    CHECK_STR(json_string_value(json_object_get(worst, "rank")), "worst");
    CHECK_STR(json_string_value(json_object_get(worst, "answer")), "별로인 답");
    json_t *arm_a = arm_named(json_object_get(a.json, "arms"), "A");
    CHECK_INT(json_array_size(json_object_get(arm_a, "examples")), 1); /* one answer, shown once */
    dash_answer_clear(&a);
    /* From a reward row back to its turn. */
    char path[96];
    snprintf(path, sizeof path, "/v1/impressions/%lld/turn", (long long)turn);
    a = dash_get(sv.port, path, "tok");
    CHECK_INT(a.status, 200);
    CHECK(json_is_true(json_object_get(a.json, "stored")));
    CHECK_STR(json_string_value(json_object_get(a.json, "user_text")), "시험 망쳤어");
    CHECK_STR(json_string_value(json_object_get(a.json, "answer")), "BEST 많이 속상했겠다");
    CHECK_STR(json_string_value(json_object_get(a.json, "emotion")), "슬픔");
    dash_answer_clear(&a);
    snprintf(path, sizeof path, "/v1/impressions/%lld/turn", (long long)turn + 4);
    a = dash_get(sv.port, path, "tok"); /* a planted reward: nothing stored */
    CHECK_INT(a.status, 200);
    CHECK(json_is_false(json_object_get(a.json, "stored")));
    CHECK(json_is_null(json_object_get(a.json, "answer")));
    dash_answer_clear(&a);
    a = dash_get(sv.port, "/v1/impressions/99999/turn", "tok");
    CHECK_INT(a.status, 404);
    dash_answer_clear(&a);
    a = dash_get(sv.port, "/v1/impressions/1/turn", NULL);
    CHECK_INT(a.status, 401);
    dash_answer_clear(&a);
    app_store_release(sv.app, s);
    dash_service_stop(&sv);
}

/* An offline experiment "run-N" with a run of `steps` steps: arm 0 scores 1, the others -0.5. */
static int64_t offline_run(store *s, int steps, int64_t arm_ids[3])
{
    int64_t run = 0;
    struct store_experiment e = {0};
    CHECK_INT(runs_create(s, "r", "offline", "{\"policy\":\"ucb1\"}", &run, err), PB_OK);
    char name[32];
    snprintf(name, sizeof name, "run-%lld", (long long)run);
    CHECK_INT(store_experiment_get_or_create(s, name, "offline", "ucb1", &e, err), PB_OK);
    const char *names[3] = {"Warm", "Short", "Cheer"};
    for (int k = 0; k < 3; k++)
        arm_ids[k] = dash_add_arm(s, e.id, names[k], names[k]);
    CHECK_INT(runs_set_experiment(s, run, e.id, err), PB_OK);
    for (int i = 0; i < steps; i++) {
        int k = i % 5 < 3 ? 0 : i % 5 - 2;
        struct run_step st = {.run_id = run,
                              .iteration = i,
                              .arm_id = arm_ids[k],
                              .scenario = "오늘 힘들었어",
                              .output = k ? "meh" : "BEST",
                              .reason = k ? NULL : "warm, reflects the sadness",
                              .score = k ? -0.5 : 1,
                              .has_score = 1,
                              .status = "ok",
                              .cost = 0.001,
                              .calls = 2,
                              .emotion = "슬픔"};
        CHECK_INT(runs_step_put(s, &st, err), PB_OK);
    }
    CHECK_INT(runs_close(s, run, "finished", "completed", arm_ids[0], err), PB_OK);
    store_experiment_clear(&e);
    return run;
}

static void test_an_offline_run_shows_its_real_statistics_and_winner(void)
{
    struct dash_service sv;
    int64_t arms[3];
    char path[128];
    if (start(&sv, NULL) != 0)
        return dash_service_stop(&sv);
    store *s = app_store_acquire(sv.app, err);
    int64_t run = offline_run(s, 100, arms);
    snprintf(path, sizeof path, "/v1/experiments/run-%lld/overview", (long long)run);
    struct dash_answer a = dash_get(sv.port, path, "tok");
    CHECK_INT(a.status, 200);
    CHECK_STR(json_string_value(json_object_get(json_object_get(a.json, "experiment"), "kind")),
              "offline");
    json_t *warm = arm_named(json_object_get(a.json, "arms"), "Warm");
    CHECK_NEAR(json_real_value(json_object_get(warm, "rewards")), 60, 0);
    CHECK_NEAR(json_real_value(json_object_get(warm, "mean")), 1, 0);
    CHECK_NEAR(json_real_value(
                   json_object_get(arm_named(json_object_get(a.json, "arms"), "Cheer"), "rewards")),
               20, 0);
    CHECK_STR(action_of(a.json), "import_winner");
    CHECK_INT(json_integer_value(json_object_get(json_object_get(a.json, "advice"), "arm")),
              arms[0]);
    json_t *series = json_object_get(a.json, "series");
    CHECK_STR(json_string_value(json_object_get(series, "x_kind")), "iteration");
    CHECK_INT(json_integer_value(json_array_get(json_object_get(series, "x"), 99)), 100);
    snprintf(path, sizeof path, "/v1/runs/%lld", (long long)run);
    struct dash_answer b = dash_get(sv.port, path, "tok");
    CHECK_INT(b.status, 200);
    CHECK(json_equal(json_object_get(a.json, "arms"), json_object_get(b.json, "arms")));
    CHECK_NEAR(json_real_value(json_object_get(json_object_get(b.json, "run"), "cost_usd")), 0.1,
               1e-9);
    dash_answer_clear(&b);
    b = dash_get(sv.port, "/v1/dashboard/runs", "tok");
    json_t *r0 = json_array_get(json_object_get(b.json, "runs"), 0);
    CHECK_INT(json_integer_value(json_object_get(r0, "steps_ok")), 100);
    CHECK_INT(json_integer_value(json_object_get(r0, "calls")), 200);
    dash_answer_clear(&b);
    snprintf(path, sizeof path, "/v1/experiments/run-%lld/examples", (long long)run);
    b = dash_get(sv.port, path, "tok");
    json_t *ex = json_object_get(arm_named(json_object_get(b.json, "arms"), "Warm"), "examples");
    CHECK_STR(json_string_value(json_object_get(json_array_get(ex, 0), "answer")), "BEST");
    CHECK_STR(json_string_value(json_object_get(json_array_get(ex, 0), "emotion")), "슬픔");
    /* the judge's reason recorded with the step; an arm judged without one shows null */
    CHECK_STR(json_string_value(json_object_get(json_array_get(ex, 0), "reason")),
              "warm, reflects the sadness");
    ex = json_object_get(arm_named(json_object_get(b.json, "arms"), "Cheer"), "examples");
    CHECK(json_array_size(ex) > 0 &&
          json_is_null(json_object_get(json_array_get(ex, 0), "reason")));
    dash_answer_clear(&b);
    /* A short run: not separated yet, and how many more steps. */
    run = offline_run(s, 10, arms);
    snprintf(path, sizeof path, "/v1/runs/%lld", (long long)run);
    b = dash_get(sv.port, path, "tok");
    CHECK_STR(action_of(b.json), "run_longer");
    CHECK(json_real_value(json_object_get(json_object_get(b.json, "advice"), "more_steps")) > 0);
    dash_answer_clear(&b);
    b = dash_get(sv.port, "/v1/runs/999", "tok");
    CHECK_INT(b.status, 404);
    dash_answer_clear(&b);
    dash_answer_clear(&a);
    app_store_release(sv.app, s);
    dash_service_stop(&sv);
}

static void test_refusals_the_light_list_and_the_admin_status(void)
{
    struct dash_service sv;
    if (start(&sv, NULL) != 0)
        return dash_service_stop(&sv);
    const struct {
        const char *path, *token;
        long status;
    } cases[] = {
        {"/v1/experiments/default/overview", NULL, 401},
        {"/v1/experiments/default/overview", "wrong", 403},
        {"/v1/experiments/default/overview?window=1y", "tok", 400},
        {"/v1/experiments/nosuch/overview", "tok", 404},
        {"/v1/experiments/nosuch/examples", "tok", 404},
        {"/v1/runs/abc", "tok", 400},
        {"/v1/dashboard/runs", NULL, 401},
        {"/v1/dashboard/experiments", NULL, 401},
        {"/v1/admin-status", NULL, 200},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct dash_answer a = dash_get(sv.port, cases[i].path, cases[i].token);
        if (a.status != cases[i].status)
            fprintf(stderr, "%s: %ld\n", cases[i].path, a.status);
        CHECK_INT(a.status, cases[i].status);
        dash_answer_clear(&a);
    }
    struct dash_answer a = dash_get(sv.port, "/v1/admin-status", NULL);
    CHECK(json_is_true(json_object_get(a.json, "admin")));
    dash_answer_clear(&a);
    store *s = app_store_acquire(sv.app, err);
    struct store_experiment e = {0};
    int64_t new_id = 0;
    CHECK_INT(store_experiment_get(s, "default", &e, err), PB_OK);
    CHECK_INT(store_experiment_reset(s, e.id, &new_id, err), PB_OK);
    app_store_release(sv.app, s);
    a = dash_get(sv.port, "/v1/dashboard/experiments", "tok");
    json_t *list = json_object_get(a.json, "experiments");
    CHECK_INT(json_array_size(list), 1); /* the archived one is not listed */
    CHECK_INT(json_integer_value(json_object_get(json_array_get(list, 0), "id")), new_id);
    dash_answer_clear(&a);
    store_experiment_clear(&e);
    dash_service_stop(&sv);
    if (start(&sv, "") != 0)
        return dash_service_stop(&sv);
    a = dash_get(sv.port, "/v1/admin-status", NULL);
    CHECK(json_is_false(json_object_get(a.json, "admin")));
    dash_answer_clear(&a);
    dash_service_stop(&sv);
}

static void test_decide_writes_null_for_what_is_unknown(void)
{
    struct decide_point p[2] = {{NAN, 0, 0, NAN}, {0.5, 4, 2, 0.7}};
    json_t *j = decide_series_arm_json(9, p, 2);
    CHECK(json_is_null(json_array_get(json_object_get(j, "share"), 0)));
    CHECK(json_is_null(json_array_get(json_object_get(j, "mean"), 0)));
    CHECK(json_is_null(json_array_get(json_object_get(j, "lo"), 0)));
    CHECK_NEAR(json_real_value(json_array_get(json_object_get(j, "mean"), 1)), 0.5, 0);
    double lo, hi;
    glr_interval(0.5, 4, -1, 1, DECIDE_DELTA, &lo, &hi);
    CHECK_NEAR(json_real_value(json_array_get(json_object_get(j, "lo"), 1)), lo, 0);
    CHECK_NEAR(json_real_value(json_array_get(json_object_get(j, "hi"), 1)), hi, 0);
    json_decref(j);
    struct decide_arm arms[2] = {{.name = "A", .version = 1}, {.name = "A", .version = 2}};
    char label[32];
    decide_label(arms, 2, 1, label);
    CHECK_STR(label, "A v2");
}

int main(void)
{
    RUN(test_the_verdict_follows_the_data_and_p_best_is_stable);
    RUN(test_segments_with_different_winners_are_served_per_segment);
    RUN(test_examples_are_consented_answers_ranked_per_arm);
    RUN(test_an_offline_run_shows_its_real_statistics_and_winner);
    RUN(test_refusals_the_light_list_and_the_admin_status);
    RUN(test_decide_writes_null_for_what_is_unknown);
    CHECK_DONE();
}
