/* test_base_hash.c — SHA-256 and HMAC-SHA256 against published test vectors; FNV-1a. */
#include "check.h"
#include "base/hash.h"

static void test_sha256_matches_fips_vectors(void)
{
    char hex[HASH_HEX_LEN];
    hash_sha256_hex("", 0, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    hash_sha256_hex("abc", 3, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    hash_sha256_hex(two, strlen(two), hex);
    CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_hmac_matches_rfc4231_case_2(void)
{
    uint8_t d[HASH_SHA256_LEN];
    char hex[HASH_HEX_LEN];
    const char *data = "what do ya want for nothing?";
    hash_hmac_sha256("Jefe", 4, data, strlen(data), d);
    hash_hex(d, hex);
    CHECK_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
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
}

int main(void)
{
    RUN(test_sha256_matches_fips_vectors);
    RUN(test_hmac_matches_rfc4231_case_2);
    RUN(test_fnv1a_standard_value);
    RUN(test_secret_equal);
    CHECK_DONE();
}
