/* test_llm_sse.c — the SSE stream parser (llmsse) on byte buffers, no socket: a table of streams
 * (framing, chunks, usage, [DONE], comments, errors, truncation, limits), each fed whole, one
 * byte at a time and cut at random places, which must all give the same deltas, text, finish
 * reason, usage and error. */
#include "check.h"
#include "base/pb.h"
#include "llm/llmsse.h"

#include <stdint.h>

#define C(text) "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" text "\"}}]}\n\n"
#define ROLE                                                                                       \
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
#define FINISH(reason)                                                                             \
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"" reason "\"}]}\n\n"
#define USAGE "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3}}\n\n"
#define DONE  "data: [DONE]\n\n"

struct sse_case {
    const char *why;
    const char *stream;
    size_t limit;     /* 0: default */
    pb_status rc;     /* of the whole parse (feed, then finish) */
    const char *text; /* deltas joined (also r.text on success) */
    long deltas;
    const char *finish;  /* NULL: none */
    long prompt_tokens;  /* -1: not checked */
    const char *err_has; /* a piece of the error message */
};

static const struct sse_case cases[] = {
    {"an OpenAI stream with usage", ROLE C("안녕") C(", 반가워") FINISH("stop") USAGE DONE, 0,
     PB_OK, "안녕, 반가워", 2, "stop", 7, NULL},
    {"CRLF line endings",
     "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\r\n\r\ndata: "
     "[DONE]\r\n\r\n",
     0, PB_OK, "a", 1, NULL, 0, NULL},
    {"CR-only line endings",
     "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\r\rdata: [DONE]\r\r", 0, PB_OK, "a", 1,
     NULL, 0, NULL},
    {"comments, keep-alives, other fields and empty events are skipped",
     ": OPENROUTER PROCESSING\n\n:\n\nid: 4\nretry: 100\nevent: message\n" C("x") "\n\n" DONE, 0,
     PB_OK, "x", 1, NULL, -1, NULL},
    {"data lines of one event are joined by LF",
     "data: {\"choices\":[{\"delta\":\ndata: "
     "{\"content\":\"yz\"}}]}\n\n" DONE,
     0, PB_OK, "yz", 1, NULL, -1, NULL},
    {"no space after the colon",
     "data:{\"choices\":[{\"delta\":{\"content\":\"q\"}}]}\n\ndata:[DONE]\n\n", 0, PB_OK, "q", 1,
     NULL, -1, NULL},
    {"[DONE] without its blank line at the end", C("end") "data: [DONE]", 0, PB_OK, "end", 1, NULL,
     -1, NULL},
    {"bytes after [DONE] are ignored", C("k") DONE "data: {broken\n\n", 0, PB_OK, "k", 1, NULL, -1,
     NULL},
    {"null content and an Azure filter chunk with no choices are no deltas",
     "data: {\"choices\":[],\"prompt_filter_results\":[]}\n\ndata: "
     "{\"choices\":[{\"delta\":{\"content\":null}}]}\n\n" C("v") DONE,
     0, PB_OK, "v", 1, NULL, -1, NULL},
    {"a stream that ends without [DONE] is truncated", ROLE C("half"), 0, PB_ERR_PROVIDER, "half",
     1, NULL, -1, "truncated stream"},
    {"an empty stream is truncated", "", 0, PB_ERR_PROVIDER, "", 0, NULL, -1, "truncated"},
    {"a chunk cut in the middle at the end", C("a") "data: {\"choices\":[{\"del", 0,
     PB_ERR_PROVIDER, "a", 1, NULL, -1,
     "truncated stream: it ended inside an event after 1 deltas"},
    {"a last chunk without its blank line still counts",
     C("a") "data: {\"choices\":[{\"delta\":"
            "{\"content\":\"b\"}}]}\n",
     0, PB_ERR_PROVIDER, "ab", 2, NULL, -1, "truncated stream: it ended without data: [DONE]"},
    {"[DONE] with no text is an empty answer", ROLE FINISH("content_filter") DONE, 0,
     PB_ERR_PROVIDER, "", 0, "content_filter", -1, "empty answer (finish_reason content_filter)"},
    /* found by tests/fuzz/fuzz_llmsse.c: the finish_reason was repeated with the key in it */
    {"the key is redacted from an empty answer's finish_reason", FINISH("x sk-SECRET-42") DONE, 0,
     PB_ERR_PROVIDER, "", 0, NULL, -1, "empty answer (finish_reason x ***)"},
    {"a payload that is not JSON", C("a") "data: this is {not json\n\n" C("b") DONE, 0,
     PB_ERR_PROVIDER, "a", 1, NULL, -1, "malformed stream chunk: not valid JSON"},
    {"a JSON payload that is not an object", "data: [1,2]\n\n" DONE, 0, PB_ERR_PROVIDER, "", 0,
     NULL, -1, "not a JSON object"},
    {"content of the wrong type", "data: {\"choices\":[{\"delta\":{\"content\":5}}]}\n\n" DONE, 0,
     PB_ERR_PROVIDER, "", 0, NULL, -1, "delta.content is not a string"},
    {"an error object in the stream",
     C("a") "data: {\"error\":{\"message\":\"overloaded now\"}}\n\n", 0, PB_ERR_PROVIDER, "a", 1,
     NULL, -1, "LLM provider sent an error in its stream: overloaded now"},
    {"an error event", "event: error\ndata: {\"message\":\"bad gateway\"}\n\n" DONE, 0,
     PB_ERR_PROVIDER, "", 0, NULL, -1, "bad gateway"},
    {"the key is redacted from a provider's message",
     "data: {\"error\":{\"message\":\"key sk-SECRET-42 revoked\"}}\n\n", 0, PB_ERR_PROVIDER, "", 0,
     NULL, -1, "key *** revoked"},
    {"text past the limit", C("0123456789") C("0123456789") DONE, 15, PB_ERR_LIMIT, "0123456789", 1,
     NULL, -1, "LLM answer larger than the 15-byte limit"},
};

struct collected {
    struct pb_buf text;
    long deltas;
};

static void collect(const char *text, size_t len, void *ud)
{
    struct collected *c = ud;
    CHECK(len > 0);
    pb_buf_append(&c->text, text, len);
    c->deltas++;
}

struct outcome {
    pb_status rc;
    char text[256], finish[64], err[PB_ERR_LEN];
    long deltas, prompt_tokens;
};

/* Parses stream cut into pieces at the given offsets (ascending, within the stream). */
static void parse_cut(const struct sse_case *t, const size_t *cuts, size_t n_cuts,
                      struct outcome *o)
{
    struct llmsse p;
    struct collected c = {{0}, 0};
    struct llm_response r = {0};
    char err[PB_ERR_LEN] = "";
    size_t len = strlen(t->stream), from = 0;
    pb_status rc = PB_OK;
    llmsse_init(&p, t->limit, "sk-SECRET-42");
    for (size_t i = 0; i <= n_cuts && rc == PB_OK; i++) {
        size_t to = i < n_cuts ? cuts[i] : len;
        rc = llmsse_feed(&p, t->stream + from, to - from, collect, &c, err);
        from = to;
    }
    if (rc == PB_OK)
        rc = llmsse_finish(&p, collect, &c, &r, err);
    memset(o, 0, sizeof *o);
    o->rc = rc;
    snprintf(o->text, sizeof o->text, "%s", c.text.data ? c.text.data : "");
    snprintf(o->finish, sizeof o->finish, "%s", r.finish_reason ? r.finish_reason : "");
    snprintf(o->err, sizeof o->err, "%s", rc == PB_OK ? "" : err);
    o->deltas = c.deltas;
    o->prompt_tokens = r.prompt_tokens;
    if (rc == PB_OK)
        CHECK_STR(r.text, o->text); /* the response holds every delta */
    else
        CHECK(r.text == NULL);
    llm_response_clear(&r);
    llmsse_free(&p);
    pb_buf_free(&c.text);
}

static void check_case(const struct sse_case *t, const struct outcome *o, const char *how)
{
    int before = check_failures;
    CHECK_INT(o->rc, t->rc);
    CHECK_STR(o->text, t->text);
    CHECK_INT(o->deltas, t->deltas);
    if (t->rc == PB_OK)
        CHECK_STR(o->finish, t->finish ? t->finish : "");
    if (t->prompt_tokens >= 0 && t->rc == PB_OK)
        CHECK_INT(o->prompt_tokens, t->prompt_tokens);
    if (t->err_has)
        CHECK(strstr(o->err, t->err_has) != NULL);
    if (check_failures != before)
        fprintf(stderr, "  case '%s' fed %s: err '%s'\n", t->why, how, o->err);
}

static void test_table_streams_fed_whole(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct outcome o;
        parse_cut(&cases[i], NULL, 0, &o);
        check_case(&cases[i], &o, "whole");
    }
}

static void test_table_streams_fed_byte_by_byte(void)
{
    static size_t cuts[4096];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i].stream), n = 0;
        for (size_t k = 1; k < len && n < 4096; k++)
            cuts[n++] = k;
        struct outcome o;
        parse_cut(&cases[i], cuts, n, &o);
        check_case(&cases[i], &o, "byte by byte");
    }
}

static void test_table_streams_cut_at_random_places(void)
{
    uint64_t state = 12345;
    for (int round = 0; round < 50; round++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            size_t len = strlen(cases[i].stream), cuts[8], n = 0;
            for (size_t k = 0; k < 8 && len > 1; k++) {
                state = state * 6364136223846793005ULL + 1442695040888963407ULL;
                size_t at = 1 + (size_t)((state >> 33) % (len - 1));
                if (n == 0 || at > cuts[n - 1])
                    cuts[n++] = at;
            }
            struct outcome o;
            parse_cut(&cases[i], cuts, n, &o);
            check_case(&cases[i], &o, "in random pieces");
        }
}

/* A CRLF split between two reads is one line end, not two (which would end an event early). */
static void test_crlf_split_across_reads_is_one_line_end(void)
{
    static const struct sse_case t = {"split CRLF",
                                      "data: {\"choices\":[{\"delta\":\r\ndata: "
                                      "{\"content\":\"ok\"}}]}\r\n\r\ndata: [DONE]\r\n\r\n",
                                      0,
                                      PB_OK,
                                      "ok",
                                      1,
                                      NULL,
                                      -1,
                                      NULL};
    const char *cr = strchr(t.stream, '\r');
    size_t cut = (size_t)(cr - t.stream) + 1; /* between the \r and the \n */
    struct outcome o;
    parse_cut(&t, &cut, 1, &o);
    check_case(&t, &o, "split inside CRLF");
}

/* One event (or line) longer than the limit plus LLMSSE_EVENT_SLACK is refused before it ends,
 * so a provider cannot make the parser buffer without bound. */
static void test_an_endless_line_is_a_limit_error(void)
{
    struct llmsse p;
    char err[PB_ERR_LEN] = "", block[1024];
    memset(block, 'x', sizeof block);
    llmsse_init(&p, 10, NULL);
    pb_status rc = llmsse_feed(&p, "data: ", 6, NULL, NULL, err);
    size_t fed = 6;
    while (rc == PB_OK && fed < 10 + LLMSSE_EVENT_SLACK + 2048) {
        rc = llmsse_feed(&p, block, sizeof block, NULL, NULL, err);
        fed += sizeof block;
    }
    CHECK_INT(rc, PB_ERR_LIMIT);
    CHECK(fed <= 10 + LLMSSE_EVENT_SLACK + sizeof block);
    CHECK(p.line.len <= 10 + LLMSSE_EVENT_SLACK);
    llmsse_free(&p);
}

static void test_errors_stick_and_later_bytes_are_ignored(void)
{
    struct llmsse p;
    struct collected c = {{0}, 0};
    char err[PB_ERR_LEN] = "";
    llmsse_init(&p, 0, NULL);
    const char *bad = "data: nope\n\n";
    CHECK_INT(llmsse_feed(&p, bad, strlen(bad), collect, &c, err), PB_ERR_PROVIDER);
    err[0] = '\0';
    const char *good = C("late") DONE;
    CHECK_INT(llmsse_feed(&p, good, strlen(good), collect, &c, err), PB_ERR_PROVIDER);
    CHECK(strstr(err, "malformed stream chunk") != NULL);
    CHECK_INT(c.deltas, 0);
    struct llm_response r = {0};
    CHECK_INT(llmsse_finish(&p, collect, &c, &r, err), PB_ERR_PROVIDER);
    CHECK(r.text == NULL);
    llmsse_free(&p);
    llmsse_free(&p); /* safe twice */
    pb_buf_free(&c.text);
}

int main(void)
{
    RUN(test_table_streams_fed_whole);
    RUN(test_table_streams_fed_byte_by_byte);
    RUN(test_table_streams_cut_at_random_places);
    RUN(test_crlf_split_across_reads_is_one_line_end);
    RUN(test_an_endless_line_is_a_limit_error);
    RUN(test_errors_stick_and_later_bytes_are_ignored);
    CHECK_DONE();
}
