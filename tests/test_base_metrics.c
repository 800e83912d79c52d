/* test_base_metrics.c — the registry and the exact Prometheus text it renders: HELP/TYPE lines,
 * escaped label values, cumulative histogram buckets with _sum and _count, registration rules
 * and concurrent updates. */
#include "check.h"
#include "base/metrics.h"
#include "base/pb.h"

#include <pthread.h>

static char *render(metrics *m)
{
    char err[PB_ERR_LEN], *text = NULL;
    size_t len = 0;
    CHECK_INT(metrics_render(m, &text, &len, err), PB_OK);
    CHECK_INT(len, strlen(text));
    return text;
}

static void test_counter_and_gauge_text_is_exact(void)
{
    char err[PB_ERR_LEN];
    metrics *m = metrics_new();
    metrics_family *calls, *depth;
    const char *labels[] = {"model", "outcome"};
    CHECK_INT(metrics_counter(m, "pb_llm_calls_total", "LLM calls", labels, 2, &calls, err), PB_OK);
    CHECK_INT(metrics_gauge(m, "pb_queue_depth", "queued jobs", NULL, 0, &depth, err), PB_OK);
    metrics_add(calls, (const char *[]){"gpt-4o-mini", "ok"}, 1);
    metrics_add(calls, (const char *[]){"gpt-4o-mini", "ok"}, 2);
    metrics_add(calls, (const char *[]){"gpt-4o-mini", "error"}, 1);
    metrics_add(calls, (const char *[]){"gpt-4o-mini", "ok"}, -5); /* counters never go down */
    metrics_set(depth, NULL, 7);
    metrics_add(depth, NULL, -2.5);
    char *text = render(m);
    CHECK_STR(text, "# HELP pb_llm_calls_total LLM calls\n"
                    "# TYPE pb_llm_calls_total counter\n"
                    "pb_llm_calls_total{model=\"gpt-4o-mini\",outcome=\"ok\"} 3\n"
                    "pb_llm_calls_total{model=\"gpt-4o-mini\",outcome=\"error\"} 1\n"
                    "# HELP pb_queue_depth queued jobs\n"
                    "# TYPE pb_queue_depth gauge\n"
                    "pb_queue_depth 4.5\n");
    free(text);
    metrics_free(m);
}

static void test_label_values_and_help_are_escaped(void)
{
    char err[PB_ERR_LEN];
    metrics *m = metrics_new();
    metrics_family *f;
    metrics_counter(m, "pb_rewards_total", "rewards per arm\\name\nsecond line",
                    (const char *[]){"arm"}, 1, &f, err);
    metrics_add(f, (const char *[]){"say \"hi\"\\\n"}, 1);
    char *text = render(m);
    CHECK_STR(text, "# HELP pb_rewards_total rewards per arm\\\\name\\nsecond line\n"
                    "# TYPE pb_rewards_total counter\n"
                    "pb_rewards_total{arm=\"say \\\"hi\\\"\\\\\\n\"} 1\n");
    free(text);
    metrics_free(m);
}

static void test_histogram_buckets_are_cumulative_with_sum_and_count(void)
{
    char err[PB_ERR_LEN];
    metrics *m = metrics_new();
    metrics_family *h;
    const double bounds[] = {0.1, 0.5, 1};
    CHECK_INT(metrics_histogram(m, "pb_latency_seconds", "latency", (const char *[]){"route"}, 1,
                                bounds, 3, &h, err),
              PB_OK);
    const char *v[] = {"/v1/chat"};
    metrics_observe(h, v, 0.05);
    metrics_observe(h, v, 0.1); /* on a bound: counted in that bucket (le = less or equal) */
    metrics_observe(h, v, 0.7);
    metrics_observe(h, v, 3);
    char *text = render(m);
    CHECK_STR(text, "# HELP pb_latency_seconds latency\n"
                    "# TYPE pb_latency_seconds histogram\n"
                    "pb_latency_seconds_bucket{route=\"/v1/chat\",le=\"0.1\"} 2\n"
                    "pb_latency_seconds_bucket{route=\"/v1/chat\",le=\"0.5\"} 2\n"
                    "pb_latency_seconds_bucket{route=\"/v1/chat\",le=\"1\"} 3\n"
                    "pb_latency_seconds_bucket{route=\"/v1/chat\",le=\"+Inf\"} 4\n"
                    "pb_latency_seconds_sum{route=\"/v1/chat\"} 3.85\n"
                    "pb_latency_seconds_count{route=\"/v1/chat\"} 4\n");
    CHECK_NEAR(metrics_value(h, v), 4, 0);
    free(text);
    metrics_free(m);
}

/* Table: name, labels, expected status. */
static const struct {
    const char *name, *label;
    int rc;
} registration_cases[] = {
    {"pb_ok_total", "arm", PB_OK},
    {"9starts_with_digit", "arm", PB_ERR_INVALID},
    {"has-dash", "arm", PB_ERR_INVALID},
    {"pb_ok_total2", "__reserved", PB_ERR_INVALID},
    {"pb_ok_total3", "bad label", PB_ERR_INVALID},
    {"pb:with:colons", "arm", PB_OK},
};

static void test_registration_validates_names_and_is_idempotent(void)
{
    char err[PB_ERR_LEN];
    metrics *m = metrics_new();
    metrics_family *f, *again;
    for (size_t i = 0; i < sizeof registration_cases / sizeof registration_cases[0]; i++) {
        const char *labels[] = {registration_cases[i].label};
        int rc = metrics_counter(m, registration_cases[i].name, "h", labels, 1, &f, err);
        if (rc != registration_cases[i].rc)
            fprintf(stderr, "case %zu: %s\n", i, err);
        CHECK_INT(rc, registration_cases[i].rc);
    }
    metrics_counter(m, "pb_same", "h", NULL, 0, &f, err);
    CHECK_INT(metrics_counter(m, "pb_same", "h", NULL, 0, &again, err), PB_OK);
    CHECK(f == again);
    CHECK_INT(metrics_gauge(m, "pb_same", "h", NULL, 0, &again, err), PB_ERR_CONFLICT);
    CHECK_INT(metrics_histogram(m, "pb_h", "h", (const char *[]){"le"}, 1, metrics_latency_buckets,
                                metrics_latency_buckets_count, &f, err),
              PB_ERR_INVALID);
    const double unsorted[] = {1, 0.5};
    CHECK_INT(metrics_histogram(m, "pb_h2", "h", NULL, 0, unsorted, 2, &f, err), PB_ERR_INVALID);
    metrics_free(m);
}

static metrics_family *shared_counter;

static void *add_many(void *arg)
{
    const char *labels[] = {arg};
    for (int i = 0; i < 20000; i++)
        metrics_add(shared_counter, labels, 1);
    return NULL;
}

static void test_concurrent_updates_are_not_lost(void)
{
    char err[PB_ERR_LEN];
    metrics *m = metrics_new();
    metrics_counter(m, "pb_hits_total", "h", (const char *[]){"who"}, 1, &shared_counter, err);
    pthread_t t[4];
    char *names[] = {"a", "b", "a", "b"};
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, add_many, names[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CHECK_NEAR(metrics_value(shared_counter, (const char *[]){"a"}), 40000, 0);
    CHECK_NEAR(metrics_value(shared_counter, (const char *[]){"b"}), 40000, 0);
    metrics_free(m);
}

int main(void)
{
    RUN(test_counter_and_gauge_text_is_exact);
    RUN(test_label_values_and_help_are_escaped);
    RUN(test_histogram_buckets_are_cumulative_with_sum_and_count);
    RUN(test_registration_validates_names_and_is_idempotent);
    RUN(test_concurrent_updates_are_not_lost);
    CHECK_DONE();
}
