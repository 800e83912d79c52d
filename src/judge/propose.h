/* propose.h — OPRO-style prompt proposal: shows the LLM a base prompt with the best- and
 * worst-rated texts (meta-prompt template prompts/propose.txt), parses the JSON array of new
 * prompts it answers, and writes each new one as <dir>/P<sha256-8>.txt, skipping any whose
 * content hash matches a prompt already in the folder or earlier in the same answer. Provider
 * I/O only through llm; no database (making the files arms is the caller's business). */
#ifndef PROPOSE_H
#define PROPOSE_H

#include <stddef.h>

#include "llm/llm.h"
#include "base/pb.h"
#include "judge/ratings.h"

struct propose_request {
    const char *base_prompt;         /* the prompt to improve */
    const struct ratings_set *rated; /* texts the base prompt produced, with human ratings */
    size_t n_examples;               /* best and worst texts shown (each); 0 = 3 */
    int n_candidates;                /* prompts asked for, 1..20 */
    const char *meta_prompt;         /* template: {{BASE_PROMPT}} {{BEST}} {{WORST}} {{N}} */
    const char *out_dir;             /* existing folder of *.txt prompts */
};

struct propose_result {
    char **written; /* owned paths of the new files */
    size_t n_written;
    size_t n_duplicates; /* candidates skipped as already present */
    size_t n_proposed;   /* candidates in the answer */
};

/* Asks once and writes the new prompts. PB_ERR_PROVIDER when the answer holds no JSON array
 * of strings; llm's status (timeout, unavailable, ...) when the provider fails. On success
 * the caller owns *out (propose_result_free). */
pb_status propose_prompts(llm_client *llm, const struct propose_request *req,
                          struct propose_result *out, char *err);
void propose_result_free(struct propose_result *r);

/* Extracts the candidates from an answer: a JSON array of non-empty strings, alone or inside
 * surrounding prose or a ``` fence, or {"prompts": [...]}. Caller frees each and the array. */
pb_status propose_parse_answer(const char *answer, char ***out, size_t *n, char *err);

#endif
