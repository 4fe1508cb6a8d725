/*
 * antomctl.c - the command-line tool: act as Antom towards antomd, and
 * look into what it received.
 *
 * Owns the dispatch to the commands, one file each (src/ctl_<command>.c,
 * declared in ctl.h), and the top-level usage.  The exit statuses every
 * command shares are enum ctl_exit in ctl.h.
 *
 * Single-threaded; the x* allocators die on failure, which is right for a
 * tool.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static void
ctl_usage(FILE *f)
{
	fputs("usage: antomctl <command> [options]\n"
	    "\n"
	    "Act as Antom towards antomd, and look into what it received.\n"
	    "\n"
	    "Commands:\n"
	    "  send      sign a notification as Antom does and POST it\n"
	    "  simulate  play a whole scenario with Antom's retry schedule\n"
	    "  explain   say why a captured request does or does not verify\n"
	    "  inspect   the timeline of one payment\n"
	    "  events    the change feed, optionally followed\n"
	    "  refusals  refused deliveries not stored since: what is at risk\n"
	    "  reverify  check every archived signature against the keys now\n"
	    "  replay    apply one archived notification again\n"
	    "  keygen    create an RSA-2048 key pair standing in for Antom's\n"
	    "\n"
	    "Run 'antomctl <command> --help' for the options of a command.\n",
	    f);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help",	no_argument,	NULL, 'h' },
		{ NULL,		0,		NULL, 0 }
	};
	static const struct {
		const char	*name;
		int		(*run)(int, char **);
	} commands[] = {
		{ "send",	ctl_send },
		{ "simulate",	ctl_simulate },
		{ "explain",	ctl_explain },
		{ "inspect",	ctl_inspect },
		{ "events",	ctl_events },
		{ "refusals",	ctl_refusals },
		{ "reverify",	ctl_reverify },
		{ "replay",	ctl_replay },
		{ "keygen",	ctl_keygen },
	};
	size_t i;
	int c;

	/* '+': stop at the command; its options are its own. */
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'h') {
			ctl_usage(stdout);
			return CTL_EXIT_OK;
		}
		fputs("Try 'antomctl --help'.\n", stderr);
		return CTL_EXIT_USAGE;
	}
	if (optind >= argc) {
		ctl_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	argc -= optind;
	argv += optind;
	/* glibc: optind 0 re-initialises getopt for the command's argv. */
	optind = 0;
	/* Each names itself in its messages (src/ctl_*.c). */
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			return commands[i].run(argc, argv);
	ctl_warnx(NULL, "unknown command '%s'", argv[0]);
	fputs("Try 'antomctl --help'.\n", stderr);
	return CTL_EXIT_USAGE;
}
