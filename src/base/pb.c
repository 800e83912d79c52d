/* pb.c — error formatting, status names, whole-file read and atomic write, the growable
 * buffer, clocks. */
#include "base/pb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

pb_status pb_errf(char *err, pb_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err, PB_ERR_LEN, fmt, ap);
        va_end(ap);
        if (n >= PB_ERR_LEN) { /* cut short: never inside a UTF-8 sequence */
            size_t i = PB_ERR_LEN - 1;
            while (i > 0 && ((unsigned char)err[i - 1] & 0xC0) == 0x80)
                i--;
            unsigned char lead = i > 0 ? (unsigned char)err[i - 1] : 0;
            size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
            if (PB_ERR_LEN - 1 - (i - 1) < need && lead >= 0xC0)
                err[i - 1] = '\0';
        }
    }
    return code;
}

const char *pb_status_name(pb_status code)
{
    switch (code) {
    case PB_OK:
        return "ok";
    case PB_ERR_INVALID:
        return "invalid";
    case PB_ERR_NOMEM:
        return "no_memory";
    case PB_ERR_IO:
        return "io";
    case PB_ERR_DB:
        return "database";
    case PB_ERR_NOT_FOUND:
        return "not_found";
    case PB_ERR_CONFLICT:
        return "conflict";
    case PB_ERR_PROVIDER:
        return "provider";
    case PB_ERR_TIMEOUT:
        return "timeout";
    case PB_ERR_UNAVAILABLE:
        return "unavailable";
    case PB_ERR_VERSION:
        return "version";
    case PB_ERR_FORBIDDEN:
        return "forbidden";
    case PB_ERR_LIMIT:
        return "limit";
    default:
        return "error";
    }
}

pb_status pb_read_file(const char *path, size_t max_bytes, char **out, size_t *len, char *err)
{
    pb_status rc = PB_OK;
    char *buf = NULL;
    FILE *f = fopen(path, "rb");
    *out = NULL;
    if (!f)
        return pb_errf(err, errno == ENOENT ? PB_ERR_NOT_FOUND : PB_ERR_IO, "%s: %s", path,
                       strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = pb_errf(err, PB_ERR_IO, "%s: not a regular file", path);
        goto cleanup;
    }
    if ((size_t)st.st_size > max_bytes) {
        rc = pb_errf(err, PB_ERR_LIMIT, "%s: %lld bytes, more than the limit of %zu", path,
                     (long long)st.st_size, max_bytes);
        goto cleanup;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        rc = pb_errf(err, PB_ERR_NOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    size_t n = fread(buf, 1, (size_t)st.st_size, f);
    if (n != (size_t)st.st_size) {
        rc = pb_errf(err, PB_ERR_IO, "%s: short read", path);
        goto cleanup;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    *out = buf;
    buf = NULL;
cleanup:
    free(buf);
    fclose(f);
    return rc;
}

pb_status pb_write_file_atomic(const char *path, const void *data, size_t len, char *err)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    int fd = -1;
    pb_status rc = PB_OK;
    if (!tmp)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    snprintf(tmp, plen + 16, "%s.tmpXXXXXX", path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        rc = pb_errf(err, PB_ERR_IO, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = pb_errf(err, PB_ERR_IO, "%s: %s", path, strerror(errno));
            goto cleanup;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
        rc = pb_errf(err, PB_ERR_IO, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = pb_errf(err, PB_ERR_IO, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
cleanup:
    if (fd >= 0)
        close(fd);
    if (rc != PB_OK)
        unlink(tmp);
    free(tmp);
    return rc;
}

pb_status pb_buf_append(struct pb_buf *b, const void *data, size_t n)
{
    if (n >= SIZE_MAX / 2 - b->len)
        return PB_ERR_NOMEM;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown)
            return PB_ERR_NOMEM;
        b->data = grown;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return PB_OK;
}

void pb_buf_free(struct pb_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

double pb_now_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double pb_now_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
