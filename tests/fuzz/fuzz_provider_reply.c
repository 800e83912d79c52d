/* fuzz_provider_reply.c — what the provider and the emotion classifier send back: the Chat
 * Completions JSON answer read by llmwire_judge_answer (its 2xx parse and, for other statuses,
 * the error description with the key redacted) and the classifier answer read by
 * emohttp_parse. The first two bytes pick the HTTP status; the rest is the body. */
#include "emotion/emohttp.h"
#include "llm/llm.h"
#include "llm/llmwire.h"
#include "base/pb.h"
#include "base/text.h"
#include "fuzz/fuzz_util.h"

#include <math.h>

static const long statuses[] = {200, 200, 200, 201, 400, 401, 403, 404, 408, 409, 429, 500, 503};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char key[] = "sk-fuzz-SECRET";
    char msg[PB_ERR_LEN];
    if (size < 1)
        return 0;
    long http = statuses[data[0] % (sizeof statuses / sizeof statuses[0])];
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    struct llm_response r = {0};
    pb_status code = PB_OK;
    enum llmwire_verdict v = llmwire_judge_answer(http, body, len, key, &r, &code, msg);
    if (v == LLMWIRE_DONE) {
        if (code != PB_OK || !r.text || !*r.text)
            abort();
    } else if (code == PB_OK || r.text || strstr(msg, key)) {
        abort();
    }
    if (v != LLMWIRE_DONE && !text_utf8_valid(msg, strlen(msg)))
        abort(); /* the message goes into JSON error bodies and logs */
    llm_response_clear(&r);

    struct emohttp_label out[8];
    size_t n = 0;
    if (emohttp_parse(body, len, out, 8, &n, msg) == PB_OK) {
        if (n > 8)
            abort();
        for (size_t i = 0; i < n; i++)
            if (!isfinite(out[i].score) || !memchr(out[i].label, '\0', sizeof out[i].label))
                abort();
    }
    return 0;
}
