/* test_judge_evalstats.c — agreement figures against hand-computed values, rounding to levels,
 * and the seeded fold assignment. */
#include "check.h"
#include "judge/evalstats.h"

static void perfect_predictions_agree_fully(void)
{
    double h[] = {-1, -0.5, 0, 0.5, 1, 0.5};
    struct evalstats e;
    char err[PB_ERR_LEN];
    CHECK_INT(evalstats_compute(h, h, 6, &e, err), PB_OK);
    CHECK_NEAR(e.mse, 0, 0);
    CHECK_NEAR(e.spearman, 1, 1e-12);
    CHECK_NEAR(e.kendall_tau_b, 1, 1e-12);
    CHECK_NEAR(e.exact, 1, 0);
    CHECK_NEAR(e.qwk, 1, 1e-12);
    CHECK_INT(e.confusion[3][3], 2);
}

/* human (0, 0.5, 1), pred (0.5, 0.5, 0): MSE (0.25+0+1)/3, MAE 1.5/3; tau-b with one tie in
 * pred: concordant 0, discordant 2, n0 = 3 -> -2 / sqrt(3 * 2). */
static void hand_computed_case(void)
{
    double h[] = {0, 0.5, 1}, p[] = {0.5, 0.5, 0};
    struct evalstats e;
    char err[PB_ERR_LEN];
    CHECK_INT(evalstats_compute(h, p, 3, &e, err), PB_OK);
    CHECK_NEAR(e.mse, 1.25 / 3, 1e-12);
    CHECK_NEAR(e.mae, 0.5, 1e-12);
    CHECK_NEAR(e.kendall_tau_b, -2 / sqrt(6.0), 1e-12);
    CHECK_NEAR(e.exact, 1.0 / 3, 1e-12);
    CHECK_NEAR(e.spearman, -0.8660254037844386, 1e-9);
    /* kappa: observed weighted disagreement 1/16+4/16 over 3 items vs expected; below 0 */
    CHECK(e.qwk < 0);
}

static void constant_predictions_have_undefined_rank_correlation(void)
{
    double h[] = {-1, 0, 1}, p[] = {0.2, 0.2, 0.2};
    struct evalstats e;
    char err[PB_ERR_LEN];
    CHECK_INT(evalstats_compute(h, p, 3, &e, err), PB_OK);
    CHECK(isnan(e.spearman));
    CHECK(isnan(e.kendall_tau_b));
    CHECK_NEAR(e.qwk, 0, 1e-12);
}

static void rounding_to_levels_table(void)
{
    static const double cases[][2] = {{0.24, 0}, {0.25, 0.5}, {-0.26, -0.5}, {0.74, 0.5},
                                      {0.76, 1}, {3, 1},      {-7, -1},      {-0.1, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_NEAR(evalstats_round_level(cases[i][0]), cases[i][1], 0);
}

static void bad_input_is_refused(void)
{
    double h[] = {0.3}, p[] = {0}, q[] = {NAN};
    struct evalstats e;
    char err[PB_ERR_LEN];
    CHECK_INT(evalstats_compute(h, p, 1, &e, err), PB_ERR_INVALID);
    h[0] = 0;
    CHECK_INT(evalstats_compute(h, q, 1, &e, err), PB_ERR_INVALID);
    CHECK_INT(evalstats_compute(h, p, 0, &e, err), PB_ERR_INVALID);
}

static void folds_are_balanced_and_repeatable(void)
{
    int a[23], b[23], c[23], count[5] = {0};
    char err[PB_ERR_LEN];
    CHECK_INT(evalstats_folds(23, 5, 7, a, err), PB_OK);
    CHECK_INT(evalstats_folds(23, 5, 7, b, err), PB_OK);
    CHECK_INT(evalstats_folds(23, 5, 8, c, err), PB_OK);
    int same = 1, differ = 0;
    for (int i = 0; i < 23; i++) {
        count[a[i]]++;
        same &= a[i] == b[i];
        differ |= a[i] != c[i];
    }
    CHECK(same);
    CHECK(differ);
    for (int f = 0; f < 5; f++)
        CHECK(count[f] == 4 || count[f] == 5);
    CHECK_INT(evalstats_folds(3, 4, 1, a, err), PB_ERR_INVALID);
}

int main(void)
{
    RUN(perfect_predictions_agree_fully);
    RUN(hand_computed_case);
    RUN(constant_predictions_have_undefined_rank_correlation);
    RUN(rounding_to_levels_table);
    RUN(bad_input_is_refused);
    RUN(folds_are_balanced_and_repeatable);
    CHECK_DONE();
}
