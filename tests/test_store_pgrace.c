/* test_store_pgrace.c — the store's read-then-insert writes on PostgreSQL when several
 * replicas do them at the same moment (tests/pg_harness.h starts a real server). SQLite's
 * BEGIN IMMEDIATE serialises them; PostgreSQL takes no lock at BEGIN, so without
 * store_begin_serial two replicas starting together would both miss the "default" experiment
 * and one would fail on its unique name, or store the same prompt twice; and without the
 * conversation insert's ON CONFLICT two first turns of one conversation would fail one of
 * them. Each case runs N threads, each on its own connection (a replica), released together. */
#include "check.h"
#include "pg_harness.h"
#include "store/arms.h"
#include "store/experiment.h"
#include "store/feedback.h"
#include "store/store.h"
#include "store/writer.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

enum { N = 6 };

struct replica {
    const char *url;
    pthread_barrier_t *go;
    int64_t experiment_id, arm_id, sticky;
    int created;
    pb_status rc;
    char err[PB_ERR_LEN];
};

static store *open_ok(const char *url)
{
    store *s = NULL;
    char err[PB_ERR_LEN];
    if (store_open(url, NULL, &s, err) != PB_OK) {
        fprintf(stderr, "store_open: %s\n", err);
        return NULL;
    }
    return s;
}

/* Each replica connects, then all go at once; a failed connect is the replica's failure. */
static store *open_then_wait(struct replica *r)
{
    store *s = open_ok(r->url);
    pthread_barrier_wait(r->go);
    if (!s)
        r->rc = PB_ERR_DB;
    return s;
}

/* What serve does at start-up: the default experiment, synced from the prompts folder. */
static void *start_replica(void *arg)
{
    struct replica *r = arg;
    store *s = open_then_wait(r);
    if (!s)
        return NULL;
    struct store_experiment e = {0};
    r->rc = arms_ensure_default(s, check_source_path("prompts"), "thompson", &e, NULL, r->err);
    r->experiment_id = e.id;
    store_experiment_clear(&e);
    store_close(s);
    return NULL;
}

static void test_replicas_starting_together_share_one_experiment_and_its_arms(void)
{
    const char *url = pg_harness_createdb("race_start");
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, N);
    struct replica r[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        r[i] = (struct replica){.url = url, .go = &go};
        pthread_create(&t[i], NULL, start_replica, &r[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        if (r[i].rc != PB_OK)
            fprintf(stderr, "replica %d: %s\n", i, r[i].err);
        CHECK_INT(r[i].rc, PB_OK);
        CHECK_INT(r[i].experiment_id, r[0].experiment_id);
    }
    pthread_barrier_destroy(&go);
    store *s = open_ok(url);
    CHECK(s != NULL);
    if (!s)
        return;
    struct store_counts c;
    char err[PB_ERR_LEN];
    CHECK_INT(store_count_rows(s, &c, err), PB_OK);
    CHECK_INT(c.experiments, 1);
    /* one version of each prompt file, whatever the number of replicas */
    struct arms_sync_summary once = {0};
    CHECK_INT(arms_sync_dir(s, r[0].experiment_id, check_source_path("prompts"), &once, err),
              PB_OK);
    CHECK_INT(once.created + once.versioned, 0);
    CHECK_INT(c.arms, once.unchanged);
    store_close(s);
}

/* The first turn of one conversation reaching every replica at once. */
static void *open_conversation(void *arg)
{
    struct replica *r = arg;
    store *s = open_then_wait(r);
    if (!s)
        return NULL;
    r->rc = feedback_open_conversation(s, "conv-race", "user-race", r->experiment_id, r->arm_id,
                                       NULL, &r->sticky, &r->created, r->err);
    store_close(s);
    return NULL;
}

static void test_first_turns_on_several_replicas_agree_on_the_sticky_arm(void)
{
    const char *url = pg_harness_createdb("race_conv");
    store *s = open_ok(url);
    CHECK(s != NULL);
    if (!s)
        return;
    char err[PB_ERR_LEN];
    struct store_experiment e = {0};
    CHECK_INT(arms_ensure_default(s, check_source_path("prompts"), "thompson", &e, NULL, err),
              PB_OK);
    struct arm *arms = NULL;
    size_t n_arms = 0;
    CHECK_INT(arms_list(s, e.id, false, &arms, &n_arms, err), PB_OK);
    CHECK(n_arms >= 2);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, N);
    struct replica r[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        /* each replica's bandit proposes a different arm */
        r[i] = (struct replica){
            .url = url, .go = &go, .experiment_id = e.id, .arm_id = arms[(size_t)i % n_arms].id};
        pthread_create(&t[i], NULL, open_conversation, &r[i]);
    }
    int created = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        if (r[i].rc != PB_OK)
            fprintf(stderr, "replica %d: %s\n", i, r[i].err);
        CHECK_INT(r[i].rc, PB_OK);
        created += r[i].created;
        CHECK_INT(r[i].sticky, r[0].sticky);
    }
    CHECK_INT(created, 1);
    pthread_barrier_destroy(&go);
    /* and the owner still decides: another user's turn on the stored conversation */
    int64_t sticky = 0;
    int made = 0;
    CHECK_INT(feedback_open_conversation(s, "conv-race", "someone-else", e.id, arms[0].id, NULL,
                                         &sticky, &made, err),
              PB_ERR_FORBIDDEN);
    arms_list_free(arms, n_arms);
    store_experiment_clear(&e);
    store_close(s);
}

/* Two replicas' writers meeting the same new users in opposite orders, many batches. */
struct submitter {
    writer *w;
    int64_t experiment_id, arm_id;
    int descending;
    pthread_barrier_t *go;
    int failed_submits;
};

enum { USERS = 150, ROUNDS = 12 };

static void *submit_users(void *arg)
{
    struct submitter *m = arg;
    char err[PB_ERR_LEN], user[32];
    pthread_barrier_wait(m->go);
    for (int r = 0; r < ROUNDS; r++) {
        for (int k = 0; k < USERS; k++) {
            int u = m->descending ? USERS - 1 - k : k;
            snprintf(user, sizeof user, "new-%d-%03d", r, u);
            struct feedback_impression imp = {.experiment_id = m->experiment_id,
                                              .arm_id = m->arm_id,
                                              .user_id = user,
                                              .activated = 1};
            int64_t id;
            if (writer_submit_impression(m->w, &imp, &id, NULL, NULL, err) != PB_OK)
                m->failed_submits++;
        }
        if (writer_flush(m->w, err) != PB_OK)
            m->failed_submits++;
    }
    return NULL;
}

static void test_two_writers_meeting_new_users_in_opposite_orders_never_fail(void)
{
    const char *url = pg_harness_createdb("race_users");
    char err[PB_ERR_LEN];
    store *s = open_ok(url);
    CHECK(s != NULL);
    if (!s)
        return;
    struct store_experiment e = {0};
    CHECK_INT(arms_ensure_default(s, check_source_path("prompts"), "thompson", &e, NULL, err),
              PB_OK);
    struct arm *arms = NULL;
    size_t n_arms = 0;
    CHECK_INT(arms_list(s, e.id, false, &arms, &n_arms, err), PB_OK);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    struct submitter m[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        m[i] = (struct submitter){
            .experiment_id = e.id, .arm_id = n_arms ? arms[0].id : 0, .descending = i, .go = &go};
        store *own = open_ok(url);
        CHECK(own != NULL);
        CHECK_INT(writer_new(own, 0, &m[i].w, err), PB_OK);
        pthread_create(&t[i], NULL, submit_users, &m[i]);
    }
    uint64_t failed = 0, retried = 0;
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        CHECK_INT(m[i].failed_submits, 0);
        struct writer_stats ws;
        writer_stats_get(m[i].w, &ws);
        failed += ws.failed_commits;
        retried += ws.retried_batches;
        writer_free(m[i].w);
    }
    printf("two writers, %d new users x %d rounds each: %llu failed commits, %llu retried "
           "batches\n",
           USERS, ROUNDS, (unsigned long long)failed, (unsigned long long)retried);
    CHECK_INT((long long)failed, 0);
    struct store_counts c;
    CHECK_INT(store_count_rows(s, &c, err), PB_OK);
    CHECK_INT(c.impressions, 2 * USERS * ROUNDS);
    CHECK_INT(c.users, USERS * ROUNDS);
    pthread_barrier_destroy(&go);
    arms_list_free(arms, n_arms);
    store_experiment_clear(&e);
    store_close(s);
}

int main(void)
{
    pg_harness_start();
    RUN(test_replicas_starting_together_share_one_experiment_and_its_arms);
    RUN(test_first_turns_on_several_replicas_agree_on_the_sticky_arm);
    RUN(test_two_writers_meeting_new_users_in_opposite_orders_never_fail);
    CHECK_DONE();
}
