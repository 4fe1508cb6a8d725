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
	char b1[CTL_ESC_MAX];
	int64_t since = 0;
	uint64_t ok = 0, failed = 0;
	int ch, step, rc = CTL_EXIT_ERR;

	argv[0] = db_prog_reverify;
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
			db_reverify_usage(stdout);
			return CTL_EXIT_OK;
		default:
			db_reverify_usage(stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (confpath == NULL || optind != argc) {
		db_reverify_usage(stderr);
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
		    ctl_esc(in.client_id, b1, sizeof(b1)),
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
	int ch, rc = CTL_EXIT_ERR;

	argv[0] = db_prog_replay;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':	confpath = optarg; break;
		case 'h':	db_replay_usage(stdout); return CTL_EXIT_OK;
		default:	db_replay_usage(stderr); return CTL_EXIT_USAGE;
		}
	}
	if (confpath == NULL || argc - optind != 1) {
		db_replay_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (ctl_parse_i64(argv[optind], &id) != 0) {
		ctl_warnx(NULL, "not a notification id: %s", argv[optind]);
		return CTL_EXIT_USAGE;
	}
	if ((cf = ctl_conf(NULL, confpath)) == NULL)
		goto out;
	log_init(cf->log_level);
	memset(&so, 0, sizeof(so));
	so.busy_timeout_ms = cf->busy_timeout_ms > CTL_BUSY_MS ?
	    cf->busy_timeout_ms : CTL_BUSY_MS;
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
		rc = fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_ERR;
		break;
	case 1:
		ctl_warnx(NULL, "no notification with id %lld", (long long)id);
		rc = CTL_EXIT_FAIL;
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
