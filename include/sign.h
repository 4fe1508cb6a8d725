/*
 * sign.h - sign notifications exactly as Antom does (antomctl and tests).
 *
 * The signed content is built by verify_content_update(), the function
 * the daemon verifies with, so signer and verifier cannot drift apart.
 * Not used by the daemon itself.  Thread-safe (no shared state).
 */
#ifndef ANTOMD_SIGN_H
#define ANTOMD_SIGN_H

#include <stddef.h>
#include <openssl/evp.h>

#include "verify.h"

#define SIGN_HEADER_MAX	4096

/* How to spell the signature header; all zero is Antom's usual form. */
struct sign_options {
	long	key_version;	/* 0 means 1 */
	int	lower_hex;	/* %2b instead of %2B, as .NET emits */
	int	blanks;		/* ", " between fields */
	int	raw;		/* base64 not URL-encoded at all */
};

/* Load a PEM private key (PKCS#8 or traditional RSA); caller owns it. */
EVP_PKEY *sign_key_load(const char *path, char *err, size_t errlen);

/*
 * Sign the content with RSA256 and write the whole header value
 * ("algorithm=RSA256,keyVersion=N,signature=...") into out; opts NULL is
 * Antom's usual form.  Returns 0, or -1 with err.
 */
int	sign_request(EVP_PKEY *, const struct verify_content *,
	    const struct sign_options *, char *out, size_t outcap,
	    char *err, size_t errlen);

/* Request-time now: epoch milliseconds, or ISO 8601 with a numeric offset. */
void	sign_request_time(int iso, char *out, size_t outcap);

/*
 * Create an RSA-2048 key pair in dir: antom-private.pem (mode 0600, PKCS#8),
 * antom-public.pem (SPKI PEM) and antom-public.b64 (bare base64 SPKI, one
 * line, as the Antom dashboard shows a key).  Refuses to overwrite.  0 or -1.
 */
int	sign_keygen(const char *dir, char *err, size_t errlen);

#endif
