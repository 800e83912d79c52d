/* test_base_text.c — UTF-8 validation, cutting by characters, and edit similarity. */
#include "check.h"
#include "base/text.h"

/* Each row: bytes, expected validity. */
static const struct {
    const char *bytes;
    int valid;
} utf8_cases[] = {
    {"", 1},
    {"hello", 1},
    {"안녕 친구야", 1},
    {"\xF0\x9F\x98\x80", 1}, /* emoji, 4 bytes */
    {"\xC0\xAF", 0},         /* overlong '/' */
    {"\xED\xA0\x80", 0},     /* surrogate */
    {"\xF4\x90\x80\x80", 0}, /* above U+10FFFF */
    {"\xE2\x82", 0},         /* truncated */
    {"abc\xFF", 0},          /* invalid byte */
    {"\x80", 0},             /* lone continuation */
};

static void test_utf8_validation_table(void)
{
    for (size_t i = 0; i < sizeof utf8_cases / sizeof utf8_cases[0]; i++) {
        int got = text_utf8_valid(utf8_cases[i].bytes, strlen(utf8_cases[i].bytes));
        if (got != utf8_cases[i].valid)
            fprintf(stderr, "case %zu\n", i);
        CHECK_INT(got, utf8_cases[i].valid);
    }
}

static void test_prefix_never_splits_a_character(void)
{
    const char *s = "가나다라";
    CHECK_INT(text_utf8_count(s, strlen(s)), 4);
    CHECK_INT(text_utf8_prefix(s, strlen(s), 2), 6);
    CHECK_INT(text_utf8_prefix(s, strlen(s), 10), strlen(s));
    CHECK_INT(text_utf8_prefix(s, strlen(s), 0), 0);
}

static void test_encode_decode_round_trip(void)
{
    uint32_t cps[] = {0x41, 0xE9, 0xAC00, 0x1F600};
    for (size_t i = 0; i < 4; i++) {
        char buf[8];
        size_t n = text_utf8_put(cps[i], buf), pos = 0;
        CHECK(n > 0);
        CHECK_INT(text_utf8_next(buf, n, &pos), cps[i]);
        CHECK_INT(pos, n);
    }
    char buf[8];
    CHECK_INT(text_utf8_put(0xD800, buf), 0);
}

static void test_similarity_counts_characters_not_bytes(void)
{
    CHECK_NEAR(text_similarity("안녕", "안녕", 1000), 1.0, 1e-12);
    CHECK_NEAR(text_similarity("", "", 1000), 1.0, 1e-12);
    CHECK_NEAR(text_similarity("가나다라", "가나다마", 1000), 0.75, 1e-12);
    CHECK_NEAR(text_similarity("abc", "", 1000), 0.0, 1e-12);
    CHECK_NEAR(text_similarity("kitten", "sitting", 1000), 1.0 - 3.0 / 7.0, 1e-12);
    CHECK(text_similarity("abc\xFF", "abc", 1000) < 0);
    CHECK(text_similarity("abcdef", "abc", 5) < 0);
}

int main(void)
{
    RUN(test_utf8_validation_table);
    RUN(test_prefix_never_splits_a_character);
    RUN(test_encode_decode_round_trip);
    RUN(test_similarity_counts_characters_not_bytes);
    CHECK_DONE();
}
