/* store.h — the database connection, on one of two backends chosen by what db.url names: a
 * file path is SQLite (set-up: WAL, busy timeout, foreign keys, synchronous, secure_delete;
 * migrations from db/NNN_name.sql; backup, checks and WAL checkpoints), a postgresql:// URL is
 * PostgreSQL through store/pgconn (migrations from db/pg/, synchronous_commit on). For the
 * store family (experiment, arms, feedback, impressions, runs, writer; statements through
 * stmt.h) it owns the per-connection statement cache, a backend-neutral statement type
 * (store_stmt: bind, step, read columns), transactions, savepoints, errors as messages and
 * run-once job locks. With them it is the only code that speaks SQL (docs/STORE.md); nothing
 * outside src/store/ knows which backend is in use. A handle is used by one thread at a time
 * (open one per worker thread). Every write acknowledged by a PB_OK return is committed.
 * Knows nothing of tables' meaning, bandit policies, HTTP or the LLM. */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "base/pb.h"

typedef struct store store;

struct store_options {
    int busy_timeout_ms;     /* wait this long for a lock before failing */
    const char *synchronous; /* "FULL" (survives power loss) or "NORMAL" (survives crashes) */
    const char *vfs;         /* a registered SQLite VFS by name; NULL = the default */
};

/* Opens the database at path — a file (SQLite, created if absent) or a postgresql:// URL
 * (the database must exist) — and applies pending migrations. SQLite: each migration in its own
 * transaction. PostgreSQL: all pending ones in one transaction under an advisory lock, so
 * replicas starting together migrate once; busy_timeout_ms is the lock timeout, synchronous is
 * not used (synchronous_commit is always on). opt NULL = FULL and 5000 ms. Errors:
 * PB_ERR_VERSION for a schema newer than this binary, PB_ERR_DB for a file that is not a
 * database, corrupt or locked too long, PB_ERR_UNAVAILABLE for a server that cannot be
 * reached; a URL's password never appears in a message. */
pb_status store_open(const char *path, const struct store_options *opt, store **out, char *err);

/* store_open with db.url (or, when it is empty, db.path; or path_override when not NULL),
 * db.synchronous and db.busy_timeout_ms from cfg; db.vfs = "faulty" registers
 * store/faultvfs.h with db.fault_file and opens through it (tests only, SQLite only). */
pb_status store_open_config(const config *cfg, const char *path_override, store **out, char *err);

void store_close(store *s);

/* True when s is on PostgreSQL. Only the store family may branch on it (for the few SQL texts
 * whose dialects differ); nothing outside src/store/ should need to. */
bool store_is_pg(const store *s);
/* What db.url or path names, fit for messages: a file path, or a URL without its password. */
void store_describe(const char *path, char *out, size_t len);

int store_schema_version(const store *s);     /* user_version after open */
int store_schema_latest(void);                /* highest migration compiled in */
int store_migrations_applied(const store *s); /* how many store_open applied */

/* True when json is NULL or parses as a JSON object (require_object) or any JSON value. */
bool store_json_valid(const char *json, bool require_object);

/* ---- maintenance ---- */

/* Online copy of the whole database to path (sqlite3 backup API) while others keep writing.
 * An existing file at path is PB_ERR_CONFLICT; the copy appears only when complete. On
 * PostgreSQL it does not apply: PB_ERR_INVALID with a message naming pg_dump. */
pb_status store_backup(store *s, const char *path, char *err);

struct store_counts {
    int64_t experiments, arms, users, conversations, impressions, rewards, messages, runs,
        run_steps, judge_evals;
};
pb_status store_count_rows(store *s, struct store_counts *out, char *err);
/* PRAGMA wal_checkpoint(TRUNCATE): copies every committed page from the WAL into the database
 * file and truncates the WAL to zero bytes, so that what secure_delete (on for every handle)
 * overwrote is gone from both files. It cannot finish while another connection reads an older
 * snapshot or writes: it waits up to wait_ms for them, then gives up with *complete = false
 * (not an error; try again later). Must not run inside a transaction of s. PB_ERR_DB for a
 * real failure (I/O, disk full). On PostgreSQL there is no WAL file of ours to truncate:
 * *complete = true at once (the server's VACUUM reclaims deleted rows). */
pb_status store_checkpoint(store *s, int wait_ms, bool *complete, char *err);

/* PRAGMA integrity_check; PB_ERR_DB with the first problem when not "ok". On PostgreSQL the
 * server keeps its own pages' checksums: this checks that the connection answers. */
pb_status store_integrity_check(store *s, char *err);

/* ---- run-once jobs across replicas ---- */

/* Takes the lock named name for a background job that must run in one process at a time
 * (retention, the reward-wait sweep) when several processes share the database. PostgreSQL: a
 * session advisory lock, never waited for; *got = false when another connection holds it. It
 * is held until store_job_unlock or until the connection ends, also when the process is
 * killed. SQLite: *got = true (processes on one file each run the job; its statements are
 * idempotent). */
pb_status store_try_job_lock(store *s, const char *name, bool *got, char *err);
/* Releases a lock store_try_job_lock took (nothing when it was not held). */
void store_job_unlock(store *s, const char *name);

/* ---- for the store family only: statements, the statement cache, transactions, errors ---- */

/* A prepared statement on either backend; the store owns it (the cache below). SQL texts use
 * SQLite's ?N placeholders; PostgreSQL receives them as $N. */
typedef struct store_stmt store_stmt;

/* The statement for sql (a static string: the pointer is the cache key), prepared on first use
 * per connection, reset and with bindings cleared (unbound parameters are NULL). */
pb_status store_prepare(store *s, const char *sql, store_stmt **st, char *err);
/* Bind parameter idx (1-based). Text is copied; len -1 = up to its NUL. A failure to copy
 * (out of memory) is reported by the next store_step. */
void store_bind_int(store_stmt *st, int idx, int64_t v);
void store_bind_real(store_stmt *st, int idx, double v);
void store_bind_text(store_stmt *st, int idx, const char *text, int len);
void store_bind_null(store_stmt *st, int idx);
/* Runs or advances st: 1 a row is ready, 0 no more rows (a write has run), -1 failed
 * (store_sql_error tells why). */
int store_step(store_stmt *st);
/* Ends the statement's run (its rows are gone); bindings stay. */
void store_reset(store_stmt *st);
/* The current row's columns (0-based). SQL NULL reads 0, 0.0 and NULL; text is borrowed until
 * the next store_step or store_reset. An integer column read as real and the other way round
 * convert as SQLite does (a real is truncated). */
int64_t store_col_int(store_stmt *st, int col);
double store_col_real(store_stmt *st, int col);
const char *store_col_text(store_stmt *st, int col);
int store_col_bytes(store_stmt *st, int col);
bool store_col_is_null(store_stmt *st, int col);

/* BEGIN IMMEDIATE on SQLite (waits up to the busy timeout), BEGIN on PostgreSQL; COMMIT (rolls
 * back when it fails); ROLLBACK (never fails). */
pb_status store_begin(store *s, char *err);
/* store_begin for the rare writes that read, then insert what they did not find (an
 * experiment's get-or-create, the prompts folder's sync, promotion, the reward-wait sweep):
 * on PostgreSQL it also waits (up to the lock timeout) for one store-wide transaction lock, so
 * replicas that start together run them one after another, as BEGIN IMMEDIATE makes them on
 * SQLite. Not for the hot path: the writer's batches use store_begin. */
pb_status store_begin_serial(store *s, char *err);
pb_status store_commit(store *s, char *err);
void store_rollback(store *s);
/* Ends the transaction store_begin opened: COMMIT when rc is PB_OK, else ROLLBACK. Returns rc,
 * or the commit's failure. */
pb_status store_end(store *s, pb_status rc, char *err);
/* Inside a transaction: SAVEPOINT, and its end — RELEASE when rc is PB_OK, else ROLLBACK TO
 * it first, so one record's failure undoes only that record. Nothing to do when SQLite already
 * rolled the whole transaction back (store_in_transaction is then false). One level only. On
 * PostgreSQL a failed statement aborts the whole transaction unless it ran in a savepoint:
 * a statement that may fail for a record's data inside a transaction must run in one. */
pb_status store_savepoint(store *s, char *err);
void store_savepoint_end(store *s, pb_status rc);
bool store_in_transaction(store *s);
/* PostgreSQL: true when a statement failed in the open transaction, which then takes no more
 * statements until a rollback (to a savepoint). SQLite: false. */
bool store_transaction_aborted(store *s);
/* True when the last failure came from the file, the disk, the server or the locks (full, I/O
 * error, corrupt, read-only, busy, connection lost, out of memory) rather than from a record's
 * data (a constraint). */
bool store_error_is_storage(store *s);
/* True when the last failure was PostgreSQL breaking a deadlock or a serialization conflict
 * (SQLSTATE class 40): the transaction stored nothing and may simply run again. Never on
 * SQLite, whose writers wait for one lock. */
bool store_error_is_transient(store *s);
/* Turns the last failure into PB_ERR_DB with a message naming what failed and why (locked,
 * corrupt, full, ...); returns PB_ERR_DB. */
pb_status store_sql_error(store *s, const char *what, char *err);
double store_now(void);

/* What the last failure was, on either backend. */
enum store_error_kind {
    STORE_ERR_NONE,
    STORE_ERR_UNIQUE,
    STORE_ERR_PRIMARYKEY,
    STORE_ERR_FOREIGNKEY,
    STORE_ERR_CHECK,
    STORE_ERR_NOTNULL,
    STORE_ERR_STORAGE,
    STORE_ERR_OTHER,
};
enum store_error_kind store_error_kind(store *s);
/* The id the last INSERT of this connection generated for a table's integer key (not set by an
 * INSERT that gave the id itself), and the rows changed by the last statement. */
int64_t store_last_insert_id(store *s);
int store_changes(store *s);

#endif
