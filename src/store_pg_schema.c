/*
 * store_pg_schema.c - the PostgreSQL engine's schema: the DDL of schema
 * version 8, its creation in one transaction under an advisory lock, and
 * store_pg_check() for antomd -n.
 *
 * The tables, columns (names and order), keys, CHECKs, indexes and views
 * are SQLite's as store_schema.c leaves them at version 8, and mean the
 * same (README "What is stored"; test_pg_columns_match_sqlite compares
 * the two column by column).  Where the two dialects differ:
 *
 *   - text is COLLATE "C": compared byte-wise, as SQLite compares, so ids
 *     and ISO 8601 times sort as the README says, whatever the database's
 *     locale;
 *   - SQLite's INTEGER (64-bit) is bigint, BLOB is bytea;
 *   - notifications.id and events.seq are bigint identities GENERATED
 *     ALWAYS: values only the database hands out, never reused (SQLite's
 *     AUTOINCREMENT);
 *   - the version is the one row of antomd_schema, not PRAGMA
 *     user_version;
 *   - in the views, "a IS b" is "a IS NOT DISTINCT FROM b", CROSS JOIN
 *     ... ON (SQLite's join-order hint) a plain JOIN, and the sums are
 *     cast back to bigint (PostgreSQL's sum of bigint is numeric).
 *
 * There is no earlier PostgreSQL schema: a database is created at version
 * 8, and later versions migrate from it.  Works on a connection it is
 * given; no state of its own.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store.h"
#include "store_pg.h"
#include "util.h"

/* The first version antomd made on PostgreSQL. */
#define STORE_PG_FIRST_VERSION	8

#define T	" text COLLATE \"C\""
#define I	" bigint"

/* The money a view adds: as STORE_V8_COUNTED in store_schema.c. */
#define PG_COUNTED(t)							\
"         " t ".status = 'SUCCESS' AND p.status <> 'FAIL' AND"		\
"         " t ".currency IS NOT DISTINCT FROM p.currency"
#define PG_UNCOUNTED(t)							\
"         " t ".status = 'SUCCESS' AND (p.status = 'FAIL' OR"		\
"         " t ".currency IS DISTINCT FROM p.currency)"
/* The refunds linked to payment p (store_schema.c STORE_V8_REFUNDS). */
#define PG_REFUNDS							\
"  FROM refund_payment rp JOIN refunds r"				\
"    ON r.refund_request_id = rp.refund_request_id"			\
"   AND r.client_id = rp.client_id"					\
"  WHERE rp.client_id = p.client_id"					\
"    AND rp.payment_request_id = p.payment_request_id"
/* The payment a refund link l names (store_schema.c refund_payment). */
#define PG_LINKED_PAYMENT						\
"    ON p.client_id = l.client_id"					\
"   AND ((p.payment_request_id = l.payment_request_id"			\
"         AND (l.payment_id IS NULL"					\
"              OR p.payment_id IS NOT DISTINCT FROM l.payment_id))"	\
"     OR (l.payment_request_id IS NULL AND p.payment_id = l.payment_id))"
/* The columns of a payment_timeline row. */
#define PG_TIMELINE_ROW							\
"  SELECT p.client_id, p.payment_request_id, p.payment_id, e.seq,"	\
"         e.created_at, e.object_type, e.object_id, e.old_status,"	\
"         e.new_status, e.notification_id"

static const char store_pg_schema_v8[] =
"CREATE TABLE antomd_schema (version integer NOT NULL);"
"CREATE UNIQUE INDEX antomd_schema_one ON antomd_schema ((true));"
"CREATE TABLE notifications ("
"  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
"  client_id        " T " NOT NULL,"
"  body_sha256      " T " NOT NULL,"
"  body              bytea NOT NULL,"
"  request_time     " T " NOT NULL,"
"  signature        " T " NOT NULL,"
"  signed_path      " T " NOT NULL,"
"  key_version      " I " NOT NULL,"
"  notify_type      " T ","
"  kind             " T " NOT NULL CHECK (kind = 'payment' OR"
"    kind = 'capture' OR kind = 'refund' OR kind = 'dispute' OR"
"    kind = 'vaulting' OR kind = 'other'),"
"  object_id        " T ","
"  outcome          " T " NOT NULL CHECK (outcome = 'applied' OR"
"    outcome = 'duplicate' OR outcome = 'ignored' OR outcome = 'conflict'"
"    OR outcome = 'archived'),"
"  archive_reason   " T ","
"  first_received_at" T " NOT NULL,"
"  last_received_at " T " NOT NULL,"
"  delivery_count   " I " NOT NULL DEFAULT 1,"
"  discrepancy      " T ","
"  UNIQUE (client_id, body_sha256)"
");"
"CREATE INDEX notifications_object ON notifications (object_id, client_id);"
"CREATE TABLE payments ("
"  payment_request_id         " T " NOT NULL,"
"  client_id                  " T " NOT NULL,"
"  payment_id                 " T ","
"  status                     " T " NOT NULL CHECK (status = 'PENDING' OR"
"    status = 'SUCCESS' OR status = 'FAIL'),"
"  result_code                " T ","
"  result_message             " T ","
"  amount_value               " I ","
"  currency                   " T ","
"  payment_create_time        " T ","
"  payment_time               " T ","
"  avs_result_raw             " T ","
"  cvv_result_raw             " T ","
"  network_transaction_id     " T ","
"  three_ds_eci               " T ","
"  three_ds_version           " T ","
"  three_ds_cavv              " T ","
"  three_ds_ds_transaction_id " T ","
"  card_brand                 " T ","
"  last_four                  " T ","
"  issuing_country            " T ","
"  refusal_code_raw           " T ","
"  refusal_reason_raw         " T ","
"  notification_id            " I " NOT NULL REFERENCES notifications (id),"
"  created_at                 " T " NOT NULL,"
"  updated_at                 " T " NOT NULL,"
"  payment_method_type        " T ","
"  actual_payment_amount_value" I ","
"  actual_payment_currency    " T ","
"  auth_expiry_time           " T ","
"  acquirer_reference_no      " T ","
"  acquirer_name              " T ","
"  acquirer_transaction_id    " T ","
"  acquirer_result_code       " T ","
"  acquirer_result_message    " T ","
"  card_bin                   " T ","
"  funding                    " T ","
"  issuer_name                " T ","
"  card_no_masked             " T ","
"  card_token                 " T ","
"  merchant_advice_code       " T ","
"  authorization_code         " T ","
"  rrn                        " T ","
"  credential_type_used       " T ","
"  PRIMARY KEY (payment_request_id, client_id)"
");"
"CREATE INDEX payments_payment_id ON payments (payment_id, client_id);"
"CREATE TABLE captures ("
"  capture_request_id      " T " NOT NULL,"
"  client_id               " T " NOT NULL,"
"  capture_id              " T ","
"  payment_id              " T ","
"  status                  " T " NOT NULL CHECK (status = 'PENDING' OR"
"    status = 'SUCCESS' OR status = 'FAIL'),"
"  result_code             " T ","
"  result_message          " T ","
"  amount_value            " I ","
"  currency                " T ","
"  capture_time            " T ","
"  acquirer_reference_no   " T ","
"  notification_id         " I " NOT NULL REFERENCES notifications (id),"
"  created_at              " T " NOT NULL,"
"  updated_at              " T " NOT NULL,"
"  acquirer_name           " T ","
"  acquirer_transaction_id " T ","
"  acquirer_result_code    " T ","
"  acquirer_result_message " T ","
"  PRIMARY KEY (capture_request_id, client_id)"
");"
"CREATE INDEX captures_payment_id ON captures (payment_id, client_id);"
"CREATE TABLE events ("
"  seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
"  created_at     " T " NOT NULL,"
"  client_id      " T " NOT NULL,"
"  object_type    " T " NOT NULL CHECK (object_type = 'payment' OR"
"    object_type = 'capture' OR object_type = 'refund' OR"
"    object_type = 'dispute' OR object_type = 'vaulting'),"
"  object_id      " T " NOT NULL,"
"  payment_id     " T ","
"  old_status     " T ","
"  new_status     " T " NOT NULL,"
"  notification_id" I " NOT NULL REFERENCES notifications (id)"
");"
"CREATE INDEX events_notification ON events (notification_id);"
"CREATE TABLE refunds ("
"  refund_request_id          " T " NOT NULL,"
"  client_id                  " T " NOT NULL,"
"  refund_id                  " T ","
"  payment_id                 " T ","
"  payment_request_id         " T ","
"  status                     " T " NOT NULL CHECK (status = 'PENDING' OR"
"    status = 'SUCCESS' OR status = 'FAIL'),"
"  result_code                " T ","
"  result_message             " T ","
"  amount_value               " I ","
"  currency                   " T ","
"  refund_time                " T ","
"  notification_id            " I " NOT NULL REFERENCES notifications (id),"
"  created_at                 " T " NOT NULL,"
"  updated_at                 " T " NOT NULL,"
"  arn                        " T ","
"  actual_refund_amount_value " I ","
"  actual_refund_currency     " T ","
"  PRIMARY KEY (refund_request_id, client_id)"
");"
"CREATE INDEX refunds_payment_id ON refunds (payment_id, client_id);"
"CREATE TABLE disputes ("
"  dispute_id            " T " NOT NULL,"
"  client_id             " T " NOT NULL,"
"  payment_id            " T ","
"  payment_request_id    " T ","
"  capture_id            " T ","
"  stage                 " T " NOT NULL,"
"  dispute_type          " T ","
"  amount_value          " I ","
"  currency              " T ","
"  reason_code           " T ","
"  reason_msg            " T ","
"  source                " T ","
"  dispute_time          " T ","
"  defense_due_time      " T ","
"  defendable            " T " CHECK (defendable IN ('true','false')),"
"  judged_result         " T ","
"  judged_time           " T ","
"  judged_amount_value   " I ","
"  judged_currency       " T ","
"  notification_id       " I " NOT NULL REFERENCES notifications (id),"
"  created_at            " T " NOT NULL,"
"  updated_at            " T " NOT NULL,"
"  arn                   " T ","
"  dispute_accept_reason " T ","
"  PRIMARY KEY (dispute_id, client_id)"
");"
"CREATE INDEX disputes_payment_id ON disputes (payment_id, client_id);"
"CREATE TABLE vaultings ("
"  vaulting_request_id    " T " NOT NULL,"
"  client_id              " T " NOT NULL,"
"  status                 " T " NOT NULL CHECK (status = 'PENDING' OR"
"    status = 'SUCCESS' OR status = 'FAIL'),"
"  result_code            " T ","
"  result_message         " T ","
"  card_token             " T ","
"  card_brand             " T ","
"  card_no_masked         " T ","
"  issuing_country        " T ","
"  vaulting_create_time   " T ","
"  notification_id        " I " NOT NULL REFERENCES notifications (id),"
"  created_at             " T " NOT NULL,"
"  updated_at             " T " NOT NULL,"
"  network_transaction_id " T ","
"  card_bin               " T ","
"  expiry_month           " T ","
"  expiry_year            " T ","
"  PRIMARY KEY (vaulting_request_id, client_id)"
");"
"CREATE TABLE refusals ("
"  body_sha256      " T " NOT NULL,"
"  client_id        " T " NOT NULL,"
"  status           " I " NOT NULL,"
"  reason           " T " NOT NULL,"
"  request_time     " T ","
"  notify_type      " T ","
"  kind             " T ","
"  object_id        " T ","
"  first_refused_at " T " NOT NULL,"
"  last_refused_at  " T " NOT NULL,"
"  refusal_count    " I " NOT NULL,"
"  authentic        " I " NOT NULL DEFAULT 0"
"    CHECK (authentic = 0 OR authentic = 1),"
"  PRIMARY KEY (body_sha256, client_id)"
");"
/*
 * Written by the merchant's application (README "Linking refunds");
 * created_at as SQLite's strftime('%Y-%m-%dT%H:%M:%fZ', 'now'): UTC,
 * milliseconds, the statement's time.
 */
"CREATE TABLE refund_links ("
"  client_id          " T " NOT NULL,"
"  refund_request_id  " T " NOT NULL,"
"  payment_id         " T ","
"  payment_request_id " T ","
"  created_at         " T " NOT NULL"
"    DEFAULT (to_char(statement_timestamp() AT TIME ZONE 'UTC',"
"                     'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')),"
"  CHECK (payment_id IS NOT NULL OR payment_request_id IS NOT NULL),"
"  PRIMARY KEY (refund_request_id, client_id)"
");"
"CREATE INDEX refund_links_payment_id"
"  ON refund_links (payment_id, client_id);"
"CREATE INDEX refund_links_payment_request_id"
"  ON refund_links (payment_request_id, client_id);"
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
"         c.updated_at AS capture_updated_at,"
"         (CASE WHEN c.status IS DISTINCT FROM 'SUCCESS' THEN NULL"
"               WHEN p.status = 'FAIL' THEN 'payment_failed'"
"               WHEN c.currency IS DISTINCT FROM p.currency THEN 'currency'"
"          END) COLLATE \"C\" AS mismatch"
"  FROM payments p"
"  LEFT JOIN captures c"
"    ON c.client_id = p.client_id AND c.payment_id = p.payment_id;"
"CREATE VIEW refund_payment AS"
"  SELECT l.client_id, l.refund_request_id, p.payment_request_id,"
"         p.payment_id"
"  FROM refund_links l JOIN payments p"
PG_LINKED_PAYMENT ";"
"CREATE VIEW refund_status AS"
"  SELECT r.client_id, r.refund_request_id, r.refund_id, r.status,"
"         r.amount_value, r.currency, r.result_code, r.refund_time,"
"         r.updated_at, p.payment_request_id, p.payment_id,"
"         (CASE WHEN p.payment_request_id IS NOT NULL THEN 'linked'"
"               WHEN l.refund_request_id IS NOT NULL THEN 'payment_unknown'"
"               ELSE 'unlinked' END) COLLATE \"C\" AS link"
"  FROM refunds r LEFT JOIN refund_links l"
"    ON l.refund_request_id = r.refund_request_id"
"   AND l.client_id = r.client_id"
"  LEFT JOIN payments p"
PG_LINKED_PAYMENT ";"
"CREATE VIEW payment_status AS"
"  SELECT p.client_id, p.payment_request_id, p.payment_id, p.status,"
"         p.amount_value, p.currency, p.result_code, p.payment_time,"
"         p.updated_at,"
"         (SELECT coalesce(sum(c.amount_value), 0)::bigint FROM captures c"
"           WHERE c.client_id = p.client_id AND c.payment_id = p.payment_id"
"             AND" PG_COUNTED("c") ") AS captured_amount_value,"
"         (SELECT coalesce(sum(r.amount_value), 0)::bigint"
PG_REFUNDS
"             AND" PG_COUNTED("r") ") AS refunded_amount_value,"
"         (SELECT count(*) FROM disputes d"
"           WHERE d.client_id = p.client_id"
"             AND d.payment_id = p.payment_id) AS dispute_count,"
"         (SELECT d.stage FROM disputes d"
"           WHERE d.client_id = p.client_id AND d.payment_id = p.payment_id"
"           ORDER BY d.updated_at DESC, d.dispute_id LIMIT 1)"
"           AS dispute_stage,"
"         (SELECT count(*) FROM captures c"
"           WHERE c.client_id = p.client_id AND c.payment_id = p.payment_id"
"             AND" PG_UNCOUNTED("c") ") +"
"         (SELECT count(*)"
PG_REFUNDS
"             AND" PG_UNCOUNTED("r") ") AS mismatched_count"
"  FROM payments p;"
"CREATE VIEW payment_timeline AS"
PG_TIMELINE_ROW
"  FROM payments p JOIN notifications n"
"    ON n.object_id = p.payment_request_id AND n.client_id = p.client_id"
"  JOIN events e"
"    ON e.notification_id = n.id AND e.object_type = 'payment'"
"  UNION ALL"
PG_TIMELINE_ROW
"  FROM payments p JOIN captures c ON c.client_id = p.client_id"
"   AND c.payment_id = p.payment_id"
"  JOIN notifications n ON n.object_id = c.capture_request_id"
"   AND n.client_id = c.client_id"
"  JOIN events e"
"    ON e.notification_id = n.id AND e.object_type = 'capture'"
"  UNION ALL"
PG_TIMELINE_ROW
"  FROM payments p JOIN refund_payment rp"
"    ON rp.client_id = p.client_id"
"   AND rp.payment_request_id = p.payment_request_id"
"  JOIN notifications n ON n.object_id = rp.refund_request_id"
"   AND n.client_id = rp.client_id"
"  JOIN events e"
"    ON e.notification_id = n.id AND e.object_type = 'refund'"
"  UNION ALL"
PG_TIMELINE_ROW
"  FROM payments p JOIN disputes d ON d.client_id = p.client_id"
"   AND d.payment_id = p.payment_id"
"  JOIN notifications n ON n.object_id = d.dispute_id"
"   AND n.client_id = d.client_id"
"  JOIN events e"
"    ON e.notification_id = n.id AND e.object_type = 'dispute';";

#undef T
#undef I
#undef PG_COUNTED
#undef PG_UNCOUNTED
#undef PG_REFUNDS
#undef PG_LINKED_PAYMENT
#undef PG_TIMELINE_ROW

/* libpq's message, without its final newline, into err. */
static void
store_pg_err(PGconn *c, char *err, size_t errlen, const char *what)
{
	const char *msg = PQerrorMessage(c);
	size_t n = strlen(msg);

	while (n > 0 && msg[n - 1] == '\n')
		n--;
	util_err(err, errlen, "%s: %.*s", what, (int)n, msg);
}

int
store_pg_exec(PGconn *c, const char *sql, char *err, size_t errlen)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	int rc = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		store_pg_err(c, err, errlen, "PostgreSQL");
		rc = -1;
	}
	PQclear(r);
	return rc;
}

/* Whatever a WARNING said, kept for store_pg_commit(). */
struct store_pg_warning {
	int	seen;
	char	text[256];
};

static void
store_pg_on_notice(void *arg, const PGresult *r)
{
	struct store_pg_warning *w = arg;
	const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);

	if (sev == NULL || strcmp(sev, "WARNING") != 0 || w->seen++ > 0)
		return;
	snprintf(w->text, sizeof(w->text), "%s", msg != NULL ? msg : "");
}

/*
 * This thread's COMMIT deadline and the COMMIT it left outstanding
 * (store_pg_commit_by(), store_pg.h): in the daemon, the writer's.  The
 * notice receiver stays ours until that COMMIT's result is read, so that
 * its WARNING is seen however late it comes; the one it replaced must be
 * libpq's default, which is what the connection gets back (its argument
 * is unused): the engine's connections are its own.
 */
static _Thread_local struct {
	uint64_t		 by;		/* mono us; 0: wait for ever */
	PGconn			*left;		/* a COMMIT outstanding on it */
	PQnoticeReceiver	 old;
	struct store_pg_warning	 w;
} store_pg_late;

void
store_pg_commit_by(uint64_t by)
{
	store_pg_late.by = by;
}

uint64_t
store_pg_commit_deadline(void)
{
	return store_pg_late.by;
}

int
store_pg_commit_left(void)
{
	return store_pg_late.left != NULL;
}

/*
 * Wait until the result of what was sent on c is in, or mono time by
 * (0: for ever): 1 it is not; 0 it is, or the connection failed (the
 * result then says so).
 */
static int
store_pg_wait(PGconn *c, uint64_t by)
{
	struct pollfd pfd;
	uint64_t now;
	int ms;

	while (PQisBusy(c)) {
		ms = -1;
		if (by != 0) {
			if ((now = util_mono_us()) >= by)
				return 1;
			ms = (int)((by - now + 999) / 1000);
		}
		pfd.fd = PQsocket(c);
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (pfd.fd < 0 || (poll(&pfd, 1, ms) < 0 && errno != EINTR) ||
		    PQconsumeInput(c) != 1)
			return 0;
	}
	return 0;
}

/*
 * What a COMMIT answered with an error r did.  After the WARNING of a
 * cancelled wait for the standby it committed on the primary (an
 * administrator's pg_terminate_backend says WARNING, then FATAL 57P01).
 * Else it rolled back only if the error is the transaction's own (an
 * ERROR, the connection alive); a FATAL, a lost connection or an
 * operator's intervention (class 57) leaves it unknown.
 */
static enum store_pg_outcome
store_pg_commit_error(PGconn *c, const PGresult *r)
{
	const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	if (store_pg_late.w.seen > 0)
		return STORE_PG_LOCAL;
	if (PQstatus(c) != CONNECTION_OK || sev == NULL ||
	    strcmp(sev, "ERROR") != 0 || state == NULL ||
	    strncmp(state, "08", 2) == 0 || strncmp(state, "57", 2) == 0)
		return STORE_PG_UNKNOWN;
	return STORE_PG_ROLLED_BACK;
}

/* Read the COMMIT's result, give the notice receiver back: its outcome. */
static enum store_pg_outcome
store_pg_commit_end(PGconn *c, char *err, size_t errlen)
{
	enum store_pg_outcome o = STORE_PG_COMMITTED;
	PGresult *r;

	while ((r = PQgetResult(c)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK &&
		    o == STORE_PG_COMMITTED) {
			store_pg_err(c, err, errlen, "PostgreSQL");
			o = store_pg_commit_error(c, r);
		}
		PQclear(r);
	}
	/* Sent in a batch's pipeline (store_pg.c): its sync, then out. */
	if (PQpipelineStatus(c) != PQ_PIPELINE_OFF) {
		if ((r = PQgetResult(c)) == NULL ||
		    PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
			if (o == STORE_PG_COMMITTED)
				o = STORE_PG_UNKNOWN;
			store_pg_err(c, err, errlen, "PostgreSQL: no sync");
		}
		PQclear(r);
		if (PQexitPipelineMode(c) != 1 && o == STORE_PG_COMMITTED) {
			store_pg_err(c, err, errlen, "PostgreSQL");
			o = STORE_PG_UNKNOWN;
		}
	}
	store_pg_commit_disarm(c);
	if ((o == STORE_PG_COMMITTED || o == STORE_PG_LOCAL) &&
	    store_pg_late.w.seen > 0) {
		util_err(err, errlen, "COMMIT: WARNING: %s (committed on the "
		    "primary, perhaps not on a standby)", store_pg_late.w.text);
		o = STORE_PG_LOCAL;
	}
	return o;
}

int
store_pg_commit_arm(PGconn *c, char *err, size_t errlen)
{
	if (store_pg_late.left != NULL) {
		util_err(err, errlen, "COMMIT: the one before is still "
		    "outstanding");
		return -1;
	}
	memset(&store_pg_late.w, 0, sizeof(store_pg_late.w));
	store_pg_late.old = PQsetNoticeReceiver(c, store_pg_on_notice,
	    &store_pg_late.w);
	store_pg_late.left = c;
	return 0;
}

void
store_pg_commit_disarm(PGconn *c)
{
	if (store_pg_late.left != c)
		return;
	PQsetNoticeReceiver(c, store_pg_late.old, NULL);
	store_pg_late.left = NULL;
}

/*
 * Waited for by the deadline only: a COMMIT is never cancelled (a
 * cancelled wait for the synchronous standby is a commit on the primary
 * alone).
 */
int
store_pg_commit_wait(PGconn *c, char *err, size_t errlen)
{
	if (store_pg_wait(c, store_pg_late.by) == 1) {
		util_err(err, errlen, "COMMIT: no answer by the deadline (left "
		    "outstanding, not cancelled)");
		return -1;
	}
	return store_pg_commit_end(c, err, errlen) == STORE_PG_COMMITTED ?
	    0 : -1;
}

int
store_pg_commit(PGconn *c, char *err, size_t errlen)
{
	if (store_pg_commit_arm(c, err, errlen) != 0)
		return -1;
	if (PQsendQuery(c, "COMMIT") != 1) {
		store_pg_err(c, err, errlen, "PostgreSQL");
		store_pg_commit_disarm(c);
		return -1;
	}
	return store_pg_commit_wait(c, err, errlen);
}

enum store_pg_outcome
store_pg_commit_settle(PGconn *c, uint64_t until, int give_up, char *err,
    size_t errlen)
{
	if (store_pg_late.left != c) {
		util_err(err, errlen, "no COMMIT outstanding");
		return STORE_PG_UNKNOWN;
	}
	if (give_up) {
		store_pg_commit_disarm(c);
		util_err(err, errlen, "COMMIT: no longer waited for");
		return STORE_PG_UNKNOWN;
	}
	if (store_pg_wait(c, until) == 1)
		return STORE_PG_WAITING;
	return store_pg_commit_end(c, err, errlen);
}

/*
 * The version in antomd_schema into *version, 0 when the table is not
 * there.  0, or -1 with err.
 */
static int
store_pg_version(PGconn *c, int *version, char *err, size_t errlen)
{
	PGresult *r;
	int rc = -1;

	r = PQexec(c, "SELECT to_regclass('antomd_schema') IS NOT NULL");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		store_pg_err(c, err, errlen, "cannot read the schema version");
		goto out;
	}
	if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
		*version = 0;
		rc = 0;
		goto out;
	}
	PQclear(r);
	r = PQexec(c, "SELECT version FROM antomd_schema");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		store_pg_err(c, err, errlen, "cannot read the schema version");
		goto out;
	}
	if (PQntuples(r) != 1 || (*version = atoi(PQgetvalue(r, 0, 0))) < 1) {
		util_err(err, errlen, "antomd_schema holds no version");
		goto out;
	}
	rc = 0;
out:
	PQclear(r);
	return rc;
}

/* A version found this antomd can use (0: none yet); 0, or -1 with err. */
static int
store_pg_known(int version, char *err, size_t errlen)
{
	if (version > STORE_SCHEMA_VERSION) {
		util_err(err, errlen, "database schema version %d is newer than "
		    "this antomd understands (%d)", version, STORE_SCHEMA_VERSION);
		return -1;
	}
	if (version > 0 && version < STORE_PG_FIRST_VERSION) {
		/* No release ever made one. */
		util_err(err, errlen, "database schema version %d: no antomd "
		    "made it on PostgreSQL", version);
		return -1;
	}
	return 0;
}

int
store_pg_migrate(PGconn *c, int *from, char *err, size_t errlen)
{
	char sql[96];
	int version;

	/*
	 * READ COMMITTED whatever the role's default: each statement after
	 * the lock sees what the instance that held it committed.
	 */
	if (store_pg_exec(c, "BEGIN ISOLATION LEVEL READ COMMITTED", err,
	    errlen) != 0)
		return -1;
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%lld)",
	    STORE_PG_LOCK_SCHEMA);
	if (store_pg_exec(c, sql, err, errlen) != 0 ||
	    store_pg_version(c, &version, err, errlen) != 0)
		goto fail;
	*from = version;
	if (store_pg_known(version, err, errlen) != 0)
		goto fail;
	if (version == 0) {
		snprintf(sql, sizeof(sql), "INSERT INTO antomd_schema VALUES "
		    "(%d)", STORE_SCHEMA_VERSION);
		if (store_pg_exec(c, store_pg_schema_v8, err, errlen) != 0 ||
		    store_pg_exec(c, sql, err, errlen) != 0)
			goto fail;
	} else if (version < STORE_SCHEMA_VERSION) {
		/*
		 * Version 9 merged SQLite's two keys of notifications;
		 * PostgreSQL keeps its own (store_pg_sql.c), so only the
		 * number changes.
		 */
		snprintf(sql, sizeof(sql), "UPDATE antomd_schema SET version ="
		    " %d", STORE_SCHEMA_VERSION);
		if (store_pg_exec(c, sql, err, errlen) != 0)
			goto fail;
	}
	return store_pg_commit(c, err, errlen);
fail:
	PQclear(PQexec(c, "ROLLBACK"));
	return -1;
}

PGconn *
store_pg_connect(const char *conninfo)
{
	/*
	 * Keywords are taken in order and the last value wins: ours come
	 * before dbname, which expands conninfo, so whatever it says wins.
	 * Without them a host that dies or drops off the network leaves the
	 * writer waiting on its socket for the kernel's two hours of
	 * keepalive (or a connect for its SYN retries): no 503 by antomd's
	 * deadline, and no reconnect to the promoted standby.
	 */
	static const char *const keys[] = { "connect_timeout", "keepalives",
	    "keepalives_idle", "keepalives_interval", "keepalives_count",
	    "tcp_user_timeout", "dbname", NULL };
	const char *vals[] = { "10", "1", "5", "2", "3", "10000", conninfo,
	    NULL };

	return PQconnectdbParams(keys, vals, 1);
}

int
store_pg_check(const char *conninfo, char *err, size_t errlen)
{
	PGconn *c;
	PGresult *r = NULL;
	int version, rc = -1;

	c = store_pg_connect(conninfo);
	if (c == NULL) {
		util_err(err, errlen, "cannot connect to PostgreSQL: out of "
		    "memory");
		return -1;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		store_pg_err(c, err, errlen, "cannot connect to PostgreSQL");
		goto out;
	}
	if (store_pg_version(c, &version, err, errlen) != 0)
		goto out;
	if (store_pg_known(version, err, errlen) != 0)
		goto out;
	if (version == 0) {
		/* antomd will create the tables: may it? */
		r = PQexec(c, "SELECT current_schema(),"
		    " has_schema_privilege(current_schema(), 'CREATE')");
		if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
			store_pg_err(c, err, errlen, "PostgreSQL");
			goto out;
		}
		if (PQgetisnull(r, 0, 0)) {
			util_err(err, errlen, "PostgreSQL: no schema of the "
			    "search_path exists to create antomd's tables in");
			goto out;
		}
		if (strcmp(PQgetvalue(r, 0, 1), "t") != 0) {
			util_err(err, errlen, "PostgreSQL: user %s may not "
			    "create antomd's tables in schema %s", PQuser(c),
			    PQgetvalue(r, 0, 0));
			goto out;
		}
	}
	rc = 0;
out:
	PQclear(r);
	PQfinish(c);
	return rc;
}
