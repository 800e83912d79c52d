/* replwm.c — the watermark: a floor and a sorted array of the ids seen above it. */
#include "service/replwm.h"

#include <stdlib.h>
#include <string.h>

struct replwm {
    int64_t floor;
    int64_t *ids; /* sorted, all > floor */
    double *seen; /* when each was first seen */
    size_t n, cap;
};

replwm *replwm_new(int64_t floor)
{
    replwm *w = calloc(1, sizeof *w);
    if (w)
        w->floor = floor;
    return w;
}

void replwm_free(replwm *w)
{
    if (!w)
        return;
    free(w->ids);
    free(w->seen);
    free(w);
}

int64_t replwm_floor(const replwm *w)
{
    return w->floor;
}

size_t replwm_pending(const replwm *w)
{
    return w->n;
}

/* Index of the first id >= id. */
static size_t lower_bound(const replwm *w, int64_t id)
{
    size_t lo = 0, hi = w->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (w->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int replwm_has(const replwm *w, int64_t id)
{
    if (id <= w->floor)
        return 1;
    size_t i = lower_bound(w, id);
    return i < w->n && w->ids[i] == id;
}

int replwm_see(replwm *w, int64_t id, double now)
{
    if (id <= w->floor)
        return 0;
    size_t i = lower_bound(w, id);
    if (i < w->n && w->ids[i] == id)
        return 0;
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        int64_t *ids = realloc(w->ids, cap * sizeof *ids);
        if (!ids)
            return PB_ERR_NOMEM;
        w->ids = ids;
        double *seen = realloc(w->seen, cap * sizeof *seen);
        if (!seen)
            return PB_ERR_NOMEM;
        w->seen = seen;
        w->cap = cap;
    }
    memmove(w->ids + i + 1, w->ids + i, (w->n - i) * sizeof *w->ids);
    memmove(w->seen + i + 1, w->seen + i, (w->n - i) * sizeof *w->seen);
    w->ids[i] = id;
    w->seen[i] = now;
    w->n++;
    return 1;
}

size_t replwm_gaps(const replwm *w, int64_t (*gaps)[2], size_t max)
{
    size_t n = 0;
    int64_t prev = w->floor;
    for (size_t i = 0; i < w->n && n < max; i++) {
        if (w->ids[i] > prev + 1) {
            gaps[n][0] = prev + 1;
            gaps[n][1] = w->ids[i] - 1;
            n++;
        }
        prev = w->ids[i];
    }
    return n;
}

/* Forgets the first k ids. */
static void drop_front(replwm *w, size_t k)
{
    if (k == 0)
        return; /* also: ids may still be NULL */
    memmove(w->ids, w->ids + k, (w->n - k) * sizeof *w->ids);
    memmove(w->seen, w->seen + k, (w->n - k) * sizeof *w->seen);
    w->n -= k;
}

void replwm_raise(replwm *w, int64_t floor)
{
    if (floor <= w->floor)
        return;
    w->floor = floor;
    drop_front(w, lower_bound(w, floor + 1));
}

int64_t replwm_advance(replwm *w, double now, double gap_s)
{
    int64_t given_up = 0;
    size_t k = 0;
    /* A missing id below ids[k] was noticed when the first id above it was seen: the earliest
     * time among ids[k..]; walk from the end to know it for every k. */
    double *noticed = w->n ? malloc(w->n * sizeof *noticed) : NULL;
    if (w->n && !noticed)
        return 0; /* out of memory: try again at the next poll */
    for (size_t i = w->n; i-- > 0;)
        noticed[i] = i + 1 < w->n && noticed[i + 1] < w->seen[i] ? noticed[i + 1] : w->seen[i];
    while (k < w->n) {
        if (w->ids[k] != w->floor + 1) {
            if (now - noticed[k] < gap_s)
                break;
            given_up += w->ids[k] - w->floor - 1;
        }
        w->floor = w->ids[k++];
    }
    free(noticed);
    drop_front(w, k);
    return given_up;
}
