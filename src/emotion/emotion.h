/* emotion.h — the emotion classifier the pipeline uses: classify(text) -> top-k labels with a
 * Korean display name, a sentiment group and a score, and the sentence's segment (positive /
 * negative / neutral) that the service's per-segment bandits learn from. Backends: "embedded" (an
 * emomodel file, the default), "http" (a remote classifier, emohttp) and "none". Opening never
 * fails because a model is missing or broken: the handle then answers "unknown" and emotion_note
 * says why. A handle is immutable after opening; emotion_classify is thread-safe on a shared
 * handle. */
#ifndef EMOTION_H
#define EMOTION_H

#include "base/pb.h"
#include "base/config.h"
#include "emotion/emomodel.h"

#include <stddef.h>

#define EMOTION_LABEL_LEN 64
/* Longer texts are refused (PB_ERR_LIMIT); the embedded model reads only the first
 * EMOFEAT_MAX_CHARS characters anyway. */
#define EMOTION_MAX_TEXT_BYTES 65536
#define EMOTION_MAX_K          64

struct emotion_result {
    char label[EMOTION_LABEL_LEN];   /* English name or id, "unknown" when no classifier */
    char display[EMOTION_LABEL_LEN]; /* Korean word for the chat prompt */
    char group[16];                  /* positive / negative / ambiguous / neutral / "" */
    double score;                    /* probability-like, in [0, 1] */
    /* The sentence's segment, the same in every entry of one call: the model's segment head
     * (positive / negative / neutral) when it has one, else the group of the first label;
     * "" when unknown. */
    char segment[16];
};

typedef struct emotion emotion;

/* Opens the backend named by emotion.backend with emotion.model / emotion.url /
 * emotion.timeout_s. Fails only on settings that cannot work (unknown backend, http without
 * a URL): PB_ERR_INVALID. *out freed by emotion_close. */
pb_status emotion_open(const config *cfg, emotion **out, char *err);

/* Top-k emotions of text (k <= EMOTION_MAX_K) into out; *n gets how many. The first is the
 * best-scoring label that agrees with the segment (neutral for a neutral sentence, a label of
 * the segment's group otherwise) when the model has such a label, so that the name in the
 * prompt and the segment tell the same story; the rest follow by score. An "unknown" handle
 * gives one result {unknown, 알 수 없음, "", 0, ""}. Errors: PB_ERR_INVALID (empty text,
 * invalid UTF-8), PB_ERR_LIMIT (text over EMOTION_MAX_TEXT_BYTES), and for http
 * PB_ERR_TIMEOUT / PB_ERR_UNAVAILABLE — callers may treat those as "unknown". */
pb_status emotion_classify(const emotion *e, const char *text, size_t len, size_t k,
                           struct emotion_result *out, size_t *n, char *err);

/* The end of an asynchronous classification: rc and err as for emotion_classify; out[0..n)
 * valid during the call only. */
typedef void emotion_done_fn(pb_status rc, const struct emotion_result *out, size_t n,
                             const char *err, void *ud);
/* Boolean: 1 when classifying waits on a remote classifier (the http backend). */
int emotion_is_remote(const emotion *e);
/* emotion_classify without holding the caller's thread while a remote classifier works: the
 * http backend's call runs on its event loop (emoloop) and done runs there, possibly before
 * this returns; the other backends classify at once and done runs before this returns. Input
 * errors (as emotion_classify's) and PB_ERR_LIMIT (the remote loop is full) are returned here
 * and done is then not called. */
pb_status emotion_classify_async(const emotion *e, const char *text, size_t len, size_t k,
                                 emotion_done_fn *done, void *ud, char *err);

/* The remote classifier's loop now: 1 with *out filled for the http backend once it has run a
 * call, else 0. */
int emotion_remote_stats(const emotion *e, long *in_flight, long *queued, long *refused);

/* "embedded", "http" or "none" (also when the embedded model could not be loaded). */
const char *emotion_backend(const emotion *e);
/* Boolean: 1 when the handle can classify, 0 when it answers "unknown". */
int emotion_is_known(const emotion *e);
/* Why the handle answers "unknown" ("" when it does not): for logs and /healthz. */
const char *emotion_note(const emotion *e);
/* The embedded model, or NULL. */
const emomodel *emotion_model(const emotion *e);

void emotion_close(emotion *e);

#endif
