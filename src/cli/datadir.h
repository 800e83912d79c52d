/* datadir.h — how an installed promptbandit finds its data without the source tree. `cmake
 * --install` puts the binary in PREFIX/bin and the prompts, tasks, ratings and models in
 * PREFIX/share/promptbandit; a settings default that names a relative path (prompts.dir
 * "prompts", emotion.model "models/...", run.scenarios "prompts/...") is resolved there when it
 * does not exist from the working directory, the environment and the settings file do not set
 * it, and the binary runs from such an install. Found from /proc/self/exe, so an install under
 * DESTDIR works too. Part of the executable; it changes only the process environment, before
 * any subcommand runs. */
#ifndef DATADIR_H
#define DATADIR_H

#include <stddef.h>

/* The data folder of the running binary's install (EXE/../share/promptbandit) into buf; 0 when
 * there is none (a build tree), else 1. */
int datadir_find(char *buf, size_t len);

/* Sets PB_PROMPTS_DIR, PB_EMOTION_MODEL and PB_RUN_SCENARIOS to the install's files when the
 * rule above says so. config_path is the --config argument (NULL: $PB_CONFIG). Quiet: when the
 * settings cannot be read, the subcommand reports that itself. */
void datadir_apply(const char *config_path);

#endif
