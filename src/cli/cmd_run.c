/* cmd_run.c — `promptbandit run` = `bandit-run`: starts a run (or a dry run) and resumes one;
 * the options are runargs.h's, the read-only actions (report, export, list, replay) runread.h's.
 * Builds the LLM client and the judge from settings, shows progress and every failure as it
 * happens, and turns the way a run stopped into the exit status; the loop itself lives in
 * src/offline/offline.c. */
#include "cmd.h"

#include "base/config.h"
#include "judge/judge.h"
#include "judge/ratings.h"
#include "judge/rewardmodel.h"
#include "llm/llm.h"
#include "offline/evolve.h"
#include "offline/offline.h"
#include "offline/runplan.h"
#include "offline/runrecord.h"
#include "runargs.h"
#include "runopts.h"
#include "runread.h"
#include "store/arms.h"
#include "store/runs.h"
#include "store/store.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* ---- shared set-up ---- */

struct session {
    config *cfg;
    store *db;
    llm_client *llm;
    judge *judge;
    rewardmodel *local;
    char *rubric;
    struct ratings_set examples;
    int llm_ready;
};

static void session_close(struct session *s)
{
    judge_free(s->judge);
    rewardmodel_free(s->local);
    free(s->rubric);
    ratings_free(&s->examples);
    llm_client_free(s->llm);
    if (s->llm_ready)
        llm_global_cleanup();
    store_close(s->db);
    config_free(s->cfg);
}

static int open_session(struct session *s, const struct run_args *a, int with_db, char *err)
{
    memset(s, 0, sizeof *s);
    int rc = config_load(a->common.config, &s->cfg, err);
    if (rc == PB_OK && with_db)
        rc = store_open_config(s->cfg, a->common.db, &s->db, err);
    return rc;
}

/* Builds the scorer the run recorded: the LLM judge with its rubric and examples, the local
 * reward model, or the constant 0. */
static int build_judge(struct session *s, const struct offline_options *o, char *err)
{
    int kind = judge_kind_parse(o->judge);
    struct judge_options jo = {.kind = (enum judge_kind)kind};
    int rc = PB_OK;
    if (kind == JUDGE_LLM) {
        rc = pb_read_file(o->judge_rubric, 1 << 20, &s->rubric, NULL, err);
        if (rc == PB_OK)
            rc = ratings_load(o->judge_examples, 0, &s->examples, err);
        jo.llm = s->llm;
        jo.model = config_str(s->cfg, "judge.model");
        jo.rubric = s->rubric;
        jo.examples = &s->examples;
    } else if (kind == JUDGE_LOCAL) {
        rc = rewardmodel_load(o->judge_model, &s->local, err);
        jo.local = s->local;
    }
    if (rc == PB_OK)
        rc = judge_new(&jo, &s->judge, err);
    return rc;
}

static int start_llm(struct session *s, const struct run_args *a, char *err)
{
    char n[32];
    int rc = PB_OK;
    if (a->concurrency > 0) {
        snprintf(n, sizeof n, "%ld", a->concurrency);
        rc = config_set(s->cfg, "llm.concurrency", n, err);
    }
    if (rc == PB_OK && (rc = llm_global_init(err)) == PB_OK)
        s->llm_ready = 1;
    if (rc == PB_OK)
        rc = llm_client_from_config(s->cfg, &s->llm, err);
    return rc;
}

/* ---- progress and failures ---- */

/* Failure lines are rate-limited: at most FAIL_BURST in any FAIL_WINDOW_S seconds; the rest are
 * counted and the count is printed with the next line shown (and in the final summary). */
#define FAIL_BURST    4
#define FAIL_WINDOW_S 5.0

struct progress_state {
    int tty, quiet;
    long last_tenth;
    int64_t run_id;
    int line_open; /* a \r progress line is on the terminal */
    double window_start;
    int shown_in_window;
    long suppressed;
};

static void show_progress(const struct offline_progress *p, void *user)
{
    struct progress_state *ps = user;
    if (ps->quiet)
        return;
    long tenth = p->iterations ? p->done * 10 / p->iterations : 0;
    if (!ps->tty && tenth == ps->last_tenth && p->done != p->iterations)
        return;
    ps->last_tenth = tenth;
    fprintf(stderr,
            "%sbandit-run: run %lld %ld/%ld  leader %s %+.3f  calls %ld  tokens %ld  "
            "$%.4f  failed %ld%s",
            ps->tty ? "\r" : "", (long long)ps->run_id, p->done, p->iterations,
            p->leader ? p->leader : "-", p->leader ? p->leader_mean : 0.0, p->calls, p->tokens,
            p->usd, p->failed, ps->tty ? "\033[K" : "\n");
    ps->line_open = ps->tty;
    fflush(stderr);
}

/* Every failed attempt, as it happens, even with --quiet: a run must never fail silently. */
static void show_failure(const struct offline_failure_event *f, void *user)
{
    struct progress_state *ps = user;
    double now = pb_now_monotonic();
    if (now - ps->window_start >= FAIL_WINDOW_S) {
        ps->window_start = now;
        ps->shown_in_window = 0;
    }
    if (ps->shown_in_window >= FAIL_BURST) {
        ps->suppressed++;
        return;
    }
    ps->shown_in_window++;
    if (ps->line_open)
        fputs("\r\033[K", stderr);
    ps->line_open = 0;
    if (ps->suppressed)
        fprintf(stderr, "bandit-run: (%ld more failed attempts not shown)\n", ps->suppressed);
    ps->suppressed = 0;
    fprintf(stderr, "bandit-run: step %ld (arm %s) %s failed [%s]: %s; %s\n", f->iteration, f->arm,
            f->phase, offline_failure_name(f->kind), f->message,
            f->final ? "recorded as failed" : "will try again");
    fflush(stderr);
}

/* Bytes of the LLM judge's rubric and examples, for the estimate (0 for other judges). */
static size_t judge_system_bytes(const struct offline_options *o)
{
    struct stat st;
    size_t n = 0;
    if (judge_kind_parse(o->judge) != JUDGE_LLM)
        return 0;
    if (o->judge_rubric && stat(o->judge_rubric, &st) == 0)
        n += (size_t)st.st_size;
    if (o->judge_examples && stat(o->judge_examples, &st) == 0)
        n += (size_t)st.st_size;
    return n;
}

static int estimate(const config *cfg, const struct offline_options *o, struct runplan_cost *p,
                    char *err)
{
    return runplan_estimate(o, judge_kind_parse(o->judge) == JUDGE_LLM, judge_system_bytes(o),
                            (int)config_int(cfg, "llm.max_tokens"), p, err);
}

/* What the dry run would have said for the steps recorded, next to what they cost, and where
 * extra calls came from. */
static void print_spend(const struct session *s, const struct offline_options *o,
                        const struct offline_result *res)
{
    char err[PB_ERR_LEN];
    struct runplan_cost p;
    long steps = res->ok + res->failed;
    if (steps == 0 || estimate(s->cfg, o, &p, err) != PB_OK)
        return;
    double f = (double)steps / (double)o->iterations;
    long est_calls = (long)llround((double)(p.generation_calls + p.judge_calls) * f);
    fprintf(stderr,
            "bandit-run: spend for %ld steps     estimated (dry run)   made\n"
            "bandit-run:   calls                %-21ld %ld (this session: %ld generation + %ld "
            "judge)\n"
            "bandit-run:   tokens               <= %-18ld %ld\n"
            "bandit-run:   cost                 <= $%-17.4f $%.4f\n",
            steps, est_calls, res->calls, res->generation_calls, res->judge_calls,
            (long)llround((double)(p.prompt_tokens + p.completion_tokens) * f), res->tokens,
            p.usd * f, res->usd);
    if (res->calls > est_calls)
        fprintf(stderr,
                "bandit-run:   %ld calls more than estimated: failed steps were tried again "
                "(up to %d attempts) and the LLM judge asks again when its answer is not a "
                "level (up to 3 times per text)\n",
                res->calls - est_calls, o->step_attempts ? o->step_attempts : 2);
}

static void print_failures(const struct offline_result *res)
{
    if (res->failed == 0)
        return;
    fprintf(stderr, "bandit-run: %ld of %ld steps failed:", res->failed, res->ok + res->failed);
    for (int k = 0; k < OFFLINE_FAIL_KINDS; k++)
        if (res->failures[k])
            fprintf(stderr, " %ld %s", res->failures[k],
                    offline_failure_name((enum offline_failure)k));
    fprintf(stderr, " (report.md lists them)\nbandit-run: last failure: %s\n", res->last_failure);
}

/* The exit status of a run that stopped: 130 for a signal, 1 when a failure stopped it, every
 * step failed or the share of failed steps passed max_share, else 0. */
static int run_exit_status(const struct offline_result *res, double max_share, int64_t run_id)
{
    long steps = res->ok + res->failed;
    double share = steps ? (double)res->failed / (double)steps : 0;
    if (!strcmp(res->stop_reason, "signal")) {
        fprintf(stderr, "bandit-run: interrupted; continue with `bandit-run resume %lld`\n",
                (long long)run_id);
        return 130;
    }
    if (strcmp(res->stop_reason, "completed") != 0 && strcmp(res->stop_reason, "budget") != 0 &&
        strcmp(res->stop_reason, "identified") != 0) {
        fprintf(stderr, "bandit-run: run %lld FAILED: stopped by %s failures (exit 1)\n",
                (long long)run_id, res->stop_reason);
        return 1;
    }
    if (share > max_share) {
        fprintf(stderr,
                "bandit-run: run %lld FAILED: %.0f %% of its steps failed, more than "
                "--max-failure-share %g (exit 1)\n",
                (long long)run_id, 100 * share, max_share);
        return 1;
    }
    return 0;
}

/* The identification verdict of a run with --stop identified:C. */
static void print_identification(store *db, const struct offline_result *res)
{
    const struct offline_identification *id = &res->identification;
    struct arm lead = {0}, second = {0};
    char err[PB_ERR_LEN];
    if (!id->checked)
        return;
    int named = arms_get(db, id->leader_arm_id, &lead, err) == PB_OK &&
                arms_get(db, id->runner_up_arm_id, &second, err) == PB_OK;
    const char *a = named ? lead.name : "?", *b = named ? second.name : "?";
    if (id->identified)
        fprintf(stderr,
                "bandit-run: %s identified as the best arm at %g %% confidence: GLR %.2f >= "
                "threshold %.2f against %s (%s %+.3f over %.0f, %s %+.3f over %.0f)\n",
                a, 100 * id->confidence, id->statistic, id->threshold, b, a, id->leader_mean,
                id->leader_n, b, id->runner_up_mean, id->runner_up_n);
    else
        fprintf(stderr,
                "bandit-run: NOT identified at %g %% confidence (stopped: %s): leader %s %+.3f "
                "over %.0f, GLR %.2f < threshold %.2f against %s %+.3f over %.0f\n",
                100 * id->confidence, res->stop_reason, a, id->leader_mean, id->leader_n,
                id->statistic, id->threshold, b, id->runner_up_mean, id->runner_up_n);
    arms_clear(&lead);
    arms_clear(&second);
}

/* The loop's environment over the session, with progress and failures shown through *ps;
 * SIGINT and SIGTERM set the stop flag from now on. */
static struct offline_env loop_env(struct session *s, int quiet, int64_t run_id,
                                   struct progress_state *ps)
{
    *ps = (struct progress_state){.tty = isatty(STDERR_FILENO),
                                  .quiet = quiet,
                                  .last_tenth = -1,
                                  .run_id = run_id,
                                  .window_start = pb_now_monotonic()};
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return (struct offline_env){.db = s->db,
                                .llm = s->llm,
                                .judge = s->judge,
                                .judge_llm = s->rubric ? s->llm : NULL,
                                .stop = &stop_flag,
                                .progress = show_progress,
                                .failure = show_failure,
                                .user = ps};
}

static int finish(struct session *s, const struct run_args *a, int64_t run_id,
                  const struct offline_options *o, const struct offline_budget *budget)
{
    char err[PB_ERR_LEN];
    struct offline_result res;
    struct progress_state ps;
    struct offline_env env = loop_env(s, a->quiet, run_id, &ps);
    int rc = offline_continue(&env, run_id, budget, &res, err);
    if (ps.line_open)
        fputc('\n', stderr);
    if (ps.suppressed)
        fprintf(stderr, "bandit-run: (%ld more failed attempts not shown)\n", ps.suppressed);
    if (rc != PB_OK) {
        fprintf(stderr, "bandit-run: run %lld: %s\n", (long long)run_id, err);
        return 1;
    }
    fprintf(stderr,
            "bandit-run: run %lld stopped (%s): %ld ok, %ld failed, %ld calls, %ld "
            "tokens, $%.4f\n",
            (long long)run_id, res.stop_reason, res.ok, res.failed, res.calls, res.tokens, res.usd);
    print_identification(s->db, &res);
    print_failures(&res);
    print_spend(s, o, &res);
    if (runread_write_outputs(s->db, run_id, a->out, 1, err) != PB_OK) {
        fprintf(stderr, "bandit-run: report: %s\n", err);
        return 1;
    }
    return run_exit_status(
        &res, a->max_failure_share >= 0 ? a->max_failure_share : RUNARGS_MAX_FAILURE_SHARE, run_id);
}

static int do_dry_run(const struct run_args *a, const config *cfg, const struct offline_options *o)
{
    char err[PB_ERR_LEN];
    struct runplan_cost p;
    if (estimate(cfg, o, &p, err) != PB_OK) {
        fprintf(stderr, "bandit-run: %s\n", err);
        return 1;
    }
    printf("dry run (no calls made, nothing stored)\n"
           "  task         %s%s%s: %s\n  arms         %zu (%s) from %s\n"
           "  policy       %s, seed %llu, batch %d, %ld iterations\n"
           "  judge        %s\n  LLM          %s, model %s\n"
           "  calls        %ld generation + %ld judge = %ld\n"
           "  tokens       ~%ld prompt + <= %ld completion (estimate; completions at max_tokens)\n"
           "  cost         ~$%.4f at $%g / $%g per 1k prompt / completion tokens\n",
           p.task, o->task_path ? " from " : " (built in)", o->task_path ? o->task_path : "",
           p.source, p.n_arms, p.arm_names, o->prompts_dir, o->policy, (unsigned long long)o->seed,
           o->batch, o->iterations, o->judge,
           *config_str(cfg, "llm.base_url") ? config_str(cfg, "llm.base_url") : "(not configured)",
           config_str(cfg, "llm.model"), p.generation_calls, p.judge_calls,
           p.generation_calls + p.judge_calls, p.prompt_tokens, p.completion_tokens, p.usd,
           o->price_prompt_per_1k, o->price_completion_per_1k);
    if (o->budget.calls || o->budget.tokens || o->budget.usd)
        printf("  budget       calls %ld, tokens %ld, usd %g (0 = no limit)\n", o->budget.calls,
               o->budget.tokens, o->budget.usd);
    (void)a;
    return 0;
}

static int do_start(const struct run_args *a)
{
    char err[PB_ERR_LEN];
    struct session s;
    static struct runopts ro; /* large (paths); one run per process */
    const struct offline_options *o = &ro.o;
    struct runplan_cost check;
    int64_t run_id;
    int rc = 1;
    memset(&ro, 0, sizeof ro);
    if (open_session(&s, a, 0, err) != PB_OK)
        goto fail;
    /* Usage errors (bad values, wrong paths, an empty prompts folder, a judge the task does not
     * take) come before the database is opened and the provider contacted. */
    if (runopts_new(a, s.cfg, &ro, err) != PB_OK ||
        runplan_estimate(o, 0, 0, 1, &check, err) != PB_OK) {
        fprintf(stderr, "bandit-run: %s\n", err);
        rc = 2;
        goto cleanup;
    }
    if (a->dry_run) {
        rc = do_dry_run(a, s.cfg, o);
        goto cleanup;
    }
    if (store_open_config(s.cfg, a->common.db, &s.db, err) != PB_OK ||
        start_llm(&s, a, err) != PB_OK || build_judge(&s, o, err) != PB_OK ||
        runrecord_create(s.db, o, &run_id, err) != PB_OK)
        goto fail;
    fprintf(stderr,
            "bandit-run: run %lld '%s' started (task %s, judge %s, policy %s, %ld iterations, "
            "batch %d, seed %llu)\n",
            (long long)run_id, o->name, ro.task.name, o->judge, o->policy, o->iterations, o->batch,
            (unsigned long long)o->seed);
    if (o->stop_confidence > 0)
        fprintf(stderr, "bandit-run: stops once the best arm is identified at %g %% confidence\n",
                100 * o->stop_confidence);
    rc = finish(&s, a, run_id, o, NULL);
    goto cleanup;
fail:
    fprintf(stderr, "bandit-run: %s\n", err);
cleanup:
    runopts_free(&ro);
    session_close(&s);
    return rc;
}

/* Runs (or resumes) an evolve, prints its lineage, writes DIR/report.md; the exit status as
 * a run's: 0 completed or out of budget, 130 signal, 1 otherwise. */
static int finish_evolve(struct session *s, const struct run_args *a, int64_t id)
{
    char err[PB_ERR_LEN], path[4096];
    struct evolve_result res;
    struct progress_state ps;
    /* quiet: a progress line per screen would restart at every generation */
    struct offline_env env = loop_env(s, 1, id, &ps);
    if (evolve_continue(&env, id, &res, err) != PB_OK) {
        fprintf(stderr, "bandit-run: evolve %lld: %s\n", (long long)id, err);
        return 1;
    }
    fprintf(stderr,
            "bandit-run: evolve %lld stopped (%s) after %ld generations: incumbent %s, %ld "
            "admitted, %ld retired, %ld provider calls\n",
            (long long)id, res.stop_reason, res.generations_done,
            res.incumbent[0] ? res.incumbent : "-", res.admitted, res.retired, res.calls);
    FILE *f = NULL;
    if (a->out && (size_t)snprintf(path, sizeof path, "%s/report.md", a->out) < sizeof path)
        f = fopen(path, "w");
    if ((f && evolve_report_markdown(s->db, id, f, err) != PB_OK) ||
        evolve_report_markdown(s->db, id, stdout, err) != PB_OK) {
        fprintf(stderr, "bandit-run: report: %s\n", err);
        if (f)
            fclose(f);
        return 1;
    }
    if (f && fclose(f) != 0)
        fprintf(stderr, "bandit-run: writing %s failed\n", path);
    if (!strcmp(res.stop_reason, "signal")) {
        fprintf(stderr, "bandit-run: interrupted; continue with `bandit-run resume %lld`\n",
                (long long)id);
        return 130;
    }
    return !strcmp(res.stop_reason, "completed") || !strcmp(res.stop_reason, "budget") ? 0 : 1;
}

static int do_evolve(const struct run_args *a)
{
    char err[PB_ERR_LEN], meta[4096];
    struct session s;
    static struct runopts ro; /* large (paths); one evolve per process */
    struct evolve_options eo;
    int64_t id;
    int rc = 1;
    memset(&ro, 0, sizeof ro);
    if (open_session(&s, a, 0, err) != PB_OK)
        goto fail;
    if (runopts_new(a, s.cfg, &ro, err) != PB_OK) {
        fprintf(stderr, "bandit-run evolve: %s\n", err);
        rc = 2;
        goto cleanup;
    }
    if (!a->name)
        ro.o.name = "evolve";
    if (!a->policy)
        ro.o.policy = "tts";
    if (!a->stop)
        ro.o.stop_confidence = 0.95;
    snprintf(meta, sizeof meta, "%s/propose.txt", config_str(s.cfg, "prompts.dir"));
    eo = (struct evolve_options){.screen = ro.o,
                                 .generations = (int)a->generations,
                                 .propose = (int)a->propose,
                                 .work_dir = a->out,
                                 .meta_prompt = a->meta ? a->meta : meta};
    if (access(eo.meta_prompt, R_OK) != 0) {
        fprintf(stderr, "bandit-run evolve: proposal template %s: %s (--meta FILE)\n",
                eo.meta_prompt, strerror(errno));
        rc = 2;
        goto cleanup;
    }
    if (store_open_config(s.cfg, a->common.db, &s.db, err) != PB_OK ||
        start_llm(&s, a, err) != PB_OK || build_judge(&s, &ro.o, err) != PB_OK)
        goto fail;
    if (evolve_create(s.db, &eo, &id, err) != PB_OK) {
        fprintf(stderr, "bandit-run evolve: %s\n", err);
        rc = 2;
        goto cleanup;
    }
    fprintf(stderr,
            "bandit-run: evolve %lld started (%ld generations of %ld candidates, screens by %s "
            "to %g %% confidence, seed %llu)\n",
            (long long)id, a->generations, a->propose, ro.o.policy, 100 * ro.o.stop_confidence,
            (unsigned long long)ro.o.seed);
    rc = finish_evolve(&s, a, id);
    goto cleanup;
fail:
    fprintf(stderr, "bandit-run evolve: %s\n", err);
cleanup:
    runopts_free(&ro);
    session_close(&s);
    return rc;
}

/* resume of an evolve: its screens' judge and provider, then the loop where it stopped */
static int resume_evolve(struct session *s, const struct run_args *a, int64_t id)
{
    char err[PB_ERR_LEN];
    struct offline_options o;
    void *owner = NULL;
    int rc = 1;
    if (evolve_screen_options(s->db, id, &o, &owner, err) == PB_OK &&
        start_llm(s, a, err) == PB_OK && build_judge(s, &o, err) == PB_OK) {
        fprintf(stderr, "bandit-run: resuming evolve %lld\n", (long long)id);
        if (a->budget)
            fprintf(stderr, "bandit-run: --budget is not applied to an evolve: each screen keeps "
                            "the share of the evolve's budget recorded with it\n");
        rc = finish_evolve(s, a, id);
    } else {
        fprintf(stderr, "bandit-run: %s\n", err);
    }
    runrecord_release(owner);
    return rc;
}

static int do_resume(const struct run_args *a)
{
    char err[PB_ERR_LEN];
    struct session s;
    struct offline_options o;
    struct offline_budget budget;
    void *owner = NULL;
    int64_t run_id;
    int rc = 1;
    if (open_session(&s, a, 1, err) != PB_OK)
        goto fail;
    if ((rc = runargs_find_run(s.db, a->run, &run_id)) != 0)
        goto cleanup;
    rc = 1;
    struct run *kind = NULL;
    if (runs_get(s.db, run_id, &kind, err) == PB_OK && !strcmp(kind->kind, "evolve")) {
        runs_list_free(kind, 1);
        rc = resume_evolve(&s, a, run_id);
        goto cleanup;
    }
    runs_list_free(kind, 1);
    if (runrecord_load(s.db, run_id, &o, &owner, err) != PB_OK)
        goto fail;
    budget = o.budget;
    if (a->budget && runplan_budget_parse(a->budget, &budget, err) != PB_OK) {
        fprintf(stderr, "bandit-run: %s\n", err);
        rc = 2;
        goto cleanup;
    }
    if (start_llm(&s, a, err) != PB_OK || build_judge(&s, &o, err) != PB_OK)
        goto fail;
    fprintf(stderr, "bandit-run: resuming run %lld '%s'\n", (long long)run_id, o.name);
    rc = finish(&s, a, run_id, &o, &budget);
    goto cleanup;
fail:
    fprintf(stderr, "bandit-run: %s\n", err);
cleanup:
    runrecord_release(owner);
    session_close(&s);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    struct run_args a;
    int rc = runargs_parse(argc, argv, &a);
    if (rc >= 0)
        return rc;
    switch (a.action) {
    case RUNARGS_START:
        return do_start(&a);
    case RUNARGS_RESUME:
        return do_resume(&a);
    case RUNARGS_REPORT:
        return runread_report(&a);
    case RUNARGS_EXPORT:
        return runread_export(&a);
    case RUNARGS_LIST:
        return runread_list(&a);
    case RUNARGS_REPLAY:
        return runread_replay(&a);
    case RUNARGS_EVOLVE:
        return do_evolve(&a);
    default:
        return 2;
    }
}
