/*
 * conf.c - parse antomd.conf, redis.conf style.
 *
 * One directive per line, blanks between arguments, '#' starts a comment
 * at the beginning of a line or after a blank.  Every value is checked
 * here, at load time, so the rest of the daemon can trust the struct:
 * unknown directives, missing or extra arguments and out-of-range numbers
 * are errors reported as "file:line: reason", never ignored.
 *
 * Not thread-safe while loading; the result is immutable.  conf_load()
 * also runs on SIGHUP in a serving daemon, so it allocates with malloc()
 * and reports running out of memory as CONF_ERR_MEMORY: a reload must
 * never exit the process (util.h's x* allocators would).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "util.h"

#define CONF_LINE_MAX	8192
#define CONF_ARGS_MAX	8

struct conf_range {
	const char		*name;
	unsigned long long	 min;
	unsigned long long	 max;
	size_t			 offset;
	int			 is_size;	/* size_t field, else unsigned */
};

static const struct conf_range conf_ranges[] = {
	{ "max_body_bytes", 256, 16u << 20,
	    offsetof(struct conf, max_body_bytes), 1 },
	{ "max_connections", 1, 65535,
	    offsetof(struct conf, max_connections), 0 },
	{ "idle_timeout_s", 1, 3600,
	    offsetof(struct conf, idle_timeout_s), 0 },
	{ "connection_memory_limit", 4096, 1u << 20,
	    offsetof(struct conf, connection_memory_limit), 1 },
	{ "threads", 1, 64, offsetof(struct conf, threads), 0 },
	{ "busy_timeout_ms", 0, 600000,
	    offsetof(struct conf, busy_timeout_ms), 0 },
	{ "commit_deadline_ms", 100, 600000,
	    offsetof(struct conf, commit_deadline_ms), 0 },
	{ "commit_batch_max", 1, 1024,
	    offsetof(struct conf, commit_batch_max), 0 },
	{ "queue_max", 1, 1u << 20, offsetof(struct conf, queue_max), 0 },
	{ "at_risk_after_s", 1, 7 * 86400,
	    offsetof(struct conf, at_risk_after_s), 0 },
	{ "shutdown_timeout_s", 0, 3600,
	    offsetof(struct conf, shutdown_timeout_s), 0 },
};

static enum conf_status conf_listen(struct conf *, const char *);
static enum conf_status conf_metrics_listen(struct conf *, const char *);

/* A conf holding every default; NULL when out of memory. */
static struct conf *
conf_defaults(void)
{
	struct conf *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->database = strdup("/var/lib/antomd/antomd.db")) == NULL ||
	    (c->keys = verify_keyring_new()) == NULL ||
	    conf_listen(c, "127.0.0.1:8080") != CONF_OK ||
	    conf_metrics_listen(c, "127.0.0.1:9101") != CONF_OK) {
		conf_free(c);
		return NULL;
	}
	c->max_body_bytes = 64 * 1024;
	c->max_connections = 512;
	c->idle_timeout_s = 30;
	c->connection_memory_limit = 32 * 1024;
	c->threads = 2;
	c->busy_timeout_ms = 5000;
	c->commit_deadline_ms = 5000;
	c->commit_batch_max = 64;
	c->queue_max = 4096;
	c->at_risk_after_s = 3600;
	c->shutdown_timeout_s = 10;
	c->log_level = LOG_LEVEL_INFO;
	c->log_format = LOG_FORMAT_LOGFMT;
	return c;
}

void
conf_free(struct conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->listen);
	free(c->listen_host);
	free(c->listen_port);
	free(c->listen_unix);
	free(c->metrics_listen);
	free(c->metrics_host);
	free(c->metrics_port);
	free(c->metrics_unix);
	free(c->proxies);
	free(c->database);
	verify_keyring_free(c->keys);
	for (i = 0; i < c->nroutes; i++) {
		free(c->routes[i].path);
		free(c->routes[i].signed_path);
	}
	free(c->routes);
	free(c);
}

/* Split line in place on blanks; returns the argument count or -1. */
static int
conf_split(char *line, char **argv)
{
	int argc = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			break;
		if (argc == CONF_ARGS_MAX)
			return -1;
		argv[argc++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		if (*p != '\0')
			*p++ = '\0';
	}
	return argc;
}

static int
conf_number(const char *s, unsigned long long min, unsigned long long max,
    unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * A path we serve or sign: absolute, no query, no fragment, printable
 * ASCII only, so it can be compared byte for byte with the request line.
 */
static int
conf_valid_path(const char *p)
{
	size_t n = strlen(p);

	if (n == 0 || n >= CONF_PATH_MAX || p[0] != '/')
		return 0;
	for (; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '?' || *p == '#')
			return 0;
	return 1;
}

/* Replace an address's four fields (conf_addr()), freeing the old ones. */
static void
conf_addr_set(char **spec, char **hostp, char **portp, char **unixp,
    char *nspec, char *nhost, char *nport, char *nunix)
{
	free(*spec);
	free(*hostp);
	free(*portp);
	free(*unixp);
	*spec = nspec;
	*hostp = nhost;
	*portp = nport;
	*unixp = nunix;
}

/*
 * Split "host:port" or "[v6]:port"; or take "unix:/absolute/path".  The
 * four fields are replaced only on CONF_OK; CONF_ERR_SYNTAX when v is not
 * an address, CONF_ERR_MEMORY when out of memory.
 */
static enum conf_status
conf_addr(const char *v, char **spec, char **hostp, char **portp,
    char **unixp)
{
	const char *colon;
	char *host = NULL, *listen = NULL, *port_s = NULL, *upath = NULL;
	unsigned long long port;

	if (strncmp(v, "unix:", 5) == 0) {
		/* sun_path holds 108 bytes with its NUL. */
		if (v[5] != '/' || strlen(v + 5) > 107)
			return CONF_ERR_SYNTAX;
		/* v may be *spec itself: copy everything before freeing. */
		if ((listen = strdup(v)) == NULL ||
		    (upath = strdup(v + 5)) == NULL)
			goto oom;
		conf_addr_set(spec, hostp, portp, unixp, listen, NULL, NULL,
		    upath);
		return CONF_OK;
	}
	if (v[0] == '[') {
		const char *close = strchr(v, ']');

		if (close == NULL || close[1] != ':')
			return CONF_ERR_SYNTAX;
		host = strndup(v + 1, (size_t)(close - v - 1));
		colon = close + 1;
	} else {
		colon = strrchr(v, ':');
		if (colon == NULL || strchr(v, ':') != colon)
			return CONF_ERR_SYNTAX;
		host = strndup(v, (size_t)(colon - v));
	}
	if (host == NULL)
		goto oom;
	if (*host == '\0' || conf_number(colon + 1, 1, 65535, &port) != 0) {
		free(host);
		return CONF_ERR_SYNTAX;
	}
	if ((listen = strdup(v)) == NULL || (port_s = strdup(colon + 1)) == NULL)
		goto oom;
	conf_addr_set(spec, hostp, portp, unixp, listen, host, port_s, NULL);
	return CONF_OK;
oom:
	free(host);
	free(listen);
	free(port_s);
	free(upath);
	return CONF_ERR_MEMORY;
}

static enum conf_status
conf_listen(struct conf *c, const char *v)
{
	return conf_addr(v, &c->listen, &c->listen_host, &c->listen_port,
	    &c->listen_unix);
}

/* metrics_listen ADDRESS, or off / none: no second listener. */
static enum conf_status
conf_metrics_listen(struct conf *c, const char *v)
{
	if (strcmp(v, "off") == 0 || strcmp(v, "none") == 0) {
		conf_addr_set(&c->metrics_listen, &c->metrics_host,
		    &c->metrics_port, &c->metrics_unix, NULL, NULL, NULL, NULL);
		return CONF_OK;
	}
	return conf_addr(v, &c->metrics_listen, &c->metrics_host,
	    &c->metrics_port, &c->metrics_unix);
}

/*
 * trusted_proxy ADDRESS | ADDRESS/BITS | unix.  An IPv4 address is kept
 * as an IPv4-mapped IPv6 one (prefix + 96), so one comparison serves both
 * families and a v4 peer on a dual-stack socket matches its v4 entry.
 */
static enum conf_status
conf_trusted_proxy(struct conf *c, const char *v)
{
	struct conf_proxy p, *np;
	char addr[INET6_ADDRSTRLEN];
	const char *slash;
	unsigned long long bits = 128;
	struct in_addr a4;
	size_t alen;
	int v4;

	if (strcmp(v, "unix") == 0) {
		c->trust_unix = 1;
		return CONF_OK;
	}
	slash = strchr(v, '/');
	alen = slash != NULL ? (size_t)(slash - v) : strlen(v);
	if (alen == 0 || alen >= sizeof(addr))
		return CONF_ERR_SYNTAX;
	memcpy(addr, v, alen);
	addr[alen] = '\0';
	memset(&p, 0, sizeof(p));
	v4 = inet_pton(AF_INET, addr, &a4) == 1;
	if (v4) {
		p.addr[10] = p.addr[11] = 0xff;
		memcpy(p.addr + 12, &a4, 4);
	} else if (inet_pton(AF_INET6, addr, p.addr) != 1)
		return CONF_ERR_SYNTAX;
	if (slash != NULL &&
	    conf_number(slash + 1, 0, v4 ? 32 : 128, &bits) != 0)
		return CONF_ERR_SYNTAX;
	if (slash == NULL)
		bits = v4 ? 32 : 128;
	p.bits = (unsigned)bits + (v4 ? 96 : 0);
	if (c->nproxies >= CONF_PROXIES_MAX)
		return CONF_ERR_SYNTAX;
	np = realloc(c->proxies, (c->nproxies + 1) * sizeof(p));
	if (np == NULL)
		return CONF_ERR_MEMORY;
	c->proxies = np;
	c->proxies[c->nproxies++] = p;
	return CONF_OK;
}

int
conf_ip_trusted(const struct conf *c, const unsigned char addr[16])
{
	size_t i;

	for (i = 0; i < c->nproxies; i++) {
		const struct conf_proxy *p = &c->proxies[i];
		unsigned full = p->bits / 8, rest = p->bits % 8;

		if (memcmp(p->addr, addr, full) != 0)
			continue;
		if (rest == 0 || ((p->addr[full] ^ addr[full]) &
		    (0xff << (8 - rest)) & 0xff) == 0)
			return 1;
	}
	return 0;
}

static enum conf_status
conf_add_route(struct conf *c, const char *path, const char *signed_path,
    char *why, size_t whylen)
{
	struct conf_route *nr, *r;
	size_t i;

	if (!conf_valid_path(path) ||
	    (signed_path != NULL && !conf_valid_path(signed_path))) {
		util_err(why, whylen, "a route path must start with '/' and "
		    "hold no blanks, '?', '#' or non-ASCII bytes");
		return CONF_ERR_SYNTAX;
	}
	for (i = 0; i < c->nroutes; i++) {
		if (strcmp(c->routes[i].path, path) == 0) {
			util_err(why, whylen, "route %s is already defined",
			    path);
			return CONF_ERR_SYNTAX;
		}
	}
	nr = realloc(c->routes, (c->nroutes + 1) * sizeof(*c->routes));
	if (nr == NULL)
		return CONF_ERR_MEMORY;
	c->routes = nr;
	r = &c->routes[c->nroutes];
	r->path = strdup(path);
	r->signed_path = strdup(signed_path != NULL ? signed_path : path);
	if (r->path == NULL || r->signed_path == NULL) {
		free(r->path);
		free(r->signed_path);
		return CONF_ERR_MEMORY;
	}
	c->nroutes++;
	return CONF_OK;
}

/* Client ids are printable ASCII without blanks, as Antom issues them. */
static int
conf_valid_client_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	for (; *s != '\0'; s++)
		if (*s <= 0x20 || *s >= 0x7f)
			return 0;
	return 1;
}

/*
 * The signed content joins client-id, request-time and body with '.'
 * (docs/protocol.md section 2.1), so it cannot be split back: with "T_1"
 * and "T_1.2" on one key, a notification for T_1.2 re-sent as T_1 with
 * request-time "2.<original>" signs the same bytes and verifies.  Antom's
 * client ids never hold a '.' (section 1.2: SANDBOX_..., T_...), so one
 * here is refused rather than made ambiguous.
 */
static int
conf_client_id_dotless(const char *s)
{
	return strchr(s, '.') == NULL;
}

/* client ID VERSION KEY: a public key for the client's key version. */
static enum conf_status
conf_client(struct conf *c, char **argv, char *why, size_t whylen)
{
	unsigned long long version;
	EVP_PKEY *pkey;
	char kerr[256];

	if (!conf_valid_client_id(argv[1])) {
		util_err(why, whylen, "client id must be 1 to 64 printable "
		    "characters");
		return CONF_ERR_SYNTAX;
	}
	if (!conf_client_id_dotless(argv[1])) {
		util_err(why, whylen, "client id must not contain '.': the "
		    "signed content joins client-id and request-time with '.', "
		    "so another id's signature would verify for this one");
		return CONF_ERR_SYNTAX;
	}
	if (conf_number(argv[2], 1, 1000000, &version) != 0) {
		util_err(why, whylen, "key version must be an integer from 1 "
		    "to 1000000");
		return CONF_ERR_SYNTAX;
	}
	pkey = verify_key_load(argv[3], kerr, sizeof(kerr));
	if (pkey == NULL) {
		util_err(why, whylen, "client %s key %llu: %s", argv[1], version,
		    kerr);
		return CONF_ERR_KEY;
	}
	if (verify_keyring_add(c->keys, argv[1], (long)version, pkey, kerr,
	    sizeof(kerr)) != 0) {
		util_err(why, whylen, "%s", kerr);
		return CONF_ERR_SYNTAX;
	}
	return CONF_OK;
}

/* A directive of conf_ranges: one integer in its range. */
static enum conf_status
conf_range(struct conf *c, const struct conf_range *r, const char *arg,
    char *why, size_t whylen)
{
	unsigned long long v;

	if (conf_number(arg, r->min, r->max, &v) != 0) {
		util_err(why, whylen, "%s must be an integer from %llu to %llu",
		    r->name, r->min, r->max);
		return CONF_ERR_SYNTAX;
	}
	if (r->is_size)
		*(size_t *)(void *)((char *)c + r->offset) = (size_t)v;
	else
		*(unsigned *)(void *)((char *)c + r->offset) = (unsigned)v;
	return CONF_OK;
}

/*
 * One directive: CONF_OK, or an error with why filled (but for
 * CONF_ERR_MEMORY, which conf_load() words itself).
 */
static enum conf_status
conf_directive(struct conf *c, int argc, char **argv, char *why, size_t whylen)
{
	const char *name = argv[0];
	enum conf_status st = CONF_OK;
	char *db;
	size_t i, len;

	for (i = 0; i < sizeof(conf_ranges) / sizeof(conf_ranges[0]); i++) {
		if (strcmp(name, conf_ranges[i].name) != 0)
			continue;
		if (argc != 2)
			goto nargs;
		return conf_range(c, &conf_ranges[i], argv[1], why, whylen);
	}

	if (strcmp(name, "listen") == 0) {
		if (argc != 2)
			goto nargs;
		if ((st = conf_listen(c, argv[1])) == CONF_ERR_SYNTAX)
			util_err(why, whylen, "listen takes host:port, "
			    "[ipv6]:port or unix:/absolute/path");
	} else if (strcmp(name, "database") == 0) {
		if (argc < 2)
			goto nargs;
		/*
		 * A path, or a libpq URI or conninfo: "key=value" pairs
		 * separated by blanks, given back one blank apart (a longer
		 * one is a URI: one word).
		 */
		for (i = 1, len = 0; i < (size_t)argc; i++) {
			if (argc > 2 && strchr(argv[i], '=') == NULL)
				goto nargs;
			len += strlen(argv[i]) + 1;
		}
		if (len > CONF_PATH_MAX) {
			util_err(why, whylen, "database path too long");
			return CONF_ERR_SYNTAX;
		}
		if ((db = malloc(len)) == NULL)
			return CONF_ERR_MEMORY;
		for (i = 1, len = 0; i < (size_t)argc; i++)
			len += (size_t)sprintf(db + len, "%s%s", i > 1 ? " " : "",
			    argv[i]);
		free(c->database);
		c->database = db;
	} else if (strcmp(name, "database_group_write") == 0) {
		if (argc != 2)
			goto nargs;
		if (strcmp(argv[1], "yes") == 0)
			c->database_group_write = 1;
		else if (strcmp(argv[1], "no") == 0)
			c->database_group_write = 0;
		else {
			util_err(why, whylen, "database_group_write is yes or "
			    "no");
			return CONF_ERR_SYNTAX;
		}
	} else if (strcmp(name, "route") == 0) {
		if (argc != 2 && argc != 3)
			goto nargs;
		st = conf_add_route(c, argv[1], argc == 3 ? argv[2] : NULL,
		    why, whylen);
	} else if (strcmp(name, "client") == 0) {
		if (argc != 4)
			goto nargs;
		st = conf_client(c, argv, why, whylen);
	} else if (strcmp(name, "metrics_listen") == 0) {
		if (argc != 2)
			goto nargs;
		if ((st = conf_metrics_listen(c, argv[1])) == CONF_ERR_SYNTAX)
			util_err(why, whylen, "metrics_listen takes host:port, "
			    "[ipv6]:port, unix:/absolute/path or off");
	} else if (strcmp(name, "trusted_proxy") == 0) {
		if (argc != 2)
			goto nargs;
		if ((st = conf_trusted_proxy(c, argv[1])) == CONF_ERR_SYNTAX)
			util_err(why, whylen, "trusted_proxy takes an IPv4 or "
			    "IPv6 address, ADDRESS/BITS or unix (at most %d)",
			    CONF_PROXIES_MAX);
	} else if (strcmp(name, "log_format") == 0) {
		if (argc != 2)
			goto nargs;
		if (log_format_parse(argv[1], &c->log_format) != 0) {
			util_err(why, whylen, "log_format is logfmt or json");
			return CONF_ERR_SYNTAX;
		}
	} else if (strcmp(name, "log_level") == 0) {
		if (argc != 2)
			goto nargs;
		if (log_level_parse(argv[1], &c->log_level) != 0) {
			util_err(why, whylen, "log_level is one of debug, info, "
			    "warn, error");
			return CONF_ERR_SYNTAX;
		}
	} else {
		util_err(why, whylen, "unknown directive '%.64s'", name);
		return CONF_ERR_SYNTAX;
	}
	return st;

nargs:
	util_err(why, whylen, "wrong number of arguments for '%s'", name);
	return CONF_ERR_SYNTAX;
}

/* What a loaded file must hold as a whole; 0, or -1 with err. */
static int
conf_complete(const struct conf *c, const char *path, char *err,
    size_t errlen)
{
	if (c->nroutes == 0) {
		util_err(err, errlen, "%s: no route configured", path);
		return -1;
	}
	/* One socket file cannot be both: the second bind would unlink the first. */
	if (c->listen_unix != NULL && c->metrics_unix != NULL &&
	    strcmp(c->listen_unix, c->metrics_unix) == 0) {
		util_err(err, errlen, "%s: listen and metrics_listen are the "
		    "same socket unix:%s", path, c->listen_unix);
		return -1;
	}
	if (verify_keyring_count(c->keys) == 0) {
		util_err(err, errlen, "%s: no client key configured: every "
		    "request would be refused", path);
		return -1;
	}
	return 0;
}

/*
 * One line read by getline(): its line ending removed, split, and the
 * directive applied.  CONF_OK or an error with err filled.
 */
static enum conf_status
conf_line(struct conf *c, char *line, size_t n, const char *path,
    unsigned lineno, char *err, size_t errlen)
{
	char *argv[CONF_ARGS_MAX], why[512];
	enum conf_status st;
	int argc;

	if (memchr(line, '\0', n) != NULL) {
		util_err(err, errlen, "%s:%u: NUL byte in line", path, lineno);
		return CONF_ERR_SYNTAX;
	}
	if (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	if (n > 0 && line[n - 1] == '\r')
		line[--n] = '\0';
	if (n > CONF_LINE_MAX) {
		util_err(err, errlen, "%s:%u: line longer than %d bytes", path,
		    lineno, CONF_LINE_MAX);
		return CONF_ERR_SYNTAX;
	}
	if ((argc = conf_split(line, argv)) == 0)
		return CONF_OK;
	if (argc < 0) {
		util_err(err, errlen, "%s:%u: too many arguments", path, lineno);
		return CONF_ERR_SYNTAX;
	}
	st = conf_directive(c, argc, argv, why, sizeof(why));
	if (st != CONF_OK)
		util_err(err, errlen, "%s:%u: %s", path, lineno,
		    st == CONF_ERR_MEMORY ? "out of memory" : why);
	return st;
}

enum conf_status
conf_load(const char *path, struct conf **out, char *err, size_t errlen)
{
	struct conf *c;
	enum conf_status st = CONF_ERR_SYNTAX;
	char *line = NULL;
	size_t linecap = 0;
	ssize_t got;
	unsigned lineno = 0;
	FILE *f = NULL;

	*out = NULL;
	if ((c = conf_defaults()) == NULL) {
		util_err(err, errlen, "%s: out of memory", path);
		return CONF_ERR_MEMORY;
	}
	if ((f = fopen(path, "r")) == NULL) {
		util_err(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	while ((got = getline(&line, &linecap, f)) != -1) {
		st = conf_line(c, line, (size_t)got, path, ++lineno, err,
		    errlen);
		if (st != CONF_OK)
			goto fail;
	}
	st = CONF_ERR_SYNTAX;
	if (ferror(f)) {
		util_err(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (conf_complete(c, path, err, errlen) != 0)
		goto fail;
	free(line);
	fclose(f);
	*out = c;
	return CONF_OK;

fail:
	free(line);
	if (f != NULL)
		fclose(f);
	conf_free(c);
	return st;
}

const struct conf_route *
conf_route_find(const struct conf *c, const char *path, size_t len)
{
	size_t i;

	for (i = 0; i < c->nroutes; i++) {
		const char *p = c->routes[i].path;

		if (strlen(p) == len && memcmp(p, path, len) == 0)
			return &c->routes[i];
	}
	return NULL;
}
