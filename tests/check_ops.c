/*
 * check_ops.c - what an operator sees of the real antomd: /metrics
 * (checked with the Prometheus Python client's parser) and /healthz (a
 * storage failure, a stalled log), notifications at risk,
 * request ids, logfmt, JSON and journal log lines, X-Forwarded-For from
 * trusted proxies only, reloading the configuration and rotating keys
 * under load, and antomctl send against the live daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "antom.h"
#include "client.h"
#include "e2e.h"
#include "sign.h"
#include "suites.h"
#include "util.h"

#define PYTHON		"/usr/bin/python3"

static int
send_to(const char *port, const char *req, struct client_response *resp)
{
	return e2e_send(port, req, strlen(req), resp);
}

/* Deliver directly to the daemon; the status. */
static int
deliver(const char *body, const char *extra, int tamper,
    struct client_response *resp)
{
	char *req = e2e_signed_request("/antom/notify", "/antom/notify", body,
	    extra, tamper);
	int st = send_to(e2e.port, req, resp);

	free(req);
	return st;
}

/* The value of header name in a response head, into out ("" if none). */
static void
resp_header(const struct client_response *r, const char *name, char *out,
    size_t cap)
{
	const char *p = r->head;
	size_t n = strlen(name);

	out[0] = '\0';
	while (p != NULL && (p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1, *e;

			while (*v == ' ')
				v++;
			e = strstr(v, "\r\n");
			snprintf(out, cap, "%.*s", (int)(e != NULL ? e - v :
			    (long)strlen(v)), v);
			return;
		}
	}
}

static int
metrics_get(const char *method, const char *path, struct client_response *r)
{
	char req[256];

	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n", method, path);
	return send_to(e2e.metrics_port, req, r);
}

/*
 * Scrape /metrics, have the Prometheus client's parser read it (the test
 * fails if it rejects the text), and return its samples, one a line as
 * tests/promparse.py prints them.  Caller frees.
 */
static char *
scrape(void)
{
	struct client_response r;
	char path[256], script[512], cmd[1024], ctype[128];
	char *out = NULL;
	size_t cap = 0, len = 0, n;
	char buf[4096];
	FILE *f, *p;
	int st;

	ck_assert_int_eq(metrics_get("GET", "/metrics", &r), 200);
	resp_header(&r, "Content-Type", ctype, sizeof(ctype));
	ck_assert_str_eq(ctype, "text/plain; version=0.0.4; charset=utf-8");
	snprintf(path, sizeof(path), "%s/metrics.txt", e2e.dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(r.body, 1, r.bodylen, f), r.bodylen);
	fclose(f);
	client_response_free(&r);
	snprintf(cmd, sizeof(cmd), "%s %s < %s", PYTHON,
	    test_path(script, sizeof(script), "promparse.py"), path);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0) {
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			out = realloc(out, cap);
			ck_assert_ptr_nonnull(out);
		}
		memcpy(out + len, buf, n);
		len += n;
	}
	st = pclose(p);
	ck_assert_msg(st == 0, "promparse.py rejected the exposition in %s "
	    "(status %d)", path, st);
	ck_assert_ptr_nonnull(out);
	out[len] = '\0';
	return out;
}

/* The value of one sample ("name{labels}" as promparse.py prints it). */
static double
sample(const char *samples, const char *key)
{
	size_t n = strlen(key);
	const char *p = samples;

	while ((p = strstr(p, key)) != NULL) {
		if ((p == samples || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	fprintf(stderr, "samples:\n%s", samples);
	ck_abort_msg("no sample %s", key);
	return -1;
}

#define M_APPLIED	"antomd_notifications_total{outcome=\"applied\",type=\"payment\"}"
#define M_DUPLICATE	"antomd_notifications_total{outcome=\"duplicate\",type=\"payment\"}"
#define M_MISMATCH	"antomd_verification_failures_total{reason=\"mismatch\"}"
#define M_BAD_LENGTH	"antomd_verification_failures_total{reason=\"bad_length\"}"
#define M_DELIVERIES	"antomd_deliveries_total{client_id=\"" SANDBOX "\",key_version=\"1\"}"
#define M_OK		"antomd_http_requests_total{route=\"/antom/notify\",status=\"200\"}"
#define M_401		"antomd_http_requests_total{route=\"/antom/notify\",status=\"401\"}"
#define M_BATCHES	"antomd_commit_batch_size_count{}"
#define M_LATENCY	"antomd_request_duration_seconds_count{}"
#define M_COMMIT_FAILED	"antomd_last_commit_failed{}"
#define M_BY_KEY(id, v, reason)	"antomd_verification_failures_by_key_total" \
	"{client_id=\"" id "\",key_version=\"" v "\",reason=\"" reason "\"}"

/*
 * /metrics parses, and its numbers follow real signed deliveries: an
 * applied payment, its re-delivery as a duplicate, a forged one as a
 * verification failure, each counted by route, status and key.
 */
START_TEST(test_metrics)
{
	struct client_response r;
	char *b = e2e_pay_body("PR-M1", "PAYMENT_RESULT", "S"), *s, rid[64];

	e2e_write_small_conf(NULL, NULL);
	e2e_with_metrics = 1;
	e2e_start_daemon();

	s = scrape();
	ck_assert_double_eq(sample(s, M_APPLIED), 0);
	ck_assert_double_eq(sample(s, M_DELIVERIES), 0);
	ck_assert_double_eq(sample(s, "antomd_notifications_at_risk{}"), 0);
	ck_assert_double_eq(sample(s, "antomd_writer_queue_depth{}"), 0);
	ck_assert_double_eq(sample(s, "antomd_database_writable{}"), 1);
	ck_assert_ptr_nonnull(strstr(s, "antomd_build_info{"));
	ck_assert_ptr_nonnull(strstr(s, "sqlite=\"3."));
	free(s);

	ck_assert_int_eq(deliver(b, NULL, 0, &r), 200);
	client_response_free(&r);
	s = scrape();
	ck_assert_double_eq(sample(s, M_APPLIED), 1);
	ck_assert_double_eq(sample(s, M_DUPLICATE), 0);
	ck_assert_double_eq(sample(s, M_DELIVERIES), 1);
	ck_assert_double_eq(sample(s, M_OK), 1);
	ck_assert_double_ge(sample(s, M_BATCHES), 1);
	ck_assert_double_eq(sample(s, M_LATENCY), 1);
	ck_assert_double_eq(sample(s,
	    "antomd_commit_batch_size_bucket{le=\"1\"}"), 1);
	free(s);

	ck_assert_int_eq(deliver(b, NULL, 0, &r), 200);	/* Antom's retry */
	client_response_free(&r);
	ck_assert_int_eq(deliver(b, NULL, 1, &r), 401);	/* forged */
	client_response_free(&r);
	s = scrape();
	ck_assert_double_eq(sample(s, M_APPLIED), 1);
	ck_assert_double_eq(sample(s, M_DUPLICATE), 1);
	ck_assert_double_eq(sample(s, M_DELIVERIES), 2);
	ck_assert_double_eq(sample(s, M_MISMATCH), 1);
	ck_assert_double_eq(sample(s, M_OK), 2);
	ck_assert_double_eq(sample(s, M_401), 1);
	ck_assert_double_eq(sample(s, M_LATENCY), 3);
	ck_assert_double_eq(sample(s, "antomd_verification_failures_total"
	    "{reason=\"unknown_client\"}"), 0);
	ck_assert_double_eq(sample(s, M_BY_KEY(SANDBOX, "1", "mismatch")), 1);
	/*
	 * The last commit's pages: the retry's one page alone when the
	 * checkpointer had copied the first and the WAL started over.
	 */
	ck_assert_double_ge(sample(s, "antomd_wal_frames{}"), 1);
	ck_assert_double_le(sample(s, "antomd_wal_frames{}"), 100);
	free(s);
	/* The writer went idle: the checkpointer copies the WAL. */
	{
		uint64_t t0 = util_mono_us();
		double passes;

		for (;;) {
			s = scrape();
			passes = sample(s, "antomd_checkpoints_total{}");
			free(s);
			if (passes >= 1 || util_mono_us() - t0 > 5000000)
				break;
			usleep(50 * 1000);
		}
		ck_assert_double_ge(passes, 1);
	}
	/* The files' sizes, taken at the scrape: the writer is idle now. */
	{
		struct stat st;
		char wal[512];

		s = scrape();
		ck_assert_int_eq(stat(e2e.db, &st), 0);
		ck_assert_double_eq(sample(s, "antomd_database_bytes{}"),
		    (double)st.st_size);
		ck_assert_double_ge(st.st_size, 4096);
		snprintf(wal, sizeof(wal), "%s-wal", e2e.db);
		ck_assert_int_eq(stat(wal, &st), 0);
		ck_assert_double_eq(sample(s, "antomd_wal_bytes{}"),
		    (double)st.st_size);
		free(s);
	}

	/* Health, and nothing else on that listener. */
	ck_assert_int_eq(metrics_get("GET", "/healthz", &r), 200);
	ck_assert_str_eq(r.body, "ok\n");
	client_response_free(&r);
	ck_assert_int_eq(metrics_get("POST", "/metrics", &r), 405);
	resp_header(&r, "Allow", rid, sizeof(rid));
	ck_assert_str_eq(rid, "GET, HEAD");
	client_response_free(&r);
	ck_assert_int_eq(metrics_get("GET", "/antom/notify", &r), 404);
	client_response_free(&r);
	ck_assert_int_eq(metrics_get("GET", "/metrics/", &r), 404);
	client_response_free(&r);
	/* ... and none of it on the public one. */
	ck_assert_int_eq(send_to(e2e.port, "GET /metrics HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n", &r), 404);
	client_response_free(&r);

	/* Each kind has its own row; what is only archived is "other". */
	ck_assert_int_eq(deliver("{\"notifyType\":\"REFUND_RESULT\",\"result\":"
	    "{\"resultStatus\":\"S\"},\"refundRequestId\":\"RR-M1\"}", NULL, 0,
	    &r), 200);
	client_response_free(&r);
	ck_assert_int_eq(deliver("{\"disputeNotificationType\":\"DISPUTE_CREATED\","
	    "\"disputeId\":\"D-M1\"}", NULL, 0, &r), 200);
	client_response_free(&r);
	ck_assert_int_eq(deliver("{\"authorizationNotifyType\":\"X\"}", NULL, 0,
	    &r), 200);
	client_response_free(&r);
	s = scrape();
	ck_assert_double_eq(sample(s, "antomd_notifications_total{outcome="
	    "\"applied\",type=\"refund\"}"), 1);
	ck_assert_double_eq(sample(s, "antomd_notifications_total{outcome="
	    "\"applied\",type=\"dispute\"}"), 1);
	ck_assert_double_eq(sample(s, "antomd_notifications_total{outcome="
	    "\"archived\",type=\"other\"}"), 1);
	ck_assert_double_eq(sample(s, "antomd_notifications_total{outcome="
	    "\"applied\",type=\"vaulting\"}"), 0);
	free(s);

	ck_assert_int_eq(e2e_stop_daemon(), 0);
	free(b);
}
END_TEST

/*
 * /healthz says 503 with a reason while the writer cannot commit (a
 * database locked by another process past busy_timeout_ms), and ok again
 * once a commit succeeds.
 */
/* Poll /metrics until name reaches want (10 s at most); its last value. */
static double
metric_when(const char *name, double want)
{
	double v = -1;
	char *s;
	int i;

	for (i = 0; i < 100; i++) {
		s = scrape();
		v = sample(s, name);
		free(s);
		if (v == want)
			break;
		usleep(100000);
	}
	return v;
}

/*
 * Notifications at risk, end to end: a genuine delivery signed over
 * another path (a trailing slash a proxy added: 401, misrouted) is an
 * authentic refusal, at risk after at_risk_after_s, in /metrics, a WARN
 * line and antomctl refusals; one too large (413, unverified) is kept in
 * the sample but never at risk, and one from an unknown client id is
 * not kept; the same body delivered properly clears its refusal.
 */
START_TEST(test_at_risk)
{
	struct client_response r;
	char *b = e2e_pay_body("PR-RISK", "PAYMENT_RESULT", "S"), *big, *req,
	    *log, *out, cmd[1024];
	char ctl[512];
	FILE *p;
	size_t n;
	int st;

	e2e_write_small_conf(NULL, "at_risk_after_s 1\n");
	e2e_with_metrics = 1;
	e2e_start_daemon();
	req = e2e_signed_request("/antom/notify", "/antom/notify/", b, NULL, 0);
	ck_assert_int_eq(send_to(e2e.port, req, &r), 401);
	client_response_free(&r);
	/* The log thread writes the line a moment after the answer. */
	log = e2e_log_line("reason=misrouted");
	ck_assert_msg(strstr(log, "verifies_over=/antom/notify/") != NULL, "%s",
	    log);
	free(log);
	/* From a client id nobody configured: refused, not kept. */
	memcpy(strstr(req, "client-id: ") + 11, "NOBODY_", 7);
	ck_assert_int_eq(send_to(e2e.port, req, &r), 401);
	client_response_free(&r);
	free(req);
	big = calloc(1, 70001);
	ck_assert_ptr_nonnull(big);
	memset(big, ' ', 70000);
	big[0] = '{';
	big[69999] = '}';
	req = e2e_signed_request("/antom/notify", "/antom/notify", big, NULL,
	    0);
	ck_assert_int_eq(send_to(e2e.port, req, &r), 413);
	client_response_free(&r);
	free(req);
	free(big);

	ck_assert_double_eq(metric_when("antomd_notifications_at_risk{}", 1), 1);
	ck_assert_double_eq(metric_when("antomd_refusals_held{}", 2), 2);
	log = e2e_log_line("at_risk=1");
	ck_assert_msg(strstr(log, "notifications at risk") != NULL, "%s", log);
	free(log);

	snprintf(cmd, sizeof(cmd), "%s refusals -c %s", e2e_bin(ctl,
	    sizeof(ctl), "antomctl"), e2e.conf);
	ck_assert_ptr_nonnull(p = popen(cmd, "r"));
	out = calloc(1, 8192);
	n = fread(out, 1, 8191, p);
	st = pclose(p);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%.*s", (int)n,
	    out);
	ck_assert_msg(strstr(out, "AT RISK") != NULL && strstr(out,
	    "last 401 misrouted; client " SANDBOX "; payment PR-RISK;") != NULL
	    && strstr(out, "\nunverified ") != NULL && strstr(out,
	    "last 413 body_too_large; client " SANDBOX "; - -; body (not read)")
	    != NULL, "[%s]", out);
	free(out);

	/* Antom sends it again, properly: stored, no longer at risk. */
	ck_assert_int_eq(deliver(b, NULL, 0, &r), 200);
	client_response_free(&r);
	ck_assert_double_eq(metric_when("antomd_refusals_held{}", 1), 1);
	ck_assert_double_eq(metric_when("antomd_notifications_at_risk{}", 0), 0);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM refusals WHERE"
	    " body_sha256 = '' AND status = 413"), 1);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	free(b);
}
END_TEST

/* A metrics port someone else holds: a warning, and payments still flow. */
START_TEST(test_metrics_port_taken)
{
	struct client_response r;
	char extra[128], *b = e2e_pay_body("PR-NOMETRICS", "PAYMENT_RESULT",
	    "S"), *log;
	int port, fd = e2e_bind_loopback(&port);

	snprintf(extra, sizeof(extra), "metrics_listen 127.0.0.1:%d\n", port);
	e2e_write_small_conf(NULL, extra);
	e2e_start_daemon();
	ck_assert_int_eq(deliver(b, NULL, 0, &r), 200);
	client_response_free(&r);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	close(fd);
	log = test_slurp(e2e.log, NULL);
	ck_assert_msg(strstr(log, "running without metrics and health") !=
	    NULL, "%s", log);
	free(log);
	free(b);
}
END_TEST

/*
 * Verification failures by client id and the key version the signature
 * header names: a configured pair, a configured client id's version it
 * lacks (a rotation antomd has not heard of), anything else "other";
 * nothing a request sends becomes a label value.
 */
START_TEST(test_metrics_failures_by_key)
{
	static const char *const sigs[] = {
		"algorithm=RSA256,keyVersion=1,signature=AAAA",
		"algorithm=RSA256,keyVersion=2,signature=AAAA",
		"algorithm=RSA256,keyVersion=31337,signature=AAAA",
		"algorithm=RSA256,keyVersion=x\"},evil=\"1,signature=AAAA",
		"algorithm=RSA256,signature=AAAA",
		"algorithm=RSA256,keyVersion=2,signature=%%",
		"algorithm=HS256,keyVersion=2,signature=AAAA",
	};
	struct client_response r;
	char *b = e2e_pay_body("PR-MK1", "PAYMENT_RESULT", "S"), *s;
	const char *p;
	size_t i, n;
	int st;

	e2e_write_small_conf(NULL, NULL);
	e2e_with_metrics = 1;
	e2e_start_daemon();
	s = scrape();
	ck_assert_ptr_null(strstr(s, "antomd_verification_failures_by_key_"
	    "total{"));		/* a series appears with its first count */
	free(s);

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		st = e2e_post("/antom/notify", SANDBOX, E2E_RTIME, sigs[i], b,
		    &r);
		client_response_free(&r);
		ck_assert_msg(st == 400 || st == 401, "%s: %d", sigs[i], st);
		/* The same from a client id antomd does not know. */
		st = e2e_post("/antom/notify", "EVIL_ID", E2E_RTIME, sigs[i], b,
		    &r);
		client_response_free(&r);
		ck_assert_msg(st == 400 || st == 401, "%s: %d", sigs[i], st);
	}
	ck_assert_int_eq(deliver(b, NULL, 1, &r), 401);	/* forged, version 1 */
	client_response_free(&r);

	s = scrape();
	ck_assert_double_eq(sample(s, M_BY_KEY(SANDBOX, "1", "bad_length")),
	    2);			/* keyVersion absent is 1 */
	ck_assert_double_eq(sample(s, M_BY_KEY(SANDBOX, "1", "mismatch")), 1);
	ck_assert_double_eq(sample(s, M_BY_KEY(SANDBOX, "other",
	    "bad_length")), 2);	/* 2 and 31337: not configured */
	ck_assert_double_eq(sample(s, M_BY_KEY(SANDBOX, "other",
	    "bad_key_version")), 1);
	ck_assert_double_eq(sample(s, M_BY_KEY(SANDBOX, "other",
	    "bad_encoding")), 1);
	ck_assert_double_eq(sample(s, M_BY_KEY(SANDBOX, "other",
	    "bad_algorithm")), 1);
	ck_assert_double_eq(sample(s, M_BY_KEY("other", "other",
	    "unknown_client")), 4);
	ck_assert_double_eq(sample(s, M_BY_KEY("other", "other",
	    "bad_key_version")), 1);
	ck_assert_double_eq(sample(s, M_BY_KEY("other", "other",
	    "bad_encoding")), 1);
	ck_assert_double_eq(sample(s, M_BY_KEY("other", "other",
	    "bad_algorithm")), 1);
	/* Ten series, and the reason-only counter counts the same. */
	for (n = 0, p = s; (p = strstr(p, "\nantomd_verification_failures_"
	    "by_key_total{")) != NULL; p++)
		n++;
	ck_assert_uint_eq(n, 10);
	ck_assert_double_eq(sample(s, M_BAD_LENGTH), 4);
	ck_assert_ptr_null(strstr(s, "EVIL"));
	ck_assert_ptr_null(strstr(s, "31337"));
	ck_assert_ptr_null(strstr(s, "evil"));
	free(s);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	free(b);
}
END_TEST

/* Poll /healthz until it answers status (ms at most); the last status. */
static int
healthz_when(int status, int ms)
{
	struct client_response r;
	int st = -1, i;

	for (i = 0; i < ms / 100; i++) {
		st = metrics_get("GET", "/healthz", &r);
		client_response_free(&r);
		if (st == status)
			break;
		usleep(100000);
	}
	return st;
}

START_TEST(test_healthz_storage_failure)
{
	struct client_response r;
	char *b = e2e_pay_body("PR-H1", "PAYMENT_RESULT", "S"), *s;
	sqlite3 *db;

	e2e_write_small_conf(NULL, NULL);
	e2e_with_metrics = 1;
	e2e_start_daemon();
	ck_assert_int_eq(deliver(b, NULL, 0, &r), 200);	/* schema exists */
	client_response_free(&r);
	free(b);
	b = e2e_pay_body("PR-H2", "PAYMENT_RESULT", "S");
	s = scrape();
	ck_assert_double_eq(sample(s, M_COMMIT_FAILED), 0);
	free(s);

	ck_assert_int_eq(sqlite3_open(e2e.db, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(deliver(b, NULL, 0, &r), 503);
	client_response_free(&r);
	ck_assert_int_eq(metrics_get("GET", "/healthz", &r), 503);
	ck_assert_str_eq(r.body, "the last commit failed\n");
	client_response_free(&r);
	/* What /healthz says, for the alert: 1 until a commit succeeds. */
	s = scrape();
	ck_assert_double_eq(sample(s, M_COMMIT_FAILED), 1);
	ck_assert_double_eq(sample(s, "antomd_storage_failures_total{}"), 1);
	free(s);

	ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	/*
	 * Well again without any traffic: the idle writer tries the lock
	 * every 5 s, so a health check that holds traffic back recovers.
	 */
	ck_assert_int_eq(healthz_when(200, 8000), 200);
	s = scrape();
	ck_assert_double_eq(sample(s, M_COMMIT_FAILED), 0);
	free(s);
	ck_assert_int_eq(deliver(b, NULL, 0, &r), 200);
	client_response_free(&r);
	ck_assert_int_eq(metrics_get("GET", "/healthz", &r), 200);
	client_response_free(&r);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	free(b);
}
END_TEST

/*
 * Deliver a successful payment prid, waiting timeout_ms at most (the
 * test fails without an answer); the status, and the time taken in *dt.
 */
static int
deliver_within(const char *prid, int timeout_ms, struct client_response *r,
    uint64_t *dt)
{
	char *b = e2e_pay_body(prid, "PAYMENT_RESULT", "S"), *req, err[256];
	uint64_t t0;
	int rc;

	req = e2e_signed_request("/antom/notify", "/antom/notify", b, NULL, 0);
	free(b);
	memset(r, 0, sizeof(*r));
	t0 = util_mono_us();
	rc = client_raw("127.0.0.1", e2e.port, req, strlen(req), timeout_ms, r,
	    err, sizeof(err));
	*dt = util_mono_us() - t0;
	free(req);
	ck_assert_msg(rc == 0, "%s: no answer: %s", prid, err);
	return r->status;
}

/*
 * A stalled log no longer holds the writer.  It used to be the one way to
 * keep the writer inside a batch (a lock alone cannot: the busy handler
 * gives up after busy_timeout_ms, well before the threshold of twice that
 * plus 5 s): the daemon's stderr is a FIFO this test reads, then fills
 * and stops reading (as a stalled journald would), and the writer's
 * warning about the locked database blocked in write(2) with the batch
 * open.  Now that warning waits in the log buffer: the batch fails at
 * once (503, Antom retries), /healthz says so, then says the log sink is
 * stalled, and is well again once the FIFO is read.
 */
static char	*stuck_log;	/* what the daemon wrote, and the filler */
static size_t	 stuck_len;

/* Read what is waiting in the daemon's stderr FIFO (non-blocking). */
static void
fifo_drain(int fd)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		stuck_log = realloc(stuck_log, stuck_len + (size_t)n + 1);
		ck_assert_ptr_nonnull(stuck_log);
		memcpy(stuck_log + stuck_len, buf, (size_t)n);
		stuck_len += (size_t)n;
		stuck_log[stuck_len] = '\0';
	}
}

/* Drain until what the daemon wrote holds s (10 s at most). */
static void
fifo_wait_for(int fd, const char *s)
{
	int i;

	for (i = 0; i < 1000; i++) {
		fifo_drain(fd);
		if (stuck_log != NULL && strstr(stuck_log, s) != NULL)
			return;
		usleep(10000);
	}
	ck_abort_msg("the daemon did not log %s:\n%s", s,
	    stuck_log != NULL ? stuck_log : "");
}

/* Fill the FIFO to the last byte: the daemon's next write blocks. */
static void
fifo_fill(const char *path)
{
	char buf[4096];
	int fd = open(path, O_WRONLY | O_NONBLOCK);

	ck_assert_int_ge(fd, 0);
	memset(buf, '.', sizeof(buf));
	/* Writes up to PIPE_BUF are all or nothing: whole pages, then bytes. */
	while (write(fd, buf, sizeof(buf)) > 0)
		;
	while (write(fd, buf, 1) > 0)
		;
	ck_assert_int_eq(errno, EAGAIN);
	close(fd);
}

START_TEST(test_healthz_log_stalled_writer)
{
	struct client_response r;
	char *b, *s;
	uint64_t dt;
	sqlite3 *db;
	int fd, i, st = 0;

	e2e_write_small_conf(NULL, "busy_timeout_ms 0\n");
	e2e_with_metrics = 1;
	ck_assert_int_eq(mkfifo(e2e.log, 0600), 0);
	fd = open(e2e.log, O_RDONLY | O_NONBLOCK);
	ck_assert_int_ge(fd, 0);
	e2e_start_daemon();
	b = e2e_pay_body("PR-STUCK-1", "PAYMENT_RESULT", "S");
	ck_assert_int_eq(deliver(b, NULL, 0, &r), 200);	/* schema exists */
	client_response_free(&r);
	free(b);
	/* Its request line is out: the buffer is empty. */
	fifo_wait_for(fd, "PR-STUCK-1");

	ck_assert_int_eq(sqlite3_open(e2e.db, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL),
	    SQLITE_OK);
	fifo_fill(e2e.log);
	ck_assert_int_eq(deliver_within("PR-STUCK-2", 2000, &r, &dt), 503);
	client_response_free(&r);		/* at once, not after the log */
	ck_assert_uint_lt(dt, 2000000);
	ck_assert_int_eq(metrics_get("GET", "/healthz", &r), 503);
	ck_assert_str_eq(r.body, "the last commit failed\n");
	client_response_free(&r);
	s = scrape();
	ck_assert_double_eq(sample(s, "antomd_writer_batch_age_seconds{}"), 0);
	ck_assert_double_gt(sample(s, "antomd_log_buffer_bytes{}"), 0);
	free(s);

	/*
	 * The lock gone, the idle writer's probe clears the failed commit
	 * (every 5 s); what is left is the log, pending for 5 s by then.
	 */
	ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	for (i = 0; i < 150; i++) {
		st = metrics_get("GET", "/healthz", &r);
		if (st == 503 && strncmp(r.body, "log sink stalled: ", 18) == 0)
			break;
		client_response_free(&r);
		usleep(100000);
	}
	ck_assert_msg(i < 150, "/healthz never said the log sink stalled");
	client_response_free(&r);

	/* Read again: every line arrives, nothing was dropped, and well. */
	fifo_wait_for(fd, "PR-STUCK-2");
	ck_assert_ptr_nonnull(strstr(stuck_log,
	    "BEGIN IMMEDIATE: database is locked"));
	ck_assert_int_eq(healthz_when(200, 8000), 200);
	s = scrape();
	ck_assert_double_eq(sample(s, "antomd_log_lines_dropped_total{}"), 0);
	free(s);

	/* Antom's retry commits. */
	b = e2e_pay_body("PR-STUCK-2", "PAYMENT_RESULT", "S");
	ck_assert_int_eq(deliver(b, NULL, 0, &r), 200);
	client_response_free(&r);
	free(b);
	fifo_drain(fd);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	fifo_drain(fd);
	close(fd);
	ck_assert_ptr_nonnull(strstr(stuck_log, "msg=stopped"));
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments"), 2);
	free(stuck_log);
	stuck_log = NULL;
	stuck_len = 0;
}
END_TEST

/*
 * Logging under a flood.  The daemon's stderr is a FIFO this test opens
 * and never reads (a journald that hung, a pipe whose reader is stuck):
 * once its 64 KiB are full, nothing more is written.  Forged requests
 * come from three threads, each line about as long as a sender can make
 * it: a 404 with a long non-ASCII path, 401s with a long query and
 * several reasons.  Each request waits 2 s at most: on a daemon whose
 * handlers write their lines themselves, they all block in write(2) a few
 * hundred lines in, and the flood stops after 20 requests that got no
 * answer.  About 10 s, 5 of them waiting for /healthz to see the stall.
 */
#define FLOOD_N		10000
#define FLOOD_THREADS	4
#define FLOOD_FAILS	20
/* Under memcheck (make valgrind) every deadline is ten times longer. */
#define FLOOD_SLOW	(getenv("ANTOMD_VALGRIND") != NULL ? 10 : 1)
#define FLOOD_GENUINE	700

struct flood {
	char		*reqs[8];
	size_t		 nreqs;
	_Atomic unsigned sent, failed, n404, n401, other, genuine_ok;
	uint64_t	 t0;
};

static char *
flood_req(const char *target, const char *method, const char *client,
    const char *sig)
{
	char *req;

	ck_assert_int_gt(asprintf(&req, "%s %s HTTP/1.1\r\nHost: x\r\n"
	    "client-id: %s\r\nrequest-time: " E2E_RTIME "\r\n"
	    "%s%s%sContent-Length: 2\r\nConnection: close\r\n\r\n{}",
	    method, target, client, sig != NULL ? "signature: " : "",
	    sig != NULL ? sig : "", sig != NULL ? "\r\n" : ""), 0);
	return req;
}

static void
flood_build(struct flood *fl)
{
	char path[1024], target[1100], hdr[SIGN_HEADER_MAX], err[256];
	char client[64];
	size_t n = 0, i;

	memcpy(path, "/", 1);
	for (i = 0, n = 1; i < 250; i++, n += 3)
		memcpy(path + n, "%ff", 3);
	path[n] = '\0';
	snprintf(target, sizeof(target), "/antom/notify?%s", path + 1);
	/* A well-formed signature, over something else: mismatch. */
	ck_assert_msg(sign_request(e2e_test_key(),
	    &(struct verify_content){ "/elsewhere", SANDBOX, E2E_RTIME,
	    (const unsigned char *)"{}", 2 }, NULL, hdr, sizeof(hdr), err,
	    sizeof(err)) == 0, "sign: %s", err);
	memset(client, 'Z', sizeof(client) - 1);
	client[sizeof(client) - 1] = '\0';
	fl->reqs[fl->nreqs++] = flood_req(path, "POST", SANDBOX, hdr);
	fl->reqs[fl->nreqs++] = flood_req(target, "POST", SANDBOX, hdr);
	fl->reqs[fl->nreqs++] = flood_req(target, "POST", client, hdr);
	fl->reqs[fl->nreqs++] = flood_req(target, "POST", SANDBOX,
	    "algorithm=RSA256,keyVersion=1,signature=%%%%");
	fl->reqs[fl->nreqs++] = flood_req(target, "POST", SANDBOX,
	    "algorithm=RSA256,keyVersion=1,signature=QUFBQQ==");
	fl->reqs[fl->nreqs++] = flood_req(target, "POST", SANDBOX,
	    "algorithm=RSA512,keyVersion=1,signature=QUFBQQ==");
	fl->reqs[fl->nreqs++] = flood_req(target, "POST", SANDBOX,
	    "algorithm=RSA256,keyVersion=9,signature=QUFBQQ==");
	fl->reqs[fl->nreqs++] = flood_req(path, "GET", client, NULL);
}

static void *
flood_main(void *arg)
{
	struct flood *fl = arg;
	struct client_response r;
	char err[256];
	unsigned i;

	while (atomic_load(&fl->failed) < FLOOD_FAILS) {
		i = atomic_fetch_add(&fl->sent, 1);
		if (i >= FLOOD_N)
			break;
		memset(&r, 0, sizeof(r));
		if (client_raw("127.0.0.1", e2e.port, fl->reqs[i % fl->nreqs],
		    strlen(fl->reqs[i % fl->nreqs]), 2000 * FLOOD_SLOW, &r, err,
		    sizeof(err)) != 0)
			atomic_fetch_add(&fl->failed, 1);
		else if (r.status == 404)
			atomic_fetch_add(&fl->n404, 1);
		else if (r.status == 401)
			atomic_fetch_add(&fl->n401, 1);
		else
			atomic_fetch_add(&fl->other, 1);
		client_response_free(&r);
	}
	return NULL;
}

/*
 * Genuine deliveries beside the flood: their lines are never limited, so
 * with the sink stalled they are what fills the buffer (the forged ones
 * alone stay under it, by the limit).
 */
static void *
flood_genuine(void *arg)
{
	struct flood *fl = arg;
	char prid[65];
	unsigned i;

	for (i = 0; i < FLOOD_GENUINE &&
	    atomic_load(&fl->failed) < FLOOD_FAILS; i++) {
		/* Long ids, long lines (both ids at most 64 characters). */
		snprintf(prid, sizeof(prid), "PR-FLOOD-G%05u-%s", i,
		    "0123456789abcdef0123456789abcdef0123456789");
		if (e2e_thread_deliver(prid) == 1)
			atomic_fetch_add(&fl->genuine_ok, 1);
		else
			atomic_fetch_add(&fl->failed, 1);
	}
	return NULL;
}

START_TEST(test_log_flood)
{
	struct client_response r;
	struct flood fl;
	pthread_t th[FLOOD_THREADS];
	char *s;
	uint64_t t0, dt;
	size_t i;
	int fd, st;

	e2e_write_small_conf(NULL, NULL);
	e2e_with_metrics = 1;
	ck_assert_int_eq(mkfifo(e2e.log, 0600), 0);
	fd = open(e2e.log, O_RDONLY | O_NONBLOCK);	/* never read */
	ck_assert_int_ge(fd, 0);
	e2e_start_daemon();

	memset(&fl, 0, sizeof(fl));
	flood_build(&fl);
	fl.t0 = util_mono_us();
	for (i = 0; i < FLOOD_THREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, i == 0 ?
		    flood_genuine : flood_main, &fl), 0);
	for (i = 0; i < FLOOD_THREADS; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	dt = util_mono_us() - fl.t0;
	fprintf(stderr, "log flood: %u requests in %llu ms: %u 404, %u 401, "
	    "%u other, %u unanswered; %u genuine stored\n",
	    atomic_load(&fl.n404) + atomic_load(&fl.n401) +
	    atomic_load(&fl.other), (unsigned long long)(dt / 1000),
	    atomic_load(&fl.n404), atomic_load(&fl.n401),
	    atomic_load(&fl.other), atomic_load(&fl.failed),
	    atomic_load(&fl.genuine_ok));
	for (i = 0; i < fl.nreqs; i++)
		free(fl.reqs[i]);
	ck_assert_msg(atomic_load(&fl.failed) == 0, "%u requests got no "
	    "answer", atomic_load(&fl.failed));
	ck_assert_uint_eq(atomic_load(&fl.n404) + atomic_load(&fl.n401),
	    FLOOD_N);
	ck_assert_uint_ge(atomic_load(&fl.n404), FLOOD_N / 8);
	ck_assert_uint_ge(atomic_load(&fl.n401), FLOOD_N / 2);
	ck_assert_uint_eq(atomic_load(&fl.genuine_ok), FLOOD_GENUINE);

	/* A genuine notification is still answered, within a second. */
	ck_assert_int_eq(deliver_within("PR-FLOOD-1", 1000 * FLOOD_SLOW, &r,
	    &dt), 200);
	ck_assert_str_eq(r.body, ANTOM_SUCCESS_BODY);
	client_response_free(&r);
	ck_assert_uint_lt(dt, 1000000u * FLOOD_SLOW);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments"),
	    FLOOD_GENUINE + 1);

	/* Lines were dropped and refusal lines suppressed, and it shows. */
	s = scrape();
	ck_assert_double_gt(sample(s, "antomd_log_lines_dropped_total{}"), 0);
	ck_assert_double_gt(sample(s, "antomd_log_lines_suppressed_total{}"),
	    FLOOD_N / 2);	/* 10 lines a second per status and reason */
	ck_assert_double_gt(sample(s, "antomd_log_buffer_bytes{}"), 0);
	free(s);
	/* The stall is reported once nothing was written for 5 s. */
	for (i = 0; i < 100; i++) {
		st = metrics_get("GET", "/healthz", &r);
		if (st == 503)
			break;
		client_response_free(&r);
		usleep(100000);
	}
	ck_assert_int_eq(st, 503);
	ck_assert_msg(strncmp(r.body, "log sink stalled: nothing written for ",
	    38) == 0, "[%s]", r.body);
	client_response_free(&r);
	s = scrape();
	ck_assert_double_gt(sample(s, "antomd_log_write_blocked_seconds{}"), 5);
	free(s);

	/* A stalled sink holds up the exit by its 2 s deadline at most. */
	t0 = util_mono_us();
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	dt = util_mono_us() - t0;
	ck_assert_msg(dt < 5000000u * FLOOD_SLOW, "exit took %llu ms",
	    (unsigned long long)(dt / 1000));
	close(fd);
}
END_TEST

/*
 * The limit as an operator reads it: a burst of 404s gives 10 request
 * lines a second, and one line a second saying how many were left out,
 * which add up to the burst; the genuine notification in the middle of
 * it is logged.
 */
#define LIMIT_N		60

START_TEST(test_log_limited)
{
	struct client_response r;
	char *b, *log, *p, *line;
	int i, lines = 0;
	long suppressed = 0;

	e2e_write_small_conf(NULL, NULL);
	e2e_start_daemon();
	for (i = 0; i < LIMIT_N; i++) {
		ck_assert_int_eq(send_to(e2e.port, "POST /nowhere HTTP/1.1\r\n"
		    "Host: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		    &r), 404);
		client_response_free(&r);
		if (i == LIMIT_N / 2) {
			b = e2e_pay_body("PR-LIMIT-1", "PAYMENT_RESULT", "S");
			ck_assert_int_eq(deliver(b, NULL, 0, &r), 200);
			client_response_free(&r);
			free(b);
		}
	}
	/* The window ends, and main's sweep writes the summary. */
	free(e2e_log_line("similar refusals suppressed"));
	/* Stopped, every window is summed up (slow under valgrind: several). */
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	log = test_slurp(e2e.log, NULL);
	for (p = log; (line = strstr(p, "status=404")) != NULL; p = line + 1) {
		char *bol = line;

		while (bol > log && bol[-1] != '\n')
			bol--;
		if (strncmp(strstr(bol, "msg="), "msg=request ", 12) == 0)
			lines++;
		else {
			ck_assert_ptr_nonnull(strstr(bol, "reason=unknown_path "
			    "suppressed="));
			suppressed += strtol(strstr(bol, "suppressed=") + 11,
			    NULL, 10);
		}
	}
	ck_assert_int_ge(lines, 10);
	ck_assert_int_lt(lines, LIMIT_N);
	ck_assert_int_eq(lines + suppressed, LIMIT_N);
	ck_assert_ptr_nonnull(strstr(log, "PR-LIMIT-1"));
	free(log);
}
END_TEST

/* Every answer carries X-Request-Id, and the log line about it names it. */
START_TEST(test_request_id)
{
	struct client_response r;
	char *b = e2e_pay_body("PR-RID", "PAYMENT_RESULT", "S"), rid1[64],
	    rid2[64], rid3[64], key[96];
	char *log;

	e2e_write_small_conf(NULL, NULL);
	e2e_start_daemon();
	ck_assert_int_eq(deliver(b, NULL, 0, &r), 200);
	resp_header(&r, "X-Request-Id", rid1, sizeof(rid1));
	client_response_free(&r);
	ck_assert_int_eq(deliver(b, NULL, 1, &r), 401);
	resp_header(&r, "X-Request-Id", rid2, sizeof(rid2));
	client_response_free(&r);
	ck_assert_int_eq(send_to(e2e.port, "GET /nope HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n", &r), 404);
	resp_header(&r, "X-Request-Id", rid3, sizeof(rid3));
	client_response_free(&r);
	ck_assert_uint_eq(strlen(rid1), 16);
	ck_assert_uint_eq(strspn(rid1, "0123456789abcdef"), 16);
	ck_assert_str_ne(rid1, rid2);
	ck_assert_str_ne(rid2, rid3);
	ck_assert_int_eq(e2e_stop_daemon(), 0);

	log = test_slurp(e2e.log, NULL);
	snprintf(key, sizeof(key), "msg=request request_id=%s ", rid1);
	ck_assert_msg(strstr(log, key) != NULL, "%s not in\n%s", key, log);
	snprintf(key, sizeof(key), "msg=request request_id=%s ", rid2);
	ck_assert_ptr_nonnull(strstr(log, key));
	ck_assert_ptr_nonnull(strstr(strstr(log, key), "status=401"));
	snprintf(key, sizeof(key), "request_id=%s path=/nope", rid3);
	ck_assert_ptr_nonnull(strstr(log, key));
	free(log);
	free(b);
}
END_TEST

/*
 * log_format json: every line of a whole run is one JSON object with ts,
 * level and msg, a hostile id stays escaped, request lines carry their id.
 */
START_TEST(test_log_json)
{
	struct client_response r;
	char *b = e2e_pay_body("PR-J\\u001b[31m\\u00e9", "PAYMENT_RESULT", "S"),
	    *ok = e2e_pay_body("PR-JSON", "PAYMENT_RESULT", "S");
	char *log, *line, *save = NULL, rid[64];
	int requests = 0, lines = 0;

	e2e_write_small_conf(NULL, "log_format json\n");
	e2e_start_daemon();
	ck_assert_int_eq(deliver(ok, NULL, 0, &r), 200);
	resp_header(&r, "X-Request-Id", rid, sizeof(rid));
	client_response_free(&r);
	ck_assert_int_eq(deliver(b, NULL, 0, &r), 200);
	client_response_free(&r);
	ck_assert_int_eq(e2e_stop_daemon(), 0);

	log = test_slurp(e2e.log, NULL);
	ck_assert_ptr_null(strchr(log, 0x1b));
	for (line = strtok_r(log, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		json_error_t jerr;
		json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
		const char *msg;

		ck_assert_msg(o != NULL, "not JSON (%s): %s", jerr.text, line);
		ck_assert_msg(json_is_string(json_object_get(o, "ts")), "%s", line);
		ck_assert_msg(json_is_string(json_object_get(o, "level")), "%s",
		    line);
		msg = json_string_value(json_object_get(o, "msg"));
		ck_assert_ptr_nonnull(msg);
		/* ts, level, msg come first, in that order. */
		ck_assert_msg(strncmp(line, "{\"ts\":\"", 7) == 0, "%s", line);
		ck_assert_ptr_nonnull(strstr(line, "\",\"level\":\""));
		if (strcmp(msg, "request") == 0) {
			requests++;
			ck_assert_int_eq(json_integer_value(json_object_get(o,
			    "status")), 200);
			ck_assert(json_is_string(json_object_get(o,
			    "request_id")));
			if (requests == 1)
				ck_assert_str_eq(json_string_value(
				    json_object_get(o, "request_id")), rid);
			else
				ck_assert_str_eq(json_string_value(
				    json_object_get(o, "archive_reason")),
				    "bad_id");
		}
		json_decref(o);
		lines++;
	}
	ck_assert_int_eq(requests, 2);
	ck_assert_int_ge(lines, 4);	/* started, listening ..., stopped */
	free(log);
	free(b);
	free(ok);
}
END_TEST

/* Under the journal: "<N>" priorities, no ts (journald has its own). */
START_TEST(test_log_journal)
{
	struct client_response r;
	char *b = e2e_pay_body("PR-JOURNAL", "PAYMENT_RESULT", "S"), js[64],
	    *log;
	struct stat sb;
	int fd;

	e2e_write_small_conf(NULL, NULL);
	fd = open(e2e.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	close(fd);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)sb.st_dev,
	    (unsigned long long)sb.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	e2e_start_daemon();
	unsetenv("JOURNAL_STREAM");
	ck_assert_int_eq(deliver(b, NULL, 0, &r), 200);
	client_response_free(&r);
	ck_assert_int_eq(deliver(b, NULL, 1, &r), 401);
	client_response_free(&r);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	log = test_slurp(e2e.log, NULL);
	ck_assert_msg(strncmp(log, "<6>level=info msg=", 18) == 0, "%s", log);
	ck_assert_ptr_nonnull(strstr(log, "\n<6>level=info msg=request "));
	ck_assert_ptr_nonnull(strstr(log, "\n<4>level=warn msg=request "));
	ck_assert_ptr_null(strstr(log, "ts="));
	free(log);
	free(b);
}
END_TEST

/*
 * X-Forwarded-For is believed only from a trusted_proxy peer, and then
 * only its right-most untrusted entry; from anyone else it is ignored.
 */
static char t_xff_31[512], t_xff_32[512], t_xff_long[1026];

START_TEST(test_forwarded_for)
{
	static const struct {
		const char	*conf;
		const char	*xff;
		const char	*client;	/* NULL: no client_addr */
	} rows[] = {
		{ "", "203.0.113.7", NULL },
		{ "trusted_proxy 10.0.0.0/8\n", "203.0.113.7", NULL },
		{ "trusted_proxy 127.0.0.1\n", "203.0.113.7", "203.0.113.7" },
		{ "trusted_proxy 127.0.0.0/8\ntrusted_proxy 10.0.0.0/8\n",
		    "198.51.100.1, 203.0.113.7, 10.1.2.3", "203.0.113.7" },
		{ "trusted_proxy 127.0.0.1\ntrusted_proxy ::1\n",
		    "2001:db8::1", "2001:db8::1" },
		{ "trusted_proxy 127.0.0.1\n", "not-an-address", NULL },
		{ "trusted_proxy 127.0.0.1\n", "1.2.3.4 evil=1", NULL },
		{ "trusted_proxy 127.0.0.1\n", "", NULL },
		/* Bounds: one header, 1024 bytes, 32 entries looked at. */
		{ "trusted_proxy 127.0.0.1\n", "203.0.113.7\r\n"
		    "X-Forwarded-For: 203.0.113.8", NULL },
		{ "trusted_proxy 127.0.0.1\n", t_xff_long, NULL },
		{ "trusted_proxy 127.0.0.0/8\ntrusted_proxy 10.0.0.0/8\n",
		    t_xff_31, "203.0.113.7" },
		{ "trusted_proxy 127.0.0.0/8\ntrusted_proxy 10.0.0.0/8\n",
		    t_xff_32, NULL },
	};
	size_t i, n;

	/* The client left of 31 (32) trusted proxies; 1025 bytes. */
	t_xff_31[0] = t_xff_32[0] = '\0';
	strcpy(t_xff_31, "203.0.113.7");
	strcpy(t_xff_32, "203.0.113.7");
	for (i = 0; i < 32; i++) {
		if (i < 31)
			strcat(t_xff_31, ", 10.0.0.1");
		strcat(t_xff_32, ", 10.0.0.1");
	}
	/* Junk on the left, the client right-most: only the size refuses. */
	memset(t_xff_long, 'a', 1025);
	n = strlen(", 203.0.113.7");
	memcpy(t_xff_long + 1025 - n, ", 203.0.113.7", n);
	t_xff_long[1025] = '\0';

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct client_response r;
		char extra[1200], prid[32], *b, *line;

		snprintf(prid, sizeof(prid), "PR-XFF-%zu", i);
		b = e2e_pay_body(prid, "PAYMENT_RESULT", "S");
		e2e_write_small_conf(NULL, rows[i].conf);
		e2e_start_daemon();
		snprintf(extra, sizeof(extra), "X-Forwarded-For: %s\r\n",
		    rows[i].xff);
		ck_assert_int_eq(deliver(b, extra, 0, &r), 200);
		client_response_free(&r);
		ck_assert_int_eq(e2e_stop_daemon(), 0);
		line = e2e_log_line(prid);
		ck_assert_msg(strstr(line, " peer_addr=127.0.0.1 ") != NULL,
		    "row %zu: %s", i, line);
		if (rows[i].client == NULL)
			ck_assert_msg(strstr(line, "client_addr") == NULL,
			    "row %zu: %s", i, line);
		else {
			snprintf(extra, sizeof(extra), " client_addr=%s ",
			    rows[i].client);
			ck_assert_msg(strstr(line, extra) != NULL, "row %zu: %s",
			    i, line);
		}
		ck_assert_ptr_null(strstr(line, "evil"));
		free(line);
		free(b);
		unlink(e2e.log);
	}
}
END_TEST

START_TEST(test_log_lines)
{
	char *b = e2e_pay_body("PR-L\\u001b[31m", "PAYMENT_RESULT", "S");
	char *ok = e2e_pay_body("PR-LOG", "PAYMENT_RESULT", "S");
	char *log;

	e2e_deliver_ok(ok);
	e2e_deliver_ok(b);	/* an id with ESC: archived,
	    never raw in the log */
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	log = test_slurp(e2e.log, NULL);
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
		b = e2e_pay_body(prid, "PAYMENT_RESULT", "S");
		st = e2e_signed_post("/antom/notify", "/antom/notify", b, &r);
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

	ck_assert_int_eq(sign_request(key,
	    &(struct verify_content){ "/antom/notify", SANDBOX, "7",
	    (const unsigned char *)body, strlen(body) }, &o, hdr, sizeof(hdr),
	    err, sizeof(err)), 0);
	st = e2e_post("/antom/notify", SANDBOX, "7", hdr, body, &r);
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
	e2e_conf_clients = both;
	e2e_write_conf(NULL);
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

	e2e_conf_clients = only2;
	e2e_write_conf(NULL);
	sighup_and_settle();
	ck_assert_int_eq(post_with_key(e2e_test_key(), 1, "{\"k\":\"v1-late\"}"),
	    401);
	ck_assert_int_eq(post_with_key(k2, 2, "{\"k\":\"v2-again\"}"), 200);

	/* A file that does not load changes nothing. */
	e2e_write_conf("no_such_directive 1\n");
	sighup_and_settle();
	ck_assert_int_eq(post_with_key(k2, 2, "{\"k\":\"v2-kept\"}"), 200);
	ck_assert_int_eq(post_with_key(e2e_test_key(), 1, "{\"k\":\"v1-still\"}"),
	    401);
	e2e_conf_clients = NULL;
	ck_assert_int_eq(e2e_stop_daemon(), 0);
	EVP_PKEY_free(k2);
	log = test_slurp(e2e.log, NULL);
	ck_assert_ptr_nonnull(strstr(log, "msg=\"configuration reloaded\""));
	ck_assert_ptr_nonnull(strstr(log, "reload failed, the configuration in "
	    "force is kept"));
	ck_assert_ptr_nonnull(strstr(log, "unknown directive"));
	free(log);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM notifications WHERE "
	    "key_version = 2"), 3);
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
	    "refund-success >/dev/null && "
	    "$S --set disputeId=D-CTL --set paymentId=P-CTL --set "
	    "paymentRequestId=PR-CTL dispute-judged >/dev/null && "
	    "$S --set disputeId=D-CTL --set paymentId=P-CTL --set "
	    "paymentRequestId=PR-CTL dispute-created >/dev/null && "
	    "$S vaulting-success >/dev/null && "
	    "echo '{\"authorizationNotifyType\":\"TOKEN_CREATED\"}' | "
	    "$S --body - >/dev/null", ctl, e2e.port, key, SANDBOX);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM payments"), 1);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM captures"), 1);
	/* As Antom sends it: no payment named, so none recorded. */
	ck_assert_str_eq(e2e_q_text("SELECT status || '/' ||"
	    " coalesce(payment_id, '-') FROM refunds WHERE refund_request_id ="
	    " 'RR-CTL'"), "SUCCESS/-");
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

Suite *
ops_suite(void)
{
	Suite *s = suite_create("ops");
	TCase *tc = tcase_create("ops");
	TCase *dm = tcase_create("daemon");
	TCase *lf;

	tcase_add_checked_fixture(tc, e2e_setup_bare, e2e_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_metrics);
	tcase_add_test(tc, test_metrics_failures_by_key);
	tcase_add_test(tc, test_healthz_storage_failure);
	tcase_add_test(tc, test_healthz_log_stalled_writer);
	tcase_add_test(tc, test_at_risk);
	tcase_add_test(tc, test_metrics_port_taken);
	tcase_add_test(tc, test_request_id);
	tcase_add_test(tc, test_log_json);
	tcase_add_test(tc, test_log_journal);
	tcase_add_test(tc, test_forwarded_for);
	suite_add_tcase(s, tc);

	lf = tcase_create("logflood");
	tcase_add_checked_fixture(lf, e2e_setup_bare, e2e_teardown);
	tcase_set_timeout(lf, 60);
	tcase_add_test(lf, test_log_flood);
	tcase_add_test(lf, test_log_limited);
	suite_add_tcase(s, lf);

	tcase_add_checked_fixture(dm, e2e_setup, e2e_teardown);
	tcase_set_timeout(dm, 60);
	tcase_add_test(dm, test_log_lines);
	tcase_add_test(dm, test_key_rotation_reload);
	tcase_add_test(dm, test_antomctl_send);
	suite_add_tcase(s, dm);
	return s;
}
