/*
 * check_ctl_explain.c - antomctl explain: every known-answer vector as a
 * captured request, the '+' turned into ' ' bug, a proxy's prefix, an
 * unknown client id, a database row, usage and I/O errors.
 *
 * ctl_explain() runs in a forked child with its stdout on a pipe, so
 * each test sees the exit status and the report exactly as a user would.
 */
#include <sys/wait.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "ctl.h"
#include "e2e.h"
#include "sign.h"
#include "suites.h"

#define SANDBOX		"SANDBOX_5YEZ4X2ZEB3C05479"
#define OUT_MAX		(256 * 1024)

static char out[OUT_MAX];

/* Run ctl_explain(argv) in a child; its stdout into out.  Exit status. */
static int
run(const char *a1, const char *a2, const char *a3, const char *a4)
{
	char *argv[6];
	int fd[2], status, argc = 0;
	size_t n = 0;
	ssize_t got;
	pid_t pid;

	argv[argc++] = (char *)"explain";
	if (a1 != NULL)
		argv[argc++] = (char *)a1;
	if (a2 != NULL)
		argv[argc++] = (char *)a2;
	if (a3 != NULL)
		argv[argc++] = (char *)a3;
	if (a4 != NULL)
		argv[argc++] = (char *)a4;
	argv[argc] = NULL;
	ck_assert_int_eq(pipe(fd), 0);
	fflush(stdout);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fd[0]);
		dup2(fd[1], STDOUT_FILENO);
		close(fd[1]);
		optind = 0;
		status = ctl_explain(argc, argv);
		fflush(stdout);
		_exit(status);
	}
	close(fd[1]);
	while (n < sizeof(out) - 1 &&
	    (got = read(fd[0], out + n, sizeof(out) - 1 - n)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		ck_assert_int_gt(got, 0);
		n += (size_t)got;
	}
	out[n] = '\0';
	close(fd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

#define ck_out(s)	ck_assert_msg(strstr(out, (s)) != NULL, \
			    "no \"%s\" in:\n%s", (s), out)

static void
write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* e2e.conf: the test key for SANDBOX (or for client), plus extra lines. */
static void
write_conf(const char *client, const char *extra)
{
	char buf[2048], key[512];

	snprintf(buf, sizeof(buf), "listen 127.0.0.1:1\ndatabase %s\n"
	    "route /antom/notify\nclient %s 1 %s\n%s", e2e.db,
	    client != NULL ? client : SANDBOX,
	    test_path(key, sizeof(key), "vectors/test-antom-public.pem"),
	    extra != NULL ? extra : "");
	write_file(e2e.conf, buf, strlen(buf));
}

/* A captured request, CRLF (or LF) line ends; its path in e2e.dir. */
static const char *
write_req(const char *name, const char *target, const char *cid,
    const char *rtime, const char *sig, const char *body, int lf)
{
	static char path[256];
	const char *eol = lf ? "\n" : "\r\n";
	char *buf;
	size_t cap = strlen(body) + strlen(sig) + 1024;
	int n;

	buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	n = snprintf(buf, cap, "POST %s HTTP/1.1%sHost: example.com%s"
	    "Content-Type: application/json%sContent-Length: %zu%s"
	    "client-id: %s%srequest-time: %s%ssignature: %s%s%s%s", target,
	    eol, eol, eol, strlen(body), eol, cid, eol, rtime, eol, sig, eol,
	    eol, body);
	ck_assert_int_gt(n, 0);
	snprintf(path, sizeof(path), "%s/%s.req", e2e.dir, name);
	write_file(path, buf, (size_t)n);
	free(buf);
	return path;
}

static const char *
hdr(json_t *v, const char *name)
{
	json_t *h = json_object_get(v, "headers");
	const char *k;
	json_t *val;

	json_object_foreach(h, k, val)
		if (strcasecmp(k, name) == 0)
			return json_string_value(val);
	return NULL;
}

static json_t *
vectors(const char *file)
{
	char path[512];
	json_t *j = json_load_file(test_path(path, sizeof(path), file), 0,
	    NULL);

	ck_assert_ptr_nonnull(j);
	return j;
}

/* Vector i of the test-key file as a capture. */
static const char *
vector_req(json_t *v, int lf)
{
	return write_req(json_string_value(json_object_get(v, "name")),
	    json_string_value(json_object_get(v, "path")),
	    hdr(v, "client-id"), hdr(v, "request-time"), hdr(v, "signature"),
	    json_string_value(json_object_get(v, "body")), lf);
}

START_TEST(valid_vectors)
{
	json_t *all, *v;
	size_t i;
	int n = 0;

	write_conf(NULL, NULL);
	all = vectors("vectors/signed-test-key.json");
	json_array_foreach(all, i, v) {
		if (strcmp(json_string_value(json_object_get(v, "expect")),
		    "valid") != 0)
			continue;
		ck_assert_msg(run("-c", e2e.conf, vector_req(v, (int)i % 2),
		    NULL) == 0, "%s:\n%s",
		    json_string_value(json_object_get(v, "name")), out);
		ck_out("result:        verifies as received");
		n++;
	}
	ck_assert_int_ge(n, 5);
	json_decref(all);
}
END_TEST

START_TEST(real_antom_2019)
{
	char extra[4096], *key;
	json_t *all, *v;

	key = e2e_real_antom_key();
	snprintf(extra, sizeof(extra), "route /api/back\nclient T_ALLPAY_1 1 "
	    "%s\n", key);
	free(key);
	write_conf(NULL, extra);
	all = vectors("vectors/real-antom-2019.json");
	v = json_array_get(all, 0);
	ck_assert_int_eq(run("-c", e2e.conf, vector_req(v, 0), NULL), 0);
	ck_out("verifies as received");
	ck_out("route:         /api/back");
	json_decref(all);
}
END_TEST

static json_t *
vector_named(json_t *all, const char *name)
{
	json_t *v;
	size_t i;

	json_array_foreach(all, i, v)
		if (strcmp(json_string_value(json_object_get(v, "name")),
		    name) == 0)
			return v;
	ck_abort_msg("no vector %s", name);
	return NULL;
}

START_TEST(tampered_body)
{
	json_t *all;

	write_conf(NULL, NULL);
	all = vectors("vectors/signed-test-key.json");
	ck_assert_int_eq(run("-c", e2e.conf,
	    vector_req(vector_named(all, "tampered-body"), 0), NULL), 1);
	ck_out("does NOT verify as received (mismatch)");
	ck_out("diagnosis:     no variant verifies");
	ck_assert_ptr_null(strstr(out, "[VERIFIES]"));
	json_decref(all);
}
END_TEST

START_TEST(wrong_path)
{
	json_t *all;

	write_conf(NULL, NULL);
	all = vectors("vectors/signed-test-key.json");
	ck_assert_int_eq(run("-c", e2e.conf,
	    vector_req(vector_named(all, "wrong-path"), 1), NULL), 1);
	ck_out("[VERIFIES] trailing slash toggled: \"/antom/notify/\"");
	ck_out("diagnosis:     verifies over trailing slash toggled "
	    "(\"/antom/notify/\"");
	json_decref(all);
}
END_TEST

START_TEST(reserialised_body)
{
	json_t *all;

	write_conf(NULL, NULL);
	all = vectors("vectors/signed-test-key.json");
	ck_assert_int_eq(run("-c", e2e.conf,
	    vector_req(vector_named(all, "reserialised-body"), 0), NULL), 1);
	ck_out("body looks re-serialised");
	ck_out("diagnosis:     verifies over body re-serialised compactly");
	json_decref(all);
}
END_TEST

/* A fresh request signed over sign_path, body b. */
static void
sign_req(const char *sign_path, const char *cid, const char *rtime,
    const char *body, int raw, char *sig, size_t cap)
{
	struct sign_options so;
	char err[256];

	memset(&so, 0, sizeof(so));
	so.raw = raw;
	ck_assert_msg(sign_request(e2e_test_key(),
	    &(struct verify_content){ sign_path, cid, rtime,
	    (const unsigned char *)body, strlen(body) }, &so, sig, cap, err,
	    sizeof(err)) == 0, "%s", err);
}

static const char body1[] = "{\"notifyType\":\"PAYMENT_RESULT\",\"result\":"
    "{\"resultCode\":\"SUCCESS\",\"resultStatus\":\"S\",\"resultMessage\":"
    "\"success\"},\"paymentRequestId\":\"PR-explain\"}";

START_TEST(plus_turned_space)
{
	char sig[2048], rtime[32], *p;
	int i, blanks = 0;

	write_conf(NULL, NULL);
	/* A raw base64 value holding at least one '+'. */
	for (i = 0; i < 100; i++) {
		snprintf(rtime, sizeof(rtime), "17325504%05d", i);
		sign_req("/antom/notify", SANDBOX, rtime, body1, 1, sig,
		    sizeof(sig));
		if (strchr(strstr(sig, "signature="), '+') != NULL)
			break;
	}
	ck_assert_int_lt(i, 100);
	for (p = strstr(sig, "signature="); *p != '\0'; p++)
		if (*p == '+') {
			*p = ' ';
			blanks++;
		}
	ck_assert_int_eq(run("-c", e2e.conf, write_req("plus", "/antom/notify",
	    SANDBOX, rtime, sig, body1, 0), NULL), 1);
	ck_out("does NOT verify as received (bad_encoding)");
	ck_out("a '+' turned into ' ' by form-decoding");
	ck_out("[VERIFIES] bare route signed path");
	ck_out("diagnosis:     '+' turned into ' ' in the signature");
}
END_TEST

/* Antom signs the public path; the proxy strips "/payments". */
START_TEST(public_prefix)
{
	char sig[2048];

	write_conf(NULL, "route /hook /payments/hook\n");
	sign_req("/payments/antom/notify", SANDBOX, "1732550400123", body1, 0,
	    sig, sizeof(sig));
	ck_assert_int_eq(run("-c", e2e.conf, write_req("prefix",
	    "/antom/notify", SANDBOX, "1732550400123", sig, body1, 0), NULL),
	    1);
	ck_out("[VERIFIES] public prefix \"/payments\" (of route /hook) "
	    "applied: \"/payments/antom/notify\"");
	ck_out("diagnosis:     verifies over public prefix");
}
END_TEST

/* Captured in front of the proxy: the public path, not the local one. */
START_TEST(proxied_path)
{
	char sig[2048];

	write_conf(NULL, "route /notify /payments/notify\n");
	sign_req("/payments/notify", SANDBOX, "1732550400123", body1, 0, sig,
	    sizeof(sig));
	ck_assert_int_eq(run("-c", e2e.conf, write_req("proxied",
	    "/payments/notify", SANDBOX, "1732550400123", sig, body1, 1),
	    NULL), 1);
	ck_out("route:         none for this path");
	ck_out("it is the public signed path of route /notify");
	ck_out("[VERIFIES] request path (no route)");
	/* Served at its local path, the same request is accepted. */
	ck_assert_int_eq(run("-c", e2e.conf, write_req("local", "/notify",
	    SANDBOX, "1732550400123", sig, body1, 1), NULL), 0);
	ck_out("verifies as received");
}
END_TEST

START_TEST(unknown_client)
{
	json_t *all;

	write_conf("OTHER_CLIENT", NULL);
	all = vectors("vectors/signed-test-key.json");
	ck_assert_int_eq(run("-c", e2e.conf,
	    vector_req(vector_named(all, "payment-success-3ds"), 0), NULL), 1);
	ck_out("is not configured; configured clients: OTHER_CLIENT");
	ck_out("does NOT verify as received (unknown_client)");
	ck_out("[VERIFIES] key of configured client OTHER_CLIENT");
	ck_out("diagnosis:     verifies over key of configured client "
	    "OTHER_CLIENT");
	json_decref(all);
}
END_TEST

START_TEST(bad_escape)
{
	write_conf(NULL, NULL);
	ck_assert_int_eq(run("-c", e2e.conf, write_req("esc", "/antom/notify",
	    SANDBOX, "1", "algorithm=RSA256,signature=abc%2Gdef", body1, 0),
	    NULL), 1);
	ck_out("bad %XX escape at offset 3: \"%2G\"");
	ck_out("(bad_encoding)");
}
END_TEST

/* A row as the daemon's writer stores it (schema of src/store_schema.c). */
START_TEST(database_row)
{
	char sig[2048], sql[4096];
	sqlite3 *db;
	sqlite3_stmt *st;

	write_conf(NULL, NULL);
	sign_req("/antom/notify", SANDBOX, "2024-05-11T02:13:00Z", body1, 0,
	    sig, sizeof(sig));
	ck_assert_int_eq(sqlite3_open(e2e.db, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE notifications ("
	    "id INTEGER PRIMARY KEY, client_id TEXT NOT NULL,"
	    "body_sha256 TEXT NOT NULL, body BLOB NOT NULL,"
	    "request_time TEXT NOT NULL, signature TEXT NOT NULL,"
	    "signed_path TEXT NOT NULL, key_version INTEGER NOT NULL,"
	    "notify_type TEXT, kind TEXT NOT NULL, object_id TEXT,"
	    "outcome TEXT NOT NULL, archive_reason TEXT,"
	    "first_received_at TEXT NOT NULL, last_received_at TEXT NOT NULL,"
	    "delivery_count INTEGER NOT NULL DEFAULT 1,"
	    "UNIQUE (client_id, body_sha256))", NULL, NULL, NULL), SQLITE_OK);
	snprintf(sql, sizeof(sql), "INSERT INTO notifications (id, client_id,"
	    " body_sha256, body, request_time, signature, signed_path,"
	    " key_version, kind, outcome, first_received_at, last_received_at)"
	    " VALUES (7, ?, 'x', ?, '2024-05-11T02:13:00Z', ?,"
	    " '/antom/notify?order=1', 1, 'payment', 'applied', 'now', 'now')");
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_text(st, 1, SANDBOX, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, body1, (int)strlen(body1), SQLITE_STATIC);
	sqlite3_bind_text(st, 3, sig, -1, SQLITE_STATIC);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);

	ck_assert_int_eq(run("-c", e2e.conf, "--id", "7"), 0);
	ck_out("request:       notification 7: \"POST\" \"/antom/notify\"");
	ck_out("verifies as received");
	ck_assert_int_eq(run("-c", e2e.conf, "--id", "8"), 3);
}
END_TEST

/*
 * The request target as the daemon routes it (target.h, shared): an
 * absolute-form http:// or https:// target by its path, anything else
 * neither form nor routed: 404, never "verifies".  Before, explain
 * skipped 7 bytes of "https://" too ("//host/antom/notify") and took a
 * userinfo@ or empty authority the daemon does not route.
 */
static const struct {
	const char	*target;
	int		 verifies;	/* 1: exit 0; 0: 404, exit 1 */
} explain_targets[] = {
	{ "/antom/notify", 1 },
	{ "/antom/notify?order=1", 1 },
	{ "http://shop.example/antom/notify", 1 },
	{ "https://shop.example/antom/notify", 1 },
	{ "HTTPS://shop.example:8443/antom/notify?order=1", 1 },
	{ "http://[::1]:8080/antom/notify", 1 },
	{ "https://shop.example", 0 },
	{ "http:///antom/notify", 0 },
	{ "http://user@shop.example/antom/notify", 0 },
	{ "ftp://shop.example/antom/notify", 0 },
	{ "shop.example:443", 0 },
	{ "*", 0 },
	{ "antom/notify", 0 },
};

START_TEST(absolute_form)
{
	char sig[2048];
	const char *t = explain_targets[_i].target;
	int rc;

	write_conf(NULL, NULL);
	sign_req("/antom/notify", SANDBOX, "1", body1, 0, sig, sizeof(sig));
	rc = run("-c", e2e.conf, write_req("abs", t, SANDBOX, "1", sig, body1,
	    0), NULL);
	if (explain_targets[_i].verifies) {
		ck_assert_msg(rc == 0, "%s: exit %d:\n%s", t, rc, out);
		ck_out("result:        verifies as received");
		ck_out("route:         /antom/notify");
	} else {
		ck_assert_msg(rc == 1, "%s: exit %d:\n%s", t, rc, out);
		ck_out("antomd answers 404");
		ck_assert_ptr_null(strstr(out, "verifies as received"));
	}
}
END_TEST

/*
 * The same captures sent to the real daemon: it answers 200 exactly when
 * explain says "verifies as received", and 404 when explain says so.
 */
START_TEST(absolute_form_daemon)
{
	char sig[2048], *req;
	const char *path;
	struct client_response r;
	size_t i, len;
	int rc, st;

	write_conf(NULL, "metrics_listen off\n");
	e2e_start_daemon();
	sign_req("/antom/notify", SANDBOX, "1", body1, 0, sig, sizeof(sig));
	for (i = 0; i < sizeof(explain_targets) / sizeof(explain_targets[0]);
	    i++) {
		const char *t = explain_targets[i].target;

		path = write_req("abs", t, SANDBOX, "1", sig, body1, 0);
		rc = run("-c", e2e.conf, path, NULL);
		req = test_slurp(path, &len);
		st = e2e_send(e2e.port, req, len, &r);
		free(req);
		client_response_free(&r);
		ck_assert_msg((st == 200) == (rc == 0) && st ==
		    (explain_targets[i].verifies ? 200 : 404), "%s: daemon %d, "
		    "explain exit %d:\n%s", t, st, rc, out);
	}
	/* libmicrohttpd ends the target at a NUL: explain too. */
	path = write_req("abs", "/antom/notify@/x", SANDBOX, "1", sig, body1, 0);
	req = test_slurp(path, &len);
	*strchr(req, '@') = '\0';
	write_file(path, req, len);
	rc = run("-c", e2e.conf, path, NULL);
	st = e2e_send(e2e.port, req, len, &r);
	free(req);
	client_response_free(&r);
	ck_assert_msg(st == 200 && rc == 0, "NUL: daemon %d, explain exit "
	    "%d:\n%s", st, rc, out);
	ck_out("note: NUL byte in the request target");
	ck_assert_int_eq(e2e_q_int("SELECT delivery_count FROM notifications"),
	    7);
	ck_assert_int_eq(e2e_stop_daemon(), 0);
}
END_TEST

START_TEST(usage_and_io)
{
	write_conf(NULL, NULL);
	ck_assert_int_eq(run("--help", NULL, NULL, NULL), 0);
	ck_out("usage: antomctl explain -c FILE REQUEST");
	ck_assert_int_eq(run(NULL, NULL, NULL, NULL), 2);
	ck_assert_int_eq(run("-c", e2e.conf, NULL, NULL), 2);
	ck_assert_int_eq(run("-c", e2e.conf, "--id", "x"), 2);
	ck_assert_int_eq(run("-c", e2e.conf, "a", "b"), 2);
	ck_assert_int_eq(run("--bogus", NULL, NULL, NULL), 2);
	ck_assert_int_eq(run("-c", "/nonexistent/antomd.conf",
	    "/dev/null", NULL), 3);
	ck_assert_int_eq(run("-c", e2e.conf, "/nonexistent/req", NULL), 3);
	/* Not an HTTP request at all. */
	write_file(e2e.log, "hello", 5);
	ck_assert_int_eq(run("-c", e2e.conf, e2e.log, NULL), 3);
	/* Headers without a signature: judged, and rejected. */
	write_file(e2e.log, "POST /antom/notify HTTP/1.1\n\n{}", 31);
	ck_assert_int_eq(run("-c", e2e.conf, e2e.log, NULL), 1);
	ck_out("missing_header");
}
END_TEST

/* Checked fixtures: each test (its own fork) gets its own directory. */
static void
setup(void)
{
	e2e_setup_dirs("explain");
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", e2e.dir);
	ck_assert_int_eq(system(cmd), 0);
}

Suite *
ctl_explain_suite(void)
{
	Suite *s = suite_create("ctl_explain");
	TCase *tc;

	tc = tcase_create("vectors");
	tcase_set_timeout(tc, 20);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, valid_vectors);
	tcase_add_test(tc, real_antom_2019);
	tcase_add_test(tc, tampered_body);
	tcase_add_test(tc, wrong_path);
	tcase_add_test(tc, reserialised_body);
	suite_add_tcase(s, tc);

	tc = tcase_create("diagnosis");
	tcase_set_timeout(tc, 20);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, plus_turned_space);
	tcase_add_test(tc, public_prefix);
	tcase_add_test(tc, proxied_path);
	tcase_add_test(tc, unknown_client);
	tcase_add_test(tc, bad_escape);
	tcase_add_loop_test(tc, absolute_form, 0, (int)(sizeof(explain_targets) /
	    sizeof(explain_targets[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("target_daemon");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, e2e_teardown);
	tcase_add_test(tc, absolute_form_daemon);
	suite_add_tcase(s, tc);

	tc = tcase_create("database");
	tcase_set_timeout(tc, 20);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, database_row);
	suite_add_tcase(s, tc);

	tc = tcase_create("usage");
	tcase_set_timeout(tc, 20);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, usage_and_io);
	suite_add_tcase(s, tc);
	return s;
}
