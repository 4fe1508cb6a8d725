/*
 * store_db.c - the writer's SQLite connection: open and set up (WAL,
 * synchronous=FULL, checked rather than trusted), the busy handler,
 * reconnecting to a database that was read-only, and the helpers every
 * statement goes through (bind, step, ROLLBACK).
 *
 * The connection is the writer thread's (struct store_writer), or while
 * no writer runs, store_apply()'s and store_replay()'s caller's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "store_int.h"
#include "util.h"
#include "walvfs.h"

const char *const store_db_sql[S_STATE_FIRST - S_DB_FIRST] = {
	[S_BEGIN - S_DB_FIRST] = "BEGIN IMMEDIATE",
	[S_COMMIT - S_DB_FIRST] = "COMMIT",
	[S_ROLLBACK - S_DB_FIRST] = "ROLLBACK",
};

/*
 * Busy handler of the writer connection: wait for another process's lock
 * up to busy_timeout_ms (then the batch fails and is answered 503), but
 * give up at once when a shutdown has run out of time.
 */
static int
store_busy(void *arg, int count)
{
	struct store *s = arg;
	uint64_t now = util_mono_us();

	if (count == 0)
		s->w.busy_since = now;
	if (s->w.no_wait || atomic_load(&s->aborting) ||
	    now - s->w.busy_since >= (uint64_t)s->opt.busy_timeout_ms * 1000u)
		return 0;
	usleep(count < 10 ? 1000 : 10000);
	return 1;
}

/* WAL or nothing: the readers-beside-the-writer promise depends on it. */
static int
store_wal(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	const unsigned char *mode;
	int ok = 0;

	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st,
	    NULL) != SQLITE_OK) {
		util_err(err, errlen, "%s", sqlite3_errmsg(db));
		return -1;
	}
	if (sqlite3_step(st) == SQLITE_ROW &&
	    (mode = sqlite3_column_text(st, 0)) != NULL)
		ok = strcmp((const char *)mode, "wal") == 0;
	if (!ok)
		util_err(err, errlen, "cannot put the database in WAL mode: %s",
		    sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}

/* Close the connection and its statements; the store stays. */
void
store_disconnect(struct store *s)
{
	int i;

	for (i = 0; i < S_COUNT; i++) {
		sqlite3_finalize(s->w.stmt[i]);
		s->w.stmt[i] = NULL;
	}
	if (s->w.db != NULL && sqlite3_close(s->w.db) != SQLITE_OK)
		log_warnx("database close: %s", sqlite3_errmsg(s->w.db));
	s->w.db = NULL;
}

/*
 * database_group_write: the database and the -wal and -shm files SQLite
 * made gain the group's read and write bits, so a merchant application in
 * the group can write refund_links.  SQLite creates its files 0644 less
 * the umask, so no umask can do this; and it gives a -wal or -shm made
 * later the database's mode.  Only regular files we own, opened without
 * following a symbolic link (the directory may not be ours alone), and
 * only ever adding those bits.  A failure is logged and the daemon goes
 * on: its own writes do not depend on it.
 */
static void
store_group_write(const struct store *s)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	char path[4096];
	struct stat sb;
	size_t i;
	int fd;

	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", s->path, suffix[i]);
		if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
		    O_CLOEXEC)) == -1) {
			if (errno != ENOENT)
				log_warnx("database_group_write: %s: %s", path,
				    strerror(errno));
			continue;
		}
		if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
		    sb.st_uid != geteuid())
			log_warnx("database_group_write: %s is not a file of "
			    "ours: left as it is", path);
		else if ((sb.st_mode & 060) != 060 &&
		    fchmod(fd, (sb.st_mode & 07777) | 060) != 0)
			log_warnx("database_group_write: chmod %s: %s", path,
			    strerror(errno));
		close(fd);
	}
}

/*
 * A migration is one transaction, and the one of version 9 reads the
 * whole notifications table: about a minute for 4 million notifications.
 * The hook (main.c: systemd's start timeout extended) runs as it begins,
 * then from SQLite's progress handler, called every STORE_MIGRATE_OPS
 * instructions of a statement, at most every STORE_MIGRATE_TICK_US.
 */
#define STORE_MIGRATE_OPS	10000
#define STORE_MIGRATE_TICK_US	(5 * 1000000u)

static _Atomic(store_migrate_fn) store_migrate_hook;
static _Atomic uint64_t store_migrate_last;

void
store_set_migrate_hook(store_migrate_fn fn)
{
	atomic_store(&store_migrate_hook, fn);
}

static int
store_migrate_tick(void *arg)
{
	store_migrate_fn fn = atomic_load(&store_migrate_hook);
	uint64_t now = util_mono_us(), last;

	(void)arg;
	last = atomic_load(&store_migrate_last);
	if (fn != NULL && (last == 0 || now - last >= STORE_MIGRATE_TICK_US) &&
	    atomic_compare_exchange_strong(&store_migrate_last, &last, now))
		fn();
	return 0;	/* never interrupts the migration */
}

/*
 * Open the connection, set it up and prepare the statements.  0 ready;
 * 1 the database is read-only (file permissions, a read-only file
 * system) but holds the current schema, and is left closed; -1 with err.
 */
int
store_connect(struct store *s, char *err, size_t errlen)
{
	size_t k;
	uint64_t t0 = 0;
	int i, version, from = 0, sync = 0, persist = 1;

	/* walvfs.h: safe because synchronous is FULL, checked below. */
	if (walvfs_register() != 0) {
		util_err(err, errlen, "cannot register the SQLite VFS %s",
		    WALVFS_NAME);
		return -1;
	}
	if (sqlite3_open_v2(s->path, &s->w.db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, WALVFS_NAME) !=
	    SQLITE_OK) {
		util_err(err, errlen, "%s: %s", s->path, s->w.db != NULL ?
		    sqlite3_errmsg(s->w.db) : "out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(s->w.db, 1);
	sqlite3_busy_handler(s->w.db, store_busy, s);
	/* SQLite quietly falls back to read-only; we must know. */
	if (sqlite3_db_readonly(s->w.db, "main") == 1) {
		if (store_pragma_int(s->w.db, "user_version", &version) == 0 &&
		    version == STORE_SCHEMA_VERSION) {
			store_disconnect(s);
			return 1;
		}
		util_err(err, errlen, "%s: the database is read-only (file "
		    "permissions or a read-only file system) and cannot be "
		    "created or migrated", s->path);
		goto fail;
	}
	/*
	 * Keep the -wal and -shm files when the daemon closes the database,
	 * so readers in the service's group, who cannot create files in the
	 * state directory, can still open it while the daemon is stopped.
	 */
	sqlite3_file_control(s->w.db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	if (store_wal(s->w.db, err, errlen) != 0 ||
	    store_exec(s->w.db, "PRAGMA synchronous = FULL", err, errlen) != 0 ||
	    store_exec(s->w.db, "PRAGMA foreign_keys = ON", err, errlen) != 0)
		goto fail;
	/* A reconnect while the checkpointer runs: it still checkpoints. */
	if (s->ckw.running)
		sqlite3_wal_hook(s->w.db, store_wal_hook, s);
	/* A WAL a long reader let grow shrinks back when it starts over. */
	if (store_exec(s->w.db, "PRAGMA journal_size_limit = " STORE_WAL_LIMIT,
	    err, errlen) != 0)
		goto fail;
	/* FULL (2) or EXTRA (3): what walvfs.c relies on, and our promise. */
	if (store_pragma_int(s->w.db, "synchronous", &sync) != 0 || sync < 2) {
		util_err(err, errlen, "%s: synchronous is not FULL", s->path);
		goto fail;
	}
	/*
	 * The migration, the statements and what it reads again are one
	 * transaction: a database is migrated whole or not at all.  Closing
	 * the connection on failure rolls it back.
	 */
	if (store_pragma_int(s->w.db, "user_version", &version) == 0 &&
	    version > 0 && version < STORE_SCHEMA_VERSION) {
		log_info("database %s: migrating from schema %d to %d in one "
		    "transaction", s->path, version, STORE_SCHEMA_VERSION);
		atomic_store(&store_migrate_last, 0);
		t0 = util_mono_us();
		(void)store_migrate_tick(NULL);		/* at once */
		sqlite3_progress_handler(s->w.db, STORE_MIGRATE_OPS,
		    store_migrate_tick, NULL);
	}
	if (store_migrate(s->w.db, &from, err, errlen) != 0)
		goto fail;
	for (k = 0; k < s->nstmt_sets; k++)
		for (i = s->stmt_sets[k].first; i < s->stmt_sets[k].last; i++)
			if (sqlite3_prepare_v3(s->w.db, s->stmt_sets[k].sql[i -
			    s->stmt_sets[k].first], -1,
			    SQLITE_PREPARE_PERSISTENT, &s->w.stmt[i], NULL) !=
			    SQLITE_OK) {
				util_err(err, errlen, "prepare: %s",
				    sqlite3_errmsg(s->w.db));
				goto fail;
			}
	if (from < STORE_SCHEMA_VERSION && s->migrated != NULL &&
	    s->migrated(s, from, err, errlen) != 0)
		goto fail;
	if (store_exec(s->w.db, "COMMIT", err, errlen) != 0)
		goto fail;
	if (t0 != 0) {
		sqlite3_progress_handler(s->w.db, 0, NULL, NULL);
		log_info("database %s: migrated from schema %d to %d in %.1f s",
		    s->path, from, STORE_SCHEMA_VERSION,
		    (double)(util_mono_us() - t0) / 1e6);
	}
	if (s->opt.group_write)
		store_group_write(s);
	/*
	 * Unknown until counted (the writer does so first thing): clear
	 * refusals as if some were held.
	 */
	s->ledger.held = 1;
	s->ledger.checked = 0;
	s->ledger.pruned = 0;
	return 0;
fail:
	store_disconnect(s);
	return -1;
}

/*
 * Writer thread, before a batch, while the database is read-only: try it
 * again.  0 when it is writable now; -1 (the batch is answered 503) with
 * a warning at most every 10 s, so an operator sees why without a flood.
 */
int
store_reconnect(struct store *s)
{
	char err[512] = "";
	uint64_t now = util_mono_us();
	int rc = store_connect(s, err, sizeof(err));

	if (rc == 0) {
		pthread_mutex_lock(&s->q.lock);	/* store_abort() reads it */
		s->q.readonly = 0;
		pthread_mutex_unlock(&s->q.lock);
		log_info("database %s is writable again", s->path);
		/* Read-only when the writer started: no checkpointer yet. */
		if (s->ckw.wanted && !s->ckw.running)
			store_ckpt_start(s);
		return 0;
	}
	if (now - s->w.readonly_logged >= 10000000u || s->w.readonly_logged == 0) {
		s->w.readonly_logged = now;
		if (rc == 1)
			log_warnx("database %s is read-only: notifications are "
			    "answered 503 until it is writable", s->path);
		else
			log_warnx("database %s: %s", s->path, err);
	}
	return -1;
}

/* Bind helpers: NULL strings become SQL NULL. */
void
store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

void
store_bind_amount(sqlite3_stmt *st, int iv, int ic, const struct notif_amount *a)
{
	if (a->present) {
		sqlite3_bind_int64(st, iv, a->value);
		sqlite3_bind_text(st, ic, a->currency, -1, SQLITE_STATIC);
	} else {
		sqlite3_bind_null(st, iv);
		sqlite3_bind_null(st, ic);
	}
}

/*
 * Run the writer's statement which, for no rows (or rows nobody reads),
 * and make it ready for its next use.  0 or -1 (logged).
 */
int
store_step(struct store *s, int which)
{
	sqlite3_stmt *st = s->w.stmt[which];
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_warnx("database: %.40s: %s", sqlite3_sql(st),
		    sqlite3_errmsg(s->w.db));
		return -1;
	}
	return 0;
}

/*
 * End the transaction in progress, if any: SQLite may have rolled back
 * already (disk full, I/O error).  0, or -1 when ROLLBACK failed (logged).
 */
int
store_rollback(struct store *s)
{
	if (sqlite3_get_autocommit(s->w.db))
		return 0;
	return store_step(s, S_ROLLBACK);
}
