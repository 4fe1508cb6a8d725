/*
 * store.h - storage and the single writer thread.
 *
 * The database string picks the engine: a path is SQLite; a libpq URI
 * or conninfo is PostgreSQL (one transaction a batch, committed once the
 * synchronous standbys have it: store_pg_engine.c).  One connection, owned by one writer thread, applies
 * notifications in batches: with SQLite each batch is one BEGIN
 * IMMEDIATE ... COMMIT in WAL mode with synchronous=FULL (a batch whose
 * own statements fail is retried job by job, so one bad job fails
 * alone).  A job's callback runs only after the COMMIT that holds it
 * returned success, so nothing is acknowledged before it is durable; if
 * the COMMIT fails every job of the batch is answered as a storage
 * failure and Antom retries.  With PostgreSQL a job is also answered 503
 * when its COMMIT outlasts a deadline (store_set_commit_deadline()); the
 * COMMIT goes on, and what it committed, Antom's redelivery finds stored.
 *
 * Threads: store_submit() may be called from any thread; callbacks run on
 * the writer thread.  store_apply() runs a one-job batch on the calling
 * thread and must not be mixed with a running writer (tests, tools).
 */
#ifndef ANTOMD_STORE_H
#define ANTOMD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "notif.h"
#include "outcome.h"

#define STORE_SCHEMA_VERSION	9
#define STORE_HASH_HEX		65	/* hex SHA-256 and its NUL */

struct store_options {
	unsigned	busy_timeout_ms;
	unsigned	batch_max;	/* jobs per transaction, >= 1 */
	unsigned	queue_max;	/* jobs waiting; store_submit fails beyond */
	/* A refusal unacknowledged this long is at risk; 0 means 3600. */
	unsigned	at_risk_after_s;
	/*
	 * The database and its -wal and -shm files are made writable by
	 * their group when antomd opens them (database_group_write).
	 */
	int		group_write;
};

/* A verified delivery.  All pointers stay valid until the job's callback. */
struct store_delivery {
	const char		*client_id;
	const char		*request_time;
	const char		*signature;	/* header as received */
	const char		*signed_path;	/* the content's path, query included if used */
	long			 key_version;
	const unsigned char	*body;
	size_t			 bodylen;
	/*
	 * Hex SHA-256 of the body, always filled by the caller with
	 * store_hash_body(): the thread that received the body hashes it
	 * (http.c, once per request), so the single writer spends no time
	 * on it.  The store never hashes.
	 */
	char			 body_sha256[STORE_HASH_HEX];
	const struct notif	*notif;
};

/* Fill d->body_sha256 from d->body (any thread). */
void	store_hash_body(struct store_delivery *d);

struct store_result {
	int			status;		/* 0 committed, -1 storage failure */
	enum store_outcome	outcome;
	int			repeat;		/* 1: this exact notification was stored before */
	int64_t			notification_id;
	int64_t			delivery_count;
};

struct store_job;
typedef void (*store_done_fn)(struct store_job *);

struct store_job {
	struct store_delivery	 d;
	struct store_result	 r;
	store_done_fn		 done;
	void			*arg;		/* caller's */
	struct store_job	*next;		/* store's */
	uint64_t		 queued_at;	/* store's: mono us */
};

struct store;

/*
 * Open (creating if needed) and migrate the database at path.  Returns a
 * store the caller owns, or NULL with a reason in err (never the string
 * itself: a conninfo may hold a password).
 */
struct store *store_open(const char *path, const struct store_options *,
	    char *err, size_t errlen);
/*
 * Check that path is usable without creating or changing anything: an
 * existing file must be a database whose schema we know; otherwise its
 * directory must be writable.  0 or -1 with err.
 */
int	store_check(const char *path, char *err, size_t errlen);
/*
 * The database string fit for a log line: a path as it is; a libpq URI
 * or conninfo without its password (user:password@ and password=...).
 * Into buf of cap bytes, truncated if longer; returns buf.
 */
const char *store_display(const char *database, char *buf, size_t cap);
void	store_close(struct store *);

/* Run one delivery in its own transaction on this thread. 0 or -1. */
int	store_apply(struct store *, const struct store_delivery *,
	    struct store_result *);

/*
 * Re-apply the archived notification with this id to the state tables,
 * in one transaction on this thread (not with a running writer): the
 * delivery de-duplication is bypassed, the state machine is not, and the
 * notifications row says what this version reads in the body (kind,
 * object id, notify type, archive reason) and what it contradicts now;
 * an outcome "archived" becomes the new one, any other stays.  STORE_REPLAY_DONE with r filled
 * (r->outcome is what the state machine decided now), STORE_REPLAY_NONE
 * when there is no such notification, STORE_REPLAY_FAILED on a database
 * error (logged; nothing changed).
 */
enum store_replay_result {
	STORE_REPLAY_DONE,
	STORE_REPLAY_NONE,
	STORE_REPLAY_FAILED
};
enum store_replay_result store_replay(struct store *, int64_t id,
	    struct store_result *);

/*
 * PostgreSQL: answer a job ms milliseconds after it was queued at the
 * latest, 503 if its COMMIT has not returned by then (a stalled
 * synchronous standby); the COMMIT is never cancelled, and its outcome is
 * logged when it comes (msg=commit_late).  0, the default: no deadline.
 * The SQLite engine ignores it: busy_timeout_ms bounds its waits.  Before
 * store_start().
 */
void	store_set_commit_deadline(struct store *, unsigned ms);

/* Writer thread. */
int	store_start(struct store *, char *err, size_t errlen);
/* Queue a job: STORE_SUBMIT_OK, or why not (answer 503 either way). */
enum store_submit_result {
	STORE_SUBMIT_OK,
	STORE_SUBMIT_FULL,	/* queue_max jobs already waiting */
	STORE_SUBMIT_STOPPING	/* the writer is stopping */
};
enum store_submit_result store_submit(struct store *, struct store_job *);
/* Finish every queued job, then stop the writer.  New submits fail. */
void	store_stop(struct store *);
/*
 * Shutdown out of time (any thread): the batch in progress gives up
 * waiting for locks, and queued jobs fail without touching the database.
 * Their callbacks still run; call store_stop() after.
 */
void	store_abort(struct store *);

/* Counters for status lines; thread-safe snapshots. */
struct store_stats {
	uint64_t	commits;
	uint64_t	jobs;
	uint64_t	failures;
	unsigned	queued;
	uint64_t	busy_us;	/* how long the batch in progress has run */
	/*
	 * COMMITs that outlasted commit_deadline_ms (their jobs answered
	 * 503), and how long the one still outstanding has run, or 0.
	 */
	uint64_t	commits_late;
	uint64_t	late_us;
	/* The refusals ledger (refusal.h). */
	uint64_t	refusals;	/* refusals recorded */
	uint64_t	refusals_dropped;	/* not recorded: too many */
	uint64_t	refusal_txns;	/* transactions that recorded them */
	int64_t		refusals_held;	/* rows in refusals now */
	int64_t		refusals_unverified;	/* of them unverified */
	int64_t		at_risk;	/* of them, older than at_risk_after_s */
	uint64_t	checkpoints;	/* passes of the checkpointer thread */
	int		wal_frames;	/* in the WAL after the writer's last commit */
	/*
	 * Bytes on disk: the database (SQLite: its main file, at the call;
	 * PostgreSQL: pg_database_size() as the idle writer last took it)
	 * and SQLite's WAL file; -1 unknown or none.
	 */
	int64_t		database_bytes;
	int64_t		wal_bytes;
};
void	store_stats(struct store *, struct store_stats *);

/*
 * Operations.  store_set_batch_hook(): fn(jobs, failed) runs on the writer
 * thread after each batch (process-wide; NULL removes it).
 * store_writable(): 1 unless the database is read-only (any thread).
 */
typedef void (*store_batch_fn)(unsigned jobs, unsigned failed);
void	store_set_batch_hook(store_batch_fn);
/*
 * store_set_migrate_hook(): fn() runs while store_open() migrates a
 * database of an older schema, at once and then every few seconds until
 * the migration commits or fails (process-wide; NULL removes it).
 */
typedef void (*store_migrate_fn)(void);
void	store_set_migrate_hook(store_migrate_fn);
int	store_writable(struct store *);

#endif
