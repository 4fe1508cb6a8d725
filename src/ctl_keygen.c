/*
 * ctl_keygen.c - antomctl keygen: an RSA-2048 key pair standing in for
 * Antom's, for tests and demos (the real key is Antom's).
 *
 * Exit status: 0 done, 2 usage error, 3 key or file error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "sign.h"
#include "util.h"

/* getopt_long() names the program by argv[0]; make it name the command. */
static char ctl_prog_keygen[] = "antomctl keygen";

static void
ctl_keygen_usage(FILE *f)
{
	fputs("usage: antomctl keygen DIR\n"
	    "\n"
	    "Create antom-private.pem (mode 0600), antom-public.pem and\n"
	    "antom-public.b64 in DIR, refusing to overwrite, then print the\n"
	    "three paths and the public key as one line of base64, as the\n"
	    "Antom dashboard shows it.  Test use only: the real key is "
	    "Antom's.\n"
	    "\n"
	    "Exit status: 0 done, 2 usage error, 3 key or file error.\n", f);
}

/* dir/name without doubling a '/'; the caller frees the result. */
static char *
ctl_join(const char *dir, const char *name)
{
	size_t dl = strlen(dir);
	char *p = xmalloc(dl + strlen(name) + 2);

	sprintf(p, "%s%s%s", dir, dl > 0 && dir[dl - 1] == '/' ? "" : "/",
	    name);
	return p;
}

int
ctl_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help",	no_argument,	NULL, 'h' },
		{ NULL,		0,		NULL, 0 }
	};
	static const char *const files[] = {
		"antom-private.pem", "antom-public.pem", "antom-public.b64"
	};
	char err[512], line[2048];
	char *p;
	FILE *f;
	size_t i;
	int c;

	argv[0] = ctl_prog_keygen;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			ctl_keygen_usage(stdout);
			return CTL_EXIT_OK;
		}
		fputs("Try 'antomctl keygen --help'.\n", stderr);
		return CTL_EXIT_USAGE;
	}
	if (argc - optind != 1) {
		ctl_warnx(NULL, "keygen: want exactly one DIR");
		fputs("Try 'antomctl keygen --help'.\n", stderr);
		return CTL_EXIT_USAGE;
	}
	if (sign_keygen(argv[optind], err, sizeof(err)) == -1) {
		ctl_warnx(NULL, "keygen: %s", err);
		return CTL_EXIT_ERR;
	}
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		p = ctl_join(argv[optind], files[i]);
		puts(p);
		free(p);
	}
	p = ctl_join(argv[optind], files[2]);
	f = fopen(p, "r");
	if (f == NULL || fgets(line, sizeof(line), f) == NULL) {
		ctl_warnx(NULL, "keygen: cannot read back %s: %s", p,
		    f == NULL ? strerror(errno) : "empty file");
		if (f != NULL)
			fclose(f);
		free(p);
		return CTL_EXIT_ERR;
	}
	fclose(f);
	free(p);
	line[strcspn(line, "\r\n")] = '\0';
	puts(line);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		ctl_warnx(NULL, "keygen: writing the output: %s", strerror(errno));
		return CTL_EXIT_ERR;
	}
	return CTL_EXIT_OK;
}
