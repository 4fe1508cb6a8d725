/*
 * ctl_replay.c - antomctl replay: apply one archived notification to the
 * state tables again, as if delivered now for the first time.
 *
 * The one antomctl command that writes: it goes through store_replay(),
 * so the state machine's rules hold for it as for any delivery, and it
 * waits for the daemon's write lock (on PostgreSQL, the advisory locks of
 * the objects it touches: store_pg_replay.c) rather than fail beside it.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "ctl.h"
#include "log.h"
#include "store.h"

static char replay_prog[] = "antomctl replay";

static void
replay_usage(FILE *f)
{
	fputs("usage: antomctl replay -c FILE ID\n"
	    "\n"
	    "Apply the archived notification ID (notifications.id) to the\n"
	    "state tables again, as if it were delivered now for the first\n"
	    "time: delivery de-duplication is bypassed, the state machine is\n"
	    "not (a status never moves backwards, a final status is never\n"
	    "overwritten).  When applied, the payment or capture row and one\n"
	    "events row point at ID; the notifications row then says what this\n"
	    "version reads in the body, and an outcome of archived becomes the\n"
	    "new one (any other outcome stays what the first delivery did).\n"
	    "Prints the outcome: applied, duplicate, ignored, conflict or\n"
	    "archived.  Safe beside running antomd instances (it waits for\n"
	    "their locks).  On PostgreSQL it needs antomd's writer role.\n"
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

	argv[0] = replay_prog;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':	confpath = optarg; break;
		case 'h':	replay_usage(stdout); return CTL_EXIT_OK;
		default:	replay_usage(stderr); return CTL_EXIT_USAGE;
		}
	}
	if (confpath == NULL || argc - optind != 1) {
		replay_usage(stderr);
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
	case STORE_REPLAY_DONE:
		printf("notification %lld: %s\n", (long long)id,
		    store_outcome_str(r.outcome));
		rc = fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_ERR;
		break;
	case STORE_REPLAY_NONE:
		ctl_warnx(NULL, "no notification with id %lld", (long long)id);
		rc = CTL_EXIT_FAIL;
		break;
	case STORE_REPLAY_FAILED:
		/* A PostgreSQL COMMIT that warned did commit on the primary. */
		ctl_warnx(NULL, "replay of notification %lld failed; %s",
		    (long long)id, ctl_db_is_pg(cf->database) ? "the line "
		    "above says whether anything changed" : "nothing changed");
		break;
	}
out:
	store_close(s);
	conf_free(cf);
	return rc;
}
