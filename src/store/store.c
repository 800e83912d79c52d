/* store.c — the SQLite connection (pragmas, busy timeout, per-connection statement cache,
 * transactions, SQLite errors as messages), migrations from the embedded db/NNN_name.sql files,
 * online backup and checks. */
#include "store/store.h"

#include "base/embedded.h"
#include "store/faultvfs.h"

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

struct store_cached_stmt {
    const char *sql;
    sqlite3_stmt *st;
};

struct store {
    sqlite3 *db;
    int busy_timeout_ms;
    int schema_version;
    int applied;
    size_t n_stmt;
    struct store_cached_stmt stmt[STORE_MAX_STMT];
};

/* ---- for the store family: cache, transactions, errors ---- */

double store_now(void)
{
    return pb_now_wall();
}

int64_t store_last_insert_id(store *s)
{
    return sqlite3_last_insert_rowid(s->db);
}

int store_changes(store *s)
{
    return sqlite3_changes(s->db);
}

int store_errcode(store *s)
{
    return sqlite3_extended_errcode(s->db);
}

pb_status store_sql_error(store *s, const char *what, char *err)
{
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

pb_status store_prepare(store *s, const char *sql, sqlite3_stmt **st, char *err)
{
    for (size_t i = 0; i < s->n_stmt; i++) {
        if (s->stmt[i].sql == sql) {
            sqlite3_reset(s->stmt[i].st);
            sqlite3_clear_bindings(s->stmt[i].st);
            *st = s->stmt[i].st;
            return PB_OK;
        }
    }
    if (s->n_stmt == STORE_MAX_STMT)
        return pb_errf(err, PB_ERR_LIMIT, "store: more than %d statements (raise STORE_MAX_STMT)",
                       STORE_MAX_STMT);
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
        return store_sql_error(s, "preparing a statement", err);
    s->stmt[s->n_stmt].sql = sql;
    s->stmt[s->n_stmt].st = *st;
    s->n_stmt++;
    return PB_OK;
}

/* Runs a cached statement without parameters or rows (BEGIN, COMMIT). */
static pb_status exec_cached(store *s, const char *sql, const char *what, char *err)
{
    sqlite3_stmt *st;
    pb_status rc = store_prepare(s, sql, &st, err);
    if (rc != PB_OK)
        return rc;
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = store_sql_error(s, what, err);
    sqlite3_reset(st);
    return rc;
}

pb_status store_begin(store *s, char *err)
{
    return exec_cached(s, "BEGIN IMMEDIATE", "starting a write", err);
}

pb_status store_commit(store *s, char *err)
{
    pb_status rc = exec_cached(s, "COMMIT", "committing", err);
    if (rc != PB_OK)
        store_rollback(s);
    return rc;
}

void store_rollback(store *s)
{
    if (!sqlite3_get_autocommit(s->db))
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
    return exec_cached(s, "SAVEPOINT record", "starting a record", err);
}

void store_savepoint_end(store *s, pb_status rc)
{
    if (sqlite3_get_autocommit(s->db))
        return; /* SQLite already rolled the whole transaction back */
    char ignored[PB_ERR_LEN];
    if (rc != PB_OK)
        exec_cached(s, "ROLLBACK TO record", "undoing a record", ignored);
    exec_cached(s, "RELEASE record", "ending a record", ignored);
}

bool store_in_transaction(store *s)
{
    return !sqlite3_get_autocommit(s->db);
}

bool store_error_is_storage(store *s)
{
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
static pb_status one_row(store *s, const char *sql, sqlite3_stmt **st, const char *what, char *err)
{
    pb_status rc = store_prepare(s, sql, st, err);
    if (rc == PB_OK && sqlite3_step(*st) != SQLITE_ROW) {
        rc = store_sql_error(s, what, err);
        sqlite3_reset(*st);
    }
    return rc;
}

static pb_status read_user_version(store *s, int *version, char *err)
{
    sqlite3_stmt *st;
    pb_status rc = one_row(s, "PRAGMA user_version", &st, "reading the schema version", err);
    if (rc != PB_OK)
        return rc;
    *version = sqlite3_column_int(st, 0);
    sqlite3_reset(st);
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
    return store_open(path_override ? path_override : config_str(cfg, "db.path"), &opt, out, err);
}

void store_close(store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_stmt; i++)
        sqlite3_finalize(s->stmt[i].st);
    sqlite3_close(s->db);
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
    sqlite3_stmt *st;
    pb_status rc = one_row(s, SQL_COUNTS, &st, "counting rows", err);
    if (rc != PB_OK)
        return rc;
    int64_t *f[] = {&out->experiments, &out->arms,       &out->users,    &out->conversations,
                    &out->impressions, &out->rewards,    &out->messages, &out->runs,
                    &out->run_steps,   &out->judge_evals};
    for (int i = 0; i < 10; i++)
        *f[i] = sqlite3_column_int64(st, i);
    sqlite3_reset(st);
    return PB_OK;
}

pb_status store_integrity_check(store *s, char *err)
{
    sqlite3_stmt *st;
    pb_status rc = one_row(s, "PRAGMA integrity_check(1)", &st, "integrity check", err);
    if (rc != PB_OK)
        return rc;
    const char *answer = (const char *)sqlite3_column_text(st, 0);
    if (!answer || strcmp(answer, "ok") != 0)
        rc = pb_errf(err, PB_ERR_DB, "integrity check failed: %s", answer ? answer : "?");
    sqlite3_reset(st);
    return rc;
}
