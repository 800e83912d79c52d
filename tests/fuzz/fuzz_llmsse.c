/* fuzz_llmsse.c — the SSE stream parser of streamed chat answers (llm/llmsse). The stream is
 * fed twice: whole, and cut into chunks whose sizes come from the first bytes (so every cut
 * point, inside a CRLF, a UTF-8 sequence or a `data:` name, is reached). Both runs must agree
 * on the outcome, the deltas joined and the final answer: where the bytes are cut never changes
 * what the stream means. A small limit (from the input) exercises the PB_ERR_LIMIT paths. */
#include "llm/llm.h"
#include "llm/llmsse.h"
#include "base/pb.h"
#include "fuzz/fuzz_util.h"

struct run {
    pb_status feed_rc, finish_rc;
    char *deltas;
    size_t len;
    struct llm_response r;
};

static void on_delta(const char *text, size_t len, void *ud)
{
    struct run *x = ud;
    if (len == 0)
        abort(); /* deltas handed on are never empty */
    char *p = realloc(x->deltas, x->len + len + 1);
    if (!p)
        abort();
    memcpy(p + x->len, text, len);
    x->len += len;
    p[x->len] = '\0';
    x->deltas = p;
}

static void run_stream(const uint8_t *cuts, size_t n_cuts, const char *s, size_t len, size_t limit,
                       struct run *x)
{
    char err[PB_ERR_LEN];
    struct llmsse p;
    llmsse_init(&p, limit, "sk-fuzz-SECRET");
    x->feed_rc = PB_OK;
    size_t off = 0, c = 0;
    while (off < len) {
        size_t step = n_cuts ? (size_t)cuts[c++ % n_cuts] % 17 : len - off;
        if (step > len - off)
            step = len - off;
        pb_status rc = llmsse_feed(&p, s + off, step, on_delta, x, err);
        if (rc != PB_OK && x->feed_rc == PB_OK)
            x->feed_rc = rc;
        off += step ? step : 0;
        if (step == 0) /* an empty feed must be harmless; the next byte goes alone */
            rc = llmsse_feed(&p, s + off++, 1, on_delta, x, err);
        if (rc != PB_OK && x->feed_rc == PB_OK)
            x->feed_rc = rc;
    }
    x->finish_rc = llmsse_finish(&p, on_delta, x, &x->r, err);
    if (x->finish_rc == PB_OK && (!x->r.text || !*x->r.text))
        abort();
    if (strstr(err, "sk-fuzz-SECRET"))
        abort();
    llmsse_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t n_cuts = data[0] % 8;
    size_t limit = (data[1] & 0x80) ? 16 + (data[1] & 0x7f) * 8 : 0;
    if (size < 2 + n_cuts)
        return 0;
    const uint8_t *cuts = data + 2;
    const char *s = (const char *)data + 2 + n_cuts;
    size_t len = size - 2 - n_cuts;
    struct run whole = {0}, cut = {0};
    run_stream(NULL, 0, s, len, limit, &whole);
    run_stream(cuts, n_cuts, s, len, limit, &cut);
    if (whole.feed_rc != cut.feed_rc || whole.finish_rc != cut.finish_rc || whole.len != cut.len ||
        (whole.len && memcmp(whole.deltas, cut.deltas, whole.len)))
        abort();
    if (whole.finish_rc == PB_OK) {
        if (strcmp(whole.r.text, cut.r.text) != 0 || whole.r.prompt_tokens != cut.r.prompt_tokens ||
            whole.r.completion_tokens != cut.r.completion_tokens)
            abort();
        if (!whole.r.finish_reason != !cut.r.finish_reason ||
            (whole.r.finish_reason && strcmp(whole.r.finish_reason, cut.r.finish_reason)))
            abort();
    }
    free(whole.deltas);
    free(cut.deltas);
    llm_response_clear(&whole.r);
    llm_response_clear(&cut.r);
    return 0;
}
