/* runrecord.c — the config JSON of a bandit-run (options, budget, prices, the scenarios
 * file's hash), written once at creation with the run's experiment and arms, and read back
 * with jansson. */
#include "offline/runrecord.h"

#include "store/experiment.h"
#include "offline/runplan.h"
#include "offline/task.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The recorded options; "scenarios_sha256" is the task's hash (task.h), named so for the runs
 * recorded before task files, whose hash was the scenarios file's. */
static json_t *options_json(const struct offline_options *o, const struct task *task)
{
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:s, s:I, s:i, s:I, s:s, s:s, s:s, s:s, s:i, "
        "s:{s:I, s:I, s:f}, s:{s:f, s:f}}",
        "task", task->name, "segment_label", task->segment_label, "name", o->name ? o->name : "run",
        "policy", o->policy, "iterations", (json_int_t)o->iterations, "batch", o->batch, "seed",
        (json_int_t)o->seed, "scenarios", o->scenarios_path ? o->scenarios_path : "",
        "scenarios_sha256", task->sha256, "prompts", o->prompts_dir, "judge", o->judge,
        "step_attempts", o->step_attempts, "budget", "calls", (json_int_t)o->budget.calls, "tokens",
        (json_int_t)o->budget.tokens, "usd", o->budget.usd, "prices", "prompt_per_1k",
        o->price_prompt_per_1k, "completion_per_1k", o->price_completion_per_1k);
    const char *keys[] = {"judge_rubric", "judge_examples", "judge_model", "task_file"};
    const char *values[] = {o->judge_rubric, o->judge_examples, o->judge_model, o->task_path};
    for (size_t i = 0; j && i < 4; i++)
        if (values[i])
            json_object_set_new(j, keys[i], json_string(values[i]));
    if (j && o->stop_confidence > 0)
        json_object_set_new(j, "stop_identified", json_real(o->stop_confidence));
    return j;
}

pb_status runrecord_create(store *db, const struct offline_options *opt, int64_t *run_id, char *err)
{
    struct task task;
    struct arm *arms = NULL;
    size_t n_arms = 0;
    struct store_experiment e = {0};
    char *config_text = NULL, ename[64];
    json_t *o = NULL;
    pb_status rc = runplan_prepare(opt, &task, &arms, &n_arms, err);
    if (rc != PB_OK)
        return rc;
    o = options_json(opt, &task);
    config_text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (!config_text) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    rc = runs_create(db, opt->name ? opt->name : "run", "offline", config_text, run_id, err);
    if (rc != PB_OK)
        goto cleanup;
    snprintf(ename, sizeof ename, "run-%lld", (long long)*run_id);
    /* the experiment's policy is for the dashboard's live view, which knows bandit policies:
     * a run chosen by identification (tts, lucb, ...) shows as Thompson there */
    rc = store_experiment_get_or_create(
        db, ename, "offline", runplan_policy_is_bai(opt->policy, NULL) ? "thompson" : opt->policy,
        &e, err);
    if (rc == PB_OK)
        rc = arms_sync_dir(db, e.id, opt->prompts_dir, NULL, err);
    if (rc == PB_OK)
        rc = runs_set_experiment(db, *run_id, e.id, err);
    if (rc != PB_OK) {
        char ignored[PB_ERR_LEN];
        runs_close(db, *run_id, "failed", "setup", 0, ignored);
    }
cleanup:
    store_experiment_clear(&e);
    arms_list_free(arms, n_arms);
    task_free(&task);
    free(config_text);
    json_decref(o);
    return rc;
}

void runrecord_release(void *owner)
{
    json_decref(owner);
}

pb_status runrecord_load(store *db, int64_t run_id, struct offline_options *opt, void **owner,
                         char *err)
{
    struct run *r = NULL;
    json_t *root = NULL;
    json_error_t je;
    memset(opt, 0, sizeof *opt);
    *owner = NULL;
    pb_status rc = runs_get(db, run_id, &r, err);
    if (rc != PB_OK)
        return rc;
    if (strcmp(r->kind, "offline") != 0 || !r->config_json ||
        !(root = json_loads(r->config_json, 0, &je))) {
        rc = pb_errf(err, PB_ERR_INVALID, "run %lld was not made by bandit-run", (long long)run_id);
        goto cleanup;
    }
    json_int_t iterations = 0, seed = 0, calls = 0, tokens = 0;
    int batch = 0, attempts = 0;
    if (json_unpack_ex(root, &je, 0,
                       "{s:s, s:s, s:I, s:i, s:I, s:s, s:s, s:s, s:i, s:{s:I, s:I, s:F}, "
                       "s:{s:F, s:F}}",
                       "name", &opt->name, "policy", &opt->policy, "iterations", &iterations,
                       "batch", &batch, "seed", &seed, "scenarios", &opt->scenarios_path, "prompts",
                       &opt->prompts_dir, "judge", &opt->judge, "step_attempts", &attempts,
                       "budget", "calls", &calls, "tokens", &tokens, "usd", &opt->budget.usd,
                       "prices", "prompt_per_1k", &opt->price_prompt_per_1k, "completion_per_1k",
                       &opt->price_completion_per_1k) != 0) {
        rc = pb_errf(err, PB_ERR_INVALID, "run %lld: recorded options unreadable (%s)",
                     (long long)run_id, je.text);
        goto cleanup;
    }
    opt->judge_rubric = json_string_value(json_object_get(root, "judge_rubric"));
    opt->judge_examples = json_string_value(json_object_get(root, "judge_examples"));
    opt->judge_model = json_string_value(json_object_get(root, "judge_model"));
    opt->task_path = json_string_value(json_object_get(root, "task_file"));
    opt->stop_confidence = json_number_value(json_object_get(root, "stop_identified"));
    if (opt->scenarios_path && !*opt->scenarios_path)
        opt->scenarios_path = NULL; /* a task without scenario lines */
    opt->iterations = (long)iterations;
    opt->batch = batch;
    opt->seed = (uint64_t)seed;
    opt->step_attempts = attempts;
    opt->budget.calls = (long)calls;
    opt->budget.tokens = (long)tokens;
    *owner = root;
    root = NULL;
cleanup:
    json_decref(root);
    runs_list_free(r, 1);
    return rc;
}

const char *runrecord_scenarios_sha256(const void *owner)
{
    return json_string_value(json_object_get(owner, "scenarios_sha256"));
}

const char *runrecord_task_name(const void *owner)
{
    const char *t = json_string_value(json_object_get(owner, "task"));
    return t ? t : "chat";
}

const char *runrecord_segment_label(const void *owner)
{
    const char *t = json_string_value(json_object_get(owner, "segment_label"));
    return t ? t : "emotion";
}

pb_status runrecord_arms(store *db, const struct run *run, int include_retired, struct arm **arms,
                         size_t *n, char *err)
{
    if (run->experiment_id == 0)
        return pb_errf(err, PB_ERR_INVALID, "run %lld has no arms (its setup failed)",
                       (long long)run->id);
    return arms_list(db, run->experiment_id, include_retired, arms, n, err);
}
