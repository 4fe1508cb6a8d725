/*
 * store_replay.c - stored notifications read again, by the SQLite engine:
 * store_state_replay() (antomctl replay, through store_replay()) and
 * store_state_migrated(), the re-reading of every archived notification
 * when a schema version changes what can be applied.
 *
 * Each is judged as a new delivery would be (store_judge.c) and written
 * with store_state.c's statements; only the de-duplication by body hash
 * is bypassed.  Runs on the writer's connection, with no writer thread.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_int.h"
#include "util.h"

/* One step of sql bound to a notification id, kind and object id. */
static int
store_row_step(sqlite3 *db, const char *sql, int64_t id, const char *kind,
    const char *object_id)
{
	sqlite3_stmt *st;
	int step;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return SQLITE_ERROR;
	sqlite3_bind_int64(st, 1, id);
	store_bind_text(st, 2, kind);
	store_bind_text(st, 3, object_id);
	step = sqlite3_step(st);
	sqlite3_finalize(st);
	return step;
}

/*
 * How store_replay_row() treats a notification that this version still
 * cannot apply: replay records what it says now; a migration leaves such
 * a row as it is, unlogged.
 */
enum store_replay_mode { STORE_REPLAY_ASKED, STORE_REPLAY_MIGRATING };

/*
 * The row says what this version reads in the body: its discriminator,
 * and why it is kept verbatim only, or nothing; and an outcome of
 * "archived" becomes what judging it did now, since it is no longer
 * merely kept.  Any other outcome stays what the first delivery did.
 */
static int
store_replay_reread(sqlite3 *db, int64_t id, const struct notif *n,
    enum store_outcome outcome)
{
	static const char sql[] = "UPDATE notifications SET notify_type = ?2,"
	    " archive_reason = ?3, outcome = CASE WHEN outcome = 'archived'"
	    " THEN ?4 ELSE outcome END WHERE id = ?1";
	sqlite3_stmt *st;
	int step;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	store_bind_text(st, 2, n->notify_type);
	store_bind_text(st, 3, n->kind == NOTIF_OTHER ? n->archive_reason :
	    NULL);
	store_bind_text(st, 4, store_outcome_str(outcome));
	step = sqlite3_step(st);
	sqlite3_finalize(st);
	return step == SQLITE_DONE ? 0 : -1;
}

/*
 * The INFO line of a notification replayed, and the WARN line of what it
 * contradicted (note, or "" for nothing); store_pg_replay.c's too.
 */
void
store_log_replayed(const struct notif *n, const char *client_id, int64_t id,
    const char *object_id, enum store_outcome outcome, const char *note)
{
	struct logbuf lb;

	log_begin(&lb, LOG_LEVEL_INFO, "notification replayed");
	log_kv_int(&lb, "notification_id", (long long)id);
	log_kv_str(&lb, "client_id", client_id);
	log_kv_str(&lb, "kind", notif_kind_str(n->kind));
	if (object_id != NULL)
		log_kv_str(&lb, "object_id", object_id);
	log_kv_str(&lb, "outcome", store_outcome_str(outcome));
	log_end(&lb);
	if (note[0] != '\0')
		store_log_discrepancy(n->kind, client_id, notif_object_id(n),
		    id, outcome, note);
}

/*
 * Inside the caller's transaction: notification id read again and judged
 * against the state held now (store_replay()).  DONE with r filled but
 * its status (in STORE_REPLAY_MIGRATING, also when it is left alone: then
 * r->outcome is STORE_ARCHIVED), NONE when there is no such row, FAILED
 * on a database error or a row that cannot be replayed (logged; the
 * caller rolls back).
 */
static enum store_replay_result
store_replay_row(struct store *s, int64_t id, enum store_replay_mode mode,
    struct store_result *r)
{
	static const char sql[] = "SELECT client_id, body FROM notifications"
	    " WHERE id = ?1";
	static const char reclass[] = "UPDATE notifications SET kind = ?2,"
	    " object_id = ?3 WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM"
	    " events WHERE notification_id = ?1)";
	static const char agrees[] = "SELECT 1 FROM notifications WHERE"
	    " id = ?1 AND kind = ?2 AND object_id IS ?3";
	/* Bound as ?1 id, ?2 the discrepancy (store_row_step's kind). */
	static const char noted[] = "UPDATE notifications SET discrepancy = ?2"
	    " WHERE id = ?1";
	struct store_delivery d;
	struct store_current cur;
	enum store_change change;
	struct notif n;
	char note[STORE_NOTE_MAX];
	sqlite3_stmt *st = NULL;
	const char *object_id;
	char now[UTIL_ISO_TIME_LEN];
	char *client = NULL;
	unsigned char *body = NULL;
	enum store_replay_result rc = STORE_REPLAY_FAILED;
	int parsed = 0, step;
	size_t len;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	if (sqlite3_prepare_v2(s->w.db, sql, -1, &st, NULL) != SQLITE_OK)
		goto dberr;
	sqlite3_bind_int64(st, 1, id);
	step = sqlite3_step(st);
	if (step == SQLITE_DONE) {
		rc = STORE_REPLAY_NONE;
		goto out;
	}
	if (step != SQLITE_ROW)
		goto dberr;
	len = (size_t)sqlite3_column_bytes(st, 1);
	client = strdup((const char *)sqlite3_column_text(st, 0));
	body = malloc(len + 1);
	if (client == NULL || body == NULL) {
		log_warnx("out of memory");
		goto out;
	}
	if (len > 0)
		memcpy(body, sqlite3_column_blob(st, 1), len);
	sqlite3_finalize(st);
	st = NULL;

	if (notif_parse(body, len, &n) != 0) {
		log_warnx("out of memory");
		goto out;
	}
	parsed = 1;
	if (mode == STORE_REPLAY_MIGRATING && n.kind == NOTIF_OTHER) {
		r->outcome = STORE_ARCHIVED;
		r->notification_id = id;
		rc = STORE_REPLAY_DONE;
		goto out;
	}
	memset(&d, 0, sizeof(d));
	d.client_id = client;
	d.body = body;
	d.bodylen = len;
	d.notif = &n;
	object_id = notif_object_id(&n);
	memset(&cur, 0, sizeof(cur));
	if (n.kind != NOTIF_OTHER && object_id != NULL &&
	    store_read_object(s, &n, client, object_id, &cur) != 0)
		goto out;
	r->outcome = store_judge(&n, &cur, &change, note);
	util_now_iso(now);
	/*
	 * The row's kind and object id become what this version reads in
	 * the body: events are found through their notification's object
	 * (schema 3), so the two must agree.  Not once it has events: those
	 * were found by what it says now.  Then a row that still says other
	 * than the body is not replayed: an event written now would be
	 * filed under an object no query reaches it by.
	 */
	if (store_row_step(s->w.db, reclass, id, notif_kind_str(n.kind),
	    object_id) != SQLITE_DONE)
		goto dberr;
	step = store_row_step(s->w.db, agrees, id, notif_kind_str(n.kind),
	    object_id);
	if (step == SQLITE_DONE) {
		log_warnx("notification %lld not replayed: it has events filed"
		    " under the object it named before, and this version reads"
		    " another in its body", (long long)id);
		goto out;
	}
	if (step != SQLITE_ROW)
		goto dberr;
	if (store_write_state(s, &d, &cur, change, id, now) != 0)
		goto out;
	/* What it contradicts now is found as a new one's would be. */
	if (note[0] != '\0' && store_row_step(s->w.db, noted, id, note,
	    NULL) != SQLITE_DONE)
		goto dberr;
	if (store_replay_reread(s->w.db, id, &n, r->outcome) != 0)
		goto dberr;
	r->notification_id = id;
	rc = STORE_REPLAY_DONE;
	/* Said before the COMMIT: a rollback after is logged as a failure. */
	store_log_replayed(&n, client, id, object_id, r->outcome, note);
	goto out;
dberr:
	log_warnx("database: %s", sqlite3_errmsg(s->w.db));
out:
	sqlite3_finalize(st);
	if (parsed)
		notif_free(&n);
	free(client);
	free(body);
	return rc;
}

/*
 * Re-apply archived notification id: the body is parsed again and judged
 * against the state held now, exactly as a new delivery would be, and an
 * APPLIED outcome writes the object row and one events row pointing at
 * id.  Only the de-duplication by (client id, body hash) is bypassed;
 * an outcome of "archived" becomes what judging it did now, any other
 * stays what the first delivery did; its discrepancy becomes what it
 * contradicts now (if anything), its kind, object id, notify type and
 * archive reason what the body says now (a row with events that says
 * otherwise is not replayed), and the replay is logged.  One BEGIN
 * IMMEDIATE ... COMMIT on the calling thread; not with a running writer.
 */
enum store_replay_result
store_state_replay(struct store *s, int64_t id, struct store_result *r)
{
	enum store_replay_result rc;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	if (s->q.readonly || s->w.db == NULL) {
		log_warnx("database %s is read-only", s->path);
		return STORE_REPLAY_FAILED;
	}
	store_rollback(s);
	if (store_step(s, S_BEGIN) != 0)
		return STORE_REPLAY_FAILED;
	rc = store_replay_row(s, id, STORE_REPLAY_ASKED, r);
	if (rc == STORE_REPLAY_DONE && store_step(s, S_COMMIT) != 0) {
		log_warnx("notification %lld: the replay was rolled back",
		    (long long)id);
		rc = STORE_REPLAY_FAILED;
	}
	if (rc != STORE_REPLAY_DONE) {
		store_rollback(s);
		r->outcome = 0;
		r->notification_id = 0;
		return rc;
	}
	r->status = 0;
	return rc;
}

/*
 * store_connect()'s hook, inside the migration's transaction, with the
 * statements prepared: when the schema was older than version 8, every
 * notification it archived (antomd_replay) is read again with this
 * version's parser, in the order received, and what it can now apply
 * goes through the state machine as store_replay() would: a
 * PAYMENT_PENDING with F, a refund whose refundStatus says FAIL, a
 * result U, a dispute that also carried a notifyType (docs/protocol.md
 * section 4).  Rows it still cannot apply stay as they are.  0, or -1
 * with err: the migration rolls back as a whole.
 */
int
store_state_migrated(struct store *s, int from, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	struct store_result r;
	long long seen = 0, applied = 0;
	int step;

	if (from >= 8)
		return 0;
	if (sqlite3_prepare_v2(s->w.db, "SELECT notification_id FROM"
	    " antomd_replay ORDER BY notification_id", -1, &st, NULL) !=
	    SQLITE_OK)
		goto dberr;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		seen++;
		if (store_replay_row(s, sqlite3_column_int64(st, 0),
		    STORE_REPLAY_MIGRATING, &r) != STORE_REPLAY_DONE) {
			util_err(err, errlen, "cannot migrate the schema to "
			    "version 8: notification %lld could not be read "
			    "again", (long long)sqlite3_column_int64(st, 0));
			goto fail;
		}
		if (r.outcome != STORE_ARCHIVED)
			applied++;
	}
	if (step != SQLITE_DONE)
		goto dberr;
	sqlite3_finalize(st);
	st = NULL;
	if (store_exec(s->w.db, "DROP TABLE antomd_replay", err, errlen) != 0)
		goto fail;
	if (seen > 0)
		log_info("database %s: %lld archived notifications read again "
		    "for schema 8, %lld of them no longer archived", s->path,
		    seen, applied);
	return 0;
dberr:
	util_err(err, errlen, "cannot migrate the schema to version 8: %s",
	    sqlite3_errmsg(s->w.db));
fail:
	sqlite3_finalize(st);
	return -1;
}
