/* pipeline.h — what the service's flows share: a chat turn (chatturn), feedback turned into a
 * reward (reward) and a choice for clients with their own LLM (choose). Validation of ids and
 * experiment names lives here so every flow and front end (HTTP, tests) gets the same answers;
 * so do the ownership check of an impression, the counters the flows move and the erasure of
 * a user. No HTTP, no JSON parsing of requests, no SQL: it calls app, chatmem and the store
 * family. It must not hold a flow's own steps (those are the three modules'). */
#ifndef PIPELINE_H
#define PIPELINE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "base/pb.h"
#include "service/app.h"
#include "store/writer.h"
#include "store/feedback.h"
#include "store/impressions.h"

#define PIPELINE_ID_MAX 128

/* 1 when s is 1..PIPELINE_ID_MAX characters of [A-Za-z0-9._:@-] (user, conversation and
 * event ids; they may appear in logs and URLs), else 0. */
int pipeline_id_valid(const char *s);

/* PB_OK when id is valid, or NULL and not required; PB_ERR_INVALID naming field otherwise. */
pb_status pipeline_check_id(const char *id, const char *field, int required, char *err);

/* PB_OK when name is 1 to 64 bytes of UTF-8; PB_ERR_INVALID otherwise. */
pb_status pipeline_check_experiment(const char *name, char *err);

/* Reads impression id into *info, checked to belong to user_key (an impression without a user
 * is anyone's; user_key NULL owns only those). PB_ERR_INVALID (id not positive),
 * PB_ERR_NOT_FOUND, PB_ERR_FORBIDDEN (another user's), PB_ERR_DB. */
pb_status pipeline_owned_impression(store *s, int64_t id, const char *user_key,
                                    struct impressions_info *info, char *err);

/* Adds delta to the counter name{labels=values} of the app's registry, registering the family
 * on first use; a registry error only loses the count. */
void pipeline_count(app *a, const char *name, const char *help, const char *const *labels, size_t n,
                    const char *const *values, double delta);

/* Counts one impression served (arm chosen and shown): pb_pulls_total{experiment, arm}. */
void pipeline_count_pull(app *a, const char *experiment, const char *arm);

/* Erases a user (feedback_erase_user) and forgets their in-memory entries. Live statistics
 * are unchanged: reward values stay as anonymous statistics. */
pb_status pipeline_erase_user(app *a, const char *user_id, struct feedback_erase_counts *counts,
                              char *err);

/* A blocking wait on an asynchronous step, for the blocking forms of chatturn and reward (tests
 * and tools; the HTTP handlers never wait). pipeline_wait_end records the result once, from the
 * step's thread; pipeline_wait_for blocks until it came and returns it (err gets its message). */
struct pipeline_wait {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
    pb_status rc;
    char err[PB_ERR_LEN];
};
void pipeline_wait_init(struct pipeline_wait *w);
void pipeline_wait_end(struct pipeline_wait *w, pb_status rc, const char *err);
pb_status pipeline_wait_for(struct pipeline_wait *w, char *err); /* also destroys w */

/* The erasure without a waiting thread: queued to the writer (in order after every record
 * before it), committed, the WAL checkpointed so no copy stays on disk (e->result.purged, or
 * pending with the writer retrying in the background), the user's memory forgotten, then
 * done(rc, err, ud) from the writer's thread. e is the caller's and must live until done. */
struct pipeline_erase {
    app *a;
    char key[APP_USER_KEY_LEN];
    struct writer_erase_result result;
    void (*done)(pb_status rc, const char *err, void *ud);
    void *ud;
};
pb_status pipeline_erase_submit(app *a, const char *user_id, struct pipeline_erase *e,
                                void (*done)(pb_status rc, const char *err, void *ud), void *ud,
                                char *err);

#endif
