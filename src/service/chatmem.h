/* chatmem.h — what the service remembers in memory only, never on disk: the recent history
 * of conversations whose user did not consent to storage, the turns that can still be
 * regenerated (impression -> the messages the LLM saw and its reply), and user-sticky arms
 * (assign.mode user). Every entry expires after a TTL and the table holds a bounded number;
 * erasure drops a user's entries. Thread-safe (one mutex). No I/O, no policy, no SQL. */
#ifndef CHATMEM_H
#define CHATMEM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/pb.h"

typedef struct chatmem chatmem;

/* max_entries per kind of entry; ttl_s after the last use. NULL when out of memory. */
chatmem *chatmem_new(size_t max_entries, double ttl_s);
void chatmem_free(chatmem *m);

/* Appends messages (a JSON array of {role, content}, borrowed) to the conversation's history,
 * keeping the last `keep`. The conversation is owned by user_key. PB_ERR_NOMEM when out of
 * memory. */
pb_status chatmem_history_append(chatmem *m, const char *conversation_id, const char *user_key,
                                 const json_t *messages, size_t keep);
/* The last max messages of the conversation (a new JSON array, empty when unknown). */
json_t *chatmem_history_get(chatmem *m, const char *conversation_id, size_t max);

/* A turn that may be regenerated: the messages the LLM saw after the system prompt, its
 * reply, the classification and the assignment. chatmem_turn_put copies everything. */
struct chatmem_turn {
    char *user_key, *conversation_id, *experiment, *reply, *segment;
    json_t *messages; /* history + the user message, [{role, content}] */
    json_t *emotions; /* [{label, name, score}] */
    int consent;
};
/* Keeps a copy of t for impression_id; PB_ERR_NOMEM when out of memory. */
pb_status chatmem_turn_put(chatmem *m, int64_t impression_id, const struct chatmem_turn *t);
/* Copies the turn into *out (clear with chatmem_turn_clear) and returns 1; 0 when absent or
 * expired (or out of memory). */
int chatmem_turn_get(chatmem *m, int64_t impression_id, struct chatmem_turn *out);
void chatmem_turn_clear(struct chatmem_turn *t);

/* assign.mode user: the arm a user keeps in an experiment until the TTL (user_ttl_s) runs
 * out since it was first given. _get: 1 with *arm_id set, 0 when none; _put: PB_ERR_NOMEM. */
int chatmem_user_arm_get(chatmem *m, const char *user_key, int64_t experiment_id, int64_t *arm_id);
pb_status chatmem_user_arm_put(chatmem *m, const char *user_key, int64_t experiment_id,
                               int64_t arm_id, double ttl_s);

/* Drops every entry of the user (erasure). */
void chatmem_forget_user(chatmem *m, const char *user_key);
/* The same for the user whose key's SHA-256 (lower-case hex) is digest: an erasure another
 * replica logged (service/replica.h) names the user only so. */
void chatmem_forget_user_digest(chatmem *m, const char *digest);

#endif
