/* bench_emotion.c — prediction throughput of the embedded emotion model on one thread: scores
 * every sentence of a GoEmotions TSV file (default $PB_DATA_DIR/goemotions-ko/dev.tsv) several
 * times and reports the median sentences/s (wall clock and CPU time), with the tokenizer alone
 * as the baseline measured in the same run, and what the service does per chat turn
 * (emotion_classify): one tokenization, the emotion head's scores and the segment decision
 * (the segment head of a bundle).
 * usage: bench-emotion [MODEL] [TSV] [ROUNDS] */
#include "emotion/emofeat.h"
#include "emotion/emomodel.h"
#include "base/pb.h"

#include "benchstat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CPU time of this process: robust to other jobs sharing the cores (wall time is not). */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Sentences of a TSV file (first column), in one buffer; returns how many. */
static size_t read_texts(char *buf, char ***out)
{
    size_t n = 0, cap = 1024;
    char **t = malloc(cap * sizeof *t);
    for (char *p = strtok(buf, "\n"); p && t; p = strtok(NULL, "\n")) {
        char *tab = strchr(p, '\t');
        if (tab)
            *tab = '\0';
        if (n == cap)
            t = realloc(t, (cap *= 2) * sizeof *t);
        if (t)
            t[n++] = p;
    }
    *out = t;
    return t ? n : 0;
}

int main(int argc, char **argv)
{
    char err[PB_ERR_LEN], data[1024];
    const char *dir = getenv("PB_DATA_DIR") ? getenv("PB_DATA_DIR") : "../shared/data";
    snprintf(data, sizeof data, "%s/goemotions-ko/dev.tsv", dir);
    const char *model = argc > 1 ? argv[1] : "models/emotion-goemotions.pbem";
    const char *path = argc > 2 ? argv[2] : data;
    int rounds = argc > 3 ? atoi(argv[3]) : 7;
    emomodel *m;
    char *buf, **texts;
    if (rounds < 1 || rounds > 99)
        rounds = 7;
    if (emomodel_load(model, &m, err) != PB_OK || pb_read_file(path, 1u << 30, &buf, NULL, err)) {
        fprintf(stderr, "bench-emotion: %s\n", err);
        return 1;
    }
    size_t n = read_texts(buf, &texts), L = emomodel_n_labels(m);
    float *s = malloc(L * sizeof *s);
    uint32_t *ids = malloc(EMOFEAT_MAX_FEATURES * sizeof *ids);
    double predict[99], tokenize[99], predict_cpu[99], full[99], full_cpu[99], sink = 0;
    for (int r = 0; r < rounds; r++) {
        double t0 = pb_now_monotonic();
        for (size_t i = 0; i < n; i++) {
            size_t k;
            emofeat_extract(emomodel_feat(m), texts[i], strlen(texts[i]), ids, EMOFEAT_MAX_FEATURES,
                            &k, err);
            sink += (double)k;
        }
        double t1 = pb_now_monotonic(), c1 = cpu_now();
        for (size_t i = 0; i < n; i++)
            if (emomodel_scores(m, texts[i], strlen(texts[i]), s, err) == PB_OK)
                sink += s[0];
        double t2 = pb_now_monotonic(), c2 = cpu_now();
        for (size_t i = 0; i < n; i++) {
            size_t k;
            if (emomodel_features(m, texts[i], strlen(texts[i]), ids, &k, err) != PB_OK)
                continue;
            emomodel_scores_ids(m, ids, k, s);
            sink += (double)emomodel_segment_ids(m, ids, k, s)[0];
        }
        double t3 = pb_now_monotonic(), c3 = cpu_now();
        full[r] = (double)n / (t3 - t2);
        full_cpu[r] = (double)n / (c3 - c2);
        tokenize[r] = (double)n / (t1 - t0);
        predict[r] = (double)n / (t2 - t1);
        predict_cpu[r] = (double)n / (c2 - c1);
    }
    qsort(predict, (size_t)rounds, sizeof *predict, benchstat_cmp_double);
    qsort(tokenize, (size_t)rounds, sizeof *tokenize, benchstat_cmp_double);
    qsort(predict_cpu, (size_t)rounds, sizeof *predict_cpu, benchstat_cmp_double);
    qsort(full, (size_t)rounds, sizeof *full, benchstat_cmp_double);
    qsort(full_cpu, (size_t)rounds, sizeof *full_cpu, benchstat_cmp_double);
    printf("sentences %zu, rounds %d, model %s (%zu features, %zu labels)\n", n, rounds, model,
           emomodel_n_rows(m), L);
    printf("tokenize only   median %10.0f sentences/s\n", tokenize[rounds / 2]);
    printf("predict (all)   median %10.0f sentences/s  (%.2fx the tokenizer's time)\n",
           predict[rounds / 2], tokenize[rounds / 2] / predict[rounds / 2]);
    printf("predict (all)   median %10.0f sentences per CPU-second\n", predict_cpu[rounds / 2]);
    printf("labels + segment median %10.0f sentences/s, %10.0f per CPU-second\n", full[rounds / 2],
           full_cpu[rounds / 2]);
    fprintf(stderr, "(checksum %g)\n", sink);
    free(s), free(ids), free(texts), free(buf);
    emomodel_free(m);
    return 0;
}
