/* usage.c — impression_usage rows and their sums per arm (usage.h). */
#include "store/usage.h"

#include "store/stmt.h"

#include <stdlib.h>
#include <string.h>

static const char *SQL_USAGE_INSERT =
    "INSERT INTO impression_usage (impression_id, model, prompt_tokens, completion_tokens) "
    "VALUES (?1, ?2, ?3, ?4)";
/* SQLite: CROSS JOIN keeps the join order; PostgreSQL has no CROSS JOIN ... ON. */
#define SQL_USAGE_PER_ARM_(JOIN)                                                                   \
    "SELECT i.arm_id, count(*), coalesce(sum(u.prompt_tokens), 0), "                               \
    "coalesce(sum(u.completion_tokens), 0) FROM impressions i " JOIN " impression_usage u ON "     \
    "u.impression_id = i.id WHERE i.experiment_id = ?1 GROUP BY i.arm_id ORDER BY i.arm_id"
static const char *SQL_USAGE_PER_ARM = SQL_USAGE_PER_ARM_("CROSS JOIN");
static const char *SQL_USAGE_PER_ARM_PG = SQL_USAGE_PER_ARM_("JOIN");

pb_status usage_record_tx(store *s, const struct usage_row *u, char *err)
{
    pb_status rc = stmt_exec(s, SQL_USAGE_INSERT, "storing an answer's token usage", err,
                             STMT_INT(u->impression_id), STMT_TEXT(u->model),
                             STMT_INT(u->prompt_tokens > 0 ? u->prompt_tokens : 0),
                             STMT_INT(u->completion_tokens > 0 ? u->completion_tokens : 0));
    if (rc != PB_OK && store_error_kind(s) == STORE_ERR_PRIMARYKEY)
        rc = pb_errf(err, PB_ERR_CONFLICT, "impression %lld already has its usage",
                     (long long)u->impression_id);
    return rc;
}

pb_status usage_per_arm(store *s, int64_t experiment_id, struct usage_arm **out, size_t *n,
                        char *err)
{
    store_stmt *st = NULL;
    struct usage_arm *list = NULL;
    size_t len = 0, cap = 0;
    *out = NULL;
    *n = 0;
    int row = 0, rc = stmt_prepare(s, store_is_pg(s) ? SQL_USAGE_PER_ARM_PG : SQL_USAGE_PER_ARM,
                                   &st, err, STMT_INT(experiment_id));
    while (rc == 0 && (row = stmt_step(s, st, "reading token usage per arm", err)) == 1) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct usage_arm *grown = realloc(list, ncap * sizeof *grown);
            if (!grown) {
                store_reset(st);
                rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
                break;
            }
            list = grown;
            cap = ncap;
        }
        list[len++] = (struct usage_arm){.arm_id = store_col_int(st, 0),
                                         .turns = store_col_int(st, 1),
                                         .prompt_tokens = store_col_int(st, 2),
                                         .completion_tokens = store_col_int(st, 3)};
    }
    if (rc == 0 && row < 0)
        rc = row;
    if (rc != 0) {
        free(list);
        return rc;
    }
    *out = list;
    *n = len;
    return PB_OK;
}
