/* vfsshim.c — pass-through file methods and VFS calls for the test VFSes (see vfsshim.h). */
#include "store/vfsshim.h"

#define REAL VFSSHIM_REAL

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
    return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}

static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int f_sync(sqlite3_file *f, int flags)
{
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

void vfsshim_io_init(sqlite3_io_methods *io)
{
    *io = (sqlite3_io_methods){
        3,          f_close,       f_read,       f_write,   f_truncate, f_sync,   f_size,
        f_lock,     f_unlock,      f_check_lock, f_control, f_sector,   f_device, f_shm_map,
        f_shm_lock, f_shm_barrier, f_shm_unmap,  f_fetch,   f_unfetch,
    };
}

#define W VFSSHIM_WRAPPED

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
    return W(vfs)->xOpen(W(vfs), name, f, flags, out);
}

static int v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    return W(vfs)->xDelete(W(vfs), name, sync_dir);
}

static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    return W(vfs)->xAccess(W(vfs), name, flags, out);
}

static int v_full_path(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    return W(vfs)->xFullPathname(W(vfs), name, n, out);
}

static void *v_dlopen(sqlite3_vfs *vfs, const char *name)
{
    return W(vfs)->xDlOpen(W(vfs), name);
}

static void v_dlerror(sqlite3_vfs *vfs, int n, char *out)
{
    W(vfs)->xDlError(W(vfs), n, out);
}

static void (*v_dlsym(sqlite3_vfs *vfs, void *lib, const char *sym))(void)
{
    return W(vfs)->xDlSym(W(vfs), lib, sym);
}

static void v_dlclose(sqlite3_vfs *vfs, void *lib)
{
    W(vfs)->xDlClose(W(vfs), lib);
}

static int v_random(sqlite3_vfs *vfs, int n, char *out)
{
    return W(vfs)->xRandomness(W(vfs), n, out);
}

static int v_sleep(sqlite3_vfs *vfs, int us)
{
    return W(vfs)->xSleep(W(vfs), us);
}

static int v_time(sqlite3_vfs *vfs, double *out)
{
    return W(vfs)->xCurrentTime(W(vfs), out);
}

static int v_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    return W(vfs)->xGetLastError ? W(vfs)->xGetLastError(W(vfs), n, out) : 0;
}

static int v_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    return W(vfs)->xCurrentTimeInt64(W(vfs), out);
}

void vfsshim_vfs_init(sqlite3_vfs *vfs, sqlite3_vfs *real, const char *name, int file_size)
{
    *vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = file_size + real->szOsFile,
        .mxPathname = real->mxPathname,
        .zName = name,
        .pAppData = real,
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
}
