/* test_base_pb.c — the shared helpers of pb.h that no other test covers: status codes keep their
 * numbers and names; pb_errf fills the caller's buffer and returns the code, and a message cut
 * at the buffer's end never ends inside a UTF-8 sequence; the growable buffer
 * keeps every byte across growth, stays NUL-terminated, refuses impossible sizes without change,
 * and is reusable after pb_buf_free. */
#include "check.h"
#include "base/pb.h"

#include <stdint.h>

/* Every code with the number and name it has always had. A code is added as a new last row;
 * a row is never edited (numbers and names reach API bodies and logs). */
static const struct {
    pb_status code;
    int value;
    const char *name;
} status_table[] = {
    {PB_OK, 0, "ok"},
    {PB_ERR_INVALID, -1, "invalid"},
    {PB_ERR_NOMEM, -2, "no_memory"},
    {PB_ERR_IO, -3, "io"},
    {PB_ERR_DB, -4, "database"},
    {PB_ERR_NOT_FOUND, -5, "not_found"},
    {PB_ERR_CONFLICT, -6, "conflict"},
    {PB_ERR_PROVIDER, -7, "provider"},
    {PB_ERR_TIMEOUT, -8, "timeout"},
    {PB_ERR_UNAVAILABLE, -9, "unavailable"},
    {PB_ERR_VERSION, -10, "version"},
    {PB_ERR_FORBIDDEN, -11, "forbidden"},
    {PB_ERR_LIMIT, -12, "limit"},
};
#define N_STATUS (sizeof status_table / sizeof status_table[0])

static void test_status_codes_keep_their_numbers_and_names(void)
{
    for (size_t i = 0; i < N_STATUS; i++) {
        CHECK_INT(status_table[i].code, status_table[i].value);
        CHECK_STR(pb_status_name(status_table[i].code), status_table[i].name);
    }
    /* The codes are dense from 0 down: the table holds them all. */
    CHECK_INT(status_table[N_STATUS - 1].value, -(int)(N_STATUS - 1));
}

static void test_every_status_has_its_own_name(void)
{
    for (size_t i = 0; i < N_STATUS; i++) {
        const char *name = pb_status_name(status_table[i].code);
        CHECK(strcmp(name, "error") != 0);
        for (size_t j = 0; j < i; j++)
            if (strcmp(name, pb_status_name(status_table[j].code)) == 0) {
                fprintf(stderr, "codes %d and %d share the name '%s'\n", status_table[i].value,
                        status_table[j].value, name);
                CHECK(0);
            }
    }
}

static void test_a_code_past_the_last_has_no_name(void)
{
    /* Fails when a code is added without a row in status_table (and a name in pb.c). */
    CHECK_STR(pb_status_name((pb_status)(-(int)N_STATUS)), "error");
    CHECK_STR(pb_status_name((pb_status)1), "error");
}

static void test_errf_fills_the_buffer_and_returns_the_code(void)
{
    char err[PB_ERR_LEN] = "";
    CHECK_INT(pb_errf(err, PB_ERR_NOT_FOUND, "line %d: %s", 17, "no arm"), PB_ERR_NOT_FOUND);
    CHECK_STR(err, "line 17: no arm");
    CHECK_INT(pb_errf(NULL, PB_ERR_IO, "ignored"), PB_ERR_IO);
    char long_text[2 * PB_ERR_LEN];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    pb_errf(err, PB_ERR_INVALID, "%s", long_text);
    CHECK_INT(strlen(err), PB_ERR_LEN - 1);
}

/* Found by tests/fuzz/fuzz_provider_reply.c: a provider message of 4-byte characters, cut by
 * the buffer, left half a character that JSON error bodies refuse. */
static void test_errf_cuts_long_text_between_utf8_characters(void)
{
    char err[PB_ERR_LEN];
    char text[2 * PB_ERR_LEN];
    for (size_t shift = 0; shift < 4; shift++) {
        size_t n = 0;
        while (n + 4 < sizeof text) {
            memcpy(text + n, "\xf4\x80\x80\x80", 4); /* U+100000 */
            n += 4;
        }
        text[n] = '\0';
        pb_errf(err, PB_ERR_PROVIDER, "%.*s%s", (int)shift, "abc", text);
        size_t len = strlen(err);
        CHECK(len >= PB_ERR_LEN - 4 && len <= PB_ERR_LEN - 1);
        CHECK_INT((len - shift) % 4, 0); /* whole characters only */
        const char *e = "\xea\xb0\x80";  /* a 3-byte character in a message that fits whole */
        pb_errf(err, PB_ERR_PROVIDER, "%s", e);
        CHECK_STR(err, e);
    }
}

static void test_buf_keeps_bytes_across_growth_and_stays_nul_terminated(void)
{
    struct pb_buf b = {0};
    char expect[5000];
    for (size_t i = 0; i < sizeof expect; i++)
        expect[i] = (char)('a' + i % 26);
    expect[100] = '\0'; /* binary data: an embedded NUL is kept like any byte */
    for (size_t off = 0; off < sizeof expect; off += 7) {
        size_t n = sizeof expect - off < 7 ? sizeof expect - off : 7;
        CHECK_INT(pb_buf_append(&b, expect + off, n), PB_OK);
        CHECK(b.data[b.len] == '\0');
    }
    CHECK_INT(b.len, sizeof expect);
    CHECK(b.cap > b.len);
    CHECK(memcmp(b.data, expect, sizeof expect) == 0);
    pb_buf_free(&b);
}

static void test_buf_empty_append_gives_an_empty_string(void)
{
    struct pb_buf b = {0};
    CHECK_INT(pb_buf_append(&b, NULL, 0), PB_OK);
    CHECK(b.data != NULL);
    CHECK_STR(b.data, "");
    CHECK_INT(b.len, 0);
    pb_buf_free(&b);
}

static void test_buf_refuses_an_impossible_size_unchanged(void)
{
    struct pb_buf b = {0};
    CHECK_INT(pb_buf_append(&b, "abc", 3), PB_OK);
    CHECK_INT(pb_buf_append(&b, "x", SIZE_MAX - 2), PB_ERR_NOMEM);
    CHECK_INT(b.len, 3);
    CHECK_STR(b.data, "abc");
    pb_buf_free(&b);
}

static void test_buf_free_resets_and_the_buffer_is_reusable(void)
{
    struct pb_buf b = {0};
    CHECK_INT(pb_buf_append(&b, "first", 5), PB_OK);
    pb_buf_free(&b);
    CHECK(b.data == NULL);
    CHECK_INT(b.len, 0);
    CHECK_INT(b.cap, 0);
    CHECK_INT(pb_buf_append(&b, "second", 6), PB_OK);
    CHECK_STR(b.data, "second");
    pb_buf_free(&b);
    pb_buf_free(&b); /* twice is harmless */
}

int main(void)
{
    RUN(test_status_codes_keep_their_numbers_and_names);
    RUN(test_every_status_has_its_own_name);
    RUN(test_a_code_past_the_last_has_no_name);
    RUN(test_errf_fills_the_buffer_and_returns_the_code);
    RUN(test_errf_cuts_long_text_between_utf8_characters);
    RUN(test_buf_keeps_bytes_across_growth_and_stays_nul_terminated);
    RUN(test_buf_empty_append_gives_an_empty_string);
    RUN(test_buf_refuses_an_impossible_size_unchanged);
    RUN(test_buf_free_resets_and_the_buffer_is_reusable);
    CHECK_DONE();
}
