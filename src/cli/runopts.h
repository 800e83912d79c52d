/* runopts.h — the options of a new bandit-run from its command line, its task file and the
 * settings, with one precedence rule (an option, then the task file, then the setting; the
 * setting run.scenarios replaces a task's scenario lines only when set explicitly) and every input
 * path checked before the database or the provider is touched. Part of the executable; the option
 * types are offline.h's, the task file's format task.h's. */
#ifndef RUNOPTS_H
#define RUNOPTS_H

#include <stddef.h>

#include "base/config.h"
#include "base/pb.h"
#include "offline/offline.h"
#include "offline/task.h"
#include "runargs.h"

/* What new options point into: the task and a few built paths. Released by runopts_free. */
struct runopts {
    struct offline_options o;
    struct task task; /* loaded for the checks; its strings back o's defaults */
    char task_file[4096], rubric[4096];
};

/* Fills ro from a, the task and cfg. Returns PB_OK, or a usage error (PB_ERR_INVALID,
 * PB_ERR_NOT_FOUND) with a message that names the bad value or path and where it came from;
 * the caller exits 2 on it. ro must be released with runopts_free either way. */
pb_status runopts_new(const struct run_args *a, const config *cfg, struct runopts *ro, char *err);
void runopts_free(struct runopts *ro);

/* The tasks folder: "tasks" beside the prompts folder of the settings (prompts.dir's parent),
 * so the source tree and an installed data folder both work. */
void runopts_tasks_dir(const config *cfg, char *buf, size_t len);

#endif
