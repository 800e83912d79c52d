/* runargs.c — bandit-run's options: one table says which action takes which option; values are
 * checked as they are read; each action prints its own help; RUN is an id or a name. */
#include "runargs.h"

#include "bandit/bandit.h"
#include "bandit/policyspec.h"
#include "base/pb.h"
#include "judge/judge.h"
#include "offline/runplan.h"
#include "store/runs.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---- help ---- */

static const char start_help[] =
    "usage: bandit-run [options]              start a run (= promptbandit run [options])\n"
    "       bandit-run resume RUN [options]   continue a stopped run\n"
    "       bandit-run report RUN [--out DIR] [--json]\n"
    "       bandit-run export RUN [--out FILE.jsonl]\n"
    "       bandit-run list\n"
    "       bandit-run replay --events FILE.jsonl --policy ucb1,thompson,... [--seed S] [--json]\n"
    "       bandit-run evolve --generations G --propose N --out DIR [options]\n"
    "   (`bandit-run ACTION --help` for each; RUN is a run id or name from `bandit-run list`)\n"
    "\n"
    "actions: resume, report, export, list, replay\n"
    "\n"
    "A run: for each iteration the policy picks an arm (a prompt file), the LLM answers a\n"
    "message of the task with it, the judge scores the answer and the bandit learns the reward.\n"
    "Every step is stored in the database; Ctrl-C finishes the requests in flight, stores them\n"
    "and exits 130; `resume RUN` continues with the same decisions and repeats no paid call.\n"
    "\n"
    "  --task NAME|FILE      what a step says and how it is judged: chat (default), diary,\n"
    "                        or a task file (docs/RUN.md); NAME is tasks/NAME.json\n"
    "  --judge llm|local|constant  scorer (default: the task's first judge)\n"
    "  --policy SPEC         bandit policy, e.g. ucb1, thompson, egreedy:epsilon=0.1\n"
    "                        (default: setting bandit.policy); with --stop identified also\n"
    "                        a best-arm identification rule: tts, lucb, se, uniform\n"
    "  --stop identified[:C] stop once the leader is identified at confidence C (default\n"
    "                        0.95) by the GLR rule of the dashboard's verdict, or at the\n"
    "                        budget / the iterations; the stop reason says which\n"
    "  --iterations N        iterations (default: setting run.iterations)\n"
    "  --batch N             decisions made from one bandit state before its rewards are\n"
    "                        learned (default: setting run.batch); fixes the decisions\n"
    "  --concurrency N       requests in flight (default llm.concurrency); never changes a\n"
    "                        decision\n"
    "  --seed S              decisions and message order (default: bandit.seed, 0 = 1)\n"
    "  --budget B            calls=N, tokens=N, usd=X, or several joined by commas\n"
    "  --price-prompt X      USD per 1000 prompt tokens (run.price_prompt_per_1k)\n"
    "  --price-completion X  USD per 1000 completion tokens (run.price_completion_per_1k)\n"
    "  --scenarios FILE      scenario lines, one per line, optional TAB emotion (overrides the\n"
    "                        task's; setting run.scenarios when set)\n"
    "  --prompts DIR         arm files NAME.txt (default: the task's, else prompts.dir)\n"
    "  --rubric FILE         LLM judge rubric (default: the task's)\n"
    "  --examples FILE       LLM judge few-shot examples (default: the task's)\n"
    "  --local-model FILE    reward model of --judge local (default: the task's, else\n"
    "                        judge.local_model)\n"
    "  --attempts N          tries of a failing step (default: setting run.step_attempts)\n"
    "  --config FILE         settings file (default: $PB_CONFIG)\n"
    "  --db PATH             database file or postgresql:// URL (default: db.url, else db.path)\n"
    "  --name NAME           run name (default: the task's name)\n"
    "  --out DIR             write steps.jsonl, report.md, report.json and SVG plots there\n"
    "  --dry-run             print what would be called and the estimated cost; no calls\n"
    "  --resume RUN          same as `resume RUN`\n"
    "  --max-failure-share X exit 1 when more than this share of the steps failed\n"
    "                        (default 0.2; every failure is shown on stderr as it happens)\n"
    "  --quiet               no progress line on stderr (failures are still shown)\n"
    "\n"
    "Exit status: 0 finished (all iterations, the budget or identified), 1 failure (an error, "
    "failures\n"
    "stopped the run, or too many steps failed), 2 usage, 130 stopped by a signal.\n"
    "docs/RUN.md has the details.\n";

static const char resume_help[] =
    "usage: bandit-run resume RUN [--budget B] [--out DIR] [--concurrency N] [--quiet]\n"
    "                             [--max-failure-share X] [--db PATH] [--config FILE]\n"
    "\n"
    "Continues a stopped run (interrupted, out of budget, or stopped by failures) with its\n"
    "recorded options: the same decisions, no paid call repeated. RUN is a run id or a run name\n"
    "as `bandit-run list` shows it (the newest run of that name).\n"
    "\n"
    "  --budget B            replaces the recorded budget: calls=N, tokens=N, usd=X\n"
    "  --out DIR             write the report folder at the end\n"
    "  --concurrency N       requests in flight (never changes a decision)\n"
    "  --max-failure-share X exit 1 when more than this share of the steps failed (0.2)\n"
    "  --quiet               no progress line (failures are still shown)\n";

static const char report_help[] =
    "usage: bandit-run report RUN [--out DIR] [--json] [--db PATH] [--config FILE]\n"
    "\n"
    "Prints the report of a run (markdown, or JSON with --json): prompts, arms with mean,\n"
    "interval, tokens and cost, the verdict (leader, runner-up, separated or how many more\n"
    "rewards), examples, per-emotion breakdown, failures. RUN is an id or a name from\n"
    "`bandit-run list`.\n"
    "\n"
    "  --out DIR   also write report.md, report.json, steps.jsonl and the SVG plots there\n"
    "  --json      print report.json instead of markdown\n";

static const char export_help[] =
    "usage: bandit-run export RUN [--out FILE.jsonl] [--db PATH] [--config FILE]\n"
    "\n"
    "Writes every step of a run as one JSON object per line (the format `bandit-run replay`\n"
    "reads): iteration, arm, status, reward, propensity, context, output, error, calls, tokens,\n"
    "cost. RUN is an id or a name from `bandit-run list`.\n"
    "\n"
    "  --out FILE  write there instead of stdout\n";

static const char list_help[] =
    "usage: bandit-run list [--db PATH] [--config FILE]\n"
    "\n"
    "Lists the runs, newest first: id, name, kind, status, why it stopped, steps ok / failed /\n"
    "pending and the winner. Every other action accepts the id or the name shown here.\n";

static const char replay_help[] =
    "usage: bandit-run replay --events FILE.jsonl --policy P1,P2,... [--seed S] [--json]\n"
    "\n"
    "Compares policies on logged events without new calls (replay, IPS, SNIPS; docs/RUN.md\n"
    "says when each is unbiased). Events: one JSON object per line with arm and reward, optional\n"
    "propensity, as `bandit-run export` writes them.\n"
    "\n"
    "  --events FILE   the logged events\n"
    "  --policy LIST   policies joined by commas, e.g. ucb1,thompson,egreedy:epsilon=0.1\n"
    "  --seed S        seed of the policies' randomness (default 1)\n"
    "  --json          JSON instead of a table\n";

static const char evolve_help[] =
    "usage: bandit-run evolve --generations G --propose N --out DIR [--budget calls=N]\n"
    "                         [--policy tts|lucb|se|uniform] [--stop identified[:C]]\n"
    "                         [--meta FILE] [every option of a run]\n"
    "\n"
    "Evolves prompts. Generation 0 screens the seed prompts (--prompts DIR); each generation\n"
    "after it asks the LLM for N candidates from the incumbent prompt and the best and worst\n"
    "rated answers of the last screen (as `promptbandit prompts propose` does), screens them\n"
    "against the incumbent in a run that stops once the GLR rule identifies its leader, admits\n"
    "a candidate identified as best (the new incumbent), retires the candidates the leader is\n"
    "separated from, and records each prompt's lineage: parent, generation, rewards, mean, GLR\n"
    "statistic. `bandit-run report EVOLVE` shows it; `bandit-run resume EVOLVE` continues an\n"
    "interrupted evolve; the same --seed and provider answers give the same decisions.\n"
    "\n"
    "  --generations G   generations after the seed screen (1..1000)\n"
    "  --propose N       candidates asked for per generation (1..20)\n"
    "  --out DIR         work folder: pool/ (every prompt), gen-N/ (a screen's arms), best.txt\n"
    "                    (the incumbent at the end) and report.md (the lineage)\n"
    "  --budget calls=N  provider calls of the whole evolve (proposals, answers, judgements),\n"
    "                    shared out over the screens still to come\n"
    "  --policy RULE     how a screen samples: tts (default), lucb, se, uniform, or a bandit\n"
    "                    policy\n"
    "  --stop identified[:C]  confidence of a screen's verdict (default identified:0.95)\n"
    "  --iterations N    the most steps one screen takes (default: setting run.iterations)\n"
    "  --meta FILE       the proposal's template (default: PROMPTS/propose.txt)\n"
    "Every other option of a run (--task, --judge, --scenarios, --rubric, --seed, ...) sets\n"
    "the screens'. docs/RUN.md has the details.\n";

static const char *const action_names[RUNARGS_ACTIONS] = {"start", "resume", "report", "export",
                                                          "list",  "replay", "evolve"};
static const char *const action_helps[RUNARGS_ACTIONS] = {
    start_help, resume_help, report_help, export_help, list_help, replay_help, evolve_help};

void runargs_usage(enum runargs_action action, FILE *out)
{
    fputs(action_helps[action < RUNARGS_ACTIONS ? action : RUNARGS_START], out);
}

/* ---- the option table ---- */

enum opt_kind { OPT_FLAG, OPT_STRING, OPT_WHOLE, OPT_SEED, OPT_PRICE, OPT_SHARE, OPT_CHOICE };

#define A(x)      (1u << RUNARGS_##x)
#define ALL_READS (A(REPORT) | A(EXPORT) | A(LIST))

struct opt_def {
    const char *name;
    enum opt_kind kind;
    size_t offset;    /* into struct run_args */
    unsigned actions; /* bit per runargs_action that takes it */
};

#define F(field) offsetof(struct run_args, field)
static const struct opt_def opts[] = {
    {"--task", OPT_STRING, F(task), A(START) | A(EVOLVE)},
    {"--judge", OPT_CHOICE, F(judge), A(START) | A(EVOLVE)},
    {"--policy", OPT_STRING, F(policy), A(START) | A(EVOLVE) | A(REPLAY)},
    {"--iterations", OPT_WHOLE, F(iterations), A(START) | A(EVOLVE)},
    {"--batch", OPT_WHOLE, F(batch), A(START) | A(EVOLVE)},
    {"--concurrency", OPT_WHOLE, F(concurrency), A(START) | A(EVOLVE) | A(RESUME)},
    {"--attempts", OPT_WHOLE, F(attempts), A(START) | A(EVOLVE)},
    {"--seed", OPT_SEED, F(seed), A(START) | A(EVOLVE) | A(REPLAY)},
    {"--budget", OPT_STRING, F(budget), A(START) | A(EVOLVE) | A(RESUME)},
    {"--stop", OPT_STRING, F(stop), A(START) | A(EVOLVE)},
    {"--generations", OPT_WHOLE, F(generations), A(EVOLVE)},
    {"--propose", OPT_WHOLE, F(propose), A(EVOLVE)},
    {"--meta", OPT_STRING, F(meta), A(EVOLVE)},
    {"--price-prompt", OPT_PRICE, F(price_prompt), A(START) | A(EVOLVE)},
    {"--price-completion", OPT_PRICE, F(price_completion), A(START) | A(EVOLVE)},
    {"--scenarios", OPT_STRING, F(scenarios), A(START) | A(EVOLVE)},
    {"--prompts", OPT_STRING, F(prompts), A(START) | A(EVOLVE)},
    {"--rubric", OPT_STRING, F(rubric), A(START) | A(EVOLVE)},
    {"--examples", OPT_STRING, F(examples), A(START) | A(EVOLVE)},
    {"--local-model", OPT_STRING, F(local_model), A(START) | A(EVOLVE)},
    {"--name", OPT_STRING, F(name), A(START) | A(EVOLVE)},
    {"--out", OPT_STRING, F(out), A(START) | A(EVOLVE) | A(RESUME) | A(REPORT) | A(EXPORT)},
    {"--events", OPT_STRING, F(events), A(REPLAY)},
    {"--resume", OPT_STRING, F(run), A(START)},
    {"--max-failure-share", OPT_SHARE, F(max_failure_share), A(START) | A(EVOLVE) | A(RESUME)},
    {"--dry-run", OPT_FLAG, F(dry_run), A(START)},
    {"--quiet", OPT_FLAG, F(quiet), A(START) | A(EVOLVE) | A(RESUME)},
    {"--json", OPT_FLAG, F(json), A(REPORT) | A(REPLAY)},
    {"--db", OPT_STRING, F(common.db), A(START) | A(EVOLVE) | A(RESUME) | ALL_READS},
    {"--config", OPT_STRING, F(common.config), A(START) | A(EVOLVE) | A(RESUME) | ALL_READS},
};
#undef F
#define N_OPTS (sizeof opts / sizeof opts[0])

/* Prints "bandit-run[ ACTION]: MESSAGE (bandit-run[ ACTION] --help)" on stderr. */
__attribute__((format(printf, 2, 3))) static void usage_error(const struct run_args *a,
                                                              const char *fmt, ...)
{
    const char *act = a->action == RUNARGS_START ? "" : action_names[a->action];
    va_list ap;
    fprintf(stderr, "bandit-run%s%s: ", *act ? " " : "", act);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (bandit-run %s%s--help)\n", act, *act ? " " : "");
}

static int parse_double(const char *v, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(v, &end);
    return end != v && !*end && !errno && isfinite(*out);
}

/* Splits "ucb1,egreedy:epsilon=0.1,burnin=2,thompson": a piece with '=' and no ':' belongs to
 * the policy before it. Modifies spec in place. */
static void add_policies(struct run_args *a, char *spec)
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
        if (*start && a->n_policies < RUNARGS_MAX_POLICIES)
            a->policies[a->n_policies++] = start;
        if (end)
            return;
        start = next;
    }
}

/* Checks each policy of a --policy value; prints bandit's message (it lists the known ones). */
static int check_policies(struct run_args *a, char *value)
{
    char err[PB_ERR_LEN];
    bandit_policy pol;
    if (a->action == RUNARGS_REPLAY) {
        add_policies(a, value);
        for (int i = 0; i < a->n_policies; i++)
            if (policyspec_parse(a->policies[i], &pol, err) != PB_OK) {
                usage_error(a, "--policy: %s", err);
                return 2;
            }
        return 0;
    }
    if (runplan_policy_is_bai(value, NULL)) /* tts, lucb, se, uniform: with --stop identified */
        return 0;
    if (policyspec_parse(value, &pol, err) != PB_OK) {
        usage_error(a, "--policy: %s", err);
        return 2;
    }
    return 0;
}

/* Stores one option's value; 0 or the exit status 2. */
static int take_value(struct run_args *a, const struct opt_def *d, char *v)
{
    char *field = (char *)a + d->offset;
    double x;
    switch (d->kind) {
    case OPT_STRING:
    case OPT_CHOICE:
        if (d->kind == OPT_CHOICE && judge_kind_parse(v) < 0) {
            usage_error(a, "--judge must be one of llm, local, constant; got '%s'", v);
            return 2;
        }
        *(const char **)field = v;
        if (!strcmp(d->name, "--stop")) {
            char err[PB_ERR_LEN];
            double c;
            if (runplan_stop_parse(v, &c, err) != PB_OK) {
                usage_error(a, "%s", err);
                return 2;
            }
        }
        return !strcmp(d->name, "--policy") ? check_policies(a, v) : 0;
    case OPT_FLAG:
        *(int *)field = 1;
        return 0;
    default:
        break;
    }
    if (!parse_double(v, &x)) {
        usage_error(a, "%s expects a number, got '%s'", d->name, v);
        return 2;
    }
    if (d->kind == OPT_WHOLE || d->kind == OPT_SEED) {
        if (x < 0 || x != floor(x) || x > 1e18) {
            usage_error(a, "%s expects a whole number >= 0, got '%s'", d->name, v);
            return 2;
        }
        if (d->kind == OPT_WHOLE)
            *(long *)field = (long)x;
        else {
            a->seed = strtoull(v, NULL, 10);
            a->has_seed = 1;
        }
    } else if (d->kind == OPT_SHARE && (x < 0 || x > 1)) {
        usage_error(a, "%s is a share between 0 and 1, got '%s'", d->name, v);
        return 2;
    } else if (d->kind == OPT_PRICE && x < 0) {
        usage_error(a, "%s cannot be negative, got '%s'", d->name, v);
        return 2;
    } else {
        *(double *)field = x;
    }
    return 0;
}

static const struct opt_def *find_opt(const char *name)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (!strcmp(opts[i].name, name))
            return &opts[i];
    return NULL;
}

/* The options an action takes, for an error message. */
static void list_options(enum runargs_action action, char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; i < N_OPTS; i++)
        if (opts[i].actions & (1u << action)) {
            size_t used = strlen(out);
            snprintf(out + used, cap - used, "%s%s", used ? ", " : "", opts[i].name);
        }
}

static int parse_options(int argc, char **argv, int first, struct run_args *a)
{
    for (int i = first; i < argc; i++) {
        const struct opt_def *d = find_opt(argv[i]);
        if (!d || !(d->actions & (1u << a->action))) {
            char valid[1024];
            list_options(a->action, valid, sizeof valid);
            if (argv[i][0] != '-')
                usage_error(a, "unexpected argument '%s'", argv[i]);
            else
                usage_error(a, "unknown option '%s'; this action takes: %s", argv[i], valid);
            return 2;
        }
        if (d->kind == OPT_FLAG) {
            take_value(a, d, NULL);
            continue;
        }
        if (i + 1 >= argc) {
            usage_error(a, "%s needs a value", d->name);
            return 2;
        }
        int rc = take_value(a, d, argv[++i]);
        if (rc)
            return rc;
    }
    return 0;
}

int runargs_parse(int argc, char **argv, struct run_args *a)
{
    *a = (struct run_args){.price_prompt = -1, .price_completion = -1, .max_failure_share = -1};
    const char *first = argc > 1 ? argv[1] : NULL;
    int next = 1;
    if (first && first[0] != '-') {
        for (int k = 1; k < RUNARGS_ACTIONS && a->action == RUNARGS_START; k++)
            if (!strcmp(first, action_names[k]))
                a->action = (enum runargs_action)k;
        if (a->action == RUNARGS_START) {
            fprintf(stderr,
                    "bandit-run: unknown action '%s'; the actions are resume, report, export, "
                    "list, replay, evolve (bandit-run --help)\n",
                    first);
            return 2;
        }
        next = 2;
    }
    for (int i = next; i < argc; i++)
        if (cmd_is_help(argv[i])) {
            runargs_usage(a->action, stdout);
            return 0;
        }
    int takes_run =
        a->action == RUNARGS_RESUME || a->action == RUNARGS_REPORT || a->action == RUNARGS_EXPORT;
    if (takes_run) {
        if (next >= argc || argv[next][0] == '-') {
            fprintf(stderr,
                    "bandit-run %s: which run? give its id or name (bandit-run list shows "
                    "them)\n",
                    action_names[a->action]);
            return 2;
        }
        a->run = argv[next++];
    }
    int rc = parse_options(argc, argv, next, a);
    if (rc)
        return rc;
    if (a->action == RUNARGS_START && a->run)
        a->action = RUNARGS_RESUME;
    if (a->action == RUNARGS_EVOLVE && (!a->generations || !a->propose || !a->out)) {
        fprintf(stderr, "bandit-run evolve: --generations G, --propose N and --out DIR are "
                        "required (bandit-run evolve --help)\n");
        return 2;
    }
    if (a->action == RUNARGS_EVOLVE && (a->generations > 1000 || a->propose > 20)) {
        fprintf(stderr, "bandit-run evolve: --generations takes 1..1000 and --propose 1..20 "
                        "(bandit-run evolve --help)\n");
        return 2;
    }
    if (a->action == RUNARGS_REPLAY && (!a->events || a->n_policies == 0)) {
        fprintf(stderr, "bandit-run replay: --events FILE and --policy P1,P2,... are required "
                        "(bandit-run replay --help)\n");
        return 2;
    }
    return -1;
}

/* ---- naming a run ---- */

static void print_runs(const struct run *list, size_t n)
{
    if (n == 0) {
        fprintf(stderr, "  (this database holds no runs yet)\n");
        return;
    }
    fprintf(stderr, "  runs here (id name):");
    for (size_t i = 0; i < n && i < 12; i++)
        fprintf(stderr, "%s %lld %s", i ? "," : "", (long long)list[i].id, list[i].name);
    fprintf(stderr, "%s\n", n > 12 ? ", ..." : "");
}

int runargs_find_run(store *db, const char *ref, int64_t *id)
{
    char err[PB_ERR_LEN], *end;
    struct run *list = NULL;
    size_t n = 0, same = 0;
    if (runs_list(db, &list, &n, err) != PB_OK) {
        fprintf(stderr, "bandit-run: %s\n", err);
        return 1;
    }
    errno = 0;
    long long number = strtoll(ref, &end, 10);
    int is_number = *ref && !*end && !errno;
    *id = 0;
    for (size_t i = 0; i < n; i++) { /* newest first */
        if (is_number ? list[i].id == number : !strcmp(list[i].name, ref)) {
            if (same++ == 0)
                *id = list[i].id;
        }
    }
    if (*id == 0) {
        fprintf(stderr, "bandit-run: no run %s '%s'\n", is_number ? "with id" : "named", ref);
        print_runs(list, n);
    } else if (same > 1) {
        fprintf(stderr, "bandit-run: %zu runs are named '%s'; using the newest, run %lld\n", same,
                ref, (long long)*id);
    }
    runs_list_free(list, n);
    return *id ? 0 : 2;
}
