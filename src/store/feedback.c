/* feedback.c — users, consent, conversations, new impressions and rewards (one at a time or
 * batched), per-arm aggregates, messages and erasure. */
#include "store/feedback.h"

#include "base/text.h"
#include "store/experiment.h"
#include "store/stmt.h"

#include <math.h>
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
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING";
static const char *SQL_IMPRESSION_INSERT =
    "INSERT INTO impressions (id, experiment_id, arm_id, user_id, conversation_id, segment, "
    "context, propensity, activated, created_at) "
    "VALUES (?10, ?1, ?2, ?3, ?4, ?5, ?6, nullif(?7, 0), ?8, ?9)";
/* Reserves ?1 ids: the block starts past every reservation and every stored impression (rows
 * written by versions before 004, or deleted rows' ids, are never handed out again). */
#define SQL_RESERVE_IDS_(MAX)                                                                      \
    "INSERT INTO id_blocks (name, next) "                                                          \
    "VALUES ('impressions', (SELECT coalesce(max(id), 0) + 1 FROM impressions) + ?1) "             \
    "ON CONFLICT (name) DO UPDATE SET next = " MAX "(id_blocks.next, "                             \
    "(SELECT coalesce(max(id), 0) + 1 FROM impressions)) + ?1 "                                    \
    "RETURNING next - ?1"
static const char *SQL_RESERVE_IDS = SQL_RESERVE_IDS_("max");
static const char *SQL_RESERVE_IDS_PG = SQL_RESERVE_IDS_("greatest");
static const char *SQL_RETURN_IDS =
    "UPDATE id_blocks SET next = ?1 WHERE name = 'impressions' AND next = ?2";
/* A unique conflict (the event id, or the impression's one reward of a source) stores nothing
 * and answers no row, rather than failing: on PostgreSQL a failed statement would abort the
 * writer's whole transaction, and the look-up that tells a retry from a conflict must run in
 * it. */
static const char *SQL_REWARD_INSERT =
    "INSERT INTO rewards (impression_id, source, value, event_id, created_at, detail, origin) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING RETURNING id";
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
    "AS clusters GROUP BY arm_id";
static const char *SQL_MESSAGE_INSERT =
    "INSERT INTO messages (conversation_id, impression_id, role, content, created_at) "
    "SELECT c.id, nullif(?2, 0), ?3, ?4, ?5 FROM conversations c JOIN users u ON u.id = "
    "c.user_id WHERE c.id = ?1 AND u.consent = 1";
static const char *SQL_CONVERSATION_EXISTS = "SELECT 1 FROM conversations WHERE id = ?1";
static const char *SQL_MESSAGES_LAST =
    "SELECT role, content, created_at FROM (SELECT id, role, content, created_at FROM messages "
    "WHERE conversation_id = ?1 ORDER BY id DESC LIMIT ?2) AS recent ORDER BY id";
static const char *SQL_MESSAGES_PURGE = "DELETE FROM messages WHERE created_at < ?1";

/* Runs one erasure statement bound to the user id; *changed (may be NULL) gets its row count. */
static pb_status erase_rows(store *s, const char *sql, const char *user_id, int64_t *changed,
                            char *err)
{
    pb_status rc = stmt_exec(s, sql, "erasing", err, STMT_TEXT(user_id));
    if (rc == PB_OK && changed)
        *changed = store_changes(s);
    return rc;
}

/* PB_OK when arm_id is an arm (active or retired) of experiment_id, PB_ERR_INVALID when not. */
static pb_status check_arm_in_experiment(store *s, int64_t experiment_id, int64_t arm_id, char *err)
{
    int state = store_experiment_arm_state(s, experiment_id, arm_id, err);
    if (state == PB_ERR_NOT_FOUND)
        return PB_ERR_INVALID; /* the caller's mistake; err already names the arm */
    return state < 0 ? state : PB_OK;
}

static pb_status check_id(const char *id, const char *what, char *err)
{
    if (!id || !*id || strlen(id) > 256 || !text_utf8_valid(id, strlen(id)))
        return pb_errf(err, PB_ERR_INVALID, "%s must be 1 to 256 bytes of UTF-8", what);
    return PB_OK;
}

static pb_status ensure_user(store *s, const char *user_id, char *err)
{
    return stmt_exec(s, SQL_USER_ENSURE, "storing a user", err, STMT_TEXT(user_id),
                     STMT_REAL(store_now()));
}

pb_status feedback_ensure_user(store *s, const char *user_id, char *err)
{
    return ensure_user(s, user_id, err);
}

pb_status feedback_set_consent(store *s, const char *user_id, int consent, char *err)
{
    pb_status rc = check_id(user_id, "user id", err);
    if (rc != PB_OK)
        return rc;
    return stmt_exec(s, SQL_USER_CONSENT, "setting consent", err, STMT_TEXT(user_id),
                     STMT_INT(consent != 0), STMT_REAL(store_now()));
}

pb_status feedback_get_consent(store *s, const char *user_id, int *consent, char *err)
{
    store_stmt *st;
    int row = stmt_first(s, SQL_USER_GET_CONSENT, &st, "reading consent", err, STMT_TEXT(user_id));
    *consent = row == 1 && (int)store_col_int(st, 0);
    if (row == 1)
        store_reset(st);
    return row < 0 ? row : PB_OK;
}

pb_status feedback_erase_user_tx(store *s, const char *user_id,
                                 struct feedback_erase_counts *counts, char *err)
{
    struct feedback_erase_counts c = {0};
    pb_status rc = check_id(user_id, "user id", err);
    /* Order matters: links are cut while the conversations still name the user. */
    if (rc == PB_OK &&
        (rc = erase_rows(s, SQL_ERASE_MESSAGES, user_id, &c.messages, err)) == PB_OK &&
        (rc = erase_rows(s, SQL_ERASE_REWARD_DETAIL, user_id, &c.rewards, err)) == PB_OK &&
        (rc = erase_rows(s, SQL_ERASE_IMPRESSIONS, user_id, &c.impressions, err)) == PB_OK &&
        (rc = erase_rows(s, SQL_ERASE_CONVERSATIONS, user_id, &c.conversations, err)) == PB_OK)
        rc = erase_rows(s, SQL_ERASE_USER, user_id, NULL, err);
    if (rc == PB_OK && counts)
        *counts = c;
    return rc;
}

pb_status feedback_erase_user(store *s, const char *user_id, struct feedback_erase_counts *counts,
                              char *err)
{
    struct feedback_erase_counts c = {0};
    pb_status rc = check_id(user_id, "user id", err);
    if (rc != PB_OK || (rc = store_begin(s, err)) != PB_OK)
        return rc;
    rc = store_end(s, feedback_erase_user_tx(s, user_id, &c, err), err);
    if (rc == PB_OK && counts)
        *counts = c;
    return rc;
}

int feedback_get_conversation(store *s, const char *conversation_id, char *owner, size_t owner_len,
                              int64_t *arm_id, char *err)
{
    store_stmt *st;
    int row = stmt_first(s, SQL_CONVERSATION_GET, &st, "reading a conversation", err,
                         STMT_TEXT(conversation_id));
    if (row != 1)
        return row;
    stmt_column_copy(st, 0, owner, owner_len);
    *arm_id = store_col_int(st, 1);
    store_reset(st);
    return 1;
}

static pb_status insert_conversation(store *s, const char *conversation_id, const char *user_id,
                                     int64_t experiment_id, int64_t arm_id, const char *segment,
                                     char *err)
{
    pb_status rc = check_arm_in_experiment(s, experiment_id, arm_id, err);
    if (rc == PB_OK && user_id)
        rc = ensure_user(s, user_id, err);
    if (rc != PB_OK)
        return rc;
    return stmt_exec(s, SQL_CONVERSATION_INSERT, "storing a conversation", err,
                     STMT_TEXT(conversation_id), STMT_TEXT(user_id), STMT_INT(experiment_id),
                     STMT_INT(arm_id), STMT_TEXT(segment), STMT_REAL(store_now()));
}

/* The look-up and insert of feedback_open_conversation, in the caller's transaction. */
static pb_status open_conversation(store *s, const char *conversation_id, const char *user_id,
                                   int64_t experiment_id, int64_t arm_id, const char *segment,
                                   int64_t *arm, int *found, char *err)
{
    char owner[260];
    *found = feedback_get_conversation(s, conversation_id, owner, sizeof owner, arm, err);
    if (*found == 1 && strcmp(owner, user_id ? user_id : "") != 0)
        return pb_errf(err, PB_ERR_FORBIDDEN, "conversation %s belongs to another user",
                       conversation_id);
    if (*found < 0)
        return *found;
    if (*found == 0) {
        *arm = arm_id;
        pb_status rc =
            insert_conversation(s, conversation_id, user_id, experiment_id, arm_id, segment, err);
        if (rc != PB_OK || store_changes(s) == 1)
            return rc;
        /* Another replica stored it between the look-up and the insert (PostgreSQL takes no
         * write lock at BEGIN): its row, owner and arm decide, as if it had been found. */
        *found = feedback_get_conversation(s, conversation_id, owner, sizeof owner, arm, err);
        if (*found < 0)
            return *found;
        if (*found == 0)
            return pb_errf(err, PB_ERR_CONFLICT, "conversation %s: stored and gone again",
                           conversation_id);
        if (strcmp(owner, user_id ? user_id : "") != 0)
            return pb_errf(err, PB_ERR_FORBIDDEN, "conversation %s belongs to another user",
                           conversation_id);
    }
    return PB_OK;
}

static pb_status check_conversation_ids(const char *conversation_id, const char *user_id, char *err)
{
    pb_status rc = check_id(conversation_id, "conversation id", err);
    if (rc == PB_OK && user_id)
        rc = check_id(user_id, "user id", err);
    return rc;
}

pb_status feedback_open_conversation(store *s, const char *conversation_id, const char *user_id,
                                     int64_t experiment_id, int64_t arm_id, const char *segment,
                                     int64_t *sticky_arm_id, int *created, char *err)
{
    pb_status rc = check_conversation_ids(conversation_id, user_id, err);
    if (rc != PB_OK || (rc = store_begin(s, err)) != PB_OK)
        return rc;
    rc = feedback_open_conversation_tx(s, conversation_id, user_id, experiment_id, arm_id, segment,
                                       sticky_arm_id, created, err);
    return store_end(s, rc, err);
}

pb_status feedback_open_conversation_tx(store *s, const char *conversation_id, const char *user_id,
                                        int64_t experiment_id, int64_t arm_id, const char *segment,
                                        int64_t *sticky_arm_id, int *created, char *err)
{
    int64_t arm = 0;
    int found = 0;
    pb_status rc = check_conversation_ids(conversation_id, user_id, err);
    if (rc == PB_OK)
        rc = open_conversation(s, conversation_id, user_id, experiment_id, arm_id, segment, &arm,
                               &found, err);
    if (rc != PB_OK)
        return rc;
    *sticky_arm_id = arm;
    if (created)
        *created = found == 0;
    return PB_OK;
}

pb_status feedback_reserve_impression_ids(store *s, int64_t count, int64_t *first, char *err)
{
    store_stmt *st;
    if (count < 0 || count > ((int64_t)1 << 40))
        return pb_errf(err, PB_ERR_INVALID, "cannot reserve %lld impression ids", (long long)count);
    int row = stmt_first(s, store_is_pg(s) ? SQL_RESERVE_IDS_PG : SQL_RESERVE_IDS, &st,
                         "reserving impression ids", err, STMT_INT(count));
    if (row == 0)
        return pb_errf(err, PB_ERR_DB, "reserving impression ids: no row came back");
    if (row < 0)
        return row;
    int64_t got = store_col_int(st, 0);
    /* Step to the end: in autocommit mode that is where the reservation commits. */
    row = stmt_step(s, st, "reserving impression ids", err);
    if (row == 1) {
        store_reset(st);
        return pb_errf(err, PB_ERR_DB, "reserving impression ids: more than one row came back");
    }
    if (row < 0)
        return row;
    *first = got;
    return PB_OK;
}

pb_status feedback_return_impression_ids(store *s, int64_t first, int64_t end, int *returned,
                                         char *err)
{
    pb_status rc = stmt_exec(s, SQL_RETURN_IDS, "returning impression ids", err, STMT_INT(first),
                             STMT_INT(end));
    if (returned)
        *returned = rc == PB_OK && store_changes(s) == 1;
    return rc;
}

pb_status feedback_impression_check(const struct feedback_impression *imp, char *err)
{
    if (imp->id < 0)
        return pb_errf(err, PB_ERR_INVALID, "impression id must be positive (0 = pick one)");
    if (!imp->context_checked && !store_json_valid(imp->context_json, false))
        return pb_errf(err, PB_ERR_INVALID, "impression context is not valid JSON");
    if (!(isfinite(imp->propensity) && imp->propensity >= 0 && imp->propensity <= 1))
        return pb_errf(err, PB_ERR_INVALID, "propensity must be in (0, 1] (0 = unknown)");
    if (imp->activated != 0 && imp->activated != 1)
        return pb_errf(err, PB_ERR_INVALID, "activated must be 0 or 1");
    if (imp->user_id)
        return check_id(imp->user_id, "user id", err);
    return PB_OK;
}

pb_status feedback_insert_impression_tx(store *s, const struct feedback_impression *imp,
                                        int64_t *id, char *err)
{
    return feedback_insert_impression_memo_tx(s, imp, NULL, id, err);
}

pb_status feedback_insert_impression_memo_tx(store *s, const struct feedback_impression *imp,
                                             struct feedback_memo *memo, int64_t *id, char *err)
{
    int64_t want = imp->id;
    pb_status rc = PB_OK;
    if (!memo || memo->experiment_id != imp->experiment_id || memo->arm_id != imp->arm_id) {
        rc = check_arm_in_experiment(s, imp->experiment_id, imp->arm_id, err);
        if (rc == PB_OK && memo) {
            memo->experiment_id = imp->experiment_id;
            memo->arm_id = imp->arm_id;
        }
    }
    if (rc == PB_OK && imp->user_id && (!memo || strcmp(memo->user_id, imp->user_id) != 0)) {
        rc = ensure_user(s, imp->user_id, err);
        if (rc == PB_OK && memo && strlen(imp->user_id) < sizeof memo->user_id)
            strcpy(memo->user_id, imp->user_id);
    }
    if (rc == PB_OK && want == 0)
        rc = feedback_reserve_impression_ids(s, 1, &want, err);
    if (rc != PB_OK)
        return rc;
    rc = stmt_exec(s, SQL_IMPRESSION_INSERT, "storing an impression", err,
                   STMT_INT(imp->experiment_id), STMT_INT(imp->arm_id), STMT_TEXT(imp->user_id),
                   STMT_TEXT(imp->conversation_id), STMT_TEXT(imp->segment),
                   STMT_TEXT(imp->context_json), STMT_REAL(imp->propensity),
                   STMT_INT(imp->activated), STMT_REAL(store_now()), STMT_INT(want));
    if (rc == PB_OK)
        *id = want;
    else if (store_error_kind(s) == STORE_ERR_FOREIGNKEY)
        rc = pb_errf(err, PB_ERR_NOT_FOUND, "conversation %s does not exist",
                     imp->conversation_id ? imp->conversation_id : "?");
    else if (store_error_kind(s) == STORE_ERR_PRIMARYKEY)
        rc = pb_errf(err, PB_ERR_CONFLICT,
                     "impression id %lld is already taken (ids must come from "
                     "feedback_reserve_impression_ids)",
                     (long long)want);
    return rc;
}

pb_status feedback_insert_impression(store *s, const struct feedback_impression *imp, int64_t *id,
                                     char *err)
{
    pb_status rc = feedback_impression_check(imp, err);
    if (rc != PB_OK || (rc = store_begin(s, err)) != PB_OK)
        return rc;
    return store_end(s, feedback_insert_impression_tx(s, imp, id, err), err);
}

pb_status feedback_insert_impressions(store *s, const struct feedback_impression *imps, size_t n,
                                      int64_t *ids, char *err)
{
    char why[PB_ERR_LEN];
    pb_status rc = store_begin(s, err);
    for (size_t i = 0; rc == PB_OK && i < n; i++) {
        rc = feedback_impression_check(&imps[i], why);
        if (rc == PB_OK)
            rc = feedback_insert_impression_tx(s, &imps[i], &ids[i], why);
        if (rc != PB_OK)
            pb_errf(err, rc, "impression %zu of %zu: %s (nothing stored)", i, n, why);
    }
    return store_end(s, rc, err);
}

pb_status feedback_reward_check(const struct feedback_reward *r, char *err)
{
    if (!isfinite(r->value) || r->value < -1 || r->value > 1)
        return pb_errf(err, PB_ERR_INVALID, "reward value must be a number in [-1, 1], got %g",
                       r->value);
    size_t len = r->source ? strlen(r->source) : 0;
    if (len == 0 || len > 32 || strspn(r->source, "abcdefghijklmnopqrstuvwxyz_") != len)
        return pb_errf(err, PB_ERR_INVALID, "reward source must be 1 to 32 of a-z and _");
    if (r->event_id && check_id(r->event_id, "event id", err) != PB_OK)
        return PB_ERR_INVALID;
    if (!store_json_valid(r->detail_json, false))
        return pb_errf(err, PB_ERR_INVALID, "reward detail is not valid JSON");
    return PB_OK;
}

/* After a UNIQUE failure: a retry of the same event (duplicate) or a real conflict. */
static pb_status resolve_unique(store *s, const struct feedback_reward *r, int64_t *id,
                                int *duplicate, char *err)
{
    store_stmt *st = NULL;
    int row = 0;
    if (r->event_id)
        row = stmt_first(s, SQL_REWARD_BY_EVENT, &st, "looking up an event id", err,
                         STMT_TEXT(r->event_id));
    if (row < 0)
        return row;
    if (row == 0)
        return pb_errf(err, PB_ERR_CONFLICT, "impression %lld already has a '%s' reward",
                       (long long)r->impression_id, r->source);
    int same =
        store_col_int(st, 1) == r->impression_id && strcmp(store_col_text(st, 2), r->source) == 0;
    *id = store_col_int(st, 0);
    *duplicate = same;
    store_reset(st);
    if (!same)
        return pb_errf(err, PB_ERR_CONFLICT,
                       "event id %s was already used for another impression or source",
                       r->event_id);
    return PB_OK;
}

pb_status feedback_insert_reward_tx(store *s, const struct feedback_reward *r, int64_t *id,
                                    int *duplicate, char *err)
{
    *duplicate = 0;
    pb_status rc = feedback_reward_check(r, err);
    if (rc != PB_OK)
        return rc;
    store_stmt *st;
    int row =
        stmt_first(s, SQL_REWARD_INSERT, &st, "storing a reward", err, STMT_INT(r->impression_id),
                   STMT_TEXT(r->source), STMT_REAL(r->value), STMT_TEXT(r->event_id),
                   STMT_REAL(store_now()), STMT_TEXT(r->detail_json), STMT_TEXT(r->origin));
    if (row == 1) {
        *id = store_col_int(st, 0);
        store_reset(st);
        return PB_OK;
    }
    if (row == 0)
        return resolve_unique(s, r, id, duplicate, err);
    if (store_error_kind(s) == STORE_ERR_FOREIGNKEY)
        return pb_errf(err, PB_ERR_NOT_FOUND, "impression %lld does not exist",
                       (long long)r->impression_id);
    return row;
}

pb_status feedback_insert_reward(store *s, const struct feedback_reward *r, int64_t *id,
                                 int *duplicate, char *err)
{
    int64_t got = 0;
    int dup = 0;
    /* One INSERT in autocommit mode: committed (and synced per db.synchronous) on return. */
    pb_status rc = feedback_insert_reward_tx(s, r, &got, &dup, err);
    if (rc == PB_OK) {
        if (id)
            *id = got;
        if (duplicate)
            *duplicate = dup;
    }
    return rc;
}

pb_status feedback_insert_rewards(store *s, const struct feedback_reward *r, size_t n, int64_t *ids,
                                  int *duplicates, char *err)
{
    char why[PB_ERR_LEN];
    pb_status rc = store_begin(s, err);
    for (size_t i = 0; rc == PB_OK && i < n; i++) {
        int64_t id = 0;
        int dup = 0;
        if ((rc = feedback_insert_reward_tx(s, &r[i], &id, &dup, why)) != PB_OK) {
            pb_errf(err, rc, "reward %zu of %zu: %s (nothing stored)", i, n, why);
            break;
        }
        if (ids)
            ids[i] = id;
        if (duplicates)
            duplicates[i] = dup;
    }
    return store_end(s, rc, err);
}

static pb_status read_id(store_stmt *st, void *item, char *err)
{
    *(int64_t *)item = store_col_int(st, 0);
    return PB_OK;
}

/* Ids of every arm of an experiment, ascending (the order of arms_list). Caller frees. */
static pb_status arm_ids(store *s, int64_t experiment_id, int64_t **out, size_t *n, char *err)
{
    store_stmt *st;
    struct stmt_rows rows = {0};
    pb_status rc = stmt_prepare(s, SQL_ARM_IDS, &st, err, STMT_INT(experiment_id));
    if (rc == PB_OK)
        rc = stmt_read_all(s, st, sizeof **out, read_id, NULL, &rows, "listing arms", err);
    *out = rows.items; /* empty on failure */
    *n = rows.n;
    return rc;
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
    store_stmt *st = NULL;
    int row = 0, rc = arm_ids(s, experiment_id, &ids, &n_ids, err);
    if (rc == PB_OK)
        rc = stmt_prepare(s, SQL_REWARD_WALK, &st, err, STMT_INT(experiment_id));
    while (rc == 0 && (row = stmt_step(s, st, "reading rewards", err)) == 1) {
        struct feedback_reward_row r = {
            .reward_id = store_col_int(st, 0),
            .impression_id = store_col_int(st, 1),
            .arm_id = store_col_int(st, 2),
            .source = store_col_text(st, 3),
            .value = store_col_real(st, 4),
            .created_at = store_col_real(st, 5),
        };
        r.arm_index = index_of(ids, n_ids, r.arm_id);
        rc = fn(ctx, &r);
    }
    store_reset(st);
    free(ids);
    return row < 0 ? row : rc;
}

/* Adds the rows of the impression-count and reward-statistics queries into stats. */
static pb_status fill_stats(store *s, int64_t experiment_id, const int64_t *ids,
                            struct feedback_arm_stats *stats, size_t n, char *err)
{
    const char *queries[] = {SQL_IMPRESSION_COUNTS, SQL_REWARD_STATS};
    for (int q = 0; q < 2; q++) {
        store_stmt *st;
        int row;
        pb_status rc = stmt_prepare(s, queries[q], &st, err, STMT_INT(experiment_id));
        if (rc != PB_OK)
            return rc;
        while ((row = stmt_step(s, st, "computing arm statistics", err)) == 1) {
            size_t i = index_of(ids, n, store_col_int(st, 0));
            if (i == n)
                continue;
            struct feedback_arm_stats *a = &stats[i];
            if (q == 0) {
                a->impressions = store_col_int(st, 1);
                continue;
            }
            a->n = store_col_int(st, 1);
            a->sum = store_col_real(st, 2);
            a->sum_sq = store_col_real(st, 3);
            a->clusters = store_col_int(st, 4);
            a->cluster_sum_sq = store_col_real(st, 5);
            a->cluster_n_sum = store_col_real(st, 6);
            a->cluster_n_sq = store_col_real(st, 7);
        }
        if (row < 0)
            return row;
    }
    return PB_OK;
}

pb_status feedback_arm_stats(store *s, int64_t experiment_id, struct feedback_arm_stats **out,
                             size_t *n, char *err)
{
    int64_t *ids = NULL;
    size_t n_ids = 0;
    struct feedback_arm_stats *stats = NULL;
    *out = NULL;
    *n = 0;
    pb_status rc = arm_ids(s, experiment_id, &ids, &n_ids, err);
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

pb_status feedback_insert_message(store *s, const char *conversation_id, int64_t impression_id,
                                  const char *role, const char *content, int64_t *id, char *err)
{
    store_stmt *st;
    *id = 0;
    if (!role || (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0 &&
                  strcmp(role, "system") != 0))
        return pb_errf(err, PB_ERR_INVALID, "message role must be system, user or assistant");
    if (!content || !text_utf8_valid(content, strlen(content)))
        return pb_errf(err, PB_ERR_INVALID, "message content is not valid UTF-8");
    pb_status rc = stmt_exec(s, SQL_MESSAGE_INSERT, "storing a message", err,
                             STMT_TEXT(conversation_id), STMT_INT(impression_id), STMT_TEXT(role),
                             STMT_TEXT(content), STMT_REAL(store_now()));
    if (rc != PB_OK) {
        if (store_error_kind(s) == STORE_ERR_FOREIGNKEY)
            rc = pb_errf(err, PB_ERR_NOT_FOUND, "impression %lld does not exist",
                         (long long)impression_id);
        return rc;
    }
    if (store_changes(s) == 1) {
        *id = store_last_insert_id(s);
        return PB_OK;
    }
    /* Nothing stored: no consent (not an error), or no such conversation. */
    int row = stmt_first(s, SQL_CONVERSATION_EXISTS, &st, "storing a message", err,
                         STMT_TEXT(conversation_id));
    if (row == 0)
        return pb_errf(err, PB_ERR_NOT_FOUND, "conversation %s does not exist",
                       conversation_id ? conversation_id : "(null)");
    if (row == 1)
        store_reset(st);
    return row < 0 ? row : PB_OK;
}

void feedback_message_list_free(struct feedback_message *list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        free(list[i].content);
    free(list);
}

static void clear_message(void *item)
{
    struct feedback_message *m = item;
    free(m->content);
}

static pb_status read_message(store_stmt *st, void *item, char *err)
{
    struct feedback_message *m = item;
    int ok = 1;
    stmt_column_copy(st, 0, m->role, sizeof m->role);
    m->content = stmt_column_strdup(st, 1, &ok);
    m->created_at = store_col_real(st, 2);
    return ok ? PB_OK : pb_errf(err, PB_ERR_NOMEM, "out of memory");
}

pb_status feedback_last_messages(store *s, const char *conversation_id, size_t max,
                                 struct feedback_message **out, size_t *n, char *err)
{
    store_stmt *st;
    struct stmt_rows rows = {0};
    pb_status rc =
        stmt_prepare(s, SQL_MESSAGES_LAST, &st, err, STMT_TEXT(conversation_id), STMT_INT(max));
    if (rc == PB_OK)
        rc = stmt_read_all(s, st, sizeof **out, read_message, clear_message, &rows,
                           "reading messages", err);
    *out = rows.items; /* empty on failure */
    *n = rows.n;
    return rc;
}

pb_status feedback_purge_messages(store *s, double before, int64_t *deleted, char *err)
{
    pb_status rc = stmt_exec(s, SQL_MESSAGES_PURGE, "purging messages", err, STMT_REAL(before));
    if (rc == PB_OK && deleted)
        *deleted = store_changes(s);
    return rc;
}
