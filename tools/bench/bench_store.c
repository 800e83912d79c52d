/* bench_store.c — durable reward inserts per second: one transaction per reward
 * (feedback_insert_reward) against batches (feedback_insert_rewards), with synchronous FULL and
 * NORMAL. Each configuration runs several times on a fresh database; the median is reported
 * with its ratio to "FULL, one per transaction" measured in the same run.
 *   bench-store [--n REWARDS] [--batch SIZE] [--runs R] [--dir FOLDER] */
#include "store/arms.h"
#include "store/feedback.h"
#include "store/experiment.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct bench_config {
    const char *sync;
    size_t batch; /* 1 = one transaction per reward */
};

/* Prepares a fresh database with n impressions; returns their first id in *first. */
static int prepare(const char *path, const char *sync, size_t n, store **out, int64_t *first,
                   char *err)
{
    /* Impressions are written with NORMAL (fast), then the database is reopened with sync. */
    struct store_options opt = {.busy_timeout_ms = 5000, .synchronous = "NORMAL"};
    struct store_experiment e;
    int64_t arm, id;
    unlink(path);
    int rc = store_open(path, &opt, out, err);
    if (rc != PB_OK)
        return rc;
    if ((rc = store_experiment_get_or_create(*out, "bench", "live", "ucb1", &e, err)) != PB_OK)
        return rc;
    rc = arms_add(*out, e.id, "A", "bench prompt", NULL, &arm, NULL, err);
    struct feedback_impression imp = {.experiment_id = e.id, .arm_id = arm, .activated = 1};
    for (size_t i = 0; rc == PB_OK && i < n; i++) {
        rc = feedback_insert_impression(*out, &imp, &id, err);
        if (i == 0)
            *first = id;
    }
    store_experiment_clear(&e);
    store_close(*out);
    *out = NULL;
    opt.synchronous = sync;
    return rc != PB_OK ? rc : store_open(path, &opt, out, err);
}

/* Inserts n rewards in batches of cfg->batch; returns rewards per second or -1. */
static double run_once(const char *path, const struct bench_config *cfg, size_t n)
{
    char err[PB_ERR_LEN];
    store *s = NULL;
    int64_t first = 0, id;
    int dup;
    struct feedback_reward *r = calloc(cfg->batch, sizeof *r);
    double rate = -1;
    if (!r || prepare(path, cfg->sync, n, &s, &first, err) != PB_OK) {
        fprintf(stderr, "bench-store: %s\n", r ? err : "out of memory");
        goto cleanup;
    }
    double t0 = pb_now_monotonic();
    for (size_t done = 0; done < n; done += cfg->batch) {
        size_t k = n - done < cfg->batch ? n - done : cfg->batch;
        for (size_t j = 0; j < k; j++)
            r[j] = (struct feedback_reward){.impression_id = first + (int64_t)(done + j),
                                            .source = "click",
                                            .value = (double)((done + j) % 3) - 1};
        int rc = k == 1 ? feedback_insert_reward(s, r, &id, &dup, err)
                        : feedback_insert_rewards(s, r, k, NULL, NULL, err);
        if (rc != PB_OK) {
            fprintf(stderr, "bench-store: %s\n", err);
            goto cleanup;
        }
    }
    rate = (double)n / (pb_now_monotonic() - t0);
cleanup:
    store_close(s);
    free(r);
    return rate;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    size_t n = 2000, batch = 100;
    int runs = 5;
    const char *dir = "/tmp";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--n") == 0 && i + 1 < argc)
            n = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            batch = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else {
            fprintf(stderr, "usage: bench-store [--n REWARDS] [--batch SIZE] [--runs R] "
                            "[--dir FOLDER]\n");
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    if (n == 0 || batch < 2 || runs < 1 || runs > 99) {
        fprintf(stderr, "bench-store: need --n >= 1, --batch >= 2, 1 <= --runs <= 99\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/bench-store-%ld.db", dir, (long)getpid());
    const struct bench_config configs[] = {
        {"FULL", 1}, {"NORMAL", 1}, {"FULL", batch}, {"NORMAL", batch}};
    double medians[4], rates[99];
    printf("%zu rewards per run, %d runs, median rewards/s (ratio to FULL, 1 per txn)\n", n, runs);
    for (int c = 0; c < 4; c++) {
        for (int r = 0; r < runs; r++)
            if ((rates[r] = run_once(path, &configs[c], n)) < 0)
                return 1;
        qsort(rates, (size_t)runs, sizeof rates[0], compare_doubles);
        medians[c] = rates[runs / 2];
        printf("synchronous=%-6s %4zu per txn  %10.0f /s  x%.1f\n", configs[c].sync,
               configs[c].batch, medians[c], medians[c] / medians[0]);
        fflush(stdout);
    }
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s%s", path, suffixes[i]);
        unlink(p);
    }
    return 0;
}
