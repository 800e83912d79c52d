/* api.h — the service's HTTP handlers for chat clients: chat, regenerate, feedback, choose,
 * activate / discard and erasure; the whole route table (these, then adminapi's admin routes,
 * then dashboard's) and the /healthz hook. Each handler parses JSON (jsonio), checks auth,
 * calls chatturn / reward / choose / pipeline and writes JSON; nothing else. The `void *app`
 * of every handler is an app * (app.h). */
#ifndef API_H
#define API_H

#include <jansson.h>
#include <stddef.h>

#include "base/pb.h"
#include "http/server.h"
#include "service/app.h"

/* The route table: the API's routes followed by adminapi_routes() and dashboard_routes().
 * *out is owned by the caller (free); the rows point to static data. */
pb_status api_routes_new(struct server_route **out, size_t *n, char *err);

/* Fills /healthz fields: db, provider, emotion backend and note. An unreachable database is
 * an error (the core then answers 503 "degraded"). app is an app *. */
pb_status api_health(json_t *status, void *app, char *err);

/* server_options.before_metrics: samples the provider loop's and the writer's gauges. */
void api_before_metrics(void *app);

#endif
