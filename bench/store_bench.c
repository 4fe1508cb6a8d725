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
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

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

	if (argc != 5) {
		fprintf(stderr, "usage: antom-bench-store CORPUS DBPATH COUNT "
		    "BATCH\n");
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
	pthread_mutex_lock(&bench_mu);
	while (bench_done < n)
		pthread_cond_wait(&bench_cv, &bench_mu);
	pthread_mutex_unlock(&bench_mu);
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
