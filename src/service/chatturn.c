/* chatturn.c — the four stages of a chat turn (chatturn.h), and regeneration. */
#include "service/chatturn.h"

#include "base/hash.h"
#include "base/text.h"
#include "service/chatmem.h"
#include "service/live.h"
#include "service/livefeat.h"
#include "service/reward.h"
#include "service/segmap.h"
#include "store/impressions.h"
#include "store/writer.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void count_llm(app *a, const struct llm_response *r, pb_status rc)
{
    static const char *const outcome[] = {"outcome"};
    static const char *const kind[] = {"kind"};
    const char *v[] = {rc == PB_OK ? "ok" : pb_status_name(rc)};
    pipeline_count(a, "pb_llm_calls_total", "chat completions by outcome", outcome, 1, v, 1);
    const char *p[] = {"prompt"}, *c[] = {"completion"};
    pipeline_count(a, "pb_llm_tokens_total", "tokens reported by the provider", kind, 1, p,
                   (double)r->prompt_tokens);
    pipeline_count(a, "pb_llm_tokens_total", "tokens reported by the provider", kind, 1, c,
                   (double)r->completion_tokens);
    metrics_family *f;
    char err[PB_ERR_LEN];
    if (metrics_histogram(app_metrics(a), "pb_llm_latency_seconds",
                          "provider call time including retries", NULL, 0, metrics_latency_buckets,
                          metrics_latency_buckets_count, &f, err) == PB_OK)
        metrics_observe(f, NULL, r->latency_s);
}

void chatturn_out_clear(struct chatturn_out *out)
{
    free(out->reply);
    out->reply = NULL;
}

/* Everything a turn carries between its stages (chatturn.h). */
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

/* ---- stage 1: validate and classify ---- */

static pb_status check_chat(app *a, const struct chatturn_in *in, char *err)
{
    size_t max = (size_t)config_int(app_config(a), "chat.max_message_chars");
    pb_status rc = pipeline_check_id(in->user_id, "user_id", 1, err);
    if (rc == PB_OK)
        rc = pipeline_check_id(in->conversation_id, "conversation_id", 0, err);
    if (rc == PB_OK && in->experiment)
        rc = pipeline_check_experiment(in->experiment, err);
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

static pb_status no_provider(app *a, char *err)
{
    return pb_errf(err, PB_ERR_UNAVAILABLE, "%s", app_llm_note(a));
}

/* A conversation id nobody can guess (it names a conversation in URLs): 96 random bits from
 * the kernel. No fallback to the clock: a turn fails rather than get a guessable id. */
static pb_status new_conversation_id(char *out, size_t len, char *err)
{
    unsigned char r[12];
    pb_status rc = hash_random_bytes(r, sizeof r, err);
    if (rc != PB_OK)
        return rc;
    int used = snprintf(out, len, "c-");
    for (size_t i = 0; i < sizeof r && (size_t)used + 2 < len; i++)
        used += snprintf(out + used, len - (size_t)used, "%02x", r[i]);
    return PB_OK;
}

static void classify(app *a, const char *text, struct chatturn_out *out)
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

static json_t *emotions_json(const struct chatturn_out *out)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < out->n_emotions; i++)
        json_array_append_new(arr,
                              json_pack("{s:s, s:s, s:f}", "label", out->emotions[i].label, "name",
                                        out->emotions[i].display, "score", out->emotions[i].score));
    return arr;
}

/* Stage 1: checks the input and that a provider is configured, fixes the user key and the
 * conversation id, classifies the message (out gets the emotions and the segment). */
static pb_status stage_validate_classify(app *a, const struct chatturn_in *in, struct turn *t,
                                         struct chatturn_out *out, char *err)
{
    pb_status rc = check_chat(a, in, err);
    if (rc != PB_OK)
        return rc;
    if (!app_llm(a))
        return no_provider(a, err);
    app_user_key(a, in->user_id, t->user_key);
    if (in->conversation_id)
        snprintf(out->conversation_id, sizeof out->conversation_id, "%s", in->conversation_id);
    else if ((rc = new_conversation_id(out->conversation_id, sizeof out->conversation_id, err)) !=
             PB_OK)
        return rc;
    classify(a, in->message, out);
    if (!(t->emotions = emotions_json(out)))
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    return PB_OK;
}

/* ---- stage 2: choose the arm and build the messages ---- */

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

/* Stage 2: reads what the turn needs from the store (consent, owner and sticky arm, history),
 * builds the features, chooses the arm and appends the user message to the messages. */
static pb_status stage_choose(app *a, store *s, const struct chatturn_in *in,
                              const struct chatturn_out *out, struct turn *t, char *err)
{
    char owner[260];
    int64_t sticky = 0;
    pb_status rc = PB_OK;
    if (in->consent >= 0)
        t->consent = in->consent;
    else if ((rc = feedback_get_consent(s, t->user_key, &t->consent, err)) != PB_OK)
        return rc;
    int found =
        feedback_get_conversation(s, out->conversation_id, owner, sizeof owner, &sticky, err);
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

/* ---- stage 3: wait for the provider ---- */

/* Calls the LLM with system + messages; *reply is owned by the caller. */
static pb_status generate(app *a, const char *system, const json_t *messages, char **reply,
                          char *err)
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
    pb_status rc = llm_chat(app_llm(a), &req, &resp, why);
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

/* Stage 3: the provider's answer to the turn's messages under the arm's prompt (t->reply). */
static pb_status stage_generate(app *a, struct turn *t, char *err)
{
    return generate(a, t->choice.prompt, t->messages, &t->reply, err);
}

/* ---- stage 4: record ---- */

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
static pb_status record_turn(app *a, store *s, struct turn *t, struct chatturn_out *out, char *err)
{
    int64_t sticky = 0, msg_id;
    pb_status rc = PB_OK;
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
static void remember_turn(app *a, const struct turn *t, const struct chatturn_out *out,
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

/* A recorded turn (fresh = 1 for a new turn, 0 for a regenerated one): remembered for
 * regenerate and history, counted, and its arm and reply handed to out (which owns the reply). */
static void finish_turn(app *a, struct turn *t, struct chatturn_out *out, int fresh)
{
    remember_turn(a, t, out, fresh);
    pipeline_count_pull(a, t->experiment, t->choice.arm_name);
    snprintf(out->arm, sizeof out->arm, "%s", t->choice.arm_name);
    out->arm_id = t->choice.arm_id;
    out->reply = t->reply;
    t->reply = NULL;
}

/* Stage 4: stores the answered turn (record_turn) and, once stored, finishes it (finish_turn);
 * fresh as finish_turn's. */
static pb_status stage_record(app *a, store *s, struct turn *t, struct chatturn_out *out, int fresh,
                              char *err)
{
    pb_status rc = record_turn(a, s, t, out, err);
    if (rc == PB_OK)
        finish_turn(a, t, out, fresh);
    return rc;
}

/* ---- the turn ---- */

pb_status chatturn_run(app *a, const struct chatturn_in *in, struct chatturn_out *out, char *err)
{
    struct turn t = {.experiment = in->experiment ? in->experiment : "default",
                     .set_consent = in->consent};
    store *s = NULL;
    memset(out, 0, sizeof *out);
    pb_status rc = stage_validate_classify(a, in, &t, out, err);
    if (rc == PB_OK && !(s = app_store_acquire(a, err)))
        rc = err[0] ? PB_ERR_DB : pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc == PB_OK)
        rc = stage_choose(a, s, in, out, &t, err);
    if (rc == PB_OK)
        rc = stage_generate(a, &t, err);
    if (rc == PB_OK)
        rc = stage_record(a, s, &t, out, 1, err);
    app_store_release(a, s);
    turn_clear(&t);
    return rc;
}

/* ---- regenerate ---- */

/* Stages 2-4 for a remembered turn: the arm chosen again (kept unless assign.mode is turn),
 * the provider asked with the remembered messages, the old answer's regenerate reward
 * committed, the new turn recorded. */
static pb_status regenerate_turn(app *a, store *s, const struct impressions_info *info,
                                 struct chatmem_turn *ct, const char *event_id,
                                 struct chatturn_out *out, char *err)
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
    pb_status rc = live_choose(app_live(a), s, t.experiment, out->segment, t.has_x ? t.x : NULL,
                               prefer, &t.choice, err);
    if (rc == PB_OK)
        rc = stage_generate(a, &t, err);
    struct feedback_reward r = {.impression_id = info->id,
                                .source = "regenerate",
                                .value = config_double(app_config(a), "rewards.regenerate"),
                                .event_id = event_id};
    int64_t rid;
    int dup;
    if (rc == PB_OK)
        rc = reward_commit(a, info, t.experiment, &r, &rid, &dup, err);
    if (rc == PB_OK)
        rc = stage_record(a, s, &t, out, 0, err);
    turn_clear(&t);
    return rc;
}

static void fill_emotions(struct chatturn_out *out, const json_t *emotions)
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

pb_status chatturn_regenerate(app *a, int64_t impression_id, const char *user_id,
                              const char *event_id, struct chatturn_out *out, char *err)
{
    char key[APP_USER_KEY_LEN];
    struct impressions_info info;
    struct chatmem_turn ct = {0};
    memset(out, 0, sizeof *out);
    pb_status rc = pipeline_check_id(user_id, "user_id", 1, err);
    if (rc == PB_OK)
        rc = pipeline_check_id(event_id, "event_id", 0, err);
    if (rc != PB_OK)
        return rc;
    app_user_key(a, user_id, key);
    store *s = app_store_acquire(a, err);
    if (!s)
        return PB_ERR_DB;
    rc = pipeline_owned_impression(s, impression_id, key, &info, err);
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
