/* chathttp.h — the HTTP handlers of the chat turn (POST /v1/chat and
 * /v1/chat/{impression_id}/regenerate): JSON in, the turn prepared on the handler's thread, its
 * reply deferred or streamed as Server-Sent Events ("stream": true or Accept:
 * text/event-stream) while the provider loop and the writer finish it; no thread waits. Events
 * of a stream: "start" (arm, emotions, segment, conversation and impression ids), "delta"
 * ({"text"}), then "done" (finish reason, usage, the whole reply) or "error". The deferral and
 * streaming machinery (chathttp_run) is shared with other wire formats through struct
 * chathttp_wire (the OpenAI-compatible endpoint, oaiapi.h). No SQL, no provider calls: it
 * calls chatturn. */
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

/* How a chat endpoint writes a turn on the wire: /v1/chat's own events and JSON, or another
 * protocol (oaiapi.h). The handoff, deferral, streaming and cancellation are chathttp's, the same
 * for every wire. Each function appends to b or fills reply; ud is the request's (chathttp_run).
 * stream_* run on the provider loop's or the writer's thread, in order (start, deltas, end), and
 * must not block. */
struct chathttp_wire {
    /* Headers of a stream's response, set before it opens (may be NULL). */
    void (*stream_headers)(struct server_reply *reply, const struct chatturn_out *first, void *ud);
    void (*stream_start)(struct pb_buf *b, const struct chatturn_out *first, void *ud);
    void (*stream_delta)(struct pb_buf *b, const char *text, size_t len, void *ud);
    /* The stream's last bytes: rc PB_OK with out complete, else the error (nothing stored). */
    void (*stream_end)(struct pb_buf *b, pb_status rc, const struct chatturn_out *out,
                       const char *err, void *ud);
    /* A non-streaming answer: rc PB_OK with out complete, else the failure (retry_after_s: the
     * provider's Retry-After or 0). out is NULL when the turn was refused at once (rc
     * PB_ERR_LIMIT: too many chats wait for the provider). */
    void (*reply)(struct server_reply *reply, pb_status rc, const struct chatturn_out *out,
                  const char *err, double retry_after_s, void *ud);
    const char *timeout_event; /* a stream's last bytes at the deadline */
};

/* Submits a prepared turn and defers or streams its answer through wire (static); ud (may be
 * NULL) is freed with ud_free once both sides are done, on every path. The turn's errors
 * found at once go to reply through wire->reply. Returns PB_OK, or an error the core answers
 * (out of memory). */
pb_status chathttp_run(app *a, struct server_request *req, struct server_reply *reply,
                       chatturn_job *job, const struct chatturn_out *first, int stream,
                       const struct chathttp_wire *wire, void *ud, void (*ud_free)(void *));

#endif
