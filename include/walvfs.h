/*
 * walvfs.h - an SQLite VFS that writes each commit's WAL frames with one
 * system call instead of two per page.
 *
 * Only for a connection that runs with synchronous=FULL (or EXTRA): the
 * frames of a commit are held in memory until SQLite syncs the WAL,
 * which FULL does at every commit, before any other connection can be
 * told the frames exist.  Every other file, and every other call, goes
 * to the default VFS unchanged.  Not for locking_mode=EXCLUSIVE, where
 * SQLite never lets go of the WAL write lock through xShmLock: what is
 * buffered at a rollback would wait until close, and a failed write
 * would fail every later one.
 */
#ifndef ANTOMD_WALVFS_H
#define ANTOMD_WALVFS_H

#define WALVFS_NAME	"antomd-wal"

/*
 * Register the VFS under WALVFS_NAME (not as the default), once; safe to
 * call from any thread, any number of times.  0, or -1 when SQLite has no
 * default VFS or refuses the registration.
 */
int	walvfs_register(void);

#endif
