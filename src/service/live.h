/* live.h — the in-memory bandit state of each live experiment: one segments.h object (a
 * global bandit plus one per segment, segmap.h names them) over the experiment's arms, rebuilt from
 * the rewards table on first use or after an admin change, then moved by each committed reward.
 * Thread-safe (one mutex; choose and observe are microseconds). It reads the store only to
 * rebuild and never writes it; it knows nothing of HTTP, the LLM or users. */
#ifndef LIVE_H
#define LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "bandit/bandit.h"
#include "base/pb.h"
#include "store/store.h"

typedef struct live live;

/* The default segment names (bandit.segments group), in index order. A top emotion's group
 * maps to one of them; "" or anything else maps to "unknown". */
#define LIVE_N_SEGMENTS 5
extern const char *const live_segment_names[LIVE_N_SEGMENTS];
/* The canonical default segment name for an emotion group (a static string). */
const char *live_segment_of(const char *group);

/* seed 0 = from the clock. segment_min_pulls: a segment's own bandit decides only after that
 * many rewards (segments.h); the default segment names above. */
pb_status live_new(unsigned long seed, long segment_min_pulls, live **out, char *err);
/* The same with segment names (copied; 1..100000, the last is where an unknown name goes). */
pb_status live_new_segments(unsigned long seed, long segment_min_pulls, const char *const *names,
                            size_t n_names, live **out, char *err);
void live_free(live *l);

/* The segment names, in index order (borrowed). */
size_t live_segment_count(const live *l);
const char *live_segment_name(const live *l, size_t i);

struct live_choice {
    int64_t experiment_id, arm_id;
    char arm_name[17];
    char *prompt;      /* owned copy of the arm's prompt; live_choice_clear frees it */
    double propensity; /* probability of this choice; 1 for a promoted or kept arm */
    int from_global;   /* the segment had too few rewards; the global bandit chose */
    int promoted;      /* the experiment serves its promoted arm only */
    int kept;          /* prefer_arm_id was kept (sticky conversation or user) */
    int contextual;    /* a linucb / lints policy chose over the features */
};
void live_choice_clear(struct live_choice *c);

/* Chooses an arm of the active experiment `name` for segment (NULL = the fallback segment),
 * loading its state from s first when absent. A promoted arm always wins; otherwise
 * prefer_arm_id (0 = none) is kept when it is an active arm of the experiment; otherwise the
 * policy chooses: a linucb / lints policy over features (FEATVEC_DIM values; NULL = bias and
 * hour only), any other per segment. PB_ERR_NOT_FOUND (no such experiment), PB_ERR_CONFLICT
 * (no active arm). s is used only for the load and may be NULL when the state is loaded. */
pb_status live_choose(live *l, store *s, const char *name, const char *segment,
                      const double *features, int64_t prefer_arm_id, struct live_choice *out,
                      char *err);

/* Records a committed reward. reward_id makes it idempotent against a concurrent rebuild (a
 * reward the rebuild already read is skipped). An unknown experiment is ignored (its state
 * is rebuilt from the store when next used); an unknown arm drops the state for a rebuild.
 * features (NULL = none) teach a contextual policy; without them only statistics move. */
pb_status live_observe(live *l, int64_t experiment_id, int64_t reward_id, int64_t arm_id,
                       const char *segment, const double *features, double reward, char *err);

/* live_observe that tells whether the reward moved the state (*applied = 1) or was already
 * counted, or its experiment is not loaded (0): the replica poll (service/replica.h) hands
 * every reward it reads here, its own included, and counts what was new. */
pb_status live_apply(live *l, int64_t experiment_id, int64_t reward_id, int64_t arm_id,
                     const char *segment, const double *features, double reward, int *applied,
                     char *err);

/* Replicas: reward ids may become visible out of order (several writers, a sequence). Before
 * the first call a rebuild counts every reward id up to the highest it read and an observe of
 * a lower id is skipped (one writer commits in id order). After it, ids at or below floor are
 * settled (the replica poll saw them or gave them up: service/replwm.h) and every counted id
 * above it is remembered one by one, so a reward is counted once whichever of the writer, a
 * rebuild or the poll brings it. Call again as the poll's floor rises (never lowers it). */
void live_set_floor(live *l, int64_t floor);
/* Drops experiment `name`'s state (another replica changed it): rebuilt from the store on its
 * next use. Nothing when it is not loaded. */
void live_forget(live *l, const char *name);
/* 1 when the reward is already counted in the experiment's state, or the experiment is not
 * loaded (nothing to count it in); 0 when live_apply would count it. */
int live_counted(live *l, int64_t experiment_id, int64_t reward_id);
/* Reward ids remembered above the floor, over every loaded experiment (a gauge). */
size_t live_pending_ids(live *l);

/* Rebuilds the state of experiment `name` from s now (after an admin change: arms, policy,
 * promotion, reset). PB_ERR_NOT_FOUND when no active experiment has that name. */
pb_status live_reload(live *l, store *s, const char *name, char *err);

struct live_arm {
    int64_t arm_id;
    int active;
    uint64_t pulls;
    double mean, ci_low, ci_high; /* ci: Student-t, i.i.d. (bandit.h) */
    double p_best;
};
struct live_snapshot {
    int64_t experiment_id, promoted_arm_id;
    char policy[128];
    uint64_t total_pulls;
    size_t n_arms; /* arms_list(include_retired = 1) order */
    struct live_arm *arms;
    size_t n_segments;
    uint64_t *segment_pulls; /* rewards seen per segment (live_segment_name order) */
};
/* Statistics of experiment `name` (loading it from s when absent); global bandit, or a
 * segment's when segment is not NULL (zeros before its first reward). P(best) by posterior
 * sampling (draws samples). Caller frees with live_snapshot_clear. */
pb_status live_snapshot_get(live *l, store *s, const char *name, const char *segment, long draws,
                            struct live_snapshot *out, char *err);
void live_snapshot_clear(struct live_snapshot *snap);

#endif
