/*
 * e2e.c - the end-to-end suites' daemon and database helpers (e2e.h).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "e2e.h"
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
	const char *dir = getenv("ANTOMD_BIN");

	snprintf(buf, cap, "%s/%s", dir != NULL ? dir : "bin", name);
	return buf;
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

long long
e2e_q_int(const char *sql)
{
	return test_sql_int(e2e.db, sql);
}

const char *
e2e_q_text(const char *sql)
{
	return test_sql_text(e2e.db, sql);
}

