/* pgconn.c — the PostgreSQL connection (libpq): connect with bounded waits, session settings,
 * migrations from the embedded db/pg/NNN_name.sql files under an advisory lock, the
 * prepared-statement cache keyed by SQL text and argument types (the text translated by
 * pgsql.c), text-format binds and reads, transactions, errors as messages, advisory locks. */
#include "store/pgconn.h"
#include "store/pgsql.h"

#include "base/embedded.h"

#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PGCONN_MAX_STMT   512
#define PGCONN_MAX_PARAMS PGSQL_MAX_PARAMS
#define PGCONN_NUM_LEN    32 /* room for an int64 or a %.17g double as text */

/* The advisory lock held (per transaction) while migrating: replicas that start together
 * check and migrate one after another. */
static const char *MIGRATION_LOCK = "promptbandit/migrations";

struct pgconn_cached_stmt {
    uint64_t hash;
    char *sql;     /* the SQL text as the caller gave it (the key, with sig) */
    char *sig;     /* one letter per argument: i(nt), r(eal), t(ext), n(ull) */
    char name[24]; /* the server-side name, "pb_N" */
    int nparams;
};

struct pgconn {
    PGconn *conn;
    int lock_timeout_ms;
    int schema_version;
    int applied;
    int64_t changes;
    char sqlstate[6];
    enum pgconn_error_kind kind;
    size_t n_stmt, cap_stmt;
    struct pgconn_cached_stmt *stmt;
};

struct pgconn_result {
    PGresult *res;
};

/* ---- errors ---- */

static void clear_error(pgconn *c)
{
    c->sqlstate[0] = '\0';
    c->kind = PGCONN_ERR_NONE;
}

static enum pgconn_error_kind kind_of(const char *state, const char *constraint)
{
    if (!state[0])
        return PGCONN_ERR_STORAGE; /* no SQLSTATE: the connection itself failed */
    if (strcmp(state, "23505") == 0) {
        size_t n = constraint ? strlen(constraint) : 0;
        return n > 5 && strcmp(constraint + n - 5, "_pkey") == 0 ? PGCONN_ERR_PRIMARYKEY
                                                                 : PGCONN_ERR_UNIQUE;
    }
    if (strcmp(state, "23503") == 0)
        return PGCONN_ERR_FOREIGNKEY;
    if (strcmp(state, "23514") == 0)
        return PGCONN_ERR_CHECK;
    if (strcmp(state, "23502") == 0)
        return PGCONN_ERR_NOTNULL;
    /* connection (08), resources (53), operator intervention incl. statement timeout (57),
     * system (58), internal (XX), serialization or deadlock (40), lock not available (55P03) */
    static const char *storage_classes[] = {"08", "53", "57", "58", "XX", "40"};
    for (size_t i = 0; i < sizeof storage_classes / sizeof *storage_classes; i++)
        if (strncmp(state, storage_classes[i], 2) == 0)
            return PGCONN_ERR_STORAGE;
    if (strcmp(state, "55P03") == 0)
        return PGCONN_ERR_STORAGE;
    return PGCONN_ERR_OTHER;
}

/* Copies libpq's message onto one line (it ends in a newline and may span several). */
static void one_line(const char *msg, char *out, size_t len)
{
    snprintf(out, len, "%s", msg ? msg : "");
    for (char *p = out; *p; p++)
        if (*p == '\n')
            *p = (p[1] ? ' ' : '\0');
}

/* Records the failure of res (or of the connection when res is NULL) and writes a message
 * naming `what`. Returns PB_ERR_DB. */
static pb_status sql_error(pgconn *c, const PGresult *res, const char *what, char *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *constraint = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    snprintf(c->sqlstate, sizeof c->sqlstate, "%s", state ? state : "");
    c->kind = kind_of(c->sqlstate, constraint);
    char msg[PB_ERR_LEN];
    one_line(primary ? primary : PQerrorMessage(c->conn), msg, sizeof msg);
    if (PQstatus(c->conn) == CONNECTION_BAD) {
        c->kind = PGCONN_ERR_STORAGE;
        return pb_errf(err, PB_ERR_DB,
                       "%s: the connection to PostgreSQL was lost (%s); the server stopped or "
                       "the network failed",
                       what, msg);
    }
    if (strcmp(c->sqlstate, "55P03") == 0)
        return pb_errf(err, PB_ERR_DB,
                       "%s: a row or lock is held by another connection for more than %d ms "
                       "(lock timeout); retry, or find the long transaction",
                       what, c->lock_timeout_ms);
    if (c->kind == PGCONN_ERR_UNIQUE || c->kind == PGCONN_ERR_PRIMARYKEY)
        return pb_errf(err, PB_ERR_DB, "%s: duplicate: %s (%s)", what, detail ? detail : msg,
                       constraint ? constraint : "unique constraint");
    if (detail)
        return pb_errf(err, PB_ERR_DB, "%s: %s (%s)", what, msg, detail);
    return pb_errf(err, PB_ERR_DB, "%s: %s", what, msg);
}

enum pgconn_error_kind pgconn_error_kind(const pgconn *c)
{
    return c->kind;
}

const char *pgconn_sqlstate(const pgconn *c)
{
    return c->sqlstate;
}

/* Runs a command without parameters or rows (BEGIN, SET, a migration file) by the simple
 * protocol, which also takes several statements in one string. */
static pb_status exec_simple(pgconn *c, const char *sql, const char *what, char *err)
{
    PGresult *res = PQexec(c->conn, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    pb_status rc = PB_OK;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = sql_error(c, res, what, err);
    PQclear(res);
    return rc;
}

/* ---- the statement cache ---- */

static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

int64_t pgconn_lock_key(const char *name)
{
    return (int64_t)fnv1a(14695981039346656037ULL, name);
}

/* The argument's letter in a cached statement's signature; a NULL text binds as NULL. */
static char arg_letter(const struct pgconn_arg *a)
{
    if (a->type == PGCONN_ARG_INT || a->type == PGCONN_ARG_REAL)
        return a->type == PGCONN_ARG_INT ? 'i' : 'r';
    return a->type == PGCONN_ARG_TEXT && a->text ? 't' : 'n';
}

/* The declared type of a parameter: int8 and float8 for numbers, so that `?1 - 86400` is
 * computed in 64 bits or doubles; text and NULL are left for the server to infer from the
 * statement (0), as SQLite's loose typing would accept them. */
static Oid arg_oid(char letter)
{
    return letter == 'i' ? 20 : letter == 'r' ? 701 : 0;
}

/* The cached statement for (sql, sig), prepared on the server on first use. */
static pb_status cached_statement(pgconn *c, const char *sql, const char *sig, const char *what,
                                  struct pgconn_cached_stmt **out, char *err)
{
    uint64_t hash = fnv1a(fnv1a(14695981039346656037ULL, sql), sig);
    for (size_t i = 0; i < c->n_stmt; i++) {
        struct pgconn_cached_stmt *e = &c->stmt[i];
        if (e->hash == hash && strcmp(e->sql, sql) == 0 && strcmp(e->sig, sig) == 0) {
            *out = e;
            return PB_OK;
        }
    }
    if (c->n_stmt == PGCONN_MAX_STMT)
        return pb_errf(err, PB_ERR_LIMIT, "pgconn: more than %d statements (raise PGCONN_MAX_STMT)",
                       PGCONN_MAX_STMT);
    if (c->n_stmt == c->cap_stmt) {
        size_t cap = c->cap_stmt ? c->cap_stmt * 2 : 32;
        struct pgconn_cached_stmt *grown = realloc(c->stmt, cap * sizeof *grown);
        if (!grown)
            return pb_errf(err, PB_ERR_NOMEM, "out of memory");
        c->stmt = grown;
        c->cap_stmt = cap;
    }
    char *text = NULL;
    int nparams = 0;
    pb_status rc = pgsql_translate(sql, &text, &nparams, err);
    if (rc != PB_OK)
        return rc;
    size_t nsig = strlen(sig);
    if ((size_t)nparams != nsig) {
        free(text);
        return pb_errf(err, PB_ERR_INVALID, "the statement has %d parameter(s), %zu given: %.80s",
                       nparams, nsig, sql);
    }
    struct pgconn_cached_stmt *e = &c->stmt[c->n_stmt];
    memset(e, 0, sizeof *e);
    e->hash = hash;
    e->nparams = nparams;
    snprintf(e->name, sizeof e->name, "pb_%zu", c->n_stmt + 1);
    e->sql = strdup(sql);
    e->sig = strdup(sig);
    Oid *types = nparams ? calloc((size_t)nparams, sizeof *types) : NULL;
    if (!e->sql || !e->sig || (nparams && !types)) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (int i = 0; i < nparams; i++)
        types[i] = arg_oid(sig[i]);
    PGresult *res = PQprepare(c->conn, e->name, text, nparams, types);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = sql_error(c, res, what, err);
    PQclear(res);
cleanup:
    free(types);
    free(text);
    if (rc != PB_OK) {
        free(e->sql);
        free(e->sig);
        return rc;
    }
    c->n_stmt++;
    *out = e;
    return PB_OK;
}

size_t pgconn_prepared_count(const pgconn *c)
{
    return c->n_stmt;
}

/* ---- running statements ---- */

/* The parameters as text: numbers printed into nums (PGCONN_NUM_LEN bytes each), text copied
 * when its length is given (libpq's text format reads up to a NUL). The copies are kept in
 * owned (n pointers) for the caller to free. */
static pb_status args_to_text(const struct pgconn_arg *args, int n, const char **values, char *nums,
                              char **owned, char *err)
{
    for (int i = 0; i < n; i++) {
        const struct pgconn_arg *a = &args[i];
        char *num = nums + (size_t)i * PGCONN_NUM_LEN;
        values[i] = NULL;
        switch (a->type) {
        case PGCONN_ARG_INT:
            snprintf(num, PGCONN_NUM_LEN, "%lld", (long long)a->i);
            values[i] = num;
            break;
        case PGCONN_ARG_REAL:
            if (isnan(a->d))
                snprintf(num, PGCONN_NUM_LEN, "NaN");
            else if (isinf(a->d))
                snprintf(num, PGCONN_NUM_LEN, "%sInfinity", a->d < 0 ? "-" : "");
            else
                snprintf(num, PGCONN_NUM_LEN, "%.17g", a->d);
            values[i] = num;
            break;
        case PGCONN_ARG_TEXT:
            if (!a->text)
                break;
            if (a->len < 0) {
                values[i] = a->text;
                break;
            }
            if (memchr(a->text, '\0', (size_t)a->len))
                return pb_errf(err, PB_ERR_INVALID,
                               "parameter %d: text with a NUL byte cannot be stored", i + 1);
            owned[i] = malloc((size_t)a->len + 1);
            if (!owned[i])
                return pb_errf(err, PB_ERR_NOMEM, "out of memory");
            memcpy(owned[i], a->text, (size_t)a->len);
            owned[i][a->len] = '\0';
            values[i] = owned[i];
            break;
        default:
            break;
        }
    }
    return PB_OK;
}

pb_status pgconn_query_argv(pgconn *c, const char *sql, const struct pgconn_arg *args,
                            pgconn_result **out, const char *what, char *err)
{
    int n = 0;
    while (args && args[n].type != PGCONN_ARG_END && n < PGCONN_MAX_PARAMS)
        n++;
    char sig_small[64];
    char *sig = n < (int)sizeof sig_small ? sig_small : malloc((size_t)n + 1);
    const char **values = n ? calloc((size_t)n, sizeof *values) : NULL;
    char **owned = n ? calloc((size_t)n, sizeof *owned) : NULL;
    char *nums = n ? malloc((size_t)n * PGCONN_NUM_LEN) : NULL;
    pb_status rc = PB_OK;
    PGresult *res = NULL;
    if (out)
        *out = NULL;
    clear_error(c);
    if (!sig || (n && (!values || !owned || !nums))) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (int i = 0; i < n; i++)
        sig[i] = arg_letter(&args[i]);
    sig[n] = '\0';
    struct pgconn_cached_stmt *st = NULL;
    rc = cached_statement(c, sql, sig, what, &st, err);
    if (rc == PB_OK)
        rc = args_to_text(args, n, values, nums, owned, err);
    if (rc != PB_OK)
        goto cleanup;
    res = PQexecPrepared(c->conn, st->name, n, values, NULL, NULL, 0);
    ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        rc = sql_error(c, res, what, err);
        goto cleanup;
    }
    c->changes = strtoll(PQcmdTuples(res), NULL, 10);
    if (out) {
        *out = malloc(sizeof **out);
        if (!*out) {
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
            goto cleanup;
        }
        (*out)->res = res;
        res = NULL;
    }
cleanup:
    PQclear(res);
    for (int i = 0; owned && i < n; i++)
        free(owned[i]);
    free(owned);
    free(values);
    free(nums);
    if (sig != sig_small)
        free(sig);
    return rc;
}

pb_status pgconn_exec_argv(pgconn *c, const char *sql, const struct pgconn_arg *args,
                           const char *what, char *err)
{
    return pgconn_query_argv(c, sql, args, NULL, what, err);
}

int64_t pgconn_changes(const pgconn *c)
{
    return c->changes;
}

/* ---- results ---- */

int pgconn_rows(const pgconn_result *r)
{
    return PQntuples(r->res);
}

int pgconn_cols(const pgconn_result *r)
{
    return PQnfields(r->res);
}

bool pgconn_is_null(const pgconn_result *r, int row, int col)
{
    return PQgetisnull(r->res, row, col) != 0;
}

int64_t pgconn_get_int(const pgconn_result *r, int row, int col)
{
    if (PQgetisnull(r->res, row, col))
        return 0;
    const char *v = PQgetvalue(r->res, row, col);
    if (strcmp(v, "t") == 0)
        return 1;
    if (strcmp(v, "f") == 0)
        return 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*end) /* a real ("2.5", "1e+20"): truncated, as SQLite reads one */
        return (int64_t)strtod(v, NULL);
    return (int64_t)n;
}

double pgconn_get_real(const pgconn_result *r, int row, int col)
{
    if (PQgetisnull(r->res, row, col))
        return 0;
    return strtod(PQgetvalue(r->res, row, col), NULL);
}

const char *pgconn_get_text(const pgconn_result *r, int row, int col)
{
    if (PQgetisnull(r->res, row, col))
        return NULL;
    return PQgetvalue(r->res, row, col);
}

void pgconn_result_free(pgconn_result *r)
{
    if (!r)
        return;
    PQclear(r->res);
    free(r);
}

/* ---- transactions ---- */

pb_status pgconn_begin(pgconn *c, char *err)
{
    return exec_simple(c, "BEGIN", "starting a transaction", err);
}

bool pgconn_in_transaction(const pgconn *c)
{
    PGTransactionStatusType t = PQtransactionStatus(c->conn);
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

bool pgconn_transaction_aborted(const pgconn *c)
{
    return PQtransactionStatus(c->conn) == PQTRANS_INERROR;
}

void pgconn_rollback(pgconn *c)
{
    if (!pgconn_in_transaction(c))
        return;
    PGresult *res = PQexec(c->conn, "ROLLBACK");
    PQclear(res);
}

pb_status pgconn_commit(pgconn *c, char *err)
{
    /* COMMIT of a transaction an error aborted answers "ROLLBACK" without an error. */
    bool aborted = PQtransactionStatus(c->conn) == PQTRANS_INERROR;
    PGresult *res = PQexec(c->conn, "COMMIT");
    pb_status rc = PB_OK;
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = sql_error(c, res, "committing", err);
    else if (aborted || strcmp(PQcmdStatus(res), "ROLLBACK") == 0)
        rc = pb_errf(err, PB_ERR_DB,
                     "committing: an earlier statement failed, so the transaction was rolled "
                     "back instead");
    PQclear(res);
    if (rc != PB_OK)
        pgconn_rollback(c);
    return rc;
}

pb_status pgconn_end(pgconn *c, pb_status rc, char *err)
{
    if (rc == PB_OK)
        return pgconn_commit(c, err);
    pgconn_rollback(c);
    return rc;
}

pb_status pgconn_savepoint(pgconn *c, char *err)
{
    return exec_simple(c, "SAVEPOINT record", "starting a record", err);
}

void pgconn_savepoint_end(pgconn *c, pb_status rc)
{
    if (!pgconn_in_transaction(c))
        return;
    /* These must not overwrite the record's own error (kind, SQLSTATE). */
    enum pgconn_error_kind kind = c->kind;
    char state[sizeof c->sqlstate];
    memcpy(state, c->sqlstate, sizeof state);
    char ignored[PB_ERR_LEN];
    if (rc != PB_OK)
        exec_simple(c, "ROLLBACK TO SAVEPOINT record", "undoing a record", ignored);
    exec_simple(c, "RELEASE SAVEPOINT record", "ending a record", ignored);
    c->kind = kind;
    memcpy(c->sqlstate, state, sizeof state);
}

/* ---- advisory locks ---- */

/* Runs a one-row, one-boolean statement about the lock for name. */
static pb_status lock_call(pgconn *c, const char *sql, const char *name, bool *answer, char *err)
{
    pgconn_result *r = NULL;
    char what[128];
    snprintf(what, sizeof what, "advisory lock '%s'", name);
    pb_status rc = pgconn_query(c, sql, &r, what, err, PGCONN_INT(pgconn_lock_key(name)));
    if (rc != PB_OK)
        return rc;
    *answer = pgconn_rows(r) == 1 && pgconn_get_int(r, 0, 0) == 1;
    pgconn_result_free(r);
    return PB_OK;
}

pb_status pgconn_try_lock(pgconn *c, const char *name, bool *got, char *err)
{
    *got = false;
    return lock_call(c, "SELECT pg_try_advisory_lock(?1)", name, got, err);
}

pb_status pgconn_unlock(pgconn *c, const char *name, char *err)
{
    bool released = false;
    pb_status rc = lock_call(c, "SELECT pg_advisory_unlock(?1)", name, &released, err);
    if (rc == PB_OK && !released)
        rc = pb_errf(err, PB_ERR_NOT_FOUND, "advisory lock '%s' is not held by this connection",
                     name);
    return rc;
}

/* ---- migrations ---- */

/* Migration number of an embedded file named db/pg/NNN_name.sql, or -1. */
static int migration_number(const char *name)
{
    if (strncmp(name, "db/pg/", 6) != 0)
        return -1;
    size_t len = strlen(name);
    if (len < 11 || strcmp(name + len - 4, ".sql") != 0)
        return -1;
    char *end;
    long n = strtol(name + 6, &end, 10);
    if (end == name + 6 || *end != '_' || n <= 0 || n > 100000)
        return -1;
    return (int)n;
}

int pgconn_schema_latest(void)
{
    int latest = 0;
    for (size_t i = 0; i < embedded_files_count; i++) {
        int n = migration_number(embedded_files[i].name);
        if (n > latest)
            latest = n;
    }
    return latest;
}

/* SQLite keeps the schema version in its file header (PRAGMA user_version); PostgreSQL has no
 * such slot, so it is the one row of this table, written in the migration's transaction. */
static const char *SQL_VERSION_READ = "SELECT version FROM pb_schema_version";

/* The recorded version: 0 with *exists = false when the table is absent (a new database). */
static pb_status read_version(pgconn *c, int *version, bool *exists, char *err)
{
    pgconn_result *r = NULL;
    *version = 0;
    *exists = false;
    pb_status rc =
        pgconn_query_argv(c, SQL_VERSION_READ, NULL, &r, "reading the schema version", err);
    if (rc != PB_OK)
        return strcmp(c->sqlstate, "42P01") == 0 ? (clear_error(c), PB_OK) : rc;
    *exists = true;
    if (pgconn_rows(r) > 0)
        *version = (int)pgconn_get_int(r, 0, 0);
    pgconn_result_free(r);
    return PB_OK;
}

static pb_status refuse_newer(int version, int latest, const char *shown, char *err)
{
    return pb_errf(err, PB_ERR_VERSION,
                   "%s: schema version %d is newer than this promptbandit knows (%d); use a newer "
                   "binary or restore a backup made by this version",
                   shown, version, latest);
}

/* Inside the migration transaction, holding the lock: applies every file after version. */
static pb_status apply_pending(pgconn *c, int version, int latest, char *err)
{
    char what[128];
    for (int want = version + 1; want <= latest; want++) {
        const struct embedded_file *found = NULL;
        for (size_t i = 0; i < embedded_files_count; i++)
            if (migration_number(embedded_files[i].name) == want)
                found = &embedded_files[i];
        if (!found)
            return pb_errf(err, PB_ERR_VERSION, "migration %03d is missing from db/pg/", want);
        snprintf(what, sizeof what, "migration %s", found->name);
        pb_status rc = exec_simple(c, (const char *)found->data, what, err);
        if (rc != PB_OK)
            return rc;
        c->applied++;
    }
    return pgconn_exec(c, "UPDATE pb_schema_version SET version = ?1",
                       "recording the schema version", err, PGCONN_INT(latest));
}

/* Brings the schema to the latest version. A database already there costs one SELECT; else
 * one transaction takes the migration lock (waiting at most the lock timeout), reads the
 * version again (another replica may have migrated meanwhile), applies what is missing and
 * records the new version, so either all pending files apply or none. */
static pb_status migrate(pgconn *c, const char *shown, char *err)
{
    int version;
    bool exists;
    int latest = pgconn_schema_latest();
    pb_status rc = read_version(c, &version, &exists, err);
    if (rc != PB_OK)
        return rc;
    if (version > latest)
        return refuse_newer(version, latest, shown, err);
    c->schema_version = version;
    if (exists && version == latest)
        return PB_OK;
    rc = pgconn_begin(c, err);
    if (rc != PB_OK)
        return rc;
    rc = pgconn_exec(c, "SELECT pg_advisory_xact_lock(?1)", "waiting for the migration lock", err,
                     PGCONN_INT(pgconn_lock_key(MIGRATION_LOCK)));
    if (rc == PB_OK)
        rc = exec_simple(c,
                         "CREATE TABLE IF NOT EXISTS pb_schema_version (version BIGINT NOT NULL); "
                         "INSERT INTO pb_schema_version (version) SELECT 0 "
                         "WHERE NOT EXISTS (SELECT 1 FROM pb_schema_version)",
                         "creating the schema version table", err);
    if (rc == PB_OK)
        rc = read_version(c, &version, &exists, err);
    if (rc == PB_OK && version > latest)
        rc = refuse_newer(version, latest, shown, err);
    if (rc == PB_OK && version < latest)
        rc = apply_pending(c, version, latest, err);
    rc = pgconn_end(c, rc, err);
    if (rc != PB_OK) {
        c->applied = 0;
        return rc;
    }
    c->schema_version = latest;
    return PB_OK;
}

/* ---- open and close ---- */

static void quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* "relation already exists, skipping" and the like are not for the log */
}

/* Session settings; synchronous_commit must read back "on": an acknowledged write is then on
 * the server's disk (a role or database default of "off" would lose the last commits in a
 * server crash). */
static pb_status set_session(pgconn *c, const struct pgconn_options *opt, char *err)
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "SET synchronous_commit = on; SET lock_timeout = %d; SET statement_timeout = %d",
             c->lock_timeout_ms,
             opt && opt->statement_timeout_ms > 0 ? opt->statement_timeout_ms : 0);
    pb_status rc = exec_simple(c, sql, "setting up the session", err);
    if (rc != PB_OK)
        return rc;
    pgconn_result *r = NULL;
    rc = pgconn_query_argv(c, "SHOW synchronous_commit", NULL, &r, "reading synchronous_commit",
                           err);
    if (rc != PB_OK)
        return rc;
    const char *v = pgconn_rows(r) == 1 ? pgconn_get_text(r, 0, 0) : NULL;
    if (!v || strcmp(v, "on") != 0)
        rc = pb_errf(err, PB_ERR_DB, "synchronous_commit is '%s', not 'on', after setting it",
                     v ? v : "?");
    pgconn_result_free(r);
    return rc;
}

pb_status pgconn_open(const char *url, const struct pgconn_options *opt, pgconn **out, char *err)
{
    char shown[512], timeout[16], msg[PB_ERR_LEN];
    pb_status rc = PB_OK;
    *out = NULL;
    pgsql_url_redact(url, shown, sizeof shown);
    if (!pgsql_is_url(url))
        return pb_errf(err, PB_ERR_INVALID, "%s: not a postgresql:// URL", shown);
    pgconn *c = calloc(1, sizeof *c);
    if (!c)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    int connect_s = opt && opt->connect_timeout_s > 0 ? opt->connect_timeout_s : 5;
    c->lock_timeout_ms = opt && opt->lock_timeout_ms > 0 ? opt->lock_timeout_ms : 5000;
    snprintf(timeout, sizeof timeout, "%d", connect_s);
    /* Later keywords override what the URL says: the bounds here always hold. Keepalives and
     * tcp_user_timeout bound how long a read waits on a server that vanished. */
    const char *keys[] = {"dbname",
                          "connect_timeout",
                          "client_encoding",
                          "application_name",
                          "keepalives",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "tcp_user_timeout",
                          NULL};
    const char *values[] = {url,  timeout, "UTF8", "promptbandit", "1",
                            "30", "10",    "3",    "60000",        NULL};
    c->conn = PQconnectdbParams(keys, values, 1);
    if (!c->conn || PQstatus(c->conn) != CONNECTION_OK) {
        one_line(c->conn ? PQerrorMessage(c->conn) : "out of memory", msg, sizeof msg);
        rc = pb_errf(err, PB_ERR_UNAVAILABLE, "%s: cannot connect to PostgreSQL within %d s: %s",
                     shown, connect_s, msg);
        goto cleanup;
    }
    PQsetNoticeProcessor(c->conn, quiet_notices, NULL);
    rc = set_session(c, opt, msg);
    if (rc == PB_OK)
        rc = migrate(c, shown, msg);
    if (rc != PB_OK) {
        if (rc == PB_ERR_VERSION)
            pb_errf(err, rc, "%s", msg);
        else
            pb_errf(err, rc, "%s: %s", shown, msg);
        goto cleanup;
    }
    *out = c;
    c = NULL;
cleanup:
    pgconn_close(c);
    return rc;
}

void pgconn_close(pgconn *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_stmt; i++) {
        free(c->stmt[i].sql);
        free(c->stmt[i].sig);
    }
    free(c->stmt);
    PQfinish(c->conn);
    free(c);
}

int pgconn_schema_version(const pgconn *c)
{
    return c->schema_version;
}

int pgconn_migrations_applied(const pgconn *c)
{
    return c->applied;
}
