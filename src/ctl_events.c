/*
 * ctl_events.c - antomctl events: the change feed (the events table)
 * after a sequence number, optionally followed as rows commit.
 *
 * Each poll is one short read transaction on a read-only connection, so
 * a follower never holds up the daemon's writer.  On PostgreSQL seq is
 * handed out in commit order (store_pg.c), so polling seq > N misses no
 * row there either.  Signals are taken
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

/* What a poll carries from row to row. */
struct events_poll {
	int64_t	*since, *left;
	int	 json;
};

static int
events_row(struct ctl_row *row, void *arg)
{
	struct events_poll *ep = arg;
	char b1[CTL_ESC_MAX], b2[CTL_ESC_MAX], b3[CTL_ESC_MAX];
	json_t *o;

	*ep->since = ctl_col_int(row, 0);
	if (*ep->left > 0)
		(*ep->left)--;
	if (ep->json) {
		if ((o = ctl_row_json(row)) == NULL) {
			ctl_warnx(NULL, "out of memory");
			return -1;
		}
		json_dumpf(o, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(o);
		return 0;
	}
	printf("%lld %s %s %s %s %s->%s %lld\n", (long long)*ep->since,
	    ctl_esc(ctl_col_text(row, 1), b1, sizeof(b1)),
	    ctl_esc(ctl_col_text(row, 2), b2, sizeof(b2)),
	    ctl_col_text(row, 3),
	    ctl_esc(ctl_col_text(row, 4), b3, sizeof(b3)),
	    ctl_col_null(row, 6) ? "none" : ctl_col_text(row, 6),
	    ctl_col_text(row, 7), (long long)ctl_col_int(row, 8));
	return 0;
}

/*
 * Print the rows after *since, at most *left of them (-1: no limit);
 * advances *since and *left.  Each poll is one statement, its own short
 * read transaction: the writer is never held up.  0, or -1 on a database
 * or output error.
 */
static int
events_poll(struct ctl_db *db, int64_t *since, int64_t *left, int json)
{
	static const char sql[] =
	    "SELECT seq, created_at, client_id, object_type, object_id,"
	    " payment_id, old_status, new_status, notification_id"
	    " FROM events WHERE seq > $1 ORDER BY seq LIMIT $2";
	struct events_poll ep = { since, left, json };
	char s1[24], s2[24];
	const char *params[2] = { s1, s2 };

	snprintf(s1, sizeof(s1), "%lld", (long long)*since);
	/* PostgreSQL takes no negative LIMIT: none is INT64_MAX. */
	snprintf(s2, sizeof(s2), "%lld", *left < 0 ? (long long)INT64_MAX :
	    (long long)*left);
	if (ctl_db_each(db, sql, params, 2, events_row, &ep) != 0)
		return -1;
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
	const char *confpath = NULL;
	struct conf *cf = NULL;
	struct ctl_db *db = NULL;
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
		if (events_poll(db, &since, &left, json) != 0)
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
	ctl_db_close(db);
	conf_free(cf);
	return rc;
}
