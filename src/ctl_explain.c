/*
 * ctl_explain.c - antomctl explain: say exactly why a captured request's
 * signature does or does not verify against antomd's own configuration.
 *
 * Owns the signature header diagnosis and the list of variants that are
 * tried to name the cause: path?query, trailing slash, the request's own
 * path, other routes' signed paths, a route's public prefix, another
 * client's key, the '+' turned into ' ' bug and a re-serialised body.
 * The request itself comes from ctl_capture.c.
 *
 * The verdict itself (exit 0 or 1) is verify_request(), the daemon's own
 * check, over what the daemon would see; the variants only diagnose.  The
 * signed content and the signature header are built and parsed by
 * verify.c, never spelled again here.  Every untrusted byte printed goes
 * through log_escape().
 *
 * Single-threaded; the x* allocators die on failure, as fits a tool.
 */
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/evp.h>
#include "conf.h"
#include "ctl.h"
#include "log.h"
#include "pathvar.h"
#include "util.h"
#include "verify.h"

#define EX_KEYS_MAX	64
#define EX_SHOW_MAX	80	/* bytes of content shown */
#define EX_TRIED_MAX	256

static char ex_prog[] = "antomctl explain";

/* One explanation in progress. */
struct ex {
	const struct conf	*conf;
	const struct ctl_capture	*rq;
	const struct conf_route	*route;		/* route of rq->path, or NULL */
	struct verify_content	 content;	/* as the route's signed path */
	struct verify_sighdr	 sh;		/* signature bytes used for variants */
	int			 have_sig;
	int			 plus_fixed;	/* sh came from blanks -> '+' */
	char			*tried[EX_TRIED_MAX];
	size_t			 ntried;
	char			 diag[512];	/* first variant that verified */
};

static void
ex_usage(FILE *f)
{
	fputs("usage: antomctl explain -c FILE REQUEST\n"
	    "       antomctl explain -c FILE --id N\n"
	    "\n"
	    "Say exactly why a notification's signature does or does not\n"
	    "verify with antomd's own configuration (keys and routes): the\n"
	    "signature header decoded, the keys tried, the SHA-256 and start\n"
	    "of the signed content, and which variant verifies (path?query,\n"
	    "trailing slash, another route's signed path or public prefix,\n"
	    "another client's key, '+' turned into ' ', re-serialised body).\n"
	    "\n"
	    "  -c, --config FILE   antomd configuration to judge by (required)\n"
	    "  --id N              judge row N of the notifications table in\n"
	    "                      the configured database instead of a file\n"
	    "  -h, --help          show this help\n"
	    "\n"
	    "REQUEST is a file ('-' for stdin) holding the raw HTTP request as\n"
	    "captured: request line, headers (CRLF or LF line ends), blank\n"
	    "line, body (at most 1 MiB).\n"
	    "\n"
	    "Exit status: 0 the request verifies as received (antomd would\n"
	    "accept it), 1 it does not (a variant that verifies is the\n"
	    "diagnosis, not a pass), 2 usage error, 3 configuration, key,\n"
	    "file or database error.\n", f);
}

/* s[0..len) escaped, in quotes, at most max bytes of it. */
static void
ex_put(const char *s, size_t len, size_t max)
{
	char buf[4 * 256 + 1];

	if (max > 256)
		max = 256;
	log_escape(s, len < max ? len : max, buf, sizeof(buf));
	printf("\"%s\"%s", buf, len > max ? "..." : "");
}

/*
 * Decode and describe the signature header; fill x->sh when some
 * signature bytes can be had, from the header as is or with its blanks
 * put back to '+'.
 */
static void
ex_signature(struct ex *x)
{
	const char *hdr = x->rq->sig, *v;
	char tmp[VERIFY_HEADER_MAX];
	unsigned char raw[VERIFY_SIG_MAX];
	size_t vlen = 0, i, tlen, rlen, esc = 0, plus = 0, blanks = 0;
	enum verify_result r;
	char *fixed;

	printf("signature header:\n");
	r = verify_parse_header(hdr, &x->sh);
	printf("  parse:       %s\n", verify_result_str(r));
	if (r == VERIFY_ERR_HEADER) {
		printf("  problem:     malformed header (want "
		    "\"algorithm=RSA256,keyVersion=1,signature=...\")\n");
		return;
	}
	printf("  algorithm:   ");
	ex_put(x->sh.algorithm, strlen(x->sh.algorithm), 32);
	printf("%s\n", r == VERIFY_ERR_ALGORITHM ?
	    "  (only RSA256 exists; rejected)" : "");
	if (r == VERIFY_ERR_ALGORITHM)
		return;
	if (r == VERIFY_ERR_KEY_VERSION) {
		printf("  keyVersion:  not a positive integer; rejected\n");
		return;
	}
	if (x->sh.key_version == 0)
		printf("  keyVersion:  absent (the client's latest key is "
		    "meant)\n");
	else
		printf("  keyVersion:  %ld\n", x->sh.key_version);
	/* The parser says where the value is: the signature field was found. */
	v = hdr + x->sh.value_off;
	vlen = x->sh.value_len;
	for (i = 0; i < vlen; i++) {
		if (v[i] == '%')
			esc++;
		else if (v[i] == '+')
			plus++;
		else if (v[i] == ' ' || v[i] == '\t')
			blanks++;
	}
	printf("  value:       %zu chars, %zu %%XX escape(s), %zu literal "
	    "'+', %zu blank(s)\n", vlen, esc, plus, blanks);
	if (r == VERIFY_OK) {
		printf("  decoded:     %zu bytes\n", x->sh.siglen);
		x->have_sig = 1;
		return;
	}

	/* VERIFY_ERR_ENCODING: say where. */
	if (verify_pct_decode(v, vlen, tmp, sizeof(tmp), &tlen) == -1) {
		for (i = 0; i < vlen; i++)
			if (v[i] == '%' && (vlen - i < 3 ||
			    strchr("0123456789abcdefABCDEF", v[i + 1]) == NULL ||
			    strchr("0123456789abcdefABCDEF", v[i + 2]) == NULL ||
			    v[i + 1] == '\0' || v[i + 2] == '\0'))
				break;
		printf("  problem:     bad %%XX escape at offset %zu: ", i);
		ex_put(v + i, vlen - i, 3);
		printf("\n");
		return;
	}
	if (verify_b64_decode(tmp, tlen, raw, sizeof(raw), &rlen) == -1) {
		for (i = 0; i < tlen; i++)
			if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
			    "rstuvwxyz0123456789+/=", tmp[i]) == NULL ||
			    tmp[i] == '\0')
				break;
		if (i < tlen) {
			printf("  problem:     bad base64: byte ");
			ex_put(tmp + i, 1, 1);
			printf(" at offset %zu of the decoded value\n", i);
		} else
			printf("  problem:     bad base64: %zu chars (not a "
			    "multiple of 4), misplaced '=' or non-zero pad "
			    "bits\n", tlen);
	}
	if (blanks == 0)
		return;

	/* The classic: form-decoding turned the base64 '+' into ' '. */
	printf("  diagnosis:   the value holds %zu blank(s) where base64 has "
	    "none: a '+' turned into ' ' by form-decoding (the SDKs' bug)\n",
	    blanks);
	fixed = xstrdup(hdr);
	for (i = 0; i < vlen; i++)
		if (v[i] == ' ')
			fixed[(size_t)(v - hdr) + i] = '+';
	r = verify_parse_header(fixed, &x->sh);
	free(fixed);
	if (r == VERIFY_OK) {
		printf("  with '+':    decodes to %zu bytes; variants below use "
		    "it\n", x->sh.siglen);
		x->have_sig = 1;
		x->plus_fixed = 1;
	} else
		printf("  with '+':    still %s\n", verify_result_str(r));
}

/* Keys of client, and whether the signature's length fits each. */
static void
ex_keys(struct ex *x)
{
	long vers[EX_KEYS_MAX], kv;
	EVP_PKEY *keys[EX_KEYS_MAX];
	const char *ids[EX_KEYS_MAX];
	size_t n, i, nc;
	int named = 0;

	printf("keys:\n");
	if (x->rq->client_id == NULL)
		return;
	n = verify_keyring_keys(x->conf->keys, x->rq->client_id, vers, keys,
	    EX_KEYS_MAX);
	if (n == 0) {
		printf("  client id ");
		ex_put(x->rq->client_id, strlen(x->rq->client_id), 64);
		printf(" is not configured; configured clients:");
		nc = verify_keyring_clients(x->conf->keys, ids, EX_KEYS_MAX);
		for (i = 0; i < nc && i < EX_KEYS_MAX; i++)
			printf(" %s", ids[i]);
		printf("\n");
		return;
	}
	if (n > EX_KEYS_MAX)
		n = EX_KEYS_MAX;
	kv = verify_named_version(x->sh.key_version, vers, n);
	for (i = 0; i < n; i++) {
		printf("  version %ld: RSA-%d, modulus %d bytes", vers[i],
		    EVP_PKEY_get_bits(keys[i]), EVP_PKEY_get_size(keys[i]));
		if (x->have_sig)
			printf(", signature %zu bytes: %s", x->sh.siglen,
			    (size_t)EVP_PKEY_get_size(keys[i]) == x->sh.siglen ?
			    "length matches" : "LENGTH DIFFERS");
		if (x->have_sig && vers[i] == kv) {
			printf(" (named by keyVersion, tried first)");
			named = 1;
		}
		printf("\n");
	}
	if (x->have_sig && !named)
		printf("  keyVersion %ld is not configured for this client; "
		    "every configured key is tried (rotation)\n", kv);
}

/* The signed content, from verify.c: exactly what is verified. */
static void
ex_content(const struct verify_content *content)
{
	unsigned char md[32], *c;
	char hex[65];
	size_t n;
	unsigned int mdlen;

	if ((c = verify_content_bytes(content, &n)) == NULL) {
		printf("signed content: cannot be built (out of memory)\n");
		return;
	}
	if (EVP_Digest(c, n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != sizeof(md))
		snprintf(hex, sizeof(hex), "(SHA-256 failed)");
	else
		util_hex(md, sizeof(md), hex);
	printf("signed content (primary attempt), %zu bytes:\n", n);
	printf("  sha256:      %s\n", hex);
	printf("  first %d:    ", EX_SHOW_MAX);
	ex_put((const char *)c, n, EX_SHOW_MAX);
	printf("\n");
	free(c);
}

/*
 * Try keys of key_client over content c.  Prints one line and remembers
 * the first variant that verifies.  Returns 1 verified, else 0.
 */
static int
ex_try(struct ex *x, const char *label, const struct verify_content *c,
    const char *key_client)
{
	const char *path = c->path, *cid = c->client_id;
	long vers[EX_KEYS_MAX];
	EVP_PKEY *keys[EX_KEYS_MAX];
	char id[2048];
	size_t n, i;
	int pass, ok = 0;
	long kv = 0, named;

	/* The same content with the same keys answers the same. */
	snprintf(id, sizeof(id), "%s\n%s\n%s\n%p", path, cid, key_client,
	    (const void *)c->body);
	for (i = 0; i < x->ntried; i++)
		if (strcmp(x->tried[i], id) == 0)
			return 0;
	if (x->ntried < EX_TRIED_MAX)
		x->tried[x->ntried++] = xstrdup(id);

	n = verify_keyring_keys(x->conf->keys, key_client, vers, keys,
	    EX_KEYS_MAX);
	if (n > EX_KEYS_MAX)
		n = EX_KEYS_MAX;
	named = verify_named_version(x->sh.key_version, vers, n);
	for (pass = 0; pass < 2 && !ok; pass++) {
		for (i = 0; i < n && !ok; i++) {
			if ((pass == 0) != (vers[i] == named))
				continue;
			if ((size_t)EVP_PKEY_get_size(keys[i]) != x->sh.siglen)
				continue;
			if (verify_try_content(keys[i], c, x->sh.sig,
			    x->sh.siglen) == VERIFY_CHECK_YES) {
				ok = 1;
				kv = vers[i];
			}
		}
	}
	printf("  [%s] %s: ", ok ? "VERIFIES" : "no", label);
	ex_put(path, strlen(path), 120);
	if (strcmp(cid, x->rq->client_id) != 0) {
		printf(", client id in content ");
		ex_put(cid, strlen(cid), 64);
	}
	if (strcmp(key_client, x->rq->client_id) != 0)
		printf(", key of client %s", key_client);
	if (ok)
		printf(" (key version %ld)", kv);
	printf("\n");
	if (ok && x->diag[0] == '\0') {
		char esc[4 * 120 + 1];

		log_escape(path, strnlen(path, 120), esc, sizeof(esc));
		/* Cut short is fine: it is a diagnosis line. */
		if (snprintf(x->diag, sizeof(x->diag), "%s (\"%s\"%s%s, key "
		    "version %ld)", label, esc,
		    strcmp(key_client, x->rq->client_id) != 0 ?
		    ", key of client " : "",
		    strcmp(key_client, x->rq->client_id) != 0 ?
		    key_client : "", kv) >= (int)sizeof(x->diag))
			x->diag[sizeof(x->diag) - 1] = '\0';
	}
	return ok;
}

/* "a" + "b" (+ "?" + q when q); the caller frees. */
static char *
ex_cat(const char *a, const char *b, const char *q)
{
	size_t n = strlen(a) + strlen(b) + (q != NULL ? strlen(q) + 1 : 0) + 1;
	char *p = xmalloc(n);

	snprintf(p, n, "%s%s%s%s", a, b, q != NULL ? "?" : "",
	    q != NULL ? q : "");
	return p;
}

/*
 * Whether JSON text has blanks or line breaks between tokens: Antom
 * sends compact JSON, so those mean someone re-encoded the body.
 */
static int
ex_json_spaced(const unsigned char *b, size_t n)
{
	size_t i;
	int in_str = 0;

	for (i = 0; i < n; i++) {
		if (in_str) {
			if (b[i] == '\\')
				i++;
			else if (b[i] == '"')
				in_str = 0;
		} else if (b[i] == '"')
			in_str = 1;
		else if (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' ||
		    b[i] == '\r')
			return 1;
	}
	return 0;
}

/* ex_try() over the request's content with another path, its own key. */
static void
ex_try_path(struct ex *x, const char *label, const char *path)
{
	struct verify_content c = x->content;

	c.path = path;
	ex_try(x, label, &c, c.client_id);
}

/* ex_try_path() over "a" + "b" (+ "?" + q when q). */
static void
ex_try_cat(struct ex *x, const char *label, const char *a, const char *b,
    const char *q)
{
	char *p = ex_cat(a, b, q);

	ex_try_path(x, label, p);
	free(p);
}

/*
 * The request's own key, over the paths a proxy or a typo may have
 * changed: pathvar.h's list, the one antomd tries too, shown in the
 * order slash, own path, routes, prefixes.
 */
static void
ex_variants_paths(struct ex *x, const char *q)
{
	static const enum pathvar_kind order[] = { PATHVAR_SLASH, PATHVAR_OWN,
	    PATHVAR_ROUTE, PATHVAR_PREFIX };
	const struct ctl_capture *rq = x->rq;
	const char *primary = x->content.path, *sp;
	struct pathvar *v;
	char label[256];
	size_t i, k, n, pl, max = 2 + 2 * x->conf->nroutes;

	ex_try_path(x, x->route != NULL ? "bare route signed path" :
	    "request path (no route)", primary);
	if (q != NULL)
		ex_try_cat(x, "path?query", primary, "", q);
	v = xcalloc(max, sizeof(*v));
	n = pathvar_list(x->conf, primary, rq->path, PATHVAR_ALL, v, max);
	for (k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		for (i = 0; i < n; i++) {
			if (v[i].kind != order[k])
				continue;
			switch (v[i].kind) {
			case PATHVAR_SLASH:
				ex_try_path(x, "trailing slash toggled",
				    v[i].path);
				break;
			case PATHVAR_OWN:
				ex_try_path(x, "the request's own path",
				    v[i].path);
				if (q != NULL)
					ex_try_cat(x, "the request's own "
					    "path?query", v[i].path, "", q);
				break;
			case PATHVAR_ROUTE:
				snprintf(label, sizeof(label), "signed path of "
				    "route %s", v[i].route->path);
				ex_try_path(x, label, v[i].path);
				break;
			case PATHVAR_PREFIX:
				sp = v[i].route->signed_path;
				pl = strlen(sp) - strlen(v[i].route->path);
				snprintf(label, sizeof(label), "public prefix "
				    "\"%.*s\" (of route %s) applied", (int)pl,
				    sp, v[i].route->path);
				ex_try_path(x, label, v[i].path);
				break;
			}
		}
	}
	free(v);
}

/* Every other configured client's key, and its id in the content. */
static void
ex_variants_clients(struct ex *x, const char *q)
{
	const char *ids[EX_KEYS_MAX], *cid = x->content.client_id;
	struct verify_content v;
	char label[256], *p;
	size_t i, nc;

	nc = verify_keyring_clients(x->conf->keys, ids, EX_KEYS_MAX);
	for (i = 0; i < nc && i < EX_KEYS_MAX; i++) {
		if (strcmp(ids[i], cid) == 0)
			continue;
		snprintf(label, sizeof(label), "key of configured client %s",
		    ids[i]);
		v = x->content;
		ex_try(x, label, &v, ids[i]);
		if (q != NULL) {
			v.path = p = ex_cat(x->content.path, "", q);
			ex_try(x, label, &v, ids[i]);
			free(p);
		}
		snprintf(label, sizeof(label), "configured client id %s",
		    ids[i]);
		v = x->content;
		v.client_id = ids[i];
		ex_try(x, label, &v, ids[i]);
	}
}

/* Antom signs its own compact bytes: was the body re-encoded? */
static void
ex_variants_body(struct ex *x, int known)
{
	const struct ctl_capture *rq = x->rq;
	struct verify_content v;
	json_t *j;
	char *p;

	j = json_loadb((const char *)rq->body, rq->bodylen, 0, NULL);
	if (j == NULL) {
		printf("body: not JSON\n");
		return;
	}
	p = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (p == NULL)
		return;
	if (strlen(p) != rq->bodylen || memcmp(p, rq->body, rq->bodylen) != 0) {
		if (known) {
			v = x->content;
			v.body = (const unsigned char *)p;
			v.bodylen = strlen(p);
			ex_try(x, "body re-serialised compactly", &v,
			    v.client_id);
		}
		if (ex_json_spaced(rq->body, rq->bodylen))
			printf("body: body looks re-serialised: blanks or line "
			    "breaks between JSON tokens (\": \", \", \" or "
			    "pretty-printing), while Antom sends compact JSON "
			    "and signs those exact bytes\n");
		else
			printf("body: compact JSON, but not in the form a "
			    "compact re-encoder gives (escapes or numbers "
			    "spelled differently)\n");
	} else
		printf("body: compact JSON, as Antom sends it\n");
	free(p);
}

/* Every variant; the route's bare signed path first. */
static void
ex_variants(struct ex *x)
{
	const char *q = x->rq->query != NULL && x->rq->query[0] != '\0' ?
	    x->rq->query : NULL;
	int known;

	known = verify_keyring_keys(x->conf->keys, x->content.client_id, NULL,
	    NULL, 0) > 0;
	printf("variants%s:\n", x->plus_fixed ?
	    " (signature with blanks put back to '+')" : "");
	if (known)
		ex_variants_paths(x, q);
	ex_variants_clients(x, q);
	ex_variants_body(x, known);
}

/* The whole report; returns the exit status. */
static int
ex_explain(const struct conf *c, const struct ctl_capture *rq, const char *what)
{
	struct ex x;
	struct verify_input in;
	struct verify_match m;
	enum verify_result vr = VERIFY_ERR_HEADER;
	int accept = 1;
	size_t i;

	memset(&x, 0, sizeof(x));
	x.conf = c;
	x.rq = rq;
	x.route = conf_route_find(c, rq->path, strlen(rq->path));

	printf("request:       %s ", what);
	ex_put(rq->method, strlen(rq->method), 16);
	printf(" ");
	ex_put(rq->path, strlen(rq->path), 200);
	if (rq->query != NULL) {
		printf(" query ");
		ex_put(rq->query, strlen(rq->query), 200);
	}
	printf("\n");
	printf("body:          %zu bytes\n", rq->bodylen);
	if (strcmp(rq->method, "POST") != 0) {
		printf("problem:       antomd answers 405 to anything but "
		    "POST\n");
		accept = 0;
	}
	if (rq->bodylen > c->max_body_bytes) {
		printf("problem:       body over max_body_bytes %zu: antomd "
		    "answers 413\n", c->max_body_bytes);
		accept = 0;
	}
	if (x.route != NULL)
		printf("route:         %s, signed path %s\n", x.route->path,
		    x.route->signed_path);
	else {
		printf("route:         none for this path: antomd answers "
		    "404\n");
		for (i = 0; i < c->nroutes; i++)
			if (strcmp(c->routes[i].signed_path, rq->path) == 0)
				printf("               it is the public signed "
				    "path of route %s: the proxy should forward "
				    "it there\n", c->routes[i].path);
		accept = 0;
	}
	if (rq->nclient > 1 || rq->nrtime > 1 || rq->nsig > 1) {
		printf("problem:       client-id, request-time or signature "
		    "given more than once: antomd answers 400\n");
		accept = 0;
	}
	printf("client-id:     ");
	if (rq->client_id != NULL)
		ex_put(rq->client_id, strlen(rq->client_id), 64);
	else
		printf("(missing)");
	printf("\nrequest-time:  ");
	if (rq->rtime != NULL)
		ex_put(rq->rtime, strlen(rq->rtime), 64);
	else
		printf("(missing)");
	printf("\n");
	if (rq->client_id == NULL || rq->rtime == NULL || rq->sig == NULL) {
		printf("problem:       client-id, request-time and signature "
		    "headers are all required\nresult:        does NOT "
		    "verify (missing_header)\n");
		return CTL_EXIT_FAIL;
	}

	x.content.path = x.route != NULL ? x.route->signed_path : rq->path;
	x.content.client_id = rq->client_id;
	x.content.request_time = rq->rtime;
	x.content.body = rq->body;
	x.content.bodylen = rq->bodylen;
	ex_signature(&x);
	ex_keys(&x);
	ex_content(&x.content);
	if (x.have_sig)
		ex_variants(&x);
	else
		printf("variants:      none tried: no signature bytes to try\n");

	/* The verdict is the daemon's own check. */
	in.content = x.content;
	in.query = rq->query;
	in.sig_header = rq->sig;
	vr = verify_request(c->keys, &in, &m);
	if (vr == VERIFY_OK && accept)
		printf("result:        verifies as received (key version %ld, "
		    "%s)\n", m.key_version, m.with_query ? "over path?query" :
		    "over the bare signed path");
	else {
		if (vr == VERIFY_OK)
			printf("result:        signature verifies, but antomd "
			    "would not accept the request (see problem "
			    "above)\n");
		else
			printf("result:        does NOT verify as received "
			    "(%s)\n", verify_result_str(vr));
		if (x.diag[0] != '\0' && vr != VERIFY_OK)
			printf("diagnosis:     %s%s\n", x.plus_fixed ?
			    "'+' turned into ' ' in the signature; with it put "
			    "back, verifies over " : "verifies over ", x.diag);
		else if (vr != VERIFY_OK && x.have_sig)
			printf("diagnosis:     no variant verifies: the body, "
			    "request-time or client-id was changed after "
			    "signing, or the signer's key is not configured\n");
		accept = 0;
	}
	for (i = 0; i < x.ntried; i++)
		free(x.tried[i]);
	return accept ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}

int
ctl_explain(int argc, char **argv)
{
	enum { OPT_ID = 256 };
	static const struct option opts[] = {
		{ "config",	required_argument,	NULL, 'c' },
		{ "id",		required_argument,	NULL, OPT_ID },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	struct ctl_capture rq;
	struct conf *conf = NULL;
	const char *cpath = NULL, *idarg = NULL;
	char what[64];
	long long id = 0;
	long idl;
	int c, rc = CTL_EXIT_USAGE;

	memset(&rq, 0, sizeof(rq));
	argv[0] = ex_prog;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cpath = optarg;
			break;
		case OPT_ID:
			idarg = optarg;
			break;
		case 'h':
			ex_usage(stdout);
			return CTL_EXIT_OK;
		default:
			fputs("Try 'antomctl explain --help'.\n", stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (cpath == NULL || (idarg == NULL) != (argc - optind == 1) ||
	    (idarg != NULL && argc - optind != 0)) {
		ctl_warnx("explain", "want -c FILE and exactly one of REQUEST "
		    "or --id N");
		fputs("Try 'antomctl explain --help'.\n", stderr);
		return CTL_EXIT_USAGE;
	}
	if (idarg != NULL) {
		if (util_parse_long(idarg, 1, LONG_MAX, &idl) != 0) {
			ctl_warnx("explain", "--id wants a positive integer, "
			    "not '%s'", idarg);
			return CTL_EXIT_USAGE;
		}
		id = idl;
	}

	rc = CTL_EXIT_ERR;
	if ((conf = ctl_conf("explain", cpath)) == NULL)
		goto done;
	if (idarg != NULL) {
		if (ctl_capture_row(conf, id, &rq) == -1)
			goto done;
		snprintf(what, sizeof(what), "notification %lld:", id);
	} else {
		if (ctl_capture_file(argv[optind], &rq) == -1)
			goto done;
		snprintf(what, sizeof(what), "captured");
	}
	rc = ex_explain(conf, &rq, what);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		ctl_warnx("explain", "writing the output: %s", strerror(errno));
		rc = CTL_EXIT_ERR;
	}
done:
	ctl_capture_free(&rq);
	conf_free(conf);
	return rc;
}
