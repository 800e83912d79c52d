/* livejudge.h — the live judge: scores a sample of live chat answers with the local reward model
 * (judge.local_model) on a thread of its own, so a chat never waits for it, and stores each
 * score apart from the rewards (store/judgescore.h) so it does not move the live bandit unless
 * judge.live_feeds_bandit is set (then the score is also a reward of source "judge"). A turn is
 * sampled when a hash of its impression id falls below judge.live_sample_rate (0 = off, the
 * default), so the sample is reproducible; a full queue (judge.live_queue) skips the answer and
 * counts it. The agreement panel (livejudge_agreement) compares the scores with human feedback
 * on the same impressions through judge/agree.h. No HTTP and no SQL of its own. */
#ifndef LIVEJUDGE_H
#define LIVEJUDGE_H

#include <jansson.h>
#include <stdint.h>

#include "base/pb.h"
#include "service/app.h"

typedef struct livejudge livejudge;

/* Reads the judge.* settings and, when judge.live_sample_rate > 0, loads the reward model and
 * starts the worker; with rate 0 *out is a judge that samples nothing. PB_ERR_INVALID (or the
 * model's load error) names the setting to fix. a is borrowed and must outlive the judge. */
pb_status livejudge_new(app *a, livejudge **out, char *err);

/* Scores what is queued, stops the worker, frees. NULL is allowed. */
void livejudge_free(livejudge *lj);

struct livejudge_offer {
    int64_t impression_id, experiment_id, arm_id;
    const char *experiment; /* name, for the reward's metrics when the score feeds the bandit */
    const char *context;    /* the user's message; may be NULL */
    const char *answer;     /* the answer to score */
};

/* Offers a committed live answer (copied when sampled). Never blocks beyond a short lock;
 * NULL lj is allowed (nothing happens). */
void livejudge_offer(livejudge *lj, const struct livejudge_offer *o);

/* Waits until every answer queued so far is scored and stored (tests), at most timeout_s
 * seconds; PB_ERR_TIMEOUT past it. */
pb_status livejudge_flush(livejudge *lj, double timeout_s, char *err);

struct livejudge_stats {
    double sample_rate;
    int feeds_bandit;
    uint64_t offered, sampled, scored, skipped_full, failed;
};
void livejudge_stats_get(livejudge *lj, struct livejudge_stats *out);

/* The agreement panel of experiment `name` (NULL: "default") as JSON (new reference):
 * settings and counters, overall and per-arm {n, spearman, sign_agreement, warn}, and the
 * largest disagreements with their answers; warn is true when Spearman's rho is below
 * judge.agreement_warn with at least LIVEJUDGE_MIN_PAIRS pairs. PB_ERR_NOT_FOUND for an
 * unknown experiment. */
#define LIVEJUDGE_MIN_PAIRS   10
#define LIVEJUDGE_WORST_SHOWN 10
pb_status livejudge_agreement(app *a, const char *name, json_t **out, char *err);

#endif
