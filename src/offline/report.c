/* report.c — a run's findings from its recorded steps: per-arm statistics, examples, segments,
 * failures and plot series, the GLR verdict (bandit/glr), P(best) (bandit/verdict), and the
 * report and JSONL export of a stored run. */
#include "offline/report.h"

#include "bandit/bandit.h"
#include "bandit/glr.h"
#include "bandit/policyspec.h"
#include "offline/runplan.h"
#include "offline/offline.h"
#include "offline/runrecord.h"
#include "base/plot.h"
#include "store/runs.h"
#include "bandit/verdict.h"
#include "offline/runrecord.h"
#include "store/arms.h"
#include "store/runs.h"

#include <errno.h>
#include <gsl/gsl_rng.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PBEST_DRAWS 20000
#define N_LEVELS    5

struct report {
    int64_t run_id;
    char name[128], policy[96], status[16], stop_reason[16], task[64], segment_label[32];
    uint64_t seed;
    long iterations, ok, failed, pending, calls, tokens;
    double usd;
    struct report_arm *arms;
    size_t n_arms;
    bool has_verdict;
    struct report_verdict verdict;
    double *sum; /* per arm, of rewards */
    /* plots: running mean of each arm at each of its rewards, and reward level counts */
    double **run_x, **run_y;
    size_t *run_n;
    double (*levels)[N_LEVELS];
    long failures[OFFLINE_FAIL_KINDS];
    char failure_example[OFFLINE_FAIL_KINDS][PB_ERR_LEN + 32]; /* the first of each kind */
    /* segments: names in order of appearance, per segment and arm the rewards and their sum */
    char **seg_name;
    size_t n_seg, seg_cap;
    uint64_t *seg_n;
    double *seg_sum;
};

static void free_strings(struct report *r)
{
    for (size_t a = 0; a < r->n_arms; a++) {
        struct report_arm *x = &r->arms[a];
        const char *owned[] = {x->prompt,        x->best.scenario,   x->best.segment,
                               x->best.output,   x->median.scenario, x->median.segment,
                               x->median.output, x->worst.scenario,  x->worst.segment,
                               x->worst.output,  x->best.reason,     x->median.reason,
                               x->worst.reason};
        for (size_t k = 0; k < sizeof owned / sizeof *owned; k++)
            free((char *)owned[k]);
    }
}

void report_free(struct report *r)
{
    if (!r)
        return;
    if (r->arms)
        free_strings(r);
    for (size_t a = 0; a < r->n_arms; a++) {
        free(r->run_x ? r->run_x[a] : NULL);
        free(r->run_y ? r->run_y[a] : NULL);
    }
    for (size_t s = 0; s < r->n_seg; s++)
        free(r->seg_name[s]);
    free(r->seg_name);
    free(r->seg_n);
    free(r->seg_sum);
    free(r->run_x);
    free(r->run_y);
    free(r->run_n);
    free(r->levels);
    free(r->sum);
    free(r->arms);
    free(r);
}

/* ---- reading ---- */

void report_get_summary(const struct report *r, struct report_summary *out)
{
    *out = (struct report_summary){.run_id = r->run_id,
                                   .name = r->name,
                                   .policy = r->policy,
                                   .status = r->status,
                                   .stop_reason = r->stop_reason,
                                   .task = r->task,
                                   .segment_label = r->segment_label,
                                   .seed = r->seed,
                                   .iterations = r->iterations,
                                   .ok = r->ok,
                                   .failed = r->failed,
                                   .pending = r->pending,
                                   .calls = r->calls,
                                   .tokens = r->tokens,
                                   .usd = r->usd};
}

size_t report_arm_count(const struct report *r)
{
    return r->n_arms;
}

const struct report_arm *report_arm_at(const struct report *r, size_t i)
{
    return i < r->n_arms ? &r->arms[i] : NULL;
}

bool report_get_verdict(const struct report *r, struct report_verdict *out)
{
    if (r->has_verdict)
        *out = r->verdict;
    return r->has_verdict;
}

long report_failures(const struct report *r, enum offline_failure kind, const char **first_error)
{
    if (kind >= OFFLINE_FAIL_KINDS) {
        *first_error = "";
        return 0;
    }
    *first_error = r->failure_example[kind];
    return r->failures[kind];
}

size_t report_segment_count(const struct report *r)
{
    return r->n_seg;
}

const char *report_segment_name(const struct report *r, size_t s)
{
    return s < r->n_seg ? r->seg_name[s] : "";
}

void report_segment_cell(const struct report *r, size_t s, size_t arm, uint64_t *n, double *mean)
{
    *n = 0;
    *mean = NAN;
    if (s >= r->n_seg || arm >= r->n_arms)
        return;
    *n = r->seg_n[s * r->n_arms + arm];
    if (*n)
        *mean = r->seg_sum[s * r->n_arms + arm] / (double)*n;
}

size_t report_running_mean(const struct report *r, size_t arm, const double **x, const double **y)
{
    if (arm >= r->n_arms)
        return 0;
    *x = r->run_x[arm];
    *y = r->run_y[arm];
    return r->run_n[arm];
}

const double *report_level_counts(const struct report *r, size_t arm)
{
    return arm < r->n_arms ? r->levels[arm] : NULL;
}

/* ---- building ---- */

static int level_index(double score)
{
    int k = (int)lround((score + 1) * 2); /* nearest of -1, -0.5, 0, 0.5, 1 */
    return k < 0 ? 0 : k > 4 ? 4 : k;
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

static bool alloc_arrays(struct report *r, const struct report_input *in)
{
    size_t K = in->n_arms ? in->n_arms : 1;
    r->arms = calloc(K, sizeof *r->arms);
    r->run_x = calloc(K, sizeof *r->run_x);
    r->run_y = calloc(K, sizeof *r->run_y);
    r->run_n = calloc(K, sizeof *r->run_n);
    r->levels = calloc(K, sizeof *r->levels);
    r->sum = calloc(K, sizeof *r->sum);
    if (!r->arms || !r->run_x || !r->run_y || !r->run_n || !r->levels || !r->sum)
        return false;
    for (size_t a = 0; a < in->n_arms; a++) {
        struct report_arm *x = &r->arms[a];
        r->run_x[a] = malloc((in->n_steps + 1) * sizeof **r->run_x);
        r->run_y[a] = malloc((in->n_steps + 1) * sizeof **r->run_y);
        x->prompt = dup_or_empty(in->arm_prompts ? in->arm_prompts[a] : NULL);
        if (!r->run_x[a] || !r->run_y[a] || !x->prompt)
            return false;
        snprintf(x->name, sizeof x->name, "%s", in->arm_names[a]);
        x->mean = NAN;
        x->best.iteration = x->median.iteration = x->worst.iteration = -1;
    }
    return true;
}

/* Index of a segment, added when new; -1 when out of memory. */
static long segment_index(struct report *r, const char *name)
{
    const char *key = name ? name : "";
    for (size_t s = 0; s < r->n_seg; s++)
        if (!strcmp(r->seg_name[s], key))
            return (long)s;
    if (r->n_seg == r->seg_cap) {
        size_t cap = r->seg_cap ? 2 * r->seg_cap : 8, K = r->n_arms ? r->n_arms : 1;
        char **names = realloc(r->seg_name, cap * sizeof *names);
        if (!names)
            return -1;
        r->seg_name = names;
        uint64_t *n = realloc(r->seg_n, cap * K * sizeof *n);
        if (!n)
            return -1;
        r->seg_n = n;
        double *sum = realloc(r->seg_sum, cap * K * sizeof *sum);
        if (!sum)
            return -1;
        r->seg_sum = sum;
        r->seg_cap = cap;
    }
    if (!(r->seg_name[r->n_seg] = strdup(key)))
        return -1;
    for (size_t a = 0; a < r->n_arms; a++) {
        r->seg_n[r->n_seg * r->n_arms + a] = 0;
        r->seg_sum[r->n_seg * r->n_arms + a] = 0;
    }
    return (long)r->n_seg++;
}

static void count_failure(struct report *r, const struct report_step *s)
{
    enum offline_failure k = offline_failure_parse(s->error);
    if (r->failures[k]++ == 0)
        snprintf(r->failure_example[k], sizeof r->failure_example[k], "%s",
                 s->error ? s->error : "(no error recorded)");
    r->failed++;
}

/* Replays the ok steps into a bandit of the run's policy (for P(best)), collecting sums,
 * segments, spend, failures and the plot series. */
static pb_status replay_steps(struct report *r, const struct report_input *in, bandit *b, char *err)
{
    for (size_t i = 0; i < in->n_steps; i++) {
        const struct report_step *s = &in->steps[i];
        if (s->arm < 0 || (size_t)s->arm >= in->n_arms)
            return pb_errf(err, PB_ERR_INVALID, "step %ld names arm %ld of %zu", s->iteration,
                           s->arm, in->n_arms);
        struct report_arm *x = &r->arms[s->arm];
        r->calls += s->calls;
        r->tokens += s->tokens;
        r->usd += s->cost;
        x->calls += s->calls;
        x->tokens += s->tokens;
        x->cost += s->cost;
        if (s->state == REPORT_STEP_FAILED) {
            x->failed++;
            count_failure(r, s);
        }
        if (s->state != REPORT_STEP_OK)
            continue;
        pb_status rc = bandit_observe(b, (size_t)s->arm, s->score, err);
        if (rc != PB_OK)
            return rc;
        long seg = segment_index(r, s->segment);
        if (seg < 0)
            return pb_errf(err, PB_ERR_NOMEM, "out of memory");
        r->seg_n[(size_t)seg * r->n_arms + (size_t)s->arm]++;
        r->seg_sum[(size_t)seg * r->n_arms + (size_t)s->arm] += s->score;
        r->ok++;
        x->pulls++;
        r->sum[s->arm] += s->score;
        size_t n = r->run_n[s->arm]++;
        r->run_x[s->arm][n] = (double)s->iteration;
        r->run_y[s->arm][n] = r->sum[s->arm] / (double)x->pulls;
        r->levels[s->arm][level_index(s->score)] += 1;
    }
    return PB_OK;
}

/* An ok step of one arm, for sorting by reward. */
struct ranked {
    double score;
    long iteration;
    size_t index; /* into the input's steps */
};

/* Ascending by score, then by iteration. */
static int by_score(const void *pa, const void *pb)
{
    const struct ranked *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score < b->score ? -1 : 1;
    return (a->iteration > b->iteration) - (a->iteration < b->iteration);
}

static bool set_example(struct report_example *e, const struct report_step *s)
{
    e->iteration = s->iteration;
    e->score = s->score;
    e->scenario = dup_or_empty(s->scenario);
    e->segment = dup_or_empty(s->segment);
    e->output = dup_or_empty(s->output);
    e->reason = dup_or_empty(s->reason);
    return e->scenario && e->segment && e->output && e->reason;
}

/* Best (highest reward, earliest on ties), median and worst (lowest, earliest) answer per arm. */
static pb_status pick_examples(struct report *r, const struct report_input *in, char *err)
{
    struct ranked *rk = malloc((in->n_steps ? in->n_steps : 1) * sizeof *rk);
    if (!rk)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    pb_status rc = PB_OK;
    for (size_t a = 0; a < r->n_arms && rc == PB_OK; a++) {
        size_t n = 0;
        for (size_t i = 0; i < in->n_steps; i++)
            if (in->steps[i].state == REPORT_STEP_OK && (size_t)in->steps[i].arm == a)
                rk[n++] = (struct ranked){in->steps[i].score, in->steps[i].iteration, i};
        if (n == 0)
            continue;
        qsort(rk, n, sizeof *rk, by_score);
        size_t best = n - 1; /* the earliest of the highest scores */
        while (best > 0 && rk[best - 1].score == rk[n - 1].score)
            best--;
        struct report_arm *x = &r->arms[a];
        if (!set_example(&x->best, &in->steps[rk[best].index]) ||
            !set_example(&x->median, &in->steps[rk[(n - 1) / 2].index]) ||
            !set_example(&x->worst, &in->steps[rk[0].index]))
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    free(rk);
    return rc;
}

/* The GLR verdict over the arms (all active: a run's arms are fixed), and the iterations the
 * rewards it still needs would take at the share of iterations leader and runner-up got. */
static void compute_verdict(struct report *r)
{
    struct glr_arm *g = calloc(r->n_arms ? r->n_arms : 1, sizeof *g);
    struct glr_verdict v;
    char ignored[PB_ERR_LEN];
    if (!g)
        return;
    for (size_t a = 0; a < r->n_arms; a++)
        g[a] = (struct glr_arm){.mean = r->arms[a].pulls ? r->arms[a].mean : 0,
                                .n = (double)r->arms[a].pulls,
                                .active = 1};
    r->has_verdict = glr_verdict_of(g, r->n_arms, GLR_REWARD_LO, GLR_REWARD_HI, GLR_DELTA,
                                    GLR_MIN_REWARDS, &v, ignored) == PB_OK;
    free(g);
    if (!r->has_verdict)
        return;
    double top = (double)(r->arms[v.leader].pulls + r->arms[v.runner_up].pulls);
    double share = r->ok > 0 && top > 0 ? top / (double)r->ok : 1;
    r->verdict = (struct report_verdict){
        .leader = v.leader,
        .runner_up = v.runner_up,
        .statistic = v.statistic,
        .threshold = v.threshold,
        .enough_data = v.enough_data,
        .separated = v.separated,
        .more_rewards = v.more_rewards,
        .more_iterations = isfinite(v.more_rewards) ? ceil(v.more_rewards / share) : INFINITY};
}

static pb_status compute_stats(struct report *r, bandit *b, char *err)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    double *pbest = calloc(r->n_arms ? r->n_arms : 1, sizeof *pbest);
    pb_status rc = PB_OK;
    if (!rng || !pbest) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    gsl_rng_set(rng, (unsigned long)(r->seed & 0xffffffffu));
    if (r->n_arms && verdict_prob_best(b, rng, PBEST_DRAWS, pbest, err) != PB_OK)
        memset(pbest, 0, r->n_arms * sizeof *pbest);
    for (size_t a = 0; a < r->n_arms; a++) {
        struct report_arm *x = &r->arms[a];
        x->mean = x->pulls ? r->sum[a] / (double)x->pulls : NAN;
        glr_interval(x->pulls ? x->mean : 0, (double)x->pulls, GLR_REWARD_LO, GLR_REWARD_HI,
                     GLR_DELTA, &x->ci_low, &x->ci_high);
        x->p_best = pbest[a];
    }
    compute_verdict(r);
cleanup:
    gsl_rng_free(rng);
    free(pbest);
    return rc;
}

pb_status report_build(const struct report_input *in, struct report **out, char *err)
{
    bandit_policy pol;
    bandit *b = NULL;
    struct report *r = calloc(1, sizeof *r);
    pb_status rc;
    *out = NULL;
    if (!r)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    r->run_id = in->run_id;
    snprintf(r->name, sizeof r->name, "%s", in->name ? in->name : "run");
    snprintf(r->policy, sizeof r->policy, "%s", in->policy ? in->policy : "");
    snprintf(r->status, sizeof r->status, "%s", in->status ? in->status : "");
    snprintf(r->stop_reason, sizeof r->stop_reason, "%s", in->stop_reason ? in->stop_reason : "");
    snprintf(r->task, sizeof r->task, "%s", in->task ? in->task : "chat");
    snprintf(r->segment_label, sizeof r->segment_label, "%s",
             in->segment_label ? in->segment_label : "emotion");
    r->seed = in->seed;
    r->iterations = in->iterations;
    r->n_arms = in->n_arms;
    if (!alloc_arrays(r, in)) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    /* a run allocated by best-arm identification (tts, lucb, ...) gets P(best) from
     * Thompson's posterior */
    rc = policyspec_parse(runplan_policy_is_bai(in->policy, NULL) ? "thompson" : in->policy, &pol,
                          err);
    if (rc == PB_OK)
        rc = bandit_new(&pol, in->n_arms, &b, err);
    if (rc == PB_OK)
        rc = replay_steps(r, in, b, err);
    if (rc == PB_OK)
        rc = pick_examples(r, in, err);
    if (rc == PB_OK)
        rc = compute_stats(r, b, err);
    r->pending = r->iterations - r->ok - r->failed;
    if (r->pending < 0)
        r->pending = 0;
cleanup:
    bandit_free(b);
    if (rc != PB_OK)
        report_free(r);
    else
        *out = r;
    return rc;
}

/* ---- from the database ---- */

struct collect {
    const struct arm *arms;
    size_t n_arms;
    struct report_step *steps;
    size_t n, cap;
    FILE *out; /* export mode when not NULL */
    int64_t run_id;
    char *err;
};

static long arm_index(const struct collect *c, int64_t arm_id)
{
    for (size_t a = 0; a < c->n_arms; a++)
        if (c->arms[a].id == arm_id)
            return (long)a;
    return -1;
}

static void collect_free(struct collect *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free((char *)c->steps[i].error);
        free((char *)c->steps[i].scenario);
        free((char *)c->steps[i].segment);
        free((char *)c->steps[i].output);
        free((char *)c->steps[i].reason);
    }
    free(c->steps);
}

/* A copy of s, or NULL for NULL; sets *failed when out of memory. */
static const char *copy_or_null(const char *s, bool *failed)
{
    char *c = s ? strdup(s) : NULL;
    if (s && !c)
        *failed = true;
    return c;
}

/* runs_step_foreach callbacks: 0 or a pb_status. */
static int collect_step(void *ctx, const struct run_step *st)
{
    struct collect *c = ctx;
    bool failed = false;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 256;
        struct report_step *s = realloc(c->steps, cap * sizeof *s);
        if (!s)
            return pb_errf(c->err, PB_ERR_NOMEM, "out of memory");
        c->steps = s;
        c->cap = cap;
    }
    enum report_step_state state = !strcmp(st->status, "ok")       ? REPORT_STEP_OK
                                   : !strcmp(st->status, "failed") ? REPORT_STEP_FAILED
                                                                   : REPORT_STEP_PENDING;
    c->steps[c->n++] = (struct report_step){.iteration = (long)st->iteration,
                                            .arm = arm_index(c, st->arm_id),
                                            .state = state,
                                            .score = st->score,
                                            .calls = (long)st->calls,
                                            .tokens = (long)st->tokens,
                                            .cost = st->cost,
                                            .error = copy_or_null(st->error, &failed),
                                            .scenario = copy_or_null(st->scenario, &failed),
                                            .segment = copy_or_null(st->emotion, &failed),
                                            .output = copy_or_null(st->output, &failed),
                                            .reason = copy_or_null(st->reason, &failed)};
    return failed ? pb_errf(c->err, PB_ERR_NOMEM, "out of memory") : 0;
}

pb_status report_load(store *db, int64_t run_id, struct report **out, char *err)
{
    struct run *run = NULL;
    struct arm *arms = NULL;
    size_t n_arms = 0;
    struct offline_options opt;
    void *owner = NULL;
    const char **names = NULL, **prompts = NULL;
    struct collect c = {.err = err};
    pb_status rc = runs_get(db, run_id, &run, err);
    if (rc == PB_OK)
        rc = runrecord_load(db, run_id, &opt, &owner, err);
    if (rc == PB_OK)
        rc = runrecord_arms(db, run, 1, &arms, &n_arms, err);
    if (rc == PB_OK && (!(names = calloc(n_arms ? n_arms : 1, sizeof *names)) ||
                        !(prompts = calloc(n_arms ? n_arms : 1, sizeof *prompts))))
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc != PB_OK)
        goto cleanup;
    for (size_t a = 0; a < n_arms; a++) {
        names[a] = arms[a].name;
        prompts[a] = arms[a].prompt;
    }
    c.arms = arms;
    c.n_arms = n_arms;
    rc = runs_step_foreach(db, run_id, collect_step, &c, err);
    if (rc != PB_OK)
        goto cleanup;
    struct report_input in = {.run_id = run_id,
                              .name = run->name,
                              .policy = opt.policy,
                              .status = run->status,
                              .stop_reason = run->stop_reason,
                              .task = runrecord_task_name(owner),
                              .segment_label = runrecord_segment_label(owner),
                              .seed = opt.seed,
                              .iterations = opt.iterations,
                              .arm_names = names,
                              .arm_prompts = prompts,
                              .n_arms = n_arms,
                              .steps = c.steps,
                              .n_steps = c.n};
    rc = report_build(&in, out, err);
cleanup:
    collect_free(&c);
    free(names);
    free(prompts);
    arms_list_free(arms, n_arms);
    runrecord_release(owner);
    runs_list_free(run, 1);
    return rc;
}

static int export_step(void *ctx, const struct run_step *st)
{
    struct collect *c = ctx;
    long a = arm_index(c, st->arm_id);
    json_t *o =
        json_pack("{s:I, s:I, s:s?, s:I, s:s, s:{s:s?, s:s?}, s:s?, s:s?, s:I, s:I, "
                  "s:f, s:I}",
                  "run", (json_int_t)st->run_id, "iteration", (json_int_t)st->iteration, "arm",
                  a >= 0 ? c->arms[a].name : NULL, "arm_id", (json_int_t)st->arm_id, "status",
                  st->status, "context", "scenario", st->scenario, "emotion", st->emotion, "output",
                  st->output, "error", st->error, "calls", (json_int_t)st->calls, "tokens",
                  (json_int_t)st->tokens, "cost", st->cost, "attempts", (json_int_t)st->attempts);
    if (o && st->has_score)
        json_object_set_new(o, "reward", json_real(st->score));
    if (o && st->has_score && st->reason && *st->reason)
        json_object_set_new(o, "reason", json_string(st->reason));
    if (o && st->propensity > 0)
        json_object_set_new(o, "propensity", json_real(st->propensity));
    char *line = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(o);
    if (!line)
        return pb_errf(c->err, PB_ERR_NOMEM, "out of memory");
    int bad = fprintf(c->out, "%s\n", line) < 0;
    free(line);
    return bad ? pb_errf(c->err, PB_ERR_IO, "writing the export: %s", strerror(errno)) : 0;
}

pb_status report_export_jsonl(store *db, int64_t run_id, FILE *out, char *err)
{
    struct run *run = NULL;
    struct arm *arms = NULL;
    size_t n_arms = 0;
    pb_status rc = runs_get(db, run_id, &run, err);
    if (rc == PB_OK)
        rc = runrecord_arms(db, run, 1, &arms, &n_arms, err);
    if (rc == PB_OK) {
        struct collect c = {.arms = arms, .n_arms = n_arms, .out = out, .err = err};
        rc = runs_step_foreach(db, run_id, export_step, &c, err);
    }
    if (rc == PB_OK && fflush(out) != 0)
        rc = pb_errf(err, PB_ERR_IO, "writing the export: %s", strerror(errno));
    arms_list_free(arms, n_arms);
    runs_list_free(run, 1);
    return rc;
}
