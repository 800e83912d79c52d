/* emolabels.c — the label tables behind emolabels.h. Groups follow the sentiment grouping of
 * Demszky et al. 2020 (GoEmotions), Table/Figure "sentiment-level grouping". */
#include "emotion/emolabels.h"

#include <string.h>

static const struct {
    const char *name, *display, *group;
} goemotions[] = {
    {"admiration", "감탄", "positive"},
    {"amusement", "즐거움", "positive"},
    {"anger", "분노", "negative"},
    {"annoyance", "짜증", "negative"},
    {"approval", "인정", "positive"},
    {"caring", "배려", "positive"},
    {"confusion", "혼란", "ambiguous"},
    {"curiosity", "호기심", "ambiguous"},
    {"desire", "바람", "positive"},
    {"disappointment", "실망", "negative"},
    {"disapproval", "못마땅함", "negative"},
    {"disgust", "혐오", "negative"},
    {"embarrassment", "당황", "negative"},
    {"excitement", "신남", "positive"},
    {"fear", "두려움", "negative"},
    {"gratitude", "감사", "positive"},
    {"grief", "비통", "negative"},
    {"joy", "기쁨", "positive"},
    {"love", "사랑", "positive"},
    {"nervousness", "긴장", "negative"},
    {"optimism", "낙관", "positive"},
    {"pride", "자부심", "positive"},
    {"realization", "깨달음", "ambiguous"},
    {"relief", "안도", "positive"},
    {"remorse", "후회", "negative"},
    {"sadness", "슬픔", "negative"},
    {"surprise", "놀람", "ambiguous"},
    {"neutral", "중립", "neutral"},
};
#define N_GOEMOTIONS (sizeof goemotions / sizeof goemotions[0])

const char *emolabels_display(const char *name)
{
    for (size_t i = 0; i < N_GOEMOTIONS; i++)
        if (strcmp(goemotions[i].name, name) == 0)
            return goemotions[i].display;
    return NULL;
}

const char *emolabels_group(const char *name)
{
    for (size_t i = 0; i < N_GOEMOTIONS; i++)
        if (strcmp(goemotions[i].name, name) == 0)
            return goemotions[i].group;
    return "";
}

const char *emolabels_aihub_group(const char *major)
{
    return strcmp(major, "기쁨") == 0 ? "positive" : "negative";
}
