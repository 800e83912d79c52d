/* test_base_hash.c — SHA-256 and HMAC-SHA256 against published test vectors (FIPS 180-2
 * examples, all seven RFC 4231 cases); FNV-1a; constant-time comparison; random bytes from
 * getrandom, including a long read that signals cut short. */
#include "check.h"
#include "base/hash.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/time.h>

static void test_sha256_matches_fips_vectors(void)
{
    char hex[HASH_HEX_LEN];
    CHECK_INT(hash_sha256_hex("", 0, hex), PB_OK);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK_INT(hash_sha256_hex("abc", 3, hex), PB_OK);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    CHECK_INT(hash_sha256_hex(two, strlen(two), hex), PB_OK);
    CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_sha256_of_a_million_a(void)
{
    size_t n = 1000000;
    char *a = malloc(n);
    uint8_t d[HASH_SHA256_LEN];
    char hex[HASH_HEX_LEN];
    memset(a, 'a', n);
    CHECK_INT(hash_sha256(a, n, d), PB_OK);
    hash_hex(d, hex);
    CHECK_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

/* RFC 4231 section 4: key and data as (repeated) bytes or text; case 5 is truncated to 128
 * bits, so only the first 32 hex digits are compared. */
struct hmac_case {
    const char *name;
    uint8_t key_byte;
    size_t key_len;
    const char *key_text; /* used instead of key_byte when set */
    uint8_t data_byte;
    size_t data_len;
    const char *data_text; /* used instead of data_byte when set */
    const char *expect;
};

static const struct hmac_case hmac_cases[] = {
    {"case 1", 0x0b, 20, NULL, 0, 0, "Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
    {"case 2", 0, 0, "Jefe", 0, 0, "what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    {"case 3", 0xaa, 20, NULL, 0xdd, 50, NULL,
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
    {"case 4", 0, 25, NULL, 0xcd, 50, NULL, /* key 0x01..0x19, filled below */
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
    {"case 5", 0x0c, 20, NULL, 0, 0, "Test With Truncation", "a3b6167473100ee06e0c796c2955552b"},
    {"case 6", 0xaa, 131, NULL, 0, 0, "Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
    {"case 7", 0xaa, 131, NULL, 0, 0,
     "This is a test using a larger than block-size key and a larger than block-size data. The "
     "key needs to be hashed before being used by the HMAC algorithm.",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
};

static void test_hmac_matches_rfc4231(void)
{
    for (size_t i = 0; i < sizeof hmac_cases / sizeof hmac_cases[0]; i++) {
        const struct hmac_case *c = &hmac_cases[i];
        uint8_t key[256], data[256], d[HASH_SHA256_LEN];
        char hex[HASH_HEX_LEN];
        size_t key_len = c->key_text ? strlen(c->key_text) : c->key_len;
        size_t data_len = c->data_text ? strlen(c->data_text) : c->data_len;
        if (c->key_text)
            memcpy(key, c->key_text, key_len);
        else
            for (size_t k = 0; k < key_len; k++)
                key[k] = c->key_byte ? c->key_byte : (uint8_t)(k + 1);
        if (c->data_text)
            memcpy(data, c->data_text, data_len);
        else
            memset(data, c->data_byte, data_len);
        CHECK_INT(hash_hmac_sha256(key, key_len, data, data_len, d), PB_OK);
        hash_hex(d, hex);
        if (strncmp(hex, c->expect, strlen(c->expect)) != 0)
            fprintf(stderr, "RFC 4231 %s: got %s\n", c->name, hex);
        CHECK(strncmp(hex, c->expect, strlen(c->expect)) == 0);
    }
}

static void test_hmac_with_an_empty_key_and_empty_data(void)
{
    uint8_t d[HASH_SHA256_LEN];
    char hex[HASH_HEX_LEN];
    CHECK_INT(hash_hmac_sha256("", 0, "", 0, d), PB_OK);
    hash_hex(d, hex);
    CHECK_STR(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
    CHECK_INT(hash_hmac_sha256(NULL, 0, NULL, 0, d), PB_OK); /* NULL is fine when empty */
    hash_hex(d, hex);
    CHECK_STR(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void test_fnv1a_standard_value(void)
{
    CHECK(hash_fnv1a64("a", 1, 0) == 0xaf63dc4c8601ec8cULL);
    CHECK(hash_fnv1a64("a", 1, 1) != hash_fnv1a64("a", 1, 0));
}

static void test_secret_equal(void)
{
    CHECK(hash_secret_equal("token-1", "token-1"));
    CHECK(!hash_secret_equal("token-1", "token-2"));
    CHECK(!hash_secret_equal("token-1", "token-10"));
    CHECK(hash_secret_equal("", ""));
    CHECK(!hash_secret_equal("", "x"));
}

static void test_random_bytes_differ_between_calls(void)
{
    char err[PB_ERR_LEN] = "";
    uint8_t a[32] = {0}, b[32] = {0}, zero[32] = {0};
    CHECK_INT(hash_random_bytes(a, sizeof a, err), PB_OK);
    CHECK_INT(hash_random_bytes(b, sizeof b, err), PB_OK);
    CHECK(memcmp(a, b, sizeof a) != 0);    /* 2^-256 chance of a false failure */
    CHECK(memcmp(a, zero, sizeof a) != 0); /* the buffer was written */
    CHECK_INT(hash_random_bytes(NULL, 0, err), PB_OK);
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

static void test_random_bytes_fill_the_buffer_through_short_reads_and_eintr(void)
{
    /* A signal that arrives during a long getrandom makes it return short (or fail with EINTR
     * when nothing was read yet): a 1 ms timer without SA_RESTART interrupts a 16 MiB read many
     * times, and the last page must still be written. */
    size_t n = 16u << 20;
    uint8_t *buf = calloc(1, n), zero[4096] = {0};
    char err[PB_ERR_LEN] = "";
    CHECK(buf != NULL);
    if (!buf)
        return;
    struct sigaction sa = {0}, old;
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, &old);
    struct itimerval every_ms = {{0, 1000}, {0, 1000}}, off = {{0, 0}, {0, 0}};
    alarms = 0;
    setitimer(ITIMER_REAL, &every_ms, NULL);
    pb_status rc = hash_random_bytes(buf, n, err);
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old, NULL);
    CHECK_INT(rc, PB_OK);
    CHECK(alarms > 0); /* the read was interrupted, so the retry path ran */
    CHECK(memcmp(buf + n - sizeof zero, zero, sizeof zero) != 0);
    free(buf);
}

int main(void)
{
    RUN(test_sha256_matches_fips_vectors);
    RUN(test_sha256_of_a_million_a);
    RUN(test_hmac_matches_rfc4231);
    RUN(test_hmac_with_an_empty_key_and_empty_data);
    RUN(test_fnv1a_standard_value);
    RUN(test_secret_equal);
    RUN(test_random_bytes_differ_between_calls);
    RUN(test_random_bytes_fill_the_buffer_through_short_reads_and_eintr);
    CHECK_DONE();
}
