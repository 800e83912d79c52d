/* test_store_pgconn.c — the PostgreSQL connection module against a real server started for the
 * test (tests/pg_harness.h): placeholder translation, migrations applied once and idempotent
 * (also with several connections opening a new database together), a newer schema refused,
 * synchronous_commit on even when the database says off, the prepared-statement cache reused
 * by SQL text, typed round trips, unique / primary-key / foreign-key / check violations
 * reported as such, transactions and savepoints, advisory locks across connections, the
 * connect, lock and statement waits bounded, and a lost connection reported as storage. */
#include "check.h"
#include "pg_harness.h"

#include "base/pb.h"
#include "store/pgconn.h"
#include "store/pgsql.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

static pgconn *open_ok(const char *url)
{
    char err[PB_ERR_LEN] = "";
    pgconn *c = NULL;
    pb_status rc = pgconn_open(url, NULL, &c, err);
    if (rc != PB_OK)
        fprintf(stderr, "pgconn_open %s: %s\n", url, err);
    CHECK_INT(rc, PB_OK);
    return c;
}

static int64_t query_int(pgconn *c, const char *sql)
{
    char err[PB_ERR_LEN] = "";
    pgconn_result *r = NULL;
    pb_status rc = pgconn_query_argv(c, sql, NULL, &r, "test query", err);
    if (rc != PB_OK) {
        fprintf(stderr, "%s: %s\n", sql, err);
        CHECK_INT(rc, PB_OK);
        return -1;
    }
    int64_t v = pgconn_rows(r) ? pgconn_get_int(r, 0, 0) : -1;
    pgconn_result_free(r);
    return v;
}

static void check_translate(const char *sql, const char *want, int want_n)
{
    char err[PB_ERR_LEN] = "", *out = NULL;
    int n = -1;
    CHECK_INT(pgsql_translate(sql, &out, &n, err), PB_OK);
    CHECK_STR(out, want);
    CHECK_INT(n, want_n);
    free(out);
}

static void test_translate_placeholders(void)
{
    check_translate("SELECT 1", "SELECT 1", 0);
    check_translate("", "", 0);
    check_translate("INSERT INTO t VALUES (?, ?, ?)", "INSERT INTO t VALUES ($1, $2, $3)", 3);
    check_translate("SELECT ?2 + ?1 + ?2", "SELECT $2 + $1 + $2", 2);
    /* SQLite's rule: a bare ? takes the number after the largest so far. */
    check_translate("SELECT ?3, ?, ?1, ?", "SELECT $3, $4, $1, $5", 5);
    check_translate("SELECT '?', 'it''s ?', \"col?\" FROM t WHERE a = ?",
                    "SELECT '?', 'it''s ?', \"col?\" FROM t WHERE a = $1", 1);
    check_translate("SELECT a -- why? because\n, b / 2 /* ?1 */ FROM t WHERE c = ?12",
                    "SELECT a -- why? because\n, b / 2 /* ?1 */ FROM t WHERE c = $12", 12);
    check_translate("SELECT 'unterminated ?", "SELECT 'unterminated ?", 0);
    char err[PB_ERR_LEN] = "", *out = NULL;
    int n;
    CHECK_INT(pgsql_translate("SELECT ?0", &out, &n, err), PB_ERR_INVALID);
    CHECK(out == NULL);
    CHECK(strstr(err, "?0") != NULL);
    CHECK_INT(pgsql_translate("SELECT ?99999", &out, &n, err), PB_ERR_INVALID);
}

static void test_url_helpers(void)
{
    CHECK(pgsql_is_url("postgresql://u@h/db"));
    CHECK(pgsql_is_url("postgres://h/db"));
    CHECK(!pgsql_is_url("/var/lib/promptbandit/pb.db"));
    CHECK(!pgsql_is_url("pb.db"));
    CHECK(!pgsql_is_url(NULL));
    char out[256];
    pgsql_url_redact("postgresql://alice:s3cret@db.example:5432/pb", out, sizeof out);
    CHECK_STR(out, "postgresql://alice:***@db.example:5432/pb");
    pgsql_url_redact("postgresql://alice@db/pb?password=s3cret&sslmode=require", out, sizeof out);
    CHECK_STR(out, "postgresql://alice@db/pb?password=***&sslmode=require");
    pgsql_url_redact("postgresql://db:5432/pb", out, sizeof out);
    CHECK_STR(out, "postgresql://db:5432/pb");
    char err[PB_ERR_LEN] = "";
    pgconn *c = NULL;
    CHECK_INT(pgconn_open("pb.db", NULL, &c, err), PB_ERR_INVALID);
    CHECK(c == NULL);
}

static void test_migrations_applied_once_and_idempotent(void)
{
    const char *url = pg_harness_createdb("mig_fresh");
    pgconn *c = open_ok(url);
    if (!c)
        return;
    CHECK(pgconn_schema_latest() >= 5);
    CHECK_INT(pgconn_schema_version(c), pgconn_schema_latest());
    CHECK_INT(pgconn_migrations_applied(c), pgconn_schema_latest());
    CHECK_INT(query_int(c, "SELECT version FROM pb_schema_version"), pgconn_schema_latest());
    CHECK_INT(query_int(c, "SELECT count(*) FROM information_schema.tables "
                           "WHERE table_schema = current_schema() AND table_name IN "
                           "('experiments', 'arms', 'users', 'conversations', 'impressions', "
                           "'rewards', 'messages', 'runs', 'run_steps', 'judge_evals', "
                           "'id_blocks')"),
              11);
    pgconn_close(c);

    c = open_ok(url);
    if (!c)
        return;
    CHECK_INT(pgconn_migrations_applied(c), 0);
    CHECK_INT(pgconn_schema_version(c), pgconn_schema_latest());
    CHECK_INT(query_int(c, "SELECT count(*) FROM pb_schema_version"), 1);
    pgconn_close(c);
}

struct opener {
    const char *url;
    pb_status rc;
    int applied;
    char err[PB_ERR_LEN];
};

static void *open_in_thread(void *arg)
{
    struct opener *o = arg;
    pgconn *c = NULL;
    o->rc = pgconn_open(o->url, NULL, &c, o->err);
    o->applied = c ? pgconn_migrations_applied(c) : -1;
    pgconn_close(c);
    return NULL;
}

static void test_replicas_opening_together_migrate_once(void)
{
    const char *url = pg_harness_createdb("mig_together");
    enum { N = 4 };
    struct opener o[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        o[i] = (struct opener){.url = url};
        pthread_create(&t[i], NULL, open_in_thread, &o[i]);
    }
    int total = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        if (o[i].rc != PB_OK)
            fprintf(stderr, "opener %d: %s\n", i, o[i].err);
        CHECK_INT(o[i].rc, PB_OK);
        total += o[i].applied;
    }
    CHECK_INT(total, pgconn_schema_latest());
}

static void test_newer_schema_refused(void)
{
    const char *url = pg_harness_createdb("mig_newer");
    pgconn *c = open_ok(url);
    if (!c)
        return;
    char err[PB_ERR_LEN] = "";
    CHECK_INT(pgconn_exec(c, "UPDATE pb_schema_version SET version = ?1", "test", err,
                          PGCONN_INT(pgconn_schema_latest() + 1)),
              PB_OK);
    pgconn_close(c);
    c = NULL;
    CHECK_INT(pgconn_open(url, NULL, &c, err), PB_ERR_VERSION);
    CHECK(c == NULL);
    char want[64];
    snprintf(want, sizeof want, "schema version %d is newer", pgconn_schema_latest() + 1);
    CHECK(strstr(err, want) != NULL);
    CHECK(strstr(err, "mig_newer") != NULL);
}

static void test_synchronous_commit_on_even_when_database_says_off(void)
{
    const char *url = pg_harness_createdb("sync_off");
    pgconn *c = open_ok(url);
    if (!c)
        return;
    char err[PB_ERR_LEN] = "";
    CHECK_INT(pgconn_exec_argv(c, "ALTER DATABASE sync_off SET synchronous_commit = off", NULL,
                               "test", err),
              PB_OK);
    pgconn_close(c);
    c = open_ok(url);
    if (!c)
        return;
    pgconn_result *r = NULL;
    CHECK_INT(pgconn_query_argv(c, "SHOW synchronous_commit", NULL, &r, "test", err), PB_OK);
    if (r)
        CHECK_STR(pgconn_get_text(r, 0, 0), "on");
    pgconn_result_free(r);
    /* The database's default really is off: a session that does not set it sees off. */
    CHECK_INT(pgconn_query_argv(c,
                                "SELECT setconfig[1] FROM pg_db_role_setting s JOIN pg_database d "
                                "ON d.oid = s.setdatabase WHERE d.datname = 'sync_off'",
                                NULL, &r, "test", err),
              PB_OK);
    if (r && pgconn_rows(r) == 1)
        CHECK_STR(pgconn_get_text(r, 0, 0), "synchronous_commit=off");
    else
        CHECK(!"the database default was not recorded");
    pgconn_result_free(r);
    pgconn_close(c);
}

static void test_prepared_statements_reused_by_text(void)
{
    pgconn *c = open_ok(pg_harness_start());
    if (!c)
        return;
    char err[PB_ERR_LEN] = "";
    /* Two buffers with the same text: the key is the text, not the pointer. */
    char a[] = "SELECT ?1 + 1", b[] = "SELECT ?1 + 1";
    size_t before = pgconn_prepared_count(c);
    pgconn_result *r = NULL;
    CHECK_INT(pgconn_query(c, a, &r, "test", err, PGCONN_INT(41)), PB_OK);
    if (r)
        CHECK_INT(pgconn_get_int(r, 0, 0), 42);
    pgconn_result_free(r);
    CHECK_INT(pgconn_prepared_count(c), before + 1);
    int64_t on_server = query_int(c, "SELECT count(*) FROM pg_prepared_statements");
    for (int i = 0; i < 3; i++) {
        CHECK_INT(pgconn_query(c, b, &r, "test", err, PGCONN_INT(i)), PB_OK);
        if (r)
            CHECK_INT(pgconn_get_int(r, 0, 0), i + 1);
        pgconn_result_free(r);
    }
    CHECK_INT(pgconn_prepared_count(c), before + 2); /* + the count query */
    CHECK_INT(query_int(c, "SELECT count(*) FROM pg_prepared_statements"), on_server);
    /* The same text with a real: another statement, computed as a double. */
    CHECK_INT(pgconn_query(c, a, &r, "test", err, PGCONN_REAL(0.5)), PB_OK);
    if (r)
        CHECK_NEAR(pgconn_get_real(r, 0, 0), 1.5, 0);
    pgconn_result_free(r);
    CHECK_INT(pgconn_prepared_count(c), before + 3);
    /* Numbers are bound as 64-bit: no int4 overflow on large values. */
    CHECK_INT(pgconn_query(c, "SELECT ?1 - 86400", &r, "test", err, PGCONN_INT(5000000000LL)),
              PB_OK);
    if (r)
        CHECK_INT(pgconn_get_int(r, 0, 0), 5000000000LL - 86400);
    pgconn_result_free(r);
    /* A wrong argument count is a clear error, nothing prepared. */
    size_t n = pgconn_prepared_count(c);
    CHECK_INT(pgconn_exec(c, "SELECT ?1, ?2", "test", err, PGCONN_INT(1)), PB_ERR_INVALID);
    CHECK(strstr(err, "2 parameter(s), 1 given") != NULL);
    CHECK_INT(pgconn_prepared_count(c), n);
    pgconn_close(c);
}

static void test_typed_values_round_trip(void)
{
    pgconn *c = open_ok(pg_harness_start());
    if (!c)
        return;
    char err[PB_ERR_LEN] = "";
    pgconn_result *r = NULL;
    const double t = 1764600000.123456789, tiny = 1e-300, tenth = 0.1;
    const char *text = "héllo, 世界 'quoted' ?1";
    CHECK_INT(pgconn_query(c, "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, 2.75::float8, 1 < 2, ?8", &r,
                           "test", err, PGCONN_INT(INT64_MAX), PGCONN_INT(-9007199254740993LL),
                           PGCONN_REAL(t), PGCONN_REAL(tiny), PGCONN_REAL(tenth), PGCONN_TEXT(text),
                           PGCONN_NULL, PGCONN_TEXTN("abcdef", 3)),
              PB_OK);
    if (!r) {
        fprintf(stderr, "%s\n", err);
        pgconn_close(c);
        return;
    }
    CHECK_INT(pgconn_rows(r), 1);
    CHECK_INT(pgconn_cols(r), 10);
    CHECK(pgconn_get_int(r, 0, 0) == INT64_MAX);
    CHECK(pgconn_get_int(r, 0, 1) == -9007199254740993LL);
    CHECK(pgconn_get_real(r, 0, 2) == t); /* exact, not near */
    CHECK(pgconn_get_real(r, 0, 3) == tiny);
    CHECK(pgconn_get_real(r, 0, 4) == tenth);
    CHECK_STR(pgconn_get_text(r, 0, 5), text);
    CHECK(pgconn_is_null(r, 0, 6));
    CHECK(pgconn_get_text(r, 0, 6) == NULL);
    CHECK_INT(pgconn_get_int(r, 0, 6), 0);
    CHECK_INT(pgconn_get_int(r, 0, 7), 2); /* a real read as an integer is truncated */
    CHECK_INT(pgconn_get_int(r, 0, 8), 1); /* a boolean reads 1 */
    CHECK_STR(pgconn_get_text(r, 0, 9), "abc");
    pgconn_result_free(r);
    CHECK_INT(pgconn_exec(c, "SELECT ?1", "storing a note", err, PGCONN_TEXTN("a\0b", 3)),
              PB_ERR_INVALID);
    CHECK(strstr(err, "NUL") != NULL);
    pgconn_close(c);
}

/* An experiment, an arm and an impression to hang rewards on; returns the impression id. */
static int64_t seed_impression(pgconn *c, const char *name)
{
    char err[PB_ERR_LEN] = "";
    pgconn_result *r = NULL;
    int64_t exp = -1, arm = -1, imp = -1;
    if (pgconn_query(c,
                     "INSERT INTO experiments (name, kind, policy, created_at) "
                     "VALUES (?1, 'live', 'thompson', ?2) RETURNING id",
                     &r, "seeding", err, PGCONN_TEXT(name), PGCONN_REAL(pb_now_wall())) == PB_OK)
        exp = pgconn_get_int(r, 0, 0);
    pgconn_result_free(r);
    r = NULL;
    if (pgconn_query(c,
                     "INSERT INTO arms (experiment_id, name, version, prompt, content_hash, "
                     "created_at) VALUES (?1, 'A', 1, 'p', 'h', ?2) RETURNING id",
                     &r, "seeding", err, PGCONN_INT(exp), PGCONN_REAL(pb_now_wall())) == PB_OK)
        arm = pgconn_get_int(r, 0, 0);
    pgconn_result_free(r);
    r = NULL;
    if (pgconn_query(c,
                     "INSERT INTO impressions (experiment_id, arm_id, created_at) "
                     "VALUES (?1, ?2, ?3) RETURNING id",
                     &r, "seeding", err, PGCONN_INT(exp), PGCONN_INT(arm),
                     PGCONN_REAL(pb_now_wall())) == PB_OK)
        imp = pgconn_get_int(r, 0, 0);
    pgconn_result_free(r);
    if (imp < 0)
        fprintf(stderr, "seeding: %s\n", err);
    CHECK(imp > 0);
    return imp;
}

static const char *SQL_REWARD = "INSERT INTO rewards (impression_id, source, value, event_id, "
                                "created_at) VALUES (?, ?, ?, ?, ?)";

static void test_constraint_violations_reported_clearly(void)
{
    pgconn *c = open_ok(pg_harness_createdb("constraints"));
    if (!c)
        return;
    char err[PB_ERR_LEN] = "";
    int64_t imp = seed_impression(c, "constraints");
    CHECK_INT(pgconn_exec(c, SQL_REWARD, "storing a reward", err, PGCONN_INT(imp),
                          PGCONN_TEXT("thumbs"), PGCONN_REAL(1), PGCONN_TEXT("evt-1"),
                          PGCONN_REAL(pb_now_wall())),
              PB_OK);
    CHECK_INT(pgconn_changes(c), 1);
    CHECK_INT(pgconn_error_kind(c), PGCONN_ERR_NONE);
    /* The same event id again (a retry): a unique violation that names the key. */
    CHECK_INT(pgconn_exec(c, SQL_REWARD, "storing a reward", err, PGCONN_INT(imp),
                          PGCONN_TEXT("judge"), PGCONN_REAL(0.5), PGCONN_TEXT("evt-1"),
                          PGCONN_REAL(pb_now_wall())),
              PB_ERR_DB);
    CHECK_INT(pgconn_error_kind(c), PGCONN_ERR_UNIQUE);
    CHECK_STR(pgconn_sqlstate(c), "23505");
    CHECK(strstr(err, "storing a reward: duplicate") != NULL);
    CHECK(strstr(err, "(event_id)=(evt-1) already exists") != NULL);
    CHECK(strstr(err, "rewards_event_id_key") != NULL);
    /* The connection goes on working afterwards. */
    CHECK_INT(query_int(c, "SELECT count(*) FROM rewards"), 1);
    CHECK_INT(pgconn_error_kind(c), PGCONN_ERR_NONE);

    const char *block = "INSERT INTO id_blocks (name, next) VALUES (?1, ?2)";
    CHECK_INT(pgconn_exec(c, block, "test", err, PGCONN_TEXT("imp"), PGCONN_INT(1)), PB_OK);
    CHECK_INT(pgconn_exec(c, block, "reserving ids", err, PGCONN_TEXT("imp"), PGCONN_INT(9)),
              PB_ERR_DB);
    CHECK_INT(pgconn_error_kind(c), PGCONN_ERR_PRIMARYKEY);
    CHECK(strstr(err, "reserving ids: duplicate") != NULL);

    CHECK_INT(pgconn_exec(c, SQL_REWARD, "storing a reward", err, PGCONN_INT(imp + 1000),
                          PGCONN_TEXT("thumbs"), PGCONN_REAL(1), PGCONN_NULL,
                          PGCONN_REAL(pb_now_wall())),
              PB_ERR_DB);
    CHECK_INT(pgconn_error_kind(c), PGCONN_ERR_FOREIGNKEY);
    CHECK_INT(pgconn_exec(c, SQL_REWARD, "storing a reward", err, PGCONN_INT(imp),
                          PGCONN_TEXT("other"), PGCONN_REAL(2), PGCONN_NULL,
                          PGCONN_REAL(pb_now_wall())),
              PB_ERR_DB);
    CHECK_INT(pgconn_error_kind(c), PGCONN_ERR_CHECK);
    CHECK_INT(pgconn_exec(c, SQL_REWARD, "storing a reward", err, PGCONN_INT(imp), PGCONN_NULL,
                          PGCONN_REAL(1), PGCONN_NULL, PGCONN_REAL(pb_now_wall())),
              PB_ERR_DB);
    CHECK_INT(pgconn_error_kind(c), PGCONN_ERR_NOTNULL);
    CHECK_INT(pgconn_exec_argv(c, "SELEKT 1", NULL, "reading", err), PB_ERR_DB);
    CHECK_INT(pgconn_error_kind(c), PGCONN_ERR_OTHER);
    CHECK(strstr(err, "reading: syntax error") != NULL);
    pgconn_close(c);
}

static void test_transactions_and_savepoints(void)
{
    pgconn *c = open_ok(pg_harness_createdb("transactions"));
    if (!c)
        return;
    char err[PB_ERR_LEN] = "";
    int64_t imp = seed_impression(c, "tx");
    const char *count = "SELECT count(*) FROM rewards";
    CHECK(!pgconn_in_transaction(c));

    /* Rolled back: nothing stays. */
    CHECK_INT(pgconn_begin(c, err), PB_OK);
    CHECK(pgconn_in_transaction(c));
    CHECK_INT(pgconn_exec(c, SQL_REWARD, "test", err, PGCONN_INT(imp), PGCONN_TEXT("a"),
                          PGCONN_REAL(1), PGCONN_NULL, PGCONN_REAL(1)),
              PB_OK);
    pgconn_rollback(c);
    CHECK(!pgconn_in_transaction(c));
    CHECK_INT(query_int(c, count), 0);

    /* One record fails inside its savepoint; the others commit. */
    CHECK_INT(pgconn_begin(c, err), PB_OK);
    const char *sources[] = {"a", "a", "b"};
    pb_status want[] = {PB_OK, PB_ERR_DB, PB_OK};
    for (int i = 0; i < 3; i++) {
        CHECK_INT(pgconn_savepoint(c, err), PB_OK);
        pb_status rc =
            pgconn_exec(c, SQL_REWARD, "test", err, PGCONN_INT(imp), PGCONN_TEXT(sources[i]),
                        PGCONN_REAL(1), PGCONN_NULL, PGCONN_REAL(1));
        CHECK_INT(rc, want[i]);
        pgconn_savepoint_end(c, rc);
        if (rc != PB_OK)
            CHECK_INT(pgconn_error_kind(c), PGCONN_ERR_UNIQUE); /* kept past the savepoint */
    }
    CHECK_INT(pgconn_end(c, PB_OK, err), PB_OK);
    CHECK_INT(query_int(c, count), 2);

    /* Without a savepoint a failure aborts the transaction: COMMIT reports it, keeps nothing. */
    CHECK_INT(pgconn_begin(c, err), PB_OK);
    CHECK_INT(pgconn_exec(c, SQL_REWARD, "test", err, PGCONN_INT(imp), PGCONN_TEXT("c"),
                          PGCONN_REAL(1), PGCONN_NULL, PGCONN_REAL(1)),
              PB_OK);
    CHECK_INT(pgconn_exec(c, SQL_REWARD, "test", err, PGCONN_INT(imp), PGCONN_TEXT("a"),
                          PGCONN_REAL(1), PGCONN_NULL, PGCONN_REAL(1)),
              PB_ERR_DB);
    CHECK_INT(pgconn_commit(c, err), PB_ERR_DB);
    CHECK(strstr(err, "rolled back") != NULL);
    CHECK(!pgconn_in_transaction(c));
    CHECK_INT(query_int(c, count), 2);
    CHECK_INT(pgconn_end(c, PB_ERR_INVALID, err), PB_ERR_INVALID); /* not in one: no-op */

    /* A statement first prepared inside a transaction that rolls back stays prepared (the
     * cache must not name a statement the server forgot). */
    const char *fresh = "SELECT count(*) + ?1 FROM rewards";
    CHECK_INT(pgconn_begin(c, err), PB_OK);
    CHECK_INT(pgconn_exec(c, fresh, "test", err, PGCONN_INT(1)), PB_OK);
    pgconn_rollback(c);
    pgconn_result *r = NULL;
    CHECK_INT(pgconn_query(c, fresh, &r, "test", err, PGCONN_INT(1)), PB_OK);
    if (r)
        CHECK_INT(pgconn_get_int(r, 0, 0), 3);
    pgconn_result_free(r);
    pgconn_close(c);
}

static void test_advisory_lock_held_by_one_connection(void)
{
    const char *url = pg_harness_start();
    pgconn *a = open_ok(url), *b = open_ok(url);
    if (!a || !b) {
        pgconn_close(a);
        pgconn_close(b);
        return;
    }
    char err[PB_ERR_LEN] = "";
    bool got = false;
    CHECK(pgconn_lock_key("retention") != pgconn_lock_key("reward-sweep"));
    CHECK_INT(pgconn_try_lock(a, "retention", &got, err), PB_OK);
    CHECK(got);
    CHECK_INT(pgconn_try_lock(b, "retention", &got, err), PB_OK);
    CHECK(!got);
    CHECK_INT(pgconn_try_lock(b, "reward-sweep", &got, err), PB_OK);
    CHECK(got); /* another job's lock is free */
    CHECK_INT(pgconn_unlock(b, "retention", err), PB_ERR_NOT_FOUND);
    CHECK(strstr(err, "not held") != NULL);
    CHECK_INT(pgconn_unlock(a, "retention", err), PB_OK);
    CHECK_INT(pgconn_try_lock(b, "retention", &got, err), PB_OK);
    CHECK(got);
    /* A connection that ends (a replica that dies) releases its locks, as soon as the server
     * has seen the session end. */
    pgconn_close(b);
    got = false;
    for (int i = 0; i < 100 && !got; i++) {
        CHECK_INT(pgconn_try_lock(a, "retention", &got, err), PB_OK);
        if (!got)
            usleep(50 * 1000);
    }
    CHECK(got);
    CHECK_INT(pgconn_try_lock(a, "reward-sweep", &got, err), PB_OK);
    CHECK(got);
    pgconn_close(a);
}

static void test_lock_wait_bounded(void)
{
    const char *url = pg_harness_createdb("lockwait");
    pgconn *a = open_ok(url), *b = NULL;
    struct pgconn_options opt = {.lock_timeout_ms = 300};
    char err[PB_ERR_LEN] = "";
    CHECK_INT(pgconn_open(url, &opt, &b, err), PB_OK);
    if (!a || !b) {
        pgconn_close(a);
        pgconn_close(b);
        return;
    }
    const char *upsert = "INSERT INTO id_blocks (name, next) VALUES ('imp', ?1) "
                         "ON CONFLICT (name) DO UPDATE SET next = excluded.next";
    CHECK_INT(pgconn_exec(a, upsert, "test", err, PGCONN_INT(1)), PB_OK);
    CHECK_INT(pgconn_begin(a, err), PB_OK);
    CHECK_INT(pgconn_exec(a, upsert, "test", err, PGCONN_INT(2)), PB_OK);
    double t0 = pb_now_monotonic();
    CHECK_INT(pgconn_exec(b, upsert, "reserving ids", err, PGCONN_INT(3)), PB_ERR_DB);
    double waited = pb_now_monotonic() - t0;
    CHECK(waited >= 0.25 && waited < 3);
    CHECK_INT(pgconn_error_kind(b), PGCONN_ERR_STORAGE);
    CHECK(strstr(err, "more than 300 ms") != NULL);
    CHECK_INT(pgconn_end(a, PB_OK, err), PB_OK);
    CHECK_INT(pgconn_exec(b, upsert, "test", err, PGCONN_INT(3)), PB_OK);
    pgconn_close(a);
    pgconn_close(b);
}

static void test_statement_time_and_lost_connection_reported(void)
{
    const char *url = pg_harness_start();
    struct pgconn_options opt = {.statement_timeout_ms = 200};
    pgconn *a = NULL, *b = open_ok(url);
    char err[PB_ERR_LEN] = "";
    CHECK_INT(pgconn_open(url, &opt, &a, err), PB_OK);
    if (!a || !b) {
        pgconn_close(a);
        pgconn_close(b);
        return;
    }
    double t0 = pb_now_monotonic();
    CHECK_INT(pgconn_exec_argv(a, "SELECT pg_sleep(5)", NULL, "a slow read", err), PB_ERR_DB);
    CHECK(pb_now_monotonic() - t0 < 2);
    CHECK_STR(pgconn_sqlstate(a), "57014");
    CHECK_INT(pgconn_error_kind(a), PGCONN_ERR_STORAGE);
    CHECK(strstr(err, "a slow read: canceling statement due to statement timeout") != NULL);

    /* The server ends a's session (as a restart or a failover would). */
    int64_t pid = query_int(a, "SELECT pg_backend_pid()");
    CHECK_INT(pgconn_exec(b, "SELECT pg_terminate_backend(CAST(?1 AS INTEGER))", "test", err,
                          PGCONN_INT(pid)),
              PB_OK);
    pb_status rc = PB_OK;
    for (int i = 0; i < 100 && rc == PB_OK; i++) { /* the termination lands asynchronously */
        rc = pgconn_exec_argv(a, "SELECT 1", NULL, "storing a reward", err);
        if (rc == PB_OK)
            usleep(20 * 1000);
    }
    CHECK_INT(rc, PB_ERR_DB);
    CHECK_INT(pgconn_error_kind(a), PGCONN_ERR_STORAGE);
    CHECK(strstr(err, "storing a reward: the connection to PostgreSQL was lost") != NULL);
    CHECK_INT(pgconn_exec_argv(a, "SELECT 1", NULL, "storing a reward", err), PB_ERR_DB);
    CHECK_INT(pgconn_error_kind(a), PGCONN_ERR_STORAGE);
    pgconn_close(a);
    pgconn_close(b);
}

static void test_connect_wait_bounded(void)
{
    /* A socket that listens but never answers: the TCP handshake completes in the kernel and
     * libpq then waits for the server's reply, bounded by connect_timeout. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof addr;
    CHECK(bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    CHECK(listen(fd, 8) == 0);
    CHECK(getsockname(fd, (struct sockaddr *)&addr, &alen) == 0);
    char url[128], err[PB_ERR_LEN] = "";
    snprintf(url, sizeof url, "postgresql://nobody:pw@127.0.0.1:%d/none?connect_timeout=0",
             ntohs(addr.sin_port));
    struct pgconn_options opt = {.connect_timeout_s = 2};
    pgconn *c = NULL;
    double t0 = pb_now_monotonic();
    CHECK_INT(pgconn_open(url, &opt, &c, err), PB_ERR_UNAVAILABLE);
    double waited = pb_now_monotonic() - t0;
    CHECK(c == NULL);
    CHECK(waited >= 1.5 && waited < 6); /* the URL's connect_timeout=0 (forever) is overridden */
    CHECK(strstr(err, "cannot connect to PostgreSQL within 2 s") != NULL);
    CHECK(strstr(err, ":pw@") == NULL && strstr(err, ":***@") != NULL);
    close(fd);
    /* A closed port fails at once. */
    t0 = pb_now_monotonic();
    CHECK_INT(pgconn_open(url, &opt, &c, err), PB_ERR_UNAVAILABLE);
    CHECK(pb_now_monotonic() - t0 < 1.5);
}

int main(void)
{
    RUN(test_translate_placeholders);
    RUN(test_url_helpers);
    pg_harness_start();
    RUN(test_migrations_applied_once_and_idempotent);
    RUN(test_replicas_opening_together_migrate_once);
    RUN(test_newer_schema_refused);
    RUN(test_synchronous_commit_on_even_when_database_says_off);
    RUN(test_prepared_statements_reused_by_text);
    RUN(test_typed_values_round_trip);
    RUN(test_constraint_violations_reported_clearly);
    RUN(test_transactions_and_savepoints);
    RUN(test_advisory_lock_held_by_one_connection);
    RUN(test_lock_wait_bounded);
    RUN(test_statement_time_and_lost_connection_reported);
    RUN(test_connect_wait_bounded);
    CHECK_DONE();
}
