/* emoloop.h — the remote emotion classifier's event loop: one thread, one libcurl multi
 * handle, many classifier calls (a JSON POST each) in flight at once, so that a chat turn
 * waiting for its emotions holds no thread. Owns admission (at most `concurrency` transfers
 * running, `queue_max` waiting behind them; a submit past that is refused at once), a deadline
 * per call, and shutdown (every call still waiting or running ends with PB_ERR_UNAVAILABLE).
 * It knows nothing of labels or answers' shapes (emohttp parses) and nothing of the LLM
 * provider, which has its own loop (llm/llmloop.h). Callbacks run on the loop's thread and
 * must not block. */
#ifndef EMOLOOP_H
#define EMOLOOP_H

#include <stddef.h>

#include "base/pb.h"

typedef struct emoloop emoloop;

/* Starts the loop's thread. concurrency <= 0: 16; queue_max < 0: 256. max_body: the largest
 * answer accepted (a larger one ends the call with PB_ERR_LIMIT). PB_ERR_NOMEM / PB_ERR_IO when
 * the multi handle or the thread cannot be made. */
pb_status emoloop_new(int concurrency, int queue_max, size_t max_body, emoloop **out, char *err);

/* Ends every call still waiting or running (done gets PB_ERR_UNAVAILABLE "... shutting
 * down", on the loop's thread), joins the thread and frees the loop. NULL is allowed. Must not
 * be called from a done callback. */
void emoloop_free(emoloop *l);

/* The end of one call, exactly once, on the loop's thread: rc PB_OK with the HTTP status and
 * the answer's body (valid during the call only) when the server answered at all — the status
 * may be an error one, the caller decides; else PB_ERR_TIMEOUT (deadline), PB_ERR_UNAVAILABLE
 * (connection, shutdown) or PB_ERR_LIMIT (answer too large), with err saying why. */
typedef void emoloop_done_fn(pb_status rc, long status, const char *body, size_t len,
                             const char *err, void *ud);

/* POSTs body (copied) as application/json to url, giving up after timeout_ms (which bounds the
 * time waiting for a slot too). Returns at once; done runs later on the loop's thread — possibly
 * before this returns, so set up whatever done needs first. PB_ERR_LIMIT when concurrency +
 * queue_max calls are already unfinished, PB_ERR_UNAVAILABLE once the loop is stopping: then done
 * is never called. */
pb_status emoloop_submit(emoloop *l, const char *url, const char *body, long timeout_ms,
                         emoloop_done_fn *done, void *ud, char *err);

struct emoloop_stats {
    long in_flight, queued, refused;
};
void emoloop_stats_get(emoloop *l, struct emoloop_stats *out);

#endif
