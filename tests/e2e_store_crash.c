/* e2e_store_crash.c — durability under kill -9: a child process inserts rewards as fast as it can
 * and prints the id of each acknowledged one to a pipe; the parent kills it with SIGKILL mid-way,
 * reopens the database and checks that every acknowledged reward is there and that
 * PRAGMA integrity_check passes. Run for synchronous FULL and NORMAL (both survive a crash;
 * only FULL survives a power loss: tests/e2e_store_powerloss.c). Then the same through the
 * group-commit writer with write-behind impressions: the child prints each impression id when
 * it is handed out (before its commit) and each reward when its done callback reports the
 * commit; after the kill every acknowledged reward is stored with its impression, and a new
 * writer never hands out an id the dead one had already told. */
#include "store/arms.h"
#include "check.h"
#include "testdb.h"
#include "store/feedback.h"
#include "store/experiment.h"
#include "store/store.h"
#include "store/writer.h"

#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#define ACKS_BEFORE_KILL 300
#define MAX_ACKS         100000

/* The child: never returns. Writes "id\n" after each acknowledged reward. */
static void child_insert_forever(const char *path, const char *sync, int64_t exp, int64_t arm,
                                 int out_fd)
{
    char err[PB_ERR_LEN], line[32];
    store *s = NULL;
    struct store_options opt = {.busy_timeout_ms = 5000, .synchronous = sync};
    if (store_open(path, &opt, &s, err) != PB_OK)
        _exit(3);
    for (int i = 0; i < MAX_ACKS; i++) {
        int64_t imp, id;
        int dup;
        struct feedback_impression im = {.experiment_id = exp, .arm_id = arm, .activated = 1};
        if (feedback_insert_impression(s, &im, &imp, err) != PB_OK)
            _exit(4);
        struct feedback_reward r = {.impression_id = imp, .source = "click", .value = 1};
        if (feedback_insert_reward(s, &r, &id, &dup, err) != PB_OK)
            _exit(5);
        int n = snprintf(line, sizeof line, "%lld\n", (long long)id);
        if (write(out_fd, line, (size_t)n) != n)
            _exit(6);
    }
    _exit(0);
}

/* Every stored reward of an experiment with its impression, in id order. */
struct reward_imp {
    int64_t *ids, *imps;
    size_t n, cap;
};

static int collect_pairs(void *ctx, const struct feedback_reward_row *row)
{
    struct reward_imp *set = ctx;
    if (set->n == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 1024;
        set->ids = realloc(set->ids, set->cap * sizeof *set->ids);
        set->imps = realloc(set->imps, set->cap * sizeof *set->imps);
        if (!set->ids || !set->imps)
            return -1;
    }
    set->ids[set->n] = row->reward_id;
    set->imps[set->n++] = row->impression_id;
    return 0;
}

/* A fresh database with one experiment and arm; the child processes write into it. */
struct crash_db {
    char path[512];
    struct store_options opt;
    struct store_experiment e;
    int64_t arm;
};

typedef void child_fn(const char *path, const char *sync, int64_t exp, int64_t arm, int out_fd);

static void crash_db_create(struct crash_db *db, const char *name, const char *sync)
{
    char err[PB_ERR_LEN];
    store *s = NULL;
    testdb_make(db->path, sizeof db->path, check_tmpdir(), name);
    db->opt = (struct store_options){.busy_timeout_ms = 5000, .synchronous = sync};
    CHECK_INT(store_open(db->path, &db->opt, &s, err), PB_OK);
    CHECK_INT(store_experiment_get_or_create(s, "crash", "live", "ucb1", &db->e, err), PB_OK);
    CHECK_INT(arms_add(s, db->e.id, "A", "prompt", NULL, &db->arm, NULL, err), PB_OK);
    store_close(s);
}

/* Forks a child running fn on db; *fd gets the read end of its pipe. */
static pid_t crash_child_start(const struct crash_db *db, child_fn *fn, int *fd)
{
    int fds[2];
    CHECK_INT(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        fn(db->path, db->opt.synchronous, db->e.id, db->arm, fds[1]);
    }
    close(fds[1]);
    *fd = fds[0];
    return pid;
}

/* Closes fd, reaps the child and checks that SIGKILL ended it; reopens the database and
 * checks its integrity. */
static store *crash_child_reap(const struct crash_db *db, pid_t pid, int fd)
{
    char err[PB_ERR_LEN];
    store *s = NULL;
    int status = 0;
    close(fd);
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CHECK_INT(store_open(db->path, &db->opt, &s, err), PB_OK);
    CHECK_INT(store_integrity_check(s, err), PB_OK);
    return s;
}

/* Reads the child's lines from fd until it closes, calling on_line with each whole line; kills
 * the child with SIGKILL once on_line returned 1 (enough acknowledgements seen). A partial last
 * line was never acknowledged and is dropped. */
static void read_lines(int fd, pid_t child, int (*on_line)(void *ctx, const char *line), void *ctx)
{
    char buf[4096], line[64];
    size_t len = 0;
    int killed = 0;
    ssize_t got;
    while ((got = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < got; i++) {
            if (buf[i] != '\n') {
                if (len + 1 < sizeof line)
                    line[len++] = buf[i];
                continue;
            }
            line[len] = '\0';
            len = 0;
            if (on_line(ctx, line) && !killed) {
                kill(child, SIGKILL);
                killed = 1;
            }
        }
    }
}

struct acks {
    int64_t ids[MAX_ACKS];
    size_t n;
};

static int ack_line(void *ctx, const char *line)
{
    struct acks *a = ctx;
    if (a->n < MAX_ACKS)
        a->ids[a->n++] = strtoll(line, NULL, 10);
    return a->n >= ACKS_BEFORE_KILL;
}

static void crash_and_check(const char *sync)
{
    char err[PB_ERR_LEN];
    struct crash_db db;
    int fd;
    crash_db_create(&db, "crash.db", sync);
    pid_t pid = crash_child_start(&db, child_insert_forever, &fd);
    static struct acks a;
    a.n = 0;
    read_lines(fd, pid, ack_line, &a);
    store *s = crash_child_reap(&db, pid, fd);
    size_t n_acks = a.n;
    const int64_t *acks = a.ids;
    CHECK(n_acks >= ACKS_BEFORE_KILL);
    struct reward_imp set = {0};
    CHECK_INT(feedback_reward_foreach(s, db.e.id, collect_pairs, &set, err), 0);
    size_t missing = 0, j = 0;
    for (size_t i = 0; i < n_acks; i++) { /* both lists ascend */
        while (j < set.n && set.ids[j] < acks[i])
            j++;
        if (j == set.n || set.ids[j] != acks[i])
            missing++;
    }
    printf("synchronous=%s: %zu acknowledged, %zu stored, %zu missing\n", sync, n_acks, set.n,
           missing);
    CHECK_INT(missing, 0);
    CHECK(set.n >= n_acks);
    free(set.ids);
    free(set.imps);
    store_experiment_clear(&db.e);
    store_close(s);
}

/* ---- through the writer, impressions written behind ------------------------------------ */

#define WRITER_ACKS_BEFORE_KILL 2000

static int child_fd = -1; /* the child's end of the pipe */

static void write_line(const char *line, int n)
{
    if (write(child_fd, line, (size_t)n) != n) /* shorter than PIPE_BUF: never torn */
        _exit(6);
}

/* The reward's done: "r <reward id> <impression id>" once its batch committed. */
static void reward_acked(pb_status rc, int64_t id, int duplicate, const char *err, void *ud)
{
    (void)duplicate, (void)err;
    char line[64];
    if (rc != PB_OK)
        _exit(5);
    int n = snprintf(line, sizeof line, "r %lld %lld\n", (long long)id, (long long)(intptr_t)ud);
    write_line(line, n);
}

/* The child: never returns. "i <id>" when an impression id is handed out (written behind),
 * then a reward on it whose done prints its acknowledgement. */
static void child_write_behind_forever(const char *path, const char *sync, int64_t exp, int64_t arm,
                                       int out_fd)
{
    char err[PB_ERR_LEN], line[64];
    store *s = NULL;
    writer *w = NULL;
    struct store_options opt = {.busy_timeout_ms = 5000, .synchronous = sync};
    child_fd = out_fd;
    if (store_open(path, &opt, &s, err) != PB_OK || writer_new(s, 0, &w, err) != PB_OK)
        _exit(3);
    for (int i = 0; i < MAX_ACKS; i++) {
        int64_t imp = 0;
        struct feedback_impression im = {.experiment_id = exp, .arm_id = arm, .activated = 1};
        pb_status rc;
        while ((rc = writer_submit_impression(w, &im, &imp, NULL, NULL, err)) == PB_ERR_LIMIT)
            usleep(1000);
        if (rc != PB_OK)
            _exit(4);
        write_line(line, snprintf(line, sizeof line, "i %lld\n", (long long)imp));
        struct feedback_reward r = {.impression_id = imp, .source = "click", .value = 1};
        while ((rc = writer_submit_reward(w, &r, NULL, reward_acked, (void *)(intptr_t)imp, err)) ==
               PB_ERR_LIMIT)
            usleep(1000);
        if (rc != PB_OK)
            _exit(4);
    }
    writer_free(w);
    _exit(0);
}

struct writer_acks {
    int64_t *rewards, *reward_imps; /* acknowledged rewards and their impressions */
    size_t n_rewards;
    int64_t max_told; /* the largest impression id handed out */
};

/* "i <id>": an id handed out; "r <reward> <impression>": a reward acknowledged. Enough after
 * WRITER_ACKS_BEFORE_KILL rewards. */
static int writer_ack_line(void *ctx, const char *line)
{
    struct writer_acks *a = ctx;
    long long x = 0, y = 0;
    if (line[0] == 'i' && sscanf(line, "i %lld", &x) == 1 && x > a->max_told)
        a->max_told = x;
    if (line[0] == 'r' && sscanf(line, "r %lld %lld", &x, &y) == 2 && a->n_rewards < MAX_ACKS) {
        a->rewards[a->n_rewards] = x;
        a->reward_imps[a->n_rewards++] = y;
    }
    return a->n_rewards >= WRITER_ACKS_BEFORE_KILL;
}

static void crash_writer_and_check(const char *sync)
{
    char err[PB_ERR_LEN];
    struct crash_db db;
    int fd;
    crash_db_create(&db, "crash-writer.db", sync);
    pid_t pid = crash_child_start(&db, child_write_behind_forever, &fd);
    static int64_t rewards[MAX_ACKS], imps[MAX_ACKS];
    struct writer_acks acks = {.rewards = rewards, .reward_imps = imps};
    read_lines(fd, pid, writer_ack_line, &acks);
    store *s = crash_child_reap(&db, pid, fd);
    CHECK(acks.n_rewards >= WRITER_ACKS_BEFORE_KILL);
    struct reward_imp set = {0};
    CHECK_INT(feedback_reward_foreach(s, db.e.id, collect_pairs, &set, err), 0);
    size_t missing = 0, wrong = 0, j = 0;
    for (size_t i = 0; i < acks.n_rewards; i++) { /* acknowledged in commit order: ascending */
        while (j < set.n && set.ids[j] < acks.rewards[i])
            j++;
        if (j == set.n || set.ids[j] != acks.rewards[i])
            missing++;
        else if (set.imps[j] != acks.reward_imps[i])
            wrong++;
    }
    struct store_counts c;
    CHECK_INT(store_count_rows(s, &c, err), PB_OK);
    printf("writer, synchronous=%s: %zu rewards acknowledged, %zu stored, %zu missing; "
           "impression ids told up to %lld, %lld impressions stored\n",
           sync, acks.n_rewards, set.n, missing, (long long)acks.max_told,
           (long long)c.impressions);
    CHECK_INT(missing, 0);
    CHECK_INT(wrong, 0); /* each with its own impression (the walk joins it: it exists) */
    /* a new writer never hands out an id the dead one had told */
    writer *w = NULL;
    int64_t next = 0;
    CHECK_INT(writer_new(s, 0, &w, err), PB_OK);
    struct feedback_impression im = {.experiment_id = db.e.id, .arm_id = db.arm, .activated = 1};
    CHECK_INT(writer_impression(w, &im, &next, err), PB_OK);
    CHECK(next > acks.max_told);
    writer_free(w); /* closes s */
    free(set.ids);
    free(set.imps);
    store_experiment_clear(&db.e);
}

static void test_acknowledged_rewards_survive_kill_9_full(void)
{
    crash_and_check("FULL");
}

static void test_acknowledged_rewards_survive_kill_9_normal(void)
{
    crash_and_check("NORMAL");
}

static void test_writer_acknowledged_rewards_and_their_impressions_survive_kill_9(void)
{
    crash_writer_and_check("FULL");
}

int main(void)
{
    RUN(test_acknowledged_rewards_survive_kill_9_full);
    RUN(test_acknowledged_rewards_survive_kill_9_normal);
    RUN(test_writer_acknowledged_rewards_and_their_impressions_survive_kill_9);
    CHECK_DONE();
}
