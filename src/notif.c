/*
 * notif.c - an authentic notification body (JSON) turned into a struct notif.
 *
 * Owns the mapping from Antom's JSON (docs/protocol.md sections 4 and 6) to the
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
#include <stddef.h>
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
 * Kinds we keep verbatim carry one of these instead of notifyType
 * (docs/protocol.md sections 4.2 and 4.8), tried in this order.  They only
 * ever name the notification: each kind is routed by its own key, so a
 * dispute cannot pose as a payment by saying "disputeNotificationType":
 * "PAYMENT_RESULT".
 */
static const char *const notif_alt_discriminators[] = {
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
 * Optional text fields read alike: the member's key and the offset of the
 * struct notif string it fills.
 */
struct notif_field {
	const char	*key;
	size_t		 off;
};
#define NOTIF_FIELD(key, member)	{ key, offsetof(struct notif, member) }
#define NOTIF_NFIELDS(t)		(sizeof(t) / sizeof((t)[0]))

/* notif_text() of each field of the table that obj carries. */
static void
notif_texts(const json_t *obj, struct notif *n, const struct notif_field *f,
    size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		*(const char **)(void *)((char *)n + f[i].off) =
		    notif_text(obj, f[i].key);
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

/* obj[key] when it is a string fit to be a discriminator, else NULL. */
static const char *
notif_token(const json_t *obj, const char *key)
{
	const char *s;
	size_t len;

	if ((s = notif_get_str(obj, key, &len)) != NULL && notif_is_token(s, len))
		return s;
	return NULL;
}

/*
 * Route on the discriminators of docs/protocol.md section 4.2: the kind, with
 * n->notify_type set to the discriminator's value, or NOTIF_OTHER with
 * *reason.  In this order:
 *
 * 1. disputeNotificationType makes a dispute whatever notifyType says: the
 *    SDKs' dispute model inherits a notifyType, so one may come along, and
 *    notify_type then holds the stage.
 * 2. A notifyType naming a kind we apply (payment, capture, refund) routes
 *    to it, even when the body also carries a vaultingRequestId.  No payment
 *    model of the five SDKs nor the notifyPayment reference carries
 *    vaultingRequestId, but should one ever come (a payment that also saves
 *    the card), routing it as a vaulting would record a payment's state
 *    change as something else; the reverse mistake, a vaulting sent with a
 *    payment's notifyType, only archives it (missing_id), kept verbatim.
 * 3. authorizationNotifyType and subscriptionNotificationType: kinds we keep
 *    verbatim; they outrank vaultingRequestId.
 * 4. vaultingRequestId makes a vaulting (notifyVaulting has no
 *    discriminator; section 4.7), keeping whatever other notifyType the
 *    inherited field carried, or NULL.
 * 5. Any other notifyType: unsupported.
 */
static enum notif_kind
notif_route(const json_t *root, struct notif *n, bool *pending,
    const char **reason)
{
	const char *nt, *dt, *alt = NULL;
	size_t i;

	*pending = false;
	nt = notif_token(root, "notifyType");
	dt = notif_token(root, "disputeNotificationType");
	if (dt != NULL) {
		n->notify_type = dt;
		if ((n->dispute_rank = notif_dispute_rank(dt)) > 0)
			return NOTIF_DISPUTE;
		*reason = "unsupported_type";
		return NOTIF_OTHER;
	}
	n->notify_type = nt;
	if (nt != NULL) {
		if (strcmp(nt, "PAYMENT_RESULT") == 0)
			return NOTIF_PAYMENT;
		if (strcmp(nt, "PAYMENT_PENDING") == 0) {
			*pending = true;
			return NOTIF_PAYMENT;
		}
		if (strcmp(nt, "CAPTURE_RESULT") == 0)
			return NOTIF_CAPTURE;
		if (strcmp(nt, "REFUND_RESULT") == 0)
			return NOTIF_REFUND;
	}
	for (i = 0; alt == NULL && i < sizeof(notif_alt_discriminators) /
	    sizeof(notif_alt_discriminators[0]); i++)
		alt = notif_token(root, notif_alt_discriminators[i]);
	if (alt != NULL) {
		if (nt == NULL)
			n->notify_type = alt;
		*reason = "unsupported_type";
		return NOTIF_OTHER;
	}
	if (json_object_get(root, "vaultingRequestId") != NULL)
		return NOTIF_VAULTING;
	*reason = nt != NULL ? "unsupported_type" : "unknown_type";
	return NOTIF_OTHER;
}

/*
 * result.resultStatus as a status (docs/protocol.md sections 4.1 and 4.9):
 * S is SUCCESS (PENDING for a PAYMENT_PENDING: the buyer paid, the result
 * follows), F is FAIL whatever the notifyType, U is PENDING (not final;
 * Antom removed it from notifyPayment, but should it come it must not be
 * lost nor taken for an outcome).  Anything else, or none, is the archive
 * reason.  A refund's and a vaulting's own status refine this later.
 */
static const char *
notif_result(const json_t *root, bool pending, struct notif *n)
{
	const json_t *result;
	const char *st;
	size_t len;

	result = json_object_get(root, "result");
	if (!json_is_object(result) ||
	    (st = notif_get_str(result, "resultStatus", &len)) == NULL)
		return "bad_result";
	if (strcmp(st, "S") == 0)
		n->status = pending ? NOTIF_ST_PENDING : NOTIF_ST_SUCCESS;
	else if (strcmp(st, "F") == 0)
		n->status = NOTIF_ST_FAIL;
	else if (strcmp(st, "U") == 0)
		n->status = NOTIF_ST_PENDING;
	else
		return "unknown_result_status";
	n->result_status = st;
	n->result_code = notif_text(result, "resultCode");
	/* The notifyVaulting sample spells it resultMsg (section 4.1). */
	if ((n->result_message = notif_text(result, "resultMessage")) == NULL)
		n->result_message = notif_text(result, "resultMsg");
	return NULL;
}

/*
 * An optional amount (actualPaymentAmount, actualRefundAmount): kept only
 * when it is exactly right, else left absent, unlike the kind's own amount,
 * which archives the body.  A secondary figure Antom adds to a state
 * change (one in a currency newer than our table, say) must not cost the
 * merchant that state change; and absent, never approximated, it cannot
 * show a wrong amount.  The raw body keeps it (docs/protocol.md section 6).
 */
static void
notif_optional_amount(const json_t *obj, const char *key,
    struct notif_amount *out)
{
	struct notif_amount a;

	memset(&a, 0, sizeof(a));
	if (notif_amount(obj, key, &a) == NULL && a.present)
		*out = a;
}

/* acquirerInfo's fields into n->acquirer, when obj[key] is an object. */
static bool
notif_acquirer(const json_t *obj, const char *key, struct notif *n)
{
	static const struct notif_field fields[] = {
		NOTIF_FIELD("acquirerName", acquirer.name),
		NOTIF_FIELD("acquirerTransactionId", acquirer.transaction_id),
		NOTIF_FIELD("acquirerResultCode", acquirer.result_code),
		NOTIF_FIELD("acquirerResultMessage", acquirer.result_message),
	};
	const json_t *ai = json_object_get(obj, key);

	if (!json_is_object(ai))
		return false;
	notif_texts(ai, n, fields, NOTIF_NFIELDS(fields));
	return true;
}

/*
 * A card number from obj[key], only when it is masked: a full card number
 * is never kept, whatever field it arrives in.
 */
static const char *
notif_masked(const json_t *obj, const char *key)
{
	const char *no = notif_text(obj, key);

	if (no != NULL && strchr(no, '*') != NULL && strlen(no) <= 32)
		return no;
	return NULL;
}

/*
 * The ids a kind is keyed or linked by; a malformed one is bad_id.  The
 * payment and capture ids link every kind to its payment; the others are
 * only read where they are the kind's own, so a stray "refundId" in a
 * payment cannot get it archived.
 */
static const char *
notif_ids(const json_t *root, enum notif_kind kind, struct notif *n)
{
	int bad;

	bad = notif_id(root, "paymentRequestId", &n->payment_request_id) ||
	    notif_id(root, "paymentId", &n->payment_id) ||
	    notif_id(root, "captureRequestId", &n->capture_request_id) ||
	    notif_id(root, "captureId", &n->capture_id);
	if (kind == NOTIF_REFUND)
		bad = bad ||
		    notif_id(root, "refundRequestId", &n->refund_request_id) ||
		    notif_id(root, "refundId", &n->refund_id);
	else if (kind == NOTIF_DISPUTE)
		bad = bad || notif_id(root, "disputeId", &n->dispute_id);
	else if (kind == NOTIF_VAULTING)
		bad = bad || notif_id(root, "vaultingRequestId",
		    &n->vaulting_request_id);
	return bad ? "bad_id" : NULL;
}

static const char *
notif_fill_payment(const json_t *root, struct notif *n)
{
	static const struct notif_field card[] = {
		NOTIF_FIELD("avsResultRaw", avs_result_raw),
		NOTIF_FIELD("cvvResultRaw", cvv_result_raw),
		NOTIF_FIELD("networkTransactionId", network_transaction_id),
		NOTIF_FIELD("cardBrand", card_brand),
		NOTIF_FIELD("lastFour", last_four),
		NOTIF_FIELD("issuingCountry", issuing_country),
		NOTIF_FIELD("refusalCodeRaw", refusal_code_raw),
		NOTIF_FIELD("refusalReasonRaw", refusal_reason_raw),
		NOTIF_FIELD("cardBin", card_bin),
		NOTIF_FIELD("funding", funding),
		NOTIF_FIELD("issuerName", issuer_name),
		NOTIF_FIELD("cardToken", card_token),
		NOTIF_FIELD("merchantAdviceCode", merchant_advice_code),
		NOTIF_FIELD("authorizationCode", authorization_code),
		NOTIF_FIELD("rrn", rrn),
		NOTIF_FIELD("credentialTypeUsed", credential_type_used),
	};
	const json_t *info, *tds;
	const char *reason;

	if (n->payment_request_id == NULL)
		return "missing_id";
	if ((reason = notif_amount(root, "paymentAmount", &n->amount)) != NULL)
		return reason;
	n->payment_create_time = notif_text(root, "paymentCreateTime");
	n->payment_time = notif_text(root, "paymentTime");
	n->payment_method_type = notif_text(root, "paymentMethodType");
	notif_optional_amount(root, "actualPaymentAmount",
	    &n->actual_payment_amount);
	n->auth_expiry_time = notif_text(root, "authExpiryTime");
	n->acquirer_reference_no = notif_text(root, "acquirerReferenceNo");

	/*
	 * A non-object here just means no card details.  acquirerInfo is top
	 * level in the Java and Python models, inside paymentResultInfo in the
	 * Go and Java PaymentResultInfo: the top-level one wins.
	 */
	info = json_object_get(root, "paymentResultInfo");
	if (!json_is_object(info)) {
		notif_acquirer(root, "acquirerInfo", n);
		return NULL;
	}
	if (!notif_acquirer(root, "acquirerInfo", n))
		notif_acquirer(info, "acquirerInfo", n);
	notif_texts(info, n, card, NOTIF_NFIELDS(card));
	n->card_no_masked = notif_masked(info, "cardNo");

	tds = json_object_get(info, "threeDSResult");
	if (!json_is_object(tds))
		return NULL;
	n->three_ds_eci = notif_text(tds, "eci");
	n->three_ds_version = notif_text(tds, "threeDSVersion");
	/* The API reference spells it "caav"; real traffic may say "cavv". */
	if ((n->three_ds_cavv = notif_text(tds, "cavv")) == NULL)
		n->three_ds_cavv = notif_text(tds, "caav");
	n->three_ds_ds_transaction_id = notif_text(tds, "dsTransactionId");
	return NULL;
}

static const char *
notif_fill_capture(const json_t *root, struct notif *n)
{
	const char *reason;

	if (n->capture_request_id == NULL)
		return "missing_id";
	if ((reason = notif_amount(root, "captureAmount", &n->amount)) != NULL)
		return reason;
	n->capture_time = notif_text(root, "captureTime");
	n->acquirer_reference_no = notif_text(root, "acquirerReferenceNo");
	notif_acquirer(root, "acquirerInfo", n);
	return NULL;
}

/*
 * refundStatus is the refund's outcome (docs/protocol.md sections 4.5 and
 * 4.9): result S only says the channel accepted the refund, so S with FAIL
 * is a failed refund, and U (not final) takes the refundStatus too.  F says
 * the refund failed: F with SUCCESS contradicts itself and is archived, not
 * guessed at.  Without refundStatus only F decides (FAIL); S and U leave
 * the refund PENDING: counting money as returned on a body that does not
 * say so would be a wrong sum.  notifyRefund documents only SUCCESS and FAIL (it is sent
 * once the refund is final; PROCESSING belongs to no notifyRefund page nor
 * SDK model), so any other value is archived as unknown_refund_status.
 */
static const char *
notif_fill_refund(const json_t *root, struct notif *n)
{
	const char *st, *reason;
	size_t len;

	if (n->refund_request_id == NULL)
		return "missing_id";
	/* S alone: accepted, the refund's result still to come. */
	if (notif_absent(root, "refundStatus") && n->status == NOTIF_ST_SUCCESS)
		n->status = NOTIF_ST_PENDING;
	if (!notif_absent(root, "refundStatus")) {
		if ((st = notif_get_str(root, "refundStatus", &len)) == NULL)
			return "unknown_refund_status";
		if (strcmp(st, "SUCCESS") == 0) {
			if (n->status == NOTIF_ST_FAIL)
				return "inconsistent_status";
			n->status = NOTIF_ST_SUCCESS;
		} else if (strcmp(st, "FAIL") == 0)
			n->status = NOTIF_ST_FAIL;
		else
			return "unknown_refund_status";
	}
	if ((reason = notif_amount(root, "refundAmount", &n->amount)) != NULL)
		return reason;
	n->refund_time = notif_text(root, "refundTime");
	notif_optional_amount(root, "actualRefundAmount", &n->actual_refund_amount);
	n->arn = notif_text(root, "arn");
	return NULL;
}

/*
 * A JSON boolean, or the string form the API's "every field is a string"
 * rule produces; anything else is as good as absent.
 */
static const char *
notif_bool(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	const char *s;

	if (json_is_true(v))
		return "true";
	if (json_is_false(v))
		return "false";
	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	if (strcmp(s, "true") == 0)
		return "true";
	if (strcmp(s, "false") == 0)
		return "false";
	return NULL;
}

/* notifyDispute carries no result object: the stage is the outcome. */
static const char *
notif_fill_dispute(const json_t *root, struct notif *n)
{
	static const struct notif_field fields[] = {
		NOTIF_FIELD("disputeType", dispute_type),
		NOTIF_FIELD("disputeTime", dispute_time),
		NOTIF_FIELD("disputeReasonCode", dispute_reason_code),
		NOTIF_FIELD("disputeReasonMsg", dispute_reason_msg),
		NOTIF_FIELD("disputeSource", dispute_source),
		NOTIF_FIELD("disputeJudgedResult", dispute_judged_result),
		NOTIF_FIELD("disputeJudgedTime", dispute_judged_time),
		NOTIF_FIELD("defenseDueTime", defense_due_time),
		NOTIF_FIELD("arn", arn),
		NOTIF_FIELD("disputeAcceptReason", dispute_accept_reason),
	};
	const char *reason;

	if (n->dispute_id == NULL)
		return "missing_id";
	if ((reason = notif_amount(root, "disputeAmount", &n->amount)) != NULL ||
	    (reason = notif_amount(root, "disputeJudgedAmount",
	    &n->dispute_judged_amount)) != NULL)
		return reason;
	notif_texts(root, n, fields, NOTIF_NFIELDS(fields));
	n->defendable = notif_bool(root, "defendable");
	return NULL;
}

/*
 * notifyVaulting (docs/protocol.md sections 4.7 and 4.9): result S, F or U,
 * and an optional vaultingStatus that is more precise: SUCCESS, FAIL, or
 * PROCESSING, which is not final (PENDING).  F says the vaulting failed,
 * so with F only FAIL is consistent; the others are archived.
 */
static const char *
notif_fill_vaulting(const json_t *root, struct notif *n)
{
	const json_t *pmd, *card;
	const char *st;
	size_t len;

	if (n->vaulting_request_id == NULL)
		return "missing_id";
	if (!notif_absent(root, "vaultingStatus")) {
		if ((st = notif_get_str(root, "vaultingStatus", &len)) == NULL)
			return "unknown_vaulting_status";
		if (strcmp(st, "FAIL") == 0)
			n->status = NOTIF_ST_FAIL;
		else if (strcmp(st, "PROCESSING") == 0 ||
		    strcmp(st, "SUCCESS") == 0) {
			if (n->status == NOTIF_ST_FAIL)
				return "inconsistent_status";
			n->status = st[0] == 'P' ? NOTIF_ST_PENDING :
			    NOTIF_ST_SUCCESS;
		} else
			return "unknown_vaulting_status";
	}
	n->vaulting_create_time = notif_text(root, "vaultingCreateTime");
	pmd = json_object_get(root, "paymentMethodDetail");
	card = json_is_object(pmd) ? json_object_get(pmd, "card") : NULL;
	if (!json_is_object(card))
		return NULL;
	n->card_token = notif_text(card, "cardToken");
	if ((n->card_brand = notif_text(card, "cardBrand")) == NULL)
		n->card_brand = notif_text(card, "brand");
	n->issuing_country = notif_text(card, "issuingCountry");
	/* Never a full card number: only a value with its digits masked. */
	if ((n->card_no_masked = notif_masked(card, "cardNo")) == NULL)
		n->card_no_masked = notif_masked(card, "maskedCardNo");
	n->network_transaction_id = notif_text(card, "networkTransactionId");
	n->expiry_month = notif_text(card, "expiryMonth");
	n->expiry_year = notif_text(card, "expiryYear");
	/* CardPaymentMethodDetail says "bin"; payments say "cardBin". */
	if ((n->card_bin = notif_text(card, "bin")) == NULL)
		n->card_bin = notif_text(card, "cardBin");
	return NULL;
}

/*
 * Everything after the discriminator: NULL when *n is a complete record of
 * its kind, else the archive reason.  Checks run in a fixed order (result,
 * status, ids, required id, amount) so a body with several faults always
 * gets the same reason.
 */
static const char *
notif_fill(const json_t *root, enum notif_kind kind, bool pending,
    struct notif *n)
{
	const char *reason;

	if (kind != NOTIF_DISPUTE &&
	    (reason = notif_result(root, pending, n)) != NULL)
		return reason;
	if ((reason = notif_ids(root, kind, n)) != NULL)
		return reason;
	switch (kind) {
	case NOTIF_PAYMENT:
		return notif_fill_payment(root, n);
	case NOTIF_CAPTURE:
		return notif_fill_capture(root, n);
	case NOTIF_REFUND:
		return notif_fill_refund(root, n);
	case NOTIF_DISPUTE:
		return notif_fill_dispute(root, n);
	case NOTIF_VAULTING:
		return notif_fill_vaulting(root, n);
	case NOTIF_OTHER:
	default:
		return "unsupported_type";
	}
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
	const char *reason = NULL;
	bool pending = false, oom;

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

	kind = notif_route(root, n, &pending, &reason);
	if (kind == NOTIF_OTHER) {
		notif_make_other(n, reason);
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
	static const char *const names[NOTIF_KIND_COUNT] = {
#define NOTIF_KIND_NAME(name, str, value)	[value] = str,
		NOTIF_KINDS(NOTIF_KIND_NAME)
#undef NOTIF_KIND_NAME
	};

	if ((unsigned)kind >= NOTIF_KIND_COUNT)
		return names[NOTIF_OTHER];
	return names[kind];
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

int
notif_dispute_rank(const char *type)
{
	static const struct {
		const char	*type;
		int		 rank;
	} ranks[] = {
		{ "DISPUTE_CREATED", 1 },
		{ "DEFENSE_DUE_ALERT", 2 },
		{ "DEFENSE_SUPPLIED", 3 },
		{ "DISPUTE_ACCEPTED", 4 },
		{ "DISPUTE_JUDGED", NOTIF_DISPUTE_RANK_FINAL },
		{ "DISPUTE_CANCELLED", NOTIF_DISPUTE_RANK_FINAL },
		{ "RDR_RESOLVED", NOTIF_DISPUTE_RANK_FINAL },
	};
	size_t i;

	if (type == NULL)
		return 0;
	for (i = 0; i < sizeof(ranks) / sizeof(ranks[0]); i++)
		if (strcmp(type, ranks[i].type) == 0)
			return ranks[i].rank;
	return 0;
}

/*
 * Each kind's own key and the id it is bound to, as offsets of struct
 * notif's string fields; 0 (the offset of kind) for none.
 */
static const struct {
	size_t	key;
	size_t	bound;
} notif_ids_of[NOTIF_KIND_COUNT] = {
	[NOTIF_PAYMENT] = { offsetof(struct notif, payment_request_id),
			    offsetof(struct notif, payment_id) },
	[NOTIF_CAPTURE] = { offsetof(struct notif, capture_request_id),
			    offsetof(struct notif, capture_id) },
	[NOTIF_REFUND] = { offsetof(struct notif, refund_request_id),
			   offsetof(struct notif, refund_id) },
	[NOTIF_DISPUTE] = { offsetof(struct notif, dispute_id),
			    offsetof(struct notif, payment_id) },
	[NOTIF_VAULTING] = { offsetof(struct notif, vaulting_request_id), 0 },
};

static const char *
notif_id_at(const struct notif *n, size_t off)
{
	if ((unsigned)n->kind >= NOTIF_KIND_COUNT || off == 0)
		return NULL;
	return *(const char *const *)(const void *)((const char *)n + off);
}

const char *
notif_object_id(const struct notif *n)
{
	if ((unsigned)n->kind >= NOTIF_KIND_COUNT)
		return NULL;
	return notif_id_at(n, notif_ids_of[n->kind].key);
}

const char *
notif_bound_id(const struct notif *n)
{
	if ((unsigned)n->kind >= NOTIF_KIND_COUNT)
		return NULL;
	return notif_id_at(n, notif_ids_of[n->kind].bound);
}
