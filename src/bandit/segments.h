/* segments.h — per-segment bandit state (e.g. one per detected emotion) with fallback: a
 * global bandit sees every observation, and a segment's own bandit decides only once it has
 * min_pulls observations; until then the global one chooses. Same policies, rewards and
 * errors as bandit.h. No I/O, no globals; segments are small indices the caller assigns. */
#ifndef SEGMENTS_H
#define SEGMENTS_H

#include "base/pb.h"
#include "bandit/bandit.h"
#include "bandit/policyspec.h"

typedef struct segments segments;

/* n_arms arms, n_segments segments (1..100000) whose bandits are created on first
 * observation. Caller frees with segments_free. */
pb_status segments_new(const bandit_policy *policy, size_t n_arms, size_t n_segments,
                       long min_pulls, segments **out, char *err);
void segments_free(segments *s);

/* Adds or retires an arm everywhere. On PB_ERR_NOMEM the object is inconsistent: free it. */
pb_status segments_add_arm(segments *s, size_t *index, char *err);
pb_status segments_set_active(segments *s, size_t arm, int active, char *err);

/* Chooses for a segment; *from_global (may be NULL) says whether the global bandit chose
 * because the segment has fewer than min_pulls observations. */
pb_status segments_select(segments *s, size_t segment, gsl_rng *rng, size_t *arm,
                          double *propensity, int *from_global, char *err);

/* Probability of each arm under segments_select for this segment (bandit_choice_probabilities
 * of whichever bandit would choose); *from_global as in segments_select (may be NULL). */
pb_status segments_choice_probabilities(const segments *s, size_t segment, gsl_rng *rng, long draws,
                                        double *out, int *from_global, char *err);

/* Records the reward in the global bandit and the segment's; bad input changes nothing. */
pb_status segments_observe(segments *s, size_t segment, size_t arm, double reward, char *err);

/* Removes an earlier observation from both (PB_ERR_CONFLICT as bandit_forget). */
pb_status segments_forget(segments *s, size_t segment, size_t arm, double reward, char *err);

/* The global bandit, and a segment's bandit (NULL before its first observation). */
const bandit *segments_global(const segments *s);
const bandit *segments_get(const segments *s, size_t segment);

#endif
