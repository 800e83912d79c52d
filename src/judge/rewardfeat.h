/* rewardfeat.h — the features the local reward model reads from a short Korean text: hashed
 * character 1..3-grams, words and word pairs with sublinear counts, idf weights fitted on a
 * training set, and sixteen text statistics (length, sentences, punctuation, emoji, scripts,
 * repetition). Split out of rewardmodel.c; owns extraction only. It must not fit or store a
 * model (rewardmodel does) and does no I/O. */
#ifndef REWARDFEAT_H
#define REWARDFEAT_H

#include <stddef.h>
#include <stdint.h>

#include "base/pb.h"

/* Feature layout version: bump when extraction changes, so old model files are refused. */
#define REWARDFEAT_VERSION   2
#define REWARDFEAT_HASH_BITS 18
#define REWARDFEAT_HASH_SIZE ((size_t)1 << REWARDFEAT_HASH_BITS)
#define REWARDFEAT_NGRAM_MAX 3
#define REWARDFEAT_STATS     16

/* A sparse vector over REWARDFEAT_HASH_SIZE hashed features, indices ascending and unique. */
struct rewardfeat_vec {
    uint32_t *idx;
    double *val;
    size_t n;
};

/* The hashed n-grams, words and word pairs of text, each weighted 1 + ln(count) times its idf
 * (when idf, REWARDFEAT_HASH_SIZE entries, is given; entries of 0 take idf_unseen), scaled to
 * unit length. An invalid UTF-8 text is read from its bytes. On success the caller frees *v
 * (rewardfeat_vec_free); on PB_ERR_NOMEM *v is left empty. */
pb_status rewardfeat_ngrams(const char *text, const double *idf, double idf_unseen,
                            struct rewardfeat_vec *v);
void rewardfeat_vec_free(struct rewardfeat_vec *v);

/* Dot product of v with a dense array of REWARDFEAT_HASH_SIZE entries. */
double rewardfeat_vec_dot(const struct rewardfeat_vec *v, const double *dense);

/* Smoothed idf of the n training vectors into idf (REWARDFEAT_HASH_SIZE entries, zero on
 * entry; features no vector has stay 0) and *idf_unseen, then each vector re-weighted by it
 * and scaled back to unit length: the vectors rewardfeat_ngrams would give with that idf. */
void rewardfeat_idf_fit(struct rewardfeat_vec *vs, size_t n, double *idf, double *idf_unseen);

/* The text statistics of text, raw (the model standardises them). */
void rewardfeat_stats(const char *text, double f[REWARDFEAT_STATS]);

#endif
