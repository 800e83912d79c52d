/* test_store_erase.c — erasure reaches the disk: after a user's erasure and a WAL checkpoint no
 * byte of their id, conversation id, messages or reward details is left in the database file
 * or its WAL (the raw bytes are searched, and the same search finds them before the erasure);
 * an erasure through the writer is ordered after that user's write-behind impressions; a
 * reader still on an older snapshot leaves the checkpoint pending, and the writer's background
 * retry finishes it once the reader is gone; writer_request_checkpoint does the same for an
 * erasure made on another handle. */
#include "check.h"
#include "writer_harness.h"
#include "store/arms.h"
#include "store/experiment.h"
#include "store/feedback.h"
#include "store/store.h"
#include "store/writer.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#define USER "erase-me-user-7f3a"
#define CONV "erase-me-conv-2b9c"
#define TEXT "erase-me-secret-text-91c2"
#define EDIT "erase-me-private-edit-5d1e"

static int64_t exp_id, arm_id;

/* 1 when the file at path (absent = empty) holds the bytes of needle. */
static int file_holds(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = strlen(needle), len = 0, cap = 1 << 16, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger)
                break;
            buf = bigger;
        }
    }
    fclose(f);
    int found = 0;
    for (size_t i = 0; buf && !found && i + n <= len; i++)
        found = memcmp(buf + i, needle, n) == 0;
    free(buf);
    return found;
}

/* How many of the user's strings the database file and its WAL hold. */
static int copies_on_disk(void)
{
    char wal[600];
    snprintf(wal, sizeof wal, "%s-wal", db_path);
    const char *needles[] = {USER, CONV, TEXT, EDIT};
    int copies = 0;
    for (int i = 0; i < 4; i++)
        copies += file_holds(db_path, needles[i]) + file_holds(wal, needles[i]);
    return copies;
}

static long long wal_size(void)
{
    char wal[600];
    struct stat sb;
    snprintf(wal, sizeof wal, "%s-wal", db_path);
    return stat(wal, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* A fresh database where USER consented, talked in CONV, got impressions (some written behind
 * through w) and left an edit reward; returns the writer. */
static writer *user_with_history(void)
{
    char err[PB_ERR_LEN];
    store *s = NULL, *ws = NULL;
    writer *w = NULL;
    struct store_experiment e = {0};
    int64_t sticky, mid, imp = 0;
    int created;
    snprintf(db_path, sizeof db_path, "%s/erase.db", check_tmpdir());
    s = open_store();
    CHECK_INT(store_experiment_get_or_create(s, "exp", "live", "ucb1", &e, err), PB_OK);
    exp_id = e.id;
    store_experiment_clear(&e);
    CHECK_INT(arms_add(s, exp_id, "A", "prompt a", NULL, &arm_id, NULL, err), PB_OK);
    ws = open_store();
    CHECK_INT(writer_new(ws, 0, &w, err), PB_OK);
    CHECK_INT(feedback_set_consent(s, USER, 1, err), PB_OK);
    CHECK_INT(
        feedback_open_conversation(s, CONV, USER, exp_id, arm_id, NULL, &sticky, &created, err),
        PB_OK);
    struct feedback_impression im = {.experiment_id = exp_id,
                                     .arm_id = arm_id,
                                     .user_id = USER,
                                     .conversation_id = CONV,
                                     .context_json = "{\"note\":\"" TEXT "\"}",
                                     .activated = 1};
    for (int i = 0; i < 5; i++) {
        CHECK_INT(writer_impression(w, &im, &imp, err), PB_OK);
        CHECK_INT(feedback_insert_message(s, CONV, imp, "user", TEXT, &mid, err), PB_OK);
        CHECK(mid > 0);
    }
    struct feedback_reward r = {.impression_id = imp,
                                .source = "edit",
                                .value = 0.5,
                                .detail_json = "{\"final_text\":\"" EDIT "\"}"};
    CHECK_INT(writer_reward(w, &r, NULL, NULL, err), PB_OK);
    store_close(s);
    return w;
}

static void test_erasure_through_the_writer_leaves_no_copy_on_disk(void)
{
    char err[PB_ERR_LEN];
    writer *w = user_with_history();
    CHECK(copies_on_disk() >= 4); /* the search finds every string before the erasure */
    /* queued just before the erasure: FIFO erases it too, the user row does not come back */
    struct feedback_impression im = {
        .experiment_id = exp_id, .arm_id = arm_id, .user_id = USER, .activated = 1};
    CHECK_INT(writer_submit_impression(w, &im, NULL, NULL, NULL, err), PB_OK);
    struct writer_erase_result res = {0};
    CHECK_INT(writer_erase_user(w, USER, &res, err), PB_OK);
    CHECK_INT(res.counts.messages, 5);
    CHECK_INT(res.counts.conversations, 1);
    CHECK_INT(res.counts.impressions, 6);
    CHECK_INT(res.counts.rewards, 1);
    CHECK_INT(res.purged, 1);
    CHECK_INT(wal_size(), 0);
    CHECK_INT(copies_on_disk(), 0);
    struct writer_stats st;
    writer_stats_get(w, &st);
    CHECK_INT(st.checkpoint_pending, 0);
    CHECK_INT(st.checkpoints, 1);
    writer_free(w);
    store *s = open_store();
    struct store_counts c;
    CHECK_INT(store_count_rows(s, &c, err), PB_OK);
    CHECK_INT(c.users, 0);
    CHECK_INT(c.impressions, 6); /* kept, anonymous */
    CHECK_INT(c.rewards, 1);
    CHECK_INT(store_integrity_check(s, err), PB_OK);
    store_close(s);
}

/* Waits up to ms for the writer's checkpoint to stop being pending. */
static int wait_purged(writer *w, int ms)
{
    struct writer_stats st;
    for (int t = 0; t < ms; t += 20) {
        writer_stats_get(w, &st);
        if (!st.checkpoint_pending)
            return 1;
        sleep_ms(20);
    }
    writer_stats_get(w, &st);
    return !st.checkpoint_pending;
}

static void test_a_reader_on_an_old_snapshot_leaves_the_purge_pending_until_it_is_gone(void)
{
    char err[PB_ERR_LEN];
    writer *w = user_with_history();
    struct log_lines log = {.text = ""};
    pthread_mutex_init(&log.mu, NULL);
    writer_set_log(w, log_append, &log);
    sqlite3 *reader;
    sqlite3_stmt *st;
    CHECK_INT(sqlite3_open(db_path, &reader), SQLITE_OK);
    CHECK_INT(sqlite3_exec(reader, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    CHECK_INT(sqlite3_prepare_v2(reader, "SELECT count(*) FROM messages", -1, &st, NULL),
              SQLITE_OK);
    CHECK_INT(sqlite3_step(st), SQLITE_ROW); /* a read snapshot from before the erasure */
    CHECK_INT(sqlite3_column_int(st, 0), 5);
    sqlite3_finalize(st);
    struct writer_erase_result res = {0};
    CHECK_INT(writer_erase_user(w, USER, &res, err), PB_OK);
    CHECK_INT(res.counts.messages, 5);
    CHECK_INT(res.purged, 0); /* the erasure is committed, its purge from disk is not */
    struct writer_stats stats;
    writer_stats_get(w, &stats);
    CHECK_INT(stats.checkpoint_pending, 1);
    CHECK(log_has(&log, "checkpoint pending"));
    CHECK(copies_on_disk() > 0);
    sleep_ms(2 * WRITER_CHECKPOINT_RETRY_MS); /* retries meanwhile fail: the reader stays */
    writer_stats_get(w, &stats);
    CHECK_INT(stats.checkpoint_pending, 1);
    CHECK(stats.checkpoint_retries >= 2);
    sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(reader);
    CHECK(wait_purged(w, 4 * WRITER_CHECKPOINT_RETRY_MS + 2000));
    CHECK(log_has(&log, "checkpoint completed"));
    CHECK_INT(copies_on_disk(), 0);
    CHECK_INT(wal_size(), 0);
    writer_set_log(w, NULL, NULL);
    writer_free(w);
    pthread_mutex_destroy(&log.mu);
}

static void test_a_requested_checkpoint_purges_an_erasure_made_elsewhere(void)
{
    char err[PB_ERR_LEN];
    writer *w = user_with_history();
    store *s = open_store();
    struct feedback_erase_counts c;
    bool complete = true;
    CHECK_INT(feedback_erase_user(s, USER, &c, err), PB_OK);
    CHECK_INT(c.messages, 5);
    CHECK(copies_on_disk() > 0); /* erased, but the old pages are still in the WAL */
    /* store_checkpoint itself: a reader in the way makes it incomplete, not an error */
    sqlite3 *reader;
    CHECK_INT(sqlite3_open(db_path, &reader), SQLITE_OK);
    CHECK_INT(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM users", NULL, NULL, NULL),
              SQLITE_OK);
    CHECK_INT(store_checkpoint(s, 50, &complete, err), PB_OK);
    CHECK(!complete);
    sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(reader);
    store_close(s);
    writer_request_checkpoint(w);
    CHECK(wait_purged(w, 3000));
    CHECK_INT(copies_on_disk(), 0);
    writer_free(w);
}

int main(void)
{
    RUN(test_erasure_through_the_writer_leaves_no_copy_on_disk);
    RUN(test_a_reader_on_an_old_snapshot_leaves_the_purge_pending_until_it_is_gone);
    RUN(test_a_requested_checkpoint_purges_an_erasure_made_elsewhere);
    CHECK_DONE();
}
