/* policyspec.c — the policy table (names, the parameters each accepts, defaults, ranges), the
 * spec parser and printer, and the range check for hand-built policies. Must not know how a
 * policy chooses (bandit.c) or do I/O. */
#include "bandit/policyspec.h"

#include "base/pb.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct param_def {
    const char *name;
    size_t offset;
    int is_long;
    double min, max;
    int open_min, open_max; /* 1: the bound itself is not allowed */
};

static const struct param_def param_defs[] = {
    {"epsilon", offsetof(bandit_policy, epsilon), 0, 0, 1, 0, 0},
    {"c", offsetof(bandit_policy, c), 0, 0, 1e6, 1, 0},
    {"d", offsetof(bandit_policy, d), 0, 0, 1, 1, 0},
    {"sigma", offsetof(bandit_policy, sigma), 0, 0, 100, 1, 0},
    {"tau", offsetof(bandit_policy, tau), 0, 0, 1e6, 1, 0},
    {"gamma", offsetof(bandit_policy, gamma), 0, 0, 1, 1, 1},
    {"xi", offsetof(bandit_policy, xi), 0, 0, 100, 1, 0},
    {"window", offsetof(bandit_policy, window), 1, 1, 10000000, 0, 0},
    {"draws", offsetof(bandit_policy, draws), 1, 1, 10000000, 0, 0},
    {"burnin", offsetof(bandit_policy, burnin), 1, 0, 1000000, 0, 0},
    {"prior", offsetof(bandit_policy, prior), 1, 0, 1, 0, 0},
};
#define N_PARAM_DEFS (sizeof param_defs / sizeof param_defs[0])

static const struct {
    const char *name;
    bandit_kind kind;
    const char *params; /* comma-separated names this policy accepts */
} policy_defs[] = {
    {"ucb1", BANDIT_UCB1, ""},
    {"ucb1-tuned", BANDIT_UCB1_TUNED, ""},
    {"egreedy", BANDIT_EGREEDY, "epsilon"},
    {"egreedy-decay", BANDIT_EGREEDY_DECAY, "c,d"},
    {"thompson", BANDIT_THOMPSON, "sigma,draws,prior"},
    {"thompson-beta", BANDIT_THOMPSON_BETA, "draws,prior"},
    {"softmax", BANDIT_SOFTMAX, "tau"},
    {"ducb", BANDIT_DUCB, "gamma,xi"},
    {"swucb", BANDIT_SWUCB, "window,xi"},
    {"ucb-chernoff", BANDIT_UCB_CHERNOFF, ""},
};
#define N_POLICY_DEFS (sizeof policy_defs / sizeof policy_defs[0])

const char *policyspec_kind_name(bandit_kind kind)
{
    for (size_t i = 0; i < N_POLICY_DEFS; i++)
        if (policy_defs[i].kind == kind)
            return policy_defs[i].name;
    return "?";
}

static void policy_defaults(bandit_policy *p, bandit_kind kind)
{
    *p = (bandit_policy){.kind = kind,
                         .epsilon = 0.1,
                         .c = 0.15,
                         .d = 0.1,
                         .sigma = 1.0,
                         .tau = 0.1,
                         .gamma = 0.99,
                         .xi = 0.6,
                         .window = 1000,
                         .draws = 1000};
}

/* True when the comma-separated list holds name exactly. */
static bool list_has(const char *list, const char *name, size_t name_len)
{
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n == name_len && strncmp(p, name, n) == 0)
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

static pb_status parse_param(bandit_policy *p, const char *policy_name, const char *allowed,
                             const char *item, size_t len, char *err)
{
    const char *eq = memchr(item, '=', len);
    if (!eq)
        return pb_errf(err, PB_ERR_INVALID, "policy %s: expected key=value, got '%.*s'",
                       policy_name, (int)len, item);
    size_t key_len = (size_t)(eq - item);
    const struct param_def *def = NULL;
    for (size_t i = 0; i < N_PARAM_DEFS; i++)
        if (strlen(param_defs[i].name) == key_len && !strncmp(param_defs[i].name, item, key_len))
            def = &param_defs[i];
    bool common = def && !strcmp(def->name, "burnin");
    if (!def || (!common && !list_has(allowed, item, key_len)))
        return pb_errf(err, PB_ERR_INVALID,
                       "policy %s: unknown parameter '%.*s' (accepted: %s%sburnin)", policy_name,
                       (int)key_len, item, allowed, *allowed ? "," : "");
    char text[64];
    size_t vlen = len - key_len - 1;
    if (vlen == 0 || vlen >= sizeof text)
        return pb_errf(err, PB_ERR_INVALID, "policy %s: parameter %s needs a value", policy_name,
                       def->name);
    memcpy(text, eq + 1, vlen);
    text[vlen] = '\0';
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno || !isfinite(v) || (def->is_long && v != floor(v)))
        return pb_errf(err, PB_ERR_INVALID, "policy %s: %s must be a finite %snumber, got '%s'",
                       policy_name, def->name, def->is_long ? "whole " : "", text);
    if (v < def->min || v > def->max || (def->open_min && v == def->min) ||
        (def->open_max && v == def->max))
        return pb_errf(err, PB_ERR_INVALID, "policy %s: %s=%s is outside %c%g, %g%c", policy_name,
                       def->name, text, def->open_min ? '(' : '[', def->min, def->max,
                       def->open_max ? ')' : ']');
    if (def->is_long)
        *(long *)((char *)p + def->offset) = (long)v;
    else
        *(double *)((char *)p + def->offset) = v;
    return PB_OK;
}

pb_status policyspec_parse(const char *spec, bandit_policy *out, char *err)
{
    size_t name_len = strcspn(spec, ":");
    size_t found = N_POLICY_DEFS;
    for (size_t i = 0; i < N_POLICY_DEFS; i++)
        if (strlen(policy_defs[i].name) == name_len &&
            !strncmp(policy_defs[i].name, spec, name_len))
            found = i;
    if (found == N_POLICY_DEFS)
        return pb_errf(err, PB_ERR_INVALID,
                       "unknown policy '%.*s' (known: ucb1, ucb1-tuned, egreedy, egreedy-decay, "
                       "thompson, thompson-beta, softmax, ducb, swucb, "
                       "ucb-chernoff)",
                       (int)(name_len > 40 ? 40 : name_len), spec);
    bandit_policy p;
    policy_defaults(&p, policy_defs[found].kind);
    const char *rest = spec + name_len;
    if (*rest == ':') {
        rest++;
        if (!*rest)
            return pb_errf(err, PB_ERR_INVALID, "policy %s: empty parameter list after ':'",
                           policy_defs[found].name);
        while (*rest) {
            size_t n = strcspn(rest, ",");
            pb_status rc =
                parse_param(&p, policy_defs[found].name, policy_defs[found].params, rest, n, err);
            if (rc != PB_OK)
                return rc;
            rest += n + (rest[n] == ',');
        }
    }
    *out = p;
    return PB_OK;
}

void policyspec_format(const bandit_policy *p, char *buf, size_t len)
{
    const char *params = "";
    for (size_t i = 0; i < N_POLICY_DEFS; i++)
        if (policy_defs[i].kind == p->kind)
            params = policy_defs[i].params;
    size_t used = (size_t)snprintf(buf, len, "%s", policyspec_kind_name(p->kind));
    char sep = ':';
    for (size_t i = 0; i < N_PARAM_DEFS && used < len; i++) {
        const struct param_def *def = &param_defs[i];
        if (!list_has(params, def->name, strlen(def->name)))
            continue;
        const char *field = (const char *)p + def->offset;
        if (!strcmp(def->name, "prior") && p->prior == 0)
            continue; /* the default is left out, so older specs read the same */
        if (def->is_long)
            used += (size_t)snprintf(buf + used, len - used, "%c%s=%ld", sep, def->name,
                                     *(const long *)field);
        else
            used += (size_t)snprintf(buf + used, len - used, "%c%s=%g", sep, def->name,
                                     *(const double *)field);
        sep = ',';
    }
    if (p->burnin > 0 && used < len)
        snprintf(buf + used, len - used, "%cburnin=%ld", sep, p->burnin);
}

pb_status policyspec_check(const bandit_policy *p, char *err)
{
    const char *params = NULL;
    for (size_t i = 0; i < N_POLICY_DEFS; i++)
        if (policy_defs[i].kind == p->kind)
            params = policy_defs[i].params;
    if (!params)
        return pb_errf(err, PB_ERR_INVALID, "unknown policy kind %d", (int)p->kind);
    for (size_t i = 0; i < N_PARAM_DEFS; i++) {
        const struct param_def *def = &param_defs[i];
        if (strcmp(def->name, "burnin") && !list_has(params, def->name, strlen(def->name)))
            continue;
        const char *field = (const char *)p + def->offset;
        double v = def->is_long ? (double)*(const long *)field : *(const double *)field;
        if (!(v >= def->min && v <= def->max) || (def->open_min && v == def->min) ||
            (def->open_max && v == def->max))
            return pb_errf(err, PB_ERR_INVALID, "policy %s: %s=%g is outside %c%g, %g%c",
                           policyspec_kind_name(p->kind), def->name, v, def->open_min ? '(' : '[',
                           def->min, def->max, def->open_max ? ')' : ']');
    }
    return PB_OK;
}
