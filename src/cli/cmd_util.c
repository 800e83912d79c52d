/* cmd_util.c — small helpers shared by the subcommands: --help detection, the one parser of
 * --config/--db and opening the settings and the store they name. */
#include "cmd.h"

#include <stdio.h>
#include <string.h>

#include "base/config.h"
#include "base/pb.h"
#include "store/store.h"

int cmd_is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "help") == 0;
}

const struct cmd_action *cmd_action_find(const struct cmd_action *acts, size_t n, const char *name)
{
    for (size_t i = 0; name && i < n; i++)
        if (strcmp(acts[i].name, name) == 0)
            return &acts[i];
    return NULL;
}

int cmd_action_help(const struct cmd_action *acts, size_t n, int argc, char **argv)
{
    const struct cmd_action *act = argc >= 2 ? cmd_action_find(acts, n, argv[1]) : NULL;
    if (act && !act->help) /* an action that answers --help itself */
        return 0;
    for (int i = 2; act && i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(act->help, stdout);
            return 1;
        }
    return 0;
}

static void list_names(FILE *out, const struct cmd_action *acts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s%s", i ? ", " : "", acts[i].name);
}

int cmd_unknown_action(const char *command, const char *got, const struct cmd_action *acts,
                       size_t n)
{
    fprintf(stderr, "%s: unknown action '%s'; the actions are ", command, got);
    list_names(stderr, acts, n);
    fprintf(stderr, " (promptbandit %s --help)\n", command);
    return 2;
}

void cmd_actions_line(FILE *out, const struct cmd_action *acts, size_t n)
{
    fputs("actions: ", out);
    list_names(out, acts, n);
    fputs("\n", out);
}

int cmd_take_common(const char *what, int argc, char **argv, int *i, struct cmd_common *c)
{
    const char **slot = !strcmp(argv[*i], "--config") ? &c->config
                        : !strcmp(argv[*i], "--db")   ? &c->db
                                                      : NULL;
    if (!slot)
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: %s needs a value\n", what, argv[*i]);
        return -1;
    }
    *slot = argv[++*i];
    return 1;
}

int cmd_open_store(const char *what, const struct cmd_common *c, config **cfg, store **db)
{
    char err[PB_ERR_LEN];
    *cfg = NULL;
    *db = NULL;
    if (config_load(c->config, cfg, err) == PB_OK &&
        store_open_config(*cfg, c->db, db, err) == PB_OK)
        return 0;
    fprintf(stderr, "%s: %s\n", what, err);
    config_free(*cfg);
    *cfg = NULL;
    return 1;
}
