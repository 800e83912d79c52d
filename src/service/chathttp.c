/* chathttp.c — the chat turn over HTTP without a waiting thread: the handler prepares the turn
 * (chatturn_prepare), submits it, defers its reply (or opens an SSE stream) and returns; the
 * provider loop and the writer finish it. What the bytes say is a wire's (struct
 * chathttp_wire): /v1/chat's events and JSON here, the OpenAI chunks in oaiapi.c; the handoff
 * below is the same for every wire, and a wire's functions run where the answer is written
 * (the start and the deltas under the lock, the end outside it).
 *
 * With a remote emotion classifier a /v1/chat turn defers its reply before it is prepared
 * (run_async, below): the classifier's answer prepares and submits it.
 *
 * The handoff between the handler and the turn is the one subtle part. The turn could end (a
 * failing provider, a fast fake) before the handler has its server_defer handle, and the
 * client may go away (on_cancel, on a core thread) while the provider works. One small struct,
 * struct chatreq, mediates, under its own lock:
 *   - the handler takes the lock before the submit and keeps it until the reply is open (a
 *     refused submit is a plain 503 with Retry-After): it stores the handle and writes the
 *     stream's first event. The turn cannot end, nor a delta arrive, before that: the sink waits
 *     on the lock;
 *   - the sink (turn side), under the lock, takes the handle out (NULL when no reply could be
 *     opened) and answers outside the lock;
 *   - on_cancel cancels the turn (under the lock, while it runs).
 * Nothing is called under the lock that waits: server_defer_finish (which waits for a running
 * on_cancel) is always called after unlocking. The struct is freed by the last of the two
 * sides to finish, counted by refs. */
#include "service/chathttp.h"

#include "base/jsonio.h"
#include "service/api.h"
#include "service/chatturn.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_FIELDS(a) (sizeof(a) / sizeof((a)[0]))

struct chatreq {
    pthread_mutex_t lock;
    int refs; /* 2: the handler side and the turn side */
    int stream;
    const struct chathttp_wire *wire;
    void *ud; /* the wire's, freed with ud_free */
    void (*ud_free)(void *);
    chatturn_job *job; /* while the turn runs */
    int cancelled;     /* the core gave up before there was a job (remote classification) */
    struct server_defer *d;
    pb_status rc;
    char err[PB_ERR_LEN];
    double retry_after_s;
    struct chatturn_out out; /* the result (owns its reply) */
};

static void chatreq_unref(struct chatreq *c)
{
    pthread_mutex_lock(&c->lock);
    int last = --c->refs == 0;
    pthread_mutex_unlock(&c->lock);
    if (!last)
        return;
    chatturn_out_clear(&c->out);
    if (c->ud_free)
        c->ud_free(c->ud);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* The fields known before the answer (the stream's first event, and the body's frame). */
static json_t *turn_json(const struct chatturn_out *o, int64_t regenerated)
{
    json_t *j =
        json_pack("{s:o, s:s, s:I, s:s, s:I, s:s}", "emotions", chatturn_emotions_json(o), "arm",
                  o->arm, "arm_id", (json_int_t)o->arm_id, "segment", o->segment, "impression_id",
                  (json_int_t)o->impression_id, "conversation_id", o->conversation_id);
    if (j && regenerated)
        json_object_set_new(j, "regenerated_impression_id", json_integer(regenerated));
    return j;
}

json_t *chathttp_turn_json(const struct chatturn_out *o, int64_t regenerated)
{
    json_t *j = turn_json(o, regenerated);
    if (j)
        json_object_set_new(j, "reply", json_string(o->reply ? o->reply : ""));
    return j;
}

/* One SSE event "event: NAME\ndata: JSON\n\n" appended to b; steals data. */
static void sse_event(struct pb_buf *b, const char *name, json_t *data)
{
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    if (!text)
        return;
    pb_buf_append(b, "event: ", 7);
    pb_buf_append(b, name, strlen(name));
    pb_buf_append(b, "\ndata: ", 7);
    pb_buf_append(b, text, strlen(text));
    pb_buf_append(b, "\n\n", 2);
    free(text);
}

static json_t *error_json(pb_status rc, const char *err)
{
    return json_pack("{s:{s:s, s:s}}", "error", "code", pb_status_name(rc), "message", err);
}

/* ---- /v1/chat's wire: events start, delta, done or error; the turn's JSON ---- */

/* The stream's last event for a result: "done" with the finish reason and usage, or "error". */
static void chat_stream_end(struct pb_buf *b, pb_status rc, const struct chatturn_out *out,
                            const char *err, void *ud)
{
    (void)ud;
    if (rc == PB_OK)
        sse_event(b, "done",
                  json_pack("{s:I, s:s, s:s, s:{s:I, s:I}}", "impression_id",
                            (json_int_t)out->impression_id, "finish_reason",
                            out->finish_reason[0] ? out->finish_reason : "stop", "reply",
                            out->reply ? out->reply : "", "usage", "prompt_tokens",
                            (json_int_t)out->prompt_tokens, "completion_tokens",
                            (json_int_t)out->completion_tokens));
    else
        sse_event(b, "error", error_json(rc, err));
}

static void chat_stream_start(struct pb_buf *b, const struct chatturn_out *first, void *ud)
{
    const int64_t *regenerated = ud;
    sse_event(b, "start", turn_json(first, regenerated ? *regenerated : 0));
}

static void chat_stream_delta(struct pb_buf *b, const char *text, size_t len, void *ud)
{
    (void)ud;
    sse_event(b, "delta", json_pack("{s:s%}", "text", text, len));
}

/* The reply of a non-streaming turn for its result. */
static void chat_reply(struct server_reply *reply, pb_status rc, const struct chatturn_out *out,
                       const char *err, double retry_after_s, void *ud)
{
    const int64_t *regenerated = ud;
    if (!out) { /* refused at once */
        server_reply_error(reply, 503, "overloaded",
                           "too many chats are waiting for the provider; retry shortly");
        server_reply_header(reply, "Retry-After", "1");
        return;
    }
    if (rc == PB_OK) {
        server_reply_json(reply, 200, chathttp_turn_json(out, regenerated ? *regenerated : 0));
        return;
    }
    api_reply_failure(reply, rc, err, retry_after_s);
}

static const struct chathttp_wire chat_wire = {
    .stream_start = chat_stream_start,
    .stream_delta = chat_stream_delta,
    .stream_end = chat_stream_end,
    .reply = chat_reply,
    .timeout_event = "event: error\ndata: {\"error\":{\"code\":\"timeout\",\"message\":"
                     "\"the answer did not finish within server.request_timeout_s\"}}\n\n",
};

/* Answers through d (outside any lock). */
static void answer(struct chatreq *c, struct server_defer *d)
{
    if (c->stream) {
        struct pb_buf b = {0};
        c->wire->stream_end(&b, c->rc, &c->out, c->err, c->ud);
        server_stream_end(d, b.data, b.len);
        pb_buf_free(&b);
    } else {
        struct server_reply reply = {0};
        c->wire->reply(&reply, c->rc, &c->out, c->err, c->retry_after_s, c->ud);
        server_defer_finish(d, &reply);
    }
}

/* ---- the turn's side (provider loop and writer threads) ---- */

static void sink_delta(const char *text, size_t len, void *ud)
{
    struct chatreq *c = ud;
    struct pb_buf b = {0};
    pthread_mutex_lock(&c->lock);
    if (c->d) { /* NULL only when no reply could be opened: the turn is being cancelled */
        c->wire->stream_delta(&b, text, len, c->ud);
        server_stream_write(c->d, b.data, b.len); /* copies; never waits */
    }
    pthread_mutex_unlock(&c->lock);
    pb_buf_free(&b);
}

static void sink_done(pb_status rc, struct chatturn_out *out, const char *err, double retry_after_s,
                      void *ud)
{
    struct chatreq *c = ud;
    pthread_mutex_lock(&c->lock);
    c->job = NULL; /* freed by the turn after this returns */
    c->rc = rc;
    snprintf(c->err, sizeof c->err, "%s", err);
    c->retry_after_s = retry_after_s;
    c->out = *out;
    out->reply = NULL; /* taken */
    struct server_defer *d = c->d;
    c->d = NULL;
    pthread_mutex_unlock(&c->lock);
    if (d)
        answer(c, d);
    chatreq_unref(c);
}

/* The core gave up on the request (deadline, shutdown, client gone): stop the turn. */
static void on_cancel(void *ud)
{
    struct chatreq *c = ud;
    pthread_mutex_lock(&c->lock);
    if (c->job)
        chatturn_cancel(c->job);
    else
        c->cancelled = 1; /* still classifying: the turn is never submitted */
    pthread_mutex_unlock(&c->lock);
}

/* ---- the handler's side ---- */

static int wants_stream(struct server_request *req, const json_t *body)
{
    const char *accept = server_req_header(req, "Accept");
    return json_is_true(json_object_get(body, "stream")) ||
           (accept && strstr(accept, "text/event-stream"));
}

pb_status chathttp_run(app *a, struct server_request *req, struct server_reply *reply,
                       chatturn_job *job, const struct chatturn_out *first, int stream,
                       const struct chathttp_wire *wire, void *ud, void (*ud_free)(void *))
{
    struct chatreq *c = calloc(1, sizeof *c);
    if (!c) {
        chatturn_job_free(job);
        if (ud_free)
            ud_free(ud);
        return pb_errf(reply->err, PB_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&c->lock, NULL);
    c->refs = 2;
    c->stream = stream;
    c->wire = wire;
    c->ud = ud;
    c->ud_free = ud_free;
    c->job = job;
    const config *cfg = app_config(a);
    double timeout = (double)config_int(cfg, "server.request_timeout_s");
    double deadline = pb_now_monotonic() + timeout, retry_after = 0;
    struct chatturn_sink sink = {
        .on_delta = stream ? sink_delta : NULL, .on_done = sink_done, .ud = c};
    pthread_mutex_lock(&c->lock); /* held until the reply is open: the turn waits for it */
    pb_status rc = chatturn_submit(job, deadline, stream, &sink, &retry_after, reply->err);
    if (rc != PB_OK) { /* the job is freed and the sink never hears of it */
        pthread_mutex_unlock(&c->lock);
        if (rc == PB_ERR_LIMIT) {
            wire->reply(reply, rc, NULL, reply->err, retry_after, ud);
            rc = PB_OK;
        }
        chatreq_unref(c);
        chatreq_unref(c);
        return rc;
    }
    struct server_defer *d;
    if (stream) {
        struct pb_buf b = {0};
        if (wire->stream_headers)
            wire->stream_headers(reply, first, ud);
        wire->stream_start(&b, first, ud);
        d = server_reply_stream(req, reply, 200, "text/event-stream", timeout, wire->timeout_event,
                                on_cancel, c);
        if (d)
            server_stream_write(d, b.data, b.len);
        pb_buf_free(&b);
    } else {
        d = server_reply_defer(req, reply, timeout, on_cancel, c);
    }
    /* The sink has waited on the lock, so the turn cannot have ended yet: c->job is set. */
    if (!d) /* no reply possible (the core set it): stop the turn */
        chatturn_cancel(c->job);
    c->d = d;
    pthread_mutex_unlock(&c->lock);
    chatreq_unref(c);
    return PB_OK;
}

/* /v1/chat's wire, with the old impression id of a regenerated turn (0: a new turn). */
/* ---- a /v1/chat turn whose emotions come from a remote classifier ----
 * The handler defers the reply first (no thread waits for the classifier either), then the
 * classifier's answer prepares the turn on its loop's thread, and this submits it: under the
 * lock, as chathttp_run does, so that the turn cannot end before the reply is ready; a stream is
 * opened (server_defer_stream) only once the turn is submitted, so that every failure before
 * it is a plain HTTP error. */

/* A failure found before the turn was submitted, answered through d (a deferred reply: no
 * stream is open yet), and the turn side's reference given up. */
static void fail_early(struct chatreq *c, struct server_defer *d, pb_status rc, const char *err)
{
    struct server_reply reply = {0};
    struct chatturn_out none;
    memset(&none, 0, sizeof none);
    /* out NULL is the wire's "refused at once" (a full queue: the provider's or the
     * classifier's); any other failure is the turn's. */
    c->wire->reply(&reply, rc, rc == PB_ERR_LIMIT ? NULL : &none, err, 0, c->ud);
    server_defer_finish(d, &reply);
    chatreq_unref(c);
}

static void async_prepared(pb_status rc, chatturn_job *job, const struct chatturn_out *first,
                           const char *err, void *ud)
{
    struct chatreq *c = ud;
    pthread_mutex_lock(&c->lock);
    struct server_defer *d = c->d;
    if (rc == PB_OK && c->cancelled) { /* the core answered already; nothing was stored */
        chatturn_job_free(job);
        c->d = NULL;
        pthread_mutex_unlock(&c->lock);
        server_defer_drop(d);
        chatreq_unref(c);
        return;
    }
    char why[PB_ERR_LEN] = "";
    double retry_after = 0;
    struct chatturn_sink sink = {
        .on_delta = c->stream ? sink_delta : NULL, .on_done = sink_done, .ud = c};
    if (rc == PB_OK) {
        c->job = job;
        rc = chatturn_submit(job, server_defer_deadline(d), c->stream, &sink, &retry_after, why);
        if (rc != PB_OK)
            c->job = NULL; /* freed by chatturn_submit; the sink never hears of it */
    } else {
        snprintf(why, sizeof why, "%s", err);
    }
    if (rc != PB_OK) {
        c->d = NULL;
        pthread_mutex_unlock(&c->lock);
        fail_early(c, d, rc, why);
        return;
    }
    if (c->stream) {
        struct server_reply head = {0};
        if (c->wire->stream_headers)
            c->wire->stream_headers(&head, first, c->ud);
        if (server_defer_stream(d, 200, "text/event-stream", c->wire->timeout_event, &head)) {
            struct pb_buf b = {0};
            c->wire->stream_start(&b, first, c->ud);
            server_stream_write(d, b.data, b.len);
            pb_buf_free(&b);
        } else {
            chatturn_cancel(c->job); /* the core answered first: the sink ends the turn */
        }
    }
    pthread_mutex_unlock(&c->lock);
}

/* POST /v1/chat with a remote emotion classifier: defer, then classify without a thread. */
static pb_status run_async(app *a, struct server_request *req, struct server_reply *reply,
                           const struct chatturn_in *in, int stream)
{
    struct chatreq *c = calloc(1, sizeof *c);
    if (!c)
        return pb_errf(reply->err, PB_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&c->lock, NULL);
    c->refs = 2;
    c->stream = stream;
    c->wire = &chat_wire;
    double timeout = (double)config_int(app_config(a), "server.request_timeout_s");
    struct server_defer *d = server_reply_defer(req, reply, timeout, on_cancel, c);
    if (!d) { /* the core set the reply */
        pthread_mutex_destroy(&c->lock);
        free(c);
        return PB_OK;
    }
    pthread_mutex_lock(&c->lock);
    c->d = d;
    pthread_mutex_unlock(&c->lock);
    char err[PB_ERR_LEN] = "";
    pb_status rc = chatturn_prepare_async(a, in, async_prepared, c, err);
    if (rc != PB_OK) { /* refused at once: answer through the deferred reply */
        pthread_mutex_lock(&c->lock);
        c->d = NULL;
        pthread_mutex_unlock(&c->lock);
        fail_early(c, d, rc, err);
    }
    chatreq_unref(c);
    return PB_OK;
}

static pb_status run_turn(app *a, struct server_request *req, struct server_reply *reply,
                          chatturn_job *job, const struct chatturn_out *first, int stream,
                          int64_t regenerated)
{
    int64_t *ud = NULL;
    if (regenerated) {
        if (!(ud = malloc(sizeof *ud))) {
            chatturn_job_free(job);
            return pb_errf(reply->err, PB_ERR_NOMEM, "out of memory");
        }
        *ud = regenerated;
    }
    return chathttp_run(a, req, reply, job, first, stream, &chat_wire, ud, free);
}

pb_status chathttp_chat(struct server_request *req, struct server_reply *reply, void *ctx)
{
    static const char *const fields[] = {"user_id", "conversation_id", "message",
                                         "consent", "experiment",      "stream"};
    struct chatturn_in in = {.consent = -1};
    struct chatturn_out first;
    chatturn_job *job = NULL;
    json_t *body = NULL;
    int stream_flag = 0;
    pb_status rc = server_req_json_fields(req, reply, fields, N_FIELDS(fields), &body);
    if (rc != PB_OK)
        return rc;
    if ((rc = jsonio_string(body, "user_id", 1, &in.user_id, reply->err)) ||
        (rc = server_auth_user(req, in.user_id, reply->err)) ||
        (rc = jsonio_string(body, "conversation_id", 0, &in.conversation_id, reply->err)) ||
        (rc = jsonio_string(body, "message", 1, &in.message, reply->err)) ||
        (rc = jsonio_string(body, "experiment", 0, &in.experiment, reply->err)) ||
        (rc = jsonio_bool(body, "consent", 0, &in.consent, reply->err)) ||
        (rc = jsonio_bool(body, "stream", 0, &stream_flag, reply->err)))
        goto cleanup;
    if (emotion_is_remote(app_emotion(ctx)))
        rc = run_async(ctx, req, reply, &in, wants_stream(req, body));
    else if ((rc = chatturn_prepare(ctx, &in, &job, &first, reply->err)) == PB_OK)
        rc = run_turn(ctx, req, reply, job, &first, wants_stream(req, body), 0);
    rc = api_flow_status(reply, rc);
cleanup:
    json_decref(body);
    return rc;
}

pb_status chathttp_regenerate(struct server_request *req, struct server_reply *reply, void *ctx)
{
    static const char *const fields[] = {"user_id", "event_id", "stream"};
    struct chatturn_out first;
    chatturn_job *job = NULL;
    const char *user_id = NULL, *event_id = NULL;
    int64_t impression = 0;
    int stream_flag = 0;
    json_t *body = NULL;
    pb_status rc = server_req_json_fields(req, reply, fields, N_FIELDS(fields), &body);
    if (rc != PB_OK)
        return rc;
    if ((rc = server_req_param_id(req, "impression_id", &impression, reply->err)) ||
        (rc = jsonio_string(body, "user_id", 1, &user_id, reply->err)) ||
        (rc = server_auth_user(req, user_id, reply->err)) ||
        (rc = jsonio_string(body, "event_id", 0, &event_id, reply->err)) ||
        (rc = jsonio_bool(body, "stream", 0, &stream_flag, reply->err)))
        goto cleanup;
    rc = chatturn_prepare_regenerate(ctx, impression, user_id, event_id, &job, &first, reply->err);
    if (rc == PB_OK)
        rc = run_turn(ctx, req, reply, job, &first, wants_stream(req, body), impression);
    rc = api_flow_status(reply, rc);
cleanup:
    json_decref(body);
    return rc;
}
