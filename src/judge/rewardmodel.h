/* rewardmodel.h — the local reward model: kernel ridge regression in C (GSL) from features of a
 * short Korean text (rewardfeat.h: idf-weighted hashed character n-grams, words and word pairs,
 * linear; length, sentence, punctuation, emoji and script statistics, through a Gaussian
 * kernel) to the -1..1 rating scale. Owns
 * training (penalty and statistics weight chosen by ridge.h's exact leave-one-out, then level
 * snapping, all inside the training data), prediction and the versioned model file. No
 * network, no database. */
#ifndef REWARDMODEL_H
#define REWARDMODEL_H

#include <stddef.h>

#include "base/pb.h"

#define REWARDMODEL_FORMAT  "promptbandit-reward-model"
#define REWARDMODEL_VERSION 2

typedef struct rewardmodel rewardmodel;

/* What training chose, for reports. */
struct rewardmodel_info {
    size_t train_n;
    double lambda;     /* ridge penalty on the centred kernel */
    double snap;       /* fraction of the way predictions move to their nearest level */
    double dense_gain; /* weight of the text statistics relative to the n-grams */
    double loo_mse;    /* leave-one-out MSE on the training data at the chosen setting */
    size_t n_weights;  /* non-zero n-gram weights kept */
};

/* Trains on n texts (valid UTF-8) with ratings y; n >= 3. The caller owns *out
 * (rewardmodel_free). PB_ERR_INVALID for bad input, PB_ERR_NOMEM, or PB_ERR_INVALID when the
 * linear algebra fails (named in err). */
pb_status rewardmodel_train(const char *const *texts, const double *y, size_t n, rewardmodel **out,
                            char *err);

/* Predicted rating in [-1, 1]; never fails (an invalid UTF-8 text is scored from its bytes). */
double rewardmodel_predict(const rewardmodel *m, const char *text);

void rewardmodel_get_info(const rewardmodel *m, struct rewardmodel_info *out);

/* The model file is JSON with a format name and version; load refuses other versions
 * (PB_ERR_VERSION) and malformed files (PB_ERR_INVALID), naming the problem. */
pb_status rewardmodel_save(const rewardmodel *m, const char *path, char *err);
pb_status rewardmodel_load(const char *path, rewardmodel **out, char *err);
void rewardmodel_free(rewardmodel *m);

#endif
