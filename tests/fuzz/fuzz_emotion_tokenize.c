/* fuzz_emotion_tokenize.c — libFuzzer target for the emotion tokenizer: any bytes, any feature
 * flags; ids must stay inside the bucket range and the count under EMOFEAT_MAX_FEATURES. */
#include "emotion/emofeat.h"
#include "base/pb.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint32_t out[EMOFEAT_MAX_FEATURES];
    char err[PB_ERR_LEN];
    size_t n = 0;
    if (size < 1)
        return 0;
    struct emofeat_opts o = {(data[0] & EMOFEAT_ALL) ? (data[0] & EMOFEAT_ALL) : EMOFEAT_DEFAULT,
                             12 + (data[0] >> 7) * 10};
    if (emofeat_extract(&o, (const char *)data + 1, size - 1, out, EMOFEAT_MAX_FEATURES, &n, err) ==
        PB_OK) {
        if (n > EMOFEAT_MAX_FEATURES)
            abort();
        for (size_t i = 0; i < n; i++)
            if (out[i] == 0 || out[i] >= (1u << o.bucket_bits))
                abort();
    }
    return 0;
}
