/* fuzz_rewardmodel.c — the reward-model file (judge/rewardmodel, JSON written by
 * `promptbandit judge train`), read through its path. A model that loads must predict a finite
 * score for any text. */
#include "judge/rewardmodel.h"
#include "base/pb.h"
#include "fuzz/fuzz_util.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[PB_ERR_LEN];
    rewardmodel *m = NULL;
    const char *path = fuzz_file(0, data, size);
    if (!path)
        return 0;
    if (rewardmodel_load(path, &m, err) == PB_OK) {
        double y = rewardmodel_predict(m, "오늘은 정말 좋은 하루였어요. Thanks!");
        if (!isfinite(y))
            abort();
        rewardmodel_free(m);
    }
    return 0;
}
