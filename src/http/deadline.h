/* deadline.h — a per-request deadline for sockets owned by someone else (libmicrohttpd).
 * Its timeout only measures idleness, so a client trickling a byte now and then would hold a
 * connection forever; here a watchdog thread answers 408 and shuts down any connection still
 * receiving a request past the deadline. Owns the tracking list and the thread; it never
 * closes a descriptor (the owner does, after deadline_remove). */
#ifndef DEADLINE_H
#define DEADLINE_H

#include "base/pb.h"

typedef struct deadline deadline;
typedef struct deadline_conn deadline_conn;

/* Starts the watchdog (checks about five times a second). Caller stops it with
 * deadline_stop, after the owner of the sockets has removed or closed them all. */
pb_status deadline_start(double timeout_s, deadline **out, char *err);
void deadline_stop(deadline *d);

/* Tracks socket fd, receiving from now on; NULL when out of memory (then untracked). */
deadline_conn *deadline_add(deadline *d, int fd);
/* Untracks c; call before the socket is closed so the watchdog never sees a reused fd. */
void deadline_remove(deadline *d, deadline_conn *c);

/* receiving = 1 restarts the clock (a new request begins); 0 suspends the deadline while the
 * request is handled and answered. c may be NULL. */
void deadline_receiving(deadline *d, deadline_conn *c, int receiving);

/* 1 when the watchdog has cut c, else 0 (also for c NULL). */
int deadline_was_cut(deadline *d, deadline_conn *c);

#endif
