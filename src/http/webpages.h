/* webpages.h — the pages the service serves from its own binary: GET / (web/index.html), GET
 * /admin (web/admin.html) and GET /static/NAME (web/NAME), with content types by extension.
 * Split out of server.c; a plain route handler on server.h's public API that the server core
 * registers as a built-in route. It must not read the disk (pages are compiled in, see
 * embedded.h) nor know what the pages do (chat, dashboard data come from the API). */
#ifndef WEBPAGES_H
#define WEBPAGES_H

#include "base/pb.h"
#include "http/server.h"

/* Content type for a file name by extension ("text/html; charset=utf-8", ...), matched without
 * regard to case; "application/octet-stream" when the extension is unknown. */
const char *webpages_content_type(const char *name);

/* server_handler for "/", "/admin" and "/static/{name}": the embedded file as a static reply
 * (no copy), or PB_ERR_NOT_FOUND with "no such page". app is unused. */
pb_status webpages_serve(struct server_request *req, struct server_reply *reply, void *app);

#endif
