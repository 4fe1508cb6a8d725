/*
 * metrics.h - counters for operators, /metrics and /healthz.
 *
 * Process-wide counters, histograms and gauges, updated with relaxed
 * atomics from any thread (no lock on the request path), and rendered in
 * the Prometheus text exposition format 0.0.4.  Every label set is fixed
 * or bounded by the configuration, never by what a client sends: routes
 * and (client id, key version) pairs are registered from the
 * configuration (at start and on reload, up to a fixed number; the rest
 * count under "other"), every other label takes a value from a fixed list.
 *
 * The listener (metrics_listen) is a second, small libmicrohttpd daemon
 * serving GET and HEAD on /metrics and /healthz only.
 */
#ifndef ANTOMD_METRICS_H
#define ANTOMD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_ROUTES_MAX	32
#define METRICS_KEYS_MAX	256

struct store;
struct http;

/* Register what the configuration names; repeated calls are no-ops. */
void	metrics_route(const char *path);
void	metrics_key(const char *client_id, long key_version);

/*
 * One answered request: its route (NULL: no configured route), status,
 * and duration in microseconds.
 */
void	metrics_request(const char *route, unsigned status, uint64_t us);
/* A request refused before it was authentic (400/401), by reason. */
void	metrics_verify_failure(const char *reason);
/* A verified delivery, counted by the key that verified it. */
void	metrics_delivery(const char *client_id, long key_version);
/*
 * A committed notification: kind "payment", "capture" or "other" (what
 * notif_kind_str() says), outcome as store_outcome_str() says.
 */
void	metrics_notification(const char *kind, const char *outcome);
/* A writer batch of jobs, failed of which failed (the store's hook). */
void	metrics_batch(unsigned jobs, unsigned failed);

/*
 * The whole exposition into a malloc'd, NUL-terminated buffer the caller
 * frees; NULL on allocation failure.  s and h may be NULL (tests): their
 * gauges are left out.
 */
char	*metrics_render(struct store *s, struct http *h, size_t *len);

/*
 * /healthz: 0 when healthy, else -1 with the reason in why.  Healthy
 * means the database is writable, the last batch committed (or none
 * failed since the last that did), and no batch has run longer than
 * stuck_us.
 */
int	metrics_health(struct store *s, uint64_t stuck_us, char *why,
	    size_t whylen);

struct metrics_server;

/*
 * Serve /metrics and /healthz on listen_fd (taken over, also on failure).
 * Returns a server the caller owns, or NULL with err.
 */
struct metrics_server *metrics_server_start(int listen_fd, struct store *,
	    struct http *, uint64_t stuck_us, char *err, size_t errlen);
void	metrics_server_stop(struct metrics_server *);

#endif
