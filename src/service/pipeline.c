/* pipeline.c — chat turn, regenerate, feedback, choose and erasure over the app context. */
#include "service/pipeline.h"

#include "service/chatmem.h"
#include "store/impressions.h"
#include "service/live.h"
#include "service/livefeat.h"
#include "service/segmap.h"
#include "base/text.h"
#include "store/writer.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIMILARITY_MAX_CHARS 8000

int pipeline_id_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= PIPELINE_ID_MAX &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:@-") == n;
}

static int check_id(const char *id, const char *field, int required, char *err)
{
    if (!id && !required)
        return PB_OK;
    if (!pipeline_id_valid(id))
        return pb_errf(err, PB_ERR_INVALID,
                       "field '%s' must be 1 to %d characters of A-Z a-z 0-9 . _ : @ -", field,
                       PIPELINE_ID_MAX);
    return PB_OK;
}

static int check_experiment(const char *name, char *err)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > 64 || !text_utf8_valid(name, n))
        return pb_errf(err, PB_ERR_INVALID, "field 'experiment' must be 1 to 64 characters");
    return PB_OK;
}

/* ---- metrics (families are registered on first use) ---- */

static void count(app *a, const char *name, const char *help, const char *const *labels, size_t n,
                  const char *const *values, double delta)
{
    metrics_family *f;
    char err[PB_ERR_LEN];
    if (metrics_counter(app_metrics(a), name, help, labels, n, &f, err) == PB_OK)
        metrics_add(f, values, delta);
}

static void count_pull(app *a, const char *experiment, const char *arm)
{
    static const char *const labels[] = {"experiment", "arm"};
    const char *values[] = {experiment, arm};
    count(a, "pb_pulls_total", "impressions served per arm (arm chosen and shown)", labels, 2,
          values, 1);
}

static void count_reward(app *a, const char *experiment, const char *arm, const char *source,
                         double value)
{
    static const char *const labels[] = {"experiment", "arm", "source"};
    const char *values[] = {experiment, arm, source};
    count(a, "pb_rewards_total", "rewards stored per arm and source", labels, 3, values, 1);
    count(a, "pb_reward_value_sum", "sum of reward values per arm and source", labels, 3, values,
          value + 1); /* counters only go up: the sum is kept on the shifted scale [0, 2] */
}

static void count_llm(app *a, const struct llm_response *r, int rc)
{
    static const char *const outcome[] = {"outcome"};
    static const char *const kind[] = {"kind"};
    const char *v[] = {rc == PB_OK ? "ok" : pb_status_name(rc)};
    count(a, "pb_llm_calls_total", "chat completions by outcome", outcome, 1, v, 1);
    const char *p[] = {"prompt"}, *c[] = {"completion"};
    count(a, "pb_llm_tokens_total", "tokens reported by the provider", kind, 1, p,
          (double)r->prompt_tokens);
    count(a, "pb_llm_tokens_total", "tokens reported by the provider", kind, 1, c,
          (double)r->completion_tokens);
    metrics_family *f;
    char err[PB_ERR_LEN];
    if (metrics_histogram(app_metrics(a), "pb_llm_latency_seconds",
                          "provider call time including retries", NULL, 0, metrics_latency_buckets,
                          metrics_latency_buckets_count, &f, err) == PB_OK)
        metrics_observe(f, NULL, r->latency_s);
}

/* ---- chat ---- */

void pipeline_chat_out_clear(struct pipeline_chat_out *out)
{
    free(out->reply);
    out->reply = NULL;
}

static void classify(app *a, const char *text, struct pipeline_chat_out *out)
{
    char err[PB_ERR_LEN];
    size_t k = (size_t)config_int(app_config(a), "emotion.top_k");
    if (emotion_classify(app_emotion(a), text, strlen(text), k, out->emotions, &out->n_emotions,
                         err) != PB_OK ||
        out->n_emotions == 0) {
        memset(&out->emotions[0], 0, sizeof out->emotions[0]);
        snprintf(out->emotions[0].label, sizeof out->emotions[0].label, "unknown");
        snprintf(out->emotions[0].display, sizeof out->emotions[0].display, "알 수 없음");
        out->n_emotions = 1;
    }
    snprintf(out->segment, sizeof out->segment, "%s",
             segmap_of(app_segmap(a), out->emotions[0].label, out->emotions[0].segment));
}

static json_t *emotions_json(const struct pipeline_chat_out *out)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < out->n_emotions; i++)
        json_array_append_new(arr,
                              json_pack("{s:s, s:s, s:f}", "label", out->emotions[i].label, "name",
                                        out->emotions[i].display, "score", out->emotions[i].score));
    return arr;
}

static json_t *message_json(const char *role, const char *content)
{
    return json_pack("{s:s, s:s}", "role", role, "content", content);
}

/* Earlier messages of the conversation, each cut to chat.history_chars: from the store when
 * the user consented, from memory otherwise. A new JSON array, or NULL with err set. */
static json_t *load_history(app *a, store *s, const char *conversation_id, int consent, char *err)
{
    const config *cfg = app_config(a);
    size_t max = (size_t)config_int(cfg, "chat.history_messages");
    size_t cut = (size_t)config_int(cfg, "chat.history_chars");
    json_t *raw = NULL, *out = json_array();
    if (consent) {
        struct feedback_message *msgs = NULL;
        size_t n = 0;
        raw = json_array();
        if (max > 0 && feedback_last_messages(s, conversation_id, max, &msgs, &n, err) != PB_OK) {
            json_decref(raw);
            json_decref(out);
            return NULL;
        }
        for (size_t i = 0; raw && i < n; i++)
            json_array_append_new(raw, message_json(msgs[i].role, msgs[i].content));
        feedback_message_list_free(msgs, n);
    } else {
        raw = chatmem_history_get(app_chatmem(a), conversation_id, max);
    }
    size_t i;
    json_t *m;
    json_array_foreach(raw, i, m)
    {
        const char *content = json_string_value(json_object_get(m, "content"));
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!content || !role || strcmp(role, "system") == 0)
            continue;
        size_t len = text_utf8_prefix(content, strlen(content), cut);
        json_array_append_new(out, json_pack("{s:s, s:s%}", "role", role, "content", content, len));
    }
    json_decref(raw);
    return out;
}

/* Calls the LLM with system + messages; *reply is owned by the caller. */
static int generate(app *a, const char *system, const json_t *messages, char **reply, char *err)
{
    size_t n = json_array_size(messages);
    struct llm_message *msgs = calloc(n + 1, sizeof *msgs);
    struct llm_response resp = {0};
    char why[PB_ERR_LEN];
    if (!msgs)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    msgs[0] = (struct llm_message){"system", system};
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(messages, i);
        msgs[i + 1].role = json_string_value(json_object_get(m, "role"));
        msgs[i + 1].content = json_string_value(json_object_get(m, "content"));
    }
    struct llm_request req = {.messages = msgs, .n_messages = n + 1, .temperature = -1};
    int rc = llm_chat(app_llm(a), &req, &resp, why);
    count_llm(a, &resp, rc);
    free(msgs);
    if (rc == PB_OK && !(*reply = strdup(resp.text)))
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    else if (rc != PB_OK)
        rc = pb_errf(err, rc == PB_ERR_TIMEOUT ? PB_ERR_TIMEOUT : PB_ERR_PROVIDER,
                     "the LLM provider failed, nothing was stored: %s", why);
    llm_response_clear(&resp);
    return rc;
}

static int check_chat(app *a, const struct pipeline_chat_in *in, char *err)
{
    size_t max = (size_t)config_int(app_config(a), "chat.max_message_chars");
    int rc = check_id(in->user_id, "user_id", 1, err);
    if (rc == PB_OK)
        rc = check_id(in->conversation_id, "conversation_id", 0, err);
    if (rc == PB_OK && in->experiment)
        rc = check_experiment(in->experiment, err);
    if (rc != PB_OK)
        return rc;
    size_t len = in->message ? strlen(in->message) : 0;
    if (len == 0)
        return pb_errf(err, PB_ERR_INVALID, "field 'message' must be a non-empty string");
    if (!text_utf8_valid(in->message, len))
        return pb_errf(err, PB_ERR_INVALID, "field 'message' is not valid UTF-8");
    if (text_utf8_count(in->message, len) > max)
        return pb_errf(err, PB_ERR_INVALID,
                       "field 'message' is longer than %zu characters (chat.max_message_chars)",
                       max);
    return PB_OK;
}

static void new_conversation_id(char *out, size_t len)
{
    unsigned char r[12] = {0};
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(r, 1, sizeof r, f) != sizeof r) {
        double t = pb_now_wall() * 1e6;
        memcpy(r, &t, sizeof t);
    }
    if (f)
        fclose(f);
    int used = snprintf(out, len, "c-");
    for (size_t i = 0; i < sizeof r && (size_t)used + 2 < len; i++)
        used += snprintf(out + used, len - (size_t)used, "%02x", r[i]);
}

/* Everything a turn carries between its steps. */
struct turn {
    const char *experiment;
    char user_key[APP_USER_KEY_LEN];
    int consent, set_consent; /* effective consent; -1 or the value to store */
    int conversation_exists;
    struct live_choice choice;
    json_t *messages; /* history + the user message */
    json_t *emotions;
    char *reply;
    int has_x; /* x: the turn's features (livefeat.h), stored in the impression context */
    double x[FEATVEC_DIM];
};

static void turn_clear(struct turn *t)
{
    live_choice_clear(&t->choice);
    json_decref(t->messages);
    json_decref(t->emotions);
    free(t->reply);
}

/* Earlier turns in the (possibly capped) history: its user messages. */
static long user_turns(const json_t *messages)
{
    long n = 0;
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        n += role && strcmp(role, "user") == 0;
    }
    return n;
}

/* Which arm to keep for this turn per assign.mode (0 = let the policy choose). */
static int64_t preferred_arm(app *a, const struct turn *t, int64_t sticky, int64_t experiment_id)
{
    const char *mode = config_str(app_config(a), "assign.mode");
    int64_t arm = 0;
    if (strcmp(mode, "conversation") == 0)
        return sticky;
    if (strcmp(mode, "user") == 0 &&
        chatmem_user_arm_get(app_chatmem(a), t->user_key, experiment_id, &arm))
        return arm;
    return 0;
}

/* Reads what the turn needs from the store: consent, sticky arm, the choice, the history. */
static int prepare_turn(app *a, store *s, const struct pipeline_chat_in *in,
                        const struct pipeline_chat_out *out, struct turn *t, char *err)
{
    char owner[260];
    int64_t sticky = 0;
    int rc = PB_OK;
    if (in->consent >= 0)
        t->consent = in->consent;
    else if ((rc = feedback_get_consent(s, t->user_key, &t->consent, err)) != PB_OK)
        return rc;
    int found =
        impressions_conversation_get(s, out->conversation_id, owner, sizeof owner, &sticky, err);
    if (found < 0)
        return found;
    if (found && strcmp(owner, t->user_key) != 0)
        return pb_errf(err, PB_ERR_FORBIDDEN, "conversation %s belongs to another user",
                       out->conversation_id);
    t->conversation_exists = found;
    if (!(t->messages = load_history(a, s, out->conversation_id, t->consent, err)))
        return err[0] ? PB_ERR_DB : pb_errf(err, PB_ERR_NOMEM, "out of memory");
    livefeat_build(out->emotions, out->n_emotions, user_turns(t->messages), pb_now_wall(), t->x);
    t->has_x = 1;
    /* The first choice only tells the experiment id for user-mode look-ups; cheap. */
    if ((rc = live_choose(app_live(a), s, t->experiment, out->segment, t->x, found ? sticky : 0,
                          &t->choice, err)) != PB_OK)
        return rc;
    int64_t prefer = preferred_arm(a, t, found ? sticky : 0, t->choice.experiment_id);
    if (prefer != (found ? sticky : 0)) {
        live_choice_clear(&t->choice);
        if ((rc = live_choose(app_live(a), s, t->experiment, out->segment, t->x, prefer, &t->choice,
                              err)) != PB_OK)
            return rc;
    }
    size_t len = strlen(in->message) + strlen(out->emotions[0].display) + 5;
    char *user = malloc(len);
    if (!user)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    snprintf(user, len, "%s ;; %s", in->message, out->emotions[0].display);
    json_array_append_new(t->messages, message_json("user", user));
    free(user);
    return PB_OK;
}

static char *context_text(const struct turn *t)
{
    const char *how = t->choice.promoted ? "promoted" : t->choice.kept ? "kept" : "policy";
    json_t *ctx = json_pack("{s:O, s:s, s:b}", "emotions", t->emotions, "assign", how,
                            "from_global", t->choice.from_global);
    if (ctx && t->has_x)
        json_object_set_new(ctx, "features", featvec_json(t->x));
    char *text = ctx ? json_dumps(ctx, JSON_COMPACT) : NULL;
    json_decref(ctx);
    return text;
}

/* Stores the answered turn: consent, conversation, impression, consented messages, memory. */
static int record_turn(app *a, store *s, struct turn *t, struct pipeline_chat_out *out, char *err)
{
    int64_t sticky = 0, msg_id;
    int rc = PB_OK;
    char *ctx = context_text(t);
    if (!ctx)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (t->set_consent >= 0)
        rc = feedback_set_consent(s, t->user_key, t->set_consent, err);
    if (rc == PB_OK)
        rc = feedback_open_conversation(s, out->conversation_id, t->user_key,
                                        t->choice.experiment_id, t->choice.arm_id, out->segment,
                                        &sticky, NULL, err);
    struct feedback_impression imp = {.experiment_id = t->choice.experiment_id,
                                      .arm_id = t->choice.arm_id,
                                      .user_id = t->user_key,
                                      .conversation_id = out->conversation_id,
                                      .segment = out->segment,
                                      .context_json = ctx,
                                      .propensity = t->choice.propensity,
                                      .activated = 1};
    if (rc == PB_OK)
        rc = writer_impression(app_writer(a), &imp, &out->impression_id, err);
    free(ctx);
    json_t *user = json_array_get(t->messages, json_array_size(t->messages) - 1);
    const char *user_text = json_string_value(json_object_get(user, "content"));
    if (rc == PB_OK && t->consent) {
        rc = feedback_insert_message(s, out->conversation_id, out->impression_id, "user", user_text,
                                     &msg_id, err);
        if (rc == PB_OK)
            rc = feedback_insert_message(s, out->conversation_id, out->impression_id, "assistant",
                                         t->reply, &msg_id, err);
    }
    return rc;
}

/* Remembers the turn for regenerate, and the history when it is not stored. */
static void remember_turn(app *a, const struct turn *t, const struct pipeline_chat_out *out,
                          int append_user)
{
    chatmem *m = app_chatmem(a);
    const config *cfg = app_config(a);
    if (!t->consent) {
        json_t *add = json_array();
        if (append_user)
            json_array_append(add, json_array_get(t->messages, json_array_size(t->messages) - 1));
        json_array_append_new(add, message_json("assistant", t->reply));
        chatmem_history_append(m, out->conversation_id, t->user_key, add,
                               (size_t)config_int(cfg, "chat.history_messages"));
        json_decref(add);
    }
    struct chatmem_turn ct = {.user_key = (char *)t->user_key,
                              .conversation_id = (char *)out->conversation_id,
                              .experiment = (char *)t->experiment,
                              .reply = t->reply,
                              .segment = (char *)out->segment,
                              .messages = t->messages,
                              .emotions = t->emotions,
                              .consent = t->consent};
    chatmem_turn_put(m, out->impression_id, &ct);
    if (strcmp(config_str(cfg, "assign.mode"), "user") == 0 && !t->choice.kept)
        chatmem_user_arm_put(m, t->user_key, t->choice.experiment_id, t->choice.arm_id,
                             (double)config_int(cfg, "assign.user_ttl_s"));
}

static int no_provider(app *a, char *err)
{
    return pb_errf(err, PB_ERR_UNAVAILABLE, "%s", app_llm_note(a));
}

/* A recorded turn (fresh = 1 for a new turn, 0 for a regenerated one): remembered for
 * regenerate and history, counted, and its arm and reply handed to out (which owns the reply). */
static void finish_turn(app *a, struct turn *t, struct pipeline_chat_out *out, int fresh)
{
    remember_turn(a, t, out, fresh);
    count_pull(a, t->experiment, t->choice.arm_name);
    snprintf(out->arm, sizeof out->arm, "%s", t->choice.arm_name);
    out->arm_id = t->choice.arm_id;
    out->reply = t->reply;
    t->reply = NULL;
}

int pipeline_chat(app *a, const struct pipeline_chat_in *in, struct pipeline_chat_out *out,
                  char *err)
{
    struct turn t = {.experiment = in->experiment ? in->experiment : "default",
                     .set_consent = in->consent};
    store *s = NULL;
    memset(out, 0, sizeof *out);
    int rc = check_chat(a, in, err);
    if (rc != PB_OK)
        return rc;
    if (!app_llm(a))
        return no_provider(a, err);
    app_user_key(a, in->user_id, t.user_key);
    if (in->conversation_id)
        snprintf(out->conversation_id, sizeof out->conversation_id, "%s", in->conversation_id);
    else
        new_conversation_id(out->conversation_id, sizeof out->conversation_id);
    classify(a, in->message, out);
    if (!(t.emotions = emotions_json(out)) || !(s = app_store_acquire(a, err)))
        rc = err[0] ? PB_ERR_DB : pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc == PB_OK)
        rc = prepare_turn(a, s, in, out, &t, err);
    if (rc == PB_OK)
        rc = generate(a, t.choice.prompt, t.messages, &t.reply, err);
    if (rc == PB_OK)
        rc = record_turn(a, s, &t, out, err);
    if (rc == PB_OK)
        finish_turn(a, &t, out, 1);
    app_store_release(a, s);
    turn_clear(&t);
    return rc;
}

/* ---- regenerate ---- */

/* The impression, checked to belong to user_key (an impression without a user is anyone's). */
static int owned_impression(store *s, int64_t id, const char *user_key,
                            struct impressions_info *info, char *err)
{
    if (id <= 0)
        return pb_errf(err, PB_ERR_INVALID, "field 'impression_id' must be a positive integer");
    int rc = impressions_get(s, id, info, err);
    if (rc == PB_OK && info->user_id[0] && (!user_key || strcmp(info->user_id, user_key) != 0))
        rc = pb_errf(err, PB_ERR_FORBIDDEN, "impression %lld belongs to another user",
                     (long long)id);
    return rc;
}

/* Stores a reward through the writer and moves the live state once it is committed. */
static int reward_commit(app *a, const struct impressions_info *info, const char *experiment,
                         struct feedback_reward *r, int64_t *id, int *duplicate, char *err)
{
    int rc = writer_reward(app_writer(a), r, id, duplicate, err);
    if (rc != PB_OK || *duplicate)
        return rc;
    char why[PB_ERR_LEN];
    if (live_observe(app_live(a), info->experiment_id, *id, info->arm_id,
                     info->segment[0] ? info->segment : NULL,
                     info->has_features ? info->features : NULL, r->value, why) != PB_OK)
        fprintf(stderr, "promptbandit: live state ignored reward %lld: %s\n", (long long)*id, why);
    count_reward(a, experiment, info->arm_name, r->source, r->value);
    return PB_OK;
}

static int regenerate_turn(app *a, store *s, const struct impressions_info *info,
                           struct chatmem_turn *ct, const char *event_id,
                           struct pipeline_chat_out *out, char *err)
{
    struct turn t = {.experiment = ct->experiment, .consent = ct->consent, .set_consent = -1};
    snprintf(t.user_key, sizeof t.user_key, "%s", ct->user_key);
    snprintf(out->conversation_id, sizeof out->conversation_id, "%s", ct->conversation_id);
    snprintf(out->segment, sizeof out->segment, "%s", ct->segment ? ct->segment : "unknown");
    t.messages = json_incref(ct->messages);
    t.emotions = json_incref(ct->emotions);
    int64_t prefer = strcmp(config_str(app_config(a), "assign.mode"), "turn") ? info->arm_id : 0;
    if ((t.has_x = info->has_features))
        memcpy(t.x, info->features, sizeof t.x);
    int rc = live_choose(app_live(a), s, t.experiment, out->segment, t.has_x ? t.x : NULL, prefer,
                         &t.choice, err);
    if (rc == PB_OK)
        rc = generate(a, t.choice.prompt, t.messages, &t.reply, err);
    struct feedback_reward r = {.impression_id = info->id,
                                .source = "regenerate",
                                .value = config_double(app_config(a), "rewards.regenerate"),
                                .event_id = event_id};
    int64_t rid;
    int dup;
    if (rc == PB_OK)
        rc = reward_commit(a, info, t.experiment, &r, &rid, &dup, err);
    if (rc == PB_OK)
        rc = record_turn(a, s, &t, out, err);
    if (rc == PB_OK)
        finish_turn(a, &t, out, 0);
    turn_clear(&t);
    return rc;
}

static void fill_emotions(struct pipeline_chat_out *out, const json_t *emotions)
{
    size_t i;
    json_t *e;
    json_array_foreach(emotions, i, e)
    {
        if (i >= EMOTION_MAX_K)
            break;
        struct emotion_result *r = &out->emotions[i];
        snprintf(r->label, sizeof r->label, "%s", json_string_value(json_object_get(e, "label")));
        snprintf(r->display, sizeof r->display, "%s",
                 json_string_value(json_object_get(e, "name")));
        r->score = json_number_value(json_object_get(e, "score"));
        out->n_emotions = i + 1;
    }
}

int pipeline_regenerate(app *a, int64_t impression_id, const char *user_id, const char *event_id,
                        struct pipeline_chat_out *out, char *err)
{
    char key[APP_USER_KEY_LEN];
    struct impressions_info info;
    struct chatmem_turn ct = {0};
    memset(out, 0, sizeof *out);
    int rc = check_id(user_id, "user_id", 1, err);
    if (rc == PB_OK)
        rc = check_id(event_id, "event_id", 0, err);
    if (rc != PB_OK)
        return rc;
    app_user_key(a, user_id, key);
    store *s = app_store_acquire(a, err);
    if (!s)
        return PB_ERR_DB;
    rc = owned_impression(s, impression_id, key, &info, err);
    if (rc == PB_OK && !chatmem_turn_get(app_chatmem(a), impression_id, &ct))
        rc = pb_errf(err, PB_ERR_CONFLICT,
                     "answer %lld can no longer be regenerated (turns are kept in memory for "
                     "chat.memory_ttl_s and not across restarts); send the message again",
                     (long long)impression_id);
    if (rc == PB_OK && !app_llm(a))
        rc = no_provider(a, err);
    if (rc == PB_OK)
        rc = regenerate_turn(a, s, &info, &ct, event_id, out, err);
    if (rc == PB_OK)
        fill_emotions(out, ct.emotions);
    chatmem_turn_clear(&ct);
    app_store_release(a, s);
    return rc;
}

/* ---- feedback ---- */

/* Maps an edit's similarity to a reward with the rewards.edit_* thresholds. */
static double edit_reward(const config *cfg, double similarity)
{
    if (similarity >= config_double(cfg, "rewards.edit_high"))
        return config_double(cfg, "rewards.edit_high_reward");
    if (similarity < config_double(cfg, "rewards.edit_low"))
        return config_double(cfg, "rewards.edit_low_reward");
    return config_double(cfg, "rewards.edit_mid_reward");
}

static int edit_value(app *a, const struct pipeline_feedback_in *in,
                      struct pipeline_feedback_out *out, char **detail, char *err)
{
    struct chatmem_turn ct = {0};
    const char *draft = in->draft;
    if (!in->final_text || !text_utf8_valid(in->final_text, strlen(in->final_text)))
        return pb_errf(err, PB_ERR_INVALID, "kind 'edit' needs 'final_text', a UTF-8 string");
    if (!draft && chatmem_turn_get(app_chatmem(a), in->impression_id, &ct))
        draft = ct.reply;
    if (!draft) {
        chatmem_turn_clear(&ct);
        return pb_errf(err, PB_ERR_INVALID,
                       "kind 'edit' needs 'draft' (the answer as shown) for impression %lld: it "
                       "is not in memory",
                       (long long)in->impression_id);
    }
    out->similarity = text_similarity(draft, in->final_text, SIMILARITY_MAX_CHARS);
    chatmem_turn_clear(&ct);
    if (out->similarity < 0)
        return pb_errf(err, PB_ERR_INVALID,
                       "'draft' and 'final_text' must be UTF-8 of at most %d characters",
                       SIMILARITY_MAX_CHARS);
    out->value = edit_reward(app_config(a), out->similarity);
    json_t *d = json_pack("{s:f}", "similarity", out->similarity);
    *detail = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    return *detail ? PB_OK : pb_errf(err, PB_ERR_NOMEM, "out of memory");
}

/* Source and value of a feedback kind; *detail (may stay NULL) is freed by the caller. */
static int feedback_value(app *a, const struct pipeline_feedback_in *in,
                          struct pipeline_feedback_out *out, char **detail, char *err)
{
    const config *cfg = app_config(a);
    const char *kind = in->kind ? in->kind : "";
    out->similarity = -1;
    if (!strcmp(kind, "like") || !strcmp(kind, "dislike")) {
        out->source = "click";
        out->value = config_double(cfg, !strcmp(kind, "like") ? "rewards.like" : "rewards.dislike");
    } else if (!strcmp(kind, "regenerate")) {
        out->source = "regenerate";
        out->value = config_double(cfg, "rewards.regenerate");
    } else if (!strcmp(kind, "score")) {
        out->source = "score";
        if (!in->has_value || !isfinite(in->value) || in->value < -1 || in->value > 1)
            return pb_errf(err, PB_ERR_INVALID, "kind 'score' needs 'value', a number in [-1, 1]");
        out->value = in->value;
    } else if (!strcmp(kind, "edit")) {
        out->source = "edit";
        return edit_value(a, in, out, detail, err);
    } else {
        return pb_errf(err, PB_ERR_INVALID,
                       "field 'kind' must be one of like, dislike, regenerate, edit, score");
    }
    return PB_OK;
}

int pipeline_feedback(app *a, const struct pipeline_feedback_in *in,
                      struct pipeline_feedback_out *out, char *err)
{
    char key[APP_USER_KEY_LEN], *detail = NULL;
    struct impressions_info info;
    struct store_experiment e = {0};
    memset(out, 0, sizeof *out);
    int rc = check_id(in->user_id, "user_id", 0, err);
    if (rc == PB_OK)
        rc = check_id(in->event_id, "event_id", 0, err);
    if (rc == PB_OK)
        rc = feedback_value(a, in, out, &detail, err);
    if (rc != PB_OK) {
        free(detail);
        return rc;
    }
    if (in->user_id)
        app_user_key(a, in->user_id, key);
    store *s = app_store_acquire(a, err);
    rc = s ? owned_impression(s, in->impression_id, in->user_id ? key : NULL, &info, err)
           : PB_ERR_DB;
    if (rc == PB_OK && !info.activated)
        rc = pb_errf(err, PB_ERR_CONFLICT,
                     "impression %lld is not activated: activate it (POST "
                     "/v1/impressions/%lld/activate) once its answer is shown, then send feedback",
                     (long long)in->impression_id, (long long)in->impression_id);
    if (rc == PB_OK && info.defaulted)
        rc = pb_errf(err, PB_ERR_CONFLICT,
                     "impression %lld already got the default reward (no feedback within "
                     "rewards.wait_s); late feedback is not counted",
                     (long long)in->impression_id);
    if (rc == PB_OK)
        rc = store_experiment_get_by_id(s, info.experiment_id, &e, err);
    app_store_release(a, s);
    struct feedback_reward r = {.impression_id = in->impression_id,
                                .source = out->source,
                                .value = out->value,
                                .event_id = in->event_id,
                                .detail_json = detail};
    if (rc == PB_OK)
        rc = reward_commit(a, &info, e.name, &r, &out->reward_id, &out->duplicate, err);
    if (rc == PB_OK) {
        out->impression_id = in->impression_id;
        out->arm_id = info.arm_id;
        snprintf(out->arm, sizeof out->arm, "%s", info.arm_name);
    }
    store_experiment_clear(&e);
    free(detail);
    return rc;
}

/* ---- choose ---- */

void pipeline_choose_out_clear(struct pipeline_choose_out *out)
{
    free(out->prompt);
    out->prompt = NULL;
}

/* The client's context object (or {}) with "features" set; NULL when out of memory. */
static char *choose_context(const char *client_json, const double x[FEATVEC_DIM])
{
    json_t *ctx = client_json ? json_loads(client_json, 0, NULL) : json_object();
    char *text = NULL;
    if (json_is_object(ctx) && json_object_set_new(ctx, "features", featvec_json(x)) == 0)
        text = json_dumps(ctx, JSON_COMPACT);
    json_decref(ctx);
    return text;
}

int pipeline_choose(app *a, const struct pipeline_choose_in *in, struct pipeline_choose_out *out,
                    char *err)
{
    const char *experiment = in->experiment ? in->experiment : "default";
    char key[APP_USER_KEY_LEN];
    struct live_choice c = {0};
    memset(out, 0, sizeof *out);
    int rc = check_experiment(experiment, err);
    if (rc == PB_OK)
        rc = check_id(in->user_id, "user_id", 0, err);
    if (rc == PB_OK && in->context_json && !store_json_valid(in->context_json, 1))
        rc = pb_errf(err, PB_ERR_INVALID, "field 'context' must be a JSON object");
    if (rc != PB_OK)
        return rc;
    const char *segment = in->segment ? segmap_canonical(app_segmap(a), in->segment) : NULL;
    double x[FEATVEC_DIM];
    if (in->features)
        memcpy(x, in->features, sizeof x);
    else
        livefeat_build(NULL, 0, 0, pb_now_wall(), x);
    char *context = choose_context(in->context_json, x);
    if (!context)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    rc = live_choose(app_live(a), NULL, experiment, segment, x, 0, &c, err);
    if (rc == PB_ERR_NOT_FOUND) { /* not loaded yet: load it from the store */
        store *s = app_store_acquire(a, err);
        rc = s ? live_choose(app_live(a), s, experiment, segment, x, 0, &c, err) : PB_ERR_DB;
        app_store_release(a, s);
    }
    if (in->user_id)
        app_user_key(a, in->user_id, key);
    struct feedback_impression imp = {.experiment_id = c.experiment_id,
                                      .arm_id = c.arm_id,
                                      .user_id = in->user_id ? key : NULL,
                                      .segment = segment,
                                      .context_json = context,
                                      .propensity = c.propensity,
                                      .activated = !in->inactive};
    if (rc == PB_OK)
        rc = writer_impression(app_writer(a), &imp, &out->impression_id, err);
    if (rc == PB_OK) {
        if (!in->inactive)
            count_pull(a, experiment, c.arm_name);
        snprintf(out->arm, sizeof out->arm, "%s", c.arm_name);
        out->arm_id = c.arm_id;
        out->experiment_id = c.experiment_id;
        out->propensity = c.propensity;
        snprintf(out->segment, sizeof out->segment, "%s",
                 segment ? segment
                         : live_segment_name(app_live(a), live_segment_count(app_live(a)) - 1));
        out->prompt = c.prompt;
        c.prompt = NULL;
    }
    live_choice_clear(&c);
    free(context);
    return rc;
}

int pipeline_impression_set(app *a, int64_t impression_id, const char *user_id, int admin,
                            int activate, int *changed, char *err)
{
    char key[APP_USER_KEY_LEN];
    struct impressions_info info;
    struct store_experiment e = {0};
    int done = 0;
    int rc = check_id(user_id, "user_id", 0, err);
    if (rc != PB_OK)
        return rc;
    if (user_id)
        app_user_key(a, user_id, key);
    store *s = app_store_acquire(a, err);
    if (!s)
        rc = PB_ERR_DB;
    else if (admin)
        rc = impressions_get(s, impression_id, &info, err);
    else
        rc = owned_impression(s, impression_id, user_id ? key : NULL, &info, err);
    if (rc == PB_OK && activate)
        rc = impressions_activate(s, impression_id, &done, err);
    else if (rc == PB_OK)
        rc = impressions_discard(s, impression_id, err);
    if (rc == PB_OK && activate && done &&
        store_experiment_get_by_id(s, info.experiment_id, &e, err) == PB_OK)
        count_pull(a, e.name, info.arm_name);
    app_store_release(a, s);
    store_experiment_clear(&e);
    if (changed)
        *changed = activate ? done : 1;
    return rc;
}

int pipeline_erase_user(app *a, const char *user_id, struct feedback_erase_counts *counts,
                        char *err)
{
    char key[APP_USER_KEY_LEN];
    int rc = check_id(user_id, "user_id", 1, err);
    if (rc != PB_OK)
        return rc;
    app_user_key(a, user_id, key);
    store *s = app_store_acquire(a, err);
    if (!s)
        return PB_ERR_DB;
    rc = feedback_erase_user(s, key, counts, err);
    app_store_release(a, s);
    chatmem_forget_user(app_chatmem(a), key);
    return rc;
}
