/* runopts.c — a new run's options: the task named by --task, the precedence of options,
 * settings and task defaults, and the checks of every path a run will read. */
#include "runopts.h"

#include "judge/judge.h"
#include "offline/runplan.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

void runopts_free(struct runopts *ro)
{
    task_free(&ro->task);
}

void runopts_tasks_dir(const config *cfg, char *buf, size_t len)
{
    char prompts[1024];
    snprintf(prompts, sizeof prompts, "%s", config_str(cfg, "prompts.dir"));
    size_t n = strlen(prompts);
    while (n > 1 && prompts[n - 1] == '/') /* "prompts/" */
        prompts[--n] = '\0';
    char *slash = strrchr(prompts, '/');
    if (!slash)
        snprintf(buf, len, "tasks");
    else
        snprintf(buf, len, "%.*s/tasks", (int)(slash - prompts), prompts);
}

static bool set_explicitly(const config *cfg, const char *key)
{
    return strcmp(config_source(cfg, key), "default") != 0;
}

/* The option, else the task file's value, else the setting: the first that exists. *from names
 * which, for error messages. */
static const char *pick(const char *option, const char *option_name, const config *cfg,
                        const char *key, const char *task_value, const struct task *t, char *from,
                        size_t from_len)
{
    if (option) {
        snprintf(from, from_len, "%s", option_name);
        return option;
    }
    if (task_value) {
        snprintf(from, from_len, "task %s", t->name);
        return task_value;
    }
    snprintf(from, from_len, "setting %s", key ? key : "?");
    return key ? config_str(cfg, key) : NULL;
}

/* PB_OK when path is a readable file (or a folder when want_dir); else names the path and where
 * it came from. */
static pb_status check_path(const char *path, int want_dir, const char *what, const char *from,
                            char *err)
{
    struct stat st;
    if (!path || !*path)
        return pb_errf(err, PB_ERR_INVALID, "no %s given (%s)", what, from);
    if (stat(path, &st) != 0)
        return pb_errf(err, PB_ERR_NOT_FOUND, "%s %s: %s (%s)", what, path, strerror(errno), from);
    if (want_dir && !S_ISDIR(st.st_mode))
        return pb_errf(err, PB_ERR_INVALID, "%s %s is not a folder (%s)", what, path, from);
    if (!want_dir && S_ISDIR(st.st_mode))
        return pb_errf(err, PB_ERR_INVALID, "%s %s is a folder, not a file (%s)", what, path, from);
    return PB_OK;
}

/* The task file --task names (a path when it holds '/' or ends in ".json", else
 * TASKS/NAME.json), loaded with the scenario lines that replace its own. Without --task, a
 * missing tasks/chat.json falls back to the built-in chat task. */
static pb_status load_task(const struct run_args *a, const config *cfg, struct runopts *ro,
                           const char *lines, char *err)
{
    const char *name = a->task ? a->task : "chat";
    size_t len = strlen(name);
    if (strchr(name, '/') || (len > 5 && !strcmp(name + len - 5, ".json"))) {
        snprintf(ro->task_file, sizeof ro->task_file, "%s", name);
    } else {
        char dir[1024];
        runopts_tasks_dir(cfg, dir, sizeof dir);
        snprintf(ro->task_file, sizeof ro->task_file, "%s/%.256s.json", dir, name);
    }
    struct stat st;
    if (!a->task && stat(ro->task_file, &st) != 0) {
        ro->task_file[0] = '\0';
        if (!lines) {
            lines = config_str(cfg, "run.scenarios");
            pb_status rc = check_path(lines, 0, "scenarios file",
                                      "setting run.scenarios; no tasks/chat.json here", err);
            if (rc != PB_OK)
                return rc;
        }
        return task_builtin_chat(lines, &ro->task, err);
    }
    if (stat(ro->task_file, &st) != 0) {
        char dir[1024];
        runopts_tasks_dir(cfg, dir, sizeof dir);
        return pb_errf(err, PB_ERR_NOT_FOUND,
                       "task file %s: %s (--task takes a name from %s, e.g. chat or diary, or a "
                       "task file)",
                       ro->task_file, strerror(errno), dir);
    }
    return task_load(ro->task_file, lines, &ro->task, err);
}

/* The judge: --judge or the task's first; one the task allows. */
static pb_status pick_judge(const struct run_args *a, struct runopts *ro, char *err)
{
    char valid[64];
    int kind = a->judge ? judge_kind_parse(a->judge) : ro->task.judges[0];
    if (!task_allows_judge(&ro->task, kind)) {
        task_judges_text(&ro->task, valid, sizeof valid);
        return pb_errf(err, PB_ERR_INVALID, "task %s takes --judge %s; got '%s'", ro->task.name,
                       valid, a->judge);
    }
    ro->o.judge = judge_kind_name((enum judge_kind)kind);
    return PB_OK;
}

/* Judge files and the arms folder, each by pick()'s precedence, checked. */
static pb_status pick_files(const struct run_args *a, const config *cfg, struct runopts *ro,
                            char *err)
{
    char from[96];
    struct offline_options *o = &ro->o;
    const struct task *t = &ro->task;
    int kind = judge_kind_parse(o->judge);
    o->prompts_dir =
        pick(a->prompts, "--prompts", cfg, "prompts.dir", t->prompts_dir, t, from, sizeof from);
    pb_status rc = check_path(o->prompts_dir, 1, "prompts folder", from, err);
    if (rc == PB_OK && kind == JUDGE_LLM) {
        snprintf(ro->rubric, sizeof ro->rubric, "%s/judge_chat.txt", o->prompts_dir);
        o->judge_rubric = pick(a->rubric, "--rubric", cfg, NULL, t->rubric, t, from, sizeof from);
        if (!o->judge_rubric) {
            o->judge_rubric = ro->rubric;
            snprintf(from, sizeof from, "default: PROMPTS/judge_chat.txt");
        }
        rc = check_path(o->judge_rubric, 0, "judge rubric", from, err);
    }
    if (rc == PB_OK && kind == JUDGE_LLM) {
        o->judge_examples =
            pick(a->examples, "--examples", cfg, NULL, t->examples, t, from, sizeof from);
        if (!o->judge_examples) {
            o->judge_examples = "ratings/examples_chat.jsonl";
            snprintf(from, sizeof from, "default");
        }
        rc = check_path(o->judge_examples, 0, "judge examples", from, err);
    }
    if (rc == PB_OK && kind == JUDGE_LOCAL) {
        o->judge_model = pick(a->local_model, "--local-model", cfg, "judge.local_model",
                              t->local_model, t, from, sizeof from);
        strncat(from, "; make one with `promptbandit judge train`", sizeof from - strlen(from) - 1);
        rc = check_path(o->judge_model, 0, "local reward model", from, err);
    }
    return rc;
}

pb_status runopts_new(const struct run_args *a, const config *cfg, struct runopts *ro, char *err)
{
    memset(ro, 0, sizeof *ro);
    struct offline_options *o = &ro->o;
    if (a->prompts) { /* an option's path is checked before anything it might hide behind */
        pb_status rc = check_path(a->prompts, 1, "prompts folder", "--prompts", err);
        if (rc != PB_OK)
            return rc;
    }
    const char *lines = a->scenarios                           ? a->scenarios
                        : set_explicitly(cfg, "run.scenarios") ? config_str(cfg, "run.scenarios")
                                                               : NULL;
    if (lines) {
        pb_status rc = check_path(lines, 0, "scenarios file",
                                  a->scenarios ? "--scenarios" : "setting run.scenarios", err);
        if (rc != PB_OK)
            return rc;
    }
    pb_status rc = load_task(a, cfg, ro, lines, err);
    if (rc != PB_OK)
        return rc;
    *o = (struct offline_options){
        .name = a->name ? a->name : ro->task.name,
        .policy = a->policy ? a->policy : config_str(cfg, "bandit.policy"),
        .iterations = a->iterations ? a->iterations : config_int(cfg, "run.iterations"),
        .batch = (int)(a->batch ? a->batch : config_int(cfg, "run.batch")),
        .seed = a->has_seed ? a->seed : (uint64_t)config_int(cfg, "bandit.seed"),
        .task_path = ro->task_file[0] ? ro->task_file : NULL,
        /* with a task file: only lines that replace its own; the built-in chat: its lines */
        .scenarios_path = ro->task_file[0] ? lines : ro->task.lines_path,
        .step_attempts = (int)(a->attempts ? a->attempts : config_int(cfg, "run.step_attempts")),
        .price_prompt_per_1k =
            a->price_prompt >= 0 ? a->price_prompt : config_double(cfg, "run.price_prompt_per_1k"),
        .price_completion_per_1k = a->price_completion >= 0
                                       ? a->price_completion
                                       : config_double(cfg, "run.price_completion_per_1k"),
    };
    if (o->seed == 0)
        o->seed = 1; /* a run must be reproducible: never seed from the clock */
    rc = pick_judge(a, ro, err);
    if (rc == PB_OK)
        rc = pick_files(a, cfg, ro, err);
    if (rc == PB_OK && a->budget)
        rc = runplan_budget_parse(a->budget, &o->budget, err);
    if (rc == PB_OK && a->stop)
        rc = runplan_stop_parse(a->stop, &o->stop_confidence, err);
    return rc;
}
