/*
 * gen.c - antom-bench-gen: pre-sign distinct notifications for the
 * benchmark, so the load generator spends no time on RSA signing.
 *
 * Output, one request per line: client-id TAB request-time TAB signature
 * header TAB body.  Fixture bodies are compact JSON without tabs or line
 * breaks.  RSA signing is slow, so the work is split over -j processes
 * and the result cached by bench/run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "sign.h"
#include "util.h"

static void
usage(void)
{
	fprintf(stderr, "usage: antom-bench-gen -k private.pem -c client-id "
	    "-n count -o out [-j jobs] [-p payment-percent] [-s signed-path]\n");
	exit(2);
}

static int
gen_part(EVP_PKEY *key, const char *client, const char *path, long from,
    long to, int pay_pct, const char *out)
{
	FILE *f = fopen(out, "w");
	char hdr[SIGN_HEADER_MAX], err[256], rtime[32];
	long i;

	if (f == NULL)
		return -1;
	for (i = from; i < to; i++) {
		/* Deterministic mix: pay_pct of every 100 are payments. */
		const char *fx = (i % 100) < pay_pct ? "payment-success" :
		    "capture-success";
		char *body = fixture_build(fx, NULL, 0, err, sizeof(err));

		if (body == NULL) {
			fprintf(stderr, "fixture: %s\n", err);
			return -1;
		}
		snprintf(rtime, sizeof(rtime), "%ld", 1732550400000L + i);
		if (sign_request(key, &(struct verify_content){ path, client,
		    rtime, (const unsigned char *)body, strlen(body) }, NULL,
		    hdr, sizeof(hdr), err, sizeof(err)) != 0) {
			fprintf(stderr, "sign: %s\n", err);
			return -1;
		}
		fprintf(f, "%s\t%s\t%s\t%s\n", client, rtime, hdr, body);
		free(body);
	}
	return fclose(f) == 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	const char *keyp = NULL, *client = NULL, *out = NULL;
	const char *path = "/antom/notify";
	long n = 0, per;
	int ch, jobs = 2, pay_pct = 70, j, status, failed = 0;
	char err[256], part[1024];
	EVP_PKEY *key;
	FILE *o;

	while ((ch = getopt(argc, argv, "k:c:n:o:j:p:s:")) != -1) {
		switch (ch) {
		case 'k': keyp = optarg; break;
		case 'c': client = optarg; break;
		case 'n': n = atol(optarg); break;
		case 'o': out = optarg; break;
		case 'j': jobs = atoi(optarg); break;
		case 'p': pay_pct = atoi(optarg); break;
		case 's': path = optarg; break;
		default: usage();
		}
	}
	if (keyp == NULL || client == NULL || out == NULL || n <= 0 ||
	    jobs < 1 || jobs > 64 || pay_pct < 0 || pay_pct > 100)
		usage();
	if ((key = sign_key_load(keyp, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 3;
	}
	per = (n + jobs - 1) / jobs;
	for (j = 0; j < jobs; j++) {
		pid_t pid = fork();

		if (pid < 0)
			return 1;
		if (pid == 0) {
			long from = j * per, to = from + per > n ? n : from + per;

			snprintf(part, sizeof(part), "%s.%d", out, j);
			_exit(gen_part(key, client, path, from, to, pay_pct,
			    part) == 0 ? 0 : 1);
		}
	}
	for (j = 0; j < jobs; j++) {
		if (wait(&status) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed = 1;
	}
	if (failed)
		return 1;
	if ((o = fopen(out, "w")) == NULL)
		return 1;
	for (j = 0; j < jobs; j++) {
		char buf[65536];
		size_t r;
		FILE *p;

		snprintf(part, sizeof(part), "%s.%d", out, j);
		if ((p = fopen(part, "r")) == NULL)
			return 1;
		while ((r = fread(buf, 1, sizeof(buf), p)) > 0)
			fwrite(buf, 1, r, o);
		fclose(p);
		unlink(part);
	}
	EVP_PKEY_free(key);
	return fclose(o) == 0 ? 0 : 1;
}
