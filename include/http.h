/*
 * http.h - the HTTP front end (libmicrohttpd glue).
 *
 * Serves POST on the configured routes: bounds the request, verifies the
 * signature on the request thread, parses the verified body, hands it to
 * the store's writer and suspends the connection until the writer has
 * committed; only then is SUCCESS sent.
 *
 * The conf passed to http_start() stays the caller's and must outlive the
 * http; the store too.
 */
#ifndef ANTOMD_HTTP_H
#define ANTOMD_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "store.h"

struct http;

struct http_stats {
	uint64_t	requests;	/* answered */
	uint64_t	acknowledged;	/* answered 200 SUCCESS */
	uint64_t	rejected;	/* answered 4xx */
	uint64_t	unavailable;	/* answered 5xx */
	unsigned	inflight;	/* started, not yet finished */
};

/*
 * Start serving on listen_fd (a bound, listening socket the http takes
 * over, also on failure).  Returns an http the caller owns, or NULL with
 * err.
 */
struct http *http_start(const struct conf *, struct store *, int listen_fd,
	    char *err, size_t errlen);
/*
 * Put conf in force for requests that start from now on (keys, routes,
 * body limit); requests already started finish under the one they began
 * with.  Takes ownership of conf, also on failure (-1: out of memory, the
 * old one stays).  Settings fixed at start (listen, threads, connection
 * limits) are not changed.
 */
int	http_reload(struct http *, struct conf *);
/* Stop accepting new connections; requests already started go on. */
void	http_quiesce(struct http *);
void	http_stats(struct http *, struct http_stats *);
/* Close every connection and free; the store's writer must be stopped. */
void	http_stop(struct http *);

#endif
