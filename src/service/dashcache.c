/* dashcache.c — per-experiment aggregates by clock hour, updated from the rows after the last
 * reward and impression ids read (store/dashq.h). */
#include "service/dashcache.h"

#include "store/dashq.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DASHCACHE_ENTRIES 8

struct entry {
    int64_t experiment_id, last_reward_id, last_impression_id, rewards, impressions;
    uint64_t used; /* clock of the last read, for eviction */
    struct dashcache_arm *arms;
    size_t n_arms, arm_cap;
    int64_t *hours;
    struct dashcache_cell *cells; /* n_hours x arm_cap */
    size_t n_hours, hour_cap;
    struct dashcache_source *sources;
    size_t n_sources;
    struct dashcache_recent ring[DASHCACHE_RECENT];
    size_t n_recent, ring_next;
    struct dashcache_memo memo;
    int nomem;
};

struct dashcache {
    pthread_mutex_t mu;
    struct entry *entries[DASHCACHE_ENTRIES];
    uint64_t clock;
};

size_t dashcache_level_of(double value)
{
    long level = lround((value + 1.0) * 2.0);
    return level < 0 ? 0 : level >= DASHCACHE_LEVELS ? DASHCACHE_LEVELS - 1 : (size_t)level;
}

size_t dashcache_bin_of(double value)
{
    long bin = lround((value + 1.0) * 100.0);
    return bin < 0 ? 0 : bin >= DASHCACHE_BINS ? DASHCACHE_BINS - 1 : (size_t)bin;
}

void dashcache_bin_range(size_t bin, double *lo, double *hi)
{
    double mid = (double)bin / 100.0 - 1.0;
    *lo = bin == 0 ? -INFINITY : mid - 0.005;
    *hi = bin == DASHCACHE_BINS - 1 ? INFINITY : mid + 0.005;
}

const struct dashcache_recent *dashcache_recent_at(const struct dashcache_view *v, size_t i)
{
    return &v->ring[(v->ring_next + DASHCACHE_RECENT - 1 - i) % DASHCACHE_RECENT];
}

size_t dashcache_arm_index(const struct dashcache_view *v, int64_t arm_id)
{
    for (size_t i = 0; i < v->n_arms; i++)
        if (v->arms[i].arm_id == arm_id)
            return i;
    return SIZE_MAX;
}

static void entry_free(struct entry *e)
{
    if (!e)
        return;
    free(e->arms);
    free(e->hours);
    free(e->cells);
    free(e->sources);
    json_decref(e->memo.value);
    free(e);
}

pb_status dashcache_new(dashcache **out, char *err)
{
    dashcache *c = calloc(1, sizeof *c);
    if (!c)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory creating the dashboard cache");
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return PB_OK;
}

void dashcache_free(dashcache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < DASHCACHE_ENTRIES; i++)
        entry_free(c->entries[i]);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* ---- growing the entry ---- */

/* Doubles the arm capacity, re-laying the hour cells out with the new stride. */
static int grow_arms(struct entry *e)
{
    size_t cap = e->arm_cap ? 2 * e->arm_cap : 4;
    struct dashcache_arm *arms = realloc(e->arms, cap * sizeof *arms);
    if (!arms)
        return 0;
    e->arms = arms;
    struct dashcache_cell *cells = calloc(e->hour_cap ? e->hour_cap * cap : 1, sizeof *cells);
    if (!cells)
        return 0;
    for (size_t h = 0; h < e->n_hours; h++)
        memcpy(cells + h * cap, e->cells + h * e->arm_cap, e->arm_cap * sizeof *cells);
    free(e->cells);
    e->cells = cells;
    e->arm_cap = cap;
    return 1;
}

/* The index of arm_id, added when new; SIZE_MAX when out of memory. */
static size_t arm_slot(struct entry *e, int64_t arm_id)
{
    for (size_t i = e->n_arms; i-- > 0;)
        if (e->arms[i].arm_id == arm_id)
            return i;
    if (e->n_arms == e->arm_cap && !grow_arms(e))
        return SIZE_MAX;
    memset(&e->arms[e->n_arms], 0, sizeof e->arms[0]);
    e->arms[e->n_arms].arm_id = arm_id;
    return e->n_arms++;
}

/* The cell row of an hour, inserted in order when new; NULL when out of memory. Rows arrive
 * nearly in time order, so the last hour is tried first. */
static struct dashcache_cell *hour_row(struct entry *e, int64_t hour)
{
    size_t lo = 0, hi = e->n_hours;
    if (e->n_hours && e->hours[e->n_hours - 1] == hour)
        return e->cells + (e->n_hours - 1) * e->arm_cap;
    if (!e->n_hours || e->hours[e->n_hours - 1] < hour)
        lo = hi = e->n_hours;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (e->hours[mid] < hour)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < e->n_hours && e->hours[lo] == hour)
        return e->cells + lo * e->arm_cap;
    if (e->n_hours == e->hour_cap) {
        size_t cap = e->hour_cap ? 2 * e->hour_cap : 64;
        int64_t *hours = realloc(e->hours, cap * sizeof *hours);
        if (!hours)
            return NULL;
        e->hours = hours;
        struct dashcache_cell *cells = realloc(e->cells, cap * e->arm_cap * sizeof *cells);
        if (!cells)
            return NULL;
        e->cells = cells;
        e->hour_cap = cap;
    }
    memmove(e->hours + lo + 1, e->hours + lo, (e->n_hours - lo) * sizeof *e->hours);
    memmove(e->cells + (lo + 1) * e->arm_cap, e->cells + lo * e->arm_cap,
            (e->n_hours - lo) * e->arm_cap * sizeof *e->cells);
    memset(e->cells + lo * e->arm_cap, 0, e->arm_cap * sizeof *e->cells);
    e->hours[lo] = hour;
    e->n_hours++;
    return e->cells + lo * e->arm_cap;
}

/* The cell of (arm_id, time), both created as needed; NULL when out of memory. */
static struct dashcache_cell *cell_of(struct entry *e, int64_t arm_id, double t, size_t *arm)
{
    /* The arm first: growing the arms re-lays the cells out. */
    if ((*arm = arm_slot(e, arm_id)) == SIZE_MAX)
        return NULL;
    struct dashcache_cell *row = hour_row(e, (int64_t)floor(t / DASHCACHE_HOUR));
    return row ? row + *arm : NULL;
}

static int count_source(struct entry *e, const char *source)
{
    for (size_t i = 0; i < e->n_sources; i++)
        if (strcmp(e->sources[i].name, source) == 0) {
            e->sources[i].count++;
            return 1;
        }
    struct dashcache_source *grown = realloc(e->sources, (e->n_sources + 1) * sizeof *grown);
    if (!grown)
        return 0;
    e->sources = grown;
    snprintf(e->sources[e->n_sources].name, sizeof e->sources[0].name, "%s", source);
    e->sources[e->n_sources++].count = 1;
    return 1;
}

static void add_to(struct dashcache_cell *c, double value)
{
    c->n += 1;
    c->sum += value;
    c->sum_sq += value * value;
    c->levels[dashcache_level_of(value)] += 1;
}

static int add_reward(void *ctx, const struct dashq_reward *r)
{
    struct entry *e = ctx;
    const char *source = r->source ? r->source : "";
    size_t arm;
    struct dashcache_cell *cell = cell_of(e, r->arm_id, r->created_at, &arm);
    if (!cell || !count_source(e, source)) {
        e->nomem = 1;
        return PB_ERR_NOMEM;
    }
    add_to(cell, r->value);
    struct dashcache_arm *a = &e->arms[arm];
    add_to(&a->total, r->value);
    if (r->has_answer) {
        size_t bin = dashcache_bin_of(r->value);
        a->answered[bin]++;
        a->newest[bin] = r->reward_id;
    }
    struct dashcache_recent *slot = &e->ring[e->ring_next];
    *slot = (struct dashcache_recent){r->reward_id, r->impression_id, r->arm_id,
                                      "",           r->value,         r->created_at};
    snprintf(slot->source, sizeof slot->source, "%s", source);
    e->ring_next = (e->ring_next + 1) % DASHCACHE_RECENT;
    if (e->n_recent < DASHCACHE_RECENT)
        e->n_recent++;
    e->rewards++;
    e->last_reward_id = r->reward_id;
    return 0;
}

static int add_impression(void *ctx, const struct dashq_impression *r)
{
    struct entry *e = ctx;
    size_t arm;
    struct dashcache_cell *cell = cell_of(e, r->arm_id, r->created_at, &arm);
    if (!cell) {
        e->nomem = 1;
        return PB_ERR_NOMEM;
    }
    cell->impressions += 1;
    e->arms[arm].total.impressions += 1;
    e->impressions++;
    e->last_impression_id = r->impression_id;
    return 0;
}

/* ---- reading ---- */

/* The entry of experiment_id, created (evicting the least recently used) when absent; NULL
 * when out of memory. Lock held. */
static struct entry *entry_for(dashcache *c, int64_t experiment_id)
{
    size_t victim = 0;
    for (size_t i = 0; i < DASHCACHE_ENTRIES; i++) {
        struct entry *e = c->entries[i];
        if (e && e->experiment_id == experiment_id)
            return e;
        if (!e || (c->entries[victim] && e->used < c->entries[victim]->used))
            victim = i;
    }
    struct entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->experiment_id = experiment_id;
    entry_free(c->entries[victim]);
    c->entries[victim] = e;
    return e;
}

static void drop(dashcache *c, struct entry *e)
{
    for (size_t i = 0; i < DASHCACHE_ENTRIES; i++)
        if (c->entries[i] == e)
            c->entries[i] = NULL;
    entry_free(e);
}

pb_status dashcache_read(dashcache *c, store *s, int64_t experiment_id,
                         pb_status (*fn)(void *ctx, const struct dashcache_view *v,
                                         struct dashcache_memo *memo, char *err),
                         void *ctx, char *err)
{
    pthread_mutex_lock(&c->mu);
    struct entry *e = entry_for(c, experiment_id);
    pb_status rc = e ? PB_OK : pb_errf(err, PB_ERR_NOMEM, "out of memory caching the dashboard");
    if (rc == PB_OK) {
        e->used = ++c->clock;
        rc = dashq_rewards_after(s, experiment_id, e->last_reward_id, add_reward, e, err);
        if (rc == PB_OK)
            rc = dashq_impressions_after(s, experiment_id, e->last_impression_id, add_impression, e,
                                         err);
        if (e->nomem)
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory caching the dashboard");
        if (rc != PB_OK)
            drop(c, e); /* half-read rows would be counted twice: start over next time */
    }
    if (rc == PB_OK) {
        struct dashcache_view v = {
            .experiment_id = e->experiment_id,
            .last_reward_id = e->last_reward_id,
            .last_impression_id = e->last_impression_id,
            .rewards = e->rewards,
            .impressions = e->impressions,
            .n_arms = e->n_arms,
            .arms = e->arms,
            .n_hours = e->n_hours,
            .hours = e->hours,
            .cells = e->cells,
            .stride = e->arm_cap,
            .n_sources = e->n_sources,
            .sources = e->sources,
            .n_recent = e->n_recent,
            .ring = e->ring,
            .ring_next = e->ring_next,
        };
        rc = fn(ctx, &v, &e->memo, err);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}
