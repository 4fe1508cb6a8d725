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

/*
 * Split "http://host[:port]/path[?query]" (host may be [v6]); port
 * defaults to 80; *path points into url ("/" when absent).  0 or -1.
 */
int	client_url_parse(const char *url, char *host, size_t hostcap,
	    char *port, size_t portcap, const char **path);

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

/* POST body to url with the given extra headers and Content-Type: application/json. */
int	client_post(const char *url, const struct client_header *, size_t nhdr,
	    const void *body, size_t len, int timeout_ms,
	    struct client_response *, char *err, size_t errlen);

void	client_response_free(struct client_response *);

#endif
