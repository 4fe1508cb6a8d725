/*
 * storedb.c - plain SQL on the store tests' database, SQLite or
 * PostgreSQL (storedb.h).  SQLite: a connection per call, as
 * test_sql_int() does.  PostgreSQL: one connection kept between calls
 * (a new one costs a server process), under a lock since the writer
 * thread's callbacks read too.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "pg.h"
#include "storedb.h"
#include "suites.h"

static pthread_mutex_t storedb_lock = PTHREAD_MUTEX_INITIALIZER;
static PGconn *storedb_conn;
static char storedb_conninfo[512];

int
storedb_is_pg(const char *db)
{
	return db[0] != '/';
}

/* sql with the SQLite-only spellings storedb.h names replaced; malloc'd. */
static char *
storedb_translate(const char *sql)
{
	static const char *const from[] = { "group_concat(",
	    "CAST(body AS TEXT)" };
	static const char *const to[] = { "string_agg(",
	    "convert_from(body, 'UTF8')" };
	char *out = malloc(strlen(sql) * 2 + 1), *o = out;
	size_t i;

	ck_assert_ptr_nonnull(out);
	while (*sql != '\0') {
		for (i = 0; i < sizeof(from) / sizeof(from[0]); i++)
			if (strncmp(sql, from[i], strlen(from[i])) == 0)
				break;
		if (i < sizeof(from) / sizeof(from[0])) {
			o = stpcpy(o, to[i]);
			sql += strlen(from[i]);
		} else
			*o++ = *sql++;
	}
	*o = '\0';
	return out;
}

/* The kept connection to db (the lock held). */
static PGconn *
storedb_pg(const char *db)
{
	if (storedb_conn != NULL && (strcmp(storedb_conninfo, db) != 0 ||
	    PQstatus(storedb_conn) != CONNECTION_OK)) {
		PQfinish(storedb_conn);
		storedb_conn = NULL;
	}
	if (storedb_conn == NULL) {
		storedb_conn = pg_connect_to(db);
		snprintf(storedb_conninfo, sizeof(storedb_conninfo), "%s", db);
	}
	return storedb_conn;
}

/*
 * sql on PostgreSQL: its first value into out (NULL: ""), booleans as 1
 * or 0; 0, or -1 with the error in out.
 */
static int
storedb_pg_query(const char *db, const char *sql, char *out, size_t cap,
    int *rows)
{
	char *q = storedb_translate(sql);
	PGresult *r;
	ExecStatusType st;
	int rc = 0;

	out[0] = '\0';
	*rows = 0;
	pthread_mutex_lock(&storedb_lock);
	r = PQexec(storedb_pg(db), q);
	st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		snprintf(out, cap, "%s", PQresultErrorMessage(r));
		rc = -1;
	} else if (st == PGRES_TUPLES_OK && PQntuples(r) > 0 &&
	    PQnfields(r) > 0) {
		*rows = 1;
		if (PQftype(r, 0) == 16)	/* BOOLOID */
			snprintf(out, cap, "%d", PQgetvalue(r, 0, 0)[0] == 't');
		else
			snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
	}
	PQclear(r);
	pthread_mutex_unlock(&storedb_lock);
	free(q);
	return rc;
}

const char *
storedb_text(const char *db, const char *sql)
{
	static char out[4096];
	int rows;

	if (!storedb_is_pg(db))
		return test_sql_text(db, sql);
	ck_assert_msg(storedb_pg_query(db, sql, out, sizeof(out), &rows) == 0,
	    "%s: %s", sql, out);
	return out;
}

long long
storedb_int(const char *db, const char *sql)
{
	char out[512];
	int rows;

	if (!storedb_is_pg(db))
		return test_sql_int(db, sql);
	ck_assert_msg(storedb_pg_query(db, sql, out, sizeof(out), &rows) == 0,
	    "%s: %s", sql, out);
	return rows ? atoll(out) : -1;
}

int
storedb_exec_rc(const char *db, const char *sql)
{
	char out[512];
	sqlite3 *s;
	int rc, rows;

	if (storedb_is_pg(db))
		return storedb_pg_query(db, sql, out, sizeof(out), &rows);
	ck_assert_int_eq(sqlite3_open(db, &s), SQLITE_OK);
	rc = sqlite3_exec(s, sql, NULL, NULL, NULL);
	sqlite3_close(s);
	return rc;
}

void
storedb_exec(const char *db, const char *sql)
{
	char out[512];
	sqlite3 *s;
	char *msg = NULL;
	int rows;

	if (storedb_is_pg(db)) {
		ck_assert_msg(storedb_pg_query(db, sql, out, sizeof(out),
		    &rows) == 0, "%s: %s", sql, out);
		return;
	}
	ck_assert_int_eq(sqlite3_open(db, &s), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(s, sql, NULL, NULL, &msg) == SQLITE_OK,
	    "%s: %s", sql, msg);
	sqlite3_close(s);
}

char *
storedb_columns(const char *db, const char *table)
{
	char *sql, *cols;

	if (storedb_is_pg(db))
		sql = test_fmt("SELECT string_agg(column_name, ',' ORDER BY"
		    " ordinal_position) FROM information_schema.columns WHERE"
		    " table_schema = current_schema() AND table_name = '%s'",
		    table);
	else
		sql = test_fmt("SELECT group_concat(name, ',') FROM (SELECT"
		    " name FROM pragma_table_info('%s') ORDER BY cid)", table);
	cols = strdup(storedb_text(db, sql));
	ck_assert_ptr_nonnull(cols);
	free(sql);
	return cols;
}

void
storedb_close(void)
{
	pthread_mutex_lock(&storedb_lock);
	PQfinish(storedb_conn);
	storedb_conn = NULL;
	pthread_mutex_unlock(&storedb_lock);
}
