/* reward.h — a user's feedback on an answer turned into a stored reward: the value of each kind
 * (like, dislike, regenerate, score, and edit by the similarity of the kept text to the draft),
 * the ownership and state checks of the impression, and the commit through the writer after
 * which the live bandit state moves and the reward is counted. No HTTP, no JSON parsing of
 * requests, no SQL: it calls app, live, writer, chatmem and the store family. */
#ifndef REWARD_H
#define REWARD_H

#include <stdint.h>

#include "base/pb.h"
#include "service/app.h"
#include "store/feedback.h"
#include "store/impressions.h"

struct reward_feedback_in {
    int64_t impression_id;
    const char *user_id; /* NULL allowed only for impressions without a user */
    const char *kind;    /* like, dislike, regenerate, edit, score */
    double value;        /* score: in [-1, 1] */
    int has_value;
    const char *final_text; /* edit: the text the user kept */
    const char *draft;      /* edit: the draft; NULL = the reply remembered for the turn */
    const char *event_id;   /* NULL: not idempotent beyond one reward per source */
};

struct reward_feedback_out {
    int64_t reward_id, impression_id, arm_id;
    char arm[17];
    const char *source; /* static */
    double value;
    double similarity; /* edit only; -1 otherwise */
    int duplicate;
};

/* Reports the end of a submitted feedback, once, from the writer's thread: rc PB_OK with out
 * filled (out->duplicate for a retried event id), else why nothing was stored. out and err are
 * valid during the call only. Must not block. */
typedef void reward_done_fn(pb_status rc, const struct reward_feedback_out *out, const char *err,
                            void *ud);

/* Validates the feedback, computes its value and queues the reward through the writer without
 * waiting; the impression's checks (exists, owner, activated, no default reward yet) run on the
 * writer's thread just before the insert, and once committed the live state moves
 * (reward_committed) and done hears it. Errors found at once are returned (done never
 * called): PB_ERR_INVALID, PB_ERR_UNAVAILABLE (the writer reports a failing database, or is
 * stopping), PB_ERR_LIMIT (the writer's queue is full). Through done: PB_ERR_NOT_FOUND
 * (impression), PB_ERR_FORBIDDEN (another user's), PB_ERR_CONFLICT (this source already
 * rewarded the impression, event id reused; not activated; default reward given), PB_ERR_DB. */
pb_status reward_submit(app *a, const struct reward_feedback_in *in, reward_done_fn *done, void *ud,
                        char *err);

/* The same, waiting for the commit (tests and tools). */
pb_status reward_from_feedback(app *a, const struct reward_feedback_in *in,
                               struct reward_feedback_out *out, char *err);

/* What follows a committed, non-duplicate reward r (id) for the impression info of experiment
 * `experiment` (the name used in metrics): the live state observes it (a live-state failure is
 * only logged on stderr) and it is counted. */
void reward_committed(app *a, const struct impressions_info *info, const char *experiment,
                      const struct feedback_reward *r, int64_t id);

#endif
