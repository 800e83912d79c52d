/* dashboard.h — the admin dashboard's own read-only HTTP endpoints: the decision views (an
 * experiment's overview with verdict, advice and series over time: overview.h; examples per
 * arm and a reward's turn: examples.h; offline runs: runview.h), the light experiment list,
 * whether admin is on, SVG plots of an experiment (mean reward, share of pulls and regret by
 * reward count, reward distribution, mean with interval), the recent feedback list and the
 * latest judge-evaluation figures. Data comes from the store family and app.h's views; drawing
 * from plot.h. It writes nothing and owns no state: the service appends dashboard_routes() to
 * its routing table. */
#ifndef DASHBOARD_H
#define DASHBOARD_H

#include <jansson.h>
#include <stddef.h>

#include "service/app.h"
#include "base/pb.h"
#include "http/server.h"
#include "store/experiment.h"
#include "store/store.h"

enum dashboard_plot {
    DASHBOARD_PLOT_MEAN,         /* running mean reward per arm, by reward count */
    DASHBOARD_PLOT_SHARE,        /* running share of rewarded pulls per arm */
    DASHBOARD_PLOT_REGRET,       /* cumulative expected regret; "unknown" without true means */
    DASHBOARD_PLOT_DISTRIBUTION, /* share of each arm's rewards per level -1 … +1 */
    DASHBOARD_PLOT_INTERVALS,    /* mean and 95 % interval per arm (app.h's view) */
};

/* "mean.svg" → DASHBOARD_PLOT_MEAN, ...; PB_ERR_NOT_FOUND with a message listing the plots
 * for any other name. */
pb_status dashboard_plot_from_name(const char *file, enum dashboard_plot *out, char *err);

/* Draws one of the reward-stream plots (every kind but INTERVALS) of experiment e from the
 * rewards stored for it; *svg is an SVG document the caller frees. The regret plot needs
 * the arms' true means, known only for offline experiments whose policy_params hold
 * {"true_means": {"A": 0.9, ...}} covering every rewarded arm; otherwise it says "unknown".
 * Errors: PB_ERR_INVALID for INTERVALS, store errors (PB_ERR_DB), PB_ERR_NOMEM. */
pb_status dashboard_plot_svg(store *s, const struct store_experiment *e, enum dashboard_plot plot,
                             char **svg, char *err);

/* Bars of mean reward with their 95 % interval for every arm of the view that is active or
 * was ever rewarded, the same numbers as GET /v1/arms. Caller frees *svg. */
pb_status dashboard_intervals_svg(const struct app_experiment_view *v, char **svg, char *err);

/* {"experiment", "total", "by_source": {source: count}, "recent": [newest first, at most
 * limit (1..1000) of {reward_id, impression_id, arm_id, arm, source, value, created_at}]}.
 * *out is a new reference the caller decrefs. No message text or user id is included. */
pb_status dashboard_recent_feedback(store *s, const struct store_experiment *e, size_t limit,
                                    json_t **out, char *err);

/* {"judge_evals": [{id, judge_kind, created_at, figures}]}: the newest evaluation of each
 * judge kind. figures is the stored JSON object. *out is a new reference. */
pb_status dashboard_judge_evals(store *s, json_t **out, char *err);

/* Link note: call this through a normal (strong) reference, e.g. include this header in
 * api.c. A weak reference does not pull dashboard.o out of the static library pbcore, so the
 * routes would silently be missing from `serve`.
 *
 * The admin-only routes (GET /v1/experiments/{name}/plots/{plot}, GET
 * /v1/experiments/{name}/feedback?limit=N, GET /v1/judge-evals, GET
 * /v1/experiments/{name}/overview?window=24h|7d|all, GET /v1/experiments/{name}/examples, GET
 * /v1/runs/{id}, GET /v1/impressions/{id}/turn, GET /v1/dashboard/runs, GET
 * /v1/dashboard/experiments) and the public GET
 * /v1/admin-status. Handlers expect the app (app.h) as their `app` pointer. Static table; *n
 * gets its length. */
const struct server_route *dashboard_routes(size_t *n);

#endif
