/*
 * store_schema.c - the database's schema: its DDL, the migrations from
 * every earlier version, and store_sqlite_check() (store_check(), store.h).
 *
 * Table and column names are a public contract (README "What is stored"), and so
 * is the text of what earlier versions wrote: each migration finds what
 * the version before made, so the text a migration writes never changes
 * once released.  Works on a connection it is given; no state of its own.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "notif.h"
#include "store_int.h"
#include "store_schema.h"
#include "util.h"

/*
 * How payment_status begins in version 1, and in version 2 before the
 * columns it adds.
 */
#define STORE_PAYMENT_STATUS_HEAD					\
"CREATE VIEW payment_status AS"						\
"  SELECT p.client_id, p.payment_request_id, p.payment_id, p.status,"	\
"         p.amount_value, p.currency, p.result_code, p.payment_time,"	\
"         p.updated_at,"							\
"         (SELECT coalesce(sum(c.amount_value), 0) FROM captures c"	\
"           WHERE c.client_id = p.client_id AND c.payment_id = p.payment_id" \
"             AND c.status = 'SUCCESS') AS captured_amount_value"

/*
 * How payment_captures begins and ends in version 1; version 7 adds a
 * column between the two.
 */
#define STORE_PAYMENT_CAPTURES_HEAD					\
"CREATE VIEW payment_captures AS"					\
"  SELECT p.payment_request_id, p.payment_id, p.client_id,"		\
"         p.status AS payment_status,"					\
"         p.amount_value AS payment_amount_value,"			\
"         p.currency AS payment_currency, p.payment_time,"		\
"         c.capture_request_id, c.capture_id,"				\
"         c.status AS capture_status,"					\
"         c.amount_value AS capture_amount_value,"			\
"         c.currency AS capture_currency, c.capture_time,"		\
"         p.updated_at AS payment_updated_at,"				\
"         c.updated_at AS capture_updated_at"
#define STORE_PAYMENT_CAPTURES_FROM					\
"  FROM payments p"							\
"  LEFT JOIN captures c"						\
"    ON c.client_id = p.client_id AND c.payment_id = p.payment_id;"


/* Schema version 1.  Table and column names are a public contract. */
static const char store_schema_v1[] =
"CREATE TABLE notifications ("
"  id                INTEGER PRIMARY KEY,"
"  client_id         TEXT NOT NULL,"
"  body_sha256       TEXT NOT NULL,"
"  body              BLOB NOT NULL,"
"  request_time      TEXT NOT NULL,"
"  signature         TEXT NOT NULL,"
"  signed_path       TEXT NOT NULL,"
"  key_version       INTEGER NOT NULL,"
"  notify_type       TEXT,"
"  kind              TEXT NOT NULL CHECK (kind IN ('payment','capture','other')),"
"  object_id         TEXT,"
"  outcome           TEXT NOT NULL CHECK (outcome IN"
"                      ('applied','duplicate','ignored','conflict','archived')),"
"  archive_reason    TEXT,"
"  first_received_at TEXT NOT NULL,"
"  last_received_at  TEXT NOT NULL,"
"  delivery_count    INTEGER NOT NULL DEFAULT 1,"
"  UNIQUE (client_id, body_sha256)"
");"
"CREATE INDEX notifications_object ON notifications (object_id);"
"CREATE TABLE payments ("
"  payment_request_id         TEXT NOT NULL,"
"  client_id                  TEXT NOT NULL,"
"  payment_id                 TEXT,"
"  status                     TEXT NOT NULL CHECK (status IN ('PENDING','SUCCESS','FAIL')),"
"  result_code                TEXT,"
"  result_message             TEXT,"
"  amount_value               INTEGER,"
"  currency                   TEXT,"
"  payment_create_time        TEXT,"
"  payment_time               TEXT,"
"  avs_result_raw             TEXT,"
"  cvv_result_raw             TEXT,"
"  network_transaction_id     TEXT,"
"  three_ds_eci               TEXT,"
"  three_ds_version           TEXT,"
"  three_ds_cavv              TEXT,"
"  three_ds_ds_transaction_id TEXT,"
"  card_brand                 TEXT,"
"  last_four                  TEXT,"
"  issuing_country            TEXT,"
"  refusal_code_raw           TEXT,"
"  refusal_reason_raw         TEXT,"
"  notification_id            INTEGER NOT NULL REFERENCES notifications (id),"
"  created_at                 TEXT NOT NULL,"
"  updated_at                 TEXT NOT NULL,"
"  PRIMARY KEY (client_id, payment_request_id)"
") WITHOUT ROWID;"
"CREATE INDEX payments_payment_id ON payments (client_id, payment_id);"
"CREATE TABLE captures ("
"  capture_request_id    TEXT NOT NULL,"
"  client_id             TEXT NOT NULL,"
"  capture_id            TEXT,"
"  payment_id            TEXT,"
"  status                TEXT NOT NULL CHECK (status IN ('SUCCESS','FAIL')),"
"  result_code           TEXT,"
"  result_message        TEXT,"
"  amount_value          INTEGER,"
"  currency              TEXT,"
"  capture_time          TEXT,"
"  acquirer_reference_no TEXT,"
"  notification_id       INTEGER NOT NULL REFERENCES notifications (id),"
"  created_at            TEXT NOT NULL,"
"  updated_at            TEXT NOT NULL,"
"  PRIMARY KEY (client_id, capture_request_id)"
") WITHOUT ROWID;"
"CREATE INDEX captures_payment_id ON captures (client_id, payment_id);"
"CREATE TABLE events ("
"  seq             INTEGER PRIMARY KEY AUTOINCREMENT,"
"  created_at      TEXT NOT NULL,"
"  client_id       TEXT NOT NULL,"
"  object_type     TEXT NOT NULL CHECK (object_type IN ('payment','capture')),"
"  object_id       TEXT NOT NULL,"
"  payment_id      TEXT,"
"  old_status      TEXT,"
"  new_status      TEXT NOT NULL,"
"  notification_id INTEGER NOT NULL REFERENCES notifications (id)"
");"
STORE_PAYMENT_CAPTURES_HEAD
STORE_PAYMENT_CAPTURES_FROM
/* For merchant applications: one row per payment, what they usually ask. */
STORE_PAYMENT_STATUS_HEAD
"  FROM payments p;";

/*
 * Version 2: refunds, disputes and vaultings become state, not archive.
 * The kind and object_type CHECKs are widened in place (SQLite's
 * documented writable_schema procedure for changes that leave the stored
 * rows valid): a rebuild would copy every archived body and, on a large
 * database, hold the write lock for minutes.
 */
static const char *const store_schema_v2_checks[][3] = {
	{ "notifications",
	  "CHECK (kind IN ('payment','capture','other'))",
	  "CHECK (kind IN ('payment','capture','refund','dispute','vaulting',"
	  "'other'))" },
	{ "events",
	  "CHECK (object_type IN ('payment','capture'))",
	  "CHECK (object_type IN ('payment','capture','refund','dispute',"
	  "'vaulting'))" },
};

/*
 * Keys lead with their most selective column.  Version 1 led with
 * client_id, and without ANALYZE statistics SQLite takes an equality on a
 * key's first column for a narrow search: "WHERE client_id = ? AND
 * payment_id = ?" walked every payment of the client instead of using
 * payments_payment_id.  Each table is rebuilt from its own CREATE TABLE
 * with the key reordered (rows are small: the bodies stay in
 * notifications, which keeps its rowid), then its index is made again.
 */
static const char *const store_schema_v2_rekeys[][4] = {
	{ "payments", "PRIMARY KEY (client_id, payment_request_id)",
	  "PRIMARY KEY (payment_request_id, client_id)",
	  "CREATE INDEX payments_payment_id ON payments (payment_id, client_id)" },
	{ "captures", "PRIMARY KEY (client_id, capture_request_id)",
	  "PRIMARY KEY (capture_request_id, client_id)",
	  "CREATE INDEX captures_payment_id ON captures (payment_id, client_id)" },
};

/*
 * Schema version 4: payments and captures become rowid tables, their key
 * a UNIQUE index.  A WITHOUT ROWID table keeps its wide rows (a payment
 * has 25 columns) in a b-tree ordered by a random request id, so every
 * new payment landed on a random leaf and split it often; now rows are
 * appended and only the narrow key lands at random.  Table and column
 * names do not change.
 */
static const char *const store_schema_v4_rekeys[][4] = {
	{ "payments", "PRIMARY KEY (payment_request_id, client_id)) WITHOUT ROWID",
	  "UNIQUE (payment_request_id, client_id))",
	  "CREATE INDEX payments_payment_id ON payments (payment_id, client_id)" },
	{ "captures", "PRIMARY KEY (capture_request_id, client_id)) WITHOUT ROWID",
	  "UNIQUE (capture_request_id, client_id))",
	  "CREATE INDEX captures_payment_id ON captures (payment_id, client_id)" },
};

/*
 * Schema version 5: the same CHECKs, written without IN.  For a list of
 * more than two constants SQLite builds a temporary b-tree each time the
 * CHECK runs, that is for every row written (five per payment
 * notification).  An OR of equalities accepts and refuses exactly the
 * same values, NULL included.  test_checks_cheap holds every table to it.
 *
 * The kind, outcome and object type CHECKs are built from NOTIF_KINDS and
 * STORE_OUTCOMES (store_check_or), which today give exactly the text
 * version 5 wrote.  A migration's text must never change once released:
 * the assertions below stop a new kind or outcome from silently changing
 * it.  Adding one means a new schema version that widens these CHECKs
 * (from the text version 5 wrote, frozen as a literal) to the new list.
 */
_Static_assert(NOTIF_KIND_COUNT == 6, "schema 5 CHECKs: a new kind needs "
    "a schema version of its own (store_schema.c)");
_Static_assert(STORE_OUTCOME_COUNT == 5, "schema 5 CHECKs: a new outcome "
    "needs a schema version of its own (store_schema.c)");

enum { V5_KIND, V5_OUTCOME, V5_PAY_STATUS, V5_OBJECT_TYPE, V5_VLT_STATUS,
    V5_COUNT };

/* NULL: built by store_migrate_v5(). */
static const char *const store_schema_v5_checks[V5_COUNT][3] = {
	[V5_KIND] = { "notifications",
	  "CHECK (kind IN ('payment','capture','refund','dispute','vaulting',"
	  "'other'))", NULL },
	[V5_OUTCOME] = { "notifications",
	  "CHECK (outcome IN                      ('applied','duplicate',"
	  "'ignored','conflict','archived'))", NULL },
	[V5_PAY_STATUS] = { "payments",
	  "CHECK (status IN ('PENDING','SUCCESS','FAIL'))",
	  "CHECK (status = 'PENDING' OR status = 'SUCCESS' OR"
	  " status = 'FAIL')" },
	[V5_OBJECT_TYPE] = { "events",
	  "CHECK (object_type IN ('payment','capture','refund','dispute',"
	  "'vaulting'))", NULL },
	[V5_VLT_STATUS] = { "vaultings",
	  "CHECK (status IN ('PENDING','SUCCESS','FAIL'))",
	  "CHECK (status = 'PENDING' OR status = 'SUCCESS' OR"
	  " status = 'FAIL')" },
};

static const char store_schema_v2[] =
"CREATE TABLE refunds ("
"  refund_request_id  TEXT NOT NULL,"
"  client_id          TEXT NOT NULL,"
"  refund_id          TEXT,"
"  payment_id         TEXT,"
"  payment_request_id TEXT,"
"  status             TEXT NOT NULL CHECK (status IN ('SUCCESS','FAIL')),"
"  result_code        TEXT,"
"  result_message     TEXT,"
"  amount_value       INTEGER,"
"  currency           TEXT,"
"  refund_time        TEXT,"
"  notification_id    INTEGER NOT NULL REFERENCES notifications (id),"
"  created_at         TEXT NOT NULL,"
"  updated_at         TEXT NOT NULL,"
"  PRIMARY KEY (refund_request_id, client_id)"
") WITHOUT ROWID;"
"CREATE INDEX refunds_payment_id ON refunds (payment_id, client_id);"
"CREATE TABLE disputes ("
"  dispute_id          TEXT NOT NULL,"
"  client_id           TEXT NOT NULL,"
"  payment_id          TEXT,"
"  payment_request_id  TEXT,"
"  capture_id          TEXT,"
"  stage               TEXT NOT NULL,"
"  dispute_type        TEXT,"
"  amount_value        INTEGER,"
"  currency            TEXT,"
"  reason_code         TEXT,"
"  reason_msg          TEXT,"
"  source              TEXT,"
"  dispute_time        TEXT,"
"  defense_due_time    TEXT,"
"  defendable          TEXT CHECK (defendable IN ('true','false')),"
"  judged_result       TEXT,"
"  judged_time         TEXT,"
"  judged_amount_value INTEGER,"
"  judged_currency     TEXT,"
"  notification_id     INTEGER NOT NULL REFERENCES notifications (id),"
"  created_at          TEXT NOT NULL,"
"  updated_at          TEXT NOT NULL,"
"  PRIMARY KEY (dispute_id, client_id)"
") WITHOUT ROWID;"
"CREATE INDEX disputes_payment_id ON disputes (payment_id, client_id);"
"CREATE TABLE vaultings ("
"  vaulting_request_id  TEXT NOT NULL,"
"  client_id            TEXT NOT NULL,"
"  status               TEXT NOT NULL CHECK (status IN ('PENDING','SUCCESS','FAIL')),"
"  result_code          TEXT,"
"  result_message       TEXT,"
"  card_token           TEXT,"
"  card_brand           TEXT,"
"  card_no_masked       TEXT,"
"  issuing_country      TEXT,"
"  vaulting_create_time TEXT,"
"  notification_id      INTEGER NOT NULL REFERENCES notifications (id),"
"  created_at           TEXT NOT NULL,"
"  updated_at           TEXT NOT NULL,"
"  PRIMARY KEY (vaulting_request_id, client_id)"
") WITHOUT ROWID;"
/*
 * Deliveries refused before they could be stored, until the same
 * notification is stored (refusal.h).  Only what the
 * request claimed: nothing here is verified.
 */
"CREATE TABLE refusals ("
"  body_sha256      TEXT NOT NULL,"
"  client_id        TEXT NOT NULL,"
"  status           INTEGER NOT NULL,"
"  reason           TEXT NOT NULL,"
"  request_time     TEXT,"
"  notify_type      TEXT,"
"  kind             TEXT,"
"  object_id        TEXT,"
"  first_refused_at TEXT NOT NULL,"
"  last_refused_at  TEXT NOT NULL,"
"  refusal_count    INTEGER NOT NULL,"
"  PRIMARY KEY (body_sha256, client_id)"
") WITHOUT ROWID;"
STORE_PAYMENT_STATUS_HEAD ","
"         (SELECT coalesce(sum(r.amount_value), 0) FROM refunds r"
"           WHERE r.client_id = p.client_id AND r.payment_id = p.payment_id"
"             AND r.status = 'SUCCESS') AS refunded_amount_value,"
STORE_PAYMENT_STATUS_DISPUTES
"  FROM payments p;";


/*
 * Schema version 3.  The timeline finds events through their
 * notification, whose id only grows, rather than through an index on the
 * event's object id: that index cost a random b-tree page per
 * notification.  An event's object id and client id are those of its
 * notification (test_event_matches_notification), so the timeline is the
 * same.
 *
 * "What happened to this order", one query: every state change of the
 * payment and of the captures, refunds and disputes that name its
 * paymentId, in seq order when the reader adds ORDER BY seq.
 */
static const char store_schema_v3[] =
"DROP INDEX IF EXISTS events_object;"
"CREATE INDEX IF NOT EXISTS events_notification ON events (notification_id);"
/* With the client id, so no plan prefers the body-hash key's client_id. */
"DROP INDEX IF EXISTS notifications_object;"
"CREATE INDEX notifications_object ON notifications (object_id, client_id);"
"DROP VIEW IF EXISTS payment_timeline;"
/*
 * CROSS JOIN keeps this join order: without statistics, SQLite would
 * search notifications by client id alone before knowing the object.
 */
STORE_TIMELINE_HEAD
STORE_TIMELINE_SELECT
"  FROM payments p CROSS JOIN refunds r ON r.client_id = p.client_id"
"   AND r.payment_id = p.payment_id"
"  CROSS JOIN notifications n ON n.object_id = r.refund_request_id"
"   AND n.client_id = r.client_id"
"  CROSS JOIN events e"
"    ON e.notification_id = n.id AND e.object_type = 'refund'"
"  UNION ALL"
STORE_TIMELINE_DISPUTES;

/*
 * Schema version 7: contradictions are never silent, and sums never mix
 * currencies.
 *
 * notifications.discrepancy says what a notification contradicted in the
 * state held, "field held -> notified" joined by "; " (store_judge.c):
 * an amount or currency changed between PENDING and the result (applied),
 * another amount or final status against a final one, another id
 * (conflict), and the like for late or repeated ones.  ADD COLUMN writes
 * no row: rows recorded before stay NULL, as nothing compared them.
 *
 * The views that add amounts count a capture or refund only if it
 * succeeded, is in the payment's currency, and its payment has not
 * failed; each successful one that is not counted is flagged instead
 * (mismatched_count, mismatch), so a query shows it rather than a wrong
 * sum.  The refund join by payment_id is in one place each, to change
 * when refunds are linked otherwise.
 */
#define STORE_V7_UNCOUNTED(t)						\
"         " t ".status = 'SUCCESS' AND (p.status = 'FAIL' OR"		\
"         " t ".currency IS NOT p.currency)"
#define STORE_V7_COUNTED(t)						\
"         " t ".status = 'SUCCESS' AND p.status <> 'FAIL' AND"		\
"         " t ".currency IS p.currency"

static const char store_schema_v7[] =
"ALTER TABLE notifications ADD COLUMN discrepancy TEXT;"
"DROP VIEW IF EXISTS payment_captures;"
STORE_PAYMENT_CAPTURES_HEAD ","
"         CASE WHEN c.status IS NOT 'SUCCESS' THEN NULL"
"              WHEN p.status = 'FAIL' THEN 'payment_failed'"
"              WHEN c.currency IS NOT p.currency THEN 'currency'"
"         END AS mismatch"
STORE_PAYMENT_CAPTURES_FROM
"DROP VIEW IF EXISTS payment_status;"
"CREATE VIEW payment_status AS"
"  SELECT p.client_id, p.payment_request_id, p.payment_id, p.status,"
"         p.amount_value, p.currency, p.result_code, p.payment_time,"
"         p.updated_at,"
"         (SELECT coalesce(sum(c.amount_value), 0) FROM captures c"
"           WHERE c.client_id = p.client_id AND c.payment_id = p.payment_id"
"             AND" STORE_V7_COUNTED("c") ") AS captured_amount_value,"
"         (SELECT coalesce(sum(r.amount_value), 0) FROM refunds r"
"           WHERE r.client_id = p.client_id AND r.payment_id = p.payment_id"
"             AND" STORE_V7_COUNTED("r") ") AS refunded_amount_value,"
STORE_PAYMENT_STATUS_DISPUTES ","
"         (SELECT count(*) FROM captures c"
"           WHERE c.client_id = p.client_id AND c.payment_id = p.payment_id"
"             AND" STORE_V7_UNCOUNTED("c") ") +"
"         (SELECT count(*) FROM refunds r"
"           WHERE r.client_id = p.client_id AND r.payment_id = p.payment_id"
"             AND" STORE_V7_UNCOUNTED("r") ") AS mismatched_count"
"  FROM payments p;";

#undef STORE_V7_COUNTED
#undef STORE_V7_UNCOUNTED


int
store_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		util_err(err, errlen, "%s", msg != NULL ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* The integer value of a PRAGMA such as "user_version": 0, or -1. */
int
store_pragma_int(sqlite3 *db, const char *name, int *value)
{
	char sql[64];
	sqlite3_stmt *st;
	int rc;

	snprintf(sql, sizeof(sql), "PRAGMA %s", name);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*value = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

static int
store_user_version(sqlite3 *db, int *version)
{
	return store_pragma_int(db, "user_version", version);
}

/*
 * Rebuild table rk[0] from its own CREATE TABLE with key rk[1] replaced by
 * rk[2], copy its rows, and make its index rk[3] (named TABLE_payment_id)
 * and any other index or trigger on it again.  Inside
 * store_migrate's transaction, with legacy_alter_table on (the rename
 * leaves the views that name the table alone).  0, or -1 with err.
 */
static int
store_rekey(sqlite3 *db, const char *const rk[4], char *err, size_t errlen)
{
	/* A table renamed by an earlier rebuild is named in quotes. */
	static const char get[] = "SELECT replace(replace(replace(sql,"
	    " 'CREATE TABLE \"' || ?1 || '\" (', 'CREATE TABLE ' || ?1 ||"
	    " '_v2 ('), 'CREATE TABLE ' || ?1 || ' (', 'CREATE TABLE ' || ?1 ||"
	    " '_v2 ('), ?2, ?3) FROM sqlite_master WHERE type = 'table' AND"
	    " name = ?1 AND (instr(sql, 'CREATE TABLE ' || ?1 || ' (') = 1 OR"
	    " instr(sql, 'CREATE TABLE \"' || ?1 || '\" (') = 1)"
	    " AND instr(sql, ?2) > 0";
	sqlite3_stmt *st = NULL;
	char *create = NULL, *copy = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(db, get, -1, &st, NULL) != SQLITE_OK) {
		util_err(err, errlen, "%s", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_text(st, 1, rk[0], -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, rk[1], -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, rk[2], -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		create = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (create == NULL) {
		util_err(err, errlen, "cannot migrate the schema: table %s is "
		    "not as an earlier version made it", rk[0]);
		return -1;
	}
	/*
	 * Indexes and triggers a merchant added to the table go with it on
	 * DROP TABLE: make them again after the rename (ours is rk[3]).
	 */
	if (sqlite3_prepare_v2(db, "SELECT group_concat(sql, ';') FROM"
	    " sqlite_master WHERE tbl_name = ?1 AND type IN ('index',"
	    " 'trigger') AND sql IS NOT NULL AND name <> ?1 || '_payment_id'",
	    -1, &st, NULL) != SQLITE_OK) {
		util_err(err, errlen, "%s", sqlite3_errmsg(db));
		sqlite3_free(create);
		return -1;
	}
	sqlite3_bind_text(st, 1, rk[0], -1, SQLITE_STATIC);
	copy = sqlite3_mprintf("INSERT INTO %s_v2 SELECT * FROM %s;"
	    " DROP TABLE %s; ALTER TABLE %s_v2 RENAME TO %s; %s; %s;", rk[0],
	    rk[0], rk[0], rk[0], rk[0], rk[3], sqlite3_step(st) ==
	    SQLITE_ROW && sqlite3_column_text(st, 0) != NULL ?
	    (const char *)sqlite3_column_text(st, 0) : "");
	sqlite3_finalize(st);
	if (copy != NULL && store_exec(db, create, err, errlen) == 0 &&
	    store_exec(db, copy, err, errlen) == 0)
		rc = 0;
	else if (copy == NULL)
		util_err(err, errlen, "out of memory");
	sqlite3_free(create);
	sqlite3_free(copy);
	return rc;
}

/*
 * Inside store_migrate's transaction: replace, in the CREATE TABLE text of
 * each edits[i][0], the CHECK edits[i][1] by edits[i][2], an equivalent or
 * wider one (the rows stored stay valid), and have this connection reload
 * the schema.  Each edit must change exactly one table, or nothing is
 * migrated.  Leaves legacy_alter_table on for the caller's rebuilds.
 */
static int
store_edit_checks(sqlite3 *db, const char *const (*edits)[3], size_t n,
    int version, char *err, size_t errlen)
{
	static const char edit[] = "UPDATE sqlite_master SET sql ="
	    " replace(sql, ?2, ?3) WHERE type = 'table' AND name = ?1"
	    " AND instr(sql, ?2) > 0";
	sqlite3_stmt *st = NULL, *ver = NULL;
	char sql[64];
	size_t i;
	int cookie;

	if (sqlite3_prepare_v2(db, "PRAGMA schema_version", -1, &ver, NULL) !=
	    SQLITE_OK || sqlite3_step(ver) != SQLITE_ROW)
		goto dberr;
	cookie = sqlite3_column_int(ver, 0);
	sqlite3_finalize(ver);
	ver = NULL;
	if (store_exec(db, "PRAGMA writable_schema = ON", err, errlen) != 0 ||
	    store_exec(db, "PRAGMA legacy_alter_table = ON", err, errlen) != 0)
		goto fail;
	if (sqlite3_prepare_v2(db, edit, -1, &st, NULL) != SQLITE_OK)
		goto dberr;
	for (i = 0; i < n; i++) {
		sqlite3_bind_text(st, 1, edits[i][0], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, edits[i][1], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, edits[i][2], -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto dberr;
		if (sqlite3_changes(db) != 1) {
			util_err(err, errlen, "cannot migrate the schema to "
			    "version %d: table %s is not as the version before "
			    "made it", version, edits[i][0]);
			goto fail;
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	st = NULL;
	snprintf(sql, sizeof(sql), "PRAGMA schema_version = %d", cookie + 1);
	if (store_exec(db, sql, err, errlen) != 0 ||
	    store_exec(db, "PRAGMA writable_schema = RESET", err, errlen) != 0)
		goto fail;
	return 0;
dberr:
	util_err(err, errlen, "cannot migrate the schema to version %d: %s",
	    version, sqlite3_errmsg(db));
fail:
	sqlite3_finalize(ver);
	sqlite3_finalize(st);
	sqlite3_exec(db, "PRAGMA writable_schema = OFF", NULL, NULL, NULL);
	sqlite3_exec(db, "PRAGMA legacy_alter_table = OFF", NULL, NULL, NULL);
	return -1;
}

/*
 * Inside store_migrate's transaction: widen the CHECKs of version 1 in
 * place, then add the rest.
 */
static int
store_migrate_v2(sqlite3 *db, char *err, size_t errlen)
{
	size_t i;

	if (store_edit_checks(db, store_schema_v2_checks,
	    sizeof(store_schema_v2_checks) / sizeof(store_schema_v2_checks[0]),
	    2, err, errlen) != 0)
		return -1;
	/*
	 * Views name the tables; payment_status is made anew below (early
	 * version 1 databases never had it).
	 */
	if (store_exec(db, "DROP VIEW IF EXISTS payment_status", err,
	    errlen) != 0)
		goto fail;
	for (i = 0; i < sizeof(store_schema_v2_rekeys) /
	    sizeof(store_schema_v2_rekeys[0]); i++)
		if (store_rekey(db, store_schema_v2_rekeys[i], err, errlen) != 0)
			goto fail;
	if (store_exec(db, store_schema_v2, err, errlen) != 0)
		goto fail;
	return store_exec(db, "PRAGMA legacy_alter_table = OFF", err, errlen);
fail:
	sqlite3_exec(db, "PRAGMA legacy_alter_table = OFF", NULL, NULL, NULL);
	return -1;
}

/*
 * "CHECK (col = 'a' OR col = 'b' ...)" over the n names, or NULL when out
 * of memory; the caller frees it with sqlite3_free().
 */
static char *
store_check_or(const char *col, const char *const *names, size_t n)
{
	char *sql = sqlite3_mprintf("CHECK ("), *next;
	size_t i;

	for (i = 0; i < n && sql != NULL; i++) {
		next = sqlite3_mprintf("%s%s%s = '%s'", sql, i > 0 ? " OR " : "",
		    col, names[i]);
		sqlite3_free(sql);
		sql = next;
	}
	if (sql == NULL)
		return NULL;
	next = sqlite3_mprintf("%s)", sql);
	sqlite3_free(sql);
	return next;
}

/* Inside store_migrate's transaction: CHECKs that SQLite runs cheaply. */
static int
store_migrate_v5(sqlite3 *db, char *err, size_t errlen)
{
	static const char *const kinds[] = {
#define KIND_NAME(name, str, value)	str,
		NOTIF_KINDS(KIND_NAME)
#undef KIND_NAME
	};
	static const char *const outcomes[] = {
#define OUTCOME_NAME(name, str)		str,
		STORE_OUTCOMES(OUTCOME_NAME)
#undef OUTCOME_NAME
	};
	const char *edits[V5_COUNT][3];
	char *made[3];
	size_t i;
	int rc = -1;

	memcpy(edits, store_schema_v5_checks, sizeof(edits));
	made[0] = store_check_or("kind", kinds, NOTIF_KIND_COUNT);
	made[1] = store_check_or("outcome", outcomes, STORE_OUTCOME_COUNT);
	/* An event's object: any kind but "other", which is listed last. */
	made[2] = store_check_or("object_type", kinds, NOTIF_KIND_COUNT - 1);
	edits[V5_KIND][2] = made[0];
	edits[V5_OUTCOME][2] = made[1];
	edits[V5_OBJECT_TYPE][2] = made[2];
	if (made[0] == NULL || made[1] == NULL || made[2] == NULL)
		util_err(err, errlen, "out of memory");
	else if (store_edit_checks(db, (const char *const (*)[3])edits,
	    V5_COUNT, 5, err, errlen) == 0)
		rc = store_exec(db, "PRAGMA legacy_alter_table = OFF", err,
		    errlen);
	for (i = 0; i < 3; i++)
		sqlite3_free(made[i]);
	return rc;
}

/* Inside store_migrate's transaction: payments and captures get rowids. */
static int
store_migrate_v4(sqlite3 *db, char *err, size_t errlen)
{
	size_t i;

	/* The rename must leave the views that name the tables alone. */
	if (store_exec(db, "PRAGMA legacy_alter_table = ON", err, errlen) != 0)
		return -1;
	for (i = 0; i < sizeof(store_schema_v4_rekeys) /
	    sizeof(store_schema_v4_rekeys[0]); i++)
		if (store_rekey(db, store_schema_v4_rekeys[i], err,
		    errlen) != 0) {
			sqlite3_exec(db, "PRAGMA legacy_alter_table = OFF", NULL,
			    NULL, NULL);
			return -1;
		}
	return store_exec(db, "PRAGMA legacy_alter_table = OFF", err, errlen);
}

/*
 * Schema version 6: a refusal is authentic (refusal.h: the signature
 * verified, over the route's path or another variant) or unverified,
 * and only authentic ones are ever at risk.  Rows kept before knew no
 * better: a 503 verified, anything else may have been forged.  Its own
 * statements only, so that a later version can follow it unchanged.
 */
static const char store_schema_v6[] =
"ALTER TABLE refusals ADD COLUMN authentic INTEGER NOT NULL DEFAULT 0"
"  CHECK (authentic = 0 OR authentic = 1);"
"UPDATE refusals SET authentic = 1 WHERE status = 503;";

/* Inside store_migrate's transaction. */
static int
store_migrate_v6(sqlite3 *db, char *err, size_t errlen)
{
	char why[256];

	if (store_exec(db, store_schema_v6, why, sizeof(why)) == 0)
		return 0;
	util_err(err, errlen, "cannot migrate the schema to version 6: %s",
	    why);
	return -1;
}

/* Inside store_migrate's transaction: the discrepancy column, the views. */
static int
store_migrate_v7(sqlite3 *db, char *err, size_t errlen)
{
	char why[256];

	if (store_exec(db, store_schema_v7, why, sizeof(why)) == 0)
		return 0;
	util_err(err, errlen, "cannot migrate the schema to version 7: %s",
	    why);
	return -1;
}

/* Inside store_migrate's transaction: links, PENDING, the views. */
static int
store_migrate_v8(sqlite3 *db, char *err, size_t errlen)
{
	char why[256];

	if (store_edit_checks(db, store_schema_v8_checks,
	    STORE_SCHEMA_V8_CHECKS,
	    8, err, errlen) != 0)
		return -1;
	if (store_exec(db, "PRAGMA legacy_alter_table = OFF", err, errlen) != 0)
		return -1;
	if (store_exec(db, store_schema_v8, why, sizeof(why)) == 0)
		return 0;
	util_err(err, errlen, "cannot migrate the schema to version 8: %s",
	    why);
	return -1;
}

/*
 * Schema version 9: one key finds a notification, not two.
 *
 * Versions 1 to 8 kept two indexes on notifications: the UNIQUE key
 * (client_id, body_sha256), which found a redelivery, and
 * notifications_object (object_id, client_id), which found an object's
 * notifications.  Both are written at a random leaf for each new
 * notification (a body hash is random; so is a merchant's request id),
 * and at a few million notifications those leaves are most of what the
 * writer reads and the WAL carries (bench/RESULTS.md).  One key does
 * both: notifications_object becomes UNIQUE (object_id, client_id,
 * body_sha256), and a redelivery is found by its object too
 * (store_state.c), which the writer has parsed by then.  The same body
 * always names the same object, so this is unique exactly when
 * (client_id, body_sha256) was.  A notification about no object (object_id
 * NULL: kind 'other', or an id missing) is kept unique by
 * notifications_unkeyed, which holds only those, since a UNIQUE index
 * lets NULLs repeat.
 *
 * The old key was the table's own UNIQUE constraint, whose index SQLite
 * will not drop; rebuilding the table would copy every body, minutes on
 * a large database.  Instead the constraint is edited out of the table's
 * text and its index, whose b-tree is exactly that of a CREATE UNIQUE
 * INDEX on the same columns, is renamed to such an index, then dropped
 * like any other: its pages go to the free list, nothing is copied.
 * What it costs is building the new key, one pass over the table.
 */
static const char *const store_schema_v9_checks[][3] = {
	{ "notifications", ",  UNIQUE (client_id, body_sha256)", "" },
};

static const char store_schema_v9_autoindex[] =
"UPDATE sqlite_master SET name = 'notifications_body_v8',"
"  sql = 'CREATE UNIQUE INDEX notifications_body_v8"
"  ON notifications (client_id, body_sha256)'"
"  WHERE type = 'index' AND name = 'sqlite_autoindex_notifications_1'"
"  AND tbl_name = 'notifications' AND sql IS NULL"
"  AND (SELECT group_concat(name, ',') FROM"
"       (SELECT name FROM pragma_index_info("
"        'sqlite_autoindex_notifications_1') ORDER BY seqno))"
"      = 'client_id,body_sha256'";

static const char store_schema_v9[] =
"DROP INDEX notifications_body_v8;"
"DROP INDEX notifications_object;"
"CREATE UNIQUE INDEX notifications_object"
"  ON notifications (object_id, client_id, body_sha256);"
"CREATE UNIQUE INDEX notifications_unkeyed"
"  ON notifications (client_id, body_sha256) WHERE object_id IS NULL;";

/* Inside store_migrate's transaction: the one key. */
static int
store_migrate_v9(sqlite3 *db, char *err, size_t errlen)
{
	char why[256];
	int renamed;

	if (store_exec(db, "PRAGMA writable_schema = ON", err, errlen) != 0)
		return -1;
	renamed = store_exec(db, store_schema_v9_autoindex, why,
	    sizeof(why)) == 0 ? sqlite3_changes(db) : -1;
	if (renamed != 1) {
		sqlite3_exec(db, "PRAGMA writable_schema = OFF", NULL, NULL,
		    NULL);
		if (renamed == 0)
			util_err(why, sizeof(why), "the key of notifications is "
			    "not as the version before made it");
		util_err(err, errlen, "cannot migrate the schema to version "
		    "9: %s", why);
		return -1;
	}
	/* Reloads the schema with the index renamed and the key gone. */
	if (store_edit_checks(db, store_schema_v9_checks, 1, 9, err,
	    errlen) != 0)
		return -1;
	if (store_exec(db, "PRAGMA legacy_alter_table = OFF", err, errlen) != 0)
		return -1;
	if (store_exec(db, store_schema_v9, why, sizeof(why)) == 0)
		return 0;
	util_err(err, errlen, "cannot migrate the schema to version 9: %s",
	    why);
	return -1;
}

/*
 * Begin a transaction and bring the schema to STORE_SCHEMA_VERSION in it,
 * *from the version found.  0 with the transaction left open: the caller
 * finishes the migration (store_connect(): statements, then what version
 * 8 reads again) and commits; or -1 with err, rolled back.
 */
int
store_migrate(sqlite3 *db, int *from, char *err, size_t errlen)
{
	int version;
	char sql[64];

	if (store_exec(db, "BEGIN IMMEDIATE", err, errlen) != 0)
		return -1;
	if (store_user_version(db, &version) != 0) {
		util_err(err, errlen, "cannot read schema version: %s",
		    sqlite3_errmsg(db));
		goto fail;
	}
	*from = version;
	if (version > STORE_SCHEMA_VERSION) {
		util_err(err, errlen, "database schema version %d is newer than "
		    "this antomd understands (%d)", version, STORE_SCHEMA_VERSION);
		goto fail;
	}
	if (version < 1 && store_exec(db, store_schema_v1, err, errlen) != 0)
		goto fail;
	if (version < 2 && store_migrate_v2(db, err, errlen) != 0)
		goto fail;
	if (version < 3 && store_exec(db, store_schema_v3, err, errlen) != 0)
		goto fail;
	if (version < 4 && store_migrate_v4(db, err, errlen) != 0)
		goto fail;
	if (version < 5 && store_migrate_v5(db, err, errlen) != 0)
		goto fail;
	if (version < 6 && store_migrate_v6(db, err, errlen) != 0)
		goto fail;
	if (version < 7 && store_migrate_v7(db, err, errlen) != 0)
		goto fail;
	if (version < 8 && store_migrate_v8(db, err, errlen) != 0)
		goto fail;
	if (version < 9 && store_migrate_v9(db, err, errlen) != 0)
		goto fail;
	if (version < STORE_SCHEMA_VERSION) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
		    STORE_SCHEMA_VERSION);
		if (store_exec(db, sql, err, errlen) != 0)
			goto fail;
	}
	return 0;
fail:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int
store_sqlite_check(const char *path, char *err, size_t errlen)
{
	struct stat sb;
	sqlite3 *db = NULL;
	char *copy, *dir;
	int version, rc = -1;

	if (stat(path, &sb) != 0) {
		if (errno != ENOENT) {
			util_err(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		copy = xstrdup(path);
		dir = dirname(copy);
		if (access(dir, W_OK | X_OK) != 0)
			util_err(err, errlen, "%s: cannot create the database "
			    "in %s: %s", path, dir, strerror(errno));
		else
			rc = 0;
		free(copy);
		return rc;
	}
	if (access(path, R_OK | W_OK) != 0) {
		util_err(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    store_user_version(db, &version) != 0) {
		util_err(err, errlen, "%s: %s", path, db != NULL ?
		    sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	if (version > STORE_SCHEMA_VERSION) {
		util_err(err, errlen, "%s: schema version %d is newer than this "
		    "antomd understands (%d)", path, version,
		    STORE_SCHEMA_VERSION);
		goto out;
	}
	rc = 0;
out:
	sqlite3_close(db);
	return rc;
}
