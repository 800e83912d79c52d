/* plot.c — SVG line, bar and grouped-distribution charts: nice 1-2-5 axis ticks, a legend,
 * the Okabe-Ito palette (distinguishable with the common colour-vision deficiencies), and
 * XML escaping of every string that comes from a user. Coordinates are printed with two
 * decimals so the same data always gives the same bytes. */
#include "base/plot.h"

#include "base/pb.h"
#include "base/text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const palette[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                      "#56B4E9", "#D55E00", "#F0E442", "#000000"};
#define N_COLOURS (sizeof palette / sizeof palette[0])

struct axis {
    double lo, hi, step;
    double first; /* the first tick: lo on a nice axis, the first step multiple above lo on a
                     padded one */
};

struct canvas {
    FILE *f;
    int w, h;
    double left, right, top, bottom; /* plot area in pixels */
    struct axis x, y;
};

/* Writes s as XML character data: markup characters escaped, control characters and
 * malformed UTF-8 replaced, so a prompt name can never open a tag or break the document. */
static void put_text(FILE *f, const char *s)
{
    size_t len = s ? strlen(s) : 0, pos = 0;
    while (pos < len) {
        size_t at = pos;
        int32_t cp = text_utf8_next(s, len, &pos);
        if (cp == '&')
            fputs("&amp;", f);
        else if (cp == '<')
            fputs("&lt;", f);
        else if (cp == '>')
            fputs("&gt;", f);
        else if (cp == '"')
            fputs("&quot;", f);
        else if (cp == '\'')
            fputs("&#39;", f);
        else if (cp < 0 || (cp < 0x20 && cp != '\t'))
            fputs("\xEF\xBF\xBD", f); /* U+FFFD */
        else
            fwrite(s + at, 1, pos - at, f);
    }
}

/* A 1-2-5 step giving about `ticks` intervals over [lo, hi], bounds rounded out to it. */
static struct axis axis_nice(double lo, double hi, int ticks)
{
    if (!(hi > lo)) {
        double pad = fabs(lo) > 0 ? fabs(lo) * 0.5 : 1;
        lo -= pad;
        hi += pad;
    }
    double raw = (hi - lo) / ticks, mag = pow(10, floor(log10(raw))), r = raw / mag;
    double step = (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
    struct axis a = {floor(lo / step + 1e-9) * step, ceil(hi / step - 1e-9) * step, step, 0};
    a.first = a.lo;
    return a;
}

/* The share of the data's span left empty above and below it on a value axis. */
#define AXIS_PAD 0.06

/* A value axis that fills its side of the plot: the data range widened by AXIS_PAD of its span
 * on each side, so no point sits on the frame where its line would hide, with 1-2-5 ticks at
 * the step multiples inside it. Rounding the bounds out to whole steps (axis_nice) can leave
 * half the height empty (data on [-0.01, 1.01] drawn on [-0.5, 1.5]). */
static struct axis axis_padded(double lo, double hi, int ticks)
{
    if (!(hi > lo)) {
        double pad = fabs(lo) > 0 ? fabs(lo) * 0.5 : 1;
        lo -= pad;
        hi += pad;
    } else {
        double pad = (hi - lo) * AXIS_PAD;
        lo -= pad;
        hi += pad;
    }
    struct axis a = axis_nice(lo, hi, ticks);
    a.lo = lo;
    a.hi = hi;
    a.first = ceil(lo / a.step - 1e-9) * a.step;
    return a;
}

/* Number of tick intervals, and tick i, computed from an index so no error accumulates. */
static int ticks(const struct axis *a)
{
    return (int)floor((a->hi - a->first) / a->step + 1e-6);
}

static double tick(const struct axis *a, int i)
{
    return a->first + a->step * i;
}

static double px_x(const struct canvas *c, double v)
{
    return c->left + (v - c->x.lo) / (c->x.hi - c->x.lo) * (c->right - c->left);
}

static double px_y(const struct canvas *c, double v)
{
    return c->bottom - (v - c->y.lo) / (c->y.hi - c->y.lo) * (c->bottom - c->top);
}

static void tick_label(char *buf, size_t n, double v, double step)
{
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (fabs(v) < step * 1e-6)
        v = 0; /* never print "-0" */
    snprintf(buf, n, "%.*f", decimals, v);
}

static pb_status canvas_begin(struct canvas *c, const struct plot_frame *fr, char **buf,
                              size_t *len, char *err)
{
    c->w = fr->width ? fr->width : 640;
    c->h = fr->height ? fr->height : 360;
    if (c->w < 200 || c->h < 150 || c->w > 10000 || c->h > 10000)
        return pb_errf(err, PB_ERR_INVALID, "plot size %dx%d is outside 200x150..10000x10000", c->w,
                       c->h);
    c->left = 64;
    c->right = c->w - 168;
    c->top = 40;
    c->bottom = c->h - 52;
    c->f = open_memstream(buf, len);
    if (!c->f)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory drawing a plot");
    fprintf(c->f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\" role=\"img\">\n",
            c->w, c->h, c->w, c->h);
    fputs("<title>", c->f);
    put_text(c->f, fr->title);
    fprintf(c->f, "</title>\n<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", c->w, c->h);
    fprintf(c->f, "<text x=\"%.2f\" y=\"24\" font-size=\"15\" font-weight=\"bold\">", c->left);
    put_text(c->f, fr->title);
    fputs("</text>\n", c->f);
    return PB_OK;
}

static pb_status canvas_end(struct canvas *c, char **buf, char **out, char *err)
{
    fputs("</svg>\n", c->f);
    int bad = ferror(c->f);
    if (fclose(c->f) != 0 || bad) {
        free(*buf);
        *buf = NULL;
        return pb_errf(err, PB_ERR_NOMEM, "out of memory drawing a plot");
    }
    *out = *buf;
    return PB_OK;
}

/* Horizontal grid lines with y tick labels, the frame, axis labels; x ticks when numeric. */
static void draw_axes(struct canvas *c, const struct plot_frame *fr, int numeric_x)
{
    char label[64];
    fputs("<g stroke=\"#dddddd\" stroke-width=\"1\">\n", c->f);
    for (int i = 0; i <= ticks(&c->y); i++)
        fprintf(c->f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", c->left,
                px_y(c, tick(&c->y, i)), c->right, px_y(c, tick(&c->y, i)));
    fputs("</g>\n<g fill=\"#333333\" text-anchor=\"end\">\n", c->f);
    for (int i = 0; i <= ticks(&c->y); i++) {
        double v = tick(&c->y, i);
        tick_label(label, sizeof label, v, c->y.step);
        fprintf(c->f, "<text x=\"%.2f\" y=\"%.2f\">%s</text>\n", c->left - 6, px_y(c, v) + 4,
                label);
    }
    fputs("</g>\n", c->f);
    if (numeric_x) {
        fputs("<g fill=\"#333333\" text-anchor=\"middle\">\n", c->f);
        for (int i = 0; i <= ticks(&c->x); i++) {
            double v = tick(&c->x, i);
            tick_label(label, sizeof label, v, c->x.step);
            fprintf(c->f, "<text x=\"%.2f\" y=\"%.2f\">%s</text>\n", px_x(c, v), c->bottom + 16,
                    label);
        }
        fputs("</g>\n", c->f);
    }
    fprintf(c->f,
            "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" "
            "stroke=\"#333333\"/>\n",
            c->left, c->top, c->right - c->left, c->bottom - c->top);
    fprintf(c->f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">", (c->left + c->right) / 2,
            (double)c->h - 12);
    put_text(c->f, fr->x_label);
    fprintf(c->f,
            "</text>\n<text transform=\"translate(16 %.2f) rotate(-90)\" "
            "text-anchor=\"middle\">",
            (c->top + c->bottom) / 2);
    put_text(c->f, fr->y_label);
    fputs("</text>\n", c->f);
}

static void draw_legend_entry(struct canvas *c, size_t i, const char *name)
{
    double y = c->top + 8 + 20 * (double)i;
    fprintf(c->f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"14\" height=\"14\" fill=\"%s\"/>\n",
            c->right + 16, y, palette[i % N_COLOURS]);
    fprintf(c->f, "<text x=\"%.2f\" y=\"%.2f\">", c->right + 36, y + 11);
    put_text(c->f, name);
    fputs("</text>\n", c->f);
}

static void draw_no_data(struct canvas *c)
{
    fprintf(c->f,
            "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" "
            "stroke=\"#333333\"/>\n<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" "
            "fill=\"#666666\">no data</text>\n",
            c->left, c->top, c->right - c->left, c->bottom - c->top, (c->left + c->right) / 2,
            (c->top + c->bottom) / 2);
}

static int finite_point(const struct plot_series *s, size_t i)
{
    return isfinite(s->x[i]) && isfinite(s->y[i]);
}

pb_status plot_lines(const struct plot_frame *frame, const struct plot_series *series, size_t n,
                     char **out, char *err)
{
    struct canvas c;
    char *buf = NULL;
    size_t len = 0;
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    *out = NULL;
    pb_status rc = canvas_begin(&c, frame, &buf, &len, err);
    if (rc != PB_OK)
        return rc;
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < series[k].n; i++)
            if (finite_point(&series[k], i)) {
                xlo = fmin(xlo, series[k].x[i]), xhi = fmax(xhi, series[k].x[i]);
                ylo = fmin(ylo, series[k].y[i]), yhi = fmax(yhi, series[k].y[i]);
            }
    if (!isfinite(xlo)) {
        draw_no_data(&c);
        return canvas_end(&c, &buf, out, err);
    }
    c.x = axis_nice(xlo, xhi, 6);
    c.y = axis_padded(ylo, yhi, 6);
    draw_axes(&c, frame, 1);
    for (size_t k = 0; k < n; k++) {
        fprintf(c.f, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2\" d=\"",
                palette[k % N_COLOURS]);
        int pen_down = 0;
        for (size_t i = 0; i < series[k].n; i++) {
            if (!finite_point(&series[k], i)) {
                pen_down = 0; /* a gap in the data stays a gap in the line */
                continue;
            }
            fprintf(c.f, "%s%.2f %.2f ", pen_down ? "L" : "M", px_x(&c, series[k].x[i]),
                    px_y(&c, series[k].y[i]));
            pen_down = 1;
        }
        fputs("\"/>\n", c.f);
        /* A point with no finite neighbour draws no line segment: mark it so a series with
         * one observation (or an island between gaps) is still visible. */
        for (size_t i = 0; i < series[k].n; i++) {
            int before = i > 0 && finite_point(&series[k], i - 1);
            int after = i + 1 < series[k].n && finite_point(&series[k], i + 1);
            if (finite_point(&series[k], i) && !before && !after)
                fprintf(c.f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n",
                        px_x(&c, series[k].x[i]), px_y(&c, series[k].y[i]), palette[k % N_COLOURS]);
        }
        draw_legend_entry(&c, k, series[k].name);
    }
    return canvas_end(&c, &buf, out, err);
}

/* x position of category i of n (centre of its slot) on a categorical axis. */
static double slot_x(const struct canvas *c, size_t i, size_t n)
{
    return c->left + (c->right - c->left) * ((double)i + 0.5) / (double)n;
}

static void category_label(struct canvas *c, double x, const char *name)
{
    fprintf(c->f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">", x, c->bottom + 16);
    put_text(c->f, name);
    fputs("</text>\n", c->f);
}

pb_status plot_bars(const struct plot_frame *frame, const struct plot_bar *bars, size_t n,
                    char **out, char *err)
{
    struct canvas c;
    char *buf = NULL;
    size_t len = 0;
    double lo = 0, hi = 0; /* bars grow from zero */
    int any = 0;
    *out = NULL;
    pb_status rc = canvas_begin(&c, frame, &buf, &len, err);
    if (rc != PB_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        double v[3] = {bars[i].value, bars[i].lo, bars[i].hi};
        any |= isfinite(bars[i].value);
        for (int k = 0; k < 3 && isfinite(bars[i].value); k++)
            if (isfinite(v[k]))
                lo = fmin(lo, v[k]), hi = fmax(hi, v[k]);
    }
    c.right = c.w - 24; /* no legend: the bars are named under the axis */
    if (!any) {
        draw_no_data(&c);
        return canvas_end(&c, &buf, out, err);
    }
    c.y = axis_padded(lo, hi, 6);
    draw_axes(&c, frame, 0);
    double width = (c.right - c.left) / (double)n * 0.6;
    for (size_t i = 0; i < n; i++) {
        double x = slot_x(&c, i, n), v = bars[i].value;
        category_label(&c, x, bars[i].name);
        if (!isfinite(v))
            continue;
        double top = px_y(&c, fmax(v, 0)), base = px_y(&c, fmin(v, 0));
        fprintf(c.f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"/>\n",
                x - width / 2, top, width, base - top, palette[i % N_COLOURS]);
        if (isfinite(bars[i].lo) && isfinite(bars[i].hi))
            fprintf(c.f,
                    "<path stroke=\"#000000\" stroke-width=\"1.5\" d=\"M%.2f %.2f L%.2f %.2f "
                    "M%.2f %.2f L%.2f %.2f M%.2f %.2f L%.2f %.2f\"/>\n",
                    x, px_y(&c, bars[i].lo), x, px_y(&c, bars[i].hi), x - 6, px_y(&c, bars[i].lo),
                    x + 6, px_y(&c, bars[i].lo), x - 6, px_y(&c, bars[i].hi), x + 6,
                    px_y(&c, bars[i].hi));
    }
    return canvas_end(&c, &buf, out, err);
}

static double arm_total(const struct plot_dist *arm, size_t n_levels)
{
    double total = 0;
    for (size_t l = 0; l < n_levels; l++)
        if (isfinite(arm->counts[l]) && arm->counts[l] > 0)
            total += arm->counts[l];
    return total;
}

pb_status plot_distribution(const struct plot_frame *frame, const char *const *levels,
                            size_t n_levels, const struct plot_dist *arms, size_t n_arms,
                            char **out, char *err)
{
    struct canvas c;
    char *buf = NULL;
    size_t len = 0;
    double top_share = 0;
    *out = NULL;
    pb_status rc = canvas_begin(&c, frame, &buf, &len, err);
    if (rc != PB_OK)
        return rc;
    for (size_t a = 0; a < n_arms; a++) {
        double total = arm_total(&arms[a], n_levels);
        for (size_t l = 0; total > 0 && l < n_levels; l++)
            if (isfinite(arms[a].counts[l]) && arms[a].counts[l] > 0)
                top_share = fmax(top_share, arms[a].counts[l] / total);
    }
    if (!(top_share > 0)) {
        draw_no_data(&c);
        return canvas_end(&c, &buf, out, err);
    }
    c.y = axis_nice(0, top_share, 5);
    draw_axes(&c, frame, 0);
    double group = (c.right - c.left) / (double)n_levels * 0.8, width = group / (double)n_arms;
    for (size_t l = 0; l < n_levels; l++) {
        double x0 = slot_x(&c, l, n_levels) - group / 2;
        category_label(&c, slot_x(&c, l, n_levels), levels[l]);
        for (size_t a = 0; a < n_arms; a++) {
            double total = arm_total(&arms[a], n_levels), v = arms[a].counts[l];
            if (!(total > 0) || !isfinite(v) || v <= 0)
                continue;
            double y = px_y(&c, v / total);
            fprintf(c.f,
                    "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"/>\n",
                    x0 + width * (double)a, y, width, c.bottom - y, palette[a % N_COLOURS]);
        }
    }
    for (size_t a = 0; a < n_arms; a++)
        draw_legend_entry(&c, a, arms[a].name);
    return canvas_end(&c, &buf, out, err);
}
