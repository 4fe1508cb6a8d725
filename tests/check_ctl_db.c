/*
 * check_ctl_db.c - antomctl inspect, events, refusals, reverify, replay
 * and explain --id against the real daemon and its database, and on
 * PostgreSQL.
 *
 * Each SQLite test starts antomd (e2e.h), delivers a signed payment
 * PENDING, then SUCCESS, a capture, and a FAIL that conflicts, then runs
 * the command's function in a forked child with stdout in a file, and
 * checks its output and exit status, and the database with plain SQL.
 * The same commands on PostgreSQL, against SQLite: check_ctl_pg.c, with
 * the helpers here (ctl_db.h).
 */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "antom.h"
#include "client.h"
#include "ctl.h"
#include "ctl_db.h"
#include "e2e.h"
#include "fixture.h"
#include "http.h"
#include "sign.h"
#include "suites.h"


#define TIMEOUT_MS	30000

/* antomd's configuration at path (ctl_db.h). */
void
ctldb_write_conf(const char *path, const char *database, int with_key)
{
	char pem[512];
	char *real = e2e_real_antom_key();
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fprintf(f, "listen 127.0.0.1:1\n"
	    "database %s\n"
	    "route /antom/notify\n"
	    "client T_ALLPAY_1 1 %s\n", database, real);
	/* Without the key: SANDBOX is given another client's key. */
	fprintf(f, "client %s 1 %s\n", SANDBOX, with_key ?
	    test_path(pem, sizeof(pem), "vectors/test-antom-public.pem") : real);
	fputs("log_level warn\n", f);
	fclose(f);
	free(real);
}

static void
write_conf(int with_key)
{
	ctldb_write_conf(e2e.conf, e2e.db, with_key);
}

/* A fixture's body, with sets, signed as Antom signs for /antom/notify. */
char *
ctldb_signed_body(const char *fixture, const char *const *sets, size_t nsets,
    char hdr[SIGN_HEADER_MAX])
{
	char err[256], *body;

	body = fixture_build(fixture, sets, nsets, err, sizeof(err));
	ck_assert_msg(body != NULL, "fixture: %s", err);
	ck_assert_msg(sign_request(e2e_test_key(),
	    &(struct verify_content){ "/antom/notify", SANDBOX, RTIME,
	    (const unsigned char *)body, strlen(body) }, NULL, hdr,
	    SIGN_HEADER_MAX, err, sizeof(err)) == 0, "sign: %s", err);
	return body;
}

static void
deliver(const char *fixture, const char *const *sets, size_t nsets)
{
	char hdr[SIGN_HEADER_MAX], err[256], *body, *req;
	struct client_response r;
	size_t len;
	FILE *f;

	body = ctldb_signed_body(fixture, sets, nsets, hdr);
	f = open_memstream(&req, &len);
	fprintf(f, "POST /antom/notify HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Content-Type: application/json\r\nclient-id: %s\r\n"
	    "request-time: %s\r\nsignature: %s\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n%s", SANDBOX, RTIME, hdr, strlen(body),
	    body);
	fclose(f);
	memset(&r, 0, sizeof(r));
	ck_assert_msg(client_raw("127.0.0.1", e2e.port, req, len, TIMEOUT_MS,
	    &r, err, sizeof(err)) == 0, "client_raw: %s", err);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, ANTOM_SUCCESS_BODY);
	client_response_free(&r);
	free(req);
	free(body);
}

const char *const ctldb_pay[] = {
	"paymentRequestId=PR-1", "paymentId=P-1"
};
const char *const ctldb_cap[] = {
	"captureRequestId=CR-1", "captureId=C-1", "paymentId=P-1"
};

static void
setup(void)
{
	e2e_setup_dirs("ctldb");
	write_conf(1);
	e2e_start_daemon();
	deliver("payment-pending", ctldb_pay, 2);	/* #1 applied, seq 1 */
	deliver("payment-success", ctldb_pay, 2);	/* #2 applied, seq 2 */
	deliver("capture-success", ctldb_cap, 3);	/* #3 applied, seq 3 */
	deliver("payment-fail", ctldb_pay, 2);	/* #4 conflict */
}

/* Start fn(args...) in a child with stdout in out; returns its pid. */
pid_t
ctldb_spawn(int (*fn)(int, char **), const char *out, char **argv)
{
	pid_t pid;
	int fd, argc = 0;

	while (argv[argc] != NULL)
		argc++;
	fflush(stdout);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || dup2(fd, 1) < 0)
			_exit(126);
		optind = 0;
		_exit(fn(argc, argv));
	}
	return pid;
}

/* The file out once it holds needle, or after 5 s; the caller frees it. */
char *
ctldb_wait_output(const char *out, const char *needle)
{
	char *t = test_slurp(out, NULL);
	int i;

	for (i = 0; i < 100 && strstr(t, needle) == NULL; i++) {
		usleep(50000);
		free(t);
		t = test_slurp(out, NULL);
	}
	return t;
}

/* Run fn with argv; *text gets stdout (caller frees).  Its exit status. */
int
ctldb_run_argv(int (*fn)(int, char **), char **text, char **argv)
{
	char out[160];
	int status;
	pid_t pid;

	snprintf(out, sizeof(out), "%s/ctl.out", e2e.dir);
	pid = ctldb_spawn(fn, out, argv);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	*text = test_slurp(out, NULL);
	return WEXITSTATUS(status);
}

/* Run fn with NULL-terminated args; *text gets stdout (caller frees). */
static int
run(int (*fn)(int, char **), char **text, ...)
{
	char *argv[16];
	va_list ap;
	int n = 0;

	va_start(ap, text);
	while ((argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	return ctldb_run_argv(fn, text, argv);
}

static char a_inspect[] = "inspect", a_events[] = "events";
static char a_reverify[] = "reverify", a_replay[] = "replay";
static char a_c[] = "-c", a_json[] = "--json", a_since[] = "--since";

START_TEST(inspect_human)
{
	char *t;

	ck_assert_int_eq(run(ctl_inspect, &t, a_inspect, a_c, e2e.conf,
	    "PR-1", NULL), 0);
	ck_assert_msg(strstr(t, "payment PR-1 (client " SANDBOX ")") != NULL,
	    "%s", t);
	ck_assert_ptr_nonnull(strstr(t, "status                   SUCCESS"));
	ck_assert_ptr_nonnull(strstr(t, "last_four                4242"));
	/* Schema 8's columns, from the payment-success fixture. */
	ck_assert_msg(strstr(t, "payment_method_type      CARD") != NULL &&
	    strstr(t, "actual_payment_currency  SGD") != NULL, "%s", t);
	ck_assert_ptr_nonnull(strstr(t, "PAYMENT_PENDING applied"));
	ck_assert_ptr_nonnull(strstr(t, "PAYMENT_RESULT conflict"));
	ck_assert_ptr_nonnull(strstr(t, "- -> PENDING notification #1"));
	ck_assert_ptr_nonnull(strstr(t, "PENDING -> SUCCESS notification #2"));
	ck_assert_ptr_nonnull(strstr(t, "capture CR-1"));
	ck_assert_ptr_nonnull(strstr(t, "CAPTURE_RESULT applied"));
	free(t);
	ck_assert_int_eq(run(ctl_inspect, &t, a_inspect, a_c, e2e.conf,
	    "PR-NOPE", NULL), 1);
	free(t);
	ck_assert_int_eq(run(ctl_inspect, &t, a_inspect, a_c, e2e.conf,
	    "--client-id", "T_ALLPAY_1", "PR-1", NULL), 1);
	free(t);
	ck_assert_int_eq(run(ctl_inspect, &t, a_inspect, a_c, e2e.conf,
	    NULL), 2);
	free(t);
}
END_TEST

START_TEST(inspect_json)
{
	char *t;
	json_t *doc, *p, *pay, *a, *cap;
	json_error_t je;

	ck_assert_int_eq(run(ctl_inspect, &t, a_inspect, a_c, e2e.conf,
	    "--client-id", SANDBOX, a_json, "PR-1", NULL), 0);
	doc = json_loads(t, 0, &je);
	ck_assert_msg(doc != NULL, "%s: %s", je.text, t);
	ck_assert_str_eq(json_string_value(json_object_get(doc,
	    "payment_request_id")), "PR-1");
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "payments")), 1);
	p = json_array_get(json_object_get(doc, "payments"), 0);
	pay = json_object_get(p, "payment");
	ck_assert_str_eq(json_string_value(json_object_get(pay, "status")),
	    "SUCCESS");
	ck_assert_str_eq(json_string_value(json_object_get(pay, "client_id")),
	    SANDBOX);
	ck_assert_str_eq(json_string_value(json_object_get(pay, "payment_id")),
	    "P-1");
	ck_assert_int_eq(json_integer_value(json_object_get(pay,
	    "amount_value")), 4200);
	ck_assert_str_eq(json_string_value(json_object_get(pay, "card_brand")),
	    "VISA");
	ck_assert_int_eq(json_integer_value(json_object_get(pay,
	    "notification_id")), 2);
	a = json_object_get(p, "notifications");
	ck_assert_uint_eq(json_array_size(a), 3);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 2),
	    "outcome")), "conflict");
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(a,
	    0), "delivery_count")), 1);
	a = json_object_get(p, "events");
	ck_assert_uint_eq(json_array_size(a), 2);
	ck_assert(json_is_null(json_object_get(json_array_get(a, 0),
	    "old_status")));
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 1),
	    "new_status")), "SUCCESS");
	a = json_object_get(p, "captures");
	ck_assert_uint_eq(json_array_size(a), 1);
	cap = json_array_get(a, 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(cap,
	    "capture"), "capture_id")), "C-1");
	ck_assert_uint_eq(json_array_size(json_object_get(cap,
	    "notifications")), 1);
	ck_assert_uint_eq(json_array_size(json_object_get(cap, "events")), 1);
	json_decref(doc);
	free(t);
}
END_TEST

/*
 * What the merchant's application does when it calls Antom's refund API:
 * one INSERT into refund_links on its own connection while antomd runs.
 */
void
ctldb_sql(const char *sql)
{
	sqlite3 *db;
	char *err = NULL;

	ck_assert_int_eq(sqlite3_open_v2(e2e.db, &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK,
	    "%s: %s", sql, err);
	sqlite3_close(db);
}

/*
 * Refunds and disputes of the payment, and the whole timeline in order.
 * Antom's refunds name no payment: RR-1 is linked by paymentId before its
 * notification, RR-2 by paymentRequestId after it, RR-3 not at all, so
 * only the first two are the payment's and RR-3 is only counted.
 */
START_TEST(inspect_children)
{
	static const char *const ref1[] = {
		"refundRequestId=RR-1", "refundId=RF-1", "amount=1000"
	};
	static const char *const ref2[] = {
		"refundRequestId=RR-2", "refundId=RF-2", "amount=500"
	};
	static const char *const ref3[] = {
		"refundRequestId=RR-3", "refundId=RF-3", "amount=200"
	};
	static const char *const dis_sets[] = {
		"disputeId=D-1", "paymentId=P-1", "paymentRequestId=PR-1"
	};
	char *t;
	json_t *doc, *p, *a, *r;
	json_error_t je;

	ctldb_sql("INSERT INTO refund_links (client_id, refund_request_id,"
	    " payment_id) VALUES ('" SANDBOX "', 'RR-1', 'P-1')");
	deliver("refund-success", ref1, 3);		/* #5, seq 4 */
	deliver("refund-success", ref2, 3);		/* #6, seq 5 */
	ctldb_sql("INSERT INTO refund_links (client_id, refund_request_id,"
	    " payment_request_id) VALUES ('" SANDBOX "', 'RR-2', 'PR-1')");
	deliver("refund-success", ref3, 3);		/* #7, seq 6 */
	deliver("dispute-judged", dis_sets, 3);		/* #8, seq 7 */
	deliver("dispute-created", dis_sets, 3);	/* late: no event */
	ck_assert_int_eq(run(ctl_inspect, &t, a_inspect, a_c, e2e.conf,
	    "PR-1", NULL), 0);
	ck_assert_msg(strstr(t, "refunds:\n  refund RR-1\n") != NULL, "%s", t);
	ck_assert_ptr_nonnull(strstr(t, "  refund RR-2\n"));
	ck_assert_ptr_null(strstr(t, "RR-3"));
	ck_assert_ptr_nonnull(strstr(t, "linked_payment_id        P-1\n"));
	ck_assert_ptr_nonnull(strstr(t, "linked_payment_request_id PR-1\n"));
	ck_assert_ptr_nonnull(strstr(t, "  refunds of client " SANDBOX " that no "
	    "payment can show: 1 not linked, 0 linked to a payment antomd does "
	    "not hold (see refund_status)\n"));
	ck_assert_ptr_nonnull(strstr(t, "REFUND_RESULT applied"));
	ck_assert_ptr_nonnull(strstr(t, "disputes:\n  dispute D-1\n"));
	ck_assert_ptr_nonnull(strstr(t, "stage                    DISPUTE_JUDGED"));
	ck_assert_ptr_nonnull(strstr(t, "reason_code              4853"));
	ck_assert_ptr_nonnull(strstr(t, "DISPUTE_CREATED ignored"));
	ck_assert_ptr_nonnull(strstr(t, "- -> DISPUTE_JUDGED notification #8"));
	ck_assert_msg(strstr(t, "timeline:\n") != NULL, "%s", t);
	ck_assert_ptr_nonnull(strstr(strstr(t, "timeline:\n"),
	    " payment PR-1 - -> PENDING\n"));
	ck_assert_ptr_nonnull(strstr(strstr(t, "timeline:\n"),
	    " capture CR-1 - -> SUCCESS\n"));
	ck_assert_ptr_nonnull(strstr(strstr(t, "timeline:\n"),
	    " refund RR-1 - -> SUCCESS\n"));
	ck_assert_ptr_nonnull(strstr(strstr(t, "timeline:\n"),
	    " refund RR-2 - -> SUCCESS\n"));
	ck_assert_ptr_nonnull(strstr(strstr(t, "timeline:\n"),
	    " dispute D-1 - -> DISPUTE_JUDGED\n"));
	free(t);

	ck_assert_int_eq(run(ctl_inspect, &t, a_inspect, a_c, e2e.conf,
	    a_json, "PR-1", NULL), 0);
	doc = json_loads(t, 0, &je);
	ck_assert_msg(doc != NULL, "%s: %s", je.text, t);
	p = json_array_get(json_object_get(doc, "payments"), 0);
	a = json_object_get(p, "refunds");
	ck_assert_uint_eq(json_array_size(a), 2);
	r = json_object_get(json_array_get(a, 0), "refund");
	ck_assert_int_eq(json_integer_value(json_object_get(r,
	    "amount_value")), 1000);
	ck_assert_str_eq(json_string_value(json_object_get(r,
	    "linked_payment_id")), "P-1");
	ck_assert(json_is_null(json_object_get(r,
	    "linked_payment_request_id")));
	r = json_object_get(json_array_get(a, 1), "refund");
	ck_assert_str_eq(json_string_value(json_object_get(r,
	    "refund_request_id")), "RR-2");
	ck_assert_str_eq(json_string_value(json_object_get(r,
	    "linked_payment_request_id")), "PR-1");
	ck_assert_uint_eq(json_array_size(json_object_get(json_array_get(a, 1),
	    "events")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(p,
	    "refunds_not_linked"), "unlinked")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(p,
	    "refunds_not_linked"), "payment_unknown")), 0);
	a = json_object_get(p, "disputes");
	ck_assert_uint_eq(json_array_size(a), 1);
	ck_assert_uint_eq(json_array_size(json_object_get(json_array_get(a, 0),
	    "notifications")), 2);
	ck_assert_uint_eq(json_array_size(json_object_get(json_array_get(a, 0),
	    "events")), 1);
	/* seq 1, 2 payment, 3 capture, 4, 5 refunds, 7 dispute; not RR-3's 6. */
	a = json_object_get(p, "timeline");
	ck_assert_uint_eq(json_array_size(a), 6);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(a,
	    4), "seq")), 5);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(a,
	    5), "seq")), 7);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(a,
	    5), "object_type")), "dispute");
	json_decref(doc);
	free(t);
}
END_TEST

/*
 * The refusals antomd holds, at risk or not, oldest first; the unverified
 * sample apart, never at risk, never in the exit status.
 */
START_TEST(refusals_listed)
{
	static char a_refusals[] = "refusals";
	char *t, sql[2048];
	json_t *doc;
	json_error_t je;

	ck_assert_int_eq(run(ctl_refusals, &t, a_refusals, a_c, e2e.conf,
	    NULL), 0);
	ck_assert_str_eq(t, "0 refused and not stored since; 0 at risk "
	    "(refused more than 3600 s ago), 0 given up by Antom; 0 "
	    "unverified (not at risk)\n");
	free(t);
	snprintf(sql, sizeof(sql), "sqlite3 %s \"INSERT INTO refusals VALUES"
	    " ('%064d', '" SANDBOX "', 401, 'misrouted', 'x',"
	    " 'PAYMENT_RESULT', 'payment', 'PR-9', strftime('%%Y-%%m-%%dT%%H:"
	    "%%M:%%fZ', 'now', '-2 hours'), strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ',"
	    " 'now'), 3, 1), ('', 'X' || char(27), 503, 'storage_failure', NULL,"
	    " NULL, NULL, NULL, strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', 'now',"
	    " '-2 days'), strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', 'now', '-1 days'),"
	    " 1, 1), ('%064d', 'C', 503, 'SERVICE_UNAVAILABLE', NULL, NULL, NULL,"
	    " NULL, strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', 'now'),"
	    " strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', 'now'), 1, 1), ('%064d', '"
	    SANDBOX "', 413, 'body_too_large', NULL, NULL, NULL, NULL,"
	    " strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', 'now', '-3 days'),"
	    " strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', 'now'), 9, 0)\"", e2e.db, 1,
	    2, 3);
	ck_assert_int_eq(system(sql), 0);
	ck_assert_int_eq(run(ctl_refusals, &t, a_refusals, a_c, e2e.conf,
	    NULL), 1);
	ck_assert_msg(strncmp(t, "GIVEN UP ", 9) == 0, "%s", t);
	ck_assert_ptr_nonnull(strstr(t, "refused 1x, last 503 "
	    "storage_failure; client X\\x1b; - -; body (not read)\n"
	    "AT RISK "));
	ck_assert_ptr_nonnull(strstr(t, "refused 3x, last 401 "
	    "misrouted; client " SANDBOX "; payment PR-9; body "
	    "0000000000000000\nrefused "));
	/* The oldest of all, but unverified: apart, last, not at risk. */
	ck_assert_msg(strstr(t, "\nunverified sample (no valid signature: "
	    "anyone can send these; never at risk):\nunverified ") != NULL &&
	    strstr(t, "refused 9x, last 413 body_too_large; client " SANDBOX
	    "; - -; body 0000000000000000\n3 refused") != NULL, "%s", t);
	ck_assert_ptr_nonnull(strstr(t, "\n3 refused and not stored since; 2 "
	    "at risk (refused more than 3600 s ago), 1 given up by Antom; 1 "
	    "unverified (not at risk)\n"));
	free(t);
	ck_assert_int_eq(run(ctl_refusals, &t, a_refusals, a_c, e2e.conf,
	    a_json, NULL), 1);
	doc = json_loads(t, 0, &je);
	ck_assert_msg(doc != NULL, "%s: %s", je.text, t);
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "at_risk")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "given_up")),
	    1);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "refusals")), 3);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "unverified")),
	    1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(
	    json_object_get(doc, "unverified"), 0), "at_risk")), 0);
	json_decref(doc);
	free(t);
	/* The unverified row alone: nothing at risk, exit 0. */
	snprintf(sql, sizeof(sql), "sqlite3 %s \"DELETE FROM refusals WHERE"
	    " authentic\"", e2e.db);
	ck_assert_int_eq(system(sql), 0);
	ck_assert_int_eq(run(ctl_refusals, &t, a_refusals, a_c, e2e.conf,
	    NULL), 0);
	free(t);
	ck_assert_int_eq(run(ctl_refusals, &t, a_refusals, NULL), 2);
	free(t);
}
END_TEST

START_TEST(events_since)
{
	char *t, *line;
	json_t *o;

	ck_assert_int_eq(run(ctl_events, &t, a_events, a_c, e2e.conf, a_since,
	    "0", NULL), 0);
	ck_assert_msg(strncmp(t, "1 ", 2) == 0, "%s", t);
	ck_assert_ptr_nonnull(strstr(t, " " SANDBOX " payment PR-1 none->PENDING 1\n"));
	line = strstr(t, "\n2 ");
	ck_assert_ptr_nonnull(line);
	ck_assert_ptr_nonnull(strstr(line, "PENDING->SUCCESS 2\n3 "));
	ck_assert_ptr_nonnull(strstr(t, " capture CR-1 none->SUCCESS 3\n"));
	ck_assert_ptr_null(strstr(t, "\n4 "));
	free(t);

	ck_assert_int_eq(run(ctl_events, &t, a_events, a_c, e2e.conf, a_since,
	    "2", NULL), 0);
	ck_assert_msg(strncmp(t, "3 ", 2) == 0 && strchr(t, '\n')[1] == '\0',
	    "%s", t);
	free(t);

	ck_assert_int_eq(run(ctl_events, &t, a_events, a_c, e2e.conf, a_since,
	    "0", "--limit", "1", a_json, NULL), 0);
	o = json_loads(t, JSON_DISABLE_EOF_CHECK, NULL);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "seq")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(o, "new_status")),
	    "PENDING");
	ck_assert_str_eq(strchr(t, '\n'), "\n");
	json_decref(o);
	free(t);

	ck_assert_int_eq(run(ctl_events, &t, a_events, a_c, e2e.conf, NULL), 2);
	free(t);
}
END_TEST

START_TEST(events_follow)
{
	static const char *const sets[] = {
		"paymentRequestId=PR-2", "paymentId=P-2"
	};
	char out[160], *argv[] = { a_events, a_c, e2e.conf, a_since, "3",
	    "--follow", NULL };
	char *t;
	pid_t pid;
	int status;

	snprintf(out, sizeof(out), "%s/follow.out", e2e.dir);
	pid = ctldb_spawn(ctl_events, out, argv);
	usleep(300000);
	deliver("payment-success", sets, 2);
	t = ctldb_wait_output(out, "PR-2");
	ck_assert_msg(strstr(t, "4 ") == t &&
	    strstr(t, " payment PR-2 none->SUCCESS 5\n") != NULL, "%s", t);
	free(t);
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

START_TEST(reverify_keys)
{
	char *t;

	ck_assert_int_eq(run(ctl_reverify, &t, a_reverify, a_c, e2e.conf,
	    NULL), 0);
	ck_assert_str_eq(t, "4 verified, 0 failed\n");
	free(t);
	ck_assert_int_eq(run(ctl_reverify, &t, a_reverify, a_c, e2e.conf,
	    "--since-id", "2", NULL), 0);
	ck_assert_str_eq(t, "2 verified, 0 failed\n");
	free(t);

	write_conf(0);
	ck_assert_int_eq(run(ctl_reverify, &t, a_reverify, a_c, e2e.conf,
	    NULL), 1);
	ck_assert_msg(strstr(t, "notification 1 client " SANDBOX ": ") == t,
	    "%s", t);
	ck_assert_ptr_nonnull(strstr(t, "notification 4 client " SANDBOX));
	ck_assert_ptr_nonnull(strstr(t, "\n0 verified, 4 failed\n"));
	free(t);
}
END_TEST

START_TEST(replay_restores)
{
	sqlite3 *db;
	char *t;

	/* A bug lost the payment and its events. */
	ck_assert_int_eq(sqlite3_open(e2e.db, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	ck_assert_int_eq(sqlite3_exec(db, "DELETE FROM events WHERE "
	    "object_type = 'payment'; DELETE FROM payments;", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);

	/* The old PENDING first: nothing held, so it applies. */
	ck_assert_int_eq(run(ctl_replay, &t, a_replay, a_c, e2e.conf, "1",
	    NULL), 0);
	ck_assert_str_eq(t, "notification 1: applied\n");
	free(t);
	ck_assert_int_eq(run(ctl_replay, &t, a_replay, a_c, e2e.conf, "2",
	    NULL), 0);
	ck_assert_str_eq(t, "notification 2: applied\n");
	free(t);
	ck_assert_str_eq(e2e_q_text("SELECT status || ' ' || notification_id "
	    "|| ' ' || card_brand FROM payments WHERE payment_request_id = "
	    "'PR-1'"), "SUCCESS 2 VISA");
	ck_assert_str_eq(e2e_q_text("SELECT group_concat(coalesce(old_status,"
	    " '-') || '>' || new_status || '#' || notification_id, ' ') FROM "
	    "(SELECT * FROM events WHERE object_type = 'payment' ORDER BY "
	    "seq)"), "->PENDING#1 PENDING>SUCCESS#2");
	/* seq is never reused. */
	ck_assert_int_eq(e2e_q_int("SELECT min(seq) FROM events WHERE "
	    "object_type = 'payment'"), 4);
	ck_assert_str_eq(e2e_q_text("SELECT group_concat(outcome, ',') FROM "
	    "(SELECT outcome FROM notifications ORDER BY id)"),
	    "applied,applied,applied,conflict");
}
END_TEST

START_TEST(replay_rules)
{
	char *t;
	long long events = e2e_q_int("SELECT count(*) FROM events");

	/* Effect already present: duplicate, no event. */
	ck_assert_int_eq(run(ctl_replay, &t, a_replay, a_c, e2e.conf, "2",
	    NULL), 0);
	ck_assert_str_eq(t, "notification 2: duplicate\n");
	free(t);
	ck_assert_int_eq(run(ctl_replay, &t, a_replay, a_c, e2e.conf, "3",
	    NULL), 0);
	ck_assert_str_eq(t, "notification 3: duplicate\n");
	free(t);
	/* Never backwards, never over a final status. */
	ck_assert_int_eq(run(ctl_replay, &t, a_replay, a_c, e2e.conf, "1",
	    NULL), 0);
	ck_assert_str_eq(t, "notification 1: ignored\n");
	free(t);
	ck_assert_int_eq(run(ctl_replay, &t, a_replay, a_c, e2e.conf, "4",
	    NULL), 0);
	ck_assert_str_eq(t, "notification 4: conflict\n");
	free(t);
	ck_assert_int_eq(e2e_q_int("SELECT count(*) FROM events"), events);
	ck_assert_str_eq(e2e_q_text("SELECT status || ' ' || notification_id "
	    "FROM payments"), "SUCCESS 2");
	/* Unknown id, bad id. */
	ck_assert_int_eq(run(ctl_replay, &t, a_replay, a_c, e2e.conf, "99",
	    NULL), 1);
	free(t);
	ck_assert_int_eq(run(ctl_replay, &t, a_replay, a_c, e2e.conf, "x",
	    NULL), 2);
	free(t);
}
END_TEST

START_TEST(bad_config)
{
	char *t;
	FILE *f = fopen(e2e.conf, "w");

	ck_assert_ptr_nonnull(f);
	fputs("bogus directive\n", f);
	fclose(f);
	ck_assert_int_eq(run(ctl_inspect, &t, a_inspect, a_c, e2e.conf,
	    "PR-1", NULL), 3);
	free(t);
	ck_assert_int_eq(run(ctl_events, &t, a_events, a_c, e2e.conf, a_since,
	    "0", NULL), 3);
	free(t);
	ck_assert_int_eq(run(ctl_reverify, &t, a_reverify, a_c, e2e.conf,
	    NULL), 3);
	free(t);
	ck_assert_int_eq(run(ctl_replay, &t, a_replay, a_c, e2e.conf, "1",
	    NULL), 3);
	free(t);
}
END_TEST

Suite *
ctl_db_suite(void)
{
	Suite *s = suite_create("ctl_db");
	TCase *tc;

	tc = tcase_create("inspect");
	tcase_add_checked_fixture(tc, setup, e2e_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, inspect_human);
	tcase_add_test(tc, inspect_json);
	tcase_add_test(tc, inspect_children);
	tcase_add_test(tc, refusals_listed);
	suite_add_tcase(s, tc);

	tc = tcase_create("events");
	tcase_add_checked_fixture(tc, setup, e2e_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, events_since);
	tcase_add_test(tc, events_follow);
	suite_add_tcase(s, tc);

	tc = tcase_create("reverify");
	tcase_add_checked_fixture(tc, setup, e2e_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, reverify_keys);
	tcase_add_test(tc, bad_config);
	suite_add_tcase(s, tc);

	tc = tcase_create("replay");
	tcase_add_checked_fixture(tc, setup, e2e_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, replay_restores);
	tcase_add_test(tc, replay_rules);
	suite_add_tcase(s, tc);

	suite_add_tcase(s, ctldb_pg_tcase());	/* check_ctl_pg.c */
	return s;
}
