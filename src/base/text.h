/* text.h — UTF-8 handling shared by every module that touches user or model text:
 * validation, decoding, counting and cutting by characters, and a character-level
 * similarity for edit feedback. Pure functions over caller buffers; no allocation except
 * where a function says so, no I/O. */
#ifndef TEXT_H
#define TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool text_utf8_valid(const char *s, size_t len);

/* Decodes one code point at s[*pos], advancing *pos. Returns the code point, or -1 on a
 * malformed sequence (then *pos advances by one byte so callers can resynchronise). */
int32_t text_utf8_next(const char *s, size_t len, size_t *pos);

/* Encodes cp into out (4 bytes at least); returns the byte count, 0 for an invalid cp. */
size_t text_utf8_put(uint32_t cp, char *out);

/* Number of code points in a valid UTF-8 string. */
size_t text_utf8_count(const char *s, size_t len);

/* Byte length of the longest prefix of s holding at most max_chars code points, never
 * splitting a character. */
size_t text_utf8_prefix(const char *s, size_t len, size_t max_chars);

/* Similarity of two texts in [0, 1]: 1 - Levenshtein distance over code points divided by
 * the longer length (1 when both are empty). Returns -1 when an input is not valid UTF-8 or
 * longer than max_chars code points (the computation is O(n*m)). */
double text_similarity(const char *a, const char *b, size_t max_chars);

#endif
