/* cmd_serve.c — `promptbandit serve`: loads settings, builds the service context (app.h),
 * starts the HTTP server with the API routes and runs until SIGTERM/SIGINT, then stops
 * gracefully and drains the writer. Parses arguments and wires modules; no logic here. */
#include "service/api.h"
#include "service/app.h"
#include "cmd.h"
#include "base/config.h"
#include "base/pb.h"
#include "http/server.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: promptbandit serve [--port N] [--host ADDR] [--config FILE] [--db PATH]\n"
            "                          [--prompts DIR]\n\n"
            "Runs the HTTP service: chat (POST /v1/chat), feedback, choose, the admin API,\n"
            "the chat page (/) and the dashboard (/admin), /healthz and /metrics. Without an\n"
            "LLM provider (PB_LLM_BASE_URL or OPENAI_BASE_URL) it still serves pages,\n"
            "feedback, choose and statistics; chat answers 503 until one is configured.\n"
            "SIGTERM or SIGINT stops it gracefully (requests in flight finish, every\n"
            "acknowledged write is committed).\n\n"
            "options:\n"
            "  --port N       port (default: server.port; 0 = any free port, printed)\n"
            "  --host ADDR    listen address (default: server.host)\n"
            "  --config FILE  JSON settings file (default: $PB_CONFIG)\n"
            "  --db PATH      database file or postgresql:// URL (default: db.url, else db.path)\n"
            "  --prompts DIR  arm prompt files synced at start (default: prompts.dir)\n\n"
            "settings: promptbandit config show; docs/SERVICE.md\n");
}

struct serve_args {
    const char *port, *host, *prompts;
    struct cmd_common common;
};

/* -1 when the arguments are fine, else the exit code. */
static int parse(int argc, char **argv, struct serve_args *a)
{
    for (int i = 1; i < argc; i++) {
        const char **slot = NULL;
        int taken;
        if (cmd_is_help(argv[i])) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--port")) {
            slot = &a->port;
        } else if (!strcmp(argv[i], "--host")) {
            slot = &a->host;
        } else if ((taken = cmd_take_common("serve", argc, argv, &i, &a->common)) != 0) {
            if (taken < 0)
                return 2;
            continue;
        } else if (!strcmp(argv[i], "--prompts")) {
            slot = &a->prompts;
        }
        if (!slot || i + 1 >= argc) {
            fprintf(stderr, "serve: %s '%s'\n\n", slot ? "missing value for" : "unknown argument",
                    argv[i]);
            usage(stderr);
            return 2;
        }
        *slot = argv[++i];
    }
    return -1;
}

/* Starts the server, prints where it listens, waits for SIGTERM/SIGINT (blocked by the
 * caller in every thread) and stops gracefully. */
static int serve_until_signal(server *srv, const config *cfg, char *err)
{
    sigset_t stop;
    int sig = 0;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    int rc = server_start(srv, err);
    if (rc != PB_OK)
        return rc;
    fprintf(stderr, "promptbandit: listening on http://%s:%d/\n", config_str(cfg, "server.host"),
            server_port(srv));
    sigwait(&stop, &sig);
    fprintf(stderr, "promptbandit: signal %d, stopping (requests in flight may finish)\n", sig);
    if ((rc = server_stop(srv, -1)) != PB_OK)
        pb_errf(err, rc, "stopped with requests still running after %g s",
                config_double(cfg, "server.shutdown_grace_s"));
    return rc;
}

static int run(const struct serve_args *args, config *cfg, char *err)
{
    app *a = NULL;
    server *srv = NULL;
    struct server_route *routes = NULL;
    size_t n_routes = 0;
    struct app_options opt = {.db_path = args->common.db, .prompts_dir = args->prompts};
    int rc = app_new(cfg, &opt, &a, err);
    if (rc == PB_OK)
        rc = api_routes_new(&routes, &n_routes, err);
    if (rc == PB_OK) {
        struct server_options so = {routes,         n_routes,   a,
                                    app_metrics(a), api_health, api_before_metrics};
        rc = server_new(cfg, &so, &srv, err);
    }
    if (rc == PB_OK) {
        fprintf(stderr, "promptbandit: emotion backend %s%s%s\n", emotion_backend(app_emotion(a)),
                *emotion_note(app_emotion(a)) ? ": " : "", emotion_note(app_emotion(a)));
        if (!app_llm(a))
            fprintf(stderr, "promptbandit: no LLM provider: %s\n", app_llm_note(a));
        rc = serve_until_signal(srv, cfg, err);
    }
    server_free(srv); /* no handler runs after this: the writer can drain */
    app_free(a);
    free(routes);
    return rc;
}

int cmd_serve(int argc, char **argv)
{
    struct serve_args args = {0};
    char err[PB_ERR_LEN] = "";
    config *cfg = NULL;
    int code = parse(argc, argv, &args);
    if (code >= 0)
        return code;
    int rc = config_load(args.common.config, &cfg, err);
    if (rc != PB_OK) {
        fprintf(stderr, "serve: %s\n", err);
        return 1;
    }
    /* a bad --port or --host is a usage error (2), like any other bad argument */
    if ((args.port && config_set(cfg, "server.port", args.port, err) != PB_OK) ||
        (args.host && config_set(cfg, "server.host", args.host, err) != PB_OK)) {
        fprintf(stderr, "serve: %s (promptbandit serve --help)\n", err);
        config_free(cfg);
        return 2;
    }
    /* Blocked before any thread starts, so every thread inherits the mask and only the
     * sigwait in serve_until_signal receives them. */
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, &old);
    if (rc == PB_OK && (rc = llm_global_init(err)) == PB_OK) {
        rc = run(&args, cfg, err);
        llm_global_cleanup();
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != PB_OK)
        fprintf(stderr, "serve: %s\n", err);
    config_free(cfg);
    return rc == PB_OK ? 0 : 1;
}
