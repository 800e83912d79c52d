/* simarm.h — the arms of a simulated bandit: Bernoulli, clipped Gaussian and discrete-level
 * reward distributions, parsed from a command-line spec or JSON text and checked, with their
 * exact expected values, draws on the caller's gsl_rng, the Bernoulli KL divergence and the
 * Lai–Robbins constant of an arm set. Shared by the plain simulator (sim.h) and the contextual
 * worlds (ctxworld.h). Pure: no files, no printing, no globals. */
#ifndef SIMARM_H
#define SIMARM_H

#include "base/pb.h"

#include <gsl/gsl_rng.h>
#include <stddef.h>

typedef enum { SIM_BERNOULLI, SIM_GAUSSIAN, SIM_DISCRETE } sim_arm_kind;

#define SIM_LEVELS 5 /* discrete arms: rewards -1, -0.5, 0, 0.5, 1 */

typedef struct {
    sim_arm_kind kind;
    double p;                 /* bernoulli: success probability */
    double mean, sd;          /* gaussian: before clipping to [-1, 1] */
    double probs[SIM_LEVELS]; /* discrete: probability of each level */
} sim_arm;

/* Parses "bernoulli:0.9,0.8", "gaussian:0.2/0.5,0.1/0.5" (mean/sd) or
 * "discrete:0/0.1/0.2/0.3/0.4,..." (probabilities of -1/-0.5/0/0.5/1). *out is allocated
 * (caller frees); bad numbers, empty lists and invalid arms give PB_ERR_INVALID. */
pb_status sim_arms_parse(const char *spec, sim_arm **out, size_t *n, char *err);

/* Same from JSON text: {"arms":[{"kind":"bernoulli","p":0.9}, {"kind":"gaussian",
 * "mean":0.2,"sd":0.5}, {"kind":"discrete","probs":[...5 numbers]}]} or the bare array. */
pb_status sim_arms_from_json(const char *text, sim_arm **out, size_t *n, char *err);

/* Checks ranges (p in [0,1], mean in [-1,1], sd in [0,10], probabilities summing to 1),
 * a non-empty list of at most 100000 arms, and that Bernoulli arms are not mixed with others
 * (regret units). PB_ERR_INVALID naming the first bad arm. */
pb_status sim_arms_check(const sim_arm *arms, size_t n, char *err);

/* Expected value in regret units: p for Bernoulli (successes, as in the papers), the
 * expected reward on [-1, 1] otherwise (the clipped Gaussian's exact mean). */
double sim_arm_mean(const sim_arm *a);

/* One reward for the bandit, in [-1, 1]; a Bernoulli success is +1 and a failure -1. */
double sim_arm_draw(const sim_arm *a, gsl_rng *rng);

/* Bernoulli Kullback–Leibler divergence kl(p, q) in nats (inf when q is 0 or 1 and p not). */
double sim_arm_kl_bernoulli(double p, double q);

/* Lai–Robbins constant C = sum over suboptimal arms of (p* - p_i) / kl(p_i, p*), so that
 * regret >= C ln T asymptotically. PB_ERR_INVALID unless every arm is Bernoulli. */
pb_status sim_arms_lai_robbins(const sim_arm *arms, size_t n, double *c, char *err);

#endif
