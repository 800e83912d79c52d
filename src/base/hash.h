/* hash.h — SHA-256 (content hashes of prompts), HMAC-SHA256 (keyed pseudonyms of user ids,
 * constant-time token comparison), 64-bit FNV-1a (feature hashing) and random bytes for ids.
 * SHA-256 and HMAC come from OpenSSL's libcrypto, random bytes from getrandom(2). Keeps no
 * state, returns nothing the caller must free, and does no I/O besides getrandom. */
#ifndef HASH_H
#define HASH_H

#include "base/pb.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HASH_SHA256_LEN 32
#define HASH_HEX_LEN    (2 * HASH_SHA256_LEN + 1)

/* SHA-256 of data[0..len) into out. PB_ERR_UNAVAILABLE when libcrypto fails (out of memory, a
 * broken OpenSSL configuration); out is then all zeros. */
pb_status hash_sha256(const void *data, size_t len, uint8_t out[HASH_SHA256_LEN]);

/* HMAC-SHA256 (RFC 2104) of data under key (any length, 0 included) into out. Fails like
 * hash_sha256. */
pb_status hash_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                           uint8_t out[HASH_SHA256_LEN]);

/* Lower-case hex of a digest into out (HASH_HEX_LEN bytes, NUL-terminated). */
void hash_hex(const uint8_t digest[HASH_SHA256_LEN], char out[HASH_HEX_LEN]);

/* SHA-256 of a string as lower-case hex. Fails like hash_sha256; out is then "". */
pb_status hash_sha256_hex(const char *s, size_t len, char out[HASH_HEX_LEN]);

/* 64-bit FNV-1a, seedable (seed 0 = the standard offset basis). */
uint64_t hash_fnv1a64(const void *data, size_t len, uint64_t seed);

/* Compares two NUL-terminated secrets in time independent of where they differ (both are
 * hashed first, so the length does not leak either). True when equal; false when they differ
 * or hashing fails (it fails closed). */
bool hash_secret_equal(const char *a, const char *b);

/* Fills buf[0..len) with bytes from the kernel's CSPRNG (getrandom(2), retried on short reads
 * and EINTR), for ids that must not be guessed. Blocks only before the kernel's pool is first
 * seeded, at boot. PB_ERR_UNAVAILABLE when the kernel has no getrandom, PB_ERR_IO on any other
 * failure; buf is then unspecified and must not be used. */
pb_status hash_random_bytes(void *buf, size_t len, char *err);

#endif
