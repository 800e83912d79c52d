/* chatturn.c — the four stages of a chat turn (chatturn.h), and regeneration. */
#include "service/chatturn.h"

#include "base/hash.h"
#include "base/text.h"
#include "service/chatmem.h"
#include "service/live.h"
#include "service/livefeat.h"
#include "service/livejudge.h"
#include "service/replica.h"
#include "service/reward.h"
#include "service/segmap.h"
#include "store/impressions.h"
#include "store/replica.h"
#include "store/usage.h"
#include "store/writer.h"
#include "llm/llmloop.h"

#include <jansson.h>
#include <pthread.h>
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
    /* chatturn_in's provider settings (owned copies; NULL / -1 / 0: the client's) */
    char *system_extra, *model;
    double temperature;
    int max_tokens;
};

static void turn_clear(struct turn *t)
{
    live_choice_clear(&t->choice);
    json_decref(t->messages);
    json_decref(t->emotions);
    free(t->reply);
    free(t->system_extra);
    free(t->model);
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

/* Fills out's emotions from a classification (rc, res[0..n)), "unknown" when it failed — a
 * classifier down must not stop the chat — and the live segment they map to. */
static void classified(app *a, pb_status rc, const struct emotion_result *res, size_t n,
                       struct chatturn_out *out)
{
    out->n_emotions = rc == PB_OK ? (n < EMOTION_MAX_K ? n : EMOTION_MAX_K) : 0;
    if (out->n_emotions)
        memcpy(out->emotions, res, out->n_emotions * sizeof *res);
    if (out->n_emotions == 0) {
        memset(&out->emotions[0], 0, sizeof out->emotions[0]);
        snprintf(out->emotions[0].label, sizeof out->emotions[0].label, "unknown");
        snprintf(out->emotions[0].display, sizeof out->emotions[0].display, "알 수 없음");
        out->n_emotions = 1;
    }
    snprintf(out->segment, sizeof out->segment, "%s",
             segmap_of(app_segmap(a), out->emotions[0].label, out->emotions[0].segment));
}

json_t *chatturn_emotions_json(const struct chatturn_out *out)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < out->n_emotions; i++)
        json_array_append_new(arr,
                              json_pack("{s:s, s:s, s:f}", "label", out->emotions[i].label, "name",
                                        out->emotions[i].display, "score", out->emotions[i].score));
    return arr;
}

static void classify(app *a, const char *text, struct chatturn_out *out)
{
    char err[PB_ERR_LEN];
    struct emotion_result res[EMOTION_MAX_K];
    size_t n = 0, k = (size_t)config_int(app_config(a), "emotion.top_k");
    pb_status rc = emotion_classify(app_emotion(a), text, strlen(text), k, res, &n, err);
    classified(a, rc, res, n, out);
}

/* Stage 1a: checks the input and that a provider is configured, fixes the user key and the
 * conversation id. */
static pb_status stage_validate(app *a, const struct chatturn_in *in, struct turn *t,
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

/* Which arm to keep for this turn per assign.mode (*arm 0 = let the policy choose). The
 * database is the authority for both sticky modes, so that a conversation or a user keeps its
 * arm whichever replica serves the next turn. */
static pb_status preferred_arm(app *a, store *s, const struct turn *t, int64_t sticky,
                               int64_t experiment_id, int64_t *arm, char *err)
{
    const char *mode = config_str(app_config(a), "assign.mode");
    *arm = 0;
    if (strcmp(mode, "conversation") == 0)
        *arm = sticky;
    else if (strcmp(mode, "user") == 0 && t->user_key[0]) {
        int found = replica_user_arm_get(s, t->user_key, experiment_id, pb_now_wall(), arm, err);
        if (found < 0)
            return found;
        if (!found)
            *arm = 0;
    }
    return PB_OK;
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
    if (in->history)
        t->messages = json_deep_copy(in->history);
    else if (!(t->messages = load_history(a, s, out->conversation_id, t->consent, err)))
        return err[0] ? PB_ERR_DB : pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (!t->messages)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    livefeat_build(out->emotions, out->n_emotions, user_turns(t->messages), pb_now_wall(), t->x);
    t->has_x = 1;
    /* The first choice only tells the experiment id for user-mode look-ups; cheap. */
    if ((rc = live_choose(app_live(a), s, t->experiment, out->segment, t->x, found ? sticky : 0,
                          &t->choice, err)) != PB_OK)
        return rc;
    int64_t prefer;
    if ((rc = preferred_arm(a, s, t, found ? sticky : 0, t->choice.experiment_id, &prefer, err)) !=
        PB_OK)
        return rc;
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
    if (in->plain_message)
        snprintf(user, len, "%s", in->message);
    else
        snprintf(user, len, "%s ;; %s", in->message, out->emotions[0].display);
    json_array_append_new(t->messages, message_json("user", user));
    free(user);
    return PB_OK;
}

/* ---- the job: stages 3 and 4 without a waiting thread ---- */

/* A turn between its stages. It is owned by whoever runs the next stage: the caller until
 * chatturn_submit, then the provider loop (its on_done), then the writer (record_done), which
 * hands the result to the sink and frees the job. lock guards call and cancelled only: nothing
 * that can wait runs under it. */
struct chatturn_job {
    app *a;
    struct turn t;
    struct chatturn_out out;
    int fresh;                   /* 1: a new turn; 0: a regenerated one */
    struct impressions_info old; /* regenerate: the turn answered again */
    char *experiment;            /* owned: t.experiment points here (the request is gone) */
    char *event_id;              /* regenerate: the event id of its reward (owned, may be NULL) */
    int64_t old_reward_id;
    int old_duplicate;
    struct chatturn_sink sink;
    pthread_mutex_t lock;
    struct llm_call *call; /* while the provider works */
    int cancelled;
    double retry_after_s;
};

static chatturn_job *job_new(app *a)
{
    chatturn_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->a = a;
    j->fresh = 1;
    j->t.set_consent = -1;
    j->t.temperature = -1;
    pthread_mutex_init(&j->lock, NULL);
    return j;
}

void chatturn_job_free(chatturn_job *j)
{
    if (!j)
        return;
    turn_clear(&j->t);
    chatturn_out_clear(&j->out);
    free(j->experiment);
    free(j->event_id);
    pthread_mutex_destroy(&j->lock);
    free(j);
}

/* Hands the result to the sink and frees the job: the one end of every submitted job. */
static void job_finish(chatturn_job *j, pb_status rc, const char *err)
{
    struct chatturn_sink sink = j->sink;
    sink.on_done(rc, &j->out, err ? err : "", j->retry_after_s, sink.ud);
    chatturn_job_free(j);
}

/* The end of both prepares: the impression id reserved (so a stream can name it at once),
 * the arm copied out, *first filled (no reply yet); on failure the job is freed. */
static pb_status prepared(chatturn_job *j, pb_status rc, chatturn_job **out_job,
                          struct chatturn_out *first, char *err)
{
    if (rc == PB_OK)
        rc = writer_reserve_impression_id(app_writer(j->a), &j->out.impression_id, err);
    if (rc != PB_OK) {
        chatturn_job_free(j);
        return rc;
    }
    snprintf(j->out.arm, sizeof j->out.arm, "%s", j->t.choice.arm_name);
    j->out.arm_id = j->t.choice.arm_id;
    if (first) {
        *first = j->out;
        first->reply = NULL;
    }
    *out_job = j;
    return PB_OK;
}

/* The request's own generation options, copied into the job (the request is gone before the
 * provider is called); 0 when out of memory. */
static int job_take_options(chatturn_job *j, const struct chatturn_in *in)
{
    if (in->has_temperature)
        j->t.temperature = in->temperature;
    j->t.max_tokens = in->max_tokens;
    return (!in->system_extra || (j->t.system_extra = strdup(in->system_extra))) &&
           (!in->model || (j->t.model = strdup(in->model)));
}

/* Stage 2 and the end of a prepare, once stage 1 is done: a store handle only for stage 2. */
static pb_status prepare_rest(chatturn_job *j, const struct chatturn_in *in, chatturn_job **out_job,
                              struct chatturn_out *first, char *err)
{
    store *s = NULL;
    pb_status rc = PB_OK;
    if (!(j->t.emotions = chatturn_emotions_json(&j->out)))
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc == PB_OK && !(s = app_store_acquire(j->a, err)))
        rc = err[0] ? PB_ERR_DB : pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc == PB_OK)
        rc = stage_choose(j->a, s, in, &j->out, &j->t, err);
    app_store_release(j->a, s);
    return prepared(j, rc, out_job, first, err);
}

/* A prepare waiting for a remote classifier: the job, and the request's fields copied (the
 * request is gone by the time the classifier answers). */
struct prep {
    chatturn_job *j;
    struct chatturn_in in;
    char *user_id, *conversation_id, *message;
    chatturn_prepared_fn *cb;
    void *ud;
};

static void prep_free(struct prep *p)
{
    json_decref((json_t *)p->in.history);
    free(p->user_id);
    free(p->conversation_id);
    free(p->message);
    free(p);
}

/* The classifier answered (its loop's thread, or the caller's for a local backend). */
static void prep_classified(pb_status rc, const struct emotion_result *res, size_t n,
                            const char *why, void *ud)
{
    (void)why; /* a classifier failure makes the emotions "unknown", not the turn fail */
    struct prep *p = ud;
    char err[PB_ERR_LEN] = "";
    chatturn_job *job = NULL;
    struct chatturn_out first;
    memset(&first, 0, sizeof first);
    classified(p->j->a, rc, res, n, &p->j->out);
    pb_status prc = prepare_rest(p->j, &p->in, &job, &first, err);
    p->cb(prc, job, prc == PB_OK ? &first : NULL, err, p->ud);
    prep_free(p);
}

pb_status chatturn_prepare_async(app *a, const struct chatturn_in *in, chatturn_prepared_fn *cb,
                                 void *ud, char *err)
{
    struct prep *p = calloc(1, sizeof *p);
    chatturn_job *j = p ? job_new(a) : NULL;
    if (!p || !j) {
        free(p);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    p->j = j;
    p->cb = cb;
    p->ud = ud;
    p->in = *in;
    j->experiment = strdup(in->experiment ? in->experiment : "default");
    j->t.experiment = j->experiment;
    j->t.set_consent = in->consent;
    p->in.user_id = p->user_id = in->user_id ? strdup(in->user_id) : NULL;
    p->in.conversation_id = p->conversation_id =
        in->conversation_id ? strdup(in->conversation_id) : NULL;
    p->in.message = p->message = in->message ? strdup(in->message) : NULL;
    p->in.experiment = j->experiment;
    p->in.history = json_incref((json_t *)in->history); /* the request's body goes away */
    p->in.system_extra = NULL;                          /* taken into the job by job_take_options */
    p->in.model = NULL;
    pb_status rc = PB_OK;
    if (!j->experiment || (in->user_id && !p->user_id) ||
        (in->conversation_id && !p->conversation_id) || (in->message && !p->message) ||
        !job_take_options(j, in))
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc == PB_OK)
        rc = stage_validate(a, &p->in, &j->t, &j->out, err);
    size_t k = (size_t)config_int(app_config(a), "emotion.top_k");
    if (rc == PB_OK)
        rc = emotion_classify_async(app_emotion(a), p->message, strlen(p->message), k,
                                    prep_classified, p, err);
    if (rc != PB_OK) {
        chatturn_job_free(j);
        prep_free(p);
    }
    return rc;
}

pb_status chatturn_prepare(app *a, const struct chatturn_in *in, chatturn_job **out_job,
                           struct chatturn_out *first, char *err)
{
    *out_job = NULL;
    chatturn_job *j = job_new(a);
    if (!j)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    j->experiment = strdup(in->experiment ? in->experiment : "default");
    j->t.experiment = j->experiment;
    j->t.set_consent = in->consent;
    pb_status rc = j->experiment && job_take_options(j, in)
                       ? stage_validate(a, in, &j->t, &j->out, err)
                       : pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc != PB_OK) {
        chatturn_job_free(j);
        return rc;
    }
    classify(a, in->message, &j->out);
    return prepare_rest(j, in, out_job, first, err); /* nothing is held while the provider works */
}

/* ---- stage 3: wait for the provider (on the provider loop) ---- */

static void record_done(pb_status rc, int64_t id, int duplicate, const char *err, void *ud);
static pb_status record_call(store *s, void *ud, int64_t *id, char *err);

static void on_delta(const char *text, size_t len, void *ud)
{
    chatturn_job *j = ud;
    pthread_mutex_lock(&j->lock);
    int cancelled = j->cancelled;
    pthread_mutex_unlock(&j->lock);
    if (!cancelled && j->sink.on_delta)
        j->sink.on_delta(text, len, j->sink.ud);
}

/* The provider finished: a failure ends the turn with nothing stored; an answer goes to the
 * writer (stage 4). */
static void on_provider_done(pb_status rc, const struct llm_response *resp, const char *why,
                             void *ud)
{
    chatturn_job *j = ud;
    char err[PB_ERR_LEN] = "";
    pthread_mutex_lock(&j->lock);
    j->call = NULL;
    int cancelled = j->cancelled;
    pthread_mutex_unlock(&j->lock);
    count_llm(j->a, resp, rc);
    j->retry_after_s = resp->retry_after_s;
    j->out.upstream_status = rc == PB_OK ? 0 : resp->http_status;
    if (rc == PB_OK && cancelled)
        rc = pb_errf(err, PB_ERR_TIMEOUT, "the turn was abandoned before its answer was stored");
    else if (rc != PB_OK)
        rc = pb_errf(err,
                     rc == PB_ERR_TIMEOUT       ? PB_ERR_TIMEOUT
                     : rc == PB_ERR_UNAVAILABLE ? PB_ERR_UNAVAILABLE
                                                : PB_ERR_PROVIDER,
                     "the LLM provider failed, nothing was stored: %s", why);
    else if (!(j->t.reply = strdup(resp->text ? resp->text : "")))
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc == PB_OK) {
        snprintf(j->out.finish_reason, sizeof j->out.finish_reason, "%s",
                 resp->finish_reason ? resp->finish_reason : "");
        j->out.prompt_tokens = resp->prompt_tokens;
        j->out.completion_tokens = resp->completion_tokens;
        rc = writer_submit_call(app_writer(j->a), record_call, j, record_done, j, err);
        if (rc == PB_OK)
            return; /* record_done finishes the job */
    }
    job_finish(j, rc, err);
}

pb_status chatturn_submit(chatturn_job *j, double deadline, int stream,
                          const struct chatturn_sink *sink, double *retry_after_s, char *err)
{
    app *a = j->a;
    size_t n = json_array_size(j->t.messages);
    struct llm_message *msgs = calloc(n + 1, sizeof *msgs);
    *retry_after_s = 0;
    if (!msgs) {
        chatturn_job_free(j);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    char *system = NULL;
    if (j->t.system_extra) {
        size_t len = strlen(j->t.choice.prompt) + strlen(j->t.system_extra) + 3;
        if (!(system = malloc(len))) {
            free(msgs);
            chatturn_job_free(j);
            return pb_errf(err, PB_ERR_NOMEM, "out of memory");
        }
        snprintf(system, len, "%s\n\n%s", j->t.choice.prompt, j->t.system_extra);
    }
    msgs[0] = (struct llm_message){"system", system ? system : j->t.choice.prompt};
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(j->t.messages, i);
        msgs[i + 1].role = json_string_value(json_object_get(m, "role"));
        msgs[i + 1].content = json_string_value(json_object_get(m, "content"));
    }
    struct llm_request req = {.messages = msgs,
                              .n_messages = n + 1,
                              .model = j->t.model,
                              .temperature = j->t.temperature,
                              .max_tokens = j->t.max_tokens};
    struct llm_call_handlers h = {
        .on_delta = stream ? on_delta : NULL, .on_done = on_provider_done, .ud = j};
    j->sink = *sink;
    pthread_mutex_lock(&j->lock); /* on_provider_done may run before submit returns */
    pb_status rc = llm_loop_submit(app_llm_loop(a), &req, deadline, stream, &h, &j->call, err);
    pthread_mutex_unlock(&j->lock);
    free(msgs);
    free(system);
    if (rc != PB_OK) {
        if (rc == PB_ERR_LIMIT) {
            *retry_after_s = 1;
            pipeline_count(a, "pb_chat_refused_total",
                           "chat turns refused at once because the provider queue was full", NULL,
                           0, NULL, 1);
        }
        chatturn_job_free(j);
    }
    return rc;
}

void chatturn_cancel(chatturn_job *j)
{
    pthread_mutex_lock(&j->lock);
    j->cancelled = 1;
    if (j->call)
        llm_loop_cancel(app_llm_loop(j->a), j->call);
    pthread_mutex_unlock(&j->lock);
}

/* ---- stage 4: record (on the writer's thread, inside its transaction) ---- */

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

/* Stores the answered turn in one savepoint of the writer's batch: a regenerated turn's reward
 * for the old answer, consent, conversation, impression (its reserved id), consented messages.
 * All or nothing, committed with the batch's one fsync. */
static pb_status record_call(store *s, void *ud, int64_t *id, char *err)
{
    chatturn_job *j = ud;
    struct turn *t = &j->t;
    struct chatturn_out *out = &j->out;
    int64_t sticky = 0, msg_id;
    pb_status rc = PB_OK;
    *id = out->impression_id;
    if (!j->fresh) {
        struct feedback_reward r = {.impression_id = j->old.id,
                                    .source = "regenerate",
                                    .value = config_double(app_config(j->a), "rewards.regenerate"),
                                    .event_id = j->event_id,
                                    .origin = replica_id(app_replica(j->a))};
        rc = feedback_insert_reward_tx(s, &r, &j->old_reward_id, &j->old_duplicate, err);
    }
    if (rc == PB_OK && t->set_consent >= 0)
        rc = feedback_set_consent(s, t->user_key, t->set_consent, err);
    if (rc == PB_OK && j->fresh)
        rc = feedback_open_conversation_tx(s, out->conversation_id, t->user_key,
                                           t->choice.experiment_id, t->choice.arm_id, out->segment,
                                           &sticky, NULL, err);
    char *ctx = rc == PB_OK ? context_text(t) : NULL;
    if (rc == PB_OK && !ctx)
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    struct feedback_impression imp = {.id = out->impression_id,
                                      .experiment_id = t->choice.experiment_id,
                                      .arm_id = t->choice.arm_id,
                                      .user_id = t->user_key,
                                      .conversation_id = out->conversation_id,
                                      .segment = out->segment,
                                      .context_json = ctx,
                                      .propensity = t->choice.propensity,
                                      .activated = 1};
    int64_t stored;
    if (rc == PB_OK)
        rc = feedback_insert_impression_tx(s, &imp, &stored, err);
    free(ctx);
    /* assign.mode user: the user keeps this arm until assign.user_ttl_s, for every replica (the
     * impression above created the user row; a replica that gave one first wins). */
    if (rc == PB_OK && !t->choice.kept && t->user_key[0] &&
        strcmp(config_str(app_config(j->a), "assign.mode"), "user") == 0) {
        double now = pb_now_wall();
        int64_t kept;
        rc = replica_user_arm_put(s, t->user_key, t->choice.experiment_id, t->choice.arm_id, now,
                                  now + (double)config_int(app_config(j->a), "assign.user_ttl_s"),
                                  &kept, err);
    }
    if (rc == PB_OK) {
        struct usage_row u = {.impression_id = out->impression_id,
                              .model =
                                  t->model ? t->model : config_str(app_config(j->a), "llm.model"),
                              .prompt_tokens = out->prompt_tokens,
                              .completion_tokens = out->completion_tokens};
        rc = usage_record_tx(s, &u, err);
    }
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
}

/* A committed answer for the live judge (livejudge.h samples it; never waits). */
static void offer_to_judge(chatturn_job *j)
{
    json_t *user = json_array_get(j->t.messages, json_array_size(j->t.messages) - 1);
    struct livejudge_offer o = {.impression_id = j->out.impression_id,
                                .experiment_id = j->t.choice.experiment_id,
                                .arm_id = j->t.choice.arm_id,
                                .experiment = j->t.experiment,
                                .context = json_string_value(json_object_get(user, "content")),
                                .answer = j->t.reply};
    livejudge_offer(app_livejudge(j->a), &o);
}

/* The record committed (or failed): memory, counters and the old answer's reward move only
 * after the commit; then the sink gets the turn. */
static void record_done(pb_status rc, int64_t id, int duplicate, const char *err, void *ud)
{
    chatturn_job *j = ud;
    (void)id;
    (void)duplicate;
    if (rc == PB_OK) {
        struct turn *t = &j->t;
        if (!j->fresh && !j->old_duplicate) {
            struct feedback_reward r = {.impression_id = j->old.id,
                                        .source = "regenerate",
                                        .value =
                                            config_double(app_config(j->a), "rewards.regenerate")};
            reward_committed(j->a, &j->old, t->experiment, &r, j->old_reward_id);
        }
        remember_turn(j->a, t, &j->out, j->fresh);
        pipeline_count_pull(j->a, t->experiment, t->choice.arm_name);
        offer_to_judge(j);
        j->out.reply = t->reply;
        t->reply = NULL;
    }
    job_finish(j, rc, err);
}

/* ---- blocking forms ---- */

struct wait_sink {
    struct pipeline_wait w;
    struct chatturn_out *out;
};

static void wait_done(pb_status rc, struct chatturn_out *out, const char *err, double retry_after_s,
                      void *ud)
{
    struct wait_sink *ws = ud;
    (void)retry_after_s;
    if (rc == PB_OK) { /* before the end is told: the waiter may return at once */
        char *reply = out->reply;
        *ws->out = *out;
        out->reply = NULL;
        ws->out->reply = reply;
    }
    pipeline_wait_end(&ws->w, rc, err);
}

/* Submits a prepared job and waits for its end (no deadline beyond the provider's own). */
static pb_status run_and_wait(chatturn_job *j, struct chatturn_out *out, char *err)
{
    struct wait_sink ws = {.out = out};
    struct chatturn_sink sink = {.on_done = wait_done, .ud = &ws};
    double retry_after;
    pipeline_wait_init(&ws.w);
    const config *cfg = app_config(j->a);
    double deadline = pb_now_monotonic() + (double)config_int(cfg, "server.request_timeout_s");
    pb_status rc = chatturn_submit(j, deadline, 0, &sink, &retry_after, err);
    if (rc != PB_OK) /* the sink is never called: end the wait here */
        pipeline_wait_end(&ws.w, rc, err);
    return pipeline_wait_for(&ws.w, err);
}

pb_status chatturn_run(app *a, const struct chatturn_in *in, struct chatturn_out *out, char *err)
{
    chatturn_job *j;
    memset(out, 0, sizeof *out);
    pb_status rc = chatturn_prepare(a, in, &j, out, err);
    return rc == PB_OK ? run_and_wait(j, out, err) : rc;
}

/* ---- regenerate ---- */

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

pb_status chatturn_prepare_regenerate(app *a, int64_t impression_id, const char *user_id,
                                      const char *event_id, chatturn_job **out_job,
                                      struct chatturn_out *first, char *err)
{
    char key[APP_USER_KEY_LEN];
    struct chatmem_turn ct = {0};
    *out_job = NULL;
    pb_status rc = pipeline_check_id(user_id, "user_id", 1, err);
    if (rc == PB_OK)
        rc = pipeline_check_id(event_id, "event_id", 0, err);
    if (rc != PB_OK)
        return rc;
    chatturn_job *j = job_new(a);
    if (!j)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    j->fresh = 0;
    app_user_key(a, user_id, key);
    store *s = app_store_acquire(a, err);
    if (!s)
        rc = err[0] ? PB_ERR_DB : pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc == PB_OK)
        rc = pipeline_owned_impression(s, impression_id, key, &j->old, err);
    if (rc == PB_OK && !chatmem_turn_get(app_chatmem(a), impression_id, &ct))
        rc = pb_errf(err, PB_ERR_CONFLICT,
                     "answer %lld can no longer be regenerated (turns are kept in memory for "
                     "chat.memory_ttl_s and not across restarts); send the message again",
                     (long long)impression_id);
    if (rc == PB_OK && !app_llm(a))
        rc = no_provider(a, err);
    if (rc == PB_OK && (!(j->experiment = strdup(ct.experiment ? ct.experiment : "default")) ||
                        (event_id && !(j->event_id = strdup(event_id)))))
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc == PB_OK) {
        struct turn *t = &j->t;
        struct chatturn_out *out = &j->out;
        t->experiment = j->experiment;
        t->consent = ct.consent;
        snprintf(t->user_key, sizeof t->user_key, "%s", ct.user_key);
        snprintf(out->conversation_id, sizeof out->conversation_id, "%s", ct.conversation_id);
        snprintf(out->segment, sizeof out->segment, "%s", ct.segment ? ct.segment : "unknown");
        t->messages = json_incref(ct.messages);
        t->emotions = json_incref(ct.emotions);
        fill_emotions(out, ct.emotions);
        int64_t prefer =
            strcmp(config_str(app_config(a), "assign.mode"), "turn") ? j->old.arm_id : 0;
        if ((t->has_x = j->old.has_features))
            memcpy(t->x, j->old.features, sizeof t->x);
        rc = live_choose(app_live(a), s, t->experiment, out->segment, t->has_x ? t->x : NULL,
                         prefer, &t->choice, err);
    }
    chatmem_turn_clear(&ct);
    app_store_release(a, s);
    return prepared(j, rc, out_job, first, err);
}

pb_status chatturn_regenerate(app *a, int64_t impression_id, const char *user_id,
                              const char *event_id, struct chatturn_out *out, char *err)
{
    chatturn_job *j;
    memset(out, 0, sizeof *out);
    pb_status rc = chatturn_prepare_regenerate(a, impression_id, user_id, event_id, &j, out, err);
    return rc == PB_OK ? run_and_wait(j, out, err) : rc;
}
