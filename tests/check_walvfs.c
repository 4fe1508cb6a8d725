/*
 * check_walvfs.c - the WAL-coalescing VFS: every commit, of any size,
 * reads back the same from another connection on the default VFS; a
 * commit is visible the moment COMMIT returns; and its frames really are
 * written with few system calls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "walvfs.h"
#include "suites.h"

static char dir[64];
static char dbpath[128];

static void
setup(void)
{
	test_tmpdir(dir, sizeof(dir), "walvfs", dbpath, sizeof(dbpath));
}

static void
teardown(void)
{
	test_rmtree(dir);
}

static void
exec_ok(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK,
	    "%s: %s", sql, msg != NULL ? msg : "?");
}

/* A connection through this VFS, set up by sql. */
static sqlite3 *
open_vfs(const char *sql)
{
	sqlite3 *db;

	ck_assert_int_eq(walvfs_register(), 0);
	ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, WALVFS_NAME), SQLITE_OK);
	exec_ok(db, sql);
	return db;
}

/* The writer as antomd opens it: this VFS, WAL, synchronous=FULL. */
static sqlite3 *
open_writer(void)
{
	return open_vfs("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
	    "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY,"
	    " k BLOB UNIQUE, v BLOB)");
}

static long long
one_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;

	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Both connections hold the same rows of t, byte for byte. */
static void
same_rows(sqlite3 *a, sqlite3 *b)
{
	sqlite3_stmt *sa, *sb;
	int ra, rb, rows = 0;

	ck_assert_int_eq(sqlite3_prepare_v2(a, "SELECT id, v FROM t ORDER BY"
	    " id", -1, &sa, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(b, "SELECT id, v FROM t ORDER BY"
	    " id", -1, &sb, NULL), SQLITE_OK);
	for (;;) {
		ra = sqlite3_step(sa);
		rb = sqlite3_step(sb);
		ck_assert_int_eq(ra, rb);
		if (ra != SQLITE_ROW)
			break;
		ck_assert_int_eq(sqlite3_column_int64(sa, 0),
		    sqlite3_column_int64(sb, 0));
		ck_assert_int_eq(sqlite3_column_bytes(sa, 1),
		    sqlite3_column_bytes(sb, 1));
		ck_assert_msg(memcmp(sqlite3_column_blob(sa, 1),
		    sqlite3_column_blob(sb, 1),
		    (size_t)sqlite3_column_bytes(sa, 1)) == 0, "row %lld differs",
		    (long long)sqlite3_column_int64(sa, 0));
		rows++;
	}
	ck_assert_int_eq(ra, SQLITE_DONE);
	sqlite3_finalize(sa);
	sqlite3_finalize(sb);
	ck_assert_int_gt(rows, 0);
}

/*
 * The database and WAL files copied to DIR/copy.db without the -shm, as
 * a crash would leave them, opened on the default VFS: SQLite rebuilds
 * the WAL index from the frames alone, checksums and all.
 */
static sqlite3 *
open_recovered(void)
{
	char cmd[1024], copy[160];
	sqlite3 *db;

	snprintf(copy, sizeof(copy), "%s/copy.db", dir);
	snprintf(cmd, sizeof(cmd), "cp %s %s && cp %s-wal %s-wal", dbpath, copy,
	    dbpath, copy);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(sqlite3_open_v2(copy, &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	return db;
}

/* Write system calls of this process so far (/proc/self/io syscw). */
static long long
write_calls(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	char line[128];
	long long v = -1;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "syscw: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/*
 * Commits from one page to far past the buffer, with random keys so
 * each row dirties pages all over the index, and sizes around 128 KiB
 * multiples (the unix VFS's limit per call): each one reads back, byte
 * for byte, from a reader on the default VFS, which opened before the
 * writes, as soon as COMMIT returns.
 */
START_TEST(test_walvfs_commits_read_back)
{
	static const int rows[] = { 1, 2, 7, 29, 30, 31, 32, 33, 63, 64, 65,
	    127, 128, 129, 400, 1000 };
	sqlite3 *w = open_writer(), *r;
	sqlite3_stmt *ins;
	unsigned char blob[3000];
	long long total = 0;
	size_t i;
	int j, k;

	ck_assert_int_eq(sqlite3_open_v2(dbpath, &r, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(w, "INSERT INTO t (k, v) VALUES"
	    " (randomblob(16), ?1)", -1, &ins, NULL), SQLITE_OK);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		exec_ok(w, "BEGIN IMMEDIATE");
		for (j = 0; j < rows[i]; j++) {
			for (k = 0; k < (int)sizeof(blob); k++)
				blob[k] = (unsigned char)(total + j + k);
			/* Rows from 100 bytes to 3000: frames of every shape. */
			sqlite3_bind_blob(ins, 1, blob, 100 + (j * 397) % 2900,
			    SQLITE_STATIC);
			ck_assert_int_eq(sqlite3_step(ins), SQLITE_DONE);
			sqlite3_reset(ins);
		}
		exec_ok(w, "COMMIT");
		total += rows[i];
		ck_assert_int_eq(one_int(r, "SELECT count(*) FROM t"), total);
		/* Every byte, compared with what the writer holds. */
		same_rows(w, r);
	}
	sqlite3_finalize(ins);
	ck_assert_int_eq(one_int(r, "SELECT count(*) FROM pragma_integrity_check"
	    " WHERE integrity_check = 'ok'"), 1);
	sqlite3_close(r);
	exec_ok(w, "PRAGMA wal_checkpoint(TRUNCATE)");
	sqlite3_close(w);
	/* And after a checkpoint and a fresh open on the default VFS. */
	ck_assert_int_eq(test_sql_int(dbpath, "SELECT count(*) FROM t"), total);
	ck_assert_str_eq(test_sql_text(dbpath, "PRAGMA integrity_check"), "ok");
}
END_TEST

/*
 * A commit of 256 fresh pages goes to the WAL in a handful of writes,
 * where SQLite alone makes two per page (512 and more).
 */
START_TEST(test_walvfs_coalesces)
{
	sqlite3 *w = open_writer();
	long long before, calls;

	exec_ok(w, "PRAGMA wal_autocheckpoint = 0");
	before = write_calls();
	exec_ok(w, "BEGIN IMMEDIATE;"
	    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
	    " WHERE i < 256) INSERT INTO t (k, v) SELECT randomblob(16),"
	    " randomblob(3900) FROM n;"
	    "COMMIT");
	calls = write_calls() - before;
	ck_assert_msg(calls > 0 && calls < 32, "%lld write calls", calls);
	sqlite3_close(w);
	ck_assert_int_eq(test_sql_int(dbpath, "SELECT count(*) FROM t"), 256);
}
END_TEST

/*
 * A transaction that spills pages to the WAL and rolls back syncs
 * nothing; its frames must reach the file before the write lock is let
 * go (walvfs_shm_lock), not later, at A's next read, over the frames
 * another writer (here the default VFS, as a second process would)
 * committed at the same offsets in between.  B commits once, so no later
 * frame of B's hides the damage; and the files are read as a crash would
 * leave them, where recovery stops at the first bad checksum.
 */
START_TEST(test_walvfs_rollback_then_other_writer)
{
	sqlite3 *a = open_vfs("PRAGMA journal_mode = WAL;"
	    "PRAGMA synchronous = FULL; PRAGMA cache_size = 10;"
	    "PRAGMA wal_autocheckpoint = 0;"
	    "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);"
	    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
	    " WHERE i < 2000) INSERT INTO t (v) SELECT randomblob(300) FROM n;"), *b,
	    *r;

	/*
	 * All in the database file, so the rollback reads nothing back from
	 * the WAL; A's cache holds 10 pages: the update spills to the WAL.
	 */
	exec_ok(a, "PRAGMA wal_checkpoint(TRUNCATE)");
	exec_ok(a, "BEGIN; UPDATE t SET v = randomblob(310); ROLLBACK");
	ck_assert_int_eq(sqlite3_open_v2(dbpath, &b, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	exec_ok(b, "PRAGMA synchronous = FULL;"
	    "UPDATE t SET v = randomblob(320) WHERE id % 3 = 0");
	/* Any WAL operation by A after B's commit. */
	ck_assert_int_eq(one_int(a, "SELECT count(*) FROM t"), 2000);
	ck_assert_int_eq(one_int(a, "SELECT count(*) FROM t WHERE"
	    " length(v) = 320"), 666);
	r = open_recovered();
	ck_assert_int_eq(one_int(r, "SELECT count(*) FROM t WHERE"
	    " length(v) = 320"), 666);
	ck_assert_int_eq(one_int(r, "SELECT count(*) FROM pragma_integrity_check"
	    " WHERE integrity_check = 'ok'"), 1);
	sqlite3_close(r);
	exec_ok(a, "UPDATE t SET v = randomblob(100) WHERE id = 1");
	sqlite3_close(b);
	sqlite3_close(a);
	ck_assert_str_eq(test_sql_text(dbpath, "PRAGMA integrity_check"), "ok");
	/* B's rows, every one: 2000 / 3. */
	ck_assert_int_eq(test_sql_int(dbpath, "SELECT count(*) FROM t WHERE"
	    " id % 3 = 0 AND length(v) = 320"), 666);
}
END_TEST

/*
 * Inside one transaction, with a cache of 10 pages: the first update
 * spills its pages to the WAL (into the buffer), the SELECT reads them
 * back, and the second update rewrites frames of this transaction in
 * place, away from the buffer's end.  The commit is what another
 * connection, and recovery from the files alone, read.
 */
START_TEST(test_walvfs_spill_read_rewrite)
{
	sqlite3 *w = open_vfs("PRAGMA journal_mode = WAL;"
	    "PRAGMA synchronous = FULL; PRAGMA cache_size = 10;"
	    "PRAGMA wal_autocheckpoint = 0;"
	    "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);"
	    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
	    " WHERE i < 1000) INSERT INTO t (v) SELECT randomblob(300) FROM n;"),
	    *r;

	exec_ok(w, "BEGIN; UPDATE t SET v = zeroblob(312)");
	ck_assert_int_eq(one_int(w, "SELECT count(*) FROM t WHERE"
	    " v = zeroblob(312)"), 1000);
	exec_ok(w, "UPDATE t SET v = randomblob(305) WHERE id % 2 = 0; COMMIT");
	ck_assert_int_eq(sqlite3_open_v2(dbpath, &r, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	same_rows(w, r);
	sqlite3_close(r);
	r = open_recovered();
	same_rows(w, r);
	ck_assert_int_eq(one_int(r, "SELECT count(*) FROM t WHERE"
	    " length(v) = 305"), 500);
	sqlite3_close(r);
	sqlite3_close(w);
}
END_TEST

/*
 * A recorder under walvfs, registered as the default VFS before walvfs
 * takes the default as its base (once a process: Check forks each test).
 * It keeps the base's WAL file as it is but for its method table, a copy
 * whose xWrite and xSync note what reached the base, and whose xWrite
 * fails from the rec_fail_at-th call on when that is set.
 */
static sqlite3_vfs rec_vfs, *rec_base;
static sqlite3_io_methods rec_wal_methods;
static int (*rec_write0)(sqlite3_file *, const void *, int, sqlite3_int64);
static int (*rec_sync0)(sqlite3_file *, int);
static int rec_writes, rec_syncs, rec_fail_at;
static char rec_last;		/* 'W' or 'S': the last WAL call let through */

static int
rec_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
	if (rec_fail_at > 0 && rec_writes + 1 >= rec_fail_at)
		return SQLITE_IOERR_WRITE;
	rec_writes++;
	rec_last = 'W';
	return rec_write0(f, p, n, off);
}

static int
rec_sync(sqlite3_file *f, int flags)
{
	rec_syncs++;
	rec_last = 'S';
	return rec_sync0(f, flags);
}

static int
rec_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f,
    int flags, int *outflags)
{
	int rc = rec_base->xOpen(rec_base, name, f, flags, outflags);

	(void)vfs;
	if (rc == SQLITE_OK && (flags & SQLITE_OPEN_WAL) &&
	    f->pMethods != NULL) {
		if (rec_write0 == NULL) {
			rec_wal_methods = *f->pMethods;
			rec_write0 = rec_wal_methods.xWrite;
			rec_sync0 = rec_wal_methods.xSync;
			rec_wal_methods.xWrite = rec_write;
			rec_wal_methods.xSync = rec_sync;
		}
		f->pMethods = &rec_wal_methods;
	}
	return rc;
}

/* The writer, through walvfs over the recorder. */
static sqlite3 *
open_recorded_writer(void)
{
	rec_base = sqlite3_vfs_find(NULL);
	ck_assert_ptr_nonnull(rec_base);
	rec_vfs = *rec_base;
	rec_vfs.zName = "antomd-test-recorder";
	rec_vfs.xOpen = rec_open;
	ck_assert_int_eq(sqlite3_vfs_register(&rec_vfs, 1), SQLITE_OK);
	return open_vfs("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
	    "PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (v BLOB)");
}

/*
 * The promise walvfs.h makes: when SQLite syncs the WAL at COMMIT, every
 * frame of the commit has reached the file; nothing is written after.
 */
START_TEST(test_walvfs_sync_after_every_frame)
{
	sqlite3 *w = open_recorded_writer();
	int i, syncs;

	for (i = 0; i < 5; i++) {
		syncs = rec_syncs;
		exec_ok(w, "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL"
		    " SELECT i + 1 FROM n WHERE i < 40) INSERT INTO t (v)"
		    " SELECT randomblob(3000) FROM n; COMMIT");
		ck_assert_msg(rec_writes > 0, "walvfs is not over the recorder"
		    " (registered before it: CK_FORK=no?)");
		ck_assert_int_gt(rec_syncs, syncs);
		ck_assert_msg(rec_last == 'S', "commit %d: WAL written after"
		    " its sync", i);
	}
	sqlite3_close(w);
	ck_assert_int_eq(test_sql_int(dbpath, "SELECT count(*) FROM t"), 200);
}
END_TEST

/*
 * A WAL write that fails fails the COMMIT: nothing of it is visible, to
 * this connection, another or recovery, and once the disk takes writes
 * again the next transaction commits.
 */
START_TEST(test_walvfs_failed_write_fails_commit)
{
	sqlite3 *w = open_recorded_writer(), *r;
	int rc;

	exec_ok(w, "INSERT INTO t (v) VALUES (randomblob(100))");
	rec_fail_at = rec_writes + 2;
	rc = sqlite3_exec(w, "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION"
	    " ALL SELECT i + 1 FROM n WHERE i < 200) INSERT INTO t (v)"
	    " SELECT randomblob(3000) FROM n; COMMIT", NULL, NULL, NULL);
	ck_assert_int_ne(rc, SQLITE_OK);
	rec_fail_at = 0;
	if (!sqlite3_get_autocommit(w))
		exec_ok(w, "ROLLBACK");
	ck_assert_int_eq(one_int(w, "SELECT count(*) FROM t"), 1);
	ck_assert_int_eq(sqlite3_open_v2(dbpath, &r, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(one_int(r, "SELECT count(*) FROM t"), 1);
	sqlite3_close(r);
	r = open_recovered();
	ck_assert_int_eq(one_int(r, "SELECT count(*) FROM t"), 1);
	sqlite3_close(r);
	exec_ok(w, "INSERT INTO t (v) VALUES (randomblob(100))");
	ck_assert_int_eq(one_int(w, "SELECT count(*) FROM t"), 2);
	sqlite3_close(w);
	ck_assert_int_eq(test_sql_int(dbpath, "SELECT count(*) FROM t"), 2);
	ck_assert_str_eq(test_sql_text(dbpath, "PRAGMA integrity_check"), "ok");
}
END_TEST

/*
 * Without powersafe overwrite SQLite pads a commit with frames written
 * after its sync: the VFS then buffers nothing, write for write.
 */
START_TEST(test_walvfs_psow_off_writes_through)
{
	char uri[256];
	sqlite3 *w;
	long long before, calls;

	snprintf(uri, sizeof(uri), "file:%s?psow=0", dbpath);
	ck_assert_int_eq(walvfs_register(), 0);
	ck_assert_int_eq(sqlite3_open_v2(uri, &w, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, WALVFS_NAME), SQLITE_OK);
	exec_ok(w, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
	    "PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (v)");
	before = write_calls();
	exec_ok(w, "BEGIN;"
	    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
	    " WHERE i < 64) INSERT INTO t (v) SELECT randomblob(3900) FROM n;"
	    "COMMIT");
	calls = write_calls() - before;
	ck_assert_msg(calls >= 128, "%lld write calls", calls);
	ck_assert_int_eq(test_sql_int(dbpath, "SELECT count(*) FROM t"), 64);
	sqlite3_close(w);
	ck_assert_str_eq(test_sql_text(dbpath, "PRAGMA integrity_check"), "ok");
}
END_TEST

/* Files that are not a WAL are written through, call for call. */
START_TEST(test_walvfs_rollback_journal_untouched)
{
	sqlite3 *db = open_vfs("PRAGMA journal_mode = DELETE;"
	    "CREATE TABLE t (v);"
	    "BEGIN; INSERT INTO t VALUES (randomblob(100000)); COMMIT;"
	    "BEGIN; DELETE FROM t; ROLLBACK;");

	ck_assert_int_eq(one_int(db, "SELECT count(*) FROM t"), 1);
	sqlite3_close(db);
	ck_assert_str_eq(test_sql_text(dbpath, "PRAGMA integrity_check"), "ok");
}
END_TEST

Suite *
walvfs_suite(void)
{
	Suite *s = suite_create("walvfs");
	TCase *tc = tcase_create("walvfs");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_walvfs_commits_read_back);
	tcase_add_test(tc, test_walvfs_coalesces);
	tcase_add_test(tc, test_walvfs_rollback_journal_untouched);
	tcase_add_test(tc, test_walvfs_rollback_then_other_writer);
	tcase_add_test(tc, test_walvfs_spill_read_rewrite);
	tcase_add_test(tc, test_walvfs_sync_after_every_frame);
	tcase_add_test(tc, test_walvfs_failed_write_fails_commit);
	tcase_add_test(tc, test_walvfs_psow_off_writes_through);
	suite_add_tcase(s, tc);
	return s;
}
