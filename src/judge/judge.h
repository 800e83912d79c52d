/* judge.h — turns a text into a reward on the five-level scale: a few-shot LLM judge (rubric
 * prompt + one example per level, temperature 0, answer parsed strictly to a level and an
 * optional short reason, bounded re-asks), the local reward model, or a constant. An unparsable or
 * failed judgement is a status, never a score. Owns prompt assembly, the delimiting of judged text
 * against prompt injection, and answer parsing; provider I/O goes through llm only; no database. */
#ifndef JUDGE_H
#define JUDGE_H

#include <stdbool.h>
#include <stddef.h>

#include "llm/llm.h"
#include "base/pb.h"
#include "judge/ratings.h"
#include "judge/rewardmodel.h"

enum judge_kind { JUDGE_LLM, JUDGE_LOCAL, JUDGE_CONSTANT };

/* A judge's reason is cut to this many characters ("…" marks the cut); JUDGE_REASON_LEN bytes
 * hold one (four bytes a character at most, the mark and the NUL). */
#define JUDGE_REASON_CHARS 200
#define JUDGE_REASON_LEN   (JUDGE_REASON_CHARS * 4 + 4)
/* What one LLM judge answer costs in completion tokens, for estimates: a level and a reason of
 * about 25 words in JSON (the judge asks for that; JUDGE_ANSWER_TOKENS in judge.c bounds it). */
#define JUDGE_ANSWER_TOKENS_TYPICAL 64

typedef struct judge judge;

struct judge_options {
    enum judge_kind kind;
    /* JUDGE_LLM: all borrowed, must outlive the judge except rubric/examples (copied). */
    llm_client *llm;
    const char *model;                  /* NULL or "": the client's model */
    const char *rubric;                 /* rubric text; "{{EXAMPLES}}" is replaced by examples */
    const struct ratings_set *examples; /* at least one per level; the first of each is used */
    int max_attempts;                   /* asks per text when answers do not parse; 0 = 3 */
    /* JUDGE_LOCAL: borrowed. */
    const rewardmodel *local;
    /* JUDGE_CONSTANT */
    double constant;
};

/* Creates a judge; the caller owns *out (judge_free). PB_ERR_INVALID names what is missing
 * (no client, a level without an example, a rubric without {{EXAMPLES}}, ...). */
pb_status judge_new(const struct judge_options *opt, judge **out, char *err);
void judge_free(judge *j);

/* Scores one text; context (may be NULL) is what the text answers, e.g. the user's message.
 * On PB_OK *score is a level (LLM) or a number in [-1, 1]; on failure *score is untouched and
 * err says why (PB_ERR_PROVIDER for answers that never parsed, or the llm status). */
pb_status judge_score(judge *j, const char *text, const char *context, double *score, char *err);

/* How the message of a judgement whose answers never parsed begins (the status is
 * PB_ERR_PROVIDER); callers that tell a confused judge from a failing provider look for it. */
#define JUDGE_UNPARSED_PREFIX "judge answer is not a level"

/* Scores n texts, with the LLM through llm_chat_batch (concurrent). contexts may be NULL.
 * status[i] (a pb_status code) and errs[i] (errs may be NULL) report each item; scores[i] is
 * set only where status[i] == PB_OK. Returns PB_OK when the batch ran, whatever the items'
 * fate. */
pb_status judge_score_batch(judge *j, const char *const *texts, const char *const *contexts,
                            size_t n, double *scores, int *status, char (*errs)[PB_ERR_LEN],
                            char *err);

/* judge_score_batch plus the reason of each score: reasons[i] (reasons may be NULL) is the
 * reason the LLM judge gave with scores[i], "" when it gave none (a bare level) and for the
 * local and constant judges; set only where status[i] == PB_OK. */
pb_status judge_score_batch_reasons(judge *j, const char *const *texts, const char *const *contexts,
                                    size_t n, double *scores, char (*reasons)[JUDGE_REASON_LEN],
                                    int *status, char (*errs)[PB_ERR_LEN], char *err);

/* True when text is one of the judge's few-shot examples (evaluations must leave them out). */
bool judge_is_example(const judge *j, const char *text);

/* Parses a judge's answer strictly (see docs/JUDGE.md): after trimming ASCII whitespace the
 * whole answer is one level written as a plain decimal ("1", "+1", "-0.5", "0.50", ".5",
 * "1.0", U+2212 minus allowed) or a JSON object {"score": level} or {"score": level, "reason":
 * "text" | null}. PB_OK with *level set and, when reason is not NULL, the reason written there
 * (control characters and whitespace runs as one space, trimmed, cut to JUDGE_REASON_CHARS
 * characters; "" when there is none), or PB_ERR_INVALID. Pure: no I/O, no state. */
pb_status judge_parse_answer_reason(const char *answer, double *level,
                                    char reason[JUDGE_REASON_LEN]);
/* judge_parse_answer_reason without the reason. */
pb_status judge_parse_answer(const char *answer, double *level);

/* The user message for one text: the optional context and the text, each between
 * <<<LABEL and LABEL>>> lines, with every run of three '<' or '>' inside them broken by a
 * space so the text cannot close its delimiter. Caller frees *out. */
pb_status judge_user_message(const char *text, const char *context, char **out, char *err);

/* k-fold cross-validated predictions for the offline kinds: JUDGE_LOCAL trains a reward model
 * per training fold, JUDGE_CONSTANT predicts the training-fold mean. fold[i] in [0, k). */
pb_status judge_cv_predict(enum judge_kind kind, const char *const *texts, const double *y,
                           size_t n, const int *fold, int k, double *pred,
                           void (*progress)(int fold_done, int k, void *user), void *user,
                           char *err);

/* "llm", "local", "constant" <-> kind. parse returns the enum judge_kind value as an int, or
 * -1 for anything else. */
const char *judge_kind_name(enum judge_kind kind);
int judge_kind_parse(const char *name);

#endif
