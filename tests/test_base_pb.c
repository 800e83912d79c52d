/* test_base_pb.c — the shared helpers of pb.h that no other test covers: the growable buffer keeps
 * every byte across growth, stays NUL-terminated, refuses impossible sizes without change,
 * and is reusable after pb_buf_free. */
#include "check.h"
#include "base/pb.h"

#include <stdint.h>

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
    RUN(test_buf_keeps_bytes_across_growth_and_stays_nul_terminated);
    RUN(test_buf_empty_append_gives_an_empty_string);
    RUN(test_buf_refuses_an_impossible_size_unchanged);
    RUN(test_buf_free_resets_and_the_buffer_is_reusable);
    CHECK_DONE();
}
