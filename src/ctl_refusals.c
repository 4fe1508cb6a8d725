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

#include <jansson.h>
#include <sqlite3.h>

#include "conf.h"
#include "ctl.h"
#include "refusal.h"

static char refusals_prog[] = "antomctl refusals";

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
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	json_t *rows = NULL, *sample = NULL, *row, *doc = NULL;
	char risk[REFUSAL_AGO_LEN], gone[REFUSAL_AGO_LEN];
	long long n_risk = 0, n_gone = 0;
	int ch, json = 0, rc = CTL_EXIT_ERR, step;
	size_t i;

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
	if ((rows = json_array()) == NULL || (sample = json_array()) == NULL ||
	    sqlite3_prepare_v2(db, refusal_list_sql, -1, &st, NULL) != SQLITE_OK)
		goto dberr;
	sqlite3_bind_text(st, 1, risk, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, gone, -1, SQLITE_STATIC);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		n_risk += sqlite3_column_int(st, 11);
		n_gone += sqlite3_column_int(st, 12);
		if ((row = ctl_row_json(st)) == NULL ||
		    json_array_append_new(sqlite3_column_int(st, 13) ? rows :
		    sample, row) != 0)
			goto out;
	}
	if (step != SQLITE_DONE)
		goto dberr;
	if (json) {
		doc = json_pack("{s:I, s:I, s:I, s:O, s:O}", "at_risk_after_s",
		    (json_int_t)cf->at_risk_after_s, "at_risk",
		    (json_int_t)n_risk, "given_up", (json_int_t)n_gone,
		    "refusals", rows, "unverified", sample);
		if (doc == NULL || json_dumpf(doc, stdout, JSON_INDENT(2)) != 0)
			goto out;
		putchar('\n');
	} else {
		json_array_foreach(rows, i, row)
			refusals_print(row, NULL);
		if (json_array_size(sample) > 0)
			printf("unverified sample (no valid signature: anyone "
			    "can send these; never at risk):\n");
		json_array_foreach(sample, i, row)
			refusals_print(row, "unverified");
		printf("%zu refused and not stored since; %lld at risk "
		    "(refused more than %u s ago), %lld given up by Antom; "
		    "%zu unverified (not at risk)\n", json_array_size(rows),
		    n_risk, cf->at_risk_after_s, n_gone,
		    json_array_size(sample));
	}
	rc = fflush(stdout) != 0 ? CTL_EXIT_ERR : n_risk > 0 ? CTL_EXIT_FAIL :
	    CTL_EXIT_OK;
	goto out;
dberr:
	ctl_warnx(NULL, "database: %s", sqlite3_errmsg(db));
out:
	sqlite3_finalize(st);
	json_decref(doc);
	json_decref(rows);
	json_decref(sample);
	sqlite3_close(db);
	conf_free(cf);
	return rc;
}
