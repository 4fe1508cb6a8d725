/*
 * log.c - logfmt or JSON lines on stderr.
 *
 * Owns the process-wide level, format and journal mode (atomics, so
 * SIGHUP can change them while request threads log).  Every line is
 * assembled in a caller-owned buffer and written with one write(2): lines
 * from different threads never interleave, and no lock is taken on the
 * request path.  libmicrohttpd's messages come in through log_mhd().
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static _Atomic int log_min = LOG_LEVEL_INFO;
static _Atomic int log_fmt = LOG_FORMAT_LOGFMT;
static _Atomic int log_journal;

static const char *const log_names[] = { "debug", "info", "warn", "error" };
/* sd-daemon.h's SD_DEBUG, SD_INFO, SD_WARNING, SD_ERR. */
static const char *const log_prio[] = { "<7>", "<6>", "<4>", "<3>" };

/* Room kept at the end of a line: logfmt's "...\n", JSON's truncation mark. */
#define LOG_TAIL_LOGFMT	5
#define LOG_TAIL_JSON	24
#define LOG_JSON_CUT	",\"truncated\":true"

void
log_init(enum log_level lvl)
{
	atomic_store(&log_min, (int)lvl);
	atomic_store(&log_journal,
	    log_journal_match(getenv("JOURNAL_STREAM"), STDERR_FILENO));
}

void
log_set_format(enum log_format f)
{
	atomic_store(&log_fmt, (int)f);
}

int
log_format_parse(const char *s, enum log_format *out)
{
	if (strcasecmp(s, "logfmt") == 0)
		*out = LOG_FORMAT_LOGFMT;
	else if (strcasecmp(s, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return -1;
	return 0;
}

int
log_journal_match(const char *js, int fd)
{
	unsigned long long dev, ino;
	struct stat sb;
	char *end;

	if (js == NULL || fstat(fd, &sb) != 0)
		return 0;
	errno = 0;
	dev = strtoull(js, &end, 10);
	if (errno != 0 || end == js || *end != ':')
		return 0;
	js = end + 1;
	ino = strtoull(js, &end, 10);
	if (errno != 0 || end == js || *end != '\0')
		return 0;
	return dev == (unsigned long long)sb.st_dev &&
	    ino == (unsigned long long)sb.st_ino;
}

void
log_set_journal(int on)
{
	atomic_store(&log_journal, on != 0);
}

void
log_set_level(enum log_level lvl)
{
	atomic_store(&log_min, (int)lvl);
}

int
log_enabled(enum log_level lvl)
{
	return (int)lvl >= atomic_load(&log_min);
}

int
log_level_parse(const char *s, enum log_level *out)
{
	size_t i;

	for (i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
		if (strcasecmp(s, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

const char *
log_level_name(enum log_level lvl)
{
	return log_names[lvl];
}

/*
 * How logfmt (json 0) or JSON (json 1) spells byte c, into tmp; the
 * length.  CR, LF, ESC, DEL and non-ASCII are never raw in a log: \xNN
 * in logfmt, \u00NN in JSON, and bytes past ASCII, which may not be
 * UTF-8, as JSON's spelling of logfmt's \xNN.
 */
static size_t
log_escape_byte(unsigned char c, int json, char tmp[6])
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	if (c == '"' || c == '\\') {
		tmp[0] = '\\';
		tmp[1] = (char)c;
		return 2;
	}
	if (c >= 0x20 && c < 0x7f) {
		tmp[0] = (char)c;
		return 1;
	}
	if (json && c < 0x80) {
		memcpy(tmp, "\\u00", 4);
		n = 4;
	} else {
		tmp[n++] = '\\';
		if (json)
			tmp[n++] = '\\';
		tmp[n++] = 'x';
	}
	tmp[n++] = hex[c >> 4];
	tmp[n++] = hex[c & 0x0f];
	return n;
}

static size_t
log_escape_as(const char *s, size_t len, char *out, size_t outcap, int json)
{
	size_t i, o = 0, n;
	char tmp[6];

	if (outcap == 0)
		return 0;
	for (i = 0; i < len; i++) {
		n = log_escape_byte((unsigned char)s[i], json, tmp);
		if (o + n >= outcap)
			break;
		memcpy(out + o, tmp, n);
		o += n;
	}
	out[o] = '\0';
	return o;
}

size_t
log_escape(const char *s, size_t len, char *out, size_t outcap)
{
	return log_escape_as(s, len, out, outcap, 0);
}

size_t
log_json_escape(const char *s, size_t len, char *out, size_t outcap)
{
	return log_escape_as(s, len, out, outcap, 1);
}

static size_t
log_tail(const struct logbuf *lb)
{
	return lb->format == LOG_FORMAT_JSON ? LOG_TAIL_JSON : LOG_TAIL_LOGFMT;
}

/*
 * A JSON field goes in whole or not at all (and nothing after a field
 * that did not fit), so a cut line is still one valid object.
 */
static void
log_append_whole(struct logbuf *lb, const char *s, size_t n)
{
	if (lb->cut || lb->len + n > LOG_LINE_MAX - LOG_TAIL_JSON) {
		lb->cut = 1;
		return;
	}
	memcpy(lb->buf + lb->len, s, n);
	lb->len += n;
}

static void
log_append(struct logbuf *lb, const char *s, size_t n)
{
	/* Keep room for "...\n". */
	size_t room = LOG_LINE_MAX - log_tail(lb) - lb->len;

	if (lb->len > LOG_LINE_MAX - log_tail(lb)) {
		lb->cut = n > 0;
		return;
	}
	if (n > room) {
		n = room;
		lb->cut = 1;
	}
	memcpy(lb->buf + lb->len, s, n);
	lb->len += n;
}

void
log_begin(struct logbuf *lb, enum log_level lvl, const char *msg)
{
	char ts[UTIL_ISO_TIME_LEN];

	int journal = atomic_load(&log_journal);

	lb->len = 0;
	lb->cut = 0;
	lb->level = lvl;
	lb->format = (enum log_format)atomic_load(&log_fmt);
	util_now_iso(ts);
	if (journal)
		log_append(lb, log_prio[lvl], 3);
	if (lb->format == LOG_FORMAT_JSON) {
		/* Fixed, short, and first: always fits. */
		log_append(lb, "{\"ts\":\"", 7);
		log_append(lb, ts, strlen(ts));
		log_append(lb, "\",\"level\":\"", 11);
		log_append(lb, log_names[lvl], strlen(log_names[lvl]));
		log_append(lb, "\"", 1);
	} else {
		/* journald stamps each line itself. */
		if (!journal) {
			log_append(lb, "ts=", 3);
			log_append(lb, ts, strlen(ts));
			log_append(lb, " ", 1);
		}
		log_append(lb, "level=", 6);
		log_append(lb, log_names[lvl], strlen(log_names[lvl]));
	}
	if (msg != NULL)
		log_kv_str(lb, "msg", msg);
}

static void
log_json_kv(struct logbuf *lb, const char *key, const char *val, size_t len,
    int quote)
{
	char field[LOG_VALUE_MAX * 8 + 160], esc[LOG_VALUE_MAX * 4 + 1];
	size_t n = 0, elen;

	field[n++] = ',';
	field[n++] = '"';
	n += log_json_escape(key, strlen(key), field + n, 96);
	memcpy(field + n, "\":", 2);
	n += 2;
	if (quote)
		field[n++] = '"';
	/*
	 * The logfmt spelling first, then JSON's: a decoded value is
	 * printable ASCII, exactly the logfmt value, so a reader that
	 * decodes (jq -r) gets no raw ESC back and no two inputs collide.
	 */
	elen = log_escape(val, len, esc, sizeof(esc));
	n += log_json_escape(esc, elen, field + n, sizeof(field) - n - 2);
	if (quote)
		field[n++] = '"';
	log_append_whole(lb, field, n);
}

void
log_kv_strn(struct logbuf *lb, const char *key, const char *val, size_t len)
{
	char esc[LOG_VALUE_MAX * 4 + 1];
	size_t n, i;
	int quote = (len == 0);

	if (val == NULL)
		return;
	if (len > LOG_VALUE_MAX)
		len = LOG_VALUE_MAX;
	if (lb->format == LOG_FORMAT_JSON) {
		log_json_kv(lb, key, val, len, 1);
		return;
	}
	n = log_escape(val, len, esc, sizeof(esc));
	for (i = 0; i < n && !quote; i++)
		if (esc[i] == ' ' || esc[i] == '=' || esc[i] == '\\')
			quote = 1;
	log_append(lb, " ", 1);
	log_append(lb, key, strlen(key));
	log_append(lb, "=", 1);
	if (quote)
		log_append(lb, "\"", 1);
	log_append(lb, esc, n);
	if (quote)
		log_append(lb, "\"", 1);
}

void
log_kv_str(struct logbuf *lb, const char *key, const char *val)
{
	if (val != NULL)
		log_kv_strn(lb, key, val, strlen(val));
}

void
log_kv_int(struct logbuf *lb, const char *key, long long val)
{
	char num[32];
	int n = snprintf(num, sizeof(num), "%lld", val);

	if (lb->format == LOG_FORMAT_JSON) {
		log_json_kv(lb, key, num, (size_t)n, 0);
		return;
	}
	log_append(lb, " ", 1);
	log_append(lb, key, strlen(key));
	log_append(lb, "=", 1);
	log_append(lb, num, (size_t)n);
}

void
log_end(struct logbuf *lb)
{
	ssize_t w;
	size_t off = 0;

	if (lb->format == LOG_FORMAT_JSON) {
		if (lb->cut) {
			memcpy(lb->buf + lb->len, LOG_JSON_CUT,
			    sizeof(LOG_JSON_CUT) - 1);
			lb->len += sizeof(LOG_JSON_CUT) - 1;
		}
		lb->buf[lb->len++] = '}';
	} else if (lb->cut) {
		memcpy(lb->buf + lb->len, "...", 3);
		lb->len += 3;
	}
	lb->buf[lb->len++] = '\n';
	if (!log_enabled(lb->level))
		return;
	/* One write per line; retry only on EINTR or a short write. */
	while (off < lb->len) {
		w = write(STDERR_FILENO, lb->buf + off, lb->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
}

static void log_vmsg(enum log_level, int, const char *, va_list)
    __attribute__((format(printf, 3, 0)));

static void
log_vmsg(enum log_level lvl, int with_errno, const char *fmt, va_list ap)
{
	struct logbuf lb;
	char msg[1024];
	int saved = errno;

	if (!log_enabled(lvl))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_begin(&lb, lvl, msg);
	if (with_errno)
		log_kv_str(&lb, "err", strerror(saved));
	log_end(&lb);
	errno = saved;
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_INFO, 0, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_WARN, 0, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_WARN, 1, fmt, ap);
	va_end(ap);
}

void
log_errorx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
}

void
fatalx(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(code);
}

void
fatal(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERROR, 1, fmt, ap);
	va_end(ap);
	exit(code);
}

void
log_mhd(void *prefix, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_warnx("%s: %s", (const char *)prefix, msg);
}
