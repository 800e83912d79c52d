/* test_base_jsonio.c — JSON text built by appending (jsonio_buf): what it writes must parse
 * back, through jansson, to exactly the values appended; and the feature vector's text form
 * must read back as the vector. */
#include "check.h"

#include "bandit/featvec.h"
#include "base/jsonio.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Parses text as JSON (any value); NULL when it does not parse. */
static json_t *parse(const char *text)
{
    return json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
}

static void test_strings_round_trip(void)
{
    static const char *const cases[] = {"",
                                        "plain",
                                        "quote \" and backslash \\",
                                        "controls \x01\x02\x1f and \n\r\t\b\f",
                                        "한국어 문장 ;; 기쁨 😀",
                                        "slash / stays"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct jsonio_buf b = {0};
        jsonio_buf_str(&b, cases[i]);
        size_t len = 0;
        char *text = jsonio_buf_take(&b, &len);
        CHECK(text != NULL);
        CHECK_INT(len, strlen(text));
        json_t *v = parse(text);
        CHECK(json_is_string(v));
        CHECK_STR(json_string_value(v), cases[i]);
        json_decref(v);
        free(text);
    }
    struct jsonio_buf b = {0};
    jsonio_buf_str(&b, NULL);
    char *text = jsonio_buf_take(&b, NULL);
    CHECK_STR(text, "null");
    free(text);
}

static void test_numbers(void)
{
    static const long long ints[] = {
        0, 1, -1, 42, -9223372036854775807LL - 1, 9223372036854775807LL};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        struct jsonio_buf b = {0};
        jsonio_buf_int(&b, ints[i]);
        char *text = jsonio_buf_take(&b, NULL);
        json_t *v = parse(text);
        CHECK(json_is_integer(v));
        CHECK(json_integer_value(v) == ints[i]);
        json_decref(v);
        free(text);
    }
    static const double reals[] = {0.25, 1.0 / 3.0, -2.5e-7, 1e300, 3.0, -0.0, 123456789.0};
    for (size_t i = 0; i < sizeof reals / sizeof *reals; i++) {
        struct jsonio_buf b = {0};
        jsonio_buf_real(&b, reals[i], 17);
        char *text = jsonio_buf_take(&b, NULL);
        json_t *v = parse(text);
        CHECK(json_is_number(v));
        CHECK(json_number_value(v) == reals[i]); /* 17 digits: exact */
        json_decref(v);
        free(text);
    }
    struct jsonio_buf b = {0};
    jsonio_buf_real(&b, NAN, 17);
    jsonio_buf_lit(&b, ",");
    jsonio_buf_real(&b, INFINITY, 17);
    jsonio_buf_lit(&b, ",");
    jsonio_buf_real(&b, 1.0 / 3.0, 9);
    char *text = jsonio_buf_take(&b, NULL);
    CHECK_STR(text, "null,null,0.333333333");
    free(text);
}

static void test_empty_and_object(void)
{
    struct jsonio_buf b = {0};
    size_t len = 99;
    char *text = jsonio_buf_take(&b, &len);
    CHECK_STR(text, "");
    CHECK_INT(len, 0);
    free(text);
    /* Many appends grow the buffer past its first size. */
    jsonio_buf_lit(&b, "{\"a\":[");
    for (int i = 0; i < 1000; i++) {
        if (i)
            jsonio_buf_lit(&b, ",");
        jsonio_buf_int(&b, i);
    }
    jsonio_buf_lit(&b, "]}");
    text = jsonio_buf_take(&b, NULL);
    json_t *v = parse(text);
    CHECK(json_is_object(v));
    CHECK_INT(json_array_size(json_object_get(v, "a")), 1000);
    CHECK_INT(json_integer_value(json_array_get(json_object_get(v, "a"), 999)), 999);
    json_decref(v);
    free(text);
    CHECK(b.text.data == NULL && b.text.len == 0); /* take leaves it empty */
}

static void test_featvec_text_reads_back(void)
{
    const double x[FEATVEC_DIM] = {1, 0,    0.70710678118654757, -0.70710678118654746, 0.5, 0,
                                   0, 1e-12};
    struct jsonio_buf b = {0};
    jsonio_buf_lit(&b, "{\"features\":");
    featvec_append_json(&b, x);
    jsonio_buf_lit(&b, "}");
    char *text = jsonio_buf_take(&b, NULL);
    CHECK(text != NULL);
    double y[FEATVEC_DIM];
    char err[PB_ERR_LEN];
    CHECK_INT(featvec_from_context(text, y, err), 1);
    for (size_t i = 0; i < FEATVEC_DIM; i++)
        CHECK(fabs(y[i] - x[i]) <= 1e-9 * fmax(1, fabs(x[i])));
    free(text);
}

int main(void)
{
    RUN(test_strings_round_trip);
    RUN(test_numbers);
    RUN(test_empty_and_object);
    RUN(test_featvec_text_reads_back);
    CHECK_DONE();
}
