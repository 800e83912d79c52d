#!/usr/bin/env python3
"""soak_plot.py — draws tools/bench/soak.sh's CSV as one SVG (memory, descriptors and threads,
latency percentiles, requests and errors per 10 s, against minutes) and prints the trend:
least-squares slopes of RSS and descriptors over the first third of the run and over the rest,
in units per 10 minutes, plus the totals of 5xx and unanswered requests.
  python3 tools/bench/soak_plot.py soak.csv soak.svg"""
import csv
import sys


def slope(xs, ys):
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0


def panel(out, top, height, width, rows, series, title, unit, xmax):
    left, right = 70, 150
    pw = width - left - right
    ymax = max([max(r[k] for r in rows) for k, _, _ in series] + [1e-9]) * 1.1
    out.append(f'<text x="{left}" y="{top - 6}" font-weight="bold">{title}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{height}" fill="none" '
               f'stroke="#999"/>')
    for i in range(5):
        v = ymax * i / 4
        y = top + height - height * i / 4
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{v:.3g}</text>')
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" '
                   f'stroke="#eee"/>')
    out.append(f'<text x="12" y="{top + height / 2:.1f}" transform="rotate(-90 12 '
               f'{top + height / 2:.1f})" text-anchor="middle">{unit}</text>')
    for j, (key, label, colour) in enumerate(series):
        pts = " ".join(f"{left + pw * r['t_s'] / xmax:.0f},"
                       f"{top + height - height * r[key] / ymax:.0f}" for r in rows)
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{pts}"/>')
        ly = top + 14 + 16 * j
        out.append(f'<line x1="{left + pw + 10}" x2="{left + pw + 30}" y1="{ly - 4}" '
                   f'y2="{ly - 4}" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{left + pw + 34}" y="{ly}">{label}</text>')
    for m in range(0, int(xmax / 60) + 1, 5 if xmax > 900 else 1):
        x = left + pw * m * 60 / xmax
        out.append(f'<text x="{x:.1f}" y="{top + height + 14}" text-anchor="middle">{m}</text>')


def main():
    if len(sys.argv) != 3:
        print("usage: soak_plot.py soak.csv soak.svg", file=sys.stderr)
        return 2
    with open(sys.argv[1], newline="") as f:
        rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]
    if not rows:
        print("soak_plot: no rows", file=sys.stderr)
        return 1
    for r in rows:
        r["rss_mb"] = r["rss_kb"] / 1024
        r["errors"] = r["c5xx"] + r["no_answer"]
    xmax = rows[-1]["t_s"]
    third = [r for r in rows if r["t_s"] <= xmax / 3]
    rest = [r for r in rows if r["t_s"] > xmax / 3]
    per10 = 600.0
    summary = {
        "samples": len(rows),
        "minutes": xmax / 60,
        "requests": int(sum(r["requests"] for r in rows)),
        "c4xx": int(sum(r["c4xx"] for r in rows)),
        "c5xx": int(sum(r["c5xx"] for r in rows)),
        "no_answer": int(sum(r["no_answer"] for r in rows)),
        "rss_mb_first": rows[0]["rss_mb"],
        "rss_mb_last": rows[-1]["rss_mb"],
        "rss_mb_max": max(r["rss_mb"] for r in rows),
        "rss_slope_first_third_mb_per_10min":
            slope([r["t_s"] for r in third], [r["rss_mb"] for r in third]) * per10,
        "rss_slope_rest_mb_per_10min":
            slope([r["t_s"] for r in rest], [r["rss_mb"] for r in rest]) * per10,
        "fds_min_max_rest": [min(r["fds"] for r in rest or rows), max(r["fds"] for r in rest or rows)],
        "fds_slope_rest_per_10min":
            slope([r["t_s"] for r in rest], [r["fds"] for r in rest]) * per10,
        "threads_max": max(r["threads"] for r in rows),
    }
    for k in ("choose", "feedback", "dash", "chat"):
        vals = sorted(r[f"{k}_p99_ms"] for r in rows if r[f"{k}_n"] > 0)
        summary[f"{k}_p99_ms_median_of_windows"] = vals[len(vals) // 2] if vals else 0
    width, h, gap = 900, 150, 60
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{4 * (h + gap) + 50}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="100%" height="100%" fill="white"/>',
           f'<text x="70" y="18" font-size="13">promptbandit soak: {summary["minutes"]:.0f} min, '
           f'{summary["requests"]} requests, {summary["c5xx"]} 5xx, {summary["no_answer"]} '
           f'unanswered (x: minutes)</text>',
           f'<text x="70" y="34">RSS slope {summary["rss_slope_first_third_mb_per_10min"]:+.2f} '
           f'MB / 10 min over the first third, '
           f'{summary["rss_slope_rest_mb_per_10min"]:+.2f} over the rest</text>']
    top = 60
    panel(out, top, h, width, rows, [("rss_mb", "RSS", "#1f77b4")], "resident memory", "MB", xmax)
    top += h + gap
    panel(out, top, h, width, rows, [("fds", "descriptors", "#2ca02c"),
                                      ("threads", "threads", "#9467bd")],
          "open descriptors and threads", "count", xmax)
    top += h + gap
    panel(out, top, h, width, rows, [("choose_p99_ms", "choose p99", "#ff7f0e"),
                                      ("feedback_p99_ms", "feedback p99", "#d62728"),
                                      ("dash_p99_ms", "dashboard p99", "#8c564b"),
                                      ("choose_p50_ms", "choose p50", "#ffbb78"),
                                      ("feedback_p50_ms", "feedback p50", "#ff9896")],
          "latency per 10 s window (chat waits on the slow provider: see the CSV)", "ms", xmax)
    top += h + gap
    panel(out, top, h, width, rows, [("requests", "requests", "#17becf"),
                                      ("c4xx", "4xx", "#bcbd22"),
                                      ("errors", "5xx + unanswered", "#d62728")],
          "requests per 10 s", "count", xmax)
    out.append("</svg>")
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(out) + "\n")
    for k, v in summary.items():
        print(f"{k}: {v:.3f}" if isinstance(v, float) else f"{k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
