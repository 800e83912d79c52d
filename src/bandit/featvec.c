/* featvec.c — parsing and printing the contextual feature vector. */
#include "bandit/featvec.h"

#include <math.h>

const char *const featvec_names[FEATVEC_DIM] = {"bias",    "positive",    "negative", "ambiguous",
                                                "neutral", "log1p_turns", "hour_sin", "hour_cos"};

pb_status featvec_from_json(const json_t *features, double x[FEATVEC_DIM], char *err)
{
    if (!json_is_array(features) || json_array_size(features) != FEATVEC_DIM)
        return pb_errf(err, PB_ERR_INVALID,
                       "field 'features' must be an array of %d numbers [bias, positive, "
                       "negative, ambiguous, neutral, log1p_turns, hour_sin, hour_cos], got %zu",
                       FEATVEC_DIM, json_is_array(features) ? json_array_size(features) : 0);
    for (size_t i = 0; i < FEATVEC_DIM; i++) {
        json_t *v = json_array_get(features, i);
        double d = json_number_value(v);
        if (!json_is_number(v) || !isfinite(d) || fabs(d) > 1e6)
            return pb_errf(err, PB_ERR_INVALID,
                           "features[%zu] (%s) must be a finite number within +-1e6", i,
                           featvec_names[i]);
        x[i] = d;
    }
    return PB_OK;
}

int featvec_from_context(const char *context_json, double x[FEATVEC_DIM], char *err)
{
    json_t *ctx = context_json ? json_loads(context_json, 0, NULL) : NULL;
    json_t *f = json_object_get(ctx, "features");
    pb_status rc = f ? featvec_from_json(f, x, err) : PB_OK;
    json_decref(ctx);
    return rc == PB_OK && f ? 1 : rc;
}

json_t *featvec_json(const double x[FEATVEC_DIM])
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < FEATVEC_DIM; i++)
        json_array_append_new(a, json_real(x[i]));
    return a;
}

void featvec_append_json(struct jsonio_buf *b, const double x[FEATVEC_DIM])
{
    jsonio_buf_lit(b, "[");
    for (size_t i = 0; i < FEATVEC_DIM; i++) {
        if (i)
            jsonio_buf_lit(b, ",");
        jsonio_buf_real(b, x[i], 9);
    }
    jsonio_buf_lit(b, "]");
}
