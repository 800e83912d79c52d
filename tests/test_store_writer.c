/* test_store_writer.c — the group-commit writer's protocol against real SQLite files: done
 * callbacks run after the commit, in submit order; impression ids are known at submit, the
 * rows carry them, and no id is handed out twice (restarts, two writers, deleted rows, more
 * than two id blocks at once); a reward's check sees the impressions queued before it and may
 * refuse it; a bad record fails alone; a failed commit fails every record of its batch, makes
 * the writer unhealthy, and health comes back with the next commit or, with no traffic, by
 * the probe; the queue has a limit; writer_free drains the queue; erasure through the writer
 * leaves no byte of the user's text or id in the database or its WAL, and a reader holding an
 * old snapshot leaves the checkpoint pending until the background retry finishes it.
 * Raw SQL appears here only to look behind the API. */
#include "check.h"
#include "writer_harness.h"
#include "store/arms.h"
#include "store/experiment.h"
#include "store/feedback.h"
#include "store/impressions.h"
#include "store/store.h"
#include "store/writer.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

static int64_t exp_id, arm_id;

/* A fresh database with experiment "exp" and arm A; returns a writer on its own handle. */
static writer *fresh_writer(size_t max_batch)
{
    char err[PB_ERR_LEN];
    store *s = NULL, *ws = NULL;
    writer *w = NULL;
    struct store_experiment e = {0};
    struct store_options opt = {.busy_timeout_ms = 2000, .synchronous = "NORMAL"};
    testdb_make(db_path, sizeof db_path, check_tmpdir(), "w.db");
    if (store_open(db_path, &opt, &s, err) != PB_OK ||
        store_experiment_get_or_create(s, "exp", "live", "ucb1", &e, err) != PB_OK ||
        arms_add(s, e.id, "A", "prompt a", NULL, &arm_id, NULL, err) != PB_OK ||
        store_open(db_path, &opt, &ws, err) != PB_OK || writer_new(ws, max_batch, &w, err)) {
        fprintf(stderr, "setup: %s\n", err);
        exit(2);
    }
    exp_id = e.id;
    store_experiment_clear(&e);
    store_close(s);
    return w;
}

/* One integer from raw SQL on a connection of its own (sees committed rows only). */
static long long raw_int(const char *sql)
{
    return testdb_int(db_path, sql);
}

/* ---- holding the writer thread so that the next records form one batch ---------------- */

struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int held, open;
};

static void gate_done(pb_status rc, int64_t id, int duplicate, const char *err, void *ud)
{
    (void)rc, (void)id, (void)duplicate, (void)err;
    struct gate *g = ud;
    pthread_mutex_lock(&g->mu);
    g->held = 1;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

/* Blocks the writer thread inside a done callback until gate_release. */
static void gate_hold(writer *w, struct gate *g)
{
    char err[PB_ERR_LEN];
    *g = (struct gate){0};
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    CHECK_INT(writer_submit_barrier(w, gate_done, g, err), PB_OK);
    pthread_mutex_lock(&g->mu);
    while (!g->held)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_release(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* ---- what done callbacks saw ----------------------------------------------------------- */

#define MAX_SEEN 64

struct seen {
    int n;
    int tag[MAX_SEEN];
    pb_status rc[MAX_SEEN];
    int64_t id[MAX_SEEN];
    int duplicate[MAX_SEEN];
    long long stored[MAX_SEEN]; /* rows with that id another connection saw during done */
    char err[MAX_SEEN][PB_ERR_LEN];
};

struct seen_ud {
    struct seen *seen;
    int tag;
    int kind; /* 'i' impression, 'r' reward */
};

static void seen_done(pb_status rc, int64_t id, int duplicate, const char *err, void *ud)
{
    struct seen_ud *u = ud;
    struct seen *s = u->seen;
    if (s->n >= MAX_SEEN)
        return;
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE id = %lld",
             u->kind == 'i' ? "impressions" : "rewards", (long long)id);
    s->stored[s->n] = raw_int(sql);
    s->tag[s->n] = u->tag;
    s->rc[s->n] = rc;
    s->id[s->n] = id;
    s->duplicate[s->n] = duplicate;
    snprintf(s->err[s->n], PB_ERR_LEN, "%s", err);
    s->n++;
}

static struct feedback_impression imp_of(const char *user)
{
    return (struct feedback_impression){
        .experiment_id = exp_id, .arm_id = arm_id, .user_id = user, .activated = 1};
}

/* ---- tests ---------------------------------------------------------------------------- */

/* Within one batch the writer checks an arm and ensures a user once for a run of impressions;
 * an erasure between two impressions of the same user must undo that memo, or the second
 * impression would name a user row the erasure just deleted. */
static void test_a_user_erased_mid_batch_is_created_again(void)
{
    char err[PB_ERR_LEN];
    writer *w = fresh_writer(0);
    struct gate g;
    gate_hold(w, &g);
    struct feedback_impression im = imp_of("memo-user");
    int64_t first = 0, second = 0;
    struct writer_erase_result erased = {0};
    CHECK_INT(writer_submit_impression(w, &im, &first, NULL, NULL, err), PB_OK);
    CHECK_INT(writer_submit_impression(w, &im, NULL, NULL, NULL, err), PB_OK);
    CHECK_INT(writer_submit_erase(w, "memo-user", &erased, NULL, NULL, err), PB_OK);
    CHECK_INT(writer_submit_impression(w, &im, &second, NULL, NULL, err), PB_OK);
    gate_release(&g);
    CHECK_INT(writer_flush(w, err), PB_OK);
    CHECK(writer_healthy(w, err));
    CHECK_INT(raw_int("SELECT count(*) FROM users WHERE id = 'memo-user'"), 1);
    CHECK_INT(raw_int("SELECT count(*) FROM impressions WHERE user_id = 'memo-user'"), 1);
    char sql[128];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM impressions WHERE id = %lld AND user_id = "
             "'memo-user'",
             (long long)second);
    CHECK_INT(raw_int(sql), 1);
    writer_free(w);
    pthread_mutex_destroy(&g.mu);
    pthread_cond_destroy(&g.cv);
}

static void test_done_runs_after_the_commit_in_submit_order(void)
{
    char err[PB_ERR_LEN];
    writer *w = fresh_writer(0);
    struct seen seen = {0};
    struct seen_ud u[6];
    int64_t imp[3];
    struct gate g;
    gate_hold(w, &g);
    for (int i = 0; i < 3; i++) {
        struct feedback_impression im = imp_of(NULL);
        u[2 * i] = (struct seen_ud){&seen, 2 * i, 'i'};
        CHECK_INT(writer_submit_impression(w, &im, &imp[i], seen_done, &u[2 * i], err), PB_OK);
        /* the reward is submitted before its impression committed: FIFO makes it find it */
        struct feedback_reward r = {.impression_id = imp[i], .source = "click", .value = 1};
        u[2 * i + 1] = (struct seen_ud){&seen, 2 * i + 1, 'r'};
        CHECK_INT(writer_submit_reward(w, &r, NULL, seen_done, &u[2 * i + 1], err), PB_OK);
    }
    CHECK_INT(raw_int("SELECT count(*) FROM impressions"), 0); /* nothing before the commit */
    gate_release(&g);
    CHECK_INT(writer_flush(w, err), PB_OK);
    CHECK_INT(seen.n, 6);
    for (int i = 0; i < seen.n; i++) {
        CHECK_INT(seen.tag[i], i);
        CHECK_INT(seen.rc[i], PB_OK);
        CHECK_INT(seen.stored[i], 1); /* committed and visible to others when done ran */
        if (i % 2 == 0)
            CHECK_INT(seen.id[i], imp[i / 2]); /* the id told at submit is the row's */
    }
    CHECK(imp[0] < imp[1] && imp[1] < imp[2]);
    struct writer_stats st;
    writer_stats_get(w, &st);
    CHECK(st.largest_batch >= 6); /* the six held back formed one batch (the flush may join) */
    CHECK_INT(st.write_behind, 0);
    CHECK_INT(st.queued, 0);
    CHECK_INT(st.batch_sizes[3], 1); /* 6 or 7 is in (4, 8] */
    writer_free(w);
    pthread_mutex_destroy(&g.mu);
    pthread_cond_destroy(&g.cv);
}

static void test_a_bad_record_fails_alone_in_its_batch(void)
{
    char err[PB_ERR_LEN];
    writer *w = fresh_writer(0);
    struct seen seen = {0};
    struct seen_ud u[5];
    int64_t imp = 0;
    struct gate g;
    gate_hold(w, &g);
    struct feedback_impression good = imp_of("u1");
    struct feedback_impression bad_arm = imp_of(NULL);
    bad_arm.arm_id = 424242;
    struct feedback_reward unknown = {.impression_id = 99999999, .source = "click", .value = 1};
    u[0] = (struct seen_ud){&seen, 0, 'i'};
    CHECK_INT(writer_submit_impression(w, &good, &imp, seen_done, &u[0], err), PB_OK);
    u[1] = (struct seen_ud){&seen, 1, 'i'};
    CHECK_INT(writer_submit_impression(w, &bad_arm, NULL, seen_done, &u[1], err), PB_OK);
    u[2] = (struct seen_ud){&seen, 2, 'r'};
    CHECK_INT(writer_submit_reward(w, &unknown, NULL, seen_done, &u[2], err), PB_OK);
    struct feedback_reward r = {
        .impression_id = imp, .source = "click", .value = 1, .event_id = "e1"};
    u[3] = (struct seen_ud){&seen, 3, 'r'};
    CHECK_INT(writer_submit_reward(w, &r, NULL, seen_done, &u[3], err), PB_OK);
    u[4] = (struct seen_ud){&seen, 4, 'r'}; /* the same event again: a duplicate */
    CHECK_INT(writer_submit_reward(w, &r, NULL, seen_done, &u[4], err), PB_OK);
    /* refused at once, never queued: bad JSON, bad value */
    struct feedback_impression bad_json = imp_of(NULL);
    bad_json.context_json = "{not json";
    CHECK_INT(writer_submit_impression(w, &bad_json, NULL, seen_done, &u[0], err), PB_ERR_INVALID);
    struct feedback_reward bad_value = {.impression_id = imp, .source = "click", .value = 2};
    CHECK_INT(writer_submit_reward(w, &bad_value, NULL, seen_done, &u[0], err), PB_ERR_INVALID);
    gate_release(&g);
    CHECK_INT(writer_flush(w, err), PB_OK);
    CHECK_INT(seen.n, 5);
    CHECK_INT(seen.rc[0], PB_OK);
    CHECK_INT(seen.rc[1], PB_ERR_INVALID);
    CHECK_INT(seen.rc[2], PB_ERR_NOT_FOUND);
    CHECK(strstr(seen.err[2], "99999999") != NULL);
    CHECK_INT(seen.rc[3], PB_OK);
    CHECK_INT(seen.rc[4], PB_OK);
    CHECK_INT(seen.duplicate[4], 1);
    CHECK_INT(seen.id[4], seen.id[3]);
    struct writer_stats st;
    writer_stats_get(w, &st);
    CHECK_INT(st.refused, 2);
    CHECK_INT(st.failed_commits, 0);
    CHECK_INT(writer_healthy(w, NULL), 1);
    writer_free(w);
    CHECK_INT(raw_int("SELECT count(*) FROM impressions"), 1);
    CHECK_INT(raw_int("SELECT count(*) FROM rewards"), 1);
    CHECK_INT(raw_int("SELECT count(*) FROM users WHERE id = 'u1'"), 1);
    pthread_mutex_destroy(&g.mu);
    pthread_cond_destroy(&g.cv);
}

/* ---- check callbacks ------------------------------------------------------------------- */

/* One ud serves both callbacks of a reward: the done's record and the check's findings. */
struct reward_ud {
    struct seen_ud seen; /* first: seen_done reads it through the same pointer */
    int refuse;
    int calls, found;
    int64_t arm_seen;
};

static pb_status check_impression_exists(store *s, struct feedback_reward *r, void *ud, char *err)
{
    struct reward_ud *c = ud;
    struct impressions_info info;
    c->calls++;
    pb_status rc = impressions_get(s, r->impression_id, &info, err);
    if (rc != PB_OK)
        return rc;
    c->found++;
    c->arm_seen = info.arm_id;
    if (c->refuse)
        return pb_errf(err, PB_ERR_FORBIDDEN, "impression %lld is not yours",
                       (long long)r->impression_id);
    r->value = -0.5; /* a check may change the reward */
    return PB_OK;
}

static void test_check_sees_queued_impressions_and_may_refuse(void)
{
    char err[PB_ERR_LEN];
    writer *w = fresh_writer(0);
    struct seen seen = {0};
    struct reward_ud u[3] = {{.seen = {&seen, 0, 'r'}},
                             {.seen = {&seen, 1, 'r'}, .refuse = 1},
                             {.seen = {&seen, 2, 'r'}}};
    int64_t imp = 0;
    struct gate g;
    gate_hold(w, &g);
    struct feedback_impression im = imp_of(NULL);
    CHECK_INT(writer_submit_impression(w, &im, &imp, NULL, NULL, err), PB_OK); /* behind */
    struct feedback_reward r = {.impression_id = imp, .source = "click", .value = 1};
    CHECK_INT(writer_submit_reward(w, &r, check_impression_exists, seen_done, &u[0], err), PB_OK);
    r.source = "edit";
    CHECK_INT(writer_submit_reward(w, &r, check_impression_exists, seen_done, &u[1], err), PB_OK);
    /* an id the writer handed out whose row was never written (as after a crash) */
    struct feedback_reward gone = {.impression_id = imp + 1, .source = "click", .value = 1};
    CHECK_INT(writer_submit_reward(w, &gone, check_impression_exists, seen_done, &u[2], err),
              PB_OK);
    gate_release(&g);
    CHECK_INT(writer_flush(w, err), PB_OK);
    CHECK_INT(seen.n, 3);
    /* the check ran inside the batch and found the impression queued just before */
    CHECK_INT(u[0].calls, 1);
    CHECK_INT(u[0].found, 1);
    CHECK_INT(u[0].arm_seen, arm_id);
    CHECK_INT(seen.rc[0], PB_OK);
    CHECK_INT(seen.stored[0], 1);
    /* refused: its status and message reach done, nothing stored */
    CHECK_INT(seen.rc[1], PB_ERR_FORBIDDEN);
    CHECK(strstr(seen.err[1], "not yours") != NULL);
    CHECK_INT(seen.id[1], 0);
    /* an impression that was never written: a clear not-found */
    CHECK_INT(u[2].found, 0);
    CHECK_INT(seen.rc[2], PB_ERR_NOT_FOUND);
    writer_free(w);
    CHECK_INT(raw_int("SELECT count(*) FROM rewards"), 1);
    CHECK_INT(raw_int("SELECT count(*) FROM rewards WHERE value = -0.5 AND source = 'click'"), 1);
    pthread_mutex_destroy(&g.mu);
    pthread_cond_destroy(&g.cv);
}

/* ---- failures and health -------------------------------------------------------------- */

static void test_a_failed_commit_fails_the_batch_and_health_returns_with_a_commit(void)
{
    char err[PB_ERR_LEN], why[PB_ERR_LEN];
    writer *w = fresh_writer(0);
    struct seen seen = {0};
    struct seen_ud u[3];
    int64_t imp = 0, first = 0;
    struct feedback_impression im = imp_of(NULL);
    CHECK_INT(writer_impression(w, &im, &first, err), PB_OK);
    CHECK_INT(writer_healthy(w, why), 1);
    CHECK_STR(why, "");
    struct gate g;
    gate_hold(w, &g);
    writer_fail_next(w, 1);
    u[0] = (struct seen_ud){&seen, 0, 'i'};
    CHECK_INT(writer_submit_impression(w, &im, &imp, seen_done, &u[0], err), PB_OK);
    struct feedback_reward r = {.impression_id = first, .source = "click", .value = 1};
    u[1] = (struct seen_ud){&seen, 1, 'r'};
    CHECK_INT(writer_submit_reward(w, &r, NULL, seen_done, &u[1], err), PB_OK);
    struct feedback_reward unknown = {.impression_id = 99999999, .source = "click", .value = 1};
    u[2] = (struct seen_ud){&seen, 2, 'r'};
    CHECK_INT(writer_submit_reward(w, &unknown, NULL, seen_done, &u[2], err), PB_OK);
    gate_release(&g);
    /* a flush that rode in the failing batch fails with it; the next one commits */
    if (writer_flush(w, err) != PB_OK)
        CHECK_INT(writer_flush(w, err), PB_OK);
    CHECK_INT(seen.n, 3);
    CHECK_INT(seen.rc[0],
              PB_ERR_UNAVAILABLE); /* every record of the failed batch gets the failure */
    CHECK(strstr(seen.err[0], "injected") != NULL);
    CHECK_INT(seen.id[0], imp); /* an impression's done still names its id */
    CHECK_INT(seen.stored[0], 0);
    CHECK_INT(seen.rc[1], PB_ERR_UNAVAILABLE);
    CHECK_INT(seen.rc[2], PB_ERR_NOT_FOUND); /* its own failure stays its own */
    CHECK_INT(raw_int("SELECT count(*) FROM rewards"), 0);
    CHECK_INT(writer_healthy(w, why), 1); /* the flush's commit succeeded */
    struct writer_stats st;
    writer_stats_get(w, &st);
    CHECK_INT(st.failed_commits, 1);
    CHECK_INT(st.healthy, 1);
    /* unhealthy between a failure and the next commit */
    writer_fail_next(w, 1);
    CHECK_INT(writer_reward(w, &r, NULL, NULL, err), PB_ERR_UNAVAILABLE);
    CHECK_INT(writer_healthy(w, why), 0);
    CHECK(strstr(why, "injected") != NULL);
    CHECK_INT(writer_reward(w, &r, NULL, NULL, err), PB_OK);
    CHECK_INT(writer_healthy(w, why), 1);
    writer_free(w);
    pthread_mutex_destroy(&g.mu);
    pthread_cond_destroy(&g.cv);
}

/* Waits up to ms for writer_healthy to become want. */
static int wait_healthy(writer *w, int want, int ms)
{
    for (int t = 0; t < ms; t += 20) {
        if (writer_healthy(w, NULL) == want)
            return 1;
        sleep_ms(20);
    }
    return writer_healthy(w, NULL) == want;
}

static void test_an_idle_unhealthy_writer_probes_until_a_commit_succeeds(void)
{
    char err[PB_ERR_LEN];
    writer *w = fresh_writer(0);
    struct log_lines log = {.text = ""};
    pthread_mutex_init(&log.mu, NULL);
    writer_set_log(w, log_append, &log);
    writer_fail_next(w, 2); /* the write-behind batch and the first probe */
    struct feedback_impression im = imp_of(NULL);
    int64_t imp = 0;
    CHECK_INT(writer_submit_impression(w, &im, &imp, NULL, NULL, err), PB_OK);
    CHECK(wait_healthy(w, 0, 2000));
    CHECK(log_has(&log, "commits fail"));
    /* no traffic from here on: the probes alone bring health back */
    CHECK(wait_healthy(w, 1, 3 * WRITER_PROBE_MS + 1000));
    CHECK(log_has(&log, "commits succeed again"));
    struct writer_stats st;
    writer_stats_get(w, &st);
    CHECK_INT(st.failed_commits, 2);
    CHECK_INT(st.write_behind, 1);
    CHECK_INT(raw_int("SELECT count(*) FROM impressions"), 0); /* written behind, then lost */
    writer_set_log(w, NULL, NULL);
    writer_free(w);
    pthread_mutex_destroy(&log.mu);
}

/* ---- ids ------------------------------------------------------------------------------ */

static void test_impression_ids_are_never_handed_out_twice(void)
{
    char err[PB_ERR_LEN];
    writer *w = fresh_writer(0);
    store *other = open_store(), *s2 = open_store();
    writer *w2 = NULL;
    int64_t a = 0, b = 0, lost = 0, direct = 0, inactive = 0, later = 0, first = 0;
    struct feedback_impression im = imp_of(NULL);
    CHECK_INT(writer_impression(w, &im, &a, err), PB_OK);
    /* a second writer (another process, say) on the same file gets other ids */
    CHECK_INT(writer_new(s2, 0, &w2, err), PB_OK);
    CHECK_INT(writer_impression(w2, &im, &b, err), PB_OK);
    CHECK(b != a);
    writer_free(w2);
    /* so does a direct insert; an explicit id already taken is a conflict */
    CHECK_INT(feedback_insert_impression(other, &im, &direct, err), PB_OK);
    CHECK(direct != a && direct != b);
    struct feedback_impression taken = im;
    taken.id = a;
    CHECK_INT(feedback_insert_impression(other, &taken, &first, err), PB_ERR_CONFLICT);
    /* an id handed out whose row never reached the disk (as in a crash)... */
    writer_fail_next(w, 1);
    CHECK_INT(writer_submit_impression(w, &im, &lost, NULL, NULL, err), PB_OK);
    if (writer_flush(w, err) != PB_OK) /* it rode in the failing batch */
        CHECK_INT(writer_flush(w, err), PB_OK);
    writer_free(w);
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM impressions WHERE id = %lld", (long long)lost);
    CHECK_INT(raw_int(sql), 0);
    /* ...and the id of a deleted row are not handed out again, after a restart either */
    struct feedback_impression hidden = im;
    hidden.activated = 0;
    CHECK_INT(feedback_insert_impression(other, &hidden, &inactive, err), PB_OK);
    CHECK_INT(impressions_discard(other, inactive, err), PB_OK);
    CHECK(inactive > lost);
    store *ws = open_store();
    CHECK_INT(writer_new(ws, 0, &w, err), PB_OK);
    CHECK_INT(writer_impression(w, &im, &later, err), PB_OK);
    CHECK(later > inactive);
    writer_free(w);
    store_close(other);
}

static void test_ids_given_back_at_free_continue_the_sequence(void)
{
    char err[PB_ERR_LEN];
    writer *w = fresh_writer(0);
    int64_t a = 0, b = 0;
    struct feedback_impression im = imp_of(NULL);
    CHECK_INT(writer_impression(w, &im, &a, err), PB_OK);
    writer_free(w);
    store *ws = open_store();
    CHECK_INT(writer_new(ws, 0, &w, err), PB_OK);
    CHECK_INT(writer_impression(w, &im, &b, err), PB_OK);
    CHECK_INT(b, a + 1); /* a clean stop returned the unused block */
    writer_free(w);
}

static void test_more_write_behind_impressions_than_two_id_blocks(void)
{
    char err[PB_ERR_LEN];
    writer *w = fresh_writer(0);
    enum { N = 20000 };
    int64_t prev = 0, min = INT64_MAX, max = 0;
    long long sum = 0;
    int ordered = 1;
    struct feedback_impression im = imp_of(NULL);
    for (int i = 0; i < N; i++) {
        int64_t id = 0;
        if (writer_submit_impression(w, &im, &id, NULL, NULL, err) != PB_OK) {
            fprintf(stderr, "submit %d: %s\n", i, err);
            CHECK(0);
            break;
        }
        ordered &= id > prev;
        prev = id;
        min = id < min ? id : min;
        max = id > max ? id : max;
        sum += id;
    }
    CHECK_INT(writer_flush(w, err), PB_OK);
    CHECK(ordered);
    CHECK_INT(raw_int("SELECT count(*) FROM impressions"), N);
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT sum(id) FROM impressions WHERE id BETWEEN %lld AND %lld",
             (long long)min, (long long)max);
    CHECK_INT(raw_int(sql), sum); /* the rows carry exactly the ids handed out */
    struct writer_stats st;
    writer_stats_get(w, &st);
    CHECK_INT(st.write_behind, N);
    CHECK(st.batches < N);
    writer_free(w);
}

static void test_the_queue_has_a_limit(void)
{
    char err[PB_ERR_LEN];
    writer *w = fresh_writer(0);
    struct gate g;
    gate_hold(w, &g);
    int accepted = 0;
    for (int i = 0; i < WRITER_QUEUE_MAX; i++)
        accepted += writer_submit_barrier(w, NULL, NULL, err) == PB_OK;
    CHECK_INT(accepted, WRITER_QUEUE_MAX); /* the held barrier is settled already */
    struct feedback_reward r = {.impression_id = 1, .source = "click", .value = 1};
    CHECK_INT(writer_submit_reward(w, &r, NULL, NULL, NULL, err), PB_ERR_LIMIT);
    CHECK(strstr(err, "behind") != NULL);
    struct writer_stats st;
    writer_stats_get(w, &st);
    CHECK_INT(st.queue_full, 1);
    CHECK_INT(st.queued, WRITER_QUEUE_MAX);
    gate_release(&g);
    pb_status rc;
    while ((rc = writer_flush(w, err)) == PB_ERR_LIMIT) /* until the queue has room again */
        sleep_ms(5);
    CHECK_INT(rc, PB_OK);
    writer_free(w);
    pthread_mutex_destroy(&g.mu);
    pthread_cond_destroy(&g.cv);
}

static void test_free_commits_everything_queued(void)
{
    char err[PB_ERR_LEN];
    writer *w = fresh_writer(4);
    struct seen seen = {0};
    struct seen_ud u[20];
    struct gate g;
    gate_hold(w, &g);
    for (int i = 0; i < 20; i++) {
        struct feedback_impression im = imp_of(NULL);
        u[i] = (struct seen_ud){&seen, i, 'i'};
        CHECK_INT(writer_submit_impression(w, &im, NULL, seen_done, &u[i], err), PB_OK);
    }
    gate_release(&g);
    writer_free(w); /* batches of 4 until the queue is empty */
    CHECK_INT(seen.n, 20);
    int ok = 0;
    for (int i = 0; i < seen.n; i++)
        ok += seen.rc[i] == PB_OK && seen.tag[i] == i;
    CHECK_INT(ok, 20);
    CHECK_INT(raw_int("SELECT count(*) FROM impressions"), 20);
    pthread_mutex_destroy(&g.mu);
    pthread_cond_destroy(&g.cv);
}

int main(void)
{
    RUN(test_done_runs_after_the_commit_in_submit_order);
    RUN(test_a_bad_record_fails_alone_in_its_batch);
    RUN(test_check_sees_queued_impressions_and_may_refuse);
    RUN(test_a_failed_commit_fails_the_batch_and_health_returns_with_a_commit);
    RUN(test_an_idle_unhealthy_writer_probes_until_a_commit_succeeds);
    RUN(test_impression_ids_are_never_handed_out_twice);
    RUN(test_ids_given_back_at_free_continue_the_sequence);
    RUN(test_more_write_behind_impressions_than_two_id_blocks);
    RUN(test_the_queue_has_a_limit);
    RUN(test_free_commits_everything_queued);
    RUN(test_a_user_erased_mid_batch_is_created_again);
    CHECK_DONE();
}
