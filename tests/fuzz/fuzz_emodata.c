/* fuzz_emodata.c — the emotion dataset readers (emotion/emodata): GoEmotions TSV, AI-Hub CSV,
 * plain CSV, JSON lines, polarity TSV and KOTE TSV, each with the label set built from the
 * data, from a fixed label file (the id formats) or from known labels; and the label names
 * file (emodata_apply_names) applied to a small fixed data set. The first byte picks: bits
 * 0-2 the format, bit 3 known labels, bit 4 the names-file reader. A set that loads has
 * labels in range and answers emodata_segment for each example. */
#include "emotion/emodata.h"
#include "base/pb.h"
#include "fuzz/fuzz_util.h"

static void check(const struct emodata *d)
{
    for (size_t i = 0; i < d->n; i++) {
        if (!d->text[i] || d->label_start[i] > d->label_start[i + 1])
            abort();
        for (size_t k = d->label_start[i]; k < d->label_start[i + 1]; k++)
            if (d->labels[k] >= d->n_labels)
                abort();
        (void)emodata_segment(d, i, 0);
        (void)emodata_segment(d, i, 1);
    }
    for (size_t l = 0; l < d->n_labels; l++)
        if (!d->label[l].name || !d->label[l].display || !d->label[l].group)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char label_file[] = "admiration\njoy\nsadness\nanger\nneutral\n";
    static const char small_set[] = "{\"text\":\"좋아\",\"label\":\"joy\"}\n"
                                    "{\"text\":\"슬퍼\",\"label\":\"sadness\"}\n";
    static const char *const known[] = {"joy", "sadness", "anger", "neutral", "기쁨"};
    static const enum emodata_format formats[] = {EMODATA_GOEMOTIONS, EMODATA_AIHUB,
                                                  EMODATA_CSV,        EMODATA_JSONL,
                                                  EMODATA_POLARITY,   EMODATA_KOTE};
    char err[PB_ERR_LEN];
    struct emodata *d = NULL;
    if (size < 1)
        return 0;
    const char *labels = fuzz_file(1, (const uint8_t *)label_file, sizeof label_file - 1);
    const char *path = fuzz_file(0, data + 1, size - 1);
    if (!labels || !path)
        return 0;
    if (data[0] & 0x10) {
        const char *set = fuzz_file(2, (const uint8_t *)small_set, sizeof small_set - 1);
        struct emodata_opts o = {.format = EMODATA_JSONL, .text_col = "text", .label_col = "label"};
        if (!set || emodata_read(set, &o, &d, err) != PB_OK)
            abort(); /* the fixed set is valid */
        if (emodata_apply_names(d, path, err) == PB_OK)
            check(d);
        emodata_free(d);
        return 0;
    }
    struct emodata_opts o = {.format = formats[(data[0] & 7) % 6],
                             .labels_path = labels,
                             .text_col = "text",
                             .label_col = "label"};
    if (data[0] & 8) {
        o.known_labels = known;
        o.n_known = sizeof known / sizeof known[0];
    }
    if (emodata_read(path, &o, &d, err) == PB_OK) {
        check(d);
        emodata_free(d);
    }
    return 0;
}
