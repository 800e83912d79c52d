/* plot.h — SVG charts drawn in C for the admin dashboard and reports: lines (mean reward,
 * share of pulls or regret over time, one series per arm), bars with error bars (mean and
 * confidence interval per arm) and grouped distributions (ratings per reward level per arm).
 * Pure: data in, SVG text out. Every user string (titles, series names — prompt names) is
 * XML-escaped; output is deterministic; empty or all-NaN data gives a "no data" chart. */
#ifndef PLOT_H
#define PLOT_H

#include "base/pb.h"
#include <stddef.h>

struct plot_frame {
    const char *title, *x_label, *y_label; /* NULL = none */
    int width, height;                     /* pixels; 0 = 640 x 360 */
};

struct plot_series {
    const char *name;
    const double *x, *y; /* n points; a NaN in either breaks the line there */
    size_t n;
};

struct plot_bar {
    const char *name;
    double value;  /* NaN = no bar */
    double lo, hi; /* error bar; NaN = none */
};

struct plot_dist {
    const char *name;
    const double *counts; /* one per level; drawn as the share of this arm's total */
};

/* Each returns PB_OK with *out a NUL-terminated SVG document the caller frees, or
 * PB_ERR_INVALID (bad sizes) / PB_ERR_NOMEM with a message in err. */
pb_status plot_lines(const struct plot_frame *frame, const struct plot_series *series, size_t n,
                     char **out, char *err);
pb_status plot_bars(const struct plot_frame *frame, const struct plot_bar *bars, size_t n,
                    char **out, char *err);
pb_status plot_distribution(const struct plot_frame *frame, const char *const *levels,
                            size_t n_levels, const struct plot_dist *arms, size_t n_arms,
                            char **out, char *err);

#endif
