/*
 * log.h - logfmt lines on stderr, one write(2) per line.
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

#define LOG_LINE_MAX	2048	/* longer lines are cut and end with "..." */
#define LOG_VALUE_MAX	256	/* a single value is cut at this many input bytes */

struct logbuf {
	char		buf[LOG_LINE_MAX];
	size_t		len;
	int		cut;	/* something did not fit: end with "..." */
	enum log_level	level;
};

void	log_init(enum log_level);
void	log_set_level(enum log_level);
int	log_enabled(enum log_level);
int	log_level_parse(const char *, enum log_level *);
const char *log_level_name(enum log_level);

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

#endif
