/* store.c — the connection on SQLite (pragmas, busy timeout, migrations from the embedded
 * db/NNN_name.sql files, online backup and checks) or on PostgreSQL (store/pgconn), and for
 * both the per-connection statement cache, the statement type, transactions and errors as
 * messages. */
#include "store/store.h"

#include "base/embedded.h"
#include "store/faultvfs.h"
#include "store/pgconn.h"
#include "store/pgsql.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORE_MAX_STMT 192

/* A statement on either backend. SQLite: the prepared statement itself. PostgreSQL: the SQL
 * text (pgconn prepares it on the server on first use) with its arguments, and after the
 * first step the whole result, walked one row per step. */
struct store_stmt {
    store *s;
    const char *sql;
    sqlite3_stmt *lite;
    int nparams;
    struct pgconn_arg *args; /* nparams + 1 (the end marker); text copied into owned */
    char **owned;
    bool bind_failed;
    pgconn_result *res;
    int row, rows;
};

struct store {
    sqlite3 *db;
    pgconn *pg;
    int busy_timeout_ms;
    int schema_version;
    int applied;
    enum store_error_kind pg_kind; /* of the last PostgreSQL failure */
    char pg_msg[PB_ERR_LEN];       /* its message, without the work's name */
    size_t n_stmt;
    store_stmt *stmt[STORE_MAX_STMT];
};

/* ---- for the store family: statements, cache, transactions, errors ---- */

double store_now(void)
{
    return pb_now_wall();
}

bool store_is_pg(const store *s)
{
    return s->pg != NULL;
}

void store_describe(const char *path, char *out, size_t len)
{
    if (pgsql_is_url(path))
        pgsql_url_redact(path, out, len);
    else
        snprintf(out, len, "%s", path);
}

/* Keeps a PostgreSQL failure's message (pgconn wrote it as "WHAT: why"; what was "") for
 * store_sql_error. */
static enum store_error_kind pg_kind(store *s)
{
    switch (pgconn_error_kind(s->pg)) {
    case PGCONN_ERR_NONE:
        return STORE_ERR_NONE;
    case PGCONN_ERR_UNIQUE:
        return STORE_ERR_UNIQUE;
    case PGCONN_ERR_PRIMARYKEY:
        return STORE_ERR_PRIMARYKEY;
    case PGCONN_ERR_FOREIGNKEY:
        return STORE_ERR_FOREIGNKEY;
    case PGCONN_ERR_CHECK:
        return STORE_ERR_CHECK;
    case PGCONN_ERR_NOTNULL:
        return STORE_ERR_NOTNULL;
    case PGCONN_ERR_STORAGE:
        return STORE_ERR_STORAGE;
    default:
        return STORE_ERR_OTHER;
    }
}

static void pg_failed(store *s, pb_status rc, const char *msg)
{
    s->pg_kind = rc == PB_ERR_DB ? pg_kind(s) : STORE_ERR_OTHER;
    if (rc == PB_ERR_NOMEM)
        s->pg_kind = STORE_ERR_STORAGE;
    snprintf(s->pg_msg, sizeof s->pg_msg, "%s", strncmp(msg, ": ", 2) == 0 ? msg + 2 : msg);
}

int64_t store_last_insert_id(store *s)
{
    if (!s->pg)
        return sqlite3_last_insert_rowid(s->db);
    pgconn_result *r = NULL;
    char ignored[PB_ERR_LEN];
    int64_t id = 0;
    if (pgconn_query_argv(s->pg, "SELECT lastval()", NULL, &r, "", ignored) == PB_OK &&
        pgconn_rows(r) == 1)
        id = pgconn_get_int(r, 0, 0);
    pgconn_result_free(r);
    return id;
}

int store_changes(store *s)
{
    return s->pg ? (int)pgconn_changes(s->pg) : sqlite3_changes(s->db);
}

enum store_error_kind store_error_kind(store *s)
{
    if (s->pg)
        return s->pg_kind;
    switch (sqlite3_extended_errcode(s->db)) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return STORE_ERR_NONE;
    case SQLITE_CONSTRAINT_UNIQUE:
        return STORE_ERR_UNIQUE;
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return STORE_ERR_PRIMARYKEY;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return STORE_ERR_FOREIGNKEY;
    case SQLITE_CONSTRAINT_CHECK:
        return STORE_ERR_CHECK;
    case SQLITE_CONSTRAINT_NOTNULL:
        return STORE_ERR_NOTNULL;
    default:
        return store_error_is_storage(s) ? STORE_ERR_STORAGE : STORE_ERR_OTHER;
    }
}

pb_status store_sql_error(store *s, const char *what, char *err)
{
    if (s->pg)
        return pb_errf(err, PB_ERR_DB, "%s: %s", what, s->pg_msg[0] ? s->pg_msg : "failed");
    int code = sqlite3_errcode(s->db);
    const char *msg = sqlite3_errmsg(s->db);
    switch (code) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return pb_errf(err, PB_ERR_DB,
                       "%s: the database is locked by another connection for more than %d ms "
                       "(db.busy_timeout_ms); retry, or stop the other process",
                       what, s->busy_timeout_ms);
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return pb_errf(err, PB_ERR_DB,
                       "%s: the database file is corrupt or not a SQLite database (%s); restore "
                       "a backup or point db.path elsewhere",
                       what, msg);
    case SQLITE_FULL:
        return pb_errf(err, PB_ERR_DB, "%s: the disk is full (%s)", what, msg);
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
        return pb_errf(err, PB_ERR_DB, "%s: cannot write the database file (%s)", what, msg);
    default:
        return pb_errf(err, PB_ERR_DB, "%s: %s", what, msg);
    }
}

static void stmt_clear_pg(store_stmt *st)
{
    pgconn_result_free(st->res);
    st->res = NULL;
    st->row = st->rows = 0;
}

static void stmt_free(store_stmt *st)
{
    if (!st)
        return;
    if (st->lite)
        sqlite3_finalize(st->lite);
    stmt_clear_pg(st);
    for (int i = 0; st->owned && i < st->nparams; i++)
        free(st->owned[i]);
    free(st->owned);
    free(st->args);
    free(st);
}

/* Unbinds every parameter (NULL). */
static void stmt_clear_bindings(store_stmt *st)
{
    if (st->lite) {
        sqlite3_clear_bindings(st->lite);
        return;
    }
    for (int i = 0; i < st->nparams; i++) {
        free(st->owned[i]);
        st->owned[i] = NULL;
        st->args[i] = PGCONN_NULL;
    }
    st->bind_failed = false;
}

static pb_status stmt_new(store *s, const char *sql, store_stmt **out, char *err)
{
    store_stmt *st = calloc(1, sizeof *st);
    if (!st)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    st->s = s;
    st->sql = sql;
    if (!s->pg) {
        if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->lite, NULL) !=
            SQLITE_OK) {
            free(st);
            return store_sql_error(s, "preparing a statement", err);
        }
        *out = st;
        return PB_OK;
    }
    char *text = NULL;
    pb_status rc = pgsql_translate(sql, &text, &st->nparams, err);
    free(text);
    if (rc == PB_OK) {
        st->args = calloc((size_t)st->nparams + 1, sizeof *st->args);
        st->owned = calloc((size_t)st->nparams + 1, sizeof *st->owned);
        if (!st->args || !st->owned)
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    if (rc != PB_OK) {
        stmt_free(st);
        return rc;
    }
    stmt_clear_bindings(st);
    st->args[st->nparams].type = PGCONN_ARG_END;
    *out = st;
    return PB_OK;
}

pb_status store_prepare(store *s, const char *sql, store_stmt **st, char *err)
{
    for (size_t i = 0; i < s->n_stmt; i++) {
        if (s->stmt[i]->sql == sql) {
            *st = s->stmt[i];
            store_reset(*st);
            stmt_clear_bindings(*st);
            return PB_OK;
        }
    }
    if (s->n_stmt == STORE_MAX_STMT)
        return pb_errf(err, PB_ERR_LIMIT, "store: more than %d statements (raise STORE_MAX_STMT)",
                       STORE_MAX_STMT);
    pb_status rc = stmt_new(s, sql, st, err);
    if (rc != PB_OK)
        return rc;
    s->stmt[s->n_stmt++] = *st;
    return PB_OK;
}

/* The PostgreSQL argument for parameter idx, or NULL when out of range (SQLite ignores such a
 * bind with SQLITE_RANGE; so do we, and the statement fails on its parameter count). */
static struct pgconn_arg *pg_arg(store_stmt *st, int idx)
{
    if (idx < 1 || idx > st->nparams)
        return NULL;
    free(st->owned[idx - 1]);
    st->owned[idx - 1] = NULL;
    return &st->args[idx - 1];
}

void store_bind_int(store_stmt *st, int idx, int64_t v)
{
    struct pgconn_arg *a;
    if (st->lite)
        sqlite3_bind_int64(st->lite, idx, v);
    else if ((a = pg_arg(st, idx)))
        *a = PGCONN_INT(v);
}

void store_bind_real(store_stmt *st, int idx, double v)
{
    struct pgconn_arg *a;
    if (st->lite)
        sqlite3_bind_double(st->lite, idx, v);
    else if ((a = pg_arg(st, idx)))
        *a = PGCONN_REAL(v);
}

void store_bind_null(store_stmt *st, int idx)
{
    struct pgconn_arg *a;
    if (st->lite)
        sqlite3_bind_null(st->lite, idx);
    else if ((a = pg_arg(st, idx)))
        *a = PGCONN_NULL;
}

void store_bind_text(store_stmt *st, int idx, const char *text, int len)
{
    if (!text) {
        store_bind_null(st, idx);
        return;
    }
    if (st->lite) {
        sqlite3_bind_text(st->lite, idx, text, len, SQLITE_TRANSIENT);
        return;
    }
    struct pgconn_arg *a = pg_arg(st, idx);
    if (!a)
        return;
    size_t n = len < 0 ? strlen(text) : (size_t)len;
    char *copy = malloc(n + 1);
    if (!copy) {
        st->bind_failed = true;
        *a = PGCONN_NULL;
        return;
    }
    memcpy(copy, text, n);
    copy[n] = '\0';
    st->owned[idx - 1] = copy;
    *a = PGCONN_TEXTN(copy, (int)n);
}

int store_step(store_stmt *st)
{
    if (st->lite) {
        int step = sqlite3_step(st->lite);
        return step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? 0 : -1;
    }
    store *s = st->s;
    if (!st->res) {
        char msg[PB_ERR_LEN];
        pb_status rc = st->bind_failed
                           ? pb_errf(msg, PB_ERR_NOMEM, ": out of memory")
                           : pgconn_query_argv(s->pg, st->sql, st->args, &st->res, "", msg);
        if (rc != PB_OK) {
            pg_failed(s, rc, msg);
            return -1;
        }
        s->pg_kind = STORE_ERR_NONE;
        st->rows = pgconn_rows(st->res);
        st->row = -1;
    }
    if (++st->row < st->rows)
        return 1;
    stmt_clear_pg(st);
    return 0;
}

void store_reset(store_stmt *st)
{
    if (st->lite)
        sqlite3_reset(st->lite);
    else
        stmt_clear_pg(st);
}

int64_t store_col_int(store_stmt *st, int col)
{
    return st->lite ? sqlite3_column_int64(st->lite, col) : pgconn_get_int(st->res, st->row, col);
}

double store_col_real(store_stmt *st, int col)
{
    return st->lite ? sqlite3_column_double(st->lite, col) : pgconn_get_real(st->res, st->row, col);
}

const char *store_col_text(store_stmt *st, int col)
{
    return st->lite ? (const char *)sqlite3_column_text(st->lite, col)
                    : pgconn_get_text(st->res, st->row, col);
}

int store_col_bytes(store_stmt *st, int col)
{
    if (st->lite)
        return sqlite3_column_bytes(st->lite, col);
    const char *t = pgconn_get_text(st->res, st->row, col);
    return t ? (int)strlen(t) : 0;
}

bool store_col_is_null(store_stmt *st, int col)
{
    return st->lite ? sqlite3_column_type(st->lite, col) == SQLITE_NULL
                    : pgconn_is_null(st->res, st->row, col);
}

/* Runs a cached statement without parameters or rows (BEGIN, COMMIT). */
static pb_status exec_cached(store *s, const char *sql, const char *what, char *err)
{
    store_stmt *st;
    pb_status rc = store_prepare(s, sql, &st, err);
    if (rc != PB_OK)
        return rc;
    if (store_step(st) != 0)
        rc = store_sql_error(s, what, err);
    store_reset(st);
    return rc;
}

/* Records the outcome of a pgconn call that wrote its own message into err. */
static pb_status pg_outcome(store *s, pb_status rc, char *err)
{
    if (rc != PB_OK) {
        s->pg_kind = pg_kind(s);
        snprintf(s->pg_msg, sizeof s->pg_msg, "%s", err ? err : "");
    }
    return rc;
}

pb_status store_begin(store *s, char *err)
{
    if (s->pg)
        return pg_outcome(s, pgconn_begin(s->pg, err), err);
    return exec_cached(s, "BEGIN IMMEDIATE", "starting a write", err);
}

pb_status store_begin_serial(store *s, char *err)
{
    if (!s->pg)
        return store_begin(s, err);
    pb_status rc = pg_outcome(s, pgconn_begin(s->pg, err), err);
    if (rc == PB_OK)
        rc = pg_outcome(s,
                        pgconn_exec(s->pg, "SELECT pg_advisory_xact_lock(?1)",
                                    "waiting for another replica's set-up write", err,
                                    PGCONN_INT(pgconn_lock_key("promptbandit/serial-writes"))),
                        err);
    if (rc != PB_OK)
        pgconn_rollback(s->pg);
    return rc;
}

pb_status store_commit(store *s, char *err)
{
    if (s->pg)
        return pg_outcome(s, pgconn_commit(s->pg, err), err);
    pb_status rc = exec_cached(s, "COMMIT", "committing", err);
    if (rc != PB_OK)
        store_rollback(s);
    return rc;
}

void store_rollback(store *s)
{
    if (s->pg)
        pgconn_rollback(s->pg);
    else if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

pb_status store_end(store *s, pb_status rc, char *err)
{
    if (rc == PB_OK)
        return store_commit(s, err);
    store_rollback(s);
    return rc;
}

pb_status store_savepoint(store *s, char *err)
{
    if (s->pg)
        return pg_outcome(s, pgconn_savepoint(s->pg, err), err);
    return exec_cached(s, "SAVEPOINT record", "starting a record", err);
}

void store_savepoint_end(store *s, pb_status rc)
{
    if (s->pg) {
        pgconn_savepoint_end(s->pg, rc);
        return;
    }
    if (sqlite3_get_autocommit(s->db))
        return; /* SQLite already rolled the whole transaction back */
    char ignored[PB_ERR_LEN];
    if (rc != PB_OK)
        exec_cached(s, "ROLLBACK TO record", "undoing a record", ignored);
    exec_cached(s, "RELEASE record", "ending a record", ignored);
}

bool store_in_transaction(store *s)
{
    return s->pg ? pgconn_in_transaction(s->pg) : !sqlite3_get_autocommit(s->db);
}

bool store_transaction_aborted(store *s)
{
    return s->pg && pgconn_transaction_aborted(s->pg);
}

bool store_error_is_storage(store *s)
{
    if (s->pg)
        return s->pg_kind == STORE_ERR_STORAGE;
    switch (sqlite3_errcode(s->db)) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
        return true;
    default:
        return false;
    }
}

bool store_error_is_transient(store *s)
{
    return s->pg && strncmp(pgconn_sqlstate(s->pg), "40", 2) == 0;
}

pb_status store_try_job_lock(store *s, const char *name, bool *got, char *err)
{
    if (!s->pg) {
        *got = true;
        return PB_OK;
    }
    return pg_outcome(s, pgconn_try_lock(s->pg, name, got, err), err);
}

void store_job_unlock(store *s, const char *name)
{
    char ignored[PB_ERR_LEN];
    if (s->pg)
        pgconn_unlock(s->pg, name, ignored);
}

bool store_json_valid(const char *json, bool require_object)
{
    if (!json)
        return true;
    json_error_t jerr;
    json_t *v = json_loads(json, JSON_DECODE_ANY, &jerr);
    bool ok = v && (!require_object || json_is_object(v));
    json_decref(v);
    return ok;
}

/* ---- open and migrate ---- */

/* Migration number of an embedded file named db/NNN_name.sql, or -1. */
static int migration_number(const char *name)
{
    if (strncmp(name, "db/", 3) != 0)
        return -1;
    size_t len = strlen(name);
    if (len < 8 || strcmp(name + len - 4, ".sql") != 0)
        return -1;
    char *end;
    long n = strtol(name + 3, &end, 10);
    if (end == name + 3 || *end != '_' || n <= 0 || n > 100000)
        return -1;
    return (int)n;
}

int store_schema_latest(void)
{
    int latest = 0;
    for (size_t i = 0; i < embedded_files_count; i++) {
        int n = migration_number(embedded_files[i].name);
        if (n > latest)
            latest = n;
    }
    return latest;
}

/* Prepares a statement without parameters that answers one row (a PRAGMA, a count) and steps
 * to that row; on PB_OK the caller reads it and resets the statement. */
static pb_status one_row(store *s, const char *sql, store_stmt **st, const char *what, char *err)
{
    pb_status rc = store_prepare(s, sql, st, err);
    if (rc == PB_OK && store_step(*st) != 1) {
        rc = store_sql_error(s, what, err);
        store_reset(*st);
    }
    return rc;
}

static pb_status read_user_version(store *s, int *version, char *err)
{
    store_stmt *st;
    pb_status rc = one_row(s, "PRAGMA user_version", &st, "reading the schema version", err);
    if (rc != PB_OK)
        return rc;
    *version = (int)store_col_int(st, 0);
    store_reset(st);
    return PB_OK;
}

static pb_status apply_migration(store *s, const struct embedded_file *f, int number, char *err)
{
    char what[128], pragma[64];
    snprintf(what, sizeof what, "migration %s", f->name);
    pb_status rc = store_begin(s, err);
    if (rc != PB_OK)
        return rc;
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", number);
    if (sqlite3_exec(s->db, (const char *)f->data, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, pragma, NULL, NULL, NULL) != SQLITE_OK)
        rc = store_sql_error(s, what, err);
    return store_end(s, rc, err);
}

/* Applies db/NNN_*.sql files newer than the database, in order. Numbers must run 1, 2, 3... */
static pb_status migrate(store *s, const char *path, char *err)
{
    pb_status rc = read_user_version(s, &s->schema_version, err);
    if (rc != PB_OK)
        return rc;
    int latest = store_schema_latest();
    if (s->schema_version > latest)
        return pb_errf(err, PB_ERR_VERSION,
                       "%s: schema version %d is newer than this promptbandit knows (%d); use a "
                       "newer binary or restore a backup made by this version",
                       path, s->schema_version, latest);
    for (int want = s->schema_version + 1; want <= latest; want++) {
        const struct embedded_file *found = NULL;
        for (size_t i = 0; i < embedded_files_count; i++)
            if (migration_number(embedded_files[i].name) == want)
                found = &embedded_files[i];
        if (!found)
            return pb_errf(err, PB_ERR_VERSION, "migration %03d is missing from db/", want);
        rc = apply_migration(s, found, want, err);
        if (rc != PB_OK)
            return rc;
        s->schema_version = want;
        s->applied++;
    }
    return PB_OK;
}

static pb_status set_pragmas(store *s, const char *sync, char *err)
{
    char sql[128];
    if (strcmp(sync, "FULL") != 0 && strcmp(sync, "NORMAL") != 0)
        return pb_errf(err, PB_ERR_INVALID, "db.synchronous must be FULL or NORMAL, got '%s'",
                       sync);
    sqlite3_busy_timeout(s->db, s->busy_timeout_ms);
    /* journal_mode answers with a row; any failure here is the first sign of a bad file. */
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        pb_status rc = store_sql_error(s, "opening", err);
        sqlite3_finalize(st);
        return rc;
    }
    sqlite3_finalize(st);
    /* secure_delete: deleted rows are overwritten with zeros, so an erased user's text is gone
     * from the file once a checkpoint has moved the pages out of the WAL (store_checkpoint). */
    snprintf(sql, sizeof sql,
             "PRAGMA synchronous = %s; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON", sync);
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return store_sql_error(s, "opening", err);
    return PB_OK;
}

pb_status store_open(const char *path, const struct store_options *opt, store **out, char *err)
{
    pb_status rc = PB_OK;
    store *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    s->busy_timeout_ms = opt ? opt->busy_timeout_ms : 5000;
    if (pgsql_is_url(path)) {
        if (opt && opt->vfs) {
            rc = pb_errf(err, PB_ERR_INVALID, "db.vfs applies to SQLite files only, not to %s",
                         "a PostgreSQL URL");
            goto cleanup;
        }
        struct pgconn_options po = {.lock_timeout_ms = s->busy_timeout_ms};
        rc = pgconn_open(path, &po, &s->pg, err);
        if (rc != PB_OK)
            goto cleanup;
        s->schema_version = pgconn_schema_version(s->pg);
        s->applied = pgconn_migrations_applied(s->pg);
        *out = s;
        return PB_OK;
    }
    const char *sync = opt && opt->synchronous ? opt->synchronous : "FULL";
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &s->db, flags, opt ? opt->vfs : NULL) != SQLITE_OK) {
        rc = pb_errf(err, PB_ERR_DB, "%s: cannot open the database (%s); does the folder exist?",
                     path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto cleanup;
    }
    sqlite3_extended_result_codes(s->db, 1);
    char what[PB_ERR_LEN];
    rc = set_pragmas(s, sync, what);
    if (rc == PB_OK)
        rc = migrate(s, path, what);
    if (rc != PB_OK) {
        pb_errf(err, rc, "%s: %s", path, what);
        goto cleanup;
    }
    *out = s;
    s = NULL;
cleanup:
    store_close(s);
    return rc;
}

pb_status store_open_config(const config *cfg, const char *path_override, store **out, char *err)
{
    struct store_options opt = {
        .busy_timeout_ms = (int)config_int(cfg, "db.busy_timeout_ms"),
        .synchronous = config_str(cfg, "db.synchronous"),
    };
    *out = NULL;
    const char *url = path_override ? path_override : config_str(cfg, "db.url");
    if (!url || !*url)
        url = config_str(cfg, "db.path");
    const char *vfs = config_str(cfg, "db.vfs");
    if (vfs && *vfs) {
        if (strcmp(vfs, FAULTVFS_NAME) != 0)
            return pb_errf(err, PB_ERR_INVALID,
                           "db.vfs must be empty (the default) or \"%s\" (tests), got '%s'",
                           FAULTVFS_NAME, vfs);
        pb_status rc = faultvfs_register(config_str(cfg, "db.fault_file"), err);
        if (rc != PB_OK)
            return rc;
        opt.vfs = FAULTVFS_NAME;
    }
    return store_open(url, &opt, out, err);
}

void store_close(store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_stmt; i++)
        stmt_free(s->stmt[i]);
    sqlite3_close(s->db);
    pgconn_close(s->pg);
    free(s);
}

int store_schema_version(const store *s)
{
    return s->schema_version;
}

int store_migrations_applied(const store *s)
{
    return s->applied;
}

/* ---- maintenance ---- */

pb_status store_backup(store *s, const char *path, char *err)
{
    if (s->pg)
        return pb_errf(err, PB_ERR_INVALID,
                       "db backup copies SQLite files; this database is on PostgreSQL: use "
                       "pg_dump (pg_dump -Fc -f %s URL) for a consistent online copy",
                       path);
    pb_status rc = PB_OK;
    sqlite3 *dest = NULL;
    sqlite3_backup *b = NULL;
    size_t len = strlen(path);
    char *partial = malloc(len + 9);
    if (!partial)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    snprintf(partial, len + 9, "%s.partial", path);
    struct stat sb;
    if (stat(path, &sb) == 0) {
        rc = pb_errf(err, PB_ERR_CONFLICT, "%s already exists; choose a new file name", path);
        goto cleanup;
    }
    unlink(partial);
    if (sqlite3_open_v2(partial, &dest, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        rc = pb_errf(err, PB_ERR_IO, "%s: %s", partial, dest ? sqlite3_errmsg(dest) : "no memory");
        goto cleanup;
    }
    b = sqlite3_backup_init(dest, "main", s->db, "main");
    if (!b) {
        rc = pb_errf(err, PB_ERR_DB, "backup to %s: %s", path, sqlite3_errmsg(dest));
        goto cleanup;
    }
    /* One step copies everything under a single read snapshot. In WAL mode writers on other
     * connections continue meanwhile; copying in small steps instead would restart from the
     * first page after every foreign write and might never finish on a busy service. */
    int step;
    while ((step = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || step == SQLITE_LOCKED)
        sqlite3_sleep(20);
    if (step != SQLITE_DONE) {
        rc = pb_errf(err, PB_ERR_DB, "backup to %s: %s", path, sqlite3_errstr(step));
        goto cleanup;
    }
    sqlite3_backup_finish(b);
    b = NULL;
    if (sqlite3_close(dest) != SQLITE_OK) {
        rc = pb_errf(err, PB_ERR_IO, "backup to %s: closing failed", path);
        dest = NULL;
        goto cleanup;
    }
    dest = NULL;
    if (rename(partial, path) != 0)
        rc = pb_errf(err, PB_ERR_IO, "%s: %s", path, strerror(errno));
cleanup:
    if (b)
        sqlite3_backup_finish(b);
    if (dest)
        sqlite3_close(dest);
    if (rc != PB_OK)
        unlink(partial);
    free(partial);
    return rc;
}

pb_status store_checkpoint(store *s, int wait_ms, bool *complete, char *err)
{
    int log_frames = 0, copied = 0;
    *complete = false;
    if (s->pg) {
        *complete = true;
        return PB_OK;
    }
    sqlite3_busy_timeout(s->db, wait_ms > 0 ? wait_ms : 0);
    int rc =
        sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log_frames, &copied);
    pb_status out = PB_OK;
    if (rc == SQLITE_OK)
        *complete = true;
    else if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
        out = store_sql_error(s, "checkpointing the WAL", err);
    sqlite3_busy_timeout(s->db, s->busy_timeout_ms);
    return out;
}

static const char *SQL_COUNTS =
    "SELECT (SELECT count(*) FROM experiments), (SELECT count(*) FROM arms), "
    "(SELECT count(*) FROM users), (SELECT count(*) FROM conversations), "
    "(SELECT count(*) FROM impressions), (SELECT count(*) FROM rewards), "
    "(SELECT count(*) FROM messages), (SELECT count(*) FROM runs), "
    "(SELECT count(*) FROM run_steps), (SELECT count(*) FROM judge_evals)";

pb_status store_count_rows(store *s, struct store_counts *out, char *err)
{
    store_stmt *st;
    pb_status rc = one_row(s, SQL_COUNTS, &st, "counting rows", err);
    if (rc != PB_OK)
        return rc;
    int64_t *f[] = {&out->experiments, &out->arms,       &out->users,    &out->conversations,
                    &out->impressions, &out->rewards,    &out->messages, &out->runs,
                    &out->run_steps,   &out->judge_evals};
    for (int i = 0; i < 10; i++)
        *f[i] = store_col_int(st, i);
    store_reset(st);
    return PB_OK;
}

pb_status store_integrity_check(store *s, char *err)
{
    store_stmt *st;
    pb_status rc = one_row(s, s->pg ? "SELECT 'ok'" : "PRAGMA integrity_check(1)", &st,
                           "integrity check", err);
    if (rc != PB_OK)
        return rc;
    const char *answer = store_col_text(st, 0);
    if (!answer || strcmp(answer, "ok") != 0)
        rc = pb_errf(err, PB_ERR_DB, "integrity check failed: %s", answer ? answer : "?");
    store_reset(st);
    return rc;
}
