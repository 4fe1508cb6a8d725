/*
 * refusal.h - deliveries refused before they could be stored (400, 401,
 * 413, 503), kept in the refusals table until a later delivery of the
 * same notification (client id and body hash) is stored.
 *
 * Antom gives up about 24 h 22 min after its first attempt, so a refusal
 * that stays is a notification about to be lost: the writer counts those
 * held longer than at_risk_after_s and warns, and antomctl refusals lists
 * them with refusal_list_sql.  Everything kept but status and reason is
 * as the request claimed it, unverified: an unverified body is never
 * parsed, only scanned for literal "key":"value" claims.
 *
 * Threads: refusal_note() and refusal_set() from any thread; the ledger
 * (the writes, the count and the prune) runs on the store's writer.
 */
#ifndef ANTOMD_REFUSAL_H
#define ANTOMD_REFUSAL_H

#include <stddef.h>

#include "notif.h"
#include "store.h"

#define REFUSAL_TEXT		65
#define REFUSAL_GIVEN_UP_S	(24 * 3600 + 22 * 60)	/* Antom's last attempt */

/* One row of the refusals table, as kept. */
struct refusal {
	char	client_id[REFUSAL_TEXT];	/* "" when absent */
	char	body_sha256[STORE_HASH_HEX];	/* "" when the body was not read */
	int	status;
	char	reason[REFUSAL_TEXT];
	char	request_time[REFUSAL_TEXT];
	char	notify_type[REFUSAL_TEXT];	/* the body's claims */
	char	kind[16];
	char	object_id[REFUSAL_TEXT];
};

/* What the HTTP layer knows of a request it refused. */
struct refusal_request {
	unsigned		 status;
	const char		*reason;
	const char		*client_id;	/* header; NULL when absent */
	const char		*request_time;	/* header; NULL when absent */
	int			 whole;	/* the body was read whole (not for 413) */
	const unsigned char	*body;	/* then: NULL when empty */
	size_t			 len;
	/* Parsed: it verified.  NULL: scanned for its claims instead. */
	const struct notif	*notif;
	/*
	 * The body's hex SHA-256, asked for only when the refusal is kept:
	 * the caller hashes (store.h, struct store_delivery).
	 */
	const char		*(*body_sha256)(void *arg);
	void			*arg;
};

struct verify_keyring;

/*
 * Keep a refused request for the writer to record, or not: a 503 is
 * authentic (it verified) and always kept; a 400, 401 or 413 only for a
 * client id in keys, so that requests from anyone else cannot fill the
 * table; nothing else.  Never blocks, never fails the request: 0 queued
 * or not kept, -1 dropped because too many are pending (counted in
 * refusals_dropped).
 */
int	refusal_note(struct store *, const struct verify_keyring *keys,
	    const struct refusal_request *);

/* Queue a refusal already made (any thread): 0, or -1 dropped. */
int	refusal_queue(struct store *, const struct refusal *);

/* Copy s (NULL is "") into a field, at most cap-1 bytes, '?' for others. */
void	refusal_set(char *field, size_t cap, const char *s);

/*
 * What an unverified body claims to be about, for the refusals table
 * only: found by scanning for "key":"value" literally, never by parsing.
 * Each value is kept only as an id token (printable, no blanks, at most
 * NOTIF_ID_MAX bytes).  O(len), no allocation, any bytes accepted.
 */
struct refusal_claims {
	char		 notify_type[NOTIF_ID_MAX + 1];	/* "" if none */
	const char	*kind;		/* from which id was found, or NULL */
	char		 object_id[NOTIF_ID_MAX + 1];	/* "" if none */
};
void	refusal_claims(const unsigned char *body, size_t len,
	    struct refusal_claims *);

/*
 * Every refusal held, oldest first: body_sha256, client_id, status,
 * reason, request_time, notify_type, kind, object_id, first_refused_at,
 * last_refused_at, refusal_count, at_risk, given_up.  Bind ?1 to
 * refusal_ago(at_risk_after_s) and ?2 to refusal_ago(REFUSAL_GIVEN_UP_S).
 * The writer counts at risk with the same test.
 */
extern const char refusal_list_sql[];
#define REFUSAL_AGO_LEN	32
/* "-N seconds", the SQLite time modifier the queries above bind. */
void	refusal_ago(char buf[REFUSAL_AGO_LEN], unsigned seconds);

#endif
