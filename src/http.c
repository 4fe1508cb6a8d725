/*
 * http.c - libmicrohttpd glue: bound, verify, parse, queue, answer.
 *
 * Threads: libmicrohttpd's pool (conf threads, epoll) runs the handlers;
 * verification and JSON parsing happen there.  The store's writer thread
 * calls http_job_done() after COMMIT, which only records the answer and
 * resumes the connection; the answer itself is queued by the handler on
 * its own thread, as libmicrohttpd requires.
 *
 * Order of checks, each with its own status (README, "HTTP status
 * policy"): ambiguous framing 400 and close, route 404, method 405,
 * size 413, headers 400, signature 401, then the body is parsed (never
 * before it is authentic) and stored; a storage failure is 503 so Antom
 * retries.
 *
 * Every request gets an id (16 hex digits: a random per-process prefix and
 * a counter), logged as request_id= and returned as X-Request-Id, so an
 * operator can find the line about a request a client complains of.  Every
 * answer other than 200 goes through http_refused().
 *
 * A configured client's well-formed signature that does not verify over
 * the route's signed path is tried over a few other path variants
 * (misroute.h, pathvar.h: the trailing slash, a public prefix, the local path): one
 * that verifies there is a genuine notification sent through a
 * misconfigured proxy or route.  It is still refused 401 (its state would
 * be recorded under the wrong route) but logged naming the path, and kept
 * as an authentic refusal (refusal.h), so it shows at risk instead of
 * passing for a forgery.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <microhttpd.h>

#include "antom.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "misroute.h"
#include "notif.h"
#include "proxy.h"
#include "reason.h"
#include "refusal.h"
#include "target.h"
#include "util.h"
#include "verify.h"

#define HTTP_HEADER_VALUE_MAX	64	/* client-id, request-time */
#define HTTP_DISCARD_MAX	(16u << 20)	/* oversize chunked body read, then closed */
#define HTTP_RID_LEN		17	/* request id: 16 hex digits and NUL */
enum http_reply {
	R_SUCCESS,
	R_NOT_FOUND,
	R_METHOD,
	R_TOO_LARGE,
	R_BAD_FRAMING,
	R_MISSING_HEADER,
	R_DUPLICATE_HEADER,
	R_BAD_HEADER,
	R_UNKNOWN_CLIENT,
	R_BAD_ALGORITHM,
	R_BAD_SIGNATURE_ENCODING,
	R_BAD_SIGNATURE,
	R_UNAVAILABLE,
	R_COUNT
};

static const struct {
	unsigned	 status;
	const char	*code;
	const char	*message;
} http_replies[R_COUNT] = {
	[R_SUCCESS] = { 200, "SUCCESS", "success" },
	[R_NOT_FOUND] = { 404, "NOT_FOUND", "no such notification route" },
	[R_METHOD] = { 405, "METHOD_NOT_ALLOWED", "only POST is accepted" },
	[R_TOO_LARGE] = { 413, "REQUEST_TOO_LARGE", "body larger than allowed" },
	[R_BAD_FRAMING] = { 400, "INVALID_FRAMING",
	    "one Content-Length, or Transfer-Encoding: chunked alone" },
	[R_MISSING_HEADER] = { 400, "MISSING_HEADER",
	    "client-id, request-time and signature headers are required" },
	[R_DUPLICATE_HEADER] = { 400, "DUPLICATE_HEADER",
	    "client-id, request-time and signature must appear once" },
	[R_BAD_HEADER] = { 400, "INVALID_HEADER", "malformed header value" },
	[R_UNKNOWN_CLIENT] = { 401, "UNKNOWN_CLIENT", "no key for this client id" },
	[R_BAD_ALGORITHM] = { 401, "UNSUPPORTED_ALGORITHM",
	    "only RSA256 is accepted" },
	[R_BAD_SIGNATURE_ENCODING] = { 401, "INVALID_SIGNATURE",
	    "signature is not valid base64 of the key's size" },
	[R_BAD_SIGNATURE] = { 401, "INVALID_SIGNATURE",
	    "signature does not verify" },
	[R_UNAVAILABLE] = { 503, "SERVICE_UNAVAILABLE",
	    "could not store the notification, retry later" },
};

enum http_state {
	ST_HEADERS,	/* first call: nothing checked yet */
	ST_BODY,	/* receiving the body */
	ST_QUEUED,	/* suspended, the writer has the job */
	ST_DONE		/* resumed, answer decided */
};

/*
 * A configuration in force, shared by the requests that started under it.
 * SIGHUP puts a new one in force; the old one is freed when the last
 * request that uses it finishes, so a reload never fails a request.
 */
struct http_conf {
	const struct conf	*conf;
	int			 owned;		/* free conf with the last ref */
	unsigned		 refs;		/* under http.conf_lock */
};

struct http {
	struct MHD_Daemon	*mhd;
	pthread_mutex_t		 conf_lock;
	struct http_conf	*cur;		/* under conf_lock */
	struct store		*store;
	char			*bodies[R_COUNT];
	size_t			 bodylens[R_COUNT];
	struct MHD_Response	*oom_reply;	/* 503 without a request id */
	uint32_t		 rid_prefix;	/* random, per process */
	_Atomic uint32_t	 rid_next;
	_Atomic unsigned	 inflight;
	_Atomic int		 draining;	/* refuse new connections */
	_Atomic uint64_t	 requests, acknowledged, rejected, unavailable;
};

struct http_req {
	struct http		*h;
	struct http_conf	*hc;		/* referenced for the request */
	const struct conf	*conf;		/* hc->conf */
	struct MHD_Connection	*conn;
	char			 rid[HTTP_RID_LEN];
	uint64_t		 start_us;
	enum http_state		 state;
	enum http_reply		 reply;
	enum reason		 reason;	/* for the log line */
	char			*path;		/* routing path (target.h) */
	char			*query;		/* raw query or NULL */
	int			 bad_target;	/* not a target we route */
	const struct conf_route	*route;
	unsigned char		*body;
	size_t			 len, cap;
	int			 too_big;
	size_t			 discarded;	/* bytes dropped past the cap */
	const char		*client_id;	/* in MHD's connection pool */
	const char		*request_time;
	const char		*signature;
	char			*signed_path;	/* what verified */
	char			*misrouted;	/* the variant that verified */
	long			 key_version;
	long			 claimed_version; /* verify_match's */
	int			 parsed;
	struct notif		 notif;
	struct store_job	 job;
};

static enum MHD_Result http_accept_cb(void *, const struct sockaddr *,
    socklen_t);

/* The configuration in force, referenced; release with http_conf_put(). */
static struct http_conf *
http_conf_get(struct http *h)
{
	struct http_conf *hc;

	pthread_mutex_lock(&h->conf_lock);
	hc = h->cur;
	hc->refs++;
	pthread_mutex_unlock(&h->conf_lock);
	return hc;
}

static void
http_conf_put(struct http *h, struct http_conf *hc)
{
	unsigned left;

	pthread_mutex_lock(&h->conf_lock);
	left = --hc->refs;
	pthread_mutex_unlock(&h->conf_lock);
	if (left > 0)
		return;
	if (hc->owned)
		conf_free((struct conf *)(uintptr_t)hc->conf);
	free(hc);
}

int
http_reload(struct http *h, struct conf *conf)
{
	struct http_conf *hc, *old;

	if ((hc = calloc(1, sizeof(*hc))) == NULL) {
		conf_free(conf);
		return -1;
	}
	hc->conf = conf;
	hc->owned = 1;
	hc->refs = 1;
	pthread_mutex_lock(&h->conf_lock);
	old = h->cur;
	h->cur = hc;
	pthread_mutex_unlock(&h->conf_lock);
	http_conf_put(h, old);
	return 0;
}

/*
 * Called by MHD with the raw request target: keep the path used for
 * routing and the query apart (target.h, the function antomctl explain
 * shares, so the two never disagree).  An absolute-form target is routed
 * by its path (RFC 9112 section 3.2.2); one that is neither form keeps
 * its raw text for the log line and is answered 404.
 */
static void *
http_uri_cb(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct http *h = cls;
	struct http_req *r;
	struct target t;
	size_t ulen = strlen(uri);

	atomic_fetch_add(&h->inflight, 1);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->h = h;
	r->hc = http_conf_get(h);
	r->conf = r->hc->conf;
	r->conn = conn;
	r->start_us = util_mono_us();
	r->reply = R_UNAVAILABLE;
	snprintf(r->rid, sizeof(r->rid), "%08x%08x", (unsigned)h->rid_prefix,
	    (unsigned)atomic_fetch_add(&h->rid_next, 1));
	if (target_split(uri, ulen, &t) != 0) {
		const char *q = strchr(uri, '?');

		r->bad_target = 1;
		t.path = uri;
		t.pathlen = q != NULL ? (size_t)(q - uri) : ulen;
		t.query = q != NULL ? q + 1 : NULL;
		t.querylen = q != NULL ? strlen(q + 1) : 0;
	}
	r->path = strndup(t.path, t.pathlen);
	if (t.query != NULL)
		r->query = strndup(t.query, t.querylen);
	if (r->path == NULL || (t.query != NULL && r->query == NULL)) {
		http_conf_put(h, r->hc);
		free(r->path);
		free(r->query);
		free(r);
		return NULL;
	}
	return r;
}

static void
http_completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http *h = cls;
	struct http_req *r = *con_cls;

	(void)conn;
	(void)toe;
	atomic_fetch_sub(&h->inflight, 1);
	if (r == NULL)
		return;
	if (r->parsed)
		notif_free(&r->notif);
	http_conf_put(h, r->hc);
	free(r->path);
	free(r->query);
	free(r->body);
	free(r->signed_path);
	free(r->misrouted);
	free(r);
	*con_cls = NULL;
}

/* The socket peer, as libmicrohttpd knows it. */
static void
http_peer(struct http_req *r, struct proxy_peer *peer)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(r->conn,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	proxy_peer(ci != NULL ? ci->client_addr : NULL, peer);
}

/* The X-Forwarded-For headers: how many, and the first one's value. */
struct http_xff {
	const char	*first;
	unsigned	 count;
};

static enum MHD_Result
http_collect_xff(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct http_xff *x = cls;

	(void)kind;
	if (strcasecmp(key, "X-Forwarded-For") == 0 && x->count++ == 0)
		x->first = value;
	return MHD_YES;
}

/* The client behind a trusted proxy (proxy.h); 0 or -1. */
static int
http_client_addr(struct http_req *r, const struct proxy_peer *peer,
    char *out, size_t cap)
{
	struct http_xff xff = { NULL, 0 };

	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, http_collect_xff,
	    &xff);
	return proxy_client_addr(r->conf, peer, xff.first, xff.count, out,
	    cap);
}

/*
 * Hex SHA-256 of the body received so far, computed once: the one place
 * a body is hashed (store.h, struct store_delivery).  void * for
 * struct refusal_request.
 */
static const char *
http_body_sha256(void *arg)
{
	struct http_req *r = arg;

	if (r->job.d.body_sha256[0] == '\0') {
		r->job.d.body = r->body;
		r->job.d.bodylen = r->len;
		store_hash_body(&r->job.d);
	}
	return r->job.d.body_sha256;
}

/* The one log line for a request; never bodies, signatures or card data. */
static void
http_log_request(struct http_req *r, unsigned status)
{
	struct logbuf lb;
	const struct notif *n = r->parsed ? &r->notif : NULL;
	enum log_level lvl = LOG_LEVEL_INFO;
	struct proxy_peer peer;
	char client[PROXY_ADDR_TEXT];

	if (status >= 400 ||
	    (r->state == ST_DONE && r->job.r.outcome == STORE_CONFLICT))
		lvl = LOG_LEVEL_WARN;
	if (!log_enabled(lvl))
		return;
	/*
	 * A refusal decided before the request was authentic costs a
	 * sender nothing, so its line is rate-limited (log.h): a flood of
	 * 404s or forged 401s cannot bury the log or fill its buffer.
	 * What is authentic is never limited: a stored notification, a
	 * conflict (both 200), a 503 (verified, then not stored) and a
	 * misrouted 401 (verified over another path).
	 */
	if (status >= 400 && status < 500 && r->key_version <= 0 &&
	    !log_limit(status, reason_str(r->reason), util_mono_us()))
		return;
	log_begin(&lb, lvl, "request");
	log_kv_str(&lb, "request_id", r->rid);
	log_kv_str(&lb, "path", r->path);
	http_peer(r, &peer);
	if (peer.kind != PROXY_PEER_UNKNOWN)
		log_kv_str(&lb, "peer_addr", peer.text);
	if (http_client_addr(r, &peer, client, sizeof(client)) == 0)
		log_kv_str(&lb, "client_addr", client);
	log_kv_int(&lb, "status", status);
	if (r->reason != REASON_NONE)
		log_kv_str(&lb, "reason", reason_str(r->reason));
	log_kv_str(&lb, "client_id", r->client_id);
	if (r->key_version > 0)
		log_kv_int(&lb, "key_version", r->key_version);
	if (r->misrouted != NULL)
		log_kv_str(&lb, "verifies_over", r->misrouted);
	if (n != NULL) {
		log_kv_str(&lb, "notify_type", n->notify_type);
		log_kv_str(&lb, "kind", notif_kind_str(n->kind));
		log_kv_str(&lb, "object_id", notif_object_id(n));
		log_kv_str(&lb, "payment_request_id", n->payment_request_id);
		log_kv_str(&lb, "payment_id", n->payment_id);
		log_kv_str(&lb, "capture_request_id", n->capture_request_id);
		/* A dispute's result is its stage, already in notify_type. */
		if (n->kind != NOTIF_OTHER)
			log_kv_str(&lb, "result", notif_status_str(n->status));
		else
			log_kv_str(&lb, "archive_reason", n->archive_reason);
	}
	if (r->state == ST_DONE && r->job.r.status == 0) {
		log_kv_str(&lb, "outcome", store_outcome_str(r->job.r.outcome));
		log_kv_int(&lb, "notification_id", r->job.r.notification_id);
		log_kv_int(&lb, "delivery_count", r->job.r.delivery_count);
	}
	if (status >= 400)
		log_kv_int(&lb, "body_bytes", (long long)(r->len + r->discarded));
	if (status == 401) {
		/*
		 * What antomctl explain needs to find and judge the request:
		 * the rest of the signed content's inputs, and which body.
		 */
		log_kv_str(&lb, "request_time", r->request_time);
		log_kv_str(&lb, "query", r->query);
		log_kv_str(&lb, "body_sha256", http_body_sha256(r));
	}
	log_kv_int(&lb, "duration_us",
	    (long long)(util_mono_us() - r->start_us));
	log_end(&lb);
}

/*
 * Where every refused request ends (any status but 200, decided by
 * antomd; libmicrohttpd's own 414/431 never reach it): count it, and
 * hand it to the refusals ledger (refusal.h), which keeps what a
 * notification Antom will send again, or give up on, needs.  Not 404 or
 * 405: those are not for a notification route.  The body is whole for
 * 400, 401 and 503, never for 413.  Authentic: the signature verified
 * (key_version is set then), over the route's path or another variant.
 */
static void
http_refused(struct http_req *r, unsigned status, const char *reason)
{
	struct http *h = r->h;
	struct refusal_request q;

	if (status < 500)
		atomic_fetch_add(&h->rejected, 1);
	else
		atomic_fetch_add(&h->unavailable, 1);
	if (r->route == NULL)
		return;
	memset(&q, 0, sizeof(q));
	q.status = status;
	q.reason = reason;
	q.client_id = r->client_id != NULL ? r->client_id :
	    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "client-id");
	/* A 413 is decided before the headers are checked: as sent. */
	q.request_time = r->request_time != NULL ? r->request_time :
	    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	    "request-time");
	q.whole = status != 413 && !r->too_big;
	q.body = r->body;
	q.len = r->len;
	q.notif = r->parsed ? &r->notif : NULL;
	q.body_sha256 = http_body_sha256;
	q.arg = r;
	q.authentic = r->key_version > 0;
	if (!q.authentic && status < 500)
		metrics_unverified(q.client_id, r->reason);
	(void)refusal_note(h->store, r->conf->keys, &q);	/* drops counted */
}

static enum MHD_Result
http_answer(struct http_req *r, enum http_reply reply, enum reason reason)
{
	struct http *h = r->h;
	unsigned status = http_replies[reply].status;
	struct MHD_Response *resp;
	enum MHD_Result rc;

	r->reply = reply;
	if (reason != REASON_NONE)
		r->reason = reason;
	atomic_fetch_add(&h->requests, 1);
	if (status == 200)
		atomic_fetch_add(&h->acknowledged, 1);
	else
		http_refused(r, status, reason_str(r->reason));
	/* Misrouted: the key that verified; else the one the header named. */
	if (status == 400 || status == 401)
		metrics_verify_failure(r->client_id, r->key_version > 0 ?
		    r->key_version : r->claimed_version, r->reason);
	if (r->state == ST_DONE && r->job.r.status == 0 && r->parsed)
		metrics_notification(r->notif.kind, r->job.r.outcome);
	metrics_request(r->route != NULL ? r->route->path : NULL, status,
	    util_mono_us() - r->start_us);
	http_log_request(r, status);

	/* The bodies are shared; the response is per request for its id. */
	resp = MHD_create_response_from_buffer(h->bodylens[reply],
	    h->bodies[reply], MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;		/* out of memory: close */
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "application/json") != MHD_YES ||
	    MHD_add_response_header(resp, "X-Request-Id", r->rid) != MHD_YES ||
	    (reply == R_METHOD && MHD_add_response_header(resp,
	    MHD_HTTP_HEADER_ALLOW, "POST") != MHD_YES) ||
	    (reply == R_BAD_FRAMING && MHD_add_response_header(resp,
	    MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES) ||
	    (reply == R_UNAVAILABLE && MHD_add_response_header(resp,
	    MHD_HTTP_HEADER_RETRY_AFTER, "1") != MHD_YES)) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	rc = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

struct http_hdr_count {
	unsigned	client_id, request_time, signature;
};

static enum MHD_Result
http_count_hdr(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct http_hdr_count *c = cls;

	(void)kind;
	(void)value;
	if (strcasecmp(key, "client-id") == 0)
		c->client_id++;
	else if (strcasecmp(key, "request-time") == 0)
		c->request_time++;
	else if (strcasecmp(key, "signature") == 0)
		c->signature++;
	return MHD_YES;
}

/* A header value we will log and store: printable ASCII, bounded. */
static const char *
http_header(struct http_req *r, const char *name, size_t max, int *bad)
{
	const char *v = NULL;
	size_t len = 0, i;

	if (MHD_lookup_connection_value_n(r->conn, MHD_HEADER_KIND, name,
	    strlen(name), &v, &len) != MHD_YES || v == NULL)
		return NULL;
	if (len == 0 || len > max)
		*bad = 1;
	for (i = 0; i < len && !*bad; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] >= 0x7f)
			*bad = 1;
	return v;
}

/* A request that did not verify: its answer and reason, by result. */
static enum MHD_Result
http_verify_refused(struct http_req *r, enum verify_result vr)
{
	/* The answer for each; the reason is verify_reason()'s. */
	static const struct {
		enum http_reply	reply;
		int		set;
	} map[] = {
		[VERIFY_ERR_HEADER] = { R_BAD_HEADER, 1 },
		[VERIFY_ERR_ALGORITHM] = { R_BAD_ALGORITHM, 1 },
		[VERIFY_ERR_KEY_VERSION] = { R_BAD_SIGNATURE_ENCODING, 1 },
		[VERIFY_ERR_ENCODING] = { R_BAD_SIGNATURE_ENCODING, 1 },
		[VERIFY_ERR_LENGTH] = { R_BAD_SIGNATURE_ENCODING, 1 },
		[VERIFY_ERR_CLIENT] = { R_UNKNOWN_CLIENT, 1 },
		[VERIFY_ERR_MISMATCH] = { R_BAD_SIGNATURE, 1 },
	};

	/* VERIFY_ERR_INTERNAL and anything unknown: retry later. */
	if ((size_t)vr >= sizeof(map) / sizeof(map[0]) || !map[vr].set)
		return http_answer(r, R_UNAVAILABLE, REASON_INTERNAL);
	return http_answer(r, map[vr].reply, verify_reason(vr));
}

/* Does the signature verify over another path variant (misroute.h)? */
static int
http_misrouted(struct http_req *r, const struct verify_input *in)
{
	return misroute_find(r->conf, r->route->signed_path, r->path,
	    r->client_id, in, &r->misrouted, &r->key_version) == 0;
}

/*
 * Authentic, but signed for another path: 401, never acknowledged (the
 * route's state would be wrong), kept as an authentic refusal with what
 * the parsed body says, and logged at WARN with the path
 * (http_log_request).
 */
static enum MHD_Result
http_refuse_misrouted(struct http_req *r)
{
	if (notif_parse(r->body, r->len, &r->notif) == 0)
		r->parsed = 1;		/* else: its claims, by the scan */
	return http_answer(r, R_BAD_SIGNATURE, REASON_MISROUTED);
}

static void
http_job_done(struct store_job *job)
{
	struct http_req *r = job->arg;

	/* Writer thread: record the answer, let MHD's thread send it. */
	r->state = ST_DONE;
	r->reply = job->r.status == 0 ? R_SUCCESS : R_UNAVAILABLE;
	MHD_resume_connection(r->conn);
}

/* The whole body is in: check headers, verify, parse, queue. */
static enum MHD_Result
http_process(struct http_req *r)
{
	struct http *h = r->h;
	struct http_hdr_count cnt = { 0, 0, 0 };
	struct verify_input in;
	struct verify_match m;
	enum verify_result vr;
	enum store_submit_result rc;
	int bad = 0;

	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, http_count_hdr,
	    &cnt);
	if (cnt.client_id > 1 || cnt.request_time > 1 || cnt.signature > 1)
		return http_answer(r, R_DUPLICATE_HEADER, REASON_DUPLICATE_HEADER);
	r->client_id = http_header(r, "client-id", HTTP_HEADER_VALUE_MAX, &bad);
	r->request_time = http_header(r, "request-time", HTTP_HEADER_VALUE_MAX,
	    &bad);
	r->signature = http_header(r, "signature", VERIFY_HEADER_MAX, &bad);
	if (r->client_id == NULL || r->request_time == NULL ||
	    r->signature == NULL)
		return http_answer(r, R_MISSING_HEADER, REASON_MISSING_HEADER);
	if (bad) {
		/* Not safe to log as is: keep it out of the line entirely. */
		r->client_id = NULL;
		return http_answer(r, R_BAD_HEADER, REASON_BAD_HEADER_VALUE);
	}

	memset(&in, 0, sizeof(in));
	in.content.path = r->route->signed_path;
	in.content.client_id = r->client_id;
	in.content.request_time = r->request_time;
	in.content.body = r->body;
	in.content.bodylen = r->len;
	in.query = r->query;
	in.sig_header = r->signature;
	vr = verify_request(r->conf->keys, &in, &m);
	r->claimed_version = m.claimed_version;
	if (vr == VERIFY_ERR_MISMATCH && http_misrouted(r, &in))
		return http_refuse_misrouted(r);
	if (vr != VERIFY_OK)
		return http_verify_refused(r, vr);
	r->key_version = m.key_version;
	metrics_delivery(r->client_id, m.key_version);
	if (m.with_query) {
		size_t n = strlen(r->route->signed_path) + strlen(r->query) + 2;

		if ((r->signed_path = malloc(n)) == NULL)
			return http_answer(r, R_UNAVAILABLE, REASON_OUT_OF_MEMORY);
		snprintf(r->signed_path, n, "%s?%s", r->route->signed_path,
		    r->query);
	}

	/* Authentic: only now is the body parsed. */
	if (notif_parse(r->body, r->len, &r->notif) != 0)
		return http_answer(r, R_UNAVAILABLE, REASON_OUT_OF_MEMORY);
	r->parsed = 1;

	memset(&r->job, 0, sizeof(r->job));
	r->job.d.client_id = r->client_id;
	r->job.d.request_time = r->request_time;
	r->job.d.signature = r->signature;
	r->job.d.signed_path = r->signed_path != NULL ? r->signed_path :
	    r->route->signed_path;
	r->job.d.key_version = m.key_version;
	r->job.d.body = r->body;
	r->job.d.bodylen = r->len;
	(void)http_body_sha256(r);
	r->job.d.notif = &r->notif;
	r->job.done = http_job_done;
	r->job.arg = r;

	/*
	 * Suspend before the writer can possibly resume.  If the queue is
	 * full or the writer is stopping, resume at once and answer 503.
	 */
	r->state = ST_QUEUED;
	MHD_suspend_connection(r->conn);
	if ((rc = store_submit(h->store, &r->job)) != STORE_SUBMIT_OK) {
		r->state = ST_DONE;
		r->reply = R_UNAVAILABLE;
		r->reason = rc == STORE_SUBMIT_FULL ? REASON_QUEUE_FULL :
		    REASON_SHUTTING_DOWN;
		r->job.r.status = -1;
		MHD_resume_connection(r->conn);
	}
	return MHD_YES;
}

/* How a request says where its body ends. */
struct http_framing {
	unsigned	content_length, transfer_encoding;
	int		chunked;	/* the one Transfer-Encoding is chunked */
};

static enum MHD_Result
http_count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct http_framing *f = cls;

	(void)kind;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		f->content_length++;
	else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		f->transfer_encoding++;
		f->chunked = strcasecmp(value, "chunked") == 0;
	}
	return MHD_YES;
}

/*
 * 1 when the body's end is ambiguous (RFC 9112 section 6.3): two
 * Content-Length lines, equal or not (libmicrohttpd 0.9.75 reads the
 * first and ignores the other, so a proxy reading the last frames another
 * request than we do); Content-Length with Transfer-Encoding (it takes
 * chunked and ignores Content-Length); or a Transfer-Encoding that is not
 * one "chunked" (any other coding it reads until the peer closes).  A
 * comma-separated Content-Length list never gets here: libmicrohttpd
 * answers 400 itself.
 */
static int
http_framing_bad(struct MHD_Connection *conn)
{
	struct http_framing f = { 0, 0, 0 };

	MHD_get_connection_values(conn, MHD_HEADER_KIND, http_count_framing,
	    &f);
	return f.content_length > 1 ||
	    (f.content_length > 0 && f.transfer_encoding > 0) ||
	    f.transfer_encoding > 1 || (f.transfer_encoding == 1 && !f.chunked);
}

static enum MHD_Result
http_handler(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct http *h = cls;
	struct http_req *r = *con_cls;
	const char *cl;

	(void)url;
	(void)version;
	if (r == NULL) {
		/* The URI callback could not allocate: no context to keep. */
		return MHD_queue_response(conn, 503, h->oom_reply);
	}

	switch (r->state) {
	case ST_HEADERS:
		r->state = ST_BODY;
		/* First: where this request ends decides where the next begins. */
		if (http_framing_bad(conn))
			return http_answer(r, R_BAD_FRAMING, REASON_BAD_FRAMING);
		if (!r->bad_target)
			r->route = conf_route_find(r->conf, r->path,
			    strlen(r->path));
		if (r->route == NULL)
			return http_answer(r, R_NOT_FOUND, REASON_UNKNOWN_PATH);
		if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
			return http_answer(r, R_METHOD, REASON_METHOD);
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && strtoull(cl, NULL, 10) > r->conf->max_body_bytes)
			return http_answer(r, R_TOO_LARGE, REASON_BODY_TOO_LARGE);
		return MHD_YES;

	case ST_BODY:
		if (*upload_data_size != 0) {
			size_t n = *upload_data_size;

			*upload_data_size = 0;
			if (r->too_big || n > r->conf->max_body_bytes - r->len) {
				/*
				 * Chunked, so no Content-Length to refuse
				 * early.  libmicrohttpd cannot answer in the
				 * middle of a body: read and drop the rest,
				 * then answer 413; past HTTP_DISCARD_MAX,
				 * just close.
				 */
				r->too_big = 1;
				r->discarded += n;
				return r->discarded > HTTP_DISCARD_MAX ?
				    MHD_NO : MHD_YES;
			}
			if (r->len + n > r->cap) {
				size_t cap = r->cap == 0 ? 4096 : r->cap;
				unsigned char *nb;

				while (cap < r->len + n)
					cap *= 2;
				if (cap > r->conf->max_body_bytes)
					cap = r->conf->max_body_bytes;
				if ((nb = realloc(r->body, cap)) == NULL) {
					r->too_big = 1;
					return MHD_NO;
				}
				r->body = nb;
				r->cap = cap;
			}
			memcpy(r->body + r->len, upload_data, n);
			r->len += n;
			return MHD_YES;
		}
		if (r->too_big)
			return http_answer(r, R_TOO_LARGE, REASON_BODY_TOO_LARGE);
		return http_process(r);

	case ST_QUEUED:
		/* Spurious call while suspended; nothing to do yet. */
		return MHD_YES;

	case ST_DONE:
		return http_answer(r, r->reply,
		    r->reply == R_UNAVAILABLE && r->reason == REASON_NONE ?
		    REASON_STORAGE_FAILURE : REASON_NONE);
	}
	return MHD_NO;
}

/* The JSON body of an answer, malloc'd (NULL: out of memory). */
static char *
http_make_body(enum http_reply which, size_t *len)
{
	char *body;
	int n;

	if (which == R_SUCCESS)
		n = asprintf(&body, "%s", ANTOM_SUCCESS_BODY);
	else
		n = asprintf(&body,
		    "{\"result\":{\"resultCode\":\"%s\",\"resultStatus\":\"F\","
		    "\"resultMessage\":\"%s\"}}", http_replies[which].code,
		    http_replies[which].message);
	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return body;
}

struct http *
http_start(const struct conf *conf, struct store *store, int listen_fd,
    char *err, size_t errlen)
{
	struct http *h;
	int i;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		util_err(err, errlen, "out of memory");
		close(listen_fd);
		return NULL;
	}
	pthread_mutex_init(&h->conf_lock, NULL);
	if ((h->cur = calloc(1, sizeof(*h->cur))) == NULL)
		goto oom;
	h->cur->conf = conf;
	h->cur->owned = 0;	/* the caller's */
	h->cur->refs = 1;	/* held by h->cur */
	h->store = store;
	if (util_random((unsigned char *)&h->rid_prefix,
	    sizeof(h->rid_prefix)) != 0) {
		util_err(err, errlen, "no random bytes for request ids");
		goto fail;
	}
	for (i = 0; i < R_COUNT; i++)
		if ((h->bodies[i] = http_make_body((enum http_reply)i,
		    &h->bodylens[i])) == NULL)
			goto oom;
	h->oom_reply = MHD_create_response_from_buffer(
	    h->bodylens[R_UNAVAILABLE], h->bodies[R_UNAVAILABLE],
	    MHD_RESPMEM_PERSISTENT);
	if (h->oom_reply == NULL)
		goto oom;
	MHD_add_response_header(h->oom_reply, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	h->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
	    0, http_accept_cb, h, http_handler, h,
	    MHD_OPTION_EXTERNAL_LOGGER, log_mhd, "libmicrohttpd",
	    MHD_OPTION_LISTEN_SOCKET, listen_fd,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)conf->threads,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)conf->max_connections,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)conf->idle_timeout_s,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, conf->connection_memory_limit,
	    MHD_OPTION_URI_LOG_CALLBACK, http_uri_cb, h,
	    MHD_OPTION_NOTIFY_COMPLETED, http_completed_cb, h,
	    MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
	    MHD_OPTION_END);
	if (h->mhd == NULL) {
		util_err(err, errlen, "libmicrohttpd failed to start");
		goto fail;
	}
	return h;
oom:
	util_err(err, errlen, "out of memory");
fail:
	close(listen_fd);	/* ours, also on failure (http.h) */
	if (h->oom_reply != NULL)
		MHD_destroy_response(h->oom_reply);
	for (i = 0; i < R_COUNT; i++)
		free(h->bodies[i]);
	free(h->cur);
	pthread_mutex_destroy(&h->conf_lock);
	free(h);
	return NULL;
}

/*
 * Not MHD_quiesce_daemon(): with epoll and a thread pool, libmicrohttpd
 * 0.9.75 races its workers removing the listening socket from their
 * epoll sets and aborts ("Failed to remove listen FD from epoll set"),
 * seen about once in a thousand stops.  The accept policy refuses new
 * connections instead: they are closed at once, and Antom retries.
 */
void
http_quiesce(struct http *h)
{
	atomic_store(&h->draining, 1);
}

static enum MHD_Result
http_accept_cb(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct http *h = cls;

	(void)addr;
	(void)addrlen;
	return atomic_load(&h->draining) ? MHD_NO : MHD_YES;
}

void
http_stats(struct http *h, struct http_stats *s)
{
	s->requests = atomic_load(&h->requests);
	s->acknowledged = atomic_load(&h->acknowledged);
	s->rejected = atomic_load(&h->rejected);
	s->unavailable = atomic_load(&h->unavailable);
	s->inflight = atomic_load(&h->inflight);
}

void
http_stop(struct http *h)
{
	int i;

	if (h == NULL)
		return;
	MHD_stop_daemon(h->mhd);
	MHD_destroy_response(h->oom_reply);
	for (i = 0; i < R_COUNT; i++)
		free(h->bodies[i]);
	/* No request is left: only h->cur's own reference remains. */
	http_conf_put(h, h->cur);
	pthread_mutex_destroy(&h->conf_lock);
	free(h);
}
