/* e2e_service_activation.c — issue 8's delayed rewards over HTTP in this process: a choose
 * with "activate": false is stored but not counted and refuses rewards until activated;
 * activate / discard by the owner or admin; the reward wait sweep gives the default reward
 * once per silent impression (or nothing with "exclude"); bad wait settings fail clearly. */
#include "store/impressions.h"
#include "store/stmt.h"
#include "svc_harness.h"

#define TOK "admintok"

/* Ages every impression by `seconds` (so the sweep sees them past rewards.wait_s without a
 * sleep). */
static void age_impressions(const struct svc *s, int seconds)
{
    char err[PB_ERR_LEN], sql[160];
    store *st = NULL;
    store_stmt *q;
    snprintf(sql, sizeof sql,
             "UPDATE impressions SET created_at = created_at - %d, activated_at = "
             "activated_at - %d",
             seconds, seconds);
    svc_flush(s);
    int rc = store_open(s->db, NULL, &st, err);
    if (rc == PB_OK && (rc = store_prepare(st, sql, &q, err)) == PB_OK)
        rc = stmt_run(st, q, "ageing impressions", err);
    CHECK_INT(rc, PB_OK);
    store_close(st);
}

/* The impression as stored, read through a fresh handle. */
static struct impressions_info stored(const struct svc *s, long long id)
{
    char err[PB_ERR_LEN];
    struct impressions_info info = {0};
    store *st = NULL;
    svc_flush(s);
    if (store_open(s->db, NULL, &st, err) != PB_OK || impressions_get(st, id, &info, err) != PB_OK)
        info.id = -1;
    store_close(st);
    return info;
}

static long long choose(const struct svc *s, const char *body)
{
    json_t *c = NULL;
    CHECK_INT(svc_post(s, "/v1/choose", NULL, body, &c), 200);
    long long id = svc_int(c, "impression_id");
    json_decref(c);
    return id;
}

static int post_id(const struct svc *s, long long id, const char *action, const char *token,
                   const char *body, json_t **out)
{
    char path[96];
    snprintf(path, sizeof path, "/v1/impressions/%lld/%s", id, action);
    return svc_post(s, path, token, body, out);
}

static int like(const struct svc *s, long long id)
{
    char body[128];
    snprintf(body, sizeof body, "{\"user_id\":\"u1\",\"impression_id\":%lld,\"kind\":\"like\"}",
             id);
    return svc_post(s, "/v1/feedback", NULL, body, NULL);
}

static long long total_impressions(const struct svc *s)
{
    json_t *v = NULL;
    long long n = 0;
    svc_get(s, "/v1/experiments/default", TOK, &v);
    json_t *arms = json_object_get(v, "arms");
    for (size_t i = 0; i < json_array_size(arms); i++)
        n += svc_int(json_array_get(arms, i), "impressions");
    json_decref(v);
    return n;
}

static long long total_pulls(const struct svc *s)
{
    json_t *v = NULL;
    svc_get(s, "/v1/experiments/default", TOK, &v);
    long long n = svc_int(v, "total_pulls");
    json_decref(v);
    return n;
}

static void test_inactive_choice_is_not_counted_until_activated(void)
{
    static const char *const set[] = {"server.admin_token", TOK, NULL};
    struct svc s;
    json_t *r = NULL;
    svc_start(&s, set);
    long long id = choose(&s, "{\"user_id\":\"u1\",\"activate\":false}");
    CHECK_INT(stored(&s, id).activated, 0);
    CHECK_INT(total_impressions(&s), 0);
    CHECK_INT(like(&s, id), 409); /* rewards refused until activated */
    CHECK_INT(post_id(&s, id, "activate", NULL, "{\"user_id\":\"other\"}", NULL), 403);
    CHECK_INT(post_id(&s, id, "activate", NULL, "{\"user_id\":\"u1\"}", &r), 200);
    CHECK(json_is_true(json_object_get(r, "changed")));
    json_decref(r);
    CHECK_INT(stored(&s, id).activated, 1);
    CHECK_INT(total_impressions(&s), 1);
    CHECK_INT(post_id(&s, id, "activate", NULL, "{\"user_id\":\"u1\"}", &r), 200); /* again */
    CHECK(json_is_false(json_object_get(r, "changed")));
    json_decref(r);
    CHECK_INT(like(&s, id), 200);
    CHECK_INT(total_pulls(&s), 1);
    CHECK_INT(post_id(&s, id, "discard", TOK, "{}", NULL), 409); /* shown: cannot discard */
    svc_stop(&s);
}

static void test_discarded_choice_is_gone(void)
{
    static const char *const set[] = {"server.admin_token", TOK, NULL};
    struct svc s;
    svc_start(&s, set);
    long long id = choose(&s, "{\"user_id\":\"u1\",\"activate\":false}");
    CHECK_INT(post_id(&s, id, "discard", NULL, "{}", NULL), 403); /* neither owner nor admin */
    CHECK_INT(post_id(&s, id, "discard", TOK, "{}", NULL), 200);  /* admin */
    CHECK_INT((int)stored(&s, id).id, -1);
    CHECK_INT(post_id(&s, id, "activate", TOK, "{}", NULL), 404);
    CHECK_INT(like(&s, id), 404);
    CHECK_INT(post_id(&s, 999999, "activate", TOK, "{}", NULL), 404);
    CHECK_INT(total_impressions(&s), 0);
    svc_stop(&s);
}

static void test_reward_wait_gives_the_default_once(void)
{
    static const char *const set[] = {
        "server.admin_token", TOK, "rewards.wait_s", "60", "rewards.missing", "-0.25", NULL};
    struct svc s;
    char err[PB_ERR_LEN];
    int64_t given = -1;
    svc_start(&s, set);
    long long silent1 = choose(&s, "{\"user_id\":\"u1\"}");
    long long silent2 = choose(&s, "{\"user_id\":\"u1\"}");
    long long liked = choose(&s, "{\"user_id\":\"u1\"}");
    long long inactive = choose(&s, "{\"user_id\":\"u1\",\"activate\":false}");
    CHECK_INT(like(&s, liked), 200);
    CHECK_INT(app_run_reward_sweep(s.app, &given, err), PB_OK); /* nothing is old enough yet */
    CHECK_INT((int)given, 0);
    age_impressions(&s, 120);
    CHECK_INT(app_run_reward_sweep(s.app, &given, err), PB_OK);
    CHECK_INT((int)given, 2);
    CHECK_INT(total_pulls(&s), 3); /* the live state moved */
    CHECK_INT(app_run_reward_sweep(s.app, &given, err), PB_OK);
    CHECK_INT((int)given, 0); /* idempotent */
    CHECK_INT((int)svc_counts(&s).rewards, 3);
    CHECK_INT(like(&s, silent1), 409); /* late feedback after the default is not counted */
    CHECK(stored(&s, silent2).defaulted);
    CHECK(!stored(&s, liked).defaulted);
    CHECK(!stored(&s, inactive).defaulted);
    svc_stop(&s);
}

static void test_reward_wait_exclude_gives_nothing(void)
{
    static const char *const set[] = {"rewards.wait_s", "60", NULL}; /* missing: exclude */
    struct svc s;
    char err[PB_ERR_LEN];
    int64_t given = -1;
    svc_start(&s, set);
    choose(&s, "{\"user_id\":\"u1\"}");
    age_impressions(&s, 120);
    CHECK_INT(app_run_reward_sweep(s.app, &given, err), PB_OK);
    CHECK_INT((int)given, 0);
    CHECK_INT((int)svc_counts(&s).rewards, 0);
    svc_stop(&s);
}

static void test_bad_wait_settings_are_clear_errors(void)
{
    static const char *const bad_missing[] = {"2", "sometimes", ""};
    char err[PB_ERR_LEN];
    config *cfg = NULL;
    app *a = NULL;
    CHECK_INT(config_defaults(&cfg, err), PB_OK);
    CHECK_INT(config_set(cfg, "rewards.wait_s", "-5", err), PB_ERR_INVALID);
    CHECK(strstr(err, "rewards.wait_s") != NULL);
    for (size_t i = 0; i < sizeof bad_missing / sizeof bad_missing[0]; i++) {
        CHECK_INT(config_set(cfg, "rewards.missing", bad_missing[i], err), PB_OK);
        err[0] = '\0';
        CHECK_INT(app_new(cfg, NULL, &a, err), PB_ERR_INVALID);
        CHECK(strstr(err, "rewards.missing") != NULL);
    }
    config_free(cfg);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    svc_fake_start();
    RUN(test_inactive_choice_is_not_counted_until_activated);
    RUN(test_discarded_choice_is_gone);
    RUN(test_reward_wait_gives_the_default_once);
    RUN(test_reward_wait_exclude_gives_nothing);
    RUN(test_bad_wait_settings_are_clear_errors);
    svc_fake_stop();
    curl_global_cleanup();
    CHECK_DONE();
}
