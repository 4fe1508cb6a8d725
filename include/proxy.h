/*
 * proxy.h - who the client is behind a trusted reverse proxy.
 *
 * From the socket peer, the trusted_proxy list and the X-Forwarded-For
 * header, the client's address as README ("Addresses") promises it: only
 * when the peer is a trusted proxy, the right-most X-Forwarded-For entry
 * that is not itself a trusted proxy; believed only from exactly one
 * header of at most PROXY_XFF_MAX bytes whose entries (at most
 * PROXY_XFF_ENTRIES looked at, from the right) are IP addresses.  The
 * address is printed by inet_ntop(), never copied from the header.
 *
 * Pure functions of their arguments (no sockets, no libmicrohttpd), so
 * thread-safe and tested on their own (tests/check_proxy.c).
 */
#ifndef ANTOMD_PROXY_H
#define ANTOMD_PROXY_H

#include <stddef.h>
#include <sys/socket.h>

#include "conf.h"

#define PROXY_XFF_MAX		1024	/* longer X-Forwarded-For: ignored */
#define PROXY_XFF_ENTRIES	32	/* entries looked at, from the right */
#define PROXY_ADDR_TEXT		46	/* INET6_ADDRSTRLEN */

enum proxy_peer_kind {
	PROXY_PEER_UNKNOWN,	/* no address, or a family we do not know */
	PROXY_PEER_IP,
	PROXY_PEER_UNIX
};

/* A connection's socket peer. */
struct proxy_peer {
	enum proxy_peer_kind	kind;
	unsigned char		addr[16];	/* IPv4 as IPv4-mapped IPv6 */
	char			text[PROXY_ADDR_TEXT]; /* address, or "unix" */
};

/* Describe sa (may be NULL) into *peer; returns peer->kind. */
enum proxy_peer_kind proxy_peer(const struct sockaddr *sa,
	    struct proxy_peer *peer);

/*
 * The client's address behind peer into out (cap bytes, at least
 * PROXY_ADDR_TEXT): 0, or -1 when there is none to believe.  xff is the
 * first X-Forwarded-For header's value (NULL: none) and nxff how many of
 * them the request carried; conf gives the trusted proxies.
 */
int	proxy_client_addr(const struct conf *, const struct proxy_peer *peer,
	    const char *xff, unsigned nxff, char *out, size_t cap);

#endif
