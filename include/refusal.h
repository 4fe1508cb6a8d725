/*
 * refusal.h - deliveries refused before they could be stored (400, 401,
 * 413, 503), kept in the refusals table until a later delivery of the
 * same notification (client id and body hash) is stored.
 *
 * Two kinds of row, never in each other's way:
 *
 *   authentic   the signature verified and the request was then refused
 *		 (503: storage failed, queue full, shutting down), or it
 *		 verifies only over another path variant of its route
 *		 (pathvar.h: a proxy or route misconfiguration, answered 401).
 *		 Only Antom can make one, so every one is kept.  Antom gives
 *		 up about 24 h 22 min after its first attempt, so one that
 *		 stays is a notification about to be lost: the writer counts
 *		 those held longer than at_risk_after_s and warns, and
 *		 antomctl refusals lists them with refusal_list_sql.
 *   unverified  anything else refused on a route from a configured client
 *		 id (bad or missing signature, 400, 401, 413): anyone can
 *		 send one (client ids are not secret), so they are counted in
 *		 metrics and only a sample of REFUSAL_SAMPLE_MAX rows is kept,
 *		 for diagnosis, forgotten REFUSAL_SAMPLE_AGE_S after each was
 *		 first refused however often it is sent again.  Never at risk.
 *
 * Everything kept but status, reason and authentic is as the request
 * claimed it: an unverified body is never parsed, only scanned for
 * literal "key":"value" claims.
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
#define REFUSAL_SAMPLE_MAX	64	/* unverified rows kept */
#define REFUSAL_SAMPLE_AGE_S	3600	/* after first refused: forgotten */

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
	int	authentic;			/* 1 authentic, 0 unverified */
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
	/*
	 * The signature verified: refused after (503), or over another path
	 * variant than the route's (401, misrouted).
	 */
	int			 authentic;
};

struct verify_keyring;

/* What refusal_note() keeps of a refused request. */
enum refusal_keep {
	REFUSAL_KEEP_NONE,
	REFUSAL_KEEP_SAMPLE,		/* unverified: the bounded sample */
	REFUSAL_KEEP_AUTHENTIC		/* always */
};

/*
 * The keep rule: only a 400, 401, 413 or 503; authentic always; an
 * unverified one only from a configured client id (configured), so that
 * requests from anyone else cannot even reach the sample.  Pure.
 */
enum refusal_keep refusal_keep(unsigned status, int authentic,
	    int configured);

/*
 * Keep a refused request for the writer to record, or not, by
 * refusal_keep(); an unverified one is not even queued while the sample
 * is full.  Never blocks, never fails the request: 0 queued or not kept,
 * -1 dropped because too many are pending (counted in refusals_dropped;
 * an authentic refusal takes the place of an unverified one first).
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
 * Every refusal held, authentic ones first, each oldest first:
 * body_sha256, client_id, status, reason, request_time, notify_type,
 * kind, object_id, first_refused_at, last_refused_at, refusal_count,
 * at_risk, given_up, authentic (at_risk and given_up are 0 for every
 * unverified row).  Bind ?1 to refusal_ago(at_risk_after_s) and ?2 to
 * refusal_ago(REFUSAL_GIVEN_UP_S).  The writer counts at risk with the
 * same test.
 */
extern const char refusal_list_sql[];
#define REFUSAL_AGO_LEN	32
/* "-N seconds", the SQLite time modifier the queries above bind. */
void	refusal_ago(char buf[REFUSAL_AGO_LEN], unsigned seconds);

#endif
