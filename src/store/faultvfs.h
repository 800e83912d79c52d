/* faultvfs.h — a test-only SQLite VFS named "faulty" that wraps the default one and makes
 * writes, fsyncs or both fail on demand, or the disk look full, so that tests can run the real
 * service on a failing disk (an LD_PRELOAD shim does not mix with ASan). What fails is read
 * from a control file at every write, truncate and sync (docs/STORE.md "Disk faults"); with
 * the file absent or empty nothing fails. Registered only when db.vfs = "faulty" asks for it;
 * never the default VFS. It must not change what it passes through: reads, locks and the WAL
 * index are the wrapped VFS's own. */
#ifndef FAULTVFS_H
#define FAULTVFS_H

#include "base/pb.h"

#define FAULTVFS_NAME "faulty"

/* Registers the VFS (once per process; a later call only changes the control file) with
 * control_path as its control file. The file's first word says what fails from then on:
 * "write" (writes and truncates: SQLITE_IOERR_WRITE), "fsync" (syncs: SQLITE_IOERR_FSYNC),
 * "both", "full" (writes and truncates: SQLITE_FULL, disk full); anything else, an empty or
 * missing file: nothing. PB_ERR_INVALID for an empty path, PB_ERR_DB when SQLite refuses. */
pb_status faultvfs_register(const char *control_path, char *err);

/* Operations made to fail since the process started (writes, truncates and syncs). */
unsigned long faultvfs_failures(void);

#endif
