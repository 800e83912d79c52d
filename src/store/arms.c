/* arms.c — versioned arms (prompts by content hash) and the prompts/ folder sync. */
#include "store/arms.h"

#include "base/text.h"
#include "store/stmt.h"

#include <ctype.h>
#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ARMS_MAX_PROMPT_BYTES (256 * 1024)

#define ARM_COLUMNS                                                                                \
    "id, experiment_id, name, version, prompt, content_hash, source_path, created_at, "            \
    "coalesce(retired_at, 0)"

static const char *SQL_ARM_LIST = "SELECT " ARM_COLUMNS " FROM arms WHERE experiment_id = ?1 "
                                  "AND (?2 <> 0 OR retired_at IS NULL) ORDER BY id";
static const char *SQL_ARM_GET = "SELECT " ARM_COLUMNS " FROM arms WHERE id = ?1";
static const char *SQL_ARM_FIND = "SELECT " ARM_COLUMNS " FROM arms WHERE experiment_id = ?1 "
                                  "AND name = ?2 AND retired_at IS NULL";
static const char *SQL_ARM_BY_HASH = "SELECT id, name, version, retired_at IS NULL FROM arms "
                                     "WHERE experiment_id = ?1 AND content_hash = ?2";
static const char *SQL_ARM_NAME_STATE =
    "SELECT coalesce(max(version), 0), (SELECT id FROM arms WHERE experiment_id = ?1 AND "
    "name = ?2 AND retired_at IS NULL) FROM arms WHERE experiment_id = ?1 AND name = ?2";
static const char *SQL_ARM_INSERT =
    "INSERT INTO arms (experiment_id, name, version, prompt, content_hash, source_path, "
    "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char *SQL_ARM_RETIRE =
    "UPDATE arms SET retired_at = ?2 WHERE id = ?1 AND retired_at IS NULL";
static const char *SQL_ARM_UNRETIRE = "UPDATE arms SET retired_at = NULL WHERE id = ?1";
static const char *SQL_UNPROMOTE =
    "UPDATE experiments SET promoted_arm_id = NULL WHERE promoted_arm_id = ?1";

void arms_clear(struct arm *a)
{
    if (!a)
        return;
    free(a->prompt);
    free(a->source_path);
    memset(a, 0, sizeof *a);
}

void arms_list_free(struct arm *list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        arms_clear(&list[i]);
    free(list);
}

bool arms_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > ARM_NAME_MAX || !isalpha((unsigned char)name[0]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)name[i]))
            return false;
    return strncasecmp(name, "judge", 5) != 0 && strncasecmp(name, "propose", 7) != 0;
}

static void clear_arm(void *item)
{
    arms_clear(item);
}

static pb_status read_arm(store_stmt *st, void *item, char *err)
{
    struct arm *a = item;
    int ok = 1;
    memset(a, 0, sizeof *a);
    a->id = store_col_int(st, 0);
    a->experiment_id = store_col_int(st, 1);
    stmt_column_copy(st, 2, a->name, sizeof a->name);
    a->version = (int)store_col_int(st, 3);
    a->prompt = stmt_column_strdup(st, 4, &ok);
    stmt_column_copy(st, 5, a->content_hash, sizeof a->content_hash);
    a->source_path = stmt_column_strdup(st, 6, &ok);
    a->created_at = store_col_real(st, 7);
    a->retired_at = store_col_real(st, 8);
    if (!ok) {
        arms_clear(a);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    return PB_OK;
}

pb_status arms_list(store *s, int64_t experiment_id, bool include_retired, struct arm **out,
                    size_t *n, char *err)
{
    store_stmt *st;
    struct stmt_rows rows = {0};
    pb_status rc =
        stmt_prepare(s, SQL_ARM_LIST, &st, err, STMT_INT(experiment_id), STMT_INT(include_retired));
    if (rc == PB_OK)
        rc = stmt_read_all(s, st, sizeof **out, read_arm, clear_arm, &rows, "listing arms", err);
    *out = rows.items; /* empty on failure */
    *n = rows.n;
    return rc;
}

pb_status arms_get(store *s, int64_t arm_id, struct arm *out, char *err)
{
    char absent[64];
    snprintf(absent, sizeof absent, "no arm with id %lld", (long long)arm_id);
    return stmt_read_one_argv(s, SQL_ARM_GET, STMT_ARGV(STMT_INT(arm_id)), read_arm, out, absent,
                              "reading an arm", err);
}

pb_status arms_find(store *s, int64_t experiment_id, const char *name, struct arm *out, char *err)
{
    char absent[96];
    snprintf(absent, sizeof absent, "no active arm named '%.32s'", name);
    return stmt_read_one_argv(s, SQL_ARM_FIND, STMT_ARGV(STMT_INT(experiment_id), STMT_TEXT(name)),
                              read_arm, out, absent, "reading an arm", err);
}

/* Retires one arm and clears a promotion of it; inside the caller's transaction. */
static pb_status retire_locked(store *s, int64_t arm_id, char *err)
{
    pb_status rc = stmt_exec(s, SQL_ARM_RETIRE, "retiring an arm", err, STMT_INT(arm_id),
                             STMT_REAL(store_now()));
    if (rc != PB_OK)
        return rc;
    if (store_changes(s) == 0)
        return pb_errf(err, PB_ERR_CONFLICT, "arm %lld is already retired", (long long)arm_id);
    return stmt_exec(s, SQL_UNPROMOTE, "clearing a promotion", err, STMT_INT(arm_id));
}

static pb_status unretire_locked(store *s, int64_t arm_id, char *err)
{
    return stmt_exec(s, SQL_ARM_UNRETIRE, "restoring an arm", err, STMT_INT(arm_id));
}

/* Max version of a name (0 if new) and the id of its active version (0 if none). */
static pb_status name_state(store *s, int64_t experiment_id, const char *name, int *max_version,
                            int64_t *active_id, char *err)
{
    store_stmt *st;
    int row = stmt_first(s, SQL_ARM_NAME_STATE, &st, "reading arm versions", err,
                         STMT_INT(experiment_id), STMT_TEXT(name));
    if (row == 0) /* an aggregate always answers; no row means the statement failed */
        return store_sql_error(s, "reading arm versions", err);
    if (row < 0)
        return row;
    *max_version = (int)store_col_int(st, 0);
    *active_id = store_col_int(st, 1);
    store_reset(st);
    return PB_OK;
}

/* Removes a UTF-8 byte order mark and trailing white space (a file's final newline is not part
 * of the prompt); *len is updated, the returned pointer points into text. */
static const char *trim_prompt(const char *text, size_t *len)
{
    if (*len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3;
        *len -= 3;
    }
    while (*len > 0 && strchr(" \t\r\n", text[*len - 1]))
        (*len)--;
    return text;
}

static pb_status check_prompt(const char *text, size_t len, const char *label, char *err)
{
    if (len > ARMS_MAX_PROMPT_BYTES)
        return pb_errf(err, PB_ERR_INVALID, "%s: prompt longer than %d bytes", label,
                       ARMS_MAX_PROMPT_BYTES);
    if (!text_utf8_valid(text, len) || memchr(text, '\0', len))
        return pb_errf(err, PB_ERR_INVALID, "%s: prompt is not valid UTF-8 text", label);
    size_t i = 0;
    while (i < len && strchr(" \t\r\n", text[i]))
        i++;
    if (i == len)
        return pb_errf(err, PB_ERR_INVALID, "%s: prompt is empty or only white space", label);
    return PB_OK;
}

struct add_request {
    int64_t experiment_id;
    const char *name, *text, *source_path, *label;
    size_t len;
    bool sync; /* a text the arm ever had is left alone (no restore) */
};

/* The hash lookup of arms_add: sets *change and *arm_id when the text is already stored. */
static pb_status match_existing(store *s, const struct add_request *q, const char *hash,
                                int64_t *arm_id, enum arms_change *change, bool *found, char *err)
{
    store_stmt *st;
    int row = stmt_first(s, SQL_ARM_BY_HASH, &st, "looking up a prompt", err,
                         STMT_INT(q->experiment_id), STMT_TEXT(hash));
    *found = row == 1;
    if (row <= 0)
        return row;
    pb_status rc = PB_OK;
    const char *name = store_col_text(st, 1);
    int version = (int)store_col_int(st, 2), active = (int)store_col_int(st, 3);
    *arm_id = store_col_int(st, 0);
    *change = ARMS_UNCHANGED;
    if (strcmp(name, q->name) != 0)
        rc = pb_errf(err, PB_ERR_CONFLICT, "%s: the same text is already arm %s v%d", q->label,
                     name, version);
    else if (!active && !q->sync)
        *change = ARMS_RESTORED;
    store_reset(st);
    return rc;
}

static pb_status insert_arm(store *s, const struct add_request *q, int version, const char *hash,
                            int64_t *arm_id, char *err)
{
    pb_status rc = stmt_exec(s, SQL_ARM_INSERT, "adding an arm", err, STMT_INT(q->experiment_id),
                             STMT_TEXT(q->name), STMT_INT(version), STMT_TEXTN(q->text, q->len),
                             STMT_TEXT(hash), STMT_TEXT(q->source_path), STMT_REAL(store_now()));
    if (rc == PB_OK)
        *arm_id = store_last_insert_id(s);
    else if (store_error_kind(s) == STORE_ERR_FOREIGNKEY)
        rc = pb_errf(err, PB_ERR_NOT_FOUND, "no experiment with id %lld",
                     (long long)q->experiment_id);
    return rc;
}

static pb_status add_locked(store *s, const struct add_request *q, int64_t *arm_id,
                            enum arms_change *change, char *err)
{
    char hash[HASH_HEX_LEN];
    bool found;
    int max_version;
    int64_t active_id;
    if (!arms_name_valid(q->name))
        return pb_errf(err, PB_ERR_INVALID,
                       "%s: arm name must be a letter then letters or digits (at most %d), not "
                       "starting with judge or propose",
                       q->label, ARM_NAME_MAX);
    pb_status rc = check_prompt(q->text, q->len, q->label, err);
    if (rc != PB_OK)
        return rc;
    hash_sha256_hex(q->text, q->len, hash);
    if ((rc = match_existing(s, q, hash, arm_id, change, &found, err)) != PB_OK || found) {
        if (rc != PB_OK || *change != ARMS_RESTORED)
            return rc;
    }
    if ((rc = name_state(s, q->experiment_id, q->name, &max_version, &active_id, err)) != PB_OK)
        return rc;
    if (active_id && (rc = retire_locked(s, active_id, err)) != PB_OK)
        return rc;
    if (found)
        return unretire_locked(s, *arm_id, err);
    if ((rc = insert_arm(s, q, max_version + 1, hash, arm_id, err)) != PB_OK)
        return rc;
    *change = max_version == 0 ? ARMS_CREATED : ARMS_VERSIONED;
    return PB_OK;
}

pb_status arms_add(store *s, int64_t experiment_id, const char *name, const char *text,
                   const char *source_path, int64_t *arm_id, enum arms_change *change, char *err)
{
    int64_t id = 0;
    enum arms_change what = ARMS_UNCHANGED;
    size_t len = strlen(text);
    struct add_request q = {experiment_id, name, NULL, source_path, name, 0, false};
    q.text = trim_prompt(text, &len);
    q.len = len;
    pb_status rc = store_begin_serial(s, err);
    if (rc != PB_OK)
        return rc;
    rc = store_end(s, add_locked(s, &q, &id, &what, err), err);
    if (rc == PB_OK && arm_id)
        *arm_id = id;
    if (rc == PB_OK && change)
        *change = what;
    return rc;
}

pb_status arms_retire(store *s, int64_t arm_id, char *err)
{
    struct arm a = {0};
    pb_status rc = arms_get(s, arm_id, &a, err);
    arms_clear(&a);
    if (rc != PB_OK || (rc = store_begin_serial(s, err)) != PB_OK)
        return rc;
    return store_end(s, retire_locked(s, arm_id, err), err);
}

/* arms_restore inside its transaction. */
static pb_status restore_locked(store *s, int64_t arm_id, char *err)
{
    struct arm a = {0};
    int max_version;
    int64_t active_id;
    pb_status rc = arms_get(s, arm_id, &a, err);
    if (rc == PB_OK && a.retired_at == 0)
        rc = pb_errf(err, PB_ERR_CONFLICT, "arm %s v%d is already active", a.name, a.version);
    if (rc == PB_OK)
        rc = name_state(s, a.experiment_id, a.name, &max_version, &active_id, err);
    if (rc == PB_OK && active_id)
        rc = retire_locked(s, active_id, err);
    if (rc == PB_OK)
        rc = unretire_locked(s, arm_id, err);
    arms_clear(&a);
    return rc;
}

pb_status arms_restore(store *s, int64_t arm_id, char *err)
{
    pb_status rc = store_begin_serial(s, err);
    if (rc != PB_OK)
        return rc;
    return store_end(s, restore_locked(s, arm_id, err), err);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names of the *.txt files in dir, sorted; caller frees each and the array. */
static pb_status list_txt_files(const char *dir, char ***out, size_t *n, char *err)
{
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t count = 0, cap = 0;
    pb_status rc = PB_OK;
    struct dirent *e;
    if (!d)
        return pb_errf(err, PB_ERR_NOT_FOUND, "prompts folder %s: %s (setting prompts.dir)", dir,
                       strerror(errno));
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".txt") != 0)
            continue;
        if (count == cap) {
            cap = cap ? 2 * cap : 16;
            char **grown = realloc(names, cap * sizeof *names);
            if (!grown) {
                rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
                break;
            }
            names = grown;
        }
        if (!(names[count] = strdup(e->d_name))) {
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
            break;
        }
        count++;
    }
    closedir(d);
    if (count)
        qsort(names, count, sizeof *names, compare_names);
    *out = names;
    *n = count;
    return rc;
}

/* Reads and adds one arm file inside the sync transaction. */
static pb_status sync_file(store *s, int64_t experiment_id, const char *dir, const char *file,
                           struct arms_sync_summary *sum, char *err)
{
    char path[4096], name[ARM_NAME_MAX + 8];
    char *text = NULL;
    size_t len;
    int64_t id;
    enum arms_change change;
    size_t stem = strlen(file) - 4; /* without ".txt" */
    if (stem <= ARM_NAME_MAX)
        snprintf(name, sizeof name, "%.*s", (int)stem, file);
    if (stem > ARM_NAME_MAX || !arms_name_valid(name)) {
        sum->ignored++;
        return PB_OK;
    }
    snprintf(path, sizeof path, "%s/%s", dir, file);
    pb_status rc = pb_read_file(path, ARMS_MAX_PROMPT_BYTES, &text, &len, err);
    if (rc != PB_OK)
        return rc;
    struct add_request q = {experiment_id, name, NULL, path, path, 0, true};
    q.text = trim_prompt(text, &len);
    q.len = len;
    sum->files++;
    rc = add_locked(s, &q, &id, &change, err);
    if (rc == PB_OK) {
        sum->created += change == ARMS_CREATED;
        sum->versioned += change == ARMS_VERSIONED;
        sum->unchanged += change == ARMS_UNCHANGED;
    }
    free(text);
    return rc;
}

pb_status arms_sync_dir(store *s, int64_t experiment_id, const char *dir,
                        struct arms_sync_summary *summary, char *err)
{
    char **files = NULL;
    size_t n = 0;
    struct arms_sync_summary sum = {0};
    pb_status rc = list_txt_files(dir, &files, &n, err);
    if (rc == PB_OK && (rc = store_begin_serial(s, err)) == PB_OK) {
        for (size_t i = 0; i < n && rc == PB_OK; i++)
            rc = sync_file(s, experiment_id, dir, files[i], &sum, err);
        rc = store_end(s, rc, err);
    }
    for (size_t i = 0; i < n; i++)
        free(files[i]);
    free(files);
    if (rc == PB_OK && summary)
        *summary = sum;
    return rc;
}

pb_status arms_ensure_default(store *s, const char *prompts_dir, const char *policy,
                              struct store_experiment *out, struct arms_sync_summary *summary,
                              char *err)
{
    pb_status rc = store_experiment_get_or_create(s, "default", "live", policy, out, err);
    if (rc != PB_OK)
        return rc;
    rc = arms_sync_dir(s, out->id, prompts_dir, summary, err);
    if (rc != PB_OK)
        store_experiment_clear(out);
    return rc;
}
