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
#include "service/reward.h"

/* The route table: the API's routes followed by adminapi_routes() and dashboard_routes().
 * *out is owned by the caller (free); the rows point to static data. */
pb_status api_routes_new(struct server_route **out, size_t *n, char *err);

/* Fills /healthz fields: db, provider, emotion backend and note. An unreachable database is
 * an error (the core then answers 503 "degraded"). app is an app *. */
pb_status api_health(json_t *status, void *app, char *err);

/* A flow's ownership refusal (another user's conversation or impression) is 403 even in open
 * chat without a token: the caller is known by the body's user_id, and 401 would ask for
 * credentials that cannot help. Sets that reply and returns PB_OK for PB_ERR_FORBIDDEN; returns
 * rc otherwise, for the core's mapping. */
pb_status api_flow_status(struct server_reply *reply, pb_status rc);

/* The error answer of a deferred request's failure rc (message shown): 403 for
 * PB_ERR_FORBIDDEN as api_flow_status, the core's mapping otherwise; retry_after_s > 0 adds
 * Retry-After (rounded, at least 1) to a 429, 502 or 503, and a 503 always gets one (1 s when
 * retry_after_s is 0). */
void api_reply_failure(struct server_reply *reply, pb_status rc, const char *message,
                       double retry_after_s);

/* server_options.before_metrics: samples the provider loop's and the writer's gauges. */
void api_before_metrics(void *app);

/* POST /v1/feedback's body: its fields, and their checks as a pure function (no auth, no
 * store) that the handler and the fuzz target (tests/fuzz/fuzz_request_body.c) share. */
#define API_FEEDBACK_N_FIELDS 7
extern const char *const API_FEEDBACK_FIELDS[API_FEEDBACK_N_FIELDS];
pb_status api_feedback_parse(const json_t *body, struct reward_feedback_in *in, char *err);

#endif
