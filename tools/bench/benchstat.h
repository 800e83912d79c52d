/* benchstat.h — the order statistics the load tools and benchmarks report (medians,
 * percentiles of latencies), shared by the C tools in tools/bench. Header only; no I/O. */
#ifndef BENCHSTAT_H
#define BENCHSTAT_H

#include <stddef.h>

/* qsort comparator for doubles, ascending. */
static inline int benchstat_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Quantile q of n sorted values (nearest rank); 0 when n is 0. */
static inline double benchstat_quantile(const double *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

#endif
