/*
 * ctl_simulate.c - antomctl simulate: play a whole scenario as Antom would.
 *
 * Owns the scenarios (card, retry, duplicates, capture-first,
 * pending-then-success, refund-first, dispute, vaulting, proxy) and Antom's
 * delivery loop (docs/protocol.md section 3): each notification is signed
 * once and the SAME request (body, request-time, signature) is sent up to 8
 * times, with gaps of 0 s, 2 min, 10 min, 10 min, 1 h, 2 h, 6 h and 15 h
 * divided by --time-scale, until the receiver answers HTTP 200 with Antom's
 * exact acknowledgement body.  (Whether Antom itself re-signs a retry is not
 * confirmed: section 2.8.)
 *
 * Antom's notifyRefund never names its payment (section 4.5): the merchant's
 * application records the link in antomd's refund_links table when it calls
 * Antom's refund API.  simulate plays that part too: before a scenario's
 * refund is delivered it inserts the link with --db, or prints the INSERT
 * the application would run.
 *
 * Exit status: 0 every notification acknowledged within 8 attempts, 1 at
 * least one never acknowledged (named on stdout and stderr), 2 usage
 * error, 3 key, signing or output error.
 *
 * Single-threaded; the x* allocators die on failure, right for a tool.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "antom.h"
#include "client.h"
#include "ctl.h"
#include "fixture.h"
#include "sign.h"
#include "util.h"

#define SIM_ATTEMPTS	8
#define SIM_STEPS_MAX	8
#define SIM_DEFAULT_TIMEOUT_MS	5000
#define SIM_SCALE_MAX	1e9

/* Antom's gap before each send, in seconds (docs/protocol.md section 3.2). */
static const long sim_gaps[SIM_ATTEMPTS] = {
	0, 2 * 60, 10 * 60, 10 * 60, 3600, 2 * 3600, 6 * 3600, 15 * 3600
};

/*
 * One delivery of a scenario: a fresh notification built from a fixture,
 * or (fixture NULL) the request of an earlier step sent again unchanged,
 * as Antom does when it re-sends.
 */
struct sim_step {
	const char	*fixture;
	int		 again;		/* index of the step re-sent */
};

struct sim_scenario {
	const char	*name;
	const char	*what;
	size_t		 nsteps;
	struct sim_step	 steps[SIM_STEPS_MAX];
};

static const struct sim_scenario sim_scenarios[] = {
	{ "card", "card payment authorised, then captured", 2,
	  { { "payment-success", 0 }, { "capture-success", 0 } } },
	{ "retry", "one payment-success under the retry schedule", 1,
	  { { "payment-success", 0 } } },
	{ "duplicates", "the same notification 5 times in a burst", 5,
	  { { "payment-success", 0 }, { NULL, 0 }, { NULL, 0 }, { NULL, 0 },
	    { NULL, 0 } } },
	{ "capture-first", "capture-success before payment-success", 2,
	  { { "capture-success", 0 }, { "payment-success", 0 } } },
	{ "pending-then-success",
	  "PENDING, then RESULT S, then the PENDING again", 3,
	  { { "payment-pending", 0 }, { "payment-success", 0 }, { NULL, 0 } } },
	{ "refund-first", "refund-success before the capture and the payment",
	  3, { { "refund-success", 0 }, { "capture-success", 0 },
	  { "payment-success", 0 } } },
	{ "dispute",
	  "dispute JUDGED before CREATED, then DEFENSE_SUPPLIED, JUDGED again",
	  4, { { "dispute-judged", 0 }, { "dispute-created", 0 },
	  { "dispute-defense-supplied", 0 }, { NULL, 0 } } },
	{ "vaulting", "a card vaulted, the notification sent twice", 2,
	  { { "vaulting-success", 0 }, { NULL, 0 } } },
	{ "proxy", "card flow signed over --sign-path (needs --sign-path)", 2,
	  { { "payment-success", 0 }, { "capture-success", 0 } } },
};
#define SIM_NSCENARIOS	(sizeof(sim_scenarios) / sizeof(sim_scenarios[0]))

/* A signed request, as sent on every attempt. */
struct sim_request {
	char	*body;
	char	 rtime[64];
	char	 sig[SIGN_HEADER_MAX];
	char	 ids[320];	/* for the report */
};

struct sim_run {
	EVP_PKEY	*key;
	const char	*url;
	const char	*client_id;
	char		*sign_path;	/* owned */
	int		 have_sign_path;
	double		 scale;
	long		 timeout_ms;
	long		 notes;
	long		 acked;
	long		 hist[SIM_ATTEMPTS + 1];	/* [n]: acked on attempt n */
	char		*lost;		/* owned report of the lost ones */
	size_t		 lostlen;
	const char	*db_path;	/* --db: antomd's database, or NULL */
	struct ctl_db	*db;		/* the merchant's own connection */
};

static void
sim_usage(FILE *f)
{
	size_t i;

	fputs("usage: antomctl simulate --url URL --key PRIVATE.pem "
	    "--client-id ID [options]\n"
	    "\n"
	    "Play a whole scenario against a running receiver the way Antom\n"
	    "would: every notification is signed once and the same request is\n"
	    "sent up to 8 times, waiting 0 s, 2 min, 10 min, 10 min, 1 h, 2 h,\n"
	    "6 h, 15 h (divided by --time-scale) before each send, until the\n"
	    "answer is HTTP 200 with Antom's acknowledgement body.\n"
	    "\n"
	    "  --url URL            notify URL to POST to (required)\n"
	    "  --key FILE           PEM private key to sign with (required)\n"
	    "  --client-id ID       client-id header (required)\n"
	    "  --scenario NAME      what to play (default card)\n"
	    "  --time-scale X       divide Antom's waits by X, 1 to 1e9 "
	    "(default 1,\n"
	    "                       real time; 86400 plays 24 h in 1 s)\n"
	    "  --sign-path PATH     path to sign, as before a proxy rewrote "
	    "it\n"
	    "                       (default: the URL's path, no query)\n"
	    "  --timeout-ms N       limit for each attempt (default 5000)\n"
	    "  --db FILE            antomd's database (a path, or PostgreSQL's\n"
	    "                       URI or conninfo): play the merchant's part "
	    "too,\n"
	    "                       inserting each refund's refund_links row "
	    "(its\n"
	    "                       refundRequestId and paymentId) before Antom\n"
	    "                       notifies it, as the application does when "
	    "it\n"
	    "                       calls the refund API; without --db the "
	    "INSERT\n"
	    "                       is printed for you to run\n"
	    "  -h, --help           show this help\n"
	    "\n"
	    "Scenarios:\n", f);
	for (i = 0; i < SIM_NSCENARIOS; i++)
		fprintf(f, "  %-22s %s\n", sim_scenarios[i].name,
		    sim_scenarios[i].what);
	fprintf(f, "  %-22s %s\n", "all",
	    "every scenario above in turn (proxy only with --sign-path)");
	fputs("\n"
	    "Prints one line per delivery and a summary.  Antom's refund\n"
	    "notification does not name its payment: only with the link does\n"
	    "antomd count a refund against its payment.  Exit status: 0 every\n"
	    "notification acknowledged within 8 attempts, 1 some never were,\n"
	    "2 usage error, 3 key, database or output error.\n", f);
}

static int
sim_parse_scale(const char *s, double *out)
{
	char *end;
	double v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v) || v < 1 ||
	    v > SIM_SCALE_MAX)
		return -1;
	*out = v;
	return 0;
}

/* Sleep seconds/scale, resuming after signals. */
static void
sim_sleep(long seconds, double scale)
{
	struct timespec ts, rem;
	double d = (double)seconds / scale;

	if (d <= 0)
		return;
	ts.tv_sec = (time_t)d;
	ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
	if (ts.tv_nsec > 999999999L)
		ts.tv_nsec = 999999999L;
	while (nanosleep(&ts, &rem) == -1 && errno == EINTR)
		ts = rem;
}

/* Human form of a wait ("2m0s", "15h0m0s", "0.014s" when scaled). */
static void
sim_fmt_wait(long seconds, double scale, char *out, size_t cap)
{
	double d = (double)seconds / scale;
	long s = (long)d;

	if (d < 60)
		snprintf(out, cap, "%.3gs", d);
	else if (s < 3600)
		snprintf(out, cap, "%ldm%lds", s / 60, s % 60);
	else
		snprintf(out, cap, "%ldh%ldm%lds", s / 3600, s / 60 % 60,
		    s % 60);
}

/* Fresh ids: "SIM-PR-<16 hex>" and an Antom-style id (fixture.h). */
static int
sim_ids(char *reqid, size_t reqcap, const char *prefix, char *antom,
    size_t antomcap)
{
	unsigned char rnd[8];
	char hex[17];

	if (util_random(rnd, sizeof(rnd)) == -1)
		return -1;
	util_hex(rnd, sizeof(rnd), hex);
	snprintf(reqid, reqcap, "SIM-%s-%s", prefix, hex);
	return fixture_antom_id_new(antom, antomcap);
}

/* One scenario's ids: every step about the same payment shares them. */
struct sim_ids {
	char	prid[64], pid[FIXTURE_ANTOM_ID_SIZE];	/* payment */
	char	crid[64], cid[FIXTURE_ANTOM_ID_SIZE];	/* capture */
	char	rrid[64], rid[FIXTURE_ANTOM_ID_SIZE];	/* refund */
	char	vrid[64], did[FIXTURE_ANTOM_ID_SIZE];	/* vaulting, dispute */
};

static int
sim_ids_fresh(struct sim_ids *ids)
{
	return sim_ids(ids->prid, sizeof(ids->prid), "PR", ids->pid,
	    sizeof(ids->pid)) | sim_ids(ids->crid, sizeof(ids->crid), "CR",
	    ids->cid, sizeof(ids->cid)) | sim_ids(ids->rrid, sizeof(ids->rrid),
	    "RR", ids->rid, sizeof(ids->rid)) | sim_ids(ids->vrid,
	    sizeof(ids->vrid), "VR", ids->did, sizeof(ids->did));
}

/*
 * Build and sign one notification of fixture name carrying the
 * scenario's ids: each kind its own, and the payment's to tie it to.
 * 0, or -1 with err.
 */
static int
sim_build(struct sim_run *run, const char *name, const struct sim_ids *ids,
    struct sim_request *rq, char *err, size_t errlen)
{
	static const struct {
		const char	*prefix;
		const char	*keys[3];
	} kinds[] = {
		{ "capture-", { "captureRequestId", "captureId", "paymentId" } },
		{ "refund-", { "refundRequestId", "refundId", NULL } },
		{ "dispute-", { "disputeId", "paymentId", "paymentRequestId" } },
		{ "vaulting-", { "vaultingRequestId", NULL, NULL } },
		{ "payment-", { "paymentRequestId", "paymentId", NULL } },
	};
	const char *vals[5][3] = {
		{ ids->crid, ids->cid, ids->pid },
		{ ids->rrid, ids->rid, NULL },
		{ ids->did, ids->pid, ids->prid },
		{ ids->vrid, NULL, NULL },
		{ ids->prid, ids->pid, NULL },
	};
	char set[3][128];
	const char *sets[3];
	size_t k, i, nsets = 0, off = 0;

	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]) - 1; k++)
		if (strncmp(name, kinds[k].prefix, strlen(kinds[k].prefix)) == 0)
			break;
	rq->ids[0] = '\0';
	for (i = 0; i < 3 && kinds[k].keys[i] != NULL; i++) {
		snprintf(set[i], sizeof(set[i]), "%s=%s", kinds[k].keys[i],
		    vals[k][i]);
		sets[nsets++] = set[i];
		off += (size_t)snprintf(rq->ids + off, sizeof(rq->ids) - off,
		    "%s%s", i > 0 ? " " : "", set[i]);
	}
	if ((rq->body = fixture_build(name, sets, nsets, err, errlen)) == NULL)
		return -1;
	sign_request_time(0, rq->rtime, sizeof(rq->rtime));
	return sign_request(run->key, &(struct verify_content){ run->sign_path,
	    run->client_id, rq->rtime, (const unsigned char *)rq->body,
	    strlen(rq->body) }, NULL, rq->sig, sizeof(rq->sig), err, errlen);
}

/*
 * The merchant's part: the refund ids->rrid is of the payment ids->pid,
 * as its refund call said.  Plain SQL any language can run while antomd
 * writes; printed, and run on --db's connection when there is one.  0, or
 * -1 with err.
 */
static int
sim_link(struct sim_run *run, const char *scenario, const struct sim_ids *ids,
    char *err, size_t errlen)
{
	char *sql;
	int rc = 0;

	/*
	 * Printed with %Q (standard SQL quoting, which PostgreSQL reads alike
	 * with its default standard_conforming_strings); run with parameters,
	 * whatever the server's settings.
	 */
	sql = sqlite3_mprintf("INSERT INTO refund_links (client_id, "
	    "refund_request_id, payment_id) VALUES (%Q, %Q, %Q);",
	    run->client_id, ids->rrid, ids->pid);
	if (sql == NULL) {
		util_err(err, errlen, "out of memory");
		return -1;
	}
	if (run->db == NULL)
		printf("%s merchant link, to run on antomd's database: %s\n",
		    scenario, sql);
	else if (ctl_db_each(run->db, "INSERT INTO refund_links (client_id, "
	    "refund_request_id, payment_id) VALUES ($1, $2, $3)",
	    (const char *const[]){ run->client_id, ids->rrid, ids->pid }, 3,
	    NULL, NULL) != 0) {
		util_err(err, errlen, "%s: the merchant link was not recorded",
		    ctl_db_name(run->db));
		rc = -1;
	} else
		printf("%s merchant link recorded: %s\n", scenario, sql);
	sqlite3_free(sql);
	fflush(stdout);
	return rc;
}

/*
 * Deliver rq under Antom's schedule.  Returns the attempt (1 to 8) that
 * was acknowledged, or 0 with the last answer described in last.
 */
static int
sim_deliver(struct sim_run *run, const char *label,
    const struct sim_request *rq, char *last, size_t lastcap)
{
	struct client_header hdrs[3];
	struct client_response resp;
	char err[512], wait[32];
	int i;

	ctl_antom_headers(hdrs, run->client_id, rq->rtime, rq->sig);
	for (i = 0; i < SIM_ATTEMPTS; i++) {
		sim_sleep(sim_gaps[i], run->scale);
		memset(&resp, 0, sizeof(resp));
		if (client_post(run->url, hdrs, 3, rq->body, strlen(rq->body),
		    (int)run->timeout_ms, &resp, err, sizeof(err)) == -1)
			util_err(last, lastcap, "no answer: %s", err);
		else if (antom_acknowledged(resp.status, resp.body,
		    resp.bodylen)) {
			client_response_free(&resp);
			return i + 1;
		} else if (resp.status == 200)
			util_err(last, lastcap, "HTTP 200 without the "
			    "acknowledgement body");
		else
			util_err(last, lastcap, "HTTP %d", resp.status);
		client_response_free(&resp);
		if (i + 1 < SIM_ATTEMPTS) {
			sim_fmt_wait(sim_gaps[i + 1], run->scale, wait,
			    sizeof(wait));
			ctl_warnx("simulate", "%s: attempt %d: %s; next in %s", label,
			    i + 1, last, wait);
		}
	}
	return 0;
}

/*
 * Open --db as the merchant's application would (ctl_db_open_rw): the
 * table must be there (schema 8), checked now rather than halfway
 * through a scenario.  0, or -1 reported.
 */
static int
sim_db_open(struct sim_run *run)
{
	if ((run->db = ctl_db_open_rw("simulate", run->db_path)) == NULL)
		return -1;
	if (ctl_db_each(run->db, "SELECT client_id, refund_request_id,"
	    " payment_id FROM refund_links LIMIT 0", NULL, 0, NULL, NULL) !=
	    0) {
		ctl_warnx("simulate", "%s: not antomd's database, or one older "
		    "than refund_links?", ctl_db_name(run->db));
		return -1;
	}
	return 0;
}

/* Play one scenario; 0, or -1 with err on a key or fixture error. */
static int
sim_play(struct sim_run *run, const struct sim_scenario *sc, char *err,
    size_t errlen)
{
	struct sim_request rq[SIM_STEPS_MAX];
	struct sim_ids ids;
	char label[512], last[600];
	const struct sim_request *r;
	const char *fixture;
	size_t i;
	int n, linked = 0, rc = -1;

	memset(rq, 0, sizeof(rq));
	if (sim_ids_fresh(&ids) != 0) {
		util_err(err, errlen, "no random bytes");
		return -1;
	}
	for (i = 0; i < sc->nsteps; i++) {
		if (sc->steps[i].fixture != NULL) {
			fixture = sc->steps[i].fixture;
			r = &rq[i];
			/* The refund call, and its link, come first. */
			if (strncmp(fixture, "refund-", 7) == 0 && !linked) {
				if (sim_link(run, sc->name, &ids, err,
				    errlen) == -1)
					goto fail;
				linked = 1;
			}
			if (sim_build(run, fixture, &ids, &rq[i], err,
			    errlen) == -1)
				goto fail;
		} else {
			r = &rq[sc->steps[i].again];
			fixture = sc->steps[sc->steps[i].again].fixture;
		}
		snprintf(label, sizeof(label), "%s %s%s %s", sc->name, fixture,
		    sc->steps[i].fixture == NULL ? "(again)" : "", r->ids);
		n = sim_deliver(run, label, r, last, sizeof(last));
		run->notes++;
		if (n > 0) {
			run->acked++;
			run->hist[n]++;
			printf("%s attempts=%d/%d acknowledged\n", label, n,
			    SIM_ATTEMPTS);
		} else {
			printf("%s attempts=%d/%d NOT ACKNOWLEDGED (last: %s)\n",
			    label, SIM_ATTEMPTS, SIM_ATTEMPTS, last);
			ctl_warnx("simulate", "%s: never acknowledged in %d attempts "
			    "(last: %s)", label, SIM_ATTEMPTS, last);
			run->lost = xrealloc(run->lost,
			    run->lostlen + strlen(label) + 8);
			run->lostlen += (size_t)sprintf(run->lost + run->lostlen,
			    "  %s\n", label);
		}
		fflush(stdout);
	}
	rc = 0;
fail:
	for (i = 0; i < SIM_STEPS_MAX; i++)
		free(rq[i].body);
	return rc;
}

int
ctl_simulate(int argc, char **argv)
{
	enum {
		OPT_URL = 256, OPT_KEY, OPT_CLIENT_ID, OPT_SCENARIO,
		OPT_SCALE, OPT_SIGN_PATH, OPT_TIMEOUT, OPT_DB
	};
	static const struct option opts[] = {
		{ "url",		1, NULL, OPT_URL },
		{ "key",		1, NULL, OPT_KEY },
		{ "client-id",		1, NULL, OPT_CLIENT_ID },
		{ "scenario",		1, NULL, OPT_SCENARIO },
		{ "time-scale",		1, NULL, OPT_SCALE },
		{ "sign-path",		1, NULL, OPT_SIGN_PATH },
		{ "timeout-ms",		1, NULL, OPT_TIMEOUT },
		{ "db",			1, NULL, OPT_DB },
		{ "help",		0, NULL, 'h' },
		{ NULL,			0, NULL, 0 }
	};
	struct sim_run run;
	const char *keypath = NULL, *scenario = "card", *sign_path = NULL;
	char err[512];
	size_t i;
	int c, all, rc = CTL_EXIT_USAGE;

	memset(&run, 0, sizeof(run));
	run.scale = 1;
	run.timeout_ms = SIM_DEFAULT_TIMEOUT_MS;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_URL:
			run.url = optarg;
			break;
		case OPT_KEY:
			keypath = optarg;
			break;
		case OPT_CLIENT_ID:
			run.client_id = optarg;
			break;
		case OPT_SCENARIO:
			scenario = optarg;
			break;
		case OPT_SCALE:
			if (sim_parse_scale(optarg, &run.scale) == -1) {
				ctl_warnx("simulate", "--time-scale wants a number from 1 "
				    "to 1e9, not '%s'", optarg);
				goto fail;
			}
			break;
		case OPT_SIGN_PATH:
			sign_path = optarg;
			break;
		case OPT_TIMEOUT:
			if (util_parse_long(optarg, 1, 3600000, &run.timeout_ms)
			    == -1) {
				ctl_warnx("simulate", "--timeout-ms wants 1 to 3600000, "
				    "not '%s'", optarg);
				goto fail;
			}
			break;
		case OPT_DB:
			run.db_path = optarg;
			break;
		case 'h':
			sim_usage(stdout);
			rc = CTL_EXIT_OK;
			goto fail;
		default:
			fputs("Try 'antomctl simulate --help'.\n", stderr);
			goto fail;
		}
	}
	if (optind < argc) {
		ctl_warnx("simulate", "unexpected argument '%s'", argv[optind]);
		fputs("Try 'antomctl simulate --help'.\n", stderr);
		goto fail;
	}
	if (run.url == NULL || keypath == NULL || run.client_id == NULL) {
		ctl_warnx("simulate", "--url, --key and --client-id are required");
		fputs("Try 'antomctl simulate --help'.\n", stderr);
		goto fail;
	}
	all = strcmp(scenario, "all") == 0;
	for (i = 0; !all && i < SIM_NSCENARIOS; i++)
		if (strcmp(scenario, sim_scenarios[i].name) == 0)
			break;
	if (!all && i == SIM_NSCENARIOS) {
		ctl_warnx("simulate", "unknown scenario '%s'", scenario);
		fputs("Try 'antomctl simulate --help'.\n", stderr);
		goto fail;
	}
	if (strcmp(scenario, "proxy") == 0 && sign_path == NULL) {
		ctl_warnx("simulate", "scenario proxy needs --sign-path");
		goto fail;
	}
	if (!ctl_header_safe(run.client_id) ||
	    (sign_path != NULL && !ctl_header_safe(sign_path))) {
		ctl_warnx("simulate", "control characters in --client-id or --sign-path");
		goto fail;
	}
	run.have_sign_path = sign_path != NULL;
	if ((run.sign_path = ctl_sign_path("simulate", run.url,
	    sign_path)) == NULL)
		goto fail;

	rc = CTL_EXIT_ERR;
	if ((run.key = sign_key_load(keypath, err, sizeof(err))) == NULL) {
		ctl_warnx("simulate", "%s", err);
		goto fail;
	}
	if (run.db_path != NULL && sim_db_open(&run) == -1)
		goto fail;
	for (i = 0; i < SIM_NSCENARIOS; i++) {
		if (!all && strcmp(scenario, sim_scenarios[i].name) != 0)
			continue;
		if (all && strcmp(sim_scenarios[i].name, "proxy") == 0 &&
		    !run.have_sign_path) {
			printf("proxy skipped: no --sign-path\n");
			continue;
		}
		if (sim_play(&run, &sim_scenarios[i], err, sizeof(err)) == -1) {
			ctl_warnx("simulate", "%s: %s", sim_scenarios[i].name, err);
			goto fail;
		}
	}
	printf("%ld notifications, %ld acknowledged; attempts histogram:",
	    run.notes, run.acked);
	for (i = 1; i <= SIM_ATTEMPTS; i++)
		printf(" %zu:%ld", i, run.hist[i]);
	printf("\n");
	if (run.acked < run.notes)
		printf("never acknowledged (Antom would give up; the merchant "
		    "must call inquiryPayment):\n%s", run.lost);
	rc = run.acked == run.notes ? CTL_EXIT_OK : CTL_EXIT_FAIL;
	if (fflush(stdout) == EOF || ferror(stdout)) {
		ctl_warnx("simulate", "writing the output: %s", strerror(errno));
		rc = CTL_EXIT_ERR;
	}
fail:
	EVP_PKEY_free(run.key);
	ctl_db_close(run.db);
	free(run.sign_path);
	free(run.lost);
	return rc;
}
