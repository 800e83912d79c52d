/* runs.c — offline runs, their steps and judge evaluations in SQLite. */
#include "store/runs.h"

#include <math.h>
#include <sqlite3.h>
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
    "tokens, cost, created_at, calls, attempts, propensity, emotion) VALUES (?1, ?2, "
    "nullif(?3, 0), ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, nullif(?14, 0), ?15) "
    "ON CONFLICT (run_id, iteration) DO UPDATE SET arm_id = excluded.arm_id, "
    "scenario = excluded.scenario, output = excluded.output, score = excluded.score, "
    "status = excluded.status, error = excluded.error, tokens = excluded.tokens, "
    "cost = excluded.cost, created_at = excluded.created_at, calls = excluded.calls, "
    "attempts = excluded.attempts, propensity = excluded.propensity, emotion = excluded.emotion";
static const char *SQL_STEP_LIST =
    "SELECT run_id, iteration, coalesce(arm_id, 0), scenario, output, score, status, error, "
    "tokens, cost, calls, attempts, coalesce(propensity, 0), emotion FROM run_steps "
    "WHERE run_id = ?1 ORDER BY iteration";
static const char *SQL_JUDGE_EVAL_INSERT =
    "INSERT INTO judge_evals (created_at, judge_kind, figures) VALUES (?1, ?2, ?3)";
static const char *SQL_JUDGE_EVAL_LATEST =
    "SELECT id, created_at, judge_kind, figures FROM judge_evals WHERE id IN "
    "(SELECT max(id) FROM judge_evals GROUP BY judge_kind) ORDER BY judge_kind";

int runs_create(store *s, const char *name, const char *kind, const char *config_json,
                int64_t *run_id, char *err)
{
    sqlite3_stmt *st;
    if (!name || !*name || !kind || !*kind)
        return pb_errf(err, PB_ERR_INVALID, "a run needs a name and a kind");
    if (!store_json_valid(config_json, 0))
        return pb_errf(err, PB_ERR_INVALID, "run '%s': config is not valid JSON", name);
    int rc = store_prepare(s, SQL_RUN_INSERT, &st, err);
    if (rc != PB_OK)
        return rc;
    store_bind_text(st, 1, name);
    store_bind_text(st, 2, kind);
    store_bind_text(st, 3, config_json);
    sqlite3_bind_double(st, 4, store_now());
    rc = store_exec_stmt(s, st, "creating a run", err);
    if (rc == PB_OK)
        *run_id = store_last_insert_id(s);
    return rc;
}

static int check_status(const char *status, char *err)
{
    if (!status || (strcmp(status, "finished") != 0 && strcmp(status, "failed") != 0 &&
                    strcmp(status, "interrupted") != 0))
        return pb_errf(err, PB_ERR_INVALID, "run status must be finished, failed or interrupted");
    return PB_OK;
}

/* Runs an UPDATE on one run given by ?1; PB_ERR_NOT_FOUND when no row changed. */
static int update_run(store *s, sqlite3_stmt *st, int64_t run_id, const char *what, char *err)
{
    int rc = store_exec_stmt(s, st, what, err);
    if (rc == PB_OK && store_changes(s) == 0)
        rc = pb_errf(err, PB_ERR_NOT_FOUND, "no run with id %lld", (long long)run_id);
    return rc;
}

int runs_finish(store *s, int64_t run_id, const char *status, char *err)
{
    sqlite3_stmt *st;
    int rc = check_status(status, err);
    if (rc == PB_OK)
        rc = store_prepare(s, SQL_RUN_FINISH, &st, err);
    if (rc != PB_OK)
        return rc;
    sqlite3_bind_int64(st, 1, run_id);
    store_bind_text(st, 2, status);
    sqlite3_bind_double(st, 3, store_now());
    return update_run(s, st, run_id, "finishing a run", err);
}

int runs_close(store *s, int64_t run_id, const char *status, const char *stop_reason,
               int64_t winner_arm_id, char *err)
{
    sqlite3_stmt *st;
    int rc = check_status(status, err);
    if (rc == PB_OK)
        rc = store_prepare(s, SQL_RUN_CLOSE, &st, err);
    if (rc != PB_OK)
        return rc;
    sqlite3_bind_int64(st, 1, run_id);
    store_bind_text(st, 2, status);
    sqlite3_bind_double(st, 3, store_now());
    store_bind_text(st, 4, stop_reason);
    sqlite3_bind_int64(st, 5, winner_arm_id);
    rc = update_run(s, st, run_id, "closing a run", err);
    if (rc != PB_OK && store_errcode(s) == SQLITE_CONSTRAINT_FOREIGNKEY)
        rc = pb_errf(err, PB_ERR_NOT_FOUND, "arm %lld does not exist", (long long)winner_arm_id);
    return rc;
}

int runs_set_experiment(store *s, int64_t run_id, int64_t experiment_id, char *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, SQL_RUN_SET_EXPERIMENT, &st, err);
    if (rc != PB_OK)
        return rc;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, experiment_id);
    rc = update_run(s, st, run_id, "linking a run to its experiment", err);
    if (rc != PB_OK && store_errcode(s) == SQLITE_CONSTRAINT_FOREIGNKEY)
        rc = pb_errf(err, PB_ERR_NOT_FOUND, "experiment %lld does not exist",
                     (long long)experiment_id);
    return rc;
}

int runs_reopen(store *s, int64_t run_id, char *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, SQL_RUN_REOPEN, &st, err);
    if (rc != PB_OK)
        return rc;
    sqlite3_bind_int64(st, 1, run_id);
    return update_run(s, st, run_id, "reopening a run", err);
}

void runs_list_free(struct run *list, size_t n)
{
    for (size_t i = 0; list && i < n; i++) {
        free(list[i].name);
        free(list[i].kind);
        free(list[i].config_json);
        free(list[i].status);
        free(list[i].stop_reason);
    }
    free(list);
}

static int read_run(sqlite3_stmt *st, struct run *r)
{
    int ok = 1;
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    r->name = store_column_strdup(st, 1, &ok);
    r->kind = store_column_strdup(st, 2, &ok);
    r->config_json = store_column_strdup(st, 3, &ok);
    r->status = store_column_strdup(st, 4, &ok);
    r->created_at = sqlite3_column_double(st, 5);
    r->finished_at = sqlite3_column_double(st, 6);
    r->steps_ok = sqlite3_column_int64(st, 7);
    r->steps_failed = sqlite3_column_int64(st, 8);
    r->steps_pending = sqlite3_column_int64(st, 9);
    r->experiment_id = sqlite3_column_int64(st, 10);
    r->winner_arm_id = sqlite3_column_int64(st, 11);
    r->stop_reason = store_column_strdup(st, 12, &ok);
    return ok;
}

int runs_list(store *s, struct run **out, size_t *n, char *err)
{
    sqlite3_stmt *st;
    struct run *list = NULL;
    size_t count = 0, cap = 0;
    int step = SQLITE_DONE;
    *out = NULL;
    *n = 0;
    int rc = store_prepare(s, SQL_RUN_LIST, &st, err);
    while (rc == PB_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? 2 * cap : 8;
            struct run *grown = realloc(list, cap * sizeof *list);
            if (!grown) {
                rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
                break;
            }
            list = grown;
        }
        if (!read_run(st, &list[count++]))
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    if (rc == PB_OK && step != SQLITE_DONE)
        rc = store_sql_error(s, "listing runs", err);
    sqlite3_reset(st);
    if (rc != PB_OK) {
        runs_list_free(list, count);
        return rc;
    }
    *out = list;
    *n = count;
    return PB_OK;
}

int runs_get(store *s, int64_t run_id, struct run **out, char *err)
{
    sqlite3_stmt *st;
    *out = NULL;
    int rc = store_prepare(s, SQL_RUN_GET, &st, err), step;
    if (rc != PB_OK)
        return rc;
    sqlite3_bind_int64(st, 1, run_id);
    step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        struct run *r = calloc(1, sizeof *r);
        if (!r)
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        else if (!read_run(st, r)) {
            runs_list_free(r, 1);
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        } else
            *out = r;
    } else if (step == SQLITE_DONE) {
        rc = pb_errf(err, PB_ERR_NOT_FOUND, "no run with id %lld", (long long)run_id);
    } else {
        rc = store_sql_error(s, "reading a run", err);
    }
    sqlite3_reset(st);
    return rc;
}

int runs_winner(store *s, int64_t run_id, int64_t *arm_id, char *arm_name, char **prompt, char *err)
{
    sqlite3_stmt *st;
    int ok = 1;
    *prompt = NULL;
    int rc = store_prepare(s, SQL_RUN_WINNER, &st, err), step;
    if (rc != PB_OK)
        return rc;
    sqlite3_bind_int64(st, 1, run_id);
    step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        *arm_id = sqlite3_column_int64(st, 0);
        if (arm_name)
            snprintf(arm_name, ARM_NAME_MAX + 1, "%s", (const char *)sqlite3_column_text(st, 1));
        *prompt = store_column_strdup(st, 2, &ok);
        if (!ok)
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    } else if (step == SQLITE_DONE) {
        rc = pb_errf(err, PB_ERR_NOT_FOUND,
                     "run %lld does not exist or has no winner yet (still running, or no arm "
                     "had a reward)",
                     (long long)run_id);
    } else {
        rc = store_sql_error(s, "reading the winner of a run", err);
    }
    sqlite3_reset(st);
    return rc;
}

int runs_step_put(store *s, const struct run_step *step, char *err)
{
    sqlite3_stmt *st;
    const char *status = step->status ? step->status : "";
    if (strcmp(status, "ok") != 0 && strcmp(status, "failed") != 0 &&
        strcmp(status, "pending") != 0)
        return pb_errf(err, PB_ERR_INVALID, "step status must be ok, failed or pending");
    if (step->has_score && !(isfinite(step->score) && fabs(step->score) <= 1))
        return pb_errf(err, PB_ERR_INVALID, "step score must be a number in [-1, 1]");
    if (!(step->propensity >= 0 && step->propensity <= 1))
        return pb_errf(err, PB_ERR_INVALID, "step propensity must be in (0, 1] (0 = none)");
    int rc = store_prepare(s, SQL_STEP_PUT, &st, err);
    if (rc != PB_OK)
        return rc;
    sqlite3_bind_int64(st, 1, step->run_id);
    sqlite3_bind_int64(st, 2, step->iteration);
    sqlite3_bind_int64(st, 3, step->arm_id);
    store_bind_text(st, 4, step->scenario);
    store_bind_text(st, 5, step->output);
    if (step->has_score)
        sqlite3_bind_double(st, 6, step->score);
    store_bind_text(st, 7, status);
    store_bind_text(st, 8, step->error);
    sqlite3_bind_int64(st, 9, step->tokens);
    sqlite3_bind_double(st, 10, step->cost);
    sqlite3_bind_double(st, 11, store_now());
    sqlite3_bind_int64(st, 12, step->calls);
    sqlite3_bind_int64(st, 13, step->attempts);
    sqlite3_bind_double(st, 14, step->propensity);
    store_bind_text(st, 15, step->emotion);
    rc = store_exec_stmt(s, st, "storing a run step", err);
    if (rc != PB_OK && store_errcode(s) == SQLITE_CONSTRAINT_FOREIGNKEY)
        rc = pb_errf(err, PB_ERR_NOT_FOUND, "run %lld or arm %lld does not exist",
                     (long long)step->run_id, (long long)step->arm_id);
    return rc;
}

int runs_step_put_many(store *s, const struct run_step *steps, size_t n, char *err)
{
    int rc = store_begin(s, err);
    for (size_t i = 0; rc == PB_OK && i < n; i++)
        rc = runs_step_put(s, &steps[i], err);
    if (rc == PB_OK)
        rc = store_commit(s, err);
    else
        store_rollback(s);
    return rc;
}

int runs_step_foreach(store *s, int64_t run_id, int (*fn)(void *ctx, const struct run_step *step),
                      void *ctx, char *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, SQL_STEP_LIST, &st, err), step;
    if (rc != PB_OK)
        return rc;
    sqlite3_bind_int64(st, 1, run_id);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct run_step row = {
            .run_id = sqlite3_column_int64(st, 0),
            .iteration = sqlite3_column_int64(st, 1),
            .arm_id = sqlite3_column_int64(st, 2),
            .scenario = (const char *)sqlite3_column_text(st, 3),
            .output = (const char *)sqlite3_column_text(st, 4),
            .has_score = sqlite3_column_type(st, 5) != SQLITE_NULL,
            .score = sqlite3_column_double(st, 5),
            .status = (const char *)sqlite3_column_text(st, 6),
            .error = (const char *)sqlite3_column_text(st, 7),
            .tokens = sqlite3_column_int64(st, 8),
            .cost = sqlite3_column_double(st, 9),
            .calls = sqlite3_column_int64(st, 10),
            .attempts = sqlite3_column_int64(st, 11),
            .propensity = sqlite3_column_double(st, 12),
            .emotion = (const char *)sqlite3_column_text(st, 13),
        };
        if ((rc = fn(ctx, &row)) != 0)
            break;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = store_sql_error(s, "reading run steps", err);
    sqlite3_reset(st);
    return rc;
}

int runs_insert_judge_eval(store *s, const char *judge_kind, const char *figures_json, int64_t *id,
                           char *err)
{
    sqlite3_stmt *st;
    if (!judge_kind || !*judge_kind)
        return pb_errf(err, PB_ERR_INVALID, "judge evaluation needs a judge kind");
    if (!figures_json || !store_json_valid(figures_json, 1))
        return pb_errf(err, PB_ERR_INVALID, "judge evaluation figures must be a JSON object");
    int rc = store_prepare(s, SQL_JUDGE_EVAL_INSERT, &st, err);
    if (rc != PB_OK)
        return rc;
    sqlite3_bind_double(st, 1, store_now());
    store_bind_text(st, 2, judge_kind);
    store_bind_text(st, 3, figures_json);
    rc = store_exec_stmt(s, st, "storing a judge evaluation", err);
    if (rc == PB_OK && id)
        *id = store_last_insert_id(s);
    return rc;
}

int runs_judge_eval_latest(store *s, int (*fn)(void *ctx, const struct runs_judge_eval *ev),
                           void *ctx, char *err)
{
    sqlite3_stmt *st;
    int step = SQLITE_DONE;
    int rc = store_prepare(s, SQL_JUDGE_EVAL_LATEST, &st, err);
    while (rc == PB_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
        struct runs_judge_eval ev = {
            .id = sqlite3_column_int64(st, 0),
            .created_at = sqlite3_column_double(st, 1),
            .judge_kind = (const char *)sqlite3_column_text(st, 2),
            .figures_json = (const char *)sqlite3_column_text(st, 3),
        };
        rc = fn(ctx, &ev);
    }
    if (rc == PB_OK && step != SQLITE_DONE)
        rc = store_sql_error(s, "reading judge evaluations", err);
    sqlite3_reset(st);
    return rc;
}
