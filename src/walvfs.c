/*
 * walvfs.c - a thin SQLite VFS over the default one that coalesces the
 * writes to the write-ahead log.
 *
 * Why: SQLite writes each WAL frame with two pwrite() calls, the 24-byte
 * frame header and the page.  A batch of 64 notifications dirties about
 * 300 pages, so a commit cost 600 system calls, each paying the file
 * system's per-call price (about 3 us here, against 0.4 us per page for
 * one large write: see bench/results).  Here the frames a connection
 * appends are gathered in a buffer and written with one call.
 *
 * Why it is safe: a buffered frame is flushed before anything can depend
 * on it.  The buffer is written out, in order, before the WAL is synced,
 * read, truncated, sized, closed or handed to a file control, before any
 * write that does not simply extend it, and before the connection lets
 * go of the WAL write lock (so the frames of a rolled-back transaction
 * cannot land on another writer's).  With synchronous=FULL SQLite syncs
 * the WAL at every commit before it publishes the new frames in the
 * shared-memory index, so no reader, in this process or another, can
 * look for a frame that is still only in memory.  A failed flush fails
 * every later write and sync of the WAL until the write lock is given
 * up, so that transaction cannot commit.  Without powersafe overwrite
 * SQLite pads a commit after its sync: then nothing is buffered.  The
 * main database, its shared memory, journals and temporary files are
 * passed to the default VFS untouched.
 *
 * Thread safety: one file object is used by one connection at a time, as
 * SQLite requires, and so are a database and its WAL, linked while both
 * are open; the VFS itself is registered once (pthread_once) and holds no
 * other state.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "walvfs.h"

/*
 * 30 frames of 4 KiB pages per write.  Not more: the default unix VFS
 * writes at most 128 KiB per pwrite() (seekAndWriteFd() masks the length
 * with 0x1ffff), and SQLite 3.40 reports SQLITE_FULL for a write whose
 * remainder is an exact multiple of 128 KiB.  Found by this project's
 * benchmark; with a 2 MiB buffer test_walvfs_coalesces fails so.
 */
#define WALVFS_BUF_MAX	(124 * 1024)

struct walvfs_file {
	sqlite3_file	 base;		/* our methods; must come first */
	sqlite3_file	*real;		/* the default VFS's file, just after us */
	int		 wal;		/* a write-ahead log: writes are buffered */
	unsigned char	*buf;		/* pending bytes for [off, off + len) */
	size_t		 len;
	sqlite3_int64	 off;
	int		 err;		/* a flush failed: fail until unlocked */
	/* A database and its WAL, linked both ways while both are open. */
	struct walvfs_file *walf;	/* on the database: its WAL */
	struct walvfs_file *dbf;	/* on the WAL: its database */
};

/* The real file lives right after ours, at the alignment SQLite uses. */
#define WALVFS_REAL_OFFSET	((sizeof(struct walvfs_file) + 7) & ~(size_t)7)

static sqlite3_vfs	 walvfs_vfs;
static sqlite3_vfs	*walvfs_base;
static pthread_once_t	 walvfs_once = PTHREAD_ONCE_INIT;
static int		 walvfs_rc = -1;

/*
 * Write out what is buffered; the buffer is empty afterwards either way.
 * A failure sticks (walvfs_check) until the connection gives up the WAL
 * write lock: SQLite may go on after an error surfaced in a read, and
 * must not commit frames that were never written.
 */
static int
walvfs_flush(struct walvfs_file *f)
{
	int rc;

	if (f->len == 0)
		return SQLITE_OK;
	rc = f->real->pMethods->xWrite(f->real, f->buf, (int)f->len, f->off);
	f->len = 0;
	if (rc != SQLITE_OK && f->err == SQLITE_OK)
		f->err = rc;
	return rc;
}

/* Flush, or the error of an earlier flush in this write transaction. */
static int
walvfs_check(struct walvfs_file *f)
{
	int rc = walvfs_flush(f);

	return rc != SQLITE_OK ? rc : f->err;
}

/* A flush failed where no write was asked for: an I/O error, not FULL. */
static int
walvfs_io(int rc)
{
	return rc == SQLITE_OK ? rc : SQLITE_IOERR_WRITE;
}

static int
walvfs_close(sqlite3_file *file)
{
	struct walvfs_file *f = (struct walvfs_file *)file;
	int rc = walvfs_flush(f), rc2;

	if (f->dbf != NULL)
		f->dbf->walf = NULL;
	if (f->walf != NULL)
		f->walf->dbf = NULL;
	rc2 = f->real->pMethods->xClose(f->real);
	free(f->buf);
	f->buf = NULL;
	return rc != SQLITE_OK ? rc : rc2;
}

static int
walvfs_read(sqlite3_file *file, void *p, int n, sqlite3_int64 off)
{
	struct walvfs_file *f = (struct walvfs_file *)file;
	int rc;

	if ((rc = walvfs_check(f)) != SQLITE_OK)
		return walvfs_io(rc);
	return f->real->pMethods->xRead(f->real, p, n, off);
}

static int
walvfs_write(sqlite3_file *file, const void *p, int n, sqlite3_int64 off)
{
	struct walvfs_file *f = (struct walvfs_file *)file;
	int rc;

	if (!f->wal || n <= 0)
		return f->real->pMethods->xWrite(f->real, p, n, off);
	if (f->err != SQLITE_OK)
		return f->err;
	/* Only a write that extends the buffer joins it. */
	if (f->len > 0 && (off != f->off + (sqlite3_int64)f->len ||
	    f->len + (size_t)n > WALVFS_BUF_MAX)) {
		if ((rc = walvfs_flush(f)) != SQLITE_OK)
			return rc;
	}
	if ((size_t)n > WALVFS_BUF_MAX)
		return f->real->pMethods->xWrite(f->real, p, n, off);
	if (f->buf == NULL && (f->buf = malloc(WALVFS_BUF_MAX)) == NULL)
		return f->real->pMethods->xWrite(f->real, p, n, off);
	if (f->len == 0)
		f->off = off;
	memcpy(f->buf + f->len, p, (size_t)n);
	f->len += (size_t)n;
	return SQLITE_OK;
}

static int
walvfs_truncate(sqlite3_file *file, sqlite3_int64 size)
{
	struct walvfs_file *f = (struct walvfs_file *)file;
	int rc;

	if ((rc = walvfs_check(f)) != SQLITE_OK)
		return rc;
	return f->real->pMethods->xTruncate(f->real, size);
}

static int
walvfs_sync(sqlite3_file *file, int flags)
{
	struct walvfs_file *f = (struct walvfs_file *)file;
	int rc;

	if ((rc = walvfs_check(f)) != SQLITE_OK)
		return rc;
	return f->real->pMethods->xSync(f->real, flags);
}

static int
walvfs_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
	struct walvfs_file *f = (struct walvfs_file *)file;
	int rc;

	if ((rc = walvfs_check(f)) != SQLITE_OK)
		return walvfs_io(rc);
	return f->real->pMethods->xFileSize(f->real, size);
}

static int
walvfs_lock(sqlite3_file *file, int level)
{
	struct walvfs_file *f = (struct walvfs_file *)file;

	return f->real->pMethods->xLock(f->real, level);
}

static int
walvfs_unlock(sqlite3_file *file, int level)
{
	struct walvfs_file *f = (struct walvfs_file *)file;

	return f->real->pMethods->xUnlock(f->real, level);
}

static int
walvfs_check_reserved(sqlite3_file *file, int *out)
{
	struct walvfs_file *f = (struct walvfs_file *)file;

	return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int
walvfs_file_control(sqlite3_file *file, int op, void *arg)
{
	struct walvfs_file *f = (struct walvfs_file *)file;
	int rc;

	/* Some controls look at the file (size hints, chunk sizes). */
	if ((rc = walvfs_check(f)) != SQLITE_OK)
		return walvfs_io(rc);
	return f->real->pMethods->xFileControl(f->real, op, arg);
}

static int
walvfs_sector_size(sqlite3_file *file)
{
	struct walvfs_file *f = (struct walvfs_file *)file;

	return f->real->pMethods->xSectorSize(f->real);
}

static int
walvfs_device(sqlite3_file *file)
{
	struct walvfs_file *f = (struct walvfs_file *)file;

	return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int
walvfs_shm_map(sqlite3_file *file, int pg, int pgsz, int extend,
    void volatile **p)
{
	struct walvfs_file *f = (struct walvfs_file *)file;

	return f->real->pMethods->xShmMap(f->real, pg, pgsz, extend, p);
}

/*
 * On the database file.  A transaction that spilled pages to the WAL and
 * was rolled back syncs nothing: its frames would sit in the buffer and
 * be written later, over frames another connection committed once this
 * one let go of the WAL write lock (slot 0).  They go out before the
 * lock does; a write transaction starts with no error held.
 */
static int
walvfs_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
	struct walvfs_file *f = (struct walvfs_file *)file;

	if ((flags & SQLITE_SHM_UNLOCK) && offset == 0 && f->walf != NULL) {
		walvfs_flush(f->walf);
		f->walf->err = SQLITE_OK;
	}
	return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static void
walvfs_shm_barrier(sqlite3_file *file)
{
	struct walvfs_file *f = (struct walvfs_file *)file;

	f->real->pMethods->xShmBarrier(f->real);
}

static int
walvfs_shm_unmap(sqlite3_file *file, int del)
{
	struct walvfs_file *f = (struct walvfs_file *)file;

	return f->real->pMethods->xShmUnmap(f->real, del);
}

static int
walvfs_fetch(sqlite3_file *file, sqlite3_int64 off, int n, void **pp)
{
	struct walvfs_file *f = (struct walvfs_file *)file;

	return f->real->pMethods->xFetch(f->real, off, n, pp);
}

static int
walvfs_unfetch(sqlite3_file *file, sqlite3_int64 off, void *p)
{
	struct walvfs_file *f = (struct walvfs_file *)file;

	return f->real->pMethods->xUnfetch(f->real, off, p);
}

static const sqlite3_io_methods walvfs_methods = {
	3,
	walvfs_close, walvfs_read, walvfs_write, walvfs_truncate, walvfs_sync,
	walvfs_file_size, walvfs_lock, walvfs_unlock, walvfs_check_reserved,
	walvfs_file_control, walvfs_sector_size, walvfs_device,
	walvfs_shm_map, walvfs_shm_lock, walvfs_shm_barrier, walvfs_shm_unmap,
	walvfs_fetch, walvfs_unfetch
};

static int
walvfs_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file,
    int flags, int *outflags)
{
	struct walvfs_file *f = (struct walvfs_file *)file;
	int rc;

	(void)vfs;
	memset(f, 0, sizeof(*f));
	f->real = (sqlite3_file *)((char *)file + WALVFS_REAL_OFFSET);
	rc = walvfs_base->xOpen(walvfs_base, name, f->real, flags, outflags);
	if (rc != SQLITE_OK || f->real->pMethods == NULL) {
		/* SQLite calls no method of a file whose pMethods is NULL. */
		f->base.pMethods = NULL;
		return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
	}
	if (f->real->pMethods->iVersion < 3) {
		f->real->pMethods->xClose(f->real);
		f->base.pMethods = NULL;
		return SQLITE_CANTOPEN;
	}
	f->base.pMethods = &walvfs_methods;
	if ((flags & SQLITE_OPEN_WAL) && name != NULL) {
		sqlite3_file *db = sqlite3_database_file_object(name);

		/*
		 * Buffer only with the database file linked (its WAL write
		 * lock flushes, walvfs_shm_lock), and only where SQLite pads no
		 * frame after the commit's sync: with powersafe overwrite, the
		 * default unless a "psow=0" URI turns it off.
		 */
		if (db != NULL && db->pMethods == &walvfs_methods) {
			f->dbf = (struct walvfs_file *)db;
			f->dbf->walf = f;
			f->wal = (f->dbf->real->pMethods->xDeviceCharacteristics(
			    f->dbf->real) & SQLITE_IOCAP_POWERSAFE_OVERWRITE) != 0;
		}
	}
	return SQLITE_OK;
}

/* The rest is the default VFS's. */
static int
walvfs_delete(sqlite3_vfs *vfs, const char *name, int sync)
{
	(void)vfs;
	return walvfs_base->xDelete(walvfs_base, name, sync);
}

static int
walvfs_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return walvfs_base->xAccess(walvfs_base, name, flags, out);
}

static int
walvfs_full_path(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return walvfs_base->xFullPathname(walvfs_base, name, n, out);
}

static void *
walvfs_dlopen(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs;
	return walvfs_base->xDlOpen(walvfs_base, name);
}

static void
walvfs_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
	(void)vfs;
	walvfs_base->xDlError(walvfs_base, n, msg);
}

static void (*walvfs_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	(void)vfs;
	return walvfs_base->xDlSym(walvfs_base, h, sym);
}

static void
walvfs_dlclose(sqlite3_vfs *vfs, void *h)
{
	(void)vfs;
	walvfs_base->xDlClose(walvfs_base, h);
}

static int
walvfs_randomness(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return walvfs_base->xRandomness(walvfs_base, n, out);
}

static int
walvfs_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return walvfs_base->xSleep(walvfs_base, us);
}

static int
walvfs_time(sqlite3_vfs *vfs, double *out)
{
	(void)vfs;
	return walvfs_base->xCurrentTime(walvfs_base, out);
}

static int
walvfs_last_error(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return walvfs_base->xGetLastError(walvfs_base, n, out);
}

static int
walvfs_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
	(void)vfs;
	return walvfs_base->xCurrentTimeInt64(walvfs_base, out);
}

static void
walvfs_init(void)
{
	if ((walvfs_base = sqlite3_vfs_find(NULL)) == NULL ||
	    walvfs_base->iVersion < 2)
		return;
	walvfs_vfs.iVersion = 2;
	walvfs_vfs.szOsFile = (int)WALVFS_REAL_OFFSET + walvfs_base->szOsFile;
	walvfs_vfs.mxPathname = walvfs_base->mxPathname;
	walvfs_vfs.zName = WALVFS_NAME;
	walvfs_vfs.xOpen = walvfs_open;
	walvfs_vfs.xDelete = walvfs_delete;
	walvfs_vfs.xAccess = walvfs_access;
	walvfs_vfs.xFullPathname = walvfs_full_path;
	walvfs_vfs.xDlOpen = walvfs_dlopen;
	walvfs_vfs.xDlError = walvfs_dlerror;
	walvfs_vfs.xDlSym = walvfs_dlsym;
	walvfs_vfs.xDlClose = walvfs_dlclose;
	walvfs_vfs.xRandomness = walvfs_randomness;
	walvfs_vfs.xSleep = walvfs_sleep;
	walvfs_vfs.xCurrentTime = walvfs_time;
	walvfs_vfs.xGetLastError = walvfs_last_error;
	walvfs_vfs.xCurrentTimeInt64 = walvfs_time64;
	walvfs_rc = sqlite3_vfs_register(&walvfs_vfs, 0) == SQLITE_OK ? 0 : -1;
}

int
walvfs_register(void)
{
	pthread_once(&walvfs_once, walvfs_init);
	return walvfs_rc;
}
