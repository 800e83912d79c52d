/* judgescore.h — live judge scores (db/008: live_judge_scores): the judge's score of a sampled
 * live answer, one per impression, kept apart from the rewards table; and the pairs the
 * agreement panel compares: judge score and human feedback on the same impression, with the
 * answer's text. Part of the store family (SQL through stmt.h). It must not score, sample or
 * compute agreement (service/livejudge and judge/agree do). */
#ifndef JUDGESCORE_H
#define JUDGESCORE_H

#include <stddef.h>
#include <stdint.h>

#include "base/pb.h"
#include "store/store.h"

/* Stores the judge's score (in [-1, 1]) of an impression; a second score of the same
 * impression replaces the first. */
pb_status judgescore_put(store *s, int64_t impression_id, int64_t experiment_id, int64_t arm_id,
                         const char *judge, double score, char *err);

/* The sources that count as human feedback (reward.h's kinds); "judge", "model" and the
 * sweep's "default" do not. */
#define JUDGESCORE_HUMAN_SOURCES "'click', 'regenerate', 'edit', 'score'"

struct judgescore_pair {
    int64_t impression_id, arm_id;
    double judge, human; /* human: the mean of the impression's human rewards */
    char *answer;        /* the stored answer, NULL when none (no consent, purged) */
};

/* Every impression of the experiment with both a judge score and human feedback, in impression
 * order. Caller frees with judgescore_pairs_free. */
pb_status judgescore_pairs(store *s, int64_t experiment_id, struct judgescore_pair **out, size_t *n,
                           char *err);
void judgescore_pairs_free(struct judgescore_pair *p, size_t n);

/* Judge scores stored for the experiment (with or without human feedback). */
pb_status judgescore_count(store *s, int64_t experiment_id, int64_t *n, char *err);

#endif
