/* evolve.c — the evolve loop: a state machine over the generations stored in store/lineage
 * (proposed -> screening -> decided), each screen an ordinary offline run stopped by the GLR
 * rule, each verdict computed from the screen's stored steps so that a resume decides exactly
 * as an uninterrupted evolve would. Prints nothing; SQL only through store/. */
#include "offline/evolve.h"

#include "bandit/glr.h"
#include "judge/propose.h"
#include "judge/ratings.h"
#include "llm/llm.h"
#include "offline/runplan.h"
#include "offline/runrecord.h"
#include "offline/task.h"
#include "store/arms.h"
#include "store/lineage.h"
#include "store/runs.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- the evolve's record ---- */

struct evolve_config {
    json_t *root; /* owns the strings below */
    int generations, propose;
    long iterations, calls;
    double stop;
    const char *work_dir, *meta, *policy;
    int64_t seed_run;
    uint64_t seed;
};

static pb_status evolve_config_load(store *db, int64_t id, struct evolve_config *c, char *err)
{
    struct run *r = NULL;
    json_error_t je;
    json_int_t gens = 0, prop = 0, iters = 0, calls = 0, seed_run = 0, seed = 0;
    memset(c, 0, sizeof *c);
    pb_status rc = runs_get(db, id, &r, err);
    if (rc != PB_OK)
        return rc;
    if (strcmp(r->kind, "evolve") != 0 || !r->config_json ||
        !(c->root = json_loads(r->config_json, 0, &je)) ||
        json_unpack(c->root, "{s:I, s:I, s:I, s:I, s:F, s:s, s:s, s:s, s:I, s:I}", "generations",
                    &gens, "propose", &prop, "iterations", &iters, "calls", &calls,
                    "stop_identified", &c->stop, "work_dir", &c->work_dir, "meta", &c->meta,
                    "policy", &c->policy, "seed_run", &seed_run, "seed", &seed) != 0)
        rc = pb_errf(err, PB_ERR_INVALID, "run %lld is not a bandit-run evolve", (long long)id);
    c->generations = (int)gens;
    c->propose = (int)prop;
    c->iterations = (long)iters;
    c->calls = (long)calls;
    c->seed_run = seed_run;
    c->seed = (uint64_t)seed;
    runs_list_free(r, 1);
    return rc;
}

pb_status evolve_screen_options(store *db, int64_t evolve_id, struct offline_options *opt,
                                void **owner, char *err)
{
    struct evolve_config c;
    pb_status rc = evolve_config_load(db, evolve_id, &c, err);
    if (rc == PB_OK)
        rc = runrecord_load(db, c.seed_run, opt, owner, err);
    json_decref(c.root);
    return rc;
}

static pb_status make_dir(const char *path, char *err)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return pb_errf(err, PB_ERR_IO, "creating %s: %s", path, strerror(errno));
    return PB_OK;
}

static pb_status write_prompt(const char *dir, const char *name, const char *text, char *err)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s.txt", dir, name) >= sizeof path)
        return pb_errf(err, PB_ERR_INVALID, "path too long: %s/%s.txt", dir, name);
    return pb_write_file_atomic(path, text, strlen(text), err);
}

/* The seed of generation g's screen: unrelated streams per generation, fixed by the seed. */
static uint64_t screen_seed(uint64_t seed, long g)
{
    uint64_t s = task_mix64(seed ^ task_mix64((uint64_t)g + 0x9e37u));
    return s ? s : 1;
}

/* The calls a screen made gets: what is left shared by the screens still to come. */
static long screen_share(long total, long spent, long screens_left)
{
    if (total <= 0)
        return 0;
    long share = (total - spent) / (screens_left > 0 ? screens_left : 1);
    return share < 2 ? 2 : share;
}

pb_status evolve_create(store *db, const struct evolve_options *o, int64_t *evolve_id, char *err)
{
    struct task task;
    struct arm *arms = NULL;
    size_t n = 0;
    char pool[4096];
    json_t *cfg = NULL;
    char *text = NULL;
    int64_t seed_run = 0;
    if (o->generations < 1 || o->generations > 1000)
        return pb_errf(err, PB_ERR_INVALID, "--generations must be between 1 and 1000, got %d",
                       o->generations);
    if (o->propose < 1 || o->propose > 20)
        return pb_errf(err, PB_ERR_INVALID, "--propose must be between 1 and 20, got %d",
                       o->propose);
    if (!o->work_dir || !*o->work_dir || !o->meta_prompt)
        return pb_errf(err, PB_ERR_INVALID, "evolve needs a work folder (--out DIR)");
    if (!(o->screen.stop_confidence > 0))
        return pb_errf(err, PB_ERR_INVALID, "evolve screens need --stop identified[:C]");
    pb_status rc = runplan_prepare(&o->screen, &task, &arms, &n, err);
    if (rc != PB_OK)
        return rc;
    snprintf(pool, sizeof pool, "%s/pool", o->work_dir);
    rc = make_dir(o->work_dir, err);
    if (rc == PB_OK)
        rc = make_dir(pool, err);
    for (size_t i = 0; rc == PB_OK && i < n; i++)
        rc = write_prompt(pool, arms[i].name, arms[i].prompt, err);
    /* the seed screen: identification among 2+ seeds, a few answers of a lone one */
    struct offline_options seed = o->screen;
    seed.name = "evolve-seed-screen";
    seed.seed = screen_seed(o->screen.seed, 0);
    seed.budget = (struct offline_budget){
        .calls = screen_share(o->screen.budget.calls, 0, o->generations + 1)};
    if (n < 2) {
        seed.policy = "ucb1";
        seed.stop_confidence = 0;
        seed.iterations = EVOLVE_SEED_STEPS;
    }
    if (rc == PB_OK)
        rc = runrecord_create(db, &seed, &seed_run, err);
    if (rc == PB_OK) {
        cfg = json_pack(
            "{s:i, s:i, s:I, s:I, s:f, s:s, s:s, s:s, s:I, s:I}", "generations", o->generations,
            "propose", o->propose, "iterations", (json_int_t)o->screen.iterations, "calls",
            (json_int_t)o->screen.budget.calls, "stop_identified", o->screen.stop_confidence,
            "work_dir", o->work_dir, "meta", o->meta_prompt, "policy", o->screen.policy, "seed_run",
            (json_int_t)seed_run, "seed", (json_int_t)o->screen.seed);
        text = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL;
        rc = text ? runs_create(db, o->screen.name ? o->screen.name : "evolve", "evolve", text,
                                evolve_id, err)
                  : pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    if (rc == PB_OK) {
        struct lineage_generation g = {
            .evolve_run_id = *evolve_id, .screen_run_id = seed_run, .status = "screening"};
        rc = lineage_generation_put(db, &g, err);
    }
    for (size_t i = 0; rc == PB_OK && i < n; i++) {
        struct lineage_prompt p = {
            .evolve_run_id = *evolve_id, .prompt = arms[i].prompt, .verdict = "pending"};
        snprintf(p.name, sizeof p.name, "%s", arms[i].name);
        rc = lineage_prompt_put(db, &p, err);
    }
    json_decref(cfg);
    free(text);
    arms_list_free(arms, n);
    task_free(&task);
    return rc;
}

/* ---- a screen's evidence ---- */

struct tally {
    struct arm *arms;
    size_t n;
    double *count, *sum;
    long calls;
    char *err;
};

static int tally_step(void *ctx, const struct run_step *st)
{
    struct tally *t = ctx;
    t->calls += (long)st->calls;
    if (strcmp(st->status, "ok") != 0)
        return 0;
    for (size_t a = 0; a < t->n; a++)
        if (t->arms[a].id == st->arm_id) {
            t->count[a] += 1;
            t->sum[a] += fmin(GLR_REWARD_HI, fmax(GLR_REWARD_LO, st->score));
        }
    return 0;
}

static void tally_free(struct tally *t)
{
    arms_list_free(t->arms, t->n);
    free(t->count);
    free(t->sum);
    memset(t, 0, sizeof *t);
}

/* Per-arm rewards and the calls of screen run_id. Caller frees with tally_free. */
static pb_status tally_screen(store *db, int64_t run_id, struct tally *t, char *err)
{
    struct run *r = NULL;
    memset(t, 0, sizeof *t);
    t->err = err;
    pb_status rc = runs_get(db, run_id, &r, err);
    if (rc == PB_OK)
        rc = runrecord_arms(db, r, 1, &t->arms, &t->n, err);
    if (rc == PB_OK && (!(t->count = calloc(t->n + 1, sizeof *t->count)) ||
                        !(t->sum = calloc(t->n + 1, sizeof *t->sum))))
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc == PB_OK)
        rc = runs_step_foreach(db, run_id, tally_step, t, err);
    runs_list_free(r, 1);
    return rc;
}

/* Provider calls spent so far: proposals and every screen's steps. */
static pb_status spent_calls(store *db, const struct lineage_generation *gens, size_t n,
                             long *spent, char *err)
{
    *spent = 0;
    for (size_t i = 0; i < n; i++) {
        *spent += gens[i].propose_calls;
        if (!gens[i].screen_run_id)
            continue;
        struct tally t;
        pb_status rc = tally_screen(db, gens[i].screen_run_id, &t, err);
        *spent += t.calls;
        tally_free(&t);
        if (rc != PB_OK)
            return rc;
    }
    return PB_OK;
}

static double unit(double reward)
{
    return (reward - GLR_REWARD_LO) / (GLR_REWARD_HI - GLR_REWARD_LO);
}

/* The verdict of generation g from its screen's stored steps: the GLR rule of glr.h over the
 * screen's arms; a candidate leading and identified is admitted, a candidate the leader is
 * separated from is retired (also in the screen's experiment). */
static pb_status decide(store *db, const struct evolve_config *c, struct lineage_generation *g,
                        char *err)
{
    struct tally t;
    struct lineage_prompt *rows = NULL;
    struct glr_arm *view = NULL;
    size_t n_rows = 0;
    pb_status rc = tally_screen(db, g->screen_run_id, &t, err);
    if (rc == PB_OK)
        rc = lineage_prompts(db, g->evolve_run_id, g->generation, &rows, &n_rows, err);
    if (rc == PB_OK && !(view = calloc(t.n + 1, sizeof *view)))
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc != PB_OK)
        goto cleanup;
    double total = 0;
    for (size_t a = 0; a < t.n; a++) {
        view[a] = (struct glr_arm){t.count[a] ? t.sum[a] / t.count[a] : 0, t.count[a], 1};
        total += t.count[a];
    }
    struct glr_verdict v = {0};
    int have_verdict = t.n >= 2 && total > 0 &&
                       glr_verdict_of(view, t.n, GLR_REWARD_LO, GLR_REWARD_HI, 1 - c->stop,
                                      GLR_MIN_REWARDS, &v, err) == PB_OK;
    size_t leader = have_verdict ? v.leader : 0;
    if (!have_verdict) /* one arm, or no rewards: the best mean among those with rewards */
        for (size_t a = 1; a < t.n; a++)
            if (t.count[a] && (!t.count[leader] || view[a].mean > view[leader].mean))
                leader = a;
    const char *lead_name = t.n ? t.arms[leader].name : g->incumbent;
    int seed_gen = g->generation == 0;
    int admitted = !seed_gen && have_verdict && v.separated && strcmp(lead_name, g->incumbent);
    g->identified = have_verdict && v.separated;
    snprintf(g->winner, sizeof g->winner, "%s",
             seed_gen || admitted || !*g->incumbent ? lead_name : g->incumbent);
    for (size_t i = 0; i < n_rows; i++) {
        struct lineage_prompt *p = &rows[i];
        size_t a = t.n;
        for (size_t k = 0; k < t.n; k++)
            if (!strcmp(t.arms[k].name, p->name))
                a = k;
        const char *verdict = "undecided";
        if (a < t.n) {
            p->samples = (long)t.count[a];
            p->mean = view[a].mean;
            p->threshold = have_verdict ? v.threshold : 0;
            p->glr = a == leader ? 0
                                 : glr_pair(unit(view[leader].mean), t.count[leader],
                                            unit(view[a].mean), t.count[a]);
        }
        /* identified: the rule separated the leader from every other arm; otherwise an arm is
         * separated when its own GLR passes with enough rewards on both sides */
        int separated = have_verdict && a < t.n && a != leader &&
                        (v.separated || (p->glr > v.threshold && t.count[a] >= GLR_MIN_REWARDS &&
                                         t.count[leader] >= GLR_MIN_REWARDS));
        if (seed_gen)
            verdict = a == leader ? "incumbent" : separated ? "retired" : "undecided";
        else if (!strcmp(p->name, g->incumbent))
            verdict = admitted ? "superseded" : "kept";
        else if (admitted && a == leader)
            verdict = "admitted";
        else if (separated)
            verdict = "retired";
        snprintf(p->verdict, sizeof p->verdict, "%s", verdict);
        if (!strcmp(verdict, "retired")) {
            char ignored[PB_ERR_LEN];
            arms_retire(db, t.arms[a].id, ignored); /* already retired: nothing to do */
        }
    }
    rc = store_begin(db, err);
    for (size_t i = 0; rc == PB_OK && i < n_rows; i++)
        rc = lineage_prompt_put(db, &rows[i], err);
    snprintf(g->status, sizeof g->status, "decided");
    if (rc == PB_OK)
        rc = lineage_generation_put(db, g, err);
    rc = store_end(db, rc, err);
cleanup:
    free(view);
    lineage_prompts_free(rows, n_rows);
    tally_free(&t);
    return rc;
}

/* ---- proposals and screens ---- */

static int rated_step(void *ctx, const struct run_step *st)
{
    struct ratings_set *r = ctx;
    if (strcmp(st->status, "ok") != 0 || !st->output || !*st->output)
        return 0;
    struct ratings_item *grown = realloc(r->items, (r->n + 1) * sizeof *grown);
    if (!grown)
        return PB_ERR_NOMEM;
    r->items = grown;
    struct ratings_item *it = &r->items[r->n];
    *it = (struct ratings_item){.rate = st->score, .line = st->iteration + 1};
    if (!(it->text = strdup(st->output)))
        return PB_ERR_NOMEM;
    r->n++; /* counted now: ratings_free frees the text if the reason's copy fails */
    if (st->reason && *st->reason && !(it->reason = strdup(st->reason)))
        return PB_ERR_NOMEM;
    return 0;
}

/* The prompt text of name in generation gen's records; caller frees. */
static pb_status prompt_of(store *db, int64_t id, long gen, const char *name, char **text,
                           char *err)
{
    struct lineage_prompt *rows = NULL;
    size_t n = 0;
    *text = NULL;
    pb_status rc = lineage_prompts(db, id, gen, &rows, &n, err);
    for (size_t i = 0; rc == PB_OK && i < n && !*text; i++)
        if (!strcmp(rows[i].name, name) && !(*text = strdup(rows[i].prompt)))
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc == PB_OK && !*text)
        rc = pb_errf(err, PB_ERR_NOT_FOUND, "evolve %lld: no prompt %s in generation %ld",
                     (long long)id, name, gen);
    lineage_prompts_free(rows, n);
    return rc;
}

/* File name without folder and ".txt". */
static void base_name(const char *path, char *out, size_t len)
{
    const char *slash = strrchr(path, '/');
    snprintf(out, len, "%s", slash ? slash + 1 : path);
    size_t n = strlen(out);
    if (n > 4 && !strcmp(out + n - 4, ".txt"))
        out[n - 4] = '\0';
}

/* Asks for the candidates of generation prev->generation + 1 from the incumbent and the rated
 * answers of the newest screen, and records them. When the provider failed, *failure gets the
 * failure kind's name, nothing is recorded and PB_OK is returned. */
static pb_status propose(const struct offline_env *env, const struct evolve_config *c,
                         const struct lineage_generation *gens, size_t n_gens, const char **failure,
                         char *err)
{
    const struct lineage_generation *prev = &gens[n_gens - 1];
    struct ratings_set rated = {0};
    struct propose_result res = {0};
    struct llm_usage before = {0}, after = {0};
    char *base = NULL, *meta = NULL, pool[4096];
    int64_t screen = 0;
    for (size_t i = n_gens; i-- > 0 && !screen;)
        screen = gens[i].screen_run_id;
    pb_status rc =
        prompt_of(env->db, prev->evolve_run_id, prev->generation, prev->winner, &base, err);
    if (rc == PB_OK)
        rc = pb_read_file(c->meta, 1 << 20, &meta, NULL, err);
    if (rc == PB_OK) {
        int walk = runs_step_foreach(env->db, screen, rated_step, &rated, err);
        if (walk != PB_OK)
            rc = walk < 0 ? walk : pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    if (rc != PB_OK)
        goto cleanup;
    snprintf(pool, sizeof pool, "%s/pool", c->work_dir);
    struct propose_request req = {base, &rated, 3, c->propose, meta, pool};
    llm_usage_get(env->llm, &before);
    rc = propose_prompts(env->llm, &req, &res, err);
    llm_usage_get(env->llm, &after);
    if (rc == PB_ERR_PROVIDER || rc == PB_ERR_UNAVAILABLE || rc == PB_ERR_TIMEOUT ||
        rc == PB_ERR_LIMIT || rc == PB_ERR_FORBIDDEN) {
        /* the provider failed: the evolve stops saying how; a resume asks again */
        *failure = offline_failure_name(offline_failure_of(rc, err));
        rc = PB_OK;
        goto cleanup;
    }
    if (rc != PB_OK)
        goto cleanup;
    struct lineage_generation g = {.evolve_run_id = prev->evolve_run_id,
                                   .generation = prev->generation + 1,
                                   .propose_calls = after.calls - before.calls,
                                   .status = "proposed"};
    snprintf(g.incumbent, sizeof g.incumbent, "%s", prev->winner);
    rc = store_begin(env->db, err);
    struct lineage_prompt p = {.evolve_run_id = g.evolve_run_id,
                               .generation = g.generation,
                               .prompt = base,
                               .verdict = "pending"};
    snprintf(p.name, sizeof p.name, "%s", prev->winner);
    if (rc == PB_OK)
        rc = lineage_prompt_put(env->db, &p, err);
    for (size_t i = 0; rc == PB_OK && i < res.n_written; i++) {
        char *text = NULL;
        rc = pb_read_file(res.written[i], 1 << 20, &text, NULL, err);
        base_name(res.written[i], p.name, sizeof p.name);
        snprintf(p.parent, sizeof p.parent, "%s", prev->winner);
        p.prompt = text;
        if (rc == PB_OK)
            rc = lineage_prompt_put(env->db, &p, err);
        free(text);
    }
    if (rc == PB_OK)
        rc = lineage_generation_put(env->db, &g, err);
    rc = store_end(env->db, rc, err);
cleanup:
    propose_result_free(&res);
    ratings_free(&rated);
    free(base);
    free(meta);
    return rc;
}

/* Makes generation g's screen: the incumbent and its candidates as the arm files of
 * WORK/gen-G, an offline run with the seed screen's options and this screen's share of the
 * budget. A generation without candidates is decided at once (the incumbent stays). */
static pb_status make_screen(store *db, const struct evolve_config *c, struct lineage_generation *g,
                             long spent, char *err)
{
    struct lineage_prompt *rows = NULL;
    struct offline_options o;
    void *owner = NULL;
    size_t n = 0;
    char dir[4096], name[96];
    pb_status rc = lineage_prompts(db, g->evolve_run_id, g->generation, &rows, &n, err);
    if (rc == PB_OK && n < 2) {
        snprintf(g->status, sizeof g->status, "decided");
        snprintf(g->winner, sizeof g->winner, "%s", g->incumbent);
        rc = lineage_generation_put(db, g, err);
        goto cleanup;
    }
    snprintf(dir, sizeof dir, "%s/gen-%ld", c->work_dir, g->generation);
    if (rc == PB_OK)
        rc = make_dir(dir, err);
    for (size_t i = 0; rc == PB_OK && i < n; i++)
        rc = write_prompt(dir, rows[i].name, rows[i].prompt, err);
    if (rc == PB_OK)
        rc = runrecord_load(db, c->seed_run, &o, &owner, err);
    if (rc != PB_OK)
        goto cleanup;
    snprintf(name, sizeof name, "evolve-%lld-gen-%ld", (long long)g->evolve_run_id, g->generation);
    o.name = name;
    o.prompts_dir = dir;
    o.policy = c->policy;
    o.stop_confidence = c->stop;
    o.iterations = c->iterations;
    o.seed = screen_seed(c->seed, g->generation);
    o.budget = (struct offline_budget){
        .calls = screen_share(c->calls, spent, c->generations - g->generation + 1)};
    rc = runrecord_create(db, &o, &g->screen_run_id, err);
    snprintf(g->status, sizeof g->status, "screening");
    if (rc == PB_OK)
        rc = lineage_generation_put(db, g, err);
cleanup:
    runrecord_release(owner);
    lineage_prompts_free(rows, n);
    return rc;
}

/* ---- the loop ---- */

static bool screen_finished(const char *reason)
{
    return !strcmp(reason, "completed") || !strcmp(reason, "budget") ||
           !strcmp(reason, "identified");
}

/* One step of the state machine on the newest generation; *reason set when the evolve stops. */
static pb_status advance(const struct offline_env *env, const struct evolve_config *c,
                         struct lineage_generation *gens, size_t n, long spent, const char **reason,
                         char *err)
{
    struct lineage_generation *g = &gens[n - 1];
    if (!strcmp(g->status, "screening")) {
        struct offline_result res;
        pb_status rc = offline_continue(env, g->screen_run_id, NULL, &res, err);
        if (rc != PB_OK)
            return rc;
        if (!screen_finished(res.stop_reason)) {
            static char kind[16];
            snprintf(kind, sizeof kind, "%s", res.stop_reason);
            *reason = kind;
            return PB_OK;
        }
        return decide(env->db, c, g, err);
    }
    if (!strcmp(g->status, "proposed"))
        return make_screen(env->db, c, g, spent, err);
    if (g->generation >= c->generations) {
        *reason = "completed";
        return PB_OK;
    }
    if (c->calls > 0 && c->calls - spent < 3) { /* a proposal and one step at least */
        *reason = "budget";
        return PB_OK;
    }
    return propose(env, c, gens, n, reason, err);
}

static void count_verdicts(store *db, int64_t id, struct evolve_result *out)
{
    struct lineage_prompt *rows = NULL;
    size_t n = 0;
    char err[PB_ERR_LEN];
    if (lineage_prompts(db, id, -1, &rows, &n, err) != PB_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        out->admitted += !strcmp(rows[i].verdict, "admitted");
        out->retired += !strcmp(rows[i].verdict, "retired");
    }
    lineage_prompts_free(rows, n);
}

/* The incumbent's arm in the newest screen (for `bandit-run list`); 0 when none. */
static int64_t incumbent_arm(store *db, const struct lineage_generation *gens, size_t n,
                             const char *name)
{
    for (size_t i = n; i-- > 0;) {
        struct run *r = NULL;
        struct arm a = {0};
        char err[PB_ERR_LEN];
        if (!gens[i].screen_run_id || runs_get(db, gens[i].screen_run_id, &r, err) != PB_OK)
            continue;
        int64_t id = arms_find(db, r->experiment_id, name, &a, err) == PB_OK ? a.id : 0;
        arms_clear(&a);
        runs_list_free(r, 1);
        if (id)
            return id;
    }
    return 0;
}

pb_status evolve_continue(const struct offline_env *env, int64_t evolve_id,
                          struct evolve_result *out, char *err)
{
    struct evolve_config c;
    struct lineage_generation *gens = NULL;
    size_t n = 0;
    const char *reason = NULL;
    long spent = 0;
    memset(out, 0, sizeof *out);
    out->run_id = evolve_id;
    pb_status rc = evolve_config_load(env->db, evolve_id, &c, err);
    struct run *r = NULL;
    if (rc == PB_OK && (rc = runs_get(env->db, evolve_id, &r, err)) == PB_OK &&
        strcmp(r->status, "running") != 0)
        rc = runs_reopen(env->db, evolve_id, err);
    runs_list_free(r, 1);
    while (rc == PB_OK && !reason) {
        free(gens);
        gens = NULL;
        rc = lineage_generations(env->db, evolve_id, &gens, &n, err);
        if (rc == PB_OK && n == 0)
            rc = pb_errf(err, PB_ERR_INVALID, "evolve %lld has no generations",
                         (long long)evolve_id);
        if (rc == PB_OK)
            rc = spent_calls(env->db, gens, n, &spent, err);
        if (rc != PB_OK)
            break;
        if (env->stop && *env->stop) {
            reason = "signal";
            break;
        }
        rc = advance(env, &c, gens, n, spent, &reason, err);
    }
    if (rc != PB_OK)
        reason = "error";
    out->calls = spent;
    snprintf(out->stop_reason, sizeof out->stop_reason, "%s", reason);
    for (size_t i = n; i-- > 0 && gens;)
        if (gens[i].winner[0]) {
            snprintf(out->incumbent, sizeof out->incumbent, "%s", gens[i].winner);
            out->generations_done = (long)gens[i].generation;
            char *text = NULL, path[4096], ignored[PB_ERR_LEN];
            snprintf(path, sizeof path, "%s/best.txt", c.work_dir);
            if (prompt_of(env->db, evolve_id, gens[i].generation, gens[i].winner, &text, ignored) ==
                PB_OK)
                pb_write_file_atomic(path, text, strlen(text), ignored);
            free(text);
            break;
        }
    count_verdicts(env->db, evolve_id, out);
    const char *status = !strcmp(reason, "signal")                                   ? "interrupted"
                         : !strcmp(reason, "completed") || !strcmp(reason, "budget") ? "finished"
                                                                                     : "failed";
    char close_err[PB_ERR_LEN];
    pb_status crc =
        runs_close(env->db, evolve_id, status, reason,
                   gens ? incumbent_arm(env->db, gens, n, out->incumbent) : 0, close_err);
    if (rc == PB_OK && crc != PB_OK)
        rc = pb_errf(err, crc, "%s", close_err);
    free(gens);
    json_decref(c.root);
    return rc;
}

/* ---- the lineage report ---- */

pb_status evolve_report_markdown(store *db, int64_t evolve_id, FILE *out, char *err)
{
    struct evolve_config c;
    struct lineage_generation *gens = NULL;
    struct lineage_prompt *rows = NULL;
    size_t n = 0, n_rows = 0;
    long spent = 0;
    pb_status rc = evolve_config_load(db, evolve_id, &c, err);
    if (rc == PB_OK)
        rc = lineage_generations(db, evolve_id, &gens, &n, err);
    if (rc == PB_OK)
        rc = lineage_prompts(db, evolve_id, -1, &rows, &n_rows, err);
    if (rc == PB_OK)
        rc = spent_calls(db, gens, n, &spent, err);
    if (rc != PB_OK)
        goto cleanup;
    fprintf(out,
            "# Evolve %lld\n\n- generations: %d, %d candidates each, screened by %s until "
            "identified at %g %% confidence (GLR rule, docs/BANDITS.md)\n- provider calls: %ld "
            "of %ld (0 = no limit)\n- work folder: %s\n\n## Generations\n\n"
            "| generation | started from | screen run | proposal calls | status | identified | "
            "incumbent after |\n| --- | --- | --- | --- | --- | --- | --- |\n",
            (long long)evolve_id, c.generations, c.propose, c.policy, 100 * c.stop, spent, c.calls,
            c.work_dir);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "| %ld | %s | %lld | %ld | %s | %s | %s |\n", gens[i].generation,
                gens[i].incumbent[0] ? gens[i].incumbent : "(seeds)",
                (long long)gens[i].screen_run_id, gens[i].propose_calls, gens[i].status,
                gens[i].identified ? "yes" : "no", gens[i].winner[0] ? gens[i].winner : "-");
    fprintf(out,
            "\n## Lineage\n\n| generation | prompt | parent | verdict | rewards | mean | "
            "GLR vs leader | threshold |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < n_rows; i++)
        fprintf(out, "| %ld | %s | %s | %s | %ld | %+.3f | %.2f | %.2f |\n", rows[i].generation,
                rows[i].name, rows[i].parent[0] ? rows[i].parent : "-", rows[i].verdict,
                rows[i].samples, rows[i].mean, rows[i].glr, rows[i].threshold);
    fprintf(out, "\n## Prompts\n\n");
    for (size_t i = 0; i < n_rows; i++) {
        int first = 1;
        for (size_t k = 0; k < i; k++)
            first &= strcmp(rows[k].name, rows[i].name) != 0;
        int len = (int)strlen(rows[i].prompt);
        while (len > 0 && strchr(" \t\r\n", rows[i].prompt[len - 1]))
            len--;
        if (first)
            fprintf(out, "- **%s** (generation %ld, from %s): %.*s\n", rows[i].name,
                    rows[i].generation, rows[i].parent[0] ? rows[i].parent : "the seeds", len,
                    rows[i].prompt);
    }
cleanup:
    free(gens);
    lineage_prompts_free(rows, n_rows);
    json_decref(c.root);
    return rc;
}

pb_status evolve_lineage_json(store *db, int64_t evolve_id, json_t **out, char *err)
{
    struct evolve_config c;
    struct lineage_generation *gens = NULL;
    struct lineage_prompt *rows = NULL;
    size_t n = 0, n_rows = 0;
    *out = NULL;
    pb_status rc = evolve_config_load(db, evolve_id, &c, err);
    if (rc == PB_OK)
        rc = lineage_generations(db, evolve_id, &gens, &n, err);
    if (rc == PB_OK)
        rc = lineage_prompts(db, evolve_id, -1, &rows, &n_rows, err);
    json_t *g = json_array(), *p = json_array();
    for (size_t i = 0; rc == PB_OK && i < n; i++)
        json_array_append_new(
            g, json_pack("{s:I, s:s, s:I, s:I, s:s, s:b, s:s}", "generation",
                         (json_int_t)gens[i].generation, "incumbent", gens[i].incumbent,
                         "screen_run_id", (json_int_t)gens[i].screen_run_id, "propose_calls",
                         (json_int_t)gens[i].propose_calls, "status", gens[i].status, "identified",
                         gens[i].identified, "winner", gens[i].winner));
    for (size_t i = 0; rc == PB_OK && i < n_rows; i++)
        json_array_append_new(p, json_pack("{s:I, s:s, s:s, s:s, s:I, s:f, s:f, s:f, s:s}",
                                           "generation", (json_int_t)rows[i].generation, "name",
                                           rows[i].name, "parent", rows[i].parent, "verdict",
                                           rows[i].verdict, "samples", (json_int_t)rows[i].samples,
                                           "mean", rows[i].mean, "glr", rows[i].glr, "threshold",
                                           rows[i].threshold, "prompt", rows[i].prompt));
    if (rc == PB_OK && !(*out = json_pack("{s:I, s:o, s:o}", "evolve_id", (json_int_t)evolve_id,
                                          "generations", g, "prompts", p)))
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
    if (rc != PB_OK && !*out) {
        json_decref(g);
        json_decref(p);
    }
    free(gens);
    lineage_prompts_free(rows, n_rows);
    json_decref(c.root);
    return rc;
}
