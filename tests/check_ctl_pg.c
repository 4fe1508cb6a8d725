/*
 * check_ctl_pg.c - suite ctl_db on PostgreSQL (issue 16 point 5): the
 * same signed deliveries recorded through the store in a SQLite file and
 * in a real PostgreSQL server (pg.h), and every antomctl command that
 * reads or writes the database (inspect, events and events --follow,
 * refusals, reverify, replay, explain --id) says the same of both;
 * simulate --db writes the merchant's link there.
 *
 * One cluster for the case: starting it is most of the time.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>
#include <libpq-fe.h>

#include "ctl.h"
#include "ctl_db.h"
#include "e2e.h"
#include "notif.h"
#include "pg.h"
#include "store.h"
#include "suites.h"

#include "../src/store_judge.h"

static char a_ctl[] = "antomctl", a_c[] = "-c", a_json[] = "--json";
static char a_since[] = "--since";

/*
 * Both engines side by side: the same signed deliveries recorded through
 * the store in a SQLite file (e2e.db, read with e2e.conf) and in
 * PostgreSQL, read by a role with SELECT alone (conf_pg) or written by
 * the owner (conf_pgw).
 */
static struct {
	struct store	*lite, *pg;
	char		 reader[256];	/* the SELECT-only role's */
	char		 conf_pg[160], conf_pgw[160];
} two;

static void
two_apply(const char *fixture, const char *const *sets, size_t nsets)
{
	char hdr[SIGN_HEADER_MAX], *body;
	struct store_delivery d;
	struct store_result a, b;
	struct notif n;

	body = ctldb_signed_body(fixture, sets, nsets, hdr);
	ck_assert_int_eq(notif_parse((const unsigned char *)body, strlen(body),
	    &n), 0);
	memset(&d, 0, sizeof(d));
	d.client_id = SANDBOX;
	d.request_time = RTIME;
	d.signature = hdr;
	d.signed_path = "/antom/notify";
	d.key_version = 1;
	d.body = (const unsigned char *)body;
	d.bodylen = strlen(body);
	d.notif = &n;
	store_hash_body(&d);
	ck_assert_int_eq(store_apply(two.lite, &d, &a), 0);
	ck_assert_int_eq(store_apply(two.pg, &d, &b), 0);
	ck_assert_int_eq(a.outcome, b.outcome);
	ck_assert_int_eq(a.notification_id, b.notification_id);
	notif_free(&n);
	free(body);
}

/* The same change on both engines, in each one's dialect. */
static void
two_sql(const char *lite, const char *pgsql)
{
	PGconn *c = pg_connect(0);

	ctldb_sql(lite);
	pg_exec(c, pgsql != NULL ? pgsql : lite);
	PQfinish(c);
}

/* A primary, the schema on both engines, the four deliveries of setup(). */
static void
two_start(void)
{
	struct store_options o = { 5000, 1, 16, 0, 0 };
	char err[256];
	PGconn *c;

	pg_start(0);
	two.lite = store_open(e2e.db, &o, err, sizeof(err));
	ck_assert_msg(two.lite != NULL, "store_open: %s", err);
	two.pg = store_open(pg.node[0].conninfo, &o, err, sizeof(err));
	ck_assert_msg(two.pg != NULL, "store_open: %s", err);
	c = pg_connect(0);
	pg_exec(c, "CREATE ROLE antomd_reader LOGIN; GRANT SELECT ON ALL"
	    " TABLES IN SCHEMA public TO antomd_reader");
	PQfinish(c);
	snprintf(two.reader, sizeof(two.reader), "host=%s port=%d "
	    "user=antomd_reader dbname=postgres", pg.dir, pg.node[0].port);
	snprintf(two.conf_pg, sizeof(two.conf_pg), "%s/pg.conf", e2e.dir);
	snprintf(two.conf_pgw, sizeof(two.conf_pgw), "%s/pgw.conf", e2e.dir);
	ctldb_write_conf(e2e.conf, e2e.db, 1);
	ctldb_write_conf(two.conf_pg, two.reader, 1);
	ctldb_write_conf(two.conf_pgw, pg.node[0].conninfo, 1);
	two_apply("payment-pending", ctldb_pay, 2);
	two_apply("payment-success", ctldb_pay, 2);
	two_apply("capture-success", ctldb_cap, 3);
	two_apply("payment-fail", ctldb_pay, 2);
}

static void
two_setup(void)
{
	e2e_setup_dirs("ctlpg");
}

static void
two_teardown(void)
{
	store_close(two.lite);
	store_close(two.pg);
	memset(&two, 0, sizeof(two));
	pg_teardown();
	e2e_teardown();
}

/*
 * t with every time antomd took as it recorded (ISO 8601 with
 * milliseconds) as "T": the engines recorded the same data at other
 * moments.
 */
static char *
untimed(char *t)
{
	static const char shape[] = "0000-00-00T00:00:00.000Z";
	char *r = t, *w = t;
	size_t i;

	while (*r != '\0') {
		for (i = 0; shape[i] != '\0'; i++)
			if (shape[i] == '0' ? r[i] < '0' || r[i] > '9' :
			    r[i] != shape[i])
				break;
		if (shape[i] == '\0') {
			*w++ = 'T';
			r += i;
		} else
			*w++ = *r++;
	}
	*w = '\0';
	return t;
}

/*
 * fn -c CONF args... on SQLite (e2e.conf), then on PostgreSQL (conf):
 * exit status want from both, and the same output but for the times.
 * The PostgreSQL output; the caller frees it.
 */
static char *
both(int want, int (*fn)(int, char **), const char *conf, ...)
{
	char *argv[16] = { a_ctl, a_c, e2e.conf }, *lite, *t;
	va_list ap;
	size_t n;

	va_start(ap, conf);
	for (n = 3; n < 15 && (argv[n] = va_arg(ap, char *)) != NULL; n++)
		continue;
	argv[n] = NULL;
	va_end(ap);
	ck_assert_int_eq(ctldb_run_argv(fn, &lite, argv), want);
	argv[2] = (char *)conf;
	ck_assert_int_eq(ctldb_run_argv(fn, &t, argv), want);
	ck_assert_msg(strcmp(untimed(lite), untimed(t)) == 0,
	    "SQLite:\n%s\nPostgreSQL:\n%s", lite, t);
	free(lite);
	return t;
}

#define T_LITE(m)	"strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', 'now', '" m "')"
#define T_PG(m)							\
	"to_char((now() AT TIME ZONE 'UTC') + interval '" m "',"	\
	" 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
/* refusals_listed's rows, times and an escape in the dialect's words. */
#define REFUSAL_ROWS(T, esc)						\
	"INSERT INTO refusals VALUES ('%064d', '" SANDBOX "', 401,"	\
	" 'misrouted', 'x', 'PAYMENT_RESULT', 'payment', 'PR-9', "	\
	T("-2 hours") ", " T("0 hours") ", 3, 1), ('', 'X' || " esc	\
	", 503, 'storage_failure', NULL, NULL, NULL, NULL, "		\
	T("-2 days") ", " T("-1 days") ", 1, 1), ('%064d', '" SANDBOX	\
	"', 413, 'body_too_large', NULL, NULL, NULL, NULL, "		\
	T("-3 days") ", " T("0 hours") ", 9, 0)"

/*
 * Every reading command says of PostgreSQL what it says of SQLite, read
 * by a role with SELECT alone; events --follow sees a row committed while
 * it follows.
 */
static void
pg_reading(void)
{
	/* inspect_children's deliveries but RR-2: RR-1 linked, RR-3 not. */
	static const struct {
		const char	*fixture;
		const char	*sets[3];
	} more[] = {
		{ "refund-success", { "refundRequestId=RR-1", "refundId=RF-1",
		    "amount=1000" } },
		{ "refund-success", { "refundRequestId=RR-3", "refundId=RF-3",
		    "amount=200" } },
		{ "dispute-judged", { "disputeId=D-1", "paymentId=P-1",
		    "paymentRequestId=PR-1" } },
		{ "dispute-created", { "disputeId=D-1", "paymentId=P-1",
		    "paymentRequestId=PR-1" } },
	};
	static const char *const pr2[] = {
		"paymentRequestId=PR-2", "paymentId=P-2"
	};
	char lite[2048], pgsql[2048], out[160], *t, *f;
	char *argv[] = { a_ctl, a_c, two.conf_pg, a_since, "6", "--follow",
	    NULL };
	int status;
	size_t i;
	pid_t pid;

	two_sql("INSERT INTO refund_links (client_id, refund_request_id,"
	    " payment_id) VALUES ('" SANDBOX "', 'RR-1', 'P-1')", NULL);
	for (i = 0; i < sizeof(more) / sizeof(more[0]); i++)
		two_apply(more[i].fixture, more[i].sets, 3);
	snprintf(lite, sizeof(lite), REFUSAL_ROWS(T_LITE, "char(27)"), 1, 3);
	snprintf(pgsql, sizeof(pgsql), REFUSAL_ROWS(T_PG, "chr(27)"), 1, 3);
	two_sql(lite, pgsql);

	t = both(0, ctl_inspect, two.conf_pg, "PR-1", NULL);
	ck_assert_msg(strstr(t, "PENDING -> SUCCESS notification #2\n") !=
	    NULL && strstr(t, "  refund RR-1\n") != NULL &&
	    strstr(t, "1 not linked") != NULL &&
	    strstr(t, "- -> DISPUTE_JUDGED notification #7") != NULL, "%s", t);
	free(t);
	free(both(0, ctl_inspect, two.conf_pg, a_json, "PR-1", NULL));
	free(both(1, ctl_inspect, two.conf_pg, "PR-NOPE", NULL));
	t = both(0, ctl_events, two.conf_pg, a_since, "0", NULL);
	ck_assert_msg(strstr(t, "PENDING->SUCCESS 2\n3 ") != NULL, "%s", t);
	free(t);
	free(both(0, ctl_events, two.conf_pg, a_since, "1", "--limit", "3",
	    a_json, NULL));
	t = both(1, ctl_refusals, two.conf_pg, NULL);
	ck_assert_msg(strstr(t, "\n2 refused and not stored since; 2 at risk"
	    " (refused more than 3600 s ago), 1 given up by Antom; 1 "
	    "unverified") != NULL, "%s", t);
	free(t);
	free(both(1, ctl_refusals, two.conf_pg, a_json, NULL));
	t = both(0, ctl_reverify, two.conf_pg, NULL);
	ck_assert_str_eq(t, "8 verified, 0 failed\n");
	free(t);
	free(both(0, ctl_reverify, two.conf_pg, "--since-id", "5", NULL));
	t = both(0, ctl_explain, two.conf_pg, "--id", "2", NULL);
	ck_assert_msg(strstr(t, "verifies as received") != NULL, "%s", t);
	free(t);
	free(both(3, ctl_explain, two.conf_pg, "--id", "99", NULL));

	snprintf(out, sizeof(out), "%s/follow.out", e2e.dir);
	pid = ctldb_spawn(ctl_events, out, argv);
	usleep(300000);
	two_apply("payment-success", pr2, 2);
	f = ctldb_wait_output(out, "PR-2");
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	argv[2] = e2e.conf;
	argv[5] = NULL;
	ck_assert_int_eq(ctldb_run_argv(ctl_events, &t, argv), 0);
	ck_assert_msg(strstr(f, " payment PR-2 none->SUCCESS 9\n") != NULL &&
	    strcmp(untimed(f), untimed(t)) == 0, "followed:\n%s\nSQLite:\n%s",
	    f, t);
	free(t);
	free(f);
}

/*
 * replay on PostgreSQL changes what it changes on SQLite (replay_restores
 * and replay_rules, on both), needs the writer's role, and waits for the
 * lock a running antomd takes for the same object.
 */
static void
pg_replay(void)
{
	static const char *const outs[][2] = {
		{ "1", "applied" }, { "2", "applied" }, { "2", "duplicate" },
		{ "3", "duplicate" }, { "1", "ignored" }, { "4", "conflict" },
	};
	char want[64], sql[160], out[160], *t, *argv[] = { a_ctl, a_c,
	    two.conf_pgw, "2", NULL };
	uint64_t key;
	PGconn *c;
	size_t i;
	int status;
	pid_t pid;

	/* A bug lost the payments and their events. */
	two_sql("DELETE FROM events WHERE object_type = 'payment';"
	    " DELETE FROM payments", NULL);
	for (i = 0; i < sizeof(outs) / sizeof(outs[0]); i++) {
		t = both(0, ctl_replay, two.conf_pgw, outs[i][0], NULL);
		snprintf(want, sizeof(want), "notification %s: %s\n",
		    outs[i][0], outs[i][1]);
		ck_assert_str_eq(t, want);
		free(t);
	}
	free(both(1, ctl_replay, two.conf_pgw, "99", NULL));
	/* The rows, the events and their seq (never reused) alike. */
	free(both(0, ctl_inspect, two.conf_pg, a_json, "PR-1", NULL));
	free(both(0, ctl_events, two.conf_pg, a_since, "0", a_json, NULL));
	ck_assert_str_eq(pg_sql(0, "SELECT min(seq) FROM events WHERE "
	    "object_type = 'payment'"), "8");
	ck_assert_str_eq(pg_sql(0, "SELECT string_agg(outcome, ',' ORDER BY"
	    " id) FROM notifications WHERE id <= 4"),
	    "applied,applied,applied,conflict");
	/* SELECT alone cannot replay. */
	argv[2] = two.conf_pg;
	ck_assert_int_eq(ctldb_run_argv(ctl_replay, &t, argv), 3);
	argv[2] = two.conf_pgw;
	free(t);

	/* An antomd recording PR-1 holds its lock: replay waits for it. */
	key = store_key(store_key(store_key(store_key(STORE_KEY_BASIS, "o"),
	    "payment"), SANDBOX), "PR-1");
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%d, %d)",
	    (int)(int32_t)(uint32_t)(key >> 32), (int)(int32_t)(uint32_t)key);
	c = pg_connect(0);
	pg_exec(c, "BEGIN");
	pg_exec(c, sql);
	snprintf(out, sizeof(out), "%s/replay.out", e2e.dir);
	pid = ctldb_spawn(ctl_replay, out, argv);
	usleep(500000);
	ck_assert_int_eq(waitpid(pid, &status, WNOHANG), 0);
	pg_exec(c, "COMMIT");
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	t = test_slurp(out, NULL);
	ck_assert_str_eq(t, "notification 2: duplicate\n");
	free(t);
	PQfinish(c);
}

/*
 * simulate --db plays the merchant's part on PostgreSQL too: the refund's
 * refund_links row, inserted before Antom (here: nobody listening)
 * notifies it; not with a role that may only read.
 */
static void
pg_simulate(void)
{
	char pem[512], *t;
	char *argv[] = { a_ctl, "--url", "http://127.0.0.1:1/antom/notify",
	    "--key", NULL, "--client-id", SANDBOX, "--scenario",
	    "refund-first", "--time-scale", "1000000000", "--timeout-ms",
	    "200", "--db", two.reader, NULL };

	argv[4] = (char *)test_path(pem, sizeof(pem),
	    "vectors/test-antom-private.pem");
	ck_assert_int_eq(ctldb_run_argv(ctl_simulate, &t, argv), 3);
	free(t);
	argv[14] = pg.node[0].conninfo;
	ck_assert_int_eq(ctldb_run_argv(ctl_simulate, &t, argv), 1);
	ck_assert_msg(strstr(t, "refund-first merchant link recorded: INSERT "
	    "INTO refund_links") != NULL, "%s", t);
	free(t);
	ck_assert_str_eq(pg_sql(0, "SELECT count(*) FROM refund_links WHERE"
	    " refund_request_id LIKE 'SIM-RR-%'"), "1");
}

/* One cluster for all (starting one is most of the time). */
START_TEST(pg_both_engines)
{
	PG_SKIP_UNLESS_AVAILABLE();
	two_start();
	pg_reading();
	pg_replay();
	pg_simulate();
}
END_TEST

/*
 * The engine antomctl picks for a database string is the store's
 * (store.c): a URI, or a host or a database named by a word of a
 * conninfo; a path, whatever its directories are called, is SQLite.
 */
START_TEST(engine_by_string)
{
	static const char *const pg_strings[] = {
		"postgresql://antomd@db1,db2/antomd", "postgres://db/antomd",
		"host=/run/postgresql dbname=antomd",
		"user=antomd  dbname=antomd", "port=5432\thostaddr=10.0.0.1",
	};
	static const char *const paths[] = {
		"/var/lib/antomd/antomd.db", "var/host=a/dbname=b.db",
		"postgresql.db",
	};
	size_t i;

	for (i = 0; i < sizeof(pg_strings) / sizeof(pg_strings[0]); i++)
		ck_assert_msg(ctl_db_is_pg(pg_strings[i]), "%s", pg_strings[i]);
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		ck_assert_msg(!ctl_db_is_pg(paths[i]), "%s", paths[i]);
}
END_TEST

TCase *
ctldb_pg_tcase(void)
{
	TCase *tc = tcase_create("postgresql");

	tcase_add_checked_fixture(tc, two_setup, two_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, engine_by_string);
	tcase_add_test(tc, pg_both_engines);
	return tc;
}
