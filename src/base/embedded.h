/* embedded.h — files compiled into the binary at build time: the schema migrations
 * (db/NNN_name.sql) and the web pages (everything under web/). The build generates the table
 * (tools/embed.cmake); this module only looks files up. Read-only data, no I/O. */
#ifndef EMBEDDED_H
#define EMBEDDED_H

#include <stddef.h>

struct embedded_file {
    const char *name;          /* path relative to the project root, e.g. "db/001_init.sql" */
    const unsigned char *data; /* NUL-terminated for convenience; len excludes the NUL */
    size_t len;
};

/* Sorted by name; terminated by an entry with name == NULL. */
extern const struct embedded_file embedded_files[];
extern const size_t embedded_files_count;

/* The file with this exact name, or NULL. */
const struct embedded_file *embedded_find(const char *name);

#endif
