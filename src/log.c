/*
 * log.c - logfmt or JSON lines on stderr, through a buffer that never
 * blocks.
 *
 * Owns the process-wide level, format and journal mode (atomics, so
 * SIGHUP can change them while request threads log), the sink and the
 * refusal rate limiter.  Every line is assembled in a caller-owned
 * buffer.  Before log_sink_start() and after log_sink_stop() it is
 * written with one write(2) by the caller (start-up, fatal errors, the
 * last lines); in between it is copied whole into a ring under a mutex
 * held only for the copy, and the log thread writes the ring out.  So a
 * stderr nobody reads (a full pipe, a hung journal) stalls the log thread
 * alone: the HTTP threads and the store's writer go on, and the lines
 * that do not fit are dropped and counted.  Lines never interleave: one
 * thread writes the ring, and it writes bytes in the order they came.
 * libmicrohttpd's messages come in through log_mhd().
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
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

/*
 * A write(2) takes at most this much of the ring: a write that has not
 * returned for seconds then means the sink took less than this in that
 * time, which is what log_sink_stats()' blocked_us reports.
 */
#define LOG_WRITE_MAX	4096
/* How long fatal() and fatalx() give the buffer before they exit. */
#define LOG_FATAL_FLUSH_US	1000000u

/*
 * The sink.  ring[tail .. tail+used) (modulo cap) is what the log thread
 * has still to write; producers copy into the rest.  The log thread
 * writes from the ring without the lock: nobody else touches those
 * bytes until it gives them back by moving tail.
 */
static struct {
	pthread_mutex_t		 lock;
	pthread_cond_t		 more;		/* bytes pending, or stop */
	pthread_cond_t		 drained;	/* used fell to 0 */
	pthread_t		 thread;
	int			 fd;
	char			*ring;
	size_t			 cap, tail, used;	/* under lock */
	int			 stopping;	/* under lock */
	_Atomic int		 running;	/* lines go to the ring */
	_Atomic int		 dead;		/* stop timed out: drop all */
	_Atomic uint64_t	 lines, dropped, suppressed, bytes_written;
	_Atomic uint64_t	 write_since;	/* mono us; 0: not in write(2) */
} ls = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.fd = STDERR_FILENO,
};

/* The refusal rate limiter (log_limit()): one fixed table. */
struct log_limit_slot {
	unsigned	status;		/* 0: the slot of every other key */
	char		reason[32];
	uint64_t	window;		/* start, mono us; 0: idle */
	unsigned	lines;		/* logged in this window */
	uint64_t	suppressed;	/* not logged in this window */
};

static struct {
	pthread_mutex_t		lock;
	size_t			nslots;		/* taken, under lock */
	struct log_limit_slot	slots[LOG_LIMIT_SLOTS + 1];	/* + other */
} ll = { .lock = PTHREAD_MUTEX_INITIALIZER };

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

/*
 * The ring's side of log_end(): 0 when the sink took the line (queued,
 * or dropped and counted), -1 when the caller must write it itself (no
 * log thread runs).  Never waits for the sink.
 */
static int
log_sink_put(const char *line, size_t len)
{
	size_t head, first;
	int wake;

	if (atomic_load(&ls.dead)) {
		atomic_fetch_add(&ls.dropped, 1);
		return 0;
	}
	if (!atomic_load(&ls.running))
		return -1;
	pthread_mutex_lock(&ls.lock);
	if (!atomic_load(&ls.running)) {	/* stopped meanwhile */
		pthread_mutex_unlock(&ls.lock);
		return atomic_load(&ls.dead) ? 0 : -1;
	}
	if (ls.cap - ls.used < len) {
		pthread_mutex_unlock(&ls.lock);
		atomic_fetch_add(&ls.dropped, 1);
		return 0;
	}
	head = (ls.tail + ls.used) % ls.cap;
	first = ls.cap - head < len ? ls.cap - head : len;
	memcpy(ls.ring + head, line, first);
	memcpy(ls.ring, line + first, len - first);
	wake = ls.used == 0;
	ls.used += len;
	atomic_fetch_add(&ls.lines, 1);
	if (wake)
		pthread_cond_signal(&ls.more);
	pthread_mutex_unlock(&ls.lock);
	return 0;
}

static uint64_t
log_count_lines(const char *p, size_t n)
{
	uint64_t lines = 0;

	while (n > 0) {
		const char *nl = memchr(p, '\n', n);

		if (nl == NULL)
			break;
		lines++;
		n -= (size_t)(nl + 1 - p);
		p = nl + 1;
	}
	return lines;
}

/*
 * Write n bytes from p, as much as the sink takes in one write(2); the
 * count written, or 0 when they are lost (the sink is gone).
 */
static size_t
log_sink_write(const char *p, size_t n)
{
	struct pollfd pfd;
	ssize_t w;

	for (;;) {
		atomic_store(&ls.write_since, util_mono_us() | 1);
		w = write(ls.fd, p, n);
		atomic_store(&ls.write_since, 0);
		if (w > 0)
			return (size_t)w;
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* Someone made stderr non-blocking: wait, as a stall. */
			pfd.fd = ls.fd;
			pfd.events = POLLOUT;
			atomic_store(&ls.write_since, util_mono_us() | 1);
			(void)poll(&pfd, 1, 1000);
			continue;
		}
		/* EPIPE, EBADF, EIO: never retried, or the thread would spin. */
		atomic_fetch_add(&ls.dropped, log_count_lines(p, n));
		return n;
	}
}

static void *
log_sink_main(void *arg)
{
	size_t n, w;

	(void)arg;
	pthread_mutex_lock(&ls.lock);
	for (;;) {
		while (ls.used == 0 && !ls.stopping)
			pthread_cond_wait(&ls.more, &ls.lock);
		if (ls.used == 0)
			break;
		n = ls.cap - ls.tail;
		if (n > ls.used)
			n = ls.used;
		if (n > LOG_WRITE_MAX)
			n = LOG_WRITE_MAX;
		pthread_mutex_unlock(&ls.lock);
		w = log_sink_write(ls.ring + ls.tail, n);
		pthread_mutex_lock(&ls.lock);
		atomic_fetch_add(&ls.bytes_written, w);
		ls.tail = (ls.tail + w) % ls.cap;
		ls.used -= w;
		if (ls.used == 0)
			pthread_cond_broadcast(&ls.drained);
	}
	pthread_mutex_unlock(&ls.lock);
	return NULL;
}

int
log_sink_start(int fd, size_t cap, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	int rc;

	if (atomic_load(&ls.running) || atomic_load(&ls.dead)) {
		util_err(err, errlen, "log sink: already started");
		return -1;
	}
	if ((ls.ring = malloc(cap)) == NULL) {
		util_err(err, errlen, "log sink: out of memory");
		return -1;
	}
	/* drained is waited on with a deadline: the monotonic clock. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ls.drained, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&ls.more, NULL);
	ls.fd = fd;
	ls.cap = cap;
	ls.tail = ls.used = 0;
	ls.stopping = 0;
	if ((rc = pthread_create(&ls.thread, NULL, log_sink_main, NULL)) != 0) {
		util_err(err, errlen, "log thread: %s", strerror(rc));
		pthread_cond_destroy(&ls.drained);
		pthread_cond_destroy(&ls.more);
		free(ls.ring);
		ls.ring = NULL;
		return -1;
	}
	atomic_store(&ls.running, 1);
	return 0;
}

int
log_sink_stop(uint64_t timeout_us)
{
	struct timespec dl;
	uint64_t lost;

	if (!atomic_load(&ls.running))
		return atomic_load(&ls.dead) ? -1 : 0;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += (time_t)(timeout_us / 1000000);
	dl.tv_nsec += (long)(timeout_us % 1000000) * 1000;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&ls.lock);
	ls.stopping = 1;
	pthread_cond_signal(&ls.more);
	while (ls.used > 0)
		if (pthread_cond_timedwait(&ls.drained, &ls.lock, &dl) != 0)
			break;
	if (ls.used > 0) {
		/*
		 * The sink takes nothing: leave the thread in its write(2)
		 * (exit ends it) and drop whatever comes, so that no caller
		 * ever blocks on a sink that will not drain.
		 */
		lost = ls.tail + ls.used <= ls.cap ?
		    log_count_lines(ls.ring + ls.tail, ls.used) :
		    log_count_lines(ls.ring + ls.tail, ls.cap - ls.tail) +
		    log_count_lines(ls.ring, ls.tail + ls.used - ls.cap);
		atomic_fetch_add(&ls.dropped, lost);
		atomic_store(&ls.dead, 1);
		atomic_store(&ls.running, 0);
		pthread_mutex_unlock(&ls.lock);
		pthread_detach(ls.thread);
		return -1;
	}
	atomic_store(&ls.running, 0);
	pthread_mutex_unlock(&ls.lock);
	pthread_join(ls.thread, NULL);
	pthread_cond_destroy(&ls.drained);
	pthread_cond_destroy(&ls.more);
	free(ls.ring);
	ls.ring = NULL;
	return 0;
}

void
log_sink_stats(struct log_sink_stats *st)
{
	uint64_t since = atomic_load(&ls.write_since), now = util_mono_us();

	pthread_mutex_lock(&ls.lock);
	st->pending = ls.used;
	pthread_mutex_unlock(&ls.lock);
	st->lines = atomic_load(&ls.lines);
	st->dropped = atomic_load(&ls.dropped);
	st->suppressed = atomic_load(&ls.suppressed);
	st->bytes_written = atomic_load(&ls.bytes_written);
	st->blocked_us = since != 0 && now > since ? now - since : 0;
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
	if (log_sink_put(lb->buf, lb->len) == 0)
		return;
	/* Before the log thread runs: one write per line, as ever. */
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
	(void)log_sink_stop(LOG_FATAL_FLUSH_US);
	exit(code);
}

void
fatal(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERROR, 1, fmt, ap);
	va_end(ap);
	(void)log_sink_stop(LOG_FATAL_FLUSH_US);
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

/*
 * The summary of a slot whose window ended with lines suppressed: one
 * WARN line, then the slot is idle.  Called with ll.lock held; the line
 * goes out after the caller unlocks (sum->suppressed > 0).
 */
static void
log_limit_close(struct log_limit_slot *sl, struct log_limit_slot *sum)
{
	*sum = *sl;
	sl->window = 0;
	sl->lines = 0;
	sl->suppressed = 0;
}

static void
log_limit_summary(const struct log_limit_slot *sum)
{
	struct logbuf lb;
	char msg[64];

	if (sum->suppressed == 0)
		return;
	snprintf(msg, sizeof(msg), "%llu similar refusals suppressed",
	    (unsigned long long)sum->suppressed);
	log_begin(&lb, LOG_LEVEL_WARN, msg);
	if (sum->status != 0)
		log_kv_int(&lb, "status", sum->status);
	log_kv_str(&lb, "reason", sum->reason);
	log_kv_int(&lb, "suppressed", (long long)sum->suppressed);
	log_end(&lb);
}

static struct log_limit_slot *
log_limit_slot(unsigned status, const char *reason)
{
	struct log_limit_slot *sl;
	size_t i;

	for (i = 0; i < ll.nslots; i++) {
		sl = &ll.slots[i];
		if (sl->status == status && strcmp(sl->reason, reason) == 0)
			return sl;
	}
	if (ll.nslots == LOG_LIMIT_SLOTS || strlen(reason) >=
	    sizeof(sl->reason)) {
		/* Every other key shares the last slot. */
		sl = &ll.slots[LOG_LIMIT_SLOTS];
		if (sl->reason[0] == '\0')
			snprintf(sl->reason, sizeof(sl->reason), "other");
		return sl;
	}
	sl = &ll.slots[ll.nslots++];
	sl->status = status;
	snprintf(sl->reason, sizeof(sl->reason), "%s", reason);
	return sl;
}

int
log_limit(unsigned status, const char *reason, uint64_t now_us)
{
	struct log_limit_slot *sl, sum;
	int pass;

	sum.suppressed = 0;
	pthread_mutex_lock(&ll.lock);
	sl = log_limit_slot(status, reason != NULL ? reason : "");
	if (sl->window != 0 && now_us - sl->window >= LOG_LIMIT_WINDOW_US)
		log_limit_close(sl, &sum);
	if (sl->window == 0)
		sl->window = now_us != 0 ? now_us : 1;	/* 0 is idle */
	if ((pass = sl->lines < LOG_LIMIT_BURST))
		sl->lines++;
	else
		sl->suppressed++;
	pthread_mutex_unlock(&ll.lock);
	if (!pass)
		atomic_fetch_add(&ls.suppressed, 1);
	log_limit_summary(&sum);
	return pass;
}

void
log_limit_sweep(uint64_t now_us)
{
	struct log_limit_slot sums[LOG_LIMIT_SLOTS + 1];
	size_t i, n = 0;

	pthread_mutex_lock(&ll.lock);
	for (i = 0; i <= LOG_LIMIT_SLOTS; i++) {
		struct log_limit_slot *sl = &ll.slots[i];

		if (sl->window != 0 &&
		    now_us - sl->window >= LOG_LIMIT_WINDOW_US)
			log_limit_close(sl, &sums[n++]);
	}
	pthread_mutex_unlock(&ll.lock);
	for (i = 0; i < n; i++)
		log_limit_summary(&sums[i]);
}
