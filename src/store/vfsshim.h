/* vfsshim.h — the pass-through SQLite VFS the test VFSes are built on (faultvfs, powervfs):
 * a file whose every method forwards to the wrapped VFS's file, and a VFS whose every call
 * forwards to the wrapped VFS. A shim copies the pass-through tables, overrides the few methods
 * it watches (write, truncate, sync, open, delete) and registers its VFS. Test support only:
 * nothing here is on unless a test or `db.vfs` asks; no SQL, no policy. */
#ifndef VFSSHIM_H
#define VFSSHIM_H

#include <sqlite3.h>

/* The head of every shim's file struct. `real` points just past the shim's own struct, in
 * the same allocation (szOsFile = the shim's size + the wrapped VFS's). */
struct vfsshim_file {
    sqlite3_file base;
    sqlite3_file *real;
};

/* The wrapped file of a shim file. */
#define VFSSHIM_REAL(f) (((struct vfsshim_file *)(f))->real)

/* Fills io with methods that forward everything to VFSSHIM_REAL(f) (iVersion 3). */
void vfsshim_io_init(sqlite3_io_methods *io);

/* Fills vfs as a version-2 VFS named name that wraps real: every call forwards to real (found
 * again through pAppData), xOpen included; file_size is the shim's file struct size. The
 * caller overrides xOpen / xDelete as it needs, then registers it. */
void vfsshim_vfs_init(sqlite3_vfs *vfs, sqlite3_vfs *real, const char *name, int file_size);

/* The VFS a shim VFS wraps. */
#define VFSSHIM_WRAPPED(vfs) ((sqlite3_vfs *)(vfs)->pAppData)

#endif
