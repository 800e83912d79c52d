/* emofeat.h — the emotion model's tokenizer: turns a sentence into hashed sparse features
 * suited to Korean (syllable 1–3-grams with word-boundary markers, word unigrams and bigrams,
 * optional jamo-level endings). Pure functions over caller buffers: no allocation, no I/O, no
 * knowledge of labels or weights. The hash of a feature is part of the model file format:
 * changing it needs a new model version. */
#ifndef EMOFEAT_H
#define EMOFEAT_H

#include "base/pb.h"
#include <stddef.h>
#include <stdint.h>

/* Feature families, OR-ed into emofeat_opts.flags (stored in the model header). */
#define EMOFEAT_CHAR1 0x01u /* single syllables */
#define EMOFEAT_CHAR2 0x02u /* syllable bigrams, boundary markers included */
#define EMOFEAT_CHAR3 0x04u /* syllable trigrams, boundary markers included */
#define EMOFEAT_WORD1 0x08u /* whitespace words (outer ASCII punctuation stripped) */
#define EMOFEAT_WORD2 0x10u /* adjacent word pairs */
#define EMOFEAT_JAMO  0x20u /* jamo of each word's last syllable (verb endings) */
#define EMOFEAT_CHAR4 0x40u /* syllable 4-grams */
/* Syllable bigrams and trigrams across a space, hashed as the same grams inside a word: "재미
 * 없다" then shares "미없", "재미없", "미없다" with "재미없다" (Korean spacing varies). */
#define EMOFEAT_CROSS 0x80u
#define EMOFEAT_DEFAULT                                                                            \
    (EMOFEAT_CHAR1 | EMOFEAT_CHAR2 | EMOFEAT_CHAR3 | EMOFEAT_WORD1 | EMOFEAT_WORD2 | EMOFEAT_CROSS)
#define EMOFEAT_ALL 0xFFu

/* Only the first EMOFEAT_MAX_CHARS code points of a text are read; a feature list never holds
 * more than EMOFEAT_MAX_FEATURES entries (size output buffers with it). */
#define EMOFEAT_MAX_CHARS    1024
#define EMOFEAT_MAX_FEATURES (EMOFEAT_MAX_CHARS * 8 + 16)

struct emofeat_opts {
    uint32_t flags;       /* EMOFEAT_* */
    uint32_t bucket_bits; /* feature ids are in [1, 2^bucket_bits); 12..30 */
};

/* Writes the feature ids of text[0..len) into out (cap entries, EMOFEAT_MAX_FEATURES is always
 * enough) and their count into *n. An id may repeat (term frequency). Returns PB_OK, or
 * PB_ERR_INVALID for invalid UTF-8 or bad options (err says which); empty or blank text gives
 * *n == 0 and PB_OK. */
pb_status emofeat_extract(const struct emofeat_opts *opts, const char *text, size_t len,
                          uint32_t *out, size_t cap, size_t *n, char *err);

/* Human-readable form of flags ("char1,char2,..."), for reports; buf of 96 bytes is enough. */
void emofeat_flags_name(uint32_t flags, char *buf, size_t size);

/* Parses "char1,char2,word1" or "default"/"all" into flags; PB_ERR_INVALID on an unknown name. */
pb_status emofeat_flags_parse(const char *s, uint32_t *flags, char *err);

#endif
