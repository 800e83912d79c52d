/* dashq.h — the reads the dashboard and the chat history need and nothing else writes: the
 * rewards and impressions of an experiment after a given id (so a cache reads only what is
 * new), an example answer per arm and reward level (a reward back to its turn: the user's
 * message, the stored answer, the emotions), a run's steps without their texts, its cost and
 * its best / worst / median step, and a user's stored conversations with their turns. Part of
 * the store family (speaks SQL through stmt.h). It must not write, and returns message text
 * only where consent stored it (the messages table holds nothing else). */
#ifndef DASHQ_H
#define DASHQ_H

#include <stddef.h>
#include <stdint.h>

#include "base/pb.h"
#include "store/store.h"

struct dashq_reward {
    int64_t reward_id, impression_id, arm_id;
    const char *source; /* valid during the call only */
    double value, created_at;
    int has_answer; /* the impression has a stored (consented) answer */
};
/* Calls fn for every reward of the experiment with an id above after_id, in id order. Returns
 * PB_OK after the last, a negative pb_status, or the first non-zero value of fn (which stops
 * the walk). Reads only the rows after after_id. */
int dashq_rewards_after(store *s, int64_t experiment_id, int64_t after_id,
                        int (*fn)(void *ctx, const struct dashq_reward *row), void *ctx, char *err);

struct dashq_impression {
    int64_t impression_id, arm_id;
    double created_at;
};
/* The same walk over the experiment's impressions (activated or not) after after_id. */
int dashq_impressions_after(store *s, int64_t experiment_id, int64_t after_id,
                            int (*fn)(void *ctx, const struct dashq_impression *row), void *ctx,
                            char *err);

/* One rated answer, with what the user wrote before it. Strings are owned (NULL when absent);
 * clear with dashq_example_clear. */
struct dashq_example {
    int64_t reward_id, impression_id;
    double value, created_at;
    char source[33];
    char segment[32];
    char *context_json; /* the impression's context: emotions, assignment */
    char *detail_json;  /* the reward's detail (a judge's reason, an edit's similarity) */
    char *user_text;    /* the user's message as stored (what the LLM saw) */
    char *answer;
    char *reason; /* a run step's judge reason (dashq_run_example); NULL otherwise */
};
void dashq_example_clear(struct dashq_example *e);

/* The newest reward of arm_id in the experiment with a value in [lo, hi] and an id at most
 * max_reward_id whose impression has a stored answer. Returns 1 found, 0 none, or a negative
 * pb_status. Walks back from max_reward_id, so it is immediate when that reward qualifies. */
int dashq_example_find(store *s, int64_t experiment_id, int64_t arm_id, double lo, double hi,
                       int64_t max_reward_id, struct dashq_example *out, char *err);

/* The turn an impression answered: the stored answer and the user's message before it (NULL
 * when nothing was stored: no consent), the impression's context and segment; value, source
 * and reward_id stay 0 / "". Returns 1, 0 when there is no such impression, or a negative
 * pb_status. */
int dashq_turn_of(store *s, int64_t impression_id, struct dashq_example *out, char *err);

/* ---- offline runs ---- */

struct dashq_step {
    int64_t iteration, arm_id; /* arm_id 0 = none */
    const char *status;        /* ok, failed or pending; valid during the call only */
    int has_score;
    double score, cost, created_at;
    int64_t tokens, calls;
};
/* Calls fn for each step of the run in iteration order, without texts. Returns like
 * dashq_rewards_after. */
int dashq_run_steps(store *s, int64_t run_id, int (*fn)(void *ctx, const struct dashq_step *st),
                    void *ctx, char *err);

struct dashq_run_cost {
    double usd;
    int64_t tokens, calls;
};
pb_status dashq_run_cost(store *s, int64_t run_id, struct dashq_run_cost *out, char *err);

/* How many ok, scored steps of arm_id the run has. */
pb_status dashq_run_rated(store *s, int64_t run_id, int64_t arm_id, int64_t *n, char *err);

/* The ok, scored step of arm_id in the run at rank `rank` when ordered by score then iteration
 * (0 = the worst). Fills out as an example (value = score, user_text = the scenario, segment =
 * its emotion, source "judge", reward_id = the iteration). Returns 1, 0 none, or a negative
 * pb_status. */
int dashq_run_example(store *s, int64_t run_id, int64_t arm_id, int64_t rank,
                      struct dashq_example *out, char *err);

/* ---- a user's stored conversations ---- */

struct dashq_conversation {
    char id[65];
    double created_at, last_at;
    int64_t answers;  /* stored assistant messages */
    char *first_text; /* the first stored user message; owned */
};
void dashq_conversation_list_free(struct dashq_conversation *list, size_t n);
/* The user's conversations with stored messages, the most recent first, at most limit. Caller
 * frees with dashq_conversation_list_free. */
pb_status dashq_conversations(store *s, const char *user_key, size_t limit,
                              struct dashq_conversation **out, size_t *n, char *err);

struct dashq_message {
    int64_t id, impression_id; /* impression_id 0 = none */
    char role[10];
    char arm[33];
    double created_at;
    char *content;      /* owned */
    char *context_json; /* the impression's context; owned, may be NULL */
};
void dashq_message_list_free(struct dashq_message *list, size_t n);
/* The last `limit` stored messages of a conversation, oldest first, with their impression's
 * arm and context. Caller frees with dashq_message_list_free. */
pb_status dashq_conversation_messages(store *s, const char *conversation_id, size_t limit,
                                      struct dashq_message **out, size_t *n, char *err);

struct dashq_turn_reward {
    int64_t impression_id;
    char source[33];
    double value;
};
/* Every reward given to the conversation's impressions. Caller frees *out with free(). */
pb_status dashq_conversation_rewards(store *s, const char *conversation_id,
                                     struct dashq_turn_reward **out, size_t *n, char *err);

#endif
