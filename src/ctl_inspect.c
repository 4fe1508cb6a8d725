/*
 * ctl_inspect.c - antomctl inspect: the timeline of one payment, with
 * what hangs off it (captures, refunds, disputes), from antomd's database.
 *
 * Reads in one read-only transaction, so the picture is consistent and a
 * live daemon's writer is never held up for long.  Every byte that came
 * from Antom or from the database is escaped before it reaches a
 * terminal; --json output is Jansson's.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "conf.h"
#include "ctl.h"

static char inspect_prog[] = "antomctl inspect";

static const char sql_payments[] =
    "SELECT client_id, payment_request_id, payment_id, status, result_code,"
    " result_message, amount_value, currency, payment_create_time,"
    " payment_time, card_brand, last_four, issuing_country,"
    " network_transaction_id, avs_result_raw, cvv_result_raw,"
    " three_ds_eci, three_ds_version, refusal_code_raw,"
    " refusal_reason_raw, payment_method_type,"
    " actual_payment_amount_value, actual_payment_currency,"
    " auth_expiry_time, acquirer_reference_no, acquirer_name,"
    " acquirer_transaction_id, acquirer_result_code,"
    " acquirer_result_message, card_bin, funding, issuer_name,"
    " card_no_masked, merchant_advice_code, authorization_code, rrn,"
    " credential_type_used, notification_id, created_at, updated_at"
    " FROM payments WHERE payment_request_id = $1"
    " AND (CAST($2 AS text) IS NULL OR client_id = $2) ORDER BY client_id";
static const char sql_notifs[] =
    "SELECT id, notify_type, kind, object_id, outcome, archive_reason,"
    " delivery_count, key_version, first_received_at, last_received_at,"
    " discrepancy FROM notifications WHERE object_id = $1 AND client_id = $2"
    " AND kind = $3 ORDER BY id";
/* Through the notifications: events have no index by object (store_schema.c). */
static const char sql_events[] =
    "SELECT seq, created_at, object_type, object_id, payment_id,"
    " old_status, new_status, notification_id FROM events"
    " WHERE notification_id IN (SELECT id FROM notifications"
    " WHERE object_id = $1 AND client_id = $2) AND object_type = $3"
    " ORDER BY seq";
/*
 * The refunds linked to a payment: SQLite's CROSS JOIN ... ON fixes the
 * join order (its planner's hint); PostgreSQL takes no ON after CROSS
 * JOIN and plans the order itself.
 */
#define INSPECT_REFUNDS(join)						\
	"SELECT r.refund_request_id, r.refund_id, r.status,"		\
	" r.result_code, r.result_message, r.amount_value, r.currency,"	\
	" r.refund_time, r.arn, r.actual_refund_amount_value,"		\
	" r.actual_refund_currency, l.payment_id AS linked_payment_id,"	\
	" l.payment_request_id AS linked_payment_request_id,"		\
	" l.created_at AS linked_at, r.notification_id, r.created_at,"	\
	" r.updated_at FROM refund_payment rp " join " refunds r"	\
	" ON r.refund_request_id = rp.refund_request_id"		\
	" AND r.client_id = rp.client_id"				\
	" " join " refund_links l"					\
	" ON l.refund_request_id = rp.refund_request_id"		\
	" AND l.client_id = rp.client_id"				\
	" WHERE rp.payment_request_id = $1 AND rp.client_id = $2"	\
	" ORDER BY r.created_at, r.refund_request_id"

/*
 * What hangs off a payment, each shown with its own notifications and
 * state changes: the section's key and the row's kind.  Captures and
 * disputes name the payment's paymentId.  Refunds never do
 * (docs/protocol.md section 4.5): they are the ones the merchant's
 * application linked to it in refund_links, by paymentId or by
 * paymentRequestId, as the refund_payment view resolves them; a refund not
 * linked cannot be shown under any payment, only counted (sql_unlinked).
 */
static const struct {
	const char	*section;	/* "captures" */
	const char	*kind;		/* "capture", also objects' JSON key */
	const char	*id;		/* its key column */
	int		 by_request;	/* $1 is the paymentRequestId */
	const char	*sql;
	const char	*pg;		/* PostgreSQL's, where it differs */
} inspect_children[] = {
	{ "captures", "capture", "capture_request_id", 0,
	    "SELECT capture_request_id, capture_id, payment_id, status,"
	    " result_code, result_message, amount_value, currency,"
	    " capture_time, acquirer_reference_no, acquirer_name,"
	    " acquirer_transaction_id, acquirer_result_code,"
	    " acquirer_result_message, notification_id,"
	    " created_at, updated_at FROM captures WHERE payment_id = $1"
	    " AND client_id = $2 ORDER BY created_at, capture_request_id", NULL },
	{ "refunds", "refund", "refund_request_id", 1,
	    INSPECT_REFUNDS("CROSS JOIN"), INSPECT_REFUNDS("JOIN") },
	{ "disputes", "dispute", "dispute_id", 0,
	    "SELECT dispute_id, payment_id, capture_id, stage, dispute_type,"
	    " amount_value, currency, reason_code, reason_msg, source,"
	    " dispute_time, defense_due_time, defendable, judged_result,"
	    " judged_time, judged_amount_value, judged_currency, arn,"
	    " dispute_accept_reason, notification_id, created_at, updated_at"
	    " FROM disputes"
	    " WHERE payment_id = $1 AND client_id = $2"
	    " ORDER BY created_at, dispute_id", NULL },
};

/*
 * The client's refunds no payment can show: not linked at all, or linked
 * to a payment antomd does not hold (yet).  A count, so that the reader
 * knows refunds may be missing above; the README's query lists them.
 */
static const char sql_unlinked[] =
    "SELECT coalesce(sum(CASE WHEN link = 'unlinked' THEN 1 ELSE 0 END), 0)"
    " AS unlinked, coalesce(sum(CASE WHEN link = 'payment_unknown' THEN 1"
    " ELSE 0 END), 0) AS payment_unknown"
    " FROM refund_status WHERE client_id = $1";

/* Every state change of the payment and of all its children, by seq. */
static const char sql_timeline[] =
    "SELECT seq, created_at, object_type, object_id, old_status,"
    " new_status, notification_id FROM payment_timeline"
    " WHERE payment_request_id = $1 AND client_id = $2 ORDER BY seq";

static void
inspect_usage(FILE *f)
{
	fputs("usage: antomctl inspect -c FILE [--client-id ID] [--json] "
	    "PAYMENT_REQUEST_ID\n"
	    "\n"
	    "Show the timeline of one payment: its payments row, every\n"
	    "notification about it, every state change, the captures and\n"
	    "disputes that name its paymentId, and the refunds the merchant's\n"
	    "application linked to it in refund_links (by paymentId or\n"
	    "paymentRequestId), each with their notifications and state\n"
	    "changes; then the whole timeline in seq order.  Antom's refund\n"
	    "notification names no payment: a refund not linked is shown under\n"
	    "no payment, only counted.  A request id used by several client\n"
	    "ids is shown once per client id.\n"
	    "\n"
	    "  -c, --config FILE    antomd's configuration (for the database)\n"
	    "  --client-id ID       only this client id\n"
	    "  --json               one JSON document instead of text\n"
	    "  -h, --help           show this help\n"
	    "\n"
	    "Exit status: 0 found, 1 no such payment, 2 usage error,\n"
	    "3 configuration or database error.\n", f);
}

/* Rows of sql with params as parent's member key.  0 or -1 (reported). */
static int
inspect_attach(struct ctl_db *db, json_t *parent, const char *key, const char *sql,
    const char *const *params, size_t nparams)
{
	json_t *a = ctl_rows(db, sql, params, nparams);

	return a != NULL ? json_object_set_new(parent, key, a) : -1;
}

/* "key value" lines for the non-null members of o, in column order. */
static void
inspect_print_fields(json_t *o, const char *indent)
{
	const char *k;
	json_t *v;
	char buf[CTL_ESC_MAX];

	json_object_foreach(o, k, v) {
		if (json_is_null(v) || json_is_array(v) || json_is_object(v))
			continue;
		printf("%s%-24s %s\n", indent, k, ctl_val(v, buf, sizeof(buf)));
	}
}

static void
inspect_print_notifs(json_t *a, const char *indent)
{
	size_t i;
	json_t *n;
	char b1[CTL_ESC_MAX], b2[CTL_ESC_MAX], b3[CTL_ESC_MAX], b4[CTL_ESC_MAX];

	printf("%snotifications:%s\n", indent, json_array_size(a) ? "" :
	    " none");
	json_array_foreach(a, i, n) {
		printf("%s  #%s %s .. %s %s %s deliveries=%" JSON_INTEGER_FORMAT
		    " key_version=%" JSON_INTEGER_FORMAT "\n", indent,
		    ctl_val(json_object_get(n, "id"), b1, sizeof(b1)),
		    ctl_val(json_object_get(n, "first_received_at"), b2,
		    sizeof(b2)),
		    ctl_val(json_object_get(n, "last_received_at"), b3,
		    sizeof(b3)),
		    ctl_val(json_object_get(n, "notify_type"), b4, sizeof(b4)),
		    json_string_value(json_object_get(n, "outcome")),
		    json_integer_value(json_object_get(n, "delivery_count")),
		    json_integer_value(json_object_get(n, "key_version")));
		/* What it contradicted: the row needs a human (README). */
		if (json_is_string(json_object_get(n, "discrepancy")))
			printf("%s    discrepancy: %s\n", indent,
			    ctl_val(json_object_get(n, "discrepancy"), b1,
			    sizeof(b1)));
	}
}

static void
inspect_print_events(json_t *a, const char *indent)
{
	size_t i;
	json_t *e;
	char b1[CTL_ESC_MAX], b2[CTL_ESC_MAX];

	printf("%sevents:%s\n", indent, json_array_size(a) ? "" : " none");
	json_array_foreach(a, i, e) {
		printf("%s  seq %" JSON_INTEGER_FORMAT " %s %s -> %s "
		    "notification #%" JSON_INTEGER_FORMAT "\n", indent,
		    json_integer_value(json_object_get(e, "seq")),
		    ctl_val(json_object_get(e, "created_at"), b1, sizeof(b1)),
		    ctl_val(json_object_get(e, "old_status"), b2, sizeof(b2)),
		    json_string_value(json_object_get(e, "new_status")),
		    json_integer_value(json_object_get(e, "notification_id")));
	}
}

/* The client's refunds that no payment shows, when there are any. */
static void
inspect_print_unlinked(json_t *o, json_t *row)
{
	json_int_t unlinked, unknown;
	char b[CTL_ESC_MAX];

	unlinked = json_integer_value(json_object_get(o, "unlinked"));
	unknown = json_integer_value(json_object_get(o, "payment_unknown"));
	if (unlinked == 0 && unknown == 0)
		return;
	printf("  refunds of client %s that no payment can show: %"
	    JSON_INTEGER_FORMAT " not linked, %" JSON_INTEGER_FORMAT " linked "
	    "to a payment antomd does not hold (see refund_status)\n",
	    ctl_val(json_object_get(row, "client_id"), b, sizeof(b)),
	    unlinked, unknown);
}

static void
inspect_print(json_t *pays)
{
	size_t i, j, k;
	json_t *p, *c;
	char b1[CTL_ESC_MAX], b2[CTL_ESC_MAX], b3[CTL_ESC_MAX];

	json_array_foreach(pays, i, p) {
		json_t *row = json_object_get(p, "payment");

		if (i > 0)
			putchar('\n');
		printf("payment %s (client %s)\n",
		    ctl_val(json_object_get(row, "payment_request_id"), b1,
		    sizeof(b1)),
		    ctl_val(json_object_get(row, "client_id"), b2, sizeof(b2)));
		inspect_print_fields(row, "  ");
		inspect_print_notifs(json_object_get(p, "notifications"), "");
		inspect_print_events(json_object_get(p, "events"), "");
		for (k = 0; k < sizeof(inspect_children) / sizeof(inspect_children[0]);
		    k++) {
			json_t *kids = json_object_get(p,
			    inspect_children[k].section);

			printf("%s:%s\n", inspect_children[k].section,
			    json_array_size(kids) ? "" : " none");
			json_array_foreach(kids, j, c) {
				json_t *crow = json_object_get(c,
				    inspect_children[k].kind);

				printf("  %s %s\n", inspect_children[k].kind,
				    ctl_val(json_object_get(crow,
				    inspect_children[k].id), b1, sizeof(b1)));
				inspect_print_fields(crow, "    ");
				inspect_print_notifs(json_object_get(c,
				    "notifications"), "  ");
				inspect_print_events(json_object_get(c, "events"),
				    "  ");
			}
			if (strcmp(inspect_children[k].section, "refunds") == 0)
				inspect_print_unlinked(json_object_get(p,
				    "refunds_not_linked"), row);
		}
		printf("timeline:%s\n", json_array_size(json_object_get(p,
		    "timeline")) ? "" : " none");
		json_array_foreach(json_object_get(p, "timeline"), j, c)
			printf("  seq %" JSON_INTEGER_FORMAT " %s %s %s %s -> %s\n",
			    json_integer_value(json_object_get(c, "seq")),
			    ctl_val(json_object_get(c, "created_at"), b1,
			    sizeof(b1)),
			    json_string_value(json_object_get(c,
			    "object_type")),
			    ctl_val(json_object_get(c, "object_id"), b2,
			    sizeof(b2)),
			    ctl_val(json_object_get(c, "old_status"), b3,
			    sizeof(b3)),
			    json_string_value(json_object_get(c,
			    "new_status")));
	}
}

/*
 * One object's own notifications and state changes, by (object id, client
 * id, kind), as members of w.  0 or -1 (reported).
 */
static int
inspect_history(struct ctl_db *db, json_t *w, const char *object, const char *cid,
    const char *kind)
{
	const char *params[3] = { object, cid, kind };

	if (inspect_attach(db, w, "notifications", sql_notifs, params, 3) != 0)
		return -1;
	return inspect_attach(db, w, "events", sql_events, params, 3);
}

/*
 * Replace the payments row p (at index i of pays) by {payment,
 * notifications, events, captures, refunds, refunds_not_linked, disputes,
 * timeline}.  0 or -1.
 */
static int
inspect_payment(struct ctl_db *db, json_t *pays, size_t i, json_t *p,
    const char *prid)
{
	const char *cid = json_string_value(json_object_get(p, "client_id"));
	const char *pid = json_string_value(json_object_get(p, "payment_id"));
	const char *byp[2] = { pid, cid }, *byr[2] = { prid, cid };
	json_t *wrap, *kids, *c, *cw, *un;
	const char *sql;
	size_t j, k;

	if ((wrap = json_object()) == NULL ||
	    json_object_set(wrap, "payment", p) != 0 ||
	    json_array_set_new(pays, i, wrap) != 0)
		return -1;
	if (inspect_history(db, wrap, prid, cid, "payment") != 0)
		return -1;
	for (k = 0; k < sizeof(inspect_children) / sizeof(inspect_children[0]);
	    k++) {
		sql = ctl_db_pg(db) && inspect_children[k].pg != NULL ?
		    inspect_children[k].pg : inspect_children[k].sql;
		if (inspect_children[k].by_request)
			kids = ctl_rows(db, sql, byr, 2);
		else if (pid == NULL)
			kids = json_array();
		else
			kids = ctl_rows(db, sql, byp, 2);
		if (kids == NULL || json_object_set_new(wrap,
		    inspect_children[k].section, kids) != 0)
			return -1;
		json_array_foreach(kids, j, c) {
			const char *kid = json_string_value(json_object_get(c,
			    inspect_children[k].id));

			if ((cw = json_object()) == NULL || json_object_set(cw,
			    inspect_children[k].kind, c) != 0 ||
			    json_array_set_new(kids, j, cw) != 0)
				return -1;
			if (inspect_history(db, cw, kid, cid,
			    inspect_children[k].kind) != 0)
				return -1;
		}
	}
	if ((un = ctl_rows(db, sql_unlinked, &cid, 1)) == NULL ||
	    json_object_set(wrap, "refunds_not_linked", json_array_get(un, 0))
	    != 0) {
		json_decref(un);
		return -1;
	}
	json_decref(un);
	return inspect_attach(db, wrap, "timeline", sql_timeline, byr, 2);
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
	const char *confpath = NULL, *client = NULL, *prid, *params[2];
	struct conf *cf = NULL;
	struct ctl_db *db = NULL;
	json_t *doc = NULL, *pays = NULL, *p;
	int ch, json = 0, rc = CTL_EXIT_ERR;
	size_t i;

	argv[0] = inspect_prog;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':	confpath = optarg; break;
		case OPT_CLIENT: client = optarg; break;
		case OPT_JSON:	json = 1; break;
		case 'h':	inspect_usage(stdout); return CTL_EXIT_OK;
		default:	inspect_usage(stderr); return CTL_EXIT_USAGE;
		}
	}
	if (confpath == NULL || argc - optind != 1) {
		inspect_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	prid = argv[optind];
	if ((cf = ctl_conf(NULL, confpath)) == NULL ||
	    (db = ctl_db_open(NULL, cf->database, CTL_SCHEMA_CURRENT)) == NULL)
		goto out;
	/* One read transaction: a consistent snapshot of every table. */
	if (ctl_db_begin(db) != 0)
		goto out;
	params[0] = prid;
	params[1] = client;
	if ((pays = ctl_rows(db, sql_payments, params, 2)) == NULL)
		goto out;
	if (json_array_size(pays) == 0) {
		char b[CTL_ESC_MAX], bc[CTL_ESC_MAX];

		ctl_warnx(NULL, "no payment with request id %s%s%s",
		    ctl_esc(prid, b, sizeof(b)), client != NULL ?
		    " for client " : "", client != NULL ?
		    ctl_esc(client, bc, sizeof(bc)) : "");
		rc = CTL_EXIT_FAIL;
		goto out;
	}
	json_array_foreach(pays, i, p)
		if (inspect_payment(db, pays, i, p, prid) != 0)
			goto out;
	ctl_db_end(db);
	if (json) {
		doc = json_pack("{s:s, s:O}", "payment_request_id", prid,
		    "payments", pays);
		if (doc == NULL || json_dumpf(doc, stdout, JSON_INDENT(2)) != 0)
			goto out;
		putchar('\n');
	} else
		inspect_print(pays);
	rc = fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_ERR;
out:
	json_decref(doc);
	json_decref(pays);
	ctl_db_close(db);
	conf_free(cf);
	return rc;
}
