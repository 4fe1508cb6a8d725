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

#include "conf.h"
#include "ctl.h"
#include "verify.h"

static char reverify_prog[] = "antomctl reverify";

/* What the check carries from row to row. */
struct reverify_run {
	const struct conf	*cf;
	uint64_t		 ok, failed;
};

static int
reverify_row(struct ctl_row *row, void *arg)
{
	struct reverify_run *run = arg;
	struct verify_input in;
	struct verify_match m;
	enum verify_result vr;
	char b1[CTL_ESC_MAX];

	memset(&in, 0, sizeof(in));
	in.content.path = ctl_col_text(row, 2);
	in.query = NULL;	/* signed_path holds ?query if it was signed */
	in.content.client_id = ctl_col_text(row, 1);
	in.content.request_time = ctl_col_text(row, 3);
	in.sig_header = ctl_col_text(row, 4);
	in.content.body = ctl_col_blob(row, 5, &in.content.bodylen);
	vr = verify_request(run->cf->keys, &in, &m);
	if (vr == VERIFY_OK) {
		run->ok++;
		return 0;
	}
	run->failed++;
	printf("notification %lld client %s: %s\n",
	    (long long)ctl_col_int(row, 0),
	    ctl_esc(in.content.client_id, b1, sizeof(b1)),
	    verify_result_str(vr));
	return 0;
}

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
	    " FROM notifications WHERE id > $1 ORDER BY id";
	const char *confpath = NULL;
	struct conf *cf = NULL;
	struct ctl_db *db = NULL;
	struct reverify_run run;
	char num[24];
	const char *param = num;
	int64_t since = 0;
	int ch, rc = CTL_EXIT_ERR;

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
	memset(&run, 0, sizeof(run));
	run.cf = cf;
	snprintf(num, sizeof(num), "%lld", (long long)since);
	if (ctl_db_each(db, sql, &param, 1, reverify_row, &run) != 0)
		goto out;
	printf("%" PRIu64 " verified, %" PRIu64 " failed\n", run.ok,
	    run.failed);
	if (fflush(stdout) != 0)
		goto out;
	rc = run.failed > 0 ? CTL_EXIT_FAIL : CTL_EXIT_OK;
out:
	ctl_db_close(db);
	conf_free(cf);
	return rc;
}
