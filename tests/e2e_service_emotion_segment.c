/* e2e_service_emotion_segment.c — issue 16 over HTTP in this process: with a model bundle the
 * chat turn's segment (bandit.segments group, the default) is the classifier's segment head,
 * not the group of the first label: a sentence the segment head calls neutral is served by the
 * neutral segment although the emotion head (joy, sadness: no neutral label) must name one of
 * its labels, and a sentence it calls negative by the negative segment with a negative label
 * first. */
#include "emotion/emomodel.h"
#include "svc_harness.h"

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

/* emotion: joy / sadness, "좋아" is joy. segment: "싸웠어" negative, "좋아" positive, anything
 * else neutral (its bias over its threshold). Written to dir/bundle.pbem. */
static const char *write_bundle(void)
{
    static const char *en[] = {"joy", "sadness"}, *ed[] = {"기쁨", "슬픔"},
                      *eg[] = {"positive", "negative"};
    static const char *sn[] = {"negative", "neutral", "positive"}, *sd[] = {"부정", "중립", "긍정"};
    static char path[512];
    float et[2] = {0.5f, 0.5f}, eb[2] = {0, -1}, ew[2] = {6, -6};
    float st[3] = {0, 0.5f, 0}, sb[3] = {0, 2, 0};
    uint32_t good = key_of("좋아"), fight = key_of("싸웠어");
    uint32_t keys[2] = {good < fight ? good : fight, good < fight ? fight : good};
    float wg[3] = {0, 0, 10}, wf[3] = {30, 0, 0}, sw[6];
    memcpy(sw, good < fight ? wg : wf, sizeof wg);
    memcpy(sw + 3, good < fight ? wf : wg, sizeof wg);
    struct emomodel_spec es = {EMOMODEL_MULTI, FEAT, 2, en, ed, eg, et, eb, 1, &good, ew};
    struct emomodel_spec ss = {EMOMODEL_SINGLE, FEAT, 3, sn, sd, sn, st, sb, 2, keys, sw};
    emomodel *h[2] = {NULL, NULL}, *b = NULL;
    const char *names[2] = {"emotion", "segment"};
    char err[PB_ERR_LEN];
    snprintf(path, sizeof path, "%s/bundle.pbem", check_tmpdir());
    CHECK_INT(emomodel_build(&es, &h[0], err), PB_OK);
    CHECK_INT(emomodel_build(&ss, &h[1], err), PB_OK);
    if (h[0] && h[1])
        CHECK_INT(emomodel_bundle((const emomodel *const *)h, names, 2, &b, err), PB_OK);
    if (b)
        CHECK_INT(emomodel_save(b, path, err), PB_OK);
    emomodel_free(h[0]), emomodel_free(h[1]), emomodel_free(b);
    return path;
}

/* Posts one chat turn; copies the reported segment and first emotion label. */
static void chat(const struct svc *s, const char *message, char *segment, char *label)
{
    char body[256];
    json_t *r = NULL;
    snprintf(body, sizeof body, "{\"user_id\":\"u1\",\"message\":\"%s\"}", message);
    CHECK_INT(svc_post(s, "/v1/chat", NULL, body, &r), 200);
    json_t *first = json_array_get(json_object_get(r, "emotions"), 0);
    snprintf(segment, 64, "%s", svc_str(r, "segment") ? svc_str(r, "segment") : "(none)");
    snprintf(label, 64, "%s",
             json_string_value(json_object_get(first, "label"))
                 ? json_string_value(json_object_get(first, "label"))
                 : "(none)");
    json_decref(r);
}

static void test_the_segment_head_decides_the_chat_segment(void)
{
    const char *set[] = {"emotion.model", write_bundle(), NULL};
    struct svc s;
    char seg[64], label[64];
    svc_start(&s, set);
    chat(&s, "그래서", seg, label);
    CHECK_STR(seg, "neutral"); /* the first label is joy or sadness: its group is not neutral */
    chat(&s, "좋아 싸웠어", seg, label);
    CHECK_STR(seg, "negative");
    CHECK_STR(label, "sadness");
    chat(&s, "좋아", seg, label);
    CHECK_STR(seg, "positive");
    CHECK_STR(label, "joy");
    svc_stop(&s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    svc_fake_start();
    RUN(test_the_segment_head_decides_the_chat_segment);
    svc_fake_stop();
    curl_global_cleanup();
    CHECK_DONE();
}
