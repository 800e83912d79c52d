/* ctxworld.c — the synthetic contextual world: spec and JSON parsing, range checks, context
 * and reward draws, oracle values. Owns no memory beyond the caller's struct; must not read
 * files or print. Reward draws reuse the simulator's arm kinds (sim.h). */
#include "sim/ctxworld.h"

#include "base/pb.h"
#include "sim/simarm.h"

#include <errno.h>
#include <gsl/gsl_randist.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* emotion4: the four GoEmotions sentiment groups, with arm A (empathic) best when negative,
 * C (cheerful) best when positive, D (curious) for ambiguous and neutral, B never worst. */
static const char *const emotion4_segments[] = {"negative", "positive", "ambiguous", "neutral"};
static const double emotion4_freq[] = {0.35, 0.30, 0.15, 0.20};
static const double emotion4_means[4][4] = {
    {0.50, 0.30, -0.20, 0.10},
    {0.10, 0.30, 0.60, 0.20},
    {0.20, 0.30, 0.10, 0.45},
    {0.00, 0.30, 0.30, 0.40},
};

static void set_default_names(ctxworld *w)
{
    for (size_t a = 0; a < CTXWORLD_MAX_ARMS; a++)
        snprintf(w->arm_name[a], CTXWORLD_NAME_LEN, "%c", (char)('A' + a));
    for (size_t s = 0; s < CTXWORLD_MAX_SEGMENTS; s++)
        snprintf(w->segment_name[s], CTXWORLD_NAME_LEN, "s%zu", s + 1);
}

static void world_defaults(ctxworld *w)
{
    memset(w, 0, sizeof *w);
    set_default_names(w);
    w->reward = CTXWORLD_DISCRETE;
    w->sd = 0.5;
    w->noise = 0.2;
    w->extras = 1;
}

static void load_emotion4(ctxworld *w)
{
    w->n_segments = w->n_arms = 4;
    for (size_t s = 0; s < 4; s++) {
        snprintf(w->segment_name[s], CTXWORLD_NAME_LEN, "%s", emotion4_segments[s]);
        w->freq[s] = emotion4_freq[s];
        for (size_t a = 0; a < 4; a++)
            w->mean[s][a] = emotion4_means[s][a];
    }
}

/* Parses a finite number from s[0..len). */
static int number(const char *s, size_t len, double *out)
{
    char buf[64], *end;
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    double v = strtod(buf, &end);
    if (end == buf || *end || errno || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* "a/b/c" into vals (at most cap); returns the count or -1. */
static long number_list(const char *s, size_t len, double *vals, size_t cap)
{
    size_t n = 0, pos = 0;
    while (pos <= len) {
        size_t k = 0;
        while (pos + k < len && s[pos + k] != '/')
            k++;
        if (n == cap || number(s + pos, k, &vals[n]) != 0)
            return -1;
        n++;
        pos += k + 1;
    }
    return (long)n;
}

/* means=M|M|...: one segment per '|', arms per '/'. */
static pb_status parse_means(ctxworld *w, const char *v, size_t len, char *err)
{
    size_t pos = 0, s = 0;
    while (pos <= len) {
        size_t k = 0;
        while (pos + k < len && v[pos + k] != '|')
            k++;
        if (s == CTXWORLD_MAX_SEGMENTS)
            return pb_errf(err, PB_ERR_INVALID, "world: at most %d segments",
                           CTXWORLD_MAX_SEGMENTS);
        long n = number_list(v + pos, k, w->mean[s], CTXWORLD_MAX_ARMS);
        if (n < 0)
            return pb_errf(err, PB_ERR_INVALID,
                           "world: means of segment %zu '%.*s' must be 1..%d numbers split by '/'",
                           s + 1, (int)(k > 40 ? 40 : k), v + pos, CTXWORLD_MAX_ARMS);
        if (s > 0 && (size_t)n != w->n_arms)
            return pb_errf(err, PB_ERR_INVALID,
                           "world: segment %zu has %ld arm means, segment 1 has %zu", s + 1, n,
                           w->n_arms);
        w->n_arms = (size_t)n;
        s++;
        pos += k + 1;
    }
    w->n_segments = s;
    for (size_t i = 0; i < s; i++)
        w->freq[i] = 1.0 / (double)s;
    return PB_OK;
}

static int parse_reward_kind(const char *v, size_t len, ctxworld_reward *out)
{
    static const char *const names[] = {"discrete", "bernoulli", "gaussian"};
    for (int i = 0; i < 3; i++)
        if (strlen(names[i]) == len && !strncmp(names[i], v, len)) {
            *out = (ctxworld_reward)i;
            return 0;
        }
    return -1;
}

/* One key=value item of the spec (means= is handled before, since it sets the sizes). */
static pb_status parse_item(ctxworld *w, const char *item, size_t len, char *err)
{
    const char *eq = memchr(item, '=', len);
    size_t klen = eq ? (size_t)(eq - item) : len, vlen = eq ? len - klen - 1 : 0;
    const char *v = eq ? eq + 1 : "";
    double d;
    if (klen == 4 && !strncmp(item, "freq", 4)) {
        double f[CTXWORLD_MAX_SEGMENTS];
        long n = number_list(v, vlen, f, CTXWORLD_MAX_SEGMENTS);
        if (n != (long)w->n_segments)
            return pb_errf(err, PB_ERR_INVALID,
                           "world: freq needs %zu numbers split by '/' (one per segment)",
                           w->n_segments);
        memcpy(w->freq, f, (size_t)n * sizeof *f);
    } else if (klen == 5 && !strncmp(item, "noise", 5) && number(v, vlen, &d) == 0) {
        w->noise = d;
    } else if (klen == 2 && !strncmp(item, "sd", 2) && number(v, vlen, &d) == 0) {
        w->sd = d;
    } else if (klen == 6 && !strncmp(item, "reward", 6)) {
        if (parse_reward_kind(v, vlen, &w->reward) != 0)
            return pb_errf(err, PB_ERR_INVALID,
                           "world: reward must be discrete, bernoulli or gaussian");
    } else if (klen == 8 && !strncmp(item, "features", 8) &&
               ((vlen == 4 && !strncmp(v, "full", 4)) || (vlen == 6 && !strncmp(v, "groups", 6)))) {
        w->extras = vlen == 4;
    } else {
        return pb_errf(err, PB_ERR_INVALID,
                       "world: bad item '%.*s' (keys: means, freq, noise, reward, sd, "
                       "features=full|groups)",
                       (int)(len > 40 ? 40 : len), item);
    }
    return PB_OK;
}

pb_status ctxworld_parse(const char *spec, ctxworld *out, char *err)
{
    ctxworld w;
    world_defaults(&w);
    if (strncmp(spec, "contextual:", 11) != 0)
        return pb_errf(err, PB_ERR_INVALID,
                       "world '%.40s': expected contextual:emotion4[,key=value...] or "
                       "contextual:means=M/M|M/M[,...]",
                       spec);
    const char *p = spec + 11;
    size_t len = strcspn(p, ",");
    pb_status rc = PB_OK;
    if (len == 8 && !strncmp(p, "emotion4", 8))
        load_emotion4(&w);
    else if (len > 6 && !strncmp(p, "means=", 6))
        rc = parse_means(&w, p + 6, len - 6, err);
    else
        return pb_errf(err, PB_ERR_INVALID,
                       "world: start with emotion4 or means=... after 'contextual:', got '%.*s'",
                       (int)(len > 40 ? 40 : len), p);
    p += len + (p[len] == ',');
    while (rc == PB_OK && *p) {
        len = strcspn(p, ",");
        rc = parse_item(&w, p, len, err);
        p += len + (p[len] == ',');
    }
    if (rc == PB_OK)
        rc = ctxworld_check(&w, err);
    if (rc == PB_OK)
        *out = w;
    return rc;
}

/* ---- JSON ------------------------------------------------------------------------------ */

static pb_status json_names(json_t *arms, ctxworld *w, char *err)
{
    if (!arms)
        return PB_OK;
    if (!json_is_array(arms) || json_array_size(arms) != w->n_arms)
        return pb_errf(err, PB_ERR_INVALID,
                       "world: \"arms\" must be %zu names, one per mean of a segment", w->n_arms);
    for (size_t a = 0; a < w->n_arms; a++) {
        const char *name = json_string_value(json_array_get(arms, a));
        if (!name || !*name || strlen(name) >= CTXWORLD_NAME_LEN)
            return pb_errf(err, PB_ERR_INVALID, "world: arm name %zu must be 1..%d characters",
                           a + 1, CTXWORLD_NAME_LEN - 1);
        snprintf(w->arm_name[a], CTXWORLD_NAME_LEN, "%s", name);
    }
    return PB_OK;
}

static pb_status json_segment(json_t *o, size_t s, ctxworld *w, char *err)
{
    json_t *means = json_object_get(o, "means"), *freq = json_object_get(o, "freq");
    const char *name = json_string_value(json_object_get(o, "name"));
    if (!json_is_object(o) || !json_is_array(means) || json_array_size(means) == 0 ||
        json_array_size(means) > CTXWORLD_MAX_ARMS)
        return pb_errf(err, PB_ERR_INVALID,
                       "world: segment %zu must be an object with \"means\" (1..%d numbers)", s + 1,
                       CTXWORLD_MAX_ARMS);
    if (s > 0 && json_array_size(means) != w->n_arms)
        return pb_errf(err, PB_ERR_INVALID, "world: segment %zu has %zu arm means, segment 1 %zu",
                       s + 1, json_array_size(means), w->n_arms);
    w->n_arms = json_array_size(means);
    for (size_t a = 0; a < w->n_arms; a++) {
        json_t *m = json_array_get(means, a);
        if (!json_is_number(m))
            return pb_errf(err, PB_ERR_INVALID, "world: segment %zu mean %zu is not a number",
                           s + 1, a + 1);
        w->mean[s][a] = json_number_value(m);
    }
    if (freq && !json_is_number(freq))
        return pb_errf(err, PB_ERR_INVALID, "world: segment %zu \"freq\" must be a number", s + 1);
    w->freq[s] = freq ? json_number_value(freq) : 1;
    if (name && (!*name || strlen(name) >= CTXWORLD_NAME_LEN))
        return pb_errf(err, PB_ERR_INVALID, "world: segment %zu name must be 1..%d characters",
                       s + 1, CTXWORLD_NAME_LEN - 1);
    if (name)
        snprintf(w->segment_name[s], CTXWORLD_NAME_LEN, "%s", name);
    return PB_OK;
}

static pb_status json_options(json_t *root, ctxworld *w, char *err)
{
    json_t *noise = json_object_get(root, "noise"), *sd = json_object_get(root, "sd");
    json_t *reward = json_object_get(root, "reward"), *features = json_object_get(root, "features");
    if ((noise && !json_is_number(noise)) || (sd && !json_is_number(sd)))
        return pb_errf(err, PB_ERR_INVALID, "world: \"noise\" and \"sd\" must be numbers");
    if (noise)
        w->noise = json_number_value(noise);
    if (sd)
        w->sd = json_number_value(sd);
    const char *r = json_string_value(reward), *f = json_string_value(features);
    if (reward && (!r || parse_reward_kind(r, strlen(r), &w->reward) != 0))
        return pb_errf(err, PB_ERR_INVALID,
                       "world: \"reward\" must be \"discrete\", \"bernoulli\" or \"gaussian\"");
    if (features && (!f || (strcmp(f, "full") != 0 && strcmp(f, "groups") != 0)))
        return pb_errf(err, PB_ERR_INVALID, "world: \"features\" must be \"full\" or \"groups\"");
    if (f)
        w->extras = !strcmp(f, "full");
    return PB_OK;
}

pb_status ctxworld_from_json(const char *text, ctxworld *out, char *err)
{
    json_error_t jerr;
    ctxworld w;
    world_defaults(&w);
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return pb_errf(err, PB_ERR_INVALID, "world file line %d: %s", jerr.line, jerr.text);
    json_t *segs = json_object_get(root, "segments");
    pb_status rc = PB_OK;
    if (!json_is_array(segs) || json_array_size(segs) == 0 ||
        json_array_size(segs) > CTXWORLD_MAX_SEGMENTS)
        rc = pb_errf(err, PB_ERR_INVALID, "world: expected {\"segments\": [1..%d segments], ...}",
                     CTXWORLD_MAX_SEGMENTS);
    for (size_t s = 0; rc == PB_OK && s < json_array_size(segs); s++)
        rc = json_segment(json_array_get(segs, s), s, &w, err);
    if (rc == PB_OK) {
        w.n_segments = json_array_size(segs);
        rc = json_names(json_object_get(root, "arms"), &w, err);
    }
    if (rc == PB_OK)
        rc = json_options(root, &w, err);
    if (rc == PB_OK)
        rc = ctxworld_check(&w, err);
    if (rc == PB_OK)
        *out = w;
    json_decref(root);
    return rc;
}

/* ---- checks and draws ------------------------------------------------------------------ */

static sim_arm gaussian_arm(double loc, double sd)
{
    return (sim_arm){.kind = SIM_GAUSSIAN, .mean = loc, .sd = sd};
}

/* Location whose clipped normal has mean m (monotone in the location, so bisection). */
static double solve_loc(double m, double sd)
{
    double lo = -2 - 10 * sd, hi = 2 + 10 * sd;
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        sim_arm a = gaussian_arm(mid, sd);
        if (sim_arm_mean(&a) < m)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

pb_status ctxworld_check(ctxworld *w, char *err)
{
    if (w->n_segments < 1 || w->n_segments > CTXWORLD_MAX_SEGMENTS || w->n_arms < 1 ||
        w->n_arms > CTXWORLD_MAX_ARMS)
        return pb_errf(err, PB_ERR_INVALID, "world: needs 1..%d segments and 1..%d arms",
                       CTXWORLD_MAX_SEGMENTS, CTXWORLD_MAX_ARMS);
    if (!(w->noise >= 0 && w->noise < 1))
        return pb_errf(err, PB_ERR_INVALID, "world: noise must be in [0, 1), got %g", w->noise);
    if (!(w->sd > 0 && w->sd <= 10))
        return pb_errf(err, PB_ERR_INVALID, "world: sd must be in (0, 10], got %g", w->sd);
    double total = 0;
    for (size_t s = 0; s < w->n_segments; s++) {
        if (!(w->freq[s] >= 0 && isfinite(w->freq[s])))
            return pb_errf(err, PB_ERR_INVALID, "world: freq of segment %zu must be >= 0, got %g",
                           s + 1, w->freq[s]);
        total += w->freq[s];
        for (size_t a = 0; a < w->n_arms; a++)
            if (!(w->mean[s][a] >= -1 && w->mean[s][a] <= 1))
                return pb_errf(err, PB_ERR_INVALID,
                               "world: mean of arm %zu in segment %zu must be in [-1, 1], got %g",
                               a + 1, s + 1, w->mean[s][a]);
    }
    if (!(total > 0))
        return pb_errf(err, PB_ERR_INVALID, "world: segment frequencies sum to 0");
    for (size_t s = 0; s < w->n_segments; s++) {
        w->freq[s] /= total;
        for (size_t a = 0; a < w->n_arms && w->reward == CTXWORLD_GAUSSIAN; a++)
            w->loc[s][a] = solve_loc(w->mean[s][a], w->sd);
    }
    return PB_OK;
}

size_t ctxworld_dim(const ctxworld *w)
{
    return 1 + w->n_segments + (w->extras ? 3 : 0);
}

void ctxworld_draw_context(const ctxworld *w, gsl_rng *rng, ctxworld_context *out)
{
    size_t S = w->n_segments, s = S - 1;
    double u = gsl_rng_uniform(rng), alpha[CTXWORLD_MAX_SEGMENTS], g[CTXWORLD_MAX_SEGMENTS];
    for (size_t i = 0; i < S; i++) {
        if (u < w->freq[i]) {
            s = i;
            break;
        }
        u -= w->freq[i];
    }
    for (size_t i = 0; i < S; i++)
        alpha[i] = 1;
    gsl_ran_dirichlet(rng, S, alpha, g); /* drawn even when noise is 0: same streams */
    out->segment = s;
    out->observed = 0;
    out->x[0] = 1;
    for (size_t i = 0; i < S; i++) {
        out->x[1 + i] = (1 - w->noise) * (i == s) + w->noise * g[i];
        if (out->x[1 + i] > out->x[1 + out->observed])
            out->observed = i;
    }
    /* conversation length: turns ~ Geometric(0.15) (mean 6.7), capped at 50, scaled to (0, 1] */
    unsigned turns = gsl_ran_geometric(rng, 0.15);
    unsigned hour = (unsigned)gsl_rng_uniform_int(rng, 24);
    if (w->extras) {
        out->x[S + 1] = (turns > 50 ? 50 : turns) / 50.0;
        out->x[S + 2] = sin(2 * M_PI * hour / 24.0);
        out->x[S + 3] = cos(2 * M_PI * hour / 24.0);
    }
}

double ctxworld_expected(const ctxworld *w, size_t segment, size_t arm)
{
    if (w->reward != CTXWORLD_GAUSSIAN)
        return w->mean[segment][arm];
    sim_arm a = gaussian_arm(w->loc[segment][arm], w->sd);
    return sim_arm_mean(&a);
}

double ctxworld_draw_reward(const ctxworld *w, size_t segment, size_t arm, gsl_rng *rng)
{
    double q = (1 + w->mean[segment][arm]) / 2;
    switch (w->reward) {
    case CTXWORLD_DISCRETE:
        return -1 + 0.5 * (double)gsl_ran_binomial(rng, q, 4);
    case CTXWORLD_BERNOULLI:
        return gsl_rng_uniform(rng) < q ? 1.0 : -1.0;
    case CTXWORLD_GAUSSIAN: {
        sim_arm a = gaussian_arm(w->loc[segment][arm], w->sd);
        return sim_arm_draw(&a, rng);
    }
    }
    return 0;
}

size_t ctxworld_best_arm(const ctxworld *w, size_t segment)
{
    size_t best = 0;
    for (size_t a = 1; a < w->n_arms; a++)
        if (ctxworld_expected(w, segment, a) > ctxworld_expected(w, segment, best))
            best = a;
    return best;
}

double ctxworld_oracle_value(const ctxworld *w)
{
    double v = 0;
    for (size_t s = 0; s < w->n_segments; s++)
        v += w->freq[s] * ctxworld_expected(w, s, ctxworld_best_arm(w, s));
    return v;
}

double ctxworld_arm_value(const ctxworld *w, size_t arm)
{
    double v = 0;
    for (size_t s = 0; s < w->n_segments; s++)
        v += w->freq[s] * ctxworld_expected(w, s, arm);
    return v;
}

size_t ctxworld_best_fixed_arm(const ctxworld *w)
{
    size_t best = 0;
    for (size_t a = 1; a < w->n_arms; a++)
        if (ctxworld_arm_value(w, a) > ctxworld_arm_value(w, best))
            best = a;
    return best;
}
