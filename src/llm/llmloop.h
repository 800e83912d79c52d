/* llmloop.h — the provider event loop: one thread, one libcurl multi handle, many chat
 * completions in flight at once, each submitted from any thread and finished through a callback
 * (and, streamed, delta by delta). Owns admission (llm.concurrency transfers in flight, at most
 * llm.queue_max calls waiting behind them; a submit past that is refused at once), per-call
 * deadlines that bound every attempt, backoff and Retry-After, cancellation, and shutdown. The
 * retry policy and the wire format are the client's (llm.h). It knows nothing of HTTP servers,
 * stores or prompts: whoever submits decides what a result means. It must not log or block in a
 * callback, and no message it writes holds the key. */
#ifndef LLMLOOP_H
#define LLMLOOP_H

#include <stddef.h>

#include "base/config.h"
#include "base/pb.h"
#include "llm/llm.h"

typedef struct llm_loop llm_loop;

struct llm_loop_options {
    int concurrency; /* transfers in flight at once (llm.concurrency); <= 0: 64 */
    int queue_max;   /* calls waiting behind them (llm.queue_max); a submit past it is refused;
                      * < 0: 256; 0: no waiting room */
};

/* llm.concurrency and llm.queue_max from the settings. */
void llm_loop_options_from_config(const config *cfg, struct llm_loop_options *out);

/* Starts the loop's thread (all signals blocked in it). The client c (borrowed, outlives the
 * loop) gives base URL, key, model, timeouts, retries and the answer size limit.
 * PB_ERR_NOMEM / PB_ERR_IO when the multi handle, epoll or the thread cannot be made. */
pb_status llm_loop_new(llm_client *c, const struct llm_loop_options *o, llm_loop **out, char *err);

/* Refuses new calls, finishes every call still waiting or in flight with on_done
 * (PB_ERR_UNAVAILABLE "... shutting down"), from the loop's thread, then joins it and frees
 * the loop. NULL is allowed. Must not be called from a handler. */
void llm_loop_free(llm_loop *l);

struct llm_call; /* opaque: one submitted request */

struct llm_call_handlers {
    /* Streaming calls only (may be NULL): each non-empty text delta in order, from the loop
     * thread; text is not NUL-terminated and valid during the call only. Must not block. */
    void (*on_delta)(const char *text, size_t len, void *ud);
    /* Exactly once per accepted call, from the loop thread. resp is valid during the call only
     * (copy what you keep); for a stream resp->text is the whole answer. On failure err says
     * why (HTTP status and the provider's message, never the key; "" on success) and
     * resp->http_status / resp->retry_after_s / resp->attempts tell what the provider said.
     * Must not block: hand work on (writer, server_defer_finish). May call llm_loop_submit. */
    void (*on_done)(pb_status rc, const struct llm_response *resp, const char *err, void *ud);
    void *ud;
};

/* Submits a call: req is serialised at once (it may be freed on return). deadline is absolute
 * monotonic time (pb_now_monotonic() scale; <= 0: none beyond the client's per-attempt
 * timeouts and retries): no attempt, backoff or Retry-After wait goes past it — a delay longer
 * than what is left ends the call now with the last attempt's error (PB_ERR_PROVIDER for a
 * 429/503, with resp->retry_after_s set when the provider sent one; PB_ERR_TIMEOUT after a
 * timeout), and a call still waiting for a slot at its deadline ends with PB_ERR_TIMEOUT.
 * stream != 0 asks the provider for `"stream": true` with stream_options.include_usage and
 * hands each delta to on_delta; a failure before the first delta may be retried, after it
 * never. Returns at once, on_done not called, nothing queued: PB_ERR_LIMIT when concurrency +
 * queue_max calls are already accepted and unfinished; PB_ERR_UNAVAILABLE once the loop is
 * stopping; PB_ERR_INVALID for a request with no messages or text that is not UTF-8. *out (may
 * be NULL) is the handle for llm_loop_cancel, set before the loop can see the call. Once
 * accepted, on_done may run (on the loop thread) before this returns: set up whatever it
 * needs first. */
pb_status llm_loop_submit(llm_loop *l, const struct llm_request *req, double deadline, int stream,
                          const struct llm_call_handlers *h, struct llm_call **out, char *err);

/* Asks the loop to drop a call (client gone, request timed out): its transfer is stopped and
 * its on_done still comes, with PB_ERR_TIMEOUT "LLM call cancelled", or with the real result
 * if it had already finished. Safe from any thread (and from on_done), any number of times, but
 * only while that call's on_done has not returned: the call is freed right after it. A caller
 * whose cancel can race on_done keeps the handle under its own lock, clears it there in on_done,
 * and cancels only under that lock while the handle is set (tests/test_llm_loop.c shows it). */
void llm_loop_cancel(llm_loop *l, struct llm_call *call);

struct llm_loop_stats {
    long in_flight; /* transfers running now */
    long queued;    /* accepted calls not running: waiting for a slot or out a retry delay */
    long refused;   /* submits refused with PB_ERR_LIMIT since the start */
    long completed; /* calls finished with PB_OK */
    long failed;    /* calls finished with an error (cancelled and shut down included) */
};
void llm_loop_stats_get(llm_loop *l, struct llm_loop_stats *out);

#endif
