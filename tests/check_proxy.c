/*
 * check_proxy.c - proxy.c: the socket peer, and the client's address
 * behind a trusted proxy, against README's promises ("Addresses"):
 * believed only from a trusted peer, from exactly one X-Forwarded-For of
 * at most 1024 bytes, the right-most entry that is not a trusted proxy,
 * at most 32 entries looked at, every entry an IP address, and the
 * address printed by antomd, never copied.
 *
 * Tables run as Check loop tests, so a failure names the row.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "proxy.h"
#include "suites.h"

#define T_NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* trusted_proxy 10.0.0.0/8, 192.0.2.1 and 2001:db8:1::/48. */
static void
t_conf(struct conf *c, struct conf_proxy *p, int trust_unix)
{
	struct in_addr a4;

	memset(c, 0, sizeof(*c));
	memset(p, 0, 3 * sizeof(*p));
	ck_assert_int_eq(inet_pton(AF_INET, "10.0.0.0", &a4), 1);
	p[0].addr[10] = p[0].addr[11] = 0xff;
	memcpy(p[0].addr + 12, &a4, 4);
	p[0].bits = 96 + 8;
	ck_assert_int_eq(inet_pton(AF_INET, "192.0.2.1", &a4), 1);
	p[1].addr[10] = p[1].addr[11] = 0xff;
	memcpy(p[1].addr + 12, &a4, 4);
	p[1].bits = 128;
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8:1::", p[2].addr), 1);
	p[2].bits = 48;
	c->proxies = p;
	c->nproxies = 3;
	c->trust_unix = trust_unix;
}

/* A peer from its text: an IPv4 or IPv6 address, "unix" or "none". */
static void
t_peer(const char *text, struct proxy_peer *peer)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr_un sun;
	struct sockaddr sa;

	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	memset(&sun, 0, sizeof(sun));
	if (strcmp(text, "none") == 0) {
		ck_assert_int_eq(proxy_peer(NULL, peer), PROXY_PEER_UNKNOWN);
	} else if (strcmp(text, "unix") == 0) {
		sun.sun_family = AF_UNIX;
		ck_assert_int_eq(proxy_peer((struct sockaddr *)&sun, peer),
		    PROXY_PEER_UNIX);
	} else if (strcmp(text, "other") == 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_family = AF_APPLETALK;
		ck_assert_int_eq(proxy_peer(&sa, peer), PROXY_PEER_UNKNOWN);
	} else if (inet_pton(AF_INET, text, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		ck_assert_int_eq(proxy_peer((struct sockaddr *)&sin, peer),
		    PROXY_PEER_IP);
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, text, &sin6.sin6_addr), 1);
		sin6.sin6_family = AF_INET6;
		ck_assert_int_eq(proxy_peer((struct sockaddr *)&sin6, peer),
		    PROXY_PEER_IP);
	}
}

/* proxy_peer */

static const struct {
	const char	*peer;
	const char	*text;		/* peer.text; "" when unknown */
	const char	*mapped;	/* the 16 bytes, as IPv6 text */
} t_peer_rows[] = {
	{ "203.0.113.9", "203.0.113.9", "::ffff:203.0.113.9" },
	{ "0.0.0.0", "0.0.0.0", "::ffff:0.0.0.0" },
	{ "2001:db8::1", "2001:db8::1", "2001:db8::1" },
	{ "::ffff:10.1.2.3", "::ffff:10.1.2.3", "::ffff:10.1.2.3" },
	{ "unix", "unix", "::" },
	{ "none", "", "::" },
	{ "other", "", "::" },
};

START_TEST(test_peer_table)
{
	struct proxy_peer peer;
	char text[PROXY_ADDR_TEXT];

	t_peer(t_peer_rows[_i].peer, &peer);
	ck_assert_str_eq(peer.text, t_peer_rows[_i].text);
	ck_assert_ptr_nonnull(inet_ntop(AF_INET6, peer.addr, text,
	    sizeof(text)));
	ck_assert_str_eq(text, t_peer_rows[_i].mapped);
}
END_TEST

/* proxy_client_addr */

static const struct {
	const char	*peer;
	int		 trust_unix;
	const char	*xff;		/* the first header's value */
	unsigned	 nxff;		/* how many headers */
	const char	*client;	/* NULL: none believed */
} t_client_rows[] = {
	/* Only a trusted peer's header is believed. */
	{ "203.0.113.9", 0, "198.51.100.7", 1, NULL },
	{ "10.1.2.3", 0, "198.51.100.7", 1, "198.51.100.7" },
	{ "192.0.2.1", 0, "198.51.100.7", 1, "198.51.100.7" },
	{ "192.0.2.2", 0, "198.51.100.7", 1, NULL },
	{ "11.0.0.1", 0, "198.51.100.7", 1, NULL },
	{ "2001:db8:1:ffff::1", 0, "198.51.100.7", 1, "198.51.100.7" },
	{ "2001:db8:2::1", 0, "198.51.100.7", 1, NULL },
	/* A v4 peer on a dual-stack socket matches its v4 network. */
	{ "::ffff:10.9.9.9", 0, "198.51.100.7", 1, "198.51.100.7" },
	{ "unix", 0, "198.51.100.7", 1, NULL },
	{ "unix", 1, "198.51.100.7", 1, "198.51.100.7" },
	{ "none", 1, "198.51.100.7", 1, NULL },
	{ "other", 1, "198.51.100.7", 1, NULL },
	/* Exactly one header. */
	{ "10.0.0.1", 0, NULL, 0, NULL },
	{ "10.0.0.1", 0, "198.51.100.7", 2, NULL },
	{ "10.0.0.1", 0, NULL, 1, NULL },
	{ "10.0.0.1", 0, "", 1, NULL },
	/* The right-most entry that is not a trusted proxy. */
	{ "10.0.0.1", 0, "198.51.100.7, 10.0.0.2", 1, "198.51.100.7" },
	{ "10.0.0.1", 0, "198.51.100.7,10.0.0.2,192.0.2.1", 1,
	    "198.51.100.7" },
	/* What a client wrote left of its own address proves nothing. */
	{ "10.0.0.1", 0, "6.6.6.6, 198.51.100.7", 1, "198.51.100.7" },
	{ "10.0.0.1", 0, "garbage, 198.51.100.7", 1, "198.51.100.7" },
	{ "10.0.0.1", 0, "6.6.6.6, 198.51.100.7, 10.0.0.2", 1,
	    "198.51.100.7" },
	/* Every entry a trusted proxy: the left-most. */
	{ "10.0.0.1", 0, "10.0.0.5, 10.0.0.6", 1, "10.0.0.5" },
	/* An entry that is not an address ends the search with nothing. */
	{ "10.0.0.1", 0, "unknown", 1, NULL },
	{ "10.0.0.1", 0, "198.51.100.7, unknown", 1, NULL },
	{ "10.0.0.1", 0, "198.51.100.7:443", 1, NULL },
	{ "10.0.0.1", 0, "[2001:db8::7]", 1, NULL },
	{ "10.0.0.1", 0, "198.51.100.7,", 1, NULL },
	{ "10.0.0.1", 0, ",", 1, NULL },
	{ "10.0.0.1", 0, "198.51.100.7 10.0.0.2", 1, NULL },
	{ "10.0.0.1", 0, "198.51.100.7\n", 1, NULL },
	{ "10.0.0.1", 0, "1.2.3.4.5", 1, NULL },
	/* Blanks and tabs around entries are not part of them. */
	{ "10.0.0.1", 0, " \t198.51.100.7 \t", 1, "198.51.100.7" },
	{ "10.0.0.1", 0, "198.51.100.7 ,\t10.0.0.2", 1, "198.51.100.7" },
	/* Printed by antomd: canonical, IPv4-mapped as IPv4. */
	{ "10.0.0.1", 0, "2001:DB8:0:0::7", 1, "2001:db8::7" },
	{ "10.0.0.1", 0, "::ffff:198.51.100.7", 1, "198.51.100.7" },
	{ "10.0.0.1", 0, "2001:db8:1::9, 10.0.0.2", 1, "2001:db8:1::9" },
	{ "10.0.0.1", 0, "198.051.100.007", 1, NULL },
};

START_TEST(test_client_table)
{
	struct conf c;
	struct conf_proxy p[3];
	struct proxy_peer peer;
	char out[PROXY_ADDR_TEXT];
	int rc;

	t_conf(&c, p, t_client_rows[_i].trust_unix);
	t_peer(t_client_rows[_i].peer, &peer);
	memset(out, 0, sizeof(out));
	rc = proxy_client_addr(&c, &peer, t_client_rows[_i].xff,
	    t_client_rows[_i].nxff, out, sizeof(out));
	if (t_client_rows[_i].client == NULL) {
		ck_assert_msg(rc == -1, "row %d: believed '%s'", _i, out);
		return;
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(out, t_client_rows[_i].client);
}
END_TEST

/* A header of n bytes: blanks, then the client (as many as fit). */
static char *
t_xff_of_len(size_t n, const char *client)
{
	char *s = malloc(n + 1);
	size_t cl = strlen(client);

	ck_assert_ptr_nonnull(s);
	ck_assert_uint_ge(n, cl);
	memset(s, ' ', n - cl);
	memcpy(s + n - cl, client, cl);
	s[n] = '\0';
	return s;
}

START_TEST(test_header_length_bound)
{
	struct conf c;
	struct conf_proxy p[3];
	struct proxy_peer peer;
	char out[PROXY_ADDR_TEXT], *x;

	t_conf(&c, p, 0);
	t_peer("10.0.0.1", &peer);
	x = t_xff_of_len(PROXY_XFF_MAX, "198.51.100.7");
	ck_assert_int_eq(proxy_client_addr(&c, &peer, x, 1, out, sizeof(out)),
	    0);
	ck_assert_str_eq(out, "198.51.100.7");
	free(x);
	x = t_xff_of_len(PROXY_XFF_MAX + 1, "198.51.100.7");
	ck_assert_int_eq(proxy_client_addr(&c, &peer, x, 1, out, sizeof(out)),
	    -1);
	free(x);
}
END_TEST

/*
 * n entries: the client left-most, then n - 1 trusted proxies.  Found
 * when it is among the right-most PROXY_XFF_ENTRIES, else nothing.
 */
START_TEST(test_entry_bound)
{
	struct conf c;
	struct conf_proxy p[3];
	struct proxy_peer peer;
	char out[PROXY_ADDR_TEXT], xff[1024];
	size_t len, i, n = (size_t)_i;
	int rc;

	t_conf(&c, p, 0);
	t_peer("10.0.0.1", &peer);
	len = (size_t)snprintf(xff, sizeof(xff), "198.51.100.7");
	for (i = 1; i < n; i++)
		len += (size_t)snprintf(xff + len, sizeof(xff) - len,
		    ",10.0.0.%zu", i);
	ck_assert_uint_lt(len, sizeof(xff));
	rc = proxy_client_addr(&c, &peer, xff, 1, out, sizeof(out));
	if (n <= PROXY_XFF_ENTRIES) {
		ck_assert_int_eq(rc, 0);
		ck_assert_str_eq(out, "198.51.100.7");
	} else
		ck_assert_int_eq(rc, -1);
}
END_TEST

/* Past PROXY_XFF_ENTRIES trusted entries, even all-trusted finds none. */
START_TEST(test_entry_bound_all_trusted)
{
	struct conf c;
	struct conf_proxy p[3];
	struct proxy_peer peer;
	char out[PROXY_ADDR_TEXT], xff[1024];
	size_t len = 0, i;

	t_conf(&c, p, 0);
	t_peer("10.0.0.1", &peer);
	for (i = 0; i < PROXY_XFF_ENTRIES; i++)
		len += (size_t)snprintf(xff + len, sizeof(xff) - len,
		    "%s10.0.1.%zu", i > 0 ? "," : "", i);
	ck_assert_int_eq(proxy_client_addr(&c, &peer, xff, 1, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "10.0.1.0");
	snprintf(xff + len, sizeof(xff) - len, ",10.0.1.99");
	ck_assert_int_eq(proxy_client_addr(&c, &peer, xff, 1, out,
	    sizeof(out)), -1);
}
END_TEST

/* One case: every test here is a pure function call, milliseconds each. */
Suite *
proxy_suite(void)
{
	Suite *s = suite_create("proxy");
	TCase *tc = tcase_create("proxy");

	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, test_peer_table, 0, (int)T_NELEM(t_peer_rows));
	tcase_add_loop_test(tc, test_client_table, 0,
	    (int)T_NELEM(t_client_rows));
	tcase_add_test(tc, test_header_length_bound);
	tcase_add_loop_test(tc, test_entry_bound, 1, PROXY_XFF_ENTRIES + 3);
	tcase_add_test(tc, test_entry_bound_all_trusted);
	suite_add_tcase(s, tc);
	return s;
}
