/* soakload.c — the soak's load and sampler: C client threads run a mixed load against the
 * service for a set time (chats, feedback on the impressions they got, choose, dashboard reads,
 * now and then the erasure of a user they chatted as), each pausing --think-ms between
 * requests, and every --interval-s the main thread writes one CSV row: the service's resident
 * memory, open descriptors and threads (from /proc/PID), and for the requests that finished in
 * the interval their count, 4xx, 5xx, those that got no HTTP answer at all, and latency
 * percentiles per kind. tools/bench/soak.sh runs it; talks only to the URL it is given; every
 * request is bounded by --timeout-s.
 * --mix choose-feedback is the replicas' load (tests/e2e_service_replicas_nginx.sh,
 * tools/bench/bench_replicas.sh): choose and feedback, half and half; feedback (a score, with
 * an event id) rates the client's oldest unrated impression once it is --feedback-delay-ms
 * old, so that the replica that chose it — possibly another one behind a load balancer — has
 * written it behind; until then the client chooses (waiting only when 64 are unrated).
 * --log FILE writes one tab-separated line per request: the wall-clock start and end, kind,
 * status (0: no HTTP answer), the X-Upstream response header (the load balancer's
 * $upstream_addr, "-" without one), event id, impression id, reward id, the X-Upstream of the
 * choose that made the impression, and curl's error ("-" when none).
 * Client i of that mix is user "rep-PID-i", or "PREFIX-i" with --user-prefix PREFIX (so that
 * a second run can reuse the users a first one created).
 * --pid 0 samples no process (its CSV columns read -1).
 *   soakload --url URL --pid PID --duration-s S [--clients 16] [--think-ms 50]
 *            [--interval-s 10] [--admin-token T] [--timeout-s 30]
 *            [--mix soak|choose-feedback] [--feedback-delay-ms 50] [--log FILE]
 *            [--user-prefix P] */
#include "benchstat.h"

#include <curl/curl.h>
#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

enum kind { K_CHAT, K_FEEDBACK, K_CHOOSE, K_DASH, K_ERASE, K_N };
static const char *const kind_names[K_N] = {"chat", "feedback", "choose", "dash", "erase"};

enum mix { MIX_SOAK, MIX_CHOOSE_FEEDBACK };

struct opts {
    const char *url, *token, *log, *user_prefix;
    int pid, clients, think_ms, feedback_delay_ms;
    enum mix mix;
    double duration_s, interval_s, timeout_s;
};

/* What the per-request log says about a request besides its kind and status. */
struct logctx {
    const char *event_id, *origin;
    long long impression;
};

/* What finished during the current interval; guarded by mu. */
struct window {
    double *lat[K_N];
    size_t n[K_N], cap[K_N];
    long ok, c4xx, c5xx, none;
    long total_none, total_5xx, total;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct window win;
static volatile int stopping;
static struct opts o;
static FILE *log_file; /* --log; lines written under log_mu */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void note(enum kind k, double dt, long status)
{
    pthread_mutex_lock(&mu);
    if (win.n[k] == win.cap[k]) {
        size_t cap = win.cap[k] ? win.cap[k] * 2 : 1024;
        double *p = realloc(win.lat[k], cap * sizeof *p);
        if (p) {
            win.lat[k] = p;
            win.cap[k] = cap;
        }
    }
    if (win.n[k] < win.cap[k])
        win.lat[k][win.n[k]++] = dt;
    win.total++;
    if (status == 0) {
        win.none++;
        win.total_none++;
    } else if (status >= 500) {
        win.c5xx++;
        win.total_5xx++;
    } else if (status >= 400) {
        win.c4xx++;
    } else {
        win.ok++;
    }
    pthread_mutex_unlock(&mu);
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    FILE *f = ud;
    return fwrite(p, size, n, f) * size;
}

/* Keeps the value of an X-Upstream response header in ud (a char[128]). */
static size_t header_line(char *p, size_t size, size_t n, void *ud)
{
    static const char name[] = "x-upstream:";
    size_t len = size * n;
    char *out = ud;
    if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
        size_t i = sizeof name - 1, j = 0;
        while (i < len && p[i] == ' ')
            i++;
        for (; i < len && p[i] != '\r' && p[i] != '\n' && j < 127; i++)
            out[j++] = p[i] == ' ' ? '_' : p[i];
        out[j] = 0;
    }
    return len;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void log_request(double t0, enum kind k, long status, const char *upstream,
                        const struct logctx *lc, long long reward_id, CURLcode rc)
{
    if (!log_file)
        return;
    double t = wall_s();
    pthread_mutex_lock(&log_mu);
    fprintf(log_file, "%.3f\t%.3f\t%s\t%ld\t%s\t%s\t%lld\t%lld\t%s\t%s\n", t0, t, kind_names[k],
            status, upstream[0] ? upstream : "-", lc && lc->event_id ? lc->event_id : "-",
            lc ? lc->impression : 0, reward_id,
            lc && lc->origin && lc->origin[0] ? lc->origin : "-",
            rc == CURLE_OK ? "-" : curl_easy_strerror(rc));
    pthread_mutex_unlock(&log_mu);
}

/* One request on the client's handle (kept alive between requests); returns the status, 0
 * when no HTTP answer came; *json gets the parsed answer when asked; upstream (char[128], may
 * be NULL) the X-Upstream header; lc what the --log line says beyond kind and status. */
static long request_ex(CURL *e, enum kind k, const char *method, const char *path, const char *body,
                       int admin, json_t **json, char *upstream, const struct logctx *lc)
{
    char up[128] = "";
    char url[512], auth[256], *data = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&data, &len);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (admin && o.token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", o.token);
        h = curl_slist_append(h, auth);
    }
    snprintf(url, sizeof url, "%s%s", o.url, path);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_HTTPGET, body ? 0L : 1L);
    if (!body)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, mem);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_line);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, up);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(o.timeout_s * 1000));
    double t0 = now_s(), wall0 = wall_s();
    CURLcode rc = curl_easy_perform(e);
    double dt = now_s() - t0;
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    fclose(mem);
    json_t *j = status && (json || log_file) ? json_loads(data ? data : "", 0, NULL) : NULL;
    if (status >= 500 || status == 0)
        fprintf(stderr, "soakload: %s %s -> %ld %s %s %.200s\n", method, path, status,
                up[0] ? up : "", rc == CURLE_OK ? "" : curl_easy_strerror(rc), data ? data : "");
    free(data);
    note(k, dt, status);
    if (log_file) {
        struct logctx l = lc ? *lc : (struct logctx){0};
        long long reward =
            status / 100 == 2 ? json_integer_value(json_object_get(j, "reward_id")) : 0;
        if (k == K_CHOOSE && status / 100 == 2)
            l.impression = json_integer_value(json_object_get(j, "impression_id"));
        log_request(wall0, k, status, up, &l, reward, rc);
    }
    if (upstream)
        memcpy(upstream, up, sizeof up);
    if (json)
        *json = j;
    else
        json_decref(j);
    return status;
}

static long request(CURL *e, enum kind k, const char *method, const char *path, const char *body,
                    int admin, json_t **json)
{
    return request_ex(e, k, method, path, body, admin, json, NULL, NULL);
}

/* The replicas' load (--mix choose-feedback; see the head of the file). */
struct unrated {
    long long id;
    double at;
    char origin[128];
};

static void *client_choose_feedback(void *arg)
{
    enum { KEEP = 64 };
    int id = (int)(long)arg;
    unsigned seed = 2654435761u * (unsigned)(id + 1);
    CURL *e = curl_easy_init();
    struct unrated q[KEEP];
    int head = 0, n = 0;
    long event = 0;
    char body[512], user[64], ev[64];
    if (o.user_prefix)
        snprintf(user, sizeof user, "%.40s-%d", o.user_prefix, id);
    else
        snprintf(user, sizeof user, "rep-%d-%d", (int)getpid(), id);
    while (!stopping) {
        int r = (int)(rand_r(&seed) % 1000);
        double wait = n ? q[head].at + o.feedback_delay_ms / 1000.0 - now_s() : 0;
        if (n == KEEP || (r >= 500 && n > 0 && wait <= 0)) {
            struct unrated *u = &q[head];
            if (wait > 0)
                usleep((useconds_t)(wait * 1e6));
            head = (head + 1) % KEEP;
            n--;
            snprintf(ev, sizeof ev, "rep-%d-%d-%ld", (int)getpid(), id, event++);
            snprintf(body, sizeof body,
                     "{\"impression_id\":%lld,\"user_id\":\"%s\",\"kind\":\"score\","
                     "\"value\":%.3f,\"event_id\":\"%s\"}",
                     u->id, user, (double)(r - 500) / 500.0, ev);
            struct logctx lc = {.event_id = ev, .origin = u->origin, .impression = u->id};
            request_ex(e, K_FEEDBACK, "POST", "/v1/feedback", body, 0, NULL, NULL, &lc);
        } else {
            json_t *j = NULL;
            char up[128];
            snprintf(body, sizeof body, "{\"user_id\":\"%s\"}", user);
            if (request_ex(e, K_CHOOSE, "POST", "/v1/choose", body, 0, &j, up, NULL) == 200) {
                struct unrated *u = &q[(head + n) % KEEP];
                u->id = json_integer_value(json_object_get(j, "impression_id"));
                u->at = now_s();
                memcpy(u->origin, up, sizeof up);
                n++;
            }
            json_decref(j);
        }
        if (o.think_ms > 0)
            usleep((useconds_t)o.think_ms * 1000);
    }
    curl_easy_cleanup(e);
    return NULL;
}

static void *client_main(void *arg)
{
    int id = (int)(long)arg;
    unsigned seed = 2654435761u * (unsigned)(id + 1);
    CURL *e = curl_easy_init();
    char body[512], path[256], user[64];
    int generation = 0;
    long long pending_imp = 0; /* an impression of the current user not rated yet */
    long event = 0;
    const char *dash[] = {
        "/v1/dashboard/experiments", "/v1/experiments/default/overview?window=24h",
        "/v1/experiments/default/feedback?limit=20", "/v1/arms?experiment=default"};
    snprintf(user, sizeof user, "soak-%d-%d", id, generation);
    while (!stopping) {
        int r = (int)(rand_r(&seed) % 1000);
        json_t *j = NULL;
        if (r < 250) { /* a chat turn against the slow provider */
            snprintf(body, sizeof body,
                     "{\"user_id\":\"%s\",\"message\":\"오늘 너무 힘들었어 %d\",\"consent\":%s}",
                     user, r, r % 2 ? "true" : "false");
            if (request(e, K_CHAT, "POST", "/v1/chat", body, 0, &j) == 200)
                pending_imp = json_integer_value(json_object_get(j, "impression_id"));
        } else if (r < 450) { /* choose, as a client with its own LLM */
            snprintf(body, sizeof body, "{\"user_id\":\"%s\"}", user);
            if (request(e, K_CHOOSE, "POST", "/v1/choose", body, 0, &j) == 200)
                pending_imp = json_integer_value(json_object_get(j, "impression_id"));
        } else if (r < 750) { /* feedback on the last impression, once */
            if (pending_imp > 0) {
                snprintf(body, sizeof body,
                         "{\"impression_id\":%lld,\"user_id\":\"%s\",\"kind\":\"%s\","
                         "\"event_id\":\"soak-%d-%ld\"%s}",
                         pending_imp, user, r % 3 ? "like" : "score", id, event++,
                         r % 3 ? "" : ",\"value\":0.5");
                request(e, K_FEEDBACK, "POST", "/v1/feedback", body, 0, NULL);
                pending_imp = 0;
            }
        } else if (r < 995) { /* a dashboard read */
            request(e, K_DASH, "GET", dash[r % 4], NULL, 1, NULL);
        } else { /* erase the user this client chatted as, and become a new one */
            snprintf(path, sizeof path, "/v1/users/%s", user);
            request(e, K_ERASE, "DELETE", path, NULL, 1, NULL);
            snprintf(user, sizeof user, "soak-%d-%d", id, ++generation);
            pending_imp = 0;
        }
        json_decref(j);
        if (o.think_ms > 0)
            usleep((useconds_t)o.think_ms * 1000);
    }
    curl_easy_cleanup(e);
    return NULL;
}

/* VmRSS and Threads of pid (kB, count) and its open descriptors; -1 when unreadable. */
static void proc_sample(int pid, long *rss_kb, long *threads, long *fds)
{
    char path[64], line[256];
    *rss_kb = *threads = *fds = -1;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        sscanf(line, "VmRSS: %ld", rss_kb);
        sscanf(line, "Threads: %ld", threads);
    }
    if (f)
        fclose(f);
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (d) {
        long n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
            if (de->d_name[0] != '.')
                n++;
        closedir(d);
        *fds = n;
    }
}

static int parse_args(int argc, char **argv)
{
    o = (struct opts){
        .clients = 16, .think_ms = 50, .interval_s = 10, .timeout_s = 30, .feedback_delay_ms = 50};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: soakload --url URL --pid PID --duration-s S [--clients N] "
                   "[--think-ms MS]\n                [--interval-s S] [--admin-token T] "
                   "[--timeout-s S]\n                [--mix soak|choose-feedback] "
                   "[--feedback-delay-ms MS] [--log FILE] [--user-prefix P]\nMixed load (chat, "
                   "choose, feedback, "
                   "dashboard reads, erasures; or choose and feedback\nonly) for S seconds; "
                   "one CSV row per interval on stdout: the service's memory,\ndescriptors, "
                   "threads (PID 0: none), requests, errors, unanswered requests and\nlatency "
                   "percentiles; --log FILE: one line per request (see the source's head).\n");
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "soakload: %s needs a value (see --help)\n", a);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--url"))
            o.url = v;
        else if (!strcmp(a, "--pid"))
            o.pid = atoi(v);
        else if (!strcmp(a, "--duration-s"))
            o.duration_s = atof(v);
        else if (!strcmp(a, "--clients"))
            o.clients = atoi(v);
        else if (!strcmp(a, "--think-ms"))
            o.think_ms = atoi(v);
        else if (!strcmp(a, "--interval-s"))
            o.interval_s = atof(v);
        else if (!strcmp(a, "--admin-token"))
            o.token = v;
        else if (!strcmp(a, "--timeout-s"))
            o.timeout_s = atof(v);
        else if (!strcmp(a, "--feedback-delay-ms"))
            o.feedback_delay_ms = atoi(v);
        else if (!strcmp(a, "--log"))
            o.log = v;
        else if (!strcmp(a, "--user-prefix"))
            o.user_prefix = v;
        else if (!strcmp(a, "--mix") && !strcmp(v, "soak"))
            o.mix = MIX_SOAK;
        else if (!strcmp(a, "--mix") && !strcmp(v, "choose-feedback"))
            o.mix = MIX_CHOOSE_FEEDBACK;
        else {
            fprintf(stderr, "soakload: unknown option %s (see --help)\n", a);
            return 2;
        }
    }
    if (!o.url || o.pid < 0 || o.duration_s <= 0 || o.clients < 1 || o.clients > 512 ||
        o.interval_s <= 0 || o.timeout_s <= 0 || o.feedback_delay_ms < 0) {
        fprintf(stderr, "soakload: give --url, --pid and --duration-s; clients in 1..512\n");
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int rc = parse_args(argc, argv);
    if (rc)
        return rc;
    if (o.log && !(log_file = fopen(o.log, "w"))) {
        fprintf(stderr, "soakload: cannot write %s\n", o.log);
        return 1;
    }
    if (log_file) /* whole lines even if the process ends abruptly */
        setvbuf(log_file, NULL, _IOLBF, 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_t *th = calloc((size_t)o.clients, sizeof *th);
    if (!th)
        return 1;
    printf("t_s,rss_kb,fds,threads,requests,ok,c4xx,c5xx,no_answer");
    for (int k = 0; k < K_N; k++)
        printf(",%s_n,%s_p50_ms,%s_p99_ms", kind_names[k], kind_names[k], kind_names[k]);
    printf("\n");
    fflush(stdout);
    for (int i = 0; i < o.clients; i++)
        pthread_create(&th[i], NULL,
                       o.mix == MIX_CHOOSE_FEEDBACK ? client_choose_feedback : client_main,
                       (void *)(long)i);
    double t0 = now_s(), next = t0 + o.interval_s;
    for (;;) {
        double now = now_s();
        if (now < next) {
            usleep((useconds_t)((next - now) * 1e6));
            continue;
        }
        long rss = -1, threads = -1, fds = -1;
        if (o.pid > 0)
            proc_sample(o.pid, &rss, &threads, &fds);
        pthread_mutex_lock(&mu);
        printf("%.0f,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld", next - t0, rss, fds, threads,
               win.ok + win.c4xx + win.c5xx + win.none, win.ok, win.c4xx, win.c5xx, win.none);
        for (int k = 0; k < K_N; k++) {
            if (win.n[k] > 1) /* kinds this mix never sends have no array at all */
                qsort(win.lat[k], win.n[k], sizeof(double), benchstat_cmp_double);
            printf(",%zu,%.2f,%.2f", win.n[k], 1000 * benchstat_quantile(win.lat[k], win.n[k], 0.5),
                   1000 * benchstat_quantile(win.lat[k], win.n[k], 0.99));
            win.n[k] = 0;
        }
        win.ok = win.c4xx = win.c5xx = win.none = 0;
        pthread_mutex_unlock(&mu);
        printf("\n");
        fflush(stdout);
        next += o.interval_s;
        if (next - t0 > o.duration_s + 1e-9 || (o.pid > 0 && rss < 0))
            break;
    }
    stopping = 1;
    for (int i = 0; i < o.clients; i++)
        pthread_join(th[i], NULL);
    fprintf(stderr, "soakload: %ld requests, %ld 5xx, %ld without an HTTP answer\n", win.total,
            win.total_5xx, win.total_none);
    for (int k = 0; k < K_N; k++)
        free(win.lat[k]);
    free(th);
    if (log_file)
        fclose(log_file);
    curl_global_cleanup();
    return win.total_none || win.total_5xx ? 1 : 0;
}
