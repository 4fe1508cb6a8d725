/*
 * check_e2e_faults.c - the real antomd when things break under it: a
 * database locked by another process, SIGKILL at random moments under
 * load (the crash case; make torture runs it with 20 cycles), a full
 * disk and a read-only file system; and a storage fault and a misrouted
 * notification in the middle of a flood of forged requests (the flood
 * case, 60 s).  Whatever happens, no SUCCESS without
 * a commit, no acknowledged notification lost, and recovery unaided.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "client.h"
#include "e2e.h"
#include "refusal.h"
#include "suites.h"
#include "util.h"
#include "verify.h"

START_TEST(test_storage_failure_then_retry)
{
	char *b = e2e_pay_body("PR-6", "PAYMENT_RESULT", "S");
	struct client_response r;
	sqlite3 *other;

	e2e_deliver_ok("{\"warm\":\"up\"}");	/* the database exists now */
	/* Another process holds the write lock past busy_timeout_ms. */
	ck_assert_int_eq(sqlite3_open(e2e.db, &other), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(e2e_signed_post("/antom/notify", "/antom/notify", b,
	    &r), 503);
	ck_assert_ptr_null(strstr(r.body, "SUCCESS"));
	client_response_free(&r);
	ck_assert_int_eq(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(other);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments"), 0);
	/* Antom's retry, once storage is back, is stored and acknowledged. */
	e2e_deliver_ok(b);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments"), 1);
	ck_assert_int_eq(e2e_q_int("SELECT delivery_count FROM notifications "
	    "WHERE id = 2"), 1);
	free(b);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
}
END_TEST

/*
 * Crash consistency: clients send distinct notifications while antomd is
 * killed with SIGKILL at a random moment and started again, cycle after
 * cycle (ANTOMD_CRASH_CYCLES, default 3; make torture runs 20).  Every
 * notification that got SUCCESS must be in the database afterwards, the
 * database must pass integrity_check, and delivering all of them again
 * must change no state.
 */
#define CRASH_THREADS	4
#define CRASH_MAX	3000

struct crash_client {
	int		 id;
	int		 cycle;
	volatile int	 stop;
	int		 nacked;
	char		(*acked)[32];
};

static void *
crash_run(void *arg)
{
	struct crash_client *c = arg;
	char prid[32];
	int i;

	for (i = 0; !c->stop && c->nacked < CRASH_MAX; i++) {
		snprintf(prid, sizeof(prid), "K%d-%d-%d", c->cycle, c->id, i);
		if (e2e_thread_deliver(prid) == 1) {
			snprintf(c->acked[c->nacked], 32, "%s", prid);
			__atomic_store_n(&c->nacked, c->nacked + 1,
			    __ATOMIC_RELEASE);
		}
	}
	return NULL;
}

START_TEST(test_crash_consistency)
{
	const char *env = getenv("ANTOMD_CRASH_CYCLES");
	int cycles = env != NULL ? atoi(env) : 3, cyc, i, j, total = 0;
	int resent = 0;
	struct crash_client *all;
	long long events;
	char sql[160];

	all = calloc((size_t)cycles * CRASH_THREADS, sizeof(*all));
	ck_assert_ptr_nonnull(all);
	(void)e2e_test_key();
	srand((unsigned)getpid());
	for (cyc = 0; cyc < cycles; cyc++) {
		pthread_t th[CRASH_THREADS];
		int status;

		if (cyc > 0)
			e2e_start_daemon();
		for (i = 0; i < CRASH_THREADS; i++) {
			struct crash_client *c = &all[cyc * CRASH_THREADS + i];

			c->id = i;
			c->cycle = cyc;
			c->acked = calloc(CRASH_MAX, 32);
			ck_assert_int_eq(pthread_create(&th[i], NULL, crash_run,
			    c), 0);
		}
		/*
		 * Let traffic flow (slow to start under valgrind), then kill
		 * at a random moment.
		 */
		for (j = 0; j < 400; j++) {
			int acked = 0;

			for (i = 0; i < CRASH_THREADS; i++)
				acked += __atomic_load_n(
				    &all[cyc * CRASH_THREADS + i].nacked,
				    __ATOMIC_ACQUIRE);
			if (acked > 0)
				break;
			usleep(50 * 1000);
		}
		usleep((useconds_t)(150 + rand() % 350) * 1000);
		kill(e2e.pid, SIGKILL);
		ck_assert_int_eq(waitpid(e2e.pid, &status, 0), e2e.pid);
		ck_assert(WIFSIGNALED(status));
		e2e.pid = 0;
		for (i = 0; i < CRASH_THREADS; i++) {
			all[cyc * CRASH_THREADS + i].stop = 1;
			pthread_join(th[i], NULL);
		}
	}

	/* Every acknowledged notification survived every crash. */
	ck_assert_str_eq(e2e_q_text("PRAGMA integrity_check"), "ok");
	for (i = 0; i < cycles * CRASH_THREADS; i++) {
		for (j = 0; j < all[i].nacked; j++) {
			snprintf(sql, sizeof(sql), "SELECT count(*) FROM payments "
			    "WHERE payment_request_id = '%s'", all[i].acked[j]);
			ck_assert_msg(e2e_q_int(sql) == 1, "acknowledged %s lost",
			    all[i].acked[j]);
		}
		total += all[i].nacked;
	}
	ck_assert_int_gt(total, 0);
	fprintf(stderr, "crash consistency: %d SIGKILL cycles, %d notifications "
	    "acknowledged, all stored\n", cycles, total);

	/* Antom delivering them all again changes no state. */
	events = e2e_q_int("SELECT count(*) FROM events");
	e2e_start_daemon();
	for (i = 0; i < cycles * CRASH_THREADS; i++) {
		for (j = 0; j < all[i].nacked; j += 7) {
			char *b = e2e_pay_body(all[i].acked[j],
			    "PAYMENT_RESULT", "S");

			e2e_deliver_ok(b);
			free(b);
			resent++;
		}
	}
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM events"), events);
	ck_assert_int_ge(e2e_q_int("SELECT count(*) FROM notifications WHERE "
	    "delivery_count > 1"), resent);
	for (i = 0; i < cycles * CRASH_THREADS; i++)
		free(all[i].acked);
	free(all);
}
END_TEST

/*
 * Storage faults, on a small tmpfs of our own (needs root to mount; the
 * test says so and does nothing otherwise).  A full disk gives 503, never
 * a SUCCESS without a commit, and antomd recovers by itself once space is
 * freed; a database on a read-only file system gives 503 and a log line
 * naming the cause, and antomd takes it back once it is writable.
 */
static char fsdir[96];

static int
mount_small_fs(const char *size)
{
	char cmd[256];

	snprintf(fsdir, sizeof(fsdir), "%s/fs", e2e.dir);
	ck_assert_int_eq(mkdir(fsdir, 0700), 0);
	snprintf(cmd, sizeof(cmd), "mount -t tmpfs -o size=%s tmpfs %s "
	    "2>/dev/null", size, fsdir);
	if (geteuid() != 0 || system(cmd) != 0) {
		fprintf(stderr, "storage fault tests need root and mount: "
		    "not run\n");
		return -1;
	}
	snprintf(e2e.db, sizeof(e2e.db), "%s/antomd.db", fsdir);
	e2e_write_conf(NULL);
	return 0;
}

static void
umount_small_fs(void)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "umount %s", fsdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Fill the file system with a file at path; returns bytes written. */
static long
fill_fs(const char *path)
{
	static char block[4096];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	long total = 0;

	ck_assert_int_ge(fd, 0);
	for (;;) {
		ssize_t w = write(fd, block, sizeof(block));

		if (w <= 0)
			break;
		total += w;
	}
	close(fd);
	return total;
}

START_TEST(test_disk_full)
{
	char filler[160], prid[32], sql[128], *log;
	char acked[400][32];
	int i, nacked = 0, n503 = 0, first503 = -1;

	if (mount_small_fs("4m") != 0)
		return;
	e2e_start_daemon();
	e2e_deliver_ok("{\"warm\":\"up\"}");
	snprintf(filler, sizeof(filler), "%s/filler", fsdir);
	ck_assert_int_gt(fill_fs(filler), 0);
	for (i = 0; i < 400 && n503 < 5; i++) {
		struct client_response r;
		char *b;
		int st;

		snprintf(prid, sizeof(prid), "DF-%d", i);
		b = e2e_pay_body(prid, "PAYMENT_RESULT", "S");
		st = e2e_signed_post("/antom/notify", "/antom/notify", b, &r);
		ck_assert_msg(st == 200 || st == 503, "status %d", st);
		if (st == 200)
			snprintf(acked[nacked++], 32, "%s", prid);
		else {
			ck_assert_ptr_null(strstr(r.body, "SUCCESS"));
			if (first503 < 0)
				first503 = i;
			n503++;
		}
		client_response_free(&r);
		free(b);
	}
	ck_assert_int_gt(n503, 0);
	/* Space comes back: the same deliveries now succeed, unaided. */
	ck_assert_int_eq(unlink(filler), 0);
	for (i = first503; i < first503 + 5; i++) {
		char *b;

		snprintf(prid, sizeof(prid), "DF-%d", i);
		b = e2e_pay_body(prid, "PAYMENT_RESULT", "S");
		e2e_deliver_ok(b);
		snprintf(acked[nacked++], 32, "%s", prid);
		free(b);
	}
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	for (i = 0; i < nacked; i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM payments WHERE "
		    "payment_request_id = '%.31s'", acked[i]);
		ck_assert_msg(e2e_q_int(sql) == 1, "acknowledged %s lost", acked[i]);
	}
	ck_assert_str_eq(e2e_q_text("PRAGMA integrity_check"), "ok");
	log = test_slurp(e2e.log, NULL);
	ck_assert_ptr_nonnull(strstr(log, "full"));
	ck_assert_ptr_nonnull(strstr(log, "status=503"));
	free(log);
	umount_small_fs();
}
END_TEST

/* Whether the running antomd has a thread of this name (/proc comm). */
static int
daemon_thread(const char *name)
{
	char path[64], comm[32];
	struct dirent *de;
	DIR *d;
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)e2e.pid);
	ck_assert_ptr_nonnull(d = opendir(path));
	while (!found && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/comm",
		    (int)e2e.pid, de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(comm, sizeof(comm), f) != NULL) {
			comm[strcspn(comm, "\n")] = '\0';
			found = strcmp(comm, name) == 0;
		}
		fclose(f);
	}
	closedir(d);
	return found;
}

START_TEST(test_read_only_fs)
{
	char cmd[160], *log;
	char *b = e2e_pay_body("RO-1", "PAYMENT_RESULT", "S");
	struct client_response r;

	if (mount_small_fs("8m") != 0) {
		free(b);
		return;
	}
	e2e_start_daemon();
	e2e_deliver_ok("{\"warm\":\"up\"}");
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	/*
	 * Read-only under antomd (the kernel refuses to remount a file
	 * system read-only while a process holds files open for writing, so
	 * antomd starts on it): 503 and a log line saying why, then, once
	 * the file system is writable again, the same delivery succeeds.
	 */
	snprintf(cmd, sizeof(cmd), "mount -o remount,ro %s", fsdir);
	ck_assert_int_eq(system(cmd), 0);
	e2e_start_daemon();
	ck_assert_int_eq(e2e_signed_post("/antom/notify", "/antom/notify", b,
	    &r), 503);
	ck_assert_ptr_null(strstr(r.body, "SUCCESS"));
	client_response_free(&r);
	/* Nothing to checkpoint yet; the writer starts it once it can. */
	ck_assert_int_eq(daemon_thread("writer"), 1);
	ck_assert_int_eq(daemon_thread("checkpointer"), 0);
	snprintf(cmd, sizeof(cmd), "mount -o remount,rw %s", fsdir);
	ck_assert_int_eq(system(cmd), 0);
	e2e_deliver_ok(b);
	ck_assert_int_eq(daemon_thread("checkpointer"), 1);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments"), 1);
	log = test_slurp(e2e.log, NULL);
	ck_assert_ptr_nonnull(strstr(log, "is read-only: notifications are "
	    "answered 503 until it is writable"));
	ck_assert_ptr_nonnull(strstr(log, "is writable again"));
	free(log);
	free(b);
	umount_small_fs();
}
END_TEST

/*
 * The ledger under a flood of forged requests (issue: the refusal ledger
 * cannot be flooded or faked).  FLOOD_THREADS clients on keep-alive
 * connections send FLOOD_S seconds of requests with the configured
 * client id and bodies that all differ: no signature, a signature that
 * is not base64, a well-formed signature of the key's size that does not
 * verify (1 in 16, so that the variant checks' budget is used), and an
 * over-limit Content-Length.  Meanwhile one genuine notification is
 * refused 503 (another connection holds the write lock past
 * busy_timeout_ms) and one is misrouted (signed over the public prefix
 * another route shows the proxy strips).  Afterwards exactly those two
 * are at risk, in the gauge, the WARN line and antomctl refusals; the
 * flood is counted by client id and reason and kept only as a bounded
 * sample.
 */
#define FLOOD_THREADS	4
#define FLOOD_S		60
#define FLOOD_RATE	2000	/* requests a second, at least */

struct flood {
	int			 id;
	volatile int		*stop;
	unsigned long long	 sent, answered;
};

/* A keep-alive connection to the daemon, or -1. */
static int
flood_connect(void)
{
	struct sockaddr_in sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(e2e.port));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Read one answer; the status, or -1 when the connection is done.  The
 * answers are small JSON with a Content-Length.
 */
static int
flood_answer(int fd, char *buf, size_t cap)
{
	size_t len = 0, need;
	ssize_t n;
	char *end, *cl;

	for (;;) {
		if (len + 1 >= cap)
			return -1;
		if ((n = read(fd, buf + len, cap - 1 - len)) <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) == NULL)
			continue;
		if ((cl = strcasestr(buf, "Content-Length:")) == NULL ||
		    cl > end)
			return -1;
		need = (size_t)(end + 4 - buf) + strtoul(cl + 15, NULL, 10);
		if (len >= need)
			break;
	}
	if (len != (size_t)(strstr(buf, "\r\n\r\n") + 4 - buf) +
	    strtoul(strcasestr(buf, "Content-Length:") + 15, NULL, 10))
		return -1;	/* more than one answer: not expected */
	return atoi(buf + 9);
}

static void *
flood_run(void *arg)
{
	struct flood *f = arg;
	char req[2048], body[256], sig[420], b64[352], buf[2048];
	unsigned char raw[256];	/* RSA-2048: the test key's size */
	uint64_t t0 = util_mono_us();
	unsigned long long i;
	size_t blen;
	int fd = -1, len, st;

	for (i = 0; !*f->stop; i++) {
		/* Paced: FLOOD_RATE a second over all threads, no more. */
		while (f->sent * 1000000ull * FLOOD_THREADS / FLOOD_RATE >
		    util_mono_us() - t0 + 1000000ull / 2 && !*f->stop)
			usleep(200);
		blen = (size_t)snprintf(body, sizeof(body), "{\"notifyType\":"
		    "\"PAYMENT_RESULT\",\"paymentRequestId\":\"FLOOD-%d-%llu\","
		    "\"result\":{\"resultStatus\":\"S\"}}", f->id, i);
		switch (i % 16) {
		case 0:
			/* Well formed, of the key's size, not verifying. */
			memset(raw, (int)(i & 0xff), sizeof(raw));
			verify_b64_encode(raw, sizeof(raw), b64);
			snprintf(sig, sizeof(sig), "algorithm=RSA256,"
			    "keyVersion=1,signature=%s", b64);
			break;
		case 1:
		case 2:
			snprintf(sig, sizeof(sig), "algorithm=RSA256,"
			    "keyVersion=1,signature=%%%%%%");
			break;
		default:
			sig[0] = '\0';		/* the issue's: no signature */
			break;
		}
		if (i % 50 == 7)
			len = snprintf(req, sizeof(req), "POST /antom/notify "
			    "HTTP/1.1\r\nHost: x\r\nclient-id: " SANDBOX "\r\n"
			    "Content-Length: 100000\r\n\r\n");
		else
			len = snprintf(req, sizeof(req), "POST /antom/notify "
			    "HTTP/1.1\r\nHost: x\r\nclient-id: " SANDBOX "\r\n"
			    "request-time: %llu\r\n%s%s%sContent-Length: %zu\r\n"
			    "\r\n%s", i, sig[0] != '\0' ? "signature: " : "",
			    sig, sig[0] != '\0' ? "\r\n" : "", blen, body);
		if (fd == -1 && (fd = flood_connect()) == -1) {
			usleep(1000);
			continue;
		}
		f->sent++;
		if (write(fd, req, (size_t)len) != len ||
		    (st = flood_answer(fd, buf, sizeof(buf))) == -1) {
			close(fd);
			fd = -1;
			continue;
		}
		f->answered++;
		if (st == 413) {
			/* The body was never sent: start over. */
			close(fd);
			fd = -1;
		}
	}
	if (fd != -1)
		close(fd);
	return NULL;
}

/* The value of a sample of the daemon's /metrics, or -1 when absent. */
static double
flood_metric(const char *key)
{
	struct client_response r;
	const char *req = "GET /metrics HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n";
	const char *p;
	double v = -1;

	if (e2e_send(e2e.metrics_port, req, strlen(req), &r) != 200) {
		client_response_free(&r);
		return -1;
	}
	for (p = r.body; (p = strstr(p, key)) != NULL; p += strlen(key))
		if ((p == r.body || p[-1] == '\n') && p[strlen(key)] == ' ') {
			v = strtod(p + strlen(key) + 1, NULL);
			break;
		}
	client_response_free(&r);
	return v;
}

START_TEST(test_flood)
{
	static volatile int stop;
	struct flood fl[FLOOD_THREADS];
	pthread_t th[FLOOD_THREADS];
	struct client_response r;
	char *b503 = e2e_pay_body("PR-GENUINE-503", "PAYMENT_RESULT", "S");
	char *bmis = e2e_pay_body("PR-GENUINE-MISROUTED", "PAYMENT_RESULT",
	    "S");
	char *req, *log, *out, cmd[1024], ctl[512], *p;
	unsigned long long sent = 0, answered = 0;
	uint64_t t0, us;
	sqlite3 *other;
	FILE *pp;
	size_t n;
	int i, st, marks;
	double v;

	/* A route "L P+L": a proxy in front strips the prefix /payments. */
	e2e_write_conf("at_risk_after_s 1\n"
	    "route /back/notify /payments/back/notify\n");
	e2e_with_metrics = 1;
	e2e_start_daemon();
	e2e_deliver_ok("{\"warm\":\"up\"}");	/* the database exists now */

	stop = 0;
	t0 = util_mono_us();
	for (i = 0; i < FLOOD_THREADS; i++) {
		memset(&fl[i], 0, sizeof(fl[i]));
		fl[i].id = i;
		fl[i].stop = &stop;
		ck_assert_int_eq(pthread_create(&th[i], NULL, flood_run,
		    &fl[i]), 0);
	}

	/* 5 s in: a genuine notification, the database locked: 503. */
	sleep(5);
	ck_assert_int_eq(sqlite3_open(e2e.db, &other), SQLITE_OK);
	/* The writer may hold the lock a moment: wait, as a process would. */
	sqlite3_busy_timeout(other, 5000);
	ck_assert_int_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL), SQLITE_OK);
	req = e2e_signed_request("/antom/notify", "/antom/notify", b503, NULL,
	    0);
	ck_assert_int_eq(e2e_send(e2e.port, req, strlen(req), &r), 503);
	client_response_free(&r);
	free(req);
	sleep(1);
	ck_assert_int_eq(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(other);

	/*
	 * 10 s in: a genuine notification Antom signed over the public
	 * /payments/antom/notify, which the proxy sent to /antom/notify
	 * (whose route forgot the prefix): refused, never acknowledged.
	 */
	sleep(4);
	req = e2e_signed_request("/antom/notify", "/payments/antom/notify",
	    bmis, NULL, 0);
	ck_assert_int_eq(e2e_send(e2e.port, req, strlen(req), &r), 401);
	client_response_free(&r);
	free(req);

	while (util_mono_us() - t0 < FLOOD_S * 1000000ull)
		sleep(1);
	stop = 1;
	for (i = 0; i < FLOOD_THREADS; i++) {
		pthread_join(th[i], NULL);
		sent += fl[i].sent;
		answered += fl[i].answered;
	}
	us = util_mono_us() - t0;
	fprintf(stderr, "flood: %llu sent, %llu answered in %.1f s (%.0f/s)\n",
	    sent, answered, us / 1e6, answered * 1e6 / us);
	/* Under valgrind (make valgrind) the daemon is far slower. */
	ck_assert_msg(getenv("ANTOMD_VALGRIND") != NULL ||
	    answered * 1000000ull / us >= FLOOD_RATE * 9 / 10,
	    "%llu answered in %llu us", answered, (unsigned long long)us);

	/* Exactly the two genuine ones are at risk. */
	for (i = 0; i < 100 && (v = flood_metric(
	    "antomd_notifications_at_risk")) != 2; i++)
		usleep(100000);
	ck_assert_msg(v == 2, "at risk %g: %s", v, e2e_q_text("SELECT"
	    " group_concat(object_id || '/' || status || '/' || authentic, ' ')"
	    " FROM refusals WHERE authentic OR object_id LIKE 'PR-GENUINE%'"));
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM refusals WHERE"
	    " authentic"), 2);
	ck_assert_int_le(e2e_q_int("SELECT count(*) FROM refusals WHERE"
	    " NOT authentic"), REFUSAL_SAMPLE_MAX);
	ck_assert_int_gt(e2e_q_int("SELECT count(*) FROM refusals WHERE"
	    " NOT authentic"), 0);
	ck_assert_str_eq(e2e_q_text("SELECT group_concat(object_id || '/' ||"
	    " status || '/' || reason, ' ') FROM (SELECT * FROM refusals WHERE"
	    " authentic ORDER BY object_id)"),
	    "PR-GENUINE-503/503/storage_failure"
	    " PR-GENUINE-MISROUTED/401/misrouted");
	ck_assert_double_gt(flood_metric("antomd_unverified_refusals_total"
	    "{client_id=\"" SANDBOX "\",reason=\"missing_header\"}"),
	    sent / 2);
	ck_assert_double_gt(flood_metric("antomd_unverified_refusals_total"
	    "{client_id=\"" SANDBOX "\",reason=\"body_too_large\"}"), 0);
	ck_assert_double_gt(flood_metric("antomd_unverified_refusals_total"
	    "{client_id=\"" SANDBOX "\",reason=\"mismatch\"}"), 0);
	ck_assert_double_eq(flood_metric("antomd_misrouted_total"), 1);
	fprintf(stderr, "flood: variant checks %g, budget exhausted %g\n",
	    flood_metric("antomd_path_variant_checks_total"),
	    flood_metric("antomd_path_variant_budget_exhausted_total"));

	log = test_slurp(e2e.log, NULL);
	ck_assert_msg(strstr(log, "reason=misrouted") != NULL &&
	    strstr(log, "verifies_over=/payments/antom/notify") != NULL,
	    "no misrouted line");
	ck_assert_msg(strstr(log, "at_risk=2 ") != NULL, "no WARN at_risk=2");
	ck_assert_ptr_null(strstr(log, "at_risk=3"));
	free(log);

	snprintf(cmd, sizeof(cmd), "%s refusals -c %s", e2e_bin(ctl,
	    sizeof(ctl), "antomctl"), e2e.conf);
	ck_assert_ptr_nonnull(pp = popen(cmd, "r"));
	out = calloc(1, 65536);
	ck_assert_ptr_nonnull(out);
	n = fread(out, 1, 65535, pp);
	st = pclose(pp);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%.*s", (int)n,
	    out);
	for (marks = 0, p = out; (p = strstr(p, "AT RISK")) != NULL; p++)
		marks++;
	ck_assert_msg(marks == 2 && strstr(out, "payment PR-GENUINE-503;") !=
	    NULL && strstr(out, "payment PR-GENUINE-MISROUTED;") != NULL &&
	    strstr(out, "\nunverified ") != NULL && strstr(out,
	    "; 2 at risk (refused more than 1 s ago)") != NULL, "%s", out);
	free(out);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	free(b503);
	free(bmis);
}
END_TEST

Suite *
e2e_faults_suite(void)
{
	Suite *s = suite_create("e2e_faults");
	TCase *tc = tcase_create("daemon");
	TCase *crash = tcase_create("crash");
	TCase *faults = tcase_create("faults");
	TCase *flood = tcase_create("flood");

	tcase_add_checked_fixture(tc, e2e_setup, e2e_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_storage_failure_then_retry);
	suite_add_tcase(s, tc);

	/* Its own case, so make torture can run it alone with more cycles. */
	tcase_add_checked_fixture(crash, e2e_setup, e2e_teardown);
	tcase_set_timeout(crash, 120);
	tcase_add_test(crash, test_crash_consistency);
	suite_add_tcase(s, crash);

	tcase_add_checked_fixture(faults, e2e_setup_bare, e2e_teardown);
	tcase_set_timeout(faults, 60);
	tcase_add_test(faults, test_disk_full);
	tcase_add_test(faults, test_read_only_fs);
	suite_add_tcase(s, faults);

	/* Its own case: 60 s of flood, about 70 s in all. */
	tcase_add_checked_fixture(flood, e2e_setup_bare, e2e_teardown);
	tcase_set_timeout(flood, 150);
	tcase_add_test(flood, test_flood);
	suite_add_tcase(s, flood);
	return s;
}
