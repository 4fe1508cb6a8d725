/*
 * fixture.c - built-in notification bodies for antomctl and the tests.
 *
 * Owns the sample bodies (docs/protocol.md section 5, plus the card fields
 * of section 4.3 a receiver should keep) and the "key=value" override
 * language.  A body is parsed from its template, given fresh ids,
 * overridden, then serialised compactly in template order, so it looks like
 * what Antom sends and two calls never collide on an idempotency key.
 *
 * Thread-safety: no mutable shared state; callable from any thread.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static const struct fixture fixture_table[] = {
	{ "payment-success", FIXTURE_PAYMENT,
	    "{\"notifyType\":\"PAYMENT_RESULT\",\"result\":{\"resultCode\":"
	    "\"SUCCESS\",\"resultStatus\":\"S\",\"resultMessage\":\"success\"},"
	    "\"paymentRequestId\":\"\",\"paymentId\":\"\",\"paymentAmount\":"
	    "{\"value\":\"4200\",\"currency\":\"SGD\"},\"paymentCreateTime\":"
	    "\"2020-01-01T12:01:00+08:30\",\"paymentTime\":"
	    "\"2020-01-01T12:01:01+08:30\",\"paymentResultInfo\":"
	    "{\"avsResultRaw\":\"A\",\"cvvResultRaw\":\"Y\","
	    "\"networkTransactionId\":\"sampleNetworkTransactionId123456\","
	    "\"threeDSResult\":{\"eci\":\"02\",\"threeDSVersion\":\"2.2.0\","
	    "\"caav\":\"cavvSample\",\"dsTransactionId\":"
	    "\"sample_dsTranasctionId\"},\"cardBrand\":\"VISA\",\"lastFour\":"
	    "\"4242\",\"issuingCountry\":\"SG\"}}" },
	{ "payment-pending", FIXTURE_PAYMENT,
	    "{\"notifyType\":\"PAYMENT_PENDING\",\"result\":{\"resultCode\":"
	    "\"PAYMENT_IN_PROCESS\",\"resultStatus\":\"S\",\"resultMessage\":"
	    "\"payment in process\"},\"paymentRequestId\":\"\",\"paymentId\":"
	    "\"\",\"paymentAmount\":{\"value\":\"4200\",\"currency\":\"SGD\"},"
	    "\"paymentCreateTime\":\"2020-01-01T12:01:00+08:30\"}" },
	/*
	 * A card declined by the issuer.  ISSUER_REJECTS_TRANSACTION is one of
	 * Antom's card result codes; no paymentTime, as Antom sends it only
	 * for a success.
	 */
	{ "payment-fail", FIXTURE_PAYMENT,
	    "{\"notifyType\":\"PAYMENT_RESULT\",\"result\":{\"resultCode\":"
	    "\"ISSUER_REJECTS_TRANSACTION\",\"resultStatus\":\"F\","
	    "\"resultMessage\":\"The issuer rejects the transaction.\"},"
	    "\"paymentRequestId\":\"\",\"paymentId\":\"\",\"paymentAmount\":"
	    "{\"value\":\"4200\",\"currency\":\"SGD\"},\"paymentCreateTime\":"
	    "\"2020-01-01T12:01:00+08:30\",\"paymentResultInfo\":"
	    "{\"avsResultRaw\":\"A\",\"cvvResultRaw\":\"Y\",\"cardBrand\":"
	    "\"VISA\",\"lastFour\":\"4242\",\"issuingCountry\":\"SG\","
	    "\"refusalCodeRaw\":\"05\",\"refusalReasonRaw\":"
	    "\"Do not honor\"}}" },
	{ "capture-success", FIXTURE_CAPTURE,
	    "{\"captureAmount\":{\"currency\":\"SGD\",\"value\":\"4200\"},"
	    "\"notifyType\":\"CAPTURE_RESULT\",\"captureId\":\"\","
	    "\"captureRequestId\":\"\",\"captureTime\":"
	    "\"2022-11-10T00:34:52-08:00\",\"paymentId\":\"\","
	    "\"acquirerReferenceNo\":\"sampleAcquirerReferenceNo01\","
	    "\"result\":{\"resultCode\":\"SUCCESS\",\"resultMessage\":"
	    "\"success\",\"resultStatus\":\"S\"}}" },
	{ "capture-fail", FIXTURE_CAPTURE,
	    "{\"captureAmount\":{\"currency\":\"SGD\",\"value\":\"4200\"},"
	    "\"notifyType\":\"CAPTURE_RESULT\",\"captureId\":\"\","
	    "\"captureRequestId\":\"\",\"captureTime\":"
	    "\"2022-11-10T00:34:52-08:00\",\"paymentId\":\"\",\"result\":"
	    "{\"resultCode\":\"PROCESS_FAIL\",\"resultMessage\":\"fail.\","
	    "\"resultStatus\":\"F\"}}" },
	/*
	 * notifyRefund (docs/protocol.md section 4.5): refundStatus is the
	 * outcome, and result agrees with it.  Antom's notifyRefund carries no
	 * paymentId; this one has it so antomctl simulate can set it.
	 */
	{ "refund-success", FIXTURE_REFUND,
	    "{\"notifyType\":\"REFUND_RESULT\",\"result\":{\"resultCode\":"
	    "\"SUCCESS\",\"resultStatus\":\"S\",\"resultMessage\":\"success\"},"
	    "\"refundRequestId\":\"\",\"refundId\":\"\",\"paymentId\":\"\","
	    "\"refundAmount\":{\"value\":\"4200\",\"currency\":\"SGD\"},"
	    "\"refundTime\":\"2022-11-11T10:00:00+08:00\",\"refundStatus\":"
	    "\"SUCCESS\"}" },
	{ "refund-fail", FIXTURE_REFUND,
	    "{\"notifyType\":\"REFUND_RESULT\",\"result\":{\"resultCode\":"
	    "\"REFUND_FAILED\",\"resultStatus\":\"F\",\"resultMessage\":"
	    "\"refund failed\"},\"refundRequestId\":\"\",\"refundId\":\"\","
	    "\"paymentId\":\"\",\"refundAmount\":{\"value\":\"4200\","
	    "\"currency\":\"SGD\"},\"refundStatus\":\"FAIL\"}" },
	/*
	 * The documented notifyDispute carries no notifyType: it is told apart
	 * by disputeNotificationType (docs/protocol.md section 4.6).
	 */
	{ "dispute-created", FIXTURE_DISPUTE,
	    "{\"disputeNotificationType\":\"DISPUTE_CREATED\",\"disputeId\":"
	    "\"\",\"paymentId\":\"\",\"paymentRequestId\":\"\","
	    "\"disputeAmount\":{\"value\":\"4200\",\"currency\":\"SGD\"},"
	    "\"disputeTime\":\"2022-11-12T10:00:00+08:00\",\"disputeType\":"
	    "\"CHARGEBACK\",\"disputeReasonCode\":\"4853\",\"disputeReasonMsg\":"
	    "\"Cardholder dispute\",\"disputeSource\":\"Mastercard\","
	    "\"defenseDueTime\":\"2022-11-19T10:00:00+08:00\",\"defendable\":"
	    "true}" },
	{ "dispute-defense-supplied", FIXTURE_DISPUTE,
	    "{\"disputeNotificationType\":\"DEFENSE_SUPPLIED\",\"disputeId\":"
	    "\"\",\"paymentId\":\"\",\"paymentRequestId\":\"\"}" },
	/* Judged for the merchant: Antom releases the frozen funds. */
	{ "dispute-judged", FIXTURE_DISPUTE,
	    "{\"disputeNotificationType\":\"DISPUTE_JUDGED\",\"disputeId\":"
	    "\"\",\"paymentId\":\"\",\"paymentRequestId\":\"\","
	    "\"disputeJudgedResult\":\"ACCEPT_BY_CUSTOMER\","
	    "\"disputeJudgedTime\":\"2022-12-01T10:00:00+08:00\","
	    "\"disputeJudgedAmount\":{\"value\":\"0\",\"currency\":\"SGD\"}}" },
	{ "dispute-cancelled", FIXTURE_DISPUTE,
	    "{\"disputeNotificationType\":\"DISPUTE_CANCELLED\",\"disputeId\":"
	    "\"\",\"paymentId\":\"\",\"paymentRequestId\":\"\"}" },
	/*
	 * notifyVaulting has no discriminator at all: its vaultingRequestId
	 * names it.  The card number is masked, as Antom sends it.
	 */
	{ "vaulting-success", FIXTURE_VAULTING,
	    "{\"result\":{\"resultCode\":\"SUCCESS\",\"resultStatus\":\"S\","
	    "\"resultMessage\":\"success\"},\"vaultingRequestId\":\"\","
	    "\"vaultingStatus\":\"SUCCESS\",\"vaultingCreateTime\":"
	    "\"2022-11-09T10:00:00+08:00\",\"paymentMethodDetail\":"
	    "{\"paymentMethodType\":\"CARD\",\"card\":{\"cardToken\":"
	    "\"ALIPAYsampleCardToken01\",\"cardBrand\":\"VISA\",\"cardNo\":"
	    "\"************4242\",\"issuingCountry\":\"SG\"}}}" },
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

/*
 * An Antom-style id: 20 decimal digits, like "2020010123456789XXXX" but
 * random.  64 random bits zero-padded to 20 digits are uniform and enough
 * to never collide in a test run.
 */
static int
fixture_antom_id(json_t *root, const char *key)
{
	unsigned char rnd[8];
	char id[32];
	uint64_t v = 0;
	size_t i;

	if (util_random(rnd, sizeof(rnd)) == -1)
		return -1;
	for (i = 0; i < sizeof(rnd); i++)
		v = v << 8 | rnd[i];
	snprintf(id, sizeof(id), "%020" PRIu64, v);
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
		return fixture_request_id(root, "refundRequestId", "RR-") |
		    fixture_antom_id(root, "refundId") |
		    fixture_antom_id(root, "paymentId");
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
		obj = fixture_child(root, fixture_amount_key(kind));
		if (klen == 6) {
			key = "value";
			klen = 5;
		}
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
