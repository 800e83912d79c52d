/* convapi.h — the chat page's history endpoints: a user's stored (consented) conversations and
 * one conversation's messages for its owner, so a reload shows what was said. Handlers parse
 * the query, check the caller may act as the user (server_auth_user) and that the conversation
 * is theirs, and answer JSON from store/dashq.h. Only consented conversations have stored
 * messages; nothing here reads memory-only histories, and nothing writes. */
#ifndef CONVAPI_H
#define CONVAPI_H

#include <jansson.h>
#include <stddef.h>

#include "base/pb.h"
#include "http/server.h"
#include "store/dashq.h"

#define CONVAPI_LIST_MAX     50  /* conversations listed */
#define CONVAPI_MESSAGES_MAX 200 /* newest messages of a conversation returned */

/* The messages of a conversation (oldest first) and the rewards of its impressions as the
 * page's messages: [{role: "user", text, emotions, created_at} | {role: "assistant", text,
 * impression_id, arm, created_at, feedback: {source: value}}]. A stored user message is
 * "sentence ;; emotion" (what the LLM saw): only the sentence is returned. A regenerated turn
 * stores its user message again; the repeat is left out. NULL when out of memory. */
json_t *convapi_messages_json(const struct dashq_message *msgs, size_t n,
                              const struct dashq_turn_reward *rewards, size_t n_rewards);

/* GET /v1/conversations?user_id=U and GET /v1/conversations/{id}?user_id=U (SERVER_USER;
 * user_id may be left out when the request carries the user's token). Handlers expect the app
 * (app.h) as their `app` pointer. Static table; *n gets its length. */
const struct server_route *convapi_routes(size_t *n);

#endif
