/* reportview.c — report.md, report.json, the SVG plots and the report folder, from report.h's
 * read access only. */
#include "offline/reportview.h"

#include "base/plot.h"
#include "base/text.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define N_LEVELS      5
#define EXAMPLE_CHARS 400 /* an example answer is cut to this many characters */
#define PLOT_WIDTH    800
#define PLOT_HEIGHT   400

/* ---- markdown ---- */

struct md {
    struct pb_buf b;
    int failed;
};

__attribute__((format(printf, 2, 3))) static void put(struct md *m, const char *fmt, ...)
{
    char small[512], *text = small;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        m->failed = 1;
        return;
    }
    if ((size_t)n >= sizeof small) {
        if (!(text = malloc((size_t)n + 1))) {
            m->failed = 1;
            return;
        }
        va_start(ap, fmt);
        vsnprintf(text, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    if (pb_buf_append(&m->b, text, (size_t)n) != PB_OK)
        m->failed = 1;
    if (text != small)
        free(text);
}

/* Text on one line (a table cell or a list item): '|' escaped, line breaks as spaces, cut to
 * max_chars characters on a character boundary ("…" marks the cut). */
static void put_inline(struct md *m, const char *s, size_t max_chars)
{
    size_t len = strlen(s), cut = text_utf8_prefix(s, len, max_chars);
    for (size_t i = 0; i < cut; i++) {
        if (s[i] == '|')
            put(m, "\\|");
        else if (s[i] == '\n' || s[i] == '\r' || s[i] == '\t')
            put(m, " ");
        else
            put(m, "%c", s[i]);
    }
    if (cut < len)
        put(m, "…");
}

/* Text as a block quote, each line prefixed with "> ", cut like put_inline. */
static void put_quote(struct md *m, const char *s, size_t max_chars)
{
    size_t len = strlen(s), cut = text_utf8_prefix(s, len, max_chars);
    put(m, "  > ");
    for (size_t i = 0; i < cut; i++) {
        if (s[i] == '\n')
            put(m, "\n  > ");
        else if (s[i] != '\r')
            put(m, "%c", s[i]);
    }
    put(m, "%s\n", cut < len ? "…" : "");
}

static void put_mean(struct md *m, double mean)
{
    if (isfinite(mean))
        put(m, "%.3f", mean);
    else
        put(m, "–");
}

static const char *arm_name(const struct report *r, size_t a)
{
    return report_arm_at(r, a)->name;
}

/* "About N more rewards for the two, roughly M more iterations at the current split". */
static void put_more(struct md *m, const struct report_verdict *v)
{
    if (!isfinite(v->more_rewards)) {
        put(m, "More rewards will not tell them apart unless the means move.");
        return;
    }
    put(m,
        "About %.0f more rewards for the two (in their current proportion), roughly %.0f more "
        "iterations at the current split, would separate them if the observed means hold.",
        v->more_rewards, v->more_iterations);
}

static void put_verdict(struct md *m, const struct report *r)
{
    struct report_verdict v;
    put(m, "## Verdict\n\n");
    if (!report_get_verdict(r, &v)) {
        put(m, "**No verdict:** it needs at least two arms.\n\n");
        return;
    }
    const struct report_arm *l = report_arm_at(r, v.leader), *u = report_arm_at(r, v.runner_up);
    if (v.separated) {
        put(m,
            "**Separated: %s is the best arm** at %.0f %% confidence. Against the closest arm, "
            "%s, its GLR statistic is %.2f, past the threshold %.2f; %s has mean %.3f [%.3f, "
            "%.3f] over %llu rewards, %s %.3f [%.3f, %.3f] over %llu.\n\n",
            l->name, 100 * (1 - GLR_DELTA), u->name, v.statistic, v.threshold, l->name, l->mean,
            l->ci_low, l->ci_high, (unsigned long long)l->pulls, u->name, u->mean, u->ci_low,
            u->ci_high, (unsigned long long)u->pulls);
        return;
    }
    if (l->pulls == 0) {
        put(m, "**No verdict yet:** no arm has a reward.\n\n");
        return;
    }
    if (!v.enough_data) {
        put(m, "**Not enough rewards yet:** %s leads %s (%.3f against ", l->name, u->name, l->mean);
        put_mean(m, u->mean);
        put(m,
            "), but the verdict claims nothing below %d rewards for either compared arm (%s has "
            "%llu, %s has %llu). ",
            GLR_MIN_REWARDS, l->name, (unsigned long long)l->pulls, u->name,
            (unsigned long long)u->pulls);
    } else {
        put(m,
            "**Not separated yet:** %s leads %s by %.3f (GLR statistic %.2f, below the threshold "
            "%.2f at %.0f %% confidence). ",
            l->name, u->name, l->mean - u->mean, v.statistic, v.threshold, 100 * (1 - GLR_DELTA));
    }
    put_more(m, &v);
    put(m, "\n\n");
}

static void put_arms(struct md *m, const struct report *r)
{
    struct report_verdict v;
    bool has = report_get_verdict(r, &v);
    put(m,
        "| arm | rewards | mean | %.0f %% interval | P(best) | failed | calls | tokens | cost "
        "|\n| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n",
        100 * (1 - GLR_DELTA));
    for (size_t a = 0; a < report_arm_count(r); a++) {
        const struct report_arm *x = report_arm_at(r, a);
        put(m, "| ");
        put_inline(m, x->name, 32);
        put(m, "%s | %llu | ", has && v.leader == a && x->pulls ? " (leader)" : "",
            (unsigned long long)x->pulls);
        put_mean(m, x->mean);
        put(m, " | [%.3f, %.3f] | %.3f | %ld | %ld | %ld | $%.4f |\n", x->ci_low, x->ci_high,
            x->p_best, x->failed, x->calls, x->tokens, x->cost);
    }
    put(m,
        "\nIntervals are %.0f %% KL intervals within the reward range [%g, %g]: wide at small n, "
        "never narrower than the data allow.\n\n",
        100 * (1 - GLR_DELTA), GLR_REWARD_LO, GLR_REWARD_HI);
}

static void put_segments(struct md *m, const struct report *r)
{
    struct report_summary sum;
    report_get_summary(r, &sum);
    size_t n = report_segment_count(r), K = report_arm_count(r);
    if (n == 0)
        return;
    put(m, "## Mean reward per %s\n\nMean reward (rewards) of each arm for each %s.\n\n| %s |",
        sum.segment_label, sum.segment_label, sum.segment_label);
    for (size_t a = 0; a < K; a++) {
        put(m, " ");
        put_inline(m, arm_name(r, a), 32);
        put(m, " |");
    }
    put(m, "\n| --- |");
    for (size_t a = 0; a < K; a++)
        put(m, " ---: |");
    put(m, "\n");
    for (size_t s = 0; s < n; s++) {
        const char *name = report_segment_name(r, s);
        put(m, "| ");
        if (*name)
            put_inline(m, name, 40);
        else
            put(m, "(none)");
        put(m, " |");
        for (size_t a = 0; a < K; a++) {
            uint64_t k;
            double mean;
            report_segment_cell(r, s, a, &k, &mean);
            if (k)
                put(m, " %.2f (%llu) |", mean, (unsigned long long)k);
            else
                put(m, " – |");
        }
        put(m, "\n");
    }
    put(m, "\n");
}

static void put_example(struct md *m, const char *which, const struct report_example *e,
                        const char *segment_label)
{
    put(m, "- **%s**: reward %+.2f (iteration %ld", which, e->score, e->iteration);
    if (*e->segment) {
        put(m, ", %s ", segment_label);
        put_inline(m, e->segment, 40);
    }
    put(m, "), answering: ");
    put_inline(m, e->scenario, 160);
    put(m, "\n");
    put_quote(m, e->output, EXAMPLE_CHARS);
    if (e->reason && *e->reason) {
        put(m, "\n  judge's reason: ");
        put_inline(m, e->reason, JUDGE_REASON_CHARS);
        put(m, "\n");
    }
}

static void put_examples(struct md *m, const struct report *r)
{
    struct report_summary sum;
    report_get_summary(r, &sum);
    put(m, "## Examples\n\nThe best, median and worst answer of each arm by reward, with the "
           "reason the LLM judge gave for its level (none from the local or constant judge, or "
           "from a judge that answered with a bare level).\n\n");
    for (size_t a = 0; a < report_arm_count(r); a++) {
        const struct report_arm *x = report_arm_at(r, a);
        put(m, "### ");
        put_inline(m, x->name, 32);
        put(m, "\n\n");
        if (x->best.iteration < 0) {
            put(m, "No reward yet.\n\n");
            continue;
        }
        put_example(m, "best", &x->best, sum.segment_label);
        put_example(m, "median", &x->median, sum.segment_label);
        put_example(m, "worst", &x->worst, sum.segment_label);
        put(m, "\n");
    }
}

static void put_prompts(struct md *m, const struct report *r)
{
    put(m, "## Prompts\n\n");
    for (size_t a = 0; a < report_arm_count(r); a++) {
        const struct report_arm *x = report_arm_at(r, a);
        put(m, "### ");
        put_inline(m, x->name, 32);
        put(m, "\n\n");
        put_quote(m, x->prompt, 20000);
        put(m, "\n");
    }
}

/* Failed steps by kind, with the first error of each kind as recorded. */
static void put_failures(struct md *m, const struct report *r)
{
    struct report_summary sum;
    report_get_summary(r, &sum);
    if (sum.failed == 0)
        return;
    put(m, "## Failures\n\n%ld of %ld recorded steps failed; a failure is never a reward.\n\n",
        sum.failed, sum.ok + sum.failed);
    put(m, "| kind | steps | first error |\n| --- | ---: | --- |\n");
    for (int k = 0; k < OFFLINE_FAIL_KINDS; k++) {
        const char *first;
        long n = report_failures(r, (enum offline_failure)k, &first);
        if (n) {
            put(m, "| %s | %ld | ", offline_failure_name((enum offline_failure)k), n);
            put_inline(m, first, 400);
            put(m, " |\n");
        }
    }
    put(m, "\n");
}

pb_status report_markdown(const struct report *r, char **out, char *err)
{
    struct md m = {0};
    struct report_summary s;
    report_get_summary(r, &s);
    put(&m, "# bandit-run report: ");
    put_inline(&m, s.name, 128);
    put(&m, " (run %lld)\n\n", (long long)s.run_id);
    put(&m, "- task `%s`, policy `%s`, seed %llu\n", s.task, s.policy, (unsigned long long)s.seed);
    put(&m,
        "- %ld of %ld iterations recorded: %ld scored, %ld failed (failures are never "
        "rewards)\n",
        s.ok + s.failed, s.iterations, s.ok, s.failed);
    put(&m, "- status: %s%s%s%s\n", s.status, *s.stop_reason ? " (" : "", s.stop_reason,
        *s.stop_reason ? ")" : "");
    put(&m, "- spend: %ld provider calls, %ld tokens, $%.4f\n\n", s.calls, s.tokens, s.usd);
    put_verdict(&m, r);
    put_arms(&m, r);
    put(&m, "![mean reward per arm with its interval](verdict.svg)\n\n");
    put_segments(&m, r);
    put_failures(&m, r);
    put_examples(&m, r);
    put_prompts(&m, r);
    put(&m, "## Over time\n\n![running mean reward per arm](means.svg)\n\n"
            "![share of each reward level per arm](rewards.svg)\n");
    if (m.failed || !m.b.data) {
        pb_buf_free(&m.b);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    *out = m.b.data;
    return PB_OK;
}

/* ---- JSON ---- */

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *example_json(const struct report_example *e)
{
    if (e->iteration < 0)
        return json_null();
    return json_pack("{s:I, s:f, s:s, s:s, s:s, s:o}", "iteration", (json_int_t)e->iteration,
                     "reward", e->score, "scenario", e->scenario, "segment", e->segment, "output",
                     e->output, "reason",
                     e->reason && *e->reason ? json_string(e->reason) : json_null());
}

static json_t *arms_json(const struct report *r)
{
    json_t *arms = json_array();
    for (size_t a = 0; arms && a < report_arm_count(r); a++) {
        const struct report_arm *x = report_arm_at(r, a);
        json_array_append_new(
            arms, json_pack("{s:s, s:s, s:I, s:o, s:[o,o], s:f, s:I, s:I, s:I, s:f, "
                            "s:{s:o, s:o, s:o}}",
                            "arm", x->name, "prompt", x->prompt, "pulls", (json_int_t)x->pulls,
                            "mean", num(x->mean), "interval", num(x->ci_low), num(x->ci_high),
                            "p_best", x->p_best, "failed", (json_int_t)x->failed, "calls",
                            (json_int_t)x->calls, "tokens", (json_int_t)x->tokens, "cost", x->cost,
                            "examples", "best", example_json(&x->best), "median",
                            example_json(&x->median), "worst", example_json(&x->worst)));
    }
    return arms;
}

static json_t *verdict_json(const struct report *r)
{
    struct report_verdict v;
    if (!report_get_verdict(r, &v))
        return json_null();
    return json_pack("{s:s, s:s, s:b, s:b, s:o, s:f, s:f, s:i, s:o, s:o, s:s}", "leader",
                     arm_name(r, v.leader), "runner_up", arm_name(r, v.runner_up), "separated",
                     v.separated, "enough_data", v.enough_data, "statistic", num(v.statistic),
                     "threshold", v.threshold, "delta", GLR_DELTA, "min_rewards", GLR_MIN_REWARDS,
                     "more_rewards", num(v.more_rewards), "more_iterations", num(v.more_iterations),
                     "rule", "glr");
}

static json_t *segments_json(const struct report *r)
{
    json_t *list = json_array();
    for (size_t s = 0; list && s < report_segment_count(r); s++) {
        json_t *arms = json_object();
        for (size_t a = 0; arms && a < report_arm_count(r); a++) {
            uint64_t n;
            double mean;
            report_segment_cell(r, s, a, &n, &mean);
            json_object_set_new(
                arms, arm_name(r, a),
                json_pack("{s:I, s:o}", "rewards", (json_int_t)n, "mean", num(mean)));
        }
        json_array_append_new(
            list, json_pack("{s:s, s:o}", "segment", report_segment_name(r, s), "arms", arms));
    }
    return list;
}

static json_t *failures_json(const struct report *r)
{
    json_t *list = json_array();
    for (int k = 0; list && k < OFFLINE_FAIL_KINDS; k++) {
        const char *first;
        long n = report_failures(r, (enum offline_failure)k, &first);
        if (n)
            json_array_append_new(list, json_pack("{s:s, s:I, s:s}", "kind",
                                                  offline_failure_name((enum offline_failure)k),
                                                  "steps", (json_int_t)n, "first_error", first));
    }
    return list;
}

pb_status report_json(const struct report *r, char **out, char *err)
{
    struct report_summary s;
    report_get_summary(r, &s);
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:f, "
                          "s:s, s:o, s:o, s:o, s:o}",
                          "run", (json_int_t)s.run_id, "name", s.name, "task", s.task, "policy",
                          s.policy, "seed", (json_int_t)s.seed, "status", s.status, "stop_reason",
                          s.stop_reason, "iterations", (json_int_t)s.iterations, "ok",
                          (json_int_t)s.ok, "failed", (json_int_t)s.failed, "calls",
                          (json_int_t)s.calls, "tokens", (json_int_t)s.tokens, "usd", s.usd,
                          "segment_label", s.segment_label, "verdict", verdict_json(r), "arms",
                          arms_json(r), "segments", segments_json(r), "failures", failures_json(r));
    *out = o ? json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(o);
    return *out ? PB_OK : pb_errf(err, PB_ERR_NOMEM, "out of memory");
}

/* ---- plots ---- */

pb_status report_svg_verdict(const struct report *r, char **out, char *err)
{
    size_t K = report_arm_count(r);
    struct plot_bar *bars = calloc(K ? K : 1, sizeof *bars);
    if (!bars)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    for (size_t a = 0; a < K; a++) {
        const struct report_arm *x = report_arm_at(r, a);
        bars[a] = (struct plot_bar){x->name, x->pulls ? x->mean : NAN, x->pulls ? x->ci_low : NAN,
                                    x->pulls ? x->ci_high : NAN};
    }
    struct plot_frame f = {.title = "Mean reward per arm with its 95 % interval",
                           .x_label = "arm",
                           .y_label = "mean reward",
                           .width = PLOT_WIDTH,
                           .height = PLOT_HEIGHT};
    pb_status rc = plot_bars(&f, bars, K, out, err);
    free(bars);
    return rc;
}

pb_status report_svg_means(const struct report *r, char **out, char *err)
{
    size_t K = report_arm_count(r);
    struct plot_series *s = calloc(K ? K : 1, sizeof *s);
    if (!s)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    for (size_t a = 0; a < K; a++) {
        s[a].name = arm_name(r, a);
        s[a].n = report_running_mean(r, a, &s[a].x, &s[a].y);
    }
    struct plot_frame f = {.title = "Running mean reward per arm",
                           .x_label = "iteration",
                           .y_label = "mean reward so far",
                           .width = PLOT_WIDTH,
                           .height = PLOT_HEIGHT};
    pb_status rc = plot_lines(&f, s, K, out, err);
    free(s);
    return rc;
}

pb_status report_svg_rewards(const struct report *r, char **out, char *err)
{
    static const char *const levels[N_LEVELS] = {"-1", "-0.5", "0", "0.5", "1"};
    size_t K = report_arm_count(r);
    struct plot_dist *d = calloc(K ? K : 1, sizeof *d);
    if (!d)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    for (size_t a = 0; a < K; a++)
        d[a] = (struct plot_dist){arm_name(r, a), report_level_counts(r, a)};
    struct plot_frame f = {.title = "Reward levels per arm (share of the arm's rewards)",
                           .x_label = "reward",
                           .y_label = "share",
                           .width = PLOT_WIDTH,
                           .height = PLOT_HEIGHT};
    pb_status rc = plot_distribution(&f, levels, N_LEVELS, d, K, out, err);
    free(d);
    return rc;
}

pb_status report_write_dir(const struct report *r, const char *dir, char *err)
{
    static const char *const names[] = {"report.md", "report.json", "verdict.svg", "means.svg",
                                        "rewards.svg"};
    pb_status (*const render[])(const struct report *, char **, char *) = {
        report_markdown, report_json, report_svg_verdict, report_svg_means, report_svg_rewards};
    char path[4096];
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return pb_errf(err, PB_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
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
