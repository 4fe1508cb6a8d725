/*
 * check_notif.c - notif_parse(): the samples of docs/protocol.md section 5,
 * the real 2019 body,
 * every archive reason, and the hostile edges (ids, amounts, currencies,
 * duplicate keys, bad UTF-8, NUL, deep nesting, big bodies).
 *
 * Most cases are tables run as Check loop tests, so a failure names the
 * table row.  Each test forks (Check's default), so a crash fails one test.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notif.h"
#include "suites.h"

#define T_NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* A minimal payment around one fragment, so each row changes one thing. */
#define T_PAY_HEAD "{\"notifyType\":\"PAYMENT_RESULT\",\"result\":{\"resultStatus\":\"S\"},"

static const char t_sample_payment[] =
    "{\"notifyType\":\"PAYMENT_RESULT\",\"result\":{\"resultCode\":\"SUCCESS\","
    "\"resultStatus\":\"S\",\"resultMessage\":\"success\"},\"paymentRequestId\":"
    "\"paymentRequestId01\",\"paymentId\":\"2020010123456789XXXX\",\"paymentAmount\":"
    "{\"value\":\"4200\",\"currency\":\"SGD\"},\"paymentCreateTime\":"
    "\"2020-01-01T12:01:00+08:30\",\"paymentTime\":\"2020-01-01T12:01:01+08:30\","
    "\"paymentResultInfo\":{\"avsResultRaw\":\"A\",\"cvvResultRaw\":\"Y\","
    "\"networkTransactionId\":\"sampleNetworkTransactionId123456\",\"threeDSResult\":"
    "{\"eci\":\"02\",\"threeDSVersion\":\"2.2.0\",\"caav\":\"cavvSample\","
    "\"dsTransactionId\":\"sample_dsTranasctionId\"}}}";

static const char t_sample_capture_failed[] =
    "{\"captureAmount\":{\"currency\":\"SGD\",\"value\":\"4200\"},\"notifyType\":"
    "\"CAPTURE_RESULT\",\"captureId\":\"2022XXXXXXX\",\"captureRequestId\":"
    "\"captureRequestId01\",\"captureTime\":\"2022-11-10T00:34:52-08:00\","
    "\"paymentId\":\"2022XXXXXXX\",\"result\":{\"resultCode\":\"PROCESS_FAIL\","
    "\"resultMessage\":\"fail.\",\"resultStatus\":\"F\"}}";

static void
t_parse(const char *body, size_t len, struct notif *n)
{
	ck_assert_int_eq(notif_parse((const unsigned char *)body, len, n), 0);
}

static void
t_parse_str(const char *body, struct notif *n)
{
	t_parse(body, strlen(body), n);
}

/*
 * An archived notification carries the document, the discriminator and the
 * reason, and nothing else a caller might be tempted to apply.
 */
static void
t_assert_other(const struct notif *n, const char *reason, const char *type)
{
	struct notif want;

	ck_assert_int_eq(n->kind, NOTIF_OTHER);
	ck_assert_pstr_eq(n->archive_reason, reason);
	ck_assert_pstr_eq(n->notify_type, type);
	ck_assert_int_eq(n->status, NOTIF_ST_NONE);
	ck_assert_ptr_null(n->payment_request_id);
	ck_assert_ptr_null(n->capture_request_id);
	ck_assert(!n->amount.present);
	memset(&want, 0, sizeof(want));
	want.notify_type = n->notify_type;
	want.archive_reason = n->archive_reason;
	want.doc = n->doc;
	ck_assert_msg(memcmp(&want, n, sizeof(want)) == 0,
	    "NOTIF_OTHER (%s) left other fields set", reason);
}

/* Every card and 3-D Secure field of the documented sample, caav included. */
START_TEST(test_sample_payment)
{
	struct notif n;

	t_parse_str(t_sample_payment, &n);
	ck_assert_int_eq(n.kind, NOTIF_PAYMENT);
	ck_assert_int_eq(n.status, NOTIF_ST_SUCCESS);
	ck_assert_ptr_null(n.archive_reason);
	ck_assert_str_eq(n.notify_type, "PAYMENT_RESULT");
	ck_assert_str_eq(n.result_code, "SUCCESS");
	ck_assert_str_eq(n.result_status, "S");
	ck_assert_str_eq(n.result_message, "success");
	ck_assert_str_eq(n.payment_request_id, "paymentRequestId01");
	ck_assert_str_eq(n.payment_id, "2020010123456789XXXX");
	ck_assert_ptr_null(n.capture_request_id);
	ck_assert_ptr_null(n.capture_id);
	ck_assert(n.amount.present);
	ck_assert_int_eq(n.amount.value, 4200);
	ck_assert_str_eq(n.amount.currency, "SGD");
	ck_assert_str_eq(n.payment_create_time, "2020-01-01T12:01:00+08:30");
	ck_assert_str_eq(n.payment_time, "2020-01-01T12:01:01+08:30");
	ck_assert_str_eq(n.avs_result_raw, "A");
	ck_assert_str_eq(n.cvv_result_raw, "Y");
	ck_assert_str_eq(n.network_transaction_id, "sampleNetworkTransactionId123456");
	ck_assert_str_eq(n.three_ds_eci, "02");
	ck_assert_str_eq(n.three_ds_version, "2.2.0");
	ck_assert_str_eq(n.three_ds_cavv, "cavvSample");
	ck_assert_str_eq(n.three_ds_ds_transaction_id, "sample_dsTranasctionId");
	ck_assert_ptr_null(n.card_brand);
	ck_assert_ptr_null(n.last_four);
	ck_assert_ptr_null(n.issuing_country);
	ck_assert_ptr_null(n.refusal_code_raw);
	ck_assert_ptr_null(n.refusal_reason_raw);
	ck_assert_ptr_null(n.capture_time);
	ck_assert_ptr_null(n.acquirer_reference_no);
	ck_assert_ptr_nonnull(n.doc);
	notif_free(&n);
}
END_TEST

START_TEST(test_sample_capture_failed)
{
	struct notif n;

	t_parse_str(t_sample_capture_failed, &n);
	ck_assert_int_eq(n.kind, NOTIF_CAPTURE);
	ck_assert_int_eq(n.status, NOTIF_ST_FAIL);
	ck_assert_str_eq(n.notify_type, "CAPTURE_RESULT");
	ck_assert_str_eq(n.result_code, "PROCESS_FAIL");
	ck_assert_str_eq(n.result_status, "F");
	ck_assert_str_eq(n.result_message, "fail.");
	ck_assert_str_eq(n.capture_request_id, "captureRequestId01");
	ck_assert_str_eq(n.capture_id, "2022XXXXXXX");
	ck_assert_str_eq(n.payment_id, "2022XXXXXXX");
	ck_assert_ptr_null(n.payment_request_id);
	ck_assert(n.amount.present);
	ck_assert_int_eq(n.amount.value, 4200);
	ck_assert_str_eq(n.amount.currency, "SGD");
	ck_assert_str_eq(n.capture_time, "2022-11-10T00:34:52-08:00");
	ck_assert_ptr_null(n.acquirer_reference_no);
	ck_assert_ptr_null(n.payment_time);
	notif_free(&n);
}
END_TEST

/* The body Antom really signed in 2019; its paymentId is exactly 64 bytes. */
START_TEST(test_real_2019)
{
	char path[4096];
	char *file;
	json_t *vectors, *body;
	json_error_t err;
	struct notif n;

	file = test_slurp(test_path(path, sizeof(path), "vectors/real-antom-2019.json"), NULL);
	vectors = json_loads(file, 0, &err);
	ck_assert_msg(vectors != NULL, "%s: %s", path, err.text);
	body = json_object_get(json_array_get(vectors, 0), "body");
	ck_assert(json_is_string(body));

	t_parse(json_string_value(body), json_string_length(body), &n);
	ck_assert_int_eq(n.kind, NOTIF_PAYMENT);
	ck_assert_int_eq(n.status, NOTIF_ST_SUCCESS);
	ck_assert_str_eq(n.payment_request_id, "cc89dd30134549d6");
	ck_assert_str_eq(n.payment_id,
	    "093604157355136494636350037908059631krbkwaTbZW201911110000388037");
	ck_assert_uint_eq(strlen(n.payment_id), NOTIF_ID_MAX);
	ck_assert(n.amount.present);
	ck_assert_int_eq(n.amount.value, 100);
	ck_assert_str_eq(n.amount.currency, "PHP");
	ck_assert_str_eq(n.payment_create_time, "2019-11-12T17:36:04+08:00");
	ck_assert_str_eq(n.payment_time, "2019-11-12T17:36:04+08:00");
	ck_assert_str_eq(n.result_code, "SUCCESS");
	ck_assert_str_eq(n.result_message, "success.");
	notif_free(&n);
	json_decref(vectors);
	free(file);
}
END_TEST

START_TEST(test_payment_pending)
{
	struct notif n;

	t_parse_str("{\"notifyType\":\"PAYMENT_PENDING\",\"result\":{\"resultCode\":"
	    "\"PAYMENT_IN_PROCESS\",\"resultStatus\":\"S\",\"resultMessage\":"
	    "\"payment in process\"},\"paymentRequestId\":\"pr-pending-1\","
	    "\"paymentId\":\"2024000001\",\"paymentAmount\":{\"currency\":\"USD\","
	    "\"value\":\"1999\"},\"paymentCreateTime\":\"2024-05-01T10:00:00Z\"}", &n);
	ck_assert_int_eq(n.kind, NOTIF_PAYMENT);
	ck_assert_int_eq(n.status, NOTIF_ST_PENDING);
	ck_assert_str_eq(n.notify_type, "PAYMENT_PENDING");
	ck_assert_str_eq(n.result_code, "PAYMENT_IN_PROCESS");
	ck_assert_str_eq(n.payment_request_id, "pr-pending-1");
	ck_assert_int_eq(n.amount.value, 1999);
	ck_assert_str_eq(n.amount.currency, "USD");
	ck_assert_str_eq(n.payment_create_time, "2024-05-01T10:00:00Z");
	ck_assert_ptr_null(n.payment_time);
	notif_free(&n);
}
END_TEST

START_TEST(test_payment_failed_refusal)
{
	struct notif n;

	t_parse_str("{\"notifyType\":\"PAYMENT_RESULT\",\"result\":{\"resultCode\":"
	    "\"CARD_DECLINED\",\"resultStatus\":\"F\",\"resultMessage\":"
	    "\"Do not honor\"},\"paymentRequestId\":\"pr-fail-1\",\"paymentId\":"
	    "\"2024000002\",\"paymentAmount\":{\"currency\":\"EUR\",\"value\":\"500\"},"
	    "\"paymentResultInfo\":{\"cardBrand\":\"VISA\",\"lastFour\":\"0002\","
	    "\"issuingCountry\":\"FR\",\"refusalCodeRaw\":\"05\",\"refusalReasonRaw\":"
	    "\"Do not honor\",\"cvvResultRaw\":\"N\"}}", &n);
	ck_assert_int_eq(n.kind, NOTIF_PAYMENT);
	ck_assert_int_eq(n.status, NOTIF_ST_FAIL);
	ck_assert_str_eq(n.result_status, "F");
	ck_assert_str_eq(n.result_code, "CARD_DECLINED");
	ck_assert_str_eq(n.card_brand, "VISA");
	ck_assert_str_eq(n.last_four, "0002");
	ck_assert_str_eq(n.issuing_country, "FR");
	ck_assert_str_eq(n.refusal_code_raw, "05");
	ck_assert_str_eq(n.refusal_reason_raw, "Do not honor");
	ck_assert_str_eq(n.cvv_result_raw, "N");
	ck_assert_ptr_null(n.three_ds_eci);
	ck_assert_ptr_null(n.three_ds_cavv);
	notif_free(&n);
}
END_TEST

START_TEST(test_capture_success)
{
	struct notif n;

	t_parse_str("{\"notifyType\":\"CAPTURE_RESULT\",\"result\":{\"resultCode\":"
	    "\"SUCCESS\",\"resultStatus\":\"S\",\"resultMessage\":\"success.\"},"
	    "\"captureRequestId\":\"cap-1\",\"captureId\":\"2024CAP0001\",\"paymentId\":"
	    "\"2024PAY0001\",\"captureAmount\":{\"value\":\"4200\",\"currency\":\"SGD\"},"
	    "\"captureTime\":\"2024-05-01T10:00:03+08:00\",\"acquirerReferenceNo\":"
	    "\"ARN 7412345 0001\"}", &n);
	ck_assert_int_eq(n.kind, NOTIF_CAPTURE);
	ck_assert_int_eq(n.status, NOTIF_ST_SUCCESS);
	ck_assert_str_eq(n.capture_request_id, "cap-1");
	ck_assert_str_eq(n.capture_id, "2024CAP0001");
	ck_assert_str_eq(n.payment_id, "2024PAY0001");
	ck_assert_int_eq(n.amount.value, 4200);
	ck_assert_str_eq(n.capture_time, "2024-05-01T10:00:03+08:00");
	/* Text fields may contain blanks; only ids may not. */
	ck_assert_str_eq(n.acquirer_reference_no, "ARN 7412345 0001");
	notif_free(&n);
}
END_TEST

/* Numbers, booleans, nulls and unknown keys anywhere do not disturb parsing. */
START_TEST(test_ignored_values)
{
	struct notif n;

	t_parse_str("{\"quotePrice\":1.2345,\"defendable\":true,\"notifyType\":"
	    "\"PAYMENT_RESULT\",\"bigInt\":123456789012345678901234567890,\"neg\":-0,"
	    "\"exp\":6.02e23,\"nothing\":null,\"result\":{\"resultStatus\":\"S\","
	    "\"resultCode\":7,\"resultMessage\":false,\"extra\":[1,{\"a\":{}}]},"
	    "\"paymentRequestId\":\"pr-1\",\"paymentId\":null,\"captureId\":null,"
	    "\"paymentAmount\":{\"value\":\"10\",\"currency\":\"SGD\",\"unit\":2,"
	    "\"x\":{\"y\":[true,false,null]}},\"paymentTime\":12345,"
	    "\"paymentResultInfo\":{\"cardBrand\":{\"name\":\"VISA\"},\"lastFour\":1234,"
	    "\"threeDSResult\":[\"eci\"],\"fraud\":{\"score\":0.01,\"deep\":{\"deeper\":"
	    "{\"deepest\":[[],{}]}}}},\"pspCustomerInfo\":{\"pspName\":\"GCASH\"}}", &n);
	ck_assert_int_eq(n.kind, NOTIF_PAYMENT);
	ck_assert_int_eq(n.status, NOTIF_ST_SUCCESS);
	ck_assert_str_eq(n.payment_request_id, "pr-1");
	ck_assert_ptr_null(n.payment_id);
	ck_assert_ptr_null(n.capture_id);
	ck_assert_ptr_null(n.result_code);
	ck_assert_ptr_null(n.result_message);
	ck_assert_ptr_null(n.payment_time);
	ck_assert_ptr_null(n.card_brand);
	ck_assert_ptr_null(n.last_four);
	ck_assert_ptr_null(n.three_ds_eci);
	ck_assert_int_eq(n.amount.value, 10);
	notif_free(&n);

	/* paymentResultInfo of the wrong type just means no card details. */
	t_parse_str(T_PAY_HEAD "\"paymentRequestId\":\"r\",\"paymentResultInfo\":\"x\"}", &n);
	ck_assert_int_eq(n.kind, NOTIF_PAYMENT);
	ck_assert_ptr_null(n.card_brand);
	notif_free(&n);
}
END_TEST

/* JPY and KRW have no minor unit: the value is taken as is, no scaling. */
START_TEST(test_zero_decimal_currency)
{
	struct notif n;

	t_parse_str(T_PAY_HEAD "\"paymentRequestId\":\"r\",\"paymentAmount\":"
	    "{\"currency\":\"JPY\",\"value\":\"4200\"}}", &n);
	ck_assert_int_eq(n.kind, NOTIF_PAYMENT);
	ck_assert_int_eq(n.amount.value, 4200);
	ck_assert_str_eq(n.amount.currency, "JPY");
	notif_free(&n);

	t_parse_str(T_PAY_HEAD "\"paymentRequestId\":\"r\",\"paymentAmount\":"
	    "{\"currency\":\"KRW\",\"value\":\"15000\"}}", &n);
	ck_assert_int_eq(n.amount.value, 15000);
	ck_assert_str_eq(n.amount.currency, "KRW");
	notif_free(&n);
}
END_TEST

/* Every archive reason, and the discriminator kept where there is one. */
static const struct {
	const char	*name;
	const char	*body;
	const char	*reason;
	const char	*type;
} t_other[] = {
	{ "garbage", "hello", "not_json", NULL },
	{ "root string", "\"PAYMENT_RESULT\"", "not_json", NULL },
	{ "trailing garbage", "{\"notifyType\":\"PAYMENT_RESULT\"} x", "not_json", NULL },
	{ "truncated", "{\"notifyType\":\"PAYMENT_RES", "not_json", NULL },
	/* Jansson quotes the input in its error: "near 'memory'" is no OOM. */
	{ "syntax error near the word memory", "{memory", "not_json", NULL },
	{ "syntax error near out of memory", "{\"a\":out of memory}", "not_json", NULL },
	{ "empty object", "{}", "unknown_type", NULL },
	{ "notifyType number", "{\"notifyType\":1}", "unknown_type", NULL },
	{ "notifyType empty", "{\"notifyType\":\"\"}", "unknown_type", NULL },
	{ "notifyType blank", "{\"notifyType\":\"PAYMENT RESULT\"}", "unknown_type", NULL },
	{ "notifyType 65 bytes", "{\"notifyType\":"
	    "\"PAYMENT_RESULT_PAYMENT_RESULT_PAYMENT_RESULT_PAYMENT_RESULT_ABCDE\"}",
	    "unknown_type", NULL },
	{ "refund X", "{\"notifyType\":\"REFUND_RESULT\",\"result\":{\"resultStatus\":\"X\"},"
	    "\"refundRequestId\":\"rf1\"}", "unknown_result_status", "REFUND_RESULT" },
	{ "refund no result", "{\"notifyType\":\"REFUND_RESULT\","
	    "\"refundRequestId\":\"rf1\",\"refundStatus\":\"SUCCESS\"}",
	    "bad_result", "REFUND_RESULT" },
	{ "refund SUCCESS with F", "{\"notifyType\":\"REFUND_RESULT\",\"result\":"
	    "{\"resultStatus\":\"F\"},\"refundRequestId\":\"rf1\",\"refundStatus\":"
	    "\"SUCCESS\"}", "inconsistent_status", "REFUND_RESULT" },
	/* notifyRefund documents SUCCESS and FAIL only: nothing guessed. */
	{ "refund PROCESSING", "{\"notifyType\":\"REFUND_RESULT\",\"result\":"
	    "{\"resultStatus\":\"S\"},\"refundRequestId\":\"rf1\",\"refundStatus\":"
	    "\"PROCESSING\"}", "unknown_refund_status", "REFUND_RESULT" },
	{ "refund U PROCESSING", "{\"notifyType\":\"REFUND_RESULT\",\"result\":"
	    "{\"resultStatus\":\"U\"},\"refundRequestId\":\"rf1\",\"refundStatus\":"
	    "\"PROCESSING\"}", "unknown_refund_status", "REFUND_RESULT" },
	{ "refund lower-case success", "{\"notifyType\":\"REFUND_RESULT\",\"result\":"
	    "{\"resultStatus\":\"S\"},\"refundRequestId\":\"rf1\",\"refundStatus\":"
	    "\"success\"}", "unknown_refund_status", "REFUND_RESULT" },
	{ "refundStatus number", "{\"notifyType\":\"REFUND_RESULT\",\"result\":"
	    "{\"resultStatus\":\"S\"},\"refundRequestId\":\"rf1\",\"refundStatus\":1}",
	    "unknown_refund_status", "REFUND_RESULT" },
	{ "refund missing id", "{\"notifyType\":\"REFUND_RESULT\",\"result\":"
	    "{\"resultStatus\":\"S\"},\"refundId\":\"x\"}", "missing_id",
	    "REFUND_RESULT" },
	{ "refund bad refundId", "{\"notifyType\":\"REFUND_RESULT\",\"result\":"
	    "{\"resultStatus\":\"S\"},\"refundRequestId\":\"rf1\",\"refundId\":"
	    "\"a\\tb\"}", "bad_id", "REFUND_RESULT" },
	{ "refund bad amount", "{\"notifyType\":\"REFUND_RESULT\",\"result\":"
	    "{\"resultStatus\":\"S\"},\"refundRequestId\":\"rf1\",\"refundAmount\":"
	    "{\"value\":\"1.5\",\"currency\":\"USD\"}}", "bad_amount", "REFUND_RESULT" },
	{ "dispute unknown stage", "{\"disputeNotificationType\":\"DISPUTE_REOPENED\","
	    "\"disputeId\":\"d1\"}", "unsupported_type", "DISPUTE_REOPENED" },
	{ "dispute missing id", "{\"disputeNotificationType\":\"DISPUTE_CREATED\","
	    "\"paymentId\":\"p1\",\"defendable\":true}", "missing_id",
	    "DISPUTE_CREATED" },
	{ "dispute bad id", "{\"disputeNotificationType\":\"DISPUTE_CREATED\","
	    "\"disputeId\":\"d 1\"}", "bad_id", "DISPUTE_CREATED" },
	{ "dispute bad amount", "{\"disputeNotificationType\":\"DISPUTE_CREATED\","
	    "\"disputeId\":\"d1\",\"disputeAmount\":{\"value\":\"1\",\"currency\":"
	    "\"ABC\"}}", "bad_currency", "DISPUTE_CREATED" },
	{ "dispute bad judged amount", "{\"disputeNotificationType\":\"DISPUTE_JUDGED\","
	    "\"disputeId\":\"d1\",\"disputeJudgedAmount\":{\"value\":\"-5\","
	    "\"currency\":\"USD\"}}", "bad_amount", "DISPUTE_JUDGED" },
	{ "vaulting lower u", "{\"vaultingRequestId\":\"v1\",\"result\":{\"resultStatus\":"
	    "\"u\"}}", "unknown_result_status", NULL },
	{ "vaulting F PROCESSING", "{\"vaultingRequestId\":\"v1\",\"result\":"
	    "{\"resultStatus\":\"F\"},\"vaultingStatus\":\"PROCESSING\"}",
	    "inconsistent_status", NULL },
	{ "vaulting bad status", "{\"vaultingRequestId\":\"v1\",\"result\":"
	    "{\"resultStatus\":\"S\"},\"vaultingStatus\":\"MAYBE\"}",
	    "unknown_vaulting_status", NULL },
	{ "vaulting bad id", "{\"vaultingRequestId\":\"\",\"result\":"
	    "{\"resultStatus\":\"S\"}}", "bad_id", NULL },
	{ "vaulting null id", "{\"vaultingRequestId\":null,\"result\":"
	    "{\"resultStatus\":\"S\"}}", "missing_id", NULL },
	{ "update amount", "{\"notifyType\":\"UPDATE_AMOUNT_RESULT\",\"updateRequestId\":"
	    "\"u1\"}", "unsupported_type", "UPDATE_AMOUNT_RESULT" },
	{ "lower-case type", "{\"notifyType\":\"payment_result\",\"result\":"
	    "{\"resultStatus\":\"S\"},\"paymentRequestId\":\"r\"}",
	    "unsupported_type", "payment_result" },
	{ "authorization", "{\"authorizationNotifyType\":\"AUTHCODE_CREATED\","
	    "\"authCode\":\"a\"}", "unsupported_type", "AUTHCODE_CREATED" },
	{ "subscription", "{\"subscriptionNotificationType\":\"CREATE\"}",
	    "unsupported_type", "CREATE" },
	{ "bad notifyType falls back", "{\"notifyType\":null,"
	    "\"subscriptionNotificationType\":\"CANCEL\"}", "unsupported_type", "CANCEL" },
	{ "bad alt falls back", "{\"disputeNotificationType\":7,"
	    "\"authorizationNotifyType\":\"TOKEN_CREATED\"}", "unsupported_type",
	    "TOKEN_CREATED" },
	/* An inherited notifyType does not save an unknown dispute stage. */
	{ "notifyType and unknown dispute stage", "{\"disputeNotificationType\":"
	    "\"DISPUTE_REOPENED\",\"notifyType\":\"PAYMENT_RESULT\",\"disputeId\":"
	    "\"d1\",\"result\":{\"resultStatus\":\"S\"},\"paymentRequestId\":\"r\"}",
	    "unsupported_type", "DISPUTE_REOPENED" },
	/* A vaulting sent with a payment's notifyType is a payment: archived. */
	{ "vaulting with a payment's notifyType", "{\"notifyType\":"
	    "\"PAYMENT_RESULT\",\"vaultingRequestId\":\"v1\",\"result\":"
	    "{\"resultStatus\":\"S\"}}", "missing_id", "PAYMENT_RESULT" },
	{ "subscription with an unknown notifyType", "{\"notifyType\":\"X_RESULT\","
	    "\"subscriptionNotificationType\":\"CREATE\",\"vaultingRequestId\":"
	    "\"v1\"}", "unsupported_type", "X_RESULT" },
	/* Each kind by its own key: no dispute posing as a payment. */
	{ "dispute posing as payment", "{\"disputeNotificationType\":\"PAYMENT_RESULT\","
	    "\"result\":{\"resultStatus\":\"S\"},\"paymentRequestId\":\"r\"}",
	    "unsupported_type", "PAYMENT_RESULT" },
	/* A discriminator outranks the vaulting request id. */
	{ "subscription with vaultingRequestId", "{\"subscriptionNotificationType\":"
	    "\"CREATE\",\"vaultingRequestId\":\"v1\",\"result\":{\"resultStatus\":"
	    "\"S\"}}", "unsupported_type", "CREATE" },
	{ "no result", "{\"notifyType\":\"PAYMENT_RESULT\",\"paymentRequestId\":\"r\"}",
	    "bad_result", "PAYMENT_RESULT" },
	{ "result null", "{\"notifyType\":\"CAPTURE_RESULT\",\"result\":null,"
	    "\"captureRequestId\":\"c\"}", "bad_result", "CAPTURE_RESULT" },
	{ "result string", "{\"notifyType\":\"PAYMENT_RESULT\",\"result\":\"S\","
	    "\"paymentRequestId\":\"r\"}", "bad_result", "PAYMENT_RESULT" },
	{ "resultStatus missing", "{\"notifyType\":\"PAYMENT_RESULT\",\"result\":"
	    "{\"resultCode\":\"SUCCESS\"},\"paymentRequestId\":\"r\"}",
	    "bad_result", "PAYMENT_RESULT" },
	{ "resultStatus number", "{\"notifyType\":\"PAYMENT_RESULT\",\"result\":"
	    "{\"resultStatus\":1},\"paymentRequestId\":\"r\"}", "bad_result",
	    "PAYMENT_RESULT" },
	{ "payment lower s", "{\"notifyType\":\"PAYMENT_RESULT\",\"result\":"
	    "{\"resultStatus\":\"s\"},\"paymentRequestId\":\"r\"}",
	    "unknown_result_status", "PAYMENT_RESULT" },
	{ "payment SS", "{\"notifyType\":\"PAYMENT_RESULT\",\"result\":"
	    "{\"resultStatus\":\"SS\"},\"paymentRequestId\":\"r\"}",
	    "unknown_result_status", "PAYMENT_RESULT" },
	{ "pending empty", "{\"notifyType\":\"PAYMENT_PENDING\",\"result\":"
	    "{\"resultStatus\":\"\"},\"paymentRequestId\":\"r\"}",
	    "unknown_result_status", "PAYMENT_PENDING" },
	{ "capture UNKNOWN", "{\"notifyType\":\"CAPTURE_RESULT\",\"result\":"
	    "{\"resultStatus\":\"UNKNOWN\"},\"captureRequestId\":\"c\"}",
	    "unknown_result_status", "CAPTURE_RESULT" },
	{ "payment bad paymentId", T_PAY_HEAD "\"paymentRequestId\":\"r\","
	    "\"paymentId\":\"a b\"}", "bad_id", "PAYMENT_RESULT" },
	{ "capture bad paymentId", "{\"notifyType\":\"CAPTURE_RESULT\",\"result\":"
	    "{\"resultStatus\":\"S\"},\"captureRequestId\":\"c\",\"paymentId\":1}",
	    "bad_id", "CAPTURE_RESULT" },
	{ "capture bad captureId", "{\"notifyType\":\"CAPTURE_RESULT\",\"result\":"
	    "{\"resultStatus\":\"S\"},\"captureRequestId\":\"c\",\"captureId\":\"\"}",
	    "bad_id", "CAPTURE_RESULT" },
	{ "payment missing id", T_PAY_HEAD "\"paymentId\":\"p\"}", "missing_id",
	    "PAYMENT_RESULT" },
	{ "payment null id", T_PAY_HEAD "\"paymentRequestId\":null}", "missing_id",
	    "PAYMENT_RESULT" },
	{ "payment with only captureRequestId", T_PAY_HEAD "\"captureRequestId\":\"c\"}",
	    "missing_id", "PAYMENT_RESULT" },
	{ "capture missing id", "{\"notifyType\":\"CAPTURE_RESULT\",\"result\":"
	    "{\"resultStatus\":\"S\"},\"captureId\":\"c\",\"paymentRequestId\":\"r\"}",
	    "missing_id", "CAPTURE_RESULT" },
	{ "payment bad amount", T_PAY_HEAD "\"paymentRequestId\":\"r\","
	    "\"paymentAmount\":{\"value\":\"-1\",\"currency\":\"USD\"}}", "bad_amount",
	    "PAYMENT_RESULT" },
	{ "capture bad amount", "{\"notifyType\":\"CAPTURE_RESULT\",\"result\":"
	    "{\"resultStatus\":\"F\"},\"captureRequestId\":\"c\",\"captureAmount\":"
	    "{\"value\":4200,\"currency\":\"SGD\"}}", "bad_amount", "CAPTURE_RESULT" },
	{ "capture bad currency", "{\"notifyType\":\"CAPTURE_RESULT\",\"result\":"
	    "{\"resultStatus\":\"S\"},\"captureRequestId\":\"c\",\"captureAmount\":"
	    "{\"value\":\"4200\",\"currency\":\"sgd\"}}", "bad_currency", "CAPTURE_RESULT" },
	/* Fixed order: the first fault found is the reason given. */
	{ "bad id before missing id", T_PAY_HEAD "\"paymentId\":\"\\n\"}", "bad_id",
	    "PAYMENT_RESULT" },
	{ "bad result before bad id", "{\"notifyType\":\"PAYMENT_RESULT\","
	    "\"paymentRequestId\":\"a b\"}", "bad_result", "PAYMENT_RESULT" },
	{ "bad amount before bad currency", T_PAY_HEAD "\"paymentRequestId\":\"r\","
	    "\"paymentAmount\":{\"value\":\"x\",\"currency\":\"x\"}}", "bad_amount",
	    "PAYMENT_RESULT" },
};

START_TEST(test_other_reasons)
{
	struct notif n;

	t_parse_str(t_other[_i].body, &n);
	ck_assert_msg(n.kind == NOTIF_OTHER, "%s: kind %d", t_other[_i].name, n.kind);
	ck_assert_msg(n.archive_reason != NULL &&
	    strcmp(n.archive_reason, t_other[_i].reason) == 0,
	    "%s: reason %s, want %s", t_other[_i].name,
	    n.archive_reason != NULL ? n.archive_reason : "(null)", t_other[_i].reason);
	t_assert_other(&n, t_other[_i].reason, t_other[_i].type);
	if (strcmp(t_other[_i].reason, "not_json") == 0)
		ck_assert_ptr_null(n.doc);
	else
		ck_assert_ptr_nonnull(n.doc);
	notif_free(&n);
}
END_TEST

/*
 * Id syntax, exercised through paymentRequestId.  want NULL means
 * accepted with value expect.
 */
static const struct {
	const char	*name;
	const char	*json;		/* the JSON value of paymentRequestId */
	const char	*reason;
	const char	*expect;
} t_ids[] = {
	{ "plain", "\"abc-123_X.Y:Z\"", NULL, "abc-123_X.Y:Z" },
	{ "one byte", "\"a\"", NULL, "a" },
	{ "all punctuation", "\"!#$%&'()*+,/;<=>?@[]^`{|}~\\\\\\\"\"", NULL,
	    "!#$%&'()*+,/;<=>?@[]^`{|}~\\\"" },
	{ "escaped ascii", "\"\\u0041B\"", NULL, "AB" },
	{ "empty", "\"\"", "bad_id", NULL },
	{ "space", "\"a b\"", "bad_id", NULL },
	{ "leading space", "\" ab\"", "bad_id", NULL },
	{ "tab", "\"a\\tb\"", "bad_id", NULL },
	{ "CR LF", "\"ab\\r\\nInjected: 1\"", "bad_id", NULL },
	{ "LF", "\"ab\\n\"", "bad_id", NULL },
	{ "ESC", "\"a\\u001b[31mb\"", "bad_id", NULL },
	{ "DEL raw", "\"a\x7f\"", "bad_id", NULL },
	{ "DEL escaped", "\"a\\u007f\"", "bad_id", NULL },
	{ "non-ASCII raw", "\"caf\xc3\xa9\"", "bad_id", NULL },
	{ "non-ASCII escaped", "\"caf\\u00e9\"", "bad_id", NULL },
	{ "C1 control", "\"a\\u0085b\"", "bad_id", NULL },
	{ "emoji", "\"\\ud83d\\ude00\"", "bad_id", NULL },
	{ "number", "12345", "bad_id", NULL },
	{ "true", "true", "bad_id", NULL },
	{ "object", "{\"id\":\"a\"}", "bad_id", NULL },
	{ "array", "[\"a\"]", "bad_id", NULL },
	{ "null", "null", "missing_id", NULL },
};

START_TEST(test_ids)
{
	char body[512];
	struct notif n;

	snprintf(body, sizeof(body), T_PAY_HEAD "\"paymentRequestId\":%s}", t_ids[_i].json);
	t_parse_str(body, &n);
	if (t_ids[_i].reason == NULL) {
		ck_assert_msg(n.kind == NOTIF_PAYMENT, "%s: %s", t_ids[_i].name,
		    n.archive_reason);
		ck_assert_str_eq(n.payment_request_id, t_ids[_i].expect);
	} else {
		ck_assert_msg(n.kind == NOTIF_OTHER, "%s accepted", t_ids[_i].name);
		ck_assert_str_eq(n.archive_reason, t_ids[_i].reason);
	}
	notif_free(&n);
}
END_TEST

/* The required capture id, unless the row itself supplies it. */
static const char *
t_capture_id(const char *key)
{
	return strcmp(key, "captureRequestId") == 0 ? "" : "\"captureRequestId\":\"c\",";
}

/* NOTIF_ID_MAX bytes is the limit, for every id field. */
START_TEST(test_id_length)
{
	static const char *const keys[] = {
		"paymentRequestId", "paymentId", "captureRequestId", "captureId",
	};
	char id[NOTIF_ID_MAX + 2], body[512];
	struct notif n;
	size_t k;

	for (k = 0; k < T_NELEM(keys); k++) {
		memset(id, 'x', sizeof(id));
		id[NOTIF_ID_MAX] = '\0';
		snprintf(body, sizeof(body), "{\"notifyType\":\"CAPTURE_RESULT\",\"result\":"
		    "{\"resultStatus\":\"S\"},%s\"%s\":\"%s\"}", t_capture_id(keys[k]),
		    keys[k], id);
		t_parse_str(body, &n);
		ck_assert_msg(n.kind == NOTIF_CAPTURE, "%s of 64: %s", keys[k],
		    n.archive_reason);
		notif_free(&n);

		id[NOTIF_ID_MAX] = 'x';
		id[NOTIF_ID_MAX + 1] = '\0';
		snprintf(body, sizeof(body), "{\"notifyType\":\"CAPTURE_RESULT\",\"result\":"
		    "{\"resultStatus\":\"S\"},%s\"%s\":\"%s\"}", t_capture_id(keys[k]),
		    keys[k], id);
		t_parse_str(body, &n);
		ck_assert_msg(n.kind == NOTIF_OTHER, "%s of 65 accepted", keys[k]);
		ck_assert_str_eq(n.archive_reason, "bad_id");
		notif_free(&n);
	}

	/* 64 bytes as decoded, not as written: 64 x "\u0041" is 64 bytes. */
	{
		char esc[NOTIF_ID_MAX * 6 + 1];
		size_t i;

		for (i = 0; i < NOTIF_ID_MAX; i++)
			memcpy(esc + i * 6, "\\u0041", 6);
		esc[NOTIF_ID_MAX * 6] = '\0';
		snprintf(body, sizeof(body), T_PAY_HEAD "\"paymentRequestId\":\"%s\"}", esc);
		t_parse_str(body, &n);
		ck_assert_int_eq(n.kind, NOTIF_PAYMENT);
		ck_assert_uint_eq(strlen(n.payment_request_id), NOTIF_ID_MAX);
		notif_free(&n);
	}
}
END_TEST

/* Amounts: non-negative decimal strings that fit int64, known currencies. */
static const struct {
	const char	*name;
	const char	*json;		/* the JSON value of paymentAmount */
	const char	*reason;
	int64_t		 value;
	const char	*currency;
} t_amounts[] = {
	{ "sample", "{\"value\":\"4200\",\"currency\":\"SGD\"}", NULL, 4200, "SGD" },
	{ "zero", "{\"value\":\"0\",\"currency\":\"USD\"}", NULL, 0, "USD" },
	{ "leading zeros", "{\"value\":\"007\",\"currency\":\"USD\"}", NULL, 7, "USD" },
	{ "19 digits", "{\"value\":\"1234567890123456789\",\"currency\":\"USD\"}", NULL,
	    INT64_C(1234567890123456789), "USD" },
	{ "int64 max", "{\"value\":\"9223372036854775807\",\"currency\":\"IDR\"}", NULL,
	    INT64_MAX, "IDR" },
	{ "19 zeros", "{\"value\":\"0000000000000000000\",\"currency\":\"USD\"}", NULL,
	    0, "USD" },
	{ "currency first", "{\"currency\":\"EUR\",\"value\":\"1\"}", NULL, 1, "EUR" },
	{ "unknown keys", "{\"value\":\"5\",\"currency\":\"EUR\",\"v\":1.5,\"b\":true}",
	    NULL, 5, "EUR" },
	{ "int64 max + 1", "{\"value\":\"9223372036854775808\",\"currency\":\"USD\"}",
	    "bad_amount", 0, NULL },
	{ "19 nines", "{\"value\":\"9999999999999999999\",\"currency\":\"USD\"}",
	    "bad_amount", 0, NULL },
	{ "20 digits", "{\"value\":\"12345678901234567890\",\"currency\":\"USD\"}",
	    "bad_amount", 0, NULL },
	{ "20 digits that fit", "{\"value\":\"00000000000000000001\",\"currency\":\"USD\"}",
	    "bad_amount", 0, NULL },
	{ "negative", "{\"value\":\"-1\",\"currency\":\"USD\"}", "bad_amount", 0, NULL },
	{ "negative zero", "{\"value\":\"-0\",\"currency\":\"USD\"}", "bad_amount", 0, NULL },
	{ "plus", "{\"value\":\"+1\",\"currency\":\"USD\"}", "bad_amount", 0, NULL },
	{ "decimal", "{\"value\":\"1.5\",\"currency\":\"USD\"}", "bad_amount", 0, NULL },
	{ "decimal zero", "{\"value\":\"100.00\",\"currency\":\"USD\"}", "bad_amount", 0, NULL },
	{ "exponent", "{\"value\":\"1e3\",\"currency\":\"USD\"}", "bad_amount", 0, NULL },
	{ "hex", "{\"value\":\"0x10\",\"currency\":\"USD\"}", "bad_amount", 0, NULL },
	{ "empty", "{\"value\":\"\",\"currency\":\"USD\"}", "bad_amount", 0, NULL },
	{ "leading blank", "{\"value\":\" 1\",\"currency\":\"USD\"}", "bad_amount", 0, NULL },
	{ "trailing blank", "{\"value\":\"1 \",\"currency\":\"USD\"}", "bad_amount", 0, NULL },
	{ "trailing newline", "{\"value\":\"1\\n\",\"currency\":\"USD\"}", "bad_amount", 0,
	    NULL },
	{ "thousands", "{\"value\":\"1,000\",\"currency\":\"USD\"}", "bad_amount", 0, NULL },
	{ "fullwidth digit", "{\"value\":\"\\uff11\",\"currency\":\"USD\"}", "bad_amount", 0,
	    NULL },
	{ "number", "{\"value\":4200,\"currency\":\"USD\"}", "bad_amount", 0, NULL },
	{ "real", "{\"value\":42.5,\"currency\":\"USD\"}", "bad_amount", 0, NULL },
	{ "null value", "{\"value\":null,\"currency\":\"USD\"}", "bad_amount", 0, NULL },
	{ "no value", "{\"currency\":\"USD\"}", "bad_amount", 0, NULL },
	{ "string amount", "\"4200\"", "bad_amount", 0, NULL },
	{ "number amount", "4200", "bad_amount", 0, NULL },
	{ "array amount", "[\"4200\",\"USD\"]", "bad_amount", 0, NULL },
	{ "empty object", "{}", "bad_amount", 0, NULL },
	{ "lower-case currency", "{\"value\":\"1\",\"currency\":\"usd\"}", "bad_currency", 0,
	    NULL },
	{ "mixed-case currency", "{\"value\":\"1\",\"currency\":\"Usd\"}", "bad_currency", 0,
	    NULL },
	{ "unknown currency", "{\"value\":\"1\",\"currency\":\"XYZ\"}", "bad_currency", 0,
	    NULL },
	{ "withdrawn currency", "{\"value\":\"1\",\"currency\":\"HRK\"}", "bad_currency", 0,
	    NULL },
	{ "2 letters", "{\"value\":\"1\",\"currency\":\"US\"}", "bad_currency", 0, NULL },
	{ "4 letters", "{\"value\":\"1\",\"currency\":\"USDD\"}", "bad_currency", 0, NULL },
	{ "empty currency", "{\"value\":\"1\",\"currency\":\"\"}", "bad_currency", 0, NULL },
	{ "digits currency", "{\"value\":\"1\",\"currency\":\"840\"}", "bad_currency", 0, NULL },
	{ "blank in currency", "{\"value\":\"1\",\"currency\":\"US \"}", "bad_currency", 0,
	    NULL },
	{ "non-ASCII currency", "{\"value\":\"1\",\"currency\":\"\xc3\x9cSD\"}",
	    "bad_currency", 0, NULL },
	{ "number currency", "{\"value\":\"1\",\"currency\":840}", "bad_currency", 0, NULL },
	{ "no currency", "{\"value\":\"1\"}", "bad_currency", 0, NULL },
};

START_TEST(test_amounts)
{
	char body[512];
	struct notif n;

	snprintf(body, sizeof(body), T_PAY_HEAD "\"paymentRequestId\":\"r\","
	    "\"paymentAmount\":%s}", t_amounts[_i].json);
	t_parse_str(body, &n);
	if (t_amounts[_i].reason == NULL) {
		ck_assert_msg(n.kind == NOTIF_PAYMENT, "%s: %s", t_amounts[_i].name,
		    n.archive_reason);
		ck_assert(n.amount.present);
		ck_assert_int_eq(n.amount.value, t_amounts[_i].value);
		ck_assert_str_eq(n.amount.currency, t_amounts[_i].currency);
	} else {
		ck_assert_msg(n.kind == NOTIF_OTHER, "%s accepted", t_amounts[_i].name);
		ck_assert_str_eq(n.archive_reason, t_amounts[_i].reason);
		ck_assert(!n.amount.present);
	}
	notif_free(&n);
}
END_TEST

/* An absent (or null) amount is allowed; the store decides what that means. */
START_TEST(test_amount_absent)
{
	struct notif n;

	t_parse_str(T_PAY_HEAD "\"paymentRequestId\":\"r\"}", &n);
	ck_assert_int_eq(n.kind, NOTIF_PAYMENT);
	ck_assert(!n.amount.present);
	ck_assert_int_eq(n.amount.value, 0);
	ck_assert_str_eq(n.amount.currency, "");
	notif_free(&n);

	t_parse_str(T_PAY_HEAD "\"paymentRequestId\":\"r\",\"paymentAmount\":null}", &n);
	ck_assert_int_eq(n.kind, NOTIF_PAYMENT);
	ck_assert(!n.amount.present);
	notif_free(&n);

	/* A capture reads captureAmount only; paymentAmount is ignored. */
	t_parse_str("{\"notifyType\":\"CAPTURE_RESULT\",\"result\":{\"resultStatus\":\"S\"},"
	    "\"captureRequestId\":\"c\",\"paymentAmount\":{\"value\":\"-1\"}}", &n);
	ck_assert_int_eq(n.kind, NOTIF_CAPTURE);
	ck_assert(!n.amount.present);
	notif_free(&n);
}
END_TEST

/* Every code in the table must be found: this catches a mis-sorted table. */
static const char t_iso4217[][4] = {
	"AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
	"BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD",
	"CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUP",
	"CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP",
	"GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF",
	"IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR",
	"KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD",
	"MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN",
	"MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
	"PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD",
	"SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP",
	"SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX",
	"USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND", "VUV", "WST", "XAD",
	"XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XCG", "XDR", "XOF", "XPD",
	"XPF", "XPT", "XSU", "XTS", "XUA", "XXX", "YER", "ZAR", "ZMW", "ZWG",
};

/* Near misses around the table's edges and gaps, and withdrawn codes. */
static const char *const t_not_iso4217[] = {
	"AAA", "ADP", "ANG", "BGN", "CUC", "DEM", "EEK", "FRF", "HRK", "LTL", "LVL", "MRO",
	"SLL", "STD", "VEF", "XEU", "XYZ", "ZMK", "ZWD", "ZWL", "ZZZ", "ZWH",
};

START_TEST(test_currencies)
{
	char body[256];
	struct notif n;
	size_t i;

	for (i = 0; i < T_NELEM(t_iso4217); i++) {
		snprintf(body, sizeof(body), T_PAY_HEAD "\"paymentRequestId\":\"r\","
		    "\"paymentAmount\":{\"value\":\"1\",\"currency\":\"%.3s\"}}", t_iso4217[i]);
		t_parse_str(body, &n);
		ck_assert_msg(n.kind == NOTIF_PAYMENT, "%s rejected: %s", t_iso4217[i],
		    n.archive_reason);
		ck_assert_str_eq(n.amount.currency, t_iso4217[i]);
		notif_free(&n);
	}
	for (i = 0; i < T_NELEM(t_not_iso4217); i++) {
		snprintf(body, sizeof(body), T_PAY_HEAD "\"paymentRequestId\":\"r\","
		    "\"paymentAmount\":{\"value\":\"1\",\"currency\":\"%s\"}}",
		    t_not_iso4217[i]);
		t_parse_str(body, &n);
		ck_assert_msg(n.kind == NOTIF_OTHER, "%s accepted", t_not_iso4217[i]);
		ck_assert_str_eq(n.archive_reason, "bad_currency");
		notif_free(&n);
	}
}
END_TEST

/* Bodies Jansson itself refuses: all not_json, never a crash. */
static const struct {
	const char	*name;
	const char	*body;
	size_t		 len;		/* 0: strlen(body) */
} t_not_json[] = {
	{ "empty", "", 0 },
	{ "blank", " \r\n\t", 0 },
	{ "null", "null", 0 },
	{ "true", "true", 0 },
	{ "number", "42", 0 },
	{ "root array", "[{\"notifyType\":\"PAYMENT_RESULT\"}]", 0 },
	{ "empty array", "[]", 0 },
	{ "two documents", "{}{}", 0 },
	{ "duplicate key", "{\"notifyType\":\"PAYMENT_RESULT\",\"notifyType\":"
	    "\"CAPTURE_RESULT\"}", 0 },
	/* Same key after unescaping: still a duplicate. */
	{ "duplicate escaped key", "{\"notifyType\":\"PAYMENT_RESULT\",\"notify\\u0054ype\":"
	    "\"CAPTURE_RESULT\"}", 0 },
	{ "nested duplicate key", T_PAY_HEAD "\"paymentRequestId\":\"r\",\"paymentAmount\":"
	    "{\"value\":\"1\",\"value\":\"1000000\",\"currency\":\"USD\"}}", 0 },
	{ "duplicate unknown key", T_PAY_HEAD "\"paymentRequestId\":\"r\",\"x\":1,\"x\":1}", 0 },
	{ "invalid UTF-8", "{\"notifyType\":\"PAYMENT_RESULT\",\"x\":\"\xff\"}", 0 },
	{ "overlong UTF-8", "{\"x\":\"\xc0\xaf\"}", 0 },
	{ "UTF-8 surrogate", "{\"x\":\"\xed\xa0\x80\"}", 0 },
	{ "truncated UTF-8", "{\"x\":\"\xe2\x82\"}", 0 },
	{ "latin-1", "{\"x\":\"caf\xe9\"}", 0 },
	{ "lone surrogate escape", "{\"x\":\"\\ud800\"}", 0 },
	{ "NUL escape in value", T_PAY_HEAD "\"paymentRequestId\":\"r\\u0000x\"}", 0 },
	{ "NUL escape in key", "{\"notifyType\\u0000\":\"PAYMENT_RESULT\"}", 0 },
	{ "raw NUL", "{\"x\":\"a\0b\"}", sizeof("{\"x\":\"a\0b\"}") - 1 },
	{ "raw NUL after document", "{}\0", sizeof("{}\0") - 1 },
	{ "raw newline in string", "{\"x\":\"a\nb\"}", 0 },
	{ "raw ESC in string", "{\"x\":\"a\x1b" "b\"}", 0 },
	{ "single quotes", "{'notifyType':'PAYMENT_RESULT'}", 0 },
	{ "comment", "{/* c */}", 0 },
	{ "trailing comma", "{\"a\":1,}", 0 },
	{ "NaN", "{\"a\":NaN}", 0 },
	{ "leading zero number", "{\"a\":01}", 0 },
	/* DECODE_INT_AS_REAL: a number beyond double range fails the body. */
	{ "real overflow", T_PAY_HEAD "\"paymentRequestId\":\"r\",\"quotePrice\":1e400}", 0 },
	{ "BOM", "\xef\xbb\xbf{}", 0 },
};

START_TEST(test_not_json)
{
	struct notif n;
	size_t len = t_not_json[_i].len;

	if (len == 0)
		len = strlen(t_not_json[_i].body);
	t_parse(t_not_json[_i].body, len, &n);
	ck_assert_msg(n.kind == NOTIF_OTHER && n.archive_reason != NULL &&
	    strcmp(n.archive_reason, "not_json") == 0, "%s: %s", t_not_json[_i].name,
	    n.archive_reason != NULL ? n.archive_reason : "(null)");
	t_assert_other(&n, "not_json", NULL);
	notif_free(&n);
}
END_TEST

/* A NULL body (len 0) is an empty body, not a crash. */
START_TEST(test_null_body)
{
	struct notif n;

	ck_assert_int_eq(notif_parse(NULL, 0, &n), 0);
	t_assert_other(&n, "not_json", NULL);
	ck_assert_ptr_null(n.doc);
	notif_free(&n);
}
END_TEST

/* A body with len stops at len: bytes past it are not read. */
START_TEST(test_len_bounds)
{
	static const char body[] = T_PAY_HEAD "\"paymentRequestId\":\"r\"}GARBAGE";
	struct notif n;

	t_parse(body, strlen(body) - strlen("GARBAGE"), &n);
	ck_assert_int_eq(n.kind, NOTIF_PAYMENT);
	notif_free(&n);
}
END_TEST

/* n levels of nested arrays as the value of "x" in a valid payment. */
static char *
t_nested(size_t depth)
{
	static const char head[] = T_PAY_HEAD "\"paymentRequestId\":\"r\",\"x\":";
	size_t len = strlen(head) + 2 * depth + 2;
	char *b = malloc(len);

	ck_assert_ptr_nonnull(b);
	memcpy(b, head, strlen(head));
	memset(b + strlen(head), '[', depth);
	memset(b + strlen(head) + depth, ']', depth);
	b[len - 2] = '}';
	b[len - 1] = '\0';
	return b;
}

/*
 * Jansson stops at JSON_PARSER_MAX_DEPTH (2048) with "maximum parsing depth
 * reached": a deep body is not_json rather than a stack overflow.
 */
START_TEST(test_deep_nesting)
{
	struct notif n;
	char *b;
	size_t i;

	b = t_nested(10000);
	t_parse_str(b, &n);
	t_assert_other(&n, "not_json", NULL);
	notif_free(&n);
	free(b);

	b = malloc(2 * 10000 + 1);
	ck_assert_ptr_nonnull(b);
	for (i = 0; i < 10000; i++) {
		b[i] = '[';
		b[10000 + i] = ']';
	}
	b[20000] = '\0';
	t_parse_str(b, &n);
	t_assert_other(&n, "not_json", NULL);
	notif_free(&n);

	/* Unbalanced: 10000 opens, nothing closed. */
	memset(b, '{', 10000);
	b[10000] = '\0';
	t_parse_str(b, &n);
	t_assert_other(&n, "not_json", NULL);
	notif_free(&n);
	free(b);

	/* Well within the limit the payment still parses. */
	b = t_nested(2000);
	t_parse_str(b, &n);
	ck_assert_int_eq(n.kind, NOTIF_PAYMENT);
	notif_free(&n);
	free(b);
}
END_TEST

/* 1 MB of unknown data around a valid payment is fine. */
START_TEST(test_huge_body)
{
	static const char head[] = T_PAY_HEAD "\"paymentRequestId\":\"big\","
	    "\"paymentAmount\":{\"value\":\"1\",\"currency\":\"USD\"},\"pad\":[";
	static const char item[] = "{\"k\":\"abcdefghijklmnop\",\"n\":1.25,\"b\":true},";
	const size_t target = 1024 * 1024;
	size_t off, cap = target + 256 * 1024;
	char *b = malloc(cap);
	struct notif n;

	ck_assert_ptr_nonnull(b);
	off = strlen(head);
	memcpy(b, head, off);
	while (off < target) {
		memcpy(b + off, item, strlen(item));
		off += strlen(item);
	}
	off += (size_t)snprintf(b + off, cap - off, "\"end\"],\"long\":\"");
	memset(b + off, 'z', 200000);
	off += 200000;
	off += (size_t)snprintf(b + off, cap - off, "\"}");
	ck_assert_uint_gt(off, target);

	t_parse(b, off, &n);
	ck_assert_int_eq(n.kind, NOTIF_PAYMENT);
	ck_assert_str_eq(n.payment_request_id, "big");
	ck_assert_int_eq(n.amount.value, 1);
	notif_free(&n);
	free(b);
}
END_TEST

/* Optional text: kept verbatim when sane, silently dropped otherwise. */
START_TEST(test_text_fields)
{
	char *b, *big;
	struct notif n;
	size_t cap = 3 * NOTIF_TEXT_MAX + 512;

	t_parse_str(T_PAY_HEAD "\"paymentRequestId\":\"r\","
	    "\"paymentTime\":\"2022-11-10T00:34:52-08:00\","
	    "\"paymentCreateTime\":\"2020-01-01T12:01:00.123456+08:30\","
	    "\"paymentResultInfo\":{\"cardBrand\":\"Carte Bancaire \xc3\xa9\","
	    "\"lastFour\":\"12\\u00345\",\"issuingCountry\":\"\","
	    "\"avsResultRaw\":\"A\\nB\",\"cvvResultRaw\":\"\\u001b[2J\","
	    "\"refusalCodeRaw\":\"x\x7f\",\"refusalReasonRaw\":\"tab\\there\","
	    "\"networkTransactionId\":\"\\u0085next-line\","
	    "\"threeDSResult\":{\"cavv\":\"real-cavv\",\"caav\":\"docs-caav\","
	    "\"eci\":5,\"threeDSVersion\":null}}}", &n);
	ck_assert_int_eq(n.kind, NOTIF_PAYMENT);
	/* Times are the original strings, never re-formatted. */
	ck_assert_str_eq(n.payment_time, "2022-11-10T00:34:52-08:00");
	ck_assert_str_eq(n.payment_create_time, "2020-01-01T12:01:00.123456+08:30");
	ck_assert_str_eq(n.card_brand, "Carte Bancaire \xc3\xa9");
	ck_assert_str_eq(n.last_four, "1245");
	ck_assert_str_eq(n.issuing_country, "");
	ck_assert_ptr_null(n.avs_result_raw);
	ck_assert_ptr_null(n.cvv_result_raw);
	ck_assert_ptr_null(n.refusal_code_raw);
	ck_assert_ptr_null(n.refusal_reason_raw);
	/* Only C0 controls and DEL are refused; U+0085 is valid UTF-8 text. */
	ck_assert_str_eq(n.network_transaction_id, "\xc2\x85next-line");
	ck_assert_str_eq(n.three_ds_cavv, "real-cavv");
	ck_assert_ptr_null(n.three_ds_eci);
	ck_assert_ptr_null(n.three_ds_version);
	notif_free(&n);

	/* caav is used only when cavv is unusable. */
	t_parse_str(T_PAY_HEAD "\"paymentRequestId\":\"r\",\"paymentResultInfo\":"
	    "{\"threeDSResult\":{\"cavv\":1,\"caav\":\"docs-caav\"}}}", &n);
	ck_assert_str_eq(n.three_ds_cavv, "docs-caav");
	notif_free(&n);

	/* NOTIF_TEXT_MAX bytes are kept, one more is dropped. */
	big = malloc(NOTIF_TEXT_MAX + 2);
	b = malloc(cap);
	ck_assert_ptr_nonnull(big);
	ck_assert_ptr_nonnull(b);
	memset(big, 'm', NOTIF_TEXT_MAX);
	big[NOTIF_TEXT_MAX] = '\0';
	snprintf(b, cap, "{\"notifyType\":\"CAPTURE_RESULT\",\"result\":{\"resultStatus\":"
	    "\"S\",\"resultMessage\":\"%s\",\"resultCode\":\"%sm\"},\"captureRequestId\":"
	    "\"c\",\"acquirerReferenceNo\":\"%s\"}", big, big, big);
	t_parse_str(b, &n);
	ck_assert_int_eq(n.kind, NOTIF_CAPTURE);
	ck_assert_uint_eq(strlen(n.result_message), NOTIF_TEXT_MAX);
	ck_assert_uint_eq(strlen(n.acquirer_reference_no), NOTIF_TEXT_MAX);
	ck_assert_ptr_null(n.result_code);
	notif_free(&n);
	free(big);
	free(b);
}
END_TEST

/*
 * Payment fields are read for payments and capture fields for captures,
 * whatever else the body carries.
 */
START_TEST(test_fields_by_kind)
{
	struct notif n;

	t_parse_str(T_PAY_HEAD "\"paymentRequestId\":\"r\",\"captureTime\":\"t\","
	    "\"arn\":\"a\",\"captureAmount\":{\"value\":\"x\"},"
	    "\"actualRefundAmount\":{\"value\":\"1\",\"currency\":\"USD\"},"
	    "\"disputeAcceptReason\":\"TIMEOUT\"}", &n);
	ck_assert_int_eq(n.kind, NOTIF_PAYMENT);
	ck_assert_ptr_null(n.capture_time);
	ck_assert_ptr_null(n.arn);
	ck_assert(!n.actual_refund_amount.present);
	ck_assert_ptr_null(n.dispute_accept_reason);
	notif_free(&n);

	t_parse_str("{\"notifyType\":\"CAPTURE_RESULT\",\"result\":{\"resultStatus\":\"S\"},"
	    "\"captureRequestId\":\"c\",\"paymentRequestId\":\"r\",\"paymentTime\":\"t\","
	    "\"paymentMethodType\":\"CARD\",\"authExpiryTime\":\"t\","
	    "\"actualPaymentAmount\":{\"value\":\"1\",\"currency\":\"USD\"},"
	    "\"paymentResultInfo\":{\"cardBrand\":\"VISA\",\"cardBin\":\"411111\","
	    "\"acquirerInfo\":{\"acquirerName\":\"X\"}}}", &n);
	ck_assert_int_eq(n.kind, NOTIF_CAPTURE);
	ck_assert_str_eq(n.payment_request_id, "r");
	ck_assert_ptr_null(n.payment_time);
	ck_assert_ptr_null(n.card_brand);
	ck_assert_ptr_null(n.payment_method_type);
	ck_assert_ptr_null(n.auth_expiry_time);
	ck_assert(!n.actual_payment_amount.present);
	ck_assert_ptr_null(n.card_bin);
	/* A capture's acquirerInfo is its own, at the top level only. */
	ck_assert_ptr_null(n.acquirer.name);
	notif_free(&n);
}
END_TEST

/* notifyRefund as the Go SDK's AlipayRefundNotify carries it. */
START_TEST(test_refund)
{
	struct notif n;

	t_parse_str("{\"notifyType\":\"REFUND_RESULT\",\"result\":{\"resultCode\":"
	    "\"SUCCESS\",\"resultStatus\":\"S\",\"resultMessage\":\"success\"},"
	    "\"refundStatus\":\"SUCCESS\",\"refundRequestId\":\"RR-1\",\"refundId\":"
	    "\"2022RF1\",\"refundAmount\":{\"value\":\"1200\",\"currency\":\"SGD\"},"
	    "\"refundTime\":\"2022-11-11T10:00:00+08:00\",\"grossSettlementAmount\":"
	    "{\"value\":\"1200\",\"currency\":\"USD\"},\"settlementQuote\":"
	    "{\"quotePrice\":1.3}}", &n);
	ck_assert_int_eq(n.kind, NOTIF_REFUND);
	ck_assert_int_eq(n.status, NOTIF_ST_SUCCESS);
	ck_assert_str_eq(n.notify_type, "REFUND_RESULT");
	ck_assert_str_eq(n.refund_request_id, "RR-1");
	ck_assert_str_eq(notif_object_id(&n), "RR-1");
	ck_assert_str_eq(n.refund_id, "2022RF1");
	ck_assert_ptr_null(n.payment_id);	/* not given: none invented */
	ck_assert(n.amount.present);
	ck_assert_int_eq(n.amount.value, 1200);
	ck_assert_str_eq(n.amount.currency, "SGD");
	ck_assert_str_eq(n.refund_time, "2022-11-11T10:00:00+08:00");
	ck_assert_str_eq(notif_kind_str(n.kind), "refund");
	notif_free(&n);

	/* Failed, with the payment it belongs to; refundStatus optional. */
	t_parse_str("{\"notifyType\":\"REFUND_RESULT\",\"result\":{\"resultCode\":"
	    "\"REFUND_FAIL\",\"resultStatus\":\"F\"},\"refundRequestId\":\"RR-2\","
	    "\"paymentId\":\"P-1\"}", &n);
	ck_assert_int_eq(n.kind, NOTIF_REFUND);
	ck_assert_int_eq(n.status, NOTIF_ST_FAIL);
	ck_assert_str_eq(n.payment_id, "P-1");
	ck_assert_str_eq(n.result_code, "REFUND_FAIL");
	ck_assert(!n.amount.present);
	notif_free(&n);
}
END_TEST

/* notifyDispute, from the documentation's example, and its stages. */
START_TEST(test_dispute)
{
	static const char *const stages[] = { "DISPUTE_CREATED",
	    "DEFENSE_DUE_ALERT", "DEFENSE_SUPPLIED", "DISPUTE_ACCEPTED",
	    "DISPUTE_JUDGED", "DISPUTE_CANCELLED", "RDR_RESOLVED" };
	static const int ranks[] = { 1, 2, 3, 4, 5, 5, 5 };
	struct notif n;
	char body[256];
	size_t i;

	t_parse_str("{\"defendable\":true,\"defenseDueTime\":"
	    "\"2025-01-13T19:09:16-08:00\",\"disputeAmount\":{\"currency\":\"KRW\","
	    "\"value\":\"14204\"},\"disputeId\":\"2025010329013101740904829052\","
	    "\"disputeNotificationType\":\"DISPUTE_CREATED\",\"disputeReasonCode\":"
	    "\"2006\",\"disputeReasonMsg\":\"Other Fraud\",\"disputeSource\":"
	    "\"Shinhan\",\"disputeTime\":\"2025-01-02T19:09:18-08:00\",\"disputeType\":"
	    "\"CHARGEBACK\",\"paymentId\":\"20250101194010800100188740269658664\","
	    "\"paymentRequestId\":\"101520250101400409669231020023\"}", &n);
	ck_assert_int_eq(n.kind, NOTIF_DISPUTE);
	ck_assert_int_eq(n.status, NOTIF_ST_NONE);
	ck_assert_str_eq(n.notify_type, "DISPUTE_CREATED");
	ck_assert_int_eq(n.dispute_rank, 1);
	ck_assert_str_eq(n.dispute_id, "2025010329013101740904829052");
	ck_assert_str_eq(notif_object_id(&n), "2025010329013101740904829052");
	ck_assert_str_eq(n.payment_id, "20250101194010800100188740269658664");
	ck_assert_str_eq(n.payment_request_id, "101520250101400409669231020023");
	ck_assert_int_eq(n.amount.value, 14204);
	ck_assert_str_eq(n.amount.currency, "KRW");
	ck_assert_str_eq(n.defendable, "true");
	ck_assert_str_eq(n.defense_due_time, "2025-01-13T19:09:16-08:00");
	ck_assert_str_eq(n.dispute_reason_code, "2006");
	ck_assert_str_eq(n.dispute_reason_msg, "Other Fraud");
	ck_assert_str_eq(n.dispute_source, "Shinhan");
	ck_assert_str_eq(n.dispute_type, "CHARGEBACK");
	ck_assert_str_eq(n.dispute_time, "2025-01-02T19:09:18-08:00");
	ck_assert(!n.dispute_judged_amount.present);
	notif_free(&n);

	t_parse_str("{\"disputeNotificationType\":\"DISPUTE_JUDGED\",\"disputeId\":"
	    "\"D1\",\"disputeJudgedResult\":\"ACCEPT_BY_MERCHANT\","
	    "\"disputeJudgedTime\":\"2025-02-01T00:00:00Z\",\"disputeJudgedAmount\":"
	    "{\"value\":\"500\",\"currency\":\"USD\"},\"defendable\":\"false\"}", &n);
	ck_assert_int_eq(n.kind, NOTIF_DISPUTE);
	ck_assert_int_eq(n.dispute_rank, NOTIF_DISPUTE_RANK_FINAL);
	ck_assert_str_eq(n.dispute_judged_result, "ACCEPT_BY_MERCHANT");
	ck_assert_str_eq(n.dispute_judged_time, "2025-02-01T00:00:00Z");
	ck_assert(n.dispute_judged_amount.present);
	ck_assert_int_eq(n.dispute_judged_amount.value, 500);
	ck_assert_str_eq(n.defendable, "false");
	ck_assert_ptr_null(n.payment_id);
	notif_free(&n);

	for (i = 0; i < T_NELEM(stages); i++) {
		snprintf(body, sizeof(body), "{\"disputeNotificationType\":\"%s\","
		    "\"disputeId\":\"D\",\"defendable\":\"maybe\"}", stages[i]);
		t_parse_str(body, &n);
		ck_assert_int_eq(n.kind, NOTIF_DISPUTE);
		ck_assert_int_eq(n.dispute_rank, ranks[i]);
		ck_assert_int_eq(notif_dispute_rank(stages[i]), ranks[i]);
		ck_assert_ptr_null(n.defendable);
		notif_free(&n);
	}
	ck_assert_int_eq(notif_dispute_rank("dispute_created"), 0);
	ck_assert_int_eq(notif_dispute_rank(NULL), 0);
}
END_TEST

/* notifyVaulting: no discriminator; the card number only when masked. */
START_TEST(test_vaulting)
{
	struct notif n;

	t_parse_str("{\"result\":{\"resultCode\":\"SUCCESS\",\"resultStatus\":\"S\","
	    "\"resultMessage\":\"success\"},\"vaultingRequestId\":\"V-1\","
	    "\"vaultingCreateTime\":\"2024-01-01T00:00:00Z\",\"paymentMethodDetail\":"
	    "{\"paymentMethodType\":\"CARD\",\"card\":{\"cardToken\":\"ALIPAY9X\","
	    "\"cardBrand\":\"VISA\",\"cardNo\":\"************1111\","
	    "\"issuingCountry\":\"SG\"}}}", &n);
	ck_assert_int_eq(n.kind, NOTIF_VAULTING);
	ck_assert_int_eq(n.status, NOTIF_ST_SUCCESS);
	ck_assert_ptr_null(n.notify_type);
	ck_assert_str_eq(n.vaulting_request_id, "V-1");
	ck_assert_str_eq(notif_object_id(&n), "V-1");
	ck_assert_str_eq(n.card_token, "ALIPAY9X");
	ck_assert_str_eq(n.card_brand, "VISA");
	ck_assert_str_eq(n.card_no_masked, "************1111");
	ck_assert_str_eq(n.issuing_country, "SG");
	ck_assert_str_eq(n.vaulting_create_time, "2024-01-01T00:00:00Z");
	ck_assert_str_eq(notif_kind_str(n.kind), "vaulting");
	notif_free(&n);

	/* An unmasked number is never kept; PROCESSING is pending. */
	t_parse_str("{\"result\":{\"resultStatus\":\"S\"},\"vaultingRequestId\":"
	    "\"V-2\",\"vaultingStatus\":\"PROCESSING\",\"paymentMethodDetail\":"
	    "{\"card\":{\"cardNo\":\"4111111111111111\",\"brand\":\"MASTERCARD\"}}}",
	    &n);
	ck_assert_int_eq(n.kind, NOTIF_VAULTING);
	ck_assert_int_eq(n.status, NOTIF_ST_PENDING);
	ck_assert_ptr_null(n.card_no_masked);
	ck_assert_str_eq(n.card_brand, "MASTERCARD");
	notif_free(&n);

	t_parse_str("{\"result\":{\"resultStatus\":\"S\"},\"vaultingRequestId\":"
	    "\"V-3\",\"vaultingStatus\":\"FAIL\"}", &n);
	ck_assert_int_eq(n.status, NOTIF_ST_FAIL);
	notif_free(&n);
	t_parse_str("{\"result\":{\"resultStatus\":\"F\"},\"vaultingRequestId\":"
	    "\"V-4\",\"vaultingStatus\":\"FAIL\"}", &n);
	ck_assert_int_eq(n.status, NOTIF_ST_FAIL);
	notif_free(&n);
	/* F with SUCCESS or PROCESSING contradicts itself: archived. */
	t_parse_str("{\"result\":{\"resultStatus\":\"F\"},\"vaultingRequestId\":"
	    "\"V-5\",\"vaultingStatus\":\"SUCCESS\"}", &n);
	t_assert_other(&n, "inconsistent_status", NULL);
	notif_free(&n);
}
END_TEST

/*
 * The status rules of docs/protocol.md section 4.9, one row each: F is
 * failed whatever the notifyType, U is not final, a refund's result is its
 * refundStatus, vaultingStatus PROCESSING is not final.  Bodies are cut
 * down from the notifyPayment, notifyCapture, notifyRefund and
 * notifyVaulting references (docs.antom.com/ac/ams/paymentrn_online,
 * .../capture_result, .../notify_refund, .../notify_vaulting).
 */
#define T_REFUND(rs, extra) "{\"notifyType\":\"REFUND_RESULT\",\"result\":" \
	"{\"resultCode\":\"SUCCESS\",\"resultStatus\":\"" rs "\"},\"refundRequestId\":" \
	"\"RR-1\",\"refundId\":\"2022RF1\"" extra "}"
#define T_VAULT(rs, extra) "{\"result\":{\"resultStatus\":\"" rs "\"}," \
	"\"vaultingRequestId\":\"V-1\"" extra "}"
static const struct {
	const char		*name;
	const char		*body;
	enum notif_kind		 kind;
	enum notif_status	 status;
} t_rules[] = {
	{ "PAYMENT_PENDING with F is a failed payment",
	    "{\"notifyType\":\"PAYMENT_PENDING\",\"result\":{\"resultCode\":"
	    "\"USER_BALANCE_NOT_ENOUGH\",\"resultStatus\":\"F\"},\"paymentRequestId\":"
	    "\"pr-1\",\"paymentId\":\"2024000001\"}", NOTIF_PAYMENT, NOTIF_ST_FAIL },
	{ "PAYMENT_PENDING with S is pending",
	    "{\"notifyType\":\"PAYMENT_PENDING\",\"result\":{\"resultStatus\":\"S\"},"
	    "\"paymentRequestId\":\"pr-1\"}", NOTIF_PAYMENT, NOTIF_ST_PENDING },
	{ "PAYMENT_PENDING with U is pending",
	    "{\"notifyType\":\"PAYMENT_PENDING\",\"result\":{\"resultStatus\":\"U\"},"
	    "\"paymentRequestId\":\"pr-1\"}", NOTIF_PAYMENT, NOTIF_ST_PENDING },
	{ "PAYMENT_RESULT with U is pending",
	    "{\"notifyType\":\"PAYMENT_RESULT\",\"result\":{\"resultCode\":"
	    "\"UNKNOWN_EXCEPTION\",\"resultStatus\":\"U\"},\"paymentRequestId\":"
	    "\"pr-1\"}", NOTIF_PAYMENT, NOTIF_ST_PENDING },
	{ "capture U is pending",
	    "{\"notifyType\":\"CAPTURE_RESULT\",\"result\":{\"resultStatus\":\"U\"},"
	    "\"captureRequestId\":\"c\"}", NOTIF_CAPTURE, NOTIF_ST_PENDING },
	{ "refund S SUCCESS", T_REFUND("S", ",\"refundStatus\":\"SUCCESS\""),
	    NOTIF_REFUND, NOTIF_ST_SUCCESS },
	{ "refund S FAIL: the channel accepted it, the refund failed",
	    T_REFUND("S", ",\"refundStatus\":\"FAIL\""), NOTIF_REFUND, NOTIF_ST_FAIL },
	{ "refund F FAIL", T_REFUND("F", ",\"refundStatus\":\"FAIL\""),
	    NOTIF_REFUND, NOTIF_ST_FAIL },
	{ "refund U SUCCESS", T_REFUND("U", ",\"refundStatus\":\"SUCCESS\""),
	    NOTIF_REFUND, NOTIF_ST_SUCCESS },
	{ "refund U FAIL", T_REFUND("U", ",\"refundStatus\":\"FAIL\""),
	    NOTIF_REFUND, NOTIF_ST_FAIL },
	{ "refund S, no refundStatus", T_REFUND("S", ""), NOTIF_REFUND,
	    NOTIF_ST_PENDING },
	{ "refund F, no refundStatus", T_REFUND("F", ""), NOTIF_REFUND,
	    NOTIF_ST_FAIL },
	{ "refund U, no refundStatus", T_REFUND("U", ""), NOTIF_REFUND,
	    NOTIF_ST_PENDING },
	{ "refund U, refundStatus null", T_REFUND("U", ",\"refundStatus\":null"),
	    NOTIF_REFUND, NOTIF_ST_PENDING },
	{ "vaulting U is pending", T_VAULT("U", ""), NOTIF_VAULTING,
	    NOTIF_ST_PENDING },
	{ "vaulting U SUCCESS", T_VAULT("U", ",\"vaultingStatus\":\"SUCCESS\""),
	    NOTIF_VAULTING, NOTIF_ST_SUCCESS },
	{ "vaulting U FAIL", T_VAULT("U", ",\"vaultingStatus\":\"FAIL\""),
	    NOTIF_VAULTING, NOTIF_ST_FAIL },
	{ "vaulting S PROCESSING is pending",
	    T_VAULT("S", ",\"vaultingStatus\":\"PROCESSING\""), NOTIF_VAULTING,
	    NOTIF_ST_PENDING },
	{ "vaulting U PROCESSING is pending",
	    T_VAULT("U", ",\"vaultingStatus\":\"PROCESSING\""), NOTIF_VAULTING,
	    NOTIF_ST_PENDING },
	{ "vaulting S SUCCESS", T_VAULT("S", ",\"vaultingStatus\":\"SUCCESS\""),
	    NOTIF_VAULTING, NOTIF_ST_SUCCESS },
};

START_TEST(test_status_rules)
{
	struct notif n;

	t_parse_str(t_rules[_i].body, &n);
	ck_assert_msg(n.kind == t_rules[_i].kind, "%s: kind %d (%s)",
	    t_rules[_i].name, n.kind, n.archive_reason ? n.archive_reason : "-");
	ck_assert_msg(n.status == t_rules[_i].status, "%s: status %s",
	    t_rules[_i].name, notif_status_str(n.status) ? notif_status_str(n.status) : "NONE");
	ck_assert_ptr_null(n.archive_reason);
	notif_free(&n);
}
END_TEST

/*
 * The notifyVaulting reference's request sample spells the message
 * resultMsg (docs.antom.com/ac/ams/notify_vaulting; docs/protocol.md
 * section 4.1).  The body keeps that spelling and the fields the reference
 * lists (result, vaultingRequestId, paymentMethodDetail.card); its values
 * are stand-ins.  resultMessage wins when both are there, for any kind.
 */
START_TEST(test_result_msg)
{
	struct notif n;

	t_parse_str("{\"result\":{\"resultCode\":\"SUCCESS\",\"resultStatus\":\"S\","
	    "\"resultMsg\":\"success\"},\"vaultingRequestId\":\"V-7\","
	    "\"paymentMethodDetail\":{\"paymentMethodType\":\"CARD\",\"card\":"
	    "{\"cardToken\":\"ALIPAY7X\",\"maskedCardNo\":\"************8454\"}}}", &n);
	ck_assert_int_eq(n.kind, NOTIF_VAULTING);
	ck_assert_str_eq(n.result_message, "success");
	ck_assert_str_eq(n.card_no_masked, "************8454");
	notif_free(&n);

	t_parse_str(T_PAY_HEAD "\"paymentRequestId\":\"r\"}", &n);
	ck_assert_ptr_null(n.result_message);
	notif_free(&n);
	t_parse_str("{\"notifyType\":\"CAPTURE_RESULT\",\"result\":{\"resultStatus\":"
	    "\"S\",\"resultMsg\":\"short\",\"resultMessage\":\"long\"},"
	    "\"captureRequestId\":\"c\"}", &n);
	ck_assert_str_eq(n.result_message, "long");
	notif_free(&n);
	/* A null resultMessage falls back like an absent one. */
	t_parse_str("{\"notifyType\":\"PAYMENT_RESULT\",\"result\":{\"resultStatus\":"
	    "\"F\",\"resultMessage\":null,\"resultMsg\":\"declined\"},"
	    "\"paymentRequestId\":\"r\"}", &n);
	ck_assert_str_eq(n.result_message, "declined");
	notif_free(&n);
}
END_TEST

/*
 * The SDKs' dispute and vaulting models inherit notifyType from AlipayNotify
 * (global-open-sdk-java request/ams/notify/AlipayDisputeNotify.java,
 * AlipayVaultingNotify.java): each is still routed by its own key
 * (docs/protocol.md section 4.2).  The values they would carry are not
 * documented; these are stand-ins.
 */
START_TEST(test_inherited_notify_type)
{
	struct notif n;

	t_parse_str("{\"notifyType\":\"DISPUTE\",\"disputeNotificationType\":"
	    "\"DISPUTE_JUDGED\",\"disputeId\":\"D1\",\"paymentId\":\"P1\","
	    "\"disputeJudgedResult\":\"ACCEPT_BY_MERCHANT\"}", &n);
	ck_assert_int_eq(n.kind, NOTIF_DISPUTE);
	ck_assert_str_eq(n.notify_type, "DISPUTE_JUDGED");
	ck_assert_int_eq(n.dispute_rank, NOTIF_DISPUTE_RANK_FINAL);
	notif_free(&n);

	/* Even one that names a kind we apply. */
	t_parse_str("{\"notifyType\":\"REFUND_RESULT\",\"disputeNotificationType\":"
	    "\"DISPUTE_CREATED\",\"disputeId\":\"D2\",\"result\":{\"resultStatus\":"
	    "\"S\"},\"refundRequestId\":\"r\"}", &n);
	ck_assert_int_eq(n.kind, NOTIF_DISPUTE);
	ck_assert_str_eq(n.notify_type, "DISPUTE_CREATED");
	ck_assert_ptr_null(n.refund_request_id);
	ck_assert_ptr_null(n.result_status);
	notif_free(&n);

	t_parse_str("{\"notifyType\":\"VAULTING_RESULT\",\"result\":{\"resultStatus\":"
	    "\"S\"},\"vaultingRequestId\":\"V-1\"}", &n);
	ck_assert_int_eq(n.kind, NOTIF_VAULTING);
	ck_assert_str_eq(n.notify_type, "VAULTING_RESULT");
	notif_free(&n);
	t_parse_str("{\"notifyType\":null,\"result\":{\"resultStatus\":\"S\"},"
	    "\"vaultingRequestId\":\"V-1\"}", &n);
	ck_assert_int_eq(n.kind, NOTIF_VAULTING);
	ck_assert_ptr_null(n.notify_type);
	notif_free(&n);

	/*
	 * A payment stays a payment with a vaultingRequestId beside it: no
	 * payment model carries one, but mistaking a payment for a vaulting
	 * would lose its state change.
	 */
	t_parse_str(T_PAY_HEAD "\"paymentRequestId\":\"r\",\"vaultingRequestId\":"
	    "\"V-1\"}", &n);
	ck_assert_int_eq(n.kind, NOTIF_PAYMENT);
	ck_assert_str_eq(notif_object_id(&n), "r");
	ck_assert_ptr_null(n.vaulting_request_id);
	notif_free(&n);
}
END_TEST

/*
 * The fields a merchant acts on (docs/protocol.md section 6), one table row
 * per field: a body, the struct notif string it fills, the value wanted.
 *
 * A card payment; field names from the official SDK models:
 * AlipayPayResultNotify (paymentMethodType, acquirerReferenceNo,
 * acquirerInfo, authExpiryTime; global-open-sdk-java
 * request/ams/notify/AlipayPayResultNotify.java), AcquirerInfo
 * (model/ams/AcquirerInfo.java), PaymentResultInfo (global-open-sdk-go
 * com/alipay/api/model/PaymentResultInfo.go: cardBin, funding, issuerName,
 * cardNo, cardToken, merchantAdviceCode, credentialTypeUsed, rrn),
 * actualPaymentAmount (global-open-sdk-go pay and inquiry responses);
 * authorizationCode as docs/protocol.md section 4.3 lists it.  Values are
 * stand-ins.  The inner acquirerInfo must lose to the top-level one.
 */
static const char t_f_payment[] =
    "{\"notifyType\":\"PAYMENT_RESULT\",\"result\":{\"resultCode\":"
    "\"SUCCESS\",\"resultStatus\":\"S\",\"resultMessage\":\"success\"},"
    "\"paymentRequestId\":\"pr-auth-1\",\"paymentId\":\"2024000003\","
    "\"paymentAmount\":{\"value\":\"4200\",\"currency\":\"SGD\"},"
    "\"actualPaymentAmount\":{\"value\":\"3150\",\"currency\":\"USD\"},"
    "\"paymentMethodType\":\"CARD\",\"authExpiryTime\":"
    "\"2024-05-08T10:00:00+08:00\",\"acquirerReferenceNo\":\"ARN-TOP\","
    "\"acquirerInfo\":{\"acquirerName\":\"Adyen\",\"acquirerTransactionId\":"
    "\"T-99\",\"acquirerResultCode\":\"00\",\"acquirerResultMessage\":"
    "\"Approved\",\"acquirerMerchantId\":\"M1\"},\"paymentResultInfo\":"
    "{\"cardNo\":\"411111******1111\",\"cardBrand\":\"VISA\",\"cardToken\":"
    "\"ALIPAYxyz\",\"issuingCountry\":\"US\",\"funding\":\"CREDIT\","
    "\"cardBin\":\"411111\",\"lastFour\":\"1111\",\"issuerName\":"
    "\"JPMORGAN CHASE\",\"merchantAdviceCode\":\"01\",\"authorizationCode\":"
    "\"A1B2C3\",\"rrn\":\"412345678901\",\"credentialTypeUsed\":\"PAN\","
    "\"acquirerInfo\":{\"acquirerName\":\"inner\"}}}";
/* acquirerInfo inside paymentResultInfo, as the Go model has it; full PAN. */
static const char t_f_payment_inner[] = T_PAY_HEAD "\"paymentRequestId\":\"r\","
    "\"paymentResultInfo\":{\"cardNo\":\"4111111111111111\",\"acquirerInfo\":"
    "{\"acquirerName\":\"inner\",\"acquirerTransactionId\":7}}}";
/*
 * notifyCapture's acquirerInfo (global-open-sdk-java
 * request/ams/notify/AlipayCaptureResultNotify.java) around the
 * documentation's capture sample, made successful.
 */
static const char t_f_capture[] =
    "{\"captureAmount\":{\"currency\":\"SGD\",\"value\":\"4200\"},"
    "\"notifyType\":\"CAPTURE_RESULT\",\"captureId\":\"2022XXXXXXX\","
    "\"captureRequestId\":\"captureRequestId01\",\"captureTime\":"
    "\"2022-11-10T00:34:52-08:00\",\"paymentId\":\"2022XXXXXXX\",\"result\":"
    "{\"resultCode\":\"SUCCESS\",\"resultMessage\":\"success.\",\"resultStatus\":"
    "\"S\"},\"acquirerReferenceNo\":\"ARN-C\",\"acquirerInfo\":{\"acquirerName\":"
    "\"Worldpay\",\"acquirerTransactionId\":\"WP-1\",\"acquirerResultCode\":"
    "\"00\",\"acquirerResultMessage\":\"Approved\"}}";
/*
 * The notifyRefund sample of docs.antom.com/ac/aba/refund, plus arn and
 * actualRefundAmount (global-open-sdk-python
 * com/alipay/ams/api/request/notify/alipay_refund_notify.py; arn is in the
 * notifyRefund reference, docs.antom.com/ac/ams_zh-cn/notify_reund).
 */
static const char t_f_refund[] =
    "{\"notifyType\":\"REFUND_RESULT\",\"refundAmount\":{\"currency\":"
    "\"HKD\",\"value\":\"10000\"},\"refundId\":"
    "\"2021080419401080130018866020092XXXX\",\"refundRequestId\":"
    "\"amsdemorefund_zhangyikai_zyk_20210804_165236_931\",\"refundStatus\":"
    "\"SUCCESS\",\"refundTime\":\"2021-08-04T01:52:37-07:00\",\"result\":"
    "{\"resultCode\":\"SUCCESS\",\"resultMessage\":\"Success\",\"resultStatus\":"
    "\"S\"},\"arn\":\"74987654321098765432109\",\"actualRefundAmount\":"
    "{\"currency\":\"USD\",\"value\":\"1282\"}}";
/*
 * notifyDispute's arn and disputeAcceptReason (global-open-sdk-java
 * request/ams/notify/AlipayDisputeNotify.java; the reason's values from
 * model/ams/DisputeAcceptReasonType.java), ids from the documentation's
 * dispute sample.
 */
static const char t_f_dispute[] =
    "{\"disputeNotificationType\":\"DISPUTE_ACCEPTED\",\"disputeId\":"
    "\"2025010329013101740904829052\",\"paymentId\":"
    "\"20250101194010800100188740269658664\",\"paymentRequestId\":"
    "\"101520250101400409669231020023\",\"disputeType\":\"CHARGEBACK\","
    "\"arn\":\"24692164032100012345678\",\"disputeAcceptReason\":"
    "\"MERCHANT_ACCEPTED\",\"disputeAcceptTime\":\"2025-01-05T10:00:00-08:00\"}";
/*
 * notifyVaulting's card: networkTransactionId, expiryMonth, expiryYear and
 * bin, as CardPaymentMethodDetail names them (global-open-sdk-java
 * model/ams/CardPaymentMethodDetail.java).
 */
static const char t_f_vaulting[] =
    "{\"result\":{\"resultCode\":\"SUCCESS\",\"resultStatus\":\"S\","
    "\"resultMessage\":\"success\"},\"vaultingRequestId\":\"V-9\","
    "\"vaultingStatus\":\"SUCCESS\",\"vaultingCreateTime\":"
    "\"2024-01-01T00:00:00Z\",\"paymentMethodDetail\":{\"paymentMethodType\":"
    "\"CARD\",\"card\":{\"cardToken\":\"ALIPAY9X\",\"brand\":\"VISA\","
    "\"maskedCardNo\":\"************1111\",\"bin\":\"411111\",\"expiryMonth\":"
    "\"12\",\"expiryYear\":\"29\",\"networkTransactionId\":"
    "\"123456789012345\",\"funding\":\"DEBIT\"}}}";
/* cardBin when bin is absent; an unmasked cardNo yields to maskedCardNo. */
static const char t_f_vaulting_alias[] =
    "{\"result\":{\"resultStatus\":\"S\"},\"vaultingRequestId\":\"V-8\","
    "\"paymentMethodDetail\":{\"card\":{\"cardBin\":\"510000\",\"cardNo\":"
    "\"5100000000000008\",\"maskedCardNo\":\"510000******0008\"}}}";

#define T_F(member)	offsetof(struct notif, member)
static const struct {
	const char	*body;
	size_t		 off;
	const char	*want;
} t_f[] = {
	{ t_f_payment, T_F(payment_method_type), "CARD" },
	{ t_f_payment, T_F(auth_expiry_time), "2024-05-08T10:00:00+08:00" },
	{ t_f_payment, T_F(acquirer_reference_no), "ARN-TOP" },
	{ t_f_payment, T_F(acquirer.name), "Adyen" },
	{ t_f_payment, T_F(acquirer.transaction_id), "T-99" },
	{ t_f_payment, T_F(acquirer.result_code), "00" },
	{ t_f_payment, T_F(acquirer.result_message), "Approved" },
	{ t_f_payment, T_F(card_no_masked), "411111******1111" },
	{ t_f_payment, T_F(card_token), "ALIPAYxyz" },
	{ t_f_payment, T_F(funding), "CREDIT" },
	{ t_f_payment, T_F(card_bin), "411111" },
	{ t_f_payment, T_F(issuer_name), "JPMORGAN CHASE" },
	{ t_f_payment, T_F(merchant_advice_code), "01" },
	{ t_f_payment, T_F(authorization_code), "A1B2C3" },
	{ t_f_payment, T_F(rrn), "412345678901" },
	{ t_f_payment, T_F(credential_type_used), "PAN" },
	{ t_f_payment, T_F(expiry_month), NULL },	/* vaulting only */
	{ t_f_payment_inner, T_F(acquirer.name), "inner" },
	{ t_f_payment_inner, T_F(acquirer.transaction_id), NULL },
	{ t_f_payment_inner, T_F(card_no_masked), NULL },
	{ t_f_capture, T_F(acquirer_reference_no), "ARN-C" },
	{ t_f_capture, T_F(acquirer.name), "Worldpay" },
	{ t_f_capture, T_F(acquirer.transaction_id), "WP-1" },
	{ t_f_capture, T_F(acquirer.result_code), "00" },
	{ t_f_capture, T_F(acquirer.result_message), "Approved" },
	{ t_f_refund, T_F(arn), "74987654321098765432109" },
	{ t_f_dispute, T_F(dispute_type), "CHARGEBACK" },
	{ t_f_dispute, T_F(arn), "24692164032100012345678" },
	{ t_f_dispute, T_F(dispute_accept_reason), "MERCHANT_ACCEPTED" },
	{ t_f_vaulting, T_F(card_bin), "411111" },
	{ t_f_vaulting, T_F(expiry_month), "12" },
	{ t_f_vaulting, T_F(expiry_year), "29" },
	{ t_f_vaulting, T_F(network_transaction_id), "123456789012345" },
	{ t_f_vaulting, T_F(card_no_masked), "************1111" },
	{ t_f_vaulting_alias, T_F(card_bin), "510000" },
	{ t_f_vaulting_alias, T_F(card_no_masked), "510000******0008" },
};

START_TEST(test_field)
{
	struct notif n;
	const char *got;

	t_parse_str(t_f[_i].body, &n);
	ck_assert_msg(n.kind != NOTIF_OTHER, "archived: %s", n.archive_reason);
	got = *(const char *const *)(const void *)((const char *)&n + t_f[_i].off);
	ck_assert_pstr_eq(got, t_f[_i].want);
	notif_free(&n);
}
END_TEST

/* actualPaymentAmount and actualRefundAmount beside the kind's own amount. */
static const struct {
	const char	*body;
	size_t		 off;
	int64_t		 value;
	const char	*currency;
} t_f_amounts[] = {
	{ t_f_payment, T_F(amount), 4200, "SGD" },
	{ t_f_payment, T_F(actual_payment_amount), 3150, "USD" },
	{ t_f_refund, T_F(amount), 10000, "HKD" },
	{ t_f_refund, T_F(actual_refund_amount), 1282, "USD" },
};

START_TEST(test_field_amount)
{
	struct notif n;
	const struct notif_amount *a;

	t_parse_str(t_f_amounts[_i].body, &n);
	a = (const void *)((const char *)&n + t_f_amounts[_i].off);
	ck_assert(a->present);
	ck_assert_int_eq(a->value, t_f_amounts[_i].value);
	ck_assert_str_eq(a->currency, t_f_amounts[_i].currency);
	notif_free(&n);
}
END_TEST

/*
 * A malformed optional amount is dropped, the payment or refund still
 * applied (docs/protocol.md section 6); a good one in the same body is kept.
 */
static const char *const t_bad_optional_amounts[] = {
	"{\"value\":\"-1\",\"currency\":\"USD\"}",
	"{\"value\":\"1.5\",\"currency\":\"USD\"}",
	"{\"value\":100,\"currency\":\"USD\"}",
	"{\"value\":\"100\",\"currency\":\"usd\"}",
	"{\"value\":\"100\",\"currency\":\"ABC\"}",
	"{\"value\":\"100\"}",
	"\"100 USD\"",
	"{\"value\":\"99999999999999999999\",\"currency\":\"USD\"}",
};

START_TEST(test_optional_amount_dropped)
{
	struct notif n;
	char body[512];

	snprintf(body, sizeof(body), T_PAY_HEAD "\"paymentRequestId\":\"r\","
	    "\"paymentAmount\":{\"value\":\"4200\",\"currency\":\"SGD\"},"
	    "\"actualPaymentAmount\":%s}", t_bad_optional_amounts[_i]);
	t_parse_str(body, &n);
	ck_assert_int_eq(n.kind, NOTIF_PAYMENT);
	ck_assert_int_eq(n.status, NOTIF_ST_SUCCESS);
	ck_assert(n.amount.present);
	ck_assert_int_eq(n.amount.value, 4200);
	ck_assert(!n.actual_payment_amount.present);
	ck_assert_int_eq(n.actual_payment_amount.value, 0);
	ck_assert_str_eq(n.actual_payment_amount.currency, "");
	notif_free(&n);

	snprintf(body, sizeof(body), T_REFUND("S", ",\"refundStatus\":\"SUCCESS\","
	    "\"refundAmount\":{\"value\":\"1200\",\"currency\":\"SGD\"},"
	    "\"actualRefundAmount\":%s"), t_bad_optional_amounts[_i]);
	t_parse_str(body, &n);
	ck_assert_int_eq(n.kind, NOTIF_REFUND);
	ck_assert_int_eq(n.amount.value, 1200);
	ck_assert(!n.actual_refund_amount.present);
	notif_free(&n);
}
END_TEST

START_TEST(test_free_twice)
{
	struct notif n;

	t_parse_str(t_sample_payment, &n);
	notif_free(&n);
	ck_assert_ptr_null(n.doc);
	ck_assert_ptr_null(n.payment_request_id);
	ck_assert_int_eq(n.kind, NOTIF_OTHER);
	notif_free(&n);
	notif_free(NULL);

	t_parse_str("not json", &n);
	notif_free(&n);
	notif_free(&n);
}
END_TEST

/* Parse into a struct full of garbage: everything is overwritten. */
START_TEST(test_initialises)
{
	struct notif n;

	memset(&n, 0xa5, sizeof(n));
	t_parse_str("[]", &n);
	t_assert_other(&n, "not_json", NULL);
	notif_free(&n);

	memset(&n, 0xa5, sizeof(n));
	t_parse_str("{\"notifyType\":\"REFUND_RESULT\"}", &n);
	t_assert_other(&n, "bad_result", "REFUND_RESULT");
	notif_free(&n);

	memset(&n, 0xa5, sizeof(n));
	t_parse_str(T_PAY_HEAD "\"paymentRequestId\":\"r\"}", &n);
	ck_assert_int_eq(n.kind, NOTIF_PAYMENT);
	ck_assert_ptr_null(n.payment_id);
	ck_assert_ptr_null(n.result_code);
	ck_assert_ptr_null(n.archive_reason);
	ck_assert_ptr_null(n.three_ds_cavv);
	ck_assert(!n.amount.present);
	notif_free(&n);
}
END_TEST

/*
 * Allocation failure, via Jansson's allocator hook: the k-th allocation and
 * every later one fail, for every k until the parse needs no more than k.
 * The outcome must be -1 with a zeroed struct (the caller answers 503 and
 * Antom retries) or the right payment, never not_json, although Jansson
 * reports some of these failures as syntax errors.
 *
 * Only this "memory stays short" pattern is tested, on a body without
 * numbers: Jansson 2.14 ignores a failed append to its token buffer
 * (akheron/jansson#362), so a single transient failure inside a string
 * overruns the heap, and inside a number trips an assert().  Nothing in
 * notif.c can prevent that; see the report on notif_load().
 */
static long t_alloc_left;

static void *
t_failing_malloc(size_t size)
{
	if (t_alloc_left-- <= 0)
		return NULL;
	return malloc(size);
}

START_TEST(test_out_of_memory)
{
	struct notif n, zero;
	long k;
	int rc, failed = 0;

	memset(&zero, 0, sizeof(zero));
	for (k = 0; ; k++) {
		ck_assert_int_lt(k, 100000);
		t_alloc_left = k;
		json_set_alloc_funcs(t_failing_malloc, free);
		rc = notif_parse((const unsigned char *)t_sample_payment,
		    strlen(t_sample_payment), &n);
		json_set_alloc_funcs(malloc, free);
		if (rc == 0)
			break;
		ck_assert_int_eq(rc, -1);
		ck_assert_msg(memcmp(&n, &zero, sizeof(n)) == 0,
		    "allocation %ld: -1 with the struct not zeroed", k);
		failed++;
	}
	/* rc 0 only once nothing failed: no OOM was mistaken for not_json. */
	ck_assert_int_ge(t_alloc_left, 0);
	ck_assert_msg(n.kind == NOTIF_PAYMENT, "after %ld allocations: %s", k,
	    n.archive_reason);
	ck_assert_int_eq(n.amount.value, 4200);
	ck_assert_str_eq(n.three_ds_cavv, "cavvSample");
	ck_assert_int_gt(failed, 0);
	notif_free(&n);
}
END_TEST

START_TEST(test_strings)
{
	ck_assert_str_eq(notif_kind_str(NOTIF_PAYMENT), "payment");
	ck_assert_str_eq(notif_kind_str(NOTIF_CAPTURE), "capture");
	ck_assert_str_eq(notif_kind_str(NOTIF_OTHER), "other");
	ck_assert_str_eq(notif_kind_str((enum notif_kind)42), "other");
	ck_assert_str_eq(notif_status_str(NOTIF_ST_PENDING), "PENDING");
	ck_assert_str_eq(notif_status_str(NOTIF_ST_SUCCESS), "SUCCESS");
	ck_assert_str_eq(notif_status_str(NOTIF_ST_FAIL), "FAIL");
	ck_assert_ptr_null(notif_status_str(NOTIF_ST_NONE));
	ck_assert_ptr_null(notif_status_str((enum notif_status)42));
}
END_TEST

Suite *
notif_suite(void)
{
	Suite *s = suite_create("notif");
	TCase *tc;

	tc = tcase_create("samples");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_sample_payment);
	tcase_add_test(tc, test_sample_capture_failed);
	tcase_add_test(tc, test_real_2019);
	tcase_add_test(tc, test_payment_pending);
	tcase_add_test(tc, test_payment_failed_refusal);
	tcase_add_test(tc, test_capture_success);
	tcase_add_test(tc, test_ignored_values);
	tcase_add_test(tc, test_zero_decimal_currency);
	tcase_add_test(tc, test_refund);
	tcase_add_test(tc, test_dispute);
	tcase_add_test(tc, test_vaulting);
	suite_add_tcase(s, tc);

	tc = tcase_create("reasons");
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, test_other_reasons, 0, (int)T_NELEM(t_other));
	tcase_add_loop_test(tc, test_ids, 0, (int)T_NELEM(t_ids));
	tcase_add_test(tc, test_id_length);
	tcase_add_loop_test(tc, test_amounts, 0, (int)T_NELEM(t_amounts));
	tcase_add_test(tc, test_amount_absent);
	tcase_add_test(tc, test_currencies);
	tcase_add_test(tc, test_text_fields);
	tcase_add_test(tc, test_fields_by_kind);
	suite_add_tcase(s, tc);

	tc = tcase_create("rules");
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, test_status_rules, 0, (int)T_NELEM(t_rules));
	tcase_add_test(tc, test_result_msg);
	tcase_add_test(tc, test_inherited_notify_type);
	suite_add_tcase(s, tc);

	tc = tcase_create("fields");
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, test_field, 0, (int)T_NELEM(t_f));
	tcase_add_loop_test(tc, test_field_amount, 0, (int)T_NELEM(t_f_amounts));
	tcase_add_loop_test(tc, test_optional_amount_dropped, 0,
	    (int)T_NELEM(t_bad_optional_amounts));
	suite_add_tcase(s, tc);

	tc = tcase_create("json");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_not_json, 0, (int)T_NELEM(t_not_json));
	tcase_add_test(tc, test_null_body);
	tcase_add_test(tc, test_len_bounds);
	tcase_add_test(tc, test_deep_nesting);
	tcase_add_test(tc, test_huge_body);
	suite_add_tcase(s, tc);

	tc = tcase_create("api");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_free_twice);
	tcase_add_test(tc, test_initialises);
	tcase_add_test(tc, test_out_of_memory);
	tcase_add_test(tc, test_strings);
	suite_add_tcase(s, tc);

	return s;
}
