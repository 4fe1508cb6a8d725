/*
 * refusal.c - the refusals ledger (refusal.h): what is kept of a refused
 * delivery, the queue that takes it to the writer, the writer's
 * transactions that record and clear it, and the count of those at risk.
 *
 * Threads: refusal_note(), refusal_queue() and refusal_set() from any
 * thread (the queue is the store's, under its lock: struct store_queue);
 * everything else runs on the writer, on its connection.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "store_int.h"
#include "util.h"
#include "verify.h"

/*
 * Bounds: forged requests reach at most the REFUSAL_SAMPLE_MAX unverified
 * rows (refusal.h) and are then not even queued; authentic rows have no
 * cap (only Antom can make one).  REFUSAL_PENDING_MAX and
 * REFUSAL_WRITE_US: store_int.h.
 */
#define REFUSAL_CHECK_US	(2 * 1000000u)	/* at-risk count, when any */
#define REFUSAL_WARN_US		(600 * 1000000u)	/* WARN again, if unchanged */

/* Times are ISO 8601 UTC with milliseconds: they compare as text. */
#define REFUSAL_REFUSED_BEFORE(ago)					\
	"first_refused_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', " ago ")"
/* Only an authentic refusal is ever at risk or given up. */
#define REFUSAL_AT_RISK(ago)						\
	"(authentic AND " REFUSAL_REFUSED_BEFORE(ago) ")"
#define REFUSAL_STR_(x)		#x
#define REFUSAL_STR(x)		REFUSAL_STR_(x)

#define SQL(which)	[(which) - S_RFS_FIRST]

const char *const refusal_sql[S_COUNT - S_RFS_FIRST] = {
	/*
	 * ?10 authentic.  An unverified refusal never touches an authentic
	 * row (it cannot hide or rewrite one); an authentic one makes an
	 * unverified row of the same body its own, counted from now.
	 */
	SQL(S_RFS_INSERT) =
	    "INSERT INTO refusals (body_sha256, client_id, status, reason,"
	    " request_time, notify_type, kind, object_id, first_refused_at,"
	    " last_refused_at, refusal_count, authentic) VALUES (?1, ?2, ?3,"
	    " ?4, ?5, ?6, ?7, ?8, ?9, ?9, 1, ?10)"
	    " ON CONFLICT (body_sha256, client_id) DO UPDATE SET"
	    " status = excluded.status, reason = excluded.reason,"
	    " request_time = excluded.request_time,"
	    " notify_type = coalesce(excluded.notify_type, notify_type),"
	    " kind = coalesce(excluded.kind, kind),"
	    " object_id = coalesce(excluded.object_id, object_id),"
	    " last_refused_at = excluded.last_refused_at,"
	    " refusal_count = refusal_count + 1"
	    " WHERE authentic = excluded.authentic",
	/* The row already held, if any: counted, its claims kept. */
	SQL(S_RFS_TOUCH) =
	    "UPDATE refusals SET status = ?3, reason = ?4,"
	    " request_time = coalesce(?5, request_time),"
	    " notify_type = CASE WHEN authentic < ?10 THEN ?6 ELSE"
	    " coalesce(notify_type, ?6) END,"
	    " kind = CASE WHEN authentic < ?10 THEN ?7 ELSE coalesce(kind, ?7)"
	    " END,"
	    " object_id = CASE WHEN authentic < ?10 THEN ?8 ELSE"
	    " coalesce(object_id, ?8) END,"
	    " first_refused_at = CASE WHEN authentic < ?10 THEN ?9 ELSE"
	    " first_refused_at END,"
	    " refusal_count = CASE WHEN authentic < ?10 THEN 1 ELSE"
	    " refusal_count + 1 END,"
	    " last_refused_at = ?9, authentic = max(authentic, ?10)"
	    " WHERE body_sha256 = ?1 AND client_id = ?2 AND authentic <= ?10",
	SQL(S_RFS_CLEAR) =
	    "DELETE FROM refusals WHERE body_sha256 = ?1 AND client_id = ?2",
	/* Times are ISO 8601 UTC with milliseconds: they compare as text. */
	SQL(S_RFS_COUNT) =
	    "SELECT count(*), coalesce(sum(" REFUSAL_AT_RISK("?1") "), 0),"
	    " coalesce(sum(NOT authentic), 0) FROM refusals",
	/* (): one string, as clang's -Wstring-concatenation wants it said. */
	SQL(S_RFS_PRUNE) =
	    ("DELETE FROM refusals WHERE last_refused_at <"
	    " strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-7 days')"),
	/* By first_refused_at: sending it again cannot keep a row alive. */
	SQL(S_RFS_PRUNE_SAMPLE) =
	    ("DELETE FROM refusals WHERE NOT authentic AND first_refused_at <"
	    " strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-"
	    REFUSAL_STR(REFUSAL_SAMPLE_AGE_S) " seconds')"),
};

const char refusal_list_sql[] =
    "SELECT body_sha256, client_id, status, reason, request_time,"
    " notify_type, kind, object_id, first_refused_at, last_refused_at,"
    " refusal_count, " REFUSAL_AT_RISK("?1") " AS at_risk, "
    REFUSAL_AT_RISK("?2") " AS given_up, authentic"
    " FROM refusals ORDER BY authentic DESC, first_refused_at, body_sha256";

void
refusal_ago(char buf[REFUSAL_AGO_LEN], unsigned seconds)
{
	snprintf(buf, REFUSAL_AGO_LEN, "-%u seconds", seconds);
}

/*
 * The token value of "key" in body, scanning literally: the first
 * occurrence of "key" followed by blanks, ':', blanks and a string of
 * token bytes closed by '"'.  0 with out filled, -1 when there is none.
 */
static int
refusal_claim(const unsigned char *body, size_t len, const char *key,
    char out[NOTIF_ID_MAX + 1])
{
	char pat[40];
	const unsigned char *p = body, *q, *end = body + len;
	size_t plen, n;

	plen = (size_t)snprintf(pat, sizeof(pat), "\"%s\"", key);
	while ((size_t)(end - p) >= plen &&
	    (q = memmem(p, (size_t)(end - p), pat, plen)) != NULL) {
		/* Each round starts past the match: p only moves forward. */
		p = q + plen;
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' ||
		    *p == '\n'))
			p++;
		if (p == end || *p != ':')
			continue;
		p++;
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' ||
		    *p == '\n'))
			p++;
		if (p == end || *p != '"')
			continue;
		p++;
		for (n = 0; p + n < end && n <= NOTIF_ID_MAX &&
		    p[n] > 0x20 && p[n] < 0x7f && p[n] != '"' && p[n] != '\\';
		    n++)
			;
		if (n == 0 || n > NOTIF_ID_MAX || p + n == end || p[n] != '"')
			continue;
		memcpy(out, p, n);
		out[n] = '\0';
		return 0;
	}
	return -1;
}

void
refusal_claims(const unsigned char *body, size_t len, struct refusal_claims *c)
{
	/* The most specific id first: a capture also names its payment. */
	static const struct {
		const char	*key;
		enum notif_kind	 kind;
	} ids[] = {
		{ "refundRequestId", NOTIF_REFUND },
		{ "captureRequestId", NOTIF_CAPTURE },
		{ "disputeId", NOTIF_DISPUTE },
		{ "vaultingRequestId", NOTIF_VAULTING },
		{ "paymentRequestId", NOTIF_PAYMENT },
	};
	size_t i;

	memset(c, 0, sizeof(*c));
	if (body == NULL)
		return;
	if (refusal_claim(body, len, "notifyType", c->notify_type) != 0)
		refusal_claim(body, len, "disputeNotificationType",
		    c->notify_type);
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		if (refusal_claim(body, len, ids[i].key, c->object_id) == 0) {
			c->kind = notif_kind_str(ids[i].kind);
			break;
		}
	}
}

void
refusal_set(char *field, size_t cap, const char *v)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != '\0' && i + 1 < cap; i++)
		field[i] = (v[i] > 0x20 && v[i] < 0x7f) ? v[i] : '?';
	field[i] = '\0';
}

/*
 * Under s->q.lock: queue a refusal for the writer, 0; or count it dropped,
 * -1.  An unverified one is not queued while the sample is full (0: not
 * kept, not lost).  An authentic one is a notification Antom sent: when
 * the queue is full it takes the place of an unverified one (which forged
 * requests can fill the queue with).
 */
static int
refusal_push(struct store *s, const struct refusal *rf)
{
	size_t i;

	if (!rf->authentic && s->q.rfs_sample_full)
		return 0;
	if (s->q.rfs_npending < REFUSAL_PENDING_MAX)
		i = s->q.rfs_npending++;
	else {
		for (i = s->q.rfs_npending; i > 0 && rf->authentic; i--)
			if (!s->q.rfs_pending[i - 1].authentic)
				break;
		s->q.stats.refusals_dropped++;	/* this one, or the one replaced */
		if (!rf->authentic || i == 0)
			return -1;
		i--;
	}
	s->q.rfs_pending[i] = *rf;
	pthread_cond_signal(&s->q.cond);
	return 0;
}

int
refusal_queue(struct store *s, const struct refusal *rf)
{
	int rc;

	pthread_mutex_lock(&s->q.lock);
	rc = refusal_push(s, rf);
	pthread_mutex_unlock(&s->q.lock);
	return rc;
}

enum refusal_keep
refusal_keep(unsigned status, int authentic, int configured)
{
	if (status != 400 && status != 401 && status != 413 && status != 503)
		return REFUSAL_KEEP_NONE;
	if (authentic)
		return REFUSAL_KEEP_AUTHENTIC;
	return configured ? REFUSAL_KEEP_SAMPLE : REFUSAL_KEEP_NONE;
}

int
refusal_note(struct store *s, const struct verify_keyring *keys,
    const struct refusal_request *q)
{
	struct refusal rf;
	struct refusal_claims claims;
	enum refusal_keep keep;
	int full;

	keep = refusal_keep(q->status, q->authentic, q->client_id != NULL &&
	    verify_keyring_has_client(keys, q->client_id));
	if (keep == REFUSAL_KEEP_NONE)
		return 0;
	if (keep == REFUSAL_KEEP_SAMPLE) {
		/* Spare the hash and the scan: it would not be queued. */
		pthread_mutex_lock(&s->q.lock);
		full = s->q.rfs_sample_full;
		pthread_mutex_unlock(&s->q.lock);
		if (full)
			return 0;
	}
	memset(&rf, 0, sizeof(rf));
	rf.status = (int)q->status;
	rf.authentic = keep == REFUSAL_KEEP_AUTHENTIC;
	refusal_set(rf.client_id, sizeof(rf.client_id), q->client_id);
	refusal_set(rf.reason, sizeof(rf.reason), q->reason);
	refusal_set(rf.request_time, sizeof(rf.request_time), q->request_time);
	if (q->whole)
		refusal_set(rf.body_sha256, sizeof(rf.body_sha256),
		    q->body_sha256(q->arg));
	if (q->notif != NULL) {
		/* Verified, then not stored: what it is, from the parse. */
		refusal_set(rf.notify_type, sizeof(rf.notify_type),
		    q->notif->notify_type);
		refusal_set(rf.kind, sizeof(rf.kind),
		    notif_kind_str(q->notif->kind));
		refusal_set(rf.object_id, sizeof(rf.object_id),
		    notif_object_id(q->notif));
	} else if (q->whole) {
		/* Never parsed unverified: what it claims, by a literal scan. */
		refusal_claims(q->body, q->len, &claims);
		refusal_set(rf.notify_type, sizeof(rf.notify_type),
		    claims.notify_type);
		refusal_set(rf.kind, sizeof(rf.kind), claims.kind);
		refusal_set(rf.object_id, sizeof(rf.object_id),
		    claims.object_id);
	}
	return refusal_queue(s, &rf);
}

/*
 * Writer, inside a transaction: the notification (client_id, hash) is
 * stored now, so it is no longer at risk.  0 or -1.
 */
int
refusal_clear(struct store *s, const char *client_id, const char *hash)
{
	sqlite3_stmt *st = s->w.stmt[S_RFS_CLEAR];

	/*
	 * Always: a probe of a table that is almost always empty.  Skipping
	 * it while the writer believes none is held went wrong when a batch
	 * that had cleared one was rolled back and retried job by job.
	 */
	store_bind_text(st, 1, hash);
	store_bind_text(st, 2, client_id);
	return store_step(s, S_RFS_CLEAR);
}

/*
 * Writer: refusals the database could not take.  Most 503s happen
 * because it cannot (locked, read-only, full), so authentic refusals go
 * back in the queue and are written once it can; unverified ones are
 * counted as dropped.
 */
void
refusal_requeue(struct store *s, const struct refusal *rf, size_t n,
    uint64_t *dropped)
{
	size_t i;

	pthread_mutex_lock(&s->q.lock);
	for (i = 0; i < n; i++)
		if (!rf[i].authentic)
			(*dropped)++;
		else
			refusal_push(s, &rf[i]);	/* counts its own drop */
	pthread_mutex_unlock(&s->q.lock);
}

/* An empty claim is SQL NULL. */
static void
bind_claim(sqlite3_stmt *st, int i, const char *v)
{
	store_bind_text(st, i, v[0] != '\0' ? v : NULL);
}

/*
 * Writer: record n refusals in one transaction of their own (they must
 * never hold up or fail a batch of deliveries).  When the database cannot
 * take them, authentic ones wait in the queue for the next try
 * (refusal_requeue) and unverified ones are counted as dropped.  The
 * sample's cap is the writer's count (REFUSAL_SAMPLE_MAX): an unverified
 * refusal over it is not kept, which is not a loss.
 */
void
refusal_write(struct store *s, const struct refusal *rf,
    size_t n)
{
	char now[UTIL_ISO_TIME_LEN];
	uint64_t recorded = 0, dropped = 0, txns = 0;
	sqlite3_stmt *st;
	size_t i;
	int which, kept;

	if (refusal_write_start(s, n, now, &dropped) != 0)
		goto out;
	if (s->q.readonly && store_reconnect(s) != 0) {
		refusal_requeue(s, rf, n, &dropped);
		goto out;
	}
	store_rollback(s);
	/* Never wait for another process's lock here: deliveries come first. */
	s->w.no_wait = 1;
	if (store_step(s, S_BEGIN) != 0) {
		s->w.no_wait = 0;
		refusal_requeue(s, rf, n, &dropped);
		goto out;
	}
	for (i = 0; i < n; i++) {
		/*
		 * Stored already (it raced its own retry): nothing at risk.
		 * Found by its object, as the writer finds it: the parse's
		 * for an authentic one, the claim for the rest.  A claim
		 * names what the parse does for the kinds antomd applies;
		 * for a body it archives (object_id NULL) or spells oddly
		 * it does not, and that unverified sample is kept, never at
		 * risk, until a delivery of it is stored (refusal_clear).
		 */
		if (rf[i].body_sha256[0] != '\0') {
			st = s->w.stmt[S_NOTIF_FIND];
			store_bind_text(st, 1, rf[i].client_id);
			store_bind_text(st, 2, rf[i].body_sha256);
			bind_claim(st, 3, rf[i].object_id);
			which = sqlite3_step(st);
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			if (which == SQLITE_ROW)
				continue;
			if (which != SQLITE_DONE)
				goto fail;
		}
		which = S_RFS_TOUCH;
		kept = 0;
		for (;;) {
			st = s->w.stmt[which];
			store_bind_text(st, 1, rf[i].body_sha256);
			store_bind_text(st, 2, rf[i].client_id);
			sqlite3_bind_int(st, 3, rf[i].status);
			store_bind_text(st, 4, rf[i].reason);
			bind_claim(st, 5, rf[i].request_time);
			bind_claim(st, 6, rf[i].notify_type);
			bind_claim(st, 7, rf[i].kind);
			bind_claim(st, 8, rf[i].object_id);
			store_bind_text(st, 9, now);
			sqlite3_bind_int(st, 10, rf[i].authentic);
			if (store_step(s, which) != 0)
				goto fail;
			kept = sqlite3_changes(s->w.db) > 0;
			if (kept || which == S_RFS_INSERT ||
			    !refusal_may_insert(s, &rf[i]))
				break;
			which = S_RFS_INSERT;
		}
		refusal_tally(s, &rf[i], kept, which == S_RFS_INSERT, &recorded,
		    &dropped);
	}
	if (store_step(s, S_COMMIT) == 0) {
		s->w.no_wait = 0;
		txns = 1;
		goto out;
	}
fail:
	s->w.no_wait = 0;
	store_rollback(s);
	refusal_write_failed(s, rf, n, &recorded, &dropped);
out:
	refusal_written(s, recorded, dropped, txns);
}

int
refusal_write_start(struct store *s, size_t n, char now[UTIL_ISO_TIME_LEN],
    uint64_t *dropped)
{
	util_now_iso(now);
	s->ledger.written = util_mono_us();
	if (atomic_load(&s->aborting)) {
		*dropped = n;		/* out of time: Antom delivers again */
		return -1;
	}
	return 0;
}

/* Rolled back: nothing recorded, the authentic ones queued again. */
void
refusal_write_failed(struct store *s, const struct refusal *rf, size_t n,
    uint64_t *recorded, uint64_t *dropped)
{
	*recorded = 0;
	*dropped = 0;
	refusal_requeue(s, rf, n, dropped);
	s->ledger.checked = 0;	/* recount */
}

/* The sample is full: a forged request adds nothing. */
int
refusal_may_insert(const struct store *s, const struct refusal *rf)
{
	return rf->authentic || s->ledger.sample < REFUSAL_SAMPLE_MAX;
}

void
refusal_tally(struct store *s, const struct refusal *rf, int kept,
    int inserted, uint64_t *recorded, uint64_t *dropped)
{
	if (kept) {
		(*recorded)++;
		if (inserted) {
			s->ledger.held++;
			s->ledger.sample += !rf->authentic;
		}
	} else if (rf->authentic)
		(*dropped)++;	/* not seen: the INSERT takes it */
}

void
refusal_written(struct store *s, uint64_t recorded, uint64_t dropped,
    uint64_t txns)
{
	pthread_mutex_lock(&s->q.lock);
	s->q.stats.refusals += recorded;
	s->q.stats.refusals_dropped += dropped;
	s->q.stats.refusal_txns += txns;
	s->q.stats.refusals_held = s->ledger.held;
	s->q.stats.refusals_unverified = s->ledger.sample;
	s->q.rfs_sample_full = s->ledger.sample >= REFUSAL_SAMPLE_MAX;
	pthread_mutex_unlock(&s->q.lock);
}

/* Writer: time to count the refusals again? */
int
refusal_check_due(const struct store *s)
{
	uint64_t since = util_mono_us() - s->ledger.checked;

	if (s->ledger.checked == 0)
		return 1;
	return since >= (s->ledger.held > 0 ? REFUSAL_CHECK_US :
	    30 * REFUSAL_CHECK_US);
}

/*
 * Writer: forget refusals nobody retried for 7 days, count those held
 * and those at risk, and tell the operator: a WARN when the number at
 * risk changes, and again every 10 minutes while there are any.
 */
void
refusal_check(struct store *s)
{
	sqlite3_stmt *st = s->w.stmt[S_RFS_COUNT];
	char ago[REFUSAL_AGO_LEN];
	int64_t held = 0, at_risk = 0, sample = 0;
	uint64_t now = util_mono_us();
	int rc, forgot;

	s->ledger.checked = now;
	if (s->q.readonly || s->w.db == NULL || atomic_load(&s->aborting))
		return;
	refusal_ago(ago, s->opt.at_risk_after_s);
	for (;;) {
		store_bind_text(st, 1, ago);
		if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			held = sqlite3_column_int64(st, 0);
			at_risk = sqlite3_column_int64(st, 1);
			sample = sqlite3_column_int64(st, 2);
		}
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (rc != SQLITE_ROW) {
			log_warnx("database: refusals: %s", sqlite3_errmsg(s->w.db));
			return;
		}
		/*
		 * A write: only when there may be something to forget.  A
		 * full sample is aged as soon as it can be, to make room.
		 */
		if (held == 0 || (s->ledger.pruned != 0 &&
		    now - s->ledger.pruned < REFUSAL_WARN_US &&
		    sample < REFUSAL_SAMPLE_MAX))
			break;
		s->ledger.pruned = now;
		s->w.no_wait = 1;		/* it can wait for the next time */
		if ((rc = store_step(s, S_RFS_PRUNE)) == 0) {
			forgot = sqlite3_changes(s->w.db);
			if (sample > 0 && (rc = store_step(s,
			    S_RFS_PRUNE_SAMPLE)) == 0)
				forgot += sqlite3_changes(s->w.db);
		}
		s->w.no_wait = 0;
		if (rc != 0)
			return;
		if (forgot == 0)
			break;
	}
	refusal_counted(s, held, at_risk, sample, now);
}

/*
 * Writer: the ledger counted (any engine's refusal_check): publish it,
 * and WARN when the number at risk changes, and again every 10 minutes
 * while there are any.
 */
void
refusal_counted(struct store *s, int64_t held, int64_t at_risk,
    int64_t sample, uint64_t now)
{
	struct logbuf lb;

	s->ledger.held = held;
	s->ledger.sample = sample;
	pthread_mutex_lock(&s->q.lock);
	s->q.stats.refusals_held = held;
	s->q.stats.refusals_unverified = sample;
	s->q.stats.at_risk = at_risk;
	s->q.rfs_sample_full = sample >= REFUSAL_SAMPLE_MAX;
	pthread_mutex_unlock(&s->q.lock);
	if (at_risk > 0 && (at_risk != s->ledger.warned_n ||
	    now - s->ledger.warned >= REFUSAL_WARN_US)) {
		log_begin(&lb, LOG_LEVEL_WARN, "notifications at risk: refused "
		    "and not delivered again successfully; Antom gives up 24 h "
		    "22 min after its first attempt (antomctl refusals)");
		log_kv_int(&lb, "at_risk", at_risk);
		log_kv_int(&lb, "refused_for_more_than_s", s->opt.at_risk_after_s);
		log_kv_int(&lb, "refusals_held", held);
		log_end(&lb);
		s->ledger.warned = now;
	} else if (at_risk == 0 && s->ledger.warned_n > 0)
		log_info("no notification at risk any more");
	s->ledger.warned_n = at_risk;
}

/*
 * Writer, under the lock: are refusals waiting that may be written now?
 * One transaction per REFUSAL_WRITE_US at most, so a flood of refused
 * requests costs the deliveries at most ten extra commits a second.
 */
int
refusal_write_due(const struct store *s)
{
	/* Read-only: each write tries a reconnect, as often as a probe. */
	return s->q.rfs_npending > 0 && (s->q.stopping ||
	    util_mono_us() - s->ledger.written >= (s->q.readonly ?
	    STORE_PROBE_US : REFUSAL_WRITE_US));
}
