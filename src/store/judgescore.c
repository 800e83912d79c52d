/* judgescore.c — live judge scores and their pairs with human rewards. */
#include "store/judgescore.h"

#include "store/stmt.h"

#include <stdlib.h>
#include <string.h>

static const char *SQL_PUT =
    "INSERT INTO live_judge_scores (impression_id, experiment_id, arm_id, judge, score, "
    "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (impression_id) DO UPDATE SET "
    "experiment_id = excluded.experiment_id, arm_id = excluded.arm_id, judge = excluded.judge, "
    "score = excluded.score, created_at = excluded.created_at";
static const char *SQL_PAIRS =
    "SELECT j.impression_id, j.arm_id, j.score, h.human, "
    "(SELECT m.content FROM messages m WHERE m.impression_id = j.impression_id AND "
    "m.role = 'assistant' ORDER BY m.id DESC LIMIT 1) "
    "FROM live_judge_scores j JOIN (SELECT impression_id, AVG(value) AS human FROM rewards "
    "WHERE source IN (" JUDGESCORE_HUMAN_SOURCES ") GROUP BY impression_id) h "
    "ON h.impression_id = j.impression_id WHERE j.experiment_id = ?1 ORDER BY j.impression_id";
static const char *SQL_COUNT = "SELECT COUNT(*) FROM live_judge_scores WHERE experiment_id = ?1";

pb_status judgescore_put(store *s, int64_t impression_id, int64_t experiment_id, int64_t arm_id,
                         const char *judge, double score, char *err)
{
    if (!(score >= -1 && score <= 1))
        return pb_errf(err, PB_ERR_INVALID, "judge score %g is outside [-1, 1]", score);
    return stmt_exec(s, SQL_PUT, "storing a live judge score", err, STMT_INT(impression_id),
                     STMT_INT(experiment_id), STMT_INT(arm_id), STMT_TEXT(judge), STMT_REAL(score),
                     STMT_REAL(store_now()));
}

static void clear_pair(void *item)
{
    free(((struct judgescore_pair *)item)->answer);
}

static pb_status read_pair(store_stmt *st, void *item, char *err)
{
    struct judgescore_pair *p = item;
    int ok = 1;
    p->impression_id = store_col_int(st, 0);
    p->arm_id = store_col_int(st, 1);
    p->judge = store_col_real(st, 2);
    p->human = store_col_real(st, 3);
    p->answer = stmt_column_strdup(st, 4, &ok);
    return ok ? PB_OK : pb_errf(err, PB_ERR_NOMEM, "out of memory");
}

pb_status judgescore_pairs(store *s, int64_t experiment_id, struct judgescore_pair **out, size_t *n,
                           char *err)
{
    store_stmt *st;
    struct stmt_rows rows = {0};
    pb_status rc = stmt_prepare(s, SQL_PAIRS, &st, err, STMT_INT(experiment_id));
    if (rc == PB_OK)
        rc = stmt_read_all(s, st, sizeof **out, read_pair, clear_pair, &rows,
                           "reading judge and human scores", err);
    *out = rows.items;
    *n = rows.n;
    return rc;
}

void judgescore_pairs_free(struct judgescore_pair *p, size_t n)
{
    for (size_t i = 0; p && i < n; i++)
        free(p[i].answer);
    free(p);
}

pb_status judgescore_count(store *s, int64_t experiment_id, int64_t *n, char *err)
{
    store_stmt *st;
    *n = 0;
    int r =
        stmt_first(s, SQL_COUNT, &st, "counting live judge scores", err, STMT_INT(experiment_id));
    if (r < 0)
        return r;
    if (r == 1) {
        *n = store_col_int(st, 0);
        store_reset(st);
    }
    return PB_OK;
}
