/*
 * verify_key.c - Antom's public keys as the configuration gives them: PEM
 * text, the bare base64 SubjectPublicKeyInfo the Antom dashboard shows
 * (wrapped at any width), or the path of a file holding either.
 *
 * Runs when the configuration is loaded (start-up, SIGHUP), never on a
 * request.  Thread-safety: no shared state.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "util.h"
#include "verify.h"

#define VERIFY_KEY_BITS_MIN	2048
#define VERIFY_KEYSPEC_MAX	65536	/* a key file or text longer than this is not a key */
#define VERIFY_KEY_B64_MIN	64	/* any RSA SPKI in base64 is longer than this */

/* Our own character class: <ctype.h> depends on the locale. */
static int
key_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Accept only plain RSA keys big enough to matter.  RSA-PSS keys are
 * refused: they cannot do the PKCS#1 v1.5 padding RSA256 means.  Returns
 * pkey (the caller's again) or frees it and returns NULL.
 */
static EVP_PKEY *
verify_key_check(EVP_PKEY *pkey, const char *what, char *err, size_t errlen)
{
	int bits;

	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
		util_err(err, errlen, "%s: not an RSA key (%s); Antom signs "
		    "with RSA", what, EVP_PKEY_get0_type_name(pkey) != NULL ?
		    EVP_PKEY_get0_type_name(pkey) : "unknown type");
		goto fail;
	}
	bits = EVP_PKEY_get_bits(pkey);
	if (bits < VERIFY_KEY_BITS_MIN) {
		util_err(err, errlen, "%s: RSA key of %d bits is too short, "
		    "at least %d bits required", what, bits, VERIFY_KEY_BITS_MIN);
		goto fail;
	}
	if (EVP_PKEY_get_size(pkey) > VERIFY_SIG_MAX) {
		util_err(err, errlen, "%s: RSA key of %d bits is too long, "
		    "at most %d bits supported", what, bits, VERIFY_SIG_MAX * 8);
		goto fail;
	}
	return pkey;

fail:
	EVP_PKEY_free(pkey);
	return NULL;
}

/*
 * PEM or bare base64 SPKI text of len bytes; what names it in errors.
 * The caller owns the key returned.
 */
static EVP_PKEY *
verify_key_from_text(const char *text, size_t len, const char *what,
    char *err, size_t errlen)
{
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	char *b64 = NULL;
	unsigned char *der = NULL;
	const unsigned char *dp;
	size_t i, n = 0, derlen, skip = 0;

	while (skip < len && key_is_space((unsigned char)text[skip]))
		skip++;
	if (len - skip >= 10 && memcmp(text + skip, "-----BEGIN", 10) == 0) {
		/* OpenSSL wants "-----BEGIN" at the start of a line. */
		if ((bio = BIO_new_mem_buf(text + skip, (int)(len - skip))) ==
		    NULL) {
			util_err(err, errlen, "%s: out of memory", what);
			goto fail;
		}
		if ((pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) == NULL) {
			util_err(err, errlen, "%s: no valid \"-----BEGIN PUBLIC "
			    "KEY-----\" block (PKCS#1 \"RSA PUBLIC KEY\" or a "
			    "private key is not accepted; convert with openssl "
			    "pkey -pubout or openssl rsa -RSAPublicKey_in -pubout)",
			    what);
			goto fail;
		}
	} else {
		/* The dashboard's single line, or a paste wrapped at any width. */
		if ((b64 = malloc(len + 1)) == NULL ||
		    (der = malloc(len + 1)) == NULL) {
			util_err(err, errlen, "%s: out of memory", what);
			goto fail;
		}
		for (i = 0; i < len; i++)
			if (!key_is_space((unsigned char)text[i]))
				b64[n++] = text[i];
		if (n == 0) {
			util_err(err, errlen, "%s: empty key", what);
			goto fail;
		}
		if (verify_b64_decode(b64, n, der, len + 1, &derlen) == -1) {
			util_err(err, errlen, "%s: neither PEM nor valid base64",
			    what);
			goto fail;
		}
		dp = der;
		if ((pkey = d2i_PUBKEY(NULL, &dp, (long)derlen)) == NULL ||
		    dp != der + derlen) {
			util_err(err, errlen, "%s: base64 is not a DER "
			    "SubjectPublicKeyInfo (the key as the Antom dashboard "
			    "shows it)", what);
			goto fail;
		}
	}
	BIO_free(bio);
	free(b64);
	free(der);
	return verify_key_check(pkey, what, err, errlen);

fail:
	ERR_clear_error();
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	free(b64);
	free(der);
	return NULL;
}

/* The caller owns the key returned. */
static EVP_PKEY *
verify_key_from_file(const char *path, char *err, size_t errlen)
{
	EVP_PKEY *pkey;
	FILE *f;
	char *buf = NULL;
	size_t n;

	if ((f = fopen(path, "rb")) == NULL) {
		util_err(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(VERIFY_KEYSPEC_MAX + 1)) == NULL) {
		util_err(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	n = fread(buf, 1, VERIFY_KEYSPEC_MAX + 1, f);
	if (ferror(f)) {
		util_err(err, errlen, "%s: read error", path);
		goto fail;
	}
	if (n > VERIFY_KEYSPEC_MAX) {
		util_err(err, errlen, "%s: larger than %d bytes, not a key",
		    path, VERIFY_KEYSPEC_MAX);
		goto fail;
	}
	pkey = verify_key_from_text(buf, n, path, err, errlen);
	free(buf);
	fclose(f);
	return pkey;

fail:
	free(buf);
	fclose(f);
	return NULL;
}

/*
 * A string that can only be base64 text: its alphabet and blanks.  Real
 * SPKIs contain '/', so a '/' alone does not make a path; a short string
 * with '/' is taken as a path since no acceptable key is that short.
 */
static int
verify_looks_b64(const char *s, size_t len)
{
	static const char b64_or_blank[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/= \t\r\n";

	return strspn(s, b64_or_blank) == len &&
	    (memchr(s, '/', len) == NULL || len >= VERIFY_KEY_B64_MIN);
}

/*
 * A '/' alone cannot mean a path: the real Antom key's base64 contains
 * '/'.  So: PEM text first, then an existing file, then base64-looking
 * text, then a path, which will fail to open with a useful errno.
 */
EVP_PKEY *
verify_key_load(const char *spec, char *err, size_t errlen)
{
	struct stat st;
	size_t len, skip = 0;

	if (spec == NULL || *spec == '\0') {
		util_err(err, errlen, "empty key");
		return NULL;
	}
	len = strnlen(spec, VERIFY_KEYSPEC_MAX + 1);
	if (len > VERIFY_KEYSPEC_MAX) {
		util_err(err, errlen, "key longer than %d bytes",
		    VERIFY_KEYSPEC_MAX);
		return NULL;
	}
	while (skip < len && key_is_space((unsigned char)spec[skip]))
		skip++;
	if (len - skip >= 10 && memcmp(spec + skip, "-----BEGIN", 10) == 0)
		return verify_key_from_text(spec, len, "PEM key", err, errlen);
	if (stat(spec, &st) == 0) {
		/* Never block on a FIFO or read a device at start-up. */
		if (!S_ISREG(st.st_mode)) {
			util_err(err, errlen, "%s: not a regular file", spec);
			return NULL;
		}
		return verify_key_from_file(spec, err, errlen);
	}
	if (verify_looks_b64(spec, len))
		return verify_key_from_text(spec, len, "base64 key", err, errlen);
	if (strchr(spec, '/') != NULL)
		return verify_key_from_file(spec, err, errlen);
	util_err(err, errlen, "key is neither PEM text, base64 "
	    "SubjectPublicKeyInfo nor the path of an existing file");
	return NULL;
}
