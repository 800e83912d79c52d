/* livefeat.h — the feature vector of a live chat turn for contextual policies (linucb, lints):
 * x = [1, positive, negative, ambiguous, neutral, log1p(turns), sin(2*pi*h/24),
 * cos(2*pi*h/24)] where each group value is the summed score of the turn's top-k emotions in
 * that group (capped at 1), turns counts the conversation's earlier turns and h is the UTC hour
 * of day with its fraction. Also reads and writes it as the "features" array of an
 * impression's context JSON. Pure: no I/O, no globals. */
#ifndef LIVEFEAT_H
#define LIVEFEAT_H

#include <jansson.h>
#include <stddef.h>

#include "emotion.h"
#include "pb.h"

#define LIVEFEAT_DIM 8

/* Names of the dimensions, in order (for docs and exports). */
extern const char *const livefeat_names[LIVEFEAT_DIM];

/* Fills x from the turn's emotions (n may be 0), earlier turns (>= 0) and Unix time. */
void livefeat_build(const struct emotion_result *emotions, size_t n, long turns, double unix_time,
                    double x[LIVEFEAT_DIM]);

/* x from context JSON text's "features": 1 found, 0 absent (no context, not JSON, no such
 * field), PB_ERR_INVALID when present but not LIVEFEAT_DIM finite numbers (err says so). */
int livefeat_from_context(const char *context_json, double x[LIVEFEAT_DIM], char *err);

/* Checks a features array a client sent: LIVEFEAT_DIM finite numbers, |x_i| <= 1e6. */
int livefeat_from_json(const json_t *features, double x[LIVEFEAT_DIM], char *err);

/* A new JSON array of x. */
json_t *livefeat_json(const double x[LIVEFEAT_DIM]);

#endif
