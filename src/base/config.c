/* config.c — the settings table, environment and JSON-file loading, typed getters. */
#include "base/config.h"

#include "base/pb.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum setting_type { T_STR, T_INT, T_DOUBLE, T_BOOL };

struct setting {
    const char *key;
    enum setting_type type;
    const char *def;
    double min, max; /* for T_INT and T_DOUBLE */
    int secret;
    const char *help;
};

/* The one list of settings. Add a row to add a setting; docs/CONFIG.md mirrors it. */
static const struct setting settings[] = {
    {"db.url", T_STR, "", 0, 0, 1,
     "the database: a postgresql:// URL (several serve replicas share it, docs/STORE.md) or a "
     "SQLite file path; empty = db.path"},
    {"db.path", T_STR, "db/promptbandit.db", 0, 0, 0,
     "SQLite database file, used when db.url is empty"},
    {"db.synchronous", T_STR, "FULL", 0, 0, 0,
     "SQLite synchronous mode: FULL (survives power loss) or NORMAL (survives crashes)"},
    {"db.busy_timeout_ms", T_INT, "5000", 0, 600000, 0,
     "wait this long for a locked database (PostgreSQL: the lock timeout)"},
    {"db.vfs", T_STR, "", 0, 0, 0,
     "SQLite VFS: empty = the default; \"faulty\" is for tests only (fails writes or fsyncs as "
     "db.fault_file says, docs/STORE.md)"},
    {"db.fault_file", T_STR, "", 0, 0, 0,
     "with db.vfs = \"faulty\": control file read at every write and sync: write, fsync, both, "
     "full or nothing"},
    {"prompts.dir", T_STR, "prompts", 0, 0, 0, "folder of arm prompt files (*.txt)"},
    {"server.host", T_STR, "127.0.0.1", 0, 0, 0, "address the HTTP service listens on"},
    {"server.port", T_INT, "8080", 0, 65535, 0, "port of the HTTP service (0 = any free port)"},
    {"server.threads", T_INT, "0", 0, 256, 0,
     "worker threads (0 = one per core); a deferred request or stream holds none while it waits"},
    {"server.max_body_bytes", T_INT, "65536", 256, 67108864, 0, "largest request body"},
    {"server.max_connections", T_INT, "2048", 1, 100000, 0,
     "open connections at most, waiting ones included (past it a request gets 503); the default "
     "holds 1,000 streams, and the open-file limit is raised to fit it"},
    {"server.per_ip_connections", T_INT, "128", 0, 100000, 0,
     "open connections per client address (0 = unlimited); one client may wait on 64 chats "
     "and still probe; extra connections are closed unanswered (raise it for a load test)"},
    {"server.idle_timeout_s", T_INT, "15", 1, 3600, 0, "close a connection idle this long"},
    {"server.connection_memory_kb", T_INT, "16", 4, 1024, 0,
     "libmicrohttpd's buffer per connection, for the request line and headers (a request "
     "whose headers do not fit gets 431); libmicrohttpd clears it for every request"},
    {"server.request_timeout_s", T_INT, "60", 1, 3600, 0,
     "deadline for receiving a request (408 after it), and for answering one that waits when "
     "its handler sets none (504 after it)"},
    {"server.shutdown_grace_s", T_DOUBLE, "10", 0, 3600, 0,
     "on SIGTERM, stop within this long: deferred requests get a short drain, then 503; "
     "in-flight ones get the rest"},
    {"server.admin_token", T_STR, "", 0, 0, 1, "token for admin endpoints (empty: admin off)"},
    {"server.user_tokens", T_STR, "", 0, 0, 1,
     "user tokens as user:token pairs separated by commas"},
    {"server.open_chat", T_BOOL, "true", 0, 0, 0,
     "chat endpoints accept requests without a user token"},
    {"server.access_log", T_STR, "-", 0, 0, 0,
     "JSON-lines access log file (- = stderr, empty = off)"},
    {"llm.base_url", T_STR, "", 0, 0, 0,
     "OpenAI-compatible base URL, e.g. https://api.openai.com/v1 (empty: no provider)"},
    {"llm.api_key", T_STR, "", 0, 0, 1, "provider API key (also OPENAI_API_KEY)"},
    {"llm.api_key_file", T_STR, "", 0, 0, 0, "file holding the API key"},
    {"llm.api_version", T_STR, "", 0, 0, 0, "Azure OpenAI api-version (enables Azure mode)"},
    {"llm.model", T_STR, "gpt-4o-mini", 0, 0, 0, "chat model name"},
    {"llm.temperature", T_DOUBLE, "0.8", 0, 2, 0, "sampling temperature for chat answers"},
    {"llm.max_tokens", T_INT, "256", 1, 100000, 0, "largest answer in tokens"},
    {"llm.timeout_s", T_DOUBLE, "30", 0.1, 600, 0,
     "time limit of one provider attempt (a streamed answer: its longest silence)"},
    {"llm.max_retries", T_INT, "2", 0, 10, 0, "retries on 408/409/429/5xx and timeouts"},
    {"llm.concurrency", T_INT, "64", 1, 4096, 0,
     "provider requests in flight at once (the service's chats, and llm_chat_batch)"},
    {"llm.queue_max", T_INT, "256", 0, 100000, 0,
     "provider calls waiting for a slot; past this the service answers 503 at once"},
    {"llm.backoff_initial_s", T_DOUBLE, "0.5", 0.001, 60, 0,
     "first retry waits up to this (full jitter), doubling per retry"},
    {"llm.backoff_max_s", T_DOUBLE, "8", 0.001, 600, 0, "longest backoff between two attempts"},
    {"llm.retry_after_max_s", T_DOUBLE, "120", 0, 3600, 0,
     "a provider's Retry-After is honoured up to this many seconds"},
    {"judge.model", T_STR, "", 0, 0, 0, "judge model (empty: llm.model)"},
    {"judge.local_model", T_STR, "models/reward.pbrm", 0, 0, 0, "local reward model file"},
    {"judge.live_sample_rate", T_DOUBLE, "0", 0, 1, 0,
     "share of live answers the local reward model scores, apart from the rewards (0 = off)"},
    {"judge.live_feeds_bandit", T_BOOL, "false", 0, 0, 0,
     "live judge scores are also rewards (source judge) that move the live bandit"},
    {"judge.live_queue", T_INT, "256", 1, 100000, 0,
     "answers waiting for the live judge; past this they are skipped and counted"},
    {"judge.agreement_warn", T_DOUBLE, "0.3", -1, 1, 0,
     "the dashboard warns when judge-human rank correlation falls below this (10+ pairs)"},
    {"emotion.backend", T_STR, "embedded", 0, 0, 0, "embedded, http or none"},
    {"emotion.model", T_STR, "models/emotion-goemotions.pbem", 0, 0, 0,
     "embedded emotion model file"},
    {"emotion.url", T_STR, "", 0, 0, 0, "remote classifier URL for the http backend"},
    {"emotion.top_k", T_INT, "5", 1, 64, 0, "emotions returned per sentence"},
    {"emotion.timeout_s", T_DOUBLE, "2", 0.05, 600, 0,
     "deadline for one call to the http emotion backend"},
    {"emotion.concurrency", T_INT, "64", 1, 4096, 0,
     "http emotion backend: calls in flight at once (the service's chats wait without a thread)"},
    {"emotion.queue_max", T_INT, "256", 0, 100000, 0,
     "http emotion backend: calls waiting for a slot; past this a chat gets 503 at once"},
    {"chat.history_messages", T_INT, "10", 0, 1000, 0, "earlier messages sent to the LLM"},
    {"chat.history_chars", T_INT, "128", 1, 100000, 0, "each history message cut to this"},
    {"chat.max_message_chars", T_INT, "2000", 1, 1000000, 0, "longest user message accepted"},
    {"bandit.policy", T_STR, "ucb1", 0, 0, 0, "policy of the default experiment"},
    {"bandit.seed", T_INT, "0", 0, 4294967295.0, 0, "RNG seed (0 = from the clock)"},
    {"run.iterations", T_INT, "200", 1, 100000000, 0, "bandit-run: iterations of a new run"},
    {"run.batch", T_INT, "8", 1, 100000, 0,
     "bandit-run: decisions per bandit update (requests in flight: llm.concurrency)"},
    {"run.step_attempts", T_INT, "2", 1, 10, 0,
     "bandit-run: tries of a failing step (generation + judge) before it is recorded failed"},
    {"run.scenarios", T_STR, "prompts/scenarios_chat.txt", 0, 0, 0,
     "bandit-run: opening sentences, one per line (optional TAB emotion)"},
    {"run.price_prompt_per_1k", T_DOUBLE, "0.00015", 0, 1000, 0,
     "USD per 1000 prompt tokens, for bandit-run's usd budgets and the dashboard's cost per arm "
     "(gpt-4o-mini list price)"},
    {"run.price_completion_per_1k", T_DOUBLE, "0.0006", 0, 1000, 0,
     "USD per 1000 completion tokens, for bandit-run and the dashboard (gpt-4o-mini list price)"},
    {"rewards.like", T_DOUBLE, "1", -1, 1, 0, "reward for a like"},
    {"rewards.dislike", T_DOUBLE, "-1", -1, 1, 0, "reward for a dislike"},
    {"rewards.regenerate", T_DOUBLE, "-0.5", -1, 1, 0, "reward for a regenerate"},
    {"rewards.edit_high", T_DOUBLE, "0.9", 0, 1, 0, "edit similarity at or above: high reward"},
    {"rewards.edit_low", T_DOUBLE, "0.5", 0, 1, 0, "edit similarity below: low reward"},
    {"rewards.edit_high_reward", T_DOUBLE, "1", -1, 1, 0, "reward for a light edit"},
    {"rewards.edit_mid_reward", T_DOUBLE, "0", -1, 1, 0, "reward between the thresholds"},
    {"rewards.edit_low_reward", T_DOUBLE, "-0.5", -1, 1, 0, "reward for a heavy edit"},
    {"privacy.pseudonym_key", T_STR, "", 0, 0, 1,
     "key for hashing user ids before storage (empty: ids stored as given)"},
    {"privacy.retention_days", T_INT, "0", 0, 36500, 0, "purge messages older (0 = keep)"},
    {"privacy.retention_interval_s", T_INT, "3600", 1, 604800, 0,
     "how often the service runs the retention purge"},
    {"bandit.segment_min_pulls", T_INT, "20", 0, 1000000, 0,
     "rewards a segment needs before its own bandit decides (until then: global)"},
    {"assign.mode", T_STR, "conversation", 0, 0, 0,
     "arm assignment: turn (every turn), conversation (sticky) or user (sticky with a TTL)"},
    {"assign.user_ttl_s", T_INT, "86400", 1, 31536000, 0,
     "assign.mode user: a user keeps an arm this long"},
    {"chat.memory_ttl_s", T_INT, "1800", 1, 604800, 0,
     "history of conversations without consent is kept in memory this long after a turn"},
    {"chat.memory_conversations", T_INT, "10000", 1, 10000000, 0,
     "conversations kept in memory at most (oldest dropped first)"},
    {"rewards.wait_s", T_INT, "0", 0, 31536000, 0,
     "reward wait time: an activated impression with no reward after this long gets "
     "rewards.missing (0 = off)"},
    {"rewards.missing", T_STR, "exclude", 0, 0, 0,
     "after rewards.wait_s: exclude (no reward, the default) or a number in [-1, 1] given as "
     "reward (source default)"},
    {"rewards.sweep_interval_s", T_INT, "60", 1, 86400, 0,
     "how often the service looks for impressions past rewards.wait_s"},
    {"replica.poll_ms", T_INT, "200", 0, 60000, 0,
     "replicas on one database: read the rewards and events other serve processes wrote this "
     "often (0 = off: one process only)"},
    {"replica.gap_ms", T_INT, "10000", 100, 3600000, 0,
     "a missing reward id is waited for this long before the poll moves past it (longer than "
     "any write transaction lasts)"},
    {"replica.feedback_wait_ms", T_INT, "0", 0, 60000, 0,
     "replicas behind a load balancer: feedback whose impression is not found is looked for "
     "again after each poll for this long (another replica may have chosen it a moment ago and "
     "not committed it yet) before the 404; 0 = answer at once (one process); 2000 suits "
     "replicas"},
    {"replica.event_keep_s", T_INT, "3600", 60, 31536000, 0,
     "replica events (erasures, admin reloads) are deleted after this long"},
    {"bandit.segments", T_STR, "group", 0, 0, 0,
     "live segments: group (top emotion's group), label (top emotion label) or none"},
    {"bandit.segment_map", T_STR, "", 0, 0, 0,
     "TSV file label<TAB>segment overriding the emotion model's mapping (empty: none)"},
    {"openai.model", T_STR, "", 0, 0, 0,
     "/v1/chat/completions: upstream model of every experiment (empty: llm.model)"},
    {"openai.system", T_STR, "replace", 0, 0, 0,
     "/v1/chat/completions: a client's system message is replaced by the arm's prompt "
     "(replace), follows it (prepend) or is refused with 400 (refuse)"},
    {"openai.emotion", T_BOOL, "false", 0, 0, 0,
     "/v1/chat/completions: send the user message as 'message ;; emotion' (the seed's layout)"},
    {"openai.experiments", T_STR, "", 0, 0, 0,
     "/v1/chat/completions: per-experiment overrides NAME:model=M,system=S,emotion=B;NAME2:... "
     "(a key left out keeps the openai.* value; docs/API.md)"},
};
#define N_SETTINGS (sizeof settings / sizeof settings[0])

struct config {
    char *value[N_SETTINGS];
    const char *source[N_SETTINGS];
};

static int find(const char *key)
{
    for (size_t i = 0; i < N_SETTINGS; i++)
        if (strcmp(settings[i].key, key) == 0)
            return (int)i;
    return -1;
}

static int must_find(const char *key)
{
    int i = find(key);
    if (i < 0) {
        fprintf(stderr, "config: unknown setting '%s' asked for (programming error)\n", key);
        abort();
    }
    return i;
}

static pb_status validate(const struct setting *s, const char *v, char *err)
{
    char *end;
    switch (s->type) {
    case T_STR:
        return PB_OK;
    case T_BOOL:
        if (!strcmp(v, "true") || !strcmp(v, "false") || !strcmp(v, "1") || !strcmp(v, "0"))
            return PB_OK;
        return pb_errf(err, PB_ERR_INVALID, "setting %s: expected true or false, got '%s'", s->key,
                       v);
    case T_INT:
    case T_DOUBLE: {
        errno = 0;
        double d = strtod(v, &end);
        if (end == v || *end != '\0' || errno != 0 || !isfinite(d) ||
            (s->type == T_INT && d != floor(d)))
            return pb_errf(err, PB_ERR_INVALID, "setting %s: expected a%s number, got '%s'", s->key,
                           s->type == T_INT ? " whole" : "", v);
        if (d < s->min || d > s->max)
            return pb_errf(err, PB_ERR_INVALID, "setting %s: %s is outside [%g, %g]", s->key, v,
                           s->min, s->max);
        return PB_OK;
    }
    }
    return PB_OK;
}

static pb_status assign(config *cfg, size_t i, const char *v, const char *source, char *err)
{
    pb_status rc = validate(&settings[i], v, err);
    if (rc != PB_OK)
        return rc;
    char *copy = strdup(v);
    if (!copy)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    free(cfg->value[i]);
    cfg->value[i] = copy;
    cfg->source[i] = source;
    return PB_OK;
}

pb_status config_defaults(config **out, char *err)
{
    config *cfg = calloc(1, sizeof *cfg);
    *out = NULL;
    if (!cfg)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < N_SETTINGS; i++) {
        pb_status rc = assign(cfg, i, settings[i].def, "default", err);
        if (rc != PB_OK) {
            config_free(cfg);
            return rc;
        }
    }
    *out = cfg;
    return PB_OK;
}

/* Converts a JSON scalar to the string form the table stores; false for an array, object or
 * null. */
static bool json_scalar_text(json_t *v, char *buf, size_t n)
{
    if (json_is_string(v))
        snprintf(buf, n, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, n, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, n, "%.17g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, n, "%s", json_is_true(v) ? "true" : "false");
    else
        return false;
    return true;
}

static pb_status load_file(config *cfg, const char *path, char *err)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    pb_status rc = PB_OK;
    if (!root)
        return pb_errf(err, PB_ERR_INVALID, "config %s line %d: %s", path, jerr.line, jerr.text);
    if (!json_is_object(root)) {
        rc = pb_errf(err, PB_ERR_INVALID, "config %s: top level must be an object", path);
        goto cleanup;
    }
    const char *section;
    json_t *group;
    json_object_foreach(root, section, group)
    {
        if (!json_is_object(group)) {
            rc = pb_errf(err, PB_ERR_INVALID, "config %s: '%s' must be an object", path, section);
            goto cleanup;
        }
        const char *name;
        json_t *v;
        json_object_foreach(group, name, v)
        {
            char key[128], text[4096];
            snprintf(key, sizeof key, "%s.%s", section, name);
            int i = find(key);
            if (i < 0) {
                rc = pb_errf(err, PB_ERR_INVALID, "config %s: unknown setting '%s'", path, key);
                goto cleanup;
            }
            if (!json_scalar_text(v, text, sizeof text)) {
                rc = pb_errf(err, PB_ERR_INVALID, "config %s: '%s' must be a scalar", path, key);
                goto cleanup;
            }
            rc = assign(cfg, (size_t)i, text, "file", err);
            if (rc != PB_OK)
                goto cleanup;
        }
    }
cleanup:
    json_decref(root);
    return rc;
}

/* "llm.base_url" -> "PB_LLM_BASE_URL" */
static void env_name(const char *key, char *out, size_t n)
{
    size_t j = (size_t)snprintf(out, n, "PB_");
    for (const char *p = key; *p && j + 1 < n; p++)
        out[j++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
    out[j] = '\0';
}

pb_status config_load(const char *json_path, config **out, char *err)
{
    config *cfg = NULL;
    pb_status rc = config_defaults(&cfg, err);
    if (rc != PB_OK)
        return rc;
    if (!json_path)
        json_path = getenv("PB_CONFIG");
    if (json_path && *json_path) {
        rc = load_file(cfg, json_path, err);
        if (rc != PB_OK)
            goto fail;
    }
    static const char *aliases[][2] = {{"OPENAI_API_KEY", "llm.api_key"},
                                       {"OPENAI_BASE_URL", "llm.base_url"}};
    for (size_t a = 0; a < 2; a++) {
        const char *v = getenv(aliases[a][0]);
        if (v && (rc = assign(cfg, (size_t)must_find(aliases[a][1]), v, "env", err)) != PB_OK)
            goto fail;
    }
    for (size_t i = 0; i < N_SETTINGS; i++) {
        char name[128];
        env_name(settings[i].key, name, sizeof name);
        const char *v = getenv(name);
        if (v && (rc = assign(cfg, i, v, "env", err)) != PB_OK)
            goto fail;
    }
    *out = cfg;
    return PB_OK;
fail:
    config_free(cfg);
    *out = NULL;
    return rc;
}

void config_free(config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < N_SETTINGS; i++)
        free(cfg->value[i]);
    free(cfg);
}

pb_status config_set(config *cfg, const char *key, const char *value, char *err)
{
    int i = find(key);
    if (i < 0)
        return pb_errf(err, PB_ERR_INVALID, "unknown setting '%s'", key);
    return assign(cfg, (size_t)i, value, "set", err);
}

const char *config_str(const config *cfg, const char *key)
{
    return cfg->value[must_find(key)];
}

long config_int(const config *cfg, const char *key)
{
    return (long)strtod(cfg->value[must_find(key)], NULL);
}

double config_double(const config *cfg, const char *key)
{
    return strtod(cfg->value[must_find(key)], NULL);
}

bool config_bool(const config *cfg, const char *key)
{
    const char *v = cfg->value[must_find(key)];
    return strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
}

size_t config_count(void)
{
    return N_SETTINGS;
}

const char *config_key_at(size_t i)
{
    return i < N_SETTINGS ? settings[i].key : NULL;
}

const char *config_help_at(size_t i)
{
    return i < N_SETTINGS ? settings[i].help : NULL;
}

const char *config_source(const config *cfg, const char *key)
{
    return cfg->source[must_find(key)];
}

const char *config_display(const config *cfg, const char *key)
{
    int i = must_find(key);
    if (settings[i].secret)
        return cfg->value[i][0] ? "(set)" : "";
    return cfg->value[i];
}
