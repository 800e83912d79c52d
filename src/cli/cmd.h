/* cmd.h — the subcommands of the promptbandit executable. Each lives in its own
 * src/cli/cmd_<name>.c, parses its arguments, calls the library, prints, and returns a
 * process exit code (0 ok, 1 failure, 2 usage error). No logic beyond that. */
#ifndef CMD_H
#define CMD_H

#include <stddef.h>
#include <stdio.h>

#include "base/config.h"
#include "store/store.h"

/* Declared weak so that main links while a subcommand's file is absent; main reports such a
 * subcommand as not built. Every subcommand must answer --help. */
#define PB_CMD(name) int cmd_##name(int argc, char **argv) __attribute__((weak))
PB_CMD(serve);
PB_CMD(run);
PB_CMD(simulate);
PB_CMD(judge);
PB_CMD(emotion);
PB_CMD(prompts);
PB_CMD(db);
PB_CMD(config);
PB_CMD(demo);
/* `prompts propose` lives with the judge code (cmd_propose.c); cmd_prompts dispatches to it. */
PB_CMD(prompts_propose);
#undef PB_CMD

/* Shared helpers for subcommands (cmd_util.c). */
int cmd_is_help(const char *arg);

/* One action of a command with actions (`promptbandit judge train`): its name and its own
 * help, which begins "usage: promptbandit COMMAND NAME" (NULL: the action answers --help
 * itself, as `prompts propose` does). */
struct cmd_action {
    const char *name;
    const char *help;
};

/* The action named name, or NULL. */
const struct cmd_action *cmd_action_find(const struct cmd_action *acts, size_t n, const char *name);
/* When argv[1] is one of the actions and --help or -h follows it anywhere, prints that
 * action's help on stdout and returns 1; else 0. */
int cmd_action_help(const struct cmd_action *acts, size_t n, int argc, char **argv);
/* Prints "COMMAND: unknown action 'GOT'; the actions are a, b, c (promptbandit COMMAND
 * --help)" on stderr and returns 2, the usage-error exit status. */
int cmd_unknown_action(const char *command, const char *got, const struct cmd_action *acts,
                       size_t n);
/* Writes "actions: a, b, c\n" (the line every command with actions has in its help). */
void cmd_actions_line(FILE *out, const struct cmd_action *acts, size_t n);

/* The options of every subcommand that reads settings and opens the store. */
struct cmd_common {
    const char *config; /* --config FILE: JSON settings (NULL: $PB_CONFIG, then defaults) */
    const char *db;     /* --db PATH: overrides the setting db.path */
};

/* The one parser of --config and --db: when argv[*i] is one of them with a value, stores the
 * value, advances *i past it and returns 1; returns 0 for any other argument; when the value is
 * missing, prints "WHAT: OPTION needs a value" and returns -1 (a usage error). */
int cmd_take_common(const char *what, int argc, char **argv, int *i, struct cmd_common *c);

/* Loads the settings and opens the store the options name. On failure prints "WHAT: message",
 * frees what it made and returns 1 (*cfg and *db are NULL); 0 when both are open (the caller
 * closes the store, then frees the settings). */
int cmd_open_store(const char *what, const struct cmd_common *c, config **cfg, store **db);

#endif
