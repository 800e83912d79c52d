/* cmd_demo.c — `promptbandit demo`: the service as `serve` runs it, but with a simulated
 * OpenAI-compatible provider started in this process on 127.0.0.1 (the service still reaches it
 * only through src/llm, over HTTP), a population of simulated users who chat and give feedback
 * that favours some prompts for some emotions, its own database in a fresh folder, and a DEMO
 * banner on every page and "promptbandit demo:" on every log line. A newcomer sees chat answers,
 * feedback and the dashboard's verdict move within a minute, without an API key. Never what
 * `serve` uses: nothing here is reachable from the serve command. */
#include "cmd.h"

#include "base/config.h"
#include "base/embedded.h"
#include "base/pb.h"
#include "http/server.h"
#include "llm/llm.h"
#include "offline/scenarios.h"
#include "service/api.h"
#include "service/app.h"
#include "service/chatturn.h"
#include "service/pipeline.h"
#include "service/reward.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEMO_USERS 25

static void usage(FILE *out)
{
    fputs(
        "usage: promptbandit demo [--port N] [--speed TURNS_PER_S] [--seed S] [--db PATH]\n"
        "                         [--prompts DIR] [--config FILE]\n\n"
        "Runs the service with a simulated LLM provider (in this process, on 127.0.0.1) and\n"
        "simulated users who chat and like, dislike or regenerate answers. Their taste depends\n"
        "on the emotion of what they say: joy favours prompt C, sadness and hurt B, anxiety and\n"
        "embarrassment D, anger B, no emotion A. Open the chat page and /admin (the admin\n"
        "token is printed) and watch the verdict move. Every page shows a DEMO banner and every\n"
        "log line starts with \"promptbandit demo:\". Nothing is sent to a real provider.\n\n"
        "  --port N        port of the service (default 8080; 0 = any free port)\n"
        "  --speed N       simulated turns per second (default 4)\n"
        "  --seed S        the users' randomness (default 1)\n"
        "  --db PATH       database file or postgresql:// URL (default: demo.db in a fresh folder\n"
        "                  under /tmp)\n"
        "  --prompts DIR   the arms (default: setting prompts.dir)\n"
        "  --config FILE   settings file (LLM settings are replaced by the simulation)\n\n"
        "Ctrl-C (SIGINT) or SIGTERM stops it.\n",
        out);
}

struct demo_args {
    const char *port, *db, *prompts, *config;
    double speed;
    unsigned long seed;
};

static int parse(int argc, char **argv, struct demo_args *a)
{
    *a = (struct demo_args){.port = "8080", .speed = 4, .seed = 1};
    for (int i = 1; i < argc; i++) {
        if (cmd_is_help(argv[i])) {
            usage(stdout);
            return 0;
        }
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!v) {
            fprintf(stderr, "promptbandit demo: %s needs a value (promptbandit demo --help)\n", o);
            return 2;
        }
        if (!strcmp(o, "--port"))
            a->port = v;
        else if (!strcmp(o, "--db"))
            a->db = v;
        else if (!strcmp(o, "--prompts"))
            a->prompts = v;
        else if (!strcmp(o, "--config"))
            a->config = v;
        else if (!strcmp(o, "--speed") && (a->speed = strtod(v, &end)) > 0 && a->speed <= 1000 &&
                 !*end)
            ;
        else if (!strcmp(o, "--seed") && (a->seed = strtoul(v, &end, 10), !*end))
            ;
        else {
            fprintf(stderr,
                    "promptbandit demo: %s '%s' is not an option with a valid value "
                    "(--port, --speed 0..1000, --seed, --db, --prompts, --config)\n",
                    o, v);
            return 2;
        }
        i++;
    }
    return -1;
}

/* ---- the simulated provider ---- */

/* Answers like a chat completion: the style follows the system prompt, the words the user's
 * sentence (the part before " ;; "). Deterministic for a given request. */
static int demo_complete(struct server_request *req, struct server_reply *reply, void *unused)
{
    static const char *const styles[] = {
        "그랬구나. \"%s\" 얘기 더 해 줄래?",
        "와, \"%s\" 진짜? 나도 덩달아 신난다!",
        "많이 힘들었겠다. \"%s\"… 네 마음 충분히 이해해. 천천히 얘기해 줘.",
        "음, \"%s\" 그럴 땐 잠깐 숨 고르고 하나씩 해 보자.",
    };
    json_t *body = NULL;
    (void)unused;
    int rc = server_req_json(req, reply, &body);
    if (rc != PB_OK)
        return rc;
    json_t *msgs = json_object_get(body, "messages");
    const char *system = "", *user = "";
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role")),
                   *content = json_string_value(json_object_get(m, "content"));
        if (role && content && !strcmp(role, "system"))
            system = content;
        else if (role && content && !strcmp(role, "user"))
            user = content; /* the last one */
    }
    const char *sep = strstr(user, " ;; ");
    char sentence[600], text[900];
    snprintf(sentence, sizeof sentence, "%.*s", (int)(sep ? (size_t)(sep - user) : strlen(user)),
             user);
    size_t style = 0;
    for (const char *p = system; *p; p++)
        style = style * 31 + (unsigned char)*p;
    snprintf(text, sizeof text, styles[style % 4], sentence);
    json_t *out =
        json_pack("{s:s, s:s, s:s, s:[{s:i, s:{s:s, s:s}, s:s}], s:{s:i, s:i}}", "id",
                  "demo-completion", "object", "chat.completion", "model", "demo", "choices",
                  "index", 0, "message", "role", "assistant", "content", text, "finish_reason",
                  "stop", "usage", "prompt_tokens", (int)((strlen(system) + strlen(user)) / 3 + 1),
                  "completion_tokens", (int)(strlen(text) / 3 + 1));
    json_decref(body);
    if (!out)
        return pb_errf(reply->err, PB_ERR_NOMEM, "out of memory");
    server_reply_json(reply, 200, out);
    return PB_OK;
}

static const struct server_route provider_routes[] = {
    {"POST", "/v1/chat/completions", demo_complete, 0},
};

/* ---- pages with a banner ---- */

static const char banner[] =
    "<div role=\"status\" style=\"background:#b00020;color:#fff;padding:8px 12px;"
    "font:bold 15px sans-serif;text-align:center\">DEMO — simulated provider and simulated "
    "users (promptbandit demo); nothing here is real</div>";

/* The embedded page with the banner right after <body ...>. */
static int demo_page(struct server_request *req, struct server_reply *reply, void *unused)
{
    (void)unused;
    const char *name =
        strcmp(server_req_route(req), "/") == 0 ? "web/index.html" : "web/admin.html";
    const struct embedded_file *f = embedded_find(name);
    if (!f)
        return pb_errf(reply->err, PB_ERR_NOT_FOUND, "no page %s", name);
    const char *page = (const char *)f->data, *body = strstr(page, "<body");
    const char *after = body ? strchr(body, '>') : NULL;
    size_t head = after ? (size_t)(after + 1 - page) : 0;
    char *text = malloc(f->len + sizeof banner);
    if (!text)
        return pb_errf(reply->err, PB_ERR_NOMEM, "out of memory");
    memcpy(text, page, head);
    memcpy(text + head, banner, sizeof banner - 1);
    memcpy(text + head + sizeof banner - 1, page + head, f->len - head);
    int rc =
        server_reply_text(reply, 200, "text/html; charset=utf-8", text, f->len + sizeof banner - 1);
    free(text);
    return rc;
}

/* ---- simulated users ---- */

struct users {
    app *a;
    struct scenarios scen;
    double interval_s;
    uint64_t rng;
    atomic_int stop;
    long turns, failed, likes[26], shown[26];
};

static double next01(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (double)(*s >> 11) / 9007199254740992.0;
}

/* How likely a user who feels `feeling` (an emotion, NULL = none) likes an answer of `arm`. */
static double like_probability(const char *feeling, const char *arm)
{
    static const struct {
        const char *emotion, *arm;
    } favourite[] = {{"기쁨", "C"}, {"슬픔", "B"}, {"상처", "B"}, {"불안", "D"},
                     {"당황", "D"}, {"분노", "B"}, {"", "A"}};
    for (size_t i = 0; i < sizeof favourite / sizeof *favourite; i++)
        if (!strcmp(feeling ? feeling : "", favourite[i].emotion))
            return !strcmp(arm, favourite[i].arm) ? 0.85 : 0.3;
    return 0.4;
}

static void one_turn(struct users *u)
{
    char err[PB_ERR_LEN], user[32];
    size_t k = (size_t)(next01(&u->rng) * (double)u->scen.n) % u->scen.n;
    snprintf(user, sizeof user, "demo-user-%d", (int)(next01(&u->rng) * DEMO_USERS));
    struct chatturn_in in = {.user_id = user, .message = u->scen.sentence[k], .consent = 0};
    struct chatturn_out out = {0};
    u->turns++;
    if (chatturn_run(u->a, &in, &out, err) != PB_OK) {
        if (u->failed++ < 3)
            fprintf(stderr, "promptbandit demo: a simulated turn failed: %s\n", err);
        chatturn_out_clear(&out);
        return;
    }
    double p = like_probability(u->scen.emotion[k], out.arm), r = next01(&u->rng);
    const char *kind = r < p ? "like" : r < p + 0.2 ? "regenerate" : "dislike";
    struct reward_feedback_in fb = {
        .impression_id = out.impression_id, .user_id = user, .kind = kind};
    struct reward_feedback_out fo;
    int a = out.arm[0] >= 'A' && out.arm[0] <= 'Z' ? out.arm[0] - 'A' : 25;
    u->shown[a]++;
    if (reward_from_feedback(u->a, &fb, &fo, err) == PB_OK)
        u->likes[a] += !strcmp(kind, "like");
    chatturn_out_clear(&out);
}

static void print_status(const struct users *u)
{
    fprintf(stderr, "promptbandit demo: %ld simulated turns; likes per arm:", u->turns);
    for (int a = 0; a < 26; a++)
        if (u->shown[a])
            fprintf(stderr, " %c %ld/%ld", 'A' + a, u->likes[a], u->shown[a]);
    fputc('\n', stderr);
}

static void *users_main(void *arg)
{
    struct users *u = arg;
    struct timespec pause = {(time_t)u->interval_s,
                             (long)((u->interval_s - (double)(time_t)u->interval_s) * 1e9)};
    /* Signals go to the main thread's sigwait only. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    while (!atomic_load(&u->stop)) {
        one_turn(u);
        if (u->turns % 100 == 0)
            print_status(u);
        nanosleep(&pause, NULL);
    }
    return NULL;
}

/* ---- running ---- */

struct demo {
    config *cfg, *provider_cfg;
    server *provider, *srv;
    app *a;
    struct server_route *routes;
    size_t n_routes;
    struct users users;
    int llm_ready, users_started;
    pthread_t users_thread;
    char dir[256], db[512], url[128];
};

static int set_all(config *cfg, const char *const (*kv)[2], size_t n, char *err)
{
    for (size_t i = 0; i < n; i++)
        if (kv[i][1] && config_set(cfg, kv[i][0], kv[i][1], err) != PB_OK)
            return PB_ERR_INVALID;
    return PB_OK;
}

/* The provider: its own server on 127.0.0.1, any free port, no access log. */
static int start_provider(struct demo *d, char *err)
{
    static const char *const kv[][2] = {{"server.host", "127.0.0.1"},
                                        {"server.port", "0"},
                                        {"server.threads", "2"},
                                        {"server.access_log", ""},
                                        {"server.admin_token", ""}};
    struct server_options so = {provider_routes, 1, NULL, NULL, NULL, NULL};
    int rc = config_defaults(&d->provider_cfg, err);
    if (rc == PB_OK)
        rc = set_all(d->provider_cfg, kv, sizeof kv / sizeof *kv, err);
    if (rc == PB_OK)
        rc = server_new(d->provider_cfg, &so, &d->provider, err);
    if (rc == PB_OK)
        rc = server_start(d->provider, err);
    if (rc == PB_OK)
        snprintf(d->url, sizeof d->url, "http://127.0.0.1:%d/v1", server_port(d->provider));
    return rc;
}

/* The service's settings: the simulated provider, the demo's own database and access log, an
 * admin token for the dashboard. */
static int demo_settings(struct demo *d, const struct demo_args *a, char *token, char *err)
{
    char log[600];
    /* A database URL (PostgreSQL) has no folder of its own for the access log. */
    bool url = a->db && strstr(a->db, "://");
    if (!a->db || url) {
        snprintf(d->dir, sizeof d->dir, "%s/promptbandit-demo-XXXXXX",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(d->dir))
            return pb_errf(err, PB_ERR_IO, "cannot create a folder for the demo: %s",
                           strerror(errno));
        snprintf(d->db, sizeof d->db, "%s", url ? a->db : "");
        if (!url)
            snprintf(d->db, sizeof d->db, "%s/demo.db", d->dir);
        snprintf(log, sizeof log, "%s/access.log", d->dir);
    } else {
        snprintf(d->db, sizeof d->db, "%s", a->db);
        snprintf(log, sizeof log, "%s.access.log", a->db);
    }
    snprintf(token, 64, "demo-%08lx", (unsigned long)(time(NULL) ^ (unsigned long)getpid()));
    const char *admin = config_str(d->cfg, "server.admin_token");
    const char *const kv[][2] = {
        {"llm.base_url", d->url},   {"llm.api_key", "demo"},
        {"llm.api_version", ""},    {"llm.model", "demo"},
        {"db.path", d->db},         {"server.port", a->port},
        {"server.access_log", log}, {"server.admin_token", *admin ? NULL : token}};
    if (*admin)
        snprintf(token, 64, "(from your settings)");
    return set_all(d->cfg, kv, sizeof kv / sizeof *kv, err);
}

/* The service, as serve runs it, with the two pages that carry the banner. */
static int start_service(struct demo *d, const struct demo_args *a, char *err)
{
    struct app_options opt = {.db_path = d->db, .prompts_dir = a->prompts};
    struct server_route *api = NULL;
    size_t n_api = 0;
    int rc = app_new(d->cfg, &opt, &d->a, err);
    if (rc == PB_OK)
        rc = api_routes_new(&api, &n_api, err);
    if (rc == PB_OK && !(d->routes = malloc((n_api + 2) * sizeof *d->routes)))
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc == PB_OK) {
        d->routes[0] = (struct server_route){"GET", "/", demo_page, 0};
        d->routes[1] = (struct server_route){"GET", "/admin", demo_page, 0};
        memcpy(d->routes + 2, api, n_api * sizeof *api);
        d->n_routes = n_api + 2;
        struct server_options so = {d->routes,         d->n_routes, d->a,
                                    app_metrics(d->a), api_health,  api_before_metrics};
        rc = server_new(d->cfg, &so, &d->srv, err);
    }
    free(api);
    if (rc == PB_OK)
        rc = server_start(d->srv, err);
    return rc;
}

static int start_users(struct demo *d, const struct demo_args *a, char *err)
{
    struct users *u = &d->users;
    u->a = d->a;
    u->interval_s = 1.0 / a->speed;
    u->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)a->seed;
    char why[PB_ERR_LEN];
    int rc = scenarios_load(config_str(d->cfg, "run.scenarios"), &u->scen, why);
    if (rc != PB_OK)
        return pb_errf(err, rc, "the simulated users' sentences: %s", why);
    if (pthread_create(&d->users_thread, NULL, users_main, u) != 0)
        return pb_errf(err, PB_ERR_NOMEM, "cannot start the simulated users");
    d->users_started = 1;
    return PB_OK;
}

static void demo_close(struct demo *d)
{
    if (d->users_started) {
        atomic_store(&d->users.stop, 1);
        pthread_join(d->users_thread, NULL);
        print_status(&d->users);
    }
    if (d->srv)
        server_stop(d->srv, -1);
    server_free(d->srv); /* no handler runs after this: the writer can drain */
    app_free(d->a);
    if (d->provider)
        server_stop(d->provider, -1);
    server_free(d->provider);
    scenarios_free(&d->users.scen);
    free(d->routes);
    if (d->llm_ready)
        llm_global_cleanup();
    config_free(d->provider_cfg);
    config_free(d->cfg);
}

int cmd_demo(int argc, char **argv)
{
    struct demo_args args;
    static struct demo d; /* large; one demo per process */
    char err[PB_ERR_LEN] = "", token[64];
    int code = parse(argc, argv, &args);
    if (code >= 0)
        return code;
    memset(&d, 0, sizeof d);
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, &old); /* before any thread starts */
    int rc = config_load(args.config, &d.cfg, err);
    if (rc == PB_OK && (rc = llm_global_init(err)) == PB_OK)
        d.llm_ready = 1;
    if (rc == PB_OK)
        rc = start_provider(&d, err);
    if (rc == PB_OK)
        rc = demo_settings(&d, &args, token, err);
    if (rc == PB_OK)
        rc = start_service(&d, &args, err);
    if (rc == PB_OK)
        rc = start_users(&d, &args, err);
    if (rc == PB_OK) {
        int sig = 0;
        fprintf(stderr,
                "promptbandit demo: simulated provider at %s (in this process; no real LLM)\n"
                "promptbandit demo: database %s (the demo's own, not serve's)\n"
                "promptbandit demo: %g simulated turns per second from %d simulated users\n"
                "promptbandit demo: admin token %s\n"
                "promptbandit demo: listening on http://%s:%d/ (chat), /admin (dashboard)\n",
                d.url, d.db, args.speed, DEMO_USERS, token, config_str(d.cfg, "server.host"),
                server_port(d.srv));
        sigwait(&stop, &sig);
        fprintf(stderr, "promptbandit demo: signal %d, stopping\n", sig);
    }
    if (rc != PB_OK)
        fprintf(stderr, "promptbandit demo: %s\n", err);
    demo_close(&d);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc == PB_OK ? 0 : 1;
}
