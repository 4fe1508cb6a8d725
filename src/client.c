/*
 * client.c - a minimal, bounded HTTP/1.1 client for antomctl and the tests.
 *
 * Owns URL splitting, connecting under a deadline, sending one request and
 * reading one response framed by Content-Length, chunked coding or the
 * close of the connection.  Plain HTTP only: the daemon is reached over
 * loopback or behind a TLS terminator, and we add no TLS dependency for a
 * test tool.  One request per connection, no redirects, no keep-alive.
 *
 * Every call shares one deadline of timeout_ms for the whole exchange
 * (connect, send, receive), so a caller knows when it gets control back.
 * The one step not bounded is getaddrinfo(): libc offers no deadline for
 * name resolution, so use numeric addresses where that matters.
 *
 * Thread-safety: no shared state; any function may run in any thread.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "client.h"
#include "util.h"

#define CLIENT_READ_CHUNK	16384
#define CLIENT_CHUNK_LINE_MAX	1024	/* chunk-size line with extensions */
#define CLIENT_WHY_MAX		64	/* a reason naming one character */

_Static_assert(CLIENT_PORT_MAX > 6, "a port of six digits must fit");

enum client_framing {
	CLIENT_FRAME_NONE,	/* 204, 304: no body whatever the headers say */
	CLIENT_FRAME_LENGTH,
	CLIENT_FRAME_CHUNKED,
	CLIENT_FRAME_CLOSE
};

/* Where reading a response stands after the bytes so far. */
enum client_step {
	CLIENT_MORE,	/* needs more bytes */
	CLIENT_DONE,	/* the response is complete */
	CLIENT_FAIL	/* err says why */
};

enum client_chunk_state {
	CLIENT_CK_SIZE,
	CLIENT_CK_DATA,
	CLIENT_CK_DATA_END,
	CLIENT_CK_TRAILER
};

/*
 * One response being read.  The raw bytes stay in buf; a chunked body is
 * decoded in place right after the head, which is safe because decoded
 * bytes never outrun the raw bytes they come from.
 */
struct client_reader {
	char			*buf;
	size_t			 len;
	size_t			 cap;
	size_t			 hstart;	/* final (non-1xx) head */
	size_t			 hscan;		/* blank-line search resumes */
	size_t			 hend;		/* past blank line; 0 unseen */
	int			 status;
	enum client_framing	 framing;
	size_t			 clen;
	enum client_chunk_state	 cstate;
	size_t			 cpos;		/* next raw chunked byte */
	size_t			 crem;		/* data left in this chunk */
	size_t			 dlen;		/* decoded bytes at buf+hend */
};

/* Milliseconds left before deadline, rounded up so we never spin at 0. */
static int
client_left_ms(uint64_t deadline)
{
	uint64_t now = util_mono_us(), left;

	if (now >= deadline)
		return 0;
	left = (deadline - now + 999) / 1000;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/*
 * Wait for events on fd until deadline.  1 when ready (errors and hang-ups
 * count as ready: the next send or recv reports them), 0 on timeout, -1
 * with errno.
 */
static int
client_wait(int fd, short events, uint64_t deadline)
{
	struct pollfd pfd;
	int left, rc;

	for (;;) {
		left = client_left_ms(deadline);
		if (left == 0)
			return 0;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		rc = poll(&pfd, 1, left);
		if (rc > 0)
			return 1;
		if (rc == -1 && errno != EINTR)
			return -1;
	}
}

static int
client_host_char(int c, int bracketed)
{
	if (bracketed)
		return isxdigit(c) || c == ':' || c == '.';
	return isalnum(c) || c == '-' || c == '.' || c == '_';
}

/*
 * The host of authority [a, end) into u->host; *port is set to the port
 * text after it, or NULL.  NULL, or the reason it is refused (in bad,
 * which has room for CLIENT_WHY_MAX bytes, when it names a character).
 */
static const char *
client_url_host(const char *a, const char *end, struct client_url *u,
    const char **port, char *bad)
{
	const char *h = a, *hend, *rb;
	size_t hl, i;
	int bracketed = *a == '[';

	*port = NULL;
	if (bracketed) {
		if ((rb = memchr(a, ']', (size_t)(end - a))) == NULL)
			return "URL host has '[' without ']'";
		h = a + 1;
		hend = rb;
		if (memchr(h, ':', (size_t)(hend - h)) == NULL)
			return "bracketed URL host is not IPv6";
		if (rb + 1 != end && rb[1] != ':')
			return "unexpected text after ']' in URL host";
		if (rb + 1 != end)
			*port = rb + 2;
	} else if ((hend = memchr(a, ':', (size_t)(end - a))) != NULL)
		*port = hend + 1;
	else
		hend = end;
	if ((hl = (size_t)(hend - h)) == 0)
		return "URL has no host";
	for (i = 0; i < hl; i++) {
		if (!client_host_char((unsigned char)h[i], bracketed)) {
			snprintf(bad, CLIENT_WHY_MAX, "bad character '%c' in "
			    "URL host", h[i]);
			return bad;
		}
	}
	if (hl >= sizeof(u->host))
		return "URL host too long";
	memcpy(u->host, h, hl);
	u->host[hl] = '\0';
	return NULL;
}

int
client_url_parse(const char *url, struct client_url *u, char *err,
    size_t errlen)
{
	const char *a, *end, *p, *s, *why = NULL;
	char bad[CLIENT_WHY_MAX];
	size_t pl, i;
	unsigned long pv = 0;

	if (url == NULL)
		why = "no URL";
	else if (strncasecmp(url, "https://", 8) == 0)
		why = "https:// URLs are not supported (plain http:// only; "
		    "terminate TLS in front of antomd)";
	else if (strncasecmp(url, "http://", 7) != 0)
		why = "URL must start with http://";
	if (why != NULL)
		goto bad;
	for (s = url; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			why = "URL contains a blank or control character";
	a = url + 7;
	end = a + strcspn(a, "/?");
	if (why != NULL)
		goto bad;
	if (strchr(url, '#') != NULL)
		why = "URL fragments are not supported";
	else if (*end == '?')
		/* "POST ?q" is no request line; make the caller say "/?q". */
		why = "URL has a query but no path";
	else if (memchr(a, '@', (size_t)(end - a)) != NULL)
		why = "user info in URLs is not supported";
	else if (a == end)
		why = "URL has no host";
	else
		why = client_url_host(a, end, u, &p, bad);
	if (why != NULL)
		goto bad;
	if (p != NULL) {
		pl = (size_t)(end - p);
		for (i = 0; i < pl && i < 6 && isdigit((unsigned char)p[i]); i++)
			pv = pv * 10 + (unsigned long)(p[i] - '0');
		if (pl == 0 || i != pl || pv == 0 || pv > 65535) {
			why = "bad port in URL (want a number from 1 to 65535)";
			goto bad;
		}
	} else {
		p = "80";
		pl = 2;
	}
	/* At most six digits got here, so the port always fits. */
	memcpy(u->port, p, pl);
	u->port[pl] = '\0';
	u->path = *end == '/' ? end : "/";
	u->auth = a;
	u->authlen = (size_t)(end - a);
	return 0;
bad:
	util_err(err, errlen, "%s", why);
	return -1;
}

/*
 * Try one address before deadline.  Returns a connected socket, -1 with
 * errno on failure, or -1 with errno ETIMEDOUT once the deadline passed.
 */
static int
client_try_addr(const struct addrinfo *ai, uint64_t deadline)
{
	socklen_t sl;
	int fd, rc, soerr, saved;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS)
		goto fail;
	rc = client_wait(fd, POLLOUT, deadline);
	if (rc == 0)
		errno = ETIMEDOUT;
	if (rc <= 0)
		goto fail;
	sl = sizeof(soerr);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1)
		goto fail;
	if (soerr != 0) {
		errno = soerr;
		goto fail;
	}
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* client_connect() against a deadline shared with the rest of the exchange. */
static int
client_connect_until(const char *host, const char *port, uint64_t deadline,
    int timeout_ms, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, rc, flags, saved = ECONNREFUSED;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		util_err(err, errlen, "cannot resolve %s: %s", host,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		goto fail;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = client_try_addr(ai, deadline);
		if (fd != -1)
			break;
		saved = errno;
		if (saved == ETIMEDOUT)
			break;
	}
	if (fd == -1) {
		if (saved == ETIMEDOUT)
			util_err(err, errlen, "connect to %s port %s: timed "
			    "out after %d ms", host, port, timeout_ms);
		else
			util_err(err, errlen, "connect to %s port %s: %s",
			    host, port, strerror(saved));
		goto fail;
	}
	/*
	 * Hand back a blocking socket so a test can write to it naively; our
	 * own I/O uses poll() and MSG_DONTWAIT, so it is bounded either way.
	 */
	flags = fcntl(fd, F_GETFL);
	if (flags == -1 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1) {
		util_err(err, errlen, "fcntl: %s", strerror(errno));
		goto fail;
	}
	freeaddrinfo(res);
	return fd;
fail:
	if (fd != -1)
		close(fd);
	if (res != NULL)
		freeaddrinfo(res);
	return -1;
}

/*
 * Connect to host:port within timeout_ms.  The socket is blocking and
 * close-on-exec; the caller owns it.
 */
int
client_connect(const char *host, const char *port, int timeout_ms,
    char *err, size_t errlen)
{
	if (timeout_ms <= 0) {
		util_err(err, errlen, "timeout must be positive");
		return -1;
	}
	return client_connect_until(host, port,
	    util_mono_us() + (uint64_t)timeout_ms * 1000u, timeout_ms,
	    err, errlen);
}

/*
 * Value of header line [s, e) if its name is name (any case), else NULL.
 * The result points into the line (not owned), trimmed, *vlen long.
 */
static const char *
client_header_value(const char *s, const char *e, const char *name,
    size_t *vlen)
{
	size_t nl = strlen(name);
	const char *v;

	if ((size_t)(e - s) <= nl || s[nl] != ':' ||
	    strncasecmp(s, name, nl) != 0)
		return NULL;
	v = s + nl + 1;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*vlen = (size_t)(e - v);
	return v;
}

/* Parse a Content-Length value strictly: digits only, no overflow. */
static int
client_parse_length(const char *v, size_t vlen, size_t *out)
{
	size_t i, n = 0;

	if (vlen == 0)
		return -1;
	for (i = 0; i < vlen; i++) {
		if (!isdigit((unsigned char)v[i]))
			return -1;
		if (n > (SIZE_MAX - 9) / 10)
			return -1;
		n = n * 10 + (size_t)(v[i] - '0');
	}
	*out = n;
	return 0;
}

/* Is "chunked" the last coding of a Transfer-Encoding value? */
static int
client_te_chunked(const char *v, size_t vlen)
{
	const char *last = v, *c;

	for (c = v; c < v + vlen; c++)
		if (*c == ',')
			last = c + 1;
	while (last < v + vlen && (*last == ' ' || *last == '\t'))
		last++;
	return (size_t)(v + vlen - last) == 7 &&
	    strncasecmp(last, "chunked", 7) == 0;
}

/*
 * Parse the head at [hstart, hend): status line, then the framing headers.
 * Returns 0, or -1 with err.
 */
static int
client_parse_head(struct client_reader *rd, char *err, size_t errlen)
{
	const char *s = rd->buf + rd->hstart, *end = rd->buf + rd->hend - 2;
	const char *eol, *v;
	size_t vlen, n;
	int have_len = 0, chunked = 0, te = 0;

	/* end is the blank line's CR, so the status line's CR is found. */
	eol = memchr(s, '\r', (size_t)(end - s));
	if (eol == NULL || eol[1] != '\n' || (size_t)(eol - s) < 12 ||
	    memcmp(s, "HTTP/1.", 7) != 0 ||
	    !isdigit((unsigned char)s[7]) || s[8] != ' ' ||
	    !isdigit((unsigned char)s[9]) || !isdigit((unsigned char)s[10]) ||
	    !isdigit((unsigned char)s[11]) ||
	    ((size_t)(eol - s) > 12 && s[12] != ' ')) {
		util_err(err, errlen, "malformed status line");
		return -1;
	}
	rd->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	if (rd->status < 100) {
		util_err(err, errlen, "bad status code %d", rd->status);
		return -1;
	}
	for (s = eol + 2; s < end; s = eol + 2) {
		eol = memchr(s, '\r', (size_t)(end - s));
		if (eol == NULL || eol[1] != '\n') {
			util_err(err, errlen, "bare CR in response head");
			return -1;
		}
		if (memchr(s, ':', (size_t)(eol - s)) == NULL || *s == ':') {
			util_err(err, errlen, "malformed header line");
			return -1;
		}
		if ((v = client_header_value(s, eol, "Content-Length", &vlen))
		    != NULL) {
			if (client_parse_length(v, vlen, &n) == -1 ||
			    (have_len && n != rd->clen)) {
				util_err(err, errlen, "bad Content-Length");
				return -1;
			}
			rd->clen = n;
			have_len = 1;
		} else if ((v = client_header_value(s, eol,
		    "Transfer-Encoding", &vlen)) != NULL) {
			te = 1;
			chunked = client_te_chunked(v, vlen);
		}
	}
	/* RFC 9112 6.3: Transfer-Encoding beats Content-Length. */
	if (rd->status == 204 || rd->status == 304)
		rd->framing = CLIENT_FRAME_NONE;
	else if (chunked)
		rd->framing = CLIENT_FRAME_CHUNKED;
	else if (te || !have_len)
		rd->framing = CLIENT_FRAME_CLOSE;
	else
		rd->framing = CLIENT_FRAME_LENGTH;
	if (rd->framing == CLIENT_FRAME_LENGTH &&
	    rd->clen > CLIENT_RESPONSE_MAX - rd->hend) {
		util_err(err, errlen, "response of %zu body bytes exceeds "
		    "the %d byte limit", rd->clen, CLIENT_RESPONSE_MAX);
		return -1;
	}
	rd->cpos = rd->hend;
	return 0;
}

/* Advance the chunked decoder; CLIENT_FAIL with err. */
static enum client_step
client_chunk_step(struct client_reader *rd, char *err, size_t errlen)
{
	const char *s, *eol;
	size_t n;
	int d, v;

	for (;;) {
		s = rd->buf + rd->cpos;
		switch (rd->cstate) {
		case CLIENT_CK_SIZE:
		case CLIENT_CK_TRAILER:
			eol = memmem(s, rd->len - rd->cpos, "\r\n", 2);
			if (eol == NULL) {
				if (rd->len - rd->cpos > CLIENT_CHUNK_LINE_MAX)
					goto toolong;
				return CLIENT_MORE;
			}
			if ((size_t)(eol - s) > CLIENT_CHUNK_LINE_MAX)
				goto toolong;
			rd->cpos = (size_t)(eol + 2 - rd->buf);
			if (rd->cstate == CLIENT_CK_TRAILER) {
				if (eol == s)
					return CLIENT_DONE;
				continue;
			}
			n = 0;
			for (d = 0; s < eol && isxdigit((unsigned char)*s);
			    s++, d++) {
				v = isdigit((unsigned char)*s) ? *s - '0' :
				    (*s | 0x20) - 'a' + 10;
				n = n * 16 + (size_t)v;
				if (n > CLIENT_RESPONSE_MAX) {
					util_err(err, errlen, "chunk larger "
					    "than the %d byte limit",
					    CLIENT_RESPONSE_MAX);
					return CLIENT_FAIL;
				}
			}
			while (s < eol && (*s == ' ' || *s == '\t'))
				s++;
			if (d == 0 || (s < eol && *s != ';')) {
				util_err(err, errlen, "bad chunk size line");
				return CLIENT_FAIL;
			}
			rd->crem = n;
			rd->cstate = n == 0 ? CLIENT_CK_TRAILER :
			    CLIENT_CK_DATA;
			break;
		case CLIENT_CK_DATA:
			n = rd->len - rd->cpos;
			if (n > rd->crem)
				n = rd->crem;
			memmove(rd->buf + rd->hend + rd->dlen, s, n);
			rd->dlen += n;
			rd->cpos += n;
			rd->crem -= n;
			if (rd->crem > 0)
				return CLIENT_MORE;
			rd->cstate = CLIENT_CK_DATA_END;
			break;
		case CLIENT_CK_DATA_END:
			if (rd->len - rd->cpos < 2)
				return CLIENT_MORE;
			if (s[0] != '\r' || s[1] != '\n') {
				util_err(err, errlen,
				    "chunk data not followed by CRLF");
				return CLIENT_FAIL;
			}
			rd->cpos += 2;
			rd->cstate = CLIENT_CK_SIZE;
			break;
		}
	}
toolong:
	util_err(err, errlen, "chunk size or trailer line too long");
	return CLIENT_FAIL;
}

/*
 * Look at what has arrived.  1 when the response is complete, 0 when more
 * is needed, -1 with err.  eof says the peer has closed.
 */
static enum client_step
client_progress(struct client_reader *rd, int eof, char *err, size_t errlen)
{
	const char *blank;
	enum client_step rc;

	while (rd->hend == 0) {
		blank = memmem(rd->buf + rd->hscan, rd->len - rd->hscan,
		    "\r\n\r\n", 4);
		if (blank == NULL) {
			if (!eof) {
				rd->hscan = rd->len > rd->hstart + 3 ?
				    rd->len - 3 : rd->hstart;
				return CLIENT_MORE;
			}
			if (rd->len == 0)
				util_err(err, errlen, "connection closed "
				    "without a response");
			else
				util_err(err, errlen, "connection closed "
				    "inside the response head");
			return CLIENT_FAIL;
		}
		rd->hend = (size_t)(blank + 4 - rd->buf);
		if (client_parse_head(rd, err, errlen) == -1)
			return CLIENT_FAIL;
		if (rd->status == 101) {
			util_err(err, errlen, "unexpected 101 response");
			return CLIENT_FAIL;
		}
		if (rd->status < 200) {
			/* Interim (100 Continue): the real answer follows. */
			rd->hstart = rd->hscan = rd->hend;
			rd->hend = 0;
			rd->clen = 0;
		}
	}
	switch (rd->framing) {
	case CLIENT_FRAME_NONE:
		return CLIENT_DONE;
	case CLIENT_FRAME_LENGTH:
		if (rd->len - rd->hend >= rd->clen)
			return CLIENT_DONE;
		if (eof) {
			util_err(err, errlen, "connection closed after %zu "
			    "of %zu body bytes", rd->len - rd->hend, rd->clen);
			return CLIENT_FAIL;
		}
		return CLIENT_MORE;
	case CLIENT_FRAME_CHUNKED:
		rc = client_chunk_step(rd, err, errlen);
		if (rc == CLIENT_MORE && eof) {
			util_err(err, errlen, "connection closed inside "
			    "the chunked body");
			return CLIENT_FAIL;
		}
		return rc;
	case CLIENT_FRAME_CLOSE:
		return eof ? CLIENT_DONE : CLIENT_MORE;
	}
	return CLIENT_FAIL;
}

/* Copy the finished response out of the reader into resp (owned copies). */
static int
client_finish(struct client_reader *rd, struct client_response *resp,
    char *err, size_t errlen)
{
	const char *body = rd->buf + rd->hend;
	size_t hlen = rd->hend - 4 - rd->hstart, blen = 0;

	switch (rd->framing) {
	case CLIENT_FRAME_NONE:		blen = 0; break;
	case CLIENT_FRAME_LENGTH:	blen = rd->clen; break;
	case CLIENT_FRAME_CHUNKED:	blen = rd->dlen; break;
	case CLIENT_FRAME_CLOSE:	blen = rd->len - rd->hend; break;
	}
	resp->head = malloc(hlen + 1);
	resp->body = malloc(blen + 1);
	if (resp->head == NULL || resp->body == NULL) {
		client_response_free(resp);
		util_err(err, errlen, "out of memory");
		return -1;
	}
	memcpy(resp->head, rd->buf + rd->hstart, hlen);
	resp->head[hlen] = '\0';
	memcpy(resp->body, body, blen);
	resp->body[blen] = '\0';
	resp->bodylen = blen;
	resp->status = rd->status;
	return 0;
}

/* Read one response from fd before deadline into resp.  0 or -1 with err. */
static int
client_read_response(int fd, uint64_t deadline, int timeout_ms,
    struct client_response *resp, char *err, size_t errlen)
{
	struct client_reader rd;
	enum client_step step;
	size_t ncap;
	ssize_t n;
	char *nbuf;
	int rc, eof = 0;

	memset(&rd, 0, sizeof(rd));
	for (;;) {
		if (rd.cap - rd.len < CLIENT_READ_CHUNK / 4 &&
		    rd.cap < (size_t)CLIENT_RESPONSE_MAX + 1) {
			ncap = rd.cap == 0 ? CLIENT_READ_CHUNK : rd.cap * 2;
			if (ncap > (size_t)CLIENT_RESPONSE_MAX + 1)
				ncap = (size_t)CLIENT_RESPONSE_MAX + 1;
			if ((nbuf = realloc(rd.buf, ncap)) == NULL) {
				util_err(err, errlen, "out of memory");
				goto fail;
			}
			rd.buf = nbuf;
			rd.cap = ncap;
		}
		rc = client_wait(fd, POLLIN, deadline);
		if (rc == 0) {
			util_err(err, errlen, "timed out after %d ms waiting "
			    "for the response", timeout_ms);
			goto fail;
		}
		if (rc == -1) {
			util_err(err, errlen, "poll: %s", strerror(errno));
			goto fail;
		}
		n = recv(fd, rd.buf + rd.len, rd.cap - rd.len, MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == EWOULDBLOCK)
				continue;
			util_err(err, errlen, "receiving the response: %s",
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			eof = 1;
		rd.len += (size_t)n;
		/*
		 * The cap is on raw bytes, framing included, and the buffer
		 * holds one byte more so that crossing it is seen.
		 */
		if (rd.len > CLIENT_RESPONSE_MAX) {
			util_err(err, errlen, "response exceeds the %d byte "
			    "limit", CLIENT_RESPONSE_MAX);
			goto fail;
		}
		step = client_progress(&rd, eof, err, errlen);
		if (step == CLIENT_FAIL)
			goto fail;
		if (step == CLIENT_DONE)
			break;
	}
	if (client_finish(&rd, resp, err, errlen) == -1)
		goto fail;
	free(rd.buf);
	return 0;
fail:
	free(rd.buf);
	return -1;
}

/* Send and read on an open socket; see client_raw(). */
static int
client_exchange(int fd, const void *req, size_t len, uint64_t deadline,
    int timeout_ms, struct client_response *resp, char *err, size_t errlen)
{
	const char *p = req;
	size_t off = 0;
	ssize_t n;
	int rc, send_errno = 0;

	while (off < len) {
		/* MSG_NOSIGNAL: a peer that hung up must not SIGPIPE us. */
		n = send(fd, p + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			rc = client_wait(fd, POLLOUT, deadline);
			if (rc == 0) {
				util_err(err, errlen, "timed out after %d ms "
				    "sending the request", timeout_ms);
				return -1;
			}
			if (rc == 1)
				continue;
		}
		send_errno = errno;
		break;
	}
	/*
	 * No shutdown(SHUT_WR) after the request: some servers (libmicrohttpd
	 * among them) take a half-close for an abort and never answer.
	 */
	if (client_read_response(fd, deadline, timeout_ms, resp, err,
	    errlen) == 0)
		return 0;
	if (send_errno != 0)
		/* A server may refuse early (413) and close; that wins. */
		util_err(err, errlen, "sending the request: %s",
		    strerror(send_errno));
	return -1;
}

/*
 * Send len raw bytes on a new connection and read the whole response.
 * timeout_ms bounds the whole exchange.  On success resp holds owned
 * copies the caller frees with client_response_free(); on failure resp is
 * left empty (safe to free).
 */
int
client_raw(const char *host, const char *port, const void *req, size_t len,
    int timeout_ms, struct client_response *resp, char *err, size_t errlen)
{
	uint64_t deadline;
	int fd, rc;

	memset(resp, 0, sizeof(*resp));
	if (timeout_ms <= 0) {
		util_err(err, errlen, "timeout must be positive");
		return -1;
	}
	deadline = util_mono_us() + (uint64_t)timeout_ms * 1000u;
	fd = client_connect_until(host, port, deadline, timeout_ms, err,
	    errlen);
	if (fd == -1)
		return -1;
	rc = client_exchange(fd, req, len, deadline, timeout_ms, resp, err,
	    errlen);
	close(fd);
	return rc;
}

static int
client_token_char(int c)
{
	return isalnum(c) ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Refuse header names and values that could split or forge headers. */
static int
client_header_ok(const struct client_header *h, char *err, size_t errlen)
{
	const unsigned char *s;

	if (h->name == NULL || h->value == NULL || h->name[0] == '\0') {
		util_err(err, errlen, "empty header name or value");
		return -1;
	}
	for (s = (const unsigned char *)h->name; *s != '\0'; s++) {
		if (!client_token_char(*s)) {
			util_err(err, errlen, "bad character in header name");
			return -1;
		}
	}
	for (s = (const unsigned char *)h->value; *s != '\0'; s++) {
		if ((*s < 0x20 && *s != '\t') || *s == 0x7f) {
			util_err(err, errlen, "control character in the "
			    "value of header %s", h->name);
			return -1;
		}
	}
	return 0;
}

/*
 * The request for url as split into u.  Extra headers follow the fixed
 * ones (Host, Content-Type, Content-Length, Connection) in the order
 * given.  A buffer the caller frees, *reqlen long; NULL with err.
 */
static char *
client_build(const struct client_url *u, const struct client_header *hdrs,
    size_t nhdr, const void *body, size_t len, size_t *reqlen, char *err,
    size_t errlen)
{
	static const char head[] = "POST %s HTTP/1.1\r\nHost: %.*s\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n";
	char *req, *w;
	size_t need, i;
	int n;

	n = snprintf(NULL, 0, head, u->path, (int)u->authlen, u->auth, len);
	if (n < 0) {
		util_err(err, errlen, "cannot format the request");
		return NULL;
	}
	need = (size_t)n + 2;
	for (i = 0; i < nhdr; i++) {
		if (client_header_ok(&hdrs[i], err, errlen) == -1)
			return NULL;
		need += strlen(hdrs[i].name) + strlen(hdrs[i].value) + 4;
	}
	if (len > SIZE_MAX - need - 1) {
		util_err(err, errlen, "request too large");
		return NULL;
	}
	if ((req = malloc(need + len + 1)) == NULL) {
		util_err(err, errlen, "out of memory");
		return NULL;
	}
	w = req + snprintf(req, (size_t)n + 1, head, u->path, (int)u->authlen,
	    u->auth, len);
	for (i = 0; i < nhdr; i++)
		w += sprintf(w, "%s: %s\r\n", hdrs[i].name, hdrs[i].value);
	memcpy(w, "\r\n", 2);
	w += 2;
	if (len > 0)
		memcpy(w, body, len);
	*reqlen = (size_t)(w - req) + len;
	return req;
}

char *
client_post_request(const char *url, const struct client_header *hdrs,
    size_t nhdr, const void *body, size_t len, size_t *reqlen, char *err,
    size_t errlen)
{
	struct client_url u;

	if (client_url_parse(url, &u, err, errlen) == -1)
		return NULL;
	return client_build(&u, hdrs, nhdr, body, len, reqlen, err, errlen);
}

/* Response ownership as for client_raw(). */
int
client_post(const char *url, const struct client_header *hdrs, size_t nhdr,
    const void *body, size_t len, int timeout_ms,
    struct client_response *resp, char *err, size_t errlen)
{
	struct client_url u;
	char *req;
	size_t reqlen;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (client_url_parse(url, &u, err, errlen) == -1 ||
	    (req = client_build(&u, hdrs, nhdr, body, len, &reqlen, err,
	    errlen)) == NULL)
		return -1;
	rc = client_raw(u.host, u.port, req, reqlen, timeout_ms, resp, err,
	    errlen);
	free(req);
	return rc;
}

void
client_response_free(struct client_response *resp)
{
	if (resp == NULL)
		return;
	free(resp->head);
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
}
