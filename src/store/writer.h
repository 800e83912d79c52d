/* writer.h — group commit: one thread owns a store handle and writes impressions and rewards
 * that arrive together in one transaction, acknowledging each caller only after its batch
 * committed. With db.synchronous=FULL a commit costs an fsync (docs/BENCHMARKS.md "Store"),
 * so batching is what lets /v1/choose and /v1/feedback scale. It owns its thread and handle;
 * it computes nothing: records come validated from the pipeline. */
#ifndef WRITER_H
#define WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "store/feedback.h"
#include "base/pb.h"
#include "store/store.h"

typedef struct writer writer;

/* Takes ownership of s (closed by writer_free) and starts the thread. max_batch: records per
 * transaction at most (0 = 512). */
pb_status writer_new(store *s, size_t max_batch, writer **out, char *err);

/* Stops accepting, commits everything queued (every waiting caller gets its answer), joins
 * the thread and closes the handle. NULL is allowed. */
void writer_free(writer *w);

/* Stores one record and blocks until its transaction committed (PB_OK) or failed; the
 * result and err are those of feedback_insert_impression / feedback_insert_reward (a batch
 * goes through feedback_insert_impressions / feedback_insert_rewards).
 * PB_ERR_UNAVAILABLE once writer_free has begun. Safe from any thread. */
pb_status writer_impression(writer *w, const struct feedback_impression *imp, int64_t *id,
                            char *err);
pb_status writer_reward(writer *w, const struct feedback_reward *r, int64_t *id, int *duplicate,
                        char *err);

struct writer_stats {
    uint64_t records, batches, fallbacks; /* fallbacks: batches retried one by one */
    size_t largest_batch;
};
void writer_stats_get(writer *w, struct writer_stats *out);

#endif
