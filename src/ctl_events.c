/*
 * ctl_events.c - antomctl events: the change feed (the events table)
 * after a sequence number, optionally followed as rows commit.
 *
 * Each poll is one short read transaction on a read-only connection, so
 * a follower never holds up the daemon's writer.  Signals are taken
 * synchronously (blocked, then waited for between polls), as the daemon
 * does.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "conf.h"
#include "ctl.h"

#define EVENTS_POLL_MS	500

static char events_prog[] = "antomctl events";

static void
events_usage(FILE *f)
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
events_poll(sqlite3 *db, sqlite3_stmt *st, int64_t *since,
    int64_t *left, int json)
{
	char b1[CTL_ESC_MAX], b2[CTL_ESC_MAX], b3[CTL_ESC_MAX];
	json_t *row;
	int rc;

	sqlite3_bind_int64(st, 1, *since);
	sqlite3_bind_int64(st, 2, *left);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*since = sqlite3_column_int64(st, 0);
		if (*left > 0)
			(*left)--;
		if (json) {
			if ((row = ctl_row_json(st)) == NULL) {
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
		    ctl_esc((const char *)sqlite3_column_text(st, 1), b1,
		    sizeof(b1)),
		    ctl_esc((const char *)sqlite3_column_text(st, 2), b2,
		    sizeof(b2)),
		    (const char *)sqlite3_column_text(st, 3),
		    ctl_esc((const char *)sqlite3_column_text(st, 4), b3,
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
	struct timespec poll = { 0, EVENTS_POLL_MS * 1000000L };
	int64_t since = -1, left = -1;
	int ch, follow = 0, json = 0, rc = CTL_EXIT_ERR, blocked = 0;

	argv[0] = events_prog;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			confpath = optarg;
			break;
		case OPT_SINCE:
			if (ctl_parse_i64(optarg, &since) != 0) {
				ctl_warnx(NULL, "--since: not a sequence number: %s",
				    optarg);
				return CTL_EXIT_USAGE;
			}
			break;
		case OPT_FOLLOW:
			follow = 1;
			break;
		case OPT_LIMIT:
			if (ctl_parse_i64(optarg, &left) != 0 || left == 0) {
				ctl_warnx(NULL, "--limit: not a positive number: %s",
				    optarg);
				return CTL_EXIT_USAGE;
			}
			break;
		case OPT_JSON:
			json = 1;
			break;
		case 'h':
			events_usage(stdout);
			return CTL_EXIT_OK;
		default:
			events_usage(stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (confpath == NULL || since < 0 || optind != argc) {
		events_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if ((cf = ctl_conf(NULL, confpath)) == NULL ||
	    (db = ctl_db_open(NULL, cf->database, CTL_SCHEMA_CURRENT)) == NULL)
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
		if (events_poll(db, st, &since, &left, json) != 0)
			goto out;
		if (!follow || left == 0)
			break;
		if (sigtimedwait(&sigs, NULL, &poll) > 0)
			break;
	}
	rc = CTL_EXIT_OK;
out:
	if (blocked)
		sigprocmask(SIG_SETMASK, &old, NULL);
	sqlite3_finalize(st);
	sqlite3_close(db);
	conf_free(cf);
	return rc;
}
