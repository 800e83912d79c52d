/* cmd.h — the subcommands of the promptbandit executable. Each lives in its own
 * src/cli/cmd_<name>.c, parses its arguments, calls the library, prints, and returns a
 * process exit code (0 ok, 1 failure, 2 usage error). No logic beyond that. */
#ifndef CMD_H
#define CMD_H

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
/* `prompts propose` lives with the judge code (cmd_propose.c); cmd_prompts dispatches to it. */
PB_CMD(prompts_propose);
#undef PB_CMD

/* Shared helpers for subcommands (cmd_util.c). */
int cmd_is_help(const char *arg);

#endif
