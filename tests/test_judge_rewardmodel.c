/* test_judge_rewardmodel.c — the local reward model learns a clear signal from synthetic diary
 * texts, learns a non-monotone effect of length through its Gaussian statistics kernel, keeps
 * predictions in [-1, 1], round-trips through its file exactly (the kernel expansion too), and
 * refuses files of another version or shape. */
#include "check.h"
#include "judge/rewardmodel.h"

#include <string.h>

#define N 60

/* Good texts: plain diary sentences; bad texts: the assistant talking about writing one. */
static void make_data(const char *texts[N], double y[N], char store[N][200])
{
    static const char *good[] = {"바다에 갔다. 바람이 시원해서 정말 좋았다!",
                                 "친구랑 맛있는 파스타를 먹었다. 행복한 하루였다.",
                                 "공원을 산책했다. 꽃이 예뻐서 사진도 찍었다."};
    static const char *bad[] = {"사진을 바탕으로 일기를 작성해 드릴게요.",
                                "일기를 써드리겠습니다. 정보를 주세요.",
                                "다음 사진이 있으면 말씀해 주세요."};
    for (int i = 0; i < N; i++) {
        int g = i % 2 == 0;
        snprintf(store[i], 200, "%s %d", g ? good[i % 3] : bad[i % 3], i);
        texts[i] = store[i];
        y[i] = g ? 0.5 + 0.5 * (i % 4 == 0) : -1;
    }
}

static void learns_to_separate_diaries_from_assistant_talk(void)
{
    const char *texts[N];
    double y[N];
    static char store[N][200];
    rewardmodel *m = NULL;
    char err[PB_ERR_LEN];
    make_data(texts, y, store);
    CHECK_INT(rewardmodel_train(texts, y, N, &m, err), PB_OK);
    if (!m)
        return;
    double good = rewardmodel_predict(m, "시장에 갔다. 떡볶이가 정말 맛있었다!");
    double bad = rewardmodel_predict(m, "일기를 작성해 드릴게요. 사진을 주세요.");
    /* The mean rating is about -0.2; unseen texts land on the right side, far apart. */
    CHECK(good > 0);
    CHECK(bad < -0.5);
    CHECK(good - bad > 0.8);
    double odd = rewardmodel_predict(m, "\xff\xfe broken");
    CHECK(odd >= -1 && odd <= 1);
    struct rewardmodel_info info;
    rewardmodel_get_info(m, &info);
    CHECK_INT(info.train_n, N);
    CHECK(info.lambda > 0 && info.n_weights > 0);
    rewardmodel_free(m);
}

/* Texts that differ only in how many times one sentence is repeated; the medium ones are rated
 * +1, the short and the long ones -1. No linear function of length separates them; the
 * Gaussian kernel on the statistics does, and the model file keeps it. */
static void learns_a_non_monotone_length_effect(void)
{
    enum { M = 54 };
    static char store[M][700];
    const char *texts[M];
    double y[M];
    for (int i = 0; i < M; i++) {
        int k = 1 + i % 9;
        store[i][0] = '\0';
        for (int r = 0; r < k; r++)
            strcat(store[i], "오늘은 바다에 가서 즐거웠다. ");
        snprintf(store[i] + strlen(store[i]), 20, "%d", i);
        texts[i] = store[i];
        y[i] = k >= 4 && k <= 6 ? 1 : -1;
    }
    rewardmodel *m = NULL, *back = NULL;
    char err[PB_ERR_LEN], path[512];
    CHECK_INT(rewardmodel_train(texts, y, M, &m, err), PB_OK);
    if (!m)
        return;
    struct rewardmodel_info info;
    rewardmodel_get_info(m, &info);
    CHECK(info.dense_gain > 0);
    const char *probe[3] = {"오늘은 바다에 가서 즐거웠다. 99",
                            "오늘은 바다에 가서 즐거웠다. 오늘은 바다에 가서 즐거웠다. 오늘은 "
                            "바다에 가서 즐거웠다. 오늘은 바다에 가서 즐거웠다. 오늘은 바다에 가서 "
                            "즐거웠다. 99",
                            NULL};
    char longest[700] = "";
    for (int r = 0; r < 9; r++)
        strcat(longest, "오늘은 바다에 가서 즐거웠다. ");
    probe[2] = longest;
    double short_p = rewardmodel_predict(m, probe[0]), mid = rewardmodel_predict(m, probe[1]),
           long_p = rewardmodel_predict(m, probe[2]);
    fprintf(stderr, "length effect: short %.2f, medium %.2f, long %.2f (gain %g)\n", short_p, mid,
            long_p, info.dense_gain);
    CHECK(mid > 0.3);
    CHECK(mid - short_p > 0.4 && mid - long_p > 0.4);
    snprintf(path, sizeof path, "%s/len.pbrm", check_tmpdir());
    CHECK_INT(rewardmodel_save(m, path, err), PB_OK);
    CHECK_INT(rewardmodel_load(path, &back, err), PB_OK);
    for (int i = 0; back && i < 3; i++)
        CHECK_NEAR(rewardmodel_predict(back, probe[i]), rewardmodel_predict(m, probe[i]), 1e-6);
    rewardmodel_free(m);
    rewardmodel_free(back);
}

static void file_round_trip_keeps_predictions(void)
{
    const char *texts[N];
    double y[N];
    static char store[N][200];
    rewardmodel *m = NULL, *back = NULL;
    char err[PB_ERR_LEN], path[512];
    make_data(texts, y, store);
    snprintf(path, sizeof path, "%s/m.pbrm", check_tmpdir());
    CHECK_INT(rewardmodel_train(texts, y, N, &m, err), PB_OK);
    CHECK_INT(rewardmodel_save(m, path, err), PB_OK);
    CHECK_INT(rewardmodel_load(path, &back, err), PB_OK);
    if (m && back)
        for (int i = 0; i < N; i += 7)
            CHECK_NEAR(rewardmodel_predict(back, texts[i]), rewardmodel_predict(m, texts[i]), 1e-6);
    rewardmodel_free(m);
    rewardmodel_free(back);
}

static void other_versions_and_garbage_are_refused(void)
{
    const char *dir = check_tmpdir();
    char path[512], err[PB_ERR_LEN];
    rewardmodel *m = NULL;
    static const struct {
        const char *body;
        int code;
    } cases[] = {
        {"{\"format\": \"promptbandit-reward-model\", \"version\": 99}", PB_ERR_VERSION},
        {"{\"format\": \"something-else\", \"version\": 1}", PB_ERR_INVALID},
        {"{\"format\": \"promptbandit-reward-model\", \"version\": 1}", PB_ERR_VERSION},
        {"not json", PB_ERR_INVALID},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "%s/bad%zu", dir, i);
        FILE *f = fopen(path, "w");
        fputs(cases[i].body, f);
        fclose(f);
        CHECK_INT(rewardmodel_load(path, &m, err), cases[i].code);
        CHECK(m == NULL);
    }
}

static void too_few_texts_are_refused(void)
{
    const char *t[] = {"a", "b"};
    double y[] = {0, 1};
    rewardmodel *m = NULL;
    char err[PB_ERR_LEN];
    CHECK_INT(rewardmodel_train(t, y, 2, &m, err), PB_ERR_INVALID);
    CHECK(strstr(err, "at least 3") != NULL);
}

int main(void)
{
    RUN(learns_to_separate_diaries_from_assistant_talk);
    RUN(learns_a_non_monotone_length_effect);
    RUN(file_round_trip_keeps_predictions);
    RUN(other_versions_and_garbage_are_refused);
    RUN(too_few_texts_are_refused);
    CHECK_DONE();
}
