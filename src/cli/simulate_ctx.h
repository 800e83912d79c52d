/* simulate_ctx.h — the contextual half of `promptbandit simulate` (cmd_simulate_ctx.c):
 * contextual worlds, event-log generation and offline contextual evaluation. cmd_simulate
 * hands over when it sees --world, --context-file or --replay-contextual. */
#ifndef SIMULATE_CTX_H
#define SIMULATE_CTX_H

#include <stdio.h>

/* 1 when argv holds an option that belongs to the contextual mode. */
int simulate_ctx_wanted(int argc, char **argv);

/* Same contract as a subcommand: 0 ok, 1 failure, 2 usage. */
int simulate_ctx_main(int argc, char **argv);

/* The contextual part of `simulate --help`. */
void simulate_ctx_usage(FILE *out);

#endif
