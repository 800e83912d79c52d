/* runview.h — offline runs as the dashboard shows them: the runs list with steps and cost, and
 * a run's view with its real statistics (ok, scored steps per arm), the GLR verdict, advice
 * (import the winner, or how many more steps) and series by iteration, in the same shape as a
 * live experiment's overview (overview.h) so one page draws both. Reads the store family
 * (runs.h, dashq.h, arms.h); writes nothing. */
#ifndef RUNVIEW_H
#define RUNVIEW_H

#include <jansson.h>
#include <stdint.h>

#include "base/pb.h"
#include "store/store.h"

/* {"runs": [{id, name, kind, status, stop_reason, created_at, finished_at, steps_ok,
 * steps_failed, steps_pending, cost_usd, tokens, calls, experiment, winner_arm_id}]}, newest
 * first. *out is a new reference. */
pb_status runview_list_json(store *s, json_t **out, char *err);

/* The view of run run_id (docs/WEB.md). PB_ERR_NOT_FOUND when there is no such run. */
pb_status runview_json(store *s, int64_t run_id, json_t **out, char *err);

/* The run whose arms the offline experiment experiment_id holds (bandit-run makes one
 * experiment per run); PB_ERR_NOT_FOUND when none does. */
pb_status runview_run_of(store *s, int64_t experiment_id, int64_t *run_id, char *err);

#endif
