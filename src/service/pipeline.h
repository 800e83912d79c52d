/* pipeline.h — the service's business steps, each a function of the app context: one chat
 * turn (classify -> choose arm -> messages -> LLM -> record), regenerate, feedback -> reward,
 * choose for clients with their own LLM, and erasure. Validation of values lives here so
 * every front end (HTTP, tests) gets the same answers. No HTTP, no JSON parsing of requests,
 * no SQL: it calls app, live, writer, chatmem and the store family. */
#ifndef PIPELINE_H
#define PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "service/app.h"
#include "emotion/emotion.h"
#include "store/feedback.h"
#include "base/pb.h"

#define PIPELINE_ID_MAX 128

/* True when s is 1..PIPELINE_ID_MAX characters of [A-Za-z0-9._:@-] (user, conversation and
 * event ids; they may appear in logs and URLs). */
int pipeline_id_valid(const char *s);

struct pipeline_chat_in {
    const char *user_id;         /* required */
    const char *conversation_id; /* NULL: a new conversation with a generated id */
    const char *message;         /* required, UTF-8, chat.max_message_chars at most */
    const char *experiment;      /* NULL: "default" */
    int consent;                 /* -1: keep the user's stored consent; 0 or 1: set it */
};

struct pipeline_chat_out {
    char *reply; /* owned; pipeline_chat_out_clear frees */
    struct emotion_result emotions[EMOTION_MAX_K];
    size_t n_emotions;
    char arm[17];
    int64_t arm_id, impression_id;
    char segment[32]; /* segmap.h: the live segment that served the turn */
    char conversation_id[PIPELINE_ID_MAX + 1];
};
void pipeline_chat_out_clear(struct pipeline_chat_out *out);

/* One chat turn. Errors: PB_ERR_INVALID (input), PB_ERR_FORBIDDEN (another user's
 * conversation), PB_ERR_UNAVAILABLE (no provider: nothing stored), PB_ERR_PROVIDER /
 * PB_ERR_TIMEOUT / PB_ERR_LIMIT from the LLM (nothing stored for the turn), PB_ERR_DB. */
int pipeline_chat(app *a, const struct pipeline_chat_in *in, struct pipeline_chat_out *out,
                  char *err);

/* A fresh answer for the turn of impression_id (which must still be in memory: chatmem) and
 * the rewards.regenerate reward for the old one (source "regenerate", event_id may be NULL).
 * PB_ERR_NOT_FOUND (unknown impression), PB_ERR_FORBIDDEN (another user's), PB_ERR_CONFLICT
 * (the turn is no longer in memory, or was already regenerated). */
int pipeline_regenerate(app *a, int64_t impression_id, const char *user_id, const char *event_id,
                        struct pipeline_chat_out *out, char *err);

struct pipeline_feedback_in {
    int64_t impression_id;
    const char *user_id; /* NULL allowed only for impressions without a user */
    const char *kind;    /* like, dislike, regenerate, edit, score */
    double value;        /* score: in [-1, 1] */
    int has_value;
    const char *final_text; /* edit: the text the user kept */
    const char *draft;      /* edit: the draft; NULL = the reply remembered for the turn */
    const char *event_id;   /* NULL: not idempotent beyond one reward per source */
};

struct pipeline_feedback_out {
    int64_t reward_id, impression_id, arm_id;
    char arm[17];
    const char *source; /* static */
    double value;
    double similarity; /* edit only; -1 otherwise */
    int duplicate;
};

/* Stores the reward (group commit) and moves the live state after the commit. Errors:
 * PB_ERR_INVALID, PB_ERR_NOT_FOUND (impression), PB_ERR_FORBIDDEN (another user's),
 * PB_ERR_CONFLICT (this source already rewarded the impression, event id reused). */
int pipeline_feedback(app *a, const struct pipeline_feedback_in *in,
                      struct pipeline_feedback_out *out, char *err);

struct pipeline_choose_in {
    const char *experiment;   /* NULL: "default" */
    const char *user_id;      /* may be NULL */
    const char *context_json; /* may be NULL; a JSON object stored with the impression */
    const char *segment;      /* may be NULL ("unknown") */
    int inactive; /* 1: "activate": false — stored not activated (not counted, no rewards) */
    /* FEATVEC_DIM features for a contextual policy (livefeat.h); NULL: bias and hour only.
     * Stored as the context's "features" either way, so the choice can be replayed. */
    const double *features;
};
struct pipeline_choose_out {
    char arm[17];
    int64_t arm_id, impression_id, experiment_id;
    char *prompt; /* owned; pipeline_choose_out_clear frees */
    double propensity;
    char segment[32]; /* the segment that served (segmap.h) */
};
void pipeline_choose_out_clear(struct pipeline_choose_out *out);

/* Chooses an arm and stores the impression (group commit). */
int pipeline_choose(app *a, const struct pipeline_choose_in *in, struct pipeline_choose_out *out,
                    char *err);

/* Activates (activate = 1) or discards (activate = 0) an impression stored by a choose with
 * "activate": false; only activated impressions count and take rewards. admin = 1: any
 * impression; else it must be user_id's, or have no user when user_id is NULL (as feedback:
 * PB_ERR_FORBIDDEN otherwise). Activating
 * twice is fine (*changed = 0); PB_ERR_NOT_FOUND (absent or discarded), PB_ERR_CONFLICT
 * (discarding an activated impression). changed may be NULL. */
int pipeline_impression_set(app *a, int64_t impression_id, const char *user_id, int admin,
                            int activate, int *changed, char *err);

/* Erases a user (feedback_erase_user) and forgets their in-memory entries. Live statistics
 * are unchanged: reward values stay as anonymous statistics. */
int pipeline_erase_user(app *a, const char *user_id, struct feedback_erase_counts *counts,
                        char *err);

#endif
