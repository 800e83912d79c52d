/* replica.h — several `serve` processes (replicas) on one database agree (issue 19,
 * docs/SERVICE.md "Replicas"). Each replica polls the rewards table by reward id every
 * replica.poll_ms and hands every reward it has not counted to its live state (live_apply), so
 * the bandit of every replica takes in what the others wrote within about one poll; a
 * watermark (replwm.h) copes with ids that commit out of order. It polls the replica event log
 * too: an erasure another replica did drops the user's entries from this one's memory
 * (chatmem), an admin change (arms, policy, promotion, reset) drops the experiment's live state
 * so that it is rebuilt from the database. It runs the background jobs (retention, reward wait
 * sweep, the event log's purge) once across replicas: a job lock (no two at once) and a claim
 * per interval in the database. Polling and not LISTEN/NOTIFY: the same on SQLite and
 * PostgreSQL, no extra connection, and a dropped connection loses nothing (the next poll reads
 * from the watermark). Owned by app; one thread of its own. It must not speak SQL (store/replica.h
 * does) nor parse HTTP. */
#ifndef REPLICA_H
#define REPLICA_H

#include <stddef.h>
#include <stdint.h>

#include "base/pb.h"
#include "service/app.h"
#include "store/store.h"

typedef struct replica replica;
struct writer;

/* A replica with a fresh id (host, pid and random bits). With replica.poll_ms > 0 it reads the
 * start floor from s (rewards written more than replica.gap_ms ago are settled) and the last
 * event id, and sets the live state's floor (live_set_floor): call before the first live
 * rebuild. The thread starts with replica_start. */
pb_status replica_new(app *a, store *s, replica **out, char *err);
/* Starts the poll thread (nothing when replica.poll_ms is 0). */
pb_status replica_start(replica *r, char *err);
/* Stops the thread; NULL is allowed. */
void replica_free(replica *r);

/* The functions below take NULL too (app_free has freed the replica while the writer and
 * the provider's loop finish): no id, not polling, nothing noted. */
const char *replica_id(const replica *r); /* stored in rewards.origin and job_runs.origin */
int replica_polling(const replica *r);    /* 1 when replica.poll_ms > 0 */

/* Runs fn(ud, 0) on the poll thread after its next poll, so at least one poll later than now,
 * once; replica_free runs the pending ones with stopping = 1 (fn must then finish without
 * the writer). fn may call replica_after_poll again. PB_ERR_UNAVAILABLE when polling is off
 * (or stopping). */
pb_status replica_after_poll(replica *r, void (*fn)(void *ud, int stopping), void *ud, char *err);

/* One poll now (the thread calls it; tests too): rewards, then events. */
pb_status replica_poll(replica *r, char *err);

/* Logs an admin change to experiment `name` (after its live_reload here) for the other
 * replicas, with s. Nothing when polling is off. */
pb_status replica_note_reload(replica *r, store *s, const char *name, char *err);
/* Logs the erasure of user_key for the other replicas through the writer, after the erasure
 * queued before it (FIFO). Nothing when polling is off. */
pb_status replica_note_erase(replica *r, struct writer *w, const char *user_key, char *err);

/* Runs job(a, &n, err) unless another replica holds its lock or ran it less than interval_s
 * ago: *ran = 1 when it ran here (n then holds its count). */
typedef pb_status replica_job_fn(app *a, int64_t *n, char *err);
pb_status replica_run_job(replica *r, const char *name, double interval_s, replica_job_fn *job,
                          int64_t *n, int *ran, char *err);

#endif
