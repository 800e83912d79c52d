/* replay.c — JSONL event logs and offline policy evaluation: rejection-sampling replay and
 * inverse-propensity estimates, over the bandit engine. */
#include "offline/replay.h"

#include "bandit/bandit.h"
#include "bandit/policyspec.h"

#include <gsl/gsl_rng.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LOG_BYTES (1u << 30)

void replay_log_free(struct replay_log *log)
{
    for (size_t i = 0; i < log->n_arms; i++)
        free(log->arms[i]);
    free(log->arms);
    free(log->events);
    memset(log, 0, sizeof *log);
}

/* Index of arm name, added when new. -1 when out of memory. */
static long arm_of(struct replay_log *log, const char *name)
{
    for (size_t i = 0; i < log->n_arms; i++)
        if (!strcmp(log->arms[i], name))
            return (long)i;
    char **grown = realloc(log->arms, (log->n_arms + 1) * sizeof *grown);
    if (!grown)
        return -1;
    log->arms = grown;
    if (!(log->arms[log->n_arms] = strdup(name)))
        return -1;
    return (long)log->n_arms++;
}

static bool push_event(struct replay_log *log, const struct replay_event *e, size_t *cap)
{
    if (log->n == *cap) {
        size_t c = *cap ? 2 * *cap : 1024;
        struct replay_event *grown = realloc(log->events, c * sizeof *grown);
        if (!grown)
            return false;
        log->events = grown;
        *cap = c;
    }
    log->events[log->n++] = *e;
    return true;
}

/* One line's object into an event; 1 = event, 0 = skipped, negative = error. */
static int parse_event(struct replay_log *log, json_t *o, const char *where, struct replay_event *e,
                       char *err)
{
    json_t *status = json_object_get(o, "status"), *arm = json_object_get(o, "arm"),
           *reward = json_object_get(o, "reward"), *prop = json_object_get(o, "propensity");
    char num[32];
    const char *name = NULL;
    if (!json_is_object(o))
        return pb_errf(err, PB_ERR_INVALID, "%s: not a JSON object", where);
    if ((status && (!json_is_string(status) || strcmp(json_string_value(status), "ok") != 0)) ||
        !reward || json_is_null(reward))
        return 0;
    if (json_is_string(arm) && json_string_length(arm) > 0) {
        name = json_string_value(arm);
    } else if (json_is_integer(arm)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(arm));
        name = num;
    } else {
        return pb_errf(err, PB_ERR_INVALID, "%s: \"arm\" must be a name or a whole number", where);
    }
    double r = json_number_value(reward);
    if (!json_is_number(reward) || !(r >= -1 && r <= 1))
        return pb_errf(err, PB_ERR_INVALID, "%s: \"reward\" must be a number in [-1, 1]", where);
    double p = 0;
    if (prop && !json_is_null(prop)) {
        p = json_number_value(prop);
        if (!json_is_number(prop) || !(p > 0 && p <= 1))
            return pb_errf(err, PB_ERR_INVALID, "%s: \"propensity\" must be in (0, 1]", where);
    }
    long a = arm_of(log, name);
    if (a < 0)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    *e = (struct replay_event){(size_t)a, r, p};
    return 1;
}

pb_status replay_parse_jsonl(const char *data, size_t len, const char *name, struct replay_log *out,
                             char *err)
{
    size_t cap = 0;
    long lineno = 0;
    pb_status rc = PB_OK;
    memset(out, 0, sizeof *out);
    for (const char *p = data; rc == PB_OK && p < data + len;) {
        const char *nl = memchr(p, '\n', (size_t)(data + len - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(data + len - p);
        char where[PB_ERR_LEN / 2];
        lineno++;
        snprintf(where, sizeof where, "%s line %ld", name, lineno);
        size_t k = 0;
        while (k < n && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r'))
            k++;
        if (k < n) {
            json_error_t je;
            json_t *o = json_loadb(p, n, 0, &je);
            struct replay_event e;
            int got = o ? parse_event(out, o, where, &e, err)
                        : pb_errf(err, PB_ERR_INVALID, "%s: not JSON (%s)", where, je.text);
            json_decref(o);
            if (got < 0)
                rc = got;
            else if (got == 0)
                out->skipped++;
            else if (!push_event(out, &e, &cap))
                rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
            else
                out->with_propensity += e.propensity > 0;
        }
        p += n + 1;
    }
    if (rc == PB_OK && out->n == 0)
        rc = pb_errf(err, PB_ERR_INVALID, "%s holds no events with an arm and a reward", name);
    if (rc != PB_OK)
        replay_log_free(out);
    return rc;
}

pb_status replay_load_jsonl(const char *path, struct replay_log *out, char *err)
{
    char *data = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    pb_status rc = pb_read_file(path, MAX_LOG_BYTES, &data, &len, err);
    if (rc == PB_OK)
        rc = replay_parse_jsonl(data, len, path, out, err);
    free(data);
    return rc;
}

pb_status replay_run(const struct replay_log *log, const char *policy, uint64_t seed,
                     struct replay_result *out, char *err)
{
    bandit_policy pol;
    bandit *b = NULL;
    gsl_rng *rng = NULL;
    double *probs = NULL, sum = 0, sumsq = 0, ips = 0, weights = 0;
    memset(out, 0, sizeof *out);
    snprintf(out->policy, sizeof out->policy, "%s", policy ? policy : "");
    pb_status rc = policyspec_parse(policy, &pol, err);
    if (rc == PB_OK)
        rc = bandit_new(&pol, log->n_arms, &b, err);
    if (rc == PB_OK && (!(rng = gsl_rng_alloc(gsl_rng_mt19937)) ||
                        !(probs = calloc(log->n_arms ? log->n_arms : 1, sizeof *probs))))
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc != PB_OK)
        goto cleanup;
    gsl_rng_set(rng, (unsigned long)(seed & 0xffffffffu));
    out->has_ips = log->n > 0 && log->with_propensity == log->n;
    for (size_t t = 0; t < log->n && rc == PB_OK; t++) {
        const struct replay_event *e = &log->events[t];
        size_t arm;
        rc = bandit_select(b, rng, &arm, NULL, err);
        if (rc == PB_OK && out->has_ips &&
            (rc = bandit_choice_probabilities(b, rng, pol.draws > 0 ? pol.draws : 1000, probs,
                                              err)) == PB_OK) {
            double w = probs[e->arm] / e->propensity;
            ips += w * e->reward;
            weights += w;
        }
        if (rc == PB_OK && arm == e->arm) {
            rc = bandit_observe(b, arm, e->reward, err);
            out->accepted++;
            sum += e->reward;
            sumsq += e->reward * e->reward;
        }
    }
    out->events = log->n;
    double n = (double)out->accepted;
    out->mean = n > 0 ? sum / n : NAN;
    double var = n > 1 ? (sumsq - sum * sum / n) / (n - 1) : NAN, half = 1.96 * sqrt(var / n);
    out->ci_low = n > 1 ? out->mean - half : NAN;
    out->ci_high = n > 1 ? out->mean + half : NAN;
    out->ips = out->has_ips ? ips / (double)log->n : NAN;
    out->snips = out->has_ips && weights > 0 ? ips / weights : NAN;
cleanup:
    bandit_free(b);
    gsl_rng_free(rng);
    free(probs);
    return rc;
}
