/* oaiapi.c — POST /v1/chat/completions and GET /v1/models (oaiapi.h).
 *
 * The OpenAI protocol meets the chat turn in three places, and each has one rule.
 *
 * The request. `model` names the experiment ("promptbandit/NAME", or the bare NAME of a live
 * experiment); anything else is a 404 that lists the models there are, so a client that kept its
 * old model name learns what to write. The last message must be the user's: it is the turn's
 * message (classified for the segment, suffixed with " ;; emotion" when the experiment asks).
 * The user and assistant messages before it are the history, sent upstream as they are: the
 * client owns its conversation, so nothing is read from the store or cut. System (and developer)
 * messages meet the arm's prompt under the experiment's policy: replace (dropped), prepend (the
 * arm's prompt, a blank line, then the client's) or refuse (400). Stickiness needs a
 * conversation: the X-Promptbandit-Conversation header names one; without it, the `user` field
 * stands for one conversation per user and experiment (an id derived from both), so the same
 * user keeps the same arm under assign.mode conversation; with neither, every request is a new
 * conversation.
 *
 * The answer. The completion id is "chatcmpl-pb-" and the impression id, so /v1/feedback takes
 * it as it comes (or its number); X-Promptbandit-Impression, -Arm and -Conversation say the
 * same in headers, and a "promptbandit" object in the body. A stream is chathttp's: a first
 * chunk with the assistant role, one chunk per delta, a last one with the finish reason, the
 * usage chunk when stream_options.include_usage asks, then data: [DONE]. A client gone
 * mid-stream cancels the turn as on /v1/chat: nothing is stored.
 *
 * The errors. Every error this module answers is OpenAI-shaped. An upstream 429 stays a 429
 * with the provider's Retry-After (the client's own retry logic knows it); other provider
 * failures are 502, 503 or 504 as on /v1/chat. Once a stream has started its status is sent,
 * so a failure comes as a data: {"error":...} event (the SDKs raise it). */
#include "service/oaiapi.h"

#include "base/hash.h"
#include "base/jsonio.h"
#include "base/text.h"
#include "service/api.h"
#include "service/app.h"
#include "service/chathttp.h"
#include "service/chatturn.h"
#include "service/pipeline.h"
#include "store/experiment.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define N_ITEMS(a)           (sizeof(a) / sizeof((a)[0]))
#define COMPLETION_ID_PREFIX "chatcmpl-pb-"

/* ---- settings ---- */

static pb_status parse_system(const char *v, size_t len, enum oaiapi_system *out, const char *key,
                              char *err)
{
    static const char *const names[] = {"replace", "prepend", "refuse"};
    for (size_t i = 0; i < N_ITEMS(names); i++)
        if (strlen(names[i]) == len && strncmp(v, names[i], len) == 0) {
            *out = (enum oaiapi_system)i;
            return PB_OK;
        }
    return pb_errf(err, PB_ERR_INVALID,
                   "setting %s: expected replace, prepend or refuse, got '%.*s'", key, (int)len, v);
}

static pb_status parse_bool(const char *v, size_t len, int *out, const char *key, char *err)
{
    if ((len == 4 && strncmp(v, "true", 4) == 0) || (len == 2 && strncmp(v, "on", 2) == 0))
        *out = 1;
    else if ((len == 5 && strncmp(v, "false", 5) == 0) || (len == 3 && strncmp(v, "off", 3) == 0))
        *out = 0;
    else
        return pb_errf(err, PB_ERR_INVALID, "setting %s: expected true or false, got '%.*s'", key,
                       (int)len, v);
    return PB_OK;
}

/* [s, e) without the blanks around it. */
static void trim(const char **s, const char **e)
{
    while (*s < *e && isspace((unsigned char)**s))
        (*s)++;
    while (*e > *s && isspace((unsigned char)(*e)[-1]))
        (*e)--;
}

/* One entry "NAME:key=value,key=value" of openai.experiments; applied to out when NAME is
 * experiment (experiment NULL: only checked). */
static pb_status parse_entry(const char *s, const char *e, const char *experiment,
                             struct oaiapi_settings *out, char *err)
{
    static const char key[] = "openai.experiments";
    const char *colon = memchr(s, ':', (size_t)(e - s));
    const char *ns = s, *ne = colon ? colon : e;
    trim(&ns, &ne);
    if (!colon || ne == ns)
        return pb_errf(err, PB_ERR_INVALID,
                       "setting %s: entry '%.*s' is not NAME:key=value,... (keys model, system, "
                       "emotion)",
                       key, (int)(e - s), s);
    int mine = experiment && strlen(experiment) == (size_t)(ne - ns) &&
               strncmp(experiment, ns, (size_t)(ne - ns)) == 0;
    struct oaiapi_settings tmp = *out;
    for (const char *p = colon + 1; p < e;) {
        const char *q = memchr(p, ',', (size_t)(e - p));
        if (!q)
            q = e;
        const char *ks = p, *ke = q;
        trim(&ks, &ke);
        const char *eq = memchr(ks, '=', (size_t)(ke - ks));
        if (!eq)
            return pb_errf(err, PB_ERR_INVALID, "setting %s: '%.*s' is not key=value", key,
                           (int)(ke - ks), ks);
        const char *vs = eq + 1, *ve = ke, *kend = eq;
        trim(&ks, &kend);
        trim(&vs, &ve);
        size_t klen = (size_t)(kend - ks), vlen = (size_t)(ve - vs);
        pb_status rc = PB_OK;
        if (klen == 5 && strncmp(ks, "model", 5) == 0) {
            if (vlen == 0 || vlen >= sizeof tmp.model)
                return pb_errf(err, PB_ERR_INVALID, "setting %s: model must be 1 to %zu bytes", key,
                               sizeof tmp.model - 1);
            snprintf(tmp.model, sizeof tmp.model, "%.*s", (int)vlen, vs);
        } else if (klen == 6 && strncmp(ks, "system", 6) == 0) {
            rc = parse_system(vs, vlen, &tmp.system, key, err);
        } else if (klen == 7 && strncmp(ks, "emotion", 7) == 0) {
            rc = parse_bool(vs, vlen, &tmp.emotion, key, err);
        } else {
            return pb_errf(err, PB_ERR_INVALID,
                           "setting %s: unknown key '%.*s' (expected model, system or emotion)",
                           key, (int)klen, ks);
        }
        if (rc != PB_OK)
            return rc;
        p = q + 1;
    }
    if (mine)
        *out = tmp;
    return PB_OK;
}

pb_status oaiapi_settings_for(const config *cfg, const char *experiment,
                              struct oaiapi_settings *out, char *err)
{
    memset(out, 0, sizeof *out);
    const char *model = config_str(cfg, "openai.model");
    if (strlen(model) >= sizeof out->model)
        return pb_errf(err, PB_ERR_INVALID, "setting openai.model: longer than %zu bytes",
                       sizeof out->model - 1);
    snprintf(out->model, sizeof out->model, "%s", model);
    const char *sys = config_str(cfg, "openai.system");
    pb_status rc = parse_system(sys, strlen(sys), &out->system, "openai.system", err);
    out->emotion = config_bool(cfg, "openai.emotion");
    const char *list = config_str(cfg, "openai.experiments");
    for (const char *p = list; rc == PB_OK && *p;) {
        const char *q = strchr(p, ';');
        const char *e = q ? q : p + strlen(p), *s = p, *te = e;
        trim(&s, &te);
        if (te > s)
            rc = parse_entry(s, te, experiment, out, err);
        p = q ? q + 1 : e;
    }
    return rc;
}

pb_status oaiapi_check_config(const config *cfg, char *err)
{
    struct oaiapi_settings s;
    return oaiapi_settings_for(cfg, NULL, &s, err);
}

int oaiapi_impression_of(const char *id, int64_t *out)
{
    size_t n = strlen(COMPLETION_ID_PREFIX);
    if (!id || strncmp(id, COMPLETION_ID_PREFIX, n) != 0)
        return 0;
    const char *digits = id + n;
    if (!*digits || strlen(digits) > 18 || strspn(digits, "0123456789") != strlen(digits) ||
        digits[0] == '0')
        return 0;
    *out = strtoll(digits, NULL, 10);
    return 1;
}

/* ---- errors ---- */

/* {"error":{"message","type","param":null,"code"}} with status. */
static void oai_error(struct server_reply *reply, int status, const char *type, const char *code,
                      const char *message)
{
    server_reply_json(reply, status,
                      json_pack("{s:{s:s, s:s, s:n, s:s}}", "error", "message", message, "type",
                                type, "param", "code", code));
}

/* Whole seconds, rounded up (a client waits at least as long as asked). */
static void set_retry_after(struct server_reply *reply, double seconds)
{
    char v[32];
    snprintf(v, sizeof v, "%.0f", seconds < 1 ? 1.0 : ceil(seconds));
    server_reply_header(reply, "Retry-After", v);
}

/* An error found before the turn started (or a refused turn). */
static void status_error(struct server_request *req, struct server_reply *reply, pb_status rc,
                         const char *message)
{
    int had_token = server_req_header(req, "Authorization") != NULL;
    int status = server_http_status(rc, had_token);
    switch (status) {
    case 400:
        oai_error(reply, 400, "invalid_request_error", "invalid_request", message);
        break;
    case 401:
        oai_error(reply, 401, "authentication_error", "invalid_api_key", message);
        break;
    case 403:
        oai_error(reply, 403, "permission_error", "forbidden", message);
        break;
    case 404: /* the only 404 before a turn: the model names no live experiment */
        oai_error(reply, 404, "invalid_request_error", "model_not_found", message);
        break;
    case 409:
        oai_error(reply, 409, "invalid_request_error", "conflict", message);
        break;
    case 429: /* PB_ERR_LIMIT before the provider: the provider queue is full */
    case 503:
        oai_error(reply, 503, "service_unavailable",
                  rc == PB_ERR_LIMIT ? "overloaded" : "unavailable", message);
        if (rc == PB_ERR_LIMIT)
            set_retry_after(reply, 1);
        break;
    default:
        oai_error(reply, status, "server_error", pb_status_name(rc), message);
    }
}

/* A turn that failed at the provider (or in the store): 429 passed through, else as /v1/chat. */
static void turn_error(struct server_reply *reply, pb_status rc, const struct chatturn_out *out,
                       const char *err, double retry_after_s)
{
    if (out && out->upstream_status == 429) {
        oai_error(reply, 429, "rate_limit_error",
                  strstr(err, "quota") ? "insufficient_quota" : "rate_limit_exceeded", err);
        if (retry_after_s > 0)
            set_retry_after(reply, retry_after_s);
        return;
    }
    int status = rc == PB_ERR_FORBIDDEN ? 403 : server_http_status(rc, 1);
    const char *type = status == 502   ? "upstream_error"
                       : status == 503 ? "service_unavailable"
                       : status == 504 ? "timeout"
                                       : "server_error";
    oai_error(reply, status, type, pb_status_name(rc), err);
    if (retry_after_s > 0 && (status == 502 || status == 503))
        set_retry_after(reply, retry_after_s);
}

/* ---- the wire ---- */

struct oaireq {
    char id[48];
    char model[PIPELINE_ID_MAX + 16]; /* as echoed: "promptbandit/NAME" */
    json_int_t created;
    int include_usage;
};

static void set_headers(struct server_reply *reply, const struct chatturn_out *o)
{
    char v[32];
    snprintf(v, sizeof v, "%lld", (long long)o->impression_id);
    server_reply_header(reply, "X-Promptbandit-Impression", v);
    server_reply_header(reply, "X-Promptbandit-Arm", o->arm);
    server_reply_header(reply, "X-Promptbandit-Conversation", o->conversation_id);
}

static json_t *pb_json(const struct chatturn_out *o)
{
    return json_pack("{s:I, s:s, s:I, s:s, s:s}", "impression_id", (json_int_t)o->impression_id,
                     "arm", o->arm, "arm_id", (json_int_t)o->arm_id, "conversation_id",
                     o->conversation_id, "segment", o->segment);
}

static json_t *usage_json(const struct chatturn_out *o)
{
    return json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)o->prompt_tokens,
                     "completion_tokens", (json_int_t)o->completion_tokens, "total_tokens",
                     (json_int_t)(o->prompt_tokens + o->completion_tokens));
}

static const char *finish_reason(const struct chatturn_out *o)
{
    return o->finish_reason[0] ? o->finish_reason : "stop";
}

/* One "data: JSON\n\n" event appended to b; steals j. */
static void data_event(struct pb_buf *b, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return;
    pb_buf_append(b, "data: ", 6);
    pb_buf_append(b, text, strlen(text));
    pb_buf_append(b, "\n\n", 2);
    free(text);
}

/* A chat.completion.chunk with one choice (delta, finish reason or null), or with no choice
 * (choice NULL: the usage chunk). */
static json_t *chunk(const struct oaireq *r, json_t *choice)
{
    json_t *j =
        json_pack("{s:s, s:s, s:I, s:s, s:n, s:o}", "id", r->id, "object", "chat.completion.chunk",
                  "created", r->created, "model", r->model, "system_fingerprint", "choices",
                  choice ? json_pack("[o]", choice) : json_array());
    if (j && r->include_usage)
        json_object_set_new(j, "usage", json_null());
    return j;
}

static json_t *choice_json(json_t *delta, const char *finish)
{
    return json_pack("{s:i, s:o, s:n, s:o}", "index", 0, "delta", delta, "logprobs",
                     "finish_reason", finish ? json_string(finish) : json_null());
}

static void oai_stream_headers(struct server_reply *reply, const struct chatturn_out *first,
                               void *ud)
{
    (void)ud;
    set_headers(reply, first);
}

static void oai_stream_start(struct pb_buf *b, const struct chatturn_out *first, void *ud)
{
    struct oaireq *r = ud;
    json_t *j =
        chunk(r, choice_json(json_pack("{s:s, s:s}", "role", "assistant", "content", ""), NULL));
    if (j)
        json_object_set_new(j, "promptbandit", pb_json(first));
    data_event(b, j);
}

static void oai_stream_delta(struct pb_buf *b, const char *text, size_t len, void *ud)
{
    data_event(b, chunk(ud, choice_json(json_pack("{s:s%}", "content", text, len), NULL)));
}

static void oai_stream_end(struct pb_buf *b, pb_status rc, const struct chatturn_out *out,
                           const char *err, void *ud)
{
    struct oaireq *r = ud;
    if (rc != PB_OK) {
        int status = out && out->upstream_status == 429 ? 429 : server_http_status(rc, 1);
        data_event(b, json_pack("{s:{s:s, s:s, s:n, s:s, s:i}}", "error", "message", err, "type",
                                status == 429 ? "rate_limit_error" : "upstream_error", "param",
                                "code", pb_status_name(rc), "status", status));
        return;
    }
    data_event(b, chunk(r, choice_json(json_object(), finish_reason(out))));
    if (r->include_usage) {
        json_t *j = chunk(r, NULL);
        if (j)
            json_object_set_new(j, "usage", usage_json(out));
        data_event(b, j);
    }
    pb_buf_append(b, "data: [DONE]\n\n", 14);
}

static void oai_reply(struct server_reply *reply, pb_status rc, const struct chatturn_out *out,
                      const char *err, double retry_after_s, void *ud)
{
    struct oaireq *r = ud;
    if (!out) { /* refused at once: the provider queue is full */
        oai_error(reply, 503, "service_unavailable", "overloaded",
                  "too many chats are waiting for the provider; retry shortly");
        set_retry_after(reply, 1);
        return;
    }
    if (rc != PB_OK) {
        turn_error(reply, rc, out, err, retry_after_s);
        return;
    }
    json_t *msg = json_pack("{s:s, s:s, s:n}", "role", "assistant", "content",
                            out->reply ? out->reply : "", "refusal");
    json_t *choice = json_pack("{s:i, s:o, s:n, s:s}", "index", 0, "message", msg, "logprobs",
                               "finish_reason", finish_reason(out));
    server_reply_json(reply, 200,
                      json_pack("{s:s, s:s, s:I, s:s, s:n, s:[o], s:o, s:o}", "id", r->id, "object",
                                "chat.completion", "created", r->created, "model", r->model,
                                "system_fingerprint", "choices", choice, "usage", usage_json(out),
                                "promptbandit", pb_json(out)));
    set_headers(reply, out);
}

static const struct chathttp_wire oai_wire = {
    .stream_headers = oai_stream_headers,
    .stream_start = oai_stream_start,
    .stream_delta = oai_stream_delta,
    .stream_end = oai_stream_end,
    .reply = oai_reply,
    .timeout_event = "data: {\"error\":{\"message\":\"the answer did not finish within "
                     "server.request_timeout_s\",\"type\":\"timeout\",\"param\":null,\"code\":"
                     "\"timeout\",\"status\":504}}\n\n",
};

/* ---- the request ---- */

/* The experiment a model names, checked against the store: PB_OK with *name pointing into
 * model, or PB_ERR_NOT_FOUND with a message listing the models there are. */
static pb_status resolve_model(app *a, const char *model, const char **name, char *err)
{
    size_t n = strlen(OAIAPI_MODEL_PREFIX);
    const char *exp = strncmp(model, OAIAPI_MODEL_PREFIX, n) == 0 ? model + n : model;
    struct store_experiment e = {0};
    store *s = app_store_acquire(a, err);
    if (!s)
        return err[0] ? PB_ERR_DB : pb_errf(err, PB_ERR_NOMEM, "out of memory");
    pb_status rc = pipeline_check_experiment(exp, err) == PB_OK
                       ? store_experiment_get(s, exp, &e, err)
                       : PB_ERR_NOT_FOUND;
    if (rc == PB_OK && strcmp(e.kind, "live") != 0)
        rc = PB_ERR_NOT_FOUND;
    store_experiment_clear(&e);
    if (rc == PB_ERR_NOT_FOUND) {
        struct store_experiment *list = NULL;
        size_t count = 0, used = 0;
        char names[PB_ERR_LEN / 2] = "";
        if (store_experiment_list(s, &list, &count, err) == PB_OK)
            for (size_t i = 0; i < count; i++)
                if (strcmp(list[i].status, "active") == 0 && strcmp(list[i].kind, "live") == 0 &&
                    used < sizeof names)
                    used += (size_t)snprintf(names + used, sizeof names - used, "%s%s%s",
                                             used ? ", " : "", OAIAPI_MODEL_PREFIX, list[i].name);
        /* The list and the model are cut between characters, never inside one: the message
         * goes into a JSON string, which must be valid UTF-8 (names and models may be any). */
        size_t len = strlen(names);
        while (len > 0 && !text_utf8_valid(names, len))
            names[--len] = '\0';
        store_experiment_list_free(list, count);
        rc = pb_errf(err, PB_ERR_NOT_FOUND,
                     "the model '%.*s' does not exist: a model names a live experiment as "
                     "promptbandit/NAME; the models are: %s",
                     (int)text_utf8_prefix(model, strlen(model), 80), model,
                     names[0] ? names : "(none)");
    }
    app_store_release(a, s);
    *name = exp;
    return rc;
}

/* The text of a message's content: a string, or an array of {"type":"text","text"} parts
 * (joined); NULL with err set otherwise. Returns a new string. */
static char *content_text(const json_t *content, size_t index, char *err)
{
    if (json_is_string(content))
        return strdup(json_string_value(content));
    if (!json_is_array(content)) {
        pb_errf(err, PB_ERR_INVALID,
                "messages[%zu].content must be a string or an array of text parts", index);
        return NULL;
    }
    struct pb_buf b = {0};
    size_t i;
    json_t *part;
    json_array_foreach(content, i, part)
    {
        const char *type = json_string_value(json_object_get(part, "type"));
        const char *text = json_string_value(json_object_get(part, "text"));
        if (!type || strcmp(type, "text") != 0 || !text) {
            pb_buf_free(&b);
            pb_errf(err, PB_ERR_INVALID,
                    "messages[%zu].content[%zu]: only {\"type\": \"text\", \"text\": ...} parts "
                    "are supported",
                    index, i);
            return NULL;
        }
        pb_buf_append(&b, text, strlen(text));
    }
    pb_buf_append(&b, "", 1);
    return b.data ? b.data : strdup("");
}

void oaiapi_body_clear(struct oaiapi_body *b)
{
    json_decref(b->history);
    free(b->system);
    free(b->message);
    b->history = NULL;
    b->system = b->message = NULL;
}

pb_status oaiapi_parse_messages(const json_t *body, struct oaiapi_body *out, char *err)
{
    const json_t *messages = json_object_get(body, "messages");
    size_t n = json_array_size(messages), i;
    json_t *msg;
    oaiapi_body_clear(out);
    if (!json_is_array(messages) || n == 0)
        return pb_errf(err, PB_ERR_INVALID, "field 'messages' must be a non-empty array");
    if (!(out->history = json_array()))
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    struct pb_buf sys = {0};
    pb_status rc = PB_OK;
    json_array_foreach(messages, i, msg)
    {
        const char *role = json_string_value(json_object_get(msg, "role"));
        if (!json_is_object(msg) || !role) {
            rc = pb_errf(err, PB_ERR_INVALID, "messages[%zu] must be an object with a 'role'", i);
            break;
        }
        int system = strcmp(role, "system") == 0 || strcmp(role, "developer") == 0;
        if (!system && strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0) {
            rc = pb_errf(err, PB_ERR_INVALID,
                         "messages[%zu]: role '%.*s' is not supported (system, developer, user "
                         "and assistant are; tools are not)",
                         i, (int)text_utf8_prefix(role, strlen(role), 32), role);
            break;
        }
        char *text = content_text(json_object_get(msg, "content"), i, err);
        if (!text) {
            rc = PB_ERR_INVALID;
            break;
        }
        if (system) {
            if (sys.len)
                pb_buf_append(&sys, "\n\n", 2);
            pb_buf_append(&sys, text, strlen(text));
            free(text);
        } else if (i + 1 == n) {
            if (strcmp(role, "user") != 0) {
                free(text);
                rc = pb_errf(err, PB_ERR_INVALID, "the last message must be the user's");
                break;
            }
            out->message = text;
        } else {
            json_array_append_new(out->history,
                                  json_pack("{s:s, s:s}", "role", role, "content", text));
            free(text);
        }
    }
    if (rc == PB_OK && !out->message)
        rc = pb_errf(err, PB_ERR_INVALID, "the last message must be the user's");
    if (rc == PB_OK && sys.len) {
        pb_buf_append(&sys, "", 1);
        out->system = sys.data;
    } else {
        pb_buf_free(&sys);
    }
    return rc;
}

/* Fields that would change what a completion means and that the endpoint cannot honour. */
static pb_status check_unsupported(const json_t *body, char *err)
{
    static const char *const tools[] = {"tools", "functions"};
    for (size_t i = 0; i < N_ITEMS(tools); i++) {
        const json_t *v = json_object_get(body, tools[i]);
        if (v && !json_is_null(v) && !(json_is_array(v) && json_array_size(v) == 0))
            return pb_errf(err, PB_ERR_INVALID, "field '%s' is not supported", tools[i]);
    }
    const json_t *n = json_object_get(body, "n");
    if (n && !json_is_null(n) && !(json_is_integer(n) && json_integer_value(n) == 1))
        return pb_errf(err, PB_ERR_INVALID, "field 'n' must be 1 (one answer per turn)");
    return PB_OK;
}

pb_status oaiapi_parse_fields(const json_t *body, struct oaiapi_body *out, char *err)
{
    double temperature = -1;
    long long max_tokens = 0;
    pb_status rc;
    memset(out, 0, sizeof *out);
    if ((rc = jsonio_string(body, "model", 1, &out->model, err)) ||
        (rc = jsonio_bool(body, "stream", 0, &out->stream, err)) ||
        (rc = jsonio_string(body, "user", 0, &out->user, err)) ||
        (rc = jsonio_number(body, "temperature", 0, 0, 2, &temperature, err)) ||
        (rc = jsonio_integer(body, "max_tokens", 0, 1, OAIAPI_MAX_TOKENS, &max_tokens, err)) ||
        (rc = jsonio_integer(body, "max_completion_tokens", 0, 1, OAIAPI_MAX_TOKENS, &max_tokens,
                             err)) ||
        (rc = check_unsupported(body, err)))
        return rc;
    out->has_temperature = temperature >= 0;
    out->temperature = temperature;
    out->max_tokens = (int)max_tokens;
    const json_t *so = json_object_get(body, "stream_options");
    if (so && !json_is_null(so)) {
        if (!json_is_object(so))
            return pb_errf(err, PB_ERR_INVALID, "field 'stream_options' must be an object");
        if ((rc = jsonio_bool(so, "include_usage", 0, &out->include_usage, err)))
            return rc;
    }
    if (out->user && (rc = pipeline_check_id(out->user, "user", 0, err)))
        return rc;
    return PB_OK;
}

pb_status oaiapi_parse_body(const json_t *body, struct oaiapi_body *out, char *err)
{
    pb_status rc = oaiapi_parse_fields(body, out, err);
    return rc != PB_OK ? rc : oaiapi_parse_messages(body, out, err);
}

/* A conversation id standing for (user, experiment): "oai-" and 32 hex digits of a hash. */
static pb_status user_conversation(const char *user, const char *experiment, char *out, size_t len,
                                   char *err)
{
    char hex[HASH_HEX_LEN];
    size_t ul = strlen(user), el = strlen(experiment);
    char *key = malloc(ul + el + 2);
    if (!key)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    memcpy(key, user, ul);
    key[ul] = '\n';
    memcpy(key + ul + 1, experiment, el + 1);
    pb_status rc = hash_sha256_hex(key, ul + el + 1, hex);
    free(key);
    if (rc != PB_OK)
        return pb_errf(err, rc, "cannot hash the conversation id");
    snprintf(out, len, "oai-%.32s", hex);
    return PB_OK;
}

/* Reads the request into in (strings borrowed from body and b, ids into p). The body's own
 * checks come in two halves with the auth and model checks between them, as they always have:
 * a request for a model that is not there is a 404 whatever its messages hold. */
struct oai_parsed {
    char conversation[PIPELINE_ID_MAX + 1];
};

static pb_status parse_request(app *a, struct server_request *req, const json_t *body,
                               struct oaiapi_body *b, struct chatturn_in *in, struct oai_parsed *p,
                               struct oaiapi_settings *set, char *err)
{
    pb_status rc;
    if ((rc = oaiapi_parse_fields(body, b, err)))
        return rc;
    /* Who the turn belongs to: the user field, else the token's user, else "anonymous". */
    in->user_id = b->user ? b->user : server_req_user(req) ? server_req_user(req) : "anonymous";
    if ((rc = server_auth_user(req, in->user_id, err)))
        return rc;
    if ((rc = resolve_model(a, b->model, &in->experiment, err)) ||
        (rc = oaiapi_settings_for(app_config(a), in->experiment, set, err)) ||
        (rc = oaiapi_parse_messages(body, b, err)))
        return rc;
    if (b->system && set->system == OAIAPI_SYSTEM_REFUSE)
        return pb_errf(err, PB_ERR_INVALID,
                       "experiment %s does not take a system message (its arms' prompts are the "
                       "system message; openai.system is refuse)",
                       in->experiment);
    const char *conv = server_req_header(req, "X-Promptbandit-Conversation");
    if (conv) {
        if ((rc = pipeline_check_id(conv, "X-Promptbandit-Conversation", 1, err)))
            return rc;
        snprintf(p->conversation, sizeof p->conversation, "%s", conv);
        in->conversation_id = p->conversation;
    } else if (b->user) {
        if ((rc = user_conversation(b->user, in->experiment, p->conversation,
                                    sizeof p->conversation, err)))
            return rc;
        in->conversation_id = p->conversation;
    }
    in->message = b->message;
    in->history = b->history;
    in->system_extra = set->system == OAIAPI_SYSTEM_PREPEND ? b->system : NULL;
    in->model = set->model[0] ? set->model : NULL;
    in->plain_message = !set->emotion;
    in->has_temperature = b->has_temperature;
    in->temperature = b->temperature;
    in->max_tokens = b->max_tokens;
    return PB_OK;
}

static pb_status h_completions(struct server_request *req, struct server_reply *reply, void *ctx)
{
    app *a = ctx;
    struct chatturn_in in = {.consent = -1};
    struct chatturn_out first;
    struct oaiapi_body b = {0};
    struct oai_parsed p = {0};
    struct oaiapi_settings set;
    chatturn_job *job = NULL;
    json_t *body = NULL;
    pb_status rc = server_req_json(req, reply, &body);
    if (rc != PB_OK) { /* the core's 415 or 400 (reply->err: why), said the OpenAI way */
        const char *ct = server_req_header(req, "Content-Type");
        if (!ct || strncasecmp(ct, "application/json", 16) != 0)
            oai_error(reply, 415, "invalid_request_error", "unsupported_media_type",
                      "Content-Type must be application/json for this endpoint");
        else
            oai_error(reply, 400, "invalid_request_error", "invalid_json", reply->err);
        return PB_OK;
    }
    rc = parse_request(a, req, body, &b, &in, &p, &set, reply->err);
    if (rc == PB_OK &&
        (rc = chatturn_prepare(a, &in, &job, &first, reply->err)) == PB_ERR_FORBIDDEN) {
        /* the conversation is another user's (not an auth failure: the token was fine) */
        oai_error(reply, 403, "permission_error", "forbidden", reply->err);
        rc = PB_OK;
    } else if (rc == PB_OK) {
        struct oaireq *r = calloc(1, sizeof *r);
        if (!r) {
            chatturn_job_free(job);
            rc = pb_errf(reply->err, PB_ERR_NOMEM, "out of memory");
        } else {
            snprintf(r->id, sizeof r->id, COMPLETION_ID_PREFIX "%lld",
                     (long long)first.impression_id);
            snprintf(r->model, sizeof r->model, OAIAPI_MODEL_PREFIX "%s", in.experiment);
            r->created = (json_int_t)pb_now_wall();
            r->include_usage = b.stream && b.include_usage;
            rc = chathttp_run(a, req, reply, job, &first, b.stream, &oai_wire, r, free);
        }
    }
    if (rc != PB_OK)
        status_error(req, reply, rc, reply->err);
    oaiapi_body_clear(&b);
    json_decref(body);
    return PB_OK;
}

static pb_status h_models(struct server_request *req, struct server_reply *reply, void *ctx)
{
    struct store_experiment *list = NULL;
    size_t n = 0;
    (void)req;
    store *s = app_store_acquire(ctx, reply->err);
    pb_status rc = s ? store_experiment_list(s, &list, &n, reply->err) : PB_ERR_DB;
    app_store_release(ctx, s);
    if (rc != PB_OK) {
        status_error(req, reply, rc, reply->err);
        return PB_OK;
    }
    json_t *data = json_array();
    for (size_t i = 0; data && i < n; i++) {
        if (strcmp(list[i].status, "active") != 0 || strcmp(list[i].kind, "live") != 0)
            continue;
        char id[PIPELINE_ID_MAX + 16];
        snprintf(id, sizeof id, OAIAPI_MODEL_PREFIX "%s", list[i].name);
        json_array_append_new(data, json_pack("{s:s, s:s, s:I, s:s}", "id", id, "object", "model",
                                              "created", (json_int_t)list[i].created_at, "owned_by",
                                              "promptbandit"));
    }
    store_experiment_list_free(list, n);
    server_reply_json(reply, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
    return PB_OK;
}

static const struct server_route oaiapi_table[] = {
    {"POST", "/v1/chat/completions", h_completions, SERVER_USER},
    {"GET", "/v1/models", h_models, SERVER_USER},
};

const struct server_route *oaiapi_routes(size_t *n)
{
    *n = N_ITEMS(oaiapi_table);
    return oaiapi_table;
}
