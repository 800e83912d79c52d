/* reportview.h — a run report rendered for people and programs: report.md (verdict first, then
 * arms with spend, per-emotion means, best / median / worst answers, prompts, failures, plots),
 * report.json with the same content, SVG plots (the verdict's means with their intervals, the
 * running mean per arm, reward levels per arm), and the report folder. Reads the report only
 * through report.h; user text is escaped for its format (markdown cells, XML by plot.h, JSON by
 * jansson). Writes files only in report_write_dir. */
#ifndef REPORTVIEW_H
#define REPORTVIEW_H

#include "base/pb.h"
#include "offline/report.h"

/* Each *out is a NUL-terminated string the caller frees. */
pb_status report_markdown(const struct report *r, char **out, char *err);
pb_status report_json(const struct report *r, char **out, char *err);
pb_status report_svg_verdict(const struct report *r, char **out, char *err);
pb_status report_svg_means(const struct report *r, char **out, char *err);
pb_status report_svg_rewards(const struct report *r, char **out, char *err);

/* Writes report.md, report.json, verdict.svg, means.svg and rewards.svg into dir (created if
 * absent), each atomically. */
pb_status report_write_dir(const struct report *r, const char *dir, char *err);

#endif
