/* ctxeval.h — offline evaluation of contextual policies on logged (features, arm, reward,
 * propensity) events: progressive IPS, self-normalised IPS, direct method and doubly robust
 * estimates, and the rejection-sampling replay of Li et al. 2011 (generalised to non-uniform
 * logging by accepting with probability p_min/p). Also writes such logs from a ctxworld so an
 * estimate can be checked against the known truth. No database, no network. */
#ifndef CTXEVAL_H
#define CTXEVAL_H

#include "base/pb.h"
#include "bandit/ctxpolicy.h"
#include "sim/ctxworld.h"

#include <stdint.h>
#include <stdio.h>

struct ctxeval_log {
    size_t n, dim;
    double *features; /* n x dim, row-major */
    size_t *arm, *segment;
    double *reward, *propensity;
    char **arms; /* names in order of first appearance */
    size_t n_arms;
    char **segments; /* likewise; empty when the log has no "segment" */
    size_t n_segments;
};

/* Parses JSONL, one event per line: {"features":[dim numbers], "arm": name or whole number,
 * "reward": [-1, 1], "propensity": (0, 1], "segment": name (optional, needed by segmented
 * policies)}; other keys are ignored, blank lines skipped. dim 0 takes the first line's.
 * Errors name the line: wrong dimension, missing or non-positive propensity, bad reward.
 * Caller frees with ctxeval_log_free. */
pb_status ctxeval_parse_jsonl(const char *data, size_t len, const char *name, size_t dim,
                              struct ctxeval_log *out, char *err);
pb_status ctxeval_load_jsonl(const char *path, size_t dim, struct ctxeval_log *out, char *err);
void ctxeval_log_free(struct ctxeval_log *log);

struct ctxeval_result {
    char policy[160];
    size_t events, accepted;  /* events; events the replay accepted (the policy learnt from) */
    double replay, replay_se; /* mean accepted reward and its standard error; NaN if none */
    double ips, ips_se;       /* (1/n) sum pi_t(a_t|x_t) r_t / p_t and its standard error */
    double snips;             /* sum w r / sum w */
    double dm, dr;            /* direct method and doubly robust, with a ridge reward model */
    double ess;               /* effective sample size (sum w)^2 / sum w^2 */
};

/* Evaluates one policy over the log in order with a seeded RNG. The policy learns only from
 * the events the replay accepts, so IPS-type estimates refer to the same learning policy; the
 * reward model of DM/DR is a per-arm ridge regression on the earlier events only. */
pb_status ctxeval_run(const struct ctxeval_log *log, const ctxpolicy_spec *policy, uint64_t seed,
                      struct ctxeval_result *out, char *err);

typedef struct {
    long events;
    uint64_t seed;
    double epsilon;    /* 1: uniform logging; else epsilon-greedy around greedy_arm */
    size_t greedy_arm; /* index into the world's arms */
} ctxeval_gen_options;

/* Writes options->events JSONL events drawn from the world under the logging policy, each
 * with features, the observed segment (top group), arm name, reward and propensity. The true
 * expected reward of the logging policy goes to *logging_value (may be NULL). */
pb_status ctxeval_generate(const ctxworld *w, const ctxeval_gen_options *options, FILE *out,
                           double *logging_value, char *err);

#endif
