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
