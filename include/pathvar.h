/*
 * pathvar.h - the other paths a notification for a route may have been
 * signed over, when it does not verify over the route's signed path: a
 * proxy or a route that adds or drops a trailing slash or a public
 * prefix, or sends one route's notifications to another.
 *
 * antomd tries the first few (a bounded number of extra RSA checks) to
 * tell a misrouted genuine notification from a forgery; antomctl explain
 * tries them all to name the cause.  One list, so both agree.
 *
 * Pure: no allocation, no I/O; any thread.
 */
#ifndef ANTOMD_PATHVAR_H
#define ANTOMD_PATHVAR_H

#include <stddef.h>

#include "conf.h"

/* A prefix and a route path, or any configured path, and NUL. */
#define PATHVAR_LEN	(2 * CONF_PATH_MAX + 1)

enum pathvar_kind {
	PATHVAR_SLASH,	/* the signed path with its trailing '/' toggled */
	PATHVAR_PREFIX,	/* a route's public prefix before the request path */
	PATHVAR_OWN,	/* the request's own path (no prefix added) */
	PATHVAR_ROUTE	/* another route's signed path */
};

/* A set of kinds, for pathvar_list(). */
#define PATHVAR_KIND(k)	(1u << (k))
#define PATHVAR_ALL	0xfu

struct pathvar {
	enum pathvar_kind	 kind;
	/* PREFIX: the route whose prefix; ROUTE: whose signed path. */
	const struct conf_route	*route;
	char			 path[PATHVAR_LEN];
};

/*
 * Store up to max variants of signed_path for a request to req_path into
 * out, of the kinds in the set kinds, the likeliest first (slash toggled,
 * prefixes, own path, other routes' signed paths), none equal to
 * signed_path or to an earlier one; a variant longer than PATHVAR_LEN - 1
 * is left out.  A route "L P+L" (signed path P followed by its local path
 * L) says a proxy strips the prefix P, so P + req_path is tried.  Returns
 * how many were stored.
 */
size_t	pathvar_list(const struct conf *, const char *signed_path,
	    const char *req_path, unsigned kinds, struct pathvar *out,
	    size_t max);

#endif
