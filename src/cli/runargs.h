/* runargs.h — the command line of bandit-run (= promptbandit run): its actions, the options
 * each action takes and its own --help, values checked as they are read (a usage error exits 2
 * and names the valid values), and a run named by id or by the name `bandit-run list` shows.
 * Part of the executable: it parses and prints; it opens no provider and runs nothing. */
#ifndef RUNARGS_H
#define RUNARGS_H

#include <stdint.h>
#include <stdio.h>

#include "cmd.h"
#include "store/store.h"

enum runargs_action {
    RUNARGS_START,
    RUNARGS_RESUME,
    RUNARGS_REPORT,
    RUNARGS_EXPORT,
    RUNARGS_LIST,
    RUNARGS_REPLAY,
    RUNARGS_EVOLVE,
    RUNARGS_ACTIONS
};

#define RUNARGS_MAX_POLICIES 32

struct run_args {
    enum runargs_action action;
    const char *run; /* resume, report, export: RUN as given (an id or a name) */
    const char *task, *judge, *policy, *budget, *scenarios, *prompts, *rubric, *examples,
        *local_model, *name, *out, *events, *stop, *meta;
    struct cmd_common common; /* --config, --db */
    long iterations, batch, concurrency, attempts;
    long generations, propose;             /* evolve */
    double price_prompt, price_completion; /* < 0: the settings' */
    double max_failure_share;              /* < 0: RUNARGS_MAX_FAILURE_SHARE */
    unsigned long long seed;
    int has_seed, dry_run, json, quiet;
    const char *policies[RUNARGS_MAX_POLICIES]; /* replay: --policy split at commas */
    int n_policies;
};

/* A finished run exits 1 when more than this share of its steps failed. */
#define RUNARGS_MAX_FAILURE_SHARE 0.2

/* Parses argv (argv[0] is "bandit-run" or "run"). Returns -1 when the caller should go on with
 * *a filled, else the exit status: 0 after printing a help asked for, 2 after a usage error
 * printed on stderr. */
int runargs_parse(int argc, char **argv, struct run_args *a);

/* Prints the help of one action (RUNARGS_START: the general help). */
void runargs_usage(enum runargs_action action, FILE *out);

/* The run that ref names: a run id, or a run name as `bandit-run list` shows it (the newest
 * run of that name; stderr says when others share it). Returns 0 with *id set, else prints why,
 * with the runs there are, and returns the exit status (2: no such run, 1: database error). */
int runargs_find_run(store *db, const char *ref, int64_t *id);

#endif
