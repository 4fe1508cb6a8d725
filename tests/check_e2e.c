/*
 * check_e2e.c - the real antomd binary, driven over HTTP.
 *
 * Each test binds a listening socket on 127.0.0.1 port 0 itself and hands
 * it to antomd through systemd's socket-activation protocol (LISTEN_FDS),
 * so there is no port race and no wait for start-up: connections queue in
 * the socket's backlog until the daemon accepts them.  The database is
 * inspected afterwards with plain SQL, as a merchant application would.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "antom.h"
#include "client.h"
#include "http.h"
#include "sign.h"
#include "e2e.h"
#include "suites.h"

#define SANDBOX	"SANDBOX_5YEZ4X2ZEB3C05479"
#define TIMEOUT_MS	30000
#define MAX_BODY	4096



/* When set, replaces the default SANDBOX key line of write_conf(). */
static const char *conf_clients;

static void
write_conf(const char *extra)
{
	char pem[512], line[640];
	char *real = e2e_real_antom_key();
	FILE *f = fopen(e2e.conf, "w");

	ck_assert_ptr_nonnull(f);
	snprintf(line, sizeof(line), "client %s 1 %s", SANDBOX,
	    test_path(pem, sizeof(pem), "vectors/test-antom-public.pem"));
	fprintf(f, "# written by check_e2e\n"
	    "listen 127.0.0.1:1\n"	/* unused: the socket is passed in */
	    "metrics_listen off\n"
	    "database %s\n"
	    "route /antom/notify\n"
	    "route /api/back\n"
	    "route /local/notify /public/prefix/notify\n"
	    "%s\n"
	    "client T_ALLPAY_1 1 %s\n"
	    "max_body_bytes %d\n"
	    "busy_timeout_ms 200\n"
	    "idle_timeout_s 5\n"
	    "shutdown_timeout_s 5\n"
	    "%s", e2e.db, conf_clients != NULL ? conf_clients : line,
	    real, MAX_BODY, extra != NULL ? extra : "");
	fclose(f);
	free(real);
}





static void
setup_dirs(void)
{
	e2e_setup_dirs("e2e");
}

static void
setup(void)
{
	setup_dirs();
	write_conf(NULL);
	e2e_start_daemon();
}

/* Send raw bytes, return the HTTP status (the response is kept in *resp). */
static int
send_raw(const char *req, size_t len, struct client_response *resp)
{
	char err[256] = "";

	memset(resp, 0, sizeof(*resp));
	ck_assert_msg(client_raw("127.0.0.1", e2e.port, req, len, TIMEOUT_MS,
	    resp, err, sizeof(err)) == 0, "client_raw: %s", err);
	return resp->status;
}

/* A POST with the three Antom headers (NULL leaves one out). */
static int
post(const char *target, const char *client, const char *rtime,
    const char *sig, const char *body, struct client_response *resp)
{
	char *req;
	size_t len;
	FILE *f = open_memstream(&req, &len);
	int status;

	fprintf(f, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Content-Type: application/json\r\n", target);
	if (client != NULL)
		fprintf(f, "client-id: %s\r\n", client);
	if (rtime != NULL)
		fprintf(f, "request-time: %s\r\n", rtime);
	if (sig != NULL)
		fprintf(f, "signature: %s\r\n", sig);
	fprintf(f, "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
	    strlen(body), body);
	fclose(f);
	status = send_raw(req, len, resp);
	free(req);
	return status;
}


/* Sign body for /antom/notify with request-time "1" into hdr. */
static void
sign_rt1(const char *body, char hdr[SIGN_HEADER_MAX])
{
	char err[256];

	if (sign_header(e2e_test_key(), "/antom/notify", SANDBOX, "1",
	    (const unsigned char *)body, strlen(body), NULL, hdr,
	    SIGN_HEADER_MAX, err, sizeof(err)) != 0) {
		fprintf(stderr, "sign: %s\n", err);
		abort();	/* also from client threads, where ck_assert is not */
	}
}

/* Sign over signed_path, send to target; returns the status. */
static int
signed_post(const char *target, const char *signed_path, const char *body,
    struct client_response *resp)
{
	char hdr[SIGN_HEADER_MAX], err[256];
	const char *rtime = "2024-05-11T02:13:00Z";

	ck_assert_msg(sign_header(e2e_test_key(), signed_path, SANDBOX, rtime,
	    (const unsigned char *)body, strlen(body), NULL, hdr, sizeof(hdr),
	    err, sizeof(err)) == 0, "sign: %s", err);
	return post(target, SANDBOX, rtime, hdr, body, resp);
}

/* Sign and send to /antom/notify; asserts 200 + the exact SUCCESS body. */
static void
deliver_ok(const char *body)
{
	struct client_response r;

	ck_assert_int_eq(signed_post("/antom/notify", "/antom/notify", body, &r),
	    200);
	ck_assert_str_eq(r.body, ANTOM_SUCCESS_BODY);
	client_response_free(&r);
}

static void
expect_status(int got, int want, struct client_response *r)
{
	ck_assert_msg(got == want, "status %d, want %d; body %s", got, want,
	    r->body != NULL ? r->body : "(none)");
	client_response_free(r);
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
pay_body(const char *prid, const char *type, const char *rs)
{
	char *b;

	ck_assert_int_gt(asprintf(&b, "{\"notifyType\":\"%s\",\"result\":"
	    "{\"resultCode\":\"SUCCESS\",\"resultStatus\":\"%s\","
	    "\"resultMessage\":\"success\"},\"paymentRequestId\":\"%s\","
	    "\"paymentId\":\"P-%s\",\"paymentAmount\":{\"value\":\"4200\","
	    "\"currency\":\"SGD\"},\"paymentResultInfo\":{\"cardBrand\":\"VISA\","
	    "\"threeDSResult\":{\"cavv\":\"cavvSecret\"}}}", type, rs, prid,
	    prid), 0);
	return b;
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

static char *
slurp_log(void)
{
	return test_slurp(e2e.log, NULL);
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
	char *b = pay_body("PR-8", "PAYMENT_RESULT", "S");
	int i;

	for (i = 0; i < 8; i++)
		deliver_ok(b);
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
	char *p = pay_body("PR-1", "PAYMENT_RESULT", "S");

	deliver_ok(c);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM captures"), 1);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payment_captures"), 0);
	deliver_ok(p);
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
	char *s = pay_body("PR-2", "PAYMENT_RESULT", "S");
	char *p = pay_body("PR-2", "PAYMENT_PENDING", "S");

	deliver_ok(s);
	deliver_ok(p);
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
	char *s = pay_body("PR-3", "PAYMENT_RESULT", "S");
	char *f = pay_body("PR-3", "PAYMENT_RESULT", "F");
	char *log;

	deliver_ok(s);
	deliver_ok(f);	/* acknowledged: Antom must not retry a conflict forever */
	ck_assert_str_eq(e2e_q_text("SELECT status FROM payments"), "SUCCESS");
	ck_assert_str_eq(e2e_q_text("SELECT outcome FROM notifications WHERE id = 2"),
	    "conflict");
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM events"), 1);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	log = slurp_log();
	ck_assert_ptr_nonnull(strstr(log, "level=warn"));
	ck_assert_ptr_nonnull(strstr(log, "outcome=conflict"));
	free(log);
	free(s);
	free(f);
}
END_TEST

START_TEST(test_bad_signature_writes_nothing)
{
	char *b = pay_body("PR-4", "PAYMENT_RESULT", "S");
	char hdr[SIGN_HEADER_MAX], *log;
	struct client_response r;

	sign_rt1(b, hdr);
	/* Signed request-time "1", sent "2": the content differs. */
	expect_status(post("/antom/notify", SANDBOX, "2", hdr, b, &r), 401, &r);
	/* Unknown client. */
	expect_status(post("/antom/notify", "SANDBOX_OTHER", "1", hdr, b, &r),
	    401, &r);
	/* Unsupported algorithm. */
	expect_status(post("/antom/notify", SANDBOX, "1",
	    "algorithm=RSA512,keyVersion=1,signature=AAAA", b, &r), 401, &r);
	/* Bad base64. */
	expect_status(post("/antom/notify", SANDBOX, "1",
	    "algorithm=RSA256,keyVersion=1,signature=%%%", b, &r), 401, &r);
	/* No signature field at all. */
	expect_status(post("/antom/notify", SANDBOX, "1", "algorithm=RSA256", b,
	    &r), 400, &r);
	ck_assert_int_eq(rows_written(), 0);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	log = slurp_log();
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
	char *b = pay_body("PR-5", "PAYMENT_RESULT", "S");
	char hdr[SIGN_HEADER_MAX], *req;
	struct client_response r;

	sign_rt1(b, hdr);
	expect_status(post("/antom/notify", NULL, "1", hdr, b, &r), 400, &r);
	expect_status(post("/antom/notify", SANDBOX, NULL, hdr, b, &r), 400, &r);
	expect_status(post("/antom/notify", SANDBOX, "1", NULL, b, &r), 400, &r);
	/* Twice the same header, different case: ambiguous, refused. */
	ck_assert_int_gt(asprintf(&req, "POST /antom/notify HTTP/1.1\r\n"
	    "Host: x\r\nclient-id: %s\r\nClient-Id: %s\r\nrequest-time: 1\r\n"
	    "signature: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
	    SANDBOX, SANDBOX, hdr, strlen(b), b), 0);
	expect_status(send_raw(req, strlen(req), &r), 400, &r);
	free(req);
	/* A control character in a header value. */
	expect_status(post("/antom/notify", SANDBOX, "1\x1b[31m", hdr, b, &r),
	    400, &r);
	ck_assert_int_eq(rows_written(), 0);
	/* The same request, well formed, is accepted. */
	expect_status(post("/antom/notify", SANDBOX, "1", hdr, b, &r), 200, &r);
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
	expect_status(send_raw(nopath, strlen(nopath), &r), 404, &r);
	expect_status(send_raw(trailing, strlen(trailing), &r), 404, &r);

	/* Headers over connection_memory_limit (32 KiB by default): 431. */
	big = malloc(40001);
	memset(big, 'a', 40000);
	big[40000] = '\0';
	ck_assert_int_gt(asprintf(&req, "POST /antom/notify HTTP/1.1\r\n"
	    "Host: x\r\nX-Big: %s\r\nContent-Length: 2\r\n"
	    "Connection: close\r\n\r\n{}", big), 0);
	expect_status(send_raw(req, strlen(req), &r), 431, &r);
	free(req);
	free(big);

	/* Over max_body_bytes with a Content-Length: refused before reading. */
	big = malloc(MAX_BODY + 2);
	memset(big, 'x', MAX_BODY + 1);
	big[MAX_BODY + 1] = '\0';
	expect_status(signed_post("/antom/notify", "/antom/notify", big, &r),
	    413, &r);

	/* The same, chunked: no Content-Length to refuse early. */
	{
		FILE *f = open_memstream(&req, &n);

		fprintf(f, "POST /antom/notify HTTP/1.1\r\nHost: x\r\n"
		    "client-id: %s\r\nrequest-time: 1\r\nsignature: x\r\n"
		    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
		    SANDBOX);
		for (i = 0; i < 4; i++)
			fprintf(f, "%x\r\n%.*s\r\n", MAX_BODY / 2, MAX_BODY / 2, big);
		fprintf(f, "0\r\n\r\n");
		fclose(f);
	}
	expect_status(send_raw(req, n, &r), 413, &r);
	free(req);
	free(big);
	ck_assert_int_eq(rows_written(), 0);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
}
END_TEST

START_TEST(test_chunked_within_limit)
{
	char *b = pay_body("PR-CH", "PAYMENT_RESULT", "S");
	char hdr[SIGN_HEADER_MAX], *req;
	struct client_response r;
	size_t half = strlen(b) / 2, n;
	FILE *f;

	sign_rt1(b, hdr);
	f = open_memstream(&req, &n);
	fprintf(f, "POST /antom/notify HTTP/1.1\r\nHost: x\r\nclient-id: %s\r\n"
	    "request-time: 1\r\nsignature: %s\r\nTransfer-Encoding: chunked\r\n"
	    "Connection: close\r\n\r\n%zx\r\n%.*s\r\n%zx\r\n%s\r\n0\r\n\r\n",
	    SANDBOX, hdr, half, (int)half, b, strlen(b) - half, b + half);
	fclose(f);
	expect_status(send_raw(req, n, &r), 200, &r);
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
		deliver_ok(bodies[i]);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM notifications WHERE "
	    "outcome = 'archived'"), 3);
	ck_assert_str_eq(e2e_q_text("SELECT CAST(body AS TEXT) FROM notifications "
	    "WHERE id = 1"), "not json at all");
	ck_assert_str_eq(e2e_q_text("SELECT notify_type FROM notifications "
	    "WHERE id = 2"), "REFUND_RESULT");
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments"), 0);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
}
END_TEST

START_TEST(test_query_and_proxy_paths)
{
	char *a = pay_body("PR-Q", "PAYMENT_RESULT", "S");
	char *b = pay_body("PR-PX", "PAYMENT_RESULT", "S");
	char *c = pay_body("PR-PX2", "PAYMENT_RESULT", "S");
	struct client_response r;

	/* Signed over path?query: verifies on the retry. */
	expect_status(signed_post("/antom/notify?order=1&x=%2F",
	    "/antom/notify?order=1&x=%2F", a, &r), 200, &r);
	ck_assert_str_eq(e2e_q_text("SELECT signed_path FROM notifications"),
	    "/antom/notify?order=1&x=%2F");
	/* Behind a proxy: served at /local/notify, signed as the public path. */
	expect_status(signed_post("/local/notify", "/public/prefix/notify", b,
	    &r), 200, &r);
	/* Signed over the local path instead: not what Antom signs, refused. */
	expect_status(signed_post("/local/notify", "/local/notify", c, &r), 401,
	    &r);
	/* A genuine notification replayed to another route does not verify. */
	expect_status(signed_post("/api/back", "/antom/notify", c, &r), 401, &r);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments"), 2);
	free(a);
	free(b);
	free(c);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
}
END_TEST

START_TEST(test_storage_failure_then_retry)
{
	char *b = pay_body("PR-6", "PAYMENT_RESULT", "S");
	struct client_response r;
	sqlite3 *other;

	deliver_ok("{\"warm\":\"up\"}");	/* the database exists now */
	/* Another process holds the write lock past busy_timeout_ms. */
	ck_assert_int_eq(sqlite3_open(e2e.db, &other), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(signed_post("/antom/notify", "/antom/notify", b, &r),
	    503);
	ck_assert_ptr_null(strstr(r.body, "SUCCESS"));
	client_response_free(&r);
	ck_assert_int_eq(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(other);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments"), 0);
	/* Antom's retry, once storage is back, is stored and acknowledged. */
	deliver_ok(b);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments"), 1);
	ck_assert_int_eq(e2e_q_int("SELECT delivery_count FROM notifications "
	    "WHERE id = 2"), 1);
	free(b);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
}
END_TEST

START_TEST(test_log_lines)
{
	char *b = pay_body("PR-L\\u001b[31m", "PAYMENT_RESULT", "S");
	char *ok = pay_body("PR-LOG", "PAYMENT_RESULT", "S");
	char *log;

	deliver_ok(ok);
	deliver_ok(b);	/* an id with ESC: archived, never raw in the log */
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	log = slurp_log();
	ck_assert_ptr_nonnull(strstr(log, "level=info msg=started"));
	ck_assert_ptr_nonnull(strstr(log, "payment_request_id=PR-LOG"));
	ck_assert_ptr_nonnull(strstr(log, "status=200"));
	ck_assert_ptr_nonnull(strstr(log, "outcome=applied"));
	ck_assert_ptr_nonnull(strstr(log, "archive_reason=bad_id"));
	ck_assert_ptr_nonnull(strstr(log, "msg=stopped"));
	ck_assert_ptr_null(strchr(log, 0x1b));
	ck_assert_ptr_null(strstr(log, "cavvSecret"));
	ck_assert_ptr_null(strstr(log, "VISA"));
	free(log);
	free(b);
	free(ok);
}
END_TEST

/* A request stuck behind another process's lock, for the shutdown test. */
struct stuck {
	char	*body;
	int	 status;
};

static void *
stuck_run(void *arg)
{
	struct stuck *st = arg;
	struct client_response r;

	st->status = signed_post("/antom/notify", "/antom/notify", st->body, &r);
	client_response_free(&r);
	return NULL;
}

/*
 * SIGTERM while a request waits on a database locked by someone else:
 * after shutdown_timeout_s the daemon stops waiting, answers 503 (never
 * SUCCESS: nothing was committed) and exits 0, well before systemd's stop
 * timeout would kill it.
 */
START_TEST(test_shutdown_deadline)
{
	struct stuck st = { pay_body("PR-STUCK", "PAYMENT_RESULT", "S"), 0 };
	pthread_t th;
	sqlite3 *other;
	time_t t0;

	ck_assert_int_eq(e2e_stop_daemon(), 0);
	write_conf("busy_timeout_ms 60000\nshutdown_timeout_s 1\n");
	e2e_start_daemon();
	deliver_ok("{\"warm\":\"up\"}");
	ck_assert_int_eq(sqlite3_open(e2e.db, &other), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(pthread_create(&th, NULL, stuck_run, &st), 0);
	usleep(300 * 1000);
	t0 = time(NULL);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	ck_assert_int_le(time(NULL) - t0, 4);
	pthread_join(th, NULL);
	ck_assert_int_eq(st.status, 503);
	ck_assert_int_eq(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(other);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments"), 0);
	free(st.body);
}
END_TEST

/* Key rotation under load: load threads sign with key version 1. */
struct rot {
	volatile int	 stop;
	int		 id;
	int		 sent;
	int		 bad;	/* anything but 200 */
};

static void *
rot_run(void *arg)
{
	struct rot *c = arg;
	char prid[32];
	int i;

	for (i = 0; !c->stop && i < 100000; i++) {
		struct client_response r;
		char *b;
		int st;

		snprintf(prid, sizeof(prid), "ROT%d-%d", c->id, i);
		b = pay_body(prid, "PAYMENT_RESULT", "S");
		st = signed_post("/antom/notify", "/antom/notify", b, &r);
		client_response_free(&r);
		free(b);
		c->sent++;
		if (st != 200)
			c->bad++;
	}
	return NULL;
}

/* Send body signed with key as version kv; returns the status. */
static int
post_with_key(EVP_PKEY *key, long kv, const char *body)
{
	struct sign_options o = { kv, 0, 0, 0 };
	struct client_response r;
	char hdr[SIGN_HEADER_MAX], err[256];
	int st;

	ck_assert_int_eq(sign_header(key, "/antom/notify", SANDBOX, "7",
	    (const unsigned char *)body, strlen(body), &o, hdr, sizeof(hdr),
	    err, sizeof(err)), 0);
	st = post("/antom/notify", SANDBOX, "7", hdr, body, &r);
	client_response_free(&r);
	return st;
}

static void
sighup_and_settle(void)
{
	ck_assert_int_eq(kill(e2e.pid, SIGHUP), 0);
	usleep(300 * 1000);
}

/*
 * SIGHUP adds key version 2 while requests signed with version 1 keep
 * coming: none of them fails.  A second SIGHUP removes version 1: from
 * then on version 1 is refused and version 2 accepted.  A configuration
 * that does not load leaves the one in force and says why.
 */
START_TEST(test_key_rotation_reload)
{
	char kdir[96], priv[128], pub[128], v1[640], both[1400], only2[640];
	char pem[512], err[256], *log;
	struct rot c[3];
	pthread_t th[3];
	EVP_PKEY *k2;
	int i, sent = 0;

	snprintf(kdir, sizeof(kdir), "%s/k2", e2e.dir);
	ck_assert_msg(sign_keygen(kdir, err, sizeof(err)) == 0, "%s", err);
	snprintf(priv, sizeof(priv), "%s/antom-private.pem", kdir);
	snprintf(pub, sizeof(pub), "%s/antom-public.pem", kdir);
	k2 = sign_key_load(priv, err, sizeof(err));
	ck_assert_ptr_nonnull(k2);
	snprintf(v1, sizeof(v1), "client %s 1 %s", SANDBOX,
	    test_path(pem, sizeof(pem), "vectors/test-antom-public.pem"));
	snprintf(only2, sizeof(only2), "client %s 2 %s", SANDBOX, pub);
	snprintf(both, sizeof(both), "%s\n%s", v1, only2);

	(void)e2e_test_key();
	memset(c, 0, sizeof(c));
	for (i = 0; i < 3; i++) {
		c[i].id = i;
		ck_assert_int_eq(pthread_create(&th[i], NULL, rot_run, &c[i]), 0);
	}
	usleep(200 * 1000);
	ck_assert_int_eq(post_with_key(k2, 2, "{\"k\":\"v2-early\"}"), 401);
	conf_clients = both;
	write_conf(NULL);
	sighup_and_settle();
	ck_assert_int_eq(post_with_key(k2, 2, "{\"k\":\"v2\"}"), 200);
	usleep(200 * 1000);
	for (i = 0; i < 3; i++)
		c[i].stop = 1;
	for (i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		ck_assert_msg(c[i].bad == 0, "thread %d: %d of %d requests "
		    "failed across the reload", i, c[i].bad, c[i].sent);
		sent += c[i].sent;
	}
	ck_assert_int_gt(sent, 10);

	conf_clients = only2;
	write_conf(NULL);
	sighup_and_settle();
	ck_assert_int_eq(post_with_key(e2e_test_key(), 1, "{\"k\":\"v1-late\"}"),
	    401);
	ck_assert_int_eq(post_with_key(k2, 2, "{\"k\":\"v2-again\"}"), 200);

	/* A file that does not load changes nothing. */
	write_conf("no_such_directive 1\n");
	sighup_and_settle();
	ck_assert_int_eq(post_with_key(k2, 2, "{\"k\":\"v2-kept\"}"), 200);
	ck_assert_int_eq(post_with_key(e2e_test_key(), 1, "{\"k\":\"v1-still\"}"),
	    401);
	conf_clients = NULL;
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	EVP_PKEY_free(k2);
	log = slurp_log();
	ck_assert_ptr_nonnull(strstr(log, "msg=\"configuration reloaded\""));
	ck_assert_ptr_nonnull(strstr(log, "reload failed, the configuration in "
	    "force is kept"));
	ck_assert_ptr_nonnull(strstr(log, "unknown directive"));
	free(log);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM notifications WHERE "
	    "key_version = 2"), 3);
}
END_TEST

/*
 * Crash consistency: clients send distinct notifications while antomd is
 * killed with SIGKILL at a random moment and started again, cycle after
 * cycle (ANTOMD_CRASH_CYCLES, default 3; make torture runs 20).  Every
 * notification that got SUCCESS must be in the database afterwards, the
 * database must pass integrity_check, and delivering all of them again
 * must change no state.
 */
#define CRASH_THREADS	4
#define CRASH_MAX	3000

struct crash_client {
	int		 id;
	int		 cycle;
	volatile int	 stop;
	int		 nacked;
	char		(*acked)[32];
};

/*
 * From a client thread (no ck_assert there): deliver a signed successful
 * payment prid on a connection of its own.  1 acknowledged with the exact
 * SUCCESS body, 0 answered otherwise, -1 no answer (connection refused
 * or closed).
 */
static int
thread_deliver(const char *prid)
{
	struct client_response r;
	char hdr[SIGN_HEADER_MAX], err[256], *req;
	char *b = pay_body(prid, "PAYMENT_RESULT", "S");
	size_t n;
	FILE *f;
	int rc;

	sign_rt1(b, hdr);
	f = open_memstream(&req, &n);
	fprintf(f, "POST /antom/notify HTTP/1.1\r\nHost: x\r\n"
	    "client-id: %s\r\nrequest-time: 1\r\nsignature: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
	    SANDBOX, hdr, strlen(b), b);
	fclose(f);
	memset(&r, 0, sizeof(r));
	if (client_raw("127.0.0.1", e2e.port, req, n, TIMEOUT_MS, &r, err,
	    sizeof(err)) != 0)
		rc = -1;
	else
		rc = r.status == 200 && strcmp(r.body, ANTOM_SUCCESS_BODY) == 0;
	client_response_free(&r);
	free(req);
	free(b);
	return rc;
}

static void *
crash_run(void *arg)
{
	struct crash_client *c = arg;
	char prid[32];
	int i;

	for (i = 0; !c->stop && c->nacked < CRASH_MAX; i++) {
		snprintf(prid, sizeof(prid), "K%d-%d-%d", c->cycle, c->id, i);
		if (thread_deliver(prid) == 1) {
			snprintf(c->acked[c->nacked], 32, "%s", prid);
			__atomic_store_n(&c->nacked, c->nacked + 1,
			    __ATOMIC_RELEASE);
		}
	}
	return NULL;
}

START_TEST(test_crash_consistency)
{
	const char *env = getenv("ANTOMD_CRASH_CYCLES");
	int cycles = env != NULL ? atoi(env) : 3, cyc, i, j, total = 0;
	int resent = 0;
	struct crash_client *all;
	long long events;
	char sql[160];

	all = calloc((size_t)cycles * CRASH_THREADS, sizeof(*all));
	ck_assert_ptr_nonnull(all);
	(void)e2e_test_key();
	srand((unsigned)getpid());
	for (cyc = 0; cyc < cycles; cyc++) {
		pthread_t th[CRASH_THREADS];
		int status;

		if (cyc > 0)
			e2e_start_daemon();
		for (i = 0; i < CRASH_THREADS; i++) {
			struct crash_client *c = &all[cyc * CRASH_THREADS + i];

			c->id = i;
			c->cycle = cyc;
			c->acked = calloc(CRASH_MAX, 32);
			ck_assert_int_eq(pthread_create(&th[i], NULL, crash_run,
			    c), 0);
		}
		/*
		 * Let traffic flow (slow to start under valgrind), then kill
		 * at a random moment.
		 */
		for (j = 0; j < 400; j++) {
			int acked = 0;

			for (i = 0; i < CRASH_THREADS; i++)
				acked += __atomic_load_n(
				    &all[cyc * CRASH_THREADS + i].nacked,
				    __ATOMIC_ACQUIRE);
			if (acked > 0)
				break;
			usleep(50 * 1000);
		}
		usleep((useconds_t)(150 + rand() % 350) * 1000);
		kill(e2e.pid, SIGKILL);
		ck_assert_int_eq(waitpid(e2e.pid, &status, 0), e2e.pid);
		ck_assert(WIFSIGNALED(status));
		e2e.pid = 0;
		for (i = 0; i < CRASH_THREADS; i++) {
			all[cyc * CRASH_THREADS + i].stop = 1;
			pthread_join(th[i], NULL);
		}
	}

	/* Every acknowledged notification survived every crash. */
	ck_assert_str_eq(e2e_q_text("PRAGMA integrity_check"), "ok");
	for (i = 0; i < cycles * CRASH_THREADS; i++) {
		for (j = 0; j < all[i].nacked; j++) {
			snprintf(sql, sizeof(sql), "SELECT count(*) FROM payments "
			    "WHERE payment_request_id = '%s'", all[i].acked[j]);
			ck_assert_msg(e2e_q_int(sql) == 1, "acknowledged %s lost",
			    all[i].acked[j]);
		}
		total += all[i].nacked;
	}
	ck_assert_int_gt(total, 0);
	fprintf(stderr, "crash consistency: %d SIGKILL cycles, %d notifications "
	    "acknowledged, all stored\n", cycles, total);

	/* Antom delivering them all again changes no state. */
	events = e2e_q_int("SELECT count(*) FROM events");
	e2e_start_daemon();
	for (i = 0; i < cycles * CRASH_THREADS; i++) {
		for (j = 0; j < all[i].nacked; j += 7) {
			char *b = pay_body(all[i].acked[j], "PAYMENT_RESULT", "S");

			deliver_ok(b);
			free(b);
			resent++;
		}
	}
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM events"), events);
	ck_assert_int_ge(e2e_q_int("SELECT count(*) FROM notifications WHERE "
	    "delivery_count > 1"), resent);
	for (i = 0; i < cycles * CRASH_THREADS; i++)
		free(all[i].acked);
	free(all);
}
END_TEST

/*
 * Storage faults, on a small tmpfs of our own (needs root to mount; the
 * test says so and does nothing otherwise).  A full disk gives 503, never
 * a SUCCESS without a commit, and antomd recovers by itself once space is
 * freed; a database on a read-only file system gives 503 and a log line
 * naming the cause, and antomd takes it back once it is writable.
 */
static char fsdir[96];

static int
mount_small_fs(const char *size)
{
	char cmd[256];

	snprintf(fsdir, sizeof(fsdir), "%s/fs", e2e.dir);
	ck_assert_int_eq(mkdir(fsdir, 0700), 0);
	snprintf(cmd, sizeof(cmd), "mount -t tmpfs -o size=%s tmpfs %s "
	    "2>/dev/null", size, fsdir);
	if (geteuid() != 0 || system(cmd) != 0) {
		fprintf(stderr, "storage fault tests need root and mount: "
		    "not run\n");
		return -1;
	}
	snprintf(e2e.db, sizeof(e2e.db), "%s/antomd.db", fsdir);
	write_conf(NULL);
	return 0;
}

static void
umount_small_fs(void)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "umount %s", fsdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Fill the file system with a file at path; returns bytes written. */
static long
fill_fs(const char *path)
{
	static char block[4096];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	long total = 0;

	ck_assert_int_ge(fd, 0);
	for (;;) {
		ssize_t w = write(fd, block, sizeof(block));

		if (w <= 0)
			break;
		total += w;
	}
	close(fd);
	return total;
}

START_TEST(test_disk_full)
{
	char filler[160], prid[32], sql[128], *log;
	char acked[400][32];
	int i, nacked = 0, n503 = 0, first503 = -1;

	if (mount_small_fs("4m") != 0)
		return;
	e2e_start_daemon();
	deliver_ok("{\"warm\":\"up\"}");
	snprintf(filler, sizeof(filler), "%s/filler", fsdir);
	ck_assert_int_gt(fill_fs(filler), 0);
	for (i = 0; i < 400 && n503 < 5; i++) {
		struct client_response r;
		char *b;
		int st;

		snprintf(prid, sizeof(prid), "DF-%d", i);
		b = pay_body(prid, "PAYMENT_RESULT", "S");
		st = signed_post("/antom/notify", "/antom/notify", b, &r);
		ck_assert_msg(st == 200 || st == 503, "status %d", st);
		if (st == 200)
			snprintf(acked[nacked++], 32, "%s", prid);
		else {
			ck_assert_ptr_null(strstr(r.body, "SUCCESS"));
			if (first503 < 0)
				first503 = i;
			n503++;
		}
		client_response_free(&r);
		free(b);
	}
	ck_assert_int_gt(n503, 0);
	/* Space comes back: the same deliveries now succeed, unaided. */
	ck_assert_int_eq(unlink(filler), 0);
	for (i = first503; i < first503 + 5; i++) {
		char *b;

		snprintf(prid, sizeof(prid), "DF-%d", i);
		b = pay_body(prid, "PAYMENT_RESULT", "S");
		deliver_ok(b);
		snprintf(acked[nacked++], 32, "%s", prid);
		free(b);
	}
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	for (i = 0; i < nacked; i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM payments WHERE "
		    "payment_request_id = '%.31s'", acked[i]);
		ck_assert_msg(e2e_q_int(sql) == 1, "acknowledged %s lost", acked[i]);
	}
	ck_assert_str_eq(e2e_q_text("PRAGMA integrity_check"), "ok");
	log = slurp_log();
	ck_assert_ptr_nonnull(strstr(log, "full"));
	ck_assert_ptr_nonnull(strstr(log, "status=503"));
	free(log);
	umount_small_fs();
}
END_TEST

/* Whether the running antomd has a thread of this name (/proc comm). */
static int
daemon_thread(const char *name)
{
	char path[64], comm[32];
	struct dirent *de;
	DIR *d;
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)e2e.pid);
	ck_assert_ptr_nonnull(d = opendir(path));
	while (!found && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/comm",
		    (int)e2e.pid, de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(comm, sizeof(comm), f) != NULL) {
			comm[strcspn(comm, "\n")] = '\0';
			found = strcmp(comm, name) == 0;
		}
		fclose(f);
	}
	closedir(d);
	return found;
}

START_TEST(test_read_only_fs)
{
	char cmd[160], *log;
	char *b = pay_body("RO-1", "PAYMENT_RESULT", "S");
	struct client_response r;

	if (mount_small_fs("8m") != 0) {
		free(b);
		return;
	}
	e2e_start_daemon();
	deliver_ok("{\"warm\":\"up\"}");
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	/*
	 * Read-only under antomd (the kernel refuses to remount a file
	 * system read-only while a process holds files open for writing, so
	 * antomd starts on it): 503 and a log line saying why, then, once
	 * the file system is writable again, the same delivery succeeds.
	 */
	snprintf(cmd, sizeof(cmd), "mount -o remount,ro %s", fsdir);
	ck_assert_int_eq(system(cmd), 0);
	e2e_start_daemon();
	ck_assert_int_eq(signed_post("/antom/notify", "/antom/notify", b, &r),
	    503);
	ck_assert_ptr_null(strstr(r.body, "SUCCESS"));
	client_response_free(&r);
	/* Nothing to checkpoint yet; the writer starts it once it can. */
	ck_assert_int_eq(daemon_thread("writer"), 1);
	ck_assert_int_eq(daemon_thread("checkpointer"), 0);
	snprintf(cmd, sizeof(cmd), "mount -o remount,rw %s", fsdir);
	ck_assert_int_eq(system(cmd), 0);
	deliver_ok(b);
	ck_assert_int_eq(daemon_thread("checkpointer"), 1);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments"), 1);
	log = slurp_log();
	ck_assert_ptr_nonnull(strstr(log, "is read-only: notifications are "
	    "answered 503 until it is writable"));
	ck_assert_ptr_nonnull(strstr(log, "is writable again"));
	free(log);
	free(b);
	umount_small_fs();
}
END_TEST

/* Datagrams received on fd within ms, concatenated with '|' into out. */
static void
notify_collect(int fd, int ms, char *out, size_t cap)
{
	uint64_t end;
	struct timespec ts;
	size_t len = strlen(out);

	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 +
	    (uint64_t)ms;
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		char buf[512];
		ssize_t n;
		uint64_t now;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
		if (now >= end)
			break;
		if (poll(&pfd, 1, (int)(end - now)) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (len + (size_t)n + 2 < cap) {
			memcpy(out + len, buf, (size_t)n);
			len += (size_t)n;
			out[len++] = '|';
			out[len] = '\0';
		}
	}
}

/*
 * systemd's notify protocol: READY=1 once serving, STATUS= lines, and
 * WATCHDOG=1 only while the writer makes progress: a database locked
 * under a request stops the pings, its release brings them back.
 * STOPPING=1 on SIGTERM.
 */
START_TEST(test_sd_notify_watchdog)
{
	struct stuck st = { pay_body("PR-WD", "PAYMENT_RESULT", "S"), 0 };
	char path[100], *msgs = calloc(1, 65536);
	struct sockaddr_un sun;
	pthread_t th;
	sqlite3 *other;
	int fd;

	ck_assert_int_eq(e2e_stop_daemon(), 0);
	snprintf(path, sizeof(path), "%s/notify.sock", e2e.dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	e2e_notify_socket = path;
	write_conf("busy_timeout_ms 60000\nshutdown_timeout_s 1\n");
	e2e_start_daemon();
	e2e_notify_socket = NULL;
	deliver_ok("{\"warm\":\"up\"}");
	notify_collect(fd, 800, msgs, 65536);
	ck_assert_ptr_nonnull(strstr(msgs, "READY=1"));
	ck_assert_ptr_nonnull(strstr(msgs, "STATUS=acknowledged=1 "));
	ck_assert_ptr_nonnull(strstr(msgs, "WATCHDOG=1"));

	/* The writer stuck on a lock: no ping for a whole second. */
	ck_assert_int_eq(sqlite3_open(e2e.db, &other), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(pthread_create(&th, NULL, stuck_run, &st), 0);
	usleep(500 * 1000);
	/* Drop what was sent before the batch was half a period old. */
	notify_collect(fd, 300, msgs, 65536);
	msgs[0] = '\0';
	notify_collect(fd, 1000, msgs, 65536);
	ck_assert_msg(strstr(msgs, "WATCHDOG=1") == NULL, "pinged while stuck: "
	    "%s", msgs);
	ck_assert_ptr_nonnull(strstr(msgs, "STATUS="));

	/* Released: the request commits and the pings come back. */
	ck_assert_int_eq(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(other);
	pthread_join(th, NULL);
	ck_assert_int_eq(st.status, 200);
	msgs[0] = '\0';
	notify_collect(fd, 800, msgs, 65536);
	ck_assert_ptr_nonnull(strstr(msgs, "WATCHDOG=1"));

	msgs[0] = '\0';
	kill(e2e.pid, SIGTERM);
	notify_collect(fd, 500, msgs, 65536);
	ck_assert_ptr_nonnull(strstr(msgs, "STOPPING=1"));
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	close(fd);
	free(msgs);
	free(st.body);
}
END_TEST

/*
 * SIGTERM while 64 connections send: exit 0, every acknowledged one
 * stored, and every request answered or its connection closed (a hang
 * would end in the test timeout).
 */
#define TERM_THREADS	64
#define TERM_MAX	400

struct term_client {
	int	id;
	int	acked[TERM_MAX];
	int	nacked;
	int	sent;
};

static void *
term_client_run(void *arg)
{
	struct term_client *c = arg;
	char prid[32];
	int i, rc;

	for (i = 0; i < TERM_MAX; i++) {
		snprintf(prid, sizeof(prid), "T%d-%d", c->id, i);
		c->sent++;
		if ((rc = thread_deliver(prid)) == -1)
			break;	/* the daemon has stopped accepting */
		if (rc == 1) {
			c->acked[c->nacked] = i;
			__atomic_store_n(&c->nacked, c->nacked + 1,
			    __ATOMIC_RELEASE);
		}
	}
	return NULL;
}

START_TEST(test_sigterm_under_traffic)
{
	pthread_t th[TERM_THREADS];
	struct term_client *c = calloc(TERM_THREADS, sizeof(*c));
	int i, j, total = 0;
	char sql[128];

	(void)e2e_test_key();	/* load once, before the threads */
	for (i = 0; i < TERM_THREADS; i++) {
		c[i].id = i;
		ck_assert_int_eq(pthread_create(&th[i], NULL, term_client_run,
		    &c[i]), 0);
	}
	/* Traffic flowing (slow under valgrind), then SIGTERM in its midst. */
	for (j = 0; j < 400; j++) {
		for (i = 0, total = 0; i < TERM_THREADS; i++)
			total += __atomic_load_n(&c[i].nacked, __ATOMIC_RELAXED);
		if (total >= 20)
			break;
		usleep(50 * 1000);
	}
	usleep(200 * 1000);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	for (i = 0; i < TERM_THREADS; i++)
		pthread_join(th[i], NULL);
	total = 0;
	for (i = 0; i < TERM_THREADS; i++) {
		for (j = 0; j < c[i].nacked; j++) {
			snprintf(sql, sizeof(sql), "SELECT count(*) FROM payments "
			    "WHERE payment_request_id = 'T%d-%d'", i, c[i].acked[j]);
			ck_assert_msg(e2e_q_int(sql) == 1, "acknowledged T%d-%d lost",
			    i, c[i].acked[j]);
		}
		total += c[i].nacked;
	}
	ck_assert_int_gt(total, 0);
	ck_assert_str_eq(e2e_q_text("PRAGMA integrity_check"), "ok");
	free(c);
}
END_TEST

START_TEST(test_antomctl_send)
{
	char cmd[4096], ctl[512], key[512];

	snprintf(cmd, sizeof(cmd), "%s send --url http://127.0.0.1:%s/antom/notify"
	    " --key %s --client-id %s >/dev/null",
	    e2e_bin(ctl, sizeof(ctl), "antomctl"), e2e.port,
	    test_path(key, sizeof(key), "vectors/test-antom-private.pem"), SANDBOX);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s send --url http://127.0.0.1:%s/antom/notify"
	    " --key %s --client-id %s --set paymentRequestId=PR-CTL "
	    "capture-success >/dev/null",
	    ctl, e2e.port, key, SANDBOX);
	ck_assert_int_eq(system(cmd), 0);
	/* Wrong client id: the daemon refuses, antomctl exits non-zero. */
	snprintf(cmd, sizeof(cmd), "%s send --url http://127.0.0.1:%s/antom/notify"
	    " --key %s --client-id NOBODY >/dev/null", ctl, e2e.port, key);
	ck_assert_int_eq(WEXITSTATUS(system(cmd)), 1);
	/*
	 * A refund, a dispute's life and a vaulting through the real daemon,
	 * each into its table; an authorization, which antomd does not apply,
	 * is acknowledged and kept verbatim.
	 */
	snprintf(cmd, sizeof(cmd), "S='%s send --url http://127.0.0.1:%s/antom/"
	    "notify --key %s --client-id %s'; $S --set refundRequestId=RR-CTL "
	    "--set paymentId=P-CTL refund-success >/dev/null && "
	    "$S --set disputeId=D-CTL --set paymentId=P-CTL dispute-judged "
	    ">/dev/null && $S --set disputeId=D-CTL --set paymentId=P-CTL "
	    "dispute-created >/dev/null && "
	    "$S vaulting-success >/dev/null && "
	    "echo '{\"authorizationNotifyType\":\"TOKEN_CREATED\"}' | "
	    "$S --body - >/dev/null", ctl, e2e.port, key, SANDBOX);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments"), 1);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM captures"), 1);
	ck_assert_str_eq(e2e_q_text("SELECT status || '/' || payment_id FROM"
	    " refunds WHERE refund_request_id = 'RR-CTL'"), "SUCCESS/P-CTL");
	ck_assert_str_eq(e2e_q_text("SELECT stage || '/' || judged_result ||"
	    " '/' || reason_code FROM disputes WHERE dispute_id = 'D-CTL'"),
	    "DISPUTE_JUDGED/ACCEPT_BY_CUSTOMER/4853");
	ck_assert_str_eq(e2e_q_text("SELECT group_concat(outcome, ' ') FROM"
	    " (SELECT outcome FROM notifications WHERE kind = 'dispute'"
	    " ORDER BY id)"), "applied ignored");
	ck_assert_str_eq(e2e_q_text("SELECT status || '/' || card_no_masked FROM"
	    " vaultings"), "SUCCESS/************4242");
	ck_assert_str_eq(e2e_q_text("SELECT outcome || '/' || archive_reason ||"
	    " '/' || notify_type FROM notifications WHERE kind = 'other'"),
	    "archived/unsupported_type/TOKEN_CREATED");
	ck_assert_int_eq(e2e_stop_daemon(), 0);
}
END_TEST

/* Run sql as user nobody, group nogroup, read-only; returns the output. */
static const char *
reader_query(const char *sql)
{
	static char out[256];
	char cmd[1024];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "setpriv --reuid=nobody --regid=nogroup "
	    "--clear-groups sqlite3 'file:%s?mode=ro' \"%s\" 2>&1", e2e.db, sql);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	pclose(p);
	return out;
}

/*
 * A merchant application running as another user in the daemon's group
 * reads the database while antomd writes and after it stopped, and can
 * neither write it nor is anyone else let in (files are 0640).
 */
START_TEST(test_group_reader)
{
	char state[96], *b = pay_body("PR-G", "PAYMENT_RESULT", "S");
	struct stat sb;

	if (geteuid() != 0) {
		fprintf(stderr, "test_group_reader: needs root, not run\n");
		free(b);
		return;
	}
	/* As systemd lays it out: StateDirectory 0750, group of the service. */
	snprintf(state, sizeof(state), "%s/state", e2e.dir);
	ck_assert_int_eq(chmod(e2e.dir, 0711), 0);
	ck_assert_int_eq(mkdir(state, 0750), 0);
	ck_assert_int_eq(chown(state, 0, 65534), 0);
	ck_assert_int_eq(chmod(state, 02750), 0);
	snprintf(e2e.db, sizeof(e2e.db), "%s/antomd.db", state);
	write_conf(NULL);
	e2e_start_daemon();
	deliver_ok(b);
	ck_assert_str_eq(reader_query("SELECT status FROM payments"), "SUCCESS\n");
	ck_assert_int_eq(stat(e2e.db, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0640);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	ck_assert_str_eq(reader_query("SELECT count(*) FROM payments"), "1\n");
	ck_assert_ptr_nonnull(strstr(reader_query("DELETE FROM payments"),
	    "readonly"));
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments"), 1);
	free(b);
}
END_TEST

/* listen unix:PATH, for a reverse proxy on the same host. */
START_TEST(test_unix_socket)
{
	char sock[100], line[160], path[512], hdr[SIGN_HEADER_MAX];
	char *b = pay_body("PR-UNIX", "PAYMENT_RESULT", "S"), *req, resp[512];
	struct sockaddr_un sun;
	struct stat sb;
	int fd, i;
	ssize_t n;
	size_t off = 0;
	pid_t pid;

	snprintf(sock, sizeof(sock), "%s/antomd.sock", e2e.dir);
	snprintf(line, sizeof(line), "listen unix:%s\n", sock);
	write_conf(line);
	pid = fork();
	if (pid == 0) {
		int logfd = open(e2e.log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		dup2(logfd, 2);
		unsetenv("LISTEN_FDS");
		e2e_exec_daemon();
	}
	e2e.pid = pid;
	/* 30 s at most: under make valgrind the daemon takes seconds. */
	for (i = 0; i < 1200 && stat(sock, &sb) != 0; i++)
		usleep(25 * 1000);
	ck_assert_int_eq(stat(sock, &sb), 0);
	ck_assert(S_ISSOCK(sb.st_mode));
	ck_assert_int_eq(sb.st_mode & 0777, 0660);

	sign_rt1(b, hdr);
	ck_assert_int_gt(asprintf(&req, "POST /antom/notify HTTP/1.1\r\n"
	    "Host: x\r\nclient-id: %s\r\nrequest-time: 1\r\nsignature: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", SANDBOX, hdr,
	    strlen(b), b), 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (off < sizeof(resp) - 1 &&
	    (n = read(fd, resp + off, sizeof(resp) - 1 - off)) > 0)
		off += (size_t)n;
	resp[off] = '\0';
	close(fd);
	ck_assert_msg(strncmp(resp, "HTTP/1.1 200", 12) == 0, "%s", resp);
	ck_assert_ptr_nonnull(strstr(resp, ANTOM_SUCCESS_BODY));
	/* A second antomd never takes a live daemon's socket: exit 4. */
	{
		char cmd[1024];

		e2e_bin(path, sizeof(path), "antomd");
		snprintf(cmd, sizeof(cmd), "LISTEN_FDS= %s -c %s 2>&1 | grep -q "
		    "'another process is listening on it'; exit $(( $? ? 9 : "
		    "0 ))", path, e2e.conf);
		ck_assert_int_eq(system(cmd), 0);
		snprintf(cmd, sizeof(cmd), "LISTEN_FDS= %s -c %s 2>/dev/null",
		    path, e2e.conf);
		ck_assert_int_eq(WEXITSTATUS(system(cmd)), 4);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun,
		    sizeof(sun)), 0);
		close(fd);
	}
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments"), 1);
	/* A clean stop takes its socket file away. */
	ck_assert_int_ne(stat(sock, &sb), 0);
	free(req);
	free(b);
}
END_TEST

/* The systemd units: verify, the hardening score, users and directories. */
START_TEST(test_systemd_units)
{
	char cmd[1024], tests[512];
	int st;

	snprintf(cmd, sizeof(cmd), "cd %s/.. && sh tests/systemd-check >&2",
	    test_path(tests, sizeof(tests), "."));
	st = system(cmd);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "tests/systemd-check failed (exit %d)", WEXITSTATUS(st));
}
END_TEST

/* make install into a DESTDIR lays out the whole tree. */
START_TEST(test_make_install)
{
	static const char *const files[] = {
		"/usr/sbin/antomd", "/usr/bin/antomctl",
		"/etc/antomd/antomd.conf",
		"/usr/lib/systemd/system/antomd.service",
		"/usr/lib/systemd/system/antomd.socket",
		"/usr/lib/sysusers.d/antomd.conf",
		"/usr/lib/tmpfiles.d/antomd.conf",
		"/usr/share/man/man8/antomd.8",
		"/usr/share/man/man5/antomd.conf.5",
		"/usr/share/man/man1/antomctl.1",
	};
	char cmd[1024], tests[512], path[512];
	char *unit, *conf;
	size_t i;

	snprintf(cmd, sizeof(cmd), "cd %s/.. && make -s install PREFIX=/usr "
	    "DESTDIR=%s/root >/dev/null", test_path(tests, sizeof(tests), "."),
	    e2e.dir);
	ck_assert_int_eq(system(cmd), 0);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/root%s", e2e.dir, files[i]);
		ck_assert_msg(access(path, F_OK) == 0, "%s not installed",
		    files[i]);
	}
	snprintf(path, sizeof(path), "%s/root/usr/lib/systemd/system/"
	    "antomd.service", e2e.dir);
	unit = test_slurp(path, NULL);
	ck_assert_ptr_nonnull(strstr(unit, "ExecStart=/usr/sbin/antomd -c "
	    "/etc/antomd/antomd.conf"));
	snprintf(path, sizeof(path), "%s/root/etc/antomd/antomd.conf", e2e.dir);
	conf = test_slurp(path, NULL);
	ck_assert_ptr_nonnull(strstr(conf, "\ndatabase /var/lib/antomd/antomd.db"));
	ck_assert_ptr_null(strstr(conf, "DEMO_CLIENT"));
	/* A configuration already there is the operator's: kept. */
	ck_assert_int_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "cd %s/.. && make -s uninstall PREFIX=/usr "
	    "DESTDIR=%s/root >/dev/null", tests, e2e.dir);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/root/usr/sbin/antomd", e2e.dir);
	ck_assert_int_ne(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/root/etc/antomd/antomd.conf", e2e.dir);
	ck_assert_int_eq(access(path, F_OK), 0);
	free(unit);
	free(conf);
}
END_TEST

/*
 * The README's sqlite3 commands for merchant applications, run as
 * written (only the database and backup paths replaced) against a
 * database antomd is writing: each must succeed, and say what it should.
 */
START_TEST(test_readme_queries)
{
	char path[512], *readme, *line, *rest, *cmd = NULL, *out;
	char *b = pay_body("paymentRequestId01", "PAYMENT_RESULT", "S");
	char *c = cap_body("CR-README", "paymentRequestId01", "S");
	const char *r = "{\"notifyType\":\"REFUND_RESULT\",\"result\":"
	    "{\"resultStatus\":\"S\"},\"refundRequestId\":\"RR-README\","
	    "\"paymentId\":\"P-paymentRequestId01\",\"refundAmount\":"
	    "{\"value\":\"1000\",\"currency\":\"SGD\"}}";
	size_t cmdlen = 0, outlen;
	int ran = 0, st;
	FILE *f = NULL, *p;

	deliver_ok(b);
	deliver_ok(c);
	deliver_ok(r);
	readme = test_slurp(test_path(path, sizeof(path), "../README.md"), NULL);
	line = strstr(readme, "## Queries for merchant applications");
	ck_assert_ptr_nonnull(line);
	*strstr(line, "\n## HTTP status policy") = '\0';
	/*
	 * A command starts on a line indented by 4 with "sqlite3 " and goes
	 * on over the lines indented by 6 after it; anything else ends it.
	 */
	rest = line;
	for (;;) {
		char *at;

		line = strsep(&rest, "\n");
		if (f != NULL && line != NULL && strncmp(line, "      ", 6) == 0) {
			fprintf(f, "%s\n", line + 4);
			continue;
		}
		if (f != NULL) {
			/* The command is complete: our files, then run it. */
			fclose(f);
			f = NULL;
			while ((at = strstr(cmd, "/var/lib/antomd/antomd.db")) !=
			    NULL) {
				char *n;

				ck_assert_int_gt(asprintf(&n, "%.*s%s%s",
				    (int)(at - cmd), cmd, e2e.db,
				    at + strlen("/var/lib/antomd/antomd.db")), 0);
				free(cmd);
				cmd = n;
			}
			if ((at = strstr(cmd, "/var/backups/")) != NULL) {
				char *n;

				ck_assert_int_gt(asprintf(&n, "%.*s%s/%s",
				    (int)(at - cmd), cmd, e2e.dir,
				    at + strlen("/var/backups/")), 0);
				free(cmd);
				cmd = n;
			}
			p = popen(cmd, "r");
			ck_assert_ptr_nonnull(p);
			out = calloc(1, 4096);
			outlen = fread(out, 1, 4095, p);
			st = pclose(p);
			ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			    "README command failed:\n%s\n%.*s", cmd, (int)outlen,
			    out);
			if (strstr(cmd, "FROM payment_status") != NULL)
				ck_assert_msg(strncmp(out, "SUCCESS|4200|SGD|4200|",
				    22) == 0, "%s", out);
			if (strstr(cmd, "FROM payment_captures") != NULL)
				ck_assert_ptr_nonnull(strstr(out, "paymentRequestId01|"
				    "CR-README|4200|SGD|"));
			if (strstr(cmd, "FROM events") != NULL)
				ck_assert_ptr_nonnull(strstr(out, "\n3|"));
			if (strstr(cmd, "FROM payment_timeline") != NULL)
				ck_assert_msg(strstr(out, "|payment|paymentRequestId01"
				    "||SUCCESS\n2|") != NULL && strstr(out,
				    "|capture|CR-README||SUCCESS\n3|") != NULL &&
				    strstr(out, "|refund|RR-README||SUCCESS\n") !=
				    NULL, "%s", out);
			free(out);
			free(cmd);
			cmd = NULL;
			ran++;
		}
		if (line == NULL)
			break;
		if (strncmp(line, "    sqlite3 ", 12) == 0) {
			f = open_memstream(&cmd, &cmdlen);
			fprintf(f, "%s\n", line + 4);
		}
	}
	ck_assert_int_eq(ran, 6);
	/* The backup is a whole database of its own. */
	snprintf(path, sizeof(path), "sqlite3 %s/antomd.db 'PRAGMA "
	    "integrity_check; SELECT count(*) FROM payments'", e2e.dir);
	p = popen(path, "r");
	out = calloc(1, 256);
	outlen = fread(out, 1, 255, p);
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_str_eq(out, "ok\n1\n");
	free(out);
	free(readme);
	free(b);
	free(c);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
}
END_TEST

/* Run antomd -n; returns its exit status and its output in out. */
static int
run_check(const char *conf, char *out, size_t outcap)
{
	char cmd[1024], path[512];
	FILE *p;
	size_t n;
	int st;

	snprintf(cmd, sizeof(cmd), "%s -n -c %s 2>&1",
	    e2e_bin(path, sizeof(path), "antomd"), conf);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	n = fread(out, 1, outcap - 1, p);
	out[n] = '\0';
	st = pclose(p);
	return WEXITSTATUS(st);
}

static void
append_conf(const char *line)
{
	FILE *f = fopen(e2e.conf, "a");

	ck_assert_ptr_nonnull(f);
	fputs(line, f);
	fclose(f);
}

START_TEST(test_check_config)
{
	char out[2048], want[256];

	write_conf(NULL);
	ck_assert_int_eq(run_check(e2e.conf, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "configuration OK\n");

	append_conf("frobnicate yes\n");
	ck_assert_int_eq(run_check(e2e.conf, out, sizeof(out)), 2);
	snprintf(want, sizeof(want), "%s:14: unknown directive", e2e.conf);
	ck_assert_msg(strstr(out, want) != NULL, "got: %s", out);

	write_conf("client BAD_KEY 1 MIIBnotakey\n");
	ck_assert_int_eq(run_check(e2e.conf, out, sizeof(out)), 3);
	ck_assert_ptr_nonnull(strstr(out, ":14: client BAD_KEY key 1"));

	write_conf("database /nonexistent-antomd-dir/x.db\n");
	ck_assert_int_eq(run_check(e2e.conf, out, sizeof(out)), 5);
	ck_assert_ptr_nonnull(strstr(out, "/nonexistent-antomd-dir"));
}
END_TEST

START_TEST(test_exit_codes_at_start)
{
	char path[512], line[64];
	int fd, port, st;
	pid_t pid;

	/* Port taken by someone else: exit 4. */
	fd = e2e_bind_loopback(&port);
	snprintf(line, sizeof(line), "listen 127.0.0.1:%d\n", port);
	write_conf(line);
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(devnull, 2);
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		execl(e2e_bin(path, sizeof(path), "antomd"), "antomd", "-c", e2e.conf,
		    (char *)NULL);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(st), 4);
	close(fd);

	/* Database that cannot be opened: exit 5. */
	write_conf("database /nonexistent-antomd-dir/x.db\n");
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(devnull, 2);
		execl(e2e_bin(path, sizeof(path), "antomd"), "antomd", "-c", e2e.conf,
		    (char *)NULL);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(st), 5);
}
END_TEST

Suite *
e2e_suite(void)
{
	Suite *s = suite_create("e2e");
	TCase *tc = tcase_create("daemon");
	TCase *cf = tcase_create("config");
	TCase *crash = tcase_create("crash");
	TCase *faults = tcase_create("faults");

	tcase_add_checked_fixture(tc, setup, e2e_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_vectors);
	tcase_add_test(tc, test_eight_deliveries);
	tcase_add_test(tc, test_capture_before_payment);
	tcase_add_test(tc, test_pending_after_success);
	tcase_add_test(tc, test_fail_after_success_conflict);
	tcase_add_test(tc, test_bad_signature_writes_nothing);
	tcase_add_test(tc, test_headers_missing_or_duplicated);
	tcase_add_test(tc, test_method_path_size);
	tcase_add_test(tc, test_chunked_within_limit);
	tcase_add_test(tc, test_non_json_archived);
	tcase_add_test(tc, test_query_and_proxy_paths);
	tcase_add_test(tc, test_storage_failure_then_retry);
	tcase_add_test(tc, test_log_lines);
	tcase_add_test(tc, test_sigterm_under_traffic);
	tcase_add_test(tc, test_shutdown_deadline);
	tcase_add_test(tc, test_key_rotation_reload);
	tcase_add_test(tc, test_readme_queries);
	tcase_add_test(tc, test_sd_notify_watchdog);
	tcase_add_test(tc, test_antomctl_send);
	suite_add_tcase(s, tc);

	/* Its own case, so make torture can run it alone with more cycles. */
	tcase_add_checked_fixture(crash, setup, e2e_teardown);
	tcase_set_timeout(crash, 120);
	tcase_add_test(crash, test_crash_consistency);
	suite_add_tcase(s, crash);

	tcase_add_checked_fixture(faults, setup_dirs, e2e_teardown);
	tcase_set_timeout(faults, 60);
	tcase_add_test(faults, test_disk_full);
	tcase_add_test(faults, test_read_only_fs);
	suite_add_tcase(s, faults);

	tcase_add_checked_fixture(cf, setup_dirs, e2e_teardown);
	tcase_set_timeout(cf, 30);
	tcase_add_test(cf, test_check_config);
	tcase_add_test(cf, test_group_reader);
	tcase_add_test(cf, test_unix_socket);
	tcase_add_test(cf, test_systemd_units);
	tcase_add_test(cf, test_make_install);
	tcase_add_test(cf, test_exit_codes_at_start);
	suite_add_tcase(s, cf);
	return s;
}
