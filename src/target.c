/*
 * target.c - request target to routing path (target.h).
 *
 * Untrusted input straight off the request line, so every byte is looked
 * at once, nothing is copied and nothing is allocated; fuzz/fuzz_target.c
 * runs it under libFuzzer.  Pure: safe from any thread.
 */
#include <string.h>
#include <strings.h>

#include "target.h"

/*
 * Bytes a target may hold: visible ASCII.  libmicrohttpd already splits
 * the request line at blanks and ends it at a NUL; antomctl explain reads
 * raw captures, where anything may appear.
 */
static int
target_visible(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

int
target_split(const char *t, size_t n, struct target *out)
{
	const char *p = t, *end = t + n, *a, *q;
	size_t slen;

	memset(out, 0, sizeof(*out));
	if (n == 0 || !target_visible(t, n) || memchr(t, '#', n) != NULL)
		return -1;
	if (t[0] != '/') {
		/* absolute-form: "http" or "https", "://", an authority. */
		if (n > 7 && strncasecmp(t, "http://", 7) == 0)
			slen = 7;
		else if (n > 8 && strncasecmp(t, "https://", 8) == 0)
			slen = 8;
		else
			return -1;	/* authority-, asterisk-form, garbage */
		a = t + slen;
		for (p = a; p < end && *p != '/' && *p != '?'; p++)
			if (*p == '@')	/* RFC 9110 section 4.2.4 */
				return -1;
		if (p == a)
			return -1;
		out->absolute = 1;
	}
	q = memchr(p, '?', (size_t)(end - p));
	if (q != NULL) {
		out->query = q + 1;
		out->querylen = (size_t)(end - q - 1);
	} else
		q = end;
	if (q == p) {
		out->path = "/";
		out->pathlen = 1;
	} else {
		out->path = p;
		out->pathlen = (size_t)(q - p);
	}
	return 0;
}
