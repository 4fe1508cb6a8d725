/*
 * misroute.c - does a signature that failed over the route's path verify
 * over another variant of it?  See misroute.h.
 *
 * The budget is process-wide: two relaxed atomics, the second it counts
 * and what was spent of it.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "misroute.h"
#include "pathvar.h"
#include "util.h"

/*
 * What a proxy or a route gets wrong: a slash, a prefix, the local path.
 * Not another route's signed path: a notification for one route sent to
 * another is a replay as often as a mistake, and stays a plain mismatch.
 */
#define MISROUTE_KINDS	(PATHVAR_KIND(PATHVAR_SLASH) |			\
	PATHVAR_KIND(PATHVAR_PREFIX) | PATHVAR_KIND(PATHVAR_OWN))

static _Atomic uint64_t	misroute_sec;	/* the budget's second, mono */
static _Atomic unsigned	misroute_used;	/* of it, spent */

/* One extra RSA check from the second's budget: 1 granted, 0 spent. */
static int
misroute_budget(void)
{
	uint64_t sec = util_mono_us() / 1000000;
	uint64_t was = atomic_load(&misroute_sec);

	/* The thread that moves the second on starts its count over. */
	if (was != sec && atomic_compare_exchange_strong(&misroute_sec,
	    &was, sec))
		atomic_store(&misroute_used, 0);
	return atomic_fetch_add(&misroute_used, 1) < MISROUTE_BUDGET;
}

int
misroute_find(const struct conf *conf, const char *signed_path,
    const char *req_path, const char *client_id,
    const struct verify_input *in, char **variant, long *key_version)
{
	struct pathvar v[MISROUTE_TRIES];
	struct verify_sighdr sh;
	struct verify_content c = in->content;
	long vers[MISROUTE_KEYS], kv = 0, named;
	EVP_PKEY *keys[MISROUTE_KEYS], *key = NULL;
	size_t n, nk, i;
	int pass;

	if (verify_parse_header(in->sig_header, &sh) != VERIFY_OK)
		return -1;
	nk = verify_keyring_keys(conf->keys, client_id, vers, keys,
	    MISROUTE_KEYS);
	if (nk > MISROUTE_KEYS)
		nk = MISROUTE_KEYS;
	named = verify_named_version(sh.key_version, vers, nk);
	for (pass = 0; pass < 2 && key == NULL; pass++)
		for (i = 0; i < nk && key == NULL; i++)
			if ((pass == 1 || vers[i] == named) &&
			    (size_t)EVP_PKEY_get_size(keys[i]) == sh.siglen) {
				key = keys[i];
				kv = vers[i];
			}
	if (key == NULL)
		return -1;
	n = pathvar_list(conf, signed_path, req_path, MISROUTE_KINDS, v,
	    MISROUTE_TRIES);
	for (i = 0; i < n; i++) {
		if (!misroute_budget()) {
			metrics_variant(METRICS_VARIANT_SKIPPED);
			return -1;
		}
		metrics_variant(METRICS_VARIANT_TRIED);
		c.path = v[i].path;
		if (verify_try_content(key, &c, sh.sig, sh.siglen) !=
		    VERIFY_CHECK_YES)
			continue;
		if ((*variant = strdup(v[i].path)) == NULL)
			return -1;
		*key_version = kv;
		metrics_variant(METRICS_VARIANT_MISROUTED);
		return 0;
	}
	return -1;
}
