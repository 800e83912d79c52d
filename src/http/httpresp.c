/* httpresp.c — reply body to MHD_Response (who frees what), the standard headers, releasing a
 * reply. */
#include "http/httpresp.h"

#include <stdlib.h>
#include <string.h>

/* Pages load only their own scripts, styles and data; nothing may frame them. */
static const char CSP[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
                          "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

static void add_standard_headers(struct server_reply *reply, int closing, struct MHD_Response *resp)
{
    if (!reply->content_type)
        reply->content_type = "application/octet-stream";
    int sse = strncmp(reply->content_type, "text/event-stream", 17) == 0;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, reply->content_type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                            reply->body_static || sse ? "no-cache" : "no-store");
    if (sse) /* a buffering proxy in front would hold the events back */
        MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    if (strncmp(reply->content_type, "text/html", 9) == 0) {
        MHD_add_response_header(resp, "Content-Security-Policy", CSP);
        MHD_add_response_header(resp, "X-Frame-Options", "DENY");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    }
    if (reply->status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (closing)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    for (size_t off = 0; off < reply->headers_len;) {
        const char *name = reply->headers + off, *value = name + strlen(name) + 1;
        MHD_add_response_header(resp, name, value);
        off = (size_t)(value + strlen(value) + 1 - reply->headers);
    }
}

/* The reply's body as a libmicrohttpd response (NULL when out of memory). */
static struct MHD_Response *response_body(struct server_reply *reply, size_t *len)
{
    struct MHD_Response *resp = NULL;
    if (reply->json) {
        char *text = json_dumps(reply->json, JSON_COMPACT);
        *len = text ? strlen(text) : 0;
        if (text)
            resp = MHD_create_response_from_buffer(*len, text, MHD_RESPMEM_MUST_FREE);
        if (text && !resp)
            free(text);
        return resp;
    }
    *len = reply->body_len;
    if (reply->body_static)
        return MHD_create_response_from_buffer(*len, reply->body, MHD_RESPMEM_PERSISTENT);
    resp = MHD_create_response_from_buffer(*len, reply->body, MHD_RESPMEM_MUST_FREE);
    if (resp)
        reply->body = NULL; /* the response frees it now */
    return resp;
}

struct MHD_Response *httpresp_build(struct server_reply *reply, int closing, size_t *len)
{
    struct MHD_Response *resp = response_body(reply, len);
    if (resp)
        add_standard_headers(reply, closing, resp);
    return resp;
}

void httpresp_stream_headers(struct server_reply *head, int closing, struct MHD_Response *resp)
{
    add_standard_headers(head, closing, resp);
}

void httpresp_clear_body(struct server_reply *reply)
{
    json_decref(reply->json);
    reply->json = NULL;
    if (!reply->body_static)
        free(reply->body);
    reply->body = NULL;
    reply->body_len = 0;
    reply->body_static = 0;
}

void httpresp_release(struct server_reply *reply)
{
    httpresp_clear_body(reply);
    free(reply->headers);
    reply->headers = NULL;
    reply->headers_len = 0;
}
