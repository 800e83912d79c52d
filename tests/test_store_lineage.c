/* test_store_lineage.c — the records of `bandit-run evolve` (migration 008): a generation and a
 * prompt's lineage come back field for field, a second put replaces the first (a verdict
 * updates the pending row), reads are ordered by generation then name and filter by
 * generation, and an evolve with no records reads as empty. */
#include "check.h"
#include "testdb.h"
#include "store/lineage.h"
#include "store/runs.h"

#include <string.h>

static void test_generations_and_lineage_round_trip(void)
{
    store *db = NULL;
    char err[PB_ERR_LEN], path[512];
    int64_t run = 0;
    CHECK_INT(store_open(testdb_make(path, sizeof path, NULL, ":memory:"), NULL, &db, err), PB_OK);
    CHECK_INT(runs_create(db, "ev", "evolve", "{}", &run, err), PB_OK);
    struct lineage_generation g = {.evolve_run_id = run,
                                   .generation = 1,
                                   .propose_calls = 2,
                                   .screen_run_id = 0,
                                   .status = "proposed"};
    snprintf(g.incumbent, sizeof g.incumbent, "S");
    CHECK_INT(lineage_generation_put(db, &g, err), PB_OK);
    g.screen_run_id = run; /* any run id will do */
    snprintf(g.status, sizeof g.status, "decided");
    snprintf(g.winner, sizeof g.winner, "P1");
    g.identified = 1;
    CHECK_INT(lineage_generation_put(db, &g, err), PB_OK);
    struct lineage_generation *gens = NULL;
    size_t n = 0;
    CHECK_INT(lineage_generations(db, run, &gens, &n, err), PB_OK);
    CHECK_INT(n, 1);
    CHECK_STR(gens[0].status, "decided");
    CHECK_STR(gens[0].winner, "P1");
    CHECK_STR(gens[0].incumbent, "S");
    CHECK_INT(gens[0].propose_calls, 2);
    CHECK_INT(gens[0].identified, 1);
    CHECK(gens[0].screen_run_id == run);
    free(gens);

    struct lineage_prompt p = {
        .evolve_run_id = run, .generation = 1, .prompt = "good prompt", .verdict = "pending"};
    snprintf(p.name, sizeof p.name, "P1");
    snprintf(p.parent, sizeof p.parent, "S");
    CHECK_INT(lineage_prompt_put(db, &p, err), PB_OK);
    snprintf(p.verdict, sizeof p.verdict, "admitted");
    p.samples = 12;
    p.mean = 0.75;
    p.glr = 0;
    p.threshold = 8.5;
    CHECK_INT(lineage_prompt_put(db, &p, err), PB_OK);
    struct lineage_prompt q = {
        .evolve_run_id = run, .generation = 0, .prompt = "seed", .verdict = "incumbent"};
    snprintf(q.name, sizeof q.name, "S");
    CHECK_INT(lineage_prompt_put(db, &q, err), PB_OK);
    struct lineage_prompt *rows = NULL;
    CHECK_INT(lineage_prompts(db, run, -1, &rows, &n, err), PB_OK);
    CHECK_INT(n, 2);
    CHECK_STR(rows[0].name, "S"); /* generation 0 first */
    CHECK_STR(rows[0].parent, "");
    CHECK_STR(rows[1].verdict, "admitted");
    CHECK_STR(rows[1].prompt, "good prompt");
    CHECK_STR(rows[1].parent, "S");
    CHECK_INT(rows[1].samples, 12);
    CHECK_NEAR(rows[1].mean, 0.75, 1e-12);
    CHECK_NEAR(rows[1].threshold, 8.5, 1e-12);
    lineage_prompts_free(rows, n);
    CHECK_INT(lineage_prompts(db, run, 1, &rows, &n, err), PB_OK);
    CHECK_INT(n, 1);
    lineage_prompts_free(rows, n);
    CHECK_INT(lineage_prompts(db, run + 99, -1, &rows, &n, err), PB_OK);
    CHECK(n == 0 && rows == NULL);
    store_close(db);
}

int main(void)
{
    RUN(test_generations_and_lineage_round_trip);
    CHECK_DONE();
}
