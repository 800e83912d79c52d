/* hash.h — SHA-256 (content hashes of prompts), HMAC-SHA256 (keyed pseudonyms of user ids,
 * constant-time token comparison) and 64-bit FNV-1a (feature hashing). Pure functions; no
 * allocation, no I/O. */
#ifndef HASH_H
#define HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_SHA256_LEN 32
#define HASH_HEX_LEN    (2 * HASH_SHA256_LEN + 1)

void hash_sha256(const void *data, size_t len, uint8_t out[HASH_SHA256_LEN]);
void hash_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                      uint8_t out[HASH_SHA256_LEN]);

/* Lower-case hex of a digest into out (HASH_HEX_LEN bytes, NUL-terminated). */
void hash_hex(const uint8_t digest[HASH_SHA256_LEN], char out[HASH_HEX_LEN]);

/* SHA-256 of a string as lower-case hex. */
void hash_sha256_hex(const char *s, size_t len, char out[HASH_HEX_LEN]);

/* 64-bit FNV-1a, seedable (seed 0 = the standard offset basis). */
uint64_t hash_fnv1a64(const void *data, size_t len, uint64_t seed);

/* Compares two NUL-terminated secrets in time independent of where they differ (both are
 * hashed first, so the length does not leak either). Returns 1 when equal. */
int hash_secret_equal(const char *a, const char *b);

#endif
