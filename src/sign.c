/*
 * sign.c - sign notifications the way Antom does (for antomctl and the
 * tests), and make throw-away key pairs standing in for Antom's.
 *
 * The signed bytes come from verify_content_update() and the base64 from
 * verify_b64_encode(), so the signer cannot drift from the verifier.
 *
 * Thread-safety: no shared state.  sign_request_time() reads the time
 * zone with localtime_r(); a caller that changes TZ must call tzset().
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "sign.h"
#include "util.h"
#include "verify.h"

#define SIGN_KEY_BITS	2048
#define SIGN_B64_MAX	(4 * ((VERIFY_SIG_MAX + 2) / 3) + 1)

/* Never prompt on a terminal: the tool and the tests run unattended. */
static int
sign_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* The caller owns the key; NULL with a reason in err. */
EVP_PKEY *
sign_key_load(const char *path, char *err, size_t errlen)
{
	EVP_PKEY *pkey = NULL;
	FILE *f;

	if (path == NULL || (f = fopen(path, "r")) == NULL) {
		util_err(err, errlen, "%s: %s", path != NULL ? path : "(null)",
		    path != NULL ? strerror(errno) : "no path");
		return NULL;
	}
	pkey = PEM_read_PrivateKey(f, NULL, sign_no_passphrase, NULL);
	fclose(f);
	if (pkey == NULL) {
		util_err(err, errlen, "%s: not an unencrypted PEM private key",
		    path);
		goto fail;
	}
	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
		util_err(err, errlen, "%s: not an RSA private key", path);
		goto fail;
	}
	if (EVP_PKEY_get_size(pkey) > VERIFY_SIG_MAX) {
		util_err(err, errlen, "%s: RSA key longer than %d bits", path,
		    VERIFY_SIG_MAX * 8);
		goto fail;
	}
	return pkey;

fail:
	ERR_clear_error();
	EVP_PKEY_free(pkey);
	return NULL;
}

/*
 * URL-encode the three base64 symbols that need it, as Antom's SDKs do
 * ("%2B"), or as .NET does ("%2b").  out has room for 3 * strlen(in) + 1.
 */
static void
sign_url_encode(const char *in, int lower, char *out)
{
	const char *hex = lower ? "0123456789abcdef" : "0123456789ABCDEF";
	unsigned char c;

	for (; *in != '\0'; in++) {
		c = (unsigned char)*in;
		if (c == '+' || c == '/' || c == '=') {
			*out++ = '%';
			*out++ = hex[c >> 4];
			*out++ = hex[c & 0x0f];
		} else
			*out++ = (char)c;
	}
	*out = '\0';
}

int
sign_request(EVP_PKEY *pkey, const struct verify_content *content,
    const struct sign_options *opts, char *out, size_t outcap,
    char *err, size_t errlen)
{
	static const struct sign_options defaults;
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char sig[VERIFY_SIG_MAX];
	char b64[SIGN_B64_MAX], enc[3 * SIGN_B64_MAX];
	const char *blank;
	size_t siglen;
	long kv;
	int n;

	if (opts == NULL)
		opts = &defaults;
	if (pkey == NULL || out == NULL) {
		util_err(err, errlen, "no key or no output buffer");
		goto fail;
	}
	if (opts->key_version < 0) {
		util_err(err, errlen, "key version %ld is negative",
		    opts->key_version);
		goto fail;
	}
	if (EVP_PKEY_get_size(pkey) > VERIFY_SIG_MAX) {
		util_err(err, errlen, "key longer than %d bits",
		    VERIFY_SIG_MAX * 8);
		goto fail;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, pkey) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0) {
		util_err(err, errlen, "cannot set up RSA256 signing");
		goto fail;
	}
	if (verify_content_update(ctx, 1, content) == -1) {
		util_err(err, errlen, "cannot hash the content");
		goto fail;
	}
	siglen = sizeof(sig);
	if (EVP_DigestSignFinal(ctx, sig, &siglen) != 1) {
		util_err(err, errlen, "RSA signing failed");
		goto fail;
	}
	verify_b64_encode(sig, siglen, b64);
	if (opts->raw)
		memcpy(enc, b64, strlen(b64) + 1);
	else
		sign_url_encode(b64, opts->lower_hex, enc);

	kv = opts->key_version > 0 ? opts->key_version : 1;
	blank = opts->blanks ? " " : "";
	n = snprintf(out, outcap, "algorithm=RSA256,%skeyVersion=%ld,%s"
	    "signature=%s", blank, kv, blank, enc);
	if (n < 0 || (size_t)n >= outcap) {
		util_err(err, errlen, "signature header longer than %zu bytes",
		    outcap);
		goto fail;
	}
	EVP_MD_CTX_free(ctx);
	return 0;

fail:
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	if (out != NULL && outcap > 0)
		out[0] = '\0';
	return -1;
}

/*
 * Antom's own shapes: epoch milliseconds ("1685599933871"), or local time
 * with milliseconds and a numeric offset ("2019-07-12T12:08:56.253+05:30");
 * never "Z", so receivers that expect an offset get one.
 */
void
sign_request_time(int iso, char *out, size_t outcap)
{
	struct timespec ts;
	struct tm tm;
	char date[64];
	long off, ms;
	char sign;

	if (out == NULL || outcap == 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	ms = ts.tv_nsec / 1000000;
	if (!iso) {
		snprintf(out, outcap, "%lld", (long long)ts.tv_sec * 1000 + ms);
		return;
	}
	if (localtime_r(&ts.tv_sec, &tm) == NULL) {
		gmtime_r(&ts.tv_sec, &tm);
		tm.tm_gmtoff = 0;
	}
	if (strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		date[0] = '\0';
	off = tm.tm_gmtoff;
	sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	snprintf(out, outcap, "%s.%03ld%c%02ld:%02ld", date, ms, sign,
	    off / 3600, off / 60 % 60);
}

static int
sign_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The three files are created with O_EXCL before the key is generated:
 * refusing to overwrite is then free of races and costs no key
 * generation.  On any later failure the files we created are removed,
 * so a retry is not blocked by a half-written set.
 */
int
sign_keygen(const char *dir, char *err, size_t errlen)
{
	static const char *const names[3] = {
		"antom-private.pem", "antom-public.pem", "antom-public.b64"
	};
	static const mode_t modes[3] = { 0600, 0644, 0644 };
	char paths[3][PATH_MAX];
	int fds[3] = { -1, -1, -1 }, created[3] = { 0, 0, 0 };
	EVP_PKEY_CTX *kctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIO *bio[2] = { NULL, NULL };
	unsigned char *der = NULL;
	char *b64 = NULL, *data[3];
	size_t datalen[3];
	struct stat st;
	long len;
	int i, derlen, rc = -1, closed;

	if (dir == NULL || *dir == '\0') {
		util_err(err, errlen, "no directory");
		return -1;
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		util_err(err, errlen, "mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		util_err(err, errlen, "%s: not a directory", dir);
		return -1;
	}
	for (i = 0; i < 3; i++) {
		len = snprintf(paths[i], sizeof(paths[i]), "%s/%s", dir,
		    names[i]);
		if (len < 0 || (size_t)len >= sizeof(paths[i])) {
			util_err(err, errlen, "%s: path too long", dir);
			return -1;
		}
	}
	for (i = 0; i < 3; i++) {
		fds[i] = open(paths[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    modes[i]);
		if (fds[i] == -1) {
			if (errno == EEXIST)
				util_err(err, errlen, "%s: already exists, "
				    "refusing to overwrite", paths[i]);
			else
				util_err(err, errlen, "%s: %s", paths[i],
				    strerror(errno));
			goto done;
		}
		created[i] = 1;
	}
	/* The umask may only have removed bits; make the mode exact. */
	if (fchmod(fds[0], 0600) == -1) {
		util_err(err, errlen, "chmod %s: %s", paths[0], strerror(errno));
		goto done;
	}

	if ((kctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_keygen_init(kctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_keygen_bits(kctx, SIGN_KEY_BITS) <= 0 ||
	    EVP_PKEY_generate(kctx, &pkey) != 1) {
		util_err(err, errlen, "RSA key generation failed");
		goto done;
	}
	/* PEM_write_bio_PrivateKey() writes PKCS#8 ("BEGIN PRIVATE KEY"). */
	if ((bio[0] = BIO_new(BIO_s_mem())) == NULL ||
	    (bio[1] = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PrivateKey(bio[0], pkey, NULL, NULL, 0, NULL,
	    NULL) != 1 ||
	    PEM_write_bio_PUBKEY(bio[1], pkey) != 1 ||
	    (derlen = i2d_PUBKEY(pkey, &der)) <= 0 ||
	    (b64 = malloc(4 * (((size_t)derlen + 2) / 3) + 2)) == NULL) {
		util_err(err, errlen, "cannot serialise the key pair");
		goto done;
	}
	verify_b64_encode(der, (size_t)derlen, b64);
	strcat(b64, "\n");
	for (i = 0; i < 2; i++) {
		len = BIO_get_mem_data(bio[i], &data[i]);
		datalen[i] = len > 0 ? (size_t)len : 0;
	}
	data[2] = b64;
	datalen[2] = strlen(b64);

	for (i = 0; i < 3; i++) {
		if (sign_write_all(fds[i], data[i], datalen[i]) == -1 ||
		    fsync(fds[i]) == -1) {
			util_err(err, errlen, "%s: %s", paths[i],
			    strerror(errno));
			goto done;
		}
		closed = close(fds[i]);
		fds[i] = -1;
		if (closed == -1) {
			util_err(err, errlen, "%s: %s", paths[i],
			    strerror(errno));
			goto done;
		}
	}
	rc = 0;

done:
	for (i = 0; i < 3; i++) {
		if (fds[i] != -1)
			close(fds[i]);
		if (rc == -1 && created[i])
			unlink(paths[i]);
	}
	/* The private key's PEM is wiped before its memory is returned. */
	if (bio[0] != NULL && (len = BIO_get_mem_data(bio[0], &data[0])) > 0)
		OPENSSL_cleanse(data[0], (size_t)len);
	if (rc == -1)
		ERR_clear_error();
	BIO_free(bio[0]);
	BIO_free(bio[1]);
	OPENSSL_free(der);
	free(b64);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(kctx);
	return rc;
}
