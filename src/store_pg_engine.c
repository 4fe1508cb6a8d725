/*
 * store_pg_engine.c - the PostgreSQL engine's table (store_pg_engine,
 * store_int.h) and its glue: the writer's connection, opened on the
 * database string as given (a libpq URI or conninfo, so that several
 * hosts with target_session_attrs=read-write find the primary after a
 * failover), a batch (store_pg.c), reconnecting after a lost connection,
 * the probe, and the refusals ledger.
 *
 * A lost connection, or a COMMIT that failed, answers the batch's jobs
 * -1 (503: Antom delivers again, and what did commit is then a
 * duplicate) and sets s->q.readonly, so that the writer reconnects before
 * the next batch and /healthz says the database is not writable
 * meanwhile (issue 16 point 3).
 *
 * A COMMIT that has not returned by the writer's deadline (a stalled
 * synchronous standby: commit_deadline_ms) is not cancelled: its jobs are
 * answered 503 and settle() waits for its outcome, logged as
 * msg=commit_late with committed=yes (Antom's redelivery is then a
 * duplicate), no, local (a WARNING: on the primary, perhaps alone) or
 * unknown (the connection failed, or shutdown gave up on it).  What the
 * late transaction held waits for that outcome: its discrepancy lines
 * are logged unless it rolled back, and its refusals are queued again
 * unless it committed (so that one is neither lost nor counted twice).
 *
 * Threads: as struct store_engine says.  The connection is the writer's
 * alone; abort() and stats() touch nothing of it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"
#include "store_int.h"
#include "store_pg.h"
#include "util.h"

#define STORE_PG_LOG_US		(10 * 1000000u)	/* unreachable: log again */
#define STORE_PG_SIZE_US	(60 * 1000000u)	/* database size: again */

/* A discrepancy of a batch whose COMMIT is late, to log once it settles. */
struct store_pg_noted {
	int64_t			 nid;
	enum notif_kind		 kind;
	enum store_outcome	 outcome;
	char			*client_id;	/* one allocation, the three */
	const char		*object_id;
	const char		*note;
};

/* The engine's part of struct store: the writer's. */
struct store_pg_conn {
	PGconn		*c;
	uint64_t	 logged;	/* last "unreachable" line, mono us */
	/* The COMMIT left outstanding (s->w.commit_left): what it holds. */
	uint64_t	 late_at;	/* past its deadline at, mono us */
	size_t		 late_jobs;	/* answered 503 */
	struct store_pg_noted *late_noted;
	size_t		 late_nnoted;
	struct refusal	*late_rf;	/* copies, late_refusals of them */
	size_t		 late_refusals;
	uint64_t	 late_recorded;	/* kept by it, if it commits */
	uint64_t	 sized;		/* database size last taken, mono us */
};

/*
 * The refusals ledger's statements: refusal.c's refusal_sql in
 * PostgreSQL's dialect ('$N'; greatest() for max(); authentic is 0 or 1,
 * not a boolean; times computed by the server as ISO 8601 UTC text with
 * milliseconds, as the columns hold them).  Parameters as refusal.c
 * binds them.
 */
#define PG_ISO(t)	"to_char(" t ", 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define PG_AGO(p)	PG_ISO("(now() AT TIME ZONE 'UTC') + " p "::interval")
#define PG_AT_RISK(p)	"(authentic = 1 AND first_refused_at < " PG_AGO(p) ")"

static const char store_pg_rfs_insert[] =
    "INSERT INTO refusals AS r (body_sha256, client_id, status, reason,"
    " request_time, notify_type, kind, object_id, first_refused_at,"
    " last_refused_at, refusal_count, authentic) VALUES ($1, $2, $3,"
    " $4, $5, $6, $7, $8, $9, $9, 1, $10)"
    " ON CONFLICT (body_sha256, client_id) DO UPDATE SET"
    " status = excluded.status, reason = excluded.reason,"
    " request_time = excluded.request_time,"
    " notify_type = coalesce(excluded.notify_type, r.notify_type),"
    " kind = coalesce(excluded.kind, r.kind),"
    " object_id = coalesce(excluded.object_id, r.object_id),"
    " last_refused_at = excluded.last_refused_at,"
    " refusal_count = r.refusal_count + 1"
    " WHERE r.authentic = excluded.authentic";
static const char store_pg_rfs_touch[] =
    "UPDATE refusals SET status = $3, reason = $4,"
    " request_time = coalesce($5, request_time),"
    " notify_type = CASE WHEN authentic < $10 THEN $6 ELSE"
    " coalesce(notify_type, $6) END,"
    " kind = CASE WHEN authentic < $10 THEN $7 ELSE coalesce(kind, $7)"
    " END,"
    " object_id = CASE WHEN authentic < $10 THEN $8 ELSE"
    " coalesce(object_id, $8) END,"
    " first_refused_at = CASE WHEN authentic < $10 THEN $9 ELSE"
    " first_refused_at END,"
    " refusal_count = CASE WHEN authentic < $10 THEN 1 ELSE"
    " refusal_count + 1 END,"
    " last_refused_at = $9, authentic = greatest(authentic, $10)"
    " WHERE body_sha256 = $1 AND client_id = $2 AND authentic <= $10";
static const char store_pg_rfs_stored[] =
    "SELECT 1 FROM notifications WHERE client_id = $1 AND body_sha256 = $2";
static const char store_pg_rfs_count[] =
    "SELECT count(*), coalesce(sum(CASE WHEN " PG_AT_RISK("$1")
    " THEN 1 ELSE 0 END), 0), coalesce(sum(1 - authentic), 0)"
    " FROM refusals";
static const char store_pg_rfs_prune[] =
    "DELETE FROM refusals WHERE last_refused_at < " PG_AGO("'-7 days'");
static const char store_pg_rfs_prune_sample[] =
    "DELETE FROM refusals WHERE authentic = 0 AND first_refused_at < "
    PG_AGO("$1");

/* libpq's messages end with a newline: their length without it. */
static int
store_pg_msglen(const char *msg)
{
	size_t n = strlen(msg);

	while (n > 0 && msg[n - 1] == '\n')
		n--;
	return (int)n;
}

/* The writer's connection is gone or in doubt: reconnect before the next. */
static void
store_pg_lost(struct store *s, const char *why)
{
	log_warnx("database: PostgreSQL: %s: notifications are answered 503 "
	    "until it is reachable", why);
	pthread_mutex_lock(&s->q.lock);
	s->q.readonly = 1;
	pthread_mutex_unlock(&s->q.lock);
	s->pg->logged = util_mono_us();
}

static int
store_pg_open(struct store *s, char *err, size_t errlen)
{
	int from;

	if ((s->pg = calloc(1, sizeof(*s->pg))) == NULL) {
		util_err(err, errlen, "out of memory");
		return -1;
	}
	atomic_store(&s->database_bytes, -1);	/* till the writer takes it */
	if ((s->pg->c = store_pg_connect(s->path)) == NULL) {
		util_err(err, errlen, "cannot connect to PostgreSQL: out of "
		    "memory");
		return -1;
	}
	if (PQstatus(s->pg->c) != CONNECTION_OK) {
		util_err(err, errlen, "cannot connect to PostgreSQL: %.*s",
		    store_pg_msglen(PQerrorMessage(s->pg->c)),
		    PQerrorMessage(s->pg->c));
		return -1;
	}
	if (store_pg_migrate(s->pg->c, &from, err, errlen) != 0)
		return -1;
	if (from == 0)
		log_info("database: PostgreSQL: schema created");
	return 0;
}

static void
store_pg_late_forget(struct store_pg_conn *pc)
{
	size_t i;

	for (i = 0; i < pc->late_nnoted; i++)
		free(pc->late_noted[i].client_id);
	free(pc->late_noted);
	pc->late_noted = NULL;
	pc->late_nnoted = 0;
	free(pc->late_rf);
	pc->late_rf = NULL;
	pc->late_refusals = 0;
}

/*
 * The discrepancies of a batch whose COMMIT was left outstanding, kept
 * until it settles.  Out of memory, they are logged now: a line that
 * perhaps did not commit beats a contradiction passed in silence.
 */
static void
store_pg_late_notes(struct store_pg_conn *pc, const struct store_plan *p,
    struct store_job **jobs, size_t n)
{
	struct store_pg_noted *m;
	const char *obj;
	size_t i, a, b, c;

	pc->late_nnoted = 0;
	if ((pc->late_noted = calloc(n, sizeof(*pc->late_noted))) == NULL) {
		store_state_committed(p, jobs, n);
		return;
	}
	for (i = 0; i < n; i++) {
		if (p[i].repeat || p[i].note[0] == '\0')
			continue;
		obj = notif_object_id(p[i].d->notif);
		a = strlen(p[i].d->client_id) + 1;
		b = obj != NULL ? strlen(obj) + 1 : 0;
		c = strlen(p[i].note) + 1;
		m = &pc->late_noted[pc->late_nnoted];
		if ((m->client_id = malloc(a + b + c)) == NULL) {
			store_log_discrepancy(p[i].d->notif->kind,
			    p[i].d->client_id, obj, jobs[i]->r.notification_id,
			    p[i].outcome, p[i].note);
			continue;
		}
		memcpy(m->client_id, p[i].d->client_id, a);
		m->object_id = obj != NULL ? memcpy(m->client_id + a, obj, b) :
		    NULL;
		m->note = memcpy(m->client_id + a + b, p[i].note, c);
		m->nid = jobs[i]->r.notification_id;
		m->kind = p[i].d->notif->kind;
		m->outcome = p[i].outcome;
		pc->late_nnoted++;
	}
}

/*
 * What the late transaction held, once its outcome o is known.  Its
 * discrepancies are logged unless it rolled back (committed perhaps: if
 * it did not, the redelivery says it again; if it did, nothing else
 * would).  Its refusals are counted if it committed, else queued again:
 * a refusal counted twice on a primary that kept it beats one lost with
 * it.
 */
static void
store_pg_late_settled(struct store *s, enum store_pg_outcome o)
{
	struct store_pg_conn *pc = s->pg;
	struct store_pg_noted *m;
	uint64_t dropped = 0;
	size_t i;

	for (i = 0; i < pc->late_nnoted && o != STORE_PG_ROLLED_BACK; i++) {
		m = &pc->late_noted[i];
		store_log_discrepancy(m->kind, m->client_id, m->object_id,
		    m->nid, m->outcome, m->note);
	}
	if (pc->late_refusals > 0) {
		if (o == STORE_PG_COMMITTED)
			refusal_written(s, pc->late_recorded, 0, 1);
		else {
			refusal_requeue(s, pc->late_rf, pc->late_refusals,
			    &dropped);
			s->ledger.checked = 0;	/* recount */
			refusal_written(s, 0, dropped, 0);
		}
	}
	store_pg_late_forget(pc);
}

static void
store_pg_close(struct store *s)
{
	if (s->pg == NULL)
		return;
	store_pg_late_forget(s->pg);
	PQfinish(s->pg->c);
	free(s->pg);
	s->pg = NULL;
}

/*
 * Connect again: libpq tries every host of the string again, so this
 * finds a promoted standby.  The schema is checked, as at open.
 */
static int
store_pg_reconnect(struct store *s)
{
	struct store_pg_conn *pc = s->pg;
	char err[512];
	int from;

	if (atomic_load(&s->aborting))
		return -1;
	PQreset(pc->c);
	if (PQstatus(pc->c) != CONNECTION_OK) {
		util_err(err, sizeof(err), "%.*s",
		    store_pg_msglen(PQerrorMessage(pc->c)), PQerrorMessage(pc->c));
		goto fail;
	}
	if (store_pg_migrate(pc->c, &from, err, sizeof(err)) != 0)
		goto fail;
	pthread_mutex_lock(&s->q.lock);
	s->q.readonly = 0;
	pthread_mutex_unlock(&s->q.lock);
	log_info("database: PostgreSQL: connected again, to %s port %s",
	    PQhost(pc->c), PQport(pc->c));
	return 0;
fail:
	if (util_mono_us() - pc->logged >= STORE_PG_LOG_US) {
		log_warnx("database: PostgreSQL: cannot connect: %s", err);
		pc->logged = util_mono_us();
	}
	return -1;
}

/*
 * The batch, in one transaction (store_pg_record).  A failure with the
 * connection well and the COMMIT not reached is the jobs' own: retried
 * one by one.
 */
static int
store_pg_batch(struct store *s, struct store_job **jobs, size_t n,
    const char *now, int *job_failed)
{
	struct store_pg_conn *pc = s->pg;
	struct store_pg_record_stats st;
	char err[512];
	size_t i;
	int rc;

	*job_failed = 0;
	if (s->w.commit_left) {
		/* A COMMIT outstanding (store.c's retries one by one): 503. */
		for (i = 0; i < n; i++) {
			memset(&jobs[i]->r, 0, sizeof(jobs[i]->r));
			jobs[i]->r.status = -1;
		}
		return -1;
	}
	store_pg_commit_by(s->w.deadline);
	rc = store_pg_record(pc->c, s->w.plan, jobs, n, now, &st, err,
	    sizeof(err));
	store_pg_commit_by(0);
	if (rc == 0)
		return 0;
	if (store_pg_commit_left()) {
		s->w.commit_left = 1;
		pc->late_at = util_mono_us();
		pc->late_jobs = n;
		store_pg_late_notes(pc, s->w.plan, jobs, n);
		log_warnx("database: PostgreSQL: the COMMIT of %zu "
		    "notifications outlasted commit_deadline_ms (a synchronous "
		    "standby stalled?): answered 503, its outcome awaited", n);
		return -1;
	}
	if (PQstatus(s->pg->c) != CONNECTION_OK || st.commit_failed)
		store_pg_lost(s, err);
	else if (st.lock_timeout)
		/* Another's lock held past the deadline: the batch's, not a job's. */
		log_warnx("database: %s (another instance's COMMIT waiting for "
		    "a standby?): answered 503", err);
	else {
		log_warnx("database: %s", err);
		*job_failed = 1;
	}
	return -1;
}

/* A round trip, and the server still takes writes. */
static int
store_pg_probe(struct store *s)
{
	PGresult *r;
	int rc = -1;

	if (s->w.commit_left)
		return -1;
	r = PQexec(s->pg->c, "SELECT pg_is_in_recovery()");

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	    strcmp(PQgetvalue(r, 0, 0), "f") == 0)
		rc = 0;
	PQclear(r);
	if (rc != 0)
		store_pg_lost(s, "the probe failed");
	return rc;
}

/* One statement; 0 with the rows it changed or returned in *rows, or -1. */
static int
store_pg_run(PGconn *c, const char *sql, int nparams,
    const char *const *values, const Oid *types, int *rows)
{
	PGresult *r = PQexecParams(c, sql, nparams, types, values, NULL,
	    NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	int rc = 0;

	if (st == PGRES_TUPLES_OK)
		*rows = PQntuples(r);
	else if (st == PGRES_COMMAND_OK)
		*rows = atoi(PQcmdTuples(r));
	else {
		log_warnx("database: refusals: %.*s", store_pg_msglen(
		    PQresultErrorMessage(r)), PQresultErrorMessage(r));
		rc = -1;
	}
	PQclear(r);
	return rc;
}

static const char *
store_pg_claim(const char *v)
{
	return v[0] != '\0' ? v : NULL;
}

/*
 * As refusal_write() (refusal.c): n refusals in a transaction of their
 * own, never waiting long for another instance's row locks; what the
 * database cannot take goes back in the queue.
 */
static void
store_pg_refusal_write(struct store *s, const struct refusal *rf, size_t n)
{
	static const Oid types[10] = { 0, 0, STORE_PG_INT8, 0, 0, 0, 0, 0, 0,
	    STORE_PG_INT8 };
	PGconn *c = s->pg->c;
	char now[UTIL_ISO_TIME_LEN], status[16], err[256];
	const char *v[10];
	uint64_t recorded = 0, dropped = 0, txns = 0;
	const char *sql;
	size_t i;
	int rows, kept, rc;

	if (refusal_write_start(s, n, now, &dropped) != 0)
		goto out;
	if (s->w.commit_left || (s->q.readonly && store_pg_reconnect(s) != 0) ||
	    store_pg_exec(c, "BEGIN; SET LOCAL lock_timeout = '100ms'", err,
	    sizeof(err)) != 0) {
		refusal_requeue(s, rf, n, &dropped);
		goto out;
	}
	for (i = 0; i < n; i++) {
		/* Stored already (it raced its own retry): nothing at risk. */
		if (rf[i].body_sha256[0] != '\0') {
			v[0] = rf[i].client_id;
			v[1] = rf[i].body_sha256;
			if (store_pg_run(c, store_pg_rfs_stored, 2, v, NULL,
			    &rows) != 0)
				goto fail;
			if (rows > 0)
				continue;
		}
		snprintf(status, sizeof(status), "%u", rf[i].status);
		v[0] = rf[i].body_sha256;
		v[1] = rf[i].client_id;
		v[2] = status;
		v[3] = rf[i].reason;
		v[4] = store_pg_claim(rf[i].request_time);
		v[5] = store_pg_claim(rf[i].notify_type);
		v[6] = store_pg_claim(rf[i].kind);
		v[7] = store_pg_claim(rf[i].object_id);
		v[8] = now;
		v[9] = rf[i].authentic ? "1" : "0";
		sql = store_pg_rfs_touch;
		for (;;) {
			if (store_pg_run(c, sql, 10, v, types, &rows) != 0)
				goto fail;
			kept = rows > 0;
			if (kept || sql == store_pg_rfs_insert ||
			    !refusal_may_insert(s, &rf[i]))
				break;
			sql = store_pg_rfs_insert;
		}
		refusal_tally(s, &rf[i], kept, sql == store_pg_rfs_insert,
		    &recorded, &dropped);
	}
	store_pg_commit_by(s->w.deadline);
	rc = store_pg_commit(c, err, sizeof(err));
	store_pg_commit_by(0);
	if (rc == 0) {
		txns = 1;
		goto out;
	}
	if (store_pg_commit_left()) {
		/* Settled later: queued again unless it commits. */
		s->w.commit_left = 1;
		s->pg->late_at = util_mono_us();
		s->pg->late_jobs = 0;
		if ((s->pg->late_rf = malloc(n * sizeof(*rf))) == NULL)
			refusal_write_failed(s, rf, n, &recorded, &dropped);
		else {
			memcpy(s->pg->late_rf, rf, n * sizeof(*rf));
			s->pg->late_refusals = n;
			s->pg->late_recorded = recorded;
			recorded = 0;
		}
		goto out;
	}
	log_warnx("database: refusals: %s", err);
fail:
	PQclear(PQexec(c, "ROLLBACK"));
	if (PQstatus(c) != CONNECTION_OK)
		store_pg_lost(s, "connection lost");
	refusal_write_failed(s, rf, n, &recorded, &dropped);
out:
	refusal_written(s, recorded, dropped, txns);
}

/* As refusal_check() (refusal.c): prune, count, publish. */
static void
store_pg_refusal_check(struct store *s)
{
	PGconn *c = s->pg->c;
	PGresult *r;
	char ago[REFUSAL_AGO_LEN], sample_ago[REFUSAL_AGO_LEN], err[256];
	const char *v[1];
	int64_t held, at_risk, sample;
	uint64_t now = util_mono_us();
	int forgot, rows;

	s->ledger.checked = now;
	if (s->q.readonly || s->w.commit_left || atomic_load(&s->aborting))
		return;
	refusal_ago(ago, s->opt.at_risk_after_s);
	refusal_ago(sample_ago, REFUSAL_SAMPLE_AGE_S);
	for (;;) {
		v[0] = ago;
		r = PQexecParams(c, store_pg_rfs_count, 1, NULL, v, NULL, NULL,
		    0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
			log_warnx("database: refusals: %.*s", store_pg_msglen(
			    PQresultErrorMessage(r)), PQresultErrorMessage(r));
			PQclear(r);
			return;
		}
		held = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		at_risk = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
		sample = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
		PQclear(r);
		if (held == 0 || (s->ledger.pruned != 0 &&
		    now - s->ledger.pruned < 600 * 1000000u &&
		    sample < REFUSAL_SAMPLE_MAX))
			break;
		s->ledger.pruned = now;
		if (store_pg_exec(c, "SET lock_timeout = '100ms'", err,
		    sizeof(err)) != 0)
			return;
		v[0] = sample_ago;
		forgot = 0;
		if (store_pg_run(c, store_pg_rfs_prune, 0, NULL, NULL,
		    &forgot) == 0 && sample > 0 && store_pg_run(c,
		    store_pg_rfs_prune_sample, 1, v, NULL, &rows) == 0)
			forgot += rows;
		(void)store_pg_exec(c, "RESET lock_timeout", err, sizeof(err));
		if (forgot == 0)
			break;
	}
	refusal_counted(s, held, at_risk, sample, now);
}

/*
 * The COMMIT left outstanding: wait for it until until, then say what it
 * did in one line.  Anything but committed drops the connection, as a
 * failed COMMIT does (store_pg_batch).
 */
static int
store_pg_settle(struct store *s, uint64_t until, int give_up)
{
	static const char *const said[] = {
		[STORE_PG_COMMITTED] = "yes",
		[STORE_PG_LOCAL] = "local",
		[STORE_PG_ROLLED_BACK] = "no",
		[STORE_PG_UNKNOWN] = "unknown",
	};
	struct store_pg_conn *pc = s->pg;
	enum store_pg_outcome o;
	struct logbuf lb;
	char err[512];

	if (!s->w.commit_left)
		return 0;
	err[0] = '\0';
	o = store_pg_commit_settle(pc->c, until, give_up, err, sizeof(err));
	if (o == STORE_PG_WAITING)
		return 1;
	s->w.commit_left = 0;
	log_begin(&lb, LOG_LEVEL_WARN, "commit_late");
	log_kv_int(&lb, "jobs", (long long)pc->late_jobs);
	log_kv_int(&lb, "refusals", (long long)pc->late_refusals);
	if (pc->late_jobs > 0)
		log_kv_str(&lb, "answered", "503");
	log_kv_str(&lb, "committed", said[o]);
	log_kv_int(&lb, "late_ms", (long long)((util_mono_us() -
	    pc->late_at) / 1000));
	if (o != STORE_PG_COMMITTED)
		log_kv_str(&lb, "error", err);
	log_end(&lb);
	store_pg_late_settled(s, o);
	if (o == STORE_PG_COMMITTED)
		return 0;
	store_pg_lost(s, o == STORE_PG_UNKNOWN ? "a COMMIT's outcome is "
	    "unknown" : "a COMMIT failed");
	return -1;
}

static void
store_pg_nothing(struct store *s)
{
	(void)s;
}

/*
 * Going idle: the database's size for the metrics (antomd_database_bytes),
 * at most once a minute.  Only with nothing queued, so no batch waits for
 * it; never while a COMMIT is outstanding (nothing may touch the
 * connection then) or without a connection.  A failure keeps the last
 * size: the next batch finds out what is wrong with the connection.
 */
static void
store_pg_after_pass(struct store *s, int idle)
{
	struct store_pg_conn *pc = s->pg;
	uint64_t now = util_mono_us();
	PGresult *r;

	if (!idle || s->w.commit_left || s->q.readonly ||
	    atomic_load(&s->aborting) ||
	    (pc->sized != 0 && now - pc->sized < STORE_PG_SIZE_US))
		return;
	pc->sized = now;
	r = PQexec(pc->c, "SELECT pg_database_size(current_database())");
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	    !PQgetisnull(r, 0, 0))
		atomic_store(&s->database_bytes,
		    strtoll(PQgetvalue(r, 0, 0), NULL, 10));
	else
		log_warnx("database: its size: %.*s", store_pg_msglen(
		    PQresultErrorMessage(r)), PQresultErrorMessage(r));
	PQclear(r);
}

/*
 * Nothing is interrupted: cancelling a COMMIT that waits for the
 * synchronous standby would leave it committed on the primary alone
 * (store_pg_commit() then reports it failed: honest, but pointless).  A
 * COMMIT waits at most until the writer's deadline (store.c gives up on
 * it once aborting); its jobs are answered 503.
 */
static void
store_pg_abort(struct store *s)
{
	(void)s;
}

/* No checkpointer, no WAL of ours: the size the writer took, alone. */
static void
store_pg_stats(struct store *s, struct store_stats *out)
{
	out->database_bytes = atomic_load(&s->database_bytes);
	out->wal_bytes = -1;
}

/* antomctl replay (store_pg_replay.c), on the writer's connection. */
static enum store_replay_result
store_pg_replay(struct store *s, int64_t id, struct store_result *r)
{
	return store_pg_replay_on(s->q.readonly ? NULL : s->pg->c, id, r);
}

const struct store_engine store_pg_engine = {
	.name = "postgresql",
	.check = store_pg_check,
	.open = store_pg_open,
	.close = store_pg_close,
	.reconnect = store_pg_reconnect,
	.batch = store_pg_batch,
	.settle = store_pg_settle,
	.probe = store_pg_probe,
	.refusal_write = store_pg_refusal_write,
	.refusal_check = store_pg_refusal_check,
	.start = store_pg_nothing,
	.stop = store_pg_nothing,
	.before_batch = store_pg_nothing,
	.after_pass = store_pg_after_pass,
	.abort = store_pg_abort,
	.stats = store_pg_stats,
	.replay = store_pg_replay,
};
