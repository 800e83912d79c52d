/* segments.c — a global bandit plus lazily created per-segment bandits that mirror its arms.
 * Owns those bandits; must not do I/O. Every observation goes to both, so the global bandit
 * is always the pooled view and a young segment can lean on it. */
#include "bandit/segments.h"

#include "base/pb.h"

#include <stdlib.h>

#define MAX_SEGMENTS 100000

struct segments {
    bandit_policy policy;
    bandit *global;
    bandit **segment; /* n_segments slots, NULL until first observed */
    size_t n_segments;
    uint64_t min_pulls;
};

pb_status segments_new(const bandit_policy *policy, size_t n_arms, size_t n_segments,
                       long min_pulls, segments **out, char *err)
{
    *out = NULL;
    if (n_segments < 1 || n_segments > MAX_SEGMENTS)
        return pb_errf(err, PB_ERR_INVALID, "segments must number 1..%d, got %zu", MAX_SEGMENTS,
                       n_segments);
    if (min_pulls < 0)
        return pb_errf(err, PB_ERR_INVALID, "min_pulls must be >= 0, got %ld", min_pulls);
    segments *s = calloc(1, sizeof *s);
    if (!s)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    s->policy = *policy;
    s->n_segments = n_segments;
    s->min_pulls = (uint64_t)min_pulls;
    s->segment = calloc(n_segments, sizeof *s->segment);
    pb_status rc = s->segment ? bandit_new(policy, n_arms, &s->global, err)
                              : pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc != PB_OK) {
        segments_free(s);
        return rc;
    }
    *out = s;
    return PB_OK;
}

void segments_free(segments *s)
{
    if (!s)
        return;
    for (size_t i = 0; s->segment && i < s->n_segments; i++)
        bandit_free(s->segment[i]);
    free(s->segment);
    bandit_free(s->global);
    free(s);
}

pb_status segments_add_arm(segments *s, size_t *index, char *err)
{
    pb_status rc = bandit_add_arm(s->global, index, err);
    for (size_t i = 0; i < s->n_segments && rc == PB_OK; i++)
        if (s->segment[i])
            rc = bandit_add_arm(s->segment[i], NULL, err);
    return rc;
}

pb_status segments_set_active(segments *s, size_t arm, int active, char *err)
{
    pb_status rc = bandit_set_active(s->global, arm, active, err);
    for (size_t i = 0; i < s->n_segments && rc == PB_OK; i++)
        if (s->segment[i])
            rc = bandit_set_active(s->segment[i], arm, active, err);
    return rc;
}

static pb_status check_segment(const segments *s, size_t segment, char *err)
{
    if (segment >= s->n_segments)
        return pb_errf(err, PB_ERR_INVALID, "no segment %zu (there are %zu)", segment,
                       s->n_segments);
    return PB_OK;
}

pb_status segments_select(segments *s, size_t segment, gsl_rng *rng, size_t *arm,
                          double *propensity, int *from_global, char *err)
{
    pb_status rc = check_segment(s, segment, err);
    if (rc != PB_OK)
        return rc;
    bandit *own = s->segment[segment];
    int global = !own || bandit_total_pulls(own) < s->min_pulls;
    if (from_global)
        *from_global = global;
    return bandit_select(global ? s->global : own, rng, arm, propensity, err);
}

pb_status segments_choice_probabilities(const segments *s, size_t segment, gsl_rng *rng, long draws,
                                        double *out, int *from_global, char *err)
{
    pb_status rc = check_segment(s, segment, err);
    if (rc != PB_OK)
        return rc;
    const bandit *own = s->segment[segment];
    int global = !own || bandit_total_pulls(own) < s->min_pulls;
    if (from_global)
        *from_global = global;
    return bandit_choice_probabilities(global ? s->global : own, rng, draws, out, err);
}

/* A new segment bandit with the global one's arms and active flags, no observations. */
static pb_status segment_create(segments *s, size_t segment, char *err)
{
    size_t n = bandit_arm_count(s->global);
    pb_status rc = bandit_new(&s->policy, n, &s->segment[segment], err);
    for (size_t a = 0; a < n && rc == PB_OK; a++) {
        bandit_arm_stats st;
        bandit_get_arm_stats(s->global, a, &st, NULL);
        rc = bandit_set_active(s->segment[segment], a, st.active, err);
    }
    return rc;
}

pb_status segments_observe(segments *s, size_t segment, size_t arm, double reward, char *err)
{
    pb_status rc = check_segment(s, segment, err);
    if (rc == PB_OK && !s->segment[segment])
        rc = segment_create(s, segment, err);
    if (rc == PB_OK)
        rc = bandit_observe(s->global, arm, reward, err); /* validates for both */
    if (rc == PB_OK)
        rc = bandit_observe(s->segment[segment], arm, reward, err);
    return rc;
}

pb_status segments_forget(segments *s, size_t segment, size_t arm, double reward, char *err)
{
    pb_status rc = check_segment(s, segment, err);
    if (rc != PB_OK)
        return rc;
    if (!s->segment[segment])
        return pb_errf(err, PB_ERR_CONFLICT, "segment %zu has no observation to forget", segment);
    rc = bandit_forget(s->segment[segment], arm, reward, err);
    if (rc == PB_OK)
        rc = bandit_forget(s->global, arm, reward, err);
    return rc;
}

const bandit *segments_global(const segments *s)
{
    return s->global;
}

const bandit *segments_get(const segments *s, size_t segment)
{
    return segment < s->n_segments ? s->segment[segment] : NULL;
}
