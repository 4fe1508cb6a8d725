/*
 * admin.h - the operators' listener: /metrics and /healthz.
 *
 * A second, small libmicrohttpd daemon (metrics_listen) serving GET and
 * HEAD on /metrics and /healthz only, so a scrape never competes with
 * Antom's requests for a connection slot.  /metrics renders the counters
 * with a snapshot of the store and the HTTP front end taken at scrape
 * time; /healthz answers 200 "ok" when the database is writable, the last
 * batch committed (or none failed since the last that did), no batch
 * has run longer than stuck_us and the log sink is not stalled (lines
 * pending and nothing written for 5 s), else 503 with the reason.
 *
 * It sits above http, store and metrics, and only main calls it.  The
 * store and the http passed to admin_start() must outlive the admin.
 */
#ifndef ANTOMD_ADMIN_H
#define ANTOMD_ADMIN_H

#include <stddef.h>
#include <stdint.h>

struct admin;
struct http;
struct store;

/*
 * Serve on listen_fd (taken over, also on failure).  Returns an admin the
 * caller owns, or NULL with err.
 */
struct admin *admin_start(int listen_fd, struct store *, struct http *,
	    uint64_t stuck_us, char *err, size_t errlen);
/* Stop serving and free; NULL is a no-op. */
void	admin_stop(struct admin *);

#endif
