/* chatmem.c — a small TTL hash table for histories, regenerable turns and user-sticky arms. */
#include "service/chatmem.h"

#include "base/hash.h"
#include "base/pb.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_BUCKETS 4096

struct entry {
    char *key, *user_key;
    double expires, touched;
    json_t *history;          /* kind h */
    struct chatmem_turn turn; /* kind t */
    int64_t arm_id;           /* kind u */
    struct entry *next;
};

struct chatmem {
    pthread_mutex_t mu;
    size_t max_entries, count;
    double ttl_s;
    struct entry *buckets[N_BUCKETS];
};

chatmem *chatmem_new(size_t max_entries, double ttl_s)
{
    chatmem *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    pthread_mutex_init(&m->mu, NULL);
    m->max_entries = max_entries ? max_entries : 1;
    m->ttl_s = ttl_s;
    return m;
}

void chatmem_turn_clear(struct chatmem_turn *t)
{
    free(t->user_key);
    free(t->conversation_id);
    free(t->experiment);
    free(t->reply);
    free(t->segment);
    json_decref(t->messages);
    json_decref(t->emotions);
    memset(t, 0, sizeof *t);
}

static void entry_free(struct entry *e)
{
    free(e->key);
    free(e->user_key);
    json_decref(e->history);
    chatmem_turn_clear(&e->turn);
    free(e);
}

void chatmem_free(chatmem *m)
{
    if (!m)
        return;
    for (size_t b = 0; b < N_BUCKETS; b++)
        for (struct entry *e = m->buckets[b], *next; e; e = next) {
            next = e->next;
            entry_free(e);
        }
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static size_t bucket_of(const char *key)
{
    return (size_t)(hash_fnv1a64(key, strlen(key), 0) % N_BUCKETS);
}

/* Removes entries that match (expired before now, of user_key, or of the user whose key's
 * SHA-256 hex is digest); mutex held. */
static void sweep_where(chatmem *m, double now, const char *user_key, const char *digest)
{
    for (size_t b = 0; b < N_BUCKETS; b++) {
        struct entry **p = &m->buckets[b];
        while (*p) {
            struct entry *e = *p;
            char hex[HASH_HEX_LEN];
            int drop = user_key ? strcmp(e->user_key, user_key) == 0
                       : digest ? hash_sha256_hex(e->user_key, strlen(e->user_key), hex) == PB_OK &&
                                      strcmp(hex, digest) == 0
                                : e->expires <= now;
            if (drop) {
                *p = e->next;
                entry_free(e);
                m->count--;
            } else {
                p = &e->next;
            }
        }
    }
}

static void sweep(chatmem *m, double now, const char *user_key)
{
    sweep_where(m, now, user_key, NULL);
}

/* Drops the least recently used entry; mutex held. */
static void drop_oldest(chatmem *m)
{
    struct entry **oldest = NULL;
    for (size_t b = 0; b < N_BUCKETS; b++)
        for (struct entry **p = &m->buckets[b]; *p; p = &(*p)->next)
            if (!oldest || (*p)->touched < (*oldest)->touched)
                oldest = p;
    if (oldest) {
        struct entry *e = *oldest;
        *oldest = e->next;
        entry_free(e);
        m->count--;
    }
}

/* The live entry for key, or NULL; an expired one is removed. Mutex held. */
static struct entry *find(chatmem *m, const char *key, double now)
{
    for (struct entry **p = &m->buckets[bucket_of(key)]; *p; p = &(*p)->next) {
        struct entry *e = *p;
        if (strcmp(e->key, key) != 0)
            continue;
        if (e->expires <= now) {
            *p = e->next;
            entry_free(e);
            m->count--;
            return NULL;
        }
        return e;
    }
    return NULL;
}

/* The entry for key, created empty when absent; mutex held. NULL when out of memory. */
static struct entry *find_or_add(chatmem *m, const char *key, const char *user_key, double now)
{
    struct entry *e = find(m, key, now);
    if (e)
        return e;
    if (m->count >= m->max_entries) {
        sweep(m, now, NULL);
        while (m->count >= m->max_entries)
            drop_oldest(m);
    }
    if (!(e = calloc(1, sizeof *e)) || !(e->key = strdup(key)) ||
        !(e->user_key = strdup(user_key ? user_key : ""))) {
        if (e)
            free(e->key);
        free(e);
        return NULL;
    }
    size_t b = bucket_of(key);
    e->next = m->buckets[b];
    m->buckets[b] = e;
    m->count++;
    return e;
}

pb_status chatmem_history_append(chatmem *m, const char *conversation_id, const char *user_key,
                                 const json_t *messages, size_t keep)
{
    char key[300];
    double now = pb_now_monotonic();
    pb_status rc = PB_OK;
    snprintf(key, sizeof key, "h:%s", conversation_id);
    pthread_mutex_lock(&m->mu);
    struct entry *e = find_or_add(m, key, user_key, now);
    if (e && !e->history)
        e->history = json_array();
    if (!e || !e->history || json_array_extend(e->history, (json_t *)messages) != 0)
        rc = PB_ERR_NOMEM;
    while (rc == PB_OK && json_array_size(e->history) > keep)
        json_array_remove(e->history, 0);
    if (e) {
        e->touched = now;
        e->expires = now + m->ttl_s;
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

json_t *chatmem_history_get(chatmem *m, const char *conversation_id, size_t max)
{
    char key[300];
    json_t *out = json_array();
    snprintf(key, sizeof key, "h:%s", conversation_id);
    pthread_mutex_lock(&m->mu);
    struct entry *e = find(m, key, pb_now_monotonic());
    size_t n = e && e->history ? json_array_size(e->history) : 0;
    for (size_t i = n > max ? n - max : 0; out && i < n; i++)
        json_array_append_new(out, json_deep_copy(json_array_get(e->history, i)));
    pthread_mutex_unlock(&m->mu);
    return out;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static pb_status turn_copy(struct chatmem_turn *dst, const struct chatmem_turn *src)
{
    memset(dst, 0, sizeof *dst);
    dst->user_key = dup_or_null(src->user_key);
    dst->conversation_id = dup_or_null(src->conversation_id);
    dst->experiment = dup_or_null(src->experiment);
    dst->reply = dup_or_null(src->reply);
    dst->segment = dup_or_null(src->segment);
    dst->messages = src->messages ? json_deep_copy(src->messages) : NULL;
    dst->emotions = src->emotions ? json_deep_copy(src->emotions) : NULL;
    dst->consent = src->consent;
    if ((src->user_key && !dst->user_key) || (src->conversation_id && !dst->conversation_id) ||
        (src->experiment && !dst->experiment) || (src->reply && !dst->reply) ||
        (src->segment && !dst->segment) || (src->messages && !dst->messages) ||
        (src->emotions && !dst->emotions)) {
        chatmem_turn_clear(dst);
        return PB_ERR_NOMEM;
    }
    return PB_OK;
}

pb_status chatmem_turn_put(chatmem *m, int64_t impression_id, const struct chatmem_turn *t)
{
    char key[40];
    double now = pb_now_monotonic();
    pb_status rc = PB_ERR_NOMEM;
    snprintf(key, sizeof key, "t:%" PRId64, impression_id);
    pthread_mutex_lock(&m->mu);
    struct entry *e = find_or_add(m, key, t->user_key, now);
    if (e) {
        chatmem_turn_clear(&e->turn);
        rc = turn_copy(&e->turn, t);
        e->touched = now;
        e->expires = now + m->ttl_s;
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int chatmem_turn_get(chatmem *m, int64_t impression_id, struct chatmem_turn *out)
{
    char key[40];
    int found = 0;
    snprintf(key, sizeof key, "t:%" PRId64, impression_id);
    pthread_mutex_lock(&m->mu);
    struct entry *e = find(m, key, pb_now_monotonic());
    if (e && turn_copy(out, &e->turn) == PB_OK)
        found = 1;
    pthread_mutex_unlock(&m->mu);
    return found;
}

int chatmem_user_arm_get(chatmem *m, const char *user_key, int64_t experiment_id, int64_t *arm_id)
{
    char key[300];
    int found = 0;
    snprintf(key, sizeof key, "u:%" PRId64 ":%s", experiment_id, user_key);
    pthread_mutex_lock(&m->mu);
    struct entry *e = find(m, key, pb_now_monotonic());
    if (e) {
        *arm_id = e->arm_id;
        found = 1;
    }
    pthread_mutex_unlock(&m->mu);
    return found;
}

pb_status chatmem_user_arm_put(chatmem *m, const char *user_key, int64_t experiment_id,
                               int64_t arm_id, double ttl_s)
{
    char key[300];
    double now = pb_now_monotonic();
    snprintf(key, sizeof key, "u:%" PRId64 ":%s", experiment_id, user_key);
    pthread_mutex_lock(&m->mu);
    struct entry *e = find_or_add(m, key, user_key, now);
    if (e) {
        e->arm_id = arm_id;
        e->touched = now;
        e->expires = now + ttl_s;
    }
    pthread_mutex_unlock(&m->mu);
    return e ? PB_OK : PB_ERR_NOMEM;
}

void chatmem_forget_user(chatmem *m, const char *user_key)
{
    pthread_mutex_lock(&m->mu);
    sweep(m, 0, user_key);
    pthread_mutex_unlock(&m->mu);
}

void chatmem_forget_user_digest(chatmem *m, const char *digest)
{
    pthread_mutex_lock(&m->mu);
    sweep_where(m, 0, NULL, digest);
    pthread_mutex_unlock(&m->mu);
}
