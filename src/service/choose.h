/* choose.h — the service for clients that call their own LLM: choose an arm for a context and
 * store the impression (POST /v1/choose), then activate it once its answer is shown or discard
 * it. No HTTP, no JSON parsing of requests, no SQL, no LLM call: it calls app, live, segmap,
 * writer and the store family. */
#ifndef CHOOSE_H
#define CHOOSE_H

#include <stdint.h>

#include "base/pb.h"
#include "service/app.h"

struct choose_in {
    const char *experiment;   /* NULL: "default" */
    const char *user_id;      /* may be NULL */
    const char *context_json; /* may be NULL; a JSON object stored with the impression */
    const char *segment;      /* may be NULL ("unknown") */
    int inactive; /* 1: "activate": false — stored not activated (not counted, no rewards) */
    /* FEATVEC_DIM features for a contextual policy (livefeat.h); NULL: bias and hour only.
     * Stored as the context's "features" either way, so the choice can be replayed. */
    const double *features;
};
struct choose_out {
    char arm[17];
    int64_t arm_id, impression_id, experiment_id;
    char *prompt; /* owned; choose_out_clear frees */
    double propensity;
    char segment[32]; /* the segment that served (segmap.h) */
};
void choose_out_clear(struct choose_out *out);

/* Chooses an arm and queues its impression behind the answer (writer_submit_impression without
 * a callback): the id is reserved and final, the row is committed with the writer's next batch,
 * in order before any feedback on it. A crash in between loses the impression (feedback on it
 * then gets PB_ERR_NOT_FOUND), never a committed reward's impression. Errors: PB_ERR_INVALID
 * (input), PB_ERR_NOT_FOUND (no such experiment), PB_ERR_CONFLICT (no active arm),
 * PB_ERR_UNAVAILABLE (the writer reports a failing database: nothing is served until a commit
 * succeeds again), PB_ERR_LIMIT (the writer's queue is full), PB_ERR_DB. */
pb_status choose_arm(app *a, const struct choose_in *in, struct choose_out *out, char *err);

/* Activates (activate = 1) or discards (activate = 0) an impression stored by a choose with
 * "activate": false; only activated impressions count and take rewards. admin = 1: any
 * impression; else it must be user_id's, or have no user when user_id is NULL (as feedback:
 * PB_ERR_FORBIDDEN otherwise). Activating twice is fine (*changed = 0); PB_ERR_NOT_FOUND
 * (absent or discarded), PB_ERR_CONFLICT (discarding an activated impression). changed may be
 * NULL. */
pb_status choose_impression_set(app *a, int64_t impression_id, const char *user_id, int admin,
                                int activate, int *changed, char *err);

#endif
