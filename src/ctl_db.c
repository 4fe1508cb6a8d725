/*
 * ctl_db.c - antomctl's database commands: inspect, events, refusals,
 * reverify, replay.
 *
 * Each reads the daemon's configuration (-c FILE) for the database path
 * and the client keys.  inspect, events, refusals and reverify open the database
 * read-only (a "file:...?mode=ro" URI) and read in short transactions, so
 * they run beside a live daemon without ever blocking its writer for
 * long; replay is the one writer and goes through store_replay(), so the
 * state machine's rules hold for it as for any delivery.
 *
 * Exit status: 0 done, 1 found problems or not found, 2 usage error,
 * 3 configuration or database error.  Every byte that came from Antom or
 * from the database is escaped (log_escape()) before it reaches a human
 * terminal; --json output is Jansson's.
 *
 * Single-threaded, like the rest of antomctl.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "conf.h"
#include "ctl.h"
#include "log.h"
#include "notif.h"
#include "store.h"
#include "util.h"
#include "verify.h"

#define DB_EXIT_OK	0
#define DB_EXIT_FOUND	1	/* problems found, or nothing found */
#define DB_EXIT_USAGE	2
#define DB_EXIT_ERR	3	/* configuration or database error */

#define DB_BUSY_MS	5000
#define DB_POLL_MS	500
#define DB_ESC_MAX	(4 * LOG_VALUE_MAX + 1)

/* Escape an untrusted string for a terminal; returns out. */
static const char *
db_esc(const char *s, char *out, size_t outcap)
{
	if (s == NULL)
		return "-";
	log_escape(s, strlen(s), out, outcap);
	return out;
}

/* Load the configuration; NULL with a message on stderr. Caller owns it. */
static struct conf *
db_conf(const char *path)
{
	struct conf *c = NULL;
	char err[1024];

	if (conf_load(path, &c, err, sizeof(err)) != CONF_OK) {
		ctl_warnx(NULL, "%s", err);
		return NULL;
	}
	return c;
}

/*
 * Open path read-only through a URI (so a reader can never create or
 * migrate anything), with a busy timeout, and check that it is a database
 * of the schema we know.  NULL with a message on stderr.
 */
static sqlite3 *
db_open_ro(const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *uri;
	size_t i, n = 0, len = strlen(path);
	int version = -1;

	uri = malloc(3 * len + 16);
	if (uri == NULL) {
		ctl_warnx(NULL, "out of memory");
		return NULL;
	}
	n = (size_t)sprintf(uri, "file:");
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)path[i];

		if (c == '?' || c == '#' || c == '%' || c < 0x20 || c >= 0x7f) {
			uri[n++] = '%';
			uri[n++] = hex[c >> 4];
			uri[n++] = hex[c & 15];
		} else
			uri[n++] = (char)c;
	}
	strcpy(uri + n, "?mode=ro");
	if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI,
	    NULL) != SQLITE_OK) {
		ctl_warnx(NULL, "%s: %s", path, db != NULL ? sqlite3_errmsg(db) :
		    "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(db, DB_BUSY_MS);
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) !=
	    SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		ctl_warnx(NULL, "%s: %s", path, sqlite3_errmsg(db));
		goto fail;
	}
	version = sqlite3_column_int(st, 0);
	if (version != STORE_SCHEMA_VERSION) {
		ctl_warnx(NULL, "%s: schema version %d, expected %d (not an antomd "
		    "database?)", path, version, STORE_SCHEMA_VERSION);
		goto fail;
	}
	sqlite3_finalize(st);
	free(uri);
	return db;
fail:
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(uri);
	return NULL;
}

/* A non-negative 64-bit integer; 0 or -1. */
static int
db_parse_i64(const char *s, int64_t *out)
{
	long v;

	if (util_parse_long(s, 0, LONG_MAX, &v) != 0)
		return -1;
	*out = v;
	return 0;
}

/*
 * The current row of st as a JSON object keyed by column name: integers
 * as numbers, text as strings (bytes that are not UTF-8 are escaped),
 * NULL as null.  Returns a new reference, or NULL when out of memory.
 */
static json_t *
db_row_json(sqlite3_stmt *st)
{
	json_t *o = json_object(), *v;
	int i, n = sqlite3_column_count(st);
	const char *t;
	char *esc;
	size_t len;

	if (o == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		switch (sqlite3_column_type(st, i)) {
		case SQLITE_INTEGER:
			v = json_integer(sqlite3_column_int64(st, i));
			break;
		case SQLITE_NULL:
			v = json_null();
			break;
		default:
			t = (const char *)sqlite3_column_text(st, i);
			len = (size_t)sqlite3_column_bytes(st, i);
			v = t != NULL ? json_stringn(t, len) : json_null();
			if (v == NULL && t != NULL &&
			    (esc = malloc(4 * len + 1)) != NULL) {
				log_escape(t, len, esc, 4 * len + 1);
				v = json_string(esc);
				free(esc);
			}
			break;
		}
		if (v == NULL || json_object_set_new(o,
		    sqlite3_column_name(st, i), v) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/*
 * Every row of sql with text parameters p1 and p2 (p2 may be NULL) as a
 * JSON array; NULL on a database error (reported) or out of memory.
 */
static json_t *
db_rows(sqlite3 *db, const char *sql, const char *p1, const char *p2)
{
	sqlite3_stmt *st = NULL;
	json_t *a = json_array(), *row;
	int rc;

	if (a == NULL || sqlite3_prepare_v2(db, sql, -1, &st, NULL) !=
	    SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, p1, -1, SQLITE_STATIC);
	if (p2 != NULL)
		sqlite3_bind_text(st, 2, p2, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 2);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((row = db_row_json(st)) == NULL ||
		    json_array_append_new(a, row) != 0)
			goto fail;
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	return a;
fail:
	ctl_warnx(NULL, "database: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	json_decref(a);
	return NULL;
}

/* ---- inspect ---------------------------------------------------------- */

static char db_prog_inspect[] = "antomctl inspect";

static const char sql_payments[] =
    "SELECT client_id, payment_request_id, payment_id, status, result_code,"
    " result_message, amount_value, currency, payment_create_time,"
    " payment_time, card_brand, last_four, issuing_country,"
    " network_transaction_id, avs_result_raw, cvv_result_raw,"
    " three_ds_eci, three_ds_version, refusal_code_raw,"
    " refusal_reason_raw, notification_id, created_at, updated_at"
    " FROM payments WHERE payment_request_id = ?1"
    " AND (?2 IS NULL OR client_id = ?2) ORDER BY client_id";
static const char sql_notifs[] =
    "SELECT id, notify_type, kind, object_id, outcome, archive_reason,"
    " delivery_count, key_version, first_received_at, last_received_at"
    " FROM notifications WHERE object_id = ?1 AND client_id = ?2"
    " AND kind = ?3 ORDER BY id";
/* Through the notifications: events have no index by object (store.c). */
static const char sql_events[] =
    "SELECT seq, created_at, object_type, object_id, payment_id,"
    " old_status, new_status, notification_id FROM events"
    " WHERE notification_id IN (SELECT id FROM notifications"
    " WHERE object_id = ?1 AND client_id = ?2) AND object_type = ?3"
    " ORDER BY seq";
/*
 * What hangs off a payment by its paymentId, each shown with its own
 * notifications and state changes: the section's key and the row's kind.
 * Refunds without a paymentId cannot be tied to a payment and are not
 * shown (see the README).
 */
static const struct {
	const char	*section;	/* "captures" */
	const char	*kind;		/* "capture", also objects' JSON key */
	const char	*id;		/* its key column */
	const char	*sql;
} db_children[] = {
	{ "captures", "capture", "capture_request_id",
	    "SELECT capture_request_id, capture_id, payment_id, status,"
	    " result_code, result_message, amount_value, currency,"
	    " capture_time, acquirer_reference_no, notification_id,"
	    " created_at, updated_at FROM captures WHERE payment_id = ?1"
	    " AND client_id = ?2 ORDER BY created_at, capture_request_id" },
	{ "refunds", "refund", "refund_request_id",
	    "SELECT refund_request_id, refund_id, payment_id, status,"
	    " result_code, result_message, amount_value, currency,"
	    " refund_time, notification_id, created_at, updated_at"
	    " FROM refunds WHERE payment_id = ?1 AND client_id = ?2"
	    " ORDER BY created_at, refund_request_id" },
	{ "disputes", "dispute", "dispute_id",
	    "SELECT dispute_id, payment_id, capture_id, stage, dispute_type,"
	    " amount_value, currency, reason_code, reason_msg, source,"
	    " dispute_time, defense_due_time, defendable, judged_result,"
	    " judged_time, judged_amount_value, judged_currency,"
	    " notification_id, created_at, updated_at FROM disputes"
	    " WHERE payment_id = ?1 AND client_id = ?2"
	    " ORDER BY created_at, dispute_id" },
};

/* Every state change of the payment and of all its children, by seq. */
static const char sql_timeline[] =
    "SELECT seq, created_at, object_type, object_id, old_status,"
    " new_status, notification_id FROM payment_timeline"
    " WHERE payment_request_id = ?1 AND client_id = ?2 ORDER BY seq";

static void
db_inspect_usage(FILE *f)
{
	fputs("usage: antomctl inspect -c FILE [--client-id ID] [--json] "
	    "PAYMENT_REQUEST_ID\n"
	    "\n"
	    "Show the timeline of one payment: its payments row, every\n"
	    "notification about it, every state change, and the captures,\n"
	    "refunds and disputes that name its paymentId with their\n"
	    "notifications and state changes; then the whole timeline in\n"
	    "seq order.  A request id used by several client ids is shown\n"
	    "once per client id.\n"
	    "\n"
	    "  -c, --config FILE    antomd's configuration (for the database)\n"
	    "  --client-id ID       only this client id\n"
	    "  --json               one JSON document instead of text\n"
	    "  -h, --help           show this help\n"
	    "\n"
	    "Exit status: 0 found, 1 no such payment, 2 usage error,\n"
	    "3 configuration or database error.\n", f);
}

/* Rows of sql about (object, client, kind); appended to parent as key. */
static int
db_attach(sqlite3 *db, json_t *parent, const char *key, const char *sql,
    const char *object, const char *client, const char *kind)
{
	sqlite3_stmt *st = NULL;
	json_t *a = json_array(), *row;
	int rc;

	if (a == NULL || sqlite3_prepare_v2(db, sql, -1, &st, NULL) !=
	    SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, object, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, client, -1, SQLITE_STATIC);
	if (kind != NULL)
		sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((row = db_row_json(st)) == NULL ||
		    json_array_append_new(a, row) != 0)
			goto fail;
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	return json_object_set_new(parent, key, a);
fail:
	ctl_warnx(NULL, "database: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	json_decref(a);
	return -1;
}

/* One JSON value as text for a human (strings escaped); "-" for null. */
static const char *
db_val(json_t *v, char *buf, size_t cap)
{
	if (json_is_integer(v)) {
		snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	}
	if (json_is_string(v))
		return db_esc(json_string_value(v), buf, cap);
	return "-";
}

/* "key value" lines for the non-null members of o, in column order. */
static void
db_print_fields(json_t *o, const char *indent)
{
	const char *k;
	json_t *v;
	char buf[DB_ESC_MAX];

	json_object_foreach(o, k, v) {
		if (json_is_null(v) || json_is_array(v) || json_is_object(v))
			continue;
		printf("%s%-24s %s\n", indent, k, db_val(v, buf, sizeof(buf)));
	}
}

static void
db_print_notifs(json_t *a, const char *indent)
{
	size_t i;
	json_t *n;
	char b1[DB_ESC_MAX], b2[DB_ESC_MAX], b3[DB_ESC_MAX], b4[DB_ESC_MAX];

	printf("%snotifications:%s\n", indent, json_array_size(a) ? "" :
	    " none");
	json_array_foreach(a, i, n) {
		printf("%s  #%s %s .. %s %s %s deliveries=%" JSON_INTEGER_FORMAT
		    " key_version=%" JSON_INTEGER_FORMAT "\n", indent,
		    db_val(json_object_get(n, "id"), b1, sizeof(b1)),
		    db_val(json_object_get(n, "first_received_at"), b2,
		    sizeof(b2)),
		    db_val(json_object_get(n, "last_received_at"), b3,
		    sizeof(b3)),
		    db_val(json_object_get(n, "notify_type"), b4, sizeof(b4)),
		    json_string_value(json_object_get(n, "outcome")),
		    json_integer_value(json_object_get(n, "delivery_count")),
		    json_integer_value(json_object_get(n, "key_version")));
	}
}

static void
db_print_events(json_t *a, const char *indent)
{
	size_t i;
	json_t *e;
	char b1[DB_ESC_MAX], b2[DB_ESC_MAX];

	printf("%sevents:%s\n", indent, json_array_size(a) ? "" : " none");
	json_array_foreach(a, i, e) {
		printf("%s  seq %" JSON_INTEGER_FORMAT " %s %s -> %s "
		    "notification #%" JSON_INTEGER_FORMAT "\n", indent,
		    json_integer_value(json_object_get(e, "seq")),
		    db_val(json_object_get(e, "created_at"), b1, sizeof(b1)),
		    db_val(json_object_get(e, "old_status"), b2, sizeof(b2)),
		    json_string_value(json_object_get(e, "new_status")),
		    json_integer_value(json_object_get(e, "notification_id")));
	}
}

static void
db_inspect_print(json_t *pays)
{
	size_t i, j, k;
	json_t *p, *c;
	char b1[DB_ESC_MAX], b2[DB_ESC_MAX], b3[DB_ESC_MAX];

	json_array_foreach(pays, i, p) {
		json_t *row = json_object_get(p, "payment");

		if (i > 0)
			putchar('\n');
		printf("payment %s (client %s)\n",
		    db_val(json_object_get(row, "payment_request_id"), b1,
		    sizeof(b1)),
		    db_val(json_object_get(row, "client_id"), b2, sizeof(b2)));
		db_print_fields(row, "  ");
		db_print_notifs(json_object_get(p, "notifications"), "");
		db_print_events(json_object_get(p, "events"), "");
		for (k = 0; k < sizeof(db_children) / sizeof(db_children[0]);
		    k++) {
			json_t *kids = json_object_get(p,
			    db_children[k].section);

			printf("%s:%s\n", db_children[k].section,
			    json_array_size(kids) ? "" : " none");
			json_array_foreach(kids, j, c) {
				json_t *crow = json_object_get(c,
				    db_children[k].kind);

				printf("  %s %s\n", db_children[k].kind,
				    db_val(json_object_get(crow,
				    db_children[k].id), b1, sizeof(b1)));
				db_print_fields(crow, "    ");
				db_print_notifs(json_object_get(c,
				    "notifications"), "  ");
				db_print_events(json_object_get(c, "events"),
				    "  ");
			}
		}
		printf("timeline:%s\n", json_array_size(json_object_get(p,
		    "timeline")) ? "" : " none");
		json_array_foreach(json_object_get(p, "timeline"), j, c)
			printf("  seq %" JSON_INTEGER_FORMAT " %s %s %s %s -> %s\n",
			    json_integer_value(json_object_get(c, "seq")),
			    db_val(json_object_get(c, "created_at"), b1,
			    sizeof(b1)),
			    json_string_value(json_object_get(c,
			    "object_type")),
			    db_val(json_object_get(c, "object_id"), b2,
			    sizeof(b2)),
			    db_val(json_object_get(c, "old_status"), b3,
			    sizeof(b3)),
			    json_string_value(json_object_get(c,
			    "new_status")));
	}
}

int
ctl_inspect(int argc, char **argv)
{
	enum { OPT_CLIENT = 256, OPT_JSON };
	static const struct option opts[] = {
		{ "config",	required_argument,	NULL, 'c' },
		{ "client-id",	required_argument,	NULL, OPT_CLIENT },
		{ "json",	no_argument,		NULL, OPT_JSON },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	const char *confpath = NULL, *client = NULL, *prid;
	struct conf *cf = NULL;
	sqlite3 *db = NULL;
	json_t *doc = NULL, *pays = NULL, *p, *kids, *c, *wrap;
	int ch, json = 0, rc = DB_EXIT_ERR;
	size_t i, j, k;

	argv[0] = db_prog_inspect;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':	confpath = optarg; break;
		case OPT_CLIENT: client = optarg; break;
		case OPT_JSON:	json = 1; break;
		case 'h':	db_inspect_usage(stdout); return DB_EXIT_OK;
		default:	db_inspect_usage(stderr); return DB_EXIT_USAGE;
		}
	}
	if (confpath == NULL || argc - optind != 1) {
		db_inspect_usage(stderr);
		return DB_EXIT_USAGE;
	}
	prid = argv[optind];
	if ((cf = db_conf(confpath)) == NULL || (db = db_open_ro(cf->database))
	    == NULL)
		goto out;
	/* One read transaction: a consistent snapshot of every table. */
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		goto dberr;
	if ((pays = db_rows(db, sql_payments, prid, client)) == NULL)
		goto out;
	if (json_array_size(pays) == 0) {
		char b[DB_ESC_MAX], bc[DB_ESC_MAX];

		ctl_warnx(NULL, "no payment with request id %s%s%s",
		    db_esc(prid, b, sizeof(b)), client != NULL ?
		    " for client " : "", client != NULL ?
		    db_esc(client, bc, sizeof(bc)) : "");
		rc = DB_EXIT_FOUND;
		goto out;
	}
	/* Wrap each row: {payment, notifications, events, captures, refunds,
	 * disputes, timeline}. */
	json_array_foreach(pays, i, p) {
		const char *cid = json_string_value(json_object_get(p,
		    "client_id"));
		const char *pid = json_string_value(json_object_get(p,
		    "payment_id"));

		if ((wrap = json_object()) == NULL ||
		    json_object_set(wrap, "payment", p) != 0 ||
		    json_array_set_new(pays, i, wrap) != 0)
			goto out;
		if (db_attach(db, wrap, "notifications", sql_notifs, prid, cid,
		    "payment") != 0 ||
		    db_attach(db, wrap, "events", sql_events, prid, cid,
		    "payment") != 0)
			goto out;
		for (k = 0; k < sizeof(db_children) / sizeof(db_children[0]);
		    k++) {
			if (pid == NULL)
				kids = json_array();
			else if ((kids = db_rows(db, db_children[k].sql, pid,
			    cid)) == NULL)
				goto out;
			if (kids == NULL || json_object_set_new(wrap,
			    db_children[k].section, kids) != 0)
				goto out;
			json_array_foreach(kids, j, c) {
				const char *kid = json_string_value(
				    json_object_get(c, db_children[k].id));
				json_t *cw = json_object();

				if (cw == NULL || json_object_set(cw,
				    db_children[k].kind, c) != 0 ||
				    json_array_set_new(kids, j, cw) != 0)
					goto out;
				if (db_attach(db, cw, "notifications",
				    sql_notifs, kid, cid, db_children[k].kind)
				    != 0 || db_attach(db, cw, "events",
				    sql_events, kid, cid, db_children[k].kind)
				    != 0)
					goto out;
			}
		}
		if (db_attach(db, wrap, "timeline", sql_timeline, prid, cid,
		    NULL) != 0)
			goto out;
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (json) {
		doc = json_pack("{s:s, s:O}", "payment_request_id", prid,
		    "payments", pays);
		if (doc == NULL || json_dumpf(doc, stdout, JSON_INDENT(2)) != 0)
			goto out;
		putchar('\n');
	} else
		db_inspect_print(pays);
	rc = fflush(stdout) == 0 ? DB_EXIT_OK : DB_EXIT_ERR;
	goto out;
dberr:
	ctl_warnx(NULL, "database: %s", sqlite3_errmsg(db));
out:
	json_decref(doc);
	json_decref(pays);
	sqlite3_close(db);
	conf_free(cf);
	return rc;
}

/* ---- refusals --------------------------------------------------------- */

static char db_prog_refusals[] = "antomctl refusals";

/* Antom's last attempt comes 24 h 22 min after its first (SPEC.md 3). */
#define DB_ANTOM_GIVES_UP_S	(24 * 3600 + 22 * 60)

static void
db_refusals_usage(FILE *f)
{
	fputs("usage: antomctl refusals -c FILE [--json]\n"
	    "\n"
	    "List the deliveries antomd refused (400, 401, 413, 503) whose\n"
	    "notification has not been stored since, oldest first.  AT RISK:\n"
	    "refused for longer than at_risk_after_s; GIVEN UP: Antom's last\n"
	    "attempt is past (24 h 22 min after the first), the merchant must\n"
	    "call inquiryPayment.  Ids and types are what the request claimed,\n"
	    "unverified.\n"
	    "\n"
	    "  -c, --config FILE    antomd's configuration (for the database)\n"
	    "  --json               one JSON document instead of text\n"
	    "  -h, --help           show this help\n"
	    "\n"
	    "Exit status: 0 none at risk, 1 some at risk, 2 usage error,\n"
	    "3 configuration or database error.\n", f);
}

int
ctl_refusals(int argc, char **argv)
{
	enum { OPT_JSON = 256 };
	static const struct option opts[] = {
		{ "config",	required_argument,	NULL, 'c' },
		{ "json",	no_argument,		NULL, OPT_JSON },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	static const char sql[] =
	    "SELECT body_sha256, client_id, status, reason, request_time,"
	    " notify_type, kind, object_id, first_refused_at, last_refused_at,"
	    " refusal_count,"
	    " first_refused_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?1)"
	    "   AS at_risk,"
	    " first_refused_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?2)"
	    "   AS given_up"
	    " FROM refusals ORDER BY first_refused_at, body_sha256";
	const char *confpath = NULL;
	struct conf *cf = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	json_t *rows = NULL, *row, *doc = NULL;
	char risk[32], gone[32], b[6][DB_ESC_MAX];
	long long n_risk = 0, n_gone = 0;
	int ch, json = 0, rc = DB_EXIT_ERR, step;
	size_t i;

	argv[0] = db_prog_refusals;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':	confpath = optarg; break;
		case OPT_JSON:	json = 1; break;
		case 'h':	db_refusals_usage(stdout); return DB_EXIT_OK;
		default:	db_refusals_usage(stderr); return DB_EXIT_USAGE;
		}
	}
	if (confpath == NULL || argc != optind) {
		db_refusals_usage(stderr);
		return DB_EXIT_USAGE;
	}
	if ((cf = db_conf(confpath)) == NULL || (db = db_open_ro(cf->database))
	    == NULL)
		goto out;
	snprintf(risk, sizeof(risk), "-%u seconds", cf->at_risk_after_s);
	snprintf(gone, sizeof(gone), "-%d seconds", DB_ANTOM_GIVES_UP_S);
	if ((rows = json_array()) == NULL ||
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto dberr;
	sqlite3_bind_text(st, 1, risk, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, gone, -1, SQLITE_STATIC);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		n_risk += sqlite3_column_int(st, 11);
		n_gone += sqlite3_column_int(st, 12);
		if ((row = db_row_json(st)) == NULL ||
		    json_array_append_new(rows, row) != 0)
			goto out;
	}
	if (step != SQLITE_DONE)
		goto dberr;
	if (json) {
		doc = json_pack("{s:I, s:I, s:I, s:O}", "at_risk_after_s",
		    (json_int_t)cf->at_risk_after_s, "at_risk",
		    (json_int_t)n_risk, "given_up", (json_int_t)n_gone,
		    "refusals", rows);
		if (doc == NULL || json_dumpf(doc, stdout, JSON_INDENT(2)) != 0)
			goto out;
		putchar('\n');
	} else {
		json_array_foreach(rows, i, row) {
			printf("%-9s %s .. %s refused %" JSON_INTEGER_FORMAT
			    "x, last %" JSON_INTEGER_FORMAT " %s; client %s;"
			    " %s %s; body %.16s\n",
			    json_integer_value(json_object_get(row,
			    "given_up")) ? "GIVEN UP" : json_integer_value(
			    json_object_get(row, "at_risk")) ? "AT RISK" :
			    "refused",
			    db_val(json_object_get(row, "first_refused_at"),
			    b[0], sizeof(b[0])),
			    db_val(json_object_get(row, "last_refused_at"),
			    b[1], sizeof(b[1])),
			    json_integer_value(json_object_get(row,
			    "refusal_count")),
			    json_integer_value(json_object_get(row, "status")),
			    db_val(json_object_get(row, "reason"), b[2],
			    sizeof(b[2])),
			    db_val(json_object_get(row, "client_id"), b[3],
			    sizeof(b[3])),
			    db_val(json_object_get(row, "kind"), b[4],
			    sizeof(b[4])),
			    db_val(json_object_get(row, "object_id"), b[5],
			    sizeof(b[5])),
			    json_string_length(json_object_get(row,
			    "body_sha256")) > 0 ? json_string_value(
			    json_object_get(row, "body_sha256")) :
			    "(not read)");
		}
		printf("%zu refused and not stored since; %lld at risk "
		    "(refused more than %u s ago), %lld given up by Antom\n",
		    json_array_size(rows), n_risk, cf->at_risk_after_s, n_gone);
	}
	rc = fflush(stdout) != 0 ? DB_EXIT_ERR : n_risk > 0 ? DB_EXIT_FOUND :
	    DB_EXIT_OK;
	goto out;
dberr:
	ctl_warnx(NULL, "database: %s", sqlite3_errmsg(db));
out:
	sqlite3_finalize(st);
	json_decref(doc);
	json_decref(rows);
	sqlite3_close(db);
	conf_free(cf);
	return rc;
}

/* ---- events ----------------------------------------------------------- */

static char db_prog_events[] = "antomctl events";

static void
db_events_usage(FILE *f)
{
	fputs("usage: antomctl events -c FILE --since SEQ [--follow] "
	    "[--limit N] [--json]\n"
	    "\n"
	    "Print the change feed (the events table) after SEQ, in seq order,\n"
	    "one line per state change:\n"
	    "  seq created_at client_id object_type object_id old->new "
	    "notification_id\n"
	    "(old is 'none' for a new object).\n"
	    "\n"
	    "  -c, --config FILE    antomd's configuration (for the database)\n"
	    "  --since SEQ          print rows with seq > SEQ (0: all; "
	    "required)\n"
	    "  --follow             keep polling every 500 ms and print new "
	    "rows as\n"
	    "                       they commit, until SIGINT or SIGTERM\n"
	    "  --limit N            stop after N rows\n"
	    "  --json               one JSON object per line\n"
	    "  -h, --help           show this help\n"
	    "\n"
	    "Exit status: 0 done (also when stopped by a signal), 2 usage "
	    "error,\n"
	    "3 configuration or database error.\n", f);
}

/*
 * Print the rows after *since, at most *left of them (-1: no limit);
 * advances *since and *left.  0, or -1 on a database or output error.
 */
static int
db_events_poll(sqlite3 *db, sqlite3_stmt *st, int64_t *since,
    int64_t *left, int json)
{
	char b1[DB_ESC_MAX], b2[DB_ESC_MAX], b3[DB_ESC_MAX];
	json_t *row;
	int rc;

	sqlite3_bind_int64(st, 1, *since);
	sqlite3_bind_int64(st, 2, *left);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*since = sqlite3_column_int64(st, 0);
		if (*left > 0)
			(*left)--;
		if (json) {
			if ((row = db_row_json(st)) == NULL) {
				rc = SQLITE_NOMEM;
				break;
			}
			json_dumpf(row, stdout, JSON_COMPACT);
			putchar('\n');
			json_decref(row);
			continue;
		}
		printf("%lld %s %s %s %s %s->%s %lld\n",
		    (long long)*since,
		    db_esc((const char *)sqlite3_column_text(st, 1), b1,
		    sizeof(b1)),
		    db_esc((const char *)sqlite3_column_text(st, 2), b2,
		    sizeof(b2)),
		    (const char *)sqlite3_column_text(st, 3),
		    db_esc((const char *)sqlite3_column_text(st, 4), b3,
		    sizeof(b3)),
		    sqlite3_column_type(st, 6) == SQLITE_NULL ? "none" :
		    (const char *)sqlite3_column_text(st, 6),
		    (const char *)sqlite3_column_text(st, 7),
		    (long long)sqlite3_column_int64(st, 8));
	}
	/* Reset ends the read transaction: the writer is never held up. */
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		ctl_warnx(NULL, "database: %s", sqlite3_errmsg(db));
		return -1;
	}
	if (fflush(stdout) != 0) {
		ctl_warnx(NULL, "stdout: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
ctl_events(int argc, char **argv)
{
	enum { OPT_SINCE = 256, OPT_FOLLOW, OPT_LIMIT, OPT_JSON };
	static const struct option opts[] = {
		{ "config",	required_argument,	NULL, 'c' },
		{ "since",	required_argument,	NULL, OPT_SINCE },
		{ "follow",	no_argument,		NULL, OPT_FOLLOW },
		{ "limit",	required_argument,	NULL, OPT_LIMIT },
		{ "json",	no_argument,		NULL, OPT_JSON },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	static const char sql[] =
	    "SELECT seq, created_at, client_id, object_type, object_id,"
	    " payment_id, old_status, new_status, notification_id"
	    " FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2";
	const char *confpath = NULL;
	struct conf *cf = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	sigset_t sigs, old;
	struct timespec poll = { 0, DB_POLL_MS * 1000000L };
	int64_t since = -1, left = -1;
	int ch, follow = 0, json = 0, rc = DB_EXIT_ERR, blocked = 0;

	argv[0] = db_prog_events;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			confpath = optarg;
			break;
		case OPT_SINCE:
			if (db_parse_i64(optarg, &since) != 0) {
				ctl_warnx(NULL, "--since: not a sequence number: %s",
				    optarg);
				return DB_EXIT_USAGE;
			}
			break;
		case OPT_FOLLOW:
			follow = 1;
			break;
		case OPT_LIMIT:
			if (db_parse_i64(optarg, &left) != 0 || left == 0) {
				ctl_warnx(NULL, "--limit: not a positive number: %s",
				    optarg);
				return DB_EXIT_USAGE;
			}
			break;
		case OPT_JSON:
			json = 1;
			break;
		case 'h':
			db_events_usage(stdout);
			return DB_EXIT_OK;
		default:
			db_events_usage(stderr);
			return DB_EXIT_USAGE;
		}
	}
	if (confpath == NULL || since < 0 || optind != argc) {
		db_events_usage(stderr);
		return DB_EXIT_USAGE;
	}
	if ((cf = db_conf(confpath)) == NULL ||
	    (db = db_open_ro(cf->database)) == NULL)
		goto out;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		ctl_warnx(NULL, "database: %s", sqlite3_errmsg(db));
		goto out;
	}
	/*
	 * Signals are taken synchronously, as the daemon does: blocked, and
	 * waited for with sigtimedwait() as the pause between polls.
	 */
	if (follow) {
		sigemptyset(&sigs);
		sigaddset(&sigs, SIGINT);
		sigaddset(&sigs, SIGTERM);
		sigprocmask(SIG_BLOCK, &sigs, &old);
		blocked = 1;
	}
	for (;;) {
		if (db_events_poll(db, st, &since, &left, json) != 0)
			goto out;
		if (!follow || left == 0)
			break;
		if (sigtimedwait(&sigs, NULL, &poll) > 0)
			break;
	}
	rc = DB_EXIT_OK;
out:
	if (blocked)
		sigprocmask(SIG_SETMASK, &old, NULL);
	sqlite3_finalize(st);
	sqlite3_close(db);
	conf_free(cf);
	return rc;
}

/* ---- reverify --------------------------------------------------------- */

static char db_prog_reverify[] = "antomctl reverify";

static void
db_reverify_usage(FILE *f)
{
	fputs("usage: antomctl reverify -c FILE [--since-id N]\n"
	    "\n"
	    "Verify every archived notification's signature again, over its\n"
	    "stored signed path, client id, request time and body, against the\n"
	    "keys configured now.  Print each one that no longer verifies\n"
	    "(id, client id, reason), then \"N verified, M failed\".\n"
	    "\n"
	    "  -c, --config FILE    antomd's configuration (database and "
	    "keys)\n"
	    "  --since-id N         only notifications with id > N\n"
	    "  -h, --help           show this help\n"
	    "\n"
	    "Exit status: 0 all verified, 1 some failed, 2 usage error,\n"
	    "3 configuration or database error.\n", f);
}

int
ctl_reverify(int argc, char **argv)
{
	enum { OPT_SINCE = 256 };
	static const struct option opts[] = {
		{ "config",	required_argument,	NULL, 'c' },
		{ "since-id",	required_argument,	NULL, OPT_SINCE },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	static const char sql[] =
	    "SELECT id, client_id, signed_path, request_time, signature, body"
	    " FROM notifications WHERE id > ?1 ORDER BY id";
	const char *confpath = NULL;
	struct conf *cf = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct verify_input in;
	struct verify_match m;
	enum verify_result vr;
	char b1[DB_ESC_MAX];
	int64_t since = 0;
	uint64_t ok = 0, failed = 0;
	int ch, step, rc = DB_EXIT_ERR;

	argv[0] = db_prog_reverify;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			confpath = optarg;
			break;
		case OPT_SINCE:
			if (db_parse_i64(optarg, &since) != 0) {
				ctl_warnx(NULL, "--since-id: not an id: %s", optarg);
				return DB_EXIT_USAGE;
			}
			break;
		case 'h':
			db_reverify_usage(stdout);
			return DB_EXIT_OK;
		default:
			db_reverify_usage(stderr);
			return DB_EXIT_USAGE;
		}
	}
	if (confpath == NULL || optind != argc) {
		db_reverify_usage(stderr);
		return DB_EXIT_USAGE;
	}
	if ((cf = db_conf(confpath)) == NULL ||
	    (db = db_open_ro(cf->database)) == NULL)
		goto out;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto dberr;
	sqlite3_bind_int64(st, 1, since);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&in, 0, sizeof(in));
		in.signed_path = (const char *)sqlite3_column_text(st, 2);
		in.query = NULL;	/* signed_path holds ?query if it was signed */
		in.client_id = (const char *)sqlite3_column_text(st, 1);
		in.request_time = (const char *)sqlite3_column_text(st, 3);
		in.sig_header = (const char *)sqlite3_column_text(st, 4);
		in.body = sqlite3_column_blob(st, 5);
		in.bodylen = (size_t)sqlite3_column_bytes(st, 5);
		if (in.body == NULL)
			in.body = (const unsigned char *)"";
		vr = verify_request(cf->keys, &in, &m);
		if (vr == VERIFY_OK) {
			ok++;
			continue;
		}
		failed++;
		printf("notification %lld client %s: %s\n",
		    (long long)sqlite3_column_int64(st, 0),
		    db_esc(in.client_id, b1, sizeof(b1)),
		    verify_result_str(vr));
	}
	if (step != SQLITE_DONE)
		goto dberr;
	printf("%" PRIu64 " verified, %" PRIu64 " failed\n", ok, failed);
	if (fflush(stdout) != 0)
		goto out;
	rc = failed > 0 ? DB_EXIT_FOUND : DB_EXIT_OK;
	goto out;
dberr:
	ctl_warnx(NULL, "database: %s", sqlite3_errmsg(db));
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	conf_free(cf);
	return rc;
}

/* ---- replay ----------------------------------------------------------- */

static char db_prog_replay[] = "antomctl replay";

static void
db_replay_usage(FILE *f)
{
	fputs("usage: antomctl replay -c FILE ID\n"
	    "\n"
	    "Apply the archived notification ID (notifications.id) to the\n"
	    "state tables again, as if it were delivered now for the first\n"
	    "time: delivery de-duplication is bypassed, the state machine is\n"
	    "not (a status never moves backwards, a final status is never\n"
	    "overwritten).  When applied, the payment or capture row and one\n"
	    "events row point at ID; the notifications row is left unchanged.\n"
	    "Prints the outcome: applied, duplicate, ignored, conflict or\n"
	    "archived.  Safe beside a running antomd (it waits for its lock).\n"
	    "\n"
	    "  -c, --config FILE    antomd's configuration (for the database)\n"
	    "  -h, --help           show this help\n"
	    "\n"
	    "Exit status: 0 replayed (whatever the outcome), 1 no such\n"
	    "notification, 2 usage error, 3 configuration or database error.\n",
	    f);
}

int
ctl_replay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config",	required_argument,	NULL, 'c' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	const char *confpath = NULL;
	struct conf *cf = NULL;
	struct store *s = NULL;
	struct store_options so;
	struct store_result r;
	char err[1024];
	int64_t id;
	int ch, rc = DB_EXIT_ERR;

	argv[0] = db_prog_replay;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':	confpath = optarg; break;
		case 'h':	db_replay_usage(stdout); return DB_EXIT_OK;
		default:	db_replay_usage(stderr); return DB_EXIT_USAGE;
		}
	}
	if (confpath == NULL || argc - optind != 1) {
		db_replay_usage(stderr);
		return DB_EXIT_USAGE;
	}
	if (db_parse_i64(argv[optind], &id) != 0) {
		ctl_warnx(NULL, "not a notification id: %s", argv[optind]);
		return DB_EXIT_USAGE;
	}
	if ((cf = db_conf(confpath)) == NULL)
		goto out;
	log_init(cf->log_level);
	memset(&so, 0, sizeof(so));
	so.busy_timeout_ms = cf->busy_timeout_ms > DB_BUSY_MS ?
	    cf->busy_timeout_ms : DB_BUSY_MS;
	so.batch_max = 1;
	so.queue_max = 1;
	if ((s = store_open(cf->database, &so, err, sizeof(err))) == NULL) {
		ctl_warnx(NULL, "%s", err);
		goto out;
	}
	switch (store_replay(s, id, &r)) {
	case 0:
		printf("notification %lld: %s\n", (long long)id,
		    store_outcome_str(r.outcome));
		rc = fflush(stdout) == 0 ? DB_EXIT_OK : DB_EXIT_ERR;
		break;
	case 1:
		ctl_warnx(NULL, "no notification with id %lld", (long long)id);
		rc = DB_EXIT_FOUND;
		break;
	default:
		ctl_warnx(NULL, "replay of notification %lld failed; nothing changed",
		    (long long)id);
		break;
	}
out:
	store_close(s);
	conf_free(cf);
	return rc;
}
