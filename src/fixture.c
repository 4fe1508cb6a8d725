/*
 * fixture.c - built-in notification bodies for antomctl and the tests.
 *
 * Owns the sample bodies (Antom's published examples where there are
 * any, tests/corpus; else built from the documented parameter lists) and
 * the "key=value" override language.  A body is parsed from its template, given fresh ids,
 * overridden, then serialised compactly in template order, so it looks like
 * what Antom sends and two calls never collide on an idempotency key.
 *
 * Thread-safety: callable from any thread; the one shared state is
 * fixture_antom_id_new()'s atomic clock.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "fixture.h"
#include "util.h"

enum fixture_kind {
	FIXTURE_PAYMENT,	/* notifyPayment: paymentAmount, payment ids */
	FIXTURE_CAPTURE,	/* notifyCapture: captureAmount, capture ids */
	FIXTURE_REFUND,		/* notifyRefund: refundAmount, refund ids */
	FIXTURE_DISPUTE,	/* notifyDispute: disputeAmount, dispute ids */
	FIXTURE_VAULTING	/* notifyVaulting: vaultingRequestId */
};

struct fixture {
	const char		*name;
	enum fixture_kind	 kind;
	const char		*json;	/* ids are filled in fresh */
};

/*
 * Where Antom has published a body of a fixture's kind and outcome, that
 * body is the template, key for key and in its order (tests/corpus has each
 * one with its source in tests/corpus/MANIFEST); only the ids change.
 * Where no public example exists, the body is built from the documented
 * parameter list and the official SDK models' field names, in the models'
 * field order, and the comment says so.  Values not in any sample are
 * plain placeholders of the documented form.
 */
static const struct fixture fixture_table[] = {
	/*
	 * notifyPayment, 3-D Secure card success: docs/protocol.md section 5
	 * (tests/corpus/payment-3ds-card-success.json, the notifyPayment API
	 * reference sample, docs.antom.com/ac/ams/paymentrn_online; the
	 * docs' "caav" spelling kept).  Added, as documented in section 4.3
	 * and by the SDK model AlipayPayResultNotify: actualPaymentAmount
	 * after paymentAmount, where the published order-code sample
	 * (tests/corpus/payment-success-eur-signed-content.json) has it;
	 * paymentMethodType; and the card's cardBrand, lastFour and
	 * issuingCountry in paymentResultInfo.
	 */
	{ "payment-success", FIXTURE_PAYMENT,
	    "{\"notifyType\":\"PAYMENT_RESULT\",\"result\":{\"resultCode\":"
	    "\"SUCCESS\",\"resultStatus\":\"S\",\"resultMessage\":\"success\"},"
	    "\"paymentRequestId\":\"\",\"paymentId\":\"\",\"paymentAmount\":"
	    "{\"value\":\"4200\",\"currency\":\"SGD\"},\"actualPaymentAmount\":"
	    "{\"value\":\"4200\",\"currency\":\"SGD\"},\"paymentCreateTime\":"
	    "\"2020-01-01T12:01:00+08:30\",\"paymentTime\":"
	    "\"2020-01-01T12:01:01+08:30\",\"paymentMethodType\":\"CARD\","
	    "\"paymentResultInfo\":"
	    "{\"avsResultRaw\":\"A\",\"cvvResultRaw\":\"Y\","
	    "\"networkTransactionId\":\"sampleNetworkTransactionId123456\","
	    "\"threeDSResult\":{\"eci\":\"02\",\"threeDSVersion\":\"2.2.0\","
	    "\"caav\":\"cavvSample\",\"dsTransactionId\":"
	    "\"sample_dsTranasctionId\"},\"cardBrand\":\"VISA\",\"lastFour\":"
	    "\"4242\",\"issuingCountry\":\"SG\"}}" },
	/*
	 * No public PAYMENT_PENDING body: built from the notifyPayment
	 * parameter list (docs/protocol.md section 4.3) in the order of the
	 * published success; no paymentTime, the payment is not done yet.
	 */
	{ "payment-pending", FIXTURE_PAYMENT,
	    "{\"notifyType\":\"PAYMENT_PENDING\",\"result\":{\"resultCode\":"
	    "\"PAYMENT_IN_PROCESS\",\"resultStatus\":\"S\",\"resultMessage\":"
	    "\"payment in process\"},\"paymentRequestId\":\"\",\"paymentId\":"
	    "\"\",\"paymentAmount\":{\"value\":\"4200\",\"currency\":\"SGD\"},"
	    "\"paymentCreateTime\":\"2020-01-01T12:01:00+08:30\","
	    "\"paymentMethodType\":\"CARD\"}" },
	/*
	 * A card declined by the issuer.  No byte-exact public failure: the
	 * order (notifyType, result, paymentRequestId, paymentId) is that of
	 * the failure sample of global.alipay.com/docs/ac/ams_oc/acceptpayment,
	 * the card fields are the SDK model's paymentResultInfo (refusalCodeRaw,
	 * refusalReasonRaw).  No paymentTime: Antom sends it only for a success.
	 */
	{ "payment-fail", FIXTURE_PAYMENT,
	    "{\"notifyType\":\"PAYMENT_RESULT\",\"result\":{\"resultCode\":"
	    "\"ISSUER_REJECTS_TRANSACTION\",\"resultStatus\":\"F\","
	    "\"resultMessage\":\"The issuer rejects the transaction.\"},"
	    "\"paymentRequestId\":\"\",\"paymentId\":\"\",\"paymentAmount\":"
	    "{\"value\":\"4200\",\"currency\":\"SGD\"},\"paymentCreateTime\":"
	    "\"2020-01-01T12:01:00+08:30\",\"paymentMethodType\":\"CARD\","
	    "\"paymentResultInfo\":"
	    "{\"avsResultRaw\":\"A\",\"cvvResultRaw\":\"Y\",\"cardBrand\":"
	    "\"VISA\",\"lastFour\":\"4242\",\"issuingCountry\":\"SG\","
	    "\"refusalCodeRaw\":\"05\",\"refusalReasonRaw\":"
	    "\"Do not honor\"}}" },
	/*
	 * notifyCapture success and failure, as published: the card payment
	 * guides' "Obtain capture result", global.alipay.com/docs/ac/
	 * cashierpay/adcard (tests/corpus/capture-success.json and
	 * capture-failed.json, the latter also docs/protocol.md section 5).
	 */
	{ "capture-success", FIXTURE_CAPTURE,
	    "{\"captureAmount\":{\"currency\":\"SGD\",\"value\":\"4200\"},"
	    "\"notifyType\":\"CAPTURE_RESULT\",\"captureId\":\"\","
	    "\"captureRequestId\":\"\",\"captureTime\":"
	    "\"2022-11-10T00:34:52-08:00\",\"paymentId\":\"\","
	    "\"result\":{\"resultCode\":\"SUCCESS\",\"resultMessage\":"
	    "\"success.\",\"resultStatus\":\"S\"}}" },
	{ "capture-fail", FIXTURE_CAPTURE,
	    "{\"captureAmount\":{\"currency\":\"SGD\",\"value\":\"4200\"},"
	    "\"notifyType\":\"CAPTURE_RESULT\",\"captureId\":\"\","
	    "\"captureRequestId\":\"\",\"captureTime\":"
	    "\"2022-11-10T00:34:52-08:00\",\"paymentId\":\"\",\"result\":"
	    "{\"resultCode\":\"PROCESS_FAIL\",\"resultMessage\":\"fail.\","
	    "\"resultStatus\":\"F\"}}" },
	/*
	 * No public notifyRefund body: built from the parameter list of
	 * docs.antom.com/ac/ams/notify_refund and the SDK model
	 * AlipayRefundNotify (Java, Go), in its field order.  Like every real
	 * one it carries no paymentId and no paymentRequestId
	 * (docs/protocol.md section 4.5): the merchant links the refund to
	 * its payment in refund_links.  refundTime only with result S; arn
	 * (the card networks' 23-digit acquirer reference) is a placeholder.
	 */
	{ "refund-success", FIXTURE_REFUND,
	    "{\"notifyType\":\"REFUND_RESULT\",\"result\":{\"resultCode\":"
	    "\"SUCCESS\",\"resultStatus\":\"S\",\"resultMessage\":\"success\"},"
	    "\"refundStatus\":\"SUCCESS\",\"refundRequestId\":\"\","
	    "\"refundId\":\"\",\"refundAmount\":{\"value\":\"4200\","
	    "\"currency\":\"SGD\"},\"refundTime\":\"2022-11-11T10:00:00+08:00\","
	    "\"actualRefundAmount\":{\"value\":\"4200\",\"currency\":\"SGD\"},"
	    "\"arn\":\"74000000000000000000000\"}" },
	/*
	 * Failed with F, as the published capture failure is (PROCESS_FAIL,
	 * "fail."); refundStatus FAIL is the outcome either way.
	 */
	{ "refund-fail", FIXTURE_REFUND,
	    "{\"notifyType\":\"REFUND_RESULT\",\"result\":{\"resultCode\":"
	    "\"PROCESS_FAIL\",\"resultStatus\":\"F\",\"resultMessage\":"
	    "\"fail.\"},\"refundStatus\":\"FAIL\",\"refundRequestId\":\"\","
	    "\"refundId\":\"\",\"refundAmount\":{\"value\":\"4200\","
	    "\"currency\":\"SGD\"}}" },
	/*
	 * notifyDispute DISPUTE_CREATED as published: the API Explorer case
	 * "Notification about an occurred dispute",
	 * global.alipay.com/docs/ac/ams/notify_dispute
	 * (tests/corpus/dispute-created.json).  No notifyType, no result
	 * (docs/protocol.md section 4.6).
	 */
	{ "dispute-created", FIXTURE_DISPUTE,
	    "{\"disputeAmount\":{\"currency\":\"EUR\",\"value\":\"1000\"},"
	    "\"disputeId\":\"\",\"disputeNotificationType\":\"DISPUTE_CREATED\","
	    "\"defenseDueTime\":\"2023-09-20T23:41:32-07:00\",\"disputeTime\":"
	    "\"2022-09-20T23:41:32-07:00\",\"disputeReasonCode\":\"4853\","
	    "\"disputeSource\":\"Mastercard\",\"paymentId\":\"\","
	    "\"paymentRequestId\":\"\"}" },
	/*
	 * The other stages have no public body: built from the notifyDispute
	 * parameter list (docs.antom.com/ac/ams/notify_dispute) and the SDK
	 * model AlipayDisputeNotify, in the order of the published one.
	 */
	{ "dispute-defense-supplied", FIXTURE_DISPUTE,
	    "{\"disputeId\":\"\",\"disputeNotificationType\":"
	    "\"DEFENSE_SUPPLIED\",\"paymentId\":\"\",\"paymentRequestId\":"
	    "\"\"}" },
	/* Judged for the merchant: Antom releases the frozen funds. */
	{ "dispute-judged", FIXTURE_DISPUTE,
	    "{\"disputeAmount\":{\"currency\":\"EUR\",\"value\":\"1000\"},"
	    "\"disputeId\":\"\",\"disputeNotificationType\":\"DISPUTE_JUDGED\","
	    "\"disputeJudgedResult\":\"ACCEPT_BY_CUSTOMER\","
	    "\"disputeJudgedTime\":\"2022-12-01T10:00:00+08:00\","
	    "\"disputeJudgedAmount\":{\"currency\":\"EUR\",\"value\":\"0\"},"
	    "\"disputeReasonCode\":\"4853\",\"disputeSource\":\"Mastercard\","
	    "\"paymentId\":\"\",\"paymentRequestId\":\"\"}" },
	{ "dispute-cancelled", FIXTURE_DISPUTE,
	    "{\"disputeId\":\"\",\"disputeNotificationType\":"
	    "\"DISPUTE_CANCELLED\",\"paymentId\":\"\",\"paymentRequestId\":"
	    "\"\"}" },
	/*
	 * No public notifyVaulting body: built from the parameter list of
	 * docs.antom.com/ac/apo/notify_vaulting (vaultingStatus, which no SDK
	 * model has) and the SDK model AlipayVaultingNotify, whose card is
	 * paymentMethodDetail.card with brand, bin, maskedCardNo (never the
	 * number: antomd keeps only a masked one), expiryMonth/expiryYear.
	 * No notifyType: none is documented, vaultingRequestId names it.
	 */
	{ "vaulting-success", FIXTURE_VAULTING,
	    "{\"result\":{\"resultCode\":\"SUCCESS\",\"resultStatus\":\"S\","
	    "\"resultMessage\":\"success\"},\"vaultingRequestId\":\"\","
	    "\"vaultingStatus\":\"SUCCESS\",\"vaultingCreateTime\":"
	    "\"2022-11-09T10:00:00+08:00\",\"paymentMethodDetail\":"
	    "{\"paymentMethodType\":\"CARD\",\"card\":{\"brand\":\"VISA\","
	    "\"bin\":\"424242\",\"maskedCardNo\":\"************4242\","
	    "\"cardToken\":\"ALIPAYsampleCardToken01\",\"expiryMonth\":\"12\","
	    "\"expiryYear\":\"30\",\"issuingCountry\":\"SG\","
	    "\"networkTransactionId\":\"sampleNetworkTransactionId123456\"}}}" },
	{ "vaulting-fail", FIXTURE_VAULTING,
	    "{\"result\":{\"resultCode\":\"VERIFY_CARD_FAILED\",\"resultStatus\":"
	    "\"F\",\"resultMessage\":\"card verification failed\"},"
	    "\"vaultingRequestId\":\"\"}" },
};

#define FIXTURE_COUNT	(sizeof(fixture_table) / sizeof(fixture_table[0]))
#define FIXTURE_KEY_MAX	256	/* a field name's bytes, NUL included */

const char *const fixture_names[] = {
	"payment-success", "payment-pending", "payment-fail",
	"capture-success", "capture-fail", "refund-success", "refund-fail",
	"dispute-created", "dispute-defense-supplied", "dispute-judged",
	"dispute-cancelled", "vaulting-success", "vaulting-fail", NULL
};

/* Set a string member, replacing whatever was there.  0 or -1. */
static int
fixture_set(json_t *obj, const char *key, size_t keylen, const char *value)
{
	char kbuf[FIXTURE_KEY_MAX];

	if (keylen >= sizeof(kbuf))
		return -1;
	memcpy(kbuf, key, keylen);
	kbuf[keylen] = '\0';
	/* json_string() is NULL on bad UTF-8; set_new() then fails cleanly. */
	return json_object_set_new(obj, kbuf, json_string(value));
}

/*
 * An Antom-style id, 35 digits: the minute it was made (UTC,
 * yyyyMMddHHmm), Antom's "108001001888" of the published examples
 * (docs/protocol.md 4.1), then the second and microsecond and two digits
 * of the process id.  So ids made later sort later, as Antom's do, and an
 * index on them is appended to rather than written at random.  Within a
 * process the time taken is strictly increasing (a call in the same
 * microsecond as the last takes the next one), so no two calls collide
 * and each sorts after the one before.
 */
int
fixture_antom_id_new(char *out, size_t cap)
{
	static _Atomic uint64_t last_us;
	struct timespec ts;
	struct tm tm;
	uint64_t now, old, v;
	time_t sec;

	if (cap < FIXTURE_ANTOM_ID_SIZE ||
	    clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return -1;
	now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	old = atomic_load(&last_us);
	do
		v = now > old ? now : old + 1;
	while (!atomic_compare_exchange_weak(&last_us, &old, v));
	sec = (time_t)(v / 1000000u);
	if (gmtime_r(&sec, &tm) == NULL)
		return -1;
	if (snprintf(out, cap, "%04d%02d%02d%02d%02d1080010018880%02d%06u%02u",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (unsigned)(v % 1000000u),
	    (unsigned)getpid() % 100) != FIXTURE_ANTOM_ID_SIZE - 1)
		return -1;
	return 0;
}

/* A merchant-style request id: prefix and 16 random hex digits. */
static int
fixture_request_id(json_t *root, const char *key, const char *prefix)
{
	unsigned char rnd[8];
	char hex[2 * sizeof(rnd) + 1], id[64];

	if (util_random(rnd, sizeof(rnd)) == -1)
		return -1;
	util_hex(rnd, sizeof(rnd), hex);
	snprintf(id, sizeof(id), "%s%s", prefix, hex);
	return fixture_set(root, key, strlen(key), id);
}

static int
fixture_antom_id(json_t *root, const char *key)
{
	char id[FIXTURE_ANTOM_ID_SIZE];

	if (fixture_antom_id_new(id, sizeof(id)) == -1)
		return -1;
	return fixture_set(root, key, strlen(key), id);
}

static int
fixture_fresh_ids(json_t *root, enum fixture_kind kind)
{
	switch (kind) {
	case FIXTURE_CAPTURE:
		return fixture_request_id(root, "captureRequestId", "CR-") |
		    fixture_antom_id(root, "captureId") |
		    fixture_antom_id(root, "paymentId");
	case FIXTURE_REFUND:
		/* No paymentId: notifyRefund has none to fill in. */
		return fixture_request_id(root, "refundRequestId", "RR-") |
		    fixture_antom_id(root, "refundId");
	case FIXTURE_DISPUTE:
		return fixture_request_id(root, "paymentRequestId", "PR-") |
		    fixture_antom_id(root, "disputeId") |
		    fixture_antom_id(root, "paymentId");
	case FIXTURE_VAULTING:
		return fixture_request_id(root, "vaultingRequestId", "VR-");
	case FIXTURE_PAYMENT:
		break;
	}
	return fixture_request_id(root, "paymentRequestId", "PR-") |
	    fixture_antom_id(root, "paymentId");
}

/* Where the amount= and currency= shorthands write. */
static const char *
fixture_amount_key(enum fixture_kind kind)
{
	switch (kind) {
	case FIXTURE_CAPTURE:	return "captureAmount";
	case FIXTURE_REFUND:	return "refundAmount";
	case FIXTURE_DISPUTE:	return "disputeAmount";
	case FIXTURE_VAULTING:	/* has none; amount= adds one it ignores */
	case FIXTURE_PAYMENT:	break;
	}
	return "paymentAmount";
}

/*
 * The amount that follows the one amount= sets, when the template has it:
 * what was really paid or refunded, the same unless a currency conversion
 * says otherwise, so one shorthand keeps the two in step.
 */
static const char *
fixture_actual_key(enum fixture_kind kind)
{
	switch (kind) {
	case FIXTURE_PAYMENT:	return "actualPaymentAmount";
	case FIXTURE_REFUND:	return "actualRefundAmount";
	case FIXTURE_CAPTURE:
	case FIXTURE_DISPUTE:
	case FIXTURE_VAULTING:	break;
	}
	return NULL;
}

/*
 * The object member key of root, created when missing or not an object.
 * A borrowed reference: root owns it.
 */
static json_t *
fixture_child(json_t *root, const char *key)
{
	json_t *o = json_object_get(root, key);

	if (json_is_object(o))
		return o;
	o = json_object();
	if (json_object_set_new(root, key, o) == -1)
		return NULL;
	return o;
}

/*
 * Apply one "key=value".  The shorthands reach into the nested objects
 * every test wants to vary; anything else is a top-level string field.
 * Values are set verbatim (amount=abc included) so tests can send bodies
 * the daemon must reject.
 */
static int
fixture_apply(json_t *root, enum fixture_kind kind, const char *set,
    char *err, size_t errlen)
{
	const char *eq = strchr(set, '='), *val;
	size_t klen;
	json_t *obj = root;
	const char *key;

	klen = (size_t)(eq - set);
	val = eq + 1;
	key = set;
	if ((klen == 6 && strncmp(set, "amount", 6) == 0) ||
	    (klen == 8 && strncmp(set, "currency", 8) == 0)) {
		json_t *actual = NULL;

		if (fixture_actual_key(kind) != NULL)
			actual = json_object_get(root, fixture_actual_key(kind));
		obj = fixture_child(root, fixture_amount_key(kind));
		if (klen == 6) {
			key = "value";
			klen = 5;
		}
		if (json_is_object(actual) &&
		    fixture_set(actual, key, klen, val) == -1)
			obj = NULL;
	} else if ((klen == 10 && (strncmp(set, "resultCode", 10) == 0)) ||
	    (klen == 12 && strncmp(set, "resultStatus", 12) == 0) ||
	    (klen == 13 && strncmp(set, "resultMessage", 13) == 0)) {
		obj = fixture_child(root, "result");
	}
	/* fixture_check() has vetted set: only memory can fail here. */
	if (obj == NULL || fixture_set(obj, key, klen, val) == -1) {
		util_err(err, errlen, "cannot apply \"%s\": out of memory",
		    set);
		return -1;
	}
	return 0;
}

/* "unknown fixture" with the list of known ones, so the user can fix it. */
static void
fixture_unknown(const char *name, char *err, size_t errlen)
{
	char known[512];
	size_t i, off = 0;
	int n;

	known[0] = '\0';
	for (i = 0; fixture_names[i] != NULL; i++) {
		n = snprintf(known + off, sizeof(known) - off, "%s%s",
		    i > 0 ? ", " : "", fixture_names[i]);
		if (n < 0 || (size_t)n >= sizeof(known) - off)
			break;
		off += (size_t)n;
	}
	util_err(err, errlen, "unknown fixture \"%s\" (known: %s)",
	    name != NULL ? name : "(null)", known);
}

static const struct fixture *
fixture_find(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < FIXTURE_COUNT; i++)
		if (strcmp(fixture_table[i].name, name) == 0)
			return &fixture_table[i];
	return NULL;
}

/* The key length fixture_set() takes, and a value json_string() takes. */
static int
fixture_settable(const char *set)
{
	json_t *v;

	if ((size_t)(strchr(set, '=') - set) >= FIXTURE_KEY_MAX)
		return 0;
	if ((v = json_string(strchr(set, '=') + 1)) == NULL)
		return 0;
	json_decref(v);
	return 1;
}

int
fixture_check(const char *name, const char *const *sets, size_t nsets,
    char *err, size_t errlen)
{
	size_t i;

	if (fixture_find(name) == NULL) {
		fixture_unknown(name, err, errlen);
		return -1;
	}
	/* Every override before any: a typo must not half-apply. */
	for (i = 0; i < nsets; i++) {
		if (sets[i] == NULL || strchr(sets[i], '=') == NULL ||
		    sets[i][0] == '=') {
			util_err(err, errlen, "bad override \"%s\" "
			    "(want key=value)",
			    sets[i] != NULL ? sets[i] : "(null)");
			return -1;
		}
		if (!fixture_settable(sets[i])) {
			util_err(err, errlen, "cannot apply \"%s\" (field "
			    "name too long, or not valid UTF-8)", sets[i]);
			return -1;
		}
	}
	return 0;
}

/*
 * See fixture.h.  The caller owns the result and frees it with free()
 * (Jansson allocates with malloc; nothing here changes its allocator).
 */
char *
fixture_build(const char *name, const char *const *sets, size_t nsets,
    char *err, size_t errlen)
{
	const struct fixture *fx;
	json_error_t jerr;
	json_t *root = NULL;
	char *out = NULL;
	size_t i;

	if (fixture_check(name, sets, nsets, err, errlen) == -1)
		return NULL;
	fx = fixture_find(name);
	root = json_loads(fx->json, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		util_err(err, errlen, "fixture %s: %s", fx->name, jerr.text);
		goto fail;
	}
	if (fixture_fresh_ids(root, fx->kind) != 0) {
		util_err(err, errlen, "cannot make fresh ids");
		goto fail;
	}
	for (i = 0; i < nsets; i++)
		if (fixture_apply(root, fx->kind, sets[i], err, errlen) == -1)
			goto fail;
	out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (out == NULL)
		util_err(err, errlen, "out of memory");
fail:
	json_decref(root);
	return out;
}
