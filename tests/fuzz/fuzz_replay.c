/* fuzz_replay.c — the offline log readers: replay logs (offline/replay: {"arm", "reward",
 * "propensity"} lines) and contextual evaluation logs (sim/ctxeval: {"features", "arm",
 * "reward", "propensity", "segment"} lines), dimension from the data or fixed by the first
 * byte. Parsed events keep their ranges. */
#include "offline/replay.h"
#include "sim/ctxeval.h"
#include "base/pb.h"
#include "fuzz/fuzz_util.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[PB_ERR_LEN];
    if (size < 1)
        return 0;
    const char *s = (const char *)data + 1;
    size_t len = size - 1;
    struct replay_log log = {0};
    if (replay_parse_jsonl(s, len, "fuzz.jsonl", &log, err) == PB_OK) {
        for (size_t i = 0; i < log.n; i++)
            if (log.events[i].arm >= log.n_arms || !(fabs(log.events[i].reward) <= 1) ||
                !(log.events[i].propensity >= 0 && log.events[i].propensity <= 1))
                abort();
        replay_log_free(&log);
    }
    struct ctxeval_log c = {0};
    if (ctxeval_parse_jsonl(s, len, "fuzz.jsonl", data[0] % 5, &c, err) == PB_OK) {
        for (size_t i = 0; i < c.n; i++) {
            if (c.arm[i] >= c.n_arms || !(fabs(c.reward[i]) <= 1) ||
                !(c.propensity[i] > 0 && c.propensity[i] <= 1))
                abort();
            for (size_t k = 0; k < c.dim; k++)
                if (!isfinite(c.features[i * c.dim + k]))
                    abort();
        }
        ctxeval_log_free(&c);
    }
    return 0;
}
