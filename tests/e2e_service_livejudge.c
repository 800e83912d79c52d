/* e2e_service_livejudge.c — the live judge end to end (real app and server in this process, the
 * fake LLM as a child, a reward model trained here from a tiny inline fixture): with
 * judge.live_sample_rate 1 every chat answer is scored apart from the rewards, so the live
 * bandit counts only people's feedback; the agreement endpoint compares judge and people on the
 * same impressions (n, Spearman, sign agreement, per arm, the largest disagreements with their
 * answers) and warns when they disagree; judge.live_feeds_bandit makes the scores rewards of
 * source "judge"; a full queue skips and counts; rate 0 (the default) scores nothing. */
#include "judge/rewardmodel.h"
#include "service/livejudge.h"
#include "svc_harness.h"

#define TOK   "admintok"
#define TURNS 24

/* The fake answers C's prompt with "GOOD #n: ..." and the others with a default reply: a model
 * trained to like "GOOD" and dislike the default reply. Returns its path (static). */
static const char *train_model(void)
{
    static char path[512];
    static const char *const texts[] = {"GOOD #1: 좋아 신난다",
                                        "GOOD #2: 오늘 최고야",
                                        "GOOD #3: 같이 놀자",
                                        "GOOD #4: 멋진 하루",
                                        "그랬구나, 얘기해줘서 고마워! (prompt a)",
                                        "그랬구나, 마음이 느껴져. 얘기해줘서 고마워! (prompt b)",
                                        "그랬구나, 얘기해줘서 고마워! (prompt c)",
                                        "그랬구나, 고마워 (prompt d)"};
    static const double y[] = {1, 1, 1, 1, -1, -1, -1, -1};
    rewardmodel *m = NULL;
    char err[PB_ERR_LEN];
    snprintf(path, sizeof path, "%s/reward.pbrm", check_tmpdir());
    if (rewardmodel_train(texts, y, 8, &m, err) != PB_OK ||
        rewardmodel_save(m, path, err) != PB_OK) {
        fprintf(stderr, "cannot train the test reward model: %s\n", err);
        exit(2);
    }
    rewardmodel_free(m);
    return path;
}

/* TURNS chats with consent, each from its own user; people like GOOD answers (or, inverted,
 * dislike them). Returns how many answers were GOOD. */
static int chat_and_rate(struct svc *s, int inverted)
{
    int good = 0;
    for (int i = 0; i < TURNS; i++) {
        char body[256], user[32];
        json_t *out = NULL;
        snprintf(user, sizeof user, "u%d", i);
        snprintf(body, sizeof body,
                 "{\"user_id\":\"%s\",\"message\":\"오늘 기분 어때 %d\","
                 "\"consent\":true}",
                 user, i);
        CHECK_INT(svc_post(s, "/v1/chat", NULL, body, &out), 200);
        const char *reply = svc_str(out, "reply");
        int is_good = reply && strstr(reply, "GOOD") != NULL;
        good += is_good;
        snprintf(body, sizeof body, "{\"user_id\":\"%s\",\"impression_id\":%lld,\"kind\":\"%s\"}",
                 user, svc_int(out, "impression_id"), is_good != inverted ? "like" : "dislike");
        CHECK_INT(svc_post(s, "/v1/feedback", NULL, body, NULL), 200);
        json_decref(out);
    }
    char err[PB_ERR_LEN];
    CHECK_INT(livejudge_flush(app_livejudge(s->app), 30, err), PB_OK);
    return good;
}

static uint64_t total_pulls(struct svc *s)
{
    struct app_experiment_view v;
    char err[PB_ERR_LEN];
    CHECK_INT(app_experiment_view(s->app, NULL, &v, err), PB_OK);
    uint64_t n = v.total_pulls;
    app_experiment_view_clear(&v);
    return n;
}

static void test_judge_agrees_with_people_and_stays_apart(const char *model)
{
    struct svc s;
    const char *settings[] = {
        "server.admin_token", TOK, "judge.live_sample_rate", "1", "judge.local_model", model, NULL};
    svc_start(&s, settings);
    int good = chat_and_rate(&s, 0);
    CHECK(good > 0 && good < TURNS); /* both kinds of answer were served */
    json_t *a = NULL;
    CHECK_INT(svc_get(&s, "/v1/experiments/default/judge-agreement", TOK, &a), 200);
    json_t *all = json_object_get(a, "overall");
    CHECK_INT(svc_int(all, "n"), TURNS);
    /* people give two levels (like, dislike): with ties on that side even a perfect split of
     * the judge's scores has |rho| below 1 (0.91 here, 0.79 inverted below) */
    CHECK(json_real_value(json_object_get(all, "spearman")) > 0.7);
    CHECK(json_real_value(json_object_get(all, "sign_agreement")) == 1.0);
    CHECK(json_is_false(json_object_get(all, "warn")));
    CHECK_INT(svc_int(a, "scored"), TURNS);
    CHECK_INT(svc_int(a, "scored_stored"), TURNS);
    CHECK_INT(svc_int(a, "skipped_queue_full"), 0);
    CHECK(json_is_false(json_object_get(a, "feeds_bandit")));
    CHECK(json_array_size(json_object_get(a, "arms")) >= 2);
    json_t *worst = json_array_get(json_object_get(a, "disagreements"), 0);
    CHECK(worst && svc_str(worst, "answer") != NULL && svc_str(worst, "arm") != NULL);
    /* the judge's scores are a source of their own: only people's feedback moved the bandit */
    CHECK_INT(total_pulls(&s), TURNS);
    CHECK_INT(svc_get(&s, "/v1/experiments/default/judge-agreement", NULL, NULL), 401);
    CHECK_INT(svc_get(&s, "/v1/experiments/nope/judge-agreement", TOK, NULL), 404);
    json_decref(a);

    /* a full queue skips and counts: offers come far faster than the worker stores scores */
    livejudge *lj = app_livejudge(s.app);
    struct livejudge_stats before, after;
    livejudge_stats_get(lj, &before);
    for (int i = 0; i < 2000; i++) {
        struct livejudge_offer o = {.impression_id = 1000000 + i,
                                    .experiment_id = 999,
                                    .arm_id = 1,
                                    .answer = "GOOD #0: 큐 시험"};
        livejudge_offer(lj, &o);
    }
    char err[PB_ERR_LEN];
    CHECK_INT(livejudge_flush(lj, 60, err), PB_OK);
    livejudge_stats_get(lj, &after);
    CHECK_INT(after.sampled - before.sampled, 2000);
    printf("2000 offers, queue 8: %llu scored, %llu skipped as full, %llu failed\n",
           (unsigned long long)(after.scored - before.scored),
           (unsigned long long)(after.skipped_full - before.skipped_full),
           (unsigned long long)(after.failed - before.failed));
    CHECK(after.skipped_full > before.skipped_full);
    CHECK((after.scored - before.scored) + (after.skipped_full - before.skipped_full) +
              (after.failed - before.failed) ==
          2000);
    svc_stop(&s);
}

static void test_disagreement_warns_and_scores_can_feed_the_bandit(const char *model)
{
    struct svc s;
    const char *settings[] = {"server.admin_token",
                              TOK,
                              "judge.live_sample_rate",
                              "1",
                              "judge.local_model",
                              model,
                              "judge.live_feeds_bandit",
                              "true",
                              NULL};
    svc_start(&s, settings);
    chat_and_rate(&s, 1);
    json_t *a = NULL;
    CHECK_INT(svc_get(&s, "/v1/experiments/default/judge-agreement", TOK, &a), 200);
    json_t *all = json_object_get(a, "overall");
    CHECK_INT(svc_int(all, "n"), TURNS);
    CHECK(json_real_value(json_object_get(all, "spearman")) < -0.7);
    CHECK(json_real_value(json_object_get(all, "sign_agreement")) == 0.0);
    CHECK(json_is_true(json_object_get(all, "warn")));
    CHECK(json_is_true(json_object_get(a, "feeds_bandit")));
    json_decref(a);
    CHECK_INT(total_pulls(&s), 2 * TURNS); /* people's and the judge's rewards */
    svc_stop(&s);
}

static void test_rate_zero_scores_nothing(void)
{
    struct svc s;
    const char *settings[] = {"server.admin_token", TOK, NULL};
    svc_start(&s, settings);
    chat_and_rate(&s, 0);
    json_t *a = NULL;
    CHECK_INT(svc_get(&s, "/v1/experiments/default/judge-agreement", TOK, &a), 200);
    CHECK_INT(svc_int(json_object_get(a, "overall"), "n"), 0);
    CHECK_INT(svc_int(a, "scored_stored"), 0);
    CHECK(json_real_value(json_object_get(a, "sample_rate")) == 0.0);
    json_decref(a);
    svc_stop(&s);
}

static void test_missing_model_is_a_clear_error(void)
{
    config *cfg = NULL;
    app *ap = NULL;
    char err[PB_ERR_LEN], db[600];
    testdb_make(db, sizeof db, check_tmpdir(), "x.db");
    CHECK_INT(config_defaults(&cfg, err), PB_OK);
    config_set(cfg, "db.path", db, err);
    config_set(cfg, "emotion.backend", "none", err);
    config_set(cfg, "llm.base_url", "", err);
    config_set(cfg, "judge.live_sample_rate", "0.5", err);
    config_set(cfg, "judge.local_model", "/nonexistent/reward.pbrm", err);
    struct app_options ao = {.prompts_dir = check_source_path("prompts"), .no_background = 1};
    CHECK(app_new(cfg, &ao, &ap, err) != PB_OK);
    CHECK(strstr(err, "judge.local_model") != NULL);
    config_free(cfg);
}

int main(void)
{
    svc_fake_start();
    const char *model = train_model();
    char path[512];
    snprintf(path, sizeof path, "%s", model);
    test_judge_agrees_with_people_and_stays_apart(path);
    test_disagreement_warns_and_scores_can_feed_the_bandit(path);
    test_rate_zero_scores_nothing();
    test_missing_model_is_a_clear_error();
    CHECK_DONE();
}
