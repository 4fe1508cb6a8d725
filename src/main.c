/*
 * main.c - antomd: arguments, start-up, signals, shutdown.
 *
 * Signals are blocked in every thread and taken synchronously by the main
 * thread with sigtimedwait(), so no work ever happens in a signal handler.
 * The main thread also reports status and watchdog pings to systemd.
 *
 * Exit codes (documented in README and antomd(8)):
 *   0 clean exit, 1 usage or internal error, 2 bad configuration,
 *   3 bad key, 4 cannot bind, 5 cannot open or migrate the database.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "admin.h"
#include "conf.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "util.h"

#ifndef ANTOMD_DEFAULT_CONF
#define ANTOMD_DEFAULT_CONF "/etc/antomd/antomd.conf"
#endif

/* What the log buffer gets to drain at exit (README, "Logs"). */
#define LOG_STOP_US	2000000u

/* The exit codes above; usage and internal errors share 1 by contract. */
enum antomd_exit {
	EXIT_OK = 0,
	EXIT_USAGE = 1,
	EXIT_INTERNAL = 1,	/* could not start a thread, out of memory ... */
	EXIT_CONFIG = 2,
	EXIT_KEY = 3,
	EXIT_BIND = 4,
	EXIT_DATABASE = 5
};

/* What main() starts, serves with and stops. */
struct antomd {
	const char		*conf_path;
	struct conf		*conf;		/* as loaded at start */
	struct store		*store;
	struct http		*http;
	struct admin		*admin;		/* NULL: no metrics listener */
	int			 fd;		/* notifications' socket */
	int			 mfd;		/* metrics' socket, or -1 */
	int			 nfds;		/* sockets systemd passed */
	int			 activated_metrics; /* mfd came from systemd */
	sigset_t		 sigs;		/* taken by sigtimedwait() */
	uint64_t		 wdog_usec;	/* 0: no watchdog */
	struct timespec		 tick;		/* status and watchdog period */
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: antomd [-n] [-c file]\n"
	    "  -c file  configuration file (default %s)\n"
	    "  -n       check the configuration and the database path, "
	    "then exit\n"
	    "  -V       print the version\n", ANTOMD_DEFAULT_CONF);
}

/*
 * A unix socket for a reverse proxy on the same host.  A stale socket
 * file from an earlier run is replaced; anything else at that path is
 * left alone and is an error.  Mode 0660: the proxy connects as a member
 * of antomd's group, nobody else can.
 */
static int
listen_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat sb;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			util_err(err, errlen, "listen unix:%s: exists and is "
			    "not a socket", path);
			return -1;
		}
		/* Stale only if nobody answers: never take a live one's. */
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0 &&
		    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(fd);
			util_err(err, errlen, "listen unix:%s: another process "
			    "is listening on it", path);
			return -1;
		}
		if (fd >= 0)
			close(fd);
		unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    chmod(path, 0660) != 0 || listen(fd, SOMAXCONN) != 0) {
		util_err(err, errlen, "listen unix:%s: %s", path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/*
 * Bind an address as conf.c split it (spec as written; host and port, or
 * a unix socket path).  Returns a listening socket or -1 with err.  Under
 * systemd socket activation the sockets are passed in instead.
 */
static int
listen_socket(const char *spec, const char *host, const char *port,
    const char *unixpath, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, on = 1, rc;

	if (unixpath != NULL)
		return listen_unix(unixpath, err, errlen);

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		util_err(err, errlen, "listen %s: %s", spec, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, SOMAXCONN) == 0)
			break;
		util_err(err, errlen, "listen %s: %s", spec, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* The exit code for a configuration that did not load. */
static enum antomd_exit
conf_exit(enum conf_status st)
{
	switch (st) {
	case CONF_ERR_KEY:
		return EXIT_KEY;
	case CONF_ERR_MEMORY:
		return EXIT_INTERNAL;
	case CONF_OK:
	case CONF_ERR_SYNTAX:
		break;
	}
	return EXIT_CONFIG;
}

/* -n: load the configuration, check the database path, say so. */
static enum antomd_exit
check_config(const char *path)
{
	struct conf *c;
	char err[1024];
	enum conf_status st;

	st = conf_load(path, &c, err, sizeof(err));
	if (st != CONF_OK) {
		fprintf(stderr, "%s\n", err);
		return conf_exit(st);
	}
	if (store_check(c->database, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: database: %s\n", path, err);
		conf_free(c);
		return EXIT_DATABASE;
	}
	conf_free(c);
	printf("configuration OK\n");
	return EXIT_OK;
}

/*
 * Give the metrics the configuration's routes and keys as label values,
 * so their series exist (at 0) before the first request.
 */
static void
register_labels(const struct conf *c)
{
	const char *ids[METRICS_KEYS_MAX];
	long versions[METRICS_KEYS_MAX];
	size_t i, j, nid, nver;

	for (i = 0; i < c->nroutes; i++)
		metrics_route(c->routes[i].path);
	nid = verify_keyring_clients(c->keys, ids, METRICS_KEYS_MAX);
	for (i = 0; i < nid && i < METRICS_KEYS_MAX; i++) {
		nver = verify_keyring_keys(c->keys, ids[i], versions, NULL,
		    METRICS_KEYS_MAX);
		for (j = 0; j < nver && j < METRICS_KEYS_MAX; j++)
			metrics_key(ids[i], versions[j]);
	}
}

static void
status_report(struct http *h, struct store *s, uint64_t wdog_usec)
{
	struct http_stats hs;
	struct store_stats ss;

	http_stats(h, &hs);
	store_stats(s, &ss);
	sd_notifyf(0, "STATUS=acknowledged=%llu rejected=%llu unavailable=%llu "
	    "queued=%u commits=%llu",
	    (unsigned long long)hs.acknowledged,
	    (unsigned long long)hs.rejected,
	    (unsigned long long)hs.unavailable, ss.queued,
	    (unsigned long long)ss.commits);
	/*
	 * Ping only while the writer makes progress: idle, or in a batch
	 * younger than half the watchdog period.  A writer stuck on a lock
	 * or a hung disk stops the pings, and systemd restarts antomd.  A
	 * writer waiting on a COMMIT past commit_deadline_ms (a stalled
	 * PostgreSQL standby) is not stuck: it answers 503 by the deadline
	 * meanwhile, and the connection's keepalives notice a dead server
	 * (store_pg_connect()); a restart would only queue its next batch
	 * behind the locks that COMMIT still holds.
	 */
	if (wdog_usec > 0 && (ss.busy_us < wdog_usec / 2 || ss.late_us > 0))
		sd_notify(0, "WATCHDOG=1");
}

/*
 * SIGHUP: load the file again and put its keys, routes, body limit and
 * log level in force.  A file that does not load changes nothing.
 * Settings bound at start (listen, database, threads, connection and
 * writer limits) keep their start-up values; a changed one is logged.
 */
static void
reload(const char *path, const struct conf *boot, struct http *http)
{
	struct conf *nc;
	struct logbuf lb;
	char err[1024];
	enum conf_status st;
	enum log_level level;
	enum log_format format;
	size_t routes, keys;

	sd_notify(0, "RELOADING=1");
	st = conf_load(path, &nc, err, sizeof(err));
	if (st != CONF_OK) {
		log_warnx("reload failed, the configuration in force is kept: %s",
		    err);
		sd_notify(0, "READY=1");
		return;
	}
#define FIXED(cond, name) do {						\
	if (cond)							\
		log_warnx("reload: %s changed; it takes effect on restart", \
		    name);						\
} while (0)
	FIXED(strcmp(nc->listen, boot->listen) != 0, "listen");
	FIXED((nc->metrics_listen == NULL) != (boot->metrics_listen == NULL) ||
	    (nc->metrics_listen != NULL &&
	    strcmp(nc->metrics_listen, boot->metrics_listen) != 0),
	    "metrics_listen");
	FIXED(strcmp(nc->database, boot->database) != 0, "database");
	FIXED(nc->database_group_write != boot->database_group_write,
	    "database_group_write");
	FIXED(nc->threads != boot->threads, "threads");
	FIXED(nc->max_connections != boot->max_connections, "max_connections");
	FIXED(nc->idle_timeout_s != boot->idle_timeout_s, "idle_timeout_s");
	FIXED(nc->connection_memory_limit != boot->connection_memory_limit,
	    "connection_memory_limit");
	FIXED(nc->commit_batch_max != boot->commit_batch_max,
	    "commit_batch_max");
	FIXED(nc->queue_max != boot->queue_max, "queue_max");
	FIXED(nc->busy_timeout_ms != boot->busy_timeout_ms, "busy_timeout_ms");
	FIXED(nc->commit_deadline_ms != boot->commit_deadline_ms,
	    "commit_deadline_ms");
	FIXED(nc->at_risk_after_s != boot->at_risk_after_s, "at_risk_after_s");
	FIXED(nc->shutdown_timeout_s != boot->shutdown_timeout_s,
	    "shutdown_timeout_s");
#undef FIXED
	level = nc->log_level;
	format = nc->log_format;
	register_labels(nc);
	routes = nc->nroutes;
	keys = verify_keyring_count(nc->keys);
	if (http_reload(http, nc) != 0) {	/* nc is gone either way */
		log_warnx("reload: out of memory, the configuration in force "
		    "is kept");
		sd_notify(0, "READY=1");
		return;
	}
	log_set_level(level);
	log_set_format(format);
	log_begin(&lb, LOG_LEVEL_INFO, "configuration reloaded");
	log_kv_str(&lb, "config", path);
	log_kv_int(&lb, "routes", (long long)routes);
	log_kv_int(&lb, "keys", (long long)keys);
	log_end(&lb);
	sd_notify(0, "READY=1");
}

/* Every thread created from here on inherits the blocked set. */
static void
signals_block(sigset_t *sigs)
{
	sigemptyset(sigs);
	sigaddset(sigs, SIGTERM);
	sigaddset(sigs, SIGINT);
	sigaddset(sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/*
 * Socket activation: one socket for the notifications, and perhaps one
 * named "metrics" (FileDescriptorName=metrics), told apart by name: the
 * order of sockets from two units is not guaranteed.
 */
static void
sockets_passed(struct antomd *d)
{
	char **names = NULL;
	int i;

	d->fd = d->mfd = -1;
	d->nfds = sd_listen_fds_with_names(1, &names);
	for (i = 0; i < d->nfds; i++) {
		int is_metrics = names != NULL && names[i] != NULL &&
		    strcmp(names[i], "metrics") == 0;
		int *slot = is_metrics ? &d->mfd : &d->fd;

		if (*slot >= 0)
			fatalx(EXIT_BIND, "socket activation passed %d sockets; "
			    "antomd takes one for notifications and perhaps "
			    "one named \"metrics\"", d->nfds);
		*slot = SD_LISTEN_FDS_START + i;
	}
	if (names != NULL) {
		for (i = 0; names[i] != NULL; i++)
			free(names[i]);
		free(names);
	}
}

/* The sockets: passed by systemd, else bound from the configuration. */
static void
sockets_open(struct antomd *d)
{
	const struct conf *c = d->conf;
	char err[1024];

	sockets_passed(d);
	if (d->fd >= 0)
		log_info("listening on the socket passed by the service manager");
	else {
		if ((d->fd = listen_socket(c->listen, c->listen_host,
		    c->listen_port, c->listen_unix, err, sizeof(err))) < 0)
			fatalx(EXIT_BIND, "%s", err);
		log_info("listening on %s", c->listen);
	}
	d->activated_metrics = d->mfd >= 0;
	if (d->mfd < 0 && c->metrics_listen != NULL &&
	    (d->mfd = listen_socket(c->metrics_listen, c->metrics_host,
	    c->metrics_port, c->metrics_unix, err, sizeof(err))) < 0)
		/* Monitoring must never stop the intake of payments. */
		log_warnx("metrics_listen: %s: running without metrics and "
		    "health", err);
}

/*
 * While the database is migrated at start (store_set_migrate_hook), every
 * few seconds: the start is making progress.  systemd's start timeout
 * (90 s by default) would otherwise stop a migration of a large database
 * halfway, roll it back, and do the same at every restart.  Each call
 * gives five more minutes: some steps run long between two calls (at 4
 * million notifications, dropping version 8's indexes took 30 s), and a
 * migration that hangs still times out.
 */
static void
migrating(void)
{
	sd_notifyf(0, "EXTEND_TIMEOUT_USEC=300000000\n"
	    "STATUS=migrating the database to schema %d", STORE_SCHEMA_VERSION);
}

/* The store and its writer, the HTTP front end, the admin listener. */
static void
services_start(struct antomd *d)
{
	const struct conf *c = d->conf;
	struct store_options so;
	char err[1024], shown[512];

	register_labels(c);
	store_set_batch_hook(metrics_batch);
	store_set_migrate_hook(migrating);

	so.busy_timeout_ms = c->busy_timeout_ms;
	so.group_write = c->database_group_write;
	so.batch_max = c->commit_batch_max;
	so.queue_max = c->queue_max;
	so.at_risk_after_s = c->at_risk_after_s;
	if ((d->store = store_open(c->database, &so, err, sizeof(err))) == NULL)
		fatalx(EXIT_DATABASE, "database %s: %s", store_display(
		    c->database, shown, sizeof(shown)), err);
	store_set_commit_deadline(d->store, c->commit_deadline_ms);
	if (store_start(d->store, err, sizeof(err)) != 0)
		fatalx(EXIT_INTERNAL, "%s", err);
	if ((d->http = http_start(c, d->store, d->fd, err, sizeof(err))) == NULL)
		fatalx(EXIT_INTERNAL, "%s", err);
	if (d->mfd >= 0) {
		/* A batch is stuck well past what a lock wait may take. */
		uint64_t stuck = ((uint64_t)c->busy_timeout_ms * 2 + 5000) *
		    1000;

		if ((d->admin = admin_start(d->mfd, d->store, d->http, stuck,
		    err, sizeof(err))) == NULL)
			fatalx(EXIT_INTERNAL, "%s", err);
		log_info("metrics and health on %s", d->activated_metrics ?
		    "the socket passed by the service manager" :
		    c->metrics_listen);
	}
}

/* systemd's watchdog, if any: ping at least twice per period. */
static void
watchdog_setup(struct antomd *d)
{
	d->tick.tv_sec = 1;
	d->tick.tv_nsec = 0;
	if (sd_watchdog_enabled(0, &d->wdog_usec) <= 0) {
		d->wdog_usec = 0;
		return;
	}
	if (d->wdog_usec < 2000000) {
		d->tick.tv_sec = 0;
		d->tick.tv_nsec = (long)(d->wdog_usec / 2) * 1000;
	}
}

static void
log_started(const struct antomd *d)
{
	const struct conf *c = d->conf;
	struct logbuf lb;
	char shown[512];

	log_begin(&lb, LOG_LEVEL_INFO, "started");
	log_kv_str(&lb, "version", ANTOMD_VERSION);
	log_kv_str(&lb, "config", d->conf_path);
	log_kv_str(&lb, "database", store_display(c->database, shown,
	    sizeof(shown)));
	log_kv_int(&lb, "routes", (long long)c->nroutes);
	log_kv_int(&lb, "keys", (long long)verify_keyring_count(c->keys));
	log_kv_int(&lb, "threads", c->threads);
	log_kv_int(&lb, "commit_batch_max", c->commit_batch_max);
	log_end(&lb);
}

/* Serve until SIGTERM or SIGINT, which is returned. */
static int
serve(struct antomd *d)
{
	int sig;

	for (;;) {
		sig = sigtimedwait(&d->sigs, NULL, &d->tick);
		if (sig == SIGTERM || sig == SIGINT)
			return sig;
		if (sig == SIGHUP)
			reload(d->conf_path, d->conf, d->http);
		status_report(d->http, d->store, d->wdog_usec);
		log_limit_sweep(util_mono_us());
	}
}

/* Wait, polling every step_us, until no request is in flight or deadline. */
static unsigned
wait_idle(struct http *http, uint64_t deadline, unsigned step_us)
{
	struct http_stats hs;

	for (;;) {
		http_stats(http, &hs);
		if (hs.inflight == 0 || util_mono_us() >= deadline)
			return hs.inflight;
		usleep(step_us);
	}
}

/* Stop accepting, let started requests finish, then drain the writer. */
static void
drain(struct antomd *d)
{
	const struct conf *c = d->conf;
	unsigned left;

	http_quiesce(d->http);
	left = wait_idle(d->http, util_mono_us() +
	    (uint64_t)c->shutdown_timeout_s * 1000000u, 10000);
	if (left > 0) {
		log_warnx("shutdown: %u requests still in flight after %us; "
		    "refusing what is not committed yet (Antom will deliver "
		    "it again)", left, c->shutdown_timeout_s);
		store_abort(d->store);
	}
	store_stop(d->store);
	/*
	 * The writer has answered every job; give the connections it
	 * resumed a moment to send those answers before closing them all.
	 */
	(void)wait_idle(d->http, util_mono_us() + 1000000u, 5000);
}

static void
services_stop(struct antomd *d)
{
	const struct conf *c = d->conf;

	admin_stop(d->admin);
	http_stop(d->http);
	store_close(d->store);
	/* Our own socket files only: systemd's are systemd's to remove. */
	if (d->nfds == 0 && c->listen_unix != NULL)
		unlink(c->listen_unix);
	if (d->nfds < 2 && c->metrics_unix != NULL)
		unlink(c->metrics_unix);
	conf_free(d->conf);
}

int
main(int argc, char **argv)
{
	struct antomd d;
	enum conf_status st;
	char err[1024];
	int ch, check = 0, sig;

	memset(&d, 0, sizeof(d));
	d.conf_path = ANTOMD_DEFAULT_CONF;
	while ((ch = getopt(argc, argv, "c:nhV")) != -1) {
		switch (ch) {
		case 'c':
			d.conf_path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'V':
			printf("antomd %s\n", ANTOMD_VERSION);
			return EXIT_OK;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (check)
		return check_config(d.conf_path);

	/*
	 * The database holds payment data: readable by the service's group
	 * (merchant applications), never by others, whatever umask we got.
	 */
	umask(umask(0) | 027);
	log_init(LOG_LEVEL_INFO);
	if ((st = conf_load(d.conf_path, &d.conf, err, sizeof(err))) != CONF_OK)
		fatalx(conf_exit(st), "%s", err);
	log_set_level(d.conf->log_level);
	log_set_format(d.conf->log_format);
	signals_block(&d.sigs);
	/*
	 * From here no thread waits for stderr (log.h), main included: the
	 * log thread starts before any other, and inherits the blocked
	 * signals.  What failed before was written directly.
	 */
	if (log_sink_start(STDERR_FILENO, LOG_BUFFER_BYTES, err,
	    sizeof(err)) != 0)
		fatalx(EXIT_INTERNAL, "%s", err);
	sockets_open(&d);
	services_start(&d);
	watchdog_setup(&d);
	log_started(&d);
	sd_notify(0, "READY=1");

	sig = serve(&d);
	log_info("shutting down: %s", strsignal(sig));
	sd_notify(0, "STOPPING=1");
	drain(&d);
	services_stop(&d);
	log_limit_sweep(UINT64_MAX);	/* what the last windows left out */
	log_info("stopped");
	/* A sink that does not drain costs the exit LOG_STOP_US at most. */
	(void)log_sink_stop(LOG_STOP_US);
	return EXIT_OK;
}
