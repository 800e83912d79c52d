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

/* The impression id a completion id ("chatcmpl-pb-123") carries: 1 and *out set, else 0. */
int oaiapi_impression_of(const char *completion_id, int64_t *out);

/* The endpoint's routes (POST /v1/chat/completions, GET /v1/models). */
const struct server_route *oaiapi_routes(size_t *n);

#endif
