/* reward.c — feedback kinds to reward values, the impression checks, the commit and what follows
 * it (live state, counters). */
#include "service/reward.h"

#include "store/experiment.h"
#include "base/text.h"
#include "service/chatmem.h"
#include "service/live.h"
#include "service/pipeline.h"
#include "service/replica.h"
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

void reward_committed(app *a, const struct impressions_info *info, const char *experiment,
                      const struct feedback_reward *r, int64_t id)
{
    char why[PB_ERR_LEN];
    if (live_observe(app_live(a), info->experiment_id, id, info->arm_id,
                     info->segment[0] ? info->segment : NULL,
                     info->has_features ? info->features : NULL, r->value, why) != PB_OK)
        fprintf(stderr, "promptbandit: live state ignored reward %lld: %s\n", (long long)id, why);
    count_reward(a, experiment, info->arm_name, r->source, r->value);
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

/* One feedback between its validation and its commit. The impression is checked on the
 * writer's thread (check_impression), where every impression written behind before it is
 * visible, so a choose followed at once by feedback always finds its impression. */
struct reward_job {
    app *a;
    char key[APP_USER_KEY_LEN];
    int has_user;
    char *detail;
    struct impressions_info info; /* filled by the check */
    char experiment[PIPELINE_ID_MAX + 1];
    struct reward_feedback_out out;
    struct feedback_reward r;
    reward_done_fn *done;
    void *ud;
};

static void job_free(struct reward_job *j)
{
    free(j->detail);
    free(j);
}

static pb_status check_impression(store *s, struct feedback_reward *r, void *ud, char *err)
{
    struct reward_job *j = ud;
    struct store_experiment e = {0};
    pb_status rc =
        pipeline_owned_impression(s, r->impression_id, j->has_user ? j->key : NULL, &j->info, err);
    if (rc == PB_OK && !j->info.activated)
        rc = pb_errf(err, PB_ERR_CONFLICT,
                     "impression %lld is not activated: activate it (POST "
                     "/v1/impressions/%lld/activate) once its answer is shown, then send feedback",
                     (long long)r->impression_id, (long long)r->impression_id);
    if (rc == PB_OK && j->info.defaulted)
        rc = pb_errf(err, PB_ERR_CONFLICT,
                     "impression %lld already got the default reward (no feedback within "
                     "rewards.wait_s); late feedback is not counted",
                     (long long)r->impression_id);
    if (rc == PB_OK &&
        (rc = store_experiment_get_by_id(s, j->info.experiment_id, &e, err)) == PB_OK)
        snprintf(j->experiment, sizeof j->experiment, "%s", e.name);
    store_experiment_clear(&e);
    return rc;
}

static void reward_done(pb_status rc, int64_t id, int duplicate, const char *err, void *ud)
{
    struct reward_job *j = ud;
    if (rc == PB_OK) {
        j->out.reward_id = id;
        j->out.duplicate = duplicate;
        j->out.impression_id = j->r.impression_id;
        j->out.arm_id = j->info.arm_id;
        snprintf(j->out.arm, sizeof j->out.arm, "%s", j->info.arm_name);
        if (!duplicate)
            reward_committed(j->a, &j->info, j->experiment, &j->r, id);
    }
    j->done(rc, &j->out, err, j->ud);
    job_free(j);
}

pb_status reward_submit(app *a, const struct reward_feedback_in *in, reward_done_fn *done, void *ud,
                        char *err)
{
    struct reward_job *j = calloc(1, sizeof *j);
    if (!j)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    j->a = a;
    j->done = done;
    j->ud = ud;
    pb_status rc = pipeline_check_id(in->user_id, "user_id", 0, err);
    if (rc == PB_OK)
        rc = pipeline_check_id(in->event_id, "event_id", 0, err);
    if (rc == PB_OK)
        rc = feedback_value(a, in, &j->out, &j->detail, err);
    if (rc == PB_OK && !writer_healthy(app_writer(a), NULL))
        rc = pb_errf(err, PB_ERR_UNAVAILABLE,
                     "the database is not taking writes right now (see /healthz); retry later");
    if (rc == PB_OK) {
        if ((j->has_user = in->user_id != NULL))
            app_user_key(a, in->user_id, j->key);
        j->r = (struct feedback_reward){.impression_id = in->impression_id,
                                        .source = j->out.source,
                                        .value = j->out.value,
                                        .event_id = in->event_id,
                                        .detail_json = j->detail,
                                        .origin = replica_id(app_replica(a))};
        /* From here j belongs to the writer's callbacks (reward_done may already have freed
         * it when this returns). j->r.event_id stays the caller's string: the writer took a
         * copy, and reward_done reads only the value and the static source. */
        rc = writer_submit_reward(app_writer(a), &j->r, check_impression, reward_done, j, err);
        if (rc == PB_OK)
            return PB_OK;
    }
    if (rc != PB_OK)
        job_free(j);
    return rc;
}

/* ---- the blocking form ---- */

struct reward_wait {
    struct pipeline_wait w;
    struct reward_feedback_out *out;
};

static void wait_done(pb_status rc, const struct reward_feedback_out *out, const char *err,
                      void *ud)
{
    struct reward_wait *rw = ud;
    *rw->out = *out; /* before the end is told: the waiter may return at once */
    pipeline_wait_end(&rw->w, rc, err);
}

pb_status reward_from_feedback(app *a, const struct reward_feedback_in *in,
                               struct reward_feedback_out *out, char *err)
{
    struct reward_wait rw = {.out = out};
    memset(out, 0, sizeof *out);
    pipeline_wait_init(&rw.w);
    pb_status rc = reward_submit(a, in, wait_done, &rw, err);
    if (rc != PB_OK) /* done is never called: end the wait here */
        pipeline_wait_end(&rw.w, rc, err);
    return pipeline_wait_for(&rw.w, err);
}
