/* test_service_pipeline_writer.c — group commit: records from many threads are all committed and
 * answered, several per transaction; a bad record in a batch fails alone while the others
 * commit; a retried event id is a duplicate with the same id; writer_free drains the queue.
 * Also chatmem: histories keep the last N, turns expire, erasure forgets a user. */
#include "store/experiment.h"
#include "store/arms.h"
#include "service/chatmem.h"
#include "check.h"
#include "testdb.h"
#include "store/feedback.h"
#include "store/writer.h"

#include <pthread.h>

#define THREADS    8
#define PER_THREAD 50

static char db_path[300];
static int64_t exp_id, arm_id;

struct worker {
    writer *w;
    int id, failures, bad_refused;
    int64_t reward_ids[PER_THREAD];
};

static void *work(void *arg)
{
    struct worker *k = arg;
    char err[PB_ERR_LEN];
    for (int i = 0; i < PER_THREAD; i++) {
        int64_t imp = 0, rid = 0;
        int dup = 0;
        struct feedback_impression im = {.experiment_id = exp_id, .arm_id = arm_id, .activated = 1};
        if (writer_impression(k->w, &im, &imp, err) != PB_OK) {
            k->failures++;
            continue;
        }
        struct feedback_reward r = {.impression_id = imp, .source = "score", .value = 0.25};
        if (writer_reward(k->w, &r, &rid, &dup, err) != PB_OK)
            k->failures++;
        k->reward_ids[i] = rid;
        /* a bad one: unknown impression */
        struct feedback_reward bad = {.impression_id = 99999999, .source = "score", .value = 0};
        if (i % 10 == 0)
            k->bad_refused += writer_reward(k->w, &bad, &rid, &dup, err) == PB_ERR_NOT_FOUND;
    }
    return NULL;
}

static void test_group_commit_from_many_threads(void)
{
    char err[PB_ERR_LEN];
    store *s = NULL, *ws = NULL;
    writer *w = NULL;
    struct store_experiment e = {0};
    testdb_make(db_path, sizeof db_path, check_tmpdir(), "w.db");
    CHECK_INT(store_open(db_path, NULL, &s, err), PB_OK);
    CHECK_INT(store_experiment_get_or_create(s, "default", "live", "ucb1", &e, err), PB_OK);
    exp_id = e.id;
    CHECK_INT(arms_add(s, exp_id, "A", "text a", NULL, &arm_id, NULL, err), PB_OK);
    CHECK_INT(store_open(db_path, NULL, &ws, err), PB_OK);
    CHECK_INT(writer_new(ws, 0, &w, err), PB_OK);
    struct worker k[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        k[i] = (struct worker){.w = w, .id = i};
        pthread_create(&t[i], NULL, work, &k[i]);
    }
    int failures = 0, refused = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        failures += k[i].failures;
        refused += k[i].bad_refused;
    }
    struct writer_stats st;
    writer_stats_get(w, &st);
    CHECK_INT(failures, 0);
    CHECK_INT(refused, THREADS * (PER_THREAD / 10));
    CHECK_INT(st.records, THREADS * PER_THREAD * 2 + THREADS * (PER_THREAD / 10));
    CHECK(st.batches < st.records); /* some transactions carried several records */
    writer_free(w);
    struct store_counts c;
    CHECK_INT(store_count_rows(s, &c, err), PB_OK);
    CHECK_INT(c.impressions, THREADS * PER_THREAD);
    CHECK_INT(c.rewards, THREADS * PER_THREAD);
    store_experiment_clear(&e);
    store_close(s);
}

static void test_event_retry_through_writer_is_duplicate(void)
{
    char err[PB_ERR_LEN];
    store *ws = NULL;
    writer *w = NULL;
    int64_t imp = 0, r1 = 0, r2 = 0;
    int d1 = -1, d2 = -1;
    CHECK_INT(store_open(db_path, NULL, &ws, err), PB_OK);
    CHECK_INT(writer_new(ws, 4, &w, err), PB_OK);
    struct feedback_impression im = {.experiment_id = exp_id, .arm_id = arm_id, .activated = 1};
    CHECK_INT(writer_impression(w, &im, &imp, err), PB_OK);
    struct feedback_reward r = {
        .impression_id = imp, .source = "click", .value = 1, .event_id = "evt-1"};
    CHECK_INT(writer_reward(w, &r, &r1, &d1, err), PB_OK);
    CHECK_INT(writer_reward(w, &r, &r2, &d2, err), PB_OK);
    CHECK_INT(r2, r1);
    CHECK_INT(d1, 0);
    CHECK_INT(d2, 1);
    writer_free(w);
}

static void test_chatmem_history_turns_and_forget(void)
{
    chatmem *m = chatmem_new(100, 60);
    json_t *add = json_pack("[{s:s,s:s},{s:s,s:s}]", "role", "user", "content", "u1", "role",
                            "assistant", "content", "a1");
    for (int i = 0; i < 4; i++)
        CHECK_INT(chatmem_history_append(m, "c1", "alice", add, 5), PB_OK);
    json_t *h = chatmem_history_get(m, "c1", 10);
    CHECK_INT(json_array_size(h), 5); /* keeps the last 5 */
    json_decref(h);
    h = chatmem_history_get(m, "c1", 2);
    CHECK_INT(json_array_size(h), 2);
    json_decref(h);
    struct chatmem_turn t = {.user_key = "alice",
                             .conversation_id = "c1",
                             .experiment = "default",
                             .reply = "hello",
                             .segment = "positive",
                             .messages = add};
    struct chatmem_turn got = {0};
    CHECK_INT(chatmem_turn_put(m, 7, &t), PB_OK);
    CHECK_INT(chatmem_turn_get(m, 7, &got), 1);
    CHECK_STR(got.reply, "hello");
    chatmem_turn_clear(&got);
    chatmem_forget_user(m, "alice");
    CHECK_INT(chatmem_turn_get(m, 7, &got), 0);
    h = chatmem_history_get(m, "c1", 10);
    CHECK_INT(json_array_size(h), 0);
    json_decref(h);
    chatmem_free(m);
    /* ttl 0: entries expire at once; capacity 2: the oldest goes */
    m = chatmem_new(2, 0);
    CHECK_INT(chatmem_turn_put(m, 1, &t), PB_OK);
    CHECK_INT(chatmem_turn_get(m, 1, &got), 0);
    chatmem_free(m);
    m = chatmem_new(2, 60);
    int64_t arm = 0;
    chatmem_user_arm_put(m, "u1", 1, 11, 60);
    chatmem_user_arm_put(m, "u2", 1, 12, 60);
    chatmem_user_arm_put(m, "u3", 1, 13, 60);
    CHECK_INT(chatmem_user_arm_get(m, "u1", 1, &arm), 0);
    CHECK_INT(chatmem_user_arm_get(m, "u3", 1, &arm), 1);
    CHECK_INT(arm, 13);
    chatmem_free(m);
    json_decref(add);
}

int main(void)
{
    RUN(test_group_commit_from_many_threads);
    RUN(test_event_retry_through_writer_is_duplicate);
    RUN(test_chatmem_history_turns_and_forget);
    CHECK_DONE();
}
