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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <libpq-fe.h>

#include "pg.h"
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

#define PG_SKIP_UNLESS_AVAILABLE()					\
	do {								\
		if (!pg_available(__func__))				\
			return;						\
	} while (0)

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
	for (int i = 0; strcmp(pg_sql(1, "SELECT count(*) FROM t"), "1") != 0;
	    i++) {
		ck_assert_int_lt(i, 250);
		usleep(20000);
	}
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
	return s;
}
