/* promptbuf.c — the sticky-failure wrapper around pb_buf. No I/O. */
#include "judge/promptbuf.h"

#include <stdlib.h>
#include <string.h>

void promptbuf_add(struct promptbuf *b, const char *s, size_t n)
{
    if (!b->failed && pb_buf_append(&b->buf, s, n) != PB_OK)
        b->failed = true;
}

void promptbuf_str(struct promptbuf *b, const char *s)
{
    promptbuf_add(b, s, strlen(s));
}

char *promptbuf_take(struct promptbuf *b)
{
    char *text = b->failed ? NULL : b->buf.data;
    if (!text)
        pb_buf_free(&b->buf);
    memset(b, 0, sizeof *b);
    return text;
}

void promptbuf_free(struct promptbuf *b)
{
    pb_buf_free(&b->buf);
    b->failed = false;
}
