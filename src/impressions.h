/* impressions.h — the service's extra queries on impressions and rewards: look an impression
 * up (owner, arm, segment) for feedback checks, walk an experiment's rewards with the segment
 * of their impression (to rebuild per-segment bandits), and insert many impressions in one
 * transaction (group commit). Part of the store family (speaks SQL through store.h's
 * statement cache). It must not choose arms or compute rewards. */
#ifndef IMPRESSIONS_H
#define IMPRESSIONS_H

#include <stddef.h>
#include <stdint.h>

#include "feedback.h"
#include "pb.h"
#include "store.h"

struct impressions_info {
    int64_t id, experiment_id, arm_id;
    char arm_name[17];
    char user_id[260];         /* "" when none (or erased) */
    char conversation_id[260]; /* "" when none (or erased) */
    char segment[32];          /* "" when none */
    int activated;
    double created_at;
};

/* Reads impression id (with its arm's name) into *out; PB_ERR_NOT_FOUND when there is none. */
int impressions_get(store *s, int64_t id, struct impressions_info *out, char *err);

/* The conversation's owner (user id, "" when none) and sticky arm: 1 found, 0 absent, <0
 * error. Unlike feedback_open_conversation it creates nothing (a failed turn stores nothing). */
int impressions_conversation_get(store *s, const char *conversation_id, char *owner,
                                 size_t owner_len, int64_t *arm_id, char *err);

struct impressions_reward_row {
    int64_t reward_id, impression_id, arm_id;
    const char *segment; /* NULL when the impression has none */
    double value;
};

/* Calls fn for every reward of the experiment in reward-id order with its impression's arm
 * and segment; a non-zero return from fn stops the walk and is returned. */
int impressions_reward_foreach(store *s, int64_t experiment_id,
                               int (*fn)(void *ctx, const struct impressions_reward_row *row),
                               void *ctx, char *err);

/* Stores n impressions in one transaction, all or nothing; ids[i] gets each id. Users named
 * by user_id are created (consent 0) if absent. A failure's message names the bad index. */
int impressions_insert_batch(store *s, const struct feedback_impression *imps, size_t n,
                             int64_t *ids, char *err);

#endif
