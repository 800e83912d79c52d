/* test_emotion_data.c — the emotion classifier's pure parts: tokenizer features, dataset
 * readers for every format (bad lines named by number, as a table), classification metrics and
 * threshold search, and the shapes of remote classifier answers (as a table). */
#include "check.h"
#include "emotion/emodata.h"
#include "emotion/emofeat.h"
#include "emotion/emohttp.h"
#include "emotion/evalclass.h"
#include "base/pb.h"

#include <stdint.h>

static const struct emofeat_opts feat = {EMOFEAT_DEFAULT, 20};

static size_t features(const char *text, uint32_t *out)
{
    size_t n = 0;
    char err[PB_ERR_LEN];
    CHECK_INT(emofeat_extract(&feat, text, strlen(text), out, EMOFEAT_MAX_FEATURES, &n, err),
              PB_OK);
    return n;
}

static int same_features(const char *a, const char *b)
{
    static uint32_t fa[EMOFEAT_MAX_FEATURES], fb[EMOFEAT_MAX_FEATURES];
    size_t na = features(a, fa), nb = features(b, fb);
    return na == nb && memcmp(fa, fb, na * sizeof *fa) == 0;
}

static void test_tokenizer_is_deterministic_and_folds_ascii_case(void)
{
    CHECK(same_features("오늘 정말 Happy 해요", "오늘 정말 happy 해요"));
    CHECK(same_features("  오늘\t정말  ", "오늘 정말"));
    CHECK(!same_features("가나 다", "가 나다")); /* word boundaries are features */
}

static void test_tokenizer_counts_ngrams_of_one_word(void)
{
    static uint32_t f[EMOFEAT_MAX_FEATURES];
    /* "기쁨": char1 2, char2 3 (^기 기쁨 쁨$), char3 2 (^기쁨 기쁨$), word1 1 = 8 */
    CHECK_INT(features("기쁨", f), 8);
    /* two words add each word's 8, one word bigram and the grams across the space: 쁨기,
     * 기쁨기, 쁨기쁨 */
    CHECK_INT(features("기쁨 기쁨", f), 20);
    for (size_t i = 0; i < 20; i++)
        CHECK(f[i] > 0 && f[i] < (1u << 20));
}

static int has(const uint32_t *f, size_t n, uint32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (f[i] == id)
            return 1;
    return 0;
}

static void test_grams_across_a_space_match_the_same_grams_inside_a_word(void)
{
    static uint32_t spaced[EMOFEAT_MAX_FEATURES], joined[EMOFEAT_MAX_FEATURES],
        gram[EMOFEAT_MAX_FEATURES];
    size_t ns = features("재미 없다", spaced), nj = features("재미없다", joined);
    struct emofeat_opts only3 = {EMOFEAT_CHAR3, 20};
    size_t ng = 0;
    char err[PB_ERR_LEN];
    /* "재미없" and "미없다" are trigrams inside "재미없다" (its 2nd and 3rd, after "^재미") */
    CHECK_INT(emofeat_extract(&only3, "재미없다", strlen("재미없다"), gram, EMOFEAT_MAX_FEATURES,
                              &ng, err),
              PB_OK);
    CHECK_INT(ng, 4);
    CHECK(has(spaced, ns, gram[1]) && has(spaced, ns, gram[2]));
    CHECK(has(joined, nj, gram[1]) && has(joined, nj, gram[2]));
    struct emofeat_opts no_cross = {EMOFEAT_DEFAULT & ~EMOFEAT_CROSS, 20};
    CHECK_INT(emofeat_extract(&no_cross, "재미 없다", strlen("재미 없다"), spaced,
                              EMOFEAT_MAX_FEATURES, &ns, err),
              PB_OK);
    CHECK(!has(spaced, ns, gram[1]) && !has(spaced, ns, gram[2]));
}

static void test_tokenizer_rejects_invalid_utf8_and_accepts_empty(void)
{
    uint32_t f[64];
    size_t n = 99;
    char err[PB_ERR_LEN];
    CHECK_INT(emofeat_extract(&feat, "ab\xff", 3, f, 64, &n, err), PB_ERR_INVALID);
    CHECK(strstr(err, "UTF-8") != NULL);
    CHECK_INT(emofeat_extract(&feat, "a\0b", 3, f, 64, &n, err), PB_ERR_INVALID);
    CHECK_INT(emofeat_extract(&feat, "   ", 3, f, 64, &n, err), PB_OK);
    CHECK_INT(n, 0);
    struct emofeat_opts bad = {0, 20};
    CHECK_INT(emofeat_extract(&bad, "a", 1, f, 64, &n, err), PB_ERR_INVALID);
}

static void test_tokenizer_bounds_features_of_huge_text(void)
{
    size_t len = 3u << 20;
    char *big = malloc(len);
    uint32_t *f = malloc(EMOFEAT_MAX_FEATURES * sizeof *f);
    size_t n = 0;
    char err[PB_ERR_LEN];
    for (size_t i = 0; i < len; i++)
        big[i] = i % 3 == 2 ? ' ' : 'a';
    CHECK_INT(emofeat_extract(&feat, big, len, f, EMOFEAT_MAX_FEATURES, &n, err), PB_OK);
    CHECK(n > 0 && n <= EMOFEAT_MAX_FEATURES);
    free(big);
    free(f);
}

static void test_feature_flags_parse_and_name(void)
{
    uint32_t flags;
    char err[PB_ERR_LEN], name[96];
    CHECK_INT(emofeat_flags_parse("char1,word2,jamo", &flags, err), PB_OK);
    CHECK_INT(flags, EMOFEAT_CHAR1 | EMOFEAT_WORD2 | EMOFEAT_JAMO);
    emofeat_flags_name(flags, name, sizeof name);
    CHECK_STR(name, "char1,word2,jamo");
    CHECK_INT(emofeat_flags_parse("char9", &flags, err), PB_ERR_INVALID);
    CHECK(strstr(err, "char9") != NULL);
}

static const char *fixture(const char *name)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/emotion/%s", getenv("PB_SOURCE_DIR") ?: ".",
             name);
    return path;
}

static void test_goemotions_reader_reads_ids_and_label_names(void)
{
    char err[PB_ERR_LEN], labels[1024];
    struct emodata *d = NULL;
    snprintf(labels, sizeof labels, "%s", fixture("labels.txt"));
    struct emodata_opts o = {.format = EMODATA_GOEMOTIONS, .labels_path = labels};
    CHECK_INT(emodata_read(fixture("goemotions_tiny.tsv"), &o, &d, err), PB_OK);
    if (!d)
        return;
    CHECK_INT(d->n, 5);
    CHECK_INT(d->n_labels, 4);
    CHECK_STR(d->label[1].name, "sadness");
    CHECK_STR(d->label[1].display, "슬픔");
    CHECK_STR(d->label[1].group, "negative");
    CHECK_STR(d->label[3].display, "중립");
    CHECK_STR(d->text[4], "행복하지만 조금 슬프기도 해요");
    CHECK_INT(d->label_start[5] - d->label_start[4], 2); /* "0,1" */
    emodata_free(d);
}

static void test_aihub_reader_takes_every_person_turn(void)
{
    char err[PB_ERR_LEN];
    struct emodata *d = NULL;
    struct emodata_opts o = {.format = EMODATA_AIHUB};
    CHECK_INT(emodata_read(fixture("aihub_tiny.csv"), &o, &d, err), PB_OK);
    if (!d)
        return;
    CHECK_INT(d->n, 6); /* 2 + 1 + 3 person sentences */
    CHECK_INT(d->n_labels, 3);
    CHECK_STR(d->text[0], "합격했어, 정말 신나!");
    CHECK_STR(d->text[2], "무릎이 아파서 \n걷기 힘들어.");
    CHECK_STR(d->text[3], "친구가 \"약속\"을 또 어겼어.");
    /* labels sorted by name: 낙담한, 노여워하는, 신이 난 */
    CHECK_STR(d->label[d->labels[0]].name, "신이 난");
    CHECK_STR(d->label[d->labels[0]].group, "positive");
    CHECK_STR(d->label[d->labels[2]].group, "negative");
    emodata_free(d);
}

static void test_csv_and_jsonl_readers_with_names_file(void)
{
    char err[PB_ERR_LEN];
    struct emodata *d = NULL;
    struct emodata_opts o = {.format = EMODATA_CSV, .text_col = "text", .label_col = "label"};
    CHECK_INT(emodata_read(fixture("plain.csv"), &o, &d, err), PB_OK);
    if (d) {
        CHECK_INT(d->n, 3);
        CHECK_STR(d->text[2], "좋아, 정말 좋아");
        CHECK_INT(emodata_apply_names(d, fixture("names.tsv"), err), PB_OK);
        CHECK_STR(d->label[0].name, "긍정");
        CHECK_STR(d->label[0].display, "긍정적");
        CHECK_STR(d->label[0].group, "positive");
        emodata_free(d);
    }
    d = NULL;
    o.format = EMODATA_JSONL;
    CHECK_INT(emodata_read(fixture("plain.jsonl"), &o, &d, err), PB_OK);
    if (d) {
        CHECK_INT(d->n, 3);
        CHECK_INT(d->n_labels, 4); /* "3", joy, neutral, sadness */
        CHECK_INT(d->label_start[2] - d->label_start[1], 2);
        emodata_free(d);
    }
}

/* Bad inputs, one per row: the error must name the file's line. */
static const struct {
    enum emodata_format format;
    const char *content;
    const char *expect; /* substring of the error */
} bad_rows[] = {
    {EMODATA_GOEMOTIONS, "좋아\t0\n싫어\t9\n", "line 2: label ids"},
    {EMODATA_GOEMOTIONS, "좋아\t0\n\n탭이 없음\n", "line 3: expected text<TAB>"},
    {EMODATA_GOEMOTIONS, "좋아\t0;1\n", "line 1: bad label list"},
    {EMODATA_GOEMOTIONS, "좋아\t0\n \t1\n", "line 2: empty text"},
    {EMODATA_GOEMOTIONS, "\xff\xfe\t1\n", "line 1: text is not valid UTF-8"},
    {EMODATA_CSV, "sentence,label\na,b\n", "line 1: no column named 'text'"},
    {EMODATA_CSV, "text,label\n좋아,긍정\n\"열린 따옴표,부정\n",
     "line 3: quoted field never closed"},
    {EMODATA_CSV, "text,label\n좋아,긍정\n,부정\n", "line 3: empty text"},
    {EMODATA_CSV, "text,label\n좋아,\n", "line 2: empty, too long or non-UTF-8 label"},
    {EMODATA_JSONL, "{\"text\":\"좋아\",\"label\":\"a\"}\nnot json\n", "line 2: not a JSON object"},
    {EMODATA_JSONL, "{\"text\":\"좋아\"}\n", "line 1: needs a non-empty string 'text'"},
    {EMODATA_JSONL, "{\"text\":\"좋아\",\"label\":{}}\n", "line 1: 'label' must be"},
    {EMODATA_AIHUB, "감정_대분류,사람문장1\n기쁨,좋아\n", "line 1: no column named '감정_소분류'"},
    {EMODATA_AIHUB, "감정_대분류,감정_소분류,사람문장1\n기쁨,기쁨,좋아\n기쁨,기쁨,\n",
     "line 3: no 사람문장"},
    {EMODATA_CSV, "", "empty file"},
    {EMODATA_GOEMOTIONS, "\n\n", "no examples"},
};

static void test_readers_name_the_bad_line(void)
{
    const char *dir = check_tmpdir();
    char path[512], labels[512], err[PB_ERR_LEN];
    snprintf(labels, sizeof labels, "%s", fixture("labels.txt"));
    snprintf(path, sizeof path, "%s/bad.txt", dir);
    for (size_t i = 0; i < sizeof bad_rows / sizeof bad_rows[0]; i++) {
        FILE *f = fopen(path, "wb");
        fputs(bad_rows[i].content, f);
        fclose(f);
        struct emodata *d = NULL;
        struct emodata_opts o = {.format = bad_rows[i].format,
                                 .labels_path = labels,
                                 .text_col = "text",
                                 .label_col = "label"};
        err[0] = '\0';
        int rc = emodata_read(path, &o, &d, err);
        if (rc == PB_OK || !strstr(err, bad_rows[i].expect)) {
            fprintf(stderr, "bad_rows[%zu]: rc %d, error '%s', expected '%s'\n", i, rc, err,
                    bad_rows[i].expect);
            check_failures++;
        }
        CHECK(d == NULL);
        emodata_free(d);
    }
}

static void test_reader_maps_labels_to_a_known_set(void)
{
    static const char *known[] = {"부정", "긍정"};
    char err[PB_ERR_LEN];
    struct emodata *d = NULL;
    struct emodata_opts o = {.format = EMODATA_CSV,
                             .text_col = "text",
                             .label_col = "label",
                             .known_labels = known,
                             .n_known = 2};
    CHECK_INT(emodata_read(fixture("plain.csv"), &o, &d, err), PB_OK);
    if (d) {
        CHECK_INT(d->labels[0], 1); /* model order kept, not re-sorted */
        emodata_free(d);
    }
    static const char *other[] = {"joy"};
    o.known_labels = other, o.n_known = 1;
    CHECK_INT(emodata_read(fixture("plain.csv"), &o, &d, err), PB_ERR_INVALID);
    CHECK(strstr(err, "line 2: label '긍정' is not one of the model's") != NULL);
}

static void test_metrics_match_hand_computation(void)
{
    struct evalclass e;
    char err[PB_ERR_LEN];
    CHECK_INT(evalclass_init(&e, 3, err), PB_OK);
    /* truth / prediction: {0}/{0}, {1}/{0}, {0,2}/{0,2}, {1}/{1,2} */
    uint16_t t0[] = {0}, p0[] = {0}, t1[] = {1}, p1[] = {0}, t2[] = {0, 2}, p2[] = {2, 0},
             t3[] = {1}, p3[] = {1, 2};
    evalclass_add(&e, t0, 1, p0, 1);
    evalclass_add(&e, t1, 1, p1, 1);
    evalclass_add(&e, t2, 2, p2, 2);
    evalclass_add(&e, t3, 1, p3, 2);
    struct evalclass_stats s;
    evalclass_label(&e, 0, &s); /* tp 2 fp 1 fn 0 */
    CHECK_NEAR(s.precision, 2.0 / 3, 1e-12);
    CHECK_NEAR(s.recall, 1.0, 1e-12);
    CHECK_NEAR(s.f1, 0.8, 1e-12);
    CHECK_INT(s.support, 2);
    evalclass_label(&e, 1, &s); /* tp 1 fp 0 fn 1 */
    CHECK_NEAR(s.f1, 2.0 / 3, 1e-12);
    evalclass_label(&e, 2, &s); /* tp 1 fp 1 fn 0 */
    CHECK_NEAR(s.f1, 2.0 / 3, 1e-12);
    evalclass_macro(&e, &s);
    CHECK_NEAR(s.f1, (0.8 + 2.0 / 3 + 2.0 / 3) / 3, 1e-12);
    evalclass_micro(&e, &s); /* tp 4 fp 2 fn 1 */
    CHECK_NEAR(s.f1, 8.0 / 11, 1e-12);
    CHECK_NEAR(evalclass_accuracy(&e), 0.5, 1e-12);
    evalclass_free(&e);
}

static void test_best_threshold_maximises_f1(void)
{
    float score[] = {0.9f, 0.8f, 0.35f, 0.3f, 0.2f, 0.1f};
    uint8_t pos[] = {1, 1, 1, 0, 0, 0};
    double f1;
    double t = evalclass_best_threshold(score, pos, 6, 0.05, 0.95, 0.01, &f1);
    CHECK(t > 0.3 && t <= 0.35 + 1e-9);
    CHECK_NEAR(f1, 1.0, 1e-12);
    double grid[3] = {0.05, 0.32, 0.85}, curve[3];
    evalclass_f1_at(score, pos, 6, grid, 3, curve);
    CHECK_NEAR(curve[0], 2.0 / 3, 1e-12); /* all 6 predicted: tp 3 fp 3 */
    CHECK_NEAR(curve[1], 1.0, 1e-12);
    CHECK_NEAR(curve[2], 0.5, 1e-12); /* tp 1 fn 2 */
    uint8_t none[] = {0, 0, 0, 0, 0, 0};
    evalclass_best_threshold(score, none, 6, 0.05, 0.95, 0.01, &f1);
    CHECK_NEAR(f1, 0.0, 1e-12);
}

/* Remote classifier answers: accepted shapes with their top label, and refused ones. */
static const struct {
    const char *body;
    int rc;
    size_t n;
    const char *top;
} http_rows[] = {
    {"[{\"label\":\"joy\",\"score\":0.2},{\"label\":\"anger\",\"score\":0.7}]", PB_OK, 2, "anger"},
    {"[[{\"label\":\"joy\",\"score\":0.9},{\"label\":\"fear\",\"score\":0.1}]]", PB_OK, 2, "joy"},
    {"{\"label\":\"sadness\",\"score\":0.5}", PB_OK, 1, "sadness"},
    {"{\"labels\":[\"a\",\"b\"],\"scores\":[0.1,0.9]}", PB_OK, 2, "b"},
    {"{\"predictions\":[{\"label\":\"x\",\"score\":1}]}", PB_OK, 1, "x"},
    {"[]", PB_ERR_INVALID, 0, NULL},
    {"[{\"label\":\"joy\"}]", PB_ERR_INVALID, 0, NULL},
    {"{\"error\":\"model loading\"}", PB_ERR_INVALID, 0, NULL},
    {"<html>502</html>", PB_ERR_INVALID, 0, NULL},
    {"[{\"label\":3,\"score\":0.1}]", PB_ERR_INVALID, 0, NULL},
};

static void test_http_answer_shapes(void)
{
    for (size_t i = 0; i < sizeof http_rows / sizeof http_rows[0]; i++) {
        struct emohttp_label out[8];
        size_t n = 99;
        char err[PB_ERR_LEN];
        int rc = emohttp_parse(http_rows[i].body, strlen(http_rows[i].body), out, 8, &n, err);
        if (rc != http_rows[i].rc ||
            (rc == PB_OK && (n != http_rows[i].n || strcmp(out[0].label, http_rows[i].top)))) {
            fprintf(stderr, "http_rows[%zu]: rc %d n %zu\n", i, rc, n);
            check_failures++;
        }
    }
    struct emohttp_label out[1];
    size_t n;
    char err[PB_ERR_LEN];
    const char *three = "[{\"label\":\"a\",\"score\":0.1},{\"label\":\"b\",\"score\":0.3},"
                        "{\"label\":\"c\",\"score\":0.2}]";
    CHECK_INT(emohttp_parse(three, strlen(three), out, 1, &n, err), PB_OK);
    CHECK_INT(n, 1);
    CHECK_STR(out[0].label, "b");
}

static void test_http_backend_reports_unreachable_server(void)
{
    emohttp *h = NULL;
    char err[PB_ERR_LEN];
    struct emohttp_label out[4];
    size_t n;
    CHECK_INT(emohttp_new("ftp://x", 1, &h, err), PB_ERR_INVALID);
    CHECK_INT(emohttp_new("http://127.0.0.1:1/predict", 2, &h, err), PB_OK);
    if (!h)
        return;
    int rc = emohttp_classify(h, "좋아", strlen("좋아"), out, 4, &n, err);
    CHECK(rc == PB_ERR_UNAVAILABLE || rc == PB_ERR_TIMEOUT);
    CHECK(strstr(err, "emotion classifier") != NULL);
    emohttp_free(h);
}

int main(void)
{
    RUN(test_tokenizer_is_deterministic_and_folds_ascii_case);
    RUN(test_tokenizer_counts_ngrams_of_one_word);
    RUN(test_grams_across_a_space_match_the_same_grams_inside_a_word);
    RUN(test_tokenizer_rejects_invalid_utf8_and_accepts_empty);
    RUN(test_tokenizer_bounds_features_of_huge_text);
    RUN(test_feature_flags_parse_and_name);
    RUN(test_goemotions_reader_reads_ids_and_label_names);
    RUN(test_aihub_reader_takes_every_person_turn);
    RUN(test_csv_and_jsonl_readers_with_names_file);
    RUN(test_readers_name_the_bad_line);
    RUN(test_reader_maps_labels_to_a_known_set);
    RUN(test_metrics_match_hand_computation);
    RUN(test_best_threshold_maximises_f1);
    RUN(test_http_answer_shapes);
    RUN(test_http_backend_reports_unreachable_server);
    CHECK_DONE();
}
