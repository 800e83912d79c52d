/* policyspec.h — a bandit policy as a value and as text: the policy kinds, their parameters
 * with defaults and ranges, parsing "name:key=value,..." and printing the canonical spec back.
 * Owns the table of policy names and parameter ranges (the parser and policyspec_check share
 * it); must not run a policy (that is bandit.h) or do I/O. The two types keep the bandit_
 * prefix: they are the bandit's policy and are named as such across the tree. */
#ifndef POLICYSPEC_H
#define POLICYSPEC_H

#include "base/pb.h"
#include <stddef.h>

typedef enum {
    BANDIT_UCB1,
    BANDIT_UCB1_TUNED,
    BANDIT_EGREEDY,
    BANDIT_EGREEDY_DECAY,
    BANDIT_THOMPSON,
    BANDIT_THOMPSON_BETA,
    BANDIT_SOFTMAX,
    BANDIT_DUCB,
    BANDIT_SWUCB,
    BANDIT_UCB_CHERNOFF, /* Chapelle & Li 2011, eq. 1: a Chernoff-bound index */
} bandit_kind;

/* A parsed policy spec. Fields a policy does not use keep their defaults. */
typedef struct {
    bandit_kind kind;
    double epsilon; /* egreedy: exploration probability */
    double c, d;    /* egreedy-decay: eps_n = min(1, c*K/(d*d*n)); d is a gap on [0,1] */
    double sigma;   /* thompson: posterior sd scale, on the [-1,1] reward scale */
    double tau;     /* softmax: temperature, on the [-1,1] reward scale */
    double gamma;   /* ducb: discount factor */
    double xi;      /* ducb, swucb: exploration constant (Garivier & Moulines use 0.6) */
    long window;    /* swucb: window length in observations */
    long draws;     /* thompson*: Monte Carlo draws where choice probabilities are sampled
                     * (ctxpolicy); the propensity of a choice is computed (pbest.h) */
    long burnin;    /* every policy: pulls each active arm gets before the policy decides */
    long prior;     /* thompson*: 1 = an unplayed arm is drawn from the prior like the others
                       (Beta(1,1) for thompson-beta) instead of being played first; 0 default */
} bandit_policy;

/* Parses "name" or "name:key=value,key=value" ("egreedy:epsilon=0.1", "swucb:window=500");
 * every policy also takes burnin=N (arms below N pulls are played first, uniformly); the two
 * Thompson policies take prior=1 (no forced first pull: an unplayed arm is drawn from the
 * prior).
 * Unknown names or keys, malformed or non-finite numbers and out-of-range values give
 * PB_ERR_INVALID with a message naming the offending part; *out is then unchanged. */
pb_status policyspec_parse(const char *spec, bandit_policy *out, char *err);

/* Writes the canonical spec of p (every parameter the policy uses, burnin and prior when not 0)
 * into
 * buf, cut to len bytes. Numbers are printed with %g (six significant digits), so parsing the
 * text back gives p up to that rounding. */
void policyspec_format(const bandit_policy *p, char *buf, size_t len);

/* Short policy name as specs spell it ("ucb1", "thompson-beta", ...); "?" for an unknown kind. */
const char *policyspec_kind_name(bandit_kind kind);

/* Checks a policy built by hand (not parsed) against the parser's ranges: PB_ERR_INVALID for
 * an unknown kind or a used parameter (burnin included) out of range or NaN. */
pb_status policyspec_check(const bandit_policy *p, char *err);

#endif
