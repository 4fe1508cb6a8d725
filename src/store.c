/*
 * store.c - the store's life and its writer thread: open and close, the
 * engine picked by the database string, the queue of jobs, batches, the
 * refusals' schedule and the idle probe.  Engine-neutral: what the
 * database does goes through s->engine (struct store_engine).  The
 * module's other files: store_int.h.
 *
 * Durability contract (store.h): a job's done() callback runs only after
 * the engine's batch returned 0, that is after the COMMIT holding it
 * returned success (SQLite: WAL journal with synchronous=FULL).  A batch
 * whose COMMIT fails is rolled back and every job in it reports status
 * -1, so the HTTP layer answers 503 and Antom retries.
 *
 * An engine with a settle() (PostgreSQL) also answers by a deadline,
 * commit_deadline_ms after a job was queued: a batch whose COMMIT has not
 * returned by then (a stalled synchronous standby) is answered 503 while
 * the COMMIT, never cancelled, keeps going; the writer waits for its
 * outcome (store_settle()) and meanwhile answers 503, without the
 * database, every job queued longer than the deadline.  What that COMMIT
 * did commit, Antom's redelivery finds stored: a duplicate, SUCCESS.
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

#include <openssl/sha.h>

#include "log.h"
#include "store_int.h"
#include "util.h"

/*
 * A libpq connection string: a URI, or key=value pairs naming a host or
 * a database (a keyword at the start or after a space, so that a path
 * with "host=" in a directory's name is still a path).
 */
static int
store_is_conninfo(const char *database)
{
	static const char *const keys[] = { "host=", "hostaddr=", "dbname=" };
	const char *p;
	size_t i;

	if (strncmp(database, "postgresql://", 13) == 0 ||
	    strncmp(database, "postgres://", 11) == 0)
		return 1;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		for (p = database; (p = strstr(p, keys[i])) != NULL; p++)
			if (p == database || p[-1] == ' ' || p[-1] == '\t')
				return 1;
	return 0;
}

const char *
store_display(const char *db, char *buf, size_t cap)
{
	const char *p = db, *at, *end;
	size_t n = 0;
	char quote;

	if (cap == 0)
		return buf;
	if (!store_is_conninfo(db)) {
		snprintf(buf, cap, "%s", db);
		return buf;
	}
	/* A URI's user:password@: the user alone. */
	if ((at = strstr(db, "://")) != NULL) {
		at += 3;
		end = at + strcspn(at, "@/?");
		if (*end == '@' && memchr(at, ':', (size_t)(end - at)) != NULL) {
			n = (size_t)(at - db) + strcspn(at, ":");
			p = end;
		}
	}
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, db, n);
	while (*p != '\0' && n + 1 < cap) {
		/* password=value, a key or a URI parameter, value maybe quoted. */
		if (strncmp(p, "password=", 9) == 0 && (p == db ||
		    strchr(" \t?&", p[-1]) != NULL)) {
			p += 9;
			if ((quote = *p) == '\'')
				for (p++; *p != '\0' && *p != quote; p++)
					p += p[0] == '\\' && p[1] != '\0';
			while (*p != '\0' && strchr(" \t&", *p) == NULL)
				p++;
			while (*p == ' ' || *p == '\t' || *p == '&')
				p++;
			continue;
		}
		buf[n++] = *p++;
	}
	/* A trailing separator the password left. */
	while (n > 0 && strchr(" \t&?", buf[n - 1]) != NULL)
		n--;
	buf[n] = '\0';
	return buf;
}

/* The engine for the database string: a path is SQLite. */
static const struct store_engine *
store_engine_for(const char *database)
{
	return store_is_conninfo(database) ? &store_pg_engine :
	    &store_sqlite_engine;
}

struct store *
store_open(const char *path, const struct store_options *opt, char *err,
    size_t errlen)
{
	const struct store_engine *engine;
	struct store *s;
	int rc;

	engine = store_engine_for(path);
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		util_err(err, errlen, "out of memory");
		return NULL;
	}
	s->opt = *opt;
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
	if ((s->path = strdup(path)) == NULL) {
		util_err(err, errlen, "out of memory");
		goto fail;
	}
	s->engine = engine;
	if ((rc = engine->open(s, err, errlen)) < 0)
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

int
store_check(const char *path, char *err, size_t errlen)
{
	return store_engine_for(path)->check(path, err, errlen);
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->q.running)
		store_stop(s);
	if (s->engine != NULL)
		s->engine->close(s);
	pthread_mutex_destroy(&s->q.lock);
	pthread_cond_destroy(&s->q.cond);
	free(s->path);
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
	if (s->q.readonly && s->engine->reconnect(s) != 0) {
		for (i = 0; i < n; i++)
			jobs[i]->r.status = -1;
		return;
	}
	if (s->engine->batch(s, jobs, n, now, &job_failed) == 0 || n == 1 ||
	    !job_failed)
		return;
	for (i = 0; i < n; i++)
		s->engine->batch(s, &jobs[i], 1, now, &dummy);
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

enum store_replay_result
store_replay(struct store *s, int64_t id, struct store_result *r)
{
	return s->engine->replay(s, id, r);
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
 * STORE_PROBE_US, try: reconnect, or the engine's probe (take the write
 * lock and let it go).
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
	if ((s->q.readonly ? s->engine->reconnect(s) :
	    s->engine->probe(s)) != 0)
		return;
	s->w.last_failed = 0;
	store_batch_observed(0, 0);
}

/*
 * Under lock: take off the queue the jobs queued longer than the
 * deadline (the queue is in arrival order), as a list.
 */
static struct store_job *
store_expired_take(struct store *s)
{
	struct store_job *first = s->q.head, *last = NULL, *j;
	uint64_t now = util_mono_us(), d = s->deadline_ms * 1000ull;
	unsigned n = 0;

	for (j = s->q.head; j != NULL && now - j->queued_at >= d; j = j->next) {
		last = j;
		n++;
	}
	if (last == NULL)
		return NULL;
	s->q.head = last->next;
	if (s->q.head == NULL)
		s->q.tail = NULL;
	last->next = NULL;
	s->q.queued -= n;
	s->q.stats.jobs += n;
	s->q.stats.failures += n;
	return first;
}

/* Answer them 503: out of time, the database never touched. */
static void
store_expired_answer(struct store_job *j)
{
	struct store_job *next;

	for (; j != NULL; j = next) {
		next = j->next;
		memset(&j->r, 0, sizeof(j->r));
		j->r.status = -1;
		j->done(j);
	}
}

/*
 * The batch's COMMIT outlasted its deadline and its jobs were answered
 * 503 (engine->settle, store_int.h): wait for its outcome, never
 * cancelling it, the writer busy since the batch began (busy_us, so
 * /healthz and the watchdog see it), and meanwhile answer 503 whatever
 * waits longer than the deadline.  Stopping, wait one deadline more;
 * aborting, not at all: the outcome is then logged as unknown, and the
 * writer ends as store_abort() makes it.  Those jobs were answered 503
 * either way, so none is acknowledged that may be lost.
 */
static void
store_settle(struct store *s, uint64_t since)
{
	struct store_job *expired;
	uint64_t now, stop_by = 0;
	int rc, give_up;

	pthread_mutex_lock(&s->q.lock);
	s->q.batch_since = since;
	s->q.late_since = util_mono_us();
	s->q.stats.commits_late++;
	pthread_mutex_unlock(&s->q.lock);
	do {
		pthread_mutex_lock(&s->q.lock);
		expired = store_expired_take(s);
		now = util_mono_us();
		if (s->q.stopping && stop_by == 0)
			stop_by = now + s->deadline_ms * 1000ull;
		pthread_mutex_unlock(&s->q.lock);
		store_expired_answer(expired);
		give_up = atomic_load(&s->aborting) || (stop_by != 0 &&
		    now >= stop_by);
	} while ((rc = s->engine->settle(s, now + STORE_SETTLE_US,
	    give_up)) == 1);
	pthread_mutex_lock(&s->q.lock);
	s->q.batch_since = 0;
	s->q.late_since = 0;
	pthread_mutex_unlock(&s->q.lock);
	/* Given up: the rest of the shutdown leaves the database alone. */
	if (give_up)
		atomic_store(&s->aborting, 1);
	if (rc == 0) {
		/* Late, but committed: the database is well. */
		s->w.last_failed = 0;
		store_batch_observed(0, 0);
	}
}

static void *
store_writer(void *arg)
{
	struct store *s = arg;
	struct store_job **batch = s->w.batch, *expired;
	size_t n, i, nrfs;
	uint64_t since;
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
		/* Out of time already (the batch before was slow): 503. */
		expired = s->deadline_ms > 0 ?
		    store_expired_take(s) : NULL;
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
		s->q.batch_since = since = n > 0 ? util_mono_us() : 0;
		/* Nothing can be queued once stopping: this pass is the last. */
		last = s->q.stopping && s->q.head == NULL;
		pthread_mutex_unlock(&s->q.lock);
		store_expired_answer(expired);

		if (n > 0) {
			/* The oldest job's: the queue is in arrival order. */
			s->w.deadline = s->deadline_ms > 0 ?
			    batch[0]->queued_at +
			    s->deadline_ms * 1000ull : 0;
			if (atomic_load(&s->aborting)) {
				/* Out of time: refuse, Antom will deliver again. */
				for (i = 0; i < n; i++)
					batch[i]->r.status = -1;
			} else {
				s->engine->before_batch(s);
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
			if (s->w.commit_left)
				store_settle(s, since);
		}
		if (nrfs > 0 || refusal_check_due(s) || (n == 0 &&
		    store_probe_due(s))) {
			/* Database work too: the watchdog and /healthz see it. */
			pthread_mutex_lock(&s->q.lock);
			s->q.batch_since = since = util_mono_us();
			pthread_mutex_unlock(&s->q.lock);
			if (nrfs > 0) {
				s->w.deadline = s->deadline_ms > 0 ?
				    since + s->deadline_ms * 1000ull :
				    0;
				s->engine->refusal_write(s, s->ledger.local,
				    nrfs);
				if (s->w.commit_left)
					store_settle(s, since);
			}
			if (n == 0 && store_probe_due(s))
				store_probe(s);
			/*
			 * The count scans the table: on its own clock, not
			 * after every write (a flood would scan it ten times a
			 * second); the writes keep ledger.held meanwhile.
			 */
			if (refusal_check_due(s))
				s->engine->refusal_check(s);
			pthread_mutex_lock(&s->q.lock);
			s->q.batch_since = 0;
			pthread_mutex_unlock(&s->q.lock);
		}
		/* Going idle: the engine's housekeeping, while there is time. */
		pthread_mutex_lock(&s->q.lock);
		idle = s->q.head == NULL;
		pthread_mutex_unlock(&s->q.lock);
		s->engine->after_pass(s, idle);
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

void
store_set_commit_deadline(struct store *s, unsigned ms)
{
	/* SQLite's waits are bounded by busy_timeout_ms. */
	s->deadline_ms = s->engine->settle != NULL ? ms : 0;
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
	s->engine->start(s);
	if ((rc = pthread_create(&s->w.thread, NULL, store_writer, s)) != 0) {
		s->engine->stop(s);
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
	/* Set before the writer started; SQLite needs no clock here. */
	uint64_t now = s->deadline_ms > 0 ? util_mono_us() : 0;

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
	job->queued_at = now;
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
	s->engine->stop(s);
	pthread_mutex_lock(&s->q.lock);
	s->q.running = 0;
	pthread_mutex_unlock(&s->q.lock);
}

void
store_abort(struct store *s)
{
	atomic_store(&s->aborting, 1);
	s->engine->abort(s);
}

void
store_stats(struct store *s, struct store_stats *out)
{
	pthread_mutex_lock(&s->q.lock);
	*out = s->q.stats;
	out->queued = s->q.queued;
	out->busy_us = s->q.batch_since != 0 ? util_mono_us() - s->q.batch_since : 0;
	out->late_us = s->q.late_since != 0 ? util_mono_us() - s->q.late_since :
	    0;
	pthread_mutex_unlock(&s->q.lock);
	s->engine->stats(s, out);
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
