/* dashcache.h — what the dashboard reads of an experiment's reward and impression history,
 * kept in memory and brought up to date by reading only the rows added since the last request
 * (store/dashq.h walks after an id): per arm and clock hour the rewards (count, sum, sum of
 * squares, count per level) and the impressions; per arm the totals and, per value bin, how many
 * rewards have a stored answer and the newest of them (for the examples); rewards per source;
 * the newest rewards. A first request reads the history once; later ones cost the new rows.
 * Rows are only ever added to rewards and impressions (erasure keeps reward values), which is
 * what makes the reading after an id exact; a discarded impression stays counted.
 * Thread-safe (one mutex; the callback runs under it). It never writes the store. */
#ifndef DASHCACHE_H
#define DASHCACHE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/pb.h"
#include "store/store.h"

#define DASHCACHE_LEVELS 5   /* -1, -0.5, 0, +0.5, +1: a value goes to the nearest */
#define DASHCACHE_BINS   201 /* value bins of width 0.01 on [-1, 1] */
#define DASHCACHE_RECENT 50  /* newest rewards kept */
#define DASHCACHE_HOUR   3600.0

typedef struct dashcache dashcache;

struct dashcache_cell {
    double n, sum, sum_sq;           /* rewards */
    double levels[DASHCACHE_LEVELS]; /* rewards per level */
    double impressions;              /* impressions created */
};

struct dashcache_arm {
    int64_t arm_id;
    struct dashcache_cell total;
    int64_t answered[DASHCACHE_BINS]; /* rewards with a stored answer per value bin */
    int64_t newest[DASHCACHE_BINS];   /* the newest of them (reward id; 0 = none) */
};

struct dashcache_recent {
    int64_t reward_id, impression_id, arm_id;
    char source[33];
    double value, created_at;
};

struct dashcache_source {
    char name[33];
    int64_t count;
};

/* A read-only view of one experiment, valid during the callback only. */
struct dashcache_view {
    int64_t experiment_id, last_reward_id, last_impression_id;
    int64_t rewards, impressions; /* totals */
    size_t n_arms;                /* in order of first appearance */
    const struct dashcache_arm *arms;
    size_t n_hours;                     /* hours with any row, ascending */
    const int64_t *hours;               /* floor(created_at / 3600) */
    const struct dashcache_cell *cells; /* n_hours x stride: cells[h * stride + arm] */
    size_t stride;
    size_t n_sources;
    const struct dashcache_source *sources;
    size_t n_recent; /* recent(v, 0) is the newest */
    const struct dashcache_recent *ring;
    size_t ring_next;
};

/* The i-th newest reward kept (i < v->n_recent). */
const struct dashcache_recent *dashcache_recent_at(const struct dashcache_view *v, size_t i);
/* The index of arm_id in v->arms, or SIZE_MAX. */
size_t dashcache_arm_index(const struct dashcache_view *v, int64_t arm_id);
/* A reward value's level (0..DASHCACHE_LEVELS-1) and bin (0..DASHCACHE_BINS-1), and a bin's
 * value range. */
size_t dashcache_level_of(double value);
size_t dashcache_bin_of(double value);
void dashcache_bin_range(size_t bin, double *lo, double *hi);

/* A slot where the reader keeps something it derived from the view (a JSON value, owned by
 * the cache once stored) under a key it chooses; dropped with the experiment's entry. */
struct dashcache_memo {
    char key[160];
    json_t *value;
};

pb_status dashcache_new(dashcache **out, char *err);
void dashcache_free(dashcache *c);

/* Brings experiment experiment_id up to date from s (the rows after the last ones read), then
 * calls fn with its view and its memo under the cache's lock and returns fn's status. Store
 * errors and PB_ERR_NOMEM come back as such (the entry is then dropped and rebuilt next time).
 * A few experiments are kept; the least recently read is dropped first. */
pb_status dashcache_read(dashcache *c, store *s, int64_t experiment_id,
                         pb_status (*fn)(void *ctx, const struct dashcache_view *v,
                                         struct dashcache_memo *memo, char *err),
                         void *ctx, char *err);

#endif
