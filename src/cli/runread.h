/* runread.h — the bandit-run actions that only read recorded runs: report, export, list and
 * replay, and the report folder a finished run writes. Part of the executable: opens the
 * settings and the store, calls offline/report and offline/replay, prints; never calls a
 * provider and never changes a run. */
#ifndef RUNREAD_H
#define RUNREAD_H

#include <stdint.h>

#include "base/pb.h"
#include "runargs.h"
#include "store/store.h"

/* Each returns the process exit status (0 ok, 1 failure, 2 usage). */
int runread_report(const struct run_args *a);
int runread_export(const struct run_args *a);
int runread_list(const struct run_args *a);
int runread_replay(const struct run_args *a);

/* Writes the report folder of a run into dir when dir is not NULL (report.md, report.json,
 * steps.jsonl, plots) and prints report.md on stdout when print_md. PB_OK or an error in err. */
int runread_write_outputs(store *db, int64_t run_id, const char *dir, int print_md, char *err);

#endif
