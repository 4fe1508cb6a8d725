/*
 * ctl_reverify.c - antomctl reverify: check every archived notification's
 * signature again against the keys configured now (after a rotation,
 * before removing an old key).
 *
 * The check is verify_request(), the daemon's own, over the stored signed
 * path, client id, request time and body.  The database is read
 * read-only; client ids are escaped before they reach a terminal.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "conf.h"
#include "ctl.h"
#include "verify.h"

static char reverify_prog[] = "antomctl reverify";

static void
reverify_usage(FILE *f)
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
	char b1[CTL_ESC_MAX];
	int64_t since = 0;
	uint64_t ok = 0, failed = 0;
	int ch, step, rc = CTL_EXIT_ERR;

	argv[0] = reverify_prog;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			confpath = optarg;
			break;
		case OPT_SINCE:
			if (ctl_parse_i64(optarg, &since) != 0) {
				ctl_warnx(NULL, "--since-id: not an id: %s", optarg);
				return CTL_EXIT_USAGE;
			}
			break;
		case 'h':
			reverify_usage(stdout);
			return CTL_EXIT_OK;
		default:
			reverify_usage(stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (confpath == NULL || optind != argc) {
		reverify_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if ((cf = ctl_conf(NULL, confpath)) == NULL ||
	    (db = ctl_db_open(NULL, cf->database, CTL_SCHEMA_CURRENT)) == NULL)
		goto out;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto dberr;
	sqlite3_bind_int64(st, 1, since);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&in, 0, sizeof(in));
		in.content.path = (const char *)sqlite3_column_text(st, 2);
		in.query = NULL;	/* signed_path holds ?query if it was signed */
		in.content.client_id = (const char *)sqlite3_column_text(st, 1);
		in.content.request_time = (const char *)sqlite3_column_text(st, 3);
		in.sig_header = (const char *)sqlite3_column_text(st, 4);
		in.content.body = sqlite3_column_blob(st, 5);
		in.content.bodylen = (size_t)sqlite3_column_bytes(st, 5);
		if (in.content.body == NULL)
			in.content.body = (const unsigned char *)"";
		vr = verify_request(cf->keys, &in, &m);
		if (vr == VERIFY_OK) {
			ok++;
			continue;
		}
		failed++;
		printf("notification %lld client %s: %s\n",
		    (long long)sqlite3_column_int64(st, 0),
		    ctl_esc(in.content.client_id, b1, sizeof(b1)),
		    verify_result_str(vr));
	}
	if (step != SQLITE_DONE)
		goto dberr;
	printf("%" PRIu64 " verified, %" PRIu64 " failed\n", ok, failed);
	if (fflush(stdout) != 0)
		goto out;
	rc = failed > 0 ? CTL_EXIT_FAIL : CTL_EXIT_OK;
	goto out;
dberr:
	ctl_warnx(NULL, "database: %s", sqlite3_errmsg(db));
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	conf_free(cf);
	return rc;
}
