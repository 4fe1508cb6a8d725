/*
 * pathvar.c - the path variants antomd and antomctl explain try
 * (pathvar.h).
 *
 * Pure functions over a configuration that is only read; any thread.
 */
#include <stdio.h>
#include <string.h>

#include "pathvar.h"

/*
 * Append the variant a + b as out[*n] unless it is signed_path, an
 * earlier variant, too long, or out is full.
 */
static void
pathvar_add(struct pathvar *out, size_t *n, size_t max,
    const char *signed_path, enum pathvar_kind kind,
    const struct conf_route *route, const char *a, size_t alen,
    const char *b)
{
	size_t blen = strlen(b), i;
	struct pathvar *v;

	if (*n >= max || alen + blen >= PATHVAR_LEN)
		return;
	v = &out[*n];
	memcpy(v->path, a, alen);
	memcpy(v->path + alen, b, blen + 1);
	if (strcmp(v->path, signed_path) == 0)
		return;
	for (i = 0; i < *n; i++)
		if (strcmp(out[i].path, v->path) == 0)
			return;
	v->kind = kind;
	v->route = route;
	(*n)++;
}

size_t
pathvar_list(const struct conf *c, const char *signed_path,
    const char *req_path, struct pathvar *out, size_t max)
{
	size_t n = 0, i, sl = strlen(signed_path), ll, pl;
	const char *lp, *sp;

	/* "/" alone is toggled to "//", as antomctl explain always did. */
	if (sl > 1 && signed_path[sl - 1] == '/')
		pathvar_add(out, &n, max, signed_path, PATHVAR_SLASH, NULL,
		    signed_path, sl - 1, "");
	else
		pathvar_add(out, &n, max, signed_path, PATHVAR_SLASH, NULL,
		    signed_path, sl, "/");
	for (i = 0; i < c->nroutes; i++) {
		lp = c->routes[i].path;
		sp = c->routes[i].signed_path;
		ll = strlen(lp);
		pl = strlen(sp);
		if (pl <= ll || strcmp(sp + pl - ll, lp) != 0)
			continue;
		pathvar_add(out, &n, max, signed_path, PATHVAR_PREFIX,
		    &c->routes[i], sp, pl - ll, req_path);
	}
	pathvar_add(out, &n, max, signed_path, PATHVAR_OWN, NULL, req_path,
	    strlen(req_path), "");
	for (i = 0; i < c->nroutes; i++)
		pathvar_add(out, &n, max, signed_path, PATHVAR_ROUTE,
		    &c->routes[i], c->routes[i].signed_path,
		    strlen(c->routes[i].signed_path), "");
	return n;
}
