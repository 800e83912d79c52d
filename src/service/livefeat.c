/* livefeat.c — building, parsing and printing the live contextual feature vector. */
#include "service/livefeat.h"

#include <math.h>
#include <string.h>

#define LIVEFEAT_PI 3.14159265358979323846

void livefeat_build(const struct emotion_result *emotions, size_t n, long turns, double unix_time,
                    double x[FEATVEC_DIM])
{
    static const char *const groups[] = {"positive", "negative", "ambiguous", "neutral"};
    memset(x, 0, FEATVEC_DIM * sizeof *x);
    x[0] = 1;
    for (size_t i = 0; i < n; i++)
        for (size_t g = 0; g < 4; g++)
            if (strcmp(emotions[i].group, groups[g]) == 0 && isfinite(emotions[i].score))
                x[1 + g] = fmin(1.0, x[1 + g] + fmax(0.0, emotions[i].score));
    x[5] = log1p(turns > 0 ? (double)turns : 0.0);
    double h = fmod(unix_time, 86400.0) / 3600.0;
    x[6] = sin(2 * LIVEFEAT_PI * h / 24.0);
    x[7] = cos(2 * LIVEFEAT_PI * h / 24.0);
}
