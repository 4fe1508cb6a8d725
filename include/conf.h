/*
 * conf.h - the configuration file (conf/antomd.conf documents every
 * directive and its default).
 *
 * A struct conf is built once by conf_load() and then only read; it may be
 * shared by any number of threads.  A reload builds a new one.
 */
#ifndef ANTOMD_CONF_H
#define ANTOMD_CONF_H

#include <stddef.h>

#include "log.h"
#include "verify.h"

#define CONF_PATH_MAX	1024	/* route paths and file paths */

enum conf_status {
	CONF_OK = 0,
	CONF_ERR_SYNTAX,	/* bad directive, value, or unreadable file */
	CONF_ERR_KEY,		/* a client key that does not load */
	CONF_ERR_MEMORY		/* out of memory (never exits: SIGHUP reloads) */
};

struct conf_route {
	char	*path;		/* local path the daemon serves */
	char	*signed_path;	/* public path Antom signs */
};

#define CONF_PROXIES_MAX	64

/* A trusted_proxy network, IPv4 kept as IPv4-mapped IPv6. */
struct conf_proxy {
	unsigned char	addr[16];
	unsigned	bits;		/* prefix length, 0 to 128 */
};

struct conf {
	char			*listen;	/* as written */
	char			*listen_host;	/* NULL for a unix socket */
	char			*listen_port;
	char			*listen_unix;	/* socket path, or NULL */
	char			*metrics_listen; /* as written; NULL: off */
	char			*metrics_host;
	char			*metrics_port;
	char			*metrics_unix;
	struct conf_proxy	*proxies;
	size_t			 nproxies;
	int			 trust_unix;	/* trusted_proxy unix */
	char			*database;
	/*
	 * database_group_write: the database files are made writable by the
	 * service's group, so that merchant applications can record
	 * refund_links (README "Linking refunds to payments").
	 */
	int			 database_group_write;
	struct verify_keyring	*keys;
	struct conf_route	*routes;
	size_t			 nroutes;
	size_t			 max_body_bytes;
	unsigned		 max_connections;
	unsigned		 idle_timeout_s;
	size_t			 connection_memory_limit;
	unsigned		 threads;
	unsigned		 busy_timeout_ms;
	unsigned		 commit_deadline_ms;	/* PostgreSQL: store.h */
	unsigned		 commit_batch_max;
	unsigned		 queue_max;
	unsigned		 at_risk_after_s;
	unsigned		 shutdown_timeout_s;
	enum log_level		 log_level;
	enum log_format		 log_format;
};

/*
 * Load path.  On CONF_OK *out is a conf the caller owns (conf_free()); on
 * failure *out is NULL and err holds "path:line: reason" (or "path:
 * reason").  Safe to call in a serving daemon: allocation failures are
 * returned, never fatal.
 */
enum conf_status conf_load(const char *path, struct conf **out,
	    char *err, size_t errlen);
void	conf_free(struct conf *);

/* Route whose local path is exactly path (len bytes), or NULL. */
const struct conf_route *conf_route_find(const struct conf *,
	    const char *path, size_t len);

/*
 * 1 when addr (16 bytes, IPv4 as IPv4-mapped IPv6) is in a trusted_proxy
 * network.
 */
int	conf_ip_trusted(const struct conf *, const unsigned char addr[16]);

#endif
