/*
 * fuzz_decode.c - libFuzzer target for verify_pct_decode() and
 * verify_b64_decode(), the two decoders the signature value goes through.
 *
 * Every buffer is heap-allocated at its exact size so ASan catches a read
 * or write one byte out.  Invariants asserted, for any input x:
 *  - pct: on success the output is len(x) - 2 * (number of '%') bytes, the
 *    same whether decoded in place or not, and a buffer one byte short is
 *    refused (not overrun);
 *  - b64 strict: on success the output is len(x) / 4 * 3 - padding bytes
 *    and encoding it again gives x back exactly (one spelling per value),
 *    and a buffer one byte short is refused;
 *  - b64 round trip: decode(encode(x)) == x for x taken as raw bytes.
 */
#undef NDEBUG		/* the asserts are the point */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_pct(const char *in, size_t len)
{
	char *out, *inplace;
	size_t outlen, outlen2, i, npct = 0;

	out = malloc(len + 1);
	inplace = malloc(len + 1);
	if (out == NULL || inplace == NULL)
		goto done;
	memcpy(inplace, in, len);
	for (i = 0; i < len; i++)
		npct += in[i] == '%';
	if (verify_pct_decode(in, len, out, len, &outlen) == -1) {
		assert(verify_pct_decode(inplace, len, inplace, len,
		    &outlen2) == -1);
		goto done;
	}
	assert(outlen == len - 2 * npct);
	assert(verify_pct_decode(inplace, len, inplace, len, &outlen2) == 0);
	assert(outlen2 == outlen && memcmp(inplace, out, outlen) == 0);
	if (outlen > 0)
		assert(verify_pct_decode(in, len, out, outlen - 1,
		    &outlen2) == -1);
done:
	free(out);
	free(inplace);
}

static void
fuzz_b64(const char *in, size_t len)
{
	unsigned char *out;
	char *enc = NULL;
	size_t outlen, outlen2, pad;

	if ((out = malloc(len + 1)) == NULL)
		return;
	if (verify_b64_decode(in, len, out, len, &outlen) == -1)
		goto done;
	assert(len % 4 == 0);
	pad = len == 0 ? 0 : (in[len - 1] == '=') + (in[len - 2] == '=');
	assert(outlen == len / 4 * 3 - pad);
	if ((enc = malloc(len + 1)) == NULL)
		goto done;
	verify_b64_encode(out, outlen, enc);
	assert(strlen(enc) == len && memcmp(enc, in, len) == 0);
	if (outlen > 0)
		assert(verify_b64_decode(in, len, out, outlen - 1,
		    &outlen2) == -1);
done:
	free(enc);
	free(out);
}

static void
fuzz_roundtrip(const unsigned char *in, size_t len)
{
	size_t enclen = 4 * ((len + 2) / 3), outlen;
	unsigned char *out;
	char *enc;

	enc = malloc(enclen + 1);
	out = malloc(len + 1);
	if (enc == NULL || out == NULL)
		goto done;
	verify_b64_encode(in, len, enc);
	assert(strlen(enc) == enclen);
	assert(verify_b64_decode(enc, enclen, out, len, &outlen) == 0);
	assert(outlen == len && memcmp(out, in, len) == 0);
done:
	free(enc);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A private copy of exactly size bytes: the decoders get no slack. */
	char *in = malloc(size > 0 ? size : 1);

	if (in == NULL)
		return 0;
	memcpy(in, data, size);
	fuzz_pct(in, size);
	fuzz_b64(in, size);
	fuzz_roundtrip((const unsigned char *)in, size);
	free(in);
	return 0;
}
