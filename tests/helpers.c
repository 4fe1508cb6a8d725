/*
 * helpers.c - the few helpers every suite may use (declared in suites.h):
 * paths under tests/, whole files, temporary directories, and one value
 * read from a database with plain SQL.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "suites.h"

const char *
test_env_path(char *buf, size_t cap, const char *var, const char *dflt,
    const char *rel)
{
	const char *dir = getenv(var);

	snprintf(buf, cap, "%s/%s", dir != NULL ? dir : dflt, rel);
	return buf;
}

const char *
test_path(char *buf, size_t cap, const char *rel)
{
	return test_env_path(buf, cap, "ANTOMD_TESTS", "tests", rel);
}

char *
test_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

long long
test_sql_int(const char *dbpath, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long v = -1;

	ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK,
	    "%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* A fresh directory /tmp/antomd-NAME-XXXXXX, and a database path in it. */
void
test_tmpdir(char *dir, size_t dircap, const char *name, char *dbpath,
    size_t dbcap)
{
	snprintf(dir, dircap, "/tmp/antomd-%s-XXXXXX", name);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(dbpath, dbcap, "%s/test.db", dir);
}

/* Remove what test_tmpdir made, and all in it. */
void
test_rmtree(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

const char *
test_sql_text(const char *dbpath, const char *sql)
{
	static char out[4096];
	sqlite3 *db;
	sqlite3_stmt *st;
	const unsigned char *v;

	out[0] = '\0';
	ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK,
	    "%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW &&
	    (v = sqlite3_column_text(st, 0)) != NULL)
		snprintf(out, sizeof(out), "%s", v);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out;
}

char *
test_fmt(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	return s;
}
