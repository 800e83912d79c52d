/* pgconn.h — one connection to PostgreSQL (libpq) for the store family: opened by a
 * postgresql:// URL with a bounded connect timeout and synchronous_commit asserted on; the
 * db/pg/NNN_name.sql migrations applied under an advisory lock with the schema version
 * recorded; a per-connection prepared-statement cache keyed by SQL text, which may use
 * SQLite's `?` and `?N` placeholders (rewritten by pgsql.h) so that one SQL text serves both
 * backends; typed binds and reads; transactions and savepoints; errors as pb_status +
 * message; session advisory locks for background jobs that must run once across replicas. A
 * handle is used by one thread at a time. Knows nothing of the tables' meaning. Only store.c
 * calls it (docs/STORE.md "PostgreSQL backend"); libpq appears only in pgconn.c. */
#ifndef PGCONN_H
#define PGCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/pb.h"

typedef struct pgconn pgconn;

struct pgconn_options {
    int connect_timeout_s;    /* give up connecting after this long; 0 = 5 (libpq's least is 2) */
    int lock_timeout_ms;      /* wait this long for a row, table or advisory lock; 0 = 5000 */
    int statement_timeout_ms; /* cancel a statement that runs longer; 0 = no limit */
};

/* Connects (bounded by connect_timeout_s), sets synchronous_commit = on, lock_timeout and
 * statement_timeout, checks synchronous_commit reads back "on", and applies the pending
 * db/pg migrations in one transaction while holding an advisory lock, so replicas starting
 * together migrate once. opt NULL = the defaults. Errors: PB_ERR_UNAVAILABLE when the server
 * cannot be reached, PB_ERR_VERSION for a schema newer than this binary, PB_ERR_DB for a
 * failing migration or setting; the message never shows the URL's password. */
pb_status pgconn_open(const char *url, const struct pgconn_options *opt, pgconn **out, char *err);
void pgconn_close(pgconn *c);

int pgconn_schema_version(const pgconn *c);     /* after open */
int pgconn_schema_latest(void);                 /* highest db/pg migration compiled in */
int pgconn_migrations_applied(const pgconn *c); /* how many pgconn_open applied */

/* ---- statements ---- */

enum pgconn_arg_type {
    PGCONN_ARG_END,
    PGCONN_ARG_NULL,
    PGCONN_ARG_INT,
    PGCONN_ARG_REAL,
    PGCONN_ARG_TEXT
};

/* One parameter value; build it with the PGCONN_* macros below. */
struct pgconn_arg {
    enum pgconn_arg_type type;
    int64_t i;
    double d;
    const char *text; /* NULL binds SQL NULL */
    int len;          /* bytes of text; -1 = up to its NUL */
};

#define PGCONN_INT(v)      ((struct pgconn_arg){.type = PGCONN_ARG_INT, .i = (v)})
#define PGCONN_REAL(v)     ((struct pgconn_arg){.type = PGCONN_ARG_REAL, .d = (v)})
#define PGCONN_TEXT(v)     ((struct pgconn_arg){.type = PGCONN_ARG_TEXT, .text = (v), .len = -1})
#define PGCONN_TEXTN(v, n) ((struct pgconn_arg){.type = PGCONN_ARG_TEXT, .text = (v), .len = (n)})
#define PGCONN_NULL        ((struct pgconn_arg){.type = PGCONN_ARG_NULL})
/* The argument list the *_argv functions take: the values, then an end marker. */
#define PGCONN_ARGV(...) ((const struct pgconn_arg[]){__VA_ARGS__, {.type = PGCONN_ARG_END}})

/* A statement's rows, read as text and converted on access. Caller frees. */
typedef struct pgconn_result pgconn_result;

/* Runs sql with args (NULL = none; their count must equal the statement's parameters). The
 * statement is prepared on the first use of this SQL text with these argument types on this
 * connection (PQprepare) and executed by name afterwards. `what` names the work in an error
 * ("storing a reward"). *out gets the rows; pgconn_changes tells how many rows a write touched. */
pb_status pgconn_query_argv(pgconn *c, const char *sql, const struct pgconn_arg *args,
                            pgconn_result **out, const char *what, char *err);
#define pgconn_query(c, sql, out, what, err, ...)                                                  \
    pgconn_query_argv(c, sql, PGCONN_ARGV(__VA_ARGS__), out, what, err)
/* pgconn_query_argv without rows. */
pb_status pgconn_exec_argv(pgconn *c, const char *sql, const struct pgconn_arg *args,
                           const char *what, char *err);
#define pgconn_exec(c, sql, what, err, ...)                                                        \
    pgconn_exec_argv(c, sql, PGCONN_ARGV(__VA_ARGS__), what, err)

int pgconn_rows(const pgconn_result *r);
int pgconn_cols(const pgconn_result *r);
bool pgconn_is_null(const pgconn_result *r, int row, int col);
/* A column as a 64-bit integer: booleans read 1/0, a real is truncated (as
 * sqlite3_column_int64 does), NULL reads 0. */
int64_t pgconn_get_int(const pgconn_result *r, int row, int col);
/* A column as a double (exact: PostgreSQL prints doubles with round-trip precision); NULL
 * reads 0. */
double pgconn_get_real(const pgconn_result *r, int row, int col);
/* A column's text, borrowed until pgconn_result_free; NULL for SQL NULL. */
const char *pgconn_get_text(const pgconn_result *r, int row, int col);
void pgconn_result_free(pgconn_result *r);

/* Rows inserted, updated or deleted by the last successful statement. */
int64_t pgconn_changes(const pgconn *c);
/* How many statements this connection has prepared on the server (the cache's size). */
size_t pgconn_prepared_count(const pgconn *c);

/* ---- transactions ---- */

/* BEGIN; COMMIT (a transaction an earlier error aborted is rolled back and reported, not
 * committed); ROLLBACK (never fails). Unlike SQLite, a failed statement aborts the whole
 * transaction: wrap a statement that may fail in a savepoint. */
pb_status pgconn_begin(pgconn *c, char *err);
pb_status pgconn_commit(pgconn *c, char *err);
void pgconn_rollback(pgconn *c);
/* COMMIT when rc is PB_OK, else ROLLBACK. Returns rc, or the commit's failure. */
pb_status pgconn_end(pgconn *c, pb_status rc, char *err);
/* Inside a transaction: SAVEPOINT, and its end — RELEASE when rc is PB_OK, else ROLLBACK TO it
 * first, so one record's failure undoes only that record and the transaction goes on. */
pb_status pgconn_savepoint(pgconn *c, char *err);
void pgconn_savepoint_end(pgconn *c, pb_status rc);
bool pgconn_in_transaction(const pgconn *c);
/* True when a statement failed in the open transaction (it takes no more until a rollback). */
bool pgconn_transaction_aborted(const pgconn *c);

/* ---- errors ---- */

/* What the last failure was. STORAGE: the server, the connection, the disk, a lock wait or a
 * timeout rather than the record's data (the writer treats those as unhealthy). */
enum pgconn_error_kind {
    PGCONN_ERR_NONE,
    PGCONN_ERR_UNIQUE,
    PGCONN_ERR_PRIMARYKEY,
    PGCONN_ERR_FOREIGNKEY,
    PGCONN_ERR_CHECK,
    PGCONN_ERR_NOTNULL,
    PGCONN_ERR_STORAGE,
    PGCONN_ERR_OTHER,
};
enum pgconn_error_kind pgconn_error_kind(const pgconn *c);
/* The SQLSTATE of the last failure ("23505", ...), "" when there was none. */
const char *pgconn_sqlstate(const pgconn *c);

/* ---- advisory locks, for work that must run once across replicas ---- */

/* The 64-bit advisory-lock key for a job name (FNV-1a). */
int64_t pgconn_lock_key(const char *name);
/* pg_try_advisory_lock: *got = true when this connection now holds the lock for name (it
 * is held until pgconn_unlock or until the connection ends, also when the process dies);
 * false when another connection holds it. Never waits. */
pb_status pgconn_try_lock(pgconn *c, const char *name, bool *got, char *err);
/* Releases a lock pgconn_try_lock took; PB_ERR_NOT_FOUND when this connection did not hold it. */
pb_status pgconn_unlock(pgconn *c, const char *name, char *err);

#endif
