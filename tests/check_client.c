/*
 * check_client.c - the HTTP client against a test-owned server.
 *
 * Each test that needs a peer starts a one-shot server thread on
 * 127.0.0.1 port 0 (no port races) that reads one request and then
 * answers with canned bytes, dribbles them, floods, or stays silent.
 * Runs in Check's fork mode, so the threads die with the test.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "util.h"
#include "suites.h"

#define ACK "{\"result\":{\"resultCode\":\"SUCCESS\",\"resultStatus\":\"S\"," \
	    "\"resultMessage\":\"success\"}}"

enum tsrv_mode {
	TSRV_REPLY,	/* send the canned bytes at once, then close */
	TSRV_DRIBBLE,	/* send them a few bytes at a time */
	TSRV_SILENT,	/* read the request, never answer */
	TSRV_FLOOD,	/* resplen bytes in all, the body close-delimited */
	TSRV_SLAM	/* FIN at once, then RST: the client sees EPIPE */
};

struct tsrv {
	int		 lfd;
	char		 port[16];
	pthread_t	 thr;
	enum tsrv_mode	 mode;
	const char	*resp;
	size_t		 resplen;
	char		 req[16384];	/* what the client sent */
	size_t		 reqlen;
};

/* Read one request (head, then Content-Length bytes) or give up after 5 s. */
static void
tsrv_read_request(struct tsrv *s, int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	const char *hend, *cl;
	size_t want = SIZE_MAX;
	ssize_t n;

	while (s->reqlen < sizeof(s->req) - 1 && s->reqlen < want) {
		if (poll(&pfd, 1, 5000) <= 0)
			return;
		n = recv(fd, s->req + s->reqlen, sizeof(s->req) - 1 - s->reqlen,
		    0);
		if (n <= 0)
			return;
		s->reqlen += (size_t)n;
		s->req[s->reqlen] = '\0';
		hend = strstr(s->req, "\r\n\r\n");
		if (hend != NULL && want == SIZE_MAX) {
			cl = strcasestr(s->req, "\r\nContent-Length: ");
			want = (size_t)(hend + 4 - s->req);
			if (cl != NULL && cl < hend)
				want += strtoul(cl + 18, NULL, 10);
		}
	}
}

static void
tsrv_send(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n <= 0)
			return;	/* the client gave up: that is what we test */
		p += n;
		len -= (size_t)n;
	}
}

static void *
tsrv_main(void *arg)
{
	struct tsrv *s = arg;
	struct pollfd pfd = { .fd = s->lfd, .events = POLLIN };
	char *flood, tmp[256];
	size_t i, step;
	int fd, one = 1;

	if (poll(&pfd, 1, 5000) <= 0)
		return NULL;
	fd = accept(s->lfd, NULL, NULL);
	if (fd == -1)
		return NULL;
	if (s->mode != TSRV_SLAM)
		tsrv_read_request(s, fd);
	switch (s->mode) {
	case TSRV_SLAM:
		/*
		 * FIN first puts the client in CLOSE_WAIT; the close() with
		 * unread data then sends RST, which Linux turns into EPIPE
		 * (and SIGPIPE) on the client's next send.
		 */
		shutdown(fd, SHUT_WR);
		usleep(100000);
		break;
	case TSRV_REPLY:
		tsrv_send(fd, s->resp, s->resplen);
		break;
	case TSRV_DRIBBLE:
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		for (i = 0; i < s->resplen; i += step) {
			step = s->resplen - i < 3 ? s->resplen - i : 3;
			tsrv_send(fd, s->resp + i, step);
			usleep(2000);
		}
		break;
	case TSRV_SILENT:
		/* Until the client hangs up (its timeout) or 10 s pass. */
		pfd.fd = fd;
		while (poll(&pfd, 1, 10000) > 0 &&
		    recv(fd, tmp, sizeof(tmp), 0) > 0)
			;
		break;
	case TSRV_FLOOD:
		tsrv_send(fd, "HTTP/1.1 200 OK\r\n\r\n", 19);
		flood = malloc(s->resplen - 19);
		if (flood != NULL) {
			memset(flood, 'x', s->resplen - 19);
			tsrv_send(fd, flood, s->resplen - 19);
			free(flood);
		}
		break;
	}
	close(fd);
	return NULL;
}

/* Listen on 127.0.0.1 port 0; the test reads s->port. */
static int
tsrv_listen(char *port, size_t portcap, int backlog)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, backlog), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	snprintf(port, portcap, "%u", (unsigned)ntohs(sin.sin_port));
	return fd;
}

static void
tsrv_start(struct tsrv *s, enum tsrv_mode mode, const char *resp,
    size_t resplen)
{
	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->resp = resp;
	s->resplen = resplen;
	s->lfd = tsrv_listen(s->port, sizeof(s->port), 8);
	ck_assert_int_eq(pthread_create(&s->thr, NULL, tsrv_main, s), 0);
}

static void
tsrv_stop(struct tsrv *s)
{
	pthread_join(s->thr, NULL);
	close(s->lfd);
}

static const char raw_req[] = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";

/* Run one canned exchange; returns client_raw()'s result. */
static int
exchange(enum tsrv_mode mode, const char *canned, size_t len,
    struct client_response *resp, char *err, size_t errlen)
{
	struct tsrv s;
	int rc;

	tsrv_start(&s, mode, canned, len);
	rc = client_raw("127.0.0.1", s.port, raw_req, sizeof(raw_req) - 1,
	    5000, resp, err, errlen);
	tsrv_stop(&s);
	return rc;
}

/* A port nobody listens on: bind one, then close it. */
static void
dead_port(char *port, size_t cap)
{
	close(tsrv_listen(port, cap, 1));
}

START_TEST(test_url_table)
{
	static const struct {
		const char	*url;
		int		 ok;
		const char	*host, *port, *path;
	} t[] = {
		{ "http://127.0.0.1:8080/antom/notify", 1, "127.0.0.1", "8080",
		    "/antom/notify" },
		{ "http://localhost/x", 1, "localhost", "80", "/x" },
		{ "HTTP://Example.COM:1/", 1, "Example.COM", "1", "/" },
		{ "http://example.com", 1, "example.com", "80", "/" },
		{ "http://h:65535", 1, "h", "65535", "/" },
		{ "http://[::1]:9000/p", 1, "::1", "9000", "/p" },
		{ "http://[::1]/p", 1, "::1", "80", "/p" },
		{ "http://[2001:db8::1]", 1, "2001:db8::1", "80", "/" },
		{ "http://h:81/p?q=1&r=%2F", 1, "h", "81", "/p?q=1&r=%2F" },
		{ "http://h/?q", 1, "h", "80", "/?q" },
		{ "http://my_host.local/a/b/", 1, "my_host.local", "80",
		    "/a/b/" },
		{ "https://h/p", 0, NULL, NULL, NULL },
		{ "ftp://h/p", 0, NULL, NULL, NULL },
		{ "h/p", 0, NULL, NULL, NULL },
		{ "", 0, NULL, NULL, NULL },
		{ "http://", 0, NULL, NULL, NULL },
		{ "http:///p", 0, NULL, NULL, NULL },
		{ "http://:80/p", 0, NULL, NULL, NULL },
		{ "http://h:/p", 0, NULL, NULL, NULL },
		{ "http://h:0/p", 0, NULL, NULL, NULL },
		{ "http://h:65536/p", 0, NULL, NULL, NULL },
		{ "http://h:8x/p", 0, NULL, NULL, NULL },
		{ "http://h:0008080/p", 0, NULL, NULL, NULL },
		{ "http://h?q=1", 0, NULL, NULL, NULL },
		{ "http://h/p#frag", 0, NULL, NULL, NULL },
		{ "http://user@h/p", 0, NULL, NULL, NULL },
		{ "http://h/p q", 0, NULL, NULL, NULL },
		{ "http://h/p\r\nX-Evil: 1", 0, NULL, NULL, NULL },
		{ "http://[::1/p", 0, NULL, NULL, NULL },
		{ "http://[::1]x/p", 0, NULL, NULL, NULL },
		{ "http://[]/p", 0, NULL, NULL, NULL },
		{ "http://[127.0.0.1]/p", 0, NULL, NULL, NULL },
		{ "http://h%41/p", 0, NULL, NULL, NULL },
	};
	struct client_url u;
	char err[256];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&u, 0, sizeof(u));
		err[0] = '\0';
		rc = client_url_parse(t[i].url, &u, err, sizeof(err));
		ck_assert_msg(rc == (t[i].ok ? 0 : -1), "%s: rc %d",
		    t[i].url, rc);
		if (!t[i].ok) {
			ck_assert_msg(err[0] != '\0', "%s: no reason",
			    t[i].url);
			continue;
		}
		ck_assert_str_eq(u.host, t[i].host);
		ck_assert_str_eq(u.port, t[i].port);
		ck_assert_str_eq(u.path, t[i].path);
		/* The authority, as written, for the Host header. */
		ck_assert_ptr_eq(u.auth, t[i].url + 7);
		ck_assert_uint_eq(u.authlen, strcspn(t[i].url + 7, "/?"));
	}
}
END_TEST

/* The host is copied into a fixed buffer: one byte too long is refused. */
START_TEST(test_url_small_buffers)
{
	struct client_url u;
	char url[CLIENT_HOST_MAX + 16];

	snprintf(url, sizeof(url), "http://%0*d/", CLIENT_HOST_MAX - 1, 0);
	ck_assert_int_eq(client_url_parse(url, &u, NULL, 0), 0);
	ck_assert_uint_eq(strlen(u.host), CLIENT_HOST_MAX - 1);
	snprintf(url, sizeof(url), "http://%0*d/", CLIENT_HOST_MAX, 0);
	ck_assert_int_eq(client_url_parse(url, &u, NULL, 0), -1);
	ck_assert_int_eq(client_url_parse("http://a:12/", &u, NULL, 0), 0);
	ck_assert_str_eq(u.port, "12");
}
END_TEST

START_TEST(test_bad_scheme_err)
{
	struct client_response r;
	char err[256] = "";

	ck_assert_int_eq(client_post("https://127.0.0.1/x", NULL, 0, "{}", 2,
	    1000, &r, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "https") != NULL, "err: %s", err);
	ck_assert_ptr_null(r.head);
	err[0] = '\0';
	ck_assert_int_eq(client_post("ftp://h/x", NULL, 0, "{}", 2, 1000, &r,
	    err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "http://") != NULL, "err: %s", err);
	err[0] = '\0';
	ck_assert_int_eq(client_post("http://h:99999/", NULL, 0, "{}", 2, 1000,
	    &r, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "port") != NULL, "err: %s", err);
	/* A NULL err buffer must be fine too. */
	ck_assert_int_eq(client_post("https://h/", NULL, 0, "{}", 2, 1000, &r,
	    NULL, 0), -1);
}
END_TEST

START_TEST(test_post_request_bytes)
{
	static const char canned[] = "HTTP/1.1 200 OK\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: 80\r\n\r\n" ACK;
	const struct client_header h[] = {
		{ "client-id", "SANDBOX_1" },
		{ "request-time", "2019-07-12T12:08:56.253+05:30" },
		{ "signature",
		    "algorithm=RSA256,keyVersion=1,signature=a%2Bb" },
	};
	struct client_response r;
	struct tsrv s;
	char url[128], want[1024], err[256] = "";

	tsrv_start(&s, TSRV_REPLY, canned, sizeof(canned) - 1);
	snprintf(url, sizeof(url), "http://127.0.0.1:%s/antom/notify?x=1",
	    s.port);
	ck_assert_msg(client_post(url, h, 3, "{\"a\":1}", 7, 5000, &r, err,
	    sizeof(err)) == 0, "err: %s", err);
	tsrv_stop(&s);
	snprintf(want, sizeof(want), "POST /antom/notify?x=1 HTTP/1.1\r\n"
	    "Host: 127.0.0.1:%s\r\nContent-Type: application/json\r\n"
	    "Content-Length: 7\r\nConnection: close\r\n"
	    "client-id: SANDBOX_1\r\n"
	    "request-time: 2019-07-12T12:08:56.253+05:30\r\n"
	    "signature: algorithm=RSA256,keyVersion=1,signature=a%%2Bb\r\n"
	    "\r\n{\"a\":1}", s.port);
	ck_assert_str_eq(s.req, want);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.head, "HTTP/1.1 200 OK\r\n"
	    "Content-Type: application/json\r\nContent-Length: 80");
	ck_assert_uint_eq(r.bodylen, 80);
	ck_assert_str_eq(r.body, ACK);
	client_response_free(&r);
	ck_assert_ptr_null(r.head);
	ck_assert_ptr_null(r.body);
	client_response_free(&r);	/* twice is harmless */
}
END_TEST

START_TEST(test_post_empty_body_default_path)
{
	static const char canned[] = "HTTP/1.1 400 Bad Request\r\n"
	    "Content-Length: 3\r\n\r\nbad";
	struct client_response r;
	struct tsrv s;
	char url[64], want[256], err[256] = "";

	tsrv_start(&s, TSRV_REPLY, canned, sizeof(canned) - 1);
	snprintf(url, sizeof(url), "http://127.0.0.1:%s", s.port);
	ck_assert_msg(client_post(url, NULL, 0, NULL, 0, 5000, &r, err,
	    sizeof(err)) == 0, "err: %s", err);
	tsrv_stop(&s);
	snprintf(want, sizeof(want), "POST / HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n"
	    "Content-Type: application/json\r\nContent-Length: 0\r\n"
	    "Connection: close\r\n\r\n", s.port);
	ck_assert_str_eq(s.req, want);
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(r.body, "bad");
	client_response_free(&r);
}
END_TEST

START_TEST(test_post_header_injection)
{
	const struct client_header bad_value[] = { { "x", "a\r\nEvil: 1" } };
	const struct client_header bad_name[] = { { "x y", "1" } };
	const struct client_header empty_name[] = { { "", "1" } };
	struct client_response r;
	char port[16], url[64], err[256];

	dead_port(port, sizeof(port));
	snprintf(url, sizeof(url), "http://127.0.0.1:%s/", port);
	err[0] = '\0';
	ck_assert_int_eq(client_post(url, bad_value, 1, "{}", 2, 1000, &r,
	    err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "control character") != NULL, "err: %s",
	    err);
	err[0] = '\0';
	ck_assert_int_eq(client_post(url, bad_name, 1, "{}", 2, 1000, &r, err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "header name") != NULL, "err: %s", err);
	ck_assert_int_eq(client_post(url, empty_name, 1, "{}", 2, 1000, &r,
	    err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_content_length_binary)
{
	static const char canned[] = "HTTP/1.1 200 OK\r\n"
	    "CONTENT-LENGTH:  5 \r\n"
	    "\r\na\0b\0cEXTRA";
	struct client_response r;
	char err[256] = "";

	ck_assert_msg(exchange(TSRV_REPLY, canned, sizeof(canned) - 1, &r,
	    err, sizeof(err)) == 0, "err: %s", err);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.bodylen, 5);
	ck_assert_mem_eq(r.body, "a\0b\0c", 6);
	client_response_free(&r);
}
END_TEST

static const char chunked[] = "HTTP/1.1 200 OK\r\n"
    "Transfer-Encoding: chunked\r\n\r\n"
    "5;name=value\r\nhello\r\n"
    "6 \r\n world\r\n"
    "0000A\r\n0123456789\r\n"
    "0\r\nX-Trailer: yes\r\n\r\n";

START_TEST(test_chunked)
{
	struct client_response r;
	char err[256] = "";

	ck_assert_msg(exchange(TSRV_REPLY, chunked, sizeof(chunked) - 1, &r,
	    err, sizeof(err)) == 0, "err: %s", err);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "hello world0123456789");
	ck_assert_uint_eq(r.bodylen, 21);
	client_response_free(&r);
}
END_TEST

START_TEST(test_chunked_dribbled)
{
	struct client_response r;
	char err[256] = "";

	/* Three bytes per segment: every parser state meets a split. */
	ck_assert_msg(exchange(TSRV_DRIBBLE, chunked, sizeof(chunked) - 1, &r,
	    err, sizeof(err)) == 0, "err: %s", err);
	ck_assert_str_eq(r.body, "hello world0123456789");
	client_response_free(&r);
}
END_TEST

START_TEST(test_chunked_beats_length)
{
	static const char canned[] = "HTTP/1.1 200 OK\r\n"
	    "Content-Length: 100\r\n"
	    "Transfer-Encoding: gzip, Chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
	struct client_response r;
	char err[256] = "";

	ck_assert_msg(exchange(TSRV_REPLY, canned, sizeof(canned) - 1, &r,
	    err, sizeof(err)) == 0, "err: %s", err);
	ck_assert_str_eq(r.body, "ok");
	client_response_free(&r);
}
END_TEST

START_TEST(test_close_delimited)
{
	static const char canned[] = "HTTP/1.0 503 Service Unavailable\r\n"
	    "Content-Type: text/plain\r\n\r\nbusy\nnow";
	struct client_response r;
	char err[256] = "";

	ck_assert_msg(exchange(TSRV_DRIBBLE, canned, sizeof(canned) - 1, &r,
	    err, sizeof(err)) == 0, "err: %s", err);
	ck_assert_int_eq(r.status, 503);
	ck_assert_str_eq(r.body, "busy\nnow");
	ck_assert_str_eq(r.head, "HTTP/1.0 503 Service Unavailable\r\n"
	    "Content-Type: text/plain");
	client_response_free(&r);
}
END_TEST

START_TEST(test_interim_and_no_body)
{
	static const char interim[] = "HTTP/1.1 100 Continue\r\n\r\n"
	    "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
	static const char nobody[] = "HTTP/1.1 204 No Content\r\n"
	    "Content-Length: 5\r\n\r\n";
	struct client_response r;
	char err[256] = "";

	ck_assert_msg(exchange(TSRV_REPLY, interim, sizeof(interim) - 1, &r,
	    err, sizeof(err)) == 0, "err: %s", err);
	ck_assert_int_eq(r.status, 201);
	ck_assert_str_eq(r.head, "HTTP/1.1 201 Created\r\nContent-Length: 2");
	ck_assert_str_eq(r.body, "ok");
	client_response_free(&r);
	ck_assert_msg(exchange(TSRV_REPLY, nobody, sizeof(nobody) - 1, &r,
	    err, sizeof(err)) == 0, "err: %s", err);
	ck_assert_int_eq(r.status, 204);
	ck_assert_uint_eq(r.bodylen, 0);
	ck_assert_str_eq(r.body, "");
	client_response_free(&r);
}
END_TEST

START_TEST(test_bad_responses)
{
	static const struct {
		const char	*resp;
		const char	*why;	/* substring of err */
	} t[] = {
		{ "", "without a response" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", "head" },
		{ "garbage\r\n\r\n", "status line" },
		{ "HTTP/2 200 OK\r\n\r\n", "status line" },
		{ "HTTP/1.1 2x0 OK\r\n\r\n", "status line" },
		{ "HTTP/1.1 200OK\r\n\r\n", "status line" },
		{ "HTTP/1.1 099 Low\r\n\r\n", "status" },
		{ "HTTP/1.1 101 Switching\r\n\r\n", "101" },
		{ "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", "header" },
		{ "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", "CR" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
		    "closed after 5 of 10" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		    "Content-Length" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
		    "Content-Length" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
		    "Content-Length" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999"
		    "\r\n\r\n", "Content-Length" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
		    "Content-Length: 2\r\n\r\nab", "Content-Length" },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "zz\r\n", "chunk size" },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "\r\n", "chunk size" },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "5\r\nhelloXX0\r\n\r\n", "CRLF" },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "5\r\nhel", "chunked" },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "0\r\nTrailer: x\r\n", "chunked" },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "FFFFFFFFFFFFFFFFFFFF\r\n", "limit" },
	};
	struct client_response r;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		err[0] = '\0';
		memset(&r, 0x5a, sizeof(r));
		ck_assert_msg(exchange(TSRV_REPLY, t[i].resp,
		    strlen(t[i].resp), &r, err, sizeof(err)) == -1,
		    "case %zu accepted", i);
		ck_assert_msg(strstr(err, t[i].why) != NULL,
		    "case %zu: err \"%s\" lacks \"%s\"", i, err, t[i].why);
		ck_assert_ptr_null(r.head);
		ck_assert_ptr_null(r.body);
	}
}
END_TEST

START_TEST(test_chunk_line_too_long)
{
	char canned[4096];
	struct client_response r;
	char err[256] = "";
	int n;

	n = snprintf(canned, sizeof(canned), "HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n1;%02000d", 0);
	ck_assert_int_eq(exchange(TSRV_REPLY, canned, (size_t)n, &r, err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "too long") != NULL, "err: %s", err);
}
END_TEST

START_TEST(test_response_at_limit)
{
	struct client_response r;
	struct tsrv s;
	char err[256] = "";

	/* Exactly CLIENT_RESPONSE_MAX raw bytes, close-delimited: fine. */
	tsrv_start(&s, TSRV_FLOOD, NULL, CLIENT_RESPONSE_MAX);
	ck_assert_msg(client_raw("127.0.0.1", s.port, raw_req,
	    sizeof(raw_req) - 1, 10000, &r, err, sizeof(err)) == 0, "err: %s",
	    err);
	tsrv_stop(&s);
	ck_assert_uint_eq(r.bodylen, CLIENT_RESPONSE_MAX - 19);
	ck_assert_int_eq(r.body[0], 'x');
	ck_assert_int_eq(r.body[r.bodylen], '\0');
	client_response_free(&r);
}
END_TEST

START_TEST(test_response_over_limit)
{
	struct client_response r;
	struct tsrv s;
	char err[256] = "";
	uint64_t t0;

	/* One byte more: refused, not truncated, and no hang. */
	tsrv_start(&s, TSRV_FLOOD, NULL, (size_t)CLIENT_RESPONSE_MAX + 1);
	t0 = util_mono_us();
	ck_assert_int_eq(client_raw("127.0.0.1", s.port, raw_req,
	    sizeof(raw_req) - 1, 10000, &r, err, sizeof(err)), -1);
	ck_assert_uint_lt(util_mono_us() - t0, 5000000);
	tsrv_stop(&s);
	ck_assert_msg(strstr(err, "exceeds") != NULL, "err: %s", err);
	ck_assert_ptr_null(r.body);
}
END_TEST

START_TEST(test_declared_over_limit)
{
	static const char canned[] = "HTTP/1.1 200 OK\r\n"
	    "Content-Length: 1048577\r\n\r\n";
	struct client_response r;
	char err[256] = "";

	/* Refused on the header alone, before any body is read. */
	ck_assert_int_eq(exchange(TSRV_REPLY, canned, sizeof(canned) - 1, &r,
	    err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "exceeds") != NULL, "err: %s", err);
}
END_TEST

START_TEST(test_silent_server_timeout)
{
	struct client_response r;
	struct tsrv s;
	char url[64], err[256] = "";
	uint64_t t0, ms;

	tsrv_start(&s, TSRV_SILENT, NULL, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%s/antom/notify", s.port);
	t0 = util_mono_us();
	ck_assert_int_eq(client_post(url, NULL, 0, "{}", 2, 300, &r, err,
	    sizeof(err)), -1);
	ms = (util_mono_us() - t0) / 1000;
	tsrv_stop(&s);
	ck_assert_msg(strstr(err, "timed out") != NULL, "err: %s", err);
	ck_assert_uint_ge(ms, 290);
	ck_assert_uint_lt(ms, 600);
	ck_assert_ptr_null(r.head);
}
END_TEST

START_TEST(test_connect_timeout)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	struct pollfd pfd;
	char port[16], err[256] = "";
	int lfd, fds[16], n, hung = 0, fd;
	uint64_t t0, ms;

	/*
	 * Linux drops SYNs once a listener's accept queue is full, so a
	 * never-accepting listener with backlog 0 makes connect() hang.
	 */
	lfd = tsrv_listen(port, sizeof(port), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sin, &sl), 0);
	for (n = 0; n < 16 && !hung; n++) {
		fds[n] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		ck_assert_int_ge(fds[n], 0);
		connect(fds[n], (struct sockaddr *)&sin, sizeof(sin));
		pfd.fd = fds[n];
		pfd.events = POLLOUT;
		hung = poll(&pfd, 1, 100) == 0;
	}
	ck_assert_msg(hung, "could not fill the accept queue");
	t0 = util_mono_us();
	fd = client_connect("127.0.0.1", port, 300, err, sizeof(err));
	ms = (util_mono_us() - t0) / 1000;
	ck_assert_int_eq(fd, -1);
	ck_assert_msg(strstr(err, "timed out") != NULL, "err: %s", err);
	ck_assert_uint_ge(ms, 290);
	ck_assert_uint_lt(ms, 600);
	while (n-- > 0)
		close(fds[n]);
	close(lfd);
}
END_TEST

START_TEST(test_peer_closes_while_sending)
{
	const size_t len = 32u << 20;	/* more than loopback buffers hold */
	struct client_response r;
	struct tsrv s;
	char err[256] = "", *big;

	/* Without MSG_NOSIGNAL this test dies of SIGPIPE. */
	big = malloc(len);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', len);
	tsrv_start(&s, TSRV_SLAM, NULL, 0);
	ck_assert_int_eq(client_raw("127.0.0.1", s.port, big, len, 5000, &r,
	    err, sizeof(err)), -1);
	tsrv_stop(&s);
	ck_assert_msg(strstr(err, "sending the request") != NULL ||
	    strstr(err, "receiving the response") != NULL, "err: %s", err);
	free(big);
}
END_TEST

START_TEST(test_connection_refused)
{
	struct client_response r;
	char port[16], url[64], err[256] = "";

	dead_port(port, sizeof(port));
	ck_assert_int_eq(client_connect("127.0.0.1", port, 1000, err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "refused") != NULL, "err: %s", err);
	ck_assert_msg(strstr(err, port) != NULL, "err: %s", err);
	snprintf(url, sizeof(url), "http://127.0.0.1:%s/x", port);
	err[0] = '\0';
	ck_assert_int_eq(client_post(url, NULL, 0, "{}", 2, 1000, &r, err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "refused") != NULL, "err: %s", err);
	ck_assert_ptr_null(r.head);
}
END_TEST

START_TEST(test_connect_blocking_socket)
{
	struct tsrv s;
	char err[256] = "";
	int fd, fl;

	tsrv_start(&s, TSRV_SILENT, NULL, 0);
	fd = client_connect("127.0.0.1", s.port, 1000, err, sizeof(err));
	ck_assert_msg(fd >= 0, "err: %s", err);
	fl = fcntl(fd, F_GETFL);
	ck_assert_int_eq(fl & O_NONBLOCK, 0);
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	close(fd);
	tsrv_stop(&s);
}
END_TEST

START_TEST(test_bad_arguments)
{
	struct client_response r;
	char err[256] = "";

	ck_assert_int_eq(client_raw("127.0.0.1", "1", "x", 1, 0, &r, err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "timeout") != NULL, "err: %s", err);
	ck_assert_int_eq(client_connect("127.0.0.1", "1", -5, err,
	    sizeof(err)), -1);
	err[0] = '\0';
	/* A non-numeric port fails in getaddrinfo() without asking DNS. */
	ck_assert_int_eq(client_connect("127.0.0.1", "http", 1000, err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "resolve") != NULL, "err: %s", err);
}
END_TEST

Suite *
client_suite(void)
{
	Suite *s = suite_create("client");
	TCase *tc;

	tc = tcase_create("url");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_url_table);
	tcase_add_test(tc, test_url_small_buffers);
	tcase_add_test(tc, test_bad_scheme_err);
	tcase_add_test(tc, test_bad_arguments);
	suite_add_tcase(s, tc);

	tc = tcase_create("request");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_post_request_bytes);
	tcase_add_test(tc, test_post_empty_body_default_path);
	tcase_add_test(tc, test_post_header_injection);
	suite_add_tcase(s, tc);

	tc = tcase_create("framing");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_content_length_binary);
	tcase_add_test(tc, test_chunked);
	tcase_add_test(tc, test_chunked_dribbled);
	tcase_add_test(tc, test_chunked_beats_length);
	tcase_add_test(tc, test_close_delimited);
	tcase_add_test(tc, test_interim_and_no_body);
	tcase_add_test(tc, test_bad_responses);
	tcase_add_test(tc, test_chunk_line_too_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_response_at_limit);
	tcase_add_test(tc, test_response_over_limit);
	tcase_add_test(tc, test_declared_over_limit);
	tcase_add_test(tc, test_silent_server_timeout);
	tcase_add_test(tc, test_connect_timeout);
	tcase_add_test(tc, test_peer_closes_while_sending);
	tcase_add_test(tc, test_connection_refused);
	tcase_add_test(tc, test_connect_blocking_socket);
	suite_add_tcase(s, tc);
	return s;
}
