/* fake_llm.c — `fake-llm`, a deterministic OpenAI-compatible chat-completions server for tests
 * (libmicrohttpd on epoll, jansson). Answers from a rules file or a default Korean reply, as one
 * JSON body or, for `"stream": true`, as Server-Sent Events chunks a token at a time; injects
 * faults from command-line switches or [[fake:...]] markers in the messages; exposes /_stats,
 * /_requests and /_reset for assertions. Nothing sleeps on a thread: a slow answer or the next
 * token parks its connection (MHD_suspend_connection) and a timer thread resumes it when due, so
 * thousands of connections wait at once. A test double only: it listens on 127.0.0.1, never
 * forwards anything, and is never a default provider. */
#include "base/hash.h"
#include "base/pb.h"

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BODY     (8u << 20)
#define MAX_FAULTS   8
#define MAX_COUNTERS 65536
#define TOKEN_CHARS  4 /* a streamed token is up to this many UTF-8 characters */

struct rule {
    const char *system_contains, *user_contains, *any_contains, *reply; /* borrowed from rules */
};

/* One fault spec: "500", "429:retry-after=1:times=2", "quota", "slow=1500", "truncated", ... */
struct fault {
    int status;              /* 0: none */
    double retry_after;      /* < 0: no Retry-After header */
    double retry_after_ms;   /* < 0: no retry-after-ms header */
    double retry_after_date; /* < 0: none; else Retry-After as an HTTP date this far ahead */
    int quota, truncated, malformed, empty_choices, null_content;
    long slow_ms, big_bytes;
    long stream_delay_ms; /* < 0: unset; else the delay before each streamed token */
    int no_done;          /* a stream ends cleanly but without data: [DONE] */
    long times;           /* 0: every time; N: only the first N requests with the same body */
};

/* A connection parked until `due` (monotonic seconds), in the timer's heap. */
struct park {
    double due;
    struct MHD_Connection *conn;
};

struct fake {
    pthread_mutex_t lock;
    atomic_int stopping;
    json_t *rules_json;
    struct rule *rules;
    size_t n_rules;
    struct fault cli_faults[MAX_FAULTS];
    size_t n_cli_faults;
    double fail_rate;
    uint64_t rng;
    const char *require_key, *model;
    long stream_delay_ms; /* --stream-delay-ms */
    /* the timer (under timer_lock): parked connections, resumed when due by timer_main */
    pthread_mutex_t timer_lock;
    pthread_cond_t timer_cond;
    struct park *heap;
    size_t n_heap, cap_heap;
    int timer_stop; /* no more parking: connections are answered at once */
    long parked;    /* connections parked and not yet running again */
    /* under lock: */
    long requests, chat_requests, streams, faults_injected, in_flight, max_in_flight;
    long by_status[600];
    json_t *log; /* array of the last log_size requests */
    size_t log_size;
    struct {
        uint64_t hash;
        long count;
    } counters[MAX_COUNTERS];
    size_t n_counters;
};

struct request {
    char *body;
    size_t len, cap;
    int too_big, is_chat;
    int parked; /* under timer_lock: parked by the chat handler (slow=) */
    /* a chat request once read: its fault and number, kept across a slow= wait */
    json_t *json;
    struct fault f;
    long n;
    int prepared, waited;
    int classify_waited; /* POST /classify: its ?delay_ms= wait is over */
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fake-llm [--port N] [--rules FILE.json] [--fault SPEC]... [--fail-rate P]\n"
            "                [--seed S] [--require-key KEY] [--model NAME] [--log-size N]\n"
            "                [--stream-delay-ms MS] [--threads N]\n\n"
            "A deterministic OpenAI-compatible test server on 127.0.0.1 (see docs/LLM.md).\n"
            "Prints one line 'listening on http://127.0.0.1:PORT' when ready; SIGTERM/SIGINT\n"
            "stop it. --port 0 (the default) picks a free port.\n\n"
            "  --rules FILE     JSON array of {system_contains, user_contains, any_contains,\n"
            "                   reply}; first match wins; reply placeholders {user} {sentence}\n"
            "                   {emotion} {n} {hash} {model} {judged} (a judge prompt's text,\n"
            "                   JSON-escaped: {\"score\": 1, \"reason\": \"{judged}\"})\n"
            "  --fault SPEC     apply to every chat request; SPEC as in [[fake:SPEC]] markers:\n"
            "                   NNN (HTTP status), 429:retry-after=S, 429:retry-after-ms=M,\n"
            "                   429:retry-after-date=S, quota, slow=MS, truncated, malformed,\n"
            "                   empty-choices, null-content, big=BYTES, stream-delay=MS, no-done;\n"
            "                   add :times=N to fail only the first N requests with the same body\n"
            "  --stream-delay-ms MS  delay before each token of a \"stream\": true answer (0)\n"
            "  --threads N      event threads (1); connections never hold one while waiting\n"
            "  --fail-rate P    answer 500 to a random fraction P of chat requests (--seed S)\n"
            "  --require-key K  401 (echoing the key sent) unless Bearer or api-key equals K\n"
            "  POST /classify {\"inputs\": text}[?delay_ms=N]: a stand-in remote emotion\n"
            "                   classifier (joy / sadness / neutral by keywords)\n"
            "  GET /_stats, GET /_requests, POST /_reset: introspection for tests\n");
}

/* ---- faults -------------------------------------------------------------------------------- */

static int fault_parse(const char *spec, size_t len, struct fault *f)
{
    char buf[256], *save = NULL;
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, spec, len);
    buf[len] = '\0';
    memset(f, 0, sizeof *f);
    f->retry_after = f->retry_after_ms = f->retry_after_date = -1;
    f->stream_delay_ms = -1;
    for (char *tok = strtok_r(buf, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
        char *eq = strchr(tok, '=');
        double v = eq ? strtod(eq + 1, NULL) : 0;
        if (eq)
            *eq = '\0';
        if (tok[0] >= '1' && tok[0] <= '5' && strlen(tok) == 3 && !eq)
            f->status = atoi(tok);
        else if (!strcmp(tok, "quota"))
            f->quota = 1;
        else if (!strcmp(tok, "truncated"))
            f->truncated = 1;
        else if (!strcmp(tok, "malformed"))
            f->malformed = 1;
        else if (!strcmp(tok, "empty-choices"))
            f->empty_choices = 1;
        else if (!strcmp(tok, "null-content"))
            f->null_content = 1;
        else if (!strcmp(tok, "no-done"))
            f->no_done = 1;
        else if (eq && !strcmp(tok, "retry-after"))
            f->retry_after = v;
        else if (eq && !strcmp(tok, "retry-after-ms"))
            f->retry_after_ms = v;
        else if (eq && !strcmp(tok, "retry-after-date"))
            f->retry_after_date = v;
        else if (eq && !strcmp(tok, "slow"))
            f->slow_ms = (long)v;
        else if (eq && !strcmp(tok, "big"))
            f->big_bytes = (long)v;
        else if (eq && !strcmp(tok, "stream-delay"))
            f->stream_delay_ms = (long)v;
        else if (eq && !strcmp(tok, "times"))
            f->times = (long)v;
        else
            return -1;
    }
    return 0;
}

/* Merges an active fault into the effective one (later statuses win, delays add up). */
static void fault_merge(struct fault *into, const struct fault *f)
{
    if (f->status)
        into->status = f->status;
    if (f->retry_after >= 0)
        into->retry_after = f->retry_after;
    if (f->retry_after_ms >= 0)
        into->retry_after_ms = f->retry_after_ms;
    if (f->retry_after_date >= 0)
        into->retry_after_date = f->retry_after_date;
    into->quota |= f->quota;
    into->truncated |= f->truncated;
    into->malformed |= f->malformed;
    into->empty_choices |= f->empty_choices;
    into->null_content |= f->null_content;
    into->no_done |= f->no_done;
    if (f->stream_delay_ms >= 0)
        into->stream_delay_ms = f->stream_delay_ms;
    into->slow_ms += f->slow_ms;
    if (f->big_bytes > into->big_bytes)
        into->big_bytes = f->big_bytes;
}

static int fault_active(const struct fault *f, long seen)
{
    return f->times == 0 || seen <= f->times;
}

/* Scans one text for [[fake:SPEC]] markers and merges the active ones. */
static void faults_from_text(const char *s, long seen, struct fault *eff, int *any)
{
    const char *p = s;
    while ((p = strstr(p, "[[fake:")) != NULL) {
        const char *end = strstr(p + 7, "]]");
        struct fault f;
        if (!end)
            break;
        if (fault_parse(p + 7, (size_t)(end - p - 7), &f) == 0 && fault_active(&f, seen)) {
            fault_merge(eff, &f);
            *any = 1;
        }
        p = end + 2;
    }
}

/* Counts this body (1 = first time seen) for :times=N faults. */
static long body_seen(struct fake *fk, const char *body, size_t len)
{
    uint64_t h = hash_fnv1a64(body, len, 0);
    for (size_t i = 0; i < fk->n_counters; i++)
        if (fk->counters[i].hash == h)
            return ++fk->counters[i].count;
    if (fk->n_counters < MAX_COUNTERS) {
        fk->counters[fk->n_counters].hash = h;
        fk->counters[fk->n_counters++].count = 1;
    }
    return 1;
}

static double fake_uniform(struct fake *fk)
{
    uint64_t z = (fk->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

/* ---- answers ------------------------------------------------------------------------------- */

struct chat_view {
    const char *system, *user, *model;
    char emotion[256], sentence[1024], hash[9];
    long n;
};

static void trim_copy(char *out, size_t cap, const char *s, size_t len)
{
    while (len > 0 && (*s == ' ' || *s == '\t' || *s == '\n'))
        s++, len--;
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n'))
        len--;
    if (len >= cap)
        len = cap - 1;
    while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
        len--; /* do not split a UTF-8 character */
    memcpy(out, s, len);
    out[len] = '\0';
}

static void view_fill(struct chat_view *v, json_t *messages, const char *model, long n)
{
    size_t i;
    json_t *m;
    memset(v, 0, sizeof *v);
    v->system = v->user = "";
    v->model = model ? model : "";
    v->n = n;
    json_array_foreach(messages, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        const char *content = json_string_value(json_object_get(m, "content"));
        if (!role || !content)
            continue;
        if (!strcmp(role, "system") && !*v->system)
            v->system = content;
        else if (!strcmp(role, "user"))
            v->user = content;
    }
    const char *sep = NULL;
    for (const char *p = strstr(v->user, ";;"); p; p = strstr(p + 2, ";;"))
        sep = p;
    if (sep) {
        trim_copy(v->emotion, sizeof v->emotion, sep + 2, strlen(sep + 2));
        trim_copy(v->sentence, sizeof v->sentence, v->user, (size_t)(sep - v->user));
    } else {
        trim_copy(v->sentence, sizeof v->sentence, v->user, strlen(v->user));
    }
    snprintf(v->hash, sizeof v->hash, "%08llx",
             (unsigned long long)(hash_fnv1a64(v->system, strlen(v->system), 0) >> 32));
}

static int any_message_contains(json_t *messages, const char *needle)
{
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m)
    {
        const char *content = json_string_value(json_object_get(m, "content"));
        if (content && strstr(content, needle))
            return 1;
    }
    return 0;
}

/* {judged}: the first 40 bytes (whole characters) of the text a judge prompt rates, the lines
 * between "<<<TEXT" and "TEXT>>>" of the user message, as the inside of a JSON string, so a
 * rule can answer a judge with a reason naming the text: {"score": 1, "reason": "{judged}"}. */
static void judged_json(const char *user, char *out, size_t cap)
{
    const char *b = strstr(user, "<<<TEXT\n"), *e = b ? strstr(b + 8, "\nTEXT>>>") : NULL;
    size_t w = 0, n = e ? (size_t)(e - (b + 8)) : 0;
    if (n > 40)
        for (n = 40; n > 0 && ((unsigned char)b[8 + n] & 0xC0) == 0x80; n--)
            ;
    for (size_t i = 0; i < n && w + 7 < cap; i++) {
        unsigned char c = (unsigned char)b[8 + i];
        if (c == '"' || c == '\\')
            w += (size_t)snprintf(out + w, cap - w, "\\%c", c);
        else if (c < 0x20)
            w += (size_t)snprintf(out + w, cap - w, "\\u%04x", c);
        else
            out[w++] = (char)c;
    }
    out[w] = '\0';
}

/* Expands {user} {sentence} {emotion} {n} {hash} {model} {judged} in a template; caller
 * frees. */
static char *expand(const char *tpl, const struct chat_view *v)
{
    size_t cap = strlen(tpl) + 64, len = 0;
    char *out = malloc(cap), num[32], judged[320];
    judged_json(v->user, judged, sizeof judged);
    for (const char *p = tpl; out && *p;) {
        const char *add = NULL;
        size_t skip = 1;
        static const char *names[] = {"{user}", "{sentence}", "{emotion}", "{n}",
                                      "{hash}", "{model}",    "{judged}"};
        snprintf(num, sizeof num, "%ld", v->n);
        const char *values[] = {v->user, v->sentence, v->emotion, num, v->hash, v->model, judged};
        for (size_t k = 0; k < 7 && !add; k++)
            if (!strncmp(p, names[k], strlen(names[k])))
                add = values[k], skip = strlen(names[k]);
        size_t n = add ? strlen(add) : 1;
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            char *grown = realloc(out, cap);
            if (!grown) {
                free(out);
                return NULL;
            }
            out = grown;
        }
        memcpy(out + len, add ? add : p, n);
        len += n;
        p += skip;
    }
    if (out)
        out[len] = '\0';
    return out;
}

static char *reply_for(const struct fake *fk, json_t *messages, const struct chat_view *v)
{
    for (size_t i = 0; i < fk->n_rules; i++) {
        const struct rule *r = &fk->rules[i];
        if ((r->system_contains && !strstr(v->system, r->system_contains)) ||
            (r->user_contains && !strstr(v->user, r->user_contains)) ||
            (r->any_contains && !any_message_contains(messages, r->any_contains)))
            continue;
        return expand(r->reply, v);
    }
    return expand(*v->emotion
                      ? "그랬구나, {emotion} 마음이 느껴져. 얘기해줘서 고마워! (prompt {hash})"
                      : "그랬구나, 얘기해줘서 고마워! (prompt {hash})",
                  v);
}

static long tokens_of(size_t bytes)
{
    return bytes / 4 > 0 ? (long)(bytes / 4) : 1;
}

/* What a chat request is answered with, before it is written as JSON or as a stream. */
struct answer {
    char *reply; /* owned */
    size_t len;
    const char *finish; /* static */
    long prompt_tokens, completion_tokens;
    char model[128];
    long n;
};

/* Fills a for a chat request (the reply cut at max_tokens, padded by big=); 0, or -1 when out
 * of memory. */
static int answer_make(struct fake *fk, json_t *req, const struct fault *f, long n,
                       struct answer *a)
{
    json_t *messages = json_object_get(req, "messages");
    const char *model = json_string_value(json_object_get(req, "model"));
    struct chat_view v;
    view_fill(&v, messages, model, n);
    memset(a, 0, sizeof *a);
    if (!(a->reply = reply_for(fk, messages, &v)))
        return -1;
    a->finish = "stop";
    a->len = strlen(a->reply);
    a->n = n;
    snprintf(a->model, sizeof a->model, "%s", v.model);
    json_int_t max_tokens = json_integer_value(json_object_get(req, "max_tokens"));
    if (f->big_bytes > 0 && (size_t)f->big_bytes > a->len) {
        char *big = realloc(a->reply, (size_t)f->big_bytes + 1);
        if (!big)
            return -1;
        a->reply = big;
        memset(a->reply + a->len, 'x', (size_t)f->big_bytes - a->len);
        a->len = (size_t)f->big_bytes;
        a->reply[a->len] = '\0';
    } else if (max_tokens > 0 && (size_t)max_tokens * 4 < a->len) {
        a->len = (size_t)max_tokens * 4;
        while (a->len > 0 && ((unsigned char)a->reply[a->len] & 0xC0) == 0x80)
            a->len--;
        a->reply[a->len] = '\0';
        a->finish = "length";
    }
    size_t prompt_bytes = 0, i;
    json_t *m;
    json_array_foreach(messages, i, m) prompt_bytes +=
        json_string_length(json_object_get(m, "content"));
    a->prompt_tokens = tokens_of(prompt_bytes);
    a->completion_tokens = tokens_of(a->len);
    return 0;
}

/* The 200 JSON answer; caller frees. */
static char *answer_json(const struct answer *a, const struct fault *f)
{
    json_t *msg = json_pack("{s:s,s:o}", "role", "assistant", "content",
                            f->null_content ? json_null() : json_string(a->reply));
    json_t *choices = f->empty_choices ? json_array()
                                       : json_pack("[{s:i,s:o,s:s}]", "index", 0, "message", msg,
                                                   "finish_reason", a->finish);
    if (f->empty_choices)
        json_decref(msg);
    char id[48];
    snprintf(id, sizeof id, "chatcmpl-fake-%ld", a->n);
    json_t *root = json_pack("{s:s,s:s,s:i,s:s,s:o,s:{s:I,s:I,s:I}}", "id", id, "object",
                             "chat.completion", "created", 1700000000, "model", a->model, "choices",
                             choices, "usage", "prompt_tokens", (json_int_t)a->prompt_tokens,
                             "completion_tokens", (json_int_t)a->completion_tokens, "total_tokens",
                             (json_int_t)(a->prompt_tokens + a->completion_tokens));
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (text && f->truncated)
        text[strlen(text) / 2] = '\0';
    return text;
}

/* ---- HTTP ---------------------------------------------------------------------------------- */

/* Queues a JSON answer (body is freed); count: add the status to /_stats by_status. */
static enum MHD_Result respond(struct MHD_Connection *conn, struct fake *fk, int status, char *body,
                               const struct fault *f, int count)
{
    if (!body)
        return MHD_NO;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    char value[64];
    if (f && f->retry_after >= 0) {
        snprintf(value, sizeof value, "%g", f->retry_after);
        MHD_add_response_header(resp, "Retry-After", value);
    }
    if (f && f->retry_after_ms >= 0) {
        snprintf(value, sizeof value, "%g", f->retry_after_ms);
        MHD_add_response_header(resp, "retry-after-ms", value);
    }
    if (f && f->retry_after_date >= 0) {
        time_t t = time(NULL) + (time_t)f->retry_after_date;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(value, sizeof value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        MHD_add_response_header(resp, "Retry-After", value);
    }
    if (count) {
        pthread_mutex_lock(&fk->lock);
        if (status >= 100 && status < 600)
            fk->by_status[status]++;
        pthread_mutex_unlock(&fk->lock);
    }
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_text(struct MHD_Connection *conn, struct fake *fk, int status,
                                 char *body, const struct fault *f)
{
    return respond(conn, fk, status, body, f, 1);
}

static char *error_json(const char *message, const char *type, const char *code)
{
    json_t *root = json_pack("{s:{s:s,s:s,s:o}}", "error", "message", message, "type", type, "code",
                             code ? json_string(code) : json_null());
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return text;
}

static char *status_error_json(int status)
{
    char msg[160];
    if (status == 429) {
        snprintf(msg, sizeof msg, "Rate limit reached for requests (fake-llm).");
        return error_json(msg, "requests", "rate_limit_exceeded");
    }
    snprintf(msg, sizeof msg,
             "The server had an error while processing your request (fake-llm status %d).", status);
    return error_json(msg, status >= 500 ? "server_error" : "invalid_request_error", NULL);
}

/* ---- parking: connections wait on the timer, never on a thread -------------------------- */

static void heap_swap(struct park *h, size_t i, size_t j)
{
    struct park t = h[i];
    h[i] = h[j];
    h[j] = t;
}

static void heap_push(struct fake *fk, struct park p)
{
    size_t i = fk->n_heap++;
    fk->heap[i] = p;
    while (i > 0 && fk->heap[(i - 1) / 2].due > fk->heap[i].due) {
        heap_swap(fk->heap, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static struct park heap_pop(struct fake *fk)
{
    struct park top = fk->heap[0];
    fk->heap[0] = fk->heap[--fk->n_heap];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < fk->n_heap && fk->heap[l].due < fk->heap[m].due)
            m = l;
        if (r < fk->n_heap && fk->heap[r].due < fk->heap[m].due)
            m = r;
        if (m == i)
            break;
        heap_swap(fk->heap, i, m);
        i = m;
    }
    return top;
}

/* Suspends conn until due (monotonic seconds) and sets *flag (under the timer lock) until it
 * runs again. Only from an MHD callback of that connection. Returns 0, doing nothing, once the
 * server is stopping (or out of memory): the caller then goes on at once. */
static int park(struct fake *fk, struct MHD_Connection *conn, double due, int *flag)
{
    pthread_mutex_lock(&fk->timer_lock);
    if (fk->timer_stop) {
        pthread_mutex_unlock(&fk->timer_lock);
        return 0;
    }
    if (fk->n_heap == fk->cap_heap) {
        size_t cap = fk->cap_heap ? fk->cap_heap * 2 : 256;
        struct park *grown = realloc(fk->heap, cap * sizeof *grown);
        if (!grown) {
            pthread_mutex_unlock(&fk->timer_lock);
            return 0;
        }
        fk->heap = grown;
        fk->cap_heap = cap;
    }
    MHD_suspend_connection(conn); /* before the timer can see it: resume follows suspend */
    heap_push(fk, (struct park){due, conn});
    fk->parked++;
    *flag = 1;
    if (fk->heap[0].conn == conn)
        pthread_cond_signal(&fk->timer_cond);
    pthread_mutex_unlock(&fk->timer_lock);
    return 1;
}

/* The parked connection behind *flag runs again (its callback came back, or it ended). */
static void unpark(struct fake *fk, int *flag)
{
    pthread_mutex_lock(&fk->timer_lock);
    if (*flag) {
        *flag = 0;
        fk->parked--;
    }
    pthread_mutex_unlock(&fk->timer_lock);
}

/* The timer thread: resumes parked connections when due, and all of them once stopping. */
static void *timer_main(void *arg)
{
    struct fake *fk = arg;
    struct MHD_Connection *due[64];
    pthread_mutex_lock(&fk->timer_lock);
    for (;;) {
        size_t n = 0;
        double now = pb_now_monotonic();
        while (fk->n_heap > 0 && n < 64 && (fk->timer_stop || fk->heap[0].due <= now))
            due[n++] = heap_pop(fk).conn;
        if (n > 0) {
            pthread_mutex_unlock(&fk->timer_lock);
            for (size_t i = 0; i < n; i++)
                MHD_resume_connection(due[i]);
            pthread_mutex_lock(&fk->timer_lock);
            continue;
        }
        if (fk->timer_stop)
            break;
        if (fk->n_heap == 0) {
            pthread_cond_wait(&fk->timer_cond, &fk->timer_lock);
        } else {
            double at = fk->heap[0].due;
            struct timespec ts = {(time_t)at, (long)((at - (double)(time_t)at) * 1e9)};
            pthread_cond_timedwait(&fk->timer_cond, &fk->timer_lock, &ts);
        }
    }
    pthread_mutex_unlock(&fk->timer_lock);
    return NULL;
}

/* Records a request in the /_requests log (the caller holds the lock). */
static void log_request(struct fake *fk, struct MHD_Connection *conn, const char *method,
                        const char *url, const struct request *r)
{
    const char *version = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "api-version");
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "api-key");
    json_t *body = r->len ? json_loadb(r->body, r->len, 0, NULL) : NULL;
    if (!body && r->len)
        body = json_stringn_nocheck(r->body, r->len);
    json_t *e =
        json_pack("{s:i,s:s,s:s,s:o,s:o,s:o,s:o}", "n", (json_int_t)fk->requests, "method", method,
                  "path", url, "api_version", version ? json_string(version) : json_null(),
                  "authorization", auth ? json_string(auth) : json_null(), "api_key",
                  key ? json_string(key) : json_null(), "body", body ? body : json_null());
    if (!e)
        return;
    json_array_append_new(fk->log, e);
    while (json_array_size(fk->log) > fk->log_size)
        json_array_remove(fk->log, 0);
}

static const char *presented_key(struct MHD_Connection *conn)
{
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "api-key");
    if (auth && !strncmp(auth, "Bearer ", 7))
        return auth + 7;
    return key ? key : "";
}

/* ---- streams ------------------------------------------------------------------------------ */

enum stream_phase { ST_OPEN, ST_TOKENS, ST_FINISH, ST_USAGE, ST_DONE, ST_END };

/* One streamed answer: its events are made one at a time as the connection can take them. */
struct stream {
    struct fake *fk;
    struct MHD_Connection *conn;
    struct answer a;
    struct fault f;
    int include_usage, malformed_sent;
    long delay_ms, tokens_sent, tokens_total;
    size_t pos; /* next byte of a.reply to send */
    double next_due;
    enum stream_phase phase;
    int parked;
    char *out; /* the event being sent */
    size_t out_len, out_pos;
};

/* The end of the token starting at pos: up to TOKEN_CHARS UTF-8 characters. */
static size_t token_end(const char *s, size_t pos, size_t len)
{
    for (int chars = 0; pos < len && chars < TOKEN_CHARS; chars++) {
        pos++;
        while (pos < len && ((unsigned char)s[pos] & 0xC0) == 0x80)
            pos++;
    }
    return pos;
}

/* Wraps a JSON value (stolen) as one SSE event "data: ...\n\n"; caller frees. */
static char *sse_event(json_t *root)
{
    char *json = root ? json_dumps(root, JSON_COMPACT) : NULL, *out = NULL;
    json_decref(root);
    if (json && (out = malloc(strlen(json) + 9)))
        sprintf(out, "data: %s\n\n", json);
    free(json);
    return out;
}

/* A chat.completion.chunk with delta (stolen) and finish_reason, or the usage chunk. */
static char *chunk_event(const struct stream *st, json_t *delta, const char *finish, int usage)
{
    char id[48];
    snprintf(id, sizeof id, "chatcmpl-fake-%ld", st->a.n);
    json_t *choices;
    if (usage || st->f.empty_choices) {
        json_decref(delta);
        choices = json_array();
    } else {
        choices = json_pack("[{s:i,s:o,s:o}]", "index", 0, "delta", delta, "finish_reason",
                            finish ? json_string(finish) : json_null());
    }
    json_t *root = json_pack("{s:s,s:s,s:i,s:s,s:o}", "id", id, "object", "chat.completion.chunk",
                             "created", 1700000000, "model", st->a.model, "choices", choices);
    if (root && usage)
        json_object_set_new(root, "usage",
                            json_pack("{s:I,s:I,s:I}", "prompt_tokens",
                                      (json_int_t)st->a.prompt_tokens, "completion_tokens",
                                      (json_int_t)st->a.completion_tokens, "total_tokens",
                                      (json_int_t)(st->a.prompt_tokens + st->a.completion_tokens)));
    else if (root && st->include_usage)
        json_object_set_new(root, "usage", json_null());
    return sse_event(root);
}

/* The next token's event into st->out. */
static void stream_token(struct stream *st)
{
    if (st->f.malformed && !st->malformed_sent && st->tokens_sent >= st->tokens_total / 2) {
        st->malformed_sent = 1;
        st->out = strdup("data: this is {not json\n\n");
        return;
    }
    size_t end = token_end(st->a.reply, st->pos, st->a.len);
    json_t *content =
        st->f.null_content ? json_null() : json_stringn(st->a.reply + st->pos, end - st->pos);
    st->out = chunk_event(st, json_pack("{s:o}", "content", content), NULL, 0);
    st->pos = end;
    st->tokens_sent++;
    st->next_due += (double)st->delay_ms / 1000.0;
}

/* Makes the next event into st->out: 1 made, 0 not due yet (st->next_due), -1 the stream is
 * over, -2 cut it (truncated, or the server is stopping). */
static int stream_next(struct stream *st, double now)
{
    switch (st->phase) {
    case ST_OPEN:
        st->out =
            chunk_event(st, json_pack("{s:s,s:s}", "role", "assistant", "content", ""), NULL, 0);
        st->phase = ST_TOKENS;
        st->next_due = now + (double)st->delay_ms / 1000.0;
        return 1;
    case ST_TOKENS:
        if (atomic_load(&st->fk->stopping))
            return -2;
        if (st->pos >= st->a.len) {
            st->phase = ST_FINISH;
            return stream_next(st, now);
        }
        if (st->f.truncated && st->tokens_sent >= st->tokens_total / 2)
            return -2;
        if (now < st->next_due)
            return 0;
        stream_token(st);
        return 1;
    case ST_FINISH:
        st->out = chunk_event(st, json_object(), st->a.finish, 0);
        st->phase = st->include_usage ? ST_USAGE : ST_DONE;
        return 1;
    case ST_USAGE:
        st->out = chunk_event(st, NULL, NULL, 1);
        st->phase = ST_DONE;
        return 1;
    case ST_DONE:
        st->phase = ST_END;
        if (st->f.no_done)
            return -1;
        st->out = strdup("data: [DONE]\n\n");
        return 1;
    case ST_END:
        break;
    }
    return -1;
}

static ssize_t stream_read(void *cls, uint64_t offset, char *buf, size_t max)
{
    struct stream *st = cls;
    if (st->parked)
        unpark(st->fk, &st->parked);
    while (st->out_pos == st->out_len) {
        free(st->out);
        st->out = NULL;
        st->out_len = st->out_pos = 0;
        double now = pb_now_monotonic();
        int rc = stream_next(st, now);
        if (rc == -1)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (rc == -2)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (rc == 0) {
            if (park(st->fk, st->conn, st->next_due, &st->parked))
                return 0; /* the timer resumes the connection when the token is due */
            st->next_due = now;
            continue;
        }
        if (!st->out)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        st->out_len = strlen(st->out);
    }
    size_t n = st->out_len - st->out_pos < max ? st->out_len - st->out_pos : max;
    memcpy(buf, st->out + st->out_pos, n);
    st->out_pos += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    struct stream *st = cls;
    if (st->parked)
        unpark(st->fk, &st->parked);
    free(st->out);
    free(st->a.reply);
    free(st);
}

/* Answers r as an SSE stream of chunks, a token every delay. */
static enum MHD_Result stream_start(struct fake *fk, struct MHD_Connection *conn, struct request *r)
{
    struct stream *st = calloc(1, sizeof *st);
    if (!st || answer_make(fk, r->json, &r->f, r->n, &st->a) != 0) {
        if (st)
            free(st->a.reply);
        free(st);
        return MHD_NO;
    }
    st->fk = fk;
    st->conn = conn;
    st->f = r->f;
    st->delay_ms = r->f.stream_delay_ms >= 0 ? r->f.stream_delay_ms : fk->stream_delay_ms;
    json_t *opts = json_object_get(r->json, "stream_options");
    st->include_usage = json_is_true(json_object_get(opts, "include_usage"));
    for (size_t p = 0; p < st->a.len; p = token_end(st->a.reply, p, st->a.len))
        st->tokens_total++;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st, stream_free);
    if (!resp) {
        stream_free(st);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    pthread_mutex_lock(&fk->lock);
    fk->by_status[200]++;
    fk->streams++;
    pthread_mutex_unlock(&fk->lock);
    enum MHD_Result ret = MHD_queue_response(conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* ---- chat ---------------------------------------------------------------------------------- */

/* Reads a chat request once: the 400 and 401 checks, its number, its faults. Returns 1 when it
 * answered already (*ret set), else 0. */
static int chat_prepare(struct fake *fk, struct MHD_Connection *conn, struct request *r,
                        enum MHD_Result *ret)
{
    r->prepared = 1;
    r->json = json_loadb(r->body ? r->body : "", r->len, 0, NULL);
    json_t *messages = json_object_get(r->json, "messages");
    if (!json_is_array(messages)) {
        *ret = send_text(conn, fk, 400,
                         error_json("request body must be JSON with a messages array",
                                    "invalid_request_error", NULL),
                         NULL);
        return 1;
    }
    if (fk->require_key && strcmp(presented_key(conn), fk->require_key) != 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "Incorrect API key provided: %.300s. (fake-llm)",
                 presented_key(conn));
        *ret = send_text(conn, fk, 401, error_json(msg, "invalid_request_error", "invalid_api_key"),
                         NULL);
        return 1;
    }
    int any = 0;
    fault_parse("", 0, &r->f);
    pthread_mutex_lock(&fk->lock);
    r->n = ++fk->chat_requests;
    long seen = body_seen(fk, r->body ? r->body : "", r->len);
    int random_fail = fk->fail_rate > 0 && fake_uniform(fk) < fk->fail_rate;
    pthread_mutex_unlock(&fk->lock);
    for (size_t i = 0; i < fk->n_cli_faults; i++)
        if (fault_active(&fk->cli_faults[i], seen))
            fault_merge(&r->f, &fk->cli_faults[i]), any = 1;
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m)
    {
        const char *content = json_string_value(json_object_get(m, "content"));
        if (content)
            faults_from_text(content, seen, &r->f, &any);
    }
    if (random_fail)
        r->f.status = 500, any = 1;
    if (any) {
        pthread_mutex_lock(&fk->lock);
        fk->faults_injected++;
        pthread_mutex_unlock(&fk->lock);
    }
    return 0;
}

static enum MHD_Result chat_answer(struct fake *fk, struct MHD_Connection *conn, struct request *r)
{
    const struct fault *f = &r->f;
    if (f->quota)
        return send_text(conn, fk, 429,
                         error_json("You exceeded your current quota, please check your plan and "
                                    "billing details. (fake-llm)",
                                    "insufficient_quota", "insufficient_quota"),
                         f);
    if (f->status && (f->status < 200 || f->status > 299))
        return send_text(conn, fk, f->status, status_error_json(f->status), f);
    if (json_is_true(json_object_get(r->json, "stream")))
        return stream_start(fk, conn, r);
    if (f->malformed)
        return send_text(conn, fk, 200, strdup("this is {not json"), f);
    struct answer a;
    if (answer_make(fk, r->json, f, r->n, &a) != 0) {
        free(a.reply);
        return MHD_NO;
    }
    char *text = answer_json(&a, f);
    free(a.reply);
    return send_text(conn, fk, 200, text, f);
}

/* A chat request: read once, parked for slow= (the handler is called again on resume), then
 * answered. */
static enum MHD_Result handle_chat(struct fake *fk, struct MHD_Connection *conn, struct request *r)
{
    enum MHD_Result ret;
    if (r->parked)
        unpark(fk, &r->parked);
    if (!r->prepared) {
        if (chat_prepare(fk, conn, r, &ret))
            return ret;
        if (r->f.slow_ms > 0 &&
            park(fk, conn, pb_now_monotonic() + (double)r->f.slow_ms / 1000.0, &r->parked))
            return MHD_YES;
    }
    return chat_answer(fk, conn, r);
}

/* A stand-in for a remote emotion classifier (the service's emotion.backend = http):
 * POST /classify {"inputs": text} answers [{label, score}, ...] by keywords — joy for
 * 좋아/기뻐/행복, sadness for 힘들/슬퍼/싸웠, else neutral — after ?delay_ms=N (parked on the
 * timer like slow=; no thread waits). */
static enum MHD_Result handle_classify(struct fake *fk, struct MHD_Connection *conn,
                                       struct request *r)
{
    if (r->parked)
        unpark(fk, &r->parked);
    const char *delay = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "delay_ms");
    long ms = delay ? strtol(delay, NULL, 10) : 0;
    if (!r->classify_waited && ms > 0) {
        r->classify_waited = 1;
        if (park(fk, conn, pb_now_monotonic() + (double)ms / 1000.0, &r->parked))
            return MHD_YES;
    }
    r->classify_waited = 1;
    json_t *body = json_loadb(r->body ? r->body : "", r->len, 0, NULL);
    const char *text = json_string_value(json_object_get(body, "inputs"));
    if (!text) {
        json_decref(body);
        return send_text(conn, fk, 400,
                         error_json("expected {\"inputs\": text}", "invalid_request_error", NULL),
                         NULL);
    }
    static const char *const joy[] = {"좋아", "기뻐", "행복"}, *const sad[] = {"힘들", "슬퍼",
                                                                               "싸웠"};
    const char *label = "neutral";
    for (size_t i = 0; i < 3; i++) {
        if (strstr(text, joy[i]))
            label = "joy";
        if (strstr(text, sad[i]))
            label = "sadness";
    }
    json_decref(body);
    json_t *root = json_pack("[{s:s,s:f},{s:s,s:f}]", "label", label, "score", 0.9, "label",
                             strcmp(label, "neutral") ? "neutral" : "joy", "score", 0.1);
    char *out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return send_text(conn, fk, 200, out, NULL);
}

static enum MHD_Result handle_introspection(struct fake *fk, struct MHD_Connection *conn,
                                            const char *method, const char *url)
{
    json_t *out = NULL;
    pthread_mutex_lock(&fk->lock);
    if (!strcmp(url, "/_stats") && !strcmp(method, "GET")) {
        json_t *by = json_object();
        for (int s = 100; s < 600; s++)
            if (fk->by_status[s]) {
                char k[16];
                snprintf(k, sizeof k, "%d", s);
                json_object_set_new(by, k, json_integer(fk->by_status[s]));
            }
        out = json_pack("{s:I,s:I,s:I,s:o,s:I,s:I,s:I}", "requests", (json_int_t)fk->requests,
                        "chat_requests", (json_int_t)fk->chat_requests, "streams",
                        (json_int_t)fk->streams, "by_status", by, "in_flight",
                        (json_int_t)fk->in_flight, "max_in_flight", (json_int_t)fk->max_in_flight,
                        "faults_injected", (json_int_t)fk->faults_injected);
    } else if (!strcmp(url, "/_requests") && !strcmp(method, "GET")) {
        out = json_pack("{s:O}", "requests", fk->log);
    } else if (!strcmp(url, "/_reset") && !strcmp(method, "POST")) {
        fk->requests = fk->chat_requests = fk->streams = fk->faults_injected = 0;
        fk->max_in_flight = fk->in_flight;
        memset(fk->by_status, 0, sizeof fk->by_status);
        json_array_clear(fk->log);
        fk->n_counters = 0;
        out = json_pack("{s:b}", "ok", 1);
    }
    pthread_mutex_unlock(&fk->lock);
    char *text = out ? json_dumps(out, JSON_COMPACT) : NULL;
    json_decref(out);
    if (!text)
        return respond(conn, fk, 404, error_json("no such route", "not_found", NULL), NULL, 0);
    return respond(conn, fk, 200, text, NULL, 0);
}

static int is_chat_path(const char *url)
{
    size_t n = strlen(url), k = strlen("/chat/completions");
    return n >= k && !strcmp(url + n - k, "/chat/completions");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **state)
{
    struct fake *fk = cls;
    struct request *r = *state;
    if (!r) {
        if (!(r = calloc(1, sizeof *r)))
            return MHD_NO;
        *state = r;
        r->is_chat = is_chat_path(url) && !strcmp(method, "POST");
        pthread_mutex_lock(&fk->lock);
        if (r->is_chat && ++fk->in_flight > fk->max_in_flight)
            fk->max_in_flight = fk->in_flight;
        pthread_mutex_unlock(&fk->lock);
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (r->len + *upload_size > MAX_BODY) {
            r->too_big = 1;
        } else {
            if (r->len + *upload_size + 1 > r->cap) {
                size_t cap = (r->len + *upload_size + 1) * 2;
                char *p = realloc(r->body, cap);
                if (!p)
                    return MHD_NO;
                r->body = p;
                r->cap = cap;
            }
            memcpy(r->body + r->len, upload, *upload_size);
            r->len += *upload_size;
            r->body[r->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->prepared)
        return handle_chat(fk, conn, r); /* resumed after a slow= wait */
    if (r->classify_waited)
        return handle_classify(fk, conn, r); /* resumed after its delay */
    if (url[0] == '/' && url[1] == '_')
        return handle_introspection(fk, conn, method, url);
    pthread_mutex_lock(&fk->lock);
    fk->requests++;
    log_request(fk, conn, method, url, r);
    pthread_mutex_unlock(&fk->lock);
    if (r->too_big)
        return send_text(conn, fk, 413,
                         error_json("request too large", "invalid_request_error", NULL), NULL);
    if (r->is_chat)
        return handle_chat(fk, conn, r);
    if (!strcmp(method, "POST") && (!strcmp(url, "/classify") || !strcmp(url, "/v1/classify")))
        return handle_classify(fk, conn, r);
    if (!strcmp(method, "GET") && (!strcmp(url, "/v1/models") || !strcmp(url, "/models"))) {
        json_t *root = json_pack("{s:s,s:[{s:s,s:s,s:s}]}", "object", "list", "data", "id",
                                 fk->model, "object", "model", "owned_by", "fake-llm");
        char *text = json_dumps(root, JSON_COMPACT);
        json_decref(root);
        return send_text(conn, fk, 200, text, NULL);
    }
    return send_text(conn, fk, 404, error_json("no such route", "not_found", NULL), NULL);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state,
                         enum MHD_RequestTerminationCode code)
{
    struct fake *fk = cls;
    struct request *r = *state;
    if (!r)
        return;
    if (r->is_chat) {
        pthread_mutex_lock(&fk->lock);
        fk->in_flight--;
        pthread_mutex_unlock(&fk->lock);
    }
    if (r->parked)
        unpark(fk, &r->parked);
    json_decref(r->json);
    free(r->body);
    free(r);
    *state = NULL;
}

/* ---- setup --------------------------------------------------------------------------------- */

static int load_rules(struct fake *fk, const char *path, char *err)
{
    json_error_t jerr;
    fk->rules_json = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!fk->rules_json)
        return pb_errf(err, PB_ERR_INVALID, "%s line %d: %s", path, jerr.line, jerr.text);
    if (!json_is_array(fk->rules_json))
        return pb_errf(err, PB_ERR_INVALID, "%s: expected an array of rules", path);
    fk->n_rules = json_array_size(fk->rules_json);
    fk->rules = calloc(fk->n_rules ? fk->n_rules : 1, sizeof *fk->rules);
    if (!fk->rules)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < fk->n_rules; i++) {
        json_t *r = json_array_get(fk->rules_json, i), *v;
        const char *key;
        struct rule *out = &fk->rules[i];
        if (!json_is_object(r))
            return pb_errf(err, PB_ERR_INVALID, "%s: rule %zu is not an object", path, i + 1);
        json_object_foreach(r, key, v)
        {
            const char **slot = !strcmp(key, "system_contains") ? &out->system_contains
                                : !strcmp(key, "user_contains") ? &out->user_contains
                                : !strcmp(key, "any_contains")  ? &out->any_contains
                                : !strcmp(key, "reply")         ? &out->reply
                                                                : NULL;
            if (!slot || !json_is_string(v))
                return pb_errf(err, PB_ERR_INVALID, "%s: rule %zu: '%s' is unknown or not text",
                               path, i + 1, key);
            *slot = json_string_value(v);
        }
        if (!out->reply)
            return pb_errf(err, PB_ERR_INVALID, "%s: rule %zu has no \"reply\"", path, i + 1);
    }
    return PB_OK;
}

/* Parses the command line into fk and *port. Returns 0, 1 (error printed) or 2 (--help). */
static int parse_args(int argc, char **argv, struct fake *fk, unsigned *port, unsigned *threads,
                      char *err)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return 2;
        if (!v) {
            pb_errf(err, 1, "%s needs a value (or unknown option; see --help)", a);
            return 1;
        }
        i++;
        if (!strcmp(a, "--port"))
            *port = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--rules")) {
            if (load_rules(fk, v, err) != PB_OK)
                return 1;
        } else if (!strcmp(a, "--fault")) {
            if (fk->n_cli_faults == MAX_FAULTS ||
                fault_parse(v, strlen(v), &fk->cli_faults[fk->n_cli_faults++]) != 0) {
                pb_errf(err, 1, "--fault '%s': unknown spec or too many faults", v);
                return 1;
            }
        } else if (!strcmp(a, "--fail-rate"))
            fk->fail_rate = strtod(v, NULL);
        else if (!strcmp(a, "--seed"))
            fk->rng = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--require-key"))
            fk->require_key = v;
        else if (!strcmp(a, "--model"))
            fk->model = v;
        else if (!strcmp(a, "--log-size"))
            fk->log_size = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--stream-delay-ms"))
            fk->stream_delay_ms = strtol(v, NULL, 10);
        else if (!strcmp(a, "--threads"))
            *threads = (unsigned)strtoul(v, NULL, 10);
        else {
            pb_errf(err, 1, "unknown option %s (see --help)", a);
            return 1;
        }
    }
    return 0;
}

/* MHD's messages, without the ones every injected fault or departed client causes. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    if (strstr(line, "application error generating response") ||
        strstr(line, "no longer available for sending"))
        return;
    fprintf(stderr, "fake-llm: %s", line);
}

/* Raises the descriptor limit to its hard maximum (a thousand streams need as many sockets)
 * and returns how many connections MHD may then hold. */
static unsigned connection_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1000;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    rlim_t n = rl.rlim_cur == RLIM_INFINITY ? 65536 : rl.rlim_cur;
    n = n > 65536 ? 65536 : n;
    return n > 64 ? (unsigned)(n - 32) : 32;
}

/* Stops parking, lets the timer resume every parked connection and waits (up to 2 s) until
 * each has run again: MHD_stop_daemon must never find a connection suspended. */
static void unpark_all(struct fake *fk, pthread_t timer)
{
    pthread_mutex_lock(&fk->timer_lock);
    fk->timer_stop = 1;
    pthread_cond_signal(&fk->timer_cond);
    pthread_mutex_unlock(&fk->timer_lock);
    pthread_join(timer, NULL);
    for (int i = 0; i < 400; i++) {
        pthread_mutex_lock(&fk->timer_lock);
        long parked = fk->parked;
        pthread_mutex_unlock(&fk->timer_lock);
        if (parked == 0)
            break;
        struct timespec ts = {0, 5000000L};
        nanosleep(&ts, NULL);
    }
}

int main(int argc, char **argv)
{
    static struct fake fk; /* large (body counters); lives for the whole process */
    char err[PB_ERR_LEN];
    unsigned port = 0, threads = 1;
    int rc = 1, timer_started = 0;
    struct MHD_Daemon *d = NULL;
    pthread_t timer;
    pthread_condattr_t cattr;
    pthread_mutex_init(&fk.lock, NULL);
    pthread_mutex_init(&fk.timer_lock, NULL);
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC); /* due times are pb_now_monotonic() */
    pthread_cond_init(&fk.timer_cond, &cattr);
    pthread_condattr_destroy(&cattr);
    fk.model = "fake-llm";
    fk.log_size = 100;
    fk.log = json_array();
    int pr = parse_args(argc, argv, &fk, &port, &threads, err);
    if (pr == 2) {
        usage(stdout);
        rc = 0;
        goto cleanup;
    }
    if (pr != 0) {
        fprintf(stderr, "fake-llm: %s\n", err);
        rc = 2;
        goto cleanup;
    }
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* inherited by MHD's threads; main waits */
    if (pthread_create(&timer, NULL, timer_main, &fk) != 0) {
        fprintf(stderr, "fake-llm: cannot start the timer thread\n");
        goto cleanup;
    }
    timer_started = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_OptionItem pool[] = {{MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL},
                                    {MHD_OPTION_END, 0, NULL}};
    if (threads <= 1)
        pool[0].option = MHD_OPTION_END;
    d = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        on_request, &fk, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR, &addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, &fk, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
        MHD_OPTION_CONNECTION_LIMIT, connection_limit(), MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u,
        MHD_OPTION_ARRAY, pool, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "fake-llm: cannot listen on 127.0.0.1:%u: %s\n", port, strerror(errno));
        goto cleanup;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("listening on http://127.0.0.1:%u\n", info ? (unsigned)info->port : port);
    fflush(stdout);
    int sig;
    sigwait(&sigs, &sig);
    rc = 0;
cleanup:
    atomic_store(&fk.stopping, 1);
    if (timer_started)
        unpark_all(&fk, timer);
    if (d)
        MHD_stop_daemon(d);
    json_decref(fk.log);
    json_decref(fk.rules_json);
    free(fk.rules);
    free(fk.heap);
    pthread_cond_destroy(&fk.timer_cond);
    pthread_mutex_destroy(&fk.timer_lock);
    pthread_mutex_destroy(&fk.lock);
    return rc;
}
