/* store.h — the SQLite store: connection set-up (WAL, busy timeout, foreign keys, synchronous),
 * schema migrations compiled in from db/NNN_name.sql, experiments, backup and checks. With
 * arms.h, feedback.h and runs.h (which use the statement cache at the end of this header) it
 * is the only code that speaks SQL (docs/STORE.md). A handle is used by one
 * thread at a time (open one per worker thread). Every write acknowledged by a PB_OK return
 * is committed. Knows nothing of bandit policies, HTTP or the LLM. */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "base/pb.h"

typedef struct store store;

struct store_options {
    int busy_timeout_ms;     /* wait this long for a lock before failing */
    const char *synchronous; /* "FULL" (survives power loss) or "NORMAL" (survives crashes) */
};

/* Opens (creating if absent) the database at path and applies pending migrations, each in its
 * own transaction. opt NULL = FULL and 5000 ms. Errors: PB_ERR_VERSION for a schema newer than
 * this binary, PB_ERR_DB for a file that is not a database, corrupt or locked too long. */
int store_open(const char *path, const struct store_options *opt, store **out, char *err);

/* store_open with db.path (or path_override when not NULL), db.synchronous and
 * db.busy_timeout_ms from cfg. */
int store_open_config(const config *cfg, const char *path_override, store **out, char *err);

void store_close(store *s);

int store_schema_version(const store *s);     /* user_version after open */
int store_schema_latest(void);                /* highest migration compiled in */
int store_migrations_applied(const store *s); /* how many store_open applied */

/* ---- experiments ---- */

struct store_experiment {
    int64_t id;
    char name[65];
    char kind[8];            /* "live" or "offline" */
    char *policy;            /* e.g. "ucb1" */
    char *policy_params;     /* JSON text or NULL */
    char status[9];          /* "active" or "archived" */
    int64_t promoted_arm_id; /* 0 = none */
    double created_at;
};

void store_experiment_clear(struct store_experiment *e); /* frees the strings inside */
void store_experiment_list_free(struct store_experiment *list, size_t n);

/* The active experiment named name, created (with policy) if there is none. */
int store_experiment_get_or_create(store *s, const char *name, const char *kind, const char *policy,
                                   struct store_experiment *out, char *err);
/* The active experiment named name; PB_ERR_NOT_FOUND if there is none. */
int store_experiment_get(store *s, const char *name, struct store_experiment *out, char *err);
int store_experiment_get_by_id(store *s, int64_t id, struct store_experiment *out, char *err);
/* All experiments, newest first; caller frees with store_experiment_list_free. */
int store_experiment_list(store *s, struct store_experiment **out, size_t *n, char *err);
/* params_json may be NULL; otherwise it must parse as a JSON object. */
int store_experiment_set_policy(store *s, int64_t id, const char *policy, const char *params_json,
                                char *err);
/* Marks arm_id as the winner (0 unpromotes). The arm must belong to the experiment
 * (PB_ERR_NOT_FOUND) and be active (PB_ERR_CONFLICT). */
int store_experiment_promote(store *s, int64_t id, int64_t arm_id, char *err);
int store_experiment_archive(store *s, int64_t id, char *err);
/* Archives the experiment and creates a new active one with the same name, policy and copies
 * of its active arms, all in one transaction; *new_id gets the new experiment. */
int store_experiment_reset(store *s, int64_t id, int64_t *new_id, char *err);

/* ---- maintenance ---- */

/* Online copy of the whole database to path (sqlite3 backup API) while others keep writing.
 * An existing file at path is PB_ERR_CONFLICT; the copy appears only when complete. */
int store_backup(store *s, const char *path, char *err);

struct store_counts {
    int64_t experiments, arms, users, conversations, impressions, rewards, messages, runs,
        run_steps, judge_evals;
};
int store_count_rows(store *s, struct store_counts *out, char *err);
/* PRAGMA integrity_check; PB_ERR_DB with the first problem when not "ok". */
int store_integrity_check(store *s, char *err);

/* ---- for the store family only (arms.c, feedback.c, runs.c): statements, transactions ---- */

struct sqlite3_stmt;

/* The statement for sql (a static string: the pointer is the cache key), prepared on first use
 * per connection, reset and with bindings cleared. Owned by the handle. */
int store_prepare(store *s, const char *sql, struct sqlite3_stmt **st, char *err);
/* BEGIN IMMEDIATE (waits up to the busy timeout), COMMIT, ROLLBACK (never fails). */
int store_begin(store *s, char *err);
int store_commit(store *s, char *err);
void store_rollback(store *s);
/* Turns the last SQLite error into PB_ERR_DB with a message naming what failed and why
 * (locked, corrupt, full, ...); returns PB_ERR_DB. */
int store_sql_error(store *s, const char *what, char *err);
/* Steps a statement that returns no rows; resets it. */
int store_exec_stmt(store *s, struct sqlite3_stmt *st, const char *what, char *err);
/* Binds text or NULL (text == NULL) at 1-based index i. */
void store_bind_text(struct sqlite3_stmt *st, int i, const char *text);
/* Copies a text column, or NULL for SQL NULL; *ok = 0 when out of memory. */
char *store_column_strdup(struct sqlite3_stmt *st, int col, int *ok);
/* True when json is NULL or parses as a JSON object (require_object) or any JSON value. */
int store_json_valid(const char *json, int require_object);
double store_now(void);
/* The connection's last inserted rowid, rows changed by the last statement, and extended
 * SQLite result code of the last failure (SQLITE_CONSTRAINT_UNIQUE, ...). */
int64_t store_last_insert_id(store *s);
int store_changes(store *s);
int store_errcode(store *s);

#endif
