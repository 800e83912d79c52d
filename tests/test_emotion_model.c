/* test_emotion_model.c — the embedded emotion model end to end on tiny synthetic data: training
 * learns a separable set (multi- and single-label), the file round trip keeps scores exactly,
 * thresholds decide label sets, broken model files give clear errors, and the emotion
 * interface answers (or says "unknown") for every backend, also from several threads. */
#include "check.h"
#include "base/config.h"
#include "emotion/emodata.h"
#include "emotion/emomodel.h"
#include "emotion/emotion.h"
#include "emotion/emotrain.h"
#include "base/hash.h"
#include "base/pb.h"

#include <pthread.h>
#include <stdint.h>

static const char *keywords[3][3] = {
    {"행복해", "기뻐요", "최고야"}, {"슬퍼요", "눈물이", "우울해"}, {"화나요", "짜증나", "열받아"}};
static const char *labels[3] = {"joy", "sadness", "anger"};
static const char *fillers[] = {"오늘", "정말", "그냥", "친구가", "회사에서",
                                "집에", "너무", "요즘", "어제",   "진짜"};

static uint64_t rng = 42;
static unsigned next_rand(void)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)(rng >> 33);
}

/* Writes n synthetic JSON lines: filler words around one keyword of the label. */
static void write_synthetic(const char *path, int n)
{
    FILE *f = fopen(path, "w");
    for (int i = 0; i < n; i++) {
        int label = i % 3;
        fprintf(f, "{\"text\": \"%s %s %s %s\", \"label\": \"%s\"}\n", fillers[next_rand() % 10],
                fillers[next_rand() % 10], keywords[label][next_rand() % 3],
                fillers[next_rand() % 10], labels[label]);
    }
    fclose(f);
}

static struct emodata *read_jsonl(const char *path, const emomodel *m)
{
    char err[PB_ERR_LEN];
    const char *known[3];
    struct emodata *d = NULL;
    struct emodata_opts o = {.format = EMODATA_JSONL, .text_col = "text", .label_col = "label"};
    if (m) {
        for (int l = 0; l < 3; l++)
            known[l] = emomodel_label(m, (size_t)l)->name;
        o.known_labels = known, o.n_known = 3;
    }
    if (emodata_read(path, &o, &d, err) != PB_OK)
        fprintf(stderr, "read %s: %s\n", path, err);
    return d;
}

static const char *tmp_path(const char *name)
{
    static char dir[256], path[512];
    if (!dir[0])
        snprintf(dir, sizeof dir, "%s", check_tmpdir());
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static emomodel *train_synthetic(enum emomodel_mode mode)
{
    char err[PB_ERR_LEN];
    char train[512];
    snprintf(train, sizeof train, "%s", tmp_path("train.jsonl"));
    write_synthetic(train, 300);
    struct emodata *d = read_jsonl(train, NULL);
    struct emotrain_opts o;
    emomodel *m = NULL;
    emotrain_defaults(&o);
    o.mode = mode, o.feat.bucket_bits = 16, o.min_count = 1, o.epochs = 10, o.lr = 0.5;
    o.holdout = 0.2;
    if (!d || emotrain_fit(d, &o, &m, err) != PB_OK)
        fprintf(stderr, "train: %s\n", d ? err : "no data");
    emodata_free(d);
    return m;
}

static double accuracy_on_fresh_data(const emomodel *m)
{
    char err[PB_ERR_LEN], test[512];
    snprintf(test, sizeof test, "%s", tmp_path("test.jsonl"));
    write_synthetic(test, 90);
    struct emodata *d = read_jsonl(test, m);
    struct evalclass e;
    double acc = -1;
    if (d && evalclass_init(&e, 3, err) == PB_OK) {
        if (emotrain_eval(m, d, -1, &e, err) == PB_OK)
            acc = evalclass_accuracy(&e);
        evalclass_free(&e);
    }
    emodata_free(d);
    return acc;
}

static void test_training_learns_a_separable_set_multi_label(void)
{
    emomodel *m = train_synthetic(EMOMODEL_MULTI);
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK_INT(emomodel_mode(m), EMOMODEL_MULTI);
    CHECK(accuracy_on_fresh_data(m) >= 0.95);
    CHECK_STR(emomodel_label(m, 0)->name, "anger"); /* label set sorted by name */
    CHECK_STR(emomodel_label(m, 0)->display, "분노");
    CHECK_STR(emomodel_label(m, 0)->group, "negative");
    emomodel_free(m);
}

static void test_training_learns_a_separable_set_single_label(void)
{
    emomodel *m = train_synthetic(EMOMODEL_SINGLE);
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK(accuracy_on_fresh_data(m) >= 0.95);
    float s[3];
    char err[PB_ERR_LEN];
    CHECK_INT(emomodel_scores(m, "오늘 정말 행복해 요즘", strlen("오늘 정말 행복해 요즘"), s, err),
              PB_OK);
    CHECK_NEAR(s[0] + s[1] + s[2], 1.0, 1e-5); /* softmax */
    CHECK(s[emomodel_find_label(m, "joy")] > 0.5);
    emomodel_free(m);
}

static void test_training_is_deterministic_for_a_seed(void)
{
    emomodel *a = train_synthetic(EMOMODEL_MULTI);
    rng = 42; /* same synthetic data again */
    emomodel *b = train_synthetic(EMOMODEL_MULTI);
    rng = 42;
    emomodel *c = train_synthetic(EMOMODEL_MULTI);
    CHECK(a && b && c);
    if (a && b && c) {
        size_t la, lb, lc;
        const void *ia = emomodel_image(a, &la), *ib = emomodel_image(b, &lb),
                   *ic = emomodel_image(c, &lc);
        CHECK(lb == lc && memcmp(ib, ic, lb) == 0);
        (void)ia, (void)la;
    }
    emomodel_free(a);
    emomodel_free(b);
    emomodel_free(c);
}

static void test_save_load_round_trip_gives_identical_scores(void)
{
    emomodel *m = train_synthetic(EMOMODEL_MULTI), *loaded = NULL;
    char err[PB_ERR_LEN], path[512];
    snprintf(path, sizeof path, "%s", tmp_path("model.pbem"));
    if (!m)
        return;
    CHECK_INT(emomodel_save(m, path, err), PB_OK);
    CHECK_INT(emomodel_load(path, &loaded, err), PB_OK);
    if (loaded) {
        const char *texts[] = {"친구가 화나요", "어제 너무 슬퍼요", "abc", "?!"};
        for (size_t i = 0; i < 4; i++) {
            float a[3], b[3];
            CHECK_INT(emomodel_scores(m, texts[i], strlen(texts[i]), a, err), PB_OK);
            CHECK_INT(emomodel_scores(loaded, texts[i], strlen(texts[i]), b, err), PB_OK);
            CHECK(memcmp(a, b, sizeof a) == 0);
        }
        for (size_t l = 0; l < 3; l++)
            CHECK(emomodel_label(m, l)->threshold == emomodel_label(loaded, l)->threshold);
    }
    emomodel_free(loaded);
    emomodel_free(m);
}

/* A 2-label model with hand-set weights: feature rows for "좋아" push label 0, bias label 1. */
static emomodel *hand_model(float t0, float t1)
{
    static const char *name[] = {"joy", "sadness"}, *disp[] = {"기쁨", "슬픔"},
                      *grp[] = {"positive", "negative"};
    float thr[2] = {t0, t1}, bias[2] = {0.0f, 0.0f}, w[2] = {4.0f, -4.0f};
    uint32_t ids[EMOFEAT_MAX_FEATURES], key;
    size_t n;
    char err[PB_ERR_LEN];
    struct emofeat_opts f = {EMOFEAT_WORD1, 16};
    emofeat_extract(&f, "좋아", strlen("좋아"), ids, EMOFEAT_MAX_FEATURES, &n, err);
    key = ids[0];
    struct emomodel_spec s = {.mode = EMOMODEL_MULTI,
                              .feat = f,
                              .n_labels = 2,
                              .name = name,
                              .display = disp,
                              .group = grp,
                              .threshold = thr,
                              .bias = bias,
                              .n_rows = 1,
                              .keys = &key,
                              .weights = w};
    emomodel *m = NULL;
    CHECK_INT(emomodel_build(&s, &m, err), PB_OK);
    return m;
}

static void test_thresholds_decide_the_label_set(void)
{
    emomodel *m = hand_model(0.5f, 0.5f);
    float s[2];
    uint16_t out[2];
    char err[PB_ERR_LEN];
    if (!m)
        return;
    CHECK_INT(emomodel_scores(m, "좋아", strlen("좋아"), s, err), PB_OK);
    CHECK_NEAR(s[0], 1 / (1 + exp(-4.0)), 1e-3); /* int8 quantisation of 4.0 is exact */
    CHECK_INT(emomodel_decide(m, s, out), 1);
    CHECK_INT(out[0], 0);
    /* unknown word: both 0.5, both at threshold */
    CHECK_INT(emomodel_scores(m, "몰라", strlen("몰라"), s, err), PB_OK);
    CHECK_INT(emomodel_decide(m, s, out), 2);
    emomodel_free(m);
    m = hand_model(0.99f, 0.99f); /* nothing passes: the top label is the fallback */
    CHECK_INT(emomodel_scores(m, "좋아", strlen("좋아"), s, err), PB_OK);
    CHECK_INT(emomodel_decide(m, s, out), 1);
    CHECK_INT(out[0], 0);
    emomodel_free(m);
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (len)
        fwrite(data, 1, len, f);
    fclose(f);
}

static void refresh_checksum(unsigned char *img, size_t len)
{
    uint64_t sum = hash_fnv1a64(img + EMOMODEL_HEADER_SIZE, len - EMOMODEL_HEADER_SIZE, 0);
    memcpy(img + EMOMODEL_CHECKSUM_OFFSET, &sum, sizeof sum);
}

static void test_broken_model_files_give_clear_errors(void)
{
    emomodel *m = hand_model(0.5f, 0.5f), *x = NULL;
    char err[PB_ERR_LEN], path[512];
    size_t len;
    if (!m)
        return;
    const unsigned char *img = emomodel_image(m, &len);
    unsigned char *copy = malloc(len);
    snprintf(path, sizeof path, "%s", tmp_path("broken.pbem"));

    CHECK_INT(emomodel_load(tmp_path("missing.pbem"), &x, err), PB_ERR_NOT_FOUND);
    write_bytes(path, "", 0);
    CHECK_INT(emomodel_load(path, &x, err), PB_ERR_INVALID);
    CHECK(strstr(err, "empty file") != NULL);
    write_bytes(path, "hello, I am a text file\n", 24);
    CHECK_INT(emomodel_load(path, &x, err), PB_ERR_INVALID);
    CHECK(strstr(err, "not a promptbandit emotion model") != NULL);
    for (size_t cut = 1; cut < len; cut += cut < 80 ? 1 : 37) { /* every truncation point */
        write_bytes(path, img, cut);
        CHECK(emomodel_load(path, &x, err) == PB_ERR_INVALID);
        CHECK(x == NULL);
    }
    CHECK(strstr(err, "truncated") != NULL);
    memcpy(copy, img, len);
    copy[8] = 3; /* version 3: a format from the future */
    write_bytes(path, copy, len);
    CHECK_INT(emomodel_load(path, &x, err), PB_ERR_VERSION);
    CHECK(strstr(err, "version 3") != NULL);
    memcpy(copy, img, len);
    copy[len - 1] ^= 0x40;
    CHECK_INT(emomodel_parse(copy, len, &x, err), PB_ERR_INVALID);
    CHECK(strstr(err, "checksum") != NULL);
    memcpy(copy, img, len);
    memcpy(copy + EMOMODEL_HEADER_SIZE, "\xff\xff", 2); /* label name not UTF-8 */
    refresh_checksum(copy, len);
    CHECK_INT(emomodel_parse(copy, len, &x, err), PB_ERR_INVALID);
    CHECK(strstr(err, "name table") != NULL);
    CHECK_INT(emomodel_parse(img, len, &x, err), PB_OK); /* the intact image still parses */
    emomodel_free(x);
    free(copy);
    emomodel_free(m);
}

static config *emotion_config(const char *backend, const char *model)
{
    config *cfg = NULL;
    char err[PB_ERR_LEN];
    CHECK_INT(config_defaults(&cfg, err), PB_OK);
    CHECK_INT(config_set(cfg, "emotion.backend", backend, err), PB_OK);
    if (model)
        CHECK_INT(config_set(cfg, "emotion.model", model, err), PB_OK);
    return cfg;
}

static void test_emotion_without_model_answers_unknown(void)
{
    const char *cases[][2] = {{"none", NULL}, {"embedded", "/nonexistent/model.pbem"}};
    for (int i = 0; i < 2; i++) {
        config *cfg = emotion_config(cases[i][0], cases[i][1]);
        emotion *e = NULL;
        struct emotion_result r[5];
        size_t n;
        char err[PB_ERR_LEN];
        CHECK_INT(emotion_open(cfg, &e, err), PB_OK);
        if (e) {
            CHECK(!emotion_is_known(e));
            CHECK_STR(emotion_backend(e), "none");
            CHECK(emotion_note(e)[0] != '\0');
            CHECK_INT(emotion_classify(e, "안녕", strlen("안녕"), 5, r, &n, err), PB_OK);
            CHECK_INT(n, 1);
            CHECK_STR(r[0].label, "unknown");
            CHECK_STR(r[0].display, "알 수 없음");
        }
        emotion_close(e);
        config_free(cfg);
    }
    config *cfg = emotion_config("bert", NULL);
    emotion *e = NULL;
    char err[PB_ERR_LEN];
    CHECK_INT(emotion_open(cfg, &e, err), PB_ERR_INVALID);
    CHECK(strstr(err, "embedded, http or none") != NULL);
    config_free(cfg);
    cfg = emotion_config("http", NULL); /* no URL */
    CHECK_INT(emotion_open(cfg, &e, err), PB_ERR_INVALID);
    config_free(cfg);
}

static emotion *open_trained(void)
{
    emomodel *m = train_synthetic(EMOMODEL_MULTI);
    char err[PB_ERR_LEN], path[512];
    snprintf(path, sizeof path, "%s", tmp_path("iface.pbem"));
    emotion *e = NULL;
    if (m && emomodel_save(m, path, err) == PB_OK) {
        config *cfg = emotion_config("embedded", path);
        CHECK_INT(emotion_open(cfg, &e, err), PB_OK);
        config_free(cfg);
    }
    emomodel_free(m);
    return e;
}

static void test_emotion_classify_returns_sorted_top_k_and_rejects_bad_text(void)
{
    emotion *e = open_trained();
    struct emotion_result r[8];
    size_t n;
    char err[PB_ERR_LEN];
    if (!e)
        return;
    CHECK(emotion_is_known(e));
    CHECK_INT(emotion_classify(e, "오늘 너무 슬퍼요", strlen("오늘 너무 슬퍼요"), 2, r, &n, err),
              PB_OK);
    CHECK_INT(n, 2);
    CHECK_STR(r[0].label, "sadness");
    CHECK_STR(r[0].display, "슬픔");
    CHECK_STR(r[0].group, "negative");
    CHECK(r[0].score >= r[1].score);
    CHECK_INT(emotion_classify(e, "슬퍼요", strlen("슬퍼요"), 8, r, &n, err), PB_OK);
    CHECK_INT(n, 3); /* k larger than the label set */
    CHECK_INT(emotion_classify(e, "", 0, 5, r, &n, err), PB_ERR_INVALID);
    CHECK(strstr(err, "empty") != NULL);
    CHECK_INT(emotion_classify(e, " \n\t", 3, 5, r, &n, err), PB_ERR_INVALID);
    CHECK_INT(emotion_classify(e, "\xc3\x28", 2, 5, r, &n, err), PB_ERR_INVALID);
    CHECK(strstr(err, "UTF-8") != NULL);
    CHECK_INT(emotion_classify(e, "a", 1, 0, r, &n, err), PB_ERR_INVALID);
    size_t big = 4u << 20;
    char *mb = malloc(big);
    memset(mb, 'a', big);
    CHECK_INT(emotion_classify(e, mb, big, 5, r, &n, err), PB_ERR_LIMIT);
    CHECK(strstr(err, "at most") != NULL);
    CHECK_INT(emotion_classify(e, mb, EMOTION_MAX_TEXT_BYTES, 5, r, &n, err), PB_OK);
    free(mb);
    emotion_close(e);
}

struct thread_job {
    const emotion *e;
    int mismatches;
};

static void *classify_many(void *arg)
{
    struct thread_job *job = arg;
    const char *texts[] = {"오늘 행복해", "너무 슬퍼요", "진짜 화나요"};
    const char *want[] = {"joy", "sadness", "anger"};
    for (int i = 0; i < 3000; i++) {
        struct emotion_result r[3];
        size_t n;
        char err[PB_ERR_LEN];
        if (emotion_classify(job->e, texts[i % 3], strlen(texts[i % 3]), 3, r, &n, err) != PB_OK ||
            strcmp(r[0].label, want[i % 3]) != 0)
            job->mismatches++;
    }
    return NULL;
}

static void test_emotion_classify_is_thread_safe_on_a_shared_handle(void)
{
    emotion *e = open_trained();
    pthread_t t[4];
    struct thread_job jobs[4];
    if (!e)
        return;
    for (int i = 0; i < 4; i++) {
        jobs[i] = (struct thread_job){e, 0};
        pthread_create(&t[i], NULL, classify_many, &jobs[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_INT(jobs[i].mismatches, 0);
    }
    emotion_close(e);
}

int main(void)
{
    RUN(test_training_learns_a_separable_set_multi_label);
    RUN(test_training_learns_a_separable_set_single_label);
    RUN(test_training_is_deterministic_for_a_seed);
    RUN(test_save_load_round_trip_gives_identical_scores);
    RUN(test_thresholds_decide_the_label_set);
    RUN(test_broken_model_files_give_clear_errors);
    RUN(test_emotion_without_model_answers_unknown);
    RUN(test_emotion_classify_returns_sorted_top_k_and_rejects_bad_text);
    RUN(test_emotion_classify_is_thread_safe_on_a_shared_handle);
    CHECK_DONE();
}
