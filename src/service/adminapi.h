/* adminapi.h — the service's admin HTTP handlers (all SERVER_ADMIN): experiments and their
 * statistics, arms (add, retire, restore), runs, policy, promotion, reset, importing the
 * winner of an offline run as an arm, and a new live experiment with a stopped run's arms. Each
 * handler parses JSON (jsonio), calls app's views, live and the store family, rebuilds the
 * experiment's live state after a change and writes JSON; nothing else. api.h puts these routes in
 * the table; handlers expect the app (app.h) as their `app` pointer. */
#ifndef ADMINAPI_H
#define ADMINAPI_H

#include <jansson.h>
#include <stddef.h>

#include "base/pb.h"
#include "http/server.h"
#include "service/app.h"

/* The admin routes (GET /v1/experiments, /v1/experiments/{name}, /v1/arms, /v1/runs; POST
 * /v1/arms, /v1/arms/{id}/retire|restore, /v1/experiments/{name}/policy|promote|unpromote|
 * reset|import-run, /v1/runs/{id}/start-experiment). Static table; *n gets its length. */
const struct server_route *adminapi_routes(size_t *n);

/* The JSON of an experiment view (GET /v1/arms); a new reference, NULL when out of memory. */
json_t *adminapi_experiment_json(const struct app_experiment_view *v);

/* The body of POST /v1/experiments/{name}/policy ({"policy": spec, "params": {k: number}}) as
 * a canonical spec in canonical[0..len): what the handler stores. PB_ERR_INVALID with a
 * message for the client. Pure: no store, no HTTP (fuzzed by tests/fuzz/fuzz_request_body.c). */
pb_status adminapi_policy_parse(const json_t *body, char *canonical, size_t len, char *err);

#endif
