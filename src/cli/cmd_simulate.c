/* cmd_simulate.c — `promptbandit simulate`: compares bandit policies on simulated arms and
 * prints regret (table or JSON). Parses arguments, reads the arms file, calls sim_run and
 * prints; the simulation itself lives in src/sim.c. The contextual options (--world,
 * --context-file, --replay-contextual) are handed to cmd_simulate_ctx.c. */
#include "cmd.h"
#include "base/pb.h"
#include "bandit/bai.h"
#include "sim/sim.h"
#include "sim/simarm.h"
#include "sim/simbai.h"
#include "simulate_ctx.h"
#include "bandit/policyspec.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_POLICIES    32
#define MAX_CHECKPOINTS 64

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: promptbandit simulate (--arms SPEC | --arms-file FILE) [options]\n\n"
        "Runs each policy --reps times for --horizon plays on simulated arms and reports\n"
        "the cumulative expected regret (mean, sd, 5/95 %% quantiles), the share of runs\n"
        "whose most-pulled arm is the best, and the Lai-Robbins bound C ln T (Bernoulli).\n"
        "Run r of every policy sees the same reward streams.\n\n"
        "arms:\n"
        "  --arms bernoulli:0.9,0.8          success probabilities (pay 1 or 0)\n"
        "  --arms gaussian:0.2/0.5,0.1/0.5   mean/sd, rewards clipped to [-1, 1]\n"
        "  --arms discrete:0/0.1/0.2/0.3/0.4,...  P(-1)/P(-0.5)/P(0)/P(0.5)/P(1)\n"
        "  --arms-file FILE                  JSON: {\"arms\":[{\"kind\":\"bernoulli\",\"p\":0.9},\n"
        "                                    {\"kind\":\"gaussian\",\"mean\":0.2,\"sd\":0.5},\n"
        "                                    {\"kind\":\"discrete\",\"probs\":[5 numbers]}]}\n"
        "options:\n"
        "  --policy LIST     policies separated by commas, default ucb1; e.g.\n"
        "                    ucb1,ucb1-tuned,thompson,thompson-beta,egreedy:epsilon=0.1,\n"
        "                    egreedy-decay:c=0.15,d=0.1,softmax:tau=0.1,ducb:gamma=0.99,\n"
        "                    swucb:window=500 (may be repeated)\n"
        "  --horizon N       plays per run (default 10000)\n"
        "  --reps N          runs per policy (default 100)\n"
        "  --seed N          seed; the same seed gives the same output (default 1)\n"
        "  --checkpoints     also report regret at T = 100, 1000, 10000, ... (curves)\n"
        "  --checkpoints=T1,T2,...  at these plays instead\n"
        "  --json            JSON instead of tables\n"
        "best-arm identification (--goal identify):\n"
        "  --goal identify   find the best arm at confidence 1 - delta for the fewest samples\n"
        "                    instead of minimising regret; --policy then lists rules among\n"
        "                    tts (Top-Two Thompson, beta 1/2), lucb (LUCB1), se (successive\n"
        "                    elimination), uniform (default: all four). Every rule stops when\n"
        "                    the GLR statistic of the leader against each other arm exceeds\n"
        "                    log(2 t (K-1) / delta) (Garivier & Kaufmann 2016). Reports per rule\n"
        "                    the samples to stop (mean, sd, q05, median, q95), the error rate,\n"
        "                    runs that hit the budget, the lower bound T*(mu) log(1/delta) and\n"
        "                    the ratio to it; --horizon is the budget (default 1e7 samples)\n"
        "  --delta D         confidence parameter in (0, 1) (default 0.05)\n"
        "delayed feedback and churning arms (Chapelle & Li 2011):\n"
        "  --delay D         the policy sees rewards only every D plays, in one batch (default 1)\n"
        "  --churn P         each play, with probability P one arm (chosen uniformly) is replaced\n"
        "                    by a new one whose success probability is drawn from --new-arm;\n"
        "                    the policy forgets the old arm's rewards (bernoulli arms only)\n"
        "  --new-arm beta:A,B  the prior of new arms (default beta:1,1)\n"
        "  --churn-seen now|delivery  when the policy learns that an arm was replaced: at once\n"
        "                    (default), or with the next batch of rewards (it keeps the old\n"
        "                    arm's statistics until then)\n"
        "  --arms prior:K    K bernoulli arms whose means each run draws from --new-arm\n"
        "Bernoulli arms pay 1 (success) or 0; regret counts successes. The policies see a\n"
        "success as +1 and a failure as -1 on the engine's [-1, 1] scale, which the UCB family\n"
        "and thompson-beta read back as exactly 1 and 0 (docs/BANDITS.md).\n\n");
    simulate_ctx_usage(out);
}

static int parse_long(const char *s, long min, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < min)
        return -1;
    *out = v;
    return 0;
}

/* Splits "ucb1,egreedy-decay:c=0.15,d=0.1" into policies: a comma item holding '=' but no
 * ':' continues the previous policy's parameter list. */
static int add_policies(const char *list, bandit_policy *out, size_t *n, char *err)
{
    char spec[256];
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        while (p[len] == ',') {
            const char *next = p + len + 1;
            size_t nlen = strcspn(next, ",");
            const char *eq = memchr(next, '=', nlen), *colon = memchr(next, ':', nlen);
            if (!eq || colon)
                break;
            len += 1 + nlen;
        }
        if (len == 0 || len >= sizeof spec)
            return pb_errf(err, PB_ERR_INVALID, "--policy: empty or too long policy in '%s'", list);
        if (*n == MAX_POLICIES)
            return pb_errf(err, PB_ERR_INVALID, "--policy: at most %d policies", MAX_POLICIES);
        memcpy(spec, p, len);
        spec[len] = '\0';
        int rc = policyspec_parse(spec, &out[*n], err);
        if (rc != PB_OK)
            return rc;
        (*n)++;
        p += len + (p[len] == ',');
    }
    return PB_OK;
}

static int parse_checkpoints(const char *list, long *out, size_t *n, char *err)
{
    char buf[32];
    *n = 0;
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        long v;
        if (len == 0 || len >= sizeof buf || *n == MAX_CHECKPOINTS)
            return pb_errf(err, PB_ERR_INVALID, "--checkpoints: bad list '%s'", list);
        memcpy(buf, p, len);
        buf[len] = '\0';
        if (parse_long(buf, 1, &v) != 0)
            return pb_errf(err, PB_ERR_INVALID, "--checkpoints: '%s' is not a positive number",
                           buf);
        out[(*n)++] = v;
        p += len + (p[len] == ',');
    }
    return PB_OK;
}

struct progress {
    double start, last;
};

static void on_progress(void *user, size_t policy, long rep, long reps)
{
    struct progress *pr = user;
    double now = pb_now_monotonic();
    if (now - pr->last < 1.0 && rep != reps)
        return;
    if (now - pr->start < 1.0) /* quiet for short runs */
        return;
    pr->last = now;
    fprintf(stderr, "simulate: policy %zu, run %ld/%ld (%.0f s)\n", policy + 1, rep, reps,
            now - pr->start);
}

static void print_tables(const sim_arm *arms, size_t n_arms, const sim_options *opt,
                         const sim_result *r, int curves)
{
    double c, best = -INFINITY;
    int dynamic = opt->churn > 0 || opt->arms_from_prior;
    int have_c = !dynamic && sim_arms_lai_robbins(arms, n_arms, &c, NULL) == PB_OK;
    for (size_t i = 0; i < n_arms; i++)
        best = fmax(best, sim_arm_mean(&arms[i]));
    double ln_t = log((double)opt->horizon);
    if (opt->arms_from_prior)
        printf("%zu arms drawn from beta(%g, %g) in each run", n_arms, opt->prior_a, opt->prior_b);
    else
        printf("%zu arms, best expected %.4g", n_arms, best);
    printf(" (regret in %s); horizon %ld, %ld runs, seed %llu\n",
           arms[0].kind == SIM_BERNOULLI ? "successes" : "reward units", opt->horizon, opt->reps,
           (unsigned long long)opt->seed);
    if (opt->delay > 1 || opt->churn > 0)
        printf("rewards delivered every %ld plays; churn %g per play, new arms from beta(%g, %g)\n",
               opt->delay > 1 ? opt->delay : 1, opt->churn, opt->prior_a, opt->prior_b);
    if (have_c)
        printf("Lai-Robbins C = %.4f, bound C ln T = %.2f\n", c, c * ln_t);
    printf("\n%-32s %10s %9s %9s %9s %9s %10s\n", "policy", "regret", "sd", "q05", "q95", "best",
           "regret/lnT");
    for (size_t p = 0; p < r->n_policies; p++) {
        char spec[160];
        sim_summary s;
        policyspec_format(&r->policies[p].policy, spec, sizeof spec);
        sim_summarize(r, p, r->n_checkpoints - 1, &s, NULL);
        printf("%-32s %10.2f %9.2f %9.2f %9.2f %8.0f%% %10.3f\n", spec, s.mean, s.sd, s.q05, s.q95,
               100.0 * (double)r->policies[p].best_runs / (double)r->reps,
               ln_t > 0 ? s.mean / ln_t : 0);
    }
    for (size_t p = 0; curves && p < r->n_policies; p++) {
        char spec[160];
        policyspec_format(&r->policies[p].policy, spec, sizeof spec);
        printf("\n%s\n%10s %10s %9s %9s %9s %10s %10s\n", spec, "T", "regret", "sd", "q05", "q95",
               "regret/lnT", "C lnT");
        for (size_t k = 0; k < r->n_checkpoints; k++) {
            sim_summary s;
            double lt = log((double)r->checkpoints[k]);
            sim_summarize(r, p, k, &s, NULL);
            printf("%10ld %10.2f %9.2f %9.2f %9.2f %10.3f", r->checkpoints[k], s.mean, s.sd, s.q05,
                   s.q95, lt > 0 ? s.mean / lt : 0);
            if (have_c)
                printf(" %10.2f", c * lt);
            printf("\n");
        }
    }
}

struct args {
    const char *arms, *arms_file;
    bandit_policy policies[MAX_POLICIES];
    size_t n_policies;
    const char *policy_lists[MAX_POLICIES]; /* --policy values, parsed once the goal is known */
    size_t n_policy_lists;
    int identify; /* --goal identify */
    bai_rule rules[MAX_POLICIES];
    size_t n_rules;
    simbai_options bai;
    int horizon_given;
    long checkpoints[MAX_CHECKPOINTS];
    size_t n_checkpoints;
    int curves, json, log_curves;
    sim_options opt;
};

/* --delay, --churn and --new-arm into a->opt; 0, or 2 with a message printed. */
static int parse_dynamic(const char *o, const char *v, struct args *a)
{
    char *end;
    if (!strcmp(o, "--delay")) {
        if (parse_long(v, 1, &a->opt.delay) != 0 || a->opt.delay > 1000000000L) {
            fprintf(stderr, "simulate: --delay must be a whole number in [1, 1e9], got '%s'\n", v);
            return 2;
        }
    } else if (!strcmp(o, "--churn")) {
        errno = 0;
        a->opt.churn = strtod(v, &end);
        if (end == v || *end || errno || !(a->opt.churn >= 0 && a->opt.churn <= 1)) {
            fprintf(stderr, "simulate: --churn must be a probability in [0, 1], got '%s'\n", v);
            return 2;
        }
    } else if (sscanf(v, "beta:%lf,%lf", &a->opt.prior_a, &a->opt.prior_b) != 2 ||
               !(a->opt.prior_a > 0 && a->opt.prior_b > 0) || !isfinite(a->opt.prior_a) ||
               !isfinite(a->opt.prior_b)) {
        fprintf(stderr, "simulate: --new-arm must be beta:A,B with A, B > 0, got '%s'\n", v);
        return 2;
    }
    return 0;
}

/* --goal regret|identify and --delta; 0, or 2 with a message printed. */
static int parse_goal(const char *o, const char *v, struct args *a)
{
    char *end;
    if (!strcmp(o, "--goal")) {
        if (strcmp(v, "regret") && strcmp(v, "identify")) {
            fprintf(stderr, "simulate: --goal must be regret or identify, got '%s'\n", v);
            return 2;
        }
        a->identify = !strcmp(v, "identify");
        return 0;
    }
    errno = 0;
    a->bai.delta = strtod(v, &end);
    if (end == v || *end || errno || !(a->bai.delta > 0 && a->bai.delta < 1)) {
        fprintf(stderr, "simulate: --delta must be in (0, 1), got '%s'\n", v);
        return 2;
    }
    return 0;
}

/* Splits "tts,lucb,se" into identification rules. */
static int add_rules(const char *list, struct args *a, char *err)
{
    char name[32];
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof name)
            return pb_errf(err, PB_ERR_INVALID, "--policy: empty or too long rule in '%s'", list);
        if (a->n_rules == MAX_POLICIES)
            return pb_errf(err, PB_ERR_INVALID, "--policy: at most %d rules", MAX_POLICIES);
        memcpy(name, p, len);
        name[len] = '\0';
        pb_status rc = bai_rule_parse(name, &a->rules[a->n_rules], err);
        if (rc != PB_OK)
            return rc;
        a->n_rules++;
        p += len + (p[len] == ',');
    }
    return PB_OK;
}

/* The --policy lists as bandit policies (regret) or identification rules (identify), with the
 * defaults ucb1 / all four rules; 0, or 2 with a message printed. */
static int parse_policy_lists(struct args *a)
{
    char err[PB_ERR_LEN];
    pb_status rc = PB_OK;
    for (size_t i = 0; i < a->n_policy_lists && rc == PB_OK; i++)
        rc = a->identify ? add_rules(a->policy_lists[i], a, err)
                         : add_policies(a->policy_lists[i], a->policies, &a->n_policies, err);
    if (rc == PB_OK && a->n_policy_lists == 0)
        rc = a->identify ? add_rules("tts,lucb,se,uniform", a, err)
                         : add_policies("ucb1", a->policies, &a->n_policies, err);
    if (rc != PB_OK) {
        fprintf(stderr, "simulate: %s\n", err);
        return 2;
    }
    if (a->identify && (a->opt.delay > 1 || a->opt.churn > 0 || a->curves ||
                        !strncmp(a->arms ? a->arms : "", "prior:", 6))) {
        fprintf(stderr, "simulate: --goal identify takes none of --delay, --churn, --checkpoints "
                        "or --arms prior:K\n");
        return 2;
    }
    a->bai.reps = a->opt.reps;
    a->bai.seed = a->opt.seed;
    a->bai.budget = a->horizon_given ? a->opt.horizon : 10000000L;
    return 0;
}

/* Returns 0 when parsed, 2 on a usage error (message printed), -1 for --help. */
static int parse_args(int argc, char **argv, struct args *a)
{
    char err[PB_ERR_LEN];
    long seed = 1;
    a->opt = (sim_options){.horizon = 10000, .reps = 100, .delay = 1, .prior_a = 1, .prior_b = 1};
    a->bai.delta = 0.05;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = !strcmp(o, "--arms") || !strcmp(o, "--arms-file") || !strcmp(o, "--policy") ||
                    !strcmp(o, "--horizon") || !strcmp(o, "--reps") || !strcmp(o, "--seed") ||
                    !strcmp(o, "--delay") || !strcmp(o, "--churn") || !strcmp(o, "--new-arm") ||
                    !strcmp(o, "--goal") || !strcmp(o, "--delta") || !strcmp(o, "--churn-seen");
        if (cmd_is_help(o))
            return -1;
        if (takes && !v) {
            fprintf(stderr, "simulate: %s needs a value (see --help)\n", o);
            return 2;
        }
        if (!strcmp(o, "--arms")) {
            a->arms = v;
        } else if (!strcmp(o, "--arms-file")) {
            a->arms_file = v;
        } else if (!strcmp(o, "--policy")) {
            if (a->n_policy_lists == MAX_POLICIES) {
                fprintf(stderr, "simulate: --policy: at most %d lists\n", MAX_POLICIES);
                return 2;
            }
            a->policy_lists[a->n_policy_lists++] = v;
        } else if (!strcmp(o, "--goal") || !strcmp(o, "--delta")) {
            if (parse_goal(o, v, a) != 0)
                return 2;
        } else if (!strcmp(o, "--horizon") || !strcmp(o, "--reps")) {
            a->horizon_given |= !strcmp(o, "--horizon");
            long *dst = !strcmp(o, "--horizon") ? &a->opt.horizon : &a->opt.reps;
            long max = !strcmp(o, "--horizon") ? 1000000000L : 1000000L;
            if (parse_long(v, 1, dst) != 0 || *dst > max) {
                fprintf(stderr, "simulate: %s must be a whole number in [1, %ld], got '%s'\n", o,
                        max, v);
                return 2;
            }
        } else if (!strcmp(o, "--seed")) {
            if (parse_long(v, 0, &seed) != 0) {
                fprintf(stderr, "simulate: --seed must be a whole number >= 0, got '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(o, "--churn-seen")) {
            if (strcmp(v, "now") && strcmp(v, "delivery")) {
                fprintf(stderr, "simulate: --churn-seen must be now or delivery, got '%s'\n", v);
                return 2;
            }
            a->opt.churn_seen_at_delivery = !strcmp(v, "delivery");
        } else if (!strcmp(o, "--delay") || !strcmp(o, "--churn") || !strcmp(o, "--new-arm")) {
            if (parse_dynamic(o, v, a) != 0)
                return 2;
        } else if (!strcmp(o, "--checkpoints")) {
            a->curves = a->log_curves = 1;
            continue;
        } else if (!strncmp(o, "--checkpoints=", 14)) {
            a->curves = 1;
            if (parse_checkpoints(o + 14, a->checkpoints, &a->n_checkpoints, err) != PB_OK) {
                fprintf(stderr, "simulate: %s\n", err);
                return 2;
            }
            continue;
        } else if (!strcmp(o, "--json")) {
            a->json = 1;
            continue;
        } else {
            fprintf(stderr, "simulate: unknown option '%s' (see --help)\n", o);
            return 2;
        }
        i++;
    }
    a->opt.seed = (uint64_t)seed;
    a->opt.arms_from_prior = a->arms && !strncmp(a->arms, "prior:", 6);
    if (!a->arms == !a->arms_file) {
        fprintf(stderr, "simulate: give exactly one of --arms or --arms-file (see --help)\n");
        return 2;
    }
    if (parse_policy_lists(a) != 0)
        return 2;
    if (a->log_curves)
        a->n_checkpoints = sim_log_checkpoints(a->opt.horizon, a->checkpoints, MAX_CHECKPOINTS);
    a->opt.checkpoints = a->checkpoints;
    a->opt.n_checkpoints = a->n_checkpoints;
    return 0;
}

/* Prints a report (taking ownership; NULL means out of memory); returns the exit code. */
static int print_json(json_t *doc)
{
    int code = 0;
    if (!doc || json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) != 0) {
        fprintf(stderr, "simulate: could not write the JSON report\n");
        code = 1;
    }
    printf("\n");
    json_decref(doc);
    return code;
}

static void print_identify(const simbai_options *opt, const simbai_result *r)
{
    printf("best-arm identification at delta = %g, %ld runs, budget %ld samples, seed %llu\n",
           opt->delta, opt->reps, opt->budget, (unsigned long long)opt->seed);
    printf("stopping rule: GLR > log(2 t (K-1) / delta); T*(mu) = %.1f, lower bound "
           "T* log(1/delta) = %.1f\n\n",
           r->t_star, r->lower_bound);
    printf("%-8s %10s %9s %9s %9s %9s %8s %7s %10s\n", "policy", "samples", "sd", "q05", "median",
           "q95", "error", "unstop", "x bound");
    for (size_t p = 0; p < r->n_rules; p++) {
        simbai_summary s;
        if (simbai_summarize(r, p, &s, NULL) != PB_OK)
            continue;
        printf("%-8s %10.1f %9.1f %9.0f %9.0f %9.0f %8.4f %7ld %10.2f\n",
               bai_rule_name(r->rules[p].rule), s.samples.mean, s.samples.sd, s.samples.q05,
               s.median, s.samples.q95, s.error_rate, r->rules[p].unstopped, s.ratio_to_bound);
    }
}

/* --goal identify: runs the rules and prints; returns the exit code. */
static int run_identify(const struct args *a, const sim_arm *arms, size_t n_arms)
{
    char err[PB_ERR_LEN];
    simbai_result *r = NULL;
    struct progress pr = {pb_now_monotonic(), 0};
    int code = 0;
    pb_status rc =
        simbai_run(arms, n_arms, a->rules, a->n_rules, &a->bai, on_progress, &pr, &r, err);
    if (rc != PB_OK) {
        fprintf(stderr, "simulate: %s\n", err);
        return rc == PB_ERR_INVALID ? 2 : 1;
    }
    if (a->json)
        code = print_json(simbai_report_json(arms, n_arms, &a->bai, r));
    else
        print_identify(&a->bai, r);
    simbai_result_free(r);
    return code;
}

/* Loads the arms; returns an exit code (0 ok). */
static int load_arms(const struct args *a, sim_arm **arms, size_t *n)
{
    char err[PB_ERR_LEN];
    if (a->arms && !strncmp(a->arms, "prior:", 6)) {
        long k;
        if (parse_long(a->arms + 6, 2, &k) != 0 || k > 100000) {
            fprintf(stderr, "simulate: --arms prior:K needs a whole K in [2, 100000], got '%s'\n",
                    a->arms);
            return 2;
        }
        if (!(*arms = calloc((size_t)k, sizeof **arms)))
            return 1;
        for (long i = 0; i < k; i++)
            (*arms)[i] = (sim_arm){.kind = SIM_BERNOULLI, .p = 0.5};
        *n = (size_t)k;
        return 0;
    }
    if (a->arms) {
        if (sim_arms_parse(a->arms, arms, n, err) == PB_OK)
            return 0;
        fprintf(stderr, "simulate: %s\n", err);
        return 2;
    }
    char *text = NULL;
    int rc = pb_read_file(a->arms_file, 16 << 20, &text, NULL, err);
    if (rc == PB_OK)
        rc = sim_arms_from_json(text, arms, n, err);
    free(text);
    if (rc == PB_OK)
        return 0;
    fprintf(stderr, "simulate: %s: %s\n", a->arms_file, err);
    return 1;
}

int cmd_simulate(int argc, char **argv)
{
    if (simulate_ctx_wanted(argc, argv))
        return simulate_ctx_main(argc, argv);
    struct args a;
    memset(&a, 0, sizeof a);
    int code = parse_args(argc, argv, &a);
    if (code != 0) {
        if (code < 0)
            usage(stdout);
        return code < 0 ? 0 : code;
    }
    sim_arm *arms = NULL;
    size_t n_arms = 0;
    sim_result *r = NULL;
    char err[PB_ERR_LEN];
    if ((code = load_arms(&a, &arms, &n_arms)) != 0)
        goto cleanup;
    if (a.identify) {
        code = run_identify(&a, arms, n_arms);
        goto cleanup;
    }
    struct progress pr = {pb_now_monotonic(), 0};
    int rc = sim_run(arms, n_arms, a.policies, a.n_policies, &a.opt, on_progress, &pr, &r, err);
    if (rc != PB_OK) {
        fprintf(stderr, "simulate: %s\n", err);
        code = rc == PB_ERR_INVALID ? 2 : 1;
        goto cleanup;
    }
    if (a.json)
        code = print_json(sim_report_json(arms, n_arms, &a.opt, r, a.curves));
    else
        print_tables(arms, n_arms, &a.opt, r, a.curves);
cleanup:
    sim_result_free(r);
    free(arms);
    return code;
}
