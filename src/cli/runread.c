/* runread.c — bandit-run report, export, list and replay, and the report folder: open the
 * store, find the run by id or name, call report/replay, print. */
#include "runread.h"

#include "offline/evolve.h"

#include "offline/replay.h"
#include "offline/report.h"
#include "offline/reportview.h"
#include "store/arms.h"
#include "store/runs.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int runread_write_outputs(store *db, int64_t run_id, const char *dir, int print_md, char *err)
{
    struct report *r = NULL;
    char *md = NULL, path[4096];
    int rc = report_load(db, run_id, &r, err);
    if (rc == PB_OK && dir) {
        rc = report_write_dir(r, dir, err);
        snprintf(path, sizeof path, "%s/steps.jsonl", dir);
        FILE *f = rc == PB_OK ? fopen(path, "w") : NULL;
        if (rc == PB_OK && !f)
            rc = pb_errf(err, PB_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        if (f) {
            rc = report_export_jsonl(db, run_id, f, err);
            if (fclose(f) != 0 && rc == PB_OK)
                rc = pb_errf(err, PB_ERR_IO, "cannot write %s", path);
        }
    }
    if (rc == PB_OK && print_md && (rc = report_markdown(r, &md, err)) == PB_OK)
        fputs(md, stdout);
    free(md);
    report_free(r);
    return rc;
}

int runread_report(const struct run_args *a)
{
    char err[PB_ERR_LEN], *text = NULL;
    config *cfg;
    store *db;
    struct report *r = NULL;
    int64_t run_id;
    if (cmd_open_store("bandit-run report", &a->common, &cfg, &db) != 0)
        return 1;
    int rc = runargs_find_run(db, a->run, &run_id);
    struct run *kind = NULL;
    if (rc == 0 && runs_get(db, run_id, &kind, err) == PB_OK && !strcmp(kind->kind, "evolve")) {
        /* an evolve's report is its lineage (markdown only) */
        if (evolve_report_markdown(db, run_id, stdout, err) != PB_OK) {
            fprintf(stderr, "bandit-run report: %s\n", err);
            rc = 1;
        }
    } else if (rc == 0) {
        if (report_load(db, run_id, &r, err) == PB_OK &&
            (a->json ? report_json(r, &text, err) : report_markdown(r, &text, err)) == PB_OK &&
            (!a->out || runread_write_outputs(db, run_id, a->out, 0, err) == PB_OK)) {
            printf("%s%s", text, a->json ? "\n" : "");
        } else {
            fprintf(stderr, "bandit-run report: %s\n", err);
            rc = 1;
        }
    }
    runs_list_free(kind, 1);
    free(text);
    report_free(r);
    store_close(db);
    config_free(cfg);
    return rc;
}

int runread_export(const struct run_args *a)
{
    char err[PB_ERR_LEN];
    config *cfg;
    store *db;
    int64_t run_id;
    FILE *out = stdout;
    if (cmd_open_store("bandit-run export", &a->common, &cfg, &db) != 0)
        return 1;
    int rc = runargs_find_run(db, a->run, &run_id);
    if (rc != 0)
        goto cleanup;
    rc = 1;
    if (a->out && !(out = fopen(a->out, "w"))) {
        pb_errf(err, PB_ERR_IO, "cannot write %s: %s", a->out, strerror(errno));
        goto fail;
    }
    if (report_export_jsonl(db, run_id, out, err) != PB_OK)
        goto fail;
    rc = 0;
    goto cleanup;
fail:
    fprintf(stderr, "bandit-run export: %s\n", err);
cleanup:
    if (out && out != stdout && fclose(out) != 0 && rc == 0) {
        fprintf(stderr, "bandit-run export: cannot write %s\n", a->out);
        rc = 1;
    }
    store_close(db);
    config_free(cfg);
    return rc;
}

int runread_list(const struct run_args *a)
{
    char err[PB_ERR_LEN];
    config *cfg;
    store *db;
    struct run *list = NULL;
    size_t n = 0, width = 4;
    int rc = 1;
    if (cmd_open_store("bandit-run list", &a->common, &cfg, &db) != 0)
        return 1;
    if (runs_list(db, &list, &n, err) != PB_OK) {
        fprintf(stderr, "bandit-run list: %s\n", err);
        goto cleanup;
    }
    /* names in full: every other action accepts the name as shown here */
    for (size_t i = 0; i < n; i++)
        width = strlen(list[i].name) > width ? strlen(list[i].name) : width;
    printf("%-5s %-*s %-8s %-12s %-11s %6s %6s %7s  %s\n", "id", (int)width, "name", "kind",
           "status", "stopped", "ok", "failed", "pending", "winner");
    for (size_t i = 0; i < n; i++) {
        char winner[ARM_NAME_MAX + 1] = "-", *prompt = NULL;
        int64_t arm_id;
        if (list[i].winner_arm_id &&
            runs_winner(db, list[i].id, &arm_id, winner, &prompt, err) != PB_OK)
            snprintf(winner, sizeof winner, "?");
        free(prompt);
        printf("%-5lld %-*s %-8s %-12s %-11s %6lld %6lld %7lld  %s\n", (long long)list[i].id,
               (int)width, list[i].name, list[i].kind, list[i].status,
               list[i].stop_reason ? list[i].stop_reason : "-", (long long)list[i].steps_ok,
               (long long)list[i].steps_failed, (long long)list[i].steps_pending, winner);
    }
    rc = 0;
cleanup:
    runs_list_free(list, n);
    store_close(db);
    config_free(cfg);
    return rc;
}

static void print_replay(const struct replay_log *log, const struct replay_result *res, int n)
{
    printf("%zu events (%zu skipped without a reward), %zu arms, %zu with propensities\n\n", log->n,
           log->skipped, log->n_arms, log->with_propensity);
    printf("%-32s %9s %8s %18s %8s %8s\n", "policy", "accepted", "replay", "95 % CI", "IPS",
           "SNIPS");
    for (int i = 0; i < n; i++) {
        const struct replay_result *r = &res[i];
        printf("%-32s %9zu %8.4f [%7.4f, %7.4f] %8.4f %8.4f\n", r->policy, r->accepted, r->mean,
               r->ci_low, r->ci_high, r->ips, r->snips);
    }
    if (log->with_propensity < log->n)
        printf("\nIPS needs a propensity on every event; this log has %zu of %zu.\n",
               log->with_propensity, log->n);
}

static json_t *number_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static int print_replay_json(const struct replay_result *res, int n)
{
    json_t *list = json_array();
    for (int i = 0; list && i < n; i++) {
        const struct replay_result *r = &res[i];
        json_array_append_new(
            list, json_pack("{s:s, s:I, s:I, s:o, s:[o,o], s:o, s:o}", "policy", r->policy,
                            "events", (json_int_t)r->events, "accepted", (json_int_t)r->accepted,
                            "mean", number_or_null(r->mean), "ci95", number_or_null(r->ci_low),
                            number_or_null(r->ci_high), "ips", number_or_null(r->ips), "snips",
                            number_or_null(r->snips)));
    }
    char *text = list ? json_dumps(list, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) : NULL;
    if (text)
        printf("%s\n", text);
    free(text);
    json_decref(list);
    return text ? 0 : 1;
}

int runread_replay(const struct run_args *a)
{
    char err[PB_ERR_LEN];
    struct replay_log log;
    struct replay_result res[RUNARGS_MAX_POLICIES];
    if (replay_load_jsonl(a->events, &log, err) != PB_OK) {
        fprintf(stderr, "bandit-run replay: %s\n", err);
        return 1;
    }
    for (int i = 0; i < a->n_policies; i++)
        if (replay_run(&log, a->policies[i], a->has_seed ? a->seed : 1, &res[i], err) != PB_OK) {
            fprintf(stderr, "bandit-run replay: policy '%s': %s\n", a->policies[i], err);
            replay_log_free(&log);
            return 2;
        }
    int rc = 0;
    if (a->json)
        rc = print_replay_json(res, a->n_policies);
    else
        print_replay(&log, res, a->n_policies);
    replay_log_free(&log);
    return rc;
}
