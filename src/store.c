/*
 * store.c - the store's life and its writer thread: open and close, the
 * queue of jobs, batches and their transactions, and the idle probe.
 * The module's other files: store_int.h.
 *
 * Durability contract (store.h): WAL journal with synchronous=FULL, and a
 * job's done() callback runs only after the COMMIT holding it returned
 * SQLITE_OK.  A batch whose COMMIT fails is rolled back and every job in
 * it reports status -1, so the HTTP layer answers 503 and Antom retries.
 *
 * Threads: store_submit(), store_abort(), store_stats() and
 * store_writable() from any thread; the writer thread owns the
 * connection once store_start() ran, else the caller of store_apply().
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "log.h"
#include "store_int.h"
#include "util.h"

struct store *
store_open(const char *path, const struct store_options *opt, char *err,
    size_t errlen)
{
	struct store *s;
	int rc;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		util_err(err, errlen, "out of memory");
		return NULL;
	}
	s->opt = *opt;
	/*
	 * Every statement the writer prepares, by the file that owns its
	 * SQL; the upserts are generated here, once, not per job.
	 */
	if (store_state_sql_build('?', s->state_sql, &s->state_text) != 0) {
		util_err(err, errlen, "out of memory");
		goto fail;
	}
	s->stmt_sets[0] = (struct store_stmt_set){ store_db_sql, S_DB_FIRST,
	    S_STATE_FIRST };
	s->stmt_sets[1] = (struct store_stmt_set){ s->state_sql,
	    S_STATE_FIRST, S_RFS_FIRST };
	s->stmt_sets[2] = (struct store_stmt_set){ refusal_sql, S_RFS_FIRST,
	    S_COUNT };
	s->nstmt_sets = STORE_STMT_SETS;
	s->migrated = store_state_migrated;
	if (s->opt.batch_max == 0)
		s->opt.batch_max = 1;
	if (s->opt.at_risk_after_s == 0)
		s->opt.at_risk_after_s = 3600;
	if ((s->q.rfs_pending = calloc(REFUSAL_PENDING_MAX,
	    sizeof(*s->q.rfs_pending))) == NULL ||
	    (s->ledger.local = calloc(REFUSAL_PENDING_MAX,
	    sizeof(*s->ledger.local))) == NULL ||
	    (s->w.plan = calloc(s->opt.batch_max, sizeof(*s->w.plan))) ==
	    NULL) {
		util_err(err, errlen, "out of memory");
		goto fail;
	}
	pthread_mutex_init(&s->q.lock, NULL);
	pthread_cond_init(&s->q.cond, NULL);
	pthread_mutex_init(&s->ckpt.lock, NULL);
	{
		pthread_condattr_t ca;

		/* store_ckpt_restart's deadline is on the monotonic clock. */
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&s->ckpt.cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	if ((s->path = strdup(path)) == NULL) {
		util_err(err, errlen, "out of memory");
		goto fail;
	}
	if ((rc = store_connect(s, err, errlen)) < 0)
		goto fail;
	if (rc == 1) {
		/* Run, refuse writes, and take the database back when it can. */
		s->q.readonly = 1;
		s->w.readonly_logged = util_mono_us();
		log_warnx("database %s is read-only: notifications are answered "
		    "503 until it is writable", path);
	}
	return s;
fail:
	store_close(s);
	return NULL;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->q.running)
		store_stop(s);
	s->ckw.wanted = 0;
	store_ckpt_stop(s);
	store_disconnect(s);
	pthread_mutex_destroy(&s->q.lock);
	pthread_cond_destroy(&s->q.cond);
	pthread_mutex_destroy(&s->ckpt.lock);
	pthread_cond_destroy(&s->ckpt.cond);
	free(s->path);
	free(s->state_text);
	free(s->w.batch);
	free(s->w.plan);
	free(s->q.rfs_pending);
	free(s->ledger.local);
	free(s);
}

void
store_hash_body(struct store_delivery *d)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];

	SHA256(d->body, d->bodylen, digest);
	util_hex(digest, sizeof(digest), d->body_sha256);
}

/*
 * All n jobs in one transaction.  0 when COMMIT returned OK (every job's
 * r.status 0); otherwise everything is rolled back, every r.status is -1,
 * and *job_failed says whether a job's own statements failed (as opposed
 * to BEGIN or COMMIT, which are about the database as a whole).
 */
static int
store_txn(struct store *s, struct store_job **jobs, size_t n,
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

/*
 * Apply n jobs, committed together.  Sets every job's r.status; runs no
 * callback.  If one job's statements fail, nothing of the batch was
 * committed, so each job is retried in a transaction of its own: the bad
 * one fails alone and the others still commit.  A failed BEGIN or COMMIT
 * (database locked past busy_timeout, full, I/O error) fails the batch
 * at once rather than waiting busy_timeout once per job.
 */
static void
store_run_batch(struct store *s, struct store_job **jobs, size_t n)
{
	char now[UTIL_ISO_TIME_LEN];
	int job_failed, dummy;
	size_t i;

	util_now_iso(now);
	if (s->q.readonly && store_reconnect(s) != 0) {
		for (i = 0; i < n; i++)
			jobs[i]->r.status = -1;
		return;
	}
	if (store_txn(s, jobs, n, now, &job_failed) == 0 || n == 1 ||
	    !job_failed)
		return;
	for (i = 0; i < n; i++)
		store_txn(s, &jobs[i], 1, now, &dummy);
}

int
store_apply(struct store *s, const struct store_delivery *d,
    struct store_result *r)
{
	struct store_job job, *jp = &job;

	memset(&job, 0, sizeof(job));
	job.d = *d;
	store_run_batch(s, &jp, 1);
	*r = job.r;
	return r->status;
}

/*
 * Operations (metrics, /healthz).  The batch hook is process-wide and
 * runs on the writer thread after the batch's COMMIT and before its jobs'
 * callbacks, so a scrape that follows an acknowledgement counts its batch.
 */
static _Atomic(store_batch_fn) store_batch_hook;

void
store_set_batch_hook(store_batch_fn fn)
{
	atomic_store(&store_batch_hook, fn);
}

static void
store_batch_observed(size_t n, unsigned failed)
{
	store_batch_fn fn = atomic_load(&store_batch_hook);

	if (fn != NULL)
		fn((unsigned)n, failed);
}

/* Wait for work, or until the next refusal write or count is due. */
static void
store_wait(struct store *s)
{
	struct timespec ts;
	long ns = s->q.rfs_npending > 0 ? (long)REFUSAL_WRITE_US * 1000 :
	    1000000000L;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += ns;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(&s->q.cond, &s->q.lock, &ts);
}


/*
 * Writer, idle: after a failed batch, or while the database is read-only,
 * nothing but new traffic would find out that it is well again, and a
 * health check that holds traffic back would wait for ever.  Every
 * STORE_PROBE_US, try: reconnect, or take the write lock and let it go.
 */
static int
store_probe_due(const struct store *s)
{
	return (s->q.readonly || s->w.last_failed) &&
	    util_mono_us() - s->w.probed >= STORE_PROBE_US;
}

static void
store_probe(struct store *s)
{
	s->w.probed = util_mono_us();
	if (s->q.readonly) {
		if (store_reconnect(s) != 0)
			return;
	} else {
		s->w.no_wait = 1;
		if (store_step(s, S_BEGIN) != 0) {
			s->w.no_wait = 0;
			return;
		}
		s->w.no_wait = 0;
		store_step(s, S_ROLLBACK);
	}
	s->w.last_failed = 0;
	store_batch_observed(0, 0);
}


static void *
store_writer(void *arg)
{
	struct store *s = arg;
	struct store_job **batch = s->w.batch;
	size_t n, i, nrfs;
	unsigned failed;
	int last, idle;

	pthread_mutex_lock(&s->q.lock);
	for (;;) {
		while (s->q.head == NULL && !refusal_write_due(s) &&
		    !s->q.stopping && !refusal_check_due(s) && !store_probe_due(s))
			store_wait(s);
		/* Stopping: the refusals pending now are the last written. */
		if (s->q.head == NULL && s->q.stopping && s->q.rfs_npending == 0)
			break;
		/* Adaptive batch: whatever is queued, up to batch_max. */
		for (n = 0; n < s->opt.batch_max && s->q.head != NULL; n++) {
			batch[n] = s->q.head;
			s->q.head = s->q.head->next;
		}
		if (s->q.head == NULL)
			s->q.tail = NULL;
		s->q.queued -= (unsigned)n;
		nrfs = 0;
		if (refusal_write_due(s)) {
			nrfs = s->q.rfs_npending;
			memcpy(s->ledger.local, s->q.rfs_pending,
			    nrfs * sizeof(*s->ledger.local));
			s->q.rfs_npending = 0;
		}
		s->q.batch_since = n > 0 ? util_mono_us() : 0;
		/* Nothing can be queued once stopping: this pass is the last. */
		last = s->q.stopping && s->q.head == NULL;
		pthread_mutex_unlock(&s->q.lock);

		if (n > 0) {
			if (atomic_load(&s->aborting)) {
				/* Out of time: refuse, Antom will deliver again. */
				for (i = 0; i < n; i++)
					batch[i]->r.status = -1;
			} else {
				store_ckpt_restart(s);
				store_run_batch(s, batch, n);
			}
			for (i = 0, failed = 0; i < n; i++)
				failed += batch[i]->r.status != 0;
			pthread_mutex_lock(&s->q.lock);
			s->q.batch_since = 0;
			s->q.stats.commits += failed < n;
			s->q.stats.jobs += n;
			s->q.stats.failures += failed;
			pthread_mutex_unlock(&s->q.lock);
			store_batch_observed(n, failed);
			s->w.last_failed = failed == n;
			/* Only now, after COMMIT, may anyone be told. */
			for (i = 0; i < n; i++)
				batch[i]->done(batch[i]);
		}
		if (nrfs > 0 || refusal_check_due(s) || (n == 0 &&
		    store_probe_due(s))) {
			/* Database work too: the watchdog and /healthz see it. */
			pthread_mutex_lock(&s->q.lock);
			s->q.batch_since = util_mono_us();
			pthread_mutex_unlock(&s->q.lock);
			if (nrfs > 0)
				refusal_write(s, s->ledger.local, nrfs);
			if (n == 0 && store_probe_due(s))
				store_probe(s);
			/*
			 * The count scans the table: on its own clock, not
			 * after every write (a flood would scan it ten times a
			 * second); the writes keep ledger.held meanwhile.
			 */
			if (refusal_check_due(s))
				refusal_check(s);
			pthread_mutex_lock(&s->q.lock);
			s->q.batch_since = 0;
			pthread_mutex_unlock(&s->q.lock);
		}
		/* Going idle: have everything copied while there is time. */
		pthread_mutex_lock(&s->q.lock);
		idle = s->q.head == NULL;
		pthread_mutex_unlock(&s->q.lock);
		store_ckpt_ask(s, idle);
		pthread_mutex_lock(&s->q.lock);
		if (last) {
			/* Refused while we wrote the last ones: counted only. */
			s->q.stats.refusals_dropped += s->q.rfs_npending;
			s->q.rfs_npending = 0;
			break;
		}
	}
	pthread_mutex_unlock(&s->q.lock);
	return NULL;
}

int
store_start(struct store *s, char *err, size_t errlen)
{
	int rc;

	s->q.stopping = 0;
	if (s->w.batch == NULL &&
	    (s->w.batch = calloc(s->opt.batch_max, sizeof(*s->w.batch))) == NULL) {
		util_err(err, errlen, "out of memory");
		return -1;
	}
	s->ckw.wanted = 1;
	store_ckpt_start(s);
	if ((rc = pthread_create(&s->w.thread, NULL, store_writer, s)) != 0) {
		store_ckpt_stop(s);
		util_err(err, errlen, "writer thread: %s", strerror(rc));
		return -1;
	}
	pthread_setname_np(s->w.thread, "writer");
	pthread_mutex_lock(&s->q.lock);
	s->q.running = 1;
	pthread_mutex_unlock(&s->q.lock);
	return 0;
}

enum store_submit_result
store_submit(struct store *s, struct store_job *job)
{
	pthread_mutex_lock(&s->q.lock);
	if (!s->q.running || s->q.stopping) {
		pthread_mutex_unlock(&s->q.lock);
		return STORE_SUBMIT_STOPPING;
	}
	if (s->q.queued >= s->opt.queue_max) {
		pthread_mutex_unlock(&s->q.lock);
		return STORE_SUBMIT_FULL;
	}
	job->next = NULL;
	if (s->q.tail != NULL)
		s->q.tail->next = job;
	else
		s->q.head = job;
	s->q.tail = job;
	s->q.queued++;
	pthread_cond_signal(&s->q.cond);
	pthread_mutex_unlock(&s->q.lock);
	return STORE_SUBMIT_OK;
}

void
store_stop(struct store *s)
{
	if (!s->q.running)
		return;
	pthread_mutex_lock(&s->q.lock);
	s->q.stopping = 1;
	pthread_cond_signal(&s->q.cond);
	pthread_mutex_unlock(&s->q.lock);
	pthread_join(s->w.thread, NULL);
	/* No reconnect from now on starts it again (store_reconnect). */
	s->ckw.wanted = 0;
	store_ckpt_stop(s);
	pthread_mutex_lock(&s->q.lock);
	s->q.running = 0;
	pthread_mutex_unlock(&s->q.lock);
}

void
store_abort(struct store *s)
{
	atomic_store(&s->aborting, 1);
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

void
store_stats(struct store *s, struct store_stats *out)
{
	pthread_mutex_lock(&s->q.lock);
	*out = s->q.stats;
	out->queued = s->q.queued;
	out->busy_us = s->q.batch_since != 0 ? util_mono_us() - s->q.batch_since : 0;
	pthread_mutex_unlock(&s->q.lock);
	pthread_mutex_lock(&s->ckpt.lock);
	out->checkpoints = s->ckpt.passes;
	pthread_mutex_unlock(&s->ckpt.lock);
	out->wal_frames = atomic_load(&s->wal_frames);
}

int
store_writable(struct store *s)
{
	int w;

	pthread_mutex_lock(&s->q.lock);
	w = !s->q.readonly;
	pthread_mutex_unlock(&s->q.lock);
	return w;
}
