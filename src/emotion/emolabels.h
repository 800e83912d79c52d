/* emolabels.h — what the project knows about emotion label names: the Korean display name and
 * the sentiment group (positive / negative / ambiguous / neutral, as in the GoEmotions paper)
 * of GoEmotions's 28 English labels, and the group of an AI-Hub 감정_대분류. Read-only tables;
 * no I/O, no allocation. Models copy these into their file, so editing a row changes only
 * models trained afterwards. */
#ifndef EMOLABELS_H
#define EMOLABELS_H

/* Korean display name and group for a known English label name, or NULL / "" when unknown. */
const char *emolabels_display(const char *name);
const char *emolabels_group(const char *name);

/* Group of an AI-Hub 감정_대분류 (기쁨 → positive; 분노, 슬픔, 불안, 상처, 당황 → negative). */
const char *emolabels_aihub_group(const char *major);

/* Korean word the pipeline uses when no emotion is known. */
#define EMOLABELS_UNKNOWN         "unknown"
#define EMOLABELS_UNKNOWN_DISPLAY "알 수 없음"

#endif
