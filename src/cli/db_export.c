/* db_export.c — JSONL export of logged (features, arm, reward, propensity) events. */
#include "db_export.h"

#include "store/experiment.h"
#include "store/impressions.h"
#include "service/livefeat.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

struct export_ctx {
    FILE *out;
    long written, no_features, no_propensity;
};

static int export_one(void *ctx, const struct impressions_event *ev)
{
    struct export_ctx *c = ctx;
    char why[PB_ERR_LEN];
    double x[FEATVEC_DIM];
    if (ev->propensity <= 0) {
        c->no_propensity++;
        return 0;
    }
    if (featvec_from_context(ev->context, x, why) != 1) {
        c->no_features++;
        return 0;
    }
    json_t *line =
        json_pack("{s:s, s:f, s:f, s:o, s:f, s:I, s:I, s:I}", "arm", ev->arm, "reward", ev->reward,
                  "propensity", ev->propensity, "features", featvec_json(x), "time", ev->created_at,
                  "impression_id", (json_int_t)ev->impression_id, "experiment_id",
                  (json_int_t)ev->experiment_id, "rewards", (json_int_t)ev->n_rewards);
    if (line && ev->segment)
        json_object_set_new(line, "segment", json_string(ev->segment));
    int rc = line && json_dumpf(line, c->out, JSON_COMPACT) == 0 && fputc('\n', c->out) != EOF
                 ? PB_OK
                 : PB_ERR_IO;
    json_decref(line);
    c->written += rc == PB_OK;
    return rc;
}

int db_export_events(store *s, const char *experiment, const char *out_path)
{
    char err[PB_ERR_LEN] = "";
    struct store_experiment e = {0};
    struct export_ctx c = {0};
    int rc = PB_OK;
    if (experiment && (rc = store_experiment_get(s, experiment, &e, err)) != PB_OK) {
        fprintf(stderr, "db export-events: %s\n", err);
        return 1;
    }
    c.out = out_path ? fopen(out_path, "w") : stdout;
    if (!c.out) {
        perror(out_path);
        store_experiment_clear(&e);
        return 1;
    }
    rc = impressions_event_foreach(s, experiment ? e.id : 0, export_one, &c, err);
    if (rc == PB_ERR_IO)
        snprintf(err, sizeof err, "cannot write %s", out_path ? out_path : "stdout");
    if (out_path && fclose(c.out) != 0 && rc == PB_OK)
        rc = pb_errf(err, PB_ERR_IO, "cannot write %s", out_path);
    store_experiment_clear(&e);
    if (rc != PB_OK) {
        fprintf(stderr, "db export-events: %s\n", err);
        return 1;
    }
    fprintf(stderr,
            "exported %ld event(s); skipped %ld without features and %ld without a "
            "propensity\n",
            c.written, c.no_features, c.no_propensity);
    return 0;
}
