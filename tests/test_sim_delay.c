/* test_sim_delay.c — delayed feedback and arm churn in the simulator: delay 1 is the plain
 * simulator to the bit, a policy that never sees a reward plays like uniform choice, a delay
 * costs UCB more than Thompson (Chapelle & Li 2011), churn replaces arms so that regret keeps
 * growing, common random numbers still hold, a replacement the policy learns of only at the
 * next delivery costs more, and the options are checked. */
#include "check.h"
#include "bandit/policyspec.h"
#include "base/pb.h"
#include "sim/sim.h"
#include "sim/simarm.h"

#include <math.h>

static sim_result *run_with(const char *arms_spec, const char *const *specs, size_t n_pol,
                            const sim_options *opt)
{
    char err[PB_ERR_LEN];
    sim_arm *arms = NULL;
    size_t n_arms;
    bandit_policy pol[8];
    sim_result *r = NULL;
    for (size_t i = 0; i < n_pol; i++)
        CHECK_INT(policyspec_parse(specs[i], &pol[i], err), PB_OK);
    if (sim_arms_parse(arms_spec, &arms, &n_arms, err) != PB_OK ||
        sim_run(arms, n_arms, pol, n_pol, opt, NULL, NULL, &r, err) != PB_OK)
        fprintf(stderr, "run: %s\n", err);
    free(arms);
    return r;
}

static double mean_regret(const sim_result *r, size_t p)
{
    sim_summary s;
    sim_summarize(r, p, r->n_checkpoints - 1, &s, NULL);
    return s.mean;
}

static void test_delay_one_is_the_plain_simulator(void)
{
    const char *pols[] = {"ucb1", "thompson-beta", "egreedy"};
    sim_options plain = {.horizon = 3000, .reps = 4, .seed = 9};
    sim_options one = plain;
    one.delay = 1;
    sim_result *a = run_with("bernoulli:0.6,0.5,0.4", pols, 3, &plain);
    sim_result *b = run_with("bernoulli:0.6,0.5,0.4", pols, 3, &one);
    CHECK(a && b);
    for (size_t p = 0; a && b && p < 3; p++)
        CHECK(memcmp(a->policies[p].regret, b->policies[p].regret, 4 * sizeof(double)) == 0);
    sim_result_free(a);
    sim_result_free(b);
}

/* With a delay as long as the run, Thompson (prior=1) never sees a reward: its choices are
 * uniform, so regret is T times the mean gap (0.1 here) up to noise. Delivered every 100 plays
 * it learns and does far better. */
static void test_rewards_arrive_only_in_batches(void)
{
    const char *pols[] = {"thompson-beta:prior=1"};
    sim_options never = {.horizon = 6000, .reps = 4, .seed = 2, .delay = 6001};
    sim_options batched = never;
    batched.delay = 100;
    sim_result *a = run_with("bernoulli:0.6,0.5,0.4", pols, 1, &never);
    sim_result *b = run_with("bernoulli:0.6,0.5,0.4", pols, 1, &batched);
    CHECK(a && b);
    if (a && b) {
        fprintf(stderr, "never delivered %.1f, every 100 plays %.1f\n", mean_regret(a, 0),
                mean_regret(b, 0));
        CHECK_NEAR(mean_regret(a, 0), 600, 60);
        CHECK(mean_regret(b, 0) < 0.5 * mean_regret(a, 0));
    }
    sim_result_free(a);
    sim_result_free(b);
}

/* UCB is deterministic between batches: a delay of 300 raises its regret much more than
 * Thompson's, whose randomisation spreads each batch over the plausible arms. */
static void test_delay_hurts_ucb_more_than_thompson(void)
{
    const char *pols[] = {"ucb-chernoff", "thompson-beta:prior=1"};
    sim_options now = {.horizon = 20000, .reps = 4, .seed = 3};
    sim_options late = now;
    late.delay = 300;
    sim_result *a = run_with("bernoulli:0.5,0.45,0.4,0.35,0.3", pols, 2, &now);
    sim_result *b = run_with("bernoulli:0.5,0.45,0.4,0.35,0.3", pols, 2, &late);
    CHECK(a && b);
    if (a && b) {
        double ucb = mean_regret(b, 0) - mean_regret(a, 0);
        double ts = mean_regret(b, 1) - mean_regret(a, 1);
        fprintf(stderr, "cost of delay 300: ucb-chernoff %+.1f, thompson %+.1f\n", ucb, ts);
        CHECK(ucb > 0);
        CHECK(ucb > 2 * ts);
    }
    sim_result_free(a);
    sim_result_free(b);
}

/* Churn with arms drawn from Beta(4,4): regret grows with the churn rate (each new arm must be
 * learnt), Thompson beats the Chernoff UCB as in Chapelle & Li, and the same seed gives the
 * same numbers (churn events and new means are common to all policies). */
static void test_churn_replaces_arms(void)
{
    const char *pols[] = {"thompson-beta:prior=1", "ucb-chernoff", "thompson-beta:prior=1"};
    sim_options calm = {
        .horizon = 20000, .reps = 4, .seed = 4, .prior_a = 4, .prior_b = 4, .arms_from_prior = 1};
    sim_options busy = calm;
    busy.churn = 0.01;
    sim_result *a = run_with("bernoulli:0.5,0.5,0.5,0.5,0.5", pols, 3, &calm);
    sim_result *b = run_with("bernoulli:0.5,0.5,0.5,0.5,0.5", pols, 3, &busy);
    sim_result *c = run_with("bernoulli:0.5,0.5,0.5,0.5,0.5", pols, 3, &busy);
    CHECK(a && b && c);
    if (a && b && c) {
        fprintf(stderr, "thompson regret: no churn %.1f, churn 0.01 %.1f; ucb-chernoff %.1f\n",
                mean_regret(a, 0), mean_regret(b, 0), mean_regret(b, 1));
        CHECK(mean_regret(b, 0) > 2 * mean_regret(a, 0));
        CHECK(mean_regret(b, 0) < mean_regret(b, 1));
        CHECK(memcmp(b->policies[0].regret, c->policies[0].regret, 4 * sizeof(double)) == 0);
        CHECK(memcmp(b->policies[0].regret, b->policies[2].regret, 4 * sizeof(double)) == 0);
    }
    sim_result_free(a);
    sim_result_free(b);
    sim_result_free(c);
}

/* When the policy learns of a replacement only with the next batch, it keeps playing a slot on
 * its old arm's record for up to a whole delay: more regret than being told at once. */
static void test_churn_seen_at_delivery_costs_more(void)
{
    const char *pols[] = {"thompson-beta:prior=1"};
    sim_options now = {.horizon = 30000,
                       .reps = 6,
                       .seed = 8,
                       .delay = 1000,
                       .churn = 0.002,
                       .prior_a = 4,
                       .prior_b = 4,
                       .arms_from_prior = 1};
    sim_options later = now;
    later.churn_seen_at_delivery = 1;
    sim_result *a = run_with("bernoulli:0.5,0.5,0.5,0.5,0.5", pols, 1, &now);
    sim_result *b = run_with("bernoulli:0.5,0.5,0.5,0.5,0.5", pols, 1, &later);
    CHECK(a && b);
    if (a && b) {
        fprintf(stderr, "churn seen now %.1f, at delivery %.1f\n", mean_regret(a, 0),
                mean_regret(b, 0));
        CHECK(mean_regret(b, 0) > 1.1 * mean_regret(a, 0));
    }
    sim_result_free(a);
    sim_result_free(b);
}

static void test_dynamic_options_are_checked(void)
{
    char err[PB_ERR_LEN];
    sim_arm *arms;
    size_t n;
    bandit_policy ducb, ucb;
    sim_result *r = NULL;
    policyspec_parse("ducb", &ducb, err);
    policyspec_parse("ucb1", &ucb, err);
    sim_options o = {.horizon = 100, .reps = 1, .churn = 0.1, .prior_a = 1, .prior_b = 1};
    CHECK_INT(sim_arms_parse("bernoulli:0.5,0.4", &arms, &n, err), PB_OK);
    CHECK_INT(sim_run(arms, n, &ducb, 1, &o, NULL, NULL, &r, err), PB_ERR_INVALID);
    CHECK(strstr(err, "ducb") != NULL);
    o.churn = 1.5;
    CHECK_INT(sim_options_check(&o, 1, err), PB_ERR_INVALID);
    o.churn = 0.1;
    o.prior_a = 0;
    CHECK_INT(sim_options_check(&o, 1, err), PB_ERR_INVALID);
    CHECK(strstr(err, "prior") != NULL);
    o.prior_a = 1;
    o.delay = -1;
    CHECK_INT(sim_options_check(&o, 1, err), PB_ERR_INVALID);
    free(arms);
    o.delay = 1;
    CHECK_INT(sim_arms_parse("gaussian:0.2/0.5,0.1/0.5", &arms, &n, err), PB_OK);
    CHECK_INT(sim_run(arms, n, &ucb, 1, &o, NULL, NULL, &r, err), PB_ERR_INVALID);
    CHECK(strstr(err, "bernoulli") != NULL);
    CHECK(r == NULL);
    free(arms);
}

int main(void)
{
    RUN(test_delay_one_is_the_plain_simulator);
    RUN(test_rewards_arrive_only_in_batches);
    RUN(test_delay_hurts_ucb_more_than_thompson);
    RUN(test_churn_replaces_arms);
    RUN(test_churn_seen_at_delivery_costs_more);
    RUN(test_dynamic_options_are_checked);
    CHECK_DONE();
}
