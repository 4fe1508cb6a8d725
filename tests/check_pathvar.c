/*
 * check_pathvar.c - pathvar_list(): the path variants antomd tries on a
 * mismatch and antomctl explain shows, over a configuration built here.
 */
#include <string.h>

#include "conf.h"
#include "pathvar.h"
#include "suites.h"

static char p_antom[] = "/antom/notify", p_back[] = "/back/notify",
    s_back[] = "/payments/back/notify", p_local[] = "/local/notify",
    s_local[] = "/public/prefix/notify";

/*
 * Three routes: one signed as served, one whose signed path is a prefix
 * and its own path ("L P+L": a proxy strips /payments), one signed
 * elsewhere.
 */
static struct conf_route routes[] = {
	{ p_antom, p_antom }, { p_back, s_back }, { p_local, s_local },
};

static void
conf_of(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	c->routes = routes;
	c->nroutes = sizeof(routes) / sizeof(routes[0]);
}

/* The list, likeliest first, no duplicate, never the signed path. */
START_TEST(test_list)
{
	struct pathvar v[8];
	struct conf c;
	size_t n;

	conf_of(&c);
	n = pathvar_list(&c, "/antom/notify", "/antom/notify", PATHVAR_ALL, v,
	    8);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(v[0].path, "/antom/notify/");
	ck_assert_int_eq(v[0].kind, PATHVAR_SLASH);
	ck_assert_str_eq(v[1].path, "/payments/antom/notify");
	ck_assert_int_eq(v[1].kind, PATHVAR_PREFIX);
	ck_assert_ptr_eq(v[1].route, &routes[1]);
	/* The own path is the signed path: left out.  Then the routes. */
	ck_assert_str_eq(v[2].path, "/payments/back/notify");
	ck_assert_int_eq(v[2].kind, PATHVAR_ROUTE);
	ck_assert_ptr_eq(v[2].route, &routes[1]);
	ck_assert_str_eq(v[3].path, "/public/prefix/notify");

	/* antomd takes the first few: the slash and the prefix come first. */
	ck_assert_uint_eq(pathvar_list(&c, "/antom/notify", "/antom/notify",
	    PATHVAR_ALL, v, 2), 2);
	ck_assert_str_eq(v[1].path, "/payments/antom/notify");
	ck_assert_uint_eq(pathvar_list(&c, "/antom/notify", "/antom/notify",
	    PATHVAR_ALL, v, 0), 0);
	/* Only the kinds asked for. */
	ck_assert_uint_eq(pathvar_list(&c, "/antom/notify", "/antom/notify",
	    PATHVAR_KIND(PATHVAR_PREFIX) | PATHVAR_KIND(PATHVAR_OWN), v, 8), 1);
	ck_assert_str_eq(v[0].path, "/payments/antom/notify");
	ck_assert_uint_eq(pathvar_list(&c, s_local, p_local,
	    PATHVAR_ALL & ~PATHVAR_KIND(PATHVAR_ROUTE), v, 8), 3);
	ck_assert_str_eq(v[2].path, "/local/notify");
}
END_TEST

/* A route signed elsewhere: its own path is a variant; slashes toggle. */
START_TEST(test_own_and_slash)
{
	struct pathvar v[8];
	struct conf c;
	size_t n, i;

	conf_of(&c);
	n = pathvar_list(&c, s_local, p_local, PATHVAR_ALL, v, 8);
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq(v[0].path, "/public/prefix/notify/");
	ck_assert_str_eq(v[1].path, "/payments/local/notify");
	ck_assert_str_eq(v[2].path, "/local/notify");
	ck_assert_int_eq(v[2].kind, PATHVAR_OWN);
	ck_assert_str_eq(v[3].path, "/antom/notify");
	ck_assert_str_eq(v[4].path, "/payments/back/notify");
	for (i = 0; i < n; i++)
		ck_assert_str_ne(v[i].path, s_local);

	/* A trailing slash is dropped; "/" alone gets a second one. */
	ck_assert_uint_ge(pathvar_list(&c, "/x/", "/x/", PATHVAR_ALL, v, 1), 1);
	ck_assert_str_eq(v[0].path, "/x");
	ck_assert_uint_ge(pathvar_list(&c, "/", "/", PATHVAR_ALL, v, 1), 1);
	ck_assert_str_eq(v[0].path, "//");
}
END_TEST

/* A variant longer than PATHVAR_LEN - 1 is left out, never cut short. */
START_TEST(test_too_long)
{
	static char path[PATHVAR_LEN];
	struct pathvar v[8];
	struct conf c;
	size_t n, i;

	conf_of(&c);
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 5] = '\0';	/* with "/": fits; "/payments": not */
	n = pathvar_list(&c, path, path, PATHVAR_ALL, v, 8);
	for (i = 0; i < n; i++) {
		ck_assert_int_ne(v[i].kind, PATHVAR_PREFIX);
		ck_assert_uint_lt(strlen(v[i].path), PATHVAR_LEN);
	}
	ck_assert_int_eq(v[0].kind, PATHVAR_SLASH);
	ck_assert_uint_eq(strlen(v[0].path), strlen(path) + 1);
}
END_TEST

Suite *
pathvar_suite(void)
{
	Suite *s = suite_create("pathvar");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_own_and_slash);
	tcase_add_test(tc, test_too_long);
	suite_add_tcase(s, tc);
	return s;
}
