/*
 * check_e2e_pg.c - suite e2e_pg: the real antomd on a real PostgreSQL
 * cluster (tests/pg.h: a primary and a synchronous standby), its
 * database a libpq conninfo naming every node with
 * target_session_attrs=read-write (issue 16 points 1 to 3).
 *
 *   daemon   antomd -n on the conninfo; payments, a capture and a refund
 *            acknowledged and then found on the standby; a repeat is a
 *            duplicate; the password never in the log
 *   two      two antomd instances on one primary, every notification
 *            delivered to both at once: one state change each, the
 *            delivery counts add up
 *   failover the primary SIGKILLed while clients send, a standby
 *            promoted: the same antomd finds it through the conninfo,
 *            and every notification it acknowledged is there
 *   roles    the README's writer and reader roles, run as written
 *
 * Bodies: e2e_pay_body() (the documented notifyPayment), corpus
 * capture-success.json (Antom's own example, tests/corpus/MANIFEST), and
 * a notifyRefund in the documented parameters (docs/protocol.md section
 * 4.5; Antom publishes no example body).
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "e2e.h"
#include "pg.h"
#include "suites.h"

/*
 * The database line: the primary and the standby, and a password the
 * log must not show (trust authentication: the servers never ask).
 */
static void
write_pg_conf(const char *more)
{
	char extra[512], hosts[256], ports[32];
	int i;

	hosts[0] = ports[0] = '\0';
	for (i = 0; i < pg.n; i++) {
		snprintf(hosts + strlen(hosts), sizeof(hosts) - strlen(hosts),
		    "%s%s", i > 0 ? "," : "", pg.dir);
		snprintf(ports + strlen(ports), sizeof(ports) - strlen(ports),
		    "%s%d", i > 0 ? "," : "", pg.node[i].port);
	}
	snprintf(extra, sizeof(extra), "database host=%s port=%s"
	    " user=postgres dbname=postgres target_session_attrs=read-write"
	    " password=hunter2\n%s", hosts, ports, more);
	e2e_write_conf(extra);
}

/* antomd -n -c e2e.conf: its exit status, its output in out. */
static int
run_check(char *out, size_t cap)
{
	char cmd[1024], bin[512], path[160];
	FILE *f;
	size_t n;
	int st;

	snprintf(path, sizeof(path), "%s/check.out", e2e.dir);
	snprintf(cmd, sizeof(cmd), "%s -n -c %s >%s 2>&1",
	    e2e_bin(bin, sizeof(bin), "antomd"), e2e.conf, path);
	st = system(cmd);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	fclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The first of two instances, while the second is e2e. */
static struct e2e_daemon first;

static void
teardown(void)
{
	e2e_teardown();
	if (first.pid > 0) {
		e2e = first;
		e2e_teardown();
	}
	pg_teardown();
}

static void
setup(void)
{
}

/*
 * Acknowledged means on the standby too: with synchronous replication
 * the COMMIT returned only once the standby had the WAL, and the rows
 * show there as soon as it replayed it.
 */
START_TEST(test_pg_daemon)
{
	static const char refund[] = "{\"notifyType\":\"REFUND_RESULT\","
	    "\"result\":{\"resultCode\":\"SUCCESS\",\"resultStatus\":\"S\","
	    "\"resultMessage\":\"success\"},\"refundRequestId\":\"RR-PG-1\","
	    "\"refundId\":\"R-RR-PG-1\",\"refundAmount\":{\"value\":\"100\","
	    "\"currency\":\"SGD\"},\"refundTime\":"
	    "\"2022-11-11T10:00:00+08:00\",\"refundStatus\":\"SUCCESS\"}";
	struct client_response r;
	char out[2048], path[512], *pay, *capture, *log, *risk, *req;
	size_t len;

	PG_SKIP_UNLESS_AVAILABLE();
	pg_start(1);
	e2e_setup_dirs("pg");
	write_pg_conf("at_risk_after_s 1\n");
	/* Before antomd created anything: the role may, so it passes. */
	ck_assert_msg(run_check(out, sizeof(out)) == 0, "%s", out);
	ck_assert_str_eq(out, "configuration OK\n");
	ck_assert_str_eq(pg_sql(0, "SELECT count(*) FROM pg_tables"
	    " WHERE tablename = 'notifications'"), "0");

	e2e_start_daemon();
	pay = e2e_pay_body("PR-PG-1", "PAYMENT_RESULT", "S");
	capture = test_slurp(test_path(path, sizeof(path),
	    "corpus/capture-success.json"), &len);
	e2e_deliver_ok(pay);
	e2e_deliver_ok(capture);
	e2e_deliver_ok(refund);
	e2e_deliver_ok(pay);		/* Antom's redelivery */

	/* On the standby, without asking the primary. */
	pg_wait(1, "SELECT count(*) || '|' || sum(delivery_count)"
	    " FROM notifications", "3|4", 5000);
	ck_assert_str_eq(pg_sql(1, "SELECT string_agg(kind || ':' || outcome"
	    " || ':' || delivery_count, ',' ORDER BY id) FROM notifications"),
	    "payment:applied:2,capture:applied:1,refund:applied:1");
	ck_assert_str_eq(pg_sql(1, "SELECT status || '|' || amount_value"
	    " FROM payments WHERE payment_request_id = 'PR-PG-1'"),
	    "SUCCESS|4200");
	ck_assert_str_eq(pg_sql(1, "SELECT status || '|' || capture_id"
	    " FROM captures WHERE capture_request_id = 'captureRequestId01'"),
	    "SUCCESS|2022XXXXXXX");
	ck_assert_str_eq(pg_sql(1, "SELECT status FROM refunds"
	    " WHERE refund_request_id = 'RR-PG-1'"), "SUCCESS");
	ck_assert_str_eq(pg_sql(1, "SELECT count(*) FROM events"), "3");

	/*
	 * The refusals ledger: a genuine delivery signed over another path
	 * (401, misrouted) is an authentic refusal, at risk after
	 * at_risk_after_s; one with a tampered body (401, unverified) is
	 * kept in the sample; delivered properly, the first is cleared.
	 */
	risk = e2e_pay_body("PR-PG-RISK", "PAYMENT_RESULT", "S");
	req = e2e_signed_request("/antom/notify", "/antom/notify/", risk, NULL,
	    0);
	ck_assert_int_eq(e2e_send(e2e.port, req, strlen(req), &r), 401);
	client_response_free(&r);
	free(req);
	req = e2e_signed_request("/antom/notify", "/antom/notify", pay, NULL,
	    1);
	ck_assert_int_eq(e2e_send(e2e.port, req, strlen(req), &r), 401);
	client_response_free(&r);
	free(req);
	pg_wait(0, "SELECT string_agg(status || ':' || authentic || ':' ||"
	    " coalesce(object_id, '-') || ':' || refusal_count, ','"
	    " ORDER BY authentic) FROM refusals",
	    "401:0:PR-PG-1:1,401:1:PR-PG-RISK:1", 5000);
	log = e2e_log_line("at_risk=1");
	free(log);
	e2e_deliver_ok(risk);
	ck_assert_str_eq(pg_sql(0, "SELECT count(*) FROM refusals"
	    " WHERE authentic = 1"), "0");

	/* Once the schema is there, -n checks its version. */
	ck_assert_msg(run_check(out, sizeof(out)) == 0, "%s", out);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	log = test_slurp(e2e.log, &len);
	ck_assert_ptr_nonnull(strstr(log, "msg=started"));
	ck_assert_msg(strstr(log, "hunter2") == NULL, "%s", log);
	ck_assert_ptr_nonnull(strstr(log, "target_session_attrs=read-write"));
	free(log);
	free(pay);
	free(risk);
	free(capture);
}
END_TEST

/* antomd -n on a server that is not there: exit 5, no password shown. */
START_TEST(test_pg_check_unreachable)
{
	char out[2048];

	e2e_setup_dirs("pg");
	e2e_write_conf("database host=/nonexistent-antomd dbname=antomd"
	    " password=hunter2\n");
	ck_assert_int_eq(run_check(out, sizeof(out)), 5);
	ck_assert_msg(strstr(out, "cannot connect to PostgreSQL") != NULL,
	    "%s", out);
	ck_assert_msg(strstr(out, "hunter2") == NULL, "%s", out);
}
END_TEST

#define TWO_N		200
#define TWO_THREADS	4	/* per instance */

struct two_arg {
	const char	*port;
	int		 first;		/* every TWO_THREADS-th from here */
	int		 acked;
};

static void *
two_sender(void *p)
{
	struct two_arg *a = p;
	char prid[32];
	int i;

	for (i = a->first; i < TWO_N; i += TWO_THREADS) {
		snprintf(prid, sizeof(prid), "PR-TWO-%03d", i);
		a->acked += e2e_thread_deliver_to(a->port, prid) == 1;
	}
	return NULL;
}

/*
 * Two instances, one database, the same notifications at once (issue 16
 * point 2): each notification one row, applied once, one event, its
 * deliveries all counted, its payment SUCCESS.
 */
START_TEST(test_pg_two_instances)
{
	struct two_arg a[2 * TWO_THREADS];
	pthread_t t[2 * TWO_THREADS];
	char port[2][8];
	int i, acked = 0;

	PG_SKIP_UNLESS_AVAILABLE();
	pg_start(1);
	e2e_setup_dirs("pg");
	write_pg_conf("");
	e2e_start_daemon();
	first = e2e;
	e2e_setup_dirs("pg2");
	write_pg_conf("");
	e2e_start_daemon();
	snprintf(port[0], sizeof(port[0]), "%s", first.port);
	snprintf(port[1], sizeof(port[1]), "%s", e2e.port);
	(void)e2e_test_key();	/* loaded once, not by each thread at once */

	for (i = 0; i < 2 * TWO_THREADS; i++) {
		a[i].port = port[i / TWO_THREADS];
		a[i].first = i % TWO_THREADS;
		a[i].acked = 0;
		ck_assert_int_eq(pthread_create(&t[i], NULL, two_sender, &a[i]),
		    0);
	}
	for (i = 0; i < 2 * TWO_THREADS; i++) {
		pthread_join(t[i], NULL);
		acked += a[i].acked;
	}
	ck_assert_int_eq(acked, 2 * TWO_N);
	ck_assert_str_eq(pg_sql(0, "SELECT count(*) || '|' ||"
	    " sum(delivery_count) || '|' || count(*) FILTER (WHERE outcome ="
	    " 'applied') FROM notifications"), "200|400|200");
	ck_assert_str_eq(pg_sql(0, "SELECT count(*) || '|' || count(DISTINCT"
	    " object_id) FROM events"), "200|200");
	ck_assert_str_eq(pg_sql(0, "SELECT count(*) FROM payments"
	    " WHERE status = 'SUCCESS'"), "200");
	/* A regression would be a second event for one payment: none. */
	ck_assert_str_eq(pg_sql(0, "SELECT count(*) FROM events"
	    " WHERE old_status IS NOT NULL"), "0");

	ck_assert_int_eq(e2e_stop_daemon(), 0);
	e2e_teardown();
	e2e = first;
	first.pid = 0;
	ck_assert_int_eq(e2e_stop_daemon(), 0);
}
END_TEST

#define FO_THREADS	4
#define FO_MAX		4000	/* per thread */

struct fo_arg {
	int		 thread;
	int		 sent;
	_Atomic int	 acked;
	unsigned char	 ok[FO_MAX];	/* acknowledged */
};

static _Atomic int fo_stop;

static void *
fo_sender(void *p)
{
	struct fo_arg *a = p;
	char prid[32];

	for (a->sent = 0; a->sent < FO_MAX && !atomic_load(&fo_stop);
	    a->sent++) {
		snprintf(prid, sizeof(prid), "PR-FO-%d-%04d", a->thread,
		    a->sent);
		if (e2e_thread_deliver(prid) == 1) {
			a->ok[a->sent] = 1;
			atomic_fetch_add(&a->acked, 1);
		} else
			usleep(20000);	/* 503 while there is no primary */
	}
	return NULL;
}

static int
fo_acked(struct fo_arg *a)
{
	int i, n = 0;

	for (i = 0; i < FO_THREADS; i++)
		n += atomic_load(&a[i].acked);
	return n;
}

/*
 * Issue 16 point 3 and 6: SIGKILL the primary under load, promote the
 * standby that received most, and the running antomd (no restart)
 * reconnects through its multi-host conninfo; nothing it acknowledged
 * is missing on the new primary.
 */
START_TEST(test_pg_failover)
{
	static struct fo_arg a[FO_THREADS];
	pthread_t t[FO_THREADS];
	char sql[128], *log;
	size_t len;
	int i, j, before, missing = 0, best, slow;

	PG_SKIP_UNLESS_AVAILABLE();
	pg_start(2);
	e2e_setup_dirs("pg");
	write_pg_conf("");
	e2e_start_daemon();
	atomic_store(&fo_stop, 0);
	(void)e2e_test_key();	/* loaded once, not by each thread at once */
	for (i = 0; i < FO_THREADS; i++) {
		a[i].thread = i;
		ck_assert_int_eq(pthread_create(&t[i], NULL, fo_sender, &a[i]),
		    0);
	}
	/* Under valgrind antomd is some twenty times slower. */
	slow = getenv("ANTOMD_VALGRIND") != NULL ? 20 : 1;
	for (i = 0; i < 200 * slow && fo_acked(a) < 200; i++)
		usleep(10000);
	ck_assert_int_ge(fo_acked(a), 200);
	pg_kill(0);
	usleep(300000);
	best = pg_most_advanced();
	pg_promote(best);
	before = fo_acked(a);
	for (i = 0; i < 1000 * slow && fo_acked(a) < before + 200; i++)
		usleep(10000);
	atomic_store(&fo_stop, 1);
	for (i = 0; i < FO_THREADS; i++)
		pthread_join(t[i], NULL);
	ck_assert_msg(fo_acked(a) >= before + 200, "%d acknowledged after "
	    "the promotion", fo_acked(a) - before);

	/* Every acknowledged payment, on the new primary. */
	for (i = 0; i < FO_THREADS; i++) {
		PGconn *c = pg_connect(best);

		for (j = 0; j < a[i].sent; j++) {
			PGresult *r;

			if (!a[i].ok[j])
				continue;
			snprintf(sql, sizeof(sql), "SELECT 1 FROM payments WHERE"
			    " payment_request_id = 'PR-FO-%d-%04d' AND status ="
			    " 'SUCCESS'", i, j);
			r = PQexec(c, sql);
			ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
			missing += PQntuples(r) != 1;
			PQclear(r);
		}
		PQfinish(c);
	}
	ck_assert_int_eq(missing, 0);
	ck_assert_int_eq(kill(e2e.pid, 0), 0);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	log = test_slurp(e2e.log, &len);
	ck_assert_msg(strstr(log, "connected again") != NULL, "%s", log);
	free(log);
}
END_TEST

#define ST_DEADLINE_MS	1000
#define ST_N		9	/* delivered while the standby is stalled */
#define ST_WAVE		6	/* at once, then the rest behind them */

struct st_req {
	char		*req;
	int		 status;	/* -1: no answer */
	uint64_t	 ms;		/* until it came */
};

static uint64_t
st_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *
st_send(void *p)
{
	struct st_req *q = p;
	struct client_response r;
	char err[256];
	uint64_t t0 = st_now_ms();

	memset(&r, 0, sizeof(r));
	q->status = client_raw("127.0.0.1", e2e.port, q->req, strlen(q->req),
	    E2E_TIMEOUT_MS, &r, err, sizeof(err)) == 0 ? r.status : -1;
	q->ms = st_now_ms() - t0;
	client_response_free(&r);
	return NULL;
}

/* q[from..to-1] sent at once; each answered 503 by the deadline. */
static void
st_wave(struct st_req *q, int from, int to, int slow)
{
	pthread_t t[ST_N + 1];
	int i;

	for (i = from; i < to; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, st_send, &q[i]), 0);
	for (i = from; i < to; i++)
		pthread_join(t[i], NULL);
	for (i = from; i < to; i++) {
		ck_assert_msg(q[i].status == 503, "delivery %d: %d after %llu "
		    "ms", i, q[i].status, (unsigned long long)q[i].ms);
		ck_assert_msg(q[i].ms < (uint64_t)(ST_DEADLINE_MS + 1500) *
		    (unsigned)slow, "delivery %d answered after %llu ms", i,
		    (unsigned long long)q[i].ms);
	}
}

/* GET path on the metrics listener: its status, the body in *body. */
static int
st_admin(const char *path, char **body)
{
	struct client_response r;
	char req[128];
	int st;

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n", path);
	st = e2e_send(e2e.metrics_port, req, strlen(req), &r);
	*body = strdup(r.body != NULL ? r.body : "");
	client_response_free(&r);
	return st;
}

/*
 * The database's size in /metrics: pg_database_size(), taken by the idle
 * writer (within a few seconds of its start: its first pass), as the
 * server says it (a fresh database is some megabytes); no WAL file.
 */
static void
st_database_bytes(void)
{
	const char *p = NULL;
	char *text = NULL;
	double have, want;
	int i;

	for (i = 0; i < 50; i++) {
		free(text);
		ck_assert_int_eq(st_admin("/metrics", &text), 200);
		if ((p = strstr(text, "\nantomd_database_bytes ")) != NULL)
			break;
		usleep(100 * 1000);
	}
	ck_assert_msg(p != NULL, "no antomd_database_bytes in /metrics");
	have = atof(p + strlen("\nantomd_database_bytes "));
	want = atof(pg_sql(0, "SELECT pg_database_size('postgres')"));
	ck_assert_double_gt(have, 1e6);
	ck_assert_msg(have > want * 0.9 && have < want * 1.1, "%.0f bytes, "
	    "pg_database_size() %.0f", have, want);
	ck_assert_ptr_null(strstr(text, "antomd_wal_bytes"));
	free(text);
}

/*
 * Issue 16 points 3 and 6, a stalled synchronous standby: every COMMIT
 * blocks.  Deliveries are answered 503 by commit_deadline_ms (those in
 * the batch whose COMMIT waits, and those queued behind it), nothing is
 * acknowledged that is not on the standby, /healthz says why; once the
 * standby resumes, the late COMMIT's outcome is logged, and Antom's
 * redeliveries are SUCCESS, one state change each (a duplicate where the
 * late COMMIT did commit).  A SIGTERM while a COMMIT hangs still ends
 * antomd promptly.
 */
START_TEST(test_pg_stalled_standby)
{
	struct st_req q[ST_N + 1];
	char prid[32], want[64], npath[160], msgs[8192], *body[ST_N + 1], *pay,
	    *line, *text;
	const char *p;
	uint64_t t0;
	int i, late, slow, nfd;

	PG_SKIP_UNLESS_AVAILABLE();
	slow = getenv("ANTOMD_VALGRIND") != NULL ? 20 : 1;
	pg_start(1);
	e2e_with_metrics = 1;
	e2e_setup_dirs("pg");
	write_pg_conf("commit_deadline_ms 1000\n");
	nfd = e2e_notify_bind(npath, sizeof(npath));
	e2e_notify_socket = npath;
	e2e_start_daemon();
	e2e_notify_socket = NULL;
	pay = e2e_pay_body("PR-ST-OK", "PAYMENT_RESULT", "S");
	e2e_deliver_ok(pay);
	st_database_bytes();
	for (i = 0; i <= ST_N; i++) {
		snprintf(prid, sizeof(prid), "PR-ST-%d", i);
		body[i] = e2e_pay_body(prid, "PAYMENT_RESULT", "S");
		q[i].req = e2e_signed_request("/antom/notify", "/antom/notify",
		    body[i], NULL, 0);
	}

	pg_stall(1);
	st_wave(q, 0, ST_WAVE, slow);
	/* The writer waits for that COMMIT: these wait in the queue. */
	st_wave(q, ST_WAVE, ST_N, slow);
	ck_assert_int_eq(st_admin("/healthz", &text), 503);
	ck_assert_msg(strstr(text, "COMMIT outstanding") != NULL, "%s", text);
	free(text);
	/*
	 * The writer answers 503s by itself meanwhile: systemd's watchdog
	 * (400 ms here) keeps being pinged, where a writer stuck on a lock
	 * stops the pings (test_sd_notify_watchdog).
	 */
	msgs[0] = '\0';
	e2e_notify_collect(nfd, 300 * slow, msgs, sizeof(msgs));
	msgs[0] = '\0';
	e2e_notify_collect(nfd, 1000 * slow, msgs, sizeof(msgs));
	ck_assert_msg(strstr(msgs, "WATCHDOG=1") != NULL, "no ping while the "
	    "COMMIT waits: %s", msgs);
	/* Busy since that batch began. */
	ck_assert_int_eq(st_admin("/metrics", &text), 200);
	ck_assert_ptr_nonnull(p = strstr(text,
	    "\nantomd_writer_batch_age_seconds "));
	ck_assert_msg(atof(p + 33) > ST_DEADLINE_MS / 1000.0, "%s", text);
	free(text);
	pg_resume(1);

	/* The late COMMIT did commit, and says so. */
	line = e2e_log_line("msg=commit_late");
	ck_assert_msg(strstr(line, " answered=503 committed=yes ") != NULL,
	    "%s", line);
	ck_assert_ptr_nonnull(p = strstr(line, " jobs="));
	late = atoi(p + 6);
	ck_assert_msg(late >= 1 && late <= ST_WAVE, "%s", line);
	fprintf(stderr, "test_pg_stalled_standby: %s\n", line);
	free(line);
	ck_assert_int_eq(st_admin("/metrics", &text), 200);
	ck_assert_msg(strstr(text, "\nantomd_commits_late_total 1\n") != NULL,
	    "%s", text);
	free(text);

	/* Antom delivers again: SUCCESS, and one state change each. */
	for (i = 0; i < ST_N; i++)
		e2e_deliver_ok(body[i]);
	snprintf(want, sizeof(want), "%d|%d|%d|%d", ST_N + 1, ST_N + 1 + late,
	    ST_N + 1, ST_N + 1);
	/* On the primary and on the standby. */
	for (i = 0; i < 2; i++)
		pg_wait(i, "SELECT count(*) || '|' || sum(delivery_count) || '|'"
		    " || (SELECT count(*) FROM events) || '|' || (SELECT"
		    " count(*) FROM payments WHERE status = 'SUCCESS') FROM"
		    " notifications", want, 5000);

	/* SIGTERM while a COMMIT hangs: out after one deadline more. */
	pg_stall(1);
	st_wave(q, ST_N, ST_N + 1, slow);
	t0 = st_now_ms();
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	ck_assert_msg(st_now_ms() - t0 < (uint64_t)(ST_DEADLINE_MS + 3000) *
	    (unsigned)slow, "stopped after %llu ms",
	    (unsigned long long)(st_now_ms() - t0));
	pg_resume(1);
	line = e2e_log_line("committed=unknown");
	free(line);
	for (i = 0; i <= ST_N; i++) {
		free(q[i].req);
		free(body[i]);
	}
	free(pay);
	close(nfd);
}
END_TEST

/*
 * What a late transaction held, once it commits: a contradiction in a
 * batch whose COMMIT outlasted the deadline is still logged (it is in the
 * database), and a refusal written in a late transaction is counted
 * once, not queued again and written twice.
 */
START_TEST(test_pg_late_settled)
{
	struct client_response r;
	char *ok, *fail, *risk, *line;
	int i;

	PG_SKIP_UNLESS_AVAILABLE();
	pg_start(1);
	e2e_setup_dirs("pg");
	write_pg_conf("commit_deadline_ms 1000\n");
	e2e_start_daemon();
	ok = e2e_pay_body("PR-LS-1", "PAYMENT_RESULT", "S");
	fail = e2e_pay_body("PR-LS-1", "PAYMENT_RESULT", "F");
	e2e_deliver_ok(ok);

	/* A FAIL after SUCCESS, its COMMIT late: 503, then committed. */
	pg_stall(1);
	ck_assert_int_eq(e2e_signed_post("/antom/notify", "/antom/notify", fail,
	    &r), 503);
	client_response_free(&r);
	pg_resume(1);
	line = e2e_log_line("msg=commit_late");
	ck_assert_msg(strstr(line, " jobs=1 ") != NULL &&
	    strstr(line, " committed=yes ") != NULL, "%s", line);
	free(line);
	line = e2e_log_line("msg=discrepancy");
	ck_assert_msg(strstr(line, "PR-LS-1 ") != NULL &&
	    strstr(line, " outcome=conflict ") != NULL, "%s", line);
	free(line);
	pg_wait(0, "SELECT outcome || ':' || discrepancy FROM notifications"
	    " WHERE outcome = 'conflict'", "conflict:status SUCCESS -> FAIL",
	    5000);

	/* A misrouted delivery's refusal, written while the standby stalls. */
	pg_stall(1);
	risk = e2e_pay_body("PR-LS-2", "PAYMENT_RESULT", "S");
	ck_assert_int_eq(e2e_signed_post("/antom/notify", "/antom/notify/",
	    risk, &r), 401);
	client_response_free(&r);
	usleep(1500000);	/* past the deadline: the COMMIT is late */
	pg_resume(1);
	line = e2e_log_line("refusals=1 committed=yes");
	free(line);
	/* Written once: not queued again for the writer's next pass. */
	for (i = 0; i < 3; i++) {
		e2e_deliver_ok(ok);
		usleep(200000);
	}
	ck_assert_str_eq(pg_sql(0, "SELECT string_agg(object_id || ':' ||"
	    " refusal_count, ',') FROM refusals"), "PR-LS-2:1");
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	free(ok);
	free(fail);
	free(risk);
}
END_TEST

/* The SQLSTATE of sql run on conninfo, "" when it succeeded. */
static const char *
pg_state_of(const char *conninfo, const char *sql)
{
	static char state[8];
	PGconn *c = pg_connect_to(conninfo);
	PGresult *r = PQexec(c, sql);
	const char *f = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	snprintf(state, sizeof(state), "%s", f != NULL ? f : "");
	PQclear(r);
	PQfinish(c);
	return state;
}

/*
 * The text between start and end in the README, each line without the
 * four spaces of a code block; caller frees.
 */
static char *
readme_block(const char *start, const char *end)
{
	char path[512], *readme, *a, *b, *out, *o, *nl;

	readme = test_slurp(test_path(path, sizeof(path), "../README.md"),
	    NULL);
	ck_assert_msg((a = strstr(readme, start)) != NULL, "README: %s", start);
	a += strlen(start);
	ck_assert_msg((b = strstr(a, end)) != NULL, "README: %s", end);
	ck_assert_ptr_nonnull(o = out = malloc((size_t)(b - a) + 1));
	for (; a < b; a = nl + 1) {
		if ((nl = memchr(a, '\n', (size_t)(b - a))) == NULL)
			nl = b - 1;	/* the last line, without its end */
		if (strncmp(a, "    ", 4) == 0)
			a += 4;
		memcpy(o, a, (size_t)(nl - a) + 1);
		o += nl - a + 1;
	}
	*o = '\0';
	free(readme);
	return out;
}

/*
 * README "More than one machine": its roles block run as written by a
 * superuser; antomd as the writer role creates the schema and records;
 * the reader role reads every table and view and changes nothing, and
 * writes refund_links once granted as the README says.
 */
START_TEST(test_pg_roles)
{
	char path[512], reader[256], super[256], sel[128], extra[512], *sql,
	    *grant, *g, *pay, *cmd;
	const char *tables[] = { "payments", "captures", "refunds",
	    "disputes", "vaultings", "notifications", "events", "refusals",
	    "refund_links", "payment_status", "payment_timeline",
	    "payment_captures", "refund_payment", "refund_status" };
	size_t i;
	FILE *f;

	PG_SKIP_UNLESS_AVAILABLE();
	pg_start(0);
	e2e_setup_dirs("roles");
	sql = readme_block("<!-- roles -->\n", "<!-- /roles -->");
	snprintf(path, sizeof(path), "%s/roles.sql", e2e.dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(sql, f);
	ck_assert_int_eq(fclose(f), 0);
	cmd = test_fmt("psql -X -q -v ON_ERROR_STOP=1 -h %s -p %d -U postgres"
	    " -d postgres -f %s >%s/roles.out 2>&1", pg.dir, pg.node[0].port,
	    path, e2e.dir);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);

	snprintf(extra, sizeof(extra), "database host=%s port=%d user=antomd"
	    " dbname=antomd\n", pg.dir, pg.node[0].port);
	e2e_write_conf(extra);
	e2e_start_daemon();
	pay = e2e_pay_body("PR-ROLE-1", "PAYMENT_RESULT", "S");
	e2e_deliver_ok(pay);
	snprintf(super, sizeof(super), "host=%s port=%d user=postgres"
	    " dbname=antomd", pg.dir, pg.node[0].port);
	ck_assert_str_eq(pg_sql_at(super, "SELECT"
	    " string_agg(DISTINCT tableowner, ',') FROM pg_tables"
	    " WHERE schemaname = 'public'"), "antomd");

	snprintf(reader, sizeof(reader), "host=%s port=%d user=antomd_reader"
	    " dbname=antomd", pg.dir, pg.node[0].port);
	ck_assert_str_eq(pg_sql_at(reader, "SELECT status FROM payments"
	    " WHERE payment_request_id = 'PR-ROLE-1'"), "SUCCESS");
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(sel, sizeof(sel), "SELECT count(*) FROM %s",
		    tables[i]);
		ck_assert_str_eq(pg_state_of(reader, sel), "");
	}
	/* 42501: insufficient_privilege. */
	ck_assert_str_eq(pg_state_of(reader, "UPDATE payments SET status"
	    " = 'FAIL'"), "42501");
	ck_assert_str_eq(pg_state_of(reader, "DELETE FROM notifications"),
	    "42501");
	ck_assert_str_eq(pg_state_of(reader, "CREATE TABLE t (i int)"),
	    "42501");
	ck_assert_str_eq(pg_state_of(reader, "INSERT INTO refund_links"
	    " (client_id, refund_request_id, payment_request_id) VALUES"
	    " ('" SANDBOX "', 'RR-ROLE-1', 'PR-ROLE-1')"), "42501");

	/* The README's grant for the application that links refunds. */
	grant = readme_block("also needs, once antomd has created the\ntable, `",
	    "`");
	ck_assert_ptr_nonnull(g = strstr(grant, "GRANT "));
	ck_assert_str_eq(pg_state_of(super, g), "");
	ck_assert_str_eq(pg_state_of(reader, "INSERT INTO refund_links"
	    " (client_id, refund_request_id, payment_request_id) VALUES"
	    " ('" SANDBOX "', 'RR-ROLE-1', 'PR-ROLE-1')"), "");
	ck_assert_str_eq(pg_state_of(reader, "UPDATE payments SET status"
	    " = 'FAIL'"), "42501");
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	free(grant);
	free(pay);
	free(sql);
}
END_TEST

Suite *
e2e_pg_suite(void)
{
	Suite *s = suite_create("e2e_pg");
	TCase *tc;

	tc = tcase_create("daemon");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pg_daemon);
	tcase_add_test(tc, test_pg_check_unreachable);
	tcase_add_test(tc, test_pg_two_instances);
	tcase_add_test(tc, test_pg_failover);
	tcase_add_test(tc, test_pg_roles);
	suite_add_tcase(s, tc);

	tc = tcase_create("stall");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pg_stalled_standby);
	tcase_add_test(tc, test_pg_late_settled);
	suite_add_tcase(s, tc);
	return s;
}
