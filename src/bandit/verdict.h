/* verdict.h — can the current leader of a bandit be trusted? The probability that each arm is
 * the best (stable: the same state always gives the same numbers), the leader / runner-up
 * separation by the GLR statistic of glr.h (valid under daily looks at adaptively collected
 * data), and the advice an operator acts on (keep exploring, promote an arm, serve an arm per
 * segment). Read by run reports, the live state and the dashboard. Pure computation over
 * statistics its caller hands it: no I/O, no globals, no clock. */
#ifndef VERDICT_H
#define VERDICT_H

#include <stddef.h>

#include "base/pb.h"
#include "bandit/bandit.h"
#include "bandit/glr.h"

/* The verdict's rule is glr.h's: GLR_DELTA, GLR_MIN_REWARDS, rewards on [GLR_REWARD_LO,
 * GLR_REWARD_HI]. */

/* One arm as P(best) sees it: rewards, their mean and sample variance (n - 1). */
struct verdict_arm {
    double pulls, mean, variance;
    int active; /* inactive (retired) arms get P(best) 0 */
};

enum verdict_posterior {
    VERDICT_GAUSSIAN, /* normal around the mean, one pseudo-observation of variance 1 */
    VERDICT_BETA,     /* Beta, a reward r counting as (r + 1) / 2 of a success (thompson-beta) */
};

/* Probability that each arm has the highest mean under the posterior `model`. A function of
 * the arms alone: exact for two active arms under VERDICT_GAUSSIAN; otherwise `draws` samples
 * from a generator seeded by a hash of the statistics (rounded, so a rebuild that sums in
 * another order gives the same figures). Inactive arms get 0; out has k slots.
 * PB_ERR_INVALID for draws < 1, PB_ERR_CONFLICT when no arm is active. */
pb_status verdict_p_best(const struct verdict_arm *arms, size_t k, enum verdict_posterior model,
                         long draws, double *out, char *err);

/* verdict_p_best over a bandit's arms, the posterior chosen by its policy (Beta for
 * thompson-beta). rng is not used: the result depends on the state only (the parameter stays so
 * that callers written for the sampling version keep compiling; NULL is fine). */
pb_status verdict_prob_best(const bandit *b, gsl_rng *rng, long draws, double *out, char *err);

typedef struct {
    size_t leader, runner_up; /* glr_verdict_of's leader and least separated other arm */
    double difference;        /* leader mean - runner-up mean */
    double statistic;         /* GLR of the leader against the runner-up */
    double threshold;         /* beta(t, delta) it must exceed (glr.h) */
    double z;                 /* q sqrt(statistic / threshold), q the two-sided normal quantile
                                 of `confidence`: the evidence on a z-score scale, above q
                                 exactly when the statistic passes the threshold (display
                                 only: separation also needs enough_data) */
    int enough_data;          /* both have GLR_MIN_REWARDS rewards or more */
    int separated;            /* the leader is the best active arm at `confidence` */
    double more_pulls;        /* rewards still needed on the two arms (in their current split)
                                 until separated if the means hold; 0 if separated, INFINITY
                                 when the means are equal */
} verdict_separation;

/* Is the leader ahead of every other active arm at `confidence` (e.g. 0.95, so delta = 0.05)
 * by the GLR rule of glr.h? Needs two active arms with at least one reward each
 * (PB_ERR_CONFLICT otherwise); PB_ERR_INVALID for a confidence outside (0, 1). */
pb_status verdict_check_separation(const bandit *b, double confidence, verdict_separation *out,
                                   char *err);

/* ---- advice ---- */

enum verdict_action {
    VERDICT_NO_DATA,          /* fewer than two active arms with rewards: nothing to compare */
    VERDICT_KEEP_EXPLORING,   /* no arm is separated yet */
    VERDICT_PROMOTE,          /* the overall leader is separated: promote it */
    VERDICT_PROMOTED,         /* it is separated and already promoted: nothing to do */
    VERDICT_SERVE_PER_SEGMENT /* separated segments have different leaders */
};

/* A group of arms to judge together: the whole experiment or one segment. stats has n_arms
 * entries (pulls, mean; variance unused) in one index space shared by every group. */
struct verdict_group {
    const struct verdict_arm *stats;
    size_t n_arms;
};

struct verdict_outcome {
    int compared; /* 1 when at least two active arms had rewards (else the fields below
                     are zero and the group took no part) */
    double delta; /* error level used (segments share 1 - confidence) */
    size_t leader, runner_up;
    double statistic, threshold, more_rewards;
    int enough_data, separated;
};

struct verdict_advice {
    enum verdict_action action;
    size_t arm; /* PROMOTE / PROMOTED: the arm */
};

/* The verdict of one group at error level delta (glr_verdict_of with the range [-1, 1] and
 * GLR_MIN_REWARDS). A group with fewer than two active arms with rewards gets compared = 0
 * and PB_OK. PB_ERR_INVALID for delta outside (0, 1). */
pb_status verdict_judge(const struct verdict_group *g, double delta, struct verdict_outcome *out,
                        char *err);

/* verdict_judge for n segments, each at delta / m where m is the number of segments that can
 * be compared (Bonferroni): looking at every segment keeps the chance of any wrong claim at
 * delta. out has n slots. */
pb_status verdict_judge_segments(const struct verdict_group *segs, size_t n, double delta,
                                 struct verdict_outcome *out, char *err);

/* What to do given the overall outcome and the n_seg segment outcomes of
 * verdict_judge_segments. promoted: the promoted arm's index or SIZE_MAX. seg_leader[i] (n_seg
 * slots, may be NULL when n_seg is 0) gets the segment's separated leader or SIZE_MAX;
 * SERVE_PER_SEGMENT when two separated segments have different leaders. */
void verdict_advise(const struct verdict_outcome *overall, const struct verdict_outcome *segs,
                    size_t n_seg, size_t promoted, struct verdict_advice *out, size_t *seg_leader);

#endif
