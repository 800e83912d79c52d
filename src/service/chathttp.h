/* chathttp.h — the HTTP handlers of the chat turn (POST /v1/chat and
 * /v1/chat/{impression_id}/regenerate): JSON in, the turn prepared on the handler's thread, its
 * reply deferred or streamed as Server-Sent Events ("stream": true or Accept:
 * text/event-stream) while the provider loop and the writer finish it; no thread waits. Events
 * of a stream: "start" (arm, emotions, segment, conversation and impression ids), "delta"
 * ({"text"}), then "done" (finish reason, usage, the whole reply) or "error". No SQL, no
 * provider calls: it calls chatturn. */
#ifndef CHATHTTP_H
#define CHATHTTP_H

#include <jansson.h>
#include <stdint.h>

#include "base/pb.h"
#include "http/server.h"
#include "service/chatturn.h"

pb_status chathttp_chat(struct server_request *req, struct server_reply *reply, void *ctx);
pb_status chathttp_regenerate(struct server_request *req, struct server_reply *reply, void *ctx);

/* The /v1/chat answer for a finished turn (regenerated: the old impression id, or 0). */
json_t *chathttp_turn_json(const struct chatturn_out *o, int64_t regenerated);

#endif
