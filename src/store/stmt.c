/* stmt.c — binding argument lists, running and stepping cached statements, reading rows into
 * arrays, copying text columns. */
#include "store/stmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

pb_status stmt_prepare_argv(store *s, const char *sql, const struct stmt_arg *args, store_stmt **st,
                            char *err)
{
    pb_status rc = store_prepare(s, sql, st, err);
    if (rc != PB_OK)
        return rc;
    for (int i = 0; args && args[i].type != STMT_ARG_END; i++) {
        const struct stmt_arg *a = &args[i];
        switch (a->type) {
        case STMT_ARG_INT:
            store_bind_int(*st, i + 1, a->i);
            break;
        case STMT_ARG_REAL:
            store_bind_real(*st, i + 1, a->d);
            break;
        case STMT_ARG_TEXT:
            store_bind_text(*st, i + 1, a->text, a->len);
            break;
        default:
            store_bind_null(*st, i + 1);
            break;
        }
    }
    return PB_OK;
}

pb_status stmt_run(store *s, store_stmt *st, const char *what, char *err)
{
    pb_status rc = PB_OK;
    if (store_step(st) < 0)
        rc = store_sql_error(s, what, err);
    store_reset(st);
    return rc;
}

pb_status stmt_exec_argv(store *s, const char *sql, const struct stmt_arg *args, const char *what,
                         char *err)
{
    store_stmt *st;
    pb_status rc = stmt_prepare_argv(s, sql, args, &st, err);
    if (rc != PB_OK)
        return rc;
    return stmt_run(s, st, what, err);
}

int stmt_step(store *s, store_stmt *st, const char *what, char *err)
{
    int step = store_step(st);
    if (step == 1)
        return 1;
    int rc = step == 0 ? 0 : store_sql_error(s, what, err);
    store_reset(st);
    return rc;
}

int stmt_first_argv(store *s, const char *sql, const struct stmt_arg *args, store_stmt **st,
                    const char *what, char *err)
{
    pb_status rc = stmt_prepare_argv(s, sql, args, st, err);
    if (rc != PB_OK)
        return rc;
    return stmt_step(s, *st, what, err);
}

pb_status stmt_read_one_argv(store *s, const char *sql, const struct stmt_arg *args,
                             stmt_read_fn read, void *item, const char *absent, const char *what,
                             char *err)
{
    store_stmt *st;
    int row = stmt_first_argv(s, sql, args, &st, what, err);
    if (row < 0)
        return row;
    if (row == 0)
        return pb_errf(err, PB_ERR_NOT_FOUND, "%s", absent);
    pb_status rc = read(st, item, err);
    store_reset(st);
    return rc;
}

pb_status stmt_read_all(store *s, store_stmt *st, size_t size, stmt_read_fn read,
                        void (*clear)(void *item), struct stmt_rows *out, const char *what,
                        char *err)
{
    char *items = NULL;
    size_t n = 0, cap = 0;
    int row;
    pb_status rc = PB_OK;
    out->items = NULL;
    out->n = 0;
    while ((row = stmt_step(s, st, what, err)) == 1) {
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            char *grown = realloc(items, cap * size);
            if (!grown) {
                rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
                break;
            }
            items = grown;
        }
        memset(items + n * size, 0, size);
        if ((rc = read(st, items + n * size, err)) != PB_OK)
            break;
        n++;
    }
    if (row < 0)
        rc = row;
    store_reset(st);
    if (rc != PB_OK) {
        for (size_t i = 0; clear && i < n; i++)
            clear(items + i * size);
        free(items);
        return rc;
    }
    out->items = items;
    out->n = n;
    return PB_OK;
}

char *stmt_column_strdup(store_stmt *st, int col, int *ok)
{
    const char *t = store_col_text(st, col);
    if (!t)
        return NULL;
    char *copy = strdup(t);
    if (!copy)
        *ok = 0;
    return copy;
}

void stmt_column_copy(store_stmt *st, int col, char *out, size_t len)
{
    const char *t = store_col_text(st, col);
    snprintf(out, len, "%s", t ? t : "");
}
