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
 * multiples (the unix VFS's limit per call): each one reads back from a
 * reader on the default VFS, which opened before the writes, as soon as
 * COMMIT returns.
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
		/* Every byte: the reader checks the content, not the count. */
		ck_assert_int_eq(one_int(r, "SELECT count(*) FROM t WHERE"
		    " length(v) < 100 OR length(v) > 3000"), 0);
		ck_assert_int_eq(one_int(r, "SELECT sum(length(v)) FROM t"),
		    one_int(w, "SELECT sum(length(v)) FROM t"));
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
 * go (walvfs_shm_lock), not later over frames another writer (here the
 * default VFS, as a second process would) committed at the same
 * offsets.  From one thread the other writer cannot get in between the
 * unlock and SQLite's next read, which flushes too; this holds the
 * outcome: both writers' rows, and a sound database.
 */
START_TEST(test_walvfs_rollback_then_other_writer)
{
	sqlite3 *a = open_vfs("PRAGMA journal_mode = WAL;"
	    "PRAGMA synchronous = FULL; PRAGMA cache_size = 10;"
	    "PRAGMA wal_autocheckpoint = 0;"
	    "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);"
	    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
	    " WHERE i < 2000) INSERT INTO t (v) SELECT randomblob(300) FROM n;"), *b;

	/*
	 * All in the database file, so the rollback reads nothing back from
	 * the WAL; A's cache holds 10 pages: the update spills to the WAL.
	 */
	exec_ok(a, "PRAGMA wal_checkpoint(TRUNCATE)");
	exec_ok(a, "BEGIN; UPDATE t SET v = randomblob(310); ROLLBACK");
	ck_assert_int_eq(sqlite3_open_v2(dbpath, &b, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	exec_ok(b, "PRAGMA synchronous = FULL;"
	    "UPDATE t SET v = randomblob(320) WHERE id % 3 = 0;"
	    "UPDATE t SET v = randomblob(290) WHERE id % 7 = 0");
	/* Any WAL operation by A after B's commit. */
	ck_assert_int_eq(one_int(a, "SELECT count(*) FROM t"), 2000);
	ck_assert_int_eq(one_int(b, "SELECT count(*) FROM pragma_integrity_check"
	    " WHERE integrity_check = 'ok'"), 1);
	exec_ok(a, "UPDATE t SET v = randomblob(100) WHERE id = 1");
	sqlite3_close(b);
	sqlite3_close(a);
	ck_assert_str_eq(test_sql_text(dbpath, "PRAGMA integrity_check"), "ok");
	/* B's rows, every one: 2000 / 3 less those of 21, and 2000 / 7. */
	ck_assert_int_eq(test_sql_int(dbpath, "SELECT count(*) FROM t WHERE"
	    " id % 3 = 0 AND id % 7 != 0 AND length(v) = 320"), 571);
	ck_assert_int_eq(test_sql_int(dbpath, "SELECT count(*) FROM t WHERE"
	    " id % 7 = 0 AND length(v) = 290"), 285);
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
	tcase_add_test(tc, test_walvfs_psow_off_writes_through);
	suite_add_tcase(s, tc);
	return s;
}
