/* data_emotion_goemotions.c — the embedded emotion model on GoEmotions-Korean
 * ($PB_DATA_DIR/goemotions-ko): the documented CLI commands train on train.tsv and evaluate on
 * dev.tsv (never used for training or tuning) above a measured macro-F1 floor, and the committed
 * default model scores its documented dev macro-F1 (docs/EMOTION.md) within 0.005. */
#include "check.h"

#include <jansson.h>

/* Measured as docs/EMOTION.md says; the floor leaves room for other seeds and compilers. */
#define TRAINED_MACRO_F1_FLOOR (0.4353 - 0.015)
#define COMMITTED_MACRO_F1     0.4353
#define COMMITTED_TOLERANCE    0.005

static const char *bin(void)
{
    const char *b = getenv("PB_BIN");
    return b ? b : "./promptbandit";
}

/* Runs `promptbandit emotion eval --json` and returns the parsed report (NULL on failure). */
static json_t *eval_json(const char *model, const char *dev, const char *out)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "'%s' emotion eval --model '%s' --data '%s' --format goemotions --json > '%s'", bin(),
             model, dev, out);
    if (system(cmd) != 0) {
        fprintf(stderr, "failed: %s\n", cmd);
        return NULL;
    }
    json_error_t jerr;
    json_t *j = json_load_file(out, 0, &jerr);
    if (!j)
        fprintf(stderr, "%s: %s\n", out, jerr.text);
    return j;
}

static void check_report_shape(json_t *j)
{
    CHECK(json_is_real(json_object_get(j, "macro_f1")));
    CHECK(json_is_real(json_object_get(j, "micro_f1")));
    CHECK(json_is_real(json_object_get(j, "accuracy")));
    CHECK_INT(json_integer_value(json_object_get(j, "examples")), 5426);
    json_t *labels = json_object_get(j, "labels");
    CHECK_INT(json_array_size(labels), 28);
    CHECK_STR(json_string_value(json_object_get(json_array_get(labels, 27), "label")), "neutral");
    CHECK_STR(json_string_value(json_object_get(json_array_get(labels, 27), "display")), "중립");
}

static void test_training_on_train_beats_the_floor_on_dev(void)
{
    char train[1024], dev[1024], labels[1024], model[512], out[512], cmd[8192];
    snprintf(train, sizeof train, "%s", check_data_path("goemotions-ko/train.tsv"));
    snprintf(dev, sizeof dev, "%s", check_data_path("goemotions-ko/dev.tsv"));
    snprintf(labels, sizeof labels, "%s", check_data_path("goemotions-ko/labels.txt"));
    const char *dir = check_tmpdir();
    snprintf(model, sizeof model, "%s/model.pbem", dir);
    snprintf(out, sizeof out, "%s/eval.json", dir);
    snprintf(cmd, sizeof cmd,
             "'%s' emotion train --data '%s' --dev '%s' --labels '%s' --format goemotions "
             "--out '%s' > /dev/null",
             bin(), train, dev, labels, model);
    CHECK_INT(system(cmd), 0);
    json_t *j = eval_json(model, dev, out);
    CHECK(j != NULL);
    if (!j)
        return;
    check_report_shape(j);
    double f1 = json_real_value(json_object_get(j, "macro_f1"));
    printf("trained model: dev macro-F1 %.4f (floor %.4f)\n", f1, TRAINED_MACRO_F1_FLOOR);
    CHECK(f1 >= TRAINED_MACRO_F1_FLOOR);
    json_decref(j);
}

static void test_committed_model_scores_its_documented_dev_macro_f1(void)
{
    char dev[1024], model[1024], out[512];
    snprintf(dev, sizeof dev, "%s", check_data_path("goemotions-ko/dev.tsv"));
    snprintf(model, sizeof model, "%s", check_source_path("models/emotion-goemotions.pbem"));
    snprintf(out, sizeof out, "%s/committed.json", check_tmpdir());
    json_t *j = eval_json(model, dev, out);
    CHECK(j != NULL);
    if (!j)
        return;
    check_report_shape(j);
    double f1 = json_real_value(json_object_get(j, "macro_f1"));
    printf("committed model: dev macro-F1 %.4f (documented %.4f)\n", f1, COMMITTED_MACRO_F1);
    CHECK_NEAR(f1, COMMITTED_MACRO_F1, COMMITTED_TOLERANCE);
    json_decref(j);
}

int main(void)
{
    RUN(test_committed_model_scores_its_documented_dev_macro_f1);
    RUN(test_training_on_train_beats_the_floor_on_dev);
    CHECK_DONE();
}
