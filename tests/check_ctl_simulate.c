/*
 * check_ctl_simulate.c - antomctl simulate against the real daemon and
 * against fake receivers owned by the test.
 *
 * ctl_simulate() is called in the test process (Check forks each test)
 * with stdout redirected to a temporary file.  The fake receiver is a
 * thread listening on a 127.0.0.1 port-0 socket this test bound itself.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ctl.h"
#include "e2e.h"
#include "suites.h"

#define SANDBOX	"SANDBOX_5YEZ4X2ZEB3C05479"
#define ACK	"{\"result\":{\"resultCode\":\"SUCCESS\"," \
		"\"resultStatus\":\"S\",\"resultMessage\":\"success\"}}"

/*
 * Run ctl_simulate with the given arguments (NULL-terminated); returns the
 * exit status and, in *out, what it printed (caller frees).
 */
static int
run_sim(char **out, ...)
{
	char *argv[32];
	char tmpl[] = "/tmp/antomd-sim-out-XXXXXX";
	va_list ap;
	int argc = 0, fd, saved, rc;

	argv[argc++] = (char *)"simulate";
	va_start(ap, out);
	while ((argv[argc] = va_arg(ap, char *)) != NULL) {
		argc++;
		ck_assert_int_lt(argc, 31);
	}
	va_end(ap);
	fd = mkstemp(tmpl);
	ck_assert_int_ge(fd, 0);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(dup2(fd, STDOUT_FILENO), 0);
	optind = 0;
	rc = ctl_simulate(argc, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(fd);
	*out = test_slurp(tmpl, NULL);
	unlink(tmpl);
	return rc;
}

/* ---- the fake receiver ---------------------------------------------- */

enum fake_mode { FAKE_FAIL_3, FAKE_WRONG_BODY };

#define FAKE_KEYS	16

static struct {
	pthread_mutex_t	 lock;
	int		 fd;
	enum fake_mode	 mode;
	char		 sig[FAKE_KEYS][512];
	int		 count[FAKE_KEYS];
	int		 nkeys;
	int		 requests;
	pthread_t	 thread;
} fake = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Attempts seen so far of the request signed sig, this one included. */
static int
fake_count(const char *sig)
{
	int i, n;

	pthread_mutex_lock(&fake.lock);
	fake.requests++;
	for (i = 0; i < fake.nkeys; i++)
		if (strcmp(fake.sig[i], sig) == 0)
			break;
	if (i == fake.nkeys && fake.nkeys < FAKE_KEYS) {
		snprintf(fake.sig[i], sizeof(fake.sig[i]), "%s", sig);
		fake.nkeys++;
	}
	n = i < FAKE_KEYS ? ++fake.count[i] : 1;
	pthread_mutex_unlock(&fake.lock);
	return n;
}

/* Read one request (headers and Content-Length body); its signature. */
static int
fake_read(int c, char *sig, size_t sigcap)
{
	char buf[16384], *end, *p;
	size_t n = 0;
	ssize_t got;
	long clen = 0;

	sig[0] = '\0';
	for (;;) {
		struct pollfd pfd = { c, POLLIN, 0 };

		if (poll(&pfd, 1, 2000) <= 0)
			return -1;
		got = read(c, buf + n, sizeof(buf) - 1 - n);
		if (got <= 0)
			return -1;
		n += (size_t)got;
		buf[n] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) == NULL) {
			if (n == sizeof(buf) - 1)
				return -1;
			continue;
		}
		for (p = buf; p < end; p = strstr(p, "\r\n") + 2) {
			if (strncasecmp(p, "content-length:", 15) == 0)
				clen = strtol(p + 15, NULL, 10);
			if (strncasecmp(p, "signature:", 10) == 0) {
				p += 10;
				p += strspn(p, " ");
				snprintf(sig, sigcap, "%.*s",
				    (int)strcspn(p, "\r\n"), p);
			}
		}
		if ((long)(n - (size_t)(end + 4 - buf)) >= clen)
			return 0;
	}
}

static void
fake_answer(int c, int status, const char *body)
{
	char head[256];
	int hl;

	hl = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n", status, status == 200 ? "OK" :
	    "Service Unavailable", strlen(body));
	if (write(c, head, (size_t)hl) != hl ||
	    write(c, body, strlen(body)) != (ssize_t)strlen(body)) {
		/* the client gave up: it counts as no answer */
	}
}

static void *
fake_main(void *arg)
{
	static const char *const wrong[] = {
		"{\"result\":{\"resultCode\":\"SUCCESS\",\"resultStatus\":"
		    "\"S\",\"resultMessage\":\"success \"}}",
		"{\"result\":{\"resultCode\":\"SUCCESS\",\"resultStatus\":"
		    "\"F\",\"resultMessage\":\"success\"}}",
	};
	char sig[512];
	int c, n;

	(void)arg;
	for (;;) {
		if ((c = accept(fake.fd, NULL, NULL)) < 0)
			return NULL;
		if (fake_read(c, sig, sizeof(sig)) == 0) {
			n = fake_count(sig);
			if (fake.mode == FAKE_FAIL_3)
				fake_answer(c, n <= 3 ? 503 : 200,
				    n <= 3 ? "{}" : ACK);
			else
				fake_answer(c, 200, wrong[n % 2]);
		}
		close(c);
	}
}

/* Start the fake receiver; its URL into url. */
static void
fake_start(enum fake_mode mode, char *url, size_t cap)
{
	int port;

	fake.mode = mode;
	fake.fd = e2e_bind_loopback(&port);
	snprintf(url, cap, "http://127.0.0.1:%d/antom/notify", port);
	ck_assert_int_eq(pthread_create(&fake.thread, NULL, fake_main, NULL),
	    0);
}

/* ---- tests ------------------------------------------------------------ */

/*
 * Wait until antomd has made its database (it binds no socket of its own
 * here, so the test cannot tell it is up otherwise): the merchant's side
 * opens the database antomd made, never creates it.
 */
static void
wait_for_schema(void)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int i, ok = 0;

	for (i = 0; i < 1000 && !ok; i++) {
		db = NULL;
		st = NULL;
		if (sqlite3_open_v2(e2e.db, &db, SQLITE_OPEN_READONLY, NULL) ==
		    SQLITE_OK && sqlite3_prepare_v2(db, "SELECT count(*) FROM "
		    "refund_links", -1, &st, NULL) == SQLITE_OK)
			ok = 1;
		sqlite3_finalize(st);
		sqlite3_close(db);
		if (!ok)
			usleep(10000);
	}
	ck_assert_msg(ok, "antomd made no database in %s", e2e.db);
}

static const char *
key_path(void)
{
	static char path[512];

	return test_path(path, sizeof(path), "vectors/test-antom-private.pem");
}

START_TEST(test_all_against_antomd)
{
	char pem[512], url[128];
	char *out;
	FILE *f;
	int rc;

	e2e_setup_dirs("sim");
	f = fopen(e2e.conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "listen 127.0.0.1:1\n"
	    "metrics_listen off\n"
	    "database %s\n"
	    "route /local/notify /public/prefix/notify\n"
	    "client %s 1 %s\n", e2e.db, SANDBOX,
	    test_path(pem, sizeof(pem), "vectors/test-antom-public.pem"));
	fclose(f);
	e2e_start_daemon();
	wait_for_schema();
	snprintf(url, sizeof(url), "http://127.0.0.1:%s/local/notify",
	    e2e.port);
	rc = run_sim(&out, "--url", url, "--key", key_path(), "--client-id",
	    SANDBOX, "--scenario", "all", "--sign-path",
	    "/public/prefix/notify", "--time-scale", "86400", "--db", e2e.db,
	    (char *)NULL);
	ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
	ck_assert_ptr_nonnull(strstr(out, "refund-first merchant link recorded: "
	    "INSERT INTO refund_links"));
	ck_assert_ptr_nonnull(strstr(out, "24 notifications, 24 acknowledged; "
	    "attempts histogram: 1:24 2:0 3:0 4:0 5:0 6:0 7:0 8:0"));
	ck_assert_ptr_nonnull(strstr(out, "duplicates payment-success(again)"));
	ck_assert_int_eq(e2e_stop_daemon(), 0);

	/*
	 * card, retry, duplicates, capture-first, pending, refund-first,
	 * proxy; the dispute and the vaulting have no payment of their own.
	 */
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments"), 7);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments "
	    "WHERE status = 'SUCCESS'"), 7);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM captures "
	    "WHERE status = 'SUCCESS'"), 4);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payment_captures "
	    "WHERE capture_status = 'SUCCESS' AND payment_status = 'SUCCESS'"),
	    4);
	/*
	 * The refund came first and, linked by the merchant before Antom
	 * notified it, counts against its payment and is in its timeline.
	 */
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payment_status "
	    "WHERE refunded_amount_value = 4200 AND captured_amount_value = "
	    "4200"), 1);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM refund_status "
	    "WHERE link = 'linked'"), 1);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payment_timeline t "
	    "JOIN payment_status s ON s.client_id = t.client_id AND "
	    "s.payment_request_id = t.payment_request_id WHERE "
	    "t.object_type = 'refund' AND t.new_status = 'SUCCESS' AND "
	    "s.refunded_amount_value = 4200"), 1);
	/* Judged first: CREATED and DEFENSE_SUPPLIED came late. */
	ck_assert_str_eq(e2e_q_text("SELECT stage || '/' || reason_code FROM "
	    "disputes"), "DISPUTE_JUDGED/4853");
	ck_assert_str_eq(e2e_q_text("SELECT group_concat(outcome, ' ') FROM "
	    "(SELECT outcome FROM notifications WHERE kind = 'dispute' "
	    "ORDER BY id)"), "applied ignored ignored");
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM vaultings WHERE "
	    "status = 'SUCCESS'"), 1);
	/* 17 distinct bodies, 24 deliveries */
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM notifications"), 17);
	ck_assert_int_eq(e2e_q_int("SELECT sum(delivery_count) "
	    "FROM notifications"), 24);
	ck_assert_int_eq(e2e_q_int("SELECT max(delivery_count) "
	    "FROM notifications"), 5);
	ck_assert_int_eq(e2e_q_int("SELECT delivery_count FROM notifications "
	    "WHERE notify_type = 'PAYMENT_PENDING'"), 2);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM notifications "
	    "WHERE signed_path <> '/public/prefix/notify'"), 0);
	free(out);
}
END_TEST

/*
 * Without --db, simulate prints the merchant's INSERT: until it is run the
 * refund counts against nothing; run as printed by the sqlite3 shell while
 * antomd runs, it links the refund to its payment.
 */
START_TEST(test_refund_link_printed)
{
	char pem[512], url[128], cmd[640], *out, *sql, *end;
	FILE *f, *p;
	int rc, st;

	e2e_setup_dirs("simlink");
	f = fopen(e2e.conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "listen 127.0.0.1:1\nmetrics_listen off\ndatabase %s\n"
	    "route /antom/notify\nclient %s 1 %s\n", e2e.db, SANDBOX,
	    test_path(pem, sizeof(pem), "vectors/test-antom-public.pem"));
	fclose(f);
	e2e_start_daemon();
	snprintf(url, sizeof(url), "http://127.0.0.1:%s/antom/notify",
	    e2e.port);
	rc = run_sim(&out, "--url", url, "--key", key_path(), "--client-id",
	    SANDBOX, "--scenario", "refund-first", "--time-scale", "86400",
	    (char *)NULL);
	ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
	sql = strstr(out, "refund-first merchant link, to run on antomd's "
	    "database: ");
	ck_assert_msg(sql != NULL, "%s", out);
	sql = strchr(sql, ':') + 2;
	ck_assert_ptr_nonnull(end = strchr(sql, '\n'));
	*end = '\0';
	ck_assert_int_eq(e2e_q_int("SELECT refunded_amount_value FROM "
	    "payment_status"), 0);
	ck_assert_str_eq(e2e_q_text("SELECT link FROM refund_status"),
	    "unlinked");
	/* As printed, by the sqlite3 shell, while antomd runs. */
	snprintf(cmd, sizeof(cmd), "sqlite3 -bail -cmd '.timeout 5000' '%s'",
	    e2e.db);
	ck_assert_ptr_nonnull(p = popen(cmd, "w"));
	ck_assert_int_ge(fprintf(p, "%s\n", sql), 0);
	st = pclose(p);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", sql);
	ck_assert_int_eq(e2e_q_int("SELECT refunded_amount_value FROM "
	    "payment_status"), 4200);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payment_timeline "
	    "WHERE object_type = 'refund'"), 1);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	free(out);
}
END_TEST

START_TEST(test_retries_until_acknowledged)
{
	char url[128];
	char *out;
	struct timespec t0, t1;
	double secs;
	int rc;

	fake_start(FAKE_FAIL_3, url, sizeof(url));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = run_sim(&out, "--url", url, "--key", key_path(), "--client-id",
	    SANDBOX, "--time-scale", "86400", (char *)NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
	ck_assert_ptr_nonnull(strstr(out, "card payment-success "
	    "paymentRequestId=SIM-PR-"));
	ck_assert_ptr_nonnull(strstr(out, "card capture-success "
	    "captureRequestId=SIM-CR-"));
	ck_assert_ptr_nonnull(strstr(out, "attempts=4/8 acknowledged"));
	ck_assert_ptr_nonnull(strstr(out, "2 notifications, 2 acknowledged; "
	    "attempts histogram: 1:0 2:0 3:0 4:2 5:0 6:0 7:0 8:0"));
	ck_assert_ptr_null(strstr(out, "NOT ACKNOWLEDGED"));
	pthread_mutex_lock(&fake.lock);
	ck_assert_int_eq(fake.nkeys, 2);	/* the same request re-sent */
	ck_assert_int_eq(fake.requests, 8);
	pthread_mutex_unlock(&fake.lock);
	/* 2 x 22 min of Antom's time at 86400: about 30 ms */
	ck_assert_msg(secs < 2.0, "took %.2f s", secs);
	free(out);
}
END_TEST

START_TEST(test_wrong_body_never_acknowledged)
{
	char url[128];
	char *out;
	int rc;

	fake_start(FAKE_WRONG_BODY, url, sizeof(url));
	rc = run_sim(&out, "--url", url, "--key", key_path(), "--client-id",
	    SANDBOX, "--scenario", "retry", "--time-scale", "864000",
	    (char *)NULL);
	ck_assert_msg(rc == 1, "exit %d:\n%s", rc, out);
	ck_assert_ptr_nonnull(strstr(out, "retry payment-success "
	    "paymentRequestId=SIM-PR-"));
	ck_assert_ptr_nonnull(strstr(out, "attempts=8/8 NOT ACKNOWLEDGED "
	    "(last: HTTP 200 without the acknowledgement body)"));
	ck_assert_ptr_nonnull(strstr(out, "1 notifications, 0 acknowledged"));
	ck_assert_ptr_nonnull(strstr(out, "never acknowledged"));
	pthread_mutex_lock(&fake.lock);
	ck_assert_int_eq(fake.nkeys, 1);
	ck_assert_int_eq(fake.requests, 8);
	pthread_mutex_unlock(&fake.lock);
	free(out);
}
END_TEST

START_TEST(test_usage)
{
	static const char url[] = "http://127.0.0.1:1/antom/notify";
	char *out;

	ck_assert_int_eq(run_sim(&out, (char *)NULL), 2);
	free(out);
	ck_assert_int_eq(run_sim(&out, "--key", key_path(), "--client-id",
	    SANDBOX, (char *)NULL), 2);	/* no --url */
	free(out);
	ck_assert_int_eq(run_sim(&out, "--url", url, "--key", key_path(),
	    "--client-id", SANDBOX, "--scenario", "nope", (char *)NULL), 2);
	free(out);
	ck_assert_int_eq(run_sim(&out, "--url", url, "--key", key_path(),
	    "--client-id", SANDBOX, "--scenario", "proxy", (char *)NULL), 2);
	free(out);
	ck_assert_int_eq(run_sim(&out, "--url", url, "--key", key_path(),
	    "--client-id", SANDBOX, "--time-scale", "0.5", (char *)NULL), 2);
	free(out);
	ck_assert_int_eq(run_sim(&out, "--url", url, "--key", key_path(),
	    "--client-id", SANDBOX, "--time-scale", "fast", (char *)NULL), 2);
	free(out);
	ck_assert_int_eq(run_sim(&out, "--url", url, "--key", key_path(),
	    "--client-id", SANDBOX, "--timeout-ms", "0", (char *)NULL), 2);
	free(out);
	ck_assert_int_eq(run_sim(&out, "--url", "https://x/", "--key",
	    key_path(), "--client-id", SANDBOX, (char *)NULL), 2);
	free(out);
	ck_assert_int_eq(run_sim(&out, "--url", url, "--key", key_path(),
	    "--client-id", SANDBOX, "extra", (char *)NULL), 2);
	free(out);
	ck_assert_int_eq(run_sim(&out, "--bogus", (char *)NULL), 2);
	free(out);
	/* a key that is not there is 3, not 2 */
	ck_assert_int_eq(run_sim(&out, "--url", url, "--key",
	    "/nonexistent/key.pem", "--client-id", SANDBOX, (char *)NULL), 3);
	free(out);
	/* --db must be antomd's database, there already: 3 */
	ck_assert_int_eq(run_sim(&out, "--url", url, "--key", key_path(),
	    "--client-id", SANDBOX, "--db", "/nonexistent/antomd.db",
	    (char *)NULL), 3);
	free(out);
	ck_assert_int_eq(run_sim(&out, "--help", (char *)NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "pending-then-success"));
	ck_assert_ptr_nonnull(strstr(out, "--db FILE"));
	free(out);
}
END_TEST

Suite *
ctl_simulate_suite(void)
{
	Suite *s = suite_create("ctl_simulate");
	TCase *tc;

	tc = tcase_create("antomd");
	tcase_add_checked_fixture(tc, NULL, e2e_teardown);
	tcase_add_test(tc, test_all_against_antomd);
	tcase_add_test(tc, test_refund_link_printed);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("fake");
	tcase_add_test(tc, test_retries_until_acknowledged);
	tcase_add_test(tc, test_wrong_body_never_acknowledged);
	tcase_set_timeout(tc, 15);
	suite_add_tcase(s, tc);

	tc = tcase_create("usage");
	tcase_add_test(tc, test_usage);
	tcase_set_timeout(tc, 10);
	suite_add_tcase(s, tc);
	return s;
}
