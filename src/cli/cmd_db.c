/* cmd_db.c — `promptbandit db migrate|status|backup|purge|export-events`: create or upgrade
 * the SQLite database, show its schema version and row counts, copy it online, purge old
 * messages, export logged decisions for replay (db_export.c). Parses arguments and calls
 * store/feedback; no SQL here. */
#include "cmd.h"
#include "base/config.h"
#include "db_export.h"
#include "store/feedback.h"
#include "base/pb.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB_OPTIONS                                                                                 \
    "options:\n"                                                                                   \
    "  --db PATH      database file or postgresql:// URL (default: db.url, else db.path)\n"        \
    "  --config FILE  JSON settings file (default: $PB_CONFIG)\n"

static const struct cmd_action actions[] = {
    {"migrate", "usage: promptbandit db migrate [--db PATH] [--config FILE]\n\n"
                "Creates the database or applies its pending migrations, and prints the schema\n"
                "version.\n\n" DB_OPTIONS},
    {"status", "usage: promptbandit db status [--db PATH] [--config FILE]\n\n"
               "Prints the schema version, the rows of each table and an integrity check (exit 1\n"
               "when it fails).\n\n" DB_OPTIONS},
    {"backup", "usage: promptbandit db backup FILE [--db PATH] [--config FILE]\n\n"
               "Copies the database online (the service may keep running) to FILE, which must\n"
               "not exist.\n\n" DB_OPTIONS},
    {"purge", "usage: promptbandit db purge [--older-than DAYS] [--db PATH] [--config FILE]\n\n"
              "Deletes stored chat messages older than DAYS days (default: the setting\n"
              "privacy.retention_days when it is not 0).\n\n" DB_OPTIONS},
    {"export-events",
     "usage: promptbandit db export-events [--experiment NAME] [--out FILE] [--db PATH]\n"
     "                                     [--config FILE]\n\n"
     "The service's logged decisions as JSONL, one line per activated impression with a\n"
     "reward: {arm, reward (mean of its rewards), propensity, segment, features, time}; reads\n"
     "as `simulate --replay-contextual FILE` and `bandit-run replay --events FILE` (default:\n"
     "every experiment, to stdout).\n\n" DB_OPTIONS},
};
#define N_ACTIONS (sizeof actions / sizeof actions[0])

static void usage(FILE *out)
{
    fputs("usage: promptbandit db <action> [--db PATH] [--config FILE]   (`promptbandit db "
          "ACTION\n       --help` for each)\n\n",
          out);
    cmd_actions_line(out, actions, N_ACTIONS);
    fputs("  migrate                  create the database or apply pending migrations\n"
          "  status                   schema version, row counts and an integrity check\n"
          "  backup FILE              online copy of the database to FILE (must not exist)\n"
          "  purge --older-than DAYS  delete stored chat messages older than DAYS days\n"
          "  export-events [--experiment NAME] [--out FILE]\n"
          "                           the service's logged decisions as JSONL\n\n" DB_OPTIONS,
          out);
}

struct db_args {
    const char *action, *file, *experiment, *out;
    struct cmd_common common;
    double older_than_days; /* < 0: not given */
};

/* Returns -1 when arguments are fine, else the exit code (0 for --help, 2 for usage). */
static int parse(int argc, char **argv, struct db_args *a)
{
    a->older_than_days = -1;
    if (argc < 2 || cmd_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    a->action = argv[1];
    if (!cmd_action_find(actions, N_ACTIONS, a->action))
        return cmd_unknown_action("db", a->action, actions, N_ACTIONS);
    if (cmd_action_help(actions, N_ACTIONS, argc, argv))
        return 0;
    for (int i = 2; i < argc; i++) {
        char *end;
        int taken;
        if ((taken = cmd_take_common("db", argc, argv, &i, &a->common)) != 0) {
            if (taken < 0)
                return 2;
        } else if (strcmp(argv[i], "--older-than") == 0 && i + 1 < argc) {
            a->older_than_days = strtod(argv[++i], &end);
            if (*end || end == argv[i] || a->older_than_days < 0) {
                fprintf(stderr, "db purge: --older-than wants a number of days >= 0\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--experiment") == 0 && i + 1 < argc &&
                   strcmp(a->action, "export-events") == 0) {
            a->experiment = argv[++i];
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc &&
                   strcmp(a->action, "export-events") == 0) {
            a->out = argv[++i];
        } else if (argv[i][0] != '-' && !a->file && strcmp(a->action, "backup") == 0) {
            a->file = argv[i];
        } else {
            fprintf(stderr, "db %s: unexpected argument '%s' (promptbandit db %s --help)\n",
                    a->action, argv[i], a->action);
            return 2;
        }
    }
    return -1;
}

static int print_status(store *s)
{
    char err[PB_ERR_LEN];
    struct store_counts c;
    if (store_count_rows(s, &c, err) != PB_OK) {
        fprintf(stderr, "db status: %s\n", err);
        return 1;
    }
    printf("schema version  %d (this binary knows %d)\n", store_schema_version(s),
           store_schema_latest());
    const char *names[] = {"experiments", "arms",     "users", "conversations", "impressions",
                           "rewards",     "messages", "runs",  "run_steps",     "judge_evals"};
    int64_t values[] = {c.experiments, c.arms,     c.users, c.conversations, c.impressions,
                        c.rewards,     c.messages, c.runs,  c.run_steps,     c.judge_evals};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        printf("%-15s %lld\n", names[i], (long long)values[i]);
    int rc = store_integrity_check(s, err);
    printf("integrity       %s\n", rc == PB_OK ? "ok" : err);
    return rc == PB_OK ? 0 : 1;
}

static int run_action(store *s, const config *cfg, const struct db_args *a)
{
    char err[PB_ERR_LEN];
    if (strcmp(a->action, "migrate") == 0) {
        printf("schema version %d (%d migration(s) applied)\n", store_schema_version(s),
               store_migrations_applied(s));
        return 0;
    }
    if (strcmp(a->action, "status") == 0)
        return print_status(s);
    if (strcmp(a->action, "export-events") == 0)
        return db_export_events(s, a->experiment, a->out);
    if (strcmp(a->action, "backup") == 0) {
        if (store_backup(s, a->file, err) != PB_OK) {
            fprintf(stderr, "db backup: %s\n", err);
            return 1;
        }
        printf("backup written to %s\n", a->file);
        return 0;
    }
    double days = a->older_than_days;
    if (days < 0)
        days = (double)config_int(cfg, "privacy.retention_days");
    if (days <= 0 && a->older_than_days < 0) {
        fprintf(stderr, "db purge: give --older-than DAYS (privacy.retention_days is 0)\n");
        return 2;
    }
    int64_t deleted = 0;
    if (feedback_purge_messages(s, pb_now_wall() - days * 86400.0, &deleted, err) != PB_OK) {
        fprintf(stderr, "db purge: %s\n", err);
        return 1;
    }
    printf("purged %lld message(s) older than %g day(s)\n", (long long)deleted, days);
    return 0;
}

int cmd_db(int argc, char **argv)
{
    struct db_args a = {0};
    int code = parse(argc, argv, &a);
    if (code >= 0)
        return code;
    if (strcmp(a.action, "backup") == 0 && !a.file) {
        fprintf(stderr, "db backup: give the FILE to write\n\n%s", actions[2].help);
        return 2;
    }
    config *cfg;
    store *s;
    char what[64];
    snprintf(what, sizeof what, "db %s", a.action);
    code = cmd_open_store(what, &a.common, &cfg, &s);
    if (code == 0)
        code = run_action(s, cfg, &a);
    store_close(s);
    config_free(cfg);
    return code;
}
