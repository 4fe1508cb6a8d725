/*
 * ctl_db.c - antomctl's way into antomd's database, on either engine
 * (the configuration's database: a path is SQLite, a libpq URI or
 * conninfo PostgreSQL, as store_open() decides): the opener, read
 * transactions, and queries with text parameters whose rows come one at
 * a time, by column or as JSON.
 *
 * A query is written once with $1, $2 ... where the two dialects agree:
 * SQLite takes "$1" as a named parameter, bound here by its name, so the
 * numbers need not appear in order.  PostgreSQL infers each parameter's
 * type from where it stands.  Not used by the daemon.  Single-threaded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "ctl.h"
#include "log.h"
#include "store.h"
#include "store_pg.h"
#include "util.h"

/* Type OIDs (catalog/pg_type_d.h, which libpq-dev does not ship). */
#define CTL_PG_BOOL	16
#define CTL_PG_BYTEA	17
#define CTL_PG_INT8	20
#define CTL_PG_INT2	21
#define CTL_PG_INT4	23
#define CTL_PG_NUMERIC	1700

struct ctl_db {
	sqlite3		*lite;		/* one of the two */
	PGconn		*pg;
	char		 name[256];	/* store_display(): for messages */
};

/* One row, valid during the callback that is given it. */
struct ctl_row {
	sqlite3_stmt	*st;		/* SQLite: stepped to the row */
	PGresult	*res;		/* PostgreSQL: a one-row result */
	unsigned char	*bytes;		/* a bytea column unescaped, cached */
	int		 bytes_col;
	size_t		 bytes_len;
};

/*
 * The store's test (store.c): a URI, or key=value pairs where a word (at
 * the start or after a blank) names a host or a database.
 */
int
ctl_db_is_pg(const char *database)
{
	const char *w = database;

	if (strncmp(w, "postgresql://", 13) == 0 ||
	    strncmp(w, "postgres://", 11) == 0)
		return 1;
	for (;;) {
		if (strncmp(w, "host=", 5) == 0 ||
		    strncmp(w, "hostaddr=", 9) == 0 ||
		    strncmp(w, "dbname=", 7) == 0)
			return 1;
		w += strcspn(w, " \t");
		if (*w++ == '\0')
			return 0;
	}
}

const char *
ctl_db_name(const struct ctl_db *db)
{
	return db->name;
}

int
ctl_db_pg(const struct ctl_db *db)
{
	return db->pg != NULL;
}

/* libpq's message without its final newline, for ctl_warnx. */
static void
ctl_pg_warn(const char *command, const char *what, const char *msg)
{
	size_t n = strlen(msg);

	while (n > 0 && msg[n - 1] == '\n')
		n--;
	ctl_warnx(command, "%s: %.*s", what, (int)n, msg);
}

/*
 * Through a "file:...?mode=ro" URI, so that no path can make SQLite
 * create a file; the characters a URI gives meaning to are %-escaped.
 */
static sqlite3 *
ctl_lite_open(const char *command, const char *path, enum ctl_schema schema)
{
	static const char hex[] = "0123456789ABCDEF";
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *uri;
	size_t i, n = 0, len = strlen(path);
	int version = -1;

	if ((uri = malloc(3 * len + 16)) == NULL) {
		ctl_warnx(command, "out of memory");
		return NULL;
	}
	n = (size_t)sprintf(uri, "file:");
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)path[i];

		if (c == '?' || c == '#' || c == '%' || c < 0x20 || c >= 0x7f) {
			uri[n++] = '%';
			uri[n++] = hex[c >> 4];
			uri[n++] = hex[c & 15];
		} else
			uri[n++] = (char)c;
	}
	strcpy(uri + n, "?mode=ro");
	if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI,
	    NULL) != SQLITE_OK) {
		ctl_warnx(command, "%s: %s", path, db != NULL ?
		    sqlite3_errmsg(db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(db, CTL_BUSY_MS);
	if (schema == CTL_SCHEMA_ANY)
		goto done;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) !=
	    SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		ctl_warnx(command, "%s: %s", path, sqlite3_errmsg(db));
		goto fail;
	}
	version = sqlite3_column_int(st, 0);
	if (version != STORE_SCHEMA_VERSION) {
		ctl_warnx(command, "%s: schema version %d, expected %d (not an "
		    "antomd database?)", path, version, STORE_SCHEMA_VERSION);
		goto fail;
	}
done:
	sqlite3_finalize(st);
	free(uri);
	return db;
fail:
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(uri);
	return NULL;
}

/*
 * A reader's transactions are read-only unless they say otherwise, so
 * that a role with SELECT alone is enough and nothing can be written by
 * mistake; the version is antomd_schema's one row (store_pg_schema.c).
 */
static PGconn *
ctl_pg_open(const char *command, const char *database, const char *name,
    enum ctl_schema schema, int write)
{
	PGconn *c = store_pg_connect(database);
	PGresult *r = NULL;
	const char *state;
	int version;

	if (c == NULL) {
		ctl_warnx(command, "%s: out of memory", name);
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK)
		goto fail;
	if (!write) {
		r = PQexec(c, "SET default_transaction_read_only = on");
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			goto fail;
		PQclear(r);
		r = NULL;
	}
	if (schema == CTL_SCHEMA_ANY)
		return c;
	r = PQexec(c, "SELECT version FROM antomd_schema");
	state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		version = atoi(PQgetvalue(r, 0, 0));
	else if (PQresultStatus(r) == PGRES_TUPLES_OK ||
	    (state != NULL && strcmp(state, "42P01") == 0))
		version = 0;	/* no version, or no table: undefined_table */
	else
		goto fail;
	if (version != STORE_SCHEMA_VERSION) {
		ctl_warnx(command, "%s: schema version %d, expected %d (not an "
		    "antomd database?)", name, version, STORE_SCHEMA_VERSION);
		goto out;
	}
	PQclear(r);
	return c;
fail:
	ctl_pg_warn(command, name, PQerrorMessage(c));
out:
	PQclear(r);
	PQfinish(c);
	return NULL;
}

/* Read-write, never creating the file, waiting for antomd's writer. */
static sqlite3 *
ctl_lite_open_rw(const char *command, const char *path)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) ==
	    SQLITE_OK) {
		sqlite3_busy_timeout(db, CTL_BUSY_MS);
		return db;
	}
	ctl_warnx(command, "%s: %s", path, db != NULL ? sqlite3_errmsg(db) :
	    "out of memory");
	sqlite3_close(db);
	return NULL;
}

/* Either engine, for reading or (write) for the merchant's INSERT. */
static struct ctl_db *
ctl_db_connect(const char *command, const char *database,
    enum ctl_schema schema, int write)
{
	struct ctl_db *db = xcalloc(1, sizeof(*db));

	store_display(database, db->name, sizeof(db->name));
	if (ctl_db_is_pg(database))
		db->pg = ctl_pg_open(command, database, db->name, schema,
		    write);
	else if (write)
		db->lite = ctl_lite_open_rw(command, database);
	else
		db->lite = ctl_lite_open(command, database, schema);
	if (db->pg != NULL || db->lite != NULL)
		return db;
	free(db);
	return NULL;
}

struct ctl_db *
ctl_db_open(const char *command, const char *database, enum ctl_schema schema)
{
	return ctl_db_connect(command, database, schema, 0);
}

struct ctl_db *
ctl_db_open_rw(const char *command, const char *database)
{
	return ctl_db_connect(command, database, CTL_SCHEMA_ANY, 1);
}

void
ctl_db_close(struct ctl_db *db)
{
	if (db != NULL) {
		sqlite3_close(db->lite);
		PQfinish(db->pg);
	}
	free(db);
}

/* One statement without parameters or rows.  0, or -1 reported. */
static int
ctl_db_exec(struct ctl_db *db, const char *lite, const char *pg)
{
	PGresult *r;
	int rc = 0;

	if (db->lite != NULL) {
		if (sqlite3_exec(db->lite, lite, NULL, NULL, NULL) == SQLITE_OK)
			return 0;
		ctl_warnx(NULL, "database: %s", sqlite3_errmsg(db->lite));
		return -1;
	}
	r = PQexec(db->pg, pg);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		ctl_pg_warn(NULL, "database", PQresultErrorMessage(r));
		rc = -1;
	}
	PQclear(r);
	return rc;
}

/* One snapshot for every query until ctl_db_end(). */
int
ctl_db_begin(struct ctl_db *db)
{
	return ctl_db_exec(db, "BEGIN", "BEGIN ISOLATION LEVEL REPEATABLE READ");
}

int
ctl_db_end(struct ctl_db *db)
{
	return ctl_db_exec(db, "COMMIT", "COMMIT");
}

int
ctl_col_count(const struct ctl_row *row)
{
	return row->st != NULL ? sqlite3_column_count(row->st) :
	    PQnfields(row->res);
}

int
ctl_col_null(const struct ctl_row *row, int i)
{
	return row->st != NULL ? sqlite3_column_type(row->st, i) ==
	    SQLITE_NULL : PQgetisnull(row->res, 0, i);
}

const char *
ctl_col_text(const struct ctl_row *row, int i)
{
	if (ctl_col_null(row, i))
		return NULL;
	return row->st != NULL ? (const char *)sqlite3_column_text(row->st,
	    i) : PQgetvalue(row->res, 0, i);
}

int64_t
ctl_col_int(const struct ctl_row *row, int i)
{
	const char *v;

	if (row->st != NULL)
		return sqlite3_column_int64(row->st, i);
	if ((v = PQgetvalue(row->res, 0, i))[0] == 't')
		return 1;	/* a boolean */
	return strtoll(v, NULL, 10);
}

const unsigned char *
ctl_col_blob(struct ctl_row *row, int i, size_t *len)
{
	const unsigned char *v;

	if (row->st != NULL) {
		*len = (size_t)sqlite3_column_bytes(row->st, i);
		v = sqlite3_column_blob(row->st, i);
		return v != NULL ? v : (const unsigned char *)"";
	}
	if (PQftype(row->res, i) != CTL_PG_BYTEA) {
		*len = (size_t)PQgetlength(row->res, 0, i);
		return (const unsigned char *)PQgetvalue(row->res, 0, i);
	}
	if (row->bytes == NULL || row->bytes_col != i) {
		PQfreemem(row->bytes);
		row->bytes = PQunescapeBytea((const unsigned char *)
		    PQgetvalue(row->res, 0, i), &row->bytes_len);
		if (row->bytes == NULL)
			fatalx(CTL_EXIT_ERR, "out of memory");
		row->bytes_col = i;
	}
	*len = row->bytes_len;
	return row->bytes;
}

/* Whether column i holds an integer: its value's type, or its column's. */
static int
ctl_col_is_int(const struct ctl_row *row, int i)
{
	if (row->st != NULL)
		return sqlite3_column_type(row->st, i) == SQLITE_INTEGER;
	switch (PQftype(row->res, i)) {
	case CTL_PG_BOOL:
	case CTL_PG_INT2:
	case CTL_PG_INT4:
	case CTL_PG_INT8:
		return 1;
	case CTL_PG_NUMERIC:	/* a sum: integral where SQLite's is */
		return strchr(PQgetvalue(row->res, 0, i), '.') == NULL;
	default:
		return 0;
	}
}

/*
 * Integers as numbers, text as strings (bytes that are not UTF-8 are
 * escaped), NULL as null; the same JSON from either engine.
 */
json_t *
ctl_row_json(struct ctl_row *row)
{
	json_t *o = json_object(), *v;
	int i, n = ctl_col_count(row);
	const char *t, *name;
	char *esc;
	size_t len;

	if (o == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (ctl_col_null(row, i))
			v = json_null();
		else if (ctl_col_is_int(row, i))
			v = json_integer(ctl_col_int(row, i));
		else {
			t = (const char *)ctl_col_blob(row, i, &len);
			v = json_stringn(t, len);
			if (v == NULL && (esc = malloc(4 * len + 1)) != NULL) {
				log_escape(t, len, esc, 4 * len + 1);
				v = json_string(esc);
				free(esc);
			}
		}
		name = row->st != NULL ? sqlite3_column_name(row->st, i) :
		    PQfname(row->res, i);
		if (v == NULL || json_object_set_new(o, name, v) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/*
 * Parameter i + 1 of st: "$N" by its name, or, in a statement written
 * with "?N" (refusal.h), by its number.
 */
static void
ctl_lite_bind(sqlite3_stmt *st, const char *const *params, size_t n)
{
	const char *first = sqlite3_bind_parameter_name(st, 1);
	char name[24];
	size_t i;
	int at;

	for (i = 0; i < n; i++) {
		at = (int)i + 1;
		if (first != NULL && first[0] == '$') {
			snprintf(name, sizeof(name), "$%zu", i + 1);
			at = sqlite3_bind_parameter_index(st, name);
		}
		if (at == 0)
			continue;
		if (params[i] != NULL)
			sqlite3_bind_text(st, at, params[i], -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, at);
	}
}

static int
ctl_lite_each(struct ctl_db *db, const char *sql, const char *const *params,
    size_t n, ctl_row_fn fn, void *arg)
{
	struct ctl_row row;
	int step, rc = 0;

	memset(&row, 0, sizeof(row));
	if (sqlite3_prepare_v2(db->lite, sql, -1, &row.st, NULL) != SQLITE_OK)
		goto dberr;
	ctl_lite_bind(row.st, params, n);
	while (rc == 0 && (step = sqlite3_step(row.st)) == SQLITE_ROW)
		rc = fn != NULL ? fn(&row, arg) : 0;
	if (rc == 0 && step != SQLITE_DONE)
		goto dberr;
	sqlite3_finalize(row.st);
	return rc;
dberr:
	ctl_warnx(NULL, "database: %s", sqlite3_errmsg(db->lite));
	sqlite3_finalize(row.st);
	return -1;
}

/*
 * A row at a time (single-row mode), so that a long feed is never held
 * in memory whole; once fn stopped, the rest is read and dropped.
 */
static int
ctl_pg_each(struct ctl_db *db, const char *sql, const char *const *params,
    size_t n, ctl_row_fn fn, void *arg)
{
	struct ctl_row row;
	PGresult *r;
	int rc = 0, failed = 0;

	memset(&row, 0, sizeof(row));
	if (PQsendQueryParams(db->pg, sql, (int)n, NULL, params, NULL, NULL,
	    0) != 1 || PQsetSingleRowMode(db->pg) != 1) {
		ctl_pg_warn(NULL, "database", PQerrorMessage(db->pg));
		return -1;
	}
	while ((r = PQgetResult(db->pg)) != NULL) {
		switch (PQresultStatus(r)) {
		case PGRES_SINGLE_TUPLE:
			if (rc == 0 && !failed && fn != NULL) {
				row.res = r;
				rc = fn(&row, arg);
				PQfreemem(row.bytes);
				row.bytes = NULL;
			}
			break;
		case PGRES_TUPLES_OK:
		case PGRES_COMMAND_OK:
			break;
		default:
			if (!failed)
				ctl_pg_warn(NULL, "database",
				    PQresultErrorMessage(r));
			failed = 1;
			break;
		}
		PQclear(r);
	}
	return failed ? -1 : rc;
}

int
ctl_db_each(struct ctl_db *db, const char *sql, const char *const *params,
    size_t n, ctl_row_fn fn, void *arg)
{
	if (db->lite != NULL)
		return ctl_lite_each(db, sql, params, n, fn, arg);
	return ctl_pg_each(db, sql, params, n, fn, arg);
}

static int
ctl_rows_append(struct ctl_row *row, void *arg)
{
	json_t *o = ctl_row_json(row);

	if (o == NULL || json_array_append_new(arg, o) != 0) {
		ctl_warnx(NULL, "out of memory");
		return -1;
	}
	return 0;
}

json_t *
ctl_rows(struct ctl_db *db, const char *sql, const char *const *params,
    size_t nparams)
{
	json_t *a = json_array();

	if (a == NULL || ctl_db_each(db, sql, params, nparams, ctl_rows_append,
	    a) != 0) {
		json_decref(a);
		return NULL;
	}
	return a;
}
