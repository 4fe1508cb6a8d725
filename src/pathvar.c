/*
 * pathvar.c - the path variants antomd and antomctl explain try
 * (pathvar.h).
 *
 * Pure functions over a configuration that is only read; any thread.
 */
#include <stdio.h>
#include <string.h>

#include "pathvar.h"

/* What pathvar_list() is filling. */
struct pathvar_out {
	struct pathvar	*v;
	size_t		 n, max;
	unsigned	 kinds;
	const char	*signed_path;
};

/*
 * Append the variant a + b unless its kind is not wanted, it is the
 * signed path, an earlier variant or too long, or out is full.
 */
static void
pathvar_add(struct pathvar_out *o, enum pathvar_kind kind,
    const struct conf_route *route, const char *a, size_t alen,
    const char *b)
{
	size_t blen = strlen(b), i;
	struct pathvar *v;

	if (!(o->kinds & PATHVAR_KIND(kind)) || o->n >= o->max ||
	    alen + blen >= PATHVAR_LEN)
		return;
	v = &o->v[o->n];
	memcpy(v->path, a, alen);
	memcpy(v->path + alen, b, blen + 1);
	if (strcmp(v->path, o->signed_path) == 0)
		return;
	for (i = 0; i < o->n; i++)
		if (strcmp(o->v[i].path, v->path) == 0)
			return;
	v->kind = kind;
	v->route = route;
	o->n++;
}

size_t
pathvar_list(const struct conf *c, const char *signed_path,
    const char *req_path, unsigned kinds, struct pathvar *out, size_t max)
{
	struct pathvar_out o = { out, 0, max, kinds, signed_path };
	size_t i, sl = strlen(signed_path), ll, pl;
	const char *lp, *sp;

	/* "/" alone is toggled to "//", as antomctl explain always did. */
	if (sl > 1 && signed_path[sl - 1] == '/')
		pathvar_add(&o, PATHVAR_SLASH, NULL, signed_path, sl - 1, "");
	else
		pathvar_add(&o, PATHVAR_SLASH, NULL, signed_path, sl, "/");
	for (i = 0; i < c->nroutes; i++) {
		lp = c->routes[i].path;
		sp = c->routes[i].signed_path;
		ll = strlen(lp);
		pl = strlen(sp);
		if (pl <= ll || strcmp(sp + pl - ll, lp) != 0)
			continue;
		pathvar_add(&o, PATHVAR_PREFIX, &c->routes[i], sp, pl - ll,
		    req_path);
	}
	pathvar_add(&o, PATHVAR_OWN, NULL, req_path, strlen(req_path), "");
	for (i = 0; i < c->nroutes; i++)
		pathvar_add(&o, PATHVAR_ROUTE, &c->routes[i],
		    c->routes[i].signed_path, strlen(c->routes[i].signed_path),
		    "");
	return o.n;
}
