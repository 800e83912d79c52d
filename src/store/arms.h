/* arms.h — the arms of an experiment: versioned candidate prompts stored by content hash, and
 * the sync of prompts/NAME.txt files into the default experiment. Part of the store family
 * (speaks SQL through stmt.h). A changed prompt becomes a new version and
 * never rewrites history. It must not know about policies or rewards. */
#ifndef ARMS_H
#define ARMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/hash.h"
#include "base/pb.h"
#include "store/experiment.h"
#include "store/store.h"

#define ARM_NAME_MAX 16

struct arm {
    int64_t id;
    int64_t experiment_id;
    char name[ARM_NAME_MAX + 1];
    int version;
    char *prompt;
    char content_hash[HASH_HEX_LEN];
    char *source_path; /* NULL when added without a file */
    double created_at;
    double retired_at; /* 0 = active */
};

void arms_clear(struct arm *a); /* frees the strings inside */
void arms_list_free(struct arm *list, size_t n);

/* True when name is a plain arm name: a letter, then letters or digits, ARM_NAME_MAX at most,
 * not starting with "judge" or "propose" (files so named hold judge and proposer prompts). */
bool arms_name_valid(const char *name);

/* Arms of an experiment ordered by id (the "arm index" of feedback_reward_foreach);
 * include_retired false lists active arms only. Caller frees with arms_list_free. */
pb_status arms_list(store *s, int64_t experiment_id, bool include_retired, struct arm **out,
                    size_t *n, char *err);
/* The arm (any version, active or retired) with that id; PB_ERR_NOT_FOUND if there is none. */
pb_status arms_get(store *s, int64_t arm_id, struct arm *out, char *err);
/* The active version of an arm by name; PB_ERR_NOT_FOUND if none is active. */
pb_status arms_find(store *s, int64_t experiment_id, const char *name, struct arm *out, char *err);

enum arms_change {
    ARMS_UNCHANGED, /* the text is already the active version (for a sync: already known) */
    ARMS_CREATED,   /* a new arm, version 1 */
    ARMS_VERSIONED, /* a new version; the previous active version was retired */
    ARMS_RESTORED,  /* the text matched a retired version of the arm, active again */
};

/* Makes text the active version of arm name: a new arm, a new version (the old one retired),
 * the restore of a retired version with the same text, or nothing. text must be non-blank
 * UTF-8 (PB_ERR_INVALID); the same text under another name is PB_ERR_CONFLICT. source_path
 * may be NULL; arm_id and change may be NULL. One transaction. */
pb_status arms_add(store *s, int64_t experiment_id, const char *name, const char *text,
                   const char *source_path, int64_t *arm_id, enum arms_change *change, char *err);
/* Retires an active arm (PB_ERR_CONFLICT if already retired); a promotion of it is cleared. */
pb_status arms_retire(store *s, int64_t arm_id, char *err);
/* Makes a retired version active again, retiring the active version of the same name. */
pb_status arms_restore(store *s, int64_t arm_id, char *err);

struct arms_sync_summary {
    int files, created, versioned, unchanged, ignored;
};

/* Loads every arm file (NAME.txt with arms_name_valid(NAME)) of dir into the experiment in one
 * transaction. A text the arm never had becomes its new version; a text it already had
 * (active or retired) is left alone, so an operator's retire or add sticks. An empty, blank or
 * non-UTF-8 file fails the whole sync (nothing stored) with a message naming the file. */
pb_status arms_sync_dir(store *s, int64_t experiment_id, const char *dir,
                        struct arms_sync_summary *summary, char *err);

/* The "default" live experiment (created with policy if absent), synced from prompts_dir.
 * summary may be NULL; out is cleared with store_experiment_clear. */
pb_status arms_ensure_default(store *s, const char *prompts_dir, const char *policy,
                              struct store_experiment *out, struct arms_sync_summary *summary,
                              char *err);

#endif
