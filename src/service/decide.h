/* decide.h — the decision-support pieces the dashboard's answers share, live or offline: an
 * arm's figures as JSON (rewards, mean, the 95 % KL interval of glr.h that respects the reward
 * range, stable P(best)), the GLR verdict and the advice (verdict.h) as JSON naming arms by id,
 * and the series a chart draws (per point: share, rewards, mean with its band, P(best)). It
 * reads nothing and keeps no state: callers hand it statistics and get new JSON references. */
#ifndef DECIDE_H
#define DECIDE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "bandit/verdict.h"
#include "base/pb.h"

#define DECIDE_DELTA 0.05 /* error level of the verdict: 95 % confidence */
#define DECIDE_DRAWS 4000 /* P(best) samples when it is not exact (more than two arms) */

/* One arm with its reward sums. */
struct decide_arm {
    int64_t id;
    const char *name; /* borrowed */
    int version;
    const char *prompt; /* borrowed; may be NULL */
    int active, promoted;
    double impressions; /* < 0: unknown (not shown) */
    double n, sum, sum_sq;
};

/* "A", or "A v2" when another arm of the list has the same name; out holds 32 bytes. */
void decide_label(const struct decide_arm *arms, size_t k, size_t i, char out[32]);

/* The arms as verdict.h sees them (mean and sample variance from the sums). out has k slots. */
void decide_stats(const struct decide_arm *arms, size_t k, struct verdict_arm *out);

/* [{id, name, label, version, prompt, active, promoted, impressions, rewards, mean, interval:
 * [lo, hi], p_best}] for every arm that is active or has rewards; mean is null without rewards,
 * p_best null for a retired arm. model: the posterior of the experiment's policy. */
pb_status decide_arms_json(const struct decide_arm *arms, size_t k, enum verdict_posterior model,
                           json_t **out, char *err);

/* {compared, separated, enough_data, leader, runner_up (arm ids or null), statistic, threshold,
 * more_rewards (null when unknown), confidence, min_rewards}. ids maps index -> arm id. */
json_t *decide_verdict_json(const struct verdict_outcome *o, const int64_t *ids);

/* {action: "no_data" | "keep_exploring" | "promote" | "promoted" | "serve_per_segment", arm:
 * id or null, serve: [{segment, arm}]}. seg_names and seg_leader have n_seg entries. */
json_t *decide_advice_json(const struct verdict_advice *adv, const int64_t *ids,
                           const char *const *seg_names, const size_t *seg_leader, size_t n_seg);

/* A chart's points for one arm, filled by the caller: n points. */
struct decide_point {
    double share;  /* NaN = no data at this point */
    double n, sum; /* rewards at this point (a bucket, or cumulative for a run) */
    double p_best; /* NaN = unknown */
};

/* {id, share: [], rewards: [], mean: [], lo: [], hi: [], p_best: []} with null for NaN and for
 * a mean without rewards; lo / hi are the 95 % KL band of each point's mean. */
json_t *decide_series_arm_json(int64_t id, const struct decide_point *p, size_t n);

/* A JSON number, or null for NaN and infinities. */
json_t *decide_number(double v);

#endif
