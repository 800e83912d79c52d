/* cmd_propose.c — `promptbandit prompts propose`: asks the LLM for new candidate prompts from a
 * base prompt and the best- and worst-rated texts, and writes the new ones into the prompt
 * folder. Parses arguments, calls propose_prompts, prints; no logic of its own. */
#include "cmd.h"

#include "base/config.h"
#include "llm/llm.h"
#include "judge/propose.h"
#include "judge/ratings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: promptbandit prompts propose (--base FILE | --arm NAME) --ratings FILE.jsonl\n"
    "                                    [--n 3] [--examples 3] [--out-dir DIR]\n"
    "                                    [--meta FILE] [--skip-bad]\n\n"
    "Shows the LLM the base prompt (a file, or the arm NAME = DIR/NAME.txt) with the best-\n"
    "and worst-rated texts of FILE.jsonl and asks for N new prompts (OPRO-style; the\n"
    "meta-prompt is prompts/propose.txt unless --meta). New prompts are written as\n"
    "DIR/P<sha256-8>.txt (DIR default: setting prompts.dir); prompts whose content is\n"
    "already in DIR are skipped. Provider settings: llm.* (`promptbandit config show`).\n";

struct propose_args {
    const char *base, *arm, *ratings, *out_dir, *meta;
    int n, examples, skip_bad;
};

static int parse_args(int argc, char **argv, struct propose_args *a)
{
    *a = (struct propose_args){.n = 3, .examples = 3};
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **s = !strcmp(o, "--base")      ? &a->base
                         : !strcmp(o, "--arm")     ? &a->arm
                         : !strcmp(o, "--ratings") ? &a->ratings
                         : !strcmp(o, "--out-dir") ? &a->out_dir
                         : !strcmp(o, "--meta")    ? &a->meta
                                                   : NULL;
        int *num = !strcmp(o, "--n") ? &a->n : !strcmp(o, "--examples") ? &a->examples : NULL;
        if (!strcmp(o, "--skip-bad")) {
            a->skip_bad = 1;
            continue;
        }
        if ((!s && !num) || !v) {
            fprintf(stderr, "prompts propose: %s '%s'\n\n%s",
                    s || num ? "missing value for" : "unknown option", o, usage_text);
            return 2;
        }
        char *end = NULL;
        if (s)
            *s = v;
        else if ((*num = (int)strtol(v, &end, 10)) < 1 || *end) {
            fprintf(stderr, "prompts propose: %s expects a positive whole number\n", o);
            return 2;
        }
        i++;
    }
    if ((!a->base == !a->arm) || !a->ratings) {
        fprintf(stderr, "prompts propose: give one of --base or --arm, and --ratings\n\n%s",
                usage_text);
        return 2;
    }
    return 0;
}

int cmd_prompts_propose(int argc, char **argv)
{
    struct propose_args a;
    char err[PB_ERR_LEN], path[4096], *base = NULL, *meta = NULL;
    config *cfg = NULL;
    llm_client *llm = NULL;
    struct ratings_set rated = {0};
    struct propose_result res = {0};
    int rc = 1, inited = 0;
    for (int i = 1; i < argc; i++)
        if (cmd_is_help(argv[i])) {
            fputs(usage_text, stdout);
            return 0;
        }
    if ((rc = parse_args(argc, argv, &a)) != 0)
        return rc;
    rc = 1;
    if (config_load(NULL, &cfg, err) != PB_OK)
        goto fail;
    const char *dir = a.out_dir ? a.out_dir : config_str(cfg, "prompts.dir");
    if (a.arm)
        snprintf(path, sizeof path, "%s/%s.txt", config_str(cfg, "prompts.dir"), a.arm);
    if (pb_read_file(a.base ? a.base : path, 1 << 20, &base, NULL, err) != PB_OK)
        goto fail;
    snprintf(path, sizeof path, "%s/propose.txt", config_str(cfg, "prompts.dir"));
    if (pb_read_file(a.meta ? a.meta : path, 1 << 20, &meta, NULL, err) != PB_OK ||
        ratings_load(a.ratings, a.skip_bad, &rated, err) != PB_OK)
        goto fail;
    if (llm_global_init(err) != PB_OK)
        goto fail;
    inited = 1;
    if (llm_client_from_config(cfg, &llm, err) != PB_OK)
        goto fail;
    struct propose_request req = {base, &rated, (size_t)a.examples, a.n, meta, dir};
    fprintf(stderr, "prompts propose: asking for %d prompts...\n", a.n);
    if (propose_prompts(llm, &req, &res, err) != PB_OK)
        goto fail;
    for (size_t i = 0; i < res.n_written; i++)
        printf("wrote %s\n", res.written[i]);
    printf("%zu proposed, %zu new, %zu already present\n", res.n_proposed, res.n_written,
           res.n_duplicates);
    rc = 0;
    goto cleanup;
fail:
    fprintf(stderr, "prompts propose: %s\n", err);
cleanup:
    propose_result_free(&res);
    ratings_free(&rated);
    llm_client_free(llm);
    if (inited)
        llm_global_cleanup();
    config_free(cfg);
    free(base);
    free(meta);
    return rc;
}
