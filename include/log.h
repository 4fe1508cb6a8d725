/*
 * log.h - logfmt (default) or JSON lines on stderr, through a buffer that
 * never blocks the caller.
 *
 * JSON lines are one object each with the keys ts, level, msg, then the
 * fields in the order they were added; string values are JSON-escaped
 * (see log_json_escape()), integers are numbers.  When stderr is the
 * systemd journal (JOURNAL_STREAM names stderr's device and inode) each
 * line starts with a syslog priority "<N>" and logfmt lines leave out ts,
 * which journald records itself.
 *
 * Every value is escaped before it reaches the line: quotes, backslashes,
 * control characters (CR, LF, ESC ...) and non-ASCII bytes become \xNN, so
 * untrusted input can never forge a line or an ANSI sequence in an
 * operator's terminal.  Thread-safe: a line is built in a caller-owned
 * buffer and emitted whole, never interleaved with another.
 *
 * Until log_sink_start() and after log_sink_stop(), a line is written by
 * its caller with one write(2) (start-up, fatal errors, the last lines).
 * In between it is copied into a bounded buffer that a log thread of its
 * own writes out: a caller never waits for stderr, and a line that does
 * not fit is dropped and counted (log_sink_stats()).
 */
#ifndef ANTOMD_LOG_H
#define ANTOMD_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR
};

enum log_format {
	LOG_FORMAT_LOGFMT,
	LOG_FORMAT_JSON
};

#define LOG_LINE_MAX	2048	/* longer lines are cut and end with "..." */
#define LOG_VALUE_MAX	256	/* a single value is cut at this many input bytes */

struct logbuf {
	char		buf[LOG_LINE_MAX];
	size_t		len;
	int		cut;	/* something did not fit: end with "..." */
	enum log_level	level;
	enum log_format	format;	/* taken at log_begin() */
};

void	log_init(enum log_level);
void	log_set_level(enum log_level);
int	log_enabled(enum log_level);
int	log_level_parse(const char *, enum log_level *);
const char *log_level_name(enum log_level);
void	log_set_format(enum log_format);
int	log_format_parse(const char *, enum log_format *);
/*
 * Whether stderr is the journal: JOURNAL_STREAM ("dev:inode") equal to
 * fd's device and inode.  log_init() asks for fd 2 and sets the journal
 * mode from the answer; log_set_journal() overrides it (tests).
 */
int	log_journal_match(const char *journal_stream, int fd);
void	log_set_journal(int);

/* Structured lines: log_begin(), any number of log_kv_*(), log_end(). */
void	log_begin(struct logbuf *, enum log_level, const char *msg);
void	log_kv_str(struct logbuf *, const char *key, const char *val);
void	log_kv_strn(struct logbuf *, const char *key, const char *val, size_t len);
void	log_kv_int(struct logbuf *, const char *key, long long val);
void	log_end(struct logbuf *);

/* Free-text messages; the formatted text is escaped into msg="...". */
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Like log_warnx() plus err="strerror(errno)". */
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_errorx(const char *, ...) __attribute__((format(printf, 1, 2)));

/*
 * libmicrohttpd's MHD_OPTION_EXTERNAL_LOGGER for every listener: one WARN
 * line "PREFIX: message", prefix being the logger's closure (a string).
 */
void	log_mhd(void *prefix, const char *fmt, va_list ap)
	    __attribute__((format(printf, 2, 0)));

/*
 * The sink: start the log thread writing to fd (STDERR_FILENO but in
 * tests) through a buffer of cap bytes.  Once, at start-up; 0, or -1 with
 * err.
 */
#define LOG_BUFFER_BYTES	(256u * 1024)
int	log_sink_start(int fd, size_t cap, char *err, size_t errlen);
/*
 * Flush what is buffered and stop the thread, waiting at most timeout_us:
 * 0 when all was written (later lines are written by their callers
 * again), -1 when the sink took too little in time: what was pending is
 * counted as dropped, and so is every later line (a sink that does not
 * drain never holds up the exit).  A no-op (0) when no thread runs.
 */
int	log_sink_stop(uint64_t timeout_us);

struct log_sink_stats {
	uint64_t	lines;		/* taken into the buffer */
	uint64_t	dropped;	/* buffer full, or the sink failed */
	uint64_t	suppressed;	/* by log_limit() */
	uint64_t	bytes_written;	/* by the log thread */
	uint64_t	pending;	/* bytes in the buffer */
	uint64_t	blocked_us;	/* the write(2) in progress, 0: none */
};
/* A snapshot; safe from any thread. */
void	log_sink_stats(struct log_sink_stats *);

/*
 * Rate limit of repeated lines (refusals by HTTP status and reason): per
 * key, at most LOG_LIMIT_BURST lines in a window of LOG_LIMIT_WINDOW_US
 * that opens at the key's first line.  Returns 1 when the caller logs its
 * line, 0 when it is suppressed (counted).  A window that ends with lines
 * suppressed gives one WARN line "N similar refusals suppressed" with
 * status=, reason= and suppressed=N, at the key's next line or at the
 * next log_limit_sweep(), whichever comes first.  Keys take one of
 * LOG_LIMIT_SLOTS slots for the process's life; past that every other key
 * shares one slot, reason "other".  Thread-safe; now_us is
 * util_mono_us() (a parameter for tests).
 */
#define LOG_LIMIT_BURST		10
#define LOG_LIMIT_WINDOW_US	1000000u
#define LOG_LIMIT_SLOTS		64
int	log_limit(unsigned status, const char *reason, uint64_t now_us);
/*
 * Summaries of the windows ended by now_us; main calls it every second,
 * and with UINT64_MAX (every window) at exit.
 */
void	log_limit_sweep(uint64_t now_us);

/*
 * Start-up only: log at error level and exit with code.  The buffer, if
 * a log thread runs, gets a second to drain first.
 */
void	fatalx(int code, const char *, ...)
	    __attribute__((format(printf, 2, 3), noreturn));
void	fatal(int code, const char *, ...)
	    __attribute__((format(printf, 2, 3), noreturn));

/*
 * Escape len bytes of s into out (capacity outcap, always NUL-terminated)
 * using the rules above, without quotes.  Returns the length written.
 */
size_t	log_escape(const char *s, size_t len, char *out, size_t outcap);
/*
 * The same for a JSON string's content: '"' and '\\' are backslashed,
 * control characters and DEL become \u00XX, and a byte >= 0x80 becomes
 * the six characters \\xNN (so the decoded value reads \xNN, exactly as
 * in logfmt, and the line is always valid UTF-8).  Never splits an
 * escape; always NUL-terminated.  Returns the length written.
 */
size_t	log_json_escape(const char *s, size_t len, char *out, size_t outcap);

#endif
