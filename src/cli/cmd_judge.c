/* cmd_judge.c — `promptbandit judge train|score|eval`: trains the local reward model, scores
 * texts with it, and measures a judge (llm, local, constant) against human ratings. Parses
 * arguments, calls judge/rewardmodel/evalstats, prints; no logic of its own. */
#include "cmd.h"

#include "base/config.h"
#include "judge/evalstats.h"
#include "judge/judge.h"
#include "llm/llm.h"
#include "judge/ratings.h"
#include "judge/rewardmodel.h"
#include "store/runs.h"
#include "store/store.h"
#include "base/text.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char train_help[] =
    "usage: promptbandit judge train --ratings FILE.jsonl --out MODEL [--skip-bad]\n\n"
    "Trains the local reward model on human ratings (JSONL: \"caption\" or \"text\", \"rate\"\n"
    "in -1,-0.5,0,0.5,1); the regularisation is chosen by leave-one-out. Bad lines are\n"
    "refused with their line number unless --skip-bad is given.\n";
static const char score_help[] =
    "usage: promptbandit judge score [--model MODEL] [--input FILE|-]\n\n"
    "Scores one text per input line (default stdin) with the local reward model, one score\n"
    "per output line (model default: setting judge.local_model).\n";
static const char eval_help[] =
    "usage: promptbandit judge eval --ratings FILE --judge llm|local|constant [--folds 10]\n"
    "                               [--seed S] [--json] [--out FILE.json] [--skip-bad]\n"
    "                               [--rubric diary|chat] [--rubric-file F] [--examples F.jsonl]\n"
    "                               [--record [--db PATH]]\n\n"
    "MSE, MAE, Spearman, Kendall tau-b, exact agreement, weighted kappa and the confusion\n"
    "matrix of a judge against human ratings; local and constant by k-fold CV (constant =\n"
    "training-fold mean), llm by judging every item with the few-shot rubric\n"
    "(prompts/judge_<rubric>.txt, ratings/examples_<rubric>.jsonl). --record stores the\n"
    "figures in the database (db.path, or --db) for the dashboard. Bad ratings lines are\n"
    "refused with their line number unless --skip-bad is given.\n";

static const struct cmd_action actions[] = {
    {"train", train_help}, {"score", score_help}, {"eval", eval_help}};
#define N_ACTIONS (sizeof actions / sizeof actions[0])

static void usage(FILE *out)
{
    fputs("usage: promptbandit judge <action> [options]   (`promptbandit judge ACTION --help`\n"
          "       for each)\n\n",
          out);
    cmd_actions_line(out, actions, N_ACTIONS);
    fputs("  train --ratings FILE.jsonl --out MODEL [--skip-bad]\n"
          "        train the local reward model on human ratings\n"
          "  score [--model MODEL] [--input FILE|-]\n"
          "        one text per input line, one score per output line\n"
          "  eval  --ratings FILE --judge llm|local|constant [options]\n"
          "        a judge's agreement with human ratings (MSE, Spearman, kappa, ...)\n",
          out);
}

struct judge_args {
    const char *ratings, *out, *model, *input, *kind, *rubric, *rubric_file, *examples, *db;
    int folds, json, skip_bad, record;
    unsigned long long seed;
};

static int parse_args(int argc, char **argv, struct judge_args *a)
{
    *a = (struct judge_args){.kind = "local", .rubric = "diary", .folds = 10, .seed = 1};
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **s = !strcmp(o, "--ratings")       ? &a->ratings
                         : !strcmp(o, "--out")         ? &a->out
                         : !strcmp(o, "--model")       ? &a->model
                         : !strcmp(o, "--input")       ? &a->input
                         : !strcmp(o, "--judge")       ? &a->kind
                         : !strcmp(o, "--rubric")      ? &a->rubric
                         : !strcmp(o, "--rubric-file") ? &a->rubric_file
                         : !strcmp(o, "--examples")    ? &a->examples
                         : !strcmp(o, "--db")          ? &a->db
                                                       : NULL;
        if (!strcmp(o, "--json")) {
            a->json = 1;
        } else if (!strcmp(o, "--skip-bad")) {
            a->skip_bad = 1;
        } else if (!strcmp(o, "--record")) {
            a->record = 1;
        } else if (s || !strcmp(o, "--folds") || !strcmp(o, "--seed")) {
            if (!v) {
                fprintf(stderr, "judge: %s needs a value\n", o);
                return 2;
            }
            char *end;
            if (s)
                *s = v;
            else if (!strcmp(o, "--folds"))
                a->folds = (int)strtol(v, &end, 10);
            else
                a->seed = strtoull(v, &end, 10);
            if (!s && *end) {
                fprintf(stderr, "judge: %s expects a whole number, got '%s'\n", o, v);
                return 2;
            }
            i++;
        } else {
            fprintf(stderr, "judge %s: unknown option '%s' (promptbandit judge %s --help)\n",
                    argv[1], o, argv[1]);
            return 2;
        }
    }
    return 0;
}

static int load_ratings(const char *path, int skip_bad, struct ratings_set *s)
{
    char err[PB_ERR_LEN];
    if (ratings_load(path, skip_bad, s, err) != PB_OK) {
        fprintf(stderr, "judge: %s\n", err);
        if (!skip_bad)
            fprintf(stderr, "judge: fix the line or pass --skip-bad to leave bad lines out\n");
        return 1;
    }
    for (size_t i = 0; i < s->n_problems; i++)
        fprintf(stderr, "judge: skipped %s\n", s->problems[i]);
    if (s->skipped > s->n_problems)
        fprintf(stderr, "judge: ... %zu bad lines skipped in all\n", s->skipped);
    if (s->n == 0) {
        fprintf(stderr, "judge: %s holds no ratings\n", path);
        return 1;
    }
    return 0;
}

static int do_train(const struct judge_args *a)
{
    struct ratings_set s;
    rewardmodel *m = NULL;
    const char **texts = NULL;
    double *y = NULL;
    char err[PB_ERR_LEN];
    int rc = 1;
    if (!a->ratings || !a->out) {
        fprintf(stderr, "judge train: --ratings and --out are required\n\n%s", train_help);
        return 2;
    }
    if (load_ratings(a->ratings, a->skip_bad, &s))
        return 1;
    texts = malloc(s.n * sizeof *texts);
    y = malloc(s.n * sizeof *y);
    if (!texts || !y) {
        fprintf(stderr, "judge train: out of memory\n");
        goto cleanup;
    }
    for (size_t i = 0; i < s.n; i++) {
        texts[i] = s.items[i].text;
        y[i] = s.items[i].rate;
    }
    fprintf(stderr, "judge train: training on %zu ratings...\n", s.n);
    if (rewardmodel_train(texts, y, s.n, &m, err) != PB_OK ||
        rewardmodel_save(m, a->out, err) != PB_OK) {
        fprintf(stderr, "judge train: %s\n", err);
        goto cleanup;
    }
    struct rewardmodel_info info;
    rewardmodel_get_info(m, &info);
    printf("wrote %s: %zu ratings, lambda %.4g, statistics weight %.2g, leave-one-out MSE "
           "%.4f, %zu n-gram weights\n",
           a->out, info.train_n, info.lambda, info.dense_gain, info.loo_mse, info.n_weights);
    rc = 0;
cleanup:
    rewardmodel_free(m);
    free(texts);
    free(y);
    ratings_free(&s);
    return rc;
}

static int do_score(const struct judge_args *a)
{
    char err[PB_ERR_LEN], *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    rewardmodel *m = NULL;
    config *cfg = NULL;
    FILE *in = NULL;
    int rc = 1;
    const char *model = a->model;
    if (!model) {
        if (config_load(NULL, &cfg, err) != PB_OK) {
            fprintf(stderr, "judge score: %s\n", err);
            return 1;
        }
        model = config_str(cfg, "judge.local_model");
    }
    if (rewardmodel_load(model, &m, err) != PB_OK) {
        fprintf(stderr, "judge score: %s\n", err);
        goto cleanup;
    }
    in = !a->input || !strcmp(a->input, "-") ? stdin : fopen(a->input, "r");
    if (!in) {
        fprintf(stderr, "judge score: cannot open %s\n", a->input);
        goto cleanup;
    }
    ssize_t len;
    while ((len = getline(&line, &cap, in)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (!text_utf8_valid(line, (size_t)len) || strlen(line) != (size_t)len) {
            fprintf(stderr, "judge score: input line %ld is not valid UTF-8 text\n", lineno);
            goto cleanup;
        }
        printf("%.4f\n", rewardmodel_predict(m, line));
    }
    rc = 0;
cleanup:
    if (in && in != stdin)
        fclose(in);
    free(line);
    rewardmodel_free(m);
    config_free(cfg);
    return rc;
}

static json_t *json_num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *eval_json(const struct judge_args *a, const struct evalstats *e, size_t failures)
{
    json_t *rows = json_array();
    for (int h = 0; h < EVALSTATS_LEVELS; h++) {
        json_t *row = json_array();
        for (int p = 0; p < EVALSTATS_LEVELS; p++)
            json_array_append_new(row, json_integer(e->confusion[h][p]));
        json_array_append_new(rows, row);
    }
    json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:f, s:f, s:o, s:o, s:f, s:o, s:{s:[f,f,f,f,f], "
                          "s:o}}",
                          "judge", a->kind, "ratings", a->ratings, "n", (json_int_t)e->n,
                          "failures", (json_int_t)failures, "mse", e->mse, "mae", e->mae,
                          "spearman", json_num(e->spearman), "kendall_tau_b",
                          json_num(e->kendall_tau_b), "exact", e->exact, "qwk", json_num(e->qwk),
                          "confusion", "levels", -1.0, -0.5, 0.0, 0.5, 1.0, "rows", rows);
    if (o && strcmp(a->kind, "llm") != 0) {
        json_object_set_new(o, "folds", json_integer(a->folds));
        json_object_set_new(o, "seed", json_integer((json_int_t)a->seed));
    }
    return o;
}

static void print_table(const struct judge_args *a, const struct evalstats *e, size_t failures)
{
    printf("judge %s on %s: %zu items", a->kind, a->ratings, e->n);
    if (strcmp(a->kind, "llm") != 0)
        printf(", %d-fold CV, seed %llu", a->folds, a->seed);
    printf(", %zu judge failures\n\n", failures);
    printf("  MSE            %.4f\n  MAE            %.4f\n  Spearman       %.4f\n"
           "  Kendall tau-b  %.4f\n  exact level    %.4f\n  weighted kappa %.4f\n\n",
           e->mse, e->mae, e->spearman, e->kendall_tau_b, e->exact, e->qwk);
    printf("  confusion (rows: human, columns: rounded prediction)\n  %6s", "");
    static const char *const names[] = {"-1", "-0.5", "0", "0.5", "1"};
    for (int p = 0; p < EVALSTATS_LEVELS; p++)
        printf("%6s", names[p]);
    printf("\n");
    for (int h = 0; h < EVALSTATS_LEVELS; h++) {
        printf("  %6s", names[h]);
        for (int p = 0; p < EVALSTATS_LEVELS; p++)
            printf("%6ld", e->confusion[h][p]);
        printf("\n");
    }
}

static void fold_progress(int done, int k, void *user)
{
    fprintf(stderr, "judge eval: fold %d/%d done\n", done, k);
}

/* Judges every item with the LLM; items that fail are left out of the figures and counted. */
static int eval_llm(const struct judge_args *a, const struct ratings_set *s, double *human,
                    double *pred, size_t *n_ok, size_t *failures)
{
    char err[PB_ERR_LEN], path[1024];
    config *cfg = NULL;
    llm_client *llm = NULL;
    judge *j = NULL;
    char *rubric = NULL;
    struct ratings_set ex = {0};
    const char **texts = calloc(s->n, sizeof *texts);
    double *scores = calloc(s->n, sizeof *scores);
    int *status = calloc(s->n, sizeof *status), rc = 1, inited = 0;
    char(*errs)[PB_ERR_LEN] = calloc(s->n, sizeof *errs);
    if (!texts || !scores || !status || !errs)
        goto cleanup;
    if (config_load(NULL, &cfg, err) != PB_OK || llm_global_init(err) != PB_OK)
        goto fail;
    inited = 1;
    if (llm_client_from_config(cfg, &llm, err) != PB_OK)
        goto fail;
    snprintf(path, sizeof path, "%s/judge_%s.txt", config_str(cfg, "prompts.dir"), a->rubric);
    if (pb_read_file(a->rubric_file ? a->rubric_file : path, 1 << 20, &rubric, NULL, err))
        goto fail;
    snprintf(path, sizeof path, "ratings/examples_%s.jsonl", a->rubric);
    if (ratings_load(a->examples ? a->examples : path, 0, &ex, err) != PB_OK)
        goto fail;
    struct judge_options jo = {.kind = JUDGE_LLM,
                               .llm = llm,
                               .model = config_str(cfg, "judge.model"),
                               .rubric = rubric,
                               .examples = &ex};
    if (judge_new(&jo, &j, err) != PB_OK)
        goto fail;
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++)
        if (!judge_is_example(j, s->items[i].text))
            texts[m++] = s->items[i].text;
    if (m < s->n)
        fprintf(stderr, "judge eval: %zu item(s) are few-shot examples and were left out\n",
                s->n - m);
    fprintf(stderr, "judge eval: judging %zu items with the LLM...\n", m);
    if (judge_score_batch(j, texts, NULL, m, scores, status, errs, err) != PB_OK)
        goto fail;
    for (size_t i = 0, k = 0; i < s->n; i++) {
        if (judge_is_example(j, s->items[i].text))
            continue;
        if (status[k] == PB_OK) {
            human[*n_ok] = s->items[i].rate;
            pred[(*n_ok)++] = scores[k];
        } else {
            if (*failures < 5)
                fprintf(stderr, "judge eval: line %ld: %s\n", s->items[i].line, errs[k]);
            (*failures)++;
        }
        k++;
    }
    rc = 0;
    goto cleanup;
fail:
    fprintf(stderr, "judge eval: %s\n", err);
cleanup:
    judge_free(j);
    llm_client_free(llm);
    if (inited)
        llm_global_cleanup();
    config_free(cfg);
    ratings_free(&ex);
    free(rubric);
    free(texts);
    free(scores);
    free(status);
    free(errs);
    return rc;
}

/* Stores the figures as a judge evaluation in the database, where the dashboard reads them. */
static int record_eval(const struct judge_args *a, const char *figures_json)
{
    char err[PB_ERR_LEN];
    config *cfg = NULL;
    store *db = NULL;
    int64_t id;
    int rc = 1;
    if (config_load(NULL, &cfg, err) != PB_OK || store_open_config(cfg, a->db, &db, err) != PB_OK ||
        runs_insert_judge_eval(db, a->kind, figures_json, &id, err) != PB_OK) {
        fprintf(stderr, "judge eval: not recorded: %s\n", err);
        goto cleanup;
    }
    fprintf(stderr, "judge eval: recorded as evaluation %lld\n", (long long)id);
    rc = 0;
cleanup:
    store_close(db);
    config_free(cfg);
    return rc;
}

static int write_report(const struct judge_args *a, const struct evalstats *e, size_t failures)
{
    json_t *o = eval_json(a, e, failures);
    char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) : NULL;
    char err[PB_ERR_LEN];
    int rc = 0;
    if (!text) {
        fprintf(stderr, "judge eval: out of memory\n");
        rc = 1;
    } else {
        if (a->json)
            printf("%s\n", text);
        else
            print_table(a, e, failures);
        if (a->out && pb_write_file_atomic(a->out, text, strlen(text), err) != PB_OK) {
            fprintf(stderr, "judge eval: %s\n", err);
            rc = 1;
        }
        if (a->record && record_eval(a, text) != 0)
            rc = 1;
    }
    free(text);
    json_decref(o);
    return rc;
}

static int do_eval(const struct judge_args *a)
{
    struct ratings_set s;
    char err[PB_ERR_LEN];
    int kind = judge_kind_parse(a->kind), rc = 1;
    if (kind < 0) {
        fprintf(stderr,
                "judge eval: --judge must be one of llm, local, constant; got '%s' "
                "(promptbandit judge eval --help)\n",
                a->kind);
        return 2;
    }
    if (strcmp(a->rubric, "diary") != 0 && strcmp(a->rubric, "chat") != 0) {
        fprintf(stderr,
                "judge eval: --rubric must be one of diary, chat; got '%s' (or give the file "
                "with --rubric-file)\n",
                a->rubric);
        return 2;
    }
    if (!a->ratings) {
        fprintf(stderr, "judge eval: --ratings is required\n\n%s", eval_help);
        return 2;
    }
    if (load_ratings(a->ratings, a->skip_bad, &s))
        return 1;
    const char **texts = malloc(s.n * sizeof *texts);
    double *human = malloc(s.n * sizeof *human), *pred = malloc(s.n * sizeof *pred);
    int *fold = malloc(s.n * sizeof *fold);
    size_t n_ok = 0, failures = 0;
    struct evalstats e;
    if (!texts || !human || !pred || !fold) {
        fprintf(stderr, "judge eval: out of memory\n");
        goto cleanup;
    }
    for (size_t i = 0; i < s.n; i++) {
        texts[i] = s.items[i].text;
        human[i] = s.items[i].rate;
    }
    if (kind == JUDGE_LLM) {
        if (eval_llm(a, &s, human, pred, &n_ok, &failures))
            goto cleanup;
    } else {
        n_ok = s.n;
        if (evalstats_folds(s.n, a->folds, a->seed, fold, err) != PB_OK ||
            judge_cv_predict((enum judge_kind)kind, texts, human, s.n, fold, a->folds, pred,
                             fold_progress, NULL, err) != PB_OK) {
            fprintf(stderr, "judge eval: %s\n", err);
            goto cleanup;
        }
    }
    if (evalstats_compute(human, pred, n_ok, &e, err) != PB_OK) {
        fprintf(stderr, "judge eval: %s\n", err);
        goto cleanup;
    }
    rc = write_report(a, &e, failures);
    if (rc == 0 && failures > 0)
        rc = 1; /* figures printed, but the judge failed on some items */
cleanup:
    free(texts);
    free(human);
    free(pred);
    free(fold);
    ratings_free(&s);
    return rc;
}

int cmd_judge(int argc, char **argv)
{
    struct judge_args a;
    if (argc < 2 || cmd_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!cmd_action_find(actions, N_ACTIONS, argv[1]))
        return cmd_unknown_action("judge", argv[1], actions, N_ACTIONS);
    if (cmd_action_help(actions, N_ACTIONS, argc, argv))
        return 0;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc;
    if (!strcmp(argv[1], "train"))
        return do_train(&a);
    if (!strcmp(argv[1], "score"))
        return do_score(&a);
    return do_eval(&a);
}
