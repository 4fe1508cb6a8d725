/*
 * store_pg.h - the PostgreSQL engine's private header: what its files
 * call in one another.
 *
 *   store_pg_schema.c  the DDL of schema version 8 for PostgreSQL, its
 *                      creation under an advisory lock, store_pg_check()
 *   store_pg.c         a batch recorded: locks, the three phases of
 *                      store_judge.h in pipeline mode, COMMIT, retries
 *   store_pg_sql.c     its statements, prepared once per session
 *                      (store_pg_sql.h, for store_pg.c alone)
 *
 * The tables, columns and views are SQLite's (store_schema.c), with the
 * same names, order and meaning; tests/check_pg.c compares the two.
 */
#ifndef ANTOMD_STORE_PG_H
#define ANTOMD_STORE_PG_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

struct store_job;
struct store_plan;

/*
 * The advisory lock (bigint form) under which one instance creates or
 * migrates the schema: "antomd" in ASCII.  Per-object locks must use the
 * two-integer form, a lock space of its own.
 */
#define STORE_PG_LOCK_SCHEMA	0x616e746f6d64LL
/* Type OIDs (catalog/pg_type_d.h, which libpq-dev does not ship). */
#define STORE_PG_BYTEA	17
#define STORE_PG_INT8	20
#define STORE_PG_INT4	23
#define STORE_PG_TEXT	25

/*
 * The advisory lock (bigint form) every batch takes just before its
 * events rows and holds to its end, so that events.seq is in commit
 * order across instances: "antomde" in ASCII.
 */
#define STORE_PG_LOCK_EVENTS	0x616e746f6d6465LL

/*
 * Create the schema of STORE_SCHEMA_VERSION, or check the one there, in
 * one transaction under STORE_PG_LOCK_SCHEMA, so that instances starting
 * at once create it once; *from is the version found (0: none).  Commits
 * (store_pg_commit()).  0, or -1 with err, rolled back.
 */
int	store_pg_migrate(PGconn *, int *from, char *err, size_t errlen);
/*
 * COMMIT the open transaction.  A WARNING with it is a failure: a COMMIT
 * whose wait for the synchronous standby was cancelled returns success
 * and says only that (issue 16 point 3; test_cancelled_commit_is_local_only).
 * Waits until the deadline store_pg_commit_by() set on this thread, then
 * -1 with the COMMIT left outstanding, never cancelled.  0, or -1 with
 * err.
 */
int	store_pg_commit(PGconn *, char *err, size_t errlen);
/*
 * store_pg_commit() in parts, for a COMMIT sent in a pipeline after other
 * statements: arm (before anything of the pipeline is sent: a WARNING
 * with any of it is a failure), then, every earlier result read, wait as
 * store_pg_commit() does, the pipeline's sync read and pipeline mode left
 * once its result is in; or disarm, the COMMIT not reached.
 */
int	store_pg_commit_arm(PGconn *, char *err, size_t errlen);
int	store_pg_commit_wait(PGconn *, char *err, size_t errlen);
void	store_pg_commit_disarm(PGconn *);
/*
 * The deadline of this thread's next COMMITs, mono us (0: none, the
 * default).  store_pg_commit_left(): 1 while a COMMIT is outstanding past
 * it; nothing but store_pg_commit_settle() may use its connection then.
 */
void	store_pg_commit_by(uint64_t by);
uint64_t store_pg_commit_deadline(void);
int	store_pg_commit_left(void);
/*
 * Wait for the COMMIT left outstanding on c until mono time until, or
 * with give_up not at all (its connection must then be reset): what it
 * did, the reason in err unless it committed.
 */
enum store_pg_outcome {
	STORE_PG_WAITING,	/* still outstanding */
	STORE_PG_COMMITTED,
	STORE_PG_LOCAL,		/* with a WARNING: on the primary, perhaps alone */
	STORE_PG_ROLLED_BACK,	/* an error: nothing committed */
	STORE_PG_UNKNOWN	/* the connection failed, or given up */
};
enum store_pg_outcome store_pg_commit_settle(PGconn *, uint64_t until,
	    int give_up, char *err, size_t errlen);
/*
 * For antomd -n: connect to conninfo and check the schema version without
 * creating anything.  A database without antomd's tables passes if this
 * role may create them in its schema.  0, or -1 with err.  (To move to
 * include/store.h when the daemon uses it.)
 */
int	store_pg_check(const char *conninfo, char *err, size_t errlen);
/*
 * PQconnectdb(conninfo) with bounds of our own that conninfo may override:
 * connect_timeout 10 s a host, and TCP keepalives and tcp_user_timeout
 * that notice a dead or cut-off server within about 11 s, even while a
 * COMMIT waits for a standby (the connection is idle then).  NULL only
 * when out of memory; check PQstatus().
 */
PGconn	*store_pg_connect(const char *conninfo);
/* Run sql (one statement or several), 0 or -1 with the server's err. */
int	store_pg_exec(PGconn *, const char *sql, char *err, size_t errlen);

/* What recording a batch took. */
struct store_pg_record_stats {
	unsigned	round_trips;	/* pipeline syncs and the COMMIT */
	unsigned	attempts;	/* 1, or more after a retry */
	int		commit_failed;	/* sent, then failed: outcome unknown */
	int		lock_timeout;	/* another's lock outlasted the deadline */
};

/*
 * Record jobs[0..n-1] in one transaction on c (in none when called; plans
 * has n slots): outcomes, rows, events and discrepancy notes as the
 * SQLite engine's store_record() for the same sequence, with the
 * discrepancies logged after the COMMIT.  Retried as a whole, up to 5
 * times, on a deadlock, serialization failure or unique violation.  0
 * with every job's r filled (status 0); or -1 with err, every r.status
 * -1, and nothing committed unless the COMMIT itself failed (sent, and
 * then a WARNING or a lost connection: committed perhaps, or only on the
 * primary; never acknowledge it; left outstanding at its deadline
 * (store_pg_commit_left()), each r.notification_id is what its row holds
 * if it commits).  With a commit deadline set
 * (store_pg_commit_by()), waiting for a lock another transaction holds
 * (another instance's batch, its COMMIT perhaps held by a stalled
 * standby) ends at that deadline too: -1, stats->lock_timeout, not
 * retried.  stats may be NULL.
 */
int	store_pg_record(PGconn *, struct store_plan *plans,
	    struct store_job **jobs, size_t n, const char *now,
	    struct store_pg_record_stats *stats, char *err, size_t errlen);

#endif
