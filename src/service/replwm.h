/* replwm.h — a reward-id watermark for a poll over ids that may commit out of order: a
 * sequence (PostgreSQL's identity) hands ids out before commit, so a lower id can become
 * visible after a higher one, and an id whose transaction rolled back (a duplicate, a
 * conflict) never becomes visible. The watermark keeps the floor (every id at or below it is
 * settled: seen, or given up after the gap bound) and the ids seen above it with the time each
 * was first seen; the floor moves over a missing id only once an id above it has been seen for
 * longer than the bound (the longest a write transaction can stay open). Not thread-safe (its
 * owner locks); no I/O, no clock of its own (callers pass now). */
#ifndef REPLWM_H
#define REPLWM_H

#include <stddef.h>
#include <stdint.h>

#include "base/pb.h"

typedef struct replwm replwm;

/* A watermark at floor (ids <= floor count as seen). NULL when out of memory. */
replwm *replwm_new(int64_t floor);
void replwm_free(replwm *w);

int64_t replwm_floor(const replwm *w);
size_t replwm_pending(const replwm *w); /* ids seen above the floor */

/* 1 when id is at or below the floor or was seen; 0 otherwise. */
int replwm_has(const replwm *w, int64_t id);
/* Marks id seen at now: 1 when new, 0 when already seen or at/below the floor, PB_ERR_NOMEM. */
int replwm_see(replwm *w, int64_t id, double now);
/* The missing ids between the floor and the highest id seen, as inclusive ranges
 * gaps[i][0]..gaps[i][1] in order, at most max of them; returns how many it wrote (max when
 * there may be more). */
size_t replwm_gaps(const replwm *w, int64_t (*gaps)[2], size_t max);
/* Raises the floor to at least floor, forgetting the ids at or below it. */
void replwm_raise(replwm *w, int64_t floor);
/* Moves the floor over every seen id that follows it and over every missing id that has had a
 * seen id above it for at least gap_s seconds at now. Returns how many missing ids it gave up
 * on (they stay unread if they commit later). */
int64_t replwm_advance(replwm *w, double now, double gap_s);

#endif
