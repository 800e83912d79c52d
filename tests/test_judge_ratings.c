/* test_judge_ratings.c — the ratings reader accepts good JSONL and names the line of every bad one:
 * invalid JSON, missing or out-of-range rates, non-UTF-8 text, a reason that is not a string;
 * refuse by default, skip on request. An optional "reason" is kept (the few-shot examples). */
#include "check.h"
#include "judge/ratings.h"

static void good_lines_load_with_caption_or_text(void)
{
    const char *d = "{\"caption\": \"좋은 하루였다.\", \"rate\": 1}\n\n"
                    "{\"text\": \"보통\", \"rate\": -0.5, \"image_id\": \"1.jpg\"}\n";
    struct ratings_set s;
    char err[PB_ERR_LEN];
    CHECK_INT(ratings_parse(d, strlen(d), "r.jsonl", 0, &s, err), PB_OK);
    CHECK_INT(s.n, 2);
    CHECK_STR(s.items[0].text, "좋은 하루였다.");
    CHECK_NEAR(s.items[1].rate, -0.5, 0);
    CHECK_INT(s.items[1].line, 3);
    ratings_free(&s);
}

/* "reason" is optional: kept when given, NULL when absent, empty or null. */
static void reasons_are_kept_when_given(void)
{
    const char *d = "{\"text\": \"따뜻한 답\", \"rate\": 1, \"reason\": \"warm 반말\"}\n"
                    "{\"text\": \"보통\", \"rate\": 0}\n"
                    "{\"text\": \"빈 이유\", \"rate\": 0, \"reason\": \"\"}\n"
                    "{\"text\": \"null 이유\", \"rate\": 0, \"reason\": null}\n";
    struct ratings_set s;
    char err[PB_ERR_LEN];
    CHECK_INT(ratings_parse(d, strlen(d), "r.jsonl", 0, &s, err), PB_OK);
    CHECK_INT(s.n, 4);
    CHECK_STR(s.items[0].reason, "warm 반말");
    CHECK(s.items[1].reason == NULL && s.items[2].reason == NULL && s.items[3].reason == NULL);
    ratings_free(&s);
    /* the bundled few-shot examples carry a reason for every level */
    const char *files[] = {"ratings/examples_chat.jsonl", "ratings/examples_diary.jsonl"};
    for (size_t f = 0; f < 2; f++) {
        CHECK_INT(ratings_load(check_source_path(files[f]), 0, &s, err), PB_OK);
        CHECK_INT(s.n, RATINGS_LEVELS);
        for (size_t i = 0; i < s.n; i++)
            CHECK(s.items[i].reason && strlen(s.items[i].reason) > 10);
        ratings_free(&s);
    }
}

/* Each bad line, alone after one good line, must fail naming line 2 and the problem. */
static void bad_lines_are_refused_with_their_line_number(void)
{
    static const struct {
        const char *line, *expect;
    } cases[] = {
        {"{\"caption\": \"x\", \"rate\": 1", "invalid JSON"},
        {"[1, 2]", "JSON object"},
        {"{\"caption\": \"x\"}", "missing \"rate\""},
        {"{\"caption\": \"x\", \"rate\": 2}", "got 2"},
        {"{\"caption\": \"x\", \"rate\": 0.3}", "rate must be one of"},
        {"{\"caption\": \"x\", \"rate\": \"1\"}", "rate must be one of"},
        {"{\"rate\": 1}", "\"caption\" or \"text\""},
        {"{\"caption\": \"\", \"rate\": 1}", "non-empty"},
        {"{\"caption\": \"\xff\xfe\", \"rate\": 1}", "UTF-8"},
        {"{\"caption\": \"x\", \"rate\": 1, \"reason\": 3}", "\"reason\" must be a string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char data[512], err[PB_ERR_LEN] = "";
        struct ratings_set s;
        snprintf(data, sizeof data, "{\"text\": \"ok\", \"rate\": 0}\n%s\n", cases[i].line);
        CHECK_INT(ratings_parse(data, strlen(data), "r.jsonl", 0, &s, err), PB_ERR_INVALID);
        CHECK(strstr(err, "r.jsonl line 2: ") != NULL);
        if (!strstr(err, cases[i].expect))
            fprintf(stderr, "case %zu: message \"%s\" lacks \"%s\"\n", i, err, cases[i].expect);
        CHECK(strstr(err, cases[i].expect) != NULL);
        CHECK_INT(s.n, 0);
    }
}

static void skip_bad_keeps_good_lines_and_lists_problems(void)
{
    const char *d = "{\"text\": \"a\", \"rate\": 0}\nnot json\n{\"text\": \"b\", \"rate\": 5}\n"
                    "{\"text\": \"c\", \"rate\": 0.5}\n";
    struct ratings_set s;
    char err[PB_ERR_LEN];
    CHECK_INT(ratings_parse(d, strlen(d), "r.jsonl", 1, &s, err), PB_OK);
    CHECK_INT(s.n, 2);
    CHECK_INT(s.skipped, 2);
    CHECK_INT(s.n_problems, 2);
    CHECK(s.n_problems == 2 && strstr(s.problems[0], "line 2") && strstr(s.problems[1], "line 3"));
    ratings_free(&s);
}

static void missing_file_is_not_found(void)
{
    struct ratings_set s;
    char err[PB_ERR_LEN];
    CHECK_INT(ratings_load("/nonexistent/r.jsonl", 0, &s, err), PB_ERR_NOT_FOUND);
}

int main(void)
{
    RUN(good_lines_load_with_caption_or_text);
    RUN(reasons_are_kept_when_given);
    RUN(bad_lines_are_refused_with_their_line_number);
    RUN(skip_bad_keeps_good_lines_and_lists_problems);
    RUN(missing_file_is_not_found);
    CHECK_DONE();
}
