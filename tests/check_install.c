/*
 * check_install.c - antomd as it is installed: make install into a
 * DESTDIR and make uninstall, the systemd units (tests/systemd-check),
 * a merchant application reading the database from the service's group,
 * and the shipped nginx example (conf/nginx/antomd.conf) run by Debian's
 * real nginx, over TLS, in front of the real daemon.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pwd.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "antom.h"
#include "client.h"
#include "e2e.h"
#include "suites.h"

#define NGINX		"/usr/sbin/nginx"
/* The public path nginx serves, signed by Antom, and antomd's own. */
#define NGINX_ROUTES	"route /antom/notify /payments/antom/notify\n"

/*
 * Run sql as user nobody, group nogroup, read-only (or, from
 * writer_query, read-write with a busy timeout); returns the output.
 */
static const char *
group_query(const char *sql, int write)
{
	static char out[256];
	char cmd[1024];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "setpriv --reuid=nobody --regid=nogroup "
	    "--clear-groups sqlite3 -cmd '.timeout 5000' 'file:%s%s' \"%s\""
	    " 2>&1", e2e.db, write ? "" : "?mode=ro", sql);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	pclose(p);
	return out;
}

static const char *
reader_query(const char *sql)
{
	return group_query(sql, 0);
}

/*
 * As systemd lays it out: StateDirectory 0750 of the service's group
 * (here nogroup), the database in it.
 */
static void
state_dir(void)
{
	char state[96];

	snprintf(state, sizeof(state), "%s/state", e2e.dir);
	ck_assert_int_eq(chmod(e2e.dir, 0711), 0);
	ck_assert_int_eq(mkdir(state, 0750), 0);
	ck_assert_int_eq(chown(state, 0, 65534), 0);
	ck_assert_int_eq(chmod(state, 02750), 0);
	snprintf(e2e.db, sizeof(e2e.db), "%s/antomd.db", state);
}

/*
 * As root only (else say so and return 0): the state directory, antomd
 * on it, and prid's payment delivered.  1 when it runs.
 */
static int
group_daemon(const char *test, const char *prid)
{
	char *b;

	if (geteuid() != 0) {
		fprintf(stderr, "%s: needs root, not run\n", test);
		return 0;
	}
	state_dir();
	e2e_write_conf(NULL);
	e2e_start_daemon();
	b = e2e_pay_body(prid, "PAYMENT_RESULT", "S");
	e2e_deliver_ok(b);
	free(b);
	return 1;
}

/* The mode bits of the database file with this suffix ("", "-wal" ...). */
static int
db_mode(const char *suffix)
{
	char path[600];
	struct stat sb;

	snprintf(path, sizeof(path), "%s%s", e2e.db, suffix);
	ck_assert_int_eq(stat(path, &sb), 0);
	return (int)(sb.st_mode & 0777);
}

/*
 * A merchant application running as another user in the daemon's group
 * reads the database while antomd writes and after it stopped, and can
 * neither write it nor is anyone else let in (files are 0640).
 */
START_TEST(test_group_reader)
{
	struct stat sb;

	if (!group_daemon("test_group_reader", "PR-G"))
		return;
	ck_assert_str_eq(reader_query("SELECT status FROM payments"), "SUCCESS\n");
	ck_assert_int_eq(stat(e2e.db, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0640);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	ck_assert_str_eq(reader_query("SELECT count(*) FROM payments"), "1\n");
	ck_assert_ptr_nonnull(strstr(reader_query("DELETE FROM payments"),
	    "readonly"));
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments"), 1);
}
END_TEST

/*
 * With database_group_write, a merchant application in the daemon's group
 * records refund_links while antomd writes (README "Linking refunds"):
 * the files of a database made before gain the group's write bit, new
 * ones are made 0660, and others are still not let in.
 */
START_TEST(test_group_writer)
{
	char *b = e2e_pay_body("PR-W", "PAYMENT_RESULT", "S");
	const char *out;

	if (!group_daemon("test_group_writer", "PR-W")) {
		free(b);
		return;
	}
	ck_assert_int_eq(db_mode(""), 0640);
	ck_assert_ptr_nonnull(strstr(group_query("INSERT INTO refund_links"
	    " (client_id, refund_request_id, payment_request_id) VALUES"
	    " ('C', 'RR-0', 'PR-W')", 1), "readonly"));
	ck_assert_int_eq(e2e_stop_daemon(), 0);

	e2e_write_conf("database_group_write yes\n");
	e2e_start_daemon();
	/* Answered: the database is open (socket activation: no wait before). */
	e2e_deliver_ok(b);
	ck_assert_int_eq(db_mode(""), 0660);
	ck_assert_int_eq(db_mode("-wal"), 0660);
	ck_assert_int_eq(db_mode("-shm"), 0660);
	out = group_query("INSERT INTO refund_links (client_id,"
	    " refund_request_id, payment_request_id) VALUES ('"
	    SANDBOX "', 'RR-W', 'PR-W')", 1);
	ck_assert_msg(out[0] == '\0', "%s", out);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM refund_links"), 1);
	ck_assert_int_eq(e2e_stop_daemon(), 0);

	/* A database made with it on is made 0660. */
	ck_assert_int_eq(unlink(e2e.db), 0);
	{
		char path[600];

		snprintf(path, sizeof(path), "%s-wal", e2e.db);
		unlink(path);
		snprintf(path, sizeof(path), "%s-shm", e2e.db);
		unlink(path);
	}
	e2e_start_daemon();
	e2e_deliver_ok(b);
	ck_assert_int_eq(db_mode(""), 0660);
	ck_assert_int_eq(db_mode("-wal"), 0660);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	free(b);
}
END_TEST

/* The systemd units: verify, the hardening score, users and directories. */
START_TEST(test_systemd_units)
{
	char cmd[1024], tests[512];
	int st;

	snprintf(cmd, sizeof(cmd), "cd %s/.. && sh tests/systemd-check >&2",
	    test_path(tests, sizeof(tests), "."));
	st = system(cmd);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "tests/systemd-check failed (exit %d)", WEXITSTATUS(st));
}
END_TEST

/* make install into a DESTDIR lays out the whole tree. */
START_TEST(test_make_install)
{
	static const char *const files[] = {
		"/usr/sbin/antomd", "/usr/bin/antomctl",
		"/etc/antomd/antomd.conf",
		"/usr/lib/systemd/system/antomd.service",
		"/usr/lib/systemd/system/antomd.socket",
		"/usr/lib/sysusers.d/antomd.conf",
		"/usr/lib/tmpfiles.d/antomd.conf",
		"/usr/share/man/man8/antomd.8",
		"/usr/share/man/man5/antomd.conf.5",
		"/usr/share/man/man1/antomctl.1",
	};
	char cmd[1024], tests[512], path[512];
	char *unit, *conf;
	size_t i;

	snprintf(cmd, sizeof(cmd), "cd %s/.. && make -s install PREFIX=/usr "
	    "DESTDIR=%s/root >/dev/null", test_path(tests, sizeof(tests), "."),
	    e2e.dir);
	ck_assert_int_eq(system(cmd), 0);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/root%s", e2e.dir, files[i]);
		ck_assert_msg(access(path, F_OK) == 0, "%s not installed",
		    files[i]);
	}
	snprintf(path, sizeof(path), "%s/root/usr/lib/systemd/system/"
	    "antomd.service", e2e.dir);
	unit = test_slurp(path, NULL);
	ck_assert_ptr_nonnull(strstr(unit, "ExecStart=/usr/sbin/antomd -c "
	    "/etc/antomd/antomd.conf"));
	snprintf(path, sizeof(path), "%s/root/etc/antomd/antomd.conf", e2e.dir);
	conf = test_slurp(path, NULL);
	ck_assert_ptr_nonnull(strstr(conf, "\ndatabase /var/lib/antomd/antomd.db"));
	ck_assert_ptr_null(strstr(conf, "DEMO_CLIENT"));
	/* A configuration already there is the operator's: kept. */
	ck_assert_int_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "cd %s/.. && make -s uninstall PREFIX=/usr "
	    "DESTDIR=%s/root >/dev/null", tests, e2e.dir);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/root/usr/sbin/antomd", e2e.dir);
	ck_assert_int_ne(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/root/etc/antomd/antomd.conf", e2e.dir);
	ck_assert_int_eq(access(path, F_OK), 0);
	free(unit);
	free(conf);
}
END_TEST

/* nginx */

/* A self-signed certificate for localhost, made with the openssl CLI. */
static void
make_cert(const char *dir)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey rsa:2048 -nodes "
	    "-days 2 -subj /CN=localhost -keyout %s/tls.key -out %s/tls.pem "
	    ">/dev/null 2>&1", dir, dir);
	ck_assert_int_eq(system(cmd), 0);
}

/*
 * nginx.conf for the test: a main context of our own (no daemon, every
 * path in dir, our user), and the shipped example with only its listen
 * address, certificate paths and socket path replaced.
 */
static void
write_nginx_conf(const char *dir, int port, const char *sock)
{
	char path[512], *ex, *p, *line, *save = NULL;
	struct passwd *pw = getpwuid(getuid());
	FILE *f;

	ex = test_slurp(test_path(path, sizeof(path), "../conf/nginx/antomd.conf"),
	    NULL);
	snprintf(path, sizeof(path), "%s/nginx/antomd.conf", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (line = strtok_r(ex, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		for (p = line; *p == ' '; p++)
			;
		if (strcmp(p, "listen 443 ssl;") == 0)
			fprintf(f, "    listen 127.0.0.1:%d ssl;\n", port);
		else if (strcmp(p, "listen [::]:443 ssl;") == 0)
			continue;
		else if (strncmp(p, "ssl_certificate ", 16) == 0)
			fprintf(f, "    ssl_certificate %s/tls.pem;\n", dir);
		else if (strncmp(p, "ssl_certificate_key ", 20) == 0)
			fprintf(f, "    ssl_certificate_key %s/tls.key;\n", dir);
		else if (strcmp(p, "server unix:/run/antomd/antomd.sock;") == 0)
			fprintf(f, "    server unix:%s;\n", sock);
		else
			fprintf(f, "%s\n", line);
	}
	fclose(f);
	free(ex);

	snprintf(path, sizeof(path), "%s/nginx/nginx.conf", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	if (getuid() == 0)
		fprintf(f, "user %s;\n", pw != NULL ? pw->pw_name : "root");
	fprintf(f, "daemon off;\nmaster_process on;\nworker_processes 1;\n"
	    "pid %s/nginx/nginx.pid;\nerror_log %s/nginx/error.log info;\n"
	    "events { worker_connections 64; }\n"
	    "http {\n"
	    "    access_log %s/nginx/access.log;\n"
	    "    client_body_temp_path %s/nginx/body;\n"
	    "    proxy_temp_path %s/nginx/proxy;\n"
	    "    fastcgi_temp_path %s/nginx/fastcgi;\n"
	    "    uwsgi_temp_path %s/nginx/uwsgi;\n"
	    "    scgi_temp_path %s/nginx/scgi;\n"
	    "    include %s/nginx/antomd.conf;\n"
	    "}\n", dir, dir, dir, dir, dir, dir, dir, dir, dir);
	fclose(f);
}

/* A free loopback port (closed again: nginx binds it itself). */
static int
free_port(void)
{
	int port, fd = e2e_bind_loopback(&port);

	close(fd);
	return port;
}

/* One request over TLS; the status, with the body into body (cap). */
static int
tls_request(int port, const char *req, char *resp, size_t cap)
{
	struct sockaddr_in sin;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl;
	size_t off = 0;
	int fd, n, status = -1;

	ck_assert_ptr_nonnull(ctx);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, "localhost");
	ck_assert_int_eq(SSL_connect(ssl), 1);
	ck_assert_int_eq(SSL_write(ssl, req, (int)strlen(req)), (int)strlen(req));
	while (off < cap - 1 &&
	    (n = SSL_read(ssl, resp + off, (int)(cap - 1 - off))) > 0)
		off += (size_t)n;
	resp[off] = '\0';
	sscanf(resp, "HTTP/1.1 %d", &status);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return status;
}

static pid_t nginx_pid;

static void
nginx_teardown(void)
{
	if (nginx_pid > 0) {
		kill(nginx_pid, SIGQUIT);
		waitpid(nginx_pid, NULL, 0);
		nginx_pid = 0;
	}
	e2e_teardown();
}

/* SIGHUP the daemon with a new trusted_proxy set; wait for it to say so. */
static void
reload_with(const char *extra, int nth)
{
	char *log, *p;
	int i, seen = 0;

	e2e_write_small_conf(NGINX_ROUTES, extra);
	kill(e2e.pid, SIGHUP);
	for (i = 0; i < 3000 && seen < nth; i++) {
		usleep(10000);
		log = test_slurp(e2e.log, NULL);
		for (seen = 0, p = log; (p = strstr(p, "msg=\"configuration "
		    "reloaded\"")) != NULL; p++)
			seen++;
		free(log);
	}
	ck_assert_int_eq(seen, nth);
}

/*
 * The shipped example in front of the daemon: a signed notification to
 * the public path, over TLS, through nginx, verifies (antomd checks it
 * over the public path) and is stored; X-Forwarded-For gives client_addr
 * only when the socket peer (nginx) is a trusted proxy.
 */
START_TEST(test_nginx_proxy)
{
	char dir[64], sock[160], extra[512], *req, *line, resp[4096];
	char *b;
	long long refused;
	int port, i, st;
	struct stat sb;
	pid_t pid;

	if (access(NGINX, X_OK) != 0) {
		fprintf(stderr, "test_nginx_proxy: %s not installed, skipped "
		    "(make check installs it as root)\n", NGINX);
		return;
	}
	snprintf(dir, sizeof(dir), "%s", e2e.dir);
	snprintf(sock, sizeof(sock), "%s/antomd.sock", dir);
	snprintf(extra, sizeof(extra), "listen unix:%s\n", sock);
	e2e_write_small_conf(NGINX_ROUTES, extra);
	pid = fork();
	if (pid == 0) {
		int logfd = open(e2e.log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		dup2(logfd, 2);
		unsetenv("LISTEN_FDS");
		e2e_exec_daemon();
	}
	e2e.pid = pid;
	/* 30 s at most: valgrind takes seconds to start the daemon. */
	for (i = 0; i < 3000 && stat(sock, &sb) != 0; i++)
		usleep(10000);
	ck_assert_int_eq(stat(sock, &sb), 0);

	make_cert(dir);
	snprintf(extra, sizeof(extra), "mkdir -p %s/nginx", dir);
	ck_assert_int_eq(system(extra), 0);
	port = free_port();
	write_nginx_conf(dir, port, sock);
	snprintf(extra, sizeof(extra), "%s/nginx/nginx.conf", dir);
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(devnull, 1);
		dup2(devnull, 2);
		char elog[300];

		snprintf(elog, sizeof(elog), "%s/nginx/error.log", dir);
		execl(NGINX, "nginx", "-p", dir, "-e", elog, "-c", extra,
		    (char *)NULL);
		_exit(127);
	}
	nginx_pid = pid;
	for (i = 0, st = -1; i < 400 && st != 0; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sin;

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		st = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
		close(fd);
		if (st != 0)
			usleep(10000);
	}
	ck_assert_msg(st == 0, "nginx did not start: see %s/nginx/error.log",
	    dir);

	/* No trusted proxy: the header is ignored. */
	b = e2e_pay_body("PR-NGX-1", "PAYMENT_RESULT", "S");
	req = e2e_signed_request("/payments/antom/notify",
	    "/payments/antom/notify",
	    b, "X-Forwarded-For: 198.51.100.9\r\n", 0);
	ck_assert_int_eq(tls_request(port, req, resp, sizeof(resp)), 200);
	ck_assert_msg(strstr(resp, ANTOM_SUCCESS_BODY) != NULL, "%s", resp);
	ck_assert_ptr_nonnull(strstr(resp, "X-Request-Id: "));
	free(req);
	free(b);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments WHERE "
	    "payment_request_id = 'PR-NGX-1' AND status = 'SUCCESS'"), 1);
	ck_assert_str_eq(e2e_q_text("SELECT signed_path FROM notifications "
	    "WHERE id = 1"), "/payments/antom/notify");
	line = e2e_log_line("PR-NGX-1");
	ck_assert_msg(strstr(line, " path=/antom/notify ") != NULL, "%s", line);
	ck_assert_msg(strstr(line, " peer_addr=unix ") != NULL, "%s", line);
	ck_assert_msg(strstr(line, "client_addr") == NULL, "%s", line);
	free(line);

	/* A tampered body through nginx: refused, nothing stored. */
	b = e2e_pay_body("PR-NGX-X", "PAYMENT_RESULT", "S");
	req = e2e_signed_request("/payments/antom/notify",
	    "/payments/antom/notify",
	    b, NULL, 1);
	ck_assert_int_eq(tls_request(port, req, resp, sizeof(resp)), 401);
	free(req);
	free(b);
	/* Signed over the local path: not what Antom signs, refused. */
	b = e2e_pay_body("PR-NGX-L", "PAYMENT_RESULT", "S");
	req = e2e_signed_request("/payments/antom/notify", "/antom/notify", b,
	    NULL, 0);
	ck_assert_int_eq(tls_request(port, req, resp, sizeof(resp)), 401);
	free(req);
	free(b);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM notifications"), 1);
	/* nginx's own limit matches max_body_bytes: 413 before antomd. */
	snprintf(extra, sizeof(extra), "POST /payments/antom/notify HTTP/1.1\r\n"
	    "Host: localhost\r\nContent-Length: 70000\r\nConnection: close\r\n"
	    "\r\n");
	ck_assert_int_eq(tls_request(port, extra, resp, sizeof(resp)), 413);
	/* Nothing else is public. */
	ck_assert_int_eq(tls_request(port, "GET /antom/notify HTTP/1.1\r\n"
	    "Host: localhost\r\nConnection: close\r\n\r\n", resp, sizeof(resp)),
	    404);

	/*
	 * Ambiguous framing (RFC 9112 section 6.3): nginx 1.22 refuses a
	 * second Content-Length and Content-Length with Transfer-Encoding
	 * itself, 400 and closed, so antomd (which would answer the same)
	 * never sees them: nothing stored, nothing refused.
	 */
	refused = e2e_q_int("SELECT count(*) FROM refusals");
	b = e2e_pay_body("PR-NGX-F", "PAYMENT_RESULT", "S");
	snprintf(extra, sizeof(extra), "Content-Length: %zu\r\n", strlen(b));
	req = e2e_signed_request("/payments/antom/notify",
	    "/payments/antom/notify", b, extra, 0);
	ck_assert_int_eq(tls_request(port, req, resp, sizeof(resp)), 400);
	free(req);
	req = e2e_signed_request("/payments/antom/notify",
	    "/payments/antom/notify", b, "Content-Length: 0\r\n", 0);
	ck_assert_int_eq(tls_request(port, req, resp, sizeof(resp)), 400);
	free(req);
	req = e2e_signed_request("/payments/antom/notify",
	    "/payments/antom/notify", b, "Transfer-Encoding: chunked\r\n", 0);
	ck_assert_int_eq(tls_request(port, req, resp, sizeof(resp)), 400);
	free(req);
	free(b);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM notifications"), 1);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM refusals"), refused);
	/*
	 * Absolute form (RFC 9112 section 3.2.2): nginx routes it by its
	 * path and forwards origin form; antomd would serve it as its path.
	 */
	b = e2e_pay_body("PR-NGX-A", "PAYMENT_RESULT", "S");
	req = e2e_signed_request("https://shop.example/payments/antom/notify",
	    "/payments/antom/notify", b, NULL, 0);
	ck_assert_int_eq(tls_request(port, req, resp, sizeof(resp)), 200);
	free(req);
	free(b);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments WHERE "
	    "payment_request_id = 'PR-NGX-A' AND status = 'SUCCESS'"), 1);

	/* nginx trusted: the address nginx saw (the spoofed one is not). */
	snprintf(extra, sizeof(extra), "listen unix:%s\ntrusted_proxy unix\n",
	    sock);
	reload_with(extra, 1);
	b = e2e_pay_body("PR-NGX-2", "PAYMENT_RESULT", "S");
	req = e2e_signed_request("/payments/antom/notify",
	    "/payments/antom/notify",
	    b, "X-Forwarded-For: 198.51.100.9\r\n", 0);
	ck_assert_int_eq(tls_request(port, req, resp, sizeof(resp)), 200);
	free(req);
	free(b);
	line = e2e_log_line("PR-NGX-2");
	ck_assert_msg(strstr(line, " client_addr=127.0.0.1 ") != NULL, "%s",
	    line);
	ck_assert_ptr_null(strstr(line, "198.51.100.9"));
	free(line);

	/* A trusted hop before nginx: the address it was given. */
	snprintf(extra, sizeof(extra), "listen unix:%s\ntrusted_proxy unix\n"
	    "trusted_proxy 127.0.0.1\n", sock);
	reload_with(extra, 2);
	b = e2e_pay_body("PR-NGX-3", "PAYMENT_RESULT", "S");
	req = e2e_signed_request("/payments/antom/notify",
	    "/payments/antom/notify",
	    b, "X-Forwarded-For: 198.51.100.9\r\n", 0);
	ck_assert_int_eq(tls_request(port, req, resp, sizeof(resp)), 200);
	free(req);
	free(b);
	line = e2e_log_line("PR-NGX-3");
	ck_assert_msg(strstr(line, " client_addr=198.51.100.9 ") != NULL, "%s",
	    line);
	free(line);

	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments"), 4);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
}
END_TEST

Suite *
install_suite(void)
{
	Suite *s = suite_create("install");
	TCase *cf = tcase_create("config");
	TCase *px = tcase_create("proxy");

	tcase_add_checked_fixture(cf, e2e_setup_bare, e2e_teardown);
	tcase_set_timeout(cf, 30);
	tcase_add_test(cf, test_group_reader);
	tcase_add_test(cf, test_group_writer);
	tcase_add_test(cf, test_systemd_units);
	tcase_add_test(cf, test_make_install);
	suite_add_tcase(s, cf);

	tcase_add_checked_fixture(px, e2e_setup_bare, nginx_teardown);
	tcase_set_timeout(px, 60);
	tcase_add_test(px, test_nginx_proxy);
	suite_add_tcase(s, px);
	return s;
}
