/* e2e_service_replicas.c — issue 19's "replicas that agree": three apps (replicas) on one
 * database, each with its own HTTP server in this process, the fake LLM as a child. Shown:
 * (1) a replica's live bandit takes in the rewards the others wrote, once each, also when a
 * lower reward id becomes visible after a higher one, and within a bound with the poll thread
 * running; (2) a conversation (assign.mode conversation) and a user (assign.mode user) keep
 * their arm whichever replica serves the next turn; (3) a retried feedback event on another
 * replica is a duplicate with the same reward id, as on one replica; (4) an erasure on one
 * replica empties the others' memory of the user, and an admin promotion on one reaches the
 * others' live state; (5) a background job runs once across replicas per interval. The
 * database is a SQLite file in WAL mode (several processes on one file are a valid deployment
 * too). Each check fails with replica.poll_ms = 0 (no poll) or without the job claim. */
#include "pg_harness.h"
#include "service/chatmem.h"
#include "service/live.h"
#include "service/replica.h"
#include "store/stmt.h"
#include "svc_harness.h"

#include <time.h>

#define N_REPLICAS 3

/* e2e_service_replicas_pg.c defines REPLICAS_ON_PG and includes this file: the same tests on
 * PostgreSQL (tests/pg_harness.h starts the server), plus one that needs concurrent writers. */
#ifndef REPLICAS_ON_PG
#define REPLICAS_ON_PG 0
#endif

static char db_path[512]; /* a SQLite file or a postgresql:// URL */
static struct svc rep[N_REPLICAS];
static const char *TOK = "admintok";

static void start_all(const char *mode, const char *policy)
{
    char seed[N_REPLICAS][16];
    for (int i = 0; i < N_REPLICAS; i++) {
        /* Different seeds: two replicas must not agree on an arm by drawing the same numbers. */
        snprintf(seed[i], sizeof seed[i], "%d", 101 + 17 * i);
        const char *settings[] = {
            "db.path",
            db_path,
            "replica.poll_ms",
            getenv("PB_TEST_REPLICA_POLL_MS") ? getenv("PB_TEST_REPLICA_POLL_MS") : "100",
            "replica.gap_ms",
            "500",
            "assign.mode",
            mode,
            "bandit.policy",
            policy,
            "bandit.seed",
            seed[i],
            "server.admin_token",
            TOK,
            NULL};
        svc_start(&rep[i], settings);
    }
}

static void stop_all(void)
{
    for (int i = 0; i < N_REPLICAS; i++)
        svc_stop(&rep[i]);
}

/* A fresh database for the next group of replicas. */
static void fresh_db(void)
{
    static int n;
    if (REPLICAS_ON_PG) {
        char name[32];
        snprintf(name, sizeof name, "replicas_%d", ++n);
        snprintf(db_path, sizeof db_path, "%s", pg_harness_createdb(name));
    } else {
        snprintf(db_path, sizeof db_path, "%s/replicas.db", check_tmpdir());
    }
}

/* A handle of its own on the shared database (tests may reach into it with stmt.h). */
static store *raw_open(void)
{
    char err[PB_ERR_LEN];
    store *s = NULL;
    if (store_open(db_path, NULL, &s, err) != PB_OK) {
        fprintf(stderr, "cannot open %s: %s\n", db_path, err);
        exit(2);
    }
    return s;
}

/* One statement (sql: a string literal, the statement cache's key) on the shared database. */
#define SQL(sql, ...)                                                                              \
    do {                                                                                           \
        char e_[PB_ERR_LEN];                                                                       \
        store *s_ = raw_open();                                                                    \
        if (stmt_exec(s_, sql, "test", e_, __VA_ARGS__) != PB_OK)                                  \
            fprintf(stderr, "%s: %s\n", sql, e_);                                                  \
        store_close(s_);                                                                           \
    } while (0)

/* The first column of the first row of a query. */
static long long sql_int(const char *sql)
{
    char err[PB_ERR_LEN];
    store *s = raw_open();
    store_stmt *st;
    long long v = -1;
    if (stmt_first(s, sql, &st, "test", err, STMT_INT(0)) == 1) {
        v = store_col_int(st, 0);
        store_reset(st);
    }
    store_close(s);
    return v;
}

static void poll_all(void)
{
    char err[PB_ERR_LEN];
    for (int i = 0; i < N_REPLICAS; i++) {
        svc_flush(&rep[i]);
    }
    for (int i = 0; i < N_REPLICAS; i++)
        if (replica_poll(app_replica(rep[i].app), err) != PB_OK)
            fprintf(stderr, "poll of replica %d: %s\n", i, err);
}

/* Replica i's live statistics of the default experiment: total rewards and per-arm pulls. */
static long long live_total(int i, long long *pulls, size_t max)
{
    char err[PB_ERR_LEN];
    struct live_snapshot snap = {0};
    store *s = app_store_acquire(rep[i].app, err);
    long long total = -1;
    if (s && live_snapshot_get(app_live(rep[i].app), s, "default", NULL, 10, &snap, err) == PB_OK) {
        total = (long long)snap.total_pulls;
        for (size_t k = 0; pulls && k < max; k++)
            pulls[k] = k < snap.n_arms ? (long long)snap.arms[k].pulls : 0;
    } else {
        fprintf(stderr, "snapshot of replica %d: %s\n", i, err);
    }
    live_snapshot_clear(&snap);
    app_store_release(rep[i].app, s);
    return total;
}

static int64_t live_promoted(int i)
{
    char err[PB_ERR_LEN];
    struct live_snapshot snap = {0};
    store *s = app_store_acquire(rep[i].app, err);
    int64_t id = -1;
    if (s && live_snapshot_get(app_live(rep[i].app), s, "default", NULL, 10, &snap, err) == PB_OK)
        id = snap.promoted_arm_id;
    live_snapshot_clear(&snap);
    app_store_release(rep[i].app, s);
    return id;
}

/* The value of a metric line that starts with `series` on replica i's /metrics (-1: none). */
static double metric(int i, const char *series)
{
    char url[256];
    snprintf(url, sizeof url, "%s/metrics", rep[i].url);
    CURL *c = curl_easy_init();
    json_t *raw = NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, svc_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &raw);
    curl_easy_perform(c);
    curl_easy_cleanup(c);
    const char *text = json_string_value(raw);
    double v = -1;
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, series, n) && p[n] == ' ') {
            v = strtod(p + n + 1, NULL);
            break;
        }
    json_decref(raw);
    return v;
}

static long long choose(int i, const char *user)
{
    char body[256];
    json_t *c = NULL;
    snprintf(body, sizeof body, "{\"user_id\":\"%s\"}", user);
    CHECK_INT(svc_post(&rep[i], "/v1/choose", NULL, body, &c), 200);
    long long id = svc_int(c, "impression_id");
    json_decref(c);
    svc_flush(&rep[i]); /* the impression is written behind the answer */
    return id;
}

static int feedback(int i, const char *user, long long imp, const char *kind, const char *event,
                    json_t **out)
{
    char body[512];
    snprintf(body, sizeof body, "{\"user_id\":\"%s\",\"impression_id\":%lld,\"kind\":\"%s\"%s%s%s}",
             user, imp, kind, event ? ",\"event_id\":\"" : "", event ? event : "",
             event ? "\"" : "");
    return svc_post(&rep[i], "/v1/feedback", NULL, body, out);
}

static json_t *chat(int i, const char *user, const char *conv, const char *msg, int consent)
{
    json_t *out = NULL;
    json_t *body =
        json_pack("{s:s, s:s, s:b}", "user_id", user, "message", msg, "consent", consent);
    if (conv)
        json_object_set_new(body, "conversation_id", json_string(conv));
    char *text = json_dumps(body, 0);
    CHECK_INT(svc_post(&rep[i], "/v1/chat", NULL, text, &out), 200);
    free(text);
    json_decref(body);
    return out;
}

/* 1: rewards written on each replica reach every replica's live state, each once. */
static void test_rewards_reach_every_replica_once(void)
{
    fresh_db();
    start_all("turn", "thompson");
    long long before[N_REPLICAS];
    for (int i = 0; i < N_REPLICAS; i++)
        before[i] = live_total(i, NULL, 0);
    /* 12 impressions, chosen and rewarded on different replicas. */
    for (int k = 0; k < 12; k++) {
        char user[32];
        snprintf(user, sizeof user, "r1-user-%d", k);
        long long imp = choose(k % N_REPLICAS, user);
        CHECK_INT(feedback((k + 1) % N_REPLICAS, user, imp, k % 3 ? "like" : "dislike", NULL, NULL),
                  200);
    }
    for (int i = 0; i < N_REPLICAS; i++)
        svc_flush(&rep[i]);
    /* Before any poll each replica counted only its own 4. */
    for (int i = 0; i < N_REPLICAS; i++)
        CHECK_INT(live_total(i, NULL, 0) - before[i], 4);
    poll_all();
    poll_all(); /* a second poll must not count anything again */
    long long pulls[N_REPLICAS][8];
    for (int i = 0; i < N_REPLICAS; i++) {
        CHECK_INT(live_total(i, pulls[i], 8) - before[i], 12);
        for (int k = 0; k < 8; k++)
            CHECK_INT(pulls[i][k], pulls[0][k]);
        CHECK_NEAR(metric(i, "pb_replica_rewards_taken_total"), 8, 0);
    }
    stop_all();
}

/* 1: a lower reward id that becomes visible after a higher one (a sequence hands ids out before
 * commit) is still taken in; a missing id that never comes is given up after replica.gap_ms. */
static void test_out_of_order_ids(void)
{
    fresh_db();
    start_all("turn", "thompson");
    long long imp1 = choose(0, "ooo-1"), imp2 = choose(0, "ooo-2"), imp3 = choose(0, "ooo-3");
    poll_all();
    long long base = live_total(1, NULL, 0);
    static const char *INSERT =
        "INSERT INTO rewards (id, impression_id, source, value, created_at) "
        "VALUES (?1, ?2, 'click', ?3, ?4)";
    /* Reward ids 1000 and 1002 are "committed" first; 1001 comes later; 999 never does. */
    SQL(INSERT, STMT_INT(1000), STMT_INT(imp1), STMT_REAL(1), STMT_REAL(pb_now_wall()));
    SQL(INSERT, STMT_INT(1002), STMT_INT(imp2), STMT_REAL(1), STMT_REAL(pb_now_wall()));
    poll_all();
    CHECK_INT(live_total(1, NULL, 0) - base, 2);
    double floor1 = metric(1, "pb_replica_watermark");
    CHECK(floor1 < 999); /* waits for 999 and 1001 */
    SQL(INSERT, STMT_INT(1001), STMT_INT(imp3), STMT_REAL(-1), STMT_REAL(pb_now_wall()));
    poll_all();
    CHECK_INT(live_total(1, NULL, 0) - base, 3); /* the late lower id counted */
    CHECK_INT(live_total(2, NULL, 0) - base, 3);
    struct timespec ts = {0, 600 * 1000000L}; /* past replica.gap_ms = 500 */
    nanosleep(&ts, NULL);
    poll_all();
    CHECK_NEAR(metric(1, "pb_replica_watermark"), 1002, 0);
    CHECK(metric(1, "pb_replica_gaps_given_up_total") >= 1);
    CHECK_NEAR(metric(1, "pb_replica_pending_ids"), 0, 0);
    poll_all();
    CHECK_INT(live_total(1, NULL, 0) - base, 3); /* nothing twice */
    /* The event log too: event 60 is seen first, 55 commits later and still counts. */
    static const char *EVENT = "INSERT INTO replica_events (id, kind, subject, origin, created_at) "
                               "VALUES (?1, 'reload', ?2, 'elsewhere', ?3)";
    SQL(EVENT, STMT_INT(60), STMT_TEXT("no-such-experiment"), STMT_REAL(pb_now_wall()));
    poll_all();
    SQL(EVENT, STMT_INT(55), STMT_TEXT("default"), STMT_REAL(pb_now_wall()));
    poll_all();
    poll_all();
    for (int i = 0; i < N_REPLICAS; i++)
        CHECK_NEAR(metric(i, "pb_replica_events_applied_total{kind=\"reload\"}"), 2, 0);
    CHECK_INT(live_total(1, NULL, 0) - base, 3); /* rebuilt from the database: the same */
    stop_all();
}

/* 1, PostgreSQL only: a writer whose transaction took its reward id first and commits after
 * another replica's later id. On SQLite a write transaction holds the whole database, so ids
 * always become visible in order there. */
static void test_transaction_committing_late(void)
{
    char err[PB_ERR_LEN];
    fresh_db();
    start_all("turn", "thompson");
    long long imp1 = choose(0, "late-1"), imp2 = choose(0, "late-2");
    poll_all();
    long long base = live_total(0, NULL, 0);
    store *slow = raw_open();
    CHECK_INT(store_begin(slow, err), PB_OK);
    CHECK_INT(stmt_exec(slow,
                        "INSERT INTO rewards (impression_id, source, value, created_at) "
                        "VALUES (?1, 'click', 1, ?2)",
                        "a slow writer", err, STMT_INT(imp1), STMT_REAL(pb_now_wall())),
              PB_OK);
    json_t *fb = NULL;
    CHECK_INT(feedback(1, "late-2", imp2, "like", NULL, &fb), 200); /* a higher id, committed */
    long long later = svc_int(fb, "reward_id");
    json_decref(fb);
    poll_all();
    CHECK_INT(live_total(0, NULL, 0) - base, 1);
    CHECK(metric(0, "pb_replica_watermark") < later - 1); /* waits for the slow writer's id */
    CHECK_INT(store_commit(slow, err), PB_OK);
    store_close(slow);
    poll_all();
    for (int i = 0; i < N_REPLICAS; i++)
        CHECK_INT(live_total(i, NULL, 0) - base, 2);
    CHECK_NEAR(metric(0, "pb_replica_watermark"), later, 0);
    stop_all();
}

/* 1, PostgreSQL only: the poll's connection dropped (the server ended it) loses nothing: the
 * failed poll closes it, the next opens a new one and reads on from the watermark. */
static void test_dropped_connection(void)
{
    fresh_db();
    start_all("turn", "thompson");
    long long imp = choose(0, "drop-user");
    poll_all();
    long long base = live_total(2, NULL, 0);
    /* The polls' connections are those whose last statement read the event log. */
    long long ended =
        sql_int("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM "
                "pg_stat_activity WHERE query LIKE '%FROM replica_events WHERE id >%' "
                "AND pid <> pg_backend_pid() AND ?1 = 0) AS t");
    CHECK_INT(ended, N_REPLICAS);
    CHECK_INT(feedback(0, "drop-user", imp, "like", NULL, NULL), 200);
    svc_flush(&rep[0]);
    char err[PB_ERR_LEN];
    CHECK(replica_poll(app_replica(rep[2].app), err) != PB_OK); /* the dead connection */
    CHECK(metric(2, "pb_replica_poll_errors_total") >= 1);
    CHECK_INT(replica_poll(app_replica(rep[2].app), err), PB_OK); /* a new one */
    CHECK_INT(live_total(2, NULL, 0) - base, 1);
    stop_all();
}

/* 1: with the poll thread running, a reward written on one replica is in another's live state
 * within a bound (a few polls). */
static void test_poll_thread_bound(void)
{
    char err[PB_ERR_LEN];
    fresh_db();
    start_all("turn", "thompson");
    for (int i = 0; i < N_REPLICAS; i++)
        CHECK_INT(replica_start(app_replica(rep[i].app), err), PB_OK);
    long long imp = choose(2, "bound-user");
    long long base = live_total(0, NULL, 0);
    double t0 = pb_now_monotonic();
    CHECK_INT(feedback(2, "bound-user", imp, "like", NULL, NULL), 200);
    double waited = -1;
    while (pb_now_monotonic() - t0 < 5) {
        if (live_total(0, NULL, 0) - base == 1) {
            waited = pb_now_monotonic() - t0;
            break;
        }
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    printf("a reward written on replica 2 counted on replica 0 after %.0f ms (poll 100 ms)\n",
           waited * 1000);
    CHECK(waited >= 0 && waited < 1.0);
    /* What an idle poll costs (nothing new to read): printed for docs/SERVICE.md. */
    double t1 = pb_now_monotonic();
    for (int k = 0; k < 50; k++)
        CHECK_INT(replica_poll(app_replica(rep[1].app), err), PB_OK);
    printf("an idle poll took %.3f ms on average (50 polls, %s)\n",
           (pb_now_monotonic() - t1) / 50 * 1000, REPLICAS_ON_PG ? "PostgreSQL" : "SQLite");
    stop_all();
}

/* 2: a conversation keeps its arm on every replica; so does a user under assign.mode user. */
static void test_sticky_across_replicas(void)
{
    fresh_db();
    start_all("conversation", "thompson");
    for (int c = 0; c < 6; c++) {
        char conv[32], user[32];
        snprintf(conv, sizeof conv, "sticky-conv-%d", c);
        snprintf(user, sizeof user, "sticky-user-%d", c);
        json_t *first = chat(c % N_REPLICAS, user, conv, "오늘 정말 행복해요", 1);
        for (int turn = 1; turn < N_REPLICAS; turn++) {
            json_t *next = chat((c + turn) % N_REPLICAS, user, conv, "그래서 기뻐요", 1);
            CHECK_INT(svc_int(next, "arm_id"), svc_int(first, "arm_id"));
            json_decref(next);
        }
        json_decref(first);
    }
    stop_all();
    fresh_db();
    start_all("user", "thompson");
    int kept = 0, users = 8;
    for (int u = 0; u < users; u++) {
        char user[32];
        snprintf(user, sizeof user, "mode-user-%d", u);
        json_t *first = chat(u % N_REPLICAS, user, NULL, "오늘 정말 행복해요", 1);
        int same = 1;
        for (int turn = 1; turn < N_REPLICAS; turn++) {
            /* A new conversation each time: only the user links the turns. */
            json_t *next = chat((u + turn) % N_REPLICAS, user, NULL, "안녕하세요", 1);
            same &= svc_int(next, "arm_id") == svc_int(first, "arm_id");
            json_decref(next);
        }
        kept += same;
        json_decref(first);
    }
    CHECK_INT(kept, users);
    stop_all();
}

/* 3: the same feedback event retried on another replica is a duplicate with the same reward
 * id, as on one replica; the event id on another impression is a conflict on every replica. */
static void test_event_ids_across_replicas(void)
{
    fresh_db();
    start_all("turn", "thompson");
    long long imp = choose(0, "ev-user"), other = choose(1, "ev-user");
    json_t *a = NULL, *b = NULL, *c = NULL, *same = NULL;
    CHECK_INT(feedback(0, "ev-user", imp, "like", "event-42", &a), 200);
    CHECK(!json_is_true(json_object_get(a, "duplicate")));
    CHECK_INT(feedback(0, "ev-user", imp, "like", "event-42", &same), 200); /* one replica */
    CHECK(json_is_true(json_object_get(same, "duplicate")));
    CHECK_INT(feedback(1, "ev-user", imp, "like", "event-42", &b), 200); /* another */
    CHECK(json_is_true(json_object_get(b, "duplicate")));
    CHECK_INT(svc_int(b, "reward_id"), svc_int(a, "reward_id"));
    CHECK_INT(svc_int(same, "reward_id"), svc_int(a, "reward_id"));
    CHECK_INT(feedback(2, "ev-user", other, "like", "event-42", &c), 409);
    CHECK_INT(feedback(0, "ev-user", other, "like", "event-42", NULL), 409);
    poll_all();
    for (int i = 0; i < N_REPLICAS; i++)
        CHECK_INT(live_total(i, NULL, 0), 1); /* counted once everywhere */
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(same);
    stop_all();
}

/* 4: an erasure on replica 0 empties replica 1's memory of the user (history kept in memory
 * without consent, regenerable turns); a promotion on replica 0 reaches every live state. */
static void test_erasure_and_admin_reach_every_replica(void)
{
    fresh_db();
    start_all("conversation", "thompson");
    json_t *r = chat(1, "forget-me", "forget-conv", "오늘 너무 슬퍼요", 0);
    long long imp = svc_int(r, "impression_id");
    json_decref(r);
    json_t *h = chatmem_history_get(app_chatmem(rep[1].app), "forget-conv", 10);
    CHECK(json_array_size(h) == 2); /* user + assistant, in replica 1's memory only */
    json_decref(h);
    char url[256];
    snprintf(url, sizeof url, "%s/v1/users/forget-me", rep[0].url);
    CHECK_INT(svc_http("DELETE", url, TOK, NULL, NULL), 200);
    svc_flush(&rep[0]);
    poll_all();
    h = chatmem_history_get(app_chatmem(rep[1].app), "forget-conv", 10);
    CHECK_INT(json_array_size(h), 0);
    json_decref(h);
    struct chatmem_turn t = {0};
    CHECK_INT(chatmem_turn_get(app_chatmem(rep[1].app), imp, &t), 0);
    chatmem_turn_clear(&t);
    CHECK_NEAR(metric(1, "pb_replica_events_applied_total{kind=\"erase\"}"), 1, 0);

    CHECK_INT(svc_post(&rep[0], "/v1/experiments/default/promote", TOK, "{\"arm_id\":2}", NULL),
              200);
    poll_all();
    for (int i = 0; i < N_REPLICAS; i++)
        CHECK_INT(live_promoted(i), 2);
    json_t *c = chat(2, "after-promo", NULL, "안녕하세요", 1);
    CHECK_INT(svc_int(c, "arm_id"), 2);
    json_decref(c);
    stop_all();
}

static pb_status count_job(app *a, int64_t *n, char *err)
{
    (void)a;
    (void)err;
    *n = 1;
    return PB_OK;
}

static pb_status job_sweep_real(app *a, int64_t *n, char *err)
{
    return app_run_reward_sweep(a, n, err);
}

/* 5: a background job runs once per interval across replicas, whichever timer fires. */
static void test_jobs_run_once(void)
{
    char err[PB_ERR_LEN];
    fresh_db();
    start_all("turn", "thompson");
    int ran_total = 0;
    (void)0;
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < N_REPLICAS; i++) {
            int64_t n = 0;
            int ran = 0;
            CHECK_INT(replica_run_job(app_replica(rep[i].app), "reward_sweep", 60, count_job, &n,
                                      &ran, err),
                      PB_OK);
            ran_total += ran;
        }
    CHECK_INT(ran_total, 1);
    CHECK_NEAR(metric(0, "pb_jobs_total{job=\"reward_sweep\",outcome=\"ran\"}"), 1, 0);
    CHECK_NEAR(metric(0, "pb_jobs_total{job=\"reward_sweep\",outcome=\"skipped\"}"), 1, 0);
    CHECK_NEAR(metric(1, "pb_jobs_total{job=\"reward_sweep\",outcome=\"skipped\"}"), 2, 0);
    /* A real sweep on three replicas: an impression past rewards.wait_s gets one default
     * reward, not one per replica. */
    choose(0, "sweep-user");
    SQL("UPDATE impressions SET created_at = ?1, activated_at = ?1", STMT_REAL(1));
    stop_all();
    const char *wait[] = {
        "db.path", db_path, "rewards.wait_s", "10", "rewards.missing", "0", "replica.poll_ms",
        "100",     NULL};
    for (int i = 0; i < N_REPLICAS; i++)
        svc_start(&rep[i], wait); /* app_new's start-up sweep */
    SQL("UPDATE job_runs SET last_run_at = ?1", STMT_REAL(0));
    for (int i = 0; i < N_REPLICAS; i++) {
        int64_t n = 0;
        int ran = 0;
        CHECK_INT(replica_run_job(app_replica(rep[i].app), "reward_sweep", 60, job_sweep_real, &n,
                                  &ran, err),
                  PB_OK);
        CHECK_INT(ran, i == 0);
    }
    long long defaults =
        sql_int("SELECT count(*) FROM rewards WHERE source = 'default' AND ?1 = 0");
    CHECK_INT(defaults, 1);
    stop_all();
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    svc_fake_start();
    RUN(test_rewards_reach_every_replica_once);
    RUN(test_out_of_order_ids);
    if (REPLICAS_ON_PG) {
        RUN(test_transaction_committing_late);
        RUN(test_dropped_connection);
    }
    RUN(test_poll_thread_bound);
    RUN(test_sticky_across_replicas);
    RUN(test_event_ids_across_replicas);
    RUN(test_erasure_and_admin_reach_every_replica);
    RUN(test_jobs_run_once);
    svc_fake_stop();
    curl_global_cleanup();
    CHECK_DONE();
}
