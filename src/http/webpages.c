/* webpages.c — built-in page routes: route pattern or {name} to an embedded web/ file. */
#include "http/webpages.h"

#include "base/embedded.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *webpages_content_type(const char *name)
{
    static const char *const types[][2] = {
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcasecmp(dot, types[i][0]) == 0)
            return types[i][1];
    return "application/octet-stream";
}

pb_status webpages_serve(struct server_request *req, struct server_reply *reply, void *app)
{
    (void)app;
    char name[300];
    const char *file = server_req_param(req, "name");
    if (file)
        snprintf(name, sizeof name, "web/%s", file);
    else
        snprintf(name, sizeof name, "web/%s.html",
                 strcmp(server_req_route(req), "/") == 0 ? "index" : "admin");
    /* Only exact names of embedded files match, so "../" in {name} finds nothing. */
    const struct embedded_file *f = embedded_find(name);
    if (!f)
        return pb_errf(reply->err, PB_ERR_NOT_FOUND, "no such page");
    server_reply_static(reply, 200, webpages_content_type(name), f->data, f->len);
    return PB_OK;
}
