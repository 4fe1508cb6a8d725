/*
 * fixture.h - built-in sample notification bodies (antomctl, tests).
 *
 * Bodies are Antom's published examples where there are any (tests/corpus),
 * else built from the documented fields (docs/protocol.md section 4); a
 * refund carries no paymentId, as none from Antom does.  Ids not
 * overridden are fresh random ones, so two calls never collide.  Not used
 * by the daemon.
 */
#ifndef ANTOMD_FIXTURE_H
#define ANTOMD_FIXTURE_H

#include <stddef.h>

/* NULL-terminated list of fixture names: "payment-success", ... */
extern const char *const fixture_names[];

/*
 * Whether fixture_build() would take name and sets: a known fixture, and
 * overrides that are "key=value" with a key it can set and a value that
 * is UTF-8.  0, or -1 with err.  What fixture_build() may fail on after
 * this is internal (out of memory, no random bytes).
 */
int	fixture_check(const char *name, const char *const *sets, size_t nsets,
	    char *err, size_t errlen);

/*
 * Build fixture name with overrides, each "key=value": a top-level field
 * (paymentRequestId=..., captureId=...), or one of the shorthands
 * amount=<minor units>, currency=<ISO> (also actualPaymentAmount or
 * actualRefundAmount when the body has one), resultCode=, resultStatus=,
 * resultMessage=.  Returns a malloc'd compact JSON body (caller frees), or
 * NULL with err.
 */
char	*fixture_build(const char *name, const char *const *sets, size_t nsets,
	    char *err, size_t errlen);

/* An Antom-style id and its size with the NUL: see fixture_antom_id_new(). */
#define FIXTURE_ANTOM_ID_SIZE	36

/*
 * A fresh Antom-style id (paymentId, captureId...) into out, cap at least
 * FIXTURE_ANTOM_ID_SIZE: 35 digits that begin with the UTC minute, so ids
 * made later sort later, as Antom's do; within a process each sorts after
 * the one before.  0, or -1.
 */
int	fixture_antom_id_new(char *out, size_t cap);

#endif
