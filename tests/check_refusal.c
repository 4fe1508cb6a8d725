/*
 * check_refusal.c - the refusals ledger's pure parts: the claims scan of
 * unverified bodies, refusal_set(), and which refused requests are kept
 * (refusal_note).  The ledger's writes are checked in check_store.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "refusal.h"
#include "store.h"
#include "verify.h"
#include "suites.h"

/* What an unverified body claims, found without parsing it. */
START_TEST(test_claims)
{
	static const char cap[] = "{\"notifyType\" : \"CAPTURE_RESULT\","
	    "\"paymentRequestId\":\"PR-1\",\"captureRequestId\":\n\"CR-1\"}";
	static const char dis[] = "x\"disputeNotificationType\":\"DISPUTE_JUDGED\""
	    "\"disputeId\":\"D-1\"";
	static const char *const none[] = {
		"", "\"paymentRequestId\"", "\"paymentRequestId\":",
		"\"paymentRequestId\":\"", "\"paymentRequestId\":\"abc",
		"\"paymentRequestId\":\"\"", "\"paymentRequestId\":\"a b\"",
		"\"paymentRequestId\":\"a\\\"b\"", "\"paymentRequestId\":7",
		"\"paymentRequestId\":\"0123456789012345678901234567890123456789"
		"01234567890123456789012345\"",
	};
	struct refusal_claims c;
	size_t i;

	refusal_claims((const unsigned char *)cap, sizeof(cap) - 1, &c);
	ck_assert_str_eq(c.notify_type, "CAPTURE_RESULT");
	ck_assert_str_eq(c.kind, "capture");
	ck_assert_str_eq(c.object_id, "CR-1");
	refusal_claims((const unsigned char *)dis, sizeof(dis) - 1, &c);
	ck_assert_str_eq(c.notify_type, "DISPUTE_JUDGED");
	ck_assert_str_eq(c.kind, "dispute");
	ck_assert_str_eq(c.object_id, "D-1");
	/* A bad first occurrence does not hide a good later one. */
	{
		static const char two[] = "\"paymentRequestId\":1,"
		    "\"paymentRequestId\":\"PR-2\"";

		refusal_claims((const unsigned char *)two, sizeof(two) - 1, &c);
	}
	ck_assert_str_eq(c.object_id, "PR-2");
	for (i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		refusal_claims((const unsigned char *)none[i], strlen(none[i]), &c);
		ck_assert_msg(c.kind == NULL && c.object_id[0] == '\0',
		    "%s: %s", none[i], c.object_id);
	}
	refusal_claims(NULL, 0, &c);
	ck_assert_ptr_null(c.kind);
	ck_assert_str_eq(c.notify_type, "");
}
END_TEST

/* refusal_set bounds and cleans whatever it is given. */
START_TEST(test_set)
{
	struct refusal rf;

	memset(&rf, 'x', sizeof(rf));
	refusal_set(rf.reason, sizeof(rf.reason), NULL);
	ck_assert_str_eq(rf.reason, "");
	refusal_set(rf.kind, sizeof(rf.kind), "0123456789abcdefXYZ");
	ck_assert_str_eq(rf.kind, "0123456789abcde");
	refusal_set(rf.kind, sizeof(rf.kind), "a b\xff");
	ck_assert_str_eq(rf.kind, "a?b?");
}
END_TEST

static int hashed;

static const char *
hash_of(void *arg)
{
	hashed++;
	return arg;
}

/*
 * The keep rule: authentic refusals always (a 503 after the signature
 * verified, a misrouted 401), unverified ones only from a configured
 * client id and only into the sample, nothing but 400, 401, 413, 503.
 */
START_TEST(test_keep)
{
	static const struct {
		unsigned		status;
		int			authentic, configured;
		enum refusal_keep	keep;
	} cases[] = {
		{ 503, 1, 0, REFUSAL_KEEP_AUTHENTIC },
		{ 503, 1, 1, REFUSAL_KEEP_AUTHENTIC },
		{ 401, 1, 1, REFUSAL_KEEP_AUTHENTIC },	/* misrouted */
		{ 401, 0, 1, REFUSAL_KEEP_SAMPLE },
		{ 400, 0, 1, REFUSAL_KEEP_SAMPLE },
		{ 413, 0, 1, REFUSAL_KEEP_SAMPLE },
		{ 503, 0, 1, REFUSAL_KEEP_SAMPLE },	/* verify broke */
		{ 401, 0, 0, REFUSAL_KEEP_NONE },
		{ 413, 0, 0, REFUSAL_KEEP_NONE },
		{ 404, 1, 1, REFUSAL_KEEP_NONE },
		{ 405, 0, 1, REFUSAL_KEEP_NONE },
		{ 500, 1, 1, REFUSAL_KEEP_NONE },
		{ 200, 1, 1, REFUSAL_KEEP_NONE },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(refusal_keep(cases[i].status, cases[i].authentic,
		    cases[i].configured) == cases[i].keep, "case %zu", i);
}
END_TEST

/*
 * What is kept: an authentic refusal from anyone (it verified), an
 * unverified 400, 401 or 413 only for a configured client, nothing
 * else; the body hashed only for what is kept, and claims read only
 * from a body that was not parsed.
 */
START_TEST(test_note_policy)
{
	static const char body[] = "{\"notifyType\":\"PAYMENT_RESULT\","
	    "\"paymentRequestId\":\"PR-9\"}";
	static const struct {
		unsigned	 status;
		const char	*client;
		int		 authentic, kept;
	} cases[] = {
		{ 503, "STRANGER", 1, 1 }, { 503, NULL, 1, 1 },
		{ 401, "CLIENT_A", 0, 1 }, { 400, "CLIENT_A", 0, 1 },
		{ 413, "CLIENT_A", 0, 1 }, { 401, "STRANGER", 0, 0 },
		{ 400, NULL, 0, 0 }, { 404, "CLIENT_A", 0, 0 },
		{ 405, "CLIENT_A", 0, 0 }, { 500, "CLIENT_A", 0, 0 },
		{ 401, "CLIENT_A", 1, 1 },
	};
	char dir[64], dbpath[128], path[1024], err[256] = "";
	char hash[] = "00112233445566778899aabbccddeeff"
	    "00112233445566778899aabbccddeeff";
	struct store_options o = { 100, 4, 16, 0, 0 };
	struct verify_keyring *kr;
	struct refusal_request q;
	struct store *s;
	EVP_PKEY *pkey;
	size_t i;
	long long kept = 0;

	test_tmpdir(dir, sizeof(dir), "refusal", dbpath, sizeof(dbpath));
	pkey = verify_key_load(test_path(path, sizeof(path),
	    "vectors/test-antom-public.b64"), err, sizeof(err));
	ck_assert_msg(pkey != NULL, "%s", err);
	ck_assert_ptr_nonnull(kr = verify_keyring_new());
	ck_assert_int_eq(verify_keyring_add(kr, "CLIENT_A", 1, pkey, err,
	    sizeof(err)), 0);
	s = store_open(dbpath, &o, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	ck_assert_int_eq(store_start(s, err, sizeof(err)), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&q, 0, sizeof(q));
		q.status = cases[i].status;
		q.reason = "why";
		q.client_id = cases[i].client;
		q.request_time = "2026-12-07T00:00:00Z";
		q.whole = cases[i].status != 413;
		q.body = (const unsigned char *)body;
		q.len = sizeof(body) - 1;
		q.body_sha256 = hash_of;
		q.arg = hash;
		q.authentic = cases[i].authentic;
		hash[0] = (char)('a' + i);	/* one row each */
		hashed = 0;
		ck_assert_int_eq(refusal_note(s, kr, &q), 0);
		ck_assert_msg(hashed == (cases[i].kept && q.whole),
		    "case %zu: hashed %d", i, hashed);
		kept += cases[i].kept;
	}
	store_stop(s);
	store_close(s);
	ck_assert_int_eq(test_sql_int(dbpath, "SELECT count(*) FROM refusals"),
	    kept);
	ck_assert_int_eq(test_sql_int(dbpath, "SELECT count(*) FROM refusals"
	    " WHERE kind = 'payment' AND object_id = 'PR-9' AND notify_type ="
	    " 'PAYMENT_RESULT'"), kept - 1);
	ck_assert_int_eq(test_sql_int(dbpath, "SELECT count(*) FROM refusals"
	    " WHERE status = 413 AND body_sha256 = '' AND kind IS NULL"), 1);
	ck_assert_int_eq(test_sql_int(dbpath, "SELECT count(*) FROM refusals"
	    " WHERE authentic"), 3);
	verify_keyring_free(kr);
	test_rmtree(dir);
}
END_TEST

/* The list antomctl refusals shows, with the writer's at-risk test. */
START_TEST(test_list_sql)
{
	char ago[REFUSAL_AGO_LEN];

	refusal_ago(ago, 3600);
	ck_assert_str_eq(ago, "-3600 seconds");
	ck_assert_ptr_nonnull(strstr(refusal_list_sql, "AS at_risk"));
	ck_assert_ptr_nonnull(strstr(refusal_list_sql, "AS given_up"));
	ck_assert_ptr_nonnull(strstr(refusal_list_sql, "(authentic AND"));
}
END_TEST

Suite *
refusal_suite(void)
{
	Suite *s = suite_create("refusal");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_claims);
	tcase_add_test(tc, test_set);
	tcase_add_test(tc, test_keep);
	tcase_add_test(tc, test_note_policy);
	tcase_add_test(tc, test_list_sql);
	suite_add_tcase(s, tc);
	return s;
}
