/*
 * store.c - the database: schema, idempotent state machine, writer thread.
 *
 * Owns one SQLite connection, used by exactly one thread at a time: the
 * writer thread once store_start() ran, else the caller of store_apply().
 * Durability contract: WAL journal with synchronous=FULL, and a job's
 * done() callback runs only after the COMMIT holding it returned
 * SQLITE_OK.  A batch whose COMMIT fails is rolled back and every job in
 * it reports status -1, so the HTTP layer answers 503 and Antom retries.
 *
 * Idempotency: a notification is identified by (client id, SHA-256 of the
 * raw body).  A repeat only bumps delivery_count and last_received_at.  A
 * new notification is first judged against the state held (see
 * store_judge()), then recorded with its outcome; only an APPLIED outcome
 * writes the payments/captures row and one events row.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libgen.h>

#include <openssl/sha.h>
#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "util.h"
#include "walvfs.h"

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
"CREATE VIEW payment_captures AS"
"  SELECT p.payment_request_id, p.payment_id, p.client_id,"
"         p.status AS payment_status,"
"         p.amount_value AS payment_amount_value,"
"         p.currency AS payment_currency, p.payment_time,"
"         c.capture_request_id, c.capture_id,"
"         c.status AS capture_status,"
"         c.amount_value AS capture_amount_value,"
"         c.currency AS capture_currency, c.capture_time,"
"         p.updated_at AS payment_updated_at,"
"         c.updated_at AS capture_updated_at"
"  FROM payments p"
"  LEFT JOIN captures c"
"    ON c.client_id = p.client_id AND c.payment_id = p.payment_id;"
/* For merchant applications: one row per payment, what they usually ask. */
"CREATE VIEW payment_status AS"
"  SELECT p.client_id, p.payment_request_id, p.payment_id, p.status,"
"         p.amount_value, p.currency, p.result_code, p.payment_time,"
"         p.updated_at,"
"         (SELECT coalesce(sum(c.amount_value), 0) FROM captures c"
"           WHERE c.client_id = p.client_id AND c.payment_id = p.payment_id"
"             AND c.status = 'SUCCESS') AS captured_amount_value"
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
 * has 25 columns) in a b-tree ordered by a random request id: every new
 * payment landed on a random leaf, about ten rows to a 4 KiB page, and
 * split it often; now rows are appended and only the narrow key lands
 * at random.  antom-bench-store: 11,000-13,700/s became 15,300-16,000/s,
 * 39.7 KiB written per notification instead of 47.3 (README
 * "Performance").  Table and column names do not change.
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
 * CHECK runs, that is for every row written: five per payment
 * notification (kind, outcome, the payment's status on insert and on
 * update, the event's object type), a third of the store's user CPU
 * under antom-bench-store (34 against 23 us per notification).  An OR
 * of equalities accepts and refuses exactly the same values, NULL
 * included.  test_checks_cheap holds every table to it.
 */
static const char *const store_schema_v5_checks[][3] = {
	{ "notifications",
	  "CHECK (kind IN ('payment','capture','refund','dispute','vaulting',"
	  "'other'))",
	  "CHECK (kind = 'payment' OR kind = 'capture' OR kind = 'refund' OR"
	  " kind = 'dispute' OR kind = 'vaulting' OR kind = 'other')" },
	{ "notifications",
	  "CHECK (outcome IN                      ('applied','duplicate',"
	  "'ignored','conflict','archived'))",
	  "CHECK (outcome = 'applied' OR outcome = 'duplicate' OR"
	  " outcome = 'ignored' OR outcome = 'conflict' OR"
	  " outcome = 'archived')" },
	{ "payments",
	  "CHECK (status IN ('PENDING','SUCCESS','FAIL'))",
	  "CHECK (status = 'PENDING' OR status = 'SUCCESS' OR"
	  " status = 'FAIL')" },
	{ "events",
	  "CHECK (object_type IN ('payment','capture','refund','dispute',"
	  "'vaulting'))",
	  "CHECK (object_type = 'payment' OR object_type = 'capture' OR"
	  " object_type = 'refund' OR object_type = 'dispute' OR"
	  " object_type = 'vaulting')" },
	{ "vaultings",
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
 * notification is stored (store.h, struct store_refusal).  Only what the
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
"CREATE VIEW payment_status AS"
"  SELECT p.client_id, p.payment_request_id, p.payment_id, p.status,"
"         p.amount_value, p.currency, p.result_code, p.payment_time,"
"         p.updated_at,"
"         (SELECT coalesce(sum(c.amount_value), 0) FROM captures c"
"           WHERE c.client_id = p.client_id AND c.payment_id = p.payment_id"
"             AND c.status = 'SUCCESS') AS captured_amount_value,"
"         (SELECT coalesce(sum(r.amount_value), 0) FROM refunds r"
"           WHERE r.client_id = p.client_id AND r.payment_id = p.payment_id"
"             AND r.status = 'SUCCESS') AS refunded_amount_value,"
"         (SELECT count(*) FROM disputes d"
"           WHERE d.client_id = p.client_id"
"             AND d.payment_id = p.payment_id) AS dispute_count,"
"         (SELECT d.stage FROM disputes d"
"           WHERE d.client_id = p.client_id AND d.payment_id = p.payment_id"
"           ORDER BY d.updated_at DESC, d.dispute_id LIMIT 1)"
"           AS dispute_stage"
"  FROM payments p;";

/*
 * Schema version 3.  The timeline finds events through their
 * notification, whose id only grows, rather than through an index on the
 * event's object id: that index cost a random b-tree page per
 * notification, a fifth of the writer's time (antom-bench-store, README
 * "Performance").  An event's object id and client id are those of its
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
"CREATE VIEW payment_timeline AS"
"  SELECT p.client_id, p.payment_request_id, p.payment_id, e.seq,"
"         e.created_at, e.object_type, e.object_id, e.old_status,"
"         e.new_status, e.notification_id"
"  FROM payments p CROSS JOIN notifications n"
"    ON n.object_id = p.payment_request_id AND n.client_id = p.client_id"
"  CROSS JOIN events e"
"    ON e.notification_id = n.id AND e.object_type = 'payment'"
"  UNION ALL"
"  SELECT p.client_id, p.payment_request_id, p.payment_id, e.seq,"
"         e.created_at, e.object_type, e.object_id, e.old_status,"
"         e.new_status, e.notification_id"
"  FROM payments p CROSS JOIN captures c ON c.client_id = p.client_id"
"   AND c.payment_id = p.payment_id"
"  CROSS JOIN notifications n ON n.object_id = c.capture_request_id"
"   AND n.client_id = c.client_id"
"  CROSS JOIN events e"
"    ON e.notification_id = n.id AND e.object_type = 'capture'"
"  UNION ALL"
"  SELECT p.client_id, p.payment_request_id, p.payment_id, e.seq,"
"         e.created_at, e.object_type, e.object_id, e.old_status,"
"         e.new_status, e.notification_id"
"  FROM payments p CROSS JOIN refunds r ON r.client_id = p.client_id"
"   AND r.payment_id = p.payment_id"
"  CROSS JOIN notifications n ON n.object_id = r.refund_request_id"
"   AND n.client_id = r.client_id"
"  CROSS JOIN events e"
"    ON e.notification_id = n.id AND e.object_type = 'refund'"
"  UNION ALL"
"  SELECT p.client_id, p.payment_request_id, p.payment_id, e.seq,"
"         e.created_at, e.object_type, e.object_id, e.old_status,"
"         e.new_status, e.notification_id"
"  FROM payments p CROSS JOIN disputes d ON d.client_id = p.client_id"
"   AND d.payment_id = p.payment_id"
"  CROSS JOIN notifications n ON n.object_id = d.dispute_id"
"   AND n.client_id = d.client_id"
"  CROSS JOIN events e"
"    ON e.notification_id = n.id AND e.object_type = 'dispute';";

enum {
	S_BEGIN, S_COMMIT, S_ROLLBACK,
	S_NOTIF_FIND, S_NOTIF_TOUCH, S_NOTIF_INSERT,
	S_PAY_GET, S_PAY_UPSERT, S_CAP_GET, S_CAP_UPSERT,
	S_REF_GET, S_REF_UPSERT, S_DIS_GET, S_DIS_UPSERT, S_DIS_FILL,
	S_VLT_GET, S_VLT_UPSERT, S_EVENT,
	S_RFS_INSERT, S_RFS_TOUCH, S_RFS_CLEAR, S_RFS_COUNT, S_RFS_PRUNE,
	S_COUNT
};

static const char *const store_sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_NOTIF_FIND] =
	    "SELECT id, delivery_count FROM notifications"
	    " WHERE client_id = ?1 AND body_sha256 = ?2",
	[S_NOTIF_TOUCH] =
	    "UPDATE notifications SET last_received_at = ?2,"
	    " delivery_count = delivery_count + 1 WHERE id = ?1",
	[S_NOTIF_INSERT] =
	    "INSERT INTO notifications (client_id, body_sha256, body,"
	    " request_time, signature, signed_path, key_version, notify_type,"
	    " kind, object_id, outcome, archive_reason, first_received_at,"
	    " last_received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
	    " ?10, ?11, ?12, ?13, ?13)",
	[S_PAY_GET] =
	    "SELECT status, payment_id FROM payments"
	    " WHERE client_id = ?1 AND payment_request_id = ?2",
	[S_PAY_UPSERT] =
	    "INSERT INTO payments (payment_request_id, client_id, payment_id,"
	    " status, result_code, result_message, amount_value, currency,"
	    " payment_create_time, payment_time, avs_result_raw,"
	    " cvv_result_raw, network_transaction_id, three_ds_eci,"
	    " three_ds_version, three_ds_cavv, three_ds_ds_transaction_id,"
	    " card_brand, last_four, issuing_country, refusal_code_raw,"
	    " refusal_reason_raw, notification_id, created_at, updated_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
	    " ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?24)"
	    " ON CONFLICT (client_id, payment_request_id) DO UPDATE SET"
	    " payment_id = coalesce(excluded.payment_id, payment_id),"
	    " status = excluded.status,"
	    " result_code = excluded.result_code,"
	    " result_message = excluded.result_message,"
	    " amount_value = coalesce(excluded.amount_value, amount_value),"
	    " currency = coalesce(excluded.currency, currency),"
	    " payment_create_time = coalesce(excluded.payment_create_time,"
	    "   payment_create_time),"
	    " payment_time = coalesce(excluded.payment_time, payment_time),"
	    " avs_result_raw = coalesce(excluded.avs_result_raw, avs_result_raw),"
	    " cvv_result_raw = coalesce(excluded.cvv_result_raw, cvv_result_raw),"
	    " network_transaction_id = coalesce(excluded.network_transaction_id,"
	    "   network_transaction_id),"
	    " three_ds_eci = coalesce(excluded.three_ds_eci, three_ds_eci),"
	    " three_ds_version = coalesce(excluded.three_ds_version,"
	    "   three_ds_version),"
	    " three_ds_cavv = coalesce(excluded.three_ds_cavv, three_ds_cavv),"
	    " three_ds_ds_transaction_id ="
	    "   coalesce(excluded.three_ds_ds_transaction_id,"
	    "   three_ds_ds_transaction_id),"
	    " card_brand = coalesce(excluded.card_brand, card_brand),"
	    " last_four = coalesce(excluded.last_four, last_four),"
	    " issuing_country = coalesce(excluded.issuing_country,"
	    "   issuing_country),"
	    " refusal_code_raw = coalesce(excluded.refusal_code_raw,"
	    "   refusal_code_raw),"
	    " refusal_reason_raw = coalesce(excluded.refusal_reason_raw,"
	    "   refusal_reason_raw),"
	    " notification_id = excluded.notification_id,"
	    " updated_at = excluded.updated_at",
	[S_CAP_GET] =
	    "SELECT status, capture_id FROM captures"
	    " WHERE client_id = ?1 AND capture_request_id = ?2",
	[S_CAP_UPSERT] =
	    "INSERT INTO captures (capture_request_id, client_id, capture_id,"
	    " payment_id, status, result_code, result_message, amount_value,"
	    " currency, capture_time, acquirer_reference_no, notification_id,"
	    " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
	    " ?9, ?10, ?11, ?12, ?13, ?13)"
	    " ON CONFLICT (client_id, capture_request_id) DO UPDATE SET"
	    " capture_id = coalesce(excluded.capture_id, capture_id),"
	    " payment_id = coalesce(excluded.payment_id, payment_id),"
	    " status = excluded.status,"
	    " result_code = excluded.result_code,"
	    " result_message = excluded.result_message,"
	    " amount_value = coalesce(excluded.amount_value, amount_value),"
	    " currency = coalesce(excluded.currency, currency),"
	    " capture_time = coalesce(excluded.capture_time, capture_time),"
	    " acquirer_reference_no = coalesce(excluded.acquirer_reference_no,"
	    "   acquirer_reference_no),"
	    " notification_id = excluded.notification_id,"
	    " updated_at = excluded.updated_at",
	[S_REF_GET] =
	    "SELECT status, refund_id FROM refunds"
	    " WHERE client_id = ?1 AND refund_request_id = ?2",
	[S_REF_UPSERT] =
	    "INSERT INTO refunds (refund_request_id, client_id, refund_id,"
	    " payment_id, payment_request_id, status, result_code,"
	    " result_message, amount_value, currency, refund_time,"
	    " notification_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?4,"
	    " ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)"
	    " ON CONFLICT (client_id, refund_request_id) DO UPDATE SET"
	    " refund_id = coalesce(excluded.refund_id, refund_id),"
	    " payment_id = coalesce(excluded.payment_id, payment_id),"
	    " payment_request_id = coalesce(excluded.payment_request_id,"
	    "   payment_request_id),"
	    " status = excluded.status,"
	    " result_code = excluded.result_code,"
	    " result_message = excluded.result_message,"
	    " amount_value = coalesce(excluded.amount_value, amount_value),"
	    " currency = coalesce(excluded.currency, currency),"
	    " refund_time = coalesce(excluded.refund_time, refund_time),"
	    " notification_id = excluded.notification_id,"
	    " updated_at = excluded.updated_at",
	[S_DIS_GET] =
	    "SELECT stage, payment_id FROM disputes"
	    " WHERE client_id = ?1 AND dispute_id = ?2",
	/* A later stage: what it says wins, what it omits is kept. */
	[S_DIS_UPSERT] =
	    "INSERT INTO disputes (dispute_id, client_id, payment_id,"
	    " payment_request_id, capture_id, stage, dispute_type,"
	    " amount_value, currency, reason_code, reason_msg, source,"
	    " dispute_time, defense_due_time, defendable, judged_result,"
	    " judged_time, judged_amount_value, judged_currency,"
	    " notification_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?4,"
	    " ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
	    " ?19, ?20, ?21, ?21)"
	    " ON CONFLICT (client_id, dispute_id) DO UPDATE SET"
	    " payment_id = coalesce(excluded.payment_id, payment_id),"
	    " payment_request_id = coalesce(excluded.payment_request_id,"
	    "   payment_request_id),"
	    " capture_id = coalesce(excluded.capture_id, capture_id),"
	    " stage = excluded.stage,"
	    " dispute_type = coalesce(excluded.dispute_type, dispute_type),"
	    " amount_value = coalesce(excluded.amount_value, amount_value),"
	    " currency = coalesce(excluded.currency, currency),"
	    " reason_code = coalesce(excluded.reason_code, reason_code),"
	    " reason_msg = coalesce(excluded.reason_msg, reason_msg),"
	    " source = coalesce(excluded.source, source),"
	    " dispute_time = coalesce(excluded.dispute_time, dispute_time),"
	    " defense_due_time = coalesce(excluded.defense_due_time,"
	    "   defense_due_time),"
	    " defendable = coalesce(excluded.defendable, defendable),"
	    " judged_result = coalesce(excluded.judged_result, judged_result),"
	    " judged_time = coalesce(excluded.judged_time, judged_time),"
	    " judged_amount_value = coalesce(excluded.judged_amount_value,"
	    "   judged_amount_value),"
	    " judged_currency = coalesce(excluded.judged_currency,"
	    "   judged_currency),"
	    " notification_id = excluded.notification_id,"
	    " updated_at = excluded.updated_at",
	/*
	 * An earlier stage arriving late: the stage stays, and only what is
	 * still unknown is filled in (a DISPUTE_CREATED after the judgement
	 * still brings the disputed amount and the reason).  Numbered like
	 * S_DIS_UPSERT so one binder serves both; binding the numbers it
	 * does not use (6, 20, 21) is a harmless SQLITE_RANGE.
	 */
	[S_DIS_FILL] =
	    "UPDATE disputes SET"
	    " payment_id = coalesce(payment_id, ?3),"
	    " payment_request_id = coalesce(payment_request_id, ?4),"
	    " capture_id = coalesce(capture_id, ?5),"
	    " dispute_type = coalesce(dispute_type, ?7),"
	    " amount_value = coalesce(amount_value, ?8),"
	    " currency = coalesce(currency, ?9),"
	    " reason_code = coalesce(reason_code, ?10),"
	    " reason_msg = coalesce(reason_msg, ?11),"
	    " source = coalesce(source, ?12),"
	    " dispute_time = coalesce(dispute_time, ?13),"
	    " defense_due_time = coalesce(defense_due_time, ?14),"
	    " defendable = coalesce(defendable, ?15),"
	    " judged_result = coalesce(judged_result, ?16),"
	    " judged_time = coalesce(judged_time, ?17),"
	    " judged_amount_value = coalesce(judged_amount_value, ?18),"
	    " judged_currency = coalesce(judged_currency, ?19)"
	    " WHERE client_id = ?2 AND dispute_id = ?1",
	[S_VLT_GET] =
	    "SELECT status, NULL FROM vaultings"
	    " WHERE client_id = ?1 AND vaulting_request_id = ?2",
	[S_VLT_UPSERT] =
	    "INSERT INTO vaultings (vaulting_request_id, client_id, status,"
	    " result_code, result_message, card_token, card_brand,"
	    " card_no_masked, issuing_country, vaulting_create_time,"
	    " notification_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?4,"
	    " ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)"
	    " ON CONFLICT (client_id, vaulting_request_id) DO UPDATE SET"
	    " status = excluded.status,"
	    " result_code = excluded.result_code,"
	    " result_message = excluded.result_message,"
	    " card_token = coalesce(excluded.card_token, card_token),"
	    " card_brand = coalesce(excluded.card_brand, card_brand),"
	    " card_no_masked = coalesce(excluded.card_no_masked,"
	    "   card_no_masked),"
	    " issuing_country = coalesce(excluded.issuing_country,"
	    "   issuing_country),"
	    " vaulting_create_time = coalesce(excluded.vaulting_create_time,"
	    "   vaulting_create_time),"
	    " notification_id = excluded.notification_id,"
	    " updated_at = excluded.updated_at",
	[S_RFS_INSERT] =
	    "INSERT INTO refusals (body_sha256, client_id, status, reason,"
	    " request_time, notify_type, kind, object_id, first_refused_at,"
	    " last_refused_at, refusal_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
	    " ?7, ?8, ?9, ?9, 1)"
	    " ON CONFLICT (body_sha256, client_id) DO UPDATE SET"
	    " status = excluded.status, reason = excluded.reason,"
	    " request_time = excluded.request_time,"
	    " notify_type = coalesce(excluded.notify_type, notify_type),"
	    " kind = coalesce(excluded.kind, kind),"
	    " object_id = coalesce(excluded.object_id, object_id),"
	    " last_refused_at = excluded.last_refused_at,"
	    " refusal_count = refusal_count + 1",
	/* At the cap: count what is already held, add nothing new. */
	[S_RFS_TOUCH] =
	    "UPDATE refusals SET status = ?3, reason = ?4,"
	    " request_time = coalesce(?5, request_time),"
	    " last_refused_at = ?9, refusal_count = refusal_count + 1"
	    " WHERE body_sha256 = ?1 AND client_id = ?2",
	[S_RFS_CLEAR] =
	    "DELETE FROM refusals WHERE body_sha256 = ?1 AND client_id = ?2",
	/* Times are ISO 8601 UTC with milliseconds: they compare as text. */
	[S_RFS_COUNT] =
	    "SELECT count(*), coalesce(sum(first_refused_at <"
	    " strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?1)), 0) FROM refusals",
	[S_RFS_PRUNE] =
	    "DELETE FROM refusals WHERE last_refused_at <"
	    " strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-7 days')",
	[S_EVENT] =
	    "INSERT INTO events (created_at, client_id, object_type, object_id,"
	    " payment_id, old_status, new_status, notification_id)"
	    " VALUES (?1, ?8, ?2, ?3, ?4, ?5, ?6, ?7)",
};

struct store {
	sqlite3			*db;
	sqlite3_stmt		*stmt[S_COUNT];
	struct store_options	 opt;
	char			*path;
	int			 readonly;	/* writer's: refuse, retry later */
	uint64_t		 readonly_logged;
	uint64_t		 busy_since;	/* writer's busy handler */
	_Atomic int		 aborting;	/* shutdown past its deadline */

	pthread_t		 thread;
	int			 running;
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	struct store_job	**batch;		/* writer's, batch_max slots */
	struct store_job	*head, *tail;	/* queue, under lock */
	unsigned		 queued;
	int			 stopping;
	uint64_t		 batch_since;	/* a batch is running since, or 0 */
	struct store_stats	 stats;		/* under lock */

	/* Refusals: pending under lock, the rest the writer's. */
	struct store_refusal	*rfs_pending;	/* STORE_RFS_PENDING_MAX */
	size_t			 rfs_npending;
	struct store_refusal	*rfs_local;	/* writer's copy of them */
	int64_t			 rfs_held;	/* rows, as far as we know */
	uint64_t		 rfs_checked;	/* last at-risk count, mono us */
	uint64_t		 rfs_pruned;	/* last prune, mono us */
	uint64_t		 rfs_written;	/* last refusals transaction */
	int			 last_failed;	/* writer's: the last batch failed */
	uint64_t		 probed;	/* writer's: last idle probe */
	int			 no_wait;	/* busy handler: give up at once */
	uint64_t		 rfs_warned;	/* last at-risk WARN, mono us */
	int64_t			 rfs_warned_n;

	/*
	 * The checkpointer (store_ckpt_main): its own connection copies the
	 * WAL into the database beside the writer.  Counters under
	 * ckpt_lock: ckpt_asked counts the writer's requests for a pass,
	 * ckpt_done the requests a finished pass covered.  The fields marked
	 * writer's are the writer thread's alone, but wal_frames, which
	 * store_stats() reads too.
	 */
	pthread_t		 ckpt_thread;
	int			 ckpt_wanted;	/* the writer thread runs */
	int			 ckpt_running;
	sqlite3			*ckpt_db;
	pthread_mutex_t		 ckpt_lock;
	pthread_cond_t		 ckpt_cond;
	uint64_t		 ckpt_asked;	/* passes asked for */
	uint64_t		 ckpt_done;	/* of them, covered by a pass */
	int			 ckpt_full;	/* and it copied every frame */
	int			 ckpt_stop;
	uint64_t		 ckpt_passes;
	uint64_t		 ckpt_waited;	/* writer's: last restart wait */
	int			 ckpt_stuck;	/* writer's: that wait did not help */
	int			 committed;	/* writer's: since the last ask */
	int			 ckpt_asked_frames;	/* writer's: WAL then */
	_Atomic int		 wal_frames;	/* writer's: WAL size, in frames */
};

/*
 * Bounds on refusals: pending between two batches, and rows held.  A
 * flood of forged requests fills them and is then only counted; the
 * notifications already held stay counted and clearable.
 */
#define STORE_RFS_PENDING_MAX	256
#define STORE_RFS_ROWS_MAX	10000
#define STORE_RFS_CHECK_US	(2 * 1000000u)	/* at-risk count, when any */
#define STORE_RFS_WRITE_US	100000u		/* refusals: one txn per 100 ms */
#define STORE_PROBE_US		(5 * 1000000u)	/* idle and unwell: try again */
#define STORE_RFS_WARN_US	(600 * 1000000u)	/* WARN again, if unchanged */

static int	store_wal_hook(void *, sqlite3 *, const char *, int);
static void	store_ckpt_start(struct store *);
static void	store_ckpt_stop(struct store *);

/*
 * Past this many WAL frames (32 MiB of 4 KiB pages) the writer waits for
 * the checkpointer to catch up, so that its next commit starts the WAL
 * over; at most this long, and when a reader holds the WAL back, at
 * most once a second.  Each wait lasts about one pass (its database
 * sync, mostly), however long the WAL: at 2,048 frames they took 14 % of
 * the writer's time under make bench, at 8,192 5 %, and the daemon was
 * 5 % faster (five alternated 16 s runs).  STORE_WAL_LIMIT is what a WAL
 * that a reader let grow is cut back to once it starts over: above the
 * restart point and a batch, so that in service the file is never cut
 * and grown again.
 */
#define STORE_CKPT_RESTART_FRAMES	8192
#define STORE_WAL_LIMIT			"41943040"	/* 40 MiB */
#define STORE_CKPT_STEP_FRAMES		256
#define STORE_CKPT_WAIT_MS		200
#define STORE_CKPT_RETRY_US		1000000u

const char *
store_outcome_str(enum store_outcome o)
{
	switch (o) {
	case STORE_APPLIED:	return "applied";
	case STORE_DUPLICATE:	return "duplicate";
	case STORE_IGNORED:	return "ignored";
	case STORE_CONFLICT:	return "conflict";
	case STORE_ARCHIVED:	return "archived";
	}
	return "unknown";
}

static int
store_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s", msg != NULL ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* The integer value of a PRAGMA such as "user_version": 0, or -1. */
static int
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
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_text(st, 1, rk[0], -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, rk[1], -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, rk[2], -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		create = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (create == NULL) {
		snprintf(err, errlen, "cannot migrate the schema: table %s is "
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
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
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
		snprintf(err, errlen, "out of memory");
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
			snprintf(err, errlen, "cannot migrate the schema to "
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
	snprintf(err, errlen, "cannot migrate the schema to version %d: %s",
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

/* Inside store_migrate's transaction: CHECKs that SQLite runs cheaply. */
static int
store_migrate_v5(sqlite3 *db, char *err, size_t errlen)
{
	if (store_edit_checks(db, store_schema_v5_checks,
	    sizeof(store_schema_v5_checks) / sizeof(store_schema_v5_checks[0]),
	    5, err, errlen) != 0)
		return -1;
	return store_exec(db, "PRAGMA legacy_alter_table = OFF", err, errlen);
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

/* Bring the schema to STORE_SCHEMA_VERSION, all or nothing. */
static int
store_migrate(sqlite3 *db, char *err, size_t errlen)
{
	int version;
	char sql[64];

	if (store_exec(db, "BEGIN IMMEDIATE", err, errlen) != 0)
		return -1;
	if (store_user_version(db, &version) != 0) {
		snprintf(err, errlen, "cannot read schema version: %s",
		    sqlite3_errmsg(db));
		goto fail;
	}
	if (version > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "database schema version %d is newer than "
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
	if (version < STORE_SCHEMA_VERSION) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
		    STORE_SCHEMA_VERSION);
		if (store_exec(db, sql, err, errlen) != 0)
			goto fail;
	}
	if (store_exec(db, "COMMIT", err, errlen) != 0)
		goto fail;
	return 0;
fail:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/*
 * Busy handler of the writer connection: wait for another process's lock
 * up to busy_timeout_ms (then the batch fails and is answered 503), but
 * give up at once when a shutdown has run out of time.
 */
static int
store_busy(void *arg, int count)
{
	struct store *s = arg;
	uint64_t now = util_mono_us();

	if (count == 0)
		s->busy_since = now;
	if (s->no_wait || atomic_load(&s->aborting) ||
	    now - s->busy_since >= (uint64_t)s->opt.busy_timeout_ms * 1000u)
		return 0;
	usleep(count < 10 ? 1000 : 10000);
	return 1;
}

/* WAL or nothing: the readers-beside-the-writer promise depends on it. */
static int
store_wal(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	const unsigned char *mode;
	int ok = 0;

	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st,
	    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		return -1;
	}
	if (sqlite3_step(st) == SQLITE_ROW &&
	    (mode = sqlite3_column_text(st, 0)) != NULL)
		ok = strcmp((const char *)mode, "wal") == 0;
	if (!ok)
		snprintf(err, errlen, "cannot put the database in WAL mode: %s",
		    sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}

/* Close the connection and its statements; the store stays. */
static void
store_disconnect(struct store *s)
{
	int i;

	for (i = 0; i < S_COUNT; i++) {
		sqlite3_finalize(s->stmt[i]);
		s->stmt[i] = NULL;
	}
	if (s->db != NULL && sqlite3_close(s->db) != SQLITE_OK)
		log_warnx("database close: %s", sqlite3_errmsg(s->db));
	s->db = NULL;
}

/*
 * Open the connection, set it up and prepare the statements.  0 ready;
 * 1 the database is read-only (file permissions, a read-only file
 * system) but holds the current schema, and is left closed; -1 with err.
 */
static int
store_connect(struct store *s, char *err, size_t errlen)
{
	int i, version, sync = 0, persist = 1;

	/* walvfs.h: safe because synchronous is FULL, checked below. */
	if (walvfs_register() != 0) {
		snprintf(err, errlen, "cannot register the SQLite VFS %s",
		    WALVFS_NAME);
		return -1;
	}
	if (sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, WALVFS_NAME) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", s->path, s->db != NULL ?
		    sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_handler(s->db, store_busy, s);
	/* SQLite quietly falls back to read-only; we must know. */
	if (sqlite3_db_readonly(s->db, "main") == 1) {
		if (store_user_version(s->db, &version) == 0 &&
		    version == STORE_SCHEMA_VERSION) {
			store_disconnect(s);
			return 1;
		}
		snprintf(err, errlen, "%s: the database is read-only (file "
		    "permissions or a read-only file system) and cannot be "
		    "created or migrated", s->path);
		goto fail;
	}
	/*
	 * Keep the -wal and -shm files when the daemon closes the database,
	 * so readers in the service's group, who cannot create files in the
	 * state directory, can still open it while the daemon is stopped.
	 */
	sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	if (store_wal(s->db, err, errlen) != 0 ||
	    store_exec(s->db, "PRAGMA synchronous = FULL", err, errlen) != 0 ||
	    store_exec(s->db, "PRAGMA foreign_keys = ON", err, errlen) != 0)
		goto fail;
	/* A reconnect while the checkpointer runs: it still checkpoints. */
	if (s->ckpt_running)
		sqlite3_wal_hook(s->db, store_wal_hook, s);
	/* A WAL a long reader let grow shrinks back when it starts over. */
	if (store_exec(s->db, "PRAGMA journal_size_limit = " STORE_WAL_LIMIT,
	    err, errlen) != 0)
		goto fail;
	/* FULL (2) or EXTRA (3): what walvfs.c relies on, and our promise. */
	if (store_pragma_int(s->db, "synchronous", &sync) != 0 || sync < 2) {
		snprintf(err, errlen, "%s: synchronous is not FULL", s->path);
		goto fail;
	}
	if (store_migrate(s->db, err, errlen) != 0)
		goto fail;
	for (i = 0; i < S_COUNT; i++) {
		if (sqlite3_prepare_v3(s->db, store_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL) != SQLITE_OK) {
			snprintf(err, errlen, "prepare: %s", sqlite3_errmsg(s->db));
			goto fail;
		}
	}
	/*
	 * Unknown until counted (the writer does so first thing): clear
	 * refusals as if some were held.
	 */
	s->rfs_held = 1;
	s->rfs_checked = 0;
	s->rfs_pruned = 0;
	return 0;
fail:
	store_disconnect(s);
	return -1;
}

/*
 * Writer thread, before a batch, while the database is read-only: try it
 * again.  0 when it is writable now; -1 (the batch is answered 503) with
 * a warning at most every 10 s, so an operator sees why without a flood.
 */
static int
store_reconnect(struct store *s)
{
	char err[512] = "";
	uint64_t now = util_mono_us();
	int rc = store_connect(s, err, sizeof(err));

	if (rc == 0) {
		pthread_mutex_lock(&s->lock);	/* store_abort() reads it */
		s->readonly = 0;
		pthread_mutex_unlock(&s->lock);
		log_info("database %s is writable again", s->path);
		/* Read-only when the writer started: no checkpointer yet. */
		if (s->ckpt_wanted && !s->ckpt_running)
			store_ckpt_start(s);
		return 0;
	}
	if (now - s->readonly_logged >= 10000000u || s->readonly_logged == 0) {
		s->readonly_logged = now;
		if (rc == 1)
			log_warnx("database %s is read-only: notifications are "
			    "answered 503 until it is writable", s->path);
		else
			log_warnx("database %s: %s", s->path, err);
	}
	return -1;
}

struct store *
store_open(const char *path, const struct store_options *opt, char *err,
    size_t errlen)
{
	struct store *s;
	int rc;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->opt = *opt;
	if (s->opt.batch_max == 0)
		s->opt.batch_max = 1;
	if (s->opt.at_risk_after_s == 0)
		s->opt.at_risk_after_s = 3600;
	if ((s->rfs_pending = calloc(STORE_RFS_PENDING_MAX,
	    sizeof(*s->rfs_pending))) == NULL ||
	    (s->rfs_local = calloc(STORE_RFS_PENDING_MAX,
	    sizeof(*s->rfs_local))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	pthread_mutex_init(&s->ckpt_lock, NULL);
	{
		pthread_condattr_t ca;

		/* store_ckpt_restart's deadline is on the monotonic clock. */
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&s->ckpt_cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	if ((s->path = strdup(path)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if ((rc = store_connect(s, err, errlen)) < 0)
		goto fail;
	if (rc == 1) {
		/* Run, refuse writes, and take the database back when it can. */
		s->readonly = 1;
		s->readonly_logged = util_mono_us();
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
	struct stat sb;
	sqlite3 *db = NULL;
	char *copy, *dir;
	int version, rc = -1;

	if (stat(path, &sb) != 0) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		copy = xstrdup(path);
		dir = dirname(copy);
		if (access(dir, W_OK | X_OK) != 0)
			snprintf(err, errlen, "%s: cannot create the database "
			    "in %s: %s", path, dir, strerror(errno));
		else
			rc = 0;
		free(copy);
		return rc;
	}
	if (access(path, R_OK | W_OK) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    store_user_version(db, &version) != 0) {
		snprintf(err, errlen, "%s: %s", path, db != NULL ?
		    sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	if (version > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "%s: schema version %d is newer than this "
		    "antomd understands (%d)", path, version,
		    STORE_SCHEMA_VERSION);
		goto out;
	}
	rc = 0;
out:
	sqlite3_close(db);
	return rc;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->running)
		store_stop(s);
	s->ckpt_wanted = 0;
	store_ckpt_stop(s);
	store_disconnect(s);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->ckpt_lock);
	pthread_cond_destroy(&s->ckpt_cond);
	free(s->path);
	free(s->batch);
	free(s->rfs_pending);
	free(s->rfs_local);
	free(s);
}

/* Bind helpers: NULL strings become SQL NULL. */
static void
bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static void
bind_amount(sqlite3_stmt *st, int iv, int ic, const struct notif_amount *a)
{
	if (a->present) {
		sqlite3_bind_int64(st, iv, a->value);
		sqlite3_bind_text(st, ic, a->currency, -1, SQLITE_STATIC);
	} else {
		sqlite3_bind_null(st, iv);
		sqlite3_bind_null(st, ic);
	}
}

/* Run a statement that returns no rows (or whose rows we ignore). */
static int
store_step_done(struct store *s, int which)
{
	sqlite3_stmt *st = s->stmt[which];
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_warnx("database: %.40s: %s", store_sql[which],
		    sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

/* What the state held is, for the object a new notification is about. */
struct store_current {
	int	exists;
	char	status[32];	/* a status, or a dispute's stage */
	char	other_id[NOTIF_ID_MAX + 1];	/* payment_id or capture_id */
};

static int
store_get_current(struct store *s, int which, const char *client_id,
    const char *key, struct store_current *cur)
{
	sqlite3_stmt *st = s->stmt[which];
	const unsigned char *v;
	int rc;

	memset(cur, 0, sizeof(*cur));
	bind_text(st, 1, client_id);
	bind_text(st, 2, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		cur->exists = 1;
		if ((v = sqlite3_column_text(st, 0)) != NULL)
			snprintf(cur->status, sizeof(cur->status), "%s", v);
		if ((v = sqlite3_column_text(st, 1)) != NULL)
			snprintf(cur->other_id, sizeof(cur->other_id), "%s", v);
		rc = SQLITE_DONE;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		log_warnx("database: %s", sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

/*
 * The state machine, per client id (sandbox and live merchants may reuse
 * request ids).  Status only moves forward: none -> PENDING -> SUCCESS |
 * FAIL, or none -> SUCCESS | FAIL.  An older status arriving late is
 * IGNORED; a final status contradicting another final status, or an
 * object already bound to another Antom id, is a CONFLICT and never
 * overwrites.
 */
static enum store_outcome
store_judge(const struct store_current *cur, const char *other_id,
    enum notif_status st)
{
	const char *want = notif_status_str(st);

	if (!cur->exists)
		return STORE_APPLIED;
	if (other_id != NULL && cur->other_id[0] != '\0' &&
	    strcmp(cur->other_id, other_id) != 0)
		return STORE_CONFLICT;
	if (strcmp(cur->status, want) == 0)
		return STORE_DUPLICATE;
	if (strcmp(cur->status, "PENDING") == 0)
		return STORE_APPLIED;
	if (st == NOTIF_ST_PENDING)
		return STORE_IGNORED;
	return STORE_CONFLICT;
}

/*
 * Disputes move through stages (notif_dispute_rank) instead of statuses:
 * a higher rank is APPLIED, the same stage again is a DUPLICATE, a lower
 * rank arriving late is IGNORED (the caller still fills in what only it
 * carries), and two different closing stages, or a dispute bound to
 * another payment, are a CONFLICT.
 */
static enum store_outcome
store_judge_dispute(const struct store_current *cur, const struct notif *n)
{
	int held;

	if (!cur->exists)
		return STORE_APPLIED;
	if (n->payment_id != NULL && cur->other_id[0] != '\0' &&
	    strcmp(cur->other_id, n->payment_id) != 0)
		return STORE_CONFLICT;
	if (strcmp(cur->status, n->notify_type) == 0)
		return STORE_DUPLICATE;
	held = notif_dispute_rank(cur->status);
	if (n->dispute_rank > held)
		return STORE_APPLIED;
	if (n->dispute_rank < held)
		return STORE_IGNORED;
	return STORE_CONFLICT;
}

/*
 * Judge n (from client_id) against the state held for its object: fills
 * cur, *outcome and *object_id (the request id, or NULL for an archived
 * kind).  0, or -1 on a database error.
 */
static int
store_judge_notif(struct store *s, const char *client_id,
    const struct notif *n, struct store_current *cur,
    enum store_outcome *outcome, const char **object_id)
{
	static const int get[] = {
		[NOTIF_PAYMENT] = S_PAY_GET,
		[NOTIF_CAPTURE] = S_CAP_GET,
		[NOTIF_REFUND] = S_REF_GET,
		[NOTIF_DISPUTE] = S_DIS_GET,
		[NOTIF_VAULTING] = S_VLT_GET,
	};
	const char *other = NULL;

	memset(cur, 0, sizeof(*cur));
	*object_id = notif_object_id(n);
	if (n->kind == NOTIF_OTHER || *object_id == NULL) {
		*outcome = STORE_ARCHIVED;
		return 0;
	}
	if (store_get_current(s, get[n->kind], client_id, *object_id, cur) != 0)
		return -1;
	switch (n->kind) {
	case NOTIF_DISPUTE:
		*outcome = store_judge_dispute(cur, n);
		return 0;
	case NOTIF_PAYMENT:
		other = n->payment_id;
		break;
	case NOTIF_CAPTURE:
		other = n->capture_id;
		break;
	case NOTIF_REFUND:
		other = n->refund_id;
		break;
	case NOTIF_VAULTING:
	case NOTIF_OTHER:
	default:
		break;
	}
	*outcome = store_judge(cur, other, n->status);
	return 0;
}

static int
store_write_payment(struct store *s, const struct store_delivery *d,
    int64_t nid, const char *now)
{
	const struct notif *n = d->notif;
	sqlite3_stmt *st = s->stmt[S_PAY_UPSERT];

	bind_text(st, 1, n->payment_request_id);
	bind_text(st, 2, d->client_id);
	bind_text(st, 3, n->payment_id);
	bind_text(st, 4, notif_status_str(n->status));
	bind_text(st, 5, n->result_code);
	bind_text(st, 6, n->result_message);
	bind_amount(st, 7, 8, &n->amount);
	bind_text(st, 9, n->payment_create_time);
	bind_text(st, 10, n->payment_time);
	bind_text(st, 11, n->avs_result_raw);
	bind_text(st, 12, n->cvv_result_raw);
	bind_text(st, 13, n->network_transaction_id);
	bind_text(st, 14, n->three_ds_eci);
	bind_text(st, 15, n->three_ds_version);
	bind_text(st, 16, n->three_ds_cavv);
	bind_text(st, 17, n->three_ds_ds_transaction_id);
	bind_text(st, 18, n->card_brand);
	bind_text(st, 19, n->last_four);
	bind_text(st, 20, n->issuing_country);
	bind_text(st, 21, n->refusal_code_raw);
	bind_text(st, 22, n->refusal_reason_raw);
	sqlite3_bind_int64(st, 23, nid);
	bind_text(st, 24, now);
	return store_step_done(s, S_PAY_UPSERT);
}

static int
store_write_capture(struct store *s, const struct store_delivery *d,
    int64_t nid, const char *now)
{
	const struct notif *n = d->notif;
	sqlite3_stmt *st = s->stmt[S_CAP_UPSERT];

	bind_text(st, 1, n->capture_request_id);
	bind_text(st, 2, d->client_id);
	bind_text(st, 3, n->capture_id);
	bind_text(st, 4, n->payment_id);
	bind_text(st, 5, notif_status_str(n->status));
	bind_text(st, 6, n->result_code);
	bind_text(st, 7, n->result_message);
	bind_amount(st, 8, 9, &n->amount);
	bind_text(st, 10, n->capture_time);
	bind_text(st, 11, n->acquirer_reference_no);
	sqlite3_bind_int64(st, 12, nid);
	bind_text(st, 13, now);
	return store_step_done(s, S_CAP_UPSERT);
}

static int
store_write_event(struct store *s, const struct store_delivery *d,
    const struct store_current *cur, int64_t nid, const char *now)
{
	const struct notif *n = d->notif;
	sqlite3_stmt *st = s->stmt[S_EVENT];

	bind_text(st, 1, now);
	bind_text(st, 2, notif_kind_str(n->kind));
	bind_text(st, 3, notif_object_id(n));
	bind_text(st, 4, n->payment_id);
	bind_text(st, 5, cur->exists ? cur->status : NULL);
	/* A dispute's status is its stage. */
	bind_text(st, 6, n->kind == NOTIF_DISPUTE ? n->notify_type :
	    notif_status_str(n->status));
	sqlite3_bind_int64(st, 7, nid);
	bind_text(st, 8, d->client_id);
	return store_step_done(s, S_EVENT);
}

static int
store_write_refund(struct store *s, const struct store_delivery *d,
    int64_t nid, const char *now)
{
	const struct notif *n = d->notif;
	sqlite3_stmt *st = s->stmt[S_REF_UPSERT];

	bind_text(st, 1, n->refund_request_id);
	bind_text(st, 2, d->client_id);
	bind_text(st, 3, n->refund_id);
	bind_text(st, 4, n->payment_id);
	bind_text(st, 5, n->payment_request_id);
	bind_text(st, 6, notif_status_str(n->status));
	bind_text(st, 7, n->result_code);
	bind_text(st, 8, n->result_message);
	bind_amount(st, 9, 10, &n->amount);
	bind_text(st, 11, n->refund_time);
	sqlite3_bind_int64(st, 12, nid);
	bind_text(st, 13, now);
	return store_step_done(s, S_REF_UPSERT);
}

/* which is S_DIS_UPSERT, or S_DIS_FILL for a stage arriving late. */
static int
store_write_dispute(struct store *s, int which, const struct store_delivery *d,
    int64_t nid, const char *now)
{
	const struct notif *n = d->notif;
	sqlite3_stmt *st = s->stmt[which];

	bind_text(st, 1, n->dispute_id);
	bind_text(st, 2, d->client_id);
	bind_text(st, 3, n->payment_id);
	bind_text(st, 4, n->payment_request_id);
	bind_text(st, 5, n->capture_id);
	bind_text(st, 6, n->notify_type);
	bind_text(st, 7, n->dispute_type);
	bind_amount(st, 8, 9, &n->amount);
	bind_text(st, 10, n->dispute_reason_code);
	bind_text(st, 11, n->dispute_reason_msg);
	bind_text(st, 12, n->dispute_source);
	bind_text(st, 13, n->dispute_time);
	bind_text(st, 14, n->defense_due_time);
	bind_text(st, 15, n->defendable);
	bind_text(st, 16, n->dispute_judged_result);
	bind_text(st, 17, n->dispute_judged_time);
	bind_amount(st, 18, 19, &n->dispute_judged_amount);
	sqlite3_bind_int64(st, 20, nid);
	bind_text(st, 21, now);
	return store_step_done(s, which);
}

static int
store_write_vaulting(struct store *s, const struct store_delivery *d,
    int64_t nid, const char *now)
{
	const struct notif *n = d->notif;
	sqlite3_stmt *st = s->stmt[S_VLT_UPSERT];

	bind_text(st, 1, n->vaulting_request_id);
	bind_text(st, 2, d->client_id);
	bind_text(st, 3, notif_status_str(n->status));
	bind_text(st, 4, n->result_code);
	bind_text(st, 5, n->result_message);
	bind_text(st, 6, n->card_token);
	bind_text(st, 7, n->card_brand);
	bind_text(st, 8, n->card_no_masked);
	bind_text(st, 9, n->issuing_country);
	bind_text(st, 10, n->vaulting_create_time);
	sqlite3_bind_int64(st, 11, nid);
	bind_text(st, 12, now);
	return store_step_done(s, S_VLT_UPSERT);
}

/*
 * The state change one judged notification makes: for APPLIED its
 * object's row and one events row; for a dispute stage that came late,
 * the details only it carries; nothing otherwise.
 */
static int
store_write_state(struct store *s, const struct store_delivery *d,
    const struct store_current *cur, enum store_outcome outcome, int64_t nid,
    const char *now)
{
	const struct notif *n = d->notif;
	int rc;

	if (outcome == STORE_IGNORED && n->kind == NOTIF_DISPUTE)
		return store_write_dispute(s, S_DIS_FILL, d, nid, now);
	if (outcome != STORE_APPLIED)
		return 0;
	switch (n->kind) {
	case NOTIF_PAYMENT:
		rc = store_write_payment(s, d, nid, now);
		break;
	case NOTIF_CAPTURE:
		rc = store_write_capture(s, d, nid, now);
		break;
	case NOTIF_REFUND:
		rc = store_write_refund(s, d, nid, now);
		break;
	case NOTIF_DISPUTE:
		rc = store_write_dispute(s, S_DIS_UPSERT, d, nid, now);
		break;
	case NOTIF_VAULTING:
		rc = store_write_vaulting(s, d, nid, now);
		break;
	case NOTIF_OTHER:
	default:
		return 0;
	}
	return rc != 0 ? -1 : store_write_event(s, d, cur, nid, now);
}

void
store_hash_body(struct store_delivery *d)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];

	SHA256(d->body, d->bodylen, digest);
	util_hex(digest, sizeof(digest), d->body_sha256);
}

/*
 * The notification (client_id, hash) is stored now: it is no longer at
 * risk.  0 or -1.
 */
static int
store_rfs_clear(struct store *s, const char *client_id, const char *hash)
{
	sqlite3_stmt *st = s->stmt[S_RFS_CLEAR];

	/*
	 * Always: a probe of a table that is almost always empty.  Skipping
	 * it while the writer believes none is held went wrong when a batch
	 * that had cleared one was rolled back and retried job by job.
	 */
	bind_text(st, 1, hash);
	bind_text(st, 2, client_id);
	return store_step_done(s, S_RFS_CLEAR);
}

/*
 * Record one delivery inside the caller's transaction.  0 with r filled,
 * or -1 on a database error (the caller rolls back).
 */
static int
store_record(struct store *s, const struct store_delivery *d,
    struct store_result *r, const char *now)
{
	const struct notif *n = d->notif;
	char hash[STORE_HASH_HEX];
	struct store_current cur;
	sqlite3_stmt *st;
	const char *object_id = NULL;
	int rc;

	memset(r, 0, sizeof(*r));
	if (d->body_sha256[0] != '\0')
		memcpy(hash, d->body_sha256, sizeof(hash));
	else {
		struct store_delivery tmp = *d;

		store_hash_body(&tmp);
		memcpy(hash, tmp.body_sha256, sizeof(hash));
	}

	/* A repeat delivery: count it, change nothing else. */
	st = s->stmt[S_NOTIF_FIND];
	bind_text(st, 1, d->client_id);
	bind_text(st, 2, hash);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		r->notification_id = sqlite3_column_int64(st, 0);
		r->delivery_count = sqlite3_column_int64(st, 1) + 1;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto dberr;
	if (rc == SQLITE_ROW) {
		/*
		 * No RETURNING here: SQLite builds and frees a temporary
		 * table for it on every run, which showed in profiles.
		 */
		st = s->stmt[S_NOTIF_TOUCH];
		sqlite3_bind_int64(st, 1, r->notification_id);
		bind_text(st, 2, now);
		if (store_step_done(s, S_NOTIF_TOUCH) != 0 ||
		    store_rfs_clear(s, d->client_id, hash) != 0)
			return -1;
		r->repeat = 1;
		r->outcome = STORE_DUPLICATE;
		return 0;
	}

	/* A new notification: judge it against the state held. */
	if (store_judge_notif(s, d->client_id, n, &cur, &r->outcome,
	    &object_id) != 0)
		return -1;

	st = s->stmt[S_NOTIF_INSERT];
	bind_text(st, 1, d->client_id);
	bind_text(st, 2, hash);
	sqlite3_bind_blob(st, 3, d->bodylen > 0 ? (const void *)d->body : "",
	    (int)d->bodylen, SQLITE_STATIC);
	bind_text(st, 4, d->request_time);
	bind_text(st, 5, d->signature);
	bind_text(st, 6, d->signed_path);
	sqlite3_bind_int64(st, 7, d->key_version);
	bind_text(st, 8, n->notify_type);
	bind_text(st, 9, notif_kind_str(n->kind));
	bind_text(st, 10, object_id);
	bind_text(st, 11, store_outcome_str(r->outcome));
	bind_text(st, 12, n->kind == NOTIF_OTHER ? n->archive_reason : NULL);
	bind_text(st, 13, now);
	if (store_step_done(s, S_NOTIF_INSERT) != 0)
		return -1;
	r->notification_id = sqlite3_last_insert_rowid(s->db);
	r->delivery_count = 1;
	if (store_rfs_clear(s, d->client_id, hash) != 0)
		return -1;

	return store_write_state(s, d, &cur, r->outcome, r->notification_id,
	    now);

dberr:
	log_warnx("database: %s", sqlite3_errmsg(s->db));
	return -1;
}

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
	bind_text(st, 2, kind);
	bind_text(st, 3, object_id);
	step = sqlite3_step(st);
	sqlite3_finalize(st);
	return step;
}

/*
 * Re-apply archived notification id: the body is parsed again and judged
 * against the state held now, exactly as a new delivery would be, and an
 * APPLIED outcome writes the object row and one events row pointing at
 * id.  Only the de-duplication by (client id, body hash) is bypassed;
 * the row's outcome stays what the first delivery did, its kind and
 * object id become what the body says now (a row with events that says
 * otherwise is not replayed), and the replay is logged.  One BEGIN
 * IMMEDIATE ... COMMIT on the calling thread; not with a running writer.
 */
int
store_replay(struct store *s, int64_t id, struct store_result *r)
{
	static const char sql[] = "SELECT client_id, body FROM notifications"
	    " WHERE id = ?1";
	static const char reclass[] = "UPDATE notifications SET kind = ?2,"
	    " object_id = ?3 WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM"
	    " events WHERE notification_id = ?1)";
	static const char agrees[] = "SELECT 1 FROM notifications WHERE"
	    " id = ?1 AND kind = ?2 AND object_id IS ?3";
	struct store_delivery d;
	struct store_current cur;
	struct notif n;
	sqlite3_stmt *st = NULL;
	const char *object_id;
	char now[UTIL_ISO_TIME_LEN];
	char *client = NULL;
	unsigned char *body = NULL;
	int parsed = 0, rc = -1, step;
	size_t len;
	struct logbuf lb;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	if (s->readonly || s->db == NULL) {
		log_warnx("database %s is read-only", s->path);
		return -1;
	}
	if (!sqlite3_get_autocommit(s->db))
		store_step_done(s, S_ROLLBACK);
	if (store_step_done(s, S_BEGIN) != 0)
		return -1;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		goto dberr;
	sqlite3_bind_int64(st, 1, id);
	step = sqlite3_step(st);
	if (step == SQLITE_DONE) {
		rc = 1;
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
	memset(&d, 0, sizeof(d));
	d.client_id = client;
	d.body = body;
	d.bodylen = len;
	d.notif = &n;
	if (store_judge_notif(s, client, &n, &cur, &r->outcome,
	    &object_id) != 0)
		goto out;
	util_now_iso(now);
	/*
	 * The row's kind and object id become what this version reads in
	 * the body: events are found through their notification's object
	 * (schema 3), so the two must agree.  Not once it has events: those
	 * were found by what it says now.  Then a row that still says other
	 * than the body is not replayed: an event written now would be
	 * filed under an object no query reaches it by.
	 */
	if (store_row_step(s->db, reclass, id, notif_kind_str(n.kind),
	    object_id) != SQLITE_DONE)
		goto dberr;
	step = store_row_step(s->db, agrees, id, notif_kind_str(n.kind),
	    object_id);
	if (step == SQLITE_DONE) {
		log_warnx("notification %lld not replayed: it has events filed"
		    " under the object it named before, and this version reads"
		    " another in its body", (long long)id);
		goto out;
	}
	if (step != SQLITE_ROW)
		goto dberr;
	if (store_write_state(s, &d, &cur, r->outcome, id, now) != 0)
		goto out;
	if (store_step_done(s, S_COMMIT) != 0)
		goto out;
	r->status = 0;
	r->notification_id = id;
	rc = 0;
	log_begin(&lb, LOG_LEVEL_INFO, "notification replayed");
	log_kv_int(&lb, "notification_id", (long long)id);
	log_kv_str(&lb, "client_id", client);
	log_kv_str(&lb, "kind", notif_kind_str(n.kind));
	if (object_id != NULL)
		log_kv_str(&lb, "object_id", object_id);
	log_kv_str(&lb, "outcome", store_outcome_str(r->outcome));
	log_end(&lb);
	goto out;
dberr:
	log_warnx("database: %s", sqlite3_errmsg(s->db));
out:
	sqlite3_finalize(st);
	if (rc != 0 && !sqlite3_get_autocommit(s->db))
		store_step_done(s, S_ROLLBACK);
	if (parsed)
		notif_free(&n);
	free(client);
	free(body);
	return rc;
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
	if (!sqlite3_get_autocommit(s->db) &&
	    store_step_done(s, S_ROLLBACK) != 0)
		log_errorx("database: cannot end a failed transaction: %s",
		    sqlite3_errmsg(s->db));
	if (store_step_done(s, S_BEGIN) != 0)
		goto fail;
	for (i = 0; i < n; i++) {
		if (store_record(s, &jobs[i]->d, &jobs[i]->r, now) != 0) {
			*job_failed = 1;
			goto fail;
		}
	}
	if (store_step_done(s, S_COMMIT) != 0)
		goto fail;
	for (i = 0; i < n; i++)
		jobs[i]->r.status = 0;
	return 0;
fail:
	/* SQLite may have rolled back already (disk full, I/O error). */
	if (!sqlite3_get_autocommit(s->db))
		store_step_done(s, S_ROLLBACK);
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
	if (s->readonly && store_reconnect(s) != 0) {
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

void
store_refusal_set(char *field, size_t cap, const char *v)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != '\0' && i + 1 < cap; i++)
		field[i] = (v[i] > 0x20 && v[i] < 0x7f) ? v[i] : '?';
	field[i] = '\0';
}

/*
 * Under s->lock: queue a refusal for the writer, 0; or count it dropped,
 * -1.  A 503 is an authentic notification we failed to store: when the
 * queue is full it takes the place of a refusal that is not a 503 (which
 * forged requests can fill the queue with).
 */
static int
store_rfs_queue(struct store *s, const struct store_refusal *rf)
{
	size_t i;

	if (s->rfs_npending < STORE_RFS_PENDING_MAX)
		i = s->rfs_npending++;
	else {
		for (i = s->rfs_npending; i > 0 && rf->status == 503; i--)
			if (s->rfs_pending[i - 1].status != 503)
				break;
		s->stats.refusals_dropped++;	/* this one, or the one replaced */
		if (rf->status != 503 || i == 0)
			return -1;
		i--;
	}
	s->rfs_pending[i] = *rf;
	pthread_cond_signal(&s->cond);
	return 0;
}

int
store_refuse(struct store *s, const struct store_refusal *rf)
{
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = store_rfs_queue(s, rf);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/*
 * Writer: refusals the database could not take.  Most 503s happen
 * because it cannot (locked, read-only, full), so 503s go back in the
 * queue and are written once it can; the others are counted as dropped.
 */
static void
store_rfs_requeue(struct store *s, const struct store_refusal *rf, size_t n,
    uint64_t *dropped)
{
	size_t i;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < n; i++)
		if (rf[i].status != 503)
			(*dropped)++;
		else
			store_rfs_queue(s, &rf[i]);	/* counts its own drop */
	pthread_mutex_unlock(&s->lock);
}

/* An empty claim is SQL NULL. */
static void
bind_claim(sqlite3_stmt *st, int i, const char *v)
{
	bind_text(st, i, v[0] != '\0' ? v : NULL);
}

/*
 * Writer: record n refusals in one transaction of their own (they must
 * never hold up or fail a batch of deliveries).  When the database cannot
 * take them, 503s wait in the queue for the next try (store_rfs_requeue)
 * and the others are counted as dropped.
 */
static void
store_write_refusals(struct store *s, const struct store_refusal *rf,
    size_t n)
{
	char now[UTIL_ISO_TIME_LEN];
	uint64_t recorded = 0, dropped = 0, txns = 0;
	sqlite3_stmt *st;
	size_t i;
	int which;

	util_now_iso(now);
	s->rfs_written = util_mono_us();
	if (atomic_load(&s->aborting)) {
		dropped = n;
		goto out;
	}
	if (s->readonly && store_reconnect(s) != 0) {
		store_rfs_requeue(s, rf, n, &dropped);
		goto out;
	}
	if (!sqlite3_get_autocommit(s->db))
		store_step_done(s, S_ROLLBACK);
	/* Never wait for another process's lock here: deliveries come first. */
	s->no_wait = 1;
	if (store_step_done(s, S_BEGIN) != 0) {
		s->no_wait = 0;
		store_rfs_requeue(s, rf, n, &dropped);
		goto out;
	}
	for (i = 0; i < n; i++) {
		/* Stored already (it raced its own retry): nothing at risk. */
		if (rf[i].body_sha256[0] != '\0') {
			st = s->stmt[S_NOTIF_FIND];
			bind_text(st, 1, rf[i].client_id);
			bind_text(st, 2, rf[i].body_sha256);
			which = sqlite3_step(st);
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			if (which == SQLITE_ROW)
				continue;
			if (which != SQLITE_DONE)
				goto fail;
		}
		which = S_RFS_TOUCH;
		for (;;) {
			st = s->stmt[which];
			bind_text(st, 1, rf[i].body_sha256);
			bind_text(st, 2, rf[i].client_id);
			sqlite3_bind_int(st, 3, rf[i].status);
			bind_text(st, 4, rf[i].reason);
			bind_claim(st, 5, rf[i].request_time);
			bind_claim(st, 6, rf[i].notify_type);
			bind_claim(st, 7, rf[i].kind);
			bind_claim(st, 8, rf[i].object_id);
			bind_text(st, 9, now);
			if (store_step_done(s, which) != 0)
				goto fail;
			if (sqlite3_changes(s->db) > 0 || which == S_RFS_INSERT)
				break;
			/*
			 * The cap keeps forged requests from filling the
			 * disk; a 503 is an authentic notification we failed
			 * to store, and is always kept.
			 */
			if (s->rfs_held >= STORE_RFS_ROWS_MAX &&
			    rf[i].status != 503)
				break;
			which = S_RFS_INSERT;
		}
		if (sqlite3_changes(s->db) > 0) {
			recorded++;
			s->rfs_held += which == S_RFS_INSERT;
		} else
			dropped++;
	}
	if (store_step_done(s, S_COMMIT) == 0) {
		s->no_wait = 0;
		txns = 1;
		goto out;
	}
fail:
	s->no_wait = 0;
	if (!sqlite3_get_autocommit(s->db))
		store_step_done(s, S_ROLLBACK);
	dropped = 0;
	recorded = 0;
	store_rfs_requeue(s, rf, n, &dropped);
	s->rfs_checked = 0;	/* recount */
out:
	pthread_mutex_lock(&s->lock);
	s->stats.refusals += recorded;
	s->stats.refusals_dropped += dropped;
	s->stats.refusal_txns += txns;
	s->stats.refusals_held = s->rfs_held;
	pthread_mutex_unlock(&s->lock);
}

/* Writer: time to count the refusals again? */
static int
store_rfs_due(const struct store *s)
{
	uint64_t since = util_mono_us() - s->rfs_checked;

	if (s->rfs_checked == 0)
		return 1;
	return since >= (s->rfs_held > 0 ? STORE_RFS_CHECK_US :
	    30 * STORE_RFS_CHECK_US);
}

/*
 * Writer: forget refusals nobody retried for 7 days, count those held
 * and those at risk, and tell the operator: a WARN when the number at
 * risk changes, and again every 10 minutes while there are any.
 */
static void
store_rfs_check(struct store *s)
{
	sqlite3_stmt *st = s->stmt[S_RFS_COUNT];
	struct logbuf lb;
	char ago[32];
	int64_t held = 0, at_risk = 0;
	uint64_t now = util_mono_us();
	int rc;

	s->rfs_checked = now;
	if (s->readonly || s->db == NULL || atomic_load(&s->aborting))
		return;
	snprintf(ago, sizeof(ago), "-%u seconds", s->opt.at_risk_after_s);
	for (;;) {
		bind_text(st, 1, ago);
		if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			held = sqlite3_column_int64(st, 0);
			at_risk = sqlite3_column_int64(st, 1);
		}
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (rc != SQLITE_ROW) {
			log_warnx("database: refusals: %s", sqlite3_errmsg(s->db));
			return;
		}
		/* A write: only when there may be something to forget. */
		if (held == 0 || (s->rfs_pruned != 0 &&
		    now - s->rfs_pruned < STORE_RFS_WARN_US))
			break;
		s->rfs_pruned = now;
		s->no_wait = 1;		/* it can wait for the next time */
		rc = store_step_done(s, S_RFS_PRUNE);
		s->no_wait = 0;
		if (rc != 0)
			return;
		if (sqlite3_changes(s->db) == 0)
			break;
	}
	s->rfs_held = held;
	pthread_mutex_lock(&s->lock);
	s->stats.refusals_held = held;
	s->stats.at_risk = at_risk;
	pthread_mutex_unlock(&s->lock);
	if (at_risk > 0 && (at_risk != s->rfs_warned_n ||
	    now - s->rfs_warned >= STORE_RFS_WARN_US)) {
		log_begin(&lb, LOG_LEVEL_WARN, "notifications at risk: refused "
		    "and not delivered again successfully; Antom gives up 24 h "
		    "22 min after its first attempt (antomctl refusals)");
		log_kv_int(&lb, "at_risk", at_risk);
		log_kv_int(&lb, "refused_for_more_than_s", s->opt.at_risk_after_s);
		log_kv_int(&lb, "refusals_held", held);
		log_end(&lb);
		s->rfs_warned = now;
	} else if (at_risk == 0 && s->rfs_warned_n > 0)
		log_info("no notification at risk any more");
	s->rfs_warned_n = at_risk;
}

/*
 * Writer, under the lock: are refusals waiting that may be written now?
 * One transaction per STORE_RFS_WRITE_US at most, so a flood of refused
 * requests costs the deliveries at most ten extra commits a second.
 */
static int
store_rfs_write_due(const struct store *s)
{
	/* Read-only: each write tries a reconnect, as often as a probe. */
	return s->rfs_npending > 0 && (s->stopping ||
	    util_mono_us() - s->rfs_written >= (s->readonly ?
	    STORE_PROBE_US : STORE_RFS_WRITE_US));
}

/* Wait for work, or until the next refusal write or count is due. */
static void
store_wait(struct store *s)
{
	struct timespec ts;
	long ns = s->rfs_npending > 0 ? (long)STORE_RFS_WRITE_US * 1000 :
	    1000000000L;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += ns;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(&s->cond, &s->lock, &ts);
}

static void store_batch_observed(size_t n, unsigned failed);

/*
 * Writer, idle: after a failed batch, or while the database is read-only,
 * nothing but new traffic would find out that it is well again, and a
 * health check that holds traffic back would wait for ever.  Every
 * STORE_PROBE_US, try: reconnect, or take the write lock and let it go.
 */
static int
store_probe_due(const struct store *s)
{
	return (s->readonly || s->last_failed) &&
	    util_mono_us() - s->probed >= STORE_PROBE_US;
}

static void
store_probe(struct store *s)
{
	s->probed = util_mono_us();
	if (s->readonly) {
		if (store_reconnect(s) != 0)
			return;
	} else {
		s->no_wait = 1;
		if (store_step_done(s, S_BEGIN) != 0) {
			s->no_wait = 0;
			return;
		}
		s->no_wait = 0;
		store_step_done(s, S_ROLLBACK);
	}
	s->last_failed = 0;
	store_batch_observed(0, 0);
}

/*
 * The checkpointer.  SQLite's own checkpoint runs inside the COMMIT that
 * crosses wal_autocheckpoint, on the writer thread and before that batch
 * is answered: copying a thousand random pages and syncing the database
 * held up the batch and everything queued behind it.  Here a second
 * connection copies the WAL after every commit of a batch (after every
 * few, when they are small), on the other core, while the writer goes
 * on.  SQLite starts a WAL over only once every frame in it is in the
 * database, so past STORE_CKPT_RESTART_FRAMES the writer waits for a
 * pass over its last commit (6-8 ms at the median under make bench)
 * before its next transaction, which then starts the WAL over.
 */
static int
store_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store *s = arg;

	(void)db;
	(void)name;
	if (frames < s->wal_frames) {
		/* The WAL started over: a restart wait did its job. */
		s->ckpt_waited = 0;
		s->ckpt_stuck = 0;
	}
	s->wal_frames = frames;
	s->committed = 1;
	return SQLITE_OK;
}

static void *
store_ckpt_main(void *arg)
{
	struct store *s = arg;
	uint64_t seq, warned = 0;
	int rc, wal, copied;

	pthread_mutex_lock(&s->ckpt_lock);
	for (;;) {
		while (s->ckpt_asked <= s->ckpt_done && !s->ckpt_stop)
			pthread_cond_wait(&s->ckpt_cond, &s->ckpt_lock);
		if (s->ckpt_stop)
			break;
		seq = s->ckpt_asked;
		pthread_mutex_unlock(&s->ckpt_lock);
		/* PASSIVE: takes no lock the writer or a reader needs. */
		wal = copied = -1;
		rc = sqlite3_wal_checkpoint_v2(s->ckpt_db, NULL,
		    SQLITE_CHECKPOINT_PASSIVE, &wal, &copied);
		if (rc != SQLITE_OK && rc != SQLITE_BUSY &&
		    rc != SQLITE_INTERRUPT &&
		    util_mono_us() - warned > 60 * 1000000u) {
			/* The writer's own errors say more; once a minute. */
			log_warnx("database checkpoint: %s",
			    sqlite3_errmsg(s->ckpt_db));
			warned = util_mono_us();
		}
		pthread_mutex_lock(&s->ckpt_lock);
		s->ckpt_done = seq;
		s->ckpt_full = rc == SQLITE_OK && copied == wal;
		s->ckpt_passes++;
		pthread_cond_broadcast(&s->ckpt_cond);
	}
	pthread_mutex_unlock(&s->ckpt_lock);
	return NULL;
}

/*
 * Writer, after a commit of its own: have the WAL copied once it holds
 * STORE_CKPT_STEP_FRAMES new frames (a batch of 64 has a few hundred),
 * or at once when forced: before a restart wait, and when going idle.
 * Small commits are not worth a pass each: one commit per notification
 * made a pass, and a sync, per notification.
 */
static void
store_ckpt_ask(struct store *s, int force)
{
	if (!s->ckpt_running || !s->committed)
		return;
	if (s->wal_frames < s->ckpt_asked_frames)
		s->ckpt_asked_frames = 0;	/* the WAL started over */
	if (!force && s->wal_frames - s->ckpt_asked_frames <
	    STORE_CKPT_STEP_FRAMES)
		return;
	s->ckpt_asked_frames = s->wal_frames;
	s->committed = 0;
	pthread_mutex_lock(&s->ckpt_lock);
	s->ckpt_asked++;
	pthread_cond_broadcast(&s->ckpt_cond);
	pthread_mutex_unlock(&s->ckpt_lock);
}

/*
 * Writer, before a batch: when the WAL is long, wait for a pass over
 * every commit so far.  A reader on an old snapshot keeps frames from
 * being copied; then waiting does not help, and is tried once a second.
 */
static void
store_ckpt_restart(struct store *s)
{
	struct timespec ts;
	uint64_t now;

	if (!s->ckpt_running || s->wal_frames < STORE_CKPT_RESTART_FRAMES)
		return;
	now = util_mono_us();
	/*
	 * A wait that no restart followed (store_wal_hook forgets those that
	 * one did): a reader still holds the WAL, even after a full pass.
	 */
	if (s->ckpt_waited != 0)
		s->ckpt_stuck = 1;
	if (s->ckpt_stuck && now - s->ckpt_waited < STORE_CKPT_RETRY_US)
		return;
	s->ckpt_waited = now;
	store_ckpt_ask(s, 1);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += STORE_CKPT_WAIT_MS * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&s->ckpt_lock);
	while (s->ckpt_done < s->ckpt_asked && !s->ckpt_stop)
		if (pthread_cond_timedwait(&s->ckpt_cond, &s->ckpt_lock,
		    &ts) != 0)
			break;
	s->ckpt_stuck = s->ckpt_done < s->ckpt_asked || !s->ckpt_full;
	pthread_mutex_unlock(&s->ckpt_lock);
}

/*
 * Start the checkpointer, or leave checkpoints to SQLite on the writer's
 * connection (as before) when it cannot have a connection of its own.
 */
static void
store_ckpt_start(struct store *s)
{
	sqlite3 *db = NULL;
	int rc, persist = 1;

	if (s->db == NULL || s->readonly)
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
	pthread_mutex_lock(&s->ckpt_lock);	/* store_abort() reads it */
	s->ckpt_db = db;
	pthread_mutex_unlock(&s->ckpt_lock);
	s->ckpt_stop = 0;
	s->ckpt_asked = s->ckpt_done = 0;
	s->ckpt_asked_frames = 0;
	s->ckpt_stuck = 0;
	s->ckpt_waited = 0;
	if ((rc = pthread_create(&s->ckpt_thread, NULL, store_ckpt_main,
	    s)) != 0) {
		log_warnx("checkpointer thread: %s; the writer makes "
		    "checkpoints", strerror(rc));
		pthread_mutex_lock(&s->ckpt_lock);
		s->ckpt_db = NULL;
		pthread_mutex_unlock(&s->ckpt_lock);
		sqlite3_close(db);
		return;
	}
	s->ckpt_running = 1;
	/* For top -H, perf and make bench. */
	pthread_setname_np(s->ckpt_thread, "checkpointer");
	sqlite3_wal_hook(s->db, store_wal_hook, s);
}

static void
store_ckpt_stop(struct store *s)
{
	sqlite3 *db;

	if (!s->ckpt_running)
		return;
	pthread_mutex_lock(&s->ckpt_lock);
	s->ckpt_stop = 1;
	pthread_cond_broadcast(&s->ckpt_cond);
	pthread_mutex_unlock(&s->ckpt_lock);
	pthread_join(s->ckpt_thread, NULL);
	pthread_mutex_lock(&s->ckpt_lock);
	db = s->ckpt_db;
	s->ckpt_db = NULL;
	s->ckpt_running = 0;
	pthread_mutex_unlock(&s->ckpt_lock);
	sqlite3_close(db);
	/* Back to SQLite's own checkpoints for store_apply and the like. */
	if (s->db != NULL)
		sqlite3_wal_autocheckpoint(s->db, 1000);
}

static void *
store_writer(void *arg)
{
	struct store *s = arg;
	struct store_job **batch = s->batch;
	size_t n, i, nrfs;
	unsigned failed;
	int last, idle;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (s->head == NULL && !store_rfs_write_due(s) &&
		    !s->stopping && !store_rfs_due(s) && !store_probe_due(s))
			store_wait(s);
		/* Stopping: the refusals pending now are the last written. */
		if (s->head == NULL && s->stopping && s->rfs_npending == 0)
			break;
		/* Adaptive batch: whatever is queued, up to batch_max. */
		for (n = 0; n < s->opt.batch_max && s->head != NULL; n++) {
			batch[n] = s->head;
			s->head = s->head->next;
		}
		if (s->head == NULL)
			s->tail = NULL;
		s->queued -= (unsigned)n;
		nrfs = 0;
		if (store_rfs_write_due(s)) {
			nrfs = s->rfs_npending;
			memcpy(s->rfs_local, s->rfs_pending,
			    nrfs * sizeof(*s->rfs_local));
			s->rfs_npending = 0;
		}
		s->batch_since = n > 0 ? util_mono_us() : 0;
		/* Nothing can be queued once stopping: this pass is the last. */
		last = s->stopping && s->head == NULL;
		pthread_mutex_unlock(&s->lock);

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
			pthread_mutex_lock(&s->lock);
			s->batch_since = 0;
			s->stats.commits += failed < n;
			s->stats.jobs += n;
			s->stats.failures += failed;
			pthread_mutex_unlock(&s->lock);
			store_batch_observed(n, failed);
			s->last_failed = failed == n;
			/* Only now, after COMMIT, may anyone be told. */
			for (i = 0; i < n; i++)
				batch[i]->done(batch[i]);
		}
		if (nrfs > 0 || store_rfs_due(s) || (n == 0 &&
		    store_probe_due(s))) {
			/* Database work too: the watchdog and /healthz see it. */
			pthread_mutex_lock(&s->lock);
			s->batch_since = util_mono_us();
			pthread_mutex_unlock(&s->lock);
			if (nrfs > 0)
				store_write_refusals(s, s->rfs_local, nrfs);
			if (n == 0 && store_probe_due(s))
				store_probe(s);
			/*
			 * The count scans the table: on its own clock, not
			 * after every write (a flood would scan it ten times a
			 * second); the writes keep rfs_held meanwhile.
			 */
			if (store_rfs_due(s))
				store_rfs_check(s);
			pthread_mutex_lock(&s->lock);
			s->batch_since = 0;
			pthread_mutex_unlock(&s->lock);
		}
		/* Going idle: have everything copied while there is time. */
		pthread_mutex_lock(&s->lock);
		idle = s->head == NULL;
		pthread_mutex_unlock(&s->lock);
		store_ckpt_ask(s, idle);
		pthread_mutex_lock(&s->lock);
		if (last) {
			/* Refused while we wrote the last ones: counted only. */
			s->stats.refusals_dropped += s->rfs_npending;
			s->rfs_npending = 0;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int
store_start(struct store *s, char *err, size_t errlen)
{
	int rc;

	s->stopping = 0;
	if (s->batch == NULL &&
	    (s->batch = calloc(s->opt.batch_max, sizeof(*s->batch))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->ckpt_wanted = 1;
	store_ckpt_start(s);
	if ((rc = pthread_create(&s->thread, NULL, store_writer, s)) != 0) {
		store_ckpt_stop(s);
		snprintf(err, errlen, "writer thread: %s", strerror(rc));
		return -1;
	}
	pthread_setname_np(s->thread, "writer");
	pthread_mutex_lock(&s->lock);
	s->running = 1;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int
store_submit(struct store *s, struct store_job *job)
{
	pthread_mutex_lock(&s->lock);
	if (!s->running || s->stopping) {
		pthread_mutex_unlock(&s->lock);
		return STORE_SUBMIT_STOPPING;
	}
	if (s->queued >= s->opt.queue_max) {
		pthread_mutex_unlock(&s->lock);
		return STORE_SUBMIT_FULL;
	}
	job->next = NULL;
	if (s->tail != NULL)
		s->tail->next = job;
	else
		s->head = job;
	s->tail = job;
	s->queued++;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void
store_stop(struct store *s)
{
	if (!s->running)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	/* No reconnect from now on starts it again (store_reconnect). */
	s->ckpt_wanted = 0;
	store_ckpt_stop(s);
	pthread_mutex_lock(&s->lock);
	s->running = 0;
	pthread_mutex_unlock(&s->lock);
}

void
store_abort(struct store *s)
{
	atomic_store(&s->aborting, 1);
	/*
	 * Only a writer that holds a connection can be waiting on a lock;
	 * while read-only it may be swapping connections, and fails fast.
	 */
	pthread_mutex_lock(&s->lock);
	if (!s->readonly && s->db != NULL)
		sqlite3_interrupt(s->db);
	pthread_mutex_unlock(&s->lock);
	/* A long pass would delay the exit; the next start copies the rest. */
	pthread_mutex_lock(&s->ckpt_lock);
	if (s->ckpt_db != NULL)
		sqlite3_interrupt(s->ckpt_db);
	pthread_mutex_unlock(&s->ckpt_lock);
}

void
store_stats(struct store *s, struct store_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->stats;
	out->queued = s->queued;
	out->busy_us = s->batch_since != 0 ? util_mono_us() - s->batch_since : 0;
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_lock(&s->ckpt_lock);
	out->checkpoints = s->ckpt_passes;
	pthread_mutex_unlock(&s->ckpt_lock);
	out->wal_frames = atomic_load(&s->wal_frames);
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

int
store_writable(struct store *s)
{
	int w;

	pthread_mutex_lock(&s->lock);
	w = !s->readonly;
	pthread_mutex_unlock(&s->lock);
	return w;
}
