/*
 * verify.h - Antom notification signatures (docs/protocol.md section 2).
 *
 * Signed content, byte for byte:
 *
 *	POST <signed path>\n<client-id>.<request-time>.<raw body>
 *
 * signed with RSASSA-PKCS1-v1_5 / SHA-256 ("RSA256").  The signature
 * header is "algorithm=RSA256,keyVersion=1,signature=<value>" with fields
 * in any order and optional blanks after the commas; <value> is standard
 * base64, usually %XX-encoded.
 *
 * Keys are parsed into a keyring when the configuration is loaded (at
 * start-up and on SIGHUP); a request then costs one SHA-256 and one RSA
 * verify (two when a query string forces the path?query retry).  A
 * keyring is immutable once built and may be shared by any number of
 * threads.  The signer (sign.c) and antomctl explain build the signed
 * content through the functions here, so nobody spells it twice.
 */
#ifndef ANTOMD_VERIFY_H
#define ANTOMD_VERIFY_H

#include <stddef.h>
#include <openssl/evp.h>

#include "reason.h"

#define VERIFY_SIG_MAX		1024	/* decoded signature bytes (RSA-8192) */
#define VERIFY_HEADER_MAX	4096	/* longest signature header accepted */
#define VERIFY_ALG_MAX		16

enum verify_result {
	VERIFY_OK = 0,
	VERIFY_ERR_HEADER,	/* signature header malformed or field missing */
	VERIFY_ERR_ALGORITHM,	/* algorithm is not RSA256 */
	VERIFY_ERR_KEY_VERSION,	/* keyVersion not a positive integer */
	VERIFY_ERR_ENCODING,	/* bad %XX escape or bad base64 */
	VERIFY_ERR_LENGTH,	/* decoded length != key modulus size */
	VERIFY_ERR_CLIENT,	/* no key configured for this client id */
	VERIFY_ERR_MISMATCH,	/* no configured key verifies the content */
	VERIFY_ERR_INTERNAL	/* OpenSSL failure, or the caller's bug */
};

/* Parsed signature header. */
struct verify_sighdr {
	char		algorithm[VERIFY_ALG_MAX];
	long		key_version;		/* 0 when absent: the latest */
	unsigned char	sig[VERIFY_SIG_MAX];
	size_t		siglen;
	/*
	 * The signature field's value as written (blanks around it trimmed,
	 * not decoded): hdr[value_off .. value_off + value_len).  Set when the
	 * field was found, so also with VERIFY_ERR_ENCODING; for diagnostics.
	 */
	size_t		value_off;
	size_t		value_len;
};

/*
 * What is signed, "POST <path>\n<client_id>.<request_time>.<body>": the
 * one tuple the signer, the verifier and antomctl pass around.  Strings
 * NUL-terminated; body is raw bytes.
 */
struct verify_content {
	const char		*path;		/* signed verbatim */
	const char		*client_id;
	const char		*request_time;
	const unsigned char	*body;
	size_t			 bodylen;
};

/* One request's inputs. */
struct verify_input {
	struct verify_content	 content;	/* path: route's signed path,
						   no query */
	const char		*query;		/* raw query after '?', or NULL */
	const char		*sig_header;
};

/* What verification found (filled on success, but for claimed_version). */
struct verify_match {
	long	key_version;	/* version of the key that verified */
	int	with_query;	/* 1 if it verified only over path?query */
	/*
	 * Set whatever the result: the keyVersion the header names (absent,
	 * the client's latest: verify_named_version()), or 0 when the header
	 * did not parse that far or named no version of a configured client.
	 * A claim, not a fact: for counting failures by key (metrics.h).
	 */
	long	claimed_version;
};

struct verify_keyring;

/*
 * Why a request that did not verify is refused: its row in reason.h
 * (REASON_INTERNAL for VERIFY_ERR_INTERNAL and out-of-range values,
 * REASON_NONE for VERIFY_OK).
 */
enum reason verify_reason(enum verify_result);
/* The reason's name ("bad_encoding"), "ok" for VERIFY_OK. */
const char *verify_result_str(enum verify_result);

/*
 * Decode %XX escapes (hex case-insensitive) of in[0..inlen) into out.
 * Every other byte, '+' included, is copied unchanged.  A '%' not followed
 * by two hex digits is an error.  Returns 0 and sets *outlen, or -1 (also
 * when out is too small).  out may be the same buffer as in.
 */
int	verify_pct_decode(const char *in, size_t inlen, char *out,
	    size_t outcap, size_t *outlen);

/*
 * Strict standard base64 (A-Z a-z 0-9 + /, '=' padding to a multiple of
 * 4, no blanks, no line breaks, no URL-safe alphabet, unused bits of the
 * last symbol zero).  Returns 0 and sets *outlen, or -1.
 */
int	verify_b64_decode(const char *in, size_t inlen, unsigned char *out,
	    size_t outcap, size_t *outlen);
/* Standard base64 with padding; out needs 4*((len+2)/3)+1 bytes. */
void	verify_b64_encode(const unsigned char *in, size_t len, char *out);

/*
 * Parse a signature header: comma-separated key=value fields in any order,
 * blanks around fields trimmed, keys compared case-insensitively; fields
 * algorithm and signature required, keyVersion optional (default 1),
 * unknown fields ignored, a repeated field is an error.  The signature
 * value is %XX-decoded (a literal '+' stays '+'), then base64-decoded
 * strictly.  Returns VERIFY_OK, VERIFY_ERR_HEADER, VERIFY_ERR_ALGORITHM
 * (anything but RSA256, compared case-insensitively), VERIFY_ERR_KEY_VERSION
 * or VERIFY_ERR_ENCODING.
 */
enum verify_result verify_parse_header(const char *hdr, struct verify_sighdr *);

/*
 * Load an RSA public key from spec: bare base64 of DER SubjectPublicKeyInfo
 * (as Antom's dashboard shows it, blanks and line breaks tolerated), PEM
 * text, or the path of a file holding either.  Rejects non-RSA keys and
 * moduli under 2048 bits.  Returns a key the caller owns, or NULL with a
 * reason in err.
 */
EVP_PKEY *verify_key_load(const char *spec, char *err, size_t errlen);

/*
 * Feed the signed content into a digest context that has been initialised
 * for signing (for_sign 1) or verifying (0).  The same function is used
 * by the signer, so both sides agree byte for byte.  Returns 0 or -1.
 */
int	verify_content_update(EVP_MD_CTX *, int for_sign,
	    const struct verify_content *);

/*
 * The signed content as one buffer, for showing it (antomctl explain):
 * malloc'd, the caller frees it; *len its length.  NULL when out of
 * memory or a string is missing.
 */
unsigned char *verify_content_bytes(const struct verify_content *,
	    size_t *len);

/* Keyring: client id -> list of (key version, public key). Caller owns it. */
struct verify_keyring *verify_keyring_new(void);
/* Takes ownership of pkey, also on failure.  A repeated (client, version) is an error. */
int	verify_keyring_add(struct verify_keyring *, const char *client_id,
	    long key_version, EVP_PKEY *pkey, char *err, size_t errlen);
int	verify_keyring_has_client(const struct verify_keyring *, const char *client_id);
size_t	verify_keyring_count(const struct verify_keyring *);
void	verify_keyring_free(struct verify_keyring *);

/*
 * The key version a parsed header's keyVersion names among a client's
 * versions[0..n-1]: as given, or when absent (0) the latest, the highest
 * (docs/protocol.md section 2.4); 0 when it is absent and there is none.
 */
long	verify_named_version(long claimed, const long *versions, size_t n);
/*
 * Introspection: antomctl explain lists and tries the keys, the daemon
 * names them in its metrics.
 *
 * verify_keyring_keys() stores up to max of client_id's keys, in the order
 * they were added, into versions[] and keys[] (either may be NULL) and
 * returns how many keys the client has (0: unknown client).  The keys stay
 * owned by the keyring.  verify_keyring_clients() does the same for the
 * client ids.
 */
size_t	verify_keyring_keys(const struct verify_keyring *,
	    const char *client_id, long *versions, EVP_PKEY **keys, size_t max);
size_t	verify_keyring_clients(const struct verify_keyring *,
	    const char **ids, size_t max);

/* What one RSA256 check with one key found. */
enum verify_check {
	VERIFY_CHECK_NO,	/* the signature is not over this content */
	VERIFY_CHECK_YES,
	VERIFY_CHECK_ERROR	/* OpenSSL could not run the check */
};

/*
 * One RSA256 check of exactly this content with one key; the path is
 * signed verbatim, so a "path?query" is passed as such.  Thread-safe.
 */
enum verify_check verify_try_content(EVP_PKEY *, const struct verify_content *,
	    const unsigned char *sig, size_t siglen);

/*
 * Verify one request.  Parses in->sig_header, looks up the client's keys,
 * tries the key whose version matches keyVersion first and then the
 * client's other keys (rotation), each over the bare signed path and, when
 * in->query is non-NULL and non-empty, over "path?query".  A signature
 * whose length differs from every candidate key's modulus size is
 * VERIFY_ERR_LENGTH.  Thread-safe.
 */
enum verify_result verify_request(const struct verify_keyring *,
	    const struct verify_input *, struct verify_match *);

#endif
