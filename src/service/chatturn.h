/* chatturn.h — one chat turn of the service and its regeneration, over the app context. A turn
 * goes through four stages, each a function of chatturn.c, with everything it carries between
 * them in one struct (a stage only reads what earlier stages wrote):
 *   1. validate and classify: the input checked, the provider present, the conversation id
 *      given or made, the message's emotions and the live segment they map to;
 *   2. choose and build: consent, the conversation's owner and sticky arm, the history (store
 *      or memory), the feature vector, the arm (assign.mode), the messages for the LLM;
 *   3. wait for the provider: the LLM call (with retries, llm.h), counted;
 *   4. record: consent, conversation, impression (group commit) and consented messages stored,
 *      the turn remembered for regenerate, the pull counted, the reply handed over.
 * A failure in stages 1-3 stores nothing. Regeneration replays stages 2-4 for a turn still in
 * memory (chatmem), with the old answer's regenerate reward (reward.h) before the record.
 * No HTTP, no JSON parsing of requests, no SQL: it calls app, live, writer, chatmem, llm and
 * the store family. */
#ifndef CHATTURN_H
#define CHATTURN_H

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
};

struct chatturn_out {
    char *reply; /* owned; chatturn_out_clear frees */
    struct emotion_result emotions[EMOTION_MAX_K];
    size_t n_emotions;
    char arm[17];
    int64_t arm_id, impression_id;
    char segment[32]; /* segmap.h: the live segment that served the turn */
    char conversation_id[PIPELINE_ID_MAX + 1];
};
void chatturn_out_clear(struct chatturn_out *out);

/* One chat turn. Errors: PB_ERR_INVALID (input), PB_ERR_FORBIDDEN (another user's
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
