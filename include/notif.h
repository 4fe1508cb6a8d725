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
	NOTIF_CAPTURE		/* notifyCapture CAPTURE_RESULT */
};

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
	enum notif_status	 status;	/* for PAYMENT and CAPTURE */
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

	void			*doc;		/* the json_t root; owned */
};

/*
 * Parse len bytes of an authentic body into *n (always fully initialised,
 * even on NOTIF_OTHER).  Returns 0, or -1 only on allocation failure (the
 * caller then answers 503 so Antom retries).  Call notif_free() after.
 */
int	notif_parse(const unsigned char *body, size_t len, struct notif *n);
void	notif_free(struct notif *);

const char *notif_kind_str(enum notif_kind);	/* "payment", "capture", "other" */
const char *notif_status_str(enum notif_status);	/* "PENDING", "SUCCESS", "FAIL", NULL for NONE */

#endif
