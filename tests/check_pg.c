/*
 * check_pg.c - suite pg: the PostgreSQL harness (pg.c) and the facts the
 * PostgreSQL engine relies on (synchronous replication, a cancelled
 * commit, failover through a multi-host connection string), then the
 * engine's schema (store_pg_schema.c) against a real server.
 *
 * Every test starts its own cluster (pg_start) in a checked fixture whose
 * teardown always removes it.  Without root or PostgreSQL 15 the tests
 * say so and pass.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "notif.h"
#include "pg.h"
#include "store.h"
#include "util.h"

#include "../src/store_judge.h"
#include "../src/store_pg.h"
#include "../src/store_pg_pipe.h"
#include "../src/store_pg_sql.h"
#include "suites.h"

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Wait up to ms for conn's pending query to finish: 1 if it did (its
 * results are ready for PQgetResult), 0 if it is still running.
 */
static int
pg_done_within(PGconn *c, int ms)
{
	struct pollfd pfd = { .fd = PQsocket(c), .events = POLLIN };
	uint64_t end = now_ms() + (uint64_t)ms;
	int64_t left;

	while (PQconsumeInput(c) == 1 && PQisBusy(c)) {
		if ((left = (int64_t)(end - now_ms())) <= 0)
			return 0;
		if (poll(&pfd, 1, (int)left) == -1)
			return 0;
	}
	return !PQisBusy(c);
}

/* The one result of the pending command, its status. */
static ExecStatusType
pg_result(PGconn *c)
{
	PGresult *r, *more;
	ExecStatusType st;

	ck_assert_ptr_nonnull(r = PQgetResult(c));
	st = PQresultStatus(r);
	PQclear(r);
	while ((more = PQgetResult(c)) != NULL)
		PQclear(more);
	return st;
}

/* What the server said besides the result (a WARNING, say). */
struct pg_notice {
	char	severity[16];
	char	sqlstate[8];
	char	message[256];
	char	detail[256];
	int	count;
};

static void
pg_notice_cb(void *arg, const PGresult *r)
{
	struct pg_notice *n = arg;
	const char *f;

	n->count++;
#define PG_FIELD(dst, code)						\
	snprintf(dst, sizeof(dst), "%s",				\
	    (f = PQresultErrorField(r, code)) != NULL ? f : "")
	PG_FIELD(n->severity, PG_DIAG_SEVERITY_NONLOCALIZED);
	PG_FIELD(n->sqlstate, PG_DIAG_SQLSTATE);
	PG_FIELD(n->message, PG_DIAG_MESSAGE_PRIMARY);
	PG_FIELD(n->detail, PG_DIAG_MESSAGE_DETAIL);
#undef PG_FIELD
}

static void
setup(void)
{
}

/*
 * When COMMIT returns, the commit is on the standby's disk: the standby
 * reports (to the primary) and holds (its own receive position) WAL past
 * the transaction, and the row then shows there.
 */
START_TEST(test_sync_commit)
{
	PGconn *c;
	char lsn[64], sql[256];

	PG_SKIP_UNLESS_AVAILABLE();
	pg_start(1);
	ck_assert_str_eq(pg_sql(0, "SELECT sync_state FROM pg_stat_replication"
	    " WHERE application_name = 's1'"), "quorum");
	c = pg_connect(0);
	pg_exec(c, "CREATE TABLE t (id integer PRIMARY KEY)");
	pg_exec(c, "BEGIN");
	pg_exec(c, "INSERT INTO t VALUES (1)");
	{
		PGresult *r = PQexec(c, "SELECT pg_current_wal_insert_lsn()");

		ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
		snprintf(lsn, sizeof(lsn), "%s", PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	pg_exec(c, "COMMIT");
	/* At once: no wait, no retry. */
	snprintf(sql, sizeof(sql), "SELECT flush_lsn > '%s' FROM"
	    " pg_stat_replication WHERE application_name = 's1'", lsn);
	ck_assert_str_eq(pg_sql(0, sql), "t");
	snprintf(sql, sizeof(sql), "SELECT pg_last_wal_receive_lsn() > '%s'",
	    lsn);
	ck_assert_str_eq(pg_sql(1, sql), "t");
	PQfinish(c);
	/* Flushed is not yet applied: the row shows once replayed. */
	pg_wait(1, "SELECT count(*) FROM t", "1", 5000);
}
END_TEST

/*
 * With both standbys stalled, a COMMIT (here an autocommitted INSERT)
 * does not return within a second; it returns once one standby resumes.
 */
START_TEST(test_stalled_standbys_block_commit)
{
	PGconn *c;
	uint64_t t0;

	PG_SKIP_UNLESS_AVAILABLE();
	pg_start(2);
	c = pg_connect(0);
	pg_exec(c, "CREATE TABLE t (id integer PRIMARY KEY)");
	pg_stall(1);
	pg_stall(2);
	ck_assert_int_eq(PQsendQuery(c, "INSERT INTO t VALUES (1)"), 1);
	ck_assert_msg(!pg_done_within(c, 1000),
	    "COMMIT returned with both standbys stalled");
	pg_resume(2);
	t0 = now_ms();
	ck_assert_msg(pg_done_within(c, 5000),
	    "COMMIT still waiting 5 s after a standby resumed");
	fprintf(stderr, "test_stalled_standbys_block_commit: COMMIT returned "
	    "%llu ms after s2 resumed\n", (unsigned long long)(now_ms() - t0));
	ck_assert_int_eq(pg_result(c), PGRES_COMMAND_OK);
	pg_resume(1);
	PQfinish(c);
}
END_TEST

/*
 * Issue 16 point 3: cancelling a COMMIT that waits for the synchronous
 * standby does not undo it.  The command succeeds, the server sends only
 * a WARNING, and the row is committed on the primary alone: antomd must
 * treat that warning as a failure and never cancel a COMMIT.
 */
START_TEST(test_cancelled_commit_is_local_only)
{
	struct pg_notice n;
	PGconn *c;
	PGcancel *cancel;
	char errbuf[256], lsn[64], sql[256];
	PGresult *r;

	PG_SKIP_UNLESS_AVAILABLE();
	memset(&n, 0, sizeof(n));
	pg_start(2);
	c = pg_connect(0);
	PQsetNoticeReceiver(c, pg_notice_cb, &n);
	pg_exec(c, "CREATE TABLE t (id integer PRIMARY KEY)");
	pg_stall(1);
	pg_stall(2);
	ck_assert_int_eq(PQsendQuery(c, "INSERT INTO t VALUES (1)"), 1);
	ck_assert(!pg_done_within(c, 1000));
	ck_assert_ptr_nonnull(cancel = PQgetCancel(c));
	ck_assert_int_eq(PQcancel(cancel, errbuf, sizeof(errbuf)), 1);
	PQfreeCancel(cancel);
	ck_assert(pg_done_within(c, 5000));
	/* Not an error: the command "succeeded". */
	ck_assert_int_eq(pg_result(c), PGRES_COMMAND_OK);
	fprintf(stderr, "test_cancelled_commit_is_local_only: %s %s: %s "
	    "(DETAIL: %s)\n", n.severity, n.sqlstate, n.message, n.detail);
	ck_assert_int_eq(n.count, 1);
	ck_assert_str_eq(n.severity, "WARNING");
	ck_assert_str_eq(n.sqlstate, "01000");
	ck_assert_str_eq(n.message, "canceling wait for synchronous replication "
	    "due to user request");
	ck_assert_str_eq(n.detail, "The transaction has already committed "
	    "locally, but might not have been replicated to the standby.");
	ck_assert_ptr_nonnull(r = PQexec(c, "SELECT pg_current_wal_flush_lsn()"));
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	snprintf(lsn, sizeof(lsn), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	/* Committed and visible on the primary, on no standby. */
	ck_assert_str_eq(pg_sql(0, "SELECT count(*) FROM t"), "1");
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_stat_replication"
	    " WHERE flush_lsn >= '%s'", lsn);
	ck_assert_str_eq(pg_sql(0, sql), "0");
	pg_resume(1);
	pg_resume(2);
	PQfinish(c);
}
END_TEST

/*
 * SIGKILL the primary, promote the standby that received the most, and
 * the multi-host connection string with target_session_attrs=read-write
 * reaches the new primary, which holds every committed row and takes
 * synchronous writes (the other standby follows it).
 */
START_TEST(test_failover)
{
	PGconn *c;
	char sql[96], port[8];
	int i, best;

	PG_SKIP_UNLESS_AVAILABLE();
	pg_start(2);
	c = pg_connect_to(pg.uri);
	ck_assert_str_eq(PQport(c), "5432");
	pg_exec(c, "CREATE TABLE t (id integer PRIMARY KEY)");
	for (i = 1; i <= 200; i++) {
		snprintf(sql, sizeof(sql), "INSERT INTO t VALUES (%d)", i);
		pg_exec(c, sql);
	}
	PQfinish(c);
	pg_kill(0);
	/* No read-write server: the connection string finds none. */
	c = PQconnectdb(pg.uri);
	ck_assert_int_ne(PQstatus(c), CONNECTION_OK);
	PQfinish(c);
	best = pg_most_advanced();
	pg_promote(best);
	c = pg_connect_to(pg.uri);
	snprintf(port, sizeof(port), "%d", pg.node[best].port);
	ck_assert_str_eq(PQport(c), port);
	pg_exec(c, "INSERT INTO t VALUES (201)");
	PQfinish(c);
	ck_assert_str_eq(pg_sql_at(pg.uri, "SELECT count(*) || ' ' || max(id)"
	    " FROM t"), "201 201");
}
END_TEST

/* The schema, on a primary alone. */

/* A fresh SQLite database of the current schema, as antomd makes it. */
static sqlite3 *
sqlite_fresh(char *dir, size_t dircap)
{
	struct store_options o = { 100, 1, 16, 0, 0 };
	char path[128], err[256];
	struct store *st;
	sqlite3 *db;

	test_tmpdir(dir, dircap, "pgcmp", path, sizeof(path));
	st = store_open(path, &o, err, sizeof(err));
	ck_assert_msg(st != NULL, "store_open: %s", err);
	store_close(st);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	/* As antomd's writer runs (store_db.c). */
	ck_assert_int_eq(sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL,
	    NULL), SQLITE_OK);
	return db;
}

static PGconn *
pg_migrated(void)
{
	PGconn *c = pg_connect(0);
	char err[256];
	int from = -1;

	ck_assert_msg(store_pg_migrate(c, &from, err, sizeof(err)) == 0,
	    "store_pg_migrate: %s", err);
	ck_assert_int_eq(from, 0);
	return c;
}

/* A fresh SQLite database and a migrated PostgreSQL one, side by side. */
struct both {
	char	 dir[64];	/* the SQLite database's */
	sqlite3	*db;
	PGconn	*c;
};

static void
both_open(struct both *b)
{
	pg_start(0);
	b->db = sqlite_fresh(b->dir, sizeof(b->dir));
	b->c = pg_migrated();
}

static void
both_close(struct both *b)
{
	sqlite3_close(b->db);
	PQfinish(b->c);
	test_rmtree(b->dir);
}

/* Append to a growing malloc'd string. */
static void
cat(char **s, size_t *len, const char *add)
{
	size_t n = strlen(add);

	*s = realloc(*s, *len + n + 1);
	ck_assert_ptr_nonnull(*s);
	memcpy(*s + *len, add, n + 1);
	*len += n;
}

static int
cmp_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Rows as "a|b|NULL" lines; sorted unless the query orders them.  The
 * caller frees the result.
 */
static char *
rows_finish(char **lines, size_t n, const char *sql)
{
	char *out = NULL;
	size_t i, len = 0;

	/* No row: lines is NULL, which qsort may not be given. */
	if (n > 1 && strstr(sql, "ORDER BY") == NULL)
		qsort(lines, n, sizeof(*lines), cmp_lines);
	cat(&out, &len, "");
	for (i = 0; i < n; i++) {
		cat(&out, &len, lines[i]);
		cat(&out, &len, "\n");
		free(lines[i]);
	}
	free(lines);
	return out;
}

static char *
rows_sqlite(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	char **lines = NULL, *line;
	size_t n = 0, len;
	int i;

	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK,
	    "%s: %s", sql, sqlite3_errmsg(db));
	while (sqlite3_step(st) == SQLITE_ROW) {
		line = NULL;
		len = 0;
		cat(&line, &len, "");
		for (i = 0; i < sqlite3_column_count(st); i++) {
			if (i > 0)
				cat(&line, &len, "|");
			cat(&line, &len, sqlite3_column_type(st, i) == SQLITE_NULL ?
			    "NULL" : (const char *)sqlite3_column_text(st, i));
		}
		lines = realloc(lines, (n + 1) * sizeof(*lines));
		lines[n++] = line;
	}
	sqlite3_finalize(st);
	return rows_finish(lines, n, sql);
}

static char *
rows_pg(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	char **lines = NULL, *line;
	size_t len;
	int i, j, n;

	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
	    PQerrorMessage(c));
	n = PQntuples(r);
	lines = calloc((size_t)n + 1, sizeof(*lines));
	for (i = 0; i < n; i++) {
		line = NULL;
		len = 0;
		cat(&line, &len, "");
		for (j = 0; j < PQnfields(r); j++) {
			if (j > 0)
				cat(&line, &len, "|");
			cat(&line, &len, PQgetisnull(r, i, j) ? "NULL" :
			    PQgetvalue(r, i, j));
		}
		lines[i] = line;
	}
	PQclear(r);
	return rows_finish(lines, (size_t)n, sql);
}

/*
 * a and b, row lists of SQLite and PostgreSQL, are the same; else the
 * first line that differs ends the test (Check's messages are short).
 */
static void
assert_same_rows(const char *what, const char *a, const char *b)
{
	size_t i = 0, line = 1, start = 0;

	while (a[i] != '\0' && a[i] == b[i]) {
		if (a[i++] == '\n') {
			line++;
			start = i;
		}
	}
	if (a[i] == '\0' && b[i] == '\0')
		return;
	ck_abort_msg("%s, line %zu: SQLite \"%.120s\", PostgreSQL \"%.120s\"",
	    what, line, a + start, b + start);
}

/* sql on both, which must both succeed (or both fail: then 1). */
static int
exec_both(sqlite3 *db, PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int lite = sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
	int pgok = PQresultStatus(r) == PGRES_COMMAND_OK;
	char msg[256];

	snprintf(msg, sizeof(msg), "%s", pgok ? "" : PQerrorMessage(c));
	PQclear(r);
	ck_assert_msg(lite == pgok, "%s: SQLite %s (%s), PostgreSQL %s (%s)",
	    sql, lite ? "accepts" : "refuses", sqlite3_errmsg(db),
	    pgok ? "accepts" : "refuses", msg);
	return !pgok;
}

/* Migrated, it has every table, view and index; again, nothing happens. */
START_TEST(test_pg_migrate)
{
	PGresult *r;
	PGconn *c;
	char err[256];
	int from = -1;

	PG_SKIP_UNLESS_AVAILABLE();
	pg_start(0);
	c = pg_migrated();
	ck_assert_str_eq(pg_sql(0, "SELECT version FROM antomd_schema"), "9");
	ck_assert_str_eq(pg_sql(0, "SELECT string_agg(table_name, ' ' ORDER BY"
	    " table_name) FROM information_schema.tables WHERE table_schema ="
	    " 'public' AND table_type = 'BASE TABLE'"), "antomd_schema captures "
	    "disputes events notifications payments refund_links refunds "
	    "refusals vaultings");
	ck_assert_str_eq(pg_sql(0, "SELECT string_agg(table_name, ' ' ORDER BY"
	    " table_name) FROM information_schema.views WHERE table_schema ="
	    " 'public'"), "payment_captures payment_status payment_timeline "
	    "refund_payment refund_status");
	/* Again: version 9 found, nothing made. */
	ck_assert_msg(store_pg_migrate(c, &from, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_int_eq(from, 9);
	ck_assert_str_eq(pg_sql(0, "SELECT count(*) FROM antomd_schema"), "1");
	/*
	 * A database of schema 8, as the release before left it: version 9
	 * changed SQLite's keys only, so the number moves and nothing else.
	 */
	pg_exec(c, "UPDATE antomd_schema SET version = 8");
	ck_assert_msg(store_pg_migrate(c, &from, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_int_eq(from, 8);
	ck_assert_str_eq(pg_sql(0, "SELECT version FROM antomd_schema"), "9");
	ck_assert_str_eq(pg_sql(0, "SELECT string_agg(indexname, ' ' ORDER BY"
	    " indexname) FROM pg_indexes WHERE tablename = 'notifications'"),
	    "notifications_client_id_body_sha256_key notifications_object "
	    "notifications_pkey");
	/* No antomd made an earlier one on PostgreSQL: refused, left alone. */
	pg_exec(c, "UPDATE antomd_schema SET version = 7");
	ck_assert_int_eq(store_pg_migrate(c, &from, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "no antomd made it") != NULL, "%s", err);
	ck_assert_str_eq(pg_sql(0, "SELECT version FROM antomd_schema"), "7");
	pg_exec(c, "UPDATE antomd_schema SET version = 9");
	/* One row only. */
	r = PQexec(c, "INSERT INTO antomd_schema VALUES (10)");
	ck_assert_int_ne(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	/* A newer version is refused, and left alone. */
	pg_exec(c, "UPDATE antomd_schema SET version = 10");
	ck_assert_int_eq(store_pg_migrate(c, &from, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "newer"));
	ck_assert_str_eq(pg_sql(0, "SELECT version FROM antomd_schema"), "10");
	PQfinish(c);
}
END_TEST

struct migrator {
	pthread_t	t;
	int		rc, from;
	char		err[256];
};

static void *
migrator_run(void *arg)
{
	struct migrator *m = arg;
	PGconn *c = PQconnectdb(pg.node[0].conninfo);

	m->rc = PQstatus(c) == CONNECTION_OK ? store_pg_migrate(c, &m->from,
	    m->err, sizeof(m->err)) : -1;
	PQfinish(c);
	return NULL;
}

/*
 * Two instances starting at once: both wait on the advisory lock (held
 * here until both do), and the schema is made once, by one of them.
 */
START_TEST(test_pg_migrate_concurrent)
{
	struct migrator m[2];
	PGconn *hold;
	char sql[96];
	int i;

	PG_SKIP_UNLESS_AVAILABLE();
	memset(m, 0, sizeof(m));
	pg_start(0);
	hold = pg_connect(0);
	pg_exec(hold, "BEGIN");
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%lld)",
	    STORE_PG_LOCK_SCHEMA);
	pg_exec(hold, sql);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&m[i].t, NULL, migrator_run,
		    &m[i]), 0);
	for (i = 0; strcmp(pg_sql(0, "SELECT count(*) FROM pg_locks WHERE"
	    " locktype = 'advisory' AND NOT granted"), "2") != 0; i++) {
		ck_assert_msg(i < 500, "the two migrations did not both wait "
		    "for the schema's lock");
		usleep(10000);
	}
	pg_exec(hold, "COMMIT");
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(pthread_join(m[i].t, NULL), 0);
		ck_assert_msg(m[i].rc == 0, "migrator %d: %s", i, m[i].err);
	}
	ck_assert_int_eq(m[0].from + m[1].from, STORE_SCHEMA_VERSION);
	ck_assert_int_eq(m[0].from * m[1].from, 0);
	ck_assert_str_eq(pg_sql(0, "SELECT count(*) FROM antomd_schema"), "1");
	PQfinish(hold);
}
END_TEST

/* antomd -n: checks, creates nothing; refuses what it cannot use. */
START_TEST(test_pg_check)
{
	PGconn *c;
	char err[256], conninfo[256];

	PG_SKIP_UNLESS_AVAILABLE();
	pg_start(0);
	ck_assert_msg(store_pg_check(pg.node[0].conninfo, err, sizeof(err)) ==
	    0, "%s", err);
	ck_assert_str_eq(pg_sql(0, "SELECT count(*) FROM pg_class c JOIN"
	    " pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname ="
	    " 'public'"), "0");
	/* A role that may not create tables in public (PostgreSQL 15). */
	pg_sql(0, "CREATE ROLE reader LOGIN");
	snprintf(conninfo, sizeof(conninfo), "host=%s port=%d user=reader "
	    "dbname=postgres", pg.dir, pg.node[0].port);
	ck_assert_int_eq(store_pg_check(conninfo, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "may not create") != NULL, "%s", err);
	c = pg_migrated();
	ck_assert_msg(store_pg_check(pg.node[0].conninfo, err, sizeof(err)) ==
	    0, "%s", err);
	pg_exec(c, "UPDATE antomd_schema SET version = 10");
	ck_assert_int_eq(store_pg_check(pg.node[0].conninfo, err, sizeof(err)),
	    -1);
	ck_assert_msg(strstr(err, "newer") != NULL, "%s", err);
	/* Nobody there. */
	snprintf(conninfo, sizeof(conninfo), "host=%s port=1 user=postgres",
	    pg.dir);
	ck_assert_int_eq(store_pg_check(conninfo, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "cannot connect") != NULL, "%s", err);
	PQfinish(c);
}
END_TEST

/*
 * The two schemas, column by column: the same tables, each with the same
 * columns in the same order, INTEGER as bigint, TEXT as text COLLATE "C",
 * BLOB as bytea, the same NOT NULLs; the same views with the same
 * columns; the same indexes by name.
 */
START_TEST(test_pg_columns_match_sqlite)
{
	/* SQLite's type for each of PostgreSQL's; a view's is its table's. */
	static const char pg_cols[] =
	    "SELECT CASE t.table_type WHEN 'VIEW' THEN 'view' ELSE 'table' END,"
	    "  c.table_name, c.ordinal_position - 1, c.column_name,"
	    "  CASE WHEN t.table_type = 'VIEW' THEN ''"
	    "       WHEN c.data_type = 'bigint' THEN 'integer'"
	    "       WHEN c.data_type = 'text' AND c.collation_name = 'C'"
	    "         THEN 'text'"
	    "       WHEN c.data_type = 'bytea' THEN 'blob'"
	    "       ELSE c.data_type || ' ' || coalesce(c.collation_name, '') END,"
	    "  CASE WHEN t.table_type = 'VIEW' OR c.is_nullable = 'YES' THEN 0"
	    "       ELSE 1 END"
	    " FROM information_schema.columns c JOIN information_schema.tables t"
	    "   USING (table_schema, table_name)"
	    " WHERE c.table_schema = 'public' AND c.table_name <> 'antomd_schema'"
	    " ORDER BY 1, 2, 3";
	struct both e;
	char *a, *b;

	PG_SKIP_UNLESS_AVAILABLE();
	both_open(&e);
	/*
	 * SQLite's primary keys declared INTEGER PRIMARY KEY are NOT NULL in
	 * fact, not in table_info; and a view's column has no type of its own
	 * in PostgreSQL's information_schema terms worth comparing.
	 */
	a = rows_sqlite(e.db, "SELECT type, name, cid, cname, CASE WHEN type ="
	    " 'view' THEN '' ELSE ctype END, CASE WHEN type = 'view' THEN 0"
	    " WHEN cname IN ('id', 'seq') AND name IN ('notifications',"
	    " 'events') THEN 1 ELSE nn END FROM (SELECT m.type, m.name, c.cid,"
	    " c.name AS cname, lower(c.type) AS ctype, c.\"notnull\" AS nn"
	    " FROM sqlite_master m, pragma_table_info(m.name) c WHERE m.type IN"
	    " ('table', 'view') AND m.name NOT LIKE 'sqlite_%') ORDER BY 1, 2, 3");
	b = rows_pg(e.c, pg_cols);
	assert_same_rows("columns", a, b);
	ck_assert_ptr_nonnull(strstr(a, "table|payments|42|credential_type_used"
	    "|text|0"));
	free(a);
	free(b);
	/*
	 * But for notifications_unkeyed: SQLite's key of a notification
	 * about no object (schema 9), which PostgreSQL's UNIQUE (client_id,
	 * body_sha256) holds there.
	 */
	a = rows_sqlite(e.db, "SELECT name FROM sqlite_master WHERE type ="
	    " 'index' AND sql IS NOT NULL AND name <> 'notifications_unkeyed'"
	    " ORDER BY name");
	b = rows_pg(e.c, "SELECT indexname FROM pg_indexes WHERE schemaname ="
	    " 'public' AND indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE"
	    " '%\\_key' AND tablename <> 'antomd_schema' ORDER BY indexname");
	assert_same_rows("indexes", a, b);
	free(a);
	free(b);
	both_close(&e);
}
END_TEST

/*
 * The CHECKs, NOT NULLs, keys and foreign keys refuse on PostgreSQL what
 * they refuse on SQLite, and accept what it accepts.
 */
START_TEST(test_pg_checks_match_sqlite)
{
	static const char notif[] = "INSERT INTO notifications (client_id,"
	    " body_sha256, body, request_time, signature, signed_path,"
	    " key_version, kind, object_id, outcome, first_received_at,"
	    " last_received_at) VALUES ('C', '%s', '{}', 't', 's', '/p', 1,"
	    " '%s', 'O', '%s', 't', 't')";
	static const struct {
		const char	*sql;
		int		 refused;
	} rows[] = {
		{ "INSERT INTO payments (payment_request_id, client_id, status,"
		  " notification_id, created_at, updated_at) VALUES ('PR1', 'C',"
		  " 'SUCCESS', 1, 't', 't')", 0 },
		{ "INSERT INTO payments (payment_request_id, client_id, status,"
		  " notification_id, created_at, updated_at) VALUES ('PR2', 'C',"
		  " 'DONE', 1, 't', 't')", 1 },
		{ "INSERT INTO payments (payment_request_id, client_id, status,"
		  " notification_id, created_at, updated_at) VALUES ('PR3', 'C',"
		  " NULL, 1, 't', 't')", 1 },
		/* The key. */
		{ "INSERT INTO payments (payment_request_id, client_id, status,"
		  " notification_id, created_at, updated_at) VALUES ('PR1', 'C',"
		  " 'FAIL', 1, 't', 't')", 1 },
		/* No such notification. */
		{ "INSERT INTO payments (payment_request_id, client_id, status,"
		  " notification_id, created_at, updated_at) VALUES ('PR4', 'C',"
		  " 'FAIL', 999, 't', 't')", 1 },
		{ "INSERT INTO captures (capture_request_id, client_id, status,"
		  " notification_id, created_at, updated_at) VALUES ('CR1', 'C',"
		  " 'PENDING', 1, 't', 't')", 0 },
		{ "INSERT INTO captures (capture_request_id, client_id, status,"
		  " notification_id, created_at, updated_at) VALUES ('CR2', 'C',"
		  " 'CAPTURED', 1, 't', 't')", 1 },
		{ "INSERT INTO refunds (refund_request_id, client_id, status,"
		  " notification_id, created_at, updated_at) VALUES ('RR1', 'C',"
		  " 'FAIL', 1, 't', 't')", 0 },
		{ "INSERT INTO refunds (refund_request_id, client_id, status,"
		  " notification_id, created_at, updated_at) VALUES ('RR2', 'C',"
		  " 'REFUNDED', 1, 't', 't')", 1 },
		{ "INSERT INTO vaultings (vaulting_request_id, client_id, status,"
		  " notification_id, created_at, updated_at) VALUES ('V1', 'C',"
		  " 'PROCESSING', 1, 't', 't')", 1 },
		{ "INSERT INTO disputes (dispute_id, client_id, stage, defendable,"
		  " notification_id, created_at, updated_at) VALUES ('D1', 'C',"
		  " 'S', 'true', 1, 't', 't')", 0 },
		{ "INSERT INTO disputes (dispute_id, client_id, stage, defendable,"
		  " notification_id, created_at, updated_at) VALUES ('D2', 'C',"
		  " 'S', 'yes', 1, 't', 't')", 1 },
		{ "INSERT INTO events (created_at, client_id, object_type,"
		  " object_id, new_status, notification_id) VALUES ('t', 'C',"
		  " 'vaulting', 'V1', 'SUCCESS', 1)", 0 },
		{ "INSERT INTO events (created_at, client_id, object_type,"
		  " object_id, new_status, notification_id) VALUES ('t', 'C',"
		  " 'other', 'O', 'SUCCESS', 1)", 1 },
		{ "INSERT INTO refusals (body_sha256, client_id, status, reason,"
		  " first_refused_at, last_refused_at, refusal_count, authentic)"
		  " VALUES ('h', 'C', 503, 'r', 't', 't', 1, 1)", 0 },
		{ "INSERT INTO refusals (body_sha256, client_id, status, reason,"
		  " first_refused_at, last_refused_at, refusal_count, authentic)"
		  " VALUES ('h2', 'C', 401, 'r', 't', 't', 1, 2)", 1 },
		{ "INSERT INTO refund_links (client_id, refund_request_id,"
		  " payment_request_id) VALUES ('C', 'RR1', 'PR1')", 0 },
		{ "INSERT INTO refund_links (client_id, refund_request_id)"
		  " VALUES ('C', 'RR9')", 1 },
	};
	struct both e;
	char sql[512], *a, *b;
	size_t i;

	PG_SKIP_UNLESS_AVAILABLE();
	both_open(&e);
	snprintf(sql, sizeof(sql), notif, "h1", "payment", "applied");
	ck_assert_int_eq(exec_both(e.db, e.c, sql), 0);
	snprintf(sql, sizeof(sql), notif, "h1", "payment", "applied");
	ck_assert_int_eq(exec_both(e.db, e.c, sql), 1);	/* UNIQUE */
	snprintf(sql, sizeof(sql), notif, "h2", "chargeback", "applied");
	ck_assert_int_eq(exec_both(e.db, e.c, sql), 1);
	snprintf(sql, sizeof(sql), notif, "h3", "other", "lost");
	ck_assert_int_eq(exec_both(e.db, e.c, sql), 1);
	/* One about no object is unique too (SQLite: notifications_unkeyed). */
	snprintf(sql, sizeof(sql), "INSERT INTO notifications (client_id,"
	    " body_sha256, body, request_time, signature, signed_path,"
	    " key_version, kind, outcome, first_received_at, last_received_at)"
	    " VALUES ('C', 'h4', '{}', 't', 's', '/p', 1, 'other', 'archived',"
	    " 't', 't')");
	ck_assert_int_eq(exec_both(e.db, e.c, sql), 0);
	ck_assert_int_eq(exec_both(e.db, e.c, sql), 1);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		ck_assert_msg(exec_both(e.db, e.c, rows[i].sql) == rows[i].refused,
		    "%s: refused by both: %d", rows[i].sql, !rows[i].refused);
	/* The link's time, as SQLite writes it: ISO 8601, ms, UTC. */
	a = rows_sqlite(e.db, "SELECT length(created_at), substr(created_at, 11,"
	    " 1), substr(created_at, 20, 1), substr(created_at, 24)"
	    " FROM refund_links");
	b = rows_pg(e.c, "SELECT length(created_at), substr(created_at, 11, 1),"
	    " substr(created_at, 20, 1), substr(created_at, 24)"
	    " FROM refund_links");
	ck_assert_str_eq(a, "24|T|.|Z\n");
	ck_assert_str_eq(b, a);
	free(a);
	free(b);
	both_close(&e);
}
END_TEST

/*
 * The views answer the same on both engines, row for row, over one set of
 * rows, and so do the README's queries for merchant applications.  The
 * one query written otherwise: SQLite's date('now') (UTC) is
 * to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD') on PostgreSQL.
 */
START_TEST(test_pg_views_match_sqlite)
{
	static const char *const data[] = {
#define N(sha, kind, obj, outcome, disc)				\
	"INSERT INTO notifications (client_id, body_sha256, body,"	\
	" request_time, signature, signed_path, key_version, notify_type," \
	" kind, object_id, outcome, discrepancy, first_received_at,"	\
	" last_received_at) VALUES ('C1', '" sha "', '{}', 't', 's', '/p', 1," \
	" 'T', '" kind "', '" obj "', '" outcome "', " disc ","	\
	" '2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z')"
		N("h1", "payment", "paymentRequestId01", "applied", "NULL"),
		N("h2", "capture", "CR1", "applied", "NULL"),
		N("h3", "capture", "CR2", "applied", "NULL"),
		N("h4", "refund", "RR1", "applied", "NULL"),
		N("h5", "refund", "RR2", "applied", "NULL"),
		N("h6", "dispute", "D1", "applied", "NULL"),
		N("h7", "payment", "PR2", "applied", "NULL"),
		N("h8", "capture", "CR3", "applied", "NULL"),
		N("h9", "refund", "RR3", "applied", "NULL"),
		N("h10", "payment", "paymentRequestId01", "conflict",
		    "'status SUCCESS -> FAIL'"),
		N("h11", "capture", "CR4", "applied", "NULL"),
#undef N
		"INSERT INTO payments (payment_request_id, client_id, payment_id,"
		" status, amount_value, currency, payment_time, notification_id,"
		" created_at, updated_at) VALUES ('paymentRequestId01', 'C1',"
		" 'P1', 'SUCCESS', 1000, 'USD', 'pt', 1, 'a', 'b'),"
		" ('PR2', 'C1', 'P2', 'FAIL', 500, 'USD', NULL, 7, 'a', 'b')",
		"INSERT INTO captures (capture_request_id, client_id, capture_id,"
		" payment_id, status, amount_value, currency, capture_time,"
		" notification_id, created_at, updated_at) VALUES"
		" ('CR1', 'C1', 'K1', 'P1', 'SUCCESS', 600, 'USD', 'ct', 2, 'a',"
		" '2999-01-01T00:00:00Z'),"
		" ('CR2', 'C1', 'K2', 'P1', 'SUCCESS', 100, 'EUR', 'ct', 3, 'a',"
		" 'b'),"
		" ('CR3', 'C1', 'K3', 'P2', 'SUCCESS', 50, 'USD', NULL, 8, 'a',"
		" '2999-01-01T00:00:00Z'),"
		/* No currency: "IS NOT" on SQLite, so neither counted nor lost. */
		" ('CR4', 'C1', 'K4', 'P1', 'SUCCESS', 5, NULL, NULL, 11, 'a',"
		" 'b')",
		"INSERT INTO refunds (refund_request_id, client_id, refund_id,"
		" status, amount_value, currency, refund_time, notification_id,"
		" created_at, updated_at) VALUES"
		" ('RR1', 'C1', 'F1', 'SUCCESS', 200, 'USD', 'rt', 4, 'a', 'b'),"
		" ('RR2', 'C1', 'F2', 'SUCCESS', 10, 'USD', 'rt', 5, 'a', 'b'),"
		" ('RR3', 'C1', 'F3', 'FAIL', 20, 'USD', 'rt', 9, 'a', 'b')",
		"INSERT INTO refund_links (client_id, refund_request_id,"
		" payment_id, payment_request_id, created_at) VALUES"
		" ('C1', 'RR1', NULL, 'paymentRequestId01', 'x'),"
		" ('C1', 'RR3', 'P-UNKNOWN', NULL, 'x')",
		"INSERT INTO disputes (dispute_id, client_id, payment_id, stage,"
		" notification_id, created_at, updated_at) VALUES"
		" ('D1', 'C1', 'P1', 'DISPUTE_CREATED', 6, 'a', 'b')",
		"INSERT INTO events (created_at, client_id, object_type,"
		" object_id, payment_id, old_status, new_status, notification_id)"
		" VALUES ('e1', 'C1', 'payment', 'paymentRequestId01', 'P1', NULL,"
		" 'SUCCESS', 1), ('e2', 'C1', 'capture', 'CR1', 'P1', NULL,"
		" 'SUCCESS', 2), ('e3', 'C1', 'capture', 'CR2', 'P1', NULL,"
		" 'SUCCESS', 3), ('e4', 'C1', 'refund', 'RR1', NULL, NULL,"
		" 'SUCCESS', 4), ('e5', 'C1', 'refund', 'RR2', NULL, NULL,"
		" 'SUCCESS', 5), ('e6', 'C1', 'dispute', 'D1', 'P1', NULL,"
		" 'DISPUTE_CREATED', 6), ('e7', 'C1', 'payment', 'PR2', 'P2',"
		" NULL, 'FAIL', 7), ('e8', 'C1', 'capture', 'CR3', 'P2', NULL,"
		" 'SUCCESS', 8), ('e9', 'C1', 'refund', 'RR3', NULL, NULL, 'FAIL',"
		" 9)",
	};
	/* Each view whole, and README "Queries for merchant applications". */
	static const char *const queries[][2] = {
		{ "SELECT * FROM payment_captures ORDER BY payment_request_id,"
		  " capture_request_id", NULL },
		{ "SELECT * FROM payment_status ORDER BY payment_request_id",
		  NULL },
		{ "SELECT * FROM payment_timeline ORDER BY seq", NULL },
		{ "SELECT * FROM refund_payment ORDER BY refund_request_id", NULL },
		{ "SELECT * FROM refund_status ORDER BY refund_request_id", NULL },
		{ "SELECT status, amount_value, currency, captured_amount_value,"
		  " refunded_amount_value, mismatched_count, updated_at"
		  " FROM payment_status WHERE payment_request_id ="
		  " 'paymentRequestId01'", NULL },
		{ "SELECT seq, created_at, object_type, object_id, old_status,"
		  " new_status FROM payment_timeline WHERE payment_request_id ="
		  " 'paymentRequestId01' ORDER BY seq", NULL },
		{ "SELECT payment_request_id, capture_request_id,"
		  " capture_amount_value, capture_currency, capture_time, mismatch"
		  " FROM payment_captures WHERE capture_status = 'SUCCESS' AND"
		  " capture_updated_at >= date('now')",
		  "SELECT payment_request_id, capture_request_id,"
		  " capture_amount_value, capture_currency, capture_time, mismatch"
		  " FROM payment_captures WHERE capture_status = 'SUCCESS' AND"
		  " capture_updated_at >= to_char(now() AT TIME ZONE 'UTC',"
		  " 'YYYY-MM-DD')" },
		{ "SELECT seq, client_id, object_type, object_id, old_status,"
		  " new_status FROM events WHERE seq > 0 ORDER BY seq LIMIT 500",
		  NULL },
		{ "SELECT id, kind, object_id, notify_type, outcome, discrepancy,"
		  " last_received_at FROM notifications WHERE outcome = 'conflict'"
		  " OR discrepancy IS NOT NULL", NULL },
		{ "SELECT client_id, payment_request_id, status, currency,"
		  " mismatched_count FROM payment_status WHERE mismatched_count > 0",
		  NULL },
	};
	struct both e;
	char *a, *b;
	size_t i;

	PG_SKIP_UNLESS_AVAILABLE();
	both_open(&e);
	for (i = 0; i < sizeof(data) / sizeof(data[0]); i++)
		ck_assert_int_eq(exec_both(e.db, e.c, data[i]), 0);
	for (i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		a = rows_sqlite(e.db, queries[i][0]);
		b = rows_pg(e.c, queries[i][1] != NULL ? queries[i][1] :
		    queries[i][0]);
		assert_same_rows(queries[i][0], a, b);
		ck_assert_msg(a[0] != '\0', "%s: no row", queries[i][0]);
		free(a);
		free(b);
	}
	/* What the sums say (README): no currency mixed, failures flagged. */
	ck_assert_str_eq(a = rows_pg(e.c, "SELECT captured_amount_value,"
	    " refunded_amount_value, dispute_count, dispute_stage,"
	    " mismatched_count FROM payment_status ORDER BY payment_request_id"),
	    "0|0|0|NULL|1\n600|200|1|DISPUTE_CREATED|2\n");
	free(a);
	ck_assert_str_eq(a = rows_pg(e.c, "SELECT refund_request_id || ' ' || link"
	    " FROM refund_status ORDER BY 1"), "RR1 linked\nRR2 unlinked\n"
	    "RR3 payment_unknown\n");
	free(a);
	both_close(&e);
}
END_TEST


/*
 * The engine (store_pg.c): batches recorded as SQLite records them, by
 * several writers at once.
 *
 * Bodies in the shapes of Antom's own (tests/corpus): a payment as
 * payment-success-hkd.json, a capture as capture-success.json, a dispute
 * as dispute-created.json, a refund as check_store.c's (docs/protocol.md
 * section 4); ids, statuses, amounts and times vary.
 */
static char *
body_payment(const char *prid, const char *pid, const char *type,
    const char *rs, const char *value, int t)
{
	return test_fmt("{\"notifyType\":\"%s\",\"result\":"
	    "{\"resultCode\":\"%s\",\"resultStatus\":\"%s\",\"resultMessage\":"
	    "\"%s\"},\"paymentRequestId\":\"%s\",\"paymentId\":\"%s\","
	    "\"paymentAmount\":{\"value\":\"%s\",\"currency\":\"HKD\"},"
	    "\"paymentCreateTime\":\"2020-01-01T12:01:00+08:30\","
	    "\"paymentTime\":\"2020-01-01T12:%02d:%02d+08:30\"}", type,
	    rs[0] == 'F' ? "PROCESS_FAIL" : "SUCCESS", rs, rs[0] == 'F' ?
	    "fail." : "success", prid, pid, value, t / 60 % 60, t % 60);
}

static char *
body_capture(const char *crid, const char *pid, const char *rs, int t)
{
	return test_fmt("{\"captureAmount\":{\"currency\":\"SGD\","
	    "\"value\":\"4200\"},\"notifyType\":\"CAPTURE_RESULT\",\"captureId\":"
	    "\"C-%s\",\"captureRequestId\":\"%s\",\"captureTime\":"
	    "\"2022-11-10T00:%02d:%02d-08:00\",\"paymentId\":\"%s\",\"result\":"
	    "{\"resultCode\":\"%s\",\"resultMessage\":\"%s\",\"resultStatus\":"
	    "\"%s\"}}", crid, crid, t / 60 % 60, t % 60, pid, rs[0] == 'F' ?
	    "PROCESS_FAIL" : "SUCCESS", rs[0] == 'F' ? "fail." : "success.",
	    rs);
}

static char *
body_refund(const char *rrid, const char *rs, const char *value, int t)
{
	return test_fmt("{\"notifyType\":\"REFUND_RESULT\","
	    "\"result\":{\"resultCode\":\"X\",\"resultStatus\":\"%s\"},"
	    "\"refundStatus\":\"%s\",\"refundRequestId\":\"%s\",\"refundId\":"
	    "\"RF-%s\",\"refundAmount\":{\"value\":\"%s\",\"currency\":\"SGD\"},"
	    "\"refundTime\":\"2022-11-10T01:%02d:%02d-08:00\"}", rs,
	    rs[0] == 'S' ? "SUCCESS" : "FAIL", rrid, rrid, value, t / 60 % 60,
	    t % 60);
}

static char *
body_dispute(const char *did, const char *stage, const char *extra)
{
	return test_fmt("{\"disputeAmount\":{\"currency\":\"EUR\","
	    "\"value\":\"1000\"},\"disputeId\":\"%s\",\"disputeNotificationType\":"
	    "\"%s\",\"defenseDueTime\":\"2023-09-20T23:41:32-07:00\","
	    "\"disputeTime\":\"2022-09-20T23:41:32-07:00\",\"disputeReasonCode\":"
	    "\"4853\",\"disputeSource\":\"Mastercard\",\"paymentId\":\"P-%s\","
	    "\"paymentRequestId\":\"PR-%s\"%s}", did, stage, did, did, extra);
}

/* Notifications to record: each a verified delivery and its parse. */
struct deliveries {
	size_t			 n;
	char			*body[600];
	struct notif		 notif[600];
	struct store_delivery	 d[600];
};

static void
deliveries_add(struct deliveries *ds, const char *client, char *body)
{
	size_t i = ds->n++;

	ck_assert_uint_lt(i, 600);
	ds->body[i] = body;
	ck_assert_int_eq(notif_parse((const unsigned char *)body, strlen(body),
	    &ds->notif[i]), 0);
	memset(&ds->d[i], 0, sizeof(ds->d[i]));
	ds->d[i].client_id = client;
	ds->d[i].request_time = "2022-11-10T00:34:52-08:00";
	ds->d[i].signature = "algorithm=RSA256,keyVersion=1,signature=x";
	ds->d[i].signed_path = "/antom/notify";
	ds->d[i].key_version = 1;
	ds->d[i].body = (const unsigned char *)body;
	ds->d[i].bodylen = strlen(body);
	store_hash_body(&ds->d[i]);
	ds->d[i].notif = &ds->notif[i];
}

/* The same body delivered again (another delivery of it by Antom). */
static void
deliveries_again(struct deliveries *ds, size_t which)
{
	deliveries_add(ds, ds->d[which].client_id, strdup(ds->body[which]));
}

static void
deliveries_free(struct deliveries *ds)
{
	size_t i;

	for (i = 0; i < ds->n; i++) {
		notif_free(&ds->notif[i]);
		free(ds->body[i]);
	}
}

/* jobs[i] for d[i]. */
static struct store_job *
jobs_for(const struct deliveries *ds)
{
	struct store_job *j = calloc(ds->n, sizeof(*j));
	size_t i;

	ck_assert_ptr_nonnull(j);
	for (i = 0; i < ds->n; i++)
		j[i].d = ds->d[i];
	return j;
}

/* Record ds->d[from..to-1] in one store_pg_record() on c. */
static struct store_pg_record_stats
pg_record(PGconn *c, struct store_job *jobs, size_t from, size_t to)
{
	struct store_plan plans[64];
	struct store_job *jp[64];
	struct store_pg_record_stats st;
	char now[UTIL_ISO_TIME_LEN], err[256];
	size_t i;

	ck_assert_uint_le(to - from, 64);
	for (i = from; i < to; i++)
		jp[i - from] = &jobs[i];
	util_now_iso(now);
	ck_assert_msg(store_pg_record(c, plans, jp, to - from, now, &st, err,
	    sizeof(err)) == 0, "store_pg_record: %s", err);
	for (i = from; i < to; i++)
		ck_assert_int_eq(jobs[i].r.status, 0);
	return st;
}

/*
 * Every table the engine writes, compared between the two engines: every
 * column but the times each wrote as it ran, the body as hex.
 */
static void
assert_same_tables(sqlite3 *db, PGconn *c)
{
	static const char *const tables[] = { "notifications", "payments",
	    "captures", "refunds", "disputes", "vaultings", "events",
	    "refusals" };
	char lite[2048], pgs[2048], *cols, *body, *a, *b;
	size_t i;

	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(lite, sizeof(lite), "SELECT group_concat(CASE name WHEN"
		    " 'body' THEN '%%s' ELSE name END, ', ') FROM pragma_table_info"
		    "('%s') WHERE name NOT IN ('created_at', 'updated_at',"
		    " 'first_received_at', 'last_received_at')", tables[i]);
		cols = rows_sqlite(db, lite);
		cols[strlen(cols) - 1] = '\0';	/* its newline */
		body = strstr(cols, "%s");
		snprintf(lite, sizeof(lite), "SELECT %.*s%s%s FROM %s",
		    body != NULL ? (int)(body - cols) : (int)strlen(cols), cols,
		    body != NULL ? "hex(body)" : "", body != NULL ? body + 2 : "",
		    tables[i]);
		snprintf(pgs, sizeof(pgs), "SELECT %.*s%s%s FROM %s",
		    body != NULL ? (int)(body - cols) : (int)strlen(cols), cols,
		    body != NULL ? "upper(encode(body, 'hex'))" : "",
		    body != NULL ? body + 2 : "", tables[i]);
		a = rows_sqlite(db, lite);
		b = rows_pg(c, pgs);
		assert_same_rows(tables[i], a, b);
		free(a);
		free(b);
		free(cols);
	}
}

/*
 * A sequence of notifications through both engines: SQLite one at a
 * time (store_apply), PostgreSQL in batches of 1 to 9 (a job judged
 * after the ones before it in its batch).  The same outcomes, repeats,
 * ids and counts, the same rows in every table, and the same discrepancy
 * notes.
 */
START_TEST(test_pg_record_as_sqlite)
{
	static const size_t sizes[] = { 1, 4, 2, 9, 3, 7, 1, 5, 8, 6 };
	struct deliveries *ds = calloc(1, sizeof(*ds));
	struct store_job *jobs;
	struct store_result r;
	struct store *st;
	struct both e;
	char path[160], err[256], *a;
	struct store_options o = { 100, 1, 16, 0, 0 };
	size_t i, k, at;
	static const struct {
		char		 kind;	/* payment, capture, refund */
		const char	*client, *id, *pid, *type, *rs, *value;
		int		 again;
	} seq[] = {
#define A	"CLIENT_A"
		{ 'p', A, "PR1", "P1", "PAYMENT_RESULT", "U", "100", -1 },
		{ 'p', A, "PR1", "P1", "PAYMENT_RESULT", "S", "120", -1 },
		{ 0, NULL, NULL, NULL, NULL, NULL, NULL, 1 },
		{ 'p', A, "PR1", "P1", "PAYMENT_RESULT", "F", "120", -1 },
		{ 'p', A, "PR1", "P1-OTHER", "PAYMENT_RESULT", "S", "120", -1 },
		{ 'p', "CLIENT_B", "PR1", "P9", "PAYMENT_RESULT", "F", "100",
		  -1 },
		{ 'p', A, "PR2", "P2", "PAYMENT_RESULT", "S", "300", -1 },
		{ 'p', A, "PR2", "P2", "PAYMENT_PENDING", "S", "300", -1 },
		{ 'p', A, "PR3", "P3", "PAYMENT_PENDING", "S", "50", -1 },
		{ 'p', A, "PR3", "P3", "PAYMENT_RESULT", "S", "50", -1 },
		{ 0, NULL, NULL, NULL, NULL, NULL, NULL, 0 },
		{ 'c', A, "CR1", "P1", NULL, "S", NULL, -1 },
		{ 'c', A, "CR1", "P1", NULL, "F", NULL, -1 },
		{ 'c', A, "CR2", "P2", NULL, "F", NULL, -1 },
		{ 0, NULL, NULL, NULL, NULL, NULL, NULL, 11 },
		{ 'r', A, "RR1", NULL, NULL, "S", "20", -1 },
		{ 'r', A, "RR1", NULL, NULL, "F", "20", -1 },
		{ 'r', A, "RR2", NULL, NULL, "F", "30", -1 },
		{ 'r', A, "RR3", NULL, NULL, "U", "40", -1 },
		{ 'r', A, "RR3", NULL, NULL, "S", "45", -1 },
#undef A
	};
	int seen[STORE_ARCHIVED + 1] = { 0 };

	PG_SKIP_UNLESS_AVAILABLE();
	ck_assert_ptr_nonnull(ds);
	/*
	 * Payments: in order, repeated, contradicted, late, two clients;
	 * then captures and refunds.  A row with again >= 0 is a second
	 * delivery of that row.
	 */
	for (i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		if (seq[i].again >= 0)
			deliveries_again(ds, (size_t)seq[i].again);
		else if (seq[i].kind == 'p')
			deliveries_add(ds, seq[i].client, body_payment(
			    seq[i].id, seq[i].pid, seq[i].type, seq[i].rs,
			    seq[i].value, (int)i));
		else if (seq[i].kind == 'c')
			deliveries_add(ds, seq[i].client, body_capture(
			    seq[i].id, seq[i].pid, seq[i].rs, (int)i));
		else
			deliveries_add(ds, seq[i].client, body_refund(
			    seq[i].id, seq[i].rs, seq[i].value, (int)i));
	}
	/* Disputes: in order; the judgement first, then a late creation. */
	deliveries_add(ds, "CLIENT_A", body_dispute("D1", "DISPUTE_CREATED",
	    ""));
	deliveries_add(ds, "CLIENT_A", body_dispute("D1", "DISPUTE_JUDGED",
	    ",\"disputeJudgedResult\":\"ACCEPT_BY_CUSTOMER\""));
	deliveries_add(ds, "CLIENT_A", body_dispute("D2", "DISPUTE_JUDGED",
	    ",\"disputeJudgedResult\":\"ACCEPT_BY_MERCHANT\""));
	deliveries_add(ds, "CLIENT_A", body_dispute("D2", "DISPUTE_CREATED",
	    ",\"disputeJudgedResult\":\"WRONG\""));
	deliveries_add(ds, "CLIENT_A", body_dispute("D2", "DISPUTE_CANCELLED",
	    ""));
	/* Kept only: a notifyType antomd does not apply. */
	deliveries_add(ds, "CLIENT_A", strdup("{\"notifyType\":"
	    "\"PAYMENT_AUTHORIZATION\",\"result\":{\"resultCode\":\"SUCCESS\","
	    "\"resultStatus\":\"S\",\"resultMessage\":\"success\"},"
	    "\"paymentRequestId\":\"PR4\"}"));
	deliveries_again(ds, ds->n - 1);
	/* Antom's own bodies, as published (tests/corpus). */
	{
		static const char *const corpus[] = { "payment-success-hkd.json",
		    "payment-success-sgd.json", "payment-3ds-card-success.json",
		    "capture-success.json", "capture-failed.json",
		    "dispute-created.json" };
		char p[256], *b;
		size_t len;

		for (i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
			snprintf(err, sizeof(err), "corpus/%s", corpus[i]);
			b = test_slurp(test_path(p, sizeof(p), err), &len);
			deliveries_add(ds, "CLIENT_A", b);
		}
	}

	pg_start(1);
	e.c = pg_migrated();
	test_tmpdir(e.dir, sizeof(e.dir), "pgrec", path, sizeof(path));
	st = store_open(path, &o, err, sizeof(err));
	ck_assert_msg(st != NULL, "%s", err);
	jobs = jobs_for(ds);
	for (i = 0, k = 0, at = 0; at < ds->n; k++) {
		size_t to = at + sizes[k % (sizeof(sizes) / sizeof(sizes[0]))];

		if (to > ds->n)
			to = ds->n;
		pg_record(e.c, jobs, at, to);
		at = to;
	}
	for (i = 0; i < ds->n; i++) {
		ck_assert_int_eq(store_apply(st, &ds->d[i], &r), 0);
		ck_assert_msg(r.outcome == jobs[i].r.outcome, "delivery %zu: "
		    "SQLite %s, PostgreSQL %s", i, store_outcome_str(r.outcome),
		    store_outcome_str(jobs[i].r.outcome));
		ck_assert_int_eq(r.repeat, jobs[i].r.repeat);
		ck_assert_int_eq(r.notification_id, jobs[i].r.notification_id);
		ck_assert_int_eq(r.delivery_count, jobs[i].r.delivery_count);
		seen[r.outcome]++;
	}
	store_close(st);
	ck_assert_int_eq(sqlite3_open(path, &e.db), SQLITE_OK);
	assert_same_tables(e.db, e.c);
	/* The sequence is worth comparing: every outcome is in it. */
	for (i = 0; i <= STORE_ARCHIVED; i++)
		ck_assert_msg(seen[i] > 0, "no %s in the sequence",
		    store_outcome_str((enum store_outcome)i));
	a = rows_pg(e.c, "SELECT count(*) FROM notifications WHERE discrepancy"
	    " IS NOT NULL");
	ck_assert_str_ne(a, "0\n");
	free(a);
	free(jobs);
	both_close(&e);
	deliveries_free(ds);
	free(ds);
}
END_TEST


/*
 * 500 distinct notifications over 75 objects (payments, captures and
 * refunds; PENDING, SUCCESS and FAIL), so that writers meet on objects.
 */
static void
deliveries_mixed(struct deliveries *ds)
{
	static const char *const rs[] = { "U", "S", "F" };
	char id[32];
	int i;

	for (i = 0; i < 500; i++) {
		snprintf(id, sizeof(id), "R%02d", i / 3 % 25);
		switch (i % 3) {
		case 0:
			deliveries_add(ds, "CLIENT_A", body_payment(id, id,
			    "PAYMENT_RESULT", rs[i / 75 % 3], "100", i));
			break;
		case 1:
			deliveries_add(ds, "CLIENT_A", body_capture(id, id,
			    rs[1 + i / 75 % 2], i));
			break;
		default:
			deliveries_add(ds, "CLIENT_A", body_refund(id,
			    rs[i / 75 % 3], "10", i));
			break;
		}
	}
}

/* A writer: every notification, shuffled, in batches of 1 to 64. */
struct pg_writer {
	pthread_t		 t;
	const struct deliveries	*ds;
	struct store_job	*jobs;
	unsigned		 seed;
	size_t			 batch_max;	/* 0: 64 */
	unsigned		 batches, attempts;
	int			 rc;
	char			 err[256];
};

static void *
pg_writer_run(void *arg)
{
	struct pg_writer *w = arg;
	struct store_plan plans[64];
	struct store_job *jp[64];
	struct store_pg_record_stats st;
	size_t order[600], i, k, at, len, n = w->ds->n;
	char now[UTIL_ISO_TIME_LEN];
	PGconn *c = PQconnectdb(pg.node[0].conninfo);

	w->rc = -1;
	if (PQstatus(c) != CONNECTION_OK) {
		snprintf(w->err, sizeof(w->err), "%s", PQerrorMessage(c));
		goto out;
	}
	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = n - 1; i > 0; i--) {
		k = (size_t)rand_r(&w->seed) % (i + 1);
		at = order[i];
		order[i] = order[k];
		order[k] = at;
	}
	for (at = 0; at < n; at += len) {
		len = 1 + (size_t)rand_r(&w->seed) % (w->batch_max > 0 ?
		    w->batch_max : 64);
		if (len > n - at)
			len = n - at;
		for (i = 0; i < len; i++)
			jp[i] = &w->jobs[order[at + i]];
		util_now_iso(now);
		if (store_pg_record(c, plans, jp, len, now, &st, w->err,
		    sizeof(w->err)) != 0)
			goto out;
		w->batches++;
		w->attempts += st.attempts;
	}
	w->rc = 0;
out:
	PQfinish(c);
	return NULL;
}

/* A reader of events as README's "seq > N" poller reads them. */
struct pg_poller {
	pthread_t	 t;
	_Atomic int	 stop;
	long long	*seen;
	size_t		 n, cap;
	int		 out_of_order;
	int		 rc;
};

static int
pg_poll_once(PGconn *c, struct pg_poller *p)
{
	char sql[96];
	PGresult *r;
	long long last = p->n > 0 ? p->seen[p->n - 1] : 0, v;
	int i;

	snprintf(sql, sizeof(sql), "SELECT seq FROM events WHERE seq > %lld"
	    " ORDER BY seq", last);
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		return -1;
	}
	for (i = 0; i < PQntuples(r); i++) {
		v = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		if (v <= last)
			p->out_of_order++;
		if (p->n == p->cap) {
			p->cap = p->cap * 2 + 64;
			p->seen = realloc(p->seen, p->cap * sizeof(*p->seen));
		}
		p->seen[p->n++] = last = v;
	}
	PQclear(r);
	return 0;
}

static void *
pg_poller_run(void *arg)
{
	struct pg_poller *p = arg;
	PGconn *c = PQconnectdb(pg.node[0].conninfo);

	p->rc = -1;
	if (PQstatus(c) == CONNECTION_OK) {
		while (!atomic_load(&p->stop))
			if (pg_poll_once(c, p) != 0)
				goto out;
		/* After the writers: whatever committed last. */
		if (pg_poll_once(c, p) != 0)
			goto out;
		p->rc = 0;
	}
out:
	PQfinish(c);
	return NULL;
}

/*
 * Writers w[0..1] (ds, seed and batch_max set) and poller p run until
 * every writer is done and p has polled once more; both must succeed.
 */
static void
pg_writers_run(struct pg_writer *w, struct pg_poller *p)
{
	int k;

	ck_assert_int_eq(pthread_create(&p->t, NULL, pg_poller_run, p), 0);
	for (k = 0; k < 2; k++) {
		w[k].jobs = jobs_for(w[k].ds);
		ck_assert_int_eq(pthread_create(&w[k].t, NULL, pg_writer_run,
		    &w[k]), 0);
	}
	for (k = 0; k < 2; k++) {
		ck_assert_int_eq(pthread_join(w[k].t, NULL), 0);
		ck_assert_msg(w[k].rc == 0, "writer %d: %s", k, w[k].err);
	}
	atomic_store(&p->stop, 1);
	ck_assert_int_eq(pthread_join(p->t, NULL), 0);
	ck_assert_int_eq(p->rc, 0);
}

/* The poller saw every event of the table, each once, in order; frees p. */
static void
assert_polled_all(PGconn *c, struct pg_poller *p)
{
	char *all, *polled = NULL, line[32];
	size_t i, len = 0;

	ck_assert_int_eq(p->out_of_order, 0);
	all = rows_pg(c, "SELECT seq FROM events ORDER BY seq");
	cat(&polled, &len, "");
	for (i = 0; i < p->n; i++) {
		snprintf(line, sizeof(line), "%lld\n", p->seen[i]);
		cat(&polled, &len, line);
	}
	ck_assert_msg(strcmp(all, polled) == 0, "the poller saw %zu events, "
	    "not all of them", p->n);
	free(all);
	free(polled);
	free(p->seen);
	free(p);
}

/* The first value of sql on c. */
static char *
pg_value(PGconn *c, const char *sql)
{
	char *v = rows_pg(c, sql);

	if (v[0] != '\0')
		v[strlen(v) - 1] = '\0';
	return v;
}

static void
assert_pg_value(PGconn *c, const char *sql, const char *want)
{
	char *v = pg_value(c, sql);

	ck_assert_msg(strcmp(v, want) == 0, "%s: %s, not %s", sql, v, want);
	free(v);
}

/*
 * Issue 16 point 2: two instances (threads, each its connection) record
 * the same 500 notifications at once, each in its own shuffled order and
 * batches, against a primary with a synchronous standby, while a third
 * polls events for seq > N.  Each notification is stored once, with one
 * state change and two deliveries; each object's events chain (each
 * old_status the previous new_status) and never leave a final status;
 * the poller saw every event, in order.
 */
START_TEST(test_pg_record_concurrent)
{
	struct deliveries *ds = calloc(1, sizeof(*ds));
	struct pg_writer w[2];
	struct pg_poller *p = calloc(1, sizeof(*p));
	PGconn *c;
	size_t i;
	int k, firsts;

	PG_SKIP_UNLESS_AVAILABLE();
	ck_assert_ptr_nonnull(ds);
	ck_assert_ptr_nonnull(p);
	deliveries_mixed(ds);
	pg_start(1);
	c = pg_migrated();
	memset(w, 0, sizeof(w));
	for (k = 0; k < 2; k++) {
		w[k].ds = ds;
		w[k].seed = 16 + (unsigned)k;
	}
	pg_writers_run(w, p);
	fprintf(stderr, "test_pg_record_concurrent: batches %u and %u, "
	    "attempts %u and %u, %zu events polled\n", w[0].batches,
	    w[1].batches, w[0].attempts, w[1].attempts, p->n);

	/* Exactly one first delivery of each, the other its repeat. */
	for (i = 0; i < ds->n; i++) {
		firsts = !w[0].jobs[i].r.repeat + !w[1].jobs[i].r.repeat;
		ck_assert_msg(firsts == 1, "notification %zu: %d first "
		    "deliveries", i, firsts);
		ck_assert_int_eq(w[0].jobs[i].r.notification_id,
		    w[1].jobs[i].r.notification_id);
		ck_assert_int_eq(w[0].jobs[i].r.delivery_count +
		    w[1].jobs[i].r.delivery_count, 3);
	}
	assert_pg_value(c, "SELECT count(*) || ' ' || sum(delivery_count) ||"
	    " ' ' || count(DISTINCT (client_id, body_sha256)) FROM"
	    " notifications", "500 1000 500");
	/* One event per applied notification, none for any other. */
	assert_pg_value(c, "SELECT count(*) FROM notifications n WHERE"
	    " (outcome = 'applied') <> (SELECT count(*) = 1 FROM events e"
	    " WHERE e.notification_id = n.id)", "0");
	/* Each object's events chain, and a final status is never left. */
	assert_pg_value(c, "SELECT count(*) FROM (SELECT old_status, lag("
	    "new_status) OVER (PARTITION BY client_id, object_type, object_id"
	    " ORDER BY seq) AS prev FROM events) x WHERE old_status IS DISTINCT"
	    " FROM prev", "0");
	assert_pg_value(c, "SELECT count(*) FROM events WHERE old_status IN"
	    " ('SUCCESS', 'FAIL')", "0");
	/* And each row is what its last event says. */
	assert_pg_value(c, "SELECT count(*) FROM (SELECT object_type, object_id,"
	    " new_status, row_number() OVER (PARTITION BY object_type,"
	    " object_id ORDER BY seq DESC) AS k FROM events) e WHERE k = 1 AND"
	    " new_status IS DISTINCT FROM CASE object_type WHEN 'payment' THEN"
	    " (SELECT status FROM payments WHERE payment_request_id = object_id)"
	    " WHEN 'capture' THEN (SELECT status FROM captures WHERE"
	    " capture_request_id = object_id) ELSE (SELECT status FROM refunds"
	    " WHERE refund_request_id = object_id) END", "0");
	assert_pg_value(c, "SELECT (SELECT count(*) FROM payments) + (SELECT"
	    " count(*) FROM captures) + (SELECT count(*) FROM refunds)", "75");
	/* The poller missed nothing and saw nothing out of order. */
	assert_polled_all(c, p);
	/* No batch rolled back: seq has no gap either. */
	if (w[0].attempts == w[0].batches && w[1].attempts == w[1].batches)
		assert_pg_value(c, "SELECT max(seq) - count(*) FROM events", "0");
	for (k = 0; k < 2; k++)
		free(w[k].jobs);
	PQfinish(c);
	deliveries_free(ds);
	free(ds);
}
END_TEST


/*
 * Issue 16 point 2, events.seq in commit order: two writers on disjoint
 * objects (no object lock orders them), in small batches, while a third
 * polls seq > N: the poller must see every event, none after a bigger
 * one.
 */
START_TEST(test_pg_record_events_order)
{
	struct deliveries *ds[2];
	struct pg_writer w[2];
	struct pg_poller *p = calloc(1, sizeof(*p));
	PGconn *c;
	char prid[32];
	size_t i;
	int k;

	PG_SKIP_UNLESS_AVAILABLE();
	ck_assert_ptr_nonnull(p);
	for (k = 0; k < 2; k++) {
		ck_assert_ptr_nonnull(ds[k] = calloc(1, sizeof(*ds[k])));
		for (i = 0; i < 300; i++) {
			snprintf(prid, sizeof(prid), "PR-%d-%zu", k, i);
			deliveries_add(ds[k], "CLIENT_A", body_payment(prid, prid,
			    "PAYMENT_RESULT", "S", "100", (int)i));
		}
	}
	pg_start(1);
	c = pg_migrated();
	memset(w, 0, sizeof(w));
	for (k = 0; k < 2; k++) {
		w[k].ds = ds[k];
		w[k].seed = 7 + (unsigned)k;
		w[k].batch_max = 4;
	}
	pg_writers_run(w, p);
	fprintf(stderr, "test_pg_record_events_order: %zu events polled of "
	    "600, batches %u and %u\n", p->n, w[0].batches, w[1].batches);
	assert_polled_all(c, p);
	for (k = 0; k < 2; k++) {
		free(w[k].jobs);
		deliveries_free(ds[k]);
		free(ds[k]);
	}
	PQfinish(c);
}
END_TEST

/* CPU time process pid has used, in ms (0 if unknown). */
static uint64_t
proc_cpu_ms(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields 14 and 15, after the command name's last ')'. */
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 2, "%*c %*d %*d %*d"
	    " %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return (ut + st) * 1000 / (uint64_t)sysconf(_SC_CLK_TCK);
}

/*
 * Issue 16 point 4: a batch of 64 new notifications is two round trips
 * whatever its size (reads; notifications rows, state, events and COMMIT),
 * and one more, to prepare the statements, on a connection's first,
 * here against a primary with a synchronous standby.  Prints what one
 * connection does on this machine.
 */
START_TEST(test_pg_record_round_trips)
{
	struct deliveries *ds = calloc(1, sizeof(*ds));
	struct store_pg_record_stats st;
	struct store_job *jobs;
	PGconn *c;
	uint64_t t0, ms, cpu;
	char prid[32];
	size_t i;

	PG_SKIP_UNLESS_AVAILABLE();
	ck_assert_ptr_nonnull(ds);
	for (i = 0; i < 576; i++) {
		snprintf(prid, sizeof(prid), "PR-RT-%zu", i);
		deliveries_add(ds, "CLIENT_A", body_payment(prid, prid,
		    "PAYMENT_RESULT", "S", "100", (int)i));
	}
	pg_start(1);
	c = pg_migrated();
	jobs = jobs_for(ds);
	t0 = now_ms();
	cpu = proc_cpu_ms(PQbackendPID(c));
	for (i = 0; i < ds->n; i += 64) {
		st = pg_record(c, jobs, i, i + 64);
		ck_assert_uint_eq(st.round_trips, i == 0 ? 3 : 2);
		ck_assert_uint_eq(st.attempts, 1);
	}
	ms = now_ms() - t0;
	cpu = proc_cpu_ms(PQbackendPID(c)) - cpu;
	/* The server's CPU says more than the time on a busy machine. */
	fprintf(stderr, "test_pg_record_round_trips: %zu batches of 64 in %llu"
	    " ms: %.1f ms a batch, %.0f notifications/s on one connection;"
	    " the server's backend %.0f us CPU a notification\n",
	    ds->n / 64, (unsigned long long)ms, (double)ms / (double)(ds->n / 64),
	    ms > 0 ? (double)ds->n * 1000.0 / (double)ms : 0.0,
	    (double)cpu * 1000.0 / (double)ds->n);
	/* Repeats only: no state to write, as many round trips. */
	st = pg_record(c, jobs, 0, 64);
	ck_assert_uint_eq(st.round_trips, 2);
	ck_assert_int_eq(jobs[0].r.repeat, 1);
	assert_pg_value(c, "SELECT count(*) FROM events", "576");
	free(jobs);
	PQfinish(c);
	deliveries_free(ds);
	free(ds);
}
END_TEST

/*
 * Issue 16 point 4: the statements are prepared once per server session
 * (planning each anew cost more than running it): the same ones, not
 * prepared again, over batches; prepared again after a reconnect; and a
 * session that lost them behind the engine's back gets them again and
 * its batch still records.
 */
START_TEST(test_pg_record_prepared_once)
{
	static const char count[] = "SELECT count(*) || ' ' || max(prepare_time)"
	    " FROM pg_prepared_statements WHERE name LIKE 'antomd\\_%'";
	struct deliveries *ds = calloc(1, sizeof(*ds));
	struct store_pg_record_stats st;
	struct store_job *jobs;
	PGconn *c;
	char prid[32], *first, *v;
	size_t i;

	PG_SKIP_UNLESS_AVAILABLE();
	ck_assert_ptr_nonnull(ds);
	for (i = 0; i < 40; i++) {
		snprintf(prid, sizeof(prid), "PR-PO-%zu", i);
		if (i % 4 == 3)
			deliveries_add(ds, "CLIENT_A", body_capture(prid,
			    "P-PO", "S", (int)i));
		else
			deliveries_add(ds, "CLIENT_A", body_payment(prid, prid,
			    "PAYMENT_RESULT", "S", "100", (int)i));
	}
	pg_start(0);
	c = pg_migrated();
	jobs = jobs_for(ds);
	assert_pg_value(c, "SELECT count(*) FROM pg_prepared_statements", "0");
	st = pg_record(c, jobs, 0, 10);
	ck_assert_uint_eq(st.round_trips, 3);
	first = pg_value(c, count);
	ck_assert_msg(atoi(first) >= 10, "prepared: %s", first);
	st = pg_record(c, jobs, 10, 20);
	ck_assert_uint_eq(st.round_trips, 2);
	st = pg_record(c, jobs, 0, 10);		/* repeats */
	ck_assert_uint_eq(st.round_trips, 2);
	v = pg_value(c, count);
	ck_assert_msg(strcmp(v, first) == 0, "prepared again: %s, then %s",
	    first, v);
	free(v);
	/* Another session (what the engine's reconnect gets): again, once. */
	PQreset(c);
	ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
	st = pg_record(c, jobs, 20, 30);
	ck_assert_uint_eq(st.round_trips, 3);
	v = pg_value(c, count);
	ck_assert_int_eq(atoi(v), atoi(first));
	free(v);
	/* Gone behind its back: 26000, prepared again, recorded. */
	pg_exec(c, "DEALLOCATE ALL");
	st = pg_record(c, jobs, 30, 40);
	ck_assert_uint_eq(st.attempts, 2);
	v = pg_value(c, count);
	ck_assert_int_eq(atoi(v), atoi(first));
	free(v);
	assert_pg_value(c, "SELECT count(*) || ' ' || sum(delivery_count) FROM"
	    " notifications", "40 50");
	free(first);
	free(jobs);
	PQfinish(c);
	deliveries_free(ds);
	free(ds);
}
END_TEST

/*
 * A batch that fails writes nothing and answers every job -1; one that
 * meets a serialization failure is run again; a WARNING with the COMMIT
 * (what a cancelled wait for the standby gives) is a failure though the
 * primary committed.
 */
START_TEST(test_pg_record_fails_whole)
{
	struct deliveries *ds = calloc(1, sizeof(*ds));
	struct store_plan plans[4];
	struct store_job *jobs, *jp[4];
	struct store_pg_record_stats st;
	PGconn *c;
	char err[256];
	size_t i;

	PG_SKIP_UNLESS_AVAILABLE();
	ck_assert_ptr_nonnull(ds);
	deliveries_add(ds, "CLIENT_A", body_payment("PR-F1", "P-F1",
	    "PAYMENT_RESULT", "S", "100", 1));
	deliveries_add(ds, "CLIENT_A", body_capture("CR-F1", "P-F1", "S", 2));
	deliveries_add(ds, "CLIENT_A", body_refund("RR-F1", "S", "10", 3));
	deliveries_again(ds, 0);
	pg_start(0);
	c = pg_migrated();
	jobs = jobs_for(ds);
	for (i = 0; i < 4; i++)
		jp[i] = &jobs[i];
	/* The events insert fails: nothing of the batch stays. */
	pg_exec(c, "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS"
	    " $$BEGIN RAISE EXCEPTION 'no events today'; END$$");
	pg_exec(c, "CREATE TRIGGER boom BEFORE INSERT ON events FOR EACH ROW"
	    " EXECUTE FUNCTION boom()");
	ck_assert_int_eq(store_pg_record(c, plans, jp, 4, "t", &st, err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "no events today") != NULL, "%s", err);
	ck_assert_uint_eq(st.attempts, 1);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(jobs[i].r.status, -1);
		ck_assert_int_eq(jobs[i].r.notification_id, 0);
	}
	assert_pg_value(c, "SELECT (SELECT count(*) FROM notifications) +"
	    " (SELECT count(*) FROM payments)", "0");
	/* Twice a serialization failure, then it passes: three attempts. */
	pg_exec(c, "CREATE SEQUENCE tries");
	pg_exec(c, "CREATE OR REPLACE FUNCTION boom() RETURNS trigger LANGUAGE"
	    " plpgsql AS $$BEGIN IF nextval('tries') <= 2 THEN RAISE EXCEPTION"
	    " 'try again' USING ERRCODE = '40001'; END IF; RETURN NEW; END$$");
	ck_assert_msg(store_pg_record(c, plans, jp, 4, "t", &st, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(st.attempts, 3);
	ck_assert_int_eq(jobs[0].r.outcome, STORE_APPLIED);
	ck_assert_int_eq(jobs[3].r.repeat, 1);
	ck_assert_int_eq(jobs[3].r.delivery_count, 2);
	assert_pg_value(c, "SELECT count(*) || ' ' || sum(delivery_count) FROM"
	    " notifications", "3 4");
	assert_pg_value(c, "SELECT count(*) FROM events", "3");
	/* A WARNING with the COMMIT: committed here, answered as failed. */
	pg_exec(c, "CREATE FUNCTION warn() RETURNS trigger LANGUAGE plpgsql AS"
	    " $$BEGIN RAISE WARNING 'not on the standby'; RETURN NULL; END$$");
	pg_exec(c, "CREATE CONSTRAINT TRIGGER warn AFTER UPDATE ON"
	    " notifications DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE"
	    " FUNCTION warn()");
	ck_assert_int_eq(store_pg_record(c, plans, jp, 1, "t", &st, err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "not on the standby") != NULL, "%s", err);
	ck_assert_int_eq(jobs[0].r.status, -1);
	ck_assert_uint_eq(st.attempts, 1);
	assert_pg_value(c, "SELECT sum(delivery_count) FROM notifications", "5");
	free(jobs);
	PQfinish(c);
	deliveries_free(ds);
	free(ds);
}
END_TEST

/*
 * Issue 16 point 3: with the standby stalled, store_pg_commit() gives up
 * waiting at the deadline store_pg_commit_by() set, the COMMIT left
 * outstanding, never cancelled: once the standby resumes it commits
 * (settled: COMMITTED, and the row is on the standby).  Given up on, it
 * is UNKNOWN and the connection is left to be reset.
 */
START_TEST(test_pg_commit_deadline)
{
	PGconn *c;
	uint64_t t0;
	char err[256];
	int i;

	PG_SKIP_UNLESS_AVAILABLE();
	pg_start(1);
	c = pg_connect(0);
	pg_exec(c, "CREATE TABLE t (id integer PRIMARY KEY)");
	pg_stall(1);
	for (i = 1; i <= 2; i++) {
		pg_exec(c, i == 1 ? "BEGIN; INSERT INTO t VALUES (1)" :
		    "BEGIN; INSERT INTO t VALUES (2)");
		t0 = now_ms();
		store_pg_commit_by(util_mono_us() + 300000);
		ck_assert_int_eq(store_pg_commit(c, err, sizeof(err)), -1);
		store_pg_commit_by(0);
		ck_assert_uint_lt(now_ms() - t0, 1500);
		ck_assert_msg(strstr(err, "not cancelled") != NULL, "%s", err);
		ck_assert_int_eq(store_pg_commit_left(), 1);
		/* A COMMIT outstanding: another is refused, not sent. */
		ck_assert_int_eq(store_pg_commit(c, err, sizeof(err)), -1);
		ck_assert_int_eq(store_pg_commit_settle(c, util_mono_us() +
		    200000, 0, err, sizeof(err)), STORE_PG_WAITING);
		if (i == 2)
			break;
		pg_resume(1);
		ck_assert_int_eq(store_pg_commit_settle(c, util_mono_us() +
		    10000000, 0, err, sizeof(err)), STORE_PG_COMMITTED);
		ck_assert_int_eq(store_pg_commit_left(), 0);
		pg_wait(1, "SELECT count(*) FROM t", "1", 5000);
		pg_stall(1);
	}
	ck_assert_int_eq(store_pg_commit_settle(c, 0, 1, err, sizeof(err)),
	    STORE_PG_UNKNOWN);
	ck_assert_int_eq(store_pg_commit_left(), 0);
	PQfinish(c);
	pg_resume(1);
}
END_TEST

/* The value PQconninfo() gives keyword on c, "" when it has none. */
static const char *
conninfo_value(PGconn *c, const char *keyword)
{
	static char v[64];
	PQconninfoOption *o = PQconninfo(c), *i;

	v[0] = '\0';
	for (i = o; i != NULL && i->keyword != NULL; i++)
		if (strcmp(i->keyword, keyword) == 0 && i->val != NULL)
			snprintf(v, sizeof(v), "%s", i->val);
	PQconninfoFree(o);
	return v;
}

/*
 * store_pg_connect() bounds the connect and notices a dead peer on its
 * own (timeouts and keepalives), and the database string wins over each:
 * as conninfo, and as a URI.  No server needed: a connection that failed
 * keeps its options.
 */
START_TEST(test_pg_connect_options)
{
	static const char *const ours[][2] = { { "connect_timeout", "10" },
	    { "keepalives", "1" }, { "keepalives_idle", "5" },
	    { "keepalives_interval", "2" }, { "keepalives_count", "3" },
	    { "tcp_user_timeout", "10000" } };
	PGconn *c;
	size_t i;

	c = store_pg_connect("host=/nonexistent port=1 dbname=antomd");
	ck_assert_ptr_nonnull(c);
	ck_assert_int_ne(PQstatus(c), CONNECTION_OK);
	for (i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
		ck_assert_str_eq(conninfo_value(c, ours[i][0]), ours[i][1]);
	ck_assert_str_eq(conninfo_value(c, "dbname"), "antomd");
	PQfinish(c);
	c = store_pg_connect("host=/nonexistent port=1 connect_timeout=3"
	    " keepalives_idle=60 tcp_user_timeout=0");
	ck_assert_str_eq(conninfo_value(c, "connect_timeout"), "3");
	ck_assert_str_eq(conninfo_value(c, "keepalives_idle"), "60");
	ck_assert_str_eq(conninfo_value(c, "tcp_user_timeout"), "0");
	ck_assert_str_eq(conninfo_value(c, "keepalives_count"), "3");
	PQfinish(c);
	c = store_pg_connect("postgresql:///antomd?host=/nonexistent&port=1"
	    "&connect_timeout=4");
	ck_assert_str_eq(conninfo_value(c, "connect_timeout"), "4");
	ck_assert_str_eq(conninfo_value(c, "keepalives_interval"), "2");
	ck_assert_str_eq(conninfo_value(c, "dbname"), "antomd");
	PQfinish(c);
}
END_TEST

/*
 * A COMMIT left waiting for a stalled standby, its backend then
 * terminated by an administrator: the server says WARNING (the wait
 * cancelled, committed locally) and then FATAL 57P01.  That is a commit
 * on the primary, perhaps alone (STORE_PG_LOCAL), not a rollback: the
 * row is there.
 */
START_TEST(test_pg_commit_terminated)
{
	PGconn *c, *admin;
	char err[256], sql[128];
	enum store_pg_outcome o = STORE_PG_WAITING;
	int i;

	PG_SKIP_UNLESS_AVAILABLE();
	pg_start(1);
	c = pg_connect(0);
	admin = pg_connect(0);
	pg_exec(c, "CREATE TABLE t (id integer PRIMARY KEY)");
	pg_stall(1);
	pg_exec(c, "BEGIN; INSERT INTO t VALUES (3)");
	store_pg_commit_by(util_mono_us() + 300000);
	ck_assert_int_eq(store_pg_commit(c, err, sizeof(err)), -1);
	store_pg_commit_by(0);
	ck_assert_int_eq(store_pg_commit_left(), 1);
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)",
	    PQbackendPID(c));
	pg_exec(admin, sql);
	for (i = 0; i < 50 && (o = store_pg_commit_settle(c, util_mono_us() +
	    100000, 0, err, sizeof(err))) == STORE_PG_WAITING; i++)
		;
	ck_assert_msg(o == STORE_PG_LOCAL, "outcome %d: %s", (int)o, err);
	ck_assert_msg(strstr(err, "committed on the primary") != NULL, "%s",
	    err);
	ck_assert_int_eq(store_pg_commit_left(), 0);
	assert_pg_value(admin, "SELECT count(*) FROM t WHERE id = 3", "1");
	pg_resume(1);
	PQfinish(c);
	PQfinish(admin);
}
END_TEST

/* Instance B's batch, in a thread of its own (its own commit deadline). */
struct pg_blocked {
	PGconn				*c;
	struct store_job		*jobs;
	int				 rc;
	struct store_pg_record_stats	 st;
	char				 err[256];
	uint64_t			 ms;
	atomic_int			 done;
};

static void *
pg_blocked_run(void *arg)
{
	struct pg_blocked *b = arg;
	struct store_plan plans[1];
	struct store_job *jp[1] = { &b->jobs[0] };
	uint64_t t0 = now_ms();

	store_pg_commit_by(util_mono_us() + 300000);
	b->rc = store_pg_record(b->c, plans, jp, 1, "t2", &b->st, b->err,
	    sizeof(b->err));
	store_pg_commit_by(0);
	b->ms = now_ms() - t0;
	atomic_store(&b->done, 1);
	return NULL;
}

/*
 * Instance A's COMMIT waits for a stalled standby, its locks held; B's
 * batch touching the same payment (Antom's redelivery, at B) must not
 * wait for them past its own commit deadline: -1 (answered 503) by the
 * deadline, the batch's failure (stats.lock_timeout, one attempt), and
 * nothing of it written; once the standby resumes, A commits and B's
 * redelivery records as a repeat.
 */
START_TEST(test_pg_record_lock_deadline)
{
	struct deliveries *ds = calloc(1, sizeof(*ds));
	struct store_plan plans[1];
	struct store_job *ja, *jp[1];
	struct store_pg_record_stats st;
	struct pg_blocked b;
	pthread_t t;
	PGconn *c;
	char err[256];
	int i;

	PG_SKIP_UNLESS_AVAILABLE();
	ck_assert_ptr_nonnull(ds);
	deliveries_add(ds, "CLIENT_A", body_payment("PR-L1", "P-L1",
	    "PAYMENT_RESULT", "S", "100", 1));
	pg_start(1);
	c = pg_migrated();
	memset(&b, 0, sizeof(b));
	b.c = pg_connect(0);
	b.jobs = jobs_for(ds);
	ja = jobs_for(ds);
	jp[0] = &ja[0];
	pg_stall(1);
	store_pg_commit_by(util_mono_us() + 300000);
	ck_assert_int_eq(store_pg_record(c, plans, jp, 1, "t1", &st, err,
	    sizeof(err)), -1);
	store_pg_commit_by(0);
	ck_assert_int_eq(store_pg_commit_left(), 1);
	ck_assert_int_eq(pthread_create(&t, NULL, pg_blocked_run, &b), 0);
	for (i = 0; i < 300 && !atomic_load(&b.done); i++)
		usleep(10000);
	if (!atomic_load(&b.done))
		pg_resume(1);	/* A commits, B goes on: not to hang here */
	pthread_join(t, NULL);
	ck_assert_msg(i < 300, "B waited for A's locks past its deadline");
	fprintf(stderr, "test_pg_record_lock_deadline: B answered in %llu ms:"
	    " %s\n", (unsigned long long)b.ms, b.err);
	ck_assert_int_eq(b.rc, -1);
	ck_assert_int_eq(b.jobs[0].r.status, -1);
	ck_assert_int_eq(b.st.lock_timeout, 1);
	ck_assert_uint_eq(b.st.attempts, 1);
	ck_assert_uint_lt(b.ms, 1500);
	pg_resume(1);
	ck_assert_int_eq(store_pg_commit_settle(c, util_mono_us() + 10000000,
	    0, err, sizeof(err)), STORE_PG_COMMITTED);
	/* B's batch again, the deadline far: a repeat of A's. */
	b.rc = -1;
	atomic_store(&b.done, 0);
	pg_blocked_run(&b);
	ck_assert_msg(b.rc == 0, "%s", b.err);
	ck_assert_int_eq(b.jobs[0].r.repeat, 1);
	assert_pg_value(c, "SELECT count(*) || ' ' || sum(delivery_count) FROM"
	    " notifications", "1 2");
	free(ja);
	free(b.jobs);
	PQfinish(b.c);
	PQfinish(c);
	deliveries_free(ds);
	free(ds);
}
END_TEST

/* An array store_pg_arrays() built, byte for byte. */
static void
assert_array(const char *got, int gotlen, const unsigned char *want,
    size_t wantlen)
{
	ck_assert_int_eq(gotlen, (int)wantlen);
	ck_assert(memcmp(got, want, wantlen) == 0);
}

/* A pipeline's failure record, empty, its message into err. */
static void
fail_reset(struct store_pg_fail *f, char *err, size_t errlen)
{
	memset(f, 0, sizeof(*f));
	f->err = err;
	f->errlen = errlen;
}

/*
 * A batch that fails while its statements are being queued (an array
 * that cannot be built) has sent some of them without a sync: the
 * server has run them inside the open transaction.  store_pg_abandon()
 * reads past them, leaves pipeline mode and rolls back: the connection
 * is idle, nothing the statements took is held (here the events lock,
 * tried from another connection), and the next statement's result is
 * its own.  Before, leaving pipeline mode failed and the transaction
 * stayed open.
 */
START_TEST(test_pg_abandon_unsynced)
{
	struct store_pg_fail f;
	struct store_pg_pipe pp;
	PGresult *res[P_COUNT + 8];
	PGconn *c, *other;
	char err[256], sql[128], *v;
	int i, taken = 0;

	PG_SKIP_UNLESS_AVAILABLE();
	pg_start(1);
	c = pg_migrated();
	other = pg_connect(0);
	memset(&pp, 0, sizeof(pp));
	fail_reset(&f, err, sizeof(err));
	pp.c = c;
	pp.fail = &f;
	pp.res = res;
	pp.cap = sizeof(res) / sizeof(res[0]);
	ck_assert_int_eq(store_pg_sql_ready(), 0);
	ck_assert_int_eq(PQenterPipelineMode(c), 1);
	ck_assert_int_eq(store_pg_prepare(&pp), 0);
	/* A phase cut short after two statements: queued, never synced. */
	ck_assert_int_eq(store_pg_send(&pp, P_BEGIN, 0, NULL, NULL), 0);
	ck_assert_int_eq(store_pg_send(&pp, P_LOCK_EVENTS, 0, NULL, NULL), 0);
	ck_assert_int_eq(PQflush(c), 0);
	snprintf(sql, sizeof(sql), "SELECT pg_try_advisory_lock(%lld)",
	    STORE_PG_LOCK_EVENTS);
	/* Wait until the server has run them: the lock is taken. */
	for (i = 0; i < 200 && !taken; i++) {
		v = pg_value(other, sql);
		taken = strcmp(v, "f") == 0;
		free(v);
		if (!taken) {
			PQclear(PQexec(other, "SELECT pg_advisory_unlock_all()"));
			usleep(10000);
		}
	}
	assert_pg_value(other, sql, "f");
	store_pg_abandon(&pp);
	ck_assert_int_eq(PQpipelineStatus(c), PQ_PIPELINE_OFF);
	ck_assert_int_eq(PQtransactionStatus(c), PQTRANS_IDLE);
	assert_pg_value(other, sql, "t");
	assert_pg_value(c, "SELECT 'its own result'", "its own result");
	PQfinish(other);
	PQfinish(c);
}
END_TEST

/*
 * The batch's arrays go in PostgreSQL's binary form (array_recv's),
 * built from the statement's casts: checked byte for byte, without a
 * server.  Text elements as they are, NULLs as length -1 with the
 * array's flag set, integers big-endian, bodies as their bytes (a NUL
 * inside kept); an integer that is not one fails the batch (22P02)
 * rather than send garbage; a parameter the SQL does not cast to an
 * array stays text.
 */
START_TEST(test_pg_arrays_binary)
{
	static const unsigned char client[] = {
		0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 25, 0, 0, 0, 2, 0, 0, 0, 1,
		0, 0, 0, 1, 'A', 0, 0, 0, 2, 'B', 'C' };
	static const unsigned char body[] = {
		0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 17, 0, 0, 0, 2, 0, 0, 0, 1,
		0, 0, 0, 3, 'x', 0, 0xff, 0, 0, 0, 0 };
	static const unsigned char kv[] = {
		0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0, 2, 0, 0, 0, 1,
		0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1,
		0, 0, 0, 8, 0x80, 0, 0, 0, 0, 0, 0, 0 };
	static const unsigned char reason[] = {
		0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 25, 0, 0, 0, 2, 0, 0, 0, 1,
		0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0 };
	static const unsigned char idx[] = {
		0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 23, 0, 0, 0, 1, 0, 0, 0, 1,
		0, 0, 0, 4, 0xff, 0xff, 0xff, 0xfe };
	struct store_pg_fail f;
	struct store_pg_pipe pp;
	const char *vals[28], *out[14];
	size_t lens[28];
	char err[256];
	int len[14];

	memset(&pp, 0, sizeof(pp));
	fail_reset(&f, err, sizeof(err));
	pp.fail = &f;
	ck_assert_int_eq(store_pg_sql_ready(), 0);
	/* The casts say: bodies bytea[], key versions int8[], ids text[]. */
	ck_assert_uint_eq(store_pg_stmts[P_NOTIF_ALL].elem[0], 25);
	ck_assert_uint_eq(store_pg_stmts[P_NOTIF_ALL].elem[2], 17);
	ck_assert_uint_eq(store_pg_stmts[P_NOTIF_ALL].elem[6], 20);
	ck_assert_uint_eq(store_pg_stmts[P_FIND_ALL].elem[2], 23);
	ck_assert_uint_eq(store_pg_stmts[P_LOCK_TIMEOUT].elem[0], 0);

	/* Two rows of S_NOTIF_INSERT's 14 arrays. */
	memset(vals, 0, sizeof(vals));
	memset(lens, 0, sizeof(lens));
	vals[0] = "A";
	vals[1] = "BC";
	vals[4] = "x\0\xff";
	lens[4] = 3;
	vals[5] = "";
	lens[5] = 0;
	vals[12] = "1";
	vals[13] = "-9223372036854775808";
	ck_assert_int_eq(store_pg_arrays(&pp, P_NOTIF_ALL, vals, lens, 14, 2,
	    out, len), 0);
	assert_array(out[0], len[0], client, sizeof(client));
	assert_array(out[2], len[2], body, sizeof(body));
	assert_array(out[6], len[6], kv, sizeof(kv));
	/* A NULL and an empty string are two things. */
	vals[22] = NULL;
	vals[23] = "";
	ck_assert_int_eq(store_pg_arrays(&pp, P_NOTIF_ALL, vals, lens, 14, 2,
	    out, len), 0);
	assert_array(out[11], len[11], reason, sizeof(reason));

	/* int4: in range, or the batch fails before anything is sent. */
	vals[0] = "A";
	vals[1] = "K";
	vals[2] = "-2";
	ck_assert_int_eq(store_pg_arrays(&pp, P_FIND_ALL, vals, NULL, 3, 1,
	    out, len), 0);
	assert_array(out[2], len[2], idx, sizeof(idx));
	vals[2] = "2147483648";
	ck_assert_int_eq(store_pg_arrays(&pp, P_FIND_ALL, vals, NULL, 3, 1,
	    out, len), -1);
	ck_assert_str_eq(f.sqlstate, "22P02");
	fail_reset(&f, err, sizeof(err));
	vals[12] = "12x";
	vals[13] = "9223372036854775808";
	ck_assert_int_eq(store_pg_arrays(&pp, P_NOTIF_ALL, vals, lens, 14, 2,
	    out, len), -1);
	ck_assert_str_eq(f.sqlstate, "22P02");
	ck_assert_ptr_nonnull(strstr(err, "12x"));
	/* Bodies need their lengths: never strlen() on bytes. */
	fail_reset(&f, err, sizeof(err));
	vals[12] = "1";
	ck_assert_int_eq(store_pg_arrays(&pp, P_NOTIF_ALL, vals, NULL, 14, 2,
	    out, len), -1);
	free(pp.arr);
}
END_TEST

/*
 * What the binary arrays carry reaches the columns exactly: a message
 * with quotes, braces, a comma, a backslash and non-ASCII text, the
 * largest amount a notification may hold, and a body whose bytes go on
 * past a NUL (stored as received, whatever they are).
 */
START_TEST(test_pg_record_bytes_exact)
{
	struct deliveries *ds = calloc(1, sizeof(*ds));
	struct store_job *jobs;
	unsigned char *raw;
	char *want;
	PGconn *c;
	size_t n;

	PG_SKIP_UNLESS_AVAILABLE();
	ck_assert_ptr_nonnull(ds);
	deliveries_add(ds, "CLIENT_A", test_fmt("{\"notifyType\":"
	    "\"PAYMENT_RESULT\",\"result\":{\"resultCode\":\"SUCCESS\","
	    "\"resultStatus\":\"S\",\"resultMessage\":\"a \\\"quoted\\\" {b,c}"
	    " back\\\\slash \\u00fcn\\u00efc\\u00f8d\\u00e9 \\u4e2d\\u6587\"},"
	    "\"paymentRequestId\":\"PR-BYTES\",\"paymentId\":\"P-BYTES\","
	    "\"paymentAmount\":{\"value\":\"9223372036854775807\","
	    "\"currency\":\"HKD\"}}"));
	deliveries_add(ds, "CLIENT_A", body_payment("PR-NUL", "P-NUL",
	    "PAYMENT_RESULT", "S", "100", 1));
	/* The second body: its JSON, then a NUL and two more bytes. */
	n = ds->d[1].bodylen;
	ck_assert_ptr_nonnull(raw = malloc(n + 3));
	memcpy(raw, ds->d[1].body, n);
	memcpy(raw + n, "\0\xff\x01", 3);
	free(ds->body[1]);
	ds->body[1] = (char *)raw;
	ds->d[1].body = raw;
	ds->d[1].bodylen = n + 3;
	store_hash_body(&ds->d[1]);
	pg_start(1);
	c = pg_migrated();
	jobs = jobs_for(ds);
	pg_record(c, jobs, 0, 2);
	assert_pg_value(c, "SELECT result_message || '|' || amount_value FROM"
	    " payments WHERE payment_request_id = 'PR-BYTES'", "a \"quoted\" "
	    "{b,c} back\\slash \xc3\xbcn\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9 "
	    "\xe4\xb8\xad\xe6\x96\x87|9223372036854775807");
	want = test_fmt("%zu|7d00ff01", n + 3);
	assert_pg_value(c, "SELECT length(body) || '|' || encode(substr(body,"
	    " length(body) - 3), 'hex') FROM notifications WHERE object_id ="
	    " 'PR-NUL'", want);
	free(want);
	free(jobs);
	PQfinish(c);
	deliveries_free(ds);
	free(ds);
}
END_TEST

Suite *
pg_suite(void)
{
	Suite *s = suite_create("pg");
	TCase *tc;

	tc = tcase_create("harness");
	tcase_add_checked_fixture(tc, setup, pg_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_sync_commit);
	tcase_add_test(tc, test_stalled_standbys_block_commit);
	tcase_add_test(tc, test_cancelled_commit_is_local_only);
	tcase_add_test(tc, test_failover);
	suite_add_tcase(s, tc);

	tc = tcase_create("schema");
	tcase_add_checked_fixture(tc, setup, pg_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_pg_migrate);
	tcase_add_test(tc, test_pg_migrate_concurrent);
	tcase_add_test(tc, test_pg_check);
	tcase_add_test(tc, test_pg_connect_options);
	tcase_add_test(tc, test_pg_columns_match_sqlite);
	tcase_add_test(tc, test_pg_checks_match_sqlite);
	tcase_add_test(tc, test_pg_views_match_sqlite);
	suite_add_tcase(s, tc);

	tc = tcase_create("record");
	tcase_add_checked_fixture(tc, setup, pg_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_pg_arrays_binary);
	tcase_add_test(tc, test_pg_record_as_sqlite);
	tcase_add_test(tc, test_pg_record_bytes_exact);
	tcase_add_test(tc, test_pg_abandon_unsynced);
	tcase_add_test(tc, test_pg_record_concurrent);
	tcase_add_test(tc, test_pg_record_events_order);
	tcase_add_test(tc, test_pg_record_round_trips);
	tcase_add_test(tc, test_pg_record_prepared_once);
	tcase_add_test(tc, test_pg_record_fails_whole);
	tcase_add_test(tc, test_pg_commit_deadline);
	tcase_add_test(tc, test_pg_commit_terminated);
	tcase_add_test(tc, test_pg_record_lock_deadline);
	suite_add_tcase(s, tc);
	return s;
}
