/* impressions.c — impression look-up, reward walk with segments, batched impression inserts. */
#include "store/impressions.h"

#include "base/text.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

static const char *SQL_IMP_GET =
    "SELECT i.experiment_id, i.arm_id, i.user_id, i.conversation_id, i.segment, i.activated, "
    "i.created_at, a.name, EXISTS (SELECT 1 FROM rewards r WHERE r.impression_id = i.id AND "
    "r.source = 'default'), i.context FROM impressions i JOIN arms a ON a.id = i.arm_id "
    "WHERE i.id = ?1";
static const char *SQL_IMP_CONVERSATION =
    "SELECT coalesce(user_id, ''), arm_id FROM conversations WHERE id = ?1";
static const char *SQL_IMP_REWARD_WALK =
    "SELECT r.id, r.impression_id, i.arm_id, i.segment, r.value, i.context FROM rewards r "
    "JOIN impressions i ON i.id = r.impression_id WHERE i.experiment_id = ?1 AND "
    "i.activated = 1 ORDER BY r.id";
static const char *SQL_IMP_USER_ENSURE =
    "INSERT INTO users (id, consent, created_at) VALUES (?1, 0, ?2) ON CONFLICT (id) DO NOTHING";
static const char *SQL_IMP_INSERT =
    "INSERT INTO impressions (experiment_id, arm_id, user_id, conversation_id, segment, context, "
    "propensity, activated, created_at) SELECT ?1, ?2, ?3, ?4, ?5, ?6, nullif(?7, 0), ?8, ?9 "
    "WHERE EXISTS (SELECT 1 FROM arms WHERE id = ?2 AND experiment_id = ?1)";

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
    "SELECT r.id, i.experiment_id, i.arm_id, i.segment, r.value, i.context FROM rewards r JOIN "
    "impressions "
    "i ON i.id = r.impression_id WHERE r.id > ?1 AND r.id <= ?2 AND r.source = 'default' "
    "ORDER BY r.id";

/* 1 when the context column holds valid "features" (a bad array counts as none). */
static int features_of(sqlite3_stmt *st, int col, double x[FEATVEC_DIM])
{
    char why[PB_ERR_LEN];
    return featvec_from_context((const char *)sqlite3_column_text(st, col), x, why) == 1;
}

static const char *SQL_IMP_EVENTS =
    "SELECT i.id, i.experiment_id, a.name, i.segment, i.context, avg(r.value), count(r.id), "
    "coalesce(i.propensity, 0), i.created_at FROM impressions i JOIN arms a ON a.id = i.arm_id "
    "JOIN rewards r ON r.impression_id = i.id WHERE i.activated = 1 AND (?1 = 0 OR "
    "i.experiment_id = ?1) GROUP BY i.id ORDER BY i.id";

static void copy_col(sqlite3_stmt *st, int col, char *out, size_t len)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    snprintf(out, len, "%s", t ? t : "");
}

int impressions_get(store *s, int64_t id, struct impressions_info *out, char *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, SQL_IMP_GET, &st, err);
    if (rc != PB_OK)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        out->id = id;
        out->experiment_id = sqlite3_column_int64(st, 0);
        out->arm_id = sqlite3_column_int64(st, 1);
        copy_col(st, 2, out->user_id, sizeof out->user_id);
        copy_col(st, 3, out->conversation_id, sizeof out->conversation_id);
        copy_col(st, 4, out->segment, sizeof out->segment);
        out->activated = sqlite3_column_int(st, 5);
        out->created_at = sqlite3_column_double(st, 6);
        copy_col(st, 7, out->arm_name, sizeof out->arm_name);
        out->defaulted = sqlite3_column_int(st, 8);
        out->has_features = features_of(st, 9, out->features);
    } else if (step == SQLITE_DONE) {
        rc = pb_errf(err, PB_ERR_NOT_FOUND, "impression %lld does not exist", (long long)id);
    } else {
        rc = store_sql_error(s, "reading an impression", err);
    }
    sqlite3_reset(st);
    return rc;
}

int impressions_conversation_get(store *s, const char *conversation_id, char *owner,
                                 size_t owner_len, int64_t *arm_id, char *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, SQL_IMP_CONVERSATION, &st, err);
    if (rc != PB_OK)
        return rc;
    store_bind_text(st, 1, conversation_id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        copy_col(st, 0, owner, owner_len);
        *arm_id = sqlite3_column_int64(st, 1);
        rc = 1;
    } else {
        rc = step == SQLITE_DONE ? 0 : store_sql_error(s, "reading a conversation", err);
    }
    sqlite3_reset(st);
    return rc;
}

int impressions_reward_foreach(store *s, int64_t experiment_id,
                               int (*fn)(void *ctx, const struct impressions_reward_row *row),
                               void *ctx, char *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, SQL_IMP_REWARD_WALK, &st, err);
    if (rc != PB_OK)
        return rc;
    sqlite3_bind_int64(st, 1, experiment_id);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        double x[FEATVEC_DIM];
        int has_x = features_of(st, 5, x);
        struct impressions_reward_row row = {
            .reward_id = sqlite3_column_int64(st, 0),
            .impression_id = sqlite3_column_int64(st, 1),
            .arm_id = sqlite3_column_int64(st, 2),
            .segment = (const char *)sqlite3_column_text(st, 3),
            .features = has_x ? x : NULL,
            .value = sqlite3_column_double(st, 4),
        };
        if ((rc = fn(ctx, &row)) != 0)
            break;
    }
    if (rc == PB_OK && step != SQLITE_DONE)
        rc = store_sql_error(s, "walking rewards", err);
    sqlite3_reset(st);
    return rc;
}

static int check_one(const struct feedback_impression *imp, char *err)
{
    if (!store_json_valid(imp->context_json, 0))
        return pb_errf(err, PB_ERR_INVALID, "context is not valid JSON");
    if (!(isfinite(imp->propensity) && imp->propensity >= 0 && imp->propensity <= 1))
        return pb_errf(err, PB_ERR_INVALID, "propensity must be in (0, 1] (0 = unknown)");
    if (imp->user_id && (!*imp->user_id || strlen(imp->user_id) > 256 ||
                         !text_utf8_valid(imp->user_id, strlen(imp->user_id))))
        return pb_errf(err, PB_ERR_INVALID, "user id must be 1 to 256 bytes of UTF-8");
    return PB_OK;
}

static int insert_one(store *s, const struct feedback_impression *imp, int64_t *id, char *err)
{
    sqlite3_stmt *st;
    int rc = check_one(imp, err);
    if (rc == PB_OK && imp->user_id &&
        (rc = store_prepare(s, SQL_IMP_USER_ENSURE, &st, err)) == 0) {
        store_bind_text(st, 1, imp->user_id);
        sqlite3_bind_double(st, 2, store_now());
        rc = store_exec_stmt(s, st, "storing a user", err);
    }
    if (rc != PB_OK || (rc = store_prepare(s, SQL_IMP_INSERT, &st, err)) != PB_OK)
        return rc;
    sqlite3_bind_int64(st, 1, imp->experiment_id);
    sqlite3_bind_int64(st, 2, imp->arm_id);
    store_bind_text(st, 3, imp->user_id);
    store_bind_text(st, 4, imp->conversation_id);
    store_bind_text(st, 5, imp->segment);
    store_bind_text(st, 6, imp->context_json);
    sqlite3_bind_double(st, 7, imp->propensity);
    sqlite3_bind_int(st, 8, imp->activated ? 1 : 0);
    sqlite3_bind_double(st, 9, store_now());
    if ((rc = store_exec_stmt(s, st, "storing an impression", err)) != PB_OK)
        return rc;
    if (store_changes(s) != 1)
        return pb_errf(err, PB_ERR_INVALID, "arm %lld is not in experiment %lld",
                       (long long)imp->arm_id, (long long)imp->experiment_id);
    *id = store_last_insert_id(s);
    return PB_OK;
}

int impressions_insert_batch(store *s, const struct feedback_impression *imps, size_t n,
                             int64_t *ids, char *err)
{
    char why[PB_ERR_LEN];
    int rc = store_begin(s, err);
    if (rc != PB_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if ((rc = insert_one(s, &imps[i], &ids[i], why)) != PB_OK) {
            store_rollback(s);
            return pb_errf(err, rc, "impression %zu of %zu: %s (nothing stored)", i, n, why);
        }
    }
    return store_commit(s, err);
}

/* 1 activated, 0 not activated, PB_ERR_NOT_FOUND absent. */
static int activated_state(store *s, int64_t id, char *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, SQL_IMP_EXISTS, &st, err);
    if (rc != PB_OK)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        rc = sqlite3_column_int(st, 0) ? 1 : 0;
    else if (step == SQLITE_DONE)
        rc = pb_errf(err, PB_ERR_NOT_FOUND, "impression %lld does not exist", (long long)id);
    else
        rc = store_sql_error(s, "reading an impression", err);
    sqlite3_reset(st);
    return rc;
}

int impressions_activate(store *s, int64_t id, int *changed, char *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, SQL_IMP_ACTIVATE, &st, err);
    if (rc != PB_OK)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_double(st, 2, store_now());
    if ((rc = store_exec_stmt(s, st, "activating an impression", err)) != PB_OK)
        return rc;
    *changed = store_changes(s) == 1;
    if (*changed)
        return PB_OK;
    rc = activated_state(s, id, err); /* unchanged: already active, or absent */
    return rc < 0 ? rc : PB_OK;
}

int impressions_discard(store *s, int64_t id, char *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, SQL_IMP_DISCARD, &st, err);
    if (rc != PB_OK)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    if ((rc = store_exec_stmt(s, st, "discarding an impression", err)) != PB_OK)
        return rc;
    if (store_changes(s) == 1)
        return PB_OK;
    rc = activated_state(s, id, err);
    if (rc == 1)
        rc = pb_errf(err, PB_ERR_CONFLICT,
                     "impression %lld was activated (shown); only an impression that was never "
                     "activated can be discarded",
                     (long long)id);
    return rc;
}

static int max_reward_id(store *s, int64_t *out, char *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, SQL_IMP_MAX_REWARD, &st, err);
    if (rc != PB_OK)
        return rc;
    if (sqlite3_step(st) == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        rc = store_sql_error(s, "reading rewards", err);
    sqlite3_reset(st);
    return rc;
}

/* Calls fn for each "default" reward with an id in (after, upto]. */
static int walk_new_defaults(store *s, int64_t after, int64_t upto,
                             void (*fn)(void *ctx, const struct impressions_default_row *row),
                             void *ctx, char *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, SQL_IMP_DEFAULT_NEW, &st, err);
    if (rc != PB_OK)
        return rc;
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int64(st, 2, upto);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        double x[FEATVEC_DIM];
        int has_x = features_of(st, 5, x);
        struct impressions_default_row row = {
            .reward_id = sqlite3_column_int64(st, 0),
            .experiment_id = sqlite3_column_int64(st, 1),
            .arm_id = sqlite3_column_int64(st, 2),
            .segment = (const char *)sqlite3_column_text(st, 3),
            .features = has_x ? x : NULL,
            .value = sqlite3_column_double(st, 4),
        };
        fn(ctx, &row);
    }
    if (step != SQLITE_DONE)
        rc = store_sql_error(s, "reading default rewards", err);
    sqlite3_reset(st);
    return rc;
}

int impressions_default_rewards(store *s, double before, double value,
                                void (*fn)(void *ctx, const struct impressions_default_row *row),
                                void *ctx, int64_t *n, char *err)
{
    sqlite3_stmt *st;
    int64_t after = 0, upto = 0, given = 0;
    if (!(isfinite(value) && value >= -1 && value <= 1))
        return pb_errf(err, PB_ERR_INVALID, "default reward %g is outside [-1, 1]", value);
    int rc = store_begin(s, err);
    if (rc != PB_OK)
        return rc;
    rc = max_reward_id(s, &after, err);
    if (rc == PB_OK && (rc = store_prepare(s, SQL_IMP_DEFAULT_INSERT, &st, err)) == PB_OK) {
        sqlite3_bind_double(st, 1, before);
        sqlite3_bind_double(st, 2, value);
        sqlite3_bind_double(st, 3, store_now());
        rc = store_exec_stmt(s, st, "storing default rewards", err);
        given = rc == PB_OK ? store_changes(s) : 0;
    }
    if (rc == PB_OK)
        rc = max_reward_id(s, &upto, err);
    if (rc == PB_OK)
        rc = store_commit(s, err);
    else
        store_rollback(s);
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
    sqlite3_stmt *st;
    int rc = store_prepare(s, SQL_IMP_EVENTS, &st, err);
    if (rc != PB_OK)
        return rc;
    sqlite3_bind_int64(st, 1, experiment_id);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct impressions_event ev = {
            .impression_id = sqlite3_column_int64(st, 0),
            .experiment_id = sqlite3_column_int64(st, 1),
            .arm = (const char *)sqlite3_column_text(st, 2),
            .segment = (const char *)sqlite3_column_text(st, 3),
            .context = (const char *)sqlite3_column_text(st, 4),
            .reward = sqlite3_column_double(st, 5),
            .n_rewards = sqlite3_column_int64(st, 6),
            .propensity = sqlite3_column_double(st, 7),
            .created_at = sqlite3_column_double(st, 8),
        };
        if ((rc = fn(ctx, &ev)) != 0)
            break;
    }
    if (rc == PB_OK && step != SQLITE_DONE)
        rc = store_sql_error(s, "walking logged events", err);
    sqlite3_reset(st);
    return rc;
}
