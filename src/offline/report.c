/* report.c — run reports: statistics from recorded steps (bandit + verdict), markdown, JSON,
 * SVG plots (plot.h), the report folder, and the JSONL export of a run's steps. */
#include "offline/report.h"

#include "store/arms.h"
#include "bandit/bandit.h"
#include "offline/offline.h"
#include "offline/runrecord.h"
#include "base/plot.h"
#include "store/runs.h"
#include "bandit/verdict.h"

#include <errno.h>
#include <gsl/gsl_cdf.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PBEST_DRAWS 20000
#define N_LEVELS    5

struct report {
    int64_t run_id;
    char name[128], policy[96], status[16], stop_reason[16];
    uint64_t seed;
    long iterations, ok, failed, pending, calls, tokens;
    double usd, confidence;
    struct report_arm *arms;
    size_t n_arms;
    bool has_sep;
    verdict_separation sep;
    double more_iterations;
    /* plots: running mean of each arm at each of its rewards, and reward level counts */
    double **run_x, **run_y;
    size_t *run_n;
    double (*levels)[N_LEVELS];
    long failures[OFFLINE_FAIL_KINDS];
    char failure_example[OFFLINE_FAIL_KINDS][PB_ERR_LEN + 32]; /* the first of each kind */
};

void report_free(struct report *r)
{
    if (!r)
        return;
    for (size_t a = 0; a < r->n_arms; a++) {
        free(r->run_x ? r->run_x[a] : NULL);
        free(r->run_y ? r->run_y[a] : NULL);
    }
    free(r->run_x);
    free(r->run_y);
    free(r->run_n);
    free(r->levels);
    free(r->arms);
    free(r);
}

size_t report_arm_count(const struct report *r)
{
    return r->n_arms;
}

const struct report_arm *report_arm_at(const struct report *r, size_t i)
{
    return i < r->n_arms ? &r->arms[i] : NULL;
}

bool report_separation(const struct report *r, size_t *leader, size_t *runner_up, int *separated,
                       double *more_iterations)
{
    if (!r->has_sep)
        return false;
    *leader = r->sep.leader;
    *runner_up = r->sep.runner_up;
    *separated = r->sep.separated;
    *more_iterations = r->more_iterations;
    return true;
}

static int level_index(double score)
{
    int k = (int)lround((score + 1) * 2); /* nearest of -1, -0.5, 0, 0.5, 1 */
    return k < 0 ? 0 : k > 4 ? 4 : k;
}

static bool alloc_arrays(struct report *r, const struct report_input *in)
{
    size_t K = in->n_arms;
    r->arms = calloc(K ? K : 1, sizeof *r->arms);
    r->run_x = calloc(K ? K : 1, sizeof *r->run_x);
    r->run_y = calloc(K ? K : 1, sizeof *r->run_y);
    r->run_n = calloc(K ? K : 1, sizeof *r->run_n);
    r->levels = calloc(K ? K : 1, sizeof *r->levels);
    if (!r->arms || !r->run_x || !r->run_y || !r->run_n || !r->levels)
        return false;
    for (size_t a = 0; a < K; a++) {
        r->run_x[a] = malloc((in->n_steps + 1) * sizeof **r->run_x);
        r->run_y[a] = malloc((in->n_steps + 1) * sizeof **r->run_y);
        if (!r->run_x[a] || !r->run_y[a])
            return false;
        snprintf(r->arms[a].name, sizeof r->arms[a].name, "%s", in->arm_names[a]);
    }
    return true;
}

/* Replays the ok steps into a bandit of the run's policy, collecting the plot series. */
static pb_status replay_steps(struct report *r, const struct report_input *in, bandit *b, char *err)
{
    for (size_t i = 0; i < in->n_steps; i++) {
        const struct report_step *s = &in->steps[i];
        r->calls += s->calls;
        r->tokens += s->tokens;
        r->usd += s->cost;
        if (s->state == REPORT_STEP_FAILED) {
            enum offline_failure k = offline_failure_parse(s->error);
            if (r->failures[k]++ == 0)
                snprintf(r->failure_example[k], sizeof r->failure_example[k], "%s",
                         s->error ? s->error : "(no error recorded)");
            r->failed++;
        }
        if (s->state != REPORT_STEP_OK)
            continue;
        if (s->arm < 0 || (size_t)s->arm >= in->n_arms)
            return pb_errf(err, PB_ERR_INVALID, "step %ld names arm %ld of %zu", s->iteration,
                           s->arm, in->n_arms);
        pb_status rc = bandit_observe(b, (size_t)s->arm, s->score, err);
        if (rc != PB_OK)
            return rc;
        r->ok++;
        bandit_arm_stats st;
        bandit_get_arm_stats(b, (size_t)s->arm, &st, err);
        size_t n = r->run_n[s->arm]++;
        r->run_x[s->arm][n] = (double)s->iteration;
        r->run_y[s->arm][n] = st.mean;
        r->levels[s->arm][level_index(s->score)] += 1;
    }
    return PB_OK;
}

/* Iterations until separation: the pulls verdict asks of the top two, scaled by the share of
 * iterations those two arms received so far (the policy keeps splitting the same way). */
static double more_iterations(const struct report *r)
{
    if (r->sep.separated)
        return 0;
    if (!isfinite(r->sep.more_pulls))
        return INFINITY;
    double top = (double)(r->arms[r->sep.leader].pulls + r->arms[r->sep.runner_up].pulls);
    double share = r->ok > 0 ? top / (double)r->ok : 1;
    return ceil(r->sep.more_pulls / (share > 0 ? share : 1));
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
        bandit_arm_stats st;
        bandit_get_arm_stats(b, a, &st, err);
        r->arms[a].pulls = st.pulls;
        r->arms[a].mean = st.mean;
        r->arms[a].ci_low = st.ci_low;
        r->arms[a].ci_high = st.ci_high;
        r->arms[a].p_best = pbest[a];
    }
    char ignored[PB_ERR_LEN];
    r->has_sep = verdict_check_separation(b, r->confidence, &r->sep, ignored) == PB_OK;
    if (r->has_sep)
        r->more_iterations = more_iterations(r);
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
    r->seed = in->seed;
    r->iterations = in->iterations;
    r->confidence = in->confidence > 0 ? in->confidence : 0.95;
    r->n_arms = in->n_arms;
    if (!alloc_arrays(r, in)) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    rc = bandit_policy_parse(in->policy, &pol, err);
    if (rc == PB_OK)
        rc = bandit_new(&pol, in->n_arms, &b, err);
    if (rc == PB_OK)
        rc = replay_steps(r, in, b, err);
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

/* ---- markdown ---- */

struct buf {
    char *s;
    size_t len, cap;
    int failed;
};

__attribute__((format(printf, 2, 3))) static void put(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->failed || n < 0)
        return;
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = (b->len + (size_t)n + 1) * 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->failed = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Text inside a markdown table cell: '|' escaped, line breaks as spaces. */
static void put_cell(struct buf *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        if (*p == '|')
            put(b, "\\|");
        else if (*p == '\n' || *p == '\r')
            put(b, " ");
        else
            put(b, "%c", *p);
    }
}

static void put_separation(struct buf *b, const struct report *r)
{
    if (!r->has_sep) {
        put(b, "**Separation:** not enough data (fewer than two arms with two rewards each).\n");
        return;
    }
    const char *lead = r->arms[r->sep.leader].name, *run = r->arms[r->sep.runner_up].name;
    double q = gsl_cdf_ugaussian_Pinv(0.5 + r->confidence / 2);
    if (r->sep.separated) {
        put(b,
            "**Separated:** leader %s is ahead of runner-up %s at %.0f %% confidence "
            "(difference %.3f, z = %.2f >= %.2f).\n",
            lead, run, r->confidence * 100, r->sep.difference, r->sep.z, q);
    } else if (isfinite(r->more_iterations)) {
        put(b,
            "**Not separated yet:** %s leads %s by %.3f (z = %.2f < %.2f). About %.0f more "
            "rewards for the two (split evenly), roughly %.0f more iterations at the current "
            "split, would separate them if the observed means and variances hold.\n",
            lead, run, r->sep.difference, r->sep.z, q, ceil(r->sep.more_pulls), r->more_iterations);
    } else {
        put(b,
            "**Not separated:** %s and %s have the same mean; more iterations will not tell "
            "them apart unless the means move.\n",
            lead, run);
    }
}

/* Failed steps by kind, with the first error of each kind as recorded. */
static void put_failures(struct buf *b, const struct report *r)
{
    if (r->failed == 0)
        return;
    put(b, "\n## Failures\n\n%ld of %ld recorded steps failed; a failure is never a reward.\n\n",
        r->failed, r->ok + r->failed);
    put(b, "| kind | steps | first error |\n| --- | ---: | --- |\n");
    for (int k = 0; k < OFFLINE_FAIL_KINDS; k++)
        if (r->failures[k]) {
            put(b, "| %s | %ld | ", offline_failure_name((enum offline_failure)k), r->failures[k]);
            put_cell(b, r->failure_example[k]);
            put(b, " |\n");
        }
}

pb_status report_markdown(const struct report *r, char **out, char *err)
{
    struct buf b = {0};
    put(&b, "# bandit-run report: %s (run %lld)\n\n", r->name, (long long)r->run_id);
    put(&b, "- policy `%s`, seed %llu\n", r->policy, (unsigned long long)r->seed);
    put(&b,
        "- %ld of %ld iterations recorded: %ld scored, %ld failed (failures are never "
        "rewards)\n",
        r->ok + r->failed, r->iterations, r->ok, r->failed);
    put(&b, "- status: %s%s%s%s\n", r->status, *r->stop_reason ? " (" : "", r->stop_reason,
        *r->stop_reason ? ")" : "");
    put(&b, "- spend: %ld provider calls, %ld tokens, $%.4f\n\n", r->calls, r->tokens, r->usd);
    put(&b, "| arm | pulls | mean | 95 %% CI | P(best) |\n| --- | ---: | ---: | --- | ---: |\n");
    for (size_t a = 0; a < r->n_arms; a++) {
        const struct report_arm *x = &r->arms[a];
        if (x->pulls == 0)
            put(&b, "| %s | 0 | – | – | %.3f |\n", x->name, x->p_best);
        else
            put(&b, "| %s | %llu | %.3f | [%.3f, %.3f] | %.3f |\n", x->name,
                (unsigned long long)x->pulls, x->mean, x->ci_low, x->ci_high, x->p_best);
    }
    put(&b, "\n");
    put_separation(&b, r);
    put_failures(&b, r);
    put(&b, "\n![mean reward per arm over iterations](means.svg)\n\n"
            "![reward levels per arm](rewards.svg)\n");
    if (b.failed) {
        free(b.s);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    *out = b.s;
    return PB_OK;
}

/* ---- JSON ---- */

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

pb_status report_json(const struct report *r, char **out, char *err)
{
    json_t *arms = json_array(), *o = NULL;
    for (size_t a = 0; arms && a < r->n_arms; a++) {
        const struct report_arm *x = &r->arms[a];
        json_array_append_new(arms,
                              json_pack("{s:s, s:I, s:o, s:[o,o], s:f}", "arm", x->name, "pulls",
                                        (json_int_t)x->pulls, "mean",
                                        x->pulls ? json_real(x->mean) : json_null(), "ci95",
                                        num(x->ci_low), num(x->ci_high), "p_best", x->p_best));
    }
    json_t *sep = json_null();
    if (r->has_sep)
        sep = json_pack("{s:s, s:s, s:f, s:o, s:b, s:f, s:o, s:o}", "leader",
                        r->arms[r->sep.leader].name, "runner_up", r->arms[r->sep.runner_up].name,
                        "difference", r->sep.difference, "z", num(r->sep.z), "separated",
                        r->sep.separated, "confidence", r->confidence, "more_pulls",
                        num(r->sep.more_pulls), "more_iterations", num(r->more_iterations));
    o = json_pack("{s:I, s:s, s:s, s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:f, s:o, s:o}", "run",
                  (json_int_t)r->run_id, "name", r->name, "policy", r->policy, "seed",
                  (json_int_t)r->seed, "status", r->status, "stop_reason", r->stop_reason,
                  "iterations", (json_int_t)r->iterations, "ok", (json_int_t)r->ok, "failed",
                  (json_int_t)r->failed, "calls", (json_int_t)r->calls, "tokens",
                  (json_int_t)r->tokens, "usd", r->usd, "arms", arms, "separation", sep);
    json_t *fails = json_array();
    for (int k = 0; fails && k < OFFLINE_FAIL_KINDS; k++)
        if (r->failures[k])
            json_array_append_new(fails, json_pack("{s:s, s:I, s:s}", "kind",
                                                   offline_failure_name((enum offline_failure)k),
                                                   "steps", (json_int_t)r->failures[k],
                                                   "first_error", r->failure_example[k]));
    if (o && fails)
        json_object_set(o, "failures", fails);
    json_decref(fails);
    *out = o ? json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(o);
    return *out ? PB_OK : pb_errf(err, PB_ERR_NOMEM, "out of memory");
}

/* ---- plots ---- */

pb_status report_svg_means(const struct report *r, char **out, char *err)
{
    struct plot_series *s = calloc(r->n_arms ? r->n_arms : 1, sizeof *s);
    if (!s)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    for (size_t a = 0; a < r->n_arms; a++)
        s[a] = (struct plot_series){r->arms[a].name, r->run_x[a], r->run_y[a], r->run_n[a]};
    struct plot_frame f = {
        .title = "Mean reward per arm", .x_label = "iteration", .y_label = "running mean reward"};
    pb_status rc = plot_lines(&f, s, r->n_arms, out, err);
    free(s);
    return rc;
}

pb_status report_svg_rewards(const struct report *r, char **out, char *err)
{
    static const char *const levels[N_LEVELS] = {"-1", "-0.5", "0", "0.5", "1"};
    struct plot_dist *d = calloc(r->n_arms ? r->n_arms : 1, sizeof *d);
    if (!d)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    for (size_t a = 0; a < r->n_arms; a++)
        d[a] = (struct plot_dist){r->arms[a].name, r->levels[a]};
    struct plot_frame f = {.title = "Reward levels per arm (share of the arm's rewards)",
                           .x_label = "reward",
                           .y_label = "share"};
    pb_status rc = plot_distribution(&f, levels, N_LEVELS, d, r->n_arms, out, err);
    free(d);
    return rc;
}

pb_status report_write_dir(const struct report *r, const char *dir, char *err)
{
    static const char *const names[] = {"report.md", "report.json", "means.svg", "rewards.svg"};
    pb_status (*const render[])(const struct report *, char **, char *) = {
        report_markdown, report_json, report_svg_means, report_svg_rewards};
    char path[4096];
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return pb_errf(err, PB_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    for (size_t i = 0; i < 4; i++) {
        char *text = NULL;
        pb_status rc = render[i](r, &text, err);
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (rc == PB_OK)
            rc = pb_write_file_atomic(path, text, strlen(text), err);
        free(text);
        if (rc != PB_OK)
            return rc;
    }
    return PB_OK;
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

/* runs_step_foreach callbacks: 0 or a pb_status. */
static int collect_step(void *ctx, const struct run_step *st)
{
    struct collect *c = ctx;
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
                                            .error = NULL};
    if (st->error && !(c->steps[c->n - 1].error = strdup(st->error)))
        return pb_errf(c->err, PB_ERR_NOMEM, "out of memory");
    return 0;
}

pb_status report_load(store *db, int64_t run_id, struct report **out, char *err)
{
    struct run *run = NULL;
    struct arm *arms = NULL;
    size_t n_arms = 0;
    struct offline_options opt;
    void *owner = NULL;
    const char **names = NULL;
    struct collect c = {.err = err};
    pb_status rc = runs_get(db, run_id, &run, err);
    if (rc == PB_OK)
        rc = runrecord_load(db, run_id, &opt, &owner, err);
    if (rc == PB_OK)
        rc = runrecord_arms(db, run, 1, &arms, &n_arms, err);
    if (rc == PB_OK && !(names = calloc(n_arms ? n_arms : 1, sizeof *names)))
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc != PB_OK)
        goto cleanup;
    for (size_t a = 0; a < n_arms; a++)
        names[a] = arms[a].name;
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
                              .seed = opt.seed,
                              .iterations = opt.iterations,
                              .arm_names = names,
                              .n_arms = n_arms,
                              .steps = c.steps,
                              .n_steps = c.n};
    rc = report_build(&in, out, err);
cleanup:
    for (size_t i = 0; i < c.n; i++)
        free((char *)c.steps[i].error);
    free(c.steps);
    free(names);
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
