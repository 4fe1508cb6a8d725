/*
 * notif.h - an authentic notification body turned into a record.
 *
 * Only ever called on a body whose signature has verified.  Parsing never
 * fails as such: a body that is not JSON, not a kind we apply, or carries
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

#define NOTIF_ID_MAX	64	/* SPEC.md: ids are strings of at most 64 characters */
#define NOTIF_TEXT_MAX	1024	/* any other string field we store */

enum notif_kind {
	NOTIF_OTHER = 0,	/* archived verbatim, no state change */
	NOTIF_PAYMENT,		/* notifyPayment PAYMENT_RESULT / PAYMENT_PENDING */
	NOTIF_CAPTURE,		/* notifyCapture CAPTURE_RESULT */
	NOTIF_REFUND,		/* notifyRefund REFUND_RESULT */
	NOTIF_DISPUTE,		/* notifyDispute, by disputeNotificationType */
	NOTIF_VAULTING		/* notifyVaulting: vaultingRequestId, no discriminator */
};

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

struct notif {
	enum notif_kind		 kind;
	/* PAYMENT, CAPTURE, REFUND (SUCCESS, FAIL), VAULTING (PENDING too) */
	enum notif_status	 status;
	/*
	 * The discriminator value: notifyType, or for kinds without one
	 * disputeNotificationType, authorizationNotifyType,
	 * subscriptionNotificationType; NULL when none is present.  Bounded by
	 * NOTIF_ID_MAX (a longer one is treated as absent).
	 */
	const char		*notify_type;
	/* Why kind is NOTIF_OTHER ("not_json", "unknown_type", "bad_amount", ...). */
	const char		*archive_reason;

	const char		*result_code;
	const char		*result_status;
	const char		*result_message;

	/* Ids, for both kinds where present (a capture carries payment_id). */
	const char		*payment_request_id;
	const char		*payment_id;
	const char		*capture_request_id;
	const char		*capture_id;

	struct notif_amount	 amount;	/* paymentAmount or captureAmount */

	/* notifyPayment */
	const char		*payment_create_time;
	const char		*payment_time;
	const char		*avs_result_raw;
	const char		*cvv_result_raw;
	const char		*network_transaction_id;
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
	const char		*acquirer_reference_no;

	/* notifyRefund; amount is refundAmount */
	const char		*refund_request_id;
	const char		*refund_id;
	const char		*refund_time;

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

	/*
	 * notifyVaulting (paymentMethodDetail.card).  card_no_masked is kept
	 * only when it is masked: a full card number is never stored.
	 */
	const char		*vaulting_request_id;
	const char		*card_token;
	const char		*card_no_masked;
	const char		*vaulting_create_time;

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
 * What a body that did not verify says it is about, for the refusals
 * table only (store.h): found by scanning for "key":"value" literally,
 * never by parsing (an unverified body is not parsed: README).  Each
 * value is kept only as an id token (printable, no blanks, at most
 * NOTIF_ID_MAX bytes).  O(len), no allocation, any bytes accepted.
 */
struct notif_claims {
	char		 notify_type[NOTIF_ID_MAX + 1];	/* "" if none */
	const char	*kind;		/* from which id was found, or NULL */
	char		 object_id[NOTIF_ID_MAX + 1];	/* "" if none */
};
void	notif_claims(const unsigned char *body, size_t len,
	    struct notif_claims *);

/*
 * The key of the object n is about, within its client id: the
 * paymentRequestId, captureRequestId, refundRequestId, disputeId or
 * vaultingRequestId; NULL for NOTIF_OTHER.
 */
const char *notif_object_id(const struct notif *n);
/* "payment", "capture", "refund", "dispute", "vaulting", "other" */
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
