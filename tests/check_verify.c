/*
 * check_verify.c - the signature module: header parsing, strict %XX and
 * base64 decoding, key loading, the keyring, every known-answer vector in
 * tests/vectors/, the path?query retry and key rotation.
 *
 * Each test builds what it needs; nothing is shared between tests, so
 * they also pass with CK_FORK=no.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "sign.h"
#include "suites.h"
#include "verify.h"

#define TEST_CLIENT	"SANDBOX_5YEZ4X2ZEB3C05479"
#define TEST_ROUTE	"/antom/notify"

/*
 * A 256-byte signature-shaped blob whose base64 holds '+' and '/', so
 * that the %XX and raw spellings really differ.
 */
struct tsig {
	unsigned char	bytes[256];
	char		b64[400];	/* raw base64 */
	char		pct[1200];	/* %2B %2F %3D, as Antom sends it */
};

static void
tsig_make(struct tsig *t)
{
	const char *s;
	char *o;
	size_t i;

	for (i = 0; i < sizeof(t->bytes); i++)
		t->bytes[i] = (unsigned char)(i * 37 + 11);
	t->bytes[0] = 0xfb;	/* "++" at the start */
	t->bytes[1] = 0xef;
	t->bytes[2] = 0xbe;
	t->bytes[3] = 0xff;	/* "////" after it */
	t->bytes[4] = 0xff;
	t->bytes[5] = 0xff;
	verify_b64_encode(t->bytes, sizeof(t->bytes), t->b64);
	for (s = t->b64, o = t->pct; *s != '\0'; s++) {
		if (*s == '+' || *s == '/' || *s == '=')
			o += sprintf(o, "%%%02X", (unsigned char)*s);
		else
			*o++ = *s;
	}
	*o = '\0';
}

static EVP_PKEY *
load_pub(const char *rel)
{
	char path[1024], err[256] = "";
	EVP_PKEY *pkey;

	pkey = verify_key_load(test_path(path, sizeof(path), rel), err,
	    sizeof(err));
	ck_assert_msg(pkey != NULL, "%s: %s", rel, err);
	return pkey;
}

static EVP_PKEY *
load_priv(void)
{
	char path[1024], err[256] = "";
	EVP_PKEY *pkey;

	pkey = sign_key_load(test_path(path, sizeof(path),
	    "vectors/test-antom-private.pem"), err, sizeof(err));
	ck_assert_msg(pkey != NULL, "%s", err);
	return pkey;
}

static struct verify_keyring *
ring_one(const char *client, long version, EVP_PKEY *pkey)
{
	struct verify_keyring *kr;
	char err[256] = "";

	ck_assert_ptr_nonnull(kr = verify_keyring_new());
	ck_assert_msg(verify_keyring_add(kr, client, version, pkey, err,
	    sizeof(err)) == 0, "%s", err);
	return kr;
}

static json_t *
load_vectors(const char *rel)
{
	char path[1024];
	json_error_t jerr;
	json_t *v;

	v = json_load_file(test_path(path, sizeof(path), rel), 0, &jerr);
	ck_assert_msg(v != NULL, "%s:%d: %s", rel, jerr.line, jerr.text);
	ck_assert(json_is_array(v));
	return v;
}

/* Header names are case-insensitive (docs/protocol.md section 1.2). */
static const char *
vec_header(json_t *vec, const char *name)
{
	const char *key;
	json_t *val;

	json_object_foreach(json_object_get(vec, "headers"), key, val) {
		if (strcasecmp(key, name) == 0)
			return json_string_value(val);
	}
	return NULL;
}

/* Verify one vector against a keyring holding just its key as version 1. */
static enum verify_result
vec_verify(json_t *vec, struct verify_keyring *kr, struct verify_match *m,
    char *route, size_t routecap)
{
	struct verify_input in;
	const char *path, *q;

	path = json_string_value(json_object_get(vec, "path"));
	ck_assert_ptr_nonnull(path);
	q = strchr(path, '?');
	ck_assert_uint_lt(q != NULL ? (size_t)(q - path) : strlen(path),
	    routecap);
	snprintf(route, routecap, "%.*s",
	    (int)(q != NULL ? (size_t)(q - path) : strlen(path)), path);

	memset(&in, 0, sizeof(in));
	in.content.path = route;
	in.query = q != NULL ? q + 1 : NULL;
	in.content.client_id = vec_header(vec, "client-id");
	in.content.request_time = vec_header(vec, "request-time");
	in.sig_header = vec_header(vec, "signature");
	in.content.body = (const unsigned char *)json_string_value(
	    json_object_get(vec, "body"));
	ck_assert_ptr_nonnull(in.content.client_id);
	ck_assert_ptr_nonnull(in.content.request_time);
	ck_assert_ptr_nonnull(in.sig_header);
	ck_assert_ptr_nonnull(in.content.body);
	in.content.bodylen = json_string_length(json_object_get(vec, "body"));
	memset(m, 0, sizeof(*m));
	return verify_request(kr, &in, m);
}

/* ---- verify_result_str ---- */

START_TEST(test_result_str)
{
	ck_assert_str_eq(verify_result_str(VERIFY_OK), "ok");
	ck_assert_str_eq(verify_result_str(VERIFY_ERR_HEADER), "bad_header");
	ck_assert_str_eq(verify_result_str(VERIFY_ERR_ALGORITHM),
	    "bad_algorithm");
	ck_assert_str_eq(verify_result_str(VERIFY_ERR_KEY_VERSION),
	    "bad_key_version");
	ck_assert_str_eq(verify_result_str(VERIFY_ERR_ENCODING),
	    "bad_encoding");
	ck_assert_str_eq(verify_result_str(VERIFY_ERR_LENGTH), "bad_length");
	ck_assert_str_eq(verify_result_str(VERIFY_ERR_CLIENT),
	    "unknown_client");
	ck_assert_str_eq(verify_result_str(VERIFY_ERR_MISMATCH), "mismatch");
	ck_assert_str_eq(verify_result_str(VERIFY_ERR_INTERNAL), "internal");
	ck_assert_str_eq(verify_result_str((enum verify_result)99), "internal");
}
END_TEST

/* ---- verify_pct_decode ---- */

static void
pct_ok(const char *in, const char *want, size_t wantlen)
{
	char out[64];
	size_t n = 999;

	ck_assert_msg(verify_pct_decode(in, strlen(in), out, sizeof(out),
	    &n) == 0, "\"%s\" rejected", in);
	ck_assert_uint_eq(n, wantlen);
	ck_assert_msg(memcmp(out, want, n) == 0, "\"%s\" decoded wrong", in);
}

START_TEST(test_pct_valid)
{
	pct_ok("", "", 0);
	pct_ok("abc", "abc", 3);
	pct_ok("%2B%2F%3D", "+/=", 3);
	pct_ok("%2b%2f%3d", "+/=", 3);
	pct_ok("%2b%2F%3D%3d", "+/==", 4);
	pct_ok("a+b", "a+b", 3);		/* '+' is not a space */
	pct_ok("++%2B+", "++++", 4);
	pct_ok("%41%7a%7A", "Azz", 3);
	pct_ok("%00x", "\0x", 2);
	pct_ok("%25%32%42", "%2B", 3);		/* decoded once only */
}
END_TEST

START_TEST(test_pct_invalid)
{
	static const char *const bad[] = {
		"%", "%2", "abc%", "abc%4", "%2G", "%G2", "%%41", "% 41",
		"%-1", "%+1", "%\3771", "x%zz",
	};
	char out[64];
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(verify_pct_decode(bad[i], strlen(bad[i]), out,
		    sizeof(out), &n) == -1, "\"%s\" accepted", bad[i]);
	/* The input is length-bounded: a NUL is data, not the end. */
	ck_assert_int_eq(verify_pct_decode("%4\0", 3, out, sizeof(out), &n), -1);
}
END_TEST

START_TEST(test_pct_capacity)
{
	char buf[32], out[4];
	size_t n;

	ck_assert_int_eq(verify_pct_decode("abc", 3, out, 2, &n), -1);
	ck_assert_int_eq(verify_pct_decode("abc", 3, out, 3, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(verify_pct_decode("%41%42", 6, out, 2, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(verify_pct_decode("%41%42", 6, out, 1, &n), -1);
	ck_assert_int_eq(verify_pct_decode("", 0, NULL, 0, &n), 0);
	ck_assert_uint_eq(n, 0);

	/* In place, as the header parser may do. */
	strcpy(buf, "x%2By%2fz%3D");
	ck_assert_int_eq(verify_pct_decode(buf, strlen(buf), buf, sizeof(buf),
	    &n), 0);
	ck_assert_uint_eq(n, 6);
	ck_assert_int_eq(memcmp(buf, "x+y/z=", 6), 0);
}
END_TEST

/* ---- verify_b64_decode / verify_b64_encode ---- */

START_TEST(test_b64_rfc4648)
{
	static const char *const plain[] = {
		"", "f", "fo", "foo", "foob", "fooba", "foobar"
	};
	static const char *const enc[] = {
		"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"
	};
	unsigned char out[16];
	char b64[16];
	size_t i, n;

	for (i = 0; i < 7; i++) {
		verify_b64_encode((const unsigned char *)plain[i],
		    strlen(plain[i]), b64);
		ck_assert_str_eq(b64, enc[i]);
		ck_assert_msg(verify_b64_decode(enc[i], strlen(enc[i]), out,
		    sizeof(out), &n) == 0, "\"%s\" rejected", enc[i]);
		ck_assert_uint_eq(n, strlen(plain[i]));
		ck_assert_int_eq(memcmp(out, plain[i], n), 0);
	}
	ck_assert_int_eq(verify_b64_decode("+/+/", 4, out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(out[0], 0xfb);
	ck_assert_uint_eq(out[1], 0xff);
	ck_assert_uint_eq(out[2], 0xbf);
}
END_TEST

START_TEST(test_b64_roundtrip)
{
	unsigned char in[300], out[300];
	char b64[4 * (300 + 2) / 3 + 2];
	size_t len, i, n;

	for (len = 0; len <= sizeof(in); len++) {
		for (i = 0; i < len; i++)
			in[i] = (unsigned char)(i * 131 + len * 7);
		verify_b64_encode(in, len, b64);
		ck_assert_uint_eq(strlen(b64), 4 * ((len + 2) / 3));
		ck_assert_int_eq(verify_b64_decode(b64, strlen(b64), out,
		    sizeof(out), &n), 0);
		ck_assert_uint_eq(n, len);
		ck_assert_int_eq(memcmp(in, out, len), 0);
	}
}
END_TEST

START_TEST(test_b64_invalid)
{
	static const char *const bad[] = {
		"Z", "Zg", "Zg=", "Zm9", "Zm9vY",	/* not a multiple of 4 */
		"Zg==Zm9v", "Zm8=Zm9v",		/* padding before the end */
		"Z===", "====", "=Zm9", "Zm=v", "Z=9v", "Zg=a",
		"Zm9v=", "Zm9v====",
		" Zm9v", "Zm9v ", "Zm 9", "Zm9v\n", "Zm\r\n9v", "Zm9\t",
		"Zm-_", "-_-_", "Zm9.", "Zm9*", "Zm9%",	/* other alphabets */
		"Zm9\xc3", "\xff\xff\xff\xff",
		"Zh==", "Zm9=",			/* non-zero trailing bits */
		"Zg=\x3d\x3d\x3d\x3d\x3d",
	};
	unsigned char out[64];
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(verify_b64_decode(bad[i], strlen(bad[i]), out,
		    sizeof(out), &n) == -1, "\"%s\" accepted", bad[i]);
	/* Embedded NUL. */
	ck_assert_int_eq(verify_b64_decode("Zm\0v", 4, out, sizeof(out), &n),
	    -1);
}
END_TEST

/* Every byte value: taken with its alphabet value, or refused. */
START_TEST(test_b64_every_byte)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char out[8];
	const char *p;
	char in[4] = { 'Z', 'm', '9', 0 };
	size_t n;
	int c;

	for (c = 0; c < 256; c++) {
		in[3] = (char)c;
		p = c == 0 ? NULL : strchr(alpha, c);
		if (p == NULL) {
			ck_assert_msg(verify_b64_decode(in, 4, out, sizeof(out),
			    &n) == -1, "byte %d accepted", c);
			continue;
		}
		ck_assert_msg(verify_b64_decode(in, 4, out, sizeof(out), &n) ==
		    0, "byte %d refused", c);
		ck_assert_uint_eq(n, 3);
		ck_assert_int_eq(out[2] & 0x3f, p - alpha);
		ck_assert_int_eq(out[2] >> 6, 61 & 0x03);	/* '9' is 61 */
	}
}
END_TEST

START_TEST(test_b64_trailing_bits)
{
	unsigned char out[8];
	char s[5];
	size_t n;
	int ok, c;
	const char *alpha =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	/* "Zx==": only x with its low 4 bits zero is canonical. */
	for (c = 0; c < 64; c++) {
		snprintf(s, sizeof(s), "Z%c==", alpha[c]);
		ok = verify_b64_decode(s, 4, out, sizeof(out), &n) == 0;
		ck_assert_msg(ok == ((c & 0x0f) == 0), "%s", s);
	}
	/* "Zmx=": low 2 bits. */
	for (c = 0; c < 64; c++) {
		snprintf(s, sizeof(s), "Zm%c=", alpha[c]);
		ok = verify_b64_decode(s, 4, out, sizeof(out), &n) == 0;
		ck_assert_msg(ok == ((c & 0x03) == 0), "%s", s);
	}
}
END_TEST

START_TEST(test_b64_capacity)
{
	unsigned char out[4];
	size_t n;

	ck_assert_int_eq(verify_b64_decode("Zm9v", 4, out, 2, &n), -1);
	ck_assert_int_eq(verify_b64_decode("Zm9v", 4, out, 3, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(verify_b64_decode("Zm8=", 4, out, 2, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(verify_b64_decode("Zg==", 4, out, 0, &n), -1);
	ck_assert_int_eq(verify_b64_decode("", 0, NULL, 0, &n), 0);
	ck_assert_uint_eq(n, 0);
}
END_TEST

/* ---- verify_parse_header ---- */

static enum verify_result
parse3(const char *sep, const char *a, const char *b, const char *c,
    struct verify_sighdr *sh)
{
	char hdr[2048];

	snprintf(hdr, sizeof(hdr), "%s%s%s%s%s", a, sep, b, sep, c);
	return verify_parse_header(hdr, sh);
}

START_TEST(test_header_any_order)
{
	static const char *const seps[] = { ",", ", ", " , ", ",\t", " ,  " };
	static const int perm[6][3] = {
		{ 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 },
		{ 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 }
	};
	struct verify_sighdr sh;
	struct tsig t;
	char sigf[1300];
	const char *f[3];
	size_t s, p;

	tsig_make(&t);
	snprintf(sigf, sizeof(sigf), "signature=%s", t.pct);
	f[0] = "algorithm=RSA256";
	f[1] = "keyVersion=7";
	f[2] = sigf;
	for (s = 0; s < sizeof(seps) / sizeof(seps[0]); s++) {
		for (p = 0; p < 6; p++) {
			ck_assert_int_eq(parse3(seps[s], f[perm[p][0]],
			    f[perm[p][1]], f[perm[p][2]], &sh), VERIFY_OK);
			ck_assert_str_eq(sh.algorithm, "RSA256");
			ck_assert_int_eq(sh.key_version, 7);
			ck_assert_uint_eq(sh.siglen, 256);
			ck_assert_int_eq(memcmp(sh.sig, t.bytes, 256), 0);
		}
	}
}
END_TEST

START_TEST(test_header_blanks_and_case)
{
	struct verify_sighdr sh;
	struct tsig t;
	char hdr[2048];

	tsig_make(&t);
	snprintf(hdr, sizeof(hdr), "  algorithm=RSA256, keyVersion=1, "
	    "signature=%s  ", t.pct);
	ck_assert_int_eq(verify_parse_header(hdr, &sh), VERIFY_OK);
	ck_assert_uint_eq(sh.siglen, 256);

	snprintf(hdr, sizeof(hdr), "ALGORITHM=RSA256,KEYVERSION=3,"
	    "SIGNATURE=%s", t.pct);
	ck_assert_int_eq(verify_parse_header(hdr, &sh), VERIFY_OK);
	ck_assert_int_eq(sh.key_version, 3);

	snprintf(hdr, sizeof(hdr), "Algorithm=rsa256,keyversion=2,"
	    "Signature=%s", t.pct);
	ck_assert_int_eq(verify_parse_header(hdr, &sh), VERIFY_OK);
	ck_assert_str_eq(sh.algorithm, "rsa256");
	ck_assert_int_eq(sh.key_version, 2);

	/* Blanks around '=' are trimmed too. */
	snprintf(hdr, sizeof(hdr), "algorithm = Rsa256 ,signature= %s",
	    t.pct);
	ck_assert_int_eq(verify_parse_header(hdr, &sh), VERIFY_OK);
	ck_assert_str_eq(sh.algorithm, "Rsa256");
}
END_TEST

START_TEST(test_header_key_version)
{
	static const char *const bad[] = {
		"0", "-1", "+1", "1.0", "abc", "", "1 2", "0x10", "1e3",
		"99999999999999999999999", "9223372036854775808",
	};
	struct verify_sighdr sh;
	struct tsig t;
	char hdr[2048];
	size_t i;

	tsig_make(&t);
	snprintf(hdr, sizeof(hdr), "algorithm=RSA256,signature=%s", t.pct);
	ck_assert_int_eq(verify_parse_header(hdr, &sh), VERIFY_OK);
	/* Absent: the client's latest (docs/protocol.md section 2.4). */
	ck_assert_int_eq(sh.key_version, 0);

	snprintf(hdr, sizeof(hdr), "algorithm=RSA256,keyVersion=007,"
	    "signature=%s", t.pct);
	ck_assert_int_eq(verify_parse_header(hdr, &sh), VERIFY_OK);
	ck_assert_int_eq(sh.key_version, 7);

	snprintf(hdr, sizeof(hdr), "algorithm=RSA256,keyVersion="
	    "9223372036854775807,signature=%s", t.pct);
	ck_assert_int_eq(verify_parse_header(hdr, &sh), VERIFY_OK);
	ck_assert_int_eq(sh.key_version, 9223372036854775807L);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(hdr, sizeof(hdr), "algorithm=RSA256,keyVersion=%s,"
		    "signature=%s", bad[i], t.pct);
		ck_assert_msg(verify_parse_header(hdr, &sh) ==
		    VERIFY_ERR_KEY_VERSION, "keyVersion \"%s\" accepted", bad[i]);
	}
}
END_TEST

START_TEST(test_header_algorithm)
{
	static const char *const bad[] = {
		"RSA", "RSA2560", "RSA512", "RS256", "SHA256withRSA",
		"RSA256 x", "RSA-256", "PS256", "", "ECDSA",
		"RSA256RSA256RSA256RSA256RSA256",	/* longer than the field */
	};
	struct verify_sighdr sh;
	struct tsig t;
	char hdr[2048];
	size_t i;

	tsig_make(&t);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(hdr, sizeof(hdr), "algorithm=%s,keyVersion=1,"
		    "signature=%s", bad[i], t.pct);
		ck_assert_msg(verify_parse_header(hdr, &sh) ==
		    VERIFY_ERR_ALGORITHM, "algorithm \"%s\" accepted", bad[i]);
		ck_assert_uint_lt(strlen(sh.algorithm), VERIFY_ALG_MAX);
	}
	/* A bad algorithm wins over a bad keyVersion and a bad encoding. */
	ck_assert_int_eq(verify_parse_header("algorithm=HS256,keyVersion=x,"
	    "signature=%%%", &sh), VERIFY_ERR_ALGORITHM);
	ck_assert_str_eq(sh.algorithm, "HS256");
}
END_TEST

START_TEST(test_header_structure)
{
	struct verify_sighdr sh;
	struct tsig t;
	char hdr[4096], *big;
	size_t n;

	tsig_make(&t);
	ck_assert_int_eq(verify_parse_header(NULL, &sh), VERIFY_ERR_HEADER);
	ck_assert_int_eq(verify_parse_header("", &sh), VERIFY_ERR_HEADER);
	ck_assert_int_eq(verify_parse_header("   ", &sh), VERIFY_ERR_HEADER);
	ck_assert_int_eq(verify_parse_header("RSA256", &sh), VERIFY_ERR_HEADER);

#define HDR_IS(want, ...) do {						\
	snprintf(hdr, sizeof(hdr), __VA_ARGS__);			\
	ck_assert_msg(verify_parse_header(hdr, &sh) == (want),		\
	    "\"%.60s...\" gave %s", hdr,				\
	    verify_result_str(verify_parse_header(hdr, &sh)));	\
} while (0)
	/* Missing fields. */
	HDR_IS(VERIFY_ERR_HEADER, "keyVersion=1,signature=%s", t.pct);
	HDR_IS(VERIFY_ERR_HEADER, "algorithm=RSA256,keyVersion=1");
	HDR_IS(VERIFY_ERR_HEADER, "algorithm=RSA256,keyVersion=1,signature=");
	HDR_IS(VERIFY_ERR_HEADER, "algorithm=RSA256,keyVersion=1,sig=%s", t.pct);
	/* Repeated fields, whatever their case. */
	HDR_IS(VERIFY_ERR_HEADER, "algorithm=RSA256,algorithm=RSA256,"
	    "signature=%s", t.pct);
	HDR_IS(VERIFY_ERR_HEADER, "algorithm=RSA256,keyVersion=1,"
	    "KeyVersion=2,signature=%s", t.pct);
	HDR_IS(VERIFY_ERR_HEADER, "algorithm=RSA256,signature=%s,"
	    "Signature=%s", t.pct, t.pct);
	/* Malformed fields. */
	HDR_IS(VERIFY_ERR_HEADER, "algorithm=RSA256,,signature=%s", t.pct);
	HDR_IS(VERIFY_ERR_HEADER, "algorithm=RSA256,signature=%s,", t.pct);
	HDR_IS(VERIFY_ERR_HEADER, ",algorithm=RSA256,signature=%s", t.pct);
	HDR_IS(VERIFY_ERR_HEADER, "algorithm=RSA256, ,signature=%s", t.pct);
	HDR_IS(VERIFY_ERR_HEADER, "algorithm=RSA256,keyVersion,signature=%s",
	    t.pct);
	HDR_IS(VERIFY_ERR_HEADER, "algorithm=RSA256,=1,signature=%s", t.pct);
	HDR_IS(VERIFY_ERR_HEADER, "algorithm=RSA256;keyVersion=1;"
	    "signature=%s", t.pct);
	/* A missing field wins over a bad algorithm. */
	HDR_IS(VERIFY_ERR_HEADER, "algorithm=HS256,keyVersion=1");
	/* Unknown fields are ignored, also when repeated or empty. */
	HDR_IS(VERIFY_OK, "foo=bar,algorithm=RSA256,x=,x=1,keyVersion=1,"
	    "signature=%s,charset=UTF-8", t.pct);
#undef HDR_IS

	/* VERIFY_HEADER_MAX bytes are fine, one more is not. */
	big = malloc(VERIFY_HEADER_MAX + 2);
	ck_assert_ptr_nonnull(big);
	n = (size_t)snprintf(big, VERIFY_HEADER_MAX + 2,
	    "algorithm=RSA256,signature=%s,pad=", t.pct);
	memset(big + n, 'x', VERIFY_HEADER_MAX - n);
	big[VERIFY_HEADER_MAX] = '\0';
	ck_assert_int_eq(verify_parse_header(big, &sh), VERIFY_OK);
	big[VERIFY_HEADER_MAX] = 'x';
	big[VERIFY_HEADER_MAX + 1] = '\0';
	ck_assert_int_eq(verify_parse_header(big, &sh), VERIFY_ERR_HEADER);
	free(big);
}
END_TEST

START_TEST(test_header_encoding)
{
	struct verify_sighdr sh;
	struct tsig t;
	char hdr[4096], val[2048], *p;
	unsigned char many[VERIFY_SIG_MAX + 3];
	char manyb64[4 * (sizeof(many) + 2) / 3 + 1];

	tsig_make(&t);
	ck_assert_ptr_nonnull(strchr(t.b64, '+'));
	ck_assert_ptr_nonnull(strchr(t.b64, '/'));

	/* Raw base64: a literal '+' stays '+'. */
	snprintf(hdr, sizeof(hdr), "algorithm=RSA256,signature=%s", t.b64);
	ck_assert_int_eq(verify_parse_header(hdr, &sh), VERIFY_OK);
	ck_assert_uint_eq(sh.siglen, 256);
	ck_assert_int_eq(memcmp(sh.sig, t.bytes, 256), 0);

	/* Lower-case hex, as .NET sends it; and a mix. */
	strcpy(val, t.pct);
	for (p = val; (p = strchr(p, '%')) != NULL; p += 3)
		p[2] = (char)(p[2] == 'B' ? 'b' : p[2] == 'F' ? 'f' :
		    p[2] == 'D' ? 'd' : p[2]);
	snprintf(hdr, sizeof(hdr), "algorithm=RSA256,signature=%s", val);
	ck_assert_int_eq(verify_parse_header(hdr, &sh), VERIFY_OK);
	ck_assert_int_eq(memcmp(sh.sig, t.bytes, 256), 0);

	/* Form-decoding damage: '+' became a blank. */
	strcpy(val, t.b64);
	*strchr(val, '+') = ' ';
	snprintf(hdr, sizeof(hdr), "algorithm=RSA256,signature=%s", val);
	ck_assert_int_eq(verify_parse_header(hdr, &sh), VERIFY_ERR_ENCODING);

	/* Bad escapes, a truncated escape, %20 inside, URL-safe base64. */
	snprintf(hdr, sizeof(hdr), "algorithm=RSA256,signature=%%2G%s", t.b64);
	ck_assert_int_eq(verify_parse_header(hdr, &sh), VERIFY_ERR_ENCODING);
	snprintf(hdr, sizeof(hdr), "algorithm=RSA256,signature=%s%%3", t.pct);
	ck_assert_int_eq(verify_parse_header(hdr, &sh), VERIFY_ERR_ENCODING);
	snprintf(hdr, sizeof(hdr), "algorithm=RSA256,signature=%%20%s", t.b64);
	ck_assert_int_eq(verify_parse_header(hdr, &sh), VERIFY_ERR_ENCODING);
	strcpy(val, t.b64);
	*strchr(val, '+') = '-';
	*strchr(val, '/') = '_';
	snprintf(hdr, sizeof(hdr), "algorithm=RSA256,signature=%s", val);
	ck_assert_int_eq(verify_parse_header(hdr, &sh), VERIFY_ERR_ENCODING);
	/* Double-encoded %252B. */
	ck_assert_int_eq(verify_parse_header("algorithm=RSA256,"
	    "signature=%252BAAA", &sh), VERIFY_ERR_ENCODING);
	/* Padding lost on the way. */
	strcpy(val, t.b64);
	val[strlen(val) - 2] = '\0';
	snprintf(hdr, sizeof(hdr), "algorithm=RSA256,signature=%s", val);
	ck_assert_int_eq(verify_parse_header(hdr, &sh), VERIFY_ERR_ENCODING);

	/* More than VERIFY_SIG_MAX decoded bytes. */
	memset(many, 0x41, sizeof(many));
	verify_b64_encode(many, sizeof(many), manyb64);
	snprintf(hdr, sizeof(hdr), "algorithm=RSA256,signature=%s", manyb64);
	ck_assert_int_eq(verify_parse_header(hdr, &sh), VERIFY_ERR_ENCODING);
	ck_assert_uint_eq(sh.siglen, 0);
	/* Exactly VERIFY_SIG_MAX is parsed (and will fail on length later). */
	verify_b64_encode(many, VERIFY_SIG_MAX, manyb64);
	snprintf(hdr, sizeof(hdr), "algorithm=RSA256,signature=%s", manyb64);
	ck_assert_int_eq(verify_parse_header(hdr, &sh), VERIFY_OK);
	ck_assert_uint_eq(sh.siglen, VERIFY_SIG_MAX);
}
END_TEST

/* ---- verify_key_load ---- */

static void
key_ok(const char *spec, const char *what)
{
	char err[256] = "";
	EVP_PKEY *pkey;

	pkey = verify_key_load(spec, err, sizeof(err));
	ck_assert_msg(pkey != NULL, "%s: %s", what, err);
	ck_assert_int_eq(EVP_PKEY_get_base_id(pkey), EVP_PKEY_RSA);
	ck_assert_int_eq(EVP_PKEY_get_bits(pkey), 2048);
	EVP_PKEY_free(pkey);
	ck_assert_uint_eq(ERR_peek_error(), 0);
}

static void
key_bad(const char *spec, const char *what, const char *errpart)
{
	char err[512] = "";

	ck_assert_msg(verify_key_load(spec, err, sizeof(err)) == NULL,
	    "%s accepted", what);
	ck_assert_msg(err[0] != '\0', "%s: no reason given", what);
	if (errpart != NULL)
		ck_assert_msg(strstr(err, errpart) != NULL,
		    "%s: \"%s\" lacks \"%s\"", what, err, errpart);
	ck_assert_uint_eq(ERR_peek_error(), 0);
}

START_TEST(test_key_forms)
{
	char path[1024], *b64, *pem, *wrapped, *w;
	json_t *vecs;
	size_t i, n;

	test_path(path, sizeof(path), "vectors/test-antom-public.b64");
	key_ok(path, "b64 file path");
	b64 = test_slurp(path, &n);
	key_ok(b64, "b64 text with trailing newline");
	b64[strcspn(b64, "\r\n")] = '\0';
	key_ok(b64, "b64 text");

	/* Wrapped at 64 columns with CRLF, as some pastes are. */
	wrapped = malloc(2 * n + 16);
	ck_assert_ptr_nonnull(wrapped);
	for (i = 0, w = wrapped; b64[i] != '\0'; i++) {
		if (i > 0 && i % 64 == 0) {
			*w++ = '\r';
			*w++ = '\n';
		}
		*w++ = b64[i];
	}
	*w = '\0';
	key_ok(wrapped, "wrapped b64 text");

	test_path(path, sizeof(path), "vectors/test-antom-public.pem");
	key_ok(path, "PEM file path");
	pem = test_slurp(path, NULL);
	key_ok(pem, "PEM text");
	free(wrapped);
	wrapped = malloc(strlen(pem) + 4);
	ck_assert_ptr_nonnull(wrapped);
	snprintf(wrapped, strlen(pem) + 4, "\n  %s", pem);
	key_ok(wrapped, "PEM text after blank lines");

	/* The real Antom key: its base64 holds '/', yet it is no path. */
	vecs = load_vectors("vectors/real-antom-2019.json");
	ck_assert_ptr_nonnull(strchr(json_string_value(json_object_get(
	    json_array_get(vecs, 0), "antom_public_key")), '/'));
	key_ok(json_string_value(json_object_get(json_array_get(vecs, 0),
	    "antom_public_key")), "real Antom key");
	json_decref(vecs);
	free(b64);
	free(pem);
	free(wrapped);
}
END_TEST

START_TEST(test_key_garbage)
{
	char path[1024], *b64;
	char err[64];

	key_bad(NULL, "NULL", NULL);
	key_bad("", "empty", NULL);
	key_bad("   \n", "blank", NULL);
	key_bad("garbage!", "garbage", "neither");
	key_bad("not a key at all", "words", NULL);
	key_bad("/nonexistent/dir/antom.pem", "missing file",
	    "No such file");
	key_bad("keys/antom.pem", "missing relative file", "No such file");
	key_bad("AAAA", "b64 of a non-key", "SubjectPublicKeyInfo");
	key_bad("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
	    "PEM of a non-key", "PUBLIC KEY");
	key_bad("-----BEGIN RSA PUBLIC KEY-----\nAAAA\n"
	    "-----END RSA PUBLIC KEY-----\n", "PKCS#1 PEM", "RSA PUBLIC KEY");
	key_bad(test_path(path, sizeof(path), "vectors/test-antom-private.pem"),
	    "private key file", "PUBLIC KEY");
	key_bad(test_path(path, sizeof(path), "vectors"), "directory",
	    "not a regular file");
	key_bad("/dev/null", "device", "not a regular file");
	key_bad(test_path(path, sizeof(path), "vectors/README.md"),
	    "text file", NULL);

	/* One symbol changed, then one byte cut off the DER. */
	b64 = test_slurp(test_path(path, sizeof(path),
	    "vectors/test-antom-public.b64"), NULL);
	b64[strcspn(b64, "\r\n")] = '\0';
	b64[strlen(b64) - 6] = '*';
	key_bad(b64, "b64 with a bad symbol", NULL);
	free(b64);
	b64 = test_slurp(path, NULL);
	b64[strcspn(b64, "\r\n")] = '\0';
	memcpy(b64 + strlen(b64) - 4, "AAA=", 4);	/* last byte changed */
	key_bad(b64, "b64 truncated DER", NULL);
	free(b64);

	/* A tiny err buffer is truncated, not overrun. */
	ck_assert_ptr_null(verify_key_load("garbage!", err, 8));
	ck_assert_uint_eq(strlen(err), 7);
	ck_assert_ptr_null(verify_key_load("garbage!", NULL, 0));
}
END_TEST

/* A key of another size or type, in PEM and bare base64 SPKI. */
static void
gen_spki(const char *alg, int bits, char **pem, char **b64)
{
	EVP_PKEY_CTX *kctx;
	EVP_PKEY *pkey = NULL;
	BIO *bio;
	unsigned char *der = NULL;
	char *data;
	long len;
	int derlen;

	ck_assert_ptr_nonnull(kctx = EVP_PKEY_CTX_new_from_name(NULL, alg,
	    NULL));
	ck_assert_int_eq(EVP_PKEY_keygen_init(kctx), 1);
	if (bits > 0)
		ck_assert_int_gt(EVP_PKEY_CTX_set_rsa_keygen_bits(kctx, bits), 0);
	else
		ck_assert_int_gt(EVP_PKEY_CTX_set_group_name(kctx,
		    "prime256v1"), 0);
	ck_assert_int_eq(EVP_PKEY_generate(kctx, &pkey), 1);
	ck_assert_ptr_nonnull(bio = BIO_new(BIO_s_mem()));
	ck_assert_int_eq(PEM_write_bio_PUBKEY(bio, pkey), 1);
	len = BIO_get_mem_data(bio, &data);
	ck_assert_ptr_nonnull(*pem = strndup(data, (size_t)len));
	ck_assert_int_gt(derlen = i2d_PUBKEY(pkey, &der), 0);
	ck_assert_ptr_nonnull(*b64 = malloc(4 * ((size_t)derlen + 2) / 3 + 1));
	verify_b64_encode(der, (size_t)derlen, *b64);
	OPENSSL_free(der);
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(kctx);
}

START_TEST(test_key_weak)
{
	char *pem, *b64;

	gen_spki("RSA", 1024, &pem, &b64);
	key_bad(pem, "RSA-1024 PEM", "2048");
	key_bad(b64, "RSA-1024 b64", "2048");
	free(pem);
	free(b64);

	gen_spki("EC", 0, &pem, &b64);
	key_bad(pem, "EC PEM", "not an RSA key");
	key_bad(b64, "EC b64", "not an RSA key");
	free(pem);
	free(b64);
}
END_TEST

/* ---- keyring ---- */

START_TEST(test_keyring)
{
	struct verify_keyring *kr;
	char err[256];

	ck_assert_ptr_nonnull(kr = verify_keyring_new());
	ck_assert_uint_eq(verify_keyring_count(kr), 0);
	ck_assert_int_eq(verify_keyring_has_client(kr, TEST_CLIENT), 0);

	ck_assert_int_eq(verify_keyring_add(kr, TEST_CLIENT, 1,
	    load_pub("vectors/test-antom-public.b64"), err, sizeof(err)), 0);
	ck_assert_int_eq(verify_keyring_add(kr, TEST_CLIENT, 2,
	    load_pub("vectors/test-antom-public.pem"), err, sizeof(err)), 0);
	ck_assert_int_eq(verify_keyring_add(kr, "T_ALLPAY_1", 1,
	    load_pub("vectors/test-antom-public.pem"), err, sizeof(err)), 0);
	ck_assert_uint_eq(verify_keyring_count(kr), 3);
	ck_assert_int_eq(verify_keyring_has_client(kr, TEST_CLIENT), 1);
	ck_assert_int_eq(verify_keyring_has_client(kr, "T_ALLPAY_1"), 1);
	/* Client ids are exact. */
	ck_assert_int_eq(verify_keyring_has_client(kr, "t_allpay_1"), 0);
	ck_assert_int_eq(verify_keyring_has_client(kr, "T_ALLPAY"), 0);
	ck_assert_int_eq(verify_keyring_has_client(kr, NULL), 0);

	/* Failures take the key too (checked by ASan's leak detector). */
	err[0] = '\0';
	ck_assert_int_eq(verify_keyring_add(kr, TEST_CLIENT, 2,
	    load_pub("vectors/test-antom-public.b64"), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "twice"));
	ck_assert_int_eq(verify_keyring_add(kr, TEST_CLIENT, 0,
	    load_pub("vectors/test-antom-public.b64"), err, sizeof(err)), -1);
	ck_assert_int_eq(verify_keyring_add(kr, "NEW", -3,
	    load_pub("vectors/test-antom-public.b64"), err, sizeof(err)), -1);
	ck_assert_int_eq(verify_keyring_add(kr, "", 1,
	    load_pub("vectors/test-antom-public.b64"), err, sizeof(err)), -1);
	ck_assert_int_eq(verify_keyring_add(kr, NULL, 1,
	    load_pub("vectors/test-antom-public.b64"), err, sizeof(err)), -1);
	ck_assert_int_eq(verify_keyring_add(kr, "NEW", 1, NULL, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(verify_keyring_has_client(kr, "NEW"), 0);
	ck_assert_uint_eq(verify_keyring_count(kr), 3);

	verify_keyring_free(kr);
	verify_keyring_free(NULL);
	ck_assert_uint_eq(verify_keyring_count(NULL), 0);
}
END_TEST

/* ---- the known-answer vectors ---- */

/*
 * Every .json file in tests/vectors, each request against a keyring holding its
 * file's key as version 1 for its client.  A valid vector must verify
 * over the bare path (none of them is signed over path?query); an invalid
 * one must be a mismatch, not a parse error.
 */
START_TEST(test_vectors_all)
{
	char dirpath[1024], rel[512], route[512], err[256];
	struct verify_keyring *kr;
	struct verify_match m;
	enum verify_result r;
	struct dirent *de;
	const char *expect, *name, *client, *keyspec;
	json_t *vecs, *vec;
	EVP_PKEY *pkey;
	DIR *d;
	size_t i, n, files = 0, total = 0, valid = 0, real = 0;

	ck_assert_ptr_nonnull(d = opendir(test_path(dirpath, sizeof(dirpath),
	    "vectors")));
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		files++;
		snprintf(rel, sizeof(rel), "vectors/%s", de->d_name);
		vecs = load_vectors(rel);
		json_array_foreach(vecs, i, vec) {
			name = json_string_value(json_object_get(vec, "name"));
			expect = json_string_value(json_object_get(vec,
			    "expect"));
			client = vec_header(vec, "client-id");
			ck_assert_ptr_nonnull(name);
			ck_assert_ptr_nonnull(expect);
			ck_assert_ptr_nonnull(client);
			keyspec = json_string_value(json_object_get(vec,
			    "antom_public_key"));
			if (keyspec == NULL)
				keyspec = test_path(dirpath, sizeof(dirpath),
				    "vectors/test-antom-public.b64");
			pkey = verify_key_load(keyspec, err, sizeof(err));
			ck_assert_msg(pkey != NULL, "%s: %s", name, err);
			kr = ring_one(client, 1, pkey);

			r = vec_verify(vec, kr, &m, route, sizeof(route));
			if (strcmp(expect, "valid") == 0) {
				ck_assert_msg(r == VERIFY_OK, "%s/%s: %s",
				    de->d_name, name, verify_result_str(r));
				ck_assert_msg(m.with_query == 0, "%s/%s needed "
				    "the path?query retry", de->d_name, name);
				ck_assert_int_eq(m.key_version, 1);
				valid++;
				if (strcmp(de->d_name, "real-antom-2019.json")
				    == 0)
					real++;
			} else {
				ck_assert_msg(strcmp(expect, "invalid") == 0,
				    "%s: expect \"%s\"", name, expect);
				ck_assert_msg(r == VERIFY_ERR_MISMATCH,
				    "%s/%s: %s", de->d_name, name,
				    verify_result_str(r));
			}
			ck_assert_uint_eq(ERR_peek_error(), 0);
			verify_keyring_free(kr);
			total++;
		}
		json_decref(vecs);
	}
	closedir(d);
	ck_assert_uint_ge(files, 2);
	ck_assert_uint_ge(total, 9);
	ck_assert_uint_ge(valid, 6);
	ck_assert_uint_eq(real, 1);	/* the real one must be there and pass */
}
END_TEST

/* The real notification arrived with ?allPayTn=...: bare path first. */
START_TEST(test_vector_real_antom)
{
	struct verify_keyring *kr;
	struct verify_match m;
	char route[128];
	json_t *vecs, *vec;
	EVP_PKEY *pkey;
	char err[256];

	vecs = load_vectors("vectors/real-antom-2019.json");
	vec = json_array_get(vecs, 0);
	ck_assert_ptr_nonnull(strchr(json_string_value(json_object_get(vec,
	    "path")), '?'));
	pkey = verify_key_load(json_string_value(json_object_get(vec,
	    "antom_public_key")), err, sizeof(err));
	ck_assert_msg(pkey != NULL, "%s", err);
	kr = ring_one("T_ALLPAY_1", 1, pkey);
	ck_assert_int_eq(vec_verify(vec, kr, &m, route, sizeof(route)),
	    VERIFY_OK);
	ck_assert_str_eq(route, "/api/back");
	ck_assert_int_eq(m.with_query, 0);
	ck_assert_int_eq(m.key_version, 1);
	verify_keyring_free(kr);

	/* The test key must not verify Antom's signature. */
	kr = ring_one("T_ALLPAY_1", 1, load_pub("vectors/test-antom-public.b64"));
	ck_assert_int_eq(vec_verify(vec, kr, &m, route, sizeof(route)),
	    VERIFY_ERR_MISMATCH);
	verify_keyring_free(kr);
	json_decref(vecs);
}
END_TEST

/* ---- verify_request ---- */

static void
input_from_vector(json_t *vec, struct verify_input *in)
{
	memset(in, 0, sizeof(*in));
	in->content.path = TEST_ROUTE;
	in->content.client_id = vec_header(vec, "client-id");
	in->content.request_time = vec_header(vec, "request-time");
	in->sig_header = vec_header(vec, "signature");
	in->content.body = (const unsigned char *)json_string_value(
	    json_object_get(vec, "body"));
	in->content.bodylen = json_string_length(json_object_get(vec, "body"));
}

/* Signed over path?query: verifies only thanks to the retry. */
START_TEST(test_request_query_retry)
{
	static const char body[] = "{\"notifyType\":\"PAYMENT_RESULT\"}";
	struct verify_keyring *kr;
	struct verify_input in;
	struct verify_match m;
	char hdr[SIGN_HEADER_MAX], err[256];
	EVP_PKEY *priv;

	priv = load_priv();
	ck_assert_msg(sign_request(priv,
	    &(struct verify_content){ TEST_ROUTE "?order=42", TEST_CLIENT,
	    "1732550400123", (const unsigned char *)body, strlen(body) }, NULL,
	    hdr, sizeof(hdr), err, sizeof(err)) == 0, "%s", err);
	EVP_PKEY_free(priv);
	kr = ring_one(TEST_CLIENT, 1, load_pub("vectors/test-antom-public.b64"));

	memset(&in, 0, sizeof(in));
	in.content.path = TEST_ROUTE;
	in.query = "order=42";
	in.content.client_id = TEST_CLIENT;
	in.content.request_time = "1732550400123";
	in.sig_header = hdr;
	in.content.body = (const unsigned char *)body;
	in.content.bodylen = strlen(body);
	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(verify_request(kr, &in, &m), VERIFY_OK);
	ck_assert_int_eq(m.with_query, 1);
	ck_assert_int_eq(m.key_version, 1);
	ck_assert_uint_eq(ERR_peek_error(), 0);	/* the bare try failed */

	in.query = NULL;
	ck_assert_int_eq(verify_request(kr, &in, &m), VERIFY_ERR_MISMATCH);
	in.query = "";
	ck_assert_int_eq(verify_request(kr, &in, &m), VERIFY_ERR_MISMATCH);
	in.query = "order=43";
	ck_assert_int_eq(verify_request(kr, &in, &m), VERIFY_ERR_MISMATCH);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	verify_keyring_free(kr);
}
END_TEST

/*
 * The keyVersion a failed request claimed, for the metrics: set when
 * the header parsed that far, 0 when it did not; a claim, never checked.
 */
START_TEST(test_request_claimed_version)
{
	static const struct {
		const char	*hdr;
		enum verify_result want;
		long		 claimed;
		long		 unknown;	/* by a client not configured */
	} rows[] = {
		{ "algorithm=RSA256,keyVersion=3,signature=AAAA",
		    VERIFY_ERR_LENGTH, 3, 3 },
		/* Absent: the client's latest, of none for an unknown one. */
		{ "algorithm=RSA256,signature=AAAA", VERIFY_ERR_LENGTH, 1, 0 },
		{ "algorithm=RSA256,keyVersion=7,signature=%%",
		    VERIFY_ERR_ENCODING, 7, 7 },
		{ "algorithm=RSA256,keyVersion=0,signature=AAAA",
		    VERIFY_ERR_KEY_VERSION, 0, 0 },
		{ "algorithm=HS256,keyVersion=3,signature=AAAA",
		    VERIFY_ERR_ALGORITHM, 0, 0 },
		{ "keyVersion=3,signature=AAAA", VERIFY_ERR_HEADER, 0, 0 },
	};
	static const char body[] = "{}";
	struct verify_keyring *kr;
	struct verify_input in;
	struct verify_match m;
	size_t i;

	kr = ring_one(TEST_CLIENT, 1, load_pub("vectors/test-antom-public.b64"));
	memset(&in, 0, sizeof(in));
	in.content.path = TEST_ROUTE;
	in.content.request_time = "1";
	in.content.body = (const unsigned char *)body;
	in.content.bodylen = strlen(body);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		in.sig_header = rows[i].hdr;
		in.content.client_id = TEST_CLIENT;
		m.claimed_version = -1;
		ck_assert_int_eq(verify_request(kr, &in, &m), rows[i].want);
		ck_assert_int_eq(m.claimed_version, rows[i].claimed);
		/* An unknown client id: the claim is read all the same. */
		in.content.client_id = "nobody";
		m.claimed_version = -1;
		(void)verify_request(kr, &in, &m);
		ck_assert_int_eq(m.claimed_version, rows[i].unknown);
	}
	verify_keyring_free(kr);
}
END_TEST

START_TEST(test_request_rotation)
{
	struct verify_keyring *kr;
	struct verify_input in;
	struct verify_match m;
	json_t *vecs, *real;
	char hdr[VERIFY_HEADER_MAX], err[256];
	const char *p;
	EVP_PKEY *antom;

	vecs = load_vectors("vectors/signed-test-key.json");
	real = load_vectors("vectors/real-antom-2019.json");
	input_from_vector(json_array_get(vecs, 0), &in);
	ck_assert_ptr_nonnull(p = strstr(in.sig_header, "keyVersion=1,"));

	/* v1 is the test key, v2 another one (Antom's real key). */
	kr = ring_one(TEST_CLIENT, 1, load_pub("vectors/test-antom-public.b64"));
	antom = verify_key_load(json_string_value(json_object_get(
	    json_array_get(real, 0), "antom_public_key")), err, sizeof(err));
	ck_assert_msg(antom != NULL, "%s", err);
	ck_assert_int_eq(verify_keyring_add(kr, TEST_CLIENT, 2, antom, err,
	    sizeof(err)), 0);

	ck_assert_int_eq(verify_request(kr, &in, &m), VERIFY_OK);
	ck_assert_int_eq(m.key_version, 1);
	ck_assert_int_eq(m.with_query, 0);

	/* The header names v2, only v1 matches: still accepted. */
	snprintf(hdr, sizeof(hdr), "%.*skeyVersion=2,%s",
	    (int)(p - in.sig_header), in.sig_header, p + strlen("keyVersion=1,"));
	in.sig_header = hdr;
	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(verify_request(kr, &in, &m), VERIFY_OK);
	ck_assert_int_eq(m.key_version, 1);
	ck_assert_uint_eq(ERR_peek_error(), 0);

	/* A version nobody has: every key is tried. */
	hdr[p - vec_header(json_array_get(vecs, 0), "signature") +
	    strlen("keyVersion=")] = '9';
	ck_assert_int_eq(verify_request(kr, &in, &m), VERIFY_OK);
	ck_assert_int_eq(m.key_version, 1);
	verify_keyring_free(kr);

	/* The right key under another version number. */
	kr = ring_one(TEST_CLIENT, 5, load_pub("vectors/test-antom-public.pem"));
	input_from_vector(json_array_get(vecs, 0), &in);
	ck_assert_int_eq(verify_request(kr, &in, &m), VERIFY_OK);
	ck_assert_int_eq(m.key_version, 5);

	/*
	 * No keyVersion: the client's latest is meant (docs/protocol.md
	 * section 2.4), 5 here, not 1; with Antom's key as 2 beside it, 5
	 * is still the latest, and the one that verifies.
	 */
	snprintf(hdr, sizeof(hdr), "%.*s%s", (int)(p - in.sig_header),
	    in.sig_header, p + strlen("keyVersion=1,"));
	in.sig_header = hdr;
	antom = verify_key_load(json_string_value(json_object_get(
	    json_array_get(real, 0), "antom_public_key")), err, sizeof(err));
	ck_assert_int_eq(verify_keyring_add(kr, TEST_CLIENT, 2, antom, err,
	    sizeof(err)), 0);
	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(verify_request(kr, &in, &m), VERIFY_OK);
	ck_assert_int_eq(m.key_version, 5);
	ck_assert_int_eq(m.claimed_version, 5);
	verify_keyring_free(kr);
	input_from_vector(json_array_get(vecs, 0), &in);

	/* Only the wrong key. */
	antom = verify_key_load(json_string_value(json_object_get(
	    json_array_get(real, 0), "antom_public_key")), err, sizeof(err));
	kr = ring_one(TEST_CLIENT, 1, antom);
	ck_assert_int_eq(verify_request(kr, &in, &m), VERIFY_ERR_MISMATCH);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	verify_keyring_free(kr);
	json_decref(vecs);
	json_decref(real);
}
END_TEST

START_TEST(test_request_errors)
{
	struct verify_keyring *kr;
	struct verify_input in, in2;
	struct verify_match m;
	json_t *vecs;
	struct tsig t;
	char hdr[VERIFY_HEADER_MAX];
	unsigned char shortsig[128];
	char shortb64[200], err[256];
	char *pem, *b64;
	EVP_PKEY *big;

	tsig_make(&t);
	vecs = load_vectors("vectors/signed-test-key.json");
	input_from_vector(json_array_get(vecs, 0), &in);
	kr = ring_one(TEST_CLIENT, 1, load_pub("vectors/test-antom-public.b64"));

	/* Unknown client, and client ids are case-sensitive. */
	in2 = in;
	in2.content.client_id = "SANDBOX_OTHER";
	ck_assert_int_eq(verify_request(kr, &in2, &m), VERIFY_ERR_CLIENT);
	in2.content.client_id = "sandbox_5yez4x2zeb3c05479";
	ck_assert_int_eq(verify_request(kr, &in2, &m), VERIFY_ERR_CLIENT);
	in2.content.client_id = NULL;
	ck_assert_int_eq(verify_request(kr, &in2, &m), VERIFY_ERR_CLIENT);

	/* A 128-byte signature against a 2048-bit key. */
	memset(shortsig, 0x5a, sizeof(shortsig));
	verify_b64_encode(shortsig, sizeof(shortsig), shortb64);
	snprintf(hdr, sizeof(hdr), "algorithm=RSA256,keyVersion=1,"
	    "signature=%s", shortb64);
	in2 = in;
	in2.sig_header = hdr;
	ck_assert_int_eq(verify_request(kr, &in2, &m), VERIFY_ERR_LENGTH);
	/* Right length, wrong bytes. */
	snprintf(hdr, sizeof(hdr), "algorithm=RSA256,keyVersion=1,"
	    "signature=%s", t.pct);
	ck_assert_int_eq(verify_request(kr, &in2, &m), VERIFY_ERR_MISMATCH);
	ck_assert_uint_eq(ERR_peek_error(), 0);

	/* Header errors come through unchanged, before the client lookup. */
	in2.content.client_id = "SANDBOX_OTHER";
	in2.sig_header = "algorithm=RSA512,keyVersion=1,signature=AAAA";
	ck_assert_int_eq(verify_request(kr, &in2, &m), VERIFY_ERR_ALGORITHM);
	in2.sig_header = "algorithm=RSA256,keyVersion=0,signature=AAAA";
	ck_assert_int_eq(verify_request(kr, &in2, &m), VERIFY_ERR_KEY_VERSION);
	in2.sig_header = "algorithm=RSA256,signature=AA%A";
	ck_assert_int_eq(verify_request(kr, &in2, &m), VERIFY_ERR_ENCODING);
	in2.sig_header = NULL;
	ck_assert_int_eq(verify_request(kr, &in2, &m), VERIFY_ERR_HEADER);
	in2 = in;
	in2.content.request_time = NULL;
	ck_assert_int_eq(verify_request(kr, &in2, &m), VERIFY_ERR_HEADER);

	/* Caller bugs. */
	ck_assert_int_eq(verify_request(NULL, &in, &m), VERIFY_ERR_INTERNAL);
	ck_assert_int_eq(verify_request(kr, NULL, &m), VERIFY_ERR_INTERNAL);
	in2 = in;
	in2.content.path = NULL;
	ck_assert_int_eq(verify_request(kr, &in2, &m), VERIFY_ERR_INTERNAL);
	in2 = in;
	in2.content.body = NULL;
	ck_assert_int_eq(verify_request(kr, &in2, &m), VERIFY_ERR_INTERNAL);

	/* Still fine afterwards; match may be NULL. */
	ck_assert_int_eq(verify_request(kr, &in, NULL), VERIFY_OK);
	verify_keyring_free(kr);

	/* Only a 3072-bit key: a 256-byte signature has no candidate. */
	gen_spki("RSA", 3072, &pem, &b64);
	big = verify_key_load(b64, err, sizeof(err));
	ck_assert_msg(big != NULL, "%s", err);
	kr = ring_one(TEST_CLIENT, 1, big);
	ck_assert_int_eq(verify_request(kr, &in, &m), VERIFY_ERR_LENGTH);
	verify_keyring_free(kr);
	free(pem);
	free(b64);
	json_decref(vecs);
}
END_TEST

/* An empty body and the body's exact bytes both matter. */
START_TEST(test_request_empty_body)
{
	struct verify_keyring *kr;
	struct verify_input in;
	struct verify_match m;
	char hdr[SIGN_HEADER_MAX], err[256];
	EVP_PKEY *priv;

	priv = load_priv();
	ck_assert_msg(sign_request(priv, &(struct verify_content){ TEST_ROUTE,
	    TEST_CLIENT, "1", NULL, 0 }, NULL, hdr, sizeof(hdr), err,
	    sizeof(err)) == 0, "%s", err);
	EVP_PKEY_free(priv);
	kr = ring_one(TEST_CLIENT, 1, load_pub("vectors/test-antom-public.b64"));
	memset(&in, 0, sizeof(in));
	in.content.path = TEST_ROUTE;
	in.content.client_id = TEST_CLIENT;
	in.content.request_time = "1";
	in.sig_header = hdr;
	ck_assert_int_eq(verify_request(kr, &in, &m), VERIFY_OK);
	in.content.body = (const unsigned char *)"\0";
	in.content.bodylen = 1;
	ck_assert_int_eq(verify_request(kr, &in, &m), VERIFY_ERR_MISMATCH);
	/*
	 * A trailing '/' on the signed path breaks it (docs/protocol.md
	 * section 2.2).
	 */
	in.content.bodylen = 0;
	in.content.path = TEST_ROUTE "/";
	ck_assert_int_eq(verify_request(kr, &in, &m), VERIFY_ERR_MISMATCH);
	verify_keyring_free(kr);
}
END_TEST

/*
 * Why conf.c refuses a '.' in a client id: the signed content joins
 * client-id, request-time and body with '.' (docs/protocol.md section
 * 2.1), so it cannot be split back.  A notification Antom signed for
 * "T_1.2" at request-time R is, byte for byte, one for "T_1" at
 * "2.R": with both on one key it verifies as T_1, and the keyring (which
 * knows nothing of the split) cannot tell.  This is the attack the
 * configuration check closes (check_conf.c, test_client_id_dot).
 */
START_TEST(test_request_resplit)
{
	static const char body[] = "{\"notifyType\":\"PAYMENT_RESULT\"}";
	struct verify_keyring *kr;
	struct verify_input in;
	struct verify_match m;
	char hdr[SIGN_HEADER_MAX], err[256] = "";
	EVP_PKEY *priv;

	priv = load_priv();
	ck_assert_msg(sign_request(priv, &(struct verify_content){ TEST_ROUTE,
	    "T_1.2", "1700000000000", (const unsigned char *)body,
	    sizeof(body) - 1 }, NULL, hdr, sizeof(hdr), err,
	    sizeof(err)) == 0, "%s", err);
	EVP_PKEY_free(priv);
	kr = ring_one("T_1.2", 1, load_pub("vectors/test-antom-public.b64"));
	ck_assert_msg(verify_keyring_add(kr, "T_1", 1,
	    load_pub("vectors/test-antom-public.b64"), err, sizeof(err)) == 0,
	    "%s", err);
	memset(&in, 0, sizeof(in));
	in.content.path = TEST_ROUTE;
	in.content.client_id = "T_1.2";
	in.content.request_time = "1700000000000";
	in.content.body = (const unsigned char *)body;
	in.content.bodylen = sizeof(body) - 1;
	in.sig_header = hdr;
	ck_assert_int_eq(verify_request(kr, &in, &m), VERIFY_OK);
	/* Re-split: another client, the same signed bytes. */
	in.content.client_id = "T_1";
	in.content.request_time = "2.1700000000000";
	ck_assert_int_eq(verify_request(kr, &in, &m), VERIFY_OK);
	verify_keyring_free(kr);
}
END_TEST

/* ---- threads: one shared keyring, no cross-talk ---- */

struct thr_arg {
	const struct verify_keyring	*kr;
	const struct verify_input	*good;
	const struct verify_input	*bad;
	int				 failures;
};

static void *
thr_main(void *p)
{
	struct thr_arg *a = p;
	struct verify_match m;
	int i;

	for (i = 0; i < 100; i++) {
		if (verify_request(a->kr, a->good, &m) != VERIFY_OK)
			a->failures++;
		if (verify_request(a->kr, a->bad, &m) != VERIFY_ERR_MISMATCH)
			a->failures++;
		if (ERR_peek_error() != 0)
			a->failures++;
	}
	return NULL;
}

START_TEST(test_request_threads)
{
	struct verify_keyring *kr;
	struct verify_input good, bad;
	struct thr_arg args[4];
	pthread_t tids[4];
	json_t *vecs;
	size_t i;

	vecs = load_vectors("vectors/signed-test-key.json");
	input_from_vector(json_array_get(vecs, 0), &good);
	input_from_vector(json_array_get(vecs, 5), &bad);	/* tampered */
	ck_assert_str_eq(json_string_value(json_object_get(
	    json_array_get(vecs, 5), "name")), "tampered-body");
	kr = ring_one(TEST_CLIENT, 1, load_pub("vectors/test-antom-public.b64"));
	for (i = 0; i < 4; i++) {
		args[i].kr = kr;
		args[i].good = &good;
		args[i].bad = &bad;
		args[i].failures = 0;
		ck_assert_int_eq(pthread_create(&tids[i], NULL, thr_main,
		    &args[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(tids[i], NULL), 0);
		ck_assert_int_eq(args[i].failures, 0);
	}
	verify_keyring_free(kr);
	json_decref(vecs);
}
END_TEST

Suite *
verify_suite(void)
{
	Suite *s = suite_create("verify");
	TCase *tc;

	tc = tcase_create("decode");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_result_str);
	tcase_add_test(tc, test_pct_valid);
	tcase_add_test(tc, test_pct_invalid);
	tcase_add_test(tc, test_pct_capacity);
	tcase_add_test(tc, test_b64_rfc4648);
	tcase_add_test(tc, test_b64_roundtrip);
	tcase_add_test(tc, test_b64_invalid);
	tcase_add_test(tc, test_b64_every_byte);
	tcase_add_test(tc, test_b64_trailing_bits);
	tcase_add_test(tc, test_b64_capacity);
	suite_add_tcase(s, tc);

	tc = tcase_create("header");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_header_any_order);
	tcase_add_test(tc, test_header_blanks_and_case);
	tcase_add_test(tc, test_header_key_version);
	tcase_add_test(tc, test_header_algorithm);
	tcase_add_test(tc, test_header_structure);
	tcase_add_test(tc, test_header_encoding);
	suite_add_tcase(s, tc);

	/* Key generation is slow under sanitizers. */
	tc = tcase_create("key");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_key_forms);
	tcase_add_test(tc, test_key_garbage);
	tcase_add_test(tc, test_key_weak);
	tcase_add_test(tc, test_keyring);
	suite_add_tcase(s, tc);

	tc = tcase_create("vectors");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_vectors_all);
	tcase_add_test(tc, test_vector_real_antom);
	suite_add_tcase(s, tc);

	tc = tcase_create("request");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_request_query_retry);
	tcase_add_test(tc, test_request_claimed_version);
	tcase_add_test(tc, test_request_rotation);
	tcase_add_test(tc, test_request_errors);
	tcase_add_test(tc, test_request_empty_body);
	tcase_add_test(tc, test_request_resplit);
	tcase_add_test(tc, test_request_threads);
	suite_add_tcase(s, tc);
	return s;
}
