/* test_judge_agree.c — the agreement maths on known values: Spearman's rho of a perfect, a
 * reversed and a textbook ranking (with ties: average ranks), NAN below two pairs or for a
 * constant side; sign agreement over the pairs with a non-zero human value (a zero judge score
 * disagrees); the largest disagreements, largest first, ties in input order. */
#include "check.h"
#include "judge/agree.h"

#include <math.h>

static struct agree_stats stats(const double *j, const double *h, size_t n)
{
    struct agree_stats s;
    char err[PB_ERR_LEN];
    CHECK_INT(agree_compute(j, h, n, &s, err), PB_OK);
    return s;
}

static void test_spearman_on_known_values(void)
{
    const double a[] = {1, 2, 3, 4, 5}, up[] = {0.1, 0.2, 0.5, 0.7, 0.9}, down[] = {9, 7, 5, 3, 1};
    CHECK_NEAR(stats(a, up, 5).spearman, 1.0, 1e-12);
    CHECK_NEAR(stats(a, down, 5).spearman, -1.0, 1e-12);
    /* ranks x 1..5, y (2, 1, 4, 3, 5): sum d^2 = 4, rho = 1 - 6*4 / (5*24) = 0.8 */
    const double y[] = {20, 10, 40, 30, 50};
    CHECK_NEAR(stats(a, y, 5).spearman, 0.8, 1e-12);
    /* ties: human levels (-1, -1, 0, 1) rank (1.5, 1.5, 3, 4); judge (0.1, 0.3, 0.2, 0.9) ranks
     * (1, 3, 2, 4): Pearson of the ranks = 3 / sqrt(4.5 * 5) */
    const double j4[] = {0.1, 0.3, 0.2, 0.9}, h4[] = {-1, -1, 0, 1};
    CHECK_NEAR(stats(j4, h4, 4).spearman, 3.0 / sqrt(4.5 * 5), 1e-12);
    const double flat[] = {1, 1, 1};
    CHECK(isnan(stats(a, flat, 3).spearman));
    CHECK(isnan(stats(a, up, 1).spearman));
    CHECK_INT(stats(a, up, 0).n, 0);
}

static void test_sign_agreement_ignores_neutral_humans(void)
{
    const double j[] = {0.5, -0.2, 0.3, 0.0, 0.9}, h[] = {1, -1, -1, 1, 0};
    struct agree_stats s = stats(j, h, 5);
    CHECK_INT(s.n_signed, 4);
    CHECK_NEAR(s.sign_agreement, 0.5, 1e-12); /* agree, agree, disagree, 0 vs 1 disagrees */
    const double z[] = {0, 0};
    CHECK(isnan(stats(j, z, 2).sign_agreement));
    const double bad[] = {NAN, 1};
    char err[PB_ERR_LEN];
    CHECK_INT(agree_compute(bad, h, 2, &s, err), PB_ERR_INVALID);
}

static void test_largest_disagreements_first(void)
{
    const double j[] = {0.9, -0.8, 0.1, 0.5, -1}, h[] = {-1, 1, 0, 0.5, 0};
    size_t order[5];
    /* |d| = 1.9, 1.8, 0.1, 0, 1 */
    CHECK_INT(agree_largest(j, h, 5, 3, order), 3);
    CHECK_INT(order[0], 0);
    CHECK_INT(order[1], 1);
    CHECK_INT(order[2], 4);
    CHECK_INT(agree_largest(j, h, 5, 10, order), 5);
    CHECK_INT(order[3], 2);
    CHECK_INT(order[4], 3);
    const double t[] = {1, 1}, u[] = {0, 0};
    CHECK_INT(agree_largest(t, u, 2, 1, order), 1);
    CHECK_INT(order[0], 0); /* ties: the lower index */
}

int main(void)
{
    RUN(test_spearman_on_known_values);
    RUN(test_sign_agreement_ignores_neutral_humans);
    RUN(test_largest_disagreements_first);
    CHECK_DONE();
}
