/*
 * notif.h - an authentic notification body turned into a record.
 *
 * Only ever called on a body whose signature has verified (an unverified
 * one is only scanned: refusal_claims()).  Parsing fails only for want of
 * memory: a body that is not JSON, not a kind we apply, or carries
 * a field we cannot trust (an id over 64 bytes, an amount that is not a
 * non-negative 64-bit integer in minor units, a currency that is not three
 * upper-case letters ...) comes back as NOTIF_OTHER with a reason, so the
 * store archives it verbatim and Antom is still acknowledged: authentic
 * data is never dropped, and never half-applied.
 *
 * String pointers in struct notif point into the parsed JSON document and
 * live until notif_free().  Thread-safe (no shared state).
 */
#ifndef ANTOMD_NOTIF_H
#define ANTOMD_NOTIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOTIF_ID_MAX	64	/* ids: docs/protocol.md section 4.1 */
#define NOTIF_TEXT_MAX	1024	/* any other string field we store */

/*
 * The kinds: constant, name (notifications.kind, events.object_type,
 * logs and metrics), value.  Listed in the order of the schema's CHECKs
 * (store_schema.c builds them from this list); NOTIF_OTHER stays 0.
 */
#define NOTIF_KINDS(X)							\
	X(NOTIF_PAYMENT,  "payment",  1)  /* notifyPayment PAYMENT_RESULT / PAYMENT_PENDING */ \
	X(NOTIF_CAPTURE,  "capture",  2)  /* notifyCapture CAPTURE_RESULT */ \
	X(NOTIF_REFUND,   "refund",   3)  /* notifyRefund REFUND_RESULT */ \
	X(NOTIF_DISPUTE,  "dispute",  4)  /* notifyDispute, by disputeNotificationType */ \
	X(NOTIF_VAULTING, "vaulting", 5)  /* notifyVaulting: vaultingRequestId, no discriminator of its own */ \
	X(NOTIF_OTHER,    "other",    0)  /* archived verbatim, no state change */

enum notif_kind {
#define NOTIF_KIND_ENUM(name, str, value)	name = value,
	NOTIF_KINDS(NOTIF_KIND_ENUM)
#undef NOTIF_KIND_ENUM
};
#define NOTIF_KIND_ONE(name, str, value)	+ 1
enum { NOTIF_KIND_COUNT = 0 NOTIF_KINDS(NOTIF_KIND_ONE) };
#undef NOTIF_KIND_ONE

/*
 * How far along a dispute a disputeNotificationType is: a dispute only
 * moves to a higher rank.  The final rank holds the closing types
 * (judged, cancelled, RDR resolved); two different ones contradict.
 */
#define NOTIF_DISPUTE_RANK_FINAL	5

enum notif_status {
	NOTIF_ST_NONE = 0,
	NOTIF_ST_PENDING,
	NOTIF_ST_SUCCESS,
	NOTIF_ST_FAIL
};

struct notif_amount {
	bool	present;
	int64_t	value;		/* minor units */
	char	currency[4];	/* ISO 4217 alphabetic code */
};

/*
 * acquirerInfo (com.alipay.global.api.model.ams.AcquirerInfo), on
 * notifyPayment (top level, or inside paymentResultInfo) and notifyCapture.
 */
struct notif_acquirer {
	const char	*name;			/* acquirerName */
	const char	*transaction_id;	/* acquirerTransactionId */
	const char	*result_code;		/* acquirerResultCode */
	const char	*result_message;	/* acquirerResultMessage */
};

struct notif {
	enum notif_kind		 kind;
	/*
	 * PAYMENT, CAPTURE, REFUND and VAULTING: PENDING (not final: a
	 * PAYMENT_PENDING with S, resultStatus U, vaultingStatus PROCESSING),
	 * SUCCESS or FAIL; NONE for a dispute (docs/protocol.md section 4.9).
	 */
	enum notif_status	 status;
	/*
	 * The discriminator value: notifyType, or for kinds without one
	 * disputeNotificationType, authorizationNotifyType,
	 * subscriptionNotificationType; NULL when none is present.  A dispute
	 * holds its stage here even when it also carries a notifyType; a
	 * vaulting holds the notifyType it carried, or NULL.  Bounded by
	 * NOTIF_ID_MAX (a longer one is treated as absent).
	 */
	const char		*notify_type;
	/* Why kind is NOTIF_OTHER ("not_json", "unknown_type", "bad_amount", ...). */
	const char		*archive_reason;

	const char		*result_code;
	const char		*result_status;
	const char		*result_message;	/* resultMessage, else resultMsg */

	/* Ids, for every kind where present (a capture carries payment_id). */
	const char		*payment_request_id;
	const char		*payment_id;
	const char		*capture_request_id;
	const char		*capture_id;

	/* paymentAmount, captureAmount, refundAmount or disputeAmount */
	struct notif_amount	 amount;

	/*
	 * notifyPayment.  actual_payment_amount is left absent when it is
	 * malformed (docs/protocol.md section 6): the payment is still applied.
	 */
	const char		*payment_create_time;
	const char		*payment_time;
	const char		*payment_method_type;
	struct notif_amount	 actual_payment_amount;
	const char		*auth_expiry_time;
	/* payment and capture (acquirerReferenceNo, acquirerInfo) */
	const char		*acquirer_reference_no;
	struct notif_acquirer	 acquirer;
	/* paymentResultInfo; network_transaction_id and card_bin also vaulting */
	const char		*avs_result_raw;
	const char		*cvv_result_raw;
	const char		*network_transaction_id;
	const char		*card_bin;		/* cardBin; vaulting: bin */
	const char		*funding;
	const char		*issuer_name;
	const char		*merchant_advice_code;
	const char		*authorization_code;
	const char		*rrn;
	const char		*credential_type_used;
	const char		*three_ds_eci;
	const char		*three_ds_version;
	const char		*three_ds_cavv;	/* "cavv", or the docs' spelling "caav" */
	const char		*three_ds_ds_transaction_id;
	const char		*card_brand;
	const char		*last_four;
	const char		*issuing_country;
	const char		*refusal_code_raw;
	const char		*refusal_reason_raw;

	/* notifyCapture */
	const char		*capture_time;

	/* notifyRefund; amount is refundAmount, actual_refund_amount as above */
	const char		*refund_request_id;
	const char		*refund_id;
	const char		*refund_time;
	struct notif_amount	 actual_refund_amount;
	const char		*arn;			/* refund and dispute */

	/*
	 * notifyDispute: notify_type is the stage (disputeNotificationType),
	 * dispute_rank its place in notif_dispute_rank(); amount is
	 * disputeAmount.  paymentRequestId and paymentId above.
	 */
	const char		*dispute_id;
	int			 dispute_rank;
	const char		*dispute_type;		/* CHARGEBACK, RETRIEVAL_REQUEST ... */
	const char		*dispute_time;
	const char		*dispute_reason_code;
	const char		*dispute_reason_msg;
	const char		*dispute_source;
	const char		*dispute_judged_result;
	const char		*dispute_judged_time;
	struct notif_amount	 dispute_judged_amount;
	const char		*defense_due_time;
	const char		*defendable;		/* "true", "false" or NULL */
	const char		*dispute_accept_reason;

	/*
	 * notifyVaulting (paymentMethodDetail.card), and the same card fields
	 * of a payment's paymentResultInfo.  card_no_masked is kept only when
	 * it is masked: a full card number is never stored.
	 */
	const char		*vaulting_request_id;
	const char		*card_token;
	const char		*card_no_masked;
	const char		*vaulting_create_time;
	const char		*expiry_month;		/* vaulting only */
	const char		*expiry_year;		/* vaulting only */

	void			*doc;		/* the json_t root; owned */
};

/*
 * Parse len bytes of an authentic body into *n (always fully initialised,
 * even on NOTIF_OTHER).  Returns 0, or -1 only on allocation failure (the
 * caller then answers 503 so Antom retries).  Call notif_free() after.
 */
int	notif_parse(const unsigned char *body, size_t len, struct notif *n);
void	notif_free(struct notif *);

/*
 * The key of the object n is about, within its client id: the
 * paymentRequestId, captureRequestId, refundRequestId, disputeId or
 * vaultingRequestId; NULL for NOTIF_OTHER.
 */
const char *notif_object_id(const struct notif *n);
/*
 * The Antom id that object is bound to, which must never change: the
 * paymentId of a payment or a dispute, the captureId of a capture, the
 * refundId of a refund; NULL when n carries none (always for a vaulting).
 */
const char *notif_bound_id(const struct notif *n);
/* The name in NOTIF_KINDS; "other" for a value not in it. */
const char *notif_kind_str(enum notif_kind);
/*
 * Rank of a disputeNotificationType: 1 DISPUTE_CREATED, 2
 * DEFENSE_DUE_ALERT, 3 DEFENSE_SUPPLIED, 4 DISPUTE_ACCEPTED,
 * NOTIF_DISPUTE_RANK_FINAL for DISPUTE_JUDGED, DISPUTE_CANCELLED and
 * RDR_RESOLVED; 0 for anything else (archived).
 */
int	notif_dispute_rank(const char *type);
const char *notif_status_str(enum notif_status);	/* "PENDING", "SUCCESS", "FAIL", NULL for NONE */

#endif
