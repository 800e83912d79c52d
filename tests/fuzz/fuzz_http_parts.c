/* fuzz_http_parts.c — what the HTTP layer reads from a request before any handler: the path
 * matched against the service's whole route table (route_match, as httpreq.c's route_find
 * does), the Authorization header (httpauth_bearer) and the user token list from the
 * configuration (httpauth_new, "user:token,..."). The input is split at its first NUL: path,
 * then header / token list. Matches never give more parameters than the pattern has. */
#include "http/httpauth.h"
#include "http/route.h"
#include "http/server.h"
#include "service/api.h"
#include "base/pb.h"
#include "fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct server_route *routes;
    static size_t n_routes;
    char err[PB_ERR_LEN];
    if (!routes && api_routes_new(&routes, &n_routes, err) != PB_OK)
        abort();
    char *s = fuzz_cstr(data, size);
    if (!s)
        return 0;
    size_t first = strlen(s);
    const char *rest = first < size ? s + first + 1 : "";
    for (size_t i = 0; i < n_routes; i++) {
        struct route_params p;
        if (route_match(routes[i].pattern, s, &p)) {
            if (p.n > ROUTE_MAX_PARAMS)
                abort();
            for (size_t k = 0; k < p.n; k++)
                if (p.value_lens[k] == 0 || memchr(p.values[k], '/', p.value_lens[k]))
                    abort();
        }
        (void)route_method_allows(routes[i].method, s);
    }
    const char *token = httpauth_bearer(rest);
    httpauth *a = NULL;
    if (httpauth_new("admin-secret", rest, &a, err) == PB_OK) {
        (void)httpauth_check_user(a, token, "alice", 0, err);
        (void)httpauth_check_admin(a, token, err);
        (void)httpauth_user_of(a, "tok");
        httpauth_free(a);
    }
    free(s);
    return 0;
}
