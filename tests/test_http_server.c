/* test_http_server.c — the HTTP core end to end, in process (so ASan sees both sides): a
 * server on a free port with a few test routes, driven by libcurl and by raw sockets for the
 * abusive clients (trickling bodies and headers, too many connections). Assertions count
 * bytes, statuses and connections — never wall time. */
#include "check.h"
#include "base/jsonio.h"
#include "http/server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- test application ---- */

struct app {
    atomic_int echo_calls;
    atomic_int slow_started;
};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* POST /echo: parses the JSON body and answers {"message": ...}. */
static int h_echo(struct server_request *req, struct server_reply *reply, void *app_)
{
    struct app *app = app_;
    json_t *body = NULL;
    const char *message = NULL;
    atomic_fetch_add(&app->echo_calls, 1);
    int rc = server_req_json(req, reply, &body);
    if (rc != PB_OK)
        return rc;
    rc = jsonio_check_fields(body, (const char *const[]){"message"}, 1, reply->err);
    if (rc == PB_OK)
        rc = jsonio_string(body, "message", 1, &message, reply->err);
    if (rc == PB_OK)
        server_reply_json(reply, 200, json_pack("{s:s}", "message", message));
    json_decref(body);
    return rc;
}

static int h_item(struct server_request *req, struct server_reply *reply, void *app)
{
    server_reply_json(reply, 200, json_pack("{s:s}", "id", server_req_param(req, "id")));
    return PB_OK;
}

static int h_fail(struct server_request *req, struct server_reply *reply, void *app)
{
    const char *kind = server_req_param(req, "kind");
    if (strcmp(kind, "conflict") == 0)
        return pb_errf(reply->err, PB_ERR_CONFLICT, "arm 'B' already exists");
    return pb_errf(reply->err, PB_ERR_DB, "sqlite: disk I/O error at /secret/path.db");
}

static int h_slow(struct server_request *req, struct server_reply *reply, void *app_)
{
    struct app *app = app_;
    const char *ms = server_req_query(req, "ms");
    atomic_store(&app->slow_started, 1);
    sleep_ms(ms ? atol(ms) : 700); /* long enough for server_stop to begin while this runs */
    server_reply_json(reply, 200, json_pack("{s:b}", "done", 1));
    return PB_OK;
}

static int h_ok(struct server_request *req, struct server_reply *reply, void *app)
{
    server_reply_json(reply, 200, json_pack("{s:s?}", "user", server_req_user(req)));
    return PB_OK;
}

static int health_hook(json_t *status, void *app, char *err)
{
    json_object_set_new(status, "arms", json_integer(4));
    return PB_OK;
}

static const struct server_route routes[] = {
    {"POST", "/echo", h_echo, 0},
    {"GET", "/v1/items/{id}", h_item, 0},
    {"DELETE", "/v1/items/{id}", h_item, 0},
    {"GET", "/fail/{kind}", h_fail, 0},
    {"GET", "/slow", h_slow, 0},
    {"GET", "/admin-only", h_ok, SERVER_ADMIN},
    {"GET", "/chat", h_ok, SERVER_USER},
    {"DELETE", "/v1/users/{user_id}", h_ok, SERVER_OWNER},
};

static struct app the_app;
static config *cfg;

/* Starts a server on a free port with the given settings on top of test defaults. */
static server *start(const char *const (*settings)[2], size_t n)
{
    char err[PB_ERR_LEN];
    server *s = NULL;
    config_free(cfg);
    CHECK_INT(config_defaults(&cfg, err), PB_OK);
    config_set(cfg, "server.port", "0", err);
    config_set(cfg, "server.threads", "2", err);
    config_set(cfg, "server.access_log", "", err);
    config_set(cfg, "server.max_body_bytes", "1024", err);
    config_set(cfg, "server.request_timeout_s", "1", err);
    for (size_t i = 0; i < n; i++)
        if (config_set(cfg, settings[i][0], settings[i][1], err) != PB_OK)
            fprintf(stderr, "setting: %s\n", err);
    struct server_options opt = {
        routes, sizeof routes / sizeof routes[0], &the_app, NULL, health_hook, NULL};
    if (server_new(cfg, &opt, &s, err) != PB_OK || server_start(s, err) != PB_OK) {
        fprintf(stderr, "cannot start the server: %s\n", err);
        exit(2);
    }
    return s;
}

/* ---- libcurl client ---- */

struct response {
    long status;
    char body[8192];
    size_t len;
    char allow[128], content_type[128], csp[512], nosniff[32], cache[64], www_auth[64];
};

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
    struct response *r = userp;
    size_t k = size * n, room = sizeof r->body - 1 - r->len;
    memcpy(r->body + r->len, data, k < room ? k : room);
    r->len += k < room ? k : room;
    r->body[r->len] = '\0';
    return k;
}

static void header_copy(CURL *h, const char *name, char *out, size_t n)
{
    struct curl_header *hdr = NULL;
    out[0] = '\0';
    if (curl_easy_header(h, name, 0, CURLH_HEADER, -1, &hdr) == CURLHE_OK)
        snprintf(out, n, "%s", hdr->value);
}

static CURL *client; /* one handle: requests reuse the keep-alive connection, in order */

/* Sends one request; extra is a NULL-terminated list of header lines (may be NULL). */
static struct response *http(server *s, const char *method, const char *path,
                             const char *const *extra, const char *body, long body_len)
{
    static struct response r;
    char url[512];
    struct curl_slist *headers = NULL;
    memset(&r, 0, sizeof r);
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", server_port(s), path);
    curl_easy_reset(client);
    curl_easy_setopt(client, CURLOPT_URL, url);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(client, CURLOPT_NOBODY, 1L);
    else
        curl_easy_setopt(client, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(client, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(client, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(client, CURLOPT_TIMEOUT, 30L);
    if (body) {
        curl_easy_setopt(client, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(client, CURLOPT_POSTFIELDSIZE, body_len);
    }
    for (size_t i = 0; extra && extra[i]; i++)
        headers = curl_slist_append(headers, extra[i]);
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(client, CURLOPT_HTTPHEADER, headers);
    CURLcode cc = curl_easy_perform(client);
    if (cc != CURLE_OK)
        fprintf(stderr, "curl %s %s: %s\n", method, path, curl_easy_strerror(cc));
    curl_easy_getinfo(client, CURLINFO_RESPONSE_CODE, &r.status);
    header_copy(client, "Allow", r.allow, sizeof r.allow);
    header_copy(client, "Content-Type", r.content_type, sizeof r.content_type);
    header_copy(client, "Content-Security-Policy", r.csp, sizeof r.csp);
    header_copy(client, "X-Content-Type-Options", r.nosniff, sizeof r.nosniff);
    header_copy(client, "Cache-Control", r.cache, sizeof r.cache);
    header_copy(client, "WWW-Authenticate", r.www_auth, sizeof r.www_auth);
    curl_slist_free_all(headers);
    return &r;
}

static const char *const JSON_CT[] = {"Content-Type: application/json", NULL};

/* The "code" and "message" of a standard error body ("" when it is not one). */
static void error_of(const struct response *r, char *code, char *message)
{
    json_t *root = json_loads(r->body, 0, NULL);
    const char *c = "", *m = "";
    json_unpack(root, "{s:{s:s,s:s}}", "error", "code", &c, "message", &m);
    snprintf(code, 64, "%s", c);
    snprintf(message, PB_ERR_LEN, "%s", m);
    json_decref(root);
}

/* ---- raw sockets ---- */

static int raw_connect(server *s)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)server_port(s))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads what the server sends within wait_ms: >0 bytes, 0 = closed, -1 = nothing yet. */
static int raw_read(int fd, char *buf, size_t n, int wait_ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, wait_ms) <= 0)
        return -1;
    ssize_t got = recv(fd, buf, n - 1, 0);
    if (got < 0)
        return 0; /* reset counts as closed */
    buf[got] = '\0';
    return (int)got;
}

/* Sends head, then one byte of filler every 100 ms (at most max_bytes) until the server
 * answers or closes. Returns the filler bytes sent; *reply gets what the server said. */
static int trickle(server *s, const char *head, int max_bytes, char *reply, size_t n)
{
    int fd = raw_connect(s), sent = 0;
    reply[0] = '\0';
    send(fd, head, strlen(head), MSG_NOSIGNAL);
    for (; sent < max_bytes; sent++) {
        int got = raw_read(fd, reply, n, 100);
        if (got >= 0)
            break;
        if (send(fd, "a", 1, MSG_NOSIGNAL) != 1)
            break;
    }
    close(fd);
    return sent;
}

/* ---- tests ---- */

static void test_unknown_path_is_404_and_wrong_method_is_405_with_allow(void)
{
    server *s = start(NULL, 0);
    char code[64], msg[PB_ERR_LEN];
    struct response *r = http(s, "GET", "/nope", NULL, NULL, 0);
    CHECK_INT(r->status, 404);
    error_of(r, code, msg);
    CHECK_STR(code, "not_found");
    r = http(s, "POST", "/v1/items/7", NULL, NULL, 0);
    CHECK_INT(r->status, 405);
    CHECK_STR(r->allow, "GET, HEAD, DELETE");
    CHECK_INT(http(s, "HEAD", "/v1/items/7", NULL, NULL, 0)->status, 200);
    r = http(s, "GET", "/v1/items/%EA%B0%80", NULL, NULL, 0);
    CHECK_INT(r->status, 200);
    CHECK_STR(r->body, "{\"id\":\"가\"}");
    CHECK_INT(http(s, "GET", "/v1/items/%FF", NULL, NULL, 0)->status, 400); /* not UTF-8 */
    server_free(s);
}

static void test_too_large_body_is_413_and_handler_never_runs(void)
{
    server *s = start(NULL, 0);
    char big[4096];
    memset(big, 'x', sizeof big);
    atomic_store(&the_app.echo_calls, 0);
    struct response *r = http(s, "POST", "/echo", JSON_CT, big, sizeof big);
    CHECK_INT(r->status, 413);
    char code[64], msg[PB_ERR_LEN];
    error_of(r, code, msg);
    CHECK_STR(code, "limit");
    /* Chunked upload: no Content-Length to refuse up front; counted while it streams. */
    const char *const chunked[] = {"Content-Type: application/json", "Transfer-Encoding: chunked",
                                   NULL};
    r = http(s, "POST", "/echo", chunked, big, sizeof big);
    CHECK_INT(r->status, 413);
    CHECK_INT(atomic_load(&the_app.echo_calls), 0);
    server_free(s);
}

/* Table: body, expected status, expected message (prefix). */
static const struct {
    const char *body;
    int status;
    const char *message;
} json_cases[] = {
    {"{\"message\":\"\xff\"}", 400, "body is not valid UTF-8"},
    {"{\"message\": ", 400, "invalid JSON at line 1, column"},
    {"[1,2]", 400, "body must be a JSON object"},
    {"", 400, "body is empty"},
    {"{\"message\": 5}", 400, "field 'message' must be a string"},
    {"{}", 400, "missing field 'message'"},
    {"{\"message\":\"hi\",\"mesage\":\"x\"}", 400, "unknown field 'mesage'"},
    {"{\"message\":\"a\",\"message\":\"b\"}", 400, "invalid JSON"},
    {"{\"message\":\"안녕\"}", 200, NULL},
};

static void test_json_body_errors_have_the_standard_shape(void)
{
    server *s = start(NULL, 0);
    for (size_t i = 0; i < sizeof json_cases / sizeof json_cases[0]; i++) {
        struct response *r =
            http(s, "POST", "/echo", JSON_CT, json_cases[i].body, (long)strlen(json_cases[i].body));
        char code[64], msg[PB_ERR_LEN];
        error_of(r, code, msg);
        if (r->status != json_cases[i].status)
            fprintf(stderr, "json case %zu: %s\n", i, r->body);
        CHECK_INT(r->status, json_cases[i].status);
        if (json_cases[i].message) {
            CHECK_STR(code, "invalid");
            CHECK(strncmp(msg, json_cases[i].message, strlen(json_cases[i].message)) == 0);
        }
    }
    struct response *r =
        http(s, "POST", "/echo", (const char *const[]){"Content-Type: text/plain", NULL}, "{}", 2);
    CHECK_INT(r->status, 415);
    server_free(s);
}

static void test_handler_errors_map_to_statuses_without_leaking_internals(void)
{
    server *s = start(NULL, 0);
    char code[64], msg[PB_ERR_LEN];
    struct response *r = http(s, "GET", "/fail/conflict", NULL, NULL, 0);
    CHECK_INT(r->status, 409);
    error_of(r, code, msg);
    CHECK_STR(code, "conflict");
    CHECK_STR(msg, "arm 'B' already exists");
    r = http(s, "GET", "/fail/db", NULL, NULL, 0);
    CHECK_INT(r->status, 500);
    error_of(r, code, msg);
    CHECK_STR(msg, "internal error");
    CHECK(strstr(r->body, "secret") == NULL);
    CHECK_INT(server_http_status(PB_ERR_FORBIDDEN, 0), 401);
    CHECK_INT(server_http_status(PB_ERR_FORBIDDEN, 1), 403);
    CHECK_INT(server_http_status(PB_ERR_LIMIT, 1), 429);
    CHECK_INT(server_http_status(PB_ERR_UNAVAILABLE, 1), 503);
    CHECK_INT(server_http_status(PB_ERR_PROVIDER, 1), 502);
    CHECK_INT(server_http_status(PB_ERR_TIMEOUT, 1), 504);
    CHECK_INT(server_http_status(PB_ERR_NOT_FOUND, 1), 404);
    CHECK_INT(server_http_status(PB_ERR_NOMEM, 1), 500);
    server_free(s);
}

static void test_trickled_body_is_cut_by_the_request_deadline(void)
{
    server *s = start(NULL, 0);
    char reply[512];
    /* 1 s deadline, a byte per 100 ms: the 200-byte body would take 20 s. */
    int sent = trickle(s,
                       "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                       "Content-Length: 200\r\n\r\n",
                       200, reply, sizeof reply);
    CHECK(sent < 200);
    CHECK(strncmp(reply, "HTTP/1.1 408", 12) == 0);
    server_free(s);
}

static void test_trickled_headers_are_cut_by_the_request_deadline(void)
{
    server *s = start(NULL, 0);
    char reply[512];
    int sent = trickle(s, "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ", 200, reply, sizeof reply);
    CHECK(sent < 200);
    CHECK(strncmp(reply, "HTTP/1.1 408", 12) == 0);
    server_free(s);
}

static void test_per_ip_connection_limit_refuses_the_extra_connection(void)
{
    const char *const settings[][2] = {{"server.per_ip_connections", "3"},
                                       {"server.request_timeout_s", "60"}};
    server *s = start(settings, 2);
    const char *get = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    int fds[4], answered = 0;
    char buf[2048];
    for (int i = 0; i < 4; i++) {
        fds[i] = raw_connect(s);
        send(fds[i], get, strlen(get), MSG_NOSIGNAL);
        if (raw_read(fds[i], buf, sizeof buf, 5000) > 0 && strncmp(buf, "HTTP/1.1 200", 12) == 0)
            answered++;
    }
    CHECK_INT(answered, 3);
    for (int i = 0; i < 4; i++)
        close(fds[i]);
    server_free(s);
}

static void test_admin_auth_missing_401_wrong_403_right_200(void)
{
    const char *const settings[][2] = {{"server.admin_token", "s3cret-admin"}};
    server *s = start(settings, 1);
    struct response *r = http(s, "GET", "/admin-only", NULL, NULL, 0);
    CHECK_INT(r->status, 401);
    CHECK_STR(r->www_auth, "Bearer");
    r = http(s, "GET", "/admin-only", (const char *const[]){"Authorization: Bearer nope", NULL},
             NULL, 0);
    CHECK_INT(r->status, 403);
    CHECK(strstr(r->body, "s3cret") == NULL);
    r = http(s, "GET", "/admin-only",
             (const char *const[]){"Authorization: Bearer s3cret-admin", NULL}, NULL, 0);
    CHECK_INT(r->status, 200);
    server_free(s);
}

static void test_user_tokens_open_chat_and_owner_routes(void)
{
    const char *const settings[][2] = {{"server.user_tokens", "alice:ta, bob:tb"},
                                       {"server.open_chat", "false"}};
    server *s = start(settings, 2);
    const char *const alice[] = {"Authorization: Bearer ta", NULL};
    CHECK_INT(http(s, "GET", "/chat", NULL, NULL, 0)->status, 401);
    struct response *r = http(s, "GET", "/chat", alice, NULL, 0);
    CHECK_INT(r->status, 200);
    CHECK_STR(r->body, "{\"user\":\"alice\"}");
    CHECK_INT(http(s, "DELETE", "/v1/users/alice", alice, NULL, 0)->status, 200);
    CHECK_INT(http(s, "DELETE", "/v1/users/bob", alice, NULL, 0)->status, 403);
    server_free(s);
    /* Open chat lets anonymous chat in, but never erasure of someone's data. */
    const char *const open[][2] = {{"server.open_chat", "true"}};
    s = start(open, 1);
    CHECK_INT(http(s, "GET", "/chat", NULL, NULL, 0)->status, 200);
    CHECK_INT(http(s, "DELETE", "/v1/users/alice", NULL, NULL, 0)->status, 401);
    server_free(s);
}

static void test_metrics_count_requests_by_route_method_status(void)
{
    server *s = start(NULL, 0);
    http(s, "GET", "/v1/items/1", NULL, NULL, 0);
    http(s, "GET", "/v1/items/2", NULL, NULL, 0);
    http(s, "GET", "/nope", NULL, NULL, 0);
    /* A request is counted in the completion callback, which libmicrohttpd may run just after
     * the client has its answer (an early 404 closes the connection): wait until the counts
     * settle, a bounded number of scrapes. */
    const char *settled = "\npb_http_requests_total{route=\"unmatched\",method=\"GET\","
                          "status=\"404\"} 1\n";
    struct response *r = http(s, "GET", "/metrics", NULL, NULL, 0);
    for (int i = 0; i < 100 && (!strstr(r->body, settled) ||
                                !strstr(r->body, "\npb_http_requests_in_flight 1\n"));
         i++) {
        usleep(20000);
        r = http(s, "GET", "/metrics", NULL, NULL, 0);
    }
    CHECK_INT(r->status, 200);
    CHECK_STR(r->content_type, "text/plain; version=0.0.4; charset=utf-8");
    CHECK(strstr(r->body, "# TYPE pb_http_requests_total counter\n") != NULL);
    CHECK(strstr(r->body, "\npb_http_requests_total{route=\"/v1/items/{id}\",method=\"GET\","
                          "status=\"200\"} 2\n") != NULL);
    CHECK(strstr(r->body, "\npb_http_requests_total{route=\"unmatched\",method=\"GET\","
                          "status=\"404\"} 1\n") != NULL);
    CHECK(strstr(r->body, "\npb_http_request_duration_seconds_count{route=\"/v1/items/{id}\","
                          "method=\"GET\",status=\"200\"} 2\n") != NULL);
    CHECK(strstr(r->body, "\npb_http_requests_in_flight 1\n") != NULL); /* this request */
    server_free(s);
}

static void test_healthz_reports_status_version_uptime_and_app_fields(void)
{
    server *s = start(NULL, 0);
    struct response *r = http(s, "GET", "/healthz", NULL, NULL, 0);
    CHECK_INT(r->status, 200);
    CHECK_STR(r->cache, "no-store");
    CHECK_STR(r->nosniff, "nosniff");
    json_t *root = json_loads(r->body, 0, NULL);
    CHECK_STR(json_string_value(json_object_get(root, "status")), "ok");
    CHECK_STR(json_string_value(json_object_get(root, "version")), PB_VERSION);
    CHECK(json_is_integer(json_object_get(root, "uptime_s")));
    CHECK_INT(json_integer_value(json_object_get(root, "arms")), 4);
    json_decref(root);
    server_free(s);
}

/* True when the body is the project file rel, as far as struct response holds bodies. */
static int is_source_file(const struct response *r, const char *rel)
{
    char *data = NULL, err[PB_ERR_LEN];
    size_t len = 0, held = sizeof r->body - 1;
    if (pb_read_file(check_source_path(rel), 1u << 20, &data, &len, err) != PB_OK) {
        fprintf(stderr, "%s\n", err);
        return 0;
    }
    int same = r->len == (len < held ? len : held) && memcmp(r->body, data, r->len) == 0;
    free(data);
    return same;
}

static void test_static_page_has_content_type_and_csp(void)
{
    server *s = start(NULL, 0);
    struct response *r = http(s, "GET", "/static/index.html", NULL, NULL, 0);
    CHECK_INT(r->status, 200);
    CHECK_STR(r->content_type, "text/html; charset=utf-8");
    CHECK(strstr(r->csp, "default-src 'self'") != NULL);
    CHECK_STR(r->cache, "no-cache");
    CHECK(is_source_file(r, "web/index.html"));
    CHECK_INT(http(s, "GET", "/static/missing.js", NULL, NULL, 0)->status, 404);
    CHECK_INT(http(s, "GET", "/static/..%2Fdb%2F001_init.sql", NULL, NULL, 0)->status, 404);
    server_free(s);
}

static void test_chat_admin_and_static_routes_serve_the_real_pages(void)
{
    static const struct {
        const char *path, *file, *content_type;
        int html;
    } pages[] = {
        {"/", "web/index.html", "text/html; charset=utf-8", 1},
        {"/admin", "web/admin.html", "text/html; charset=utf-8", 1},
        {"/static/style.css", "web/style.css", "text/css; charset=utf-8", 0},
        {"/static/chat.js", "web/chat.js", "text/javascript; charset=utf-8", 0},
    };
    server *s = start(NULL, 0);
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        struct response *r = http(s, "GET", pages[i].path, NULL, NULL, 0);
        CHECK_INT(r->status, 200);
        CHECK_STR(r->content_type, pages[i].content_type);
        CHECK_STR(r->nosniff, "nosniff");
        CHECK_INT(r->csp[0] != '\0', pages[i].html); /* the CSP goes with HTML only */
        CHECK(is_source_file(r, pages[i].file));
    }
    CHECK_INT(http(s, "GET", "/static/test_fixture.html", NULL, NULL, 0)->status, 404);
    server_free(s);
}

static void test_access_log_lines_name_the_route_not_the_path_or_query(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/access.log", check_tmpdir());
    const char *const settings[][2] = {{"server.access_log", path}};
    server *s = start(settings, 1);
    http(s, "GET", "/v1/items/user42?token=hunter2", NULL, NULL, 0);
    server_free(s);
    char line[1024] = "";
    FILE *f = fopen(path, "r");
    CHECK(f && fgets(line, sizeof line, f));
    if (f)
        fclose(f);
    json_t *root = json_loads(line, 0, NULL);
    CHECK_STR(json_string_value(json_object_get(root, "route")), "/v1/items/{id}");
    CHECK_INT(json_integer_value(json_object_get(root, "status")), 200);
    CHECK_STR(json_string_value(json_object_get(root, "ip")), "127.0.0.1");
    CHECK(strstr(line, "hunter2") == NULL && strstr(line, "user42") == NULL);
    json_decref(root);
}

static void test_a_slow_handler_is_not_cut_by_the_request_deadline(void)
{
    server *s = start(NULL, 0); /* request deadline 1 s */
    struct response *r = http(s, "GET", "/slow?ms=1500", NULL, NULL, 0);
    CHECK_INT(r->status, 200);
    CHECK_STR(r->body, "{\"done\":true}");
    server_free(s);
}

struct slow_call {
    server *s;
    long status;
};

static void *slow_client(void *arg)
{
    struct slow_call *call = arg;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/slow", server_port(call->s));
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    struct response r = {0};
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &call->status);
    curl_easy_cleanup(h);
    return NULL;
}

static void test_graceful_stop_lets_an_in_flight_request_finish(void)
{
    server *s = start(NULL, 0);
    int port = server_port(s);
    struct slow_call call = {s, 0};
    pthread_t t;
    atomic_store(&the_app.slow_started, 0);
    pthread_create(&t, NULL, slow_client, &call);
    for (int i = 0; i < 1000 && !atomic_load(&the_app.slow_started); i++)
        sleep_ms(5);
    CHECK(atomic_load(&the_app.slow_started));
    CHECK_INT(server_stop(s, 30), PB_OK);
    pthread_join(t, NULL);
    CHECK_INT(call.status, 200);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) != 0); /* no longer listening */
    close(fd);
    server_free(s);
}

struct signal_call {
    int port;
    long status;
};

static void *signal_client(void *arg)
{
    struct signal_call *call = arg;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", call->port);
    CURL *h = curl_easy_init();
    struct response r = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    for (int i = 0; i < 500 && call->status != 200; i++) {
        if (curl_easy_perform(h) == CURLE_OK)
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &call->status);
        else
            sleep_ms(10);
    }
    curl_easy_cleanup(h);
    kill(getpid(), SIGTERM);
    return NULL;
}

/* A free port picked by the kernel (closed again; the server binds it right after). */
static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_sigterm_stops_run_until_signal_cleanly(void)
{
    char err[PB_ERR_LEN], port[16];
    struct signal_call call = {free_port(), 0};
    snprintf(port, sizeof port, "%d", call.port);
    server *s = NULL;
    config_free(cfg);
    config_defaults(&cfg, err);
    config_set(cfg, "server.port", port, err);
    config_set(cfg, "server.access_log", "", err);
    struct server_options opt = {routes, 1, &the_app, NULL, NULL, NULL};
    CHECK_INT(server_new(cfg, &opt, &s, err), PB_OK);
    /* Blocked here first so the client thread, which inherits the mask, cannot take it. */
    sigset_t term, old;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &term, &old);
    pthread_t t;
    pthread_create(&t, NULL, signal_client, &call);
    CHECK_INT(server_run_until_signal(s, err), PB_OK);
    pthread_join(t, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    CHECK_INT(call.status, 200);
    server_free(s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    client = curl_easy_init();
    RUN(test_unknown_path_is_404_and_wrong_method_is_405_with_allow);
    RUN(test_too_large_body_is_413_and_handler_never_runs);
    RUN(test_json_body_errors_have_the_standard_shape);
    RUN(test_handler_errors_map_to_statuses_without_leaking_internals);
    RUN(test_trickled_body_is_cut_by_the_request_deadline);
    RUN(test_trickled_headers_are_cut_by_the_request_deadline);
    RUN(test_per_ip_connection_limit_refuses_the_extra_connection);
    RUN(test_admin_auth_missing_401_wrong_403_right_200);
    RUN(test_user_tokens_open_chat_and_owner_routes);
    RUN(test_metrics_count_requests_by_route_method_status);
    RUN(test_healthz_reports_status_version_uptime_and_app_fields);
    RUN(test_static_page_has_content_type_and_csp);
    RUN(test_chat_admin_and_static_routes_serve_the_real_pages);
    RUN(test_access_log_lines_name_the_route_not_the_path_or_query);
    RUN(test_a_slow_handler_is_not_cut_by_the_request_deadline);
    RUN(test_graceful_stop_lets_an_in_flight_request_finish);
    RUN(test_sigterm_stops_run_until_signal_cleanly);
    curl_easy_cleanup(client);
    curl_global_cleanup();
    config_free(cfg);
    CHECK_DONE();
}
