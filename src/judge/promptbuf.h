/* promptbuf.h — the text buffer the judge and the proposer assemble LLM prompts in: a pb_buf
 * whose first failed append sticks, so a prompt is built without a check per piece and an
 * out-of-memory never yields a silently truncated prompt. Owns its bytes until taken. Knows
 * nothing of what it holds: the delimiting of judged text is judge's, templates are
 * propose's. */
#ifndef PROMPTBUF_H
#define PROMPTBUF_H

#include <stdbool.h>
#include <stddef.h>

#include "base/pb.h"

/* Start from {0}. */
struct promptbuf {
    struct pb_buf buf;
    bool failed; /* an append ran out of memory; later appends do nothing */
};

/* Appends n bytes of s, or s up to its NUL (promptbuf_str); no-ops once an append failed. */
void promptbuf_add(struct promptbuf *b, const char *s, size_t n);
void promptbuf_str(struct promptbuf *b, const char *s);

/* The text (caller frees), or NULL when an append failed or nothing was appended; either way
 * b is empty again afterwards. */
char *promptbuf_take(struct promptbuf *b);
void promptbuf_free(struct promptbuf *b);

#endif
