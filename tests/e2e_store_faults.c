/* e2e_store_faults.c — the service on a failing disk. The real app and server run on the
 * "faulty" VFS (store/faultvfs.h, db.vfs = "faulty", synchronous FULL); the test flips its
 * control file between nothing, failing writes, failing fsyncs and a full disk. While the disk
 * fails, every request that needs a commit (feedback, a chat turn, an erasure) must get 503
 * "unavailable" with an error message and never 200, choose must answer 503 once a commit has
 * failed (its impressions could not be logged) and /healthz must say the database takes no writes.
 * Once the fault clears the service must recover by itself (choose 200, the same feedback retried
 * 200 and committed). At the end the database, reopened with the default VFS, passes
 * integrity_check and holds every acknowledged reward, chat turn and erasure. */
#include "store/faultvfs.h"
#include "svc_harness.h"

#include <sqlite3.h>

#define MAX_ACKS 64

static char control[512];

struct acked {
    long long rewards[MAX_ACKS];
    int n_rewards;
    long long chats[MAX_ACKS]; /* impression ids of chat turns answered 200 */
    int n_chats;
    const char *erased[8]; /* users whose erasure was answered 200 */
    int n_erased;
};

static void fault_set(const char *word)
{
    FILE *f = fopen(control, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(word, f);
        fclose(f);
    }
}

/* 503 "unavailable" (the disk passes: retry) with the standard error body and a message; prints
 * what came. */
static int is_clear_failure(int status, const json_t *out, const char *what)
{
    const char *msg = svc_str(json_object_get(out, "error"), "message");
    const char *code = svc_str(json_object_get(out, "error"), "code");
    int ok = status == 503 && code && !strcmp(code, "unavailable") && msg && *msg;
    fprintf(stderr, "  %s while failing: %d %s\n", what, status, msg ? msg : "(no message)");
    return ok;
}

static long long choose_one(const struct svc *s)
{
    json_t *out = NULL;
    CHECK_INT(svc_post(s, "/v1/choose", NULL, "{}", &out), 200);
    long long id = svc_int(out, "impression_id");
    json_decref(out);
    return id;
}

static int feedback(const struct svc *s, long long imp, const char *event, json_t **out)
{
    char body[256];
    snprintf(body, sizeof body, "{\"impression_id\":%lld,\"kind\":\"like\",\"event_id\":\"%s\"}",
             imp, event);
    return svc_post(s, "/v1/feedback", NULL, body, out);
}

static int chat(const struct svc *s, const char *user, json_t **out)
{
    char body[256];
    snprintf(body, sizeof body,
             "{\"user_id\":\"%s\",\"message\":\"오늘 너무 힘들었어\",\"consent\":true}", user);
    return svc_post(s, "/v1/chat", NULL, body, out);
}

static int erase(const struct svc *s, const char *user, json_t **out)
{
    char url[256];
    snprintf(url, sizeof url, "%s/v1/users/%s", s->url, user);
    return svc_http("DELETE", url, "admintok", NULL, out);
}

/* One fault: everything that needs a commit fails clearly, then everything recovers. */
static void one_fault(const struct svc *s, const char *mode, struct acked *a, int round)
{
    char event[64], user[32], victim[32];
    json_t *out = NULL;
    fprintf(stderr, "fault %s\n", mode);
    snprintf(user, sizeof user, "chat-%s", mode);
    snprintf(victim, sizeof victim, "victim-%s", mode);
    /* Before the fault: an impression to give feedback on, and a user to erase. */
    long long imp = choose_one(s);
    CHECK_INT(chat(s, victim, &out), 200);
    a->chats[a->n_chats++] = svc_int(out, "impression_id");
    json_decref(out);
    svc_flush(s);
    unsigned long failures_before = faultvfs_failures();

    fault_set(mode);
    snprintf(event, sizeof event, "ev-%s-%d", mode, round);
    int status = feedback(s, imp, event, &out);
    CHECK(is_clear_failure(status, out, "feedback"));
    json_decref(out);
    /* A commit failed: the writer is unhealthy and choose must refuse to write behind. */
    status = svc_post(s, "/v1/choose", NULL, "{}", &out);
    CHECK_INT(status, 503);
    CHECK(is_clear_failure(status, out, "choose"));
    json_decref(out);
    status = chat(s, user, &out);
    CHECK(is_clear_failure(status, out, "chat"));
    json_decref(out);
    status = erase(s, victim, &out);
    CHECK(is_clear_failure(status, out, "erase"));
    json_decref(out);
    status = svc_get(s, "/healthz", NULL, &out);
    CHECK_INT(status, 503);
    json_decref(out);
    CHECK(faultvfs_failures() > failures_before);

    /* The fault clears: the writer's probe makes it healthy again without any request. */
    fault_set("");
    double t0 = pb_now_monotonic(), waited = 0;
    for (;;) {
        status = svc_post(s, "/v1/choose", NULL, "{}", &out);
        json_decref(out);
        waited = pb_now_monotonic() - t0;
        if (status == 200 || waited > 10)
            break;
        CHECK_INT(status, 503);
        usleep(50 * 1000);
    }
    CHECK_INT(status, 200);
    fprintf(stderr, "  recovered after %.2f s\n", waited);
    /* The client's retry of the refused feedback is now committed (not a duplicate). */
    CHECK_INT(feedback(s, imp, event, &out), 200);
    CHECK(json_is_false(json_object_get(out, "duplicate")));
    a->rewards[a->n_rewards++] = svc_int(out, "reward_id");
    json_decref(out);
    CHECK_INT(chat(s, user, &out), 200);
    a->chats[a->n_chats++] = svc_int(out, "impression_id");
    json_decref(out);
    CHECK_INT(erase(s, victim, &out), 200);
    a->erased[a->n_erased++] = strcmp(mode, "write") == 0   ? "victim-write"
                               : strcmp(mode, "fsync") == 0 ? "victim-fsync"
                                                            : "victim-full";
    json_decref(out);
    CHECK_INT(svc_get(s, "/healthz", NULL, NULL), 200);
}

static long long count(sqlite3 *db, const char *sql, long long arg_int, const char *arg_text)
{
    sqlite3_stmt *st = NULL;
    long long n = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (arg_text)
            sqlite3_bind_text(st, 1, arg_text, -1, SQLITE_STATIC);
        else
            sqlite3_bind_int64(st, 1, arg_int);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return n;
}

static void test_disk_faults_fail_clearly_and_recover(void)
{
    struct svc s;
    struct acked a = {0};
    char err[PB_ERR_LEN];
    snprintf(control, sizeof control, "%s/fault", check_tmpdir());
    const char *const settings[] = {"db.vfs",
                                    "faulty",
                                    "db.fault_file",
                                    control,
                                    "db.synchronous",
                                    "FULL",
                                    "server.admin_token",
                                    "admintok",
                                    NULL};
    fault_set("");
    svc_start(&s, settings);
    json_t *out = NULL;
    long long imp = choose_one(&s);
    CHECK_INT(feedback(&s, imp, "ev-healthy", &out), 200);
    a.rewards[a.n_rewards++] = svc_int(out, "reward_id");
    json_decref(out);
    const char *modes[] = {"write", "fsync", "full", "write", "fsync", "full"};
    for (int i = 0; i < 6; i++)
        one_fault(&s, modes[i], &a, i);
    svc_flush(&s);
    char db_path[sizeof s.db];
    snprintf(db_path, sizeof db_path, "%s", s.db);
    svc_stop(&s);

    /* Reopened with the default VFS: intact, and everything acknowledged is there. */
    store *st = NULL;
    CHECK_INT(store_open(db_path, NULL, &st, err), PB_OK);
    CHECK_INT(store_integrity_check(st, err), PB_OK);
    store_close(st);
    sqlite3 *db = NULL;
    CHECK_INT(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    for (int i = 0; i < a.n_rewards; i++)
        CHECK_INT(count(db, "SELECT count(*) FROM rewards WHERE id = ?", a.rewards[i], NULL), 1);
    for (int i = 0; i < a.n_chats; i++)
        CHECK_INT(count(db, "SELECT count(*) FROM impressions WHERE id = ?", a.chats[i], NULL), 1);
    for (int i = 0; i < a.n_erased; i++)
        CHECK_INT(count(db, "SELECT count(*) FROM users WHERE id = ?", 0, a.erased[i]), 0);
    /* The chat turns answered 200 for the users not erased kept their messages. */
    CHECK(count(db, "SELECT count(*) FROM messages WHERE ? = 0", 0, NULL) >= 6);
    sqlite3_close(db);
    fprintf(stderr, "acknowledged: %d rewards, %d chat turns, %d erasures; %lu injected failures\n",
            a.n_rewards, a.n_chats, a.n_erased, faultvfs_failures());
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    svc_fake_start();
    RUN(test_disk_faults_fail_clearly_and_recover);
    svc_fake_stop();
    curl_global_cleanup();
    CHECK_DONE();
}
