/* bandit.c — the bandit policies at work: select, observe/forget and statistics. Owns the
 * per-arm sums and the caches that keep select O(K) without allocation (scores scratch, log t,
 * 1/sqrt n, the SW-UCB ring). Spec text and parameter ranges are policyspec.c's. Must not do
 * I/O or keep global state; all randomness comes from the caller's gsl_rng. */
#include "bandit/bandit.h"

#include "bandit/pbest.h"
#include "bandit/policyspec.h"
#include "base/pb.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARMS 1000000

struct bandit_arm {
    uint64_t n;        /* observations, all time */
    double sum, sumsq; /* of rewards on [-1, 1] */
    double mean01;     /* (mean + 1) / 2, cached for the UCB indices */
    double inv_sqrt_n; /* 1 / sqrt(n), cached */
    double wn, wsum;   /* D-UCB: discounted count and sum; SW-UCB: in-window count and sum */
    int active;
};

struct window_entry {
    size_t arm;
    double reward;
};

struct bandit {
    bandit_policy policy;
    struct bandit_arm *arms;
    double *score; /* scratch for select, one slot per arm */
    size_t n_arms, cap, n_active;
    uint64_t min_pulls; /* max(1, burnin), or burnin with prior=1: below this an arm counts as
                           unplayed */
    uint64_t total;     /* observations over all arms */
    double d_total;     /* D-UCB: discounted observation count */
    struct window_entry *ring;
    size_t ring_head, ring_len; /* oldest entry, entries held */
    uint64_t log_at;            /* total at which log_t was computed */
    double log_t;
    /* Thompson propensities: p_best[i] is P(arm i's draw wins) in the state numbered
     * p_version[i]; every change of state takes a new number. post is scratch for pbest. */
    uint64_t version;
    double *p_best;
    uint64_t *p_version;
    struct pbest_arm *post;
    struct pbest_table *tables; /* thompson-beta: one CDF table per arm */
};

/* ---- life cycle and arms --------------------------------------------------------------- */

static pb_status no_arm(const bandit *b, size_t arm, char *err)
{
    return pb_errf(err, PB_ERR_INVALID, "no arm %zu (the bandit has %zu)", arm, b->n_arms);
}

static pb_status grow(bandit *b, size_t need, char *err)
{
    if (need <= b->cap)
        return PB_OK;
    size_t cap = b->cap ? b->cap : 4;
    while (cap < need)
        cap *= 2;
    struct bandit_arm *arms = realloc(b->arms, cap * sizeof *arms);
    if (!arms)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory for %zu arms", cap);
    b->arms = arms;
    double *score = realloc(b->score, cap * sizeof *score);
    if (!score)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory for %zu arms", cap);
    b->score = score;
    bandit_kind k = b->policy.kind;
    if (k == BANDIT_THOMPSON || k == BANDIT_THOMPSON_BETA) {
        double *p_best = realloc(b->p_best, cap * sizeof *p_best);
        if (p_best)
            b->p_best = p_best;
        uint64_t *p_version = p_best ? realloc(b->p_version, cap * sizeof *p_version) : NULL;
        if (p_version)
            b->p_version = p_version;
        struct pbest_arm *post = p_version ? realloc(b->post, cap * sizeof *post) : NULL;
        if (post)
            b->post = post;
        struct pbest_table *tables = NULL;
        if (post && k == BANDIT_THOMPSON_BETA &&
            (tables = realloc(b->tables, cap * sizeof *tables)))
            b->tables = tables;
        if (!post || (k == BANDIT_THOMPSON_BETA && !tables))
            return pb_errf(err, PB_ERR_NOMEM, "out of memory for %zu arms", cap);
    }
    b->cap = cap;
    return PB_OK;
}

pb_status bandit_new(const bandit_policy *policy, size_t n_arms, bandit **out, char *err)
{
    *out = NULL;
    if (n_arms > MAX_ARMS)
        return pb_errf(err, PB_ERR_INVALID, "%zu arms is more than the limit of %d", n_arms,
                       MAX_ARMS);
    pb_status rc = policyspec_check(policy, err);
    if (rc != PB_OK)
        return rc;
    bandit *b = calloc(1, sizeof *b);
    if (!b)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    b->policy = *policy;
    b->min_pulls = policy->burnin >= 1 ? (uint64_t)policy->burnin : policy->prior ? 0 : 1;
    rc = grow(b, n_arms, err);
    if (rc != PB_OK)
        goto fail;
    if (policy->kind == BANDIT_SWUCB) {
        b->ring = malloc((size_t)policy->window * sizeof *b->ring);
        if (!b->ring) {
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory for a window of %ld", policy->window);
            goto fail;
        }
    }
    for (size_t i = 0; i < n_arms && rc == PB_OK; i++)
        rc = bandit_add_arm(b, NULL, err);
    if (rc != PB_OK)
        goto fail;
    *out = b;
    return PB_OK;
fail:
    bandit_free(b);
    return rc;
}

void bandit_free(bandit *b)
{
    if (!b)
        return;
    free(b->arms);
    free(b->score);
    free(b->ring);
    free(b->p_best);
    free(b->p_version);
    free(b->post);
    free(b->tables);
    free(b);
}

static void arm_clear(struct bandit_arm *a)
{
    int active = a->active;
    *a = (struct bandit_arm){.active = active};
}

void bandit_reset(bandit *b)
{
    for (size_t i = 0; i < b->n_arms; i++)
        arm_clear(&b->arms[i]);
    b->total = 0;
    b->d_total = 0;
    b->ring_head = b->ring_len = 0;
    b->log_at = 0;
    b->log_t = 0;
    b->version++;
}

pb_status bandit_add_arm(bandit *b, size_t *index, char *err)
{
    if (b->n_arms >= MAX_ARMS)
        return pb_errf(err, PB_ERR_LIMIT, "a bandit holds at most %d arms", MAX_ARMS);
    pb_status rc = grow(b, b->n_arms + 1, err);
    if (rc != PB_OK)
        return rc;
    b->arms[b->n_arms] = (struct bandit_arm){.active = 1};
    b->score[b->n_arms] = 0;
    if (b->p_version)
        b->p_version[b->n_arms] = UINT64_MAX; /* no state has that number */
    if (b->tables)
        b->tables[b->n_arms].a = 0;
    b->version++;
    if (index)
        *index = b->n_arms;
    b->n_arms++;
    b->n_active++;
    return PB_OK;
}

pb_status bandit_set_active(bandit *b, size_t arm, int active, char *err)
{
    if (arm >= b->n_arms)
        return no_arm(b, arm, err);
    active = active != 0;
    if (b->arms[arm].active != active)
        b->n_active += active ? 1 : (size_t)-1;
    b->arms[arm].active = active;
    b->version++;
    return PB_OK;
}

size_t bandit_arm_count(const bandit *b)
{
    return b->n_arms;
}

size_t bandit_active_count(const bandit *b)
{
    return b->n_active;
}

const bandit_policy *bandit_get_policy(const bandit *b)
{
    return &b->policy;
}

uint64_t bandit_total_pulls(const bandit *b)
{
    return b->total;
}

/* ---- observe / forget ------------------------------------------------------------------ */

static pb_status check_reward(const bandit *b, size_t arm, double reward, char *err)
{
    if (arm >= b->n_arms)
        return no_arm(b, arm, err);
    if (!isfinite(reward) || reward < -1 || reward > 1)
        return pb_errf(err, PB_ERR_INVALID,
                       "reward for arm %zu must be a number in [-1, 1], got %g", arm, reward);
    return PB_OK;
}

static void arm_refresh(struct bandit_arm *a)
{
    if (a->n == 0) {
        a->sum = a->sumsq = 0; /* exact zero, so forgetting the last reward restores the state */
        a->mean01 = 0.5;
        a->inv_sqrt_n = 0;
        return;
    }
    double n = (double)a->n;
    a->mean01 = (a->sum / n + 1) * 0.5;
    a->inv_sqrt_n = 1 / sqrt(n);
}

static void ducb_discount(bandit *b)
{
    double g = b->policy.gamma, total = 0;
    for (size_t i = 0; i < b->n_arms; i++) {
        struct bandit_arm *a = &b->arms[i];
        a->wn *= g;
        a->wsum *= g;
        if (a->wn < 1e-200) /* keep clear of denormals, which are slow */
            a->wn = a->wsum = 0;
        total += a->wn;
    }
    b->d_total = total;
}

static void window_push(bandit *b, size_t arm, double reward)
{
    size_t w = (size_t)b->policy.window;
    if (b->ring_len == w) {
        struct window_entry *old = &b->ring[b->ring_head];
        struct bandit_arm *a = &b->arms[old->arm];
        a->wn -= 1;
        a->wsum = a->wn > 0 ? a->wsum - old->reward : 0;
        b->ring_head = (b->ring_head + 1) % w;
        b->ring_len--;
    }
    b->ring[(b->ring_head + b->ring_len) % w] = (struct window_entry){arm, reward};
    b->ring_len++;
    b->arms[arm].wn += 1;
    b->arms[arm].wsum += reward;
}

pb_status bandit_observe(bandit *b, size_t arm, double reward, char *err)
{
    pb_status rc = check_reward(b, arm, reward, err);
    if (rc != PB_OK)
        return rc;
    struct bandit_arm *a = &b->arms[arm];
    a->n++;
    a->sum += reward;
    a->sumsq += reward * reward;
    arm_refresh(a);
    b->total++;
    b->version++;
    if (b->policy.kind == BANDIT_DUCB) {
        ducb_discount(b);
        a->wn += 1;
        a->wsum += reward;
        b->d_total += 1;
    } else if (b->policy.kind == BANDIT_SWUCB) {
        window_push(b, arm, reward);
    }
    return PB_OK;
}

/* Drops the newest window entry equal to (arm, reward), if the window still holds one. */
static void window_remove(bandit *b, size_t arm, double reward)
{
    size_t w = (size_t)b->policy.window;
    for (size_t k = b->ring_len; k-- > 0;) {
        struct window_entry *e = &b->ring[(b->ring_head + k) % w];
        if (e->arm != arm || e->reward != reward)
            continue;
        for (size_t j = k; j + 1 < b->ring_len; j++)
            b->ring[(b->ring_head + j) % w] = b->ring[(b->ring_head + j + 1) % w];
        b->ring_len--;
        b->arms[arm].wn -= 1;
        b->arms[arm].wsum = b->arms[arm].wn > 0 ? b->arms[arm].wsum - reward : 0;
        return;
    }
}

pb_status bandit_forget(bandit *b, size_t arm, double reward, char *err)
{
    pb_status rc = check_reward(b, arm, reward, err);
    if (rc != PB_OK)
        return rc;
    struct bandit_arm *a = &b->arms[arm];
    if (a->n == 0)
        return pb_errf(err, PB_ERR_CONFLICT, "arm %zu has no observation to forget", arm);
    if (b->policy.kind == BANDIT_DUCB)
        return pb_errf(err, PB_ERR_CONFLICT,
                       "ducb cannot forget one reward (its weight depends on when it came); "
                       "rebuild the bandit from the remaining history");
    if (b->policy.kind == BANDIT_SWUCB)
        window_remove(b, arm, reward);
    a->n--;
    a->sum -= reward;
    a->sumsq -= reward * reward;
    arm_refresh(a);
    b->total--;
    b->version++;
    return PB_OK;
}

/* ---- select ---------------------------------------------------------------------------- */

/* Policies that rank arms by a deterministic index (exact propensity 1/ties). */
static int is_index_policy(bandit_kind k)
{
    return k == BANDIT_UCB1 || k == BANDIT_UCB1_TUNED || k == BANDIT_DUCB || k == BANDIT_SWUCB ||
           k == BANDIT_UCB_CHERNOFF;
}

static int arm_unplayed(const bandit *b, const struct bandit_arm *a)
{
    return a->n < b->min_pulls || (b->policy.kind == BANDIT_SWUCB && a->wn <= 0);
}

/* The active arm with the highest score, ties broken uniformly; *ties gets their number. */
static size_t argmax_active(const bandit *b, const double *score, gsl_rng *rng, size_t *ties)
{
    size_t pick = SIZE_MAX, count = 0;
    double best = 0;
    for (size_t i = 0; i < b->n_arms; i++) {
        if (!b->arms[i].active)
            continue;
        if (pick == SIZE_MAX || score[i] > best) {
            best = score[i];
            pick = i;
            count = 1;
        } else if (score[i] == best) {
            count++;
        }
    }
    if (count > 1) {
        size_t k = rng ? (size_t)gsl_rng_uniform_int(rng, count) : 0;
        for (size_t i = 0; i < b->n_arms; i++)
            if (b->arms[i].active && score[i] == best && k-- == 0) {
                pick = i;
                break;
            }
    }
    *ties = count;
    return pick;
}

static double log_total(bandit *b)
{
    if (b->log_at != b->total) {
        b->log_at = b->total;
        b->log_t = log((double)(b->total ? b->total : 1));
    }
    return b->log_t;
}

/* Index of a played arm under the UCB-type policies, rewards rescaled to [0, 1]. */
static double ucb_index(const bandit *b, const struct bandit_arm *a, double log_t, double root)
{
    switch (b->policy.kind) {
    case BANDIT_UCB1:
        return a->mean01 + root * a->inv_sqrt_n;
    case BANDIT_UCB1_TUNED: {
        double n = (double)a->n, mean = a->sum / n;
        double var01 = fmax(0, a->sumsq / n - mean * mean) * 0.25;
        double v = var01 + sqrt(2 * log_t / n);
        return a->mean01 + sqrt(log_t / n * fmin(0.25, v));
    }
    case BANDIT_DUCB:
        if (a->wn <= 0)
            return INFINITY;
        return (a->wsum / a->wn + 1) * 0.5 + 2 * sqrt(b->policy.xi * log_t / a->wn);
    case BANDIT_SWUCB:
        return (a->wsum / a->wn + 1) * 0.5 + sqrt(b->policy.xi * log_t / a->wn);
    case BANDIT_UCB_CHERNOFF: {
        /* Chapelle & Li (2011), eq. 1: p + sqrt(2 p L / m) + 2 L / m with L = log(1/delta),
         * delta = 1/sqrt(t); tight for small p, where Hoeffding's bonus is far too wide. */
        double m = (double)a->n, l = 0.5 * log_t;
        return a->mean01 + sqrt(2 * a->mean01 * l / m) + 2 * l / m;
    }
    default:
        return a->sum / (double)a->n; /* greedy part of the epsilon policies, [-1, 1] */
    }
}

/* Fills score[] for the deterministic-index policies (UCB family and greedy means);
 * unplayed active arms score +inf so that they come first. */
static void index_scores(const bandit *b, double log_t, double *score)
{
    double root = sqrt(2 * log_t);
    if (b->policy.kind == BANDIT_UCB1) { /* the hot path of simulations and replays */
        for (size_t i = 0; i < b->n_arms; i++) {
            const struct bandit_arm *a = &b->arms[i];
            score[i] = a->n >= b->min_pulls ? a->mean01 + root * a->inv_sqrt_n : INFINITY;
        }
        return;
    }
    for (size_t i = 0; i < b->n_arms; i++) {
        const struct bandit_arm *a = &b->arms[i];
        score[i] = arm_unplayed(b, a) ? INFINITY : ucb_index(b, a, log_t, root);
    }
}

static double policy_log_t(const bandit *b)
{
    if (b->policy.kind == BANDIT_DUCB)
        return log(fmax(1, b->d_total));
    double t = (double)(b->total ? b->total : 1);
    if (b->policy.kind == BANDIT_SWUCB)
        t = fmin(t, (double)b->policy.window);
    return log(t);
}

static double egreedy_epsilon(const bandit *b)
{
    if (b->policy.kind == BANDIT_EGREEDY)
        return b->policy.epsilon;
    double d = b->policy.d;
    return fmin(1, b->policy.c * (double)b->n_active / (d * d * (double)(b->total + 1)));
}

static size_t count_unplayed(const bandit *b)
{
    size_t u = 0;
    for (size_t i = 0; i < b->n_arms; i++)
        u += b->arms[i].active && arm_unplayed(b, &b->arms[i]);
    return u;
}

/* The k-th active arm (k < n_active), or the k-th unplayed active arm. */
static size_t nth_active(const bandit *b, size_t k, int unplayed_only)
{
    for (size_t i = 0; i < b->n_arms; i++) {
        const struct bandit_arm *a = &b->arms[i];
        if (a->active && (!unplayed_only || arm_unplayed(b, a)) && k-- == 0)
            return i;
    }
    return SIZE_MAX;
}

static double posterior_draw(const bandit *b, const struct bandit_arm *a, gsl_rng *rng)
{
    double n = (double)a->n;
    if (b->policy.kind == BANDIT_THOMPSON_BETA) {
        double s = (a->sum + n) * 0.5; /* reward r counts as (r+1)/2 of a success */
        return gsl_ran_beta(rng, 1 + s, 1 + (n - s));
    }
    double mean = n > 0 ? a->sum / n : 0;
    return mean + b->policy.sigma / sqrt(n + 1) * gsl_ran_gaussian_ziggurat(rng, 1);
}

static size_t thompson_pick(const bandit *b, gsl_rng *rng)
{
    size_t pick = SIZE_MAX;
    double best = -INFINITY;
    for (size_t i = 0; i < b->n_arms; i++) {
        if (!b->arms[i].active)
            continue;
        double theta = posterior_draw(b, &b->arms[i], rng);
        if (pick == SIZE_MAX || theta > best) {
            best = theta;
            pick = i;
        }
    }
    return pick;
}

/* Arm i's posterior for pbest, as posterior_draw samples it. */
static struct pbest_arm posterior_of(bandit *b, size_t i)
{
    const struct bandit_arm *a = &b->arms[i];
    double n = (double)a->n;
    if (b->policy.kind == BANDIT_THOMPSON_BETA) {
        double s = fmin(n, fmax(0, (a->sum + n) * 0.5));
        pbest_table_build(&b->tables[i], 1 + s, 1 + (n - s));
        return (struct pbest_arm){.beta = &b->tables[i]};
    }
    return (struct pbest_arm){.mean = n > 0 ? a->sum / n : 0, .sd = b->policy.sigma / sqrt(n + 1)};
}

/* The probability that Thompson's draw picks `pick` in this state: exact for two Gaussian
 * arms, a one-dimensional integral otherwise (pbest.h), computed once per state and arm. A
 * Beta arm's CDF table is rebuilt only when that arm was observed. Never below 1e-12: the
 * arm was chosen, so its probability is positive, and callers divide by it. */
static double thompson_propensity(bandit *b, size_t pick)
{
    if (b->p_version[pick] == b->version)
        return b->p_best[pick];
    size_t n = 0, me = 0;
    for (size_t i = 0; i < b->n_arms; i++) {
        if (!b->arms[i].active)
            continue;
        if (i == pick)
            me = n;
        b->post[n++] = posterior_of(b, i);
    }
    b->p_best[pick] = fmax(1e-12, pbest_prob(b->post, n, me));
    b->p_version[pick] = b->version;
    return b->p_best[pick];
}

static void softmax_weights(const bandit *b, double *w, double *total)
{
    double top = -INFINITY, sum = 0;
    for (size_t i = 0; i < b->n_arms; i++)
        if (b->arms[i].active)
            top = fmax(top, b->arms[i].sum / (double)b->arms[i].n);
    for (size_t i = 0; i < b->n_arms; i++) {
        const struct bandit_arm *a = &b->arms[i];
        w[i] = a->active ? exp((a->sum / (double)a->n - top) / b->policy.tau) : 0;
        sum += w[i];
    }
    *total = sum;
}

static size_t select_softmax(bandit *b, gsl_rng *rng, double *propensity)
{
    double total;
    softmax_weights(b, b->score, &total);
    double u = gsl_rng_uniform(rng) * total;
    size_t pick = SIZE_MAX;
    for (size_t i = 0; i < b->n_arms; i++) {
        if (!b->arms[i].active)
            continue;
        pick = i;
        if (u < b->score[i])
            break;
        u -= b->score[i];
    }
    if (propensity)
        *propensity = b->score[pick] / total;
    return pick;
}

static size_t select_egreedy(bandit *b, gsl_rng *rng, double *propensity)
{
    double eps = egreedy_epsilon(b);
    size_t ties;
    index_scores(b, 0, b->score);
    size_t greedy = argmax_active(b, b->score, rng, &ties);
    size_t pick = greedy;
    if (gsl_rng_uniform(rng) < eps)
        pick = nth_active(b, (size_t)gsl_rng_uniform_int(rng, b->n_active), 0);
    if (propensity) {
        double p = eps / (double)b->n_active;
        if (b->score[pick] == b->score[greedy])
            p += (1 - eps) / (double)ties;
        *propensity = p;
    }
    return pick;
}

/* UCB1 in one pass (scores, maximum and ties together): the hot path of simulations. */
static size_t select_ucb1(bandit *b, gsl_rng *rng, size_t *ties)
{
    double root = sqrt(2 * log_total(b)), best = -INFINITY;
    size_t pick = SIZE_MAX, count = 0;
    for (size_t i = 0; i < b->n_arms; i++) {
        const struct bandit_arm *a = &b->arms[i];
        if (!a->active)
            continue;
        double s = a->n >= b->min_pulls ? a->mean01 + root * a->inv_sqrt_n : INFINITY;
        b->score[i] = s;
        if (pick == SIZE_MAX || s > best)
            best = s, pick = i, count = 1;
        else if (s == best)
            count++;
    }
    if (count > 1)
        pick = argmax_active(b, b->score, rng, ties);
    *ties = count;
    return pick;
}

pb_status bandit_select(bandit *b, gsl_rng *rng, size_t *arm, double *propensity, char *err)
{
    if (b->n_active == 0)
        return pb_errf(err, PB_ERR_CONFLICT, "no active arm to choose from");
    size_t pick, ties = 1;
    bandit_kind kind = b->policy.kind;
    if (kind == BANDIT_UCB1) {
        pick = select_ucb1(b, rng, &ties);
        if (propensity)
            *propensity = 1.0 / (double)ties;
    } else if (is_index_policy(kind)) {
        double log_t = kind == BANDIT_UCB1_TUNED ? log_total(b) : policy_log_t(b);
        index_scores(b, log_t, b->score);
        pick = argmax_active(b, b->score, rng, &ties);
        if (propensity)
            *propensity = 1.0 / (double)ties;
    } else if (count_unplayed(b) > 0) {
        size_t u = count_unplayed(b);
        pick = nth_active(b, (size_t)gsl_rng_uniform_int(rng, u), 1);
        if (propensity)
            *propensity = 1.0 / (double)u;
    } else if (kind == BANDIT_EGREEDY || kind == BANDIT_EGREEDY_DECAY) {
        pick = select_egreedy(b, rng, propensity);
    } else if (kind == BANDIT_SOFTMAX) {
        pick = select_softmax(b, rng, propensity);
    } else {
        pick = thompson_pick(b, rng);
        if (propensity)
            *propensity = thompson_propensity(b, pick);
    }
    *arm = pick;
    return PB_OK;
}

pb_status bandit_index(const bandit *b, size_t arm, double *out, char *err)
{
    bandit_kind kind = b->policy.kind;
    if (arm >= b->n_arms)
        return no_arm(b, arm, err);
    if (!is_index_policy(kind))
        return pb_errf(err, PB_ERR_INVALID, "policy %s has no index", policyspec_kind_name(kind));
    const struct bandit_arm *a = &b->arms[arm];
    double log_t = policy_log_t(b);
    *out = arm_unplayed(b, a) ? INFINITY : ucb_index(b, a, log_t, sqrt(2 * log_t));
    return PB_OK;
}

pb_status bandit_choice_probabilities(const bandit *b, gsl_rng *rng, long draws, double *out,
                                      char *err)
{
    if (b->n_active == 0)
        return pb_errf(err, PB_ERR_CONFLICT, "no active arm to choose from");
    bandit_kind kind = b->policy.kind;
    size_t unplayed = count_unplayed(b), ties;
    if (is_index_policy(kind) || unplayed > 0) {
        index_scores(b, policy_log_t(b), out);
        argmax_active(b, out, NULL, &ties);
        double best = -INFINITY;
        for (size_t i = 0; i < b->n_arms; i++)
            if (b->arms[i].active)
                best = fmax(best, out[i]);
        for (size_t i = 0; i < b->n_arms; i++)
            out[i] = b->arms[i].active && out[i] == best ? 1.0 / (double)ties : 0;
    } else if (kind == BANDIT_EGREEDY || kind == BANDIT_EGREEDY_DECAY) {
        double eps = egreedy_epsilon(b);
        index_scores(b, 0, out);
        size_t g = argmax_active(b, out, NULL, &ties);
        double best = out[g];
        for (size_t i = 0; i < b->n_arms; i++)
            out[i] = !b->arms[i].active ? 0
                                        : eps / (double)b->n_active +
                                              (out[i] == best ? (1 - eps) / (double)ties : 0);
    } else if (kind == BANDIT_SOFTMAX) {
        double total;
        softmax_weights(b, out, &total);
        for (size_t i = 0; i < b->n_arms; i++)
            out[i] /= total;
    } else {
        if (draws < 1)
            return pb_errf(err, PB_ERR_INVALID, "draws must be at least 1, got %ld", draws);
        memset(out, 0, b->n_arms * sizeof *out);
        for (long d = 0; d < draws; d++)
            out[thompson_pick(b, rng)] += 1.0 / (double)draws;
    }
    return PB_OK;
}

/* ---- statistics ------------------------------------------------------------------------ */

pb_status bandit_get_arm_stats(const bandit *b, size_t arm, bandit_arm_stats *out, char *err)
{
    if (arm >= b->n_arms)
        return no_arm(b, arm, err);
    const struct bandit_arm *a = &b->arms[arm];
    double n = (double)a->n;
    *out = (bandit_arm_stats){.pulls = a->n, .ci_low = -1, .ci_high = 1, .active = a->active};
    if (a->n == 0)
        return PB_OK;
    out->mean = a->sum / n;
    if (a->n < 2)
        return PB_OK;
    out->variance = fmax(0, (a->sumsq - a->sum * out->mean) / (n - 1));
    double half = gsl_cdf_tdist_Pinv(0.975, n - 1) * sqrt(out->variance / n);
    out->ci_low = fmax(-1, out->mean - half);
    out->ci_high = fmin(1, out->mean + half);
    return PB_OK;
}
