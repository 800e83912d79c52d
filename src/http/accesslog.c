/* accesslog.c — JSON-lines writer (jansson) with one flushed write per line. */
#include "http/accesslog.h"

#include "base/pb.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct accesslog {
    FILE *file;
    int owned;
};

pb_status accesslog_open(const char *target, accesslog **out, char *err)
{
    *out = NULL;
    if (!target[0])
        return PB_OK;
    accesslog *log = calloc(1, sizeof *log);
    if (!log)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (strcmp(target, "-") == 0) {
        log->file = stderr;
    } else {
        log->file = fopen(target, "a");
        log->owned = 1;
        if (!log->file) {
            int e = errno;
            free(log);
            return pb_errf(err, PB_ERR_IO, "access log %s: %s", target, strerror(e));
        }
    }
    *out = log;
    return PB_OK;
}

void accesslog_close(accesslog *log)
{
    if (!log)
        return;
    if (log->owned)
        fclose(log->file);
    free(log);
}

/* UTC with milliseconds: 2026-11-25T10:37:24.123Z */
static void format_time(char *out, size_t n)
{
    double wall = pb_now_wall();
    time_t secs = (time_t)wall;
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, n - k, ".%03dZ", (int)((wall - (double)secs) * 1000));
}

void accesslog_write(accesslog *log, const struct accesslog_entry *e)
{
    if (!log)
        return;
    char when[40];
    format_time(when, sizeof when);
    json_t *line =
        json_pack("{s:s,s:s,s:s,s:i,s:f,s:I,s:s,s:s}", "time", when, "method", e->method, "route",
                  e->route, "status", e->status, "duration_ms", e->duration_s * 1000.0, "bytes",
                  (json_int_t)e->bytes, "ip", e->ip, "outcome", e->outcome);
    if (line && e->error && e->error[0])
        json_object_set_new(line, "error", json_string(e->error));
    char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    if (text) {
        fprintf(log->file, "%s\n", text); /* one locked stdio call per line */
        fflush(log->file);
    }
    free(text);
    json_decref(line);
}
