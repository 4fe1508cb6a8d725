/*
 * target.h - the request target of a request line, as antomd routes it.
 *
 * One pure function shared by the daemon (http.c) and antomctl explain
 * (ctl_capture.c), so the two can never disagree about which path a
 * request line names: explain says "verifies" only for what the daemon
 * would route.  No allocation, no global state: safe from any thread.
 */
#ifndef ANTOMD_TARGET_H
#define ANTOMD_TARGET_H

#include <stddef.h>

/* Where the path and the query are, inside the target given. */
struct target {
	const char	*path;		/* never empty: "/" stands for none */
	size_t		 pathlen;
	const char	*query;		/* after '?', or NULL */
	size_t		 querylen;
	int		 absolute;	/* was http:// or https:// absolute-form */
};

/*
 * Split the request target t (n bytes, not NUL-terminated) into the path
 * used for routing and the query (RFC 9112 section 3.2).  Origin-form
 * ("/path?query") is taken as is; absolute-form ("http://host:port/path"
 * or "https://...", scheme in any case) is routed by its path, "/" when it
 * has none (section 3.2.2).  Returns 0, or -1 for anything else: an empty
 * target, authority-form, asterisk-form, another scheme, an empty or
 * userinfo-bearing authority, a fragment or a byte that is not printable
 * ASCII.  On -1 *out is cleared.  out points into t.
 */
int	target_split(const char *t, size_t n, struct target *out);

#endif
