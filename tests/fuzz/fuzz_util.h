/* fuzz_util.h — helpers shared by the libFuzzer targets: a NUL-terminated copy of the input
 * for parsers that take C strings, and a memory-backed file holding the input for readers that
 * take a path (memfd, named through /proc/self/fd, so no disk I/O and nothing left behind).
 * Test code only; header-only so each target stays one file. */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A malloc'd copy of data[0..size) with a NUL after it (the caller frees); NULL when out of
 * memory. Inner NULs stay: string parsers then see a prefix, as they would from a file. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s) {
        if (size)
            memcpy(s, data, size);
        s[size] = '\0';
    }
    return s;
}

/* Replaces the contents of memory file slot (0..3, one per file a target needs) with
 * data[0..size) and returns its path (static storage), or NULL when that fails. */
static inline const char *fuzz_file(int slot, const uint8_t *data, size_t size)
{
    static int fd[4] = {-1, -1, -1, -1};
    static char path[4][64];
    if (slot < 0 || slot > 3)
        return NULL;
    if (fd[slot] < 0) {
        fd[slot] = (int)syscall(SYS_memfd_create, "fuzz", 0u);
        if (fd[slot] < 0)
            return NULL;
        snprintf(path[slot], sizeof path[slot], "/proc/self/fd/%d", fd[slot]);
    }
    if (ftruncate(fd[slot], 0) != 0)
        return NULL;
    for (size_t off = 0; off < size;) {
        ssize_t w = pwrite(fd[slot], data + off, size - off, (off_t)off);
        if (w <= 0)
            return NULL;
        off += (size_t)w;
    }
    return path[slot];
}

#endif
