/* test_base_plot.c — SVG charts: user strings escaped, deterministic bytes (golden file), gaps for
 * NaN, "no data" for empty input, error bars and shares drawn where the data says. */
#include "check.h"
#include "base/pb.h"
#include "base/plot.h"

static const double xs[] = {1, 2, 3, 4, 5};
static const double arm_a[] = {0.2, 0.4, 0.5, 0.55, 0.6};
static const double arm_b[] = {0.1, 0.15, 0.3, 0.2, 0.25};

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_series_names_are_xml_escaped(void)
{
    char err[PB_ERR_LEN], *svg = NULL;
    struct plot_series s[] = {{"<script>alert(1)</script>", xs, arm_a, 5},
                              {"A & \"B\" 'C'", xs, arm_b, 5}};
    struct plot_frame f = {"<b>title</b>", "step", "reward", 0, 0};
    CHECK_INT(plot_lines(&f, s, 2, &svg, err), PB_OK);
    CHECK(strstr(svg, "<script") == NULL);
    CHECK(strstr(svg, "&lt;script&gt;alert(1)&lt;/script&gt;") != NULL);
    CHECK(strstr(svg, "A &amp; &quot;B&quot; &#39;C&#39;") != NULL);
    CHECK(strstr(svg, "<b>") == NULL);
    free(svg);
}

static void test_invalid_utf8_and_control_characters_are_replaced(void)
{
    char err[PB_ERR_LEN], *svg = NULL;
    struct plot_bar bars[] = {{"bad\xff\x01name", 0.5, 0.4, 0.6}};
    struct plot_frame f = {"t", NULL, NULL, 0, 0};
    CHECK_INT(plot_bars(&f, bars, 1, &svg, err), PB_OK);
    CHECK(strstr(svg, "bad\xEF\xBF\xBD\xEF\xBF\xBDname") != NULL);
    free(svg);
}

/* The golden file is rewritten with PB_UPDATE_GOLDEN=1; review the diff before committing. */
static void test_line_chart_matches_the_golden_file(void)
{
    char err[PB_ERR_LEN], *svg = NULL, *golden = NULL;
    struct plot_series s[] = {{"A", xs, arm_a, 5}, {"B", xs, arm_b, 5}};
    struct plot_frame f = {"Mean reward per arm", "iteration", "mean reward", 480, 240};
    CHECK_INT(plot_lines(&f, s, 2, &svg, err), PB_OK);
    const char *path = check_source_path("tests/fixtures/plot/lines_small.svg");
    if (getenv("PB_UPDATE_GOLDEN"))
        pb_write_file_atomic(path, svg, strlen(svg), err);
    CHECK_INT(pb_read_file(path, 1 << 20, &golden, NULL, err), PB_OK);
    CHECK(golden && strcmp(svg, golden) == 0);
    char *again = NULL;
    plot_lines(&f, s, 2, &again, err);
    CHECK_STR(again, svg);
    free(again);
    free(golden);
    free(svg);
}

static void test_empty_and_all_nan_data_draw_no_data(void)
{
    char err[PB_ERR_LEN], *svg = NULL;
    struct plot_frame f = {"empty", NULL, NULL, 0, 0};
    CHECK_INT(plot_lines(&f, NULL, 0, &svg, err), PB_OK);
    CHECK(strstr(svg, ">no data<") != NULL);
    free(svg);
    double nan[] = {NAN, NAN};
    struct plot_series s = {"A", nan, nan, 2};
    CHECK_INT(plot_lines(&f, &s, 1, &svg, err), PB_OK);
    CHECK(strstr(svg, ">no data<") != NULL);
    free(svg);
    struct plot_bar b = {"A", NAN, NAN, NAN};
    CHECK_INT(plot_bars(&f, &b, 1, &svg, err), PB_OK);
    CHECK(strstr(svg, ">no data<") != NULL);
    free(svg);
    CHECK_INT(plot_distribution(&f, NULL, 0, NULL, 0, &svg, err), PB_OK);
    CHECK(strstr(svg, ">no data<") != NULL);
    free(svg);
}

static void test_nan_in_a_series_breaks_the_line(void)
{
    char err[PB_ERR_LEN], *svg = NULL;
    double y[] = {0.1, 0.2, NAN, 0.4, 0.5};
    struct plot_series s = {"A", xs, y, 5};
    struct plot_frame f = {"gap", NULL, NULL, 0, 0};
    CHECK_INT(plot_lines(&f, &s, 1, &svg, err), PB_OK);
    CHECK_INT(count(svg, " d=\"M"), 1);
    CHECK_INT(count(svg, "M"), 2); /* two pen-downs: before and after the gap */
    CHECK(strstr(svg, "nan") == NULL && strstr(svg, "inf") == NULL);
    free(svg);
}

static void test_isolated_points_are_marked(void)
{
    char err[PB_ERR_LEN], *svg = NULL;
    double one_x[] = {1}, one_y[] = {0.5};
    double y[] = {0.1, NAN, 0.3, NAN, 0.5};
    struct plot_series s[2] = {{"single", one_x, one_y, 1}, {"islands", xs, y, 5}};
    struct plot_frame f = {"points", NULL, NULL, 0, 0};
    CHECK_INT(plot_lines(&f, s, 2, &svg, err), PB_OK);
    CHECK_INT(count(svg, "<circle"), 4); /* one for the single point, three islands */
    free(svg);
    CHECK_INT(plot_lines(&f, &s[1], 0, &svg, err), PB_OK);
    CHECK_INT(count(svg, "<circle"), 0);
    free(svg);
}

static void test_bars_draw_error_bars_and_skip_missing_values(void)
{
    char err[PB_ERR_LEN], *svg = NULL;
    struct plot_bar bars[] = {{"A", 0.5, 0.3, 0.7}, {"B", NAN, NAN, NAN}, {"C", -0.2, NAN, NAN}};
    struct plot_frame f = {"means", NULL, "mean reward", 0, 0};
    CHECK_INT(plot_bars(&f, bars, 3, &svg, err), PB_OK);
    CHECK_INT(count(svg, "<rect x="), 3); /* plot frame + bars A and C */
    CHECK_INT(count(svg, "stroke-width=\"1.5\""), 1);
    CHECK(strstr(svg, ">B</text>") != NULL); /* the label stays, the bar does not */
    free(svg);
}

static void test_distribution_draws_shares_per_arm(void)
{
    char err[PB_ERR_LEN], *svg = NULL;
    const char *levels[] = {"-1", "-0.5", "0", "0.5", "1"};
    double a[] = {0, 0, 1, 1, 2}, b[] = {0, 0, 0, 0, 0};
    struct plot_dist arms[] = {{"A", a}, {"B", b}};
    struct plot_frame f = {"ratings", "level", "share", 0, 0};
    CHECK_INT(plot_distribution(&f, levels, 5, arms, 2, &svg, err), PB_OK);
    CHECK_INT(count(svg, "fill=\"#0072B2\""), 3 + 1); /* three bars of A and its legend */
    CHECK_INT(count(svg, "fill=\"#E69F00\""), 1);     /* B has no ratings: legend only */
    free(svg);
}

/* The plot area's top and bottom in pixels, from the frame rectangle draw_axes writes. */
static void frame_of(const char *svg, double *top, double *bottom)
{
    const char *r = strstr(svg, "fill=\"none\" stroke=\"#333333\"/>");
    const char *start = r;
    double x = 0, w = 0, h = 0;
    *top = *bottom = NAN;
    while (start && start > svg && strncmp(start, "<rect ", 6) != 0)
        start--;
    if (start && sscanf(start, "<rect x=\"%lf\" y=\"%lf\" width=\"%lf\" height=\"%lf\"", &x, top,
                        &w, &h) == 4)
        *bottom = *top + h;
}

/* The lowest and highest y pixel of every path's points (M x y / L x y). */
static void path_y_range(const char *svg, double *ymin, double *ymax)
{
    *ymin = INFINITY;
    *ymax = -INFINITY;
    for (const char *p = strstr(svg, " d=\""); p; p = strstr(p + 1, " d=\"")) {
        const char *q = p + 4;
        double x, y;
        int used;
        while ((*q == 'M' || *q == 'L') && sscanf(q + 1, "%lf %lf %n", &x, &y, &used) == 2) {
            *ymin = fmin(*ymin, y);
            *ymax = fmax(*ymax, y);
            q += 1 + used;
        }
    }
}

/* means.svg in a report: an arm whose running mean stays at -0.5 and one that climbs to 1. No
 * line may sit on the frame (where it hides), and the data fill most of the height instead of
 * the half a tick-rounded axis leaves for data on [-0.51, 1]. */
static void test_lines_fill_the_plot_and_stay_off_the_frame(void)
{
    char err[PB_ERR_LEN], *svg = NULL;
    const double low[] = {-0.5, -0.5, -0.5, -0.5, -0.5}, high[] = {-0.51, 0.2, 0.6, 0.9, 1};
    struct plot_series s[] = {{"flat", xs, low, 5}, {"climb", xs, high, 5}};
    struct plot_frame f = {"Running mean reward per arm", "iteration", "mean", 0, 0};
    double top, bottom, ymin, ymax;
    CHECK_INT(plot_lines(&f, s, 2, &svg, err), PB_OK);
    frame_of(svg, &top, &bottom);
    path_y_range(svg, &ymin, &ymax);
    CHECK(isfinite(top) && isfinite(bottom) && isfinite(ymin) && isfinite(ymax));
    CHECK(ymin >= top + 4 && ymax <= bottom - 4); /* a clear gap on both sides */
    CHECK((ymax - ymin) / (bottom - top) >= 0.8);
    CHECK(strstr(svg, ">1.0</text>") && strstr(svg, ">-0.5</text>")); /* ticks inside the range */
    free(svg);
    /* one flat line alone is drawn in the middle, not on an edge */
    CHECK_INT(plot_lines(&f, s, 1, &svg, err), PB_OK);
    frame_of(svg, &top, &bottom);
    path_y_range(svg, &ymin, &ymax);
    CHECK(ymin > top + 20 && ymax < bottom - 20);
    free(svg);
}

/* Error bars that reach the data's extremes stay inside the frame too, and a bar chart (named
 * under its axis, no legend) uses the canvas's width. */
static void test_bars_and_their_intervals_stay_off_the_frame(void)
{
    char err[PB_ERR_LEN], *svg = NULL;
    struct plot_bar bars[] = {{"A", 0.9, 0.7, 1.0}, {"B", -0.5, -1.0, -0.2}};
    struct plot_frame f = {"means", NULL, "mean reward", 640, 360};
    double top, bottom, ymin, ymax, x = 0, w = 0;
    CHECK_INT(plot_bars(&f, bars, 2, &svg, err), PB_OK);
    frame_of(svg, &top, &bottom);
    path_y_range(svg, &ymin, &ymax);
    CHECK(ymin >= top + 4 && ymax <= bottom - 4);
    const char *frame = strstr(svg, "<rect x=\"64.00\"");
    CHECK(frame && sscanf(frame, "<rect x=\"%lf\" y=\"%*f\" width=\"%lf\"", &x, &w) == 2);
    CHECK((x + w) / 640 > 0.9);
    free(svg);
}

static void test_absurd_sizes_are_refused(void)
{
    char err[PB_ERR_LEN], *svg = NULL;
    struct plot_frame f = {"t", NULL, NULL, 20, 20};
    CHECK_INT(plot_lines(&f, NULL, 0, &svg, err), PB_ERR_INVALID);
    CHECK(svg == NULL);
}

int main(void)
{
    RUN(test_series_names_are_xml_escaped);
    RUN(test_invalid_utf8_and_control_characters_are_replaced);
    RUN(test_line_chart_matches_the_golden_file);
    RUN(test_empty_and_all_nan_data_draw_no_data);
    RUN(test_nan_in_a_series_breaks_the_line);
    RUN(test_isolated_points_are_marked);
    RUN(test_bars_draw_error_bars_and_skip_missing_values);
    RUN(test_distribution_draws_shares_per_arm);
    RUN(test_lines_fill_the_plot_and_stay_off_the_frame);
    RUN(test_bars_and_their_intervals_stay_off_the_frame);
    RUN(test_absurd_sizes_are_refused);
    CHECK_DONE();
}
