/* runrecord.h — a bandit-run's record in the database: creates the run (runs.kind "offline")
 * with its own experiment and arms after runplan's checks, records its options as the run's
 * config JSON, and reads them back for resume, reports and `bandit-run show`. Split out of
 * offline.c; owns the config JSON's layout. It must not execute a run (offline does) and
 * speaks SQL only through runs/arms/store. The option types are offline.h's. */
#ifndef RUNRECORD_H
#define RUNRECORD_H

#include <stddef.h>
#include <stdint.h>

#include "base/pb.h"
#include "offline/offline.h"
#include "store/arms.h"
#include "store/runs.h"
#include "store/store.h"

/* Creates a run with its own offline experiment, named "run-ID", whose arms are the prompt
 * files of opt->prompts_dir; records opt, the task's name, segment label and SHA-256 (task.h) as
 * the run's config JSON. PB_ERR_INVALID for bad options, a bad policy or an empty prompts folder.
 */
pb_status runrecord_create(store *db, const struct offline_options *opt, int64_t *run_id,
                           char *err);

/* Reads a run's recorded options back. Strings in *opt point into *owner (a jansson object
 * the caller releases with runrecord_release). PB_ERR_NOT_FOUND for an unknown run,
 * PB_ERR_INVALID for a run that bandit-run did not create. */
pb_status runrecord_load(store *db, int64_t run_id, struct offline_options *opt, void **owner,
                         char *err);
void runrecord_release(void *owner);

/* The SHA-256 (hex) of the run's task recorded when the run was created (the scenarios file's
 * for runs recorded before task files), borrowed from owner; NULL when the record has none. */
const char *runrecord_scenarios_sha256(const void *owner);

/* The task name recorded for the run ("chat" for runs recorded before tasks) and the label of
 * its segment values ("emotion" unless the task names another, e.g. "mood"); borrowed from
 * owner. */
const char *runrecord_task_name(const void *owner);
const char *runrecord_segment_label(const void *owner);

/* The arms of run's experiment (include_retired as arms_list; caller frees with
 * arms_list_free). PB_ERR_INVALID for a run whose setup failed before it had arms. */
pb_status runrecord_arms(store *db, const struct run *run, int include_retired, struct arm **arms,
                         size_t *n, char *err);

#endif
