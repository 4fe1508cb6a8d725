/*
 * check_target.c - target_split(): the request target to the path antomd
 * routes, shared by the daemon and antomctl explain (target.h).  Origin
 * form, absolute form with http and https in any case, with a port, an
 * IPv6 literal and a query; everything else refused: authority form,
 * asterisk form, other schemes, an empty or userinfo authority, a
 * fragment, bytes that are not visible ASCII.
 */
#include <stdio.h>
#include <string.h>

#include "suites.h"
#include "target.h"

static const struct {
	const char	*target;
	int		 ok;
	const char	*path;		/* when ok */
	const char	*query;		/* NULL: none */
	int		 absolute;
} target_rows[] = {
	/* Origin form, as is. */
	{ "/antom/notify", 1, "/antom/notify", NULL, 0 },
	{ "/", 1, "/", NULL, 0 },
	{ "/antom/notify?", 1, "/antom/notify", "", 0 },
	{ "/antom/notify?a=1&b=2", 1, "/antom/notify", "a=1&b=2", 0 },
	{ "/antom/notify?a=1?b", 1, "/antom/notify", "a=1?b", 0 },
	{ "/api/back?allPayTn=2019", 1, "/api/back", "allPayTn=2019", 0 },
	{ "//antom/notify", 1, "//antom/notify", NULL, 0 },
	{ "/antom%2Fnotify", 1, "/antom%2Fnotify", NULL, 0 },
	/* Absolute form: routed by its path (RFC 9112 section 3.2.2). */
	{ "http://shop.example/antom/notify", 1, "/antom/notify", NULL, 1 },
	{ "https://shop.example/antom/notify", 1, "/antom/notify", NULL, 1 },
	{ "HTTP://shop.example/antom/notify", 1, "/antom/notify", NULL, 1 },
	{ "HttpS://shop.example/antom/notify", 1, "/antom/notify", NULL, 1 },
	{ "http://127.0.0.1:8080/antom/notify", 1, "/antom/notify", NULL, 1 },
	{ "https://shop.example:443/antom/notify?order=1", 1, "/antom/notify",
	    "order=1", 1 },
	{ "http://[::1]:8080/antom/notify", 1, "/antom/notify", NULL, 1 },
	{ "http://shop.example", 1, "/", NULL, 1 },
	{ "https://shop.example:443", 1, "/", NULL, 1 },
	{ "http://shop.example?x=1", 1, "/", "x=1", 1 },
	{ "http://shop.example/", 1, "/", NULL, 1 },
	{ "http://h//antom/notify", 1, "//antom/notify", NULL, 1 },
	/* Refused. */
	{ "", 0, NULL, NULL, 0 },
	{ "*", 0, NULL, NULL, 0 },
	{ "shop.example:443", 0, NULL, NULL, 0 },
	{ "antom/notify", 0, NULL, NULL, 0 },
	{ "http:/shop.example/antom/notify", 0, NULL, NULL, 0 },
	{ "http://", 0, NULL, NULL, 0 },
	{ "https://", 0, NULL, NULL, 0 },
	{ "http:///antom/notify", 0, NULL, NULL, 0 },
	{ "https://?x", 0, NULL, NULL, 0 },
	{ "http://user@shop.example/antom/notify", 0, NULL, NULL, 0 },
	{ "http://user:pw@shop.example/antom/notify", 0, NULL, NULL, 0 },
	{ "ftp://shop.example/antom/notify", 0, NULL, NULL, 0 },
	{ "httpx://shop.example/antom/notify", 0, NULL, NULL, 0 },
	{ "ws://shop.example/antom/notify", 0, NULL, NULL, 0 },
	{ "/antom/notify#frag", 0, NULL, NULL, 0 },
	{ "/antom/notify?a#b", 0, NULL, NULL, 0 },
	{ "http://shop.example/antom/notify#x", 0, NULL, NULL, 0 },
	{ "/antom/ notify", 0, NULL, NULL, 0 },
	{ "/antom/notify\x1b[31m", 0, NULL, NULL, 0 },
	{ "/antom/notify\x7f", 0, NULL, NULL, 0 },
	{ "/caf\xc3\xa9", 0, NULL, NULL, 0 },
	{ "http://sh\top.example/antom/notify", 0, NULL, NULL, 0 },
};

#define NROWS	((int)(sizeof(target_rows) / sizeof(target_rows[0])))

START_TEST(test_target_rows)
{
	const char *t = target_rows[_i].target;
	struct target out;
	int rc;

	rc = target_split(t, strlen(t), &out);
	ck_assert_msg(rc == (target_rows[_i].ok ? 0 : -1), "\"%s\": %d", t,
	    rc);
	if (!target_rows[_i].ok) {
		ck_assert_ptr_null(out.path);
		ck_assert_ptr_null(out.query);
		return;
	}
	ck_assert_msg(out.pathlen == strlen(target_rows[_i].path) &&
	    memcmp(out.path, target_rows[_i].path, out.pathlen) == 0,
	    "\"%s\": path \"%.*s\", want \"%s\"", t, (int)out.pathlen,
	    out.path, target_rows[_i].path);
	if (target_rows[_i].query == NULL)
		ck_assert_msg(out.query == NULL, "\"%s\": query \"%.*s\"", t,
		    (int)out.querylen, out.query);
	else
		ck_assert_msg(out.query != NULL && out.querylen ==
		    strlen(target_rows[_i].query) && memcmp(out.query,
		    target_rows[_i].query, out.querylen) == 0,
		    "\"%s\": query \"%.*s\", want \"%s\"", t,
		    out.query != NULL ? (int)out.querylen : 6,
		    out.query != NULL ? out.query : "(none)",
		    target_rows[_i].query);
	ck_assert_int_eq(out.absolute, target_rows[_i].absolute);
}
END_TEST

/* Only n bytes are read: no NUL needed, none past the end looked at. */
START_TEST(test_target_length)
{
	static const char buf[] = "/antom/notify?x=1#garbage";
	char exact[13];
	struct target out;

	ck_assert_int_eq(target_split(buf, 13, &out), 0);
	ck_assert_uint_eq(out.pathlen, 13);
	ck_assert_ptr_null(out.query);
	ck_assert_int_eq(target_split(buf, 17, &out), 0);
	ck_assert_uint_eq(out.querylen, 3);
	ck_assert_int_eq(memcmp(out.query, "x=1", 3), 0);
	memcpy(exact, "http://h/a/b", 12);
	exact[12] = '#';	/* just past n */
	ck_assert_int_eq(target_split(exact, 12, &out), 0);
	ck_assert_uint_eq(out.pathlen, 4);
	ck_assert_int_eq(memcmp(out.path, "/a/b", 4), 0);
	/* A NUL inside n is not visible ASCII. */
	ck_assert_int_eq(target_split("/a\0b", 4, &out), -1);
	ck_assert_int_eq(target_split("http://", 7, &out), -1);
	ck_assert_int_eq(target_split("http://h", 8, &out), 0);
	ck_assert_uint_eq(out.pathlen, 1);
}
END_TEST

Suite *
target_suite(void)
{
	Suite *s = suite_create("target");
	TCase *tc = tcase_create("split");

	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, test_target_rows, 0, NROWS);
	tcase_add_test(tc, test_target_length);
	suite_add_tcase(s, tc);
	return s;
}
