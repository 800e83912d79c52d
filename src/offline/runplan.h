/* runplan.h — a bandit-run before it exists: checks its options, parses the --budget spec,
 * reads its task and arm files exactly as the run will, and estimates what it would cost
 * (--dry-run). Split out of offline.c, which creates and executes runs from these checks. It
 * calls no provider and writes no database: arm files are read through a scratch in-memory
 * store. The option types themselves are offline.h's. */
#ifndef RUNPLAN_H
#define RUNPLAN_H

#include <stddef.h>

#include "store/arms.h"
#include "offline/offline.h"
#include "base/pb.h"
#include "offline/task.h"

/* Parses "calls=500", "tokens=200000", "usd=1.50" or several joined by commas into b (fields
 * not named are left alone). PB_ERR_INVALID names the bad part. */
pb_status runplan_budget_parse(const char *spec, struct offline_budget *b, char *err);

/* Parses a --stop spec: "identified" (confidence 1 - GLR_DELTA) or "identified:C" with C in
 * (0, 1), e.g. "identified:0.95", into *confidence. PB_ERR_INVALID names the valid forms. */
pb_status runplan_stop_parse(const char *spec, double *confidence, char *err);

/* 1 when policy names a best-arm identification rule (tts, lucb, se, uniform) rather than a
 * bandit policy; *rule (may be NULL) gets it. */
int runplan_policy_is_bai(const char *policy, int *rule);

/* The task of opt: its task file with scenarios_path replacing the file's lines, or the
 * built-in chat task over scenarios_path. Caller frees with task_free (also on failure). */
pb_status runplan_task(const struct offline_options *opt, struct task *task, char *err);

/* Checks opt and reads what the run would use: its task (caller frees with task_free) and the
 * arms of opt->prompts_dir (caller frees with arms_list_free; ids are scratch ids, not the
 * database's). PB_ERR_INVALID for bad options, a bad policy or an empty prompts folder; nothing
 * is left to free on failure. */
pb_status runplan_prepare(const struct offline_options *opt, struct task *task, struct arm **arms,
                          size_t *n_arms, char *err);

/* What a run would cost, without calling anyone. Token counts are estimates: UTF-8 bytes / 3
 * for prompts (about one token per Korean character) and max_tokens for each answer, an upper
 * bound. */
struct runplan_cost {
    size_t n_arms;
    char task[64];       /* the task's name */
    char source[256];    /* where messages come from (task_source_text) */
    char arm_names[512]; /* "A, B, C" */
    long generation_calls, judge_calls;
    long prompt_tokens, completion_tokens;
    double usd;
};

/* Fills *out for opt. llm_judge is non-zero for the LLM judge; judge_system_bytes is the size
 * of its rubric with its examples (local judges cost nothing). Errors as runplan_prepare. */
pb_status runplan_estimate(const struct offline_options *opt, int llm_judge,
                           size_t judge_system_bytes, int max_tokens, struct runplan_cost *out,
                           char *err);

#endif
