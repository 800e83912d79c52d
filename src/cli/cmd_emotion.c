/* cmd_emotion.c — `promptbandit emotion train|eval|predict|labels`: trains the embedded
 * emotion model on a dataset, reports its scores, classifies sentences through the emotion
 * interface, and lists a model's labels. Parsing and printing only; the work is in emotrain,
 * emomodel, emodata, evalclass and emotion. */
#include "cmd.h"
#include "base/config.h"
#include "emotion/emodata.h"
#include "emotion/emolabels.h"
#include "emotion/emotion.h"
#include "emotion/emotrain.h"
#include "emotion/evalclass.h"
#include "base/pb.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMATS_HELP                                                                               \
    "Formats (--format): goemotions (text<TAB>ids, needs --labels FILE when training),\n"          \
    "  kote (id<TAB>text<TAB>ids, needs --labels FILE unless the model has a kote head),\n"        \
    "  polarity (text<TAB>positive|negative|neutral), aihub (CSV export with 감정_대분류,\n"  \
    "  감정_소분류, 사람문장1..3), csv (header row; --text-col, --label-col, default\n"   \
    "  text,label), jsonl ({\"text\":..,\"label\":..|[..]}).\n"                                    \
    "\n"
#define TRAIN_OPTIONS                                                                              \
    "train options:\n"                                                                             \
    "  --labels FILE        GoEmotions label names, one per line (0-based)\n"                      \
    "  --names FILE         TSV label<TAB>Korean name<TAB>group overriding built-in names\n"       \
    "  --dev FILE           evaluate on this set after training (never used for tuning)\n"         \
    "  --mode multi|single  sigmoid per label with tuned thresholds, or softmax\n"                 \
    "                       (default: multi for goemotions, single otherwise)\n"                   \
    "  --features LIST      char1,char2,char3,char4,word1,word2,jamo | default | all\n"            \
    "  --bucket-bits N      hash feature ids into 2^N buckets (default 22, 12..24)\n"              \
    "  --epochs N --lr X --l2 X --min-count N --seed N --average-from N\n"                         \
    "  --holdout X          fraction of the data held out to tune thresholds (default 0.15)\n"     \
    "  --folds N            tune thresholds on N-fold out-of-fold scores instead (N >= 2)\n"       \
    "  --ensemble N         average N models trained on other shuffles (emotion head)\n"           \
    "  --pos-weight X       positives weigh (negatives/positives)^X (default 0.5, max 10)\n"       \
    "  --threshold-prior N  pull each label's threshold toward the shared best one, weight N\n"    \
    "                       held-out positives (default 0: per-label thresholds as tuned)\n"       \
    "  --no-refit           keep the model trained without the held-out part\n"                    \
    "segment head (negative / neutral / positive; trained when any of these is given):\n"          \
    "  --polarity FILE      polarity TSV (native text, positive|negative) for the segment head\n"  \
    "  --kote FILE          KOTE TSV: a second label set (head \"kote\") and segment sentences\n"  \
    "  --kote-labels FILE   KOTE label names, one per line (0-based)\n"                            \
    "  --emotion-weight X --polarity-weight X --kote-weight X\n"                                   \
    "                       weight of each source's sentences in the segment head (default 1)\n"   \
    "  --segment-epochs N --segment-lr X --segment-min-count N\n"
#define EVAL_OPTIONS                                                                               \
    "eval options:\n"                                                                              \
    "  --threshold X        use one threshold X for every label instead of the tuned ones\n"       \
    "  (polarity and kote data, and any data with label groups, also get the segment report:\n"    \
    "  accuracy, macro-F1 and the confusion matrix; kote counts only sentences whose labels\n"     \
    "  are all of one group)\n"                                                                    \
    "  --json               machine-readable: accuracy, micro_f1, macro_f1, per-label table\n"
#define PREDICT_OPTIONS                                                                            \
    "predict options:\n"                                                                           \
    "  --model MODEL        default: the emotion.model setting (backend from emotion.backend)\n"   \
    "  --text S | --file F  one sentence, or a file of one sentence per line (- = stdin)\n"        \
    "  -k N                 emotions per sentence (default: emotion.top_k); the sentence's\n"      \
    "                       segment is printed too (last line; first column with --file)\n"

static const char train_help[] =
    "usage: promptbandit emotion train --data FILE --format F --out MODEL [options]\n\n"
    "Trains the emotion model on a data set (and, when given, the segment head).\n\n" FORMATS_HELP
        TRAIN_OPTIONS "\n"
    "Example: promptbandit emotion train --data train.tsv --dev dev.tsv --labels labels.txt\n"
    "           --format goemotions --out models/emotion-goemotions.pbem\n";
static const char eval_help[] =
    "usage: promptbandit emotion eval --model MODEL --data FILE --format F [--json]\n"
    "                                 [--threshold X]\n\n"
    "Scores a model on a labelled data set.\n\n" FORMATS_HELP EVAL_OPTIONS;
static const char predict_help[] =
    "usage: promptbandit emotion predict [--model MODEL] (--text S | --file F) [-k N] [--json]\n\n"
    "Classifies sentences through the service's emotion interface.\n\n" PREDICT_OPTIONS;
static const char labels_help[] =
    "usage: promptbandit emotion labels --model MODEL\n\n"
    "Lists a model's labels: name, Korean name, group and tuned threshold.\n";

static const struct cmd_action actions[] = {
    {"train", train_help}, {"eval", eval_help}, {"predict", predict_help}, {"labels", labels_help}};
#define N_ACTIONS (sizeof actions / sizeof actions[0])

static void usage(FILE *out)
{
    fputs("usage: promptbandit emotion train   --data FILE --format F --out MODEL [options]\n"
          "       promptbandit emotion eval    --model MODEL --data FILE --format F [--json]\n"
          "       promptbandit emotion predict [--model MODEL] (--text S | --file F) [-k N]\n"
          "       promptbandit emotion labels  --model MODEL\n"
          "   (`promptbandit emotion ACTION --help` for each)\n\n",
          out);
    cmd_actions_line(out, actions, N_ACTIONS);
    fputs("  train    train the emotion model (and the segment head) on a data set\n"
          "  eval     score a model on a labelled data set\n"
          "  predict  classify sentences\n"
          "  labels   list a model's labels\n\n" FORMATS_HELP,
          out);
}

struct args {
    const char *data, *format, *labels, *names, *dev, *out, *model, *text, *file, *mode;
    const char *features, *text_col, *label_col, *polarity, *kote, *kote_labels;
    int json, k, no_refit;
    double threshold, emotion_weight, polarity_weight, kote_weight;
    struct emotrain_opts train;
    struct emotrain_bundle bundle;
};

static int num(const char *flag, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || *end || errno || d < lo || d > hi) {
        fprintf(stderr, "emotion: %s expects a number in [%g, %g], got '%s'\n", flag, lo, hi, v);
        return -1;
    }
    *out = d;
    return 0;
}

/* Returns 0 ok, 2 usage error, 3 help printed. */
static int parse(int argc, char **argv, struct args *a)
{
    double d;
    for (int i = 2; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **str = !strcmp(f, "--data")          ? &a->data
                           : !strcmp(f, "--format")      ? &a->format
                           : !strcmp(f, "--labels")      ? &a->labels
                           : !strcmp(f, "--names")       ? &a->names
                           : !strcmp(f, "--dev")         ? &a->dev
                           : !strcmp(f, "--out")         ? &a->out
                           : !strcmp(f, "--model")       ? &a->model
                           : !strcmp(f, "--text")        ? &a->text
                           : !strcmp(f, "--file")        ? &a->file
                           : !strcmp(f, "--mode")        ? &a->mode
                           : !strcmp(f, "--features")    ? &a->features
                           : !strcmp(f, "--text-col")    ? &a->text_col
                           : !strcmp(f, "--label-col")   ? &a->label_col
                           : !strcmp(f, "--polarity")    ? &a->polarity
                           : !strcmp(f, "--kote")        ? &a->kote
                           : !strcmp(f, "--kote-labels") ? &a->kote_labels
                                                         : NULL;
        if (cmd_is_help(f))
            return 3;
        if (!strcmp(f, "--json")) {
            a->json = 1;
            continue;
        }
        if (!strcmp(f, "--no-refit")) {
            a->no_refit = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "emotion: unknown option or missing value: '%s'\n", f);
            return 2;
        }
        i++;
        if (str) {
            *str = v;
        } else if (!strcmp(f, "-k") && !num(f, v, 1, EMOTION_MAX_K, &d)) {
            a->k = (int)d;
        } else if (!strcmp(f, "--threshold") && !num(f, v, 0, 1, &d)) {
            a->threshold = d;
        } else if (!strcmp(f, "--epochs") && !num(f, v, 1, 1000, &d)) {
            a->train.epochs = (int)d;
        } else if (!strcmp(f, "--average-from") && !num(f, v, 1, 1000, &d)) {
            a->train.average_from = (int)d;
        } else if (!strcmp(f, "--lr") && !num(f, v, 1e-6, 100, &d)) {
            a->train.lr = d;
        } else if (!strcmp(f, "--l2") && !num(f, v, 0, 1, &d)) {
            a->train.l2 = d;
        } else if (!strcmp(f, "--min-count") && !num(f, v, 1, 1e6, &d)) {
            a->train.min_count = (int)d;
        } else if (!strcmp(f, "--seed") && !num(f, v, 0, 1e18, &d)) {
            a->train.seed = (uint64_t)d;
        } else if (!strcmp(f, "--holdout") && !num(f, v, 0, 0.89, &d)) {
            a->train.holdout = d;
        } else if (!strcmp(f, "--threshold-prior") && !num(f, v, 0, 1e9, &d)) {
            a->train.threshold_prior = d;
        } else if (!strcmp(f, "--pos-weight") && !num(f, v, 0, 2, &d)) {
            a->train.pos_weight_power = d;
        } else if (!strcmp(f, "--bucket-bits") && !num(f, v, 12, 24, &d)) {
            a->train.feat.bucket_bits = (uint32_t)d;
        } else if (!strcmp(f, "--folds") && !num(f, v, 0, 20, &d)) {
            a->train.folds = (int)d;
        } else if (!strcmp(f, "--ensemble") && !num(f, v, 1, 20, &d)) {
            a->train.ensemble = (int)d;
        } else if (!strcmp(f, "--emotion-weight") && !num(f, v, 0, 100, &d)) {
            a->emotion_weight = d;
        } else if (!strcmp(f, "--polarity-weight") && !num(f, v, 0, 100, &d)) {
            a->polarity_weight = d;
        } else if (!strcmp(f, "--kote-weight") && !num(f, v, 0, 100, &d)) {
            a->kote_weight = d;
        } else if (!strcmp(f, "--segment-epochs") && !num(f, v, 1, 1000, &d)) {
            a->bundle.segment_opts.epochs = (int)d;
        } else if (!strcmp(f, "--segment-lr") && !num(f, v, 1e-6, 100, &d)) {
            a->bundle.segment_opts.lr = d;
        } else if (!strcmp(f, "--segment-min-count") && !num(f, v, 1, 1e6, &d)) {
            a->bundle.segment_opts.min_count = (int)d;
        } else {
            fprintf(stderr, "emotion: bad option '%s %s' (see --help)\n", f, v);
            return 2;
        }
    }
    return 0;
}

/* Reads path as format (labels: the id file of goemotions/kote) into *out; m (may be NULL)
 * fixes the label set to its labels. Returns 0, 2 (usage) or 1. */
static int read_set(const struct args *a, const char *path, const char *format, const char *labels,
                    const emomodel *m, struct emodata **out)
{
    char err[PB_ERR_LEN];
    struct emodata_opts o = {.labels_path = labels,
                             .text_col = a->text_col ? a->text_col : "text",
                             .label_col = a->label_col ? a->label_col : "label"};
    const char **known = NULL;
    *out = NULL;
    if (!format) {
        fprintf(stderr, "emotion: --format is required (goemotions, kote, polarity, aihub, csv, "
                        "jsonl)\n");
        return 2;
    }
    if (emodata_format_parse(format, &o.format, err) != PB_OK) {
        fprintf(stderr, "emotion: %s\n", err);
        return 2;
    }
    if (m) {
        known = malloc(emomodel_n_labels(m) * sizeof *known);
        if (!known)
            return 1;
        for (size_t l = 0; l < emomodel_n_labels(m); l++)
            known[l] = emomodel_label(m, l)->name;
        o.known_labels = known, o.n_known = emomodel_n_labels(m);
    }
    pb_status rc = emodata_read(path, &o, out, err);
    free(known);
    if (rc == PB_OK && a->names && !m && path == a->data)
        rc = emodata_apply_names(*out, a->names, err);
    if (rc != PB_OK) {
        fprintf(stderr, "emotion: %s\n", err);
        emodata_free(*out);
        *out = NULL;
        return 1;
    }
    return 0;
}

static int read_data(const struct args *a, const char *path, const emomodel *m,
                     struct emodata **out)
{
    return read_set(a, path, a->format, a->labels, m, out);
}

static void print_report(const emomodel *m, const struct evalclass *e)
{
    struct evalclass_stats s;
    printf("%-24s %9s %9s %9s %9s %9s\n", "label", "precision", "recall", "f1-score", "support",
           "threshold");
    for (size_t l = 0; l < e->n_labels; l++) {
        const struct emomodel_label *lab = emomodel_label(m, l);
        evalclass_label(e, l, &s);
        printf("%-24s %9.4f %9.4f %9.4f %9llu %9.2f\n", lab->name, s.precision, s.recall, s.f1,
               (unsigned long long)s.support, lab->threshold);
    }
    evalclass_micro(e, &s);
    printf("\n%-24s %9.4f %9.4f %9.4f %9llu\n", "micro avg", s.precision, s.recall, s.f1,
           (unsigned long long)s.support);
    evalclass_macro(e, &s);
    printf("%-24s %9.4f %9.4f %9.4f %9llu\n", "macro avg", s.precision, s.recall, s.f1,
           (unsigned long long)s.support);
    printf("%-24s %29.4f %9zu\n", "accuracy (exact set)", evalclass_accuracy(e), e->n_examples);
}

static json_t *report_json(const emomodel *m, const struct evalclass *e, double threshold)
{
    struct evalclass_stats s, micro, macro;
    json_t *root = json_object(), *labels = json_array();
    evalclass_micro(e, &micro);
    evalclass_macro(e, &macro);
    json_object_set_new(root, "examples", json_integer((json_int_t)e->n_examples));
    json_object_set_new(root, "mode",
                        json_string(emomodel_mode(m) == EMOMODEL_MULTI ? "multi" : "single"));
    json_object_set_new(root, "threshold", threshold >= 0 ? json_real(threshold) : json_null());
    json_object_set_new(root, "accuracy", json_real(evalclass_accuracy(e)));
    json_object_set_new(root, "micro_f1", json_real(micro.f1));
    json_object_set_new(root, "micro_precision", json_real(micro.precision));
    json_object_set_new(root, "micro_recall", json_real(micro.recall));
    json_object_set_new(root, "macro_f1", json_real(macro.f1));
    json_object_set_new(root, "macro_precision", json_real(macro.precision));
    json_object_set_new(root, "macro_recall", json_real(macro.recall));
    for (size_t l = 0; l < e->n_labels; l++) {
        const struct emomodel_label *lab = emomodel_label(m, l);
        evalclass_label(e, l, &s);
        json_array_append_new(
            labels, json_pack("{s:s, s:s, s:s, s:f, s:f, s:f, s:I, s:f}", "label", lab->name,
                              "display", lab->display, "group", lab->group, "precision",
                              s.precision, "recall", s.recall, "f1", s.f1, "support",
                              (json_int_t)s.support, "threshold", (double)lab->threshold));
    }
    json_object_set_new(root, "labels", labels);
    return root;
}

static json_t *segment_json(const struct evalclass *e, size_t skipped)
{
    struct evalclass_stats s, macro;
    json_t *labels = json_array(), *confusion = json_array();
    evalclass_macro_seen(e, &macro);
    for (size_t t = 0; t < e->n_labels; t++) {
        json_t *row = json_array();
        evalclass_label(e, t, &s);
        json_array_append_new(labels, json_pack("{s:s, s:f, s:f, s:f, s:I}", "label",
                                                emolabels_segment_names[t], "precision",
                                                s.precision, "recall", s.recall, "f1", s.f1,
                                                "support", (json_int_t)s.support));
        for (size_t p = 0; p < e->n_labels; p++)
            json_array_append_new(row, json_integer((json_int_t)e->confusion[t * e->n_labels + p]));
        json_array_append_new(confusion, row);
    }
    return json_pack("{s:I, s:I, s:f, s:f, s:o, s:o}", "examples", (json_int_t)e->n_examples,
                     "skipped", (json_int_t)skipped, "accuracy", evalclass_accuracy(e), "macro_f1",
                     macro.f1, "labels", labels, "confusion", confusion);
}

static void print_segment(const struct evalclass *e, size_t skipped)
{
    struct evalclass_stats s;
    printf("\nsegment: %zu sentences (%zu without a segment skipped)\n", e->n_examples, skipped);
    printf("%-24s %9s %9s %9s %9s\n", "segment", "precision", "recall", "f1-score", "support");
    for (size_t l = 0; l < e->n_labels; l++) {
        evalclass_label(e, l, &s);
        printf("%-24s %9.4f %9.4f %9.4f %9llu\n", emolabels_segment_names[l], s.precision, s.recall,
               s.f1, (unsigned long long)s.support);
    }
    evalclass_macro_seen(e, &s);
    printf("%-24s %29.4f\n", "macro avg (labels seen)", s.f1);
    printf("%-24s %29.4f %9zu\n", "accuracy", evalclass_accuracy(e), e->n_examples);
    printf("confusion (rows: truth, columns: predicted)\n%-10s", "");
    for (size_t p = 0; p < e->n_labels; p++)
        printf(" %9s", emolabels_segment_names[p]);
    for (size_t t = 0; t < e->n_labels; t++) {
        printf("\n%-10s", emolabels_segment_names[t]);
        for (size_t p = 0; p < e->n_labels; p++)
            printf(" %9llu", (unsigned long long)e->confusion[t * e->n_labels + p]);
    }
    printf("\n");
}

/* The segment report of m on d (strict: every label of one group); prints nothing when no
 * sentence of d has a segment. Returns 0 or 1. */
static int evaluate_segment(const emomodel *m, const struct emodata *d, int strict, int json,
                            json_t **out)
{
    char err[PB_ERR_LEN];
    struct evalclass e;
    size_t skipped = 0;
    *out = NULL;
    if (evalclass_init(&e, EMOLABELS_SEGMENTS, err) != PB_OK ||
        emotrain_eval_segment(m, d, strict, &e, &skipped, err) != PB_OK) {
        fprintf(stderr, "emotion eval: %s\n", err);
        evalclass_free(&e);
        return 1;
    }
    if (e.n_examples && json)
        *out = segment_json(&e, skipped);
    else if (e.n_examples)
        print_segment(&e, skipped);
    evalclass_free(&e);
    return 0;
}

/* Prints the label report of m on d (unless labels is 0) and the segment report. */
static int evaluate_all(const emomodel *m, const struct emodata *d, int labels, int strict,
                        double threshold, int json)
{
    char err[PB_ERR_LEN];
    struct evalclass e = {0};
    json_t *root = NULL, *seg = NULL;
    int rc = 0;
    if (labels && (evalclass_init(&e, emomodel_n_labels(m), err) != PB_OK ||
                   emotrain_eval(m, d, threshold, &e, err) != PB_OK)) {
        fprintf(stderr, "emotion eval: %s\n", err);
        rc = 1;
        goto cleanup;
    }
    if (labels && !json)
        print_report(m, &e);
    if ((rc = evaluate_segment(m, d, strict, json, &seg)) != 0)
        goto cleanup;
    if (json) {
        root = labels ? report_json(m, &e, threshold) : json_object();
        json_object_set_new(root, "segment", seg ? seg : json_null());
        seg = NULL;
        json_dumpf(root, stdout, JSON_INDENT(2));
        printf("\n");
    }
cleanup:
    json_decref(root);
    json_decref(seg);
    evalclass_free(&e);
    return rc;
}

static int evaluate(const emomodel *m, const struct emodata *d, double threshold, int json)
{
    return evaluate_all(m, d, 1, 0, threshold, json);
}

static double started;

static void on_progress(void *ctx, const char *msg)
{
    fprintf(stderr, "[%6.1fs] %s\n", pb_now_monotonic() - started, msg);
}

/* Reads the segment sources (--polarity, --kote) into the bundle; the main data d is source 0.
 * Returns 0, 1 or 2. */
static int read_sources(struct args *a, struct emodata *d, struct emodata **pol,
                        struct emodata **kote)
{
    struct emotrain_bundle *b = &a->bundle;
    int rc;
    b->emotion = d;
    b->source[0] = d, b->weight[0] = a->emotion_weight, b->n_sources = 1;
    if (a->polarity) {
        if ((rc = read_set(a, a->polarity, "polarity", NULL, NULL, pol)) != 0)
            return rc;
        b->source[b->n_sources] = *pol, b->weight[b->n_sources++] = a->polarity_weight;
    }
    if (a->kote) {
        if (!a->kote_labels) {
            fprintf(stderr, "emotion train: --kote needs --kote-labels FILE\n");
            return 2;
        }
        if ((rc = read_set(a, a->kote, "kote", a->kote_labels, NULL, kote)) != 0)
            return rc;
        b->source[b->n_sources] = *kote, b->weight[b->n_sources++] = a->kote_weight;
        b->second = *kote;
    }
    return 0;
}

static int do_train(struct args *a)
{
    char err[PB_ERR_LEN];
    struct emodata *d = NULL, *dev = NULL, *pol = NULL, *kote = NULL;
    emomodel *m = NULL;
    int rc;
    if (!a->data || !a->out) {
        fprintf(stderr, "emotion train: --data and --out are required (see --help)\n");
        return 2;
    }
    if ((rc = read_data(a, a->data, NULL, &d)) != 0)
        return rc;
    a->train.mode = a->mode ? (!strcmp(a->mode, "single") ? EMOMODEL_SINGLE : EMOMODEL_MULTI)
                    : !strcmp(a->format, "goemotions") ? EMOMODEL_MULTI
                                                       : EMOMODEL_SINGLE;
    if (a->mode && strcmp(a->mode, "single") && strcmp(a->mode, "multi")) {
        fprintf(stderr, "emotion train: --mode is multi or single\n");
        rc = 2;
        goto cleanup;
    }
    if (a->features && emofeat_flags_parse(a->features, &a->train.feat.flags, err) != PB_OK) {
        fprintf(stderr, "emotion train: %s\n", err);
        rc = 2;
        goto cleanup;
    }
    if (a->no_refit)
        a->train.refit = 0;
    a->train.progress = on_progress;
    a->bundle.emotion_opts = a->train;
    a->bundle.second_opts.seed = a->bundle.segment_opts.seed = a->train.seed;
    a->bundle.segment_opts.refit = a->bundle.second_opts.refit = a->train.refit;
    a->bundle.segment_opts.folds = a->bundle.second_opts.folds = a->train.folds;
    started = pb_now_monotonic();
    fprintf(stderr, "[%6.1fs] read %zu sentences, %zu labels from %s\n", 0.0, d->n, d->n_labels,
            a->data);
    if ((a->polarity || a->kote) && (rc = read_sources(a, d, &pol, &kote)) != 0)
        goto cleanup;
    if ((a->polarity || a->kote ? emotrain_fit_bundle(&a->bundle, &m, err)
                                : emotrain_fit(d, &a->train, &m, err)) != PB_OK ||
        emomodel_save(m, a->out, err) != PB_OK) {
        fprintf(stderr, "emotion train: %s\n", err);
        rc = 1;
        goto cleanup;
    }
    size_t bytes;
    emomodel_image(m, &bytes);
    fprintf(stderr, "[%6.1fs] wrote %s (%zu bytes, %zu heads, %zu features, %zu labels)\n",
            pb_now_monotonic() - started, a->out, bytes, emomodel_n_heads(m), emomodel_n_rows(m),
            emomodel_n_labels(m));
    if (a->dev) {
        if ((rc = read_data(a, a->dev, m, &dev)) != 0)
            goto cleanup;
        rc = evaluate(m, dev, -1, a->json);
    }
cleanup:
    emodata_free(d);
    emodata_free(dev);
    emodata_free(pol);
    emodata_free(kote);
    emomodel_free(m);
    return rc;
}

static int do_eval(struct args *a)
{
    char err[PB_ERR_LEN];
    struct emodata *d = NULL;
    emomodel *m = NULL;
    int rc;
    if (!a->model || !a->data) {
        fprintf(stderr, "emotion eval: --model and --data are required (see --help)\n");
        return 2;
    }
    if (emomodel_load(a->model, &m, err) != PB_OK) {
        fprintf(stderr, "emotion eval: %s\n", err);
        return 1;
    }
    int polarity = a->format && !strcmp(a->format, "polarity");
    int kote = a->format && !strcmp(a->format, "kote");
    const emomodel *head = kote ? emomodel_head(m, "kote") : polarity ? NULL : m;
    if (kote && !head && !a->labels) {
        fprintf(stderr, "emotion eval: KOTE data needs --labels (the model has no kote head)\n");
        rc = 2;
    } else {
        rc = read_set(a, a->data, a->format, head ? NULL : a->labels, head, &d);
    }
    /* The segment comes from the bundle (m); the label report from the head the data names. */
    if (rc == 0 && head && head != m) {
        struct evalclass e;
        if (evalclass_init(&e, emomodel_n_labels(head), err) != PB_OK ||
            emotrain_eval(head, d, a->threshold, &e, err) != PB_OK) {
            fprintf(stderr, "emotion eval: %s\n", err);
            rc = 1;
        } else if (a->json) {
            json_t *root = report_json(head, &e, a->threshold), *seg = NULL;
            rc = evaluate_segment(m, d, 1, 1, &seg);
            json_object_set_new(root, "segment", seg ? seg : json_null());
            json_dumpf(root, stdout, JSON_INDENT(2));
            printf("\n");
            json_decref(root);
        } else {
            json_t *unused = NULL; /* evaluate_segment prints when json is 0 */
            print_report(head, &e);
            rc = evaluate_segment(m, d, 1, 0, &unused);
        }
        evalclass_free(&e);
    } else if (rc == 0) {
        rc = evaluate_all(m, d, head != NULL, kote, a->threshold, a->json);
    }
    emodata_free(d);
    emomodel_free(m);
    return rc;
}

static int predict_one(const emotion *e, const char *text, size_t k, int json, int one_per_line)
{
    char err[PB_ERR_LEN];
    struct emotion_result r[EMOTION_MAX_K];
    size_t n;
    if (emotion_classify(e, text, strlen(text), k, r, &n, err) != PB_OK) {
        fprintf(stderr, "emotion predict: %s\n", err);
        return 1;
    }
    if (json) {
        json_t *list = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:f}", "label", r[i].label,
                                                  "display", r[i].display, "group", r[i].group,
                                                  "score", r[i].score));
        json_t *o =
            json_pack("{s:s, s:s, s:o}", "text", text, "segment", r[0].segment, "emotions", list);
        json_dumpf(o, stdout, JSON_COMPACT);
        printf("\n");
        json_decref(o);
    } else if (one_per_line) {
        printf("%s", n ? r[0].segment : "");
        for (size_t i = 0; i < n; i++)
            printf("\t%s:%.4f", r[i].label, r[i].score);
        printf("\n");
    } else {
        for (size_t i = 0; i < n; i++)
            printf("%s\t%s\t%s\t%.4f\n", r[i].label, r[i].display, r[i].group, r[i].score);
        printf("segment\t%s\n", n ? r[0].segment : "");
    }
    return 0;
}

static int predict_file(const emotion *e, const char *path, size_t k, int json)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int rc = 0;
    long no = 0;
    if (!f) {
        fprintf(stderr, "emotion predict: cannot open %s: %s\n", path, strerror(errno));
        return 1;
    }
    while ((got = getline(&line, &cap, f)) >= 0) {
        no++;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = '\0';
        size_t blank = strspn(line, " \t");
        if (line[blank] == '\0') { /* keep line numbers aligned: an empty answer */
            if (json) {
                json_t *o = json_pack("{s:s, s:[]}", "text", "", "emotions");
                json_dumpf(o, stdout, JSON_COMPACT);
                json_decref(o);
            }
            printf("\n");
            continue;
        }
        if (predict_one(e, line, k, json, 1) != 0) {
            fprintf(stderr, "emotion predict: %s line %ld skipped\n", path, no);
            if (json) {
                json_t *o = json_pack("{s:I}", "error_line", (json_int_t)no);
                json_dumpf(o, stdout, JSON_COMPACT);
                json_decref(o);
            }
            printf("\n");
            rc = 1;
        }
    }
    free(line);
    if (f != stdin)
        fclose(f);
    return rc;
}

static int do_predict(struct args *a)
{
    char err[PB_ERR_LEN];
    config *cfg = NULL;
    emotion *e = NULL;
    int rc = 1;
    if (!a->text == !a->file) {
        fprintf(stderr, "emotion predict: give exactly one of --text or --file (see --help)\n");
        return 2;
    }
    if (config_load(NULL, &cfg, err) != PB_OK ||
        (a->model && (config_set(cfg, "emotion.backend", "embedded", err) != PB_OK ||
                      config_set(cfg, "emotion.model", a->model, err) != PB_OK)) ||
        emotion_open(cfg, &e, err) != PB_OK) {
        fprintf(stderr, "emotion predict: %s\n", err);
        goto cleanup;
    }
    if (!emotion_is_known(e) && strcmp(config_str(cfg, "emotion.backend"), "none") != 0) {
        fprintf(stderr, "emotion predict: no classifier: %s\n", emotion_note(e));
        goto cleanup;
    }
    if (!emotion_is_known(e))
        fprintf(stderr, "emotion predict: emotion.backend is none; answering unknown\n");
    size_t k = a->k ? (size_t)a->k : (size_t)config_int(cfg, "emotion.top_k");
    rc = a->text ? predict_one(e, a->text, k, a->json, 0) : predict_file(e, a->file, k, a->json);
cleanup:
    emotion_close(e);
    config_free(cfg);
    return rc;
}

static int do_labels(const struct args *a)
{
    char err[PB_ERR_LEN];
    emomodel *m;
    if (!a->model) {
        fprintf(stderr, "emotion labels: --model is required\n");
        return 2;
    }
    if (emomodel_load(a->model, &m, err) != PB_OK) {
        fprintf(stderr, "emotion labels: %s\n", err);
        return 1;
    }
    for (size_t h = 0; h < emomodel_n_heads(m); h++) {
        const emomodel *head = emomodel_head(m, emomodel_head_name(m, h));
        if (emomodel_n_heads(m) > 1)
            printf("%s# head %s\n", h ? "\n" : "", emomodel_head_name(m, h));
        printf("# label\tdisplay\tgroup\tthreshold\n");
        for (size_t l = 0; l < emomodel_n_labels(head); l++) {
            const struct emomodel_label *lab = emomodel_label(head, l);
            printf("%s\t%s\t%s\t%.2f\n", lab->name, lab->display, lab->group, lab->threshold);
        }
    }
    emomodel_free(m);
    return 0;
}

int cmd_emotion(int argc, char **argv)
{
    struct args a = {.threshold = -1, .emotion_weight = 1, .polarity_weight = 1, .kote_weight = 1};
    if (argc < 2 || cmd_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!cmd_action_find(actions, N_ACTIONS, argv[1]))
        return cmd_unknown_action("emotion", argv[1], actions, N_ACTIONS);
    if (cmd_action_help(actions, N_ACTIONS, argc, argv))
        return 0;
    emotrain_defaults(&a.train);
    emotrain_bundle_defaults(&a.bundle);
    int rc = parse(argc, argv, &a);
    if (rc == 3) { /* "help" as an argument */
        fputs(cmd_action_find(actions, N_ACTIONS, argv[1])->help, stdout);
        return 0;
    }
    if (rc != 0)
        return rc;
    const char *action = argv[1];
    if (!strcmp(action, "train"))
        return do_train(&a);
    if (!strcmp(action, "eval"))
        return do_eval(&a);
    if (!strcmp(action, "predict"))
        return do_predict(&a);
    return do_labels(&a);
}
