/* test_offline_runrecord.c — a bandit-run's record: the options a run is created with come back
 * from the database field for field, with the scenarios file's hash; the run's arms are its
 * prompt files; a run bandit-run did not make, an unknown run and a run whose setup failed are
 * refused; and resuming after the scenarios file changed is refused as a conflict and marks the
 * run failed. */
#include "check.h"
#include "testdb.h"
#include "offline/offline.h"
#include "offline/runrecord.h"
#include "offline/scenarios.h"
#include "store/arms.h"
#include "store/runs.h"
#include "store/store.h"

#include <sys/stat.h>

static char prompts[600], scen_path[600];

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void setup_files(void)
{
    char p[700];
    const char *dir = check_tmpdir();
    snprintf(prompts, sizeof prompts, "%s/prompts", dir);
    snprintf(scen_path, sizeof scen_path, "%s/scenarios.txt", dir);
    mkdir(prompts, 0755);
    snprintf(p, sizeof p, "%s/A.txt", prompts);
    write_text(p, "PROMPT-A");
    snprintf(p, sizeof p, "%s/B.txt", prompts);
    write_text(p, "PROMPT-B");
    write_text(scen_path, "오늘 합격\t기쁨\n비가 온다\n");
}

static struct offline_options options(void)
{
    return (struct offline_options){.name = "nightly",
                                    .policy = "thompson",
                                    .iterations = 40,
                                    .batch = 4,
                                    .seed = 77,
                                    .scenarios_path = scen_path,
                                    .prompts_dir = prompts,
                                    .judge = "local",
                                    .judge_model = "/models/rm.pbrm",
                                    .step_attempts = 3,
                                    .budget = {.calls = 500, .tokens = 90000, .usd = 1.5},
                                    .price_prompt_per_1k = 0.25,
                                    .price_completion_per_1k = 0.5};
}

static store *open_db(void)
{
    store *db = NULL;
    char err[PB_ERR_LEN], path[512];
    if (store_open(testdb_make(path, sizeof path, NULL, ":memory:"), NULL, &db, err) != PB_OK)
        fprintf(stderr, "store_open: %s\n", err);
    return db;
}

static void test_recorded_options_come_back_field_for_field(void)
{
    store *db = open_db();
    struct offline_options in = options(), back;
    in.stop_confidence = 0.99;
    struct scenarios scen;
    void *owner = NULL;
    int64_t run = 0;
    char err[PB_ERR_LEN];
    CHECK(db != NULL);
    CHECK_INT(runrecord_create(db, &in, &run, err), PB_OK);
    CHECK_INT(runrecord_load(db, run, &back, &owner, err), PB_OK);
    CHECK_INT(scenarios_load(scen_path, &scen, err), PB_OK);
    if (owner) {
        CHECK_STR(back.name, "nightly");
        CHECK_STR(back.policy, "thompson");
        CHECK_INT(back.iterations, 40);
        CHECK_INT(back.batch, 4);
        CHECK_INT(back.seed, 77);
        CHECK_STR(back.scenarios_path, scen_path);
        CHECK_STR(back.prompts_dir, prompts);
        CHECK_STR(back.judge, "local");
        CHECK_STR(back.judge_model, "/models/rm.pbrm");
        CHECK(back.judge_rubric == NULL && back.judge_examples == NULL);
        CHECK_INT(back.step_attempts, 3);
        CHECK_INT(back.budget.calls, 500);
        CHECK_INT(back.budget.tokens, 90000);
        CHECK_NEAR(back.budget.usd, 1.5, 1e-12);
        CHECK_NEAR(back.price_prompt_per_1k, 0.25, 1e-12);
        CHECK_NEAR(back.price_completion_per_1k, 0.5, 1e-12);
        CHECK_NEAR(back.stop_confidence, 0.99, 1e-12);
        CHECK_STR(runrecord_scenarios_sha256(owner), scen.sha256);
    }
    runrecord_release(owner);
    scenarios_free(&scen);
    store_close(db);
}

static void test_a_run_has_its_prompt_files_as_arms(void)
{
    store *db = open_db();
    struct offline_options in = options();
    struct run *r = NULL;
    struct arm *arms = NULL;
    size_t n = 0;
    int64_t run = 0;
    char err[PB_ERR_LEN];
    CHECK_INT(runrecord_create(db, &in, &run, err), PB_OK);
    CHECK_INT(runs_get(db, run, &r, err), PB_OK);
    if (r) {
        CHECK_INT(runrecord_arms(db, r, 0, &arms, &n, err), PB_OK);
        CHECK_INT(n, 2);
        if (n == 2) {
            CHECK_STR(arms[0].name, "A");
            CHECK_STR(arms[1].prompt, "PROMPT-B");
        }
        arms_list_free(arms, n);
        r->experiment_id = 0; /* as a run whose setup failed before its arms were made */
        CHECK_INT(runrecord_arms(db, r, 0, &arms, &n, err), PB_ERR_INVALID);
        CHECK(strstr(err, "setup failed") != NULL);
    }
    runs_list_free(r, 1);
    store_close(db);
}

static void test_unknown_and_foreign_runs_are_refused(void)
{
    store *db = open_db();
    struct offline_options back;
    void *owner = NULL;
    int64_t other = 0;
    char err[PB_ERR_LEN];
    CHECK_INT(runrecord_load(db, 999, &back, &owner, err), PB_ERR_NOT_FOUND);
    CHECK(owner == NULL);
    CHECK_INT(runs_create(db, "sim", "simulate", "{}", &other, err), PB_OK);
    CHECK_INT(runrecord_load(db, other, &back, &owner, err), PB_ERR_INVALID);
    CHECK(owner == NULL);
    store_close(db);
}

static void test_resume_refuses_a_changed_scenarios_file(void)
{
    store *db = open_db();
    struct offline_options in = options();
    struct offline_env env = {.db = db};
    struct offline_result res;
    struct run *r = NULL;
    int64_t run = 0;
    char err[PB_ERR_LEN];
    CHECK_INT(runrecord_create(db, &in, &run, err), PB_OK);
    write_text(scen_path, "오늘 합격\t기쁨\n비가 온다\n바람이 분다\n");
    CHECK_INT(offline_continue(&env, run, NULL, &res, err), PB_ERR_CONFLICT);
    CHECK(strstr(err, "changed since run") != NULL);
    CHECK_STR(res.stop_reason, "error");
    CHECK_INT(runs_get(db, run, &r, err), PB_OK);
    if (r)
        CHECK_STR(r->status, "failed");
    runs_list_free(r, 1);
    setup_files(); /* restore the scenarios for the other tests */
    store_close(db);
}

int main(void)
{
    setup_files();
    RUN(test_recorded_options_come_back_field_for_field);
    RUN(test_a_run_has_its_prompt_files_as_arms);
    RUN(test_unknown_and_foreign_runs_are_refused);
    RUN(test_resume_refuses_a_changed_scenarios_file);
    CHECK_DONE();
}
