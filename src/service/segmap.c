/* segmap.c — segment names from the mode, the emotion model's labels and the map file. */
#include "service/segmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEGMAP_MAP_MAX_BYTES (1 << 20)

static const char *const GROUPS[] = {"positive", "negative", "ambiguous", "neutral"};

struct segmap_entry {
    char *label, *segment;
};

struct segmap {
    char mode[8];
    char **names;
    size_t n_names;
    struct segmap_entry *map;
    size_t n_map;
};

void segmap_free(segmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_names; i++)
        free(m->names[i]);
    for (size_t i = 0; i < m->n_map; i++) {
        free(m->map[i].label);
        free(m->map[i].segment);
    }
    free(m->names);
    free(m->map);
    free(m);
}

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SEGMAP_NAME_MAX)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '-'))
            return 0;
    return 1;
}

static const char *find_name(const segmap *m, const char *name)
{
    for (size_t i = 0; name && i < m->n_names; i++)
        if (strcmp(m->names[i], name) == 0)
            return m->names[i];
    return NULL;
}

/* Appends name unless present; it must be a valid segment name (what names its origin). */
static pb_status add_name(segmap *m, const char *name, const char *what, char *err)
{
    if (!name_ok(name))
        return pb_errf(err, PB_ERR_INVALID,
                       "%s: '%s' is not a usable segment name (1 to %d characters of "
                       "A-Z a-z 0-9 _ . -)",
                       what, name, SEGMAP_NAME_MAX);
    if (find_name(m, name))
        return PB_OK;
    char **grown = realloc(m->names, (m->n_names + 1) * sizeof *grown);
    if (!grown)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    m->names = grown;
    if (!(m->names[m->n_names] = strdup(name)))
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    m->n_names++;
    return PB_OK;
}

static pb_status add_entry(segmap *m, const char *label, const char *segment, char *err)
{
    struct segmap_entry *grown = realloc(m->map, (m->n_map + 1) * sizeof *grown);
    if (!grown)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    m->map = grown;
    struct segmap_entry *e = &m->map[m->n_map];
    e->label = strdup(label);
    e->segment = strdup(segment);
    m->n_map++; /* counted even when a strdup failed, so segmap_free frees the other one */
    if (!e->label || !e->segment)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    return PB_OK;
}

static const char *map_get(const segmap *m, const char *label)
{
    for (size_t i = 0; label && i < m->n_map; i++)
        if (strcmp(m->map[i].label, label) == 0)
            return m->map[i].segment;
    return NULL;
}

/* One "label TAB segment" line of the map file (line is modified). */
static pb_status map_line(segmap *m, const emomodel *model, const char *path, size_t lineno,
                          char *line, char *err)
{
    char why[PB_ERR_LEN];
    line[strcspn(line, "\r")] = '\0';
    if (!*line || *line == '#')
        return PB_OK;
    char *tab = strchr(line, '\t');
    if (!tab || strchr(tab + 1, '\t'))
        return pb_errf(err, PB_ERR_INVALID,
                       "segment map %s line %zu: expected 'label<TAB>segment', got '%s'", path,
                       lineno, line);
    *tab = '\0';
    const char *label = line, *segment = tab + 1;
    if (model && emomodel_find_label(model, label) < 0)
        return pb_errf(err, PB_ERR_INVALID,
                       "segment map %s line %zu: '%s' is not a label of the emotion model "
                       "(emotion.model); fix the map or the model",
                       path, lineno, label);
    if (map_get(m, label))
        return pb_errf(err, PB_ERR_INVALID, "segment map %s line %zu: label '%s' is mapped twice",
                       path, lineno, label);
    snprintf(why, sizeof why, "segment map %s line %zu", path, lineno);
    pb_status rc = add_name(m, segment, why, err);
    return rc == PB_OK ? add_entry(m, label, segment, err) : rc;
}

static pb_status read_map(segmap *m, const emomodel *model, const char *path, char *err)
{
    char *data = NULL, why[PB_ERR_LEN];
    size_t len = 0, lineno = 0;
    pb_status rc = pb_read_file(path, SEGMAP_MAP_MAX_BYTES, &data, &len, why);
    if (rc != PB_OK)
        return pb_errf(err, rc, "setting bandit.segment_map: %s", why);
    char *save = NULL;
    for (char *p = data, *line; rc == PB_OK && p; p = save) {
        save = strchr(p, '\n');
        if (save)
            *save++ = '\0';
        line = p;
        rc = map_line(m, model, path, ++lineno, line, err);
    }
    free(data);
    return rc;
}

/* The segments the mode itself makes, before the map's. */
static pb_status mode_names(segmap *m, const emomodel *model, char *err)
{
    pb_status rc = PB_OK;
    if (!strcmp(m->mode, "group")) {
        for (size_t i = 0; rc == PB_OK && i < sizeof GROUPS / sizeof GROUPS[0]; i++)
            rc = add_name(m, GROUPS[i], "group", err);
    } else if (!strcmp(m->mode, "label")) {
        size_t n = model ? emomodel_n_labels(model) : 0;
        for (size_t i = 0; rc == PB_OK && i < n; i++)
            rc = add_name(m, emomodel_label(model, i)->name,
                          "bandit.segments label: an emotion model label", err);
    }
    return rc;
}

/* Moves the fallback to the end (a map may name "unknown" before it is appended). */
static void fallback_last(segmap *m, const char *fallback)
{
    for (size_t i = 0; i + 1 < m->n_names; i++)
        if (strcmp(m->names[i], fallback) == 0) {
            char *f = m->names[i];
            memmove(&m->names[i], &m->names[i + 1], (m->n_names - i - 1) * sizeof *m->names);
            m->names[m->n_names - 1] = f;
            return;
        }
}

pb_status segmap_new(const config *cfg, const emomodel *model, segmap **out, char *err)
{
    const char *mode = config_str(cfg, "bandit.segments");
    const char *path = config_str(cfg, "bandit.segment_map");
    if (strcmp(mode, "group") && strcmp(mode, "label") && strcmp(mode, "none"))
        return pb_errf(err, PB_ERR_INVALID,
                       "setting bandit.segments: expected group, label or none, got '%s'", mode);
    segmap *m = calloc(1, sizeof *m);
    if (!m)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    snprintf(m->mode, sizeof m->mode, "%s", mode);
    int none = !strcmp(mode, "none");
    pb_status rc = mode_names(m, model, err);
    if (rc == PB_OK && !none && *path)
        rc = read_map(m, model, path, err);
    if (rc == PB_OK)
        rc = add_name(m, none ? "all" : "unknown", "fallback", err);
    if (rc == PB_OK)
        fallback_last(m, none ? "all" : "unknown");
    if (rc != PB_OK) {
        segmap_free(m);
        return rc;
    }
    *out = m;
    return PB_OK;
}

const char *segmap_mode(const segmap *m)
{
    return m->mode;
}

size_t segmap_count(const segmap *m)
{
    return m->n_names;
}

const char *const *segmap_names(const segmap *m)
{
    return (const char *const *)m->names;
}

const char *segmap_of(const segmap *m, const char *label, const char *group)
{
    const char *fallback = m->names[m->n_names - 1], *found = NULL;
    if (!strcmp(m->mode, "none"))
        return fallback;
    const char *mapped = map_get(m, label);
    if (mapped)
        found = find_name(m, mapped);
    else if (!strcmp(m->mode, "group"))
        found = find_name(m, group);
    else
        found = find_name(m, label);
    return found ? found : fallback;
}

const char *segmap_canonical(const segmap *m, const char *name)
{
    const char *found = find_name(m, name);
    if (found && strcmp(m->mode, "none") != 0)
        return found;
    return segmap_of(m, name, name);
}
