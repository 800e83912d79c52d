/* test_emotion_bundle.c — model bundles and the segment (issue 16): a bundle of an emotion
 * head and a segment head survives the file round trip and says its heads; the segment head's
 * decision (calibrated neutral, else the best polarity) is what emotion_classify reports, and
 * the first label then agrees with it; damaged bundles give clear errors; segments of label
 * sets (loose and strict), the polarity and KOTE readers and the segment set built from
 * several sources; single-mode training tunes the neutral threshold. */
#include "check.h"
#include "base/config.h"
#include "base/pb.h"
#include "emotion/emodata.h"
#include "emotion/emolabels.h"
#include "emotion/emomodel.h"
#include "emotion/emotion.h"
#include "emotion/emotrain.h"

#include <stdint.h>

static const struct emofeat_opts FEAT = {EMOFEAT_WORD1, 16};

static uint32_t key_of(const char *word)
{
    uint32_t ids[EMOFEAT_MAX_FEATURES];
    size_t n = 0;
    char err[PB_ERR_LEN];
    CHECK_INT(emofeat_extract(&FEAT, word, strlen(word), ids, EMOFEAT_MAX_FEATURES, &n, err),
              PB_OK);
    return n ? ids[0] : 1;
}

/* joy / sadness, "좋아" pushes joy strongly. */
static emomodel *emotion_head(void)
{
    static const char *name[] = {"joy", "sadness"}, *disp[] = {"기쁨", "슬픔"},
                      *grp[] = {"positive", "negative"};
    float thr[2] = {0.5f, 0.5f}, bias[2] = {0, -1}, w[2] = {6, -6};
    uint32_t key = key_of("좋아");
    struct emomodel_spec s = {EMOMODEL_MULTI, FEAT, 2, name, disp, grp, thr, bias, 1, &key, w};
    emomodel *m = NULL;
    char err[PB_ERR_LEN];
    CHECK_INT(emomodel_build(&s, &m, err), PB_OK);
    return m;
}

/* negative / neutral / positive: "싸웠어" is negative, "좋아" positive, no known word neutral
 * (its bias), neutral threshold 0.5. Rows must be in ascending key order. */
static emomodel *segment_head(void)
{
    static const char *name[] = {"negative", "neutral", "positive"},
                      *disp[] = {"부정", "중립", "긍정"},
                      *grp[] = {"negative", "neutral", "positive"};
    float thr[3] = {0, 0.5f, 0}, bias[3] = {0, 2, 0};
    uint32_t k1 = key_of("싸웠어"), k2 = key_of("좋아");
    float w1[3] = {30, 0, 0}, w2[3] = {0, 0, 10};
    uint32_t keys[2] = {k1 < k2 ? k1 : k2, k1 < k2 ? k2 : k1};
    float w[6];
    memcpy(w, k1 < k2 ? w1 : w2, sizeof w1);
    memcpy(w + 3, k1 < k2 ? w2 : w1, sizeof w1);
    struct emomodel_spec s = {EMOMODEL_SINGLE, FEAT, 3, name, disp, grp, thr, bias, 2, keys, w};
    emomodel *m = NULL;
    char err[PB_ERR_LEN];
    CHECK_INT(emomodel_build(&s, &m, err), PB_OK);
    return m;
}

static emomodel *bundle(void)
{
    emomodel *heads[2] = {emotion_head(), segment_head()}, *b = NULL;
    const char *names[2] = {"emotion", "segment"};
    char err[PB_ERR_LEN];
    if (heads[0] && heads[1])
        CHECK_INT(emomodel_bundle((const emomodel *const *)heads, names, 2, &b, err), PB_OK);
    emomodel_free(heads[0]);
    emomodel_free(heads[1]);
    return b;
}

static const char *save(const emomodel *m, const char *name)
{
    static char path[512];
    char err[PB_ERR_LEN];
    snprintf(path, sizeof path, "%s/%s", check_tmpdir(), name);
    CHECK_INT(emomodel_save(m, path, err), PB_OK);
    return path;
}

static void test_bundle_round_trip_keeps_heads_and_scores(void)
{
    emomodel *b = bundle(), *back = NULL;
    char err[PB_ERR_LEN];
    CHECK(b != NULL);
    if (!b)
        return;
    CHECK_INT(emomodel_load(save(b, "b.pbem"), &back, err), PB_OK);
    if (back) {
        CHECK_INT(emomodel_n_heads(back), 2);
        CHECK_STR(emomodel_head_name(back, 0), "emotion");
        CHECK_STR(emomodel_head_name(back, 1), "segment");
        CHECK(emomodel_head_name(back, 2) == NULL);
        CHECK(emomodel_head(back, "emotion") == back);
        CHECK(emomodel_head(back, "kote") == NULL);
        const emomodel *seg = emomodel_head(back, "segment");
        CHECK(seg != NULL && emomodel_n_labels(seg) == 3);
        CHECK_INT(emomodel_n_labels(back), 2); /* the model's own labels are the emotion head's */
        float a[3], c[3];
        CHECK_INT(emomodel_scores(seg, "좋아", strlen("좋아"), a, err), PB_OK);
        CHECK_INT(emomodel_scores(emomodel_head(b, "segment"), "좋아", strlen("좋아"), c, err),
                  PB_OK);
        CHECK(memcmp(a, c, sizeof a) == 0);
        CHECK(a[2] > 0.9f);
    }
    emomodel *one = emotion_head(), *one_back = NULL;
    if (one) {
        CHECK_INT(emomodel_load(save(one, "one.pbem"), &one_back, err), PB_OK);
        if (one_back) {
            CHECK_INT(emomodel_n_heads(one_back), 1);
            CHECK_STR(emomodel_head_name(one_back, 0), "emotion");
            CHECK(emomodel_head(one_back, "segment") == NULL);
        }
    }
    emomodel_free(one);
    emomodel_free(one_back);
    emomodel_free(back);
    emomodel_free(b);
}

static void test_damaged_bundles_give_clear_errors(void)
{
    emomodel *b = bundle(), *x = NULL;
    char err[PB_ERR_LEN];
    if (!b)
        return;
    size_t len;
    const unsigned char *img = emomodel_image(b, &len);
    unsigned char *copy = malloc(len);
    memcpy(copy, img, len);
    copy[len - 3] ^= 0x10; /* inside the segment head */
    CHECK_INT(emomodel_parse(copy, len, &x, err), PB_ERR_INVALID);
    CHECK(strstr(err, "checksum") != NULL);
    for (size_t cut = 8; cut < len; cut += 17) {
        CHECK(emomodel_parse(img, cut, &x, err) == PB_ERR_INVALID);
        CHECK(x == NULL);
    }
    const emomodel *heads[2] = {b, emotion_head()};
    const char *names[2] = {"emotion", "a-name-far-too-long"};
    CHECK_INT(emomodel_bundle(heads, names, 2, &x, err), PB_ERR_INVALID); /* a bundle in a bundle */
    emomodel_free((emomodel *)heads[1]);
    free(copy);
    emomodel_free(b);
}

static emotion *open_model(const char *path)
{
    config *cfg = NULL;
    emotion *e = NULL;
    char err[PB_ERR_LEN];
    CHECK_INT(config_defaults(&cfg, err), PB_OK);
    CHECK_INT(config_set(cfg, "emotion.backend", "embedded", err), PB_OK);
    CHECK_INT(config_set(cfg, "emotion.model", path, err), PB_OK);
    CHECK_INT(emotion_open(cfg, &e, err), PB_OK);
    config_free(cfg);
    return e;
}

static void test_classify_reports_the_segment_heads_decision(void)
{
    emomodel *b = bundle();
    if (!b)
        return;
    emotion *e = open_model(save(b, "svc.pbem"));
    emomodel_free(b);
    CHECK(e != NULL && emotion_is_known(e));
    if (!e)
        return;
    struct emotion_result r[2];
    size_t n = 0;
    char err[PB_ERR_LEN];
    /* "좋아" alone: positive, joy first. */
    CHECK_INT(emotion_classify(e, "좋아", strlen("좋아"), 2, r, &n, err), PB_OK);
    CHECK_STR(r[0].segment, "positive");
    CHECK_STR(r[0].label, "joy");
    CHECK_STR(r[1].segment, "positive");
    /* The fine head still prefers joy, but the segment head reads a fight: negative, and the
     * first label is the best negative one. */
    const char *fight = "좋아 싸웠어";
    CHECK_INT(emotion_classify(e, fight, strlen(fight), 2, r, &n, err), PB_OK);
    CHECK_STR(r[0].segment, "negative");
    CHECK_STR(r[0].label, "sadness");
    CHECK_STR(r[1].label, "joy");
    CHECK(r[1].score > r[0].score);
    /* Nothing known: the neutral bias wins over the threshold. */
    CHECK_INT(emotion_classify(e, "그래서", strlen("그래서"), 1, r, &n, err), PB_OK);
    CHECK_STR(r[0].segment, "neutral");
    emotion_close(e);

    emomodel *one = emotion_head(); /* a version-1 model: the segment is the top label's group */
    if (!one)
        return;
    e = open_model(save(one, "v1.pbem"));
    emomodel_free(one);
    if (!e)
        return;
    CHECK_INT(emotion_classify(e, fight, strlen(fight), 1, r, &n, err), PB_OK);
    CHECK_STR(r[0].segment, "positive");
    CHECK_STR(r[0].label, "joy");
    emotion_close(e);
}

static void test_segments_of_label_groups(void)
{
    const char *joy_surprise[] = {"positive", "ambiguous"}, *mixed[] = {"positive", "negative"},
               *none[] = {"neutral"}, *unknown[] = {""};
    CHECK_STR(emolabels_segment_of(joy_surprise, 2, 0), "positive");
    CHECK(emolabels_segment_of(joy_surprise, 2, 1) == NULL);
    CHECK(emolabels_segment_of(mixed, 2, 0) == NULL);
    CHECK_STR(emolabels_segment_of(none, 1, 1), "neutral");
    CHECK(emolabels_segment_of(unknown, 1, 0) == NULL);
    CHECK(emolabels_segment_of(joy_surprise, 0, 0) == NULL);
    CHECK_STR(emolabels_group("짜증"), "negative");
    CHECK_STR(emolabels_group("기쁨"), "positive");
    CHECK_STR(emolabels_group("없음"), "neutral");
    CHECK_STR(emolabels_group("놀람"), "ambiguous");
    CHECK_STR(emolabels_display("neutral"), "중립");
}

static const char *write_file(const char *name, const char *text)
{
    static char path[4][512];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 512, "%s/%s", check_tmpdir(), name);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return p;
}

static void test_polarity_and_kote_readers_and_the_segment_set(void)
{
    char err[PB_ERR_LEN];
    struct emodata *pol = NULL, *kote = NULL, *seg = NULL;
    struct emodata_opts po = {.format = EMODATA_POLARITY};
    CHECK_INT(emodata_read(write_file("p.tsv", "좋은 영화\tpositive\n\n별로\tnegative\n"), &po,
                           &pol, err),
              PB_OK);
    if (pol) {
        CHECK_INT(pol->n, 2);
        CHECK_INT(pol->n_labels, 3);
        CHECK_STR(pol->label[pol->labels[0]].name, "positive");
        CHECK_STR(emodata_segment(pol, 1, 1), "negative");
    }
    CHECK_INT(emodata_read(write_file("bad.tsv", "좋은 영화\tgreat\n"), &po, &seg, err),
              PB_ERR_INVALID);
    CHECK(strstr(err, "line 1") != NULL);
    struct emodata_opts ko = {.format = EMODATA_KOTE,
                              .labels_path = write_file("kl.txt", "짜증\n기쁨\n없음\n놀람\n")};
    CHECK_INT(emodata_read(write_file("k.tsv", "7\t아 짜증나\t0\n8\t너무 좋다\t1,3\n"
                                               "9\t그렇구나\t2\n10\t뭐지\t3\n11\t글쎄\t0,1\n"),
                           &ko, &kote, err),
              PB_OK);
    if (kote) {
        CHECK_INT(kote->n, 5);
        CHECK_STR(kote->text[0], "아 짜증나");
        CHECK_STR(kote->label[0].group, "negative");
        CHECK_STR(emodata_segment(kote, 1, 0), "positive"); /* 기쁨 + 놀람, loose */
        CHECK(emodata_segment(kote, 1, 1) == NULL);         /* strict: 놀람 is ambiguous */
        CHECK(emodata_segment(kote, 3, 0) == NULL);
        CHECK(emodata_segment(kote, 4, 0) == NULL);
    }
    if (pol && kote) {
        const struct emodata *src[2] = {pol, kote};
        double w[2] = {1, 3};
        CHECK_INT(emodata_segments(src, w, 2, &seg, err), PB_OK);
        if (seg) {
            CHECK_INT(seg->n, 5); /* 2 reviews + 짜증, 기쁨+놀람, 없음 */
            CHECK_STR(seg->label[seg->labels[seg->label_start[4]]].name, "neutral");
            CHECK(seg->weight && seg->weight[0] == 1.0f && seg->weight[2] == 3.0f);
        }
    }
    emodata_free(seg);
    emodata_free(pol);
    emodata_free(kote);
}

static void test_single_mode_training_tunes_the_neutral_threshold(void)
{
    char err[PB_ERR_LEN], line[128];
    size_t cap = 1 << 16, used = 0;
    char *text = malloc(cap);
    const char *word[3] = {"최악이야", "그렇구나", "최고야"};
    for (int i = 0; i < 600; i++) {
        int k = i % 3;
        snprintf(line, sizeof line, "%s %d번째\t%s\n", word[k], i % 17, emolabels_segment_names[k]);
        used += (size_t)snprintf(text + used, cap - used, "%s", line);
    }
    struct emodata *d = NULL;
    struct emodata_opts po = {.format = EMODATA_POLARITY};
    CHECK_INT(emodata_read(write_file("n.tsv", text), &po, &d, err), PB_OK);
    free(text);
    struct emotrain_opts o;
    emotrain_defaults(&o);
    o.mode = EMOMODEL_SINGLE, o.min_count = 1, o.feat.bucket_bits = 14;
    emomodel *m = NULL;
    if (d)
        CHECK_INT(emotrain_fit(d, &o, &m, err), PB_OK);
    if (m) {
        float t = emomodel_label(m, 1)->threshold;
        CHECK(t >= 0.05f && t <= 0.95f);
        float s[3];
        CHECK_INT(emomodel_scores(m, "그렇구나", strlen("그렇구나"), s, err), PB_OK);
        CHECK_INT(emomodel_segment(m, s), 1);
        CHECK_INT(emomodel_scores(m, "최악이야", strlen("최악이야"), s, err), PB_OK);
        CHECK_INT(emomodel_segment(m, s), 0);
    }
    emomodel_free(m);
    emodata_free(d);
}

int main(void)
{
    RUN(test_bundle_round_trip_keeps_heads_and_scores);
    RUN(test_damaged_bundles_give_clear_errors);
    RUN(test_classify_reports_the_segment_heads_decision);
    RUN(test_segments_of_label_groups);
    RUN(test_polarity_and_kote_readers_and_the_segment_set);
    RUN(test_single_mode_training_tunes_the_neutral_threshold);
    CHECK_DONE();
}
