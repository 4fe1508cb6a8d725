/*
 * fuzz_conf.c - libFuzzer target for conf_load(), the configuration file
 * parser (directives, numbers, listen addresses, routes, client keys).
 *
 * The input becomes the whole file: it is written to a memfd opened once
 * and loaded through /proc/self/fd/N (a temporary file when memfd_create()
 * is not available).  "client" lines load keys, from inline base64 or a
 * path, so run from the repository root: the seeds name
 * tests/vectors/test-antom-public.b64.
 *
 * Invariants asserted: no crash and no leak on any input; on CONF_OK at
 * least one route and one key, listen either a unix socket path (absolute,
 * fits sun_path) or a non-empty host and a port from 1 to 65535, every
 * number inside its documented range, every route found again
 * by conf_route_find(); on failure *out is NULL and err holds a message.
 */
#undef NDEBUG		/* the asserts are the point */
#include <sys/mman.h>

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	fuzz_fd = -1;
static char	fuzz_path[64];

static void
fuzz_open(void)
{
	char tmpl[] = "/tmp/fuzz_conf.XXXXXX";

	if ((fuzz_fd = memfd_create("fuzz_conf", MFD_CLOEXEC)) == -1) {
		if ((fuzz_fd = mkstemp(tmpl)) == -1)
			abort();
		unlink(tmpl);	/* nothing left behind; reached by fd */
	}
	snprintf(fuzz_path, sizeof(fuzz_path), "/proc/self/fd/%d", fuzz_fd);
}

static void
fuzz_check(const struct conf *c)
{
	size_t i;

	assert(c->nroutes >= 1 && c->routes != NULL);
	assert(verify_keyring_count(c->keys) >= 1);
	assert(c->listen != NULL && c->database != NULL);
	if (c->listen_unix != NULL) {
		assert(c->listen_unix[0] == '/' && strlen(c->listen_unix) <= 107);
		assert(c->listen_host == NULL && c->listen_port == NULL);
	} else {
		assert(c->listen_host != NULL && *c->listen_host != '\0');
		assert(c->listen_port != NULL && atoi(c->listen_port) >= 1 &&
		    atoi(c->listen_port) <= 65535);
	}
	assert(c->max_body_bytes >= 256 && c->max_body_bytes <= 16u << 20);
	assert(c->max_connections >= 1 && c->max_connections <= 65535);
	assert(c->threads >= 1 && c->threads <= 64);
	assert(c->commit_batch_max >= 1 && c->commit_batch_max <= 1024);
	assert(c->queue_max >= 1 && c->queue_max <= 1u << 20);
	assert(c->log_level >= LOG_LEVEL_DEBUG && c->log_level <= LOG_LEVEL_ERROR);
	for (i = 0; i < c->nroutes; i++) {
		const char *p = c->routes[i].path;

		assert(p[0] == '/' && c->routes[i].signed_path[0] == '/');
		assert(conf_route_find(c, p, strlen(p)) == &c->routes[i]);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf *c = (struct conf *)1;
	enum conf_status st;
	char err[1024];

	if (fuzz_fd == -1)
		fuzz_open();
	if (ftruncate(fuzz_fd, 0) == -1 ||
	    pwrite(fuzz_fd, data, size, 0) != (ssize_t)size)
		abort();

	err[0] = '\0';
	st = conf_load(fuzz_path, &c, err, sizeof(err));
	if (st == CONF_OK) {
		assert(c != NULL);
		fuzz_check(c);
		conf_free(c);
	} else {
		assert(st == CONF_ERR_SYNTAX || st == CONF_ERR_KEY);
		assert(c == NULL && err[0] != '\0');
	}
	return 0;
}
