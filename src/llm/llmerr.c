/* llmerr.c — provider error answers into short, safe messages: JSON error fields (jansson),
 * quota detection, key redaction, control characters blanked, a UTF-8-safe cut. */
#include "llm/llmerr.h"

#include "base/text.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void llmerr_redact(char *s, size_t cap, const char *secret)
{
    size_t n = secret ? strlen(secret) : 0;
    if (n == 0 || cap == 0)
        return;
    /* Rebuilt into a copy and scanned left to right only, so a key that contains '*' (or
     * "***" itself) cannot make the replacement match again. */
    char *out = malloc(cap);
    if (!out) {
        s[0] = '\0'; /* better no message than one that may hold the key */
        return;
    }
    size_t o = 0;
    const char *p = s;
    while (*p && o + 1 < cap) {
        if (strncmp(p, secret, n) == 0) {
            for (int i = 0; i < 3 && o + 1 < cap; i++)
                out[o++] = '*';
            p += n;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    memcpy(s, out, o + 1);
    free(out);
}

/* Copies a provider message into out, key removed, control characters blanked, cut to
 * LLMERR_MSG_CHARS characters without splitting one. */
static void provider_text(const char *text, size_t len, const char *key, char *out, size_t cap)
{
    char *copy = malloc(len + 1);
    if (!copy) {
        snprintf(out, cap, "(message dropped: out of memory)");
        return;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    llmerr_redact(copy, len + 1, key);
    size_t n = strlen(copy);
    if (!text_utf8_valid(copy, n)) {
        snprintf(out, cap, "(%zu bytes, not UTF-8 text)", n);
        free(copy);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)copy[i] < 0x20 || copy[i] == 0x7f)
            copy[i] = ' ';
    size_t keep = text_utf8_prefix(copy, n, LLMERR_MSG_CHARS);
    if (keep >= cap)
        keep = text_utf8_prefix(copy, cap - 4, cap - 4);
    snprintf(out, cap, "%.*s%s", (int)keep, copy, keep < n ? "..." : "");
    free(copy);
}

void llmerr_describe(const char *body, size_t len, const char *key, char *msg, size_t cap,
                     int *is_quota)
{
    json_t *root = json_loadb(body ? body : "", len, 0, NULL);
    json_t *e = json_object_get(root, "error");
    const char *text = NULL, *code = NULL, *type = NULL;
    *is_quota = 0;
    if (json_is_object(e)) {
        text = json_string_value(json_object_get(e, "message"));
        code = json_string_value(json_object_get(e, "code"));
        type = json_string_value(json_object_get(e, "type"));
    } else if (json_is_string(e)) {
        text = json_string_value(e);
    } else if (json_is_object(root)) {
        text = json_string_value(json_object_get(root, "message"));
    }
    if ((code && !strcmp(code, "insufficient_quota")) ||
        (type && !strcmp(type, "insufficient_quota")) ||
        (text && strstr(text, "exceeded your current quota")))
        *is_quota = 1;
    if (text)
        provider_text(text, strlen(text), key, msg, cap);
    else if (len > 0)
        provider_text(body, len, key, msg, cap);
    else
        snprintf(msg, cap, "(no error message)");
    json_decref(root);
}
