/* api.c — the chat clients' HTTP handlers: parse JSON -> chatturn / reward / choose / pipeline
 * -> JSON; the route table (these, adminapi's, dashboard's) and the /healthz hook. */
#include "service/api.h"

const char *const API_FEEDBACK_FIELDS[API_FEEDBACK_N_FIELDS] = {
    "impression_id", "user_id", "kind", "value", "final_text", "draft", "event_id"};

#include "store/experiment.h"
#include "base/jsonio.h"
#include "bandit/featvec.h"
#include "service/adminapi.h"
#include "service/chathttp.h"
#include "service/choose.h"
#include "service/pipeline.h"
#include "service/reward.h"
#include "store/feedback.h"
#include "store/writer.h"
#include "llm/llmloop.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/convapi.h"
#include "service/dashboard.h"
#include "service/oaiapi.h"

#define N_FIELDS(a) (sizeof(a) / sizeof((a)[0]))

pb_status api_flow_status(struct server_reply *reply, pb_status rc)
{
    if (rc == PB_ERR_FORBIDDEN)
        return server_reply_error(reply, 403, "forbidden", reply->err);
    return rc;
}

void api_reply_failure(struct server_reply *reply, pb_status rc, const char *message,
                       double retry_after_s)
{
    int status = rc == PB_ERR_FORBIDDEN ? 403 : server_http_status(rc, 1);
    server_reply_error(reply, status, pb_status_name(rc), message);
    if (status == 503 && retry_after_s <= 0)
        retry_after_s = 1; /* a 503 always says when to try again */
    if (retry_after_s > 0 && (status == 429 || status == 502 || status == 503)) {
        char v[32];
        snprintf(v, sizeof v, "%.0f", retry_after_s < 1 ? 1.0 : retry_after_s + 0.5);
        server_reply_header(reply, "Retry-After", v);
    }
}

/* A feedback waits for its commit without a thread: the reply is deferred and answered from
 * the writer's thread once the batch carrying the reward is on disk. */
static json_t *feedback_json(const struct reward_feedback_out *out)
{
    json_t *j =
        json_pack("{s:I, s:I, s:s, s:I, s:s, s:f, s:b}", "reward_id", (json_int_t)out->reward_id,
                  "impression_id", (json_int_t)out->impression_id, "arm", out->arm, "arm_id",
                  (json_int_t)out->arm_id, "source", out->source, "value", out->value, "duplicate",
                  out->duplicate);
    if (j && out->similarity >= 0)
        json_object_set_new(j, "similarity", json_real(out->similarity));
    return j;
}

static void feedback_done(pb_status rc, const struct reward_feedback_out *out, const char *err,
                          void *ud)
{
    struct server_defer *d = ud;
    struct server_reply reply = {0};
    if (rc == PB_OK)
        server_reply_json(&reply, 200, feedback_json(out));
    else
        api_reply_failure(&reply, rc, err, rc == PB_ERR_UNAVAILABLE ? 1 : 0);
    server_defer_finish(d, &reply);
}

static pb_status feedback_defer(app *a, struct server_request *req, struct server_reply *reply,
                                const struct reward_feedback_in *in)
{
    struct server_defer *d = server_reply_defer(req, reply, 0, NULL, NULL);
    if (!d)
        return PB_OK; /* the core answered (shutting down) */
    pb_status rc = reward_submit(a, in, feedback_done, d, reply->err);
    if (rc != PB_OK) { /* refused at once: a failing or busy writer asks for a retry */
        struct server_reply now = {0};
        api_reply_failure(&now, rc, reply->err, 1);
        server_defer_finish(d, &now);
    }
    return PB_OK;
}

/* The fields of a POST /v1/feedback body, checked as the handler checks them (unknown fields
 * aside: the caller has refused those), into *in (strings borrowed from body). */
pb_status api_feedback_parse(const json_t *body, struct reward_feedback_in *in, char *err)
{
    long long impression = 0;
    memset(in, 0, sizeof *in);
    in->value = NAN;
    /* The id of an OpenAI-compatible completion ("chatcmpl-pb-N", oaiapi.h) names impression N. */
    const char *completion = json_string_value(json_object_get(body, "impression_id"));
    int64_t from_completion = 0;
    if (completion && !oaiapi_impression_of(completion, &from_completion))
        return pb_errf(err, PB_ERR_INVALID,
                       "field 'impression_id' must be a positive integer or a completion id "
                       "chatcmpl-pb-N");
    impression = from_completion;
    pb_status rc;
    if ((!completion &&
         (rc = jsonio_integer(body, "impression_id", 1, 1, INT64_MAX, &impression, err))) ||
        (rc = jsonio_string(body, "user_id", 0, &in->user_id, err)) ||
        (rc = jsonio_string(body, "kind", 1, &in->kind, err)) ||
        (rc = jsonio_number(body, "value", 0, -1, 1, &in->value, err)) ||
        (rc = jsonio_string(body, "final_text", 0, &in->final_text, err)) ||
        (rc = jsonio_string(body, "draft", 0, &in->draft, err)) ||
        (rc = jsonio_string(body, "event_id", 0, &in->event_id, err)))
        return rc;
    in->impression_id = impression;
    in->has_value = !isnan(in->value);
    return PB_OK;
}

static pb_status h_feedback(struct server_request *req, struct server_reply *reply, void *ctx)
{
    struct reward_feedback_in in;
    json_t *body = NULL;
    pb_status rc = server_req_json_fields(req, reply, API_FEEDBACK_FIELDS,
                                          N_FIELDS(API_FEEDBACK_FIELDS), &body);
    if (rc != PB_OK)
        return rc;
    if ((rc = api_feedback_parse(body, &in, reply->err)) == PB_OK) {
        if (!in.user_id) /* a user token speaks for its user */
            in.user_id = server_req_user(req);
        rc = server_auth_user(req, in.user_id, reply->err);
    }
    if (rc == PB_OK)
        rc = feedback_defer(ctx, req, reply, &in);
    rc = api_flow_status(reply, rc);
    json_decref(body);
    return rc;
}

/* The choice as JSON text, written directly (the hot path: see choose_context in choose.c). */
static pb_status choose_reply(struct server_reply *reply, const struct choose_out *out,
                              int activate)
{
    struct jsonio_buf b = {0};
    jsonio_buf_lit(&b, "{\"arm\":");
    jsonio_buf_str(&b, out->arm);
    jsonio_buf_lit(&b, ",\"arm_id\":");
    jsonio_buf_int(&b, out->arm_id);
    jsonio_buf_lit(&b, ",\"prompt\":");
    jsonio_buf_str(&b, out->prompt);
    jsonio_buf_lit(&b, ",\"impression_id\":");
    jsonio_buf_int(&b, out->impression_id);
    jsonio_buf_lit(&b, ",\"propensity\":");
    jsonio_buf_real(&b, out->propensity, 17);
    jsonio_buf_lit(&b, activate ? ",\"activated\":true,\"segment\":"
                                : ",\"activated\":false,\"segment\":");
    jsonio_buf_str(&b, out->segment);
    jsonio_buf_lit(&b, "}");
    size_t len;
    char *text = jsonio_buf_take(&b, &len);
    if (!text)
        return pb_errf(reply->err, PB_ERR_NOMEM, "out of memory");
    server_reply_owned(reply, 200, "application/json", text, len);
    return PB_OK;
}

static pb_status h_choose(struct server_request *req, struct server_reply *reply, void *ctx)
{
    static const char *const fields[] = {"experiment", "user_id",  "context",
                                         "segment",    "activate", "features"};
    double x[FEATVEC_DIM];
    json_t *features;
    struct choose_in in = {0};
    struct choose_out out = {0};
    char *context = NULL;
    int activate = 1;
    json_t *body = NULL;
    pb_status rc = server_req_json_fields(req, reply, fields, N_FIELDS(fields), &body);
    if (rc != PB_OK)
        return rc;
    json_t *context_obj = json_object_get(body, "context");
    if ((rc = jsonio_string(body, "experiment", 0, &in.experiment, reply->err)) ||
        (rc = jsonio_string(body, "user_id", 0, &in.user_id, reply->err)) ||
        (rc = server_auth_user(req, in.user_id, reply->err)) ||
        (rc = jsonio_string(body, "segment", 0, &in.segment, reply->err)) ||
        (rc = jsonio_bool(body, "activate", 0, &activate, reply->err)))
        goto cleanup;
    in.inactive = !activate;
    if ((features = json_object_get(body, "features")) && !json_is_null(features)) {
        if ((rc = featvec_from_json(features, x, reply->err)) != PB_OK)
            goto cleanup;
        in.features = x;
    }
    if (context_obj && !json_is_null(context_obj)) {
        if (!json_is_object(context_obj)) {
            rc = pb_errf(reply->err, PB_ERR_INVALID, "field 'context' must be a JSON object");
            goto cleanup;
        }
        in.context_json = context = json_dumps(context_obj, JSON_COMPACT);
    }
    if ((rc = choose_arm(ctx, &in, &out, reply->err)) == PB_OK) {
        rc = choose_reply(reply, &out, activate);
    } else if (rc == PB_ERR_UNAVAILABLE) { /* the log is not being written: retry shortly */
        api_reply_failure(reply, rc, reply->err, 1);
        rc = PB_OK;
    }
cleanup:
    choose_out_clear(&out);
    free(context);
    json_decref(body);
    return rc;
}

/* POST /v1/impressions/{id}/activate and /discard: {"user_id": ...} (owner) or {} (admin, or
 * an impression without a user). */
static pb_status impression_set(struct server_request *req, struct server_reply *reply, void *ctx,
                                int activate)
{
    static const char *const fields[] = {"user_id"};
    const char *user_id = NULL;
    char why[PB_ERR_LEN];
    int64_t id = 0;
    int changed = 0;
    json_t *body = NULL;
    pb_status rc = server_req_param_id(req, "id", &id, reply->err);
    if (rc != PB_OK ||
        (rc = server_req_json_fields(req, reply, fields, N_FIELDS(fields), &body)) != PB_OK)
        return rc;
    int admin = server_auth_admin(req, why) == PB_OK;
    if ((rc = jsonio_string(body, "user_id", 0, &user_id, reply->err)) ||
        (!admin && (rc = server_auth_user(req, user_id, reply->err))))
        goto cleanup;
    rc = choose_impression_set(ctx, id, user_id, admin, activate, &changed, reply->err);
    if (rc == PB_OK)
        server_reply_json(reply, 200,
                          json_pack("{s:I, s:s, s:b}", "impression_id", (json_int_t)id, "status",
                                    activate ? "activated" : "discarded", "changed", changed));
    rc = api_flow_status(reply, rc);
cleanup:
    json_decref(body);
    return rc;
}

static pb_status h_activate(struct server_request *req, struct server_reply *reply, void *ctx)
{
    return impression_set(req, reply, ctx, 1);
}

static pb_status h_discard(struct server_request *req, struct server_reply *reply, void *ctx)
{
    return impression_set(req, reply, ctx, 0);
}

/* Erasure waits for its commit and the WAL checkpoint on the writer's thread. */
struct erase_wait {
    struct server_defer *d;
    struct pipeline_erase e;
};

static void erase_done(pb_status rc, const char *err, void *ud)
{
    struct erase_wait *w = ud;
    struct server_reply reply = {0};
    const struct feedback_erase_counts *c = &w->e.result.counts;
    if (rc == PB_OK)
        server_reply_json(&reply, 200,
                          json_pack("{s:{s:I, s:I, s:I, s:I}, s:s}", "erased", "messages",
                                    (json_int_t)c->messages, "conversations",
                                    (json_int_t)c->conversations, "impressions",
                                    (json_int_t)c->impressions, "rewards", (json_int_t)c->rewards,
                                    "on_disk", w->e.result.purged ? "purged" : "pending"));
    else
        api_reply_failure(&reply, rc, err, rc == PB_ERR_UNAVAILABLE ? 1 : 0);
    server_defer_finish(w->d, &reply);
    free(w);
}

static pb_status h_erase(struct server_request *req, struct server_reply *reply, void *ctx)
{
    struct erase_wait *w = calloc(1, sizeof *w);
    if (!w)
        return pb_errf(reply->err, PB_ERR_NOMEM, "out of memory");
    if (!(w->d = server_reply_defer(req, reply, 0, NULL, NULL))) {
        free(w);
        return PB_OK;
    }
    pb_status rc = pipeline_erase_submit(ctx, server_req_param(req, "user_id"), &w->e, erase_done,
                                         w, reply->err);
    if (rc != PB_OK) {
        struct server_reply now = {0};
        api_reply_failure(&now, rc, reply->err, rc == PB_ERR_UNAVAILABLE ? 1 : 0);
        server_defer_finish(w->d, &now);
        free(w);
    }
    return PB_OK;
}

/* ---- table and health ---- */

static const struct server_route api_table[] = {
    {"POST", "/v1/chat", chathttp_chat, SERVER_USER},
    {"POST", "/v1/chat/{impression_id}/regenerate", chathttp_regenerate, SERVER_USER},
    {"POST", "/v1/feedback", h_feedback, SERVER_USER},
    {"POST", "/v1/choose", h_choose, SERVER_USER},
    {"POST", "/v1/impressions/{id}/activate", h_activate, SERVER_USER},
    {"POST", "/v1/impressions/{id}/discard", h_discard, SERVER_USER},
    {"DELETE", "/v1/users/{user_id}", h_erase, SERVER_OWNER},
};

pb_status api_routes_new(struct server_route **out, size_t *n, char *err)
{
    size_t na = N_FIELDS(api_table), nadmin = 0, nd = 0, nc = 0, no = 0;
    const struct server_route *admin = adminapi_routes(&nadmin);
    const struct server_route *dash = dashboard_routes(&nd);
    const struct server_route *conv = convapi_routes(&nc);
    const struct server_route *oai = oaiapi_routes(&no);
    struct server_route *all = malloc((na + nadmin + nd + nc + no) * sizeof *all);
    if (!all)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    memcpy(all, api_table, sizeof api_table);
    memcpy(all + na, admin, nadmin * sizeof *admin);
    if (nd)
        memcpy(all + na + nadmin, dash, nd * sizeof *dash);
    memcpy(all + na + nadmin + nd, conv, nc * sizeof *conv);
    memcpy(all + na + nadmin + nd + nc, oai, no * sizeof *oai);
    *out = all;
    *n = na + nadmin + nd + nc + no;
    return PB_OK;
}

/* Gauges of the waiting work that lives outside the HTTP core, sampled at each scrape. */
/* Sets gauge `name` to value (registered on first use). */
static void set_gauge(metrics *m, const char *name, const char *help, double value)
{
    metrics_family *f;
    char err[PB_ERR_LEN];
    if (metrics_gauge(m, name, help, NULL, 0, &f, err) == PB_OK)
        metrics_set(f, NULL, value);
}

void api_before_metrics(void *ctx)
{
    app *a = ctx;
    metrics *m = app_metrics(a);
    metrics_family *f;
    char err[PB_ERR_LEN];
    struct writer_stats ws;
    writer_stats_get(app_writer(a), &ws);
    if (app_llm_loop(a)) {
        struct llm_loop_stats ls;
        llm_loop_stats_get(app_llm_loop(a), &ls);
        set_gauge(m, "pb_llm_in_flight", "provider calls running now", (double)ls.in_flight);
        set_gauge(m, "pb_llm_queued", "provider calls waiting for a slot or a retry",
                  (double)ls.queued);
        set_gauge(m, "pb_llm_refused",
                  "provider calls refused at once (queue full) since the start",
                  (double)ls.refused);
    }
    long e_running, e_queued, e_refused;
    if (emotion_remote_stats(app_emotion(a), &e_running, &e_queued, &e_refused)) {
        set_gauge(m, "pb_emotion_in_flight", "remote emotion classifier calls running now",
                  (double)e_running);
        set_gauge(m, "pb_emotion_queued", "remote emotion classifier calls waiting for a slot",
                  (double)e_queued);
        set_gauge(m, "pb_emotion_refused",
                  "remote emotion classifier calls refused at once (queue full) since the start",
                  (double)e_refused);
    }
    set_gauge(m, "pb_writer_queued", "records waiting for the writer's next commit",
              (double)ws.queued);
    set_gauge(m, "pb_writer_healthy", "1 while the last commit succeeded", ws.healthy);
    set_gauge(m, "pb_writer_failed_commits", "transactions that failed as a whole",
              (double)ws.failed_commits);
    set_gauge(m, "pb_writer_retried_batches",
              "batches run again after a PostgreSQL deadlock or serialization failure",
              (double)ws.retried_batches);
    set_gauge(m, "pb_writer_batches",
              "transactions written (records / batches is the mean batch size)",
              (double)ws.batches);
    set_gauge(m, "pb_writer_records", "records settled by the writer", (double)ws.records);
    set_gauge(m, "pb_writer_largest_batch", "the largest batch so far", (double)ws.largest_batch);
    static const char *const le[] = {"le"};
    if (metrics_gauge(m, "pb_writer_batch_size", "batches by size: at most le records", le, 1, &f,
                      err) == PB_OK)
        for (int i = 0; i < WRITER_BATCH_BUCKETS; i++) {
            char bound[24];
            if (i == WRITER_BATCH_BUCKETS - 1)
                snprintf(bound, sizeof bound, "+Inf");
            else
                snprintf(bound, sizeof bound, "%d", 1 << i);
            const char *v[] = {bound};
            metrics_set(f, v, (double)ws.batch_sizes[i]);
        }
}

pb_status api_health(json_t *status, void *ctx, char *err)
{
    app *a = ctx;
    const emotion *emo = app_emotion(a);
    struct store_experiment e = {0};
    /* One indexed read proves the database answers; counting rows would scan every table. */
    store *s = app_store_acquire(a, err);
    pb_status rc = s ? store_experiment_get(s, "default", &e, err) : PB_ERR_DB;
    if (rc == PB_ERR_NOT_FOUND)
        rc = PB_OK;
    store_experiment_clear(&e);
    app_store_release(a, s);
    char why[PB_ERR_LEN];
    int writes = writer_healthy(app_writer(a), why);
    json_object_set_new(status, "db", json_string(rc == PB_OK ? "ok" : "error"));
    json_object_set_new(status, "writes", json_string(writes ? "ok" : why));
    if (rc == PB_OK && !writes)
        rc = pb_errf(err, PB_ERR_UNAVAILABLE, "the database is not taking writes: %s", why);
    json_object_set_new(status, "provider",
                        json_string(app_llm(a) ? "configured" : "not configured"));
    json_object_set_new(status, "emotion_backend", json_string(emotion_backend(emo)));
    json_object_set_new(status, "emotion_note", json_string(emotion_note(emo)));
    json_object_set_new(status, "note", json_string(app_llm(a) ? "" : app_llm_note(a)));
    return rc;
}
