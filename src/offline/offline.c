/* offline.c — the bandit-run loop: batched decisions with per-iteration RNG streams, generation
 * and judging with bounded step retries, budgets, and resume from stored steps. Prints nothing;
 * SQL only through runs/arms/store. */
#include "offline/offline.h"

#include "store/arms.h"
#include "bandit/bai.h"
#include "bandit/bandit.h"
#include "bandit/glr.h"
#include "bandit/policyspec.h"
#include "offline/runrecord.h"
#include "offline/runplan.h"
#include "store/runs.h"
#include "offline/runplan.h"
#include "offline/task.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEAD_BATCHES 3 /* batches in a row with no success before giving up */

/* ---- seeds ---- */

unsigned long offline_iteration_seed(uint64_t seed, long iteration)
{
    /* mt19937 keeps 32 bits of its seed; mixing first keeps nearby iterations unrelated. */
    return (unsigned long)(task_mix64(seed ^ task_mix64((uint64_t)iteration)) & 0xffffffffu);
}

/* ---- failures ---- */

static const char *const failure_names[OFFLINE_FAIL_KINDS] = {
    "provider", "unreachable", "timeout", "quota", "auth", "judge_parse", "other"};

const char *offline_failure_name(enum offline_failure kind)
{
    return kind < OFFLINE_FAIL_KINDS ? failure_names[kind] : "other";
}

enum offline_failure offline_failure_of(pb_status status, const char *message)
{
    if (message && strstr(message, JUDGE_UNPARSED_PREFIX))
        return OFFLINE_FAIL_JUDGE_PARSE;
    switch (status) {
    case PB_ERR_PROVIDER:
        return OFFLINE_FAIL_PROVIDER;
    case PB_ERR_UNAVAILABLE:
        return OFFLINE_FAIL_UNREACHABLE;
    case PB_ERR_TIMEOUT:
        return OFFLINE_FAIL_TIMEOUT;
    case PB_ERR_LIMIT:
        return OFFLINE_FAIL_QUOTA;
    case PB_ERR_FORBIDDEN:
        return OFFLINE_FAIL_AUTH;
    default:
        return OFFLINE_FAIL_OTHER;
    }
}

enum offline_failure offline_failure_parse(const char *recorded_error)
{
    const char *colon = recorded_error ? strchr(recorded_error, ':') : NULL;
    for (int k = 0; colon && k < OFFLINE_FAIL_KINDS; k++)
        if ((size_t)(colon - recorded_error) == strlen(failure_names[k]) &&
            !strncmp(recorded_error, failure_names[k], (size_t)(colon - recorded_error)))
            return (enum offline_failure)k;
    return OFFLINE_FAIL_OTHER;
}

/* ---- the loop ---- */

enum slot_state { SLOT_NONE, SLOT_PENDING, SLOT_OK, SLOT_FAILED };

struct slot {
    enum slot_state state;
    size_t arm;
    struct task_message msg; /* the task's message of this iteration (task_message_of) */
    char *output;            /* owned */
    char *reason;            /* owned; the judge's reason for score, NULL = none */
    double score, cost, propensity;
    long tokens, calls, attempts;
    int open, need_gen, need_judge; /* transient, within a batch */
    pb_status status;               /* of the step's last generation or judgement */
    enum offline_failure kind;      /* of the last failed attempt */
    char error[PB_ERR_LEN + 32];    /* "KIND: generation: " or "KIND: judge: " + the message */
};

struct loop {
    const struct offline_env *env;
    struct offline_options opt;
    void *owner;
    struct offline_budget budget;
    int64_t run_id;
    struct task task;
    struct arm *arms;
    size_t n_arms;
    bandit *b;
    bai *id;         /* identification state when opt.stop_confidence > 0 and 2+ arms */
    int bai_chooses; /* the policy is an identification rule: id chooses the arms */
    gsl_rng *rng;
    struct slot *slots;
    long ok, failed, calls, tokens;
    double usd;
    long generation_calls, judge_calls;
    long failures[OFFLINE_FAIL_KINDS];
};

static bool find_arm(const struct loop *L, int64_t arm_id, size_t *index)
{
    for (size_t i = 0; i < L->n_arms; i++)
        if (L->arms[i].id == arm_id) {
            *index = i;
            return true;
        }
    return false;
}

struct load_ctx {
    struct loop *L;
    char *err;
};

/* A runs_step_foreach callback: 0 or a pb_status. */
static int load_step(void *ctx, const struct run_step *st)
{
    struct load_ctx *c = ctx;
    struct loop *L = c->L;
    if (st->iteration < 0 || st->iteration >= L->opt.iterations)
        return 0;
    struct slot *s = &L->slots[st->iteration];
    if (!find_arm(L, st->arm_id, &s->arm))
        return pb_errf(c->err, PB_ERR_INVALID,
                       "run %lld step %lld names arm %lld, not an arm "
                       "of this run",
                       (long long)L->run_id, (long long)st->iteration, (long long)st->arm_id);
    s->state = !strcmp(st->status, "ok")       ? SLOT_OK
               : !strcmp(st->status, "failed") ? SLOT_FAILED
                                               : SLOT_PENDING;
    pb_status rc = task_message_of(&L->task, L->opt.seed, st->iteration, &s->msg, c->err);
    if (rc != PB_OK)
        return rc;
    s->score = st->score;
    s->tokens = (long)st->tokens;
    s->calls = (long)st->calls;
    s->cost = st->cost;
    s->attempts = (long)st->attempts;
    s->propensity = st->propensity;
    if ((st->output && !(s->output = strdup(st->output))) ||
        (st->reason && !(s->reason = strdup(st->reason))))
        return pb_errf(c->err, PB_ERR_NOMEM, "out of memory");
    if (s->state == SLOT_OK)
        L->ok++;
    if (s->state == SLOT_FAILED) {
        L->failed++;
        L->failures[offline_failure_parse(st->error)]++;
        if (st->error)
            snprintf(s->error, sizeof s->error, "%s", st->error);
    }
    L->calls += s->calls;
    L->tokens += s->tokens;
    L->usd += s->cost;
    return 0;
}

static bool slot_final(const struct slot *s)
{
    return s->state == SLOT_OK || s->state == SLOT_FAILED;
}

static double price(const struct loop *L, long prompt_tokens, long completion_tokens)
{
    return prompt_tokens / 1000.0 * L->opt.price_prompt_per_1k +
           completion_tokens / 1000.0 * L->opt.price_completion_per_1k;
}

/* Generates answers for the batch slots needing one; failures stay need_gen with an error. */
static pb_status generate(struct loop *L, long first, long n, char *err)
{
    struct llm_batch_item *items = calloc((size_t)n, sizeof *items);
    struct llm_message *msgs = calloc(2 * (size_t)n, sizeof *msgs);
    long *which = calloc((size_t)n, sizeof *which), m = 0;
    pb_status rc = PB_OK;
    if (!items || !msgs || !which) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (long i = first; i < first + n; i++) {
        struct slot *s = &L->slots[i];
        if (!s->need_gen)
            continue;
        msgs[2 * m] = (struct llm_message){"system", L->arms[s->arm].prompt};
        msgs[2 * m + 1] = (struct llm_message){"user", s->msg.user};
        items[m].req =
            (struct llm_request){.messages = &msgs[2 * m], .n_messages = 2, .temperature = -1};
        which[m++] = i;
    }
    if (m == 0)
        goto cleanup;
    char batch_err[PB_ERR_LEN];
    llm_chat_batch(L->env->llm, items, (size_t)m, NULL, NULL, batch_err); /* per-item status */
    for (long k = 0; k < m; k++) {
        struct slot *s = &L->slots[which[k]];
        struct llm_response *r = &items[k].resp;
        long t = r->prompt_tokens + r->completion_tokens;
        s->calls++;
        s->tokens += t;
        s->cost += price(L, r->prompt_tokens, r->completion_tokens);
        L->calls++;
        L->generation_calls++;
        L->tokens += t;
        L->usd += price(L, r->prompt_tokens, r->completion_tokens);
        s->status = items[k].status;
        if (items[k].status == PB_OK && r->text) {
            free(s->output);
            if (!(s->output = strdup(r->text))) {
                rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
                break;
            }
            s->need_gen = 0;
            s->need_judge = 1;
        } else {
            s->kind = offline_failure_of(items[k].status, items[k].err);
            snprintf(s->error, sizeof s->error, "%s: generation: %s", offline_failure_name(s->kind),
                     items[k].err);
        }
    }
cleanup:
    for (long k = 0; items && k < m; k++)
        llm_response_clear(&items[k].resp);
    free(items);
    free(msgs);
    free(which);
    return rc;
}

/* Shares a usage delta out over m steps: step k gets total / m, the first ones the rest. */
static long share(long total, long m, long k)
{
    return total / m + (k < total % m ? 1 : 0);
}

/* Scores the answers of the batch slots needing a judgement. */
static pb_status judge_answers(struct loop *L, long first, long n, char *err)
{
    const char **texts = calloc((size_t)n, sizeof *texts);
    const char **contexts = calloc((size_t)n, sizeof *contexts);
    double *scores = calloc((size_t)n, sizeof *scores);
    char(*reasons)[JUDGE_REASON_LEN] = calloc((size_t)n, sizeof *reasons);
    int *status = calloc((size_t)n, sizeof *status);
    pb_status rc = PB_OK;
    char(*errs)[PB_ERR_LEN] = calloc((size_t)n, sizeof *errs);
    long *which = calloc((size_t)n, sizeof *which), m = 0;
    struct llm_usage before = {0}, after = {0};
    if (!texts || !contexts || !scores || !reasons || !status || !errs || !which) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (long i = first; i < first + n; i++)
        if (L->slots[i].need_judge) {
            texts[m] = L->slots[i].output;
            contexts[m] = L->slots[i].msg.context;
            which[m++] = i;
        }
    if (m == 0)
        goto cleanup;
    if (L->env->judge_llm)
        llm_usage_get(L->env->judge_llm, &before);
    /* Each item carries its own status; a failed batch means the judge itself could not run
     * (out of memory), which ends the run like any other local failure. */
    pb_status batch_rc = judge_score_batch_reasons(L->env->judge, texts, contexts, (size_t)m,
                                                   scores, reasons, status, errs, err);
    if (L->env->judge_llm)
        llm_usage_get(L->env->judge_llm, &after);
    long calls = after.calls - before.calls, pt = after.prompt_tokens - before.prompt_tokens,
         ct = after.completion_tokens - before.completion_tokens;
    L->calls += calls;
    L->judge_calls += calls;
    L->tokens += pt + ct;
    L->usd += price(L, pt, ct);
    if (batch_rc != PB_OK) {
        rc = batch_rc;
        goto cleanup;
    }
    for (long k = 0; k < m; k++) {
        struct slot *s = &L->slots[which[k]];
        long p = share(pt, m, k), c = share(ct, m, k);
        s->calls += share(calls, m, k);
        s->tokens += p + c;
        s->cost += price(L, p, c);
        s->status = status[k];
        if (status[k] == PB_OK) {
            free(s->reason);
            s->reason = NULL;
            if (reasons[k][0] && !(s->reason = strdup(reasons[k]))) {
                rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
                break;
            }
            s->score = scores[k];
            s->need_judge = 0;
            s->state = SLOT_OK;
        } else {
            s->kind = offline_failure_of(status[k], errs[k]);
            snprintf(s->error, sizeof s->error, "%s: judge: %s", offline_failure_name(s->kind),
                     errs[k]);
        }
    }
cleanup:
    free(texts);
    free(contexts);
    free(scores);
    free(reasons);
    free(status);
    free(errs);
    free(which);
    return rc;
}

static struct run_step step_record(const struct loop *L, long i)
{
    const struct slot *s = &L->slots[i];
    struct run_step st = {
        .run_id = L->run_id,
        .iteration = i,
        .arm_id = L->arms[s->arm].id,
        .scenario = s->msg.context,
        .emotion = s->msg.segment,
        .output = s->output,
        .reason = s->reason,
        .score = s->score,
        .has_score = s->state == SLOT_OK,
        .status = s->state == SLOT_OK       ? "ok"
                  : s->state == SLOT_FAILED ? "failed"
                                            : "pending",
        .error = s->state == SLOT_FAILED ? s->error : NULL,
        .tokens = s->tokens,
        .cost = s->cost,
        .calls = s->calls,
        .attempts = s->attempts,
        .propensity = s->propensity,
    };
    return st;
}

/* Stores the batch's steps in one transaction. */
static pb_status store_batch(struct loop *L, long first, long n, char *err)
{
    struct run_step *steps = calloc((size_t)n, sizeof *steps);
    if (!steps)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    for (long i = 0; i < n; i++)
        steps[i] = step_record(L, first + i);
    pb_status rc = runs_step_put_many(L->env->db, steps, (size_t)n, err);
    free(steps);
    return rc;
}

/* Chooses arms for the batch's undecided iterations, all from the same bandit state, each
 * with its own RNG stream, so the choice of iteration i depends on i and the state only. */
static pb_status decide(struct loop *L, long first, long n, char *err)
{
    if (L->id)
        bai_new_round(L->id); /* decisions depend on rewards only, so a resume repeats them */
    for (long i = first; i < first + n; i++) {
        struct slot *s = &L->slots[i];
        if (s->state != SLOT_NONE)
            continue;
        gsl_rng_set(L->rng, offline_iteration_seed(L->opt.seed, i));
        pb_status rc = L->bai_chooses ? bai_next(L->id, L->rng, &s->arm, err)
                                      : bandit_select(L->b, L->rng, &s->arm, &s->propensity, err);
        if (rc != PB_OK)
            return rc;
        if ((rc = task_message_of(&L->task, L->opt.seed, i, &s->msg, err)) != PB_OK)
            return rc;
        s->state = SLOT_PENDING;
    }
    return PB_OK;
}

static bool fatal_status(pb_status status)
{
    return status == PB_ERR_LIMIT || status == PB_ERR_FORBIDDEN;
}

/* Tells the failure callback about every step of the batch whose attempt just failed. */
static void tell_failures(const struct loop *L, long first, long n, bool final)
{
    if (!L->env->failure)
        return;
    for (long i = first; i < first + n; i++) {
        const struct slot *s = &L->slots[i];
        if (!s->need_gen && !s->need_judge)
            continue;
        /* the message after "KIND: PHASE: " */
        const char *msg = strchr(s->error, ':'), *phase_end = msg ? strchr(msg + 1, ':') : NULL;
        struct offline_failure_event ev = {.iteration = i,
                                           .arm = L->arms[s->arm].name,
                                           .phase = s->need_gen ? "generation" : "judge",
                                           .kind = s->kind,
                                           .message = phase_end ? phase_end + 2 : s->error,
                                           .final = final};
        L->env->failure(&ev, L->env->user);
    }
}

/* Generation and judging for one batch, retrying failed steps up to step_attempts times.
 * *fatal is set when the provider refused for good (quota, key). */
static pb_status work_batch(struct loop *L, long first, long n, bool *fatal, char *err)
{
    int attempts = L->opt.step_attempts ? L->opt.step_attempts : 2;
    pb_status rc = PB_OK;
    for (long i = first; i < first + n; i++) {
        struct slot *s = &L->slots[i];
        s->open = s->state == SLOT_PENDING;
        s->need_gen = s->open && !s->output;
        s->need_judge = s->open && s->output;
    }
    for (int round = 0; round < attempts && !*fatal && rc == PB_OK; round++) {
        int any = 0;
        for (long i = first; i < first + n; i++)
            if (L->slots[i].need_gen || L->slots[i].need_judge) {
                L->slots[i].attempts++;
                any = 1;
            }
        if (!any)
            break;
        rc = generate(L, first, n, err);
        if (rc == PB_OK) /* answers are paid for: keep them before judging */
            rc = store_batch(L, first, n, err);
        if (rc == PB_OK)
            rc = judge_answers(L, first, n, err);
        for (long i = first; i < first + n; i++)
            if ((L->slots[i].need_gen || L->slots[i].need_judge) &&
                fatal_status(L->slots[i].status))
                *fatal = true;
        if (rc == PB_OK)
            tell_failures(L, first, n, *fatal || round + 1 >= attempts);
    }
    for (long i = first; i < first + n && rc == PB_OK; i++) {
        struct slot *s = &L->slots[i];
        if (!s->open)
            continue;
        if (s->state == SLOT_PENDING) {
            s->state = SLOT_FAILED;
            L->failures[s->kind]++;
        }
        L->ok += s->state == SLOT_OK;
        L->failed += s->state == SLOT_FAILED;
    }
    return rc;
}

/* Rewards of the batch, in iteration order. */
static pb_status observe_range(struct loop *L, long first, long end, char *err)
{
    for (long i = first; i < end; i++)
        if (L->slots[i].state == SLOT_OK) {
            pb_status rc = bandit_observe(L->b, L->slots[i].arm, L->slots[i].score, err);
            if (rc == PB_OK && L->id) /* the GLR rule reads rewards on [-1, 1] */
                rc = bai_observe(L->id, L->slots[i].arm,
                                 fmin(GLR_REWARD_HI, fmax(GLR_REWARD_LO, L->slots[i].score)), err);
            if (rc != PB_OK)
                return rc;
        }
    return PB_OK;
}

/* Arm with the highest mean among played arms (lowest index on ties); -1 if none. */
static long leader(const struct loop *L, double *mean)
{
    long best = -1;
    for (size_t a = 0; a < L->n_arms; a++) {
        bandit_arm_stats st;
        char err[PB_ERR_LEN];
        if (bandit_get_arm_stats(L->b, a, &st, err) == PB_OK && st.pulls > 0 &&
            (best < 0 || st.mean > *mean)) {
            best = (long)a;
            *mean = st.mean;
        }
    }
    return best;
}

static void report_progress(const struct loop *L)
{
    if (!L->env->progress)
        return;
    double mean = 0;
    long lead = leader(L, &mean);
    struct offline_progress p = {.done = L->ok + L->failed,
                                 .iterations = L->opt.iterations,
                                 .ok = L->ok,
                                 .failed = L->failed,
                                 .leader = lead >= 0 ? L->arms[lead].name : NULL,
                                 .leader_mean = mean,
                                 .calls = L->calls,
                                 .tokens = L->tokens,
                                 .usd = L->usd};
    L->env->progress(&p, L->env->user);
}

/* How many of the next steps the budget allows: 0 = spent. Calls are counted per step ahead
 * (one generation, one judgement for the LLM judge); tokens and money from the mean cost of
 * the steps so far, so a run overshoots by at most about one step. */
static long budget_steps(const struct loop *L, long want)
{
    const struct offline_budget *b = &L->budget;
    long per_step = 1 + (judge_kind_parse(L->opt.judge) == JUDGE_LLM), done = L->ok + L->failed;
    if (b->calls > 0) {
        long left = (b->calls - L->calls) / per_step;
        want = left < want ? left : want;
    }
    if (b->tokens > 0) {
        long left = b->tokens - L->tokens;
        if (left <= 0)
            return 0;
        if (done > 0 && L->tokens > 0) {
            long est = (long)(left / ((double)L->tokens / done));
            want = est < want ? (est > 0 ? est : 1) : want;
        }
    }
    if (b->usd > 0) {
        double left = b->usd - L->usd;
        if (left <= 0)
            return 0;
        if (done > 0 && L->usd > 0) {
            long est = (long)(left / (L->usd / done));
            want = est < want ? (est > 0 ? est : 1) : want;
        }
    }
    return want > 0 ? want : 0;
}

/* First batch start with unfinished work; everything before it is final. */
static long first_open_batch(const struct loop *L)
{
    long B = L->opt.batch;
    for (long b = 0; b < L->opt.iterations; b += B)
        for (long i = b; i < b + B && i < L->opt.iterations; i++)
            if (!slot_final(&L->slots[i]))
                return b;
    return L->opt.iterations;
}

static pb_status setup(struct loop *L, char *err)
{
    struct run *r = NULL;
    bandit_policy pol;
    pb_status rc = runs_get(L->env->db, L->run_id, &r, err);
    if (rc == PB_OK)
        rc = runrecord_arms(L->env->db, r, 0, &L->arms, &L->n_arms, err);
    if (rc == PB_OK)
        rc = runplan_task(&L->opt, &L->task, err);
    if (rc == PB_OK) {
        const char *sha = runrecord_scenarios_sha256(L->owner);
        if (!sha || strcmp(sha, L->task.sha256) != 0)
            rc = pb_errf(err, PB_ERR_CONFLICT,
                         "%s%s changed since run %lld began; restore it to "
                         "resume (the message of each iteration depends on it)",
                         L->opt.task_path ? L->opt.task_path : L->opt.scenarios_path,
                         L->opt.task_path ? " (or a file it reads)" : "", (long long)L->run_id);
    }
    if (rc == PB_OK && r->status && strcmp(r->status, "running") != 0)
        rc = runs_reopen(L->env->db, L->run_id, err);
    int rule = BAI_UNIFORM;
    L->bai_chooses = runplan_policy_is_bai(L->opt.policy, &rule);
    /* a run chosen by identification keeps a Thompson bandit for its progress line */
    if (rc == PB_OK &&
        (rc = policyspec_parse(L->bai_chooses ? "thompson" : L->opt.policy, &pol, err)) == PB_OK)
        rc = bandit_new(&pol, L->n_arms, &L->b, err);
    if (rc == PB_OK && L->opt.stop_confidence > 0 && L->n_arms >= 2) {
        struct bai_options bo = {.rule = (bai_rule)rule,
                                 .delta = 1 - L->opt.stop_confidence,
                                 .lo = GLR_REWARD_LO,
                                 .hi = GLR_REWARD_HI,
                                 .min_n = GLR_MIN_REWARDS};
        rc = bai_new(&bo, L->n_arms, &L->id, err);
    } else if (rc == PB_OK && L->bai_chooses) {
        rc = pb_errf(err, PB_ERR_INVALID,
                     "policy %s identifies the best of 2 arms or more; "
                     "run %lld has %zu",
                     L->opt.policy, (long long)L->run_id, L->n_arms);
    }
    if (rc == PB_OK && (!(L->rng = gsl_rng_alloc(gsl_rng_mt19937)) ||
                        !(L->slots = calloc((size_t)L->opt.iterations, sizeof *L->slots))))
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc == PB_OK) {
        struct load_ctx c = {L, err};
        rc = runs_step_foreach(L->env->db, L->run_id, load_step, &c, err);
    }
    runs_list_free(r, 1);
    return rc;
}

static void teardown(struct loop *L)
{
    for (long i = 0; L->slots && i < L->opt.iterations; i++) {
        free(L->slots[i].output);
        free(L->slots[i].reason);
        task_message_clear(&L->slots[i].msg);
    }
    free(L->slots);
    gsl_rng_free(L->rng);
    bai_free(L->id);
    bandit_free(L->b);
    arms_list_free(L->arms, L->n_arms);
    task_free(&L->task);
    runrecord_release(L->owner);
}

/* The kind that stops a run: the refusal (quota before key) when fatal, else the kind most of the
 * failures since the last success had (the first kind in enum order on ties). */
static enum offline_failure most_common(const long *fails, bool fatal)
{
    if (fatal)
        return fails[OFFLINE_FAIL_QUOTA] ? OFFLINE_FAIL_QUOTA : OFFLINE_FAIL_AUTH;
    int best = OFFLINE_FAIL_OTHER;
    for (int k = 0; k < OFFLINE_FAIL_KINDS; k++)
        if (fails[k] > fails[best])
            best = k;
    return (enum offline_failure)best;
}

/* The GLR stopping rule (glr.h through bai_check) over the rewards so far. */
static bool identified(const struct loop *L)
{
    struct bai_status st;
    char err[PB_ERR_LEN];
    return L->id && bai_check(L->id, &st, err) == PB_OK && st.stop;
}

/* The identification verdict at the end of a call, for the caller to show. */
static void fill_identification(const struct loop *L, struct offline_identification *out)
{
    struct bai_status st;
    char err[PB_ERR_LEN];
    memset(out, 0, sizeof *out);
    if (!L->id || bai_check(L->id, &st, err) != PB_OK)
        return;
    bandit_arm_stats a = {0}, b = {0};
    bandit_get_arm_stats(L->b, st.leader, &a, err);
    bandit_get_arm_stats(L->b, st.runner_up, &b, err);
    *out = (struct offline_identification){.checked = 1,
                                           .identified = st.stop,
                                           .leader_arm_id = L->arms[st.leader].id,
                                           .runner_up_arm_id = L->arms[st.runner_up].id,
                                           .statistic = st.statistic,
                                           .threshold = st.threshold,
                                           .confidence = L->opt.stop_confidence,
                                           .leader_n = (double)a.pulls,
                                           .leader_mean = a.mean,
                                           .runner_up_n = (double)b.pulls,
                                           .runner_up_mean = b.mean};
}

/* The main loop from the first open batch on; sets reason. */
static pb_status run_batches(struct loop *L, const char **reason, char *err)
{
    long next = first_open_batch(L), dead = 0, dead_fails[OFFLINE_FAIL_KINDS] = {0};
    pb_status rc = observe_range(L, 0, next, err);
    *reason = "completed";
    report_progress(L);
    while (rc == PB_OK && next < L->opt.iterations) {
        if (identified(L)) {
            *reason = "identified";
            break;
        }
        if (L->env->stop && *L->env->stop) {
            *reason = "signal";
            break;
        }
        long end =
            next + L->opt.batch < L->opt.iterations ? next + L->opt.batch : L->opt.iterations;
        long open = 0;
        for (long i = next; i < end; i++)
            open += !slot_final(&L->slots[i]);
        long allowed = budget_steps(L, open);
        if (allowed == 0) {
            *reason = "budget";
            break;
        }
        if (allowed < open) { /* the budget ends inside this batch: leave its tail undone */
            long kept = 0, i = next;
            for (; i < end && kept < allowed; i++)
                kept += !slot_final(&L->slots[i]);
            end = i;
        }
        long ok_before = L->ok, fails_before[OFFLINE_FAIL_KINDS];
        memcpy(fails_before, L->failures, sizeof fails_before);
        bool fatal = false;
        rc = decide(L, next, end - next, err);
        if (rc == PB_OK)
            rc = work_batch(L, next, end - next, &fatal, err);
        if (rc == PB_OK)
            rc = store_batch(L, next, end - next, err);
        if (rc == PB_OK)
            rc = observe_range(L, next, end, err);
        report_progress(L);
        if (L->ok > ok_before)
            memset(dead_fails, 0, sizeof dead_fails);
        for (int k = 0; k < OFFLINE_FAIL_KINDS; k++)
            dead_fails[k] += L->failures[k] - fails_before[k];
        dead = L->ok > ok_before ? 0 : dead + 1;
        if (fatal || dead >= MAX_DEAD_BATCHES) {
            *reason = offline_failure_name(most_common(dead_fails, fatal));
            break;
        }
        if (end < next + L->opt.batch && end < L->opt.iterations) {
            *reason = "budget";
            break;
        }
        next = end;
    }
    if (rc == PB_OK && !strcmp(*reason, "completed") && identified(L))
        *reason = "identified";
    /* A run whose every step failed did not complete anything: say what stopped it. */
    if (rc == PB_OK && !strcmp(*reason, "completed") && L->ok == 0 && L->failed > 0)
        *reason = offline_failure_name(most_common(L->failures, false));
    return rc;
}

pb_status offline_continue(const struct offline_env *env, int64_t run_id,
                           const struct offline_budget *budget, struct offline_result *out,
                           char *err)
{
    struct loop L = {.env = env, .run_id = run_id};
    const char *reason = "error";
    memset(out, 0, sizeof *out);
    out->run_id = run_id;
    pb_status rc = runrecord_load(env->db, run_id, &L.opt, &L.owner, err);
    if (rc != PB_OK)
        return rc;
    L.budget = budget ? *budget : L.opt.budget;
    rc = setup(&L, err);
    if (rc == PB_OK)
        rc = run_batches(&L, &reason, err);
    double mean = 0;
    long lead = L.b ? leader(&L, &mean) : -1;
    out->winner_arm_id = lead >= 0 ? L.arms[lead].id : 0;
    fill_identification(&L, &out->identification);
    if (out->identification.identified) /* the identified arm (SE's survivor) is the winner */
        out->winner_arm_id = out->identification.leader_arm_id;
    out->ok = L.ok;
    out->failed = L.failed;
    out->calls = L.calls;
    out->tokens = L.tokens;
    out->usd = L.usd;
    out->generation_calls = L.generation_calls;
    out->judge_calls = L.judge_calls;
    memcpy(out->failures, L.failures, sizeof out->failures);
    for (long i = L.slots ? L.opt.iterations - 1 : -1; i >= 0; i--)
        if (L.slots[i].state == SLOT_FAILED) {
            snprintf(out->last_failure, sizeof out->last_failure, "%s", L.slots[i].error);
            break;
        }
    if (rc != PB_OK)
        reason = "error";
    snprintf(out->stop_reason, sizeof out->stop_reason, "%s", reason);
    const char *status =
        !strcmp(reason, "signal") ? "interrupted"
        : !strcmp(reason, "completed") || !strcmp(reason, "budget") || !strcmp(reason, "identified")
            ? "finished"
            : "failed";
    char close_err[PB_ERR_LEN];
    pb_status crc = runs_close(env->db, run_id, status, reason, out->winner_arm_id, close_err);
    if (rc == PB_OK && crc != PB_OK)
        rc = pb_errf(err, crc, "%s", close_err);
    teardown(&L);
    return rc;
}
