/*
 * check_sign.c - the signer: every header spelling verifies, the test
 * vectors are reproduced byte for byte (PKCS#1 v1.5 is deterministic),
 * request-time shapes, and key pair generation.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>

#include "sign.h"
#include "suites.h"
#include "verify.h"

#define TEST_CLIENT	"SANDBOX_5YEZ4X2ZEB3C05479"
#define TEST_ROUTE	"/antom/notify"

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
ring_test_key(long version)
{
	struct verify_keyring *kr;
	char path[1024], err[256] = "";
	EVP_PKEY *pkey;

	pkey = verify_key_load(test_path(path, sizeof(path),
	    "vectors/test-antom-public.b64"), err, sizeof(err));
	ck_assert_msg(pkey != NULL, "%s", err);
	ck_assert_ptr_nonnull(kr = verify_keyring_new());
	ck_assert_msg(verify_keyring_add(kr, TEST_CLIENT, version, pkey, err,
	    sizeof(err)) == 0, "%s", err);
	return kr;
}

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

static json_t *
vec_find(json_t *vecs, const char *name)
{
	json_t *vec;
	size_t i;

	json_array_foreach(vecs, i, vec) {
		if (strcmp(json_string_value(json_object_get(vec, "name")),
		    name) == 0)
			return vec;
	}
	ck_abort_msg("vector %s not found", name);
	return NULL;
}

START_TEST(test_sign_variants)
{
	static const struct sign_options variants[] = {
		{ 0, 0, 0, 0 },
		{ 0, 1, 0, 0 },		/* lower_hex */
		{ 0, 0, 1, 0 },		/* blanks */
		{ 0, 0, 0, 1 },		/* raw */
		{ 0, 1, 1, 0 },
		{ 0, 0, 1, 1 },
		{ 1, 0, 0, 0 },
		{ 3, 1, 1, 0 },
		{ 12, 0, 0, 1 },
	};
	static const char body[] = "{\"notifyType\":\"PAYMENT_RESULT\","
	    "\"resultMessage\":\"\xe4\xbd\x99\xe9\xa2\x9d\"}";
	const struct sign_options *o;
	struct verify_keyring *kr;
	struct verify_sighdr sh;
	struct verify_input in;
	struct verify_match m;
	char hdr[SIGN_HEADER_MAX], want[64], err[256];
	const char *sig;
	EVP_PKEY *priv;
	long kv;
	size_t i;

	priv = load_priv();
	for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		o = &variants[i];
		kv = o->key_version > 0 ? o->key_version : 1;
		ck_assert_msg(sign_request(priv,
		    &(struct verify_content){ TEST_ROUTE, TEST_CLIENT,
		    "2019-07-12T12:08:56.253+05:30",
		    (const unsigned char *)body, strlen(body) }, o, hdr,
		    sizeof(hdr), err, sizeof(err)) == 0, "%s", err);

		/* The spelling asked for. */
		snprintf(want, sizeof(want), "algorithm=RSA256,%skeyVersion="
		    "%ld,%ssignature=", o->blanks ? " " : "", kv,
		    o->blanks ? " " : "");
		ck_assert_msg(strncmp(hdr, want, strlen(want)) == 0,
		    "variant %zu: %s", i, hdr);
		sig = hdr + strlen(want);
		if (o->raw) {
			ck_assert_ptr_null(strchr(sig, '%'));
			ck_assert_uint_eq(strlen(sig), 344);
			ck_assert_str_eq(sig + 342, "==");
		} else {
			ck_assert_ptr_null(strpbrk(sig, "+/="));
			ck_assert_str_eq(sig + strlen(sig) - 6,
			    o->lower_hex ? "%3d%3d" : "%3D%3D");
			ck_assert_ptr_null(strstr(sig, o->lower_hex ? "%3D" :
			    "%3d"));
		}

		ck_assert_int_eq(verify_parse_header(hdr, &sh), VERIFY_OK);
		ck_assert_int_eq(sh.key_version, kv);
		ck_assert_uint_eq(sh.siglen, 256);

		kr = ring_test_key(kv);
		memset(&in, 0, sizeof(in));
		in.content.path = TEST_ROUTE;
		in.content.client_id = TEST_CLIENT;
		in.content.request_time = "2019-07-12T12:08:56.253+05:30";
		in.sig_header = hdr;
		in.content.body = (const unsigned char *)body;
		in.content.bodylen = strlen(body);
		memset(&m, 0, sizeof(m));
		ck_assert_msg(verify_request(kr, &in, &m) == VERIFY_OK,
		    "variant %zu does not verify", i);
		ck_assert_int_eq(m.key_version, kv);
		ck_assert_int_eq(m.with_query, 0);
		/* Any other request-time is another content. */
		in.content.request_time = "2019-07-12T12:08:56.253+05:31";
		ck_assert_int_eq(verify_request(kr, &in, &m),
		    VERIFY_ERR_MISMATCH);
		verify_keyring_free(kr);
	}
	EVP_PKEY_free(priv);
}
END_TEST

/*
 * RSASSA-PKCS1-v1_5 is deterministic: signing a vector's content with
 * the test key must give back its header exactly, spelling included.
 */
START_TEST(test_sign_reproduces_vectors)
{
	static const struct {
		const char		*name;
		struct sign_options	 o;
	} cases[] = {
		{ "payment-success-3ds", { 0, 0, 0, 0 } },
		{ "capture-failed-lower-hex-spaces", { 0, 1, 1, 0 } },
		{ "payment-pending-raw-base64", { 0, 0, 0, 1 } },
		{ "payment-failed-utf8", { 2, 0, 0, 0 } },
	};
	char path[1024], hdr[SIGN_HEADER_MAX], err[256];
	const char *want, *body;
	json_error_t jerr;
	json_t *vecs, *vec;
	EVP_PKEY *priv;
	size_t i;

	vecs = json_load_file(test_path(path, sizeof(path),
	    "vectors/signed-test-key.json"), 0, &jerr);
	ck_assert_msg(vecs != NULL, "%s", jerr.text);
	priv = load_priv();
	/* The first vector is the one the brief names; then the others. */
	ck_assert_str_eq(json_string_value(json_object_get(
	    json_array_get(vecs, 0), "name")), cases[0].name);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vec = vec_find(vecs, cases[i].name);
		body = json_string_value(json_object_get(vec, "body"));
		want = vec_header(vec, "signature");
		ck_assert_ptr_nonnull(body);
		ck_assert_ptr_nonnull(want);
		ck_assert_str_eq(json_string_value(json_object_get(vec,
		    "path")), TEST_ROUTE);
		ck_assert_msg(sign_request(priv,
		    &(struct verify_content){ TEST_ROUTE,
		    vec_header(vec, "client-id"),
		    vec_header(vec, "request-time"),
		    (const unsigned char *)body,
		    json_string_length(json_object_get(vec, "body")) },
		    &cases[i].o, hdr, sizeof(hdr), err, sizeof(err)) == 0,
		    "%s", err);
		ck_assert_str_eq(hdr, want);
	}
	EVP_PKEY_free(priv);
	json_decref(vecs);
}
END_TEST

START_TEST(test_sign_errors)
{
	struct sign_options o = { -1, 0, 0, 0 };
	char path[1024], hdr[SIGN_HEADER_MAX], err[256];
	EVP_PKEY *priv;

	priv = load_priv();
	/* Too small for the header: an error, and no partial header. */
	err[0] = '\0';
	ck_assert_int_eq(sign_request(priv,
	    &(struct verify_content){ TEST_ROUTE, TEST_CLIENT, "1",
	    (const unsigned char *)"{}", 2 }, NULL, hdr, 100, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(hdr, "");
	ck_assert_ptr_nonnull(strstr(err, "longer"));
	ck_assert_int_eq(sign_request(priv,
	    &(struct verify_content){ TEST_ROUTE, TEST_CLIENT, "1",
	    (const unsigned char *)"{}", 2 }, &o, hdr, sizeof(hdr), err,
	    sizeof(err)), -1);
	ck_assert_int_eq(sign_request(priv, &(struct verify_content){ NULL,
	    TEST_CLIENT, "1", (const unsigned char *)"{}", 2 }, NULL, hdr,
	    sizeof(hdr), err, sizeof(err)), -1);
	ck_assert_int_eq(sign_request(NULL,
	    &(struct verify_content){ TEST_ROUTE, TEST_CLIENT, "1",
	    (const unsigned char *)"{}", 2 }, NULL, hdr, sizeof(hdr), err,
	    sizeof(err)), -1);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	EVP_PKEY_free(priv);

	err[0] = '\0';
	ck_assert_ptr_null(sign_key_load("/nonexistent/antom.pem", err,
	    sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
	err[0] = '\0';
	ck_assert_ptr_null(sign_key_load(test_path(path, sizeof(path),
	    "vectors/test-antom-public.pem"), err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "private key"));
	ck_assert_ptr_null(sign_key_load(NULL, err, sizeof(err)));
	ck_assert_uint_eq(ERR_peek_error(), 0);
}
END_TEST

/* ---- sign_request_time ---- */

START_TEST(test_time_millis)
{
	char buf[64];
	long long v, now;
	size_t i;

	now = (long long)time(NULL) * 1000;
	sign_request_time(0, buf, sizeof(buf));
	ck_assert_uint_eq(strlen(buf), 13);
	for (i = 0; buf[i] != '\0'; i++)
		ck_assert_msg(buf[i] >= '0' && buf[i] <= '9', "%s", buf);
	v = strtoll(buf, NULL, 10);
	ck_assert_msg(v >= now - 5000 && v <= now + 5000, "%s vs %lld", buf,
	    now);
	/* Truncated, never overrun. */
	sign_request_time(0, buf, 5);
	ck_assert_uint_eq(strlen(buf), 4);
	sign_request_time(0, NULL, 0);
}
END_TEST

/* "YYYY-MM-DDTHH:MM:SS.mmm+HH:MM" ending in the wanted offset. */
static void
iso_with_tz(const char *tz, const char *offset)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddd?dd:dd";
	char buf[64], *old;
	size_t i;

	old = getenv("TZ") != NULL ? strdup(getenv("TZ")) : NULL;
	setenv("TZ", tz, 1);
	tzset();
	sign_request_time(1, buf, sizeof(buf));
	if (old != NULL) {
		setenv("TZ", old, 1);
		free(old);
	} else
		unsetenv("TZ");
	tzset();

	ck_assert_uint_eq(strlen(buf), strlen(shape));
	for (i = 0; shape[i] != '\0'; i++) {
		if (shape[i] == 'd')
			ck_assert_msg(buf[i] >= '0' && buf[i] <= '9', "%s", buf);
		else if (shape[i] == '?')
			ck_assert_msg(buf[i] == '+' || buf[i] == '-', "%s", buf);
		else
			ck_assert_msg(buf[i] == shape[i], "%s", buf);
	}
	ck_assert_str_eq(buf + strlen(buf) - 6, offset);
}

START_TEST(test_time_iso)
{
	/* POSIX TZ strings need no tzdata; their sign is inverted. */
	iso_with_tz("UTC0", "+00:00");
	iso_with_tz("IST-5:30", "+05:30");
	iso_with_tz("NST3:30", "-03:30");
	iso_with_tz("EST5", "-05:00");
	iso_with_tz("XST-14", "+14:00");
}
END_TEST

/* ---- sign_keygen ---- */

static char *
kg_path(char *buf, size_t cap, const char *dir, const char *name)
{
	snprintf(buf, cap, "%s/%s", dir, name);
	return buf;
}

static void
kg_cleanup(const char *dir)
{
	static const char *const names[] = {
		"antom-private.pem", "antom-public.pem", "antom-public.b64"
	};
	char p[1024];
	size_t i;

	for (i = 0; i < 3; i++)
		unlink(kg_path(p, sizeof(p), dir, names[i]));
	rmdir(dir);
}

START_TEST(test_keygen)
{
	char tmpl[] = "/tmp/check_sign.XXXXXX";
	char dir[512], p[1024], err[256] = "", hdr[SIGN_HEADER_MAX];
	char *b64, *before, *after;
	struct verify_keyring *kr;
	struct verify_input in;
	struct verify_match m;
	struct stat st;
	EVP_PKEY *pub, *priv;
	size_t n;

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	/* A directory that does not exist yet is created, 0700. */
	snprintf(dir, sizeof(dir), "%s/keys", tmpl);
	ck_assert_msg(sign_keygen(dir, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);

	ck_assert_int_eq(stat(kg_path(p, sizeof(p), dir, "antom-private.pem"),
	    &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(stat(kg_path(p, sizeof(p), dir, "antom-public.pem"),
	    &st), 0);
	ck_assert_int_eq(stat(kg_path(p, sizeof(p), dir, "antom-public.b64"),
	    &st), 0);

	/* The .b64 is one line, as the dashboard shows a key. */
	b64 = test_slurp(p, &n);
	ck_assert_uint_gt(n, 300);
	ck_assert_ptr_eq(strchr(b64, '\n'), b64 + n - 1);
	ck_assert_int_eq(strncmp(b64, "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A", 32), 0);
	pub = verify_key_load(p, err, sizeof(err));
	ck_assert_msg(pub != NULL, "%s", err);
	EVP_PKEY_free(pub);
	pub = verify_key_load(b64, err, sizeof(err));
	ck_assert_msg(pub != NULL, "%s", err);
	free(b64);
	EVP_PKEY_free(pub);
	pub = verify_key_load(kg_path(p, sizeof(p), dir, "antom-public.pem"),
	    err, sizeof(err));
	ck_assert_msg(pub != NULL, "%s", err);

	/* PKCS#8, and the pair works together. */
	before = test_slurp(kg_path(p, sizeof(p), dir, "antom-private.pem"),
	    NULL);
	ck_assert_int_eq(strncmp(before, "-----BEGIN PRIVATE KEY-----\n", 28), 0);
	priv = sign_key_load(p, err, sizeof(err));
	ck_assert_msg(priv != NULL, "%s", err);
	ck_assert_int_eq(EVP_PKEY_get_bits(priv), 2048);
	ck_assert_int_eq(sign_request(priv,
	    &(struct verify_content){ TEST_ROUTE, TEST_CLIENT, "1",
	    (const unsigned char *)"{}", 2 }, NULL, hdr, sizeof(hdr), err,
	    sizeof(err)), 0);
	ck_assert_ptr_nonnull(kr = verify_keyring_new());
	ck_assert_int_eq(verify_keyring_add(kr, TEST_CLIENT, 1, pub, err,
	    sizeof(err)), 0);
	memset(&in, 0, sizeof(in));
	in.content.path = TEST_ROUTE;
	in.content.client_id = TEST_CLIENT;
	in.content.request_time = "1";
	in.sig_header = hdr;
	in.content.body = (const unsigned char *)"{}";
	in.content.bodylen = 2;
	ck_assert_int_eq(verify_request(kr, &in, &m), VERIFY_OK);
	verify_keyring_free(kr);
	EVP_PKEY_free(priv);

	/* A second run refuses and leaves the existing pair alone. */
	err[0] = '\0';
	ck_assert_int_eq(sign_keygen(dir, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "exists") != NULL, "%s", err);
	after = test_slurp(kg_path(p, sizeof(p), dir, "antom-private.pem"),
	    NULL);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);

	kg_cleanup(dir);
	ck_assert_int_eq(rmdir(tmpl), 0);
}
END_TEST

/* Any one of the three files present is enough to refuse, leaving no debris. */
START_TEST(test_keygen_partial)
{
	char tmpl[] = "/tmp/check_sign.XXXXXX";
	char p[1024], err[256] = "";
	struct stat st;
	char *mine;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	ck_assert_ptr_nonnull(f = fopen(kg_path(p, sizeof(p), tmpl,
	    "antom-public.b64"), "w"));
	fputs("mine\n", f);
	fclose(f);
	ck_assert_int_eq(sign_keygen(tmpl, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "antom-public.b64") != NULL, "%s", err);
	ck_assert_int_eq(stat(kg_path(p, sizeof(p), tmpl, "antom-private.pem"),
	    &st), -1);
	ck_assert_int_eq(stat(kg_path(p, sizeof(p), tmpl, "antom-public.pem"),
	    &st), -1);
	mine = test_slurp(kg_path(p, sizeof(p), tmpl, "antom-public.b64"),
	    NULL);
	ck_assert_str_eq(mine, "mine\n");
	free(mine);

	/* Not a directory, and no directory given. */
	ck_assert_int_eq(sign_keygen(p, err, sizeof(err)), -1);
	ck_assert_int_eq(sign_keygen("", err, sizeof(err)), -1);
	ck_assert_int_eq(sign_keygen(NULL, err, sizeof(err)), -1);
	kg_cleanup(tmpl);
}
END_TEST

Suite *
sign_suite(void)
{
	Suite *s = suite_create("sign");
	TCase *tc;

	tc = tcase_create("sign");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_sign_variants);
	tcase_add_test(tc, test_sign_reproduces_vectors);
	tcase_add_test(tc, test_sign_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("time");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_time_millis);
	tcase_add_test(tc, test_time_iso);
	suite_add_tcase(s, tc);

	tc = tcase_create("keygen");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_keygen);
	tcase_add_test(tc, test_keygen_partial);
	suite_add_tcase(s, tc);
	return s;
}
