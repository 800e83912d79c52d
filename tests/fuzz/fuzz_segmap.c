/* fuzz_segmap.c — the segment map file (service/segmap: `label TAB segment` lines named by
 * bandit.segment_map), under each bandit.segments mode (the first byte picks it). A map that
 * loads answers every lookup with one of its segment names. */
#include "base/config.h"
#include "service/segmap.h"
#include "base/pb.h"
#include "fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const modes[] = {"group", "label", "none"};
    char err[PB_ERR_LEN];
    config *cfg = NULL;
    segmap *m = NULL;
    if (size < 1)
        return 0;
    const char *path = fuzz_file(0, data + 1, size - 1);
    if (!path || config_defaults(&cfg, err) != PB_OK)
        return 0;
    if (config_set(cfg, "bandit.segments", modes[data[0] % 3], err) == PB_OK &&
        config_set(cfg, "bandit.segment_map", path, err) == PB_OK &&
        segmap_new(cfg, NULL, &m, err) == PB_OK) {
        size_t n = segmap_count(m);
        const char *const *names = segmap_names(m);
        if (n == 0 || !names)
            abort();
        static const char *const labels[] = {"joy", "sadness", "anger", "", "unknown"};
        for (size_t i = 0; i < 5; i++) {
            const char *s = segmap_of(m, labels[i], i % 2 ? "positive" : NULL);
            int found = 0;
            for (size_t j = 0; s && j < n; j++)
                found |= !strcmp(s, names[j]);
            if (!s || !found)
                abort();
        }
        segmap_free(m);
    }
    config_free(cfg);
    return 0;
}
