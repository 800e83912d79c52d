/* agree.c — sign agreement and a partial selection of the largest disagreements; Spearman's
 * rho is evalstats'. */
#include "judge/agree.h"

#include "judge/evalstats.h"

#include <math.h>

static int sign_of(double v)
{
    return (v > 0) - (v < 0);
}

pb_status agree_compute(const double *judge, const double *human, size_t n, struct agree_stats *out,
                        char *err)
{
    *out = (struct agree_stats){.n = n, .spearman = NAN, .sign_agreement = NAN};
    size_t same = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(judge[i]) || !isfinite(human[i]))
            return pb_errf(err, PB_ERR_INVALID, "pair %zu is not finite", i);
        if (sign_of(human[i]) != 0) {
            out->n_signed++;
            same += sign_of(judge[i]) == sign_of(human[i]);
        }
    }
    if (out->n_signed)
        out->sign_agreement = (double)same / (double)out->n_signed;
    return evalstats_spearman(judge, human, n, &out->spearman, err);
}

size_t agree_largest(const double *judge, const double *human, size_t n, size_t k, size_t *order)
{
    size_t m = 0;
    for (size_t i = 0; i < n && k > 0; i++) {
        double d = fabs(judge[i] - human[i]);
        size_t pos = m;
        while (pos > 0 && fabs(judge[order[pos - 1]] - human[order[pos - 1]]) < d)
            pos--;
        if (pos >= k)
            continue;
        size_t last = m < k ? m : k - 1;
        for (size_t j = last; j > pos; j--)
            order[j] = order[j - 1];
        order[pos] = i;
        if (m < k)
            m++;
    }
    return m;
}
