/* test_store.c — the store family against a fresh database (tests/testdb.h: a SQLite file in a
 * temporary folder, or a PostgreSQL database in the PostgreSQL pass): opening,
 * migrations, refusal of corrupt, newer and locked databases, experiments, arm versions,
 * prompt-folder sync, rewards (validation, idempotence, batches), aggregates, consent,
 * erasure, purge, backup and offline runs. Raw SQL appears here only to forge bad files and
 * to look behind the API. The cases about SQLite's files (WAL, garbage, damaged pages, a missing
 * folder) use a SQLite file in both passes. */
#include "store/arms.h"
#include "check.h"
#include "store/feedback.h"
#include "store/runs.h"
#include "store/experiment.h"
#include "store/store.h"
#include "testdb.h"

#include <sqlite3.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static char db_path[512];

/* A store on a fresh database of this pass's backend (sqlite_file: a SQLite file in both). */
static store *fresh_store_on(int sqlite_file)
{
    char err[PB_ERR_LEN];
    store *s = NULL;
    if (sqlite_file)
        snprintf(db_path, sizeof db_path, "%s/t.db", check_tmpdir());
    else
        testdb_make(db_path, sizeof db_path, check_tmpdir(), "t.db");
    struct store_options opt = {.busy_timeout_ms = 200, .synchronous = "NORMAL"};
    int rc = store_open(db_path, &opt, &s, err);
    if (rc != PB_OK) {
        fprintf(stderr, "store_open: %s\n", err);
        exit(2);
    }
    return s;
}

static store *fresh_store(void)
{
    return fresh_store_on(0);
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    fwrite(data, 1, len, f);
    fclose(f);
}

/* One integer from raw SQL on a separate connection (looks behind the API). */
static long long raw_int(const char *sql)
{
    return testdb_int(db_path, sql);
}

/* A default-like experiment with arms A and B; returns the experiment id. */
static int64_t setup_arms(store *s, int64_t *arm_a, int64_t *arm_b)
{
    char err[PB_ERR_LEN];
    struct store_experiment e;
    CHECK_INT(store_experiment_get_or_create(s, "exp", "live", "ucb1", &e, err), PB_OK);
    int64_t id = e.id;
    store_experiment_clear(&e);
    CHECK_INT(arms_add(s, id, "A", "prompt a", NULL, arm_a, NULL, err), PB_OK);
    CHECK_INT(arms_add(s, id, "B", "prompt b", NULL, arm_b, NULL, err), PB_OK);
    return id;
}

static int64_t impression(store *s, int64_t exp, int64_t arm, const char *user, const char *conv)
{
    char err[PB_ERR_LEN];
    int64_t id = 0;
    struct feedback_impression imp = {.experiment_id = exp,
                                      .arm_id = arm,
                                      .user_id = user,
                                      .conversation_id = conv,
                                      .activated = 1};
    int rc = feedback_insert_impression(s, &imp, &id, err);
    if (rc != PB_OK)
        fprintf(stderr, "impression: %s\n", err);
    CHECK_INT(rc, PB_OK);
    return id;
}

static void test_open_applies_migrations_once(void)
{
    char err[PB_ERR_LEN];
    store *s = fresh_store();
    CHECK_INT(store_schema_version(s), store_schema_latest());
    CHECK(store_schema_latest() >= 1);
    CHECK_INT(store_migrations_applied(s), store_schema_latest());
    store_close(s);
    CHECK_INT(store_open(db_path, NULL, &s, err), PB_OK);
    CHECK_INT(store_migrations_applied(s), 0);
    CHECK_INT(store_integrity_check(s, err), PB_OK);
    store_close(s);
}

static void test_a_sqlite_file_is_in_wal_mode(void)
{
    store *s = fresh_store_on(1);
    char wal[600];
    struct stat sb;
    snprintf(wal, sizeof wal, "%s-wal", db_path);
    CHECK(stat(wal, &sb) == 0); /* journal_mode = WAL */
    store_close(s);
}

static void test_newer_schema_is_refused_with_message(void)
{
    char err[PB_ERR_LEN] = "";
    store *s = fresh_store();
    store_close(s);
    /* SQLite keeps the version in the file header, PostgreSQL in a one-row table. */
    CHECK_INT(testdb_exec(db_path, testdb_is_url(db_path)
                                       ? "UPDATE pb_schema_version SET version = 999"
                                       : "PRAGMA user_version = 999"),
              0);
    CHECK_INT(store_open(db_path, NULL, &s, err), PB_ERR_VERSION);
    CHECK(s == NULL);
    CHECK(strstr(err, "999") != NULL && strstr(err, "newer") != NULL);
}

static void test_garbage_file_is_refused_as_not_a_database(void)
{
    char err[PB_ERR_LEN] = "", path[512];
    store *s = NULL;
    snprintf(path, sizeof path, "%s/garbage.db", check_tmpdir());
    char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 7 + 3);
    write_file(path, junk, sizeof junk);
    CHECK_INT(store_open(path, NULL, &s, err), PB_ERR_DB);
    CHECK(s == NULL);
    CHECK(strstr(err, "not a SQLite database") != NULL);
    CHECK(strstr(err, path) != NULL);
}

static void test_damaged_pages_are_reported_as_corrupt(void)
{
    char err[PB_ERR_LEN] = "";
    int64_t a, b;
    store *s = fresh_store_on(1);
    setup_arms(s, &a, &b);
    store_close(s); /* checkpoints the WAL into the main file */
    FILE *f = fopen(db_path, "r+b");
    CHECK(f != NULL);
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 4096, SEEK_SET); /* keep page 1 (header and schema), smash the rest */
    for (long i = 4096; i < size; i++)
        fputc(0xA5, f);
    fclose(f);
    int rc = store_open(db_path, NULL, &s, err);
    if (rc == PB_OK) {
        struct arm *arms = NULL;
        size_t n = 0;
        rc = arms_list(s, 1, 1, &arms, &n, err);
        arms_list_free(arms, n);
        store_close(s);
    }
    CHECK_INT(rc, PB_ERR_DB);
    CHECK(strstr(err, "corrupt") != NULL);
}

static void test_missing_folder_is_a_clear_error(void)
{
    char err[PB_ERR_LEN] = "";
    store *s = NULL;
    CHECK_INT(store_open("/nonexistent-folder-pb/x.db", NULL, &s, err), PB_ERR_DB);
    CHECK(strstr(err, "folder") != NULL);
}

static void test_locked_database_fails_after_busy_timeout(void)
{
    char err[PB_ERR_LEN] = "";
    int64_t a, b, id;
    int dup;
    store *s = fresh_store();
    int64_t exp = setup_arms(s, &a, &b);
    int64_t imp = impression(s, exp, a, NULL, NULL);
    /* Another connection holds the write lock: SQLite's whole-file lock, PostgreSQL's lock on
     * the rewards table. */
    sqlite3 *other = NULL;
    PGconn *pg = NULL;
    if (testdb_is_url(db_path)) {
        pg = PQconnectdb(db_path);
        PGresult *res = PQexec(pg, "BEGIN; LOCK TABLE rewards IN ACCESS EXCLUSIVE MODE");
        CHECK_INT(PQresultStatus(res), PGRES_COMMAND_OK);
        PQclear(res);
    } else {
        sqlite3_open(db_path, &other);
        CHECK_INT(sqlite3_exec(other, "BEGIN EXCLUSIVE; DELETE FROM judge_evals", NULL, NULL, NULL),
                  SQLITE_OK);
    }
    struct feedback_reward r = {.impression_id = imp, .source = "click", .value = 1};
    CHECK_INT(feedback_insert_reward(s, &r, &id, &dup, err), PB_ERR_DB);
    CHECK(strstr(err, "lock") != NULL && strstr(err, "200 ms") != NULL);
    if (pg) {
        PQclear(PQexec(pg, "ROLLBACK"));
        PQfinish(pg);
    } else {
        sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(other);
    }
    CHECK_INT(feedback_insert_reward(s, &r, &id, &dup, err), PB_OK);
    store_close(s);
}

static void test_experiments_get_or_create_promote_archive_reset(void)
{
    char err[PB_ERR_LEN];
    int64_t a, b, new_id;
    store *s = fresh_store();
    int64_t exp = setup_arms(s, &a, &b);
    struct store_experiment e;
    CHECK_INT(store_experiment_get_or_create(s, "exp", "live", "thompson", &e, err), PB_OK);
    CHECK_INT(e.id, exp);
    CHECK_STR(e.policy, "ucb1");
    store_experiment_clear(&e);
    CHECK_INT(store_experiment_set_policy(s, exp, "egreedy", "[1]", err), PB_ERR_INVALID);
    CHECK_INT(store_experiment_set_policy(s, exp, "egreedy", "{\"epsilon\":0.1}", err), PB_OK);
    CHECK_INT(store_experiment_promote(s, exp, b, err), PB_OK);
    CHECK_INT(store_experiment_promote(s, exp, 9999, err), PB_ERR_NOT_FOUND);
    CHECK_INT(arms_retire(s, b, err), PB_OK);
    CHECK_INT(store_experiment_get_by_id(s, exp, &e, err), PB_OK);
    CHECK_INT(e.promoted_arm_id, 0); /* retiring the winner clears the promotion */
    CHECK_STR(e.policy_params, "{\"epsilon\":0.1}");
    store_experiment_clear(&e);
    CHECK_INT(store_experiment_promote(s, exp, b, err), PB_ERR_CONFLICT);
    CHECK_INT(store_experiment_reset(s, exp, &new_id, err), PB_OK);
    CHECK_INT(store_experiment_get(s, "exp", &e, err), PB_OK);
    CHECK_INT(e.id, new_id);
    CHECK_STR(e.policy, "egreedy");
    store_experiment_clear(&e);
    struct arm *arms;
    size_t n;
    CHECK_INT(arms_list(s, new_id, 1, &arms, &n, err), PB_OK);
    CHECK_INT(n, 1); /* only the active arm A is copied */
    CHECK_STR(n ? arms[0].name : "", "A");
    arms_list_free(arms, n);
    struct store_experiment *list;
    CHECK_INT(store_experiment_list(s, &list, &n, err), PB_OK);
    CHECK_INT(n, 2);
    CHECK_STR(n == 2 ? list[1].status : "", "archived");
    store_experiment_list_free(list, n);
    store_close(s);
}

static void test_arm_text_changes_make_versions_and_keep_history(void)
{
    char err[PB_ERR_LEN];
    int64_t a, b, id1, id2, id3;
    enum arms_change ch;
    store *s = fresh_store();
    int64_t exp = setup_arms(s, &a, &b);
    CHECK_INT(arms_add(s, exp, "C", "v1 text\n", "c.txt", &id1, &ch, err), PB_OK);
    CHECK_INT(ch, ARMS_CREATED);
    CHECK_INT(arms_add(s, exp, "C", "v1 text", NULL, &id2, &ch, err), PB_OK);
    CHECK_INT(ch, ARMS_UNCHANGED); /* the trailing newline is not part of the prompt */
    CHECK_INT(id2, id1);
    CHECK_INT(arms_add(s, exp, "C", "v2 text", NULL, &id2, &ch, err), PB_OK);
    CHECK_INT(ch, ARMS_VERSIONED);
    struct arm old, cur;
    CHECK_INT(arms_get(s, id1, &old, err), PB_OK);
    CHECK_STR(old.prompt, "v1 text");
    CHECK(old.retired_at > 0);
    CHECK_INT(arms_find(s, exp, "C", &cur, err), PB_OK);
    CHECK_INT(cur.version, 2);
    CHECK_INT(cur.id, id2);
    arms_clear(&old);
    arms_clear(&cur);
    CHECK_INT(arms_add(s, exp, "C", "v1 text", NULL, &id3, &ch, err), PB_OK);
    CHECK_INT(ch, ARMS_RESTORED);
    CHECK_INT(id3, id1);
    CHECK_INT(arms_add(s, exp, "D", "prompt a", NULL, &id3, &ch, err), PB_ERR_CONFLICT);
    CHECK(strstr(err, "arm A v1") != NULL);
    CHECK_INT(arms_add(s, exp, "judge1", "x", NULL, &id3, &ch, err), PB_ERR_INVALID);
    CHECK_INT(arms_add(s, exp, "E", " \n\t ", NULL, &id3, &ch, err), PB_ERR_INVALID);
    CHECK_INT(arms_add(s, exp, "E", "bad \xff utf8", NULL, &id3, &ch, err), PB_ERR_INVALID);
    CHECK_INT(arms_restore(s, id2, err), PB_OK);
    CHECK_INT(arms_find(s, exp, "C", &cur, err), PB_OK);
    CHECK_INT(cur.id, id2);
    arms_clear(&cur);
    CHECK_INT(raw_int("SELECT count(*) FROM arms WHERE name = 'C'"), 2);
    store_close(s);
}

static void test_arm_names_follow_the_file_rule(void)
{
    static const struct {
        const char *name;
        int valid;
    } cases[] = {{"A", 1},
                 {"X1", 1},
                 {"Warm2", 1},
                 {"judge_chat", 0},
                 {"judge", 0},
                 {"propose", 0},
                 {"Propose2", 0},
                 {"1A", 0},
                 {"a-b", 0},
                 {"", 0},
                 {"ABCDEFGHIJKLMNOP", 1},
                 {"ABCDEFGHIJKLMNOPQ", 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (arms_name_valid(cases[i].name) != cases[i].valid) {
            fprintf(stderr, "arm name '%s': expected %d\n", cases[i].name, cases[i].valid);
            check_failures++;
        }
}

static void make_prompt_dir(char *dir, size_t n)
{
    snprintf(dir, n, "%s/prompts", check_tmpdir());
    mkdir(dir, 0755);
    char path[600];
    const char *files[][2] = {{"A.txt", "prompt A\n"},
                              {"B.txt", "prompt B"},
                              {"judge_chat.txt", "a judge prompt"},
                              {"propose.txt", "a proposer prompt"},
                              {"notes.md", "not a prompt"}};
    for (size_t i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i][0]);
        write_file(path, files[i][1], strlen(files[i][1]));
    }
}

static void test_prompt_dir_sync_loads_arms_and_versions_changes(void)
{
    char err[PB_ERR_LEN], dir[512], path[600];
    struct arms_sync_summary sum;
    struct store_experiment e;
    store *s = fresh_store();
    make_prompt_dir(dir, sizeof dir);
    CHECK_INT(arms_ensure_default(s, dir, "ucb1", &e, &sum, err), PB_OK);
    CHECK_INT(sum.created, 2);
    CHECK_INT(sum.ignored, 2); /* judge_chat and propose; notes.md is not *.txt */
    CHECK_INT(arms_sync_dir(s, e.id, dir, &sum, err), PB_OK);
    CHECK_INT(sum.unchanged, 2);
    CHECK_INT(sum.created + sum.versioned, 0);
    snprintf(path, sizeof path, "%s/A.txt", dir);
    write_file(path, "prompt A, better", 16);
    CHECK_INT(arms_sync_dir(s, e.id, dir, &sum, err), PB_OK);
    CHECK_INT(sum.versioned, 1);
    struct arm cur;
    CHECK_INT(arms_find(s, e.id, "A", &cur, err), PB_OK);
    CHECK_INT(cur.version, 2);
    CHECK_STR(cur.prompt, "prompt A, better");
    CHECK(cur.source_path && strstr(cur.source_path, "A.txt"));
    arms_clear(&cur);
    CHECK_INT(raw_int("SELECT count(*) FROM arms WHERE prompt = 'prompt A'"), 1);
    /* An operator's retire sticks: the file's text is already known. */
    CHECK_INT(arms_find(s, e.id, "B", &cur, err), PB_OK);
    CHECK_INT(arms_retire(s, cur.id, err), PB_OK);
    arms_clear(&cur);
    CHECK_INT(arms_sync_dir(s, e.id, dir, &sum, err), PB_OK);
    CHECK_INT(arms_find(s, e.id, "B", &cur, err), PB_ERR_NOT_FOUND);
    store_experiment_clear(&e);
    store_close(s);
}

static void test_bad_prompt_files_fail_the_whole_sync(void)
{
    static const struct {
        const char *content;
        size_t len;
        const char *why;
    } bad[] = {
        {"", 0, "empty"}, {"  \n\r\n\t", 6, "white space"}, {"caf\xe9 latin-1", 12, "UTF-8"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[PB_ERR_LEN] = "", dir[512], path[600];
        struct store_experiment e;
        struct arms_sync_summary sum;
        store *s = fresh_store();
        make_prompt_dir(dir, sizeof dir);
        snprintf(path, sizeof path, "%s/C.txt", dir);
        write_file(path, bad[i].content, bad[i].len);
        CHECK_INT(arms_ensure_default(s, dir, "ucb1", &e, &sum, err), PB_ERR_INVALID);
        CHECK(strstr(err, "C.txt") != NULL);
        CHECK(strstr(err, bad[i].why) != NULL);
        CHECK_INT(raw_int("SELECT count(*) FROM arms"), 0); /* A and B not stored either */
        store_close(s);
    }
}

static void test_bad_reward_values_are_refused_and_nothing_stored(void)
{
    static const double bad[] = {NAN, INFINITY, -INFINITY, 1.0000001, -1.5, 2, 1e300};
    char err[PB_ERR_LEN];
    int64_t a, b, id;
    int dup;
    store *s = fresh_store();
    int64_t exp = setup_arms(s, &a, &b);
    int64_t imp = impression(s, exp, a, NULL, NULL);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct feedback_reward r = {.impression_id = imp, .source = "click", .value = bad[i]};
        CHECK_INT(feedback_insert_reward(s, &r, &id, &dup, err), PB_ERR_INVALID);
    }
    struct feedback_reward bad_source = {.impression_id = imp, .source = "Click!", .value = 1};
    CHECK_INT(feedback_insert_reward(s, &bad_source, &id, &dup, err), PB_ERR_INVALID);
    struct feedback_reward bad_detail = {
        .impression_id = imp, .source = "edit", .value = 0, .detail_json = "{oops"};
    CHECK_INT(feedback_insert_reward(s, &bad_detail, &id, &dup, err), PB_ERR_INVALID);
    struct feedback_reward edges[] = {{.impression_id = imp, .source = "click", .value = -1},
                                      {.impression_id = imp, .source = "judge", .value = 1}};
    CHECK_INT(feedback_insert_rewards(s, edges, 2, NULL, NULL, err), PB_OK);
    CHECK_INT(raw_int("SELECT count(*) FROM rewards"), 2);
    store_close(s);
}

static void test_reward_event_ids_are_idempotent_and_conflicts_refused(void)
{
    char err[PB_ERR_LEN];
    int64_t a, b, id1, id2;
    int dup;
    store *s = fresh_store();
    int64_t exp = setup_arms(s, &a, &b);
    int64_t imp1 = impression(s, exp, a, NULL, NULL), imp2 = impression(s, exp, b, NULL, NULL);
    struct feedback_reward r = {
        .impression_id = imp1, .source = "click", .value = 1, .event_id = "ev-1"};
    CHECK_INT(feedback_insert_reward(s, &r, &id1, &dup, err), PB_OK);
    CHECK_INT(dup, 0);
    CHECK_INT(feedback_insert_reward(s, &r, &id2, &dup, err), PB_OK);
    CHECK_INT(dup, 1);
    CHECK_INT(id2, id1);
    struct feedback_reward other_imp = r;
    other_imp.impression_id = imp2;
    CHECK_INT(feedback_insert_reward(s, &other_imp, &id2, &dup, err), PB_ERR_CONFLICT);
    struct feedback_reward same_source = r;
    same_source.event_id = "ev-2";
    CHECK_INT(feedback_insert_reward(s, &same_source, &id2, &dup, err), PB_ERR_CONFLICT);
    CHECK(strstr(err, "already has a 'click' reward") != NULL);
    struct feedback_reward unknown = {.impression_id = 424242, .source = "click", .value = 0};
    CHECK_INT(feedback_insert_reward(s, &unknown, &id2, &dup, err), PB_ERR_NOT_FOUND);
    CHECK_INT(raw_int("SELECT count(*) FROM rewards"), 1);
    store_close(s);
}

static void test_reward_batch_is_all_or_nothing(void)
{
    char err[PB_ERR_LEN] = "";
    int64_t a, b, ids[3];
    int dups[3];
    store *s = fresh_store();
    int64_t exp = setup_arms(s, &a, &b);
    int64_t imp = impression(s, exp, a, NULL, NULL);
    struct feedback_reward batch[3] = {{.impression_id = imp, .source = "click", .value = 1},
                                       {.impression_id = imp, .source = "judge", .value = 0.5},
                                       {.impression_id = imp, .source = "edit", .value = NAN}};
    CHECK_INT(feedback_insert_rewards(s, batch, 3, ids, dups, err), PB_ERR_INVALID);
    CHECK(strstr(err, "reward 2 of 3") != NULL);
    CHECK_INT(raw_int("SELECT count(*) FROM rewards"), 0);
    batch[2].value = -0.5;
    CHECK_INT(feedback_insert_rewards(s, batch, 3, ids, dups, err), PB_OK);
    CHECK(ids[0] > 0 && ids[1] == ids[0] + 1 && ids[2] == ids[1] + 1);
    CHECK_INT(raw_int("SELECT count(*) FROM rewards"), 3);
    store_close(s);
}

struct walk {
    size_t n;
    size_t index[8];
    double value[8];
};

static int collect(void *ctx, const struct feedback_reward_row *row)
{
    struct walk *w = ctx;
    if (w->n < 8) {
        w->index[w->n] = row->arm_index;
        w->value[w->n] = row->value;
    }
    w->n++;
    return 0;
}

static void test_reward_walk_and_arm_statistics(void)
{
    char err[PB_ERR_LEN];
    int64_t a, b, id, sticky;
    int dup, created;
    store *s = fresh_store();
    int64_t exp = setup_arms(s, &a, &b);
    CHECK_INT(feedback_open_conversation(s, "c1", "u1", exp, b, NULL, &sticky, &created, err),
              PB_OK);
    int64_t imps[4] = {impression(s, exp, a, NULL, NULL), impression(s, exp, b, "u1", "c1"),
                       impression(s, exp, b, "u1", "c1"), impression(s, exp, b, NULL, NULL)};
    double values[4] = {1, 0.5, -1, 1};
    for (int i = 0; i < 4; i++) {
        struct feedback_reward r = {
            .impression_id = imps[i], .source = "click", .value = values[i]};
        CHECK_INT(feedback_insert_reward(s, &r, &id, &dup, err), PB_OK);
    }
    struct walk w = {0};
    CHECK_INT(feedback_reward_foreach(s, exp, collect, &w, err), 0);
    CHECK_INT(w.n, 4);
    CHECK_INT(w.index[0], 0);
    CHECK_INT(w.index[1], 1);
    CHECK_NEAR(w.value[2], -1, 0);
    struct feedback_arm_stats *st;
    size_t n;
    CHECK_INT(feedback_arm_stats(s, exp, &st, &n, err), PB_OK);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_INT(st[0].n, 1);
        CHECK_NEAR(st[0].sum, 1, 1e-12);
        CHECK_INT(st[1].impressions, 3);
        CHECK_INT(st[1].n, 3);
        CHECK_NEAR(st[1].sum, 0.5, 1e-12);
        CHECK_NEAR(st[1].sum_sq, 2.25, 1e-12);
        CHECK_INT(st[1].clusters, 2); /* c1 (two rewards) and one lone impression */
        CHECK_NEAR(st[1].cluster_sum_sq, 1.25, 1e-12); /* (-0.5)^2 + 1^2 */
        CHECK_NEAR(st[1].cluster_n_sum, 0, 1e-12);     /* 2 * -0.5 + 1 * 1 */
        CHECK_NEAR(st[1].cluster_n_sq, 5, 1e-12);      /* 2^2 + 1^2 */
    }
    free(st);
    store_close(s);
}

static void test_conversations_keep_their_arm_and_owner(void)
{
    char err[PB_ERR_LEN];
    int64_t a, b, sticky;
    int created;
    store *s = fresh_store();
    int64_t exp = setup_arms(s, &a, &b);
    CHECK_INT(feedback_open_conversation(s, "c1", "u1", exp, a, "ko", &sticky, &created, err),
              PB_OK);
    CHECK_INT(created, 1);
    CHECK_INT(sticky, a);
    CHECK_INT(feedback_open_conversation(s, "c1", "u1", exp, b, "ko", &sticky, &created, err),
              PB_OK);
    CHECK_INT(created, 0);
    CHECK_INT(sticky, a);
    CHECK_INT(feedback_open_conversation(s, "c1", "u2", exp, b, NULL, &sticky, &created, err),
              PB_ERR_FORBIDDEN);
    struct store_experiment other;
    CHECK_INT(store_experiment_get_or_create(s, "other", "offline", "ucb1", &other, err), PB_OK);
    struct feedback_impression imp = {.experiment_id = other.id, .arm_id = a, .activated = 1};
    int64_t id;
    CHECK_INT(feedback_insert_impression(s, &imp, &id, err), PB_ERR_INVALID);
    imp.experiment_id = exp;
    imp.conversation_id = "no-such-conversation";
    CHECK_INT(feedback_insert_impression(s, &imp, &id, err), PB_ERR_NOT_FOUND);
    imp.conversation_id = NULL;
    imp.propensity = 1.5;
    CHECK_INT(feedback_insert_impression(s, &imp, &id, err), PB_ERR_INVALID);
    store_experiment_clear(&other);
    store_close(s);
}

static void test_messages_need_consent_and_erase_removes_the_user(void)
{
    char err[PB_ERR_LEN];
    int64_t a, b, sticky, mid, rid;
    int created, dup, consent;
    store *s = fresh_store();
    int64_t exp = setup_arms(s, &a, &b);
    CHECK_INT(feedback_open_conversation(s, "c1", "u1", exp, a, NULL, &sticky, &created, err),
              PB_OK);
    int64_t imp = impression(s, exp, a, "u1", "c1");
    CHECK_INT(feedback_insert_message(s, "c1", imp, "user", "안녕", &mid, err), PB_OK);
    CHECK_INT(mid, 0); /* no consent: not stored */
    CHECK_INT(feedback_set_consent(s, "u1", 1, err), PB_OK);
    CHECK_INT(feedback_get_consent(s, "u1", &consent, err), PB_OK);
    CHECK_INT(consent, 1);
    const char *texts[] = {"one", "two", "three"};
    for (int i = 0; i < 3; i++)
        CHECK_INT(feedback_insert_message(s, "c1", imp, i % 2 ? "assistant" : "user", texts[i],
                                          &mid, err),
                  PB_OK);
    CHECK(mid > 0);
    CHECK_INT(feedback_insert_message(s, "nope", 0, "user", "x", &mid, err), PB_ERR_NOT_FOUND);
    struct feedback_message *msgs;
    size_t n;
    CHECK_INT(feedback_last_messages(s, "c1", 2, &msgs, &n, err), PB_OK);
    CHECK_INT(n, 2);
    CHECK_STR(n == 2 ? msgs[0].content : "", "two");
    CHECK_STR(n == 2 ? msgs[1].role : "", "user");
    feedback_message_list_free(msgs, n);
    struct feedback_reward r = {.impression_id = imp,
                                .source = "edit",
                                .value = 0.5,
                                .detail_json = "{\"final_text\":\"private\"}"};
    CHECK_INT(feedback_insert_reward(s, &r, &rid, &dup, err), PB_OK);
    struct feedback_erase_counts c;
    CHECK_INT(feedback_erase_user(s, "u1", &c, err), PB_OK);
    CHECK_INT(c.messages, 3);
    CHECK_INT(c.conversations, 1);
    CHECK_INT(c.impressions, 1);
    CHECK_INT(c.rewards, 1);
    CHECK_INT(raw_int("SELECT count(*) FROM messages"), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM users"), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM impressions WHERE user_id IS NOT NULL OR "
                      "conversation_id IS NOT NULL"),
              0);
    CHECK_INT(raw_int("SELECT count(*) FROM rewards WHERE detail IS NULL AND value = 0.5"), 1);
    CHECK_INT(feedback_get_consent(s, "u1", &consent, err), PB_OK);
    CHECK_INT(consent, 0);
    store_close(s);
}

static void test_purge_deletes_only_older_messages(void)
{
    char err[PB_ERR_LEN];
    int64_t a, b, sticky, mid, deleted;
    int created;
    store *s = fresh_store();
    int64_t exp = setup_arms(s, &a, &b);
    CHECK_INT(feedback_set_consent(s, "u1", 1, err), PB_OK);
    CHECK_INT(feedback_open_conversation(s, "c1", "u1", exp, a, NULL, &sticky, &created, err),
              PB_OK);
    CHECK_INT(feedback_insert_message(s, "c1", 0, "user", "hello", &mid, err), PB_OK);
    CHECK_INT(feedback_purge_messages(s, pb_now_wall() - 3600, &deleted, err), PB_OK);
    CHECK_INT(deleted, 0);
    CHECK_INT(feedback_purge_messages(s, pb_now_wall() + 1, &deleted, err), PB_OK);
    CHECK_INT(deleted, 1);
    store_close(s);
}

static void test_backup_is_a_complete_copy_and_never_overwrites(void)
{
    char err[PB_ERR_LEN], path[600];
    int64_t a, b;
    store *s = fresh_store();
    setup_arms(s, &a, &b);
    snprintf(path, sizeof path, "%s/t.backup", check_tmpdir());
    if (testdb_is_url(db_path)) {
        /* PostgreSQL's online copy is pg_dump's job: the store says so and writes nothing. */
        CHECK_INT(store_backup(s, path, err), PB_ERR_INVALID);
        CHECK(strstr(err, "pg_dump") != NULL);
        CHECK(access(path, F_OK) != 0);
        store_close(s);
        return;
    }
    CHECK_INT(store_backup(s, path, err), PB_OK);
    CHECK_INT(store_backup(s, path, err), PB_ERR_CONFLICT);
    store_close(s);
    struct store_counts c;
    CHECK_INT(store_open(path, NULL, &s, err), PB_OK);
    CHECK_INT(store_count_rows(s, &c, err), PB_OK);
    CHECK_INT(c.arms, 2);
    CHECK_INT(c.experiments, 1);
    CHECK_INT(store_integrity_check(s, err), PB_OK);
    store_close(s);
}

struct step_log {
    int n;
    char last_status[16];
};

static int count_steps(void *ctx, const struct run_step *step)
{
    struct step_log *log = ctx;
    log->n++;
    snprintf(log->last_status, sizeof log->last_status, "%s", step->status);
    return 0;
}

static void test_runs_record_steps_and_failures(void)
{
    char err[PB_ERR_LEN];
    int64_t a, b, run, eval;
    store *s = fresh_store();
    setup_arms(s, &a, &b);
    CHECK_INT(runs_create(s, "r1", "bandit-run", "{\"iterations\":2}", &run, err), PB_OK);
    struct run_step step = {.run_id = run, .iteration = 0, .arm_id = a, .status = "pending"};
    CHECK_INT(runs_step_put(s, &step, err), PB_OK);
    step.status = "ok";
    step.score = 0.5;
    step.has_score = 1;
    CHECK_INT(runs_step_put(s, &step, err), PB_OK); /* replaces the pending step */
    struct run_step failed = {
        .run_id = run, .iteration = 1, .arm_id = b, .status = "failed", .error = "provider: 503"};
    CHECK_INT(runs_step_put(s, &failed, err), PB_OK);
    failed.status = "broken";
    CHECK_INT(runs_step_put(s, &failed, err), PB_ERR_INVALID);
    struct run_step orphan = {.run_id = 999, .iteration = 0, .status = "ok"};
    CHECK_INT(runs_step_put(s, &orphan, err), PB_ERR_NOT_FOUND);
    struct step_log log = {0};
    CHECK_INT(runs_step_foreach(s, run, count_steps, &log, err), 0);
    CHECK_INT(log.n, 2);
    CHECK_STR(log.last_status, "failed");
    CHECK_INT(runs_finish(s, run, "finished", err), PB_OK);
    struct run *list;
    size_t n;
    CHECK_INT(runs_list(s, &list, &n, err), PB_OK);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK_INT(list[0].steps_ok, 1);
        CHECK_INT(list[0].steps_failed, 1);
        CHECK_STR(list[0].status, "finished");
        CHECK(list[0].finished_at > 0);
    }
    runs_list_free(list, n);
    CHECK_INT(runs_insert_judge_eval(s, "llm", "[1,2]", &eval, err), PB_ERR_INVALID);
    CHECK_INT(runs_insert_judge_eval(s, "llm", "{\"mse\":0.2}", &eval, err), PB_OK);
    store_close(s);
}

int main(void)
{
    RUN(test_open_applies_migrations_once);
    RUN(test_a_sqlite_file_is_in_wal_mode);
    RUN(test_newer_schema_is_refused_with_message);
    RUN(test_garbage_file_is_refused_as_not_a_database);
    RUN(test_damaged_pages_are_reported_as_corrupt);
    RUN(test_missing_folder_is_a_clear_error);
    RUN(test_locked_database_fails_after_busy_timeout);
    RUN(test_experiments_get_or_create_promote_archive_reset);
    RUN(test_arm_text_changes_make_versions_and_keep_history);
    RUN(test_arm_names_follow_the_file_rule);
    RUN(test_prompt_dir_sync_loads_arms_and_versions_changes);
    RUN(test_bad_prompt_files_fail_the_whole_sync);
    RUN(test_bad_reward_values_are_refused_and_nothing_stored);
    RUN(test_reward_event_ids_are_idempotent_and_conflicts_refused);
    RUN(test_reward_batch_is_all_or_nothing);
    RUN(test_reward_walk_and_arm_statistics);
    RUN(test_conversations_keep_their_arm_and_owner);
    RUN(test_messages_need_consent_and_erase_removes_the_user);
    RUN(test_purge_deletes_only_older_messages);
    RUN(test_backup_is_a_complete_copy_and_never_overwrites);
    RUN(test_runs_record_steps_and_failures);
    CHECK_DONE();
}
