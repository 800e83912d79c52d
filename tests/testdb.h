/* testdb.h — the database a C test runs on, so that one test asserts the same behaviour on both
 * backends. Under the PostgreSQL pass (PB_TEST_DB=pg, set by CMake on every `<name>_pg` test) a
 * test's database is a fresh PostgreSQL database created with CREATE DATABASE on the server at
 * PB_TEST_PG_URL (started once for the whole run by `tools/bootstrap.sh test`; when unset, this
 * process starts its own server through pg_harness.h) and dropped at exit; otherwise it is the
 * SQLite file the test named. It also runs a test's own SQL on either (testdb_exec, testdb_int),
 * for the few checks that look at the database from outside the store. A database that cannot be
 * created ends the test with exit status 2: a failure, never a skip. Header-only; it owns the
 * databases it creates (dropped by name) and nothing else. */
#ifndef TESTDB_H
#define TESTDB_H

#include "pg_harness.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TESTDB_MAX 256

static char testdb_names[TESTDB_MAX][64];
static int testdb_count;
static pid_t testdb_owner; /* a forked child that exits must not drop its parent's databases */

/* 1 in the PostgreSQL pass (PB_TEST_DB=pg), 0 in the SQLite pass. */
static inline int testdb_is_pg(void)
{
    const char *v = getenv("PB_TEST_DB");
    return v && strcmp(v, "pg") == 0;
}

static inline int testdb_is_url(const char *db)
{
    return strncmp(db, "postgresql://", 13) == 0 || strncmp(db, "postgres://", 11) == 0;
}

/* The server's maintenance URL (its database "pbtest"): PB_TEST_PG_URL, or a server of our own. */
static inline const char *testdb_admin_url(void)
{
    const char *url = getenv("PB_TEST_PG_URL");
    return url && url[0] ? url : pg_harness_start();
}

/* Runs one statement on a URL; returns 0, or -1 with the server's message on stderr. */
static inline int testdb_pg_run(const char *url, const char *sql, PGresult **out)
{
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "testdb: cannot connect to %s: %s", url, PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "testdb: %s: %s", sql, PQerrorMessage(c));
    if (out && rc == 0)
        *out = r;
    else
        PQclear(r);
    PQfinish(c);
    return rc;
}

/* URL of database `name` on the same server as `url` (its path replaced). */
static inline void testdb_url_with(const char *url, const char *name, char *out, size_t len)
{
    const char *q = strchr(url, '?');
    size_t end = q ? (size_t)(q - url) : strlen(url);
    size_t slash = end;
    while (slash > 13 && url[slash - 1] != '/')
        slash--;
    snprintf(out, len, "%.*s%s%s", (int)slash, url, name, q ? q : "");
}

static void testdb_drop_all(void)
{
    if (getpid() != testdb_owner)
        return;
    const char *admin = getenv("PB_TEST_PG_URL");
    if (!admin || !admin[0])
        admin = pg_harness_start(); /* already running: returns its URL */
    for (int i = 0; i < testdb_count; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", testdb_names[i]);
        testdb_pg_run(admin, sql, NULL);
    }
    testdb_count = 0;
}

/* A fresh database for this test in out: the SQLite file dir/name (name itself when dir is NULL,
 * as for ":memory:"), or in the PostgreSQL pass the URL of a new, empty database
 * pb_t_<pid>_<n>_<name> (dropped at exit). Exits with status 2 when
 * it cannot be created. Returns out. */
static inline const char *testdb_make(char *out, size_t len, const char *dir, const char *name)
{
    if (!testdb_is_pg()) {
        if (dir)
            snprintf(out, len, "%s/%s", dir, name);
        else
            snprintf(out, len, "%s", name);
        return out;
    }
    if (testdb_count == TESTDB_MAX) {
        fprintf(stderr, "testdb: more than %d databases in one test\n", TESTDB_MAX);
        exit(2);
    }
    char db[64];
    int n = snprintf(db, sizeof db, "pb_t_%ld_%d_", (long)getpid(), testdb_count);
    for (const char *p = name; *p && n < (int)sizeof db - 1; p++) {
        char ch = *p;
        if (ch == '.')
            break; /* "svc.db" → "svc" */
        if (ch == ':')
            continue; /* ":memory:" → "memory" */
        db[n++] = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ? ch : '_';
    }
    db[n] = '\0';
    const char *admin = testdb_admin_url();
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    if (testdb_pg_run(admin, sql, NULL) != 0) {
        fprintf(stderr, "testdb: cannot create the test database (a failure, not a skip)\n");
        exit(2);
    }
    if (testdb_count == 0) {
        testdb_owner = getpid();
        atexit(testdb_drop_all);
    }
    snprintf(testdb_names[testdb_count++], sizeof testdb_names[0], "%s", db);
    testdb_url_with(admin, db, out, len);
    return out;
}

/* Runs SQL (one or more statements) on a test database, a file or a URL, outside the store: for
 * set-up that the store's API has no call for (ageing rows). Returns 0, or -1 with the reason on
 * stderr. */
static inline int testdb_exec(const char *db, const char *sql)
{
    if (testdb_is_url(db))
        return testdb_pg_run(db, sql, NULL);
    sqlite3 *h = NULL;
    char *msg = NULL;
    int rc = sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "testdb: %s: %s\n", sql, msg ? msg : sqlite3_errmsg(h));
    sqlite3_free(msg);
    sqlite3_close(h);
    return rc == SQLITE_OK ? 0 : -1;
}

/* The first column of the first row of a query as an integer (NULL reads 0, as SQLite's
 * column_int64 does); -1 when the query fails or returns no row. */
static inline long long testdb_int(const char *db, const char *sql)
{
    long long v = -1;
    if (testdb_is_url(db)) {
        PGresult *r = NULL;
        if (testdb_pg_run(db, sql, &r) == 0) {
            if (PQntuples(r) > 0 && PQnfields(r) > 0)
                v = PQgetisnull(r, 0, 0) ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
            PQclear(r);
        }
        return v;
    }
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else
        fprintf(stderr, "testdb: %s: %s\n", sql, sqlite3_errmsg(h));
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

#endif
