/* livefeat.h — the feature vector of a live chat turn for contextual policies (linucb, lints):
 * x = [1, positive, negative, ambiguous, neutral, log1p(turns), sin(2*pi*h/24),
 * cos(2*pi*h/24)] where each group value is the summed score of the turn's top-k emotions in
 * that group (capped at 1), turns counts the conversation's earlier turns and h is the UTC hour
 * of day with its fraction. Its JSON form is in bandit/featvec.h. Pure: no I/O, no globals. */
#ifndef LIVEFEAT_H
#define LIVEFEAT_H

#include <jansson.h>
#include <stddef.h>

#include "bandit/featvec.h"
#include "emotion/emotion.h"
#include "base/pb.h"

/* Fills x from the turn's emotions (n may be 0), earlier turns (>= 0) and Unix time. */
void livefeat_build(const struct emotion_result *emotions, size_t n, long turns, double unix_time,
                    double x[FEATVEC_DIM]);

#endif
