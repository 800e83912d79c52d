/* replica.h — what several `serve` processes (replicas) on one database read and write to
 * agree (db/009, docs/SERVICE.md "Replicas"): rewards after a reward id with their
 * impression's experiment, arm, segment and features (the poll), the id below which rewards
 * are settled at start-up, the replica event log (erasures and admin reloads other replicas
 * must apply to their memory), users' sticky arms under assign.mode user, and the claim that
 * lets a background job run once per interval whichever replica's timer fires. Part of the
 * store family (speaks SQL through stmt.h). It keeps no state: the watermark and the
 * deduplication are the service's (service/replica.h). It must not choose arms, compute
 * rewards or know HTTP. */
#ifndef STORE_REPLICA_H
#define STORE_REPLICA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/pb.h"
#include "store/store.h"

struct replica_reward_row {
    int64_t reward_id, experiment_id, arm_id;
    const char *origin;  /* replica id of the writer; NULL for the CLI, jobs, older rows */
    const char *segment; /* NULL when the impression has none */
    const char *context; /* the impression's context JSON (featvec_from_context), or NULL */
    double value, created_at;
    int activated; /* the impression's; the live state counts activated ones only */
};
/* Calls fn for each reward with after < id <= upto in id order, at most limit rows. Returns
 * PB_OK after the last row, a negative pb_status, or the first non-zero value fn returned. Row
 * strings live during the call. */
int replica_rewards_after(store *s, int64_t after, int64_t upto, int limit,
                          int (*fn)(void *ctx, const struct replica_reward_row *row), void *ctx,
                          char *err);

/* *floor = the highest reward id written before the Unix time `before` (0 when none): at
 * start-up every id below it is settled (committed or never will be) when `before` is older
 * than the longest a write transaction lasts. */
pb_status replica_reward_floor(store *s, double before, int64_t *floor, char *err);

/* ---- the event log (table replica_events) ---- */

/* Appends an event: kind "erase" (subject: the SHA-256 hex of the stored user key) or
 * "reload" (subject: an experiment name); origin is the writing replica's id. */
pb_status replica_event_add(store *s, const char *kind, const char *subject, const char *origin,
                            char *err);
/* *id = the highest event id (0 when none). */
pb_status replica_event_last(store *s, int64_t *id, char *err);

struct replica_event {
    int64_t id;
    const char *kind, *subject, *origin;
    double created_at;
};
/* Calls fn for each event with id > after in id order, at most limit. Return as
 * replica_rewards_after. */
int replica_events_after(store *s, int64_t after, int limit,
                         int (*fn)(void *ctx, const struct replica_event *ev), void *ctx,
                         char *err);
/* Deletes events written before the Unix time `before`; *deleted may be NULL. */
pb_status replica_events_purge(store *s, double before, int64_t *deleted, char *err);

/* ---- assign.mode user (table user_arms) ---- */

/* The arm user_id keeps in the experiment: 1 with *arm_id set when one is stored and has not
 * expired at `now`, 0 when none, or a negative pb_status. */
int replica_user_arm_get(store *s, const char *user_id, int64_t experiment_id, double now,
                         int64_t *arm_id, char *err);
/* Gives user_id arm_id in the experiment until expires_at unless an unexpired arm is stored
 * (the first replica to give one wins); *kept gets the arm the user has afterwards. The user
 * row must exist (an impression of the user creates it). Inside the caller's transaction or
 * on its own. */
pb_status replica_user_arm_put(store *s, const char *user_id, int64_t experiment_id, int64_t arm_id,
                               double now, double expires_at, int64_t *kept, char *err);

/* ---- background jobs run once (table job_runs) ---- */

/* Claims job `name` for one run at `now` when it has not run in the last interval_s seconds
 * (by any replica): *claimed = 1 and the run is recorded with origin, else *claimed = 0. One
 * statement, so two replicas claiming together get one claim. */
pb_status replica_job_claim(store *s, const char *name, double now, double interval_s,
                            const char *origin, int *claimed, char *err);

#endif
