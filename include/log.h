/*
 * log.h - logfmt (default) or JSON lines on stderr, one write(2) per line.
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
 * buffer and emitted with a single write(2).
 */
#ifndef ANTOMD_LOG_H
#define ANTOMD_LOG_H

#include <stdarg.h>
#include <stddef.h>

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

/* Start-up only: log at error level and exit with code. */
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
