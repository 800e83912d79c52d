/* writer_harness.h — shared by the writer's tests (tests/test_store_writer.c,
 * tests/test_store_erase.c): one database path per test, handles on it, a pause, and a log
 * sink for writer_set_log that a test can search. Header-only; owns nothing beyond the lines
 * it collects. */
#ifndef WRITER_HARNESS_H
#define WRITER_HARNESS_H

#include "check.h"
#include "store/store.h"
#include "testdb.h"

#include <pthread.h>
#include <time.h>

static char db_path[512];

/* A handle on db_path (NORMAL: these tests are about order and ids, not power loss). */
static inline store *open_store(void)
{
    char err[PB_ERR_LEN];
    store *s = NULL;
    struct store_options opt = {.busy_timeout_ms = 2000, .synchronous = "NORMAL"};
    if (store_open(db_path, &opt, &s, err) != PB_OK) {
        fprintf(stderr, "store_open: %s\n", err);
        exit(2);
    }
    return s;
}

static inline void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* What the writer logged, one message a line. */
struct log_lines {
    pthread_mutex_t mu;
    char text[4096];
};

static inline void log_append(const char *msg, void *ud)
{
    struct log_lines *l = ud;
    pthread_mutex_lock(&l->mu);
    size_t len = strlen(l->text);
    snprintf(l->text + len, sizeof l->text - len, "%s\n", msg);
    pthread_mutex_unlock(&l->mu);
}

static inline int log_has(struct log_lines *l, const char *what)
{
    pthread_mutex_lock(&l->mu);
    int found = strstr(l->text, what) != NULL;
    pthread_mutex_unlock(&l->mu);
    return found;
}

#endif
