/* dashq.c — the dashboard's and the chat history's reads. The walks after an id and the
 * example search name their join order (CROSS JOIN) so SQLite walks the rewards by id and looks
 * the rest up by key, whatever its statistics say: a request then costs the rows it returns. */
#include "store/dashq.h"

#include "store/stmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SQLite: CROSS JOIN keeps the join order and `+` keeps the planner off the experiment index
 * (walking rewards by id is the cheap order); PostgreSQL plans by its statistics and has no
 * CROSS JOIN ... ON, so its twin is a plain JOIN. */
#define SQL_REWARDS_AFTER_(JOIN, PLUS)                                                             \
    "SELECT r.id, r.impression_id, i.arm_id, r.source, r.value, r.created_at, EXISTS (SELECT 1 "   \
    "FROM messages m WHERE m.impression_id = r.impression_id AND m.role = 'assistant') FROM "      \
    "rewards r " JOIN " impressions i ON i.id = r.impression_id WHERE r.id > ?2 AND " PLUS         \
    "i.experiment_id = ?1 ORDER BY r.id"
static const char *SQL_REWARDS_AFTER = SQL_REWARDS_AFTER_("CROSS JOIN", "+");
static const char *SQL_REWARDS_AFTER_PG = SQL_REWARDS_AFTER_("JOIN", "");
static const char *SQL_IMPRESSIONS_AFTER =
    "SELECT id, arm_id, created_at FROM impressions WHERE id > ?2 AND +experiment_id = ?1 "
    "ORDER BY id";
/* The user's message is the last one stored before the answer in the same conversation (a
 * regenerated answer shares the turn's message). */
#define SQL_EXAMPLE_(JOIN, PLUS)                                                                   \
    "SELECT r.id, r.impression_id, r.source, r.value, r.created_at, r.detail, i.segment, "         \
    "i.context, m.content, (SELECT u.content FROM messages u WHERE u.conversation_id = "           \
    "m.conversation_id AND u.role = 'user' AND u.id < m.id ORDER BY u.id DESC LIMIT 1) FROM "      \
    "rewards r " JOIN " impressions i ON i.id = r.impression_id " JOIN " messages m ON "           \
    "m.impression_id = r.impression_id AND m.role = 'assistant' WHERE r.id <= ?4 AND " PLUS        \
    "i.experiment_id = ?1 AND " PLUS "i.arm_id = ?2 AND r.value >= ?3 AND r.value <= ?5 ORDER BY " \
    "r.id DESC LIMIT 1"
static const char *SQL_EXAMPLE = SQL_EXAMPLE_("CROSS JOIN", "+");
static const char *SQL_EXAMPLE_PG = SQL_EXAMPLE_("JOIN", "");
static const char *SQL_TURN_OF =
    "SELECT i.id, i.created_at, i.segment, i.context, m.content, (SELECT u.content FROM "
    "messages u WHERE u.conversation_id = m.conversation_id AND u.role = 'user' AND u.id < m.id "
    "ORDER BY u.id DESC LIMIT 1) FROM impressions i LEFT JOIN messages m ON m.impression_id = "
    "i.id AND m.role = 'assistant' WHERE i.id = ?1 ORDER BY m.id LIMIT 1";
static const char *SQL_RUN_STEPS =
    "SELECT iteration, coalesce(arm_id, 0), status, score, cost, created_at, tokens, calls FROM "
    "run_steps WHERE run_id = ?1 ORDER BY iteration";
static const char *SQL_RUN_COST =
    "SELECT coalesce(sum(cost), 0), coalesce(sum(tokens), 0), coalesce(sum(calls), 0) FROM "
    "run_steps WHERE run_id = ?1";
static const char *SQL_RUN_EXAMPLE =
    "SELECT iteration, score, created_at, emotion, scenario, output, reason FROM run_steps WHERE "
    "run_id "
    "= ?1 AND arm_id = ?2 AND status = 'ok' AND score IS NOT NULL ORDER BY score, iteration "
    "LIMIT 1 OFFSET ?3";
static const char *SQL_RUN_RATED =
    "SELECT count(*) FROM run_steps WHERE run_id = ?1 AND arm_id = ?2 AND status = 'ok' AND "
    "score IS NOT NULL";
static const char *SQL_CONVERSATIONS =
    "SELECT c.id, c.created_at, max(m.created_at), "
    "sum(CASE WHEN m.role = 'assistant' THEN 1 ELSE 0 END), (SELECT f.content "
    "FROM messages f WHERE f.conversation_id = c.id AND f.role = 'user' ORDER BY f.id LIMIT 1) "
    "FROM conversations c JOIN messages m ON m.conversation_id = c.id WHERE c.user_id = ?1 "
    "GROUP BY c.id, c.created_at ORDER BY max(m.id) DESC LIMIT ?2";
static const char *SQL_MESSAGES =
    "SELECT * FROM (SELECT m.id, coalesce(m.impression_id, 0), m.role, m.content, m.created_at, "
    "a.name, i.context FROM messages m LEFT JOIN impressions i ON i.id = m.impression_id LEFT "
    "JOIN arms a ON a.id = i.arm_id WHERE m.conversation_id = ?1 ORDER BY m.id DESC LIMIT ?2) "
    "AS recent ORDER BY 1";
static const char *SQL_CONVERSATION_REWARDS =
    "SELECT r.impression_id, r.source, r.value FROM impressions i JOIN rewards r ON "
    "r.impression_id = i.id WHERE i.conversation_id = ?1 ORDER BY r.id";

int dashq_rewards_after(store *s, int64_t experiment_id, int64_t after_id,
                        int (*fn)(void *ctx, const struct dashq_reward *row), void *ctx, char *err)
{
    store_stmt *st = NULL;
    int row = 0, rc = stmt_prepare(s, store_is_pg(s) ? SQL_REWARDS_AFTER_PG : SQL_REWARDS_AFTER,
                                   &st, err, STMT_INT(experiment_id), STMT_INT(after_id));
    while (rc == 0 && (row = stmt_step(s, st, "reading new rewards", err)) == 1) {
        struct dashq_reward r = {
            .reward_id = store_col_int(st, 0),
            .impression_id = store_col_int(st, 1),
            .arm_id = store_col_int(st, 2),
            .source = store_col_text(st, 3),
            .value = store_col_real(st, 4),
            .created_at = store_col_real(st, 5),
            .has_answer = (int)store_col_int(st, 6),
        };
        rc = fn(ctx, &r);
    }
    if (st)
        store_reset(st);
    return row < 0 ? row : rc;
}

int dashq_impressions_after(store *s, int64_t experiment_id, int64_t after_id,
                            int (*fn)(void *ctx, const struct dashq_impression *row), void *ctx,
                            char *err)
{
    store_stmt *st = NULL;
    int row = 0, rc = stmt_prepare(s, SQL_IMPRESSIONS_AFTER, &st, err, STMT_INT(experiment_id),
                                   STMT_INT(after_id));
    while (rc == 0 && (row = stmt_step(s, st, "reading new impressions", err)) == 1) {
        struct dashq_impression r = {store_col_int(st, 0), store_col_int(st, 1),
                                     store_col_real(st, 2)};
        rc = fn(ctx, &r);
    }
    if (st)
        store_reset(st);
    return row < 0 ? row : rc;
}

void dashq_example_clear(struct dashq_example *e)
{
    free(e->context_json);
    free(e->detail_json);
    free(e->reason);
    free(e->user_text);
    free(e->answer);
    memset(e, 0, sizeof *e);
}

int dashq_example_find(store *s, int64_t experiment_id, int64_t arm_id, double lo, double hi,
                       int64_t max_reward_id, struct dashq_example *out, char *err)
{
    store_stmt *st;
    int ok = 1;
    memset(out, 0, sizeof *out);
    int row = stmt_first(s, store_is_pg(s) ? SQL_EXAMPLE_PG : SQL_EXAMPLE, &st,
                         "reading an example answer", err, STMT_INT(experiment_id),
                         STMT_INT(arm_id), STMT_REAL(lo), STMT_INT(max_reward_id), STMT_REAL(hi));
    if (row <= 0)
        return row;
    out->reward_id = store_col_int(st, 0);
    out->impression_id = store_col_int(st, 1);
    stmt_column_copy(st, 2, out->source, sizeof out->source);
    out->value = store_col_real(st, 3);
    out->created_at = store_col_real(st, 4);
    out->detail_json = stmt_column_strdup(st, 5, &ok);
    stmt_column_copy(st, 6, out->segment, sizeof out->segment);
    out->context_json = stmt_column_strdup(st, 7, &ok);
    out->answer = stmt_column_strdup(st, 8, &ok);
    out->user_text = stmt_column_strdup(st, 9, &ok);
    store_reset(st);
    if (!ok) {
        dashq_example_clear(out);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory reading an example answer");
    }
    return 1;
}

int dashq_turn_of(store *s, int64_t impression_id, struct dashq_example *out, char *err)
{
    store_stmt *st;
    int ok = 1;
    memset(out, 0, sizeof *out);
    int row = stmt_first(s, SQL_TURN_OF, &st, "reading a turn", err, STMT_INT(impression_id));
    if (row <= 0)
        return row;
    out->impression_id = store_col_int(st, 0);
    out->created_at = store_col_real(st, 1);
    stmt_column_copy(st, 2, out->segment, sizeof out->segment);
    out->context_json = stmt_column_strdup(st, 3, &ok);
    out->answer = stmt_column_strdup(st, 4, &ok);
    out->user_text = stmt_column_strdup(st, 5, &ok);
    store_reset(st);
    if (!ok) {
        dashq_example_clear(out);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory reading a turn");
    }
    return 1;
}

/* ---- offline runs ---- */

int dashq_run_steps(store *s, int64_t run_id, int (*fn)(void *ctx, const struct dashq_step *st),
                    void *ctx, char *err)
{
    store_stmt *st = NULL;
    int row = 0, rc = stmt_prepare(s, SQL_RUN_STEPS, &st, err, STMT_INT(run_id));
    while (rc == 0 && (row = stmt_step(s, st, "reading a run's steps", err)) == 1) {
        struct dashq_step step = {
            .iteration = store_col_int(st, 0),
            .arm_id = store_col_int(st, 1),
            .status = store_col_text(st, 2),
            .has_score = !store_col_is_null(st, 3),
            .score = store_col_real(st, 3),
            .cost = store_col_real(st, 4),
            .created_at = store_col_real(st, 5),
            .tokens = store_col_int(st, 6),
            .calls = store_col_int(st, 7),
        };
        rc = fn(ctx, &step);
    }
    if (st)
        store_reset(st);
    return row < 0 ? row : rc;
}

pb_status dashq_run_cost(store *s, int64_t run_id, struct dashq_run_cost *out, char *err)
{
    store_stmt *st;
    int row = stmt_first(s, SQL_RUN_COST, &st, "reading a run's cost", err, STMT_INT(run_id));
    memset(out, 0, sizeof *out);
    if (row < 0)
        return row;
    if (row == 1) {
        out->usd = store_col_real(st, 0);
        out->tokens = store_col_int(st, 1);
        out->calls = store_col_int(st, 2);
        store_reset(st);
    }
    return PB_OK;
}

pb_status dashq_run_rated(store *s, int64_t run_id, int64_t arm_id, int64_t *n, char *err)
{
    store_stmt *st;
    int row = stmt_first(s, SQL_RUN_RATED, &st, "counting a run's steps", err, STMT_INT(run_id),
                         STMT_INT(arm_id));
    *n = 0;
    if (row < 0)
        return row;
    if (row == 1) {
        *n = store_col_int(st, 0);
        store_reset(st);
    }
    return PB_OK;
}

int dashq_run_example(store *s, int64_t run_id, int64_t arm_id, int64_t rank,
                      struct dashq_example *out, char *err)
{
    store_stmt *st;
    int ok = 1;
    memset(out, 0, sizeof *out);
    int row = stmt_first(s, SQL_RUN_EXAMPLE, &st, "reading an example step", err, STMT_INT(run_id),
                         STMT_INT(arm_id), STMT_INT(rank));
    if (row <= 0)
        return row;
    out->reward_id = store_col_int(st, 0);
    out->value = store_col_real(st, 1);
    out->created_at = store_col_real(st, 2);
    snprintf(out->source, sizeof out->source, "judge");
    stmt_column_copy(st, 3, out->segment, sizeof out->segment);
    out->user_text = stmt_column_strdup(st, 4, &ok);
    out->answer = stmt_column_strdup(st, 5, &ok);
    out->reason = stmt_column_strdup(st, 6, &ok);
    store_reset(st);
    if (!ok) {
        dashq_example_clear(out);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory reading an example step");
    }
    return 1;
}

/* ---- conversations ---- */

static void conversation_clear(void *item)
{
    free(((struct dashq_conversation *)item)->first_text);
}

static pb_status conversation_read(store_stmt *st, void *item, char *err)
{
    struct dashq_conversation *c = item;
    int ok = 1;
    stmt_column_copy(st, 0, c->id, sizeof c->id);
    c->created_at = store_col_real(st, 1);
    c->last_at = store_col_real(st, 2);
    c->answers = store_col_int(st, 3);
    c->first_text = stmt_column_strdup(st, 4, &ok);
    return ok ? PB_OK : pb_errf(err, PB_ERR_NOMEM, "out of memory listing conversations");
}

void dashq_conversation_list_free(struct dashq_conversation *list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        conversation_clear(&list[i]);
    free(list);
}

pb_status dashq_conversations(store *s, const char *user_key, size_t limit,
                              struct dashq_conversation **out, size_t *n, char *err)
{
    store_stmt *st;
    struct stmt_rows rows;
    pb_status rc =
        stmt_prepare(s, SQL_CONVERSATIONS, &st, err, STMT_TEXT(user_key), STMT_INT((int64_t)limit));
    if (rc == PB_OK)
        rc = stmt_read_all(s, st, sizeof **out, conversation_read, conversation_clear, &rows,
                           "listing conversations", err);
    *out = rc == PB_OK ? rows.items : NULL;
    *n = rc == PB_OK ? rows.n : 0;
    return rc;
}

static void message_clear(void *item)
{
    struct dashq_message *m = item;
    free(m->content);
    free(m->context_json);
}

static pb_status message_read(store_stmt *st, void *item, char *err)
{
    struct dashq_message *m = item;
    int ok = 1;
    m->id = store_col_int(st, 0);
    m->impression_id = store_col_int(st, 1);
    stmt_column_copy(st, 2, m->role, sizeof m->role);
    m->content = stmt_column_strdup(st, 3, &ok);
    m->created_at = store_col_real(st, 4);
    stmt_column_copy(st, 5, m->arm, sizeof m->arm);
    m->context_json = stmt_column_strdup(st, 6, &ok);
    if (!ok || !m->content) {
        message_clear(m);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory reading messages");
    }
    return PB_OK;
}

void dashq_message_list_free(struct dashq_message *list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        message_clear(&list[i]);
    free(list);
}

pb_status dashq_conversation_messages(store *s, const char *conversation_id, size_t limit,
                                      struct dashq_message **out, size_t *n, char *err)
{
    store_stmt *st;
    struct stmt_rows rows;
    pb_status rc = stmt_prepare(s, SQL_MESSAGES, &st, err, STMT_TEXT(conversation_id),
                                STMT_INT((int64_t)limit));
    if (rc == PB_OK)
        rc = stmt_read_all(s, st, sizeof **out, message_read, message_clear, &rows,
                           "reading a conversation", err);
    *out = rc == PB_OK ? rows.items : NULL;
    *n = rc == PB_OK ? rows.n : 0;
    return rc;
}

static pb_status turn_reward_read(store_stmt *st, void *item, char *err)
{
    struct dashq_turn_reward *r = item;
    (void)err;
    r->impression_id = store_col_int(st, 0);
    stmt_column_copy(st, 1, r->source, sizeof r->source);
    r->value = store_col_real(st, 2);
    return PB_OK;
}

pb_status dashq_conversation_rewards(store *s, const char *conversation_id,
                                     struct dashq_turn_reward **out, size_t *n, char *err)
{
    store_stmt *st;
    struct stmt_rows rows;
    pb_status rc = stmt_prepare(s, SQL_CONVERSATION_REWARDS, &st, err, STMT_TEXT(conversation_id));
    if (rc == PB_OK)
        rc = stmt_read_all(s, st, sizeof **out, turn_reward_read, NULL, &rows,
                           "reading a conversation's rewards", err);
    *out = rc == PB_OK ? rows.items : NULL;
    *n = rc == PB_OK ? rows.n : 0;
    return rc;
}
