/* ctxpolicy.c — dispatch from the common contextual-policy interface to bandit, segments and
 * contextual. Owns the wrapped object; must not do I/O. The segment argument is ignored by
 * policies that do not use it, and the features by those that do not read them. */
#include "bandit/ctxpolicy.h"

#include "base/pb.h"
#include "bandit/segments.h"
#include "bandit/policyspec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MIN_PULLS 20
#define MC_DRAWS          1000

struct ctxpolicy {
    ctxpolicy_spec spec;
    size_t n_arms, fixed;
    bandit *global;
    segments *seg;
    contextual *lin;
};

/* Removes ",min_pulls=N" (or a leading "min_pulls=N") from a segmented spec's parameters. */
static pb_status take_min_pulls(char *spec, long *min_pulls, char *err)
{
    char *m = strstr(spec, "min_pulls=");
    if (!m)
        return PB_OK;
    char *end;
    errno = 0;
    long v = strtol(m + 10, &end, 10);
    if (end == m + 10 || errno || v < 0 || v > 100000000 || (*end && *end != ','))
        return pb_errf(err, PB_ERR_INVALID, "segmented: min_pulls must be a whole number >= 0");
    *min_pulls = v;
    char *from = *end == ',' ? end + 1 : end;
    if (m > spec && (m[-1] == ',' || m[-1] == ':') && !*from)
        m--; /* drop the separator before a trailing min_pulls */
    memmove(m, from, strlen(from) + 1);
    return PB_OK;
}

pb_status ctxpolicy_parse(const char *spec, ctxpolicy_spec *out, char *err)
{
    ctxpolicy_spec p;
    memset(&p, 0, sizeof p);
    if (strlen(spec) >= sizeof p.spec)
        return pb_errf(err, PB_ERR_INVALID, "policy '%.40s...' is too long", spec);
    snprintf(p.spec, sizeof p.spec, "%s", spec);
    p.min_pulls = DEFAULT_MIN_PULLS;
    pb_status rc;
    if (!strncmp(spec, "segmented:", 10)) {
        char inner[sizeof p.spec];
        snprintf(inner, sizeof inner, "%s", spec + 10);
        p.kind = CTXPOLICY_SEGMENTED;
        rc = take_min_pulls(inner, &p.min_pulls, err);
        if (rc == PB_OK)
            rc = policyspec_parse(inner, &p.bandit, err);
    } else if (!strncmp(spec, "fixed:", 6)) {
        p.kind = CTXPOLICY_FIXED;
        if (!spec[6] || strlen(spec + 6) >= sizeof p.arm)
            return pb_errf(err, PB_ERR_INVALID, "fixed: needs an arm name or number");
        snprintf(p.arm, sizeof p.arm, "%s", spec + 6);
        rc = PB_OK;
    } else if (!strncmp(spec, "linucb", 6) || !strncmp(spec, "lints", 5)) {
        p.kind = CTXPOLICY_LINEAR;
        rc = contextual_policy_parse(spec, &p.linear, err);
    } else {
        p.kind = CTXPOLICY_GLOBAL;
        rc = policyspec_parse(spec, &p.bandit, err);
        if (rc == PB_ERR_INVALID && err && !strncmp(err, "unknown policy '", 16))
            pb_errf(err, PB_ERR_INVALID,
                    "unknown policy '%.*s' (known: ucb1, ucb1-tuned, egreedy, egreedy-decay, "
                    "softmax, thompson, thompson-beta, ducb, swucb, segmented:POLICY, linucb, "
                    "lints, fixed:ARM)",
                    (int)strcspn(spec, ":"), spec);
    }
    if (rc == PB_OK)
        *out = p;
    return rc;
}

pb_status ctxpolicy_parse_list(const char *list, ctxpolicy_spec *out, size_t cap, size_t *n,
                               char *err)
{
    char spec[160];
    const char *p = list;
    if (!*p)
        return pb_errf(err, PB_ERR_INVALID, "--policy: empty list");
    while (*p) {
        size_t len = strcspn(p, ",");
        while (p[len] == ',') {
            const char *next = p + len + 1;
            size_t nlen = strcspn(next, ",");
            if (!memchr(next, '=', nlen) || memchr(next, ':', nlen))
                break;
            len += 1 + nlen;
        }
        if (len == 0 || len >= sizeof spec)
            return pb_errf(err, PB_ERR_INVALID, "--policy: empty or too long policy in '%.60s'",
                           list);
        if (*n == cap)
            return pb_errf(err, PB_ERR_INVALID, "--policy: at most %zu policies", cap);
        memcpy(spec, p, len);
        spec[len] = '\0';
        pb_status rc = ctxpolicy_parse(spec, &out[*n], err);
        if (rc != PB_OK)
            return rc;
        (*n)++;
        p += len + (p[len] == ',');
    }
    return PB_OK;
}

/* fixed:ARM as an index: a name from arm_names, else a 1-based number. */
static pb_status resolve_arm(const char *arm, size_t n_arms, const char *const *names, size_t *out,
                             char *err)
{
    for (size_t i = 0; names && i < n_arms; i++)
        if (names[i] && !strcmp(names[i], arm)) {
            *out = i;
            return PB_OK;
        }
    char *end;
    long v = strtol(arm, &end, 10);
    if (end == arm || *end || v < 1 || (size_t)v > n_arms)
        return pb_errf(err, PB_ERR_INVALID, "fixed:%s: no such arm (give a name or 1..%zu)", arm,
                       n_arms);
    *out = (size_t)v - 1;
    return PB_OK;
}

pb_status ctxpolicy_new(const ctxpolicy_spec *spec, size_t n_arms, size_t dim, size_t n_segments,
                        const char *const *arm_names, ctxpolicy **out, char *err)
{
    *out = NULL;
    ctxpolicy *p = calloc(1, sizeof *p);
    if (!p)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    p->spec = *spec;
    p->n_arms = n_arms;
    pb_status rc = PB_OK;
    switch (spec->kind) {
    case CTXPOLICY_GLOBAL:
        rc = bandit_new(&spec->bandit, n_arms, &p->global, err);
        break;
    case CTXPOLICY_SEGMENTED:
        rc = segments_new(&spec->bandit, n_arms, n_segments, spec->min_pulls, &p->seg, err);
        break;
    case CTXPOLICY_LINEAR:
        rc = contextual_new(&spec->linear, n_arms, dim, &p->lin, err);
        break;
    case CTXPOLICY_FIXED:
        rc = resolve_arm(spec->arm, n_arms, arm_names, &p->fixed, err);
        break;
    }
    if (rc != PB_OK) {
        ctxpolicy_free(p);
        return rc;
    }
    *out = p;
    return PB_OK;
}

void ctxpolicy_free(ctxpolicy *p)
{
    if (!p)
        return;
    bandit_free(p->global);
    segments_free(p->seg);
    contextual_free(p->lin);
    free(p);
}

pb_status ctxpolicy_select(ctxpolicy *p, const double *x, size_t segment, gsl_rng *rng, size_t *arm,
                           double *propensity, char *err)
{
    switch (p->spec.kind) {
    case CTXPOLICY_GLOBAL:
        return bandit_select(p->global, rng, arm, propensity, err);
    case CTXPOLICY_SEGMENTED:
        return segments_select(p->seg, segment, rng, arm, propensity, NULL, err);
    case CTXPOLICY_LINEAR:
        return contextual_select(p->lin, x, rng, arm, propensity, err);
    case CTXPOLICY_FIXED:
        break;
    }
    *arm = p->fixed;
    if (propensity)
        *propensity = 1;
    return PB_OK;
}

static long mc_draws(const ctxpolicy *p)
{
    long d = p->spec.kind == CTXPOLICY_LINEAR ? p->spec.linear.draws : p->spec.bandit.draws;
    return d > 0 ? d : MC_DRAWS;
}

pb_status ctxpolicy_probabilities(ctxpolicy *p, const double *x, size_t segment, gsl_rng *rng,
                                  double *out, char *err)
{
    switch (p->spec.kind) {
    case CTXPOLICY_GLOBAL:
        return bandit_choice_probabilities(p->global, rng, mc_draws(p), out, err);
    case CTXPOLICY_SEGMENTED:
        return segments_choice_probabilities(p->seg, segment, rng, mc_draws(p), out, NULL, err);
    case CTXPOLICY_LINEAR:
        return contextual_choice_probabilities(p->lin, x, rng, mc_draws(p), out, err);
    case CTXPOLICY_FIXED:
        break;
    }
    for (size_t i = 0; i < p->n_arms; i++)
        out[i] = i == p->fixed;
    return PB_OK;
}

pb_status ctxpolicy_observe(ctxpolicy *p, const double *x, size_t segment, size_t arm,
                            double reward, char *err)
{
    switch (p->spec.kind) {
    case CTXPOLICY_GLOBAL:
        return bandit_observe(p->global, arm, reward, err);
    case CTXPOLICY_SEGMENTED:
        return segments_observe(p->seg, segment, arm, reward, err);
    case CTXPOLICY_LINEAR:
        return contextual_observe(p->lin, arm, x, reward, err);
    case CTXPOLICY_FIXED:
        break;
    }
    return PB_OK;
}
