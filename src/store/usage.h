/* usage.h — the provider usage of answered chat turns (table impression_usage, db/006): the
 * upstream model and the prompt and completion tokens of one impression, written inside the
 * caller's transaction, and their sums per arm of an experiment. Part of the store family
 * (speaks SQL through stmt.h). It must not price tokens (the caller does) nor know HTTP. */
#ifndef STORE_USAGE_H
#define STORE_USAGE_H

#include <stddef.h>
#include <stdint.h>

#include "base/pb.h"
#include "store/store.h"

struct usage_row {
    int64_t impression_id;                 /* must exist */
    const char *model;                     /* may be NULL */
    long prompt_tokens, completion_tokens; /* negative values are stored as 0 */
};

/* Stores the usage of one impression inside the caller's transaction (the writer's
 * savepoint). PB_ERR_CONFLICT when the impression already has one. */
pb_status usage_record_tx(store *s, const struct usage_row *u, char *err);

struct usage_arm {
    int64_t arm_id;
    int64_t turns; /* impressions with a usage row */
    int64_t prompt_tokens, completion_tokens;
};

/* The sums per arm of the experiment, arms without usage left out, by arm id. Caller frees
 * *out with free(). */
pb_status usage_per_arm(store *s, int64_t experiment_id, struct usage_arm **out, size_t *n,
                        char *err);

#endif
