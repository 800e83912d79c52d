/* pgsql.h — SQL text and URLs for the PostgreSQL backend, without I/O: SQLite's `?` and `?N`
 * placeholders rewritten to PostgreSQL's `$N`, so that one SQL text serves both backends, and
 * postgresql:// URLs told from file paths and shown without their password. Knows no table
 * and no connection (pgconn.h runs the statements). */
#ifndef PGSQL_H
#define PGSQL_H

#include <stdbool.h>
#include <stddef.h>

#include "base/pb.h"

#define PGSQL_MAX_PARAMS 32767 /* the most parameters a PostgreSQL statement takes */

/* True when s is a PostgreSQL URL (postgresql:// or postgres://), false for a file path. */
bool pgsql_is_url(const char *s);
/* Copies url into out (len bytes, cut to fit) with any password replaced by "***", for
 * messages and logs. */
void pgsql_url_redact(const char *url, char *out, size_t len);

/* Rewrites SQLite placeholders to PostgreSQL's: `?N` becomes `$N` and a bare `?` takes the
 * number after the largest so far (SQLite's rule); quoted strings, quoted names and comments
 * are copied untouched. *out is allocated (caller frees); *nparams = the largest number.
 * PB_ERR_INVALID for ?0 or a number above PGSQL_MAX_PARAMS. */
pb_status pgsql_translate(const char *sql, char **out, int *nparams, char *err);

#endif
