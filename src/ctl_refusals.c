/*
 * ctl_refusals.c - antomctl refusals: the deliveries antomd refused whose
 * notification has not been stored since, and which of them are at risk
 * (refused for longer than at_risk_after_s) or given up by Antom.
 *
 * Reads the refusals table read-only, beside a live daemon, with the
 * query the daemon's at-risk count uses (refusal.h).  Authentic refusals
 * first; the unverified sample (anyone can send those) apart, never at
 * risk and never in the exit status.  Every byte that came from the
 * request or the database is escaped before it reaches a terminal;
 * --json output is Jansson's.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "conf.h"
#include "ctl.h"
#include "refusal.h"

static char refusals_prog[] = "antomctl refusals";

/*
 * refusal_list_sql (refusal.h) in PostgreSQL's dialect: the same columns
 * and order; the times compared are the server's now, as ISO 8601 UTC
 * text with milliseconds like the columns; authentic is 0 or 1.
 */
#define REFUSALS_AGO(p)							\
	"to_char((now() AT TIME ZONE 'UTC') + " p "::interval,"		\
	" 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define REFUSALS_AT_RISK(p)						\
	"CASE WHEN authentic = 1 AND first_refused_at < " REFUSALS_AGO(p)	\
	" THEN 1 ELSE 0 END"
static const char refusals_pg_sql[] =
    "SELECT body_sha256, client_id, status, reason, request_time,"
    " notify_type, kind, object_id, first_refused_at, last_refused_at,"
    " refusal_count, " REFUSALS_AT_RISK("$1") " AS at_risk, "
    REFUSALS_AT_RISK("$2") " AS given_up, authentic"
    " FROM refusals ORDER BY authentic DESC, first_refused_at, body_sha256";

/* The rows, authentic or not, and the counts. */
struct refusals_list {
	json_t		*rows, *sample;
	long long	 n_risk, n_gone;
};

static int
refusals_row(struct ctl_row *row, void *arg)
{
	struct refusals_list *l = arg;
	json_t *o;

	l->n_risk += ctl_col_int(row, 11);
	l->n_gone += ctl_col_int(row, 12);
	if ((o = ctl_row_json(row)) == NULL || json_array_append_new(
	    ctl_col_int(row, 13) ? l->rows : l->sample, o) != 0) {
		ctl_warnx(NULL, "out of memory");
		return -1;
	}
	return 0;
}

/* One row as a line of text, marked mark (or by its own state). */
static void
refusals_print(json_t *row, const char *mark)
{
	char b[6][CTL_ESC_MAX];

	printf("%-10s %s .. %s refused %" JSON_INTEGER_FORMAT "x, last %"
	    JSON_INTEGER_FORMAT " %s; client %s; %s %s; body %.16s\n",
	    mark != NULL ? mark : json_integer_value(json_object_get(row,
	    "given_up")) ? "GIVEN UP" : json_integer_value(
	    json_object_get(row, "at_risk")) ? "AT RISK" : "refused",
	    ctl_val(json_object_get(row, "first_refused_at"), b[0],
	    sizeof(b[0])),
	    ctl_val(json_object_get(row, "last_refused_at"), b[1],
	    sizeof(b[1])),
	    json_integer_value(json_object_get(row, "refusal_count")),
	    json_integer_value(json_object_get(row, "status")),
	    ctl_val(json_object_get(row, "reason"), b[2], sizeof(b[2])),
	    ctl_val(json_object_get(row, "client_id"), b[3], sizeof(b[3])),
	    ctl_val(json_object_get(row, "kind"), b[4], sizeof(b[4])),
	    ctl_val(json_object_get(row, "object_id"), b[5], sizeof(b[5])),
	    json_string_length(json_object_get(row, "body_sha256")) > 0 ?
	    json_string_value(json_object_get(row, "body_sha256")) :
	    "(not read)");
}

static void
refusals_usage(FILE *f)
{
	fputs("usage: antomctl refusals -c FILE [--json]\n"
	    "\n"
	    "List the authentic deliveries antomd refused (503 after the\n"
	    "signature verified, or 401 because it verifies only over another\n"
	    "path: misrouted) whose notification has not been stored since,\n"
	    "oldest first.  AT RISK: refused for longer than at_risk_after_s;\n"
	    "GIVEN UP: Antom's last attempt is past (24 h 22 min after the\n"
	    "first), the merchant must call inquiryPayment.  Then, apart, the\n"
	    "unverified sample: refusals without a valid signature from a\n"
	    "configured client id, at most 64, each forgotten an hour after\n"
	    "it was first refused; anyone can send those, so they are never\n"
	    "at risk.  Ids and types of unverified rows are what the request\n"
	    "claimed.\n"
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
	const char *confpath = NULL;
	struct conf *cf = NULL;
	struct ctl_db *db = NULL;
	struct refusals_list l;
	json_t *row, *doc = NULL;
	char risk[REFUSAL_AGO_LEN], gone[REFUSAL_AGO_LEN];
	const char *params[2] = { risk, gone };
	int ch, json = 0, rc = CTL_EXIT_ERR;
	size_t i;

	memset(&l, 0, sizeof(l));
	argv[0] = refusals_prog;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':	confpath = optarg; break;
		case OPT_JSON:	json = 1; break;
		case 'h':	refusals_usage(stdout); return CTL_EXIT_OK;
		default:	refusals_usage(stderr); return CTL_EXIT_USAGE;
		}
	}
	if (confpath == NULL || argc != optind) {
		refusals_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if ((cf = ctl_conf(NULL, confpath)) == NULL ||
	    (db = ctl_db_open(NULL, cf->database, CTL_SCHEMA_CURRENT)) == NULL)
		goto out;
	refusal_ago(risk, cf->at_risk_after_s);
	refusal_ago(gone, REFUSAL_GIVEN_UP_S);
	if ((l.rows = json_array()) == NULL ||
	    (l.sample = json_array()) == NULL)
		goto out;
	if (ctl_db_each(db, ctl_db_pg(db) ? refusals_pg_sql :
	    refusal_list_sql, params, 2, refusals_row, &l) != 0)
		goto out;
	if (json) {
		doc = json_pack("{s:I, s:I, s:I, s:O, s:O}", "at_risk_after_s",
		    (json_int_t)cf->at_risk_after_s, "at_risk",
		    (json_int_t)l.n_risk, "given_up", (json_int_t)l.n_gone,
		    "refusals", l.rows, "unverified", l.sample);
		if (doc == NULL || json_dumpf(doc, stdout, JSON_INDENT(2)) != 0)
			goto out;
		putchar('\n');
	} else {
		json_array_foreach(l.rows, i, row)
			refusals_print(row, NULL);
		if (json_array_size(l.sample) > 0)
			printf("unverified sample (no valid signature: anyone "
			    "can send these; never at risk):\n");
		json_array_foreach(l.sample, i, row)
			refusals_print(row, "unverified");
		printf("%zu refused and not stored since; %lld at risk "
		    "(refused more than %u s ago), %lld given up by Antom; "
		    "%zu unverified (not at risk)\n", json_array_size(l.rows),
		    l.n_risk, cf->at_risk_after_s, l.n_gone,
		    json_array_size(l.sample));
	}
	rc = fflush(stdout) != 0 ? CTL_EXIT_ERR : l.n_risk > 0 ? CTL_EXIT_FAIL :
	    CTL_EXIT_OK;
out:
	json_decref(doc);
	json_decref(l.rows);
	json_decref(l.sample);
	ctl_db_close(db);
	conf_free(cf);
	return rc;
}
