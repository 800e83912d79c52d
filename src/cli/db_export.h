/* db_export.h — `promptbandit db export-events`: the service's logged decisions as JSONL for
 * `simulate --replay-contextual` and `bandit-run replay`. Called by cmd_db.c; no SQL here
 * (impressions.h walks the rows). */
#ifndef DB_EXPORT_H
#define DB_EXPORT_H

#include "store/store.h"

/* Writes one line per activated, rewarded impression of experiment (NULL: every one) that has
 * features and a propensity to out_path (NULL: stdout); a summary goes to stderr. Returns the
 * exit code (0 ok, 1 failure). */
int db_export_events(store *s, const char *experiment, const char *out_path);

#endif
