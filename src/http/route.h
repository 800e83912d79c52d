/* route.h — URL path patterns with {param} segments, matched segment by segment. The server
 * keeps its routing table in this form; this module only matches strings. Pure: no
 * allocation, no I/O, no knowledge of HTTP beyond the HEAD-answers-GET rule. */
#ifndef ROUTE_H
#define ROUTE_H

#include <stddef.h>

#define ROUTE_MAX_PARAMS 4

/* Parameters of one match, pointing into the pattern (names) and the path (values). */
struct route_params {
    const char *names[ROUTE_MAX_PARAMS], *values[ROUTE_MAX_PARAMS];
    size_t name_lens[ROUTE_MAX_PARAMS], value_lens[ROUTE_MAX_PARAMS];
    size_t n;
};

/* 1 when path matches pattern ("/v1/arms/{id}/retire" matches "/v1/arms/7/retire" with
 * id=7), else 0; a {param} matches one non-empty segment. At most ROUTE_MAX_PARAMS params. */
int route_match(const char *pattern, const char *path, struct route_params *params);

/* 1 when a route registered for route_method answers method (HEAD is answered by GET), else
 * 0. */
int route_method_allows(const char *route_method, const char *method);

#endif
