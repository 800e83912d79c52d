/* feedback.h — the records the service writes as they arrive: users and consent,
 * conversations with their sticky arm, new impressions (an arm shown; their ids reserved in
 * blocks so that one handed out before its row exists is never handed out twice) and rewards
 * (idempotent by event id, one per source and impression), one at a time, batched, or inside
 * the group-commit writer's transaction (the _tx forms); consented messages, erasure and
 * retention; and the per-arm aggregates the bandit is built from. What later happens to a
 * stored impression (activation, discard, the reward-wait sweep) and the walks that need an
 * impression's segment, features or propensity live in impressions.h. Part of the store family
 * (speaks SQL through stmt.h). Every write acknowledged with PB_OK is committed (a _tx form's
 * when the caller's transaction commits). It must not choose arms or compute rewards. */
#ifndef FEEDBACK_H
#define FEEDBACK_H

#include <stddef.h>
#include <stdint.h>

#include "base/pb.h"
#include "store/store.h"

/* Creates the user if absent and sets consent (non-zero = 1). */
pb_status feedback_set_consent(store *s, const char *user_id, int consent, char *err);
/* *consent = 1 or 0; 0 for an unknown user. */
pb_status feedback_get_consent(store *s, const char *user_id, int *consent, char *err);

struct feedback_erase_counts {
    int64_t messages, conversations, impressions, rewards;
};
/* Erases everything stored about a user in one transaction: messages and conversations are
 * deleted, impressions lose their user and conversation links, rewards lose their detail, the
 * user row goes. Reward values stay as anonymous statistics. An unknown user erases nothing.
 * The rows are overwritten in the file (secure_delete); copies in the WAL stay until
 * store_checkpoint completes. */
pb_status feedback_erase_user(store *s, const char *user_id, struct feedback_erase_counts *counts,
                              char *err);
/* The same inside a transaction the caller opened (the group-commit writer's batch). */
pb_status feedback_erase_user_tx(store *s, const char *user_id,
                                 struct feedback_erase_counts *counts, char *err);

/* The conversation's sticky arm: an existing conversation returns its arm (*created = 0); a
 * new one is stored with arm_id (*created = 1). user_id may be NULL, else its row is created if
 * absent; a conversation of another user is PB_ERR_FORBIDDEN. created may be NULL. */
pb_status feedback_open_conversation(store *s, const char *conversation_id, const char *user_id,
                                     int64_t experiment_id, int64_t arm_id, const char *segment,
                                     int64_t *sticky_arm_id, int *created, char *err);
/* The conversation's owner (user id, "" when none; cut to owner_len) and sticky arm. Returns
 * 1 found, 0 absent, or a negative pb_status. Unlike feedback_open_conversation it creates
 * nothing (a failed turn stores nothing). */
/* The same inside a transaction the caller opened (the writer's batch). */
pb_status feedback_open_conversation_tx(store *s, const char *conversation_id, const char *user_id,
                                        int64_t experiment_id, int64_t arm_id, const char *segment,
                                        int64_t *sticky_arm_id, int *created, char *err);
int feedback_get_conversation(store *s, const char *conversation_id, char *owner, size_t owner_len,
                              int64_t *arm_id, char *err);

struct feedback_impression {
    int64_t id; /* 0: the store reserves one; else an id from feedback_reserve_impression_ids */
    int64_t experiment_id, arm_id;
    const char *user_id;         /* may be NULL; created (consent 0) if absent */
    const char *conversation_id; /* may be NULL; must exist otherwise */
    const char *segment;         /* may be NULL */
    const char *context_json;    /* may be NULL; must be JSON otherwise */
    double propensity;           /* 0 = unknown (stored as NULL); else in (0, 1] */
    int activated;               /* 1 normally; 0 = chosen but not shown */
    int context_checked;         /* 1: the caller built context_json as JSON itself (the
                                    service's choose), so the check does not parse it again */
};
/* Impression ids are reserved in blocks before they are handed out (table id_blocks, db/004):
 * reserves count ids, [*first, *first + count), past every earlier reservation by any process
 * and every stored impression. Durable once the caller's transaction commits (or at once in
 * autocommit mode); only then may the ids be told to anyone. count 0 reserves nothing but
 * writes the row (a cheap probe that the database takes writes). */
pb_status feedback_reserve_impression_ids(store *s, int64_t count, int64_t *first, char *err);
/* Gives back the unused tail [first, end) of the newest reservation, when no one reserved
 * after it (*returned = 1, may be NULL); otherwise leaves it (the ids are skipped). */
pb_status feedback_return_impression_ids(store *s, int64_t first, int64_t end, int *returned,
                                         char *err);

/* The checks that need no database (JSON, propensity, activated, user id): PB_ERR_INVALID. */
pb_status feedback_impression_check(const struct feedback_impression *imp, char *err);
/* Stores an impression; *id gets its id (imp->id when set). The arm must belong to the
 * experiment (PB_ERR_INVALID), the experiment must exist (PB_ERR_NOT_FOUND); an id already
 * stored is PB_ERR_CONFLICT. */
pb_status feedback_insert_impression(store *s, const struct feedback_impression *imp, int64_t *id,
                                     char *err);
/* The same inside a transaction the caller opened, without feedback_impression_check. */
pb_status feedback_insert_impression_tx(store *s, const struct feedback_impression *imp,
                                        int64_t *id, char *err);
/* What a run of inserts in one transaction has already checked, so that a batch of many
 * impressions of the same arm and user (the writer's write-behind choices) runs one statement
 * each instead of three. Valid for one transaction only: start it zeroed after BEGIN. */
struct feedback_memo {
    int64_t experiment_id, arm_id; /* last pair found to belong together; 0 = none */
    char user_id[257];             /* last user ensured; "" = none */
};
/* Stores the user (without consent) when absent; a user that exists is left as it is. */
pb_status feedback_ensure_user(store *s, const char *user_id, char *err);
/* feedback_insert_impression_tx with a memo (NULL: check everything). */
pb_status feedback_insert_impression_memo_tx(store *s, const struct feedback_impression *imp,
                                             struct feedback_memo *memo, int64_t *id, char *err);
/* Stores n impressions in one transaction, all or nothing; ids[i] gets each id. The checks are
 * those of feedback_insert_impression; a failure's message names the bad index. */
pb_status feedback_insert_impressions(store *s, const struct feedback_impression *imps, size_t n,
                                      int64_t *ids, char *err);

struct feedback_reward {
    int64_t impression_id;
    const char *source;      /* click (like/dislike), regenerate, edit, judge, model, score */
    double value;            /* finite, in [-1, 1] */
    const char *event_id;    /* may be NULL; a retry with the same id is a no-op */
    const char *detail_json; /* may be NULL */
    const char *origin;      /* may be NULL; the writing replica's id (rewards.origin, db/009) */
};

/* Stores a reward; *id gets its id, *duplicate = 1 when this event id was already stored for
 * the same impression and source (nothing new written). Errors: PB_ERR_INVALID (value, source,
 * detail), PB_ERR_NOT_FOUND (impression), PB_ERR_CONFLICT (the source already rewarded this
 * impression, or the event id belongs to another impression or source). */
pb_status feedback_insert_reward(store *s, const struct feedback_reward *r, int64_t *id,
                                 int *duplicate, char *err);
/* The same inside a transaction the caller opened (every argument required). */
pb_status feedback_insert_reward_tx(store *s, const struct feedback_reward *r, int64_t *id,
                                    int *duplicate, char *err);
/* The checks that need no database (value, source, event id, detail): PB_ERR_INVALID. */
pb_status feedback_reward_check(const struct feedback_reward *r, char *err);
/* Stores n rewards in one transaction, all or nothing; ids and duplicates (either may be NULL)
 * get one entry per reward. A failure's message names the index of the bad reward. */
pb_status feedback_insert_rewards(store *s, const struct feedback_reward *r, size_t n, int64_t *ids,
                                  int *duplicates, char *err);

struct feedback_reward_row {
    int64_t reward_id, impression_id, arm_id;
    size_t arm_index; /* index into arms_list(experiment, include_retired = true) */
    const char *source;
    double value;
    double created_at;
};
/* Calls fn for every reward of the experiment in insertion order. Returns PB_OK after the last
 * row, a negative pb_status, or the first non-zero value fn returned (which stops the walk).
 * Row strings are valid during the call only. */
int feedback_reward_foreach(store *s, int64_t experiment_id,
                            int (*fn)(void *ctx, const struct feedback_reward_row *row), void *ctx,
                            char *err);

struct feedback_arm_stats {
    int64_t arm_id;
    int64_t impressions; /* activated impressions */
    int64_t n;           /* rewards */
    double sum, sum_sq;
    /* Clusters are conversations (an impression without one is its own cluster). For a
     * cluster-robust variance: sums over clusters of S_c^2, n_c*S_c and n_c^2, where S_c is
     * the cluster's reward sum and n_c its reward count. */
    int64_t clusters;
    double cluster_sum_sq, cluster_n_sum, cluster_n_sq;
};
/* One entry per arm of arms_list(experiment, include_retired = true), same order. Caller frees
 * *out with free(). */
pb_status feedback_arm_stats(store *s, int64_t experiment_id, struct feedback_arm_stats **out,
                             size_t *n, char *err);

/* Stores a message only when the conversation's user consented; *id = 0 otherwise (not an
 * error). role: system, user or assistant; content must be UTF-8. impression_id 0 = none. */
pb_status feedback_insert_message(store *s, const char *conversation_id, int64_t impression_id,
                                  const char *role, const char *content, int64_t *id, char *err);

struct feedback_message {
    char role[10];
    char *content;
    double created_at;
};
void feedback_message_list_free(struct feedback_message *list, size_t n);
/* The last max messages of a conversation, oldest first (*out NULL when there are none).
 * Caller frees with feedback_message_list_free. */
pb_status feedback_last_messages(store *s, const char *conversation_id, size_t max,
                                 struct feedback_message **out, size_t *n, char *err);
/* Deletes messages created before the Unix time `before`; *deleted may be NULL. */
pb_status feedback_purge_messages(store *s, double before, int64_t *deleted, char *err);

#endif
