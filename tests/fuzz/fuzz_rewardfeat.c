/* fuzz_rewardfeat.c — the features the local reward model takes from a chat answer it scores
 * (judge/rewardfeat: hashed n-grams, words and word pairs; sixteen text statistics), on any
 * bytes, valid UTF-8 or not. Statistics stay finite; the sparse vector has ascending unique
 * indices inside the hash space, finite values and unit length. */
#include "judge/rewardfeat.h"
#include "base/pb.h"
#include "fuzz/fuzz_util.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    if (!s)
        return 0;
    double f[REWARDFEAT_STATS];
    rewardfeat_stats(s, f);
    for (size_t i = 0; i < REWARDFEAT_STATS; i++)
        if (!isfinite(f[i]))
            abort();
    struct rewardfeat_vec v = {0};
    if (rewardfeat_ngrams(s, NULL, 1.0, &v) == PB_OK) {
        double norm = 0;
        for (size_t i = 0; i < v.n; i++) {
            if (v.idx[i] >= REWARDFEAT_HASH_SIZE || (i && v.idx[i] <= v.idx[i - 1]) ||
                !isfinite(v.val[i]))
                abort();
            norm += v.val[i] * v.val[i];
        }
        if (v.n && fabs(norm - 1) > 1e-6)
            abort();
        rewardfeat_vec_free(&v);
    }
    free(s);
    return 0;
}
