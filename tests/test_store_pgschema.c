/* test_store_pgschema.c — SQLite's migrations (db/NNN_*.sql, applied by store_open to a file)
 * and PostgreSQL's (db/pg/NNN_*.sql, applied by pgconn_open to a server started for the test)
 * build the same schema: every migration exists in both dialects, and both databases have the
 * same tables, the same columns (name, nullability, type class), the same indexes (column
 * lists, unique, partial) and the same foreign keys. A migration added to one dialect only
 * fails here, naming the file to port. */
#include "check.h"
#include "pg_harness.h"

#include "base/embedded.h"
#include "base/pb.h"
#include "store/pgconn.h"
#include "store/store.h"

#include <ctype.h>
#include <sqlite3.h>
#include <stdarg.h>

struct lines {
    char **v;
    size_t n, cap;
};

static void lines_add(struct lines *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lines_add(struct lines *l, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = strdup(buf);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void lines_free(struct lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    *l = (struct lines){0};
}

/* Prints what only one side has; returns how many lines differ. */
static int lines_diff(struct lines *sqlite, struct lines *pg, const char *only_sqlite,
                      const char *only_pg)
{
    qsort(sqlite->v, sqlite->n, sizeof *sqlite->v, cmp_str);
    qsort(pg->v, pg->n, sizeof *pg->v, cmp_str);
    size_t i = 0, j = 0;
    int differ = 0;
    while (i < sqlite->n || j < pg->n) {
        int c = i == sqlite->n ? 1 : j == pg->n ? -1 : strcmp(sqlite->v[i], pg->v[j]);
        if (c == 0) {
            i++, j++;
            continue;
        }
        differ++;
        if (c < 0)
            fprintf(stderr, "%s: %s\n", only_sqlite, sqlite->v[i++]);
        else
            fprintf(stderr, "%s: %s\n", only_pg, pg->v[j++]);
    }
    return differ;
}

/* ---- the migration files ---- */

/* "NNN_name.sql" of an embedded migration in folder ("db/" or "db/pg/"), or NULL. */
static const char *migration_base(const char *name, const char *folder)
{
    size_t n = strlen(folder), len = strlen(name);
    if (strncmp(name, folder, n) != 0 || strchr(name + n, '/') || len < n + 8 ||
        strcmp(name + len - 4, ".sql") != 0 || !isdigit((unsigned char)name[n]))
        return NULL;
    return name + n;
}

/* True when lines l holds s. */
static bool lines_has(const struct lines *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], s))
            return true;
    return false;
}

static void test_every_migration_exists_in_both_dialects(void)
{
    struct lines sqlite = {0}, pg = {0};
    for (size_t i = 0; i < embedded_files_count; i++) {
        const char *b;
        if ((b = migration_base(embedded_files[i].name, "db/")))
            lines_add(&sqlite, "%s", b);
        if ((b = migration_base(embedded_files[i].name, "db/pg/")))
            lines_add(&pg, "%s", b);
    }
    CHECK(sqlite.n >= 5);
    int missing = 0;
    for (size_t i = 0; i < sqlite.n; i++)
        if (!lines_has(&pg, sqlite.v[i])) {
            fprintf(stderr,
                    "db/pg lacks %s: port db/%s to PostgreSQL's dialect (see the header "
                    "of db/pg/001_init.sql)\n",
                    sqlite.v[i], sqlite.v[i]);
            missing++;
        }
    for (size_t i = 0; i < pg.n; i++)
        if (!lines_has(&sqlite, pg.v[i])) {
            fprintf(stderr, "db lacks %s: db/pg/%s has no SQLite migration of the same name\n",
                    pg.v[i], pg.v[i]);
            missing++;
        }
    CHECK_INT(missing, 0);
    CHECK_INT(store_schema_latest(), pgconn_schema_latest());
    lines_free(&sqlite);
    lines_free(&pg);
}

/* ---- SQLite's schema ---- */

/* SQLite's type affinity of a declared type (its rules, section 3.1 of "Datatypes"). */
static const char *sqlite_class(const char *decl)
{
    char up[64];
    size_t i = 0;
    for (; decl && decl[i] && i < sizeof up - 1; i++)
        up[i] = (char)toupper((unsigned char)decl[i]);
    up[i] = '\0';
    if (strstr(up, "INT"))
        return "integer";
    if (strstr(up, "CHAR") || strstr(up, "CLOB") || strstr(up, "TEXT"))
        return "text";
    if (!up[0] || strstr(up, "BLOB"))
        return "blob";
    if (strstr(up, "REAL") || strstr(up, "FLOA") || strstr(up, "DOUB"))
        return "real";
    return "numeric";
}

static const char *pg_class(const char *type)
{
    if (!strcmp(type, "bigint") || !strcmp(type, "integer") || !strcmp(type, "smallint"))
        return "integer";
    if (!strcmp(type, "text") || !strcmp(type, "character varying") || !strcmp(type, "character"))
        return "text";
    if (!strcmp(type, "double precision") || !strcmp(type, "real"))
        return "real";
    if (!strcmp(type, "bytea"))
        return "blob";
    if (!strcmp(type, "numeric"))
        return "numeric";
    return type;
}

static const char *SQLITE_TABLES = "FROM sqlite_schema m WHERE m.type = 'table' AND m.name NOT "
                                   "LIKE 'sqlite_%'";

/* Runs a query and hands each row to fn. */
static void sqlite_rows(sqlite3 *db, const char *sql, void (*fn)(sqlite3_stmt *, struct lines *),
                        struct lines *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
        CHECK(!"sqlite catalog query failed");
        return;
    }
    while (sqlite3_step(st) == SQLITE_ROW)
        fn(st, out);
    sqlite3_finalize(st);
}

#define COL(i) ((const char *)sqlite3_column_text(st, i))

static void sqlite_table(sqlite3_stmt *st, struct lines *out)
{
    lines_add(out, "table %s", COL(0));
}

/* A primary-key column is NOT NULL in both: PostgreSQL requires it, and SQLite's rowid or
 * WITHOUT ROWID keys cannot be NULL (a TEXT PRIMARY KEY in a rowid table could, by a legacy
 * quirk, but the store never writes one). */
static void sqlite_column(sqlite3_stmt *st, struct lines *out)
{
    bool notnull = sqlite3_column_int(st, 3) || sqlite3_column_int(st, 4) > 0;
    lines_add(out, "column %s.%s %s %s", COL(0), COL(1), sqlite_class(COL(2)),
              notnull ? "not null" : "null");
}

static void sqlite_index(sqlite3_stmt *st, struct lines *out)
{
    const char *origin = COL(3);
    const char *name = !strcmp(origin, "pk") ? "(pk)" : !strcmp(origin, "u") ? "(unique)" : COL(1);
    lines_add(out, "index %s %s (%s)%s%s", COL(0), name, COL(5),
              sqlite3_column_int(st, 2) ? " unique" : "",
              sqlite3_column_int(st, 4) ? " partial" : "");
}

/* A rowid table's INTEGER PRIMARY KEY has no index of its own in SQLite. */
static void sqlite_rowid_pk(sqlite3_stmt *st, struct lines *out)
{
    lines_add(out, "index %s (pk) (%s) unique", COL(0), COL(1));
}

static void sqlite_fk(sqlite3_stmt *st, struct lines *out)
{
    lines_add(out, "foreign key %s (%s) -> %s (%s) on delete %s", COL(0), COL(1), COL(2), COL(3),
              COL(4));
}

static void sqlite_schema_lines(const char *path, struct lines *out)
{
    sqlite3 *db = NULL;
    CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    char sql[1024];
    snprintf(sql, sizeof sql, "SELECT m.name %s", SQLITE_TABLES);
    sqlite_rows(db, sql, sqlite_table, out);
    snprintf(sql, sizeof sql,
             "SELECT m.name, p.name, p.type, p.\"notnull\", p.pk FROM sqlite_schema m, "
             "pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%%'");
    sqlite_rows(db, sql, sqlite_column, out);
    snprintf(sql, sizeof sql,
             "SELECT m.name, il.name, il.\"unique\", il.origin, il.partial, "
             "(SELECT group_concat(name, ',') FROM (SELECT ii.name FROM pragma_index_info(il.name) "
             "ii ORDER BY ii.seqno)) FROM sqlite_schema m, pragma_index_list(m.name) il "
             "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%%'");
    sqlite_rows(db, sql, sqlite_index, out);
    snprintf(sql, sizeof sql,
             "SELECT m.name, (SELECT group_concat(name, ',') FROM (SELECT p.name FROM "
             "pragma_table_info(m.name) p WHERE p.pk > 0 ORDER BY p.pk)) FROM sqlite_schema m "
             "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%%' AND EXISTS (SELECT 1 FROM "
             "pragma_table_info(m.name) p WHERE p.pk > 0) AND NOT EXISTS (SELECT 1 FROM "
             "pragma_index_list(m.name) il WHERE il.origin = 'pk')");
    sqlite_rows(db, sql, sqlite_rowid_pk, out);
    snprintf(sql, sizeof sql,
             "SELECT m.name, group_concat(f.\"from\", ','), f.\"table\", group_concat(f.\"to\", "
             "','), f.on_delete FROM sqlite_schema m, pragma_foreign_key_list(m.name) f "
             "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%%' GROUP BY m.name, f.id");
    sqlite_rows(db, sql, sqlite_fk, out);
    sqlite3_close(db);
}

/* ---- PostgreSQL's schema ---- */

static const char *PG_TABLES =
    "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
    "AND table_type = 'BASE TABLE' AND table_name <> 'pb_schema_version'";
static const char *PG_COLUMNS =
    "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
    "WHERE table_schema = current_schema() AND table_name <> 'pb_schema_version'";
static const char *PG_INDEXES =
    "SELECT t.relname, CASE WHEN ix.indisprimary THEN '(pk)' WHEN EXISTS (SELECT 1 FROM "
    "pg_constraint c WHERE c.conindid = ix.indexrelid AND c.contype = 'u') THEN '(unique)' "
    "ELSE i.relname END, (SELECT string_agg(a.attname, ',' ORDER BY k.o) FROM "
    "unnest(ix.indkey::int2[]) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = "
    "t.oid AND a.attnum = k.n), ix.indisunique, ix.indpred IS NOT NULL FROM pg_index ix "
    "JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_class i ON i.oid = ix.indexrelid "
    "JOIN pg_namespace s ON s.oid = t.relnamespace WHERE s.nspname = current_schema() "
    "AND t.relname <> 'pb_schema_version'";
static const char *PG_FKS =
    "SELECT cl.relname, (SELECT string_agg(a.attname, ',' ORDER BY k.o) FROM unnest(c.conkey) "
    "WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = "
    "k.n), ft.relname, (SELECT string_agg(a.attname, ',' ORDER BY k.o) FROM "
    "unnest(c.confkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = c.confrelid "
    "AND a.attnum = k.n), CASE c.confdeltype WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN "
    "'RESTRICT' WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' ELSE 'SET DEFAULT' END "
    "FROM pg_constraint c JOIN pg_class cl ON cl.oid = c.conrelid JOIN pg_class ft ON ft.oid "
    "= c.confrelid JOIN pg_namespace s ON s.oid = cl.relnamespace WHERE c.contype = 'f' AND "
    "s.nspname = current_schema()";

static pgconn_result *pg_rows(pgconn *c, const char *sql)
{
    char err[PB_ERR_LEN] = "";
    pgconn_result *r = NULL;
    if (pgconn_query_argv(c, sql, NULL, &r, "catalog query", err) != PB_OK) {
        fprintf(stderr, "%s\n", err);
        CHECK(!"postgresql catalog query failed");
    }
    return r;
}

#define PGT(i) pgconn_get_text(r, row, i)

static void pg_schema_lines(pgconn *c, struct lines *out)
{
    pgconn_result *r = pg_rows(c, PG_TABLES);
    for (int row = 0; r && row < pgconn_rows(r); row++)
        lines_add(out, "table %s", PGT(0));
    pgconn_result_free(r);
    r = pg_rows(c, PG_COLUMNS);
    for (int row = 0; r && row < pgconn_rows(r); row++)
        lines_add(out, "column %s.%s %s %s", PGT(0), PGT(1), pg_class(PGT(2)),
                  !strcmp(PGT(3), "NO") ? "not null" : "null");
    pgconn_result_free(r);
    r = pg_rows(c, PG_INDEXES);
    for (int row = 0; r && row < pgconn_rows(r); row++)
        lines_add(out, "index %s %s (%s)%s%s", PGT(0), PGT(1), PGT(2),
                  pgconn_get_int(r, row, 3) ? " unique" : "",
                  pgconn_get_int(r, row, 4) ? " partial" : "");
    pgconn_result_free(r);
    r = pg_rows(c, PG_FKS);
    for (int row = 0; r && row < pgconn_rows(r); row++)
        lines_add(out, "foreign key %s (%s) -> %s (%s) on delete %s", PGT(0), PGT(1), PGT(2),
                  PGT(3), PGT(4));
    pgconn_result_free(r);
}

/* ---- the comparison ---- */

static size_t count_prefix(const struct lines *l, const char *prefix)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += strncmp(l->v[i], prefix, strlen(prefix)) == 0;
    return n;
}

static char sqlite_path[512];

static void test_both_dialects_build_the_same_schema(void)
{
    char err[PB_ERR_LEN] = "";
    snprintf(sqlite_path, sizeof sqlite_path, "%s/schema.db", check_tmpdir());
    store *s = NULL;
    CHECK_INT(store_open(sqlite_path, NULL, &s, err), PB_OK);
    store_close(s);
    pgconn *c = NULL;
    CHECK_INT(pgconn_open(pg_harness_createdb("schema"), NULL, &c, err), PB_OK);
    if (!c) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    struct lines sqlite = {0}, pg = {0};
    sqlite_schema_lines(sqlite_path, &sqlite);
    pg_schema_lines(c, &pg);
    /* Not vacuous: the queries found the whole schema. */
    CHECK(count_prefix(&sqlite, "table ") >= 11);
    CHECK(count_prefix(&sqlite, "column ") >= 70);
    CHECK(count_prefix(&sqlite, "index ") >= 20);
    CHECK(count_prefix(&sqlite, "foreign key ") >= 15);
    int differ = lines_diff(&sqlite, &pg, "in SQLite's schema only", "in PostgreSQL's only");
    if (differ)
        fprintf(stderr,
                "the schemas differ in %d line(s): make db/pg/ match db/ (or the other "
                "way round)\n",
                differ);
    CHECK_INT(differ, 0);
    lines_free(&sqlite);
    lines_free(&pg);

    /* The comparison fails when one side changes: a column, an index and a NOT NULL. */
    const char *changes[] = {"ALTER TABLE rewards ADD COLUMN extra TEXT",
                             "CREATE INDEX rewards_created ON rewards (created_at)",
                             "ALTER TABLE runs ALTER COLUMN config SET NOT NULL"};
    for (int i = 0; i < 3; i++)
        CHECK_INT(pgconn_exec_argv(c, changes[i], NULL, "test", err), PB_OK);
    sqlite_schema_lines(sqlite_path, &sqlite);
    pg_schema_lines(c, &pg);
    fprintf(stderr, "(expected differences follow)\n");
    CHECK_INT(lines_diff(&sqlite, &pg, "  in SQLite's schema only", "  in PostgreSQL's only"), 4);
    lines_free(&sqlite);
    lines_free(&pg);
    pgconn_close(c);
}

int main(void)
{
    RUN(test_every_migration_exists_in_both_dialects);
    RUN(test_both_dialects_build_the_same_schema);
    CHECK_DONE();
}
