/*
 * metrics.c - counters and their Prometheus exposition.
 *
 * Threads: every counter is a relaxed atomic, bumped by the HTTP threads
 * and the writer without a lock.  Routes and keys are registered (main
 * thread, at start and on reload) into append-only tables: an entry is
 * written whole before the count that publishes it is stored with release
 * order, so a reader that loads the count with acquire order sees only
 * complete entries; registration itself takes a mutex.  Entries are never
 * removed: a key dropped by a reload keeps its series, which then stops
 * growing, which is what an operator watching a rotation wants to see.
 *
 * The store's and the HTTP front end's gauges come in a snapshot the
 * caller took (admin.c), so this file knows neither module.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <sqlite3.h>

#include "metrics.h"
#include "reason.h"
#include "util.h"

#define M_ID_MAX	65	/* client ids are at most 64 bytes */

static const unsigned m_statuses[] = { 200, 400, 401, 404, 405, 413, 503 };
#define M_NSTATUS	(sizeof(m_statuses) / sizeof(m_statuses[0]) + 1)

/*
 * The reason label of a verification failure: the rows of reason.h
 * marked so, in their order, then "other" (any reason not marked).
 */
static const unsigned char m_is_verify[REASON_COUNT] = {
#define M_VERIFY(e, name, verify)	[e] = (verify),
	REASONS(M_VERIFY)
#undef M_VERIFY
};

/*
 * One row per kind and outcome of notif.h's and store.h's lists: the
 * last constant of each sizes the table.  Kinds render NOTIF_OTHER (0)
 * last.
 */
#define M_NKIND		((size_t)NOTIF_KIND_COUNT)
#define M_NOUTCOME	((size_t)STORE_OUTCOME_COUNT)

/* Request latency, microseconds (rendered in seconds). */
static const uint64_t m_lat_bounds[] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000
};
#define M_NLAT		(sizeof(m_lat_bounds) / sizeof(m_lat_bounds[0]) + 1)

static const uint64_t m_batch_bounds[] = { 1, 2, 4, 8, 16, 32, 64, 128 };
#define M_NBATCH	(sizeof(m_batch_bounds) / sizeof(m_batch_bounds[0]) + 1)

/* Route rows: registered ones, then "unmatched" (404s), then "other". */
#define M_ROUTE_UNMATCHED	METRICS_ROUTES_MAX
#define M_ROUTE_OTHER		(METRICS_ROUTES_MAX + 1)
#define M_NROUTE		(METRICS_ROUTES_MAX + 2)

struct m_key {
	char	client_id[M_ID_MAX];
	long	version;
};

static struct {
	pthread_mutex_t		 reg_lock;
	char			*routes[METRICS_ROUTES_MAX];
	_Atomic size_t		 nroutes;
	struct m_key		 keys[METRICS_KEYS_MAX];
	_Atomic size_t		 nkeys;

	_Atomic uint64_t	 requests[M_NROUTE][M_NSTATUS];
	_Atomic uint64_t	 verify_fail[REASON_COUNT];	/* NONE: other */
	_Atomic uint64_t	 notifications[M_NKIND][M_NOUTCOME];
	_Atomic uint64_t	 deliveries[METRICS_KEYS_MAX + 1]; /* + other */
	/* By the first key row of the client id, + other. */
	_Atomic uint64_t	 unverified[METRICS_KEYS_MAX + 1][REASON_COUNT];
	/*
	 * Verification failures by the key the header named: its key row
	 * (+ other), or, a version the client id lacks, the client id's
	 * first key row.
	 */
	_Atomic uint64_t	 verify_key[METRICS_KEYS_MAX + 1][REASON_COUNT];
	_Atomic uint64_t	 verify_client[METRICS_KEYS_MAX][REASON_COUNT];
	_Atomic uint64_t	 variants[METRICS_VARIANT_MISROUTED + 1];
	_Atomic uint64_t	 lat[M_NLAT], lat_sum_us, lat_count;
	_Atomic uint64_t	 batch[M_NBATCH], batch_sum, batch_count;
	_Atomic uint64_t	 batch_failed_jobs;
	_Atomic int		 last_batch_failed;
} m = { .reg_lock = PTHREAD_MUTEX_INITIALIZER };

#define M_ADD(x, n)	atomic_fetch_add_explicit(&(x), (n), memory_order_relaxed)
#define M_GET(x)	atomic_load_explicit(&(x), memory_order_relaxed)

void
metrics_route(const char *path)
{
	size_t i, n;
	char *copy;

	pthread_mutex_lock(&m.reg_lock);
	n = atomic_load(&m.nroutes);
	for (i = 0; i < n; i++)
		if (strcmp(m.routes[i], path) == 0)
			goto out;
	if (n == METRICS_ROUTES_MAX || (copy = strdup(path)) == NULL)
		goto out;	/* counted under "other" */
	m.routes[n] = copy;
	atomic_store_explicit(&m.nroutes, n + 1, memory_order_release);
out:
	pthread_mutex_unlock(&m.reg_lock);
}

void
metrics_key(const char *client_id, long version)
{
	size_t i, n;

	if (strlen(client_id) >= M_ID_MAX)
		return;
	pthread_mutex_lock(&m.reg_lock);
	n = atomic_load(&m.nkeys);
	for (i = 0; i < n; i++)
		if (m.keys[i].version == version &&
		    strcmp(m.keys[i].client_id, client_id) == 0)
			goto out;
	if (n == METRICS_KEYS_MAX)
		goto out;
	snprintf(m.keys[n].client_id, M_ID_MAX, "%s", client_id);
	m.keys[n].version = version;
	atomic_store_explicit(&m.nkeys, n + 1, memory_order_release);
out:
	pthread_mutex_unlock(&m.reg_lock);
}

static size_t
m_route_index(const char *route)
{
	size_t i, n = atomic_load_explicit(&m.nroutes, memory_order_acquire);

	if (route == NULL)
		return M_ROUTE_UNMATCHED;
	for (i = 0; i < n; i++)
		if (strcmp(m.routes[i], route) == 0)
			return i;
	return M_ROUTE_OTHER;
}

void
metrics_request(const char *route, unsigned status, uint64_t us)
{
	size_t r = m_route_index(route), st, i;

	for (st = 0; st < M_NSTATUS - 1; st++)
		if (m_statuses[st] == status)
			break;
	M_ADD(m.requests[r][st], 1);
	for (i = 0; i < M_NLAT - 1 && us > m_lat_bounds[i]; i++)
		;
	M_ADD(m.lat[i], 1);
	M_ADD(m.lat_sum_us, us);
	M_ADD(m.lat_count, 1);
}

/*
 * Only configured client ids and their configured versions are looked
 * up, so a header cannot make a series of its own: whatever else it
 * claims counts in a client id's one "other" row, or in the one of all.
 */
void
metrics_verify_failure(const char *client_id, long version,
    enum reason reason)
{
	size_t i, first, n;

	if ((unsigned)reason >= REASON_COUNT || !m_is_verify[reason])
		reason = REASON_NONE;
	M_ADD(m.verify_fail[reason], 1);
	n = atomic_load_explicit(&m.nkeys, memory_order_acquire);
	first = n;
	for (i = 0; client_id != NULL && i < n; i++) {
		if (strcmp(m.keys[i].client_id, client_id) != 0)
			continue;
		if (first == n)
			first = i;
		if (m.keys[i].version == version)
			break;
	}
	if (client_id != NULL && i < n)
		M_ADD(m.verify_key[i][reason], 1);
	else if (first < n)
		M_ADD(m.verify_client[first][reason], 1);
	else
		M_ADD(m.verify_key[METRICS_KEYS_MAX][reason], 1);
}

void
metrics_delivery(const char *client_id, long version)
{
	size_t i, n = atomic_load_explicit(&m.nkeys, memory_order_acquire);

	for (i = 0; i < n; i++)
		if (m.keys[i].version == version &&
		    strcmp(m.keys[i].client_id, client_id) == 0)
			break;
	M_ADD(m.deliveries[i < n ? i : METRICS_KEYS_MAX], 1);
}

void
metrics_unverified(const char *client_id, enum reason reason)
{
	size_t i, n = atomic_load_explicit(&m.nkeys, memory_order_acquire);

	for (i = 0; client_id != NULL && i < n; i++)
		if (strcmp(m.keys[i].client_id, client_id) == 0)
			break;
	if (client_id == NULL)
		i = n;
	if ((unsigned)reason >= REASON_COUNT)
		reason = REASON_NONE;
	M_ADD(m.unverified[i < n ? i : METRICS_KEYS_MAX][reason], 1);
}

void
metrics_variant(enum metrics_variant what)
{
	if ((unsigned)what <= METRICS_VARIANT_MISROUTED)
		M_ADD(m.variants[what], 1);
}

void
metrics_notification(enum notif_kind kind, enum store_outcome outcome)
{
	size_t k = (size_t)kind, o = (size_t)outcome;

	if (k >= M_NKIND)
		k = NOTIF_OTHER;
	if (o < M_NOUTCOME)
		M_ADD(m.notifications[k][o], 1);
}

void
metrics_batch(unsigned jobs, unsigned failed)
{
	size_t i;

	if (jobs == 0) {
		/* The writer's probe while idle: a write lock was (not) had. */
		atomic_store(&m.last_batch_failed, failed != 0);
		return;
	}
	for (i = 0; i < M_NBATCH - 1 && jobs > m_batch_bounds[i]; i++)
		;
	M_ADD(m.batch[i], 1);
	M_ADD(m.batch_sum, jobs);
	M_ADD(m.batch_count, 1);
	M_ADD(m.batch_failed_jobs, failed);
	atomic_store(&m.last_batch_failed, failed == jobs);
}


/* Prometheus label value: backslash, double quote and newline escaped. */
static void
m_label(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void
m_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
m_status(FILE *f, size_t st)
{
	if (st < M_NSTATUS - 1)
		fprintf(f, "%u", m_statuses[st]);
	else
		fputs("other", f);
}

static void
m_render_requests(FILE *f)
{
	size_t n = atomic_load_explicit(&m.nroutes, memory_order_acquire);
	size_t r, st;

	m_head(f, "antomd_http_requests_total", "counter",
	    "Requests answered on the public listener, by route and HTTP status.");
	for (r = 0; r < M_NROUTE; r++) {
		const char *name = r < n ? m.routes[r] :
		    r == M_ROUTE_UNMATCHED ? "unmatched" : "other";

		if (r >= n && r < METRICS_ROUTES_MAX)
			continue;
		for (st = 0; st < M_NSTATUS; st++) {
			uint64_t v = M_GET(m.requests[r][st]);

			/* Registered routes show every status, from 0. */
			if (v == 0 && (r >= n || st == M_NSTATUS - 1))
				continue;
			fputs("antomd_http_requests_total{route=\"", f);
			m_label(f, name);
			fputs("\",status=\"", f);
			m_status(f, st);
			fprintf(f, "\"} %llu\n", (unsigned long long)v);
		}
	}
}

static void
m_render_reason(FILE *f, const char *reason, uint64_t v)
{
	fprintf(f, "antomd_verification_failures_total{reason=\"%s\"} %llu\n",
	    reason, (unsigned long long)v);
}

static void
m_render_histogram(FILE *f, const char *name, const char *help,
    const uint64_t *bounds, _Atomic uint64_t *counts, size_t nb, double scale,
    uint64_t sum, uint64_t count)
{
	uint64_t cum = 0;
	size_t i;

	m_head(f, name, "histogram", help);
	for (i = 0; i < nb; i++) {
		cum += M_GET(counts[i]);
		if (i < nb - 1)
			fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name,
			    (double)bounds[i] / scale, (unsigned long long)cum);
		else
			fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name,
			    (unsigned long long)cum);
	}
	/*
	 * _count is the +Inf bucket as summed here, not a counter of its
	 * own: read separately, the two could disagree by the requests that
	 * finished in between.
	 */
	(void)count;
	fprintf(f, "%s_sum %.6f\n%s_count %llu\n", name, (double)sum / scale,
	    name, (unsigned long long)cum);
}

/* Is key row i the first of its client id (the one counted under)? */
static int
m_first_row(size_t i)
{
	size_t j;

	for (j = 0; j < i; j++)
		if (strcmp(m.keys[j].client_id, m.keys[i].client_id) == 0)
			return 0;
	return 1;
}

/*
 * The rows of a client id (NULL: "other") and key version (NULL: none;
 * 0: "other") counted so far, by reason: a series appears with its
 * first count.
 */
static void
m_render_by_reason(FILE *f, const char *name, const char *client_id,
    const long *version, _Atomic uint64_t counts[REASON_COUNT])
{
	uint64_t v;
	size_t r;

	for (r = 0; r < REASON_COUNT; r++) {
		if ((v = M_GET(counts[r])) == 0)
			continue;
		fprintf(f, "%s{client_id=\"", name);
		m_label(f, client_id != NULL ? client_id : "other");
		if (version != NULL && *version > 0)
			fprintf(f, "\",key_version=\"%ld", *version);
		else if (version != NULL)
			fputs("\",key_version=\"other", f);
		fprintf(f, "\",reason=\"%s\"} %llu\n", r == REASON_NONE ?
		    "other" : reason_str((enum reason)r),
		    (unsigned long long)v);
	}
}

/* Unverified refusals by client id and reason, a client id once. */
static void
m_render_unverified(FILE *f)
{
	static const char name[] = "antomd_unverified_refusals_total";
	size_t n = atomic_load_explicit(&m.nkeys, memory_order_acquire);
	size_t i;

	m_head(f, name, "counter", "Refused requests that were not authentic "
	    "(bad or missing signature, 400, 401, 413), by client id and "
	    "reason.");
	for (i = 0; i < n; i++)
		if (m_first_row(i))	/* else counted under that row */
			m_render_by_reason(f, name, m.keys[i].client_id,
			    NULL, m.unverified[i]);
	m_render_by_reason(f, name, NULL, NULL,
	    m.unverified[METRICS_KEYS_MAX]);
}

/*
 * Verification failures by client id, the key version the header named
 * and reason: configured pairs, then a client id's other versions, then
 * everything else.
 */
static void
m_render_verify_keys(FILE *f)
{
	static const char name[] = "antomd_verification_failures_by_key_total";
	static const long other = 0;
	size_t n = atomic_load_explicit(&m.nkeys, memory_order_acquire);
	size_t i;

	m_head(f, name, "counter", "Requests refused before they were "
	    "authentic (400, 401), by client id, the key version their "
	    "signature header named (configured ones, else other) and reason.");
	for (i = 0; i < n; i++) {
		m_render_by_reason(f, name, m.keys[i].client_id,
		    &m.keys[i].version, m.verify_key[i]);
		if (m_first_row(i))
			m_render_by_reason(f, name, m.keys[i].client_id, &other,
			    m.verify_client[i]);
	}
	m_render_by_reason(f, name, NULL, &other,
	    m.verify_key[METRICS_KEYS_MAX]);
}

/* An unlabelled series; M_SECONDS is a gauge kept in microseconds. */
enum m_unit { M_GAUGE, M_COUNTER, M_SECONDS };

struct m_series {
	const char	*name;
	enum m_unit	 unit;
	const char	*help;
	uint64_t	 v;		/* for M_GAUGE, an int64_t */
};

static void
m_series(FILE *f, const struct m_series *s)
{
	m_head(f, s->name, s->unit == M_COUNTER ? "counter" : "gauge",
	    s->help);
	if (s->unit == M_COUNTER)
		fprintf(f, "%s %llu\n", s->name, (unsigned long long)s->v);
	else if (s->unit == M_SECONDS)
		fprintf(f, "%s %.6f\n", s->name, (double)s->v / 1e6);
	else
		fprintf(f, "%s %lld\n", s->name, (long long)(int64_t)s->v);
}

/* The store's gauges and counters, as the caller took them. */
static void
m_render_store(FILE *f, const struct metrics_store *ss)
{
	const struct m_series rows[] = {
		/* The refusals table, as the writer last counted it. */
		{ "antomd_notifications_at_risk", M_GAUGE,
		    "Refused deliveries not stored since, refused longer ago "
		    "than at_risk_after_s: Antom may give up on them.",
		    (uint64_t)ss->at_risk },
		{ "antomd_refusals_held", M_GAUGE,
		    "Refused deliveries whose notification is not stored yet.",
		    (uint64_t)ss->refusals_held },
		{ "antomd_refusals_recorded_total", M_COUNTER,
		    "Refusals recorded in the refusals table.", ss->refusals },
		{ "antomd_refusals_dropped_total", M_COUNTER,
		    "Refusals not recorded: too many pending or held, or the "
		    "database failed.", ss->refusals_dropped },
		{ "antomd_writer_queue_depth", M_GAUGE,
		    "Notifications waiting for the writer thread.", ss->queued },
		{ "antomd_writer_batch_age_seconds", M_SECONDS,
		    "How long the batch in progress has run (0: idle).",
		    ss->busy_us },
		{ "antomd_commits_total", M_COUNTER,
		    "Writer transactions committed.", ss->commits },
		{ "antomd_commits_late_total", M_COUNTER,
		    "Writer transactions whose COMMIT outlasted "
		    "commit_deadline_ms: their notifications were answered 503 "
		    "(PostgreSQL).", ss->commits_late },
		{ "antomd_database_writable", M_GAUGE,
		    "1 when the database is writable.", (uint64_t)ss->writable },
		/*
		 * A WAL that keeps growing means checkpoints do not keep up
		 * or a reader holds an old snapshot: disk, and slower reads.
		 */
		{ "antomd_wal_frames", M_GAUGE,
		    "Pages in the WAL after the writer's last commit; it "
		    "starts over at about 8192 while checkpoints keep up.",
		    (uint64_t)ss->wal_frames },
		{ "antomd_checkpoints_total", M_COUNTER,
		    "Checkpoint passes run beside the writer.", ss->checkpoints },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		m_series(f, &rows[i]);
	/* Sizes the engine knows (store.h); an unknown one is left out. */
	if (ss->database_bytes >= 0)
		m_series(f, &(struct m_series){ "antomd_database_bytes",
		    M_GAUGE, "Bytes of the database on disk: SQLite's main "
		    "file at the scrape; PostgreSQL's pg_database_size(), "
		    "taken by the idle writer at most once a minute.",
		    (uint64_t)ss->database_bytes });
	if (ss->wal_bytes >= 0)
		m_series(f, &(struct m_series){ "antomd_wal_bytes", M_GAUGE,
		    "Bytes of SQLite's WAL file at the scrape (cut back to 40 "
		    "MiB when a checkpoint lets it start over).",
		    (uint64_t)ss->wal_bytes });
}

/* The log sink's, as the caller took them (log.h). */
static void
m_render_log(FILE *f, const struct log_sink_stats *ml)
{
	const struct m_series rows[] = {
		{ "antomd_log_lines_dropped_total", M_COUNTER,
		    "Log lines lost: the log buffer was full (stderr slower "
		    "than the lines came, or not read), or stderr failed.",
		    ml->dropped },
		{ "antomd_log_lines_suppressed_total", M_COUNTER,
		    "Refusal log lines left out by the rate limit, each "
		    "counted in a \"similar refusals suppressed\" line.",
		    ml->suppressed },
		{ "antomd_log_bytes_written_total", M_COUNTER,
		    "Bytes the log thread wrote to stderr.", ml->bytes_written },
		{ "antomd_log_buffer_bytes", M_GAUGE,
		    "Log bytes waiting in the buffer for stderr.", ml->pending },
		{ "antomd_log_write_blocked_seconds", M_SECONDS,
		    "How long the write to stderr in progress has waited "
		    "(0: none waiting).", ml->blocked_us },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		m_series(f, &rows[i]);
}

int
metrics_last_batch_failed(void)
{
	return atomic_load(&m.last_batch_failed);
}

char *
metrics_render(const struct metrics_snapshot *snap, size_t *lenp)
{
	char *buf = NULL;
	size_t len = 0, i, j, n;
	FILE *f;

	if ((f = open_memstream(&buf, &len)) == NULL)
		return NULL;

	m_head(f, "antomd_build_info", "gauge",
	    "Versions of antomd and of the libraries it runs with.");
	fputs("antomd_build_info{version=\"", f);
	m_label(f, ANTOMD_VERSION);
	fputs("\",sqlite=\"", f);
	m_label(f, sqlite3_libversion());
	fputs("\",openssl=\"", f);
	m_label(f, OpenSSL_version(OPENSSL_VERSION_STRING));
	fputs("\",libmicrohttpd=\"", f);
	m_label(f, MHD_get_version());
	fputs("\"} 1\n", f);

	if (snap != NULL && snap->start != 0) {
		m_head(f, "process_start_time_seconds", "gauge",
		    "Start time of the process since the Unix epoch in seconds.");
		fprintf(f, "process_start_time_seconds %lld\n",
		    (long long)snap->start);
	}

	m_render_requests(f);

	m_head(f, "antomd_verification_failures_total", "counter",
	    "Requests refused before they were authentic (400, 401), by reason.");
	for (i = 0; i < REASON_COUNT; i++)
		if (m_is_verify[i])
			m_render_reason(f, reason_str((enum reason)i),
			    M_GET(m.verify_fail[i]));
	m_render_reason(f, "other", M_GET(m.verify_fail[REASON_NONE]));
	m_render_verify_keys(f);

	m_head(f, "antomd_notifications_total", "counter",
	    "Committed deliveries, by notification type (kind) and outcome.");
	for (i = 1; i <= M_NKIND; i++) {
		size_t k = i % M_NKIND;		/* NOTIF_OTHER last */

		for (j = 0; j < M_NOUTCOME; j++)
			fprintf(f, "antomd_notifications_total{type=\"%s\","
			    "outcome=\"%s\"} %llu\n",
			    notif_kind_str((enum notif_kind)k),
			    store_outcome_str((enum store_outcome)j),
			    (unsigned long long)M_GET(m.notifications[k][j]));
	}

	m_head(f, "antomd_deliveries_total", "counter",
	    "Verified deliveries, by client id and the key version that "
	    "verified them.");
	n = atomic_load_explicit(&m.nkeys, memory_order_acquire);
	for (i = 0; i < n; i++) {
		fputs("antomd_deliveries_total{client_id=\"", f);
		m_label(f, m.keys[i].client_id);
		fprintf(f, "\",key_version=\"%ld\"} %llu\n", m.keys[i].version,
		    (unsigned long long)M_GET(m.deliveries[i]));
	}
	if (M_GET(m.deliveries[METRICS_KEYS_MAX]) != 0)
		fprintf(f, "antomd_deliveries_total{client_id=\"other\","
		    "key_version=\"other\"} %llu\n",
		    (unsigned long long)M_GET(m.deliveries[METRICS_KEYS_MAX]));

	m_render_unverified(f);

	m_render_histogram(f, "antomd_request_duration_seconds",
	    "Time from the request line to the answer, in seconds.",
	    m_lat_bounds, m.lat, M_NLAT, 1e6, M_GET(m.lat_sum_us),
	    M_GET(m.lat_count));
	m_render_histogram(f, "antomd_commit_batch_size",
	    "Notifications per writer transaction.",
	    m_batch_bounds, m.batch, M_NBATCH, 1, M_GET(m.batch_sum),
	    M_GET(m.batch_count));

	m_series(f, &(struct m_series){ "antomd_path_variant_checks_total",
	    M_COUNTER, "Extra signature checks over another path variant of "
	    "a route (a mismatch from a configured client).",
	    M_GET(m.variants[METRICS_VARIANT_TRIED]) });
	m_series(f, &(struct m_series){
	    "antomd_path_variant_budget_exhausted_total", M_COUNTER,
	    "Mismatches whose path variants were not tried: the per-second "
	    "budget was spent.", M_GET(m.variants[METRICS_VARIANT_SKIPPED]) });
	m_series(f, &(struct m_series){ "antomd_misrouted_total", M_COUNTER,
	    "Authentic notifications refused 401: they verify only over "
	    "another path than their route's (proxy or route misconfigured).",
	    M_GET(m.variants[METRICS_VARIANT_MISROUTED]) });
	m_series(f, &(struct m_series){ "antomd_storage_failures_total",
	    M_COUNTER, "Deliveries the writer could not commit (answered 503).",
	    M_GET(m.batch_failed_jobs) });
	/* What /healthz calls "the last commit failed", between scrapes too. */
	m_series(f, &(struct m_series){ "antomd_last_commit_failed", M_GAUGE,
	    "1 while the writer's last batch failed whole (or its idle probe "
	    "found the database unwell), 0 once one commits again.",
	    (uint64_t)atomic_load(&m.last_batch_failed) });

	if (snap != NULL && snap->has_store)
		m_render_store(f, &snap->store);
	if (snap != NULL && snap->has_http)
		m_series(f, &(struct m_series){ "antomd_http_requests_in_flight",
		    M_GAUGE, "Requests started and not yet finished.",
		    snap->http_inflight });
	if (snap != NULL && snap->has_log)
		m_render_log(f, &snap->log);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	if (lenp != NULL)
		*lenp = len;
	return buf;
}
