/* route.c — segment-by-segment matching of path patterns. */
#include "http/route.h"

#include <string.h>

int route_match(const char *pattern, const char *path, struct route_params *params)
{
    params->n = 0;
    while (*pattern == '/' && *path == '/') {
        const char *ps = ++pattern, *qs = ++path;
        while (*pattern && *pattern != '/')
            pattern++;
        while (*path && *path != '/')
            path++;
        size_t plen = (size_t)(pattern - ps), qlen = (size_t)(path - qs);
        if (plen >= 2 && ps[0] == '{' && ps[plen - 1] == '}') {
            if (qlen == 0 || params->n == ROUTE_MAX_PARAMS)
                return 0;
            params->names[params->n] = ps + 1;
            params->name_lens[params->n] = plen - 2;
            params->values[params->n] = qs;
            params->value_lens[params->n++] = qlen;
        } else if (plen != qlen || strncmp(ps, qs, plen) != 0) {
            return 0;
        }
    }
    return *pattern == '\0' && *path == '\0';
}

int route_method_allows(const char *route_method, const char *method)
{
    return strcmp(route_method, method) == 0 ||
           (strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0);
}
