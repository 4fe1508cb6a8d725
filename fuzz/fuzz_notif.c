/*
 * fuzz_notif.c - libFuzzer target for notif_parse(), authentic-but-hostile
 * JSON bodies turned into a struct notif, and notif_free().
 *
 * Invariants asserted (notif.h is the contract):
 *  - notif_parse() returns 0: the fuzzer never runs out of memory, so -1
 *    would be a syntax error mistaken for one (an endless 503 loop);
 *  - NOTIF_OTHER carries a reason and nothing else but the document and
 *    the discriminator; the applied kinds carry no reason;
 *  - every applied kind has its object id (notif_object_id) as a token of
 *    1..64 printable bytes without blanks; PAYMENT, CAPTURE, REFUND and
 *    VAULTING a status other than NONE; DISPUTE no status, a stage of
 *    rank 1..final, and notify_type naming it; PAYMENT, CAPTURE and REFUND
 *    the notifyType that routed them;
 *  - a masked card number is kept only with its mask;
 *  - every other id present is such a token too; notify_type is bounded
 *    the same way; text fields are at most NOTIF_TEXT_MAX bytes with no
 *    control characters;
 *  - amount.present implies value >= 0 and a currency of three upper-case
 *    letters;
 *  - refusal_claims() hands out only id tokens, and reads nothing past size;
 *  - every string handed out is readable up to its NUL (ASan checks).
 */
#undef NDEBUG		/* the asserts are the point */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "notif.h"
#include "refusal.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_token(const char *s)
{
	size_t len, i;

	if (s == NULL)
		return;
	len = strlen(s);
	assert(len >= 1 && len <= NOTIF_ID_MAX);
	for (i = 0; i < len; i++)
		assert((unsigned char)s[i] > 0x20 && (unsigned char)s[i] < 0x7f);
}

static void
fuzz_text(const char *s)
{
	size_t len, i;

	if (s == NULL)
		return;
	len = strlen(s);
	assert(len <= NOTIF_TEXT_MAX);
	for (i = 0; i < len; i++)
		assert((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] != 0x7f);
}

/* A present amount is a non-negative value in three upper-case letters. */
static void
fuzz_amount(const struct notif_amount *a)
{
	int i;

	if (!a->present)
		return;
	assert(a->value >= 0);
	for (i = 0; i < 3; i++)
		assert(a->currency[i] >= 'A' && a->currency[i] <= 'Z');
	assert(a->currency[3] == '\0');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct notif n, other;
	struct refusal_claims claims;

	/* What an unverified body claims: tokens only, never past size. */
	refusal_claims(data, size, &claims);
	assert(strlen(claims.notify_type) <= NOTIF_ID_MAX);
	if (claims.notify_type[0] != '\0')
		fuzz_token(claims.notify_type);
	assert((claims.kind == NULL) == (claims.object_id[0] == '\0'));
	if (claims.kind != NULL)
		fuzz_token(claims.object_id);

	assert(notif_parse(data, size, &n) == 0);
	fuzz_token(n.notify_type);

	if (n.kind == NOTIF_OTHER) {
		/* Only doc, notify_type and archive_reason may be set. */
		assert(n.archive_reason != NULL && *n.archive_reason != '\0');
		memset(&other, 0, sizeof(other));
		other.doc = n.doc;
		other.notify_type = n.notify_type;
		other.archive_reason = n.archive_reason;
		assert(memcmp(&n, &other, sizeof(n)) == 0);
		goto done;
	}

	assert(n.kind == NOTIF_PAYMENT || n.kind == NOTIF_CAPTURE ||
	    n.kind == NOTIF_REFUND || n.kind == NOTIF_DISPUTE ||
	    n.kind == NOTIF_VAULTING);
	assert(n.archive_reason == NULL && n.doc != NULL);
	assert(notif_object_id(&n) != NULL);
	fuzz_token(notif_object_id(&n));
	if (n.kind == NOTIF_DISPUTE) {
		assert(n.status == NOTIF_ST_NONE && n.result_status == NULL);
		assert(n.dispute_rank >= 1 &&
		    n.dispute_rank <= NOTIF_DISPUTE_RANK_FINAL);
		assert(notif_dispute_rank(n.notify_type) == n.dispute_rank);
	} else {
		assert(n.status == NOTIF_ST_PENDING ||
		    n.status == NOTIF_ST_SUCCESS || n.status == NOTIF_ST_FAIL);
		assert(notif_status_str(n.status) != NULL);
		assert(n.result_status != NULL);
		assert(n.dispute_rank == 0);
	}
	assert(n.kind == NOTIF_VAULTING || n.notify_type != NULL);
	if (n.card_no_masked != NULL)
		assert(strchr(n.card_no_masked, '*') != NULL);
	if (n.defendable != NULL)
		assert(strcmp(n.defendable, "true") == 0 ||
		    strcmp(n.defendable, "false") == 0);
	fuzz_token(n.payment_request_id);
	fuzz_token(n.payment_id);
	fuzz_token(n.capture_request_id);
	fuzz_token(n.capture_id);
	fuzz_token(n.refund_request_id);
	fuzz_token(n.refund_id);
	fuzz_token(n.dispute_id);
	fuzz_token(n.vaulting_request_id);
	if (n.dispute_judged_amount.present)
		assert(n.dispute_judged_amount.value >= 0 &&
		    strlen(n.dispute_judged_amount.currency) == 3);
	fuzz_amount(&n.amount);
	fuzz_amount(&n.actual_payment_amount);
	fuzz_amount(&n.actual_refund_amount);
	fuzz_text(n.result_code);
	fuzz_text(n.result_message);
	fuzz_text(n.payment_create_time);
	fuzz_text(n.payment_time);
	fuzz_text(n.avs_result_raw);
	fuzz_text(n.cvv_result_raw);
	fuzz_text(n.network_transaction_id);
	fuzz_text(n.three_ds_eci);
	fuzz_text(n.three_ds_version);
	fuzz_text(n.three_ds_cavv);
	fuzz_text(n.three_ds_ds_transaction_id);
	fuzz_text(n.card_brand);
	fuzz_text(n.last_four);
	fuzz_text(n.issuing_country);
	fuzz_text(n.refusal_code_raw);
	fuzz_text(n.refusal_reason_raw);
	fuzz_text(n.capture_time);
	fuzz_text(n.acquirer_reference_no);
	fuzz_text(n.refund_time);
	fuzz_text(n.dispute_type);
	fuzz_text(n.dispute_time);
	fuzz_text(n.dispute_reason_code);
	fuzz_text(n.dispute_reason_msg);
	fuzz_text(n.dispute_source);
	fuzz_text(n.dispute_judged_result);
	fuzz_text(n.dispute_judged_time);
	fuzz_text(n.defense_due_time);
	fuzz_text(n.payment_method_type);
	fuzz_text(n.auth_expiry_time);
	fuzz_text(n.acquirer.name);
	fuzz_text(n.acquirer.transaction_id);
	fuzz_text(n.acquirer.result_code);
	fuzz_text(n.acquirer.result_message);
	fuzz_text(n.card_bin);
	fuzz_text(n.funding);
	fuzz_text(n.issuer_name);
	fuzz_text(n.merchant_advice_code);
	fuzz_text(n.authorization_code);
	fuzz_text(n.rrn);
	fuzz_text(n.credential_type_used);
	fuzz_text(n.arn);
	fuzz_text(n.dispute_accept_reason);
	fuzz_text(n.expiry_month);
	fuzz_text(n.expiry_year);
	fuzz_text(n.card_token);
	fuzz_text(n.card_no_masked);
	fuzz_text(n.vaulting_create_time);
done:
	notif_free(&n);
	assert(n.doc == NULL);
	return 0;
}
