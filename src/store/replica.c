/* replica.c — the poll of rewards and events, the settled floor, users' sticky arms and job
 * claims that replicas on one database share (db/009). */
#include "store/replica.h"

#include "store/stmt.h"

#include <string.h>

static const char *SQL_REWARDS_AFTER =
    "SELECT r.id, i.experiment_id, i.arm_id, r.origin, i.segment, i.context, r.value, "
    "r.created_at, i.activated FROM rewards r JOIN impressions i ON i.id = r.impression_id "
    "WHERE r.id > ?1 AND r.id <= ?2 ORDER BY r.id LIMIT ?3";
static const char *SQL_REWARD_FLOOR =
    "SELECT coalesce(max(id), 0) FROM rewards WHERE created_at < ?1";
static const char *SQL_EVENT_ADD = "INSERT INTO replica_events (kind, subject, origin, created_at) "
                                   "VALUES (?1, ?2, ?3, ?4)";
static const char *SQL_EVENT_LAST = "SELECT coalesce(max(id), 0) FROM replica_events WHERE id > ?1";
static const char *SQL_EVENTS_AFTER =
    "SELECT id, kind, subject, origin, created_at FROM replica_events WHERE id > ?1 "
    "ORDER BY id LIMIT ?2";
static const char *SQL_EVENTS_PURGE = "DELETE FROM replica_events WHERE created_at < ?1";
static const char *SQL_USER_ARM_GET =
    "SELECT arm_id FROM user_arms WHERE user_id = ?1 AND experiment_id = ?2 AND expires_at > ?3";
static const char *SQL_USER_ARM_PUT =
    "INSERT INTO user_arms (user_id, experiment_id, arm_id, expires_at) VALUES (?1, ?2, ?3, ?5) "
    "ON CONFLICT (user_id, experiment_id) DO UPDATE SET arm_id = excluded.arm_id, "
    "expires_at = excluded.expires_at WHERE user_arms.expires_at <= ?4";
static const char *SQL_JOB_CLAIM =
    "INSERT INTO job_runs (name, last_run_at, origin) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (name) DO UPDATE SET last_run_at = excluded.last_run_at, "
    "origin = excluded.origin WHERE job_runs.last_run_at <= ?4 RETURNING name";

int replica_rewards_after(store *s, int64_t after, int64_t upto, int limit,
                          int (*fn)(void *ctx, const struct replica_reward_row *row), void *ctx,
                          char *err)
{
    store_stmt *st = NULL;
    int row = 0, rc = stmt_prepare(s, SQL_REWARDS_AFTER, &st, err, STMT_INT(after), STMT_INT(upto),
                                   STMT_INT(limit > 0 ? limit : 1));
    while (rc == 0 && (row = stmt_step(s, st, "polling rewards", err)) == 1) {
        struct replica_reward_row r = {
            .reward_id = store_col_int(st, 0),
            .experiment_id = store_col_int(st, 1),
            .arm_id = store_col_int(st, 2),
            .origin = store_col_text(st, 3),
            .segment = store_col_text(st, 4),
            .context = store_col_text(st, 5),
            .value = store_col_real(st, 6),
            .created_at = store_col_real(st, 7),
            .activated = (int)store_col_int(st, 8),
        };
        rc = fn(ctx, &r);
    }
    store_reset(st);
    return row < 0 ? row : rc;
}

/* The first column of a one-row statement as an integer. */
static pb_status read_int(store *s, const char *sql, const struct stmt_arg *args, const char *what,
                          int64_t *out, char *err)
{
    store_stmt *st;
    int row = stmt_first_argv(s, sql, args, &st, what, err);
    if (row < 0)
        return row;
    *out = row ? store_col_int(st, 0) : 0;
    if (row)
        store_reset(st);
    return PB_OK;
}

pb_status replica_reward_floor(store *s, double before, int64_t *floor, char *err)
{
    return read_int(s, SQL_REWARD_FLOOR, STMT_ARGV(STMT_REAL(before)), "reading settled rewards",
                    floor, err);
}

pb_status replica_event_add(store *s, const char *kind, const char *subject, const char *origin,
                            char *err)
{
    return stmt_exec(s, SQL_EVENT_ADD, "logging a replica event", err, STMT_TEXT(kind),
                     STMT_TEXT(subject), STMT_TEXT(origin), STMT_REAL(store_now()));
}

pb_status replica_event_last(store *s, int64_t *id, char *err)
{
    return read_int(s, SQL_EVENT_LAST, STMT_ARGV(STMT_INT(0)), "reading replica events", id, err);
}

int replica_events_after(store *s, int64_t after, int limit,
                         int (*fn)(void *ctx, const struct replica_event *ev), void *ctx, char *err)
{
    store_stmt *st = NULL;
    int row = 0, rc = stmt_prepare(s, SQL_EVENTS_AFTER, &st, err, STMT_INT(after),
                                   STMT_INT(limit > 0 ? limit : 1));
    while (rc == 0 && (row = stmt_step(s, st, "polling replica events", err)) == 1) {
        struct replica_event ev = {
            .id = store_col_int(st, 0),
            .kind = store_col_text(st, 1),
            .subject = store_col_text(st, 2),
            .origin = store_col_text(st, 3),
            .created_at = store_col_real(st, 4),
        };
        rc = fn(ctx, &ev);
    }
    store_reset(st);
    return row < 0 ? row : rc;
}

pb_status replica_events_purge(store *s, double before, int64_t *deleted, char *err)
{
    pb_status rc = stmt_exec(s, SQL_EVENTS_PURGE, "purging replica events", err, STMT_REAL(before));
    if (rc == PB_OK && deleted)
        *deleted = store_changes(s);
    return rc;
}

int replica_user_arm_get(store *s, const char *user_id, int64_t experiment_id, double now,
                         int64_t *arm_id, char *err)
{
    store_stmt *st;
    int row = stmt_first(s, SQL_USER_ARM_GET, &st, "reading a user's arm", err, STMT_TEXT(user_id),
                         STMT_INT(experiment_id), STMT_REAL(now));
    if (row == 1) {
        *arm_id = store_col_int(st, 0);
        store_reset(st);
    }
    return row;
}

pb_status replica_user_arm_put(store *s, const char *user_id, int64_t experiment_id, int64_t arm_id,
                               double now, double expires_at, int64_t *kept, char *err)
{
    pb_status rc =
        stmt_exec(s, SQL_USER_ARM_PUT, "storing a user's arm", err, STMT_TEXT(user_id),
                  STMT_INT(experiment_id), STMT_INT(arm_id), STMT_REAL(now), STMT_REAL(expires_at));
    if (rc != PB_OK)
        return rc;
    int row = replica_user_arm_get(s, user_id, experiment_id, now, kept, err);
    if (row == 0)
        *kept = arm_id; /* expires_at <= now: nothing to keep */
    return row < 0 ? row : PB_OK;
}

pb_status replica_job_claim(store *s, const char *name, double now, double interval_s,
                            const char *origin, int *claimed, char *err)
{
    store_stmt *st;
    int row = stmt_first(s, SQL_JOB_CLAIM, &st, "claiming a background job", err, STMT_TEXT(name),
                         STMT_REAL(now), STMT_TEXT(origin), STMT_REAL(now - interval_s));
    if (row < 0)
        return row;
    if (row == 1) {
        /* RETURNING: the statement is done only when stepped to its end. */
        while (store_step(st) == 1) {
        }
        store_reset(st);
    }
    *claimed = row;
    return PB_OK;
}
