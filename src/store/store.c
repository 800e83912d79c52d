/* store.c — the SQLite connection (pragmas, busy timeout, per-connection statement cache),
 * migrations from the embedded db/NNN_name.sql files, experiments, offline runs, judge
 * evaluations, online backup and checks. */
#include "store/store.h"

#include "base/embedded.h"

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

/* ---- helpers shared by the store family ---- */

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

int store_sql_error(store *s, const char *what, char *err)
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

int store_prepare(store *s, const char *sql, sqlite3_stmt **st, char *err)
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

static int store_exec_sql(store *s, const char *sql, const char *what, char *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, sql, &st, err);
    if (rc != PB_OK)
        return rc;
    return store_exec_stmt(s, st, what, err);
}

int store_exec_stmt(store *s, sqlite3_stmt *st, const char *what, char *err)
{
    int rc = sqlite3_step(st);
    int out = PB_OK;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        out = store_sql_error(s, what, err);
    sqlite3_reset(st);
    return out;
}

int store_begin(store *s, char *err)
{
    return store_exec_sql(s, "BEGIN IMMEDIATE", "starting a write", err);
}

int store_commit(store *s, char *err)
{
    int rc = store_exec_sql(s, "COMMIT", "committing", err);
    if (rc != PB_OK)
        store_rollback(s);
    return rc;
}

void store_rollback(store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

void store_bind_text(sqlite3_stmt *st, int i, const char *text)
{
    if (text)
        sqlite3_bind_text(st, i, text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

char *store_column_strdup(sqlite3_stmt *st, int col, int *ok)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    if (!t)
        return NULL;
    char *copy = strdup((const char *)t);
    if (!copy)
        *ok = 0;
    return copy;
}

int store_json_valid(const char *json, int require_object)
{
    if (!json)
        return 1;
    json_error_t jerr;
    json_t *v = json_loads(json, JSON_DECODE_ANY, &jerr);
    int ok = v && (!require_object || json_is_object(v));
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

static int read_user_version(store *s, int *version, char *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, "PRAGMA user_version", &st, err);
    if (rc != PB_OK)
        return rc;
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = store_sql_error(s, "reading the schema version", err);
        sqlite3_reset(st);
        return rc;
    }
    *version = sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    return PB_OK;
}

static int apply_migration(store *s, const struct embedded_file *f, int number, char *err)
{
    char what[128], pragma[64];
    snprintf(what, sizeof what, "migration %s", f->name);
    int rc = store_begin(s, err);
    if (rc != PB_OK)
        return rc;
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", number);
    if (sqlite3_exec(s->db, (const char *)f->data, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, pragma, NULL, NULL, NULL) != SQLITE_OK) {
        rc = store_sql_error(s, what, err);
        store_rollback(s);
        return rc;
    }
    return store_commit(s, err);
}

/* Applies db/NNN_*.sql files newer than the database, in order. Numbers must run 1, 2, 3... */
static int migrate(store *s, const char *path, char *err)
{
    int rc = read_user_version(s, &s->schema_version, err);
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

static int set_pragmas(store *s, const char *sync, char *err)
{
    char sql[96];
    if (strcmp(sync, "FULL") != 0 && strcmp(sync, "NORMAL") != 0)
        return pb_errf(err, PB_ERR_INVALID, "db.synchronous must be FULL or NORMAL, got '%s'",
                       sync);
    sqlite3_busy_timeout(s->db, s->busy_timeout_ms);
    /* journal_mode answers with a row; any failure here is the first sign of a bad file. */
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        int rc = store_sql_error(s, "opening", err);
        sqlite3_finalize(st);
        return rc;
    }
    sqlite3_finalize(st);
    snprintf(sql, sizeof sql, "PRAGMA synchronous = %s; PRAGMA foreign_keys = ON", sync);
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return store_sql_error(s, "opening", err);
    return PB_OK;
}

int store_open(const char *path, const struct store_options *opt, store **out, char *err)
{
    int rc = PB_OK;
    store *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    s->busy_timeout_ms = opt ? opt->busy_timeout_ms : 5000;
    const char *sync = opt && opt->synchronous ? opt->synchronous : "FULL";
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
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

int store_open_config(const config *cfg, const char *path_override, store **out, char *err)
{
    struct store_options opt = {
        .busy_timeout_ms = (int)config_int(cfg, "db.busy_timeout_ms"),
        .synchronous = config_str(cfg, "db.synchronous"),
    };
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

/* ---- experiments ---- */

#define EXPERIMENT_COLUMNS                                                                         \
    "id, name, kind, policy, policy_params, status, coalesce(promoted_arm_id, 0), created_at"

static const char *SQL_EXPERIMENT_BY_NAME =
    "SELECT " EXPERIMENT_COLUMNS " FROM experiments WHERE name = ?1 AND status = 'active'";
static const char *SQL_EXPERIMENT_BY_ID =
    "SELECT " EXPERIMENT_COLUMNS " FROM experiments WHERE id = ?1";
static const char *SQL_EXPERIMENT_LIST =
    "SELECT " EXPERIMENT_COLUMNS " FROM experiments ORDER BY id DESC";
static const char *SQL_EXPERIMENT_INSERT =
    "INSERT INTO experiments (name, kind, policy, policy_params, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
static const char *SQL_EXPERIMENT_SET_POLICY =
    "UPDATE experiments SET policy = ?2, policy_params = ?3 WHERE id = ?1";
static const char *SQL_EXPERIMENT_PROMOTE =
    "UPDATE experiments SET promoted_arm_id = nullif(?2, 0) WHERE id = ?1";
static const char *SQL_EXPERIMENT_ARCHIVE =
    "UPDATE experiments SET status = 'archived' WHERE id = ?1 AND status = 'active'";
static const char *SQL_ARM_BELONGS =
    "SELECT retired_at IS NULL FROM arms WHERE id = ?2 AND experiment_id = ?1";
static const char *SQL_EXPERIMENT_COPY_ARMS =
    "INSERT INTO arms (experiment_id, name, version, prompt, content_hash, source_path, "
    "created_at) SELECT ?2, name, version, prompt, content_hash, source_path, ?3 FROM arms "
    "WHERE experiment_id = ?1 AND retired_at IS NULL ORDER BY id";

void store_experiment_clear(struct store_experiment *e)
{
    if (!e)
        return;
    free(e->policy);
    free(e->policy_params);
    memset(e, 0, sizeof *e);
}

void store_experiment_list_free(struct store_experiment *list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        store_experiment_clear(&list[i]);
    free(list);
}

static int read_experiment(sqlite3_stmt *st, struct store_experiment *e, char *err)
{
    int ok = 1;
    memset(e, 0, sizeof *e);
    e->id = sqlite3_column_int64(st, 0);
    snprintf(e->name, sizeof e->name, "%s", (const char *)sqlite3_column_text(st, 1));
    snprintf(e->kind, sizeof e->kind, "%s", (const char *)sqlite3_column_text(st, 2));
    e->policy = store_column_strdup(st, 3, &ok);
    e->policy_params = store_column_strdup(st, 4, &ok);
    snprintf(e->status, sizeof e->status, "%s", (const char *)sqlite3_column_text(st, 5));
    e->promoted_arm_id = sqlite3_column_int64(st, 6);
    e->created_at = sqlite3_column_double(st, 7);
    if (!ok) {
        store_experiment_clear(e);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    return PB_OK;
}

/* Runs a one-row experiment query bound to (text or id); PB_ERR_NOT_FOUND without a row. */
static int query_experiment(store *s, const char *sql, const char *name, int64_t id,
                            struct store_experiment *out, char *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, sql, &st, err);
    if (rc != PB_OK)
        return rc;
    if (name)
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        rc = read_experiment(st, out, err);
    else if (step == SQLITE_DONE)
        rc = name ? pb_errf(err, PB_ERR_NOT_FOUND, "no active experiment named '%s'", name)
                  : pb_errf(err, PB_ERR_NOT_FOUND, "no experiment with id %lld", (long long)id);
    else
        rc = store_sql_error(s, "reading an experiment", err);
    sqlite3_reset(st);
    return rc;
}

int store_experiment_get(store *s, const char *name, struct store_experiment *out, char *err)
{
    return query_experiment(s, SQL_EXPERIMENT_BY_NAME, name, 0, out, err);
}

int store_experiment_get_by_id(store *s, int64_t id, struct store_experiment *out, char *err)
{
    return query_experiment(s, SQL_EXPERIMENT_BY_ID, NULL, id, out, err);
}

static int insert_experiment(store *s, const char *name, const char *kind, const char *policy,
                             const char *params, int64_t *id, char *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, SQL_EXPERIMENT_INSERT, &st, err);
    if (rc != PB_OK)
        return rc;
    store_bind_text(st, 1, name);
    store_bind_text(st, 2, kind);
    store_bind_text(st, 3, policy);
    store_bind_text(st, 4, params);
    sqlite3_bind_double(st, 5, store_now());
    rc = store_exec_stmt(s, st, "creating an experiment", err);
    if (rc == PB_OK)
        *id = sqlite3_last_insert_rowid(s->db);
    return rc;
}

int store_experiment_get_or_create(store *s, const char *name, const char *kind, const char *policy,
                                   struct store_experiment *out, char *err)
{
    int64_t id;
    if (!name || !*name || strlen(name) > 64)
        return pb_errf(err, PB_ERR_INVALID, "experiment name must have 1 to 64 bytes");
    if (!kind || (strcmp(kind, "live") != 0 && strcmp(kind, "offline") != 0))
        return pb_errf(err, PB_ERR_INVALID, "experiment kind must be live or offline");
    if (!policy || !*policy)
        return pb_errf(err, PB_ERR_INVALID, "experiment '%s': empty policy", name);
    int rc = store_begin(s, err);
    if (rc != PB_OK)
        return rc;
    rc = store_experiment_get(s, name, out, err);
    if (rc == PB_ERR_NOT_FOUND) {
        rc = insert_experiment(s, name, kind, policy, NULL, &id, err);
        if (rc == PB_OK)
            rc = store_experiment_get_by_id(s, id, out, err);
    }
    if (rc == PB_OK)
        rc = store_commit(s, err);
    if (rc != PB_OK) {
        store_rollback(s);
        store_experiment_clear(out);
    }
    return rc;
}

int store_experiment_list(store *s, struct store_experiment **out, size_t *n, char *err)
{
    sqlite3_stmt *st;
    struct store_experiment *list = NULL;
    size_t count = 0, cap = 0;
    *out = NULL;
    *n = 0;
    int step = SQLITE_DONE;
    int rc = store_prepare(s, SQL_EXPERIMENT_LIST, &st, err);
    while (rc == PB_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? 2 * cap : 8;
            struct store_experiment *grown = realloc(list, cap * sizeof *list);
            if (!grown) {
                rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
                break;
            }
            list = grown;
        }
        rc = read_experiment(st, &list[count], err);
        if (rc == PB_OK)
            count++;
    }
    if (rc == PB_OK && step != SQLITE_DONE)
        rc = store_sql_error(s, "listing experiments", err);
    if (rc == PB_OK) {
        sqlite3_reset(st);
        *out = list;
        *n = count;
        return PB_OK;
    }
    sqlite3_reset(st);
    store_experiment_list_free(list, count);
    return rc;
}

/* Runs an UPDATE of one experiment; PB_ERR_NOT_FOUND when no row changed. */
static int update_experiment(store *s, sqlite3_stmt *st, int64_t id, const char *what, char *err)
{
    int rc = store_exec_stmt(s, st, what, err);
    if (rc == PB_OK && sqlite3_changes(s->db) == 0)
        rc = pb_errf(err, PB_ERR_NOT_FOUND, "%s: no active experiment with id %lld", what,
                     (long long)id);
    return rc;
}

int store_experiment_set_policy(store *s, int64_t id, const char *policy, const char *params_json,
                                char *err)
{
    sqlite3_stmt *st;
    if (!policy || !*policy)
        return pb_errf(err, PB_ERR_INVALID, "empty policy");
    if (!store_json_valid(params_json, 1))
        return pb_errf(err, PB_ERR_INVALID, "policy parameters must be a JSON object");
    int rc = store_prepare(s, SQL_EXPERIMENT_SET_POLICY, &st, err);
    if (rc != PB_OK)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    store_bind_text(st, 2, policy);
    store_bind_text(st, 3, params_json);
    return update_experiment(s, st, id, "setting the policy", err);
}

int store_experiment_promote(store *s, int64_t id, int64_t arm_id, char *err)
{
    sqlite3_stmt *st;
    int rc;
    if (arm_id != 0) {
        if ((rc = store_prepare(s, SQL_ARM_BELONGS, &st, err)) != PB_OK)
            return rc;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, arm_id);
        int step = sqlite3_step(st);
        int active = step == SQLITE_ROW && sqlite3_column_int(st, 0);
        sqlite3_reset(st);
        if (step != SQLITE_ROW && step != SQLITE_DONE)
            return store_sql_error(s, "promoting an arm", err);
        if (step == SQLITE_DONE)
            return pb_errf(err, PB_ERR_NOT_FOUND, "arm %lld is not in experiment %lld",
                           (long long)arm_id, (long long)id);
        if (!active)
            return pb_errf(err, PB_ERR_CONFLICT, "arm %lld is retired; restore it first",
                           (long long)arm_id);
    }
    if ((rc = store_prepare(s, SQL_EXPERIMENT_PROMOTE, &st, err)) != PB_OK)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, arm_id);
    return update_experiment(s, st, id, "promoting an arm", err);
}

int store_experiment_archive(store *s, int64_t id, char *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, SQL_EXPERIMENT_ARCHIVE, &st, err);
    if (rc != PB_OK)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    return update_experiment(s, st, id, "archiving", err);
}

int store_experiment_reset(store *s, int64_t id, int64_t *new_id, char *err)
{
    struct store_experiment old = {0};
    sqlite3_stmt *st;
    int rc = store_begin(s, err);
    if (rc != PB_OK)
        return rc;
    if ((rc = store_experiment_get_by_id(s, id, &old, err)) != PB_OK)
        goto cleanup;
    if ((rc = store_experiment_archive(s, id, err)) != PB_OK)
        goto cleanup;
    rc = insert_experiment(s, old.name, old.kind, old.policy, old.policy_params, new_id, err);
    if (rc != PB_OK)
        goto cleanup;
    if ((rc = store_prepare(s, SQL_EXPERIMENT_COPY_ARMS, &st, err)) != PB_OK)
        goto cleanup;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, *new_id);
    sqlite3_bind_double(st, 3, store_now());
    if ((rc = store_exec_stmt(s, st, "copying arms", err)) != PB_OK)
        goto cleanup;
    rc = store_commit(s, err);
cleanup:
    if (rc != PB_OK)
        store_rollback(s);
    store_experiment_clear(&old);
    return rc;
}

/* ---- maintenance ---- */

int store_backup(store *s, const char *path, char *err)
{
    int rc = PB_OK;
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

static const char *SQL_COUNTS =
    "SELECT (SELECT count(*) FROM experiments), (SELECT count(*) FROM arms), "
    "(SELECT count(*) FROM users), (SELECT count(*) FROM conversations), "
    "(SELECT count(*) FROM impressions), (SELECT count(*) FROM rewards), "
    "(SELECT count(*) FROM messages), (SELECT count(*) FROM runs), "
    "(SELECT count(*) FROM run_steps), (SELECT count(*) FROM judge_evals)";

int store_count_rows(store *s, struct store_counts *out, char *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, SQL_COUNTS, &st, err);
    if (rc != PB_OK)
        return rc;
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = store_sql_error(s, "counting rows", err);
    } else {
        int64_t *f[] = {&out->experiments, &out->arms,       &out->users,    &out->conversations,
                        &out->impressions, &out->rewards,    &out->messages, &out->runs,
                        &out->run_steps,   &out->judge_evals};
        for (int i = 0; i < 10; i++)
            *f[i] = sqlite3_column_int64(st, i);
    }
    sqlite3_reset(st);
    return rc;
}

int store_integrity_check(store *s, char *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, "PRAGMA integrity_check(1)", &st, err);
    if (rc != PB_OK)
        return rc;
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = store_sql_error(s, "integrity check", err);
    } else {
        const char *answer = (const char *)sqlite3_column_text(st, 0);
        if (!answer || strcmp(answer, "ok") != 0)
            rc = pb_errf(err, PB_ERR_DB, "integrity check failed: %s", answer ? answer : "?");
    }
    sqlite3_reset(st);
    return rc;
}
