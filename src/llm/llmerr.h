/* llmerr.h — what the LLM client may say about a provider's failure: the provider's own
 * message taken from an error answer, whether that answer reports an exhausted quota, and the
 * API key removed from any text. Pure string work on borrowed buffers. It must not do I/O or
 * logging, and knows nothing of HTTP statuses (llmwire does), retries or requests (llm does). */
#ifndef LLMERR_H
#define LLMERR_H

#include <stddef.h>

/* Provider messages are cut to this many characters (not bytes), "..." marking the cut. */
#define LLMERR_MSG_CHARS 160

/* Replaces every occurrence of secret (NULL or "" = none) in s, a NUL-terminated string in a
 * buffer of cap bytes, by "***", cutting the tail when it would not fit. */
void llmerr_redact(char *s, size_t cap, const char *secret);

/* Writes into msg (cap bytes) the message of an error answer body of len bytes (need not be
 * NUL-terminated; NULL when len is 0): error.message, a bare "error" string, a top-level
 * "message", else an excerpt of the raw body; one line, UTF-8, key redacted. *is_quota is set
 * when the answer says the quota is exhausted, which no retry can fix. */
void llmerr_describe(const char *body, size_t len, const char *key, char *msg, size_t cap,
                     int *is_quota);

#endif
