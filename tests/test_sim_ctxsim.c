/* test_sim_ctxsim.c — contextual simulation and offline evaluation: world specs, segmented and
 * LinUCB policies beating every context-free policy in an emotion-dependent world, same seed
 * same regret, IPS/SNIPS/DR estimates near the known truth on generated logs (uniform and
 * epsilon-greedy logging), and clear errors for bad logs and unknown policies. */
#include "check.h"
#include "bandit/contextual.h"
#include "sim/ctxeval.h"
#include "sim/ctxsim.h"
#include "base/pb.h"

#include <gsl/gsl_rng.h>

static const struct {
    const char *spec;
    int status;
    const char *needle; /* a word of the error, or the expected "SxA dim" when ok */
} world_cases[] = {
    {"contextual:emotion4", PB_OK, "4x4 8"},
    {"contextual:emotion4,noise=0,features=groups", PB_OK, "4x4 5"},
    {"contextual:means=0.5/0.1|0.1/0.5,reward=bernoulli", PB_OK, "2x2 6"},
    {"contextual:means=0.5/0.1|0.1/0.5,freq=3/1,reward=gaussian,sd=0.3", PB_OK, "2x2 6"},
    {"emotion4", PB_ERR_INVALID, "expected contextual:"},
    {"contextual:emotion5", PB_ERR_INVALID, "emotion4 or means"},
    {"contextual:means=0.5/0.1|0.1", PB_ERR_INVALID, "segment 2 has 1"},
    {"contextual:means=1.5/0.1", PB_ERR_INVALID, "[-1, 1]"},
    {"contextual:means=0.5/x", PB_ERR_INVALID, "numbers split"},
    {"contextual:emotion4,noise=1", PB_ERR_INVALID, "noise"},
    {"contextual:emotion4,freq=1/1", PB_ERR_INVALID, "freq needs 4"},
    {"contextual:emotion4,freq=0/0/0/0", PB_ERR_INVALID, "sum to 0"},
    {"contextual:emotion4,reward=poisson", PB_ERR_INVALID, "reward must be"},
    {"contextual:emotion4,colour=red", PB_ERR_INVALID, "bad item"},
};

static void test_world_specs_table(void)
{
    for (size_t i = 0; i < sizeof world_cases / sizeof world_cases[0]; i++) {
        char err[PB_ERR_LEN] = "", got[32];
        ctxworld w;
        int rc = ctxworld_parse(world_cases[i].spec, &w, err);
        if (rc == PB_OK)
            snprintf(got, sizeof got, "%zux%zu %zu", w.n_segments, w.n_arms, ctxworld_dim(&w));
        const char *text = rc == PB_OK ? got : err;
        if (rc != world_cases[i].status || !strstr(text, world_cases[i].needle))
            fprintf(stderr, "case '%s': rc %d '%s'\n", world_cases[i].spec, rc, text);
        CHECK_INT(rc, world_cases[i].status);
        CHECK(strstr(text, world_cases[i].needle) != NULL);
    }
}

static void test_world_values_and_frequencies(void)
{
    char err[PB_ERR_LEN];
    ctxworld w;
    CHECK_INT(ctxworld_parse("contextual:emotion4", &w, err), PB_OK);
    CHECK_NEAR(ctxworld_oracle_value(&w), 0.5025, 1e-12);
    CHECK_INT(ctxworld_best_fixed_arm(&w), 1); /* B, 0.30 everywhere */
    CHECK_NEAR(ctxsim_fixed_arm_regret(&w, 1000), 202.5, 1e-9);
    /* gaussian rewards: the clipped mean equals the stated mean */
    CHECK_INT(ctxworld_parse("contextual:means=0.9/-0.2,reward=gaussian,sd=0.8", &w, err), PB_OK);
    CHECK_NEAR(ctxworld_expected(&w, 0, 0), 0.9, 1e-9);
    /* drawn contexts follow the frequencies, and rewards average to the means */
    CHECK_INT(ctxworld_parse("contextual:emotion4,noise=0.3", &w, err), PB_OK);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    long count[4] = {0}, n = 200000, agree = 0;
    double sum = 0;
    for (long i = 0; i < n; i++) {
        ctxworld_context c;
        ctxworld_draw_context(&w, rng, &c);
        count[c.segment]++;
        agree += c.observed == c.segment;
        sum += ctxworld_draw_reward(&w, 1, 2, rng);
    }
    CHECK_NEAR((double)count[0] / (double)n, 0.35, 0.005);
    CHECK_NEAR((double)count[2] / (double)n, 0.15, 0.005);
    CHECK_INT(agree, n); /* noise below 0.5 never changes the top group */
    CHECK_NEAR(sum / (double)n, 0.6, 0.005);
    gsl_rng_free(rng);
}

static ctxsim_result *simulate(const char *world, const char *policies, long horizon, long reps,
                               uint64_t seed, ctxworld *w)
{
    char err[PB_ERR_LEN];
    ctxpolicy_spec specs[8];
    size_t n = 0;
    ctxsim_result *r = NULL;
    sim_options opt = {.horizon = horizon, .reps = reps, .seed = seed};
    if (ctxworld_parse(world, w, err) != PB_OK ||
        ctxpolicy_parse_list(policies, specs, 8, &n, err) != PB_OK ||
        ctxsim_run(w, specs, n, &opt, NULL, NULL, &r, err) != PB_OK) {
        fprintf(stderr, "simulate: %s\n", err);
        exit(1);
    }
    return r;
}

static double regret_of(const ctxsim_result *r, size_t p)
{
    sim_summary s;
    ctxsim_summarize(r, p, r->n_checkpoints - 1, &s, NULL);
    return s.mean;
}

/* Over 4000 rounds the context-free policies pay about the fixed-arm oracle's 810; the
 * segmented and LinUCB policies measured about 160 and 85 (seed 3). Required: below half. */
static void test_segmented_and_linucb_beat_the_best_context_free_policy(void)
{
    ctxworld w;
    ctxsim_result *r = simulate("contextual:emotion4",
                                "ucb1-tuned,thompson,segmented:ucb1-tuned,linucb", 4000, 6, 3, &w);
    size_t bg = ctxsim_best_global(r);
    CHECK(bg == 0 || bg == 1);
    double base = regret_of(r, bg);
    CHECK(base > 0.8 * ctxsim_fixed_arm_regret(&w, 4000));
    CHECK(regret_of(r, 2) < 0.5 * base);
    CHECK(regret_of(r, 3) < 0.5 * base);
    CHECK(ctxsim_late_optimal(r, 3) > 0.8);
    CHECK(ctxsim_late_optimal(r, bg) < 0.3);
    ctxsim_result_free(r);
}

static void test_same_seed_same_regret_other_seed_other(void)
{
    ctxworld w;
    const char *pols = "thompson,segmented:ucb1,lints:draws=10";
    ctxsim_result *a = simulate("contextual:emotion4", pols, 500, 3, 9, &w);
    ctxsim_result *b = simulate("contextual:emotion4", pols, 500, 3, 9, &w);
    ctxsim_result *c = simulate("contextual:emotion4", pols, 500, 3, 10, &w);
    int same = 1, differ = 0;
    for (size_t p = 0; p < 3; p++)
        for (long i = 0; i < 3; i++) {
            same &= a->policies[p].regret[i] == b->policies[p].regret[i];
            differ |= a->policies[p].regret[i] != c->policies[p].regret[i];
        }
    CHECK(same);
    CHECK(differ);
    ctxsim_result_free(a);
    ctxsim_result_free(b);
    ctxsim_result_free(c);
}

/* Writes a generated log to a temporary file and loads it back. */
static void generated_log(const ctxworld *w, double epsilon, size_t greedy, long events,
                          struct ctxeval_log *log, double *logging_value)
{
    char err[PB_ERR_LEN], path[300];
    snprintf(path, sizeof path, "%s/events.jsonl", check_tmpdir());
    FILE *f = fopen(path, "w");
    ctxeval_gen_options o = {.events = events, .seed = 5, .epsilon = epsilon, .greedy_arm = greedy};
    CHECK_INT(ctxeval_generate(w, &o, f, logging_value, err), PB_OK);
    fclose(f);
    if (ctxeval_load_jsonl(path, 0, log, err) != PB_OK) {
        fprintf(stderr, "load: %s\n", err);
        exit(1);
    }
    remove(path);
}

static struct ctxeval_result evaluate(const struct ctxeval_log *log, const char *spec)
{
    char err[PB_ERR_LEN];
    ctxpolicy_spec p;
    struct ctxeval_result r;
    if (ctxpolicy_parse(spec, &p, err) != PB_OK || ctxeval_run(log, &p, 1, &r, err) != PB_OK) {
        fprintf(stderr, "%s: %s\n", spec, err);
        exit(1);
    }
    return r;
}

/* The true value of a fixed arm is known; each estimate must land within 0.03 of it and
 * within four standard errors (20,000 events, fixed seeds). */
static void test_ips_estimates_match_the_true_value(void)
{
    char err[PB_ERR_LEN];
    ctxworld w;
    CHECK_INT(ctxworld_parse("contextual:emotion4", &w, err), PB_OK);
    const double eps[] = {1, 0.3}; /* uniform, then epsilon-greedy around B */
    for (int k = 0; k < 2; k++) {
        struct ctxeval_log log;
        double logging;
        generated_log(&w, eps[k], 1, 20000, &log, &logging);
        CHECK_INT(log.dim, 8);
        CHECK_INT(log.n_segments, 4);
        for (size_t a = 0; a < w.n_arms; a++) {
            char spec[64];
            snprintf(spec, sizeof spec, "fixed:%s", w.arm_name[a]);
            struct ctxeval_result r = evaluate(&log, spec);
            double truth = ctxworld_arm_value(&w, a);
            if (fabs(r.ips - truth) > 0.03 || fabs(r.snips - truth) > 0.03)
                fprintf(stderr, "eps %g %s: ips %g snips %g dr %g truth %g\n", eps[k], spec, r.ips,
                        r.snips, r.dr, truth);
            CHECK_NEAR(r.ips, truth, fmin(0.03, 4 * r.ips_se));
            CHECK_NEAR(r.snips, truth, 0.03);
            CHECK_NEAR(r.dr, truth, 0.03);
        }
        /* the logging policy itself: weight 1 on every event, so IPS is the sample mean */
        double mean = 0;
        for (size_t t = 0; t < log.n; t++)
            mean += log.reward[t] / (double)log.n;
        CHECK_NEAR(mean, logging, 0.03);
        ctxeval_log_free(&log);
    }
}

/* On a uniform log the replay of LinUCB (a learning policy) should approach the oracle, and
 * the segmented policy's IPS should sit far above the best fixed arm's value. */
static void test_contextual_policies_evaluate_above_the_best_fixed_arm(void)
{
    char err[PB_ERR_LEN];
    ctxworld w;
    CHECK_INT(ctxworld_parse("contextual:emotion4", &w, err), PB_OK);
    struct ctxeval_log log;
    double logging;
    generated_log(&w, 1, 0, 20000, &log, &logging);
    struct ctxeval_result lin = evaluate(&log, "linucb"), seg = evaluate(&log, "segmented:ucb1");
    double fixed = ctxworld_arm_value(&w, ctxworld_best_fixed_arm(&w));
    CHECK(lin.replay > fixed + 0.1 && lin.replay <= ctxworld_oracle_value(&w) + 0.03);
    CHECK(seg.snips > fixed + 0.1);
    /* uniform logging: SNIPS is the replay mean, up to how ties were broken */
    CHECK_NEAR(lin.snips, lin.replay, 0.01);
    CHECK(lin.accepted > 4000 && lin.accepted < 6000);
    ctxeval_log_free(&log);
}

static const struct {
    const char *jsonl;
    const char *needle;
} bad_logs[] = {
    {"{\"features\":[1,0],\"arm\":\"A\",\"reward\":1,\"propensity\":0.5}\n"
     "{\"features\":[1,0,0],\"arm\":\"A\",\"reward\":1,\"propensity\":0.5}\n",
     "line 2: 3 features, expected 2"},
    {"{\"features\":[1,0],\"arm\":\"A\",\"reward\":1,\"propensity\":0}\n", "propensity"},
    {"{\"features\":[1,0],\"arm\":\"A\",\"reward\":1,\"propensity\":-0.5}\n", "(0, 1]"},
    {"{\"features\":[1,0],\"arm\":\"A\",\"reward\":1}\n", "propensity"},
    {"{\"features\":[1,0],\"arm\":\"A\",\"reward\":2,\"propensity\":1}\n", "reward"},
    {"{\"features\":[],\"arm\":\"A\",\"reward\":1,\"propensity\":1}\n", "features"},
    {"{\"features\":[1,\"x\"],\"arm\":\"A\",\"reward\":1,\"propensity\":1}\n", "feature 2"},
    {"{\"features\":[1],\"reward\":1,\"propensity\":1}\n", "\"arm\""},
    {"not json\n", "line 1: not JSON"},
    {"\n\n", "no events"},
};

static void test_bad_logs_table(void)
{
    for (size_t i = 0; i < sizeof bad_logs / sizeof bad_logs[0]; i++) {
        char err[PB_ERR_LEN] = "";
        struct ctxeval_log log;
        int rc =
            ctxeval_parse_jsonl(bad_logs[i].jsonl, strlen(bad_logs[i].jsonl), "log", 0, &log, err);
        if (rc != PB_ERR_INVALID || !strstr(err, bad_logs[i].needle))
            fprintf(stderr, "bad log %zu: rc %d '%s'\n", i, rc, err);
        CHECK_INT(rc, PB_ERR_INVALID);
        CHECK(strstr(err, bad_logs[i].needle) != NULL);
    }
    /* a required dimension is enforced from the first line */
    char err[PB_ERR_LEN];
    struct ctxeval_log log;
    const char *one = "{\"features\":[1,0],\"arm\":\"A\",\"reward\":1,\"propensity\":1}\n";
    CHECK_INT(ctxeval_parse_jsonl(one, strlen(one), "log", 3, &log, err), PB_ERR_INVALID);
    CHECK(strstr(err, "expected 3") != NULL);
}

static void test_unknown_policies_and_missing_segments_are_refused(void)
{
    char err[PB_ERR_LEN];
    ctxpolicy_spec p;
    CHECK_INT(ctxpolicy_parse("ucb9", &p, err), PB_ERR_INVALID);
    CHECK(strstr(err, "unknown policy 'ucb9'") && strstr(err, "linucb"));
    CHECK_INT(ctxpolicy_parse("segmented:nope", &p, err), PB_ERR_INVALID);
    CHECK_INT(ctxpolicy_parse("segmented:ucb1,min_pulls=-1", &p, err), PB_ERR_INVALID);
    CHECK_INT(ctxpolicy_parse("linucb:beta=1", &p, err), PB_ERR_INVALID);
    CHECK_INT(ctxpolicy_parse("segmented:egreedy:epsilon=0.2,min_pulls=7", &p, err), PB_OK);
    CHECK_INT(p.min_pulls, 7);
    CHECK_NEAR(p.bandit.epsilon, 0.2, 1e-12);
    size_t n = 0;
    ctxpolicy_spec list[4];
    CHECK_INT(ctxpolicy_parse_list("linucb:alpha=0.5,burnin=3,ucb1,fixed:B", list, 4, &n, err),
              PB_OK);
    CHECK_INT(n, 3);
    CHECK_INT(list[0].linear.burnin, 3);
    /* fixed: an arm the log does not have */
    struct ctxeval_log log;
    struct ctxeval_result r;
    const char *one = "{\"features\":[1,0],\"arm\":\"A\",\"reward\":1,\"propensity\":1}\n";
    CHECK_INT(ctxeval_parse_jsonl(one, strlen(one), "log", 0, &log, err), PB_OK);
    CHECK_INT(ctxpolicy_parse("fixed:Z", &p, err), PB_OK);
    CHECK_INT(ctxeval_run(&log, &p, 1, &r, err), PB_ERR_INVALID);
    CHECK(strstr(err, "no such arm") != NULL);
    CHECK_INT(ctxpolicy_parse("segmented:ucb1", &p, err), PB_OK);
    CHECK_INT(ctxeval_run(&log, &p, 1, &r, err), PB_ERR_INVALID);
    CHECK(strstr(err, "\"segment\"") != NULL);
    ctxeval_log_free(&log);
}

/* Choice probabilities of LinUCB and LinTS sum to 1 and favour the learnt arm. */
static void test_contextual_choice_probabilities_sum_to_one(void)
{
    char err[PB_ERR_LEN];
    const char *specs[] = {"linucb", "lints:draws=200"};
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    for (int k = 0; k < 2; k++) {
        contextual_policy pol;
        contextual *c = NULL;
        CHECK_INT(contextual_policy_parse(specs[k], &pol, err), PB_OK);
        CHECK_INT(contextual_new(&pol, 3, 2, &c, err), PB_OK);
        const double x[2] = {1, 0.5};
        double p[3], sum = 0;
        CHECK_INT(contextual_choice_probabilities(c, x, rng, 200, p, err), PB_OK);
        CHECK_NEAR(p[0], 1.0 / 3, 1e-12); /* burn-in: uniform */
        for (int i = 0; i < 60; i++)
            contextual_observe(c, (size_t)(i % 3), x, i % 3 == 1 ? 1 : -1, err);
        CHECK_INT(contextual_choice_probabilities(c, x, rng, 200, p, err), PB_OK);
        for (int i = 0; i < 3; i++)
            sum += p[i];
        CHECK_NEAR(sum, 1, 1e-9);
        CHECK(p[1] > 0.9);
        contextual_free(c);
    }
    gsl_rng_free(rng);
}

int main(void)
{
    RUN(test_world_specs_table);
    RUN(test_world_values_and_frequencies);
    RUN(test_segmented_and_linucb_beat_the_best_context_free_policy);
    RUN(test_same_seed_same_regret_other_seed_other);
    RUN(test_ips_estimates_match_the_true_value);
    RUN(test_contextual_policies_evaluate_above_the_best_fixed_arm);
    RUN(test_bad_logs_table);
    RUN(test_unknown_policies_and_missing_segments_are_refused);
    RUN(test_contextual_choice_probabilities_sum_to_one);
    CHECK_DONE();
}
