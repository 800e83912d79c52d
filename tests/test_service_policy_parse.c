/* test_service_policy_parse.c — adminapi_policy_parse, the body of POST
 * /v1/experiments/{name}/policy: a spec and optional numeric params become one canonical spec;
 * a policy string longer than the spec buffer is refused before any parameter is appended
 * (found by tests/fuzz/fuzz_request_body.c as a stack overflow, regression input
 * corpus_request_body/regress-long-policy-params). */
#include "check.h"
#include "base/jsonio.h"
#include "service/adminapi.h"
#include "base/pb.h"

static pb_status parse(const char *body, char *canonical, size_t len, char *err)
{
    json_t *root = NULL;
    pb_status rc = jsonio_parse_object(body, strlen(body), &root, err);
    if (rc == PB_OK)
        rc = adminapi_policy_parse(root, canonical, len, err);
    json_decref(root);
    return rc;
}

static void test_a_spec_and_its_params_become_one_canonical_spec(void)
{
    char canonical[128], err[PB_ERR_LEN];
    CHECK_INT(parse("{\"policy\": \"ucb1\"}", canonical, sizeof canonical, err), PB_OK);
    CHECK(strncmp(canonical, "ucb1", 4) == 0);
    CHECK_INT(parse("{\"policy\": \"ucb1\", \"params\": {\"c\": \"x\"}}", canonical,
                    sizeof canonical, err),
              PB_ERR_INVALID);
    CHECK(strstr(err, "params.c must be a number") != NULL);
    CHECK_INT(parse("{\"params\": {}}", canonical, sizeof canonical, err), PB_ERR_INVALID);
}

static void test_an_overlong_policy_is_refused_with_or_without_params(void)
{
    char body[1200], canonical[128], err[PB_ERR_LEN];
    char policy[600];
    memset(policy, 'a', sizeof policy - 1);
    policy[sizeof policy - 1] = '\0';
    snprintf(body, sizeof body, "{\"policy\": \"ucb1:%s\", \"params\": {\"c\": 1}}", policy);
    CHECK_INT(parse(body, canonical, sizeof canonical, err), PB_ERR_INVALID);
    CHECK(strstr(err, "too long") != NULL);
    snprintf(body, sizeof body, "{\"policy\": \"ucb1:%s\"}", policy);
    CHECK_INT(parse(body, canonical, sizeof canonical, err), PB_ERR_INVALID);
    CHECK(strstr(err, "too long") != NULL);
}

int main(void)
{
    RUN(test_a_spec_and_its_params_become_one_canonical_spec);
    RUN(test_an_overlong_policy_is_refused_with_or_without_params);
    CHECK_DONE();
}
