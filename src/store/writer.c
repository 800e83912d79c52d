/* writer.c — the group-commit thread: a FIFO of submitted records, one transaction per batch
 * with a savepoint per record, done callbacks after the commit, impression ids from durably
 * reserved blocks, the health flag, and WAL checkpoints for erasure.
 *
 * THE PROTOCOL
 *
 * Why a writer. SQLite serialises writers, and with synchronous=FULL every commit is an fsync
 * of the WAL (milliseconds on real disks). Committing each request on its own would cap the
 * service at one request per fsync. Instead every write goes through one thread that owns one
 * handle: callers append records to a queue and return; the thread takes up to max_batch
 * records at a time, writes them in one transaction and commits once, so one fsync
 * acknowledges the whole batch. While it commits, new records queue up and form the next
 * batch: under load the batch grows to whatever arrived during one fsync, which is exactly
 * what keeps the cost per record falling as the load rises.
 *
 * Order. The queue is FIFO and a batch is written in submit order, so a record sees in the
 * database every record submitted before it, whether that one was committed in an earlier
 * batch or is about to be committed with it. A reward submitted after its impression (the
 * only order in which a client can know the impression's id) therefore always finds it, and a
 * committed reward always has its impression: both are in the same transaction or the
 * impression's committed first. An erasure is a record too, so an impression of that user
 * still queued is written before the erasure and erased by it, never after it.
 *
 * One record fails alone. Each record runs inside a savepoint. A record that fails for its
 * own reasons (unknown impression, the source already rewarded, a check callback refusing
 * it) is rolled back to its savepoint and gets its error; the rest of the batch commits. A
 * failure of the storage itself (disk full, I/O error, a lock held too long: store_error_is_
 * storage), or SQLite having rolled back the transaction, fails the whole batch: it is rolled
 * back and every record in it gets PB_ERR_UNAVAILABLE (a storage failure passes: try later)
 * with the reason. Nothing is retried: the caller decides (a client gets 503 and retries with
 * its event id; tests/e2e_store_faults.c runs the service on a failing disk).
 *
 * Checked once per batch. A run of impressions of the same arm and user (what write-behind
 * choices look like under load) checks the arm and ensures the user row once per transaction
 * (struct feedback_memo), not once per row: nothing else writes while the transaction is open.
 * A record that fails, an erasure and a caller's own write (writer_submit_call) forget the
 * memo, since each may undo what it remembers.
 *
 * Callbacks. Each record's done runs on the writer thread after its batch committed or
 * failed, in submit order, with no lock held (so a callback may submit more records, and
 * the service resumes the waiting connection from there: one fsync answers every request of
 * the batch). A callback must not block: it would stall every later commit. The blocking
 * forms (writer_impression, writer_reward, ...) are a done that signals a waiting thread.
 * An erasure's done comes after the checkpoint attempt that follows its commit (below), after
 * the other records of its batch.
 *
 * Write-behind. An impression submitted without done is written behind: the caller tells
 * its client the id at once and never learns of the commit. A crash before the commit loses
 * it; feedback on it later finds no impression and is refused (PB_ERR_NOT_FOUND, from the
 * reward's foreign key or the service's check), never attached to something else — because
 * of how ids are made.
 *
 * Ids. An impression's id is allocated at submit, before its row exists, so it must never be
 * handed out twice: not after a crash lost the rows of the last batches (the largest stored id
 * is then smaller than ids clients already hold), not by a second process on the same file.
 * So ids come from blocks reserved in the table id_blocks (db/004): a reservation is a
 * committed write that moves the table's `next` past the block (and past every stored
 * impression), so no one else, now or after a restart, gets those ids. The writer holds the
 * block it hands out from and a spare: when the first runs out it switches to the spare and
 * reserves a new spare inside its next transaction (or in a transaction of its own when idle).
 * Ids in a block are only handed out once the reservation has committed. A submit that finds
 * both blocks empty (more than WRITER_ID_BLOCK impressions during one commit) waits for the
 * refill; when commits fail it is refused instead. At writer_free the unused tail of the newest
 * block is given back when nobody reserved after it; otherwise those ids are simply skipped.
 * Every other inserter (feedback_insert_impression) reserves from the same table.
 *
 * Health. A batch whose transaction fails as a whole marks the writer unhealthy with the
 * reason until a later commit succeeds (writer_healthy). The service refuses new write-behind
 * impressions meanwhile (answering 200 over a log that is not being written would lie). With
 * no traffic nothing would ever commit again, so an unhealthy idle writer probes every
 * WRITER_PROBE_MS with a tiny write (it touches id_blocks, refilling the spare block when it
 * is empty) and becomes healthy as soon as one commits. writer_fail_next makes the next
 * commits fail on purpose, for tests.
 *
 * Erasure on disk. Every handle runs with secure_delete, so erased rows are overwritten in
 * the pages that held them; but in WAL mode those pages first go to the WAL, and the older
 * page images with the user's text stay in the WAL, and in the database file, until a
 * checkpoint copies the new pages back and truncates the WAL. After the commit of a batch
 * holding an erasure, the writer runs wal_checkpoint(TRUNCATE), waiting up to
 * WRITER_CHECKPOINT_WAIT_MS for readers. A reader on another handle still reading an older
 * snapshot makes it impossible; then the erasure is reported not yet purged and the writer
 * retries every WRITER_CHECKPOINT_RETRY_MS until a checkpoint completes, and logs that it did.
 * A due retry comes before the next batch, so steady traffic cannot starve it, and waits only
 * WRITER_CHECKPOINT_RETRY_WAIT_MS for readers, so it delays that batch by little.
 * writer_request_checkpoint asks for the same without an erasure.
 *
 * Locks. One mutex guards the queue, the id blocks, the health flag, the checkpoint state and
 * the statistics; it is never held while SQL runs or a callback is called. The writer thread
 * waits on `work` (timed when a probe or checkpoint retry is due); submitters short of ids
 * wait on `ids`. */
#include "store/writer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum op_kind { OP_IMPRESSION, OP_REWARD, OP_ERASE, OP_BARRIER, OP_CALL };

/* One submitted record with its own copy of every string (in text[]). */
struct op {
    enum op_kind kind;
    struct feedback_impression imp;
    struct feedback_reward reward; /* what check sees and may change */
    const char *user_id;           /* OP_ERASE */
    struct writer_erase_result erase, *erase_out;
    writer_check_fn *check;
    writer_call_fn *call; /* OP_CALL, with call_ud */
    void *call_ud;
    writer_done_fn *done;
    void *ud;
    int64_t id;
    int duplicate;
    pb_status rc;
    char err[PB_ERR_LEN];
    int urgent;       /* someone waits for it (a done callback, or not a write-behind impression) */
    double queued_at; /* pb_now_monotonic() at submit */
    struct op *next;
    char text[];
};

struct writer {
    store *s;
    size_t max_batch;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work, ids;
    struct op *head, *tail;
    size_t urgent; /* queued ops that someone waits for: they end a linger at once */
    int stopping;
    int64_t id_next, id_end;        /* the block ids are handed out from */
    int64_t spare_first, spare_end; /* the next block, committed; empty when equal */
    int healthy, fail_next;
    char why[PB_ERR_LEN];
    double next_probe;
    int checkpoint_pending, checkpoint_misses; /* misses: attempts since it became pending */
    double next_checkpoint;
    void (*log)(const char *msg, void *ud);
    void *log_ud;
    struct writer_stats stats;
};

static void *writer_main(void *arg);

/* ---- messages nobody waits for ---------------------------------------------------------- */

static void writer_log(writer *w, const char *fmt, const char *detail)
{
    pthread_mutex_lock(&w->mu);
    void (*fn)(const char *, void *) = w->log;
    void *ud = w->log_ud;
    pthread_mutex_unlock(&w->mu);
    if (!fn)
        return;
    char msg[PB_ERR_LEN + 128];
    snprintf(msg, sizeof msg, fmt, detail);
    fn(msg, ud);
}

void writer_set_log(writer *w, void (*fn)(const char *msg, void *ud), void *ud)
{
    pthread_mutex_lock(&w->mu);
    w->log = fn;
    w->log_ud = ud;
    pthread_mutex_unlock(&w->mu);
}

/* ---- life cycle ------------------------------------------------------------------------- */

pb_status writer_new(store *s, size_t max_batch, writer **out, char *err)
{
    int64_t first = 0;
    pb_status rc = feedback_reserve_impression_ids(s, 2 * WRITER_ID_BLOCK, &first, err);
    if (rc != PB_OK)
        return rc;
    writer *w = calloc(1, sizeof *w);
    if (!w)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory creating the writer");
    w->s = s;
    w->max_batch = max_batch ? max_batch : 512;
    w->id_next = first;
    w->id_end = w->spare_first = first + WRITER_ID_BLOCK;
    w->spare_end = first + 2 * WRITER_ID_BLOCK;
    w->healthy = w->stats.healthy = 1;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work, &attr);
    pthread_cond_init(&w->ids, NULL);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        pthread_cond_destroy(&w->work);
        pthread_cond_destroy(&w->ids);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return pb_errf(err, PB_ERR_NOMEM, "cannot start the writer thread");
    }
    *out = w;
    return PB_OK;
}

void writer_free(writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_signal(&w->work);
    pthread_cond_broadcast(&w->ids);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->ids);
    pthread_mutex_destroy(&w->mu);
    store_close(w->s);
    free(w);
}

/* ---- commits and health ----------------------------------------------------------------- */

/* Commits the open transaction, or rolls it back and fails as writer_fail_next asked. */
static pb_status commit(writer *w, char *err)
{
    pthread_mutex_lock(&w->mu);
    int inject = w->fail_next > 0;
    w->fail_next -= inject;
    pthread_mutex_unlock(&w->mu);
    if (!inject)
        return store_commit(w->s, err);
    store_rollback(w->s);
    return pb_errf(err, PB_ERR_DB, "committing: injected failure (writer_fail_next)");
}

/* Records the outcome of a transaction: health, its reason, and the spare id block it
 * reserved (spare_first 0: none). Logs a change of health. */
static void note_commit(writer *w, pb_status rc, const char *why, int64_t spare_first)
{
    pthread_mutex_lock(&w->mu);
    int was = w->healthy;
    if (rc == PB_OK) {
        w->healthy = 1;
        w->why[0] = '\0';
        if (spare_first) {
            w->spare_first = spare_first;
            w->spare_end = spare_first + WRITER_ID_BLOCK;
        }
    } else {
        w->healthy = 0;
        snprintf(w->why, sizeof w->why, "%s", why);
        w->stats.failed_commits++;
        w->next_probe = pb_now_monotonic() + WRITER_PROBE_MS / 1000.0;
    }
    w->stats.healthy = w->healthy;
    pthread_cond_broadcast(&w->ids); /* ids came, or waiting for them is hopeless */
    pthread_mutex_unlock(&w->mu);
    if (was && rc != PB_OK)
        writer_log(w, "writer: commits fail, nothing is being stored: %s", why);
    else if (!was && rc == PB_OK)
        writer_log(w, "writer: commits succeed again%s", "");
}

/* A small write transaction that reserves the spare id block (or nothing) and commits: the
 * refill when idle, and the probe of an unhealthy writer. */
static void probe(writer *w, int reserve)
{
    char err[PB_ERR_LEN];
    int64_t first = 0;
    pb_status rc = store_begin(w->s, err);
    if (rc == PB_OK)
        rc = feedback_reserve_impression_ids(w->s, reserve ? WRITER_ID_BLOCK : 0, &first, err);
    if (rc == PB_OK)
        rc = commit(w, err);
    else
        store_rollback(w->s);
    note_commit(w, rc, err, reserve && rc == PB_OK ? first : 0);
}

/* ---- checkpoints ------------------------------------------------------------------------ */

/* One wal_checkpoint(TRUNCATE) attempt waiting up to wait_ms for readers; returns 1 when it
 * completed. */
static int try_checkpoint(writer *w, int wait_ms)
{
    char err[PB_ERR_LEN] = "";
    bool complete = false;
    pb_status rc = store_checkpoint(w->s, wait_ms, &complete, err);
    pthread_mutex_lock(&w->mu);
    int was_pending = w->checkpoint_pending, misses = w->checkpoint_misses;
    if (complete) {
        w->checkpoint_pending = w->checkpoint_misses = 0;
        w->stats.checkpoints++;
    } else {
        w->checkpoint_pending = 1;
        w->checkpoint_misses++;
        w->next_checkpoint = pb_now_monotonic() + WRITER_CHECKPOINT_RETRY_MS / 1000.0;
        w->stats.checkpoint_retries++;
    }
    w->stats.checkpoint_pending = w->checkpoint_pending;
    pthread_mutex_unlock(&w->mu);
    char detail[64];
    if (complete && was_pending) {
        snprintf(detail, sizeof detail, "%d", misses);
        writer_log(w,
                   "writer: checkpoint completed: erased data is gone from the database and its "
                   "WAL (%s attempts found readers in the way before)",
                   detail);
    } else if (!complete && !was_pending) {
        writer_log(w,
                   "writer: checkpoint pending: %s; retrying in the background until it "
                   "completes",
                   rc != PB_OK ? err : "another connection still reads an older snapshot");
    }
    return complete;
}

void writer_request_checkpoint(writer *w)
{
    pthread_mutex_lock(&w->mu);
    if (!w->checkpoint_pending) {
        w->checkpoint_pending = w->stats.checkpoint_pending = 1;
        w->next_checkpoint = 0;
    }
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
}

/* ---- batches ---------------------------------------------------------------------------- */

/* Writes one record inside its savepoint's scope; err is the op's. */
static pb_status run_op(writer *w, struct op *o, struct feedback_memo *memo)
{
    pb_status rc = PB_OK;
    switch (o->kind) {
    case OP_IMPRESSION:
        return feedback_insert_impression_memo_tx(w->s, &o->imp, memo, &o->id, o->err);
    case OP_REWARD:
        if (o->check)
            rc = o->check(w->s, &o->reward, o->ud, o->err);
        if (rc == PB_OK)
            rc = feedback_insert_reward_tx(w->s, &o->reward, &o->id, &o->duplicate, o->err);
        if (rc != PB_OK)
            o->id = 0;
        return rc;
    case OP_ERASE:
        return feedback_erase_user_tx(w->s, o->user_id, &o->erase.counts, o->err);
    case OP_CALL:
        return o->call(w->s, o->call_ud, &o->id, o->err);
    case OP_BARRIER:
        break;
    }
    return rc;
}

/* True when a record's failure is the storage's, not the record's: the batch cannot commit. */
static int storage_failure(writer *w, pb_status rc)
{
    return rc == PB_ERR_NOMEM ||
           (rc == PB_ERR_DB && (store_error_is_storage(w->s) || !store_in_transaction(w->s)));
}

static int run_batch_once(writer *w, struct op **ops, size_t n, int reserve, int may_retry,
                          int savepoints);

static int compare_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* PostgreSQL: stores the batch's users that may be new before its transaction, each by itself
 * and in sorted order. Inside the transaction, a new user's row stays locked until the commit,
 * and two replicas' batches that meet the same new users in opposite orders deadlock (the
 * server breaks it after a second by failing one). A user that exists costs no lock. A
 * failure here is left to the record's own insert in the batch. */
static void ensure_users_first(writer *w, struct op **ops, size_t n)
{
    const char *stack[64], **ids = n <= 64 ? stack : malloc(n * sizeof *ids);
    size_t k = 0;
    char ignored[PB_ERR_LEN];
    if (!ids)
        return;
    for (size_t i = 0; i < n; i++)
        if (ops[i]->kind == OP_IMPRESSION && ops[i]->imp.user_id)
            ids[k++] = ops[i]->imp.user_id;
    qsort(ids, k, sizeof *ids, compare_str);
    for (size_t i = 0; i < k; i++)
        if (i == 0 || strcmp(ids[i], ids[i - 1]) != 0)
            feedback_ensure_user(w->s, ids[i], ignored);
    if (ids != stack)
        free(ids);
}

/* Forgets what a rolled-back attempt set in the ops, for the next attempt. */
static void reset_ops(struct op **ops, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct op *o = ops[i];
        o->rc = PB_OK;
        if (o->kind == OP_REWARD)
            o->id = 0;
        o->duplicate = 0;
        o->erase = (struct writer_erase_result){0};
    }
}

/* Writes ops[0..n) in one transaction (reserving a spare id block in it when asked) and
 * commits; sets every op's rc and err. Returns 1 when the transaction committed. A batch that
 * PostgreSQL fails as a deadlock or a serialization failure (nothing of it stored) runs again,
 * at most WRITER_RETRIES more times, before it counts as a failed commit.
 *
 * Each record runs in a savepoint so that a bad one fails alone. On PostgreSQL a savepoint and
 * its release are two more round trips to the server per record, most of a record's cost, and
 * records almost never fail: the batch first runs without them, and only when a record fails
 * is it rolled back and run again with them (counted in savepoint_reruns; a reward refused
 * without writing needs no rerun). A check may therefore run twice for a record. */
static int run_batch(writer *w, struct op **ops, size_t n, int reserve)
{
    int savepoints = 1;
    if (store_is_pg(w->s)) {
        ensure_users_first(w, ops, n);
        savepoints = n == 1;
    }
    for (int attempt = 0;; attempt++) {
        int committed = run_batch_once(w, ops, n, reserve, attempt < WRITER_RETRIES, savepoints);
        if (committed >= 0)
            return committed;
        pthread_mutex_lock(&w->mu);
        if (committed == -2)
            w->stats.savepoint_reruns++;
        else
            w->stats.retried_batches++;
        pthread_mutex_unlock(&w->mu);
        if (committed == -2) {
            savepoints = 1;
            attempt--; /* not a retry of a failure of the database's */
        }
        reset_ops(ops, n);
    }
}

/* One attempt of run_batch. Returns 1 committed, 0 failed (ops answered), -1 when it failed
 * transiently and may_retry: nothing was stored and the ops are reset for another try, or -2
 * when a record failed in a batch run without savepoints (rolled back; run it with them). */
static int run_batch_once(writer *w, struct op **ops, size_t n, int reserve, int may_retry,
                          int savepoints)
{
    char why[PB_ERR_LEN];
    int64_t first = 0;
    struct feedback_memo memo = {0}; /* checks already made in this transaction */
    pb_status rc = store_begin(w->s, why);
    if (rc == PB_OK && reserve)
        rc = feedback_reserve_impression_ids(w->s, WRITER_ID_BLOCK, &first, why);
    for (size_t i = 0; rc == PB_OK && i < n; i++) {
        struct op *o = ops[i];
        pb_status one = savepoints ? store_savepoint(w->s, o->err) : PB_OK;
        if (one == PB_OK)
            one = run_op(w, o, &memo);
        /* Without a savepoint a failed record must be undone with the batch, unless it wrote
         * nothing and the transaction goes on: a reward refused by its check or by its
         * unique conflict (one statement that did not fail). */
        if (one != PB_OK && !savepoints &&
            (o->kind != OP_REWARD || store_transaction_aborted(w->s))) {
            store_rollback(w->s);
            return -2;
        }
        if (one != PB_OK || o->kind == OP_ERASE || o->kind == OP_CALL)
            memo = (struct feedback_memo){0}; /* rolled back, or a write that may undo it */
        if (one != PB_OK && storage_failure(w, one)) {
            rc = pb_errf(why, PB_ERR_DB, "%s", o->err);
            break;
        }
        if (savepoints)
            store_savepoint_end(w->s, one);
        o->rc = one;
    }
    if (rc == PB_OK)
        rc = commit(w, why);
    else
        store_rollback(w->s);
    if (rc != PB_OK && may_retry && store_error_is_transient(w->s))
        return -1;
    note_commit(w, rc, why, first);
    if (rc == PB_OK)
        return 1;
    for (size_t i = 0; i < n; i++) {
        struct op *o = ops[i];
        if (o->rc == PB_OK) {
            o->rc = PB_ERR_UNAVAILABLE;
            pb_errf(o->err, PB_ERR_UNAVAILABLE,
                    "not stored: the database is not taking writes (retry later): %s", why);
        }
        if (o->kind == OP_REWARD)
            o->id = 0;
        o->duplicate = 0;
        o->erase = (struct writer_erase_result){0};
    }
    return 0;
}

static void call_done(struct op *o)
{
    if (o->kind == OP_ERASE && o->erase_out)
        *o->erase_out = o->erase;
    if (o->done)
        o->done(o->rc, o->id, o->duplicate, o->rc == PB_OK ? "" : o->err, o->ud);
}

static size_t bucket_of(size_t n)
{
    size_t b = 0;
    while (b + 1 < WRITER_BATCH_BUCKETS && ((size_t)1 << b) < n)
        b++;
    return b;
}

/* Writes a batch taken off the queue, then calls back: erasures after a checkpoint attempt. */
static void settle_batch(writer *w, struct op *list, size_t n, int reserve)
{
    struct op *stack[64], **ops = n <= 64 ? stack : malloc(n * sizeof *ops);
    size_t i = 0, refused = 0;
    int erase = 0;
    if (!ops) { /* settle them one at a time rather than not at all */
        for (struct op *o = list, *next; o; o = next) {
            next = o->next;
            o->next = NULL;
            settle_batch(w, o, 1, reserve);
            reserve = 0;
        }
        return;
    }
    for (struct op *o = list; o; o = o->next)
        ops[i++] = o;
    for (i = 0; i < n; i++)
        ops[i]->rc = PB_OK;
    int committed = run_batch(w, ops, n, reserve);
    for (i = 0; i < n; i++)
        refused += committed && ops[i]->rc != PB_OK;
    pthread_mutex_lock(&w->mu);
    w->stats.records += n;
    w->stats.batches++;
    w->stats.refused += refused;
    w->stats.queued -= n;
    w->stats.last_batch = n;
    if (n > w->stats.largest_batch)
        w->stats.largest_batch = n;
    w->stats.batch_sizes[bucket_of(n)]++;
    pthread_mutex_unlock(&w->mu);
    for (i = 0; i < n; i++) {
        if (ops[i]->kind == OP_ERASE && ops[i]->rc == PB_OK)
            erase = 1;
        else
            call_done(ops[i]);
    }
    if (erase) {
        int purged = try_checkpoint(w, WRITER_CHECKPOINT_WAIT_MS);
        for (i = 0; i < n; i++) {
            if (ops[i]->kind == OP_ERASE && ops[i]->rc == PB_OK) {
                ops[i]->erase.purged = purged;
                call_done(ops[i]);
            }
        }
    }
    for (i = 0; i < n; i++)
        free(ops[i]);
    if (ops != stack)
        free(ops);
}

/* ---- the thread ------------------------------------------------------------------------- */

/* Waits on work until signalled or until the monotonic time `until` (0: no limit). */
static void wait_work(writer *w, double until)
{
    if (until <= 0) {
        pthread_cond_wait(&w->work, &w->mu);
        return;
    }
    struct timespec ts;
    ts.tv_sec = (time_t)until;
    ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
    pthread_cond_timedwait(&w->work, &w->mu, &ts);
}

/* After the queue is drained at writer_free: a last checkpoint attempt, ids given back. */
static void writer_finish(writer *w)
{
    char err[PB_ERR_LEN];
    pthread_mutex_lock(&w->mu);
    int healthy = w->healthy, pending = w->checkpoint_pending;
    /* The newest reservation is the spare when there is one, else the current block. */
    int64_t first = w->id_next, end = w->id_end;
    if (w->spare_first != w->spare_end) {
        end = w->spare_end;
        if (w->spare_first != w->id_end)
            first = w->spare_first;
    }
    pthread_mutex_unlock(&w->mu);
    if (healthy && pending)
        try_checkpoint(w, WRITER_CHECKPOINT_WAIT_MS);
    if (healthy)
        feedback_return_impression_ids(w->s, first, end, NULL, err);
}

static void *writer_main(void *arg)
{
    writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        double now = pb_now_monotonic();
        /* A due retry goes first, so that steady traffic cannot starve it; it waits only
         * briefly for readers, so it delays the next batch by little. */
        if (w->checkpoint_pending && !w->stopping && now >= w->next_checkpoint) {
            pthread_mutex_unlock(&w->mu);
            try_checkpoint(w, WRITER_CHECKPOINT_RETRY_WAIT_MS);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        /* Write-behind impressions alone wait up to WRITER_BEHIND_MS for company: nobody waits
         * for them, and one fsync for many saves the cores the HTTP threads need. Anything
         * someone waits for, a full batch or a stop ends the wait at once. */
        if (w->head && !w->urgent && !w->stopping && w->stats.queued < w->max_batch &&
            now < w->head->queued_at + WRITER_BEHIND_MS / 1000.0) {
            wait_work(w, w->head->queued_at + WRITER_BEHIND_MS / 1000.0);
            continue;
        }
        if (w->head) {
            /* Take up to max_batch ops off the queue; callers keep queueing meanwhile. */
            struct op *list = w->head, *last = w->head;
            size_t n = 1;
            w->urgent -= (size_t)last->urgent;
            while (last->next && n < w->max_batch) {
                last = last->next;
                w->urgent -= (size_t)last->urgent;
                n++;
            }
            w->head = last->next;
            if (!w->head)
                w->tail = NULL;
            last->next = NULL;
            int reserve = w->spare_first == w->spare_end && w->healthy;
            pthread_mutex_unlock(&w->mu);
            settle_batch(w, list, n, reserve);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        int refill = w->spare_first == w->spare_end && w->healthy && !w->stopping;
        int due_probe = !w->healthy && !w->stopping && now >= w->next_probe;
        if (refill || due_probe) {
            pthread_mutex_unlock(&w->mu);
            probe(w, w->spare_first == w->spare_end);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        if (w->stopping)
            break;
        double until = 0;
        if (!w->healthy)
            until = w->next_probe;
        if (w->checkpoint_pending && (until == 0 || w->next_checkpoint < until))
            until = w->next_checkpoint;
        wait_work(w, until);
    }
    pthread_mutex_unlock(&w->mu);
    writer_finish(w);
    return NULL;
}

/* ---- submitting ------------------------------------------------------------------------- */

/* Bytes to copy s (with its NUL), 0 for NULL. */
static size_t text_size(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

/* Copies s into *at and advances it; NULL stays NULL. */
static const char *text_copy(char **at, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    memcpy(*at, s, n);
    const char *copy = *at;
    *at += n;
    return copy;
}

static struct op *op_new(enum op_kind kind, size_t text, writer_done_fn *done, void *ud, char *err)
{
    struct op *o = calloc(1, sizeof *o + text);
    if (!o) {
        pb_errf(err, PB_ERR_NOMEM, "out of memory queueing a record");
        return NULL;
    }
    o->kind = kind;
    o->done = done;
    o->ud = ud;
    return o;
}

/* Under the lock: the next impression id, switching to the spare block or waiting for the
 * writer to reserve one when the current block is used up. */
static pb_status take_id(writer *w, int64_t *id, char *err)
{
    while (w->id_next == w->id_end) {
        if (w->spare_first != w->spare_end) {
            w->id_next = w->spare_first;
            w->id_end = w->spare_end;
            w->spare_first = w->spare_end = 0;
            pthread_cond_signal(&w->work); /* reserve the next spare */
            break;
        }
        if (w->stopping)
            return pb_errf(err, PB_ERR_UNAVAILABLE, "the service is shutting down; retry");
        if (!w->healthy)
            return pb_errf(err, PB_ERR_UNAVAILABLE,
                           "no impression id left to hand out: the database takes no writes "
                           "(%s)",
                           w->why);
        if (pthread_equal(pthread_self(), w->thread)) /* a done callback: it would wait on itself */
            return pb_errf(err, PB_ERR_LIMIT,
                           "no impression id left until the writer's next commit; retry");
        pthread_cond_signal(&w->work);
        pthread_cond_wait(&w->ids, &w->mu);
    }
    *id = w->id_next++;
    return PB_OK;
}

/* Appends o to the queue (an impression gets its id first; *id may be NULL). Takes o: it is
 * freed when refused. */
static pb_status enqueue(writer *w, struct op *o, int64_t *id, char *err)
{
    pb_status rc = PB_OK;
    pthread_mutex_lock(&w->mu);
    if (w->stopping)
        rc = pb_errf(err, PB_ERR_UNAVAILABLE, "the service is shutting down; retry");
    else if (w->stats.queued >= WRITER_QUEUE_MAX) {
        w->stats.queue_full++;
        rc = pb_errf(err, PB_ERR_LIMIT,
                     "the writer is %d records behind (the disk is slow or failing); retry",
                     WRITER_QUEUE_MAX);
    } else if (o->kind == OP_IMPRESSION) {
        rc = take_id(w, &o->imp.id, err);
        o->id = o->imp.id;
    }
    if (rc == PB_OK) {
        int was_empty = !w->head;
        o->urgent = !(o->kind == OP_IMPRESSION && !o->done);
        o->queued_at = pb_now_monotonic();
        if (w->tail)
            w->tail->next = o;
        else
            w->head = o;
        w->tail = o;
        w->stats.queued++;
        w->urgent += (size_t)o->urgent;
        w->stats.write_behind += !o->urgent;
        /* A write-behind record wakes the writer only to start its linger, or to end it when the
         * batch is full (writer_main). */
        if (o->urgent || was_empty || w->stats.queued >= w->max_batch)
            pthread_cond_signal(&w->work);
        if (id)
            *id = o->id;
    }
    pthread_mutex_unlock(&w->mu);
    if (rc != PB_OK)
        free(o);
    return rc;
}

pb_status writer_submit_impression(writer *w, const struct feedback_impression *imp, int64_t *id,
                                   writer_done_fn *done, void *ud, char *err)
{
    pb_status rc = feedback_impression_check(imp, err);
    if (rc == PB_OK && imp->id != 0)
        rc = pb_errf(err, PB_ERR_INVALID, "the writer allocates impression ids: leave id 0");
    if (rc != PB_OK)
        return rc;
    size_t text = text_size(imp->user_id) + text_size(imp->conversation_id) +
                  text_size(imp->segment) + text_size(imp->context_json);
    struct op *o = op_new(OP_IMPRESSION, text, done, ud, err);
    if (!o)
        return PB_ERR_NOMEM;
    char *at = o->text;
    o->imp = *imp;
    o->imp.user_id = text_copy(&at, imp->user_id);
    o->imp.conversation_id = text_copy(&at, imp->conversation_id);
    o->imp.segment = text_copy(&at, imp->segment);
    o->imp.context_json = text_copy(&at, imp->context_json);
    return enqueue(w, o, id, err);
}

pb_status writer_submit_reward(writer *w, const struct feedback_reward *r, writer_check_fn *check,
                               writer_done_fn *done, void *ud, char *err)
{
    pb_status rc = feedback_reward_check(r, err);
    if (rc != PB_OK)
        return rc;
    size_t text = text_size(r->source) + text_size(r->event_id) + text_size(r->detail_json) +
                  text_size(r->origin);
    struct op *o = op_new(OP_REWARD, text, done, ud, err);
    if (!o)
        return PB_ERR_NOMEM;
    char *at = o->text;
    o->reward = *r;
    o->reward.source = text_copy(&at, r->source);
    o->reward.event_id = text_copy(&at, r->event_id);
    o->reward.detail_json = text_copy(&at, r->detail_json);
    o->reward.origin = text_copy(&at, r->origin);
    o->check = check;
    return enqueue(w, o, NULL, err);
}

pb_status writer_submit_erase(writer *w, const char *user_id, struct writer_erase_result *out,
                              writer_done_fn *done, void *ud, char *err)
{
    if (!user_id || !*user_id)
        return pb_errf(err, PB_ERR_INVALID, "user id must be 1 to 256 bytes of UTF-8");
    struct op *o = op_new(OP_ERASE, text_size(user_id), done, ud, err);
    if (!o)
        return PB_ERR_NOMEM;
    char *at = o->text;
    o->user_id = text_copy(&at, user_id);
    o->erase_out = out;
    return enqueue(w, o, NULL, err);
}

pb_status writer_reserve_impression_id(writer *w, int64_t *id, char *err)
{
    pthread_mutex_lock(&w->mu);
    pb_status rc = w->stopping
                       ? pb_errf(err, PB_ERR_UNAVAILABLE, "the service is shutting down; retry")
                       : take_id(w, id, err);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

pb_status writer_submit_call(writer *w, writer_call_fn *call, void *call_ud, writer_done_fn *done,
                             void *ud, char *err)
{
    if (!call)
        return pb_errf(err, PB_ERR_INVALID, "writer_submit_call needs a function");
    struct op *o = op_new(OP_CALL, 0, done, ud, err);
    if (!o)
        return PB_ERR_NOMEM;
    o->call = call;
    o->call_ud = call_ud;
    return enqueue(w, o, NULL, err);
}

pb_status writer_submit_barrier(writer *w, writer_done_fn *done, void *ud, char *err)
{
    struct op *o = op_new(OP_BARRIER, 0, done, ud, err);
    return o ? enqueue(w, o, NULL, err) : PB_ERR_NOMEM;
}

/* ---- the blocking forms ----------------------------------------------------------------- */

struct wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, duplicate;
    pb_status rc;
    int64_t id;
    char err[PB_ERR_LEN];
};

static void wait_init(struct wait *wt)
{
    memset(wt, 0, sizeof *wt);
    pthread_mutex_init(&wt->mu, NULL);
    pthread_cond_init(&wt->cv, NULL);
}

static void wait_done(pb_status rc, int64_t id, int duplicate, const char *err, void *ud)
{
    struct wait *wt = ud;
    pthread_mutex_lock(&wt->mu);
    wt->rc = rc;
    wt->id = id;
    wt->duplicate = duplicate;
    snprintf(wt->err, sizeof wt->err, "%s", err ? err : "");
    wt->done = 1;
    pthread_cond_signal(&wt->cv);
    pthread_mutex_unlock(&wt->mu);
}

/* Waits for the done of a submit that returned `submitted`; cleans wt up. */
static pb_status wait_for(struct wait *wt, pb_status submitted, char *err)
{
    if (submitted == PB_OK) {
        pthread_mutex_lock(&wt->mu);
        while (!wt->done)
            pthread_cond_wait(&wt->cv, &wt->mu);
        pthread_mutex_unlock(&wt->mu);
        submitted = wt->rc;
        if (submitted != PB_OK && err)
            snprintf(err, PB_ERR_LEN, "%s", wt->err);
    }
    pthread_cond_destroy(&wt->cv);
    pthread_mutex_destroy(&wt->mu);
    return submitted;
}

pb_status writer_impression(writer *w, const struct feedback_impression *imp, int64_t *id,
                            char *err)
{
    struct wait wt;
    wait_init(&wt);
    pb_status rc = wait_for(&wt, writer_submit_impression(w, imp, NULL, wait_done, &wt, err), err);
    if (rc == PB_OK && id)
        *id = wt.id;
    return rc;
}

pb_status writer_reward(writer *w, const struct feedback_reward *r, int64_t *id, int *duplicate,
                        char *err)
{
    struct wait wt;
    wait_init(&wt);
    pb_status rc = wait_for(&wt, writer_submit_reward(w, r, NULL, wait_done, &wt, err), err);
    if (rc == PB_OK) {
        if (id)
            *id = wt.id;
        if (duplicate)
            *duplicate = wt.duplicate;
    }
    return rc;
}

pb_status writer_erase_user(writer *w, const char *user_id, struct writer_erase_result *out,
                            char *err)
{
    struct wait wt;
    struct writer_erase_result res = {0};
    wait_init(&wt);
    pb_status rc = wait_for(&wt, writer_submit_erase(w, user_id, &res, wait_done, &wt, err), err);
    if (rc == PB_OK && out)
        *out = res;
    return rc;
}

pb_status writer_flush(writer *w, char *err)
{
    struct wait wt;
    wait_init(&wt);
    return wait_for(&wt, writer_submit_barrier(w, wait_done, &wt, err), err);
}

/* ---- state ------------------------------------------------------------------------------ */

int writer_healthy(writer *w, char *why)
{
    pthread_mutex_lock(&w->mu);
    int ok = w->healthy;
    if (why)
        snprintf(why, PB_ERR_LEN, "%s", w->why);
    pthread_mutex_unlock(&w->mu);
    return ok;
}

void writer_fail_next(writer *w, int n)
{
    pthread_mutex_lock(&w->mu);
    w->fail_next = n > 0 ? n : 0;
    pthread_mutex_unlock(&w->mu);
}

void writer_stats_get(writer *w, struct writer_stats *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->stats;
    pthread_mutex_unlock(&w->mu);
}
