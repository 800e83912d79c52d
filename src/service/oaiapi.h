/* oaiapi.h — the OpenAI-compatible endpoint: POST /v1/chat/completions (streamed or not) and
 * GET /v1/models, so an application written against an OpenAI client library gets prompt
 * optimisation by changing its base URL, key and model. It maps the OpenAI request onto one chat
 * turn (chatturn.h: the model names the experiment, the client's messages are the history, the
 * arm's prompt becomes the system message) and the turn back onto the OpenAI wire (a
 * chat.completion, or chat.completion.chunk events ending with data: [DONE]; errors as
 * {"error":{"message","type","param","code"}}), through chathttp's deferral and streaming. It
 * owns the openai.* settings (docs/CONFIG.md). No SQL beyond the experiment look-ups of the
 * store family, no provider calls: it calls chatturn and chathttp. */
#ifndef OAIAPI_H
#define OAIAPI_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "base/pb.h"
#include "http/server.h"

/* The prefix of the model names that name experiments ("promptbandit/default"). */
#define OAIAPI_MODEL_PREFIX "promptbandit/"

enum oaiapi_system { OAIAPI_SYSTEM_REPLACE, OAIAPI_SYSTEM_PREPEND, OAIAPI_SYSTEM_REFUSE };

/* The settings of one experiment behind the endpoint: openai.model / openai.system /
 * openai.emotion, overridden by the experiment's entry in openai.experiments. */
struct oaiapi_settings {
    char model[128]; /* the upstream model; "" = llm.model */
    enum oaiapi_system system;
    int emotion; /* 1: the user message goes out as "message ;; emotion" */
};

/* The settings of experiment (whose entry of openai.experiments applies, if any).
 * PB_ERR_INVALID naming the faulty setting when openai.* does not parse. */
pb_status oaiapi_settings_for(const config *cfg, const char *experiment,
                              struct oaiapi_settings *out, char *err);
/* Checks every openai.* setting once at start-up (the same errors). */
pb_status oaiapi_check_config(const config *cfg, char *err);

/* The largest max_tokens (and max_completion_tokens) a request may ask for. */
#define OAIAPI_MAX_TOKENS 1000000

/* What a POST /v1/chat/completions body says, read without the app or the request (so a test
 * or a fuzzer can check it alone). Strings marked borrowed point into the body. */
struct oaiapi_body {
    const char *model;         /* borrowed; always set once the fields pass */
    const char *user;          /* borrowed; NULL when absent, else a valid id (pipeline_check_id) */
    int stream, include_usage; /* include_usage: stream_options.include_usage */
    int has_temperature;
    double temperature; /* in [0, 2] when has_temperature */
    int max_tokens;     /* 0 = not set, else 1..OAIAPI_MAX_TOKENS (max_completion_tokens wins) */
    /* Owned, set by the messages half: the user and assistant messages before the last, as
     * [{"role": "user"|"assistant", "content": string}]; the system and developer messages'
     * text joined by blank lines (NULL when there is none); the last message, the user's. */
    json_t *history;
    char *system;
    char *message;
};

/* The body's fields other than messages: model, stream, stream_options, user, temperature,
 * max_tokens / max_completion_tokens, and the fields the endpoint refuses (tools, functions,
 * n other than 1). Zeroes out first. PB_ERR_INVALID naming the field. */
pb_status oaiapi_parse_fields(const json_t *body, struct oaiapi_body *out, char *err);
/* The messages, into out's history, system and message (text parts joined). PB_ERR_INVALID
 * naming the message (not an array, unknown role, non-text content, last not the user's). */
pb_status oaiapi_parse_messages(const json_t *body, struct oaiapi_body *out, char *err);
/* Both halves in order. The handler runs its auth and model checks between the two (a missing
 * model is a 404 whatever the messages hold); a body this passes is one the handler takes. */
pb_status oaiapi_parse_body(const json_t *body, struct oaiapi_body *out, char *err);
/* Frees what the messages half set; call it after either half whatever it returned (a zeroed
 * or cleared struct is fine, twice is fine). */
void oaiapi_body_clear(struct oaiapi_body *b);

/* The impression id a completion id ("chatcmpl-pb-123") carries: 1 and *out set, else 0. */
int oaiapi_impression_of(const char *completion_id, int64_t *out);

/* The endpoint's routes (POST /v1/chat/completions, GET /v1/models). */
const struct server_route *oaiapi_routes(size_t *n);

#endif
