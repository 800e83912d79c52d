/* overview.h — everything the dashboard shows of a live experiment in one JSON answer: the
 * arms with stable P(best) and KL intervals, the GLR verdict and the advice for the experiment
 * and per segment, the series over clock time (traffic share, mean reward with its band,
 * P(best)) for a window of 24 hours, 7 days or all, the reward distribution in that window, the
 * rewards per source and the newest rewards. Figures come from dashcache.h (which reads only
 * what is new) and the live state's segments (live.h); the time series is kept in the cache's
 * memo until a new reward, impression or hour changes it. Read-only. */
#ifndef OVERVIEW_H
#define OVERVIEW_H

#include <jansson.h>

#include "base/pb.h"
#include "service/app.h"
#include "store/experiment.h"
#include "store/store.h"

enum overview_window {
    OVERVIEW_24H, /* the last 24 clock hours, hourly points */
    OVERVIEW_7D,  /* the last 7 days, hourly points */
    OVERVIEW_ALL, /* from the first row: hourly up to 72 hours, then daily (UTC) points */
};

#define OVERVIEW_RECENT 20 /* newest rewards listed */

/* "24h", "7d" or "all" (NULL: "7d"); PB_ERR_INVALID with a message naming them otherwise. */
pb_status overview_window_from_name(const char *name, enum overview_window *out, char *err);

/* The overview of live experiment e (docs/WEB.md lists the fields) at Unix time now, using
 * the app's cache and live state and the handle s. *out is a new reference. Store errors,
 * PB_ERR_NOMEM. */
pb_status overview_live_json(app *a, store *s, const struct store_experiment *e,
                             enum overview_window window, double now, json_t **out, char *err);

#endif
