/* llmsse.h — the streaming answer of Chat Completions (`"stream": true`), without a socket:
 * Server-Sent Events framing (lines ending in LF, CRLF or CR, `data:` fields of one event joined
 * by LF, comments and other fields skipped, an event dispatched at its blank line) and what each
 * event means (a chat.completion.chunk with choices[0].delta.content and finish_reason, the
 * usage chunk of stream_options.include_usage, an error object, `[DONE]`). Bytes are fed as they
 * arrive, cut anywhere; deltas are handed on at once. Pure functions on a caller-owned parser
 * (jansson): it must not do I/O, sleep, log or know libcurl, and its messages never hold the key.
 * Fuzzable on a byte buffer. */
#ifndef LLMSSE_H
#define LLMSSE_H

#include <stddef.h>

#include "base/pb.h"
#include "llm/llm.h"

/* One event may be this much longer than the text limit (the JSON around a delta). */
#define LLMSSE_EVENT_SLACK 65536

/* A piece of answer text (UTF-8, not NUL-terminated, valid during the call only). */
typedef void llmsse_delta_fn(const char *text, size_t len, void *ud);

/* One stream's parse state. Fields are private to llmsse.c except those marked. */
struct llmsse {
    struct pb_buf line; /* the current line, without its end */
    struct pb_buf data; /* data: fields of the current event, joined by LF */
    struct pb_buf text; /* every delta so far (readable: the answer up to now) */
    char *finish_reason;
    long prompt_tokens, completion_tokens;
    size_t limit;         /* largest answer text and largest event, in bytes */
    const char *key;      /* borrowed; redacted from provider messages */
    int has_data;         /* the current event has a data: field */
    int is_error;         /* the current event is named "error" */
    int cr;               /* the last byte fed was CR (an LF right after it ends no new line) */
    int done;             /* `data: [DONE]` seen; later bytes are ignored */
    int at_end;           /* llmsse_finish is dispatching what was left */
    pb_status failed;     /* the first error of a feed; later feeds return it again */
    char why[PB_ERR_LEN]; /* its message */
    long deltas;          /* readable: non-empty deltas handed on */
};

/* Starts a parser: limit 0 means LLM_MAX_RESPONSE_BYTES; key (may be NULL) is borrowed and
 * removed from any provider message the parser repeats. */
void llmsse_init(struct llmsse *p, size_t limit, const char *key);

/* Feeds len bytes of the stream. Each non-empty content delta goes to on_delta (may be NULL) in
 * order. Errors (the first one sticks): PB_ERR_PROVIDER for a data payload that is not JSON or
 * has wrong types, or an error event / error object from the provider (its message in err);
 * PB_ERR_LIMIT when the text or one event passes the limit; PB_ERR_NOMEM. */
pb_status llmsse_feed(struct llmsse *p, const char *data, size_t len, llmsse_delta_fn *on_delta,
                      void *ud, char *err);

/* Ends the stream (the transfer finished cleanly). An event left without its blank line is
 * dispatched first (a `data: [DONE]` without it is fine; a cut chunk is truncation). PB_OK when
 * `[DONE]` was seen and some text came: r->text (the whole answer), r->finish_reason (NULL when
 * none came) and the token counts are set (r->text and r->finish_reason must be NULL on entry;
 * caller frees through llm_response_clear). Otherwise PB_ERR_PROVIDER: "truncated stream"
 * without `[DONE]`, "empty answer" without text, or the feed's sticky error. */
pb_status llmsse_finish(struct llmsse *p, llmsse_delta_fn *on_delta, void *ud,
                        struct llm_response *r, char *err);

/* Frees the parser's buffers (safe twice, and on a parser only zeroed). */
void llmsse_free(struct llmsse *p);

#endif
