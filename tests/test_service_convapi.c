/* test_service_convapi.c — the chat history endpoints: stored messages become the page's
 * messages (the sentence without " ;; emotion", the emotions of the turn, each answer with its
 * impression, arm and feedback; a regenerated turn's repeated user message left out); a user's
 * conversations are listed newest first; a conversation is answered to its owner only (403 for
 * another user, 404 unknown, 400 without a user), and a conversation without consent has no
 * stored messages. */
#include "dash_harness.h"
#include "service/convapi.h"

static char err[PB_ERR_LEN];

static void test_messages_become_the_pages_messages(void)
{
    struct dashq_message msgs[] = {
        {1, 10, "user", "", 1.0, "시험 망쳤어 ;; 슬픔",
         "{\"emotions\":[{\"label\":\"sadness\",\"name\":\"슬픔\",\"score\":0.9}]}"},
        {2, 10, "assistant", "B", 2.0, "많이 속상했겠다", NULL},
        {3, 11, "user", "", 3.0, "시험 망쳤어 ;; 슬픔", NULL}, /* regenerate stores it again */
        {4, 11, "assistant", "C", 4.0, "다른 답", NULL},
        {5, 12, "user", "", 5.0, "a ;; b ;; 기쁨", NULL},
    };
    struct dashq_turn_reward rewards[] = {{10, "regenerate", -0.5}, {11, "click", 1}};
    json_t *list = convapi_messages_json(msgs, 5, rewards, 2);
    CHECK_INT(json_array_size(list), 4);
    json_t *u = json_array_get(list, 0), *a = json_array_get(list, 1), *b = json_array_get(list, 2);
    CHECK_STR(json_string_value(json_object_get(u, "role")), "user");
    CHECK_STR(json_string_value(json_object_get(u, "text")), "시험 망쳤어");
    CHECK_STR(json_string_value(
                  json_object_get(json_array_get(json_object_get(u, "emotions"), 0), "name")),
              "슬픔");
    CHECK_STR(json_string_value(json_object_get(a, "arm")), "B");
    CHECK_INT(json_integer_value(json_object_get(a, "impression_id")), 10);
    CHECK_NEAR(json_real_value(json_object_get(json_object_get(a, "feedback"), "regenerate")), -0.5,
               0);
    CHECK_STR(json_string_value(json_object_get(b, "text")), "다른 답"); /* the repeat is gone */
    CHECK_NEAR(json_real_value(json_object_get(json_object_get(b, "feedback"), "click")), 1, 0);
    CHECK_STR(json_string_value(json_object_get(json_array_get(list, 3), "text")), "a ;; b");
    CHECK_INT(json_array_size(json_object_get(json_array_get(list, 3), "emotions")), 0);
    json_decref(list);
}

static void test_conversations_are_answered_to_their_owner_only(void)
{
    struct dash_service sv;
    size_t n = 0;
    const struct server_route *routes = convapi_routes(&n);
    const struct server_route *sets[] = {routes};
    if (dash_service_start(&sv, NULL, sets, &n, 1) != 0) {
        fprintf(stderr, "service: %s\n", dash_err);
        CHECK(0);
        return dash_service_stop(&sv);
    }
    store *s = app_store_acquire(sv.app, err);
    struct store_experiment e = {0};
    CHECK_INT(store_experiment_get(s, "default", &e, err), PB_OK);
    struct arm arm = {0};
    CHECK_INT(arms_find(s, e.id, "A", &arm, err), PB_OK);
    int64_t imp = dash_turn(s, e.id, arm.id, "u1", "c1", "안녕", "반가워", "click", 1);
    dash_turn(s, e.id, arm.id, "u1", "c2", "또 왔어", "어서 와", NULL, 0);
    dash_turn(s, e.id, arm.id, "u2", "c3", "나는 u2", "응", NULL, 0);
    int64_t sticky = 0;
    CHECK_INT(feedback_open_conversation(s, "c4", "u3", e.id, arm.id, NULL, &sticky, NULL, err),
              PB_OK); /* u3 did not consent: nothing stored */
    app_store_release(sv.app, s);

    struct dash_answer a = dash_get(sv.port, "/v1/conversations?user_id=u1", NULL);
    CHECK_INT(a.status, 200);
    json_t *list = json_object_get(a.json, "conversations");
    CHECK_INT(json_array_size(list), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(list, 0), "id")), "c2");
    CHECK_STR(json_string_value(json_object_get(json_array_get(list, 1), "preview")), "안녕");
    dash_answer_clear(&a);
    a = dash_get(sv.port, "/v1/conversations/c1?user_id=u1", NULL);
    CHECK_INT(a.status, 200);
    CHECK(json_is_true(json_object_get(a.json, "stored")));
    json_t *msgs = json_object_get(a.json, "messages");
    CHECK_INT(json_array_size(msgs), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(msgs, 0), "text")), "안녕");
    CHECK_INT(json_integer_value(json_object_get(json_array_get(msgs, 1), "impression_id")), imp);
    dash_answer_clear(&a);
    a = dash_get(sv.port, "/v1/conversations/c4?user_id=u3", NULL);
    CHECK_INT(a.status, 200);
    CHECK(json_is_false(json_object_get(a.json, "stored")));
    CHECK_INT(json_array_size(json_object_get(a.json, "messages")), 0);
    dash_answer_clear(&a);
    const struct {
        const char *path;
        long status;
    } refused[] = {
        {"/v1/conversations/c1?user_id=u2", 403},
        {"/v1/conversations/nosuch?user_id=u1", 404},
        {"/v1/conversations/c1", 400},
        {"/v1/conversations", 400},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        a = dash_get(sv.port, refused[i].path, NULL);
        CHECK_INT(a.status, refused[i].status);
        CHECK(json_object_get(a.json, "error") != NULL);
        CHECK(!a.body || !strstr(a.body, "반가워")); /* no text leaks into a refusal */
        dash_answer_clear(&a);
    }
    arms_clear(&arm);
    store_experiment_clear(&e);
    dash_service_stop(&sv);
}

int main(void)
{
    RUN(test_messages_become_the_pages_messages);
    RUN(test_conversations_are_answered_to_their_owner_only);
    CHECK_DONE();
}
