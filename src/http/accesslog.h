/* accesslog.h — the JSON-lines access log: one line per answered request with time, method,
 * route pattern, status, duration, bytes, client address and outcome. It never receives
 * bodies, headers, raw paths or query strings, so ids and tokens in them cannot leak here.
 * Owns the log file (or borrows stderr); lines from many threads never interleave. */
#ifndef ACCESSLOG_H
#define ACCESSLOG_H

#include "base/pb.h"
#include <stddef.h>

typedef struct accesslog accesslog;

struct accesslog_entry {
    const char *method, *route, *ip, *outcome;
    const char *error; /* internal error detail for 5xx answers, or NULL */
    int status;
    double duration_s;
    size_t bytes;
};

/* target: "-" = stderr, "" = off (*out is then NULL and writes are no-ops), else a file
 * opened for appending. PB_ERR_IO when it cannot be opened. */
pb_status accesslog_open(const char *target, accesslog **out, char *err);
void accesslog_write(accesslog *log, const struct accesslog_entry *e);
void accesslog_close(accesslog *log);

#endif
