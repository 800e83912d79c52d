/* pb.h — project-wide error codes, the caller-owned error buffer, small file helpers and a
 * growable byte buffer. Every module returns PB_OK (0) or a negative pb_status and writes a
 * message a person can act on into a caller-owned char err[PB_ERR_LEN]. This module owns no
 * state and does no logging; it must not depend on any other module. */
#ifndef PB_H
#define PB_H

#include <stddef.h>

#define PB_ERR_LEN 256

/* The project's status codes. As with curl's CURLcode, codes are only ever added, last (the
 * next one is -13), and never renumbered or reused: they and their pb_status_name words reach
 * API bodies and logs. tests/test_base_pb.c pins every value and name, so a renumbering fails
 * a test. */
typedef enum {
    PB_OK = 0,
    PB_ERR_INVALID = -1,     /* bad input from the caller or a file */
    PB_ERR_NOMEM = -2,       /* allocation failed */
    PB_ERR_IO = -3,          /* file or socket error */
    PB_ERR_DB = -4,          /* SQLite error, corrupt or locked database */
    PB_ERR_NOT_FOUND = -5,   /* no such impression, arm, experiment, file, ... */
    PB_ERR_CONFLICT = -6,    /* duplicate, already exists, state does not allow it */
    PB_ERR_PROVIDER = -7,    /* the LLM provider answered with an error */
    PB_ERR_TIMEOUT = -8,     /* a deadline passed */
    PB_ERR_UNAVAILABLE = -9, /* a needed service is not configured or not reachable */
    PB_ERR_VERSION = -10,    /* a file or database of another version */
    PB_ERR_FORBIDDEN = -11,  /* authentication or ownership check failed */
    PB_ERR_LIMIT = -12,      /* a budget or size limit was reached */
} pb_status;

/* Formats a message into err (PB_ERR_LEN bytes; NULL is allowed) and returns code, so that
 * a failing path reads `return pb_errf(err, PB_ERR_INVALID, "line %d: ...", n);`. A message
 * longer than the buffer is cut between UTF-8 characters, never inside one. */
pb_status pb_errf(char *err, pb_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A short stable name for a status ("invalid", "not_found", ...), used in JSON errors;
 * "error" for a value that is not a pb_status. */
const char *pb_status_name(pb_status code);

/* Reads a whole file into a NUL-terminated buffer the caller frees; *len gets the size
 * without the NUL (len may be NULL). Refuses files larger than max_bytes. */
pb_status pb_read_file(const char *path, size_t max_bytes, char **out, size_t *len, char *err);

/* Writes data to path atomically (temporary file in the same folder, fsync, rename). */
pb_status pb_write_file_atomic(const char *path, const void *data, size_t len, char *err);

/* A growable byte buffer, always NUL-terminated after its first append so text can be read in
 * place. Start from {0}; the owner releases it with pb_buf_free. */
struct pb_buf {
    char *data; /* NULL until the first append */
    size_t len; /* bytes appended, without the NUL */
    size_t cap;
};

/* Appends n bytes of data (capacity doubles as needed). PB_ERR_NOMEM leaves b unchanged; the
 * caller enforces any size limit before appending. */
pb_status pb_buf_append(struct pb_buf *b, const void *data, size_t n);
void pb_buf_free(struct pb_buf *b);

/* Monotonic and wall-clock time in seconds. */
double pb_now_monotonic(void);
double pb_now_wall(void);

#endif
