/*
 * check_e2e_lifecycle.c - the real antomd from start to stop: antomd -n
 * and the exit codes at start, listening on a unix socket (and a second
 * antomd kept off it), systemd's notify protocol and watchdog, SIGTERM
 * under traffic and with a request stuck on a lock.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "antom.h"
#include "client.h"
#include "sign.h"
#include "e2e.h"
#include "suites.h"

/* A request stuck behind another process's lock, for the shutdown test. */
struct stuck {
	char	*body;
	int	 status;
};

static void *
stuck_run(void *arg)
{
	struct stuck *st = arg;
	struct client_response r;

	st->status = e2e_signed_post("/antom/notify", "/antom/notify", st->body,
	    &r);
	client_response_free(&r);
	return NULL;
}

/*
 * SIGTERM while a request waits on a database locked by someone else:
 * after shutdown_timeout_s the daemon stops waiting, answers 503 (never
 * SUCCESS: nothing was committed) and exits 0, well before systemd's stop
 * timeout would kill it.
 */
START_TEST(test_shutdown_deadline)
{
	struct stuck st = { e2e_pay_body("PR-STUCK", "PAYMENT_RESULT", "S"),
	    0 };
	pthread_t th;
	sqlite3 *other;
	time_t t0;

	ck_assert_int_eq(e2e_stop_daemon(), 0);
	e2e_write_conf("busy_timeout_ms 60000\nshutdown_timeout_s 1\n");
	e2e_start_daemon();
	e2e_deliver_ok("{\"warm\":\"up\"}");
	ck_assert_int_eq(sqlite3_open(e2e.db, &other), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(pthread_create(&th, NULL, stuck_run, &st), 0);
	usleep(300 * 1000);
	t0 = time(NULL);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	ck_assert_int_le(time(NULL) - t0, 4);
	pthread_join(th, NULL);
	ck_assert_int_eq(st.status, 503);
	ck_assert_int_eq(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(other);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments"), 0);
	free(st.body);
}
END_TEST


/*
 * systemd's notify protocol: READY=1 once serving, STATUS= lines, and
 * WATCHDOG=1 only while the writer makes progress: a database locked
 * under a request stops the pings, its release brings them back.
 * STOPPING=1 on SIGTERM.
 */
START_TEST(test_sd_notify_watchdog)
{
	struct stuck st = { e2e_pay_body("PR-WD", "PAYMENT_RESULT", "S"), 0 };
	char path[100], *msgs = calloc(1, 65536);
	pthread_t th;
	sqlite3 *other;
	int fd;

	ck_assert_int_eq(e2e_stop_daemon(), 0);
	fd = e2e_notify_bind(path, sizeof(path));
	e2e_notify_socket = path;
	e2e_write_conf("busy_timeout_ms 60000\nshutdown_timeout_s 1\n");
	e2e_start_daemon();
	e2e_notify_socket = NULL;
	e2e_deliver_ok("{\"warm\":\"up\"}");
	e2e_notify_collect(fd, 800, msgs, 65536);
	ck_assert_ptr_nonnull(strstr(msgs, "READY=1"));
	ck_assert_ptr_nonnull(strstr(msgs, "STATUS=acknowledged=1 "));
	ck_assert_ptr_nonnull(strstr(msgs, "WATCHDOG=1"));

	/* The writer stuck on a lock: no ping for a whole second. */
	ck_assert_int_eq(sqlite3_open(e2e.db, &other), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(pthread_create(&th, NULL, stuck_run, &st), 0);
	usleep(500 * 1000);
	/* Drop what was sent before the batch was half a period old. */
	e2e_notify_collect(fd, 300, msgs, 65536);
	msgs[0] = '\0';
	e2e_notify_collect(fd, 1000, msgs, 65536);
	ck_assert_msg(strstr(msgs, "WATCHDOG=1") == NULL, "pinged while stuck: "
	    "%s", msgs);
	ck_assert_ptr_nonnull(strstr(msgs, "STATUS="));

	/* Released: the request commits and the pings come back. */
	ck_assert_int_eq(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(other);
	pthread_join(th, NULL);
	ck_assert_int_eq(st.status, 200);
	msgs[0] = '\0';
	e2e_notify_collect(fd, 800, msgs, 65536);
	ck_assert_ptr_nonnull(strstr(msgs, "WATCHDOG=1"));

	msgs[0] = '\0';
	kill(e2e.pid, SIGTERM);
	e2e_notify_collect(fd, 500, msgs, 65536);
	ck_assert_ptr_nonnull(strstr(msgs, "STOPPING=1"));
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	close(fd);
	free(msgs);
	free(st.body);
}
END_TEST

/*
 * A database of an older schema is migrated at start, in one
 * transaction; on a large one that takes minutes (docs/migrations.md,
 * version 9), longer than systemd's start timeout.  Meanwhile antomd
 * says so: EXTEND_TIMEOUT_USEC and a STATUS before READY=1, and the log
 * says from which version and how long it took.  The database is
 * tests/data's of schema 7, as the release before wrote it.
 */
START_TEST(test_sd_notify_migration)
{
	char path[100], src[256], cmd[1024], *msgs = calloc(1, 65536), *log;
	const char *extend, *ready;
	int fd;

	ck_assert_int_eq(e2e_stop_daemon(), 0);
	snprintf(cmd, sizeof(cmd), "rm -f %s %s-wal %s-shm && cp %s %s", e2e.db,
	    e2e.db, e2e.db, test_path(src, sizeof(src),
	    "data/antomd-schema-v7.db"), e2e.db);
	ck_assert_int_eq(system(cmd), 0);
	fd = e2e_notify_bind(path, sizeof(path));
	e2e_notify_socket = path;
	e2e_start_daemon();
	e2e_notify_socket = NULL;
	e2e_deliver_ok("{\"warm\":\"up\"}");
	e2e_notify_collect(fd, 800, msgs, 65536);
	extend = strstr(msgs, "EXTEND_TIMEOUT_USEC=300000000");
	ready = strstr(msgs, "READY=1");
	ck_assert_msg(extend != NULL && ready != NULL && extend < ready, "%s",
	    msgs);
	ck_assert_ptr_nonnull(strstr(msgs,
	    "STATUS=migrating the database to schema 9"));
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	ck_assert_int_eq(e2e_q_int("PRAGMA user_version"), 9);
	log = test_slurp(e2e.log, NULL);
	ck_assert_ptr_nonnull(strstr(log, "migrating from schema 7 to 9"));
	ck_assert_ptr_nonnull(strstr(log, "migrated from schema 7 to 9 in "));
	free(log);
	close(fd);
	free(msgs);
}
END_TEST

/*
 * SIGTERM while 64 connections send: exit 0, every acknowledged one
 * stored, and every request answered or its connection closed (a hang
 * would end in the test timeout).
 */
#define TERM_THREADS	64
#define TERM_MAX	400

struct term_client {
	int	id;
	int	acked[TERM_MAX];
	int	nacked;
	int	sent;
};

static void *
term_client_run(void *arg)
{
	struct term_client *c = arg;
	char prid[32];
	int i, rc;

	for (i = 0; i < TERM_MAX; i++) {
		snprintf(prid, sizeof(prid), "T%d-%d", c->id, i);
		c->sent++;
		if ((rc = e2e_thread_deliver(prid)) == -1)
			break;	/* the daemon has stopped accepting */
		if (rc == 1) {
			c->acked[c->nacked] = i;
			__atomic_store_n(&c->nacked, c->nacked + 1,
			    __ATOMIC_RELEASE);
		}
	}
	return NULL;
}

START_TEST(test_sigterm_under_traffic)
{
	pthread_t th[TERM_THREADS];
	struct term_client *c = calloc(TERM_THREADS, sizeof(*c));
	int i, j, total = 0;
	char sql[128];

	(void)e2e_test_key();	/* load once, before the threads */
	for (i = 0; i < TERM_THREADS; i++) {
		c[i].id = i;
		ck_assert_int_eq(pthread_create(&th[i], NULL, term_client_run,
		    &c[i]), 0);
	}
	/* Traffic flowing (slow under valgrind), then SIGTERM in its midst. */
	for (j = 0; j < 400; j++) {
		for (i = 0, total = 0; i < TERM_THREADS; i++)
			total += __atomic_load_n(&c[i].nacked, __ATOMIC_RELAXED);
		if (total >= 20)
			break;
		usleep(50 * 1000);
	}
	usleep(200 * 1000);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	for (i = 0; i < TERM_THREADS; i++)
		pthread_join(th[i], NULL);
	total = 0;
	for (i = 0; i < TERM_THREADS; i++) {
		for (j = 0; j < c[i].nacked; j++) {
			snprintf(sql, sizeof(sql), "SELECT count(*) FROM payments "
			    "WHERE payment_request_id = 'T%d-%d'", i, c[i].acked[j]);
			ck_assert_msg(e2e_q_int(sql) == 1, "acknowledged T%d-%d lost",
			    i, c[i].acked[j]);
		}
		total += c[i].nacked;
	}
	ck_assert_int_gt(total, 0);
	ck_assert_str_eq(e2e_q_text("PRAGMA integrity_check"), "ok");
	free(c);
}
END_TEST

/* listen unix:PATH, for a reverse proxy on the same host. */
START_TEST(test_unix_socket)
{
	char sock[100], line[160], path[512], hdr[SIGN_HEADER_MAX];
	char *b = e2e_pay_body("PR-UNIX", "PAYMENT_RESULT", "S"), *req,
	    resp[512];
	struct sockaddr_un sun;
	struct stat sb;
	int fd, i;
	ssize_t n;
	size_t off = 0;
	pid_t pid;

	snprintf(sock, sizeof(sock), "%s/antomd.sock", e2e.dir);
	snprintf(line, sizeof(line), "listen unix:%s\n", sock);
	e2e_write_conf(line);
	pid = fork();
	if (pid == 0) {
		int logfd = open(e2e.log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		dup2(logfd, 2);
		unsetenv("LISTEN_FDS");
		e2e_exec_daemon();
	}
	e2e.pid = pid;
	/*
	 * 30 s at most: under make valgrind the daemon takes seconds.  The
	 * socket exists from bind() and gets its mode from chmod() just
	 * after (before listen(), so nobody can connect in between): wait
	 * for the mode, not only the name.
	 */
	for (i = 0; i < 1200 && (stat(sock, &sb) != 0 ||
	    (sb.st_mode & 0777) != 0660); i++)
		usleep(25 * 1000);
	ck_assert_int_eq(stat(sock, &sb), 0);
	ck_assert(S_ISSOCK(sb.st_mode));
	ck_assert_int_eq(sb.st_mode & 0777, 0660);

	e2e_sign_rt1(b, hdr);
	ck_assert_int_gt(asprintf(&req, "POST /antom/notify HTTP/1.1\r\n"
	    "Host: x\r\nclient-id: %s\r\nrequest-time: 1\r\nsignature: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", SANDBOX, hdr,
	    strlen(b), b), 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (off < sizeof(resp) - 1 &&
	    (n = read(fd, resp + off, sizeof(resp) - 1 - off)) > 0)
		off += (size_t)n;
	resp[off] = '\0';
	close(fd);
	ck_assert_msg(strncmp(resp, "HTTP/1.1 200", 12) == 0, "%s", resp);
	ck_assert_ptr_nonnull(strstr(resp, ANTOM_SUCCESS_BODY));
	/* A second antomd never takes a live daemon's socket: exit 4. */
	{
		char cmd[1024];

		e2e_bin(path, sizeof(path), "antomd");
		snprintf(cmd, sizeof(cmd), "LISTEN_FDS= %s -c %s 2>&1 | grep -q "
		    "'another process is listening on it'; exit $(( $? ? 9 : "
		    "0 ))", path, e2e.conf);
		ck_assert_int_eq(system(cmd), 0);
		snprintf(cmd, sizeof(cmd), "LISTEN_FDS= %s -c %s 2>/dev/null",
		    path, e2e.conf);
		ck_assert_int_eq(WEXITSTATUS(system(cmd)), 4);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun,
		    sizeof(sun)), 0);
		close(fd);
	}
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments"), 1);
	/* A clean stop takes its socket file away. */
	ck_assert_int_ne(stat(sock, &sb), 0);
	free(req);
	free(b);
}
END_TEST

/* Run antomd -n; returns its exit status and its output in out. */
static int
run_check(const char *conf, char *out, size_t outcap)
{
	char cmd[1024], path[512];
	FILE *p;
	size_t n;
	int st;

	snprintf(cmd, sizeof(cmd), "%s -n -c %s 2>&1",
	    e2e_bin(path, sizeof(path), "antomd"), conf);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	n = fread(out, 1, outcap - 1, p);
	out[n] = '\0';
	st = pclose(p);
	return WEXITSTATUS(st);
}

static void
append_conf(const char *line)
{
	FILE *f = fopen(e2e.conf, "a");

	ck_assert_ptr_nonnull(f);
	fputs(line, f);
	fclose(f);
}

START_TEST(test_check_config)
{
	char out[2048], want[256];

	e2e_write_conf(NULL);
	ck_assert_int_eq(run_check(e2e.conf, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "configuration OK\n");

	append_conf("frobnicate yes\n");
	ck_assert_int_eq(run_check(e2e.conf, out, sizeof(out)), 2);
	snprintf(want, sizeof(want), "%s:14: unknown directive", e2e.conf);
	ck_assert_msg(strstr(out, want) != NULL, "got: %s", out);

	e2e_write_conf("client BAD_KEY 1 MIIBnotakey\n");
	ck_assert_int_eq(run_check(e2e.conf, out, sizeof(out)), 3);
	ck_assert_ptr_nonnull(strstr(out, ":14: client BAD_KEY key 1"));

	e2e_write_conf("database /nonexistent-antomd-dir/x.db\n");
	ck_assert_int_eq(run_check(e2e.conf, out, sizeof(out)), 5);
	ck_assert_ptr_nonnull(strstr(out, "/nonexistent-antomd-dir"));
}
END_TEST

START_TEST(test_exit_codes_at_start)
{
	char path[512], line[64];
	int fd, port, st;
	pid_t pid;

	/* Port taken by someone else: exit 4. */
	fd = e2e_bind_loopback(&port);
	snprintf(line, sizeof(line), "listen 127.0.0.1:%d\n", port);
	e2e_write_conf(line);
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(devnull, 2);
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		execl(e2e_bin(path, sizeof(path), "antomd"), "antomd", "-c", e2e.conf,
		    (char *)NULL);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(st), 4);
	close(fd);

	/* Database that cannot be opened: exit 5. */
	e2e_write_conf("database /nonexistent-antomd-dir/x.db\n");
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(devnull, 2);
		execl(e2e_bin(path, sizeof(path), "antomd"), "antomd", "-c", e2e.conf,
		    (char *)NULL);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(st), 5);
}
END_TEST

Suite *
e2e_lifecycle_suite(void)
{
	Suite *s = suite_create("e2e_lifecycle");
	TCase *tc = tcase_create("daemon");
	TCase *cf = tcase_create("config");

	tcase_add_checked_fixture(tc, e2e_setup, e2e_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_sigterm_under_traffic);
	tcase_add_test(tc, test_shutdown_deadline);
	tcase_add_test(tc, test_sd_notify_watchdog);
	tcase_add_test(tc, test_sd_notify_migration);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(cf, e2e_setup_bare, e2e_teardown);
	tcase_set_timeout(cf, 30);
	tcase_add_test(cf, test_check_config);
	tcase_add_test(cf, test_unix_socket);
	tcase_add_test(cf, test_exit_codes_at_start);
	suite_add_tcase(s, cf);
	return s;
}
