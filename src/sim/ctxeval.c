/* ctxeval.c — contextual event logs (JSONL in and out) and their offline evaluation. Owns the
 * parsed log; writes only to the FILE the caller passes to ctxeval_generate and prints
 * nothing else. Policies come through ctxpolicy; the DM/DR reward model is a `contextual`
 * ridge regression, read through contextual_predict. */
#include "sim/ctxeval.h"

#include "bandit/contextual.h"
#include "base/pb.h"
#include "sim/sim.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LOG_BYTES (1u << 30)
#define MAX_DIM       256
#define NO_SEGMENT    SIZE_MAX

void ctxeval_log_free(struct ctxeval_log *log)
{
    for (size_t i = 0; i < log->n_arms; i++)
        free(log->arms[i]);
    for (size_t i = 0; i < log->n_segments; i++)
        free(log->segments[i]);
    free(log->arms);
    free(log->segments);
    free(log->features);
    free(log->arm);
    free(log->segment);
    free(log->reward);
    free(log->propensity);
    memset(log, 0, sizeof *log);
}

/* Index of name in *names, appended when new; SIZE_MAX when out of memory. */
static size_t intern(char ***names, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*names)[i], name))
            return i;
    char **grown = realloc(*names, (*n + 1) * sizeof *grown);
    if (!grown)
        return SIZE_MAX;
    *names = grown;
    if (!(grown[*n] = strdup(name)))
        return SIZE_MAX;
    return (*n)++;
}

static int grow(struct ctxeval_log *log, size_t *cap)
{
    if (log->n < *cap)
        return 1;
    size_t c = *cap ? 2 * *cap : 1024;
    double *f = realloc(log->features, c * log->dim * sizeof *f);
    if (f)
        log->features = f;
    size_t *a = realloc(log->arm, c * sizeof *a);
    if (a)
        log->arm = a;
    size_t *s = realloc(log->segment, c * sizeof *s);
    if (s)
        log->segment = s;
    double *r = realloc(log->reward, c * sizeof *r);
    if (r)
        log->reward = r;
    double *p = realloc(log->propensity, c * sizeof *p);
    if (p)
        log->propensity = p;
    if (!f || !a || !s || !r || !p)
        return 0;
    *cap = c;
    return 1;
}

static pb_status parse_features(struct ctxeval_log *log, json_t *f, const char *where, size_t *cap,
                                char *err)
{
    if (!json_is_array(f) || json_array_size(f) == 0 || json_array_size(f) > MAX_DIM)
        return pb_errf(err, PB_ERR_INVALID, "%s: \"features\" must be an array of 1..%d numbers",
                       where, MAX_DIM);
    if (log->dim == 0)
        log->dim = json_array_size(f);
    if (json_array_size(f) != log->dim)
        return pb_errf(err, PB_ERR_INVALID, "%s: %zu features, expected %zu (the dimension)", where,
                       json_array_size(f), log->dim);
    if (!grow(log, cap))
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < log->dim; i++) {
        json_t *v = json_array_get(f, i);
        double x = json_number_value(v);
        if (!json_is_number(v) || !isfinite(x) || fabs(x) > 1e6)
            return pb_errf(err, PB_ERR_INVALID, "%s: feature %zu must be a number within 1e6",
                           where, i + 1);
        log->features[log->n * log->dim + i] = x;
    }
    return PB_OK;
}

static pb_status parse_event(struct ctxeval_log *log, json_t *o, const char *where, size_t *cap,
                             char *err)
{
    if (!json_is_object(o))
        return pb_errf(err, PB_ERR_INVALID, "%s: not a JSON object", where);
    json_t *arm = json_object_get(o, "arm"), *reward = json_object_get(o, "reward"),
           *prop = json_object_get(o, "propensity"), *seg = json_object_get(o, "segment");
    char num[32];
    const char *name = json_string_value(arm);
    if (json_is_integer(arm)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(arm));
        name = num;
    }
    if (!name || !*name)
        return pb_errf(err, PB_ERR_INVALID, "%s: \"arm\" must be a name or a whole number", where);
    double r = json_number_value(reward), p = json_number_value(prop);
    if (!json_is_number(reward) || !(r >= -1 && r <= 1))
        return pb_errf(err, PB_ERR_INVALID, "%s: \"reward\" must be a number in [-1, 1]", where);
    if (!json_is_number(prop) || !(p > 0 && p <= 1))
        return pb_errf(err, PB_ERR_INVALID,
                       "%s: \"propensity\" must be a number in (0, 1] (the logging policy's "
                       "probability of the logged arm)",
                       where);
    if (seg && !json_is_string(seg))
        return pb_errf(err, PB_ERR_INVALID, "%s: \"segment\" must be a string", where);
    pb_status rc = parse_features(log, json_object_get(o, "features"), where, cap, err);
    if (rc != PB_OK)
        return rc;
    size_t a = intern(&log->arms, &log->n_arms, name);
    size_t s = seg ? intern(&log->segments, &log->n_segments, json_string_value(seg)) : NO_SEGMENT;
    if (a == SIZE_MAX || (seg && s == SIZE_MAX))
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    log->arm[log->n] = a;
    log->segment[log->n] = s;
    log->reward[log->n] = r;
    log->propensity[log->n] = p;
    log->n++;
    return PB_OK;
}

pb_status ctxeval_parse_jsonl(const char *data, size_t len, const char *name, size_t dim,
                              struct ctxeval_log *out, char *err)
{
    size_t cap = 0;
    long lineno = 0;
    pb_status rc = PB_OK;
    memset(out, 0, sizeof *out);
    out->dim = dim;
    for (const char *p = data; rc == PB_OK && p < data + len;) {
        const char *nl = memchr(p, '\n', (size_t)(data + len - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(data + len - p), k = 0;
        char where[PB_ERR_LEN / 2];
        snprintf(where, sizeof where, "%s line %ld", name, ++lineno);
        while (k < n && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r'))
            k++;
        if (k < n) {
            json_error_t je;
            json_t *o = json_loadb(p, n, 0, &je);
            rc = o ? parse_event(out, o, where, &cap, err)
                   : pb_errf(err, PB_ERR_INVALID, "%s: not JSON (%s)", where, je.text);
            json_decref(o);
        }
        p += n + 1;
    }
    if (rc == PB_OK && out->n == 0)
        rc = pb_errf(err, PB_ERR_INVALID, "%s holds no events", name);
    if (rc != PB_OK)
        ctxeval_log_free(out);
    return rc;
}

pb_status ctxeval_load_jsonl(const char *path, size_t dim, struct ctxeval_log *out, char *err)
{
    char *data = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    pb_status rc = pb_read_file(path, MAX_LOG_BYTES, &data, &len, err);
    if (rc == PB_OK)
        rc = ctxeval_parse_jsonl(data, len, path, dim, out, err);
    free(data);
    return rc;
}

/* ---- evaluation ------------------------------------------------------------------------ */

struct sums {
    double ips, ips2, w, w2, dm, dr, acc, acc2;
};

/* DM and DR terms of one event; q gets the model's clipped predictions (scratch). */
static pb_status model_terms(contextual *model, const struct ctxeval_log *log, size_t t,
                             const double *probs, double w, double *q, struct sums *s, char *err)
{
    const double *x = log->features + t * log->dim;
    double dm = 0;
    for (size_t a = 0; a < log->n_arms; a++) {
        double width;
        uint64_t pulls;
        pb_status rc = contextual_predict(model, a, x, &q[a], &width, &pulls, err);
        if (rc != PB_OK)
            return rc;
        q[a] = fmin(1, fmax(-1, q[a]));
        dm += probs[a] * q[a];
    }
    s->dm += dm;
    s->dr += dm + w * (log->reward[t] - q[log->arm[t]]);
    return contextual_observe(model, log->arm[t], x, log->reward[t], err);
}

/* One event: IPS terms, then the replay's accept/reject and learning. */
static pb_status eval_event(ctxpolicy *pol, contextual *model, const struct ctxeval_log *log,
                            size_t t, double p_min, gsl_rng *rng, double *probs, double *q,
                            struct sums *s, size_t *accepted, char *err)
{
    const double *x = log->features + t * log->dim;
    size_t seg = log->segment[t] == NO_SEGMENT ? 0 : log->segment[t], a = log->arm[t], pick;
    double r = log->reward[t];
    pb_status rc = ctxpolicy_probabilities(pol, x, seg, rng, probs, err);
    double w = rc == PB_OK ? probs[a] / log->propensity[t] : 0;
    s->ips += w * r, s->ips2 += w * r * w * r, s->w += w, s->w2 += w * w;
    if (rc == PB_OK)
        rc = model_terms(model, log, t, probs, w, q, s, err);
    if (rc == PB_OK)
        rc = ctxpolicy_select(pol, x, seg, rng, &pick, NULL, err);
    if (rc != PB_OK || pick != a || gsl_rng_uniform(rng) >= p_min / log->propensity[t])
        return rc;
    (*accepted)++;
    s->acc += r, s->acc2 += r * r;
    return ctxpolicy_observe(pol, x, seg, a, r, err);
}

static void finish(const struct sums *s, size_t n_events, struct ctxeval_result *out)
{
    double n = (double)n_events, k = (double)out->accepted;
    out->events = n_events;
    out->ips = s->ips / n;
    out->ips_se = n > 1 ? sqrt(fmax(0, (s->ips2 / n - out->ips * out->ips) / (n - 1))) : NAN;
    out->snips = s->w > 0 ? s->ips / s->w : NAN;
    out->ess = s->w2 > 0 ? s->w * s->w / s->w2 : 0;
    out->dm = s->dm / n;
    out->dr = s->dr / n;
    out->replay = k > 0 ? s->acc / k : NAN;
    out->replay_se = k > 1 ? sqrt(fmax(0, (s->acc2 - s->acc * s->acc / k) / (k - 1)) / k) : NAN;
}

static pb_status check_policy_fits(const struct ctxeval_log *log, const ctxpolicy_spec *policy,
                                   char *err)
{
    if (policy->kind != CTXPOLICY_SEGMENTED)
        return PB_OK;
    for (size_t t = 0; t < log->n; t++)
        if (log->segment[t] == NO_SEGMENT)
            return pb_errf(err, PB_ERR_INVALID,
                           "policy %s needs a \"segment\" on every event; event %zu has none",
                           policy->spec, t + 1);
    return PB_OK;
}

pb_status ctxeval_run(const struct ctxeval_log *log, const ctxpolicy_spec *policy, uint64_t seed,
                      struct ctxeval_result *out, char *err)
{
    ctxpolicy *pol = NULL;
    contextual *model = NULL;
    contextual_policy ridge = {.kind = CONTEXTUAL_LINUCB, .alpha = 1, .lambda = 1};
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    double *probs = calloc(log->n_arms + 1, sizeof *probs), *q = calloc(log->n_arms + 1, sizeof *q);
    struct sums s = {0};
    memset(out, 0, sizeof *out);
    snprintf(out->policy, sizeof out->policy, "%s", policy->spec);
    pb_status rc = rng && probs && q ? check_policy_fits(log, policy, err)
                                     : pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc == PB_OK)
        rc = ctxpolicy_new(policy, log->n_arms, log->dim, log->n_segments ? log->n_segments : 1,
                           (const char *const *)log->arms, &pol, err);
    if (rc == PB_OK)
        rc = contextual_new(&ridge, log->n_arms, log->dim, &model, err);
    if (rc != PB_OK)
        goto cleanup;
    gsl_rng_set(rng, sim_seed_stream(seed, 0, 0));
    double p_min = 1;
    for (size_t t = 0; t < log->n; t++)
        p_min = fmin(p_min, log->propensity[t]);
    for (size_t t = 0; t < log->n && rc == PB_OK; t++)
        rc = eval_event(pol, model, log, t, p_min, rng, probs, q, &s, &out->accepted, err);
    if (rc == PB_OK)
        finish(&s, log->n, out);
cleanup:
    ctxpolicy_free(pol);
    contextual_free(model);
    if (rng)
        gsl_rng_free(rng);
    free(probs);
    free(q);
    return rc;
}

/* ---- generation ------------------------------------------------------------------------ */

static json_t *event_json(const ctxworld *w, long t, const ctxworld_context *c, size_t arm,
                          double reward, double p)
{
    json_t *f = json_array();
    for (size_t i = 0; f && i < ctxworld_dim(w); i++)
        json_array_append_new(f, json_real(c->x[i]));
    return json_pack("{s:I, s:s, s:o, s:s, s:f, s:f}", "t", (json_int_t)t, "segment",
                     w->segment_name[c->observed], "features", f, "arm", w->arm_name[arm], "reward",
                     reward, "propensity", p);
}

pb_status ctxeval_generate(const ctxworld *w, const ctxeval_gen_options *o, FILE *out,
                           double *logging_value, char *err)
{
    if (o->events < 1)
        return pb_errf(err, PB_ERR_INVALID, "events must be at least 1, got %ld", o->events);
    if (!(o->epsilon > 0 && o->epsilon <= 1) || o->greedy_arm >= w->n_arms)
        return pb_errf(err, PB_ERR_INVALID,
                       "logging: epsilon must be in (0, 1] and the greedy arm one of the %zu",
                       w->n_arms);
    gsl_rng *ctx_rng = gsl_rng_alloc(gsl_rng_mt19937), *rng = gsl_rng_alloc(gsl_rng_mt19937);
    pb_status rc = ctx_rng && rng ? PB_OK : pb_errf(err, PB_ERR_NOMEM, "out of memory");
    double k = (double)w->n_arms, mean_value = 0;
    if (rc == PB_OK) {
        gsl_rng_set(ctx_rng, sim_seed_stream(o->seed, 0, 0));
        gsl_rng_set(rng, sim_seed_stream(o->seed, 0, 1));
    }
    for (long t = 1; t <= o->events && rc == PB_OK; t++) {
        ctxworld_context c;
        ctxworld_draw_context(w, ctx_rng, &c);
        size_t arm = gsl_rng_uniform(rng) < o->epsilon ? (size_t)gsl_rng_uniform_int(rng, w->n_arms)
                                                       : o->greedy_arm;
        double p = o->epsilon / k + (arm == o->greedy_arm ? 1 - o->epsilon : 0);
        json_t *e = event_json(w, t, &c, arm, ctxworld_draw_reward(w, c.segment, arm, rng), p);
        if (!e)
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        else if (json_dumpf(e, out, JSON_COMPACT | JSON_REAL_PRECISION(10)) != 0 ||
                 fputc('\n', out) == EOF)
            rc = pb_errf(err, PB_ERR_IO, "could not write event %ld of the log", t);
        json_decref(e);
    }
    for (size_t a = 0; a < w->n_arms; a++)
        mean_value += ctxworld_arm_value(w, a) / k;
    if (logging_value)
        *logging_value =
            o->epsilon * mean_value + (1 - o->epsilon) * ctxworld_arm_value(w, o->greedy_arm);
    if (ctx_rng)
        gsl_rng_free(ctx_rng);
    if (rng)
        gsl_rng_free(rng);
    return rc;
}
