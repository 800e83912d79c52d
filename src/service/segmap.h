/* segmap.h — which live segment serves a chat turn: the top emotion's group (bandit.segments
 * group, the default), the top label itself (label) or one segment for all (none), with an
 * optional TSV file (bandit.segment_map: label TAB segment) overriding the model's mapping.
 * Owns the segment name list handed to live.h. No I/O beyond reading the map file at
 * creation; immutable afterwards (thread-safe to share). It must not choose arms. */
#ifndef SEGMAP_H
#define SEGMAP_H

#include <stddef.h>

#include "base/config.h"
#include "emotion/emomodel.h"
#include "base/pb.h"

#define SEGMAP_NAME_MAX 31 /* bytes of a segment name: [A-Za-z0-9_.-] */

typedef struct segmap segmap;

/* Builds the mapping from bandit.segments and bandit.segment_map. model (may be NULL when no
 * embedded model is loaded) names the labels: label mode makes one segment per label, and a
 * map naming a label the model does not have is PB_ERR_INVALID with the file, line and label.
 * A bad mode, unreadable map or bad segment name: PB_ERR_INVALID / PB_ERR_IO. */
pb_status segmap_new(const config *cfg, const emomodel *model, segmap **out, char *err);
void segmap_free(segmap *m);

/* "group", "label" or "none". */
const char *segmap_mode(const segmap *m);
/* Segment names in index order; the last one is the fallback ("unknown", or "all" for
 * none). Borrowed; valid until segmap_free. */
size_t segmap_count(const segmap *m);
const char *const *segmap_names(const segmap *m);

/* The segment of a classification whose top label and group are given (either may be NULL
 * or ""; the chat passes the classifier's sentence segment, emotion_result.segment, as the
 * group): the map's entry, else the group (group mode) or label (label mode) when it is a
 * segment, else the fallback. Returns one of segmap_names. */
const char *segmap_of(const segmap *m, const char *label, const char *group);

/* A segment a client names (POST /v1/choose "segment"): itself when it is a segment, else
 * read as a label or group as segmap_of does. Returns one of segmap_names. */
const char *segmap_canonical(const segmap *m, const char *name);

#endif
