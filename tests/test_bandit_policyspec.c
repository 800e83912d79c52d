/* test_bandit_policyspec.c — policy specs as text: the parser's table of good and bad specs
 * with the word each error must contain, a failed parse leaving the output alone, the name and
 * the canonical text of every policy reading back to the same policy, and policyspec_check
 * refusing hand-built policies the parser would refuse. */
#include "check.h"
#include "bandit/policyspec.h"
#include "base/pb.h"

#include <math.h>

static const char *const all_names[] = {"ucb1",     "ucb1-tuned",    "egreedy", "egreedy-decay",
                                        "thompson", "thompson-beta", "softmax", "ducb",
                                        "swucb",    "ucb-chernoff"};
#define N_NAMES (sizeof all_names / sizeof all_names[0])

/* Each row: spec, expected status, a word the error must contain. */
static const struct {
    const char *spec;
    int status;
    const char *needle;
} spec_cases[] = {
    {"ucb1", PB_OK, NULL},
    {"egreedy:epsilon=0.25", PB_OK, NULL},
    {"egreedy-decay:c=0.15,d=0.1", PB_OK, NULL},
    {"swucb:window=500,xi=0.5", PB_OK, NULL},
    {"ducb:gamma=0.99", PB_OK, NULL},
    {"softmax:tau=0.05", PB_OK, NULL},
    {"thompson:sigma=0.5,draws=100", PB_OK, NULL},
    {"thompson-beta:burnin=20", PB_OK, NULL},
    {"thompson-beta:prior=1", PB_OK, NULL},
    {"thompson:prior=1,sigma=0.5", PB_OK, NULL},
    {"thompson-beta:prior=2", PB_ERR_INVALID, "outside"},
    {"ucb1:prior=1", PB_ERR_INVALID, "unknown parameter"},
    {"ucb-chernoff", PB_OK, NULL},
    {"ucb2", PB_ERR_INVALID, "unknown policy"},
    {"", PB_ERR_INVALID, "unknown policy"},
    {"ucb1:c=1", PB_ERR_INVALID, "unknown parameter"},
    {"egreedy:eps=0.1", PB_ERR_INVALID, "unknown parameter"},
    {"egreedy:epsilon=nan", PB_ERR_INVALID, "finite"},
    {"egreedy:epsilon=1.5", PB_ERR_INVALID, "outside"},
    {"egreedy:epsilon=", PB_ERR_INVALID, "needs a value"},
    {"egreedy:epsilon", PB_ERR_INVALID, "key=value"},
    {"egreedy:", PB_ERR_INVALID, "empty"},
    {"ducb:gamma=1", PB_ERR_INVALID, "outside"},
    {"swucb:window=2.5", PB_ERR_INVALID, "whole"},
    {"swucb:window=0", PB_ERR_INVALID, "outside"},
    {"softmax:tau=0", PB_ERR_INVALID, "outside"},
    {"softmax:tau=inf", PB_ERR_INVALID, "finite"},
};

static void test_policy_specs_table(void)
{
    for (size_t i = 0; i < sizeof spec_cases / sizeof spec_cases[0]; i++) {
        char err[PB_ERR_LEN] = "";
        bandit_policy p;
        pb_status rc = policyspec_parse(spec_cases[i].spec, &p, err);
        if (rc != spec_cases[i].status ||
            (spec_cases[i].needle && !strstr(err, spec_cases[i].needle)))
            fprintf(stderr, "spec case '%s': rc %d, err '%s'\n", spec_cases[i].spec, rc, err);
        CHECK_INT(rc, spec_cases[i].status);
        if (spec_cases[i].needle)
            CHECK(strstr(err, spec_cases[i].needle) != NULL);
    }
}

static void test_policy_format_round_trips(void)
{
    char err[PB_ERR_LEN], text[160];
    bandit_policy p, q;
    CHECK_INT(policyspec_parse("egreedy-decay:d=0.2,c=0.3", &p, err), PB_OK);
    policyspec_format(&p, text, sizeof text);
    CHECK_STR(text, "egreedy-decay:c=0.3,d=0.2");
    CHECK_INT(policyspec_parse(text, &q, err), PB_OK);
    CHECK_NEAR(q.c, 0.3, 0);
    CHECK_NEAR(q.d, 0.2, 0);
}

static void test_a_failed_parse_leaves_the_output_alone(void)
{
    char err[PB_ERR_LEN] = "";
    bandit_policy p = {.kind = BANDIT_SOFTMAX, .tau = 0.5, .burnin = 3};
    CHECK_INT(policyspec_parse("softmax:tau=0.2,burnin=-1", &p, err), PB_ERR_INVALID);
    CHECK_INT(p.kind, BANDIT_SOFTMAX);
    CHECK_NEAR(p.tau, 0.5, 0);
    CHECK_INT(p.burnin, 3);
}

static void test_every_name_parses_to_its_kind_and_back(void)
{
    char err[PB_ERR_LEN];
    for (size_t i = 0; i < N_NAMES; i++) {
        bandit_policy p;
        CHECK_INT(policyspec_parse(all_names[i], &p, err), PB_OK);
        CHECK_STR(policyspec_kind_name(p.kind), all_names[i]);
    }
    CHECK_STR(policyspec_kind_name((bandit_kind)99), "?");
}

static int same_policy(const bandit_policy *a, const bandit_policy *b)
{
    return a->kind == b->kind && a->epsilon == b->epsilon && a->c == b->c && a->d == b->d &&
           a->sigma == b->sigma && a->tau == b->tau && a->gamma == b->gamma && a->xi == b->xi &&
           a->window == b->window && a->draws == b->draws && a->burnin == b->burnin &&
           a->prior == b->prior;
}

static void test_canonical_text_of_every_policy_reads_back_the_same(void)
{
    char err[PB_ERR_LEN], spec[64], text[160];
    for (size_t i = 0; i < N_NAMES; i++) {
        bandit_policy p, q;
        snprintf(spec, sizeof spec, "%s:burnin=4", all_names[i]);
        CHECK_INT(policyspec_parse(spec, &p, err), PB_OK);
        policyspec_format(&p, text, sizeof text);
        CHECK_INT(policyspec_parse(text, &q, err), PB_OK);
        if (!same_policy(&p, &q))
            fprintf(stderr, "%s -> %s reads back differently\n", spec, text);
        CHECK(same_policy(&p, &q));
    }
}

static void test_format_names_only_the_parameters_a_policy_uses(void)
{
    char err[PB_ERR_LEN], text[160];
    bandit_policy p;
    CHECK_INT(policyspec_parse("ucb1", &p, err), PB_OK);
    policyspec_format(&p, text, sizeof text);
    CHECK_STR(text, "ucb1");
    CHECK_INT(policyspec_parse("thompson-beta:burnin=20", &p, err), PB_OK);
    policyspec_format(&p, text, sizeof text);
    CHECK_STR(text, "thompson-beta:draws=1000,burnin=20");
    /* prior=1 is printed and read back; the default 0 is left out, so old specs read the same */
    CHECK_INT(policyspec_parse("thompson-beta:prior=1", &p, err), PB_OK);
    policyspec_format(&p, text, sizeof text);
    CHECK_STR(text, "thompson-beta:draws=1000,prior=1");
    CHECK_INT(policyspec_parse("swucb:xi=0.5", &p, err), PB_OK);
    policyspec_format(&p, text, sizeof text);
    CHECK_STR(text, "swucb:xi=0.5,window=1000");
}

static void test_check_refuses_hand_built_policies_the_parser_would_refuse(void)
{
    char err[PB_ERR_LEN] = "";
    bandit_policy p;
    CHECK_INT(policyspec_parse("egreedy", &p, err), PB_OK);
    CHECK_INT(policyspec_check(&p, err), PB_OK);
    p.epsilon = NAN;
    CHECK_INT(policyspec_check(&p, err), PB_ERR_INVALID);
    CHECK(strstr(err, "epsilon") != NULL);
    CHECK_INT(policyspec_parse("ducb", &p, err), PB_OK);
    p.gamma = 1; /* the open upper bound */
    CHECK_INT(policyspec_check(&p, err), PB_ERR_INVALID);
    CHECK(strstr(err, "gamma") != NULL);
    CHECK_INT(policyspec_parse("ucb1", &p, err), PB_OK);
    p.burnin = -1; /* every policy's parameter */
    CHECK_INT(policyspec_check(&p, err), PB_ERR_INVALID);
    CHECK(strstr(err, "burnin") != NULL);
    p.burnin = 0;
    p.epsilon = NAN; /* a parameter ucb1 does not use is not checked */
    CHECK_INT(policyspec_check(&p, err), PB_OK);
    p.kind = (bandit_kind)99;
    CHECK_INT(policyspec_check(&p, err), PB_ERR_INVALID);
    CHECK(strstr(err, "unknown policy kind") != NULL);
}

int main(void)
{
    RUN(test_policy_specs_table);
    RUN(test_a_failed_parse_leaves_the_output_alone);
    RUN(test_every_name_parses_to_its_kind_and_back);
    RUN(test_policy_format_round_trips);
    RUN(test_canonical_text_of_every_policy_reads_back_the_same);
    RUN(test_format_names_only_the_parameters_a_policy_uses);
    RUN(test_check_refuses_hand_built_policies_the_parser_would_refuse);
    CHECK_DONE();
}
