/* ctxpolicy.h — one interface over every policy the contextual simulator and the offline
 * evaluator compare: a global (context-free) bandit, one bandit per segment with fallback
 * (`segmented:`), LinUCB / LinTS over the feature vector, and a fixed arm. Wraps bandit,
 * segments and contextual; no I/O, no globals, randomness from the caller's gsl_rng. */
#ifndef CTXPOLICY_H
#define CTXPOLICY_H

#include "base/pb.h"
#include "bandit/policyspec.h"
#include "bandit/contextual.h"

#include <gsl/gsl_rng.h>
#include <stddef.h>

typedef enum {
    CTXPOLICY_GLOBAL,
    CTXPOLICY_SEGMENTED,
    CTXPOLICY_LINEAR,
    CTXPOLICY_FIXED
} ctxpolicy_kind;

typedef struct {
    ctxpolicy_kind kind;
    bandit_policy bandit;     /* global, segmented */
    long min_pulls;           /* segmented: pulls before a segment decides alone (default 20) */
    contextual_policy linear; /* linear */
    char arm[32];             /* fixed: arm name or 1-based index, resolved by ctxpolicy_new */
    char spec[160];           /* the spec as given, for reports */
} ctxpolicy_spec;

/* Parses "ucb1-tuned" (any policyspec.h spec), "segmented:SPEC[,min_pulls=N]", "linucb:...",
 * "lints:..." or "fixed:ARM". Unknown names or keys: PB_ERR_INVALID naming them. */
pb_status ctxpolicy_parse(const char *spec, ctxpolicy_spec *out, char *err);

/* Splits a comma list into specs, an item with '=' and no ':' continuing the previous one
 * ("linucb:alpha=0.5,burnin=5,ucb1" is two). Appends to out (cap slots) and counts in *n. */
pb_status ctxpolicy_parse_list(const char *list, ctxpolicy_spec *out, size_t cap, size_t *n,
                               char *err);

typedef struct ctxpolicy ctxpolicy;

/* A fresh policy over n_arms arms, features of dimension dim and n_segments segments;
 * arm_names (may be NULL) resolve fixed:NAME. Caller frees with ctxpolicy_free. */
pb_status ctxpolicy_new(const ctxpolicy_spec *spec, size_t n_arms, size_t dim, size_t n_segments,
                        const char *const *arm_names, ctxpolicy **out, char *err);
void ctxpolicy_free(ctxpolicy *p);

/* Chooses an arm for features x (dim values) in segment (< n_segments); *propensity may be
 * NULL. Errors as the wrapped module's select. */
pb_status ctxpolicy_select(ctxpolicy *p, const double *x, size_t segment, gsl_rng *rng, size_t *arm,
                           double *propensity, char *err);

/* Probability of each arm under select in the current state (out: one slot per arm). */
pb_status ctxpolicy_probabilities(ctxpolicy *p, const double *x, size_t segment, gsl_rng *rng,
                                  double *out, char *err);

/* Learns one reward in [-1, 1]; bad input changes nothing. */
pb_status ctxpolicy_observe(ctxpolicy *p, const double *x, size_t segment, size_t arm,
                            double reward, char *err);

#endif
