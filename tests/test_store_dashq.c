/* test_store_dashq.c — store/dashq.h: the walks after an id return only newer rows of the one
 * experiment, in id order, knowing which have a stored answer; an example is found walking back
 * from a reward id within a value range and only where an answer is stored; a run's steps,
 * cost, rated count and ranked steps; a user's conversations and a conversation's messages
 * and rewards. */
#include "dash_harness.h"
#include "store/dashq.h"
#include "store/runs.h"

#include <math.h>

static char err[PB_ERR_LEN];

struct walk {
    int64_t ids[64];
    int answered[64];
    size_t n;
};

static int collect_reward(void *ctx, const struct dashq_reward *r)
{
    struct walk *w = ctx;
    w->answered[w->n] = r->has_answer;
    w->ids[w->n++] = r->reward_id;
    return 0;
}

static int collect_impression(void *ctx, const struct dashq_impression *r)
{
    struct walk *w = ctx;
    w->ids[w->n++] = r->impression_id;
    return 0;
}

static void test_walks_return_only_newer_rows_of_the_experiment(void)
{
    store *s = dash_open_store();
    struct store_experiment e = {0}, other = {0};
    CHECK_INT(store_experiment_get_or_create(s, "x", "live", "ucb1", &e, err), PB_OK);
    CHECK_INT(store_experiment_get_or_create(s, "y", "live", "ucb1", &other, err), PB_OK);
    int64_t a = dash_add_arm(s, e.id, "A", "a"), o = dash_add_arm(s, other.id, "O", "o");
    int64_t r1 = dash_reward(s, e.id, a, NULL, "click", 1);
    dash_reward(s, other.id, o, NULL, "click", 1);
    dash_turn(s, e.id, a, "u1", "c1", "hi", "answer", "click", -1);
    int64_t r3 = dash_reward(s, e.id, a, NULL, "judge", 0.5);
    struct walk w = {0};
    CHECK_INT(dashq_rewards_after(s, e.id, 0, collect_reward, &w, err), PB_OK);
    CHECK_INT(w.n, 3);
    CHECK_INT(w.ids[0], r1);
    CHECK_INT(w.ids[2], r3);
    CHECK(!w.answered[0] && w.answered[1] && !w.answered[2]);
    memset(&w, 0, sizeof w);
    CHECK_INT(dashq_rewards_after(s, e.id, r1, collect_reward, &w, err), PB_OK);
    CHECK_INT(w.n, 2); /* after r1 */
    memset(&w, 0, sizeof w);
    CHECK_INT(dashq_rewards_after(s, e.id, r3, collect_reward, &w, err), PB_OK);
    CHECK_INT(w.n, 0);
    memset(&w, 0, sizeof w);
    CHECK_INT(dashq_impressions_after(s, e.id, 0, collect_impression, &w, err), PB_OK);
    CHECK_INT(w.n, 3);
    int64_t last = w.ids[2];
    memset(&w, 0, sizeof w);
    CHECK_INT(dashq_impressions_after(s, e.id, last, collect_impression, &w, err), PB_OK);
    CHECK_INT(w.n, 0);
    store_experiment_clear(&e);
    store_experiment_clear(&other);
    store_close(s);
}

static int stop_at_first(void *ctx, const struct dashq_reward *r)
{
    (void)ctx;
    (void)r;
    return 7;
}

static void test_a_walk_stops_when_the_callback_says_so(void)
{
    store *s = dash_open_store();
    struct store_experiment e = {0};
    CHECK_INT(store_experiment_get_or_create(s, "x", "live", "ucb1", &e, err), PB_OK);
    int64_t a = dash_add_arm(s, e.id, "A", "a");
    dash_reward(s, e.id, a, NULL, "click", 1);
    dash_reward(s, e.id, a, NULL, "click", 1);
    CHECK_INT(dashq_rewards_after(s, e.id, 0, stop_at_first, NULL, err), 7);
    store_experiment_clear(&e);
    store_close(s);
}

static void test_an_example_is_the_newest_answered_reward_in_range(void)
{
    store *s = dash_open_store();
    struct store_experiment e = {0};
    struct dashq_example x;
    CHECK_INT(store_experiment_get_or_create(s, "x", "live", "ucb1", &e, err), PB_OK);
    int64_t a = dash_add_arm(s, e.id, "A", "a"), b = dash_add_arm(s, e.id, "B", "b");
    dash_turn(s, e.id, a, "u1", "c1", "first", "old good", "click", 1);
    dash_turn(s, e.id, a, "u1", "c1", "second", "new good", "click", 1);
    dash_turn(s, e.id, b, "u2", "c2", "third", "b good", "click", 1);
    int64_t bare = dash_reward(s, e.id, a, NULL, "click", 1); /* no stored answer */
    dash_turn(s, e.id, a, "u1", "c1", "fourth", "bad", "click", -1);
    CHECK_INT(dashq_example_find(s, e.id, a, 0.99, 1.01, bare, &x, err), 1);
    CHECK_STR(x.answer, "new good");
    CHECK_STR(x.user_text, "second ;; 슬픔");
    CHECK_STR(x.source, "click");
    CHECK_STR(x.segment, "negative");
    CHECK(x.context_json && strstr(x.context_json, "sadness"));
    CHECK_NEAR(x.value, 1, 0);
    dashq_example_clear(&x);
    CHECK_INT(dashq_example_find(s, e.id, a, -1.01, -0.99, INT64_MAX, &x, err), 1);
    CHECK_STR(x.answer, "bad");
    CHECK_STR(x.user_text, "fourth ;; 슬픔");
    dashq_example_clear(&x);
    CHECK_INT(dashq_example_find(s, e.id, a, -0.1, 0.1, INT64_MAX, &x, err), 0);
    CHECK(x.answer == NULL);
    store_experiment_clear(&e);
    store_close(s);
}

static void test_a_runs_steps_cost_and_ranked_examples(void)
{
    store *s = dash_open_store();
    struct store_experiment e = {0};
    int64_t run = 0, n = 0;
    CHECK_INT(store_experiment_get_or_create(s, "run-1", "offline", "ucb1", &e, err), PB_OK);
    int64_t a = dash_add_arm(s, e.id, "A", "a");
    CHECK_INT(runs_create(s, "r", "offline", NULL, &run, err), PB_OK);
    const double scores[] = {0.5, -1, 1, 0};
    for (int i = 0; i < 4; i++) {
        struct run_step st = {.run_id = run,
                              .iteration = i,
                              .arm_id = a,
                              .scenario = "hello",
                              .output = i == 2 ? "top" : "meh",
                              .score = scores[i],
                              .has_score = 1,
                              .status = "ok",
                              .tokens = 10,
                              .cost = 0.25,
                              .calls = 2,
                              .emotion = "기쁨"};
        CHECK_INT(runs_step_put(s, &st, err), PB_OK);
    }
    struct run_step failed = {.run_id = run,
                              .iteration = 4,
                              .arm_id = a,
                              .status = "failed",
                              .error = "boom",
                              .cost = 0.5,
                              .calls = 1};
    CHECK_INT(runs_step_put(s, &failed, err), PB_OK);
    struct dashq_run_cost c;
    CHECK_INT(dashq_run_cost(s, run, &c, err), PB_OK);
    CHECK_NEAR(c.usd, 1.5, 1e-12);
    CHECK_INT(c.tokens, 40);
    CHECK_INT(c.calls, 9);
    CHECK_INT(dashq_run_rated(s, run, a, &n, err), PB_OK);
    CHECK_INT(n, 4); /* the failed step is not rated */
    struct dashq_example x;
    CHECK_INT(dashq_run_example(s, run, a, n - 1, &x, err), 1);
    CHECK_STR(x.answer, "top");
    CHECK_STR(x.user_text, "hello");
    CHECK_STR(x.segment, "기쁨");
    CHECK_INT(x.reward_id, 2); /* the iteration */
    dashq_example_clear(&x);
    CHECK_INT(dashq_run_example(s, run, a, 0, &x, err), 1);
    CHECK_NEAR(x.value, -1, 0);
    dashq_example_clear(&x);
    CHECK_INT(dashq_run_example(s, run, a, 4, &x, err), 0);
    store_experiment_clear(&e);
    store_close(s);
}

static void test_a_users_conversations_messages_and_rewards(void)
{
    store *s = dash_open_store();
    struct store_experiment e = {0};
    CHECK_INT(store_experiment_get_or_create(s, "x", "live", "ucb1", &e, err), PB_OK);
    int64_t a = dash_add_arm(s, e.id, "A", "a");
    int64_t i1 = dash_turn(s, e.id, a, "u1", "c1", "hi", "hello", "click", 1);
    dash_turn(s, e.id, a, "u1", "c2", "again", "hey", NULL, 0);
    dash_turn(s, e.id, a, "u2", "c3", "other", "x", NULL, 0);
    struct dashq_conversation *list = NULL;
    size_t n = 0;
    CHECK_INT(dashq_conversations(s, "u1", 10, &list, &n, err), PB_OK);
    CHECK_INT(n, 2);
    CHECK_STR(list[0].id, "c2"); /* the most recent first */
    CHECK_STR(list[1].first_text, "hi ;; 슬픔");
    CHECK_INT(list[1].answers, 1);
    dashq_conversation_list_free(list, n);
    CHECK_INT(dashq_conversations(s, "nobody", 10, &list, &n, err), PB_OK);
    CHECK_INT(n, 0);
    dashq_conversation_list_free(list, n);
    struct dashq_message *m = NULL;
    CHECK_INT(dashq_conversation_messages(s, "c1", 10, &m, &n, err), PB_OK);
    CHECK_INT(n, 2);
    CHECK_STR(m[0].role, "user");
    CHECK_STR(m[1].content, "hello");
    CHECK_STR(m[1].arm, "A");
    CHECK_INT(m[1].impression_id, i1);
    dashq_message_list_free(m, n);
    CHECK_INT(dashq_conversation_messages(s, "c1", 1, &m, &n, err), PB_OK);
    CHECK_INT(n, 1); /* the newest only */
    CHECK_STR(m[0].role, "assistant");
    dashq_message_list_free(m, n);
    struct dashq_turn_reward *r = NULL;
    CHECK_INT(dashq_conversation_rewards(s, "c1", &r, &n, err), PB_OK);
    CHECK_INT(n, 1);
    CHECK_STR(r[0].source, "click");
    CHECK_INT(r[0].impression_id, i1);
    free(r);
    store_experiment_clear(&e);
    store_close(s);
}

int main(void)
{
    RUN(test_walks_return_only_newer_rows_of_the_experiment);
    RUN(test_a_walk_stops_when_the_callback_says_so);
    RUN(test_an_example_is_the_newest_answered_reward_in_range);
    RUN(test_a_runs_steps_cost_and_ranked_examples);
    RUN(test_a_users_conversations_messages_and_rewards);
    CHECK_DONE();
}
