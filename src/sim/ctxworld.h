/* ctxworld.h — a synthetic contextual world for the simulator: S segments (e.g. emotion
 * groups) with given frequencies, K arms whose expected reward depends on the segment, the
 * reward distribution, and the feature vector a policy sees each round (bias, noisy group
 * scores, conversation length, hour of day). Pure: parses specs, draws from the caller's RNG,
 * prints nothing and reads no files. */
#ifndef CTXWORLD_H
#define CTXWORLD_H

#include "base/pb.h"
#include <gsl/gsl_rng.h>
#include <stddef.h>

#define CTXWORLD_MAX_SEGMENTS 32
#define CTXWORLD_MAX_ARMS     32
#define CTXWORLD_NAME_LEN     32
#define CTXWORLD_MAX_DIM      (1 + CTXWORLD_MAX_SEGMENTS + 3)

typedef enum { CTXWORLD_DISCRETE, CTXWORLD_BERNOULLI, CTXWORLD_GAUSSIAN } ctxworld_reward;

typedef struct {
    size_t n_segments, n_arms;
    char segment_name[CTXWORLD_MAX_SEGMENTS][CTXWORLD_NAME_LEN];
    char arm_name[CTXWORLD_MAX_ARMS][CTXWORLD_NAME_LEN];
    double freq[CTXWORLD_MAX_SEGMENTS]; /* normalised to sum 1 by ctxworld_check */
    double mean[CTXWORLD_MAX_SEGMENTS][CTXWORLD_MAX_ARMS]; /* expected reward on [-1, 1] */
    ctxworld_reward reward;
    double sd;    /* gaussian: noise sd before clipping (the clipped mean is re-solved) */
    double noise; /* weight in [0, 1) of random Dirichlet scores mixed into the one-hot group */
    int extras;   /* 1: conversation length and hour-of-day features (3 more dimensions) */
    double loc[CTXWORLD_MAX_SEGMENTS][CTXWORLD_MAX_ARMS]; /* gaussian: set by ctxworld_check */
} ctxworld;

/* Parses "contextual:emotion4[,key=value...]" or "contextual:means=M|M|...[,key=value...]"
 * where each M is one segment's arm means "0.5/0.3/-0.2" and keys are freq=F/F/..., noise=,
 * reward=discrete|bernoulli|gaussian, sd=, features=full|groups. PB_ERR_INVALID naming the
 * bad part. */
pb_status ctxworld_parse(const char *spec, ctxworld *out, char *err);

/* Same from JSON text: {"segments":[{"name":"negative","freq":0.35,"means":[...]}, ...],
 * "arms":["A",...], "reward":"discrete", "sd":0.5, "noise":0.2, "features":"full"}. */
pb_status ctxworld_from_json(const char *text, ctxworld *out, char *err);

/* Ranges (means in [-1, 1], frequencies >= 0 with a positive sum, noise in [0, 1), sd in
 * (0, 10]) and sizes; normalises freq. */
pb_status ctxworld_check(ctxworld *w, char *err);

/* Feature dimension: 1 (bias) + n_segments (group scores) + 3 if extras. */
size_t ctxworld_dim(const ctxworld *w);

typedef struct {
    size_t segment;  /* the true segment, which decides the rewards */
    size_t observed; /* the top-scoring group, what a classifier would report */
    double x[CTXWORLD_MAX_DIM];
} ctxworld_context;

/* Draws one round's context from rng. */
void ctxworld_draw_context(const ctxworld *w, gsl_rng *rng, ctxworld_context *out);

/* Expected reward of arm in segment, after clipping for gaussian rewards. */
double ctxworld_expected(const ctxworld *w, size_t segment, size_t arm);

/* One reward in [-1, 1]: discrete = -1 + 0.5 Binomial(4, (1+m)/2); bernoulli = +-1 with
 * P(+1) = (1+m)/2; gaussian = clip(m' + sd N(0,1)) with m' chosen so the clipped mean is m. */
double ctxworld_draw_reward(const ctxworld *w, size_t segment, size_t arm, gsl_rng *rng);

/* Best arm of a segment, and the values (expected reward per round) of the contextual oracle
 * (best arm of the true segment every round) and of the best single arm. */
size_t ctxworld_best_arm(const ctxworld *w, size_t segment);
double ctxworld_oracle_value(const ctxworld *w);
double ctxworld_arm_value(const ctxworld *w, size_t arm);
size_t ctxworld_best_fixed_arm(const ctxworld *w);

#endif
