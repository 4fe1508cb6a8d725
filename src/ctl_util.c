/*
 * ctl_util.c - what antomctl's commands share: messages, the request
 * file reader, the Antom headers, the configuration, and escaping for a
 * terminal (the database itself: ctl_db.c).  Not used by the daemon.
 * Single-threaded.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "antom.h"
#include "conf.h"
#include "ctl.h"
#include "log.h"
#include "util.h"

void
ctl_warnx(const char *command, const char *fmt, ...)
{
	va_list ap;

	fputs("antomctl: ", stderr);
	if (command != NULL)
		fprintf(stderr, "%s: ", command);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

char *
ctl_strndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* Header values go on the wire verbatim: no control characters. */
int
ctl_header_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

void
ctl_antom_headers(struct client_header hdrs[3], const char *client_id,
    const char *request_time, const char *signature)
{
	hdrs[0].name = ANTOM_HDR_CLIENT_ID;
	hdrs[0].value = client_id;
	hdrs[1].name = ANTOM_HDR_REQUEST_TIME;
	hdrs[1].value = request_time;
	hdrs[2].name = ANTOM_HDR_SIGNATURE;
	hdrs[2].value = signature;
}

char *
ctl_sign_path(const char *command, const char *url, const char *sign_path)
{
	struct client_url u;
	char *path;

	if (client_url_parse(url, &u, NULL, 0) == -1) {
		ctl_warnx(command, "bad URL '%s' (want http://host[:port]/path; "
		    "https is not supported)", url);
		return NULL;
	}
	path = xstrdup(sign_path != NULL ? sign_path : u.path);
	if (sign_path == NULL)
		path[strcspn(path, "?")] = '\0';
	return path;
}

enum ctl_read
ctl_read_file(const char *path, size_t max, char **bufp, size_t *len,
    char *err, size_t errlen)
{
	enum ctl_read rc = CTL_READ_ERR;
	FILE *f;
	char *buf;
	size_t n = 0, got;

	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (f == NULL) {
		util_err(err, errlen, "%s: %s", path, strerror(errno));
		return CTL_READ_ERR;
	}
	/* One byte over the limit tells "too big" from "exactly max". */
	buf = xmalloc(max + 2);
	while (n <= max) {
		got = fread(buf + n, 1, max + 1 - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		util_err(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (n > max) {
		rc = CTL_READ_TOO_BIG;
		goto fail;
	}
	if (f != stdin)
		fclose(f);
	buf[n] = '\0';
	*bufp = buf;
	*len = n;
	return CTL_READ_OK;
fail:
	if (f != stdin)
		fclose(f);
	free(buf);
	return rc;
}

const char *
ctl_esc(const char *s, char *out, size_t outcap)
{
	if (s == NULL)
		return "-";
	log_escape(s, strlen(s), out, outcap);
	return out;
}

const char *
ctl_val(json_t *v, char *buf, size_t cap)
{
	if (json_is_integer(v)) {
		snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	}
	if (json_is_string(v))
		return ctl_esc(json_string_value(v), buf, cap);
	return "-";
}

int
ctl_parse_i64(const char *s, int64_t *out)
{
	long v;

	if (util_parse_long(s, 0, LONG_MAX, &v) != 0)
		return -1;
	*out = v;
	return 0;
}

struct conf *
ctl_conf(const char *command, const char *path)
{
	struct conf *c = NULL;
	char err[1024];

	if (conf_load(path, &c, err, sizeof(err)) != CONF_OK) {
		ctl_warnx(command, "%s", err);
		return NULL;
	}
	return c;
}
