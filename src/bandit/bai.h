/* bai.h — best-arm identification with fixed confidence: which arm is best, at confidence
 * 1 - delta, for the fewest samples. Four sampling rules — Top-Two Thompson sampling (Russo
 * 2016), LUCB1 (Kalyanakrishnan et al. 2012), successive elimination (Even-Dar et al. 2006) and
 * uniform allocation — all stopped by the one GLR / Chernoff rule of glr.h (Garivier & Kaufmann
 * 2016), so a returned arm is wrong with probability at most delta whichever rule sampled.
 * Rewards are bounded in [lo, hi] (Bernoulli 0/1 or judge scores -1..1). The caller drives the
 * loop (bai_next, pay the arm, bai_observe, bai_check), so an offline run, a simulation or a
 * service can use it. Pure: no I/O, no globals, randomness from the caller's gsl_rng. */
#ifndef BAI_H
#define BAI_H

#include <gsl/gsl_rng.h>
#include <stddef.h>

#include "base/pb.h"

typedef enum { BAI_TTS, BAI_LUCB, BAI_SE, BAI_UNIFORM } bai_rule;

struct bai_options {
    bai_rule rule;
    double delta;  /* wrong-arm probability allowed, in (0, 1) */
    double lo, hi; /* reward range, lo < hi */
    double beta;   /* TTS: probability of playing the leader (Russo: 1/2); 0 means 1/2 */
    double min_n;  /* rewards each compared arm needs before a stop; < 1 means 1 */
};

typedef struct bai bai;

/* A new identification over k >= 2 arms. Caller frees with bai_free. PB_ERR_INVALID for bad
 * options (named), PB_ERR_NOMEM. */
pb_status bai_new(const struct bai_options *opt, size_t k, bai **out, char *err);
void bai_free(bai *s);

/* Forgets every reward (a new run on the same arms and options). */
void bai_reset(bai *s);

/* Forgets LUCB's half-played round (its second arm, owed to the next bai_next), so the next
 * choice depends on the rewards alone: a caller that decides in batches and may resume between
 * them calls it at each batch start. The other rules keep no such state. */
void bai_new_round(bai *s);

/* The arm to sample next under the rule. PB_ERR_CONFLICT once successive elimination has one
 * arm left (the run is over). */
pb_status bai_next(bai *s, gsl_rng *rng, size_t *arm, char *err);

/* Records one reward in [lo, hi] for arm; PB_ERR_INVALID for an unknown arm or a reward out of
 * range or not finite (the state is unchanged). */
pb_status bai_observe(bai *s, size_t arm, double reward, char *err);

struct bai_status {
    int stop;         /* the leader is identified at 1 - delta */
    size_t leader;    /* the arm to return (highest mean; the survivor for SE) */
    size_t runner_up; /* the arm the leader is least separated from */
    double statistic; /* GLR of leader against runner_up */
    double threshold; /* glr_threshold(t, k, delta) */
    double samples;   /* rewards so far */
    size_t alive;     /* arms still sampled (SE eliminates; the others keep all) */
};

/* The GLR stopping rule now (glr_verdict_of over all arms, at delta, with min_n). */
pb_status bai_check(bai *s, struct bai_status *out, char *err);

/* Rule name as specs spell it ("tts", "lucb", "se", "uniform") and back; bai_rule_parse gives
 * PB_ERR_INVALID naming the known rules. */
const char *bai_rule_name(bai_rule rule);
pb_status bai_rule_parse(const char *name, bai_rule *out, char *err);

#endif
