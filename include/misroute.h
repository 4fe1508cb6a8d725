/*
 * misroute.h - a signature that did not verify over the route's signed
 * path: does it verify over another variant of the path (pathvar.h)?
 *
 * One that does is a genuine notification sent through a misconfigured
 * proxy or route, not a forgery.  The extra RSA checks are bounded: at
 * most MISROUTE_TRIES a request, with one key, and MISROUTE_BUDGET a
 * second for the whole process, so that a flood of forged signatures
 * costs at most that much more CPU; past the budget variants are not
 * tried (counted in metrics).  Any thread.
 */
#ifndef ANTOMD_MISROUTE_H
#define ANTOMD_MISROUTE_H

#include "conf.h"
#include "verify.h"

#define MISROUTE_TRIES		3
#define MISROUTE_BUDGET		512	/* extra checks a second, in all */
#define MISROUTE_KEYS		16	/* a client's keys looked at */

/*
 * in failed with VERIFY_ERR_MISMATCH on the route signed_path for a
 * request to req_path from client_id.  0 when the key keyVersion names
 * (else the first of the signature's size) verifies it over a variant:
 * *variant is that path (malloc'd, the caller's to free) and
 * *key_version the key's.  -1 when none does, none was tried, or out of
 * memory.
 */
int	misroute_find(const struct conf *, const char *signed_path,
	    const char *req_path, const char *client_id,
	    const struct verify_input *in, char **variant, long *key_version);

#endif
