/* stmt.h — the store family's statement helpers: bind a cached statement's parameters from one
 * argument list, run it, step it with the error turned into a message, read every row into an
 * array, copy text columns. Internal to src/store/ (experiment, arms, feedback, impressions,
 * runs); nothing outside the folder includes it. It owns no statement (store.h's cache does)
 * and opens no transaction; it must not know any table.
 *
 * Arguments bind to ?1, ?2, ... in order:
 *     rc = stmt_exec(s, SQL_RUN_FINISH, "finishing a run", err, STMT_INT(run_id),
 *                    STMT_TEXT(status), STMT_REAL(store_now()));
 * The macros need at least one argument; a statement without parameters uses store_prepare. */
#ifndef STMT_H
#define STMT_H

#include <stddef.h>
#include <stdint.h>

#include "base/pb.h"
#include "store/store.h"

enum stmt_arg_type { STMT_ARG_END, STMT_ARG_NULL, STMT_ARG_INT, STMT_ARG_REAL, STMT_ARG_TEXT };

/* One parameter value; build it with the STMT_* macros below. */
struct stmt_arg {
    enum stmt_arg_type type;
    int64_t i;
    double d;
    const char *text; /* NULL binds SQL NULL */
    int len;          /* bytes of text; -1 = up to its NUL */
};

#define STMT_INT(v)      ((struct stmt_arg){.type = STMT_ARG_INT, .i = (v)})
#define STMT_REAL(v)     ((struct stmt_arg){.type = STMT_ARG_REAL, .d = (v)})
#define STMT_TEXT(v)     ((struct stmt_arg){.type = STMT_ARG_TEXT, .text = (v), .len = -1})
#define STMT_TEXTN(v, n) ((struct stmt_arg){.type = STMT_ARG_TEXT, .text = (v), .len = (n)})
#define STMT_NULL        ((struct stmt_arg){.type = STMT_ARG_NULL})
/* The argument list the *_argv functions take: the values, then an end marker. */
#define STMT_ARGV(...) ((const struct stmt_arg[]){__VA_ARGS__, {.type = STMT_ARG_END}})

/* store_prepare, then args bound to ?1, ?2, ... (text is copied). */
pb_status stmt_prepare_argv(store *s, const char *sql, const struct stmt_arg *args, store_stmt **st,
                            char *err);
#define stmt_prepare(s, sql, st, err, ...)                                                         \
    stmt_prepare_argv(s, sql, STMT_ARGV(__VA_ARGS__), st, err)

/* Runs a statement whose rows, if any, are not read, and resets it; `what` names the work in
 * an error ("storing a reward"). store_changes and store_last_insert_id tell what it did. */
pb_status stmt_run(store *s, store_stmt *st, const char *what, char *err);
/* stmt_prepare then stmt_run. */
pb_status stmt_exec_argv(store *s, const char *sql, const struct stmt_arg *args, const char *what,
                         char *err);
#define stmt_exec(s, sql, what, err, ...) stmt_exec_argv(s, sql, STMT_ARGV(__VA_ARGS__), what, err)

/* Steps st once. Returns 1 when a row is ready (step again, or store_reset when done with
 * it), 0 when there are no more rows, or a negative pb_status with err naming `what`; on 0 and
 * on an error the statement is already reset. */
int stmt_step(store *s, store_stmt *st, const char *what, char *err);
/* stmt_prepare then stmt_step: 1 the first row is ready in *st (read it, then store_reset),
 * 0 no row, negative pb_status on error (nothing to reset). */
int stmt_first_argv(store *s, const char *sql, const struct stmt_arg *args, store_stmt **st,
                    const char *what, char *err);
#define stmt_first(s, sql, st, what, err, ...)                                                     \
    stmt_first_argv(s, sql, STMT_ARGV(__VA_ARGS__), st, what, err)

/* Fills item (size bytes, zeroed first) from the current row; on failure it leaves nothing in
 * item to release. */
typedef pb_status (*stmt_read_fn)(store_stmt *st, void *item, char *err);

/* stmt_prepare, then the first row read into item by read (nothing is read on failure).
 * PB_ERR_NOT_FOUND with the message `absent` when there is no row; err names `what` on an SQL
 * error. */
pb_status stmt_read_one_argv(store *s, const char *sql, const struct stmt_arg *args,
                             stmt_read_fn read, void *item, const char *absent, const char *what,
                             char *err);

/* An array of items read by stmt_read_all; items is NULL when n is 0. Caller frees. */
struct stmt_rows {
    void *items;
    size_t n;
};
/* Steps st to its end, appending one item of size bytes per row filled by read. On failure the
 * items read so far are released with clear (may be NULL) and freed, and *out is empty. st is
 * reset on return. */
pb_status stmt_read_all(store *s, store_stmt *st, size_t size, stmt_read_fn read,
                        void (*clear)(void *item), struct stmt_rows *out, const char *what,
                        char *err);

/* Copies a text column, or NULL for SQL NULL; *ok = 0 when out of memory (else untouched). */
char *stmt_column_strdup(store_stmt *st, int col, int *ok);
/* Copies a text column into out (len bytes, cut to fit); "" for SQL NULL. */
void stmt_column_copy(store_stmt *st, int col, char *out, size_t len);

#endif
