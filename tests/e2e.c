/*
 * e2e.c - what the suites that run the real daemon share (e2e.h): its
 * start and stop, its configuration, signed requests to it, and looks at
 * its database and log.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "antom.h"
#include "client.h"
#include "e2e.h"
#include "pg.h"
#include "sign.h"
#include "suites.h"

struct e2e_daemon e2e;
const char *e2e_notify_socket;
int e2e_with_metrics;

void
e2e_teardown(void)
{
	char cmd[160];

	if (e2e.pid > 0) {
		kill(e2e.pid, SIGKILL);
		waitpid(e2e.pid, NULL, 0);
		e2e.pid = 0;
	}
	snprintf(cmd, sizeof(cmd), "umount -l %s/fs 2>/dev/null", e2e.dir);
	if (system(cmd) != 0) {
		/* not mounted: the usual case */
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", e2e.dir);
	ck_assert_int_eq(system(cmd), 0);
}

void
e2e_setup_dirs(const char *tag)
{
	snprintf(e2e.dir, sizeof(e2e.dir), "/tmp/antomd-%s-XXXXXX", tag);
	ck_assert_ptr_nonnull(mkdtemp(e2e.dir));
	snprintf(e2e.conf, sizeof(e2e.conf), "%s/antomd.conf", e2e.dir);
	snprintf(e2e.db, sizeof(e2e.db), "%s/antomd.db", e2e.dir);
	snprintf(e2e.log, sizeof(e2e.log), "%s/antomd.log", e2e.dir);
	e2e.pid = 0;
}

const char *
e2e_bin(char *buf, size_t cap, const char *name)
{
	return test_env_path(buf, cap, "ANTOMD_BIN", "bin", name);
}

/* The real 2019 notification's Antom key, from the vector file. */
char *
e2e_real_antom_key(void)
{
	char path[512];
	json_t *root, *v;
	char *key;

	root = json_load_file(test_path(path, sizeof(path),
	    "vectors/real-antom-2019.json"), 0, NULL);
	ck_assert_ptr_nonnull(root);
	v = json_object_get(json_array_get(root, 0), "antom_public_key");
	key = strdup(json_string_value(v));
	json_decref(root);
	return key;
}

int
e2e_bind_loopback(int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 128), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

void
e2e_exec_daemon(void)
{
	char path[512], vlog[160];

	e2e_bin(path, sizeof(path), "antomd");
	if (getenv("ANTOMD_VALGRIND") != NULL) {
		/* make valgrind: the same pid, so LISTEN_PID holds. */
		snprintf(vlog, sizeof(vlog), "--log-file=%s/valgrind.log",
		    e2e.dir);
		execl("/usr/bin/valgrind", "valgrind", "--quiet",
		    "--error-exitcode=99", "--leak-check=full",
		    "--errors-for-leak-kinds=definite", vlog, path, "-c",
		    e2e.conf, (char *)NULL);
		_exit(127);
	}
	execl(path, "antomd", "-c", e2e.conf, (char *)NULL);
	_exit(127);
}

void
e2e_start_daemon(void)
{
	sigset_t term, old;
	int fd, port, mfd = -1, mport;
	pid_t pid;

	fd = e2e_bind_loopback(&port);
	snprintf(e2e.port, sizeof(e2e.port), "%d", port);
	if (e2e_with_metrics) {
		mfd = e2e_bind_loopback(&mport);
		snprintf(e2e.metrics_port, sizeof(e2e.metrics_port), "%d",
		    mport);
	}
	/*
	 * Until exec the child is a copy of this runner, with Check's SIGTERM
	 * handler, which would pass a SIGTERM on to the whole process group:
	 * keep SIGTERM blocked across fork and exec (antomd blocks it anyway
	 * and takes it with sigtimedwait), and reset the handler in the child.
	 */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	sigprocmask(SIG_BLOCK, &term, &old);
	pid = fork();
	if (pid == 0) {
		char pidbuf[16];

		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		int logfd = open(e2e.log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (logfd < 0 || dup2(logfd, 2) < 0 || dup2(fd, 3) < 0)
			_exit(127);
		if (fd != 3)
			close(fd);
		if (mfd >= 0 && (dup2(mfd, 4) < 0 || (mfd != 4 && close(mfd))))
			_exit(127);
		snprintf(pidbuf, sizeof(pidbuf), "%d", (int)getpid());
		setenv("LISTEN_FDS", mfd >= 0 ? "2" : "1", 1);
		setenv("LISTEN_PID", pidbuf, 1);
		if (mfd >= 0)
			setenv("LISTEN_FDNAMES", "antomd.socket:metrics", 1);
		else
			unsetenv("LISTEN_FDNAMES");
		if (e2e_notify_socket != NULL) {
			setenv("NOTIFY_SOCKET", e2e_notify_socket, 1);
			setenv("WATCHDOG_USEC", "400000", 1);
			setenv("WATCHDOG_PID", pidbuf, 1);
		}
		e2e_exec_daemon();
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	ck_assert_int_ge(pid, 0);
	/* Only the daemon holds the socket now: its exit refuses connections. */
	close(fd);
	if (mfd >= 0)
		close(mfd);
	e2e.pid = pid;
}

/* SIGTERM and wait; returns the exit status, or -1 when killed by a signal. */
int
e2e_stop_daemon(void)
{
	int status;

	if (e2e.pid <= 0)
		return 0;
	kill(e2e.pid, SIGTERM);
	ck_assert_int_eq(waitpid(e2e.pid, &status, 0), e2e.pid);
	e2e.pid = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 99) {
		char vlog[160];
		char *text;

		snprintf(vlog, sizeof(vlog), "%s/valgrind.log", e2e.dir);
		text = test_slurp(vlog, NULL);
		fprintf(stderr, "valgrind found errors in antomd:\n%s", text);
		free(text);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

EVP_PKEY *
e2e_test_key(void)
{
	static EVP_PKEY *key;
	char path[512], err[256];

	if (key == NULL) {
		key = sign_key_load(test_path(path, sizeof(path),
		    "vectors/test-antom-private.pem"), err, sizeof(err));
		ck_assert_msg(key != NULL, "%s", err);
	}
	return key;
}

/* antomd's database line: the PostgreSQL conninfo, or the file. */
static const char *
e2e_database(void)
{
	return e2e.pgdb[0] != '\0' ? e2e.pgdb : e2e.db;
}

/*
 * The first value of sql on the PostgreSQL database into out: 1, 0 when
 * NULL, -1 when no row (as test_sql_int() reads SQLite).
 */
static int
e2e_pg_value(const char *sql, char *out, size_t cap)
{
	PGconn *c = pg_connect_to(e2e.pgdb);
	PGresult *r;
	int rc = -1;

	/* Read-only, as the SQLite connection is. */
	pg_exec(c, "SET default_transaction_read_only = on");
	r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
	    PQerrorMessage(c));
	out[0] = '\0';
	if (PQntuples(r) > 0 && PQnfields(r) > 0) {
		rc = !PQgetisnull(r, 0, 0);
		snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
	}
	PQclear(r);
	PQfinish(c);
	return rc;
}

long long
e2e_q_int(const char *sql)
{
	char v[64];
	int rc;

	if (e2e.pgdb[0] == '\0')
		return test_sql_int(e2e.db, sql);
	rc = e2e_pg_value(sql, v, sizeof(v));
	return rc < 0 ? -1 : atoll(v);
}

const char *
e2e_q_text(const char *sql)
{
	static char out[512];

	if (e2e.pgdb[0] == '\0')
		return test_sql_text(e2e.db, sql);
	e2e_pg_value(sql, out, sizeof(out));
	return out;
}

int
e2e_try_exec(const char *sql)
{
	sqlite3 *db;
	PGconn *c;
	PGresult *r;
	int rc = -1;

	if (e2e.pgdb[0] != '\0') {
		c = PQconnectdb(e2e.pgdb);
		if (c != NULL && PQstatus(c) == CONNECTION_OK) {
			r = PQexec(c, sql);
			if (PQresultStatus(r) == PGRES_COMMAND_OK ||
			    PQresultStatus(r) == PGRES_TUPLES_OK)
				rc = 0;
			else
				fprintf(stderr, "%s: %s", sql,
				    PQerrorMessage(c));
			PQclear(r);
		}
		PQfinish(c);
		return rc;
	}
	if (sqlite3_open(e2e.db, &db) == SQLITE_OK) {
		sqlite3_busy_timeout(db, 5000);
		if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
			rc = 0;
		else
			fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
	}
	sqlite3_close(db);
	return rc;
}

void
e2e_exec(const char *sql)
{
	ck_assert_msg(e2e_try_exec(sql) == 0, "%s failed", sql);
}

/* The PostgreSQL test case. */

/* Whether the case's cluster runs (the unchecked setup started it). */
static int e2e_pg_up;

static void
e2e_pg_cluster_start(void)
{
	pg_start(1);
	e2e_pg_up = 1;
}

static void
e2e_pg_cluster_stop(void)
{
	pg_teardown();
	e2e_pg_up = 0;
}

/*
 * A database of this test's own on the case's cluster, named after the
 * test's process (each test is a fork of its own).  The checks the suites
 * share are written in SQLite's dialect, where PostgreSQL 15 has no
 * group_concat(): the database gets one, text only, with SQLite's ","
 * by default, so that the same check reads both engines.  antomd neither
 * sees nor needs it.
 */
static void
e2e_pg_database(void)
{
	static const char shim[] =
	    "CREATE FUNCTION group_concat_step(a text, v text, sep text)"
	    " RETURNS text LANGUAGE sql IMMUTABLE AS $$SELECT CASE"
	    " WHEN v IS NULL THEN a WHEN a IS NULL THEN v"
	    " ELSE a || sep || v END$$;"
	    "CREATE FUNCTION group_concat_step(a text, v text) RETURNS text"
	    " LANGUAGE sql IMMUTABLE"
	    " AS $$SELECT group_concat_step(a, v, ',')$$;"
	    "CREATE AGGREGATE group_concat(text)"
	    " (SFUNC = group_concat_step, STYPE = text);"
	    "CREATE AGGREGATE group_concat(text, text)"
	    " (SFUNC = group_concat_step, STYPE = text);";
	char name[32], sql[64];
	PGconn *c;

	ck_assert_msg(e2e_pg_up, "the case's PostgreSQL cluster is not up");
	snprintf(name, sizeof(name), "e2e_%ld", (long)getpid());
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	pg_sql(0, sql);
	/* pg.uri names every node; the last dbname is the one used. */
	snprintf(e2e.pgdb, sizeof(e2e.pgdb), "%s dbname=%s", pg.uri, name);
	c = pg_connect_to(e2e.pgdb);
	pg_exec(c, shim);
	PQfinish(c);
}

TCase *
e2e_pg_tcase(const char *suite, void (*setup)(void),
    void (*teardown)(void))
{
	char name[64];
	TCase *tc;

	snprintf(name, sizeof(name), "%s case pg", suite);
	if (!pg_available(name))
		return NULL;
	tc = tcase_create("pg");
	tcase_add_unchecked_fixture(tc, e2e_pg_cluster_start,
	    e2e_pg_cluster_stop);
	tcase_add_checked_fixture(tc, e2e_pg_database, NULL);
	tcase_add_checked_fixture(tc, setup, teardown);
	return tc;
}

/* The configuration, and the fixtures. */

const char *e2e_conf_clients;

void
e2e_write_conf(const char *extra)
{
	char pem[512], line[640];
	char *real = e2e_real_antom_key();
	FILE *f = fopen(e2e.conf, "w");

	ck_assert_ptr_nonnull(f);
	snprintf(line, sizeof(line), "client %s 1 %s", SANDBOX,
	    test_path(pem, sizeof(pem), "vectors/test-antom-public.pem"));
	fprintf(f, "# written by the e2e suites\n"
	    "listen 127.0.0.1:1\n"	/* unused: the socket is passed in */
	    "metrics_listen off\n"
	    "database %s\n"
	    "route /antom/notify\n"
	    "route /api/back\n"
	    "route /local/notify /public/prefix/notify\n"
	    "%s\n"
	    "client T_ALLPAY_1 1 %s\n"
	    "max_body_bytes %d\n"
	    "busy_timeout_ms 200\n"
	    "idle_timeout_s 5\n"
	    "shutdown_timeout_s 5\n"
	    "%s", e2e_database(), e2e_conf_clients != NULL ? e2e_conf_clients : line,
	    real, E2E_MAX_BODY, extra != NULL ? extra : "");
	fclose(f);
	free(real);
}

void
e2e_write_small_conf(const char *routes, const char *extra)
{
	char pem[512];
	FILE *f = fopen(e2e.conf, "w");

	ck_assert_ptr_nonnull(f);
	fprintf(f, "# written by the e2e suites\n"
	    "listen 127.0.0.1:1\n"
	    "metrics_listen off\n"
	    "database %s\n"
	    "%s"
	    "client %s 1 %s\n"
	    "busy_timeout_ms 200\n"
	    "%s", e2e_database(), routes != NULL ? routes : "route /antom/notify\n",
	    SANDBOX,
	    test_path(pem, sizeof(pem), "vectors/test-antom-public.pem"),
	    extra != NULL ? extra : "");
	fclose(f);
}

void
e2e_setup_bare(void)
{
	e2e_setup_dirs("e2e");
}

void
e2e_setup(void)
{
	e2e_setup_bare();
	e2e_write_conf(NULL);
	e2e_start_daemon();
}

/* Requests to the daemon on e2e.port. */

int
e2e_send(const char *port, const char *req, size_t len,
    struct client_response *resp)
{
	char err[256] = "";

	memset(resp, 0, sizeof(*resp));
	ck_assert_msg(client_raw("127.0.0.1", port, req, len, E2E_TIMEOUT_MS,
	    resp, err, sizeof(err)) == 0, "client_raw: %s", err);
	return resp->status;
}

int
e2e_post(const char *target, const char *client, const char *rtime,
    const char *sig, const char *body, struct client_response *resp)
{
	char *req;
	size_t len;
	FILE *f = open_memstream(&req, &len);
	int status;

	fprintf(f, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Content-Type: application/json\r\n", target);
	if (client != NULL)
		fprintf(f, "client-id: %s\r\n", client);
	if (rtime != NULL)
		fprintf(f, "request-time: %s\r\n", rtime);
	if (sig != NULL)
		fprintf(f, "signature: %s\r\n", sig);
	fprintf(f, "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
	    strlen(body), body);
	fclose(f);
	status = e2e_send(e2e.port, req, len, resp);
	free(req);
	return status;
}

void
e2e_sign_rt1(const char *body, char hdr[SIGN_HEADER_MAX])
{
	char err[256];

	if (sign_request(e2e_test_key(),
	    &(struct verify_content){ "/antom/notify", SANDBOX, "1",
	    (const unsigned char *)body, strlen(body) }, NULL, hdr,
	    SIGN_HEADER_MAX, err, sizeof(err)) != 0) {
		fprintf(stderr, "sign: %s\n", err);
		abort();	/* also from client threads, where ck_assert is not */
	}
}

char *
e2e_signed_request(const char *target, const char *signed_path,
    const char *body, const char *extra, int tamper)
{
	char hdr[SIGN_HEADER_MAX], err[256], *req;
	const char *rtime = E2E_RTIME;

	ck_assert_msg(sign_request(e2e_test_key(),
	    &(struct verify_content){ signed_path, SANDBOX, rtime,
	    (const unsigned char *)body, strlen(body) }, NULL, hdr,
	    sizeof(hdr), err, sizeof(err)) == 0, "sign: %s", err);
	ck_assert_int_gt(asprintf(&req, "POST %s HTTP/1.1\r\nHost: localhost\r\n"
	    "Content-Type: application/json\r\nclient-id: %s\r\n"
	    "request-time: %s\r\nsignature: %s\r\n%sContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n%s%s", target, SANDBOX, rtime, hdr,
	    extra != NULL ? extra : "", strlen(body) + (tamper ? 1 : 0), body,
	    tamper ? " " : ""), 0);
	return req;
}

int
e2e_signed_post(const char *target, const char *signed_path, const char *body,
    struct client_response *resp)
{
	char *req = e2e_signed_request(target, signed_path, body, NULL, 0);
	int status = e2e_send(e2e.port, req, strlen(req), resp);

	free(req);
	return status;
}

void
e2e_deliver_ok(const char *body)
{
	struct client_response r;

	ck_assert_int_eq(e2e_signed_post("/antom/notify", "/antom/notify", body,
	    &r), 200);
	ck_assert_str_eq(r.body, ANTOM_SUCCESS_BODY);
	client_response_free(&r);
}

void
e2e_expect_status(int got, int want, struct client_response *r)
{
	ck_assert_msg(got == want, "status %d, want %d; body %s", got, want,
	    r->body != NULL ? r->body : "(none)");
	client_response_free(r);
}

int
e2e_thread_deliver(const char *prid)
{
	return e2e_thread_deliver_to(e2e.port, prid);
}

int
e2e_thread_deliver_to(const char *port, const char *prid)
{
	struct client_response r;
	char hdr[SIGN_HEADER_MAX], err[256], *req;
	char *b = e2e_pay_body(prid, "PAYMENT_RESULT", "S");
	size_t n;
	FILE *f;
	int rc;

	e2e_sign_rt1(b, hdr);
	f = open_memstream(&req, &n);
	fprintf(f, "POST /antom/notify HTTP/1.1\r\nHost: x\r\n"
	    "client-id: %s\r\nrequest-time: 1\r\nsignature: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
	    SANDBOX, hdr, strlen(b), b);
	fclose(f);
	memset(&r, 0, sizeof(r));
	if (client_raw("127.0.0.1", port, req, n, E2E_TIMEOUT_MS, &r, err,
	    sizeof(err)) != 0)
		rc = -1;
	else
		rc = r.status == 200 && strcmp(r.body, ANTOM_SUCCESS_BODY) == 0;
	client_response_free(&r);
	free(req);
	free(b);
	return rc;
}

/* Bodies, and the log. */

char *
e2e_pay_body(const char *prid, const char *type, const char *rs)
{
	char *b;

	ck_assert_int_gt(asprintf(&b, "{\"notifyType\":\"%s\",\"result\":"
	    "{\"resultCode\":\"SUCCESS\",\"resultStatus\":\"%s\","
	    "\"resultMessage\":\"success\"},\"paymentRequestId\":\"%s\","
	    "\"paymentId\":\"P-%s\",\"paymentAmount\":{\"value\":\"4200\","
	    "\"currency\":\"SGD\"},\"paymentResultInfo\":{\"cardBrand\":\"VISA\","
	    "\"threeDSResult\":{\"cavv\":\"cavvSecret\"}}}", type, rs, prid,
	    prid), 0);
	return b;
}

char *
e2e_log_line(const char *s)
{
	char *log = test_slurp(e2e.log, NULL), *line, *eol, *out;
	int i;

	/* The log thread writes it a moment after the answer (log.h). */
	for (i = 0; i < 500 && (line = strstr(log, s)) == NULL; i++) {
		free(log);
		usleep(10000);
		log = test_slurp(e2e.log, NULL);
	}
	ck_assert_msg(line != NULL, "%s not logged:\n%s", s, log);
	while (line > log && line[-1] != '\n')
		line--;
	if ((eol = strchr(line, '\n')) != NULL)
		*eol = '\0';
	out = strdup(line);
	free(log);
	return out;
}

int
e2e_notify_bind(char *path, size_t cap)
{
	struct sockaddr_un sun;
	int fd;

	snprintf(path, cap, "%s/notify.sock", e2e.dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	ck_assert_int_ge(fd = socket(AF_UNIX, SOCK_DGRAM, 0), 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

void
e2e_notify_collect(int fd, int ms, char *out, size_t cap)
{
	uint64_t end;
	struct timespec ts;
	size_t len = strlen(out);

	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 +
	    (uint64_t)ms;
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		char buf[512];
		ssize_t n;
		uint64_t now;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
		if (now >= end)
			break;
		if (poll(&pfd, 1, (int)(end - now)) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (len + (size_t)n + 2 < cap) {
			memcpy(out + len, buf, (size_t)n);
			len += (size_t)n;
			out[len++] = '|';
			out[len] = '\0';
		}
	}
}
