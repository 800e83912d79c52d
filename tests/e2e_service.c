/* e2e_service.c — the chat service end to end over real HTTP in this process (app + server
 * on port 0, real SQLite file, the fake LLM as a child): history and message layout, sticky
 * arms, feedback and its idempotency and ownership, consent, erasure, pseudonymisation,
 * retention, no provider / provider failure storing nothing, regenerate, and convergence to
 * the prompt whose answers users like. */
#include "store/feedback.h"
#include "base/hash.h"
#include "store/impressions.h"
#include "svc_harness.h"
#include "base/text.h"

static json_t *chat(const struct svc *s, const char *user, const char *conv, const char *msg,
                    int consent, int *status)
{
    json_t *out = NULL;
    json_t *body = json_pack("{s:s, s:s}", "user_id", user, "message", msg);
    if (conv)
        json_object_set_new(body, "conversation_id", json_string(conv));
    if (consent >= 0)
        json_object_set_new(body, "consent", json_boolean(consent));
    char *text = json_dumps(body, 0);
    int st = svc_post(s, "/v1/chat", NULL, text, &out);
    if (status)
        *status = st;
    free(text);
    json_decref(body);
    return out;
}

static int feedback(const struct svc *s, const char *user, long long imp, const char *kind,
                    const char *event, json_t **out)
{
    char body[512];
    snprintf(body, sizeof body, "{\"user_id\":\"%s\",\"impression_id\":%lld,\"kind\":\"%s\"%s%s%s}",
             user, imp, kind, event ? ",\"event_id\":\"" : "", event ? event : "",
             event ? "\"" : "");
    return svc_post(s, "/v1/feedback", NULL, body, out);
}

/* The messages array of the fake's last chat request. */
static json_t *last_llm_messages(void)
{
    json_t *log = svc_fake_requests();
    json_t *reqs = json_object_get(log, "requests");
    json_t *msgs = NULL;
    for (size_t i = json_array_size(reqs); i-- > 0 && !msgs;) {
        json_t *b = json_object_get(json_array_get(reqs, i), "body");
        if (json_is_object(b))
            msgs = json_incref(json_object_get(b, "messages"));
    }
    json_decref(log);
    return msgs;
}

static const char *msg_at(const json_t *msgs, size_t i, const char *field)
{
    return json_string_value(json_object_get(json_array_get(msgs, i), field));
}

static const char *LONG_SAD =
    "오늘 너무 슬프고 힘들었어. 회사에서 하루 종일 일이 꼬여서 아무것도 제대로 못 했고, 집에 "
    "오는 길에는 비까지 와서 우산도 없이 다 젖었어. 저녁도 못 먹고 그냥 누워 있는데 괜히 눈물이 "
    "날 것 같아. 내일은 좀 나아질까? 이번 주 내내 이런 식이라서 정말 지치고 슬퍼. 누가 내 얘기 좀 "
    "들어줬으면 좋겠어.";

/* Turn 3's request carries turns 1-2 (each cut to 128 characters) after the arm's prompt,
 * and the user content is the sentence + " ;; " + the Korean name of the top emotion. */
static void check_history_layout(int consent)
{
    struct svc s;
    int st;
    svc_start(&s, NULL);
    const char *conv = consent ? "conv-hist-on" : "conv-hist-off";
    json_t *r1 = chat(&s, "hist-user", conv, LONG_SAD, consent, &st);
    CHECK_INT(st, 200);
    json_t *r2 = chat(&s, "hist-user", conv, "진짜 화가 나네", consent, &st);
    json_t *r3 = chat(&s, "hist-user", conv, "너무 행복하고 신나", consent, &st);
    CHECK_INT(st, 200);
    json_t *msgs = last_llm_messages();
    CHECK_INT(json_array_size(msgs), 6);
    CHECK_STR(msg_at(msgs, 0, "role"), "system");
    CHECK_STR(msg_at(msgs, 1, "role"), "user");
    CHECK_STR(msg_at(msgs, 2, "role"), "assistant");
    CHECK_STR(msg_at(msgs, 4, "role"), "assistant");
    CHECK_STR(msg_at(msgs, 5, "role"), "user");
    const char *h1 = msg_at(msgs, 1, "content");
    CHECK(h1 && text_utf8_count(h1, strlen(h1)) == 128);
    CHECK(h1 && strncmp(h1, LONG_SAD, strlen(h1)) == 0);
    CHECK_STR(msg_at(msgs, 2, "content"), svc_str(r1, "reply"));
    CHECK(strncmp(msg_at(msgs, 3, "content"), "진짜 화가 나네 ;; ", 23) == 0);
    /* The last user content ends with " ;; " + the Korean emotion name from the reply. */
    const char *emo = svc_str(json_array_get(json_object_get(r3, "emotions"), 0), "name");
    char want[256];
    snprintf(want, sizeof want, "너무 행복하고 신나 ;; %s", emo ? emo : "?");
    CHECK_STR(msg_at(msgs, 5, "content"), want);
    CHECK_STR(emo, "기쁨");
    CHECK_STR(svc_str(r3, "segment"), "positive");
    struct store_counts c = svc_counts(&s);
    CHECK_INT(c.messages, consent ? 6 : 0); /* text stored only with consent */
    CHECK_INT(c.impressions, 3);
    json_decref(msgs);
    json_decref(r1);
    json_decref(r2);
    json_decref(r3);
    svc_stop(&s);
}

static void test_history_in_memory_without_consent(void)
{
    check_history_layout(0);
}

static void test_history_from_store_with_consent(void)
{
    check_history_layout(1);
}

static void test_conversation_keeps_its_arm(void)
{
    struct svc s;
    svc_start(&s, NULL);
    for (int c = 0; c < 4; c++) {
        char conv[32];
        snprintf(conv, sizeof conv, "sticky-%d", c);
        json_t *first = chat(&s, "sticky", conv, "그냥 밥 먹었어", -1, NULL);
        for (int t = 0; t < 3; t++) {
            json_t *r = chat(&s, "sticky", conv, "지금 집에 가는 중이야", -1, NULL);
            CHECK_INT(svc_int(r, "arm_id"), svc_int(first, "arm_id"));
            json_decref(r);
        }
        json_decref(first);
    }
    svc_stop(&s);
}

/* The arm's pulls and mean as the admin API shows them. */
static void arm_stats(const struct svc *s, long long arm_id, long long *pulls, double *mean)
{
    json_t *v = NULL;
    *pulls = -1;
    *mean = NAN;
    svc_get(s, "/v1/arms", "admintok", &v);
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(v, "arms"), i, a)
    {
        if (svc_int(a, "id") == arm_id) {
            *pulls = svc_int(a, "pulls");
            *mean = json_number_value(json_object_get(a, "mean"));
        }
    }
    json_decref(v);
}

static const char *const ADMIN[] = {"server.admin_token", "admintok", NULL};

static void test_feedback_moves_the_right_arm_once_per_event(void)
{
    struct svc s;
    json_t *f1 = NULL, *f2 = NULL;
    long long pulls, other_pulls;
    double mean, other_mean;
    svc_start(&s, ADMIN);
    json_t *r = chat(&s, "fb-user", NULL, "너무 슬퍼서 눈물이 나", -1, NULL);
    long long imp = svc_int(r, "impression_id"), arm = svc_int(r, "arm_id");
    CHECK_INT(feedback(&s, "fb-user", imp, "dislike", "ev-1", &f1), 200);
    CHECK_INT(feedback(&s, "fb-user", imp, "dislike", "ev-1", &f2), 200);
    CHECK(json_is_false(json_object_get(f1, "duplicate")));
    CHECK(json_is_true(json_object_get(f2, "duplicate")));
    CHECK_INT(svc_int(f2, "reward_id"), svc_int(f1, "reward_id"));
    CHECK_STR(svc_str(f1, "source"), "click");
    CHECK_INT(svc_counts(&s).rewards, 1);
    arm_stats(&s, arm, &pulls, &mean);
    CHECK_INT(pulls, 1);
    CHECK_NEAR(mean, -1, 1e-9);
    arm_stats(&s, arm == 1 ? 2 : 1, &other_pulls, &other_mean);
    CHECK_INT(other_pulls, 0);
    /* A second click without an event id is a conflict; another source is fine. */
    CHECK_INT(feedback(&s, "fb-user", imp, "like", NULL, NULL), 409);
    CHECK_INT(feedback(&s, "fb-user", imp, "regenerate", NULL, NULL), 200);
    arm_stats(&s, arm, &pulls, &mean);
    CHECK_INT(pulls, 2);
    CHECK_NEAR(mean, -0.75, 1e-9);
    json_decref(f1);
    json_decref(f2);
    json_decref(r);
    svc_stop(&s);
}

static void test_feedback_checks_owner_and_impression(void)
{
    struct svc s;
    svc_start(&s, NULL);
    json_t *r = chat(&s, "owner", NULL, "그냥 밥 먹었어", -1, NULL);
    long long imp = svc_int(r, "impression_id");
    CHECK_INT(feedback(&s, "intruder", imp, "like", NULL, NULL), 403);
    CHECK_INT(feedback(&s, "owner", imp + 1000, "like", NULL, NULL), 404);
    CHECK_INT(svc_counts(&s).rewards, 0);
    json_decref(r);
    svc_stop(&s);
}

static void test_edit_feedback_maps_similarity(void)
{
    struct svc s;
    json_t *f = NULL;
    char body[1024];
    svc_start(&s, NULL);
    json_t *r = chat(&s, "editor", NULL, "그냥 밥 먹었어", -1, NULL);
    /* The draft is the remembered reply; keeping it unchanged is similarity 1 -> high. */
    json_t *b = json_pack("{s:s, s:I, s:s, s:s}", "user_id", "editor", "impression_id",
                          (json_int_t)svc_int(r, "impression_id"), "kind", "edit", "final_text",
                          svc_str(r, "reply"));
    char *text = json_dumps(b, 0);
    CHECK_INT(svc_post(&s, "/v1/feedback", NULL, text, &f), 200);
    CHECK_NEAR(json_number_value(json_object_get(f, "similarity")), 1, 1e-9);
    CHECK_NEAR(json_number_value(json_object_get(f, "value")), 1, 1e-9);
    CHECK_STR(svc_str(f, "source"), "edit");
    json_decref(f);
    /* A total rewrite of a choose impression (explicit draft) -> low reward. */
    json_t *c = NULL;
    svc_post(&s, "/v1/choose", NULL, "{\"user_id\":\"editor\"}", &c);
    snprintf(body, sizeof body,
             "{\"user_id\":\"editor\",\"impression_id\":%lld,\"kind\":\"edit\",\"draft\":"
             "\"abcdefghij\",\"final_text\":\"zzzzzzzzzz\"}",
             svc_int(c, "impression_id"));
    CHECK_INT(svc_post(&s, "/v1/feedback", NULL, body, &f), 200);
    CHECK_NEAR(json_number_value(json_object_get(f, "value")), -0.5, 1e-9);
    json_decref(f);
    json_decref(c);
    free(text);
    json_decref(b);
    json_decref(r);
    svc_stop(&s);
}

static void test_no_provider_answers_503_and_stores_nothing(void)
{
    struct svc s;
    json_t *e = NULL, *h = NULL;
    const char *const none[] = {"llm.base_url", "", NULL};
    svc_start(&s, none);
    struct store_counts before = svc_counts(&s);
    CHECK_INT(svc_post(&s, "/v1/chat", NULL, "{\"user_id\":\"np\",\"message\":\"안녕\"}", &e), 503);
    CHECK_STR(svc_str(json_object_get(e, "error"), "code"), "unavailable");
    const char *msg = svc_str(json_object_get(e, "error"), "message");
    CHECK(msg && strstr(msg, "PB_LLM_BASE_URL"));
    struct store_counts after = svc_counts(&s);
    CHECK_INT(after.impressions, before.impressions);
    CHECK_INT(after.users, before.users);
    CHECK_INT(after.conversations, before.conversations);
    CHECK_INT(svc_get(&s, "/healthz", NULL, &h), 200);
    CHECK_STR(svc_str(h, "provider"), "not configured");
    /* choose and feedback still work without a provider */
    json_t *c = NULL;
    CHECK_INT(svc_post(&s, "/v1/choose", NULL, "{}", &c), 200);
    CHECK_INT(feedback(&s, "x", svc_int(c, "impression_id"), "like", NULL, NULL), 200);
    json_decref(c);
    json_decref(e);
    json_decref(h);
    svc_stop(&s);
}

static void test_provider_failure_answers_502_and_stores_nothing(void)
{
    struct svc s;
    svc_start(&s, NULL);
    json_t *ok = chat(&s, "pf", "pf-conv", "그냥 밥 먹었어", -1, NULL);
    struct store_counts before = svc_counts(&s);
    int st;
    json_t *bad = chat(&s, "pf", "pf-conv", "[[fake:500]] 그냥 밥 먹었어", 1, &st);
    CHECK_INT(st, 502);
    CHECK_STR(svc_str(json_object_get(bad, "error"), "code"), "provider");
    struct store_counts after = svc_counts(&s);
    CHECK_INT(after.impressions, before.impressions);
    CHECK_INT(after.rewards, before.rewards);
    CHECK_INT(after.messages, before.messages);
    json_decref(ok);
    json_decref(bad);
    svc_stop(&s);
}

static void test_regenerate_rewards_old_and_answers_again(void)
{
    struct svc s;
    json_t *r2 = NULL;
    char path[64];
    svc_start(&s, ADMIN);
    json_t *r = chat(&s, "regen", "regen-conv", "너무 슬퍼서 눈물이 나", -1, NULL);
    json_t *before = last_llm_messages();
    snprintf(path, sizeof path, "/v1/chat/%lld/regenerate", svc_int(r, "impression_id"));
    CHECK_INT(svc_post(&s, path, NULL, "{\"user_id\":\"regen\",\"event_id\":\"rg-1\"}", &r2), 200);
    json_t *again = last_llm_messages();
    CHECK(json_equal(before, again)); /* the same turn is asked again */
    CHECK(svc_int(r2, "impression_id") != svc_int(r, "impression_id"));
    CHECK_STR(svc_str(r2, "conversation_id"), "regen-conv");
    CHECK_INT(svc_int(r2, "arm_id"), svc_int(r, "arm_id"));
    CHECK_INT(svc_counts(&s).rewards, 1);
    long long pulls;
    double mean;
    arm_stats(&s, svc_int(r, "arm_id"), &pulls, &mean);
    CHECK_INT(pulls, 1);
    CHECK_NEAR(mean, -0.5, 1e-9);
    CHECK_INT(svc_post(&s, path, NULL, "{\"user_id\":\"other\"}", NULL), 403);
    json_decref(before);
    json_decref(again);
    json_decref(r);
    json_decref(r2);
    svc_stop(&s);
}

static void test_erasure_removes_text_and_keeps_statistics(void)
{
    struct svc s;
    json_t *v1 = NULL, *v2 = NULL, *e = NULL;
    svc_start(&s, ADMIN);
    for (int i = 0; i < 3; i++) {
        json_t *r = chat(&s, "eraseme", "erase-conv", "오늘 정말 행복해요", 1, NULL);
        feedback(&s, "eraseme", svc_int(r, "impression_id"), i ? "like" : "dislike", NULL, NULL);
        json_decref(r);
    }
    json_t *keep = chat(&s, "keeper", NULL, "그냥 밥 먹었어", 1, NULL);
    CHECK_INT(svc_counts(&s).messages, 8);
    svc_get(&s, "/v1/arms", "admintok", &v1);
    char url[256];
    snprintf(url, sizeof url, "%s/v1/users/eraseme", s.url);
    CHECK_INT(svc_http("DELETE", url, NULL, NULL, &e), 401); /* open chat never erases */
    json_decref(e);
    CHECK_INT(svc_http("DELETE", url, "admintok", NULL, &e), 200);
    CHECK_INT(svc_int(json_object_get(e, "erased"), "messages"), 6);
    struct store_counts c = svc_counts(&s);
    CHECK_INT(c.messages, 2);
    CHECK_INT(c.rewards, 3); /* anonymous statistics stay */
    svc_get(&s, "/v1/arms", "admintok", &v2);
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(v1, "arms"), i, a)
    {
        json_t *b = json_array_get(json_object_get(v2, "arms"), i);
        CHECK_INT(svc_int(b, "pulls"), svc_int(a, "pulls"));
        CHECK_NEAR(json_number_value(json_object_get(b, "mean")),
                   json_number_value(json_object_get(a, "mean")), 1e-12);
    }
    /* The erased user's turns are gone from memory too: no regenerate. */
    char path[64];
    snprintf(path, sizeof path, "/v1/chat/%d/regenerate", 1);
    CHECK(svc_post(&s, path, NULL, "{\"user_id\":\"eraseme\"}", NULL) != 200);
    json_decref(keep);
    json_decref(e);
    json_decref(v1);
    json_decref(v2);
    svc_stop(&s);
}

static void test_user_ids_are_pseudonymised(void)
{
    struct svc s;
    char err[PB_ERR_LEN], hex[HASH_HEX_LEN];
    uint8_t mac[HASH_SHA256_LEN];
    const char *const key[] = {"privacy.pseudonym_key", "k3y", NULL};
    svc_start(&s, key);
    json_t *r = chat(&s, "alice", NULL, "그냥 밥 먹었어", 1, NULL);
    hash_hmac_sha256("k3y", 3, "alice", 5, mac);
    hash_hex(mac, hex);
    store *st = NULL;
    int consent_raw = -1, consent_hashed = -1;
    struct impressions_info info;
    svc_flush(&s);
    CHECK_INT(store_open(s.db, NULL, &st, err), PB_OK);
    CHECK_INT(feedback_get_consent(st, "alice", &consent_raw, err), PB_OK);
    CHECK_INT(feedback_get_consent(st, hex, &consent_hashed, err), PB_OK);
    CHECK_INT(consent_raw, 0);
    CHECK_INT(consent_hashed, 1);
    CHECK_INT(impressions_get(st, svc_int(r, "impression_id"), &info, err), PB_OK);
    CHECK_STR(info.user_id, hex);
    store_close(st);
    /* the owner still gives feedback with the plain id */
    CHECK_INT(feedback(&s, "alice", svc_int(r, "impression_id"), "like", NULL, NULL), 200);
    json_decref(r);
    svc_stop(&s);
}

static void test_retention_purges_old_messages(void)
{
    struct svc s;
    int64_t deleted = -1;
    char err[PB_ERR_LEN];
    const char *const keep[] = {"privacy.retention_days", "1", NULL};
    svc_start(&s, keep);
    json_t *r1 = chat(&s, "ret", "ret-conv", "그냥 밥 먹었어", 1, NULL);
    /* Age the first turn by two days (test fixture only: the service has no clock hook). */
    CHECK_INT(testdb_exec(s.db, "UPDATE messages SET created_at = created_at - 172800"), 0);
    json_t *r2 = chat(&s, "ret", "ret-conv", "지금 집에 가는 중이야", 1, NULL);
    CHECK_INT(svc_counts(&s).messages, 4);
    CHECK_INT(app_run_retention(s.app, &deleted, err), PB_OK);
    CHECK_INT(deleted, 2);
    CHECK_INT(svc_counts(&s).messages, 2);
    json_decref(r1);
    json_decref(r2);
    svc_stop(&s);
}

/* Users like answers with GOOD (the fake writes them for prompt C only) and dislike the rest:
 * the policy ends up giving C the most pulls. */
static void test_policy_converges_to_the_liked_prompt(void)
{
    struct svc s;
    json_t *v = NULL;
    svc_start(&s, ADMIN);
    for (int i = 0; i < 80; i++) {
        char user[32];
        snprintf(user, sizeof user, "conv-user-%d", i);
        json_t *r = chat(&s, user, NULL, "그냥 밥 먹었어", -1, NULL);
        const char *reply = svc_str(r, "reply");
        feedback(&s, user, svc_int(r, "impression_id"),
                 reply && strstr(reply, "GOOD") ? "like" : "dislike", NULL, NULL);
        json_decref(r);
    }
    svc_get(&s, "/v1/arms", "admintok", &v);
    long long best = -1, best_pulls = -1;
    const char *best_name = NULL;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(v, "arms"), i, a)
    {
        if (svc_int(a, "pulls") > best_pulls) {
            best_pulls = svc_int(a, "pulls");
            best = svc_int(a, "id");
            best_name = svc_str(a, "name");
        }
    }
    CHECK_STR(best_name, "C");
    CHECK(best_pulls > 40);
    (void)best;
    json_decref(v);
    svc_stop(&s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    svc_fake_start();
    RUN(test_history_in_memory_without_consent);
    RUN(test_history_from_store_with_consent);
    RUN(test_conversation_keeps_its_arm);
    RUN(test_feedback_moves_the_right_arm_once_per_event);
    RUN(test_feedback_checks_owner_and_impression);
    RUN(test_edit_feedback_maps_similarity);
    RUN(test_no_provider_answers_503_and_stores_nothing);
    RUN(test_provider_failure_answers_502_and_stores_nothing);
    RUN(test_regenerate_rewards_old_and_answers_again);
    RUN(test_erasure_removes_text_and_keeps_statistics);
    RUN(test_user_ids_are_pseudonymised);
    RUN(test_retention_purges_old_messages);
    RUN(test_policy_converges_to_the_liked_prompt);
    svc_fake_stop();
    curl_global_cleanup();
    CHECK_DONE();
}
