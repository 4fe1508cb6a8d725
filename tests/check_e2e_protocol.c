/*
 * check_e2e_protocol.c - what Antom and a merchant application see of the
 * real antomd: every vector over HTTP, the state rules through repeated
 * and out-of-order deliveries, refusals that write nothing (signatures,
 * headers, methods, paths, sizes, chunked bodies), archived bodies, signed
 * paths behind a proxy and with a query, and the README's queries run
 * against a database antomd is writing; each test with antomd on SQLite
 * (case "daemon") and on PostgreSQL (case "pg", e2e_pg_tcase()).
 *
 * Each test binds a listening socket on 127.0.0.1 port 0 itself and hands
 * it to antomd through systemd's socket-activation protocol (LISTEN_FDS),
 * so there is no port race and no wait for start-up: connections queue in
 * the socket's backlog until the daemon accepts them.  The database is
 * inspected afterwards with plain SQL, as a merchant application would.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "antom.h"
#include "client.h"
#include "sign.h"
#include "e2e.h"
#include "suites.h"

static int
send_raw(const char *req, size_t len, struct client_response *resp)
{
	return e2e_send(e2e.port, req, len, resp);
}

/* Rows in the state tables and the archive, in one number for "nothing written". */
static long long
rows_written(void)
{
	return e2e_q_int("SELECT (SELECT count(*) FROM notifications) + "
	    "(SELECT count(*) FROM payments) + (SELECT count(*) FROM captures) + "
	    "(SELECT count(*) FROM events)");
}

static char *
cap_body(const char *crid, const char *prid, const char *rs)
{
	char *b;

	ck_assert_int_gt(asprintf(&b, "{\"captureAmount\":{\"currency\":\"SGD\","
	    "\"value\":\"4200\"},\"notifyType\":\"CAPTURE_RESULT\",\"captureId\":"
	    "\"C-%s\",\"captureRequestId\":\"%s\",\"captureTime\":"
	    "\"2022-11-10T00:34:52-08:00\",\"paymentId\":\"P-%s\",\"result\":"
	    "{\"resultCode\":\"SUCCESS\",\"resultMessage\":\"ok\","
	    "\"resultStatus\":\"%s\"}}", crid, crid, prid, rs), 0);
	return b;
}

/* Every request of a vector file gives its expected answer. */
static void
run_vectors(const char *file, int *nvalid)
{
	char path[512];
	json_t *root, *v;
	size_t i;

	root = json_load_file(test_path(path, sizeof(path), file), 0, NULL);
	ck_assert_ptr_nonnull(root);
	json_array_foreach(root, i, v) {
		json_t *hdrs = json_object_get(v, "headers"), *hv;
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *expect = json_string_value(json_object_get(v, "expect"));
		const char *body = json_string_value(json_object_get(v, "body"));
		const char *key;
		struct client_response r;
		char *req;
		size_t len;
		FILE *f = open_memstream(&req, &len);
		int status;

		fprintf(f, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n",
		    json_string_value(json_object_get(v, "method")),
		    json_string_value(json_object_get(v, "path")));
		json_object_foreach(hdrs, key, hv)
			fprintf(f, "%s: %s\r\n", key, json_string_value(hv));
		fprintf(f, "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		    strlen(body));
		fwrite(body, 1, strlen(body), f);
		fclose(f);
		status = send_raw(req, len, &r);
		free(req);
		if (strcmp(expect, "valid") == 0) {
			ck_assert_msg(status == 200, "%s: status %d (%s)", name,
			    status, r.body);
			ck_assert_str_eq(r.body, ANTOM_SUCCESS_BODY);
			(*nvalid)++;
		} else {
			ck_assert_msg(status == 401, "%s: status %d (%s)", name,
			    status, r.body);
			ck_assert_ptr_nonnull(strstr(r.body, "\"resultStatus\":\"F\""));
		}
		client_response_free(&r);
	}
	json_decref(root);
}

START_TEST(test_vectors)
{
	int nvalid = 0;

	run_vectors("vectors/signed-test-key.json", &nvalid);
	run_vectors("vectors/real-antom-2019.json", &nvalid);
	ck_assert_int_ge(nvalid, 2);
	/* Two vectors carry the same body: one notification, two deliveries. */
	ck_assert_int_eq(e2e_q_int("SELECT sum(delivery_count) FROM notifications"),
	    nvalid);
	/* The real Antom notification, verified over /api/back, is applied. */
	ck_assert_str_eq(e2e_q_text("SELECT status || ' ' || amount_value || ' ' || "
	    "currency FROM payments WHERE payment_request_id = "
	    "'cc89dd30134549d6'"), "SUCCESS 100 PHP");
	ck_assert_str_eq(e2e_q_text("SELECT signed_path FROM notifications WHERE "
	    "client_id = 'T_ALLPAY_1'"), "/api/back");
	ck_assert_int_eq(e2e_stop_daemon(), 0);
}
END_TEST

START_TEST(test_eight_deliveries)
{
	char *b = e2e_pay_body("PR-8", "PAYMENT_RESULT", "S");
	int i;

	for (i = 0; i < 8; i++)
		e2e_deliver_ok(b);
	ck_assert_int_eq(e2e_q_int("SELECT delivery_count FROM notifications"), 8);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM notifications"), 1);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM events"), 1);
	ck_assert_str_eq(e2e_q_text("SELECT status FROM payments WHERE "
	    "payment_request_id = 'PR-8'"), "SUCCESS");
	free(b);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
}
END_TEST

START_TEST(test_capture_before_payment)
{
	char *c = cap_body("CR-1", "PR-1", "S");
	char *p = e2e_pay_body("PR-1", "PAYMENT_RESULT", "S");

	e2e_deliver_ok(c);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM captures"), 1);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payment_captures"), 0);
	e2e_deliver_ok(p);
	ck_assert_str_eq(e2e_q_text("SELECT payment_status || '/' || capture_status "
	    "FROM payment_captures WHERE payment_request_id = 'PR-1'"),
	    "SUCCESS/SUCCESS");
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM events"), 2);
	free(c);
	free(p);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
}
END_TEST

START_TEST(test_pending_after_success)
{
	char *s = e2e_pay_body("PR-2", "PAYMENT_RESULT", "S");
	char *p = e2e_pay_body("PR-2", "PAYMENT_PENDING", "S");

	e2e_deliver_ok(s);
	e2e_deliver_ok(p);
	ck_assert_str_eq(e2e_q_text("SELECT status FROM payments"), "SUCCESS");
	ck_assert_str_eq(e2e_q_text("SELECT outcome FROM notifications WHERE "
	    "notify_type = 'PAYMENT_PENDING'"), "ignored");
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM events"), 1);
	free(s);
	free(p);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
}
END_TEST

START_TEST(test_fail_after_success_conflict)
{
	char *s = e2e_pay_body("PR-3", "PAYMENT_RESULT", "S");
	char *f = e2e_pay_body("PR-3", "PAYMENT_RESULT", "F");
	char *log;

	e2e_deliver_ok(s);
	e2e_deliver_ok(f);	/* acknowledged: Antom must not retry a conflict forever */
	ck_assert_str_eq(e2e_q_text("SELECT status FROM payments"), "SUCCESS");
	ck_assert_str_eq(e2e_q_text("SELECT outcome FROM notifications WHERE id = 2"),
	    "conflict");
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM events"), 1);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	log = test_slurp(e2e.log, NULL);
	ck_assert_ptr_nonnull(strstr(log, "level=warn"));
	ck_assert_ptr_nonnull(strstr(log, "outcome=conflict"));
	free(log);
	free(s);
	free(f);
}
END_TEST

/* e2e_pay_body's payment for another amount (4200 SGD there). */
static char *
pay_amount_body(const char *prid, const char *type, const char *value,
    const char *currency)
{
	char *b = e2e_pay_body(prid, type, "S"), *at, *out;
	const char *was = "\"value\":\"4200\",\"currency\":\"SGD\"";

	at = strstr(b, was);
	ck_assert_ptr_nonnull(at);
	ck_assert_int_gt(asprintf(&out, "%.*s\"value\":\"%s\",\"currency\":"
	    "\"%s\"%s", (int)(at - b), b, value, currency, at + strlen(was)),
	    0);
	free(b);
	return out;
}

/*
 * An amount that changes between PENDING and the result is applied and
 * logged at WARN with what changed; a second result for another amount
 * is a conflict, logged at WARN, and changes nothing.
 */
START_TEST(test_amount_contradictions_warned)
{
	char *pend = pay_amount_body("PR-AMT", "PAYMENT_PENDING", "4200", "SGD");
	char *jpy = pay_amount_body("PR-AMT", "PAYMENT_RESULT", "1", "JPY");
	char *jpy2 = pay_amount_body("PR-AMT", "PAYMENT_RESULT", "2", "JPY");
	char *line;

	e2e_deliver_ok(pend);
	e2e_deliver_ok(jpy);
	e2e_deliver_ok(jpy2);	/* acknowledged, as any conflict */
	ck_assert_str_eq(e2e_q_text("SELECT status || ' ' || amount_value ||"
	    " ' ' || currency FROM payments"), "SUCCESS 1 JPY");
	ck_assert_str_eq(e2e_q_text("SELECT group_concat(outcome || ':' ||"
	    " coalesce(discrepancy, '-'), ' / ') FROM (SELECT * FROM"
	    " notifications ORDER BY id) AS n"), "applied:- / applied:amount"
	    " 4200 SGD -> 1 JPY / conflict:amount 1 JPY -> 2 JPY");
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	line = e2e_log_line("msg=discrepancy notification_id=2 ");
	ck_assert_msg(strstr(line, "level=warn") != NULL &&
	    strstr(line, "outcome=applied") != NULL && strstr(line,
	    "discrepancy=\"amount 4200 SGD -> 1 JPY\"") != NULL, "%s", line);
	free(line);
	line = e2e_log_line("msg=discrepancy notification_id=3 ");
	ck_assert_msg(strstr(line, "level=warn") != NULL &&
	    strstr(line, "outcome=conflict") != NULL && strstr(line,
	    "discrepancy=\"amount 1 JPY -> 2 JPY\"") != NULL, "%s", line);
	free(line);
	line = e2e_log_line("outcome=conflict notification_id=3 ");
	ck_assert_msg(strstr(line, "level=warn msg=request") != NULL, "%s",
	    line);
	free(line);
	free(pend);
	free(jpy);
	free(jpy2);
}
END_TEST

START_TEST(test_bad_signature_writes_nothing)
{
	char *b = e2e_pay_body("PR-4", "PAYMENT_RESULT", "S");
	char hdr[SIGN_HEADER_MAX], *log;
	struct client_response r;

	e2e_sign_rt1(b, hdr);
	/* Signed request-time "1", sent "2": the content differs. */
	e2e_expect_status(e2e_post("/antom/notify", SANDBOX, "2", hdr, b, &r),
	    401, &r);
	/* Unknown client. */
	e2e_expect_status(e2e_post("/antom/notify", "SANDBOX_OTHER", "1", hdr,
	    b, &r), 401, &r);
	/* Unsupported algorithm. */
	e2e_expect_status(e2e_post("/antom/notify", SANDBOX, "1",
	    "algorithm=RSA512,keyVersion=1,signature=AAAA", b, &r), 401, &r);
	/* Bad base64. */
	e2e_expect_status(e2e_post("/antom/notify", SANDBOX, "1",
	    "algorithm=RSA256,keyVersion=1,signature=%%%", b, &r), 401, &r);
	/* No signature field at all. */
	e2e_expect_status(e2e_post("/antom/notify", SANDBOX, "1",
	    "algorithm=RSA256", b, &r), 400, &r);
	ck_assert_int_eq(rows_written(), 0);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	log = test_slurp(e2e.log, NULL);
	ck_assert_ptr_nonnull(strstr(log, "reason=mismatch"));
	/* The refusal names what antomctl explain starts from. */
	ck_assert_ptr_nonnull(strstr(log, "request_time=2 "));
	ck_assert_ptr_nonnull(strstr(log, "body_sha256="));
	ck_assert_ptr_nonnull(strstr(log, "reason=unknown_client"));
	ck_assert_ptr_nonnull(strstr(log, "reason=bad_algorithm"));
	/* Never the body, never the signature. */
	ck_assert_ptr_null(strstr(log, "cavvSecret"));
	ck_assert_ptr_null(strstr(log, hdr + strlen(hdr) - 20));
	free(log);
	free(b);
}
END_TEST

START_TEST(test_headers_missing_or_duplicated)
{
	char *b = e2e_pay_body("PR-5", "PAYMENT_RESULT", "S");
	char hdr[SIGN_HEADER_MAX], *req;
	struct client_response r;

	e2e_sign_rt1(b, hdr);
	e2e_expect_status(e2e_post("/antom/notify", NULL, "1", hdr, b, &r), 400,
	    &r);
	e2e_expect_status(e2e_post("/antom/notify", SANDBOX, NULL, hdr, b, &r),
	    400, &r);
	e2e_expect_status(e2e_post("/antom/notify", SANDBOX, "1", NULL, b, &r),
	    400, &r);
	/* Twice the same header, different case: ambiguous, refused. */
	ck_assert_int_gt(asprintf(&req, "POST /antom/notify HTTP/1.1\r\n"
	    "Host: x\r\nclient-id: %s\r\nClient-Id: %s\r\nrequest-time: 1\r\n"
	    "signature: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
	    SANDBOX, SANDBOX, hdr, strlen(b), b), 0);
	e2e_expect_status(send_raw(req, strlen(req), &r), 400, &r);
	free(req);
	/* A control character in a header value. */
	e2e_expect_status(e2e_post("/antom/notify", SANDBOX, "1\x1b[31m", hdr,
	    b, &r), 400, &r);
	ck_assert_int_eq(rows_written(), 0);
	/* The same request, well formed, is accepted. */
	e2e_expect_status(e2e_post("/antom/notify", SANDBOX, "1", hdr, b, &r),
	    200, &r);
	free(b);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
}
END_TEST

START_TEST(test_method_path_size)
{
	struct client_response r;
	char *big, *req;
	const char *get = "GET /antom/notify HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n";
	const char *nopath = "POST /nope HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: 2\r\nConnection: close\r\n\r\n{}";
	const char *trailing = "POST /antom/notify/ HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: 2\r\nConnection: close\r\n\r\n{}";
	size_t i, n;

	ck_assert_int_eq(send_raw(get, strlen(get), &r), 405);
	ck_assert_ptr_nonnull(strcasestr(r.head, "Allow: POST"));
	client_response_free(&r);
	e2e_expect_status(send_raw(nopath, strlen(nopath), &r), 404, &r);
	e2e_expect_status(send_raw(trailing, strlen(trailing), &r), 404, &r);

	/* Headers over connection_memory_limit (32 KiB by default): 431. */
	big = malloc(40001);
	memset(big, 'a', 40000);
	big[40000] = '\0';
	ck_assert_int_gt(asprintf(&req, "POST /antom/notify HTTP/1.1\r\n"
	    "Host: x\r\nX-Big: %s\r\nContent-Length: 2\r\n"
	    "Connection: close\r\n\r\n{}", big), 0);
	e2e_expect_status(send_raw(req, strlen(req), &r), 431, &r);
	free(req);
	free(big);

	/* Over max_body_bytes with a Content-Length: refused before reading. */
	big = malloc(E2E_MAX_BODY + 2);
	memset(big, 'x', E2E_MAX_BODY + 1);
	big[E2E_MAX_BODY + 1] = '\0';
	e2e_expect_status(e2e_signed_post("/antom/notify", "/antom/notify", big,
	    &r), 413, &r);

	/* The same, chunked: no Content-Length to refuse early. */
	{
		FILE *f = open_memstream(&req, &n);

		fprintf(f, "POST /antom/notify HTTP/1.1\r\nHost: x\r\n"
		    "client-id: %s\r\nrequest-time: 1\r\nsignature: x\r\n"
		    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
		    SANDBOX);
		for (i = 0; i < 4; i++)
			fprintf(f, "%x\r\n%.*s\r\n", E2E_MAX_BODY / 2,
			    E2E_MAX_BODY / 2, big);
		fprintf(f, "0\r\n\r\n");
		fclose(f);
	}
	e2e_expect_status(send_raw(req, n, &r), 413, &r);
	free(req);
	free(big);
	ck_assert_int_eq(rows_written(), 0);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
}
END_TEST

START_TEST(test_chunked_within_limit)
{
	char *b = e2e_pay_body("PR-CH", "PAYMENT_RESULT", "S");
	char hdr[SIGN_HEADER_MAX], *req;
	struct client_response r;
	size_t half = strlen(b) / 2, n;
	FILE *f;

	e2e_sign_rt1(b, hdr);
	f = open_memstream(&req, &n);
	fprintf(f, "POST /antom/notify HTTP/1.1\r\nHost: x\r\nclient-id: %s\r\n"
	    "request-time: 1\r\nsignature: %s\r\nTransfer-Encoding: chunked\r\n"
	    "Connection: close\r\n\r\n%zx\r\n%.*s\r\n%zx\r\n%s\r\n0\r\n\r\n",
	    SANDBOX, hdr, half, (int)half, b, strlen(b) - half, b + half);
	fclose(f);
	e2e_expect_status(send_raw(req, n, &r), 200, &r);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments"), 1);
	free(req);
	free(b);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
}
END_TEST

START_TEST(test_non_json_archived)
{
	const char *bodies[] = { "not json at all", "{\"notifyType\":"
	    "\"REFUND_RESULT\",\"refundRequestId\":\"RR-1\"}", "" };
	size_t i;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
		e2e_deliver_ok(bodies[i]);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM notifications WHERE "
	    "outcome = 'archived'"), 3);
	/* A BLOB on SQLite, bytea on PostgreSQL: each its own cast. */
	ck_assert_str_eq(e2e_q_text(e2e.pgdb[0] != '\0' ?
	    "SELECT convert_from(body, 'UTF8') FROM notifications"
	    " WHERE id = 1" :
	    "SELECT CAST(body AS TEXT) FROM notifications WHERE id = 1"),
	    "not json at all");
	ck_assert_str_eq(e2e_q_text("SELECT notify_type FROM notifications "
	    "WHERE id = 2"), "REFUND_RESULT");
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments"), 0);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
}
END_TEST

START_TEST(test_query_and_proxy_paths)
{
	char *a = e2e_pay_body("PR-Q", "PAYMENT_RESULT", "S");
	char *b = e2e_pay_body("PR-PX", "PAYMENT_RESULT", "S");
	char *c = e2e_pay_body("PR-PX2", "PAYMENT_RESULT", "S");
	struct client_response r;

	/* Signed over path?query: verifies on the retry. */
	e2e_expect_status(e2e_signed_post("/antom/notify?order=1&x=%2F",
	    "/antom/notify?order=1&x=%2F", a, &r), 200, &r);
	ck_assert_str_eq(e2e_q_text("SELECT signed_path FROM notifications"),
	    "/antom/notify?order=1&x=%2F");
	/* Behind a proxy: served at /local/notify, signed as the public path. */
	e2e_expect_status(e2e_signed_post("/local/notify",
	    "/public/prefix/notify", b, &r), 200, &r);
	/* Signed over the local path instead: not what Antom signs, refused. */
	e2e_expect_status(e2e_signed_post("/local/notify", "/local/notify", c,
	    &r), 401, &r);
	/* A genuine notification replayed to another route does not verify. */
	e2e_expect_status(e2e_signed_post("/api/back", "/antom/notify", c, &r),
	    401, &r);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments"), 2);
	free(a);
	free(b);
	free(c);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
}
END_TEST

/*
 * Refunds and links: on PostgreSQL each of the application's links is a
 * commit the synchronous standby confirms, one at a time: fewer there.
 */
#define LINKS_N	(e2e.pgdb[0] != '\0' ? 40 : 100)

/*
 * A notifyRefund as Antom sends it: no paymentId or paymentRequestId.
 * Antom publishes no notifyRefund body; this one follows the documented
 * parameters (docs/protocol.md section 4.5).  Caller frees.
 */
static char *
refund_body(const char *rrid, const char *value)
{
	char *b;

	ck_assert_int_gt(asprintf(&b, "{\"notifyType\":\"REFUND_RESULT\","
	    "\"result\":{\"resultCode\":\"SUCCESS\",\"resultStatus\":\"S\","
	    "\"resultMessage\":\"success\"},\"refundRequestId\":\"%s\","
	    "\"refundId\":\"R-%s\",\"refundAmount\":{\"value\":\"%s\","
	    "\"currency\":\"SGD\"},\"refundTime\":"
	    "\"2022-11-11T10:00:00+08:00\",\"refundStatus\":\"SUCCESS\"}",
	    rrid, rrid, value), 0);
	return b;
}

/*
 * The merchant application: a link for each refund, last first, one
 * transaction each on its own connection with a busy timeout, as the
 * README says.  The number of links written.
 */
static void *
links_writer(void *arg)
{
	char sql[256];
	long n = 0;
	int i;

	(void)arg;
	for (i = LINKS_N - 1; i >= 0; i--) {
		snprintf(sql, sizeof(sql), "INSERT INTO refund_links"
		    " (client_id, refund_request_id, payment_request_id)"
		    " VALUES ('%s', 'RR-L-%03d', 'PR-LINKS')", SANDBOX, i);
		if (e2e_try_exec(sql) == 0)
			n++;
		usleep(1000);
	}
	return (void *)n;
}

/*
 * A merchant application links refunds to their payment while antomd
 * writes: before the refund arrives or after, every delivery is still
 * acknowledged, and every refund is counted once against its payment.
 */
START_TEST(test_links_while_writing)
{
	char *pay = e2e_pay_body("PR-LINKS", "PAYMENT_RESULT", "S");
	char rrid[32], *b;
	pthread_t t;
	void *written;
	int i;

	e2e_deliver_ok(pay);
	ck_assert_int_eq(pthread_create(&t, NULL, links_writer, NULL), 0);
	for (i = 0; i < LINKS_N; i++) {
		snprintf(rrid, sizeof(rrid), "RR-L-%03d", i);
		b = refund_body(rrid, "10");
		e2e_deliver_ok(b);
		free(b);
	}
	ck_assert_int_eq(pthread_join(t, &written), 0);
	ck_assert_int_eq((long)written, LINKS_N);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM refund_status WHERE"
	    " link = 'linked' AND payment_request_id = 'PR-LINKS'"), LINKS_N);
	ck_assert_int_eq(e2e_q_int("SELECT refunded_amount_value FROM"
	    " payment_status WHERE payment_request_id = 'PR-LINKS'"),
	    10 * LINKS_N);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payment_timeline"
	    " WHERE payment_request_id = 'PR-LINKS' AND object_type ="
	    " 'refund'"), LINKS_N);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM notifications WHERE"
	    " kind = 'refund' AND outcome = 'applied'"), LINKS_N);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	free(pay);
}
END_TEST

/*
 * A payment body whose authorisation lapses at now + secs, written in
 * Antom's form with the given offset from UTC (hours): the local clock
 * shown is not UTC, so a query comparing the text would get it wrong.
 */
static char *
readme_auth_body(const char *prid, long secs, int offset_h)
{
	char *b = e2e_pay_body(prid, "PAYMENT_RESULT", "S"), *out, when[32];
	time_t t = time(NULL) + secs + offset_h * 3600;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	ck_assert_int_gt(asprintf(&out, "%.*s,\"authExpiryTime\":\"%s%c%02d:00\"}",
	    (int)strlen(b) - 1, b, when, offset_h < 0 ? '-' : '+',
	    abs(offset_h)), 0);
	free(b);
	return out;
}

/* cmd with every from replaced by to; frees cmd. */
static char *
readme_subst(char *cmd, const char *from, const char *to)
{
	char *at, *n;

	while ((at = strstr(cmd, from)) != NULL) {
		n = test_fmt("%.*s%s%s", (int)(at - cmd), cmd, to,
		    at + strlen(from));
		free(cmd);
		cmd = n;
	}
	return cmd;
}

#define README_MAX	32

/* A command of the README's section, and whether it is a psql one. */
struct readme_cmd {
	char	*text;
	int	 psql;
};

/*
 * The commands of the README's section on queries for merchant
 * applications, in order.  A command starts on a line indented by 4 with
 * "sqlite3 " or "psql " and goes on over the lines indented by 6 after
 * it; anything else ends it.  A psql command is the PostgreSQL form of
 * the sqlite3 command just before it.
 */
static size_t
readme_commands(char *readme, struct readme_cmd *c)
{
	char *line, *rest, *end;
	FILE *f = NULL;
	size_t n = 0, len;

	rest = strstr(readme, "## Queries for merchant applications");
	ck_assert_ptr_nonnull(rest);
	ck_assert_ptr_nonnull(end = strstr(rest, "\n## HTTP status policy"));
	*end = '\0';
	while ((line = strsep(&rest, "\n")) != NULL) {
		if (f != NULL && strncmp(line, "      ", 6) == 0) {
			fprintf(f, "%s\n", line + 4);
			continue;
		}
		if (f != NULL) {
			fclose(f);
			f = NULL;
			n++;
		}
		if (strncmp(line, "    sqlite3 ", 12) != 0 &&
		    strncmp(line, "    psql ", 9) != 0)
			continue;
		ck_assert_int_lt(n, README_MAX);
		c[n].psql = line[4] == 'p';
		ck_assert_msg(!c[n].psql || (n > 0 && !c[n - 1].psql),
		    "README: %s follows no sqlite3 command", line);
		f = open_memstream(&c[n].text, &len);
		fprintf(f, "%s\n", line + 4);
	}
	if (f != NULL) {
		fclose(f);
		n++;
	}
	return n;
}

/*
 * The shell command that runs command i of n on this test's engine, or
 * NULL when there is none.  On SQLite, the sqlite3 commands on the
 * test's files.  On PostgreSQL, with ANTOMD_DB set to the database: a
 * psql form as written; the SQL of a sqlite3 command no psql form
 * follows through psql as the README says, unchanged; no sqlite3
 * dot-command (".backup"), which is not SQL.  Caller frees.
 */
static char *
readme_runnable(const struct readme_cmd *c, size_t i, size_t n)
{
	const char *sql;

	if (e2e.pgdb[0] == '\0') {
		char dir[64];

		if (c[i].psql)
			return NULL;
		snprintf(dir, sizeof(dir), "%s/", e2e.dir);
		return readme_subst(readme_subst(strdup(c[i].text),
		    "/var/lib/antomd/antomd.db", e2e.db), "/var/backups/", dir);
	}
	if (c[i].psql)
		return strdup(c[i].text);
	if (i + 1 < n && c[i + 1].psql)
		return NULL;
	ck_assert_ptr_nonnull(sql = strchr(c[i].text, '"'));
	if (sql[1] == '.')
		return NULL;
	return test_fmt("psql -qAt \"$ANTOMD_DB\" -c %s", sql);
}

/* Whether cmd holds s, counted in *checks when it does. */
static int
readme_has(const char *cmd, const char *s, int *checks)
{
	if (strstr(cmd, s) == NULL)
		return 0;
	(*checks)++;
	return 1;
}

/*
 * What the command's output must say, by what it queries (soon and east:
 * the bodies of the authorisations due within 24 h); how many checks
 * applied.
 */
static int
readme_check(const char *cmd, const char *out, const char *soon,
    const char *east)
{
	char want[1024];
	int checks = 0;

	/* The link, written while antomd runs; twice is once. */
	if (readme_has(cmd, "INSERT INTO refund_links", &checks)) {
		FILE *p;

		ck_assert_str_eq(out, "");
		ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM refund_links"
		    " WHERE refund_request_id = 'RR-README' AND"
		    " payment_request_id = 'paymentRequestId01'"), 1);
		ck_assert_ptr_nonnull(p = popen(cmd, "r"));
		ck_assert_int_eq(pclose(p), 0);
	}
	if (readme_has(cmd, "FROM payment_status WHERE payment_", &checks))
		ck_assert_msg(strncmp(out, "SUCCESS|4200|SGD|4200|1000|1|", 29)
		    == 0, "%s", out);
	if (readme_has(cmd, "WHERE mismatched_count > 0", &checks))
		ck_assert_str_eq(out, "SANDBOX_5YEZ4X2ZEB3C05479|"
		    "paymentRequestId01|SUCCESS|SGD|1\n");
	/* What needs a human: both, with what they contradict. */
	if (readme_has(cmd, "WHERE outcome = 'conflict'", &checks))
		ck_assert_msg(strstr(out, "|payment|PR-AMT|PAYMENT_RESULT|"
		    "applied|amount 4200 SGD -> 1 JPY|") != NULL && strstr(out,
		    "|payment|PR-AMT|PAYMENT_RESULT|conflict|amount 1 JPY -> 2"
		    " JPY|") != NULL && strstr(out, "RR-") == NULL, "%s", out);
	if (readme_has(cmd, "FROM payment_captures", &checks))
		ck_assert_msg(strstr(out, "paymentRequestId01|CR-README|4200|"
		    "SGD|") != NULL, "%s", out);
	if (readme_has(cmd, "FROM events", &checks))
		ck_assert_msg(strstr(out, "\n3|") != NULL, "%s", out);
	if (readme_has(cmd, "FROM payment_timeline", &checks))
		ck_assert_msg(strstr(out, "|payment|paymentRequestId01"
		    "||SUCCESS\n2|") != NULL && strstr(out,
		    "|capture|CR-README||SUCCESS\n3|") != NULL &&
		    strstr(out, "|refund|RR-README||SUCCESS\n") != NULL, "%s",
		    out);
	/* Linked refunds are not listed; the others say why. */
	if (readme_has(cmd, "FROM refund_status", &checks))
		ck_assert_str_eq(out, SANDBOX "|RR-GHOST|R-RR-GHOST|SUCCESS|500|"
		    "SGD|payment_unknown\n" SANDBOX "|RR-LOST|R-RR-LOST|SUCCESS|"
		    "700|SGD|unlinked\n");
	/* Due within 24 h by the offset, not the clock shown. */
	if (readme_has(cmd, "auth_expiry_time", &checks)) {
		snprintf(want, sizeof(want), SANDBOX "|PR-AUTH|P-PR-AUTH|4200|"
		    "SGD|%.25s\n" SANDBOX "|PR-AUTH-EAST|P-PR-AUTH-EAST|4200|"
		    "SGD|%.25s\n", strstr(soon, "authExpiryTime") + 17,
		    strstr(east, "authExpiryTime") + 17);
		ck_assert_str_eq(out, want);
	}
	if (readme_has(cmd, "pspCustomerInfo", &checks))
		ck_assert_str_eq(out, "cc89dd30134549d6|GCASH|"
		    "test***@xxx.com\n");
	return checks;
}

/*
 * The README's commands for merchant applications, run as written (only
 * the database and backup paths replaced) against a database antomd is
 * writing, on either engine (readme_runnable()): each must succeed, and
 * say what it should.  Refunds name no payment, as Antom's never do: the
 * README's INSERT links RR-README, the test links RR-USD and RR-GHOST (to
 * a payment antomd does not hold) as the application would, and RR-LOST
 * stays unlinked.
 */
START_TEST(test_readme_queries)
{
	char path[512], *readme, *cmd, *out;
	char *b = e2e_pay_body("paymentRequestId01", "PAYMENT_RESULT", "S");
	char *c = cap_body("CR-README", "paymentRequestId01", "S");
	char *r = refund_body("RR-README", "1000");
	char *lost = refund_body("RR-LOST", "700");
	char *ghost = refund_body("RR-GHOST", "500");
	/* Antom's 2019 sandbox GCash payment, with its pspCustomerInfo. */
	char *gcash = test_slurp(test_path(path, sizeof(path),
	    "corpus/payment-gcash-sandbox-2019-real.json"), NULL);
	/* Lapses in 6 h and in 20 h (UTC+14): to capture now. */
	char *soon = readme_auth_body("PR-AUTH", 6 * 3600, 8);
	char *east = readme_auth_body("PR-AUTH-EAST", 20 * 3600, 14);
	/* Captured; in 30 h (the clock in UTC-10 says 20 h); in 3 days. */
	char *capd = readme_auth_body("PR-AUTH-CAP", 6 * 3600, 8);
	char *ccap = cap_body("CR-AUTH", "PR-AUTH-CAP", "S");
	char *west = readme_auth_body("PR-AUTH-WEST", 30 * 3600, -10);
	char *later = readme_auth_body("PR-AUTH-LATER", 72 * 3600, 0);
	struct readme_cmd cmds[README_MAX];
	size_t i, n, outlen;
	int ran = 0, forms = 0, st, pgsql = e2e.pgdb[0] != '\0';
	FILE *p;

	char *pend = pay_amount_body("PR-AMT", "PAYMENT_PENDING", "4200", "SGD");
	char *jpy = pay_amount_body("PR-AMT", "PAYMENT_RESULT", "1", "JPY");
	char *jpy2 = pay_amount_body("PR-AMT", "PAYMENT_RESULT", "2", "JPY");
	/* Not in the payment's currency: flagged, never added. */
	const char *usd = "{\"notifyType\":\"REFUND_RESULT\",\"result\":"
	    "{\"resultCode\":\"SUCCESS\",\"resultStatus\":\"S\","
	    "\"resultMessage\":\"success\"},\"refundRequestId\":\"RR-USD\","
	    "\"refundId\":\"R-RR-USD\",\"refundAmount\":{\"value\":\"100\","
	    "\"currency\":\"USD\"},\"refundTime\":\"2022-11-11T10:00:00+08:00\","
	    "\"refundStatus\":\"SUCCESS\"}";

	e2e_deliver_ok(b);
	e2e_deliver_ok(c);
	e2e_deliver_ok(r);
	e2e_deliver_ok(usd);
	e2e_deliver_ok(pend);
	e2e_deliver_ok(jpy);
	e2e_deliver_ok(jpy2);
	e2e_deliver_ok(lost);
	e2e_deliver_ok(ghost);
	e2e_deliver_ok(gcash);
	e2e_deliver_ok(soon);
	e2e_deliver_ok(east);
	e2e_deliver_ok(capd);
	e2e_deliver_ok(ccap);
	e2e_deliver_ok(west);
	e2e_deliver_ok(later);
	e2e_exec("INSERT INTO refund_links (client_id, refund_request_id,"
	    " payment_request_id) VALUES ('" SANDBOX "', 'RR-USD',"
	    " 'paymentRequestId01'), ('" SANDBOX "', 'RR-GHOST',"
	    " 'PR-NOT-YET')");
	if (pgsql)
		ck_assert_int_eq(setenv("ANTOMD_DB", e2e.pgdb, 1), 0);
	readme = test_slurp(test_path(path, sizeof(path), "../README.md"), NULL);
	n = readme_commands(readme, cmds);
	for (i = 0; i < n; i++) {
		if ((cmd = readme_runnable(cmds, i, n)) == NULL)
			continue;
		ck_assert_ptr_nonnull(p = popen(cmd, "r"));
		out = calloc(1, 4096);
		outlen = fread(out, 1, 4095, p);
		st = pclose(p);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		    "README command failed:\n%s\n%.*s", cmd, (int)outlen, out);
		ck_assert_msg(readme_check(cmd, out, soon, east) > 0 ||
		    strstr(cmd, ".backup") != NULL, "README command not "
		    "checked:\n%s", cmd);
		ran++;
		forms += cmds[i].psql;
		free(out);
		free(cmd);
	}
	for (i = 0; i < n; i++)
		free(cmds[i].text);
	/* Three queries have a form of their own on PostgreSQL. */
	ck_assert_int_eq(ran, pgsql ? 10 : 11);
	ck_assert_int_eq(forms, pgsql ? 3 : 0);
	if (!pgsql) {
		/* The backup is a whole database of its own. */
		snprintf(path, sizeof(path), "sqlite3 %s/antomd.db 'PRAGMA "
		    "integrity_check; SELECT count(*) FROM payments'", e2e.dir);
		p = popen(path, "r");
		out = calloc(1, 256);
		outlen = fread(out, 1, 255, p);
		ck_assert_int_eq(pclose(p), 0);
		ck_assert_str_eq(out, "ok\n8\n");
		free(out);
	}
	free(readme);
	free(b);
	free(c);
	free(r);
	free(lost);
	free(ghost);
	free(gcash);
	free(soon);
	free(east);
	free(capd);
	free(ccap);
	free(west);
	free(later);
	free(pend);
	free(jpy);
	free(jpy2);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
}
END_TEST

/*
 * The tests, on either engine: every test here is about what antomd does
 * with what it receives, seen through HTTP and the tables, whichever
 * engine stores them.  What only SQLite has (its file modes, the WAL and
 * its checkpointer, a locked database file) is tested on SQLite alone,
 * in the suites that test it (store, e2e_faults, ops, install).
 */
static void
add_tests(TCase *tc)
{
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_vectors);
	tcase_add_test(tc, test_eight_deliveries);
	tcase_add_test(tc, test_capture_before_payment);
	tcase_add_test(tc, test_pending_after_success);
	tcase_add_test(tc, test_fail_after_success_conflict);
	tcase_add_test(tc, test_amount_contradictions_warned);
	tcase_add_test(tc, test_bad_signature_writes_nothing);
	tcase_add_test(tc, test_headers_missing_or_duplicated);
	tcase_add_test(tc, test_method_path_size);
	tcase_add_test(tc, test_chunked_within_limit);
	tcase_add_test(tc, test_non_json_archived);
	tcase_add_test(tc, test_query_and_proxy_paths);
	tcase_add_test(tc, test_readme_queries);
	tcase_add_test(tc, test_links_while_writing);
}

Suite *
e2e_protocol_suite(void)
{
	Suite *s = suite_create("e2e_protocol");
	TCase *tc = tcase_create("daemon");

	tcase_add_checked_fixture(tc, e2e_setup, e2e_teardown);
	add_tests(tc);
	suite_add_tcase(s, tc);
	/* antomd on a primary and a synchronous standby. */
	tc = e2e_pg_tcase("e2e_protocol", e2e_setup, e2e_teardown);
	if (tc != NULL) {
		add_tests(tc);
		suite_add_tcase(s, tc);
	}
	return s;
}
