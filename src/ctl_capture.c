/*
 * ctl_capture.c - the request antomctl explain judges: a raw HTTP request
 * as nc -l or a proxy mirror saves it, or a row of the notifications
 * table.  Header names are case-insensitive and values trimmed, as
 * libmicrohttpd hands them to the daemon; what the parser had to assume
 * is said on stdout, as part of the explanation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "ctl.h"
#include "target.h"
#include "util.h"

#define CAPTURE_BODY_MAX	(1024 * 1024)
#define CAPTURE_HEAD_MAX	(64 * 1024)
#define CAPTURE_FILE_MAX	(CAPTURE_BODY_MAX + CAPTURE_HEAD_MAX)

void
ctl_capture_free(struct ctl_capture *rq)
{
	free(rq->method);
	free(rq->path);
	free(rq->query);
	free(rq->client_id);
	free(rq->rtime);
	free(rq->sig);
	free(rq->body);
}

/*
 * Split target into path and query as the daemon does (target.h): an
 * absolute-form target is routed by its path.  One the daemon would not
 * route keeps its raw text, which matches no route (routes start with
 * '/'), so explain says 404 as the daemon answers.
 */
static void
capture_target(struct ctl_capture *rq, const char *t, size_t n)
{
	struct target tg;
	const char *q;

	/* libmicrohttpd ends the target at a NUL: so does the daemon. */
	if (memchr(t, '\0', n) != NULL) {
		printf("note: NUL byte in the request target: antomd sees "
		    "only what precedes it\n");
		n = strlen(t);
	}
	if (target_split(t, n, &tg) == 0) {
		if (tg.absolute)
			printf("note: absolute-form request target: antomd "
			    "routes it by its path\n");
		rq->path = ctl_strndup(tg.path, tg.pathlen);
		if (tg.query != NULL)
			rq->query = ctl_strndup(tg.query, tg.querylen);
		return;
	}
	printf("note: the request target is neither /path nor "
	    "http(s)://host/path: antomd answers 404\n");
	if ((q = memchr(t, '?', n)) != NULL) {
		rq->path = ctl_strndup(t, (size_t)(q - t));
		rq->query = ctl_strndup(q + 1, (size_t)(t + n - q - 1));
	} else
		rq->path = ctl_strndup(t, n);
}

/*
 * Parse a captured request.  Header names are case-insensitive, values
 * trimmed; the body ends at Content-Length when there is one.  Notes go
 * to stdout.  Returns 0, or -1 when buf is not an HTTP request at all.
 */
static int
capture_parse(const char *buf, size_t len, struct ctl_capture *rq)
{
	const char *he, *p, *le, *end, *sp1, *sp2, *colon, *v, *ve;
	const char *crlf, *lflf;
	size_t hlen, clen = 0, n;
	int have_clen = 0, chunked = 0;
	char **dst;

	crlf = memmem(buf, len, "\r\n\r\n", 4);
	lflf = memmem(buf, len, "\n\n", 2);
	if (crlf == NULL && lflf == NULL) {
		ctl_warnx("explain", "no blank line ending the headers: not a captured "
		    "HTTP request");
		return -1;
	}
	if (crlf != NULL && (lflf == NULL || crlf < lflf)) {
		he = crlf;
		hlen = (size_t)(crlf - buf);
		p = crlf + 4;
	} else {
		he = lflf;
		hlen = (size_t)(lflf - buf);
		p = lflf + 2;
	}
	if (hlen > CAPTURE_HEAD_MAX) {
		ctl_warnx("explain", "headers longer than %d bytes", CAPTURE_HEAD_MAX);
		return -1;
	}
	n = len - (size_t)(p - buf);

	/* Request line. */
	le = memchr(buf, '\n', (size_t)(he - buf) + 1);
	end = le != NULL && le <= he ? le : he;
	if (end > buf && end[-1] == '\r')
		end--;
	sp1 = memchr(buf, ' ', (size_t)(end - buf));
	if (sp1 == NULL || sp1 == buf) {
		ctl_warnx("explain", "first line is not \"METHOD /path HTTP/1.1\"");
		return -1;
	}
	sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1));
	if (sp2 == NULL)
		sp2 = end;
	if (sp2 == sp1 + 1) {
		ctl_warnx("explain", "first line is not \"METHOD /path HTTP/1.1\"");
		return -1;
	}
	rq->method = ctl_strndup(buf, (size_t)(sp1 - buf));
	capture_target(rq, sp1 + 1, (size_t)(sp2 - sp1 - 1));

	/* Header lines. */
	for (p = le != NULL ? le + 1 : he; p < he; p = le + 1) {
		if ((le = memchr(p, '\n', (size_t)(he - p))) == NULL)
			le = he;
		end = le;
		if (end > p && end[-1] == '\r')
			end--;
		if ((colon = memchr(p, ':', (size_t)(end - p))) == NULL)
			continue;
		v = colon + 1;
		ve = end;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		n = (size_t)(colon - p);
		dst = NULL;
		if (n == 9 && strncasecmp(p, "client-id", 9) == 0) {
			dst = &rq->client_id;
			rq->nclient++;
		} else if (n == 12 && strncasecmp(p, "request-time", 12) == 0) {
			dst = &rq->rtime;
			rq->nrtime++;
		} else if (n == 9 && strncasecmp(p, "signature", 9) == 0) {
			dst = &rq->sig;
			rq->nsig++;
		} else if (n == 14 && strncasecmp(p, "content-length", 14) == 0) {
			char tmp[24];

			if ((size_t)(ve - v) < sizeof(tmp)) {
				memcpy(tmp, v, (size_t)(ve - v));
				tmp[ve - v] = '\0';
				clen = strtoul(tmp, NULL, 10);
				have_clen = 1;
			}
		} else if (n == 17 &&
		    strncasecmp(p, "transfer-encoding", 17) == 0 &&
		    memmem(v, (size_t)(ve - v), "chunked", 7) != NULL)
			chunked = 1;
		if (dst != NULL && *dst == NULL)
			*dst = ctl_strndup(v, (size_t)(ve - v));
		if (le == he)
			break;
	}

	p = he == crlf ? crlf + 4 : lflf + 2;
	n = len - (size_t)(p - buf);
	if (chunked)
		printf("note: the body is chunked; antomctl explain judges the "
		    "bytes as they are, so de-chunk the capture first\n");
	if (have_clen && clen < n) {
		printf("note: %zu byte(s) after Content-Length %zu ignored "
		    "(an editor's final newline?)\n", n - clen, clen);
		n = clen;
	} else if (have_clen && clen > n)
		printf("note: capture truncated: Content-Length %zu, only %zu "
		    "byte(s) of body\n", clen, n);
	if (n > CAPTURE_BODY_MAX) {
		ctl_warnx("explain", "body larger than %d bytes", CAPTURE_BODY_MAX);
		return -1;
	}
	rq->body = xmalloc(n + 1);
	memcpy(rq->body, p, n);
	rq->bodylen = n;
	return 0;
}

/* Where the row goes, and the routes to serve it at. */
struct capture_from {
	struct ctl_capture	*rq;
	const struct conf	*c;
};

/*
 * The row's request, served at its route's path as the daemon would see
 * it: 1, or 2 when the body is too large.
 */
static int
capture_row(struct ctl_row *row, void *arg)
{
	struct ctl_capture *rq = ((struct capture_from *)arg)->rq;
	const struct conf *c = ((struct capture_from *)arg)->c;
	const unsigned char *body;
	const char *sp, *q;
	size_t n, i;

	body = ctl_col_blob(row, 0, &n);
	if (n > CAPTURE_BODY_MAX)
		return 2;
	rq->body = xmalloc(n + 1);
	memcpy(rq->body, body, n);
	rq->bodylen = n;
	rq->client_id = xstrdup(ctl_col_text(row, 1));
	rq->rtime = xstrdup(ctl_col_text(row, 2));
	rq->sig = xstrdup(ctl_col_text(row, 3));
	rq->nclient = rq->nrtime = rq->nsig = 1;
	sp = ctl_col_text(row, 4);
	rq->method = xstrdup("POST");
	/* The stored signed path is public; serve it at its route's path. */
	q = strchr(sp, '?');
	rq->path = ctl_strndup(sp, q != NULL ? (size_t)(q - sp) : strlen(sp));
	if (q != NULL)
		rq->query = xstrdup(q + 1);
	for (i = 0; i < c->nroutes; i++) {
		if (strcmp(c->routes[i].signed_path, rq->path) == 0) {
			free(rq->path);
			rq->path = xstrdup(c->routes[i].path);
			break;
		}
	}
	return 1;
}

int
ctl_capture_row(const struct conf *c, long long id, struct ctl_capture *rq)
{
	struct ctl_db *db;
	struct capture_from from = { rq, c };
	char num[24];
	const char *param = num;
	int rc;

	if ((db = ctl_db_open("explain", c->database, CTL_SCHEMA_ANY)) == NULL)
		return -1;
	snprintf(num, sizeof(num), "%lld", id);
	rc = ctl_db_each(db, "SELECT body, client_id, request_time, signature,"
	    " signed_path FROM notifications WHERE id = $1", &param, 1,
	    capture_row, &from);
	if (rc == 0)
		ctl_warnx("explain", "%s: no notification with id %lld",
		    ctl_db_name(db), id);
	else if (rc == 2)
		ctl_warnx("explain", "notification %lld: body too large", id);
	ctl_db_close(db);
	return rc == 1 ? 0 : -1;
}

int
ctl_capture_file(const char *path, struct ctl_capture *rq)
{
	char err[1024], *buf = NULL;
	size_t len;
	int rc = -1;

	switch (ctl_read_file(path, CAPTURE_FILE_MAX, &buf, &len, err,
	    sizeof(err))) {
	case CTL_READ_OK:
		rc = capture_parse(buf, len, rq);
		break;
	case CTL_READ_TOO_BIG:
		ctl_warnx("explain", "%s: larger than %d bytes", path,
		    CAPTURE_FILE_MAX);
		break;
	case CTL_READ_ERR:
		ctl_warnx("explain", "%s", err);
		break;
	}
	free(buf);
	return rc;
}
