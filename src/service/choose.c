/* choose.c — a choice for a client's own LLM, and activating or discarding its impression. */
#include "service/choose.h"

#include "store/experiment.h"
#include "bandit/featvec.h"
#include "service/live.h"
#include "service/livefeat.h"
#include "service/pipeline.h"
#include "service/segmap.h"
#include "store/impressions.h"
#include "store/writer.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void choose_out_clear(struct choose_out *out)
{
    free(out->prompt);
    out->prompt = NULL;
}

/* The client's context object (or {}) with "features" set; NULL when out of memory. Without a
 * client context (the common case) the text is written directly: choose is the service's
 * hottest path, and a json_t tree plus its dump cost more than the rest of the choice. */
static char *choose_context(const char *client_json, const double x[FEATVEC_DIM])
{
    if (!client_json) {
        struct jsonio_buf b = {0};
        jsonio_buf_lit(&b, "{\"features\":");
        featvec_append_json(&b, x);
        jsonio_buf_lit(&b, "}");
        return jsonio_buf_take(&b, NULL);
    }
    json_t *ctx = json_loads(client_json, 0, NULL);
    char *text = NULL;
    if (json_is_object(ctx) && json_object_set_new(ctx, "features", featvec_json(x)) == 0)
        text = json_dumps(ctx, JSON_COMPACT | JSON_REAL_PRECISION(9)); /* 9 digits: plenty */
    json_decref(ctx);
    return text;
}

pb_status choose_arm(app *a, const struct choose_in *in, struct choose_out *out, char *err)
{
    const char *experiment = in->experiment ? in->experiment : "default";
    char key[APP_USER_KEY_LEN];
    struct live_choice c = {0};
    memset(out, 0, sizeof *out);
    pb_status rc = pipeline_check_experiment(experiment, err);
    if (rc == PB_OK)
        rc = pipeline_check_id(in->user_id, "user_id", 0, err);
    if (rc == PB_OK && in->context_json && !store_json_valid(in->context_json, 1))
        rc = pb_errf(err, PB_ERR_INVALID, "field 'context' must be a JSON object");
    if (rc != PB_OK)
        return rc;
    const char *segment = in->segment ? segmap_canonical(app_segmap(a), in->segment) : NULL;
    double x[FEATVEC_DIM];
    if (in->features)
        memcpy(x, in->features, sizeof x);
    else
        livefeat_build(NULL, 0, 0, pb_now_wall(), x);
    char *context = choose_context(in->context_json, x);
    if (!context)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    rc = live_choose(app_live(a), NULL, experiment, segment, x, 0, &c, err);
    if (rc == PB_ERR_NOT_FOUND) { /* not loaded yet: load it from the store */
        store *s = app_store_acquire(a, err);
        rc = s ? live_choose(app_live(a), s, experiment, segment, x, 0, &c, err) : PB_ERR_DB;
        app_store_release(a, s);
    }
    if (in->user_id)
        app_user_key(a, in->user_id, key);
    struct feedback_impression imp = {.experiment_id = c.experiment_id,
                                      .arm_id = c.arm_id,
                                      .user_id = in->user_id ? key : NULL,
                                      .segment = segment,
                                      .context_json = context,
                                      .propensity = c.propensity,
                                      .activated = !in->inactive,
                                      .context_checked = 1};
    /* Written behind: the answer does not wait for the commit (docs/SERVICE.md, "choose").
     * Never 200 over a log that is not being written: a failing writer refuses. */
    char why[PB_ERR_LEN];
    if (rc == PB_OK && !writer_healthy(app_writer(a), why))
        rc = pb_errf(err, PB_ERR_UNAVAILABLE,
                     "the database is not taking writes, so no choice is logged: %s", why);
    if (rc == PB_OK)
        rc = writer_submit_impression(app_writer(a), &imp, &out->impression_id, NULL, NULL, err);
    if (rc == PB_OK) {
        if (!in->inactive)
            pipeline_count_pull(a, experiment, c.arm_name);
        snprintf(out->arm, sizeof out->arm, "%s", c.arm_name);
        out->arm_id = c.arm_id;
        out->experiment_id = c.experiment_id;
        out->propensity = c.propensity;
        snprintf(out->segment, sizeof out->segment, "%s",
                 segment ? segment
                         : live_segment_name(app_live(a), live_segment_count(app_live(a)) - 1));
        out->prompt = c.prompt;
        c.prompt = NULL;
    }
    live_choice_clear(&c);
    free(context);
    return rc;
}

pb_status choose_impression_set(app *a, int64_t impression_id, const char *user_id, int admin,
                                int activate, int *changed, char *err)
{
    char key[APP_USER_KEY_LEN];
    struct impressions_info info;
    struct store_experiment e = {0};
    int done = 0;
    pb_status rc = pipeline_check_id(user_id, "user_id", 0, err);
    if (rc != PB_OK)
        return rc;
    if (user_id)
        app_user_key(a, user_id, key);
    store *s = app_store_acquire(a, err);
    if (!s)
        rc = PB_ERR_DB;
    else
        rc = impressions_get(s, impression_id, &info, err);
    if (rc == PB_ERR_NOT_FOUND) {
        /* It may still be on its way to the disk (choose writes behind): wait for the writer's
         * queue once and look again. */
        err[0] = '\0';
        rc = writer_flush(app_writer(a), err);
        if (rc == PB_OK)
            rc = impressions_get(s, impression_id, &info, err);
    }
    if (rc == PB_OK && !admin)
        rc = pipeline_owned_impression(s, impression_id, user_id ? key : NULL, &info, err);
    if (rc == PB_OK && activate)
        rc = impressions_activate(s, impression_id, &done, err);
    else if (rc == PB_OK)
        rc = impressions_discard(s, impression_id, err);
    if (rc == PB_OK && activate && done &&
        store_experiment_get_by_id(s, info.experiment_id, &e, err) == PB_OK)
        pipeline_count_pull(a, e.name, info.arm_name);
    app_store_release(a, s);
    store_experiment_clear(&e);
    if (changed)
        *changed = activate ? done : 1;
    return rc;
}
