/* livefeat.c — building, parsing and printing the live contextual feature vector. */
#include "livefeat.h"

#include <math.h>
#include <string.h>

#define LIVEFEAT_PI 3.14159265358979323846

const char *const livefeat_names[LIVEFEAT_DIM] = {"bias",    "positive",    "negative", "ambiguous",
                                                  "neutral", "log1p_turns", "hour_sin", "hour_cos"};

void livefeat_build(const struct emotion_result *emotions, size_t n, long turns, double unix_time,
                    double x[LIVEFEAT_DIM])
{
    static const char *const groups[] = {"positive", "negative", "ambiguous", "neutral"};
    memset(x, 0, LIVEFEAT_DIM * sizeof *x);
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

int livefeat_from_json(const json_t *features, double x[LIVEFEAT_DIM], char *err)
{
    if (!json_is_array(features) || json_array_size(features) != LIVEFEAT_DIM)
        return pb_errf(err, PB_ERR_INVALID,
                       "field 'features' must be an array of %d numbers [bias, positive, "
                       "negative, ambiguous, neutral, log1p_turns, hour_sin, hour_cos], got %zu",
                       LIVEFEAT_DIM, json_is_array(features) ? json_array_size(features) : 0);
    for (size_t i = 0; i < LIVEFEAT_DIM; i++) {
        json_t *v = json_array_get(features, i);
        double d = json_number_value(v);
        if (!json_is_number(v) || !isfinite(d) || fabs(d) > 1e6)
            return pb_errf(err, PB_ERR_INVALID,
                           "features[%zu] (%s) must be a finite number within +-1e6", i,
                           livefeat_names[i]);
        x[i] = d;
    }
    return PB_OK;
}

int livefeat_from_context(const char *context_json, double x[LIVEFEAT_DIM], char *err)
{
    json_t *ctx = context_json ? json_loads(context_json, 0, NULL) : NULL;
    json_t *f = json_object_get(ctx, "features");
    int rc = f ? livefeat_from_json(f, x, err) : 0;
    json_decref(ctx);
    return rc == PB_OK && f ? 1 : rc;
}

json_t *livefeat_json(const double x[LIVEFEAT_DIM])
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < LIVEFEAT_DIM; i++)
        json_array_append_new(a, json_real(x[i]));
    return a;
}
