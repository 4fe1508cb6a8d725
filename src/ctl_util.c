/*
 * ctl_util.c - what antomctl's commands share: messages, the request
 * file reader, the Antom headers, and the read-only way into antomd's
 * database (configuration, opener, rows as JSON, escaping for a
 * terminal).  Not used by the daemon.  Single-threaded.
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
#include "store.h"
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

/*
 * Through a "file:...?mode=ro" URI, so that no path can make SQLite
 * create a file; the characters a URI gives meaning to are %-escaped.
 */
sqlite3 *
ctl_db_open(const char *command, const char *path, enum ctl_schema schema)
{
	static const char hex[] = "0123456789ABCDEF";
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *uri;
	size_t i, n = 0, len = strlen(path);
	int version = -1;

	if ((uri = malloc(3 * len + 16)) == NULL) {
		ctl_warnx(command, "out of memory");
		return NULL;
	}
	n = (size_t)sprintf(uri, "file:");
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)path[i];

		if (c == '?' || c == '#' || c == '%' || c < 0x20 || c >= 0x7f) {
			uri[n++] = '%';
			uri[n++] = hex[c >> 4];
			uri[n++] = hex[c & 15];
		} else
			uri[n++] = (char)c;
	}
	strcpy(uri + n, "?mode=ro");
	if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI,
	    NULL) != SQLITE_OK) {
		ctl_warnx(command, "%s: %s", path, db != NULL ?
		    sqlite3_errmsg(db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(db, CTL_BUSY_MS);
	if (schema == CTL_SCHEMA_ANY)
		goto done;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) !=
	    SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		ctl_warnx(command, "%s: %s", path, sqlite3_errmsg(db));
		goto fail;
	}
	version = sqlite3_column_int(st, 0);
	if (version != STORE_SCHEMA_VERSION) {
		ctl_warnx(command, "%s: schema version %d, expected %d (not an "
		    "antomd database?)", path, version, STORE_SCHEMA_VERSION);
		goto fail;
	}
done:
	sqlite3_finalize(st);
	free(uri);
	return db;
fail:
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(uri);
	return NULL;
}

/*
 * Integers as numbers, text as strings (bytes that are not UTF-8 are
 * escaped), NULL as null.
 */
json_t *
ctl_row_json(sqlite3_stmt *st)
{
	json_t *o = json_object(), *v;
	int i, n = sqlite3_column_count(st);
	const char *t;
	char *esc;
	size_t len;

	if (o == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		switch (sqlite3_column_type(st, i)) {
		case SQLITE_INTEGER:
			v = json_integer(sqlite3_column_int64(st, i));
			break;
		case SQLITE_NULL:
			v = json_null();
			break;
		default:
			t = (const char *)sqlite3_column_text(st, i);
			len = (size_t)sqlite3_column_bytes(st, i);
			v = t != NULL ? json_stringn(t, len) : json_null();
			if (v == NULL && t != NULL &&
			    (esc = malloc(4 * len + 1)) != NULL) {
				log_escape(t, len, esc, 4 * len + 1);
				v = json_string(esc);
				free(esc);
			}
			break;
		}
		if (v == NULL || json_object_set_new(o,
		    sqlite3_column_name(st, i), v) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

json_t *
ctl_rows(sqlite3 *db, const char *sql, const char *const *params,
    size_t nparams)
{
	sqlite3_stmt *st = NULL;
	json_t *a = json_array(), *row;
	size_t i;
	int rc;

	if (a == NULL || sqlite3_prepare_v2(db, sql, -1, &st, NULL) !=
	    SQLITE_OK)
		goto fail;
	for (i = 0; i < nparams; i++) {
		if (params[i] != NULL)
			sqlite3_bind_text(st, (int)i + 1, params[i], -1,
			    SQLITE_STATIC);
		else
			sqlite3_bind_null(st, (int)i + 1);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((row = ctl_row_json(st)) == NULL ||
		    json_array_append_new(a, row) != 0)
			goto fail;
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	return a;
fail:
	ctl_warnx(NULL, "database: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	json_decref(a);
	return NULL;
}
