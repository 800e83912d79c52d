/* test_judge_rewardfeat.c — the reward model's text features: n-gram vectors are sorted, unique
 * and of unit length; whitespace runs and surrounding blanks do not change them, other words do;
 * fitting idf on a training set gives the vectors extraction with that idf gives; and the text
 * statistics count what they name on a text worked out by hand. */
#include "check.h"
#include "judge/rewardfeat.h"

#include <stdlib.h>

static const char *const texts[] = {"바다에 갔다. 바람이 시원했다!", "친구랑 파스타를 먹었다.",
                                    "공원을 산책했다. 꽃이 예뻤다.", "일기를 써 드릴게요."};
#define N_TEXTS 4

static int same_vec(const struct rewardfeat_vec *a, const struct rewardfeat_vec *b, double tol)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (a->idx[i] != b->idx[i] || fabs(a->val[i] - b->val[i]) > tol)
            return 0;
    return 1;
}

static void test_vectors_are_sorted_unique_and_unit_length(void)
{
    struct rewardfeat_vec v;
    CHECK_INT(rewardfeat_ngrams(texts[0], NULL, 0, &v), PB_OK);
    double norm = 0;
    for (size_t i = 0; i < v.n; i++) {
        CHECK(v.idx[i] < REWARDFEAT_HASH_SIZE);
        if (i > 0)
            CHECK(v.idx[i] > v.idx[i - 1]);
        norm += v.val[i] * v.val[i];
    }
    CHECK(v.n > 20);
    CHECK_NEAR(norm, 1.0, 1e-12);
    rewardfeat_vec_free(&v);
}

static void test_whitespace_runs_do_not_change_features_but_words_do(void)
{
    struct rewardfeat_vec a, b, c;
    CHECK_INT(rewardfeat_ngrams("오늘 정말 좋다", NULL, 0, &a), PB_OK);
    CHECK_INT(rewardfeat_ngrams("  오늘\t\t정말\u3000 좋다\n", NULL, 0, &b), PB_OK);
    CHECK_INT(rewardfeat_ngrams("오늘 정말 싫다", NULL, 0, &c), PB_OK);
    CHECK(same_vec(&a, &b, 0));
    CHECK(!same_vec(&a, &c, 1e-9));
    rewardfeat_vec_free(&a);
    rewardfeat_vec_free(&b);
    rewardfeat_vec_free(&c);
}

static void test_idf_fit_equals_extraction_with_the_idf(void)
{
    struct rewardfeat_vec fitted[N_TEXTS], direct;
    double *idf = calloc(REWARDFEAT_HASH_SIZE, sizeof *idf), unseen = 0;
    for (int i = 0; i < N_TEXTS; i++)
        CHECK_INT(rewardfeat_ngrams(texts[i], NULL, 0, &fitted[i]), PB_OK);
    rewardfeat_idf_fit(fitted, N_TEXTS, idf, &unseen);
    CHECK_NEAR(unseen, log(N_TEXTS + 1.0) + 1.0, 1e-12);
    for (int i = 0; i < N_TEXTS; i++) {
        CHECK_INT(rewardfeat_ngrams(texts[i], idf, unseen, &direct), PB_OK);
        CHECK(same_vec(&fitted[i], &direct, 1e-12));
        rewardfeat_vec_free(&direct);
    }
    for (int i = 0; i < N_TEXTS; i++)
        rewardfeat_vec_free(&fitted[i]);
    free(idf);
}

static void test_statistics_count_what_they_name(void)
{
    double f[REWARDFEAT_STATS];
    /* 15 code points on 2 lines; sentences "좋다!" "정말?" "또 가자~" "😀" (the newline
     * ends none); 11 visible characters of which 7 Hangul; one sentence ends in 다. */
    rewardfeat_stats("좋다! 정말?\n또 가자~ 😀", f);
    CHECK_NEAR(f[0], 15, 0);
    CHECK_NEAR(f[1], log1p(15), 1e-12);
    CHECK_NEAR(f[2], 2, 0);
    CHECK_NEAR(f[3], 4, 0);
    CHECK_NEAR(f[4], 8.0 / 4, 1e-12); /* non-space characters per sentence */
    CHECK_NEAR(f[5], 1, 0);           /* ! */
    CHECK_NEAR(f[6], 1, 0);           /* ? */
    CHECK_NEAR(f[7], 1, 0);           /* ~ */
    CHECK_NEAR(f[9], 1, 0);           /* emoji */
    CHECK_NEAR(f[10], 7.0 / 11, 1e-12);
    CHECK_NEAR(f[11], 0, 0);
    CHECK_NEAR(f[15], 1.0 / 4, 1e-12);
    rewardfeat_stats("좋다 좋다 좋다 정말", f);
    CHECK_NEAR(f[13], 2.0 / 4, 1e-12); /* two of four words repeat an earlier one */
}

int main(void)
{
    RUN(test_vectors_are_sorted_unique_and_unit_length);
    RUN(test_whitespace_runs_do_not_change_features_but_words_do);
    RUN(test_idf_fit_equals_extraction_with_the_idf);
    RUN(test_statistics_count_what_they_name);
    CHECK_DONE();
}
