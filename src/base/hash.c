/* hash.c — SHA-256 and HMAC-SHA256 through OpenSSL's libcrypto (EVP_Digest, EVP_Q_mac),
 * FNV-1a, constant-time comparison, random bytes from getrandom(2). Owns no state: libcrypto
 * keeps its own (the default provider, fetched on first use). Must not read /dev/urandom or
 * roll its own cryptography. */
#include "base/hash.h"

#include "base/pb.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/random.h>

pb_status hash_sha256(const void *data, size_t len, uint8_t out[HASH_SHA256_LEN])
{
    unsigned int n = 0;
    if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != HASH_SHA256_LEN) {
        memset(out, 0, HASH_SHA256_LEN);
        return PB_ERR_UNAVAILABLE;
    }
    return PB_OK;
}

pb_status hash_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                           uint8_t out[HASH_SHA256_LEN])
{
    size_t n = 0;
    /* A NULL key asks OpenSSL to reuse an earlier one; an empty key must be a real pointer. */
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key_len ? key : "", key_len,
                   len ? data : (const void *)"", len, out, HASH_SHA256_LEN, &n) ||
        n != HASH_SHA256_LEN) {
        memset(out, 0, HASH_SHA256_LEN);
        return PB_ERR_UNAVAILABLE;
    }
    return PB_OK;
}

void hash_hex(const uint8_t digest[HASH_SHA256_LEN], char out[HASH_HEX_LEN])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < HASH_SHA256_LEN; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[2 * HASH_SHA256_LEN] = '\0';
}

pb_status hash_sha256_hex(const char *s, size_t len, char out[HASH_HEX_LEN])
{
    uint8_t d[HASH_SHA256_LEN];
    pb_status rc = hash_sha256(s, len, d);
    if (rc != PB_OK) {
        out[0] = '\0';
        return rc;
    }
    hash_hex(d, out);
    return PB_OK;
}

uint64_t hash_fnv1a64(const void *data, size_t len, uint64_t seed)
{
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

bool hash_secret_equal(const char *a, const char *b)
{
    uint8_t da[HASH_SHA256_LEN], db[HASH_SHA256_LEN];
    if (hash_sha256(a, strlen(a), da) != PB_OK || hash_sha256(b, strlen(b), db) != PB_OK)
        return false;
    return CRYPTO_memcmp(da, db, HASH_SHA256_LEN) == 0;
}

pb_status hash_random_bytes(void *buf, size_t len, char *err)
{
    unsigned char *p = buf;
    size_t got = 0;
    while (got < len) {
        /* Reads above 32 MiB - 1 come back short, and a signal can interrupt a large read. */
        ssize_t n = getrandom(p + got, len - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return pb_errf(err, errno == ENOSYS ? PB_ERR_UNAVAILABLE : PB_ERR_IO,
                           "getrandom(%zu bytes): %s", len - got, strerror(errno));
        if (n == 0) /* not in getrandom's contract, but it would loop forever */
            return pb_errf(err, PB_ERR_IO, "getrandom(%zu bytes) returned nothing", len - got);
        got += (size_t)n;
    }
    return PB_OK;
}
