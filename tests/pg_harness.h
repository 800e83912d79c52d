/* pg_harness.h — a throwaway PostgreSQL server for C tests, through tests/pgtest.sh: started in
 * a fresh temporary folder as an unprivileged user on a free port, stopped and removed at exit
 * (and by pgtest.sh's watcher when the test crashes). A server that cannot start ends the test
 * with exit status 2 and the reason: a failure, never a skip. Header-only; needs
 * PB_SOURCE_DIR (set by ctest) to find the script. */
#ifndef PG_HARNESS_H
#define PG_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char pg_harness_dir[256];

static inline void pg_harness_script(char *out, size_t len)
{
    const char *src = getenv("PB_SOURCE_DIR");
    snprintf(out, len, "%s/tests/pgtest.sh", src ? src : ".");
}

/* Runs `bash pgtest.sh ARGS` and copies its one line of output (a URL) into out. */
static inline int pg_harness_run(const char *args, char *out, size_t len)
{
    char script[512], cmd[1600]; /* script and args (up to 512 each) fit */
    pg_harness_script(script, sizeof script);
    snprintf(cmd, sizeof cmd, "bash '%s' %s", script, args);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    out[0] = '\0';
    if (!fgets(out, (int)len, p))
        out[0] = '\0';
    int status = pclose(p);
    out[strcspn(out, "\n")] = '\0';
    return status == 0 && out[0] ? 0 : -1;
}

static inline void pg_harness_stop(void)
{
    if (!pg_harness_dir[0])
        return;
    char ignored[64];
    char args[320];
    snprintf(args, sizeof args, "stop '%s'", pg_harness_dir);
    pg_harness_run(args, ignored, sizeof ignored);
    pg_harness_dir[0] = '\0';
}

/* Starts the server (once per process) and returns the URL of its database "pbtest" (static
 * storage). Exits with status 2 when the server cannot start. */
static inline const char *pg_harness_start(void)
{
    static char url[512];
    if (pg_harness_dir[0])
        return url;
    const char *base = getenv("TMPDIR");
    snprintf(pg_harness_dir, sizeof pg_harness_dir, "%s/pbpg-XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(pg_harness_dir)) {
        perror("pg_harness: mkdtemp");
        exit(2);
    }
    char args[320];
    snprintf(args, sizeof args, "start '%s' %ld", pg_harness_dir, (long)getpid());
    if (pg_harness_run(args, url, sizeof url) != 0) {
        fprintf(stderr, "pg_harness: the PostgreSQL test server did not start (see above); "
                        "this is a failure, not a skip\n");
        pg_harness_stop();
        exit(2);
    }
    atexit(pg_harness_stop);
    return url;
}

/* Creates another database on the running server and returns its URL (static storage, valid
 * until the next call). Exits with status 2 on failure. */
static inline const char *pg_harness_createdb(const char *name)
{
    static char url[512];
    pg_harness_start();
    char args[512];
    snprintf(args, sizeof args, "createdb '%s' '%s'", pg_harness_dir, name);
    if (pg_harness_run(args, url, sizeof url) != 0) {
        fprintf(stderr, "pg_harness: cannot create database %s\n", name);
        exit(2);
    }
    return url;
}

#endif
