/* fuzz_judge_answer.c — the two parsers of an LLM's free-text answer in judge/: the judge's
 * level (judge_parse_answer: a decimal or {"score": x}) and the proposer's candidate list
 * (propose_parse_answer: a JSON array inside prose). Any bytes: an error or a result that keeps
 * its contract (a finite level in [-1, 1]; 1.. non-empty strings). */
#include "judge/judge.h"
#include "judge/propose.h"
#include "base/pb.h"
#include "fuzz/fuzz_util.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[PB_ERR_LEN];
    char *s = fuzz_cstr(data, size);
    if (!s)
        return 0;
    double level = NAN;
    if (judge_parse_answer(s, &level) == PB_OK && !(isfinite(level) && level >= -1 && level <= 1))
        abort();
    char **v = NULL;
    size_t n = 0;
    if (propose_parse_answer(s, &v, &n, err) == PB_OK) {
        if (n == 0)
            abort();
        for (size_t i = 0; i < n; i++) {
            if (!v[i] || !*v[i])
                abort();
            free(v[i]);
        }
        free(v);
    }
    free(s);
    return 0;
}
