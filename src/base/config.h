/* config.h — settings: PB_* environment variables first (plus OPENAI_API_KEY and
 * OPENAI_BASE_URL), then a JSON config file, then the built-in defaults in config.c's table.
 * Every setting has a dotted key ("llm.base_url" <-> PB_LLM_BASE_URL, {"llm":{"base_url":..}}
 * in the file), a type checked at load, and a help line. Owns parsing and validation only;
 * it must not open databases, sockets or log anything. Secrets are never printed by it. */
#ifndef CONFIG_H
#define CONFIG_H

#include "base/pb.h"
#include <stdbool.h>
#include <stddef.h>

typedef struct config config;

/* Loads settings. json_path may be NULL: then $PB_CONFIG is used if set, else no file.
 * Unknown keys in the file, values of the wrong type and out-of-range values are errors.
 * On success *out is owned by the caller (config_free). */
pb_status config_load(const char *json_path, config **out, char *err);

/* Defaults only, ignoring the environment and any file (for tests). */
pb_status config_defaults(config **out, char *err);

void config_free(config *cfg);

/* Overrides one setting (command-line flags, tests). Validated like a loaded value. */
pb_status config_set(config *cfg, const char *key, const char *value, char *err);

/* Typed getters. Asking for a key that is not in the table aborts: it is a programming
 * error, caught by the first test that runs the code path. config_bool is true for a value of
 * "true" or "1". */
const char *config_str(const config *cfg, const char *key);
long config_int(const config *cfg, const char *key);
double config_double(const config *cfg, const char *key);
bool config_bool(const config *cfg, const char *key);

/* Iteration over all settings, for `promptbandit config show`. Secret values are shown as
 * "(set)" or "" by config_display. */
size_t config_count(void);
const char *config_key_at(size_t i);
const char *config_help_at(size_t i);
const char *config_source(const config *cfg, const char *key); /* "env", "file", "default", "set" */
const char *config_display(const config *cfg, const char *key);

#endif
