/* sse_harness.h — Server-Sent Events for the service's tests: POST with Accept:
 * text/event-stream (optionally going away once "event: start" arrived), the JSON of one
 * named event, and the deltas added up. Header-only; include after svc_harness.h. */
#ifndef SSE_HARNESS_H
#define SSE_HARNESS_H

#include "svc_harness.h"

struct sse {
    struct pb_buf text;
    int abort_after_start; /* 1: the write callback fails once "event: start" arrived */
};

static inline size_t sse_collect(char *p, size_t size, size_t n, void *ud)
{
    struct sse *s = ud;
    pb_buf_append(&s->text, p, size * n);
    if (s->abort_after_start && s->text.data && strstr(s->text.data, "event: start"))
        return 0; /* curl closes the connection: the client went away */
    return size * n;
}

/* POSTs body to path with Accept: text/event-stream; the raw answer (caller frees) and status. */
static inline int sse_post(const struct svc *s, const char *path, const char *body,
                           int abort_after_start, char **text)
{
    char url[256];
    struct sse out = {.abort_after_start = abort_after_start};
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "Accept: text/event-stream");
    snprintf(url, sizeof url, "%s%s", s->url, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sse_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    long status = 0;
    curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    pb_buf_append(&out.text, "", 1);
    *text = out.text.data;
    return (int)status;
}

/* The JSON of the first "event: NAME" block of an SSE text (caller decrefs), or NULL. */
static inline json_t *sse_event_json(const char *text, const char *name)
{
    char want[64];
    snprintf(want, sizeof want, "event: %s\ndata: ", name);
    const char *at = strstr(text, want);
    if (!at)
        return NULL;
    at += strlen(want);
    const char *end = strstr(at, "\n\n");
    return end ? json_loadb(at, (size_t)(end - at), 0, NULL) : NULL;
}

/* Every delta's text, concatenated (caller frees). */
static inline char *sse_deltas(const char *text)
{
    struct pb_buf all = {0};
    const char *at = text;
    while ((at = strstr(at, "event: delta\ndata: "))) {
        at += strlen("event: delta\ndata: ");
        const char *end = strstr(at, "\n\n");
        json_t *j = end ? json_loadb(at, (size_t)(end - at), 0, NULL) : NULL;
        const char *t = json_string_value(json_object_get(j, "text"));
        if (t)
            pb_buf_append(&all, t, strlen(t));
        json_decref(j);
    }
    pb_buf_append(&all, "", 1);
    return all.data;
}

#endif
