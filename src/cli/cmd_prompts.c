/* cmd_prompts.c — `promptbandit prompts list|sync|add|retire|restore` over the arms of an
 * experiment (the default one is synced from prompts.dir first); `prompts propose` is
 * dispatched to cmd_prompts_propose (cmd_propose.c). Parses arguments, calls arms/store. */
#include "store/arms.h"
#include "store/replica.h"
#include "cmd.h"
#include "base/config.h"
#include "base/pb.h"
#include "store/experiment.h"
#include "store/store.h"
#include "base/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROMPT_FILE_MAX (256 * 1024)

#define PROMPTS_OPTIONS                                                                            \
    "options:\n"                                                                                   \
    "  --experiment NAME  experiment (default: \"default\", synced from prompts.dir\n"             \
    "                     on every action: a changed file becomes a new version)\n"                \
    "  --db PATH          database file or postgresql:// URL (default: db.url, else db.path)\n"    \
    "  --config FILE      JSON settings file (default: $PB_CONFIG)\n"
#define ARM_FILES                                                                                  \
    "Arm files are prompts.dir/NAME.txt where NAME is a letter then letters or digits\n"           \
    "(16 at most), not starting with judge or propose; other files are not arms.\n"

static const struct cmd_action actions[] = {
    {"list", "usage: promptbandit prompts list [--all] [options]\n\n"
             "Lists the arms: name, version, hash prefix, retired, first line (--all: retired\n"
             "versions too).\n\n" PROMPTS_OPTIONS},
    {"sync",
     "usage: promptbandit prompts sync [options]\n\n"
     "Loads the arm files of prompts.dir into the experiment.\n\n" PROMPTS_OPTIONS "\n" ARM_FILES},
    {"add", "usage: promptbandit prompts add NAME FILE [options]\n\n"
            "Makes FILE's text the active version of arm NAME (a new arm, a new version, or a\n"
            "retired version made active again).\n\n" PROMPTS_OPTIONS},
    {"retire",
     "usage: promptbandit prompts retire NAME [options]\n\n"
     "Retires the active version of arm NAME: it is no longer served.\n\n" PROMPTS_OPTIONS},
    {"restore", "usage: promptbandit prompts restore NAME VERSION [options]\n\n"
                "Makes an earlier version of arm NAME active again (the active one is "
                "retired).\n\n" PROMPTS_OPTIONS},
    {"propose", NULL}, /* cmd_propose.c answers its --help */
};
#define N_ACTIONS (sizeof actions / sizeof actions[0])

static void usage(FILE *out)
{
    fputs("usage: promptbandit prompts <action> [options]   (`promptbandit prompts ACTION "
          "--help`\n       for each)\n\n",
          out);
    cmd_actions_line(out, actions, N_ACTIONS);
    fputs("  list [--all]          arms: name, version, hash prefix, retired, first line\n"
          "  sync                  load the arm files of prompts.dir into the experiment\n"
          "  add NAME FILE         make FILE's text the active version of arm NAME\n"
          "  retire NAME           retire the active version of arm NAME\n"
          "  restore NAME VERSION  make an earlier version of NAME active again\n"
          "  propose ...           let the LLM propose new candidate prompts\n\n" PROMPTS_OPTIONS
          "\n" ARM_FILES,
          out);
}

struct prompts_args {
    const char *action, *experiment;
    struct cmd_common common;
    const char *pos[2];
    int n_pos, all;
};

/* Returns -1 when arguments are fine, else the exit code. */
static int parse(int argc, char **argv, struct prompts_args *a)
{
    a->experiment = "default";
    a->action = argv[1];
    for (int i = 2; i < argc; i++) {
        int taken;
        if ((taken = cmd_take_common("prompts", argc, argv, &i, &a->common)) != 0) {
            if (taken < 0)
                return 2;
        } else if (strcmp(argv[i], "--experiment") == 0 && i + 1 < argc) {
            a->experiment = argv[++i];
        } else if (strcmp(argv[i], "--all") == 0) {
            a->all = 1;
        } else if (argv[i][0] != '-' && a->n_pos < 2) {
            a->pos[a->n_pos++] = argv[i];
        } else {
            fprintf(stderr,
                    "prompts %s: unexpected argument '%s' (promptbandit prompts %s --help)\n",
                    a->action, argv[i], a->action);
            return 2;
        }
    }
    static const struct {
        const char *action;
        int n_pos;
    } arity[] = {{"list", 0}, {"sync", 0}, {"add", 2}, {"retire", 1}, {"restore", 2}};
    for (size_t i = 0; i < sizeof arity / sizeof arity[0]; i++) {
        if (strcmp(a->action, arity[i].action) != 0)
            continue;
        if (a->n_pos == arity[i].n_pos)
            return -1;
        fprintf(stderr, "prompts %s: expected %d argument(s), got %d\n\n%s", a->action,
                arity[i].n_pos, a->n_pos, cmd_action_find(actions, N_ACTIONS, a->action)->help);
        return 2;
    }
    return cmd_unknown_action("prompts", a->action, actions, N_ACTIONS);
}

/* The experiment to act on; the default one is created and synced from prompts.dir. */
static int open_experiment(store *s, const config *cfg, const struct prompts_args *a,
                           struct store_experiment *e, char *err)
{
    if (strcmp(a->experiment, "default") != 0)
        return store_experiment_get(s, a->experiment, e, err);
    struct arms_sync_summary sum;
    int rc = arms_ensure_default(s, config_str(cfg, "prompts.dir"),
                                 config_str(cfg, "bandit.policy"), e, &sum, err);
    if (rc == PB_OK && (sum.created || sum.versioned))
        fprintf(stderr, "prompts: synced %s: %d new arm(s), %d new version(s)\n",
                config_str(cfg, "prompts.dir"), sum.created, sum.versioned);
    return rc;
}

static void print_first_line(const char *prompt)
{
    size_t len = strcspn(prompt, "\r\n");
    size_t cut = text_utf8_prefix(prompt, len, 40);
    printf("%.*s%s\n", (int)cut, prompt, cut < len ? "…" : "");
}

static int list_arms(store *s, const struct store_experiment *e, int all, char *err)
{
    struct arm *arms = NULL;
    size_t n = 0;
    int rc = arms_list(s, e->id, all, &arms, &n, err);
    if (rc != PB_OK)
        return rc;
    printf("%-8s %-7s %-12s %-8s %s\n", "name", "version", "hash", "status", "first line");
    for (size_t i = 0; i < n; i++) {
        const char *status = arms[i].retired_at != 0            ? "retired"
                             : arms[i].id == e->promoted_arm_id ? "promoted"
                                                                : "active";
        printf("%-8s %-7d %.12s %-8s ", arms[i].name, arms[i].version, arms[i].content_hash,
               status);
        print_first_line(arms[i].prompt);
    }
    arms_list_free(arms, n);
    return PB_OK;
}

static int add_arm(store *s, const struct store_experiment *e, const char *name, const char *file,
                   char *err)
{
    char *text = NULL;
    size_t len;
    int64_t id;
    enum arms_change change;
    int rc = pb_read_file(file, PROMPT_FILE_MAX, &text, &len, err);
    if (rc != PB_OK)
        return rc;
    if (strlen(text) != len)
        rc = pb_errf(err, PB_ERR_INVALID, "%s: contains a NUL byte", file);
    else
        rc = arms_add(s, e->id, name, text, file, &id, &change, err);
    free(text);
    if (rc != PB_OK)
        return rc;
    static const char *what[] = {"unchanged (already the active version)", "added",
                                 "added as a new version", "restored an earlier version"};
    struct arm a;
    if (arms_get(s, id, &a, err) == PB_OK) {
        printf("arm %s v%d: %s\n", a.name, a.version, what[change]);
        arms_clear(&a);
    }
    return PB_OK;
}

static int restore_arm(store *s, const struct store_experiment *e, const char *name,
                       const char *version, char *err)
{
    struct arm *arms = NULL;
    size_t n = 0;
    int64_t id = 0;
    int rc = arms_list(s, e->id, 1, &arms, &n, err);
    if (rc != PB_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (strcmp(arms[i].name, name) == 0 && arms[i].version == atoi(version))
            id = arms[i].id;
    arms_list_free(arms, n);
    if (!id)
        return pb_errf(err, PB_ERR_NOT_FOUND, "arm %s has no version %s", name, version);
    if ((rc = arms_restore(s, id, err)) == PB_OK)
        printf("arm %s v%s is active again\n", name, version);
    return rc;
}

static int run_action(store *s, const config *cfg, const struct prompts_args *a, char *err)
{
    struct store_experiment e = {0};
    struct arm found = {0};
    int rc = open_experiment(s, cfg, a, &e, err);
    if (rc != PB_OK)
        return rc;
    if (strcmp(a->action, "list") == 0) {
        rc = list_arms(s, &e, a->all, err);
    } else if (strcmp(a->action, "add") == 0) {
        rc = add_arm(s, &e, a->pos[0], a->pos[1], err);
    } else if (strcmp(a->action, "retire") == 0) {
        if ((rc = arms_find(s, e.id, a->pos[0], &found, err)) == PB_OK &&
            (rc = arms_retire(s, found.id, err)) == PB_OK)
            printf("arm %s v%d retired\n", found.name, found.version);
    } else if (strcmp(a->action, "restore") == 0) {
        rc = restore_arm(s, &e, a->pos[0], a->pos[1], err);
    } else {
        printf("prompts: experiment %s is in sync with its files\n", e.name);
    }
    /* Running `serve` replicas drop their live state of the experiment and rebuild it with the
     * changed arms (docs/SERVICE.md "Replicas"); harmless when none runs. */
    if (rc == PB_OK && strcmp(a->action, "list") != 0)
        rc = replica_event_add(s, "reload", e.name, "cli", err);
    arms_clear(&found);
    store_experiment_clear(&e);
    return rc;
}

int cmd_prompts(int argc, char **argv)
{
    if (argc < 2 || cmd_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!cmd_action_find(actions, N_ACTIONS, argv[1]))
        return cmd_unknown_action("prompts", argv[1], actions, N_ACTIONS);
    if (cmd_action_help(actions, N_ACTIONS, argc, argv))
        return 0;
    if (strcmp(argv[1], "propose") == 0) {
        if (!cmd_prompts_propose) {
            fprintf(stderr, "prompts propose: not built in this version\n");
            return 1;
        }
        return cmd_prompts_propose(argc - 1, argv + 1);
    }
    struct prompts_args a = {0};
    int code = parse(argc, argv, &a);
    if (code >= 0)
        return code;
    char err[PB_ERR_LEN];
    config *cfg;
    store *s;
    char what[64];
    snprintf(what, sizeof what, "prompts %s", a.action);
    code = cmd_open_store(what, &a.common, &cfg, &s);
    if (code == 0 && run_action(s, cfg, &a, err) != PB_OK) {
        fprintf(stderr, "%s: %s\n", what, err);
        code = 1;
    }
    store_close(s);
    config_free(cfg);
    return code;
}
