/*
 * check_store_state.c - what every engine's store owes (README "What is
 * stored"): the state machine, idempotency, any order, every kind's
 * columns, the views, amounts, the writer's batches, the refusals
 * ledger, replay; checked with plain SQL (storedb.h).  Case "state" of
 * suite store runs these on SQLite, and suite store_pg on a real
 * PostgreSQL primary (tests/pg.c), started once for the case, a fresh
 * database a test.  The database string in database picks the engine for
 * the store and for the checks.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "notif.h"
#include "refusal.h"
#include "store.h"
#include "util.h"
/* The writer's statements, to check the upserts generated for them. */
#include "../src/store_int.h"
#include "pg.h"
#include "storedb.h"
#include "suites.h"

/*
 * store_pg: one primary for the whole case (unchecked: started once, in
 * the runner), without fsync, which semantics do not need and which makes
 * CREATE DATABASE slow; each test a database of its own.
 */
static void
setup_pg_cluster(void)
{
	PGconn *c;

	pg_start(0);
	c = pg_connect(0);
	pg_exec(c, "ALTER SYSTEM SET fsync = off");
	pg_exec(c, "SELECT pg_reload_conf()");
	PQfinish(c);
}

static int pg_dbs;	/* databases made by this test */

/* A new empty database in database (the previous one dropped). */
static void
fresh_pg_db(void)
{
	char sql[96];

	if (pg_dbs > 0) {
		storedb_close();
		snprintf(sql, sizeof(sql), "DROP DATABASE s%d_%d WITH (FORCE)",
		    (int)getpid(), pg_dbs);
		pg_sql(0, sql);
	}
	pg_dbs++;
	snprintf(sql, sizeof(sql), "CREATE DATABASE s%d_%d", (int)getpid(),
	    pg_dbs);
	pg_sql(0, sql);
	snprintf(database, sizeof(database), "host=%s port=%d user=postgres"
	    " dbname=s%d_%d connect_timeout=5", pg.dir, pg.node[0].port,
	    (int)getpid(), pg_dbs);
}

static void
setup_pg(void)
{
	test_tmpdir(store_dir, sizeof(store_dir), "store", dbpath,
	    sizeof(dbpath));
	pg_dbs = 0;
	fresh_pg_db();
}

static void
teardown_pg(void)
{
	char sql[96];

	storedb_close();
	snprintf(sql, sizeof(sql), "DROP DATABASE s%d_%d WITH (FORCE)",
	    (int)getpid(), pg_dbs);
	pg_sql(0, sql);
	test_rmtree(store_dir);
}

/* A new empty database for the rest of the test, on either engine. */
static void
fresh_db(void)
{
	if (storedb_is_pg(database)) {
		fresh_pg_db();
		return;
	}
	test_rmtree(store_dir);
	setup();
}

static char *
capture_body(const char *crid, const char *pid, const char *rs)
{
	char *b;

	ck_assert_int_gt(asprintf(&b, "{\"notifyType\":\"CAPTURE_RESULT\","
	    "\"result\":{\"resultCode\":\"X\",\"resultStatus\":\"%s\","
	    "\"resultMessage\":\"m\"},\"captureRequestId\":\"%s\","
	    "\"captureId\":\"C-%s\",\"paymentId\":\"%s\",\"captureAmount\":"
	    "{\"value\":\"4200\",\"currency\":\"SGD\"}}", rs, crid, crid, pid),
	    0);
	return b;
}

/* Deliver body for client as if verified; returns the outcome. */
static enum store_outcome
deliver_as(struct store *s, const char *client, const char *body,
    struct store_result *out)
{
	struct store_delivery d;
	struct store_result r;
	struct notif n;

	ck_assert_int_eq(notif_parse((const unsigned char *)body, strlen(body),
	    &n), 0);
	memset(&d, 0, sizeof(d));
	d.client_id = client;
	d.request_time = "1732550400123";
	d.signature = "algorithm=RSA256,keyVersion=1,signature=x";
	d.signed_path = "/antom/notify";
	d.key_version = 1;
	d.body = (const unsigned char *)body;
	d.bodylen = strlen(body);
	store_hash_body(&d);	/* the caller's, always (store.h) */
	d.notif = &n;
	ck_assert_int_eq(store_apply(s, &d, &r), 0);
	ck_assert_int_eq(r.status, 0);
	notif_free(&n);
	if (out != NULL)
		*out = r;
	return r.outcome;
}

static enum store_outcome
deliver(struct store *s, const char *body, struct store_result *out)
{
	return deliver_as(s, "CLIENT_A", body, out);
}

/*
 * A notification about no object (object_id NULL) is found again as
 * surely as one about an object: SQLite finds a redelivery by its object
 * too (schema 9), with IS for the NULL.  An UPDATE_AMOUNT_RESULT, which
 * Antom sends to the notifyPayment URL with an updateRequestId and the
 * common result (docs/protocol.md sections 4.1 and 4.3), and antomd only
 * archives.
 */
START_TEST(test_repeat_without_object)
{
	static const char body[] = "{\"notifyType\":\"UPDATE_AMOUNT_RESULT\","
	    "\"result\":{\"resultCode\":\"SUCCESS\",\"resultStatus\":\"S\","
	    "\"resultMessage\":\"success\"},\"updateRequestId\":"
	    "\"UR-0001\"}";
	struct store *s = open_store(1);
	struct store_result r;
	int i;

	ck_assert_int_eq(deliver(s, body, &r), STORE_ARCHIVED);
	ck_assert_int_eq(r.repeat, 0);
	for (i = 2; i <= 4; i++) {
		ck_assert_int_eq(deliver(s, body, &r), STORE_DUPLICATE);
		ck_assert_int_eq(r.repeat, 1);
		ck_assert_int_eq(r.delivery_count, i);
	}
	/* Another client's is its own. */
	ck_assert_int_eq(deliver_as(s, "CLIENT_B", body, &r), STORE_ARCHIVED);
	store_close(s);
	ck_assert_int_eq(q_int("SELECT count(*) FROM notifications"), 2);
	ck_assert_int_eq(q_int("SELECT count(*) FROM notifications WHERE"
	    " object_id IS NULL AND archive_reason = 'unsupported_type'"), 2);
	ck_assert_int_eq(q_int("SELECT delivery_count FROM notifications"
	    " WHERE client_id = 'CLIENT_A'"), 4);
	ck_assert_int_eq(q_int("SELECT count(*) FROM events"), 0);
}
END_TEST

/*
 * A delivery whose caller did not hash the body fails and writes nothing:
 * stored with an empty hash, every later body would look like its repeat.
 */
START_TEST(test_unhashed_fails)
{
	struct store *s = open_store(1);
	struct store_delivery d;
	struct store_result r;
	struct notif n;
	char *b = payment_body("PR-U1", "P-U1", "PAYMENT_RESULT", "S", NULL);

	delivery_init(&d, &n, b);
	d.notif = &n;
	ck_assert_int_eq(store_apply(s, &d, &r), -1);
	ck_assert_int_eq(r.status, -1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM notifications"), 0);
	store_hash_body(&d);
	ck_assert_int_eq(store_apply(s, &d, &r), 0);
	ck_assert_int_eq(r.outcome, STORE_APPLIED);
	notif_free(&n);
	store_close(s);
	free(b);
}
END_TEST

START_TEST(test_repeat_delivery)
{
	struct store *s = open_store(1);
	char *b = payment_body("PR1", "P1", "PAYMENT_RESULT", "S", NULL);
	struct store_result r;
	int i;

	ck_assert_int_eq(deliver(s, b, &r), STORE_APPLIED);
	ck_assert_int_eq(r.repeat, 0);
	ck_assert_int_eq(r.delivery_count, 1);
	for (i = 2; i <= 8; i++) {
		ck_assert_int_eq(deliver(s, b, &r), STORE_DUPLICATE);
		ck_assert_int_eq(r.repeat, 1);
		ck_assert_int_eq(r.delivery_count, i);
	}
	store_close(s);
	ck_assert_int_eq(q_int("SELECT count(*) FROM notifications"), 1);
	ck_assert_int_eq(q_int("SELECT delivery_count FROM notifications"), 8);
	ck_assert_int_eq(q_int("SELECT count(*) FROM events"), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM payments"), 1);
	ck_assert_str_eq(q_text("SELECT outcome FROM notifications"), "applied");
	ck_assert_str_eq(q_text("SELECT status FROM payments"), "SUCCESS");
	ck_assert_int_eq(q_int("SELECT amount_value FROM payments"), 4200);
	free(b);
}
END_TEST

START_TEST(test_clients_are_separate)
{
	struct store *s = open_store(1);
	char *b = payment_body("PR1", "P1", "PAYMENT_RESULT", "S", NULL);

	ck_assert_int_eq(deliver_as(s, "CLIENT_A", b, NULL), STORE_APPLIED);
	/*
	 * Sandbox and live client ids may reuse request ids: each client's
	 * payment is its own, and neither touches the other.
	 */
	ck_assert_int_eq(deliver_as(s, "CLIENT_B", b, NULL), STORE_APPLIED);
	ck_assert_int_eq(deliver_as(s, "CLIENT_B", b, NULL), STORE_DUPLICATE);
	store_close(s);
	ck_assert_int_eq(q_int("SELECT count(*) FROM notifications"), 2);
	ck_assert_int_eq(q_int("SELECT count(*) FROM payments WHERE "
	    "payment_request_id = 'PR1'"), 2);
	ck_assert_int_eq(q_int("SELECT count(*) FROM events WHERE "
	    "client_id = 'CLIENT_B'"), 1);
	free(b);
}
END_TEST

START_TEST(test_pending_then_final)
{
	struct store *s = open_store(1);
	char *p = payment_body("PR1", "P1", "PAYMENT_PENDING", "S", NULL);
	char *f = payment_body("PR1", "P1", "PAYMENT_RESULT", "S",
	    ",\"paymentTime\":\"2020-01-01T12:01:01+08:30\"");

	ck_assert_int_eq(deliver(s, p, NULL), STORE_APPLIED);
	ck_assert_int_eq(deliver(s, f, NULL), STORE_APPLIED);
	store_close(s);
	ck_assert_str_eq(q_text("SELECT status FROM payments"), "SUCCESS");
	ck_assert_str_eq(q_text("SELECT payment_time FROM payments"),
	    "2020-01-01T12:01:01+08:30");
	ck_assert_int_eq(q_int("SELECT count(*) FROM events"), 2);
	ck_assert_str_eq(q_text("SELECT old_status FROM events WHERE seq = 2"),
	    "PENDING");
	ck_assert_str_eq(q_text("SELECT new_status FROM events WHERE seq = 2"),
	    "SUCCESS");
	ck_assert_int_eq(q_int("SELECT count(*) FROM events WHERE seq = 1 AND "
	    "old_status IS NULL AND new_status = 'PENDING'"), 1);
	free(p);
	free(f);
}
END_TEST

START_TEST(test_pending_after_final_ignored)
{
	struct store *s = open_store(1);
	char *f = payment_body("PR1", "P1", "PAYMENT_RESULT", "S", NULL);
	char *p = payment_body("PR1", "P1", "PAYMENT_PENDING", "S", NULL);

	ck_assert_int_eq(deliver(s, f, NULL), STORE_APPLIED);
	ck_assert_int_eq(deliver(s, p, NULL), STORE_IGNORED);
	ck_assert_int_eq(deliver(s, p, NULL), STORE_DUPLICATE);
	store_close(s);
	ck_assert_str_eq(q_text("SELECT status FROM payments"), "SUCCESS");
	ck_assert_int_eq(q_int("SELECT count(*) FROM events"), 1);
	ck_assert_str_eq(q_text("SELECT outcome FROM notifications WHERE "
	    "notify_type = 'PAYMENT_PENDING'"), "ignored");
	free(f);
	free(p);
}
END_TEST

START_TEST(test_final_conflict)
{
	struct store *s = open_store(1);
	char *ok = payment_body("PR1", "P1", "PAYMENT_RESULT", "S", NULL);
	char *ko = payment_body("PR1", "P1", "PAYMENT_RESULT", "F", NULL);
	char *ko2 = payment_body("PR2", "P2", "PAYMENT_RESULT", "F", NULL);
	char *ok2 = payment_body("PR2", "P2", "PAYMENT_RESULT", "S", NULL);

	ck_assert_int_eq(deliver(s, ok, NULL), STORE_APPLIED);
	ck_assert_int_eq(deliver(s, ko, NULL), STORE_CONFLICT);
	ck_assert_int_eq(deliver(s, ko2, NULL), STORE_APPLIED);
	ck_assert_int_eq(deliver(s, ok2, NULL), STORE_CONFLICT);
	store_close(s);
	ck_assert_str_eq(q_text("SELECT status FROM payments WHERE "
	    "payment_request_id = 'PR1'"), "SUCCESS");
	ck_assert_str_eq(q_text("SELECT status FROM payments WHERE "
	    "payment_request_id = 'PR2'"), "FAIL");
	ck_assert_int_eq(q_int("SELECT count(*) FROM notifications WHERE "
	    "outcome = 'conflict'"), 2);
	ck_assert_int_eq(q_int("SELECT count(*) FROM events"), 2);
	free(ok);
	free(ko);
	free(ko2);
	free(ok2);
}
END_TEST

START_TEST(test_payment_id_mismatch_conflict)
{
	struct store *s = open_store(1);
	char *a = payment_body("PR1", "P1", "PAYMENT_PENDING", "S", NULL);
	char *b = payment_body("PR1", "P-OTHER", "PAYMENT_RESULT", "S", NULL);

	ck_assert_int_eq(deliver(s, a, NULL), STORE_APPLIED);
	ck_assert_int_eq(deliver(s, b, NULL), STORE_CONFLICT);
	store_close(s);
	ck_assert_str_eq(q_text("SELECT payment_id || status FROM payments"),
	    "P1PENDING");
	free(a);
	free(b);
}
END_TEST

START_TEST(test_same_state_other_body_duplicate)
{
	struct store *s = open_store(1);
	char *a = payment_body("PR1", "P1", "PAYMENT_RESULT", "S", NULL);
	char *b = payment_body("PR1", "P1", "PAYMENT_RESULT", "S",
	    ",\"extra\":true");

	ck_assert_int_eq(deliver(s, a, NULL), STORE_APPLIED);
	ck_assert_int_eq(deliver(s, b, NULL), STORE_DUPLICATE);
	store_close(s);
	ck_assert_int_eq(q_int("SELECT count(*) FROM notifications"), 2);
	ck_assert_int_eq(q_int("SELECT count(*) FROM events"), 1);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_capture_before_payment)
{
	struct store *s = open_store(1);
	char *c = capture_body("CR1", "P1", "S");
	char *p = payment_body("PR1", "P1", "PAYMENT_RESULT", "S", NULL);
	char *cf = capture_body("CR1", "P1", "F");

	ck_assert_int_eq(deliver(s, c, NULL), STORE_APPLIED);
	ck_assert_int_eq(q_int("SELECT count(*) FROM payment_captures"), 0);
	ck_assert_int_eq(deliver(s, p, NULL), STORE_APPLIED);
	/* Capture status never regresses either. */
	ck_assert_int_eq(deliver(s, cf, NULL), STORE_CONFLICT);
	store_close(s);
	ck_assert_str_eq(q_text("SELECT payment_status || '/' || capture_status"
	    " || '/' || capture_request_id FROM payment_captures"),
	    "SUCCESS/SUCCESS/CR1");
	ck_assert_int_eq(q_int("SELECT count(*) FROM events WHERE "
	    "object_type = 'capture' AND object_id = 'CR1'"), 1);
	free(c);
	free(p);
	free(cf);
}
END_TEST

START_TEST(test_archived)
{
	struct store *s = open_store(1);
	const char *refund = "{\"notifyType\":\"REFUND_RESULT\",\"refundId\":"
	    "\"R1\",\"result\":{\"resultStatus\":\"S\"}}";
	const char *junk = "this is not JSON";

	ck_assert_int_eq(deliver(s, refund, NULL), STORE_ARCHIVED);
	ck_assert_int_eq(deliver(s, junk, NULL), STORE_ARCHIVED);
	store_close(s);
	ck_assert_int_eq(q_int("SELECT count(*) FROM notifications WHERE "
	    "outcome = 'archived'"), 2);
	ck_assert_str_eq(q_text("SELECT notify_type FROM notifications WHERE "
	    "id = 1"), "REFUND_RESULT");
	ck_assert_str_eq(q_text("SELECT archive_reason FROM notifications "
	    "WHERE id = 2"), "not_json");
	ck_assert_str_eq(q_text("SELECT CAST(body AS TEXT) FROM notifications "
	    "WHERE id = 2"), junk);
	ck_assert_int_eq(q_int("SELECT count(*) FROM payments"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM events"), 0);
}
END_TEST

/*
 * A notifyRefund as Antom sends it: no paymentId or paymentRequestId
 * (docs/protocol.md section 4.5); the application links it to its
 * payment (link_refund).
 */
static char *
refund_body(const char *rrid, const char *rs, const char *value)
{
	char *b;

	ck_assert_int_gt(asprintf(&b, "{\"notifyType\":\"REFUND_RESULT\","
	    "\"result\":{\"resultCode\":\"X\",\"resultStatus\":\"%s\"},"
	    "\"refundStatus\":\"%s\",\"refundRequestId\":\"%s\",\"refundId\":"
	    "\"RF-%s\",\"refundAmount\":{\"value\":\"%s\","
	    "\"currency\":\"SGD\"}}", rs, strcmp(rs, "S") == 0 ? "SUCCESS" :
	    "FAIL", rrid, rrid, value), 0);
	return b;
}

/* A dispute notification of this stage; extra is more members or "". */
static char *
dispute_body(const char *did, const char *pid, const char *stage,
    const char *extra)
{
	char *b;

	ck_assert_int_gt(asprintf(&b, "{\"disputeNotificationType\":\"%s\","
	    "\"disputeId\":\"%s\",\"paymentId\":\"%s\",\"paymentRequestId\":"
	    "\"PR-%s\"%s}", stage, did, pid, pid, extra), 0);
	return b;
}

/* A refund may come before anything else about its payment. */
START_TEST(test_refund)
{
	struct store *s = open_store(1);
	char *r1 = refund_body("RR1", "S", "1000");
	char *r1f = refund_body("RR1", "F", "1000");
	char *r2 = refund_body("RR2", "F", "500");
	char *r3 = refund_body("RR3", "S", "200");
	char *p = payment_body("PR1", "P1", "PAYMENT_RESULT", "S", NULL);
	struct store_result res;

	/* Linked before Antom says anything, and after (below). */
	link_refund("CLIENT_A", "RR1", "P1", 1);
	ck_assert_int_eq(deliver(s, r1, NULL), STORE_APPLIED);
	ck_assert_int_eq(deliver(s, r1, &res), STORE_DUPLICATE);
	ck_assert_int_eq(res.repeat, 1);
	ck_assert_int_eq(deliver(s, r2, NULL), STORE_APPLIED);
	ck_assert_int_eq(deliver(s, p, NULL), STORE_APPLIED);
	/* Final means final: a FAIL for a refund that succeeded is a conflict. */
	ck_assert_int_eq(deliver(s, r1f, NULL), STORE_CONFLICT);
	ck_assert_int_eq(deliver(s, r3, NULL), STORE_APPLIED);
	/* Another client's refund of the same request id is its own. */
	ck_assert_int_eq(deliver_as(s, "CLIENT_B", r1f, NULL), STORE_APPLIED);
	store_close(s);
	link_refund("CLIENT_A", "RR2", "P1", 1);
	link_refund("CLIENT_A", "RR3", "PR1", 0);
	/* CLIENT_B's link names a payment only CLIENT_A has. */
	link_refund("CLIENT_B", "RR1", "PR1", 0);
	ck_assert_str_eq(q_text("SELECT status || '/' || refund_id || '/' ||"
	    " amount_value || currency || '/' || link || '/' ||"
	    " payment_request_id || '/' || payment_id FROM refund_status"
	    " WHERE client_id = 'CLIENT_A' AND refund_request_id = 'RR1'"),
	    "SUCCESS/RF-RR1/1000SGD/linked/PR1/P1");
	ck_assert_str_eq(q_text("SELECT link FROM refund_status"
	    " WHERE client_id = 'CLIENT_B'"), "payment_unknown");
	/* The payment each link names, by paymentId or paymentRequestId. */
	ck_assert_str_eq(q_text("SELECT group_concat(client_id || ':' ||"
	    " refund_request_id || ':' || payment_request_id || ':' ||"
	    " payment_id, ' ') FROM (SELECT * FROM refund_payment ORDER BY"
	    " client_id, refund_request_id) t"),
	    "CLIENT_A:RR1:PR1:P1 CLIENT_A:RR2:PR1:P1 CLIENT_A:RR3:PR1:P1");
	ck_assert_str_eq(q_text("SELECT status FROM refunds"
	    " WHERE client_id = 'CLIENT_B'"), "FAIL");
	/* Only the refunds that succeeded count. */
	ck_assert_int_eq(q_int("SELECT refunded_amount_value FROM payment_status"
	    " WHERE payment_request_id = 'PR1'"), 1200);
	ck_assert_int_eq(q_int("SELECT count(*) FROM events WHERE object_type ="
	    " 'refund'"), 4);
	ck_assert_int_eq(q_int("SELECT count(*) FROM notifications WHERE kind ="
	    " 'refund' AND outcome = 'conflict'"), 1);
	free(r1);
	free(r1f);
	free(r2);
	free(r3);
	free(p);
}
END_TEST

/*
 * resultStatus U is not final (docs/protocol.md section 4.1): a capture
 * or a refund may be PENDING (schema 8 widened their CHECKs), moves on to
 * its result, never back; and a PENDING one is never added to its
 * payment's sums.  A refund's result is its refundStatus: S with FAIL is
 * a failed refund.
 */
START_TEST(test_pending_capture_refund)
{
	struct store *s = open_store(1);
	char *pay = payment_body("PR1", "P1", "PAYMENT_RESULT", "S", NULL);
	char *cap_u = capture_body("CR1", "P1", "U");
	char *cap_s = capture_body("CR1", "P1", "S");
	const char *ref_u = "{\"notifyType\":\"REFUND_RESULT\",\"result\":"
	    "{\"resultCode\":\"UNKNOWN_EXCEPTION\",\"resultStatus\":\"U\"},"
	    "\"refundRequestId\":\"RR1\",\"refundId\":\"RF1\","
	    "\"refundAmount\":{\"value\":\"100\",\"currency\":\"SGD\"}}";
	const char *ref_sf = "{\"notifyType\":\"REFUND_RESULT\",\"result\":"
	    "{\"resultCode\":\"SUCCESS\",\"resultStatus\":\"S\"},"
	    "\"refundRequestId\":\"RR1\",\"refundId\":\"RF1\","
	    "\"refundAmount\":{\"value\":\"100\",\"currency\":\"SGD\"},"
	    "\"refundStatus\":\"FAIL\"}";

	ck_assert_int_eq(deliver(s, pay, NULL), STORE_APPLIED);
	ck_assert_int_eq(deliver(s, cap_u, NULL), STORE_APPLIED);
	ck_assert_int_eq(deliver(s, ref_u, NULL), STORE_APPLIED);
	link_refund("CLIENT_A", "RR1", "PR1", 0);
	ck_assert_str_eq(q_text("SELECT (SELECT status FROM captures) || '/' ||"
	    " (SELECT status FROM refunds) || '/' || captured_amount_value ||"
	    " '/' || refunded_amount_value || '/' || mismatched_count FROM"
	    " payment_status"), "PENDING/PENDING/0/0/0");
	ck_assert_int_eq(deliver(s, cap_s, NULL), STORE_APPLIED);
	ck_assert_int_eq(deliver(s, ref_sf, NULL), STORE_APPLIED);
	/* The U again, a new notification (another body): late, ignored. */
	{
		char *late = capture_body("CR1", "P1", "U");
		char *l2;

		ck_assert_int_gt(asprintf(&l2, "%.*s,\"captureTime\":\"x\"}",
		    (int)strlen(late) - 1, late), 0);
		ck_assert_int_eq(deliver(s, l2, NULL), STORE_IGNORED);
		free(late);
		free(l2);
	}
	store_close(s);
	ck_assert_str_eq(q_text("SELECT (SELECT status FROM captures) || '/' ||"
	    " (SELECT status FROM refunds) || '/' || captured_amount_value ||"
	    " '/' || refunded_amount_value FROM payment_status"),
	    "SUCCESS/FAIL/4200/0");
	ck_assert_str_eq(q_text("SELECT group_concat(object_type || ':' ||"
	    " coalesce(old_status, '-') || '>' || new_status, ' ') FROM (SELECT"
	    " * FROM events ORDER BY seq) t"), "payment:->SUCCESS"
	    " capture:->PENDING refund:->PENDING capture:PENDING>SUCCESS"
	    " refund:PENDING>FAIL");
	free(pay);
	free(cap_u);
	free(cap_s);
}
END_TEST

/* A refund id bound to another Antom refund id is a conflict. */
START_TEST(test_refund_id_mismatch)
{
	struct store *s = open_store(1);
	char *r1 = refund_body("RR1", "S", "1000");
	char *other;

	ck_assert_int_gt(asprintf(&other, "{\"notifyType\":\"REFUND_RESULT\","
	    "\"result\":{\"resultStatus\":\"S\"},\"refundRequestId\":\"RR1\","
	    "\"refundId\":\"RF-OTHER\"}"), 0);
	ck_assert_int_eq(deliver(s, r1, NULL), STORE_APPLIED);
	ck_assert_int_eq(deliver(s, other, NULL), STORE_CONFLICT);
	store_close(s);
	ck_assert_str_eq(q_text("SELECT refund_id FROM refunds"), "RF-RR1");
	free(r1);
	free(other);
}
END_TEST

/* Stages only move forward; a late earlier stage fills in what it knows. */
START_TEST(test_dispute_order)
{
	struct store *s = open_store(1);
	char *judged = dispute_body("D1", "P1", "DISPUTE_JUDGED",
	    ",\"disputeJudgedResult\":\"ACCEPT_BY_CUSTOMER\"");
	char *created = dispute_body("D1", "P1", "DISPUTE_CREATED",
	    ",\"disputeAmount\":{\"value\":\"4200\",\"currency\":\"SGD\"},"
	    "\"disputeReasonCode\":\"4853\",\"disputeJudgedResult\":\"WRONG\"");
	char *supplied = dispute_body("D1", "P1", "DEFENSE_SUPPLIED", "");
	char *cancelled = dispute_body("D1", "P1", "DISPUTE_CANCELLED", "");
	char *again = dispute_body("D1", "P1", "DISPUTE_JUDGED",
	    ",\"disputeJudgedTime\":\"2025-02-01T00:00:00Z\"");
	char *elsewhere = dispute_body("D1", "P2", "DISPUTE_JUDGED", "");

	ck_assert_int_eq(deliver(s, judged, NULL), STORE_APPLIED);
	ck_assert_int_eq(deliver(s, created, NULL), STORE_IGNORED);
	ck_assert_int_eq(deliver(s, supplied, NULL), STORE_IGNORED);
	ck_assert_int_eq(deliver(s, cancelled, NULL), STORE_CONFLICT);
	ck_assert_int_eq(deliver(s, again, NULL), STORE_DUPLICATE);
	ck_assert_int_eq(deliver(s, elsewhere, NULL), STORE_CONFLICT);
	ck_assert_int_eq(deliver(s, created, NULL), STORE_DUPLICATE);
	store_close(s);
	/* The judgement stays; the amount and reason came from CREATED. */
	ck_assert_str_eq(q_text("SELECT stage || '/' || judged_result || '/' ||"
	    " amount_value || currency || '/' || reason_code || '/' ||"
	    " payment_id FROM disputes"),
	    "DISPUTE_JUDGED/ACCEPT_BY_CUSTOMER/4200SGD/4853/P1");
	ck_assert_int_eq(q_int("SELECT count(*) FROM events WHERE object_type ="
	    " 'dispute'"), 1);
	/* The whole history of the dispute is in notifications. */
	ck_assert_int_eq(q_int("SELECT count(*) FROM notifications WHERE kind ="
	    " 'dispute' AND object_id = 'D1'"), 6);
	free(judged);
	free(created);
	free(supplied);
	free(cancelled);
	free(again);
	free(elsewhere);
}
END_TEST

START_TEST(test_dispute_forward)
{
	static const char *const stages[] = { "DISPUTE_CREATED",
	    "DEFENSE_DUE_ALERT", "DEFENSE_SUPPLIED", "DISPUTE_ACCEPTED",
	    "DISPUTE_JUDGED" };
	struct store *s = open_store(1);
	char *b;
	size_t i;

	for (i = 0; i < sizeof(stages) / sizeof(stages[0]); i++) {
		b = dispute_body("D2", "P1", stages[i],
		    i == 0 ? ",\"defendable\":true" : "");
		ck_assert_int_eq(deliver(s, b, NULL), STORE_APPLIED);
		free(b);
	}
	store_close(s);
	ck_assert_str_eq(q_text("SELECT group_concat(coalesce(old_status, '-')"
	    " || '>' || new_status, ' ') FROM (SELECT * FROM events ORDER BY"
	    " seq) t"), "->DISPUTE_CREATED DISPUTE_CREATED>DEFENSE_DUE_ALERT"
	    " DEFENSE_DUE_ALERT>DEFENSE_SUPPLIED DEFENSE_SUPPLIED>DISPUTE_ACCEPTED"
	    " DISPUTE_ACCEPTED>DISPUTE_JUDGED");
	ck_assert_str_eq(q_text("SELECT stage || '/' || defendable FROM"
	    " disputes"), "DISPUTE_JUDGED/true");
}
END_TEST

START_TEST(test_vaulting)
{
	struct store *s = open_store(1);
	const char *pending = "{\"vaultingRequestId\":\"V1\",\"result\":"
	    "{\"resultStatus\":\"S\"},\"vaultingStatus\":\"PROCESSING\"}";
	const char *ok = "{\"vaultingRequestId\":\"V1\",\"result\":"
	    "{\"resultStatus\":\"S\"},\"paymentMethodDetail\":{\"card\":"
	    "{\"cardToken\":\"TOK1\",\"cardBrand\":\"VISA\",\"cardNo\":"
	    "\"411111******1111\"}}}";
	const char *fail = "{\"vaultingRequestId\":\"V1\",\"result\":"
	    "{\"resultStatus\":\"F\",\"resultCode\":\"X\"}}";

	ck_assert_int_eq(deliver(s, ok, NULL), STORE_APPLIED);
	ck_assert_int_eq(deliver(s, pending, NULL), STORE_IGNORED);
	ck_assert_int_eq(deliver(s, fail, NULL), STORE_CONFLICT);
	store_close(s);
	ck_assert_str_eq(q_text("SELECT status || '/' || card_token || '/' ||"
	    " card_brand || '/' || card_no_masked FROM vaultings"),
	    "SUCCESS/TOK1/VISA/411111******1111");
	ck_assert_str_eq(q_text("SELECT new_status FROM events WHERE"
	    " object_type = 'vaulting'"), "SUCCESS");
}
END_TEST

/* A payment notification for this amount; extra is more members or "". */
static char *
pay_amount_body(const char *prid, const char *type, const char *rs,
    const char *value, const char *currency, const char *extra)
{
	char *b;

	ck_assert_int_gt(asprintf(&b, "{\"notifyType\":\"%s\",\"result\":"
	    "{\"resultCode\":\"X\",\"resultStatus\":\"%s\"},"
	    "\"paymentRequestId\":\"%s\",\"paymentId\":\"P-%s\","
	    "\"paymentAmount\":{\"value\":\"%s\",\"currency\":\"%s\"}%s}",
	    type, rs, prid, prid, value, currency, extra), 0);
	return b;
}

/* The discrepancy of the notifications row with this id, or "NULL". */
static const char *
discrepancy_of(int64_t id)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT coalesce(discrepancy, 'NULL') FROM"
	    " notifications WHERE id = %lld", (long long)id);
	return q_text(sql);
}

/* Deliver body: its outcome is want, and its discrepancy note ("NULL"). */
static void
deliver_noted(struct store *s, const char *body, enum store_outcome want,
    const char *note)
{
	struct store_result r;

	ck_assert_str_eq(store_outcome_str(deliver(s, body, &r)),
	    store_outcome_str(want));
	ck_assert_str_eq(discrepancy_of(r.notification_id), note);
}

/*
 * A result contradicting the final one held in amount or currency is a
 * conflict, not a duplicate: recorded with what it contradicts, never
 * applied.
 */
START_TEST(test_final_amount_conflict)
{
	struct store *s = open_store(1);
	char *ok = pay_amount_body("PR1", "PAYMENT_RESULT", "S", "4200", "SGD",
	    "");
	char *more = pay_amount_body("PR1", "PAYMENT_RESULT", "S", "4300",
	    "SGD", "");
	char *usd = pay_amount_body("PR1", "PAYMENT_RESULT", "S", "4200", "USD",
	    "");
	char *same = pay_amount_body("PR1", "PAYMENT_RESULT", "S", "4200",
	    "SGD", ",\"extra\":1");
	char *fail = pay_amount_body("PR1", "PAYMENT_RESULT", "F", "1", "JPY",
	    "");

	deliver_noted(s, ok, STORE_APPLIED, "NULL");
	deliver_noted(s, more, STORE_CONFLICT, "amount 4200 SGD -> 4300 SGD");
	deliver_noted(s, usd, STORE_CONFLICT, "amount 4200 SGD -> 4200 USD");
	/* What agrees is still a duplicate, with nothing to say. */
	deliver_noted(s, same, STORE_DUPLICATE, "NULL");
	deliver_noted(s, fail, STORE_CONFLICT,
	    "status SUCCESS -> FAIL; amount 4200 SGD -> 1 JPY");
	store_close(s);
	ck_assert_str_eq(q_text("SELECT status || '/' || amount_value || ' ' ||"
	    " currency || '/' || notification_id FROM payments"),
	    "SUCCESS/4200 SGD/1");
	ck_assert_int_eq(q_int("SELECT count(*) FROM events"), 1);
	free(ok);
	free(more);
	free(usd);
	free(same);
	free(fail);
}
END_TEST

/* A replay judges again, and records what it contradicts now. */
START_TEST(test_replay_notes_discrepancy)
{
	struct store *s = open_store(1);
	char *ok = pay_amount_body("PR1", "PAYMENT_RESULT", "S", "4200", "SGD",
	    "");
	char *jpy = pay_amount_body("PR1", "PAYMENT_RESULT", "S", "1", "JPY",
	    "");
	struct store_result r;

	deliver_noted(s, ok, STORE_APPLIED, "NULL");
	deliver_noted(s, jpy, STORE_CONFLICT, "amount 4200 SGD -> 1 JPY");
	store_close(s);
	exec_sql("UPDATE notifications SET discrepancy = NULL");
	s = open_store(1);
	ck_assert_int_eq(store_replay(s, 2, &r), STORE_REPLAY_DONE);
	ck_assert_int_eq(r.outcome, STORE_CONFLICT);
	store_close(s);
	ck_assert_str_eq(discrepancy_of(2), "amount 4200 SGD -> 1 JPY");
	ck_assert_str_eq(q_text("SELECT amount_value || currency FROM"
	    " payments"), "4200SGD");
	free(ok);
	free(jpy);
}
END_TEST

/*
 * An amount or currency that changes between PENDING and the result is
 * applied, as the result says, and the result's row says from what; a
 * PENDING of another amount arriving late is ignored, and says so too.
 */
START_TEST(test_pending_amount_discrepancy)
{
	static const struct {
		const char		*type, *value, *currency, *extra;
		enum store_outcome	 want;
		const char		*note;
	} steps[] = {
		{ "PAYMENT_PENDING", "4200", "SGD", "", STORE_APPLIED, "NULL" },
		{ "PAYMENT_PENDING", "4100", "SGD", "", STORE_DUPLICATE,
		  "amount 4200 SGD -> 4100 SGD" },
		{ "PAYMENT_RESULT", "1", "JPY", "", STORE_APPLIED,
		  "amount 4200 SGD -> 1 JPY" },
		{ "PAYMENT_PENDING", "999", "SGD", ",\"late\":1", STORE_IGNORED,
		  "amount 1 JPY -> 999 SGD" },
	};
	struct store *s = open_store(1);
	char *b;
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		b = pay_amount_body("PR1", steps[i].type, "S", steps[i].value,
		    steps[i].currency, steps[i].extra);
		deliver_noted(s, b, steps[i].want, steps[i].note);
		free(b);
	}
	store_close(s);
	ck_assert_str_eq(q_text("SELECT status || '/' || amount_value || ' ' ||"
	    " currency FROM payments"), "SUCCESS/1 JPY");
	ck_assert_int_eq(q_int("SELECT count(*) FROM events"), 2);
}
END_TEST

/*
 * A second judgement that says otherwise contradicts the first: a
 * conflict, and the first judgement stays.  An earlier stage with another
 * amount only fills in, and says so.
 */
START_TEST(test_dispute_judged_conflict)
{
	struct store *s;
	char *a = dispute_body("D1", "P1", "DISPUTE_JUDGED",
	    ",\"disputeJudgedResult\":\"ACCEPT_BY_CUSTOMER\","
	    "\"disputeAmount\":{\"value\":\"4200\",\"currency\":\"SGD\"},"
	    "\"disputeJudgedAmount\":{\"value\":\"4200\",\"currency\":"
	    "\"SGD\"}");
	char *b = dispute_body("D1", "P1", "DISPUTE_JUDGED",
	    ",\"disputeJudgedResult\":\"ACCEPT_BY_MERCHANT\"");
	char *c = dispute_body("D1", "P1", "DISPUTE_JUDGED",
	    ",\"disputeJudgedAmount\":{\"value\":\"100\",\"currency\":"
	    "\"SGD\"}");
	char *created = dispute_body("D1", "P1", "DISPUTE_CREATED",
	    ",\"disputeAmount\":{\"value\":\"5000\",\"currency\":\"SGD\"}");

	s = open_store(1);
	ck_assert_int_eq(deliver(s, a, NULL), STORE_APPLIED);
	deliver_noted(s, b, STORE_CONFLICT,
	    "judged_result ACCEPT_BY_CUSTOMER -> ACCEPT_BY_MERCHANT");
	deliver_noted(s, c, STORE_CONFLICT,
	    "judged_amount 4200 SGD -> 100 SGD");
	deliver_noted(s, created, STORE_IGNORED, "amount 4200 SGD -> 5000 SGD");
	store_close(s);
	ck_assert_str_eq(q_text("SELECT stage || '/' || judged_result || '/' ||"
	    " judged_amount_value || '/' || amount_value FROM disputes"),
	    "DISPUTE_JUDGED/ACCEPT_BY_CUSTOMER/4200/4200");
	free(a);
	free(b);
	free(c);
	free(created);
}
END_TEST

/*
 * An id once set never changes, for every kind and every id its row
 * keeps: a notification naming another is a conflict that says which,
 * whatever its status, and the row keeps the first.  Vaultings carry no
 * Antom id.
 */
START_TEST(test_ids_never_change)
{
	static const struct {
		const char *first, *other, *note;
	} cases[] = {
		{ "{\"notifyType\":\"PAYMENT_PENDING\",\"result\":"
		  "{\"resultCode\":\"X\",\"resultStatus\":\"S\"},\"paymentRequestId\":\"PR1\","
		  "\"paymentId\":\"P1\"}",
		  "{\"notifyType\":\"PAYMENT_PENDING\",\"result\":"
		  "{\"resultCode\":\"X\",\"resultStatus\":\"S\"},\"paymentRequestId\":\"PR1\","
		  "\"paymentId\":\"P2\"}",
		  "payment_id P1 -> P2" },
		{ "{\"notifyType\":\"CAPTURE_RESULT\",\"result\":"
		  "{\"resultCode\":\"X\",\"resultStatus\":\"S\"},\"captureRequestId\":\"CR1\","
		  "\"captureId\":\"C1\",\"paymentId\":\"P1\"}",
		  "{\"notifyType\":\"CAPTURE_RESULT\",\"result\":"
		  "{\"resultCode\":\"X\",\"resultStatus\":\"S\"},\"captureRequestId\":\"CR1\","
		  "\"captureId\":\"C2\",\"paymentId\":\"P2\"}",
		  "capture_id C1 -> C2; payment_id P1 -> P2" },
		{ "{\"notifyType\":\"REFUND_RESULT\",\"result\":"
		  "{\"resultCode\":\"X\",\"resultStatus\":\"S\"},\"refundRequestId\":\"RR1\","
		  "\"refundId\":\"R1\",\"paymentRequestId\":\"PR1\"}",
		  "{\"notifyType\":\"REFUND_RESULT\",\"result\":"
		  "{\"resultCode\":\"X\",\"resultStatus\":\"S\"},\"refundRequestId\":\"RR1\","
		  "\"paymentId\":\"P1\",\"paymentRequestId\":\"PR2\"}",
		  "payment_request_id PR1 -> PR2" },
		/* DISPUTE_ACCEPTED used to overwrite the paymentRequestId. */
		{ "{\"disputeNotificationType\":\"DISPUTE_CREATED\","
		  "\"disputeId\":\"D1\",\"paymentId\":\"P1\","
		  "\"paymentRequestId\":\"PR1\",\"captureId\":\"C1\"}",
		  "{\"disputeNotificationType\":\"DISPUTE_ACCEPTED\","
		  "\"disputeId\":\"D1\",\"paymentId\":\"P1\","
		  "\"paymentRequestId\":\"PR2\",\"captureId\":\"C2\"}",
		  "payment_request_id PR1 -> PR2; capture_id C1 -> C2" },
	};
	struct store *s = open_store(1);
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		deliver_noted(s, cases[i].first, STORE_APPLIED, "NULL");
		deliver_noted(s, cases[i].other, STORE_CONFLICT, cases[i].note);
	}
	store_close(s);
	ck_assert_str_eq(q_text("SELECT payment_id FROM payments"), "P1");
	ck_assert_str_eq(q_text("SELECT capture_id || payment_id FROM"
	    " captures"), "C1P1");
	/* Set once, from what the conflict did not bring: still unset. */
	ck_assert_str_eq(q_text("SELECT refund_id || payment_request_id ||"
	    " coalesce(payment_id, '-') FROM refunds"), "R1PR1-");
	ck_assert_str_eq(q_text("SELECT stage || payment_request_id ||"
	    " capture_id FROM disputes"), "DISPUTE_CREATEDPR1C1");
	ck_assert_int_eq(q_int("SELECT count(*) FROM events"), 4);
}
END_TEST

/*
 * payment_status sums only the captures and refunds that succeeded, in
 * the payment's currency, of a payment that has not failed; each other
 * successful one is counted in mismatched_count, and payment_captures
 * says why of each capture.
 */
START_TEST(test_sums_one_currency)
{
	static const struct {
		const char *kind, *rs, *id, *pid, *value, *currency;
	} moves[] = {
		{ "capture", "S", "CR1", "P-PR1", "4200", "SGD" },
		{ "capture", "S", "CR2", "P-PR1", "100", "USD" },
		{ "capture", "F", "CR3", "P-PR1", "100", "JPY" },
		{ "refund", "S", "RR1", "P-PR1", "1000", "SGD" },
		{ "refund", "S", "RR2", "P-PR1", "100", "USD" },
		{ "refund", "F", "RR3", "P-PR1", "50", "SGD" },
		/* Succeeded, on a payment that failed. */
		{ "capture", "S", "CR4", "P-PR2", "500", "SGD" },
		{ "refund", "S", "RR4", "P-PR2", "500", "SGD" },
	};
	struct store *s = open_store(1);
	char *ok = pay_amount_body("PR1", "PAYMENT_RESULT", "S", "4200", "SGD",
	    "");
	char *ko = pay_amount_body("PR2", "PAYMENT_RESULT", "F", "500", "SGD",
	    "");
	char *b;
	size_t i;

	ck_assert_int_eq(deliver(s, ok, NULL), STORE_APPLIED);
	ck_assert_int_eq(deliver(s, ko, NULL), STORE_APPLIED);
	for (i = 0; i < sizeof(moves) / sizeof(moves[0]); i++) {
		/*
		 * CAPTURE_RESULT with captureAmount and paymentId, or
		 * REFUND_RESULT without, linked by the application.
		 */
		ck_assert_int_gt(asprintf(&b, "{\"notifyType\":\"%s_RESULT\","
		    "\"result\":{\"resultStatus\":\"%s\"},\"%sRequestId\":"
		    "\"%s\"%s%s%s,\"%sAmount\":{\"value\":\"%s\","
		    "\"currency\":\"%s\"}}", moves[i].kind[0] == 'c' ?
		    "CAPTURE" : "REFUND", moves[i].rs, moves[i].kind,
		    moves[i].id, moves[i].kind[0] == 'c' ? ",\"paymentId\":\"" :
		    ",\"refundStatus\":\"", moves[i].kind[0] == 'c' ?
		    moves[i].pid : moves[i].rs[0] == 'S' ? "SUCCESS" : "FAIL",
		    "\"", moves[i].kind, moves[i].value, moves[i].currency), 0);
		ck_assert_int_eq(deliver(s, b, NULL), STORE_APPLIED);
		free(b);
		if (moves[i].kind[0] == 'r')
			link_refund("CLIENT_A", moves[i].id, moves[i].pid, 1);
	}
	store_close(s);
	ck_assert_str_eq(q_text("SELECT group_concat(payment_request_id || ':'"
	    " || status || '/' || captured_amount_value || '/' ||"
	    " refunded_amount_value || '/' || mismatched_count, ' ') FROM"
	    " (SELECT * FROM payment_status ORDER BY payment_request_id) t"),
	    "PR1:SUCCESS/4200/1000/2 PR2:FAIL/0/0/2");
	ck_assert_str_eq(q_text("SELECT group_concat(capture_request_id || ':'"
	    " || coalesce(mismatch, '-'), ' ') FROM (SELECT * FROM"
	    " payment_captures ORDER BY capture_request_id) t"),
	    "CR1:- CR2:currency CR3:- CR4:payment_failed");
	free(ok);
	free(ko);
}
END_TEST

/* "What happened to this order": one query over one view. */
START_TEST(test_payment_timeline)
{
	struct store *s = open_store(1);
	char *pend = payment_body("PR1", "P1", "PAYMENT_PENDING", "S", NULL);
	char *pay = payment_body("PR1", "P1", "PAYMENT_RESULT", "S", NULL);
	char *cap = capture_body("CR1", "P1", "S");
	char *ref = refund_body("RR1", "S", "4200");
	char *dis = dispute_body("D1", "P1", "DISPUTE_CREATED", "");
	char *other = payment_body("PR2", "P2", "PAYMENT_RESULT", "S", NULL);
	char *ocap = capture_body("CR2", "P2", "S");

	/* Out of order, and another payment beside it. */
	link_refund("CLIENT_A", "RR1", "PR1", 0);
	ck_assert_int_eq(deliver(s, ref, NULL), STORE_APPLIED);
	ck_assert_int_eq(deliver(s, other, NULL), STORE_APPLIED);
	ck_assert_int_eq(deliver(s, pend, NULL), STORE_APPLIED);
	ck_assert_int_eq(deliver(s, cap, NULL), STORE_APPLIED);
	ck_assert_int_eq(deliver(s, ocap, NULL), STORE_APPLIED);
	ck_assert_int_eq(deliver(s, pay, NULL), STORE_APPLIED);
	ck_assert_int_eq(deliver(s, dis, NULL), STORE_APPLIED);
	/* The same ids from another client are another payment. */
	ck_assert_int_eq(deliver_as(s, "CLIENT_B", pay, NULL), STORE_APPLIED);
	ck_assert_int_eq(deliver_as(s, "CLIENT_B", cap, NULL), STORE_APPLIED);
	store_close(s);
	ck_assert_str_eq(q_text("SELECT group_concat(object_type || ':' ||"
	    " new_status, ' ') FROM (SELECT * FROM payment_timeline WHERE"
	    " client_id = 'CLIENT_A' AND payment_request_id = 'PR1' ORDER BY"
	    " seq) t"), "refund:SUCCESS payment:PENDING capture:SUCCESS"
	    " payment:SUCCESS dispute:DISPUTE_CREATED");
	ck_assert_str_eq(q_text("SELECT status || '/' || captured_amount_value"
	    " || '/' || refunded_amount_value || '/' || dispute_count || '/' ||"
	    " dispute_stage FROM payment_status WHERE payment_request_id ="
	    " 'PR1'"), "SUCCESS/4200/4200/1/DISPUTE_CREATED");
	ck_assert_str_eq(q_text("SELECT coalesce(dispute_stage, '-') || '/' ||"
	    " dispute_count FROM payment_status WHERE payment_request_id ="
	    " 'PR2'"), "-/0");
	ck_assert_str_eq(q_text("SELECT group_concat(object_type, ' ') FROM"
	    " (SELECT * FROM payment_timeline WHERE client_id = 'CLIENT_B' AND"
	    " payment_request_id = 'PR1' ORDER BY seq) t"), "payment capture");
	free(pend);
	free(pay);
	free(cap);
	free(ref);
	free(dis);
	free(other);
	free(ocap);
}
END_TEST

/*
 * payment_timeline and antomctl inspect find events through their
 * notification (schema 3): every event's object and client must be its
 * notification's, for every kind, applied in order or out of it.
 */
START_TEST(test_event_matches_notification)
{
	struct store *s = open_store(1);
	char *b[] = {
		refund_body("RR1", "S", "100"),
		capture_body("CR1", "P1", "S"),
		payment_body("PR1", "P1", "PAYMENT_PENDING", "S", NULL),
		payment_body("PR1", "P1", "PAYMENT_RESULT", "S", NULL),
		dispute_body("D1", "P1", "DISPUTE_JUDGED", ""),
		dispute_body("D1", "P1", "DISPUTE_CREATED", ""),
		strdup("{\"vaultingRequestId\":\"VR1\",\"result\":"
		    "{\"resultStatus\":\"S\"},\"vaultingStatus\":"
		    "\"PROCESSING\"}"),
		strdup("{\"vaultingRequestId\":\"VR1\",\"result\":"
		    "{\"resultStatus\":\"S\"}}"),
	};
	size_t i;

	for (i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
		deliver(s, b[i], NULL);
		deliver_as(s, "CLIENT_B", b[i], NULL);
	}
	store_close(s);
	ck_assert_int_ge(q_int("SELECT count(*) FROM events"), 10);
	ck_assert_int_eq(q_int("SELECT count(*) FROM events e LEFT JOIN"
	    " notifications n ON n.id = e.notification_id WHERE n.id IS NULL"
	    " OR n.object_id IS DISTINCT FROM e.object_id OR n.client_id IS"
	    " DISTINCT FROM e.client_id OR n.kind IS DISTINCT FROM"
	    " e.object_type"), 0);
	for (i = 0; i < sizeof(b) / sizeof(b[0]); i++)
		free(b[i]);
}
END_TEST

/*
 * A replay rewrites a row's kind and object id only while the row has no
 * event: an event is found through what its notification says.  A row
 * with events that names another object than its body is not replayed at
 * all, or the new event would be filed where no query finds it.
 */
START_TEST(test_replay_keeps_object_of_events)
{
	struct store *s = open_store(1);
	char *pay = payment_body("PR1", "P1", "PAYMENT_RESULT", "S", NULL);
	struct store_result r;

	ck_assert_int_eq(deliver(s, pay, &r), STORE_APPLIED);
	store_close(s);
	/* As an older version might have read it, payment row and all. */
	exec_sql("UPDATE notifications SET object_id = 'OLD' WHERE id = 1;"
	    "UPDATE events SET object_id = 'OLD' WHERE notification_id = 1;"
	    "UPDATE payments SET payment_request_id = 'OLD'");
	s = open_store(1);
	ck_assert_int_eq(store_replay(s, 1, &r), STORE_REPLAY_FAILED);
	store_close(s);
	ck_assert_str_eq(q_text("SELECT object_id FROM notifications WHERE"
	    " id = 1"), "OLD");
	ck_assert_int_eq(q_int("SELECT count(*) FROM events"), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM payments"), 1);
	/* Where the row and its body agree, the replay runs. */
	exec_sql("UPDATE notifications SET object_id = 'PR1' WHERE id = 1;"
	    "UPDATE payments SET payment_request_id = 'PR1'");
	s = open_store(1);
	ck_assert_int_eq(store_replay(s, 1, &r), STORE_REPLAY_DONE);
	ck_assert_int_eq(r.outcome, STORE_DUPLICATE);
	store_close(s);
	ck_assert_int_eq(q_int("SELECT count(*) FROM events"), 1);
	free(pay);
}
END_TEST

/* Whether name is one of the comma-separated words of list[0..len). */
static int
in_list(const char *list, size_t len, const char *name)
{
	size_t n = strlen(name), i = 0, j;

	while (i < len) {
		while (i < len && (list[i] == ' ' || list[i] == ','))
			i++;
		for (j = i; j < len && list[j] != ',' && list[j] != ' '; j++)
			;
		if (j - i == n && strncmp(list + i, name, n) == 0)
			return 1;
		i = j;
	}
	return 0;
}

/* The largest parameter number after mark in sql: how many it binds. */
static int
max_param(const char *sql, char mark)
{
	int n = 0, k;

	for (; *sql != '\0'; sql++)
		if (*sql == mark && (k = atoi(sql + 1)) > n)
			n = k;
	return n;
}

/*
 * A column added to a table but forgotten in store_state.c's column
 * table is never written: every column of each kind's table (as the
 * engine lists them) is in its upsert's INSERT, as the engine's writer
 * prepares it, each with a parameter of its own, and every column but
 * the key, the stage and the bookkeeping is filled in by a dispute stage
 * arriving late.
 */
START_TEST(test_upserts_write_every_column)
{
	static const char *const not_filled[] = { "client_id", "dispute_id",
	    "stage", "notification_id", "created_at", "updated_at" };
	const char *sql_of[S_RFS_FIRST - S_STATE_FIRST];
	const char *sql, *cols, *end, *fill;
	char mark = storedb_is_pg(database) ? '$' : '?';
	char want[128], *text, *names, *name, *save;
	size_t i, j;
	int n, skip;

	store_close(open_store(1));
	ck_assert_int_eq(store_state_sql_build(mark, sql_of, &text), 0);
	for (i = 0; i < STORE_UPSERTS; i++) {
		sql = sql_of[store_upserts[i].which - S_STATE_FIRST];
		ck_assert_ptr_nonnull(sql);
		snprintf(want, sizeof(want), "INSERT INTO %s (",
		    store_upserts[i].table);
		ck_assert_msg(strncmp(sql, want, strlen(want)) == 0, "%s", sql);
		cols = sql + strlen(want);
		ck_assert_ptr_nonnull(end = strchr(cols, ')'));
		names = storedb_columns(database, store_upserts[i].table);
		n = 0;
		for (name = strtok_r(names, ",", &save); name != NULL;
		    name = strtok_r(NULL, ",", &save)) {
			for (j = 0, skip = 0; store_upserts[i].left_out[j] != NULL;
			    j++)
				skip |= strcmp(name, store_upserts[i].left_out[j]) ==
				    0;
			if (skip)
				continue;
			ck_assert_msg(in_list(cols, (size_t)(end - cols), name),
			    "%s.%s is not written by its upsert",
			    store_upserts[i].table, name);
			n++;
		}
		free(names);
		ck_assert_int_ge(n, 13);
		/* One parameter a column: nothing else written, all bound. */
		ck_assert_int_eq(max_param(sql, mark), n);
	}

	ck_assert_ptr_nonnull(fill = sql_of[S_DIS_FILL - S_STATE_FIRST]);
	ck_assert_msg(strncmp(fill, "UPDATE disputes SET ", 20) == 0, "%s",
	    fill);
	snprintf(want, sizeof(want), " WHERE client_id = %c1 AND dispute_id ="
	    " %c2", mark, mark);
	ck_assert_ptr_nonnull(strstr(fill, want));
	names = storedb_columns(database, "disputes");
	for (name = strtok_r(names, ",", &save); name != NULL;
	    name = strtok_r(NULL, ",", &save)) {
		snprintf(want, sizeof(want), " %s = coalesce(%s, %c", name,
		    name, mark);
		for (j = 0, skip = 0; j < sizeof(not_filled) /
		    sizeof(not_filled[0]); j++)
			skip |= strcmp(name, not_filled[j]) == 0;
		ck_assert_msg((strstr(fill, want) != NULL) == !skip,
		    "disputes.%s: %s", name, fill);
	}
	free(names);
	free(text);
}
END_TEST

/*
 * Refused deliveries are kept until the same notification is stored, and
 * authentic ones count as at risk once older than at_risk_after_s; an
 * authentic refusal makes an unverified row of the same body its own.
 */
START_TEST(test_refusals)
{
	struct store_options o = { 100, 8, 64, 1, 0 };
	char err[256] = "", hash[STORE_HASH_HEX];
	char *p = payment_body("PR1", "P1", "PAYMENT_RESULT", "S", NULL);
	struct store_delivery d;
	struct store *s;

	memset(&d, 0, sizeof(d));
	d.body = (const unsigned char *)p;
	d.bodylen = strlen(p);
	store_hash_body(&d);
	memcpy(hash, d.body_sha256, sizeof(hash));

	s = open_store_with(&o);
	ck_assert_int_eq(store_start(s, err, sizeof(err)), 0);
	refuse(s, "CLIENT_A", hash, 401, "INVALID_SIGNATURE", "PR1");
	refuse(s, "CLIENT_A", hash, 503, "SERVICE_UNAVAILABLE", "PR1");
	/* Unread bodies of one client are one row; control bytes are '?'. */
	refuse(s, "CLIENT_A", "", 413, "REQUEST_TOO_LARGE", NULL);
	refuse(s, "CLIENT_A", "", 400, "MISSING_HEADER", NULL);
	refuse(s, "EVIL\n\x1b[31m", "", 400, "MISSING_HEADER", NULL);
	stats_when(s, 3, 0);
	/* Older than a second: at risk, the authentic one only. */
	stats_when(s, 3, 1);
	store_close(s);
	ck_assert_str_eq(q_text("SELECT status || '/' || reason || '/' ||"
	    " refusal_count || '/' || object_id || '/' ||"
	    " CASE WHEN first_refused_at <= last_refused_at THEN 1 ELSE 0 END"
	    " FROM refusals WHERE"
	    " body_sha256 <> '' AND client_id = 'CLIENT_A'"),
	    "503/SERVICE_UNAVAILABLE/1/PR1/1");
	ck_assert_str_eq(q_text("SELECT status || '/' || refusal_count FROM"
	    " refusals WHERE body_sha256 = '' AND client_id = 'CLIENT_A'"),
	    "400/2");
	ck_assert_int_eq(q_int("SELECT count(*) FROM refusals WHERE"
	    " client_id = 'EVIL??[31m'"), 1);

	/* Stored at last: no longer at risk, by the writer or store_apply. */
	s = open_store(4);
	ck_assert_int_eq(deliver(s, p, NULL), STORE_APPLIED);
	store_close(s);
	ck_assert_int_eq(q_int("SELECT count(*) FROM refusals WHERE"
	    " body_sha256 <> ''"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM refusals"), 2);

	free(p);
}
END_TEST

/*
 * A flood of forged (unverified) deliveries fills the sample up to its
 * cap and is then not even queued; it never touches an authentic row,
 * every authentic refusal is kept past the cap, and the flood costs the
 * writer at most one transaction every 100 ms.
 */
START_TEST(test_refusals_bounded)
{
	struct store_options o = { 100, 8, 64, 3600, 0 };
	char err[256] = "", hash[STORE_HASH_HEX];
	struct store_stats st;
	struct store *s;
	uint64_t t0, ms;
	int i;

	s = open_store_with(&o);
	ck_assert_int_eq(store_start(s, err, sizeof(err)), 0);
	refuse(s, "CLIENT_A", "AUTHENTIC-0", 503, "storage_failure", "PR0");
	t0 = util_mono_us();
	for (i = 0; i < 10005; i++) {
		snprintf(hash, sizeof(hash), "%064d", i);
		refuse(s, "CLIENT_A", hash, 401, "mismatch", NULL);
		/* Forged with the authentic row's key: changes nothing. */
		refuse(s, "CLIENT_A", "AUTHENTIC-0", 401, "mismatch", "FORGED");
	}
	st = stats_when(s, REFUSAL_SAMPLE_MAX + 1, 0);
	ms = (util_mono_us() - t0) / 1000;
	ck_assert_int_eq(st.refusals_unverified, REFUSAL_SAMPLE_MAX);
	ck_assert_msg(st.refusal_txns <= ms / 100 + 2, "%llu transactions in "
	    "%llu ms", (unsigned long long)st.refusal_txns,
	    (unsigned long long)ms);
	for (i = 1; i <= 3; i++) {
		snprintf(hash, sizeof(hash), "AUTHENTIC-%d", i);
		refuse(s, "CLIENT_A", hash, 503, "storage_failure", NULL);
	}
	stats_when(s, REFUSAL_SAMPLE_MAX + 4, 0);
	store_close(s);
	ck_assert_int_eq(q_int("SELECT count(*) FROM refusals WHERE"
	    " authentic = 1"), 4);
	ck_assert_int_eq(q_int("SELECT count(*) FROM refusals WHERE"
	    " authentic = 0"), REFUSAL_SAMPLE_MAX);
	ck_assert_str_eq(q_text("SELECT status || '/' || refusal_count || '/'"
	    " || object_id FROM refusals WHERE body_sha256 = 'AUTHENTIC-0'"),
	    "503/1/PR0");
}
END_TEST

/* The ISO 8601 UTC time ago seconds before now, as the store writes it. */
static void
iso_ago(char *buf, size_t cap, time_t ago)
{
	time_t t = time(NULL) - ago;
	struct tm tm;

	gmtime_r(&t, &tm);
	ck_assert_uint_gt(strftime(buf, cap, "%Y-%m-%dT%H:%M:%S.000Z", &tm), 0);
}

/*
 * Forgotten: an authentic refusal nobody retried for 7 days (Antom gave
 * up long ago), and an unverified one an hour after it was first refused
 * however often it is sent again (by first_refused_at).
 */
START_TEST(test_refusals_pruned)
{
	struct store_options o = { 100, 8, 64, 3600, 0 };
	char err[256] = "", now[32], d6[32], m61[32], m59[32], *sql;
	struct store *s;

	store_close(open_store(1));
	iso_ago(now, sizeof(now), 0);
	iso_ago(d6, sizeof(d6), 6 * 86400);
	iso_ago(m61, sizeof(m61), 61 * 60);
	iso_ago(m59, sizeof(m59), 59 * 60);
	sql = test_fmt("INSERT INTO refusals VALUES ('a', 'C', 401, 'X', NULL,"
	    " NULL, NULL, NULL, '2020-01-01T00:00:00.000Z',"
	    " '2020-01-01T00:00:00.000Z', 3, 1), ('b', 'C', 401, 'X', NULL,"
	    " NULL, NULL, NULL, '2020-01-01T00:00:00.000Z', '%s', 1, 1),"
	    " ('old', 'C', 401, 'mismatch', NULL, NULL, NULL, NULL, '%s', '%s',"
	    " 500, 0), ('young', 'C', 401, 'mismatch', NULL, NULL, NULL, NULL,"
	    " '%s', '%s', 1, 0)", d6, m61, now, m59, now);
	exec_sql(sql);
	free(sql);
	s = open_store_with(&o);
	/* Sent again now: still forgotten, by when it was first refused. */
	refuse(s, "C", "old", 401, "mismatch", NULL);
	ck_assert_int_eq(store_start(s, err, sizeof(err)), 0);
	/*
	 * b stays: retried 6 days ago, refused first long ago: at risk.
	 * young stays too, never at risk.
	 */
	stats_when(s, 2, 1);
	store_close(s);
	ck_assert_str_eq(q_text("SELECT group_concat(body_sha256, ' ') FROM"
	    " (SELECT body_sha256 FROM refusals ORDER BY body_sha256) t"),
	    "b young");
}
END_TEST

/*
 * Refusals never make the writer wait for another process's lock (it
 * would hold up the deliveries behind them): dropped and counted at once.
 */
START_TEST(test_refusals_never_wait)
{
	struct store_options o = { 5000, 8, 64, 3600, 0 };
	char err[256] = "";
	struct store_stats st;
	struct store *s;
	struct storedb_hold *other;
	int i;

	store_close(open_store(1));
	s = open_store_with(&o);
	ck_assert_int_eq(store_start(s, err, sizeof(err)), 0);
	stats_when(s, 0, 0);
	other = storedb_hold(database, "refusals");
	refuse(s, "CLIENT_A", "", 413, "body_too_large", NULL);
	/* Far sooner than the 5 s busy timeout (SQLite). */
	for (i = 0; i < 20; i++) {
		store_stats(s, &st);
		if (st.refusals_dropped == 1)
			break;
		usleep(50000);
	}
	ck_assert_uint_eq(st.refusals_dropped, 1);
	ck_assert_uint_eq(st.refusals, 0);
	storedb_release(other);
	store_close(s);
	ck_assert_int_eq(q_int("SELECT count(*) FROM refusals"), 0);
}
END_TEST

/*
 * A 503 is an authentic notification we failed to store.  It takes the
 * place of an unverified refusal when the queue is full, and when the
 * database cannot take it (locked here, as behind most 503s) it waits in
 * the queue and is written once it can.
 */
START_TEST(test_refusals_503_kept)
{
	struct store_options o = { 5000, 8, 64, 3600, 0 };
	char err[256] = "", hash[32];
	struct refusal rf;
	struct store_stats st;
	struct store *s;
	struct storedb_hold *other;
	int i;

	store_close(open_store(1));
	s = open_store_with(&o);
	/* No writer yet: the queue (256) fills with forgeable 401s. */
	memset(&rf, 0, sizeof(rf));
	refusal_set(rf.client_id, sizeof(rf.client_id), "CLIENT_A");
	refusal_set(rf.reason, sizeof(rf.reason), "mismatch");
	rf.status = 401;
	for (i = 0; i < 256; i++) {
		snprintf(hash, sizeof(hash), "H401-%03d", i);
		refusal_set(rf.body_sha256, sizeof(rf.body_sha256), hash);
		ck_assert_int_eq(refusal_queue(s, &rf), 0);
	}
	ck_assert_int_eq(refusal_queue(s, &rf), -1);
	rf.status = 503;
	rf.authentic = 1;
	refusal_set(rf.body_sha256, sizeof(rf.body_sha256), "H503-FULL");
	ck_assert_int_eq(refusal_queue(s, &rf), 0);
	ck_assert_int_eq(store_start(s, err, sizeof(err)), 0);
	/* The sample takes 64 of the 255 left; the 503 is written. */
	st = stats_when(s, REFUSAL_SAMPLE_MAX + 1, 0);
	ck_assert_uint_eq(st.refusals_dropped, 2);

	/*
	 * Locked: the 503 written after the unlock; the 413 is not even
	 * queued (the sample is full), which is not a loss.
	 */
	other = storedb_hold(database, "refusals");
	refusal_set(rf.body_sha256, sizeof(rf.body_sha256),
	    "H503-LOCKED");
	ck_assert_int_eq(refusal_queue(s, &rf), 0);
	rf.status = 413;
	rf.authentic = 0;
	refusal_set(rf.body_sha256, sizeof(rf.body_sha256), "");
	ck_assert_int_eq(refusal_queue(s, &rf), 0);
	usleep(300000);		/* tries again every 100 ms meanwhile */
	storedb_release(other);
	st = stats_when(s, REFUSAL_SAMPLE_MAX + 2, 0);
	ck_assert_uint_eq(st.refusals_dropped, 2);
	store_close(s);
	ck_assert_int_eq(q_int("SELECT count(*) FROM refusals WHERE status ="
	    " 503 AND body_sha256 IN ('H503-FULL', 'H503-LOCKED')"), 2);
	ck_assert_int_eq(q_int("SELECT count(*) FROM refusals WHERE status ="
	    " 413"), 0);
}
END_TEST

static void
run_writer(unsigned batch_max, int njobs, const char *boom)
{
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
	struct wjob *w = calloc((size_t)njobs, sizeof(*w));
	struct store *s = open_store(batch_max);
	struct store_stats st;
	char err[128], prid[32];
	int i, left = njobs;

	ck_assert_int_eq(store_start(s, err, sizeof(err)), 0);
	for (i = 0; i < njobs; i++) {
		if (boom != NULL && i == njobs / 2)
			snprintf(prid, sizeof(prid), "%s", boom);
		else
			snprintf(prid, sizeof(prid), "PR%d", i);
		wjob_init(&w[i], prid, &lock, &cond, &left);
		w[i].job.r.status = 99;
	}
	for (i = 0; i < njobs; i++)
		ck_assert_int_eq(store_submit(s, &w[i].job), STORE_SUBMIT_OK);
	pthread_mutex_lock(&lock);
	while (left > 0)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	store_stats(s, &st);
	store_stop(s);
	/* After stop, submissions are refused (the HTTP layer answers 503). */
	ck_assert_int_eq(store_submit(s, &w[0].job), STORE_SUBMIT_STOPPING);
	store_close(s);

	for (i = 0; i < njobs; i++) {
		int is_boom = boom != NULL && i == njobs / 2;

		ck_assert_int_eq(w[i].job.r.status, is_boom ? -1 : 0);
		if (!is_boom)
			ck_assert_int_eq(w[i].seen_rows, 1);
		notif_free(&w[i].n);
		free(w[i].body);
	}
	ck_assert_int_eq(q_int("SELECT count(*) FROM payments"),
	    boom != NULL ? njobs - 1 : njobs);
	ck_assert_int_eq(q_int("SELECT count(*) FROM notifications"),
	    boom != NULL ? njobs - 1 : njobs);
	ck_assert_uint_eq(st.jobs, (unsigned)njobs);
	if (batch_max == 1)
		ck_assert_uint_eq(st.commits, (unsigned)njobs -
		    (boom != NULL ? 1 : 0));
	else
		ck_assert_uint_lt(st.commits, (unsigned)njobs);
	free(w);
}

/*
 * A batch is judged as if its jobs ran one after another (store_judge.h):
 * several notifications about one object, and the same notification
 * delivered twice, in one batch leave exactly what one transaction per
 * notification leaves.
 */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_state;	/* 1 writer held in the hook, 2 let go */

static void
gate_hook(unsigned jobs, unsigned failed)
{
	(void)jobs;
	(void)failed;
	pthread_mutex_lock(&gate_lock);
	if (gate_state == 0) {
		gate_state = 1;
		pthread_cond_broadcast(&gate_cond);
		while (gate_state != 2)
			pthread_cond_wait(&gate_cond, &gate_lock);
	}
	pthread_mutex_unlock(&gate_lock);
}

static const char *const seq_bodies[] = {
	"{\"notifyType\":\"PAYMENT_PENDING\",\"result\":{\"resultCode\":\"X\","
	"\"resultStatus\":\"U\"},\"paymentRequestId\":\"PR1\"}",
	"{\"notifyType\":\"PAYMENT_RESULT\",\"result\":{\"resultCode\":\"X\","
	"\"resultStatus\":\"S\"},\"paymentRequestId\":\"PR1\",\"paymentId\":"
	"\"P1\"}",
	"{\"notifyType\":\"PAYMENT_PENDING\",\"result\":{\"resultCode\":\"X\","
	"\"resultStatus\":\"U\"},\"paymentRequestId\":\"PR1\"}",
	"{\"notifyType\":\"PAYMENT_PENDING\",\"result\":{\"resultCode\":\"Y\","
	"\"resultStatus\":\"U\"},\"paymentRequestId\":\"PR1\"}",
	"{\"notifyType\":\"PAYMENT_RESULT\",\"result\":{\"resultCode\":\"X\","
	"\"resultStatus\":\"S\"},\"paymentRequestId\":\"PR1\",\"paymentId\":"
	"\"P2\"}",
	"{\"notifyType\":\"PAYMENT_RESULT\",\"result\":{\"resultCode\":\"X\","
	"\"resultStatus\":\"F\"},\"paymentRequestId\":\"PR1\",\"paymentId\":"
	"\"P1\"}",
	"{\"notifyType\":\"PAYMENT_RESULT\",\"result\":{\"resultCode\":\"X\","
	"\"resultStatus\":\"S\"},\"paymentRequestId\":\"PR1\",\"paymentId\":"
	"\"P1\"}",
	"{\"notifyType\":\"PAYMENT_RESULT\",\"result\":{\"resultCode\":\"X\","
	"\"resultStatus\":\"S\"},\"paymentRequestId\":\"PR1\",\"paymentId\":"
	"\"P1\"}",
	"{\"notifyType\":\"CAPTURE_RESULT\",\"result\":{\"resultCode\":\"X\","
	"\"resultStatus\":\"S\"},\"captureRequestId\":\"PR1\",\"captureId\":"
	"\"C1\",\"paymentId\":\"P1\"}",
	"{\"disputeNotificationType\":\"DISPUTE_JUDGED\",\"disputeId\":\"D1\"}",
	"{\"disputeNotificationType\":\"DISPUTE_CREATED\",\"disputeId\":\"D1\","
	"\"paymentId\":\"P1\",\"disputeReasonCode\":\"4853\"}",
	"{\"disputeNotificationType\":\"DEFENSE_SUPPLIED\",\"disputeId\":\"D1\","
	"\"paymentId\":\"P9\"}",
	"{\"disputeNotificationType\":\"DISPUTE_CANCELLED\",\"disputeId\":\"D1\","
	"\"paymentId\":\"P1\"}",
	"not json",
	"not json",
	"{\"notifyType\":\"PAYMENT_RESULT\",\"result\":{\"resultCode\":\"X\","
	"\"resultStatus\":\"S\"},\"paymentRequestId\":\"GATE\"}",
	"{\"notifyType\":\"VAULTING_RESULT\",\"result\":{\"resultCode\":\"X\","
	"\"resultStatus\":\"S\"},\"vaultingRequestId\":\"V1\"}",
	"{\"notifyType\":\"VAULTING_RESULT\",\"result\":{\"resultCode\":\"X\","
	"\"resultStatus\":\"F\"},\"vaultingRequestId\":\"V1\"}",
	/*
	 * Amounts and ids as a later job sees them: the amount a result
	 * applied, and the ids and amount a stage set or filled in.
	 */
	"{\"notifyType\":\"PAYMENT_PENDING\",\"result\":{\"resultCode\":\"X\","
	"\"resultStatus\":\"S\"},\"paymentRequestId\":\"PR3\",\"paymentId\":"
	"\"P3\",\"paymentAmount\":{\"value\":\"4200\",\"currency\":\"SGD\"}}",
	"{\"notifyType\":\"PAYMENT_RESULT\",\"result\":{\"resultCode\":\"X\","
	"\"resultStatus\":\"S\"},\"paymentRequestId\":\"PR3\",\"paymentId\":"
	"\"P3\",\"paymentAmount\":{\"value\":\"1\",\"currency\":\"JPY\"}}",
	"{\"notifyType\":\"PAYMENT_RESULT\",\"result\":{\"resultCode\":\"Y\","
	"\"resultStatus\":\"S\"},\"paymentRequestId\":\"PR3\",\"paymentId\":"
	"\"P3\",\"paymentAmount\":{\"value\":\"1\",\"currency\":\"JPY\"}}",
	"{\"notifyType\":\"PAYMENT_RESULT\",\"result\":{\"resultCode\":\"X\","
	"\"resultStatus\":\"S\"},\"paymentRequestId\":\"PR3\",\"paymentId\":"
	"\"P3\",\"paymentAmount\":{\"value\":\"2\",\"currency\":\"JPY\"}}",
	"{\"disputeNotificationType\":\"DISPUTE_CREATED\",\"disputeId\":\"D3\","
	"\"paymentId\":\"P3\"}",
	"{\"disputeNotificationType\":\"DEFENSE_SUPPLIED\",\"disputeId\":\"D3\","
	"\"paymentId\":\"P3\",\"paymentRequestId\":\"PR3\"}",
	"{\"disputeNotificationType\":\"DISPUTE_ACCEPTED\",\"disputeId\":\"D3\","
	"\"paymentId\":\"P3\",\"paymentRequestId\":\"PRX\"}",
	"{\"disputeNotificationType\":\"DISPUTE_JUDGED\",\"disputeId\":\"D4\","
	"\"disputeJudgedResult\":\"ACCEPT_BY_CUSTOMER\"}",
	"{\"disputeNotificationType\":\"DISPUTE_JUDGED\",\"disputeId\":\"D4\","
	"\"disputeJudgedResult\":\"ACCEPT_BY_MERCHANT\"}",
	"{\"disputeNotificationType\":\"DISPUTE_CREATED\",\"disputeId\":\"D4\","
	"\"disputeAmount\":{\"value\":\"5\",\"currency\":\"SGD\"}}",
	"{\"disputeNotificationType\":\"DEFENSE_SUPPLIED\",\"disputeId\":\"D4\","
	"\"disputeAmount\":{\"value\":\"6\",\"currency\":\"SGD\"}}",
	"{\"notifyType\":\"CAPTURE_RESULT\",\"result\":{\"resultCode\":\"Y\","
	"\"resultStatus\":\"S\"},\"captureRequestId\":\"CR5\",\"captureId\":"
	"\"C5\",\"paymentId\":\"P3\"}",
	"{\"notifyType\":\"CAPTURE_RESULT\",\"result\":{\"resultCode\":\"Z\","
	"\"resultStatus\":\"S\"},\"captureRequestId\":\"CR5\",\"captureId\":"
	"\"C5\",\"paymentId\":\"P4\"}",
};
#define SEQ_N	(sizeof(seq_bodies) / sizeof(seq_bodies[0]))

struct seq_job {
	struct store_job	job;
	struct notif		n;
};

static void
seq_done(struct store_job *j)
{
	(void)j;
}

static void
seq_init(struct seq_job *j, const char *client, const char *body)
{
	memset(j, 0, sizeof(*j));
	ck_assert_int_eq(notif_parse((const unsigned char *)body, strlen(body),
	    &j->n), 0);
	j->job.d.client_id = client;
	j->job.d.request_time = "1";
	j->job.d.signature = "s";
	j->job.d.signed_path = "/antom/notify";
	j->job.d.key_version = 1;
	j->job.d.body = (const unsigned char *)body;
	j->job.d.bodylen = strlen(body);
	store_hash_body(&j->job.d);
	j->job.d.notif = &j->n;
	j->job.done = seq_done;
}

/* Everything the state holds, but the times; the caller frees it. */
static char *
seq_dump(void)
{
	static const char *const q[] = {
	    "SELECT group_concat(id || ',' || client_id || ',' || kind || ','"
	    " || coalesce(object_id, '-') || ',' || outcome || ',' ||"
	    " delivery_count || ',' || coalesce(discrepancy, '-'), ';') FROM"
	    " (SELECT * FROM notifications ORDER BY id) t",
	    "SELECT group_concat(client_id || ',' || payment_request_id || ','"
	    " || coalesce(payment_id, '-') || ',' || status || ',' ||"
	    " coalesce(result_code, '-') || ',' ||"
	    " coalesce(CAST(amount_value AS TEXT), '-')"
	    " || coalesce(currency, '-') || ',' || notification_id, ';') FROM"
	    " (SELECT * FROM payments ORDER BY client_id, payment_request_id) t",
	    "SELECT group_concat(capture_request_id || ',' ||"
	    " coalesce(capture_id, '-') || ',' || coalesce(payment_id, '-') ||"
	    " ',' || status, ';') FROM (SELECT * FROM captures ORDER BY"
	    " client_id, capture_request_id) t",
	    "SELECT group_concat(dispute_id || ',' || coalesce(payment_id, '-')"
	    " || ',' || coalesce(payment_request_id, '-') || ',' || stage ||"
	    " ',' || coalesce(reason_code, '-') || ',' ||"
	    " coalesce(CAST(amount_value AS TEXT), '-') || ',' ||"
	    " coalesce(judged_result, '-')"
	    " || ',' || notification_id, ';') FROM (SELECT * FROM disputes"
	    " ORDER BY client_id, dispute_id) t",
	    "SELECT group_concat(vaulting_request_id || ',' || status, ';')"
	    " FROM (SELECT * FROM vaultings ORDER BY client_id,"
	    " vaulting_request_id) t",
	    "SELECT group_concat(seq || ',' || object_type || ',' || object_id"
	    " || ',' || coalesce(old_status, '-') || ',' || new_status || ','"
	    " || notification_id, ';') FROM (SELECT * FROM events ORDER BY"
	    " seq) t",
	};
	char *out = strdup(""), *next;
	size_t i;

	for (i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		ck_assert_int_gt(asprintf(&next, "%s|%s", out, q_text(q[i])), 0);
		free(out);
		out = next;
	}
	return out;
}

static const char *
seq_client(size_t i)
{
	return i == 7 ? "CLIENT_B" : "CLIENT_A";
}

START_TEST(test_batch_is_a_sequence)
{
	static struct seq_job gate, j[SEQ_N];
	struct store_result want[SEQ_N];
	struct store_stats st;
	struct store *s;
	char err[128], *seq, *batch;
	const char *gate_body = seq_bodies[15];
	size_t i;

	/* One transaction per notification, the gate's first. */
	s = open_store(1);
	seq_init(&gate, "CLIENT_A", gate_body);
	ck_assert_int_eq(store_apply(s, &gate.job.d, &gate.job.r), 0);
	notif_free(&gate.n);
	for (i = 0; i < SEQ_N; i++) {
		seq_init(&j[i], seq_client(i), seq_bodies[i]);
		ck_assert_int_eq(store_apply(s, &j[i].job.d, &want[i]), 0);
		notif_free(&j[i].n);
	}
	store_close(s);
	/* What the jobs from 18 on are there for. */
	for (i = 18; i < SEQ_N; i++)
		ck_assert_msg(want[i].outcome == (i == 20 ? STORE_DUPLICATE :
		    i == 21 || i == 24 || i == 26 || i == 30 ? STORE_CONFLICT :
		    i == 27 || i == 28 ? STORE_IGNORED : STORE_APPLIED),
		    "job %zu: %s", i, store_outcome_str(want[i].outcome));
	ck_assert_str_eq(q_text("SELECT group_concat(id || ':' || discrepancy,"
	    " ' / ') FROM (SELECT * FROM notifications WHERE discrepancy IS NOT"
	    " NULL AND object_id IN ('PR3', 'D3', 'D4', 'CR5') ORDER BY id) t"),
	    "17:amount 4200 SGD -> 1 JPY / 19:amount 1 JPY -> 2 JPY /"
	    " 22:payment_request_id PR3 -> PRX / 24:judged_result"
	    " ACCEPT_BY_CUSTOMER -> ACCEPT_BY_MERCHANT / 26:amount 5 SGD -> 6 SGD"
	    " / 28:payment_id P3 -> P4");
	seq = seq_dump();
	fresh_db();

	/* The same in one batch, held back behind the gate's. */
	s = open_store(64);
	store_set_batch_hook(gate_hook);
	ck_assert_int_eq(store_start(s, err, sizeof(err)), 0);
	seq_init(&gate, "CLIENT_A", gate_body);
	ck_assert_int_eq(store_submit(s, &gate.job), STORE_SUBMIT_OK);
	pthread_mutex_lock(&gate_lock);
	while (gate_state != 1)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	for (i = 0; i < SEQ_N; i++) {
		seq_init(&j[i], seq_client(i), seq_bodies[i]);
		ck_assert_int_eq(store_submit(s, &j[i].job), STORE_SUBMIT_OK);
	}
	pthread_mutex_lock(&gate_lock);
	gate_state = 2;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	store_stop(s);		/* every queued job done */
	store_stats(s, &st);
	store_set_batch_hook(NULL);
	store_close(s);
	ck_assert_uint_eq(st.commits, 2);
	for (i = 0; i < SEQ_N; i++) {
		ck_assert_int_eq(j[i].job.r.status, 0);
		ck_assert_msg(j[i].job.r.outcome == want[i].outcome &&
		    j[i].job.r.repeat == want[i].repeat &&
		    j[i].job.r.notification_id == want[i].notification_id &&
		    j[i].job.r.delivery_count == want[i].delivery_count,
		    "job %zu: %s %d %lld %lld, one by one %s %d %lld %lld", i,
		    store_outcome_str(j[i].job.r.outcome), j[i].job.r.repeat,
		    (long long)j[i].job.r.notification_id,
		    (long long)j[i].job.r.delivery_count,
		    store_outcome_str(want[i].outcome), want[i].repeat,
		    (long long)want[i].notification_id,
		    (long long)want[i].delivery_count);
		notif_free(&j[i].n);
	}
	notif_free(&gate.n);
	batch = seq_dump();
	ck_assert_str_eq(batch, seq);
	free(seq);
	free(batch);
}
END_TEST

START_TEST(test_writer_batches)
{
	run_writer(64, 500, NULL);
}
END_TEST

START_TEST(test_writer_batch_one)
{
	run_writer(1, 50, NULL);
}
END_TEST

START_TEST(test_writer_failing_job_alone)
{
	char *b = payment_body("PR99", "PR99", "PAYMENT_RESULT", "S", NULL);
	struct store_delivery d;
	char sql[512];

	store_close(open_store(1));
	/* A job whose write fails is rolled back alone; the batch commits. */
	if (storedb_is_pg(database))
		exec_sql("CREATE FUNCTION boom() RETURNS trigger LANGUAGE"
		    " plpgsql AS $$BEGIN IF NEW.payment_request_id = 'BOOM'"
		    " THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END$$;"
		    "CREATE TRIGGER boom BEFORE INSERT ON payments FOR EACH ROW"
		    " EXECUTE FUNCTION boom()");
	else
		exec_sql("CREATE TRIGGER boom BEFORE INSERT ON payments "
		    "WHEN NEW.payment_request_id = 'BOOM' "
		    "BEGIN SELECT RAISE(ABORT, 'boom'); END");
	/*
	 * The job before BOOM had been refused once: stored at last, its
	 * refusal is gone, whether its batch committed or, failed by BOOM,
	 * was retried job by job (then only the retry's delete counts).
	 */
	memset(&d, 0, sizeof(d));
	d.body = (const unsigned char *)b;
	d.bodylen = strlen(b);
	store_hash_body(&d);
	snprintf(sql, sizeof(sql), "INSERT INTO refusals VALUES ('%s',"
	    " 'CLIENT_A', 503, 'storage_failure', NULL, NULL, NULL, NULL,"
	    " '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 1, 1)",
	    d.body_sha256);
	exec_sql(sql);
	run_writer(64, 200, "BOOM");
	ck_assert_int_eq(q_int("SELECT count(*) FROM refusals"), 0);
	free(b);
}
END_TEST

/* A refusal that comes after its notification was stored is not kept. */
START_TEST(test_refusal_after_stored)
{
	struct store_options o = { 100, 8, 64, 1, 0 };
	char err[256] = "";
	/* About no object: found by its NULL object_id (schema 9). */
	static const char update[] = "{\"notifyType\":\"UPDATE_AMOUNT_RESULT\","
	    "\"result\":{\"resultCode\":\"SUCCESS\",\"resultStatus\":\"S\","
	    "\"resultMessage\":\"success\"},\"updateRequestId\":"
	    "\"UR-0002\"}";
	char *p = payment_body("PR1", "P1", "PAYMENT_RESULT", "S", NULL);
	struct store_delivery d, u;
	struct store_stats st;
	struct store *s;

	s = open_store(1);
	ck_assert_int_eq(deliver(s, p, NULL), STORE_APPLIED);
	ck_assert_int_eq(deliver(s, update, NULL), STORE_ARCHIVED);
	store_close(s);
	memset(&d, 0, sizeof(d));
	d.body = (const unsigned char *)p;
	d.bodylen = strlen(p);
	store_hash_body(&d);
	memset(&u, 0, sizeof(u));
	u.body = (const unsigned char *)update;
	u.bodylen = strlen(update);
	store_hash_body(&u);
	s = open_store_with(&o);
	ck_assert_int_eq(store_start(s, err, sizeof(err)), 0);
	refuse(s, "CLIENT_A", d.body_sha256, 503, "storage_failure", "PR1");
	refuse(s, "CLIENT_A", u.body_sha256, 503, "storage_failure", NULL);
	refuse(s, "CLIENT_B", d.body_sha256, 401, "mismatch", "PR1");
	st = stats_when(s, 1, 0);
	ck_assert_uint_eq(st.refusals, 1);
	store_close(s);
	ck_assert_str_eq(q_text("SELECT client_id FROM refusals"), "CLIENT_B");
	free(p);
}
END_TEST

/*
 * What every engine owes (README "What is stored"): the state machine,
 * idempotency, any order, every kind's columns, the views, amounts, the
 * writer's batches, the refusals ledger, replay.
 */
void
store_state_tests(TCase *tc)
{
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_unhashed_fails);
	tcase_add_test(tc, test_repeat_delivery);
	tcase_add_test(tc, test_repeat_without_object);
	tcase_add_test(tc, test_clients_are_separate);
	tcase_add_test(tc, test_pending_then_final);
	tcase_add_test(tc, test_pending_after_final_ignored);
	tcase_add_test(tc, test_final_conflict);
	tcase_add_test(tc, test_payment_id_mismatch_conflict);
	tcase_add_test(tc, test_same_state_other_body_duplicate);
	tcase_add_test(tc, test_capture_before_payment);
	tcase_add_test(tc, test_archived);
	tcase_add_test(tc, test_refund);
	tcase_add_test(tc, test_refund_id_mismatch);
	tcase_add_test(tc, test_pending_capture_refund);
	tcase_add_test(tc, test_dispute_order);
	tcase_add_test(tc, test_dispute_forward);
	tcase_add_test(tc, test_vaulting);
	tcase_add_test(tc, test_final_amount_conflict);
	tcase_add_test(tc, test_pending_amount_discrepancy);
	tcase_add_test(tc, test_dispute_judged_conflict);
	tcase_add_test(tc, test_ids_never_change);
	tcase_add_test(tc, test_sums_one_currency);
	tcase_add_test(tc, test_payment_timeline);
	tcase_add_test(tc, test_event_matches_notification);
	tcase_add_test(tc, test_upserts_write_every_column);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_refusals_bounded);
	tcase_add_test(tc, test_refusals_pruned);
	tcase_add_test(tc, test_refusal_after_stored);
	tcase_add_test(tc, test_refusals_never_wait);
	tcase_add_test(tc, test_refusals_503_kept);
	tcase_add_test(tc, test_writer_batches);
	tcase_add_test(tc, test_writer_batch_one);
	tcase_add_test(tc, test_writer_failing_job_alone);
	tcase_add_test(tc, test_batch_is_a_sequence);
	tcase_add_test(tc, test_replay_notes_discrepancy);
	tcase_add_test(tc, test_replay_keeps_object_of_events);
}

/* The same, on a PostgreSQL primary (about 20 s). */
Suite *
store_pg_suite(void)
{
	Suite *s = suite_create("store_pg");
	TCase *tc;

	const char *only = getenv("CK_RUN_SUITE");

	/*
	 * Decided here, as an unchecked fixture cannot skip its tests; said
	 * only when the suite would run.
	 */
	if ((only != NULL && strcmp(only, "store_pg") != 0) ||
	    !pg_available("store_pg"))
		return s;
	tc = tcase_create("state");
	tcase_add_unchecked_fixture(tc, setup_pg_cluster, pg_teardown);
	tcase_add_checked_fixture(tc, setup_pg, teardown_pg);
	store_state_tests(tc);
	suite_add_tcase(s, tc);
	return s;
}
