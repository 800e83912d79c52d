/* e2e_service_segments.c — issue 8's segment modes over HTTP in this process: bandit.segments
 * label (the top label serves), none (one segment "all"), a bandit.segment_map file
 * overriding the model's groups, and clear startup errors for a map naming a label the model
 * does not have or a bad mode. The test model's labels: joy, sadness, anger, neutral. */
#include "store/impressions.h"
#include "svc_harness.h"

#define TOK   "admintok"
#define HAPPY "{\"user_id\":\"u1\",\"message\":\"너무 행복하고 신나\"}"

/* The segment a chat turn reports. Caller frees nothing: copied into out. */
static void chat_segment(const struct svc *s, char *out, size_t len)
{
    json_t *r = NULL;
    CHECK_INT(svc_post(s, "/v1/chat", NULL, HAPPY, &r), 200);
    snprintf(out, len, "%s", svc_str(r, "segment") ? svc_str(r, "segment") : "(none)");
    json_decref(r);
}

/* 1 when GET /v1/experiments/default lists segment name. */
static int lists_segment(const struct svc *s, const char *name)
{
    json_t *v = NULL;
    svc_get(s, "/v1/experiments/default", TOK, &v);
    int found = json_object_get(json_object_get(v, "segments"), name) != NULL;
    json_decref(v);
    return found;
}

static const char *write_map(const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/segments.tsv", check_tmpdir());
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

static void test_label_mode_serves_the_top_label(void)
{
    static const char *const set[] = {"server.admin_token", TOK, "bandit.segments", "label", NULL};
    struct svc s;
    char seg[64];
    svc_start(&s, set);
    chat_segment(&s, seg, sizeof seg);
    CHECK_STR(seg, "joy");
    static const char *const want[] = {"joy", "sadness", "anger", "neutral", "unknown"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK(lists_segment(&s, want[i]));
    CHECK(!lists_segment(&s, "positive"));
    svc_stop(&s);
}

static void test_none_mode_has_one_segment(void)
{
    static const char *const set[] = {"server.admin_token", TOK, "bandit.segments", "none", NULL};
    struct svc s;
    char seg[64];
    svc_start(&s, set);
    chat_segment(&s, seg, sizeof seg);
    CHECK_STR(seg, "all");
    CHECK(lists_segment(&s, "all"));
    CHECK(!lists_segment(&s, "unknown"));
    svc_stop(&s);
}

static void test_map_file_overrides_the_groups(void)
{
    const char *map = write_map("# label\tsegment\njoy\thappy\nsadness\tlow\nanger\tlow\n");
    const char *set[] = {"server.admin_token", TOK, "bandit.segment_map", map, NULL};
    struct svc s;
    char seg[64], err[PB_ERR_LEN];
    json_t *c = NULL;
    svc_start(&s, set);
    chat_segment(&s, seg, sizeof seg);
    CHECK_STR(seg, "happy");
    CHECK(lists_segment(&s, "happy") && lists_segment(&s, "low"));
    CHECK(lists_segment(&s, "positive")); /* unmapped labels still go by their group */
    /* a client naming a label gets the mapped segment stored */
    CHECK_INT(svc_post(&s, "/v1/choose", NULL, "{\"segment\":\"anger\"}", &c), 200);
    CHECK_STR(svc_str(c, "segment"), "low");
    store *st = NULL;
    struct impressions_info info = {0};
    svc_flush(&s);
    CHECK_INT(store_open(s.db, NULL, &st, err), PB_OK);
    CHECK_INT(impressions_get(st, svc_int(c, "impression_id"), &info, err), PB_OK);
    CHECK_STR(info.segment, "low");
    store_close(st);
    json_decref(c);
    svc_stop(&s);
}

/* The from_global flag stored in impression id's context JSON (-1 when absent). */
static int stored_from_global(const struct svc *s, long long id)
{
    char err[PB_ERR_LEN];
    store *st = NULL;
    store_stmt *q;
    int out = -1;
    if (store_open(s->db, NULL, &st, err) == PB_OK &&
        store_prepare(st, "SELECT context FROM impressions WHERE id = ?1", &q, err) == PB_OK) {
        store_bind_int(q, 1, id);
        if (store_step(q) == 1) {
            json_t *c = json_loads(store_col_text(q, 0), 0, NULL);
            json_t *g = json_object_get(c, "from_global");
            out = json_is_boolean(g) ? json_is_true(g) : -1;
            json_decref(c);
        }
        store_reset(q);
    }
    store_close(st);
    return out;
}

/* burnin=3 over 4 arms: the first 12 turns play every arm 3 times although greedy would
 * exploit the first liked arm; the segment's own bandit decides only after
 * bandit.segment_min_pulls rewards (the global one before). */
static void test_burnin_and_segment_min_pulls_are_honoured(void)
{
    static const char *const set[] = {"server.admin_token",         TOK,           "bandit.policy",
                                      "egreedy:epsilon=0,burnin=3", "assign.mode", "turn",
                                      "bandit.segment_min_pulls",   "12",          NULL};
    struct svc s;
    char first[17] = "";
    int per_arm[4] = {0};
    svc_start(&s, set);
    for (int i = 0; i < 13; i++) {
        json_t *r = NULL;
        char body[160];
        CHECK_INT(svc_post(&s, "/v1/chat", NULL, HAPPY, &r), 200);
        const char *arm = svc_str(r, "arm");
        long long id = svc_int(r, "impression_id");
        CHECK_STR(svc_str(r, "segment"), "positive");
        if (i == 0)
            snprintf(first, sizeof first, "%s", arm ? arm : "");
        if (i < 12 && arm && arm[0] >= 'A' && arm[0] <= 'D' && !arm[1])
            per_arm[arm[0] - 'A']++;
        CHECK_INT(stored_from_global(&s, id), i < 12 ? 1 : 0);
        snprintf(body, sizeof body, "{\"user_id\":\"u1\",\"impression_id\":%lld,\"kind\":\"%s\"}",
                 id, arm && !strcmp(arm, first) ? "like" : "dislike");
        CHECK_INT(svc_post(&s, "/v1/feedback", NULL, body, NULL), 200);
        json_decref(r);
    }
    for (int k = 0; k < 4; k++)
        CHECK_INT(per_arm[k], 3);
    svc_stop(&s);
}

/* app_new with the test model and one setting changed must fail naming `want`. */
static void check_startup_error(const char *key, const char *value, const char *want)
{
    char err[PB_ERR_LEN] = "", dir[256], db[512];
    config *cfg = NULL;
    app *a = NULL;
    snprintf(dir, sizeof dir, "%s", check_tmpdir());
    testdb_make(db, sizeof db, dir, "bad.db");
    CHECK_INT(config_defaults(&cfg, err), PB_OK);
    CHECK_INT(config_set(cfg, "db.path", db, err), PB_OK);
    CHECK_INT(config_set(cfg, "emotion.model", svc_emotion_model(dir), err), PB_OK);
    CHECK_INT(config_set(cfg, "llm.base_url", "", err), PB_OK);
    CHECK_INT(config_set(cfg, key, value, err), PB_OK);
    struct app_options ao = {.prompts_dir = check_source_path("prompts"), .no_background = 1};
    CHECK_INT(app_new(cfg, &ao, &a, err), PB_ERR_INVALID);
    if (!strstr(err, want))
        fprintf(stderr, "  error was: %s\n", err);
    CHECK(strstr(err, want) != NULL);
    config_free(cfg);
}

static void test_bad_segment_settings_fail_at_startup(void)
{
    check_startup_error("bandit.segment_map", write_map("joy\thappy\nlonging\tsad\n"),
                        "'longing' is not a label of the emotion model");
    check_startup_error("bandit.segment_map", write_map("joy\thappy\tx\n"), "line 1");
    check_startup_error("bandit.segment_map", write_map("joy\thap py\n"), "segment name");
    check_startup_error("bandit.segments", "emotion", "bandit.segments");
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    svc_fake_start();
    RUN(test_label_mode_serves_the_top_label);
    RUN(test_none_mode_has_one_segment);
    RUN(test_map_file_overrides_the_groups);
    RUN(test_bad_segment_settings_fail_at_startup);
    RUN(test_burnin_and_segment_min_pulls_are_honoured);
    svc_fake_stop();
    curl_global_cleanup();
    CHECK_DONE();
}
