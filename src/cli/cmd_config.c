/* cmd_config.c — `promptbandit config show`: every setting, its value and where it came from
 * (secrets shown only as "(set)"). */
#include "cmd.h"
#include "config.h"
#include "pb.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: promptbandit config show [--config FILE]\n\n"
            "Prints every setting with its value and source (env, file, default).\n"
            "A setting key like llm.base_url is read from PB_LLM_BASE_URL, or from\n"
            "{\"llm\": {\"base_url\": ...}} in the JSON file named by --config or PB_CONFIG.\n");
}

int cmd_config(int argc, char **argv)
{
    const char *file = NULL;
    if (argc < 2 || cmd_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "show") != 0) {
        fprintf(stderr, "config: unknown action '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (cmd_is_help(argv[i])) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            file = argv[++i];
        } else {
            fprintf(stderr, "config show: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    char err[PB_ERR_LEN];
    config *cfg;
    if (config_load(file, &cfg, err) != PB_OK) {
        fprintf(stderr, "config: %s\n", err);
        return 1;
    }
    for (size_t i = 0; i < config_count(); i++) {
        const char *key = config_key_at(i);
        printf("%-28s %-32s %-8s # %s\n", key, config_display(cfg, key), config_source(cfg, key),
               config_help_at(i));
    }
    config_free(cfg);
    return 0;
}
