/* examples.c — best, median and worst answers per arm, from the cache's value bins (live) or a
 * run's scored steps (offline). */
#include "service/examples.h"

#include "service/dashcache.h"
#include "service/decide.h"
#include "service/runview.h"
#include "store/arms.h"
#include "store/dashq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_MAX 4096

enum { RANK_BEST, RANK_MEDIAN, RANK_WORST, N_RANKS };
static const char *const rank_names[N_RANKS] = {"best", "median", "worst"};

void examples_split_user_text(const char *stored, char *sentence, size_t sentence_len,
                              char *feeling, size_t feeling_len)
{
    const char *sep = NULL;
    for (const char *p = stored ? strstr(stored, " ;; ") : NULL; p; p = strstr(p + 1, " ;; "))
        sep = p;
    if (!sep) {
        snprintf(sentence, sentence_len, "%s", stored ? stored : "");
        snprintf(feeling, feeling_len, "%s", "");
        return;
    }
    snprintf(sentence, sentence_len, "%.*s", (int)(sep - stored), stored);
    snprintf(feeling, feeling_len, "%s", sep + 4);
}

/* The reason a judge gave: a run step's own (offline), or the reward's detail's
 * {"reason": "..."} (live). */
static json_t *reason_of(const char *step_reason, const char *detail)
{
    if (step_reason && *step_reason)
        return json_string(step_reason);
    json_t *d = detail ? json_loads(detail, 0, NULL) : NULL;
    json_t *r = json_object_get(d, "reason");
    json_t *out = json_is_string(r) ? json_string(json_string_value(r)) : json_null();
    json_decref(d);
    return out;
}

static json_t *example_json(int rank, const struct dashq_example *x, int offline)
{
    char sentence[TEXT_MAX], feeling[128];
    if (offline) {
        snprintf(sentence, sizeof sentence, "%s", x->user_text ? x->user_text : "");
        snprintf(feeling, sizeof feeling, "%s", x->segment);
    } else {
        examples_split_user_text(x->user_text, sentence, sizeof sentence, feeling, sizeof feeling);
    }
    return json_pack("{s:s, s:I, s:o, s:f, s:s, s:f, s:s, s:s, s:s, s:s, s:o}", "rank",
                     rank_names[rank], offline ? "iteration" : "reward_id",
                     (json_int_t)x->reward_id, "impression_id",
                     offline ? json_null() : json_integer(x->impression_id), "value", x->value,
                     "source", x->source, "created_at", x->created_at, "user_text", sentence,
                     "emotion", feeling, "segment", offline ? "" : x->segment, "answer",
                     x->answer ? x->answer : "", "reason", reason_of(x->reason, x->detail_json));
}

/* Appends x to list unless an earlier rank showed the same answer. */
static void add_unique(json_t *list, int64_t *seen, int rank, const struct dashq_example *x,
                       int offline)
{
    for (int r = 0; r < rank; r++)
        if (seen[r] == x->reward_id)
            return;
    seen[rank] = x->reward_id;
    json_array_append_new(list, example_json(rank, x, offline));
}

/* ---- live: the bins of the cache ---- */

struct pick {
    int64_t arm_id, rated;
    int64_t newest[N_RANKS];
    size_t bin[N_RANKS];
};

struct live_ctx {
    const struct arm *arms;
    size_t n_arms;
    struct pick *picks;
};

/* Under the cache's lock: per arm the bins of the best, median and worst answered rewards and
 * the newest reward of each (the SQL runs after the lock is released). */
static pb_status pick_bins(void *ctx, const struct dashcache_view *v, struct dashcache_memo *memo,
                           char *err)
{
    struct live_ctx *c = ctx;
    (void)memo;
    (void)err;
    for (size_t i = 0; i < c->n_arms; i++) {
        struct pick *p = &c->picks[i];
        size_t ci = dashcache_arm_index(v, c->arms[i].id);
        p->arm_id = c->arms[i].id;
        if (ci == SIZE_MAX)
            continue;
        const struct dashcache_arm *a = &v->arms[ci];
        int64_t total = 0, seen = 0;
        for (size_t b = 0; b < DASHCACHE_BINS; b++)
            total += a->answered[b];
        p->rated = total;
        for (size_t b = 0; b < DASHCACHE_BINS && total; b++) {
            if (!a->answered[b])
                continue;
            if (!p->newest[RANK_WORST])
                p->bin[RANK_WORST] = b, p->newest[RANK_WORST] = a->newest[b];
            p->bin[RANK_BEST] = b, p->newest[RANK_BEST] = a->newest[b];
            if (seen < (total + 1) / 2 && seen + a->answered[b] >= (total + 1) / 2)
                p->bin[RANK_MEDIAN] = b, p->newest[RANK_MEDIAN] = a->newest[b];
            seen += a->answered[b];
        }
    }
    return PB_OK;
}

static pb_status live_arm_json(store *s, const struct store_experiment *e, const struct pick *p,
                               json_t *list, char *err)
{
    int64_t seen[N_RANKS] = {-1, -1, -1};
    for (int r = 0; r < N_RANKS; r++) {
        struct dashq_example x;
        double lo, hi;
        if (!p->newest[r])
            continue;
        dashcache_bin_range(p->bin[r], &lo, &hi);
        int found = dashq_example_find(s, e->id, p->arm_id, lo, hi, p->newest[r], &x, err);
        if (found < 0)
            return found;
        if (found)
            add_unique(list, seen, r, &x, 0);
        dashq_example_clear(&x);
    }
    return PB_OK;
}

/* ---- offline: the run's scored steps ---- */

static pb_status offline_arm_json(store *s, int64_t run_id, int64_t arm_id, int64_t *rated,
                                  json_t *list, char *err)
{
    int64_t seen[N_RANKS] = {-1, -1, -1}, lo = 0;
    struct dashq_example x;
    int found;
    pb_status rc = dashq_run_rated(s, run_id, arm_id, &lo, err);
    if (rc != PB_OK)
        return rc;
    /* Rank n - 1 is the best, 0 the worst, (n - 1) / 2 the median. */
    *rated = lo;
    int64_t ranks[N_RANKS] = {lo - 1, (lo - 1) / 2, 0};
    for (int r = 0; r < N_RANKS && lo > 0; r++) {
        if ((found = dashq_run_example(s, run_id, arm_id, ranks[r], &x, err)) < 0)
            return found;
        if (found)
            add_unique(list, seen, r, &x, 1);
        dashq_example_clear(&x);
    }
    return PB_OK;
}

pb_status examples_turn_json(store *s, int64_t impression_id, json_t **out, char *err)
{
    struct dashq_example x;
    char sentence[TEXT_MAX], feeling[128];
    *out = NULL;
    int found = dashq_turn_of(s, impression_id, &x, err);
    if (found < 0)
        return found;
    if (found == 0)
        return pb_errf(err, PB_ERR_NOT_FOUND, "impression %lld does not exist",
                       (long long)impression_id);
    examples_split_user_text(x.user_text, sentence, sizeof sentence, feeling, sizeof feeling);
    json_t *ctx = x.context_json ? json_loads(x.context_json, 0, NULL) : NULL;
    json_t *emotions = json_object_get(ctx, "emotions");
    *out = json_pack("{s:I, s:b, s:o, s:s, s:o, s:s, s:o, s:f}", "impression_id",
                     (json_int_t)x.impression_id, "stored", x.answer != NULL, "user_text",
                     x.user_text ? json_string(sentence) : json_null(), "emotion", feeling,
                     "emotions", json_is_array(emotions) ? json_incref(emotions) : json_array(),
                     "segment", x.segment, "answer", x.answer ? json_string(x.answer) : json_null(),
                     "created_at", x.created_at);
    json_decref(ctx);
    dashq_example_clear(&x);
    return *out ? PB_OK : pb_errf(err, PB_ERR_NOMEM, "out of memory reading a turn");
}

pb_status examples_json(app *a, store *s, const struct store_experiment *e, json_t **out, char *err)
{
    struct arm *arms = NULL;
    size_t n = 0;
    struct pick *picks = NULL;
    struct decide_arm *labels = NULL;
    int offline = strcmp(e->kind, "offline") == 0;
    int64_t run_id = 0;
    json_t *list = json_array();
    *out = NULL;
    pb_status rc = list ? arms_list(s, e->id, 1, &arms, &n, err) : PB_ERR_NOMEM;
    if (rc == PB_OK && (!(picks = calloc(n ? n : 1, sizeof *picks)) ||
                        !(labels = calloc(n ? n : 1, sizeof *labels))))
        rc = PB_ERR_NOMEM;
    for (size_t i = 0; rc == PB_OK && i < n; i++)
        labels[i] = (struct decide_arm){.name = arms[i].name, .version = arms[i].version};
    if (rc == PB_OK && offline)
        rc = runview_run_of(s, e->id, &run_id, err);
    struct live_ctx ctx = {arms, n, picks};
    if (rc == PB_OK && !offline)
        rc = dashcache_read(app_dashcache(a), s, e->id, pick_bins, &ctx, err);
    for (size_t i = 0; rc == PB_OK && i < n; i++) {
        json_t *ex = json_array();
        char label[32];
        decide_label(labels, n, i, label);
        if (!ex) {
            rc = PB_ERR_NOMEM;
            break;
        }
        rc = offline ? offline_arm_json(s, run_id, arms[i].id, &picks[i].rated, ex, err)
                     : live_arm_json(s, e, &picks[i], ex, err);
        if (rc == PB_OK && (arms[i].retired_at <= 0 || picks[i].rated > 0))
            json_array_append_new(list, json_pack("{s:I, s:s, s:I, s:o}", "id",
                                                  (json_int_t)arms[i].id, "label", label, "rated",
                                                  (json_int_t)picks[i].rated, "examples", ex));
        else
            json_decref(ex);
    }
    if (rc == PB_ERR_NOMEM)
        pb_errf(err, rc, "out of memory listing examples");
    if (rc == PB_OK && !(*out = json_pack("{s:s, s:s, s:O}", "experiment", e->name, "kind", e->kind,
                                          "arms", list)))
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory listing examples");
    json_decref(list);
    free(picks);
    free(labels);
    arms_list_free(arms, n);
    return rc;
}
