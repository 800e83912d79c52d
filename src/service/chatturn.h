/* chatturn.h — one chat turn of the service and its regeneration, over the app context. A turn
 * goes through four stages, each a function of chatturn.c, with everything it carries between
 * them in one struct (a stage only reads what earlier stages wrote):
 *   1. validate and classify: the input checked, the provider present, the conversation id
 *      given or made, the message's emotions and the live segment they map to;
 *   2. choose and build: consent, the conversation's owner and sticky arm, the history (store
 *      or memory), the feature vector, the arm (assign.mode), the messages for the LLM;
 *   3. wait for the provider: the call submitted to the provider loop (llm/llmloop.h), which
 *      streams deltas and finishes on its own thread;
 *   4. record: consent, conversation, impression (its id reserved in stage 2) and consented
 *      messages stored in one savepoint of the writer's next batch (writer_submit_call); once
 *      committed the turn is remembered for regenerate, the pull counted, the reply handed over.
 * Stages 1-2 run on the caller's thread (chatturn_prepare) — or, with a remote emotion
 * classifier, stage 1's classification waits on the classifier's event loop and stage 2 runs
 * from its answer (chatturn_prepare_async); 3-4 run with no thread, store
 * handle or lock held while they wait (chatturn_submit): the provider loop and then the writer
 * move the turn on, and the sink hears the end exactly once. A failure or a cancel before the
 * record stores nothing. Regeneration replays stages 2-4 for a turn still in memory (chatmem),
 * with the old answer's regenerate reward stored in the same savepoint as the new record.
 * No HTTP, no JSON parsing of requests, no SQL: it calls app, live, writer, chatmem, llm and
 * the store family. */
#ifndef CHATTURN_H
#define CHATTURN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/pb.h"
#include "emotion/emotion.h"
#include "service/app.h"
#include "service/pipeline.h"

struct chatturn_in {
    const char *user_id;         /* required */
    const char *conversation_id; /* NULL: a new conversation with a generated id */
    const char *message;         /* required, UTF-8, chat.max_message_chars at most */
    const char *experiment;      /* NULL: "default" */
    int consent;                 /* -1: keep the user's stored consent; 0 or 1: set it */
    /* Turns whose client keeps the history (the OpenAI-compatible endpoint, oaiapi.h); all
     * zero for /v1/chat. */
    const json_t *history;    /* non-NULL: the earlier [{role, content}] (user and assistant
                               * only) sent to the LLM instead of the stored history */
    const char *system_extra; /* non-NULL: appended to the arm's prompt in the system message */
    const char *model;        /* the upstream model; NULL: llm.model */
    int plain_message;        /* 1: the message goes out as sent, without " ;; emotion" */
    int has_temperature;      /* 1: temperature below replaces llm.temperature */
    double temperature;
    int max_tokens; /* > 0: replaces llm.max_tokens */
};

struct chatturn_out {
    char *reply; /* owned; chatturn_out_clear frees */
    struct emotion_result emotions[EMOTION_MAX_K];
    size_t n_emotions;
    char arm[17];
    int64_t arm_id, impression_id;
    char segment[32]; /* segmap.h: the live segment that served the turn */
    char conversation_id[PIPELINE_ID_MAX + 1];
    char finish_reason[32]; /* the provider's, once answered */
    long prompt_tokens, completion_tokens;
    int upstream_status; /* a failed turn: the provider's HTTP status (0: none, e.g. timeout) */
};
void chatturn_out_clear(struct chatturn_out *out);

/* The emotions of out as the API shows them: [{label, name, score}], best first (new array). */
json_t *chatturn_emotions_json(const struct chatturn_out *out);

typedef struct chatturn_job chatturn_job; /* a turn between its stages */

/* Where a submitted turn reports. Both callbacks run on the provider loop's or the writer's
 * thread and must not block. */
struct chatturn_sink {
    /* Streaming turns: each text delta of the answer, in order (not NUL-terminated). */
    void (*on_delta)(const char *text, size_t len, void *ud);
    /* Exactly once per submitted job: PB_OK once the turn is stored (out complete, its reply
     * may be taken: set out->reply to NULL), else why it failed (nothing stored; err says why,
     * retry_after_s is the provider's Retry-After or 0). out is valid during the call only. */
    void (*on_done)(pb_status rc, struct chatturn_out *out, const char *err, double retry_after_s,
                    void *ud);
    void *ud;
};

/* Stages 1-2 of a new turn on the caller's thread; errors as chatturn_run's, nothing started
 * and nothing stored. On PB_OK *job is ready for chatturn_submit (or chatturn_job_free) and
 * *first holds what is known before the answer: emotions, segment, arm, conversation id and
 * the impression id the turn will be stored under (first may be NULL; it owns no reply). */
pb_status chatturn_prepare(app *a, const struct chatturn_in *in, chatturn_job **job,
                           struct chatturn_out *first, char *err);
/* The end of chatturn_prepare_async: rc PB_OK with the job and *first as chatturn_prepare
 * gives them, else why it failed (job NULL, first NULL, nothing prepared). */
typedef void chatturn_prepared_fn(pb_status rc, chatturn_job *job, const struct chatturn_out *first,
                                  const char *err, void *ud);
/* chatturn_prepare for a remote emotion classifier without a waiting thread: the input is
 * checked now (its errors are returned and cb is never called), the message is classified on
 * the classifier's event loop, and stage 2 runs from its answer on that loop's thread (a store
 * handle taken briefly there); cb then gets the result. With a local classifier cb runs before
 * this returns. PB_ERR_LIMIT when the classifier's queue is full. The strings of in are
 * copied. */
pb_status chatturn_prepare_async(app *a, const struct chatturn_in *in, chatturn_prepared_fn *cb,
                                 void *ud, char *err);
/* The same for regenerating impression_id (errors as chatturn_regenerate's). */
pb_status chatturn_prepare_regenerate(app *a, int64_t impression_id, const char *user_id,
                                      const char *event_id, chatturn_job **job,
                                      struct chatturn_out *first, char *err);
/* Stages 3-4: submits the provider call (stream = 1: deltas go to sink->on_delta) bounded by
 * deadline (monotonic, pb_now_monotonic() scale). The job belongs to the turn from here: on
 * PB_OK the sink hears its end once; on an error it is freed and the sink is never called:
 * PB_ERR_LIMIT when the provider queue is full (answer 503 with *retry_after_s), or
 * PB_ERR_UNAVAILABLE when the service is stopping. */
pb_status chatturn_submit(chatturn_job *job, double deadline, int stream,
                          const struct chatturn_sink *sink, double *retry_after_s, char *err);
/* The client went away or the request timed out: the provider call is dropped and the turn
 * ends without being stored (unless its record was already on its way to the writer). Only
 * while the sink's on_done has not been called. */
void chatturn_cancel(chatturn_job *job);
/* Frees a prepared job that was never submitted. NULL is allowed. */
void chatturn_job_free(chatturn_job *job);

/* One chat turn, blocking the calling thread (tests and tools; the HTTP handlers use the
 * prepare/submit pair). Errors: PB_ERR_INVALID (input), PB_ERR_FORBIDDEN (another user's
 * conversation), PB_ERR_UNAVAILABLE (no provider: nothing stored), PB_ERR_PROVIDER /
 * PB_ERR_TIMEOUT / PB_ERR_LIMIT from the LLM (nothing stored for the turn), PB_ERR_DB. */
pb_status chatturn_run(app *a, const struct chatturn_in *in, struct chatturn_out *out, char *err);

/* A fresh answer for the turn of impression_id (which must still be in memory: chatmem) and
 * the rewards.regenerate reward for the old one (source "regenerate", event_id may be NULL).
 * PB_ERR_NOT_FOUND (unknown impression), PB_ERR_FORBIDDEN (another user's), PB_ERR_CONFLICT
 * (the turn is no longer in memory, or was already regenerated). */
pb_status chatturn_regenerate(app *a, int64_t impression_id, const char *user_id,
                              const char *event_id, struct chatturn_out *out, char *err);

#endif
