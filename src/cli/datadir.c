/* datadir.c — the installed data folder beside the binary, and settings defaults pointed at it. */
#include "datadir.h"

#include "base/config.h"
#include "base/pb.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int datadir_find(char *buf, size_t len)
{
    char exe[PATH_MAX];
    struct stat st;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return 0;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return 0;
    *slash = '\0'; /* PREFIX/bin */
    char data[PATH_MAX + 32], real[PATH_MAX];
    snprintf(data, sizeof data, "%s/../share/promptbandit", exe);
    if (!realpath(data, real) || stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
        return 0;
    int w = snprintf(buf, len, "%s", real);
    return w > 0 && (size_t)w < len;
}

void datadir_apply(const char *config_path)
{
    static const struct {
        const char *key, *env;
    } paths[] = {{"prompts.dir", "PB_PROMPTS_DIR"},
                 {"emotion.model", "PB_EMOTION_MODEL"},
                 {"run.scenarios", "PB_RUN_SCENARIOS"}};
    char dir[PATH_MAX], err[PB_ERR_LEN];
    config *cfg = NULL;
    if (!datadir_find(dir, sizeof dir) || config_load(config_path, &cfg, err) != PB_OK)
        return;
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        const char *value = config_str(cfg, paths[i].key);
        char installed[PATH_MAX + 256];
        struct stat st;
        if (strcmp(config_source(cfg, paths[i].key), "default") != 0 || value[0] == '/' ||
            stat(value, &st) == 0)
            continue;
        snprintf(installed, sizeof installed, "%s/%s", dir, value);
        if (stat(installed, &st) == 0)
            setenv(paths[i].env, installed, 0);
    }
    config_free(cfg);
}
