/* runs.c — offline runs, their steps and judge evaluations in SQLite. */
#include "store/runs.h"

#include "store/stmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *SQL_RUN_INSERT =
    "INSERT INTO runs (name, kind, config, created_at) VALUES (?1, ?2, ?3, ?4)";
static const char *SQL_RUN_FINISH = "UPDATE runs SET status = ?2, finished_at = ?3 WHERE id = ?1";
static const char *SQL_RUN_CLOSE = "UPDATE runs SET status = ?2, finished_at = ?3, "
                                   "stop_reason = ?4, winner_arm_id = nullif(?5, 0) WHERE id = ?1";
static const char *SQL_RUN_SET_EXPERIMENT = "UPDATE runs SET experiment_id = ?2 WHERE id = ?1";
static const char *SQL_RUN_REOPEN = "UPDATE runs SET status = 'running', finished_at = NULL, "
                                    "stop_reason = NULL WHERE id = ?1";
#define RUN_COLUMNS                                                                                \
    "SELECT r.id, r.name, r.kind, r.config, r.status, r.created_at, coalesce(r.finished_at, 0), "  \
    "(SELECT count(*) FROM run_steps WHERE run_id = r.id AND status = 'ok'), "                     \
    "(SELECT count(*) FROM run_steps WHERE run_id = r.id AND status = 'failed'), "                 \
    "(SELECT count(*) FROM run_steps WHERE run_id = r.id AND status = 'pending'), "                \
    "coalesce(r.experiment_id, 0), coalesce(r.winner_arm_id, 0), r.stop_reason FROM runs r "
static const char *SQL_RUN_LIST = RUN_COLUMNS "ORDER BY r.id DESC";
static const char *SQL_RUN_GET = RUN_COLUMNS "WHERE r.id = ?1";
static const char *SQL_RUN_WINNER =
    "SELECT a.id, a.name, a.prompt FROM runs r JOIN arms a ON a.id = r.winner_arm_id "
    "WHERE r.id = ?1";
static const char *SQL_STEP_PUT =
    "INSERT INTO run_steps (run_id, iteration, arm_id, scenario, output, score, status, error, "
    "tokens, cost, created_at, calls, attempts, propensity, emotion, reason) VALUES (?1, ?2, "
    "nullif(?3, 0), ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, nullif(?14, 0), ?15, "
    "nullif(?16, '')) "
    "ON CONFLICT (run_id, iteration) DO UPDATE SET arm_id = excluded.arm_id, "
    "scenario = excluded.scenario, output = excluded.output, score = excluded.score, "
    "status = excluded.status, error = excluded.error, tokens = excluded.tokens, "
    "cost = excluded.cost, created_at = excluded.created_at, calls = excluded.calls, "
    "attempts = excluded.attempts, propensity = excluded.propensity, emotion = excluded.emotion, "
    "reason = excluded.reason";
static const char *SQL_STEP_LIST =
    "SELECT run_id, iteration, coalesce(arm_id, 0), scenario, output, score, status, error, "
    "tokens, cost, calls, attempts, coalesce(propensity, 0), emotion, reason FROM run_steps "
    "WHERE run_id = ?1 ORDER BY iteration";
static const char *SQL_JUDGE_EVAL_INSERT =
    "INSERT INTO judge_evals (created_at, judge_kind, figures) VALUES (?1, ?2, ?3)";
static const char *SQL_JUDGE_EVAL_LATEST =
    "SELECT id, created_at, judge_kind, figures FROM judge_evals WHERE id IN "
    "(SELECT max(id) FROM judge_evals GROUP BY judge_kind) ORDER BY judge_kind";

pb_status runs_create(store *s, const char *name, const char *kind, const char *config_json,
                      int64_t *run_id, char *err)
{
    if (!name || !*name || !kind || !*kind)
        return pb_errf(err, PB_ERR_INVALID, "a run needs a name and a kind");
    if (!store_json_valid(config_json, false))
        return pb_errf(err, PB_ERR_INVALID, "run '%s': config is not valid JSON", name);
    pb_status rc = stmt_exec(s, SQL_RUN_INSERT, "creating a run", err, STMT_TEXT(name),
                             STMT_TEXT(kind), STMT_TEXT(config_json), STMT_REAL(store_now()));
    if (rc == PB_OK)
        *run_id = store_last_insert_id(s);
    return rc;
}

static pb_status check_status(const char *status, char *err)
{
    if (!status || (strcmp(status, "finished") != 0 && strcmp(status, "failed") != 0 &&
                    strcmp(status, "interrupted") != 0))
        return pb_errf(err, PB_ERR_INVALID, "run status must be finished, failed or interrupted");
    return PB_OK;
}

/* Runs an UPDATE on one run given by ?1; PB_ERR_NOT_FOUND when no row changed. */
static pb_status update_run(store *s, const char *sql, const struct stmt_arg *args, int64_t run_id,
                            const char *what, char *err)
{
    pb_status rc = stmt_exec_argv(s, sql, args, what, err);
    if (rc == PB_OK && store_changes(s) == 0)
        rc = pb_errf(err, PB_ERR_NOT_FOUND, "no run with id %lld", (long long)run_id);
    return rc;
}

pb_status runs_finish(store *s, int64_t run_id, const char *status, char *err)
{
    pb_status rc = check_status(status, err);
    if (rc != PB_OK)
        return rc;
    return update_run(s, SQL_RUN_FINISH,
                      STMT_ARGV(STMT_INT(run_id), STMT_TEXT(status), STMT_REAL(store_now())),
                      run_id, "finishing a run", err);
}

pb_status runs_close(store *s, int64_t run_id, const char *status, const char *stop_reason,
                     int64_t winner_arm_id, char *err)
{
    pb_status rc = check_status(status, err);
    if (rc != PB_OK)
        return rc;
    rc = update_run(s, SQL_RUN_CLOSE,
                    STMT_ARGV(STMT_INT(run_id), STMT_TEXT(status), STMT_REAL(store_now()),
                              STMT_TEXT(stop_reason), STMT_INT(winner_arm_id)),
                    run_id, "closing a run", err);
    if (rc != PB_OK && store_error_kind(s) == STORE_ERR_FOREIGNKEY)
        rc = pb_errf(err, PB_ERR_NOT_FOUND, "arm %lld does not exist", (long long)winner_arm_id);
    return rc;
}

pb_status runs_set_experiment(store *s, int64_t run_id, int64_t experiment_id, char *err)
{
    pb_status rc =
        update_run(s, SQL_RUN_SET_EXPERIMENT, STMT_ARGV(STMT_INT(run_id), STMT_INT(experiment_id)),
                   run_id, "linking a run to its experiment", err);
    if (rc != PB_OK && store_error_kind(s) == STORE_ERR_FOREIGNKEY)
        rc = pb_errf(err, PB_ERR_NOT_FOUND, "experiment %lld does not exist",
                     (long long)experiment_id);
    return rc;
}

pb_status runs_reopen(store *s, int64_t run_id, char *err)
{
    return update_run(s, SQL_RUN_REOPEN, STMT_ARGV(STMT_INT(run_id)), run_id, "reopening a run",
                      err);
}

static void clear_run(void *item)
{
    struct run *r = item;
    free(r->name);
    free(r->kind);
    free(r->config_json);
    free(r->status);
    free(r->stop_reason);
}

void runs_list_free(struct run *list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        clear_run(&list[i]);
    free(list);
}

static pb_status read_run(store_stmt *st, void *item, char *err)
{
    struct run *r = item;
    int ok = 1;
    memset(r, 0, sizeof *r);
    r->id = store_col_int(st, 0);
    r->name = stmt_column_strdup(st, 1, &ok);
    r->kind = stmt_column_strdup(st, 2, &ok);
    r->config_json = stmt_column_strdup(st, 3, &ok);
    r->status = stmt_column_strdup(st, 4, &ok);
    r->created_at = store_col_real(st, 5);
    r->finished_at = store_col_real(st, 6);
    r->steps_ok = store_col_int(st, 7);
    r->steps_failed = store_col_int(st, 8);
    r->steps_pending = store_col_int(st, 9);
    r->experiment_id = store_col_int(st, 10);
    r->winner_arm_id = store_col_int(st, 11);
    r->stop_reason = stmt_column_strdup(st, 12, &ok);
    if (!ok) {
        clear_run(r);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    return PB_OK;
}

pb_status runs_list(store *s, struct run **out, size_t *n, char *err)
{
    store_stmt *st;
    struct stmt_rows rows = {0};
    pb_status rc = store_prepare(s, SQL_RUN_LIST, &st, err);
    if (rc == PB_OK)
        rc = stmt_read_all(s, st, sizeof **out, read_run, clear_run, &rows, "listing runs", err);
    *out = rows.items; /* empty on failure */
    *n = rows.n;
    return rc;
}

pb_status runs_get(store *s, int64_t run_id, struct run **out, char *err)
{
    char absent[64];
    *out = NULL;
    struct run *r = calloc(1, sizeof *r);
    if (!r)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    snprintf(absent, sizeof absent, "no run with id %lld", (long long)run_id);
    pb_status rc = stmt_read_one_argv(s, SQL_RUN_GET, STMT_ARGV(STMT_INT(run_id)), read_run, r,
                                      absent, "reading a run", err);
    if (rc != PB_OK) {
        free(r);
        return rc;
    }
    *out = r;
    return PB_OK;
}

pb_status runs_winner(store *s, int64_t run_id, int64_t *arm_id, char *arm_name, char **prompt,
                      char *err)
{
    store_stmt *st;
    int ok = 1;
    *prompt = NULL;
    int row =
        stmt_first(s, SQL_RUN_WINNER, &st, "reading the winner of a run", err, STMT_INT(run_id));
    if (row < 0)
        return row;
    if (row == 0)
        return pb_errf(err, PB_ERR_NOT_FOUND,
                       "run %lld does not exist or has no winner yet (still running, or no arm "
                       "had a reward)",
                       (long long)run_id);
    *arm_id = store_col_int(st, 0);
    if (arm_name)
        stmt_column_copy(st, 1, arm_name, ARM_NAME_MAX + 1);
    *prompt = stmt_column_strdup(st, 2, &ok);
    store_reset(st);
    return ok ? PB_OK : pb_errf(err, PB_ERR_NOMEM, "out of memory");
}

pb_status runs_step_put(store *s, const struct run_step *step, char *err)
{
    const char *status = step->status ? step->status : "";
    if (strcmp(status, "ok") != 0 && strcmp(status, "failed") != 0 &&
        strcmp(status, "pending") != 0)
        return pb_errf(err, PB_ERR_INVALID, "step status must be ok, failed or pending");
    if (step->has_score && !(isfinite(step->score) && fabs(step->score) <= 1))
        return pb_errf(err, PB_ERR_INVALID, "step score must be a number in [-1, 1]");
    if (!(step->propensity >= 0 && step->propensity <= 1))
        return pb_errf(err, PB_ERR_INVALID, "step propensity must be in (0, 1] (0 = none)");
    pb_status rc =
        stmt_exec(s, SQL_STEP_PUT, "storing a run step", err, STMT_INT(step->run_id),
                  STMT_INT(step->iteration), STMT_INT(step->arm_id), STMT_TEXT(step->scenario),
                  STMT_TEXT(step->output), step->has_score ? STMT_REAL(step->score) : STMT_NULL,
                  STMT_TEXT(status), STMT_TEXT(step->error), STMT_INT(step->tokens),
                  STMT_REAL(step->cost), STMT_REAL(store_now()), STMT_INT(step->calls),
                  STMT_INT(step->attempts), STMT_REAL(step->propensity), STMT_TEXT(step->emotion),
                  STMT_TEXT(step->has_score ? step->reason : NULL));
    if (rc != PB_OK && store_error_kind(s) == STORE_ERR_FOREIGNKEY)
        rc = pb_errf(err, PB_ERR_NOT_FOUND, "run %lld or arm %lld does not exist",
                     (long long)step->run_id, (long long)step->arm_id);
    return rc;
}

pb_status runs_step_put_many(store *s, const struct run_step *steps, size_t n, char *err)
{
    pb_status rc = store_begin(s, err);
    for (size_t i = 0; rc == PB_OK && i < n; i++)
        rc = runs_step_put(s, &steps[i], err);
    return store_end(s, rc, err);
}

int runs_step_foreach(store *s, int64_t run_id, int (*fn)(void *ctx, const struct run_step *step),
                      void *ctx, char *err)
{
    store_stmt *st = NULL;
    int row = 0, rc = stmt_prepare(s, SQL_STEP_LIST, &st, err, STMT_INT(run_id));
    while (rc == 0 && (row = stmt_step(s, st, "reading run steps", err)) == 1) {
        struct run_step step = {
            .run_id = store_col_int(st, 0),
            .iteration = store_col_int(st, 1),
            .arm_id = store_col_int(st, 2),
            .scenario = store_col_text(st, 3),
            .output = store_col_text(st, 4),
            .has_score = !store_col_is_null(st, 5),
            .score = store_col_real(st, 5),
            .status = store_col_text(st, 6),
            .error = store_col_text(st, 7),
            .tokens = store_col_int(st, 8),
            .cost = store_col_real(st, 9),
            .calls = store_col_int(st, 10),
            .attempts = store_col_int(st, 11),
            .propensity = store_col_real(st, 12),
            .emotion = store_col_text(st, 13),
            .reason = store_col_text(st, 14),
        };
        rc = fn(ctx, &step);
    }
    store_reset(st);
    return row < 0 ? row : rc;
}

pb_status runs_insert_judge_eval(store *s, const char *judge_kind, const char *figures_json,
                                 int64_t *id, char *err)
{
    if (!judge_kind || !*judge_kind)
        return pb_errf(err, PB_ERR_INVALID, "judge evaluation needs a judge kind");
    if (!figures_json || !store_json_valid(figures_json, true))
        return pb_errf(err, PB_ERR_INVALID, "judge evaluation figures must be a JSON object");
    pb_status rc =
        stmt_exec(s, SQL_JUDGE_EVAL_INSERT, "storing a judge evaluation", err,
                  STMT_REAL(store_now()), STMT_TEXT(judge_kind), STMT_TEXT(figures_json));
    if (rc == PB_OK && id)
        *id = store_last_insert_id(s);
    return rc;
}

int runs_judge_eval_latest(store *s, int (*fn)(void *ctx, const struct runs_judge_eval *ev),
                           void *ctx, char *err)
{
    store_stmt *st = NULL;
    int row = 0, rc = store_prepare(s, SQL_JUDGE_EVAL_LATEST, &st, err);
    while (rc == 0 && (row = stmt_step(s, st, "reading judge evaluations", err)) == 1) {
        struct runs_judge_eval ev = {
            .id = store_col_int(st, 0),
            .created_at = store_col_real(st, 1),
            .judge_kind = store_col_text(st, 2),
            .figures_json = store_col_text(st, 3),
        };
        rc = fn(ctx, &ev);
    }
    store_reset(st);
    return row < 0 ? row : rc;
}
