/* test_service_live.c — the live bandit state: rebuilt from the rewards table it equals the state
 * moved reward by reward; a reward the rebuild already read is not counted twice; a promoted
 * arm always wins; a kept (sticky) arm is kept only while active; segments map from emotion
 * groups; an arm added behind the state's back forces a rebuild. */
#include "store/experiment.h"
#include "store/arms.h"
#include "check.h"
#include "testdb.h"
#include "store/feedback.h"
#include "service/live.h"

static store *db;
static int64_t exp_id, arm[3];

static void setup(void)
{
    char err[PB_ERR_LEN], path[300];
    struct store_experiment e = {0};
    testdb_make(path, sizeof path, check_tmpdir(), "live.db");
    CHECK_INT(store_open(path, NULL, &db, err), PB_OK);
    CHECK_INT(store_experiment_get_or_create(db, "default", "live", "ucb1", &e, err), PB_OK);
    exp_id = e.id;
    store_experiment_clear(&e);
    const char *texts[] = {"prompt one", "prompt two", "prompt three"};
    const char *names[] = {"A", "B", "C"};
    for (int i = 0; i < 3; i++)
        CHECK_INT(arms_add(db, exp_id, names[i], texts[i], NULL, &arm[i], NULL, err), PB_OK);
}

/* Stores an impression + reward and returns the reward id. */
static int64_t put_reward(int64_t arm_id, const char *segment, double value)
{
    char err[PB_ERR_LEN];
    int64_t imp = 0, rid = 0;
    int dup = 0;
    struct feedback_impression i = {
        .experiment_id = exp_id, .arm_id = arm_id, .segment = segment, .activated = 1};
    CHECK_INT(feedback_insert_impression(db, &i, &imp, err), PB_OK);
    struct feedback_reward r = {.impression_id = imp, .source = "score", .value = value};
    CHECK_INT(feedback_insert_reward(db, &r, &rid, &dup, err), PB_OK);
    return rid;
}

static void snapshot(live *l, const char *segment, struct live_snapshot *out)
{
    char err[PB_ERR_LEN];
    CHECK_INT(live_snapshot_get(l, db, "default", segment, 100, out, err), PB_OK);
}

static void test_rebuild_equals_incremental_updates(void)
{
    char err[PB_ERR_LEN];
    live *inc = NULL, *rebuilt = NULL;
    struct live_snapshot a, b;
    CHECK_INT(live_new(1, 2, &inc, err), PB_OK);
    CHECK_INT(live_reload(inc, db, "default", err), PB_OK);
    const char *segs[] = {"positive", "negative", NULL};
    for (int i = 0; i < 30; i++) {
        double v = (i % 5) / 2.0 - 1;
        int k = i % 3;
        int64_t rid = put_reward(arm[k], segs[i % 3], v);
        CHECK_INT(live_observe(inc, exp_id, rid, arm[k], segs[i % 3], NULL, v, err), PB_OK);
    }
    CHECK_INT(live_new(1, 2, &rebuilt, err), PB_OK);
    for (int s = 0; s < 3; s++) {
        snapshot(inc, s < 2 ? segs[s] : NULL, &a);
        snapshot(rebuilt, s < 2 ? segs[s] : NULL, &b);
        CHECK_INT(a.n_arms, 3);
        CHECK_INT(b.n_arms, 3);
        for (size_t i = 0; i < 3 && i < a.n_arms && i < b.n_arms; i++) {
            CHECK_INT(a.arms[i].pulls, b.arms[i].pulls);
            CHECK_NEAR(a.arms[i].mean, b.arms[i].mean, 1e-12);
        }
        CHECK_INT(a.total_pulls, s == 2 ? 30 : 10);
        live_snapshot_clear(&a);
        live_snapshot_clear(&b);
    }
    snapshot(inc, NULL, &a);
    CHECK_INT(a.segment_pulls[4], 10); /* NULL segment counts as "unknown" */
    live_snapshot_clear(&a);
    live_free(inc);
    live_free(rebuilt);
}

static void test_reward_seen_by_rebuild_is_not_counted_twice(void)
{
    char err[PB_ERR_LEN];
    live *l = NULL;
    struct live_snapshot s1, s2;
    CHECK_INT(live_new(1, 2, &l, err), PB_OK);
    int64_t rid = put_reward(arm[0], "neutral", 1);
    CHECK_INT(live_reload(l, db, "default", err), PB_OK); /* reads rid already */
    snapshot(l, NULL, &s1);
    CHECK_INT(live_observe(l, exp_id, rid, arm[0], "neutral", NULL, 1, err), PB_OK);
    snapshot(l, NULL, &s2);
    CHECK_INT(s2.total_pulls, s1.total_pulls);
    live_snapshot_clear(&s1);
    live_snapshot_clear(&s2);
    live_free(l);
}

static void test_promoted_arm_always_wins_and_kept_arm_must_be_active(void)
{
    char err[PB_ERR_LEN];
    live *l = NULL;
    struct live_choice c;
    CHECK_INT(live_new(3, 2, &l, err), PB_OK);
    CHECK_INT(live_choose(l, db, "default", NULL, NULL, arm[1], &c, err), PB_OK);
    CHECK_INT(c.arm_id, arm[1]);
    CHECK(c.kept);
    CHECK_NEAR(c.propensity, 1, 0);
    CHECK_STR(c.arm_name, "B");
    CHECK_STR(c.prompt, "prompt two");
    live_choice_clear(&c);
    CHECK_INT(store_experiment_promote(db, exp_id, arm[2], err), PB_OK);
    CHECK_INT(live_reload(l, db, "default", err), PB_OK);
    for (int i = 0; i < 10; i++) {
        CHECK_INT(live_choose(l, NULL, "default", "positive", NULL, arm[1], &c, err), PB_OK);
        CHECK_INT(c.arm_id, arm[2]);
        CHECK(c.promoted);
        live_choice_clear(&c);
    }
    CHECK_INT(store_experiment_promote(db, exp_id, 0, err), PB_OK);
    CHECK_INT(arms_retire(db, arm[1], err), PB_OK);
    CHECK_INT(live_reload(l, db, "default", err), PB_OK);
    for (int i = 0; i < 10; i++) {
        CHECK_INT(live_choose(l, NULL, "default", NULL, NULL, arm[1], &c, err), PB_OK);
        CHECK(c.arm_id != arm[1]); /* a retired sticky arm is not kept */
        CHECK(!c.kept);
        live_choice_clear(&c);
    }
    CHECK_INT(arms_restore(db, arm[1], err), PB_OK);
    live_free(l);
}

static void test_unknown_experiment_and_segment_names(void)
{
    char err[PB_ERR_LEN];
    live *l = NULL;
    struct live_choice c;
    CHECK_INT(live_new(1, 2, &l, err), PB_OK);
    CHECK_INT(live_choose(l, db, "nope", NULL, NULL, 0, &c, err), PB_ERR_NOT_FOUND);
    CHECK_INT(live_choose(l, NULL, "default", NULL, NULL, 0, &c, err),
              PB_ERR_NOT_FOUND); /* not loaded */
    CHECK_STR(live_segment_of("negative"), "negative");
    CHECK_STR(live_segment_of(""), "unknown");
    CHECK_STR(live_segment_of(NULL), "unknown");
    CHECK_STR(live_segment_of("weird"), "unknown");
    live_free(l);
}

static void test_arm_added_elsewhere_forces_rebuild(void)
{
    char err[PB_ERR_LEN];
    live *l = NULL;
    int64_t d = 0;
    struct live_snapshot s;
    CHECK_INT(live_new(1, 2, &l, err), PB_OK);
    CHECK_INT(live_reload(l, db, "default", err), PB_OK);
    CHECK_INT(arms_add(db, exp_id, "D", "prompt four", NULL, &d, NULL, err), PB_OK);
    int64_t rid = put_reward(d, NULL, 0.5);
    CHECK_INT(live_observe(l, exp_id, rid, d, NULL, NULL, 0.5, err), PB_OK);
    snapshot(l, NULL, &s); /* rebuilt from the store: D is there with its reward */
    CHECK_INT(s.n_arms, 4);
    CHECK_INT(s.arms[3].arm_id, d);
    CHECK_INT(s.arms[3].pulls, 1);
    live_snapshot_clear(&s);
    live_free(l);
}

int main(void)
{
    setup();
    RUN(test_rebuild_equals_incremental_updates);
    RUN(test_reward_seen_by_rebuild_is_not_counted_twice);
    RUN(test_promoted_arm_always_wins_and_kept_arm_must_be_active);
    RUN(test_unknown_experiment_and_segment_names);
    RUN(test_arm_added_elsewhere_forces_rebuild);
    store_close(db);
    CHECK_DONE();
}
