/*
 * store_bench.c - antom-bench-store: what antomd's writer alone sustains,
 * without HTTP, RSA or the load generator sharing its two cores.
 *
 * Reads pre-signed notifications from an antom-bench-gen corpus, parses
 * and hashes them all first (the HTTP threads' work, not timed), then
 * queues them to the store at once so the writer always has a full batch,
 * and waits until every one is committed.  Prints notifications/s, the
 * process's CPU per notification (user and system: the writer's and
 * the checkpointer's, while the main thread sleeps) and the bytes written
 * per notification.  Numbers of the writer's own, steadier than a whole
 * wrk run on a shared machine.
 *
 * usage: antom-bench-store CORPUS DBPATH COUNT BATCH
 *
 * With -g it grows a database instead, for `make bench` to measure
 * antomd on one that already holds COUNT notifications (BENCH_GROWN):
 * bodies shaped like antom-bench-gen's (fixture_build()'s, 70 payments and
 * 30 captures in every 100, fresh ids), a made-up signature header of
 * a real one's length (the store does not verify), all through the
 * store's own writer in batches of 1024.  The next chunk is made while
 * the writer commits the last one, so both cores work.
 *
 * usage: antom-bench-store -g COUNT DBPATH
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "fixture.h"
#include "notif.h"
#include "store.h"
#include "util.h"

struct bjob {
	struct store_job	 job;
	struct notif		 n;
	char			*line;
};

static pthread_mutex_t	 bench_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 bench_cv = PTHREAD_COND_INITIALIZER;
static long		 bench_done, bench_failed;

static void
bench_job_done(struct store_job *j)
{
	pthread_mutex_lock(&bench_mu);
	bench_done++;
	if (j->r.status != 0)
		bench_failed++;
	pthread_cond_signal(&bench_cv);
	pthread_mutex_unlock(&bench_mu);
}

static double
bench_tv(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Wait until n jobs in all have had their callback. */
static void
bench_wait(long n)
{
	pthread_mutex_lock(&bench_mu);
	while (bench_done < n)
		pthread_cond_wait(&bench_cv, &bench_mu);
	pthread_mutex_unlock(&bench_mu);
}

static long long
bench_wchar(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	char line[128];
	long long v = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "wchar: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* Notifications made per chunk; two chunks are alive at a time. */
#define BENCH_GROW_CHUNK	20000
/* A signature header of the length of a real percent-encoded RSA-2048 one. */
#define BENCH_GROW_SIGLEN	370
#define BENCH_GROW_SIGPRE	"algorithm=RSA256,keyVersion=1,signature="
/* The digits at the end of an Antom-style id that count up. */
#define BENCH_GROW_SEQ		11

/*
 * A body from fixture_build() and where its ids are: each new body is a
 * copy with fresh characters of the same kind in them, the shape of what
 * antom-bench-gen makes (fixture_build() per body cost the writer's core
 * twice the writer's own time).
 */
struct bench_tmpl {
	char	*body;
	size_t	 len;
	size_t	 off[4], idlen[4];
	int	 nids;
};

static const char *const bench_id_keys[] = {
	"paymentRequestId", "paymentId", "captureRequestId", "captureId"
};

static int
bench_tmpl_make(struct bench_tmpl *t, const char *fx)
{
	char err[256], key[64], *p, *v;
	size_t k;

	memset(t, 0, sizeof(*t));
	if ((t->body = fixture_build(fx, NULL, 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "antom-bench-store: fixture: %s\n", err);
		return -1;
	}
	t->len = strlen(t->body);
	for (k = 0; k < sizeof(bench_id_keys) / sizeof(bench_id_keys[0]);
	    k++) {
		snprintf(key, sizeof(key), "\"%s\":\"", bench_id_keys[k]);
		if ((p = strstr(t->body, key)) == NULL)
			continue;
		v = p + strlen(key);
		/* Request ids keep their "PR-" or "CR-". */
		if (v[0] != '\0' && v[1] == 'R' && v[2] == '-')
			v += 3;
		t->off[t->nids] = (size_t)(v - t->body);
		t->idlen[t->nids++] = strcspn(v, "\"");
	}
	return 0;
}

/* xorshift64*: distinct enough ids without a system call per body. */
static uint64_t
bench_rand(void)
{
	static uint64_t x;

	if (x == 0 && (util_random((unsigned char *)&x, sizeof(x)) == -1 ||
	    x == 0))
		x = 88172645463325252ULL;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	return x * 2685821657736338717ULL;
}

static void
bench_fill(char *p, size_t len, const char *alphabet, unsigned base)
{
	uint64_t r = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (i % 8 == 0)
			r = bench_rand();
		p[i] = alphabet[(r & 0xff) % base];
		r >>= 8;
	}
}

/*
 * Make notification i of a grown database into j from template t: its
 * body and header in one malloc'd j->line, which bench_grow_free()
 * frees.  0 or -1.
 */
static int
bench_grow_make(struct bjob *j, const struct bench_tmpl *t, long i,
    char *rtime, size_t rtlen)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct store_delivery *d = &j->job.d;
	size_t pre = strlen(BENCH_GROW_SIGPRE);
	char *sig;
	int k;

	if ((j->line = malloc(t->len + 1 + pre + BENCH_GROW_SIGLEN + 1)) ==
	    NULL)
		return -1;
	memcpy(j->line, t->body, t->len + 1);
	/*
	 * A request id after its prefix, random hex, as a merchant's may be;
	 * Antom's ids keep the template's minute and grow with i, as
	 * Antom's do (fixture_antom_id_new()).
	 */
	for (k = 0; k < t->nids; k++)
		if (j->line[t->off[k] - 1] == '-')
			bench_fill(j->line + t->off[k], t->idlen[k],
			    "0123456789abcdef", 16);
		else if (t->idlen[k] > BENCH_GROW_SEQ) {
			char seq[24];

			snprintf(seq, sizeof(seq), "%0*ld", BENCH_GROW_SEQ, i);
			memcpy(j->line + t->off[k] + t->idlen[k] -
			    BENCH_GROW_SEQ, seq, BENCH_GROW_SEQ);
		}
	sig = j->line + t->len + 1;
	memcpy(sig, BENCH_GROW_SIGPRE, pre);
	bench_fill(sig + pre, BENCH_GROW_SIGLEN, b64, 64);
	sig[pre + BENCH_GROW_SIGLEN] = '\0';
	snprintf(rtime, rtlen, "%ld", 1700000000000L + i);
	memset(&j->job, 0, sizeof(j->job));
	d->client_id = "SANDBOX_5YEZ4X2ZEB3C05479";
	d->request_time = rtime;
	d->signature = sig;
	d->signed_path = "/antom/notify";
	d->key_version = 1;
	d->body = (const unsigned char *)j->line;
	d->bodylen = t->len;
	if (notif_parse(d->body, d->bodylen, &j->n) != 0)
		return -1;
	d->notif = &j->n;
	store_hash_body(d);
	j->job.done = bench_job_done;
	return 0;
}

static void
bench_grow_free(struct bjob *jobs, long n)
{
	long i;

	for (i = 0; i < n; i++) {
		notif_free(&jobs[i].n);
		free(jobs[i].line);
	}
}

/* antom-bench-store -g COUNT DBPATH */
static int
bench_grow(long want, const char *path)
{
	struct store_options o = { 5000, 1024, 2 * BENCH_GROW_CHUNK, 0, 0 };
	static struct bjob jobs[2][BENCH_GROW_CHUNK];
	static char rtimes[2][BENCH_GROW_CHUNK][24];
	long made = 0, have[2] = { 0, 0 }, i;
	struct bench_tmpl tm[2];
	struct store *s;
	char err[256];
	double t0, t1;
	int c;

	if (bench_tmpl_make(&tm[0], "payment-success") != 0 ||
	    bench_tmpl_make(&tm[1], "capture-success") != 0)
		return 1;
	if ((s = store_open(path, &o, err, sizeof(err))) == NULL ||
	    store_start(s, err, sizeof(err)) != 0) {
		fprintf(stderr, "antom-bench-store: %s\n", err);
		return 1;
	}
	t0 = (double)util_mono_us() / 1e6;
	for (c = 0; made < want; c ^= 1) {
		/* This buffer's chunk, two chunks ago, must be committed. */
		bench_wait(made - have[c ^ 1]);
		bench_grow_free(jobs[c], have[c]);
		have[c] = 0;
		for (i = 0; i < BENCH_GROW_CHUNK && made < want; i++, made++) {
			/* 70 payments and 30 captures in every 100. */
			if (bench_grow_make(&jobs[c][i],
			    &tm[made % 100 < 70 ? 0 : 1], made, rtimes[c][i],
			    sizeof(rtimes[c][i])) != 0)
				return 1;
			have[c]++;
		}
		for (i = 0; i < have[c]; i++)
			if (store_submit(s, &jobs[c][i].job) !=
			    STORE_SUBMIT_OK) {
				fprintf(stderr, "antom-bench-store: submit "
				    "refused\n");
				return 1;
			}
	}
	bench_wait(made);
	t1 = (double)util_mono_us() / 1e6;
	store_stop(s);
	store_close(s);
	bench_grow_free(jobs[0], have[0]);
	bench_grow_free(jobs[1], have[1]);
	free(tm[0].body);
	free(tm[1].body);
	printf("grew %s by %ld notifications in %.0f s (%.0f/s), %ld failed\n",
	    path, made, t1 - t0, (double)made / (t1 - t0), bench_failed);
	return bench_failed != 0;
}

int
main(int argc, char **argv)
{
	struct store_options o = { 5000, 64, 0, 0, 0 };
	struct rusage r0, r1;
	struct bjob *jobs;
	struct store *s;
	char err[256], *line = NULL;
	size_t cap = 0;
	long n, i, want;
	long long w0, w1;
	double t0, t1, cpu_u, cpu_s;
	FILE *f;

	if (argc == 4 && strcmp(argv[1], "-g") == 0 && atol(argv[2]) > 0)
		return bench_grow(atol(argv[2]), argv[3]);
	if (argc != 5) {
		fprintf(stderr, "usage: antom-bench-store CORPUS DBPATH COUNT "
		    "BATCH\n       antom-bench-store -g COUNT DBPATH\n");
		return 2;
	}
	want = atol(argv[3]);
	o.batch_max = (unsigned)atoi(argv[4]);
	o.queue_max = (unsigned)want;
	if (want <= 0 || o.batch_max < 1 || (f = fopen(argv[1], "r")) == NULL) {
		fprintf(stderr, "antom-bench-store: bad arguments or %s: cannot "
		    "open\n", argv[1]);
		return 2;
	}
	if ((jobs = calloc((size_t)want, sizeof(*jobs))) == NULL)
		return 1;
	for (n = 0; n < want && getline(&line, &cap, f) > 0; n++) {
		struct store_delivery *d = &jobs[n].job.d;
		char *fld[4], *p;
		int k;

		if ((jobs[n].line = strdup(line)) == NULL)
			return 1;
		p = jobs[n].line;
		for (k = 0; k < 4; k++) {
			fld[k] = strsep(&p, "\t");
			if (fld[k] == NULL) {
				fprintf(stderr, "line %ld: not a corpus line\n",
				    n + 1);
				return 2;
			}
		}
		fld[3][strcspn(fld[3], "\n")] = '\0';
		d->client_id = fld[0];
		d->request_time = fld[1];
		d->signature = fld[2];
		d->signed_path = "/antom/notify";
		d->key_version = 1;
		d->body = (const unsigned char *)fld[3];
		d->bodylen = strlen(fld[3]);
		if (notif_parse(d->body, d->bodylen, &jobs[n].n) != 0)
			return 1;	/* out of memory */
		d->notif = &jobs[n].n;
		d->body_sha256[0] = '\0';
		store_hash_body(d);
		jobs[n].job.done = bench_job_done;
	}
	free(line);
	fclose(f);
	if (n == 0) {
		fprintf(stderr, "antom-bench-store: %s: empty\n", argv[1]);
		return 2;
	}
	if ((s = store_open(argv[2], &o, err, sizeof(err))) == NULL ||
	    store_start(s, err, sizeof(err)) != 0) {
		fprintf(stderr, "antom-bench-store: %s\n", err);
		return 1;
	}
	w0 = bench_wchar();
	getrusage(RUSAGE_SELF, &r0);
	t0 = (double)util_mono_us() / 1e6;
	for (i = 0; i < n; i++)
		if (store_submit(s, &jobs[i].job) != STORE_SUBMIT_OK) {
			fprintf(stderr, "antom-bench-store: submit refused\n");
			return 1;
		}
	bench_wait(n);
	t1 = (double)util_mono_us() / 1e6;
	getrusage(RUSAGE_SELF, &r1);
	w1 = bench_wchar();
	store_stop(s);
	store_close(s);
	cpu_u = bench_tv(r1.ru_utime) - bench_tv(r0.ru_utime);
	cpu_s = bench_tv(r1.ru_stime) - bench_tv(r0.ru_stime);
	printf("store batch %u: %ld notifications in %.2f s: %.0f/s, CPU "
	    "%.1f us user + %.1f us system per notification, %.1f KiB "
	    "written per notification, %ld failed\n", o.batch_max, n,
	    t1 - t0, (double)n / (t1 - t0), cpu_u * 1e6 / (double)n,
	    cpu_s * 1e6 / (double)n,
	    (double)(w1 - w0) / 1024.0 / (double)n, bench_failed);
	for (i = 0; i < n; i++) {
		notif_free(&jobs[i].n);
		free(jobs[i].line);
	}
	free(jobs);
	return bench_failed != 0;
}
