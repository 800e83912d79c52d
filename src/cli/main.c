/* main.c — entry point: points settings defaults at an install's data folder (datadir.h), then
 * dispatches `promptbandit <command>` (or `bandit-run`, the same binary under a second name) to
 * the subcommand functions in cmd_*.c. */
#include "cmd.h"
#include "datadir.h"

#include <libgen.h>
#include <stdio.h>
#include <string.h>

struct command {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
};

static const struct command commands[] = {
    {"serve", cmd_serve, "run the HTTP service (chat, feedback, admin dashboard)"},
    {"run", cmd_run, "offline iterations: generate, judge, update (= bandit-run)"},
    {"simulate", cmd_simulate, "compare bandit policies on simulated arms"},
    {"judge", cmd_judge, "judge train|score|eval: reward models and their evaluation"},
    {"emotion", cmd_emotion, "emotion train|eval|predict|labels: the emotion classifier"},
    {"prompts", cmd_prompts, "prompts list|sync|add|retire|restore|propose: the arms"},
    {"db", cmd_db, "db migrate|status|backup|purge|export-events: the database"},
    {"config", cmd_config, "config show: effective settings and where they come from"},
    {"demo", cmd_demo, "the service with a simulated provider and users: try it without a key"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out,
            "promptbandit %s — prompt-optimisation bandit service\n\n"
            "usage: promptbandit <command> [options]   (--help after a command for more)\n\n",
            PB_VERSION);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nSettings come from PB_* environment variables, then a JSON file given by\n"
                 "PB_CONFIG or --config, then built-in defaults (`promptbandit config show`).\n");
}

/* The value of a --config argument anywhere on the command line; NULL when there is none. */
static const char *config_argument(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--config") == 0)
            return argv[i + 1];
    return NULL;
}

int main(int argc, char **argv)
{
    /* An installed binary reads its prompts and models from PREFIX/share/promptbandit. */
    datadir_apply(config_argument(argc, argv));
    char *self = basename(argv[0]);
    if (strcmp(self, "bandit-run") == 0) {
        if (!cmd_run) {
            fprintf(stderr, "bandit-run: not built in this version\n");
            return 1;
        }
        return cmd_run(argc, argv);
    }
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (cmd_is_help(argv[1])) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("promptbandit %s\n", PB_VERSION);
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        if (!commands[i].fn) {
            fprintf(stderr, "promptbandit: '%s' is not built in this version\n", argv[1]);
            return 1;
        }
        return commands[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "promptbandit: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
