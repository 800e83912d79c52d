/* feedback.c — users, conversations, impressions, rewards, per-arm aggregates and messages. */
#include "store/feedback.h"

#include "base/text.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *SQL_USER_ENSURE =
    "INSERT INTO users (id, consent, created_at) VALUES (?1, 0, ?2) ON CONFLICT (id) DO NOTHING";
static const char *SQL_USER_CONSENT =
    "INSERT INTO users (id, consent, created_at) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (id) DO UPDATE SET consent = excluded.consent";
static const char *SQL_USER_GET_CONSENT = "SELECT consent FROM users WHERE id = ?1";
static const char *SQL_ERASE_MESSAGES = "DELETE FROM messages WHERE conversation_id IN "
                                        "(SELECT id FROM conversations WHERE user_id = ?1)";
static const char *SQL_ERASE_REWARD_DETAIL =
    "UPDATE rewards SET detail = NULL WHERE impression_id IN (SELECT id FROM impressions WHERE "
    "user_id = ?1 OR conversation_id IN (SELECT id FROM conversations WHERE user_id = ?1))";
static const char *SQL_ERASE_IMPRESSIONS =
    "UPDATE impressions SET user_id = NULL, conversation_id = NULL, context = NULL WHERE "
    "user_id = ?1 OR conversation_id IN (SELECT id FROM conversations WHERE user_id = ?1)";
static const char *SQL_ERASE_CONVERSATIONS = "DELETE FROM conversations WHERE user_id = ?1";
static const char *SQL_ERASE_USER = "DELETE FROM users WHERE id = ?1";
static const char *SQL_CONVERSATION_GET = "SELECT user_id, arm_id FROM conversations WHERE id = ?1";
static const char *SQL_CONVERSATION_INSERT =
    "INSERT INTO conversations (id, user_id, experiment_id, arm_id, segment, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char *SQL_ARM_IN_EXPERIMENT =
    "SELECT 1 FROM arms WHERE id = ?2 AND experiment_id = ?1";
static const char *SQL_IMPRESSION_INSERT =
    "INSERT INTO impressions (experiment_id, arm_id, user_id, conversation_id, segment, context, "
    "propensity, activated, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, nullif(?7, 0), ?8, ?9)";
static const char *SQL_REWARD_INSERT =
    "INSERT INTO rewards (impression_id, source, value, event_id, created_at, detail) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char *SQL_REWARD_BY_EVENT =
    "SELECT id, impression_id, source FROM rewards WHERE event_id = ?1";
static const char *SQL_ARM_IDS = "SELECT id FROM arms WHERE experiment_id = ?1 ORDER BY id";
static const char *SQL_REWARD_WALK =
    "SELECT r.id, r.impression_id, i.arm_id, r.source, r.value, r.created_at FROM rewards r "
    "JOIN impressions i ON i.id = r.impression_id WHERE i.experiment_id = ?1 ORDER BY r.id";
static const char *SQL_IMPRESSION_COUNTS = "SELECT arm_id, count(*) FROM impressions WHERE "
                                           "experiment_id = ?1 AND activated = 1 GROUP BY arm_id";
/* Clusters: one per conversation, or per impression when it has no conversation. */
static const char *SQL_REWARD_STATS =
    "SELECT arm_id, sum(n), sum(s), sum(q), count(*), sum(s * s), sum(n * s), sum(n * n) FROM "
    "(SELECT i.arm_id AS arm_id, count(*) AS n, sum(r.value) AS s, sum(r.value * r.value) AS q "
    "FROM rewards r JOIN impressions i ON i.id = r.impression_id WHERE i.experiment_id = ?1 "
    "GROUP BY i.arm_id, i.conversation_id, CASE WHEN i.conversation_id IS NULL THEN i.id END) "
    "GROUP BY arm_id";
static const char *SQL_MESSAGE_INSERT =
    "INSERT INTO messages (conversation_id, impression_id, role, content, created_at) "
    "SELECT c.id, nullif(?2, 0), ?3, ?4, ?5 FROM conversations c JOIN users u ON u.id = "
    "c.user_id WHERE c.id = ?1 AND u.consent = 1";
static const char *SQL_CONVERSATION_EXISTS = "SELECT 1 FROM conversations WHERE id = ?1";
static const char *SQL_MESSAGES_LAST =
    "SELECT role, content, created_at FROM (SELECT id, role, content, created_at FROM messages "
    "WHERE conversation_id = ?1 ORDER BY id DESC LIMIT ?2) ORDER BY id";
static const char *SQL_MESSAGES_PURGE = "DELETE FROM messages WHERE created_at < ?1";

/* Runs a statement with one text parameter and no rows; *changes gets the rows changed. */
static int exec_text(store *s, const char *sql, const char *text, int64_t *changes,
                     const char *what, char *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, sql, &st, err);
    if (rc != PB_OK)
        return rc;
    store_bind_text(st, 1, text);
    rc = store_exec_stmt(s, st, what, err);
    if (rc == PB_OK && changes)
        *changes = store_changes(s);
    return rc;
}

/* 1 when the one-row query bound to (a, b) returns a row, 0 when not, <0 on error. */
static int exists_int2(store *s, const char *sql, int64_t a, int64_t b, char *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, sql, &st, err);
    if (rc != PB_OK)
        return rc;
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    int step = sqlite3_step(st);
    rc = step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? 0 : store_sql_error(s, "lookup", err);
    sqlite3_reset(st);
    return rc;
}

static int check_id(const char *id, const char *what, char *err)
{
    if (!id || !*id || strlen(id) > 256 || !text_utf8_valid(id, strlen(id)))
        return pb_errf(err, PB_ERR_INVALID, "%s must be 1 to 256 bytes of UTF-8", what);
    return PB_OK;
}

static int ensure_user(store *s, const char *user_id, char *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, SQL_USER_ENSURE, &st, err);
    if (rc != PB_OK)
        return rc;
    store_bind_text(st, 1, user_id);
    sqlite3_bind_double(st, 2, store_now());
    return store_exec_stmt(s, st, "storing a user", err);
}

int feedback_set_consent(store *s, const char *user_id, int consent, char *err)
{
    sqlite3_stmt *st;
    int rc = check_id(user_id, "user id", err);
    if (rc != PB_OK || (rc = store_prepare(s, SQL_USER_CONSENT, &st, err)) != PB_OK)
        return rc;
    store_bind_text(st, 1, user_id);
    sqlite3_bind_int(st, 2, consent != 0);
    sqlite3_bind_double(st, 3, store_now());
    return store_exec_stmt(s, st, "setting consent", err);
}

int feedback_get_consent(store *s, const char *user_id, int *consent, char *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, SQL_USER_GET_CONSENT, &st, err);
    if (rc != PB_OK)
        return rc;
    store_bind_text(st, 1, user_id);
    int step = sqlite3_step(st);
    *consent = step == SQLITE_ROW && sqlite3_column_int(st, 0);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = store_sql_error(s, "reading consent", err);
    sqlite3_reset(st);
    return rc;
}

int feedback_erase_user(store *s, const char *user_id, struct feedback_erase_counts *counts,
                        char *err)
{
    struct feedback_erase_counts c = {0};
    int rc = check_id(user_id, "user id", err);
    if (rc != PB_OK || (rc = store_begin(s, err)) != PB_OK)
        return rc;
    /* Order matters: links are cut while the conversations still name the user. */
    if ((rc = exec_text(s, SQL_ERASE_MESSAGES, user_id, &c.messages, "erasing", err)) ||
        (rc = exec_text(s, SQL_ERASE_REWARD_DETAIL, user_id, &c.rewards, "erasing", err)) ||
        (rc = exec_text(s, SQL_ERASE_IMPRESSIONS, user_id, &c.impressions, "erasing", err)) ||
        (rc = exec_text(s, SQL_ERASE_CONVERSATIONS, user_id, &c.conversations, "erasing", err)) ||
        (rc = exec_text(s, SQL_ERASE_USER, user_id, NULL, "erasing", err))) {
        store_rollback(s);
        return rc;
    }
    if ((rc = store_commit(s, err)) == PB_OK && counts)
        *counts = c;
    return rc;
}

/* Reads a conversation: 1 found (owner and arm filled), 0 absent, <0 error. */
static int get_conversation(store *s, const char *id, char *owner, size_t owner_len,
                            int64_t *arm_id, char *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, SQL_CONVERSATION_GET, &st, err);
    if (rc != PB_OK)
        return rc;
    store_bind_text(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        const char *u = (const char *)sqlite3_column_text(st, 0);
        snprintf(owner, owner_len, "%s", u ? u : "");
        *arm_id = sqlite3_column_int64(st, 1);
        rc = 1;
    } else {
        rc = step == SQLITE_DONE ? 0 : store_sql_error(s, "reading a conversation", err);
    }
    sqlite3_reset(st);
    return rc;
}

static int insert_conversation(store *s, const char *conversation_id, const char *user_id,
                               int64_t experiment_id, int64_t arm_id, const char *segment,
                               char *err)
{
    sqlite3_stmt *st;
    int rc = exists_int2(s, SQL_ARM_IN_EXPERIMENT, experiment_id, arm_id, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return pb_errf(err, PB_ERR_INVALID, "arm %lld is not in experiment %lld", (long long)arm_id,
                       (long long)experiment_id);
    if (user_id && (rc = ensure_user(s, user_id, err)) != PB_OK)
        return rc;
    if ((rc = store_prepare(s, SQL_CONVERSATION_INSERT, &st, err)) != PB_OK)
        return rc;
    store_bind_text(st, 1, conversation_id);
    store_bind_text(st, 2, user_id);
    sqlite3_bind_int64(st, 3, experiment_id);
    sqlite3_bind_int64(st, 4, arm_id);
    store_bind_text(st, 5, segment);
    sqlite3_bind_double(st, 6, store_now());
    return store_exec_stmt(s, st, "storing a conversation", err);
}

int feedback_open_conversation(store *s, const char *conversation_id, const char *user_id,
                               int64_t experiment_id, int64_t arm_id, const char *segment,
                               int64_t *sticky_arm_id, int *created, char *err)
{
    char owner[260];
    int64_t arm = 0;
    int rc = check_id(conversation_id, "conversation id", err);
    if (rc == PB_OK && user_id)
        rc = check_id(user_id, "user id", err);
    if (rc != PB_OK || (rc = store_begin(s, err)) != PB_OK)
        return rc;
    int found = get_conversation(s, conversation_id, owner, sizeof owner, &arm, err);
    if (found == 1 && strcmp(owner, user_id ? user_id : "") != 0)
        found = pb_errf(err, PB_ERR_FORBIDDEN, "conversation %s belongs to another user",
                        conversation_id);
    if (found == 0) {
        arm = arm_id;
        found =
            insert_conversation(s, conversation_id, user_id, experiment_id, arm_id, segment, err);
    }
    rc = found < 0 ? found : store_commit(s, err);
    if (rc != PB_OK) {
        store_rollback(s);
        return rc;
    }
    *sticky_arm_id = arm;
    if (created)
        *created = found == 0;
    return PB_OK;
}

static int check_impression(const struct feedback_impression *imp, char *err)
{
    if (!store_json_valid(imp->context_json, 0))
        return pb_errf(err, PB_ERR_INVALID, "impression context is not valid JSON");
    if (!(isfinite(imp->propensity) && imp->propensity >= 0 && imp->propensity <= 1))
        return pb_errf(err, PB_ERR_INVALID, "propensity must be in (0, 1] (0 = unknown)");
    if (imp->activated != 0 && imp->activated != 1)
        return pb_errf(err, PB_ERR_INVALID, "activated must be 0 or 1");
    if (imp->user_id)
        return check_id(imp->user_id, "user id", err);
    return PB_OK;
}

static int insert_impression_locked(store *s, const struct feedback_impression *imp, int64_t *id,
                                    char *err)
{
    sqlite3_stmt *st;
    int rc = exists_int2(s, SQL_ARM_IN_EXPERIMENT, imp->experiment_id, imp->arm_id, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return pb_errf(err, PB_ERR_INVALID, "arm %lld is not in experiment %lld",
                       (long long)imp->arm_id, (long long)imp->experiment_id);
    if (imp->user_id && (rc = ensure_user(s, imp->user_id, err)) != PB_OK)
        return rc;
    if ((rc = store_prepare(s, SQL_IMPRESSION_INSERT, &st, err)) != PB_OK)
        return rc;
    sqlite3_bind_int64(st, 1, imp->experiment_id);
    sqlite3_bind_int64(st, 2, imp->arm_id);
    store_bind_text(st, 3, imp->user_id);
    store_bind_text(st, 4, imp->conversation_id);
    store_bind_text(st, 5, imp->segment);
    store_bind_text(st, 6, imp->context_json);
    sqlite3_bind_double(st, 7, imp->propensity);
    sqlite3_bind_int(st, 8, imp->activated);
    sqlite3_bind_double(st, 9, store_now());
    if ((rc = store_exec_stmt(s, st, "storing an impression", err)) != PB_OK) {
        if (store_errcode(s) == SQLITE_CONSTRAINT_FOREIGNKEY)
            rc = pb_errf(err, PB_ERR_NOT_FOUND, "conversation %s does not exist",
                         imp->conversation_id ? imp->conversation_id : "?");
        return rc;
    }
    *id = store_last_insert_id(s);
    return PB_OK;
}

int feedback_insert_impression(store *s, const struct feedback_impression *imp, int64_t *id,
                               char *err)
{
    int rc = check_impression(imp, err);
    if (rc != PB_OK || (rc = store_begin(s, err)) != PB_OK)
        return rc;
    rc = insert_impression_locked(s, imp, id, err);
    if (rc == PB_OK)
        return store_commit(s, err);
    store_rollback(s);
    return rc;
}

static int check_reward(const struct feedback_reward *r, char *err)
{
    if (!isfinite(r->value) || r->value < -1 || r->value > 1)
        return pb_errf(err, PB_ERR_INVALID, "reward value must be a number in [-1, 1], got %g",
                       r->value);
    size_t len = r->source ? strlen(r->source) : 0;
    if (len == 0 || len > 32 || strspn(r->source, "abcdefghijklmnopqrstuvwxyz_") != len)
        return pb_errf(err, PB_ERR_INVALID, "reward source must be 1 to 32 of a-z and _");
    if (r->event_id && check_id(r->event_id, "event id", err) != PB_OK)
        return PB_ERR_INVALID;
    if (!store_json_valid(r->detail_json, 0))
        return pb_errf(err, PB_ERR_INVALID, "reward detail is not valid JSON");
    return PB_OK;
}

/* After a UNIQUE failure: a retry of the same event (duplicate) or a real conflict. */
static int resolve_unique(store *s, const struct feedback_reward *r, int64_t *id, int *duplicate,
                          char *err)
{
    sqlite3_stmt *st;
    int rc = PB_ERR_CONFLICT, step = SQLITE_DONE;
    if (r->event_id) {
        if ((rc = store_prepare(s, SQL_REWARD_BY_EVENT, &st, err)) != PB_OK)
            return rc;
        store_bind_text(st, 1, r->event_id);
        step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            int same = sqlite3_column_int64(st, 1) == r->impression_id &&
                       strcmp((const char *)sqlite3_column_text(st, 2), r->source) == 0;
            *id = sqlite3_column_int64(st, 0);
            *duplicate = same;
            rc = same ? PB_OK
                      : pb_errf(err, PB_ERR_CONFLICT,
                                "event id %s was already used for another impression or source",
                                r->event_id);
        } else if (step != SQLITE_DONE) {
            rc = store_sql_error(s, "looking up an event id", err);
        }
        sqlite3_reset(st);
    }
    if (step == SQLITE_DONE)
        rc = pb_errf(err, PB_ERR_CONFLICT, "impression %lld already has a '%s' reward",
                     (long long)r->impression_id, r->source);
    return rc;
}

static int insert_reward_one(store *s, const struct feedback_reward *r, int64_t *id, int *duplicate,
                             char *err)
{
    sqlite3_stmt *st;
    *duplicate = 0;
    int rc = check_reward(r, err);
    if (rc != PB_OK || (rc = store_prepare(s, SQL_REWARD_INSERT, &st, err)) != PB_OK)
        return rc;
    sqlite3_bind_int64(st, 1, r->impression_id);
    store_bind_text(st, 2, r->source);
    sqlite3_bind_double(st, 3, r->value);
    store_bind_text(st, 4, r->event_id);
    sqlite3_bind_double(st, 5, store_now());
    store_bind_text(st, 6, r->detail_json);
    if ((rc = store_exec_stmt(s, st, "storing a reward", err)) == PB_OK) {
        *id = store_last_insert_id(s);
        return PB_OK;
    }
    switch (store_errcode(s)) {
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return pb_errf(err, PB_ERR_NOT_FOUND, "impression %lld does not exist",
                       (long long)r->impression_id);
    case SQLITE_CONSTRAINT_UNIQUE:
        return resolve_unique(s, r, id, duplicate, err);
    default:
        return rc;
    }
}

int feedback_insert_reward(store *s, const struct feedback_reward *r, int64_t *id, int *duplicate,
                           char *err)
{
    int64_t got = 0;
    int dup = 0;
    /* One INSERT in autocommit mode: committed (and synced per db.synchronous) on return. */
    int rc = insert_reward_one(s, r, &got, &dup, err);
    if (rc == PB_OK) {
        if (id)
            *id = got;
        if (duplicate)
            *duplicate = dup;
    }
    return rc;
}

int feedback_insert_rewards(store *s, const struct feedback_reward *r, size_t n, int64_t *ids,
                            int *duplicates, char *err)
{
    char why[PB_ERR_LEN];
    int rc = store_begin(s, err);
    if (rc != PB_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        int64_t id = 0;
        int dup = 0;
        if ((rc = insert_reward_one(s, &r[i], &id, &dup, why)) != PB_OK) {
            store_rollback(s);
            return pb_errf(err, rc, "reward %zu of %zu: %s (nothing stored)", i, n, why);
        }
        if (ids)
            ids[i] = id;
        if (duplicates)
            duplicates[i] = dup;
    }
    return store_commit(s, err);
}

/* Ids of every arm of an experiment, ascending (the order of arms_list). Caller frees. */
static int arm_ids(store *s, int64_t experiment_id, int64_t **out, size_t *n, char *err)
{
    sqlite3_stmt *st;
    int64_t *ids = NULL;
    size_t count = 0, cap = 0;
    int step = SQLITE_DONE;
    int rc = store_prepare(s, SQL_ARM_IDS, &st, err);
    if (rc != PB_OK)
        return rc;
    sqlite3_bind_int64(st, 1, experiment_id);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? 2 * cap : 16;
            int64_t *grown = realloc(ids, cap * sizeof *ids);
            if (!grown) {
                rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
                break;
            }
            ids = grown;
        }
        ids[count++] = sqlite3_column_int64(st, 0);
    }
    if (rc == PB_OK && step != SQLITE_DONE)
        rc = store_sql_error(s, "listing arms", err);
    sqlite3_reset(st);
    if (rc != PB_OK) {
        free(ids);
        return rc;
    }
    *out = ids;
    *n = count;
    return PB_OK;
}

static size_t index_of(const int64_t *ids, size_t n, int64_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int feedback_reward_foreach(store *s, int64_t experiment_id,
                            int (*fn)(void *ctx, const struct feedback_reward_row *row), void *ctx,
                            char *err)
{
    int64_t *ids = NULL;
    size_t n_ids = 0;
    sqlite3_stmt *st;
    int step = SQLITE_DONE;
    int rc = arm_ids(s, experiment_id, &ids, &n_ids, err);
    if (rc != PB_OK || (rc = store_prepare(s, SQL_REWARD_WALK, &st, err)) != PB_OK) {
        free(ids);
        return rc;
    }
    sqlite3_bind_int64(st, 1, experiment_id);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct feedback_reward_row row = {
            .reward_id = sqlite3_column_int64(st, 0),
            .impression_id = sqlite3_column_int64(st, 1),
            .arm_id = sqlite3_column_int64(st, 2),
            .source = (const char *)sqlite3_column_text(st, 3),
            .value = sqlite3_column_double(st, 4),
            .created_at = sqlite3_column_double(st, 5),
        };
        row.arm_index = index_of(ids, n_ids, row.arm_id);
        if ((rc = fn(ctx, &row)) != 0)
            break;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = store_sql_error(s, "reading rewards", err);
    sqlite3_reset(st);
    free(ids);
    return rc;
}

/* Adds the rows of the impression-count and reward-statistics queries into stats. */
static int fill_stats(store *s, int64_t experiment_id, const int64_t *ids,
                      struct feedback_arm_stats *stats, size_t n, char *err)
{
    const char *queries[] = {SQL_IMPRESSION_COUNTS, SQL_REWARD_STATS};
    for (int q = 0; q < 2; q++) {
        sqlite3_stmt *st;
        int step, rc = store_prepare(s, queries[q], &st, err);
        if (rc != PB_OK)
            return rc;
        sqlite3_bind_int64(st, 1, experiment_id);
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            size_t i = index_of(ids, n, sqlite3_column_int64(st, 0));
            if (i == n)
                continue;
            struct feedback_arm_stats *a = &stats[i];
            if (q == 0) {
                a->impressions = sqlite3_column_int64(st, 1);
                continue;
            }
            a->n = sqlite3_column_int64(st, 1);
            a->sum = sqlite3_column_double(st, 2);
            a->sum_sq = sqlite3_column_double(st, 3);
            a->clusters = sqlite3_column_int64(st, 4);
            a->cluster_sum_sq = sqlite3_column_double(st, 5);
            a->cluster_n_sum = sqlite3_column_double(st, 6);
            a->cluster_n_sq = sqlite3_column_double(st, 7);
        }
        if (step != SQLITE_DONE)
            rc = store_sql_error(s, "computing arm statistics", err);
        sqlite3_reset(st);
        if (rc != PB_OK)
            return rc;
    }
    return PB_OK;
}

int feedback_arm_stats(store *s, int64_t experiment_id, struct feedback_arm_stats **out, size_t *n,
                       char *err)
{
    int64_t *ids = NULL;
    size_t n_ids = 0;
    struct feedback_arm_stats *stats = NULL;
    *out = NULL;
    *n = 0;
    int rc = arm_ids(s, experiment_id, &ids, &n_ids, err);
    if (rc != PB_OK)
        return rc;
    stats = calloc(n_ids ? n_ids : 1, sizeof *stats);
    if (!stats) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n_ids; i++)
        stats[i].arm_id = ids[i];
    if ((rc = fill_stats(s, experiment_id, ids, stats, n_ids, err)) != PB_OK)
        goto cleanup;
    *out = stats;
    *n = n_ids;
    stats = NULL;
cleanup:
    free(stats);
    free(ids);
    return rc;
}

int feedback_insert_message(store *s, const char *conversation_id, int64_t impression_id,
                            const char *role, const char *content, int64_t *id, char *err)
{
    sqlite3_stmt *st;
    *id = 0;
    if (!role || (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0 &&
                  strcmp(role, "system") != 0))
        return pb_errf(err, PB_ERR_INVALID, "message role must be system, user or assistant");
    if (!content || !text_utf8_valid(content, strlen(content)))
        return pb_errf(err, PB_ERR_INVALID, "message content is not valid UTF-8");
    int rc = store_prepare(s, SQL_MESSAGE_INSERT, &st, err);
    if (rc != PB_OK)
        return rc;
    store_bind_text(st, 1, conversation_id);
    sqlite3_bind_int64(st, 2, impression_id);
    store_bind_text(st, 3, role);
    store_bind_text(st, 4, content);
    sqlite3_bind_double(st, 5, store_now());
    if ((rc = store_exec_stmt(s, st, "storing a message", err)) != PB_OK) {
        if (store_errcode(s) == SQLITE_CONSTRAINT_FOREIGNKEY)
            rc = pb_errf(err, PB_ERR_NOT_FOUND, "impression %lld does not exist",
                         (long long)impression_id);
        return rc;
    }
    if (store_changes(s) == 1) {
        *id = store_last_insert_id(s);
        return PB_OK;
    }
    if ((rc = store_prepare(s, SQL_CONVERSATION_EXISTS, &st, err)) != PB_OK)
        return rc;
    store_bind_text(st, 1, conversation_id);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step == SQLITE_DONE)
        return pb_errf(err, PB_ERR_NOT_FOUND, "conversation %s does not exist",
                       conversation_id ? conversation_id : "(null)");
    return step == SQLITE_ROW ? PB_OK : store_sql_error(s, "storing a message", err);
}

void feedback_message_list_free(struct feedback_message *list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        free(list[i].content);
    free(list);
}

int feedback_last_messages(store *s, const char *conversation_id, size_t max,
                           struct feedback_message **out, size_t *n, char *err)
{
    sqlite3_stmt *st;
    size_t count = 0;
    int step = SQLITE_DONE, ok = 1;
    *out = NULL;
    *n = 0;
    struct feedback_message *list = calloc(max ? max : 1, sizeof *list);
    if (!list)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    int rc = store_prepare(s, SQL_MESSAGES_LAST, &st, err);
    if (rc != PB_OK) {
        free(list);
        return rc;
    }
    store_bind_text(st, 1, conversation_id);
    sqlite3_bind_int64(st, 2, (int64_t)max);
    while (count < max && (step = sqlite3_step(st)) == SQLITE_ROW) {
        snprintf(list[count].role, sizeof list[count].role, "%s",
                 (const char *)sqlite3_column_text(st, 0));
        list[count].content = store_column_strdup(st, 1, &ok);
        list[count].created_at = sqlite3_column_double(st, 2);
        count++;
    }
    if (!ok)
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    else if (step != SQLITE_DONE && step != SQLITE_ROW)
        rc = store_sql_error(s, "reading messages", err);
    sqlite3_reset(st);
    if (rc != PB_OK) {
        feedback_message_list_free(list, count);
        return rc;
    }
    *out = list;
    *n = count;
    return PB_OK;
}

int feedback_purge_messages(store *s, double before, int64_t *deleted, char *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, SQL_MESSAGES_PURGE, &st, err);
    if (rc != PB_OK)
        return rc;
    sqlite3_bind_double(st, 1, before);
    rc = store_exec_stmt(s, st, "purging messages", err);
    if (rc == PB_OK && deleted)
        *deleted = store_changes(s);
    return rc;
}
