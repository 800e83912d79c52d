/* fuzz_emotion_model.c — libFuzzer target for the emotion model loader: any byte string must
 * parse to a model or give an error, never crash. The checksum is refreshed first so that
 * mutations reach the section checks instead of all stopping at the checksum. */
#include "emotion/emomodel.h"
#include "base/hash.h"
#include "base/pb.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[PB_ERR_LEN];
    emomodel *m = NULL;
    unsigned char *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    if (size > EMOMODEL_HEADER_SIZE && (data[0] & 1)) {
        uint64_t sum = hash_fnv1a64(copy + EMOMODEL_HEADER_SIZE, size - EMOMODEL_HEADER_SIZE, 0);
        memcpy(copy + EMOMODEL_CHECKSUM_OFFSET, &sum, sizeof sum);
        copy[0] = 'P'; /* keep the magic intact after using bit 0 as the switch */
    }
    if (emomodel_parse(copy, size, &m, err) == PB_OK) {
        float *s = malloc(emomodel_n_labels(m) * sizeof *s);
        uint16_t *set = malloc(emomodel_n_labels(m) * sizeof *set);
        const char *text = "오늘 정말 행복해요! 그런데 조금 슬퍼.";
        if (s && set && emomodel_scores(m, text, strlen(text), s, err) == PB_OK) {
            size_t n = emomodel_decide(m, s, set);
            if (n == 0 || n > emomodel_n_labels(m))
                abort();
        }
        free(s);
        free(set);
        emomodel_free(m);
    }
    free(copy);
    return 0;
}
