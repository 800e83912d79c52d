/* powervfs.h — a test-only SQLite VFS named "powerloss" that simulates a power cut. It wraps
 * the default VFS (every call goes through, so the process sees a normal disk) and records, in
 * order, every write, truncate, sync and delete of the database and WAL files opened through
 * it. Afterwards powervfs_materialise rebuilds, for any point of that log, what a power cut
 * there would leave on the platter: per file the content as of its last sync before the
 * point; every write or truncate after that sync is lost, a file created since and never
 * synced does not exist (SQLite syncs the directory with a new WAL's first sync), and the WAL
 * index (-shm, memory-mapped, rebuilt from the WAL at the next open) is never kept; of the
 * unsynced writes either none survives or a random subset does (SQLite's own crash tests
 * model a power cut the same way).
 * One recording per process at a time; it must not be used outside tests (the log holds a
 * copy of every byte written). */
#ifndef POWERVFS_H
#define POWERVFS_H

#include <stddef.h>
#include <stdint.h>

#include "base/pb.h"

#define POWERVFS_NAME "powerloss"

/* Registers the VFS (once per process) and starts a new, empty recording: files opened from
 * now on are recorded, starting from their content on disk at their first open. Open no
 * handle through the VFS across a restart. PB_ERR_DB when SQLite refuses. */
pb_status powervfs_start(char *err);

/* Operations recorded so far: the clock of the log. Something acknowledged when this returned
 * c happened after operations 0 .. c-1 and survives a cut at any point >= c when it was synced. */
uint64_t powervfs_ops(void);

/* The indices of the recorded syncs (caller frees *out); *n their count. */
pb_status powervfs_syncs(uint64_t **out, size_t *n, char *err);

/* Writes into dir (which must exist) the files a power cut just before operation `cut` would
 * leave (cut = powervfs_ops() once done: a cut at the very end), each under its base name;
 * files that would not exist are not written. seed 0: every write or truncate not yet synced
 * is lost; otherwise each of them reaches the disk anyway with probability 1/2 (chosen from
 * seed, applied in their order: a disk that wrote some of its cache before the power went,
 * in any order SQLite did not fence with a sync); *survived (may be NULL) gets how many did.
 * PB_ERR_INVALID for a cut past the end. */
pb_status powervfs_materialise(uint64_t cut, uint64_t seed, const char *dir, size_t *survived,
                               char *err);

/* Frees the recording. Every handle opened through the VFS must be closed. */
void powervfs_stop(void);

#endif
