/* cmd.h — the subcommands of the promptbandit executable. Each lives in its own
 * src/cli/cmd_<name>.c, parses its arguments, calls the library, prints, and returns a
 * process exit code (0 ok, 1 failure, 2 usage error). No logic beyond that. */
#ifndef CMD_H
#define CMD_H

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
