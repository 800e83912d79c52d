/* experiment.h — experiments: a named set of arms played under one policy, live (the
 * service) or offline (bandit-run); get-or-create by name, policy changes, the promoted
 * winner, archive and reset. Part of the store family (its functions keep the store_
 * prefix: store_experiment_*); it speaks SQL through stmt.h. It must not choose arms, load
 * prompt files (arms.h does) or interpret policy parameters beyond checking they are JSON. */
#ifndef STORE_EXPERIMENT_H
#define STORE_EXPERIMENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/pb.h"
#include "store/store.h"

struct store_experiment {
    int64_t id;
    char name[65];
    char kind[8];            /* "live" or "offline" */
    char *policy;            /* e.g. "ucb1" */
    char *policy_params;     /* JSON text or NULL */
    char status[9];          /* "active" or "archived" */
    int64_t promoted_arm_id; /* 0 = none */
    double created_at;
};

void store_experiment_clear(struct store_experiment *e); /* frees the strings inside */
void store_experiment_list_free(struct store_experiment *list, size_t n);

/* The active experiment named name, created (with policy) if there is none. */
pb_status store_experiment_get_or_create(store *s, const char *name, const char *kind,
                                         const char *policy, struct store_experiment *out,
                                         char *err);
/* The active experiment named name; PB_ERR_NOT_FOUND if there is none. */
pb_status store_experiment_get(store *s, const char *name, struct store_experiment *out, char *err);
/* The experiment with that id, active or archived; PB_ERR_NOT_FOUND if there is none. */
pb_status store_experiment_get_by_id(store *s, int64_t id, struct store_experiment *out, char *err);
/* All experiments, newest first; caller frees with store_experiment_list_free. */
pb_status store_experiment_list(store *s, struct store_experiment **out, size_t *n, char *err);
/* params_json may be NULL; otherwise it must parse as a JSON object. */
pb_status store_experiment_set_policy(store *s, int64_t id, const char *policy,
                                      const char *params_json, char *err);
/* Whether arm_id is one of the experiment's arms: 1 active, 0 retired, PB_ERR_NOT_FOUND ("arm A
 * is not in experiment E") when it is not, or another negative pb_status. */
int store_experiment_arm_state(store *s, int64_t id, int64_t arm_id, char *err);
/* Marks arm_id as the winner (0 unpromotes). The arm must belong to the experiment
 * (PB_ERR_NOT_FOUND) and be active (PB_ERR_CONFLICT). */
pb_status store_experiment_promote(store *s, int64_t id, int64_t arm_id, char *err);
/* Archives an active experiment; PB_ERR_NOT_FOUND when there is no active one with that id. */
pb_status store_experiment_archive(store *s, int64_t id, char *err);
/* Archives the experiment and creates a new active one with the same name, policy and copies
 * of its active arms, all in one transaction; *new_id gets the new experiment. */
pb_status store_experiment_reset(store *s, int64_t id, int64_t *new_id, char *err);
/* A new active experiment `name` of kind with policy and copies of the active arms of
 * experiment from_id (name, version, prompt; no rewards), all in one transaction; *new_id gets
 * it. PB_ERR_CONFLICT when an active experiment already has that name, PB_ERR_NOT_FOUND when
 * from_id does not exist, PB_ERR_INVALID when it has no active arm. */
pb_status store_experiment_copy(store *s, int64_t from_id, const char *name, const char *kind,
                                const char *policy, int64_t *new_id, char *err);

#endif
