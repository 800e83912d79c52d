/* check.h — the tiny test harness every C test uses: CHECK macros that count
 * failures and keep going, RUN to name each behaviour, helpers for temporary folders and
 * for the shared datasets (a missing dataset is a failure, never a skip). Header-only. */
#ifndef CHECK_H
#define CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                      \
        if (va_ != vb_) {                                                                          \
            fprintf(stderr, "%s:%d: CHECK_INT failed: %s == %lld, expected %lld\n", __FILE__,      \
                    __LINE__, #a, va_, vb_);                                                       \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                      \
    do {                                                                                           \
        double va_ = (double)(a), vb_ = (double)(b);                                               \
        if (!(fabs(va_ - vb_) <= (tol))) {                                                         \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s == %.9g, expected %.9g +- %g\n",         \
                    __FILE__, __LINE__, #a, va_, vb_, (double)(tol));                              \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *va_ = (a), *vb_ = (b);                                                         \
        if (!va_ || !vb_ || strcmp(va_, vb_) != 0) {                                               \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s == \"%s\", expected \"%s\"\n", __FILE__,  \
                    __LINE__, #a, va_ ? va_ : "(null)", vb_ ? vb_ : "(null)");                     \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

/* Runs one test function and prints one line naming it. */
#define RUN(fn)                                                                                    \
    do {                                                                                           \
        int before_ = check_failures;                                                              \
        fn();                                                                                      \
        printf("%s %s\n", check_failures == before_ ? "ok  " : "FAIL", #fn);                       \
        fflush(stdout);                                                                            \
    } while (0)

/* Ends main: prints the plain "N passed, N failed"-style summary and the exit code. */
#define CHECK_DONE()                                                                               \
    do {                                                                                           \
        printf("%s: %d check(s) failed\n", check_failures ? "FAILED" : "PASSED", check_failures);  \
        return check_failures ? 1 : 0;                                                             \
    } while (0)

/* Creates a fresh temporary folder; the path is static storage valid until the next call. */
static inline const char *check_tmpdir(void)
{
    static char path[256];
    const char *base = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/pbtest-XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(path)) {
        perror("mkdtemp");
        exit(2);
    }
    return path;
}

/* Path of a file under the shared datasets (PB_DATA_DIR). Exits with a clear message when
 * the file is missing: a test that needs data must fail, not pass, without it. */
static inline const char *check_data_path(const char *rel)
{
    static char path[1024];
    const char *dir = getenv("PB_DATA_DIR");
    if (!dir)
        dir = "../shared/data";
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr,
                "missing dataset %s: put ../shared/data beside the project or set PB_DATA_DIR\n",
                path);
        exit(2);
    }
    fclose(f);
    return path;
}

/* Path of a file in the source tree (PB_SOURCE_DIR, default "."). */
static inline const char *check_source_path(const char *rel)
{
    static char path[1024];
    const char *dir = getenv("PB_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/%s", dir ? dir : ".", rel);
    return path;
}

#endif
