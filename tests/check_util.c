/*
 * check_util.c - util.c: hex, the ISO clock, the monotonic clock, the
 * CSPRNG wrapper and the start-up allocators.
 *
 * Tables run as Check loop tests, so a failure names the row.  Each test
 * forks (Check's default), so a crash fails one test.
 */
#include <regex.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "suites.h"
#include "util.h"

#define T_NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define T_CANARY 0x5a

/* util_hex */

static const struct {
	const char	*in;	/* bytes */
	size_t		 len;
	const char	*hex;
} t_hex_rows[] = {
	{ "", 0, "" },
	{ "\x00", 1, "00" },
	{ "\xff", 1, "ff" },
	{ "\x0f", 1, "0f" },
	{ "\xf0", 1, "f0" },
	{ "\x01\x23\x45\x67\x89\xab\xcd\xef", 8, "0123456789abcdef" },
	{ "\xfe\xdc\xba\x98\x76\x54\x32\x10", 8, "fedcba9876543210" },
	{ "abc", 3, "616263" },
	{ "\x00\x00\x00", 3, "000000" },
	{ "a\0b", 3, "610062" },
};

START_TEST(test_hex_table)
{
	char out[64];
	size_t want = strlen(t_hex_rows[_i].hex);

	memset(out, T_CANARY, sizeof(out));
	util_hex((const unsigned char *)t_hex_rows[_i].in, t_hex_rows[_i].len,
	    out);
	ck_assert_str_eq(out, t_hex_rows[_i].hex);
	ck_assert_uint_eq(strlen(out), 2 * t_hex_rows[_i].len);
	/* Exactly 2*len+1 bytes written, nothing beyond. */
	ck_assert_int_eq(out[want + 1], T_CANARY);
}
END_TEST

/* Every byte value, against printf. */
START_TEST(test_hex_all_bytes)
{
	unsigned char in[256];
	char out[2 * 256 + 2], want[3];
	size_t i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)i;
	memset(out, T_CANARY, sizeof(out));
	util_hex(in, sizeof(in), out);
	ck_assert_uint_eq(strlen(out), 512);
	ck_assert_int_eq(out[513], T_CANARY);
	for (i = 0; i < sizeof(in); i++) {
		char got[3] = { out[2 * i], out[2 * i + 1], '\0' };

		snprintf(want, sizeof(want), "%02x", (unsigned)i);
		ck_assert_str_eq(got, want);
	}
}
END_TEST

/* util_now_iso */

#define T_ISO_RE "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T" \
	"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\\.[0-9]{3}Z$"

START_TEST(test_now_iso_shape)
{
	char buf[UTIL_ISO_TIME_LEN];
	regex_t re;
	int i;

	ck_assert_int_eq(regcomp(&re, T_ISO_RE, REG_EXTENDED | REG_NOSUB), 0);
	for (i = 0; i < 200; i++) {
		memset(buf, T_CANARY, sizeof(buf));
		util_now_iso(buf);
		ck_assert_uint_eq(strlen(buf), 24);
		ck_assert_msg(regexec(&re, buf, 0, NULL, 0) == 0,
		    "'%s' is not YYYY-MM-DDTHH:MM:SS.mmmZ", buf);
	}
	regfree(&re);
}
END_TEST

/* The time is UTC and is now, to the second. */
START_TEST(test_now_iso_is_now_utc)
{
	char buf[UTIL_ISO_TIME_LEN], lo[32], hi[32], got[32];
	struct tm tm;
	struct timespec ts;
	time_t before, after;

	/*
	 * clock_gettime, not time(): glibc's time() reads the coarse clock,
	 * which can still say the last second a few ms into the next.
	 */
	ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &ts), 0);
	before = ts.tv_sec;
	util_now_iso(buf);
	ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &ts), 0);
	after = ts.tv_sec;
	gmtime_r(&before, &tm);
	strftime(lo, sizeof(lo), "%Y-%m-%dT%H:%M:%S", &tm);
	gmtime_r(&after, &tm);
	strftime(hi, sizeof(hi), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(got, sizeof(got), "%.19s", buf);
	ck_assert_msg(strcmp(got, lo) >= 0 && strcmp(got, hi) <= 0,
	    "util_now_iso() gave %s, expected between %s and %s", got, lo, hi);
}
END_TEST

/* Milliseconds move: within a second of calls they are not stuck at 000. */
START_TEST(test_now_iso_millis_move)
{
	char a[UTIL_ISO_TIME_LEN], b[UTIL_ISO_TIME_LEN];
	struct timespec d = { 0, 3 * 1000 * 1000 };
	int i, differ = 0;

	util_now_iso(a);
	for (i = 0; i < 50 && !differ; i++) {
		nanosleep(&d, NULL);
		util_now_iso(b);
		differ = strcmp(a, b) != 0;
		/* Lexical order is time order in this format. */
		ck_assert_msg(strcmp(a, b) <= 0, "%s after %s", a, b);
	}
	ck_assert_msg(differ, "util_now_iso() stuck at %s", a);
}
END_TEST

/* util_mono_us */

START_TEST(test_mono_monotonic)
{
	uint64_t prev = util_mono_us(), now;
	int i;

	ck_assert_uint_gt(prev, 0);
	for (i = 0; i < 200000; i++) {
		now = util_mono_us();
		ck_assert_uint_ge(now, prev);
		prev = now;
	}
}
END_TEST

START_TEST(test_mono_measures_sleep)
{
	struct timespec d = { 0, 20 * 1000 * 1000 };
	uint64_t a, b;

	a = util_mono_us();
	ck_assert_int_eq(nanosleep(&d, NULL), 0);
	b = util_mono_us();
	/* Microseconds, not milliseconds or nanoseconds. */
	ck_assert_uint_ge(b - a, 20000);
	ck_assert_uint_lt(b - a, 5000000);
}
END_TEST

/* util_random */

static int
t_all_zero(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

START_TEST(test_random_fills)
{
	static const size_t sizes[] = { 1, 16, 32, 64, 4096 };
	unsigned char buf[4096 + 1];
	size_t i;

	for (i = 0; i < T_NELEM(sizes); i++) {
		size_t n = sizes[i];
		int attempt, nonzero = 0;

		/* One byte is zero with probability 1/256: allow retries. */
		for (attempt = 0; attempt < 8 && !nonzero; attempt++) {
			memset(buf, 0, sizeof(buf));
			buf[n] = T_CANARY;
			ck_assert_int_eq(util_random(buf, n), 0);
			ck_assert_int_eq(buf[n], T_CANARY);
			nonzero = !t_all_zero(buf, n);
		}
		ck_assert_msg(nonzero, "util_random left %zu bytes zero", n);
	}
}
END_TEST

START_TEST(test_random_differs)
{
	unsigned char a[32], b[32];
	int i;

	ck_assert_int_eq(util_random(a, sizeof(a)), 0);
	for (i = 0; i < 100; i++) {
		ck_assert_int_eq(util_random(b, sizeof(b)), 0);
		ck_assert_msg(memcmp(a, b, sizeof(a)) != 0,
		    "two util_random() calls returned the same 32 bytes");
		memcpy(a, b, sizeof(a));
	}
}
END_TEST

/* Crude sanity: 64 KiB of output uses every byte value and is balanced. */
START_TEST(test_random_spread)
{
	static unsigned char buf[65536];
	unsigned seen[256] = { 0 };
	unsigned long ones = 0;
	size_t i;
	int b, distinct = 0;

	ck_assert_int_eq(util_random(buf, sizeof(buf)), 0);
	for (i = 0; i < sizeof(buf); i++) {
		seen[buf[i]]++;
		for (b = 0; b < 8; b++)
			ones += (buf[i] >> b) & 1u;
	}
	for (b = 0; b < 256; b++)
		distinct += seen[b] != 0;
	ck_assert_int_eq(distinct, 256);
	/* 524288 bits: mean 262144, sd 362; 10 sd either side. */
	ck_assert_uint_gt(ones, 262144 - 3620);
	ck_assert_uint_lt(ones, 262144 + 3620);
}
END_TEST

START_TEST(test_random_zero_length)
{
	unsigned char buf[1] = { T_CANARY };

	ck_assert_int_eq(util_random(buf, 0), 0);
	ck_assert_int_eq(buf[0], T_CANARY);
}
END_TEST

/* Allocators */

START_TEST(test_xalloc)
{
	unsigned char *p;
	char *s;
	size_t i;

	p = xmalloc(0);
	ck_assert_ptr_nonnull(p);
	free(p);
	p = xcalloc(0, 0);
	ck_assert_ptr_nonnull(p);
	free(p);

	p = xcalloc(100, 3);
	ck_assert_ptr_nonnull(p);
	for (i = 0; i < 300; i++)
		ck_assert_uint_eq(p[i], 0);
	memset(p, 'x', 300);
	p = xrealloc(p, 10000);
	ck_assert_ptr_nonnull(p);
	for (i = 0; i < 300; i++)
		ck_assert_uint_eq(p[i], 'x');
	free(p);

	p = xrealloc(NULL, 16);
	ck_assert_ptr_nonnull(p);
	free(p);

	s = xstrdup("antom");
	ck_assert_str_eq(s, "antom");
	free(s);
	s = xstrdup("");
	ck_assert_str_eq(s, "");
	free(s);
}
END_TEST

#if defined(__SANITIZE_ADDRESS__)
#define T_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_ASAN 1
#endif
#endif

#ifndef T_ASAN
/* Start-up allocators die with exit status 1 rather than return NULL. */
START_TEST(test_xmalloc_oom_exits)
{
	volatile size_t huge = SIZE_MAX / 2;
	void *p;

	fclose(stderr);		/* keep "fatal: out of memory" off the report */
	p = xmalloc(huge);
	free(p);
}
END_TEST
#endif

START_TEST(test_parse_long)
{
	static const struct { const char *s; long min, max; int rc; long v; } t[] = {
		{ "0", 0, 10, 0, 0 }, { "10", 0, 10, 0, 10 }, { "11", 0, 10, -1, 0 },
		{ "007", 0, 10, 0, 7 }, { "", 0, 10, -1, 0 }, { "-1", -5, 10, -1, 0 },
		{ "+1", 0, 10, -1, 0 }, { " 1", 0, 10, -1, 0 }, { "1 ", 0, 10, -1, 0 },
		{ "1x", 0, 10, -1, 0 }, { "3", 5, 10, -1, 0 },
		{ "9223372036854775807", 0, LONG_MAX, 0, LONG_MAX },
		{ "9223372036854775808", 0, LONG_MAX, -1, 0 },
	};
	size_t i;
	long v;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		v = -42;
		ck_assert_msg(util_parse_long(t[i].s, t[i].min, t[i].max, &v) ==
		    t[i].rc, "'%s'", t[i].s);
		if (t[i].rc == 0)
			ck_assert_int_eq(v, t[i].v);
		else
			ck_assert_int_eq(v, -42);
	}
}
END_TEST

Suite *
util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc;

	tc = tcase_create("hex");
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, test_hex_table, 0, (int)T_NELEM(t_hex_rows));
	tcase_add_test(tc, test_hex_all_bytes);
	tcase_add_test(tc, test_parse_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("now_iso");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_now_iso_shape);
	tcase_add_test(tc, test_now_iso_is_now_utc);
	tcase_add_test(tc, test_now_iso_millis_move);
	suite_add_tcase(s, tc);

	tc = tcase_create("mono_us");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_mono_monotonic);
	tcase_add_test(tc, test_mono_measures_sleep);
	suite_add_tcase(s, tc);

	tc = tcase_create("random");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_random_fills);
	tcase_add_test(tc, test_random_differs);
	tcase_add_test(tc, test_random_spread);
	tcase_add_test(tc, test_random_zero_length);
	suite_add_tcase(s, tc);

	tc = tcase_create("xalloc");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_xalloc);
#ifndef T_ASAN
	/* An exit test would end the whole run without fork. */
	if (getenv("CK_FORK") == NULL || strcmp(getenv("CK_FORK"), "no") != 0)
		tcase_add_exit_test(tc, test_xmalloc_oom_exits, 1);
#endif
	suite_add_tcase(s, tc);

	return s;
}
