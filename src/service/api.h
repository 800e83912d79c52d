/* api.h — the service's HTTP handlers: chat, regenerate, feedback, choose, erasure and the
 * admin API (experiments, arms, policy, promotion, reset, run import), plus the /healthz hook.
 * Each handler parses JSON (jsonio), checks auth, calls pipeline / live / the store family
 * and writes JSON; nothing else. The dashboard's own routes (dashboard.c, when linked) are
 * appended to the table. The `void *app` of every handler is an app * (app.h). */
#ifndef API_H
#define API_H

#include <jansson.h>
#include <stddef.h>

#include "service/app.h"
#include "http/server.h"

/* The route table: the API's routes followed by dashboard_routes() when that module is
 * linked. *out is owned by the caller (free); the rows point to static data. */
int api_routes_new(struct server_route **out, size_t *n, char *err);

/* Fills /healthz fields: db, provider, emotion backend and note. An unreachable database is
 * an error (the core then answers 503 "degraded"). app is an app *. */
int api_health(json_t *status, void *app, char *err);

/* The JSON of an experiment view (GET /v1/arms); a new reference, NULL when out of memory. */
json_t *api_experiment_json(const struct app_experiment_view *v);

#endif
