/* metrics.h — a thread-safe registry of counters, gauges and histograms with labels, and its
 * Prometheus text exposition (format 0.0.4). Owns the metric values and nothing else: it does
 * no I/O (the server serves the text on GET /metrics) and knows no metric by name — every
 * module registers its own (server: requests, latency; llm: calls, tokens; bandit: rewards). */
#ifndef METRICS_H
#define METRICS_H

#include "base/pb.h"
#include <stddef.h>

typedef struct metrics metrics;
typedef struct metrics_family metrics_family;

/* Default latency buckets in seconds (1 ms .. 30 s), for metrics_histogram. */
extern const double metrics_latency_buckets[];
extern const size_t metrics_latency_buckets_count;

/* A new, empty registry (caller frees with metrics_free); NULL when out of memory. */
metrics *metrics_new(void);
void metrics_free(metrics *m);

/* Registers a family (a metric name with fixed label names) and returns it in *out; the
 * family lives as long as the registry. Registering the same name again with the same kind
 * and labels returns the existing family, so modules may register lazily. Errors:
 * PB_ERR_INVALID for a bad metric or label name, PB_ERR_CONFLICT when the name exists with
 * another kind or other labels. help is one line of plain text. */
pb_status metrics_counter(metrics *m, const char *name, const char *help, const char *const *labels,
                          size_t n_labels, metrics_family **out, char *err);
pb_status metrics_gauge(metrics *m, const char *name, const char *help, const char *const *labels,
                        size_t n_labels, metrics_family **out, char *err);
/* bounds: strictly increasing finite upper bounds; the +Inf bucket is implicit. */
pb_status metrics_histogram(metrics *m, const char *name, const char *help,
                            const char *const *labels, size_t n_labels, const double *bounds,
                            size_t n_bounds, metrics_family **out, char *err);

/* Updates the series with these label values (n_labels of them, in registration order;
 * NULL when the family has none), creating it at first use. Counters only go up: a negative
 * or NaN delta is ignored. metrics_add also moves gauges up or down; metrics_set sets a gauge;
 * metrics_observe records one histogram sample. Wrong-kind calls are ignored. Returns PB_OK
 * or PB_ERR_NOMEM (the update is then lost, never half-applied). */
pb_status metrics_add(metrics_family *f, const char *const *values, double delta);
pb_status metrics_set(metrics_family *f, const char *const *values, double value);
pb_status metrics_observe(metrics_family *f, const char *const *values, double sample);

/* Current value of a counter or gauge series (0 when the series does not exist yet); for a
 * histogram, its sample count. Meant for tests and health summaries. */
double metrics_value(metrics_family *f, const char *const *values);

/* The whole registry as Prometheus text: families in registration order, series in creation
 * order, HELP and TYPE lines, label values escaped, histogram buckets cumulative with _sum and
 * _count. *out is NUL-terminated and owned by the caller (free); *len excludes the NUL. */
pb_status metrics_render(metrics *m, char **out, size_t *len, char *err);

#endif
