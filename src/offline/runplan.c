/* runplan.c — option checks, the budget spec, a scratch read of the arm files, the dry-run
 * estimate. No provider calls, no writes. */
#include "offline/runplan.h"

#include "bandit/bai.h"
#include "bandit/bandit.h"
#include "bandit/glr.h"
#include "bandit/policyspec.h"
#include "judge/judge.h"
#include "store/experiment.h"
#include "store/store.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

pb_status runplan_budget_parse(const char *spec, struct offline_budget *b, char *err)
{
    char buf[256];
    if (!spec || strlen(spec) >= sizeof buf)
        return pb_errf(err, PB_ERR_INVALID, "budget: expected calls=N, tokens=N or usd=X");
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *save = NULL, *part = strtok_r(buf, ",", &save); part;
         part = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(part, '='), *end;
        if (!eq)
            return pb_errf(err, PB_ERR_INVALID, "budget: '%s' is not key=value", part);
        *eq = '\0';
        double v = strtod(eq + 1, &end);
        if (end == eq + 1 || *end || !isfinite(v) || v <= 0)
            return pb_errf(err, PB_ERR_INVALID, "budget: %s needs a positive number, got '%s'",
                           part, eq + 1);
        if (!strcmp(part, "calls") || !strcmp(part, "tokens")) {
            if (v != floor(v) || v > 1e15)
                return pb_errf(err, PB_ERR_INVALID, "budget: %s needs a whole number", part);
            *(!strcmp(part, "calls") ? &b->calls : &b->tokens) = (long)v;
        } else if (!strcmp(part, "usd")) {
            b->usd = v;
        } else {
            return pb_errf(err, PB_ERR_INVALID, "budget: unknown key '%s' (calls, tokens, usd)",
                           part);
        }
    }
    return PB_OK;
}

pb_status runplan_stop_parse(const char *spec, double *confidence, char *err)
{
    char *end;
    if (spec && !strcmp(spec, "identified")) {
        *confidence = 1 - GLR_DELTA;
        return PB_OK;
    }
    if (spec && !strncmp(spec, "identified:", 11)) {
        double c = strtod(spec + 11, &end);
        if (end != spec + 11 && !*end && c > 0 && c < 1) {
            *confidence = c;
            return PB_OK;
        }
    }
    return pb_errf(err, PB_ERR_INVALID,
                   "--stop takes identified or identified:C with C in (0, 1), e.g. "
                   "identified:0.95; got '%s'",
                   spec ? spec : "");
}

int runplan_policy_is_bai(const char *policy, int *rule)
{
    char ignored[PB_ERR_LEN];
    bai_rule r;
    if (!policy || bai_rule_parse(policy, &r, ignored) != PB_OK)
        return 0;
    if (rule)
        *rule = (int)r;
    return 1;
}

static pb_status check_options(const struct offline_options *o, char *err)
{
    bandit_policy pol;
    if (o->stop_confidence < 0 || o->stop_confidence >= 1)
        return pb_errf(err, PB_ERR_INVALID, "stop confidence must be in (0, 1), got %g",
                       o->stop_confidence);
    if (o->policy && runplan_policy_is_bai(o->policy, NULL)) {
        if (o->stop_confidence <= 0)
            return pb_errf(err, PB_ERR_INVALID,
                           "policy %s is a best-arm identification rule; it needs --stop "
                           "identified[:C]",
                           o->policy);
    } else if (!o->policy || policyspec_parse(o->policy, &pol, err) != PB_OK) {
        return o->policy ? PB_ERR_INVALID : pb_errf(err, PB_ERR_INVALID, "no policy given");
    }
    if (o->iterations < 1)
        return pb_errf(err, PB_ERR_INVALID, "iterations must be at least 1");
    if (o->batch < 1 || o->batch > 100000)
        return pb_errf(err, PB_ERR_INVALID, "batch must be between 1 and 100000");
    if (o->step_attempts < 0 || o->step_attempts > 10)
        return pb_errf(err, PB_ERR_INVALID, "step attempts must be between 1 and 10");
    if (!o->judge || judge_kind_parse(o->judge) < 0)
        return pb_errf(err, PB_ERR_INVALID, "judge must be llm, local or constant");
    if ((!o->task_path && !o->scenarios_path) || !o->prompts_dir)
        return pb_errf(err, PB_ERR_INVALID,
                       "a run needs a task file (or a scenarios file) and a prompts folder");
    if (o->price_prompt_per_1k < 0 || o->price_completion_per_1k < 0 || o->budget.calls < 0 ||
        o->budget.tokens < 0 || o->budget.usd < 0)
        return pb_errf(err, PB_ERR_INVALID, "prices and budgets cannot be negative");
    return PB_OK;
}

/* Reads the arm files of dir into a scratch in-memory store, exactly as a run would. */
static pb_status scratch_arms(const char *dir, struct arm **arms, size_t *n, char *err)
{
    store *tmp = NULL;
    struct store_experiment e = {0};
    pb_status rc = store_open(":memory:", NULL, &tmp, err);
    if (rc == PB_OK)
        rc = store_experiment_get_or_create(tmp, "scratch", "offline", "ucb1", &e, err);
    if (rc == PB_OK)
        rc = arms_sync_dir(tmp, e.id, dir, NULL, err);
    if (rc == PB_OK)
        rc = arms_list(tmp, e.id, 0, arms, n, err);
    if (rc == PB_OK && *n == 0) {
        arms_list_free(*arms, *n);
        *arms = NULL;
        rc = pb_errf(err, PB_ERR_INVALID, "%s holds no arm files (NAME.txt, e.g. A.txt)", dir);
    }
    store_experiment_clear(&e);
    store_close(tmp);
    return rc;
}

pb_status runplan_task(const struct offline_options *opt, struct task *task, char *err)
{
    if (opt->task_path)
        return task_load(opt->task_path, opt->scenarios_path, task, err);
    return task_builtin_chat(opt->scenarios_path, task, err);
}

pb_status runplan_prepare(const struct offline_options *opt, struct task *task, struct arm **arms,
                          size_t *n_arms, char *err)
{
    memset(task, 0, sizeof *task);
    *arms = NULL;
    *n_arms = 0;
    pb_status rc = check_options(opt, err);
    if (rc == PB_OK)
        rc = runplan_task(opt, task, err);
    if (rc == PB_OK)
        rc = scratch_arms(opt->prompts_dir, arms, n_arms, err);
    if (rc != PB_OK) {
        arms_list_free(*arms, *n_arms);
        *arms = NULL;
        *n_arms = 0;
        task_free(task);
    }
    return rc;
}

pb_status runplan_estimate(const struct offline_options *opt, int llm_judge,
                           size_t judge_system_bytes, int max_tokens, struct runplan_cost *out,
                           char *err)
{
    struct task task;
    struct arm *arms = NULL;
    size_t n_arms = 0, arm_bytes = 0;
    memset(out, 0, sizeof *out);
    pb_status rc = runplan_prepare(opt, &task, &arms, &n_arms, err);
    if (rc != PB_OK)
        return rc;
    for (size_t i = 0; i < n_arms; i++) {
        arm_bytes += strlen(arms[i].prompt);
        size_t used = strlen(out->arm_names);
        snprintf(out->arm_names + used, sizeof out->arm_names - used, "%s%s", i ? ", " : "",
                 arms[i].name);
    }
    snprintf(out->task, sizeof out->task, "%s", task.name);
    task_source_text(&task, out->source, sizeof out->source);
    /* the messages of the first iterations (all of them for runs up to 256) */
    long sample = opt->iterations < 256 ? opt->iterations : 256;
    double n = (double)opt->iterations, arm_avg = (double)arm_bytes / n_arms,
           user_avg = task_mean_user_bytes(&task, opt->seed, sample);
    out->n_arms = n_arms;
    out->generation_calls = opt->iterations;
    out->judge_calls = llm_judge ? opt->iterations : 0;
    double gen_prompt = (arm_avg + user_avg) / 3.0, judge_prompt = 0;
    if (llm_judge)
        judge_prompt = (double)judge_system_bytes / 3.0 + user_avg / 3.0 + max_tokens;
    out->prompt_tokens = (long)ceil(n * (gen_prompt + judge_prompt));
    out->completion_tokens =
        (long)(n * (max_tokens + (llm_judge ? JUDGE_ANSWER_TOKENS_TYPICAL : 0)));
    out->usd = out->prompt_tokens / 1000.0 * opt->price_prompt_per_1k +
               out->completion_tokens / 1000.0 * opt->price_completion_per_1k;
    arms_list_free(arms, n_arms);
    task_free(&task);
    return PB_OK;
}
