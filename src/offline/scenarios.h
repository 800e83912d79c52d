/* scenarios.h — the scenarios file of bandit-run: opening sentences, each with an optional
 * emotion, one per line ("sentence" or "sentence<TAB>emotion"; blank lines and lines starting
 * with '#' are skipped), plus the file's SHA-256 so a resumed run can tell that it changed.
 * Split out of offline.c; owns parsing and the loaded lines. It must not choose the scenario
 * of an iteration (offline does) nor touch the database. */
#ifndef SCENARIOS_H
#define SCENARIOS_H

#include <stddef.h>

#include "base/pb.h"

struct scenarios {
    char **sentence, **emotion; /* emotion[i] may be NULL */
    size_t n;
    char sha256[65]; /* of the whole file, hex */
};

/* Reads a scenarios file (UTF-8, at least one scenario) into *out; caller frees with
 * scenarios_free (also on failure it is safe to call). PB_ERR_INVALID names the bad line. */
pb_status scenarios_load(const char *path, struct scenarios *out, char *err);
void scenarios_free(struct scenarios *s);

#endif
