/* impressions.c — a stored impression afterwards: look-up, activation, discard, the
 * reward-wait sweep; the reward and event walks with the impression's context. */
#include "store/impressions.h"

#include "store/stmt.h"

#include <math.h>
#include <string.h>

static const char *SQL_IMP_GET =
    "SELECT i.experiment_id, i.arm_id, i.user_id, i.conversation_id, i.segment, i.activated, "
    "i.created_at, a.name, EXISTS (SELECT 1 FROM rewards r WHERE r.impression_id = i.id AND "
    "r.source = 'default'), i.context FROM impressions i JOIN arms a ON a.id = i.arm_id "
    "WHERE i.id = ?1";
/* A reward with its impression's context, read by reward_row. */
#define REWARD_COLUMNS "r.id, r.impression_id, i.arm_id, i.segment, r.value, i.context"
static const char *SQL_IMP_REWARD_WALK =
    "SELECT " REWARD_COLUMNS " FROM rewards r JOIN impressions i ON i.id = r.impression_id "
    "WHERE i.experiment_id = ?1 AND i.activated = 1 ORDER BY r.id";
static const char *SQL_IMP_ACTIVATE = "UPDATE impressions SET activated = 1, activated_at = ?2 "
                                      "WHERE id = ?1 AND activated = 0";
static const char *SQL_IMP_EXISTS = "SELECT activated FROM impressions WHERE id = ?1";
static const char *SQL_IMP_DISCARD = "DELETE FROM impressions WHERE id = ?1 AND activated = 0";
static const char *SQL_IMP_MAX_REWARD = "SELECT coalesce(max(id), 0) FROM rewards";
static const char *SQL_IMP_DEFAULT_INSERT =
    "INSERT INTO rewards (impression_id, source, value, created_at) SELECT i.id, 'default', ?2, "
    "?3 FROM impressions i WHERE i.activated = 1 AND coalesce(i.activated_at, i.created_at) < ?1 "
    "AND NOT EXISTS (SELECT 1 FROM rewards r WHERE r.impression_id = i.id) ORDER BY i.id";
static const char *SQL_IMP_DEFAULT_NEW =
    "SELECT " REWARD_COLUMNS ", i.experiment_id FROM rewards r JOIN impressions i ON "
    "i.id = r.impression_id WHERE r.id > ?1 AND r.id <= ?2 AND r.source = 'default' "
    "ORDER BY r.id";
static const char *SQL_IMP_EVENTS =
    "SELECT i.id, i.experiment_id, a.name, i.segment, i.context, avg(r.value), count(r.id), "
    "coalesce(i.propensity, 0), i.created_at FROM impressions i JOIN arms a ON a.id = i.arm_id "
    "JOIN rewards r ON r.impression_id = i.id WHERE i.activated = 1 AND (?1 = 0 OR "
    "i.experiment_id = ?1) GROUP BY i.id, a.name ORDER BY i.id";

/* True when the context column holds valid "features" (a bad array counts as none). */
static bool features_of(store_stmt *st, int col, double x[FEATVEC_DIM])
{
    char why[PB_ERR_LEN];
    return featvec_from_context(store_col_text(st, col), x, why) == 1;
}

pb_status impressions_get(store *s, int64_t id, struct impressions_info *out, char *err)
{
    store_stmt *st;
    int row = stmt_first(s, SQL_IMP_GET, &st, "reading an impression", err, STMT_INT(id));
    if (row < 0)
        return row;
    if (row == 0)
        return pb_errf(err, PB_ERR_NOT_FOUND, "impression %lld does not exist", (long long)id);
    memset(out, 0, sizeof *out);
    out->id = id;
    out->experiment_id = store_col_int(st, 0);
    out->arm_id = store_col_int(st, 1);
    stmt_column_copy(st, 2, out->user_id, sizeof out->user_id);
    stmt_column_copy(st, 3, out->conversation_id, sizeof out->conversation_id);
    stmt_column_copy(st, 4, out->segment, sizeof out->segment);
    out->activated = (int)store_col_int(st, 5);
    out->created_at = store_col_real(st, 6);
    stmt_column_copy(st, 7, out->arm_name, sizeof out->arm_name);
    out->defaulted = (int)store_col_int(st, 8);
    out->has_features = features_of(st, 9, out->features);
    store_reset(st);
    return PB_OK;
}

/* The REWARD_COLUMNS of the current row; x receives the features. */
static struct impressions_reward_row reward_row(store_stmt *st, double x[FEATVEC_DIM])
{
    struct impressions_reward_row row = {
        .reward_id = store_col_int(st, 0),
        .impression_id = store_col_int(st, 1),
        .arm_id = store_col_int(st, 2),
        .segment = store_col_text(st, 3),
        .value = store_col_real(st, 4),
    };
    row.features = features_of(st, 5, x) ? x : NULL;
    return row;
}

int impressions_reward_foreach(store *s, int64_t experiment_id,
                               int (*fn)(void *ctx, const struct impressions_reward_row *row),
                               void *ctx, char *err)
{
    store_stmt *st = NULL;
    int row = 0, rc = stmt_prepare(s, SQL_IMP_REWARD_WALK, &st, err, STMT_INT(experiment_id));
    while (rc == 0 && (row = stmt_step(s, st, "walking rewards", err)) == 1) {
        double x[FEATVEC_DIM];
        struct impressions_reward_row r = reward_row(st, x);
        rc = fn(ctx, &r);
    }
    store_reset(st);
    return row < 0 ? row : rc;
}

/* 1 activated, 0 not activated, PB_ERR_NOT_FOUND (or another negative pb_status). */
static int activated_state(store *s, int64_t id, char *err)
{
    store_stmt *st;
    int row = stmt_first(s, SQL_IMP_EXISTS, &st, "reading an impression", err, STMT_INT(id));
    if (row < 0)
        return row;
    if (row == 0)
        return pb_errf(err, PB_ERR_NOT_FOUND, "impression %lld does not exist", (long long)id);
    int activated = (int)store_col_int(st, 0) ? 1 : 0;
    store_reset(st);
    return activated;
}

pb_status impressions_activate(store *s, int64_t id, int *changed, char *err)
{
    pb_status rc = stmt_exec(s, SQL_IMP_ACTIVATE, "activating an impression", err, STMT_INT(id),
                             STMT_REAL(store_now()));
    if (rc != PB_OK)
        return rc;
    *changed = store_changes(s) == 1;
    if (*changed)
        return PB_OK;
    int state = activated_state(s, id, err); /* unchanged: already active, or absent */
    return state < 0 ? state : PB_OK;
}

pb_status impressions_discard(store *s, int64_t id, char *err)
{
    pb_status rc = stmt_exec(s, SQL_IMP_DISCARD, "discarding an impression", err, STMT_INT(id));
    if (rc != PB_OK || store_changes(s) == 1)
        return rc;
    int state = activated_state(s, id, err);
    if (state == 1)
        return pb_errf(err, PB_ERR_CONFLICT,
                       "impression %lld was activated (shown); only an impression that was never "
                       "activated can be discarded",
                       (long long)id);
    return state; /* 0 cannot happen: the DELETE would have removed it */
}

static pb_status max_reward_id(store *s, int64_t *out, char *err)
{
    store_stmt *st;
    pb_status rc = store_prepare(s, SQL_IMP_MAX_REWARD, &st, err);
    if (rc != PB_OK)
        return rc;
    int row = stmt_step(s, st, "reading rewards", err);
    if (row == 0) /* an aggregate always answers */
        return store_sql_error(s, "reading rewards", err);
    if (row < 0)
        return row;
    *out = store_col_int(st, 0);
    store_reset(st);
    return PB_OK;
}

/* Calls fn for each "default" reward with an id in (after, upto]. */
static pb_status walk_new_defaults(store *s, int64_t after, int64_t upto,
                                   void (*fn)(void *ctx, const struct impressions_default_row *row),
                                   void *ctx, char *err)
{
    store_stmt *st;
    int row;
    pb_status rc = stmt_prepare(s, SQL_IMP_DEFAULT_NEW, &st, err, STMT_INT(after), STMT_INT(upto));
    if (rc != PB_OK)
        return rc;
    while ((row = stmt_step(s, st, "reading default rewards", err)) == 1) {
        double x[FEATVEC_DIM];
        struct impressions_reward_row r = reward_row(st, x);
        struct impressions_default_row d = {
            .reward_id = r.reward_id,
            .experiment_id = store_col_int(st, 6),
            .arm_id = r.arm_id,
            .segment = r.segment,
            .features = r.features,
            .value = r.value,
        };
        fn(ctx, &d);
    }
    return row < 0 ? row : PB_OK;
}

pb_status impressions_default_rewards(store *s, double before, double value,
                                      void (*fn)(void *ctx,
                                                 const struct impressions_default_row *row),
                                      void *ctx, int64_t *n, char *err)
{
    int64_t after = 0, upto = 0, given = 0;
    if (!(isfinite(value) && value >= -1 && value <= 1))
        return pb_errf(err, PB_ERR_INVALID, "default reward %g is outside [-1, 1]", value);
    pb_status rc = store_begin_serial(s, err);
    if (rc != PB_OK)
        return rc;
    rc = max_reward_id(s, &after, err);
    if (rc == PB_OK)
        rc = stmt_exec(s, SQL_IMP_DEFAULT_INSERT, "storing default rewards", err, STMT_REAL(before),
                       STMT_REAL(value), STMT_REAL(store_now()));
    if (rc == PB_OK) {
        given = store_changes(s);
        rc = max_reward_id(s, &upto, err);
    }
    rc = store_end(s, rc, err);
    /* The transaction held the write lock, so (after, upto] are exactly this sweep's ids. */
    if (rc == PB_OK && fn && given > 0)
        rc = walk_new_defaults(s, after, upto, fn, ctx, err);
    if (rc == PB_OK && n)
        *n = given;
    return rc;
}

int impressions_event_foreach(store *s, int64_t experiment_id,
                              int (*fn)(void *ctx, const struct impressions_event *ev), void *ctx,
                              char *err)
{
    store_stmt *st = NULL;
    int row = 0, rc = stmt_prepare(s, SQL_IMP_EVENTS, &st, err, STMT_INT(experiment_id));
    while (rc == 0 && (row = stmt_step(s, st, "walking logged events", err)) == 1) {
        struct impressions_event ev = {
            .impression_id = store_col_int(st, 0),
            .experiment_id = store_col_int(st, 1),
            .arm = store_col_text(st, 2),
            .segment = store_col_text(st, 3),
            .context = store_col_text(st, 4),
            .reward = store_col_real(st, 5),
            .n_rewards = store_col_int(st, 6),
            .propensity = store_col_real(st, 7),
            .created_at = store_col_real(st, 8),
        };
        rc = fn(ctx, &ev);
    }
    store_reset(st);
    return row < 0 ? row : rc;
}
