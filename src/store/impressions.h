/* impressions.h — a stored impression afterwards: look it up (owner, arm, segment, features)
 * for feedback checks, activate or discard it, give the reward-wait default to those that got
 * no reward; and the walks that read rewards together with their impression's context
 * (segment and features to rebuild per-segment and contextual bandits, propensity for replay
 * and IPS). Writing new impressions and rewards, users, conversations and the per-arm
 * aggregates live in feedback.h. Part of the store family (speaks SQL through stmt.h). It
 * must not choose arms or compute rewards. */
#ifndef IMPRESSIONS_H
#define IMPRESSIONS_H

#include <stddef.h>
#include <stdint.h>

#include "bandit/featvec.h"
#include "base/pb.h"
#include "store/store.h"

struct impressions_info {
    int64_t id, experiment_id, arm_id;
    char arm_name[17];
    char user_id[260];         /* "" when none (or erased) */
    char conversation_id[260]; /* "" when none (or erased) */
    char segment[32];          /* "" when none */
    int activated;
    int defaulted;    /* the reward wait passed: it holds a "default" reward */
    int has_features; /* its context JSON holds "features" (bandit/featvec.h) */
    double features[FEATVEC_DIM];
    double created_at;
};

/* Reads impression id (with its arm's name) into *out; PB_ERR_NOT_FOUND when there is none. */
pb_status impressions_get(store *s, int64_t id, struct impressions_info *out, char *err);

struct impressions_reward_row {
    int64_t reward_id, impression_id, arm_id;
    const char *segment;    /* NULL when the impression has none */
    const double *features; /* NULL when its context has none (bandit/featvec.h) */
    double value;
};

/* Calls fn for every reward of the experiment's activated impressions in reward-id order with
 * its impression's arm, segment and features. Returns PB_OK after the last row, a negative
 * pb_status, or the first non-zero value fn returned (which stops the walk). */
int impressions_reward_foreach(store *s, int64_t experiment_id,
                               int (*fn)(void *ctx, const struct impressions_reward_row *row),
                               void *ctx, char *err);

/* Activates impression id (a choose with "activate": false): sets activated and its time.
 * *changed = 0 when it was already active (idempotent). PB_ERR_NOT_FOUND when absent. */
pb_status impressions_activate(store *s, int64_t id, int *changed, char *err);

/* Deletes impression id, which was never activated (so no reward or message refers to it).
 * PB_ERR_CONFLICT when it is activated; PB_ERR_NOT_FOUND when absent. */
pb_status impressions_discard(store *s, int64_t id, char *err);

struct impressions_default_row {
    int64_t reward_id, experiment_id, arm_id;
    const char *segment;    /* NULL when the impression has none */
    const double *features; /* NULL when its context has none (bandit/featvec.h) */
    double value;
};
/* The reward wait sweep, in one transaction: every activated impression activated before
 * the Unix time `before` that has no reward of any source gets a reward of source "default"
 * and the given value (idempotent: at most one per impression). fn (may be NULL) is called
 * for each new reward after the commit; *n (may be NULL) gets how many were given. */
pb_status impressions_default_rewards(store *s, double before, double value,
                                      void (*fn)(void *ctx,
                                                 const struct impressions_default_row *row),
                                      void *ctx, int64_t *n, char *err);

struct impressions_event {
    int64_t impression_id, experiment_id;
    const char *arm;     /* the arm's name */
    const char *segment; /* NULL when the impression has none */
    const char *context; /* JSON text or NULL */
    double reward;       /* mean of the impression's rewards (every source) */
    int64_t n_rewards;
    double propensity; /* 0 when unknown */
    double created_at;
};
/* Calls fn for every activated impression with at least one reward, of experiment_id (0 =
 * every experiment), in impression order: the logged decisions replay and IPS read. Returns
 * PB_OK after the last row, a negative pb_status, or the first non-zero value fn returned
 * (which stops the walk). Row strings live during the call. */
int impressions_event_foreach(store *s, int64_t experiment_id,
                              int (*fn)(void *ctx, const struct impressions_event *ev), void *ctx,
                              char *err);

#endif
