/* fuzz_ratings.c — ratings JSONL (judge/ratings: {"text": ..., "rate": level} per line), strict
 * and skipping bad lines. Every item kept must keep the contract: non-empty text, a level
 * ratings_level_index knows; the skipping parse keeps at least what the strict one does. */
#include "judge/ratings.h"
#include "base/pb.h"
#include "fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[PB_ERR_LEN];
    struct ratings_set strict = {0}, lax = {0};
    pb_status a = ratings_parse((const char *)data, size, "fuzz.jsonl", 0, &strict, err);
    pb_status b = ratings_parse((const char *)data, size, "fuzz.jsonl", 1, &lax, err);
    if (a == PB_OK && (b != PB_OK || lax.n != strict.n || lax.skipped != 0))
        abort();
    for (size_t i = 0; b == PB_OK && i < lax.n; i++)
        if (!lax.items[i].text || !*lax.items[i].text ||
            ratings_level_index(lax.items[i].rate) < 0 || lax.items[i].line < 1)
            abort();
    if (lax.n_problems > RATINGS_MAX_PROBLEMS || lax.n_problems > lax.skipped)
        abort();
    ratings_free(&strict);
    ratings_free(&lax);
    return 0;
}
