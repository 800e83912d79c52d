/* fuzz_scenarios.c — scenario files (offline/scenarios: `sentence[TAB emotion]` lines), read
 * through their path. A file that loads has at least one non-empty sentence per entry and a
 * 64-digit hex digest. */
#include "offline/scenarios.h"
#include "base/pb.h"
#include "fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[PB_ERR_LEN];
    struct scenarios s = {0};
    const char *path = fuzz_file(0, data, size);
    if (!path)
        return 0;
    if (scenarios_load(path, &s, err) == PB_OK) {
        if (s.n == 0 || strlen(s.sha256) != 64)
            abort();
        for (size_t i = 0; i < s.n; i++)
            if (!s.sentence[i])
                abort();
    }
    scenarios_free(&s);
    return 0;
}
