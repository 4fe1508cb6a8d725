/*
 * check_fixture.c - built-in notification bodies: valid JSON in Antom's
 * shape, fresh ids per call, overrides applied, bad input refused.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "fixture.h"
#include "notif.h"
#include "suites.h"

/* Build name with sets and parse it; aborts the test on failure. */
static json_t *
build(const char *name, const char *const *sets, size_t nsets, char **body)
{
	json_error_t jerr;
	char err[256] = "", *b;
	json_t *root;

	b = fixture_build(name, sets, nsets, err, sizeof(err));
	ck_assert_msg(b != NULL, "%s: %s", name, err);
	root = json_loads(b, JSON_REJECT_DUPLICATES, &jerr);
	ck_assert_msg(root != NULL, "%s: %s", name, jerr.text);
	ck_assert(json_is_object(root));
	if (body != NULL)
		*body = b;
	else
		free(b);
	return root;
}

static const char *
str(json_t *root, const char *path1, const char *path2)
{
	json_t *v = json_object_get(root, path1);

	if (path2 != NULL)
		v = json_object_get(v, path2);
	ck_assert_msg(json_is_string(v), "%s.%s not a string", path1,
	    path2 != NULL ? path2 : "");
	return json_string_value(v);
}

static int
all_hex_lower(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]) && (s[i] < 'a' || s[i] > 'f'))
			return 0;
	return s[n] == '\0';
}

static int
all_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return s[n] == '\0';
}

START_TEST(test_every_fixture_is_compact_json)
{
	json_t *root;
	char *body, *again;
	struct notif n;
	size_t i;

	for (i = 0; fixture_names[i] != NULL; i++) {
		root = build(fixture_names[i], NULL, 0, &body);
		/* Compact and in template order: re-dumping changes nothing. */
		again = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
		ck_assert_str_eq(body, again);
		ck_assert_ptr_null(strchr(body, '\n'));
		/* notifyDispute has its own discriminator and no result. */
		if (strncmp(fixture_names[i], "dispute-", 8) == 0) {
			str(root, "disputeNotificationType", NULL);
			str(root, "disputeId", NULL);
			str(root, "paymentId", NULL);
			ck_assert_ptr_null(json_object_get(root, "result"));
			ck_assert_ptr_null(json_object_get(root, "notifyType"));
		} else {
			/* notifyVaulting has no discriminator at all. */
			if (strncmp(fixture_names[i], "vaulting-", 9) == 0)
				str(root, "vaultingRequestId", NULL);
			else
				str(root, "notifyType", NULL);
			/* Antom's notifyRefund never names the payment. */
			if (strncmp(fixture_names[i], "refund-", 7) == 0) {
				ck_assert_ptr_null(json_object_get(root,
				    "paymentId"));
				ck_assert_ptr_null(json_object_get(root,
				    "paymentRequestId"));
			} else if (strncmp(fixture_names[i], "vaulting-", 9)
			    != 0)
				str(root, "paymentId", NULL);
			str(root, "result", "resultCode");
			str(root, "result", "resultStatus");
			str(root, "result", "resultMessage");
		}
		/* The daemon applies every fixture as the kind it is named for. */
		ck_assert_int_eq(notif_parse((const unsigned char *)body,
		    strlen(body), &n), 0);
		ck_assert_msg(n.kind != NOTIF_OTHER, "%s archived: %s",
		    fixture_names[i], n.archive_reason);
		ck_assert_msg(strncmp(fixture_names[i], notif_kind_str(n.kind),
		    strlen(notif_kind_str(n.kind))) == 0, "%s parsed as %s",
		    fixture_names[i], notif_kind_str(n.kind));
		notif_free(&n);
		free(again);
		free(body);
		json_decref(root);
	}
	ck_assert_uint_eq(i, 13);
}
END_TEST

/* Refunds and disputes: fresh ids of their own, amount shorthands. */
START_TEST(test_refund_and_dispute)
{
	static const char *const sets[] = { "amount=100", "currency=JPY" };
	json_t *a = build("refund-success", sets, 2, NULL);
	json_t *b = build("refund-success", NULL, 0, NULL);
	json_t *d = build("dispute-created", sets, 2, NULL);

	ck_assert_str_eq(str(a, "notifyType", NULL), "REFUND_RESULT");
	ck_assert_str_eq(str(a, "refundStatus", NULL), "SUCCESS");
	ck_assert_str_eq(str(a, "refundAmount", "value"), "100");
	ck_assert_str_eq(str(a, "refundAmount", "currency"), "JPY");
	/* The shorthands keep the amount really refunded in step. */
	ck_assert_str_eq(str(a, "actualRefundAmount", "value"), "100");
	ck_assert_str_eq(str(a, "actualRefundAmount", "currency"), "JPY");
	str(a, "arn", NULL);
	ck_assert_ptr_null(json_object_get(a, "paymentId"));
	ck_assert_ptr_null(json_object_get(b, "paymentId"));
	ck_assert_str_ne(str(a, "refundRequestId", NULL),
	    str(b, "refundRequestId", NULL));
	ck_assert_int_eq(strncmp(str(a, "refundRequestId", NULL), "RR-", 3), 0);
	ck_assert_str_eq(str(d, "disputeNotificationType", NULL),
	    "DISPUTE_CREATED");
	ck_assert_str_eq(str(d, "disputeAmount", "value"), "100");
	ck_assert_str_eq(str(d, "disputeReasonCode", NULL), "4853");
	json_decref(a);
	json_decref(b);
	json_decref(d);
}
END_TEST

START_TEST(test_payment_success_shape)
{
	static const char head[] = "{\"notifyType\":\"PAYMENT_RESULT\","
	    "\"result\":{\"resultCode\":\"SUCCESS\",\"resultStatus\":\"S\","
	    "\"resultMessage\":\"success\"},\"paymentRequestId\":\"PR-";
	char *body;
	json_t *root = build("payment-success", NULL, 0, &body);

	/* Antom's own field order, as in docs/protocol.md section 5. */
	ck_assert_msg(strncmp(body, head, sizeof(head) - 1) == 0, "%s", body);
	ck_assert_str_eq(str(root, "paymentAmount", "value"), "4200");
	ck_assert_str_eq(str(root, "paymentAmount", "currency"), "SGD");
	ck_assert_str_eq(str(root, "paymentTime", NULL),
	    "2020-01-01T12:01:01+08:30");
	ck_assert_str_eq(str(root, "paymentResultInfo", "cardBrand"), "VISA");
	ck_assert_str_eq(str(root, "paymentResultInfo", "lastFour"), "4242");
	ck_assert_str_eq(str(root, "paymentResultInfo", "issuingCountry"),
	    "SG");
	ck_assert_str_eq(str(root, "paymentResultInfo", "avsResultRaw"), "A");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(
	    json_object_get(root, "paymentResultInfo"), "threeDSResult"),
	    "eci")), "02");
	free(body);
	json_decref(root);
}
END_TEST

START_TEST(test_other_fixtures_shape)
{
	json_t *root;

	root = build("payment-pending", NULL, 0, NULL);
	ck_assert_str_eq(str(root, "notifyType", NULL), "PAYMENT_PENDING");
	ck_assert_str_eq(str(root, "result", "resultStatus"), "S");
	ck_assert_str_eq(str(root, "result", "resultCode"),
	    "PAYMENT_IN_PROCESS");
	json_decref(root);

	root = build("payment-fail", NULL, 0, NULL);
	ck_assert_str_eq(str(root, "notifyType", NULL), "PAYMENT_RESULT");
	ck_assert_str_eq(str(root, "result", "resultStatus"), "F");
	ck_assert_str_ne(str(root, "result", "resultCode"), "SUCCESS");
	ck_assert_str_eq(str(root, "paymentResultInfo", "refusalCodeRaw"),
	    "05");
	str(root, "paymentResultInfo", "refusalReasonRaw");
	ck_assert_ptr_null(json_object_get(root, "paymentTime"));
	json_decref(root);

	root = build("capture-success", NULL, 0, NULL);
	ck_assert_str_eq(str(root, "notifyType", NULL), "CAPTURE_RESULT");
	ck_assert_str_eq(str(root, "result", "resultStatus"), "S");
	ck_assert_str_eq(str(root, "result", "resultCode"), "SUCCESS");
	ck_assert_str_eq(str(root, "captureAmount", "value"), "4200");
	json_decref(root);

	root = build("capture-fail", NULL, 0, NULL);
	ck_assert_str_eq(str(root, "notifyType", NULL), "CAPTURE_RESULT");
	ck_assert_str_eq(str(root, "result", "resultStatus"), "F");
	ck_assert_str_eq(str(root, "result", "resultCode"), "PROCESS_FAIL");
	ck_assert_str_eq(str(root, "captureTime", NULL),
	    "2022-11-10T00:34:52-08:00");
	ck_assert_ptr_null(json_object_get(root, "paymentAmount"));
	json_decref(root);
}
END_TEST

/*
 * Where Antom published a body of the kind and outcome, the fixture is
 * that body byte for byte once given its ids, less the documented fields
 * it adds (listed here; fixture.c says where each comes from).
 */
START_TEST(test_published_templates)
{
	static const struct {
		const char	*fixture, *corpus;
		const char	*sets[3];
		const char	*added[5];	/* "key" or "object.key" */
	} t[] = {
		{ "payment-success", "corpus/payment-3ds-card-success.json",
		  { "paymentRequestId=paymentRequestId01",
		    "paymentId=2020010123456789XXXX", NULL },
		  { "actualPaymentAmount", "paymentMethodType",
		    "paymentResultInfo.cardBrand", "paymentResultInfo.lastFour",
		    "paymentResultInfo.issuingCountry" } },
		{ "capture-success", "corpus/capture-success.json",
		  { "captureId=2022XXXXXXX", "captureRequestId=captureRequestId01",
		    "paymentId=2022XXXXXXX" }, { NULL } },
		{ "capture-fail", "corpus/capture-failed.json",
		  { "captureId=2022XXXXXXX", "captureRequestId=captureRequestId01",
		    "paymentId=2022XXXXXXX" }, { NULL } },
		{ "dispute-created", "corpus/dispute-created.json",
		  { "disputeId=202209212501310115730104****",
		    "paymentId=202209231540108001001888XXXXXX****",
		    "paymentRequestId=requestId_12345****" }, { NULL } },
	};
	char path[512], *body, *want, *got;
	const char *dot;
	json_t *root, *o;
	size_t i, j, len;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		root = build(t[i].fixture, t[i].sets, t[i].sets[2] != NULL ?
		    3 : 2, &body);
		for (j = 0; j < 5 && t[i].added[j] != NULL; j++) {
			o = root;
			if ((dot = strchr(t[i].added[j], '.')) != NULL) {
				char parent[64];

				snprintf(parent, sizeof(parent), "%.*s",
				    (int)(dot - t[i].added[j]), t[i].added[j]);
				o = json_object_get(root, parent);
			}
			ck_assert_msg(json_object_del(o, dot != NULL ? dot + 1 :
			    t[i].added[j]) == 0, "%s: no %s", t[i].fixture,
			    t[i].added[j]);
		}
		got = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
		want = test_slurp(test_path(path, sizeof(path), t[i].corpus),
		    &len);
		while (len > 0 && (want[len - 1] == '\n' ||
		    want[len - 1] == '\r'))
			want[--len] = '\0';
		ck_assert_msg(strcmp(got, want) == 0, "%s:\n%s\n%s:\n%s",
		    t[i].fixture, got, t[i].corpus, want);
		free(got);
		free(want);
		free(body);
		json_decref(root);
	}
}
END_TEST

START_TEST(test_fresh_ids)
{
	json_t *a, *b;
	const char *id;

	a = build("payment-success", NULL, 0, NULL);
	b = build("payment-success", NULL, 0, NULL);
	id = str(a, "paymentRequestId", NULL);
	ck_assert_msg(strncmp(id, "PR-", 3) == 0 && all_hex_lower(id + 3, 16),
	    "paymentRequestId %s", id);
	ck_assert_msg(all_digits(str(a, "paymentId", NULL), 35), "paymentId %s",
	    str(a, "paymentId", NULL));
	ck_assert_str_ne(id, str(b, "paymentRequestId", NULL));
	ck_assert_str_ne(str(a, "paymentId", NULL), str(b, "paymentId", NULL));
	json_decref(a);
	json_decref(b);

	a = build("capture-fail", NULL, 0, NULL);
	b = build("capture-fail", NULL, 0, NULL);
	id = str(a, "captureRequestId", NULL);
	ck_assert_msg(strncmp(id, "CR-", 3) == 0 && all_hex_lower(id + 3, 16),
	    "captureRequestId %s", id);
	ck_assert(all_digits(str(a, "captureId", NULL), 35));
	ck_assert(all_digits(str(a, "paymentId", NULL), 35));
	ck_assert_str_ne(id, str(b, "captureRequestId", NULL));
	ck_assert_str_ne(str(a, "captureId", NULL), str(b, "captureId", NULL));
	ck_assert_str_ne(str(a, "paymentId", NULL), str(b, "paymentId", NULL));
	json_decref(a);
	json_decref(b);
}
END_TEST

/* yyyyMMddHHmm of t, UTC, into out[13]. */
static void
utc_minute(time_t t, char *out)
{
	struct tm tm;

	ck_assert(gmtime_r(&t, &tm) != NULL);
	ck_assert(strftime(out, 13, "%Y%m%d%H%M", &tm) == 12);
}

/*
 * Antom's ids begin with the minute they were made and sort by time
 * (docs/protocol.md 4.1): each of a run of ids is 35 digits, begins with
 * a minute of the run, and sorts after the one before.
 */
START_TEST(test_antom_ids_sort_by_time)
{
	char prev[FIXTURE_ANTOM_ID_SIZE] = "", id[FIXTURE_ANTOM_ID_SIZE];
	char lo[13], hi[13];
	time_t t0 = time(NULL);
	int i;

	for (i = 0; i < 2000; i++) {
		ck_assert_int_eq(fixture_antom_id_new(id, sizeof(id)), 0);
		ck_assert_msg(all_digits(id, FIXTURE_ANTOM_ID_SIZE - 1), "%s", id);
		ck_assert_msg(strcmp(prev, id) < 0, "%s then %s", prev, id);
		memcpy(prev, id, sizeof(id));
	}
	utc_minute(t0, lo);
	utc_minute(time(NULL), hi);
	ck_assert_msg(strncmp(id, lo, 12) >= 0 && strncmp(id, hi, 12) <= 0,
	    "%s not made between %s and %s", id, lo, hi);
	/* Too small a buffer is refused, not cut short. */
	ck_assert_int_eq(fixture_antom_id_new(id, FIXTURE_ANTOM_ID_SIZE - 1),
	    -1);
}
END_TEST

/* Threads making ids at once: each its own run, in order. */
#define IDS_THREADS	4
#define IDS_EACH	5000

static void *
ids_thread(void *arg)
{
	char (*ids)[FIXTURE_ANTOM_ID_SIZE] = arg;
	int i;

	for (i = 0; i < IDS_EACH; i++)
		if (fixture_antom_id_new(ids[i], FIXTURE_ANTOM_ID_SIZE) != 0 ||
		    (i > 0 && strcmp(ids[i - 1], ids[i]) >= 0))
			return ids;		/* failed */
	return NULL;
}

static int
ids_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/*
 * Made at once by several threads, in the same microseconds: every id of
 * the process is still distinct, and each thread's sort in order.
 */
START_TEST(test_antom_ids_distinct_across_threads)
{
	char (*ids)[FIXTURE_ANTOM_ID_SIZE];
	pthread_t t[IDS_THREADS];
	void *failed;
	size_t i, n = IDS_THREADS * IDS_EACH;

	ids = calloc(n, FIXTURE_ANTOM_ID_SIZE);
	ck_assert(ids != NULL);
	for (i = 0; i < IDS_THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, ids_thread,
		    ids + i * IDS_EACH), 0);
	for (i = 0; i < IDS_THREADS; i++) {
		ck_assert_int_eq(pthread_join(t[i], &failed), 0);
		ck_assert_msg(failed == NULL, "thread %zu: out of order", i);
	}
	qsort(ids, n, FIXTURE_ANTOM_ID_SIZE, ids_cmp);
	for (i = 1; i < n; i++)
		ck_assert_msg(strcmp(ids[i - 1], ids[i]) != 0, "%s twice",
		    ids[i]);
	free(ids);
}
END_TEST

START_TEST(test_overrides_payment)
{
	const char *const sets[] = {
		"paymentRequestId=order-42", "paymentId=", "amount=100",
		"currency=JPY", "resultCode=USER_BALANCE_NOT_ENOUGH",
		"resultStatus=F", "resultMessage=余额不足 café",
		"newField=a=b", "notifyType=PAYMENT_PENDING",
	};
	char *body;
	json_t *root = build("payment-success", sets, 9, &body);

	ck_assert_str_eq(str(root, "paymentRequestId", NULL), "order-42");
	ck_assert_str_eq(str(root, "paymentId", NULL), "");
	ck_assert_str_eq(str(root, "paymentAmount", "value"), "100");
	ck_assert_str_eq(str(root, "paymentAmount", "currency"), "JPY");
	ck_assert_str_eq(str(root, "actualPaymentAmount", "value"), "100");
	ck_assert_str_eq(str(root, "actualPaymentAmount", "currency"), "JPY");
	ck_assert_str_eq(str(root, "result", "resultCode"),
	    "USER_BALANCE_NOT_ENOUGH");
	ck_assert_str_eq(str(root, "result", "resultStatus"), "F");
	ck_assert_str_eq(str(root, "result", "resultMessage"),
	    "余额不足 café");
	ck_assert_str_eq(str(root, "newField", NULL), "a=b");
	ck_assert_str_eq(str(root, "notifyType", NULL), "PAYMENT_PENDING");
	/* Overridden fields keep their place; UTF-8 is not \u-escaped. */
	ck_assert_msg(strncmp(body, "{\"notifyType\":\"PAYMENT_PENDING\"", 31)
	    == 0, "%s", body);
	ck_assert_ptr_nonnull(strstr(body, "余额不足"));
	ck_assert_ptr_null(json_object_get(root, "amount"));
	ck_assert_ptr_null(json_object_get(root, "resultCode"));
	free(body);
	json_decref(root);
}
END_TEST

START_TEST(test_overrides_capture)
{
	const char *const sets[] = {
		"amount=1", "amount=2", "captureId=C1", "paymentId=P1",
		"currency=USD",
	};
	json_t *root = build("capture-success", sets, 5, NULL);

	/* Shorthands land in captureAmount; the last setting wins. */
	ck_assert_str_eq(str(root, "captureAmount", "value"), "2");
	ck_assert_str_eq(str(root, "captureAmount", "currency"), "USD");
	ck_assert_ptr_null(json_object_get(root, "paymentAmount"));
	ck_assert_str_eq(str(root, "captureId", NULL), "C1");
	ck_assert_str_eq(str(root, "paymentId", NULL), "P1");
	ck_assert_int_eq(strncmp(str(root, "captureRequestId", NULL), "CR-",
	    3), 0);
	json_decref(root);
}
END_TEST

START_TEST(test_override_replaces_object)
{
	const char *const sets[] = { "result=gone", "resultCode=X" };
	json_t *root = build("payment-fail", sets, 2, NULL);

	/* A shorthand after the object was replaced rebuilds it. */
	ck_assert_str_eq(str(root, "result", "resultCode"), "X");
	ck_assert_ptr_null(json_object_get(json_object_get(root, "result"),
	    "resultStatus"));
	json_decref(root);
}
END_TEST

START_TEST(test_bad_overrides)
{
	static const char *const bad[] = { "noequals", "=value", "" };
	const char *sets[2];
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sets[0] = "amount=1";
		sets[1] = bad[i];
		err[0] = '\0';
		ck_assert_ptr_null(fixture_build("payment-success", sets, 2,
		    err, sizeof(err)));
		ck_assert_msg(strstr(err, "key=value") != NULL, "err: %s", err);
	}
	sets[0] = NULL;
	ck_assert_ptr_null(fixture_build("payment-success", sets, 1, err,
	    sizeof(err)));
	sets[0] = "x=\xff\xfe";
	err[0] = '\0';
	ck_assert_ptr_null(fixture_build("payment-success", sets, 1, err,
	    sizeof(err)));
	ck_assert_msg(strstr(err, "UTF-8") != NULL, "err: %s", err);
	sets[0] = "\xff=x";
	ck_assert_ptr_null(fixture_build("payment-success", sets, 1, err,
	    sizeof(err)));
}
END_TEST

START_TEST(test_unknown_fixture)
{
	char err[256] = "";

	ck_assert_ptr_null(fixture_build("payment-sucess", NULL, 0, err,
	    sizeof(err)));
	ck_assert_msg(strstr(err, "payment-sucess") != NULL, "err: %s", err);
	ck_assert_msg(strstr(err, "capture-fail") != NULL, "err: %s", err);
	ck_assert_ptr_null(fixture_build(NULL, NULL, 0, err, sizeof(err)));
	ck_assert_ptr_null(fixture_build("", NULL, 0, NULL, 0));
}
END_TEST

/* fixture_check() refuses what fixture_build() would refuse for the user. */
START_TEST(test_check)
{
	static const char *const good[] = { "amount=1", "paymentId=P-1" };
	static const char *const bad_utf8[] = { "resultMessage=\xff" };
	static const char *const bad_set[] = { "=x" };
	char err[256] = "", longkey[300];
	const char *sets[1];

	ck_assert_int_eq(fixture_check("payment-success", good, 2, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(fixture_check("nope", NULL, 0, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "unknown fixture") != NULL, "err: %s", err);
	ck_assert_int_eq(fixture_check("payment-success", bad_set, 1, err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "bad override") != NULL, "err: %s", err);
	ck_assert_int_eq(fixture_check("payment-success", bad_utf8, 1, err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "cannot apply") != NULL, "err: %s", err);
	ck_assert_ptr_null(fixture_build("payment-success", bad_utf8, 1, err,
	    sizeof(err)));
	memset(longkey, 'k', sizeof(longkey));
	strcpy(longkey + 280, "=v");
	sets[0] = longkey;
	ck_assert_int_eq(fixture_check("payment-success", sets, 1, err,
	    sizeof(err)), -1);
}
END_TEST

Suite *
fixture_suite(void)
{
	Suite *s = suite_create("fixture");
	TCase *tc;

	tc = tcase_create("build");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_every_fixture_is_compact_json);
	tcase_add_test(tc, test_payment_success_shape);
	tcase_add_test(tc, test_published_templates);
	tcase_add_test(tc, test_refund_and_dispute);
	tcase_add_test(tc, test_other_fixtures_shape);
	tcase_add_test(tc, test_fresh_ids);
	tcase_add_test(tc, test_antom_ids_sort_by_time);
	tcase_add_test(tc, test_antom_ids_distinct_across_threads);
	suite_add_tcase(s, tc);

	tc = tcase_create("overrides");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_overrides_payment);
	tcase_add_test(tc, test_overrides_capture);
	tcase_add_test(tc, test_override_replaces_object);
	tcase_add_test(tc, test_bad_overrides);
	tcase_add_test(tc, test_unknown_fixture);
	tcase_add_test(tc, test_check);
	suite_add_tcase(s, tc);
	return s;
}
