/* httpresp.h — a handler's struct server_reply turned into a libmicrohttpd response: the body
 * (JSON serialised, static data without a copy, an owned buffer handed over) and the headers
 * every answer carries (Content-Type, nosniff, Cache-Control; CSP, frame and referrer policies
 * on HTML; WWW-Authenticate on 401; Connection: close while stopping; the handler's own); and
 * the one rule of who frees what a reply holds. Split out of server.c; it must not queue, count
 * or log anything (httpreq does). */
#ifndef HTTPRESP_H
#define HTTPRESP_H

#include "http/server.h"

#include <microhttpd.h>
#include <stddef.h>

/* Builds the response for reply, whose status is decided; *len gets the body's size. An owned
 * body moves into the response (reply->body becomes NULL); the caller still releases reply.
 * closing adds "Connection: close"; a reply without a content type gets
 * application/octet-stream. NULL when out of memory. The caller destroys the response. */
struct MHD_Response *httpresp_build(struct server_reply *reply, int closing, size_t *len);

/* Adds the same headers to a stream's response (resp built by the caller around a content
 * reader): head gives status, content type and the handler's headers; text/event-stream also
 * gets Cache-Control: no-cache and X-Accel-Buffering: no. */
void httpresp_stream_headers(struct server_reply *head, int closing, struct MHD_Response *resp);

/* Frees the reply's body (JSON, or an owned buffer; a static body is only forgotten) and leaves
 * it without one; the setters of server.h call it before they set a new body. */
void httpresp_clear_body(struct server_reply *reply);

/* Frees everything reply still holds (body and headers); reply is not reused afterwards. */
void httpresp_release(struct server_reply *reply);

#endif
