/*
 * verify.c - Antom notification signatures (docs/protocol.md section 2): the
 * signature header parser, strict %XX and base64 decoding, the signed
 * content, the keyring, and the RSA256 check itself.  Loading the keys
 * from the configuration is verify_key.c.
 *
 * Owns: the keyring, a flat array of clients, each with an array of
 * (key version, RSA public key).  It is built by one thread when the
 * configuration is loaded and never changed afterwards.
 *
 * Thread-safety: no global mutable state.  Every function works on its
 * arguments only, and a built keyring is read-only, so verify_request()
 * may run on any number of threads at once.  OpenSSL's error queue is
 * per thread; it is emptied after every failed OpenSSL call here so that a
 * forged request never leaves errors behind for the next request the same
 * thread handles (a stale error would be blamed on an unrelated call).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/rsa.h>

#include "util.h"
#include "verify.h"

struct verify_key {
	long		 version;
	EVP_PKEY	*pkey;
	/*
	 * A digest context already initialised for verifying with this key
	 * (SHA-256, PKCS#1 v1.5), built once at load time.  Each request
	 * copies it instead of running EVP_DigestVerifyInit(), which in
	 * OpenSSL 3 fetches the algorithm and builds a key context every time.
	 * The template is only ever read, so threads may copy it at once.
	 */
	EVP_MD_CTX	*tmpl;
};

struct verify_client {
	char			*id;
	struct verify_key	*keys;
	size_t			 nkeys;
};

struct verify_keyring {
	struct verify_client	*clients;
	size_t			 nclients;
	size_t			 nkeys;
};

enum reason
verify_reason(enum verify_result r)
{
	static const enum reason reasons[] = {
		[VERIFY_OK] = REASON_NONE,
		[VERIFY_ERR_HEADER] = REASON_BAD_HEADER,
		[VERIFY_ERR_ALGORITHM] = REASON_BAD_ALGORITHM,
		[VERIFY_ERR_KEY_VERSION] = REASON_BAD_KEY_VERSION,
		[VERIFY_ERR_ENCODING] = REASON_BAD_ENCODING,
		[VERIFY_ERR_LENGTH] = REASON_BAD_LENGTH,
		[VERIFY_ERR_CLIENT] = REASON_UNKNOWN_CLIENT,
		[VERIFY_ERR_MISMATCH] = REASON_MISMATCH,
		[VERIFY_ERR_INTERNAL] = REASON_INTERNAL,
	};

	/* Out-of-range values too: metric labels stay a closed set. */
	if ((unsigned)r >= sizeof(reasons) / sizeof(reasons[0]))
		return REASON_INTERNAL;
	return reasons[r];
}

const char *
verify_result_str(enum verify_result r)
{
	return r == VERIFY_OK ? "ok" : reason_str(verify_reason(r));
}

/* Our own character class: <ctype.h> depends on the locale. */
static int
verify_is_blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static int
verify_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Base64 value plus one of every byte, 0 for those outside the alphabet:
 * a table, because every request decodes a signature in the HTTP threads
 * and a lookup beats the branches there.
 */
static const unsigned char verify_b64tab[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6,
	['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12,
	['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17,
	['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22,
	['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27,
	['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
	['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37,
	['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
	['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47,
	['v'] = 48, ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52,
	['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57,
	['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62,
	['+'] = 63, ['/'] = 64,
};

static int
verify_b64val(unsigned char c)
{
	return (int)verify_b64tab[c] - 1;
}

/*
 * Only %XX is decoded: '+' is not a space here.  Antom sometimes sends the
 * base64 value un-encoded, and form-decoding its '+' into a blank is the
 * bug that makes the official SDKs reject such notifications.  Writing at
 * o <= i lets out alias in.
 */
int
verify_pct_decode(const char *in, size_t inlen, char *out, size_t outcap,
    size_t *outlen)
{
	size_t i, o = 0;
	unsigned char c;
	int hi, lo;

	for (i = 0; i < inlen; i++) {
		c = (unsigned char)in[i];
		if (c == '%') {
			if (inlen - i < 3)
				return -1;
			hi = verify_hexval((unsigned char)in[i + 1]);
			lo = verify_hexval((unsigned char)in[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if (o >= outcap)
			return -1;
		out[o++] = (char)c;
	}
	*outlen = o;
	return 0;
}

/*
 * Strict on purpose: a signature has exactly one spelling in base64, so
 * anything OpenSSL's lenient decoder would also accept (blanks, missing
 * padding, stray bits) is a sign of a broken or tampered header, and
 * tolerating it would only make the accepted language fuzzier.
 */
int
verify_b64_decode(const char *in, size_t inlen, unsigned char *out,
    size_t outcap, size_t *outlen)
{
	size_t i, o, pad = 0, need;
	int v[4], k;

	if (inlen % 4 != 0)
		return -1;
	if (inlen > 0 && in[inlen - 1] == '=')
		pad = in[inlen - 2] == '=' ? 2 : 1;
	need = inlen / 4 * 3 - pad;
	if (need > outcap)
		return -1;

	for (i = 0, o = 0; i < inlen; i += 4) {
		for (k = 0; k < 4; k++) {
			if (i + (size_t)k >= inlen - pad) {
				v[k] = 0;	/* padding position */
				continue;
			}
			/* '=' maps to -1 here: padding only at the very end. */
			v[k] = verify_b64val((unsigned char)in[i + (size_t)k]);
			if (v[k] < 0)
				return -1;
		}
		out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (o < need)
			out[o++] = (unsigned char)((v[1] & 0x0f) << 4 | v[2] >> 2);
		if (o < need)
			out[o++] = (unsigned char)((v[2] & 0x03) << 6 | v[3]);
	}
	/* The bits the padding leaves unused must be zero. */
	if (pad == 2 && (v[1] & 0x0f) != 0)
		return -1;
	if (pad == 1 && (v[2] & 0x03) != 0)
		return -1;
	*outlen = need;
	return 0;
}

void
verify_b64_encode(const unsigned char *in, size_t len, char *out)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0;
	unsigned long w;

	for (i = 0; i + 2 < len; i += 3) {
		w = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8 |
		    in[i + 2];
		out[o++] = alpha[w >> 18 & 0x3f];
		out[o++] = alpha[w >> 12 & 0x3f];
		out[o++] = alpha[w >> 6 & 0x3f];
		out[o++] = alpha[w & 0x3f];
	}
	if (len - i == 1) {
		w = (unsigned long)in[i] << 16;
		out[o++] = alpha[w >> 18 & 0x3f];
		out[o++] = alpha[w >> 12 & 0x3f];
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		w = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8;
		out[o++] = alpha[w >> 18 & 0x3f];
		out[o++] = alpha[w >> 12 & 0x3f];
		out[o++] = alpha[w >> 6 & 0x3f];
		out[o++] = '=';
	}
	out[o] = '\0';
}

/* A positive decimal integer, digits only (no sign, no blanks). */
static int
verify_parse_version(const char *s, size_t len, long *out)
{
	long v = 0;
	size_t i;
	int d;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = s[i] - '0';
		if (v > (LONG_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v <= 0)
		return -1;
	*out = v;
	return 0;
}

/*
 * Structural errors win over semantic ones, so a header is judged the
 * same whatever its field order.  Only the three known fields are checked
 * for repetition; unknown fields are ignored entirely.  An empty field
 * (",,", a trailing comma) is malformed, and so is "signature=" with no
 * value: that is a missing signature, not a badly encoded one.
 */
enum verify_result
verify_parse_header(const char *hdr, struct verify_sighdr *sh)
{
	const char *alg = NULL, *kv = NULL, *sig = NULL;
	size_t alglen = 0, kvlen = 0, siglen = 0;
	const char *p, *end, *fe, *eq, *k, *ke, *v, *ve;
	char tmp[VERIFY_HEADER_MAX];
	size_t hlen, tmplen;

	memset(sh, 0, sizeof(*sh));	/* key_version 0: absent */
	if (hdr == NULL)
		return VERIFY_ERR_HEADER;
	hlen = strnlen(hdr, VERIFY_HEADER_MAX + 1);
	if (hlen == 0 || hlen > VERIFY_HEADER_MAX)
		return VERIFY_ERR_HEADER;
	end = hdr + hlen;

	for (p = hdr;; p = fe + 1) {
		fe = memchr(p, ',', (size_t)(end - p));
		if (fe == NULL)
			fe = end;
		k = p;
		ve = fe;
		while (k < ve && verify_is_blank((unsigned char)*k))
			k++;
		while (ve > k && verify_is_blank((unsigned char)ve[-1]))
			ve--;
		if (k == ve)
			return VERIFY_ERR_HEADER;
		if ((eq = memchr(k, '=', (size_t)(ve - k))) == NULL)
			return VERIFY_ERR_HEADER;
		ke = eq;
		while (ke > k && verify_is_blank((unsigned char)ke[-1]))
			ke--;
		v = eq + 1;
		while (v < ve && verify_is_blank((unsigned char)*v))
			v++;
		if (ke == k)
			return VERIFY_ERR_HEADER;

		if ((size_t)(ke - k) == 9 && strncasecmp(k, "algorithm", 9) == 0) {
			if (alg != NULL)
				return VERIFY_ERR_HEADER;
			alg = v;
			alglen = (size_t)(ve - v);
		} else if ((size_t)(ke - k) == 10 &&
		    strncasecmp(k, "keyVersion", 10) == 0) {
			if (kv != NULL)
				return VERIFY_ERR_HEADER;
			kv = v;
			kvlen = (size_t)(ve - v);
		} else if ((size_t)(ke - k) == 9 &&
		    strncasecmp(k, "signature", 9) == 0) {
			if (sig != NULL)
				return VERIFY_ERR_HEADER;
			sig = v;
			siglen = (size_t)(ve - v);
			sh->value_off = (size_t)(v - hdr);
			sh->value_len = siglen;
		}
		if (fe == end)
			break;
	}
	if (alg == NULL || sig == NULL || siglen == 0)
		return VERIFY_ERR_HEADER;

	/* Keep what fits, so a rejected algorithm can still be logged. */
	memcpy(sh->algorithm, alg, alglen < VERIFY_ALG_MAX ? alglen :
	    VERIFY_ALG_MAX - 1);
	if (alglen != 6 || strncasecmp(alg, "RSA256", 6) != 0)
		return VERIFY_ERR_ALGORITHM;

	if (kv != NULL && verify_parse_version(kv, kvlen, &sh->key_version) == -1)
		return VERIFY_ERR_KEY_VERSION;

	/*
	 * Longer than VERIFY_SIG_MAX once decoded is reported as an encoding
	 * error: no key we accept could produce it.
	 */
	if (verify_pct_decode(sig, siglen, tmp, sizeof(tmp), &tmplen) == -1 ||
	    verify_b64_decode(tmp, tmplen, sh->sig, sizeof(sh->sig),
	    &sh->siglen) == -1) {
		sh->siglen = 0;
		return VERIFY_ERR_ENCODING;
	}
	return VERIFY_OK;
}

/* One piece of the signed content. */
struct verify_piece {
	const void	*p;
	size_t		 n;
};

#define VERIFY_PIECES	10

/*
 * The one spelling of the signed content, as pieces: the digest is fed
 * them in turn, so the body is never copied and the path?query retry
 * needs no concatenated string; antomctl explain gets them joined.  query
 * (NULL for none) goes after the path with a '?'.  Returns how many
 * pieces, or -1 when a string is missing.
 */
static int
verify_pieces(const struct verify_content *c, const char *query,
    struct verify_piece pc[VERIFY_PIECES])
{
	int n = 0;

	if (c == NULL || c->path == NULL || c->client_id == NULL ||
	    c->request_time == NULL || (c->body == NULL && c->bodylen > 0))
		return -1;
	pc[n].p = "POST ";
	pc[n++].n = 5;
	pc[n].p = c->path;
	pc[n++].n = strlen(c->path);
	if (query != NULL) {
		pc[n].p = "?";
		pc[n++].n = 1;
		pc[n].p = query;
		pc[n++].n = strlen(query);
	}
	pc[n].p = "\n";
	pc[n++].n = 1;
	pc[n].p = c->client_id;
	pc[n++].n = strlen(c->client_id);
	pc[n].p = ".";
	pc[n++].n = 1;
	pc[n].p = c->request_time;
	pc[n++].n = strlen(c->request_time);
	pc[n].p = ".";
	pc[n++].n = 1;
	/* A NULL body of length 0 is not fed at all. */
	if (c->bodylen > 0) {
		pc[n].p = c->body;
		pc[n++].n = c->bodylen;
	}
	return n;
}

static int
verify_content_feed(EVP_MD_CTX *ctx, int for_sign,
    const struct verify_content *c, const char *query)
{
	struct verify_piece pc[VERIFY_PIECES];
	int i, n, ok;

	if ((n = verify_pieces(c, query, pc)) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (pc[i].n == 0)
			continue;
		ok = for_sign ? EVP_DigestSignUpdate(ctx, pc[i].p, pc[i].n) :
		    EVP_DigestVerifyUpdate(ctx, pc[i].p, pc[i].n);
		if (ok != 1)
			return -1;
	}
	return 0;
}

int
verify_content_update(EVP_MD_CTX *ctx, int for_sign,
    const struct verify_content *c)
{
	return verify_content_feed(ctx, for_sign, c, NULL);
}

/* The caller owns the buffer. */
unsigned char *
verify_content_bytes(const struct verify_content *c, size_t *len)
{
	struct verify_piece pc[VERIFY_PIECES];
	unsigned char *buf;
	size_t total = 0, off = 0;
	int i, n;

	if ((n = verify_pieces(c, NULL, pc)) == -1)
		return NULL;
	for (i = 0; i < n; i++)
		total += pc[i].n;
	if ((buf = malloc(total + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		memcpy(buf + off, pc[i].p, pc[i].n);
		off += pc[i].n;
	}
	buf[total] = '\0';
	*len = total;
	return buf;
}

static EVP_MD_CTX *verify_template(EVP_PKEY *);

/* Points into the keyring, which keeps ownership. */
static struct verify_client *
verify_find_client(const struct verify_keyring *kr, const char *client_id)
{
	size_t i;

	for (i = 0; i < kr->nclients; i++)
		if (strcmp(kr->clients[i].id, client_id) == 0)
			return &kr->clients[i];
	return NULL;
}

/* NULL on allocation failure; the caller owns the keyring. */
struct verify_keyring *
verify_keyring_new(void)
{
	return calloc(1, sizeof(struct verify_keyring));
}

int
verify_keyring_add(struct verify_keyring *kr, const char *client_id,
    long key_version, EVP_PKEY *pkey, char *err, size_t errlen)
{
	struct verify_client *c, *nc;
	struct verify_key *nk;
	EVP_MD_CTX *tmpl;
	size_t i;
	int added_client = 0;

	if (kr == NULL || pkey == NULL) {
		util_err(err, errlen, "no keyring or no key");
		goto fail;
	}
	if (client_id == NULL || *client_id == '\0') {
		util_err(err, errlen, "empty client id");
		goto fail;
	}
	if (key_version <= 0) {
		util_err(err, errlen, "client %s: key version %ld is not a "
		    "positive integer", client_id, key_version);
		goto fail;
	}
	/* Keys may come from elsewhere than verify_key_load(). */
	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA ||
	    EVP_PKEY_get_size(pkey) > VERIFY_SIG_MAX) {
		util_err(err, errlen, "client %s: key version %ld is not an "
		    "RSA key of at most %d bits", client_id, key_version,
		    VERIFY_SIG_MAX * 8);
		goto fail;
	}

	if ((c = verify_find_client(kr, client_id)) == NULL) {
		nc = realloc(kr->clients, (kr->nclients + 1) * sizeof(*nc));
		if (nc == NULL) {
			util_err(err, errlen, "out of memory");
			goto fail;
		}
		kr->clients = nc;
		c = &nc[kr->nclients];
		c->keys = NULL;
		c->nkeys = 0;
		if ((c->id = strdup(client_id)) == NULL) {
			util_err(err, errlen, "out of memory");
			goto fail;
		}
		kr->nclients++;
		added_client = 1;
	}
	for (i = 0; i < c->nkeys; i++) {
		if (c->keys[i].version == key_version) {
			util_err(err, errlen, "client %s: key version %ld "
			    "given twice", client_id, key_version);
			goto fail;
		}
	}
	if ((nk = realloc(c->keys, (c->nkeys + 1) * sizeof(*nk))) == NULL) {
		util_err(err, errlen, "out of memory");
		goto fail;
	}
	c->keys = nk;
	if ((tmpl = verify_template(pkey)) == NULL) {
		util_err(err, errlen, "client %s: key version %ld: cannot "
		    "prepare verification", client_id, key_version);
		goto fail;
	}
	nk[c->nkeys].version = key_version;
	nk[c->nkeys].pkey = pkey;
	nk[c->nkeys].tmpl = tmpl;
	c->nkeys++;
	kr->nkeys++;
	return 0;

fail:
	/* A client without keys must not make has_client() say yes. */
	if (added_client) {
		kr->nclients--;
		free(kr->clients[kr->nclients].id);
	}
	EVP_PKEY_free(pkey);
	return -1;
}

int
verify_keyring_has_client(const struct verify_keyring *kr,
    const char *client_id)
{
	if (kr == NULL || client_id == NULL)
		return 0;
	return verify_find_client(kr, client_id) != NULL;
}

/* Number of keys, over all clients. */
size_t
verify_keyring_count(const struct verify_keyring *kr)
{
	return kr != NULL ? kr->nkeys : 0;
}

void
verify_keyring_free(struct verify_keyring *kr)
{
	size_t i, j;

	if (kr == NULL)
		return;
	for (i = 0; i < kr->nclients; i++) {
		for (j = 0; j < kr->clients[i].nkeys; j++) {
			EVP_PKEY_free(kr->clients[i].keys[j].pkey);
			EVP_MD_CTX_free(kr->clients[i].keys[j].tmpl);
		}
		free(kr->clients[i].keys);
		free(kr->clients[i].id);
	}
	free(kr->clients);
	free(kr);
}

/*
 * Finish one RSA256 check on ctx, a context initialised for verifying
 * with the key: the content (with "?query" after the path when query is
 * not NULL) against sig.
 */
static enum verify_check
verify_check(EVP_MD_CTX *ctx, const struct verify_content *c,
    const char *query, const unsigned char *sig, size_t siglen)
{
	int rc;

	if (verify_content_feed(ctx, 0, c, query) == -1) {
		ERR_clear_error();
		return VERIFY_CHECK_ERROR;
	}
	rc = EVP_DigestVerifyFinal(ctx, sig, siglen);
	if (rc == 1)
		return VERIFY_CHECK_YES;
	ERR_clear_error();
	return rc == 0 ? VERIFY_CHECK_NO : VERIFY_CHECK_ERROR;
}

/* verify_check() with a copy of k's template: no per-request set-up. */
static enum verify_check
verify_try(EVP_MD_CTX *ctx, const struct verify_key *k,
    const struct verify_input *in, const char *query,
    const unsigned char *sig, size_t siglen)
{
	if (EVP_MD_CTX_copy_ex(ctx, k->tmpl) != 1) {
		ERR_clear_error();
		return VERIFY_CHECK_ERROR;
	}
	return verify_check(ctx, &in->content, query, sig, siglen);
}

/* A verify context for pkey, ready to be copied; NULL on failure. */
static EVP_MD_CTX *
verify_template(EVP_PKEY *pkey)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;

	if (ctx == NULL ||
	    EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, pkey) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0) {
		EVP_MD_CTX_free(ctx);
		ERR_clear_error();
		return NULL;
	}
	return ctx;
}

/*
 * A missing request-time is a header problem like a missing signature;
 * a missing signed path or body is the caller's bug, hence internal.  If
 * OpenSSL failed on some attempt and nothing verified, the answer is
 * internal rather than mismatch: the request may well be genuine, and
 * the caller should let Antom retry rather than drop it.
 */
enum verify_result
verify_request(const struct verify_keyring *kr, const struct verify_input *in,
    struct verify_match *match)
{
	struct verify_sighdr sh;
	const struct verify_client *c;
	const struct verify_key *k;
	const char *query;
	EVP_MD_CTX *ctx = NULL;
	enum verify_result res;
	enum verify_check rc;
	size_t i;
	long named = 0;
	int pass, wq, tried = 0, internal = 0;

	if (match != NULL)
		match->claimed_version = 0;
	if (kr == NULL || in == NULL || in->content.path == NULL ||
	    (in->content.body == NULL && in->content.bodylen > 0))
		return VERIFY_ERR_INTERNAL;
	res = verify_parse_header(in->sig_header, &sh);
	/* Only a bad encoding is found after keyVersion was read. */
	if (match != NULL && (res == VERIFY_OK || res == VERIFY_ERR_ENCODING))
		match->claimed_version = sh.key_version;
	if (res != VERIFY_OK)
		return res;
	if (in->content.request_time == NULL)
		return VERIFY_ERR_HEADER;
	if (in->content.client_id == NULL ||
	    (c = verify_find_client(kr, in->content.client_id)) == NULL)
		return VERIFY_ERR_CLIENT;
	/* No keyVersion: the client's latest key is meant. */
	for (i = 0; sh.key_version == 0 && i < c->nkeys; i++)
		named = c->keys[i].version > named ? c->keys[i].version : named;
	if (sh.key_version != 0)
		named = sh.key_version;
	if (match != NULL)
		match->claimed_version = named;
	query = in->query != NULL && *in->query != '\0' ? in->query : NULL;

	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		ERR_clear_error();
		return VERIFY_ERR_INTERNAL;
	}
	res = VERIFY_ERR_MISMATCH;
	/* Pass 0: the key keyVersion names; pass 1: the others (rotation). */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < c->nkeys; i++) {
			k = &c->keys[i];
			if ((pass == 0) != (k->version == named))
				continue;
			if ((size_t)EVP_PKEY_get_size(k->pkey) != sh.siglen)
				continue;
			tried = 1;
			/* The bare signed path, then path?query. */
			for (wq = 0; wq < (query != NULL ? 2 : 1); wq++) {
				rc = verify_try(ctx, k, in, wq ? query : NULL,
				    sh.sig, sh.siglen);
				if (rc == VERIFY_CHECK_YES) {
					if (match != NULL) {
						match->key_version = k->version;
						match->with_query = wq;
					}
					res = VERIFY_OK;
					goto done;
				}
				if (rc == VERIFY_CHECK_ERROR)
					internal = 1;
			}
		}
	}
	if (!tried)
		res = VERIFY_ERR_LENGTH;
	else if (internal)
		res = VERIFY_ERR_INTERNAL;

done:
	EVP_MD_CTX_free(ctx);
	return res;
}

long
verify_named_version(long claimed, const long *versions, size_t n)
{
	long v = 0;
	size_t i;

	if (claimed != 0)
		return claimed;
	for (i = 0; i < n; i++)
		if (versions[i] > v)
			v = versions[i];
	return v;
}

size_t
verify_keyring_keys(const struct verify_keyring *kr, const char *client_id,
    long *versions, EVP_PKEY **keys, size_t max)
{
	const struct verify_client *c;
	size_t i;

	if (kr == NULL || client_id == NULL ||
	    (c = verify_find_client(kr, client_id)) == NULL)
		return 0;
	for (i = 0; i < c->nkeys && i < max; i++) {
		if (versions != NULL)
			versions[i] = c->keys[i].version;
		if (keys != NULL)
			keys[i] = c->keys[i].pkey;
	}
	return c->nkeys;
}

size_t
verify_keyring_clients(const struct verify_keyring *kr, const char **ids,
    size_t max)
{
	size_t i;

	if (kr == NULL)
		return 0;
	for (i = 0; i < kr->nclients && i < max; i++)
		if (ids != NULL)
			ids[i] = kr->clients[i].id;
	return kr->nclients;
}

/*
 * Builds a fresh context instead of copying a template: diagnostics are
 * not on the hot path, and the key need not be in a keyring.
 */
enum verify_check
verify_try_content(EVP_PKEY *pkey, const struct verify_content *c,
    const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *ctx;
	enum verify_check rc;

	if (pkey == NULL || sig == NULL ||
	    (ctx = verify_template(pkey)) == NULL)
		return VERIFY_CHECK_ERROR;
	rc = verify_check(ctx, c, NULL, sig, siglen);
	EVP_MD_CTX_free(ctx);
	return rc;
}
