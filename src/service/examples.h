/* examples.h — what each arm actually says: per arm its best-, median- and worst-rated answers
 * with the user's message, the emotion, the reward's value and source and a judge's reason
 * when the reward carries one. Live experiments use consented conversations only (the stored
 * answers; dashcache.h knows which rewards have one), offline experiments their run's scored
 * steps. Read-only. */
#ifndef EXAMPLES_H
#define EXAMPLES_H

#include <jansson.h>

#include "base/pb.h"
#include "service/app.h"
#include "store/experiment.h"
#include "store/store.h"

/* {"experiment", "kind", "arms": [{id, label, rated, examples: [{rank: "best" | "median" |
 * "worst", reward_id, impression_id, value, source, created_at, user_text, emotion, segment,
 * answer, reason}]}]}. An answer rated once appears once. *out is a new reference. */
pb_status examples_json(app *a, store *s, const struct store_experiment *e, json_t **out,
                        char *err);

/* The turn impression_id answered, from a reward row back to what was said: {impression_id,
 * stored (false when nothing was stored: no consent, or erased), user_text, emotion, emotions,
 * segment, answer, created_at}. PB_ERR_NOT_FOUND for an unknown impression. */
pb_status examples_turn_json(store *s, int64_t impression_id, json_t **out, char *err);

/* The user's sentence and the emotion of a stored user message "sentence ;; emotion" (the
 * layout the LLM sees); without " ;; " the whole text and "". Writes into the two buffers
 * (cut to fit). */
void examples_split_user_text(const char *stored, char *sentence, size_t sentence_len,
                              char *feeling, size_t feeling_len);

#endif
