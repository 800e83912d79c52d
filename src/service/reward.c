/* reward.c — feedback kinds to reward values, the impression checks, the commit and what follows
 * it (live state, counters). */
#include "service/reward.h"

#include "store/experiment.h"
#include "base/text.h"
#include "service/chatmem.h"
#include "service/live.h"
#include "service/pipeline.h"
#include "store/writer.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIMILARITY_MAX_CHARS 8000

static void count_reward(app *a, const char *experiment, const char *arm, const char *source,
                         double value)
{
    static const char *const labels[] = {"experiment", "arm", "source"};
    const char *values[] = {experiment, arm, source};
    pipeline_count(a, "pb_rewards_total", "rewards stored per arm and source", labels, 3, values,
                   1);
    pipeline_count(
        a, "pb_reward_value_sum", "sum of reward values per arm and source", labels, 3, values,
        value + 1); /* counters only go up: the sum is kept on the shifted scale [0, 2] */
}

pb_status reward_commit(app *a, const struct impressions_info *info, const char *experiment,
                        struct feedback_reward *r, int64_t *id, int *duplicate, char *err)
{
    pb_status rc = writer_reward(app_writer(a), r, id, duplicate, err);
    if (rc != PB_OK || *duplicate)
        return rc;
    char why[PB_ERR_LEN];
    if (live_observe(app_live(a), info->experiment_id, *id, info->arm_id,
                     info->segment[0] ? info->segment : NULL,
                     info->has_features ? info->features : NULL, r->value, why) != PB_OK)
        fprintf(stderr, "promptbandit: live state ignored reward %lld: %s\n", (long long)*id, why);
    count_reward(a, experiment, info->arm_name, r->source, r->value);
    return PB_OK;
}

/* ---- the value of a feedback kind ---- */

/* Maps an edit's similarity to a reward with the rewards.edit_* thresholds. */
static double edit_reward(const config *cfg, double similarity)
{
    if (similarity >= config_double(cfg, "rewards.edit_high"))
        return config_double(cfg, "rewards.edit_high_reward");
    if (similarity < config_double(cfg, "rewards.edit_low"))
        return config_double(cfg, "rewards.edit_low_reward");
    return config_double(cfg, "rewards.edit_mid_reward");
}

static pb_status edit_value(app *a, const struct reward_feedback_in *in,
                            struct reward_feedback_out *out, char **detail, char *err)
{
    struct chatmem_turn ct = {0};
    const char *draft = in->draft;
    if (!in->final_text || !text_utf8_valid(in->final_text, strlen(in->final_text)))
        return pb_errf(err, PB_ERR_INVALID, "kind 'edit' needs 'final_text', a UTF-8 string");
    if (!draft && chatmem_turn_get(app_chatmem(a), in->impression_id, &ct))
        draft = ct.reply;
    if (!draft) {
        chatmem_turn_clear(&ct);
        return pb_errf(err, PB_ERR_INVALID,
                       "kind 'edit' needs 'draft' (the answer as shown) for impression %lld: it "
                       "is not in memory",
                       (long long)in->impression_id);
    }
    out->similarity = text_similarity(draft, in->final_text, SIMILARITY_MAX_CHARS);
    chatmem_turn_clear(&ct);
    if (out->similarity < 0)
        return pb_errf(err, PB_ERR_INVALID,
                       "'draft' and 'final_text' must be UTF-8 of at most %d characters",
                       SIMILARITY_MAX_CHARS);
    out->value = edit_reward(app_config(a), out->similarity);
    json_t *d = json_pack("{s:f}", "similarity", out->similarity);
    *detail = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    return *detail ? PB_OK : pb_errf(err, PB_ERR_NOMEM, "out of memory");
}

/* Source and value of a feedback kind; *detail (may stay NULL) is freed by the caller. */
static pb_status feedback_value(app *a, const struct reward_feedback_in *in,
                                struct reward_feedback_out *out, char **detail, char *err)
{
    const config *cfg = app_config(a);
    const char *kind = in->kind ? in->kind : "";
    out->similarity = -1;
    if (!strcmp(kind, "like") || !strcmp(kind, "dislike")) {
        out->source = "click";
        out->value = config_double(cfg, !strcmp(kind, "like") ? "rewards.like" : "rewards.dislike");
    } else if (!strcmp(kind, "regenerate")) {
        out->source = "regenerate";
        out->value = config_double(cfg, "rewards.regenerate");
    } else if (!strcmp(kind, "score")) {
        out->source = "score";
        if (!in->has_value || !isfinite(in->value) || in->value < -1 || in->value > 1)
            return pb_errf(err, PB_ERR_INVALID, "kind 'score' needs 'value', a number in [-1, 1]");
        out->value = in->value;
    } else if (!strcmp(kind, "edit")) {
        out->source = "edit";
        return edit_value(a, in, out, detail, err);
    } else {
        return pb_errf(err, PB_ERR_INVALID,
                       "field 'kind' must be one of like, dislike, regenerate, edit, score");
    }
    return PB_OK;
}

pb_status reward_from_feedback(app *a, const struct reward_feedback_in *in,
                               struct reward_feedback_out *out, char *err)
{
    char key[APP_USER_KEY_LEN], *detail = NULL;
    struct impressions_info info;
    struct store_experiment e = {0};
    memset(out, 0, sizeof *out);
    pb_status rc = pipeline_check_id(in->user_id, "user_id", 0, err);
    if (rc == PB_OK)
        rc = pipeline_check_id(in->event_id, "event_id", 0, err);
    if (rc == PB_OK)
        rc = feedback_value(a, in, out, &detail, err);
    if (rc != PB_OK) {
        free(detail);
        return rc;
    }
    if (in->user_id)
        app_user_key(a, in->user_id, key);
    store *s = app_store_acquire(a, err);
    rc = s ? pipeline_owned_impression(s, in->impression_id, in->user_id ? key : NULL, &info, err)
           : PB_ERR_DB;
    if (rc == PB_OK && !info.activated)
        rc = pb_errf(err, PB_ERR_CONFLICT,
                     "impression %lld is not activated: activate it (POST "
                     "/v1/impressions/%lld/activate) once its answer is shown, then send feedback",
                     (long long)in->impression_id, (long long)in->impression_id);
    if (rc == PB_OK && info.defaulted)
        rc = pb_errf(err, PB_ERR_CONFLICT,
                     "impression %lld already got the default reward (no feedback within "
                     "rewards.wait_s); late feedback is not counted",
                     (long long)in->impression_id);
    if (rc == PB_OK)
        rc = store_experiment_get_by_id(s, info.experiment_id, &e, err);
    app_store_release(a, s);
    struct feedback_reward r = {.impression_id = in->impression_id,
                                .source = out->source,
                                .value = out->value,
                                .event_id = in->event_id,
                                .detail_json = detail};
    if (rc == PB_OK)
        rc = reward_commit(a, &info, e.name, &r, &out->reward_id, &out->duplicate, err);
    if (rc == PB_OK) {
        out->impression_id = in->impression_id;
        out->arm_id = info.arm_id;
        snprintf(out->arm, sizeof out->arm, "%s", info.arm_name);
    }
    store_experiment_clear(&e);
    free(detail);
    return rc;
}
