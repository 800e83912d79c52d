/* e2e_store_crash.c — durability under kill -9: a child process inserts rewards as fast as it can
 * and prints the id of each acknowledged one to a pipe; the parent kills it with SIGKILL mid-way,
 * reopens the database and checks that every acknowledged reward is there and that
 * PRAGMA integrity_check passes. Run for synchronous FULL and NORMAL (both survive a crash;
 * only FULL survives a power loss, which a test cannot simulate). */
#include "store/arms.h"
#include "check.h"
#include "store/feedback.h"
#include "store/experiment.h"
#include "store/store.h"

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

struct id_set {
    int64_t *ids;
    size_t n, cap;
};

static int collect_ids(void *ctx, const struct feedback_reward_row *row)
{
    struct id_set *set = ctx;
    if (set->n == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 1024;
        set->ids = realloc(set->ids, set->cap * sizeof *set->ids);
        if (!set->ids)
            return -1;
    }
    set->ids[set->n++] = row->reward_id;
    return 0;
}

/* Reads acknowledged ids from fd; kills the child after `kill_after` of them. */
static size_t read_acks(int fd, pid_t child, int64_t *acks, size_t max, size_t kill_after)
{
    char buf[4096], line[32];
    size_t n = 0, len = 0;
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
            if (n < max)
                acks[n++] = strtoll(line, NULL, 10);
        }
        if (!killed && n >= kill_after) {
            kill(child, SIGKILL);
            killed = 1;
        }
    }
    return n; /* a partial last line was never acknowledged */
}

static void crash_and_check(const char *sync)
{
    char err[PB_ERR_LEN], path[512];
    snprintf(path, sizeof path, "%s/crash.db", check_tmpdir());
    struct store_options opt = {.busy_timeout_ms = 5000, .synchronous = sync};
    store *s = NULL;
    struct store_experiment e;
    int64_t arm;
    CHECK_INT(store_open(path, &opt, &s, err), PB_OK);
    CHECK_INT(store_experiment_get_or_create(s, "crash", "live", "ucb1", &e, err), PB_OK);
    CHECK_INT(arms_add(s, e.id, "A", "prompt", NULL, &arm, NULL, err), PB_OK);
    store_close(s);
    int fds[2];
    CHECK_INT(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        child_insert_forever(path, sync, e.id, arm, fds[1]);
    }
    close(fds[1]);
    static int64_t acks[MAX_ACKS];
    size_t n_acks = read_acks(fds[0], pid, acks, MAX_ACKS, ACKS_BEFORE_KILL);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CHECK(n_acks >= ACKS_BEFORE_KILL);

    CHECK_INT(store_open(path, &opt, &s, err), PB_OK);
    CHECK_INT(store_integrity_check(s, err), PB_OK);
    struct id_set set = {0};
    CHECK_INT(feedback_reward_foreach(s, e.id, collect_ids, &set, err), 0);
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
    store_experiment_clear(&e);
    store_close(s);
}

static void test_acknowledged_rewards_survive_kill_9_full(void)
{
    crash_and_check("FULL");
}

static void test_acknowledged_rewards_survive_kill_9_normal(void)
{
    crash_and_check("NORMAL");
}

int main(void)
{
    RUN(test_acknowledged_rewards_survive_kill_9_full);
    RUN(test_acknowledged_rewards_survive_kill_9_normal);
    CHECK_DONE();
}
