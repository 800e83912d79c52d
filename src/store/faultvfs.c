/* faultvfs.c — the "faulty" VFS: every call goes to the default VFS, except that writes,
 * truncates and syncs first read the control file and fail when it says so. */
#include "store/faultvfs.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum fault { FAULT_NONE = 0, FAULT_WRITE = 1, FAULT_FSYNC = 2, FAULT_FULL = 4 };

struct ffile {
    sqlite3_file base;
    sqlite3_file *real; /* follows this struct in the same allocation */
};

static pthread_mutex_t faultvfs_mu = PTHREAD_MUTEX_INITIALIZER;
static char faultvfs_control[1024];
static unsigned long faultvfs_failed;
static sqlite3_vfs faultvfs_vfs;
static sqlite3_vfs *faultvfs_real;

/* What the control file asks for now. Read at every call: the test flips it at any time. */
static int fault_now(void)
{
    char path[sizeof faultvfs_control], word[16] = {0};
    pthread_mutex_lock(&faultvfs_mu);
    memcpy(path, faultvfs_control, sizeof path);
    pthread_mutex_unlock(&faultvfs_mu);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return FAULT_NONE;
    ssize_t n = read(fd, word, sizeof word - 1);
    close(fd);
    if (n <= 0)
        return FAULT_NONE;
    word[strcspn(word, " \t\r\n")] = '\0';
    if (!strcmp(word, "write"))
        return FAULT_WRITE;
    if (!strcmp(word, "fsync"))
        return FAULT_FSYNC;
    if (!strcmp(word, "both"))
        return FAULT_WRITE | FAULT_FSYNC;
    if (!strcmp(word, "full"))
        return FAULT_FULL;
    return FAULT_NONE;
}

static int failed(int code)
{
    pthread_mutex_lock(&faultvfs_mu);
    faultvfs_failed++;
    pthread_mutex_unlock(&faultvfs_mu);
    return code;
}

/* The error a write or truncate gets now, or SQLITE_OK. */
static int write_fault(int io_code)
{
    int f = fault_now();
    if (f & FAULT_FULL)
        return failed(SQLITE_FULL);
    if (f & FAULT_WRITE)
        return failed(io_code);
    return SQLITE_OK;
}

#define REAL(f) (((struct ffile *)(f))->real)

static int f_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}

static int f_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}

static int f_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
    int rc = write_fault(SQLITE_IOERR_WRITE);
    return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}

static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    int rc = write_fault(SQLITE_IOERR_TRUNCATE);
    return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int f_sync(sqlite3_file *f, int flags)
{
    if (fault_now() & FAULT_FSYNC)
        return failed(SQLITE_IOERR_FSYNC);
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int f_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int f_lock(sqlite3_file *f, int lock)
{
    return REAL(f)->pMethods->xLock(REAL(f), lock);
}

static int f_unlock(sqlite3_file *f, int lock)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), lock);
}

static int f_check_lock(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int f_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int f_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int f_device(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int f_shm_map(sqlite3_file *f, int page, int size, int extend, void volatile **out)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), page, size, extend, out);
}

static int f_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}

static void f_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int f_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **out)
{
    return REAL(f)->pMethods->xFetch(REAL(f), off, n, out);
}

static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods faultvfs_io = {
    3,          f_close,       f_read,       f_write,   f_truncate, f_sync,   f_size,
    f_lock,     f_unlock,      f_check_lock, f_control, f_sector,   f_device, f_shm_map,
    f_shm_lock, f_shm_barrier, f_shm_unmap,  f_fetch,   f_unfetch,
};

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    (void)vfs;
    struct ffile *p = (struct ffile *)f;
    p->real = (sqlite3_file *)&p[1];
    int rc = faultvfs_real->xOpen(faultvfs_real, name, p->real, flags, out_flags);
    /* A file whose open failed has no methods: SQLite then calls no xClose on it. */
    p->base.pMethods = rc == SQLITE_OK && p->real->pMethods ? &faultvfs_io : NULL;
    return rc;
}

static int v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    return faultvfs_real->xDelete(faultvfs_real, name, sync_dir);
}

static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return faultvfs_real->xAccess(faultvfs_real, name, flags, out);
}

static int v_full_path(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    (void)vfs;
    return faultvfs_real->xFullPathname(faultvfs_real, name, n, out);
}

static void *v_dlopen(sqlite3_vfs *vfs, const char *name)
{
    (void)vfs;
    return faultvfs_real->xDlOpen(faultvfs_real, name);
}

static void v_dlerror(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    faultvfs_real->xDlError(faultvfs_real, n, out);
}

static void (*v_dlsym(sqlite3_vfs *vfs, void *lib, const char *sym))(void)
{
    (void)vfs;
    return faultvfs_real->xDlSym(faultvfs_real, lib, sym);
}

static void v_dlclose(sqlite3_vfs *vfs, void *lib)
{
    (void)vfs;
    faultvfs_real->xDlClose(faultvfs_real, lib);
}

static int v_random(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return faultvfs_real->xRandomness(faultvfs_real, n, out);
}

static int v_sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return faultvfs_real->xSleep(faultvfs_real, us);
}

static int v_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return faultvfs_real->xCurrentTime(faultvfs_real, out);
}

static int v_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return faultvfs_real->xGetLastError ? faultvfs_real->xGetLastError(faultvfs_real, n, out) : 0;
}

static int v_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    (void)vfs;
    return faultvfs_real->xCurrentTimeInt64(faultvfs_real, out);
}

pb_status faultvfs_register(const char *control_path, char *err)
{
    if (!control_path || !*control_path)
        return pb_errf(err, PB_ERR_INVALID,
                       "db.vfs = \"faulty\" needs db.fault_file (the control file it reads)");
    if (strlen(control_path) >= sizeof faultvfs_control)
        return pb_errf(err, PB_ERR_INVALID, "db.fault_file is longer than %zu bytes",
                       sizeof faultvfs_control - 1);
    pthread_mutex_lock(&faultvfs_mu);
    snprintf(faultvfs_control, sizeof faultvfs_control, "%s", control_path);
    int rc = SQLITE_OK;
    if (!faultvfs_real) {
        sqlite3_vfs *real = sqlite3_vfs_find(NULL);
        if (!real || real->iVersion < 2) {
            pthread_mutex_unlock(&faultvfs_mu);
            return pb_errf(err, PB_ERR_DB, "faultvfs: no default SQLite VFS to wrap");
        }
        faultvfs_vfs = (sqlite3_vfs){
            .iVersion = 2,
            .szOsFile = (int)sizeof(struct ffile) + real->szOsFile,
            .mxPathname = real->mxPathname,
            .zName = FAULTVFS_NAME,
            .xOpen = v_open,
            .xDelete = v_delete,
            .xAccess = v_access,
            .xFullPathname = v_full_path,
            .xDlOpen = v_dlopen,
            .xDlError = v_dlerror,
            .xDlSym = v_dlsym,
            .xDlClose = v_dlclose,
            .xRandomness = v_random,
            .xSleep = v_sleep,
            .xCurrentTime = v_time,
            .xGetLastError = v_last_error,
            .xCurrentTimeInt64 = v_time64,
        };
        faultvfs_real = real;
        rc = sqlite3_vfs_register(&faultvfs_vfs, 0);
        if (rc != SQLITE_OK)
            faultvfs_real = NULL;
    }
    pthread_mutex_unlock(&faultvfs_mu);
    if (rc != SQLITE_OK)
        return pb_errf(err, PB_ERR_DB, "faultvfs: sqlite3_vfs_register failed (%s)",
                       sqlite3_errstr(rc));
    return PB_OK;
}

unsigned long faultvfs_failures(void)
{
    pthread_mutex_lock(&faultvfs_mu);
    unsigned long n = faultvfs_failed;
    pthread_mutex_unlock(&faultvfs_mu);
    return n;
}
