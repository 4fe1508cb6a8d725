/*
 * pg.h - a real PostgreSQL 15 cluster for the tests: a primary and 0 to 2
 * streaming standbys in a fresh temporary directory, run as user postgres
 * (which refuses root), reached over Unix sockets in that directory only,
 * with synchronous replication (ANY 1 of the standbys) and fsync on.
 *
 * One cluster per test process (Check runs each test in its own fork).
 * Everything here may end the test with a failed assertion, but for
 * pg_available() and pg_teardown().  Whatever ends the test (a failed
 * assertion, Check's timeout killing it), every server is stopped and the
 * directory removed: a guard process started with the cluster does it if
 * pg_teardown() could not.
 */
#ifndef ANTOMD_TEST_PG_H
#define ANTOMD_TEST_PG_H

#include <sys/types.h>

#include <libpq-fe.h>

#define PG_NODES_MAX	3	/* the primary, s1 and s2 */
#define PG_PORT		5432	/* node i listens on PG_PORT + i */

struct pg_node {
	char	 dir[80];	/* its data directory */
	char	 conninfo[160];
	int	 port;
	int	 up;		/* started and not stopped or killed */
	int	 stalled;	/* SIGSTOPped */
};

struct pg_cluster {
	char		 dir[48];	/* mkdtemp; the sockets are here */
	int		 n;		/* nodes: 1 + standbys */
	struct pg_node	 node[PG_NODES_MAX];
	char		 uri[320];	/* every node, target_session_attrs=read-write */
	pid_t		 guard;
	int		 guard_fd;
};

extern struct pg_cluster pg;

/*
 * 1 when the tests can start servers (root, and PostgreSQL 15 installed);
 * 0 after printing "TEST: needs ..., not run".
 */
int	 pg_available(const char *test);
/* At the top of a test that starts servers: return unless it can. */
#define PG_SKIP_UNLESS_AVAILABLE()					\
	do {								\
		if (!pg_available(__func__))				\
			return;						\
	} while (0)
/*
 * A primary (node 0) and standbys s1 (node 1) and s2 (node 2), each
 * streaming from the primary when this returns.  Synchronous with one
 * standby or more: synchronous_standby_names = 'ANY 1 (s1, s2)'.
 */
void	 pg_start(int standbys);
/* Stop every server, remove the directory.  A checked fixture's teardown. */
void	 pg_teardown(void);

/* A connection to node i (ends the test if it fails); caller PQfinish()es. */
PGconn	*pg_connect(int i);
PGconn	*pg_connect_to(const char *conninfo);
/*
 * The first value of the first row of sql on a new connection to node i
 * (or to conninfo), "" when no row or NULL; a static buffer.  An error
 * ends the test.
 */
const char *pg_sql(int i, const char *sql);
const char *pg_sql_at(const char *conninfo, const char *sql);
/* Poll sql on node i until it gives want, for up to ms; else fail. */
void	 pg_wait(int i, const char *sql, const char *want, long ms);
/* sql on conn; ends the test unless it succeeds. */
void	 pg_exec(PGconn *, const char *sql);

/* A fast shutdown of node i. */
void	 pg_stop(int i);
/* SIGKILL node i's postmaster and every process of it, as a host crash. */
void	 pg_kill(int i);
/* SIGSTOP (stall) or SIGCONT (resume) every process of node i. */
void	 pg_stall(int i);
void	 pg_resume(int i);
/*
 * The running standby that received the most WAL: the one to promote
 * after the primary is lost (ANY 1: a commit may be on one standby only).
 */
int	 pg_most_advanced(void);
/*
 * Promote standby i and wait until it accepts writes; every other running
 * standby then streams from it (the new timeline).
 */
void	 pg_promote(int i);

#endif
