/*
 * store_pg.c - a batch of notifications recorded in PostgreSQL: the
 * three phases of store_judge.h (read, judge in C, write) in one
 * transaction, in a few round trips (libpq pipeline mode), safe with
 * several antomd instances writing to one database (issue 16 point 2).
 *
 * What it writes is what the SQLite engine writes for the same sequence
 * (store_state.c): the same statements, the hand-written ones with '$'
 * for '?', the upserts generated from the same column tables and given
 * the same values, so the two cannot drift apart.
 *
 * Several writers:
 *   - before reading, the batch takes a transaction-level advisory lock
 *     (the two-integer form, a lock space apart from the schema's) for
 *     each object and each notification (client id and body hash) it
 *     touches, in sorted order, so that two instances never wait on each
 *     other in a cycle; the state read is then the latest committed, and
 *     two deliveries of one notification at once make one state change;
 *   - just before its events rows, it takes STORE_PG_LOCK_EVENTS, held to
 *     the end of the transaction, so events.seq is handed out in commit
 *     order: a reader polling seq > N never misses an event (identities
 *     alone are handed out in insert order, and commit in another);
 *   - a deadlock, serialization failure or unique violation rolls the
 *     batch back and runs it again, up to STORE_PG_ATTEMPTS times.
 *
 * Speed (issue 16 point 4): every statement is prepared once per server
 * session (store_pg_sql.c), in a round trip of its own before the first
 * batch on a connection and again after it reconnects (another backend),
 * so a batch pays for binding and running only; and what a batch did
 * once a job (its locks, reads, new notifications rows, refusals
 * cleared, events) is one statement over arrays, the same SQL text
 * inside.  Planning each statement anew cost more than running it.  Still
 * one statement a job: a repeat's touch and each change to an object.
 *
 * The connection is the caller's and in no transaction; one thread at a
 * time uses it.  The SQL is built once per process (thread-safe).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"
#include "store_int.h"
#include "store_pg.h"
#include "store_pg_pipe.h"
#include "store_pg_sql.h"
#include "util.h"

#define STORE_PG_ATTEMPTS	5

/*
 * Errors worth running the batch again for (issue 16 point 2), and a
 * prepared statement missing (a session store_pg_prepare() did not see).
 */
static int
store_pg_retryable(const char *sqlstate)
{
	return strcmp(sqlstate, "40P01") == 0 ||
	    strcmp(sqlstate, "40001") == 0 || strcmp(sqlstate, "23505") == 0 ||
	    strcmp(sqlstate, "26000") == 0;
}

static int
store_pg_cmp_key(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Queue the advisory locks of the batch, one statement: its
 * notifications and objects, sorted, each once.  keys has 2n slots,
 * text 2 * STORE_PG_KEYTEXT * n + 8 bytes.  0 or -1.
 */
static int
store_pg_send_locks(struct store_pg_pipe *pp, const struct store_plan *p,
    size_t n, uint64_t *keys, char *text)
{
	const char *v[2];
	char *hi = text, *lo;
	size_t i, k = 0, len = 0;

	for (i = 0; i < n; i++) {
		keys[k++] = store_key(store_key(store_key(STORE_KEY_BASIS,
		    "n"), p[i].d->client_id), p[i].d->body_sha256);
		if (p[i].object_id != NULL)
			keys[k++] = store_key(store_key(store_key(store_key(
			    STORE_KEY_BASIS, "o"), notif_kind_str(
			    p[i].d->notif->kind)), p[i].d->client_id),
			    p[i].object_id);
	}
	qsort(keys, k, sizeof(*keys), store_pg_cmp_key);
	/* Two arrays, "{hi,...}" then "{lo,...}", in one buffer. */
	lo = text + STORE_PG_KEYTEXT * k + 4;
	hi[len++] = '{';
	for (i = 0; i < k; i++) {
		if (i > 0 && keys[i] == keys[i - 1])
			continue;
		len += (size_t)sprintf(hi + len, "%s%d", len > 1 ? "," : "",
		    (int)(int32_t)(uint32_t)(keys[i] >> 32));
	}
	strcpy(hi + len, "}");
	len = 0;
	lo[len++] = '{';
	for (i = 0; i < k; i++) {
		if (i > 0 && keys[i] == keys[i - 1])
			continue;
		len += (size_t)sprintf(lo + len, "%s%d", len > 1 ? "," : "",
		    (int)(int32_t)(uint32_t)keys[i]);
	}
	strcpy(lo + len, "}");
	v[0] = hi;
	v[1] = lo;
	return store_pg_send(pp, P_LOCKS, 2, v, NULL);
}

static int64_t
store_pg_int(const PGresult *r, int row, int col)
{
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* Column col of row into a buffer of cap bytes, if not NULL; 1 if so. */
static int
store_pg_text(const PGresult *r, int row, int col, char *buf, size_t cap)
{
	if (PQgetisnull(r, row, col))
		return 0;
	snprintf(buf, cap, "%s", PQgetvalue(r, row, col));
	return 1;
}

/* Columns col and col + 1, a value and its currency, as an amount. */
static void
store_pg_amount(const PGresult *r, int row, int col, struct notif_amount *a)
{
	memset(a, 0, sizeof(*a));
	if (PQgetisnull(r, row, col))
		return;
	a->present = 1;
	a->value = store_pg_int(r, row, col);
	store_pg_text(r, row, col + 1, a->currency, sizeof(a->currency));
}

/*
 * A kind's GET row (store_state.c's order) into cur: row of r, from
 * column 1 (column 0 is the job's index).
 */
static void
store_pg_current(const PGresult *r, int row, struct store_current *cur)
{
	int i;

	memset(cur, 0, sizeof(*cur));
	cur->exists = 1;
	store_pg_text(r, row, 1, cur->status, sizeof(cur->status));
	store_pg_amount(r, row, 2, &cur->amount);
	for (i = 0; i < STORE_IDS_MAX; i++)
		store_pg_text(r, row, 4 + i, cur->ids[i], sizeof(cur->ids[i]));
	cur->has_judged_result = store_pg_text(r, row, 7, cur->judged_result,
	    sizeof(cur->judged_result));
	store_pg_amount(r, row, 8, &cur->judged_amount);
}

/*
 * Queue a multi-row read (P_FIND_ALL, P_GET_ALL + kind) of the jobs of
 * kind (all of them if -1, else those with an object): client and key,
 * and the job's index to lead each row.  idx has 24 * n bytes.  0 or -1.
 */
static int
store_pg_send_reads(struct store_pg_pipe *pp, const struct store_plan *p,
    size_t n, int kind, const char **vals, char *idx)
{
	const char *v[3];
	int len[3], which = kind < 0 ? P_FIND_ALL : P_GET_ALL + kind;
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (kind >= 0 && (p[i].object_id == NULL ||
		    (int)p[i].d->notif->kind != kind))
			continue;
		vals[k] = p[i].d->client_id;
		vals[n + k] = kind < 0 ? p[i].d->body_sha256 : p[i].object_id;
		snprintf(idx + 24 * k, 24, "%zu", i);
		vals[2 * n + k] = idx + 24 * k;
		k++;
	}
	if (k == 0)
		return 0;
	/* The arrays are k long: move them together. */
	memmove(vals + k, vals + n, k * sizeof(*vals));
	memmove(vals + 2 * k, vals + 2 * n, k * sizeof(*vals));
	if (store_pg_arrays(pp, which, vals, NULL, 3, k, v, len) != 0)
		return -1;
	return store_pg_send(pp, which, 3, v, len);
}

/* The job a multi-row read's row is about, or -1. */
static long
store_pg_row_job(const PGresult *r, int row, size_t n)
{
	long i = (long)store_pg_int(r, row, 0);

	return i >= 0 && (size_t)i < n ? i : -1;
}

/*
 * Phase 1, with the transaction's BEGIN and the locks: for each job, is
 * its notification stored, and its object's state: one statement for
 * the notifications, one a kind for the objects.  One round trip.
 */
static int
store_pg_read(struct store_pg_pipe *pp, struct store_plan *p, size_t n,
    uint64_t *keys, char *text, const char **vals)
{
	const PGresult *r;
	uint64_t by = store_pg_commit_deadline(), now;
	char ms[24];
	const char *v[1] = { ms };
	size_t first, k;
	int kind, row;
	long i;

	if (store_pg_send(pp, P_BEGIN, 0, NULL, NULL) != 0)
		return -1;
	/*
	 * Wait for another's lock (an advisory lock, a row being inserted)
	 * only until the commit deadline: another instance's batch may hold
	 * it while its COMMIT waits for a stalled standby, for as long as
	 * that lasts.  Then 55P03, the batch answered 503.  Never a
	 * statement_timeout: it would cancel our own COMMIT's wait for the
	 * standby, a commit on the primary alone (issue 16 point 3).
	 */
	if (by != 0) {
		now = util_mono_us();
		snprintf(ms, sizeof(ms), "%llu", by > now + 1000 ?
		    (unsigned long long)((by - now) / 1000) : 1ULL);
		if (store_pg_send(pp, P_LOCK_TIMEOUT, 1, v, NULL) != 0)
			return -1;
	}
	if (store_pg_send_locks(pp, p, n, keys, text) != 0)
		return -1;
	first = pp->n;
	for (kind = -1; kind < NOTIF_KIND_COUNT; kind++)
		if (store_pg_send_reads(pp, p, n, kind, vals, text) != 0)
			return -1;
	if (store_pg_collect(pp) != 0)
		return -1;
	for (k = first; k < pp->n; k++) {
		r = pp->res[k];
		for (row = 0; row < PQntuples(r); row++) {
			if ((i = store_pg_row_job(r, row, n)) < 0)
				continue;
			/* The notifications' first: held ones skip their GET. */
			if (k == first) {
				p[i].held_id = store_pg_int(r, row, 1);
				p[i].held_count = store_pg_int(r, row, 2);
			} else if (p[i].held_id == 0)
				store_pg_current(r, row, &p[i].cur);
		}
	}
	store_pg_clear_results(pp);
	return 0;
}

/*
 * Phase 3, queued: the new notifications' rows, one statement (RETURNING
 * each one's key and id; *first its result, -1 if none), then each
 * repeat's row touched (its first delivery perhaps among those rows; at[i]
 * job i's touch, else -1); then the jobs' refusals cleared, one
 * statement.  vals has 14 * n + 1 slots.
 */
static int
store_pg_send_notifications(struct store_pg_pipe *pp,
    const struct store_plan *p, size_t n, const char *now, long *at,
    long *first, const char **vals)
{
	const struct store_delivery *d;
	const char *v[14];
	char *kv = NULL;
	size_t i, k = 0, fresh = 0, *lens = NULL;
	int len[14], rc = -1;

	for (i = 0; i < n; i++)
		fresh += !p[i].repeat;
	if ((kv = malloc(24 * n + 1)) == NULL ||
	    (lens = calloc(14 * n + 1, sizeof(*lens))) == NULL) {
		util_err(pp->fail->err, pp->fail->errlen, "out of memory");
		snprintf(pp->fail->sqlstate, sizeof(pp->fail->sqlstate),
		    "?????");
		goto out;
	}
	for (i = 0; i < n && fresh > 0; i++) {
		if (p[i].repeat)
			continue;
		d = p[i].d;
		snprintf(kv + 24 * k, 24, "%ld", d->key_version);
		/* S_NOTIF_INSERT's parameters, $1 to $14, each an array. */
		vals[k] = d->client_id;
		vals[fresh + k] = d->body_sha256;
		/* Bytes, not text; an empty body perhaps without a buffer. */
		vals[2 * fresh + k] = d->body != NULL ?
		    (const char *)d->body : "";
		lens[2 * fresh + k] = d->bodylen;
		vals[3 * fresh + k] = d->request_time;
		vals[4 * fresh + k] = d->signature;
		vals[5 * fresh + k] = d->signed_path;
		vals[6 * fresh + k] = kv + 24 * k;
		vals[7 * fresh + k] = d->notif->notify_type;
		vals[8 * fresh + k] = notif_kind_str(d->notif->kind);
		vals[9 * fresh + k] = p[i].object_id;
		vals[10 * fresh + k] = store_outcome_str(p[i].outcome);
		vals[11 * fresh + k] = d->notif->kind == NOTIF_OTHER ?
		    d->notif->archive_reason : NULL;
		vals[12 * fresh + k] = now;
		vals[13 * fresh + k] = p[i].note[0] != '\0' ? p[i].note : NULL;
		k++;
	}
	*first = -1;
	if (fresh > 0) {
		*first = (long)pp->n;
		if (store_pg_arrays(pp, P_NOTIF_ALL, vals, lens, 14, fresh, v,
		    len) != 0 || store_pg_send(pp, P_NOTIF_ALL, 14, v, len) != 0)
			goto out;
	}
	for (i = 0; i < n; i++) {
		d = p[i].d;
		at[i] = -1;
		if (p[i].repeat) {
			at[i] = (long)pp->n;
			v[0] = d->client_id;
			v[1] = d->body_sha256;
			v[2] = now;
			if (store_pg_send(pp, P_TOUCH, 3, v, NULL) != 0)
				goto out;
		}
		vals[i] = d->body_sha256;
		vals[n + i] = d->client_id;
	}
	if (store_pg_arrays(pp, P_CLEAR_ALL, vals, NULL, 2, n, v, len) != 0 ||
	    store_pg_send(pp, P_CLEAR_ALL, 2, v, len) != 0)
		goto out;
	rc = 0;
out:
	free(kv);
	free(lens);
	return rc;
}

/*
 * After the writes' round trip: each job's notification id, from the
 * rows its insert (result first) or its touch (at[i]) returned.  0 or -1.
 */
static int
store_pg_notification_ids(struct store_pg_pipe *pp,
    const struct store_plan *p, struct store_job **jobs, size_t n,
    const long *at, long first)
{
	const PGresult *r;
	size_t i, a;
	int row;

	for (i = 0; i < n; i++)
		jobs[i]->r.notification_id = 0;
	if (first >= 0) {
		/* Each new row to its job, by key (each new key is one job's). */
		r = pp->res[first];
		for (row = 0; row < PQntuples(r); row++)
			for (a = 0; a < n; a++)
				if (!p[a].repeat && strcmp(PQgetvalue(r, row, 0),
				    p[a].d->client_id) == 0 && strcmp(
				    PQgetvalue(r, row, 1), p[a].d->body_sha256)
				    == 0) {
					jobs[a]->r.notification_id =
					    store_pg_int(r, row, 2);
					break;
				}
	}
	for (i = 0; i < n; i++) {
		r = at[i] >= 0 ? pp->res[at[i]] : NULL;
		if (r != NULL && PQntuples(r) == 1)
			jobs[i]->r.notification_id = store_pg_int(r, 0, 0);
		if (jobs[i]->r.notification_id == 0) {
			util_err(pp->fail->err, pp->fail->errlen, "PostgreSQL: "
			    "notification %s of client %s not found",
			    p[i].d->body_sha256, p[i].d->client_id);
			snprintf(pp->fail->sqlstate, sizeof(pp->fail->sqlstate),
			    "?????");
			return -1;
		}
	}
	return 0;
}

/*
 * Queue job i's change to its object: the kind's upsert or fill, column
 * j as parameter j + 1 (of the type store_pg_types() prepared it with),
 * the notification id as its body hash (its row perhaps an INSERT of the
 * same pipeline).
 */
static int
store_pg_send_state(struct store_pg_pipe *pp, const struct store_plan *p,
    const char *now)
{
	enum notif_kind kind = p->d->notif->kind;
	struct store_value val;
	const char *v[STORE_PG_PARAMS];
	char num[STORE_PG_PARAMS][24];
	int get, upsert, fill, which;
	size_t j, ncols;

	if (store_state_kind(kind, &get, &upsert, &fill, &ncols) != 0 ||
	    ncols > STORE_PG_PARAMS)
		return -1;
	which = SQL(p->change == STORE_CHANGE_FILL ? fill : upsert);
	for (j = 0; j < ncols; j++) {
		store_state_value(kind, j, p->d, 0, now, &val);
		v[j] = val.text;
		if (val.integer && !val.null) {
			snprintf(num[j], sizeof(num[j]), "%lld",
			    (long long)val.value);
			v[j] = num[j];
		}
		/* The id is looked up by key (store_pg_sql.c). */
		if ((int)j == store_pg_stmts[which].nidcol)
			v[j] = p->d->body_sha256;
	}
	return store_pg_send(pp, which, (int)ncols, v, NULL);
}

/*
 * once[i] = 1 for each job that upserts an object no other job of the
 * batch changes (one row of its kind's statement over arrays), else 0.
 */
static void
store_pg_changed_once(const struct store_plan *p, size_t n, char *once)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		once[i] = !p[i].repeat && p[i].change == STORE_CHANGE_APPLY &&
		    p[i].object_id != NULL;
		for (j = 0; j < n && once[i]; j++)
			if (j != i && !p[j].repeat && p[j].change !=
			    STORE_CHANGE_NONE && p[j].object_id != NULL &&
			    p[j].d->notif->kind == p[i].d->notif->kind &&
			    strcmp(p[j].object_id, p[i].object_id) == 0)
				once[i] = 0;
	}
}

/*
 * Queue kind's upserts of the jobs once[] marks, one statement over
 * arrays when there are two or more (marked 2 then: sent).  Each column
 * is an array, its elements the jobs' values (store_state_value()), the
 * notification id as the body hash, looked up by key.  0 or -1.
 */
static int
store_pg_send_upserts(struct store_pg_pipe *pp, const struct store_plan *p,
    size_t n, const char *now, int kind, char *once)
{
	const struct store_pg_stmt *st = &store_pg_stmts[P_UPSERT_ALL + kind];
	struct store_value val;
	const char *v[STORE_PG_PARAMS], **vals = NULL;
	char *num = NULL;
	int len[STORE_PG_PARAMS], get, upsert, fill, rc = -1;
	size_t i, j, k = 0, rows = 0, ncols;

	if (store_state_kind(kind, &get, &upsert, &fill, &ncols) != 0 ||
	    st->sql == NULL)
		return 0;
	for (i = 0; i < n; i++)
		rows += once[i] && (int)p[i].d->notif->kind == kind;
	if (rows < 2)
		return 0;
	if ((vals = calloc(ncols * rows, sizeof(*vals))) == NULL ||
	    (num = malloc(ncols * rows * 24)) == NULL) {
		util_err(pp->fail->err, pp->fail->errlen, "out of memory");
		snprintf(pp->fail->sqlstate, sizeof(pp->fail->sqlstate),
		    "?????");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!once[i] || (int)p[i].d->notif->kind != kind)
			continue;
		for (j = 0; j < ncols; j++) {
			store_state_value(kind, j, p[i].d, 0, now, &val);
			vals[j * rows + k] = val.text;
			if (val.integer && !val.null) {
				snprintf(num + 24 * (j * rows + k), 24, "%lld",
				    (long long)val.value);
				vals[j * rows + k] = num + 24 * (j * rows + k);
			}
			if ((int)j == st->nidcol)
				vals[j * rows + k] = p[i].d->body_sha256;
		}
		once[i] = 2;
		k++;
	}
	if (store_pg_arrays(pp, P_UPSERT_ALL + kind, vals, NULL, (int)ncols,
	    rows, v, len) != 0 || store_pg_send(pp, P_UPSERT_ALL + kind,
	    (int)ncols, v, len) != 0)
		goto out;
	rc = 0;
out:
	free(vals);
	free(num);
	return rc;
}

/*
 * Phase 3, queued after the notifications rows: each change to an
 * object, then, under STORE_PG_LOCK_EVENTS, the events rows in the order
 * of the batch, one statement.  Notification ids go as body hashes, looked
 * up by key.
 */
static int
store_pg_send_changes(struct store_pg_pipe *pp, const struct store_plan *p,
    size_t n, const char *now, const char **vals)
{
	char *once;
	int kind;
	const struct notif *nf;
	const char *v[8];
	int len[8];
	size_t i, a, events = 0;

	if ((once = calloc(n + 1, 1)) == NULL) {
		util_err(pp->fail->err, pp->fail->errlen, "out of memory");
		snprintf(pp->fail->sqlstate, sizeof(pp->fail->sqlstate),
		    "?????");
		return -1;
	}
	store_pg_changed_once(p, n, once);
	for (kind = 0; kind < NOTIF_KIND_COUNT; kind++)
		if (store_pg_send_upserts(pp, p, n, now, kind, once) != 0) {
			free(once);
			return -1;
		}
	for (i = 0; i < n; i++) {
		if (p[i].repeat || p[i].change == STORE_CHANGE_NONE)
			continue;
		events += p[i].change == STORE_CHANGE_APPLY;
		if (once[i] == 2)
			continue;	/* in its kind's statement */
		if (store_pg_send_state(pp, &p[i], now) != 0) {
			free(once);
			return -1;
		}
	}
	free(once);
	for (i = 0, a = 0; i < n && events > 0; i++) {
		if (p[i].repeat || p[i].change != STORE_CHANGE_APPLY)
			continue;
		nf = p[i].d->notif;
		/* S_EVENT's parameters, $1 to $8, each an array. */
		vals[a] = now;
		vals[events + a] = notif_kind_str(nf->kind);
		vals[2 * events + a] = p[i].object_id;
		vals[3 * events + a] = nf->payment_id;
		vals[4 * events + a] = p[i].before.exists ?
		    p[i].before.status : NULL;
		vals[5 * events + a] = store_new_status(nf);
		vals[6 * events + a] = p[i].d->body_sha256;
		vals[7 * events + a] = p[i].d->client_id;
		a++;
	}
	if (events > 0 && (store_pg_send(pp, P_LOCK_EVENTS, 0, NULL, NULL) !=
	    0 || store_pg_arrays(pp, P_EVENT_ALL, vals, NULL, 8, events, v,
	    len) != 0 || store_pg_send(pp, P_EVENT_ALL, 8, v, len) != 0))
		return -1;
	return 0;
}

/*
 * Phase 3 and the COMMIT, one round trip: the notifications rows, then
 * the changes to the objects and the events, which find their
 * notification by key, then COMMIT, waited for as store_pg_commit() does
 * (store_pg_commit_arm(), store_pg.h).  0; or -1 with *committing 0 and
 * the transaction open (to roll back), or 1 (the COMMIT itself failed).
 */
static int
store_pg_write(struct store_pg_pipe *pp, const struct store_plan *p,
    struct store_job **jobs, size_t n, const char *now, long *at,
    const char **vals, int *committing)
{
	PGresult *r;
	long first;
	int rc;

	if (store_pg_commit_arm(pp->c, pp->fail->err, pp->fail->errlen) != 0) {
		snprintf(pp->fail->sqlstate, sizeof(pp->fail->sqlstate),
		    "?????");
		return -1;
	}
	if (store_pg_send_notifications(pp, p, n, now, at, &first, vals) != 0 ||
	    store_pg_send_changes(pp, p, n, now, vals) != 0)
		goto fail;
	/*
	 * The server sends results at a sync, or asked to flush: asked, so
	 * the writes' results come without waiting for the COMMIT, which may
	 * wait for a stalled standby past the deadline.
	 */
	if (PQsendFlushRequest(pp->c) != 1 || PQsendQueryParams(pp->c,
	    "COMMIT", 0, NULL, NULL, NULL, NULL, 0) != 1 ||
	    PQpipelineSync(pp->c) != 1) {
		store_pg_failed(pp->fail, pp->c, NULL, "cannot send");
		goto fail;
	}
	pp->syncs++;
	if ((rc = store_pg_results(pp)) == -2)
		goto fail;
	if (rc != 0) {
		/* A write failed: the COMMIT did not run (aborted).  Undo. */
		store_pg_clear_results(pp);
		while ((r = PQgetResult(pp->c)) != NULL)
			PQclear(r);
		if (store_pg_read_sync(pp) != 0)
			goto fail;
		store_pg_commit_disarm(pp->c);
		return -1;
	}
	/* Every write done: the COMMIT runs, whatever we do now. */
	*committing = 1;
	rc = store_pg_notification_ids(pp, p, jobs, n, at, first);
	store_pg_clear_results(pp);
	if (store_pg_commit_wait(pp->c, rc == 0 ? pp->fail->err : NULL,
	    rc == 0 ? pp->fail->errlen : 0) != 0 || rc != 0) {
		if (pp->fail->sqlstate[0] == '\0')
			snprintf(pp->fail->sqlstate,
			    sizeof(pp->fail->sqlstate), "?????");
		return -1;
	}
	return 0;
fail:
	store_pg_commit_disarm(pp->c);
	return -1;
}

/*
 * One attempt: BEGIN, read, judge, write, COMMIT.  0; or -1 with f, the
 * transaction rolled back unless *committing (the COMMIT itself failed:
 * what it did is unknown, or known to be local only).
 */
static int
store_pg_attempt(struct store_pg_pipe *pp, struct store_plan *p,
    struct store_job **jobs, size_t n, const char *now, uint64_t *keys,
    char *text, const char **vals, long *at, int *committing)
{
	size_t i;

	*committing = 0;
	for (i = 0; i < n; i++) {
		memset(&p[i], 0, sizeof(p[i]));
		memset(&jobs[i]->r, 0, sizeof(jobs[i]->r));
		p[i].d = &jobs[i]->d;
		p[i].object_id = notif_object_id(p[i].d->notif);
		/* As store_state.c: unhashed, every body is the first's. */
		if (p[i].d->body_sha256[0] == '\0') {
			util_err(pp->fail->err, pp->fail->errlen, "database: "
			    "a delivery without its body hash");
			return -1;
		}
	}
	if (PQenterPipelineMode(pp->c) != 1) {
		store_pg_failed(pp->fail, pp->c, NULL, "pipeline mode");
		return -1;
	}
	if ((!store_pg_session_known(pp->c) && store_pg_prepare(pp) != 0) ||
	    store_pg_read(pp, p, n, keys, text, vals) != 0)
		goto fail;
	store_judge_batch(p, n);
	for (i = 0; i < n; i++) {
		jobs[i]->r.outcome = p[i].outcome;
		jobs[i]->r.delivery_count = p[i].count;
		jobs[i]->r.repeat = p[i].repeat;
	}
	if (store_pg_write(pp, p, jobs, n, now, at, vals, committing) != 0) {
		if (*committing)
			return -1;
		goto fail;
	}
	return 0;
fail:
	store_pg_abandon(pp);
	return -1;
}

int
store_pg_record(PGconn *c, struct store_plan *p, struct store_job **jobs,
    size_t n, const char *now, struct store_pg_record_stats *stats,
    char *err, size_t errlen)
{
	struct store_pg_fail f;
	struct store_pg_pipe pp;
	uint64_t *keys = NULL;
	char *text = NULL;
	const char **vals = NULL;
	long *at = NULL;
	int64_t nid;
	int attempt = 0, committing = 0, rc = -1;
	size_t i;

	memset(&pp, 0, sizeof(pp));
	memset(&f, 0, sizeof(f));
	pp.c = c;
	pp.fail = &f;
	if (store_pg_sql_ready() != 0) {
		util_err(err, errlen, "out of memory");
		goto out;
	}
	/* Reads or writes, 2 a job and 3 more; the statements to prepare. */
	pp.cap = 4 + 2 * n + P_COUNT;
	/* text: the locks' arrays, or 24 bytes a job's index or an id. */
	if ((pp.res = calloc(pp.cap, sizeof(*pp.res))) == NULL ||
	    (keys = calloc(2 * n + 1, sizeof(*keys))) == NULL ||
	    (text = malloc(2 * STORE_PG_KEYTEXT * (2 * n + 1) + 8)) == NULL ||
	    (vals = calloc(14 * n + 1, sizeof(*vals))) == NULL ||
	    (at = calloc(2 * n + 1, sizeof(*at))) == NULL) {
		util_err(err, errlen, "out of memory");
		goto out;
	}
	do {
		memset(&f, 0, sizeof(f));
		f.err = err;
		f.errlen = errlen;
		attempt++;
		rc = store_pg_attempt(&pp, p, jobs, n, now, keys, text, vals,
		    at, &committing);
		/* The session lacks the statements: prepare them again. */
		if (rc != 0 && strcmp(f.sqlstate, "26000") == 0)
			store_pg_session_set(c, 0);
	} while (rc != 0 && !committing && attempt < STORE_PG_ATTEMPTS &&
	    store_pg_retryable(f.sqlstate));
out:
	for (i = 0; i < n; i++) {
		/* A COMMIT left outstanding keeps the ids its rows will have. */
		nid = jobs[i]->r.notification_id;
		if (rc != 0)
			memset(&jobs[i]->r, 0, sizeof(jobs[i]->r));
		if (rc != 0 && committing && store_pg_commit_left())
			jobs[i]->r.notification_id = nid;
		jobs[i]->r.status = rc;
	}
	if (rc == 0)
		store_state_committed(p, jobs, n);
	if (stats != NULL) {
		stats->round_trips = pp.syncs;
		stats->attempts = (unsigned)attempt;
		stats->commit_failed = rc != 0 && committing;
		stats->lock_timeout = rc != 0 && strcmp(f.sqlstate, "55P03") == 0;
	}
	free(pp.res);
	free(keys);
	free(text);
	free(vals);
	free(pp.arr);
	free(at);
	return rc;
}
