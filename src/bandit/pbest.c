/* pbest.c — P(arm best) for independent Gaussian or Beta posteriors: the closed form for two
 * Gaussian arms, adaptive Simpson over one dimension otherwise, Beta CDF tables. Owns no
 * memory (the caller's tables); must not draw random numbers or do I/O. */
#include "bandit/pbest.h"

#include <math.h>

#define WINDOW_SD 14.0 /* a Beta table spans mean +- this many sd (Beta(1, b) tails are ~e^-x) */
#define GAUSS_Z   7.0  /* Phi(-7) ~ 1e-12: what lies further out does not count */
#define PANELS    4    /* the integral starts as this many Gauss-Kronrod pieces... */
/* ...refined until their error estimates add up to less than this: Gaussian CDFs are exact,
 * Beta tables good to about 1e-6, so integrating those further would buy nothing. */
#define TOLERANCE_GAUSS 1e-9
#define TOLERANCE_BETA  1e-7
#define MAX_DEPTH       30
#define INV_SQRT2PI     0.39894228040143267794
#define INV_SQRT2       0.70710678118654752440

/* ---- Beta tables ------------------------------------------------------------------------ */

/* log of x^(a-1) (1-x)^(b-1), -inf where it is 0. */
static double log_kernel(double a, double b, double x)
{
    double l = 0;
    if (a != 1)
        l += x > 0 ? (a - 1) * log(x) : -INFINITY;
    if (b != 1)
        l += x < 1 ? (b - 1) * log1p(-x) : -INFINITY;
    return l;
}

/* Three-point Gauss-Legendre nodes and weights on [-1, 1]: exact to degree 5, plenty for an
 * interval of a fifth of a standard deviation. */
static const double GL_X[3] = {0, -0.77459666924148337704, 0.77459666924148337704};
static const double GL_W[3] = {0.88888888888888888889, 0.55555555555555555556,
                               0.55555555555555555556};

/* The integral of the kernel from 0 to x (or from x to 1 with a and b swapped and x = 1 - x),
 * measured from ref: x^a * sum_k c_k x^k / (a + k), c_0 = 1, c_k = c_{k-1} (k - b) / k (the
 * binomial series of (1-t)^(b-1)). Exact near an end of [0, 1], where the density's
 * derivatives blow up for non-integer a and the table's interpolation would not be. */
static double end_series(double a, double b, double x, double ref)
{
    if (x <= 0)
        return 0;
    double c = 1, xk = 1, sum = 1 / a;
    for (int k = 1; k < 400; k++) {
        c *= (k - b) / k;
        xk *= x;
        double term = c * xk / (a + k);
        sum += term;
        if (fabs(term) < 1e-17 * fabs(sum))
            break;
    }
    return exp(a * log(x) - ref) * sum;
}

#define END_NODES 2 /* intervals next to 0 or 1 read from end_series, not interpolated */

void pbest_table_build(struct pbest_table *t, double a, double b)
{
    if (t->a == a && t->b == b)
        return;
    double n = a + b, mean = a / n, sd = sqrt(a * b / (n * n * (n + 1)));
    double lo = fmax(0, mean - WINDOW_SD * sd), hi = fmin(1, mean + WINDOW_SD * sd);
    double h = (hi - lo) / PBEST_TABLE_NODES;
    /* The kernel is largest at the mode: measured from there, exp() never overflows. */
    double ref = log_kernel(a, b, n > 2 ? (a - 1) / (n - 2) : 0.5);
    const int N = PBEST_TABLE_NODES;
    t->F[0] = 0;
    for (int k = 0; k <= N; k++)
        t->f[k] = exp(log_kernel(a, b, lo + k * h) - ref);
    for (int k = 0; k < N; k++) {
        if (lo == 0 && k < END_NODES) {
            t->F[k + 1] = end_series(a, b, (k + 1) * h, ref);
            continue;
        }
        double mid = lo + (k + 0.5) * h, mass = 0;
        for (int g = 0; g < 3; g++)
            mass += GL_W[g] * exp(log_kernel(a, b, mid + 0.5 * h * GL_X[g]) - ref);
        t->F[k + 1] = t->F[k] + 0.5 * h * mass;
    }
    if (hi == 1) { /* the last intervals from the upper tail's series */
        double total = t->F[N - END_NODES] + end_series(b, a, 1 - (lo + (N - END_NODES) * h), ref);
        for (int k = N - END_NODES + 1; k <= N; k++)
            t->F[k] = total - end_series(b, a, 1 - (lo + k * h), ref);
    }
    double inv = 1 / t->F[N];
    for (int k = 0; k <= N; k++) {
        t->F[k] *= inv;
        t->f[k] *= inv;
    }
    t->a = a;
    t->b = b;
    t->lo = lo;
    t->h = h;
    t->ref = ref;
    t->inv_total = inv;
}

static double table_hi(const struct pbest_table *t)
{
    return t->lo + PBEST_TABLE_NODES * t->h;
}

/* The CDF between nodes: cubic Hermite from the values and the densities at both ends, or the
 * series next to an end of [0, 1]. */
static double table_cdf(const struct pbest_table *t, double x)
{
    double u = (x - t->lo) / t->h;
    if (!(u > 0))
        return 0;
    if (u >= PBEST_TABLE_NODES)
        return 1;
    if (t->lo == 0 && u < END_NODES)
        return end_series(t->a, t->b, x, t->ref) * t->inv_total;
    if (t->lo + PBEST_TABLE_NODES * t->h == 1 && u > PBEST_TABLE_NODES - END_NODES)
        return 1 - end_series(t->b, t->a, 1 - x, t->ref) * t->inv_total;
    int k = (int)u;
    double s = u - k, s2 = s * s, s3 = s2 * s;
    double v = (2 * s3 - 3 * s2 + 1) * t->F[k] + (s3 - 2 * s2 + s) * t->h * t->f[k] +
               (3 * s2 - 2 * s3) * t->F[k + 1] + (s3 - s2) * t->h * t->f[k + 1];
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

static double table_pdf(const struct pbest_table *t, double x)
{
    if (x < t->lo || x > table_hi(t))
        return 0;
    return exp(log_kernel(t->a, t->b, x) - t->ref) * t->inv_total;
}

/* ---- the integral ----------------------------------------------------------------------- */

struct integrand {
    const struct pbest_arm *arms;
    size_t n, i;
};

/* f_i * prod F_j at t: t is x for Beta arms, the standardised z of arm i for Gaussian ones. */
static double integrand_at(const struct integrand *g, double t)
{
    const struct pbest_arm *me = &g->arms[g->i];
    double x, v;
    if (me->beta) {
        x = t;
        v = table_pdf(me->beta, x);
    } else {
        x = me->mean + me->sd * t;
        v = exp(-0.5 * t * t) * INV_SQRT2PI;
    }
    for (size_t j = 0; j < g->n && v > 0; j++) {
        const struct pbest_arm *o = &g->arms[j];
        if (j == g->i)
            continue;
        if (o->beta) {
            v *= table_cdf(o->beta, x);
        } else {
            double z = (x - o->mean) / o->sd;
            if (z < GAUSS_Z) /* beyond, Phi(z) is 1 to double precision */
                v *= 0.5 * erfc(-z * INV_SQRT2);
        }
    }
    return v;
}

/* Gauss-Kronrod 7-15 on [a, b]: *err gets |K15 - G7|, the usual error estimate (QUADPACK). */
static double kronrod(const struct integrand *g, double a, double b, double *err)
{
    static const double XK[8] = {
        0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
        0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
        0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
        0.207784955007898467600689403773245, 0};
    static const double WK[8] = {
        0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
        0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
        0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
        0.204432940075298892414161999234649, 0.209482141084727828012999174891714};
    static const double WG[4] = {
        0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
        0.381830050505118944950369775488975, 0.417959183673469387755102040816327};
    double c = 0.5 * (a + b), h = 0.5 * (b - a);
    double fc = integrand_at(g, c), k15 = fc * WK[7], g7 = fc * WG[3];
    for (int j = 0; j < 7; j++) {
        double f = integrand_at(g, c - h * XK[j]) + integrand_at(g, c + h * XK[j]);
        k15 += WK[j] * f;
        if (j % 2 == 1)
            g7 += WG[j / 2] * f;
    }
    *err = fabs((k15 - g7) * h);
    return k15 * h;
}

/* Bisects until each piece's error estimate is below tol (halved with each level). */
static double adaptive(const struct integrand *g, double a, double b, double tol, int depth)
{
    double err, v = kronrod(g, a, b, &err);
    if (err <= tol || depth <= 0)
        return v;
    double m = 0.5 * (a + b);
    return adaptive(g, a, m, tol / 2, depth - 1) + adaptive(g, m, b, tol / 2, depth - 1);
}

/* The integral over [lo, hi] in PANELS pieces, each refined on its own. Safe for this
 * integrand: a smooth density times a product of CDFs, which only rises, so a feature cannot
 * hide between the points a piece looks at. */
static double integrate(const struct integrand *g, double lo, double hi, double tol)
{
    double w = (hi - lo) / PANELS, sum = 0;
    for (int p = 0; p < PANELS; p++)
        sum += adaptive(g, lo + p * w, p + 1 == PANELS ? hi : lo + (p + 1) * w, tol / PANELS,
                        MAX_DEPTH);
    return sum;
}

double pbest_prob(const struct pbest_arm *arms, size_t n, size_t i)
{
    const struct pbest_arm *me = &arms[i];
    if (n == 1)
        return 1;
    if (n == 2 && !me->beta) {
        const struct pbest_arm *o = &arms[1 - i];
        double z = (me->mean - o->mean) / sqrt(me->sd * me->sd + o->sd * o->sd);
        return 0.5 * erfc(-z * INV_SQRT2);
    }
    /* Below the point where some other arm's CDF is still ~0 nothing contributes. */
    double lo, hi;
    if (me->beta) {
        lo = me->beta->lo;
        hi = table_hi(me->beta);
        for (size_t j = 0; j < n; j++)
            if (j != i)
                lo = fmax(lo, arms[j].beta->lo);
    } else {
        lo = -GAUSS_Z;
        hi = GAUSS_Z;
        for (size_t j = 0; j < n; j++)
            if (j != i)
                lo = fmax(lo, (arms[j].mean - GAUSS_Z * arms[j].sd - me->mean) / me->sd);
    }
    if (lo >= hi)
        return 0;
    struct integrand g = {arms, n, i};
    double p = integrate(&g, lo, hi, me->beta ? TOLERANCE_BETA : TOLERANCE_GAUSS);
    return p < 0 ? 0 : p > 1 ? 1 : p;
}
