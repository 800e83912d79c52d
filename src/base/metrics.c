/* metrics.c — registry of labelled counters, gauges and histograms; Prometheus text output.
 * One mutex per family guards its series (updates from many server threads), one registry
 * mutex guards the family list. Series are found by a 64-bit FNV hash of the label values and
 * then compared exactly; families hold few series (routes x methods x statuses), so a list is
 * enough. No I/O here. */
#include "base/metrics.h"

#include "base/hash.h"
#include "base/pb.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum metrics_kind { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM };

static const char *const kind_names[] = {"counter", "gauge", "histogram"};

const double metrics_latency_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                          0.25,  0.5,    1,     2.5,  5,     10,   30};
const size_t metrics_latency_buckets_count =
    sizeof metrics_latency_buckets / sizeof metrics_latency_buckets[0];

struct metrics_series {
    struct metrics_series *next;
    uint64_t hash;
    char **values;     /* n_labels strings */
    double value;      /* counter/gauge value, histogram sum */
    uint64_t count;    /* histogram samples */
    uint64_t *buckets; /* histogram: samples <= bounds[i] (not cumulative), n_bounds entries */
};

struct metrics_family {
    struct metrics_family *next;
    enum metrics_kind kind;
    char *name, *help;
    char **labels;
    size_t n_labels;
    double *bounds;
    size_t n_bounds;
    pthread_mutex_t lock;
    struct metrics_series *head, **tail;
};

struct metrics {
    pthread_mutex_t lock;
    struct metrics_family *head, **tail;
};

metrics *metrics_new(void)
{
    metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    pthread_mutex_init(&m->lock, NULL);
    m->tail = &m->head;
    return m;
}

static void free_strings(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void family_free(struct metrics_family *f)
{
    struct metrics_series *s = f->head;
    while (s) {
        struct metrics_series *next = s->next;
        free_strings(s->values, f->n_labels);
        free(s->buckets);
        free(s);
        s = next;
    }
    pthread_mutex_destroy(&f->lock);
    free_strings(f->labels, f->n_labels);
    free(f->bounds);
    free(f->name);
    free(f->help);
    free(f);
}

void metrics_free(metrics *m)
{
    if (!m)
        return;
    struct metrics_family *f = m->head;
    while (f) {
        struct metrics_family *next = f->next;
        family_free(f);
        f = next;
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* Prometheus names: [a-zA-Z_:][a-zA-Z0-9_:]*; label names the same without ':'. */
static int valid_name(const char *s, int colon_ok)
{
    if (!s || !*s)
        return 0;
    for (const char *p = s; *p; p++) {
        int c = (unsigned char)*p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (colon_ok && c == ':') || (p != s && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

static pb_status check_labels(enum metrics_kind kind, const char *const *labels, size_t n,
                              char *err)
{
    for (size_t i = 0; i < n; i++) {
        if (!valid_name(labels[i], 0) || strncmp(labels[i], "__", 2) == 0)
            return pb_errf(err, PB_ERR_INVALID, "metric label name '%s' is not valid",
                           labels[i] ? labels[i] : "(null)");
        if (kind == KIND_HISTOGRAM && strcmp(labels[i], "le") == 0)
            return pb_errf(err, PB_ERR_INVALID, "label 'le' is reserved for histogram buckets");
        for (size_t j = 0; j < i; j++)
            if (strcmp(labels[i], labels[j]) == 0)
                return pb_errf(err, PB_ERR_INVALID, "metric label '%s' given twice", labels[i]);
    }
    return PB_OK;
}

static int same_shape(const struct metrics_family *f, enum metrics_kind kind,
                      const char *const *labels, size_t n_labels, const double *bounds,
                      size_t n_bounds)
{
    if (f->kind != kind || f->n_labels != n_labels || f->n_bounds != n_bounds)
        return 0;
    for (size_t i = 0; i < n_labels; i++)
        if (strcmp(f->labels[i], labels[i]) != 0)
            return 0;
    for (size_t i = 0; i < n_bounds; i++)
        if (f->bounds[i] != bounds[i])
            return 0;
    return 1;
}

static struct metrics_family *family_new(enum metrics_kind kind, const char *name, const char *help,
                                         const char *const *labels, size_t n_labels,
                                         const double *bounds, size_t n_bounds)
{
    struct metrics_family *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    pthread_mutex_init(&f->lock, NULL);
    f->tail = &f->head;
    f->kind = kind;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    f->labels = calloc(n_labels + 1, sizeof *f->labels);
    f->bounds = malloc((n_bounds + 1) * sizeof *f->bounds);
    int ok = f->name && f->help && f->labels && f->bounds;
    f->n_labels = n_labels;
    for (size_t i = 0; ok && i < n_labels; i++)
        ok = (f->labels[i] = strdup(labels[i])) != NULL;
    if (!ok) {
        family_free(f);
        return NULL;
    }
    if (n_bounds)
        memcpy(f->bounds, bounds, n_bounds * sizeof *bounds);
    f->n_bounds = n_bounds;
    return f;
}

static pb_status family_register(metrics *m, enum metrics_kind kind, const char *name,
                                 const char *help, const char *const *labels, size_t n_labels,
                                 const double *bounds, size_t n_bounds, metrics_family **out,
                                 char *err)
{
    *out = NULL;
    if (!valid_name(name, 1))
        return pb_errf(err, PB_ERR_INVALID, "metric name '%s' is not valid",
                       name ? name : "(null)");
    pb_status rc = check_labels(kind, labels, n_labels, err);
    if (rc != PB_OK)
        return rc;
    for (size_t i = 0; i < n_bounds; i++)
        if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
            return pb_errf(err, PB_ERR_INVALID,
                           "metric %s: bucket bounds must be finite and increasing", name);
    pthread_mutex_lock(&m->lock);
    for (struct metrics_family *f = m->head; f; f = f->next) {
        if (strcmp(f->name, name) != 0)
            continue;
        if (same_shape(f, kind, labels, n_labels, bounds, n_bounds))
            *out = f;
        else
            rc = pb_errf(err, PB_ERR_CONFLICT,
                         "metric %s is already registered with another type or labels", name);
        goto cleanup;
    }
    struct metrics_family *f = family_new(kind, name, help, labels, n_labels, bounds, n_bounds);
    if (!f) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory registering metric %s", name);
        goto cleanup;
    }
    *m->tail = f;
    m->tail = &f->next;
    *out = f;
cleanup:
    pthread_mutex_unlock(&m->lock);
    return rc;
}

pb_status metrics_counter(metrics *m, const char *name, const char *help, const char *const *labels,
                          size_t n_labels, metrics_family **out, char *err)
{
    return family_register(m, KIND_COUNTER, name, help, labels, n_labels, NULL, 0, out, err);
}

pb_status metrics_gauge(metrics *m, const char *name, const char *help, const char *const *labels,
                        size_t n_labels, metrics_family **out, char *err)
{
    return family_register(m, KIND_GAUGE, name, help, labels, n_labels, NULL, 0, out, err);
}

pb_status metrics_histogram(metrics *m, const char *name, const char *help,
                            const char *const *labels, size_t n_labels, const double *bounds,
                            size_t n_bounds, metrics_family **out, char *err)
{
    return family_register(m, KIND_HISTOGRAM, name, help, labels, n_labels, bounds, n_bounds, out,
                           err);
}

static uint64_t values_hash(const char *const *values, size_t n)
{
    uint64_t h = 0;
    for (size_t i = 0; i < n; i++) {
        const char *v = values[i] ? values[i] : "";
        h = hash_fnv1a64(v, strlen(v) + 1, h); /* the NUL separates values */
    }
    return h;
}

static int values_equal(char **stored, const char *const *values, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(stored[i], values[i] ? values[i] : "") != 0)
            return 0;
    return 1;
}

/* The series for these values, created when missing; the family lock must be held. */
static struct metrics_series *series_get(struct metrics_family *f, const char *const *values,
                                         int create)
{
    uint64_t h = values_hash(values, f->n_labels);
    for (struct metrics_series *s = f->head; s; s = s->next)
        if (s->hash == h && values_equal(s->values, values, f->n_labels))
            return s;
    if (!create)
        return NULL;
    struct metrics_series *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->hash = h;
    s->values = calloc(f->n_labels + 1, sizeof *s->values);
    s->buckets = calloc(f->n_bounds + 1, sizeof *s->buckets);
    int ok = s->values && s->buckets;
    for (size_t i = 0; ok && i < f->n_labels; i++)
        ok = (s->values[i] = strdup(values[i] ? values[i] : "")) != NULL;
    if (!ok) {
        free_strings(s->values, f->n_labels);
        free(s->buckets);
        free(s);
        return NULL;
    }
    *f->tail = s;
    f->tail = &s->next;
    return s;
}

enum update_op { OP_ADD, OP_SET, OP_OBSERVE };

static pb_status update(metrics_family *f, const char *const *values, double v, enum update_op op)
{
    if (!f || isnan(v))
        return PB_OK;
    if ((op == OP_OBSERVE) != (f->kind == KIND_HISTOGRAM) ||
        (op == OP_SET && f->kind != KIND_GAUGE) || (f->kind == KIND_COUNTER && v < 0))
        return PB_OK;
    pthread_mutex_lock(&f->lock);
    struct metrics_series *s = series_get(f, values, 1);
    if (s) {
        if (op == OP_ADD)
            s->value += v;
        else if (op == OP_SET)
            s->value = v;
        else {
            size_t i = 0;
            while (i < f->n_bounds && v > f->bounds[i])
                i++;
            s->buckets[i]++; /* i == n_bounds is the +Inf bucket */
            s->value += v;
            s->count++;
        }
    }
    pthread_mutex_unlock(&f->lock);
    return s ? PB_OK : PB_ERR_NOMEM;
}

pb_status metrics_add(metrics_family *f, const char *const *values, double delta)
{
    return update(f, values, delta, OP_ADD);
}

pb_status metrics_set(metrics_family *f, const char *const *values, double value)
{
    return update(f, values, value, OP_SET);
}

pb_status metrics_observe(metrics_family *f, const char *const *values, double sample)
{
    return update(f, values, sample, OP_OBSERVE);
}

double metrics_value(metrics_family *f, const char *const *values)
{
    double v = 0;
    pthread_mutex_lock(&f->lock);
    struct metrics_series *s = series_get(f, values, 0);
    if (s)
        v = f->kind == KIND_HISTOGRAM ? (double)s->count : s->value;
    pthread_mutex_unlock(&f->lock);
    return v;
}

/* Prometheus number syntax: NaN, +Inf, -Inf, else the shortest %g that reads back exactly. */
static void format_number(double v, char *buf, size_t n)
{
    if (isnan(v))
        snprintf(buf, n, "NaN");
    else if (isinf(v))
        snprintf(buf, n, v > 0 ? "+Inf" : "-Inf");
    else {
        snprintf(buf, n, "%.15g", v);
        if (strtod(buf, NULL) != v)
            snprintf(buf, n, "%.17g", v);
    }
}

/* HELP text escapes backslash and newline; label values also escape the double quote. */
static void write_escaped(FILE *f, const char *s, int quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", f);
        else if (*s == '\n')
            fputs("\\n", f);
        else if (quote && *s == '"')
            fputs("\\\"", f);
        else
            fputc(*s, f);
    }
}

/* Writes `{a="x",b="y"[,le="..."]}` (nothing when there are no labels at all). */
static void write_labels(FILE *out, const struct metrics_family *f, const struct metrics_series *s,
                         const char *le)
{
    if (f->n_labels == 0 && !le)
        return;
    fputc('{', out);
    for (size_t i = 0; i < f->n_labels; i++) {
        fprintf(out, "%s%s=\"", i ? "," : "", f->labels[i]);
        write_escaped(out, s->values[i], 1);
        fputc('"', out);
    }
    if (le)
        fprintf(out, "%sle=\"%s\"", f->n_labels ? "," : "", le);
    fputc('}', out);
}

static void write_series(FILE *out, const struct metrics_family *f, const struct metrics_series *s)
{
    char num[64], le[64];
    if (f->kind != KIND_HISTOGRAM) {
        format_number(s->value, num, sizeof num);
        fputs(f->name, out);
        write_labels(out, f, s, NULL);
        fprintf(out, " %s\n", num);
        return;
    }
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= f->n_bounds; i++) {
        cumulative += s->buckets[i];
        if (i < f->n_bounds)
            format_number(f->bounds[i], le, sizeof le);
        else
            snprintf(le, sizeof le, "+Inf");
        fprintf(out, "%s_bucket", f->name);
        write_labels(out, f, s, le);
        fprintf(out, " %llu\n", (unsigned long long)cumulative);
    }
    format_number(s->value, num, sizeof num);
    fprintf(out, "%s_sum", f->name);
    write_labels(out, f, s, NULL);
    fprintf(out, " %s\n%s_count", num, f->name);
    write_labels(out, f, s, NULL);
    fprintf(out, " %llu\n", (unsigned long long)s->count);
}

pb_status metrics_render(metrics *m, char **out, size_t *len, char *err)
{
    char *buf = NULL;
    size_t n = 0;
    *out = NULL;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory rendering metrics");
    pthread_mutex_lock(&m->lock);
    for (struct metrics_family *fam = m->head; fam; fam = fam->next) {
        fprintf(f, "# HELP %s ", fam->name);
        write_escaped(f, fam->help, 0);
        fprintf(f, "\n# TYPE %s %s\n", fam->name, kind_names[fam->kind]);
        pthread_mutex_lock(&fam->lock);
        for (struct metrics_series *s = fam->head; s; s = s->next)
            write_series(f, fam, s);
        pthread_mutex_unlock(&fam->lock);
    }
    pthread_mutex_unlock(&m->lock);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        free(buf);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory rendering metrics");
    }
    *out = buf;
    if (len)
        *len = n;
    return PB_OK;
}
