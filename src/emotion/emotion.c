/* emotion.c — backend dispatch for the emotion classifier (see emotion.h). */
#include "emotion/emotion.h"

#include "emotion/emohttp.h"
#include "emotion/emolabels.h"
#include "base/pb.h"
#include "base/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum backend { B_NONE, B_EMBEDDED, B_HTTP };

struct emotion {
    enum backend backend;
    emomodel *model;
    emohttp *http;
    char note[PB_ERR_LEN];
};

pb_status emotion_open(const config *cfg, emotion **out, char *err)
{
    const char *name = config_str(cfg, "emotion.backend");
    emotion *e = calloc(1, sizeof *e);
    pb_status rc = PB_OK;
    *out = NULL;
    if (!e)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (strcmp(name, "none") == 0) {
        snprintf(e->note, sizeof e->note, "emotion.backend is none");
    } else if (strcmp(name, "embedded") == 0) {
        char why[PB_ERR_LEN];
        if (emomodel_load(config_str(cfg, "emotion.model"), &e->model, why) == PB_OK)
            e->backend = B_EMBEDDED;
        else
            snprintf(e->note, sizeof e->note, "%s", why);
    } else if (strcmp(name, "http") == 0) {
        rc = emohttp_new(config_str(cfg, "emotion.url"), config_double(cfg, "emotion.timeout_s"),
                         &e->http, err);
        e->backend = B_HTTP;
        if (rc == PB_OK)
            emohttp_set_limits(e->http, (int)config_int(cfg, "emotion.concurrency"),
                               (int)config_int(cfg, "emotion.queue_max"));
    } else {
        rc = pb_errf(err, PB_ERR_INVALID,
                     "emotion.backend must be embedded, http or none; got '%s'", name);
    }
    if (rc != PB_OK) {
        emotion_close(e);
        return rc;
    }
    *out = e;
    return PB_OK;
}

/* Copies src into dst[cap], cut at a character boundary when too long. */
static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t len = strlen(src);
    if (len >= cap) {
        len = cap - 1;
        while (len && ((unsigned char)src[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static void put(struct emotion_result *r, const char *label, const char *display, const char *group,
                double score)
{
    copy_text(r->label, sizeof r->label, label);
    copy_text(r->display, sizeof r->display, display);
    copy_text(r->group, sizeof r->group, group);
    r->score = score;
    r->segment[0] = '\0';
}

/* The best label of m whose group is segment, or -1. */
static int best_of_group(const emomodel *m, const float *s, const char *segment)
{
    int best = -1;
    for (size_t l = 0; l < emomodel_n_labels(m); l++)
        if (s[l] >= 0 && !strcmp(emomodel_label(m, l)->group, segment) &&
            (best < 0 || s[l] > s[best]))
            best = (int)l;
    return best;
}

static pb_status classify_embedded(const emomodel *m, const char *text, size_t len, size_t k,
                                   struct emotion_result *out, size_t *n, char *err)
{
    size_t L = emomodel_n_labels(m), nf = 0;
    float *s = malloc(L * sizeof *s);
    uint32_t *ids = malloc(EMOFEAT_MAX_FEATURES * sizeof *ids);
    pb_status rc = PB_OK;
    if (!s || !ids) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    if ((rc = emomodel_features(m, text, len, ids, &nf, err)) != PB_OK)
        goto cleanup;
    emomodel_scores_ids(m, ids, nf, s);
    const char *segment = emomodel_segment_ids(m, ids, nf, s);
    int first = best_of_group(m, s, segment);
    for (size_t i = 0; i < k && i < L; i++) {
        size_t best = 0;
        for (size_t l = 1; l < L; l++)
            if (s[l] > s[best])
                best = l;
        if (i == 0 && first >= 0)
            best = (size_t)first;
        const struct emomodel_label *lab = emomodel_label(m, best);
        put(&out[i], lab->name, lab->display, lab->group, s[best]);
        s[best] = -1.0f; /* below any probability: not picked again */
        *n = i + 1;
    }
    for (size_t i = 0; i < *n; i++)
        copy_text(out[i].segment, sizeof out[i].segment, segment);
cleanup:
    free(s);
    free(ids);
    return rc;
}

static void from_labels(const struct emohttp_label *got, size_t n, struct emotion_result *out);

static pb_status classify_http(emohttp *h, const char *text, size_t len, size_t k,
                               struct emotion_result *out, size_t *n, char *err)
{
    struct emohttp_label got[EMOTION_MAX_K];
    pb_status rc = emohttp_classify(h, text, len, got, k, n, err);
    if (rc == PB_OK)
        from_labels(got, *n, out);
    return rc;
}

/* The labels of a remote classifier as results (the segment: the first label's group). */
static void from_labels(const struct emohttp_label *got, size_t n, struct emotion_result *out)
{
    for (size_t i = 0; i < n; i++) {
        const char *display = emolabels_display(got[i].label);
        put(&out[i], got[i].label, display ? display : got[i].label, emolabels_group(got[i].label),
            got[i].score);
    }
    for (size_t i = 0; i < n; i++)
        copy_text(out[i].segment, sizeof out[i].segment, out[0].group);
}

/* The checks every classification starts with. */
static pb_status check_input(const char *text, size_t len, size_t k, char *err)
{
    if (k == 0 || k > EMOTION_MAX_K)
        return pb_errf(err, PB_ERR_INVALID, "k must be in 1..%d, got %zu", EMOTION_MAX_K, k);
    if (len > EMOTION_MAX_TEXT_BYTES)
        return pb_errf(err, PB_ERR_LIMIT,
                       "text is %zu bytes; the emotion classifier takes at "
                       "most %d",
                       len, EMOTION_MAX_TEXT_BYTES);
    if (!text_utf8_valid(text, len))
        return pb_errf(err, PB_ERR_INVALID, "text is not valid UTF-8");
    size_t i = 0;
    while (i < len && strchr(" \t\r\n\v\f", text[i]))
        i++;
    if (i == len)
        return pb_errf(err, PB_ERR_INVALID, "text is empty");
    return PB_OK;
}

pb_status emotion_classify(const emotion *e, const char *text, size_t len, size_t k,
                           struct emotion_result *out, size_t *n, char *err)
{
    *n = 0;
    pb_status rc = check_input(text, len, k, err);
    if (rc != PB_OK)
        return rc;
    switch (e->backend) {
    case B_EMBEDDED:
        return classify_embedded(e->model, text, len, k, out, n, err);
    case B_HTTP:
        return classify_http(e->http, text, len, k, out, n, err);
    case B_NONE:
        break;
    }
    put(&out[0], EMOLABELS_UNKNOWN, EMOLABELS_UNKNOWN_DISPLAY, "", 0.0);
    *n = 1;
    return PB_OK;
}

struct async_call {
    emotion_done_fn *done;
    void *ud;
};

static void http_done(pb_status rc, const struct emohttp_label *labels, size_t n, const char *err,
                      void *ud)
{
    struct async_call a = *(struct async_call *)ud;
    free(ud);
    struct emotion_result out[EMOTION_MAX_K];
    if (rc == PB_OK)
        from_labels(labels, n, out);
    a.done(rc, out, rc == PB_OK ? n : 0, err, a.ud);
}

int emotion_remote_stats(const emotion *e, long *in_flight, long *queued, long *refused)
{
    return e->backend == B_HTTP && emohttp_loop_stats(e->http, in_flight, queued, refused);
}

int emotion_is_remote(const emotion *e)
{
    return e->backend == B_HTTP;
}

pb_status emotion_classify_async(const emotion *e, const char *text, size_t len, size_t k,
                                 emotion_done_fn *done, void *ud, char *err)
{
    if (e->backend != B_HTTP) {
        struct emotion_result out[EMOTION_MAX_K];
        size_t n = 0;
        char why[PB_ERR_LEN] = "";
        pb_status rc = emotion_classify(e, text, len, k, out, &n, why);
        if (rc == PB_ERR_INVALID || rc == PB_ERR_LIMIT) /* the caller's input */
            return pb_errf(err, rc, "%s", why);
        done(rc, out, n, why, ud);
        return PB_OK;
    }
    pb_status rc = check_input(text, len, k, err);
    if (rc != PB_OK)
        return rc;
    struct async_call *a = malloc(sizeof *a);
    if (!a)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    *a = (struct async_call){done, ud};
    rc = emohttp_classify_async(e->http, text, len, k, http_done, a, err);
    if (rc != PB_OK)
        free(a);
    return rc;
}

const char *emotion_backend(const emotion *e)
{
    return e->backend == B_EMBEDDED ? "embedded" : e->backend == B_HTTP ? "http" : "none";
}

int emotion_is_known(const emotion *e)
{
    return e->backend != B_NONE;
}

const char *emotion_note(const emotion *e)
{
    return e->note;
}

const emomodel *emotion_model(const emotion *e)
{
    return e->model;
}

void emotion_close(emotion *e)
{
    if (!e)
        return;
    emomodel_free(e->model);
    emohttp_free(e->http);
    free(e);
}
