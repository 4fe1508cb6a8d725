/*
 * ctl_util.c - what antomctl's commands share.  Not used by the daemon.
 */
#include <stdarg.h>
#include <stdio.h>

#include "ctl.h"

void
ctl_warnx(const char *command, const char *fmt, ...)
{
	va_list ap;

	fputs("antomctl: ", stderr);
	if (command != NULL)
		fprintf(stderr, "%s: ", command);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
