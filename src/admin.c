/*
 * admin.c - the operators' listener: /metrics and /healthz.
 *
 * Threads: a single-threaded libmicrohttpd daemon of its own.  Its
 * handler only reads: the metrics' atomics, store_stats(),
 * store_writable(), http_stats() and log_sink_stats(), each safe from any
 * thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "admin.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "util.h"

#define ADMIN_TEXT	"text/plain; charset=utf-8"
/*
 * The log sink has taken nothing for this long with lines pending: a
 * pipe nobody reads, a hung journal (README, "Metrics and health").  A sink that
 * works takes a write of LOG_WRITE_MAX bytes in far less.
 */
#define ADMIN_LOG_STALL_US	(5u * 1000000)

struct admin {
	struct MHD_Daemon	*mhd;
	struct store		*store;
	struct http		*http;
	uint64_t		 stuck_us;
	time_t			 start;
};

/* 0 when healthy, else -1 with the reason in why (admin.h). */
static int
admin_health(struct admin *a, char *why, size_t whylen)
{
	struct store_stats ss;
	struct log_sink_stats ls;

	if (!store_writable(a->store)) {
		util_err(why, whylen, "database is not writable");
		return -1;
	}
	store_stats(a->store, &ss);
	if (ss.late_us > 0) {
		util_err(why, whylen, "a COMMIT outstanding for %llu ms past "
		    "commit_deadline_ms (a synchronous standby?): "
		    "notifications are answered 503",
		    (unsigned long long)(ss.late_us / 1000));
		return -1;
	}
	if (ss.busy_us > a->stuck_us) {
		util_err(why, whylen, "writer stuck in one batch for %llu ms",
		    (unsigned long long)(ss.busy_us / 1000));
		return -1;
	}
	if (metrics_last_batch_failed()) {
		util_err(why, whylen, "the last commit failed");
		return -1;
	}
	/*
	 * Last: a stalled log loses lines, never a notification, so any
	 * storage reason above is the one to report first.
	 */
	log_sink_stats(&ls);
	if (ls.pending > 0 && ls.blocked_us > ADMIN_LOG_STALL_US) {
		util_err(why, whylen, "log sink stalled: nothing written for "
		    "%llu ms, %llu bytes pending, %llu lines dropped",
		    (unsigned long long)(ls.blocked_us / 1000),
		    (unsigned long long)ls.pending,
		    (unsigned long long)ls.dropped);
		return -1;
	}
	return 0;
}

static void
admin_snapshot(struct admin *a, struct metrics_snapshot *snap)
{
	struct store_stats ss;
	struct http_stats hs;

	memset(snap, 0, sizeof(*snap));
	snap->start = (int64_t)a->start;
	store_stats(a->store, &ss);
	snap->has_store = 1;
	snap->store.at_risk = ss.at_risk;
	snap->store.refusals_held = ss.refusals_held;
	snap->store.refusals = ss.refusals;
	snap->store.refusals_dropped = ss.refusals_dropped;
	snap->store.queued = ss.queued;
	snap->store.busy_us = ss.busy_us;
	snap->store.commits = ss.commits;
	snap->store.commits_late = ss.commits_late;
	snap->store.writable = store_writable(a->store);
	snap->store.wal_frames = ss.wal_frames;
	snap->store.checkpoints = ss.checkpoints;
	snap->store.database_bytes = ss.database_bytes;
	snap->store.wal_bytes = ss.wal_bytes;
	http_stats(a->http, &hs);
	snap->has_http = 1;
	snap->http_inflight = hs.inflight;
	log_sink_stats(&snap->log);
	snap->has_log = 1;
}

static enum MHD_Result
admin_reply(struct MHD_Connection *conn, unsigned status, const char *ctype,
    char *body, size_t len, enum MHD_ResponseMemoryMode mode,
    const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result rc;

	resp = MHD_create_response_from_buffer(len, body, mode);
	if (resp == NULL) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	rc = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static enum MHD_Result
admin_handler(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct admin *a = cls;
	struct metrics_snapshot snap;
	char why[160], *body;
	size_t len;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	if (strcmp(url, "/metrics") != 0 && strcmp(url, "/healthz") != 0)
		return admin_reply(conn, 404, ADMIN_TEXT, "not found\n", 10,
		    MHD_RESPMEM_PERSISTENT, NULL);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return admin_reply(conn, 405, ADMIN_TEXT, "only GET and HEAD\n",
		    18, MHD_RESPMEM_PERSISTENT, "GET, HEAD");
	if (strcmp(url, "/healthz") == 0) {
		if (admin_health(a, why, sizeof(why) - 1) == 0)
			return admin_reply(conn, 200, ADMIN_TEXT, "ok\n", 3,
			    MHD_RESPMEM_PERSISTENT, NULL);
		len = strlen(why);
		why[len++] = '\n';
		return admin_reply(conn, 503, ADMIN_TEXT, why, len,
		    MHD_RESPMEM_MUST_COPY, NULL);
	}
	admin_snapshot(a, &snap);
	if ((body = metrics_render(&snap, &len)) == NULL)
		return admin_reply(conn, 503, ADMIN_TEXT, "out of memory\n", 14,
		    MHD_RESPMEM_PERSISTENT, NULL);
	return admin_reply(conn, 200, "text/plain; version=0.0.4; charset=utf-8",
	    body, len, MHD_RESPMEM_MUST_FREE, NULL);
}

struct admin *
admin_start(int fd, struct store *s, struct http *h, uint64_t stuck_us,
    char *err, size_t errlen)
{
	struct admin *a;

	if ((a = calloc(1, sizeof(*a))) == NULL) {
		util_err(err, errlen, "out of memory");
		close(fd);
		return NULL;
	}
	a->store = s;
	a->http = h;
	a->stuck_us = stuck_us;
	a->start = time(NULL);
	/*
	 * Small on purpose: a few scrapers, headers of a few KiB, and a
	 * slow one cannot hold the listener for long.
	 */
	a->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_POLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, admin_handler, a,
	    MHD_OPTION_EXTERNAL_LOGGER, log_mhd, "metrics listener",
	    MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
	    MHD_OPTION_END);
	if (a->mhd == NULL) {
		util_err(err, errlen, "metrics listener: libmicrohttpd failed "
		    "to start");
		close(fd);
		free(a);
		return NULL;
	}
	return a;
}

void
admin_stop(struct admin *a)
{
	if (a == NULL)
		return;
	MHD_stop_daemon(a->mhd);
	free(a);
}
