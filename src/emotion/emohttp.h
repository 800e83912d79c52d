/* emohttp.h — the remote emotion classifier backend: POSTs {"inputs": text} to a URL that
 * serves a real model (Hugging Face text-embeddings-inference /predict, the HF Inference API,
 * or anything answering the same shapes) with libcurl and a deadline, and reads the labels.
 * It is not the LLM provider and knows nothing about models on disk. Thread-safe: one curl
 * handle per call. */
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
pb_status emohttp_classify(const emohttp *h, const char *text, size_t len,
                           struct emohttp_label *out, size_t cap, size_t *n, char *err);

/* Parses an answer body: [{label, score}...], [[{label, score}...]], {label, score}, or an
 * object whose "predictions" / "labels"+"scores" hold them. Sorted by score, at most cap kept. */
pb_status emohttp_parse(const char *body, size_t len, struct emohttp_label *out, size_t cap,
                        size_t *n, char *err);

#endif
