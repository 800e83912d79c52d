/* test_service_replwm.c — the replica poll's watermark (service/replwm.h): ids seen in order
 * move the floor; a missing id holds it until an id above it has been seen for the gap bound;
 * a lower id seen late (committed after a higher one) is new once and only once; the gap list
 * names the holes; raise forgets what is below. */
#include "check.h"
#include "service/replwm.h"

static void test_in_order_moves_the_floor(void)
{
    replwm *w = replwm_new(10);
    CHECK_INT(replwm_see(w, 10, 0), 0); /* at the floor: settled */
    CHECK_INT(replwm_see(w, 11, 0), 1);
    CHECK_INT(replwm_see(w, 12, 0), 1);
    CHECK_INT(replwm_see(w, 12, 0), 0);
    CHECK_INT(replwm_advance(w, 0, 5), 0);
    CHECK_INT(replwm_floor(w), 12);
    CHECK_INT(replwm_pending(w), 0);
    replwm_free(w);
}

static void test_gap_waits_then_gives_up(void)
{
    replwm *w = replwm_new(0);
    replwm_see(w, 1, 100);
    replwm_see(w, 3, 100); /* 2 missing: noticed at 100 */
    replwm_see(w, 4, 101);
    CHECK_INT(replwm_advance(w, 102, 5), 0);
    CHECK_INT(replwm_floor(w), 1);
    CHECK_INT(replwm_pending(w), 2);
    CHECK(replwm_has(w, 3));
    CHECK(!replwm_has(w, 2));
    int64_t gaps[4][2];
    CHECK_INT(replwm_gaps(w, gaps, 4), 1);
    CHECK_INT(gaps[0][0], 2);
    CHECK_INT(gaps[0][1], 2);
    /* 2 commits late: new once, and the floor moves over it at once. */
    CHECK_INT(replwm_see(w, 2, 103), 1);
    CHECK_INT(replwm_see(w, 2, 103), 0);
    CHECK_INT(replwm_advance(w, 103, 5), 0);
    CHECK_INT(replwm_floor(w), 4);
    /* 5 never comes: given up only after the bound since 6 was seen. */
    replwm_see(w, 6, 200);
    CHECK_INT(replwm_advance(w, 204.9, 5), 0);
    CHECK_INT(replwm_floor(w), 4);
    CHECK_INT(replwm_advance(w, 205, 5), 1);
    CHECK_INT(replwm_floor(w), 6);
    CHECK_INT(replwm_see(w, 5, 206), 0); /* too late: settled */
    replwm_free(w);
}

static void test_gap_age_is_the_earliest_id_above(void)
{
    replwm *w = replwm_new(0);
    replwm_see(w, 5, 10); /* 1..4 missing since 10 */
    replwm_see(w, 3, 12); /* 3 late: 1..2 still missing, noticed at 10 (when 5 came) */
    CHECK_INT(replwm_advance(w, 14, 5), 0);
    CHECK_INT(replwm_floor(w), 0);
    CHECK_INT(replwm_advance(w, 15, 5), 3); /* 1, 2 and 4 given up */
    CHECK_INT(replwm_floor(w), 5);
    replwm_free(w);
}

static void test_many_ids_and_raise(void)
{
    replwm *w = replwm_new(0);
    for (int64_t id = 2000; id >= 2; id -= 2) /* every even id, highest first */
        CHECK_INT(replwm_see(w, id, 1), 1);
    CHECK_INT(replwm_pending(w), 1000);
    int64_t gaps[8][2];
    CHECK_INT(replwm_gaps(w, gaps, 8), 8);
    CHECK_INT(gaps[7][0], 15);
    replwm_raise(w, 1000);
    CHECK_INT(replwm_floor(w), 1000);
    CHECK_INT(replwm_pending(w), 500);
    CHECK(replwm_has(w, 999));
    CHECK(!replwm_has(w, 1001));
    CHECK_INT(replwm_advance(w, 100, 5), 500);
    CHECK_INT(replwm_floor(w), 2000);
    replwm_free(w);
}

int main(void)
{
    RUN(test_in_order_moves_the_floor);
    RUN(test_gap_waits_then_gives_up);
    RUN(test_gap_age_is_the_earliest_id_above);
    RUN(test_many_ids_and_raise);
    CHECK_DONE();
}
