/*
 * metrics.h - counters for operators and their exposition.
 *
 * Process-wide counters, histograms and gauges, updated with relaxed
 * atomics from any thread (no lock on the request path), and rendered in
 * the Prometheus text exposition format 0.0.4.  Every label set is fixed
 * or bounded by the configuration, never by what a client sends: routes
 * and (client id, key version) pairs are registered from the
 * configuration (at start and on reload, up to a fixed number; the rest
 * count under "other"), every other label takes a value from a fixed list.
 *
 * The module knows neither the store nor the HTTP front end: their gauges
 * come in a struct metrics_snapshot the caller fills (admin.c, which also
 * serves the result).
 */
#ifndef ANTOMD_METRICS_H
#define ANTOMD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "notif.h"
#include "reason.h"
#include "outcome.h"

#define METRICS_ROUTES_MAX	32
#define METRICS_KEYS_MAX	256

/* Register what the configuration names; repeated calls are no-ops. */
void	metrics_route(const char *path);
void	metrics_key(const char *client_id, long key_version);

/*
 * One answered request: its route (NULL: no configured route), status,
 * and duration in microseconds.
 */
void	metrics_request(const char *route, unsigned status, uint64_t us);
/*
 * A request refused before it was authentic (400/401), by reason; a
 * reason not marked as a verification failure in reason.h counts as
 * "other".  Also by client id and the key version its signature header
 * named (0: none; a misrouted one's is the key that verified): a
 * configured pair, a configured client id's other versions as one, and
 * anything else as "other".
 */
void	metrics_verify_failure(const char *client_id, long key_version,
	    enum reason);
/*
 * A refusal that was not authentic (refusal.h: bad or missing signature,
 * 400, 401, 413), by client id (a configured one; anything else counts
 * under "other") and reason.
 */
void	metrics_unverified(const char *client_id, enum reason);
/* The path variants antomd tries on a mismatch (pathvar.h). */
enum metrics_variant {
	METRICS_VARIANT_TRIED,		/* one extra RSA check */
	METRICS_VARIANT_SKIPPED,	/* a request's, for the budget */
	METRICS_VARIANT_MISROUTED	/* verified over another path */
};
void	metrics_variant(enum metrics_variant);
/* A verified delivery, counted by the key that verified it. */
void	metrics_delivery(const char *client_id, long key_version);
/*
 * A committed notification, by kind and outcome (labelled as
 * notif_kind_str() and store_outcome_str() say).
 */
void	metrics_notification(enum notif_kind, enum store_outcome);
/* A writer batch of jobs, failed of which failed (the store's hook). */
void	metrics_batch(unsigned jobs, unsigned failed);

/*
 * 1 when the writer's last batch failed whole (or its idle probe found
 * no write lock), 0 once one commits again.
 */
int	metrics_last_batch_failed(void);

/* The store's gauges, as store_stats() and store_writable() say. */
struct metrics_store {
	int64_t		at_risk;
	int64_t		refusals_held;
	uint64_t	refusals;
	uint64_t	refusals_dropped;
	unsigned	queued;
	uint64_t	busy_us;
	uint64_t	commits;
	uint64_t	commits_late;
	int		writable;
	int		wal_frames;
	uint64_t	checkpoints;
	int64_t		database_bytes;	/* -1: left out */
	int64_t		wal_bytes;	/* -1: left out (PostgreSQL) */
};

/* What the exposition shows beside the counters kept here. */
struct metrics_snapshot {
	int64_t			start;		/* Unix seconds; 0: left out */
	int			has_store;	/* store filled */
	struct metrics_store	store;
	int			has_http;	/* http_inflight filled */
	unsigned		http_inflight;
	int			has_log;	/* log filled */
	struct log_sink_stats	log;		/* log_sink_stats() */
};

/*
 * The whole exposition into a malloc'd, NUL-terminated buffer the caller
 * frees; NULL on allocation failure.  snap may be NULL (tests): its
 * gauges are left out.
 */
char	*metrics_render(const struct metrics_snapshot *snap, size_t *len);

#endif
