/* writer.h — group commit: one thread owns a store handle and writes the impressions, rewards
 * and erasures that arrive together in one transaction, so that one fsync acknowledges every
 * record of the batch. With db.synchronous=FULL a commit costs an fsync (docs/BENCHMARKS.md
 * "Store"), so batching is what lets /v1/choose and /v1/feedback scale. Callers submit and
 * return at once; the writer calls each record's done callback after its commit (or never
 * waits on anyone: an impression without a callback is written behind). It owns its thread,
 * its handle and the impression ids it has reserved; it computes nothing: records come
 * validated from the service, which decides what a failure means for its client. The protocol
 * (order, ids, failures, erasure) is the essay at the top of writer.c and docs/STORE.md. */
#ifndef WRITER_H
#define WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "base/pb.h"
#include "store/feedback.h"
#include "store/store.h"

typedef struct writer writer;

/* Takes ownership of s (closed by writer_free), reserves its first impression ids (a write:
 * PB_ERR_DB when the database takes none) and starts the thread. max_batch: records per
 * transaction at most (0 = 512). */
pb_status writer_new(store *s, size_t max_batch, writer **out, char *err);

/* Stops accepting, commits everything queued (every done callback runs), makes a last attempt
 * at a pending checkpoint, gives back the unused impression ids, joins the thread and closes
 * the handle. NULL is allowed. Not from a done callback. */
void writer_free(writer *w);

/* Called once per record from the writer thread after its transaction committed (rc PB_OK) or
 * failed (rc and err say why: the record's own fault such as PB_ERR_NOT_FOUND, or
 * PB_ERR_UNAVAILABLE when the whole batch failed: disk full, I/O error, a lock held too long); id
 * is the row id (an impression's is the one given at submit, whatever rc), duplicate as in
 * writer_reward. err is valid during the call only. Must not block: hand work on. It may submit
 * further records. */
typedef void writer_done_fn(pb_status rc, int64_t id, int duplicate, const char *err, void *ud);

/* Queues an impression (deep-copied; imp->id must be 0) and returns at once. Its id is
 * allocated now (*id) from a block reserved durably beforehand, so a client can be told it
 * before the commit and it is never handed out again, even after a crash or by another process
 * on the same database. done (may be NULL: write-behind) runs after the commit. Records are
 * written in submit order (FIFO with rewards), each in a savepoint: a bad one fails alone.
 * done is called exactly once when this returns PB_OK, never otherwise. Errors at once:
 * PB_ERR_INVALID (feedback_impression_check), PB_ERR_LIMIT (the queue holds
 * WRITER_QUEUE_MAX records; or, from a done callback, both id blocks are used up),
 * PB_ERR_UNAVAILABLE (writer_free has begun, or no ids are left while commits fail). Safe
 * from any thread; from another thread than the writer's it may wait for an id block when
 * more than WRITER_ID_BLOCK impressions came during one commit. */
pb_status writer_submit_impression(writer *w, const struct feedback_impression *imp, int64_t *id,
                                   writer_done_fn *done, void *ud, char *err);

/* Runs on the writer thread inside the batch's transaction just before a reward is inserted:
 * it sees every record submitted before it, committed or not (s is the writer's handle; read
 * with it, never commit). It may refuse the reward (its status and err go to done; nothing is
 * stored: a write-behind impression lost in a crash is refused here with PB_ERR_NOT_FOUND) or
 * change r's fields; strings it points r to must outlive the insert (the caller's ud, say).
 * Extra details the caller needs (the impression's arm, experiment) go into its ud. On
 * PostgreSQL it may run again for the same record when another record of its batch failed and
 * the batch is run once more (writer.c run_batch): it must do nothing but read, set r and fill
 * its ud. */
typedef pb_status writer_check_fn(store *s, struct feedback_reward *r, void *ud, char *err);

/* Queues a reward (deep-copied) and returns at once; check (may be NULL) as above, done (may
 * be NULL) after the commit. Errors at once as writer_submit_impression (feedback_reward_check
 * for PB_ERR_INVALID). */
pb_status writer_submit_reward(writer *w, const struct feedback_reward *r, writer_check_fn *check,
                               writer_done_fn *done, void *ud, char *err);

struct writer_erase_result {
    struct feedback_erase_counts counts;
    int purged; /* 1: the WAL was checkpointed and truncated: no copy is left on disk; 0: a
                 * reader held an old snapshot; the writer retries in the background */
};
/* Queues the erasure of a user (feedback_erase_user, FIFO with the records before it, so a
 * write-behind impression of that user cannot bring the id back after it). After its commit
 * the writer checkpoints the WAL (waiting up to WRITER_CHECKPOINT_WAIT_MS for readers), fills
 * *out (caller-owned, must live until done) and calls done (id 0). When the checkpoint cannot
 * finish it stays pending and is retried every WRITER_CHECKPOINT_RETRY_MS until it does. */
pb_status writer_submit_erase(writer *w, const char *user_id, struct writer_erase_result *out,
                              writer_done_fn *done, void *ud, char *err);

/* An impression id for a record the caller will write later through writer_submit_call (a
 * chat turn tells its client the id before the provider answers): taken from the same durably
 * reserved block as writer_submit_impression's, so it is never handed out again; an id whose
 * record is never written is a gap. Errors as writer_submit_impression's. */
pb_status writer_reserve_impression_id(writer *w, int64_t *id, char *err);

/* Runs call(s, call_ud, &id, err) on the writer's thread in its own savepoint of the next
 * batch, in submit order with the other records, for a record made of several rows (a chat
 * turn: consent, conversation, impression, messages) committed with one fsync. call writes
 * with s's _tx functions and never commits; an error rolls back its savepoint only and goes to
 * done with the id it set. call_ud must live until done. Errors at once as
 * writer_submit_impression's (PB_ERR_LIMIT, PB_ERR_UNAVAILABLE). */
typedef pb_status writer_call_fn(store *s, void *call_ud, int64_t *id, char *err);
pb_status writer_submit_call(writer *w, writer_call_fn *call, void *call_ud, writer_done_fn *done,
                             void *ud, char *err);

/* done runs once every record submitted before this one has been committed or has failed;
 * rc is PB_ERR_UNAVAILABLE when the batch it rode in failed. For a request that must read what it
 * just wrote behind (an impression's activation). */
pb_status writer_submit_barrier(writer *w, writer_done_fn *done, void *ud, char *err);

/* Blocking forms: submit, then wait for done. The result and err are those done got; the
 * waiting thread holds nothing else. Not from a done callback. */
pb_status writer_impression(writer *w, const struct feedback_impression *imp, int64_t *id,
                            char *err);
pb_status writer_reward(writer *w, const struct feedback_reward *r, int64_t *id, int *duplicate,
                        char *err);
pb_status writer_erase_user(writer *w, const char *user_id, struct writer_erase_result *out,
                            char *err);
pb_status writer_flush(writer *w, char *err);

/* Asks for a WAL checkpoint (TRUNCATE) as soon as possible, retried in the background until
 * it completes (after an erasure done outside the writer, for instance). */
void writer_request_checkpoint(writer *w);

/* 1 while the last commit succeeded (or none was tried yet); 0 after a failed commit (disk
 * full, I/O error) until one succeeds, with the failure in why (PB_ERR_LEN, may be NULL).
 * While unhealthy and idle the writer probes with a small write every WRITER_PROBE_MS, so
 * health comes back without traffic. Cheap (one mutex). */
int writer_healthy(writer *w, char *why);

/* Where the writer reports what nobody waits for: a commit failing and commits succeeding
 * again, a checkpoint left pending and finished. Called from the writer thread, without
 * locks; fn must not block. NULL to stop. */
void writer_set_log(writer *w, void (*fn)(const char *msg, void *ud), void *ud);

/* For tests only: the next n commits (batches and probes) fail as a failing disk would make
 * them fail as a failing disk would (the records get PB_ERR_UNAVAILABLE, "injected failure"). */
void writer_fail_next(writer *w, int n);

#define WRITER_QUEUE_MAX                65536 /* records waiting at most; past it submits fail */
#define WRITER_ID_BLOCK                 8192  /* impression ids reserved at a time */
#define WRITER_PROBE_MS                 1000 /* while unhealthy and idle: a probe write this often */
#define WRITER_CHECKPOINT_WAIT_MS       100  /* a checkpoint waits this long for readers */
#define WRITER_CHECKPOINT_RETRY_MS      500  /* a pending checkpoint is retried this often, */
#define WRITER_CHECKPOINT_RETRY_WAIT_MS 10   /* waiting this long for readers (between batches) */
#define WRITER_BEHIND_MS                5 /* write-behind records alone wait this long for a batch */
#define WRITER_BATCH_BUCKETS            12
#define WRITER_RETRIES                  2 /* PostgreSQL: a batch failed by a deadlock runs again */

struct writer_stats {
    uint64_t records;         /* settled: committed or failed (erasures and barriers count) */
    uint64_t batches;         /* transactions for records, committed or failed */
    uint64_t refused;         /* records that failed alone (their own fault, or check said no) */
    uint64_t failed_commits;  /* transactions that failed as a whole (disk full, I/O, probes too) */
    uint64_t retried_batches; /* PostgreSQL: batches run again after a deadlock or a
                               * serialization failure (WRITER_RETRIES) */
    uint64_t savepoint_reruns; /* PostgreSQL: batches first run without a savepoint per record
                                * and run again with them because a record failed */
    uint64_t write_behind;     /* impressions submitted without a done callback */
    uint64_t queue_full;       /* submits refused with PB_ERR_LIMIT */
    size_t queued;             /* submitted and not yet settled, the batch being written included */
    size_t last_batch, largest_batch;
    /* batch_sizes[i]: batches of more than 2^(i-1) and at most 2^i records (i = 0: one
     * record); the last bucket counts every larger batch. records / batches is the mean. */
    uint64_t batch_sizes[WRITER_BATCH_BUCKETS];
    int healthy;
    int checkpoint_pending;
    uint64_t checkpoints;        /* checkpoints that completed */
    uint64_t checkpoint_retries; /* attempts that found a reader in the way */
};
void writer_stats_get(writer *w, struct writer_stats *out);

#endif
