/*
 * store_pg_replay.c - antomctl replay on the PostgreSQL engine: one
 * archived notification read again, judged against the state held now
 * and written, with the semantics of the SQLite engine's replay
 * (store_replay.c): the de-duplication by body hash is bypassed, the
 * state machine is not; the row says what this version reads in the body.
 *
 * Safe beside running antomd instances: inside its one transaction it
 * takes the advisory locks a batch takes for the same notification and
 * object (store_pg.c: the two-integer form, sorted), so a delivery of
 * either waits for it or it for the delivery, and the state it judges
 * against is the latest committed; its events row is written under
 * STORE_PG_LOCK_EVENTS, so events.seq stays in commit order.  Committed
 * with store_pg_commit(): a COMMIT that warns is a failure.
 *
 * On the caller's connection, in no transaction; one thread.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"
#include "store_int.h"
#include "store_pg.h"
#include "util.h"

#define REPLAY_INT8	20	/* type OIDs (catalog/pg_type_d.h) */
#define REPLAY_TEXT	25
#define REPLAY_NSQL	(S_RFS_FIRST - S_STATE_FIRST)

/*
 * Statement which of store_state.c (a GET, an upsert or fill, S_EVENT)
 * with '$' for '?', made on first use and kept for the process; NULL when
 * out of memory.
 */
static const char *
replay_sql(int which)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static char *made[REPLAY_NSQL];
	const char *sql[REPLAY_NSQL];
	char *text, **p = &made[which - S_STATE_FIRST], *q;

	pthread_mutex_lock(&lock);
	if (*p == NULL && store_state_sql_build('$', sql, &text) == 0) {
		if (sql[which - S_STATE_FIRST] != NULL &&
		    (*p = strdup(sql[which - S_STATE_FIRST])) != NULL)
			while ((q = strchr(*p, '?')) != NULL)
				*q = '$';
		free(text);
	}
	pthread_mutex_unlock(&lock);
	return *p;
}

/* The transaction's connection and its first error. */
struct replay {
	PGconn	*c;
	char	 err[512];
};

/*
 * sql with n text parameters (types may be NULL: the server infers
 * them), results in binary when binary (text columns then come as their
 * bytes, bytea unescaped).  0 with *res (if res is not NULL; the caller
 * clears it), or -1 with x->err.
 */
static int
replay_run(struct replay *x, const char *sql, int n, const char *const *v,
    const Oid *types, int binary, PGresult **res)
{
	PGresult *r;
	ExecStatusType st;
	const char *msg;
	size_t len;

	if (sql == NULL) {	/* replay_sql() */
		util_err(x->err, sizeof(x->err), "out of memory");
		return -1;
	}
	r = PQexecParams(x->c, sql, n, types, v, NULL, NULL, binary);
	st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		msg = PQresultErrorMessage(r);
		len = strlen(msg);
		while (len > 0 && msg[len - 1] == '\n')
			len--;
		if (x->err[0] == '\0')
			util_err(x->err, sizeof(x->err), "%.*s", (int)len, msg);
		PQclear(r);
		return -1;
	}
	if (res != NULL)
		*res = r;
	else
		PQclear(r);
	return 0;
}

/*
 * The locks a batch of store_pg.c takes for this notification (client id
 * and body hash) and its object (kind, client id, object id): the same
 * keys, in the same ascending order.
 */
static int
replay_lock(struct replay *x, const char *client, const char *sha,
    const struct notif *n, const char *object_id)
{
	uint64_t key[2], lo, hi;
	char sql[80];
	int i;

	key[0] = store_key(store_key(store_key(STORE_KEY_BASIS, "n"), client),
	    sha);
	key[1] = key[0];
	if (object_id != NULL)
		key[1] = store_key(store_key(store_key(store_key(
		    STORE_KEY_BASIS, "o"), notif_kind_str(n->kind)), client),
		    object_id);
	lo = key[0] < key[1] ? key[0] : key[1];
	hi = key[0] < key[1] ? key[1] : key[0];
	for (i = 0; i < (lo == hi ? 1 : 2); i++) {
		key[0] = i == 0 ? lo : hi;
		snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%d, %d)",
		    (int)(int32_t)(uint32_t)(key[0] >> 32),
		    (int)(int32_t)(uint32_t)key[0]);
		if (replay_run(x, sql, 0, NULL, NULL, 0, NULL) != 0)
			return -1;
	}
	return 0;
}

/*
 * The state held for n's object, by its kind's GET (store_state.c): its
 * columns, status or stage, amount and currency, the ids, the judged
 * result and its amount and currency (NULL past what the kind has).
 */
static int
replay_read_object(struct replay *x, const struct notif *n,
    const char *client, const char *object_id, struct store_current *cur)
{
	const char *v[2] = { client, object_id }, *col[9];
	PGresult *r;
	int get, upsert, fill, i;
	size_t ncols;

	memset(cur, 0, sizeof(*cur));
	if (object_id == NULL ||
	    store_state_kind(n->kind, &get, &upsert, &fill, &ncols) != 0)
		return 0;	/* none, or a kind without state */
	if (replay_run(x, replay_sql(get), 2, v, NULL, 0, &r) != 0)
		return -1;
	if (PQntuples(r) != 1 || PQnfields(r) != 9) {
		PQclear(r);
		return 0;
	}
	for (i = 0; i < 9; i++)
		col[i] = PQgetisnull(r, 0, i) ? NULL : PQgetvalue(r, 0, i);
#define REPLAY_COPY(dst, i)						\
	snprintf((dst), sizeof(dst), "%s", col[i] != NULL ? col[i] : "")
	cur->exists = 1;
	REPLAY_COPY(cur->status, 0);
	if ((cur->amount.present = col[1] != NULL) != 0) {
		cur->amount.value = strtoll(col[1], NULL, 10);
		REPLAY_COPY(cur->amount.currency, 2);
	}
	for (i = 0; i < STORE_IDS_MAX; i++)
		REPLAY_COPY(cur->ids[i], 3 + i);
	if ((cur->has_judged_result = col[6] != NULL) != 0)
		REPLAY_COPY(cur->judged_result, 6);
	if ((cur->judged_amount.present = col[7] != NULL) != 0) {
		cur->judged_amount.value = strtoll(col[7], NULL, 10);
		REPLAY_COPY(cur->judged_amount.currency, 8);
	}
#undef REPLAY_COPY
	PQclear(r);
	return 0;
}

/*
 * The change to the object (its kind's upsert or fill, each column typed:
 * the fill leaves some unused, whose type the server cannot infer), and
 * for an applied one its events row, under STORE_PG_LOCK_EVENTS.
 */
static int
replay_write_state(struct replay *x, const struct store_delivery *d,
    const struct store_current *before, enum store_change change,
    const char *nid, const char *now)
{
	enum notif_kind kind = d->notif->kind;
	struct store_value col;
	const char *v[64];
	char num[64][24], sql[64];
	Oid types[64];
	int get, upsert, fill;
	size_t i, ncols;

	if (change == STORE_CHANGE_NONE)
		return 0;
	if (store_state_kind(kind, &get, &upsert, &fill, &ncols) != 0 ||
	    ncols > 64)
		return -1;
	for (i = 0; i < ncols; i++) {
		store_state_value(kind, i, d, strtoll(nid, NULL, 10), now,
		    &col);
		types[i] = col.integer ? REPLAY_INT8 : REPLAY_TEXT;
		if (col.integer && !col.null)
			snprintf(num[i], sizeof(num[i]), "%lld",
			    (long long)col.value);
		v[i] = col.integer && !col.null ? num[i] : col.text;
	}
	if (replay_run(x, replay_sql(change == STORE_CHANGE_FILL ? fill :
	    upsert), (int)ncols, v, types, 0, NULL) != 0)
		return -1;
	if (change == STORE_CHANGE_FILL)
		return 0;
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%lld)",
	    STORE_PG_LOCK_EVENTS);
	v[0] = now;
	v[1] = notif_kind_str(kind);
	v[2] = notif_object_id(d->notif);
	v[3] = d->notif->payment_id;
	v[4] = before->exists ? before->status : NULL;
	v[5] = store_new_status(d->notif);
	v[6] = nid;
	v[7] = d->client_id;
	if (replay_run(x, sql, 0, NULL, NULL, 0, NULL) != 0)
		return -1;
	return replay_run(x, replay_sql(S_EVENT), 8, v, NULL, 0, NULL);
}

/*
 * Inside the transaction: notification id read again, locked, judged and
 * written (store_replay.c's store_replay_row(), STORE_REPLAY_ASKED).
 * DONE with r->outcome, NONE, or FAILED (logged; the caller rolls back).
 */
static enum store_replay_result
replay_row(struct replay *x, int64_t id, struct store_result *r)
{
	static const char sql[] = "SELECT client_id, body, body_sha256"
	    " FROM notifications WHERE id = $1";
	/*
	 * The row's kind and object id become what the body says, unless it
	 * has events filed under what it said before; no row: it says other
	 * than its body, and is not replayed (store_replay.c).
	 */
	static const char reclass[] = "UPDATE notifications SET kind = $2,"
	    " object_id = $3 WHERE id = $1 AND (NOT EXISTS (SELECT 1 FROM"
	    " events WHERE notification_id = $1) OR (kind = $2 AND"
	    " object_id IS NOT DISTINCT FROM $3)) RETURNING id";
	/* What it contradicts now, if anything; what this version reads. */
	static const char reread[] = "UPDATE notifications SET"
	    " discrepancy = coalesce($5, discrepancy), notify_type = $2,"
	    " archive_reason = $3, outcome = CASE WHEN outcome = 'archived'"
	    " THEN $4 ELSE outcome END WHERE id = $1";
	struct store_delivery d;
	struct store_current cur;
	enum store_change change;
	enum store_replay_result rc = STORE_REPLAY_FAILED;
	struct notif n;
	PGresult *res = NULL;
	char nid[24], now[UTIL_ISO_TIME_LEN], note[STORE_NOTE_MAX];
	char *client = NULL, *sha = NULL;
	unsigned char *body = NULL;
	const char *v[5], *object_id;
	size_t len;
	int parsed = 0;

	snprintf(nid, sizeof(nid), "%lld", (long long)id);
	v[0] = nid;
	if (replay_run(x, sql, 1, v, NULL, 1, &res) != 0)
		goto dberr;
	if (PQntuples(res) != 1) {
		rc = STORE_REPLAY_NONE;
		goto out;
	}
	len = (size_t)PQgetlength(res, 0, 1);
	client = strdup(PQgetvalue(res, 0, 0));
	sha = strdup(PQgetvalue(res, 0, 2));
	if (client == NULL || sha == NULL || (body = malloc(len + 1)) == NULL) {
		log_warnx("out of memory");
		goto out;
	}
	memcpy(body, PQgetvalue(res, 0, 1), len);
	if (notif_parse(body, len, &n) != 0) {
		log_warnx("out of memory");
		goto out;
	}
	parsed = 1;
	object_id = notif_object_id(&n);
	if (replay_lock(x, client, sha, &n, object_id) != 0)
		goto dberr;
	d = (struct store_delivery){ .client_id = client, .body = body,
	    .bodylen = len, .notif = &n };
	if (replay_read_object(x, &n, client, object_id, &cur) != 0)
		goto dberr;
	r->outcome = store_judge(&n, &cur, &change, note);
	util_now_iso(now);
	v[1] = notif_kind_str(n.kind);
	v[2] = object_id;
	PQclear(res);
	res = NULL;
	if (replay_run(x, reclass, 3, v, NULL, 0, &res) != 0)
		goto dberr;
	if (PQntuples(res) == 0) {
		log_warnx("notification %lld not replayed: it has events filed"
		    " under the object it named before, and this version reads"
		    " another in its body", (long long)id);
		goto out;
	}
	if (replay_write_state(x, &d, &cur, change, nid, now) != 0)
		goto dberr;
	v[1] = n.notify_type;
	v[2] = n.kind == NOTIF_OTHER ? n.archive_reason : NULL;
	v[3] = store_outcome_str(r->outcome);
	v[4] = note[0] != '\0' ? note : NULL;
	if (replay_run(x, reread, 5, v, NULL, 0, NULL) != 0)
		goto dberr;
	/* Logged before the COMMIT, as on SQLite: a rollback after says so. */
	store_log_replayed(&n, client, id, object_id, r->outcome, note);
	rc = STORE_REPLAY_DONE;
	goto out;
dberr:
	log_warnx("database: PostgreSQL: %s", x->err[0] != '\0' ? x->err :
	    "replay failed");
out:
	free(body);
	free(sha);
	free(client);
	if (parsed)
		notif_free(&n);
	PQclear(res);
	return rc;
}

enum store_replay_result
store_pg_replay_on(PGconn *c, int64_t id, struct store_result *r)
{
	struct replay x;
	enum store_replay_result rc;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		log_warnx("database: PostgreSQL: not connected");
		return STORE_REPLAY_FAILED;
	}
	memset(&x, 0, sizeof(x));
	x.c = c;
	if (replay_run(&x, "BEGIN ISOLATION LEVEL READ COMMITTED", 0, NULL,
	    NULL, 0, NULL) != 0) {
		log_warnx("database: PostgreSQL: %s", x.err);
		return STORE_REPLAY_FAILED;
	}
	rc = replay_row(&x, id, r);
	if (rc == STORE_REPLAY_DONE && store_pg_commit(c, x.err,
	    sizeof(x.err)) != 0) {
		log_warnx("notification %lld: the replay's COMMIT failed: %s",
		    (long long)id, x.err);
		rc = STORE_REPLAY_FAILED;
	}
	if (rc != STORE_REPLAY_DONE) {
		PQclear(PQexec(c, "ROLLBACK"));
		r->outcome = 0;
		return rc;
	}
	r->notification_id = id;
	r->status = 0;
	return rc;
}
