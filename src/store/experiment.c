/* experiment.c — experiments in SQLite: look-up by name or id, get-or-create, policy,
 * promotion, archive and reset (a fresh copy of the active arms). */
#include "store/experiment.h"

#include "store/stmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPERIMENT_COLUMNS                                                                         \
    "id, name, kind, policy, policy_params, status, coalesce(promoted_arm_id, 0), created_at"

static const char *SQL_EXPERIMENT_BY_NAME =
    "SELECT " EXPERIMENT_COLUMNS " FROM experiments WHERE name = ?1 AND status = 'active'";
static const char *SQL_EXPERIMENT_BY_ID =
    "SELECT " EXPERIMENT_COLUMNS " FROM experiments WHERE id = ?1";
static const char *SQL_EXPERIMENT_LIST =
    "SELECT " EXPERIMENT_COLUMNS " FROM experiments ORDER BY id DESC";
static const char *SQL_EXPERIMENT_INSERT =
    "INSERT INTO experiments (name, kind, policy, policy_params, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
static const char *SQL_EXPERIMENT_SET_POLICY =
    "UPDATE experiments SET policy = ?2, policy_params = ?3 WHERE id = ?1";
static const char *SQL_EXPERIMENT_PROMOTE =
    "UPDATE experiments SET promoted_arm_id = nullif(?2, 0) WHERE id = ?1";
static const char *SQL_EXPERIMENT_ARCHIVE =
    "UPDATE experiments SET status = 'archived' WHERE id = ?1 AND status = 'active'";
static const char *SQL_ARM_STATE =
    "SELECT retired_at IS NULL FROM arms WHERE id = ?2 AND experiment_id = ?1";
static const char *SQL_EXPERIMENT_COPY_ARMS =
    "INSERT INTO arms (experiment_id, name, version, prompt, content_hash, source_path, "
    "created_at) SELECT ?2, name, version, prompt, content_hash, source_path, ?3 FROM arms "
    "WHERE experiment_id = ?1 AND retired_at IS NULL ORDER BY id";

void store_experiment_clear(struct store_experiment *e)
{
    if (!e)
        return;
    free(e->policy);
    free(e->policy_params);
    memset(e, 0, sizeof *e);
}

void store_experiment_list_free(struct store_experiment *list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        store_experiment_clear(&list[i]);
    free(list);
}

static void clear_experiment(void *item)
{
    store_experiment_clear(item);
}

static pb_status read_experiment(store_stmt *st, void *item, char *err)
{
    struct store_experiment *e = item;
    int ok = 1;
    memset(e, 0, sizeof *e);
    e->id = store_col_int(st, 0);
    stmt_column_copy(st, 1, e->name, sizeof e->name);
    stmt_column_copy(st, 2, e->kind, sizeof e->kind);
    e->policy = stmt_column_strdup(st, 3, &ok);
    e->policy_params = stmt_column_strdup(st, 4, &ok);
    stmt_column_copy(st, 5, e->status, sizeof e->status);
    e->promoted_arm_id = store_col_int(st, 6);
    e->created_at = store_col_real(st, 7);
    if (!ok) {
        store_experiment_clear(e);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    return PB_OK;
}

pb_status store_experiment_get(store *s, const char *name, struct store_experiment *out, char *err)
{
    char absent[PB_ERR_LEN];
    snprintf(absent, sizeof absent, "no active experiment named '%s'", name);
    return stmt_read_one_argv(s, SQL_EXPERIMENT_BY_NAME, STMT_ARGV(STMT_TEXT(name)),
                              read_experiment, out, absent, "reading an experiment", err);
}

pb_status store_experiment_get_by_id(store *s, int64_t id, struct store_experiment *out, char *err)
{
    char absent[64];
    snprintf(absent, sizeof absent, "no experiment with id %lld", (long long)id);
    return stmt_read_one_argv(s, SQL_EXPERIMENT_BY_ID, STMT_ARGV(STMT_INT(id)), read_experiment,
                              out, absent, "reading an experiment", err);
}

static pb_status insert_experiment(store *s, const char *name, const char *kind, const char *policy,
                                   const char *params, int64_t *id, char *err)
{
    pb_status rc =
        stmt_exec(s, SQL_EXPERIMENT_INSERT, "creating an experiment", err, STMT_TEXT(name),
                  STMT_TEXT(kind), STMT_TEXT(policy), STMT_TEXT(params), STMT_REAL(store_now()));
    if (rc == PB_OK)
        *id = store_last_insert_id(s);
    return rc;
}

pb_status store_experiment_get_or_create(store *s, const char *name, const char *kind,
                                         const char *policy, struct store_experiment *out,
                                         char *err)
{
    int64_t id;
    if (!name || !*name || strlen(name) > 64)
        return pb_errf(err, PB_ERR_INVALID, "experiment name must have 1 to 64 bytes");
    if (!kind || (strcmp(kind, "live") != 0 && strcmp(kind, "offline") != 0))
        return pb_errf(err, PB_ERR_INVALID, "experiment kind must be live or offline");
    if (!policy || !*policy)
        return pb_errf(err, PB_ERR_INVALID, "experiment '%s': empty policy", name);
    pb_status rc = store_begin_serial(s, err);
    if (rc != PB_OK)
        return rc;
    rc = store_experiment_get(s, name, out, err);
    if (rc == PB_ERR_NOT_FOUND) {
        rc = insert_experiment(s, name, kind, policy, NULL, &id, err);
        if (rc == PB_OK)
            rc = store_experiment_get_by_id(s, id, out, err);
    }
    if ((rc = store_end(s, rc, err)) != PB_OK)
        store_experiment_clear(out);
    return rc;
}

pb_status store_experiment_list(store *s, struct store_experiment **out, size_t *n, char *err)
{
    store_stmt *st;
    struct stmt_rows rows = {0};
    pb_status rc = store_prepare(s, SQL_EXPERIMENT_LIST, &st, err);
    if (rc == PB_OK)
        rc = stmt_read_all(s, st, sizeof **out, read_experiment, clear_experiment, &rows,
                           "listing experiments", err);
    *out = rows.items; /* empty on failure */
    *n = rows.n;
    return rc;
}

/* Runs an UPDATE of one experiment (id in ?1); PB_ERR_NOT_FOUND when no row changed. */
static pb_status update_experiment(store *s, const char *sql, const struct stmt_arg *args,
                                   int64_t id, const char *what, char *err)
{
    pb_status rc = stmt_exec_argv(s, sql, args, what, err);
    if (rc == PB_OK && store_changes(s) == 0)
        rc = pb_errf(err, PB_ERR_NOT_FOUND, "%s: no active experiment with id %lld", what,
                     (long long)id);
    return rc;
}

pb_status store_experiment_set_policy(store *s, int64_t id, const char *policy,
                                      const char *params_json, char *err)
{
    if (!policy || !*policy)
        return pb_errf(err, PB_ERR_INVALID, "empty policy");
    if (!store_json_valid(params_json, true))
        return pb_errf(err, PB_ERR_INVALID, "policy parameters must be a JSON object");
    return update_experiment(s, SQL_EXPERIMENT_SET_POLICY,
                             STMT_ARGV(STMT_INT(id), STMT_TEXT(policy), STMT_TEXT(params_json)), id,
                             "setting the policy", err);
}

int store_experiment_arm_state(store *s, int64_t id, int64_t arm_id, char *err)
{
    store_stmt *st;
    int row =
        stmt_first(s, SQL_ARM_STATE, &st, "looking up an arm", err, STMT_INT(id), STMT_INT(arm_id));
    if (row < 0)
        return row;
    if (row == 0)
        return pb_errf(err, PB_ERR_NOT_FOUND, "arm %lld is not in experiment %lld",
                       (long long)arm_id, (long long)id);
    int active = (int)store_col_int(st, 0) ? 1 : 0;
    store_reset(st);
    return active;
}

pb_status store_experiment_promote(store *s, int64_t id, int64_t arm_id, char *err)
{
    int active = arm_id ? store_experiment_arm_state(s, id, arm_id, err) : 1;
    if (active < 0)
        return active;
    if (!active)
        return pb_errf(err, PB_ERR_CONFLICT, "arm %lld is retired; restore it first",
                       (long long)arm_id);
    return update_experiment(s, SQL_EXPERIMENT_PROMOTE, STMT_ARGV(STMT_INT(id), STMT_INT(arm_id)),
                             id, "promoting an arm", err);
}

pb_status store_experiment_archive(store *s, int64_t id, char *err)
{
    return update_experiment(s, SQL_EXPERIMENT_ARCHIVE, STMT_ARGV(STMT_INT(id)), id, "archiving",
                             err);
}

pb_status store_experiment_reset(store *s, int64_t id, int64_t *new_id, char *err)
{
    struct store_experiment old = {0};
    pb_status rc = store_begin_serial(s, err);
    if (rc != PB_OK)
        return rc;
    rc = store_experiment_get_by_id(s, id, &old, err);
    if (rc == PB_OK)
        rc = store_experiment_archive(s, id, err);
    if (rc == PB_OK)
        rc = insert_experiment(s, old.name, old.kind, old.policy, old.policy_params, new_id, err);
    if (rc == PB_OK)
        rc = stmt_exec(s, SQL_EXPERIMENT_COPY_ARMS, "copying arms", err, STMT_INT(id),
                       STMT_INT(*new_id), STMT_REAL(store_now()));
    rc = store_end(s, rc, err);
    store_experiment_clear(&old);
    return rc;
}

/* ---- a new experiment from another's arms (the dashboard's "start a live experiment with
 * these arms" for a finished offline run) ---- */

static const char *SQL_EXPERIMENT_ACTIVE_ARMS =
    "SELECT count(*) FROM arms WHERE experiment_id = ?1 AND retired_at IS NULL";

pb_status store_experiment_copy(store *s, int64_t from_id, const char *name, const char *kind,
                                const char *policy, int64_t *new_id, char *err)
{
    struct store_experiment from = {0}, same = {0};
    store_stmt *st;
    int64_t n_arms = 0;
    if (!name || !*name || strlen(name) > 64)
        return pb_errf(err, PB_ERR_INVALID, "experiment name must have 1 to 64 bytes");
    if (!kind || (strcmp(kind, "live") != 0 && strcmp(kind, "offline") != 0))
        return pb_errf(err, PB_ERR_INVALID, "experiment kind must be live or offline");
    if (!policy || !*policy)
        return pb_errf(err, PB_ERR_INVALID, "experiment '%s': empty policy", name);
    pb_status rc = store_begin_serial(s, err);
    if (rc != PB_OK)
        return rc;
    rc = store_experiment_get_by_id(s, from_id, &from, err);
    if (rc == PB_OK) {
        int row =
            stmt_first(s, SQL_EXPERIMENT_ACTIVE_ARMS, &st, "counting arms", err, STMT_INT(from_id));
        if (row < 0)
            rc = row;
        if (row == 1) {
            n_arms = store_col_int(st, 0);
            store_reset(st);
        }
    }
    if (rc == PB_OK && n_arms == 0)
        rc = pb_errf(err, PB_ERR_INVALID, "experiment '%s' has no active arm to copy", from.name);
    if (rc == PB_OK) {
        rc = store_experiment_get(s, name, &same, err);
        rc = rc == PB_OK              ? pb_errf(err, PB_ERR_CONFLICT,
                                                "an active experiment is already named '%s'; choose another "
                                                             "name",
                                                name)
             : rc == PB_ERR_NOT_FOUND ? PB_OK
                                      : rc;
    }
    if (rc == PB_OK)
        rc = insert_experiment(s, name, kind, policy, NULL, new_id, err);
    if (rc == PB_OK)
        rc = stmt_exec(s, SQL_EXPERIMENT_COPY_ARMS, "copying arms", err, STMT_INT(from_id),
                       STMT_INT(*new_id), STMT_REAL(store_now()));
    rc = store_end(s, rc, err);
    store_experiment_clear(&from);
    store_experiment_clear(&same);
    return rc;
}
