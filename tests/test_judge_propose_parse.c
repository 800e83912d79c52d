/* test_judge_propose_parse.c — propose_parse_answer reads the proposer's candidates: a JSON
 * array of strings alone, in prose or a fence, or {"prompts": [...]}; blank entries are dropped,
 * and an answer whose entries are all blank is refused like an empty array (found by
 * tests/fuzz/fuzz_judge_answer.c, regression input corpus_judge_answer/regress-blank-only). */
#include "check.h"
#include "judge/propose.h"
#include "base/pb.h"

static void free_all(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void test_reads_an_array_in_prose_and_drops_blank_entries(void)
{
    char err[PB_ERR_LEN], **v = NULL;
    size_t n = 0;
    CHECK_INT(propose_parse_answer("Here:\n```json\n[\" Be warm. \", \"\", \"Be brief.\"]\n```", &v,
                                   &n, err),
              PB_OK);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_STR(v[0], "Be warm.");
        CHECK_STR(v[1], "Be brief.");
    }
    free_all(v, n);
    CHECK_INT(propose_parse_answer("{\"prompts\": [\"one\"]}", &v, &n, err), PB_OK);
    CHECK_INT(n, 1);
    free_all(v, n);
}

static void test_refuses_an_answer_with_only_blank_prompts(void)
{
    static const char *const answers[] = {"[]", "[\"\"]", "[\" \", \"\\n\"]",
                                          "{\"prompts\": [\"\"]}"};
    for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++) {
        char err[PB_ERR_LEN] = "", **v = (char **)1;
        size_t n = 7;
        CHECK_INT(propose_parse_answer(answers[i], &v, &n, err), PB_ERR_PROVIDER);
        CHECK(v == NULL);
        CHECK_INT(n, 0);
        CHECK(strstr(err, "proposer") != NULL);
    }
}

int main(void)
{
    RUN(test_reads_an_array_in_prose_and_drops_blank_entries);
    RUN(test_refuses_an_answer_with_only_blank_prompts);
    CHECK_DONE();
}
