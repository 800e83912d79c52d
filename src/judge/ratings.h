/* ratings.h — reads human ratings in JSONL: one object per line with a "caption" or "text"
 * string, a "rate" in {-1, -0.5, 0, 0.5, 1} and an optional "reason" string (why the rate;
 * the LLM judge's few-shot examples show it). Owns the loaded items and the list of
 * problems found (each names its line). Bad lines are refused by default or skipped on
 * request; it never guesses a rate. No logging, no network, no database. */
#ifndef RATINGS_H
#define RATINGS_H

#include <stddef.h>

#include "base/pb.h"

#define RATINGS_LEVELS       5
#define RATINGS_MAX_PROBLEMS 100

struct ratings_item {
    char *text;   /* owned, valid UTF-8, non-empty */
    double rate;  /* one of the five levels */
    long line;    /* 1-based line in the source */
    char *reason; /* owned; the optional "reason", NULL when absent or empty */
};

struct ratings_set {
    struct ratings_item *items;
    size_t n;
    size_t skipped;                       /* bad lines skipped (skip_bad) */
    char *problems[RATINGS_MAX_PROBLEMS]; /* owned messages for skipped lines, first ones */
    size_t n_problems;
};

/* Parses JSONL from memory; name labels messages ("ratings.jsonl line 17: ..."). With
 * skip_bad == 0 the first bad line fails the call (PB_ERR_INVALID); otherwise bad lines are
 * counted in skipped and described in problems. Blank lines are ignored. On success the
 * caller owns *out (ratings_free); on failure *out is left empty. */
pb_status ratings_parse(const char *data, size_t len, const char *name, int skip_bad,
                        struct ratings_set *out, char *err);

/* ratings_parse over a whole file (at most 256 MiB). */
pb_status ratings_load(const char *path, int skip_bad, struct ratings_set *out, char *err);

void ratings_free(struct ratings_set *s);

/* Index 0..4 of a level (-1 -> 0, ..., 1 -> 4), or -1 when v is not exactly a level. */
int ratings_level_index(double v);

/* The level at index 0..4. */
double ratings_level_value(int index);

#endif
