/*
 * store_int.h - the store module's private header: struct store, the
 * engine seam (struct store_engine) and what its files call in one
 * another.
 *
 * The module, top to bottom (calls only go down):
 *   store.c         engine-neutral: open/close, the engine picked by the
 *                   database string, the writer thread (queue, batches,
 *                   refusal scheduling, the idle probe, stopping, abort,
 *                   the metrics hook, the commit deadline's 503s);
 *                   everything the database itself does goes through
 *                   s->engine
 *   ---- the SQLite engine (store_sqlite_engine) ----
 *   store_sqlite.c  the engine table and its glue: open and close, the
 *                   batch's transaction, the probe, the checkpointer's
 *                   start and stop, abort, stats
 *   store_replay.c  replay and the re-reading at migration, on store_state.c
 *   store_state.c   record: read, judge (store_judge.c), write
 *   refusal.c       the refusals ledger (include/refusal.h): the SQLite
 *                   engine's writes and count; its queue and schedule
 *                   (refusal_queue, refusal_*_due) are any engine's
 *   store_db.c      the writer's connection: open, busy handler, WAL and
 *                   synchronous checks, reconnect, step/bind, BEGIN/COMMIT
 *   store_ckpt.c    the checkpointer thread and the WAL hook
 *   store_schema.c  DDL, migrations, store_sqlite_check()
 *   ---- shared by every engine ----
 *   store_judge.c   the state machine, in C: no SQL, no sqlite3 types
 *
 * The PostgreSQL engine (store_pg_engine, store_pg_engine.c) has its
 * own header for its other files, store_pg.h.
 *
 * struct store is grouped by who may touch what: each sub-struct's
 * comment is its locking rule.
 */
#ifndef ANTOMD_STORE_INT_H
#define ANTOMD_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <sqlite3.h>

#include "refusal.h"
#include "store.h"
#include "store_judge.h"
#include "util.h"

/*
 * The writer's prepared statements.  Their SQL lives beside the code
 * that runs them: store_db_sql (store_db.c), store_state_sql_build()
 * (store_state.c: the upserts are generated from a column table per kind)
 * and refusal_sql (refusal.c), each indexed from its first constant here.
 */
enum {
	S_BEGIN, S_COMMIT, S_ROLLBACK,
#define S_DB_FIRST	S_BEGIN
	S_NOTIF_FIND, S_NOTIF_TOUCH, S_NOTIF_INSERT,
	S_PAY_GET, S_PAY_UPSERT, S_CAP_GET, S_CAP_UPSERT,
	S_REF_GET, S_REF_UPSERT, S_DIS_GET, S_DIS_UPSERT, S_DIS_FILL,
	S_VLT_GET, S_VLT_UPSERT, S_EVENT,
#define S_STATE_FIRST	S_NOTIF_FIND
	S_RFS_INSERT, S_RFS_TOUCH, S_RFS_CLEAR, S_RFS_COUNT, S_RFS_PRUNE,
	S_RFS_PRUNE_SAMPLE,
#define S_RFS_FIRST	S_RFS_INSERT
	S_COUNT
};
extern const char *const store_db_sql[S_STATE_FIRST - S_DB_FIRST];
extern const char *const refusal_sql[S_COUNT - S_RFS_FIRST];

/*
 * Statements first..last-1 and their SQL.  store_open() hands the list
 * to the connection code as data, so that store_db.c, below the files
 * that own the SQL, never names them.
 */
struct store_stmt_set {
	const char *const	*sql;
	int			 first, last;
};
#define STORE_STMT_SETS		3	/* store_db, store_state, refusal */

/* The writer thread's alone (or store_apply's caller's, when none runs). */
struct store_writer {
	sqlite3			*db;
	sqlite3_stmt		*stmt[S_COUNT];
	pthread_t		 thread;
	struct store_job	**batch;	/* batch_max slots */
	struct store_plan	*plan;		/* batch_max slots */
	uint64_t		 readonly_logged;
	uint64_t		 busy_since;	/* the busy handler's */
	int			 no_wait;	/* busy handler: give up at once */
	int			 last_failed;	/* the last batch failed */
	uint64_t		 probed;	/* last idle probe, mono us */
	uint64_t		 deadline;	/* the batch's answer-by, mono us, or 0 */
	int			 commit_left;	/* its COMMIT outstanding: settle() */
};

/*
 * Under lock: the job queue, the refusals waiting for the writer, and
 * what other threads read of the writer.  readonly is written by the
 * writer under lock; the writer alone may read it without.
 */
struct store_queue {
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	struct store_job	*head, *tail;
	unsigned		 queued;
	int			 running;
	int			 stopping;
	int			 readonly;	/* refuse, retry later */
	uint64_t		 batch_since;	/* a batch is running since, or 0 */
	uint64_t		 late_since;	/* its COMMIT outlasted the deadline, or 0 */
	struct store_stats	 stats;
	struct refusal		*rfs_pending;	/* REFUSAL_PENDING_MAX */
	size_t			 rfs_npending;
	int			 rfs_sample_full;	/* unverified: none queued */
};

/* The refusals ledger (refusal.c): the writer's alone. */
struct store_ledger {
	struct refusal		*local;		/* the writer's copy of the pending */
	int64_t			 held;		/* rows, as far as we know */
	int64_t			 sample;	/* of them unverified */
	uint64_t		 checked;	/* last at-risk count, mono us */
	uint64_t		 pruned;	/* last prune, mono us */
	uint64_t		 written;	/* last refusals transaction */
	uint64_t		 warned;	/* last at-risk WARN, mono us */
	int64_t			 warned_n;
};

/*
 * Under ckpt.lock: the checkpointer thread and the writer meet here.
 * asked counts the writer's requests for a pass, done the requests a
 * finished pass covered.
 */
struct store_ckpt {
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	sqlite3			*db;		/* the checkpointer's connection */
	uint64_t		 asked;		/* passes asked for */
	uint64_t		 done;		/* of them, covered by a pass */
	int			 full;		/* and it copied every frame */
	int			 stop;
	uint64_t		 passes;
};

/*
 * The writer's side of the checkpointer: the writer thread's, or while it
 * does not run, store_start()'s and store_stop()'s.
 */
struct store_ckpt_writer {
	pthread_t		 thread;
	int			 wanted;	/* the writer thread runs */
	int			 running;
	uint64_t		 waited;	/* last restart wait */
	int			 stuck;		/* that wait did not help */
	int			 committed;	/* since the last ask */
	int			 asked_frames;	/* WAL then */
};

struct store {
	/* Set by store_open(), read-only after. */
	const struct store_engine *engine;	/* store_engine_for() */
	struct store_pg_conn	*pg;		/* the PostgreSQL engine's */
	struct store_options	 opt;
	unsigned		 deadline_ms;	/* store_set_commit_deadline() */
	char			*path;
	struct store_stmt_set	 stmt_sets[STORE_STMT_SETS]; /* every statement's SQL */
	size_t			 nstmt_sets;
	/*
	 * Called by store_connect() inside the migration's transaction, with
	 * the statements prepared, when the schema was older: 0 or -1 with
	 * err (store_state_migrated).  Data, so store_db.c calls nothing
	 * above it by name.
	 */
	int			(*migrated)(struct store *, int from,
				    char *err, size_t errlen);
	const char		*state_sql[S_RFS_FIRST - S_STATE_FIRST];
	char			*state_text;	/* the generated of them; owned */

	struct store_writer	 w;
	struct store_queue	 q;
	struct store_ledger	 ledger;
	struct store_ckpt	 ckpt;
	struct store_ckpt_writer ckw;

	/* Any thread. */
	_Atomic int		 aborting;	/* shutdown past its deadline */
	_Atomic int		 wal_frames;	/* written by the writer */
	_Atomic int64_t		 database_bytes; /* engine's, or -1 */
};

/*
 * The engine seam: what store.c asks of the database, one const table
 * per engine, picked by store_open() from the database string (a path:
 * SQLite; a libpq URI or conninfo: PostgreSQL).  Every
 * function runs on the writer thread, or while no writer runs on the
 * caller of store_open(), store_apply(), store_replay() or store_close(),
 * unless its comment says otherwise.  0 is success, -1 failure (logged,
 * or in err when there is one) unless said otherwise.
 */
struct store_engine {
	const char	*name;		/* "sqlite": for log lines */
	/*
	 * Without creating or changing anything: is the database usable
	 * (antomd -n)?  Any thread, no store.  0, or -1 with err.
	 */
	int	(*check)(const char *database, char *err, size_t errlen);
	/*
	 * Set up the engine's part of s (s->path, s->opt are set) and
	 * connect, creating and migrating the schema.  0 ready; 1 the
	 * database holds the current schema but is read-only: left closed,
	 * the writer refuses jobs and reconnect() takes it back later; -1
	 * with err (close() then cleans up whatever was set up).
	 */
	int	(*open)(struct store *, char *err, size_t errlen);
	/* Stop what start() started, disconnect, free the engine's part. */
	void	(*close)(struct store *);
	/*
	 * While s->q.readonly: connect again.  0 writable now (readonly is
	 * cleared under s->q.lock); -1 still not, logged at most every 10 s.
	 */
	int	(*reconnect)(struct store *);
	/*
	 * The n jobs in one transaction, all committed or none: 0 only once
	 * COMMIT returned success, every job's r filled and r.status 0;
	 * otherwise everything rolled back, every r.status -1, and
	 * *job_failed 1 when a job's own statements failed (the caller
	 * retries each job alone) or 0 when the database as a whole did
	 * (BEGIN, locks, COMMIT: no retry).  The jobs are judged as if one
	 * ran after another (store_judge_batch(), store_judge.h: one state
	 * change per notification, never a regression); a repeat delivery
	 * only counts.  now is the batch's ISO time.  No callback runs.
	 */
	int	(*batch)(struct store *, struct store_job **, size_t n,
		    const char *now, int *job_failed);
	/*
	 * NULL for an engine whose waits are bounded otherwise (SQLite:
	 * busy_timeout_ms).  Else batch() stops waiting for its COMMIT at
	 * s->w.deadline (when not 0) without cancelling it: it returns -1,
	 * *job_failed 0, s->w.commit_left 1, the COMMIT still outstanding,
	 * and nothing touches the database until settle() returns other
	 * than 1.  settle() waits for that COMMIT until mono time until: 1
	 * still outstanding; 0 it committed; -1 it did not, or its outcome
	 * is unknown (the connection is then dropped).  With give_up, it
	 * stops waiting at once: -1.  It clears commit_left once it
	 * returns other than 1, and logs the outcome (msg=commit_late).
	 */
	int	(*settle)(struct store *, uint64_t until, int give_up);
	/*
	 * Idle after a failed batch, not read-only: can a transaction take
	 * the write lock now?  Without waiting for another writer; nothing
	 * is written.  0 yes, -1 no.
	 */
	int	(*probe)(struct store *);
	/*
	 * The refusals ledger (refusal.h): write n refusals in a
	 * transaction of their own, never waiting for another writer
	 * (authentic ones the database cannot take go back in the queue);
	 * count and prune the ledger, updating s->ledger and s->q.stats.
	 */
	void	(*refusal_write)(struct store *, const struct refusal *,
		    size_t n);
	void	(*refusal_check)(struct store *);
	/*
	 * The engine's helpers beside the writer (SQLite: the checkpointer
	 * thread): start() before the writer thread starts, stop() after it
	 * was joined.  before_batch() before each batch, after_pass(idle)
	 * at the end of each pass of the writer's loop (idle: nothing is
	 * queued): housekeeping the writer owes, may wait briefly.
	 */
	void	(*start)(struct store *);
	void	(*stop)(struct store *);
	void	(*before_batch)(struct store *);
	void	(*after_pass)(struct store *, int idle);
	/*
	 * Any thread, store_abort(): make what waits on the database give
	 * up now.  The outcome stays honest: a batch it stops fails as a
	 * whole, and none is reported failed that committed, or committed
	 * that did not.
	 */
	void	(*abort)(struct store *);
	/* Any thread: fill the engine's fields of a store_stats snapshot. */
	void	(*stats)(struct store *, struct store_stats *);
	/* store_replay() (store.h), on the calling thread. */
	enum store_replay_result (*replay)(struct store *, int64_t id,
		    struct store_result *);
};

extern const struct store_engine store_sqlite_engine;
extern const struct store_engine store_pg_engine;	/* store_pg_engine.c */

#define STORE_PROBE_US		(5 * 1000000u)	/* idle and unwell: try again */
#define STORE_SETTLE_US		50000u	/* a late COMMIT: look at the queue */
/* Refusals pending between two batches; one transaction per 100 ms. */
#define REFUSAL_PENDING_MAX	256
#define REFUSAL_WRITE_US	100000u

/* store_db.c: the writer's connection. */
int	store_connect(struct store *, char *err, size_t errlen);
void	store_disconnect(struct store *);
int	store_reconnect(struct store *);
int	store_step(struct store *, int which);
int	store_rollback(struct store *);
void	store_bind_text(sqlite3_stmt *, int, const char *);
void	store_bind_amount(sqlite3_stmt *, int, int, const struct notif_amount *);

/* store_schema.c */
int	store_exec(sqlite3 *, const char *sql, char *err, size_t errlen);
int	store_pragma_int(sqlite3 *, const char *name, int *value);
int	store_migrate(sqlite3 *, int *from, char *err, size_t errlen);
/* store_schema.c: the SQLite engine's check (store_check(), store.h). */
int	store_sqlite_check(const char *path, char *err, size_t errlen);

/* store_ckpt.c */
#define STORE_WAL_LIMIT		"41943040"	/* 40 MiB: store_ckpt.c */
int	store_wal_hook(void *, sqlite3 *, const char *, int);
void	store_ckpt_start(struct store *);
void	store_ckpt_stop(struct store *);
void	store_ckpt_ask(struct store *, int force);
void	store_ckpt_restart(struct store *);

/*
 * store_state.c: the SQL of statements S_STATE_FIRST..S_RFS_FIRST-1 into
 * sql[], the upserts and fills generated with placeholders mark and the
 * parameter number ('?' for SQLite, '$' for PostgreSQL) into one
 * allocation *text that the caller owns (the others are static).  0, or
 * -1 when out of memory.
 */
int	store_state_sql_build(char mark,
	    const char *sql[S_RFS_FIRST - S_STATE_FIRST], char **text);
/* store_state.c: inside the caller's transaction. */
int	store_record(struct store *, struct store_job **, size_t n,
	    const char *now);
/*
 * store_state.c, for store_replay.c: the state held for n's object, the
 * change a judged notification makes to it, and the WARN line of one that
 * contradicted it.
 */
int	store_read_object(struct store *, const struct notif *,
	    const char *client_id, const char *object_id,
	    struct store_current *);
int	store_write_state(struct store *, const struct store_delivery *,
	    const struct store_current *before, enum store_change,
	    int64_t nid, const char *now);
void	store_log_discrepancy(enum notif_kind, const char *client_id,
	    const char *object_id, int64_t nid, enum store_outcome,
	    const char *note);

/* store_replay.c: store->migrated. */
int	store_state_migrated(struct store *, int from, char *err,
	    size_t errlen);
/* store_state.c: after the COMMIT of what store_record() judged last. */
void	store_record_committed(struct store *, struct store_job **, size_t n);
/* store_replay.c: the SQLite engine's replay (store_replay(), store.h), */
enum store_replay_result store_state_replay(struct store *, int64_t id,
	    struct store_result *);
/* and the log lines of a notification replayed, any engine's. */
void	store_log_replayed(const struct notif *, const char *client_id,
	    int64_t id, const char *object_id, enum store_outcome,
	    const char *note);
/*
 * store_pg_replay.c: the PostgreSQL engine's replay on its writer's
 * connection c (NULL when it has none), which is in no transaction.
 */
struct pg_conn;
enum store_replay_result store_pg_replay_on(struct pg_conn *c, int64_t id,
	    struct store_result *);

/*
 * store_state.c, for another engine running the generated SQL
 * (store_pg.c): kind's statements (fill 0 if none) and column count, -1
 * for a kind without state; the value of its column i (parameter i + 1);
 * and store_record_committed() for that engine's plans.
 */
struct store_value {
	const char	*text;		/* a text column's; NULL: SQL NULL */
	int64_t		 value;
	int		 integer;	/* a 64-bit integer column: value */
	int		 null;		/* and it is SQL NULL */
};
int	store_state_kind(enum notif_kind, int *get, int *upsert, int *fill,
	    size_t *ncols);
void	store_state_value(enum notif_kind, size_t i,
	    const struct store_delivery *, int64_t nid, const char *now,
	    struct store_value *);
void	store_state_committed(const struct store_plan *,
	    struct store_job **, size_t n);

/* refusal.c: the writer's side of the ledger. */
int	refusal_clear(struct store *, const char *client_id,
	    const char *body_sha256);
void	refusal_write(struct store *, const struct refusal *, size_t n);
int	refusal_write_due(const struct store *);
int	refusal_check_due(const struct store *);
void	refusal_check(struct store *);
/*
 * refusal.c, for any engine's refusal_write: its start (the time now,
 * and -1 with all n dropped when aborting); after the TOUCH changed no
 * row, may the INSERT add one; account for one refusal (kept: a row
 * changed; inserted: by the INSERT); publish a transaction's counts.
 */
int	refusal_write_start(struct store *, size_t n,
	    char now[UTIL_ISO_TIME_LEN], uint64_t *dropped);
int	refusal_may_insert(const struct store *, const struct refusal *);
void	refusal_tally(struct store *, const struct refusal *, int kept,
	    int inserted, uint64_t *recorded, uint64_t *dropped);
void	refusal_written(struct store *, uint64_t recorded, uint64_t dropped,
	    uint64_t txns);
/* and, its transaction rolled back, refusal_write_failed(). */
void	refusal_write_failed(struct store *, const struct refusal *, size_t n,
	    uint64_t *recorded, uint64_t *dropped);
/* refusal.c, for any engine's ledger: put back what was not written, */
void	refusal_requeue(struct store *, const struct refusal *, size_t n,
	    uint64_t *dropped);
/* and publish a count (held, at risk, unverified) taken at mono time now. */
void	refusal_counted(struct store *, int64_t held, int64_t at_risk,
	    int64_t sample, uint64_t now);

#endif
