/* offline.h — bandit-run's loop: for N iterations a policy picks an arm (a prompt), the LLM
 * answers the task's message of that iteration with it, the judge scores the answer and the bandit
 * learns the reward. Owns the order of decisions (update batches, one seeded RNG per iteration),
 * budgets, step retries, and the recording of every step so a run resumes without repeating paid
 * calls. Talks to the provider only through llm/judge and to SQLite only through runs/arms/store;
 * it prints nothing (progress goes to a callback). The scenarios file is scenarios.h's; option
 * checks, the budget spec and the dry-run estimate are runplan.h's; creating a run and its
 * recorded options are runrecord.h's. docs/RUN.md describes the semantics. */
#ifndef OFFLINE_H
#define OFFLINE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "judge/judge.h"
#include "llm/llm.h"
#include "base/pb.h"
#include "store/store.h"

/* Limits of a run; runplan_budget_parse reads them from a --budget spec. */
struct offline_budget {
    long calls;  /* provider requests (generation + judge); 0 = no limit */
    long tokens; /* prompt + completion tokens; 0 = no limit */
    double usd;  /* money at the prices below; 0 = no limit */
};

struct offline_options {
    const char *name;           /* run name; NULL = "run" */
    const char *policy;         /* bandit spec, e.g. "ucb1", "thompson" */
    long iterations;            /* >= 1 */
    int batch;                  /* decisions per update (>= 1); NOT the concurrency */
    uint64_t seed;              /* drives every decision and the scenario of each iteration */
    const char *task_path;      /* task file (task.h); NULL = the built-in chat task */
    const char *scenarios_path; /* scenario lines replacing the task's (scenarios_load format);
                                   required without a task file, may be NULL with one */
    const char *prompts_dir;    /* arm files NAME.txt, read as arms_sync_dir reads them */
    const char *judge;        /* "llm", "local" or "constant": recorded so resume can rebuild it */
    const char *judge_rubric; /* recorded for the caller that builds the judge; may be NULL */
    const char *judge_examples; /* idem */
    const char *judge_model;    /* idem (local reward model file) */
    int step_attempts;          /* tries of a failing step within its batch; 0 = 2 */
    struct offline_budget budget;
    double price_prompt_per_1k, price_completion_per_1k; /* USD per 1000 tokens */
    /* --stop identified:C: > 0 stops the run once its leader is identified at confidence C by
     * the project's one GLR rule (bandit/glr.h, delta = 1 - C, GLR_MIN_REWARDS per compared
     * arm); 0 = run to the iterations or the budget. With it, policy may name a best-arm
     * identification rule (tts, lucb, se, uniform; bandit/bai.h) that then chooses the arms. */
    double stop_confidence;
};

/* Why a step failed, told apart so that a person knows what to fix: the provider answered with
 * an error, could not be reached, did not answer in time, refused for quota or key, or the judge
 * answered something that is not a level. The names ("provider", "unreachable", "timeout",
 * "quota", "auth", "judge_parse", "other") prefix the error recorded with a failed step and are
 * the stop reasons of a run that gave up on them. */
enum offline_failure {
    OFFLINE_FAIL_PROVIDER,
    OFFLINE_FAIL_UNREACHABLE,
    OFFLINE_FAIL_TIMEOUT,
    OFFLINE_FAIL_QUOTA,
    OFFLINE_FAIL_AUTH,
    OFFLINE_FAIL_JUDGE_PARSE,
    OFFLINE_FAIL_OTHER,
    OFFLINE_FAIL_KINDS
};
const char *offline_failure_name(enum offline_failure kind);
/* The kind of a failure from its status and message (the judge's JUDGE_UNPARSED_PREFIX marks an
 * answer that is not a level). */
enum offline_failure offline_failure_of(pb_status status, const char *message);
/* The kind named at the start of a recorded step error ("timeout: generation: ..."); OTHER when
 * the error names none (runs recorded before kinds were). */
enum offline_failure offline_failure_parse(const char *recorded_error);

/* One failed attempt of a step, as it happens. final: no attempt is left, the step is recorded
 * failed. message is borrowed for the call. */
struct offline_failure_event {
    long iteration;
    const char *arm;
    const char *phase; /* "generation" or "judge" */
    enum offline_failure kind;
    const char *message;
    int final;
};

struct offline_progress {
    long done, iterations; /* steps recorded (ok or failed) of the planned iterations */
    long ok, failed;
    const char *leader; /* arm name with the highest mean so far; NULL before any reward */
    double leader_mean;
    long calls, tokens;
    double usd;
};

/* What the loop needs from outside; everything borrowed. judge_llm is the judge's client
 * (for usage accounting; NULL for local judges; may equal llm). stop (may be NULL) is polled
 * between batches: when it becomes non-zero the loop stores the finished batch and returns. */
struct offline_env {
    store *db;
    llm_client *llm;
    judge *judge;
    llm_client *judge_llm;
    volatile sig_atomic_t *stop;
    void (*progress)(const struct offline_progress *p, void *user);     /* may be NULL */
    void (*failure)(const struct offline_failure_event *f, void *user); /* may be NULL */
    void *user;
};

struct offline_result {
    int64_t run_id;
    /* "completed", "identified" (--stop identified:C), "budget", "signal", "error", or the
     * failure kind that stopped the run:
     * "quota" or "auth" at once, any kind after MAX_DEAD_BATCHES batches without a success */
    char stop_reason[16];
    long ok, failed, calls, tokens;
    long generation_calls, judge_calls; /* calls split by purpose (this call's, not the run's) */
    long failures[OFFLINE_FAIL_KINDS];  /* failed steps of the whole run by kind */
    char last_failure[PB_ERR_LEN + 32]; /* the newest recorded failure's error, "" = none */
    double usd;
    int64_t winner_arm_id; /* 0 = no arm had a reward */
    /* The identification verdict at the end (filled when stop_confidence > 0 and the run has
     * two arms or more): identified is 1 when the stop reason is "identified". */
    struct offline_identification {
        int checked, identified;
        int64_t leader_arm_id, runner_up_arm_id; /* 0 = none */
        double statistic, threshold, confidence;
        double leader_n, leader_mean, runner_up_n, runner_up_mean;
    } identification;
};

/* Runs (or resumes) a run made by runrecord_create until its iterations are done, the budget is
 * spent or *stop is set: replays the stored steps into the bandit, finishes any pending step
 * (reusing a stored answer instead of asking again), then continues. budget (may be NULL) replaces
 * the recorded one for this call. Returns PB_OK whatever the stop reason (see out->stop_reason); an
 * error (database, scenarios file changed since the run began, ...) marks the run failed. */
pb_status offline_continue(const struct offline_env *env, int64_t run_id,
                           const struct offline_budget *budget, struct offline_result *out,
                           char *err);

/* Seed of the RNG that makes the decision of iteration i (exposed for tests and replay). */
unsigned long offline_iteration_seed(uint64_t seed, long iteration);

#endif
