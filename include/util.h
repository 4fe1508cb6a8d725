/*
 * util.h - small helpers shared by every module.
 *
 * The x* allocators are for start-up and command-line tools only: they
 * print a message and exit on failure.  Code that runs in a serving
 * daemon (the request path, the writer, conf_load() on SIGHUP) uses plain
 * malloc() and handles NULL, so neither a request nor a reload can kill
 * it.
 */
#ifndef ANTOMD_UTIL_H
#define ANTOMD_UTIL_H

#include <stddef.h>
#include <stdint.h>

#ifndef ANTOMD_VERSION
#define ANTOMD_VERSION "0.1.0"
#endif

#define UTIL_ISO_TIME_LEN 32	/* "2026-11-25T18:31:34.123Z" plus NUL, rounded up */

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);

/* Current UTC time as ISO 8601 with milliseconds into buf. */
void	 util_now_iso(char buf[UTIL_ISO_TIME_LEN]);
/* Monotonic clock in microseconds. */
uint64_t util_mono_us(void);
/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void	 util_hex(const unsigned char *in, size_t len, char *out);
/* Format into a caller's err buffer of errlen bytes; err may be NULL. */
void	 util_err(char *err, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/*
 * A strict decimal in [min, max]: digits only (no sign, no blanks, no
 * trailing bytes), no overflow.  0 with *out set, or -1.
 */
int	 util_parse_long(const char *s, long min, long max, long *out);
/* Fill buf with n random bytes from OpenSSL's CSPRNG; 0 or -1. */
int	 util_random(unsigned char *buf, size_t n);

#endif
