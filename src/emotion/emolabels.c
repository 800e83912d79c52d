/* emolabels.c — the label tables behind emolabels.h. GoEmotions groups follow the sentiment
 * grouping of Demszky et al. 2020 (GoEmotions), "sentiment-level grouping". KOTE has no such
 * grouping; ours reads each label as GoEmotions would: approval, joy and gratitude-like labels
 * positive; complaint, anger, contempt, pity, embarrassment and shock negative; interest,
 * realisation, surprise and solemn resolve (비장함) ambiguous; 없음 (none) neutral. */
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

/* KOTE (Jeon et al. 2022), labels.txt order. */
static const struct {
    const char *name, *group;
} kote[] = {
    {"불평/불만", "negative"},
    {"환영/호의", "positive"},
    {"감동/감탄", "positive"},
    {"지긋지긋", "negative"},
    {"고마움", "positive"},
    {"슬픔", "negative"},
    {"화남/분노", "negative"},
    {"존경", "positive"},
    {"기대감", "positive"},
    {"우쭐댐/무시함", "negative"},
    {"안타까움/실망", "negative"},
    {"비장함", "ambiguous"},
    {"의심/불신", "negative"},
    {"뿌듯함", "positive"},
    {"편안/쾌적", "positive"},
    {"신기함/관심", "ambiguous"},
    {"아껴주는", "positive"},
    {"부끄러움", "negative"},
    {"공포/무서움", "negative"},
    {"절망", "negative"},
    {"한심함", "negative"},
    {"역겨움/징그러움", "negative"},
    {"짜증", "negative"},
    {"어이없음", "negative"},
    {"없음", "neutral"},
    {"패배/자기혐오", "negative"},
    {"귀찮음", "negative"},
    {"힘듦/지침", "negative"},
    {"즐거움/신남", "positive"},
    {"깨달음", "ambiguous"},
    {"죄책감", "negative"},
    {"증오/혐오", "negative"},
    {"흐뭇함(귀여움/예쁨)", "positive"},
    {"당황/난처", "negative"},
    {"경악", "negative"},
    {"부담/안_내킴", "negative"},
    {"서러움", "negative"},
    {"재미없음", "negative"},
    {"불쌍함/연민", "negative"},
    {"놀람", "ambiguous"},
    {"행복", "positive"},
    {"불안/걱정", "negative"},
    {"기쁨", "positive"},
    {"안심/신뢰", "positive"},
};
#define N_KOTE (sizeof kote / sizeof kote[0])

const char *const emolabels_segment_names[EMOLABELS_SEGMENTS] = {"negative", "neutral", "positive"};
static const char *const segment_display[EMOLABELS_SEGMENTS] = {"부정", "중립", "긍정"};

const char *emolabels_display(const char *name)
{
    for (size_t i = 0; i < N_GOEMOTIONS; i++)
        if (strcmp(goemotions[i].name, name) == 0)
            return goemotions[i].display;
    for (size_t i = 0; i < N_KOTE; i++)
        if (strcmp(kote[i].name, name) == 0)
            return kote[i].name;
    for (size_t i = 0; i < EMOLABELS_SEGMENTS; i++)
        if (strcmp(emolabels_segment_names[i], name) == 0)
            return segment_display[i];
    return NULL;
}

const char *emolabels_group(const char *name)
{
    for (size_t i = 0; i < N_GOEMOTIONS; i++)
        if (strcmp(goemotions[i].name, name) == 0)
            return goemotions[i].group;
    for (size_t i = 0; i < N_KOTE; i++)
        if (strcmp(kote[i].name, name) == 0)
            return kote[i].group;
    for (size_t i = 0; i < EMOLABELS_SEGMENTS; i++)
        if (strcmp(emolabels_segment_names[i], name) == 0)
            return emolabels_segment_names[i];
    return "";
}

const char *emolabels_segment_of(const char *const *groups, unsigned n, int strict)
{
    const char *seg = NULL;
    for (unsigned i = 0; i < n; i++) {
        const char *g = groups[i], *known = NULL;
        for (size_t k = 0; k < EMOLABELS_SEGMENTS && !known; k++)
            if (g && strcmp(g, emolabels_segment_names[k]) == 0)
                known = emolabels_segment_names[k];
        if (!known && strict)
            return NULL;
        if (!known)
            continue;
        if (seg && seg != known)
            return NULL;
        seg = known;
    }
    return seg;
}

const char *emolabels_aihub_group(const char *major)
{
    return strcmp(major, "기쁨") == 0 ? "positive" : "negative";
}
