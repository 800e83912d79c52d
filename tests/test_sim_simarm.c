/* test_sim_simarm.c — the simulated arms: the command-line and JSON arm specs as tables of good
 * and bad input with the word each error must contain, expected values of every arm kind
 * against sampling, Bernoulli KL and the Lai–Robbins constant by hand. */
#include "check.h"
#include "base/pb.h"
#include "sim/simarm.h"

#include <gsl/gsl_rng.h>

/* Each row: spec, expected status, expected arm count (when ok) or a word of the error. */
static const struct {
    const char *spec;
    int status;
    size_t arms;
    const char *needle;
} spec_cases[] = {
    {"bernoulli:0.9,0.8", PB_OK, 2, NULL},
    {"bernoulli:1,0", PB_OK, 2, NULL},
    {"gaussian:0.2/0.5,0.1/0.5,-1/0", PB_OK, 3, NULL},
    {"discrete:0/0.1/0.2/0.3/0.4,0.2/0.2/0.2/0.2/0.2", PB_OK, 2, NULL},
    {"bernoulli:", PB_ERR_INVALID, 0, "empty"},
    {"bernoulli", PB_ERR_INVALID, 0, "expected"},
    {"poisson:1", PB_ERR_INVALID, 0, "expected"},
    {"bernoulli:0.9,,0.8", PB_ERR_INVALID, 0, "arm 2"},
    {"bernoulli:nan", PB_ERR_INVALID, 0, "finite"},
    {"bernoulli:1.2", PB_ERR_INVALID, 0, "[0, 1]"},
    {"bernoulli:0.5x", PB_ERR_INVALID, 0, "arm 1"},
    {"gaussian:0.2", PB_ERR_INVALID, 0, "mean/sd"},
    {"gaussian:1.5/0.1", PB_ERR_INVALID, 0, "mean must be in"},
    {"gaussian:0.5/-1", PB_ERR_INVALID, 0, "sd must be in"},
    {"gaussian:0.5/0.1/3", PB_ERR_INVALID, 0, "mean/sd"},
    {"discrete:0.5/0.5/0/0/0.5", PB_ERR_INVALID, 0, "sum to"},
    {"discrete:0.5/0.5", PB_ERR_INVALID, 0, "p(-1)"},
};

static void test_arm_specs_table(void)
{
    for (size_t i = 0; i < sizeof spec_cases / sizeof spec_cases[0]; i++) {
        char err[PB_ERR_LEN] = "";
        sim_arm *arms = NULL;
        size_t n = 99;
        pb_status rc = sim_arms_parse(spec_cases[i].spec, &arms, &n, err);
        if (rc != spec_cases[i].status ||
            (spec_cases[i].needle && !strstr(err, spec_cases[i].needle)))
            fprintf(stderr, "case '%s': rc %d err '%s'\n", spec_cases[i].spec, rc, err);
        CHECK_INT(rc, spec_cases[i].status);
        if (rc == PB_OK)
            CHECK_INT(n, spec_cases[i].arms);
        else
            CHECK(strstr(err, spec_cases[i].needle) != NULL);
        free(arms);
    }
}

static const struct {
    const char *json;
    int status;
    const char *needle;
} json_cases[] = {
    {"{\"arms\":[{\"kind\":\"bernoulli\",\"p\":0.9},{\"kind\":\"bernoulli\",\"p\":0.8}]}", PB_OK,
     NULL},
    {"[{\"kind\":\"gaussian\",\"mean\":0.2,\"sd\":0.5},"
     "{\"kind\":\"discrete\",\"probs\":[0,0,0.5,0.5,0]}]",
     PB_OK, NULL},
    {"{\"arms\":[", PB_ERR_INVALID, "line 1"},
    {"{\"arms\":[]}", PB_ERR_INVALID, "empty"},
    {"{\"bandits\":[]}", PB_ERR_INVALID, "expected"},
    {"[{\"kind\":\"bernoulli\"}]", PB_ERR_INVALID, "\"p\""},
    {"[{\"kind\":\"bernoulli\",\"p\":\"0.5\"}]", PB_ERR_INVALID, "\"p\""},
    {"[{\"kind\":\"bernoulli\",\"p\":0.5,\"q\":1}]", PB_ERR_INVALID, "unexpected"},
    {"[{\"kind\":\"coin\",\"p\":0.5}]", PB_ERR_INVALID, "kind"},
    {"[{\"kind\":\"discrete\",\"probs\":[1,0]}]", PB_ERR_INVALID, "5 numbers"},
    {"[{\"kind\":\"bernoulli\",\"p\":0.5},{\"kind\":\"gaussian\",\"mean\":0,\"sd\":1}]",
     PB_ERR_INVALID, "mixed"},
};

static void test_arm_json_table(void)
{
    for (size_t i = 0; i < sizeof json_cases / sizeof json_cases[0]; i++) {
        char err[PB_ERR_LEN] = "";
        sim_arm *arms = NULL;
        size_t n;
        pb_status rc = sim_arms_from_json(json_cases[i].json, &arms, &n, err);
        if (rc != json_cases[i].status ||
            (json_cases[i].needle && !strstr(err, json_cases[i].needle)))
            fprintf(stderr, "json case %zu: rc %d err '%s'\n", i, rc, err);
        CHECK_INT(rc, json_cases[i].status);
        if (json_cases[i].needle)
            CHECK(strstr(err, json_cases[i].needle) != NULL);
        free(arms);
    }
}

static void test_arm_expected_values_match_sampling(void)
{
    const sim_arm arms[] = {
        {.kind = SIM_GAUSSIAN, .mean = 0.8, .sd = 0.5},
        {.kind = SIM_GAUSSIAN, .mean = 0, .sd = 2},
        {.kind = SIM_DISCRETE, .probs = {0.1, 0.2, 0.3, 0.2, 0.2}},
        {.kind = SIM_BERNOULLI, .p = 0.3},
    };
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    for (size_t i = 0; i < 4; i++) {
        double sum = 0;
        int in_range = 1;
        for (int k = 0; k < 400000; k++) {
            double r = sim_arm_draw(&arms[i], rng);
            in_range &= r >= -1 && r <= 1;
            sum += arms[i].kind == SIM_BERNOULLI ? (r + 1) / 2 : r;
        }
        CHECK(in_range);
        CHECK_NEAR(sum / 400000, sim_arm_mean(&arms[i]), 0.005);
    }
    CHECK_NEAR(sim_arm_mean(&arms[1]), 0, 1e-12);
    CHECK_NEAR(sim_arm_mean(&arms[2]), 0.1 * -1 + 0.2 * -0.5 + 0.2 * 0.5 + 0.2, 1e-12);
    CHECK(sim_arm_mean(&arms[0]) < 0.8); /* clipping at 1 pulls the mean down */
    gsl_rng_free(rng);
}

/* kl(0.8, 0.9) = 0.8 ln(8/9) + 0.2 ln 2 = 0.0444032; C = 0.1 / kl = 2.2521. */
static void test_kl_and_lai_robbins_constant(void)
{
    char err[PB_ERR_LEN];
    CHECK_NEAR(sim_arm_kl_bernoulli(0.8, 0.9), 0.0444032, 1e-6);
    CHECK_NEAR(sim_arm_kl_bernoulli(0.5, 0.5), 0, 1e-15);
    CHECK(isinf(sim_arm_kl_bernoulli(0.5, 1)));
    sim_arm arms[2] = {{.kind = SIM_BERNOULLI, .p = 0.9}, {.kind = SIM_BERNOULLI, .p = 0.8}};
    double c;
    CHECK_INT(sim_arms_lai_robbins(arms, 2, &c, err), PB_OK);
    CHECK_NEAR(c, 2.2521, 1e-3);
    arms[1] = (sim_arm){.kind = SIM_GAUSSIAN, .mean = 0, .sd = 1};
    CHECK_INT(sim_arms_lai_robbins(arms, 2, &c, err), PB_ERR_INVALID);
}

int main(void)
{
    RUN(test_arm_specs_table);
    RUN(test_arm_json_table);
    RUN(test_arm_expected_values_match_sampling);
    RUN(test_kl_and_lai_robbins_constant);
    CHECK_DONE();
}
