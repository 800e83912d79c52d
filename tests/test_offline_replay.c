/* test_offline_replay.c — policy replay over logged events: the JSONL format (a table of good and
 * bad lines), the rejection-sampling estimate against the known truth of a uniformly logged
 * synthetic log, a good policy ranked above a bad one by replay and by IPS, and IPS only when
 * every event has a propensity. */
#include "check.h"
#include "offline/replay.h"

#include <gsl/gsl_rng.h>

/* A uniformly logged log over four Bernoulli arms (rewards +1/-1) with means p. */
static char *synthetic_log(size_t n, const double *p, int with_propensity, unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    size_t cap = n * 64 + 1, len = 0;
    char *text = malloc(cap);
    for (size_t t = 0; t < n; t++) {
        unsigned long a = gsl_rng_uniform_int(rng, 4);
        int r = gsl_rng_uniform(rng) < p[a] ? 1 : -1;
        len += (size_t)snprintf(text + len, cap - len,
                                with_propensity
                                    ? "{\"arm\":\"%c\",\"reward\":%d,\"propensity\":0.25}\n"
                                    : "{\"arm\":\"%c\",\"reward\":%d}\n",
                                (char)('A' + a), r);
    }
    gsl_rng_free(rng);
    return text;
}

static void test_good_policy_ranks_above_uniform_by_replay_and_ips(void)
{
    const double p[4] = {0.3, 0.3, 0.8, 0.3}; /* C is best: mean reward 0.6, others -0.4 */
    char *text = synthetic_log(8000, p, 1, 11), err[PB_ERR_LEN];
    struct replay_log log;
    struct replay_result good, bad;
    CHECK_INT(replay_parse_jsonl(text, strlen(text), "synthetic", &log, err), PB_OK);
    CHECK_INT(log.n, 8000);
    CHECK_INT(log.n_arms, 4);
    CHECK_INT(log.with_propensity, 8000);
    CHECK_INT(replay_run(&log, "ucb1", 1, &good, err), PB_OK);
    CHECK_INT(replay_run(&log, "egreedy:epsilon=1", 1, &bad, err), PB_OK); /* uniform */
    CHECK(good.mean > bad.mean + 0.4);
    CHECK(good.has_ips && bad.has_ips);
    CHECK(good.ips > bad.ips + 0.4);
    CHECK(good.snips > bad.snips + 0.4);
    /* Uniform logging and a uniform policy: replay, IPS and SNIPS all estimate the true
     * mean (0.6 - 3 * 0.4) / 4 = -0.15; about a quarter of the events are accepted. */
    CHECK_NEAR(bad.mean, -0.15, 0.1);
    CHECK_NEAR(bad.ips, -0.15, 0.06);
    CHECK_NEAR(bad.snips, -0.15, 0.06);
    CHECK_NEAR((double)bad.accepted / 8000, 0.25, 0.03);
    CHECK(good.ci_low < good.mean && good.mean < good.ci_high);
    replay_log_free(&log);
    free(text);
}

static void test_ips_needs_a_propensity_on_every_event(void)
{
    const double p[4] = {0.5, 0.5, 0.5, 0.5};
    char *text = synthetic_log(200, p, 0, 3), err[PB_ERR_LEN];
    struct replay_log log;
    struct replay_result r;
    CHECK_INT(replay_parse_jsonl(text, strlen(text), "plain", &log, err), PB_OK);
    CHECK_INT(replay_run(&log, "thompson", 2, &r, err), PB_OK);
    CHECK(!r.has_ips);
    CHECK(isnan(r.ips));
    CHECK(r.accepted > 0);
    CHECK_INT(replay_run(&log, "nonsense", 2, &r, err), PB_ERR_INVALID);
    replay_log_free(&log);
    free(text);
}

static void test_same_seed_same_replay(void)
{
    const double p[4] = {0.4, 0.6, 0.5, 0.2};
    char *text = synthetic_log(1000, p, 1, 5), err[PB_ERR_LEN];
    struct replay_log log;
    struct replay_result a, b;
    CHECK_INT(replay_parse_jsonl(text, strlen(text), "s", &log, err), PB_OK);
    CHECK_INT(replay_run(&log, "thompson", 9, &a, err), PB_OK);
    CHECK_INT(replay_run(&log, "thompson", 9, &b, err), PB_OK);
    CHECK_INT(a.accepted, b.accepted);
    CHECK_NEAR(a.mean, b.mean, 0);
    CHECK_NEAR(a.ips, b.ips, 0);
    replay_log_free(&log);
    free(text);
}

struct line_case {
    const char *text;
    int status; /* of replay_parse_jsonl */
    size_t events, skipped;
    const char *error; /* part of the message, when failing */
};

static void test_log_lines_table(void)
{
    static const struct line_case cases[] = {
        {"{\"arm\":\"A\",\"reward\":1}\n", PB_OK, 1, 0, NULL},
        {"{\"arm\":2,\"reward\":-0.5}\n\n", PB_OK, 1, 0, NULL},
        {"{\"arm\":\"A\",\"reward\":1,\"status\":\"ok\",\"output\":\"x\"}\n", PB_OK, 1, 0, NULL},
        {"{\"arm\":\"A\",\"reward\":1}\n{\"arm\":\"B\",\"status\":\"failed\"}\n", PB_OK, 1, 1,
         NULL},
        {"{\"arm\":\"A\",\"reward\":1}\n{\"arm\":\"B\",\"reward\":null}\n", PB_OK, 1, 1, NULL},
        {"{\"arm\":\"A\",\"reward\":1}\n{\"arm\":\"A\",\"status\":\"pending\",\"reward\":1}\n",
         PB_OK, 1, 1, NULL},
        {"{\"arm\":\"A\",\"reward\":2}\n", PB_ERR_INVALID, 0, 0, "line 1"},
        {"{\"arm\":\"A\",\"reward\":\"1\"}\n", PB_ERR_INVALID, 0, 0, "reward"},
        {"{\"arm\":\"A\",\"reward\":1}\n{\"reward\":1}\n", PB_ERR_INVALID, 0, 0, "line 2"},
        {"{\"arm\":\"A\",\"reward\":1,\"propensity\":0}\n", PB_ERR_INVALID, 0, 0, "propensity"},
        {"{\"arm\":\"A\",\"reward\":1,\"propensity\":1.5}\n", PB_ERR_INVALID, 0, 0, "propensity"},
        {"not json\n", PB_ERR_INVALID, 0, 0, "not JSON"},
        {"[1,2]\n", PB_ERR_INVALID, 0, 0, "object"},
        {"", PB_ERR_INVALID, 0, 0, "no events"},
        {"{\"arm\":\"A\",\"status\":\"failed\"}\n", PB_ERR_INVALID, 0, 0, "no events"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct line_case *c = &cases[i];
        struct replay_log log;
        char err[PB_ERR_LEN] = "";
        int rc = replay_parse_jsonl(c->text, strlen(c->text), "log", &log, err);
        if (rc != c->status)
            fprintf(stderr, "case %zu: %s\n", i, err);
        CHECK_INT(rc, c->status);
        if (rc == PB_OK) {
            CHECK_INT(log.n, c->events);
            CHECK_INT(log.skipped, c->skipped);
            replay_log_free(&log);
        } else if (c->error && !strstr(err, c->error)) {
            fprintf(stderr, "case %zu: message '%s' lacks '%s'\n", i, err, c->error);
            CHECK(0);
        }
    }
}

int main(void)
{
    RUN(test_log_lines_table);
    RUN(test_good_policy_ranks_above_uniform_by_replay_and_ips);
    RUN(test_ips_needs_a_propensity_on_every_event);
    RUN(test_same_seed_same_replay);
    CHECK_DONE();
}
