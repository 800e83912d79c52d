/* fuzz_request_body.c — the request bodies of every JSON endpoint, checked as the server checks
 * them without a socket: jsonio_parse_object (what server_req_json calls), jsonio_check_fields
 * with the endpoint's field list, then the endpoint's typed getters in its order, and its own
 * validation: featvec_from_json and the context object (choose), arms_name_valid (arm add,
 * import-run), adminapi_policy_parse (policy). The first byte picks the endpoint; the rest is
 * the body. The field lists and getter orders mirror the handlers in service/api.c,
 * service/chathttp.c and service/adminapi.c (auth checks, which need a request, are left out);
 * keep them in step when a handler changes. A body that passes must have left every required
 * field set. */
#include "bandit/featvec.h"
#include "base/jsonio.h"
#include "service/adminapi.h"
#include "service/api.h"
#include "store/arms.h"
#include "base/pb.h"
#include "fuzz/fuzz_util.h"

#include <math.h>
#include <stdint.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The handler's own parse (api_feedback_parse), then what a passing body must hold. */
static pb_status feedback(json_t *b, char *err)
{
    struct reward_feedback_in in;
    pb_status rc = api_feedback_parse(b, &in, err);
    if (rc != PB_OK)
        return rc;
    if (in.impression_id < 1 || !in.kind || !*in.kind ||
        (in.has_value && !(in.value >= -1 && in.value <= 1)))
        abort();
    return PB_OK;
}

static pb_status choose(json_t *b, char *err)
{
    const char *experiment = NULL, *user = NULL, *segment = NULL;
    int activate = 1;
    double x[FEATVEC_DIM];
    pb_status rc;
    json_t *context = json_object_get(b, "context"), *features;
    if ((rc = jsonio_string(b, "experiment", 0, &experiment, err)) ||
        (rc = jsonio_string(b, "user_id", 0, &user, err)) ||
        (rc = jsonio_string(b, "segment", 0, &segment, err)) ||
        (rc = jsonio_bool(b, "activate", 0, &activate, err)))
        return rc;
    if ((features = json_object_get(b, "features")) && !json_is_null(features)) {
        if ((rc = featvec_from_json(features, x, err)) != PB_OK)
            return rc;
        for (size_t i = 0; i < FEATVEC_DIM; i++)
            if (!isfinite(x[i]))
                abort();
    }
    if (context && !json_is_null(context)) {
        if (!json_is_object(context))
            return pb_errf(err, PB_ERR_INVALID, "field 'context' must be a JSON object");
        char *s = json_dumps(context, JSON_COMPACT);
        if (s) {
            (void)featvec_from_context(s, x, err); /* what choose.c makes of it */
            free(s);
        }
    }
    return PB_OK;
}

static pb_status impression(json_t *b, char *err)
{
    const char *user = NULL;
    return jsonio_string(b, "user_id", 0, &user, err);
}

static pb_status chat(json_t *b, char *err)
{
    const char *user = NULL, *conv = NULL, *message = NULL, *experiment = NULL;
    int consent = -1, stream = 0;
    pb_status rc;
    if ((rc = jsonio_string(b, "user_id", 1, &user, err)) ||
        (rc = jsonio_string(b, "conversation_id", 0, &conv, err)) ||
        (rc = jsonio_string(b, "message", 1, &message, err)) ||
        (rc = jsonio_string(b, "experiment", 0, &experiment, err)) ||
        (rc = jsonio_bool(b, "consent", 0, &consent, err)) ||
        (rc = jsonio_bool(b, "stream", 0, &stream, err)))
        return rc;
    if (!user || !*user || !message || !*message)
        abort();
    return PB_OK;
}

static pb_status regenerate(json_t *b, char *err)
{
    const char *user = NULL, *event = NULL;
    int stream = 0;
    pb_status rc;
    if ((rc = jsonio_string(b, "user_id", 1, &user, err)) ||
        (rc = jsonio_string(b, "event_id", 0, &event, err)) ||
        (rc = jsonio_bool(b, "stream", 0, &stream, err)))
        return rc;
    if (!user || !*user)
        abort();
    return PB_OK;
}

static pb_status arm_add(json_t *b, char *err)
{
    const char *experiment = "default", *name = NULL, *prompt = NULL;
    pb_status rc;
    if ((rc = jsonio_string(b, "experiment", 0, &experiment, err)) ||
        (rc = jsonio_string(b, "name", 1, &name, err)) ||
        (rc = jsonio_string(b, "prompt", 1, &prompt, err)))
        return rc;
    return arms_name_valid(name) ? PB_OK : PB_ERR_INVALID;
}

static pb_status policy(json_t *b, char *err)
{
    char canonical[128];
    pb_status rc = adminapi_policy_parse(b, canonical, sizeof canonical, err);
    if (rc == PB_OK && !memchr(canonical, '\0', sizeof canonical))
        abort();
    return rc;
}

static pb_status promote(json_t *b, char *err)
{
    long long arm = 0;
    return jsonio_integer(b, "arm_id", 1, 1, INT64_MAX, &arm, err);
}

static pb_status import_run(json_t *b, char *err)
{
    long long run = 0;
    const char *name = NULL;
    pb_status rc;
    if ((rc = jsonio_integer(b, "run_id", 1, 1, INT64_MAX, &run, err)) ||
        (rc = jsonio_string(b, "name", 0, &name, err)))
        return rc;
    return name && !arms_name_valid(name) ? PB_ERR_INVALID : PB_OK;
}

static const char *const f_choose[] = {"experiment", "user_id",  "context",
                                       "segment",    "activate", "features"};
static const char *const f_impression[] = {"user_id"};
static const char *const f_chat[] = {"user_id", "conversation_id", "message",
                                     "consent", "experiment",      "stream"};
static const char *const f_regenerate[] = {"user_id", "event_id", "stream"};
static const char *const f_arm_add[] = {"experiment", "name", "prompt"};
static const char *const f_policy[] = {"policy", "params"};
static const char *const f_promote[] = {"arm_id"};
static const char *const f_import[] = {"run_id", "name"};

static const struct endpoint {
    const char *const *fields;
    size_t n;
    pb_status (*check)(json_t *, char *);
} endpoints[] = {
    {API_FEEDBACK_FIELDS, API_FEEDBACK_N_FIELDS, feedback},
    {f_choose, N(f_choose), choose},
    {f_impression, N(f_impression), impression},
    {f_chat, N(f_chat), chat},
    {f_regenerate, N(f_regenerate), regenerate},
    {f_arm_add, N(f_arm_add), arm_add},
    {f_policy, N(f_policy), policy},
    {f_promote, N(f_promote), promote},
    {f_import, N(f_import), import_run},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[PB_ERR_LEN];
    json_t *body = NULL;
    if (size < 1)
        return 0;
    const struct endpoint *e = &endpoints[data[0] % N(endpoints)];
    if (jsonio_parse_object((const char *)data + 1, size - 1, &body, err) != PB_OK)
        return 0;
    if (!json_is_object(body))
        abort();
    if (jsonio_check_fields(body, e->fields, e->n, err) == PB_OK)
        (void)e->check(body, err);
    json_decref(body);
    return 0;
}
