/*
 * proxy.c - the client's address behind a trusted reverse proxy.
 *
 * Pure and thread-safe (proxy.h): everything comes in as arguments.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "proxy.h"

enum proxy_peer_kind
proxy_peer(const struct sockaddr *sa, struct proxy_peer *peer)
{
	memset(peer, 0, sizeof(*peer));
	if (sa == NULL)
		return peer->kind = PROXY_PEER_UNKNOWN;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		peer->addr[10] = peer->addr[11] = 0xff;
		memcpy(peer->addr + 12, &sin->sin_addr, 4);
		inet_ntop(AF_INET, &sin->sin_addr, peer->text,
		    sizeof(peer->text));
		return peer->kind = PROXY_PEER_IP;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		memcpy(peer->addr, &sin6->sin6_addr, 16);
		inet_ntop(AF_INET6, &sin6->sin6_addr, peer->text,
		    sizeof(peer->text));
		return peer->kind = PROXY_PEER_IP;
	}
	if (sa->sa_family == AF_UNIX) {
		snprintf(peer->text, sizeof(peer->text), "unix");
		return peer->kind = PROXY_PEER_UNIX;
	}
	return peer->kind = PROXY_PEER_UNKNOWN;
}

/* One X-Forwarded-For entry as an address; 0, or -1 if it is not one. */
static int
proxy_entry(const char *s, size_t len, unsigned char addr[16])
{
	char tmp[PROXY_ADDR_TEXT];
	struct in_addr a4;

	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, tmp, &a4) == 1) {
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &a4, 4);
		return 0;
	}
	return inet_pton(AF_INET6, tmp, addr) == 1 ? 0 : -1;
}

static int
proxy_trusted_peer(const struct conf *c, const struct proxy_peer *peer)
{
	switch (peer->kind) {
	case PROXY_PEER_IP:
		return conf_ip_trusted(c, peer->addr);
	case PROXY_PEER_UNIX:
		return c->trust_unix;
	case PROXY_PEER_UNKNOWN:
		break;
	}
	return 0;
}

/*
 * The entries left of the right-most untrusted one were written by
 * whoever that client is, and prove nothing: the walk stops there.  An
 * entry that is not an address ends it with nothing.
 */
int
proxy_client_addr(const struct conf *c, const struct proxy_peer *peer,
    const char *xff, unsigned nxff, char *out, size_t cap)
{
	unsigned char addr[16];
	const char *end, *p, *b, *e;
	unsigned entries;

	if (!proxy_trusted_peer(c, peer) || nxff != 1 || xff == NULL ||
	    strlen(xff) > PROXY_XFF_MAX || *xff == '\0')
		return -1;
	end = xff + strlen(xff);
	for (entries = 0; entries < PROXY_XFF_ENTRIES; entries++) {
		for (p = end; p > xff && p[-1] != ','; p--)
			;
		for (b = p; b < end && (*b == ' ' || *b == '\t'); b++)
			;
		for (e = end; e > b && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		if (proxy_entry(b, (size_t)(e - b), addr) != 0)
			return -1;
		if (!conf_ip_trusted(c, addr) || p == xff)
			break;	/* the client, or the left-most entry */
		end = p - 1;
	}
	if (entries == PROXY_XFF_ENTRIES)
		return -1;
	if (addr[10] == 0xff && addr[11] == 0xff &&
	    memcmp(addr, "\0\0\0\0\0\0\0\0\0\0", 10) == 0)
		inet_ntop(AF_INET, addr + 12, out, (socklen_t)cap);
	else
		inet_ntop(AF_INET6, addr, out, (socklen_t)cap);
	return 0;
}
