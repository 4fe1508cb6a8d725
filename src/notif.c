/*
 * notif.c - an authentic notification body (JSON) turned into a struct notif.
 *
 * Owns the mapping from Antom's JSON (SPEC.md sections 4 and 5) to the
 * record the store applies, and every rule about which values can be
 * trusted: id syntax, amounts as 64-bit integers in minor units (never
 * floating point), the ISO 4217 table, and which text fields are kept.
 * Anything we cannot apply exactly becomes NOTIF_OTHER with a reason, so
 * the store archives the raw body instead of half-applying it.
 *
 * Thread-safety: no shared mutable state; each call works on its own
 * document.  Jansson seeds its hash function on first use with atomic
 * operations (2.14), so concurrent first calls are safe too.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "notif.h"

/*
 * Jansson flags.  Duplicate keys are rejected because two "notifyType" (or
 * two "value") keys make the body mean whatever the parser picks, and the
 * signature only vouches for the bytes.  Integers are decoded as reals so
 * that a large number in a field we ignore ("quotePrice") cannot fail the
 * whole parse with "too big integer"; we never read numbers anyway.
 * JSON_ALLOW_NUL stays off: a \u0000 in any string makes the body not_json,
 * so every string we hand out is a proper C string.
 */
#define NOTIF_JSON_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL)

#define NOTIF_VALUE_DIGITS_MAX 19	/* INT64_MAX has 19 digits */

/*
 * Active ISO 4217 alphabetic codes (list one), sorted for bsearch().
 * Built from Debian iso-codes 4.15 plus later amendments: XCG (replaces
 * ANG), ZWG (replaces ZWL), XAD; HRK, BGN (euro), SLL (SLE), CUC withdrawn.
 * Funds and X codes are kept because they are on list one.  An amount in a
 * code missing here is archived, not lost, so update this when SIX
 * publishes an amendment.
 */
static const char notif_iso4217[][4] = {
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

/*
 * Kinds without a notifyType carry one of these instead (SPEC.md section 4),
 * tried in this order.  They only ever name the notification: none of them
 * is applied, so a dispute cannot pose as a payment by saying
 * "disputeNotificationType": "PAYMENT_RESULT".
 */
static const char *const notif_alt_discriminators[] = {
	"disputeNotificationType",
	"authorizationNotifyType",
	"subscriptionNotificationType",
};

static int
notif_ccy_cmp(const void *key, const void *elem)
{
	return memcmp(key, elem, 3);
}

/*
 * The string value of obj[key] and its length, or NULL when the member is
 * missing or not a string.  Jansson guarantees valid UTF-8 without NUL.
 */
static const char *
notif_get_str(const json_t *obj, const char *key, size_t *len)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_string(v))
		return NULL;
	*len = json_string_length(v);
	return json_string_value(v);
}

/*
 * Missing and JSON null are the same thing to us: Antom's SDKs serialise
 * unset fields either way.
 */
static int
notif_absent(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return v == NULL || json_is_null(v);
}

/*
 * Ids end up in SQL keys, log lines and URLs, so they are held to printable
 * ASCII without blanks: nothing to escape, nothing that renders differently
 * from what is stored.
 */
static int
notif_is_token(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > NOTIF_ID_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/*
 * An optional text field: kept only if short and free of C0 controls and
 * DEL (no CR/LF or escape sequences reaching a log or a terminal).  Anything
 * else is dropped silently; the raw body is archived regardless.
 */
static const char *
notif_text(const json_t *obj, const char *key)
{
	const char *s;
	size_t len, i;

	if (obj == NULL || (s = notif_get_str(obj, key, &len)) == NULL)
		return NULL;
	if (len > NOTIF_TEXT_MAX)
		return NULL;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			return NULL;
	return s;
}

/*
 * An id member: 0 with *out set (or left NULL when absent), -1 when it is
 * present but not a valid id.
 */
static int
notif_id(const json_t *root, const char *key, const char **out)
{
	const char *s;
	size_t len;

	if (notif_absent(root, key))
		return 0;
	if ((s = notif_get_str(root, key, &len)) == NULL || !notif_is_token(s, len))
		return -1;
	*out = s;
	return 0;
}

/*
 * Decimal digits to int64 without floating point and without strtoll(),
 * which would accept blanks, a sign and "0x".  Leading zeros are fine.
 */
static int
notif_parse_minor(const char *s, size_t len, int64_t *out)
{
	int64_t v = 0;
	size_t i;

	if (len == 0 || len > NOTIF_VALUE_DIGITS_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		int d = (unsigned char)s[i] - '0';

		if (d < 0 || d > 9)
			return -1;
		if (v > (INT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/*
 * obj[key] as an amount.  NULL on success (amount->present false when the
 * member is absent), else the archive reason.
 */
static const char *
notif_amount(const json_t *obj, const char *key, struct notif_amount *amount)
{
	const json_t *a;
	const char *s;
	size_t len, i;

	if (notif_absent(obj, key))
		return NULL;
	a = json_object_get(obj, key);
	if (!json_is_object(a))
		return "bad_amount";
	if ((s = notif_get_str(a, "value", &len)) == NULL ||
	    notif_parse_minor(s, len, &amount->value) == -1)
		return "bad_amount";

	if ((s = notif_get_str(a, "currency", &len)) == NULL || len != 3)
		return "bad_currency";
	for (i = 0; i < 3; i++)
		if (s[i] < 'A' || s[i] > 'Z')
			return "bad_currency";
	if (bsearch(s, notif_iso4217, sizeof(notif_iso4217) / sizeof(notif_iso4217[0]),
	    sizeof(notif_iso4217[0]), notif_ccy_cmp) == NULL)
		return "bad_currency";
	memcpy(amount->currency, s, 4);
	amount->present = true;
	return NULL;
}

/*
 * The discriminator, or NULL.  *is_notify_type tells whether it came from
 * "notifyType", the only one whose values we apply.
 */
static const char *
notif_discriminator(const json_t *root, bool *is_notify_type)
{
	const char *s;
	size_t len, i;

	*is_notify_type = true;
	if ((s = notif_get_str(root, "notifyType", &len)) != NULL &&
	    notif_is_token(s, len))
		return s;
	*is_notify_type = false;
	for (i = 0; i < sizeof(notif_alt_discriminators) /
	    sizeof(notif_alt_discriminators[0]); i++) {
		s = notif_get_str(root, notif_alt_discriminators[i], &len);
		if (s != NULL && notif_is_token(s, len))
			return s;
	}
	return NULL;
}

/*
 * Everything after the discriminator: NULL when *n is a complete PAYMENT or
 * CAPTURE record, else the archive reason.  Checks run in a fixed order
 * (result, status, ids, required id, amount) so a body with several faults
 * always gets the same reason.
 */
static const char *
notif_fill(const json_t *root, enum notif_kind kind, bool pending,
    struct notif *n)
{
	const json_t *result, *info, *tds;
	const char *st, *reason;
	size_t len;

	result = json_object_get(root, "result");
	if (!json_is_object(result) ||
	    (st = notif_get_str(result, "resultStatus", &len)) == NULL)
		return "bad_result";
	if (strcmp(st, "S") == 0)
		n->status = pending ? NOTIF_ST_PENDING : NOTIF_ST_SUCCESS;
	else if (strcmp(st, "F") == 0 && !pending)
		n->status = NOTIF_ST_FAIL;
	else
		return "unknown_result_status";
	n->result_status = st;
	n->result_code = notif_text(result, "resultCode");
	n->result_message = notif_text(result, "resultMessage");

	if (notif_id(root, "paymentRequestId", &n->payment_request_id) == -1 ||
	    notif_id(root, "paymentId", &n->payment_id) == -1 ||
	    notif_id(root, "captureRequestId", &n->capture_request_id) == -1 ||
	    notif_id(root, "captureId", &n->capture_id) == -1)
		return "bad_id";

	if (kind == NOTIF_PAYMENT) {
		if (n->payment_request_id == NULL)
			return "missing_id";
		if ((reason = notif_amount(root, "paymentAmount", &n->amount)) != NULL)
			return reason;
		n->payment_create_time = notif_text(root, "paymentCreateTime");
		n->payment_time = notif_text(root, "paymentTime");

		/* A non-object here just means no card details. */
		info = json_object_get(root, "paymentResultInfo");
		if (!json_is_object(info))
			return NULL;
		n->avs_result_raw = notif_text(info, "avsResultRaw");
		n->cvv_result_raw = notif_text(info, "cvvResultRaw");
		n->network_transaction_id = notif_text(info, "networkTransactionId");
		n->card_brand = notif_text(info, "cardBrand");
		n->last_four = notif_text(info, "lastFour");
		n->issuing_country = notif_text(info, "issuingCountry");
		n->refusal_code_raw = notif_text(info, "refusalCodeRaw");
		n->refusal_reason_raw = notif_text(info, "refusalReasonRaw");

		tds = json_object_get(info, "threeDSResult");
		if (!json_is_object(tds))
			return NULL;
		n->three_ds_eci = notif_text(tds, "eci");
		n->three_ds_version = notif_text(tds, "threeDSVersion");
		/* The API reference spells it "caav"; real traffic may say "cavv". */
		if ((n->three_ds_cavv = notif_text(tds, "cavv")) == NULL)
			n->three_ds_cavv = notif_text(tds, "caav");
		n->three_ds_ds_transaction_id = notif_text(tds, "dsTransactionId");
	} else {
		if (n->capture_request_id == NULL)
			return "missing_id";
		if ((reason = notif_amount(root, "captureAmount", &n->amount)) != NULL)
			return reason;
		n->capture_time = notif_text(root, "captureTime");
		n->acquirer_reference_no = notif_text(root, "acquirerReferenceNo");
	}
	return NULL;
}

/*
 * Leave only what is true of any archived body: the document, the
 * discriminator and the reason.  Nothing half-parsed survives to tempt a
 * caller into applying it.
 */
static void
notif_make_other(struct notif *n, const char *reason)
{
	void *doc = n->doc;
	const char *type = n->notify_type;

	memset(n, 0, sizeof(*n));
	n->kind = NOTIF_OTHER;
	n->doc = doc;
	n->notify_type = type;
	n->archive_reason = reason;
}

/*
 * Whether a failed json_loadb() ran out of memory.  Jansson 2.14's loader
 * never sets json_error_out_of_memory: when json_object(), json_array() or
 * a member insert fails it returns NULL with the text left empty, which no
 * syntax error does.  Never search the text for "memory": it ends with
 * "near '<input>'", and a body saying {memory would pass for an
 * allocation failure and be refused for ever (found by fuzz_notif).
 */
static bool
notif_load_oom(const json_error_t *err)
{
	return err->text[0] == '\0' ||
	    json_error_code(err) == json_error_out_of_memory;
}

/*
 * Parse the body; NULL with *oom set when that was for lack of memory (the
 * caller answers 503 and Antom retries), NULL alone when it is not JSON.
 *
 * A failed allocation while lexing a string or key does not look like one:
 * Jansson reports it as a syntax error ("invalid token", "string or '}'
 * expected").  A real syntax error repeats byte for byte, so on a syntax
 * error parse once more: success or a different error means memory was
 * short.  Costless in practice: an authentic body that is not JSON does
 * not happen.  Memory that stays short for exactly the same allocation can
 * still come out as not_json; the body is then archived, not lost.
 *
 * Worse cannot be helped from here: Jansson 2.14 ignores a failed append to
 * its token buffer (akheron/jansson#362), so a transient allocation failure
 * in the middle of a string or number can overrun the heap or trip an
 * assert().  With Linux overcommit small mallocs hardly ever fail, but do
 * not run the daemon under a tight RLIMIT_AS.
 */
static json_t *
notif_load(const char *buf, size_t len, bool *oom)
{
	json_error_t first, again;
	json_t *root;

	*oom = false;
	memset(&first, 0, sizeof(first));
	if ((root = json_loadb(buf, len, NOTIF_JSON_FLAGS, &first)) != NULL)
		return root;
	if (notif_load_oom(&first)) {
		*oom = true;
		return NULL;
	}
	memset(&again, 0, sizeof(again));
	if ((root = json_loadb(buf, len, NOTIF_JSON_FLAGS, &again)) != NULL)
		return root;
	if (notif_load_oom(&again) || first.position != again.position ||
	    strcmp(first.text, again.text) != 0)
		*oom = true;
	return NULL;
}

int
notif_parse(const unsigned char *body, size_t len, struct notif *n)
{
	json_t *root;
	enum notif_kind kind;
	const char *reason;
	bool is_notify_type, pending = false, oom;

	memset(n, 0, sizeof(*n));
	/* json_loadb() refuses a NULL buffer even when len is 0. */
	root = notif_load(body != NULL ? (const char *)body : "", len, &oom);
	if (root == NULL) {
		if (oom)
			goto fail;
		notif_make_other(n, "not_json");
		return 0;
	}
	n->doc = root;
	if (!json_is_object(root)) {
		notif_make_other(n, "not_json");
		return 0;
	}

	if ((n->notify_type = notif_discriminator(root, &is_notify_type)) == NULL) {
		notif_make_other(n, "unknown_type");
		return 0;
	}
	if (is_notify_type && strcmp(n->notify_type, "PAYMENT_RESULT") == 0)
		kind = NOTIF_PAYMENT;
	else if (is_notify_type && strcmp(n->notify_type, "PAYMENT_PENDING") == 0) {
		kind = NOTIF_PAYMENT;
		pending = true;
	} else if (is_notify_type && strcmp(n->notify_type, "CAPTURE_RESULT") == 0)
		kind = NOTIF_CAPTURE;
	else {
		notif_make_other(n, "unsupported_type");
		return 0;
	}

	if ((reason = notif_fill(root, kind, pending, n)) != NULL) {
		notif_make_other(n, reason);
		return 0;
	}
	n->kind = kind;
	return 0;

fail:
	memset(n, 0, sizeof(*n));
	return -1;
}

void
notif_free(struct notif *n)
{
	if (n == NULL)
		return;
	json_decref((json_t *)n->doc);
	memset(n, 0, sizeof(*n));
}

const char *
notif_kind_str(enum notif_kind kind)
{
	switch (kind) {
	case NOTIF_PAYMENT:
		return "payment";
	case NOTIF_CAPTURE:
		return "capture";
	case NOTIF_OTHER:
	default:
		return "other";
	}
}

const char *
notif_status_str(enum notif_status st)
{
	switch (st) {
	case NOTIF_ST_PENDING:
		return "PENDING";
	case NOTIF_ST_SUCCESS:
		return "SUCCESS";
	case NOTIF_ST_FAIL:
		return "FAIL";
	case NOTIF_ST_NONE:
	default:
		return NULL;
	}
}
