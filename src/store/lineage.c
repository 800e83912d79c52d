/* lineage.c — evolve generations and prompt lineage: insert-or-replace and ordered reads over
 * the two tables of db/008_prompt_lineage.sql. */
#include "store/lineage.h"

#include "store/stmt.h"

#include <stdlib.h>
#include <string.h>

static const char *SQL_GEN_PUT =
    "INSERT INTO evolve_generations (evolve_run_id, generation, incumbent, screen_run_id, "
    "propose_calls, status, winner, identified) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
    "ON CONFLICT (evolve_run_id, generation) DO UPDATE SET incumbent = excluded.incumbent, "
    "screen_run_id = excluded.screen_run_id, propose_calls = excluded.propose_calls, "
    "status = excluded.status, winner = excluded.winner, identified = excluded.identified";
static const char *SQL_GEN_LIST =
    "SELECT evolve_run_id, generation, incumbent, COALESCE(screen_run_id, 0), propose_calls, "
    "status, COALESCE(winner, ''), identified FROM evolve_generations WHERE evolve_run_id = ?1 "
    "ORDER BY generation";
static const char *SQL_PROMPT_PUT =
    "INSERT INTO prompt_lineage (evolve_run_id, generation, name, prompt, parent, verdict, "
    "samples, mean, glr, threshold) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
    "ON CONFLICT (evolve_run_id, generation, name) DO UPDATE SET prompt = excluded.prompt, "
    "parent = excluded.parent, verdict = excluded.verdict, samples = excluded.samples, "
    "mean = excluded.mean, glr = excluded.glr, threshold = excluded.threshold";
static const char *SQL_PROMPT_LIST =
    "SELECT evolve_run_id, generation, name, prompt, COALESCE(parent, ''), verdict, samples, "
    "COALESCE(mean, 0), COALESCE(glr, 0), COALESCE(threshold, 0) FROM prompt_lineage WHERE "
    "evolve_run_id = ?1 AND (?2 < 0 OR generation = ?2) ORDER BY generation, name";

pb_status lineage_generation_put(store *s, const struct lineage_generation *g, char *err)
{
    return stmt_exec(s, SQL_GEN_PUT, "storing an evolve generation", err,
                     STMT_INT(g->evolve_run_id), STMT_INT(g->generation), STMT_TEXT(g->incumbent),
                     g->screen_run_id ? STMT_INT(g->screen_run_id) : STMT_NULL,
                     STMT_INT(g->propose_calls), STMT_TEXT(g->status),
                     g->winner[0] ? STMT_TEXT(g->winner) : STMT_NULL, STMT_INT(g->identified));
}

static pb_status read_generation(store_stmt *st, void *item, char *err)
{
    struct lineage_generation *g = item;
    (void)err;
    g->evolve_run_id = store_col_int(st, 0);
    g->generation = (long)store_col_int(st, 1);
    stmt_column_copy(st, 2, g->incumbent, sizeof g->incumbent);
    g->screen_run_id = store_col_int(st, 3);
    g->propose_calls = (long)store_col_int(st, 4);
    stmt_column_copy(st, 5, g->status, sizeof g->status);
    stmt_column_copy(st, 6, g->winner, sizeof g->winner);
    g->identified = (int)store_col_int(st, 7);
    return PB_OK;
}

pb_status lineage_generations(store *s, int64_t evolve_run_id, struct lineage_generation **out,
                              size_t *n, char *err)
{
    store_stmt *st;
    struct stmt_rows rows = {0};
    pb_status rc = stmt_prepare(s, SQL_GEN_LIST, &st, err, STMT_INT(evolve_run_id));
    if (rc == PB_OK)
        rc = stmt_read_all(s, st, sizeof **out, read_generation, NULL, &rows,
                           "listing evolve generations", err);
    *out = rows.items;
    *n = rows.n;
    return rc;
}

pb_status lineage_prompt_put(store *s, const struct lineage_prompt *p, char *err)
{
    return stmt_exec(s, SQL_PROMPT_PUT, "storing a prompt's lineage", err,
                     STMT_INT(p->evolve_run_id), STMT_INT(p->generation), STMT_TEXT(p->name),
                     STMT_TEXT(p->prompt), p->parent[0] ? STMT_TEXT(p->parent) : STMT_NULL,
                     STMT_TEXT(p->verdict), STMT_INT(p->samples), STMT_REAL(p->mean),
                     STMT_REAL(p->glr), STMT_REAL(p->threshold));
}

static void clear_prompt(void *item)
{
    free(((struct lineage_prompt *)item)->prompt);
}

static pb_status read_prompt(store_stmt *st, void *item, char *err)
{
    struct lineage_prompt *p = item;
    int ok = 1;
    p->evolve_run_id = store_col_int(st, 0);
    p->generation = (long)store_col_int(st, 1);
    stmt_column_copy(st, 2, p->name, sizeof p->name);
    p->prompt = stmt_column_strdup(st, 3, &ok);
    stmt_column_copy(st, 4, p->parent, sizeof p->parent);
    stmt_column_copy(st, 5, p->verdict, sizeof p->verdict);
    p->samples = (long)store_col_int(st, 6);
    p->mean = store_col_real(st, 7);
    p->glr = store_col_real(st, 8);
    p->threshold = store_col_real(st, 9);
    return ok ? PB_OK : pb_errf(err, PB_ERR_NOMEM, "out of memory");
}

pb_status lineage_prompts(store *s, int64_t evolve_run_id, long generation,
                          struct lineage_prompt **out, size_t *n, char *err)
{
    store_stmt *st;
    struct stmt_rows rows = {0};
    pb_status rc =
        stmt_prepare(s, SQL_PROMPT_LIST, &st, err, STMT_INT(evolve_run_id), STMT_INT(generation));
    if (rc == PB_OK)
        rc = stmt_read_all(s, st, sizeof **out, read_prompt, clear_prompt, &rows,
                           "listing prompt lineage", err);
    *out = rows.items;
    *n = rows.n;
    return rc;
}

void lineage_prompts_free(struct lineage_prompt *list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        free(list[i].prompt);
    free(list);
}
