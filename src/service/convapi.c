/* convapi.c — a user's stored conversations and one conversation's messages, for its owner. */
#include "service/convapi.h"

#include "service/app.h"
#include "service/examples.h"
#include "store/feedback.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_MAX 8192

json_t *convapi_messages_json(const struct dashq_message *msgs, size_t n,
                              const struct dashq_turn_reward *rewards, size_t n_rewards)
{
    json_t *list = json_array();
    const char *last_user = NULL;
    int64_t last_answer = 0;
    char *sentence = malloc(TEXT_MAX), feeling[128];
    for (size_t i = 0; list && sentence && i < n; i++) {
        const struct dashq_message *m = &msgs[i];
        json_t *feedback = json_object(), *item = NULL;
        int regenerated = 0;
        for (size_t r = 0; feedback && r < n_rewards; r++)
            if (m->impression_id && rewards[r].impression_id == m->impression_id)
                json_object_set_new(feedback, rewards[r].source, json_real(rewards[r].value));
        for (size_t r = 0; r < n_rewards; r++)
            regenerated |= rewards[r].impression_id == last_answer &&
                           strcmp(rewards[r].source, "regenerate") == 0;
        if (strcmp(m->role, "user") == 0) {
            int repeat = regenerated && last_user && strcmp(last_user, m->content) == 0;
            last_user = m->content;
            json_decref(feedback); /* a user message carries no feedback */
            feedback = NULL;
            if (repeat)
                continue;
            json_t *ctx = m->context_json ? json_loads(m->context_json, 0, NULL) : NULL;
            json_t *emotions = json_object_get(ctx, "emotions");
            examples_split_user_text(m->content, sentence, TEXT_MAX, feeling, sizeof feeling);
            item = json_pack("{s:s, s:s, s:o, s:f}", "role", "user", "text", sentence, "emotions",
                             json_is_array(emotions) ? json_incref(emotions) : json_array(),
                             "created_at", m->created_at);
            json_decref(ctx);
        } else if (strcmp(m->role, "assistant") == 0) {
            last_answer = m->impression_id;
            item = json_pack("{s:s, s:s, s:o, s:s, s:f, s:o}", "role", "assistant", "text",
                             m->content, "impression_id",
                             m->impression_id ? json_integer(m->impression_id) : json_null(), "arm",
                             m->arm, "created_at", m->created_at, "feedback",
                             feedback ? feedback : json_object());
            feedback = NULL;
        }
        json_decref(feedback);
        if (item && json_array_append_new(list, item) != 0)
            item = NULL;
    }
    free(sentence);
    return list;
}

/* The user the request acts for: ?user_id=, else the token's user. */
static pb_status user_of(struct server_request *req, const char **user, char *err)
{
    *user = server_req_query(req, "user_id");
    if (!*user || !**user)
        *user = server_req_user(req);
    if (!*user || !**user)
        return pb_errf(err, PB_ERR_INVALID, "user_id is required (?user_id=...)");
    return server_auth_user(req, *user, err);
}

static pb_status h_list(struct server_request *req, struct server_reply *reply, void *ctx)
{
    app *a = ctx;
    const char *user = NULL;
    char key[APP_USER_KEY_LEN];
    struct dashq_conversation *list = NULL;
    size_t n = 0;
    pb_status rc = user_of(req, &user, reply->err);
    if (rc != PB_OK)
        return rc;
    app_user_key(a, user, key);
    store *s = app_store_acquire(a, reply->err);
    if (!s)
        return PB_ERR_DB;
    rc = dashq_conversations(s, key, CONVAPI_LIST_MAX, &list, &n, reply->err);
    app_store_release(a, s);
    json_t *arr = json_array();
    char *sentence = malloc(TEXT_MAX), feeling[128];
    for (size_t i = 0; rc == PB_OK && arr && sentence && i < n; i++) {
        examples_split_user_text(list[i].first_text, sentence, TEXT_MAX, feeling, sizeof feeling);
        json_array_append_new(arr,
                              json_pack("{s:s, s:f, s:f, s:I, s:s}", "id", list[i].id, "created_at",
                                        list[i].created_at, "last_at", list[i].last_at, "answers",
                                        (json_int_t)list[i].answers, "preview", sentence));
    }
    if (rc == PB_OK && (!arr || !sentence))
        rc = pb_errf(reply->err, PB_ERR_NOMEM, "out of memory listing conversations");
    if (rc == PB_OK)
        server_reply_json(reply, 200, json_pack("{s:O}", "conversations", arr));
    json_decref(arr);
    free(sentence);
    dashq_conversation_list_free(list, n);
    return rc;
}

/* The conversation's messages when user owns it: 404 unknown, 403 another user's. */
static pb_status reply_conversation(app *a, store *s, const char *id, const char *user,
                                    struct server_reply *reply)
{
    char key[APP_USER_KEY_LEN], owner[APP_USER_KEY_LEN];
    struct dashq_message *msgs = NULL;
    struct dashq_turn_reward *rewards = NULL;
    size_t n = 0, nr = 0;
    int64_t arm = 0;
    app_user_key(a, user, key);
    int found = feedback_get_conversation(s, id, owner, sizeof owner, &arm, reply->err);
    if (found < 0)
        return found;
    if (found == 0)
        return pb_errf(reply->err, PB_ERR_NOT_FOUND, "conversation %s does not exist", id);
    if (strcmp(owner, key) != 0)
        return server_reply_error(reply, 403, "forbidden",
                                  "this conversation belongs to another user");
    pb_status rc = dashq_conversation_messages(s, id, CONVAPI_MESSAGES_MAX, &msgs, &n, reply->err);
    if (rc == PB_OK)
        rc = dashq_conversation_rewards(s, id, &rewards, &nr, reply->err);
    json_t *list = rc == PB_OK ? convapi_messages_json(msgs, n, rewards, nr) : NULL;
    if (rc == PB_OK && !list)
        rc = pb_errf(reply->err, PB_ERR_NOMEM, "out of memory reading a conversation");
    if (rc == PB_OK)
        server_reply_json(
            reply, 200, json_pack("{s:s, s:b, s:o}", "id", id, "stored", n > 0, "messages", list));
    dashq_message_list_free(msgs, n);
    free(rewards);
    return rc;
}

static pb_status h_get(struct server_request *req, struct server_reply *reply, void *ctx)
{
    const char *user = NULL;
    pb_status rc = user_of(req, &user, reply->err);
    if (rc != PB_OK)
        return rc;
    store *s = app_store_acquire(ctx, reply->err);
    if (!s)
        return PB_ERR_DB;
    rc = reply_conversation(ctx, s, server_req_param(req, "id"), user, reply);
    app_store_release(ctx, s);
    return rc;
}

static const struct server_route routes[] = {
    {"GET", "/v1/conversations", h_list, SERVER_USER},
    {"GET", "/v1/conversations/{id}", h_get, SERVER_USER},
};

const struct server_route *convapi_routes(size_t *n)
{
    *n = sizeof routes / sizeof routes[0];
    return routes;
}
