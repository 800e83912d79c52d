/* faultvfs.c — the "faulty" VFS: every call goes to the default VFS, except that writes,
 * truncates and syncs first read the control file and fail when it says so. */
#include "store/faultvfs.h"

#include "store/vfsshim.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum fault { FAULT_NONE = 0, FAULT_WRITE = 1, FAULT_FSYNC = 2, FAULT_FULL = 4 };

static pthread_mutex_t faultvfs_mu = PTHREAD_MUTEX_INITIALIZER;
static char faultvfs_control[1024];
static unsigned long faultvfs_failed;
static sqlite3_vfs faultvfs_vfs;
static sqlite3_vfs *faultvfs_real;
static sqlite3_io_methods faultvfs_io; /* the shim's pass-through, with write, truncate, sync */

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

#define REAL VFSSHIM_REAL

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

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    (void)vfs;
    struct vfsshim_file *p = (struct vfsshim_file *)f;
    p->real = (sqlite3_file *)&p[1];
    int rc = faultvfs_real->xOpen(faultvfs_real, name, p->real, flags, out_flags);
    /* A file whose open failed has no methods: SQLite then calls no xClose on it. */
    p->base.pMethods = rc == SQLITE_OK && p->real->pMethods ? &faultvfs_io : NULL;
    return rc;
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
        vfsshim_vfs_init(&faultvfs_vfs, real, FAULTVFS_NAME, (int)sizeof(struct vfsshim_file));
        faultvfs_vfs.xOpen = v_open;
        vfsshim_io_init(&faultvfs_io);
        faultvfs_io.xWrite = f_write;
        faultvfs_io.xTruncate = f_truncate;
        faultvfs_io.xSync = f_sync;
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
