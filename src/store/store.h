/* store.h — the SQLite connection: set-up (WAL, busy timeout, foreign keys, synchronous,
 * secure_delete), schema migrations compiled in from db/NNN_name.sql, backup, checks and WAL
 * checkpoints, and for the store family (experiment, arms, feedback, impressions, runs, writer;
 * statements through stmt.h) the per-connection statement cache, transactions, savepoints and
 * SQLite errors as messages. With them it is
 * the only code that speaks SQL (docs/STORE.md). A handle is used by one thread at a time
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

/* Opens (creating if absent) the database at path and applies pending migrations, each in its
 * own transaction. opt NULL = FULL and 5000 ms. Errors: PB_ERR_VERSION for a schema newer than
 * this binary, PB_ERR_DB for a file that is not a database, corrupt or locked too long. */
pb_status store_open(const char *path, const struct store_options *opt, store **out, char *err);

/* store_open with db.path (or path_override when not NULL), db.synchronous and
 * db.busy_timeout_ms from cfg; db.vfs = "faulty" registers store/faultvfs.h with db.fault_file
 * and opens through it (tests only). */
pb_status store_open_config(const config *cfg, const char *path_override, store **out, char *err);

void store_close(store *s);

int store_schema_version(const store *s);     /* user_version after open */
int store_schema_latest(void);                /* highest migration compiled in */
int store_migrations_applied(const store *s); /* how many store_open applied */

/* True when json is NULL or parses as a JSON object (require_object) or any JSON value. */
bool store_json_valid(const char *json, bool require_object);

/* ---- maintenance ---- */

/* Online copy of the whole database to path (sqlite3 backup API) while others keep writing.
 * An existing file at path is PB_ERR_CONFLICT; the copy appears only when complete. */
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
 * real failure (I/O, disk full). */
pb_status store_checkpoint(store *s, int wait_ms, bool *complete, char *err);

/* PRAGMA integrity_check; PB_ERR_DB with the first problem when not "ok". */
pb_status store_integrity_check(store *s, char *err);

/* ---- for the store family only: the statement cache, transactions, errors ---- */

struct sqlite3_stmt;

/* The statement for sql (a static string: the pointer is the cache key), prepared on first use
 * per connection, reset and with bindings cleared. Owned by the handle. stmt.h binds and runs
 * it. */
pb_status store_prepare(store *s, const char *sql, struct sqlite3_stmt **st, char *err);
/* BEGIN IMMEDIATE (waits up to the busy timeout), COMMIT (rolls back when it fails), ROLLBACK
 * (never fails). */
pb_status store_begin(store *s, char *err);
pb_status store_commit(store *s, char *err);
void store_rollback(store *s);
/* Ends the transaction store_begin opened: COMMIT when rc is PB_OK, else ROLLBACK. Returns rc,
 * or the commit's failure. */
pb_status store_end(store *s, pb_status rc, char *err);
/* Inside a transaction: SAVEPOINT, and its end — RELEASE when rc is PB_OK, else ROLLBACK TO
 * it first, so one record's failure undoes only that record. Nothing to do when SQLite already
 * rolled the whole transaction back (store_in_transaction is then false). One level only. */
pb_status store_savepoint(store *s, char *err);
void store_savepoint_end(store *s, pb_status rc);
bool store_in_transaction(store *s);
/* True when the last failure came from the file, the disk or the locks (full, I/O error,
 * corrupt, read-only, busy, out of memory) rather than from a record's data (a constraint). */
bool store_error_is_storage(store *s);
/* Turns the last SQLite error into PB_ERR_DB with a message naming what failed and why
 * (locked, corrupt, full, ...); returns PB_ERR_DB. */
pb_status store_sql_error(store *s, const char *what, char *err);
double store_now(void);
/* The connection's last inserted rowid, rows changed by the last statement, and extended
 * SQLite result code of the last failure (SQLITE_CONSTRAINT_UNIQUE, ...). */
int64_t store_last_insert_id(store *s);
int store_changes(store *s);
int store_errcode(store *s);

#endif
