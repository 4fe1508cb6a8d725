/*
 * store_sqlite.c - the SQLite engine's table (store_sqlite_engine,
 * store_int.h) and its glue: setting up and tearing down the engine's
 * part of struct store, a batch's transaction, the probe, and what the
 * writer asks of the checkpointer.  The work itself is in the engine's
 * other files: store_db.c, store_state.c, refusal.c, store_ckpt.c and
 * store_schema.c.
 *
 * Threads: as struct store_engine says; abort() and stats() from any
 * thread, under the locks they name.
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "store_int.h"
#include "util.h"

static int
store_sqlite_open(struct store *s, char *err, size_t errlen)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&s->ckpt.lock, NULL);
	/* store_ckpt_restart's deadline is on the monotonic clock. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->ckpt.cond, &ca);
	pthread_condattr_destroy(&ca);
	/*
	 * Every statement the writer prepares, by the file that owns its
	 * SQL; the upserts are generated here, once, not per job.
	 */
	if (store_state_sql_build('?', s->state_sql, &s->state_text) != 0) {
		util_err(err, errlen, "out of memory");
		return -1;
	}
	s->stmt_sets[0] = (struct store_stmt_set){ store_db_sql, S_DB_FIRST,
	    S_STATE_FIRST };
	s->stmt_sets[1] = (struct store_stmt_set){ s->state_sql,
	    S_STATE_FIRST, S_RFS_FIRST };
	s->stmt_sets[2] = (struct store_stmt_set){ refusal_sql, S_RFS_FIRST,
	    S_COUNT };
	s->nstmt_sets = STORE_STMT_SETS;
	s->migrated = store_state_migrated;
	return store_connect(s, err, errlen);
}

static void
store_sqlite_close(struct store *s)
{
	s->ckw.wanted = 0;
	store_ckpt_stop(s);
	store_disconnect(s);
	pthread_mutex_destroy(&s->ckpt.lock);
	pthread_cond_destroy(&s->ckpt.cond);
	free(s->state_text);
	s->state_text = NULL;
}

/*
 * All n jobs in one BEGIN IMMEDIATE ... COMMIT (struct store_engine's
 * batch).  What store_record() judged is logged only after the COMMIT.
 */
static int
store_sqlite_batch(struct store *s, struct store_job **jobs, size_t n,
    const char *now, int *job_failed)
{
	size_t i;

	*job_failed = 0;
	/*
	 * A ROLLBACK that failed earlier would leave us inside a transaction
	 * and every BEGIN failing until restart: end it first.
	 */
	if (store_rollback(s) != 0)
		log_errorx("database: cannot end a failed transaction: %s",
		    sqlite3_errmsg(s->w.db));
	if (store_step(s, S_BEGIN) != 0)
		goto fail;
	if (store_record(s, jobs, n, now) != 0) {
		*job_failed = 1;
		goto fail;
	}
	if (store_step(s, S_COMMIT) != 0)
		goto fail;
	for (i = 0; i < n; i++)
		jobs[i]->r.status = 0;
	store_record_committed(s, jobs, n);
	return 0;
fail:
	store_rollback(s);
	for (i = 0; i < n; i++)
		jobs[i]->r.status = -1;
	return -1;
}

/* Take the write lock, giving up at once if another process holds it. */
static int
store_sqlite_probe(struct store *s)
{
	int rc;

	s->w.no_wait = 1;
	rc = store_step(s, S_BEGIN);
	s->w.no_wait = 0;
	if (rc != 0)
		return -1;
	store_step(s, S_ROLLBACK);
	return 0;
}

/* The checkpointer runs while the writer does (store_ckpt.c). */
static void
store_sqlite_start(struct store *s)
{
	s->ckw.wanted = 1;
	store_ckpt_start(s);
}

static void
store_sqlite_stop(struct store *s)
{
	/* No reconnect from now on starts it again (store_reconnect). */
	s->ckw.wanted = 0;
	store_ckpt_stop(s);
}

static void
store_sqlite_after_pass(struct store *s, int idle)
{
	/* Going idle: have everything copied while there is time. */
	store_ckpt_ask(s, idle);
}

/*
 * Interrupt the statement in progress: a lock wait gives up, the
 * statement fails and SQLite rolls its transaction back, so the batch
 * fails whole (a COMMIT too far along to stop completes, and succeeds).
 */
static void
store_sqlite_abort(struct store *s)
{
	/*
	 * Only a writer that holds a connection can be waiting on a lock;
	 * while read-only it may be swapping connections, and fails fast.
	 */
	pthread_mutex_lock(&s->q.lock);
	if (!s->q.readonly && s->w.db != NULL)
		sqlite3_interrupt(s->w.db);
	pthread_mutex_unlock(&s->q.lock);
	/* A long pass would delay the exit; the next start copies the rest. */
	pthread_mutex_lock(&s->ckpt.lock);
	if (s->ckpt.db != NULL)
		sqlite3_interrupt(s->ckpt.db);
	pthread_mutex_unlock(&s->ckpt.lock);
}

/* The size of path, or -1 when it cannot be had (no WAL right now). */
static int64_t
store_sqlite_file_bytes(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

/*
 * The files' sizes are taken here, at the caller's scrape: a stat() each,
 * cheaper than anything the writer could keep up to date.
 */
static void
store_sqlite_stats(struct store *s, struct store_stats *out)
{
	char wal[PATH_MAX];

	pthread_mutex_lock(&s->ckpt.lock);
	out->checkpoints = s->ckpt.passes;
	pthread_mutex_unlock(&s->ckpt.lock);
	out->wal_frames = atomic_load(&s->wal_frames);
	out->database_bytes = store_sqlite_file_bytes(s->path);
	out->wal_bytes = snprintf(wal, sizeof(wal), "%s-wal", s->path) <
	    (int)sizeof(wal) ? store_sqlite_file_bytes(wal) : -1;
}

const struct store_engine store_sqlite_engine = {
	.name = "sqlite",
	.check = store_sqlite_check,
	.open = store_sqlite_open,
	.close = store_sqlite_close,
	.reconnect = store_reconnect,
	.batch = store_sqlite_batch,
	.probe = store_sqlite_probe,
	.refusal_write = refusal_write,
	.refusal_check = refusal_check,
	.start = store_sqlite_start,
	.stop = store_sqlite_stop,
	.before_batch = store_ckpt_restart,
	.after_pass = store_sqlite_after_pass,
	.abort = store_sqlite_abort,
	.stats = store_sqlite_stats,
	.replay = store_state_replay,
};
