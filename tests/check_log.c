/*
 * check_log.c - log.c: escaping, logfmt line assembly, quoting, the value
 * and line limits, level filtering and parsing, log injection, the
 * refusal rate limiter, and the buffer in front of stderr.
 *
 * Lines are captured by pointing fd 2 at a temporary file for the duration
 * of one call; each test forks (Check's default), so the redirection and
 * the process-wide level never leak into another test.  Tables run as
 * Check loop tests, so a failure names the row.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "suites.h"
#include "util.h"

#define T_NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define T_CANARY 0x5a
/* A string literal and its length, NUL bytes included. */
#define T_S(s) s, sizeof(s) - 1

/* Capturing stderr */

struct t_cap {
	FILE	*f;
	int	 saved;
};

static void
t_cap_begin(struct t_cap *c)
{
	c->f = tmpfile();
	ck_assert_ptr_nonnull(c->f);
	c->saved = dup(STDERR_FILENO);
	ck_assert_int_ge(c->saved, 0);
	ck_assert_int_eq(dup2(fileno(c->f), STDERR_FILENO), STDERR_FILENO);
}

/* Restore fd 2; return what was written (caller frees) and its length. */
static char *
t_cap_end(struct t_cap *c, size_t *len)
{
	int fd = fileno(c->f);
	off_t end;
	char *buf;

	ck_assert_int_eq(dup2(c->saved, STDERR_FILENO), STDERR_FILENO);
	close(c->saved);
	end = lseek(fd, 0, SEEK_END);
	ck_assert_int_ge(end, 0);
	buf = malloc((size_t)end + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(pread(fd, buf, (size_t)end, 0), end);
	buf[end] = '\0';
	fclose(c->f);
	*len = (size_t)end;
	return buf;
}

static size_t
t_count(const char *s, size_t len, char ch)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		n += s[i] == ch;
	return n;
}

/*
 * Check the "ts=YYYY-MM-DDTHH:MM:SS.mmmZ" that starts every line and
 * return what follows it (" level=...").
 */
static const char *
t_after_ts(const char *line)
{
	static const char re_src[] = "^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T"
	    "[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z level=";
	regex_t re;
	int rc;

	ck_assert_int_eq(regcomp(&re, re_src, REG_EXTENDED | REG_NOSUB), 0);
	rc = regexec(&re, line, 0, NULL, 0);
	regfree(&re);
	ck_assert_msg(rc == 0, "line does not start with ts=<iso> level=: '%s'",
	    line);
	return line + 3 + 24;
}

/* log_escape */

static const struct {
	const char	*in;
	size_t		 len;
	const char	*out;
} t_esc_rows[] = {
	{ T_S(""), "" },
	{ T_S("abc"), "abc" },
	{ T_S("a b=c"), "a b=c" },		/* blanks and '=' are the caller's business */
	{ T_S("~!@#$%^&*()_+{}|:<>?`-[];',./"), "~!@#$%^&*()_+{}|:<>?`-[];',./" },
	{ T_S("\""), "\\\"" },
	{ T_S("a\"b"), "a\\\"b" },
	{ T_S("\\"), "\\\\" },
	{ T_S("a\\b"), "a\\\\b" },
	{ T_S("\\x41"), "\\\\x41" },		/* a literal "\x41" cannot pass for an escape */
	{ T_S("\r"), "\\x0d" },
	{ T_S("\n"), "\\x0a" },
	{ T_S("\r\n"), "\\x0d\\x0a" },
	{ T_S("\t"), "\\x09" },
	{ T_S("\x01"), "\\x01" },
	{ T_S("\x1f"), "\\x1f" },
	{ T_S("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m" },
	{ T_S("\x7f"), "\\x7f" },
	{ T_S("\x80"), "\\x80" },
	{ T_S("\xff"), "\\xff" },
	{ T_S("caf\xc3\xa9"), "caf\\xc3\\xa9" },
	{ T_S("a\0b"), "a\\x00b" },		/* NUL inside len is data */
	{ T_S("\0"), "\\x00" },
	{ "abc\0def", 3, "abc" },		/* len, not the NUL, ends the input */
	{ "abcdef", 0, "" },
};

START_TEST(test_escape_table)
{
	char out[256];
	size_t n;

	memset(out, T_CANARY, sizeof(out));
	n = log_escape(t_esc_rows[_i].in, t_esc_rows[_i].len, out, sizeof(out));
	ck_assert_str_eq(out, t_esc_rows[_i].out);
	ck_assert_uint_eq(n, strlen(t_esc_rows[_i].out));
}
END_TEST

/* Cut at outcap: whole escapes only, always NUL-terminated. */
static const struct {
	const char	*in;
	size_t		 len;
	size_t		 outcap;
	const char	*out;
} t_esc_cut_rows[] = {
	{ "abcdef", 6, 1, "" },
	{ "abcdef", 6, 4, "abc" },
	{ "abcdef", 6, 6, "abcde" },
	{ "abcdef", 6, 7, "abcdef" },
	{ "a\"b", 3, 2, "a" },
	{ "a\"b", 3, 3, "a" },		/* "\"" needs 2 + NUL */
	{ "a\"b", 3, 4, "a\\\"" },
	{ "\n", 1, 4, "" },		/* "\x0a" needs 4 + NUL */
	{ "\n", 1, 5, "\\x0a" },
	{ "x\x1b", 2, 5, "x" },
	{ "x\x1b", 2, 6, "x\\x1b" },
	{ "\xff\xff", 2, 8, "\\xff" },
	{ "\xff\xff", 2, 9, "\\xff\\xff" },
};

START_TEST(test_escape_cut_table)
{
	char out[64];
	size_t cap = t_esc_cut_rows[_i].outcap, n, i;

	memset(out, T_CANARY, sizeof(out));
	n = log_escape(t_esc_cut_rows[_i].in, t_esc_cut_rows[_i].len, out, cap);
	ck_assert_str_eq(out, t_esc_cut_rows[_i].out);
	ck_assert_uint_eq(n, strlen(t_esc_cut_rows[_i].out));
	for (i = cap; i < sizeof(out); i++)
		ck_assert_int_eq(out[i], T_CANARY);
}
END_TEST

START_TEST(test_escape_outcap_zero)
{
	char out[4];

	memset(out, T_CANARY, sizeof(out));
	ck_assert_uint_eq(log_escape("abc", 3, out, 0), 0);
	ck_assert_int_eq(out[0], T_CANARY);
}
END_TEST

/*
 * Every outcap from 1 to beyond the full length, on an input mixing every
 * kind of byte: never a byte past outcap, always NUL-terminated, and the
 * result is the escape of a prefix of the input (no half escape).
 */
START_TEST(test_escape_cut_every_cap)
{
	static const char in[] = "a\"b\\c\rd\ne\x1b[f\x7fg\x80h\xffi\0j k=l";
	const size_t inlen = sizeof(in) - 1;
	char full[256], out[256], pre[256];
	size_t fulln, cap, n, k, i;
	int found;

	fulln = log_escape(in, inlen, full, sizeof(full));
	ck_assert_uint_lt(fulln, sizeof(full) - 1);
	for (cap = 1; cap <= fulln + 2; cap++) {
		memset(out, T_CANARY, sizeof(out));
		n = log_escape(in, inlen, out, cap);
		ck_assert_uint_lt(n, cap);
		ck_assert_int_eq(out[n], '\0');
		ck_assert_uint_eq(strlen(out), n);
		for (i = cap; i < sizeof(out); i++)
			ck_assert_int_eq(out[i], T_CANARY);
		ck_assert_int_eq(memcmp(out, full, n), 0);
		if (cap > fulln)
			ck_assert_str_eq(out, full);
		found = 0;
		for (k = 0; k <= inlen && !found; k++) {
			log_escape(in, k, pre, sizeof(pre));
			found = strcmp(pre, out) == 0;
		}
		ck_assert_msg(found, "outcap %zu: '%s' ends inside an escape",
		    cap, out);
	}
}
END_TEST

/* Whatever the byte, only printable ASCII comes out. */
START_TEST(test_escape_every_byte)
{
	char in[256], out[256 * 4 + 1];
	size_t i, n;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (char)i;
	n = log_escape(in, sizeof(in), out, sizeof(out));
	/* 0x00-0x1f, 0x7f-0xff as \xNN; '"' and '\\' doubled; 93 others. */
	ck_assert_uint_eq(n, (32 + 129) * 4 + 2 * 2 + 93);
	for (i = 0; i < n; i++)
		ck_assert_msg(out[i] >= 0x20 && out[i] < 0x7f,
		    "byte 0x%02x at %zu", (unsigned char)out[i], i);
}
END_TEST

/* Line assembly */

START_TEST(test_line_shape)
{
	struct t_cap cap;
	struct logbuf lb;
	char *out;
	size_t len;

	log_init(LOG_LEVEL_INFO);
	t_cap_begin(&cap);
	log_begin(&lb, LOG_LEVEL_INFO, "hello");
	log_kv_str(&lb, "key", "value");
	log_kv_int(&lb, "n", 42);
	log_kv_int(&lb, "neg", -7);
	log_kv_strn(&lb, "part", "abcdef", 3);
	log_end(&lb);
	out = t_cap_end(&cap, &len);
	ck_assert_uint_eq(strlen(out), len);
	ck_assert_str_eq(t_after_ts(out),
	    " level=info msg=hello key=value n=42 neg=-7 part=abc\n");
	free(out);
}
END_TEST

/* A message with a blank is quoted; no message means no msg key. */
START_TEST(test_line_msg)
{
	struct t_cap cap;
	struct logbuf lb;
	char *out;
	size_t len;

	log_init(LOG_LEVEL_DEBUG);
	t_cap_begin(&cap);
	log_begin(&lb, LOG_LEVEL_WARN, "request refused");
	log_end(&lb);
	log_begin(&lb, LOG_LEVEL_ERROR, NULL);
	log_kv_str(&lb, "a", "b");
	log_end(&lb);
	out = t_cap_end(&cap, &len);
	ck_assert_uint_eq(t_count(out, len, '\n'), 2);
	ck_assert_ptr_nonnull(strchr(out, '\n'));
	*strchr(out, '\n') = '\0';
	ck_assert_str_eq(t_after_ts(out), " level=warn msg=\"request refused\"");
	ck_assert_str_eq(t_after_ts(out + strlen(out) + 1), " level=error a=b\n");
	free(out);
}
END_TEST

/* How one value is rendered after "k=". */
static const struct {
	const char	*val;
	size_t		 len;
	const char	*shown;
} t_quote_rows[] = {
	{ T_S("plain"), "plain" },
	{ T_S("a,b;c:d/e@f"), "a,b;c:d/e@f" },
	{ T_S("a b"), "\"a b\"" },
	{ T_S(" "), "\" \"" },
	{ T_S("a=b"), "\"a=b\"" },
	{ T_S("="), "\"=\"" },
	{ T_S(""), "\"\"" },
	{ T_S("a\"b"), "\"a\\\"b\"" },
	{ T_S("\""), "\"\\\"\"" },
	{ T_S("a\\b"), "\"a\\\\b\"" },
	{ T_S("a\nb"), "\"a\\x0ab\"" },
	{ T_S("a\rb"), "\"a\\x0db\"" },
	{ T_S("\t"), "\"\\x09\"" },
	{ T_S("\x1b[2J"), "\"\\x1b[2J\"" },
	{ T_S("x\x7f"), "\"x\\x7f\"" },
	{ T_S("caf\xc3\xa9"), "\"caf\\xc3\\xa9\"" },
	{ T_S("a\0b"), "\"a\\x00b\"" },
};

START_TEST(test_quote_table)
{
	struct t_cap cap;
	struct logbuf lb;
	char *out, want[128];
	size_t len;

	log_init(LOG_LEVEL_INFO);
	t_cap_begin(&cap);
	log_begin(&lb, LOG_LEVEL_INFO, NULL);
	log_kv_strn(&lb, "k", t_quote_rows[_i].val, t_quote_rows[_i].len);
	log_end(&lb);
	out = t_cap_end(&cap, &len);
	snprintf(want, sizeof(want), " level=info k=%s\n",
	    t_quote_rows[_i].shown);
	ck_assert_str_eq(t_after_ts(out), want);
	free(out);
}
END_TEST

/* log_kv_str() is log_kv_strn() over strlen; NULL adds nothing. */
START_TEST(test_kv_str_null)
{
	struct t_cap cap;
	struct logbuf lb;
	char *out;
	size_t len;

	log_init(LOG_LEVEL_INFO);
	t_cap_begin(&cap);
	log_begin(&lb, LOG_LEVEL_INFO, "m");
	log_kv_str(&lb, "gone", NULL);
	log_kv_strn(&lb, "gone2", NULL, 3);
	log_kv_str(&lb, "empty", "");
	log_end(&lb);
	out = t_cap_end(&cap, &len);
	ck_assert_str_eq(t_after_ts(out), " level=info msg=m empty=\"\"\n");
	free(out);
}
END_TEST

static const struct {
	long long	 v;
	const char	*shown;
} t_int_rows[] = {
	{ 0, "0" },
	{ 1, "1" },
	{ -1, "-1" },
	{ 200, "200" },
	{ LLONG_MAX, "9223372036854775807" },
	{ LLONG_MIN, "-9223372036854775808" },
};

START_TEST(test_kv_int_table)
{
	struct t_cap cap;
	struct logbuf lb;
	char *out, want[64];
	size_t len;

	log_init(LOG_LEVEL_INFO);
	t_cap_begin(&cap);
	log_begin(&lb, LOG_LEVEL_INFO, NULL);
	log_kv_int(&lb, "n", t_int_rows[_i].v);
	log_end(&lb);
	out = t_cap_end(&cap, &len);
	snprintf(want, sizeof(want), " level=info n=%s\n", t_int_rows[_i].shown);
	ck_assert_str_eq(t_after_ts(out), want);
	free(out);
}
END_TEST

/* A value is cut at LOG_VALUE_MAX input bytes, before escaping. */
static const struct {
	char	byte;
	size_t	len;
	size_t	kept;
	int	quoted;
	size_t	esclen;		/* output bytes per input byte */
} t_valmax_rows[] = {
	{ 'a', LOG_VALUE_MAX - 1, LOG_VALUE_MAX - 1, 0, 1 },
	{ 'a', LOG_VALUE_MAX, LOG_VALUE_MAX, 0, 1 },
	{ 'a', LOG_VALUE_MAX + 1, LOG_VALUE_MAX, 0, 1 },
	{ 'a', 4 * LOG_VALUE_MAX, LOG_VALUE_MAX, 0, 1 },
	{ '"', LOG_VALUE_MAX + 10, LOG_VALUE_MAX, 1, 2 },
	{ '\n', LOG_VALUE_MAX + 10, LOG_VALUE_MAX, 1, 4 },
	{ '\xff', 2 * LOG_VALUE_MAX, LOG_VALUE_MAX, 1, 4 },
};

START_TEST(test_value_max_table)
{
	struct t_cap cap;
	struct logbuf lb;
	char *val, *out, one[8], *want;
	size_t len, i, o = 0, n = t_valmax_rows[_i].len;
	const char *rest;

	val = malloc(n);
	ck_assert_ptr_nonnull(val);
	memset(val, t_valmax_rows[_i].byte, n);
	log_escape(&t_valmax_rows[_i].byte, 1, one, sizeof(one));
	ck_assert_uint_eq(strlen(one), t_valmax_rows[_i].esclen);
	want = malloc(64 + LOG_VALUE_MAX * 4);
	ck_assert_ptr_nonnull(want);
	o += (size_t)sprintf(want, " level=info v=%s",
	    t_valmax_rows[_i].quoted ? "\"" : "");
	for (i = 0; i < t_valmax_rows[_i].kept; i++)
		o += (size_t)sprintf(want + o, "%s", one);
	sprintf(want + o, "%s end=1\n", t_valmax_rows[_i].quoted ? "\"" : "");

	log_init(LOG_LEVEL_INFO);
	t_cap_begin(&cap);
	log_begin(&lb, LOG_LEVEL_INFO, NULL);
	log_kv_strn(&lb, "v", val, n);
	log_kv_int(&lb, "end", 1);
	log_end(&lb);
	out = t_cap_end(&cap, &len);
	rest = t_after_ts(out);
	ck_assert_str_eq(rest, want);
	free(out);
	free(want);
	free(val);
}
END_TEST

/*
 * Lines past LOG_LINE_MAX are cut and end with "...\n": one line, never
 * more than LOG_LINE_MAX bytes, and what is kept is the line's beginning.
 */
static const struct {
	char	byte;
	int	nvalues;
} t_linemax_rows[] = {
	{ 'b', 8 },		/* 8 * ~262 bytes: just past the limit */
	{ 'b', 40 },
	{ '\n', 3 },		/* escapes: 1024 bytes a value */
	{ '\n', 20 },
	{ '"', 10 },
	{ ' ', 12 },
};

START_TEST(test_line_max_table)
{
	struct t_cap cap;
	struct logbuf lb;
	char val[LOG_VALUE_MAX], key[16], *out, *full, esc[LOG_VALUE_MAX * 4 + 1];
	const char *rest;
	size_t len, o = 0;
	int i;

	memset(val, t_linemax_rows[_i].byte, sizeof(val));
	log_escape(val, sizeof(val), esc, sizeof(esc));
	full = malloc(64 + (size_t)t_linemax_rows[_i].nvalues * (16 + sizeof(esc)));
	ck_assert_ptr_nonnull(full);
	o += (size_t)sprintf(full, " level=error msg=big");

	log_init(LOG_LEVEL_INFO);
	t_cap_begin(&cap);
	log_begin(&lb, LOG_LEVEL_ERROR, "big");
	for (i = 0; i < t_linemax_rows[_i].nvalues; i++) {
		int q = t_linemax_rows[_i].byte != 'b';

		snprintf(key, sizeof(key), "k%d", i);
		log_kv_strn(&lb, key, val, sizeof(val));
		o += (size_t)sprintf(full + o, " %s=%s%s%s", key, q ? "\"" : "",
		    esc, q ? "\"" : "");
	}
	log_kv_int(&lb, "after", 1);
	log_end(&lb);
	out = t_cap_end(&cap, &len);

	ck_assert_uint_le(len, LOG_LINE_MAX);
	ck_assert_uint_ge(len, LOG_LINE_MAX - 8);
	ck_assert_uint_eq(strlen(out), len);
	ck_assert_uint_eq(t_count(out, len, '\n'), 1);
	ck_assert_str_eq(out + len - 4, "...\n");
	rest = t_after_ts(out);
	/* Everything before "..." is the beginning of the whole line. */
	ck_assert_int_eq(strncmp(rest, full, (size_t)(out + len - 4 - rest)), 0);
	free(full);
	free(out);
}
END_TEST

/* A line that fits is not marked as cut. */
START_TEST(test_line_short_not_cut)
{
	struct t_cap cap;
	struct logbuf lb;
	char val[LOG_VALUE_MAX], *out;
	size_t len;

	memset(val, 'c', sizeof(val));
	log_init(LOG_LEVEL_INFO);
	t_cap_begin(&cap);
	log_begin(&lb, LOG_LEVEL_INFO, "fits");
	log_kv_strn(&lb, "a", val, sizeof(val));
	log_kv_strn(&lb, "b", val, sizeof(val));
	log_end(&lb);
	out = t_cap_end(&cap, &len);
	ck_assert_uint_lt(len, LOG_LINE_MAX / 2);
	ck_assert_int_eq(out[len - 1], '\n');
	ck_assert_int_ne(out[len - 2], '.');
	free(out);
}
END_TEST

/* Level filtering: lines below the minimum are never written. */
START_TEST(test_level_filter_matrix)
{
	enum log_level min = (enum log_level)_i, lvl;
	struct t_cap cap;
	struct logbuf lb;
	char *out;
	size_t len;

	for (lvl = LOG_LEVEL_DEBUG; lvl <= LOG_LEVEL_ERROR; lvl++) {
		int want = lvl >= min;

		log_init(LOG_LEVEL_ERROR);
		log_set_level(min);
		ck_assert_int_eq(log_enabled(lvl) != 0, want);
		t_cap_begin(&cap);
		log_begin(&lb, lvl, "x");
		log_end(&lb);
		out = t_cap_end(&cap, &len);
		if (want) {
			char exp[64];

			snprintf(exp, sizeof(exp), " level=%s msg=x\n",
			    log_level_name(lvl));
			ck_assert_str_eq(t_after_ts(out), exp);
		} else {
			ck_assert_msg(len == 0, "min %s, line at %s written: %s",
			    log_level_name(min), log_level_name(lvl), out);
		}
		free(out);
	}
}
END_TEST

/* The printf-style helpers, at the default level (info). */
START_TEST(test_printf_helpers)
{
	struct t_cap cap;
	char *out, *nl;
	size_t len;
	const char *p;

	log_init(LOG_LEVEL_INFO);
	t_cap_begin(&cap);
	log_debug("hidden %d", 1);
	log_info("started %d threads", 2);
	log_warnx("slow");
	errno = ENOENT;
	log_warn("open %s", "x.db");
	ck_assert_int_eq(errno, ENOENT);
	log_errorx("%s=%d", "a", 3);
	out = t_cap_end(&cap, &len);
	ck_assert_uint_eq(t_count(out, len, '\n'), 4);

	p = out;
	nl = strchr(p, '\n');
	*nl = '\0';
	ck_assert_str_eq(t_after_ts(p), " level=info msg=\"started 2 threads\"");
	p = nl + 1;
	nl = strchr(p, '\n');
	*nl = '\0';
	ck_assert_str_eq(t_after_ts(p), " level=warn msg=slow");
	p = nl + 1;
	nl = strchr(p, '\n');
	*nl = '\0';
	ck_assert_str_eq(t_after_ts(p), " level=warn msg=\"open x.db\" "
	    "err=\"No such file or directory\"");
	p = nl + 1;
	ck_assert_str_eq(t_after_ts(p), " level=error msg=\"a=3\"\n");
	free(out);
}
END_TEST

/* log_mhd() takes a va_list, as libmicrohttpd's logger does. */
static void
t_mhd(const char *prefix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_mhd((void *)(uintptr_t)prefix, fmt, ap);
	va_end(ap);
}

START_TEST(test_mhd_adapter)
{
	struct t_cap cap;
	char *out;
	size_t len;

	log_init(LOG_LEVEL_INFO);
	t_cap_begin(&cap);
	/* libmicrohttpd ends its messages with a newline: one line only. */
	t_mhd("libmicrohttpd", "Error: %s (%d)\r\n\n", "accept", 24);
	out = t_cap_end(&cap, &len);
	ck_assert_uint_eq(t_count(out, len, '\n'), 1);
	ck_assert_str_eq(t_after_ts(out),
	    " level=warn msg=\"libmicrohttpd: Error: accept (24)\"\n");
	free(out);
}
END_TEST

START_TEST(test_fatalx_exits)
{
	int fd = open("/dev/null", O_WRONLY);

	ck_assert_int_ge(fd, 0);
	dup2(fd, STDERR_FILENO);
	fatalx(3, "cannot %s", "start");
}
END_TEST

/* log_level_parse: the four names, any case; nothing else. */
static const struct {
	const char	*s;
	int		 rc;
	enum log_level	 lvl;
} t_parse_rows[] = {
	{ "debug", 0, LOG_LEVEL_DEBUG },
	{ "DEBUG", 0, LOG_LEVEL_DEBUG },
	{ "info", 0, LOG_LEVEL_INFO },
	{ "Info", 0, LOG_LEVEL_INFO },
	{ "INFO", 0, LOG_LEVEL_INFO },
	{ "warn", 0, LOG_LEVEL_WARN },
	{ "wArN", 0, LOG_LEVEL_WARN },
	{ "error", 0, LOG_LEVEL_ERROR },
	{ "ERROR", 0, LOG_LEVEL_ERROR },
	{ "verbose", -1, 0 },
	{ "VERBOSE", -1, 0 },
	{ "", -1, 0 },
	{ "warning", -1, 0 },
	{ "err", -1, 0 },
	{ "inf", -1, 0 },
	{ "info ", -1, 0 },
	{ " info", -1, 0 },
	{ "trace", -1, 0 },
	{ "fatal", -1, 0 },
	{ "0", -1, 0 },
	{ "1", -1, 0 },
	{ "debug\n", -1, 0 },
};

START_TEST(test_level_parse_table)
{
	enum log_level got = (enum log_level)99;
	int rc = log_level_parse(t_parse_rows[_i].s, &got);

	ck_assert_int_eq(rc, t_parse_rows[_i].rc);
	if (rc == 0)
		ck_assert_int_eq(got, t_parse_rows[_i].lvl);
	else
		ck_assert_int_eq(got, 99);	/* untouched on failure */
}
END_TEST

START_TEST(test_level_names)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };
	enum log_level lvl, back;

	for (lvl = LOG_LEVEL_DEBUG; lvl <= LOG_LEVEL_ERROR; lvl++) {
		ck_assert_str_eq(log_level_name(lvl), names[lvl]);
		ck_assert_int_eq(log_level_parse(log_level_name(lvl), &back), 0);
		ck_assert_int_eq(back, lvl);
	}
}
END_TEST

/*
 * Injection: whatever a value holds, one call writes exactly one line of
 * printable ASCII; a forged "\nlevel=error" never starts a line.
 */
static const struct {
	const char	*val;
	size_t		 len;
} t_inject_rows[] = {
	{ T_S("x\nlevel=error msg=forged") },
	{ T_S("x\r\nlevel=error msg=forged") },
	{ T_S("x\rlevel=error msg=forged") },
	{ T_S("\nts=2020-01-01T00:00:00.000Z level=error msg=forged\n") },
	{ T_S("x\x1b[1A\x1b[2Klevel=error msg=forged") },
	{ T_S("x\0\nlevel=error") },
	{ T_S("x\xc2\x85level=error") },		/* U+0085 NEL */
	{ T_S("x\xe2\x80\xa8level=error") },	/* U+2028 LINE SEPARATOR */
	{ T_S("x\" level=error msg=\"forged") },
	{ T_S("x\\\" level=error") },
};

static void
t_assert_one_clean_line(const char *out, size_t len)
{
	size_t i;

	ck_assert_uint_gt(len, 0);
	ck_assert_uint_eq(t_count(out, len, '\n'), 1);
	ck_assert_int_eq(out[len - 1], '\n');
	for (i = 0; i + 1 < len; i++)
		ck_assert_msg(out[i] >= 0x20 && out[i] < 0x7f,
		    "byte 0x%02x at %zu in '%s'", (unsigned char)out[i], i, out);
	ck_assert_ptr_null(strstr(out, "\nlevel="));
	ck_assert_ptr_null(strstr(out, "\nts="));
}

START_TEST(test_inject_table)
{
	struct t_cap cap;
	struct logbuf lb;
	char *out, *msg;
	size_t len;
	const char *v = t_inject_rows[_i].val;
	size_t vlen = t_inject_rows[_i].len;

	/* The forged level must not appear as a real key of the line. */
	log_init(LOG_LEVEL_DEBUG);

	t_cap_begin(&cap);
	log_begin(&lb, LOG_LEVEL_INFO, "req");
	log_kv_strn(&lb, "v", v, vlen);
	log_end(&lb);
	out = t_cap_end(&cap, &len);
	t_assert_one_clean_line(out, len);
	ck_assert_int_eq(strncmp(t_after_ts(out), " level=info msg=req v=\"", 23),
	    0);
	free(out);

	/* As a message, through log_begin and through the printf helpers. */
	msg = malloc(vlen + 1);
	ck_assert_ptr_nonnull(msg);
	memcpy(msg, v, vlen);
	msg[vlen] = '\0';
	t_cap_begin(&cap);
	log_begin(&lb, LOG_LEVEL_DEBUG, msg);
	log_end(&lb);
	out = t_cap_end(&cap, &len);
	t_assert_one_clean_line(out, len);
	free(out);

	t_cap_begin(&cap);
	log_info("got %s", msg);
	out = t_cap_end(&cap, &len);
	t_assert_one_clean_line(out, len);
	ck_assert_int_eq(strncmp(t_after_ts(out), " level=info msg=\"got ", 21),
	    0);
	free(out);
	free(msg);
}
END_TEST

/* The exact escaped form of the classic forgery. */
START_TEST(test_inject_exact)
{
	struct t_cap cap;
	struct logbuf lb;
	char *out;
	size_t len;

	log_init(LOG_LEVEL_INFO);
	t_cap_begin(&cap);
	log_begin(&lb, LOG_LEVEL_INFO, "x");
	log_kv_str(&lb, "client", "c\nlevel=error msg=forged");
	log_end(&lb);
	out = t_cap_end(&cap, &len);
	ck_assert_str_eq(t_after_ts(out), " level=info msg=x "
	    "client=\"c\\x0alevel=error msg=forged\"\n");
	free(out);
}
END_TEST

/* Every byte value in one value, and a newline right at LOG_VALUE_MAX. */
START_TEST(test_inject_every_byte)
{
	struct t_cap cap;
	struct logbuf lb;
	char all[256], edge[LOG_VALUE_MAX + 20], *out;
	size_t len, i;

	for (i = 0; i < sizeof(all); i++)
		all[i] = (char)(255 - i);
	memset(edge, 'e', sizeof(edge));
	edge[LOG_VALUE_MAX - 1] = '\n';
	edge[LOG_VALUE_MAX] = '\n';
	log_init(LOG_LEVEL_INFO);
	t_cap_begin(&cap);
	log_begin(&lb, LOG_LEVEL_INFO, "x");
	log_kv_strn(&lb, "all", all, sizeof(all));
	log_kv_strn(&lb, "edge", edge, sizeof(edge));
	log_end(&lb);
	out = t_cap_end(&cap, &len);
	t_assert_one_clean_line(out, len);
	free(out);
}
END_TEST

/* JSON lines and the journal */

static const struct {
	const char	*in;
	size_t		 len;
	const char	*out;
} t_json_rows[] = {
	{ T_S(""), "" },
	{ T_S("abc = d"), "abc = d" },
	{ T_S("\""), "\\\"" },
	{ T_S("\\"), "\\\\" },
	{ T_S("\n"), "\\u000a" },
	{ T_S("\r\n"), "\\u000d\\u000a" },
	{ T_S("\x1b[31m"), "\\u001b[31m" },
	{ T_S("\x7f"), "\\u007f" },
	{ T_S("\0"), "\\u0000" },
	{ T_S("caf\xc3\xa9"), "caf\\\\xc3\\\\xa9" },	/* decodes to caf\xc3\xa9 */
	{ T_S("\xff"), "\\\\xff" },
};

START_TEST(test_json_escape_table)
{
	char out[128];
	size_t n = log_json_escape(t_json_rows[_i].in, t_json_rows[_i].len, out,
	    sizeof(out));

	ck_assert_str_eq(out, t_json_rows[_i].out);
	ck_assert_uint_eq(n, strlen(t_json_rows[_i].out));
}
END_TEST

/* A short buffer never holds half an escape. */
START_TEST(test_json_escape_cut)
{
	char out[8];

	ck_assert_uint_eq(log_json_escape("ab\x01", 3, out, sizeof(out)), 2);
	ck_assert_str_eq(out, "ab");
	ck_assert_uint_eq(log_json_escape("\xc3", 1, out, 5), 0);
	ck_assert_str_eq(out, "");
}
END_TEST

/* Every byte value, as a value: the line is one object giving it back. */
START_TEST(test_json_line_every_byte)
{
	struct t_cap c;
	struct logbuf lb;
	char in[256], want[256 * 4 + 1], *line;
	size_t len, i;
	json_t *o;
	json_error_t jerr;

	for (i = 0; i < 256; i++)
		in[i] = (char)i;
	log_set_format(LOG_FORMAT_JSON);
	t_cap_begin(&c);
	log_begin(&lb, LOG_LEVEL_WARN, "m\"sg\n");
	log_kv_strn(&lb, "v", in, sizeof(in));
	log_kv_int(&lb, "n", -42);
	log_end(&lb);
	line = t_cap_end(&c, &len);
	ck_assert_int_eq(line[len - 1], '\n');
	ck_assert_uint_eq(t_count(line, len, '\n'), 1);
	ck_assert_msg(strncmp(line, "{\"ts\":\"", 7) == 0, "%s", line);
	o = json_loads(line, JSON_ALLOW_NUL, &jerr);
	ck_assert_msg(o != NULL, "%s: %s", jerr.text, line);
	ck_assert_str_eq(json_string_value(json_object_get(o, "level")), "warn");
	/* A decoded value is the logfmt spelling: printable ASCII only. */
	ck_assert_str_eq(json_string_value(json_object_get(o, "msg")),
	    "m\\\"sg\\x0a");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "n")), -42);
	log_escape(in, sizeof(in), want, sizeof(want));
	ck_assert_str_eq(json_string_value(json_object_get(o, "v")), want);
	for (i = 0; i < json_string_length(json_object_get(o, "v")); i++)
		ck_assert(json_string_value(json_object_get(o, "v"))[i] >= 0x20 &&
		    json_string_value(json_object_get(o, "v"))[i] < 0x7f);
	json_decref(o);
	free(line);
}
END_TEST

/* A line too long for LOG_LINE_MAX still parses, marked truncated. */
START_TEST(test_json_line_cut)
{
	struct t_cap c;
	struct logbuf lb;
	char val[LOG_VALUE_MAX], key[16], *line;
	size_t len;
	int i;
	json_t *o;

	memset(val, '\x01', sizeof(val));
	log_set_format(LOG_FORMAT_JSON);
	t_cap_begin(&c);
	log_begin(&lb, LOG_LEVEL_INFO, "long");
	for (i = 0; i < 8; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		log_kv_strn(&lb, key, val, sizeof(val));
	}
	log_end(&lb);
	line = t_cap_end(&c, &len);
	ck_assert_uint_le(len, LOG_LINE_MAX);
	o = json_loads(line, 0, NULL);
	ck_assert_msg(o != NULL, "%s", line);
	ck_assert(json_is_true(json_object_get(o, "truncated")));
	ck_assert_ptr_nonnull(json_object_get(o, "k0"));
	ck_assert_ptr_null(json_object_get(o, "k7"));
	json_decref(o);
	free(line);
}
END_TEST

/* Journal: "<N>" by level, and logfmt lines without ts=. */
START_TEST(test_journal_prefix)
{
	static const struct {
		enum log_level	 lvl;
		const char	*want;
	} rows[] = {
		{ LOG_LEVEL_DEBUG, "<7>level=debug msg=x\n" },
		{ LOG_LEVEL_INFO, "<6>level=info msg=x\n" },
		{ LOG_LEVEL_WARN, "<4>level=warn msg=x\n" },
		{ LOG_LEVEL_ERROR, "<3>level=error msg=x\n" },
	};
	struct t_cap c;
	struct logbuf lb;
	char *line;
	size_t len, i;
	json_t *o;

	log_init(LOG_LEVEL_DEBUG);
	log_set_journal(1);
	for (i = 0; i < T_NELEM(rows); i++) {
		t_cap_begin(&c);
		log_begin(&lb, rows[i].lvl, "x");
		log_end(&lb);
		line = t_cap_end(&c, &len);
		ck_assert_str_eq(line, rows[i].want);
		free(line);
	}
	log_set_format(LOG_FORMAT_JSON);
	t_cap_begin(&c);
	log_info("y");
	line = t_cap_end(&c, &len);
	ck_assert_msg(strncmp(line, "<6>{\"ts\":\"", 10) == 0, "%s", line);
	o = json_loads(line + 3, 0, NULL);
	ck_assert_ptr_nonnull(o);
	json_decref(o);
	free(line);
}
END_TEST

/* JOURNAL_STREAM must name this very fd's device and inode. */
START_TEST(test_journal_match)
{
	FILE *f = tmpfile(), *g = tmpfile();
	struct stat sb;
	char js[64];

	ck_assert_int_eq(fstat(fileno(f), &sb), 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)sb.st_dev,
	    (unsigned long long)sb.st_ino);
	ck_assert_int_eq(log_journal_match(js, fileno(f)), 1);
	ck_assert_int_eq(log_journal_match(js, fileno(g)), 0);
	ck_assert_int_eq(log_journal_match(NULL, fileno(f)), 0);
	ck_assert_int_eq(log_journal_match("", fileno(f)), 0);
	ck_assert_int_eq(log_journal_match("1:", fileno(f)), 0);
	ck_assert_int_eq(log_journal_match("x:1", fileno(f)), 0);
	strcat(js, "x");
	ck_assert_int_eq(log_journal_match(js, fileno(f)), 0);
	ck_assert_int_eq(log_format_parse("json", &(enum log_format){0}), 0);
	ck_assert_int_eq(log_format_parse("xml", &(enum log_format){0}), -1);
	fclose(f);
	fclose(g);
}
END_TEST

/* The refusal rate limiter and the sink's buffer */

#define T_T0	5000000ull	/* a mono time, microseconds */

/* Take the "ts=... " off every logfmt line, in place. */
static void
t_strip_ts(char *s)
{
	char *w = s, *r = s;

	while (*r != '\0') {
		if (strncmp(r, "ts=", 3) == 0)
			r = strchr(r, ' ') + 1;
		while (*r != '\0' && (*w++ = *r++) != '\n')
			;
	}
	*w = '\0';
}

/*
 * Per key, LOG_LIMIT_BURST lines a window; the rest are counted and said
 * in one summary when the window ends, at a sweep or at the key's next
 * line; another key has its own budget.
 */
START_TEST(test_limit_burst)
{
	struct log_sink_stats st;
	struct t_cap c;
	char *out;
	size_t len;
	int i;

	log_init(LOG_LEVEL_INFO);
	log_set_journal(0);
	t_cap_begin(&c);
	for (i = 0; i < LOG_LIMIT_BURST; i++)
		ck_assert_int_eq(log_limit(404, "unknown_path", T_T0 + i), 1);
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(log_limit(404, "unknown_path", T_T0 + 100 + i), 0);
	ck_assert_int_eq(log_limit(401, "mismatch", T_T0 + 200), 1);
	ck_assert_int_eq(log_limit(401, "unknown_path", T_T0 + 200), 1);
	log_limit_sweep(T_T0 + LOG_LIMIT_WINDOW_US - 1);	/* not yet */
	log_limit_sweep(T_T0 + LOG_LIMIT_WINDOW_US);
	/* A new window: lines again; its suppressed one summed at the next. */
	for (i = 0; i <= LOG_LIMIT_BURST; i++)
		ck_assert_int_eq(log_limit(404, "unknown_path",
		    T_T0 + 2 * LOG_LIMIT_WINDOW_US + i), i < LOG_LIMIT_BURST);
	ck_assert_int_eq(log_limit(404, "unknown_path",
	    T_T0 + 4 * LOG_LIMIT_WINDOW_US), 1);
	out = t_cap_end(&c, &len);
	t_strip_ts(out);
	ck_assert_str_eq(out,
	    "level=warn msg=\"5 similar refusals suppressed\" status=404 "
	    "reason=unknown_path suppressed=5\n"
	    "level=warn msg=\"1 similar refusals suppressed\" status=404 "
	    "reason=unknown_path suppressed=1\n");
	free(out);
	log_sink_stats(&st);
	ck_assert_uint_eq(st.suppressed, 6);
}
END_TEST

/* The summary in JSON: the same fields, the count a number. */
START_TEST(test_limit_json)
{
	struct t_cap c;
	json_t *j;
	char *out;
	size_t len;
	int i;

	log_init(LOG_LEVEL_INFO);
	log_set_journal(0);
	log_set_format(LOG_FORMAT_JSON);
	t_cap_begin(&c);
	for (i = 0; i < LOG_LIMIT_BURST + 3; i++)
		(void)log_limit(401, "mismatch", T_T0);
	log_limit_sweep(T_T0 + LOG_LIMIT_WINDOW_US);
	out = t_cap_end(&c, &len);
	ck_assert_uint_eq(t_count(out, len, '\n'), 1);
	j = json_loads(out, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_object_get(j, "level")), "warn");
	ck_assert_str_eq(json_string_value(json_object_get(j, "msg")),
	    "3 similar refusals suppressed");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), 401);
	ck_assert_str_eq(json_string_value(json_object_get(j, "reason")),
	    "mismatch");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "suppressed")), 3);
	json_decref(j);
	free(out);
}
END_TEST

/*
 * The table is fixed: past LOG_LIMIT_SLOTS keys, every other key shares
 * one budget, summarised as reason "other" with no status.
 */
START_TEST(test_limit_table_bounded)
{
	struct t_cap c;
	char reason[32], *out, *last;
	size_t len;
	int i;

	log_init(LOG_LEVEL_INFO);
	log_set_journal(0);
	for (i = 0; i < LOG_LIMIT_SLOTS; i++) {
		snprintf(reason, sizeof(reason), "r%d", i);
		ck_assert_int_eq(log_limit(400, reason, T_T0), 1);
	}
	for (i = 0; i < LOG_LIMIT_BURST; i++) {
		snprintf(reason, sizeof(reason), "extra%d", i);
		ck_assert_int_eq(log_limit(400, reason, T_T0), 1);
	}
	/* A new key, and one too long for a slot: both share "other". */
	ck_assert_int_eq(log_limit(401, "yet_another", T_T0), 0);
	memset(reason, 'x', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	ck_assert_int_eq(log_limit(401, reason, T_T0), 0);
	ck_assert_int_eq(log_limit(400, "r0", T_T0), 1);	/* its own slot */
	t_cap_begin(&c);
	log_limit_sweep(T_T0 + LOG_LIMIT_WINDOW_US);
	out = t_cap_end(&c, &len);
	ck_assert_uint_eq(t_count(out, len, '\n'), 1);
	last = strstr(out, "level=");
	ck_assert_ptr_nonnull(last);
	ck_assert_str_eq(last, "level=warn msg=\"2 similar refusals "
	    "suppressed\" reason=other suppressed=2\n");
	free(out);
}
END_TEST

struct t_pipe {
	int	rd, wr;
};

static void
t_pipe_open(struct t_pipe *p)
{
	int fds[2];

	ck_assert_int_eq(pipe(fds), 0);
	p->rd = fds[0];
	p->wr = fds[1];
}

/* Everything the pipe holds now (non-blocking); caller frees. */
static char *
t_pipe_read(int fd, size_t *lenp)
{
	char *buf = NULL, chunk[4096];
	size_t len = 0;
	ssize_t n;

	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		buf = realloc(buf, len + (size_t)n + 1);
		ck_assert_ptr_nonnull(buf);
		memcpy(buf + len, chunk, (size_t)n);
		len += (size_t)n;
	}
	if (buf == NULL)
		buf = calloc(1, 1);
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/*
 * A sink nobody reads: the pipe fills, then the buffer; every later line
 * is dropped and counted, and no caller ever waits.  The write in
 * progress is reported as blocked, and stopping gives up at its deadline
 * and drops whatever comes after.
 */
START_TEST(test_sink_full_drops)
{
	struct log_sink_stats st;
	struct t_pipe p;
	char err[128], pad[200];
	uint64_t t0, dt, dropped;
	int i, n = 4000;

	log_init(LOG_LEVEL_INFO);
	log_set_journal(0);
	t_pipe_open(&p);
	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	/* Full, as a reader that stopped leaves it. */
	ck_assert_int_eq(fcntl(p.wr, F_SETFL, O_NONBLOCK), 0);
	while (write(p.wr, pad, sizeof(pad)) > 0)
		;
	while (write(p.wr, pad, 1) > 0)
		;
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(fcntl(p.wr, F_SETFL, 0), 0);
	ck_assert_int_eq(log_sink_start(p.wr, 16384, err, sizeof(err)), 0);
	t0 = util_mono_us();
	for (i = 0; i < n; i++)
		log_info("line %d %s", i, pad);	/* 4000 x 250 B: 1 MB */
	dt = util_mono_us() - t0;
	ck_assert_msg(dt < 1000000, "logging took %llu us",
	    (unsigned long long)dt);
	usleep(300000);
	log_sink_stats(&st);
	ck_assert_uint_gt(st.dropped, 0);
	ck_assert_uint_eq(st.lines + st.dropped, (uint64_t)n);
	ck_assert_uint_gt(st.pending, 0);
	ck_assert_uint_le(st.pending, 16384);
	ck_assert_uint_ge(st.blocked_us, 200000);
	ck_assert_uint_eq(st.bytes_written, 0);

	t0 = util_mono_us();
	ck_assert_int_eq(log_sink_stop(200000), -1);
	dt = util_mono_us() - t0;
	ck_assert_msg(dt >= 190000 && dt < 1000000, "stop took %llu us",
	    (unsigned long long)dt);
	/* What was pending counts as dropped too. */
	log_sink_stats(&st);
	ck_assert_uint_gt(st.lines + st.dropped, (uint64_t)n);
	dropped = st.dropped;
	log_info("after the stop");	/* dropped, never blocks */
	log_sink_stats(&st);
	ck_assert_uint_eq(st.dropped, dropped + 1);
}
END_TEST

/*
 * A sink that reads: every line arrives whole and in order, exactly as
 * the line written directly, and stop flushes before it returns; later
 * lines are written directly again.
 */
START_TEST(test_sink_flush)
{
	struct log_sink_stats st;
	struct t_pipe p;
	char err[128], *out, *line, want[64];
	size_t len;
	int i, n = 200;

	log_init(LOG_LEVEL_INFO);
	log_set_journal(0);
	t_pipe_open(&p);
	ck_assert_int_eq(log_sink_start(p.wr, 1u << 20, err, sizeof(err)), 0);
	ck_assert_int_eq(log_sink_start(p.wr, 1024, err, sizeof(err)), -1);
	for (i = 0; i < n; i++)
		log_info("line %d", i);
	ck_assert_int_eq(log_sink_stop(2000000), 0);
	log_sink_stats(&st);
	ck_assert_uint_eq(st.lines, (uint64_t)n);
	ck_assert_uint_eq(st.dropped, 0);
	ck_assert_uint_eq(st.pending, 0);
	out = t_pipe_read(p.rd, &len);
	ck_assert_uint_eq(st.bytes_written, len);
	ck_assert_uint_eq(t_count(out, len, '\n'), (size_t)n);
	for (i = 0, line = out; i < n; i++) {
		ck_assert(strncmp(line, "ts=", 3) == 0);
		snprintf(want, sizeof(want), " level=info msg=\"line %d\"\n", i);
		ck_assert_msg(strncmp(strchr(line, ' '), want, strlen(want)) ==
		    0, "line %d: %s", i, line);
		line = strchr(line, '\n') + 1;
	}
	free(out);
	/* Stopped: the caller's own write(2) again, to fd 2. */
	{
		struct t_cap c;

		t_cap_begin(&c);
		log_info("direct");
		out = t_cap_end(&c, &len);
		ck_assert_ptr_nonnull(strstr(out, "msg=direct\n"));
		free(out);
	}
	close(p.rd);
	close(p.wr);
}
END_TEST

Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc;

	tc = tcase_create("json");
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, test_json_escape_table, 0,
	    (int)T_NELEM(t_json_rows));
	tcase_add_test(tc, test_json_escape_cut);
	tcase_add_test(tc, test_json_line_every_byte);
	tcase_add_test(tc, test_json_line_cut);
	tcase_add_test(tc, test_journal_prefix);
	tcase_add_test(tc, test_journal_match);
	suite_add_tcase(s, tc);

	tc = tcase_create("escape");
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, test_escape_table, 0, (int)T_NELEM(t_esc_rows));
	tcase_add_loop_test(tc, test_escape_cut_table, 0,
	    (int)T_NELEM(t_esc_cut_rows));
	tcase_add_test(tc, test_escape_outcap_zero);
	tcase_add_test(tc, test_escape_cut_every_cap);
	tcase_add_test(tc, test_escape_every_byte);
	suite_add_tcase(s, tc);

	tc = tcase_create("line");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_line_shape);
	tcase_add_test(tc, test_line_msg);
	tcase_add_loop_test(tc, test_quote_table, 0, (int)T_NELEM(t_quote_rows));
	tcase_add_test(tc, test_kv_str_null);
	tcase_add_loop_test(tc, test_kv_int_table, 0, (int)T_NELEM(t_int_rows));
	tcase_add_loop_test(tc, test_value_max_table, 0,
	    (int)T_NELEM(t_valmax_rows));
	tcase_add_loop_test(tc, test_line_max_table, 0,
	    (int)T_NELEM(t_linemax_rows));
	tcase_add_test(tc, test_line_short_not_cut);
	suite_add_tcase(s, tc);

	tc = tcase_create("level");
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, test_level_filter_matrix, LOG_LEVEL_DEBUG,
	    LOG_LEVEL_ERROR + 1);
	tcase_add_test(tc, test_printf_helpers);
	tcase_add_test(tc, test_mhd_adapter);
	/* An exit test would end the whole run without fork. */
	if (getenv("CK_FORK") == NULL || strcmp(getenv("CK_FORK"), "no") != 0)
		tcase_add_exit_test(tc, test_fatalx_exits, 3);
	tcase_add_loop_test(tc, test_level_parse_table, 0,
	    (int)T_NELEM(t_parse_rows));
	tcase_add_test(tc, test_level_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("injection");
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, test_inject_table, 0, (int)T_NELEM(t_inject_rows));
	tcase_add_test(tc, test_inject_exact);
	tcase_add_test(tc, test_inject_every_byte);
	suite_add_tcase(s, tc);

	tc = tcase_create("limit");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_limit_burst);
	tcase_add_test(tc, test_limit_json);
	tcase_add_test(tc, test_limit_table_bounded);
	tcase_add_test(tc, test_sink_full_drops);
	tcase_add_test(tc, test_sink_flush);
	suite_add_tcase(s, tc);

	return s;
}
