/* task.c — task files: strict JSON reading, paths relative to the file, value lists inline or
 * from files, template checks and expansion, seeded draws per iteration, and the task's hash. */
#include "offline/task.h"

#include "base/hash.h"
#include "base/text.h"
#include "judge/judge.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE_BYTES (16u << 20)
#define LINES_SALT     0x5ce7a210u /* the scenario draw bandit-run has always used */

uint64_t task_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void task_free(struct task *t)
{
    free(t->name);
    free(t->description);
    scenarios_free(&t->lines);
    free(t->lines_path);
    for (size_t v = 0; v < t->n_vars; v++) {
        for (size_t k = 0; k < t->vars[v].n; k++)
            free(t->vars[v].values[k]);
        free(t->vars[v].values);
        free(t->vars[v].name);
    }
    free(t->user_template);
    free(t->context_template);
    free(t->segment);
    free(t->segment_label);
    free(t->prompts_dir);
    free(t->rubric);
    free(t->examples);
    free(t->local_model);
    memset(t, 0, sizeof *t);
}

void task_message_clear(struct task_message *m)
{
    free(m->user);
    free(m->context);
    free(m->segment);
    memset(m, 0, sizeof *m);
}

/* ---- paths and value files ---- */

/* dir/rel unless rel is absolute; caller frees. */
static char *resolve(const char *dir, const char *rel)
{
    if (rel[0] == '/' || !dir || !*dir)
        return strdup(rel);
    size_t n = strlen(dir) + strlen(rel) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, rel);
    return p;
}

static char *folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

static pb_status add_value(struct task_var *v, const char *s, size_t len, char *err)
{
    if (v->n >= TASK_MAX_VALUES)
        return pb_errf(err, PB_ERR_INVALID, "variable %s: more than %d values", v->name,
                       TASK_MAX_VALUES);
    char **grown = realloc(v->values, (v->n + 1) * sizeof *grown);
    if (!grown)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    v->values = grown;
    if (!(v->values[v->n] = strndup(s, len)))
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    v->n++;
    return PB_OK;
}

/* Values one per line; blank lines and lines starting with '#' skipped. */
static pb_status values_from_file(struct task_var *v, const char *path, char *err)
{
    char *text = NULL;
    size_t len = 0;
    char why[PB_ERR_LEN];
    pb_status rc = pb_read_file(path, MAX_FILE_BYTES, &text, &len, why);
    if (rc != PB_OK)
        return pb_errf(err, rc, "variable %s: %s", v->name, why);
    if (!text_utf8_valid(text, len)) {
        free(text);
        return pb_errf(err, PB_ERR_INVALID, "variable %s: %s is not UTF-8", v->name, path);
    }
    for (char *line = text, *next; rc == PB_OK && line && *line; line = next) {
        next = strchr(line, '\n');
        size_t n = next ? (size_t)(next - line) : strlen(line);
        if (next)
            next++;
        while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
            n--;
        if (n > 0 && line[0] != '#')
            rc = add_value(v, line, n, err);
    }
    free(text);
    if (rc == PB_OK && v->n == 0)
        rc = pb_errf(err, PB_ERR_INVALID, "variable %s: %s holds no values", v->name, path);
    return rc;
}

static bool name_ok(const char *s)
{
    if (!*s || strlen(s) >= 32 || !(islower((unsigned char)*s) || *s == '_'))
        return false;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

static pb_status load_var(struct task *t, const char *dir, const char *name, json_t *spec,
                          char *err)
{
    if (t->n_vars == TASK_MAX_VARS)
        return pb_errf(err, PB_ERR_INVALID, "more than %d variables", TASK_MAX_VARS);
    if (!name_ok(name) || (t->has_lines && (!strcmp(name, "sentence") || !strcmp(name, "emotion"))))
        return pb_errf(err, PB_ERR_INVALID,
                       "variable name '%.40s': lowercase letters, digits and '_' (sentence and "
                       "emotion belong to the scenario lines)",
                       name);
    struct task_var *v = &t->vars[t->n_vars++];
    if (!(v->name = strdup(name)))
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (json_is_object(spec)) {
        const char *file = json_string_value(json_object_get(spec, "file"));
        if (!file || json_object_size(spec) != 1)
            return pb_errf(err, PB_ERR_INVALID, "variable %s: expected {\"file\": PATH}", name);
        char *path = resolve(dir, file);
        if (!path)
            return pb_errf(err, PB_ERR_NOMEM, "out of memory");
        pb_status rc = values_from_file(v, path, err);
        free(path);
        return rc;
    }
    if (!json_is_array(spec) || json_array_size(spec) == 0)
        return pb_errf(err, PB_ERR_INVALID,
                       "variable %s: expected a non-empty list of strings or {\"file\": PATH}",
                       name);
    for (size_t k = 0; k < json_array_size(spec); k++) {
        json_t *s = json_array_get(spec, k);
        if (!json_is_string(s) || json_string_length(s) == 0)
            return pb_errf(err, PB_ERR_INVALID, "variable %s: value %zu is not a non-empty string",
                           name, k + 1);
        pb_status rc = add_value(v, json_string_value(s), json_string_length(s), err);
        if (rc != PB_OK)
            return rc;
    }
    return PB_OK;
}

/* ---- templates ---- */

static bool known_var(const struct task *t, const char *name, size_t len)
{
    if (t->has_lines &&
        ((len == 8 && !strncmp(name, "sentence", 8)) || (len == 7 && !strncmp(name, "emotion", 7))))
        return true;
    for (size_t v = 0; v < t->n_vars; v++)
        if (strlen(t->vars[v].name) == len && !strncmp(t->vars[v].name, name, len))
            return true;
    return false;
}

/* Every {name} known, braces closed, [ ] balanced and not nested. */
static pb_status check_template(const struct task *t, const char *key, const char *tpl, char *err)
{
    int optional = 0;
    for (const char *p = tpl; *p; p++) {
        if (*p == '[') {
            if (optional++)
                return pb_errf(err, PB_ERR_INVALID, "%s: '[' inside '[...]'", key);
        } else if (*p == ']') {
            if (!optional--)
                return pb_errf(err, PB_ERR_INVALID, "%s: ']' without '['", key);
        } else if (*p == '}') {
            return pb_errf(err, PB_ERR_INVALID, "%s: '}' without '{'", key);
        } else if (*p == '{') {
            const char *end = strchr(p, '}');
            if (!end)
                return pb_errf(err, PB_ERR_INVALID, "%s: '{' without '}'", key);
            if (!known_var(t, p + 1, (size_t)(end - p - 1)))
                return pb_errf(err, PB_ERR_INVALID, "%s: unknown variable {%.*s}", key,
                               (int)(end - p - 1), p + 1);
            p = end;
        }
    }
    return optional ? pb_errf(err, PB_ERR_INVALID, "%s: '[' without ']'", key) : PB_OK;
}

/* The value of a variable in one message: names and values in parallel arrays. */
struct binding {
    const char *names[TASK_MAX_VARS + 2];
    const char *values[TASK_MAX_VARS + 2]; /* NULL = missing */
    size_t n;
};

static const char *bound(const struct binding *b, const char *name, size_t len)
{
    for (size_t i = 0; i < b->n; i++)
        if (strlen(b->names[i]) == len && !strncmp(b->names[i], name, len))
            return b->values[i] && *b->values[i] ? b->values[i] : NULL;
    return NULL;
}

/* Expands a checked template: {name} becomes its value; a [...] section is dropped when a
 * variable in it is missing. Caller frees; NULL when out of memory. */
static char *render(const char *tpl, const struct binding *b)
{
    struct pb_buf out = {0}, section = {0};
    int in_section = 0, missing = 0, failed = 0;
    for (const char *p = tpl; *p && !failed; p++) {
        struct pb_buf *dst = in_section ? &section : &out;
        if (*p == '[') {
            in_section = 1;
            missing = 0;
            section.len = 0;
        } else if (*p == ']') {
            in_section = 0;
            if (!missing && section.len)
                failed |= pb_buf_append(&out, section.data, section.len) != PB_OK;
        } else if (*p == '{') {
            const char *end = strchr(p, '}'), *v = bound(b, p + 1, (size_t)(end - p - 1));
            if (v)
                failed |= pb_buf_append(dst, v, strlen(v)) != PB_OK;
            else
                missing = 1;
            p = end;
        } else {
            failed |= pb_buf_append(dst, p, 1) != PB_OK;
        }
    }
    pb_buf_free(&section);
    if (!failed && !out.data)
        failed |= pb_buf_append(&out, "", 0) != PB_OK;
    if (failed) {
        pb_buf_free(&out);
        return NULL;
    }
    return out.data;
}

/* ---- loading ---- */

static const char *const task_keys[] = {
    "name",          "description", "scenarios", "variables", "user",     "context",    "segment",
    "segment_label", "prompts",     "judges",    "rubric",    "examples", "local_model"};

static pb_status check_keys(json_t *root, char *err)
{
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value)
    {
        size_t k = 0;
        while (k < sizeof task_keys / sizeof *task_keys && strcmp(key, task_keys[k]) != 0)
            k++;
        if (k == sizeof task_keys / sizeof *task_keys)
            return pb_errf(err, PB_ERR_INVALID,
                           "unknown key '%.40s' (known: name, description, scenarios, variables, "
                           "user, context, segment, segment_label, prompts, judges, rubric, "
                           "examples, local_model)",
                           key);
        (void)value;
    }
    return PB_OK;
}

/* A string member, copied (resolved as a path when dir is not NULL); NULL when absent. */
static pb_status take_string(json_t *root, const char *key, const char *dir, char **out, char *err)
{
    json_t *v = json_object_get(root, key);
    *out = NULL;
    if (!v)
        return PB_OK;
    if (!json_is_string(v) || json_string_length(v) == 0)
        return pb_errf(err, PB_ERR_INVALID, "%s must be a non-empty string", key);
    *out = dir ? resolve(dir, json_string_value(v)) : strdup(json_string_value(v));
    return *out ? PB_OK : pb_errf(err, PB_ERR_NOMEM, "out of memory");
}

static pb_status take_judges(struct task *t, json_t *root, char *err)
{
    json_t *list = json_object_get(root, "judges");
    if (!list) {
        t->judges[0] = JUDGE_LLM, t->judges[1] = JUDGE_LOCAL, t->judges[2] = JUDGE_CONSTANT;
        t->n_judges = 3;
        return PB_OK;
    }
    if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > 3)
        return pb_errf(err, PB_ERR_INVALID, "judges: a list of llm, local, constant");
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *name = json_string_value(json_array_get(list, i));
        int kind = name ? judge_kind_parse(name) : -1;
        if (kind < 0 || task_allows_judge(t, kind))
            return pb_errf(err, PB_ERR_INVALID,
                           "judges: entry %zu must be a distinct one of llm, "
                           "local, constant",
                           i + 1);
        t->judges[t->n_judges++] = kind;
    }
    return PB_OK;
}

/* Templates, segment and defaults for what the file leaves out, then the checks. */
static pb_status finish_task(struct task *t, char *err)
{
    if (!t->user_template && t->has_lines &&
        !(t->user_template = strdup("{sentence}[ ;; {emotion}]")))
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (!t->user_template)
        return pb_errf(err, PB_ERR_INVALID, "a task needs scenarios or a user template");
    if (!t->context_template &&
        !(t->context_template = strdup(t->has_lines ? "{sentence}" : t->user_template)))
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (!t->segment && t->has_lines && !(t->segment = strdup("emotion")))
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (t->segment && !known_var(t, t->segment, strlen(t->segment)))
        return pb_errf(err, PB_ERR_INVALID, "segment: unknown variable '%.40s'", t->segment);
    if (!t->segment_label && !(t->segment_label = strdup(t->segment ? t->segment : "segment")))
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    pb_status rc = check_template(t, "user", t->user_template, err);
    if (rc == PB_OK)
        rc = check_template(t, "context", t->context_template, err);
    return rc;
}

/* SHA-256 over the canonical task JSON, the lines file's hash and every variable's values. */
static pb_status hash_task(struct task *t, json_t *root, char *err)
{
    struct pb_buf b = {0};
    char *canon = root ? json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS) : strdup("");
    int bad = !canon || pb_buf_append(&b, canon, strlen(canon)) != PB_OK;
    free(canon);
    if (!bad && t->has_lines)
        bad = pb_buf_append(&b, "\nlines ", 7) != PB_OK ||
              pb_buf_append(&b, t->lines.sha256, strlen(t->lines.sha256)) != PB_OK;
    for (size_t v = 0; !bad && v < t->n_vars; v++)
        for (size_t k = 0; !bad && k < t->vars[v].n; k++)
            bad = pb_buf_append(&b, "\n", 1) != PB_OK ||
                  pb_buf_append(&b, t->vars[v].name, strlen(t->vars[v].name)) != PB_OK ||
                  pb_buf_append(&b, "=", 1) != PB_OK ||
                  pb_buf_append(&b, t->vars[v].values[k], strlen(t->vars[v].values[k])) != PB_OK;
    if (!bad)
        hash_sha256_hex(b.data, b.len, t->sha256);
    pb_buf_free(&b);
    return bad ? pb_errf(err, PB_ERR_NOMEM, "out of memory") : PB_OK;
}

static pb_status load_lines(struct task *t, const char *path, char *err)
{
    if (!(t->lines_path = strdup(path)))
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    t->has_lines = true;
    return scenarios_load(path, &t->lines, err);
}

static pb_status load_root(struct task *t, json_t *root, const char *dir,
                           const char *lines_override, char *err)
{
    char *lines = NULL;
    pb_status rc = check_keys(root, err);
    if (rc == PB_OK)
        rc = take_string(root, "scenarios", dir, &lines, err);
    if (rc == PB_OK && (lines_override || lines))
        rc = load_lines(t, lines_override ? lines_override : lines, err);
    free(lines);
    json_t *vars = json_object_get(root, "variables");
    if (rc == PB_OK && vars && !json_is_object(vars))
        rc = pb_errf(err, PB_ERR_INVALID, "variables must be an object of name: values");
    const char *key;
    json_t *spec;
    json_object_foreach(vars, key, spec)
    {
        if (rc == PB_OK)
            rc = load_var(t, dir, key, spec, err);
    }
    struct {
        const char *key;
        char **out;
        int path;
    } strings[] = {{"name", &t->name, 0},           {"description", &t->description, 0},
                   {"user", &t->user_template, 0},  {"context", &t->context_template, 0},
                   {"segment", &t->segment, 0},     {"segment_label", &t->segment_label, 0},
                   {"prompts", &t->prompts_dir, 1}, {"rubric", &t->rubric, 1},
                   {"examples", &t->examples, 1},   {"local_model", &t->local_model, 1}};
    for (size_t i = 0; rc == PB_OK && i < sizeof strings / sizeof *strings; i++)
        rc = take_string(root, strings[i].key, strings[i].path ? dir : NULL, strings[i].out, err);
    if (rc == PB_OK && !t->name)
        rc = pb_errf(err, PB_ERR_INVALID, "a task needs a name");
    if (rc == PB_OK)
        rc = take_judges(t, root, err);
    if (rc == PB_OK)
        rc = finish_task(t, err);
    if (rc == PB_OK)
        rc = hash_task(t, root, err);
    return rc;
}

pb_status task_load(const char *path, const char *lines_override, struct task *out, char *err)
{
    json_error_t je;
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return pb_errf(err, errno == ENOENT ? PB_ERR_NOT_FOUND : PB_ERR_IO, "task file %s: %s",
                       path, strerror(errno));
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    fclose(f);
    if (!json_is_object(root)) {
        json_decref(root);
        return pb_errf(err, PB_ERR_INVALID, "task file %s line %d: %s", path, je.line,
                       root ? "the top level must be an object" : je.text);
    }
    char *dir = folder_of(path), inner[PB_ERR_LEN];
    pb_status rc = dir ? load_root(out, root, dir, lines_override, inner)
                       : pb_errf(inner, PB_ERR_NOMEM, "out of memory");
    if (rc != PB_OK)
        pb_errf(err, rc, "task file %s: %s", path, inner);
    free(dir);
    json_decref(root);
    return rc;
}

pb_status task_builtin_chat(const char *lines_path, struct task *out, char *err)
{
    memset(out, 0, sizeof *out);
    pb_status rc = load_lines(out, lines_path, err);
    if (rc == PB_OK && !(out->name = strdup("chat")))
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc == PB_OK) {
        out->judges[0] = JUDGE_LLM, out->judges[1] = JUDGE_LOCAL, out->judges[2] = JUDGE_CONSTANT;
        out->n_judges = 3;
        rc = finish_task(out, err);
    }
    if (rc == PB_OK)
        snprintf(out->sha256, sizeof out->sha256, "%s", out->lines.sha256);
    return rc;
}

/* ---- messages ---- */

static size_t draw(uint64_t seed, long iteration, uint64_t salt, size_t n)
{
    return (size_t)(task_mix64(seed ^ task_mix64((uint64_t)iteration + LINES_SALT) ^ salt) % n);
}

static void bind(const struct task *t, uint64_t seed, long iteration, struct binding *b)
{
    b->n = 0;
    if (t->has_lines) {
        size_t k = draw(seed, iteration, 0, t->lines.n); /* = bandit-run's scenario draw */
        b->names[b->n] = "sentence";
        b->values[b->n++] = t->lines.sentence[k];
        b->names[b->n] = "emotion";
        b->values[b->n++] = t->lines.emotion[k];
    }
    for (size_t v = 0; v < t->n_vars; v++) {
        const struct task_var *x = &t->vars[v];
        uint64_t salt = task_mix64(hash_fnv1a64(x->name, strlen(x->name), 0));
        b->names[b->n] = x->name;
        b->values[b->n++] = x->values[draw(seed, iteration, salt, x->n)];
    }
}

pb_status task_message_of(const struct task *t, uint64_t seed, long iteration,
                          struct task_message *out, char *err)
{
    struct binding b;
    memset(out, 0, sizeof *out);
    bind(t, seed, iteration, &b);
    const char *segment = t->segment ? bound(&b, t->segment, strlen(t->segment)) : NULL;
    out->user = render(t->user_template, &b);
    out->context = render(t->context_template, &b);
    out->segment = segment ? strdup(segment) : NULL;
    if (!out->user || !out->context || (segment && !out->segment)) {
        task_message_clear(out);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    return PB_OK;
}

double task_mean_user_bytes(const struct task *t, uint64_t seed, long n)
{
    double total = 0;
    long counted = 0;
    char err[PB_ERR_LEN];
    for (long i = 0; i < n; i++) {
        struct task_message m;
        if (task_message_of(t, seed, i, &m, err) != PB_OK)
            continue;
        total += (double)strlen(m.user);
        counted++;
        task_message_clear(&m);
    }
    return counted ? total / (double)counted : 0;
}

bool task_allows_judge(const struct task *t, int kind)
{
    for (size_t i = 0; i < t->n_judges; i++)
        if (t->judges[i] == kind)
            return true;
    return false;
}

void task_judges_text(const struct task *t, char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < t->n_judges; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
                 judge_kind_name((enum judge_kind)t->judges[i]));
    }
}

void task_source_text(const struct task *t, char *buf, size_t len)
{
    buf[0] = '\0';
    if (t->has_lines)
        snprintf(buf, len, "%zu scenario lines from %s", t->lines.n, t->lines_path);
    for (size_t v = 0; v < t->n_vars; v++) {
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s (%zu)",
                 used ? (v ? ", " : "; template over ") : "template over ", t->vars[v].name,
                 t->vars[v].n);
    }
}
