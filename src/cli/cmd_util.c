/* cmd_util.c — small helpers shared by the subcommands. */
#include "cmd.h"

#include <string.h>

int cmd_is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "help") == 0;
}
