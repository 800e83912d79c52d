/* test_service_segmap.c — segment modes without a model: group names and fallback, none, label mode
 * with no model, a map file overriding groups, and map errors naming the line. */
#include "check.h"
#include "service/segmap.h"

#include <string.h>

static segmap *make(const char *mode, const char *map_text, int want_rc, char *err)
{
    config *cfg = NULL;
    segmap *m = NULL;
    char path[512];
    CHECK_INT(config_defaults(&cfg, err), PB_OK);
    CHECK_INT(config_set(cfg, "bandit.segments", mode, err), PB_OK);
    if (map_text) {
        snprintf(path, sizeof path, "%s/map.tsv", check_tmpdir());
        FILE *f = fopen(path, "w");
        if (f) {
            fputs(map_text, f);
            fclose(f);
        }
        CHECK_INT(config_set(cfg, "bandit.segment_map", path, err), PB_OK);
    }
    CHECK_INT(segmap_new(cfg, NULL, &m, err), want_rc);
    config_free(cfg);
    return m;
}

static void test_group_mode_maps_groups_and_falls_back(void)
{
    char err[PB_ERR_LEN];
    segmap *m = make("group", NULL, PB_OK, err);
    CHECK_INT((int)segmap_count(m), 5);
    CHECK_STR(segmap_names(m)[4], "unknown");
    CHECK_STR(segmap_of(m, "joy", "positive"), "positive");
    CHECK_STR(segmap_of(m, "joy", ""), "unknown");
    CHECK_STR(segmap_of(m, NULL, NULL), "unknown");
    CHECK_STR(segmap_canonical(m, "negative"), "negative");
    CHECK_STR(segmap_canonical(m, "weird"), "unknown");
    segmap_free(m);
}

static void test_none_and_label_without_model(void)
{
    char err[PB_ERR_LEN];
    segmap *m = make("none", NULL, PB_OK, err);
    CHECK_INT((int)segmap_count(m), 1);
    CHECK_STR(segmap_of(m, "joy", "positive"), "all");
    CHECK_STR(segmap_canonical(m, "positive"), "all");
    segmap_free(m);
    m = make("label", NULL, PB_OK, err);
    CHECK_INT((int)segmap_count(m), 1);
    CHECK_STR(segmap_of(m, "joy", "positive"), "unknown");
    segmap_free(m);
}

static void test_map_overrides_and_errors(void)
{
    char err[PB_ERR_LEN];
    segmap *m = make("group", "# c\njoy\thappy\r\n\ngrief\tunknown\n", PB_OK, err);
    CHECK_STR(segmap_of(m, "joy", "positive"), "happy");
    CHECK_STR(segmap_of(m, "grief", "negative"), "unknown");
    CHECK_STR(segmap_of(m, "love", "positive"), "positive");
    CHECK_STR(segmap_canonical(m, "joy"), "happy");
    CHECK_STR(segmap_names(m)[segmap_count(m) - 1], "unknown"); /* fallback stays last */
    segmap_free(m);
    CHECK(make("group", "joy\thappy\njoy\tsad\n", PB_ERR_INVALID, err) == NULL);
    CHECK(strstr(err, "line 2") && strstr(err, "mapped twice"));
    CHECK(make("group", "joy happy\n", PB_ERR_INVALID, err) == NULL);
    CHECK(strstr(err, "line 1") != NULL);
    CHECK(make("group", "joy\t\n", PB_ERR_INVALID, err) == NULL);
    CHECK(make("emotions", NULL, PB_ERR_INVALID, err) == NULL);
    CHECK(strstr(err, "bandit.segments") != NULL);
}

int main(void)
{
    RUN(test_group_mode_maps_groups_and_falls_back);
    RUN(test_none_and_label_without_model);
    RUN(test_map_overrides_and_errors);
    CHECK_DONE();
}
