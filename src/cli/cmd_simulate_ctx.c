/* cmd_simulate_ctx.c — `promptbandit simulate --world | --context-file | --replay-contextual`:
 * contextual regret tables, event-log generation with known truth, and offline contextual
 * evaluation (IPS, SNIPS, DM, DR, replay). Parses arguments, calls ctxsim / ctxeval, prints;
 * no simulation or estimation logic here. */
#include "cmd.h"
#include "sim/ctxeval.h"
#include "sim/ctxsim.h"
#include "base/pb.h"
#include "simulate_ctx.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_POLICIES     32
#define MAX_CHECKPOINTS  64
#define DEFAULT_POLICIES "ucb1-tuned,thompson,segmented:ucb1-tuned,segmented:thompson,linucb,lints"

void simulate_ctx_usage(FILE *out)
{
    fprintf(
        out,
        "contextual mode:\n"
        "  promptbandit simulate (--world SPEC | --context-file FILE) [--policy LIST]\n"
        "      [--horizon N] [--reps N] [--seed N] [--checkpoints[=T,...]] [--json]\n"
        "  promptbandit simulate (--world SPEC | --context-file FILE) --log-out EVENTS.jsonl\n"
        "      [--events N] [--logging uniform | egreedy:epsilon=E,arm=NAME] [--seed N] [--json]\n"
        "  promptbandit simulate --replay-contextual EVENTS.jsonl --policy LIST [--dim N]\n"
        "      [--seed N] [--json]\n\n"
        "  --world contextual:emotion4[,noise=0.2,reward=discrete|bernoulli|gaussian,sd=0.5,\n"
        "          freq=F/F/F/F,features=full|groups]\n"
        "  --world 'contextual:means=0.5/0.1|0.1/0.5[,...]'  one segment per '|', arm means\n"
        "          per '/', on [-1, 1]\n"
        "  --context-file FILE  JSON: {\"segments\":[{\"name\":\"negative\",\"freq\":0.35,\n"
        "          \"means\":[0.5,0.3,-0.2,0.1]},...], \"arms\":[\"A\",...], "
        "\"reward\":\"discrete\",\n"
        "          \"noise\":0.2, \"features\":\"full\"}\n"
        "  features (dimension 1 + S + 3): bias, S noisy group scores (the top one is the\n"
        "  segment policies see), conversation length, sin/cos of the hour of day.\n"
        "  policies: any bandit policy (context-free, global), segmented:POLICY[,min_pulls=N]\n"
        "  (one bandit per top group, global below N pulls, default 20), linucb[:alpha=,\n"
        "  lambda=,burnin=], lints[:v=,lambda=,burnin=,draws=], fixed:ARM. Default:\n"
        "  " DEFAULT_POLICIES "\n"
        "  Regret is against the contextual oracle (best arm of each round's true segment);\n"
        "  the best-fixed-arm oracle's regret is printed for comparison.\n"
        "  --log-out writes --events (default 50000) logged events with their propensities\n"
        "  and prints the true value of each arm, of the oracle and of the logging policy.\n"
        "  --replay-contextual estimates each policy's mean reward on a log: IPS, SNIPS,\n"
        "  direct method, doubly robust and rejection replay (see docs/BANDITS.md).\n");
}

int simulate_ctx_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--world") || !strcmp(argv[i], "--context-file") ||
            !strcmp(argv[i], "--replay-contextual"))
            return 1;
    return 0;
}

struct args {
    const char *world, *world_file, *log_out, *replay, *logging;
    ctxpolicy_spec policies[MAX_POLICIES];
    size_t n_policies;
    long checkpoints[MAX_CHECKPOINTS], events, dim;
    size_t n_checkpoints;
    int curves, json, log_curves;
    sim_options opt;
};

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_checkpoints(const char *list, struct args *a)
{
    char buf[32];
    a->curves = 1;
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        long v;
        if (len == 0 || len >= sizeof buf || a->n_checkpoints == MAX_CHECKPOINTS)
            return -1;
        memcpy(buf, p, len);
        buf[len] = '\0';
        if (parse_long(buf, 1, 1000000000L, &v) != 0)
            return -1;
        a->checkpoints[a->n_checkpoints++] = v;
        p += len + (p[len] == ',');
    }
    return 0;
}

/* One option taking a value; returns 0, or 2 after printing a usage error. */
static int take_value(struct args *a, const char *o, const char *v, long *seed)
{
    char err[PB_ERR_LEN];
    long *num = !strcmp(o, "--horizon")  ? &a->opt.horizon
                : !strcmp(o, "--reps")   ? &a->opt.reps
                : !strcmp(o, "--events") ? &a->events
                : !strcmp(o, "--dim")    ? &a->dim
                : !strcmp(o, "--seed")   ? seed
                                         : NULL;
    if (num) {
        long min = !strcmp(o, "--seed") ? 0 : 1;
        long max = !strcmp(o, "--reps") ? 1000000L : !strcmp(o, "--dim") ? 256 : 1000000000L;
        if (parse_long(v, min, max, num) == 0)
            return 0;
        fprintf(stderr, "simulate: %s must be a whole number in [%ld, %ld], got '%s'\n", o, min,
                max, v);
        return 2;
    }
    if (!strcmp(o, "--policy")) {
        if (ctxpolicy_parse_list(v, a->policies, MAX_POLICIES, &a->n_policies, err) == PB_OK)
            return 0;
        fprintf(stderr, "simulate: %s\n", err);
        return 2;
    }
    const char **dst = !strcmp(o, "--world")               ? &a->world
                       : !strcmp(o, "--context-file")      ? &a->world_file
                       : !strcmp(o, "--log-out")           ? &a->log_out
                       : !strcmp(o, "--replay-contextual") ? &a->replay
                                                           : &a->logging;
    *dst = v;
    return 0;
}

static const char *const valued[] = {
    "--world",   "--context-file", "--log-out", "--replay-contextual",
    "--logging", "--policy",       "--horizon", "--reps",
    "--seed",    "--events",       "--dim"};

/* Returns 0 when parsed, 2 on a usage error (message printed), -1 for --help. */
static int parse_args(int argc, char **argv, struct args *a)
{
    long seed = 1;
    a->opt = (sim_options){.horizon = 20000, .reps = 50};
    a->events = 50000;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        int takes = 0;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
            takes |= !strcmp(o, valued[k]);
        if (cmd_is_help(o))
            return -1;
        if (takes && i + 1 >= argc) {
            fprintf(stderr, "simulate: %s needs a value (see --help)\n", o);
            return 2;
        }
        if (takes) {
            if (take_value(a, o, argv[++i], &seed) != 0)
                return 2;
        } else if (!strcmp(o, "--checkpoints")) {
            a->curves = a->log_curves = 1;
        } else if (!strncmp(o, "--checkpoints=", 14)) {
            if (parse_checkpoints(o + 14, a) != 0) {
                fprintf(stderr, "simulate: --checkpoints: bad list '%s'\n", o + 14);
                return 2;
            }
        } else if (!strcmp(o, "--json")) {
            a->json = 1;
        } else {
            fprintf(stderr, "simulate: unknown option '%s' in contextual mode (see --help)\n", o);
            return 2;
        }
    }
    a->opt.seed = (uint64_t)seed;
    if (a->log_curves)
        a->n_checkpoints = sim_log_checkpoints(a->opt.horizon, a->checkpoints, MAX_CHECKPOINTS);
    a->opt.checkpoints = a->checkpoints;
    a->opt.n_checkpoints = a->n_checkpoints;
    int worlds = (a->world != NULL) + (a->world_file != NULL);
    if (a->replay ? worlds != 0 : worlds != 1) {
        fprintf(stderr, "simulate: give exactly one of --world, --context-file or "
                        "--replay-contextual (see --help)\n");
        return 2;
    }
    if (a->replay && a->n_policies == 0) {
        fprintf(stderr, "simulate: --replay-contextual needs --policy LIST\n");
        return 2;
    }
    return 0;
}

/* Loads the world; returns an exit code (0 ok). */
static int load_world(const struct args *a, ctxworld *w)
{
    char err[PB_ERR_LEN], *text = NULL;
    if (a->world) {
        if (ctxworld_parse(a->world, w, err) == PB_OK)
            return 0;
        fprintf(stderr, "simulate: %s\n", err);
        return 2;
    }
    int rc = pb_read_file(a->world_file, 1 << 20, &text, NULL, err);
    if (rc == PB_OK)
        rc = ctxworld_from_json(text, w, err);
    free(text);
    if (rc == PB_OK)
        return 0;
    fprintf(stderr, "simulate: %s: %s\n", a->world_file, err);
    return 1;
}

static void print_world(const ctxworld *w)
{
    size_t fixed = ctxworld_best_fixed_arm(w);
    printf("contextual world: %zu segments x %zu arms, %s rewards, classifier noise %g,\n"
           "features: dimension %zu (bias, %zu group scores%s)\n\n%-12s %6s",
           w->n_segments, w->n_arms,
           w->reward == CTXWORLD_DISCRETE    ? "discrete"
           : w->reward == CTXWORLD_BERNOULLI ? "bernoulli"
                                             : "gaussian",
           w->noise, ctxworld_dim(w), w->n_segments,
           w->extras ? ", conversation length, hour sin/cos" : "", "segment", "freq");
    for (size_t a = 0; a < w->n_arms; a++)
        printf(" %7s", w->arm_name[a]);
    printf("   best\n");
    for (size_t s = 0; s < w->n_segments; s++) {
        printf("%-12s %6.3f", w->segment_name[s], w->freq[s]);
        for (size_t a = 0; a < w->n_arms; a++)
            printf(" %7.3f", ctxworld_expected(w, s, a));
        printf("   %s\n", w->arm_name[ctxworld_best_arm(w, s)]);
    }
    printf("%-12s %6s", "all", "");
    for (size_t a = 0; a < w->n_arms; a++)
        printf(" %7.3f", ctxworld_arm_value(w, a));
    printf("\ncontextual oracle %.4f per round; best fixed arm %s %.4f per round\n",
           ctxworld_oracle_value(w), w->arm_name[fixed], ctxworld_arm_value(w, fixed));
}

static void print_regret(const ctxworld *w, const sim_options *opt, const ctxsim_result *r)
{
    size_t bg = ctxsim_best_global(r);
    sim_summary base = {0};
    if (bg != SIZE_MAX)
        ctxsim_summarize(r, bg, r->n_checkpoints - 1, &base, NULL);
    print_world(w);
    printf("\nhorizon %ld, %ld runs, seed %llu; regret against the contextual oracle;\n"
           "best-fixed-arm oracle regret %.1f\n\n%-36s %9s %8s %8s %8s %9s %7s %8s\n",
           opt->horizon, opt->reps, (unsigned long long)opt->seed,
           ctxsim_fixed_arm_regret(w, opt->horizon), "policy", "regret", "sd", "q05", "q95",
           "-fixed", "late%", "/global");
    for (size_t p = 0; p < r->n_policies; p++) {
        sim_summary s;
        ctxsim_summarize(r, p, r->n_checkpoints - 1, &s, NULL);
        printf("%-36s %9.1f %8.1f %8.1f %8.1f %9.1f %6.1f%% ", r->policies[p].policy.spec, s.mean,
               s.sd, s.q05, s.q95, s.mean - ctxsim_fixed_arm_regret(w, opt->horizon),
               100 * ctxsim_late_optimal(r, p));
        if (bg != SIZE_MAX && base.mean > 0)
            printf("%8.3f\n", s.mean / base.mean);
        else
            printf("%8s\n", "-");
    }
    if (bg != SIZE_MAX)
        printf("\n/global: regret divided by that of the best global policy (%s)\n",
               r->policies[bg].policy.spec);
    for (size_t p = 0; r->n_checkpoints > 1 && p < r->n_policies; p++) {
        printf("\n%s\n%10s %10s %9s %10s\n", r->policies[p].policy.spec, "T", "regret", "sd",
               "fixed-arm");
        for (size_t k = 0; k < r->n_checkpoints; k++) {
            sim_summary s;
            ctxsim_summarize(r, p, k, &s, NULL);
            printf("%10ld %10.1f %9.1f %10.1f\n", r->checkpoints[k], s.mean, s.sd,
                   ctxsim_fixed_arm_regret(w, r->checkpoints[k]));
        }
    }
}

static void on_progress(void *user, size_t policy, long rep, long reps)
{
    double *t = user, now = pb_now_monotonic();
    if (now - t[1] < 1.0 && rep != reps)
        return;
    if (now - t[0] < 1.0)
        return;
    t[1] = now;
    fprintf(stderr, "simulate: policy %zu, run %ld/%ld (%.0f s)\n", policy + 1, rep, reps,
            now - t[0]);
}

static int print_json(json_t *doc)
{
    int bad = !doc || json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) != 0;
    printf("\n");
    json_decref(doc);
    if (bad)
        fprintf(stderr, "simulate: could not write the JSON report\n");
    return bad;
}

static int run_simulation(const struct args *a, const ctxworld *w)
{
    char err[PB_ERR_LEN];
    ctxsim_result *r = NULL;
    ctxpolicy_spec defaults[MAX_POLICIES];
    size_t n = 0;
    const ctxpolicy_spec *pols = a->policies;
    if (a->n_policies == 0)
        ctxpolicy_parse_list(DEFAULT_POLICIES, defaults, MAX_POLICIES, &n, err), pols = defaults;
    double clock[2] = {pb_now_monotonic(), 0};
    int rc = ctxsim_run(w, pols, a->n_policies ? a->n_policies : n, &a->opt, on_progress, clock, &r,
                        err);
    if (rc != PB_OK) {
        fprintf(stderr, "simulate: %s\n", err);
        return rc == PB_ERR_INVALID ? 2 : 1;
    }
    int code = 0;
    if (a->json)
        code = print_json(ctxsim_report_json(w, &a->opt, r, a->curves));
    else
        print_regret(w, &a->opt, r);
    ctxsim_result_free(r);
    return code;
}

/* --logging uniform | egreedy:epsilon=E,arm=NAME into options. */
static int parse_logging(const char *spec, const ctxworld *w, ctxeval_gen_options *o)
{
    o->epsilon = 1;
    if (!spec || !strcmp(spec, "uniform"))
        return 0;
    char arm[CTXWORLD_NAME_LEN] = "";
    double eps;
    int used = 0;
    if (sscanf(spec, "egreedy:epsilon=%lf,arm=%31[^,]%n", &eps, arm, &used) != 2 || spec[used] ||
        !(eps > 0 && eps <= 1))
        return -1;
    o->epsilon = eps;
    for (size_t a = 0; a < w->n_arms; a++)
        if (!strcmp(w->arm_name[a], arm)) {
            o->greedy_arm = a;
            return 0;
        }
    return -1;
}

static int generate_log(const struct args *a, const ctxworld *w)
{
    char err[PB_ERR_LEN];
    ctxeval_gen_options o = {.events = a->events, .seed = a->opt.seed};
    if (parse_logging(a->logging, w, &o) != 0) {
        fprintf(stderr, "simulate: --logging must be uniform or egreedy:epsilon=E,arm=NAME "
                        "with E in (0, 1] and an arm of the world\n");
        return 2;
    }
    FILE *f = fopen(a->log_out, "w");
    if (!f) {
        fprintf(stderr, "simulate: cannot write %s: %s\n", a->log_out, strerror(errno));
        return 1;
    }
    double logging_value;
    int rc = ctxeval_generate(w, &o, f, &logging_value, err);
    if (fclose(f) != 0 && rc == PB_OK)
        rc = pb_errf(err, PB_ERR_IO, "could not finish writing (%s)", strerror(errno));
    if (rc != PB_OK) {
        fprintf(stderr, "simulate: %s: %s\n", a->log_out, err);
        return 1;
    }
    if (a->json) {
        json_t *doc = json_pack("{s:o, s:s, s:I, s:f, s:f}", "world", ctxsim_world_json(w), "log",
                                a->log_out, "events", (json_int_t)a->events, "epsilon", o.epsilon,
                                "logging_value", logging_value);
        return print_json(doc);
    }
    print_world(w);
    printf("\nwrote %ld events to %s (logging %s); true value of the logging policy %.4f\n",
           a->events, a->log_out, a->logging ? a->logging : "uniform", logging_value);
    return 0;
}

static json_t *result_json(const struct ctxeval_result *r)
{
    return json_pack("{s:s, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "policy", r->policy,
                     "events", (json_int_t)r->events, "accepted", (json_int_t)r->accepted, "replay",
                     r->replay, "replay_se", r->replay_se, "ips", r->ips, "ips_se", r->ips_se,
                     "snips", r->snips, "dm", r->dm, "dr", r->dr, "ess", r->ess);
}

static int replay_log(const struct args *a)
{
    char err[PB_ERR_LEN];
    struct ctxeval_log log;
    if (ctxeval_load_jsonl(a->replay, (size_t)a->dim, &log, err) != PB_OK) {
        fprintf(stderr, "simulate: %s\n", err);
        return 1;
    }
    int code = 0;
    json_t *list = a->json ? json_array() : NULL;
    if (!a->json)
        printf("%zu events, %zu arms, dimension %zu\n\n%-32s %8s %8s %8s %8s %8s %8s %8s %8s\n",
               log.n, log.n_arms, log.dim, "policy", "ips", "+-se", "snips", "dm", "dr", "replay",
               "accepted", "ess");
    for (size_t p = 0; p < a->n_policies && code == 0; p++) {
        struct ctxeval_result r;
        int rc = ctxeval_run(&log, &a->policies[p], a->opt.seed, &r, err);
        if (rc != PB_OK) {
            fprintf(stderr, "simulate: %s: %s\n", a->policies[p].spec, err);
            code = rc == PB_ERR_INVALID ? 2 : 1;
        } else if (list) {
            json_array_append_new(list, result_json(&r));
        } else {
            printf("%-32s %8.4f %8.4f %8.4f %8.4f %8.4f %8.4f %8zu %8.0f\n", r.policy, r.ips,
                   r.ips_se, r.snips, r.dm, r.dr, r.replay, r.accepted, r.ess);
        }
    }
    if (list && code == 0)
        code =
            print_json(json_pack("{s:s, s:I, s:I, s:o}", "log", a->replay, "events",
                                 (json_int_t)log.n, "dim", (json_int_t)log.dim, "policies", list));
    else
        json_decref(list);
    ctxeval_log_free(&log);
    return code;
}

int simulate_ctx_main(int argc, char **argv)
{
    struct args a;
    ctxworld w;
    memset(&a, 0, sizeof a);
    int code = parse_args(argc, argv, &a);
    if (code != 0) {
        if (code < 0)
            simulate_ctx_usage(stdout);
        return code < 0 ? 0 : code;
    }
    if (a.replay)
        return replay_log(&a);
    if ((code = load_world(&a, &w)) != 0)
        return code;
    return a.log_out ? generate_log(&a, &w) : run_simulation(&a, &w);
}
