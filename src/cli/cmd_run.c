/* cmd_run.c — `promptbandit run` = `bandit-run`: offline runs (new, resume, dry run), their
 * reports and exports, the list of runs, and policy replay over logged events. Parses
 * arguments, builds the LLM client and judge from settings, calls offline/runplan/report/replay,
 * prints; the loop itself lives in src/offline.c. */
#include "cmd.h"

#include "base/config.h"
#include "judge/judge.h"
#include "llm/llm.h"
#include "offline/offline.h"
#include "judge/ratings.h"
#include "offline/replay.h"
#include "offline/report.h"
#include "judge/rewardmodel.h"
#include "offline/runplan.h"
#include "offline/runrecord.h"
#include "store/runs.h"
#include "store/store.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: bandit-run [options]              start a run (= promptbandit run [options])\n"
    "       bandit-run resume RUN [--budget B] [--out DIR] [--concurrency N]\n"
    "       bandit-run report RUN [--out DIR] [--json]\n"
    "       bandit-run export RUN [--out FILE.jsonl]\n"
    "       bandit-run list\n"
    "       bandit-run replay --events FILE.jsonl --policy ucb1,thompson,... [--seed S] [--json]\n"
    "\n"
    "A run: for each iteration the policy picks an arm (a prompt file), the LLM answers a\n"
    "scenario with it, the judge scores the answer and the bandit learns the reward. Every\n"
    "step is stored in the database; Ctrl-C finishes the requests in flight, stores them and\n"
    "exits 130; `resume RUN` continues with the same decisions and repeats no paid call.\n"
    "\n"
    "  --judge llm|local|constant  scorer (default llm; local = setting judge.local_model)\n"
    "  --policy SPEC         bandit policy, e.g. ucb1, thompson, egreedy:epsilon=0.1\n"
    "                        (default: setting bandit.policy)\n"
    "  --iterations N        iterations (default: setting run.iterations)\n"
    "  --batch N             decisions made from one bandit state before its rewards are\n"
    "                        learned (default: setting run.batch); fixes the decisions\n"
    "  --concurrency N       requests in flight (default llm.concurrency); never changes a\n"
    "                        decision\n"
    "  --seed S              decisions and scenario order (default: bandit.seed, 0 = 1)\n"
    "  --budget B            calls=N, tokens=N, usd=X, or several joined by commas\n"
    "  --price-prompt X      USD per 1000 prompt tokens (run.price_prompt_per_1k)\n"
    "  --price-completion X  USD per 1000 completion tokens (run.price_completion_per_1k)\n"
    "  --scenarios FILE      opening sentences, one per line, optional TAB emotion\n"
    "                        (default: setting run.scenarios)\n"
    "  --prompts DIR         arm files NAME.txt (default: setting prompts.dir)\n"
    "  --rubric FILE         LLM judge rubric (default: PROMPTS/judge_chat.txt)\n"
    "  --examples FILE       LLM judge few-shot examples (default: ratings/examples_chat.jsonl)\n"
    "  --attempts N          tries of a failing step (default: setting run.step_attempts)\n"
    "  --db PATH             database (default: setting db.path)\n"
    "  --name NAME           run name (default \"run\")\n"
    "  --out DIR             write steps.jsonl, report.md, report.json and SVG plots there\n"
    "  --dry-run             print what would be called and the estimated cost; no calls\n"
    "  --resume RUN          same as `resume RUN`\n"
    "  --max-failure-share X exit 1 when more than this share of the steps failed\n"
    "                        (default 0.2; every failure is shown on stderr as it happens)\n"
    "  --quiet               no progress line on stderr (failures are still shown)\n"
    "\n"
    "Exit status: 0 finished (all iterations or the budget), 1 failure, 2 usage, 130 stopped\n"
    "by a signal. docs/RUN.md has the details.\n";

struct run_args {
    const char *judge, *policy, *budget, *scenarios, *prompts, *rubric, *examples, *db, *name, *out,
        *events, *resume;
    long iterations, batch, concurrency, attempts;
    double price_prompt, price_completion, max_failure_share;
    unsigned long long seed;
    int has_seed, dry_run, json, quiet;
    const char *policies[32];
    int n_policies;
};

/* A finished run exits 1 when more than this share of its steps failed (--max-failure-share). */
#define RUN_MAX_FAILURE_SHARE 0.2

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int parse_number(const char *o, const char *v, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(v, &end);
    if (end == v || *end || errno || !isfinite(*out)) {
        fprintf(stderr, "bandit-run: %s expects a number, got '%s'\n", o, v);
        return 0;
    }
    return 1;
}

/* Options that take a string value; NULL when o is not one of them. */
static const char **string_option(struct run_args *a, const char *o)
{
    static const char *const names[] = {"--judge",  "--budget",   "--scenarios", "--prompts",
                                        "--rubric", "--examples", "--db",        "--name",
                                        "--out",    "--events",   "--resume"};
    const char **slots[] = {&a->judge,  &a->budget,   &a->scenarios, &a->prompts,
                            &a->rubric, &a->examples, &a->db,        &a->name,
                            &a->out,    &a->events,   &a->resume};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(o, names[i]))
            return slots[i];
    return NULL;
}

static int numeric_option(struct run_args *a, const char *o, const char *v)
{
    double d;
    if (!parse_number(o, v, &d))
        return 2;
    long *whole = !strcmp(o, "--iterations")    ? &a->iterations
                  : !strcmp(o, "--batch")       ? &a->batch
                  : !strcmp(o, "--concurrency") ? &a->concurrency
                  : !strcmp(o, "--attempts")    ? &a->attempts
                                                : NULL;
    if (whole || !strcmp(o, "--seed")) {
        if (d < 0 || d != floor(d) || d > 1e18) {
            fprintf(stderr, "bandit-run: %s expects a whole number >= 0, got '%s'\n", o, v);
            return 2;
        }
        if (whole)
            *whole = (long)d;
        else {
            a->seed = strtoull(v, NULL, 10);
            a->has_seed = 1;
        }
    } else if (!strcmp(o, "--max-failure-share")) {
        if (d < 0 || d > 1) {
            fprintf(stderr,
                    "bandit-run: --max-failure-share is a share between 0 and 1, got '%s'\n", v);
            return 2;
        }
        a->max_failure_share = d;
    } else if (!strcmp(o, "--price-prompt") || !strcmp(o, "--price-completion")) {
        if (d < 0) {
            fprintf(stderr, "bandit-run: %s cannot be negative\n", o);
            return 2;
        }
        *(!strcmp(o, "--price-prompt") ? &a->price_prompt : &a->price_completion) = d;
    } else {
        return -1;
    }
    return 0;
}

/* Splits "ucb1,egreedy:epsilon=0.1,burnin=2,thompson": a piece with '=' and no ':' belongs to
 * the policy before it. Modifies spec in place. */
static int add_policies(struct run_args *a, char *spec)
{
    char *start = spec;
    for (char *p = spec;; p++) {
        if (*p != ',' && *p != '\0')
            continue;
        char *next = p + 1, *comma = *p ? strchr(next, ',') : NULL;
        size_t len = comma ? (size_t)(comma - next) : strlen(next);
        int joins = *p && memchr(next, '=', len) && !memchr(next, ':', len);
        if (joins)
            continue;
        int end = *p == '\0';
        *p = '\0';
        if (*start && a->n_policies < 32)
            a->policies[a->n_policies++] = start;
        if (end)
            return 0;
        start = next;
    }
}

static int parse_args(int argc, char **argv, int first, struct run_args *a)
{
    *a = (struct run_args){.price_prompt = -1, .price_completion = -1, .max_failure_share = -1};
    for (int i = first; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **s = string_option(a, o);
        int is_policy = !strcmp(o, "--policy");
        if (!strcmp(o, "--dry-run") || !strcmp(o, "--json") || !strcmp(o, "--quiet")) {
            *(!strcmp(o, "--dry-run") ? &a->dry_run
              : !strcmp(o, "--json")  ? &a->json
                                      : &a->quiet) = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "bandit-run: %s needs a value (see --help)\n", o);
            return 2;
        }
        if (s) {
            *s = v;
        } else if (is_policy) {
            if (!a->policy)
                a->policy = v;
            add_policies(a, argv[i + 1]);
        } else {
            int rc = numeric_option(a, o, v);
            if (rc > 0)
                return rc;
            if (rc < 0) {
                fprintf(stderr, "bandit-run: unknown option '%s' (see --help)\n", o);
                return 2;
            }
        }
        i++;
    }
    return 0;
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
    int rc = config_load(NULL, &s->cfg, err);
    if (rc == PB_OK && with_db)
        rc = store_open_config(s->cfg, a->db, &s->db, err);
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

/* ---- actions ---- */

static int write_outputs(store *db, int64_t run_id, const char *dir, int print_md, char *err)
{
    struct report *r = NULL;
    char *md = NULL, path[4096];
    int rc = report_load(db, run_id, &r, err);
    if (rc == PB_OK && dir) {
        rc = report_write_dir(r, dir, err);
        snprintf(path, sizeof path, "%s/steps.jsonl", dir);
        FILE *f = rc == PB_OK ? fopen(path, "w") : NULL;
        if (rc == PB_OK && !f)
            rc = pb_errf(err, PB_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        if (f) {
            rc = report_export_jsonl(db, run_id, f, err);
            if (fclose(f) != 0 && rc == PB_OK)
                rc = pb_errf(err, PB_ERR_IO, "cannot write %s", path);
        }
    }
    if (rc == PB_OK && print_md && (rc = report_markdown(r, &md, err)) == PB_OK)
        fputs(md, stdout);
    free(md);
    report_free(r);
    return rc;
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
    if (strcmp(res->stop_reason, "completed") != 0 && strcmp(res->stop_reason, "budget") != 0) {
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

static int finish(struct session *s, const struct run_args *a, int64_t run_id,
                  const struct offline_options *o, const struct offline_budget *budget)
{
    char err[PB_ERR_LEN];
    struct offline_result res;
    struct progress_state ps = {.tty = isatty(STDERR_FILENO),
                                .quiet = a->quiet,
                                .last_tenth = -1,
                                .run_id = run_id,
                                .window_start = pb_now_monotonic()};
    struct offline_env env = {.db = s->db,
                              .llm = s->llm,
                              .judge = s->judge,
                              .judge_llm = s->rubric ? s->llm : NULL,
                              .stop = &stop_flag,
                              .progress = show_progress,
                              .failure = show_failure,
                              .user = &ps};
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
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
    print_failures(&res);
    print_spend(s, o, &res);
    if (write_outputs(s->db, run_id, a->out, 1, err) != PB_OK) {
        fprintf(stderr, "bandit-run: report: %s\n", err);
        return 1;
    }
    return run_exit_status(
        &res, a->max_failure_share >= 0 ? a->max_failure_share : RUN_MAX_FAILURE_SHARE, run_id);
}

/* Options of a new run from the arguments and settings. */
static int new_options(const struct run_args *a, const config *cfg, struct offline_options *o,
                       char *rubric_buf, size_t rubric_len, char *err)
{
    *o = (struct offline_options){
        .name = a->name ? a->name : "run",
        .policy = a->policy ? a->policy : config_str(cfg, "bandit.policy"),
        .iterations = a->iterations ? a->iterations : config_int(cfg, "run.iterations"),
        .batch = (int)(a->batch ? a->batch : config_int(cfg, "run.batch")),
        .seed = a->has_seed ? a->seed : (uint64_t)config_int(cfg, "bandit.seed"),
        .scenarios_path = a->scenarios ? a->scenarios : config_str(cfg, "run.scenarios"),
        .prompts_dir = a->prompts ? a->prompts : config_str(cfg, "prompts.dir"),
        .judge = a->judge ? a->judge : "llm",
        .step_attempts = (int)(a->attempts ? a->attempts : config_int(cfg, "run.step_attempts")),
        .price_prompt_per_1k =
            a->price_prompt >= 0 ? a->price_prompt : config_double(cfg, "run.price_prompt_per_1k"),
        .price_completion_per_1k = a->price_completion >= 0
                                       ? a->price_completion
                                       : config_double(cfg, "run.price_completion_per_1k"),
    };
    if (o->seed == 0)
        o->seed = 1; /* a run must be reproducible: never seed from the clock */
    snprintf(rubric_buf, rubric_len, "%s/judge_chat.txt", o->prompts_dir);
    int kind = judge_kind_parse(o->judge);
    if (kind == JUDGE_LLM) {
        o->judge_rubric = a->rubric ? a->rubric : rubric_buf;
        o->judge_examples = a->examples ? a->examples : "ratings/examples_chat.jsonl";
    } else if (kind == JUDGE_LOCAL) {
        o->judge_model = config_str(cfg, "judge.local_model");
    }
    if (a->budget && runplan_budget_parse(a->budget, &o->budget, err) != PB_OK)
        return PB_ERR_INVALID;
    return PB_OK;
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
           "  arms         %zu (%s) from %s\n  scenarios    %zu from %s\n"
           "  policy       %s, seed %llu, batch %d, %ld iterations\n"
           "  judge        %s\n  LLM          %s, model %s\n"
           "  calls        %ld generation + %ld judge = %ld\n"
           "  tokens       ~%ld prompt + <= %ld completion (estimate; completions at max_tokens)\n"
           "  cost         ~$%.4f at $%g / $%g per 1k prompt / completion tokens\n",
           p.n_arms, p.arm_names, o->prompts_dir, p.n_scenarios, o->scenarios_path, o->policy,
           (unsigned long long)o->seed, o->batch, o->iterations, o->judge,
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
    char err[PB_ERR_LEN], rubric[4096];
    struct session s;
    struct offline_options o;
    int64_t run_id;
    int rc = 1;
    if (open_session(&s, a, !a->dry_run, err) != PB_OK)
        goto fail;
    if (new_options(a, s.cfg, &o, rubric, sizeof rubric, err) != PB_OK) {
        fprintf(stderr, "bandit-run: %s\n", err);
        rc = 2;
        goto cleanup;
    }
    if (a->dry_run) {
        rc = do_dry_run(a, s.cfg, &o);
        goto cleanup;
    }
    if (start_llm(&s, a, err) != PB_OK || build_judge(&s, &o, err) != PB_OK ||
        runrecord_create(s.db, &o, &run_id, err) != PB_OK)
        goto fail;
    fprintf(stderr,
            "bandit-run: run %lld '%s' started (policy %s, %ld iterations, batch %d, "
            "seed %llu)\n",
            (long long)run_id, o.name, o.policy, o.iterations, o.batch, (unsigned long long)o.seed);
    rc = finish(&s, a, run_id, &o, NULL);
    goto cleanup;
fail:
    fprintf(stderr, "bandit-run: %s\n", err);
cleanup:
    session_close(&s);
    return rc;
}

static int parse_run_id(const char *v, int64_t *id)
{
    char *end;
    long long n = v ? strtoll(v, &end, 10) : 0;
    if (!v || *end || n <= 0) {
        fprintf(stderr, "bandit-run: expected a run id (a positive number), got '%s'\n",
                v ? v : "");
        return 0;
    }
    *id = n;
    return 1;
}

static int do_resume(const struct run_args *a, const char *id_text)
{
    char err[PB_ERR_LEN];
    struct session s;
    struct offline_options o;
    struct offline_budget budget;
    void *owner = NULL;
    int64_t run_id;
    int rc = 1;
    if (!parse_run_id(id_text, &run_id))
        return 2;
    if (open_session(&s, a, 1, err) != PB_OK ||
        runrecord_load(s.db, run_id, &o, &owner, err) != PB_OK)
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

static int do_report(const struct run_args *a, const char *id_text)
{
    char err[PB_ERR_LEN], *text = NULL;
    struct session s;
    struct report *r = NULL;
    int64_t run_id;
    int rc = 1;
    if (!parse_run_id(id_text, &run_id))
        return 2;
    if (open_session(&s, a, 1, err) == PB_OK && report_load(s.db, run_id, &r, err) == PB_OK &&
        (a->json ? report_json(r, &text, err) : report_markdown(r, &text, err)) == PB_OK &&
        (!a->out || write_outputs(s.db, run_id, a->out, 0, err) == PB_OK)) {
        printf("%s%s", text, a->json ? "\n" : "");
        rc = 0;
    } else {
        fprintf(stderr, "bandit-run: %s\n", err);
    }
    free(text);
    report_free(r);
    session_close(&s);
    return rc;
}

static int do_export(const struct run_args *a, const char *id_text)
{
    char err[PB_ERR_LEN];
    struct session s;
    int64_t run_id;
    FILE *out = stdout;
    int rc = 1;
    if (!parse_run_id(id_text, &run_id))
        return 2;
    if (open_session(&s, a, 1, err) != PB_OK)
        goto fail;
    if (a->out && !(out = fopen(a->out, "w"))) {
        pb_errf(err, PB_ERR_IO, "cannot write %s: %s", a->out, strerror(errno));
        goto fail;
    }
    if (report_export_jsonl(s.db, run_id, out, err) != PB_OK)
        goto fail;
    rc = 0;
    goto cleanup;
fail:
    fprintf(stderr, "bandit-run: %s\n", err);
cleanup:
    if (out && out != stdout && fclose(out) != 0 && rc == 0) {
        fprintf(stderr, "bandit-run: cannot write %s\n", a->out);
        rc = 1;
    }
    session_close(&s);
    return rc;
}

static int do_list(const struct run_args *a)
{
    char err[PB_ERR_LEN];
    struct session s;
    struct run *list = NULL;
    size_t n = 0;
    int rc = 1;
    if (open_session(&s, a, 1, err) != PB_OK || runs_list(s.db, &list, &n, err) != PB_OK) {
        fprintf(stderr, "bandit-run: %s\n", err);
        goto cleanup;
    }
    printf("%-5s %-20s %-8s %-12s %-10s %6s %6s %7s  %s\n", "id", "name", "kind", "status",
           "stopped", "ok", "failed", "pending", "winner");
    for (size_t i = 0; i < n; i++) {
        char winner[ARM_NAME_MAX + 1] = "-", *prompt = NULL;
        int64_t arm_id;
        if (list[i].winner_arm_id &&
            runs_winner(s.db, list[i].id, &arm_id, winner, &prompt, err) != PB_OK)
            snprintf(winner, sizeof winner, "?");
        free(prompt);
        printf("%-5lld %-20.20s %-8s %-12s %-10s %6lld %6lld %7lld  %s\n", (long long)list[i].id,
               list[i].name, list[i].kind, list[i].status,
               list[i].stop_reason ? list[i].stop_reason : "-", (long long)list[i].steps_ok,
               (long long)list[i].steps_failed, (long long)list[i].steps_pending, winner);
    }
    rc = 0;
cleanup:
    runs_list_free(list, n);
    session_close(&s);
    return rc;
}

static void print_replay(const struct replay_log *log, const struct replay_result *res, int n)
{
    printf("%zu events (%zu skipped without a reward), %zu arms, %zu with propensities\n\n", log->n,
           log->skipped, log->n_arms, log->with_propensity);
    printf("%-32s %9s %8s %18s %8s %8s\n", "policy", "accepted", "replay", "95 % CI", "IPS",
           "SNIPS");
    for (int i = 0; i < n; i++) {
        const struct replay_result *r = &res[i];
        printf("%-32s %9zu %8.4f [%7.4f, %7.4f] %8.4f %8.4f\n", r->policy, r->accepted, r->mean,
               r->ci_low, r->ci_high, r->ips, r->snips);
    }
    if (log->with_propensity < log->n)
        printf("\nIPS needs a propensity on every event; this log has %zu of %zu.\n",
               log->with_propensity, log->n);
}

static json_t *number_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static int print_replay_json(const struct replay_result *res, int n)
{
    json_t *list = json_array();
    for (int i = 0; list && i < n; i++) {
        const struct replay_result *r = &res[i];
        json_array_append_new(
            list, json_pack("{s:s, s:I, s:I, s:o, s:[o,o], s:o, s:o}", "policy", r->policy,
                            "events", (json_int_t)r->events, "accepted", (json_int_t)r->accepted,
                            "mean", number_or_null(r->mean), "ci95", number_or_null(r->ci_low),
                            number_or_null(r->ci_high), "ips", number_or_null(r->ips), "snips",
                            number_or_null(r->snips)));
    }
    char *text = list ? json_dumps(list, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) : NULL;
    if (text)
        printf("%s\n", text);
    free(text);
    json_decref(list);
    return text ? 0 : 1;
}

static int do_replay(const struct run_args *a)
{
    char err[PB_ERR_LEN];
    struct replay_log log;
    struct replay_result res[32];
    if (!a->events || a->n_policies == 0) {
        fprintf(stderr, "bandit-run replay: --events FILE and --policy P1,P2,... are required\n");
        return 2;
    }
    if (replay_load_jsonl(a->events, &log, err) != PB_OK) {
        fprintf(stderr, "bandit-run replay: %s\n", err);
        return 1;
    }
    for (int i = 0; i < a->n_policies; i++)
        if (replay_run(&log, a->policies[i], a->has_seed ? a->seed : 1, &res[i], err) != PB_OK) {
            fprintf(stderr, "bandit-run replay: policy '%s': %s\n", a->policies[i], err);
            replay_log_free(&log);
            return 2;
        }
    int rc = 0;
    if (a->json)
        rc = print_replay_json(res, a->n_policies);
    else
        print_replay(&log, res, a->n_policies);
    replay_log_free(&log);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    struct run_args a;
    const char *action = argc > 1 ? argv[1] : NULL;
    for (int i = 1; i < argc; i++)
        if (cmd_is_help(argv[i])) {
            fputs(usage_text, stdout);
            return 0;
        }
    int is_action = action && action[0] != '-';
    int takes_id = is_action && (!strcmp(action, "resume") || !strcmp(action, "report") ||
                                 !strcmp(action, "export"));
    int rc = parse_args(argc, argv, is_action ? 2 + takes_id : 1, &a);
    if (rc)
        return rc;
    if (!is_action)
        return a.resume ? do_resume(&a, a.resume) : do_start(&a);
    if (takes_id && argc < 3) {
        fprintf(stderr, "bandit-run %s: which run? (bandit-run list)\n", action);
        return 2;
    }
    if (!strcmp(action, "resume"))
        return do_resume(&a, argv[2]);
    if (!strcmp(action, "report"))
        return do_report(&a, argv[2]);
    if (!strcmp(action, "export"))
        return do_export(&a, argv[2]);
    if (!strcmp(action, "list"))
        return do_list(&a);
    if (!strcmp(action, "replay"))
        return do_replay(&a);
    fprintf(stderr, "bandit-run: unknown action '%s'\n\n%s", action, usage_text);
    return 2;
}
