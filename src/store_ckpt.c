/*
 * store_ckpt.c - the checkpointer thread and the writer's WAL hook.
 *
 * SQLite's own checkpoint runs inside the COMMIT that crosses
 * wal_autocheckpoint, on the writer thread and before that batch is
 * answered: copying a thousand random pages and syncing the database
 * held up the batch and everything queued behind it.  Here a second
 * connection copies the WAL after every commit of a batch (after every
 * few, when they are small), on the other core, while the writer goes
 * on.  SQLite starts a WAL over only once every frame in it is in the
 * database, so past STORE_CKPT_RESTART_FRAMES the writer waits for a
 * pass over its last commit before its next transaction, which then
 * starts the WAL over.
 *
 * Threads: the checkpointer thread and the writer meet under ckpt.lock
 * (struct store_ckpt); the rest (struct store_ckpt_writer, the WAL hook)
 * is the writer's.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "store_int.h"
#include "util.h"

/*
 * Past this many WAL frames (32 MiB of 4 KiB pages) the writer waits for
 * the checkpointer to catch up, so that its next commit starts the WAL
 * over; at most this long, and when a reader holds the WAL back, at
 * most once a second.  A wait lasts about one pass (its database sync,
 * mostly) however long the WAL, so a rarer wait costs the writer less.
 * STORE_WAL_LIMIT (store_int.h) is what a WAL that a reader let grow is
 * cut back to once it starts over: above the restart point and a batch,
 * so that in service the file is never cut and grown again.
 */
#define STORE_CKPT_RESTART_FRAMES	8192
#define STORE_CKPT_STEP_FRAMES		256
#define STORE_CKPT_WAIT_MS		200
#define STORE_CKPT_RETRY_US		1000000u

/* The writer's connection, after each commit: how long the WAL is. */
int
store_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store *s = arg;

	(void)db;
	(void)name;
	if (frames < s->wal_frames) {
		/* The WAL started over: a restart wait did its job. */
		s->ckw.waited = 0;
		s->ckw.stuck = 0;
	}
	s->wal_frames = frames;
	s->ckw.committed = 1;
	return SQLITE_OK;
}

static void *
store_ckpt_main(void *arg)
{
	struct store *s = arg;
	uint64_t seq, warned = 0;
	int rc, wal, copied;

	pthread_mutex_lock(&s->ckpt.lock);
	for (;;) {
		while (s->ckpt.asked <= s->ckpt.done && !s->ckpt.stop)
			pthread_cond_wait(&s->ckpt.cond, &s->ckpt.lock);
		if (s->ckpt.stop)
			break;
		seq = s->ckpt.asked;
		pthread_mutex_unlock(&s->ckpt.lock);
		/* PASSIVE: takes no lock the writer or a reader needs. */
		wal = copied = -1;
		rc = sqlite3_wal_checkpoint_v2(s->ckpt.db, NULL,
		    SQLITE_CHECKPOINT_PASSIVE, &wal, &copied);
		if (rc != SQLITE_OK && rc != SQLITE_BUSY &&
		    rc != SQLITE_INTERRUPT &&
		    util_mono_us() - warned > 60 * 1000000u) {
			/* The writer's own errors say more; once a minute. */
			log_warnx("database checkpoint: %s",
			    sqlite3_errmsg(s->ckpt.db));
			warned = util_mono_us();
		}
		pthread_mutex_lock(&s->ckpt.lock);
		s->ckpt.done = seq;
		s->ckpt.full = rc == SQLITE_OK && copied == wal;
		s->ckpt.passes++;
		pthread_cond_broadcast(&s->ckpt.cond);
	}
	pthread_mutex_unlock(&s->ckpt.lock);
	return NULL;
}

/*
 * Writer, after a commit of its own: have the WAL copied once it holds
 * STORE_CKPT_STEP_FRAMES new frames (a batch of 64 has a few hundred),
 * or at once when forced: before a restart wait, and when going idle.
 * Small commits are not worth a pass each: one commit per notification
 * made a pass, and a sync, per notification.
 */
void
store_ckpt_ask(struct store *s, int force)
{
	if (!s->ckw.running || !s->ckw.committed)
		return;
	if (s->wal_frames < s->ckw.asked_frames)
		s->ckw.asked_frames = 0;	/* the WAL started over */
	if (!force && s->wal_frames - s->ckw.asked_frames <
	    STORE_CKPT_STEP_FRAMES)
		return;
	s->ckw.asked_frames = s->wal_frames;
	s->ckw.committed = 0;
	pthread_mutex_lock(&s->ckpt.lock);
	s->ckpt.asked++;
	pthread_cond_broadcast(&s->ckpt.cond);
	pthread_mutex_unlock(&s->ckpt.lock);
}

/*
 * Writer, before a batch: when the WAL is long, wait for a pass over
 * every commit so far.  A reader on an old snapshot keeps frames from
 * being copied; then waiting does not help, and is tried once a second.
 */
void
store_ckpt_restart(struct store *s)
{
	struct timespec ts;
	uint64_t now;

	if (!s->ckw.running || s->wal_frames < STORE_CKPT_RESTART_FRAMES)
		return;
	now = util_mono_us();
	/*
	 * A wait that no restart followed (store_wal_hook forgets those that
	 * one did): a reader still holds the WAL, even after a full pass.
	 */
	if (s->ckw.waited != 0)
		s->ckw.stuck = 1;
	if (s->ckw.stuck && now - s->ckw.waited < STORE_CKPT_RETRY_US)
		return;
	s->ckw.waited = now;
	store_ckpt_ask(s, 1);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += STORE_CKPT_WAIT_MS * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&s->ckpt.lock);
	while (s->ckpt.done < s->ckpt.asked && !s->ckpt.stop)
		if (pthread_cond_timedwait(&s->ckpt.cond, &s->ckpt.lock,
		    &ts) != 0)
			break;
	s->ckw.stuck = s->ckpt.done < s->ckpt.asked || !s->ckpt.full;
	pthread_mutex_unlock(&s->ckpt.lock);
}

/*
 * Start the checkpointer, or leave checkpoints to SQLite on the writer's
 * connection (as before) when it cannot have a connection of its own.
 */
void
store_ckpt_start(struct store *s)
{
	sqlite3 *db = NULL;
	int rc, persist = 1;

	if (s->w.db == NULL || s->q.readonly)
		return;
	if (sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA synchronous = FULL", NULL, NULL,
	    NULL) != SQLITE_OK) {
		log_warnx("database %s: no connection for checkpoints (%s); "
		    "the writer makes them", s->path, db != NULL ?
		    sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return;
	}
	/* Its close must not remove the WAL readers rely on (store_connect). */
	sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	pthread_mutex_lock(&s->ckpt.lock);	/* store_abort() reads it */
	s->ckpt.db = db;
	pthread_mutex_unlock(&s->ckpt.lock);
	s->ckpt.stop = 0;
	s->ckpt.asked = s->ckpt.done = 0;
	s->ckw.asked_frames = 0;
	s->ckw.stuck = 0;
	s->ckw.waited = 0;
	if ((rc = pthread_create(&s->ckw.thread, NULL, store_ckpt_main,
	    s)) != 0) {
		log_warnx("checkpointer thread: %s; the writer makes "
		    "checkpoints", strerror(rc));
		pthread_mutex_lock(&s->ckpt.lock);
		s->ckpt.db = NULL;
		pthread_mutex_unlock(&s->ckpt.lock);
		sqlite3_close(db);
		return;
	}
	s->ckw.running = 1;
	/* For top -H, perf and make bench. */
	pthread_setname_np(s->ckw.thread, "checkpointer");
	sqlite3_wal_hook(s->w.db, store_wal_hook, s);
}

void
store_ckpt_stop(struct store *s)
{
	sqlite3 *db;

	if (!s->ckw.running)
		return;
	pthread_mutex_lock(&s->ckpt.lock);
	s->ckpt.stop = 1;
	pthread_cond_broadcast(&s->ckpt.cond);
	pthread_mutex_unlock(&s->ckpt.lock);
	pthread_join(s->ckw.thread, NULL);
	pthread_mutex_lock(&s->ckpt.lock);
	db = s->ckpt.db;
	s->ckpt.db = NULL;
	s->ckw.running = 0;
	pthread_mutex_unlock(&s->ckpt.lock);
	sqlite3_close(db);
	/* Back to SQLite's own checkpoints for store_apply and the like. */
	if (s->w.db != NULL)
		sqlite3_wal_autocheckpoint(s->w.db, 1000);
}
