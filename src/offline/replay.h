/* replay.h — compares bandit policies on a logged file of (arm, reward[, propensity]) events
 * with no new LLM calls: the rejection-sampling replay of Li et al. (2011) and, where the log
 * has propensities, inverse-propensity (IPS) and self-normalised IPS estimates of each
 * policy's mean reward. Reads JSONL (bandit-run export or the service's logs); no database,
 * no network. Assumptions and their limits are in docs/RUN.md. */
#ifndef REPLAY_H
#define REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "base/pb.h"

struct replay_event {
    size_t arm;        /* index into replay_log.arms */
    double reward;     /* in [-1, 1] */
    double propensity; /* probability the logging policy chose this arm; 0 = not logged */
};

struct replay_log {
    struct replay_event *events;
    size_t n;
    char **arms; /* names in order of first appearance */
    size_t n_arms;
    size_t skipped; /* lines without a reward (failed or pending steps) */
    size_t with_propensity;
};

/* Parses JSONL: per line an object with "arm" (name or whole number) and "reward" (number in
 * [-1, 1]); optional "propensity" in (0, 1]; other keys are ignored. Lines with a "status"
 * other than "ok" or without "reward" are skipped and counted. A malformed line is
 * PB_ERR_INVALID naming it (name labels the messages). Caller frees with replay_log_free. */
pb_status replay_parse_jsonl(const char *data, size_t len, const char *name, struct replay_log *out,
                             char *err);
pb_status replay_load_jsonl(const char *path, struct replay_log *out, char *err);
void replay_log_free(struct replay_log *log);

struct replay_result {
    char policy[96];
    size_t events, accepted; /* events seen; events whose logged arm the policy picked */
    double mean;             /* replay estimate of the policy's mean reward; NaN if none */
    double ci_low, ci_high;  /* normal 95 % interval over the accepted rewards */
    int has_ips;             /* every event had a propensity */
    double ips, snips;       /* (1/n) sum pi(a_t) r_t / p_t and its self-normalised form */
};

/* Replays one policy (a policyspec_parse spec) over the log with a seeded RNG. The policy
 * learns only from accepted events, as in Li et al.; IPS weighs every event by the policy's
 * probability of the logged arm in that state (bandit_choice_probabilities). */
pb_status replay_run(const struct replay_log *log, const char *policy, uint64_t seed,
                     struct replay_result *out, char *err);

#endif
