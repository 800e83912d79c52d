/* emohttp.h — the remote emotion classifier backend: POSTs {"inputs": text} to a URL that
 * serves a real model (Hugging Face text-embeddings-inference /predict, the HF Inference API,
 * or anything answering the same shapes) with libcurl and a deadline, and reads the labels.
 * It is not the LLM provider and knows nothing about models on disk. Thread-safe: every call
 * runs on the handle's event loop (emoloop); the blocking form waits for its own. */
#ifndef EMOHTTP_H
#define EMOHTTP_H

#include "base/pb.h"
#include <stddef.h>

#define EMOHTTP_LABEL_LEN          64
#define EMOHTTP_MAX_RESPONSE_BYTES (1u << 20)

struct emohttp_label {
    char label[EMOHTTP_LABEL_LEN];
    double score;
};

typedef struct emohttp emohttp;

/* url must be http:// or https://; timeout_s bounds a whole call. *out freed by emohttp_free. */
pb_status emohttp_new(const char *url, double timeout_s, emohttp **out, char *err);
void emohttp_free(emohttp *h);

/* Classifies text; out gets up to cap labels sorted by score (highest first), *n how many.
 * Errors: PB_ERR_TIMEOUT, PB_ERR_UNAVAILABLE (connection, HTTP status), PB_ERR_INVALID (an
 * answer of an unknown shape), PB_ERR_LIMIT (answer too large). */
pb_status emohttp_classify(emohttp *h, const char *text, size_t len, struct emohttp_label *out,
                           size_t cap, size_t *n, char *err);

/* The same without a waiting thread: the call runs on the handle's event loop (emoloop,
 * started at the first call: at most `concurrency` calls running, `queue_max` waiting) and
 * done gets the labels (sorted, at most cap; valid during the call only) or the error, on the
 * loop's thread — possibly before this returns. PB_ERR_LIMIT when the loop is full,
 * PB_ERR_INVALID for text that is not UTF-8: done is then never called. */
typedef void emohttp_done_fn(pb_status rc, const struct emohttp_label *labels, size_t n,
                             const char *err, void *ud);
pb_status emohttp_classify_async(emohttp *h, const char *text, size_t len, size_t cap,
                                 emohttp_done_fn *done, void *ud, char *err);
/* The loop's calls running, waiting and refused so far: 1 once the loop exists, else 0. */
int emohttp_loop_stats(emohttp *h, long *in_flight, long *queued, long *refused);
/* Sets the loop's limits before its first call (defaults 16 and 256). */
void emohttp_set_limits(emohttp *h, int concurrency, int queue_max);

/* Parses an answer body: [{label, score}...], [[{label, score}...]], {label, score}, or an
 * object whose "predictions" / "labels"+"scores" hold them. Sorted by score, at most cap kept. */
pb_status emohttp_parse(const char *body, size_t len, struct emohttp_label *out, size_t cap,
                        size_t *n, char *err);

#endif
