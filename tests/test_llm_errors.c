/* test_llm_errors.c — what the LLM client says about a provider's error answer, as a table: which
 * field gives the message, when the quota is exhausted (not retryable), that the key never
 * survives, that control characters are blanked, long messages are cut on a character
 * boundary and bytes that are not UTF-8 are described rather than copied. */
#include "check.h"
#include "llm/llmerr.h"
#include "base/pb.h"

#include <string.h>

static const struct {
    const char *body, *key, *message;
    int quota;
} cases[] = {
    {"{\"error\":{\"message\":\"Rate limit reached for requests\",\"type\":\"requests\"}}", "",
     "Rate limit reached for requests", 0},
    {"{\"error\":{\"message\":\"You exceeded your current quota, please check your plan\","
     "\"type\":\"insufficient_quota\",\"code\":\"insufficient_quota\"}}",
     "", "You exceeded your current quota, please check your plan", 1},
    {"{\"error\":{\"message\":\"no money\",\"code\":\"insufficient_quota\"}}", "", "no money", 1},
    {"{\"error\":{\"message\":\"no money\",\"type\":\"insufficient_quota\"}}", "", "no money", 1},
    {"{\"error\":\"Incorrect API key provided: sk-SECRET42\"}", "sk-SECRET42",
     "Incorrect API key provided: ***", 0},
    {"{\"message\":\"model not loaded\"}", "", "model not loaded", 0},
    {"{\"error\":{\"message\":\"line one\\nline two\\ttab\"}}", "", "line one line two tab", 0},
    {"<html>502 Bad Gateway</html>", "", "<html>502 Bad Gateway</html>", 0},
    {"upstream said sk-SECRET42 twice: sk-SECRET42", "sk-SECRET42", "upstream said *** twice: ***",
     0},
    {"", "", "(no error message)", 0},
    {"\xff\xfe\xfd", "", "(3 bytes, not UTF-8 text)", 0},
};

static void test_error_answers_table(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char msg[PB_ERR_LEN];
        int quota = -1;
        llmerr_describe(cases[i].body, strlen(cases[i].body), cases[i].key, msg, sizeof msg,
                        &quota);
        if (strcmp(msg, cases[i].message) != 0 || quota != cases[i].quota)
            fprintf(stderr, "case %zu: got \"%s\" quota %d\n", i, msg, quota);
        CHECK_STR(msg, cases[i].message);
        CHECK_INT(quota, cases[i].quota);
    }
}

static void test_long_messages_are_cut_on_a_character_boundary(void)
{
    char body[1200], msg[PB_ERR_LEN], want[LLMERR_MSG_CHARS * 3 + 8] = "";
    int quota;
    size_t n = 0;
    n += (size_t)snprintf(body, sizeof body, "{\"error\":{\"message\":\"");
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(body + n, sizeof body - n, "가");
    snprintf(body + n, sizeof body - n, "\"}}");
    for (int i = 0; i < LLMERR_MSG_CHARS; i++)
        strcat(want, "가");
    llmerr_describe(body, strlen(body), "", msg, sizeof msg, &quota);
    /* 160 three-byte characters do not fit in PB_ERR_LEN: the cut falls earlier, whole. */
    size_t kept = strlen(msg) - 3;
    CHECK(strcmp(msg + kept, "...") == 0);
    CHECK_INT(kept % 3, 0);
    CHECK(kept < sizeof msg);
    CHECK(strncmp(msg, want, kept) == 0);
}

static void test_ascii_messages_keep_exactly_the_character_limit(void)
{
    char body[600], msg[PB_ERR_LEN];
    int quota;
    memset(body, 'x', 400);
    body[400] = '\0';
    llmerr_describe(body, 400, "", msg, sizeof msg, &quota);
    CHECK_INT(strlen(msg), LLMERR_MSG_CHARS + 3);
    CHECK(strcmp(msg + LLMERR_MSG_CHARS, "...") == 0);
}

static void test_redact_replaces_every_occurrence(void)
{
    char s[64] = "key=K3Y and K3Y again";
    llmerr_redact(s, sizeof s, "K3Y");
    CHECK_STR(s, "key=*** and *** again");
    llmerr_redact(s, sizeof s, "");
    CHECK_STR(s, "key=*** and *** again");
    llmerr_redact(s, sizeof s, NULL);
    CHECK_STR(s, "key=*** and *** again");
}

/* Keys made of or holding '*' used to loop forever (the "***" matched again). */
static void test_redact_terminates_for_keys_with_stars(void)
{
    char s[64] = "a * b ** c *** d";
    llmerr_redact(s, sizeof s, "*");
    CHECK_STR(s, "a *** b ****** c ********* d");
    char t[64] = "k=sk-*x* end";
    llmerr_redact(t, sizeof t, "sk-*x*");
    CHECK_STR(t, "k=*** end");
    char u[8] = "KEYKEYK";
    llmerr_redact(u, sizeof u, "KEY");
    CHECK_STR(u, "******K");
    CHECK(strstr(u, "KEY") == NULL);
}

int main(void)
{
    RUN(test_error_answers_table);
    RUN(test_redact_terminates_for_keys_with_stars);
    RUN(test_long_messages_are_cut_on_a_character_boundary);
    RUN(test_ascii_messages_keep_exactly_the_character_limit);
    RUN(test_redact_replaces_every_occurrence);
    CHECK_DONE();
}
