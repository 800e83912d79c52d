/* test_service_dashcache.c — service/dashcache.h: a first read counts the whole history, later
 * reads only what is new (never a row twice), by clock hour in order whatever order the rows
 * arrive in; per arm totals, levels and the bins of answered rewards with their newest; rewards
 * per source; the newest rewards newest first; the reader's memo kept between reads; a dozen
 * experiments read in turn (the oldest entries dropped and rebuilt) still give exact figures. */
#include "dash_harness.h"
#include "service/dashcache.h"
#include "store/stmt.h"

#include <math.h>

static char err[PB_ERR_LEN];

struct seen {
    int64_t rewards, impressions, last_reward;
    size_t n_arms, n_hours, n_recent;
    double n[4], sum[4], imps[4], levels[4][DASHCACHE_LEVELS];
    int64_t answered_top, newest_top;
    int64_t hours[8];
    double hour_n[8];
    int64_t recent[3];
    int64_t clicks, judges;
    int memo_had;
};

static pb_status look(void *ctx, const struct dashcache_view *v, struct dashcache_memo *memo,
                      char *e)
{
    struct seen *s = ctx;
    (void)e;
    memset(s, 0, sizeof *s);
    s->rewards = v->rewards;
    s->impressions = v->impressions;
    s->last_reward = v->last_reward_id;
    s->n_arms = v->n_arms;
    s->n_hours = v->n_hours;
    s->n_recent = v->n_recent;
    for (size_t a = 0; a < v->n_arms && a < 4; a++) {
        s->n[a] = v->arms[a].total.n;
        s->sum[a] = v->arms[a].total.sum;
        s->imps[a] = v->arms[a].total.impressions;
        memcpy(s->levels[a], v->arms[a].total.levels, sizeof s->levels[a]);
    }
    if (v->n_arms) {
        s->answered_top = v->arms[0].answered[DASHCACHE_BINS - 1];
        s->newest_top = v->arms[0].newest[DASHCACHE_BINS - 1];
    }
    for (size_t h = 0; h < v->n_hours && h < 8; h++) {
        s->hours[h] = v->hours[h];
        for (size_t a = 0; a < v->n_arms; a++)
            s->hour_n[h] += v->cells[h * v->stride + a].n;
    }
    for (size_t i = 0; i < v->n_recent && i < 3; i++)
        s->recent[i] = dashcache_recent_at(v, i)->reward_id;
    for (size_t i = 0; i < v->n_sources; i++) {
        if (!strcmp(v->sources[i].name, "click"))
            s->clicks = v->sources[i].count;
        if (!strcmp(v->sources[i].name, "judge"))
            s->judges = v->sources[i].count;
    }
    s->memo_had = memo->value != NULL;
    if (!memo->value) {
        memo->value = json_string("kept");
        snprintf(memo->key, sizeof memo->key, "k");
    }
    return PB_OK;
}

static void test_values_map_to_levels_and_bins(void)
{
    CHECK_INT(dashcache_level_of(-1), 0);
    CHECK_INT(dashcache_level_of(-0.5), 1);
    CHECK_INT(dashcache_level_of(0.2), 2);
    CHECK_INT(dashcache_level_of(0.3), 3);
    CHECK_INT(dashcache_level_of(1), 4);
    CHECK_INT(dashcache_level_of(7), 4);
    CHECK_INT(dashcache_bin_of(-1), 0);
    CHECK_INT(dashcache_bin_of(0), 100);
    CHECK_INT(dashcache_bin_of(0.333), 133);
    CHECK_INT(dashcache_bin_of(1), DASHCACHE_BINS - 1);
    double lo, hi;
    dashcache_bin_range(133, &lo, &hi);
    CHECK(lo <= 0.333 && 0.333 <= hi && hi - lo < 0.011);
    dashcache_bin_range(0, &lo, &hi);
    CHECK(isinf(lo) && lo < 0);
}

static void test_reads_count_the_history_once_then_only_new_rows(void)
{
    store *s = dash_open_store();
    dashcache *c = NULL;
    struct store_experiment e = {0};
    struct seen seen;
    CHECK_INT(dashcache_new(&c, err), PB_OK);
    CHECK_INT(store_experiment_get_or_create(s, "x", "live", "ucb1", &e, err), PB_OK);
    int64_t a = dash_add_arm(s, e.id, "A", "a"), b = dash_add_arm(s, e.id, "B", "b");
    dash_reward(s, e.id, b, NULL, "click", 1);
    dash_reward(s, e.id, a, NULL, "click", -1);
    int64_t answered = 0;
    dash_turn(s, e.id, b, "u", "c", "hi", "hello", "judge", 1);
    CHECK_INT(dashcache_read(c, s, e.id, look, &seen, err), PB_OK);
    CHECK_INT(seen.rewards, 3);
    CHECK_INT(seen.impressions, 3);
    CHECK_INT(seen.n_arms, 2);
    CHECK_NEAR(seen.n[0], 2, 0); /* B appeared first */
    CHECK_NEAR(seen.sum[0], 2, 0);
    CHECK_NEAR(seen.levels[0][4], 2, 0);
    CHECK_NEAR(seen.n[1], 1, 0);
    CHECK_NEAR(seen.levels[1][0], 1, 0);
    CHECK_INT(seen.answered_top, 1); /* only the stored turn has an answer */
    answered = seen.newest_top;
    CHECK_INT(answered, seen.last_reward);
    CHECK_INT(seen.clicks, 2);
    CHECK_INT(seen.judges, 1);
    CHECK(!seen.memo_had);
    /* Nothing new: the same figures, and the memo is still there. */
    CHECK_INT(dashcache_read(c, s, e.id, look, &seen, err), PB_OK);
    CHECK_INT(seen.rewards, 3);
    CHECK_NEAR(seen.n[0], 2, 0);
    CHECK(seen.memo_had);
    /* New rows are added once. */
    int64_t r4 = dash_reward(s, e.id, a, NULL, "click", 0.5);
    CHECK_INT(dashcache_read(c, s, e.id, look, &seen, err), PB_OK);
    CHECK_INT(seen.rewards, 4);
    CHECK_INT(seen.impressions, 4);
    CHECK_NEAR(seen.n[1], 2, 0);
    CHECK_NEAR(seen.sum[1], -0.5, 1e-12);
    CHECK_NEAR(seen.imps[1], 2, 0);
    CHECK_INT(seen.recent[0], r4); /* newest first */
    CHECK_INT(seen.recent[1], answered);
    CHECK_INT(seen.n_recent, 4);
    dashcache_free(c);
    store_experiment_clear(&e);
    store_close(s);
}

static void test_hours_stay_in_order_when_rows_arrive_out_of_order(void)
{
    store *s = dash_open_store();
    dashcache *c = NULL;
    struct store_experiment e = {0};
    struct seen seen;
    CHECK_INT(dashcache_new(&c, err), PB_OK);
    CHECK_INT(store_experiment_get_or_create(s, "x", "live", "ucb1", &e, err), PB_OK);
    int64_t a = dash_add_arm(s, e.id, "A", "a");
    int64_t r1 = dash_reward(s, e.id, a, NULL, "click", 1);
    int64_t r2 = dash_reward(s, e.id, a, NULL, "click", 1);
    int64_t r3 = dash_reward(s, e.id, a, NULL, "click", 1);
    /* Reward 2 is two hours older than reward 1, reward 3 in reward 1's hour. */
    const double t0 = 1700000000.0;
    CHECK_INT(stmt_exec(s, "UPDATE rewards SET created_at = ?2 WHERE id = ?1", "aging", err,
                        STMT_INT(r1), STMT_REAL(t0)),
              PB_OK);
    CHECK_INT(stmt_exec(s, "UPDATE rewards SET created_at = ?2 WHERE id = ?1", "aging", err,
                        STMT_INT(r2), STMT_REAL(t0 - 7200)),
              PB_OK);
    CHECK_INT(stmt_exec(s, "UPDATE rewards SET created_at = ?2 WHERE id = ?1", "aging", err,
                        STMT_INT(r3), STMT_REAL(t0 + 10)),
              PB_OK);
    CHECK_INT(stmt_exec(s, "UPDATE impressions SET created_at = ?1", "aging", err, STMT_REAL(t0)),
              PB_OK);
    CHECK_INT(dashcache_read(c, s, e.id, look, &seen, err), PB_OK);
    CHECK_INT(seen.n_hours, 2);
    CHECK_INT(seen.hours[0], (int64_t)floor((t0 - 7200) / 3600));
    CHECK_INT(seen.hours[1], (int64_t)floor(t0 / 3600));
    CHECK_NEAR(seen.hour_n[0], 1, 0);
    CHECK_NEAR(seen.hour_n[1], 2, 0);
    dashcache_free(c);
    store_experiment_clear(&e);
    store_close(s);
}

static void test_many_experiments_in_turn_keep_exact_figures(void)
{
    store *s = dash_open_store();
    dashcache *c = NULL;
    struct seen seen;
    int64_t ids[12], arms[12];
    CHECK_INT(dashcache_new(&c, err), PB_OK);
    for (int i = 0; i < 12; i++) {
        struct store_experiment e = {0};
        char name[16];
        snprintf(name, sizeof name, "e%d", i);
        CHECK_INT(store_experiment_get_or_create(s, name, "live", "ucb1", &e, err), PB_OK);
        ids[i] = e.id;
        arms[i] = dash_add_arm(s, e.id, "A", name);
        for (int k = 0; k <= i; k++)
            dash_reward(s, e.id, arms[i], NULL, "click", 1);
        store_experiment_clear(&e);
    }
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 12; i++) {
            CHECK_INT(dashcache_read(c, s, ids[i], look, &seen, err), PB_OK);
            CHECK_INT(seen.rewards, i + 1);
        }
    dash_reward(s, ids[0], arms[0], NULL, "click", 1);
    CHECK_INT(dashcache_read(c, s, ids[0], look, &seen, err), PB_OK);
    CHECK_INT(seen.rewards, 2);
    dashcache_free(c);
    store_close(s);
}

int main(void)
{
    RUN(test_values_map_to_levels_and_bins);
    RUN(test_reads_count_the_history_once_then_only_new_rows);
    RUN(test_hours_stay_in_order_when_rows_arrive_out_of_order);
    RUN(test_many_experiments_in_turn_keep_exact_figures);
    CHECK_DONE();
}
