/*
 * fuzz_sighdr.c - libFuzzer target for verify_parse_header(), the parser
 * of the untrusted "signature" request header.
 *
 * The input is copied into a buffer of exactly size + 1 bytes and
 * NUL-terminated (as libmicrohttpd hands headers over), so ASan sees any
 * read past the terminator.  Embedded NULs just end the header early.
 *
 * Invariants asserted:
 *  - the result is one of the values verify_parse_header() documents;
 *  - algorithm[] is always NUL-terminated, key_version never negative (0:
 *    absent, the client's latest);
 *  - siglen is 0 unless VERIFY_OK, and 1..VERIFY_SIG_MAX on VERIFY_OK;
 *  - with VERIFY_OK or VERIFY_ERR_ENCODING the signature value's place is
 *    inside the header and not empty;
 *  - on VERIFY_OK the decoded signature is canonical: base64-encoding it
 *    again and parsing "algorithm=RSA256,signature=<that>" gives back the
 *    same bytes.
 */
#undef NDEBUG		/* the asserts are the point */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct verify_sighdr sh, again;
	static char hdr[sizeof("algorithm=RSA256,signature=") +
	    4 * ((VERIFY_SIG_MAX + 2) / 3)];
	enum verify_result r;
	char *s;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	r = verify_parse_header(s, &sh);
	free(s);

	assert(r == VERIFY_OK || r == VERIFY_ERR_HEADER ||
	    r == VERIFY_ERR_ALGORITHM || r == VERIFY_ERR_KEY_VERSION ||
	    r == VERIFY_ERR_ENCODING);
	assert(memchr(sh.algorithm, '\0', sizeof(sh.algorithm)) != NULL);
	assert(sh.key_version >= 0);
	if (r == VERIFY_OK || r == VERIFY_ERR_ENCODING)
		assert(sh.value_len > 0 && sh.value_off + sh.value_len <= size);
	if (r != VERIFY_OK) {
		assert(sh.siglen == 0);
		return 0;
	}
	assert(sh.siglen > 0 && sh.siglen <= VERIFY_SIG_MAX);

	memcpy(hdr, "algorithm=RSA256,signature=", 27);
	verify_b64_encode(sh.sig, sh.siglen, hdr + 27);
	assert(verify_parse_header(hdr, &again) == VERIFY_OK);
	assert(again.key_version == 0);	/* none named */
	assert(again.siglen == sh.siglen);
	assert(memcmp(again.sig, sh.sig, sh.siglen) == 0);
	return 0;
}
