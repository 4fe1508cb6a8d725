/*
 * store_schema_v8.c - the text of schema version 8 of the SQLite
 * database, which store_migrate() runs (store_schema.c).  Data only.
 */
#include <stddef.h>

#include "store_schema.h"

/*
 * Schema version 8: refunds reach their payment through the merchant.
 *
 * notifyRefund carries no paymentId or paymentRequestId (docs/protocol.md
 * section 4.5): only the merchant's application knows which payment a
 * refundRequestId refunds, from its own refund call.  refund_links is
 * where it says so, before or after the notification arrives; antomd only
 * reads it.  The one exception is this migration: a refund an earlier
 * version recorded with a payment id in its body (only bodies made by
 * hand ever had one) keeps the link it had, copied here.
 *
 * A link names the payment by payment_id, payment_request_id, or both
 * (then both must match).  refund_payment resolves each link to its
 * payment row, once, for every view: payment_status, payment_timeline and
 * refund_status join through it.
 *
 * Captures and refunds may now be PENDING (resultStatus U: not final),
 * as payments and vaultings could.  And the fields a merchant acts on
 * become columns.
 *
 * antomd_replay is the list of archived notifications to read again with
 * this version's parser (store_state.c); it is emptied and dropped in the
 * migration's own transaction.
 */
#define STORE_V8_COUNTED(t)						\
"         " t ".status = 'SUCCESS' AND p.status <> 'FAIL' AND"		\
"         " t ".currency IS p.currency"
#define STORE_V8_UNCOUNTED(t)						\
"         " t ".status = 'SUCCESS' AND (p.status = 'FAIL' OR"		\
"         " t ".currency IS NOT p.currency)"
/* The refunds linked to payment p. */
#define STORE_V8_REFUNDS						\
"  FROM refund_payment rp CROSS JOIN refunds r"				\
"    ON r.refund_request_id = rp.refund_request_id"			\
"   AND r.client_id = rp.client_id"					\
"  WHERE rp.client_id = p.client_id"					\
"    AND rp.payment_request_id = p.payment_request_id"

const char *const store_schema_v8_checks[STORE_SCHEMA_V8_CHECKS][3] = {
	{ "captures", "CHECK (status IN ('SUCCESS','FAIL'))",
	  "CHECK (status = 'PENDING' OR status = 'SUCCESS' OR"
	  " status = 'FAIL')" },
	{ "refunds", "CHECK (status IN ('SUCCESS','FAIL'))",
	  "CHECK (status = 'PENDING' OR status = 'SUCCESS' OR"
	  " status = 'FAIL')" },
};

const char store_schema_v8[] =
/*
 * What a merchant acts on (docs/protocol.md section 6): ADD COLUMN writes
 * no row; rows recorded before stay NULL, and the body in notifications
 * still has what they said.
 */
"ALTER TABLE payments ADD COLUMN payment_method_type TEXT;"
"ALTER TABLE payments ADD COLUMN actual_payment_amount_value INTEGER;"
"ALTER TABLE payments ADD COLUMN actual_payment_currency TEXT;"
"ALTER TABLE payments ADD COLUMN auth_expiry_time TEXT;"
"ALTER TABLE payments ADD COLUMN acquirer_reference_no TEXT;"
"ALTER TABLE payments ADD COLUMN acquirer_name TEXT;"
"ALTER TABLE payments ADD COLUMN acquirer_transaction_id TEXT;"
"ALTER TABLE payments ADD COLUMN acquirer_result_code TEXT;"
"ALTER TABLE payments ADD COLUMN acquirer_result_message TEXT;"
"ALTER TABLE payments ADD COLUMN card_bin TEXT;"
"ALTER TABLE payments ADD COLUMN funding TEXT;"
"ALTER TABLE payments ADD COLUMN issuer_name TEXT;"
"ALTER TABLE payments ADD COLUMN card_no_masked TEXT;"
"ALTER TABLE payments ADD COLUMN card_token TEXT;"
"ALTER TABLE payments ADD COLUMN merchant_advice_code TEXT;"
"ALTER TABLE payments ADD COLUMN authorization_code TEXT;"
"ALTER TABLE payments ADD COLUMN rrn TEXT;"
"ALTER TABLE payments ADD COLUMN credential_type_used TEXT;"
"ALTER TABLE captures ADD COLUMN acquirer_name TEXT;"
"ALTER TABLE captures ADD COLUMN acquirer_transaction_id TEXT;"
"ALTER TABLE captures ADD COLUMN acquirer_result_code TEXT;"
"ALTER TABLE captures ADD COLUMN acquirer_result_message TEXT;"
"ALTER TABLE refunds ADD COLUMN arn TEXT;"
"ALTER TABLE refunds ADD COLUMN actual_refund_amount_value INTEGER;"
"ALTER TABLE refunds ADD COLUMN actual_refund_currency TEXT;"
"ALTER TABLE disputes ADD COLUMN arn TEXT;"
"ALTER TABLE disputes ADD COLUMN dispute_accept_reason TEXT;"
"ALTER TABLE vaultings ADD COLUMN network_transaction_id TEXT;"
"ALTER TABLE vaultings ADD COLUMN card_bin TEXT;"
"ALTER TABLE vaultings ADD COLUMN expiry_month TEXT;"
"ALTER TABLE vaultings ADD COLUMN expiry_year TEXT;"
"CREATE TABLE refund_links ("
"  client_id          TEXT NOT NULL,"
"  refund_request_id  TEXT NOT NULL,"
"  payment_id         TEXT,"
"  payment_request_id TEXT,"
"  created_at         TEXT NOT NULL"
"    DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),"
"  CHECK (payment_id IS NOT NULL OR payment_request_id IS NOT NULL),"
"  PRIMARY KEY (refund_request_id, client_id)"
") WITHOUT ROWID;"
"CREATE INDEX refund_links_payment_id"
"  ON refund_links (payment_id, client_id);"
"CREATE INDEX refund_links_payment_request_id"
"  ON refund_links (payment_request_id, client_id);"
"INSERT INTO refund_links (client_id, refund_request_id, payment_id,"
"  payment_request_id, created_at)"
"  SELECT client_id, refund_request_id, payment_id, payment_request_id,"
"         created_at FROM refunds"
"  WHERE payment_id IS NOT NULL OR payment_request_id IS NOT NULL;"
/*
 * The payment a link names: by its request id, or by its paymentId when
 * the link has only that; a link naming both must match both.  One
 * SELECT, so that SQLite flattens it into the query using it and
 * searches from either side (MULTI-INDEX OR; test_query_plans).
 */
"CREATE VIEW refund_payment AS"
"  SELECT l.client_id, l.refund_request_id, p.payment_request_id,"
"         p.payment_id"
"  FROM refund_links l JOIN payments p"
"    ON p.client_id = l.client_id"
"   AND (p.payment_request_id = l.payment_request_id"
"        AND (l.payment_id IS NULL OR p.payment_id IS l.payment_id)"
"     OR l.payment_request_id IS NULL AND p.payment_id = l.payment_id);"
/*
 * One row per refund: its payment if linked, and why not if not
 * ("payment_unknown": the link names no payment held, yet).  Joined
 * without refund_payment, which a LEFT JOIN would materialise whole.
 */
"CREATE VIEW refund_status AS"
"  SELECT r.client_id, r.refund_request_id, r.refund_id, r.status,"
"         r.amount_value, r.currency, r.result_code, r.refund_time,"
"         r.updated_at, p.payment_request_id, p.payment_id,"
"         CASE WHEN p.payment_request_id IS NOT NULL THEN 'linked'"
"              WHEN l.refund_request_id IS NOT NULL THEN 'payment_unknown'"
"              ELSE 'unlinked' END AS link"
"  FROM refunds r LEFT JOIN refund_links l"
"    ON l.refund_request_id = r.refund_request_id"
"   AND l.client_id = r.client_id"
"  LEFT JOIN payments p"
"    ON p.client_id = l.client_id"
"   AND (p.payment_request_id = l.payment_request_id"
"        AND (l.payment_id IS NULL OR p.payment_id IS l.payment_id)"
"     OR l.payment_request_id IS NULL AND p.payment_id = l.payment_id);"
"DROP VIEW IF EXISTS payment_status;"
"CREATE VIEW payment_status AS"
"  SELECT p.client_id, p.payment_request_id, p.payment_id, p.status,"
"         p.amount_value, p.currency, p.result_code, p.payment_time,"
"         p.updated_at,"
"         (SELECT coalesce(sum(c.amount_value), 0) FROM captures c"
"           WHERE c.client_id = p.client_id AND c.payment_id = p.payment_id"
"             AND" STORE_V8_COUNTED("c") ") AS captured_amount_value,"
"         (SELECT coalesce(sum(r.amount_value), 0)"
STORE_V8_REFUNDS
"             AND" STORE_V8_COUNTED("r") ") AS refunded_amount_value,"
STORE_PAYMENT_STATUS_DISPUTES ","
"         (SELECT count(*) FROM captures c"
"           WHERE c.client_id = p.client_id AND c.payment_id = p.payment_id"
"             AND" STORE_V8_UNCOUNTED("c") ") +"
"         (SELECT count(*)"
STORE_V8_REFUNDS
"             AND" STORE_V8_UNCOUNTED("r") ") AS mismatched_count"
"  FROM payments p;"
"DROP VIEW IF EXISTS payment_timeline;"
STORE_TIMELINE_HEAD
STORE_TIMELINE_SELECT
"  FROM payments p CROSS JOIN refund_payment rp"
"    ON rp.client_id = p.client_id"
"   AND rp.payment_request_id = p.payment_request_id"
"  CROSS JOIN notifications n ON n.object_id = rp.refund_request_id"
"   AND n.client_id = rp.client_id"
"  CROSS JOIN events e"
"    ON e.notification_id = n.id AND e.object_type = 'refund'"
"  UNION ALL"
STORE_TIMELINE_DISPUTES
"CREATE TABLE antomd_replay (notification_id INTEGER PRIMARY KEY);"
"INSERT INTO antomd_replay SELECT id FROM notifications"
"  WHERE kind = 'other';";

#undef STORE_V8_COUNTED
#undef STORE_V8_UNCOUNTED
#undef STORE_V8_REFUNDS
