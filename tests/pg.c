/*
 * pg.c - a real PostgreSQL cluster for the tests (pg.h): initdb, a
 * primary and streaming standbys made with pg_basebackup, run as user
 * postgres, their crash, stall, promotion and removal.
 *
 * The servers run in their own sessions (pg_ctl calls setsid), so Check
 * killing a test's process group on a timeout never reaches them: the
 * guard, in a session of its own too, stops them when the test process
 * goes away without pg_teardown(), for whatever reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "pg.h"

#define PG_BIN		"/usr/lib/postgresql/15/bin"
#define PG_PIDS_MAX	64

struct pg_cluster pg;

int
pg_available(const char *test)
{
	size_t n = strlen(test);

	/* __func__ of a Check test is its name and "_fn". */
	if (n > 3 && strcmp(test + n - 3, "_fn") == 0)
		n -= 3;
	if (geteuid() != 0) {
		fprintf(stderr, "%.*s: needs root (to run PostgreSQL as user "
		    "postgres), not run\n", (int)n, test);
		return 0;
	}
	if (access(PG_BIN "/initdb", X_OK) != 0 || getpwnam("postgres") ==
	    NULL) {
		fprintf(stderr, "%.*s: needs postgresql-15 (" PG_BIN "), not "
		    "run\n", (int)n, test);
		return 0;
	}
	return 1;
}

static void
pg_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * Run argv as user postgres, its output appended to the cluster's
 * commands.log; its exit status (-1 if it could not run).  Never asserts:
 * the guard calls it too.
 */
static int
pg_run(char *const argv[])
{
	struct passwd *pw = getpwnam("postgres");
	char log[96];
	pid_t pid;
	int status, fd;

	if (pw == NULL)
		return -1;
	snprintf(log, sizeof(log), "%s/commands.log", pg.dir);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
		    setuid(pw->pw_uid) != 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* pg_run(), or the end of the test with the commands' log on stderr. */
static void
pg_must(char *const argv[])
{
	char cmd[160];
	int rc = pg_run(argv);

	if (rc == 0)
		return;
	snprintf(cmd, sizeof(cmd), "tail -n 30 %s/commands.log >&2", pg.dir);
	if (system(cmd) != 0) {
		/* only a diagnostic */
	}
	ck_abort_msg("%s failed (%d)", argv[0], rc);
}

/* The postmaster of data directory dir, or 0. */
static pid_t
pg_postmaster(const char *dir)
{
	char path[128];
	FILE *f;
	long pid = 0;

	snprintf(path, sizeof(path), "%s/postmaster.pid", dir);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	return (pid_t)pid;
}

/* pid's parent and whether it is still running (not gone, not a zombie). */
static int
pg_proc(pid_t pid, pid_t *ppid)
{
	char path[64], buf[512], *p, state;
	FILE *f;
	long pp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold anything: parse after its last ')'. */
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 1, " %c %ld", &state,
	    &pp) != 2)
		return 0;
	*ppid = (pid_t)pp;
	return state != 'Z' && state != 'X';
}

/* The postmaster of dir and its children, postmaster first; their count. */
static int
pg_pids(const char *dir, pid_t *pids)
{
	DIR *d;
	struct dirent *de;
	pid_t pm, pid, ppid;
	int n = 0;

	if ((pm = pg_postmaster(dir)) <= 0 || !pg_proc(pm, &ppid))
		return 0;
	pids[n++] = pm;
	if ((d = opendir("/proc")) == NULL)
		return n;
	while ((de = readdir(d)) != NULL && n < PG_PIDS_MAX)
		if ((pid = (pid_t)atol(de->d_name)) > 0 && pid != pm &&
		    pg_proc(pid, &ppid) && ppid == pm)
			pids[n++] = pid;
	closedir(d);
	return n;
}

/* Signal every process of dir; their count. */
static int
pg_signal(const char *dir, int sig)
{
	pid_t pids[PG_PIDS_MAX];
	int i, n = pg_pids(dir, pids);

	for (i = 0; i < n; i++)
		kill(pids[i], sig);
	return n;
}

/*
 * Stop whatever runs in node i's directory, however it was left
 * (stalled, half started), and forget it.  Never asserts.
 */
static void
pg_node_cleanup(int i)
{
	struct pg_node *nd = &pg.node[i];
	char *stop[] = { PG_BIN "/pg_ctl", "-D", nd->dir, "-m", "immediate",
	    "-w", "-t", "10", "stop", NULL };
	int tries;

	if (nd->dir[0] == '\0')
		return;
	if (pg_signal(nd->dir, SIGCONT) > 0) {
		pg_run(stop);
		for (tries = 0; pg_signal(nd->dir, SIGKILL) > 0 && tries < 100;
		    tries++)
			pg_sleep_ms(20);
	}
	nd->up = nd->stalled = 0;
}

static void
pg_cleanup(void)
{
	char cmd[96];
	int i;

	if (pg.dir[0] == '\0')
		return;
	for (i = 0; i < PG_NODES_MAX; i++)
		pg_node_cleanup(i);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", pg.dir);
	if (system(cmd) != 0) {
		/* the guard has no one to tell */
	}
}

/*
 * The guard: in a session of its own, waits for the test process to close
 * (or lose, by dying) the pipe's write end, then cleans up.
 */
static void
pg_guard_start(void)
{
	int fds[2];
	char c;

	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	pg.guard = fork();
	ck_assert_int_ne(pg.guard, -1);
	if (pg.guard == 0) {
		close(fds[1]);
		setsid();
		while (read(fds[0], &c, 1) == -1 && errno == EINTR)
			;
		pg_cleanup();
		_exit(0);
	}
	close(fds[0]);
	pg.guard_fd = fds[1];
}

void
pg_teardown(void)
{
	pg_cleanup();
	if (pg.guard > 0) {
		close(pg.guard_fd);
		waitpid(pg.guard, NULL, 0);
		pg.guard = 0;
	}
	memset(&pg, 0, sizeof(pg));
}

PGconn *
pg_connect_to(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);

	ck_assert_msg(c != NULL && PQstatus(c) == CONNECTION_OK, "%s: %s",
	    conninfo, c != NULL ? PQerrorMessage(c) : "out of memory");
	return c;
}

PGconn *
pg_connect(int i)
{
	return pg_connect_to(pg.node[i].conninfo);
}

void
pg_exec(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);

	ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK,
	    "%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
}

/*
 * One value of one query, or NULL with the error in out when the query
 * or the connection failed: a standby may not have replayed the table
 * yet, a node may be restarting.
 */
static const char *
pg_sql_try(const char *conninfo, const char *sql, char *out, size_t len)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r;
	ExecStatusType st;
	const char *ret = out;

	out[0] = '\0';
	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		snprintf(out, len, "%s", c != NULL ? PQerrorMessage(c) :
		    "out of memory");
		PQfinish(c);
		return NULL;
	}
	r = PQexec(c, sql);
	st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		snprintf(out, len, "%s", PQerrorMessage(c));
		ret = NULL;
	} else if (st == PGRES_TUPLES_OK && PQntuples(r) > 0 &&
	    PQnfields(r) > 0)
		snprintf(out, len, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return ret;
}

const char *
pg_sql_at(const char *conninfo, const char *sql)
{
	static char out[512];

	ck_assert_msg(pg_sql_try(conninfo, sql, out, sizeof(out)) != NULL,
	    "%s: %s", sql, out);
	return out;
}

const char *
pg_sql(int i, const char *sql)
{
	return pg_sql_at(pg.node[i].conninfo, sql);
}

/*
 * Wait for a query to give want. Errors count as not yet: synchronous
 * commit means the standby has the WAL, not that it has replayed it, so
 * a table the primary created a moment ago may not exist there yet.
 */
void
pg_wait(int i, const char *sql, const char *want, long ms)
{
	char got[512];
	long waited;

	for (waited = 0; ; waited += 20) {
		if (pg_sql_try(pg.node[i].conninfo, sql, got, sizeof(got)) !=
		    NULL && strcmp(got, want) == 0)
			return;
		ck_assert_msg(waited < ms, "node %d: %s gave '%s' after %ld ms, "
		    "not '%s'", i, sql, got, ms, want);
		pg_sleep_ms(20);
	}
}

/* Append text to file, as the tests' root. */
static void
pg_append(const char *dir, const char *file, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	ck_assert_ptr_nonnull(f = fopen(path, "a"));
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static void
pg_node_start(int i)
{
	char *start[] = { PG_BIN "/pg_ctl", "-D", pg.node[i].dir, "-l", NULL,
	    "-w", "-t", "30", "start", NULL };
	char log[96];

	snprintf(log, sizeof(log), "%s.log", pg.node[i].dir);
	start[4] = log;
	pg_must(start);
	pg.node[i].up = 1;
}

/* How standby i streams from node from. */
static void
pg_follow(int i, int from, char *buf, size_t cap)
{
	snprintf(buf, cap, "host=%s port=%d user=postgres application_name=s%d",
	    pg.dir, pg.node[from].port, i);
}

/*
 * Wait until the primary p has n standbys streaming from it, each a
 * candidate for the quorum: a standby is "async" until it has reported
 * its first flush, and a commit before then would count on it for nothing.
 */
static void
pg_wait_streaming(int p, int n)
{
	char want[16];

	snprintf(want, sizeof(want), "%d", n);
	pg_wait(p, "SELECT count(*) FROM pg_stat_replication"
	    " WHERE state = 'streaming' AND sync_state = 'quorum'", want, 10000);
}

void
pg_start(int standbys)
{
	struct passwd *pw = getpwnam("postgres");
	char conf[512], follow[160], port0[8];
	char *initdb[] = { PG_BIN "/initdb", "-D", pg.node[0].dir, "-U",
	    "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", NULL };
	char *basebackup[] = { PG_BIN "/pg_basebackup", "-h", pg.dir, "-p",
	    port0, "-U", "postgres", "-D", NULL, "-c", "fast", "-X", "stream",
	    "-R", NULL };
	int i;

	ck_assert(standbys >= 0 && standbys < PG_NODES_MAX);
	ck_assert_ptr_nonnull(pw);
	memset(&pg, 0, sizeof(pg));
	snprintf(pg.dir, sizeof(pg.dir), "/tmp/antomd-pg-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(pg.dir));
	ck_assert_int_eq(chown(pg.dir, pw->pw_uid, pw->pw_gid), 0);
	pg.n = 1 + standbys;
	for (i = 0; i < PG_NODES_MAX; i++) {
		struct pg_node *nd = &pg.node[i];

		snprintf(nd->dir, sizeof(nd->dir), i == 0 ? "%s/n0" : "%s/s%d",
		    pg.dir, i);
		nd->port = PG_PORT + i;
		snprintf(nd->conninfo, sizeof(nd->conninfo), "host=%s port=%d "
		    "user=postgres dbname=postgres connect_timeout=5", pg.dir,
		    nd->port);
	}
	snprintf(pg.uri, sizeof(pg.uri), "host=%s,%s,%s port=%d,%d,%d "
	    "user=postgres dbname=postgres connect_timeout=5 "
	    "target_session_attrs=read-write", pg.dir, pg.dir, pg.dir, PG_PORT,
	    PG_PORT + 1, PG_PORT + 2);
	snprintf(port0, sizeof(port0), "%d", PG_PORT);
	pg_guard_start();

	/* No -N: the durability tests need every fsync. */
	pg_must(initdb);
	snprintf(conf, sizeof(conf),
	    "listen_addresses = ''\n"
	    "unix_socket_directories = '%s'\n"
	    "port = %d\n"
	    "fsync = on\n"
	    "synchronous_commit = on\n"
	    "synchronous_standby_names = '%s'\n"
	    "shared_buffers = 16MB\n"
	    "max_connections = 50\n"
	    "max_wal_senders = 5\n"
	    "log_min_messages = warning\n",
	    pg.dir, PG_PORT, standbys > 0 ? "ANY 1 (s1, s2)" : "");
	pg_append(pg.node[0].dir, "postgresql.conf", conf);
	pg_node_start(0);
	for (i = 1; i <= standbys; i++) {
		basebackup[8] = pg.node[i].dir;
		pg_must(basebackup);
		/* After what -R wrote: the last setting wins. */
		pg_follow(i, 0, follow, sizeof(follow));
		snprintf(conf, sizeof(conf), "port = %d\nprimary_conninfo = "
		    "'%s'\n", pg.node[i].port, follow);
		pg_append(pg.node[i].dir, "postgresql.auto.conf", conf);
		pg_node_start(i);
	}
	pg_wait_streaming(0, standbys);
}

void
pg_stop(int i)
{
	char *stop[] = { PG_BIN "/pg_ctl", "-D", pg.node[i].dir, "-m", "fast",
	    "-w", "-t", "30", "stop", NULL };

	if (pg.node[i].stalled)
		pg_resume(i);
	pg_must(stop);
	pg.node[i].up = 0;
}

void
pg_kill(int i)
{
	struct pg_node *nd = &pg.node[i];
	char path[128], line[128];
	pid_t pids[PG_PIDS_MAX], ppid;
	unsigned long key, shmid;
	FILE *f;
	int j, n, tries, left;

	/* Read before the kill: the file stays, but be sure of it. */
	snprintf(path, sizeof(path), "%s/postmaster.pid", nd->dir);
	shmid = 0;
	if ((f = fopen(path, "r")) != NULL) {
		for (j = 1; fgets(line, sizeof(line), f) != NULL; j++)
			if (j == 7 && sscanf(line, "%lu %lu", &key, &shmid) != 2)
				shmid = 0;
		fclose(f);
	}
	n = pg_pids(nd->dir, pids);
	ck_assert_int_gt(n, 0);
	for (j = 0; j < n; j++)
		kill(pids[j], SIGKILL);
	for (tries = 0; ; tries++) {
		for (left = j = 0; j < n; j++)
			left += pg_proc(pids[j], &ppid);
		if (left == 0)
			break;
		ck_assert_msg(tries < 250, "node %d: %d processes survived "
		    "SIGKILL", i, left);
		pg_sleep_ms(20);
	}
	/* What a reboot would free: the segment the postmaster kept. */
	if (shmid != 0)
		shmctl((int)shmid, IPC_RMID, NULL);
	nd->up = nd->stalled = 0;
}

void
pg_stall(int i)
{
	ck_assert_int_gt(pg_signal(pg.node[i].dir, SIGSTOP), 0);
	pg.node[i].stalled = 1;
}

void
pg_resume(int i)
{
	ck_assert_int_gt(pg_signal(pg.node[i].dir, SIGCONT), 0);
	pg.node[i].stalled = 0;
}

int
pg_most_advanced(void)
{
	char sql[128], lsn[64] = "0/0";
	int i, best = -1;

	for (i = 1; i < pg.n; i++) {
		if (!pg.node[i].up)
			continue;
		snprintf(sql, sizeof(sql), "SELECT pg_last_wal_receive_lsn() >"
		    " '%s'::pg_lsn", lsn);
		if (best < 0 || strcmp(pg_sql(i, sql), "t") == 0) {
			best = i;
			snprintf(lsn, sizeof(lsn), "%.63s", pg_sql(i,
			    "SELECT pg_last_wal_receive_lsn()"));
		}
	}
	ck_assert_int_gt(best, 0);
	return best;
}

void
pg_promote(int i)
{
	char *promote[] = { PG_BIN "/pg_ctl", "-D", pg.node[i].dir, "-w", "-t",
	    "30", "promote", NULL };
	char follow[160], sql[256];
	int j, n = 0;

	pg_must(promote);
	pg_wait(i, "SELECT pg_is_in_recovery()", "f", 10000);
	pg_wait(i, "SHOW transaction_read_only", "off", 10000);
	/* The others follow the new timeline (recovery_target_timeline latest). */
	for (j = 1; j < pg.n; j++) {
		if (j == i || !pg.node[j].up)
			continue;
		pg_follow(j, i, follow, sizeof(follow));
		snprintf(sql, sizeof(sql), "ALTER SYSTEM SET primary_conninfo = "
		    "'%s'", follow);
		pg_sql(j, sql);
		pg_sql(j, "SELECT pg_reload_conf()");
		n++;
	}
	pg_wait_streaming(i, n);
}
