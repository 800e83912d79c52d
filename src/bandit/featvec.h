/* featvec.h — the feature vector a contextual policy sees for one live chat turn, as data:
 * its dimension, the names of its dimensions, and its JSON form (the "features" array of an
 * impression's context). The store keeps it and the service builds it (service/livefeat.h says
 * what each dimension means); this module lives in bandit/ so that both may include it. Pure:
 * no I/O, no globals. */
#ifndef FEATVEC_H
#define FEATVEC_H

#include <jansson.h>

#include "base/jsonio.h"
#include "base/pb.h"

#define FEATVEC_DIM 8

/* Names of the dimensions, in order (for docs and exports). */
extern const char *const featvec_names[FEATVEC_DIM];

/* x from context JSON text's "features": 1 found, 0 absent (no context, not JSON, no such
 * field), PB_ERR_INVALID when present but not FEATVEC_DIM finite numbers (err says so). */
int featvec_from_context(const char *context_json, double x[FEATVEC_DIM], char *err);

/* Checks a features array a client sent: FEATVEC_DIM finite numbers, |x_i| <= 1e6. */
pb_status featvec_from_json(const json_t *features, double x[FEATVEC_DIM], char *err);

/* A new JSON array of x. */
json_t *featvec_json(const double x[FEATVEC_DIM]);

/* The same array appended as JSON text, each value to 9 significant digits (integral values
 * as integers): what a live impression's context stores, built without a json_t tree. */
void featvec_append_json(struct jsonio_buf *b, const double x[FEATVEC_DIM]);

#endif
