/* emolabels.h — what the project knows about emotion label names: the Korean display name and
 * the sentiment group (positive / negative / ambiguous / neutral, as in the GoEmotions paper)
 * of GoEmotions's 28 English labels, the group of each of KOTE's 44 Korean labels, the three
 * segment labels (negative / neutral / positive), and the group of an AI-Hub 감정_대분류.
 * Read-only tables; no I/O, no allocation. Models copy these into their file, so editing a row
 * changes only models trained afterwards. */
#ifndef EMOLABELS_H
#define EMOLABELS_H

/* Korean display name and group for a known label name (GoEmotions English, KOTE Korean, or a
 * segment name), or NULL / "" when unknown. KOTE labels are their own display name. */
const char *emolabels_display(const char *name);
const char *emolabels_group(const char *name);

/* Group of an AI-Hub 감정_대분류 (기쁨 → positive; 분노, 슬픔, 불안, 상처, 당황 → negative). */
const char *emolabels_aihub_group(const char *major);

/* The segment of a sentence whose labels have the n groups given: "positive", "negative" or
 * "neutral" when that is the only group among them, else NULL. Loose (strict == 0):
 * ambiguous and unknown groups are ignored, so {joy, surprise} is positive. Strict: every
 * group must be that one, so {joy, surprise} has no segment. */
const char *emolabels_segment_of(const char *const *groups, unsigned n, int strict);

/* Korean word the pipeline uses when no emotion is known. */
#define EMOLABELS_UNKNOWN         "unknown"
#define EMOLABELS_UNKNOWN_DISPLAY "알 수 없음"

/* The segment head's labels, in the order a model stores them. */
#define EMOLABELS_SEGMENTS 3
extern const char *const emolabels_segment_names[EMOLABELS_SEGMENTS];

#endif
