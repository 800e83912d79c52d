/* agree.h — how well judge scores agree with human feedback on the same answers: Spearman's
 * rank correlation (evalstats_spearman: average ranks for ties), sign agreement and the largest
 * disagreements, for human values that need not be levels (means of live feedback). The
 * dashboard's live judge panel reads it (service/livejudge.h); it decides nothing.
 * Pure: no I/O, no globals. */
#ifndef AGREE_H
#define AGREE_H

#include <stddef.h>

#include "base/pb.h"

struct agree_stats {
    size_t n;              /* pairs */
    double spearman;       /* rank correlation in [-1, 1]; NAN below 2 pairs or when either
                              side is constant */
    size_t n_signed;       /* pairs whose human value is not 0 */
    double sign_agreement; /* share of those whose judge score has the same sign (a judge score
                              of 0 disagrees); NAN when n_signed is 0 */
};

/* Agreement of judge[i] with human[i] over n pairs. PB_ERR_INVALID for a value that is not
 * finite, PB_ERR_NOMEM. */
pb_status agree_compute(const double *judge, const double *human, size_t n, struct agree_stats *out,
                        char *err);

/* The indexes of the k pairs with the largest |judge - human|, largest first (ties: the lower
 * index first), into order[0..min(k, n)); returns how many were written. */
size_t agree_largest(const double *judge, const double *human, size_t n, size_t k, size_t *order);

#endif
