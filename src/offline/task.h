/* task.h — what a bandit-run step says and how it is judged, as data. A task file (JSON,
 * docs/RUN.md) says how the user message of an iteration is built (scenario lines from a file,
 * and/or a template whose variables are drawn from lists or files), what the judge sees as the
 * answer's context, which value labels the step's segment (emotion, mood), and the defaults of a
 * run of that task: its arms folder, the LLM judge's rubric and few-shot examples, the local
 * reward model and the judges that make sense. The message of iteration i depends only on the
 * seed and i (common random numbers across policies). Owns parsing, template expansion and the
 * task's SHA-256; it must not call a provider or touch the database. */
#ifndef TASK_H
#define TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/pb.h"
#include "offline/scenarios.h"

#define TASK_MAX_VARS   16
#define TASK_MAX_VALUES 10000

struct task_var {
    char *name;
    char **values;
    size_t n;
};

struct task {
    char *name, *description;
    bool has_lines;         /* scenario lines: variables "sentence" and "emotion" (may be absent) */
    struct scenarios lines; /* when has_lines */
    char *lines_path;       /* resolved; NULL without lines */
    struct task_var vars[TASK_MAX_VARS];
    size_t n_vars;
    char *user_template;    /* "{sentence}[ ;; {emotion}]": [..] is dropped when a variable in it
                               is missing */
    char *context_template; /* what the judge sees as the answer's context */
    char *segment;          /* the variable whose value labels a step ("emotion"); may be NULL */
    char *segment_label;    /* how reports name it ("emotion", "mood") */
    /* defaults of a run, resolved against the task file's folder; NULL when the file has none */
    char *prompts_dir, *rubric, *examples, *local_model;
    int judges[3]; /* enum judge_kind values; the first is the default */
    size_t n_judges;
    char sha256[65]; /* of everything that decides the messages (file, lines, variable values) */
};

/* One iteration's message; strings owned (segment may be NULL). */
struct task_message {
    char *user, *context, *segment;
};

/* Loads a task file. lines_override (may be NULL) replaces the file's scenario lines (the
 * --scenarios option). Paths inside the file are relative to its folder. Caller frees with
 * task_free (safe on failure too). PB_ERR_NOT_FOUND / PB_ERR_INVALID name the file, the key or
 * the line at fault. */
pb_status task_load(const char *path, const char *lines_override, struct task *out, char *err);

/* The chat task without a file, as runs recorded before task files had it: scenario lines
 * (sentence, emotion), user "{sentence}[ ;; {emotion}]", context "{sentence}", segment
 * "emotion", every judge; sha256 is the lines file's own, as those runs recorded it. */
pb_status task_builtin_chat(const char *lines_path, struct task *out, char *err);

void task_free(struct task *t);

/* The message of iteration i of a run seeded with seed. PB_ERR_NOMEM only. */
pb_status task_message_of(const struct task *t, uint64_t seed, long iteration,
                          struct task_message *out, char *err);
void task_message_clear(struct task_message *m);

/* Mean bytes of the user message over the first n iterations (for cost estimates). */
double task_mean_user_bytes(const struct task *t, uint64_t seed, long n);

/* Whether the task allows a judge kind (enum judge_kind value); and its judges as "llm, local"
 * for messages. */
bool task_allows_judge(const struct task *t, int kind);
void task_judges_text(const struct task *t, char *buf, size_t len);

/* A one-line description of where messages come from, e.g. "50 scenario lines from FILE" or
 * "template over place (12), mood (8)". */
void task_source_text(const struct task *t, char *buf, size_t len);

/* splitmix64's finaliser: the mixing behind every seeded draw of a run. */
uint64_t task_mix64(uint64_t x);

#endif
