/*
 * fuzz_target.c - libFuzzer target for target_split(), the request
 * target straight off the request line (the daemon's routing and
 * antomctl explain both go through it).
 *
 * The input is copied to a heap buffer of its exact size, so ASan
 * catches a read one byte past it.  Invariants asserted, for any input x:
 *  - on success the path and the query lie inside x, the path is not
 *    empty and starts with '/', and neither holds '?' in the path, '#',
 *    or a byte that is not visible ASCII;
 *  - an origin-form x ("/...") is its path, then '?' and its query;
 *  - on failure nothing is pointed at;
 *  - splitting a success's path again gives the same path (it is origin
 *    form itself).
 */
#undef NDEBUG		/* the asserts are the point */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "target.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
inside(const char *p, size_t n, const char *buf, size_t len)
{
	return p >= buf && p + n <= buf + len;
}

static void
check_bytes(const char *p, size_t n, int path)
{
	size_t i;

	for (i = 0; i < n; i++) {
		assert((unsigned char)p[i] > 0x20 && (unsigned char)p[i] < 0x7f);
		assert(p[i] != '#');
		assert(!path || p[i] != '?');
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct target t, again;
	char *buf = malloc(len > 0 ? len : 1);

	if (buf == NULL)
		return 0;
	memcpy(buf, data, len);
	if (target_split(buf, len, &t) != 0) {
		assert(t.path == NULL && t.query == NULL && t.absolute == 0);
		free(buf);
		return 0;
	}
	assert(t.pathlen > 0 && t.path[0] == '/');
	/* "/" for an absolute-form target without a path is a literal. */
	assert(inside(t.path, t.pathlen, buf, len) ||
	    (t.absolute && t.pathlen == 1));
	check_bytes(t.path, t.pathlen, 1);
	if (t.query != NULL) {
		assert(inside(t.query, t.querylen, buf, len));
		assert(t.query[-1] == '?');
		check_bytes(t.query, t.querylen, 0);
	}
	if (!t.absolute) {
		assert(t.path == buf);
		assert(t.pathlen + (t.query != NULL ? t.querylen + 1 : 0) ==
		    len);
	}
	assert(target_split(t.path, t.pathlen, &again) == 0);
	assert(again.path == t.path && again.pathlen == t.pathlen &&
	    again.query == NULL && !again.absolute);
	free(buf);
	return 0;
}
