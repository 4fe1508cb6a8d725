/*
 * client.h - a minimal, bounded HTTP/1.1 client over TCP (antomctl, tests).
 *
 * One request per connection ("Connection: close"), every step bounded by
 * a timeout, responses capped at CLIENT_RESPONSE_MAX bytes.  Not used by
 * the daemon.  Thread-safe (no shared state).
 */
#ifndef ANTOMD_CLIENT_H
#define ANTOMD_CLIENT_H

#include <stddef.h>

#define CLIENT_RESPONSE_MAX	(1024 * 1024)

struct client_header {
	const char	*name;
	const char	*value;
};

struct client_response {
	int	 status;	/* HTTP status code */
	char	*head;		/* status line and headers, NUL-terminated; owned */
	char	*body;		/* NUL-terminated (body may hold NULs); owned */
	size_t	 bodylen;
};

#define CLIENT_HOST_MAX		256	/* longest host name, NUL included */
#define CLIENT_PORT_MAX		8

/* A URL split by client_url_parse(). */
struct client_url {
	char		 host[CLIENT_HOST_MAX];	/* no brackets around IPv6 */
	char		 port[CLIENT_PORT_MAX];	/* "80" when absent */
	const char	*path;		/* into the URL: "/p[?q]", "/" if absent */
	const char	*auth;		/* into the URL: "host[:port]" as written */
	size_t		 authlen;
};

/*
 * Split "http://host[:port]/path[?query]" (host may be [v6]).  Anything
 * that could smuggle bytes into the request line (blanks, control
 * characters) is refused, so the path can be sent verbatim.  0, or -1
 * with a reason in err.
 */
int	client_url_parse(const char *url, struct client_url *, char *err,
	    size_t errlen);

/* Connect to host:port within timeout_ms; returns a socket or -1 with err. */
int	client_connect(const char *host, const char *port, int timeout_ms,
	    char *err, size_t errlen);

/*
 * Send len raw bytes on a new connection and read the whole response (by
 * Content-Length, chunked, or until close).  0, or -1 with err.
 */
int	client_raw(const char *host, const char *port, const void *req,
	    size_t len, int timeout_ms, struct client_response *,
	    char *err, size_t errlen);

/*
 * POST body to url with Content-Type: application/json and the given
 * extra headers after the fixed ones, in that order.  0, or -1 with err.
 */
int	client_post(const char *url, const struct client_header *, size_t nhdr,
	    const void *body, size_t len, int timeout_ms,
	    struct client_response *, char *err, size_t errlen);

/*
 * The exact bytes client_post() would send: a buffer the caller frees,
 * *reqlen long; NULL with err.
 */
char	*client_post_request(const char *url, const struct client_header *,
	    size_t nhdr, const void *body, size_t len, size_t *reqlen,
	    char *err, size_t errlen);

void	client_response_free(struct client_response *);

#endif
